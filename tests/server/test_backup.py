"""`oor backup` and `oor restore` on SQLite: a consistent copy while the service runs and takes
writes, a restore into an empty data folder, and a server on it where help-seekers' codes and
volunteers' passphrases still work. Plus what a backup must not hold, and what a restore refuses."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from server.backup import BackupError, backup, known_schema, restore
from server.config import load_config
from server.storage.sqlite import migrations
from tests.conftest import INSECURE_TEST_ENV, free_port
from tests.mailclient import MailSeeker
from tests.processes import (cookie_session, oor_env, run_oor, start_oor, volunteer_logs_in,
                             volunteer_on_duty)

FIRST = "Mijn moeder is ziek en ik weet niet bij wie ik terecht kan."


def config_for(data: Path, **env: str) -> Any:
    return load_config(env={**INSECURE_TEST_ENV, **env}, overrides={"data_dir": str(data)})


def tables(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
        return {n: db.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


async def test_round_trip_while_the_server_takes_writes(tmp_path: Path) -> None:
    http_port = free_port()
    # Many first mails from one address in a short time: the per-address limit has its own tests.
    live = start_oor(tmp_path, tmp_path / "var", name="live", http_port=http_port,
                     env=oor_env(f"http://127.0.0.1:{http_port}", {"OOR_CHAT_CHALLENGES_PER_MINUTE": "10000"}))
    dest = tmp_path / "backups" / "oor-backup.sqlite3"
    dest.parent.mkdir()
    identity = crypto.new_identity()
    seekers: list[MailSeeker] = []
    try:
        async with cookie_session(live.url) as http:
            await volunteer_on_duty(live, http, "Sanne", identity)
            for _ in range(3):
                seeker = MailSeeker(aiohttp.ClientSession(base_url=live.url))
                assert (await seeker.send_first(FIRST)).status == 201
                seekers.append(seeker)
            # Help-seekers keep writing while the backup runs.
            writing = asyncio.Event()
            stop = asyncio.Event()

            async def writer() -> int:
                n = 0
                while not stop.is_set():
                    s = MailSeeker(aiohttp.ClientSession(base_url=live.url))
                    try:
                        assert (await s.send_first(f"bericht tijdens de back-up {n}")).status == 201
                    finally:
                        await s.http.close()
                    n += 1
                    writing.set()
                    await asyncio.sleep(0.05)
                return n

            task = asyncio.ensure_future(writer())
            await writing.wait()
            with sqlite3.connect(tmp_path / "var" / "oor.sqlite3", timeout=10) as db:  # organisation text, kept
                db.execute("INSERT INTO quick_replies(nl, en) VALUES ('Neem je tijd.', 'Take your time.')")
            done = await asyncio.get_running_loop().run_in_executor(None, lambda: live.oor("backup", str(dest)))
            stop.set()
            written_meanwhile = await task
            assert done.returncode == 0, done.stderr
            assert written_meanwhile >= 1
            assert "backup written to" in done.stdout and "1 volunteer account(s)" in done.stdout
            # A second backup to the same name is refused, and the first is left as it was.
            before = dest.read_bytes()
            again = live.oor("backup", str(dest))
            assert again.returncode == 1 and "--force" in again.stderr and dest.read_bytes() == before
            forced = live.oor("backup", str(dest), "--force")
            assert forced.returncode == 0, forced.stderr
            dest.write_bytes(before)  # the copy taken while writes went on is the one restored below
    finally:
        live.stop()
        for s in seekers:
            await s.http.close()

    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]  # no WAL, no journal, no .tmp
    held = tables(dest)
    assert held["sessions"] == 0 and held["volunteers"] == 1
    assert 3 <= held["mail_threads"] == held["mail_messages"]
    with sqlite3.connect(dest) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    # Restore into an empty data folder and start a server on it.
    restored_data = tmp_path / "restored" / "var"
    env = oor_env("http://127.0.0.1:8080")
    done = run_oor(restored_data, "restore", str(dest), env=env)
    assert done.returncode == 0, done.stderr
    assert f"{held['mail_threads']} mail thread(s) with {held['mail_messages']} message(s)" in done.stdout
    assert f"schema version {known_schema()}" in done.stdout
    assert stat.S_IMODE((restored_data / "oor.sqlite3").stat().st_mode) == 0o600
    assert sorted(p.name for p in restored_data.iterdir()) == ["oor.sqlite3"]
    with sqlite3.connect(restored_data / "oor.sqlite3") as db:  # quick replies are in the backup
        assert db.execute("SELECT nl, en FROM quick_replies").fetchall() == [("Neem je tijd.", "Take your time.")]
    again = start_oor(tmp_path / "restored", restored_data, name="restored")
    try:
        async with cookie_session(again.url) as http:
            volunteer = await volunteer_logs_in(http, "Sanne", identity)  # a fresh session: none was kept
            inbox = await volunteer.inbox()
            assert len(inbox) == held["mail_threads"]
            _, texts = await volunteer.read(inbox[0]["thread"])
            assert texts and texts[0][0] == 1
        for old in seekers:
            async with aiohttp.ClientSession(base_url=again.url) as http:
                seeker = MailSeeker(http, old.token)
                assert (await seeker.open()).status == 200
                assert seeker.texts() == [(1, FIRST)]
    finally:
        again.stop()


def test_a_backup_holds_no_deleted_data_and_no_sessions(tmp_path: Path) -> None:
    """VACUUM INTO writes a new file: what was deleted in the live file, even if its bytes were
    still in the live file's free pages (secure_delete off here, to prove it), is not in the backup."""
    config = config_for(tmp_path / "var")
    asyncio.run(_make_database(config))
    secret = b"verwijderd-" + os.urandom(16).hex().encode()
    kept = b"bewaard-" + os.urandom(16).hex().encode()
    with sqlite3.connect(config.database_path, isolation_level=None) as db:
        db.execute("PRAGMA secure_delete=OFF")
        for value in (secret, kept):
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (value.decode(), value * 20))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("DELETE FROM meta WHERE key = ?", (secret.decode(),))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("INSERT INTO sessions(token_hash, volunteer_id, created_at, last_seen) VALUES (?, 1, 1, 1)",
                   (b"h" * 32,))
    assert secret in config.database_path.read_bytes()  # the premise: still in the live file's free pages
    dest = tmp_path / "b.sqlite3"
    line = backup(config, dest)
    assert line.startswith(f"backup written to {dest} (mode 0600)")
    raw = dest.read_bytes()
    assert secret not in raw and kept in raw
    assert tables(dest)["sessions"] == 0 and b"h" * 32 not in raw


async def _make_database(config: Any, volunteers: int = 1) -> None:
    from server.storage import NewVolunteer
    from server.storage.sqlite import SQLiteStorage
    storage = SQLiteStorage(config.database_path)
    await storage.open()
    try:
        for n in range(volunteers):
            await storage.create_invitation(bytes([n]) * 32, f"Naam{chr(97 + n)}", "volunteer", True, True, 2**40)
            await storage.enrol(bytes([n]) * 32, 0, NewVolunteer(
                f"Naam{chr(97 + n)}", "volunteer", True, True, "2025-01-01", b"s" * 16, 1, 8192, "h",
                b"x" * 32, b"e" * 32, b"w" * 64, None))
    finally:
        await storage.close()


def test_restore_refuses_a_database_that_is_there_and_changes_nothing(tmp_path: Path) -> None:
    config = config_for(tmp_path / "var")
    asyncio.run(_make_database(config))
    dest = tmp_path / "b.sqlite3"
    backup(config, dest)
    before = {p.name: p.read_bytes() for p in config.data_dir.iterdir()}
    with pytest.raises(BackupError, match="exists: restore only into an empty data folder"):
        restore(config, dest)
    assert {p.name: p.read_bytes() for p in config.data_dir.iterdir()} == before
    done = run_oor(config.data_dir, "restore", str(dest))
    assert done.returncode == 1 and "nothing was changed" in done.stderr


def test_restore_refuses_what_is_not_a_backup_of_this_code(tmp_path: Path) -> None:
    config = config_for(tmp_path / "var")
    asyncio.run(_make_database(config))
    dest = tmp_path / "b.sqlite3"
    backup(config, dest)
    empty = config_for(tmp_path / "empty")
    newer = tmp_path / "newer.sqlite3"
    newer.write_bytes(dest.read_bytes())
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version={known_schema() + 1}")
    with pytest.raises(BackupError, match="newer than this version"):
        restore(empty, newer)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(BackupError, match="not an SQLite backup"):
        restore(empty, text)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t(x)")
    with pytest.raises(BackupError, match="not a database of Luisterend Oor"):
        restore(empty, other)
    with pytest.raises(BackupError, match="does not exist"):
        restore(empty, tmp_path / "missing")
    assert not empty.data_dir.exists()  # every refusal left the target alone


def test_an_older_backup_is_migrated_forward(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old, isolation_level=None) as db:
        for number, script in migrations()[:-1]:
            db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    older = migrations()[-2][0]
    config = config_for(tmp_path / "var")
    line = restore(config, old)
    assert f"schema version {known_schema()}" in line and older < known_schema()
    with sqlite3.connect(config.database_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == known_schema()


async def test_retention_applies_to_what_is_restored(tmp_path: Path, aiohttp_client: Any) -> None:
    """Threads that went quiet longer ago than mail_retention_days are deleted by the restore itself;
    so is a backup refused whose codes this configuration would turn into other keys."""
    from server.app import create_app
    from tests.helpers import Clock, logged_in_volunteer
    config = config_for(tmp_path / "var")
    clock = Clock()
    client = await aiohttp_client(create_app(config, clock=clock))
    await logged_in_volunteer(client)
    assert (await client.post("/api/mail/availability", json={"mail": True})).status == 200
    async with aiohttp.ClientSession(base_url=str(client.make_url(""))) as http:
        seeker = MailSeeker(http)
        assert (await seeker.send_first(FIRST)).status == 201
    dest = tmp_path / "b.sqlite3"
    await asyncio.get_running_loop().run_in_executor(None, backup, config, dest)
    await client.close()

    # A configuration whose deployment_id differs: the codes of the stored threads would not open.
    other = config_for(tmp_path / "other", OOR_DEPLOYMENT_ID="een-andere-dienst")
    with pytest.raises(BackupError, match="does not fit the configuration"):
        await asyncio.get_running_loop().run_in_executor(None, restore, other, dest)
    assert sorted(p.name for p in other.data_dir.iterdir()) == []

    fresh = config_for(tmp_path / "fresh")
    later = clock.now + (config.mail_retention_days + 1) * 86400
    line = await asyncio.get_running_loop().run_in_executor(None, lambda: restore(fresh, dest, now=later))
    assert "0 mail thread(s)" in line and "1 mail thread(s) past mail_retention_days were deleted" in line
    assert tables(fresh.database_path)["mail_messages"] == 0


# -- PostgreSQL ---------------------------------------------------------------------------------------


async def writes_then_backup(live: Any, dest: Path, identity: crypto.Identity) -> tuple[list[str], str]:
    """A volunteer on duty, three threads, and a backup taken while help-seekers go on writing;
    answers the three threads' codes and what `oor backup` said."""
    codes = []
    async with cookie_session(live.url) as http:
        await volunteer_on_duty(live, http, "Sanne", identity)
        for _ in range(3):
            async with aiohttp.ClientSession(base_url=live.url) as seeker_http:
                seeker = MailSeeker(seeker_http)
                assert (await seeker.send_first(FIRST)).status == 201
                codes.append(seeker.token)
        stop = asyncio.Event()
        writing = asyncio.Event()

        async def writer() -> None:
            while not stop.is_set():
                async with aiohttp.ClientSession(base_url=live.url) as seeker_http:
                    assert (await MailSeeker(seeker_http).send_first("tijdens de back-up")).status == 201
                writing.set()
                await asyncio.sleep(0.05)

        task = asyncio.ensure_future(writer())
        await writing.wait()
        done = await asyncio.get_running_loop().run_in_executor(None, lambda: live.oor("backup", str(dest)))
        stop.set()
        await task
    assert done.returncode == 0, done.stderr
    assert "backup written to" in done.stdout and "1 volunteer account(s)" in done.stdout
    return codes, done.stdout


async def test_postgres_round_trip_while_the_server_takes_writes(tmp_path: Path, postgres_server: Any) -> None:
    from tests.services.database import PostgresDatabase
    source = PostgresDatabase(postgres_server, postgres_server.create_database())
    target = PostgresDatabase(postgres_server, postgres_server.create_database())
    dest = tmp_path / "oor.pgdump"
    identity = crypto.new_identity()

    def env_for(database: Any, port: int) -> dict[str, str]:
        return oor_env(f"http://127.0.0.1:{port}", {"OOR_DATABASE_URL": database.url,
                                                     "OOR_CHAT_CHALLENGES_PER_MINUTE": "10000"})
    try:
        port = free_port()
        live = start_oor(tmp_path, tmp_path / "var", http_port=port, env=env_for(source, port), name="live")
        try:
            source.rows("INSERT INTO quick_replies(nl, en) VALUES ('Neem je tijd.', 'Take your time.')")
            codes, said = await writes_then_backup(live, dest, identity)
        finally:
            live.stop()
        assert stat.S_IMODE(dest.stat().st_mode) == 0o600 and dest.read_bytes()[:5] == b"PGDMP"
        assert not dest.with_name(dest.name + ".tmp").exists()
        assert postgres_server.password.encode() not in dest.read_bytes()
        held = source.rows("SELECT count(*) FROM mail_threads")[0][0]

        # Into a database with tables: refused, and nothing changed.
        before = source.rows("SELECT count(*) FROM mail_threads")
        refused = run_oor(tmp_path / "var", "restore", str(dest), env=env_for(source, port))
        assert refused.returncode == 1 and "is not empty" in refused.stderr and "nothing was changed" in refused.stderr
        assert source.rows("SELECT count(*) FROM mail_threads") == before

        done = run_oor(tmp_path / "restored", "restore", str(dest), env=env_for(target, port))
        assert done.returncode == 0, done.stderr
        assert "restored into the PostgreSQL database: 1 volunteer account(s)" in done.stdout
        assert f"schema version {known_schema(postgres=True)}" in done.stdout
        assert target.rows("SELECT count(*) FROM sessions") == [(0,)]
        assert target.rows("SELECT nl, en FROM quick_replies") == [("Neem je tijd.", "Take your time.")]
        restored = target.rows("SELECT count(*) FROM mail_threads")[0][0]
        # The counts printed are those of the backup's snapshot; the service wrote more after it.
        assert 3 <= restored <= held and f"{restored} mail thread(s) with {restored} message(s)" in said
        assert f"{restored} mail thread(s) with {restored} message(s)" in done.stdout

        port = free_port()
        again = start_oor(tmp_path, tmp_path / "restored", http_port=port, env=env_for(target, port),
                          name="restored")
        try:
            async with cookie_session(again.url) as http:
                volunteer = await volunteer_logs_in(http, "Sanne", identity)
                assert len(await volunteer.inbox()) == restored
            for code in codes:
                async with aiohttp.ClientSession(base_url=again.url) as http:
                    seeker = MailSeeker(http, code)
                    assert (await seeker.open()).status == 200
                    assert seeker.texts() == [(1, FIRST)]
        finally:
            again.stop()
    finally:
        source.drop()
        target.drop()


def test_postgres_password_is_never_on_a_command_line(tmp_path: Path, postgres_server: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from server.storage import open_storage
    from tests.services.database import PostgresDatabase
    database = PostgresDatabase(postgres_server, postgres_server.create_database())
    target = PostgresDatabase(postgres_server, postgres_server.create_database())
    try:
        config = load_config(env=INSECURE_TEST_ENV, overrides={"data_dir": str(tmp_path / "var"),
                                                              "database_url": database.url})

        async def migrate() -> None:
            storage = open_storage(config)
            await storage.open()
            await storage.close()
        asyncio.run(migrate())
        seen: list[tuple[list[str], dict[str, str]]] = []
        real_run, real_popen = subprocess.run, subprocess.Popen

        def run(command: list[str], **kw: Any) -> Any:
            seen.append((list(command), kw["env"]))
            return real_run(command, **kw)

        def popen(command: list[str], **kw: Any) -> Any:
            seen.append((list(command), kw["env"]))
            return real_popen(command, **kw)
        monkeypatch.setattr(subprocess, "run", run)
        monkeypatch.setattr(subprocess, "Popen", popen)
        dest = tmp_path / "b.pgdump"
        backup(config, dest)
        restore(load_config(env=INSECURE_TEST_ENV, overrides={"data_dir": str(tmp_path / "other"),
                                                               "database_url": target.url}), dest)
        assert {Path(command[0]).name for command, _ in seen} == {"pg_dump", "pg_restore"}
        for command, env in seen:
            assert postgres_server.password not in " ".join(command)
            assert env["PGPASSWORD"] == postgres_server.password
    finally:
        database.drop()
        target.drop()


def test_postgres_restore_refuses_what_it_cannot_take_and_changes_nothing(tmp_path: Path,
                                                                          postgres_server: Any) -> None:
    from server.storage import MailMessage, MailThread, open_storage
    from tests.services.database import PostgresDatabase
    source = PostgresDatabase(postgres_server, postgres_server.create_database())
    target = PostgresDatabase(postgres_server, postgres_server.create_database())

    def config(database: Any, **env: str) -> Any:
        return load_config(env={**INSECURE_TEST_ENV, **env},
                           overrides={"data_dir": str(tmp_path / "var"), "database_url": database.url})

    async def one_thread() -> None:
        storage = open_storage(config(source))
        await storage.open()
        try:
            from server.mail.desk import guard_mail_derivation
            await guard_mail_derivation(storage, config(source))
            thread = MailThread(b"t" * 16, b"l" * 32, b"x" * 32, b"e" * 32, None, "open", 1, False, 1, True, False,
                                20_000)
            await storage.create_thread(thread, MailMessage(1, 1, b"b" * 300, b"s" * 64, b"e" * 32, b"w" * 80,
                                                            b"v" * 80))
        finally:
            await storage.close()
    try:
        asyncio.run(one_thread())
        dest = tmp_path / "b.pgdump"
        backup(config(source), dest)
        # Other settings for turning codes into keys: the thread's code would no longer open it.
        with pytest.raises(BackupError, match="does not fit the configuration.*nothing was changed"):
            restore(config(target, OOR_DEPLOYMENT_ID="een-andere-dienst"), dest)
        # A backup from a newer version of the code.
        source.rows("UPDATE meta SET value = ? WHERE key = 'schema-version'", str(known_schema(True) + 1).encode())
        newer = tmp_path / "newer.pgdump"
        backup(config(source), newer)
        with pytest.raises(BackupError, match="newer than this version"):
            restore(config(target), newer)
        # An SQLite file is not a PostgreSQL backup.
        sqlite_file = tmp_path / "x.sqlite3"
        with sqlite3.connect(sqlite_file) as db:
            db.execute("CREATE TABLE t(x)")
        with pytest.raises(BackupError, match="not a PostgreSQL backup"):
            restore(config(target), sqlite_file)
        assert target.rows("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
        # And the first backup still goes in with the right settings.
        assert "1 mail thread(s) with 1 message(s)" in restore(config(target), dest, now=20_000 * 86400)
    finally:
        source.drop()
        target.drop()
