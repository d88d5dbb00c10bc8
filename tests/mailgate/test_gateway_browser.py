"""From an ordinary e-mail to a reply read in the browser with the token from the return mail."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.inprocess import UNUSUAL_ADDRESS, InProcessServer
from tests.browser.test_enrolment import wait_text
from tests.mailgate.conftest import Sink, token_from
from tests.mailgate.test_gateway import SENDER, in_thread, message, send

TEXT = "Sinds mijn moeder is overleden praat ik met niemand meer."
REPLY = "Wat verdrietig dat je moeder is overleden. Ik lees je graag."


@pytest.mark.browser
async def test_emailed_help_seeker_reads_the_reply_on_the_site(
        gateway: InProcessServer, relay_sink: Sink, on_duty: Any, page: Any) -> None:
    code, text = await in_thread(send, gateway, message(TEXT, subject="Mijn moeder"))
    assert code == 250, text
    token = token_from(await relay_sink.next_mail())

    await page.goto(gateway.url + "/mail/terug")
    await page.fill("#code", token.lower())
    await page.click("#code-formulier button")
    await page.locator("#berichten li.mine", has_text=TEXT).wait_for(timeout=30_000)
    assert "Mijn moeder" in await page.locator("#berichten").inner_text()

    key = (await on_duty.inbox())[0]["thread"]
    data, _ = await on_duty.read(key)
    assert (await on_duty.reply(data, REPLY)).status == 201

    await page.reload()
    await page.fill("#code", token)
    await page.click("#code-formulier button")
    await page.locator("#berichten li.theirs", has_text=REPLY).wait_for(timeout=30_000)

    stored, output = gateway.data_bytes(), gateway.output()
    for secret in (TEXT, REPLY, SENDER, UNUSUAL_ADDRESS, token):
        assert secret.encode() not in stored and secret not in output
    await wait_text(page, "#bewaard-tot", "bewaard")
