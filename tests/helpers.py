"""Helpers shared by the integration tests: a volunteer enrolled and logged in through the real API,
with the real crypto facade doing what the browser's crypto.js does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

import crypto
from client import volunteer as client_volunteer
from server import accounts
from server.keys import CLOCK, CONFIG, STORAGE

PASSPHRASE = "groene appel onder de brug"


class Clock:
    def __init__(self, now: int = 1_800_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def clocked_client(aiohttp_client: Any, config: Any, start: int) -> Any:
    """A test client of the real app whose wall clock the test sets (`client.clock.now`)."""
    from server.app import create_app
    clock = Clock(start)
    client = await aiohttp_client(create_app(config, clock=clock))
    client.clock = clock
    return client


@contextlib.asynccontextmanager
async def cookie_sessions(client: Any, n: int) -> AsyncIterator[list[aiohttp.ClientSession]]:
    """n separate browsers' worth of HTTP sessions (own cookie jars) against a test client."""
    made = [aiohttp.ClientSession(base_url=str(client.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))
            for _ in range(n)]
    try:
        yield made
    finally:
        for s in made:
            await s.close()


async def invite(client: Any, name: str = "Sanne", role: str = "volunteer") -> str:
    """Create an invitation as `oor volunteer invite` does; return its token."""
    app = client.server.app
    inv = await accounts.invite(app[STORAGE], app[CONFIG], name, role, True, True, app[CLOCK]())
    return inv.url.split("#uitnodiging=", 1)[1]


def enrolment_body(token: str, passphrase: str = PASSPHRASE, *, kdf: dict[str, int] | None = None,
                   identity: crypto.Identity | None = None) -> dict[str, Any]:
    """The enrolment body the protocol client builds (client/volunteer.py), with the insecure test KDF."""
    params = kdf or {"opslimit": 1, "memlimit": 8192}
    return client_volunteer.enrolment_body(token, passphrase, crypto.KdfParams(params["opslimit"], params["memlimit"]),
                                           identity or crypto.new_identity())


login_body = client_volunteer.login_body


async def enrolled(client: Any, name: str = "Sanne") -> None:
    token = await invite(client, name)
    resp = await client.post("/api/enrol", json=enrolment_body(token))
    assert resp.status == 201, await resp.text()
    await keys_signed(client, name)




async def logged_in_volunteer(client: Any, name: str = "Sanne") -> crypto.Identity:
    """Enrol and log in through the API (the client's cookie jar keeps the session); return the identity."""
    identity = crypto.new_identity()
    token = await invite(client, name)
    resp = await client.post("/api/enrol", json=enrolment_body(token, identity=identity))
    assert resp.status == 201, await resp.text()
    resp = await client.post("/api/login", json=await login_body(client, name, PASSPHRASE))
    assert resp.status == 200, await resp.text()
    await keys_signed(client, name)
    return identity


async def keys_signed(client: Any, name: str) -> None:
    """Until the signing robot of the client's app (tests/transparency.py) has the account's keys in the
    log, as after a coordinator signed: chat and mail go only to logged keys. Nothing without a robot."""
    if getattr(client, "robot", None) is not None:
        from tests.transparency import wait_ready
        await wait_ready(client.server.app, name=name)
