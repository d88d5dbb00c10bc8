"""Idle chat sockets cannot exhaust the server (issue 11, finding 4).

A help-seeker socket costs a file descriptor before any proof-of-work. These tests pin
the caps in front of `/ws/chat` (per address tag for sockets without a chat, and in
all), the open timeout, that a flood of refusals costs no log line each, that the
counts never leak, and that a real `oor serve` raises its open file limit and keeps
its log small when it runs out of descriptors anyway.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import socket
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

import crypto
from server.app import create_app
from server.chat.limits import SocketLimits, socket_limits
from server.http import PrivateAccessLogger
from server.chat.hub import CHAT_HUB
from tests.chatclient import Seeker, Volunteer
from tests.conftest import start_live_server, stop_live_server
from tests.helpers import logged_in_volunteer

ADDRESS_A, ADDRESS_B = "198.51.100.7", "203.0.113.9"
UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


async def app_client(aiohttp_client: Any, config: Any, clock: Any, **changes: Any) -> Any:
    """The real app behind a proxy that names the client in X-Real-IP, with the service's own access log."""
    config = dataclasses.replace(config, client_address_header="X-Real-IP", **changes)
    server = TestServer(create_app(config, clock=clock))
    await server.start_server(access_log_class=PrivateAccessLogger, access_log=logging.getLogger("oor.access"))
    return await aiohttp_client(server)


@pytest.fixture
async def relay(aiohttp_client: Any, insecure_kdf_config: Any, clock: Any) -> Any:
    return await app_client(aiohttp_client, insecure_kdf_config, clock)


@pytest.fixture
async def http(relay: Any) -> AsyncIterator[aiohttp.ClientSession]:
    """The help-seekers' HTTP client: no volunteer cookies."""
    async with aiohttp.ClientSession(base_url=str(relay.make_url(""))) as session:
        yield session


def headers(client: Any, address: str) -> dict[str, str]:
    return {"Origin": str(client.make_url("")).rstrip("/"), "X-Real-IP": address}


async def connect(client: Any, http: aiohttp.ClientSession, address: str) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect("/ws/chat", headers=headers(client, address))


async def refused(client: Any, http: aiohttp.ClientSession, address: str) -> tuple[int, dict[str, Any], Any]:
    """Try an upgrade; return the refusal's status, JSON body and headers."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await connect(client, http, address)
    # The same upgrade by hand, to read the body a websocket client never shows.
    async with http.get("/ws/chat", headers={**headers(client, address), **UPGRADE}) as resp:
        assert resp.status == err.value.status
        assert resp.content_type == "application/json"
        return resp.status, await resp.json(), resp.headers


async def volunteer_on_duty(client: Any) -> Volunteer:
    identity = await logged_in_volunteer(client, "Sanne")
    ws = await client.ws_connect("/ws/volunteer", headers=headers(client, "192.0.2.1"))
    volunteer = Volunteer(ws, identity)
    await volunteer.next("queue")
    await volunteer.available(True)
    return volunteer


async def settled(condition: Callable[[], bool], within: float = 5.0) -> bool:
    """Whether the server side reaches `condition` (its handlers finish after the client returns)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def nothing_counted(limits: SocketLimits) -> Callable[[], bool]:
    return lambda: limits.open == 0 and limits.idle == {}


def open_frame(challenge: str, nonce: bytes, seeker: Seeker) -> dict[str, str]:
    return {"t": "open", "challenge": challenge, "nonce": crypto.b64encode(nonce),
            "pub": crypto.b64encode(seeker.keys.public)}


async def raw_upgrade(client: Any, address: str) -> asyncio.StreamWriter:
    """A websocket upgrade over a bare TCP connection, so the test can drop it without a close frame."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    lines = [f"GET /ws/chat HTTP/1.1", f"Host: {client.host}:{client.port}",
             *(f"{k}: {v}" for k, v in {**headers(client, address), **UPGRADE}.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return writer


async def test_idle_sockets_are_capped_per_address_but_chats_are_not(relay: Any, http: Any) -> None:
    await volunteer_on_duty(relay)
    idle = [await connect(relay, http, ADDRESS_A) for _ in range(8)]
    status, body, _ = await refused(relay, http, ADDRESS_A)
    assert status == 429 and body["error"] == "too-many-requests" and set(body["message"]) == {"nl", "en"}
    other = await connect(relay, http, ADDRESS_B)  # another address is not affected
    assert not other.closed
    # Once one of the eight opens a chat it no longer counts: one more idle socket is let in, not two.
    assert (await Seeker(idle[0]).open(http))["t"] == "queued"
    ninth = await connect(relay, http, ADDRESS_A)
    assert (await refused(relay, http, ADDRESS_A))[0] == 429
    # Many people behind one NAT: twenty chats waiting from one address are all fine.
    await ninth.close()
    limits = socket_limits(relay.server.app)
    assert await settled(lambda: sum(limits.idle.values()) == 8)  # seven of address A, one of B
    chats = []
    for _ in range(20):  # each connects beside seven idle ones, then opens its chat
        chats.append(Seeker(await connect(relay, http, ADDRESS_A)))
        assert (await chats[-1].open(http))["t"] == "queued"
    assert len(relay.server.app[CHAT_HUB].queue.waiting()) == 21
    assert limits.open == 7 + 1 + 21 and all(not s.ws.closed for s in chats)
    idle.append(await connect(relay, http, ADDRESS_A))
    assert (await refused(relay, http, ADDRESS_A))[0] == 429  # eight idle ones again, beside 21 chats


async def test_total_cap_answers_503(aiohttp_client: Any, insecure_kdf_config: Any, clock: Any) -> None:
    client = await app_client(aiohttp_client, insecure_kdf_config, clock, chat_sockets_max=3)
    async with aiohttp.ClientSession(base_url=str(client.make_url(""))) as http:
        await volunteer_on_duty(client)
        chatting = Seeker(await connect(client, http, "192.0.2.10"))
        assert (await chatting.open(http))["t"] == "queued"  # sockets in a chat count towards the total
        second = await connect(client, http, "192.0.2.11")
        third = await connect(client, http, "192.0.2.12")
        status, body, resp_headers = await refused(client, http, "192.0.2.13")
        assert status == 503 and body["error"] == "busy" and "113" in body["message"]["nl"]
        assert resp_headers["Retry-After"] == "60"
        await second.close()
        assert await settled(lambda: socket_limits(client.server.app).open == 2)
        fourth = await connect(client, http, "192.0.2.13")
        assert not (fourth.closed or third.closed)


async def test_socket_without_a_chat_is_closed_after_the_open_timeout(
        aiohttp_client: Any, insecure_kdf_config: Any, clock: Any) -> None:
    client = await app_client(aiohttp_client, insecure_kdf_config, clock, chat_open_timeout_seconds=1)
    async with aiohttp.ClientSession(base_url=str(client.make_url(""))) as http:
        await volunteer_on_duty(client)
        idle = await connect(client, http, ADDRESS_A)
        chatting = Seeker(await connect(client, http, ADDRESS_A))
        assert (await chatting.open(http))["t"] == "queued"
        started = time.monotonic()
        frame = await idle.receive_json(timeout=10)
        assert frame["t"] == "error" and frame["code"] == "open-timeout" and set(frame["message"]) == {"nl", "en"}
        closing = await idle.receive(timeout=10)
        assert closing.type is aiohttp.WSMsgType.CLOSE and idle.close_code == 4008  # >= 4000: the page gives up
        assert 0.5 < time.monotonic() - started < 8
        # The socket with a chat stays open past the timeout and still answers.
        await asyncio.sleep(1.5)
        await chatting.ws.send_json(open_frame(crypto.new_token(24), bytes(8), chatting))
        assert (await chatting.next("error"))["code"] == "already-open"
        limits = socket_limits(client.server.app)
        assert await settled(lambda: limits.open == 1 and limits.idle == {})


async def test_counts_are_given_back_on_every_exit_path(
        aiohttp_client: Any, insecure_kdf_config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await app_client(aiohttp_client, insecure_kdf_config, clock, chat_open_timeout_seconds=1)
    app = client.server.app
    limits = socket_limits(app)
    async with aiohttp.ClientSession(base_url=str(client.make_url(""))) as http:
        await volunteer_on_duty(client)
        # The help-seeker closes an idle socket.
        ws = await connect(client, http, ADDRESS_A)
        assert limits.open == 1 and len(limits.idle) == 1
        await ws.close()
        assert await settled(nothing_counted(limits))
        # The help-seeker ends a chat.
        s = Seeker(await connect(client, http, ADDRESS_A))
        await s.open(http)
        await s.ws.send_json({"t": "end"})
        assert await settled(nothing_counted(limits))
        # A resume with an unknown chat id.
        ws = await connect(client, http, ADDRESS_A)
        await ws.send_json({"t": "resume", "chat": crypto.b64encode(bytes(16)), "resume": crypto.new_token(32),
                            "received": 0})
        assert (await ws.receive_json(timeout=10))["reason"] == "unknown"
        assert await settled(nothing_counted(limits))
        # The open timeout.
        ws = await connect(client, http, ADDRESS_A)
        assert (await ws.receive_json(timeout=10))["code"] == "open-timeout"
        assert (await ws.receive(timeout=10)).type is aiohttp.WSMsgType.CLOSE  # the client answers the close
        assert await settled(nothing_counted(limits))
        # An unexpected exception in the handler.
        async def broken(*args: Any) -> None:
            raise RuntimeError("boom")
        monkeypatch.setattr(app[CHAT_HUB], "open_chat", broken)
        s = Seeker(await connect(client, http, ADDRESS_A))
        challenge = await (await http.post("/api/chat/challenge")).json()
        nonce = crypto.pow_solve(crypto.b64decode(challenge["challenge"]), challenge["bits"])
        await s.ws.send_json(open_frame(challenge["challenge"], nonce, s))
        ended = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        assert (await s.ws.receive(timeout=10)).type in ended
        assert await settled(nothing_counted(limits))
        # The connection drops without a close frame (the handler is cancelled).
        monkeypatch.undo()
        writer = await raw_upgrade(client, ADDRESS_A)
        assert limits.open == 1
        writer.transport.abort()
        assert await settled(nothing_counted(limits))
        # A refusal counts nothing.
        idle = [await connect(client, http, ADDRESS_A) for _ in range(8)]
        await refused(client, http, ADDRESS_A)
        assert limits.open == 8 and sum(limits.idle.values()) == 8
        for ws in idle:
            await ws.close()
        assert await settled(nothing_counted(limits))


async def test_refusals_are_summed_up_not_logged_one_by_one(
        aiohttp_client: Any, insecure_kdf_config: Any, clock: Any, caplog: pytest.LogCaptureFixture) -> None:
    client = await app_client(aiohttp_client, insecure_kdf_config, clock, chat_idle_sockets_per_address=1)
    limits = socket_limits(client.server.app)
    async with aiohttp.ClientSession(base_url=str(client.make_url(""))) as http:
        held = await connect(client, http, ADDRESS_A)
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            for address, status in ((ADDRESS_A, 429), (ADDRESS_B, 503)):
                if status == 503:
                    limits.total = limits.open
                for _ in range(50):
                    async with http.get("/ws/chat", headers={**headers(client, address), **UPGRADE}) as resp:
                        assert resp.status == status
            during = [r for r in caplog.records if r.name.startswith(("oor", "aiohttp"))]
            limits.report()  # what the minute's timer does
        assert len(during) <= 2, [r.getMessage() for r in during]
        assert not held.closed
        summary = [r.getMessage() for r in caplog.records if r.name == "oor.chat"]
        assert summary == ["refused 100 chat connections in the last minute (per-address cap: 50, total cap: 50)"]
        # An ordinary request is still in the access log; its line names no address.
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="oor.access"):
            await http.get("/api/health", headers=headers(client, ADDRESS_A))
        lines = [r.getMessage() for r in caplog.records if r.name == "oor.access"]
        assert len(lines) == 1 and "/api/health" in lines[0] and ADDRESS_A not in lines[0]


def open_file_limit(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open file limit in /proc")


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="needs Linux /proc")
def test_oor_serve_raises_its_file_limit_and_keeps_the_log_small_when_out_of_descriptors(
        tmp_path: Path, database: Any) -> None:
    server = start_live_server(tmp_path, rlimit_nofile=(256, 512), database=database)
    sockets: list[socket.socket] = []
    try:
        assert open_file_limit(server.process.pid) == (512, 512)
        assert "open file limit raised from 256 to 512" in server.read_output()
        port = int(server.url.rsplit(":", 1)[1])
        # Open connections until the server says it ran out (more than its 512 descriptors are
        # needed; how fast the kernel completes them varies, so wait for the line, not a set time).
        out_of_descriptors = time.monotonic() + 30
        while not any("accept" in line for line in server.read_output().splitlines()):
            assert time.monotonic() < out_of_descriptors, "the server never ran out of descriptors"
            for _ in range(100 if len(sockets) < 2000 else 0):
                s = socket.socket()
                s.setblocking(False)
                if s.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS):
                    s.close()
                    continue
                sockets.append(s)
            time.sleep(0.5)
        time.sleep(2)  # asyncio retries a failed accept every second: more failures, still one line
        for s in sockets:
            s.close()
        sockets.clear()
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/api/health", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        output = server.read_output()
        accept_lines = [line for line in output.splitlines() if "accept" in line]
        assert 1 <= len(accept_lines) < 20, output[-3000:]
        assert len(output) < 20_000
    finally:
        for s in sockets:
            s.close()
        stop_live_server(server)


def test_accept_errors_are_logged_once_a_minute_with_a_count() -> None:
    from server.cli import AcceptErrorThrottle
    now = [1000.0]
    throttle = AcceptErrorThrottle(clock=lambda: now[0])
    exc = OSError(errno.EMFILE, "Too many open files")

    def record() -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1,
                                 "socket.accept() out of system resource\nsocket: <fd=6>", None, (OSError, exc, None))

    kept = []
    for step in range(3001):  # 50 a second for a minute, and one more
        now[0] = 1000.0 + step / 50
        if throttle.filter(r := record()):
            kept.append(r)
    assert len(kept) == 2 and all(r.exc_info is None and "\n" not in r.getMessage() for r in kept)
    assert "(Too many open files)" in kept[0].getMessage()
    assert "; 2999 more since the last such line not logged" in kept[1].getMessage()
    other = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "Task was destroyed", None, None)
    assert throttle.filter(other)
