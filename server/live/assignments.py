"""Mail assignments in progress: which thread id and volunteer a help-seeker's new mail will get.

`/api/mail/assign` (after a proof-of-work) reserves a thread id and a volunteer under a random
token; `/api/mail/threads` spends the token when it stores the thread, at most `ASSIGNMENT_SECONDS`
later. Behind nginx the two requests may reach different nodes, so in a cluster the reservation
lives in Redis (`oor:mail:assign:<token>`, with a time to live of the assignment's own), and in the
embedded default in this process's memory: one interface, `Assignments`, two implementations.

Single use: `take` removes the reservation atomically (GETDEL), so of two requests spending one
token, one gets it. A thread that then could not be stored (a refused code, a storage error) is
given back with `put_back`, for what is left of its time, so that the help-seeker can try again as
before. Nothing here names a help-seeker: a token, a thread id, a volunteer's id, an expiry.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .connection import Live

MAX_TOKEN_CHARS = 64  # an assignment token is crypto.new_token(24): 32 characters; longer is not ours
MAX_IN_PROCESS = 50_000  # each one needed a proof-of-work; past this many, no new ones (bounded memory)


@dataclass
class Assignment:
    thread_id: bytes
    volunteer_id: int
    expires: float  # on the store's clock


class Assignments(Protocol):
    async def add(self, token: str, thread_id: bytes, volunteer_id: int, seconds: float) -> bool:
        """Reserve; False if no more can be reserved now (the desk answers "nobody for mail")."""
        ...

    async def get(self, token: str) -> Assignment | None:
        """The reservation, still unspent and unexpired, without spending it."""
        ...

    async def take(self, token: str) -> Assignment | None:
        """Spend the reservation: of several callers with one token, one gets it."""
        ...

    async def put_back(self, token: str, assignment: Assignment) -> None:
        """Give back a reservation `take` returned, for what is left of its time."""
        ...


def _usable(token: Any) -> bool:
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_CHARS


class LocalAssignments:
    """In this process's memory: the embedded default."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._by_token: dict[str, Assignment] = {}

    async def add(self, token: str, thread_id: bytes, volunteer_id: int, seconds: float) -> bool:
        now = self.clock()
        self._by_token = {k: a for k, a in self._by_token.items() if a.expires > now}
        if len(self._by_token) > MAX_IN_PROCESS or token in self._by_token:
            return False
        self._by_token[token] = Assignment(thread_id, volunteer_id, now + seconds)
        return True

    async def get(self, token: str) -> Assignment | None:
        assignment = self._by_token.get(token) if _usable(token) else None
        return assignment if assignment is not None and assignment.expires > self.clock() else None

    async def take(self, token: str) -> Assignment | None:
        assignment = self._by_token.pop(token, None) if _usable(token) else None
        return assignment if assignment is not None and assignment.expires > self.clock() else None

    async def put_back(self, token: str, assignment: Assignment) -> None:
        if assignment.expires > self.clock():
            self._by_token.setdefault(token, assignment)


# Value: expiry (wall-clock seconds, a double) || volunteer id (signed 64-bit) || thread id.
_HEAD = struct.Struct(">dq")


class RedisAssignments:
    """In Redis, shared by every node: `oor:mail:assign:<token>`, expiring with the assignment.

    No count is kept: every reservation costs a redeemed proof-of-work, and its time to live bounds
    how many there can be at once."""

    def __init__(self, live: Live, clock: Callable[[], float] = time.time) -> None:
        if live.redis is None:
            raise ValueError("RedisAssignments needs an open Live with hub_url set")
        self.redis = live.redis
        self.clock = clock

    @staticmethod
    def _key(token: str) -> bytes:
        return Live.key("mail", "assign", token)

    def _decode(self, value: bytes | None) -> Assignment | None:
        if value is None or len(value) <= _HEAD.size:
            return None
        expires, volunteer_id = _HEAD.unpack_from(value)
        if expires <= self.clock():
            return None
        return Assignment(bytes(value[_HEAD.size:]), volunteer_id, expires)

    async def add(self, token: str, thread_id: bytes, volunteer_id: int, seconds: float) -> bool:
        if not _usable(token):
            return False
        value = _HEAD.pack(self.clock() + seconds, volunteer_id) + thread_id
        # NX: a token is reserved once; a (vanishingly unlikely) repeated token is refused, never overwritten.
        return bool(await self.redis.set(self._key(token), value, px=max(1, int(seconds * 1000)), nx=True))

    async def get(self, token: str) -> Assignment | None:
        return self._decode(await self.redis.get(self._key(token))) if _usable(token) else None

    async def take(self, token: str) -> Assignment | None:
        return self._decode(await self.redis.getdel(self._key(token))) if _usable(token) else None

    async def put_back(self, token: str, assignment: Assignment) -> None:
        left = assignment.expires - self.clock()
        if left > 0 and _usable(token):
            value = _HEAD.pack(assignment.expires, assignment.volunteer_id) + assignment.thread_id
            await self.redis.set(self._key(token), value, px=max(1, int(left * 1000)), nx=True)
