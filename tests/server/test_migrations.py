"""Migrations keep every row: a database written by an earlier version opens, upgrades and stays whole.

SQLite first, then PostgreSQL (whose migrations are the same steps, numbered alike); running them
twice, and in two processes at once, is in test_storage_postgres.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from server.storage import postgres
from server.storage import sqlite as store
from server.storage.postgres import PostgresStorage
from tests.services.database import PostgresDatabase


def _upto(path: Path, last: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    for number, script in store.migrations():
        if number <= last:
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    conn.close()


def _seed(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("INSERT INTO volunteers (id, name, role, can_chat, can_mail, enrolled_day, kdf_salt, kdf_opslimit,"
                 " kdf_memlimit, auth_hash, x25519_public, ed25519_public, wrapped_identity, mail_available)"
                 " VALUES (7, 'Anouk', 'partner', 1, 1, '2026-11-01', x'00', 3, 65536, 'h', x'01', x'02', x'03', 1)")
    conn.execute("INSERT INTO sessions VALUES (x'aa', 7, 1, 2)")
    conn.execute("INSERT INTO invitations VALUES (x'bb', 'Bram', 'coordinator', 0, 0, 99, 0)")
    conn.execute("INSERT INTO mail_threads (id, lookup_hash, seeker_x25519_public, seeker_ed25519_public,"
                 " volunteer_id, state, assigned_hour, last_activity_day) VALUES (x'10', x'11', x'12', x'13', 7,"
                 " 'open', 5, 6)")
    conn.close()


def test_roles_migration_keeps_rows_and_references(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _upto(path, 5)
    _seed(path)
    conn = store.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == max(n for n, _ in store.migrations())
        assert conn.execute("SELECT name, role, mail_available, open_threads FROM volunteers").fetchall() == \
            [("Anouk", "partner", 1, 1)]
        assert conn.execute("SELECT volunteer_id FROM sessions").fetchall() == [(7,)]
        assert conn.execute("SELECT name, role FROM invitations").fetchall() == [("Bram", "coordinator")]
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM pragma_foreign_key_check").fetchone()[0] == 0
        # The new role is accepted, an unknown one is still refused, and the triggers still count threads.
        conn.execute("UPDATE volunteers SET role = 'mentor' WHERE id = 7")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE volunteers SET role = 'admin' WHERE id = 7")
        conn.execute("UPDATE mail_threads SET state = 'handled'")
        assert conn.execute("SELECT open_threads FROM volunteers").fetchone()[0] == 0
        # Deleting a volunteer still cascades to their sessions (the foreign key points at the new table).
        conn.execute("DELETE FROM mail_threads")
        conn.execute("DELETE FROM volunteers WHERE id = 7")
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    finally:
        conn.close()


def test_rebuild_with_dangling_reference_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite3"
    _upto(path, 5)
    _seed(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("INSERT INTO sessions VALUES (x'cc', 99, 1, 2)")  # a session of nobody
    conn.close()
    with pytest.raises(sqlite3.IntegrityError):
        store.connect(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    assert "'mentor'" not in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'volunteers'").fetchone()[0]
    conn.close()


# -- PostgreSQL (server/storage/migrations_postgres/) ---------------------------------------------------


def test_both_backends_have_the_same_migrations_by_number() -> None:
    """A schema version means the same on both: every SQLite migration has its PostgreSQL twin."""
    assert [n for n, _ in store.migrations()] == [n for n, _ in postgres.migrations()]


async def _postgres_upto(url: str, last: int) -> None:
    c = await asyncpg.connect(url)
    try:
        async with c.transaction():
            for number, script in postgres.migrations():
                if number <= last:
                    await c.execute(script)
            await c.execute("INSERT INTO meta(key, value) VALUES ($1, $2)", postgres.SCHEMA_VERSION_KEY,
                            str(last).encode())
    finally:
        await c.close()


def _postgres_seed(database: PostgresDatabase) -> None:
    database.rows("INSERT INTO volunteers (id, name, role, can_chat, can_mail, enrolled_day, kdf_salt, kdf_opslimit,"
                  " kdf_memlimit, auth_hash, x25519_public, ed25519_public, wrapped_identity, mail_available)"
                  " VALUES (7, 'Anouk', 'partner', 1, 1, '2026-11-01', '\\x00', 3, 65536, 'h', '\\x01', '\\x02',"
                  " '\\x03', 1)")
    database.rows("INSERT INTO sessions VALUES ('\\xaa', 7, 1, 2)")
    database.rows("INSERT INTO invitations VALUES ('\\xbb', 'Bram', 'coordinator', 0, 0, 99, 0)")
    database.rows("INSERT INTO mail_threads (id, lookup_hash, seeker_x25519_public, seeker_ed25519_public,"
                  " volunteer_id, state, assigned_hour, last_activity_day) VALUES ('\\x10', '\\x11', '\\x12', '\\x13',"
                  " 7, 'open', 5, 6)")


async def test_postgres_roles_migration_keeps_rows_and_references(postgres_database: PostgresDatabase) -> None:
    await _postgres_upto(postgres_database.url, 5)
    _postgres_seed(postgres_database)
    storage = PostgresStorage(postgres_database.url)
    await storage.open()
    await storage.close()
    db = postgres_database
    assert db.rows("SELECT value FROM meta WHERE key = ?", postgres.SCHEMA_VERSION_KEY) == \
        [(str(max(n for n, _ in postgres.migrations())).encode(),)]
    assert db.rows("SELECT name, role, mail_available, open_threads FROM volunteers") == [("Anouk", "partner", 1, 1)]
    assert db.rows("SELECT volunteer_id FROM sessions") == [(7,)]
    assert db.rows("SELECT name, role FROM invitations") == [("Bram", "coordinator")]
    # The new role is accepted, an unknown one is still refused, and the triggers still count threads.
    db.rows("UPDATE volunteers SET role = 'mentor' WHERE id = 7")
    with pytest.raises(asyncpg.CheckViolationError):
        db.rows("UPDATE volunteers SET role = 'admin' WHERE id = 7")
    db.rows("UPDATE mail_threads SET state = 'handled'")
    assert db.rows("SELECT open_threads FROM volunteers") == [(0,)]
    db.rows("DELETE FROM mail_threads")
    db.rows("DELETE FROM volunteers WHERE id = 7")
    assert db.rows("SELECT count(*) FROM sessions") == [(0,)]


async def test_a_failing_postgres_migration_changes_nothing(postgres_database: PostgresDatabase,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """All missing migrations run in one transaction: one that fails takes the others with it."""
    await _postgres_upto(postgres_database.url, 5)
    broken = [*postgres.migrations(), (99, "CREATE TABLE half_done (n bigint); SELECT 1 / 0;")]
    monkeypatch.setattr(postgres, "migrations", lambda: broken)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await PostgresStorage(postgres_database.url).open()
    assert postgres_database.rows("SELECT value FROM meta WHERE key = ?", postgres.SCHEMA_VERSION_KEY) == [(b"5",)]
    assert postgres_database.rows("SELECT to_regclass('half_done'), to_regclass('stats_counts')") == [(None, None)]
