"""Abuse control without identity: keyed, rotating, in-memory tags of client addresses.

A client address is turned at once into a BLAKE2b tag under a random key that
lives only in memory and is replaced every `period` seconds (the previous key
is kept for one more period so that a block does not end at a rotation). Tags
are used for blocks and coarse rate limits and are never written anywhere; once
both keys have rotated away, no tag can be linked to an address by anyone,
including us.

hashlib's BLAKE2b (standard library) is used here rather than the crypto
facade: it is a keyed hash for counting, not part of the protocol.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from aiohttp import web

from .keys import CONFIG, GUARD


class AddressGuard:
    def __init__(self, period_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.period = period_seconds
        self.clock = clock
        self._keys = [secrets.token_bytes(32), secrets.token_bytes(32)]  # current, previous
        self._rotated = clock()
        self._blocked: dict[bytes, float] = {}
        self._counts: dict[tuple[str, bytes], tuple[float, int]] = {}

    def _rotate(self) -> None:
        now = self.clock()
        if now - self._rotated < self.period:
            return
        self._keys = [secrets.token_bytes(32), self._keys[0]]
        self._rotated = now
        # Tags made under a key that is now gone can never match again: drop them.
        self._blocked = {t: exp for t, exp in self._blocked.items() if exp > now}
        self._counts = {}

    @staticmethod
    def _tag_with(key: bytes, address: bytes) -> bytes:
        return hashlib.blake2b(address, key=key, digest_size=16).digest()

    def tags(self, address: str) -> tuple[bytes, bytes]:
        """The address's tags under the current and the previous key."""
        self._rotate()
        raw = address.encode("utf-8", "replace")
        return self._tag_with(self._keys[0], raw), self._tag_with(self._keys[1], raw)

    def block(self, tags: tuple[bytes, bytes], seconds: float) -> None:
        until = self.clock() + seconds
        for tag in tags:
            self._blocked[tag] = until

    def is_blocked(self, tags: tuple[bytes, bytes]) -> bool:
        now = self.clock()
        return any(self._blocked.get(tag, 0) > now for tag in tags)

    def allow(self, kind: str, tags: tuple[bytes, bytes], limit: int, window: float) -> bool:
        """Count one event of `kind` for this address; False once `limit` is passed within `window`."""
        self._rotate()
        now = self.clock()
        key = (kind, tags[0])
        start, count = self._counts.get(key, (now, 0))
        if now - start >= window:
            start, count = now, 0
        count += 1
        self._counts[key] = (start, count)
        if len(self._counts) > 100_000:  # bounded memory under a flood
            self._counts.clear()
        return count <= limit


class TokenBucket:
    """Per-connection frame rate limit."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = burst
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def client_tags(request: web.Request) -> tuple[bytes, bytes]:
    """The client's address as in-memory keyed tags: the address itself is never kept or logged."""
    header = request.app[CONFIG].client_address_header
    address = request.headers.get(header, "") if header else (request.remote or "")
    return request.app[GUARD].tags(address)
