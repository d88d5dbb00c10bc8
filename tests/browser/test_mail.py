"""Anonymous mail end to end in Chromium: write, save the token, read the reply, write again;
handover; reassignment. The help-seeker comes through a proxy from 127.31.7.9."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from server.keys import STORAGE
from server.mail.desk import MAIL_DESK
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
    async with page.expect_response("**/api/mail/inbox"):
        await page.click("#mail-vernieuwen")
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
        await anna.select_option("#collega", "Bram")
        await anna.click("#overdragen button")
        await wait_text(anna, "#werkplek-status", "Overgedragen aan Bram")
        await open_first_thread(bram)
        await bram.locator("#mailberichten li.theirs", has_text=FIRST).wait_for()
        async with anna.expect_response("**/api/mail/inbox"):
            await anna.click("#mail-vernieuwen")
        assert await anna.locator("#postvak button").count() == 0
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
