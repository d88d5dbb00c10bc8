"""SQLite implementation of `Storage`.

Every call runs on one dedicated thread that owns the connection, so the event
loop never blocks on disk and SQLite never sees two writers from this process.
The database runs in WAL mode with `secure_delete=ON`, so deleted rows are
overwritten with zeros rather than left in free pages.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from . import (Invitation, InvitationUnusable, NameTaken, NewVolunteer, Session,
               StorageError, Volunteer)

T = TypeVar("T")

_VOLUNTEER_COLUMNS = (
    "id, name, role, can_chat, can_mail, active, enrolled_day, kdf_salt, kdf_opslimit, "
    "kdf_memlimit, auth_hash, x25519_public, ed25519_public, wrapped_identity, "
    "failed_logins, locked_until"
)


def migrations() -> list[tuple[int, str]]:
    """The numbered SQL scripts in `migrations/`, in order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def connect(path: Path) -> sqlite3.Connection:
    """Open the database with the pragmas this project relies on, and migrate it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA synchronous=FULL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in migrations():
        if number <= version:
            continue
        # executescript commits on its own; wrap so a failed migration leaves nothing half-applied.
        conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    return conn


def _volunteer(row: tuple[Any, ...]) -> Volunteer:
    (vid, name, role, can_chat, can_mail, active, day, salt, ops, mem, auth_hash,
     xpub, edpub, wrapped, failed, locked) = row
    return Volunteer(id=vid, name=name, role=role, can_chat=bool(can_chat), can_mail=bool(can_mail),
                     active=bool(active), enrolled_day=day, kdf_salt=salt, kdf_opslimit=ops,
                     kdf_memlimit=mem, auth_hash=auth_hash, x25519_public=xpub,
                     ed25519_public=edpub, wrapped_identity=wrapped, failed_logins=failed,
                     locked_until=locked)


class SQLiteStorage:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oor-sqlite")

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            raise StorageError("storage is not open")
        conn = self._conn
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._executor, connect, self.path)

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)

    async def get_or_create_meta(self, key: str, make: bytes) -> bytes:
        def run(c: sqlite3.Connection) -> bytes:
            c.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (key, make))
            return c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]
        return await self._run(run)

    # -- invitations and enrolment -------------------------------------------------

    async def create_invitation(self, token_hash: bytes, name: str, role: str,
                                can_chat: bool, can_mail: bool, expires_at: int) -> None:
        def run(c: sqlite3.Connection) -> None:
            if c.execute("SELECT 1 FROM volunteers WHERE name = ?", (name,)).fetchone():
                raise NameTaken(name)
            c.execute("INSERT INTO invitations(token_hash, name, role, can_chat, can_mail, expires_at)"
                      " VALUES (?, ?, ?, ?, ?, ?)",
                      (token_hash, name, role, int(can_chat), int(can_mail), expires_at))
        await self._run(run)

    async def get_invitation(self, token_hash: bytes) -> Invitation | None:
        def run(c: sqlite3.Connection) -> Invitation | None:
            row = c.execute("SELECT name, role, can_chat, can_mail, expires_at, used FROM invitations"
                            " WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None:
                return None
            return Invitation(row[0], row[1], bool(row[2]), bool(row[3]), row[4], bool(row[5]))
        return await self._run(run)

    async def enrol(self, token_hash: bytes, now: int, volunteer: NewVolunteer) -> int:
        """Use the invitation and create the volunteer in one transaction."""
        def run(c: sqlite3.Connection) -> int:
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute("SELECT expires_at, used FROM invitations WHERE token_hash = ?",
                                (token_hash,)).fetchone()
                if row is None:
                    raise InvitationUnusable("unknown")
                if row[1]:
                    raise InvitationUnusable("used")
                if row[0] <= now:
                    raise InvitationUnusable("expired")
                if c.execute("SELECT 1 FROM volunteers WHERE name = ?", (volunteer.name,)).fetchone():
                    raise NameTaken(volunteer.name)
                c.execute("UPDATE invitations SET used = 1 WHERE token_hash = ?", (token_hash,))
                cur = c.execute(
                    "INSERT INTO volunteers(name, role, can_chat, can_mail, enrolled_day, kdf_salt,"
                    " kdf_opslimit, kdf_memlimit, auth_hash, x25519_public, ed25519_public,"
                    " wrapped_identity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (volunteer.name, volunteer.role, int(volunteer.can_chat), int(volunteer.can_mail),
                     volunteer.enrolled_day, volunteer.kdf_salt, volunteer.kdf_opslimit,
                     volunteer.kdf_memlimit, volunteer.auth_hash, volunteer.x25519_public,
                     volunteer.ed25519_public, volunteer.wrapped_identity))
                c.execute("COMMIT")
                return int(cur.lastrowid)
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return await self._run(run)

    # -- volunteers ------------------------------------------------------------------

    async def volunteer_by_name(self, name: str) -> Volunteer | None:
        def run(c: sqlite3.Connection) -> Volunteer | None:
            row = c.execute(f"SELECT {_VOLUNTEER_COLUMNS} FROM volunteers WHERE name = ?", (name,)).fetchone()
            return _volunteer(row) if row else None
        return await self._run(run)

    async def volunteer_by_id(self, volunteer_id: int) -> Volunteer | None:
        def run(c: sqlite3.Connection) -> Volunteer | None:
            row = c.execute(f"SELECT {_VOLUNTEER_COLUMNS} FROM volunteers WHERE id = ?",
                            (volunteer_id,)).fetchone()
            return _volunteer(row) if row else None
        return await self._run(run)

    async def list_volunteers(self) -> list[Volunteer]:
        def run(c: sqlite3.Connection) -> list[Volunteer]:
            rows = c.execute(f"SELECT {_VOLUNTEER_COLUMNS} FROM volunteers ORDER BY name").fetchall()
            return [_volunteer(r) for r in rows]
        return await self._run(run)

    async def set_active(self, name: str, active: bool) -> bool:
        def run(c: sqlite3.Connection) -> bool:
            c.execute("BEGIN IMMEDIATE")
            cur = c.execute("UPDATE volunteers SET active = ? WHERE name = ?", (int(active), name))
            if not active:
                c.execute("DELETE FROM sessions WHERE volunteer_id IN"
                          " (SELECT id FROM volunteers WHERE name = ?)", (name,))
            c.execute("COMMIT")
            return cur.rowcount == 1
        return await self._run(run)

    async def record_login_failure(self, volunteer_id: int, failed: int, locked_until: int) -> None:
        await self._run(lambda c: c.execute(
            "UPDATE volunteers SET failed_logins = ?, locked_until = ? WHERE id = ?",
            (failed, locked_until, volunteer_id)))

    async def reset_login_failures(self, volunteer_id: int) -> None:
        await self._run(lambda c: c.execute(
            "UPDATE volunteers SET failed_logins = 0, locked_until = 0 WHERE id = ?", (volunteer_id,)))

    # -- sessions --------------------------------------------------------------------

    async def create_session(self, token_hash: bytes, volunteer_id: int, now: int) -> None:
        await self._run(lambda c: c.execute(
            "INSERT INTO sessions(token_hash, volunteer_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
            (token_hash, volunteer_id, now, now)))

    async def get_session(self, token_hash: bytes) -> Session | None:
        def run(c: sqlite3.Connection) -> Session | None:
            row = c.execute("SELECT volunteer_id, created_at, last_seen FROM sessions WHERE token_hash = ?",
                            (token_hash,)).fetchone()
            return Session(*row) if row else None
        return await self._run(run)

    async def touch_session(self, token_hash: bytes, now: int) -> None:
        await self._run(lambda c: c.execute(
            "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, token_hash)))

    async def delete_session(self, token_hash: bytes) -> None:
        await self._run(lambda c: c.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)))

    async def delete_sessions_of(self, volunteer_id: int) -> None:
        await self._run(lambda c: c.execute("DELETE FROM sessions WHERE volunteer_id = ?", (volunteer_id,)))

    async def purge(self, now: int, idle_before: int, created_before: int) -> None:
        """Delete expired sessions and invitations (secure_delete zeroes them on disk)."""
        def run(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            c.execute("DELETE FROM sessions WHERE last_seen < ? OR created_at < ?", (idle_before, created_before))
            c.execute("DELETE FROM invitations WHERE expires_at <= ?", (now,))
            c.execute("COMMIT")
        await self._run(run)

    # -- statistics -------------------------------------------------------------------

    async def add_wrapup(self, day: str, topic: str, age_band: str, handed_over: bool) -> None:
        await self._run(lambda c: c.execute(
            "INSERT INTO chat_wrapups(day, topic, age_band, handed_over, count) VALUES (?, ?, ?, ?, 1)"
            " ON CONFLICT(day, topic, age_band, handed_over) DO UPDATE SET count = count + 1",
            (day, topic, age_band, int(handed_over))))

    async def wrapup_counts(self) -> list[tuple[str, str, str, bool, int]]:
        def run(c: sqlite3.Connection) -> list[tuple[str, str, str, bool, int]]:
            rows = c.execute("SELECT day, topic, age_band, handed_over, count FROM chat_wrapups"
                             " ORDER BY day, topic, age_band, handed_over").fetchall()
            return [(d, t, a, bool(h), n) for d, t, a, h, n in rows]
        return await self._run(run)
