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


# -- read-along and handover (crypto/PROTOCOL.md 10.11), as chat.js and workspace.js do them ------------


def link_content(kind: str, text: str) -> bytes:
    return json.dumps({"k": kind, "b": text}, separators=(",", ":")).encode()


class SeekerExtras:
    """What the help-seeker's page adds for a mentor reading along and for a handover."""

    def __init__(self, seeker: Seeker) -> None:
        self.s = seeker
        self.mentor_keys: crypto.ChatKeyPair | None = None
        self.mentor_session: crypto.ChatSession | None = None
        self.next_keys: crypto.ChatKeyPair | None = None

    async def give_mentor_key(self) -> None:
        frame = await self.s.next("mentor-request")
        assert frame["t"] == "mentor-request", frame
        self.mentor_keys = crypto.new_chat_keypair()
        await self.s.ws.send_json({"t": "mentor-key", "pub": crypto.b64encode(self.mentor_keys.public)})

    async def mentor_joined(self) -> dict[str, Any]:
        frame = await self.s.next("mentor-joined")
        mchat = crypto.b64decode(frame["chat"])
        assert self.mentor_keys is not None
        crypto.verify_chat_offer(crypto.b64decode(frame["identity"]), mchat, self.mentor_keys.public,
                                 crypto.b64decode(frame["pub"]), crypto.b64decode(frame["sig"]))
        self.mentor_session = crypto.ChatSession.for_seeker(mchat, self.mentor_keys, crypto.b64decode(frame["pub"]))
        return frame

    async def say(self, text: str) -> None:
        """Say something to the volunteer, sealed again for the mentor while one reads along."""
        await self.s.say(text)
        if self.mentor_session is not None:
            seq, ct = self.mentor_session.seal(content(text))
            await self.s.ws.send_json({"t": "mmsg", "seq": seq, "ct": crypto.b64encode(ct)})

    async def answer_handover(self, accept: bool, history: bool = False) -> dict[str, Any]:
        ask = await self.s.next("handover-ask")
        assert ask["t"] == "handover-ask", ask
        if accept:
            self.next_keys = crypto.new_chat_keypair()
            await self.s.ws.send_json({"t": "handover-accept", "pub": crypto.b64encode(self.next_keys.public),
                                       "history": history})
        else:
            await self.s.ws.send_json({"t": "handover-decline"})
        return ask

    async def handed_over(self) -> dict[str, Any]:
        frame = await self.s.next("handed-over")
        new_id = crypto.b64decode(frame["chat"])
        assert self.next_keys is not None
        crypto.verify_chat_offer(crypto.b64decode(frame["identity"]), new_id, self.next_keys.public,
                                 crypto.b64decode(frame["pub"]), crypto.b64decode(frame["sig"]))
        self.s.session.wipe()
        self.s.chat_id = new_id
        self.s.session = crypto.ChatSession.for_seeker(new_id, self.next_keys, crypto.b64decode(frame["pub"]))
        self.s.keys, self.next_keys = self.next_keys, None
        return frame


class Staff(Volunteer):
    """A volunteer, mentor or partner page with staff links."""

    def __init__(self, ws: Any, identity: crypto.Identity) -> None:
        super().__init__(ws, identity)
        self.links: dict[bytes, crypto.ChatSession] = {}
        self.pending: dict[bytes, crypto.ChatKeyPair] = {}
        self.watching: dict[bytes, crypto.ChatSession] = {}  # a mentor's read-only session with the help-seeker

    def _invite_link(self) -> tuple[bytes, crypto.ChatKeyPair, bytes]:
        link_id = crypto.new_chat_id()
        keys = crypto.new_chat_keypair()
        sig = crypto.sign_link_key(self.identity, link_id, crypto.LINK_INVITER, keys.public)
        self.pending[link_id] = keys
        return link_id, keys, sig

    async def invite_mentor(self, chat_id: bytes, mentor_id: int) -> bytes:
        link_id, keys, sig = self._invite_link()
        await self.ws.send_json({"t": "mentor-invite", "chat": crypto.b64encode(chat_id), "mentor": mentor_id,
                                 "link": crypto.b64encode(link_id), "pub": crypto.b64encode(keys.public),
                                 "sig": crypto.b64encode(sig)})
        return link_id

    async def hand_over(self, chat_id: bytes, target: str) -> bytes:
        link_id, keys, sig = self._invite_link()
        await self.ws.send_json({"t": "handover", "chat": crypto.b64encode(chat_id), "target": target,
                                 "link": crypto.b64encode(link_id), "pub": crypto.b64encode(keys.public),
                                 "sig": crypto.b64encode(sig)})
        return link_id

    async def joiner_arrived(self, frame_type: str) -> dict[str, Any]:
        """The inviter checks the joiner's signed link key and opens its end of the link."""
        frame = await self.next(frame_type)
        assert frame["t"] == frame_type, frame
        link_id = crypto.b64decode(frame["link"])
        keys = self.pending.pop(link_id)
        joiner_pub = crypto.b64decode(frame["pub"])
        crypto.verify_link_key(crypto.b64decode(frame["identity"]), link_id, crypto.LINK_JOINER, joiner_pub,
                               keys.public, crypto.b64decode(frame["sig"]))
        self.links[link_id] = crypto.ChatSession.for_seeker(link_id, keys, joiner_pub)
        return frame

    def _join(self, link_id: bytes, inviter: dict[str, Any]) -> tuple[bytes, bytes]:
        inviter_pub = crypto.b64decode(inviter["pub"])
        crypto.verify_link_key(crypto.b64decode(inviter["identity"]), link_id, crypto.LINK_INVITER, inviter_pub,
                               None, crypto.b64decode(inviter["sig"]))
        keys = crypto.new_chat_keypair()
        sig = crypto.sign_link_key(self.identity, link_id, crypto.LINK_JOINER, keys.public, inviter_pub)
        self.links[link_id] = crypto.ChatSession.for_volunteer(link_id, keys, inviter_pub)
        return keys.public, sig

    async def accept_readalong(self) -> dict[str, Any]:
        ask = await self.next("mentor-ask")
        assert ask["t"] == "mentor-ask", ask
        link_id, mchat = crypto.b64decode(ask["link"]), crypto.b64decode(ask["chat"])
        seeker_pub = crypto.b64decode(ask["seeker"])
        lpub, lsig = self._join(link_id, ask)
        mine = crypto.new_chat_keypair()
        csig = crypto.sign_chat_offer(self.identity, mchat, seeker_pub, mine.public)
        self.watching[link_id] = crypto.ChatSession.for_volunteer(mchat, mine, seeker_pub)
        await self.ws.send_json({"t": "mentor-accept", "link": ask["link"], "cpub": crypto.b64encode(mine.public),
                                 "csig": crypto.b64encode(csig), "pub": crypto.b64encode(lpub),
                                 "sig": crypto.b64encode(lsig)})
        return ask

    async def take_handover(self) -> tuple[bytes, dict[str, Any]]:
        await self.ws.send_json({"t": "pickup"})
        assigned = await self.next("assigned")
        assert assigned["t"] == "assigned" and "handover" in assigned, assigned
        chat_id, peer = crypto.b64decode(assigned["chat"]), crypto.b64decode(assigned["peer"])
        lpub, lsig = self._join(crypto.b64decode(assigned["handover"]["link"]), assigned["handover"])
        mine = crypto.new_chat_keypair()
        sig = crypto.sign_chat_offer(self.identity, chat_id, peer, mine.public)
        self.sessions[chat_id] = crypto.ChatSession.for_volunteer(chat_id, mine, peer)
        await self.ws.send_json({"t": "accept-handover", "chat": assigned["chat"], "pub": crypto.b64encode(mine.public),
                                 "sig": crypto.b64encode(sig), "lpub": crypto.b64encode(lpub),
                                 "lsig": crypto.b64encode(lsig)})
        return chat_id, assigned

    async def link_say(self, link_id: bytes, kind: str, text: str) -> None:
        seq, ct = self.links[link_id].seal(link_content(kind, text))
        await self.ws.send_json({"t": "lmsg", "link": crypto.b64encode(link_id), "seq": seq,
                                 "ct": crypto.b64encode(ct)})

    async def link_hear(self) -> tuple[bytes, dict[str, Any]]:
        frame = await self.next("lmsg")
        assert frame["t"] == "lmsg", frame
        link_id = crypto.b64decode(frame["link"])
        return link_id, read_content(self.links[link_id].open(frame["seq"], crypto.b64decode(frame["ct"])))

    async def watch_hear(self) -> str:
        frame = await self.next("mmsg")
        assert frame["t"] == "mmsg", frame
        session = self.watching[crypto.b64decode(frame["link"])]
        return read_content(session.open(frame["seq"], crypto.b64decode(frame["ct"])))["b"]
