"""Queue and assignment, as plain logic without I/O (unit-tested on its own).

Rules:
- Fairness: a volunteer who asks for a chat gets the one that has waited longest.
- Capacity: a volunteer holds at most `capacity` chats (offered or active).
- An *offer* is a chat assigned to a volunteer whose page has not yet answered
  with its signed key. If that volunteer goes offline or becomes unavailable,
  their offers return to the queue in their original place (by arrival).
"""

from __future__ import annotations

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


@dataclass
class VolunteerSlot:
    volunteer_id: int
    available: bool = False
    chats: set[bytes] = field(default_factory=set)


class QueueFull(Exception):
    """The queue holds its maximum number of waiting chats."""


class ChatQueue:
    def __init__(self, capacity: int, max_waiting: int) -> None:
        self.capacity = capacity
        self.max_waiting = max_waiting
        self.entries: dict[bytes, QueueEntry] = {}
        self.volunteers: dict[int, VolunteerSlot] = {}

    # -- help-seekers --------------------------------------------------------------

    def join(self, chat_id: bytes, now: float) -> QueueEntry:
        if len(self.waiting()) >= self.max_waiting:
            raise QueueFull()
        entry = QueueEntry(chat_id, now)
        self.entries[chat_id] = entry
        return entry

    def waiting(self) -> list[QueueEntry]:
        """Waiting chats, longest waiting first."""
        return sorted((e for e in self.entries.values() if e.state is ChatState.WAITING),
                      key=lambda e: e.arrived)

    def position(self, chat_id: bytes) -> int | None:
        for index, entry in enumerate(self.waiting(), start=1):
            if entry.chat_id == chat_id:
                return index
        return None

    def remove(self, chat_id: bytes) -> QueueEntry | None:
        """Forget a chat (ended or abandoned); frees the volunteer's slot."""
        entry = self.entries.pop(chat_id, None)
        if entry is not None and entry.volunteer_id is not None:
            slot = self.volunteers.get(entry.volunteer_id)
            if slot is not None:
                slot.chats.discard(chat_id)
        return entry

    # -- volunteers ------------------------------------------------------------------

    def slot(self, volunteer_id: int) -> VolunteerSlot:
        return self.volunteers.setdefault(volunteer_id, VolunteerSlot(volunteer_id))

    def set_available(self, volunteer_id: int, available: bool) -> list[bytes]:
        """Mark availability; going unavailable returns unanswered offers (their ids are returned)."""
        slot = self.slot(volunteer_id)
        slot.available = available
        return [] if available else self._return_offers(slot)

    def went_offline(self, volunteer_id: int) -> list[bytes]:
        """The volunteer's connection is gone: unavailable, and offers go back to the queue."""
        return self.set_available(volunteer_id, False)

    def _return_offers(self, slot: VolunteerSlot) -> list[bytes]:
        returned = []
        for chat_id in sorted(slot.chats):
            entry = self.entries.get(chat_id)
            if entry is not None and entry.state is ChatState.OFFERED:
                entry.state, entry.volunteer_id = ChatState.WAITING, None
                slot.chats.discard(chat_id)
                returned.append(chat_id)
        return returned

    def free_capacity(self, volunteer_id: int) -> int:
        slot = self.slot(volunteer_id)
        return self.capacity - len(slot.chats)

    def available_volunteers(self) -> int:
        return sum(1 for s in self.volunteers.values() if s.available)

    def free_slots(self) -> int:
        return sum(max(0, self.capacity - len(s.chats)) for s in self.volunteers.values() if s.available)

    def pick_up(self, volunteer_id: int) -> QueueEntry | None:
        """Offer the longest-waiting chat to this volunteer, within capacity; None if nothing fits."""
        slot = self.slot(volunteer_id)
        if not slot.available or len(slot.chats) >= self.capacity:
            return None
        waiting = self.waiting()
        if not waiting:
            return None
        entry = waiting[0]
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
