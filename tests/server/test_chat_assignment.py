"""Queue and assignment on their own (server/chat/assignment.py): open, pickup, accept, the end, the wrap-up.

The order and capacity rules are queue.py's (test_chat_queue.py); here is what the part adds:
the frames each page gets, the refusals, and the statistics of the events it owns, counted
by the real statistics on a real SQLite file.
"""

from __future__ import annotations

from typing import Any

import pytest

import crypto
from server.chat.assignment import DEFAULT_WAIT_SECONDS, Assignment
from server.chat.errors import ChatRefused
from server.chat.queue import ChatState
from server.chat.room import Room
from server.storage import Storage
from tests.server.test_chat_room import (Page, active_chat, counts, make_room, online, refused, room,  # noqa: F401
                                         storage)

TAGS = (b"a" * 16, b"b" * 16)


class Calls:
    """What the part handed on: queue changes and wrap-ups (the hub's and the storage's to do)."""

    def __init__(self) -> None:
        self.changed = 0
        self.wrapups: list[tuple[str, str, bool]] = []

    async def notify(self) -> None:
        self.changed += 1

    async def add_wrapup(self, topic: str, age: str, handed_over: bool) -> None:
        self.wrapups.append((topic, age, handed_over))


def assignment_of(room: Room) -> tuple[Assignment, Calls]:
    calls = Calls()
    return Assignment(room, add_wrapup=calls.add_wrapup, notify=calls.notify), calls


def accept_frame(chat_id: bytes) -> dict[str, Any]:
    return {"t": "accept", "chat": chat_id, "pub": bytes(range(32)), "sig": bytes(64)}


async def test_a_chat_waits_is_picked_up_and_accepted(room: Room, storage: Storage) -> None:
    part, calls = assignment_of(room)
    sanne, sanne_page = online(room, 1)
    part.set_available(sanne, True)
    seeker_page = Page()
    chat = await part.open_chat(seeker_page, bytes(32), TAGS)  # type: ignore[arg-type]
    queued = seeker_page.take()
    assert [f["t"] for f in queued] == ["queued"] and queued[0]["chat"] == chat.key
    assert queued[0]["position"] == 1 and queued[0]["estimate_s"] == DEFAULT_WAIT_SECONDS
    assert crypto.constant_time_equal(chat.resume_hash, crypto.hash_token(queued[0]["resume"]))
    assert room.chats[chat.id] is chat and calls.changed == 1

    await part.pick_up(sanne)
    assert sanne_page.take() == [{"t": "assigned", "chat": chat.key, "peer": crypto.b64encode(bytes(32))}]
    assert room.queue.entries[chat.id].state is ChatState.OFFERED and calls.changed == 2

    room.clock.now += 30  # type: ignore[attr-defined]
    await part.accept(sanne, accept_frame(chat.id))
    assert seeker_page.take() == [{"t": "connected", "name": "Sanne", "identity": crypto.b64encode(sanne.ed25519_public),
                                   "pub": crypto.b64encode(bytes(range(32))), "sig": crypto.b64encode(bytes(64))}]
    assert chat.volunteer_id == sanne.id and room.is_active(chat)
    assert part.wait_estimate == 0.8 * DEFAULT_WAIT_SECONDS + 0.2 * 30
    assert await counts(room, storage) == {("offered", ""): 1, ("answered", "30"): 1}


async def test_nobody_on_duty_and_a_full_queue_are_refused(storage: Storage) -> None:
    room = make_room(storage, chat_queue_max=1)
    part, _ = assignment_of(room)
    with refused("no-volunteers", "chat_no_volunteers"):
        await part.open_chat(Page(), bytes(32), TAGS)  # type: ignore[arg-type]
    sanne, _ = online(room, 1)
    part.set_available(sanne, True)
    await part.open_chat(Page(), bytes(32), TAGS)  # type: ignore[arg-type]
    with refused("busy", "chat_busy"):
        await part.open_chat(Page(), bytes(32), TAGS)  # type: ignore[arg-type]
    assert len(room.chats) == 1 and len(room.queue.waiting()) == 1
    assert await counts(room, storage) == {("offered", ""): 1}


async def test_pickup_and_accept_refuse_what_is_not_theirs(room: Room) -> None:
    part, _ = assignment_of(room)
    sanne, _ = online(room, 1)
    mark, _ = online(room, 2, "Mark")
    partner, _ = online(room, 3, "113", "partner")
    with refused("nothing-to-pick-up", "chat_nothing_to_pick_up"):
        await part.pick_up(sanne)  # not available, nothing waiting
    part.set_available(sanne, True)
    chat = await part.open_chat(Page(), bytes(32), TAGS)  # type: ignore[arg-type]
    with pytest.raises(ChatRefused):
        await part.pick_up(partner)  # partners take handed-over chats only
    await part.pick_up(sanne)
    for who, chat_id in ((mark, chat.id), (sanne, bytes(16))):
        with refused("not-offered", "chat_not_offered"):
            await part.accept(who, accept_frame(chat_id))
    assert room.queue.entries[chat.id].state is ChatState.OFFERED


async def test_the_end_counts_finished_or_abandoned_and_opens_a_wrapup(room: Room, storage: Storage) -> None:
    part, _ = assignment_of(room)
    sanne, _ = online(room, 1)
    answered, _ = active_chat(room, sanne)
    room.clock.now += 600  # type: ignore[attr-defined]
    assert part.finish(answered, "volunteer") == (sanne.id, True)
    assert part.pending_wrapups == {sanne.id: {answered.id}}
    waiting = await part.open_chat(Page(), bytes(32), TAGS)  # type: ignore[arg-type]
    room.clock.now += 45  # type: ignore[attr-defined]
    assert part.finish(waiting, "seeker") == (None, False)  # left the queue before anyone took it
    assert part.pending_wrapups == {sanne.id: {answered.id}}
    assert await counts(room, storage) == {("finished", "10"): 1, ("offered", ""): 1, ("abandoned", "60"): 1}


async def test_a_wrapup_is_taken_once_with_a_known_topic_and_age_band(room: Room) -> None:
    part, calls = assignment_of(room)
    sanne, sanne_page = online(room, 1)
    chat, _ = active_chat(room, sanne)
    frame = {"t": "wrapup", "chat": chat.id, "topic": "eenzaamheid", "age": "18-29", "handed_over": False}
    with refused("no-wrapup", "chat_no_wrapup"):
        await part.wrapup(sanne, frame)  # the chat has not ended
    part.finish(chat, "volunteer")
    for bad in ({"topic": "weer"}, {"age": "12"}):
        with refused("bad-wrapup", "chat_bad_wrapup"):
            await part.wrapup(sanne, {**frame, **bad})
    await part.wrapup(sanne, frame)
    assert calls.wrapups == [("eenzaamheid", "18-29", False)]
    assert sanne_page.take() == [{"t": "wrapped", "chat": chat.key}]
    with pytest.raises(ChatRefused):
        await part.wrapup(sanne, frame)
    assert len(calls.wrapups) == 1


async def test_the_estimate_scales_with_position_over_volunteers_on_duty(room: Room) -> None:
    part, _ = assignment_of(room)
    assert part.status() == {"available": False, "waiting": 0, "estimate_s": 120}
    for volunteer_id in (1, 2):
        part.set_available(online(room, volunteer_id)[0], True)
    assert part.estimate(3) == 180 and part.status()["available"]
