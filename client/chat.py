"""A help-seeker and a volunteer in a chat, speaking the real protocol over a real websocket.

They do what web/js/chat.js and web/js/workspace.js do. The steps that sign, check
and derive (`offer`, `accept_frame`, `checked_session`) and the frames
(`open_frame`, `sealed_frame`, `opened`) are plain functions, so that a client
driven by callbacks (bench/chat_relay.py) does the same protocol as these
awaiting ones.
"""

from __future__ import annotations

import json
from typing import Any

import crypto

from .transport import expect, solved_challenge

CHALLENGE_PATH = "/api/chat/challenge"
FRAME_TIMEOUT_S = 10


# -- message content and frames -------------------------------------------------------------------------


def content(text: str, kind: str = "text") -> bytes:
    """What a chat message seals: {"k": kind, "b": text} (kind "text", or "typing", or a link's kinds)."""
    return json.dumps({"k": kind, "b": text}, separators=(",", ":")).encode()


def link_content(kind: str, text: str) -> bytes:
    return content(text, kind)


def read_content(data: bytes) -> dict[str, Any]:
    return json.loads(data.decode())


def open_frame(solved: dict[str, str], keys: crypto.ChatKeyPair) -> dict[str, Any]:
    """The help-seeker's first frame: a solved challenge and the ephemeral public key for this chat."""
    return {"t": "open", "challenge": solved["challenge"], "nonce": solved["nonce"],
            "pub": crypto.b64encode(keys.public)}


def sealed_frame(kind: str, session: crypto.ChatSession, data: bytes, **ids: str) -> dict[str, Any]:
    """A "msg", "mmsg" or "lmsg" frame; `ids` names the chat or link where one socket carries several."""
    seq, ct = session.seal(data)
    return {"t": kind, **ids, "seq": seq, "ct": crypto.b64encode(ct)}


def opened(session: crypto.ChatSession, frame: dict[str, Any]) -> dict[str, Any]:
    """The content of a sealed frame; the session refuses a replayed, reordered or reflected one."""
    return read_content(session.open(frame["seq"], crypto.b64decode(frame["ct"])))


# -- the steps that sign, check and derive ----------------------------------------------------------------


def offer(identity: crypto.Identity, chat_id: bytes, peer: bytes) -> tuple[crypto.ChatSession, bytes, bytes]:
    """A volunteer's end of a chat: a fresh ephemeral key pair for this chat alone (forward secrecy),
    signed by the identity key so that the help-seeker's page can tell it from a key the server made.
    Returns the session, the public key and the signature."""
    mine = crypto.new_chat_keypair()
    sig = crypto.sign_chat_offer(identity, chat_id, peer, mine.public)
    return crypto.ChatSession.for_volunteer(chat_id, mine, peer), mine.public, sig


def accept_frame(identity: crypto.Identity, assigned: dict[str, Any]) -> tuple[bytes, crypto.ChatSession,
                                                                            dict[str, Any]]:
    """Answer an "assigned" frame: the chat id, the volunteer's session, and the "accept" frame to send."""
    chat_id = crypto.b64decode(assigned["chat"])
    session, pub, sig = offer(identity, chat_id, crypto.b64decode(assigned["peer"]))
    return chat_id, session, {"t": "accept", "chat": assigned["chat"], "pub": crypto.b64encode(pub),
                              "sig": crypto.b64encode(sig)}


def checked_session(frame: dict[str, Any], chat_id: bytes, keys: crypto.ChatKeyPair) -> crypto.ChatSession:
    """A help-seeker's end: check the volunteer's signed key in a "connected" (or "mentor-joined",
    "handed-over") frame before deriving anything, then derive the session for `chat_id`."""
    pub = crypto.b64decode(frame["pub"])
    crypto.verify_chat_offer(crypto.b64decode(frame["identity"]), chat_id, keys.public, pub,
                             crypto.b64decode(frame["sig"]))
    return crypto.ChatSession.for_seeker(chat_id, keys, pub)


# -- the parties -------------------------------------------------------------------------------------------


class Party:
    """One websocket, read one frame at a time."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def next(self, *types: str) -> dict[str, Any]:
        """The next frame of one of these types, or an error frame (skipping position updates and the like)."""
        while True:
            frame = await self.ws.receive_json(timeout=FRAME_TIMEOUT_S)
            if not types or frame["t"] in types or frame["t"] == "error":
                return frame


class Seeker(Party):
    def __init__(self, ws: Any) -> None:
        super().__init__(ws)
        self.keys = crypto.new_chat_keypair()
        self.chat_id: bytes | None = None
        self.resume: str | None = None
        self.session: crypto.ChatSession | None = None
        self.volunteer_name: str | None = None

    async def open(self, http: Any) -> dict[str, Any]:
        return await self.open_solved(await solved_challenge(http, CHALLENGE_PATH))

    async def open_solved(self, solved: dict[str, str]) -> dict[str, Any]:
        """Open the chat with a challenge solved beforehand; the "queued" frame, or the error."""
        await self.ws.send_json(open_frame(solved, self.keys))
        queued = await self.next("queued")
        if queued["t"] == "queued":
            self.chat_id = crypto.b64decode(queued["chat"])
            self.resume = queued["resume"]
        return queued

    async def connected(self) -> dict[str, Any]:
        frame = await self.next("connected")
        self.session = checked_session(frame, self.chat_id, self.keys)
        self.volunteer_name = frame["name"]
        return frame

    async def say(self, text: str) -> None:
        await self.ws.send_json(sealed_frame("msg", self.session, content(text)))

    async def hear(self) -> str:
        """The next text message (typing hints are skipped)."""
        while True:
            message = opened(self.session, await self.next("msg"))
            if message["k"] == "text":
                return message["b"]


class Volunteer(Party):
    def __init__(self, ws: Any, identity: crypto.Identity) -> None:
        super().__init__(ws)
        self.identity = identity
        self.sessions: dict[bytes, crypto.ChatSession] = {}

    async def available(self, on: bool = True) -> dict[str, Any]:
        await self.ws.send_json({"t": "available", "chat": on})
        return await self.next("queue")

    async def pick_up(self) -> bytes:
        await self.ws.send_json({"t": "pickup"})
        chat_id, session, accept = accept_frame(self.identity, expect(await self.next("assigned"), "assigned"))
        await self.ws.send_json(accept)
        self.sessions[chat_id] = session
        return chat_id

    async def say(self, chat_id: bytes, text: str) -> None:
        await self.ws.send_json(sealed_frame("msg", self.sessions[chat_id], content(text),
                                             chat=crypto.b64encode(chat_id)))

    async def hear(self) -> tuple[bytes, str]:
        """The next text message of any chat (typing hints are skipped)."""
        while True:
            frame = await self.next("msg")
            chat_id = crypto.b64decode(frame["chat"])
            message = opened(self.sessions[chat_id], frame)
            if message["k"] == "text":
                return chat_id, message["b"]
