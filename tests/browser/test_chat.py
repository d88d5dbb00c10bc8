"""The anonymous chat, end to end: a help-seeker and a volunteer in two Chromium contexts.

The server is the real application on a real port and a real SQLite file, in the
test's event loop so that the relay can be watched (and, in the tamper tests,
made to misbehave). The help-seeker reaches it through a proxy from 127.31.7.9,
so any trace of that address in a file or a log is a leak.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from server.chat.hub import CHAT_HUB
from tests.browser.conftest import assert_accessible
from tests.browser.inprocess import (UNUSUAL_ADDRESS, InProcessServer, api_volunteer, invite_link, proxied_url,
                                     start_in_process, stop_in_process, with_proxy)
from tests.browser.test_enrolment import PASSPHRASE, enrol, login, wait_text
from tests.chatclient import Volunteer

FIRST = "Hallo, ik weet even niet meer wat ik moet doen"
REPLY = "Fijn dat je schrijft. Ik ben Sanne, ik luister."
MISSED = "Ben je er nog? Neem je tijd."
LAST = "Dank je wel, het lucht op"


@pytest.fixture
async def server(tmp_path: Path, database: Any) -> AsyncIterator[InProcessServer]:
    srv = await with_proxy(await start_in_process(tmp_path, database=database))
    yield srv
    await stop_in_process(srv)


async def volunteer_ready(browser: Any, server: InProcessServer, name: str = "Sanne") -> Any:
    context = await browser.new_context(locale="nl-NL")
    page = await context.new_page()
    base = server.url  # the volunteer connects directly; only the help-seeker goes through the proxy
    fragment = await invite_link(server, name)
    await enrol(page, f"{base}/inschrijven#{fragment}", PASSPHRASE)
    await page.goto(base + "/vrijwilliger")
    await login(page, name, PASSPHRASE)
    await page.wait_for_selector("#chatwerk:not([hidden])", timeout=30_000)
    await page.check("#beschikbaar")
    await wait_text(page, "#wachtrij-samenvatting", "Er wacht niemand")
    return page


@pytest.mark.browser
async def test_chat_journey_end_to_end_leaves_no_plaintext_or_address(
        browser: Any, server: InProcessServer) -> None:
    base = proxied_url(server)
    volunteer = await volunteer_ready(browser, server)
    seeker_context = await browser.new_context(locale="nl-NL", accept_downloads=True)
    seeker = await seeker_context.new_page()
    problems: list[str] = []
    seeker.on("pageerror", lambda e: problems.append(str(e)))
    try:
        await seeker.goto(base + "/chat")
        await seeker.wait_for_selector("#start:not([hidden])")
        await assert_accessible(seeker)
        await seeker.click("#start")
        await wait_text(seeker, "#positie", "nummer 1 in de rij")
        # A first message typed while waiting is sent once someone picks up.
        await seeker.fill("#bericht", FIRST)
        await seeker.press("#bericht", "Enter")
        await assert_accessible(seeker)

        await wait_text(volunteer, "#wachtrij-samenvatting", "Er wacht 1 persoon")
        await volunteer.click("#aannemen")
        await wait_text(seeker, "#gesprek-kop", "Je praat met Sanne")
        panel = volunteer.locator("#gesprekken .panel").first
        await panel.locator(".messages li.theirs", has_text=FIRST).wait_for()
        await assert_accessible(volunteer)

        await panel.locator("textarea.bericht").type("Fijn", delay=20)
        await wait_text(seeker, "#typt", "Sanne is aan het typen")
        await panel.locator("textarea.bericht").fill(REPLY)
        await panel.locator("textarea.bericht").press("Enter")
        await seeker.locator("#berichten li.theirs", has_text=REPLY).wait_for()

        # A network blip: the proxy drops every connection; the page resumes and gets what it missed.
        # A page back within seconds is not announced to the other side (hub.AWAY_NOTICE_SECONDS).
        server.proxy.cut()
        await panel.locator("textarea.bericht").fill(MISSED)
        await panel.locator("textarea.bericht").press("Enter")
        await seeker.locator("#berichten li.theirs", has_text=MISSED).wait_for(timeout=20_000)
        await seeker.fill("#bericht", LAST)
        await seeker.press("#bericht", "Enter")
        await panel.locator(".messages li.theirs", has_text=LAST).wait_for(timeout=20_000)

        await seeker.click("#stoppen")
        await wait_text(seeker, "#reden", "Je hebt het gesprek beëindigd")
        async with seeker.expect_download() as download_info:
            await seeker.click("#download")
        transcript = Path(await (await download_info.value).path()).read_text(encoding="utf-8")
        assert FIRST in transcript and REPLY in transcript and LAST in transcript
        await assert_accessible(seeker)

        await panel.locator(".afronding").wait_for()
        await panel.locator(".afronding button").click()
        await panel.locator(".afronding-fout", has_text="Kies een onderwerp").wait_for()
        await panel.locator("select.onderwerp").select_option("eenzaamheid")
        await panel.locator("select.leeftijd").select_option("18-29")
        await panel.locator(".afronding button").click()
        await volunteer.locator("#gesprekken .panel").wait_for(state="detached")
        assert await seeker.evaluate("localStorage.length + sessionStorage.length") == 0
        assert await seeker_context.cookies() == []
        assert not problems, problems
    finally:
        await seeker_context.close()
        await volunteer.context.close()

    # The proxy really connected from the unusual address, so the checks below can fail.
    assert server.proxy.upstream_sources == {UNUSUAL_ADDRESS}
    relayed = [frame for _, frame in server.frames]
    assert len(relayed) >= 4
    texts = (FIRST, REPLY, MISSED, LAST, "Fijn dat", "lucht op")
    for frame in relayed:
        assert all(text not in frame for text in texts), frame
        assert set(frame) and '"ct":"' in frame  # every relayed frame is a ciphertext frame
    stored = server.data_bytes()
    output = server.output()
    for text in texts:
        assert text.encode() not in stored and text not in output
    assert UNUSUAL_ADDRESS.encode() not in stored and UNUSUAL_ADDRESS not in output
    assert '"GET /chat"' in output  # the log was captured: the check above looked at something
    assert server.store.rows("SELECT topic, age_band, count FROM chat_wrapups") == [("eenzaamheid", "18-29", 1)]


@pytest.mark.browser
async def test_no_volunteer_on_duty_offers_mail(page: Any, server: InProcessServer) -> None:
    await page.goto(proxied_url(server) + "/chat")
    await page.wait_for_selector("#niemand:not([hidden])")
    assert await page.is_hidden("#start")
    assert await page.get_attribute("#niemand a", "href") == "/mail"
    await assert_accessible(page)


async def python_volunteer(server: InProcessServer, http: aiohttp.ClientSession) -> Volunteer:
    """A volunteer speaking the real protocol from Python, so the page under test is the help-seeker's."""
    enrolled = await api_volunteer(server, http, "Pim")
    ws = await http.ws_connect("/ws/volunteer", headers={"Origin": server.url})
    volunteer = Volunteer(ws, enrolled.identity)
    await volunteer.next("queue")
    await volunteer.available(True)
    return volunteer


@pytest.mark.browser
@pytest.mark.parametrize("attack", ["replay", "reorder", "alter", "reflect"])
async def test_seeker_page_refuses_frames_a_server_injects_replays_or_reorders(
        page: Any, server: InProcessServer, attack: str) -> None:
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        await page.goto(proxied_url(server) + "/chat")
        await page.click("#start")
        await wait_text(page, "#positie", "nummer 1")
        chat_id = await volunteer.pick_up()
        await wait_text(page, "#gesprek-kop", "Je praat met Pim")
        await volunteer.say(chat_id, "eerste bericht")
        await page.locator("#berichten li.theirs", has_text="eerste bericht").wait_for()
        await page.fill("#bericht", "van de hulpvrager")
        await page.press("#bericht", "Enter")
        await volunteer.hear()
        to_seeker = [f for d, f in server.frames if d == 2]
        from_seeker = [f for d, f in server.frames if d == 1]
        hub = server.app[CHAT_HUB]
        seeker_ws = hub.chats[chat_id].seeker
        import json
        if attack == "replay":
            evil = to_seeker[0]
        elif attack == "reorder":
            seq, ct = volunteer.sessions[chat_id].seal(b'{"k":"text","b":"tweede"}')
            seq, ct = volunteer.sessions[chat_id].seal(b'{"k":"text","b":"derde, te vroeg"}')
            evil = json.dumps({"t": "msg", "seq": seq, "ct": crypto.b64encode(ct)})
        elif attack == "alter":
            seq, ct = volunteer.sessions[chat_id].seal(b'{"k":"text","b":"vervalst"}')
            flipped = bytearray(ct)
            flipped[5] ^= 1
            evil = json.dumps({"t": "msg", "seq": seq, "ct": crypto.b64encode(bytes(flipped))})
        else:  # reflect the help-seeker's own frame back to it
            evil = json.loads(from_seeker[0])
            evil = json.dumps({"t": "msg", "seq": 2, "ct": evil["ct"]})
        await seeker_ws.send_str(evil)
        if attack == "replay":
            # A frame already opened is a duplicate (a node can relay one twice after a crash): it is
            # dropped unseen and the chat goes on; it is never shown twice (PROTOCOL.md 10.7).
            await volunteer.say(chat_id, "na de herhaling")
            await page.locator("#berichten li.theirs", has_text="na de herhaling").wait_for()
            assert await page.locator("#reden").inner_text() == ""
        else:
            await wait_text(page, "#reden", "niet meer betrouwbaar")
        shown = await page.locator("#berichten").inner_text()
        assert "vervalst" not in shown and "te vroeg" not in shown
        assert shown.count("eerste bericht") == 1


@pytest.mark.browser
async def test_server_restart_tells_the_seeker_plainly(page: Any, server: InProcessServer) -> None:
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await python_volunteer(server, http)
        await page.goto(proxied_url(server) + "/chat")
        await page.click("#start")
        await wait_text(page, "#positie", "nummer 1")
        await volunteer.pick_up()
        await wait_text(page, "#gesprek-kop", "Je praat met Pim")
        await server.app[CHAT_HUB].shutdown()
        await wait_text(page, "#reden", "opnieuw gestart")


@pytest.mark.browser
async def test_volunteer_page_drops_a_replayed_frame_unseen(browser: Any, server: InProcessServer) -> None:
    from tests.chatclient import Seeker
    volunteer = await volunteer_ready(browser, server, "Noor")
    try:
        async with aiohttp.ClientSession(base_url=server.url) as http:
            seeker = Seeker(await http.ws_connect("/ws/chat", headers={"Origin": server.url}))
            await seeker.open(http)
            await wait_text(volunteer, "#wachtrij-samenvatting", "Er wacht 1 persoon")
            await volunteer.click("#aannemen")
            await seeker.connected()
            await seeker.say("mijn eerste zin")
            panel = volunteer.locator("#gesprekken .panel").first
            await panel.locator(".messages li.theirs", has_text="mijn eerste zin").wait_for()
            replay = [f for d, f in server.frames if d == 1][0]
            info = next(iter(server.app[CHAT_HUB].volunteers.values()))
            await info.ws.send_str(replay)
            # A duplicate (a node may relay one twice after a crash) is dropped unseen; the chat goes on.
            await seeker.say("mijn tweede zin")
            await panel.locator(".messages li.theirs", has_text="mijn tweede zin").wait_for()
            text = await panel.locator(".messages").inner_text()
            assert text.count("mijn eerste zin") == 1 and "klopte niet" not in text
    finally:
        await volunteer.context.close()


@pytest.mark.browser
async def test_a_refused_connection_says_it_may_be_busy_and_shows_the_crisis_line(page: Any, tmp_path: Path,
                                                                                  database: Any) -> None:
    """When the server refuses the chat socket (its connection caps, issue 11), the page cannot read
    the 503; it goes back to the start and says plainly that it may be busy, with 113 and 112."""
    server = await with_proxy(await start_in_process(tmp_path, {"OOR_CHAT_SOCKETS_MAX": "1"}, database=database))
    try:
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            volunteer = await python_volunteer(server, http)  # on duty while this reference lives
            # Someone else holds the one help-seeker connection the server allows.
            holder = await http.ws_connect("/ws/chat", headers={"Origin": server.url})
            await page.goto(proxied_url(server) + "/chat")
            await page.click("#start")
            await wait_text(page, "#fout", "misschien is het erg druk")
            text = await page.inner_text("#fout")
            assert "113" in text and "112" in text
            assert await page.is_enabled("#start")  # nothing lost: the person can simply try again
            await holder.close()
            await page.click("#start")
            await wait_text(page, "#positie", "nummer 1")
            await volunteer.ws.close()
    finally:
        await stop_in_process(server)
