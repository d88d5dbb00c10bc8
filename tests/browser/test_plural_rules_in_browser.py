"""The page's `t` (web/js/ui.js) picks the same plural form as the server's `text` for the same number.

The volunteer page carries `ws_queue_waiting`, a plural entry, in its texts; the test imports the page's
own ui.js (through the page's import map) in Chromium and fills the entry for 0 to 3, 11, 21 and 101 in
both languages, against server/i18n.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.i18n import text
from tests.browser.inprocess import InProcessServer, start_in_process, stop_in_process

NUMBERS = (0, 1, 2, 3, 11, 21, 101)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    srv = await start_in_process(tmp_path)
    yield srv
    await stop_in_process(srv)


@pytest.mark.parametrize("lang", ["nl", "en"])
async def test_the_page_picks_the_servers_form(server: InProcessServer, page: Any, lang: str) -> None:
    await page.goto(server.url + "/vrijwilliger" + ("?lang=en" if lang == "en" else ""))
    got = await page.evaluate("""async (numbers) => {
      const ui = await import("/static/js/ui.js");
      return numbers.map((n) => ui.t("ws_queue_waiting", { n }));
    }""", list(NUMBERS))
    assert got == [text("ws_queue_waiting", lang, n=n) for n in NUMBERS]
    assert got[1] != got[2]  # the forms differ: a rule that always says "other" fails here
