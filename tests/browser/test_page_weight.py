"""What `/chat` costs a help-seeker's connection, measured in a real Chromium.

A first visit (an empty cache) may transfer at most 250 KB in all: the page, its
style sheet, every module it imports, libsodium and the icon, headers included.
A repeat visit in the same browser (a normal navigation back to the page, not a
forced reload) may reach the server at most twice: the page itself (`no-store`)
and the one API call the page makes (`/api/chat/status`). Everything else comes
from the browser's cache without a revalidation, because every asset the page
names has its hash in its URL and is `immutable` (server/assets.py).

Bytes are counted by Chromium itself (DevTools' `Network.loadingFinished`
`encodedDataLength`: what came over the wire, headers included); requests by the
server (its access log has one line per request it answered, 304s included).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.inprocess import InProcessServer, start_in_process, stop_in_process

FIRST_VISIT_MAX_BYTES = 250_000
REPEAT_VISIT_MAX_REQUESTS = 2
ASSET = re.compile(r"^http://[^/]+/(?:static|vendor)/")
HASHED = re.compile(r"\.[0-9a-f]{16}\.(?:js|mjs|css|svg)$")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    srv = await start_in_process(tmp_path)
    yield srv
    await stop_in_process(srv)


class Wire:
    """Chromium's own account of a page's network traffic, through the DevTools protocol."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.bytes: dict[str, int] = {}
        self.encodings: dict[str, str] = {}
        self.from_cache: set[str] = set()

    async def attach(self, context: Any, page: Any) -> None:
        cdp = await context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.requestServedFromCache", lambda e: self.from_cache.add(e["requestId"]))
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", lambda e: self.bytes.__setitem__(e["requestId"], e["encodedDataLength"]))
        await cdp.send("Network.enable")

    def _response(self, event: dict[str, Any]) -> None:
        response = event["response"]
        if response.get("fromDiskCache") or response.get("fromPrefetchCache"):
            self.from_cache.add(event["requestId"])
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        self.encodings[event["requestId"]] = headers.get("content-encoding", "identity")

    def total(self) -> int:
        return sum(self.bytes.values())

    def table(self) -> str:
        return "\n".join(f"{self.bytes.get(r, 0):>8} {self.encodings.get(r, '-'):>8} "
                         f"{'cache' if r in self.from_cache else 'net':>5} {url}"
                         for r, url in sorted(self.urls.items(), key=lambda i: -self.bytes.get(i[0], 0)))


def requests_answered(server: InProcessServer) -> int:
    return sum(1 for line in server.log.lines if line.startswith("oor.access "))


async def visit_chat(page: Any, url: str) -> None:
    await page.goto(url, wait_until="networkidle")
    # The page's script ran to the end of its start-up: it asked whether anyone is on duty.
    await page.wait_for_selector("#start:not([hidden]), #niemand:not([hidden])", timeout=15_000)


async def settled(server: InProcessServer) -> int:
    """The server's request count once nothing has been answered for a moment."""
    count = requests_answered(server)
    for _ in range(20):
        await asyncio.sleep(0.1)
        now = requests_answered(server)
        if now == count:
            return now
        count = now
    return count


@pytest.mark.browser
async def test_chat_first_visit_weight_and_repeat_visit_requests(browser: Any, server: InProcessServer) -> None:
    context = await browser.new_context(locale="nl-NL")
    try:
        page = await context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        first = Wire()
        await first.attach(context, page)
        await visit_chat(page, server.url + "/chat")
        assert not problems, problems  # every module loaded and passed its integrity check
        await settled(server)
        first_bytes, first_requests, first_table = first.total(), len(first.urls), first.table()
        assert first_bytes <= FIRST_VISIT_MAX_BYTES, (
            f"first visit of /chat transferred {first_bytes} bytes:\n{first_table}")
        # Every asset came by its hashed URL (the templates and the import map name no other) and
        # compressed (a tiny icon excepted).
        assets = {r: url for r, url in first.urls.items() if ASSET.match(url)}
        assert len(assets) >= 15 and all(HASHED.search(url) for url in assets.values()), first_table
        assert all(first.encodings[r] == "br" for r, url in assets.items() if "/img/" not in url), first_table

        # Away and back, as a person would: a normal navigation to the page again.
        await page.goto("about:blank")
        before = await settled(server)
        await visit_chat(page, server.url + "/chat")
        answered = await settled(server) - before
        assert not problems, problems
        # The figures, for `pytest -s` (bench/README.md reports them).
        print(f"\n/chat first visit: {first_bytes} bytes in {first_requests} requests\n{first_table}"
              f"\nrepeat visit: {answered} requests to the server")
        assert answered <= REPEAT_VISIT_MAX_REQUESTS, (
            f"the repeat visit made {answered} requests to the server:\n"
            + "\n".join([line for line in server.log.lines if line.startswith("oor.access ")][-answered:]))
    finally:
        await context.close()


@pytest.mark.browser
async def test_a_module_that_differs_from_its_hash_is_refused_at_its_hashed_url(
        browser: Any, server: InProcessServer) -> None:
    """The import map's integrity is looked up by the URL a module is fetched from, its hashed one:
    a changed byte in a module that only `import` reaches stops the page's code from running."""
    context = await browser.new_context(locale="nl-NL")
    try:
        tampered: list[str] = []

        async def tamper(route: Any) -> None:
            tampered.append(route.request.url)
            original = await route.fetch()
            await route.fulfill(status=200, content_type="text/javascript",
                                body=await original.body() + b"\nexport const extra = 1;\n")
        await context.route(re.compile(r"/static/js/crypto/params\.[0-9a-f]{16}\.js$"), tamper)
        page = await context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        await page.goto(server.url + "/chat", wait_until="networkidle")
        assert tampered, "the page did not import the module by its hashed URL"
        assert any("integrity" in p and "params." in p for p in problems), problems
        # chat.js never ran: it would have shown the start button or the nobody-on-duty line.
        assert await page.locator("#start:not([hidden]), #niemand:not([hidden])").count() == 0
    finally:
        await context.close()
