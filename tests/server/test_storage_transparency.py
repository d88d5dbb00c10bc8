"""The storage of key and code transparency (migration 0010), on both backends.

Every account gets a random 16-byte account id (new enrolments at once, accounts enrolled before
the migration at start-up), `key_ready` gates the choice of a mail volunteer and the "who can take
mail" counts, and the log's entries are contiguous, never changed and never deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from server.storage import NewVolunteer, Storage, StorageError, open_storage
from server.storage.interface import LOG_APPEND_MAX, LOG_ENTRY_MAX_BYTES, MailMessage, MailThread, Volunteer
from server.storage import postgres, sqlite
from tests.services.database import Database

DAY = "2027-03-10"


@pytest.fixture
async def storage(insecure_kdf_config: Any) -> AsyncIterator[Storage]:
    store = open_storage(insecure_kdf_config)
    await store.open()
    yield store
    await store.close()


def new_volunteer(name: str) -> NewVolunteer:
    return NewVolunteer(name=name, role="volunteer", can_chat=True, can_mail=True, enrolled_day=DAY,
                        kdf_salt=b"s" * 16, kdf_opslimit=3, kdf_memlimit=65536, auth_hash="h",
                        x25519_public=name.encode().ljust(32, b"x"), ed25519_public=name.encode().ljust(32, b"e"),
                        wrapped_identity=b"w", x25519_certificate=b"c" * 64)


async def enrol(storage: Storage, name: str) -> Volunteer:
    token = name.encode().ljust(32, b".")
    await storage.create_invitation(token, name, "volunteer", True, True, 10**10)
    volunteer_id = await storage.enrol(token, 0, new_volunteer(name))
    found = await storage.volunteer_by_id(volunteer_id)
    assert found is not None
    return found


def maker(thread_id: bytes):  # type: ignore[no-untyped-def]
    def make(volunteer: Volunteer) -> tuple[MailThread, MailMessage]:
        thread = MailThread(thread_id, b"L" + thread_id, b"x" * 32, b"e" * 32, volunteer.id, "open", 1, False, 1,
                            True, False, 1)
        return thread, MailMessage(1, 1, b"ciphertext", b"s" * 64, b"e" * 32, b"w1", b"w2")
    return make


async def test_every_enrolment_gets_a_random_account_id_that_finds_the_account(storage: Storage) -> None:
    sanne, bram = await enrol(storage, "Sanne"), await enrol(storage, "Bram")
    assert len(sanne.account_id) == 16 and len(bram.account_id) == 16
    assert sanne.account_id != bram.account_id
    assert sanne.account_id not in (b"\0" * 16,) and b"Sanne" not in sanne.account_id
    assert not sanne.key_ready and not bram.key_ready
    assert await storage.volunteer_by_account_id(sanne.account_id) == sanne
    assert await storage.volunteer_by_account_id(b"\1" * 16) is None
    assert [v.account_id for v in await storage.list_volunteers()] == [bram.account_id, sanne.account_id]


async def test_keys_ready_gates_the_choice_of_a_mail_volunteer_and_the_counts(storage: Storage) -> None:
    sanne, bram = await enrol(storage, "Sanne"), await enrol(storage, "Bram")
    await storage.set_mail_available(sanne.id, True)
    await storage.set_mail_available(bram.id, True)
    # Nobody's key statement is in a usable checkpoint: nobody is given mail, nobody counts.
    assert await storage.mail_volunteer_with_fewest_threads() is None
    assert not await storage.mail_can_be_taken()
    assert await storage.mail_volunteers_available() == 0
    assert await storage.create_thread_for_fewest(maker(b"t" * 16)) is None
    assert await storage.mail_thread_count() == 0

    await storage.set_keys_ready([sanne.account_id])
    assert (await storage.volunteer_by_id(sanne.id)).key_ready  # type: ignore[union-attr]
    assert not (await storage.volunteer_by_id(bram.id)).key_ready  # type: ignore[union-attr]
    assert await storage.mail_can_be_taken() and await storage.mail_volunteers_available() == 1
    chosen = await storage.create_thread_for_fewest(maker(b"u" * 16))
    assert chosen is not None and chosen[1].id == sanne.id
    # Sanne has a thread, Bram none, but Bram is not ready: Sanne again.
    assert (await storage.mail_volunteer_with_fewest_threads()).id == sanne.id  # type: ignore[union-attr]

    # The set replaces the last one: Bram in, Sanne out.
    await storage.set_keys_ready({bram.account_id, b"\7" * 16})
    assert not (await storage.volunteer_by_id(sanne.id)).key_ready  # type: ignore[union-attr]
    assert (await storage.mail_volunteer_with_fewest_threads()).id == bram.id  # type: ignore[union-attr]
    assert (await storage.mail_volunteer_with_fewest_threads(exclude=bram.id)) is None
    await storage.set_keys_ready([])
    assert await storage.mail_volunteers_available() == 0 and not await storage.mail_can_be_taken()


async def test_the_log_appends_contiguously_and_reads_ranges(storage: Storage) -> None:
    assert await storage.log_size() == 0 and await storage.log_entries(0, 10) == []
    assert await storage.log_append([b"\x01a", b"\x01b"]) == 2
    assert await storage.log_append([b"\x02c"]) == 3
    assert await storage.log_size() == 3
    assert await storage.log_entries(0, 3) == [b"\x01a", b"\x01b", b"\x02c"]
    assert await storage.log_entries(1, 2) == [b"\x01b"]
    assert await storage.log_entries(2, 100) == [b"\x02c"]
    assert await storage.log_entries(5, 9) == []
    # Appends at the same moment are serialised: every index once, in one piece per append.
    sizes = await asyncio.gather(*(storage.log_append([bytes([n]) * 3, bytes([n]) * 4]) for n in range(10)))
    assert sorted(sizes) == list(range(5, 24, 2))
    entries = await storage.log_entries(3, 23)
    assert len(entries) == 20
    for first, second in zip(entries[::2], entries[1::2]):
        assert first == second[:3] and len(second) == 4


async def test_the_log_refuses_bad_appends_and_stores_nothing(storage: Storage) -> None:
    for bad in ([], [b""], [b"x" * (LOG_ENTRY_MAX_BYTES + 1)], [b"x"] * (LOG_APPEND_MAX + 1),
                [b"fine", b""]):
        with pytest.raises(StorageError):
            await storage.log_append(bad)
    assert await storage.log_size() == 0
    assert await storage.log_append([b"x" * LOG_ENTRY_MAX_BYTES]) == 1


async def test_log_entries_cannot_be_changed_or_deleted_in_the_database(storage: Storage,
                                                                       database: Database) -> None:
    await storage.log_append([b"\x01first", b"\x01second"])
    for sql in ("UPDATE log_entries SET data = ? WHERE idx = 0", "DELETE FROM log_entries WHERE idx = 1"):
        args = (b"\x01forged",) if "UPDATE" in sql else ()
        with pytest.raises((sqlite3.DatabaseError, asyncpg.PostgresError, Exception)) as caught:
            await _execute(database, sql, *args)
        assert "never" in str(caught.value)
    assert await storage.log_entries(0, 2) == [b"\x01first", b"\x01second"]


async def test_checkpoints_are_stored_per_size_and_the_latest_is_the_largest(storage: Storage) -> None:
    assert await storage.latest_checkpoint() is None
    await storage.save_checkpoint(2, "note two\n", 100)
    await storage.save_checkpoint(1, "note one\n", 101)
    assert await storage.latest_checkpoint() == (2, "note two\n")
    await storage.save_checkpoint(2, "note two, fresher cosignatures\n", 200)
    assert await storage.latest_checkpoint() == (2, "note two, fresher cosignatures\n")
    await storage.save_checkpoint(3, "note three\n", 300)
    assert await storage.latest_checkpoint() == (3, "note three\n")


async def test_an_account_id_never_changes(storage: Storage, database: Database) -> None:
    sanne = await enrol(storage, "Sanne")
    with pytest.raises(Exception) as caught:
        await _execute(database, "UPDATE volunteers SET account_id = ? WHERE id = ?", b"\5" * 16, sanne.id)
    assert "never changes" in str(caught.value)
    assert (await storage.volunteer_by_id(sanne.id)).account_id == sanne.account_id  # type: ignore[union-attr]


async def test_accounts_enrolled_before_the_migration_get_an_account_id_at_start(
        insecure_kdf_config: Any, database: Database) -> None:
    """A database at schema 9 with two accounts: opening it runs 0010 and gives each its own id."""
    columns = ("name, role, can_chat, can_mail, enrolled_day, kdf_salt, kdf_opslimit, kdf_memlimit, auth_hash,"
               " x25519_public, ed25519_public, wrapped_identity")
    if database.backend == "sqlite":
        database.data_dir.mkdir(parents=True, exist_ok=True)  # type: ignore[attr-defined]
        with contextlib.closing(sqlite3.connect(database.path)) as db:  # type: ignore[attr-defined]
            for number, script in sqlite.migrations():
                if number <= 9:
                    db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
            for name in ("Oud", "Ouder"):
                db.execute(f"INSERT INTO volunteers({columns}) VALUES (?, 'volunteer', 1, 1, ?, ?, 3, 65536, 'h',"
                           " ?, ?, ?)", (name, DAY, b"s" * 16, b"x" * 32, b"e" * 32, b"w"))
            db.commit()
    else:
        c = await asyncpg.connect(database.url)
        try:
            async with c.transaction():
                for number, script in postgres.migrations():
                    if number <= 9:
                        await c.execute(script)
                await c.execute("INSERT INTO meta(key, value) VALUES ($1, $2)", postgres.SCHEMA_VERSION_KEY, b"9")
                for name in ("Oud", "Ouder"):
                    await c.execute(f"INSERT INTO volunteers({columns}) VALUES ($1, 'volunteer', 1, 1, $2, $3, 3,"
                                    " 65536, 'h', $4, $5, $6)", name, DAY, b"s" * 16, b"x" * 32, b"e" * 32, b"w")
        finally:
            await c.close()
    store = open_storage(insecure_kdf_config)
    await store.open()
    try:
        old = await store.list_volunteers()
        ids = [v.account_id for v in old]
        assert len(old) == 2 and all(len(i) == 16 for i in ids) and ids[0] != ids[1]
        assert not any(v.key_ready for v in old)
    finally:
        await store.close()
    # Opened again: the ids stay what they were.
    store = open_storage(insecure_kdf_config)
    await store.open()
    try:
        assert [v.account_id for v in await store.list_volunteers()] == ids
    finally:
        await store.close()


async def _execute(database: Database, sql: str, *args: Any) -> None:
    """One statement on the database from outside the server (SQLite `?` placeholders)."""
    if database.backend == "sqlite":
        with contextlib.closing(sqlite3.connect(database.path)) as db:  # type: ignore[attr-defined]
            db.execute(sql, args)
            db.commit()
        return
    n = 0

    def number(_: Any) -> str:
        nonlocal n
        n += 1
        return f"${n}"
    import re
    c = await asyncpg.connect(database.url)
    try:
        await c.execute(re.sub(r"\?", number, sql), *args)
    finally:
        await c.close()
