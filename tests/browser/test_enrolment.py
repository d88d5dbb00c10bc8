"""Volunteer enrolment and login, end to end in Debian's Chromium against `oor serve`.

After the journey the test reads the real database files (SQLite's, or PostgreSQL's with its
WAL) and the data folder, and asserts that the passphrase, the authentication key, the wrapping
key and the private keys appear in none of them, in any encoding the code uses.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

import crypto
from tests.browser.conftest import assert_accessible
from tests.services.database import Database

PASSPHRASE = "paarse olifant fietst langs de zee"


def encodings(secret: bytes) -> list[bytes]:
    """Every form in which our code writes bytes: raw, hex, base64 and URL-safe base64."""
    std = base64.b64encode(secret)
    url = base64.urlsafe_b64encode(secret)
    return [secret, secret.hex().encode(), secret.hex().upper().encode(), std, std.rstrip(b"="), url,
            url.rstrip(b"=")]


def secrets_of(database: Database, name: str, passphrase: str) -> dict[str, bytes]:
    """Recompute, from what the server stored, every secret the browser held."""
    ((salt, ops, mem, xpub, edpub, wrapped),) = database.rows(
        "SELECT kdf_salt, kdf_opslimit, kdf_memlimit, x25519_public, ed25519_public, wrapped_identity"
        " FROM volunteers WHERE name = ?", name)
    keys = crypto.derive_volunteer_keys(passphrase, salt, crypto.KdfParams(ops, mem))
    identity = crypto.unwrap_identity(keys.wrapping_key, wrapped, xpub, edpub)
    return {"passphrase": passphrase.encode("utf-8"), "auth_key": keys.auth_key,
            "wrapping_key": keys.wrapping_key, "x25519_secret": identity.x25519_secret,
            "ed25519_seed": identity.ed25519_seed}


async def wait_text(page: Any, selector: str, text: str) -> None:
    """Wait until an element shows a text (a locator wait: string predicates would need eval,
    which the page's CSP rightly forbids)."""
    await page.locator(selector, has_text=text).wait_for(timeout=30_000)


async def enrol(page: Any, link: str, passphrase: str) -> None:
    await page.goto(link)
    await page.wait_for_selector("#inschrijven:not([hidden])")
    await page.fill("#wachtwoordzin", passphrase)
    await page.fill("#herhaal", passphrase)
    await page.click("#inschrijven button[type=submit]")
    await page.wait_for_selector("#klaar:not([hidden])", timeout=30_000)


async def login(page: Any, name: str, passphrase: str) -> None:
    await page.fill("#naam", name)
    await page.fill("#wachtwoordzin", passphrase)
    await page.click("#inlogformulier button[type=submit]")


@pytest.mark.browser
async def test_volunteer_enrols_logs_out_and_in_and_no_secret_reaches_the_disk(
        page: Any, context: Any, live_server: Any) -> None:
    link = live_server.invite("Sanne", "--chat", "--mail")
    assert "/inschrijven#uitnodiging=" in link

    await page.goto(link)
    await page.wait_for_selector("#inschrijven:not([hidden])")
    assert await page.text_content("#naam") == "Sanne"
    await assert_accessible(page)

    # Too short: a clear message, nothing sent, nothing stored.
    await page.fill("#wachtwoordzin", "kort")
    await page.fill("#herhaal", "kort")
    await page.click("#inschrijven button[type=submit]")
    assert "te kort" in await page.text_content("#fout")
    assert await page.get_attribute("#wachtwoordzin", "aria-invalid") == "true"
    # Mismatch: a clear message too.
    await page.fill("#wachtwoordzin", PASSPHRASE)
    await page.fill("#herhaal", PASSPHRASE + "!")
    await page.click("#inschrijven button[type=submit]")
    assert "niet gelijk" in await page.text_content("#fout")
    assert live_server.store.rows("SELECT count(*) FROM volunteers WHERE name = 'Sanne'") == [(0,)]

    await page.fill("#herhaal", PASSPHRASE)
    await page.click("#inschrijven button[type=submit]")
    await page.wait_for_selector("#klaar:not([hidden])", timeout=30_000)
    assert "#" not in page.url  # the used invitation is gone from the address bar

    await page.click("#klaar a")
    await page.wait_for_url("**/vrijwilliger")
    await assert_accessible(page)
    await login(page, "Sanne", PASSPHRASE)
    await page.wait_for_selector("#werkplek:not([hidden])", timeout=30_000)
    assert "Ingelogd: Sanne" in await page.text_content("#wie")
    assert "niets voor je te doen" in await page.text_content("#leeg")
    assert not await page.is_visible("#coordinatie")  # the dashboard link is for coordinators only
    await assert_accessible(page)

    await page.click("#uitloggen")
    await page.wait_for_selector("#inloggen:not([hidden])")
    assert "uitgelogd" in await page.text_content("#status")
    await login(page, "Sanne", PASSPHRASE)
    await page.wait_for_selector("#werkplek:not([hidden])", timeout=30_000)
    assert "Ingelogd: Sanne" in await page.text_content("#wie")

    cookies = await context.cookies()
    session = [c for c in cookies if c["name"] == "oor_sessie"]
    assert len(session) == 1 and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict"
    assert await page.evaluate("document.cookie") == ""
    # Nothing in browser storage.
    assert await page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert not page.problems, page.problems

    secrets = secrets_of(live_server.store, "Sanne", PASSPHRASE)
    stored = live_server.stored_bytes()
    output = live_server.read_output().encode("utf-8")
    for label, secret in secrets.items():
        for form in encodings(secret):
            assert form not in stored, f"{label} found in the data folder or the database's files"
            assert form not in output, f"{label} found in the server output"


@pytest.mark.browser
async def test_used_and_unknown_invitations_get_a_clear_page(page: Any, live_server: Any) -> None:
    link = live_server.invite("Pieter")
    await enrol(page, link, PASSPHRASE)
    await page.goto(live_server.url + "/vrijwilliger")  # a real navigation away, then the old link again
    await page.goto(link)
    await wait_text(page, "#fout", "al gebruikt")
    assert await page.is_hidden("#inschrijven")
    await page.goto(live_server.url + "/inschrijven#uitnodiging=" + crypto.new_token(32))
    await wait_text(page, "#fout", "bestaat niet")
    await page.goto(live_server.url + "/inschrijven")
    await wait_text(page, "#fout", "geen uitnodiging")
    await assert_accessible(page)


@pytest.mark.browser
async def test_wrong_passphrase_and_deactivated_account(page: Any, live_server: Any) -> None:
    await enrol(page, live_server.invite("Fatima"), PASSPHRASE)
    await page.goto(live_server.url + "/vrijwilliger")
    await login(page, "Fatima", "dit is niet de goede zin")
    await wait_text(page, "#fout", "klopt niet")
    assert await page.is_hidden("#werkplek")

    done = live_server.oor("volunteer", "deactivate", "Fatima")
    assert done.returncode == 0, done.stderr
    await login(page, "Fatima", PASSPHRASE)
    await wait_text(page, "#fout", "gedeactiveerd")
    assert await page.is_hidden("#werkplek")
    listing = live_server.oor("volunteer", "list").stdout
    assert any(line.startswith("Fatima") and " no " in line for line in listing.splitlines())


@pytest.mark.browser
async def test_english_pages_and_home_are_accessible(page: Any, context: Any, live_server: Any) -> None:
    await page.goto(live_server.url + "/?lang=en")
    assert await page.get_attribute("html", "lang") == "en"
    assert "Talk anonymously" in await page.text_content("h1")
    await assert_accessible(page)
    await page.goto(live_server.url + "/")
    await assert_accessible(page)
    await page.goto(live_server.url + "/bestaat-niet")
    await assert_accessible(page)
    await page.goto(live_server.url + "/vrijwilliger?lang=en")
    assert "Volunteer login" in await page.text_content("h1")
    await assert_accessible(page)
    assert await context.cookies() == []  # anonymous visitors get no cookie


@pytest.mark.browser
async def test_quick_exit_leaves_no_history_entry(page: Any, live_server: Any) -> None:
    await page.goto(live_server.url + "/")
    await page.goto(live_server.url + "/chat")
    # Do not leave for the real neutral site (no network here): intercept that navigation.
    await page.route("https://nos.nl/**", lambda route: route.fulfill(body="<title>neutraal</title>",
                                                                       content_type="text/html"))
    length_before = await page.evaluate("history.length")
    await page.click("#snel-weg")
    await page.wait_for_url("https://nos.nl/**")
    assert await page.evaluate("history.length") == length_before
    await page.go_back()
    assert page.url == live_server.url + "/"


@pytest.mark.browser
async def test_escape_twice_is_a_quick_exit(page: Any, live_server: Any) -> None:
    await page.route("https://nos.nl/**", lambda route: route.fulfill(body="<title>neutraal</title>",
                                                                       content_type="text/html"))
    await page.goto(live_server.url + "/")
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")
    await page.wait_for_url("https://nos.nl/**")


@pytest.mark.browser
async def test_login_page_refuses_kdf_parameters_below_the_configured_floor(
        page: Any, tmp_path: Path, database: Database) -> None:
    """A database thief who lowers a volunteer's stored Argon2 cost must not get a cheap auth key."""
    from tests.conftest import start_live_server, stop_live_server

    server = start_live_server(tmp_path, {"OOR_KDF_MEMLIMIT_KIB": "16"}, database=database)
    try:
        await enrol(page, server.invite("Joost"), PASSPHRASE)
        server.store.rows("UPDATE volunteers SET kdf_memlimit = 8192 WHERE name = 'Joost'")
        seen: list[str] = []
        page.on("request", lambda r: seen.append(r.url))
        await page.goto(server.url + "/vrijwilliger")
        await login(page, "Joost", PASSPHRASE)
        await wait_text(page, "#fout", "te zwakke sleutelafleiding")
        assert not any(url.endswith("/api/login") for url in seen)  # no auth key was sent
        assert await page.is_hidden("#werkplek")
    finally:
        stop_live_server(server)
