"""What the parts of the chat hub share: the chats, the staff online, the queue, the clock,
and the timers and background tasks that outlive one frame.

All of it is in memory. A chat is forgotten (its ciphertext backlog included) as
soon as it ends; a server restart ends every chat. The parts (relay.py,
assignment.py, readalong.py, handover.py) each keep their own state beside this,
and hub.py composes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

import crypto

from ..config import Config
from .errors import ChatRefused
from .queue import ChatQueue, ChatState

log = logging.getLogger("oor.chat")

TO_VOLUNTEER, TO_SEEKER = 1, 2  # directions, as in the AEAD associated data
CLOSE_REPLACED = 4001  # close codes of 4000 and up tell a page not to reconnect
TOLD_SEEKER_AWAY, TOLD_VOLUNTEER_AWAY = 1, 2  # Chat.away_told: whom the other side was told is away

# What a part calls when the queue's picture changed (the hub tells every page).
Notify = Callable[[], Awaitable[None]]


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


async def close(ws: web.WebSocketResponse, code: int = 1000, why: bytes = b"") -> None:
    with contextlib.suppress(Exception):
        await ws.close(code=code, message=why)


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
    handed_over_frame: str | None = None  # repeated if the help-seeker resumes with the former id
    away_told: int = 0  # TOLD_* bits: a "peer-away" went out, so a "peer-back" must follow

    def __post_init__(self) -> None:
        self.key = chat_key(self.id)


@dataclass
class VolunteerInfo:
    id: int
    name: str
    ed25519_public: bytes
    ws: web.WebSocketResponse | None = None
    role: str = "volunteer"
    # Key transparency (issue 17): the account id the root key signs the keys under, and the log's word
    # on it (TransparencyLog.status_for). Only "ready" takes chats: until then the volunteer is connected
    # but not available (no pickup, no handover, no read-along), and `wants` keeps what the page asked.
    account_id: bytes = b""
    key_status: str = "pending"
    wants: bool = False

    @property
    def key_ready(self) -> bool:
        return self.key_status == "ready"


class Room:
    def __init__(self, config: Config, clock: Callable[[], float], stats: Any = None) -> None:
        self.config = config
        self.clock = clock
        self.stats = stats
        self.queue = ChatQueue(config.chat_max_per_volunteer, config.chat_queue_max)
        self.chats: dict[bytes, Chat] = {}
        self.volunteers: dict[int, VolunteerInfo] = {}  # everyone who connected since the start
        self.tasks: set[asyncio.Task[None]] = set()
        # In a cluster, the leader's copy of this picture in Redis (chat/cluster.py `Replica`).
        self.replica: Any = None
        # This node's transparency log (server/transparency/log.py `TransparencyLog`), once a volunteer's
        # session attached it (hub.attach_log): the gate asks it for every volunteer's status, and the
        # frames that carry a volunteer's key ask it for the key proof. None: nobody is ready.
        self.log: Any = None

    # -- who and what -------------------------------------------------------------------------

    def online(self, volunteer_id: int | None) -> VolunteerInfo | None:
        info = self.volunteers.get(volunteer_id) if volunteer_id is not None else None
        return info if info is not None and info.ws is not None else None

    def socket_of(self, volunteer_id: int | None) -> web.WebSocketResponse | None:
        info = self.volunteers.get(volunteer_id) if volunteer_id is not None else None
        return info.ws if info is not None else None

    def chats_of(self, volunteer_id: int) -> list[Chat]:
        return [c for c in self.chats.values() if c.volunteer_id == volunteer_id]

    def is_active(self, chat: Chat) -> bool:
        entry = self.queue.entries.get(chat.id)
        return entry is not None and entry.state is ChatState.ACTIVE

    def chat_of(self, info: VolunteerInfo, chat_id: bytes) -> Chat:
        """The volunteer's own chat by id; any other id is refused the same way."""
        chat = self.chats.get(chat_id)
        if chat is None or chat.volunteer_id != info.id:
            raise ChatRefused("unknown-chat", "chat_unknown_chat")
        return chat

    def active_chat(self, info: VolunteerInfo, chat_id: bytes) -> Chat:
        """The volunteer's chat, answered and with the help-seeker's page connected."""
        chat = self.chat_of(info, chat_id)
        if not self.is_active(chat) or chat.seeker is None:
            raise ChatRefused("not-now", "chat_seeker_not_connected")
        return chat

    # -- time and the background ----------------------------------------------------------------

    def later(self, chat: Chat, name: str, delay: float, action: Callable[[Chat], Awaitable[None]]) -> None:
        self.cancel(chat, name)
        loop = asyncio.get_running_loop()
        chat.timers[name] = loop.call_later(delay, lambda: self.spawn(action(chat)))

    def cancel(self, chat: Chat, name: str) -> None:
        timer = chat.timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def count(self, name: str, *args: Any) -> None:
        """One anonymous count for the statistics (server/stats.py): no chat id, no volunteer.

        Written in the background: a chat never waits for the disk (the storage thread may be busy
        with mail or a checkpoint), and a failure is logged, never passed to the chat."""
        if self.stats is not None:
            self.spawn(self._record(name, *args))

    async def _record(self, name: str, *args: Any) -> None:
        try:
            await getattr(self.stats, name)(*args)
        except Exception:  # statistics must never break a chat
            log.exception("statistics: %s failed", name)
