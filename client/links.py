"""Read-along and handover (crypto/PROTOCOL.md 10.11), as web/js/chat.js and workspace.js do them.

A staff link is a chat between two staff pages: the inviter signs a link key,
the joiner checks it and answers with its own, signed over both. A mentor who
reads along gets a session of their own with the help-seeker; a handover gives
the help-seeker a fresh chat with the new volunteer.
"""

from __future__ import annotations

from typing import Any

import crypto

from .chat import Seeker, Volunteer, accept_frame, checked_session, content, link_content, offer, opened, sealed_frame
from .transport import UnexpectedAnswer, expect


class SeekerExtras:
    """What the help-seeker's page adds for a mentor reading along and for a handover."""

    def __init__(self, seeker: Seeker) -> None:
        self.s = seeker
        self.mentor_keys: crypto.ChatKeyPair | None = None
        self.mentor_session: crypto.ChatSession | None = None
        self.next_keys: crypto.ChatKeyPair | None = None

    async def give_mentor_key(self) -> None:
        expect(await self.s.next("mentor-request"), "mentor-request")
        self.mentor_keys = crypto.new_chat_keypair()
        await self.s.ws.send_json({"t": "mentor-key", "pub": crypto.b64encode(self.mentor_keys.public)})

    async def mentor_joined(self) -> dict[str, Any]:
        frame = await self.s.next("mentor-joined")
        if self.mentor_keys is None:
            raise UnexpectedAnswer(frame)
        self.mentor_session = checked_session(frame, crypto.b64decode(frame["chat"]), self.mentor_keys)
        return frame

    async def say(self, text: str) -> None:
        """Say something to the volunteer, sealed again for the mentor while one reads along."""
        await self.s.say(text)
        if self.mentor_session is not None:
            await self.s.ws.send_json(sealed_frame("mmsg", self.mentor_session, content(text)))

    async def answer_handover(self, accept: bool, history: bool = False) -> dict[str, Any]:
        ask = expect(await self.s.next("handover-ask"), "handover-ask")
        if accept:
            self.next_keys = crypto.new_chat_keypair()
            await self.s.ws.send_json({"t": "handover-accept", "pub": crypto.b64encode(self.next_keys.public),
                                       "history": history})
        else:
            await self.s.ws.send_json({"t": "handover-decline"})
        return ask

    async def handed_over(self) -> dict[str, Any]:
        frame = await self.s.next("handed-over")
        if self.next_keys is None:
            raise UnexpectedAnswer(frame)
        new_id = crypto.b64decode(frame["chat"])
        session = checked_session(frame, new_id, self.next_keys)
        self.s.session.wipe()
        self.s.chat_id, self.s.session = new_id, session
        self.s.keys, self.next_keys = self.next_keys, None
        return frame


class Staff(Volunteer):
    """A volunteer, mentor or partner page with staff links."""

    def __init__(self, ws: Any, identity: crypto.Identity) -> None:
        super().__init__(ws, identity)
        self.links: dict[bytes, crypto.ChatSession] = {}
        self.pending: dict[bytes, crypto.ChatKeyPair] = {}
        self.watching: dict[bytes, crypto.ChatSession] = {}  # a mentor's read-only session with the help-seeker

    def _invite_link(self) -> dict[str, str]:
        """A new link and the inviter's signed key for it, as the fields of the inviting frame."""
        link_id = crypto.new_chat_id()
        keys = crypto.new_chat_keypair()
        sig = crypto.sign_link_key(self.identity, link_id, crypto.LINK_INVITER, keys.public)
        self.pending[link_id] = keys
        return {"link": crypto.b64encode(link_id), "pub": crypto.b64encode(keys.public), "sig": crypto.b64encode(sig)}

    async def invite_mentor(self, chat_id: bytes, mentor_id: int) -> bytes:
        link = self._invite_link()
        await self.ws.send_json({"t": "mentor-invite", "chat": crypto.b64encode(chat_id), "mentor": mentor_id, **link})
        return crypto.b64decode(link["link"])

    async def hand_over(self, chat_id: bytes, target: str) -> bytes:
        link = self._invite_link()
        await self.ws.send_json({"t": "handover", "chat": crypto.b64encode(chat_id), "target": target, **link})
        return crypto.b64decode(link["link"])

    async def joiner_arrived(self, frame_type: str) -> dict[str, Any]:
        """The inviter checks the joiner's signed link key and opens its end of the link."""
        frame = expect(await self.next(frame_type), frame_type)
        link_id = crypto.b64decode(frame["link"])
        keys = self.pending.pop(link_id)
        joiner_pub = crypto.b64decode(frame["pub"])
        crypto.verify_link_key(crypto.b64decode(frame["identity"]), link_id, crypto.LINK_JOINER, joiner_pub,
                               keys.public, crypto.b64decode(frame["sig"]))
        self.links[link_id] = crypto.ChatSession.for_seeker(link_id, keys, joiner_pub)
        return frame

    def _join(self, link_id: bytes, inviter: dict[str, Any]) -> dict[str, str]:
        """Check the inviter's signed link key, answer with ours (signed over both): the joining fields."""
        inviter_pub = crypto.b64decode(inviter["pub"])
        crypto.verify_link_key(crypto.b64decode(inviter["identity"]), link_id, crypto.LINK_INVITER, inviter_pub,
                               None, crypto.b64decode(inviter["sig"]))
        keys = crypto.new_chat_keypair()
        sig = crypto.sign_link_key(self.identity, link_id, crypto.LINK_JOINER, keys.public, inviter_pub)
        self.links[link_id] = crypto.ChatSession.for_volunteer(link_id, keys, inviter_pub)
        return {"pub": crypto.b64encode(keys.public), "sig": crypto.b64encode(sig)}

    async def accept_readalong(self) -> dict[str, Any]:
        ask = expect(await self.next("mentor-ask"), "mentor-ask")
        link_id, mchat = crypto.b64decode(ask["link"]), crypto.b64decode(ask["chat"])
        joined = self._join(link_id, ask)
        session, cpub, csig = offer(self.identity, mchat, crypto.b64decode(ask["seeker"]))
        self.watching[link_id] = session
        await self.ws.send_json({"t": "mentor-accept", "link": ask["link"], "cpub": crypto.b64encode(cpub),
                                 "csig": crypto.b64encode(csig), **joined})
        return ask

    async def take_handover(self) -> tuple[bytes, dict[str, Any]]:
        await self.ws.send_json({"t": "pickup"})
        assigned = expect(await self.next("assigned"), "assigned")
        if "handover" not in assigned:
            raise UnexpectedAnswer(assigned)
        joined = self._join(crypto.b64decode(assigned["handover"]["link"]), assigned["handover"])
        chat_id, session, accept = accept_frame(self.identity, assigned)
        self.sessions[chat_id] = session
        await self.ws.send_json({**accept, "t": "accept-handover", "lpub": joined["pub"], "lsig": joined["sig"]})
        return chat_id, assigned

    async def link_say(self, link_id: bytes, kind: str, text: str) -> None:
        await self.ws.send_json(sealed_frame("lmsg", self.links[link_id], link_content(kind, text),
                                             link=crypto.b64encode(link_id)))

    async def link_hear(self) -> tuple[bytes, dict[str, Any]]:
        frame = expect(await self.next("lmsg"), "lmsg")
        link_id = crypto.b64decode(frame["link"])
        return link_id, opened(self.links[link_id], frame)

    async def watch_hear(self) -> str:
        frame = expect(await self.next("mmsg"), "mmsg")
        return opened(self.watching[crypto.b64decode(frame["link"])], frame)["b"]
