"""Abuse controls without identity: keyed rotating tags in memory, single-use proof-of-work."""

from __future__ import annotations

import pickle

import crypto
from server.abuse import AddressGuard, PowGate, TokenBucket

ADDRESS = "127.31.7.9"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tags_do_not_contain_the_address_and_the_guard_keeps_no_address() -> None:
    clock = FakeClock()
    guard = AddressGuard(60, clock)
    tags = guard.tags(ADDRESS)
    guard.block(tags, 30)
    guard.allow("challenge", tags, 10, 60)
    state = pickle.dumps(guard.__dict__ | {"clock": None})
    assert ADDRESS.encode() not in state and b"127.31" not in state
    assert all(len(t) == 16 for t in tags)


def test_a_block_holds_across_one_rotation_and_then_expires() -> None:
    clock = FakeClock()
    guard = AddressGuard(60, clock)
    guard.block(guard.tags(ADDRESS), 100)
    assert guard.is_blocked(guard.tags(ADDRESS))
    assert not guard.is_blocked(guard.tags("127.0.0.2"))
    clock.now += 61  # the key rotates; the previous key still recognises the address
    assert guard.is_blocked(guard.tags(ADDRESS))
    clock.now += 40
    assert not guard.is_blocked(guard.tags(ADDRESS))


def test_tags_change_after_two_rotations_so_nothing_links_old_and_new() -> None:
    clock = FakeClock()
    guard = AddressGuard(60, clock)
    first = guard.tags(ADDRESS)
    clock.now += 61
    guard.tags(ADDRESS)
    clock.now += 61
    assert set(guard.tags(ADDRESS)).isdisjoint(first)


def test_rate_limit_per_window() -> None:
    clock = FakeClock()
    guard = AddressGuard(600, clock)
    tags = guard.tags(ADDRESS)
    assert all(guard.allow("challenge", tags, 3, 60) for _ in range(3))
    assert not guard.allow("challenge", tags, 3, 60)
    clock.now += 61
    assert guard.allow("challenge", tags, 3, 60)


def test_token_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=2, clock=clock)
    assert bucket.take() and bucket.take() and not bucket.take()
    clock.now += 1
    assert bucket.take()


def test_pow_difficulty_rises_with_the_queue_and_challenges_are_single_use() -> None:
    clock = FakeClock()
    gate = PowGate(8, 12, clock)
    assert gate.issue(0)["bits"] == 8
    assert gate.issue(40)["bits"] == 10
    assert gate.issue(10_000)["bits"] == 12
    issued = gate.issue(0)
    nonce = crypto.pow_solve(crypto.b64decode(issued["challenge"]), issued["bits"])
    assert gate.redeem(issued["challenge"], nonce)
    assert not gate.redeem(issued["challenge"], nonce)


def test_pow_challenges_expire() -> None:
    clock = FakeClock()
    gate = PowGate(4, 4, clock)
    issued = gate.issue(0)
    nonce = crypto.pow_solve(crypto.b64decode(issued["challenge"]), issued["bits"])
    clock.now += 121
    assert not gate.redeem(issued["challenge"], nonce)


def test_a_sliding_window_limit_holds_across_a_key_rotation() -> None:
    """The return-mail limit (3 per recipient per 24 hours) is strict: a rotation of the key in
    between does not give an address a fresh allowance, and events age out one by one."""
    clock = FakeClock()
    day = 24 * 3600.0
    guard = AddressGuard(day, clock)
    victim = "slachtoffer@example.org"
    clock.now += day / 2  # the key rotates half a day after these three
    assert [guard.allow_recent("return", guard.tags(victim), 3, day) for _ in range(3)] == [True] * 3
    assert not guard.allow_recent("return", guard.tags(victim), 3, day)
    assert guard.allow_recent("return", guard.tags("iemand@example.org"), 3, day)
    clock.now += day - 5  # after the rotation, just before the three age out
    tags = guard.tags(victim)
    assert not guard.allow_recent("return", tags, 3, day)
    clock.now += 10  # now a day has passed since the three
    assert guard.allow_recent("return", guard.tags(victim), 3, day)
    state = pickle.dumps(guard.__dict__ | {"clock": None})
    assert b"slachtoffer" not in state


def test_networks_for_coarse_limits() -> None:
    from server.abuse import network_of
    assert network_of("198.51.100.7") == network_of("198.51.100.200") == "198.51.100.0/24"
    assert network_of("198.51.101.7") != network_of("198.51.100.7")
    assert network_of("2001:db8:1:2ff:3::1") == network_of("2001:db8:1:200::9") == "2001:db8:1:200::/56"
    assert network_of("2001:db8:1:300::1") != network_of("2001:db8:1:200::1")
    assert network_of("::ffff:198.51.100.7") == "198.51.100.0/24"


def test_a_challenge_redeems_only_for_the_purpose_it_was_issued_for() -> None:
    """PROTOCOL.md [M-11-1]: work done to open a chat cannot be spent on a mail assignment, nor back."""
    gate = PowGate(4, 4)
    for issued, spent in (("chat", "mail"), ("mail", "chat")):
        challenge = gate.issue(0, issued)
        nonce = crypto.pow_solve(crypto.b64decode(challenge["challenge"]), challenge["bits"])
        assert not gate.redeem(challenge["challenge"], nonce, spent)
        assert not gate.redeem(challenge["challenge"], nonce, issued)  # and the attempt used it up
        again = gate.issue(0, issued)
        nonce = crypto.pow_solve(crypto.b64decode(again["challenge"]), again["bits"])
        assert gate.redeem(again["challenge"], nonce, issued)
