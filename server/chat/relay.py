"""The relay: ciphertext between the two sides of a chat, and between two staff pages.

Every message carries a sequence number that must be the sender's next one, so the
relay refuses a replayed or reordered frame before it reaches the other page (which
would refuse it too: the number is in the AEAD associated data). Per direction a
short backlog is kept for a resume after a blip; while the receiver is away it may
grow to BACKLOG_MAX, and beyond that the chat ends rather than keep more. The relay
never reads a message: it sees base64 text and forwards it as it came.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .errors import ChatRefused
from .room import TO_SEEKER, TO_VOLUNTEER, Chat, Room, VolunteerInfo, chat_key, send

BACKLOG_KEEP = 16      # frames kept per direction while the receiver is connected (resume after a blip)
BACKLOG_MAX = 512      # frames kept per direction while the receiver is away; more ends the chat
INVITER_TO_JOINER, JOINER_TO_INVITER = TO_VOLUNTEER, TO_SEEKER  # a link's inviter plays the seeker's part

# Observer of relayed frames: (direction, frame text). Tests use it to prove the relay sees only ciphertext.
FrameObserver = Callable[[int, str], None]


@dataclass
class Link:
    """A staff link (crypto/PROTOCOL.md 10.11): ciphertext between two staff pages."""
    id: bytes
    inviter: int
    joiner: int
    purpose: str  # "read-along" | "handover"
    started: bool = True  # a read-along's link carries nothing until the mentor has accepted
    sent: dict[int, int] = field(default_factory=lambda: {INVITER_TO_JOINER: 0, JOINER_TO_INVITER: 0})
    key: str = ""

    def __post_init__(self) -> None:
        self.key = chat_key(self.id)


def in_order(last: int, seq: int) -> None:
    """A sender's next message is numbered one more than its last: anything else is refused."""
    if seq != last + 1:
        raise ChatRefused("out-of-order", "chat_out_of_order")


class Relay:
    def __init__(self, room: Room, observer: FrameObserver | None = None) -> None:
        self.room = room
        self.observer = observer
        self.links: dict[bytes, Link] = {}

    # -- the two sides of a chat ----------------------------------------------------------------

    async def seeker_message(self, chat: Chat, frame: dict[str, Any]) -> bool:
        """Relay a help-seeker's message; False if the chat must end (see `relay`)."""
        if not self.room.is_active(chat):
            raise ChatRefused("not-connected", "chat_no_volunteer_yet")
        return await self.relay(chat, TO_VOLUNTEER, frame["seq"], frame["ct"])

    async def volunteer_message(self, chat: Chat, frame: dict[str, Any]) -> bool:
        """Relay a volunteer's message in one of their chats; False if the chat must end."""
        return await self.relay(chat, TO_SEEKER, frame["seq"], frame["ct"])

    async def relay(self, chat: Chat, direction: int, seq: int, ciphertext: str) -> bool:
        """Forward one message and keep it in the backlog.

        False (and nothing sent) if the backlog overflowed while the receiver was away:
        the chat must end, which is the hub's to do."""
        in_order(chat.sent[direction], seq)
        chat.sent[direction] = seq
        if direction == TO_SEEKER:
            text = f'{{"t":"msg","seq":{seq},"ct":"{ciphertext}"}}'
            target = chat.seeker
        else:
            text = f'{{"t":"msg","chat":"{chat.key}","seq":{seq},"ct":"{ciphertext}"}}'
            target = self.room.socket_of(chat.volunteer_id)
        backlog = chat.backlog[direction]
        backlog.append((seq, text))
        away = (chat.seeker_away if direction == TO_SEEKER else chat.volunteer_away) is not None
        if len(backlog) > (BACKLOG_MAX if away else BACKLOG_KEEP):
            if away:
                return False
            backlog.popleft()
        if self.room.replica is not None:
            self.room.replica.appended(chat, direction, seq, text, len(backlog))
        await self.emit(direction, text, target)
        return True

    async def emit(self, direction: int, text: str, target: web.WebSocketResponse | None) -> None:
        """Send one relayed frame, as the observer sees it."""
        if self.observer is not None:
            self.observer(direction, text)
        await send(target, text)

    async def replay(self, chat: Chat, direction: int, ws: web.WebSocketResponse | None, received: int) -> None:
        """A page is back: the backlog's messages after the last one it received, in order."""
        for seq, text in list(chat.backlog[direction]):
            if seq > received:
                await send(ws, text)

    @staticmethod
    def forget(chat: Chat) -> None:
        chat.backlog[TO_SEEKER].clear()
        chat.backlog[TO_VOLUNTEER].clear()

    def restart(self, chat: Chat) -> None:
        """A new session on the same chat (a handover): numbering starts again, nothing old is kept."""
        chat.sent = {TO_VOLUNTEER: 0, TO_SEEKER: 0}
        self.forget(chat)

    # -- staff links ------------------------------------------------------------------------------

    def link_taken(self, link_id: bytes) -> bool:
        return link_id in self.links or link_id in self.room.chats

    def new_link(self, link_id: bytes, inviter: int, joiner: int, purpose: str, *, started: bool = True) -> Link:
        if self.link_taken(link_id):
            raise ChatRefused("link-taken", "chat_link_taken")
        link = Link(link_id, inviter, joiner, purpose, started)
        self.links[link_id] = link
        return link

    def drop_links(self, volunteer_id: int, purpose: str) -> None:
        for link in list(self.links.values()):
            if link.purpose == purpose and volunteer_id in (link.inviter, link.joiner):
                self.links.pop(link.id, None)

    async def link_message(self, info: VolunteerInfo, frame: dict[str, Any]) -> None:
        link = self.links.get(frame["link"])
        if link is None or info.id not in (link.inviter, link.joiner):
            raise ChatRefused("unknown-link", "chat_unknown_link")
        if not link.started:
            raise ChatRefused("not-yet", "chat_readalong_not_started")
        direction = INVITER_TO_JOINER if info.id == link.inviter else JOINER_TO_INVITER
        if link.purpose == "handover" and direction != INVITER_TO_JOINER:
            raise ChatRefused("one-way", "chat_link_one_way")
        in_order(link.sent[direction], frame["seq"])
        link.sent[direction] = frame["seq"]
        text = f'{{"t":"lmsg","link":"{link.key}","seq":{frame["seq"]},"ct":"{frame["ct"]}"}}'
        target = link.joiner if direction == INVITER_TO_JOINER else link.inviter
        await self.emit(direction, text, self.room.socket_of(target))
        if link.purpose == "handover":
            self.links.pop(link.id, None)  # the note is the link's one message
