"""The coordinator's journey in Debian's Chromium: log in, see live figures, invite someone and
get the link, deactivate an account, read the statistics; every page passes axe, also on a phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from server import accounts
from server.keys import CLOCK, CONFIG, STORAGE
from server.stats import STATS
from tests.browser.conftest import assert_accessible
from tests.browser.inprocess import InProcessServer, start_in_process, stop_in_process
from tests.helpers import PASSPHRASE, enrolment_body, login_body
from tests.mailclient import MailSeeker, MailVolunteer

PHONE = {"width": 360, "height": 740}


async def enrolled(server: InProcessServer, http: Any, name: str, role: str, *, log_in: bool) -> Any:
    """An account enrolled through the real API (the enrolment page has its own tests)."""
    app = server.app
    invited = await accounts.invite(app[STORAGE], app[CONFIG], name, role, role != "coordinator",
                                    role != "coordinator", app[CLOCK]())
    identity = crypto.new_identity()
    body = enrolment_body(invited.url.split("#uitnodiging=", 1)[1], identity=identity)
    assert (await http.post("/api/enrol", json=body)).status == 201
    if log_in:
        assert (await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))).status == 200
    return identity


async def wait_text(page: Any, selector: str, text: str) -> None:
    # A locator wait: a string predicate would need eval, which the page's CSP forbids.
    await page.locator(selector, has_text=text).wait_for(timeout=30_000)


async def fits_a_phone(page: Any) -> None:
    await page.set_viewport_size(PHONE)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px phone"
    await page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.browser
async def test_coordinator_sees_live_figures_invites_and_reads_statistics(page: Any, context: Any,
                                                                         tmp_path: Path, database: Any) -> None:
    server = await start_in_process(tmp_path, database=database)
    try:
        app = server.app
        async with aiohttp.ClientSession(base_url=server.url) as setup, \
                aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as mila_http, \
                aiohttp.ClientSession(base_url=server.url) as seeker_http:
            await enrolled(server, setup, "Carla", "coordinator", log_in=False)
            mila = MailVolunteer(mila_http, await enrolled(server, mila_http, "Mila", "volunteer", log_in=True))
            await mila.available(True)  # on duty for mail
            assert (await MailSeeker(seeker_http).send_first("Ik wil iets vertellen")).status == 201
        for _ in range(7):
            await app[STATS].chat_offered()
        await app[STATS].chat_abandoned(40)

        # Not logged in: the page says where to log in.
        response = await page.goto(server.url + "/coordinator")
        assert response.status == 401
        await page.click("main a[href='/vrijwilliger']")
        await page.wait_for_url("**/vrijwilliger")
        page.problems.clear()  # the browser reports the 401 of the page itself as a console error
        await page.fill("#naam", "Carla")
        await page.fill("#wachtwoordzin", PASSPHRASE)
        await page.click("#inlogformulier button[type=submit]")
        await page.wait_for_selector("#werkplek:not([hidden])", timeout=30_000)
        # The workspace links to the dashboard in a new window, so that its chats and keys stay.
        assert await page.is_visible("#coordinatie a[target=_blank]")
        assert await page.get_attribute("#coordinatie a", "href") == "/coordinator"

        await page.goto(server.url + "/coordinator")
        await wait_text(page, "#bijgewerkt", "Bijgewerkt om")
        assert await page.text_content("#mail-beschikbaar") == "1"
        assert await page.text_content("td[data-band='0-4']") == "1"
        assert await page.text_content("#chat-langste") == "niemand"
        assert await page.get_attribute("#live-samenvatting", "aria-live") == "polite"
        await assert_accessible(page)
        await fits_a_phone(page)

        # An invitation: the link is shown once, and it works.
        await page.fill("#nieuwe-naam", "Noor")
        await page.select_option("#nieuwe-rol", "mentor")
        await page.uncheck("#nieuw-mail")
        await page.click("#uitnodigen button[type=submit]")
        await page.wait_for_selector("#uitnodiging:not([hidden])")
        assert "Noor" in await page.text_content("#uitnodiging-kop")
        assert await page.evaluate("document.activeElement.id") == "uitnodiging-kop"
        link = await page.input_value("#uitnodiging-link")
        assert link.startswith(server.url + "/inschrijven#uitnodiging=")
        assert await page.input_value("#nieuwe-naam") == ""
        await assert_accessible(page)
        newcomer = await context.new_page()
        await newcomer.goto(link)
        await newcomer.wait_for_selector("#inschrijven:not([hidden])")
        assert await newcomer.text_content("#naam") == "Noor"
        assert "mentor" in await newcomer.text_content("#rol")
        await newcomer.close()

        # A bad name: a clear message, the field marked.
        await page.fill("#nieuwe-naam", "Noor <b>")
        await page.click("#uitnodigen button[type=submit]")
        await wait_text(page, "#fout", "letters")
        assert await page.get_attribute("#nieuwe-naam", "aria-invalid") == "true"
        assert page.problems == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
        page.problems.clear()

        # Deactivate Mila: confirmed, her row says so, and the live figures follow.
        page.once("dialog", lambda dialog: dialog.accept())
        await page.click("button.deactiveren[data-name='Mila']")
        await wait_text(page, "#status", "Mila is gedeactiveerd")
        assert await page.text_content("tr[data-name='Mila'] .actief") == "Nee"
        assert await page.locator("button.deactiveren[data-name='Mila']").count() == 0
        assert await page.locator("tr[data-name='Mila'] form").count() == 0  # no role to change either
        assert await page.text_content("tr[data-name='Mila'] .acties") == "Gedeactiveerd"
        assert await page.locator("tr[data-name='Carla'] form").count() == 0  # not oneself
        await page.reload()
        await wait_text(page, "#bijgewerkt", "Bijgewerkt om")
        assert await page.text_content("#mail-beschikbaar") == "0"
        assert (await page.text_content("tr[data-name='Mila'] .acties")).strip() == "Gedeactiveerd"

        # The statistics open on today and say so: small counts suppressed, charts and tables, no script needed.
        await page.click("nav.subnav >> text=Statistiek")
        await page.wait_for_url("**/coordinator/statistiek")
        assert (await page.text_content("#periode-kop")).startswith("Dag: ")
        assert (await page.text_content("#periode-kop")).endswith("(vandaag)")
        assert await page.input_value("#periode") == "day"
        chat = page.locator("table", has=page.locator("caption", has_text="Chat in deze periode"))
        assert await chat.locator("tr", has_text="Aangeboden").locator("td").text_content() == "7"
        assert await chat.locator("tr", has_text="Weggegaan").locator("td").text_content() == "<5"
        assert await page.locator("svg.chart[role='img']").count() >= 6
        await assert_accessible(page)
        await fits_a_phone(page)
        await page.select_option("#periode", "day")
        await page.click("form.period-form button[type=submit]")
        await page.wait_for_url("**period=day**")
        await page.goto(server.url + "/coordinator/statistiek?period=month&lang=en")
        assert "Statistics" in await page.text_content("h1")
        await assert_accessible(page)
        assert not page.problems, page.problems
    finally:
        await stop_in_process(server)
