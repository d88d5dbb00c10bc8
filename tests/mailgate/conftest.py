"""The gateway running inside the real application, and an aiosmtpd sink standing in for the relay."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiosmtpd.smtp import SMTP

import crypto
from tests.browser.inprocess import InProcessServer, api_volunteer, start_in_process, stop_in_process
from tests.conftest import free_port


@dataclass
class Sink:
    """Collects what the gateway sends to the relay."""

    port: int
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    server: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.arrived.set()
        return "250 OK"

    async def start(self) -> "Sink":
        self.server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(self, hostname="relay.test", enable_SMTPUTF8=True), "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def next_mail(self, timeout: float = 20) -> email.message.EmailMessage:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.received:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), deadline - asyncio.get_running_loop().time())
        _, _, raw = self.received.pop(0)
        return email.message_from_bytes(raw, policy=policy.default)


def token_from(mail: email.message.EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",)).get_content()
    for line in body.splitlines():
        try:
            return crypto.parse_token(line.strip())
        except crypto.InvalidToken:
            continue
    raise AssertionError("no token in the return mail")


@pytest.fixture
async def relay_sink() -> AsyncIterator[Sink]:
    sink = await Sink(free_port()).start()
    yield sink
    await sink.stop()


@pytest.fixture
async def gateway(tmp_path: Path, relay_sink: Sink, database: Any) -> AsyncIterator[InProcessServer]:
    server = await start_in_process(tmp_path, {"OOR_SMTP_RELAY": f"127.0.0.1:{relay_sink.port}",
                                               "OOR_SMTP_MAX_BYTES": "200000",
                                               # many mails from one test sender; the limit has its own tests
                                               "OOR_SMTP_RETURNS_PER_DAY": "1000"}, smtp=True, database=database)
    yield server
    await stop_in_process(server)


@pytest.fixture
async def on_duty(gateway: InProcessServer) -> AsyncIterator[Any]:
    """A mail volunteer (Python, real crypto) who will be assigned what arrives."""
    http = aiohttp.ClientSession(base_url=gateway.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    volunteer = await api_volunteer(gateway, http, "Sanne")
    yield volunteer
    await http.close()


# The browser fixtures, for the journey that ends in Chromium.
from tests.browser.conftest import browser, context, page  # noqa: E402,F401
