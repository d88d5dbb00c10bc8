"""The coordinator's live figures in Debian's Chromium: a volunteer, a partner and a mentor on duty are each
counted where the page says they are, the page says what each figure counts, and it passes axe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.browser.conftest import assert_accessible
from tests.browser.inprocess import start_in_process, stop_in_process
from tests.browser.test_coordinator import enrolled, fits_a_phone, wait_text
from tests.browser.test_coordinator_quick_replies import log_in_as_coordinator
from tests.chatclient import Volunteer


@pytest.mark.browser
async def test_live_figures_show_partners_mentors_and_what_each_figure_counts(page: Any, tmp_path: Path,
                                                                              database: Any) -> None:
    server = await start_in_process(tmp_path, database=database)
    origin = {"Origin": server.url}
    staff: list[Volunteer] = []
    sessions = [aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
                for _ in range(4)]
    try:
        await enrolled(server, sessions[0], "Carla", "coordinator", log_in=False)
        for http, name, role in ((sessions[1], "Sanne", "volunteer"), (sessions[2], "Team 113", "partner"),
                                 (sessions[3], "Mirjam", "mentor")):
            identity = await enrolled(server, http, name, role, log_in=True)
            member = Volunteer(await http.ws_connect("/ws/volunteer", headers=origin), identity)
            await member.next("queue")
            staff.append(member)
        await staff[0].available(True)   # the volunteer takes chats
        await staff[1].available(True)   # the partner takes handed-over chats
        # The mentor is online only: there for a read-along or a debrief, taking no chats.

        await log_in_as_coordinator(page, server.url)
        await page.goto(server.url + "/coordinator")
        await wait_text(page, "#bijgewerkt", "Bijgewerkt om")
        assert await page.text_content("#chat-beschikbaar") == "1"
        assert await page.text_content("#partners-beschikbaar") == "1"
        assert await page.text_content("#mentoren-online") == "1"
        assert await page.text_content("#overdrachten-partner") == "0"
        row = page.locator("tr", has=page.locator("#chat-beschikbaar"))
        assert "vrijwilligers en mentoren" in await row.locator("th").text_content()
        explained = await page.text_content("#live-uitleg")
        assert "Partners (zoals 113) nemen alleen overgedragen chats aan en tellen daar niet mee" in explained
        await assert_accessible(page)
        await fits_a_phone(page)

        # The mentor starts taking chats too: in both figures, as the page says (after a reload here,
        # rather than waiting for the page's own refresh every 15 seconds).
        await staff[2].available(True)
        await page.reload()
        await wait_text(page, "#bijgewerkt", "Bijgewerkt om")
        assert await page.text_content("#chat-beschikbaar") == "2"
        assert await page.text_content("#mentoren-online") == "1"

        await page.goto(server.url + "/coordinator?lang=en")
        await wait_text(page, "#bijgewerkt", "Updated at")
        english = page.locator("tr", has=page.locator("#partners-beschikbaar"))
        assert "Partners available for handed-over chats" in await english.locator("th").text_content()
        await assert_accessible(page)
        assert not page.problems, page.problems
    finally:
        for member in staff:
            await member.ws.close()
        for http in sessions:
            await http.close()
        await stop_in_process(server)
