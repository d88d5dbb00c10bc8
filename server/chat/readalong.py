"""Read-along (crypto/PROTOCOL.md 10.11): a mentor reads a chat with the help-seeker's consent.

The volunteer invites a mentor who is online, over a staff link whose key the
volunteer's page signed. The help-seeker's page makes a key for the mentor's own
session (without it nothing can be read along) and from then on seals every message
a second time for the mentor; the server relays those copies as it relays the chat,
in order, and keeps none. A read-along ends with the chat, with a handover, when
either staff page goes away (its session keys cannot resume), or when asked.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import crypto

from .assignment import with_proof
from .errors import ChatRefused
from .relay import Link, Relay, in_order
from .room import TO_VOLUNTEER, Chat, Room, VolunteerInfo, chat_key, send


@dataclass
class ReadAlong:
    chat: Chat
    mentor_id: int
    link: Link
    inviter_pub: bytes
    inviter_sig: bytes
    mchat_id: bytes | None = None
    seeker_sent: int = 0

    @property
    def active(self) -> bool:
        """The mentor accepted: the link carries copies and hints from now on."""
        return self.link.started


class ReadAlongs:
    def __init__(self, room: Room, relay: Relay) -> None:
        self.room = room
        self.relay = relay
        self.by_link: dict[bytes, ReadAlong] = {}
        self.by_chat: dict[bytes, ReadAlong] = {}

    async def invite(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        chat = self.room.active_chat(info, frame["chat"])
        mentor = self.room.online(frame["mentor"])
        if mentor is None or mentor.role != "mentor" or mentor.id == info.id:
            raise ChatRefused("no-mentor", "chat_mentor_offline")
        if chat.id in self.by_chat:
            raise ChatRefused("already-reading", "chat_already_reading")
        link = self.relay.new_link(frame["link"], info.id, mentor.id, "read-along", started=False)
        readalong = ReadAlong(chat, mentor.id, link, frame["pub"], frame["sig"])
        self.by_chat[chat.id] = readalong
        self.by_link[link.id] = readalong
        # The help-seeker's page makes a key for the mentor's session: it cannot be read along without it.
        await send(chat.seeker, {"t": "mentor-request"})
        await send(info.ws, {"t": "mentor-asked", "chat": chat.key, "link": link.key})

    async def mentor_key(self, chat: Chat, frame: dict[str, Any]) -> None:
        readalong = self.by_chat.get(chat.id)
        if readalong is None or readalong.mchat_id is not None:
            raise ChatRefused("no-request", "chat_no_mentor_request")
        mchat_id = secrets.token_bytes(crypto.CHAT_ID_BYTES)
        volunteer = self.room.volunteers[readalong.link.inviter]
        # With the key proof of the inviting volunteer's identity key: the mentor's page checks it before it
        # trusts the link key signed with it (PROTOCOL.md 10.11).
        try:
            ask = with_proof(self.room, volunteer, {
                "t": "mentor-ask", "link": readalong.link.key, "chat": chat_key(mchat_id),
                "seeker": crypto.b64encode(frame["pub"]), "from": volunteer.name,
                "identity": crypto.b64encode(volunteer.ed25519_public),
                "pub": crypto.b64encode(readalong.inviter_pub), "sig": crypto.b64encode(readalong.inviter_sig)})
        except ChatRefused:
            # The volunteer's key lost its proof meanwhile (a race with a revocation): nobody is asked.
            await self.end(readalong, "keys-not-ready")
            return
        readalong.mchat_id = mchat_id
        await send(self.room.socket_of(readalong.mentor_id), ask)

    def _of(self, info: VolunteerInfo, link_id: bytes) -> ReadAlong:
        readalong = self.by_link.get(link_id)
        if readalong is None or info.id not in (readalong.mentor_id, readalong.link.inviter):
            raise ChatRefused("unknown-link", "chat_unknown_readalong")
        return readalong

    async def accept(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        readalong = self._of(info, frame["link"])
        if info.id != readalong.mentor_id or readalong.active or readalong.mchat_id is None:
            raise ChatRefused("not-asked", "chat_not_asked")
        chat = readalong.chat
        # With the key proof of the mentor's identity key: the help-seeker's page seals for nobody it cannot check.
        joined = with_proof(self.room, info, {
            "t": "mentor-joined", "chat": chat_key(readalong.mchat_id), "name": info.name,
            "identity": crypto.b64encode(info.ed25519_public),
            "pub": crypto.b64encode(frame["cpub"]), "sig": crypto.b64encode(frame["csig"])})
        # The same proof for the volunteer's page, which checks it before it seals a copy to the mentor's link.
        linked = with_proof(self.room, info, {
            "t": "mentor-linked", "chat": chat.key, "link": readalong.link.key, "name": info.name,
            "identity": crypto.b64encode(info.ed25519_public),
            "pub": crypto.b64encode(frame["pub"]), "sig": crypto.b64encode(frame["sig"])})
        readalong.link.started = True
        await send(chat.seeker, joined)
        await send(self.room.socket_of(readalong.link.inviter), linked)

    async def stop(self, info: VolunteerInfo, frame: dict[str, Any], reason: str) -> None:
        await self.end(self._of(info, frame["link"]), reason)

    async def end(self, readalong: ReadAlong, reason: str) -> None:
        if self.by_link.pop(readalong.link.id, None) is None:
            return
        self.relay.links.pop(readalong.link.id, None)
        chat = readalong.chat
        self.by_chat.pop(chat.id, None)
        await send(chat.seeker, {"t": "mentor-ended"})
        frame = {"t": "mentor-ended", "chat": chat.key, "link": readalong.link.key, "reason": reason}
        for volunteer_id in (readalong.link.inviter, readalong.mentor_id):
            await send(self.room.socket_of(volunteer_id), frame)

    async def end_for(self, chat: Chat, reason: str) -> None:
        """The chat ends or moves on (a handover): its read-along ends with it."""
        readalong = self.by_chat.get(chat.id)
        if readalong is not None:
            await self.end(readalong, reason)

    async def staff_gone(self, volunteer_id: int) -> None:
        """A staff page went away: its read-alongs end (their sessions cannot resume)."""
        for readalong in list(self.by_link.values()):
            if volunteer_id in (readalong.mentor_id, readalong.link.inviter):
                await self.end(readalong, "left")

    async def seeker_message(self, chat: Chat, frame: dict[str, Any]) -> None:
        """The help-seeker's page sealed a message again, for the mentor's session."""
        readalong = self.by_chat.get(chat.id)
        if readalong is None or not readalong.active:
            raise ChatRefused("no-mentor", "chat_no_mentor_reading")
        in_order(readalong.seeker_sent, frame["seq"])
        readalong.seeker_sent = frame["seq"]
        text = f'{{"t":"mmsg","link":"{readalong.link.key}","seq":{frame["seq"]},"ct":"{frame["ct"]}"}}'
        await self.relay.emit(TO_VOLUNTEER, text, self.room.socket_of(readalong.mentor_id))
