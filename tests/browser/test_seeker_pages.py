"""Issue 15, points 11 to 13 on the help-seeker's chat page, in real Chromium on a phone and a desktop.

- Waiting: one heading for the state (not the page's title again), the place in the queue as a status
  below it, and once, plainly, "keep this page open" (switching apps for a while is fine).
- Ended: the conversation stays readable, read-only (no composer), with the download and a "new chat"
  button below it, until the person leaves or uses quick exit (which takes it off the screen).

The volunteer speaks the protocol from Python (tests/chatclient.py); axe-core checks every state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from tests.browser.conftest import assert_accessible
from tests.browser.inprocess import InProcessServer, start_in_process, stop_in_process
from tests.browser.test_enrolment import wait_text
from tests.browser.test_resume_outbox import python_volunteer, texts, volunteer_side

PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1366, "height": 900}
WORDS = {
    "nl": {"locale": "nl-NL", "query": "", "position": "nummer 1 in de rij", "waiting": "Wachten op een vrijwilliger",
           "keep": "Houd deze pagina open", "with": "Je praat met Pim", "was_with": "Je gesprek met Pim",
           "ended_volunteer": "De vrijwilliger heeft het gesprek beëindigd", "ended_seeker": "Je hebt het gesprek beëindigd",
           "title": "Chatten"},
    "en": {"locale": "en-GB", "query": "?lang=en", "position": "number 1 in the queue",
           "waiting": "Waiting for a volunteer", "keep": "Keep this page open", "with": "You are talking with Pim",
           "was_with": "Your chat with Pim", "ended_volunteer": "The volunteer ended the chat",
           "ended_seeker": "You ended the chat", "title": "Chat"},
}
HELLO = "Hoi, ik ben Pim. Waar wil je over praten?"
MINE = "Ik kan niet slapen van het piekeren"
GOODBYE = "Dank je wel voor het gesprek"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    srv = await start_in_process(tmp_path)
    yield srv
    await stop_in_process(srv)


async def seeker_page(browser: Any, lang: str, viewport: dict[str, int]) -> Any:
    context = await browser.new_context(locale=WORDS[lang]["locale"], viewport=viewport, accept_downloads=True)
    page = await context.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    return page


async def headings(page: Any) -> list[str]:
    """The text of every visible heading, in order."""
    found = []
    for item in await page.locator("h1:visible, h2:visible, h3:visible").all():
        found.append(" ".join((await item.inner_text()).split()))
    return found


async def bottom_of(page: Any, selector: str) -> float:
    box = await page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["y"] + box["height"]


async def top_of(page: Any, selector: str) -> float:
    box = await page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["y"]


@pytest.mark.browser
@pytest.mark.parametrize(("lang", "viewport", "ender"), [("nl", PHONE, "volunteer"), ("en", DESKTOP, "seeker")])
async def test_waiting_says_it_once_and_the_ended_chat_stays_readable_with_download_and_new_chat(
        browser: Any, server: InProcessServer, lang: str, viewport: dict[str, int], ender: str) -> None:
    words = WORDS[lang]
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        page = await seeker_page(browser, lang, viewport)
        try:
            await page.goto(server.url + "/chat" + words["query"])
            await page.click("#start")
            await wait_text(page, "#positie", words["position"])

            # Waiting: one heading for the state, distinct from the page's title and from the status.
            shown = await headings(page)
            assert shown[-1] == words["waiting"], shown
            assert len(shown) == len(set(shown)), f"a heading said twice: {shown}"
            assert words["title"] in shown
            status = " ".join((await page.inner_text("#positie")).split())
            assert status not in shown
            body = await page.inner_text("main")
            assert body.count(words["keep"]) == 1, body
            assert await page.locator("#openhouden").is_visible()
            await assert_accessible(page)

            chat_id = await volunteer.pick_up()
            await wait_text(page, "#gesprek-kop", words["with"])
            assert (await page.inner_text("main")).count(words["keep"]) == 1  # still there once, while it lasts
            await volunteer.say(chat_id, HELLO)
            await page.locator("#berichten li.theirs", has_text=HELLO).wait_for()
            await page.fill("#bericht", MINE)
            await page.press("#bericht", "Enter")
            assert await texts(*volunteer_side(volunteer), 1) == [MINE]
            await volunteer.say(chat_id, GOODBYE)
            await page.locator("#berichten li.theirs", has_text=GOODBYE).wait_for()

            if ender == "volunteer":
                await volunteer.ws.send_json({"t": "end", "chat": crypto.b64encode(chat_id)})
                await wait_text(page, "#reden", words["ended_volunteer"])
            else:
                await page.click("#stoppen")
                await wait_text(page, "#reden", words["ended_seeker"])

            # Ended: the whole conversation still there to read, nothing to write in.
            log = await page.inner_text("#berichten")
            for text in (HELLO, MINE, GOODBYE):
                assert log.count(text) == 1, log
            assert await page.locator("#berichten").is_visible()
            assert await page.is_hidden("#schrijven")
            assert await page.locator("#bericht").is_disabled()
            assert await page.is_hidden("#openhouden")
            await wait_text(page, "#gesprek-kop", words["was_with"])
            # Below it: the end, the download and the new chat.
            assert await page.locator("#download").is_visible()
            assert await page.locator("#opnieuw").is_visible()
            log_bottom = await bottom_of(page, "#berichten")
            assert await top_of(page, "#einde") >= log_bottom
            assert await top_of(page, "#download") >= log_bottom
            assert await top_of(page, "#opnieuw") >= log_bottom
            focused = await page.evaluate("document.activeElement && document.activeElement.id")
            assert focused == "einde-kop"
            await assert_accessible(page)
            async with page.expect_download() as download_info:
                await page.click("#download")
            transcript = Path(await (await download_info.value).path()).read_text(encoding="utf-8")
            assert HELLO in transcript and MINE in transcript and GOODBYE in transcript
            # Still readable after the download.
            assert (await page.inner_text("#berichten")).count(GOODBYE) == 1

            # A new chat: a fresh page, nothing of the old conversation.
            await page.click("#opnieuw")
            await page.wait_for_selector("#start:not([hidden])")
            assert await page.locator("#berichten li").count() == 0
            assert HELLO not in await page.inner_text("body")
            assert not page.problems, page.problems
        finally:
            await page.context.close()


@pytest.mark.browser
async def test_quick_exit_takes_an_ended_conversation_off_the_screen(browser: Any, server: InProcessServer) -> None:
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        page = await seeker_page(browser, "nl", PHONE)
        neutral = server.config.quick_exit_url
        await page.route(neutral + "**", lambda route: route.fulfill(status=200, content_type="text/html",
                                                                     body="<title>Nieuws</title><p>Nieuws</p>"))
        try:
            await page.goto(server.url + "/chat")
            await page.click("#start")
            await wait_text(page, "#positie", "nummer 1")
            chat_id = await volunteer.pick_up()
            await wait_text(page, "#gesprek-kop", "Je praat met Pim")
            await volunteer.say(chat_id, HELLO)
            await page.locator("#berichten li.theirs", has_text=HELLO).wait_for()
            await page.click("#stoppen")
            await wait_text(page, "#reden", "Je hebt het gesprek beëindigd")
            assert HELLO in await page.inner_text("#berichten")
            await page.keyboard.press("Escape")
            await page.keyboard.press("Escape")
            await page.wait_for_url(neutral + "**")
            assert HELLO not in await page.content()
            await page.go_back()
            assert page.url.startswith(neutral) or HELLO not in await page.content()
        finally:
            await page.context.close()


@pytest.mark.browser
@pytest.mark.parametrize(("lang", "one", "two"), [
    ("nl", "Op dit moment wacht er 1 persoon.", "Op dit moment wachten er 2 mensen."),
    ("en", "1 person is waiting right now.", "2 people are waiting right now."),
])
async def test_the_start_page_says_how_many_wait_in_the_singular_and_the_plural(
        browser: Any, server: InProcessServer, lang: str, one: str, two: str) -> None:
    """Point 13 in the page: the words come from PLURALS and the form from Intl.PluralRules (web/js/ui.js)."""
    from tests.chatclient import Seeker
    words = WORDS[lang]
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)  # kept: a socket nobody holds is closed
        page = await seeker_page(browser, lang, PHONE)
        try:
            for expected in (one, two):
                waiting = Seeker(await http.ws_connect("/ws/chat", headers={"Origin": server.url}))
                opened = await waiting.open(http)
                assert opened["t"] == "queued", opened
                await page.goto(server.url + "/chat" + words["query"])
                await page.wait_for_selector("#start:not([hidden])")
                await wait_text(page, "#status", expected)
            assert not page.problems, page.problems
            await volunteer.ws.close()
        finally:
            await page.context.close()
