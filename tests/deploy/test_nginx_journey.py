"""The nginx site of `deploy/nginx/` for real: Debian's nginx in front of a real `oor serve`.

One `oor serve` (client_address_header = "X-Real-IP", public_url on nginx's https port) and one
nginx running the project's site file with a self-signed certificate, shared by the tests of this
module in file order:

1. port 80 answers ACME challenges and redirects, nothing else; TLS, HTTP/2, headers, body caps;
   request bodies, and a large answer to a slow reader, never touch nginx's temp folders (which
   `start_nginx` makes unwritable, so a spool would fail the request);
2. a whole chat and a mail in Chromium through nginx, websockets included;
3. the server's per-address limits see the real client address through nginx (two loopback source
   addresses), and no client can choose the address the server sees by sending X-Real-IP;
4. after everything, no client address and no user agent is in any file that was written: the
   server's output, its data folder, and everything of nginx's (logs, temp folders).

Clients connect from 127.0.0.2 to 127.0.0.5, addresses that appear nowhere else, with a user
agent that appears nowhere else, so finding one of them in a file is a leak.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from tests.browser.test_enrolment import PASSPHRASE, enrol, login, wait_text
from tests.browser.test_mail import open_first_thread
from tests.conftest import LiveServer, free_port, start_live_server, stop_live_server
from tests.deploy.nginx import Nginx, start_nginx, stop_nginx

LIMITED, OTHER, CLAIMED, PROBE = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
ADDRESSES = (LIMITED, OTHER, CLAIMED, PROBE)
USER_AGENT = "OorDeployProbe/7.3 (ua-5f1e9c)"
LOGINS_PER_MINUTE = 3
IDLE_SOCKETS = 2

FIRST = "Ik kan niet slapen en pieker de hele nacht"
REPLY = "Wat goed dat je het zegt. Ik ben Sanne; vertel maar."
ANSWER = "Het gaat over mijn werk, denk ik"
MAIL = "Ik durf het niemand te vertellen, daarom schrijf ik hier"


@dataclass
class Stack:
    folder: Path
    server: LiveServer
    nginx: Nginx


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("deploy")
    https_port, http_port = free_port(), free_port()
    server = start_live_server(folder, extra_env={
        "OOR_CLIENT_ADDRESS_HEADER": "X-Real-IP",
        "OOR_PUBLIC_URL": f"https://127.0.0.1:{https_port}",
        "OOR_LOGIN_PER_MINUTE": str(LOGINS_PER_MINUTE),
        "OOR_CHAT_IDLE_SOCKETS_PER_ADDRESS": str(IDLE_SOCKETS),
    })
    try:
        nginx = start_nginx(folder / "nginx", int(server.url.rsplit(":", 1)[1]), https_port, http_port)
    except BaseException:
        stop_live_server(server)
        raise
    yield Stack(folder, server, nginx)
    stop_nginx(nginx)
    stop_live_server(server)


def client_from(address: str, **kwargs: Any) -> aiohttp.ClientSession:
    """A client whose connections to nginx come from `address` (any 127/8 address works on loopback)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), ssl=False, force_close=True)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT}, **kwargs)


async def test_port_80_only_redirects_and_answers_acme_challenges(stack: Stack) -> None:
    nginx = stack.nginx
    (nginx.acme_root / ".well-known" / "acme-challenge" / "token-abc").write_text("token-abc.key")
    async with client_from(PROBE) as http:
        async with http.get(nginx.http_url + "/chat?lang=en", allow_redirects=False) as resp:
            assert resp.status == 301
            assert resp.headers["Location"] == "https://127.0.0.1/chat?lang=en"
            assert resp.headers["Server"] == "nginx"  # server_tokens off: no version
        async with http.post(nginx.http_url + "/api/login", json={}, allow_redirects=False) as resp:
            assert resp.status == 301  # nothing is passed to the node over plain HTTP
        async with http.get(nginx.http_url + "/.well-known/acme-challenge/token-abc") as resp:
            assert resp.status == 200 and await resp.text() == "token-abc.key"


def _tls_info(port: int, alpn: list[str], maximum: ssl.TLSVersion | None = None) -> tuple[str, str | None]:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.set_alpn_protocols(alpn)
    if maximum is not None:
        ctx.maximum_version = maximum
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(PROBE, 0)) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version() or "", tls.selected_alpn_protocol()


async def test_tls_http2_headers_and_body_caps(stack: Stack) -> None:
    nginx = stack.nginx
    assert _tls_info(nginx.https_port, ["h2", "http/1.1"]) == ("TLSv1.3", "h2")
    assert _tls_info(nginx.https_port, ["http/1.1"], ssl.TLSVersion.TLSv1_2) == ("TLSv1.2", "http/1.1")
    async with client_from(PROBE) as http:
        async with http.get(nginx.https_url + "/chat") as resp:
            assert resp.status == 200
            assert resp.headers.getall("Strict-Transport-Security") == ["max-age=63072000; includeSubDomains"]
            assert resp.headers["Server"] == "nginx"
            assert "default-src" in resp.headers["Content-Security-Policy"]  # the node's headers pass
            assert "Content-Encoding" not in resp.headers  # gzip off, though the http block has it on
        async with http.get(nginx.https_url + "/api/chat/status") as resp:
            assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        # The body cap is the server's max_request_kib (64 KiB): above it nginx refuses, below it the
        # node answers; in both cases nginx keeps the body in memory.
        filler = {"name": "x" * (60 * 1024)}
        async with http.post(nginx.https_url + "/api/enrol", json=filler) as resp:
            assert resp.status == 400, await resp.text()  # the node read it and refused the invitation
        async with http.post(nginx.https_url + "/api/enrol", json={"name": "x" * (65 * 1024)}) as resp:
            assert resp.status == 413
        # Requests nginx itself logs as errors, with "client: <address>", at the info level of the
        # main error log: a malformed header, plain HTTP on the TLS port, a broken TLS handshake.
        async with http.get(nginx.https_url + "/chat", headers={"Bad Header": "x"}) as resp:
            assert resp.status == 400
    for probe in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x05hello"):
        with socket.create_connection(("127.0.0.1", nginx.https_port), timeout=5, source_address=(PROBE, 0)) as raw:
            raw.sendall(probe)
            raw.settimeout(5)
            try:
                raw.recv(4096)
            except OSError:
                pass
    assert nginx.temp_files() == []


def _slow_download(port: int, path: str) -> bytes:
    """GET `path` over TLS from a reader with a small receive window that pauses after the first bytes:
    nginx must hold the answer in its memory buffers (and the socket's) rather than spool it to disk."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.bind((PROBE, 0))
    raw.settimeout(20)
    raw.connect(("127.0.0.1", port))
    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {USER_AGENT}\r\n"
                    "Connection: close\r\n\r\n".encode())
        data = tls.recv(1024)
        time.sleep(2)
        while chunk := tls.recv(65536):
            data += chunk
    return data


async def test_a_large_answer_to_a_slow_reader_is_not_spooled_to_disk(stack: Stack) -> None:
    async with aiohttp.ClientSession() as direct:  # straight to the node: what the answer must be
        async with direct.get(stack.server.url + "/api/assets") as resp:
            urls = [u for u in (await resp.json())["assets"] if "sodium" in u]
        assert urls, "libsodium is no longer served: pick another large asset"
        async with direct.get(stack.server.url + urls[0]) as resp:
            expected = await resp.read()
    assert len(expected) > 256 * 1024  # far more than nginx's proxy buffers and the reader's window
    data = await asyncio.to_thread(_slow_download, stack.nginx.https_port, urls[0])
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    assert body == expected  # complete: a spool to the (unwritable) temp folder would have cut it short


@pytest.fixture
async def https_context(browser: Any) -> AsyncIterator[Any]:
    contexts: list[Any] = []

    async def make() -> Any:
        ctx = await browser.new_context(locale="nl-NL", ignore_https_errors=True, user_agent=USER_AGENT)
        contexts.append(ctx)
        return ctx
    yield make
    for ctx in contexts:
        await ctx.close()


@pytest.mark.browser
async def test_chat_and_mail_through_nginx_in_chromium(stack: Stack, https_context: Any) -> None:
    base = stack.nginx.https_url
    link = stack.server.invite("Sanne", "--chat", "--mail")
    assert link.startswith(base + "/inschrijven#")  # public_url is nginx's address

    volunteer = await (await https_context()).new_page()
    await enrol(volunteer, link, PASSPHRASE)
    await volunteer.goto(base + "/vrijwilliger")
    # The page came over HTTP/2: nginx passed the browser's :authority on as Host, which the node's
    # same-origin check (and with it the login below) needs.
    assert await volunteer.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol") == "h2"
    await login(volunteer, "Sanne", PASSPHRASE)
    await volunteer.wait_for_selector("#chatwerk:not([hidden])", timeout=30_000)
    await volunteer.check("#beschikbaar")
    await wait_text(volunteer, "#wachtrij-samenvatting", "Er wacht niemand")
    async with volunteer.expect_response("**/api/mail/availability"):
        await volunteer.check("#mail-beschikbaar")

    # A chat: both sides' websockets go through nginx (the node pings them every 20 s).
    seeker = await (await https_context()).new_page()
    await seeker.goto(base + "/chat")
    await seeker.wait_for_selector("#start:not([hidden])")
    await seeker.click("#start")
    await wait_text(seeker, "#positie", "nummer 1 in de rij")
    await seeker.fill("#bericht", FIRST)
    await seeker.press("#bericht", "Enter")
    await wait_text(volunteer, "#wachtrij-samenvatting", "Er wacht 1 persoon")
    await volunteer.click("#aannemen")
    await wait_text(seeker, "#gesprek-kop", "Je praat met Sanne")
    panel = volunteer.locator("#gesprekken .panel").first
    await panel.locator(".messages li.theirs", has_text=FIRST).wait_for()
    await panel.locator("textarea.bericht").fill(REPLY)
    await panel.locator("textarea.bericht").press("Enter")
    await seeker.locator("#berichten li.theirs", has_text=REPLY).wait_for()
    await seeker.fill("#bericht", ANSWER)
    await seeker.press("#bericht", "Enter")
    await panel.locator(".messages li.theirs", has_text=ANSWER).wait_for()
    await seeker.click("#stoppen")
    await wait_text(seeker, "#reden", "Je hebt het gesprek beëindigd")
    await panel.locator(".afronding").wait_for()

    # A mail: written on the site, the code shown once, read by the volunteer.
    writer = await (await https_context()).new_page()
    await writer.goto(base + "/mail")
    await writer.fill("#bericht", MAIL)
    await writer.click("#schrijven button[type=submit]")
    await writer.wait_for_selector("#code-kaart:not([hidden])", timeout=30_000)
    crypto.parse_token((await writer.text_content("#code")).strip())  # a well-formed code
    await open_first_thread(volunteer)
    await volunteer.locator("#mailberichten li.theirs", has_text=MAIL).wait_for()

    output = stack.server.read_output()
    assert '"GET /chat" 200' in output  # the output was captured: the check below looks at something
    for text in (FIRST, REPLY, ANSWER, MAIL):
        assert text not in output


async def _login_status(http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None) -> int:
    async with http.post(url + "/api/login", json={"name": "niemand"}, headers=headers) as resp:
        return resp.status


async def _chat_socket(http: aiohttp.ClientSession, url: str,
                       headers: dict[str, str] | None = None) -> aiohttp.ClientWebSocketResponse | int:
    try:
        return await http.ws_connect(url + "/ws/chat", headers={"Origin": url, **(headers or {})})
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


async def test_limits_see_the_real_client_address_and_no_client_can_choose_it(stack: Stack) -> None:
    url = stack.nginx.https_url
    spoof = {"X-Real-IP": CLAIMED, "X-Forwarded-For": CLAIMED, "Forwarded": f"for={CLAIMED}"}
    async with client_from(LIMITED) as limited, client_from(OTHER) as other:
        # Logins: login_per_minute failed attempts per address, then 429 before any Argon2 work.
        for _ in range(LOGINS_PER_MINUTE):
            assert await _login_status(limited, url) != 429
        assert await _login_status(limited, url) == 429
        assert await _login_status(other, url) != 429  # another address has its own allowance
        # A client's own X-Real-IP (or other forwarding headers) changes nothing: nginx replaces it
        # with the connection's address, so the limited address stays limited ...
        assert await _login_status(limited, url, spoof) == 429
        # ... and a client cannot spend someone else's allowance by naming their address.
        assert await _login_status(other, url, {"X-Real-IP": LIMITED}) != 429

        # Chat sockets that have not opened a chat: chat_idle_sockets_per_address per address.
        held = [await _chat_socket(limited, url) for _ in range(IDLE_SOCKETS)]
        try:
            assert all(isinstance(ws, aiohttp.ClientWebSocketResponse) for ws in held), held
            assert await _chat_socket(limited, url) == 429
            assert await _chat_socket(limited, url, spoof) == 429
            mine = await _chat_socket(other, url, {"X-Real-IP": LIMITED})
            assert isinstance(mine, aiohttp.ClientWebSocketResponse)
            held.append(mine)
            # The websocket through nginx really works: a bad frame gets the node's error frame.
            await mine.send_str("{}")
            assert (await asyncio.wait_for(mine.receive_json(), 10))["t"] == "error"
        finally:
            for ws in held:
                if isinstance(ws, aiohttp.ClientWebSocketResponse):
                    await ws.close()


def _written_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


async def test_no_client_address_or_user_agent_in_any_file_written(stack: Stack) -> None:
    """Runs last: stops nginx and the server (so that what they write at shutdown counts too), then
    reads every file under the deployment's folder: server output, data folder, nginx's logs and
    temp folders."""
    async with client_from(PROBE) as http:  # at least some traffic, when this test runs alone
        async with http.get(stack.nginx.https_url + "/") as resp:
            assert resp.status == 200
    stop_nginx(stack.nginx)
    stop_live_server(stack.server)
    files = _written_files(stack.folder)
    names = {p.relative_to(stack.folder).as_posix() for p in files}
    # The checks below read what they must: the server's output and database, nginx's error log.
    assert {"server-output.log", "var/oor.sqlite3", "nginx/logs/error.log"} <= names, names
    assert stack.nginx.temp_files() == []  # no request body or answer was ever spooled to disk
    assert not (stack.folder / "nginx/logs/access.log").exists() or \
        (stack.folder / "nginx/logs/access.log").stat().st_size == 0
    needles = [a.encode() for a in ADDRESSES] + [USER_AGENT.encode(), b"ua-5f1e9c"]
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle.decode()} written to {path.relative_to(stack.folder)}"
    # The error log was written (start-up notices at info level): the absence above means something.
    assert stack.nginx.error_log.stat().st_size > 0
