"""The queue and assignment logic on its own: fairness, capacity, offers returning."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.chat.queue import ChatQueue, ChatState, QueueFull


def ids(n: int) -> list[bytes]:
    return [bytes([i]) * 16 for i in range(1, n + 1)]


def test_longest_waiting_is_picked_first() -> None:
    q = ChatQueue(capacity=2, max_waiting=10)
    a, b, c = ids(3)
    q.join(b, now=2.0)
    q.join(a, now=1.0)
    q.join(c, now=3.0)
    q.set_available(7, True)
    assert q.pick_up(7).chat_id == a
    assert q.position(b) == 1 and q.position(c) == 2
    assert q.pick_up(7).chat_id == b


def test_capacity_is_respected() -> None:
    q = ChatQueue(capacity=2, max_waiting=10)
    for i, chat in enumerate(ids(3)):
        q.join(chat, now=float(i))
    q.set_available(7, True)
    assert q.pick_up(7) and q.pick_up(7)
    assert q.pick_up(7) is None
    assert q.free_capacity(7) == 0
    q.remove(ids(3)[0])
    assert q.pick_up(7).chat_id == ids(3)[2]


def test_unavailable_volunteer_gets_nothing() -> None:
    q = ChatQueue(capacity=2, max_waiting=10)
    q.join(ids(1)[0], now=0.0)
    assert q.pick_up(7) is None
    assert q.available_volunteers() == 0


def test_going_offline_returns_offers_to_their_place_but_keeps_active_chats() -> None:
    q = ChatQueue(capacity=2, max_waiting=10)
    a, b, c = ids(3)
    for i, chat in enumerate((a, b, c)):
        q.join(chat, now=float(i))
    q.set_available(7, True)
    q.pick_up(7)            # a offered
    q.accept(7, a)          # a active
    q.pick_up(7)            # b offered
    assert q.went_offline(7) == [b]
    assert q.entries[a].state is ChatState.ACTIVE
    assert [e.chat_id for e in q.waiting()] == [b, c]  # b is back ahead of c
    q.set_available(8, True)
    assert q.pick_up(8).chat_id == b


def test_accept_only_by_the_offered_volunteer() -> None:
    q = ChatQueue(capacity=2, max_waiting=10)
    a = ids(1)[0]
    q.join(a, now=0.0)
    q.set_available(7, True)
    q.set_available(8, True)
    q.pick_up(7)
    assert q.accept(8, a) is None
    assert q.accept(7, a).state is ChatState.ACTIVE
    assert q.accept(7, a) is None  # not twice


def test_queue_length_is_bounded() -> None:
    q = ChatQueue(capacity=2, max_waiting=2)
    q.join(ids(3)[0], 0.0)
    q.join(ids(3)[1], 1.0)
    with pytest.raises(QueueFull):
        q.join(ids(3)[2], 2.0)


@given(st.lists(st.tuples(st.sampled_from(["join", "avail", "away", "pick", "accept", "end"]),
                          st.integers(0, 5), st.integers(1, 3)), max_size=60))
def test_invariants_hold_for_any_sequence(ops: list[tuple[str, int, int]]) -> None:
    q = ChatQueue(capacity=2, max_waiting=50)
    chats = ids(6)
    clock = 0.0
    for op, c, v in ops:
        clock += 1
        chat = chats[c]
        if op == "join" and chat not in q.entries:
            q.join(chat, clock)
        elif op == "avail":
            q.set_available(v, True)
        elif op == "away":
            q.went_offline(v)
        elif op == "pick":
            got = q.pick_up(v)
            if got is not None:
                older = [e for e in q.waiting() if e.arrived < got.arrived]
                assert not older  # nobody waiting longer was skipped
        elif op == "accept":
            q.accept(v, chat)
        elif op == "end":
            q.remove(chat)
        for slot in q.volunteers.values():
            assert len(slot.chats) <= q.capacity
            for held in slot.chats:
                assert q.entries[held].volunteer_id == slot.volunteer_id
        for entry in q.entries.values():
            if entry.state is ChatState.WAITING:
                assert entry.volunteer_id is None
            else:
                assert entry.chat_id in q.slot(entry.volunteer_id).chats
