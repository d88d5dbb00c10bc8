"""The Redis implementations of `server.abuse`'s `Guard` and `Gate`, shared by several web nodes.

Behind nginx a help-seeker's requests reach any node: a block a volunteer set on one node, a rate
limit counted on another and a challenge issued on a third must hold on all of them. So the state
of `AddressGuard` and `PowGate` lives in Redis (memory only: `Live.open` refuses one that persists),
with the same rules and these differences:

- The tag keys. One pair (current, previous: 32 random bytes each) for the whole cluster, in
  `oor:guard:keys` with the time of its last rotation. Whichever node first finds it missing or
  due creates or rotates it, in one script (so two nodes never rotate twice), and every node
  caches the pair: `tags` stays a plain function, computed in the node's memory as before. A node
  refreshes its copy in the background (at least every `REFRESH_SECONDS`, and when the cached
  rotation falls due) and before any counted operation once it is due. The key lives two periods:
  once no node needs it any more, Redis forgets it, and with it any link from tags to addresses.
- Times are wall-clock seconds (`time.time`), the one clock nodes share; every value carries the
  time the rules need, so that the rules read the same as in-process, and every key also has a
  Redis time to live equal to its window, so that nothing outlives its use if no node comes back.
- Keys hold only keyed tags in hex (`oor:guard:block:<tag>`, `oor:guard:count:<kind>:<tag>`,
  `oor:guard:recent:<kind>:<tag>`) and random challenges; never an address.
- Bounded memory: a counter that would be new while the database holds `MAX_LIVE_KEYS` keys is
  not made (the event is allowed, uncounted), as the in-process guard forgets its counters rather
  than grow. Blocks are not bounded that way: only a volunteer makes them.

Lua scripts keep each read-modify-write atomic across nodes. A plain Redis (not Redis Cluster) is
assumed: the PoW script touches several keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import secrets
import time
from collections.abc import Callable
from typing import Any

import crypto
from redis.exceptions import RedisError

from ..abuse import (CHALLENGE_TTL_SECONDS, MAX_OUTSTANDING_CHALLENGES, check_purpose, pow_bits, pow_valid)
from ..errors import TooManyRequests
from .connection import Live

log = logging.getLogger("oor.live")

REFRESH_SECONDS = 60.0  # how stale a node's copy of the tag keys may get (if another node rotated early)
MAX_LIVE_KEYS = 1_000_000  # past this many keys in the database, new counters are not made (see above)
POW_BUCKET_SECONDS = CHALLENGE_TTL_SECONDS / 3
MAX_CHALLENGE_CHARS = 64  # a challenge is crypto.new_token(24): 32 characters; longer is not ours

# KEYS[1] = the key pair; ARGV = now, period, fresh key, fresh key, time to live (ms).
# Value: current (32 bytes) || previous (32 bytes) || time of rotation (decimal text).
_ROTATE = """
local now, period = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('GET', KEYS[1])
if v and #v > 64 then
  local rotated = tonumber(string.sub(v, 65))
  if rotated and now - rotated < period then return v end
  if rotated and now - rotated < 2 * period then
    local turned = ARGV[3] .. string.sub(v, 1, 32) .. ARGV[1]
    redis.call('SET', KEYS[1], turned, 'PX', ARGV[5])
    return turned
  end
end
local fresh = ARGV[3] .. ARGV[4] .. ARGV[1]
redis.call('SET', KEYS[1], fresh, 'PX', ARGV[5])
return fresh
"""

# KEYS[1] = the counter; ARGV = now, window, limit, max keys. Value: "<window start> <count>".
_ALLOW = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('GET', KEYS[1])
local start_text, count = ARGV[1], 0
if v then
  local sp = string.find(v, ' ', 1, true)
  start_text, count = string.sub(v, 1, sp - 1), tonumber(string.sub(v, sp + 1))
elseif redis.call('DBSIZE') >= tonumber(ARGV[4]) then
  return 1
end
local start = tonumber(start_text)
if now - start >= window then start_text, start, count = ARGV[1], now, 0 end
count = count + 1
local ttl = math.ceil((start + window - now) * 1000)
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], start_text .. ' ' .. count, 'PX', ttl)
if count <= tonumber(ARGV[3]) then return 1 end
return 0
"""

# KEYS[1] = the counter. Take back one event, keeping the window's start and time to live.
_REFUND = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local sp = string.find(v, ' ', 1, true)
local count = tonumber(string.sub(v, sp + 1)) - 1
if count < 0 then count = 0 end
redis.call('SET', KEYS[1], string.sub(v, 1, sp - 1) .. ' ' .. count, 'KEEPTTL')
return 1
"""

# KEYS[1], KEYS[2] = the events under the current and the previous tag (sorted sets scored by time);
# ARGV = now, horizon (now - window), limit, a random member, time to live (ms), max keys.
_ALLOW_RECENT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('DBSIZE') >= tonumber(ARGV[6]) then return 1 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

# KEYS[1] = the challenge, KEYS[2..] = counts of challenges issued per bucket of time, current first;
# ARGV = value, time to live (ms), cap, the buckets' time to live (ms).
_ISSUE = """
local n = 0
for i = 2, #KEYS do n = n + tonumber(redis.call('GET', KEYS[i]) or '0') end
if n >= tonumber(ARGV[3]) then return 0 end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _redis_of(live: Live) -> Any:
    if live.redis is None:
        raise ValueError("the Redis implementations need an open Live with hub_url set")
    return live.redis


class RedisAddressGuard:
    """The `Guard` of `server.abuse`, shared through Redis (see the module's docstring)."""

    def __init__(self, live: Live, period_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.redis = _redis_of(live)
        self.live = live
        self.period = period_seconds
        self.clock = clock
        self._keys: tuple[bytes, bytes] | None = None  # current, previous: this node's copy
        self._rotated = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._rotate = self.redis.register_script(_ROTATE)
        self._allow = self.redis.register_script(_ALLOW)
        self._refund = self.redis.register_script(_REFUND)
        self._allow_recent = self.redis.register_script(_ALLOW_RECENT)

    def __repr__(self) -> str:  # never the keys
        return "RedisAddressGuard()"

    # -- the key pair --------------------------------------------------------------------------

    async def start(self) -> None:
        """Fetch (or create) the key pair, and keep this node's copy fresh in the background."""
        await self.refresh()
        self._keeper = asyncio.create_task(self._keep_fresh(), name="oor-guard-keys")

    async def stop(self) -> None:
        for task in (self._keeper, self._refreshing):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, RedisError):
                    await task
        self._keeper = self._refreshing = None
        self._keys = None  # nothing of the keys stays in this object once it is stopped

    def _due(self) -> bool:
        return self._keys is None or self.clock() - self._rotated >= self.period

    async def refresh(self) -> None:
        """This node's copy of the key pair, rotated first in Redis if its period has passed."""
        now = self.clock()
        value = await self._rotate(keys=[Live.key("guard", "keys")],
                                   args=[repr(now), repr(float(self.period)), secrets.token_bytes(32),
                                         secrets.token_bytes(32), _ms(2 * self.period)])
        self._keys, self._rotated = (value[:32], value[32:64]), float(value[64:])

    async def _keep_fresh(self) -> None:
        while True:
            wait = min(REFRESH_SECONDS, self._rotated + self.period - self.clock())
            await asyncio.sleep(max(1.0, wait))
            try:
                await self.refresh()
            except RedisError as exc:  # keep the copy we have; try again at the next turn
                log.warning("could not refresh the address-tag keys from Redis: %s", type(exc).__name__)

    async def _fresh(self) -> None:
        if self._due():
            await self.refresh()

    def _refresh_soon(self) -> None:
        """From `tags`, which cannot wait: refresh in the background; these tags use the copy we have
        (its current key is the new previous one, so a block still matches)."""
        if self._refreshing is not None and not self._refreshing.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._refreshing = loop.create_task(self._refresh_quietly())

    async def _refresh_quietly(self) -> None:
        with contextlib.suppress(RedisError):
            await self.refresh()

    def tags(self, address: str) -> tuple[bytes, bytes]:
        """The address's tags under the current and the previous key (this node's copy)."""
        if self._keys is None:
            raise RuntimeError("RedisAddressGuard.start() has not been awaited")
        if self._due():
            self._refresh_soon()
        raw = address.encode("utf-8", "replace")
        current, previous = self._keys
        return (hashlib.blake2b(raw, key=current, digest_size=16).digest(),
                hashlib.blake2b(raw, key=previous, digest_size=16).digest())

    # -- blocks and limits ---------------------------------------------------------------------

    async def block(self, tags: tuple[bytes, bytes], seconds: float) -> None:
        until = self.clock() + seconds
        async with self.redis.pipeline(transaction=True) as pipe:
            for tag in tags:
                pipe.set(Live.key("guard", "block", tag.hex()), repr(until), px=_ms(seconds))
            await pipe.execute()

    async def is_blocked(self, tags: tuple[bytes, bytes]) -> bool:
        now = self.clock()
        values = await self.redis.mget([Live.key("guard", "block", tag.hex()) for tag in tags])
        return any(v is not None and float(v) > now for v in values)

    async def allow(self, kind: str, tags: tuple[bytes, bytes], limit: int, window: float) -> bool:
        """Count one event of `kind` for this address; False once `limit` is passed within `window`."""
        await self._fresh()
        allowed = await self._allow(keys=[Live.key("guard", "count", kind, tags[0].hex())],
                                    args=[repr(self.clock()), repr(float(window)), limit, MAX_LIVE_KEYS])
        return bool(allowed)

    async def refund(self, kind: str, tags: tuple[bytes, bytes]) -> None:
        """Take back one event of `kind` counted by `allow` (see `AddressGuard.refund`)."""
        await self._refund(keys=[Live.key("guard", "count", kind, tags[0].hex())], args=[])

    async def allow_recent(self, kind: str, tags: tuple[bytes, bytes], limit: int, window: float) -> bool:
        """The strict sliding window of `AddressGuard.allow_recent`, over both tags' events."""
        await self._fresh()
        now = self.clock()
        allowed = await self._allow_recent(
            keys=[Live.key("guard", "recent", kind, tags[0].hex()), Live.key("guard", "recent", kind, tags[1].hex())],
            args=[repr(now), repr(now - window), limit, secrets.token_hex(8), _ms(window), MAX_LIVE_KEYS])
        return bool(allowed)


class RedisPowGate:
    """The `Gate` of `server.abuse`, shared through Redis: a challenge issued on one node redeems on
    any, once (GETDEL: of two nodes redeeming it at the same moment, one gets it).

    The cap on outstanding challenges becomes a cap on those issued in the last two to three
    minutes (counted per bucket of `POW_BUCKET_SECONDS`): a redeemed challenge is not taken off the
    count, which errs on the strict side; past the cap the answer is 429, as in-process."""

    def __init__(self, live: Live, base_bits: int, max_bits: int, clock: Callable[[], float] = time.time) -> None:
        self.redis = _redis_of(live)
        self.base_bits, self.max_bits, self.clock = base_bits, max_bits, clock
        self._issue = self.redis.register_script(_ISSUE)

    async def issue(self, waiting: int, purpose: str = "chat") -> dict[str, Any]:
        check_purpose(purpose)
        now = self.clock()
        bits = pow_bits(self.base_bits, self.max_bits, waiting)
        challenge = crypto.new_token(24)
        bucket = int(now // POW_BUCKET_SECONDS)
        buckets = [Live.key("pow", "issued", str(bucket - i)) for i in range(4)]
        value = f"{now + CHALLENGE_TTL_SECONDS!r} {bits} {purpose}"
        issued = await self._issue(keys=[Live.key("pow", challenge), *buckets],
                                   args=[value, _ms(CHALLENGE_TTL_SECONDS), MAX_OUTSTANDING_CHALLENGES,
                                         _ms(5 * POW_BUCKET_SECONDS)])
        if not issued:
            raise TooManyRequests()
        return {"challenge": challenge, "bits": bits}

    async def redeem(self, challenge: str, nonce: bytes, purpose: str = "chat") -> bool:
        if not isinstance(challenge, str) or not 0 < len(challenge) <= MAX_CHALLENGE_CHARS:
            return False
        value = await self.redis.getdel(Live.key("pow", challenge))
        if value is None:
            return False
        expiry, bits, issued_for = value.decode().split(" ")
        if float(expiry) <= self.clock() or issued_for != purpose:
            return False
        return pow_valid(challenge, nonce, int(bits))
