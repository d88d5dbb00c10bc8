"""The queue's cost grows linearly (issue 14): coalesced frames, colleagues on change, ordered positions,
a quiet restart.

A real ChatHub on the production Config defaults, its pages stand-ins that keep what they were sent
and when (loop time). The coalescing window is the real one (server/chat/announce.py) where the test
is about the window; elsewhere it is shortened so that quiet spells are short. The queue's order is
checked against a plain sorted() reference across random joins, pickups, returns and removals.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.chat.announce import COALESCE_SECONDS, announcer
from server.chat.hub import ChatHub
from server.chat.queue import ChatQueue, ChatState
from server.chat.room import Chat, VolunteerInfo
from server.config import Config
from tests.server.test_chat_room import Page, settled
from tests.transparency import EveryKeyReady

TAGS = (b"a" * 16, b"b" * 16)


class TimedPage(Page):
    """A page that also notes when (loop time) each frame came."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    async def send_str(self, text: str) -> None:
        self.times.append(asyncio.get_running_loop().time())
        await super().send_str(text)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["t"] == kind]


async def _no_wrapup(topic: str, age: str, handed_over: bool) -> None:
    return None


def new_hub(window: float | None = None, **settings_: Any) -> ChatHub:
    hub = ChatHub(dataclasses.replace(Config(), **settings_), add_wrapup=_no_wrapup)
    hub.attach_log(EveryKeyReady())  # the key gate has its own tests (test_key_statements.py)
    if window is not None:
        announcer(hub).window = window
    return hub


async def quiet(hub: ChatHub) -> None:
    """Until an open window has sent what it merged and the one after it has closed."""
    await asyncio.sleep(2 * announcer(hub).window + 0.05)
    await settled(hub.room)


async def connect(hub: ChatHub, n: int, name: str, role: str = "volunteer",
                  available: bool = True) -> tuple[VolunteerInfo, TimedPage]:
    page = TimedPage()
    info = VolunteerInfo(n, name, bytes(32), role=role)
    await hub.volunteer_connected(info, page)  # type: ignore[arg-type]
    if available:
        await hub.set_available(info, True)
    return info, page


async def join(hub: ChatHub) -> tuple[Chat, TimedPage]:
    page = TimedPage()
    return await hub.open_chat(page, bytes(32), TAGS), page  # type: ignore[arg-type]


def names(frame: dict[str, Any]) -> list[str]:
    return [c["name"] for c in frame["colleagues"]]


# -- coalescing -------------------------------------------------------------------------------------


async def test_a_burst_of_50_events_sends_each_volunteer_at_most_two_queue_frames() -> None:
    hub = new_hub()
    pages = [(await connect(hub, n, f"V{n}"))[1] for n in range(1, 6)]
    volunteers = list(hub.volunteers.values())
    await quiet(hub)
    for page in pages:
        page.take()
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n in range(50):  # joins and pickups, back to back
        picker = volunteers[n % 5]
        if n % 3 == 2 and hub.queue.free_capacity(picker.id) > 0:
            await hub.pick_up(picker)
        else:
            await join(hub)
    await asyncio.sleep(COALESCE_SECONDS + 0.05)
    await settled(hub.room)
    for info, page in zip(volunteers, pages):
        frames, times = page.of("queue"), [t for t, f in zip(page.times, page.frames) if f["t"] == "queue"]
        assert len(frames) == 2, frames
        assert times[0] - start < 0.05                        # the first change goes out at once
        assert times[1] - times[0] >= COALESCE_SECONDS - 0.01  # the rest at the window's end
        # ... built from the state of that moment, never an older one.
        assert len(frames[-1]["waiting"]) == hub.queue.waiting_count()
        assert frames[-1]["holding"] == len(hub.queue.slot(info.id).chats)
    await hub.shutdown()


async def test_help_seekers_are_told_their_position_only_when_it_changed_at_most_once_a_window() -> None:
    hub = new_hub()
    sanne, _ = await connect(hub, 1, "Sanne")
    seekers = [await join(hub) for _ in range(4)]
    await quiet(hub)
    for _, page in seekers:
        page.take()
    await hub.pick_up(sanne)                                  # everyone moves up one place
    for _ in range(20):
        await connect(hub, 2, "Mark", available=False)        # changes nothing a help-seeker sees
    await quiet(hub)
    assert seekers[0][1].take() == []                         # offered now: no longer waiting
    for place, (_, page) in enumerate(seekers[1:], start=1):
        assert [f["position"] for f in page.take()] == [place]  # once: the 20 changes after moved nobody
    await connect(hub, 3, "Noor", available=False)
    await quiet(hub)
    assert all(page.take() == [] for _, page in seekers[1:])  # nothing changed: nothing sent
    await hub.set_available(hub.volunteers[3], True)                  # a second helper: the estimate halves
    await quiet(hub)
    for place, (_, page) in enumerate(seekers[1:], start=1):
        assert [(f["position"], f["estimate_s"]) for f in page.take()] == [(place, hub.assignment.estimate(place))]
    await hub.shutdown()


# -- colleagues only when they changed --------------------------------------------------------------


async def test_colleagues_are_sent_when_they_change_and_in_the_first_frame_of_a_connection() -> None:
    hub = new_hub(window=0.02)
    sanne, sanne_page = await connect(hub, 1, "Sanne")
    await quiet(hub)
    first = sanne_page.take()[0]
    assert first["t"] == "queue" and first["colleagues"] == [] and first["partners"]
    _, mark_page = await connect(hub, 2, "Mark")
    await quiet(hub)
    assert [names(f) for f in sanne_page.take() if "colleagues" in f] == [["Mark"]]
    assert names(mark_page.take()[0]) == ["Sanne"]            # Mark's first frame has the list

    await join(hub)                                           # the queue moves, the colleagues do not
    await quiet(hub)
    for page in (sanne_page, mark_page):
        frames = page.take()
        assert frames and all("colleagues" not in f for f in frames)
        assert all("partners" in f and "handovers" in f for f in frames)

    _, mirjam_page = await connect(hub, 3, "Mirjam", role="mentor", available=False)
    await quiet(hub)                                          # someone came online: sent again, to everyone
    assert [f["colleagues"] for f in sanne_page.take() if "colleagues" in f][-1] == [
        {"id": 2, "name": "Mark", "mentor": False}, {"id": 3, "name": "Mirjam", "mentor": True}]
    assert [names(f) for f in mark_page.take() if "colleagues" in f][-1] == ["Sanne", "Mirjam"]
    assert names(mirjam_page.take()[0]) == ["Sanne", "Mark"]

    await hub.volunteer_left(hub.volunteers[2], hub.volunteers[2].ws)  # type: ignore[arg-type]
    await quiet(hub)
    assert [names(f) for f in sanne_page.take() if "colleagues" in f][-1] == ["Mirjam"]

    again = TimedPage()                                        # a new connection starts afresh
    await hub.volunteer_connected(sanne, again)  # type: ignore[arg-type]
    await quiet(hub)
    assert names(again.take()[0]) == ["Mirjam"]
    await hub.shutdown()


async def test_a_queue_frame_is_the_frame_it_always_was_when_it_lists_the_colleagues() -> None:
    hub = new_hub(window=0.02)
    sanne, sanne_page = await connect(hub, 1, "Sanne")
    await connect(hub, 2, "Mark")
    chat, _ = await join(hub)
    await quiet(hub)
    again = TimedPage()
    await hub.volunteer_connected(sanne, again)  # type: ignore[arg-type]
    await quiet(hub)
    now, queue = hub.clock(), hub.queue
    expected = {"t": "queue", "available": True, "waiting": [int(now - queue.entries[chat.id].arrived)],
                "handovers": [], "holding": 0, "capacity": queue.capacity,
                "partners": hub.handover.partner_choices(),
                "colleagues": [{"id": 2, "name": "Mark", "mentor": False}]}
    assert again.texts[0] == json.dumps(expected, separators=(",", ":"))  # the same bytes, key for key
    await hub.shutdown()


# -- the restart ------------------------------------------------------------------------------------


async def test_a_restart_ends_every_chat_without_a_queue_picture_per_chat_and_leaves_no_timer() -> None:
    hub = new_hub(chat_queue_max=400)
    pages = [(await connect(hub, n, f"V{n}"))[1] for n in range(1, 4)]
    seekers = [await join(hub) for _ in range(300)]
    for info in list(hub.volunteers.values()):
        await hub.pick_up(info)
    await join(hub)  # within the window: a merged change is pending at the restart
    for page in pages:
        page.take()
    await hub.shutdown()
    assert not hub.chats and hub.queue.waiting_count() == 0
    assert all(page.frames[-1] == {"t": "ended", "reason": "restart"} for _, page in seekers)
    for page in pages:
        assert [f["t"] for f in page.frames if f["t"] != "ended"] == [] and page.closed
    assert vars(announcer(hub))["_timer"] is None
    await asyncio.sleep(COALESCE_SECONDS + 0.05)
    assert not hub.room.tasks and all(page.of("queue") == [] for page in pages)
    await hub.queue_changed()  # after the restart nothing is announced, and no window opens
    assert vars(announcer(hub))["_timer"] is None


# -- positions without a full sort ------------------------------------------------------------------


def reference(q: ChatQueue) -> list[bytes]:
    """The old definition: every waiting entry, sorted by arrival (stable: equal arrivals keep their order)."""
    return [e.chat_id for e in sorted((e for e in q.entries.values() if e.state is ChatState.WAITING),
                                      key=lambda e: e.arrived)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["join", "join", "pick", "accept", "away", "avail", "remove"]),
                          st.integers(0, 11), st.integers(1, 4), st.integers(0, 6)), max_size=80))
def test_positions_match_a_sorted_reference_across_joins_pickups_returns_and_removals(
        ops: list[tuple[str, int, int, int]]) -> None:
    q = ChatQueue(capacity=2, max_waiting=10)
    chats = [bytes([i]) * 16 for i in range(12)]
    for op, c, v, when in ops:
        chat = chats[c]
        if op == "join" and chat not in q.entries and q.waiting_count() < q.max_waiting:
            q.join(chat, float(when))  # arrival times repeat and go back: ties keep the joining order
        elif op == "pick":
            expected = reference(q)
            got = q.pick_up(v)
            if got is not None:
                assert got.chat_id == expected[0]
        elif op == "accept":
            q.accept(v, chat)
        elif op == "away":
            q.went_offline(v)  # offers go back to their original place
        elif op == "avail":
            q.set_available(v, True)
        elif op == "remove":
            q.remove(chat)
        order = reference(q)
        assert [e.chat_id for e in q.waiting()] == order and q.waiting_count() == len(order)
        for chat_id in chats:
            assert q.position(chat_id) == (order.index(chat_id) + 1 if chat_id in order else None)
        assert q.available_volunteers() == sum(1 for s in q.volunteers.values() if s.available)
