"""A help-seeker and a volunteer in Python, speaking the real chat protocol over real websockets.

They do what web/js/chat.js and web/js/workspace.js do, with the crypto facade
(held to the same bytes as crypto.js by tests/vectors/). Integration tests and
bench/chat_relay.py use them.
"""

from __future__ import annotations

import json
from typing import Any

import crypto


def content(text: str) -> bytes:
    return json.dumps({"k": "text", "b": text}, separators=(",", ":")).encode()


def read_content(data: bytes) -> dict[str, Any]:
    return json.loads(data.decode())


class Seeker:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.keys = crypto.new_chat_keypair()
        self.chat_id: bytes | None = None
        self.resume: str | None = None
        self.session: crypto.ChatSession | None = None
        self.volunteer_name: str | None = None

    async def next(self, *types: str) -> dict[str, Any]:
        """The next frame of one of these types (skipping position updates and the like)."""
        while True:
            frame = await self.ws.receive_json(timeout=10)
            if not types or frame["t"] in types or frame["t"] == "error":
                return frame

    async def open(self, http: Any) -> dict[str, Any]:
        challenge = await (await http.post("/api/chat/challenge")).json()
        nonce = crypto.pow_solve(crypto.b64decode(challenge["challenge"]), challenge["bits"])
        await self.ws.send_json({"t": "open", "challenge": challenge["challenge"],
                                 "nonce": crypto.b64encode(nonce), "pub": crypto.b64encode(self.keys.public)})
        queued = await self.next("queued")
        if queued["t"] == "queued":
            self.chat_id = crypto.b64decode(queued["chat"])
            self.resume = queued["resume"]
        return queued

    async def connected(self) -> dict[str, Any]:
        frame = await self.next("connected")
        crypto.verify_chat_offer(crypto.b64decode(frame["identity"]), self.chat_id, self.keys.public,
                                 crypto.b64decode(frame["pub"]), crypto.b64decode(frame["sig"]))
        self.session = crypto.ChatSession.for_seeker(self.chat_id, self.keys, crypto.b64decode(frame["pub"]))
        self.volunteer_name = frame["name"]
        return frame

    async def say(self, text: str) -> None:
        seq, ct = self.session.seal(content(text))
        await self.ws.send_json({"t": "msg", "seq": seq, "ct": crypto.b64encode(ct)})

    async def hear(self) -> str:
        """The next text message (typing hints are skipped)."""
        while True:
            frame = await self.next("msg")
            message = read_content(self.session.open(frame["seq"], crypto.b64decode(frame["ct"])))
            if message["k"] == "text":
                return message["b"]


class Volunteer:
    def __init__(self, ws: Any, identity: crypto.Identity) -> None:
        self.ws = ws
        self.identity = identity
        self.sessions: dict[bytes, crypto.ChatSession] = {}

    async def next(self, *types: str) -> dict[str, Any]:
        while True:
            frame = await self.ws.receive_json(timeout=10)
            if not types or frame["t"] in types or frame["t"] == "error":
                return frame

    async def available(self, on: bool = True) -> dict[str, Any]:
        await self.ws.send_json({"t": "available", "chat": on})
        return await self.next("queue")

    async def pick_up(self) -> bytes:
        await self.ws.send_json({"t": "pickup"})
        assigned = await self.next("assigned")
        if assigned["t"] != "assigned":
            raise AssertionError(assigned)
        chat_id = crypto.b64decode(assigned["chat"])
        peer = crypto.b64decode(assigned["peer"])
        mine = crypto.new_chat_keypair()
        sig = crypto.sign_chat_offer(self.identity, chat_id, peer, mine.public)
        await self.ws.send_json({"t": "accept", "chat": assigned["chat"], "pub": crypto.b64encode(mine.public),
                                 "sig": crypto.b64encode(sig)})
        self.sessions[chat_id] = crypto.ChatSession.for_volunteer(chat_id, mine, peer)
        return chat_id

    async def say(self, chat_id: bytes, text: str) -> None:
        seq, ct = self.sessions[chat_id].seal(content(text))
        await self.ws.send_json({"t": "msg", "chat": crypto.b64encode(chat_id), "seq": seq,
                                 "ct": crypto.b64encode(ct)})

    async def hear(self) -> tuple[bytes, str]:
        """The next text message of any chat (typing hints are skipped)."""
        while True:
            frame = await self.next("msg")
            chat_id = crypto.b64decode(frame["chat"])
            message = read_content(self.sessions[chat_id].open(frame["seq"], crypto.b64decode(frame["ct"])))
            if message["k"] == "text":
                return chat_id, message["b"]
