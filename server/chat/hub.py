"""The chat hub: who is waiting, who talks with whom, and relaying ciphertext between them.

All state is in memory. A chat is forgotten (its ciphertext backlog included)
as soon as it ends; a server restart ends every chat, and both pages are told.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

import crypto

from ..config import Config
from .frames import FrameError
from .queue import ChatQueue, ChatState, QueueEntry, QueueFull

log = logging.getLogger("oor.chat")

TO_VOLUNTEER, TO_SEEKER = 1, 2  # directions, as in the AEAD associated data
BACKLOG_KEEP = 16      # frames kept per direction while the receiver is connected (resume after a blip)
BACKLOG_MAX = 512      # frames kept per direction while the receiver is away; more ends the chat
CLOSE_REPLACED = 4001  # close codes of 4000 and up tell a page not to reconnect
AGE_BANDS = ("<18", "18-29", "30-49", "50-69", "70+", "onbekend")
DEFAULT_WAIT_SECONDS = 120.0

# Observer of relayed frames: (direction, frame text). Tests use it to prove the relay sees only ciphertext.
FrameObserver = Callable[[int, str], None]


def chat_key(chat_id: bytes) -> str:
    return crypto.b64encode(chat_id)


async def send(ws: web.WebSocketResponse | None, frame: dict[str, Any] | str) -> bool:
    """Send a frame if the socket is open; a vanished peer is not an error here."""
    if ws is None or ws.closed:
        return False
    try:
        await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame, separators=(",", ":")))
    except (ConnectionError, RuntimeError):
        return False
    return True


@dataclass
class Chat:
    id: bytes
    seeker_public: bytes
    resume_hash: bytes
    address_tags: tuple[bytes, bytes]  # in-memory keyed tags, used only to honour a block
    seeker: web.WebSocketResponse | None
    volunteer_id: int | None = None
    sent: dict[int, int] = field(default_factory=lambda: {TO_VOLUNTEER: 0, TO_SEEKER: 0})
    backlog: dict[int, deque[tuple[int, str]]] = field(
        default_factory=lambda: {TO_VOLUNTEER: deque(), TO_SEEKER: deque()})
    seeker_away: float | None = None
    volunteer_away: float | None = None
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    key: str = ""  # the id in base64, computed once: it goes into every frame to the volunteer
    answered_at: float | None = None
    readalong: ReadAlong | None = None
    handover: Handover | None = None
    handed_over_frame: str | None = None  # repeated if the help-seeker resumes with the former id

    def __post_init__(self) -> None:
        self.key = chat_key(self.id)


@dataclass
class VolunteerInfo:
    id: int
    name: str
    ed25519_public: bytes
    ws: web.WebSocketResponse | None = None
    role: str = "volunteer"


INVITER_TO_JOINER, JOINER_TO_INVITER = TO_VOLUNTEER, TO_SEEKER  # a link's inviter plays the seeker's part


@dataclass
class Link:
    """A staff link (crypto/PROTOCOL.md 10.11): ciphertext between two staff pages."""
    id: bytes
    inviter: int
    joiner: int
    purpose: str  # "read-along" | "handover"
    sent: dict[int, int] = field(default_factory=lambda: {INVITER_TO_JOINER: 0, JOINER_TO_INVITER: 0})
    key: str = ""

    def __post_init__(self) -> None:
        self.key = chat_key(self.id)


@dataclass
class ReadAlong:
    chat: Chat
    mentor_id: int
    link: Link
    inviter_pub: bytes
    inviter_sig: bytes
    mchat_id: bytes | None = None
    active: bool = False
    seeker_sent: int = 0


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


class ChatHub:
    def __init__(self, config: Config, *, add_wrapup: Callable[[str, str, bool], Awaitable[None]],
                 clock: Callable[[], float] = time.monotonic, observer: FrameObserver | None = None,
                 stats: Any = None) -> None:
        self.config = config
        self.clock = clock
        self.observer = observer
        self.add_wrapup = add_wrapup
        self.queue = ChatQueue(config.chat_max_per_volunteer, config.chat_queue_max)
        self.chats: dict[bytes, Chat] = {}
        self.volunteers: dict[int, VolunteerInfo] = {}
        self.pending_wrapups: dict[int, set[bytes]] = {}
        self.topics = {t.split("|", 1)[0]: t for t in config.chat_topics}
        self.wait_estimate = DEFAULT_WAIT_SECONDS
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = stats
        self.partners = {p.split("|")[0]: p.split("|")[1:] for p in config.chat_partners}
        self.partner_available: set[int] = set()
        self.links: dict[bytes, Link] = {}
        self.readalongs: dict[bytes, ReadAlong] = {}   # by link id
        self.handovers: dict[bytes, Handover] = {}     # by the new chat id
        self.former: dict[bytes, bytes] = {}           # a handed-over chat's old id -> its new id

    # -- figures -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        waiting = len(self.queue.waiting())
        return {"available": self.queue.available_volunteers() > 0, "waiting": waiting,
                "estimate_s": self.estimate(waiting + 1)}

    def estimate(self, position: int) -> int:
        """A rough wait: the recent average wait, scaled by position over free volunteers."""
        helpers = max(1, self.queue.available_volunteers())
        return int(math.ceil(self.wait_estimate * position / helpers))

    # -- help-seekers ----------------------------------------------------------------------

    async def open_chat(self, ws: web.WebSocketResponse, seeker_public: bytes,
                        address_tags: tuple[bytes, bytes]) -> Chat:
        if self.queue.available_volunteers() == 0:
            raise FrameError("no-volunteers", "Er is nu niemand beschikbaar voor chat.",
                             "Nobody is available for chat right now.")
        chat_id = secrets.token_bytes(crypto.CHAT_ID_BYTES)
        resume = crypto.new_token(32)
        try:
            self.queue.join(chat_id, self.clock())
        except QueueFull:
            raise FrameError("busy", "Het is nu erg druk. Probeer het over een paar minuten opnieuw.",
                             "It is very busy right now. Please try again in a few minutes.") from None
        chat = Chat(chat_id, seeker_public, crypto.hash_token(resume), address_tags, ws)
        self.chats[chat_id] = chat
        position = self.queue.position(chat_id) or 1
        await send(ws, {"t": "queued", "chat": chat.key, "resume": resume, "position": position,
                        "estimate_s": self.estimate(position)})
        self._count("chat_offered")
        await self.queue_changed()
        return chat

    async def seeker_message(self, chat: Chat, frame: dict[str, Any]) -> None:
        entry = self.queue.entries.get(chat.id)
        if entry is None or entry.state is not ChatState.ACTIVE:
            raise FrameError("not-connected", "Er is nog geen vrijwilliger verbonden.", "No volunteer yet.")
        await self.relay(chat, TO_VOLUNTEER, frame["seq"], frame["ct"])

    async def resume_seeker(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> Chat | None:
        chat = self.chats.get(frame["chat"])
        former = chat is None and frame["chat"] in self.former
        if former:
            # Handed over while the page was away: it resumes with the old id and must hear of the new chat.
            chat = self.chats.get(self.former[frame["chat"]])
        if chat is None or not crypto.constant_time_equal(chat.resume_hash, crypto.hash_token(frame["resume"])):
            await send(ws, {"t": "ended", "reason": "unknown"})
            return None
        old, chat.seeker, chat.seeker_away = chat.seeker, ws, None
        self._cancel(chat, "seeker")
        if old is not None and old is not ws:
            self._spawn(self._close(old, CLOSE_REPLACED, b"resumed elsewhere"))
        entry = self.queue.entries.get(chat.id)
        state = entry.state.value if entry else "ended"
        await send(ws, {"t": "resumed", "state": state, "position": self.queue.position(chat.id) or 0})
        received = frame["received"]
        if former and chat.handed_over_frame is not None:
            await send(ws, chat.handed_over_frame)
            received = 0
        for seq, text in list(chat.backlog[TO_SEEKER]):
            if seq > received:
                await send(ws, text)
        if chat.volunteer_id is not None:
            await send(self.volunteers[chat.volunteer_id].ws, {"t": "peer-back", "chat": chat.key})
        return chat

    def seeker_left(self, chat: Chat, ws: web.WebSocketResponse) -> None:
        if chat.seeker is not ws or chat.id not in self.chats:
            return
        chat.seeker, chat.seeker_away = None, self.clock()
        if chat.volunteer_id is not None:
            self._spawn(send(self.volunteers[chat.volunteer_id].ws, {"t": "peer-away", "chat": chat.key}))
        self._later(chat, "seeker", self.config.chat_grace_seconds, self._seeker_grace_over)

    async def _seeker_grace_over(self, chat: Chat) -> None:
        if chat.seeker is None and chat.id in self.chats:
            await self.end_chat(chat, "timeout")

    # -- volunteers ------------------------------------------------------------------------

    async def volunteer_connected(self, info: VolunteerInfo, ws: web.WebSocketResponse) -> None:
        known = self.volunteers.get(info.id)
        if known is not None and known.ws is not None and known.ws is not ws:
            # One connection per volunteer: the newest wins; the old page must not reconnect.
            self._spawn(self._close(known.ws, CLOSE_REPLACED, b"replaced by a newer connection"))
        self.volunteers[info.id] = info
        info.ws = ws
        await self.queue_changed()  # colleagues see who is online (for a handover or a read-along)

    async def volunteer_left(self, info: VolunteerInfo, ws: web.WebSocketResponse) -> None:
        if info.ws is not ws:
            return
        info.ws = None
        returned = self.queue.went_offline(info.id)
        self.partner_available.discard(info.id)
        await self._staff_gone(info.id)
        for chat in self._chats_of(info.id):
            chat.volunteer_away = self.clock()
            await send(chat.seeker, {"t": "peer-away"})
            self._later(chat, "volunteer", self.config.chat_grace_seconds, self._volunteer_grace_over)
        await self.queue_changed()

    async def _volunteer_grace_over(self, chat: Chat) -> None:
        if chat.volunteer_away is not None and chat.id in self.chats:
            await self.end_chat(chat, "timeout")

    async def resume_volunteer(self, info: VolunteerInfo, held: list[dict[str, Any]]) -> None:
        """The volunteer's page (back after a blip) says which chats it still holds keys for."""
        holding = {item["chat"]: item["received"] for item in held}
        for chat in self._chats_of(info.id):
            if chat.id not in holding:
                await self.end_chat(chat, "volunteer-left")  # the page lost its keys (reload): end cleanly
                continue
            chat.volunteer_away = None
            self._cancel(chat, "volunteer")
            await send(chat.seeker, {"t": "peer-back"})
            for seq, text in list(chat.backlog[TO_VOLUNTEER]):
                if seq > holding[chat.id]:
                    await send(info.ws, text)
        await self.send_queue(info)

    async def set_available(self, info: VolunteerInfo, available: bool) -> None:
        if info.role == "partner":
            # Partners answer handed-over chats only: they never count as help for a new chat.
            (self.partner_available.add if available else self.partner_available.discard)(info.id)
            if not available:
                await self._return_handover_offers(info.id)
        else:
            self.queue.set_available(info.id, available)
        await self.queue_changed()

    async def pick_up(self, info: VolunteerInfo) -> None:
        handover = self._next_handover(info)
        if handover is not None:
            await self._offer_handover(info, handover)
            return
        entry = None if info.role == "partner" else self.queue.pick_up(info.id)
        if entry is None:
            raise FrameError("nothing-to-pick-up", "Er wacht niemand (of je zit vol).",
                             "Nobody is waiting (or you are at capacity).")
        chat = self.chats[entry.chat_id]
        await send(info.ws, {"t": "assigned", "chat": chat.key, "peer": crypto.b64encode(chat.seeker_public)})
        await self.queue_changed()

    async def accept(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        entry = self.queue.accept(info.id, frame["chat"])
        if entry is None:
            raise FrameError("not-offered", "Dit gesprek is niet (meer) aan jou toegewezen.",
                             "This chat is not (or no longer) assigned to you.")
        chat = self.chats[entry.chat_id]
        chat.volunteer_id = info.id
        chat.answered_at = self.clock()
        waited = chat.answered_at - entry.arrived
        self.wait_estimate = 0.8 * self.wait_estimate + 0.2 * max(10.0, waited)
        self._count("chat_answered", waited)
        await send(chat.seeker, {"t": "connected", "name": info.name,
                                 "identity": crypto.b64encode(info.ed25519_public),
                                 "pub": crypto.b64encode(frame["pub"]), "sig": crypto.b64encode(frame["sig"])})

    def chat_of(self, info: VolunteerInfo, chat_id: bytes) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None or chat.volunteer_id != info.id:
            raise FrameError("unknown-chat", "Dit gesprek bestaat niet (meer).", "This chat does not exist (any more).")
        return chat

    async def volunteer_message(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        chat = self.chat_of(info, frame["chat"])
        await self.relay(chat, TO_SEEKER, frame["seq"], frame["ct"])

    async def wrapup(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        pending = self.pending_wrapups.get(info.id, set())
        if frame["chat"] not in pending:
            raise FrameError("no-wrapup", "Voor dit gesprek is geen afronding open.", "No wrap-up is open for this chat.")
        if frame["topic"] not in self.topics or frame["age"] not in AGE_BANDS:
            raise FrameError("bad-wrapup", "Kies een onderwerp en een leeftijdsgroep uit de lijst.",
                             "Choose a topic and an age band from the list.")
        pending.discard(frame["chat"])
        # One anonymous count: no chat id, no volunteer, only the day.
        await self.add_wrapup(frame["topic"], frame["age"], frame["handed_over"])
        await send(info.ws, {"t": "wrapped", "chat": chat_key(frame["chat"])})

    # -- read-along (crypto/PROTOCOL.md 10.11) ------------------------------------------------

    def _online(self, volunteer_id: int | None) -> VolunteerInfo | None:
        info = self.volunteers.get(volunteer_id) if volunteer_id is not None else None
        return info if info is not None and info.ws is not None else None

    def _new_link(self, link_id: bytes, inviter: int, joiner: int, purpose: str) -> Link:
        if link_id in self.links or link_id in self.chats:
            raise FrameError("link-taken", "Probeer het opnieuw.", "Please try again (link id in use).")
        link = Link(link_id, inviter, joiner, purpose)
        self.links[link_id] = link
        return link

    def _active_chat(self, info: VolunteerInfo, chat_id: bytes) -> Chat:
        chat = self.chat_of(info, chat_id)
        entry = self.queue.entries.get(chat.id)
        if entry is None or entry.state is not ChatState.ACTIVE or chat.seeker is None:
            raise FrameError("not-now", "Dat kan nu niet: de hulpvrager is niet verbonden.",
                             "Not possible right now: the help-seeker is not connected.")
        return chat

    async def invite_mentor(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        chat = self._active_chat(info, frame["chat"])
        mentor = self._online(frame["mentor"])
        if mentor is None or mentor.role != "mentor" or mentor.id == info.id:
            raise FrameError("no-mentor", "Deze mentor is niet online.", "This mentor is not online.")
        if chat.readalong is not None:
            raise FrameError("already-reading", "Er leest al een mentor mee.", "A mentor is reading along already.")
        link = self._new_link(frame["link"], info.id, mentor.id, "read-along")
        readalong = ReadAlong(chat, mentor.id, link, frame["pub"], frame["sig"])
        chat.readalong = readalong
        self.readalongs[link.id] = readalong
        # The help-seeker's page makes a key for the mentor's session: it cannot be read along without it.
        await send(chat.seeker, {"t": "mentor-request"})
        await send(info.ws, {"t": "mentor-asked", "chat": chat.key, "link": link.key})

    async def mentor_key(self, chat: Chat, frame: dict[str, Any]) -> None:
        readalong = chat.readalong
        if readalong is None or readalong.mchat_id is not None:
            raise FrameError("no-request", "Er is geen verzoek.", "There is no request.")
        readalong.mchat_id = secrets.token_bytes(crypto.CHAT_ID_BYTES)
        volunteer = self.volunteers[readalong.link.inviter]
        await send(self.volunteers[readalong.mentor_id].ws, {
            "t": "mentor-ask", "link": readalong.link.key, "chat": chat_key(readalong.mchat_id),
            "seeker": crypto.b64encode(frame["pub"]), "from": volunteer.name,
            "identity": crypto.b64encode(volunteer.ed25519_public),
            "pub": crypto.b64encode(readalong.inviter_pub), "sig": crypto.b64encode(readalong.inviter_sig)})

    def _readalong_of(self, info: VolunteerInfo, link_id: bytes) -> ReadAlong:
        readalong = self.readalongs.get(link_id)
        if readalong is None or info.id not in (readalong.mentor_id, readalong.link.inviter):
            raise FrameError("unknown-link", "Dit meelezen bestaat niet (meer).", "This read-along does not exist (any more).")
        return readalong

    async def mentor_accept(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        readalong = self._readalong_of(info, frame["link"])
        if info.id != readalong.mentor_id or readalong.active or readalong.mchat_id is None:
            raise FrameError("not-asked", "Er is geen vraag om mee te lezen.", "You were not asked to read along.")
        readalong.active = True
        chat = readalong.chat
        await send(chat.seeker, {"t": "mentor-joined", "chat": chat_key(readalong.mchat_id), "name": info.name,
                                 "identity": crypto.b64encode(info.ed25519_public),
                                 "pub": crypto.b64encode(frame["cpub"]), "sig": crypto.b64encode(frame["csig"])})
        await send(self.volunteers[readalong.link.inviter].ws, {
            "t": "mentor-linked", "chat": chat.key, "link": readalong.link.key, "name": info.name,
            "identity": crypto.b64encode(info.ed25519_public),
            "pub": crypto.b64encode(frame["pub"]), "sig": crypto.b64encode(frame["sig"])})

    async def mentor_stop(self, info: VolunteerInfo, frame: dict[str, Any], reason: str) -> None:
        await self.end_readalong(self._readalong_of(info, frame["link"]), reason)

    async def end_readalong(self, readalong: ReadAlong, reason: str) -> None:
        if self.readalongs.pop(readalong.link.id, None) is None:
            return
        self.links.pop(readalong.link.id, None)
        chat = readalong.chat
        chat.readalong = None
        await send(chat.seeker, {"t": "mentor-ended"})
        frame = {"t": "mentor-ended", "chat": chat.key, "link": readalong.link.key, "reason": reason}
        for volunteer_id in (readalong.link.inviter, readalong.mentor_id):
            await send(self.volunteers[volunteer_id].ws if volunteer_id in self.volunteers else None, frame)

    async def seeker_mentor_message(self, chat: Chat, frame: dict[str, Any]) -> None:
        """The help-seeker's page sealed a message again, for the mentor's session."""
        readalong = chat.readalong
        if readalong is None or not readalong.active:
            raise FrameError("no-mentor", "Er leest geen mentor mee.", "No mentor is reading along.")
        if frame["seq"] != readalong.seeker_sent + 1:
            raise FrameError("out-of-order", "Bericht in de verkeerde volgorde.", "Message out of order.")
        readalong.seeker_sent = frame["seq"]
        text = f'{{"t":"mmsg","link":"{readalong.link.key}","seq":{frame["seq"]},"ct":"{frame["ct"]}"}}'
        if self.observer is not None:
            self.observer(TO_VOLUNTEER, text)
        await send(self.volunteers[readalong.mentor_id].ws, text)

    async def link_message(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        link = self.links.get(frame["link"])
        if link is None or info.id not in (link.inviter, link.joiner):
            raise FrameError("unknown-link", "Deze verbinding bestaat niet (meer).", "This link does not exist (any more).")
        readalong = self.readalongs.get(link.id)
        if readalong is not None and not readalong.active:
            raise FrameError("not-yet", "Het meelezen is nog niet begonnen.", "The read-along has not started yet.")
        direction = INVITER_TO_JOINER if info.id == link.inviter else JOINER_TO_INVITER
        if link.purpose == "handover" and direction != INVITER_TO_JOINER:
            raise FrameError("one-way", "Deze verbinding is alleen voor de overdrachtsnotitie.",
                             "This link only carries the handover note.")
        if frame["seq"] != link.sent[direction] + 1:
            raise FrameError("out-of-order", "Bericht in de verkeerde volgorde.", "Message out of order.")
        link.sent[direction] = frame["seq"]
        text = f'{{"t":"lmsg","link":"{link.key}","seq":{frame["seq"]},"ct":"{frame["ct"]}"}}'
        if self.observer is not None:
            self.observer(direction, text)
        target = link.joiner if direction == INVITER_TO_JOINER else link.inviter
        await send(self.volunteers[target].ws if target in self.volunteers else None, text)
        if link.purpose == "handover":
            self.links.pop(link.id, None)  # the note is the link's one message

    async def _staff_gone(self, volunteer_id: int) -> None:
        """A staff page went away: its read-alongs end (their sessions cannot resume), its handover
        links are dropped, and handovers offered to it wait again."""
        for readalong in list(self.readalongs.values()):
            if volunteer_id in (readalong.mentor_id, readalong.link.inviter):
                await self.end_readalong(readalong, "left")
        for link in list(self.links.values()):
            if link.purpose == "handover" and volunteer_id in (link.inviter, link.joiner):
                self.links.pop(link.id, None)
        await self._return_handover_offers(volunteer_id)

    # -- handover to a partner queue or a colleague ------------------------------------------

    def _may_receive(self, info: VolunteerInfo, handover: Handover) -> bool:
        if handover.state != "waiting" or handover.chat.volunteer_id == info.id:
            return False
        if handover.kind == "partner":
            return info.role == "partner" and info.id in self.partner_available
        return handover.target == str(info.id)

    def _next_handover(self, info: VolunteerInfo) -> Handover | None:
        if self.queue.free_capacity(info.id) <= 0:
            return None
        # Handed-over chats come before new chats, longest waiting first.
        ready = [h for h in self.handovers.values() if self._may_receive(info, h)]
        return min(ready, key=lambda h: h.since) if ready else None

    async def request_handover(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        chat = self._active_chat(info, frame["chat"])
        if chat.handover is not None:
            raise FrameError("handover-pending", "Er loopt al een overdracht.", "A handover is already under way.")
        kind, _, target = frame["target"].partition(":")
        if kind == "p":
            if target not in self.partners:
                raise FrameError("no-partner", "Deze partner bestaat niet.", "There is no such partner.")
            to = {"nl": self.partners[target][0], "en": self.partners[target][1]}
            handover_kind = "partner"
        else:
            colleague = self._online(int(target))
            if colleague is None or colleague.id == info.id or colleague.role not in ("volunteer", "mentor"):
                raise FrameError("no-colleague", "Deze collega is niet online.", "This colleague is not online.")
            to = {"nl": colleague.name, "en": colleague.name}
            handover_kind = "colleague"
        if frame["link"] in self.links or frame["link"] in self.chats:
            raise FrameError("link-taken", "Probeer het opnieuw.", "Please try again (link id in use).")
        handover = Handover(chat, handover_kind, target, frame["link"], frame["pub"], frame["sig"], since=self.clock())
        chat.handover = handover
        self.handovers[handover.new_id] = handover
        self._later(chat, "handover", self.config.chat_handover_timeout_seconds, self._handover_timed_out)
        await send(chat.seeker, {"t": "handover-ask", "kind": handover_kind, "to": to})
        await send(info.ws, {"t": "handover-asked", "chat": chat.key})

    async def handover_answer(self, chat: Chat, frame: dict[str, Any]) -> None:
        handover = chat.handover
        if handover is None or handover.state != "asking":
            raise FrameError("no-handover", "Er is geen vraag om over te dragen.", "There is no handover question.")
        if frame["t"] == "handover-decline":
            await self._drop_handover(handover, "declined")
            return
        handover.state, handover.seeker_pub, handover.history = "waiting", frame["pub"], frame["history"]
        handover.since = self.clock()
        await send(chat.seeker, {"t": "handover-waiting"})
        volunteer = self._online(chat.volunteer_id)
        await send(volunteer.ws if volunteer else None, {"t": "handover-waiting", "chat": chat.key})
        await self.queue_changed()

    async def cancel_handover(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        chat = self.chat_of(info, frame["chat"])
        if chat.handover is None:
            raise FrameError("no-handover", "Er loopt geen overdracht.", "No handover is under way.")
        await self._drop_handover(chat.handover, "cancelled")

    async def _handover_timed_out(self, chat: Chat) -> None:
        if chat.handover is not None and chat.id in self.chats:
            await self._drop_handover(chat.handover, "expired")

    async def _drop_handover(self, handover: Handover, reason: str) -> None:
        """The handover did not happen: the chat stays with its volunteer; everyone involved is told."""
        chat = handover.chat
        if self.handovers.pop(handover.new_id, None) is None:
            return
        chat.handover = None
        self._cancel(chat, "handover")
        if handover.state == "offered" and handover.receiver is not None:
            self.queue.slot(handover.receiver).chats.discard(handover.new_id)
            receiver = self._online(handover.receiver)
            await send(receiver.ws if receiver else None, {"t": "ended", "chat": chat_key(handover.new_id),
                                                           "reason": "handover-off", "wrapup": False})
        if reason != "ended":
            await send(chat.seeker, {"t": "handover-off", "reason": reason})
            volunteer = self._online(chat.volunteer_id)
            await send(volunteer.ws if volunteer else None, {"t": "handover-off", "chat": chat.key, "reason": reason})
        if reason in ("declined", "expired"):
            self._count("chat_handover", reason)
        await self.queue_changed()

    async def _return_handover_offers(self, volunteer_id: int) -> None:
        for handover in self.handovers.values():
            if handover.state == "offered" and handover.receiver == volunteer_id:
                handover.state, handover.receiver = "waiting", None
                self.queue.slot(volunteer_id).chats.discard(handover.new_id)

    async def _offer_handover(self, info: VolunteerInfo, handover: Handover) -> None:
        sender = self.volunteers[handover.chat.volunteer_id] if handover.chat.volunteer_id is not None else None
        if handover.seeker_pub is None or sender is None:
            # No consent key yet, or nobody to hand over from: it stays waiting, and the picker is told.
            raise FrameError("not-now", "Dit gesprek kan nog niet worden overgenomen; probeer het zo opnieuw.",
                             "This chat cannot be taken over yet; try again shortly.")
        handover.state, handover.receiver = "offered", info.id
        self.queue.slot(info.id).chats.add(handover.new_id)
        await send(info.ws, {"t": "assigned", "chat": chat_key(handover.new_id),
                             "peer": crypto.b64encode(handover.seeker_pub),
                             "handover": {"link": chat_key(handover.link_id), "from": sender.name,
                                          "identity": crypto.b64encode(sender.ed25519_public),
                                          "pub": crypto.b64encode(handover.inviter_pub),
                                          "sig": crypto.b64encode(handover.inviter_sig),
                                          "history": handover.history, "kind": handover.kind}})
        await self.queue_changed()

    async def accept_handover(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        handover = self.handovers.get(frame["chat"])
        if handover is None or handover.state != "offered" or handover.receiver != info.id:
            raise FrameError("not-offered", "Dit gesprek is niet (meer) aan jou toegewezen.",
                             "This chat is not (or no longer) assigned to you.")
        chat = handover.chat
        if chat.seeker is None or chat.id not in self.chats:
            raise FrameError("not-now", "De hulpvrager is even weg; probeer het zo opnieuw.",
                             "The help-seeker is away for a moment; try again shortly.")
        old_volunteer, seeker_pub = chat.volunteer_id, handover.seeker_pub
        if old_volunteer is None or seeker_pub is None:
            raise FrameError("not-offered", "Dit gesprek is niet (meer) aan jou toegewezen.",
                             "This chat is not (or no longer) assigned to you.")
        del self.handovers[handover.new_id]
        chat.handover = None
        self._cancel(chat, "handover")
        if chat.readalong is not None:
            await self.end_readalong(chat.readalong, "handed-over")
        old_id, old_key = chat.id, chat.key
        link = Link(handover.link_id, old_volunteer, info.id, "handover")
        self.links[link.id] = link
        previous = self._online(old_volunteer)
        await send(previous.ws if previous else None, {
            "t": "handover-done", "chat": old_key, "link": link.key, "name": info.name,
            "identity": crypto.b64encode(info.ed25519_public),
            "pub": crypto.b64encode(frame["lpub"]), "sig": crypto.b64encode(frame["lsig"])})
        # The chat continues under its new id with the new key pair; nothing of the old session is kept.
        self.queue.remove(old_id)
        del self.chats[old_id]
        self.former[old_id] = handover.new_id
        chat.id, chat.key = handover.new_id, chat_key(handover.new_id)
        chat.seeker_public, chat.volunteer_id = seeker_pub, info.id
        chat.sent = {TO_VOLUNTEER: 0, TO_SEEKER: 0}
        chat.backlog[TO_SEEKER].clear()
        chat.backlog[TO_VOLUNTEER].clear()
        chat.volunteer_away = None
        self._cancel(chat, "volunteer")
        self.chats[chat.id] = chat
        self.queue.entries[chat.id] = QueueEntry(chat.id, self.clock(), ChatState.ACTIVE, info.id)
        self.queue.slot(info.id).chats.add(chat.id)
        self.pending_wrapups.setdefault(old_volunteer, set()).add(old_id)
        await send(previous.ws if previous else None,
                   {"t": "ended", "chat": old_key, "reason": "handed-over", "wrapup": True})
        chat.handed_over_frame = json.dumps(
            {"t": "handed-over", "chat": chat.key, "name": info.name, "kind": handover.kind,
             "identity": crypto.b64encode(info.ed25519_public),
             "pub": crypto.b64encode(frame["pub"]), "sig": crypto.b64encode(frame["sig"])}, separators=(",", ":"))
        await send(chat.seeker, chat.handed_over_frame)
        self._count("chat_handover", "accepted")
        await self.queue_changed()

    def _count(self, name: str, *args: Any) -> None:
        """One anonymous count for the statistics (server/stats.py): no chat id, no volunteer.

        Written in the background: a chat never waits for the disk (the storage thread may be busy
        with mail or a checkpoint), and a failure is logged, never passed to the chat."""
        if self.stats is not None:
            self._spawn(self._record(name, *args))

    async def _record(self, name: str, *args: Any) -> None:
        try:
            await getattr(self.stats, name)(*args)
        except Exception:  # statistics must never break a chat
            log.exception("statistics: %s failed", name)

    # -- shared ----------------------------------------------------------------------------

    async def relay(self, chat: Chat, direction: int, seq: int, ciphertext: str) -> None:
        if seq != chat.sent[direction] + 1:
            raise FrameError("out-of-order", "Bericht in de verkeerde volgorde.", "Message out of order.")
        chat.sent[direction] = seq
        if direction == TO_SEEKER:
            text = f'{{"t":"msg","seq":{seq},"ct":"{ciphertext}"}}'
            target = chat.seeker
        else:
            text = f'{{"t":"msg","chat":"{chat.key}","seq":{seq},"ct":"{ciphertext}"}}'
            target = self.volunteers[chat.volunteer_id].ws if chat.volunteer_id is not None else None
        backlog = chat.backlog[direction]
        backlog.append((seq, text))
        away = (chat.seeker_away if direction == TO_SEEKER else chat.volunteer_away) is not None
        if len(backlog) > (BACKLOG_MAX if away else BACKLOG_KEEP):
            if away:
                await self.end_chat(chat, "timeout")
                return
            backlog.popleft()
        if self.observer is not None:
            self.observer(direction, text)
        await send(target, text)

    async def end_chat(self, chat: Chat, reason: str) -> None:
        if self.chats.pop(chat.id, None) is None:
            return
        for name in list(chat.timers):
            self._cancel(chat, name)
        if chat.readalong is not None:
            await self.end_readalong(chat.readalong, "chat-ended")
        if chat.handover is not None:
            await self._drop_handover(chat.handover, "ended")
        for old, new in list(self.former.items()):
            if new == chat.id:
                del self.former[old]
        entry = self.queue.remove(chat.id)
        was_active = entry is not None and entry.state is ChatState.ACTIVE
        if was_active and chat.answered_at is not None:
            self._count("chat_finished", self.clock() - chat.answered_at)
        elif entry is not None and reason in ("seeker", "timeout"):
            self._count("chat_abandoned", self.clock() - entry.arrived)
        chat.backlog[TO_SEEKER].clear()
        chat.backlog[TO_VOLUNTEER].clear()
        volunteer_id = chat.volunteer_id if chat.volunteer_id is not None else (entry.volunteer_id if entry else None)
        if volunteer_id is not None:
            if was_active:
                self.pending_wrapups.setdefault(volunteer_id, set()).add(chat.id)
            await send(self.volunteers[volunteer_id].ws,
                       {"t": "ended", "chat": chat.key, "reason": reason, "wrapup": was_active})
        await send(chat.seeker, {"t": "ended", "reason": reason})
        if chat.seeker is not None:
            # Closing waits for the peer's answer: never hold up the caller for it.
            self._spawn(self._close(chat.seeker))
        await self.queue_changed()

    @staticmethod
    async def _close(ws: web.WebSocketResponse, code: int = 1000, why: bytes = b"") -> None:
        with contextlib.suppress(Exception):
            await ws.close(code=code, message=why)

    async def queue_changed(self) -> None:
        """Tell waiting help-seekers their position and volunteers the queue."""
        waiting = self.queue.waiting()
        for position, entry in enumerate(waiting, start=1):
            chat = self.chats.get(entry.chat_id)
            if chat is not None:
                await send(chat.seeker, {"t": "position", "position": position,
                                         "estimate_s": self.estimate(position)})
        for info in list(self.volunteers.values()):
            if info.ws is not None:
                await self.send_queue(info, waiting)

    async def send_queue(self, info: VolunteerInfo, waiting: list[Any] | None = None) -> None:
        waiting = self.queue.waiting() if waiting is None else waiting
        now = self.clock()
        slot = self.queue.slot(info.id)
        partner = info.role == "partner"
        await send(info.ws, {
            "t": "queue", "available": info.id in self.partner_available if partner else slot.available,
            "waiting": [] if partner else [int(now - e.arrived) for e in waiting],
            "handovers": [int(now - h.since) for h in self.handovers.values() if self._may_receive(info, h)],
            "holding": len(slot.chats), "capacity": self.queue.capacity,
            "partners": [{"target": f"p:{key}", "nl": names[0], "en": names[1]}
                         for key, names in self.partners.items()],
            "colleagues": [{"id": v.id, "name": v.name, "mentor": v.role == "mentor"}
                           for v in self.volunteers.values()
                           if v.id != info.id and v.ws is not None and v.role in ("volunteer", "mentor")]})

    def _chats_of(self, volunteer_id: int) -> list[Chat]:
        return [c for c in self.chats.values() if c.volunteer_id == volunteer_id]

    def _later(self, chat: Chat, name: str, delay: float, action: Callable[[Chat], Awaitable[None]]) -> None:
        self._cancel(chat, name)
        loop = asyncio.get_running_loop()
        chat.timers[name] = loop.call_later(delay, lambda: self._spawn(action(chat)))

    def _cancel(self, chat: Chat, name: str) -> None:
        timer = chat.timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        """A restart ends every chat: tell both sides plainly, then close."""
        for chat in list(self.chats.values()):
            await self.end_chat(chat, "restart")
        for info in self.volunteers.values():
            if info.ws is not None:
                with contextlib.suppress(Exception):
                    await info.ws.close(code=1012, message=b"server restart")
        for task in list(self._tasks):
            task.cancel()
