"""Queue and assignment, as plain logic without I/O (unit-tested on its own).

Rules:
- Fairness: a volunteer who asks for a chat gets the one that has waited longest.
- Capacity: a volunteer holds at most `capacity` chats (offered or active).
- An *offer* is a chat assigned to a volunteer whose page has not yet answered
  with its signed key. If that volunteer goes offline or becomes unavailable,
  their offers return to the queue in their original place (by arrival).

Cost: the waiting chats are kept in order as they change, never sorted on a
call (the hub asks for the whole order on every queue event). Their keys sit in
a sorted list: arrival, then the order of joining (equal arrival times keep it,
as a stable sort did), then the id. A new chat is appended (arrival is
monotonic), an offer that returns goes back to its place by bisection, and
`position` is a bisection too. So `waiting()` is one pass, `position()` is
O(log n), `pick_up()` takes the head; inserting and deleting move only pointers,
and n is at most `max_waiting`. A waiting entry's state changes only through the
methods here, which keep that list and the entries in step.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from enum import Enum


class ChatState(Enum):
    WAITING = "waiting"
    OFFERED = "offered"
    ACTIVE = "active"
    ENDED = "ended"


@dataclass
class QueueEntry:
    chat_id: bytes
    arrived: float  # monotonic seconds; used for order and waiting time, never stored
    state: ChatState = ChatState.WAITING
    volunteer_id: int | None = None
    joined: int = 0  # the order of joining: breaks ties between equal arrival times, as a stable sort did

    @property
    def order_key(self) -> tuple[float, int, bytes]:
        return (self.arrived, self.joined, self.chat_id)


@dataclass
class VolunteerSlot:
    volunteer_id: int
    available: bool = False
    paused: bool = False  # on a break: no new chat is offered (the open ones stay); `available` is kept
    chats: set[bytes] = field(default_factory=set)


class QueueFull(Exception):
    """The queue holds its maximum number of waiting chats."""


class ChatQueue:
    def __init__(self, capacity: int, max_waiting: int) -> None:
        self.capacity = capacity
        self.max_waiting = max_waiting
        self.entries: dict[bytes, QueueEntry] = {}
        self.volunteers: dict[int, VolunteerSlot] = {}
        self._order: list[tuple[float, int, bytes]] = []  # the waiting entries' order keys, sorted
        self._joins = itertools.count(1)
        self._available: set[int] = set()  # kept beside the slots: the wait estimate asks per position

    # -- help-seekers --------------------------------------------------------------

    def join(self, chat_id: bytes, now: float) -> QueueEntry:
        if len(self._order) >= self.max_waiting:
            raise QueueFull()
        former = self.entries.get(chat_id)
        if former is not None and former.state is ChatState.WAITING:
            self._unlist(former)
        entry = QueueEntry(chat_id, now, joined=next(self._joins))
        self.entries[chat_id] = entry
        self._list(entry)
        return entry

    def waiting(self) -> list[QueueEntry]:
        """Waiting chats, longest waiting first (one pass; nothing is sorted here)."""
        entries = self.entries
        return [entries[key[2]] for key in self._order]

    def waiting_count(self) -> int:
        return len(self._order)

    def position(self, chat_id: bytes) -> int | None:
        entry = self.entries.get(chat_id)
        if entry is None or entry.state is not ChatState.WAITING:
            return None
        key = entry.order_key
        index = bisect.bisect_left(self._order, key)
        if index == len(self._order) or self._order[index] != key:
            return None
        return index + 1

    def remove(self, chat_id: bytes) -> QueueEntry | None:
        """Forget a chat (ended or abandoned); frees the volunteer's slot."""
        entry = self.entries.pop(chat_id, None)
        if entry is not None and entry.state is ChatState.WAITING:
            self._unlist(entry)
        if entry is not None and entry.volunteer_id is not None:
            slot = self.volunteers.get(entry.volunteer_id)
            if slot is not None:
                slot.chats.discard(chat_id)
        return entry

    def _list(self, entry: QueueEntry) -> None:
        """Put a waiting entry in its place: at the end for a new arrival, by bisection for a return."""
        key = entry.order_key
        if not self._order or key > self._order[-1]:
            self._order.append(key)
        else:
            bisect.insort(self._order, key)

    def _unlist(self, entry: QueueEntry) -> None:
        key = entry.order_key
        index = bisect.bisect_left(self._order, key)
        if index < len(self._order) and self._order[index] == key:
            del self._order[index]

    # -- volunteers ------------------------------------------------------------------

    def slot(self, volunteer_id: int) -> VolunteerSlot:
        slot = self.volunteers.get(volunteer_id)  # not setdefault: that would build a slot on every call
        if slot is None:
            slot = self.volunteers[volunteer_id] = VolunteerSlot(volunteer_id)
        return slot

    def set_available(self, volunteer_id: int, available: bool) -> list[bytes]:
        """Mark availability; going unavailable returns unanswered offers (their ids are returned)."""
        slot = self.slot(volunteer_id)
        slot.available = available
        taking = available and not slot.paused
        (self._available.add if taking else self._available.discard)(volunteer_id)
        return [] if taking else self._return_offers(slot)

    def set_paused(self, volunteer_id: int, paused: bool) -> list[bytes]:
        """A break: a paused volunteer does not count as available and is offered nothing new (unanswered
        offers go back); the open chats stay. Availability itself is kept for the end of the break."""
        slot = self.slot(volunteer_id)
        slot.paused = paused
        return self.set_available(volunteer_id, slot.available)

    def went_offline(self, volunteer_id: int) -> list[bytes]:
        """The volunteer's connection is gone: unavailable, and offers go back to the queue."""
        return self.set_available(volunteer_id, False)

    def _return_offers(self, slot: VolunteerSlot) -> list[bytes]:
        returned = []
        for chat_id in sorted(slot.chats):
            entry = self.entries.get(chat_id)
            if entry is not None and entry.state is ChatState.OFFERED:
                entry.state, entry.volunteer_id = ChatState.WAITING, None
                self._list(entry)  # back in its original place: its key is the one it joined with
                slot.chats.discard(chat_id)
                returned.append(chat_id)
        return returned

    def free_capacity(self, volunteer_id: int) -> int:
        slot = self.slot(volunteer_id)
        return self.capacity - len(slot.chats)

    def available_volunteers(self) -> int:
        return len(self._available)

    def free_slots(self) -> int:
        return sum(max(0, self.capacity - len(s.chats)) for s in self.volunteers.values()
                   if s.available and not s.paused)

    def pick_up(self, volunteer_id: int) -> QueueEntry | None:
        """Offer the longest-waiting chat to this volunteer, within capacity; None if nothing fits."""
        slot = self.slot(volunteer_id)
        if not slot.available or slot.paused or len(slot.chats) >= self.capacity or not self._order:
            return None
        entry = self.entries[self._order.pop(0)[2]]
        entry.state, entry.volunteer_id = ChatState.OFFERED, volunteer_id
        slot.chats.add(entry.chat_id)
        return entry

    def accept(self, volunteer_id: int, chat_id: bytes) -> QueueEntry | None:
        """The volunteer's page answered the offer with its signed key: the chat is active."""
        entry = self.entries.get(chat_id)
        if entry is None or entry.state is not ChatState.OFFERED or entry.volunteer_id != volunteer_id:
            return None
        entry.state = ChatState.ACTIVE
        return entry
