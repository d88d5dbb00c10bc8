"""A graceful stop delivers the waiting return mails, for a bounded time (`smtp_drain_seconds`).

Real `oor serve` processes stopped with SIGTERM; the relay is an aiosmtpd sink in the test that
is down, slow, or silent (accepts the connection and never answers)."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.mailgate.conftest import Sink, token_from
from tests.processes import OorProcess, cookie_session, mail_to_gateway, oor_env, start_oor, volunteer_on_duty

SENDER = "wacht.even@example.org"
# The drain bound the process runs with (smtp_drain_seconds).
BOUND = 3
SHUTDOWN_LINE = re.compile(r"at shutdown (\d+) waiting return mails were sent and (\d+) could not be sent")


class SlowSink(Sink):
    """A relay that takes its time over every mail."""

    delay: float = 0.3

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


async def in_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def gateway_with_waiting_mail(tmp_path: Path, relay_port: int, mails: int) -> OorProcess:
    """`oor serve` (both parts) whose relay is down: `mails` return mails wait in its outbox."""
    http_port = free_port()
    extra = {"OOR_SMTP_RELAY": f"127.0.0.1:{relay_port}", "OOR_SMTP_RETURNS_PER_DAY": "100",
             "OOR_SMTP_DRAIN_SECONDS": str(BOUND)}
    server = start_oor(tmp_path, tmp_path / "var", http_port=http_port, env=oor_env(f"http://127.0.0.1:{http_port}",
                                                                                      extra))
    async with cookie_session(server.url) as http:
        await volunteer_on_duty(server, http)
    for n in range(mails):
        code, text = await in_thread(mail_to_gateway, server.smtp_port, SENDER, f"Bericht nummer {n}")
        assert code == 250, text
    # The first try failed (nothing listens); the next is RETRY_FIRST_SECONDS (30 s) away.
    await asyncio.sleep(1.0)
    return server


def shutdown_counts(server: OorProcess) -> tuple[int, int]:
    found = SHUTDOWN_LINE.findall(server.output())
    assert len(found) == 1, server.output()
    return int(found[0][0]), int(found[0][1])


async def test_waiting_return_mails_are_sent_before_the_process_exits(tmp_path: Path) -> None:
    relay_port = free_port()
    server = await gateway_with_waiting_mail(tmp_path, relay_port, 3)
    sink = await SlowSink(relay_port).start()  # the relay is back, and slow; the gateway's retry is far off
    try:
        stopping = asyncio.ensure_future(in_thread(server.stop, 60))
        tokens = {token_from(await sink.next_mail(timeout=BOUND + 5)) for _ in range(3)}
        seconds = await stopping
    finally:
        server.stop()
        await sink.stop()
    assert len(tokens) == 3 and seconds < BOUND + 5
    assert server.process.returncode == 0, server.output()
    assert shutdown_counts(server) == (3, 0)
    output = server.output()
    assert SENDER not in output and not any(token in output for token in tokens)


@pytest.mark.parametrize("relay", ["refused", "silent"])
async def test_with_the_relay_down_the_process_still_exits_within_the_bound(tmp_path: Path, relay: str) -> None:
    relay_port = free_port()
    server = await gateway_with_waiting_mail(tmp_path, relay_port, 2)
    silent = None
    if relay == "silent":
        # Takes the connection and never says a word: every read of the gateway's relay client hangs.
        silent = socket.create_server(("127.0.0.1", relay_port), backlog=16)
    try:
        seconds = await in_thread(server.stop, BOUND + 30)
    finally:
        server.stop()
        if silent is not None:
            silent.close()
    assert seconds < BOUND + 4, (seconds, server.output())
    assert server.process.returncode == 0, server.output()
    assert shutdown_counts(server) == (0, 2)
    assert SENDER not in server.output()
