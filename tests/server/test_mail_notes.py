"""A volunteer's private note on a mail thread (PROTOCOL.md 12.10), through the real API and database
(both backends): kept as ciphertext for the assigned volunteer, returned with the thread, checked and
bounded before it is stored, passed on at a handover only if sealed anew, deleted with the thread."""

from __future__ import annotations

from typing import Any

import crypto
from tests.mailclient import MailSeeker, b64, checked_x25519
from tests.server.test_mail import FIRST, app_client, assert_deleted_for_good, mail_volunteer, sessions  # noqa: F401
from tests.services.database import Database, written

NOTE = "Afgesproken: morgen na 19:00 terugschrijven; vraagt naar de huisarts"


async def thread_of(volunteer: Any) -> dict[str, Any]:
    key = (await volunteer.inbox())[0]["thread"]
    data, _ = await volunteer.read(key)
    return data


def sealed_note(data: dict[str, Any], text: str, writer: crypto.Identity, reader_x25519: bytes) -> str:
    return b64(crypto.seal_mail_note(crypto.b64decode(data["thread"]), text.encode(), writer, reader_x25519))


async def test_a_note_is_kept_for_the_volunteer_and_returned_with_the_thread(
        app_client: Any, sessions: Any, insecure_kdf_config: Any, database: Database) -> None:
    a_http, b_http, s_http = sessions[:3]
    anna = await mail_volunteer(app_client, a_http, "Anna")
    assert (await MailSeeker(s_http).send_first(FIRST)).status == 201
    data = await thread_of(anna)
    assert data["note"] is None
    note = sealed_note(data, NOTE, anna.identity, anna.identity.x25519_public)
    resp = await a_http.post(f"/api/mail/threads/{data['thread']}/note", json={"note": note})
    assert resp.status == 200, await resp.text()
    again = await thread_of(anna)
    assert again["note"] == note
    opened = crypto.open_mail_note(crypto.b64decode(data["thread"]), crypto.b64decode(again["note"]), anna.identity,
                                   anna.identity.ed25519_public)
    assert opened.decode() == NOTE
    # Another volunteer can neither read nor write it: the thread is not theirs.
    bram = await mail_volunteer(app_client, b_http, "Bram")
    assert (await b_http.get(f"/api/mail/threads/{data['thread']}")).status == 404
    other = sealed_note(data, "van Bram", bram.identity, bram.identity.x25519_public)
    assert (await b_http.post(f"/api/mail/threads/{data['thread']}/note", json={"note": other})).status == 404
    assert (await thread_of(anna))["note"] == note
    # The server holds ciphertext only.
    assert NOTE.encode() not in written(insecure_kdf_config.data_dir, database)
    # `null` deletes it.
    assert (await a_http.post(f"/api/mail/threads/{data['thread']}/note", json={"note": None})).status == 200
    assert (await thread_of(anna))["note"] is None
    assert database.rows("SELECT count(*) FROM mail_threads WHERE volunteer_note IS NOT NULL") == [(0,)]


async def test_a_malformed_or_oversized_note_is_refused_before_it_is_stored(
        app_client: Any, sessions: Any, database: Database) -> None:
    a_http, s_http = sessions[:2]
    anna = await mail_volunteer(app_client, a_http, "Anna")
    await MailSeeker(s_http).send_first(FIRST)
    data = await thread_of(anna)
    good = crypto.b64decode(sealed_note(data, NOTE, anna.identity, anna.identity.x25519_public))
    url = f"/api/mail/threads/{data['thread']}/note"
    for bad in (good[:-1], good + bytes(1), b"\x02" + good[1:], b"", bytes(crypto.MAX_MAIL_NOTE_CONTENT * 2)):
        resp = await a_http.post(url, json={"note": b64(bad)})
        assert resp.status == 400, (len(bad), await resp.text())
        assert (await resp.json())["field"] == "note"
    # Text far beyond any note is refused on its length, before it is decoded.
    resp = await a_http.post(url, json={"note": "A" * 20_000})
    assert resp.status == 400 and (await resp.json())["field"] == "note"
    for wrong_type in (12, ["x"], {"a": 1}):
        assert (await a_http.post(url, json={"note": wrong_type})).status == 400
    assert database.rows("SELECT count(*) FROM mail_threads WHERE volunteer_note IS NOT NULL") == [(0,)]


async def test_a_handover_passes_the_note_on_or_drops_it(app_client: Any, sessions: Any, database: Database) -> None:
    a_http, b_http, s1, s2 = sessions
    anna = await mail_volunteer(app_client, a_http, "Anna")
    await MailSeeker(s1).send_first("de eerste")
    await MailSeeker(s2).send_first("de tweede")
    bram = await mail_volunteer(app_client, b_http, "Bram")
    first, second = [(await anna.read(t["thread"]))[0] for t in await anna.inbox()]
    for data in (first, second):
        note = sealed_note(data, NOTE, anna.identity, anna.identity.x25519_public)
        assert (await a_http.post(f"/api/mail/threads/{data['thread']}/note", json={"note": note})).status == 200
    colleague = next(c for c in (await (await a_http.get("/api/mail/colleagues")).json())["colleagues"]
                     if c["name"] == "Bram")
    x = checked_x25519(colleague)
    # The first goes with the note, sealed anew for Bram and signed by Anna.
    wraps = [{"seq": m["seq"], "wrap": b64(crypto.rewrap_mail_key(crypto.b64decode(m["wrap"]), anna.identity, x))}
             for m in first["messages"]]
    passed = sealed_note(first, NOTE, anna.identity, x)
    resp = await a_http.post(f"/api/mail/threads/{first['thread']}/handover",
                             json={"to": "Bram", "wraps": wraps, "note": passed})
    assert resp.status == 200, await resp.text()
    # The second without: the note is dropped.
    assert (await anna.hand_over(second, colleague)).status == 200
    got_first, _ = await bram.read(first["thread"])
    got_second, _ = await bram.read(second["thread"])
    assert got_first["note"] == passed and got_second["note"] is None
    opened = crypto.open_mail_note(crypto.b64decode(first["thread"]), crypto.b64decode(got_first["note"]),
                                   bram.identity, anna.identity.ed25519_public)
    assert opened.decode() == NOTE
    assert database.rows("SELECT count(*) FROM mail_threads WHERE volunteer_note IS NOT NULL") == [(1,)]
    # A malformed note refuses the whole handover: nothing changed.
    back = [{"seq": m["seq"], "wrap": b64(crypto.rewrap_mail_key(crypto.b64decode(m["wrap"]), bram.identity,
                                                                 anna.identity.x25519_public))}
            for m in got_second["messages"]]
    resp = await b_http.post(f"/api/mail/threads/{second['thread']}/handover",
                             json={"to": "Anna", "wraps": back, "note": "AAAA"})
    assert resp.status == 400 and (await resp.json())["field"] == "note"
    assert (await bram.read(second["thread"]))[0]["thread"] == second["thread"]


async def test_the_note_goes_with_the_thread(app_client: Any, sessions: Any, insecure_kdf_config: Any,
                                             database: Database) -> None:
    a_http, s_http = sessions[:2]
    anna = await mail_volunteer(app_client, a_http, "Anna")
    seeker = MailSeeker(s_http)
    await seeker.send_first(FIRST)
    data = await thread_of(anna)
    note = sealed_note(data, NOTE, anna.identity, anna.identity.x25519_public)
    assert (await a_http.post(f"/api/mail/threads/{data['thread']}/note", json={"note": note})).status == 200
    ((body,),) = database.rows("SELECT body FROM mail_messages")
    assert (await s_http.post("/api/mail/delete", json=seeker.lookup)).status == 200
    assert database.rows("SELECT count(*) FROM mail_threads") == [(0,)]
    assert_deleted_for_good(insecure_kdf_config, database, body)
    if database.backend == "sqlite":
        assert crypto.b64decode(note)[:64] not in written(insecure_kdf_config.data_dir, database)
