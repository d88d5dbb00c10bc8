"""Anonymous mail through the real API and database (both backends), with Python clients doing the real crypto."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import crypto
from server.app import create_app
from server.keys import STORAGE
from server.mail.desk import MAIL_DESK
from tests.helpers import PASSPHRASE, enrolment_body, invite, login_body
from tests.mailclient import MailSeeker, MailVolunteer
from tests.services.database import Database, dead_rows, written

FIRST = "Ik slaap al weken slecht en durf het niemand te vertellen"
REPLY = "Wat goed dat je dit opschrijft. Hoe gaat het overdag met je?"


def encodings(data: bytes) -> list[bytes]:
    return [data, data.hex().encode(), base64.b64encode(data), base64.urlsafe_b64encode(data).rstrip(b"=")]


@pytest.fixture
async def app_client(aiohttp_client: Any, insecure_kdf_config: Any, clock: Any) -> Any:
    return await aiohttp_client(create_app(insecure_kdf_config, clock=clock))


async def session_for(app_client: Any) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=str(app_client.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))


async def mail_volunteer(app_client: Any, http: aiohttp.ClientSession, name: str) -> MailVolunteer:
    identity = crypto.new_identity()
    token = await invite(app_client, name)
    assert (await http.post("/api/enrol", json=enrolment_body(token, identity=identity))).status == 201
    assert (await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))).status == 200
    volunteer = MailVolunteer(http, identity)
    await volunteer.available(True)
    return volunteer


@pytest.fixture
async def sessions(app_client: Any) -> AsyncIterator[list[aiohttp.ClientSession]]:
    made = [await session_for(app_client) for _ in range(4)]
    yield made
    for s in made:
        await s.close()


async def test_write_read_reply_and_write_again(app_client: Any, sessions: Any, insecure_kdf_config: Any,
                                                database: Database) -> None:
    v_http, s_http, s2_http = sessions[:3]
    volunteer = await mail_volunteer(app_client, v_http, "Sanne")
    seeker = MailSeeker(s_http)
    created = await seeker.send_first(FIRST)
    assert created.status == 201, await created.text()
    inbox = await volunteer.inbox()
    assert len(inbox) == 1 and inbox[0]["unread"] and inbox[0]["waiting_hours"] == 0
    data, texts = await volunteer.read(inbox[0]["thread"])
    assert texts == [(1, FIRST)]
    assert (await volunteer.reply(data, REPLY)).status == 201
    # Back later, in a fresh client, with only the token.
    back = MailSeeker(s2_http, seeker.token)
    assert (await back.open()).status == 200
    assert back.texts() == [(1, FIRST), (2, REPLY)]
    assert (await back.write("Overdag gaat het wel")).status == 201
    _, texts = await volunteer.read(inbox[0]["thread"])
    assert texts[-1] == (1, "Overdag gaat het wel")
    stored = written(insecure_kdf_config.data_dir, database)
    for secret in (FIRST.encode(), REPLY.encode(), seeker.token.encode(), seeker.box.lookup_key):
        assert all(form not in stored for form in encodings(secret))


async def test_wrong_and_unknown_codes_get_the_same_answer(app_client: Any, sessions: Any) -> None:
    v_http, s_http, other = sessions[:3]
    await mail_volunteer(app_client, v_http, "Sanne")
    seeker = MailSeeker(s_http)
    await seeker.send_first(FIRST)
    unknown = await MailSeeker(other).open()
    malformed = await other.post("/api/mail/open", json={"lookup_key": "AAAA"})
    assert unknown.status == 404
    assert malformed.status == 400
    assert (await unknown.json())["error"] == "not-found"


async def test_a_message_signed_by_someone_else_is_refused(app_client: Any, sessions: Any,
                                                          database: Database) -> None:
    v_http, s_http = sessions[:2]
    await mail_volunteer(app_client, v_http, "Sanne")
    seeker = MailSeeker(s_http)
    await seeker.send_first(FIRST)
    await seeker.open()
    impostor = crypto.derive_mailbox(crypto.new_token_code(), "luisterend-oor-dev", crypto.KdfParams(1, 8192))
    thread_id = crypto.b64decode(seeker.thread["thread"])
    x = crypto.b64decode(seeker.thread["volunteer"]["x25519_public"])
    sealed = crypto.seal_mail(thread_id, 2, crypto.AUTHOR_SEEKER, b"niet van mij", impostor, seeker.box.x25519_public, x)
    from tests.mailclient import message_json
    resp = await s_http.post("/api/mail/write", json={**seeker.lookup, "message": message_json(2, sealed)})
    assert resp.status == 400 and (await resp.json())["field"] == "signature"
    assert database.rows("SELECT count(*) FROM mail_messages") == [(1,)]


async def test_handover_moves_the_thread_and_the_old_volunteer_loses_it(app_client: Any, sessions: Any) -> None:
    a_http, b_http, s_http = sessions[:3]
    anna = await mail_volunteer(app_client, a_http, "Anna")
    seeker = MailSeeker(s_http)
    await seeker.send_first(FIRST)  # Anna is the only one available
    bram = await mail_volunteer(app_client, b_http, "Bram")
    key = (await anna.inbox())[0]["thread"]
    data, _ = await anna.read(key)
    colleagues = (await (await a_http.get("/api/mail/colleagues")).json())["colleagues"]
    assert [c["name"] for c in colleagues] == ["Bram"]
    assert (await anna.hand_over(data, colleagues[0])).status == 200
    assert (await anna.read(key))[0] == {"status": 404}
    assert await anna.inbox() == []
    data, texts = await bram.read(key)
    assert texts == [(1, FIRST)]
    # The old volunteer's key opens none of the stored wraps any more.
    thread_id = crypto.b64decode(data["thread"])
    for m in data["messages"]:
        with pytest.raises(crypto.CryptoError):
            crypto.open_mail(thread_id, m["seq"], m["author"], crypto.b64decode(m["body"]),
                             crypto.b64decode(m["signature"]), crypto.b64decode(m["wrap"]), anna.identity,
                             crypto.b64decode(m["signer"]))


async def test_handover_without_every_key_changes_nothing(app_client: Any, sessions: Any) -> None:
    a_http, b_http, s_http = sessions[:3]
    anna = await mail_volunteer(app_client, a_http, "Anna")
    seeker = MailSeeker(s_http)
    await seeker.send_first(FIRST)
    await mail_volunteer(app_client, b_http, "Bram")
    key = (await anna.inbox())[0]["thread"]
    resp = await a_http.post(f"/api/mail/threads/{key}/handover", json={"to": "Bram", "wraps": [
        {"seq": 7, "wrap": crypto.b64encode(bytes(80))}]})
    assert resp.status == 409
    assert (await anna.read(key))[1] == [(1, FIRST)]


async def test_deactivated_volunteer_means_reassignment_on_return(app_client: Any, sessions: Any) -> None:
    a_http, b_http, s_http = sessions[:3]
    anna = await mail_volunteer(app_client, a_http, "Anna")
    seeker = MailSeeker(s_http)
    await seeker.send_first(FIRST)
    bram = await mail_volunteer(app_client, b_http, "Bram")
    app = app_client.server.app
    assert await app[STORAGE].set_active("Anna", False)
    await app[MAIL_DESK].housekeeping()
    await seeker.open()
    assert seeker.thread["state"] == "needs-volunteer"
    nxt = seeker.thread["reassign"]
    assert nxt["name"] == "Bram"
    from tests.mailclient import checked_x25519
    x = checked_x25519(nxt)
    wraps = [{"seq": m["seq"], "wrap": crypto.b64encode(
        crypto.rewrap_mail_key(crypto.b64decode(m["wrap"]), seeker.box, x))} for m in seeker.thread["messages"]]
    # The help-seeker's wraps are the ones the page has; the new volunteer's are made from them.
    resp = await s_http.post("/api/mail/reassign", json={**seeker.lookup, "volunteer": "Bram", "wraps": wraps})
    assert resp.status == 200, await resp.text()
    key = (await bram.inbox())[0]["thread"]
    assert (await bram.read(key))[1] == [(1, FIRST)]
    del anna


async def test_unopened_thread_needs_a_new_volunteer_after_the_pickup_time(
        app_client: Any, sessions: Any, clock: Any, insecure_kdf_config: Any) -> None:
    a_http, s_http = sessions[:2]
    await mail_volunteer(app_client, a_http, "Anna")
    seeker = MailSeeker(s_http)
    await seeker.send_first(FIRST)
    clock.now += insecure_kdf_config.mail_pickup_hours * 3600
    await app_client.server.app[MAIL_DESK].housekeeping()
    await seeker.open()
    assert seeker.thread["state"] == "needs-volunteer"
    assert seeker.thread["reassign"] is None  # nobody else is available: the page says so


def assert_deleted_for_good(insecure_kdf_config: Any, database: Database, body: bytes) -> None:
    """SQLite (secure_delete, then the WAL checkpointed): the ciphertext is gone from every file.
    PostgreSQL has no secure_delete: no row is left, live or dead (VACUUM ran), and what is left of
    the bytes on disk is shown, and said, in test_storage_postgres.py."""
    assert database.rows("SELECT count(*) FROM mail_messages") == [(0,)]
    if database.backend == "sqlite":
        stored = written(insecure_kdf_config.data_dir, database)
        assert body[:64] not in stored and body[-64:] not in stored
    else:
        assert dead_rows(database, "mail_messages") == 0 and dead_rows(database, "mail_threads") == 0


async def test_expired_thread_is_gone_from_the_database_file(
        app_client: Any, sessions: Any, clock: Any, insecure_kdf_config: Any, database: Database) -> None:
    a_http, s_http = sessions[:2]
    await mail_volunteer(app_client, a_http, "Anna")
    seeker = MailSeeker(s_http)
    await seeker.send_first(FIRST)
    ((body,),) = database.rows("SELECT body FROM mail_messages")
    assert body in written(insecure_kdf_config.data_dir, database)
    clock.now += (insecure_kdf_config.mail_retention_days + 1) * 86400
    await app_client.server.app[MAIL_DESK].housekeeping()
    assert (await seeker.open()).status == 404
    assert_deleted_for_good(insecure_kdf_config, database, body)


async def test_delete_is_immediate_and_leaves_no_ciphertext(app_client: Any, sessions: Any,
                                                            insecure_kdf_config: Any, database: Database) -> None:
    a_http, s_http = sessions[:2]
    await mail_volunteer(app_client, a_http, "Anna")
    seeker = MailSeeker(s_http)
    await seeker.send_first(FIRST)
    ((body,),) = database.rows("SELECT body FROM mail_messages")
    assert (await s_http.post("/api/mail/delete", json=seeker.lookup)).status == 200
    assert (await seeker.open()).status == 404
    assert_deleted_for_good(insecure_kdf_config, database, body)


async def test_no_mail_volunteer_gets_a_clear_answer(app_client: Any, sessions: Any) -> None:
    seeker = MailSeeker(sessions[0])
    challenge = await (await sessions[0].post("/api/mail/challenge")).json()
    nonce = crypto.pow_solve(crypto.b64decode(challenge["challenge"]), challenge["bits"])
    resp = await sessions[0].post("/api/mail/assign", json={"challenge": challenge["challenge"],
                                                            "nonce": crypto.b64encode(nonce)})
    assert resp.status == 503 and "113" in (await resp.json())["message"]["nl"]
    del seeker


async def test_assignment_goes_to_the_volunteer_with_fewest_open_threads(app_client: Any, sessions: Any) -> None:
    a_http, b_http, s1, s2 = sessions
    anna = await mail_volunteer(app_client, a_http, "Anna")
    await MailSeeker(s1).send_first("een")
    bram = await mail_volunteer(app_client, b_http, "Bram")
    await MailSeeker(s2).send_first("twee")
    assert len(await anna.inbox()) == 1 and len(await bram.inbox()) == 1


async def test_mail_proof_of_work_rises_with_the_load(app_client: Any, sessions: Any, insecure_kdf_config: Any) -> None:
    base = (await (await sessions[0].post("/api/mail/challenge")).json())["bits"]
    desk = app_client.server.app[MAIL_DESK]
    desk.recent.extend([desk.monotonic()] * 40)  # as if 40 threads were made just now
    risen = (await (await sessions[0].post("/api/mail/challenge")).json())["bits"]
    assert base == insecure_kdf_config.pow_base_bits and risen == base + 2


async def test_open_thread_counts_follow_every_change(app_client: Any, sessions: Any,
                                                      database: Database) -> None:
    """The triggers behind fair assignment: create, handle, reopen, hand over and delete keep the counts."""
    a_http, b_http, s1, s2 = sessions
    anna = await mail_volunteer(app_client, a_http, "Anna")

    def counts() -> dict[str, int]:
        return dict(database.rows("SELECT name, open_threads FROM volunteers"))
    first = MailSeeker(s1)
    await first.send_first("een")
    await MailSeeker(s2).send_first("twee")
    assert counts() == {"Anna": 2}
    await first.open()
    key = first.thread["thread"]
    assert (await a_http.post(f"/api/mail/threads/{key}/handled")).status == 200
    assert counts() == {"Anna": 1}
    assert (await first.write("nog iets")).status == 201  # reopens
    assert counts() == {"Anna": 2}
    await mail_volunteer(app_client, b_http, "Bram")
    data, _ = await anna.read(key)
    bram = [c for c in (await (await a_http.get("/api/mail/colleagues")).json())["colleagues"] if c["name"] == "Bram"]
    assert (await anna.hand_over(data, bram[0])).status == 200
    assert counts() == {"Anna": 1, "Bram": 1}
    assert (await s1.post("/api/mail/delete", json=first.lookup)).status == 200
    assert counts() == {"Anna": 1, "Bram": 0}
