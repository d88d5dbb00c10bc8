"""Issue 14: no conversation lost to a deploy or a crash, as the pages see it.

A node that is stopped closes every page's websocket with 1012 (Service Restart). The pages must
come back at once (no backoff), resume with their secret, send again what the server did not get
(the outbox, web/js/chatcore.js, with `acked` in `resumed`), and show what the other side sent
meanwhile exactly once. Real Chromium pages against the real in-process server, real crypto; the
other side of each chat speaks the protocol from Python (client/chat.py), so that it can count
exactly what arrived: its session opens only the next sequence number, so a message that came
twice or out of order would fail the test there, and the relay answers a page's resend of an
accepted number with an error frame, which the page shows.

The page under test reaches the server through a HoldingProxy (tests/browser/holdproxy.py), so a
test decides how long it stays down. "Lost on the way" (a frame handed to a socket whose node went
away before accepting it) is made by having the hub swallow the page's frames for a moment.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import crypto
from client.chat import opened
from server.chat.hub import CHAT_HUB
from tests.browser.holdproxy import HoldingProxy, with_holding_proxy
from tests.browser.inprocess import InProcessServer, api_volunteer, invite_link, start_in_process, stop_in_process
from tests.browser.test_enrolment import PASSPHRASE, enrol, login, wait_text
from tests.chatclient import Seeker, Staff, Volunteer

HELLO = "Hoi, ik ben er. Vertel maar."
EARLIER = "Ik slaap al weken slecht"
FIRST_DOWN = "Ben je er nog? De verbinding deed raar"
SECOND_DOWN = "Ik wilde nog zeggen dat het vandaag beter gaat"
MEANWHILE = "Ik ben er nog, neem je tijd"
AFTER = "Fijn om te horen"

QUICK_S = 0.9         # the page's normal backoff waits at least 1 s: a 1012 must bring it back sooner
RESTART = 1012
FALLBACK_S = 3.0      # web/js/workspace.js RESUME_FALLBACK_MS


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    srv = await start_in_process(tmp_path)
    await with_holding_proxy(srv)
    yield srv
    await stop_in_process(srv)


def proxy_of(server: InProcessServer) -> HoldingProxy:
    assert isinstance(server.proxy, HoldingProxy)
    return server.proxy


def page_url(server: InProcessServer) -> str:
    return f"http://127.0.0.1:{server.proxy.port}"


async def new_page(browser: Any) -> Any:
    context = await browser.new_context(locale="nl-NL")
    page = await context.new_page()
    # Script errors only: a refused reconnection attempt is a console message, and expected here.
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    return page


# -- the other side, in Python -------------------------------------------------------------------


async def python_volunteer(server: InProcessServer, http: aiohttp.ClientSession, name: str = "Pim") -> Volunteer:
    enrolled = await api_volunteer(server, http, name)
    ws = await http.ws_connect("/ws/volunteer", headers={"Origin": server.url})
    volunteer = Volunteer(ws, enrolled.identity)
    await volunteer.next("queue")
    await volunteer.available(True)
    return volunteer


async def texts(receive: Callable[[float], Any], open_text: Callable[[dict[str, Any]], dict[str, Any]],
                count: int, timeout: float = 10.0) -> list[str]:
    """The next `count` text messages (typing hints skipped); an error frame fails the test."""
    got: list[str] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(got) < count:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"only {got} arrived"
        try:
            frame = await receive(left)
        except (asyncio.TimeoutError, TimeoutError):
            continue
        assert frame["t"] != "error", frame
        if frame["t"] == "msg":
            message = open_text(frame)
            if message["k"] == "text":
                got.append(message["b"])
    return got


async def quiet(receive: Callable[[float], Any], open_text: Callable[[dict[str, Any]], dict[str, Any]],
                seconds: float = 1.5) -> None:
    """Nothing more arrives: no text twice, no late resend, no error."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            frame = await receive(left)
        except (asyncio.TimeoutError, TimeoutError):
            return
        assert frame["t"] != "error", frame
        if frame["t"] == "msg":
            message = open_text(frame)
            assert message["k"] != "text", f"one more text arrived: {message}"


def volunteer_side(volunteer: Volunteer) -> tuple[Callable[[float], Any], Callable[[dict[str, Any]], dict[str, Any]]]:
    return ((lambda timeout: volunteer.ws.receive_json(timeout=timeout)),
            (lambda frame: opened(volunteer.sessions[crypto.b64decode(frame["chat"])], frame)))


def seeker_side(seeker: Seeker) -> tuple[Callable[[float], Any], Callable[[dict[str, Any]], dict[str, Any]]]:
    return ((lambda timeout: seeker.ws.receive_json(timeout=timeout)),
            (lambda frame: opened(seeker.session, frame)))


# -- the help-seeker's page ------------------------------------------------------------------------


async def seeker_page_in_chat(browser: Any, server: InProcessServer,
                              volunteer: Volunteer) -> tuple[Any, bytes]:
    """A help-seeker's page in a chat with the Python volunteer; each side has said one thing."""
    page = await new_page(browser)
    await page.goto(page_url(server) + "/chat")
    await page.click("#start")
    await wait_text(page, "#positie", "nummer 1")
    chat_id = await volunteer.pick_up()
    await wait_text(page, "#gesprek-kop", "Je praat met Pim")
    await volunteer.say(chat_id, HELLO)
    await page.locator("#berichten li.theirs", has_text=HELLO).wait_for()
    await say_on_seeker_page(page, EARLIER)
    assert await texts(*volunteer_side(volunteer), 1) == [EARLIER]
    return page, chat_id


async def say_on_seeker_page(page: Any, text: str) -> None:
    await page.fill("#bericht", text)
    await page.press("#bericht", "Enter")
    await page.locator("#berichten li.mine", has_text=text).wait_for()


async def restart_close(ws: Any) -> float:
    """Close a page's socket from the server as a node that goes away does; returns when."""
    at = asyncio.get_running_loop().time()
    await ws.close(code=RESTART, message=b"node going away")
    return at


async def first_attempt_after(proxy: HoldingProxy, since: float, timeout: float = 5.0) -> float:
    """How long after `since` the page's first new connection reached the proxy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not [a for a in proxy.attempts if a >= since]:
        assert asyncio.get_running_loop().time() < deadline, "the page did not try to reconnect"
        await asyncio.sleep(0.01)
    return min(a for a in proxy.attempts if a >= since) - since


async def assert_seeker_page_carried_on(page: Any, own: tuple[str, ...]) -> None:
    """No error, no end, nothing shown twice."""
    assert await page.is_hidden("#einde")
    assert (await page.text_content("#fout") or "") == ""
    log = await page.locator("#berichten").inner_text()
    for text in (HELLO, EARLIER, *own):
        assert log.count(text) == 1, (text, log)
    assert not page.problems, page.problems


@pytest.mark.browser
@pytest.mark.parametrize("node", ["slow", "gone"])
async def test_seeker_page_comes_back_at_once_after_1012_and_sends_what_it_wrote_meanwhile(
        browser: Any, server: InProcessServer, node: str) -> None:
    """`slow`: the next node takes its time to answer, the page's attempt is pending. `gone`: the first
    attempt fails, the usual backoff follows (and the page says the connection is gone); either way the
    two messages written while down arrive once, in order, and the volunteer's reply from meanwhile once."""
    proxy = proxy_of(server)
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        page, chat_id = await seeker_page_in_chat(browser, server, volunteer)
        try:
            proxy.hold() if node == "slow" else proxy.refuse()
            closed_at = await restart_close(server.app[CHAT_HUB].chats[chat_id].seeker)
            assert await first_attempt_after(proxy, closed_at) < QUICK_S
            if node == "gone":
                # The quick attempt failed: now it is a drop like any other, and the person is told.
                await wait_text(page, "#status", "even weg")
            # Down for sure: written now, both go into the outbox.
            await say_on_seeker_page(page, FIRST_DOWN)
            await say_on_seeker_page(page, SECOND_DOWN)
            await volunteer.say(chat_id, MEANWHILE)  # kept in the relay's backlog for the page
            await asyncio.sleep(0.3)
            proxy.release()
            assert await texts(*volunteer_side(volunteer), 2) == [FIRST_DOWN, SECOND_DOWN]
            await page.locator("#berichten li.theirs", has_text=MEANWHILE).wait_for(timeout=10_000)
            await quiet(*volunteer_side(volunteer))
            # And the chat goes on as before, both ways.
            await volunteer.say(chat_id, AFTER)
            await page.locator("#berichten li.theirs", has_text=AFTER).wait_for()
            await say_on_seeker_page(page, "Tot straks")
            assert await texts(*volunteer_side(volunteer), 1) == ["Tot straks"]
            await assert_seeker_page_carried_on(page, (FIRST_DOWN, SECOND_DOWN, MEANWHILE, AFTER))
            status = await page.text_content("#status") or ""
            if node == "slow":
                assert "even weg" not in status and "hersteld" not in status  # never looked broken
            else:
                assert "hersteld" in status
        finally:
            await page.context.close()


@pytest.mark.browser
async def test_seeker_page_sends_again_what_the_server_had_not_accepted_when_its_node_went(
        browser: Any, server: InProcessServer) -> None:
    """Handed to an open socket, but the node went away before accepting them: only `acked` in `resumed`
    tells the page that these two must go again (without it they are lost, and every later message is
    refused as out of order)."""
    hub = server.app[CHAT_HUB]
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        page, chat_id = await seeker_page_in_chat(browser, server, volunteer)
        swallowed: list[dict[str, Any]] = []

        async def lost_on_the_way(chat: Any, frame: dict[str, Any]) -> None:
            swallowed.append(frame)

        try:
            hub.seeker_message = lost_on_the_way  # type: ignore[method-assign]
            await say_on_seeker_page(page, FIRST_DOWN)
            await say_on_seeker_page(page, SECOND_DOWN)
            for _ in range(200):
                if len(swallowed) >= 2:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            assert len(swallowed) >= 2, "the page's frames did not pass the patched hub: this test tests nothing"
            del hub.seeker_message  # the class's own method again
            closed_at = await restart_close(hub.chats[chat_id].seeker)
            assert await first_attempt_after(proxy_of(server), closed_at) < QUICK_S
            assert await texts(*volunteer_side(volunteer), 2) == [FIRST_DOWN, SECOND_DOWN]
            await quiet(*volunteer_side(volunteer))
            await volunteer.say(chat_id, AFTER)
            await page.locator("#berichten li.theirs", has_text=AFTER).wait_for()
            await assert_seeker_page_carried_on(page, (FIRST_DOWN, SECOND_DOWN, AFTER))
        finally:
            await page.context.close()


@pytest.fixture
def node_without_acked(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The server as a node from before issue 14 speaks (a rolling deploy mixes them): `resumed` without
    `acked` for the help-seeker, and no `resumed` at all for a volunteer. Every frame the server sends
    passes WebSocketResponse.send_str, so this holds however the hub is built. Returns what it changed."""
    changed: list[dict[str, Any]] = []
    original = web.WebSocketResponse.send_str

    async def send_str(self: web.WebSocketResponse, data: str, compress: int | None = None) -> None:
        if data.startswith('{"t":"resumed"'):
            frame = json.loads(data)
            changed.append(frame)
            if "chat" in frame:
                return  # a volunteer's: an old node sends none
            frame.pop("acked", None)
            data = json.dumps(frame, separators=(",", ":"))
        await original(self, data, compress=compress)

    monkeypatch.setattr(web.WebSocketResponse, "send_str", send_str)
    return changed


@pytest.mark.browser
async def test_seeker_page_on_a_node_without_acked_sends_only_what_never_left_it(
        browser: Any, server: InProcessServer, node_without_acked: list[dict[str, Any]]) -> None:
    """Without `acked` the page does what pages always did with what it had sent (take it as arrived: sent
    again, an accepted number would be refused and shown as an error), and still sends what it wrote while
    down, which that server cannot have."""
    proxy = proxy_of(server)
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        page, chat_id = await seeker_page_in_chat(browser, server, volunteer)
        try:
            proxy.hold()
            closed_at = await restart_close(server.app[CHAT_HUB].chats[chat_id].seeker)
            await first_attempt_after(proxy, closed_at)
            await say_on_seeker_page(page, FIRST_DOWN)
            proxy.release()
            assert await texts(*volunteer_side(volunteer), 1) == [FIRST_DOWN]
            await quiet(*volunteer_side(volunteer))
            assert node_without_acked, "no `resumed` passed the patch: this test tests nothing"
            await assert_seeker_page_carried_on(page, (FIRST_DOWN,))
        finally:
            await page.context.close()


@pytest.mark.browser
async def test_seeker_page_drops_a_frame_it_already_opened_silently(browser: Any, server: InProcessServer) -> None:
    """A relay that crashed between relaying and recording sends a message again: shown once, and the chat
    is not taken as broken (the session is untouched: the next message opens)."""
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        page, chat_id = await seeker_page_in_chat(browser, server, volunteer)
        try:
            relayed = [f for d, f in server.frames if d == 2]
            assert len(relayed) == 1 and '"seq":1' in relayed[0]  # HELLO, exactly as relayed
            await server.app[CHAT_HUB].chats[chat_id].seeker.send_str(relayed[0])
            await volunteer.say(chat_id, AFTER)
            await page.locator("#berichten li.theirs", has_text=AFTER).wait_for()
            await assert_seeker_page_carried_on(page, (AFTER,))
            assert (await page.locator("#berichten").inner_text()).count(HELLO) == 1
        finally:
            await page.context.close()


# -- the volunteer's page ------------------------------------------------------------------------------


async def volunteer_page_in_chat(browser: Any, server: InProcessServer, http: aiohttp.ClientSession,
                                 name: str = "Noor") -> tuple[Any, Seeker, Any]:
    """A volunteer's page (through the proxy) in a chat with a Python help-seeker; each has said one thing."""
    page = await new_page(browser)
    base = page_url(server)
    await enrol(page, f"{base}/inschrijven#{await invite_link(server, name)}", PASSPHRASE)
    await page.goto(base + "/vrijwilliger")
    await login(page, name, PASSPHRASE)
    await page.wait_for_selector("#chatwerk:not([hidden])", timeout=30_000)
    await page.check("#beschikbaar")
    for _ in range(500):  # on duty before the help-seeker comes (else: "no volunteers")
        if server.app[CHAT_HUB].status()["available"]:
            break
        await asyncio.sleep(0.01)
    seeker = Seeker(await http.ws_connect("/ws/chat", headers={"Origin": server.url}))
    assert (await seeker.open(http))["t"] == "queued"
    await wait_text(page, "#wachtrij-samenvatting", "Er wacht 1 persoon")
    await page.click("#aannemen")
    await seeker.connected()
    await seeker.say(EARLIER)
    panel = page.locator("#gesprekken .panel").first
    await panel.locator(".messages li.theirs", has_text=EARLIER).wait_for()
    await say_in_panel(panel, HELLO)
    assert await texts(*seeker_side(seeker), 1) == [HELLO]
    return page, seeker, panel


async def say_in_panel(panel: Any, text: str) -> None:
    await panel.locator("textarea.bericht").fill(text)
    await panel.locator("textarea.bericht").press("Enter")
    await panel.locator(".messages li.mine", has_text=text).wait_for()


def volunteer_socket(server: InProcessServer, name: str = "Noor") -> Any:
    return next(v.ws for v in server.app[CHAT_HUB].volunteers.values() if v.name == name)


async def assert_volunteer_page_carried_on(page: Any, panel: Any, own: tuple[str, ...]) -> None:
    assert (await page.text_content("#werkplek-fout") or "") == ""
    log = await panel.locator(".messages").inner_text()
    assert "beëindigd" not in log and "klopte niet" not in log, log
    for text in (HELLO, EARLIER, *own):
        assert log.count(text) == 1, (text, log)
    assert await panel.locator("form.schrijven").is_visible()
    assert not page.problems, page.problems


@pytest.mark.browser
async def test_volunteer_page_comes_back_at_once_after_1012_and_sends_what_it_wrote_meanwhile(
        browser: Any, server: InProcessServer) -> None:
    proxy = proxy_of(server)
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page, seeker, panel = await volunteer_page_in_chat(browser, server, http)
        try:
            proxy.hold()
            closed_at = await restart_close(volunteer_socket(server))
            assert await first_attempt_after(proxy, closed_at) < QUICK_S
            await say_in_panel(panel, FIRST_DOWN)
            await say_in_panel(panel, SECOND_DOWN)
            await seeker.say(MEANWHILE)
            await asyncio.sleep(0.3)
            proxy.release()
            released_at = asyncio.get_running_loop().time()
            assert await texts(*seeker_side(seeker), 2) == [FIRST_DOWN, SECOND_DOWN]
            # Sent on the chat's `resumed`, not after the fallback for a node that sends none.
            assert asyncio.get_running_loop().time() - released_at < FALLBACK_S - 0.5
            await panel.locator(".messages li.theirs", has_text=MEANWHILE).wait_for(timeout=10_000)
            await quiet(*seeker_side(seeker))
            await seeker.say(AFTER)
            await panel.locator(".messages li.theirs", has_text=AFTER).wait_for()
            await assert_volunteer_page_carried_on(page, panel, (FIRST_DOWN, SECOND_DOWN, MEANWHILE, AFTER))
        finally:
            await page.context.close()


@pytest.mark.browser
async def test_volunteer_page_sends_again_what_the_server_had_not_accepted_when_its_node_went(
        browser: Any, server: InProcessServer) -> None:
    hub = server.app[CHAT_HUB]
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page, seeker, panel = await volunteer_page_in_chat(browser, server, http)
        swallowed: list[dict[str, Any]] = []

        async def lost_on_the_way(info: Any, frame: dict[str, Any]) -> None:
            swallowed.append(frame)

        try:
            hub.volunteer_message = lost_on_the_way  # type: ignore[method-assign]
            await say_in_panel(panel, FIRST_DOWN)
            await say_in_panel(panel, SECOND_DOWN)
            for _ in range(200):
                if len(swallowed) >= 2:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            assert len(swallowed) >= 2, "the page's frames did not pass the patched hub: this test tests nothing"
            del hub.volunteer_message
            closed_at = await restart_close(volunteer_socket(server))
            assert await first_attempt_after(proxy_of(server), closed_at) < QUICK_S
            assert await texts(*seeker_side(seeker), 2) == [FIRST_DOWN, SECOND_DOWN]
            await quiet(*seeker_side(seeker))
            await assert_volunteer_page_carried_on(page, panel, (FIRST_DOWN, SECOND_DOWN))
        finally:
            await page.context.close()


@pytest.mark.browser
async def test_volunteer_page_on_a_node_without_resumed_still_sends_what_it_wrote_while_down(
        browser: Any, server: InProcessServer, node_without_acked: list[dict[str, Any]]) -> None:
    """An old node answers `resume` without any `resumed`: after RESUME_FALLBACK_MS the page sends what
    never left it (and nothing it had sent, which would be refused as out of order)."""
    proxy = proxy_of(server)
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page, seeker, panel = await volunteer_page_in_chat(browser, server, http)
        try:
            proxy.hold()
            closed_at = await restart_close(volunteer_socket(server))
            await first_attempt_after(proxy, closed_at)
            await say_in_panel(panel, FIRST_DOWN)
            proxy.release()
            assert await texts(*seeker_side(seeker), 1) == [FIRST_DOWN]
            await quiet(*seeker_side(seeker))
            await assert_volunteer_page_carried_on(page, panel, (FIRST_DOWN,))
        finally:
            await page.context.close()


@pytest.mark.browser
async def test_volunteer_page_drops_a_frame_it_already_opened_silently(
        browser: Any, server: InProcessServer) -> None:
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page, seeker, panel = await volunteer_page_in_chat(browser, server, http)
        try:
            relayed = [f for d, f in server.frames if d == 1]
            assert len(relayed) == 1 and '"seq":1' in relayed[0]  # EARLIER, exactly as relayed
            await volunteer_socket(server).send_str(relayed[0])
            await seeker.say(AFTER)
            await panel.locator(".messages li.theirs", has_text=AFTER).wait_for()
            await assert_volunteer_page_carried_on(page, panel, (AFTER,))
        finally:
            await page.context.close()


@pytest.mark.browser
async def test_volunteer_page_keeps_its_colleagues_when_a_queue_frame_leaves_them_out(
        browser: Any, server: InProcessServer) -> None:
    """The server sends `colleagues` only when the list changed: a queue frame without it keeps the list."""
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page, _seeker, panel = await volunteer_page_in_chat(browser, server, http)
        try:
            async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
                colleague = await python_volunteer(server, other, "Pim")
                await panel.locator("select.doel option", has_text="Pim").wait_for(state="attached")
                # capacity 7 marks that the page took this frame in.
                await volunteer_socket(server).send_str(json.dumps(
                    {"t": "queue", "available": True, "waiting": [], "handovers": [], "holding": 1, "capacity": 7}))
                await wait_text(page, "#capaciteit", "van 7")
                assert await panel.locator("select.doel option", has_text="Pim").count() == 1
                assert await panel.locator("select.doel option[value='p:113']").count() == 1
                await colleague.ws.close()
        finally:
            await page.context.close()


# -- a handover completed while the help-seeker's page was away ------------------------------------------


async def python_staff(server: InProcessServer, http: aiohttp.ClientSession, name: str, role: str) -> Staff:
    """A staff account of any role, enrolled and logged in through the real API, on duty."""
    from server import accounts
    from server.keys import CLOCK, CONFIG, STORAGE
    from tests.helpers import PASSPHRASE as API_PASSPHRASE
    from tests.helpers import enrolment_body, login_body
    app = server.app
    invited = await accounts.invite(app[STORAGE], app[CONFIG], name, role, True, False, app[CLOCK]())
    identity = crypto.new_identity()
    body = enrolment_body(invited.url.split("#uitnodiging=", 1)[1], identity=identity)
    assert (await http.post("/api/enrol", json=body)).status == 201
    assert (await http.post("/api/login", json=await login_body(http, name, API_PASSPHRASE))).status == 200
    staff = Staff(await http.ws_connect("/ws/volunteer", headers={"Origin": server.url}), identity)
    await staff.next("queue")
    await staff.available(True)
    return staff


@pytest.mark.browser
async def test_seeker_page_resuming_into_a_completed_handover_sends_nothing_of_the_old_session(
        browser: Any, server: InProcessServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The partner took the chat just as the page's node went away, so the page learns of it only on its
    resume (`resumed`, then `handed-over`). `acked` then counts the new session: the old session's outbox
    must not go into it (its first frame would even pass the relay as seq 1, and the partner's page would
    take it as tampering)."""
    lost: list[str] = []
    original = web.WebSocketResponse.send_str

    async def send_str(self: web.WebSocketResponse, data: str, compress: int | None = None) -> None:
        if data.startswith('{"t":"handed-over"') and not lost:
            lost.append(data)  # the first one dies with the node
            return
        await original(self, data, compress=compress)

    hub = server.app[CHAT_HUB]
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http, \
            aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        volunteer = await python_staff(server, http, "Pim", "volunteer")
        partner = await python_staff(server, other, "Pieter", "partner")
        page, chat_id = await seeker_page_in_chat(browser, server, volunteer)
        try:
            await volunteer.hand_over(chat_id, "p:113")
            await page.click("#doorverbinden-ja")
            await wait_text(page, "#status", "blijft intussen bij je")
            monkeypatch.setattr(web.WebSocketResponse, "send_str", send_str)
            new_id, _ = await partner.take_handover()
            for _ in range(300):
                if lost:
                    break
                await asyncio.sleep(0.01)
            assert lost, "the handed-over frame was not sent: this test tests nothing"
            assert await page.locator("#berichten li.note", has_text="doorverbonden").count() == 0
            seeker_ws = hub.chats[new_id].seeker
            await restart_close(seeker_ws)
            await wait_text(page, "#gesprek-kop", "Je praat met Pieter")
            partner_side = ((lambda timeout: partner.ws.receive_json(timeout=timeout)),
                            (lambda frame: opened(partner.sessions[crypto.b64decode(frame["chat"])], frame)))
            await quiet(*partner_side)  # nothing of the old session (EARLIER was its message 1 or 2)
            await say_on_seeker_page(page, AFTER)
            assert await texts(*partner_side, 1) == [AFTER]
            assert await page.is_hidden("#einde")
            assert (await page.text_content("#fout") or "") == ""
            assert not page.problems, page.problems
        finally:
            await page.context.close()
