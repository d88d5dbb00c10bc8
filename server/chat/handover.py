"""Handover: a volunteer hands a chat to a partner queue (such as 113) or to a colleague.

The help-seeker is asked first and answers with a fresh key (and whether the history
may go along); then the chat waits for a receiver, before new chats in that
receiver's pickup. The receiver's page answers with a signed offer for the chat and
a signed key for a one-message staff link that carries the handover note. The chat
then goes on under a new id with the new keys; nothing of the old session is kept,
and a page that resumes with the old id is told the new one. A handover that is
declined, cancelled or not taken in time leaves the chat with its volunteer.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import crypto

from .assignment import Assignment, with_proof
from .errors import ChatRefused
from .queue import ChatState, QueueEntry
from .readalong import ReadAlongs
from .relay import Link, Relay
from .room import Chat, Notify, Room, VolunteerInfo, chat_key, send


@dataclass
class Handover:
    chat: Chat
    kind: str     # "partner" | "colleague"
    target: str   # the partner queue's key, or the colleague's account id
    link_id: bytes
    inviter_pub: bytes
    inviter_sig: bytes
    new_id: bytes = field(default_factory=lambda: secrets.token_bytes(crypto.CHAT_ID_BYTES))
    state: str = "asking"  # asking (the help-seeker) | waiting (for a receiver) | offered (to one receiver)
    seeker_pub: bytes | None = None
    history: bool = False
    receiver: int | None = None
    since: float = 0.0


class Handovers:
    def __init__(self, room: Room, relay: Relay, assignment: Assignment, readalongs: ReadAlongs, *,
                 notify: Notify) -> None:
        self.room = room
        self.relay = relay
        self.assignment = assignment
        self.readalongs = readalongs
        self.notify = notify
        self.partners = {p.split("|")[0]: p.split("|")[1:] for p in room.config.chat_partners}
        self.partner_available: set[int] = set()
        self.by_new_id: dict[bytes, Handover] = {}
        self.by_chat: dict[bytes, Handover] = {}   # by the chat's current id
        self.former: dict[bytes, bytes] = {}       # a handed-over chat's old id -> its new id

    # -- who may receive -----------------------------------------------------------------------------

    def partner_choices(self) -> list[dict[str, str]]:
        return [{"target": f"p:{key}", "nl": names[0], "en": names[1]} for key, names in self.partners.items()]

    async def set_partner_available(self, info: VolunteerInfo, available: bool) -> None:
        # Partners answer handed-over chats only: they never count as help for a new chat.
        (self.partner_available.add if available else self.partner_available.discard)(info.id)
        if not available:
            self.return_offers(info.id)

    def may_receive(self, info: VolunteerInfo, handover: Handover) -> bool:
        if handover.state != "waiting" or handover.chat.volunteer_id == info.id:
            return False
        if handover.kind == "partner":
            return info.role == "partner" and info.id in self.partner_available
        return handover.target == str(info.id)

    def waiting_for(self, info: VolunteerInfo, now: float) -> list[int]:
        """Seconds waited by each handover this account could take now."""
        return [int(now - h.since) for h in self.by_new_id.values() if self.may_receive(info, h)]

    def next_for(self, info: VolunteerInfo) -> Handover | None:
        if self.room.queue.free_capacity(info.id) <= 0:
            return None
        # Handed-over chats come before new chats, longest waiting first.
        ready = [h for h in self.by_new_id.values() if self.may_receive(info, h)]
        return min(ready, key=lambda h: h.since) if ready else None

    # -- asking ---------------------------------------------------------------------------------------

    async def request(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        room = self.room
        chat = room.active_chat(info, frame["chat"])
        if chat.id in self.by_chat:
            raise ChatRefused("handover-pending", "chat_handover_pending")
        kind, _, target = frame["target"].partition(":")
        if kind == "p":
            if target not in self.partners:
                raise ChatRefused("no-partner", "chat_no_partner")
            to = {"nl": self.partners[target][0], "en": self.partners[target][1]}
            handover_kind = "partner"
        else:
            colleague = room.online(int(target))
            if colleague is None or colleague.id == info.id or colleague.role not in ("volunteer", "mentor"):
                raise ChatRefused("no-colleague", "chat_colleague_offline")
            to = {"nl": colleague.name, "en": colleague.name}
            handover_kind = "colleague"
        if self.relay.link_taken(frame["link"]):
            raise ChatRefused("link-taken", "chat_link_taken")
        handover = Handover(chat, handover_kind, target, frame["link"], frame["pub"], frame["sig"], since=room.clock())
        self.by_chat[chat.id] = handover
        self.by_new_id[handover.new_id] = handover
        room.later(chat, "handover", room.config.chat_handover_timeout_seconds, self._timed_out)
        await send(chat.seeker, {"t": "handover-ask", "kind": handover_kind, "to": to})
        await send(info.ws, {"t": "handover-asked", "chat": chat.key})

    async def answer(self, chat: Chat, frame: dict[str, Any]) -> None:
        """The help-seeker's answer: declined, or a key for the receiver and a yes or no to the history."""
        handover = self.by_chat.get(chat.id)
        if handover is None or handover.state != "asking":
            raise ChatRefused("no-handover", "chat_no_handover_question")
        if frame["t"] == "handover-decline":
            await self.drop(handover, "declined")
            return
        handover.state, handover.seeker_pub, handover.history = "waiting", frame["pub"], frame["history"]
        handover.since = self.room.clock()
        await send(chat.seeker, {"t": "handover-waiting"})
        volunteer = self.room.online(chat.volunteer_id)
        await send(volunteer.ws if volunteer else None, {"t": "handover-waiting", "chat": chat.key})
        await self.notify()

    async def cancel(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        chat = self.room.chat_of(info, frame["chat"])
        handover = self.by_chat.get(chat.id)
        if handover is None:
            raise ChatRefused("no-handover", "chat_no_handover")
        await self.drop(handover, "cancelled")

    async def _timed_out(self, chat: Chat) -> None:
        handover = self.by_chat.get(chat.id)
        if handover is not None and chat.id in self.room.chats:
            await self.drop(handover, "expired")

    async def drop(self, handover: Handover, reason: str) -> None:
        """The handover did not happen: the chat stays with its volunteer; everyone involved is told."""
        room = self.room
        chat = handover.chat
        if self.by_new_id.pop(handover.new_id, None) is None:
            return
        self.by_chat.pop(chat.id, None)
        room.cancel(chat, "handover")
        if handover.state == "offered" and handover.receiver is not None:
            room.queue.slot(handover.receiver).chats.discard(handover.new_id)
            receiver = room.online(handover.receiver)
            await send(receiver.ws if receiver else None, {"t": "ended", "chat": chat_key(handover.new_id),
                                                           "reason": "handover-off", "wrapup": False})
        if reason != "ended":
            await send(chat.seeker, {"t": "handover-off", "reason": reason})
            volunteer = room.online(chat.volunteer_id)
            await send(volunteer.ws if volunteer else None, {"t": "handover-off", "chat": chat.key, "reason": reason})
        if reason in ("declined", "expired"):
            room.count("chat_handover", reason)
        await self.notify()

    async def end_for(self, chat: Chat) -> None:
        """The chat ended: a handover under way is dropped, and its former ids are forgotten."""
        handover = self.by_chat.get(chat.id)
        if handover is not None:
            await self.drop(handover, "ended")
        for old, new in list(self.former.items()):
            if new == chat.id:
                del self.former[old]

    def return_offers(self, volunteer_id: int) -> None:
        """Handovers offered to this receiver wait again (it went away or off duty)."""
        for handover in self.by_new_id.values():
            if handover.state == "offered" and handover.receiver == volunteer_id:
                handover.state, handover.receiver = "waiting", None
                self.room.queue.slot(volunteer_id).chats.discard(handover.new_id)

    def staff_gone(self, volunteer_id: int) -> None:
        """A staff page went away: its handover links are dropped, and handovers offered to it wait again."""
        self.relay.drop_links(volunteer_id, "handover")
        self.return_offers(volunteer_id)

    # -- receiving ------------------------------------------------------------------------------------

    async def offer(self, info: VolunteerInfo, handover: Handover) -> None:
        """A receiver's pickup: the handed-over chat is offered to them, with the sender's signed link key."""
        room = self.room
        sender = room.volunteers[handover.chat.volunteer_id] if handover.chat.volunteer_id is not None else None
        if handover.seeker_pub is None or sender is None:
            # No consent key yet, or nobody to hand over from: it stays waiting, and the picker is told.
            raise ChatRefused("not-now", "chat_handover_not_ready")
        # With the key proof of the sender's identity key: the receiver's page checks it before it trusts the
        # link key signed with it (PROTOCOL.md 10.11). Built first: without a proof the offer is not made.
        inviter = with_proof(room, sender, {"link": chat_key(handover.link_id), "from": sender.name,
                                            "identity": crypto.b64encode(sender.ed25519_public),
                                            "pub": crypto.b64encode(handover.inviter_pub),
                                            "sig": crypto.b64encode(handover.inviter_sig),
                                            "history": handover.history, "kind": handover.kind})
        handover.state, handover.receiver = "offered", info.id
        room.queue.slot(info.id).chats.add(handover.new_id)
        await send(info.ws, {"t": "assigned", "chat": chat_key(handover.new_id),
                             "peer": crypto.b64encode(handover.seeker_pub), "handover": inviter})
        await self.notify()

    async def accept(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        room = self.room
        handover = self.by_new_id.get(frame["chat"])
        if handover is None or handover.state != "offered" or handover.receiver != info.id:
            raise ChatRefused("not-offered", "chat_not_offered")
        chat = handover.chat
        if chat.seeker is None or chat.id not in room.chats:
            raise ChatRefused("not-now", "chat_seeker_away")
        old_volunteer, seeker_pub = chat.volunteer_id, handover.seeker_pub
        if old_volunteer is None or seeker_pub is None:
            raise ChatRefused("not-offered", "chat_not_offered")
        # The receiver's identity key goes to the help-seeker's page with its key proof (checked before it seals).
        handed = with_proof(room, info, {
            "t": "handed-over", "chat": chat_key(handover.new_id), "name": info.name, "kind": handover.kind,
            "identity": crypto.b64encode(info.ed25519_public),
            "pub": crypto.b64encode(frame["pub"]), "sig": crypto.b64encode(frame["sig"])})
        # And for the handing-over volunteer's page, which checks it before it seals the handover note.
        done = with_proof(room, info, {
            "t": "handover-done", "chat": chat.key, "link": chat_key(handover.link_id), "name": info.name,
            "identity": crypto.b64encode(info.ed25519_public),
            "pub": crypto.b64encode(frame["lpub"]), "sig": crypto.b64encode(frame["lsig"])})
        del self.by_new_id[handover.new_id]
        self.by_chat.pop(chat.id, None)
        room.cancel(chat, "handover")
        await self.readalongs.end_for(chat, "handed-over")
        old_id, old_key = chat.id, chat.key
        link = Link(handover.link_id, old_volunteer, info.id, "handover")
        self.relay.links[link.id] = link
        previous = room.online(old_volunteer)
        await send(previous.ws if previous else None, done)
        # The chat continues under its new id with the new key pair; nothing of the old session is kept.
        room.queue.remove(old_id)
        del room.chats[old_id]
        self.former[old_id] = handover.new_id
        chat.id, chat.key = handover.new_id, chat_key(handover.new_id)
        chat.seeker_public, chat.volunteer_id = seeker_pub, info.id
        self.relay.restart(chat)
        chat.volunteer_away = None
        room.cancel(chat, "volunteer")
        room.chats[chat.id] = chat
        room.queue.entries[chat.id] = QueueEntry(chat.id, room.clock(), ChatState.ACTIVE, info.id)
        room.queue.slot(info.id).chats.add(chat.id)
        self.assignment.expect_wrapup(old_volunteer, old_id)
        await send(previous.ws if previous else None,
                   {"t": "ended", "chat": old_key, "reason": "handed-over", "wrapup": True})
        chat.handed_over_frame = json.dumps(handed, separators=(",", ":"))
        await send(chat.seeker, chat.handed_over_frame)
        room.count("chat_handover", "accepted")
        await self.notify()

    def find(self, chat_id: bytes) -> tuple[Chat | None, bool]:
        """The chat a help-seeker's page resumes: by its id, or by the id it had before a handover
        (then True: the page must hear of the new chat)."""
        chat = self.room.chats.get(chat_id)
        former = chat is None and chat_id in self.former
        if former:
            chat = self.room.chats.get(self.former[chat_id])
        return chat, former
