"""Handover to a partner (113), a declined handover, and a mentor reading along: real Chromium pages for
the help-seeker, the volunteer, the partner professional and the mentor, against the real server and a
real SQLite file. The help-seeker comes through a proxy from an unusual address, so any trace of it in
the data folder or the log is a leak.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import assert_accessible
from tests.browser.inprocess import (UNUSUAL_ADDRESS, InProcessServer, invite_link, proxied_url, start_in_process,
                                     stop_in_process, with_proxy)
from tests.browser.test_enrolment import PASSPHRASE, enrol, login, wait_text

BEFORE = "Ik zie het echt niet meer zitten"
SANNE = "Ik hoor je. Mag ik je doorverbinden met 113?"
NOTE = "Gedachten aan zelfdoding, geen concreet plan genoemd"
AFTER = "Hallo, met wie spreek ik nu?"
PIETER = "Je spreekt met Pieter van 113. Ik ben er voor je."
WATCHED = "Ik kan niet slapen van de zorgen"
HINT = "Vraag door naar wat die zorgen zijn"


@pytest.fixture
async def server(tmp_path: Path, database: Any) -> AsyncIterator[InProcessServer]:
    srv = await with_proxy(await start_in_process(tmp_path, database=database))
    yield srv
    await stop_in_process(srv)


async def staff_ready(browser: Any, server: InProcessServer, name: str, role: str, available: bool = True) -> Any:
    context = await browser.new_context(locale="nl-NL")
    page = await context.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    await enrol(page, f"{server.url}/inschrijven#{await invite_link(server, name, role)}", PASSPHRASE)
    await page.goto(server.url + "/vrijwilliger")
    await login(page, name, PASSPHRASE)
    await page.wait_for_selector("#chatwerk:not([hidden])", timeout=30_000)
    if available:
        await page.check("#beschikbaar")
    return page


async def seeker_in_chat(browser: Any, server: InProcessServer, volunteer: Any) -> Any:
    context = await browser.new_context(locale="nl-NL")
    seeker = await context.new_page()
    seeker.problems = []
    seeker.on("pageerror", lambda e: seeker.problems.append(str(e)))
    await seeker.goto(proxied_url(server) + "/chat")
    await seeker.wait_for_selector("#start:not([hidden])")
    await seeker.click("#start")
    await wait_text(seeker, "#positie", "nummer 1 in de rij")
    await wait_text(volunteer, "#wachtrij-samenvatting", "Er wacht 1 persoon")
    await volunteer.click("#aannemen")
    await wait_text(seeker, "#gesprek-kop", "Je praat met Sanne")
    await seeker.fill("#bericht", BEFORE)
    await seeker.press("#bericht", "Enter")
    panel = volunteer.locator("#gesprekken .panel").first
    await panel.locator(".messages li.theirs", has_text=BEFORE).wait_for()
    await panel.locator("textarea.bericht").fill(SANNE)
    await panel.locator("textarea.bericht").press("Enter")
    await seeker.locator("#berichten li.theirs", has_text=SANNE).wait_for()
    return seeker


def assert_no_leak(server: InProcessServer, texts: tuple[str, ...]) -> None:
    relayed = [frame for _, frame in server.frames]
    assert relayed, "the relay was watched"
    for frame in relayed:
        assert all(text not in frame for text in texts), frame
    stored, output = server.data_bytes(), server.output()
    for text in texts:
        assert text.encode() not in stored and text not in output
    assert server.proxy.upstream_sources == {UNUSUAL_ADDRESS}
    assert UNUSUAL_ADDRESS.encode() not in stored and UNUSUAL_ADDRESS not in output


@pytest.mark.browser
async def test_handover_to_113_with_consent_new_keys_and_only_what_was_allowed(
        browser: Any, server: InProcessServer) -> None:
    volunteer = await staff_ready(browser, server, "Sanne", "volunteer")
    partner = await staff_ready(browser, server, "Pieter", "partner")
    seeker = await seeker_in_chat(browser, server, volunteer)
    try:
        panel = volunteer.locator("#gesprekken .panel").first
        await panel.locator(".tool.doorverbinden summary").click()  # the tools are folded away until needed
        await panel.locator("select.doel").select_option("p:113")
        await panel.locator("textarea.notitie").fill(NOTE)
        await panel.locator("form.overdragen button[type=submit]").click()

        # The help-seeker is asked in plain words, and by default does not share the earlier conversation.
        await wait_text(seeker, "#doorverbinden-tekst", "113 Zelfmoordpreventie")
        assert "Sanne blijft bij je" in await seeker.text_content("#doorverbinden-tekst")
        assert await seeker.text_content("#doorverbinden-nee") == "Nee, ik blijf bij Sanne"
        assert await seeker.get_attribute("#doorverbinden", "aria-describedby") == "doorverbinden-tekst"
        assert await seeker.evaluate("document.activeElement.id") == "doorverbinden-kop"
        assert not await seeker.is_checked("#doorverbinden-geschiedenis")
        # One request at a time: the volunteer's button waits for the answer.
        assert await panel.locator("form.overdragen button[type=submit]").is_disabled()
        await assert_accessible(seeker)
        await seeker.click("#doorverbinden-ja")
        await panel.locator(".overdragen-status", has_text="Wachten tot iemand").wait_for()
        await wait_text(seeker, "#status", "Sanne blijft intussen bij je")

        # The partner sees a handed-over chat waiting (partners get no new chats) and takes it.
        await wait_text(partner, "#overdrachten", "1 doorverbonden")
        await partner.click("#aannemen")
        taken = partner.locator("#gesprekken .panel").first
        await taken.locator(".kop", has_text="Overgedragen door Sanne").wait_for()
        await taken.locator(".messages li.handover-note", has_text=NOTE).wait_for()  # its own, prominent style
        await taken.locator(".messages li.note", has_text="deelt het eerdere gesprek niet").wait_for()
        await wait_text(seeker, "#gesprek-kop", "Je praat met Pieter van 113 Zelfmoordpreventie")
        await seeker.locator("#berichten li.note", has_text="Sanne heeft je doorverbonden met Pieter").wait_for()

        # The old volunteer is out of the chat: wrap-up with "handed over" already ticked.
        await panel.locator(".afronding").wait_for()
        assert await panel.locator(".doorverbonden-ja").is_checked()

        await seeker.fill("#bericht", AFTER)
        await seeker.press("#bericht", "Enter")
        await taken.locator(".messages li.theirs", has_text=AFTER).wait_for()
        await taken.locator("textarea.bericht").fill(PIETER)
        await taken.locator("textarea.bericht").press("Enter")
        await seeker.locator("#berichten li.theirs", has_text=PIETER).wait_for()
        # Only what the help-seeker allowed: nothing from before the handover reached the partner's page.
        partner_text = await taken.locator(".messages").inner_text()
        assert BEFORE not in partner_text and SANNE not in partner_text
        assert await panel.locator(".messages li", has_text=AFTER).count() == 0
        await assert_accessible(partner)
        for page in (seeker, volunteer, partner):
            assert not page.problems, page.problems
    finally:
        for page in (seeker, volunteer, partner):
            await page.context.close()
    assert_no_leak(server, (BEFORE, SANNE, NOTE, AFTER, PIETER))


@pytest.mark.browser
async def test_handover_with_history_passes_the_earlier_conversation_from_the_seekers_page(
        browser: Any, server: InProcessServer) -> None:
    volunteer = await staff_ready(browser, server, "Sanne", "volunteer")
    partner = await staff_ready(browser, server, "Pieter", "partner")
    seeker = await seeker_in_chat(browser, server, volunteer)
    try:
        panel = volunteer.locator("#gesprekken .panel").first
        await panel.locator(".tool.doorverbinden summary").click()  # the tools are folded away until needed
        await panel.locator("select.doel").select_option("p:113")
        await panel.locator("form.overdragen button[type=submit]").click()
        await seeker.locator("#doorverbinden:not([hidden])").wait_for()
        await seeker.check("#doorverbinden-geschiedenis")
        await seeker.click("#doorverbinden-ja")
        await wait_text(partner, "#overdrachten", "1 doorverbonden")
        await partner.click("#aannemen")
        taken = partner.locator("#gesprekken .panel").first
        await taken.locator(".messages li.history", has_text=BEFORE).wait_for()
        await taken.locator(".messages li.history", has_text=SANNE).wait_for()
        await taken.locator(".messages li.note", has_text="geen notitie").wait_for()
    finally:
        for page in (seeker, volunteer, partner):
            await page.context.close()
    assert_no_leak(server, (BEFORE, SANNE))


@pytest.mark.browser
async def test_declined_handover_keeps_the_chat_with_the_volunteer(browser: Any, server: InProcessServer) -> None:
    volunteer = await staff_ready(browser, server, "Sanne", "volunteer")
    partner = await staff_ready(browser, server, "Pieter", "partner")
    seeker = await seeker_in_chat(browser, server, volunteer)
    try:
        panel = volunteer.locator("#gesprekken .panel").first
        await panel.locator(".tool.doorverbinden summary").click()  # the tools are folded away until needed
        await panel.locator("select.doel").select_option("p:113")
        await panel.locator("form.overdragen button[type=submit]").click()
        await seeker.locator("#doorverbinden:not([hidden])").wait_for()
        await seeker.click("#doorverbinden-nee")
        await panel.locator(".messages li.note", has_text="liever bij jou blijven").wait_for()
        await seeker.locator("#berichten li.note", has_text="Je blijft in gesprek met Sanne").wait_for()
        assert await partner.locator("#overdrachten").inner_text() == ""
        await seeker.fill("#bericht", "Dank je, ik blijf liever hier")
        await seeker.press("#bericht", "Enter")
        await panel.locator(".messages li.theirs", has_text="ik blijf liever hier").wait_for()
        assert await partner.locator("#gesprekken .panel").count() == 0
    finally:
        for page in (seeker, volunteer, partner):
            await page.context.close()


@pytest.mark.browser
async def test_read_along_notice_on_seekers_page_and_hint_only_for_the_volunteer(
        browser: Any, server: InProcessServer) -> None:
    volunteer = await staff_ready(browser, server, "Sanne", "volunteer")
    mentor = await staff_ready(browser, server, "Mirjam", "mentor", available=False)
    seeker = await seeker_in_chat(browser, server, volunteer)
    try:
        assert await seeker.locator("#meelezen").is_hidden()
        panel = volunteer.locator("#gesprekken .panel").first
        await panel.locator(".tool.meelezen-vragen summary").click()
        await panel.locator("select.mentorkeuze").select_option(label="Mirjam")
        await panel.locator("form.mentor button[type=submit]").click()
        await mentor.locator("#uitnodigingen button", has_text="Meelezen").click()
        await wait_text(seeker, "#meelezen", "Mentor Mirjam, een ervaren collega, leest mee om Sanne te helpen")
        await assert_accessible(seeker)
        await panel.locator(".messages li.note", has_text="Mirjam leest mee").wait_for()
        await seeker.locator("#berichten li.note", has_text="Mentor Mirjam leest vanaf nu mee").wait_for()
        assert await panel.locator("form.mentor button[type=submit]").is_disabled()  # one mentor at a time

        reading = mentor.locator("#meelezen .panel").first
        await reading.locator(".messages li.note", has_text="Je ziet de berichten vanaf nu").wait_for()
        await seeker.fill("#bericht", WATCHED)
        await seeker.press("#bericht", "Enter")
        await reading.locator(".messages li.theirs", has_text=WATCHED).wait_for()
        await panel.locator("textarea.bericht").fill("Wat houdt je wakker?")
        await panel.locator("textarea.bericht").press("Enter")
        await reading.locator(".messages li", has_text="Wat houdt je wakker?").wait_for()

        await reading.locator("textarea.tiptekst").fill(HINT)
        await reading.locator("form.tip button[type=submit]").click()
        await panel.locator(".messages li.hint", has_text=HINT).wait_for()
        await assert_accessible(mentor)
        # The hint is for the volunteer only: the help-seeker's page never gets it.
        await seeker.locator("#berichten li.theirs", has_text="Wat houdt je wakker?").wait_for()
        assert HINT not in await seeker.locator("main").inner_text()

        await panel.locator(".mentor-stop").click()
        await seeker.locator("#meelezen").wait_for(state="hidden")
        await panel.locator("form.mentor button[type=submit]:enabled").wait_for()  # Mirjam is still online
        await seeker.locator("#berichten li.note", has_text="leest niet meer mee").wait_for()
        await reading.locator(".messages li.note", has_text="gestopt").wait_for()
        for page in (seeker, volunteer, mentor):
            assert not page.problems, page.problems
    finally:
        for page in (seeker, volunteer, mentor):
            await page.context.close()
    assert_no_leak(server, (WATCHED, HINT, "houdt je wakker"))
