"""Key statements in the browser (issue 17): enrolment -> the key code shown -> signed offline with the real
CLI (`oor keys pending`, `oor root sign`, `oor keys import`) -> the workspace turns ready without a reload ->
a help-seeker's chat is picked up and both sides talk; deactivation -> a revocation signed and logged; and
the volunteer's self-check raising the alarm when the log holds a key for the account that is not theirs.

The server runs without the signing robot (tests/transparency.py): the test is the coordinator.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import crypto
from server.keys import CLOCK, CONFIG, STORAGE
from server.transparency.log import LOG, append_and_checkpoint
from tests.browser.conftest import assert_accessible
from tests.browser.inprocess import InProcessServer, invite_link, start_in_process, stop_in_process
from tests.browser.test_enrolment import PASSPHRASE, enrol, login, wait_text
from tests.conftest import INSECURE_TEST_ENV, REPO
from tests.transparency import robot_root

ROOT_PASSPHRASE = "de wortelsleutel van de test"


@pytest.fixture
async def server(tmp_path: Path, database: Any) -> AsyncIterator[InProcessServer]:
    srv = await start_in_process(tmp_path, database=database, signing_robot=False)
    yield srv
    await stop_in_process(srv)


def coordinator_files(tmp: Path) -> tuple[Path, Path]:
    """The coordinator's machine: the test root in a root key file (as `oor root init` writes one), and the
    passphrase file the CLI reads with --passphrase-file."""
    machine = tmp / "coordinator"
    machine.mkdir(exist_ok=True)
    key, secret = machine / "root.key", machine / "passphrase"
    if not key.exists():
        key.write_text(crypto.seal_root_key(ROOT_PASSPHRASE, robot_root(), opslimit=crypto.MIN_OPSLIMIT,
                                            memlimit=crypto.MIN_MEMLIMIT))
        secret.write_text(ROOT_PASSPHRASE + "\n")
    return key, secret


def oor(server: InProcessServer, *args: str, data: bool = True) -> subprocess.CompletedProcess[str]:
    """The real `oor` CLI as a process, on the server's data folder and database."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")}, **INSECURE_TEST_ENV,
           "OOR_PUBLIC_URL": server.url, **({"OOR_DATABASE_URL": server.store.url} if server.store.url else {})}
    command = [sys.executable, "-m", "server.cli", *args, *(("--data", str(server.data_dir)) if data else ())]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"oor {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


async def sign_offline(server: InProcessServer, tmp: Path, step: str) -> dict[str, Any]:
    """`oor keys pending` on the server -> `oor root sign` on the coordinator's machine -> `oor keys import`."""
    key, secret = coordinator_files(tmp)
    request, signed = tmp / f"request-{step}.json", tmp / f"signed-{step}.json"
    await asyncio.to_thread(oor, server, "keys", "pending", "--out", str(request))
    pending = json.loads(request.read_text())
    await asyncio.to_thread(oor, server, "root", "sign", str(request), "--out", str(signed), "--key", str(key),
                            "--passphrase-file", str(secret), "--yes", "--roster", str(tmp / "roster.json"),
                            data=False)
    await asyncio.to_thread(oor, server, "keys", "import", str(signed))
    return pending


async def volunteer_logged_in(browser: Any, server: InProcessServer, name: str = "Sanne") -> Any:
    context = await browser.new_context(locale="nl-NL")
    page = await context.new_page()
    await enrol(page, f"{server.url}/inschrijven#{await invite_link(server, name)}", PASSPHRASE)
    await page.goto(server.url + "/vrijwilliger")
    await login(page, name, PASSPHRASE)
    await page.wait_for_selector("#sleutel:not([hidden])", timeout=30_000)
    return page


async def wants_chats(server: InProcessServer, volunteer_id: int) -> None:
    from server.chat.hub import CHAT_HUB
    volunteers = server.app[CHAT_HUB].room.volunteers
    for _ in range(600):
        info = volunteers.get(volunteer_id)
        if info is not None and info.ws is not None and info.wants:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the volunteer's page never asked for chats")


async def status(server: InProcessServer) -> dict[str, Any]:
    from server.chat.hub import CHAT_HUB
    return server.app[CHAT_HUB].status()


@pytest.mark.browser
async def test_signed_offline_then_the_volunteer_takes_a_chat(browser: Any, server: InProcessServer,
                                                                tmp_path: Path) -> None:
    volunteer = await volunteer_logged_in(browser, server)
    seeker_context = await browser.new_context(locale="nl-NL")
    try:
        storage = server.app[STORAGE]
        row = await storage.volunteer_by_name("Sanne")
        # The code shown is the fingerprint of the stored account id and keys.
        shown = (await volunteer.text_content("#sleutel-code")).strip()
        assert shown == crypto.fingerprint(row.account_id, row.x25519_public, row.ed25519_public)
        assert len(shown) == 35 and shown.count(" ") == 5
        await wait_text(volunteer, "#sleutel-uitleg", "Je sleutel is nog niet ondertekend")
        await volunteer.wait_for_selector("#chatwerk:not([hidden])", timeout=30_000)
        await volunteer.check("#beschikbaar")
        await volunteer.wait_for_selector('#sleutel[data-keys="pending"]')
        assert await volunteer.get_attribute("#aannemen", "aria-describedby") == "sleutel-uitleg"
        assert (await volunteer.text_content("#sleutel-alarm")).strip() == ""
        await assert_accessible(volunteer)
        # Before signing: connected, but nobody is available to a help-seeker.
        await wants_chats(server, row.id)  # the "available" frame reached the hub: the next line can fail
        assert (await status(server))["available"] is False

        pending = await sign_offline(server, tmp_path, "key")
        assert [(r["kind"], r["name"], r["fingerprint"]) for r in pending["requests"]] == [("key", "Sanne", shown)]
        # Without a reload: the page hears that the key is ready, and its self-check found only its own statement.
        await volunteer.wait_for_selector('#sleutel[data-keys="ready"]', timeout=30_000)
        await wait_text(volunteer, "#sleutel-uitleg", "alleen deze sleutel bevat")
        assert (await volunteer.text_content("#sleutel-alarm")).strip() == ""
        assert await volunteer.get_attribute("#aannemen", "aria-describedby") is None
        await assert_accessible(volunteer)

        seeker = await seeker_context.new_page()
        await seeker.goto(server.url + "/chat")
        await seeker.wait_for_selector("#start:not([hidden])", timeout=30_000)
        await seeker.click("#start")
        await wait_text(volunteer, "#wachtrij-samenvatting", "Er wacht 1 persoon")
        await volunteer.click("#aannemen")
        await wait_text(seeker, "#gesprek-kop", "Je praat met Sanne")
        await seeker.fill("#bericht", "Hallo, is daar iemand?")
        await seeker.press("#bericht", "Enter")
        panel = volunteer.locator("#gesprekken .panel").first
        await panel.locator(".messages li.theirs", has_text="Hallo, is daar iemand?").wait_for(timeout=30_000)
        await panel.locator("textarea.bericht").fill("Ja, ik ben Sanne. Ik luister.")
        await panel.locator("textarea.bericht").press("Enter")
        await seeker.locator("#berichten li.theirs", has_text="Ik luister.").wait_for(timeout=30_000)
    finally:
        await seeker_context.close()
        await volunteer.context.close()

    # Deactivation: the next request holds a revocation; signed and imported, the log's revoked set has the id.
    await asyncio.to_thread(oor, server, "volunteer", "deactivate", "Sanne")
    pending = await sign_offline(server, tmp_path, "revocation")
    assert [(r["kind"], r["name"]) for r in pending["requests"]] == [("revocation", "Sanne")]
    log = server.app[LOG]
    await log.refresh()


    def revoked_ids() -> set[bytes]:  # the revoked set of the log's latest usable checkpoint
        ids = log.revoked()
        return {ids[i:i + 16] for i in range(0, len(ids), 16)}

    for _ in range(200):  # the log's keeper may checkpoint at the same moment
        if log.status_for(row.account_id) == "revoked" and row.account_id in revoked_ids():
            break
        await asyncio.sleep(0.05)
    assert log.status_for(row.account_id) == "revoked"
    assert row.account_id in revoked_ids()
    roster = json.loads((tmp_path / "roster.json").read_text())
    assert [(a["name"], a["status"]) for a in roster["accounts"]] == [("Sanne", "revoked")]


@pytest.mark.browser
async def test_the_self_check_raises_the_alarm_on_a_rogue_statement(browser: Any, server: InProcessServer,
                                                                     tmp_path: Path) -> None:
    volunteer = await volunteer_logged_in(browser, server)
    try:
        await sign_offline(server, tmp_path, "key")
        await volunteer.wait_for_selector('#sleutel[data-keys="ready"]', timeout=30_000)
        assert (await volunteer.text_content("#sleutel-alarm")).strip() == ""
        # A rogue server logs another key for the same account id (root-signed: say the root was tricked), with a
        # checkpoint of its own log key, straight into its storage.
        app = server.app
        row = await app[STORAGE].volunteer_by_name("Sanne")
        rogue = crypto.new_identity()
        now = app[CLOCK]()
        statement = crypto.Statement(kind=crypto.KIND_KEY, deployment_id=app[CONFIG].deployment_id,
                                     account_id=row.account_id, role="volunteer", name="Sanne",
                                     x25519_public=rogue.x25519_public, ed25519_public=rogue.ed25519_public,
                                     not_before=now - 60, not_after=now + 86400)
        await append_and_checkpoint(app[STORAGE], app[CONFIG],
                                    [crypto.statement_entry(*crypto.sign_statement(robot_root(), statement))], now=now)
        await app[LOG].refresh()
        # The next self-check (at the next login) sees it, and says so loudly.
        await volunteer.reload()
        await login(volunteer, "Sanne", PASSPHRASE)
        alarm = volunteer.locator('#sleutel-alarm[role="alert"]', has_text="Let op")
        await alarm.wait_for(timeout=30_000)
        assert "bel meteen een coördinator" in await alarm.text_content()
        await assert_accessible(volunteer)
        await volunteer.set_viewport_size({"width": 375, "height": 667})
        await assert_accessible(volunteer)
    finally:
        await volunteer.context.close()
