"""Abuse control without identity: keyed, rotating, in-memory tags of client addresses,
rate limits and proof-of-work challenges.

A client address is turned at once into a BLAKE2b tag under a random key that
lives only in memory and is replaced every `period` seconds (the previous key
is kept for one more period so that a block does not end at a rotation). Tags
are used for blocks and coarse rate limits and are never written anywhere; once
both keys have rotated away, no tag can be linked to an address by anyone,
including us.

hashlib's BLAKE2b (standard library) is used here rather than the crypto
facade: it is a keyed hash for counting, not part of the protocol. The
proof-of-work is part of the protocol (PROTOCOL.md), so `PowGate` checks it
through the facade.

Plain classes, with no web framework: the application holds them under the
keys of `server/guards.py`, which also turns a request into its tags.

Two implementations of each interface (`Guard`, `Gate`): the in-process ones here
(`AddressGuard`, `PowGate`: the embedded default), and the Redis ones in
`server/live/abuse.py`, which several web nodes share (`hub_url`). The stateful
methods are coroutines in both, so that callers need not know which one they hold;
`tags` is not, because a node computes tags from keys it holds in memory either way.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

import crypto

from .errors import TooManyRequests

CHALLENGE_TTL_SECONDS = 120.0
MAX_OUTSTANDING_CHALLENGES = 20_000
POW_PURPOSES = ("chat", "mail")
MAX_COUNTED_TAGS = 100_000  # per kind of table: past it, forget rather than grow (bounded memory under a flood)


class Guard(Protocol):
    """Keyed, rotating address tags with blocks and rate limits (see the module's docstring)."""

    def tags(self, address: str) -> tuple[bytes, bytes]: ...
    async def refresh(self) -> None: ...
    async def block(self, tags: tuple[bytes, bytes], seconds: float) -> None: ...
    async def is_blocked(self, tags: tuple[bytes, bytes]) -> bool: ...
    async def allow(self, kind: str, tags: tuple[bytes, bytes], limit: int, window: float) -> bool: ...
    async def refund(self, kind: str, tags: tuple[bytes, bytes]) -> None: ...
    async def allow_recent(self, kind: str, tags: tuple[bytes, bytes], limit: int, window: float) -> bool: ...


class Gate(Protocol):
    """Single-use proof-of-work challenges, each for one purpose (see `PowGate`)."""

    async def issue(self, waiting: int, purpose: str = "chat") -> dict[str, Any]: ...
    async def redeem(self, challenge: str, nonce: bytes, purpose: str = "chat") -> bool: ...


# One bit more (twice the expected work) per this many waiting chats (for mail: threads made in the last ten
# minutes). At the defaults (16 to 19 bits, config.py) the maximum comes at 60 waiting: a queue that long is a
# flood or an exceptional evening, and even then an old phone solves it in an expected few seconds.
POW_WAITING_PER_BIT = 20


def pow_bits(base_bits: int, max_bits: int, waiting: int) -> int:
    """The difficulty for a new challenge: one bit more per `POW_WAITING_PER_BIT` waiting, never above the
    maximum (which config.py keeps at most `POW_MAX_BITS_CEILING`), never below the base."""
    return min(max_bits, base_bits + max(0, waiting) // POW_WAITING_PER_BIT)


def check_purpose(purpose: str) -> None:
    if purpose not in POW_PURPOSES:
        raise ValueError(f"unknown proof-of-work purpose {purpose!r}")


def pow_valid(challenge: str, nonce: bytes, bits: int) -> bool:
    """Whether `nonce` solves `challenge` at `bits` (through the crypto facade: PROTOCOL.md 11)."""
    try:
        return crypto.pow_check(crypto.b64decode(challenge), nonce, bits)
    except crypto.InvalidInput:
        return False


class AddressGuard:
    """The in-process `Guard`: keys, blocks and counters in this process's memory only."""

    def __init__(self, period_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.period = period_seconds
        self.clock = clock
        self._keys = [secrets.token_bytes(32), secrets.token_bytes(32)]  # current, previous
        self._rotated = clock()
        self._blocked: dict[bytes, float] = {}
        self._counts: dict[tuple[str, bytes], tuple[float, int]] = {}
        # Event times for sliding-window limits, under the current and the previous key.
        self._recent: dict[tuple[str, bytes], list[float]] = {}
        self._recent_previous: dict[tuple[str, bytes], list[float]] = {}

    def _rotate(self) -> None:
        now = self.clock()
        if now - self._rotated < self.period:
            return
        self._keys = [secrets.token_bytes(32), self._keys[0]]
        self._rotated = now
        # Tags made under a key that is now gone can never match again: drop them.
        self._blocked = {t: exp for t, exp in self._blocked.items() if exp > now}
        self._counts = {}
        self._recent_previous, self._recent = self._recent, {}

    @staticmethod
    def _tag_with(key: bytes, address: bytes) -> bytes:
        return hashlib.blake2b(address, key=key, digest_size=16).digest()

    def tags(self, address: str) -> tuple[bytes, bytes]:
        """The address's tags under the current and the previous key."""
        self._rotate()
        raw = address.encode("utf-8", "replace")
        return self._tag_with(self._keys[0], raw), self._tag_with(self._keys[1], raw)

    async def refresh(self) -> None:
        """Rotate the key if its period has passed (`tags` does so too; the Redis guard needs this)."""
        self._rotate()

    async def block(self, tags: tuple[bytes, bytes], seconds: float) -> None:
        until = self.clock() + seconds
        for tag in tags:
            self._blocked[tag] = until

    async def is_blocked(self, tags: tuple[bytes, bytes]) -> bool:
        now = self.clock()
        return any(self._blocked.get(tag, 0) > now for tag in tags)

    async def allow(self, kind: str, tags: tuple[bytes, bytes], limit: int, window: float) -> bool:
        """Count one event of `kind` for this address; False once `limit` is passed within `window`."""
        self._rotate()
        now = self.clock()
        key = (kind, tags[0])
        start, count = self._counts.get(key, (now, 0))
        if now - start >= window:
            start, count = now, 0
        count += 1
        self._counts[key] = (start, count)
        if len(self._counts) > MAX_COUNTED_TAGS:  # bounded memory under a flood
            self._counts.clear()
        return count <= limit

    async def refund(self, kind: str, tags: tuple[bytes, bytes]) -> None:
        """Take back one event of `kind` counted by `allow` (a login that succeeded: only failures and
        attempts still in flight should use up an address's allowance)."""
        key = (kind, tags[0])
        if key in self._counts:
            start, count = self._counts[key]
            self._counts[key] = (start, max(0, count - 1))

    async def allow_recent(self, kind: str, tags: tuple[bytes, bytes], limit: int, window: float) -> bool:
        """A strict sliding window: True, and the event counted, only while fewer than `limit` events
        of `kind` for these tags happened in the last `window` seconds (`window` at most the rotation
        period: events under the previous key are counted too, so a rotation does not reset the limit)."""
        self._rotate()
        now = self.clock()
        key, previous = (kind, tags[0]), (kind, tags[1])
        times = [t for t in self._recent.get(key, []) + self._recent_previous.get(previous, []) if now - t < window]
        if len(times) >= limit:
            return False
        if len(self._recent) > MAX_COUNTED_TAGS:  # bounded memory under a flood: forget rather than grow
            self._recent.clear()
        self._recent[key] = [t for t in self._recent.get(key, []) if now - t < window] + [now]
        return True


def network_of(address: str) -> str:
    """The network an address belongs to for coarse limits: its /24 (IPv4) or /56 (IPv6).

    One sender rarely owns a whole /24 or /56, but one abuser often has many addresses in one:
    limits count per address and per network. Text that is not an address is its own network."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 56
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


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


class PowGate:
    """The in-process `Gate`: issues single-use proof-of-work challenges; difficulty rises with the queue.

    A challenge is issued for one purpose ("chat": opening a chat, "mail": a mail assignment) and
    redeems only for it (PROTOCOL.md [M-11-1]): work done for one cannot be spent on the other."""

    PURPOSES = POW_PURPOSES

    def __init__(self, base_bits: int, max_bits: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_bits, self.max_bits, self.clock = base_bits, max_bits, clock
        self.outstanding: dict[str, tuple[float, int, str]] = {}

    async def issue(self, waiting: int, purpose: str = "chat") -> dict[str, Any]:
        check_purpose(purpose)
        now = self.clock()
        if len(self.outstanding) >= MAX_OUTSTANDING_CHALLENGES:
            self.outstanding = {c: v for c, v in self.outstanding.items() if v[0] > now}
            if len(self.outstanding) >= MAX_OUTSTANDING_CHALLENGES:
                raise TooManyRequests()
        bits = pow_bits(self.base_bits, self.max_bits, waiting)
        challenge = crypto.new_token(24)
        self.outstanding[challenge] = (now + CHALLENGE_TTL_SECONDS, bits, purpose)
        return {"challenge": challenge, "bits": bits}

    async def redeem(self, challenge: str, nonce: bytes, purpose: str = "chat") -> bool:
        expiry, bits, issued_for = self.outstanding.pop(challenge, (0.0, 0, ""))
        if expiry <= self.clock() or issued_for != purpose:
            return False
        return pow_valid(challenge, nonce, bits)
