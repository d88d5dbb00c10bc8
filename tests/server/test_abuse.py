"""Abuse controls without identity: keyed rotating tags in memory, single-use proof-of-work.

Every behavioural test runs against both implementations of `Guard` and `Gate`: in this process's
memory (`server/abuse.py`, the embedded default) and shared through a real Redis
(`server/live/abuse.py`, `hub_url`; tests/services/redis.py). Both take the test's clock, so that
time is the test's to move; the Redis ones also give every key a real time to live
(tests/server/test_live_redis.py checks those and what several nodes see).
"""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator
from typing import Any

import pytest

import crypto
from server.abuse import AddressGuard, Gate, Guard, PowGate, TokenBucket
from server.errors import TooManyRequests
from server.live import Live
from server.live.abuse import RedisAddressGuard, RedisPowGate

ADDRESS = "127.31.7.9"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Implementations:
    """Makes guards and gates of one implementation ("memory" or "redis"); stops what it started."""

    def __init__(self, kind: str, live: Live | None) -> None:
        self.kind, self.live = kind, live
        self.started: list[RedisAddressGuard] = []

    async def guard(self, period: float, clock: FakeClock) -> Guard:
        if self.live is None:
            return AddressGuard(period, clock)
        guard = RedisAddressGuard(self.live, period, clock)
        await guard.start()
        self.started.append(guard)
        return guard

    def gate(self, base_bits: int, max_bits: int, clock: FakeClock | None = None) -> Gate:
        """A gate on the test's clock, or on the implementation's own (monotonic; wall-clock for Redis)."""
        timing = {"clock": clock} if clock else {}
        if self.live is None:
            return PowGate(base_bits, max_bits, **timing)
        return RedisPowGate(self.live, base_bits, max_bits, **timing)

    def state(self, guard: Guard, redis_server: Any) -> bytes:
        """Everything the guard keeps: its memory, or every key and value in Redis."""
        if isinstance(guard, AddressGuard):
            return pickle.dumps(guard.__dict__ | {"clock": None})
        return b"".join(key + dumped for key, (_, _, dumped) in redis_server.dump_all().items())


@pytest.fixture(params=["memory", "redis"])
async def impl(request: pytest.FixtureRequest) -> AsyncIterator[Implementations]:
    if request.param == "memory":
        yield Implementations("memory", None)
        return
    live = Live(request.getfixturevalue("redis_url"))
    await live.open()
    made = Implementations("redis", live)
    try:
        yield made
    finally:
        for guard in made.started:
            await guard.stop()
        await live.close()


@pytest.fixture
def redis_view(request: pytest.FixtureRequest, impl: Implementations) -> Any:
    return request.getfixturevalue("redis_server") if impl.kind == "redis" else None


async def test_tags_do_not_contain_the_address_and_the_guard_keeps_no_address(impl: Implementations,
                                                                              redis_view: Any) -> None:
    clock = FakeClock()
    guard = await impl.guard(60, clock)
    tags = guard.tags(ADDRESS)
    await guard.block(tags, 30)
    await guard.allow("challenge", tags, 10, 60)
    await guard.allow_recent("return", tags, 3, 60)
    state = impl.state(guard, redis_view)
    assert ADDRESS.encode() not in state and b"127.31" not in state
    assert all(len(t) == 16 for t in tags)


async def test_a_block_holds_across_one_rotation_and_then_expires(impl: Implementations) -> None:
    clock = FakeClock()
    guard = await impl.guard(60, clock)
    await guard.block(guard.tags(ADDRESS), 100)
    assert await guard.is_blocked(guard.tags(ADDRESS))
    assert not await guard.is_blocked(guard.tags("127.0.0.2"))
    clock.now += 61  # the key rotates; the previous key still recognises the address
    await guard.refresh()
    assert await guard.is_blocked(guard.tags(ADDRESS))
    clock.now += 40
    assert not await guard.is_blocked(guard.tags(ADDRESS))


async def test_tags_change_after_two_rotations_so_nothing_links_old_and_new(impl: Implementations) -> None:
    clock = FakeClock()
    guard = await impl.guard(60, clock)
    first = guard.tags(ADDRESS)
    clock.now += 61
    await guard.refresh()
    after_one = guard.tags(ADDRESS)
    assert after_one[1] == first[0]  # the current key became the previous one
    clock.now += 61
    await guard.refresh()
    assert set(guard.tags(ADDRESS)).isdisjoint(first)


async def test_rate_limit_per_window(impl: Implementations) -> None:
    clock = FakeClock()
    guard = await impl.guard(600, clock)
    tags = guard.tags(ADDRESS)
    assert [await guard.allow("challenge", tags, 3, 60) for _ in range(3)] == [True] * 3
    assert not await guard.allow("challenge", tags, 3, 60)
    assert await guard.allow("challenge", guard.tags("127.0.0.2"), 3, 60)  # another address, its own count
    assert await guard.allow("login", tags, 3, 60)  # another kind, its own count
    clock.now += 61
    assert await guard.allow("challenge", tags, 3, 60)


async def test_a_refund_takes_back_one_event(impl: Implementations) -> None:
    clock = FakeClock()
    guard = await impl.guard(600, clock)
    tags = guard.tags(ADDRESS)
    assert [await guard.allow("login", tags, 2, 60) for _ in range(2)] == [True, True]
    await guard.refund("login", tags)
    assert await guard.allow("login", tags, 2, 60)
    assert not await guard.allow("login", tags, 2, 60)
    await guard.refund("never-counted", tags)  # nothing to take back: no error, nothing made


def test_token_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=2, clock=clock)
    assert bucket.take() and bucket.take() and not bucket.take()
    clock.now += 1
    assert bucket.take()


async def test_pow_difficulty_rises_with_the_queue_and_challenges_are_single_use(impl: Implementations) -> None:
    clock = FakeClock()
    gate = impl.gate(8, 12, clock)
    assert (await gate.issue(0))["bits"] == 8
    assert (await gate.issue(40))["bits"] == 10
    assert (await gate.issue(10_000))["bits"] == 12
    issued = await gate.issue(0)
    nonce = crypto.pow_solve(crypto.b64decode(issued["challenge"]), issued["bits"])
    assert await gate.redeem(issued["challenge"], nonce)
    assert not await gate.redeem(issued["challenge"], nonce)


async def test_pow_wrong_nonce_unknown_challenge_and_unknown_purpose(impl: Implementations) -> None:
    gate = impl.gate(12, 12)
    issued = await gate.issue(0)
    raw = crypto.b64decode(issued["challenge"])
    wrong = next(n for n in (i.to_bytes(crypto.POW_NONCE_BYTES, "big") for i in range(100))
                 if not crypto.pow_check(raw, n, issued["bits"]))
    assert not await gate.redeem(issued["challenge"], wrong)
    assert not await gate.redeem(issued["challenge"], crypto.pow_solve(raw, issued["bits"]))  # the try used it up
    assert not await gate.redeem(crypto.new_token(24), bytes(crypto.POW_NONCE_BYTES))
    assert not await gate.redeem("x" * 10_000, bytes(crypto.POW_NONCE_BYTES))
    with pytest.raises(ValueError):
        await gate.issue(0, "login")


async def test_pow_challenges_expire(impl: Implementations) -> None:
    clock = FakeClock()
    gate = impl.gate(4, 4, clock)
    issued = await gate.issue(0)
    nonce = crypto.pow_solve(crypto.b64decode(issued["challenge"]), issued["bits"])
    clock.now += 121
    assert not await gate.redeem(issued["challenge"], nonce)


async def test_too_many_outstanding_challenges_are_refused(impl: Implementations,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import server.abuse
    import server.live.abuse
    monkeypatch.setattr(server.abuse, "MAX_OUTSTANDING_CHALLENGES", 5)
    monkeypatch.setattr(server.live.abuse, "MAX_OUTSTANDING_CHALLENGES", 5)
    gate = impl.gate(4, 4, FakeClock())
    for _ in range(5):
        await gate.issue(0)
    with pytest.raises(TooManyRequests):
        await gate.issue(0)


async def test_a_sliding_window_limit_holds_across_a_key_rotation(impl: Implementations, redis_view: Any) -> None:
    """The return-mail limit (3 per recipient per 24 hours) is strict: a rotation of the key in
    between does not give an address a fresh allowance, and events age out one by one."""
    clock = FakeClock()
    day = 24 * 3600.0
    guard = await impl.guard(day, clock)
    victim = "slachtoffer@example.org"
    clock.now += day / 2  # the key rotates half a day after these three
    assert [await guard.allow_recent("return", guard.tags(victim), 3, day) for _ in range(3)] == [True] * 3
    assert not await guard.allow_recent("return", guard.tags(victim), 3, day)
    assert await guard.allow_recent("return", guard.tags("iemand@example.org"), 3, day)
    clock.now += day - 5  # after the rotation, just before the three age out
    await guard.refresh()
    tags = guard.tags(victim)
    assert not await guard.allow_recent("return", tags, 3, day)
    clock.now += 10  # now a day has passed since the three
    assert await guard.allow_recent("return", guard.tags(victim), 3, day)
    assert b"slachtoffer" not in impl.state(guard, redis_view)


def test_networks_for_coarse_limits() -> None:
    from server.abuse import network_of
    assert network_of("198.51.100.7") == network_of("198.51.100.200") == "198.51.100.0/24"
    assert network_of("198.51.101.7") != network_of("198.51.100.7")
    assert network_of("2001:db8:1:2ff:3::1") == network_of("2001:db8:1:200::9") == "2001:db8:1:200::/56"
    assert network_of("2001:db8:1:300::1") != network_of("2001:db8:1:200::1")
    assert network_of("::ffff:198.51.100.7") == "198.51.100.0/24"


async def test_a_challenge_redeems_only_for_the_purpose_it_was_issued_for(impl: Implementations) -> None:
    """PROTOCOL.md [M-11-1]: work done to open a chat cannot be spent on a mail assignment, nor back."""
    gate = impl.gate(4, 4)
    for issued, spent in (("chat", "mail"), ("mail", "chat")):
        challenge = await gate.issue(0, issued)
        nonce = crypto.pow_solve(crypto.b64decode(challenge["challenge"]), challenge["bits"])
        assert not await gate.redeem(challenge["challenge"], nonce, spent)
        assert not await gate.redeem(challenge["challenge"], nonce, issued)  # and the attempt used it up
        again = await gate.issue(0, issued)
        nonce = crypto.pow_solve(crypto.b64decode(again["challenge"]), again["bits"])
        assert await gate.redeem(again["challenge"], nonce, issued)
