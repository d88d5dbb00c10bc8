"""The live state in a real Redis (`hub_url`): refused unless it keeps nothing on disk; shared by nodes;
every key ours, expiring, and free of addresses.

Redis is Debian's redis-server, started by tests/services/redis.py in a temporary folder. The
behaviour each implementation must have is in tests/server/test_abuse.py (both implementations);
this file checks what only Redis adds: the persistence check at start-up, what two nodes (two
`Live` connections, two applications) see of each other's state, and what is left in Redis.
"""

from __future__ import annotations

import asyncio
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from server.app import create_app
from server.config import load_config
from server.errors import ConfigError
from server.guards import GUARD, POW
from server.keys import LIVE
from server.live import Live, live_ctx, open_live
from server.live.abuse import RedisAddressGuard, RedisPowGate
from server.live.assignments import RedisAssignments
from server.mail.desk import MAIL_DESK
from tests.conftest import INSECURE_TEST_ENV, REPO, free_port
from tests.helpers import PASSPHRASE, enrolment_body, invite, login_body
from tests.mailclient import MailSeeker, MailVolunteer
from tests.services.redis import RedisServer, start_redis, stop_redis

ADDRESS = "203.0.113.77"  # the test's client (TEST-NET-3): it must never reach Redis, nor its network
NETWORK = "203.0.113.0/24"
FIRST = "Ik durf het thuis niet te zeggen"
INVENTORY = tomllib.loads((REPO / "threat_model" / "data_inventory.toml").read_text(encoding="utf-8"))


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def declared_patterns() -> list[re.Pattern[bytes]]:
    """The key patterns of the inventory's [redis.keys], `<name>` standing for one part without ':'."""
    return [re.compile(re.sub(r"<[a-z_]+>", "[^:]+", re.escape(p)).encode() + rb"\Z")
            for p in INVENTORY["redis"]["keys"]]


def assert_everything_expires_and_names_no_one(redis_server: RedisServer, *secrets_: str,
                                              undeclared: tuple[bytes, ...] = ()) -> dict[bytes, Any]:
    """Every key in Redis is ours (prefix, a pattern the inventory declares, unless it starts with one
    of `undeclared`), has a time to live, and neither it nor its value holds the client's address, its
    network or any of `secrets_`."""
    found = redis_server.dump_all()
    assert found, "the test wrote nothing to Redis"
    patterns = declared_patterns()
    forbidden = [s.encode() for s in (ADDRESS, NETWORK, *secrets_)]
    for key, (kind, pttl, dumped) in found.items():
        assert key.startswith(b"oor:"), key
        assert key.startswith(undeclared or (b"\0",)) or any(p.match(key) for p in patterns), (
            f"{key!r} is not declared in data_inventory.toml [redis.keys]")
        assert pttl > 0, f"{key!r} ({kind}) has no time to live"
        for secret in forbidden:
            assert secret not in key and secret not in dumped, f"{secret!r} in {key!r}"
    return found


# -- the persistence check at start-up ------------------------------------------------------------

@pytest.mark.parametrize("settings,named", [
    (("--save", "900 1"), "save"),
    (("--appendonly", "yes"), "appendonly"),
    (("--rename-command", "CONFIG", ""), "CONFIG GET"),
], ids=["snapshots", "append-only-file", "config-disabled"])
async def test_a_redis_that_may_keep_anything_on_disk_is_refused(settings: tuple[str, ...], named: str) -> None:
    server = start_redis(settings)
    try:
        live = Live(server.url)
        with pytest.raises(ConfigError, match=named) as refused:
            await live.open()
        assert "hub_url" in str(refused.value) and "chats are never stored" in str(refused.value)
        assert live.redis is None
    finally:
        stop_redis(server)


async def test_persistence_switched_on_later_is_refused_at_the_next_start(redis_server: RedisServer,
                                                                          redis_url: str) -> None:
    redis_server.client.config_set("save", "900 1")
    try:
        with pytest.raises(ConfigError, match="save"):
            await Live(redis_url).open()
    finally:
        redis_server.client.config_set("save", "")
    live = Live(redis_url)
    await live.open()
    await live.close()


async def test_a_redis_with_persistence_off_is_accepted(redis_url: str) -> None:
    config = load_config(env={"OOR_HUB_URL": redis_url})
    live = open_live(config)
    assert live.shared and "redis" in repr(live) and redis_url not in repr(live)
    await live.open()
    try:
        assert live.redis is not None and await live.redis.ping()
    finally:
        await live.close()
    in_process = open_live(load_config(env={}))
    await in_process.open()
    assert in_process.redis is None and not in_process.shared


async def test_an_unreachable_or_refusing_redis_stops_start_up_without_showing_the_password() -> None:
    with pytest.raises(ConfigError, match="hub_url") as unreachable:
        await Live(f"redis://:geheim-wachtwoord-1@127.0.0.1:{free_port()}/0").open()
    assert "geheim-wachtwoord-1" not in str(unreachable.value)
    server = start_redis(password="het-goede-wachtwoord")
    try:
        with pytest.raises(ConfigError, match="hub_url") as refused:
            await Live(f"redis://:fout-wachtwoord-2@127.0.0.1:{server.port}/0").open()
        assert "fout-wachtwoord-2" not in str(refused.value) and "het-goede" not in str(refused.value)
        live = Live(server.url)  # the right password
        await live.open()
        await live.close()
    finally:
        stop_redis(server)


# -- two nodes on one Redis -----------------------------------------------------------------------

@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[tuple[Live, Live]]:
    """Two connections, as two web nodes have."""
    a, b = Live(redis_url), Live(redis_url)
    await a.open()
    await b.open()
    yield a, b
    await a.close()
    await b.close()


@pytest.fixture
async def guards(nodes: tuple[Live, Live]) -> AsyncIterator[tuple[RedisAddressGuard, RedisAddressGuard]]:
    a, b = RedisAddressGuard(nodes[0], 1800), RedisAddressGuard(nodes[1], 1800)
    await asyncio.gather(a.start(), b.start())  # at the same moment: one pair is made, both use it
    yield a, b
    await a.stop()
    await b.stop()


async def test_two_nodes_share_the_tag_keys_blocks_and_counters(guards: Any) -> None:
    a, b = guards
    assert a.tags(ADDRESS) == b.tags(ADDRESS) and a.tags(ADDRESS) != a.tags("203.0.113.78")
    await a.block(a.tags(ADDRESS), 60)
    assert await b.is_blocked(b.tags(ADDRESS)) and not await b.is_blocked(b.tags("203.0.113.78"))
    tags = a.tags(ADDRESS)
    assert [await a.allow("login", tags, 3, 60), await b.allow("login", tags, 3, 60),
            await a.allow("login", tags, 3, 60)] == [True] * 3
    await b.refund("login", tags)  # a login that succeeded on b gives the address its attempt back on a
    assert await a.allow("login", tags, 3, 60)
    assert not await b.allow("login", tags, 3, 60) and not await a.allow("login", tags, 3, 60)
    assert [await (a, b)[i % 2].allow_recent("return", tags, 3, 3600) for i in range(4)] == [True] * 3 + [False]


async def test_a_rotation_reaches_every_node_and_a_block_holds_across_it(nodes: tuple[Live, Live]) -> None:
    clock = FakeClock()
    a, b = RedisAddressGuard(nodes[0], 60, clock), RedisAddressGuard(nodes[1], 60, clock)
    await a.start()
    await b.start()
    try:
        before = a.tags(ADDRESS)
        await b.block(b.tags(ADDRESS), 100)
        clock.now += 61
        await a.refresh()  # the first node to find the period over rotates the pair, for everyone
        assert a.tags(ADDRESS)[1] == before[0] and a.tags(ADDRESS)[0] != before[0]
        assert b.tags(ADDRESS) == before  # b's copy until its own refresh: still recognised, as previous
        assert await a.is_blocked(a.tags(ADDRESS)) and await a.is_blocked(b.tags(ADDRESS))
        await b.refresh()  # b takes the pair a made; it does not rotate again
        assert b.tags(ADDRESS) == a.tags(ADDRESS)
        assert await b.is_blocked(b.tags(ADDRESS))
    finally:
        await a.stop()
        await b.stop()


async def test_a_challenge_issued_on_one_node_is_spent_once_on_any(nodes: tuple[Live, Live]) -> None:
    a, b = RedisPowGate(nodes[0], 4, 4), RedisPowGate(nodes[1], 4, 4)
    issued = await a.issue(0, "mail")
    nonce = crypto.pow_solve(crypto.b64decode(issued["challenge"]), issued["bits"])
    assert await b.redeem(issued["challenge"], nonce, "mail")
    assert not await a.redeem(issued["challenge"], nonce, "mail")
    again = await b.issue(0, "chat")
    nonce = crypto.pow_solve(crypto.b64decode(again["challenge"]), again["bits"])
    results = await asyncio.gather(*(gate.redeem(again["challenge"], nonce, "chat") for gate in (a, b, a, b)))
    assert sorted(results) == [False, False, False, True]


async def test_an_assignment_made_on_one_node_is_taken_once_on_any(nodes: tuple[Live, Live]) -> None:
    a, b = RedisAssignments(nodes[0]), RedisAssignments(nodes[1])
    token, thread_id = crypto.new_token(24), crypto.new_mail_thread_id()
    assert await a.add(token, thread_id, 7, 900)
    assert not await b.add(token, crypto.new_mail_thread_id(), 8, 900)  # a token is reserved once
    seen = await b.get(token)
    assert seen is not None and (seen.thread_id, seen.volunteer_id) == (thread_id, 7)
    taken = await asyncio.gather(a.take(token), b.take(token), a.take(token))
    assert [t is not None for t in taken].count(True) == 1
    assert await a.get(token) is None
    await b.put_back(token, seen)  # the thread could not be stored: the help-seeker may try again
    assert (await a.take(token)) is not None
    assert await b.get("x" * 1000) is None and await b.take(12345) is None  # type: ignore[arg-type]


async def test_an_assignment_expires(redis_url: str) -> None:
    clock = FakeClock()
    live = Live(redis_url)
    await live.open()
    try:
        store = RedisAssignments(live, clock)
        assert await store.add("t" * 32, bytes(16), 1, 900)
        clock.now += 901
        assert await store.get("t" * 32) is None and await store.take("t" * 32) is None
    finally:
        await live.close()


async def test_every_key_has_a_time_to_live_and_no_address(guards: Any, nodes: tuple[Live, Live],
                                                           redis_server: RedisServer) -> None:
    a, b = guards
    for guard in guards:
        tags = guard.tags(ADDRESS)
        await guard.block(tags, 60)
        await guard.allow("smtp", tags, 5, 60)
        await guard.allow("smtp-net", guard.tags(NETWORK), 5, 60)
        await guard.refund("smtp", tags)
        await guard.allow_recent("return", guard.tags("slachtoffer@example.org"), 3, 86400)
    gate = RedisPowGate(nodes[0], 4, 4)
    unspent = await gate.issue(0)
    spent = await gate.issue(0, "mail")
    assert await gate.redeem(spent["challenge"], crypto.pow_solve(crypto.b64decode(spent["challenge"]), 4), "mail")
    store = RedisAssignments(nodes[1])
    assert await store.add(crypto.new_token(24), crypto.new_mail_thread_id(), 3, 900)
    found = assert_everything_expires_and_names_no_one(redis_server, "slachtoffer")
    kinds = {key.split(b":")[1] + b":" + key.split(b":")[2] for key in found}
    assert {b"guard:keys", b"guard:block", b"guard:count", b"guard:recent", b"pow:issued",
            b"mail:assign"} <= kinds
    assert Live.key("pow", unspent["challenge"]) in found and Live.key("pow", spent["challenge"]) not in found


# -- two applications ("nodes") on one Redis and one PostgreSQL ------------------------------------

def node_app(tmp_path: Path, name: str, database_url: str, redis_url: str) -> Any:
    config = load_config(env=INSECURE_TEST_ENV, overrides={
        "data_dir": str(tmp_path / name), "database_url": database_url, "hub_url": redis_url,
        "client_address_header": "X-Real-IP", "chat_challenges_per_minute": 4,
        # Nodes of one deployment sign the checkpoints of their one log with one log key (issue 17).
        "log_key_file": str(tmp_path / "log.key")})
    app = create_app(config)
    if live_ctx not in app.cleanup_ctx:  # until create_app adds it itself
        app.cleanup_ctx.append(live_ctx)
    return app


async def test_two_nodes_behind_a_proxy_share_challenges_assignments_and_limits(
        aiohttp_client: Any, tmp_path: Path, postgres_database: Any, redis_url: str,
        redis_server: RedisServer) -> None:
    node_a = await aiohttp_client(node_app(tmp_path, "a", postgres_database.url, redis_url))
    node_b = await aiohttp_client(node_app(tmp_path, "b", postgres_database.url, redis_url))
    for node in (node_a, node_b):
        app = node.server.app
        assert app[LIVE].redis is not None and isinstance(app[GUARD], RedisAddressGuard)
        assert isinstance(app[POW], RedisPowGate) and isinstance(app[MAIL_DESK].assignments, RedisAssignments)

    def browser(node: Any) -> aiohttp.ClientSession:  # the proxy tells each node the client's address
        return aiohttp.ClientSession(base_url=str(node.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     headers={"X-Real-IP": ADDRESS})

    volunteer_http, seeker_a, seeker_b = browser(node_a), browser(node_a), browser(node_b)
    try:
        identity = crypto.new_identity()
        token = await invite(node_a, "Sanne")
        assert (await volunteer_http.post("/api/enrol", json=enrolment_body(token, identity=identity))).status == 201
        login = await login_body(volunteer_http, "Sanne", PASSPHRASE)
        assert (await volunteer_http.post("/api/login", json=login)).status == 200
        volunteer = MailVolunteer(volunteer_http, identity)
        await volunteer.available(True)
        from server.keys import STORAGE as STORED
        from tests.transparency import wait_ready
        for node in (node_a, node_b):  # the signing robot's statement, logged and seen by both nodes
            await wait_ready(node.server.app, name="Sanne")
        for _ in range(600):  # and key_ready in the storage, which the mail choice reads (a node that was a
            # refresh behind may have written its older view once: it catches up within log_refresh_seconds)
            if (await node_a.server.app[STORED].volunteer_by_name("Sanne")).key_ready:
                break
            await asyncio.sleep(0.05)

        # The challenge from node A, the assignment from node B, the thread stored through node A.
        challenge = await (await seeker_a.post("/api/mail/challenge")).json()
        nonce = crypto.b64encode(crypto.pow_solve(crypto.b64decode(challenge["challenge"]), challenge["bits"]))
        solved = {"challenge": challenge["challenge"], "nonce": nonce}
        assigned = await seeker_b.post("/api/mail/assign", json=solved)
        assert assigned.status == 200, await assigned.text()
        assert (await seeker_a.post("/api/mail/assign", json=solved)).status == 400  # spent, on any node
        assignment = await assigned.json()
        seeker = MailSeeker(seeker_a)
        created = await seeker.create(assignment, FIRST)
        assert created.status == 201, await created.text()
        again = await MailSeeker(seeker_b).create(assignment, FIRST)  # the same assignment, on the other node
        assert again.status == 400 and (await again.json())["field"] == "assignment"
        inbox = await volunteer.inbox()
        assert len(inbox) == 1
        _, texts = await volunteer.read(inbox[0]["thread"])
        assert texts == [(1, FIRST)]

        # The per-address limit (4 challenges a minute) counts on both nodes together.
        answers = [(await (seeker_a, seeker_b)[i % 2].post("/api/mail/challenge")).status for i in range(4)]
        assert answers == [200, 200, 200, 429]  # one was used above

        # The chat hub's keys (oor:hub:…) included.
        assert_everything_expires_and_names_no_one(redis_server, FIRST, seeker.token, PASSPHRASE)
    finally:
        for http in (volunteer_http, seeker_a, seeker_b):
            await http.close()
