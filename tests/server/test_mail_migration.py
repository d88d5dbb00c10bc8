"""Migration 0008 (the mail inbox and notes) keeps every thread and message, on both backends: messages
stored before it have no hour, a thread unread before it counts one unread message, and no thread has
a note."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.storage import sqlite as store
from server.storage.postgres import PostgresStorage
from tests.server.test_migrations import _postgres_seed, _postgres_upto, _seed, _upto
from tests.services.database import PostgresDatabase

MESSAGE = ("INSERT INTO mail_messages (thread_id, seq, author, body, signature, signer_public, seeker_wrap,"
           " volunteer_wrap) VALUES ({t}, 1, 1, {b}, {b}, {b}, {b}, {b})")


def test_sqlite_0008_keeps_threads_and_messages(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _upto(path, 7)
    _seed(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE mail_threads SET unread_volunteer = 1")
    conn.execute(MESSAGE.format(t="x'10'", b="x'aa'"))
    conn.close()
    conn = store.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 8
        assert conn.execute("SELECT seq, hour FROM mail_messages").fetchall() == [(1, None)]
        assert conn.execute("SELECT unread_volunteer, unread_count, volunteer_note FROM mail_threads").fetchall() == \
            [(1, 1, None)]
        assert conn.execute("SELECT open_threads FROM volunteers").fetchall() == [(1,)]
    finally:
        conn.close()


async def test_postgres_0008_keeps_threads_and_messages(postgres_database: PostgresDatabase) -> None:
    await _postgres_upto(postgres_database.url, 7)
    _postgres_seed(postgres_database)
    db = postgres_database
    db.rows("UPDATE mail_threads SET unread_volunteer = 1")
    db.rows(MESSAGE.format(t="'\\x10'", b="'\\xaa'"))
    storage = PostgresStorage(postgres_database.url)
    await storage.open()
    try:
        assert await storage.inbox_counts([7]) == {7: (1, 1)}
        assert await storage.thread_note(b"\x10") is None
    finally:
        await storage.close()
    assert db.rows("SELECT seq, hour FROM mail_messages") == [(1, None)]
    assert db.rows("SELECT unread_volunteer, unread_count, volunteer_note FROM mail_threads") == [(1, 1, None)]
