"""Quick replies on the coordinator's dashboard, in Debian's Chromium: add, edit, refuse, delete; the
texts are shown as text (never markup), every state passes axe, on a desktop and a phone, in Dutch and English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.browser.conftest import assert_accessible
from tests.browser.inprocess import start_in_process, stop_in_process
from tests.browser.test_coordinator import enrolled, fits_a_phone, wait_text
from tests.helpers import PASSPHRASE

HOSTILE = '<img src=x id="ingespoten"> Fijn dat je er bent.'


async def log_in_as_coordinator(page: Any, url: str) -> None:
    await page.goto(url + "/vrijwilliger")
    await page.fill("#naam", "Carla")
    await page.fill("#wachtwoordzin", PASSPHRASE)
    await page.click("#inlogformulier button[type=submit]")
    await page.wait_for_selector("#werkplek:not([hidden])", timeout=30_000)


@pytest.mark.browser
async def test_coordinator_manages_quick_replies_that_volunteers_read(page: Any, tmp_path: Path,
                                                                      database: Any) -> None:
    server = await start_in_process(tmp_path, database=database)
    try:
        async with aiohttp.ClientSession(base_url=server.url) as setup, \
                aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as vera:
            await enrolled(server, setup, "Carla", "coordinator", log_in=False)
            await enrolled(server, vera, "Vera", "volunteer", log_in=True)
            await log_in_as_coordinator(page, server.url)
            await page.goto(server.url + "/coordinator")
            await page.wait_for_selector("#snel-leeg:not([hidden])")
            assert await page.locator("#snel-lijst li").count() == 0
            assert await page.text_content("#snel-nl-teller") == "0 van 1000 tekens"
            await assert_accessible(page)

            # Add one: a text with markup in it stays text.
            await page.fill("#snel-nl", HOSTILE + "\nNeem je tijd.")
            await page.fill("#snel-en", "Good that you are here.\nTake your time.")
            await page.click("#snel-opslaan")
            await wait_text(page, "#snel-status", "toegevoegd")
            item = page.locator("#snel-lijst li").first
            assert await item.locator("h4").text_content() == "Snel antwoord 1"
            assert HOSTILE in await item.locator("[lang=nl]").text_content()
            assert await page.locator("#ingespoten").count() == 0 and await page.locator("#snel-lijst img").count() == 0
            assert await page.is_hidden("#snel-leeg")
            assert await page.input_value("#snel-nl") == ""
            await assert_accessible(page)

            # A volunteer's page gets it from the API, in both languages.
            listed = await (await vera.get("/api/quick-replies")).json()
            assert [(r["nl"], r["en"]) for r in listed["replies"]] == [
                (HOSTILE + "\nNeem je tijd.", "Good that you are here.\nTake your time.")]

            # Edit it: the form says which one, and the focus comes back to its button afterwards.
            await item.locator("button.snel-wijzigen").click()
            assert await page.text_content("#snel-form-kop") == "Snel antwoord 1 wijzigen"
            assert await page.input_value("#snel-en") == "Good that you are here.\nTake your time."
            assert await page.evaluate("document.activeElement.id") == "snel-nl"
            assert await page.is_visible("#snel-annuleren")
            await assert_accessible(page)
            await page.fill("#snel-nl", "Fijn dat je er bent.")
            await page.click("#snel-opslaan")
            await wait_text(page, "#snel-status", "opgeslagen")
            assert await item.locator("[lang=nl]").text_content() == "Fijn dat je er bent."
            assert await page.evaluate("document.activeElement.classList.contains('snel-wijzigen')")
            assert await page.text_content("#snel-form-kop") == "Nieuw snel antwoord"

            # Both languages are needed: the missing one is named and marked.
            await page.fill("#snel-nl", "Alleen Nederlands")
            await page.click("#snel-opslaan")
            await wait_text(page, "#snel-fout", "Engels")
            assert await page.get_attribute("#snel-en", "aria-invalid") == "true"
            assert await page.evaluate("document.activeElement.id") == "snel-en"
            await assert_accessible(page)
            assert page.problems == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
            page.problems.clear()
            await page.fill("#snel-en", "Only Dutch, now in English")
            await page.click("#snel-opslaan")
            await page.locator("#snel-lijst li").nth(1).wait_for()
            await fits_a_phone(page)

            # Delete the first: confirmed, and the list renumbers.
            page.once("dialog", lambda dialog: dialog.accept())
            await item.locator("button.snel-verwijderen").click()
            await wait_text(page, "#snel-status", "verwijderd")
            assert await page.locator("#snel-lijst li").count() == 1
            assert await page.locator("#snel-lijst li h4").text_content() == "Snel antwoord 1"
            assert await page.locator("#snel-lijst li [lang=en]").text_content() == "Only Dutch, now in English"
            listed = await (await vera.get("/api/quick-replies")).json()
            assert [r["nl"] for r in listed["replies"]] == ["Alleen Nederlands"]

            # After a reload (and in English) the list is the stored one.
            await page.goto(server.url + "/coordinator?lang=en")
            await page.locator("#snel-kop", has_text="Quick replies").wait_for()
            assert await page.locator("#snel-lijst li h4").text_content() == "Quick reply 1"
            assert await page.is_hidden("#snel-leeg")
            await assert_accessible(page)
            await page.set_viewport_size({"width": 375, "height": 667})
            await page.locator("#snel-lijst li button.snel-wijzigen").click()
            assert await page.text_content("#snel-form-kop") == "Edit quick reply 1"
            await assert_accessible(page)
            await fits_a_phone(page)
            assert not page.problems, page.problems
    finally:
        await stop_in_process(server)
