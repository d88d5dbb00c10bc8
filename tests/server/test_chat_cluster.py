"""Two web nodes sharing the live chat through a real Redis (server/chat/cluster.py).

Both nodes are real aiohttp servers in this process, on the test's database and the session's
Redis; the parties are the Python protocol clients doing the real crypto. The journey through
nginx and real processes, with rolling restarts and a kill, is tests/deploy/test_cluster_journey.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import aiohttp
import pytest

import crypto
from server.app import create_app
from server.chat.cluster import CHATS_KEY, CLOSE_MOVED, CLUSTER, LEADER_KEY
from tests.chatclient import Seeker, Volunteer
from tests.helpers import logged_in_volunteer
from tests.server.test_live_redis import declared_patterns

PLAIN = ("Ik voel me zo alleen vandaag", "Fijn dat je er bent", "Nog steeds hier", "Ik ook")


def origin(client: Any) -> dict[str, str]:
    return {"Origin": str(client.make_url("")).rstrip("/")}


async def until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def nodes(aiohttp_client: Any, insecure_kdf_config: Any, redis_url: str) -> Any:
    config = dataclasses.replace(insecure_kdf_config, hub_url=redis_url)
    frames: list[str] = []
    a = await aiohttp_client(create_app(config, frame_observer=lambda d, f: frames.append(f)))
    await until(lambda: a.server.app[CLUSTER].leader is not None and a.server.app[CLUSTER].leader.ready)
    b = await aiohttp_client(create_app(config, frame_observer=lambda d, f: frames.append(f)))
    return a, b, frames


async def frames_until_close(ws: Any) -> list[Any]:
    """The types of the frames a socket gets until it is closed, then the close code it was sent
    (the code in the close frame: what a browser reports)."""
    seen: list[Any] = []
    while True:
        message = await ws.receive(timeout=5)
        if message.type is aiohttp.WSMsgType.CLOSE:
            return [*seen, message.data]
        if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return [*seen, None]
        seen.append(message.json()["t"])


async def volunteer_ws(login: Any, node: Any) -> Any:
    """The volunteer logged in on `login`; its socket on `node` (the session cookie carried over)."""
    cookies = {c.key: c.value for c in login.session.cookie_jar}
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return await node.session.ws_connect(node.make_url("/ws/volunteer"),
                                         headers={**origin(node), "Cookie": header})


async def test_a_chat_across_two_nodes_goes_through_redis_and_survives_the_leader_draining(
        nodes: Any, redis_server: Any) -> None:
    a, b, frames = nodes
    identity = await logged_in_volunteer(a, "Sanne")
    volunteer = Volunteer(await volunteer_ws(a, b), identity)  # the volunteer on node B
    await volunteer.next("queue")
    await volunteer.available(True)
    async with aiohttp.ClientSession(base_url=str(a.make_url(""))) as http:
        await until(lambda: True)
        deadline = time.monotonic() + 5
        while not (await (await http.get("/api/chat/status")).json())["available"]:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        s = Seeker(await http.ws_connect("/ws/chat", headers=origin(a)))  # the help-seeker on node A
        await s.open(http)
        chat_id = await volunteer.pick_up()
        await s.connected()
        await s.say(PLAIN[0])
        assert await volunteer.hear() == (chat_id, PLAIN[0])
        await volunteer.say(chat_id, PLAIN[1])
        assert await s.hear() == PLAIN[1]

        # Redis holds the chat, with a TTL on every key, and no message text or address.
        dump = redis_server.dump_all()
        assert CHATS_KEY in dump and LEADER_KEY in dump
        patterns = declared_patterns()  # threat_model/data_inventory.toml [redis.keys]
        for key, (_, ttl, _) in dump.items():
            assert ttl > 0, key
            assert any(p.match(key) for p in patterns), key
        everything = b" ".join(k + v[2] for k, v in dump.items())
        for text in PLAIN:
            assert text.encode() not in everything
        assert b"127.0.0.1" not in everything

        # Node A leads and drains: both pages are told to reconnect (1012), node B takes the lead.
        leader_app = a.server.app
        assert leader_app[CLUSTER].leader is not None
        await leader_app[CLUSTER].drain()
        assert await frames_until_close(s.ws) == [CLOSE_MOVED]  # and nothing else: no "peer-away", no "ended"
        await until(lambda: b.server.app[CLUSTER].leader is not None and b.server.app[CLUSTER].leader.ready)

    # The volunteer's socket on B is closed too (the new leader never knew it): both resume on B.
    seen = await frames_until_close(volunteer.ws)
    assert seen[-1] == CLOSE_MOVED and not {"ended", "peer-away"} & set(seen)
    volunteer.ws = await volunteer_ws(a, b)
    await volunteer.ws.send_json({"t": "resume", "chats": [
        {"chat": crypto.b64encode(chat_id), "received": volunteer.sessions[chat_id].received}]})
    resumed = await volunteer.next("resumed")
    assert resumed["acked"] == volunteer.sessions[chat_id].sent
    async with aiohttp.ClientSession(base_url=str(b.make_url(""))) as http:
        s.ws = await http.ws_connect("/ws/chat", headers=origin(b))
        await s.ws.send_json({"t": "resume", "chat": crypto.b64encode(chat_id), "resume": s.resume,
                              "received": s.session.received})
        back = await s.next("resumed")
        assert back["state"] == "active" and back["acked"] == s.session.sent
        await s.say(PLAIN[2])
        assert await volunteer.hear() == (chat_id, PLAIN[2])
        await volunteer.say(chat_id, PLAIN[3])
        assert await s.hear() == PLAIN[3]
    assert all(text not in " ".join(frames) for text in PLAIN)


async def test_a_leader_that_lost_its_lease_writes_and_delivers_nothing_more(nodes: Any, redis_server: Any) -> None:
    """Fencing: every write of the leader checks its token in the same script. A leader whose lease
    another holder took (a long stall, a partition) can no longer change the state in Redis or get a
    frame to any page; it steps down, and the pages resume with whoever leads next."""
    a, b, _ = nodes
    identity = await logged_in_volunteer(a, "Sanne")
    volunteer = Volunteer(await volunteer_ws(a, b), identity)
    await volunteer.next("queue")
    await volunteer.available(True)
    async with aiohttp.ClientSession(base_url=str(a.make_url(""))) as http:
        deadline = time.monotonic() + 5
        while not (await (await http.get("/api/chat/status")).json())["available"]:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        s = Seeker(await http.ws_connect("/ws/chat", headers=origin(a)))
        await s.open(http)
        chat_id = await volunteer.pick_up()
        await s.connected()
        cluster = a.server.app[CLUSTER]
        leader = cluster.leader
        assert leader is not None
        before = redis_server.dump_all()[CHATS_KEY]
        # Someone else holds the lease now (as if this leader had stalled past it).
        redis_server.client.set(LEADER_KEY, b"somebody-else", px=60_000)
        await volunteer.say(chat_id, PLAIN[1])
        with pytest.raises(asyncio.TimeoutError):
            while True:  # nothing reaches the help-seeker: not the message, nothing else either
                message = await s.ws.receive(timeout=2)
                assert message.type is not aiohttp.WSMsgType.TEXT, message.data
        await until(lambda: cluster.leader is not leader)
        assert leader.deposed
        assert redis_server.dump_all()[CHATS_KEY][2] == before[2]  # the chat's state is as it was
        assert redis_server.client.get(LEADER_KEY) == b"somebody-else"


async def test_every_node_answers_the_leaders_figures(nodes: Any) -> None:
    """/api/chat/status and the coordinator's live figures on a node that does not lead come from
    what the leader writes into Redis (about once a second), not from the node's own empty hub."""
    a, b, _ = nodes
    identity = await logged_in_volunteer(a, "Sanne")
    volunteer = Volunteer(await volunteer_ws(a, a), identity)  # on the leading node
    await volunteer.next("queue")
    await volunteer.available(True)
    from server.coordinator import live_figures
    deadline = time.monotonic() + 5
    while not (await (await b.get("/api/chat/status")).json())["available"]:
        assert time.monotonic() < deadline, "node B never heard that a volunteer is available"
        await asyncio.sleep(0.1)
    figures = await live_figures(b.server.app)
    assert figures["chat"]["volunteers_available"] == 1 and figures["chat"]["waiting"] == 0
    assert b.server.app[CLUSTER].leader is None  # B does not lead: these came through Redis
