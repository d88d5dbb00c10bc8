"""Handover on its own (server/chat/handover.py): asked, answered, offered, accepted, or dropped.

Sanne hands her chat to the partner queue 113 (or to her colleague Noor). Over real
websockets with the real protocol this is test_chat_handover.py; here the part is driven
through its API, with the real relay, assignment and read-along parts beside it and the
statistics it owns counted on a real SQLite file.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import crypto
from server.chat.assignment import Assignment
from server.chat.handover import Handovers
from server.chat.queue import ChatState
from server.chat.readalong import ReadAlongs
from server.chat.relay import Relay
from server.chat.room import TO_SEEKER, Room
from server.storage import Storage
from tests.server.test_chat_room import (active_chat, counts, make_room, online, refused, room,  # noqa: F401
                                         settled, storage)

LINK = bytes([7]) * 16
CT = crypto.b64encode(bytes(272))


def b64(data: bytes) -> str:
    return crypto.b64encode(data)


class Setting:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.changed = 0
        self.relay = Relay(room)
        self.assignment = Assignment(room, add_wrapup=self._wrapup, notify=self._notify)
        self.readalongs = ReadAlongs(room, self.relay)
        self.part = Handovers(room, self.relay, self.assignment, self.readalongs, notify=self._notify)
        self.sanne, self.sanne_page = online(room, 1)
        self.noor, self.noor_page = online(room, 2, "Noor")
        self.partner, self.partner_page = online(room, 3, "Ali", "partner")
        self.chat, self.seeker_page = active_chat(room, self.sanne)

    async def _notify(self) -> None:
        self.changed += 1

    async def _wrapup(self, *_: Any) -> None: ...

    def ask(self, target: str = "p:113", **more: Any) -> dict[str, Any]:
        return {"t": "handover", "chat": self.chat.id, "target": target, "link": LINK,
                "pub": bytes([1]) * 32, "sig": bytes([2]) * 64, **more}

    async def waiting(self, target: str = "p:113") -> None:
        """Asked and consented to; every page's frames so far taken."""
        await self.part.request(self.sanne, self.ask(target))
        await self.part.answer(self.chat, {"t": "handover-accept", "pub": bytes([3]) * 32, "history": True})
        self.take_all()

    def take_all(self) -> None:
        for page in (self.sanne_page, self.noor_page, self.partner_page, self.seeker_page):
            page.take()


def accept(chat_id: bytes) -> dict[str, Any]:
    return {"t": "accept-handover", "chat": chat_id, "pub": bytes([4]) * 32, "sig": bytes([5]) * 64,
            "lpub": bytes([6]) * 32, "lsig": bytes([8]) * 64}


async def test_handed_to_the_partner_queue_the_chat_goes_on_under_a_new_id(room: Room, storage: Storage) -> None:
    s = Setting(room)
    old_id, old_key = s.chat.id, s.chat.key
    await s.part.request(s.sanne, s.ask())
    assert s.seeker_page.take() == [{"t": "handover-ask", "kind": "partner",
                                     "to": {"nl": "113 Zelfmoordpreventie", "en": "113 Suicide Prevention"}}]
    assert s.sanne_page.take() == [{"t": "handover-asked", "chat": old_key}]
    await s.part.answer(s.chat, {"t": "handover-accept", "pub": bytes([3]) * 32, "history": True})
    assert s.seeker_page.take() == [{"t": "handover-waiting"}]
    assert s.sanne_page.take() == [{"t": "handover-waiting", "chat": old_key}]

    # Only a partner on duty may receive it, and it comes before any new chat.
    assert s.part.next_for(s.partner) is None
    await s.part.set_partner_available(s.partner, True)
    assert s.part.next_for(s.noor) is None and s.part.waiting_for(s.noor, room.clock()) == []
    handover = s.part.next_for(s.partner)
    assert handover is not None and s.part.waiting_for(s.partner, room.clock()) == [0]
    await s.part.offer(s.partner, handover)
    new_key = b64(handover.new_id)
    assert s.partner_page.take() == [{"t": "assigned", "chat": new_key, "peer": b64(bytes([3]) * 32), "handover": {
        "link": b64(LINK), "from": "Sanne", "identity": b64(s.sanne.ed25519_public), "pub": b64(bytes([1]) * 32),
        "sig": b64(bytes([2]) * 64), "history": True, "kind": "partner"}}]

    with refused("not-offered", "chat_not_offered"):
        await s.part.accept(s.noor, accept(handover.new_id))  # offered to someone else
    await s.part.accept(s.partner, accept(handover.new_id))
    assert s.sanne_page.take() == [
        {"t": "handover-done", "chat": old_key, "link": b64(LINK), "name": "Ali",
         "identity": b64(s.partner.ed25519_public), "pub": b64(bytes([6]) * 32), "sig": b64(bytes([8]) * 64)},
        {"t": "ended", "chat": old_key, "reason": "handed-over", "wrapup": True}]
    handed_over = {"t": "handed-over", "chat": new_key, "name": "Ali", "kind": "partner",
                   "identity": b64(s.partner.ed25519_public), "pub": b64(bytes([4]) * 32), "sig": b64(bytes([5]) * 64)}
    assert s.seeker_page.texts == [json.dumps(handed_over, separators=(",", ":"))]

    # The same chat object, under the new id, with the receiver; the old session is gone.
    assert s.chat.id == handover.new_id and s.chat.volunteer_id == s.partner.id
    assert room.chats == {handover.new_id: s.chat} and room.queue.entries[s.chat.id].state is ChatState.ACTIVE
    assert s.chat.sent == {1: 0, 2: 0} and not any(s.chat.backlog.values())
    assert s.part.find(old_id) == (s.chat, True) and s.part.find(s.chat.id) == (s.chat, False)
    assert s.assignment.pending_wrapups == {s.sanne.id: {old_id}} and not s.part.by_new_id
    # The note goes over the handover link, once, from Sanne to Ali.
    await s.relay.link_message(s.sanne, {"t": "lmsg", "link": LINK, "seq": 1, "ct": CT})
    assert len(s.partner_page.take()) == 1 and LINK not in s.relay.links
    assert await s.relay.volunteer_message(s.chat, {"t": "msg", "chat": s.chat.id, "seq": 1, "ct": CT})
    assert s.chat.sent[TO_SEEKER] == 1
    assert await counts(room, storage) == {("handover", "accepted"): 1}


async def test_a_colleague_receives_only_what_is_handed_to_them(room: Room) -> None:
    s = Setting(room)
    await s.part.request(s.sanne, s.ask(f"v:{s.noor.id}"))
    assert s.seeker_page.take()[0]["to"] == {"nl": "Noor", "en": "Noor"}
    await s.part.answer(s.chat, {"t": "handover-accept", "pub": bytes([3]) * 32, "history": False})
    mark, _ = online(room, 4, "Mark")
    await s.part.set_partner_available(s.partner, True)
    assert s.part.next_for(mark) is None and s.part.next_for(s.partner) is None
    assert s.part.next_for(s.noor) is s.part.by_chat[s.chat.id]
    for n in range(room.queue.capacity):  # a receiver at capacity gets nothing more
        room.queue.slot(s.noor.id).chats.add(bytes([100 + n]) * 16)
    assert s.part.next_for(s.noor) is None


@pytest.mark.parametrize("target,code,key", [
    ("p:999", "no-partner", "chat_no_partner"),
    ("v:99", "no-colleague", "chat_colleague_offline"),
    ("v:1", "no-colleague", "chat_colleague_offline"),  # oneself
    ("v:3", "no-colleague", "chat_colleague_offline"),  # a partner is not a colleague
])
async def test_a_handover_needs_a_known_partner_or_a_colleague_online(room: Room, target: str, code: str,
                                                                      key: str) -> None:
    s = Setting(room)
    with refused(code, key):
        await s.part.request(s.sanne, s.ask(target))
    assert not s.part.by_new_id and not s.seeker_page.texts


async def test_one_handover_at_a_time_with_a_fresh_link_id(room: Room) -> None:
    s = Setting(room)
    await s.part.request(s.sanne, s.ask())
    with refused("handover-pending", "chat_handover_pending"):
        await s.part.request(s.sanne, s.ask())
    other, _ = active_chat(room, s.sanne)
    with refused("link-taken", "chat_link_taken"):
        await s.part.request(s.sanne, {**s.ask(), "chat": other.id, "link": s.chat.id})


async def test_declined_cancelled_or_expired_the_chat_stays_with_its_volunteer(storage: Storage) -> None:
    room = make_room(storage, chat_handover_timeout_seconds=0)
    s = Setting(room)
    with refused("no-handover", "chat_no_handover_question"):
        await s.part.answer(s.chat, {"t": "handover-decline"})
    with refused("no-handover", "chat_no_handover"):
        await s.part.cancel(s.sanne, {"t": "handover-cancel", "chat": s.chat.id})

    for reason in ("declined", "cancelled", "expired"):
        await s.part.request(s.sanne, s.ask())
        s.take_all()
        if reason == "declined":
            await s.part.answer(s.chat, {"t": "handover-decline"})
        elif reason == "cancelled":
            await s.part.cancel(s.sanne, {"t": "handover-cancel", "chat": s.chat.id})
        else:
            await asyncio.sleep(0.01)  # the timeout of 0 seconds has run
            await settled(room)
        assert s.seeker_page.take() == [{"t": "handover-off", "reason": reason}]
        assert s.sanne_page.take() == [{"t": "handover-off", "chat": s.chat.key, "reason": reason}]
        assert not s.part.by_new_id and not s.part.by_chat and "handover" not in s.chat.timers
    assert s.chat.volunteer_id == s.sanne.id and room.chats == {s.chat.id: s.chat}
    assert await counts(room, storage) == {("handover", "declined"): 1, ("handover", "expired"): 1}


async def test_an_offer_waits_again_when_its_receiver_goes_and_ends_with_the_chat(room: Room) -> None:
    s = Setting(room)
    await s.waiting()
    await s.part.set_partner_available(s.partner, True)
    handover = s.part.next_for(s.partner)
    assert handover is not None
    await s.part.offer(s.partner, handover)
    await s.part.set_partner_available(s.partner, False)  # off duty: the offer waits again
    assert handover.state == "waiting" and handover.receiver is None
    assert handover.new_id not in room.queue.slot(s.partner.id).chats
    await s.part.set_partner_available(s.partner, True)
    await s.part.offer(s.partner, handover)
    s.take_all()
    await s.part.end_for(s.chat)  # the chat ended: the receiver's offer is withdrawn, nobody else told
    assert s.partner_page.take() == [{"t": "ended", "chat": b64(handover.new_id), "reason": "handover-off",
                                      "wrapup": False}]
    assert not s.seeker_page.texts and not s.sanne_page.texts and not s.part.by_new_id


async def test_not_yet_to_be_taken_over_and_not_while_the_help_seeker_is_away(room: Room) -> None:
    s = Setting(room)
    await s.part.request(s.sanne, s.ask())
    with refused("not-now", "chat_handover_not_ready"):  # no consent key yet
        await s.part.offer(s.partner, s.part.by_chat[s.chat.id])
    await s.part.answer(s.chat, {"t": "handover-accept", "pub": bytes([3]) * 32, "history": True})
    await s.part.set_partner_available(s.partner, True)
    handover = s.part.next_for(s.partner)
    assert handover is not None
    await s.part.offer(s.partner, handover)
    s.chat.seeker = None
    with refused("not-now", "chat_seeker_away"):
        await s.part.accept(s.partner, accept(handover.new_id))
    assert s.part.by_new_id == {handover.new_id: handover}


async def test_a_read_along_ends_before_the_chat_moves(room: Room) -> None:
    s = Setting(room)
    mila, mila_page = online(room, 5, "Mila", "mentor")
    reading = bytes([9]) * 16
    await s.readalongs.invite(s.sanne, {"t": "mentor-invite", "chat": s.chat.id, "mentor": mila.id,
                                        "link": reading, "pub": bytes(32), "sig": bytes(64)})
    await s.waiting()
    await s.part.set_partner_available(s.partner, True)
    handover = s.part.next_for(s.partner)
    assert handover is not None
    await s.part.offer(s.partner, handover)
    old_key = s.chat.key
    mila_page.take()
    await s.part.accept(s.partner, accept(handover.new_id))
    assert mila_page.take() == [{"t": "mentor-ended", "chat": old_key, "link": b64(reading), "reason": "handed-over"}]
    assert s.seeker_page.kinds() == ["mentor-ended", "handed-over"]  # wiped before the new chat starts
    assert not s.readalongs.by_link and reading not in s.relay.links
