"""Anonymous mail end to end in Chromium: write, save the token, read the reply, write again;
handover; reassignment; the live inbox with labels, unread counts and coarse times; a private note
on a thread; mail taken with nobody marked available. The help-seeker comes through a proxy from
127.31.7.9."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

import crypto
from server.keys import STORAGE
from server.mail.desk import MAIL_DESK, thread_label
from tests.browser.conftest import assert_accessible
from tests.browser.inprocess import (UNUSUAL_ADDRESS, InProcessServer, api_volunteer, invite_link, proxied_url,
                                     start_in_process, stop_in_process, with_proxy)
from tests.browser.test_enrolment import PASSPHRASE, enrol, login, wait_text
from tests.mailclient import MailSeeker, MailVolunteer

FIRST = "Sinds de scheiding voel ik me zo leeg, ik weet niet bij wie ik terecht kan"
REPLY = "Dank je voor je bericht. Wat fijn dat je het opschrijft; ik lees met aandacht mee."
AGAIN = "Dank je, het helpt al om dit te lezen"


@pytest.fixture
async def server(tmp_path: Path, database: Any) -> AsyncIterator[InProcessServer]:
    srv = await with_proxy(await start_in_process(tmp_path, database=database))
    yield srv
    await stop_in_process(srv)


async def mail_volunteer_page(browser: Any, server: InProcessServer, name: str) -> Any:
    context = await browser.new_context(locale="nl-NL")
    page = await context.new_page()
    await enrol(page, f"{server.url}/inschrijven#{await invite_link(server, name)}", PASSPHRASE)
    await page.goto(server.url + "/vrijwilliger")
    await login(page, name, PASSPHRASE)
    await page.wait_for_selector("#mailwerk:not([hidden])", timeout=30_000)
    async with page.expect_response("**/api/mail/availability"):
        await page.check("#mail-beschikbaar")
    return page


async def open_first_thread(page: Any) -> None:
    """The inbox is live (an inbox frame on the websocket reloads it): wait for a thread, open it."""
    await page.locator("#postvak button").first.wait_for(timeout=30_000)
    await page.locator("#postvak button").first.click()
    await page.wait_for_selector("#maildraad:not([hidden])")


def encodings(data: bytes) -> list[bytes]:
    return [data, data.hex().encode(), base64.b64encode(data), base64.urlsafe_b64encode(data).rstrip(b"=")]


@pytest.mark.browser
async def test_mail_journey_with_the_token_and_no_trace_of_text_token_or_address(
        browser: Any, server: InProcessServer) -> None:
    volunteer = await mail_volunteer_page(browser, server, "Sanne")
    writer_context = await browser.new_context(locale="nl-NL")
    returner_context = await browser.new_context(locale="nl-NL")
    try:
        writer = await writer_context.new_page()
        await writer.goto(proxied_url(server) + "/mail")
        await assert_accessible(writer)
        await writer.click("#schrijven button[type=submit]")
        await wait_text(writer, "#fout", "Schrijf eerst een bericht")
        await writer.fill("#bericht", FIRST)
        await writer.click("#schrijven button[type=submit]")
        await writer.wait_for_selector("#code-kaart:not([hidden])", timeout=30_000)
        shown = (await writer.text_content("#code")).strip()
        token = crypto.parse_token(shown)
        assert shown == crypto.format_token(token)
        assert "uur een antwoord" in await writer.text_content("#verwachting")
        await assert_accessible(writer)
        await writer.click("#klaar")  # not yet confirmed: stays
        await wait_text(writer, "#fout", "Bewaar eerst je code")
        await writer.check("#bewaard")
        await writer.click("#klaar")
        await writer.wait_for_url("**/")

        await open_first_thread(volunteer)
        await volunteer.locator("#mailberichten li.theirs", has_text=FIRST).wait_for()
        await volunteer.fill("#mailtekst", REPLY)
        await volunteer.click("#mailantwoord button[type=submit]")
        await wait_text(volunteer, "#werkplek-status", "Je antwoord is verstuurd")
        await assert_accessible(volunteer)

        returner = await returner_context.new_page()
        opened: list[str] = []
        returner.on("request", lambda r: opened.append(r.url) if r.url.endswith("/api/mail/open") else None)
        await returner.goto(proxied_url(server) + "/mail/terug")
        await assert_accessible(returner)
        typo = list(token)
        typo[5] = "X" if typo[5] != "X" else "Y"
        await returner.fill("#code", "".join(typo))
        await returner.click("#code-formulier button")
        await wait_text(returner, "#fout", "tikfout")
        assert opened == []  # caught on the page, before any request
        await returner.fill("#code", crypto.format_token(crypto.new_token_code()))
        await returner.click("#code-formulier button")
        await wait_text(returner, "#fout", "We vinden geen berichten")
        sloppy = " ".join(token[i:i + 5] for i in range(0, 20, 5)).lower()
        await returner.fill("#code", sloppy)
        await returner.click("#code-formulier button")
        await returner.locator("#berichten li.theirs", has_text=REPLY).wait_for(timeout=30_000)
        assert await returner.locator("#berichten li.mine", has_text=FIRST).count() == 1
        assert await returner.input_value("#code") == ""
        await returner.fill("#bericht", AGAIN)
        await returner.click("#schrijven button[type=submit]")
        await wait_text(returner, "#status", "verstuurd")
        await assert_accessible(returner)

        await volunteer.click("#mail-sluiten")
        await open_first_thread(volunteer)
        await volunteer.locator("#mailberichten li.theirs", has_text=AGAIN).wait_for()
        for page in (writer, returner):
            assert await page.evaluate("localStorage.length + sessionStorage.length") == 0
        assert await writer_context.cookies() == [] and await returner_context.cookies() == []
    finally:
        await writer_context.close()
        await returner_context.close()
        await volunteer.context.close()

    assert server.proxy.upstream_sources == {UNUSUAL_ADDRESS}
    box = crypto.derive_mailbox(token, "luisterend-oor-dev", crypto.KdfParams(1, 8192))
    stored = server.data_bytes()
    output = server.output().encode()
    secrets = [FIRST.encode(), REPLY.encode(), AGAIN.encode(), token.encode(), crypto.format_token(token).encode(),
               sloppy.encode(), box.lookup_key, box.x25519_secret, box.ed25519_seed, UNUSUAL_ADDRESS.encode()]
    for secret in secrets:
        for form in encodings(secret):
            assert form not in stored and form not in output
    assert b'"POST /api/mail/open"' in output  # the log was captured


@pytest.mark.browser
async def test_handover_to_a_colleague_in_the_browser(browser: Any, server: InProcessServer) -> None:
    anna = await mail_volunteer_page(browser, server, "Anna")
    async with aiohttp.ClientSession(base_url=server.url) as http:
        seeker = MailSeeker(http)
        assert (await seeker.send_first(FIRST)).status == 201  # Anna is the only one on duty
    bram = await mail_volunteer_page(browser, server, "Bram")
    try:
        await open_first_thread(anna)
        await anna.locator("#mailberichten li.theirs", has_text=FIRST).wait_for()
        assert not await anna.is_visible("#collega")  # the tools are folded until asked for
        await anna.click("#mailgereedschap summary")
        await anna.select_option("#collega", "Bram")
        await anna.click("#overdragen button")
        await wait_text(anna, "#werkplek-status", "Overgedragen aan Bram")
        await open_first_thread(bram)
        await bram.locator("#mailberichten li.theirs", has_text=FIRST).wait_for()
        await anna.wait_for_function("document.querySelectorAll('#postvak button').length === 0")
    finally:
        await anna.context.close()
        await bram.context.close()


@pytest.mark.browser
async def test_reassignment_on_return_after_the_volunteer_was_deactivated(
        browser: Any, server: InProcessServer, page: Any) -> None:
    jar = aiohttp.CookieJar
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=jar(unsafe=True)) as a_http, \
            aiohttp.ClientSession(base_url=server.url, cookie_jar=jar(unsafe=True)) as b_http, \
            aiohttp.ClientSession(base_url=server.url) as s_http:
        await api_volunteer(server, a_http, "Anna")
        seeker = MailSeeker(s_http)
        assert (await seeker.send_first(FIRST)).status == 201
        bram = await api_volunteer(server, b_http, "Bram")
        assert await server.app[STORAGE].set_active("Anna", False)
        await server.app[MAIL_DESK].housekeeping()

        await page.goto(proxied_url(server) + "/mail/terug")
        await page.fill("#code", crypto.format_token(seeker.token))
        await page.click("#code-formulier button")
        await wait_text(page, "#herverdelen-tekst", "gaat nu naar Bram")
        assert await page.is_hidden("#schrijven")
        await page.click("#herverdelen-knop")
        await page.wait_for_selector("#schrijven:not([hidden])")
        await page.fill("#bericht", AGAIN)
        await page.click("#schrijven button[type=submit]")
        await wait_text(page, "#status", "verstuurd")
        key = (await bram.inbox())[0]["thread"]
        assert (await bram.read(key))[1] == [(1, FIRST), (1, AGAIN)]


MAIL_EVENTS = """() => {
  window.mailEvents = [];
  for (const name of ["oor:mail", "oor:mail-open", "oor:mail-close"]) {
    document.addEventListener(name, (event) => window.mailEvents.push({ name, ...event.detail }));
  }
}"""


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 900}, {"width": 375, "height": 667}],
                         ids=["desktop", "phone"])
async def test_the_inbox_updates_live_with_a_stable_label_an_unread_count_and_coarse_times(
        browser: Any, server: InProcessServer, viewport: dict[str, int]) -> None:
    volunteer = await mail_volunteer_page(browser, server, "Sanne")
    await volunteer.set_viewport_size(viewport)
    inbox_requests: list[str] = []
    volunteer.on("request", lambda r: inbox_requests.append(r.url) if "/api/mail/inbox" in r.url else None)
    await volunteer.evaluate(MAIL_EVENTS)
    try:
        async with aiohttp.ClientSession(base_url=server.url) as http:
            seeker = MailSeeker(http)
            assert (await seeker.send_first(FIRST)).status == 201
            # No click, no 60 s poll: the inbox frame on the websocket brings it within seconds.
            item = volunteer.locator("#postvak button").first
            await item.wait_for(timeout=15_000)
            thread_id = crypto.b64decode(await item.get_attribute("data-thread"))
            label = "Mail " + thread_label(thread_id)
            await volunteer.locator("#postvak button", has_text=label).wait_for()
            text = await item.text_content()
            assert "wacht < 1 uur" in text and "1 ongelezen" in text and "vandaag, rond" in text, text
            assert "Bericht 1" not in text  # never a position in the list
            events = await volunteer.evaluate("window.mailEvents")
            assert {"name": "oor:mail", "unread": 1, "fresh": True, "label": label} in events, events
            await assert_accessible(volunteer)
            # A second message in the same thread: the count goes up, live.
            await seeker.open()
            assert (await seeker.write(AGAIN)).status == 201
            await volunteer.locator("#postvak button", has_text="2 ongelezen").wait_for(timeout=15_000)
            # Opened: the messages show the server's coarse time, the heading the label.
            await item.click()
            await volunteer.wait_for_selector("#maildraad:not([hidden])")
            assert (await volunteer.text_content("#maildraad-kop")).strip() == label
            first = volunteer.locator("#mailberichten li.theirs", has_text=FIRST)
            await first.wait_for()
            assert "vandaag, rond" in await first.text_content()
            await volunteer.wait_for_function("!document.querySelector('#postvak .badge')")
            events = await volunteer.evaluate("window.mailEvents")
            assert {"name": "oor:mail-open", "label": label} in events
            assert events[-1]["name"] == "oor:mail" and events[-1]["unread"] == 0, events
            await assert_accessible(volunteer)
            await volunteer.click("#mail-sluiten")
            assert {"name": "oor:mail-close", "label": label} in await volunteer.evaluate("window.mailEvents")
            # Every inbox load had a reason (set-up, a frame, an opened thread): a handful, not a poll.
            assert len(inbox_requests) <= 8, inbox_requests
            assert await volunteer.evaluate("document.querySelector('#mail-vernieuwen')") is None
    finally:
        await volunteer.context.close()


NOTE = "Afgesproken: zaterdag terugschrijven; vraagt naar de huisarts"


@pytest.mark.browser
async def test_a_note_stays_ciphertext_and_goes_along_at_a_handover_if_chosen(
        browser: Any, server: InProcessServer) -> None:
    anna = await mail_volunteer_page(browser, server, "Anna")
    async with aiohttp.ClientSession(base_url=server.url) as http:
        assert (await MailSeeker(http).send_first(FIRST)).status == 201
        assert (await MailSeeker(http).send_first(AGAIN)).status == 201
    bram = await mail_volunteer_page(browser, server, "Bram")
    try:
        await anna.locator("#postvak button").nth(1).wait_for(timeout=30_000)
        labels = []
        for index in range(2):
            await anna.locator("#postvak button").nth(index).click()
            await anna.wait_for_selector("#maildraad:not([hidden])")
            labels.append((await anna.text_content("#maildraad-kop")).strip())
            assert await anna.input_value("#mailnotitie-tekst") == ""
            await anna.click("#mailgereedschap summary")
            await anna.fill("#mailnotitie-tekst", f"{NOTE} ({index})")
            async with anna.expect_response("**/note"):
                await anna.click("#mailnotitie button[type=submit]")
            await wait_text(anna, "#werkplek-status", "versleuteld bewaard")
            await assert_accessible(anna)
            await anna.click("#mail-sluiten")
        # Back later: the note comes with the thread and opens in the page.
        await anna.locator("#postvak button", has_text=labels[0]).click()
        await expect(anna.locator("#mailnotitie-tekst")).to_have_value(f"{NOTE} (0)", timeout=15_000)
        # Handed over with the note: sealed anew for Bram in Anna's page.
        assert await anna.is_visible("#notitie-meegeven")
        await anna.check("#notitie-meegeven")
        await anna.select_option("#collega", "Bram")
        await anna.click("#overdragen button[type=submit]")
        await wait_text(anna, "#werkplek-status", "Overgedragen aan Bram")
        # The other without: the note stays behind (it is dropped).
        await anna.locator("#postvak button", has_text=labels[1]).click()
        await expect(anna.locator("#mailnotitie-tekst")).to_have_value(f"{NOTE} (1)", timeout=15_000)
        await anna.select_option("#collega", "Bram")
        await anna.click("#overdragen button[type=submit]")
        await wait_text(anna, "#werkplek-status", "Overgedragen aan Bram")

        await bram.locator("#postvak button", has_text=labels[0]).click()
        await expect(bram.locator("#mailnotitie-tekst")).to_have_value(f"{NOTE} (0)", timeout=15_000)
        await bram.click("#mail-sluiten")
        await bram.locator("#postvak button", has_text=labels[1]).click()
        await bram.locator("#mailberichten li.theirs").first.wait_for()
        assert (await bram.text_content("#maildraad-kop")).strip() == labels[1]
        assert await bram.input_value("#mailnotitie-tekst") == ""
    finally:
        await anna.context.close()
        await bram.context.close()
    # The server never saw a note's text: not in its database files, not in its log.
    stored, output = server.data_bytes(), server.output().encode()
    for secret in (NOTE.encode(), f"{NOTE} (0)".encode(), f"{NOTE} (1)".encode()):
        for form in encodings(secret):
            assert form not in stored and form not in output
    assert server.store.rows("SELECT count(*) FROM mail_threads WHERE volunteer_note IS NOT NULL") == [(1,)]


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [{"width": 375, "height": 667}, {"width": 1366, "height": 900}],
                         ids=["phone", "desktop"])
async def test_mail_is_taken_with_nobody_marked_available_and_refused_only_before_writing(
        browser: Any, server: InProcessServer, viewport: dict[str, int]) -> None:
    context = await browser.new_context(locale="nl-NL", viewport=viewport)
    page = await context.new_page()
    try:
        # No account can take mail: the page says so at once, before anyone writes.
        await page.goto(proxied_url(server) + "/mail")
        await page.wait_for_selector("#mail-dicht:not([hidden])")
        assert await page.is_hidden("#schrijven")
        assert "113" in await page.text_content("#mail-dicht")
        await assert_accessible(page)
        # An account that can mail, not marked available: mail is taken all the same.
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=jar) as v_http:
            sanne = await api_volunteer(server, v_http, "Sanne")
            await sanne.available(False)
            await page.goto(proxied_url(server) + "/mail?lang=en")
            await page.wait_for_selector("#schrijven:not([hidden])")
            assert "usually answers within" in await page.text_content("#verwachting-vooraf")
            await page.goto(proxied_url(server) + "/mail")
            assert "antwoordt meestal binnen" in await page.text_content("#verwachting-vooraf")
            assert await page.is_hidden("#mail-dicht")
            await assert_accessible(page)
            await page.fill("#bericht", FIRST)
            await page.click("#schrijven button[type=submit]")
            await page.wait_for_selector("#code-kaart:not([hidden])", timeout=30_000)
            assert len(await sanne.inbox()) == 1
    finally:
        await context.close()
