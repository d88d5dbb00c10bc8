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
from .queue import ChatQueue, ChatState, QueueFull

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

    def __post_init__(self) -> None:
        self.key = chat_key(self.id)


@dataclass
class VolunteerInfo:
    id: int
    name: str
    ed25519_public: bytes
    ws: web.WebSocketResponse | None = None


class ChatHub:
    def __init__(self, config: Config, *, add_wrapup: Callable[[str, str, bool], Awaitable[None]],
                 clock: Callable[[], float] = time.monotonic, observer: FrameObserver | None = None) -> None:
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
        await self.queue_changed()
        return chat

    async def seeker_message(self, chat: Chat, frame: dict[str, Any]) -> None:
        entry = self.queue.entries.get(chat.id)
        if entry is None or entry.state is not ChatState.ACTIVE:
            raise FrameError("not-connected", "Er is nog geen vrijwilliger verbonden.", "No volunteer yet.")
        await self.relay(chat, TO_VOLUNTEER, frame["seq"], frame["ct"])

    async def resume_seeker(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> Chat | None:
        chat = self.chats.get(frame["chat"])
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
        for seq, text in list(chat.backlog[TO_SEEKER]):
            if seq > frame["received"]:
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
        await self.send_queue(info)

    async def volunteer_left(self, info: VolunteerInfo, ws: web.WebSocketResponse) -> None:
        if info.ws is not ws:
            return
        info.ws = None
        returned = self.queue.went_offline(info.id)
        for chat in self._chats_of(info.id):
            chat.volunteer_away = self.clock()
            await send(chat.seeker, {"t": "peer-away"})
            self._later(chat, "volunteer", self.config.chat_grace_seconds, self._volunteer_grace_over)
        if returned:
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
        self.queue.set_available(info.id, available)
        await self.queue_changed()

    async def pick_up(self, info: VolunteerInfo) -> None:
        entry = self.queue.pick_up(info.id)
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
        waited = self.clock() - entry.arrived
        self.wait_estimate = 0.8 * self.wait_estimate + 0.2 * max(10.0, waited)
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
        entry = self.queue.remove(chat.id)
        was_active = entry is not None and entry.state is ChatState.ACTIVE
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
        await send(info.ws, {"t": "queue", "available": slot.available,
                             "waiting": [int(now - e.arrived) for e in waiting],
                             "holding": len(slot.chats), "capacity": self.queue.capacity})

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
