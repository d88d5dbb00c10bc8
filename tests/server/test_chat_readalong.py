"""Read-along on its own (server/chat/readalong.py, crypto/PROTOCOL.md 10.11).

A volunteer (Sanne) invites a mentor (Mila); the help-seeker's page makes the mentor's
key; the mentor accepts; the help-seeker's copies reach only the mentor, in order.
Over real websockets with the real protocol this is test_chat_handover.py's first part.
"""

from __future__ import annotations

from typing import Any

import pytest

import crypto
from server.chat.errors import ChatRefused
from server.chat.readalong import ReadAlongs
from server.chat.relay import Relay
from server.chat.room import TO_VOLUNTEER, Room
from tests.server.test_chat_room import active_chat, online, refused, room, storage  # noqa: F401 (fixtures)

LINK = bytes([7]) * 16
CT = crypto.b64encode(bytes(272))


class Setting:
    def __init__(self, room: Room) -> None:
        self.seen: list[tuple[int, str]] = []
        self.relay = Relay(room, lambda d, t: self.seen.append((d, t)))
        self.part = ReadAlongs(room, self.relay)
        self.sanne, self.sanne_page = online(room, 1)
        self.mila, self.mila_page = online(room, 2, "Mila", "mentor")
        self.chat, self.seeker_page = active_chat(room, self.sanne)

    def invite(self, **more: Any) -> dict[str, Any]:
        return {"t": "mentor-invite", "chat": self.chat.id, "mentor": self.mila.id, "link": LINK,
                "pub": bytes([1]) * 32, "sig": bytes([2]) * 64, **more}

    async def reading(self) -> None:
        """Invited, keyed and accepted; every page's frames so far taken."""
        await self.part.invite(self.sanne, self.invite())
        await self.part.mentor_key(self.chat, {"t": "mentor-key", "pub": bytes([3]) * 32})
        await self.part.accept(self.mila, accept())
        for page in (self.sanne_page, self.mila_page, self.seeker_page):
            page.take()


def accept() -> dict[str, Any]:
    return {"t": "mentor-accept", "link": LINK, "cpub": bytes([4]) * 32, "csig": bytes([5]) * 64,
            "pub": bytes([6]) * 32, "sig": bytes([7]) * 64}


def b64(data: bytes) -> str:
    return crypto.b64encode(data)


async def test_invited_keyed_accepted_then_the_copies_reach_the_mentor_only(room: Room) -> None:
    s = Setting(room)
    await s.part.invite(s.sanne, s.invite())
    assert s.seeker_page.take() == [{"t": "mentor-request"}]
    assert s.sanne_page.take() == [{"t": "mentor-asked", "chat": s.chat.key, "link": b64(LINK)}]
    with refused("not-yet", "chat_readalong_not_started"):  # nothing goes over the link before the mentor accepts
        await s.relay.link_message(s.sanne, {"t": "lmsg", "link": LINK, "seq": 1, "ct": CT})

    await s.part.mentor_key(s.chat, {"t": "mentor-key", "pub": bytes([3]) * 32})
    [ask] = s.mila_page.take()
    readalong = s.part.by_link[LINK]
    assert ask == {"t": "mentor-ask", "link": b64(LINK), "chat": b64(readalong.mchat_id or b""),
                   "seeker": b64(bytes([3]) * 32), "from": "Sanne", "identity": b64(s.sanne.ed25519_public),
                   "pub": b64(bytes([1]) * 32), "sig": b64(bytes([2]) * 64)}
    with refused("no-request", "chat_no_mentor_request"):
        await s.part.mentor_key(s.chat, {"t": "mentor-key", "pub": bytes([3]) * 32})

    with refused("not-asked", "chat_not_asked"):
        await s.part.accept(s.sanne, accept())  # only the mentor accepts
    await s.part.accept(s.mila, accept())
    assert readalong.active
    assert s.seeker_page.take() == [{"t": "mentor-joined", "chat": b64(readalong.mchat_id or b""), "name": "Mila",
                                     "identity": b64(s.mila.ed25519_public), "pub": b64(bytes([4]) * 32),
                                     "sig": b64(bytes([5]) * 64)}]
    assert s.sanne_page.take() == [{"t": "mentor-linked", "chat": s.chat.key, "link": b64(LINK), "name": "Mila",
                                    "identity": b64(s.mila.ed25519_public), "pub": b64(bytes([6]) * 32),
                                    "sig": b64(bytes([7]) * 64)}]

    await s.part.seeker_message(s.chat, {"t": "mmsg", "seq": 1, "ct": CT})
    assert s.mila_page.texts == [f'{{"t":"mmsg","link":"{b64(LINK)}","seq":1,"ct":"{CT}"}}']
    assert s.seen == [(TO_VOLUNTEER, s.mila_page.texts[0])] and not s.sanne_page.texts
    with refused("out-of-order", "chat_out_of_order"):
        await s.part.seeker_message(s.chat, {"t": "mmsg", "seq": 1, "ct": CT})


@pytest.mark.parametrize("mentor", ["offline", "not-a-mentor", "self"])
async def test_only_an_online_mentor_other_than_oneself_is_invited(room: Room, mentor: str) -> None:
    s = Setting(room)
    who = {"offline": 99, "not-a-mentor": online(room, 3, "Mark")[0].id, "self": s.sanne.id}[mentor]
    if mentor == "self":
        s.sanne.role = "mentor"
    with refused("no-mentor", "chat_mentor_offline"):
        await s.part.invite(s.sanne, s.invite(mentor=who))
    assert not s.part.by_link and not s.relay.links and not s.seeker_page.texts


async def test_one_mentor_at_a_time_a_fresh_link_id_and_a_connected_help_seeker(room: Room) -> None:
    s = Setting(room)
    await s.part.invite(s.sanne, s.invite())
    with refused("already-reading", "chat_already_reading"):
        await s.part.invite(s.sanne, s.invite(link=bytes([8]) * 16))
    other, _ = active_chat(room, s.sanne)
    with refused("link-taken", "chat_link_taken"):
        await s.part.invite(s.sanne, s.invite(chat=other.id))  # the link id is in use
    other.seeker = None
    with refused("not-now", "chat_seeker_not_connected"):
        await s.part.invite(s.sanne, s.invite(chat=other.id, link=bytes([8]) * 16))


async def test_copies_before_the_mentor_accepted_and_strangers_are_refused(room: Room) -> None:
    s = Setting(room)
    with refused("no-mentor", "chat_no_mentor_reading"):
        await s.part.seeker_message(s.chat, {"t": "mmsg", "seq": 1, "ct": CT})
    await s.part.invite(s.sanne, s.invite())
    with pytest.raises(ChatRefused):
        await s.part.seeker_message(s.chat, {"t": "mmsg", "seq": 1, "ct": CT})
    mark, _ = online(room, 3, "Mark")
    for call in (s.part.accept(mark, accept()), s.part.stop(mark, {"t": "mentor-end", "link": LINK}, "ended")):
        with refused("unknown-link", "chat_unknown_readalong"):
            await call


async def ended_everywhere(s: Setting, reason: str) -> None:
    assert s.seeker_page.take() == [{"t": "mentor-ended"}]
    frame = {"t": "mentor-ended", "chat": s.chat.key, "link": b64(LINK), "reason": reason}
    assert s.sanne_page.take() == [frame] and s.mila_page.take() == [frame]
    assert not s.part.by_link and not s.part.by_chat and LINK not in s.relay.links


@pytest.mark.parametrize("how", ["declined", "ended", "chat-ended", "left"])
async def test_a_read_along_ends_for_all_three_pages_and_leaves_nothing(room: Room, how: str) -> None:
    s = Setting(room)
    await s.reading()
    if how in ("declined", "ended"):
        await s.part.stop(s.mila if how == "declined" else s.sanne, {"t": "mentor-end", "link": LINK}, how)
    elif how == "chat-ended":
        await s.part.end_for(s.chat, how)
    else:
        await s.part.staff_gone(s.mila.id)
    await ended_everywhere(s, how)
    await s.part.end_for(s.chat, "chat-ended")  # ending twice tells nobody anything
    assert not (s.seeker_page.texts or s.sanne_page.texts or s.mila_page.texts)

