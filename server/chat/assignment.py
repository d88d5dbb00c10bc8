"""Queue and assignment: a help-seeker joins the queue, a volunteer picks up and accepts, and
after the end the volunteer's wrap-up feeds the anonymous statistics.

The order and the capacity are `queue.py`'s (plain logic); this part adds the chats,
the frames that tell the pages, the wait estimate and the counts for the statistics
of these events (offered, answered, finished, abandoned).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

import crypto

from ..stats import AGE_BANDS
from .errors import ChatRefused
from .queue import ChatState, QueueFull
from .room import Chat, Notify, Room, VolunteerInfo, chat_key, send

DEFAULT_WAIT_SECONDS = 120.0

# Stores one wrap-up: (topic, age band, handed over). One anonymous count, no chat id.
AddWrapup = Callable[[str, str, bool], Awaitable[None]]


def key_proof(room: Room, info: VolunteerInfo) -> dict[str, Any] | None:
    """The key proof (crypto/PROTOCOL.md 14) of this account's identity key, for a frame that gives a
    help-seeker's page that key: the page checks it before it encrypts a byte. None when the log has no
    usable proof for the account (not signed and logged yet, revoked, expired), or when this hub runs
    without a log (a bare hub in a unit test): a frame without a proof is refused by every page."""
    log = room.log
    return log.proof_for(info.account_id) if log is not None and info.account_id else None


def with_proof(room: Room, info: VolunteerInfo, frame: dict[str, Any]) -> dict[str, Any]:
    """The frame with `proof` next to `identity`; a hub with a log refuses to send a key it cannot prove
    (the gate keeps such an account out of every position that would, so this is only a race)."""
    proof = key_proof(room, info)
    if proof is None and room.log is not None:
        raise ChatRefused("keys-not-ready", "chat_keys_not_ready")
    if proof is not None:
        frame["proof"] = proof
    return frame


class Assignment:
    def __init__(self, room: Room, *, add_wrapup: AddWrapup, notify: Notify) -> None:
        self.room = room
        self.add_wrapup = add_wrapup
        self.notify = notify
        self.wait_estimate = DEFAULT_WAIT_SECONDS
        self.pending_wrapups: dict[int, set[bytes]] = {}
        self.topics = {t.split("|", 1)[0]: t for t in room.config.chat_topics}

    # -- figures ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        waiting = self.room.queue.waiting_count()
        return {"available": self.room.queue.available_volunteers() > 0, "waiting": waiting,
                "estimate_s": self.estimate(waiting + 1)}

    def estimate(self, position: int) -> int:
        """A rough wait: the recent average wait, scaled by position over free volunteers."""
        helpers = max(1, self.room.queue.available_volunteers())
        return int(math.ceil(self.wait_estimate * position / helpers))

    # -- the help-seeker joins ----------------------------------------------------------------------

    async def open_chat(self, ws: web.WebSocketResponse, seeker_public: bytes,
                        address_tags: tuple[bytes, bytes]) -> Chat:
        room = self.room
        if room.queue.available_volunteers() == 0:
            raise ChatRefused("no-volunteers", "chat_no_volunteers")
        chat_id = secrets.token_bytes(crypto.CHAT_ID_BYTES)
        resume = crypto.new_token(32)
        try:
            room.queue.join(chat_id, room.clock())
        except QueueFull:
            raise ChatRefused("busy", "chat_busy") from None
        chat = Chat(chat_id, seeker_public, crypto.hash_token(resume), address_tags, ws)
        room.chats[chat_id] = chat
        position = room.queue.position(chat_id) or 1
        await send(ws, {"t": "queued", "chat": chat.key, "resume": resume, "position": position,
                        "estimate_s": self.estimate(position)})
        room.count("chat_offered")
        await self.notify()
        return chat

    # -- a volunteer takes it -----------------------------------------------------------------------

    def set_available(self, info: VolunteerInfo, available: bool) -> None:
        self.room.queue.set_available(info.id, available)

    async def pick_up(self, info: VolunteerInfo) -> None:
        """Offer the longest-waiting chat to this volunteer (a partner takes handed-over chats only)."""
        entry = None if info.role == "partner" else self.room.queue.pick_up(info.id)
        if entry is None:
            raise ChatRefused("nothing-to-pick-up", "chat_nothing_to_pick_up")
        chat = self.room.chats[entry.chat_id]
        await send(info.ws, {"t": "assigned", "chat": chat.key, "peer": crypto.b64encode(chat.seeker_public)})
        await self.notify()

    async def accept(self, info: VolunteerInfo, frame: dict[str, Any]) -> dict[str, Any]:
        """The volunteer's page answered the offer with its signed key: the help-seeker is told, with the
        key proof of the volunteer's identity key. Returns the `connected` frame (the hub keeps it)."""
        room = self.room
        connected = with_proof(room, info, {
            "t": "connected", "name": info.name, "identity": crypto.b64encode(info.ed25519_public),
            "pub": crypto.b64encode(frame["pub"]), "sig": crypto.b64encode(frame["sig"])})
        entry = room.queue.accept(info.id, frame["chat"])
        if entry is None:
            raise ChatRefused("not-offered", "chat_not_offered")
        chat = room.chats[entry.chat_id]
        chat.volunteer_id = info.id
        chat.answered_at = room.clock()
        waited = chat.answered_at - entry.arrived
        self.wait_estimate = 0.8 * self.wait_estimate + 0.2 * max(10.0, waited)
        room.count("chat_answered", waited)
        await send(chat.seeker, connected)
        return connected

    # -- the end, and the wrap-up ---------------------------------------------------------------------

    def finish(self, chat: Chat, reason: str) -> tuple[int | None, bool]:
        """The chat leaves the queue: counted as finished or abandoned, and a wrap-up opens for an
        answered chat. Returns the volunteer to tell (or None) and whether it was answered."""
        room = self.room
        entry = room.queue.remove(chat.id)
        was_active = entry is not None and entry.state is ChatState.ACTIVE
        if was_active and chat.answered_at is not None:
            room.count("chat_finished", room.clock() - chat.answered_at)
        elif entry is not None and reason in ("seeker", "timeout"):
            room.count("chat_abandoned", room.clock() - entry.arrived)
        volunteer_id = chat.volunteer_id if chat.volunteer_id is not None else (entry.volunteer_id if entry else None)
        if volunteer_id is not None and was_active:
            self.expect_wrapup(volunteer_id, chat.id)
        return volunteer_id, was_active

    def expect_wrapup(self, volunteer_id: int, chat_id: bytes) -> None:
        self.pending_wrapups.setdefault(volunteer_id, set()).add(chat_id)

    async def wrapup(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        pending = self.pending_wrapups.get(info.id, set())
        if frame["chat"] not in pending:
            raise ChatRefused("no-wrapup", "chat_no_wrapup")
        if frame["topic"] not in self.topics or frame["age"] not in AGE_BANDS:
            raise ChatRefused("bad-wrapup", "chat_bad_wrapup")
        pending.discard(frame["chat"])
        # One anonymous count: no chat id, no volunteer, only the day.
        await self.add_wrapup(frame["topic"], frame["age"], frame["handed_over"])
        await send(info.ws, {"t": "wrapped", "chat": chat_key(frame["chat"])})
