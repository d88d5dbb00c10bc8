"""The volunteer's desk for a night shift (issue 15): panes, focus, shortcuts, times, screen-reader
announcements, quick replies, notes, pause, on-duty time, debrief, the staff layout, and nothing that
destroys open chats by accident. Real Chromium against the real server; the help-seekers are the Python
protocol client (tests/chatclient.py), which speaks exactly what the help-seeker's page speaks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.chat.hub import CHAT_HUB
from server.keys import STORAGE
from tests.browser.conftest import assert_accessible
from tests.browser.inprocess import InProcessServer, invite_link, start_in_process, stop_in_process
from tests.browser.test_enrolment import PASSPHRASE, enrol, login, wait_text
from tests.chatclient import Seeker

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 667}
SHOTS = Path("/tmp/h/shots")


@pytest.fixture
async def server(tmp_path: Path, database: Any) -> AsyncIterator[InProcessServer]:
    srv = await start_in_process(tmp_path, database=database)
    yield srv
    await stop_in_process(srv)


@pytest.fixture
async def stack() -> AsyncIterator[contextlib.AsyncExitStack]:
    async with contextlib.AsyncExitStack() as s:
        yield s


async def staff_page(browser: Any, server: InProcessServer, name: str, role: str = "volunteer", *,
                     viewport: dict[str, int] = DESKTOP, available: bool = True, init: str | None = None,
                     permissions: list[str] | None = None) -> Any:
    """A staff member enrolled and logged in in a browser context of their own (closed by the test)."""
    context = await browser.new_context(locale="nl-NL", viewport=viewport, permissions=permissions or [])
    if init:
        await context.add_init_script(init)
    page = await context.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    fragment = await invite_link(server, name, role)
    await enrol(page, f"{server.url}/inschrijven#{fragment}", PASSPHRASE)
    await page.goto(server.url + "/vrijwilliger")
    await login(page, name, PASSPHRASE)
    await page.wait_for_selector("#werkplek:not([hidden])", timeout=30_000)
    await page.wait_for_selector("#chatwerk:not([hidden])", timeout=30_000)
    if available:
        await page.check("#beschikbaar")
        await wait_text(page, "#wachtrij-samenvatting", "Er wacht niemand")
    return page


async def new_seeker(server: InProcessServer, stack: contextlib.AsyncExitStack) -> Seeker:
    http = await stack.enter_async_context(aiohttp.ClientSession(base_url=server.url))
    seeker = Seeker(await http.ws_connect("/ws/chat", headers={"Origin": server.url}))
    assert (await seeker.open(http))["t"] == "queued"
    return seeker


async def take_chat(page: Any, server: InProcessServer, stack: contextlib.AsyncExitStack) -> Seeker:
    """A help-seeker waits; the volunteer clicks "take the next chat"; both are connected."""
    before = await page.locator("#gesprekken .panel").count()
    seeker = await new_seeker(server, stack)
    if await page.locator("#tab-lijst").is_visible():
        await page.click("#tab-lijst")  # a phone: the list pane has the button
    await page.locator("#aannemen:enabled").wait_for(timeout=30_000)
    await page.click("#aannemen")
    await seeker.connected()
    await page.locator("#gesprekken .panel").nth(before).wait_for()
    return seeker


def chat(page: Any, n: int) -> Any:
    """The panel of "Gesprek n" (its stable label), open or not."""
    return page.locator("#gesprekken .panel", has=page.locator("h3.kop", has_text=f"Gesprek {n}"))


async def until(page: Any, expression: str, timeout_s: float = 30.0) -> None:
    """Wait until a JavaScript expression is true (wait_for_function would need eval, which the CSP forbids)."""
    for _ in range(int(timeout_s / 0.1)):
        if await page.evaluate(expression):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never true: {expression}")


async def in_viewport(page: Any, locator: Any) -> bool:
    box = await locator.bounding_box()
    size = page.viewport_size
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 1 \
        and box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 1


@pytest.mark.browser
async def test_two_chats_the_end_of_one_never_moves_the_cursor_and_shortcuts_switch(
        browser: Any, server: InProcessServer, stack: contextlib.AsyncExitStack) -> None:
    page = await staff_page(browser, server, "Sanne")
    try:
        first = await take_chat(page, server, stack)
        second = await take_chat(page, server, stack)
        await wait_text(page, "#mijn-gesprekken", "Gesprek 2")
        assert await chat(page, 2).is_visible() and not await chat(page, 1).is_visible()  # one open at a time
        # The volunteer types in chat 2 while chat 1 says something and then ends.
        field = chat(page, 2).locator("textarea.bericht")
        await field.click()
        await field.type("Ik ben er voor je, ", delay=5)
        await first.say("Ik moet zo weg")
        await page.locator("#mijn-gesprekken button", has_text="1 nieuw bericht").wait_for()
        await page.locator("#aankondiging p", has_text="Gesprek 1, hulpvrager: Ik moet zo weg").wait_for()
        assert "(1) Ongelezen" in await page.title()
        await first.ws.send_json({"t": "end"})
        await page.locator("#aankondiging p", has_text="Gesprek 1 is beëindigd").wait_for()
        await chat(page, 1).locator("form.afronding").wait_for(state="attached")
        assert not await chat(page, 1).locator("form.afronding").evaluate("f => f.hidden")  # its wrap-up, in its panel
        # The focus stayed in chat 2's field, and what was typed is still there.
        assert await page.evaluate("document.activeElement.id") == await field.get_attribute("id")
        await page.keyboard.type("wat fijn dat je schreef.")
        assert await field.input_value() == "Ik ben er voor je, wat fijn dat je schreef."
        await page.keyboard.press("Enter")
        assert await second.hear() == "Ik ben er voor je, wat fijn dat je schreef."
        # Every message shows the clock time it arrived (the page's clock).
        stamp = chat(page, 2).locator(".messages li.mine time.at").first
        assert await stamp.get_attribute("datetime")
        assert ":" in await stamp.inner_text()

        # Escape twice on the workspace is no quick exit: the page stays, with its chats.
        url = page.url
        await page.keyboard.press("Escape")
        await page.keyboard.press("Escape")
        await page.wait_for_timeout(1500)
        assert page.url == url and await page.locator("#gesprekken .panel").count() == 2
        assert await page.locator("script[src*=quickexit]").count() == 0

        # Alt+1 opens chat 1 (its wrap-up), from inside chat 2's field, without typing anything there.
        await field.focus()
        await page.keyboard.press("Alt+1")
        await chat(page, 1).locator("select.onderwerp").wait_for()
        assert not await chat(page, 2).is_visible()
        assert await page.locator("#mijn-gesprekken button[aria-current=true]", has_text="Gesprek 1").count() == 1
        assert await field.input_value() == ""
        await assert_accessible(page)
        await page.keyboard.press("Alt+2")
        await field.wait_for()
        assert await page.evaluate("document.activeElement.id") == await field.get_attribute("id")
        assert not page.problems, page.problems
    finally:
        await page.context.close()


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_composer_stays_in_view_after_40_messages(
        browser: Any, server: InProcessServer, stack: contextlib.AsyncExitStack, viewport: dict[str, int]) -> None:
    page = await staff_page(browser, server, "Sanne", viewport=viewport)
    try:
        seeker = await take_chat(page, server, stack)
        if viewport is PHONE:
            assert await page.locator("#gesprek").is_visible() and not await page.locator("#lijst").is_visible()
        for i in range(40):
            if i >= 20:
                await asyncio.sleep(0.25)  # within the help-seeker's frame rate (5 a second after a burst)
            await seeker.say(f"Bericht nummer {i} van een lange nacht, met wat meer tekst erbij om de regel te vullen")
        panel = chat(page, 1)
        await panel.locator(".messages li.theirs", has_text="Bericht nummer 39").wait_for()
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"ui-40-messages-{'phone' if viewport is PHONE else 'desktop'}.png"))
        assert await in_viewport(page, panel.locator("textarea.bericht"))
        assert await in_viewport(page, panel.locator(".schrijven button[type=submit]"))
        assert await in_viewport(page, panel.locator(".messages li").last)  # the newest is in view
        assert await panel.locator(".log").evaluate("l => l.scrollHeight > l.clientHeight")  # the log scrolls
        assert await page.evaluate("document.scrollingElement.scrollHeight <= innerHeight + 1")  # the page does not
        await assert_accessible(page)
        if viewport is PHONE:
            # One pane at a time: the tools, then the list, from the tab bar.
            await page.click("#tab-hulp")
            await panel.locator(".tool.snel summary").wait_for()
            assert not await panel.locator("textarea.bericht").is_visible()
            await assert_accessible(page)
            await page.click("#tab-lijst")
            await page.locator("#mijn-gesprekken").wait_for()
            assert not await panel.is_visible()
            await assert_accessible(page)
            # A message while the list is in front: its tab and the chat's entry count it.
            await seeker.say("Hallo?")
            await page.locator("#mijn-gesprekken button", has_text="1 nieuw bericht").wait_for()
            await page.locator("#tab-lijst-teller:not([hidden])").wait_for()
            await page.click("#mijn-gesprekken button")
            await panel.locator(".messages li.theirs", has_text="Hallo?").wait_for()
            assert await page.locator("#tab-lijst-teller").is_hidden()
    finally:
        await page.context.close()


NOTIFICATIONS = """
  window.__notes = [];
  const Real = window.Notification;
  class Recorded extends Real {
    constructor(title, options) { window.__notes.push({ title, body: (options || {}).body || "" }); super(title, options); }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...a) => Real.requestPermission(...a);
  window.Notification = Recorded;
  // The tab is in the background.
  Object.defineProperty(Document.prototype, "hidden", { get: () => true, configurable: true });
  Object.defineProperty(Document.prototype, "visibilityState", { get: () => "hidden", configurable: true });
"""

SECRET = "Niemand weet dat ik hier zit te huilen"


@pytest.mark.browser
async def test_tab_title_and_notifications_without_content(
        browser: Any, server: InProcessServer, stack: contextlib.AsyncExitStack) -> None:
    page = await staff_page(browser, server, "Sanne", init=NOTIFICATIONS, permissions=["notifications"])
    try:
        await page.click("#meldingen")
        await page.locator("#meldingen[aria-pressed=true]").wait_for()
        seeker = await new_seeker(server, stack)
        await until(page, "document.title.startsWith('(1) Wachtrij')")
        assert await page.title() == "(1) Wachtrij · Luisterend Oor"
        await until(page, "window.__notes.length >= 1")
        assert await page.evaluate("window.__notes[0].title") == "Er wacht iemand"
        await page.click("#aannemen")
        await seeker.connected()
        await until(page, "!document.title.includes('Wachtrij')")
        await seeker.say(SECRET)
        await until(page, "window.__notes.some(n => n.title.includes('gesprek 1'))")
        await until(page, "document.title.startsWith('(1) Ongelezen')")
        notes = await page.evaluate("window.__notes")
        assert {"title": "Nieuw bericht in gesprek 1", "body": "Luisterend Oor"} in notes
        for note in notes:
            for word in ("huilen", "Niemand", SECRET):
                assert word not in note["title"] and word not in note["body"]
        assert SECRET not in await page.title()
        # Both switch off and on in the page; nothing is kept in browser storage (the permission is the browser's).
        await page.click("#meldingen")
        await page.locator("#meldingen[aria-pressed=false]").wait_for()
        await page.click("#geluid")
        await page.locator("#geluid[aria-pressed=true]").wait_for()
        assert await page.evaluate("localStorage.length + sessionStorage.length") == 0
        await assert_accessible(page)
    finally:
        await page.context.close()


@pytest.mark.browser
async def test_quick_replies_go_in_at_the_cursor_and_notes_stay_in_the_page(
        browser: Any, server: InProcessServer, stack: contextlib.AsyncExitStack) -> None:
    storage = server.app[STORAGE]
    await storage.add_quick_reply("Wat fijn dat je dit vertelt.", "Thank you for telling me.")
    await storage.add_quick_reply("Neem gerust je tijd.", "Take your time.")
    page = await staff_page(browser, server, "Sanne")
    try:
        seeker = await take_chat(page, server, stack)
        panel = chat(page, 1)
        assert await panel.locator(".tool.snel").get_attribute("open") is None  # folded until needed
        field = panel.locator("textarea.bericht")
        await field.fill("Hoi. Ik lees mee.")
        await field.evaluate("f => f.setSelectionRange(5, 5)")
        await page.keyboard.press("Alt+q")
        await panel.locator(".tool.snel[open]").wait_for()
        assert await page.evaluate("document.activeElement.textContent") == "Wat fijn dat je dit vertelt."
        await page.keyboard.press("Enter")
        assert await field.input_value() == "Hoi. Wat fijn dat je dit vertelt.Ik lees mee."
        assert await page.evaluate("document.activeElement.id") == await field.get_attribute("id")
        assert await panel.locator(".messages li.mine").count() == 0  # never sent by itself
        await page.keyboard.press("Alt+q")
        assert await page.evaluate("document.activeElement.classList.contains('quick-reply-insert')")
        await page.keyboard.press("Escape")  # back to the message, which is as it was
        assert await page.evaluate("document.activeElement.id") == await field.get_attribute("id")
        assert await field.input_value() == "Hoi. Wat fijn dat je dit vertelt.Ik lees mee."
        await assert_accessible(page)

        # A private note: page memory only.
        note = "NOTITIE-alleen-hier: klinkt erg moe"
        await panel.locator(".tool.notities summary").click()
        await panel.locator("textarea.notities-tekst").fill(note)
        await field.fill("Dank je.")
        await field.press("Enter")
        assert await seeker.hear() == "Dank je."
        await assert_accessible(page)
        await seeker.ws.send_json({"t": "end"})
        await panel.locator("select.onderwerp").select_option("eenzaamheid")
        await panel.locator("select.leeftijd").select_option("18-29")
        await panel.locator(".afronding button[type=submit]").click()
        await page.locator("#gesprekken .panel").wait_for(state="detached")
        assert note not in await page.content()
        assert all(note not in frame for _, frame in server.frames)
        assert await page.evaluate("localStorage.length + sessionStorage.length") == 0
    finally:
        await page.context.close()


@pytest.mark.browser
async def test_pause_on_duty_time_and_debrief(
        browser: Any, server: InProcessServer, stack: contextlib.AsyncExitStack) -> None:
    page = await staff_page(browser, server, "Sanne de Vries")
    mentor = await staff_page(browser, server, "Mirjam", "mentor", available=False)
    try:
        await wait_text(page, "#dienst-tijd", "Op dienst 0:0")
        await wait_text(page, "#wie", "Sanne de Vries")
        seeker = await take_chat(page, server, stack)
        await page.check("#pauze")
        await page.locator("#pauze-uitleg").wait_for()
        await page.locator("#pauze:checked").wait_for()
        hub = server.app[CHAT_HUB]
        for _ in range(100):  # the pause frame is on its way
            if hub.queue.available_volunteers() == 0:
                break
            await page.wait_for_timeout(50)
        # Nobody else takes chats here: a new help-seeker is told so, and nothing is offered to Sanne.
        http = await stack.enter_async_context(aiohttp.ClientSession(base_url=server.url))
        other = Seeker(await http.ws_connect("/ws/chat", headers={"Origin": server.url}))
        refused = await other.open(http)
        assert refused["t"] == "error" and refused["code"] == "no-volunteers", refused
        # The open chat goes on during the break.
        await seeker.say("Ben je er nog?")
        await chat(page, 1).locator(".messages li.theirs", has_text="Ben je er nog?").wait_for()
        assert await page.locator("#aannemen").is_disabled()
        assert hub.queue.available_volunteers() == 0
        await assert_accessible(page)
        await page.uncheck("#pauze")
        await page.locator("#pauze-uitleg").wait_for(state="hidden")
        assert hub.queue.available_volunteers() == 1

        await page.locator("#nabespreken summary").click()
        await page.click("#nabespreken-vragen")
        await wait_text(page, "#werkplek-status", "Je verzoek is naar 1 mentor gestuurd.")
        await wait_text(mentor, "#uitnodigingen", "Sanne wil graag nabespreken")
        assert "de Vries" not in await mentor.locator("#uitnodigingen").inner_text()
        await mentor.locator("#aankondiging p", has_text="Sanne wil graag nabespreken").wait_for()
        await assert_accessible(mentor)
    finally:
        await page.context.close()
        await mentor.context.close()


@pytest.mark.browser
async def test_the_same_queue_sentence_is_not_announced_twice(
        browser: Any, server: InProcessServer, stack: contextlib.AsyncExitStack) -> None:
    page = await staff_page(browser, server, "Sanne")
    try:
        await new_seeker(server, stack)
        await wait_text(page, "#wachtrij-samenvatting", "Er wacht 1 persoon")
        await page.evaluate("""() => { window.__changes = 0;
            new MutationObserver((m) => { window.__changes += m.length; })
              .observe(document.getElementById('wachtrij-samenvatting'),
                       { childList: true, characterData: true, subtree: true }); }""")
        # Queue frames that change nothing of this sentence (availability off and on, pause on and off).
        for box in ("#pauze", "#pauze"):
            await page.click(box)
        await page.wait_for_timeout(800)
        await new_seeker(server, stack)
        await wait_text(page, "#wachtrij-samenvatting", "Er wachten 2 mensen")
        assert await page.evaluate("window.__changes") == 1  # once, for the real change
    finally:
        await page.context.close()


@pytest.mark.browser
async def test_leaving_asks_first_links_open_elsewhere_and_the_language_switches_in_place(
        browser: Any, server: InProcessServer, stack: contextlib.AsyncExitStack) -> None:
    page = await staff_page(browser, server, "Sanne", "coordinator")
    try:
        seeker = await take_chat(page, server, stack)
        await seeker.say("Hallo")
        await chat(page, 1).locator(".messages li.theirs", has_text="Hallo").wait_for()
        # Every link but the language switch opens a new tab.
        links = await page.evaluate("""[...document.querySelectorAll('a[href]')]
            .filter(a => !a.getAttribute('href').startsWith('#') && a.id !== 'taal')
            .map(a => [a.getAttribute('href'), a.target, a.rel])""")
        assert links and all(target == "_blank" and "noopener" in rel for _, target, rel in links), links
        assert any(href.startswith("/coordinator") for href, _, _ in links)
        # Leaving with an open chat asks first.
        await page.evaluate("window.__still_here = 'ja'")
        asked: list[str] = []

        async def answer(dialog: Any) -> None:
            asked.append(dialog.type)
            await dialog.dismiss()
        page.on("dialog", answer)
        await chat(page, 1).locator("textarea.bericht").click()  # the page has had a gesture
        await page.close(run_before_unload=True)
        await page.wait_for_timeout(1000)
        assert asked == ["beforeunload"] and not page.is_closed()
        # The language switch changes the texts in place: the page (and its chat) stay.
        await page.click("#taal")
        await wait_text(page, "#aannemen", "Take the next chat")
        assert await page.evaluate("window.__still_here") == "ja"
        assert await page.get_attribute("html", "lang") == "en"
        assert await chat(page, 1).locator(".messages li.theirs", has_text="Hallo").count() == 1
        await wait_text(page, "#mijn-kop", "My chats")
        await seeker.say("Nog een")
        await page.locator("#aankondiging p", has_text="Chat 1, help-seeker: Nog een").wait_for()
        assert (await chat(page, 1).locator("button[type=submit]").first.inner_text()) == "Send"
        await assert_accessible(page)
        await page.click("#taal")
        await wait_text(page, "#aannemen", "Volgend gesprek aannemen")
        assert await page.evaluate("window.__still_here") == "ja"
    finally:
        await page.context.close()


@pytest.mark.browser
async def test_staff_pages_carry_no_quick_exit_and_no_crisis_banner(browser: Any, server: InProcessServer) -> None:
    context = await browser.new_context(locale="nl-NL", viewport=PHONE)
    page = await context.new_page()
    try:
        for path in ("/vrijwilliger", "/coordinator", "/inschrijven", "/vrijwilliger?lang=en"):
            await page.goto(server.url + path)
            assert await page.locator("#snel-weg").count() == 0, path
            assert await page.locator("aside.crisis").count() == 0, path
            assert await page.locator("script[src*=quickexit]").count() == 0, path
            assert await page.locator("header.top.compact").count() == 1, path
            await assert_accessible(page)
            SHOTS.mkdir(parents=True, exist_ok=True)
            name = path.strip("/").replace("?lang=", "-") or "home"
            await page.screenshot(path=str(SHOTS / f"ui-staff-{name}-phone.png"))
        for path in ("/", "/chat", "/mail"):
            await page.goto(server.url + path)
            assert await page.locator("#snel-weg").count() == 1, path
            assert await page.locator("aside.crisis").count() == 1, path
        # Forms a readable width, also on a wide screen.
        await page.set_viewport_size(DESKTOP)
        await page.goto(server.url + "/vrijwilliger")
        width = await page.locator("#inlogformulier").evaluate("f => f.getBoundingClientRect().width")
        assert width <= 40 * 18 + 1  # 40rem at the site's 18 px root size
    finally:
        await context.close()


async def api_staff(server: InProcessServer, stack: contextlib.AsyncExitStack, name: str) -> Any:
    """A volunteer page spoken by the Python protocol client, logged in through the real API."""
    import crypto
    from server import accounts
    from server.keys import CLOCK, CONFIG
    from tests.chatclient import Staff
    from tests.helpers import PASSPHRASE as API_PASSPHRASE
    from tests.helpers import enrolment_body, login_body
    app = server.app
    http = await stack.enter_async_context(
        aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)))
    inv = await accounts.invite(app[STORAGE], app[CONFIG], name, "volunteer", True, True, app[CLOCK]())
    identity = crypto.new_identity()
    body = enrolment_body(inv.url.split("#uitnodiging=", 1)[1], identity=identity)
    assert (await http.post("/api/enrol", json=body)).status == 201
    assert (await http.post("/api/login", json=await login_body(http, name, API_PASSPHRASE))).status == 200
    staff = Staff(await http.ws_connect("/ws/volunteer", headers={"Origin": server.url}), identity)
    await staff.next("queue")
    return staff


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_full_desk_two_chats_a_read_along_and_a_mail_thread(
        browser: Any, server: InProcessServer, stack: contextlib.AsyncExitStack, viewport: dict[str, int]) -> None:
    """The state the screenshots show (/tmp/h/shots/ui-*.png), checked with axe in every pane."""
    from tests.chatclient import SeekerExtras
    from tests.mailclient import MailSeeker
    kind = "phone" if viewport is PHONE else "desktop"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = await staff_page(browser, server, "Mirjam", "mentor", viewport=viewport)
    try:
        async with page.expect_response("**/api/mail/availability"):
            await page.check("#mail-beschikbaar")
        one = await take_chat(page, server, stack)
        await one.say("Ik kan niet slapen, al weken niet.")
        two = await take_chat(page, server, stack)
        await two.say("Mijn moeder is ziek en ik sta er alleen voor.")
        await chat(page, 2).locator(".messages li.theirs").wait_for()
        await chat(page, 2).locator("textarea.bericht").fill("Dat klinkt zwaar. Vertel eens")
        await chat(page, 2).locator("textarea.bericht").press("Enter")
        # A colleague asks Mirjam to read along with a chat of theirs.
        sanne = await api_staff(server, stack, "Sanne")
        await sanne.available(True)
        third = SeekerExtras(await new_seeker(server, stack))
        chat_id = await sanne.pick_up()
        await third.s.connected()
        mirjam_id = next(i.id for i in server.app[CHAT_HUB].volunteers.values() if i.name == "Mirjam")
        await sanne.invite_mentor(chat_id, mirjam_id)
        await third.give_mentor_key()
        if viewport is PHONE:
            await page.click("#tab-lijst")
        await page.locator("#uitnodigingen button", has_text="Meelezen").first.click()
        await sanne.joiner_arrived("mentor-linked")
        await third.mentor_joined()
        await third.say("Ik weet niet of ik dit wel moet vertellen.")
        reading = page.locator("#meelezen .panel").first
        await reading.locator(".messages li.theirs").wait_for()
        # A mail for Mirjam.
        http = await stack.enter_async_context(aiohttp.ClientSession(base_url=server.url))
        assert (await MailSeeker(http).send_first("Ik schrijf liever dan dat ik bel.")).status == 201
        if viewport is PHONE:
            await page.click("#tab-lijst")
        await page.locator("#postvak button").first.wait_for(timeout=30_000)
        await page.locator("#postvak button").first.click()
        await page.locator("#maildraad.is-open").wait_for()
        await page.locator("#mailberichten li.theirs").wait_for()
        await assert_accessible(page)
        await page.screenshot(path=str(SHOTS / f"ui-{kind}-mail.png"))

        # Chat 2 from the list, with two of its tools opened.
        if viewport is PHONE:
            await page.click("#tab-lijst")
        await page.locator("#mijn-gesprekken button", has_text="Gesprek 2").click()
        await chat(page, 2).locator("textarea.bericht").wait_for()
        assert not await page.locator("#maildraad").is_visible()
        await page.screenshot(path=str(SHOTS / f"ui-{kind}-chat.png"))
        if viewport is PHONE:
            await page.click("#tab-hulp")
        await chat(page, 2).locator(".tool.notities summary").click()
        await chat(page, 2).locator(".tool.doorverbinden summary").click()
        await assert_accessible(page)
        await page.screenshot(path=str(SHOTS / f"ui-{kind}-tools.png"))
        if viewport is PHONE:
            await page.click("#tab-lijst")
            await assert_accessible(page)
            await page.screenshot(path=str(SHOTS / f"ui-{kind}-list.png"))
        await page.locator("#mijn-gesprekken button", has_text="Meelezen").click()
        await reading.locator(".tiptekst").wait_for()
        await assert_accessible(page)
        await page.screenshot(path=str(SHOTS / f"ui-{kind}-readalong.png"))
        assert not page.problems, page.problems
    finally:
        await page.context.close()


@pytest.mark.browser
async def test_a_new_mail_is_counted_in_the_title_and_notified_without_content(
        browser: Any, server: InProcessServer, stack: contextlib.AsyncExitStack) -> None:
    from tests.mailclient import MailSeeker
    page = await staff_page(browser, server, "Sanne", init=NOTIFICATIONS, permissions=["notifications"],
                            available=False)
    try:
        async with page.expect_response("**/api/mail/availability"):
            await page.check("#mail-beschikbaar")
        await page.click("#meldingen")
        await page.locator("#meldingen[aria-pressed=true]").wait_for()
        http = await stack.enter_async_context(aiohttp.ClientSession(base_url=server.url))
        assert (await MailSeeker(http).send_first(SECRET)).status == 201
        await until(page, "window.__notes.some(n => n.title.startsWith('Nieuw bericht in Mail '))")
        await until(page, "document.title.startsWith('(1) Ongelezen')")
        for note in await page.evaluate("window.__notes"):
            assert "huilen" not in note["title"] + note["body"]
        # An unsent reply is something to lose: leaving asks first.
        await page.locator("#postvak button").first.click()
        await page.locator("#maildraad.is-open").wait_for()
        await page.fill("#mailtekst", "Dank je voor je bericht")
        asked: list[str] = []

        async def answer(dialog: Any) -> None:
            asked.append(dialog.type)
            await dialog.dismiss()
        page.on("dialog", answer)
        await page.close(run_before_unload=True)
        await page.wait_for_timeout(1000)
        assert asked == ["beforeunload"] and not page.is_closed()
    finally:
        await page.context.close()
