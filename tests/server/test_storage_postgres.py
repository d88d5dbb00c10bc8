"""PostgresStorage where PostgreSQL differs from SQLite: other processes writing at the same moment,
migrations racing at start-up, two web processes on one database, and deletion without secure_delete.

Everything else runs on both backends through the shared fixtures (tests/conftest.py). The
processes here are real: `python -m tests.services.storage_worker` (a second writer), and `oor
serve` twice on one database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

import crypto
from server.config import load_config
from server.errors import ConfigError
from server.storage import (Count, MailMessage, MailThread, NewVolunteer, Storage, StorageError, Volunteer,
                            open_storage)
from server.storage import postgres
from server.storage.postgres import PostgresStorage
from server.storage.sqlite import SQLiteStorage
from tests.conftest import INSECURE_TEST_ENV, REPO, LiveServer, start_live_server, stop_live_server
from tests.helpers import PASSPHRASE, enrolment_body, login_body
from tests.services.database import PostgresDatabase, dead_rows

DAY = "2027-03-10"
LATEST = max(n for n, _ in postgres.migrations())


def new_volunteer(name: str, role: str = "volunteer") -> NewVolunteer:
    return NewVolunteer(name=name, role=role, can_chat=True, can_mail=True, enrolled_day=DAY, kdf_salt=b"s" * 16,
                        kdf_opslimit=3, kdf_memlimit=65536, auth_hash="h", x25519_public=name.encode().ljust(32, b"x"),
                        ed25519_public=name.encode().ljust(32, b"e"), wrapped_identity=b"w",
                        x25519_certificate=b"c" * 64)


async def on_duty(storage: Storage, name: str, role: str = "volunteer") -> int:
    token = name.encode().ljust(32, b".")
    await storage.create_invitation(token, name, role, True, True, 10**10)
    volunteer_id = await storage.enrol(token, 0, new_volunteer(name, role))
    await storage.set_mail_available(volunteer_id, True)
    # Mail goes only to an account whose key statement is in a usable checkpoint (migration 0010).
    await storage.set_keys_ready([v.account_id for v in await storage.list_volunteers()])
    return volunteer_id


def thread_for(volunteer_id: int | None, n: int, body: bytes = b"ciphertext") -> tuple[MailThread, MailMessage]:
    thread = MailThread(bytes([n]) * 16, bytes([n + 100]) * 32, b"x" * 32, b"e" * 32, volunteer_id, "open", 10, False,
                        10, True, False, 20)
    return thread, MailMessage(1, 1, body, b"s" * 64, b"e" * 32, b"w1", b"w2")


def workers(url: str, *jobs: list[str]) -> list[dict[str, Any]]:
    """One storage_worker process per job; they start their jobs at the same moment. Answers what each saw."""
    env = {**os.environ, "OOR_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.services.storage_worker", *job], cwd=REPO, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for job in jobs]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.communicate()[1]
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
async def storage(postgres_database: PostgresDatabase) -> Any:
    store = PostgresStorage(postgres_database.url)
    await store.open()
    yield store
    await store.close()


# -- the setting ----------------------------------------------------------------------------------------


def test_database_url_chooses_the_backend_and_is_never_shown(tmp_path: Path) -> None:
    secret = "s3cr3t-Wachtwoord"
    for url in (f"postgresql://oor:{secret}@db.example:5432/oor", f"postgres://oor:{secret}@db/oor"):
        config = load_config(env={**INSECURE_TEST_ENV, "OOR_DATABASE_URL": url})
        assert config.database_url == url
        assert secret not in repr(config)
        chosen = open_storage(config)
        assert isinstance(chosen, PostgresStorage) and secret not in repr(chosen)
    assert isinstance(open_storage(load_config(env=INSECURE_TEST_ENV, overrides={"data_dir": str(tmp_path)})),
                      SQLiteStorage)
    for wrong in (f"mysql://oor:{secret}@db/oor", f"sqlite:///{tmp_path}/x", "db.example:5432"):
        with pytest.raises(ConfigError) as refused:
            load_config(env={"OOR_DATABASE_URL": wrong})
        assert "database_url" in str(refused.value) and secret not in str(refused.value)
        (tmp_path / "oor.toml").write_text(f'database_url = "{wrong}"\n')
        with pytest.raises(ConfigError, match="database_url"):
            load_config(tmp_path / "oor.toml", env={})


# -- migrations ------------------------------------------------------------------------------------------


def schema_of(database: PostgresDatabase) -> list[tuple[Any, ...]]:
    """Tables with their columns and types, constraints, indexes and triggers."""
    return [*database.rows("SELECT table_name, column_name, data_type, collation_name, is_nullable, column_default"
                           " FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1, 2"),
            *database.rows("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
                           " WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2"),
            *database.rows("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1"),
            *database.rows("SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1")]


async def test_migrating_again_changes_nothing(postgres_database: PostgresDatabase) -> None:
    def state() -> tuple[Any, ...]:
        return schema_of(postgres_database), postgres_database.rows("SELECT key, value FROM meta ORDER BY key")

    states = []
    for _ in range(2):
        store = PostgresStorage(postgres_database.url)
        await store.open()
        await store.close()
        states.append(state())
    assert states[0] == states[1]
    assert postgres_database.rows("SELECT value FROM meta WHERE key = ?", postgres.SCHEMA_VERSION_KEY) == \
        [(str(LATEST).encode(),)]


async def test_two_processes_starting_at_once_migrate_once(postgres_database: PostgresDatabase) -> None:
    """Both processes wait for the migration lock (held here until both do), then one migrates and
    the other finds the schema up to date; neither fails."""
    holder = await asyncpg.connect(postgres_database.url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", postgres._MIGRATIONS_LOCK)
        both: list[list[dict[str, Any]]] = []
        started = threading.Thread(target=lambda: both.append(workers(postgres_database.url, ["mail", "0", DAY],
                                                                      ["mail", "0", DAY])))
        started.start()
        for _ in range(200):
            waiting = await holder.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                            " AND database = (SELECT oid FROM pg_database WHERE datname = $1)",
                                            postgres_database.name)
            if waiting == 2:
                break
            await asyncio.sleep(0.05)
        assert waiting == 2
        await holder.execute("SELECT pg_advisory_unlock($1)", postgres._MIGRATIONS_LOCK)
        await asyncio.get_running_loop().run_in_executor(None, started.join, 120)
    finally:
        await holder.close()
    assert both == [[{"stored": 0}, {"stored": 0}]]
    assert postgres_database.rows("SELECT value FROM meta WHERE key = ?", postgres.SCHEMA_VERSION_KEY) == \
        [(str(LATEST).encode(),)]


# -- two processes writing at once -----------------------------------------------------------------------


async def test_two_processes_assigning_mail_at_once_keep_counts_exact_and_fewest_first(
        storage: PostgresStorage, postgres_database: PostgresDatabase) -> None:
    """Each process stores 60 threads for the fewest (in group commits of up to 10) and adds 60 counts:
    every count adds up, the trigger-kept counters equal the real counts, and 120 threads over 3
    volunteers end 40 each. (The sharp test of fewest-first is the next one, round by round.)"""
    ids = [await on_duty(storage, name) for name in ("Anna", "Bram", "Cor")]
    seen = await asyncio.get_running_loop().run_in_executor(
        None, workers, postgres_database.url, ["mail", "60", DAY], ["mail", "60", DAY])
    assert seen == [{"stored": 60}, {"stored": 60}]
    per_volunteer = dict(postgres_database.rows("SELECT volunteer_id, count(*) FROM mail_threads"
                                                " WHERE state != 'handled' GROUP BY volunteer_id"))
    assert per_volunteer == {volunteer_id: 40 for volunteer_id in ids}
    assert dict(postgres_database.rows("SELECT id, open_threads FROM volunteers")) == per_volunteer
    assert postgres_database.rows("SELECT count(*) FROM mail_messages") == [(120,)]
    assert await storage.counts_between(DAY, DAY) == [(DAY, "chat", "offered", "", 120),
                                                      (DAY, "mail", "offered", "", 120)]


async def test_fewest_first_holds_after_every_pair_of_threads_stored_at_the_same_moment(
        storage: PostgresStorage, postgres_database: PostgresDatabase) -> None:
    """The sharp test of the assignment lock: in each round both processes store one thread at the same
    moment. Each must see the other's (two choices of the same "fewest" would leave two volunteers
    apart by 2), so after every round no volunteer has more than one thread more than another."""
    for name in ("Anna", "Bram", "Cor"):
        await on_duty(storage, name)
    env = {**os.environ, "OOR_DATABASE_URL": postgres_database.url, "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.services.storage_worker", "rounds", "40"], cwd=REPO,
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        assert all(proc.stdout is not None and proc.stdout.readline().strip() == "ready" for proc in procs)
        for proc in procs:
            proc.stdin.write("go\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        for round_ in range(40):
            for proc in procs:
                proc.stdin.write("next\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            assert all(proc.stdout.readline().strip() == "stored" for proc in procs)  # type: ignore[union-attr]
            counts = [n for (n,) in postgres_database.rows("SELECT open_threads FROM volunteers")]
            assert sum(counts) == 2 * (round_ + 1) and max(counts) - min(counts) <= 1, (round_, counts)
        for proc in procs:
            proc.communicate(timeout=60)
            assert proc.returncode == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


async def test_two_processes_replying_to_one_thread_never_share_a_sequence_number(
        storage: PostgresStorage, postgres_database: PostgresDatabase) -> None:
    volunteer_id = await on_duty(storage, "Anna")
    thread, first = thread_for(volunteer_id, 1)
    await storage.create_thread(thread, first)
    seen = await asyncio.get_running_loop().run_in_executor(
        None, workers, postgres_database.url, ["replies", thread.id.hex(), "40"], ["replies", thread.id.hex(), "40"])
    assert [s["added"] for s in seen] == [40, 40]
    assert [m.seq for m in await storage.messages(thread.id)] == list(range(1, 82))


async def test_two_coordinators_deactivating_each_other_at_once_leave_one(
        storage: PostgresStorage, postgres_database: PostgresDatabase) -> None:
    await on_duty(storage, "Anna", "coordinator")
    await on_duty(storage, "Bram", "coordinator")
    for _ in range(3):
        seen = await asyncio.get_running_loop().run_in_executor(
            None, workers, postgres_database.url, ["deactivate", "Bram"], ["deactivate", "Anna"])
        assert sorted(s["outcome"] for s in seen) == ["deactivated", "last-coordinator"]
        assert postgres_database.rows("SELECT count(*) FROM volunteers WHERE role = 'coordinator' AND active = 1") \
            == [(1,)]
        await storage.set_active("Anna", True)
        await storage.set_active("Bram", True)


async def test_two_web_processes_on_one_database_agree(tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    """Two `oor serve` started at the same moment: one server secret between them (unknown names get
    the same fake salt from both), and an account made on one logs in on the other."""
    servers: list[LiveServer] = []

    def start(folder: str) -> None:
        (tmp_path / folder).mkdir()
        # Nodes of one deployment sign checkpoints with one log key (and so serve one trust.js).
        servers.append(start_live_server(tmp_path / folder, {"OOR_SMTP_ENABLED": "false",
                                                             "OOR_LOG_KEY_FILE": str(tmp_path / "log.key")},
                                         database=postgres_database))

    starting = [threading.Thread(target=start, args=(f"node{i}",)) for i in (1, 2)]
    for thread in starting:
        thread.start()
    for thread in starting:
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 60)
    try:
        assert len(servers) == 2
        one, two = servers
        assert postgres_database.rows("SELECT count(*) FROM meta WHERE key = 'server-secret'") == [(1,)]
        salts = []
        for server in servers:
            async with aiohttp.ClientSession(base_url=server.url) as http:
                salts.append((await (await http.post("/api/login/start", json={"name": "Niemand"})).json())["salt"])
        assert salts[0] == salts[1]
        jar = aiohttp.CookieJar(unsafe=True)  # cookies do not tell ports apart: one browser, two nodes
        token = one.invite("Sanne").split("#uitnodiging=", 1)[1]
        async with aiohttp.ClientSession(base_url=one.url, cookie_jar=jar) as on_one, \
                aiohttp.ClientSession(base_url=two.url, cookie_jar=jar) as on_two:
            enrolment = enrolment_body(token, identity=crypto.new_identity())
            assert (await on_one.post("/api/enrol", json=enrolment)).status == 201
            assert (await on_two.post("/api/login", json=await login_body(on_two, "Sanne", PASSPHRASE))).status == 200
            assert (await on_one.get("/api/me")).status == 200
    finally:
        for server in servers:
            stop_live_server(server)
    for server in servers:
        assert "Traceback" not in server.read_output(), server.read_output()[-3000:]


# -- deletion ----------------------------------------------------------------------------------------------


def pages_of(database: PostgresDatabase, relation: str) -> list[tuple[Any, ...]]:
    """(line pointer state, tuple bytes) of every line pointer in every page of `relation` (pageinspect)."""
    database.server.execute(database.name, "CREATE EXTENSION IF NOT EXISTS pageinspect")
    (pages,) = database.rows("SELECT pg_relation_size(?::regclass) / current_setting('block_size')::int", relation)[0]
    return [row for page in range(pages) for row in database.rows(
        "SELECT lp_flags, t_data FROM heap_page_items(get_raw_page(?, ?))", relation, page)]


async def test_a_deleted_thread_leaves_no_row_live_or_dead_and_no_index_entry(
        storage: PostgresStorage, postgres_database: PostgresDatabase) -> None:
    """What holds after delete_thread (DELETE, then VACUUM with INDEX_CLEANUP ON): no row can be read
    back through SQL, or through the page-level functions a superuser has; the dead versions are gone
    (counted by reading the pages, pgstattuple: pg_stat_user_tables.n_dead_tup is an estimate that the
    deleting connection can still raise after VACUUM reported 0), and so are the index entries."""
    db = postgres_database
    volunteer_id = await on_duty(storage, "Anna")
    bodies = [os.urandom(48) for _ in range(3)]
    for n, body in enumerate(bodies, start=1):
        await storage.create_thread(*thread_for(volunteer_id, n, body))
    await storage.delete_thread(bytes([2]) * 16)
    assert db.rows("SELECT id FROM mail_threads ORDER BY id") == [(bytes([1]) * 16,), (bytes([3]) * 16,)]
    assert db.rows("SELECT count(*) FROM mail_messages WHERE thread_id = ?", bytes([2]) * 16) == [(0,)]
    assert dead_rows(db, "mail_messages") == 0 and dead_rows(db, "mail_threads") == 0
    # Line pointers: 1 normal, 3 dead (its index entries still point at it), 0 unused (free for reuse).
    for relation in ("mail_messages", "mail_threads"):
        states = [flags for flags, _ in pages_of(db, relation)]
        assert states.count(1) == 2 and 3 not in states, (relation, states)
    assert all(bodies[1] not in (data or b"") for _, data in pages_of(db, "mail_messages"))
    # Each index (one leaf page here) holds an entry for each live row, and none for the deleted one.
    for index in ("mail_threads_pkey", "mail_threads_lookup_hash_key", "mail_messages_pkey"):
        assert db.rows("SELECT count(*) FROM bt_page_items(?, 1)", index) == [(2,)], index
    assert await storage.open_thread_waits() == [("open", 10, 2)]


async def test_a_deletion_waits_for_a_transaction_that_could_still_see_the_rows(
        storage: PostgresStorage, postgres_database: PostgresDatabase) -> None:
    """Another session (another process of the server, say) is inside a transaction that began before
    the deletion, so its snapshot may still see the rows: a VACUUM at that moment would leave them. The
    deletion's VACUUM waits for that transaction (it ends 0.3 s later) and then no version is left."""
    db = postgres_database
    volunteer_id = await on_duty(storage, "Anna")
    await storage.create_thread(*thread_for(volunteer_id, 1, os.urandom(48)))
    other = await asyncpg.connect(db.url)
    try:
        reading = other.transaction(isolation="repeatable_read")
        await reading.start()
        assert await other.fetchval("SELECT count(*) FROM mail_messages") == 1  # its snapshot is taken

        async def end_later() -> None:
            await asyncio.sleep(0.3)
            await reading.commit()
        ending = asyncio.create_task(end_later())
        await storage.delete_thread(bytes([1]) * 16)
        assert ending.done(), "the deletion's VACUUM did not wait for the older transaction"
        assert dead_rows(db, "mail_messages") == 0 and dead_rows(db, "mail_threads") == 0
    finally:
        await other.close()


async def test_a_deletion_does_not_wait_for_ever_for_a_long_transaction(
        storage: PostgresStorage, postgres_database: PostgresDatabase, monkeypatch: Any) -> None:
    """A transaction that lasts (a backup's, say) holds the deletion up for VACUUM_WAIT_SECONDS only."""
    monkeypatch.setattr(postgres, "VACUUM_WAIT_SECONDS", 0.2)
    volunteer_id = await on_duty(storage, "Anna")
    await storage.create_thread(*thread_for(volunteer_id, 1, os.urandom(48)))
    other = await asyncpg.connect(postgres_database.url)
    try:
        async with other.transaction(isolation="repeatable_read"):
            await other.fetchval("SELECT count(*) FROM mail_messages")
            await asyncio.wait_for(storage.delete_thread(bytes([1]) * 16), 5)
            assert postgres_database.rows("SELECT count(*) FROM mail_threads") == [(0,)]
    finally:
        await other.close()


async def test_deleted_bytes_stay_in_free_space_and_in_the_wal_until_overwritten(
        storage: PostgresStorage, postgres_database: PostgresDatabase) -> None:
    """The residual, pinned so that the threat model's words stay true: PostgreSQL has no secure_delete.

    After delete_thread and a CHECKPOINT, the ciphertext of the newest thread (whose row lay at the
    edge of the page's free space, where VACUUM moves nothing over it) is still in the table's file,
    unreachable but not overwritten, and its INSERT is still in pg_wal. VACUUM FULL (an operator's
    choice: it locks the table while it rewrites it) leaves it in no file of the table; the WAL keeps
    it until its segment is recycled and written over."""
    db = postgres_database
    volunteer_id = await on_duty(storage, "Anna")
    kept, deleted = os.urandom(48), os.urandom(48)
    await storage.create_thread(*thread_for(volunteer_id, 1, kept))
    await storage.create_thread(*thread_for(volunteer_id, 2, deleted))
    await storage.delete_thread(bytes([2]) * 16)
    db.server.execute("postgres", "CHECKPOINT")
    ((heap,),) = db.rows("SELECT pg_relation_filepath('mail_messages')")
    table_file = db.server.data / heap
    wal = b"".join(p.read_bytes() for p in db.server.wal_files())
    assert kept in table_file.read_bytes()
    assert deleted in table_file.read_bytes(), "VACUUM now overwrites freed space: update the threat model"
    assert deleted in wal
    db.rows("VACUUM FULL mail_messages")
    db.server.execute("postgres", "CHECKPOINT")
    assert all(deleted not in p.read_bytes() for p in db.server.database_files(db.name))
    assert deleted in b"".join(p.read_bytes() for p in db.server.wal_files())


# -- the same answers as SQLite ------------------------------------------------------------------------------


async def exercise(storage: Storage) -> list[Any]:
    """Every method of the interface, with the answers (and refusals) it gives, in one list."""
    seen: list[Any] = []

    def same_everywhere(answer: Any) -> Any:
        # Account ids are random (migration 0010): compared by length, not by value.
        if isinstance(answer, Volunteer):
            return dataclasses.replace(answer, account_id=bytes(len(answer.account_id)))
        if isinstance(answer, list):
            return [same_everywhere(a) for a in answer]
        return answer

    async def note(call: Any) -> None:
        try:
            seen.append(same_everywhere(await call))
        except StorageError as exc:
            seen.append((type(exc).__name__, str(exc)))

    await note(storage.get_or_create_meta("k", b"one"))
    await note(storage.get_or_create_meta("k", b"two"))
    await note(storage.set_meta("k", b"three"))
    await note(storage.get_or_create_meta("k", b"four"))
    people = [(b"a" * 32, "Anouk", "coordinator"), (b"b" * 32, "Bram", "volunteer"), (b"c" * 32, "Carla", "mentor")]
    for token, name, role in people:
        await note(storage.create_invitation(token, name, role, True, role != "mentor", 1000))
    await note(storage.create_invitation(b"d" * 32, "Dirk", "partner", False, True, 10))
    await note(storage.get_invitation(b"a" * 32))
    await note(storage.get_invitation(b"z" * 32))
    for token, name, role in people:
        await note(storage.enrol(token, 50, new_volunteer(name, role)))
    for token in (b"a" * 32, b"d" * 32, b"z" * 32):  # used, expired, unknown
        await note(storage.enrol(token, 50, new_volunteer("Eva")))
    await note(storage.create_invitation(b"e" * 32, "Anouk", "volunteer", True, True, 1000))
    await note(storage.create_invitation(b"f" * 32, "Eva", "volunteer", True, True, 1000))
    await note(storage.create_invitation(b"g" * 32, "Eva", "volunteer", True, True, 1000))
    await note(storage.enrol(b"f" * 32, 50, new_volunteer("Eva")))
    await note(storage.enrol(b"g" * 32, 50, new_volunteer("Eva")))
    await note(storage.volunteer_by_name("Anouk"))
    await note(storage.volunteer_by_id(2))
    await note(storage.volunteer_by_id(99))
    await note(storage.set_active("Anouk", False, keep_a_coordinator=True))
    await note(storage.set_role("Anouk", "volunteer"))
    await note(storage.set_role("Bram", "partner"))
    await note(storage.set_role("Niemand", "partner"))
    await note(storage.record_login_failure(2, 3, 99))
    await note(storage.volunteer_by_id(2))
    await note(storage.reset_login_failures(2))
    for token, who in ((b"s1", 2), (b"s2", 3), (b"s3", 3)):
        await note(storage.create_session(token, who, 100))
    await note(storage.touch_session(b"s1", 200))
    await note(storage.get_session(b"s1"))
    await note(storage.delete_session(b"s2"))
    await note(storage.get_session(b"s2"))
    await note(storage.delete_sessions_of(3))
    await note(storage.get_session(b"s3"))
    await note(storage.set_active("Bram", False))
    await note(storage.get_session(b"s1"))
    await note(storage.set_active("Bram", True))
    await note(storage.set_active("Niemand", True))
    await note(storage.create_session(b"s4", 4, 100))
    await note(storage.purge(500, 150, 0))
    await note(storage.get_session(b"s4"))
    await note(storage.get_invitation(b"d" * 32))
    await note(storage.list_volunteers())
    for topic, age, handed_over in (("rouw", "18-29", False), ("rouw", "18-29", False), ("eenzaam", "65+", True)):
        await note(storage.add_wrapup(DAY, topic, age, handed_over))
    await note(storage.add_wrapup("2027-03-11", "rouw", "18-29", False))
    await note(storage.wrapup_counts())
    await note(storage.wrapup_counts(DAY, DAY))
    for metric, bucket in (("offered", ""), ("answered", "10"), ("offered", "")):
        await note(storage.add_count(DAY, "chat", metric, bucket))
    await note(storage.counts_between(DAY, DAY))
    # Mail.
    await note(storage.mail_volunteer_with_fewest_threads())
    for volunteer_id in (2, 3):
        await note(storage.set_mail_available(volunteer_id, True))
    await note(storage.mail_volunteers_available())
    await note(storage.mail_volunteer_with_fewest_threads())
    await note(storage.mail_volunteer_with_fewest_threads(exclude=2))
    await note(storage.create_thread(*thread_for(2, 1), Count(DAY, "mail", "offered")))
    await note(storage.create_thread(*thread_for(2, 1)))

    def make(volunteer: Volunteer) -> tuple[MailThread, MailMessage]:
        return thread_for(volunteer.id, 2)

    await note(storage.create_thread_for_fewest(make, Count(DAY, "mail", "offered")))
    await note(storage.mail_volunteer_with_fewest_threads())
    await note(storage.thread_by_lookup(bytes([101]) * 32))
    await note(storage.thread_by_id(bytes([2]) * 16))
    await note(storage.thread_by_id(bytes([9]) * 16))
    one = bytes([1]) * 16
    reply = MailMessage(2, 2, b"antwoord", b"s" * 64, b"e" * 32, b"w1", b"w2")
    await note(storage.add_message(one, reply, 15, 21, 3, lambda hours: Count(DAY, "mail", "first_reply", str(hours))))
    await note(storage.add_message(one, reply, 15, 21, 3))
    await note(storage.add_message(one, MailMessage(3, 1, b"nog", b"s" * 64, b"e" * 32, b"w1", b"w2"), 16, 22, 3))
    await note(storage.add_message(one, MailMessage(4, 2, b"weer", b"s" * 64, b"e" * 32, b"w1", b"w2"), 16, 22, 3))
    await note(storage.messages(one))
    await note(storage.assign_thread(one, 3, {1: b"n1", 2: b"n2", 3: b"n3"}, 17, 2))
    await note(storage.assign_thread(one, 2, {1: b"m1", 2: b"m2", 3: b"m3"}, 17, 2))
    await note(storage.assign_thread(one, 2, {1: b"m1"}, 17, 3))
    await note(storage.messages(one))
    await note(storage.update_thread(one, opened=1, unread_volunteer=0))
    await note(storage.update_thread(one, volunteer_id=2))
    await note(storage.update_thread(one))
    await note(storage.inbox(3))
    await note(storage.update_thread(bytes([2]) * 16, state="handled"))
    await note(storage.inbox(2))
    await note(storage.set_active("Carla", False))
    await note(storage.mark_needing_volunteer(30, 48))
    await note(storage.thread_by_id(one))
    seen.append(sorted(await storage.open_thread_waits(), key=repr))  # in no particular order
    await note(storage.counts_between(DAY, DAY))
    await note(storage.mail_thread_count())
    await note(storage.expire_threads(21))
    await note(storage.delete_thread(one))
    await note(storage.mail_thread_count())
    await note(storage.list_volunteers())
    # The transparency log (migration 0010).
    await note(storage.log_append([b"\x01one", b"\x01two"]))
    await note(storage.log_append([]))
    await note(storage.log_entries(0, 5))
    await note(storage.log_size())
    await note(storage.latest_checkpoint())
    await note(storage.save_checkpoint(2, "cp\n", 5))
    await note(storage.save_checkpoint(2, "cp fresher\n", 6))
    await note(storage.latest_checkpoint())
    volunteers = await storage.list_volunteers()
    await note(storage.set_keys_ready([volunteers[0].account_id]))
    await note(storage.list_volunteers())
    await note(storage.volunteer_by_account_id(volunteers[0].account_id))
    await note(storage.volunteer_by_account_id(b"\0" * 16))
    return seen


async def test_both_backends_answer_alike(tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    """The same calls give the same records on both, down to the types (bool, bytes, int, None)."""
    answers = []
    for store in (SQLiteStorage(tmp_path / "oor.sqlite3"), PostgresStorage(postgres_database.url)):
        await store.open()
        try:
            answers.append(await exercise(store))
        finally:
            await store.close()
    sqlite, postgresql = answers
    assert len(sqlite) == len(postgresql)
    for n, (a, b) in enumerate(zip(sqlite, postgresql)):
        assert repr(a) == repr(b), n
