"""Issue 15, point 11: the help-seeker's grace period is its own (`chat_seeker_grace_seconds`).

A phone in a pocket takes minutes to come back, a volunteer's console on a desk seconds: the hub keeps
a chat whose help-seeker's page is gone for the help-seeker's grace period, and one whose volunteer's
page is gone for `chat_grace_seconds`, as before. In a cluster the Redis keys that a page resumes from
live as long as the longer of the two (and are renewed by the leader while it leads). A chat answered
while the help-seeker's page was away (a phone in a pocket while waiting) still starts when the page is
back: the page gets the volunteer's signed key at its resume. Real websockets, the real protocol
(tests/chatclient.py), the real Redis of the session for the cluster.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import aiohttp
import pytest

import crypto
from client.chat import checked_session
from server.app import create_app
from server.chat.cluster import CHATS_KEY, CLUSTER, backlog_key, ttl_ms
from server.chat.hub import CHAT_HUB
from server.chat.room import TO_SEEKER
from server.config import load_config
from tests.chatclient import Seeker, Volunteer
from tests.conftest import INSECURE_TEST_ENV
from tests.helpers import logged_in_volunteer

VOLUNTEER_GRACE_S = 1
SEEKER_GRACE_S = 4


def origin(client: Any) -> dict[str, str]:
    return {"Origin": str(client.make_url("")).rstrip("/")}


def short_graces(tmp_path: Any, database: Any, **extra: Any) -> Any:
    return load_config(env={**INSECURE_TEST_ENV, "OOR_CHAT_GRACE_SECONDS": str(VOLUNTEER_GRACE_S),
                            "OOR_CHAT_SEEKER_GRACE_SECONDS": str(SEEKER_GRACE_S)},
                       overrides={"data_dir": str(tmp_path / "var"), "database_url": database.url, **extra})


async def on_duty(relay: Any, name: str = "Sanne") -> Volunteer:
    identity = await logged_in_volunteer(relay, name)
    volunteer = Volunteer(await relay.ws_connect("/ws/volunteer", headers=origin(relay)), identity)
    await volunteer.next("queue")
    await volunteer.available(True)
    return volunteer


async def until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def resume(s: Seeker, http: aiohttp.ClientSession, relay: Any) -> None:
    s.ws = await http.ws_connect("/ws/chat", headers=origin(relay))
    await s.ws.send_json({"t": "resume", "chat": crypto.b64encode(s.chat_id), "resume": s.resume,
                          "received": s.session.received if s.session else 0})


async def frames_for(ws: Any, seconds: float) -> list[dict[str, Any]]:
    """Every frame a socket gets in the next `seconds`."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(await ws.receive_json(timeout=left))
        except (asyncio.TimeoutError, TimeoutError):
            break
    return got


def test_the_redis_ttl_follows_the_longer_grace_period(insecure_kdf_config: Any) -> None:
    assert insecure_kdf_config.chat_seeker_grace_seconds == 600 and insecure_kdf_config.chat_grace_seconds == 60
    assert ttl_ms(insecure_kdf_config) == 630_000
    assert ttl_ms(dataclasses.replace(insecure_kdf_config, chat_seeker_grace_seconds=30)) == 90_000


async def test_a_seekers_page_away_longer_than_a_volunteers_grace_keeps_its_chat_until_its_own_grace_ends(
        aiohttp_client: Any, tmp_path: Any, database: Any) -> None:
    relay = await aiohttp_client(create_app(short_graces(tmp_path, database)))
    hub = relay.server.app[CHAT_HUB]
    async with aiohttp.ClientSession(base_url=str(relay.make_url(""))) as http:
        volunteer = await on_duty(relay)
        s = Seeker(await http.ws_connect("/ws/chat", headers=origin(relay)))
        await s.open(http)
        chat_id = await volunteer.pick_up()
        await s.connected()
        gone = time.monotonic()
        await s.ws.close()
        assert (await volunteer.next("peer-away"))["chat"] == crypto.b64encode(chat_id)
        await asyncio.sleep(max(0.0, gone + VOLUNTEER_GRACE_S + 1.0 - time.monotonic()))
        assert chat_id in hub.chats  # past a volunteer's grace: the help-seeker's chat is still there
        ended = await volunteer.next("ended")
        assert ended["reason"] == "timeout" and ended["chat"] == crypto.b64encode(chat_id)
        assert time.monotonic() - gone >= SEEKER_GRACE_S - 0.2


async def test_a_volunteers_page_away_still_ends_the_chat_after_its_own_shorter_grace(
        aiohttp_client: Any, tmp_path: Any, database: Any) -> None:
    relay = await aiohttp_client(create_app(short_graces(tmp_path, database)))
    async with aiohttp.ClientSession(base_url=str(relay.make_url(""))) as http:
        volunteer = await on_duty(relay)
        s = Seeker(await http.ws_connect("/ws/chat", headers=origin(relay)))
        await s.open(http)
        await volunteer.pick_up()
        await s.connected()
        gone = time.monotonic()
        await volunteer.ws.close()
        assert (await s.next("ended"))["reason"] == "timeout"  # within 1 s: before any "peer-away" (3 s)
        assert time.monotonic() - gone < SEEKER_GRACE_S - 0.5


async def test_a_chat_answered_while_the_seekers_page_was_away_starts_when_it_is_back(
        aiohttp_client: Any, tmp_path: Any, database: Any) -> None:
    relay = await aiohttp_client(create_app(short_graces(tmp_path, database, chat_seeker_grace_seconds=60)))
    async with aiohttp.ClientSession(base_url=str(relay.make_url(""))) as http:
        volunteer = await on_duty(relay)
        s = Seeker(await http.ws_connect("/ws/chat", headers=origin(relay)))
        await s.open(http)
        await s.ws.close()  # waiting, and the phone goes into a pocket
        await asyncio.sleep(0.2)
        chat_id = await volunteer.pick_up()
        # The volunteer is told the page is away (its 3 s notice ran before anyone answered).
        assert (await volunteer.next("peer-away"))["chat"] == crypto.b64encode(chat_id)
        await resume(s, http, relay)
        resumed = await s.next("resumed")
        assert resumed["state"] == "active"
        connected = await s.next("connected")
        s.session = checked_session(connected, s.chat_id, s.keys)  # the volunteer's signed key, checked
        assert connected["name"] == "Sanne"
        assert (await volunteer.next("peer-back"))["chat"] == crypto.b64encode(chat_id)
        await s.say("Daar ben ik weer")
        assert await volunteer.hear() == (chat_id, "Daar ben ik weer")
        await volunteer.say(chat_id, "Fijn, vertel maar")
        assert await s.hear() == "Fijn, vertel maar"

        # A page that has its session is not sent `connected` again.
        await s.ws.close()
        await asyncio.sleep(0.2)
        await resume(s, http, relay)
        assert [f["t"] for f in await frames_for(s.ws, 1.0)] == ["resumed"]
        # The hub forgets the frame with the chat.
        await volunteer.ws.send_json({"t": "end", "chat": crypto.b64encode(chat_id)})
        await s.next("ended")
        assert relay.server.app[CHAT_HUB].connected_frames == {}


@pytest.fixture
async def two_nodes(aiohttp_client: Any, tmp_path: Any, database: Any, redis_url: str) -> Any:
    config = short_graces(tmp_path, database, hub_url=redis_url, chat_seeker_grace_seconds=60)
    a = await aiohttp_client(create_app(config))
    await until(lambda: a.server.app[CLUSTER].leader is not None and a.server.app[CLUSTER].leader.ready)
    b = await aiohttp_client(create_app(config))
    return a, b, config


async def test_in_a_cluster_the_keys_a_page_resumes_from_live_as_long_as_the_seekers_grace_and_are_renewed(
        two_nodes: Any, redis_server: Any) -> None:
    a, b, config = two_nodes
    ttl = ttl_ms(config)
    assert ttl == (60 + 30) * 1000  # the help-seeker's 60 s, not the volunteer's 1 s
    identity = await logged_in_volunteer(a, "Sanne")
    cookies = "; ".join(f"{c.key}={c.value}" for c in a.session.cookie_jar)
    volunteer = Volunteer(await b.session.ws_connect(b.make_url("/ws/volunteer"),
                                                     headers={**origin(b), "Cookie": cookies}), identity)
    await volunteer.next("queue")
    await volunteer.available(True)
    async with aiohttp.ClientSession(base_url=str(a.make_url(""))) as http:
        deadline = time.monotonic() + 10
        while not (await (await http.get("/api/chat/status")).json())["available"]:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        s = Seeker(await http.ws_connect("/ws/chat", headers=origin(a)))
        await s.open(http)
        chat_id = await volunteer.pick_up()
        await s.connected()
        await s.ws.close()
        await volunteer.next("peer-away")
        await volunteer.say(chat_id, "Ben je er nog?")
        backlog = backlog_key(chat_id, TO_SEEKER)
        client = redis_server.client
        await until(lambda: client.exists(backlog) == 1)
        assert ttl - 2000 < client.pttl(backlog) <= ttl
        assert ttl - 2000 < client.pttl(CHATS_KEY) <= ttl
        # Nothing changes for a few seconds: the leader renews both (about once a second) all the same.
        await asyncio.sleep(3.5)
        assert client.pttl(backlog) > ttl - 2000, "the away page's backlog is not renewed"
        assert client.pttl(CHATS_KEY) > ttl - 2000, "the chats' hash is not renewed"
        # And the page resumes past the volunteer's grace period, with what it missed.
        await resume(s, http, a)
        assert (await s.next("resumed"))["state"] == "active"
        assert await s.hear() == "Ben je er nog?"
