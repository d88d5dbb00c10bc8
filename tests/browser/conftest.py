"""A session-wide Debian Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    # Browser tests must run, not skip: a missing Chromium is a failure (make test installs it).
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make test`, which installs Debian's chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        await browser.close()


@pytest.fixture
async def context(browser: Any) -> AsyncIterator[Any]:
    ctx = await browser.new_context(locale="nl-NL")
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: Any) -> AsyncIterator[Any]:
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems  # type: ignore[attr-defined]
    yield page


async def assert_accessible(page: Any) -> None:
    """Run axe-core in the page; fail on any serious or critical violation.

    axe is evaluated through the DevTools protocol, not injected as a <script>, so the
    page's strict CSP stays in force for everything else.
    """
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, json.dumps([{"id": v["id"], "impact": v["impact"], "help": v["help"],
                                 "nodes": [n["html"] for n in v["nodes"][:3]]} for v in bad], indent=1)
