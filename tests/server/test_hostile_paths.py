"""Hostile request paths: no link off-site on our own pages, and nothing typed in the logs.

Issue 11, findings 6 and 7. A path such as `/%2Fevil.example` decodes to `//evil.example`,
which a browser reads as another host; a language link built from it sends the visitor
there from our own error page. And a help-seeker who pastes their return code into the
address bar must not find it in the access log, nor in any other line the server writes.

The requests here are written on a raw socket, byte for byte, so that no client library
normalises the path before the server sees it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from server.http import (
    UNKNOWN_METHOD,
    UNKNOWN_PATH,
    RequestTextScrubber,
    error_middleware,
    install_log_scrubber,
)
from tests.conftest import start_live_server, stop_live_server

# Request targets that try to turn a path into another host: encoded and plain slashes and
# backslashes, with and without the language parameter, on the 404 page, on a route with a
# variable part (a missing static file) and on a real page reached by an encoded path.
HOSTILE_TARGETS = [
    "/%2Fevil.example", "/%2F%2Fevil.example", "/%5Cevil.example", "/%5C%5Cevil.example",
    "//evil.example", "//evil.example/chat", "/\\evil.example", "/\\/evil.example", "/%2F%5Cevil.example",
    "/%09/evil.example", "/static/%2F%2Fevil.example", "/static//evil.example", "/static/\\evil.example",
    "/vendor/%5Cevil.example",
]
HOSTILE_TARGETS += [t + "?lang=en" for t in HOSTILE_TARGETS]
# A real page whose path arrives encoded, and hostile text in the query string of a real page.
PAGE_TARGETS = ["/%63hat", "/%63hat?lang=en", "/chat?lang=en&next=//evil.example",
                "/chat?lang=//evil.example", "/chat?lang=en%5C%5Cevil.example", "/mail/terug?lang=en&x=%2F%2Fevil"]

URL_ATTRIBUTES = re.compile(r"""\b(?:href|src|action|formaction|data-url|content)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
TOKEN = "K7QM-3XRD-9TFW-H2PN-B4CE"
TOKEN_BARE = TOKEN.replace("-", "")


async def raw_request(host: str, port: int, request: bytes) -> tuple[int, dict[str, str], str]:
    """One HTTP/1.1 exchange, written exactly as given; (status, headers, body)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body.decode("utf-8", errors="replace")


def get(target: str, host: str = "127.0.0.1") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("latin-1")


def link_targets(headers: dict[str, str], body: str) -> list[str]:
    found = [a or b for a, b in URL_ATTRIBUTES.findall(body)]
    for name in ("location", "content-location", "refresh", "link"):
        if name in headers:
            found.append(headers[name])
    return found


def assert_stays_on_site(target: str, links: list[str], config: Any) -> None:
    # The two links that leave the site on purpose come from the configuration, not the request.
    allowed_elsewhere = {config.quick_exit_url}
    for link in links:
        where = f"{target!r} rendered {link!r}"
        assert "\\" not in link and "%5c" not in link.lower(), where
        assert not link.startswith("//") and not re.match(r"^[\s/\\]{2}", link), where
        parts = urlsplit(link)
        if parts.scheme in ("tel", "") and not parts.netloc:
            assert "evil" not in link, where
            continue
        assert link in allowed_elsewhere, where


def language_link(body: str) -> str:
    found = re.search(r'<a id="taal" href="([^"]*)"', body)
    assert found, "no language link on the page"
    return found.group(1)


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
async def test_error_pages_link_only_to_our_own_pages(client: Any, insecure_kdf_config: Any, target: str) -> None:
    status, headers, body = await raw_request(client.server.host, client.server.port, get(target))
    assert status in (400, 404), (target, status)
    if status == 404:
        # The error page's language link goes home: an unknown path has no page to switch.
        english = "?lang=en" in target
        assert language_link(body) == ("/" if english else "/?lang=en"), target
    assert_stays_on_site(target, link_targets(headers, body), insecure_kdf_config)
    assert "evil.example" not in body


@pytest.mark.parametrize("target", PAGE_TARGETS)
async def test_page_language_link_comes_from_the_route(client: Any, insecure_kdf_config: Any, target: str) -> None:
    status, headers, body = await raw_request(client.server.host, client.server.port, get(target))
    assert status == 200, (target, status)
    route = "/mail/terug" if target.startswith("/mail/terug") else "/chat"
    english = parse_qs(urlsplit(target).query).get("lang") == ["en"]
    assert language_link(body) == (route if english else route + "?lang=en"), target
    assert_stays_on_site(target, link_targets(headers, body), insecure_kdf_config)
    assert "evil" not in body


@pytest.mark.parametrize("path", ["/", "/chat", "/mail", "/mail/terug", "/inschrijven", "/vrijwilliger"])
async def test_language_link_still_switches_on_every_page(client: Any, path: str) -> None:
    dutch = await (await client.get(path)).text()
    english = await (await client.get(path + "?lang=en")).text()
    assert language_link(dutch) == path + "?lang=en"
    assert language_link(english) == path


# -- the logs -------------------------------------------------------------------------------------


def access_log_lines(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.name == "oor.access.hostile"]


async def test_access_log_writes_a_placeholder_for_unknown_paths_and_methods(
        aiohttp_client: Any, insecure_kdf_config: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The in-process server with the real access logger; the live test below does the same end to end."""
    from aiohttp.test_utils import TestServer

    from server.app import create_app
    from server.http import PrivateAccessLogger
    server = TestServer(create_app(insecure_kdf_config))
    await server.start_server(access_log_class=PrivateAccessLogger, access_log=logging.getLogger("oor.access.hostile"))
    try:
        with caplog.at_level(logging.INFO, logger="oor.access.hostile"):
            for target in (f"/{TOKEN}", f"/static/{TOKEN}", f"/api/{TOKEN}", f"/mail/terug/{TOKEN}",
                           f"/?code={TOKEN}", f"/%2F{TOKEN}", f"/api/mail/threads/{TOKEN_BARE}"):
                await raw_request(server.host, server.port, get(target))
            await raw_request(server.host, server.port,
                              f"{TOKEN_BARE} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    finally:
        await server.close()
    lines = access_log_lines(caplog.records)
    assert len(lines) >= 7, lines
    assert not [line for line in lines if "K7QM" in line], lines
    assert f'"GET {UNKNOWN_PATH}" 404' in lines[0]
    assert any('"GET /static/{path}" 404' in line for line in lines)
    assert any('"GET /api/mail/threads/{thread}"' in line for line in lines)


def test_unknown_methods_are_logged_as_a_placeholder() -> None:
    from aiohttp.test_utils import make_mocked_request

    from server.http import PrivateAccessLogger
    logger = logging.getLogger("oor.access.methods")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for method in (TOKEN_BARE, "GET"):
            req = make_mocked_request(method, f"/{TOKEN}")
            PrivateAccessLogger(logger, "").log(req, web.Response(status=404), 0.001)
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in records]
    assert lines[0].startswith(f'"{UNKNOWN_METHOD} {UNKNOWN_PATH}" 404'), lines
    assert lines[1].startswith(f'"GET {UNKNOWN_PATH}" 404'), lines
    assert not [line for line in lines if "K7QM" in line]


async def test_internal_errors_are_logged_without_the_exception_message(
        aiohttp_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise ValueError(f"invalid literal for int() with base 10: {request.query['code']!r}")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/api/boom", handler, name="boom")
    client = await aiohttp_client(app)
    with caplog.at_level(logging.DEBUG):
        resp = await client.get(f"/api/boom?code={TOKEN}")
    assert resp.status == 500
    assert TOKEN not in await resp.text()
    # (aiohttp.access is the test client's own default access log, not ours.)
    ours = [r for r in caplog.records if r.name != "aiohttp.access"]
    text = "\n".join(logging.Formatter().format(r) for r in ours)
    assert "internal error in boom handler" in text and "ValueError" in text and "test_hostile_paths.py" in text
    assert "K7QM" not in text


def test_log_handler_drops_exception_messages_from_any_logger() -> None:
    formatter = logging.Formatter("%(name)s: %(message)s")
    try:
        try:
            raise KeyError(TOKEN)
        except KeyError as inner:
            raise RuntimeError(f"Bad status line {TOKEN!r}") from inner
    except RuntimeError:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1,
                                   "Error handling request from %s", ("127.31.7.9",), sys.exc_info())
    handler = logging.StreamHandler()
    install_log_scrubber(handler)
    assert handler.filter(record)
    text = formatter.format(record)
    assert "K7QM" not in text and "127.31.7.9" not in text
    assert "RuntimeError" in text and "KeyError" in text and "test_hostile_paths.py" in text
    # The filter alone, on a record that a formatter already rendered once (exc_text cached).
    try:
        raise ValueError(TOKEN)
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    record.exc_text = formatter.formatException(record.exc_info)  # type: ignore[arg-type]
    RequestTextScrubber().filter(record)
    assert TOKEN not in formatter.format(record)


def test_live_server_output_never_holds_a_typed_path_query_method_or_header(tmp_path: Path, database: Any) -> None:
    """A real `oor serve`, its whole output (access log and every other logger) in a file."""
    server = start_live_server(tmp_path, database=database)
    try:
        host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
        targets = [f"/{TOKEN}", f"/{TOKEN_BARE}", f"/static/{TOKEN}", f"/static/js/{TOKEN}.js", f"/vendor/{TOKEN}",
                   f"/api/{TOKEN}", f"/api/mail/threads/{TOKEN_BARE}", f"/mail/terug/{TOKEN}", f"/ws/{TOKEN}",
                   f"/?code={TOKEN}", f"/mail/terug?code={TOKEN}", f"/%2F{TOKEN}", f"/\\{TOKEN}"]

        def exchange(request: bytes) -> bytes:
            with socket.create_connection((host, port), timeout=10) as sock:
                sock.sendall(request)
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            return b"".join(chunks)

        for target in targets:
            assert exchange(get(target)).startswith(b"HTTP/1.1 "), target
        extra = [
            # An arbitrary method token, alone and after a good request on the same connection
            # (aiohttp logs a bad method at error level when it is not the connection's first request).
            f"{TOKEN_BARE} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            f"GET / HTTP/1.1\r\nHost: x\r\n\r\n{TOKEN_BARE} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            # The token in headers, and in a request line or header aiohttp cannot parse.
            f"GET / HTTP/1.1\r\nHost: x\r\nReferer: http://x/{TOKEN}\r\nUser-Agent: {TOKEN}\r\n"
            f"X-Code: {TOKEN}\r\nCookie: oor_session={TOKEN}\r\nConnection: close\r\n\r\n",
            f"GET /{TOKEN}\x01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            f"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /{TOKEN} HTTP/1.1\r\nHost: x\r\nX-Code: {TOKEN}\x01\r\n"
            "Connection: close\r\n\r\n",
            f"POST /api/{TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Length: 24\r\nConnection: close\r\n\r\n{TOKEN}",
        ]
        for request in extra:
            exchange(request.encode("latin-1"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and server.read_output().count(f'"GET {UNKNOWN_PATH}" 404') < 5:
            time.sleep(0.05)
    finally:
        stop_live_server(server)
    output = server.read_output()
    assert f'"GET {UNKNOWN_PATH}" 404' in output, output
    assert '"GET /static/{path}" 404' in output, output
    leaks = [line for line in output.splitlines() if "K7QM" in line.upper() or "7QM3XRD" in line.upper()]
    assert not leaks, "\n".join(leaks)
