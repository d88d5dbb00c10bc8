"""The sessions of the two kinds of page, where the chat hub runs.

A session takes one page's messages in order: the size-capped parse, the frame rate limit,
the call into the hub, and a refusal turned into the page's error frame (`error_frame`, the
one place). `server/chat/ws.py` drives a session from a websocket when the hub runs in this
process; in a cluster the leader drives it from the frames a node passes on (chat/cluster.py),
with `RemoteSocket`s standing in for the websockets. The same code, so the same rules.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

import crypto

from ..abuse import TokenBucket
from ..guards import GUARD, POW
from ..i18n import message
from ..keys import CONFIG, STORAGE
from ..transparency.log import LOG
from .errors import ChatRefused
from .frames import SEEKER_FRAMES, VOLUNTEER_FRAMES, FrameError, parse
from .hub import Chat, ChatHub, VolunteerInfo, send

# What a frame may meet on its way that is answered with an error frame; anything else is a bug
# and ends the socket.
REFUSALS = (ChatRefused, FrameError, crypto.CryptoError)


def error_frame(exc: ChatRefused | FrameError | crypto.CryptoError) -> dict[str, Any]:
    """The error frame for a refusal: {t: "error", code, message: {nl, en}}; nothing changed.

    A CryptoError is answered generically, as a bad frame: its message is for the log of a
    developer, never for the page (crypto/errors.py)."""
    if isinstance(exc, crypto.CryptoError):
        return {"t": "error", "code": "bad-frame", "message": message("chat_bad_input")}
    return {"t": "error", "code": exc.code, "message": message(exc.key, **exc.values)}



class Connection(Protocol):
    """One page's socket as the handlers drive it: each message in, and the end.

    In the embedded default it is a session below, talking to this process's hub; in a
    cluster it is `cluster.EdgeConnection`, which passes both on to the node that leads."""

    async def message(self, data: str | bytes) -> bool: ...

    async def left(self) -> None: ...


class Slot(Protocol):
    """What a session needs of its socket's admission count (chat/limits.py)."""

    idle: bool

    def opened(self) -> None: ...


class Socket(Protocol):
    """What a session needs of its socket: aiohttp's websocket, or a socket on another node."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str) -> None: ...

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool: ...


class SeekerSession:
    """One help-seeker socket, where the hub runs: the chat it holds (none until `open` or `resume`)."""

    def __init__(self, app: web.Application, hub: ChatHub, ws: Any, tags: tuple[bytes, bytes],
                 slot: Slot) -> None:
        self.app, self.hub, self.ws, self.tags, self.slot = app, hub, ws, tags, slot
        self.bucket = TokenBucket(rate=5, burst=30)
        self.chat: Chat | None = None

    async def message(self, data: str | bytes) -> bool:
        """One message from the page; False once the socket is done."""
        try:
            if not self.bucket.take():
                raise ChatRefused("slow-down", "chat_slow_down")
            return await self.frame(parse(data, SEEKER_FRAMES))
        except REFUSALS as exc:
            await send(self.ws, error_frame(exc))
            return True

    async def left(self) -> None:
        if self.chat is not None:
            self.hub.seeker_left(self.chat, self.ws)

    async def frame(self, frame: dict[str, Any]) -> bool:
        """Hand one parsed frame to the hub; False once the socket is done."""
        hub, kind = self.hub, frame["t"]
        if kind in ("open", "resume"):
            if self.chat is not None:
                raise ChatRefused("already-open", "chat_already_open")
            if kind == "open":
                await self._admit(frame)
                self.chat = await hub.open_chat(self.ws, frame["pub"], self.tags)
            else:
                self.chat = await hub.resume_seeker(self.ws, frame)
                if self.chat is None:
                    return False
            self.slot.opened()
            return True
        chat = self.chat
        if chat is None or chat.id not in hub.chats:
            raise ChatRefused("no-chat", "chat_no_chat")
        if kind == "msg":
            await hub.seeker_message(chat, frame)
        elif kind == "mmsg":
            await hub.seeker_mentor_message(chat, frame)
        elif kind == "mentor-key":
            await hub.mentor_key(chat, frame)
        elif kind in ("handover-accept", "handover-decline"):
            await hub.handover_answer(chat, frame)
        elif kind == "end":
            await hub.end_chat(chat, "seeker")
            return False
        return True

    async def _admit(self, frame: dict[str, Any]) -> None:
        """The gate before a new chat: a blocked browser, and a wrong or spent proof-of-work."""
        if await self.app[GUARD].is_blocked(self.tags):
            raise ChatRefused("blocked", "chat_blocked")
        if not await self.app[POW].redeem(frame["challenge"], frame["nonce"], "chat"):
            raise ChatRefused("bad-pow", "chat_bad_pow")


class VolunteerSession:
    """One volunteer socket, where the hub runs. `message(None)` says the socket is connected."""

    def __init__(self, app: web.Application, hub: ChatHub, info: VolunteerInfo, ws: Any) -> None:
        self.app, self.hub, self.info, self.ws = app, hub, info, ws
        self.bucket = TokenBucket(rate=20, burst=60)

    async def message(self, data: str | bytes | None) -> bool:
        if data is None:
            await self._key_gate()
            await self.hub.volunteer_connected(self.info, self.ws)
            return True
        try:
            if not self.bucket.take():
                raise ChatRefused("slow-down", "chat_slow_down")
            await volunteer_frame(self.app, self.hub, self.info, parse(data, VOLUNTEER_FRAMES))
        except REFUSALS as exc:
            await send(self.ws, error_frame(exc))
        return True

    async def left(self) -> None:
        await self.hub.volunteer_left(self.info, self.ws)

    async def _key_gate(self) -> None:
        """The key gate's inputs (issue 17): this node's transparency log for the hub, and the account id
        its status is asked for (from the storage when the socket's handler did not pass it)."""
        log = self.app.get(LOG)
        self.hub.attach_log(log)
        if len(self.info.account_id) != 16 and STORAGE in self.app:
            volunteer = await self.app[STORAGE].volunteer_by_id(self.info.id)
            if volunteer is not None:
                self.info.account_id = volunteer.account_id


async def volunteer_frame(app: web.Application, hub: ChatHub, info: VolunteerInfo, frame: dict[str, Any]) -> None:
    kind = frame["t"]
    if kind == "available":
        await hub.set_available(info, frame["chat"])
    elif kind == "pause":
        await hub.set_paused(info, frame["on"])
    elif kind == "debrief":
        await hub.debrief(info)
    elif kind == "pickup":
        await hub.pick_up(info)
    elif kind == "accept":
        await hub.accept(info, frame)
    elif kind == "msg":
        await hub.volunteer_message(info, frame)
    elif kind == "end":
        await hub.end_chat(hub.chat_of(info, frame["chat"]), "volunteer")
    elif kind == "block":
        chat = hub.chat_of(info, frame["chat"])
        await app[GUARD].block(chat.address_tags, app[CONFIG].chat_block_minutes * 60)
        await hub.end_chat(chat, "blocked")
    elif kind == "wrapup":
        await hub.wrapup(info, frame)
    elif kind == "resume":
        await hub.resume_volunteer(info, frame["chats"])
    elif kind == "lmsg":
        await hub.link_message(info, frame)
    elif kind == "mentor-invite":
        await hub.invite_mentor(info, frame)
    elif kind == "mentor-accept":
        await hub.mentor_accept(info, frame)
    elif kind in ("mentor-decline", "mentor-end"):
        await hub.mentor_stop(info, frame, "declined" if kind == "mentor-decline" else "ended")
    elif kind == "handover":
        await hub.request_handover(info, frame)
    elif kind == "handover-cancel":
        await hub.cancel_handover(info, frame)
    elif kind == "accept-handover":
        await hub.accept_handover(info, frame)
