"""Issue 15, point 11: a phone in the pocket does not end the chat.

Switching apps for a few minutes used to drop the chat after about 95 s (a 60 s grace period after the
server's heartbeat noticed the dead socket). Now the help-seeker's grace period is its own setting
(`chat_seeker_grace_seconds`, 10 minutes by default), and the page reconnects as soon as it is back
(`visibilitychange`, `online`, `resume` after a freeze) instead of waiting for its backoff.

Real Chromium, real crypto, the real in-process server. The page reaches the server through a
HoldingProxy (tests/browser/holdproxy.py), which cuts its websocket and refuses new ones for as long as
the test says: the network of a phone in a pocket. The page is also frozen through the DevTools protocol
(`Page.setWebLifecycleState`, what a phone's browser does to a page in the background) and taken offline
(`Network.emulateNetworkConditions`). The volunteer speaks the protocol from Python (tests/chatclient.py),
so it counts exactly what arrives: its session opens only the next sequence number, so a message that
came twice or out of order fails there.

Also here: a socket that died without the page knowing (a DarkProxy: nothing passes, nobody hears of an
end) is replaced as soon as the page is in view again; a chat answered while the waiting page was away
starts when it is back; and the volunteer's workspace says the help-seeker is away and that the volunteer
can carry on with other chats meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from server.chat.hub import CHAT_HUB
from tests.browser.conftest import assert_accessible
from tests.browser.holdproxy import HoldingProxy, with_holding_proxy
from tests.browser.inprocess import UNUSUAL_ADDRESS, InProcessServer, start_in_process, stop_in_process
from tests.browser.test_enrolment import wait_text
from tests.browser.test_resume_outbox import (EARLIER, HELLO, new_page, page_url, proxy_of, python_volunteer,
                                              quiet, say_on_seeker_page, seeker_page_in_chat, texts,
                                              volunteer_side)

AWAY_S = 180.0          # the "for 3 minutes"
OLD_END_S = 100.0       # when the chat used to be gone (60 s grace after a ~30 s heartbeat, and a margin)
WRITTEN_AWAY = ("Ben je er nog? Neem je tijd.", "Ik lees het straks wel.")
AFTER_PAGE = "Sorry, mijn telefoon zat in mijn zak"
AFTER_VOLUNTEER = "Geeft niets, fijn dat je er weer bent"
WRITTEN_OFFLINE = "Dit schreef ik toen het netwerk weg was"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    srv = await start_in_process(tmp_path)  # the defaults: 60 s for a volunteer, 600 s for a help-seeker
    await with_holding_proxy(srv)
    yield srv
    await stop_in_process(srv)


@dataclass
class DarkProxy(HoldingProxy):
    """A HoldingProxy whose open connections can go *dark*: from then on nothing passes either way and
    neither end hears that the other is gone. The network of a phone that sleeps: the server's heartbeat
    ends its side, and the page's socket still looks open. New connections pass as usual."""

    dark: set[asyncio.StreamWriter] = field(default_factory=set)

    def go_dark(self) -> None:
        self.dark.update(self.writers)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts.append(asyncio.get_running_loop().time())
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port,
                                                             local_addr=(UNUSUAL_ADDRESS, 0))
        self.writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    if writer in self.dark:
                        continue  # swallowed
                    dst.write(data)
                    await dst.drain()
            if writer not in self.dark:  # a dark connection's end is never passed on
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def set_visibility(page: Any, state: str) -> None:
    """What a phone's browser does when its app goes to the background and comes back (headless Chromium
    keeps every page visible): the page's `visibilityState` changes and it hears `visibilitychange`."""
    await page.evaluate("""(state) => {
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
        Object.defineProperty(document, "hidden", { configurable: true, get: () => state === "hidden" });
        document.dispatchEvent(new Event("visibilitychange"));
    }""", state)


async def network(cdp: Any, online: bool) -> None:
    await cdp.send("Network.emulateNetworkConditions", {"offline": not online, "latency": 0,
                                                        "downloadThroughput": -1, "uploadThroughput": -1})


async def frames_of(volunteer: Any, kind: str, seconds: float) -> dict[str, Any]:
    """The next frame of this kind on the volunteer's socket (an error frame fails the test)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"no {kind} frame"
        try:
            frame = await asyncio.wait_for(volunteer.ws.receive_json(), left)
        except (asyncio.TimeoutError, TimeoutError):
            continue
        assert frame["t"] != "error", frame
        assert frame["t"] != "ended", frame
        if frame["t"] == kind:
            return frame


async def listen_until(volunteer: Any, until: float) -> list[str]:
    """Read the volunteer's socket until the loop's time `until` (a socket nobody reads answers no ping,
    and the server's heartbeat would end it): the types of the frames that came, none an end or an error."""
    loop = asyncio.get_running_loop()
    kinds = []
    while (left := until - loop.time()) > 0:
        try:
            # Not receive(timeout=...): every ping the server sends starts that timeout again.
            frame = await asyncio.wait_for(volunteer.ws.receive_json(), left)
        except (asyncio.TimeoutError, TimeoutError):
            break
        assert frame["t"] not in ("error", "ended"), frame
        kinds.append(frame["t"])
    return kinds


async def attempt_after(proxy: Any, since: float, timeout: float) -> float:
    """How long after `since` the page's next connection reached the proxy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not [a for a in proxy.attempts if a > since]:
        assert asyncio.get_running_loop().time() < deadline, "the page did not try to reconnect"
        await asyncio.sleep(0.01)
    return min(a for a in proxy.attempts if a > since) - since


@pytest.mark.browser
async def test_a_chat_survives_the_seekers_page_frozen_and_offline_for_three_minutes(
        browser: Any, server: InProcessServer) -> None:
    proxy = proxy_of(server)
    hub = server.app[CHAT_HUB]
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        page, chat_id = await seeker_page_in_chat(browser, server, volunteer)
        try:
            # Said once, plainly, while the chat lasts.
            assert await page.locator("#openhouden").is_visible()
            assert "open" in (await page.text_content("#openhouden") or "")
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Network.enable")
            # The phone goes into a pocket: its network goes (the socket is cut, new ones are refused)
            # and the browser freezes the page.
            await network(cdp, online=False)
            proxy.refuse()
            proxy.cut()
            await cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
            away_since = loop.time()
            await frames_of(volunteer, "peer-away", 15)
            assert hub.chats[chat_id].seeker is None  # the server knows the page is gone
            # The volunteer writes meanwhile: kept for the page in the relay's backlog.
            for text in WRITTEN_AWAY:
                await volunteer.say(chat_id, text)
            await listen_until(volunteer, away_since + OLD_END_S)
            assert chat_id in hub.chats, "the chat ended while the help-seeker's page was away"
            await listen_until(volunteer, away_since + AWAY_S)
            assert chat_id in hub.chats, "the chat ended while the help-seeker's page was away"

            # Out of the pocket: the network is back and the page thaws; it resumes without waiting.
            proxy.release()
            await network(cdp, online=True)
            back_at = loop.time()
            await cdp.send("Page.setWebLifecycleState", {"state": "active"})
            # It comes back by itself (that it does so at once, not at its backoff's next step, is the next
            # test's, measured against the page's own backoff: a thawing page on a busy machine takes a while).
            await attempt_after(proxy, back_at, 15.0)
            await frames_of(volunteer, "peer-back", 15)
            for text in WRITTEN_AWAY:
                await page.locator("#berichten li.theirs", has_text=text).wait_for(timeout=20_000)

            # Both sides go on, and nothing was shown or delivered twice.
            await say_on_seeker_page(page, AFTER_PAGE)
            assert await texts(*volunteer_side(volunteer), 1) == [AFTER_PAGE]
            await volunteer.say(chat_id, AFTER_VOLUNTEER)
            await page.locator("#berichten li.theirs", has_text=AFTER_VOLUNTEER).wait_for(timeout=10_000)
            await quiet(*volunteer_side(volunteer))
            log = await page.locator("#berichten").inner_text()
            for text in (HELLO, EARLIER, *WRITTEN_AWAY, AFTER_PAGE, AFTER_VOLUNTEER):
                assert log.count(text) == 1, (text, log)
            assert await page.is_hidden("#einde")
            assert (await page.text_content("#fout") or "") == ""
            assert not page.problems, page.problems
        finally:
            await page.context.close()


@pytest.mark.browser
async def test_the_seekers_page_reconnects_at_once_when_it_is_back_online_not_at_its_next_backoff(
        browser: Any, server: InProcessServer) -> None:
    """Down long enough that its backoff waits 5 s between attempts: the `online` event brings the page
    back within a moment of the network's return, and what it wrote meanwhile goes once."""
    proxy = proxy_of(server)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        page, chat_id = await seeker_page_in_chat(browser, server, volunteer)
        try:
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Network.enable")
            proxy.refuse()
            proxy.cut()
            await wait_text(page, "#status", "even weg")
            await say_on_seeker_page(page, WRITTEN_OFFLINE)
            # Let the backoff grow to its longest step (1 s + a quarter of the time down, at most 5 s).
            await asyncio.sleep(18)
            # Right after a refused attempt: the next one of the backoff is about 5 s away.
            seen = len(proxy.attempts)
            while len(proxy.attempts) == seen:
                await asyncio.sleep(0.01)
            last = proxy.attempts[-1]
            step = last - proxy.attempts[-2]  # the page's own backoff step now (about 5 s)
            assert step > 3.0, proxy.attempts
            proxy.release()
            # The network was gone and is back: the page hears `online`.
            await network(cdp, online=False)
            await network(cdp, online=True)
            # Well before the backoff's next step: measured against the page's own step, not a clock.
            assert await attempt_after(proxy, last, 10.0) < step / 2
            assert await texts(*volunteer_side(volunteer), 1) == [WRITTEN_OFFLINE]
            await wait_text(page, "#status", "hersteld")
            await volunteer.say(chat_id, AFTER_VOLUNTEER)
            await page.locator("#berichten li.theirs", has_text=AFTER_VOLUNTEER).wait_for(timeout=10_000)
            await quiet(*volunteer_side(volunteer))
            log = await page.locator("#berichten").inner_text()
            assert log.count(WRITTEN_OFFLINE) == 1 and log.count(AFTER_VOLUNTEER) == 1
            assert not page.problems, page.problems
        finally:
            await page.context.close()


@pytest.fixture
async def dark_server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    srv = await start_in_process(tmp_path)
    srv.proxy = await DarkProxy(int(srv.url.rsplit(":", 1)[1])).start()
    yield srv
    await stop_in_process(srv)


@pytest.mark.browser
async def test_a_page_back_in_view_replaces_a_socket_that_died_unnoticed_and_resumes_at_once(
        browser: Any, dark_server: InProcessServer) -> None:
    """The phone slept with the page in the background: the server's heartbeat ended the socket (the
    volunteer is told the help-seeker is away), but the page never heard, and its socket still looks open.
    Back in view, the page does not wait for a message that cannot come: it resumes on a new socket at
    once and gets what the volunteer wrote meanwhile."""
    server = dark_server
    proxy = server.proxy
    assert isinstance(proxy, DarkProxy)
    hub = server.app[CHAT_HUB]
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        page, chat_id = await seeker_page_in_chat(browser, server, volunteer)
        try:
            await set_visibility(page, "hidden")
            proxy.go_dark()
            await frames_of(volunteer, "peer-away", 60)  # the heartbeat noticed (about 30 s)
            assert hub.chats[chat_id].seeker is None
            assert await page.evaluate("document.visibilityState") == "hidden"
            await volunteer.say(chat_id, WRITTEN_AWAY[0])
            await asyncio.sleep(0.5)
            assert await page.locator("#berichten li.theirs", has_text=WRITTEN_AWAY[0]).count() == 0
            # Nothing told the page: it still shows a live chat, with no "connection gone".
            assert "even weg" not in (await page.text_content("#status") or "")
            back_at = loop.time()
            await set_visibility(page, "visible")
            assert await attempt_after(proxy, back_at, 10.0) < 2.0
            await frames_of(volunteer, "peer-back", 15)
            await page.locator("#berichten li.theirs", has_text=WRITTEN_AWAY[0]).wait_for(timeout=10_000)
            await say_on_seeker_page(page, AFTER_PAGE)
            assert await texts(*volunteer_side(volunteer), 1) == [AFTER_PAGE]
            await quiet(*volunteer_side(volunteer))
            log = await page.locator("#berichten").inner_text()
            for text in (HELLO, EARLIER, WRITTEN_AWAY[0], AFTER_PAGE):
                assert log.count(text) == 1, (text, log)
            assert await page.is_hidden("#einde")
            assert not page.problems, page.problems
        finally:
            await page.context.close()


@pytest.mark.browser
@pytest.mark.parametrize(("lang", "away", "back"), [
    ("nl", "De verbinding van de hulpvrager is even weg; je kunt intussen verder met andere gesprekken.",
     "De hulpvrager is er weer."),
    ("en", "The help-seeker's connection is gone for a moment; you can carry on with other chats meanwhile.",
     "The help-seeker is back."),
])
async def test_the_volunteer_is_told_the_seeker_is_away_and_may_carry_on_elsewhere(
        browser: Any, server: InProcessServer, lang: str, away: str, back: str) -> None:
    """The volunteer's workspace (a real page) while the help-seeker's page is away for a while."""
    from tests.browser.inprocess import invite_link
    from tests.browser.test_enrolment import PASSPHRASE, enrol, login
    proxy = proxy_of(server)
    volunteer = await (await browser.new_context(locale="nl-NL" if lang == "nl" else "en-GB")).new_page()
    await enrol(volunteer, f"{server.url}/inschrijven#{await invite_link(server, 'Sanne')}", PASSPHRASE)
    await volunteer.goto(server.url + "/vrijwilliger" + ("?lang=en" if lang == "en" else ""))
    await login(volunteer, "Sanne", PASSPHRASE)
    await volunteer.wait_for_selector("#chatwerk:not([hidden])", timeout=30_000)
    await volunteer.check("#beschikbaar")
    seeker = await new_page(browser)
    try:
        await seeker.goto(page_url(server) + "/chat")
        await seeker.click("#start")
        await wait_text(seeker, "#positie", "nummer 1")
        await volunteer.locator("#aannemen").click()
        await wait_text(seeker, "#gesprek-kop", "Je praat met Sanne")
        proxy.refuse()
        proxy.cut()
        await volunteer.get_by_text(away).first.wait_for(timeout=30_000)
        await assert_accessible(volunteer)
        proxy.release()
        await seeker.evaluate("window.dispatchEvent(new Event('online'))")
        await volunteer.get_by_text(back).first.wait_for(timeout=30_000)
        assert not seeker.problems, seeker.problems
    finally:
        await seeker.context.close()
        await volunteer.context.close()


@pytest.mark.browser
async def test_a_chat_answered_while_the_waiting_page_was_away_starts_when_it_is_back(
        browser: Any, server: InProcessServer) -> None:
    """Waiting in the queue with the phone in a pocket: a volunteer answers meanwhile. The page, back, gets the
    volunteer's signed key with its resume (hub.py resume_seeker), checks it and the chat starts, with what
    the person typed while waiting and what the volunteer wrote meanwhile."""
    proxy = proxy_of(server)
    hub = server.app[CHAT_HUB]
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        page = await new_page(browser)
        try:
            await page.goto(page_url(server) + "/chat")
            await page.click("#start")
            await wait_text(page, "#positie", "nummer 1")
            await page.fill("#bericht", EARLIER)
            await page.press("#bericht", "Enter")  # typed while waiting: sent once someone answers
            proxy.refuse()
            proxy.cut()
            chat_id = next(iter(hub.chats))
            for _ in range(500):
                if hub.chats[chat_id].seeker is None:
                    break
                await asyncio.sleep(0.01)
            assert hub.chats[chat_id].seeker is None
            assert await volunteer.pick_up() == chat_id
            assert (await frames_of(volunteer, "peer-away", 10))["chat"] == crypto.b64encode(chat_id)
            await volunteer.say(chat_id, HELLO)
            proxy.release()
            await page.evaluate("window.dispatchEvent(new Event('online'))")
            await wait_text(page, "#gesprek-kop", "Je praat met Pim")
            await page.locator("#berichten li.theirs", has_text=HELLO).wait_for(timeout=10_000)
            assert await texts(*volunteer_side(volunteer), 1) == [EARLIER]
            await say_on_seeker_page(page, AFTER_PAGE)
            assert await texts(*volunteer_side(volunteer), 1) == [AFTER_PAGE]
            await quiet(*volunteer_side(volunteer))
            log = await page.locator("#berichten").inner_text()
            for text in (EARLIER, HELLO, AFTER_PAGE):
                assert log.count(text) == 1, (text, log)
            assert await page.is_hidden("#einde")
            assert (await page.text_content("#fout") or "") == ""
            assert not page.problems, page.problems
        finally:
            await page.context.close()
