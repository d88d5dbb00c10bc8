"""SQLite implementation of `Storage`.

Every call runs on one dedicated thread that owns the connection, so the event
loop never blocks on disk and SQLite never sees two writers from this process.
The database runs in WAL mode with `secure_delete=ON`, so deleted rows are
overwritten with zeros rather than left in free pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .interface import (Count, Invitation, InvitationUnusable, LastCoordinator, MailMessage, MailThread, NameTaken,
                        NewVolunteer, Session, StorageError, ThreadConflict, Volunteer, answer_futures, forget_frames,
                        migration_scripts, THREAD_COLUMNS, THREAD_FIELDS, VOLUNTEER_COLUMNS)
from .interface import QUICK_REPLIES_MAX, QuickReply, TooManyQuickReplies
from .interface import ACCOUNT_ID_BYTES, check_log_entries

T = TypeVar("T")


def migrations() -> list[tuple[int, str]]:
    """The numbered SQL scripts in `migrations/`, in order."""
    return migration_scripts("migrations")


def connect(path: Path) -> sqlite3.Connection:
    """Open the database with the pragmas this project relies on, and migrate it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # Switching a new file to WAL needs it to itself for a moment: another process opening it at the same
    # time gets "database is locked" at once (the busy handler does not wait for this), so try again.
    for attempt in range(100):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA synchronous=FULL")
    # Two processes opening a new database at once (the CLI while a server starts) must not both
    # migrate it: the version is read and the scripts run under a lock on a file beside it. The file
    # goes once the schema is current (a process still waiting on it then finds nothing to do).
    lock_path = path.with_name(path.name + ".migrating")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            _migrate(conn)
        finally:
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()
    _fill_account_ids(conn)
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in migrations():
        if number <= version:
            continue
        # A script that rebuilds a table says so on its first line: foreign keys must be off while
        # the old table is dropped (or its dependants would cascade), and are checked before commit.
        rebuild = script.startswith("-- foreign_keys: off")
        if rebuild:
            conn.execute("PRAGMA foreign_keys=OFF")
        # executescript commits on its own; wrap so a failed migration leaves nothing half-applied.
        check = ("CREATE TEMP TABLE fk_violations (n INTEGER CHECK (n = 0));\n"
                 "INSERT INTO fk_violations SELECT count(*) FROM pragma_foreign_key_check;\n"
                 "DROP TABLE fk_violations;") if rebuild else ""
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{script}\n{check}\nPRAGMA user_version={number};\nCOMMIT;")
        finally:
            if rebuild:
                conn.execute("PRAGMA foreign_keys=ON")


def _fill_account_ids(conn: sqlite3.Connection) -> None:
    """Give every account enrolled before migration 0010 its random account id (once)."""
    with _writing(conn):
        for (vid,) in conn.execute("SELECT id FROM volunteers WHERE account_id IS NULL").fetchall():
            conn.execute("UPDATE volunteers SET account_id = ? WHERE id = ?",
                         (secrets.token_bytes(ACCOUNT_ID_BYTES), vid))


def _volunteer(row: tuple[Any, ...]) -> Volunteer:
    (vid, name, role, can_chat, can_mail, active, day, salt, ops, mem, auth_hash,
     xpub, edpub, wrapped, failed, locked, cert, mail_available, account_id, key_ready) = row
    return Volunteer(id=vid, name=name, role=role, can_chat=bool(can_chat), can_mail=bool(can_mail),
                     active=bool(active), enrolled_day=day, kdf_salt=salt, kdf_opslimit=ops,
                     kdf_memlimit=mem, auth_hash=auth_hash, x25519_public=xpub,
                     ed25519_public=edpub, wrapped_identity=wrapped, failed_logins=failed,
                     locked_until=locked, x25519_certificate=cert, mail_available=bool(mail_available),
                     account_id=account_id or b"", key_ready=bool(key_ready))


def _thread(row: tuple[Any, ...]) -> MailThread:
    (tid, lookup, xpub, edpub, vid, state, hour, opened, waiting, unread_v, unread_s, day) = row
    return MailThread(tid, lookup, xpub, edpub, vid, state, hour, bool(opened), waiting, bool(unread_v),
                      bool(unread_s), day)


def _message(row: tuple[Any, ...]) -> MailMessage:
    return MailMessage(*row)


@contextlib.contextmanager
def _writing(c: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: BEGIN IMMEDIATE, COMMIT, or ROLLBACK on any exception."""
    c.execute("BEGIN IMMEDIATE")
    try:
        yield
        c.execute("COMMIT")
    except BaseException:
        if c.in_transaction:
            c.execute("ROLLBACK")
        raise


def _fewest_threads(c: sqlite3.Connection, exclude: int | None) -> Volunteer | None:
    """The mail volunteer with the fewest threads that are not handled: of those available for mail
    first, else of every active account that can take mail (mail is never refused because nobody
    switched "available" on; the pickup rule moves a thread on that is not opened in time).

    `open_threads` is kept by triggers (migration 0005), so this costs the same at any load. Only an
    account whose key statement is in a usable checkpoint (`key_ready`, migration 0010) is chosen:
    a help-seeker's page would refuse any other key."""
    row = c.execute(
        f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers"
        " WHERE active = 1 AND can_mail = 1 AND key_ready = 1"
        " AND x25519_certificate IS NOT NULL AND id IS NOT ?"
        " ORDER BY mail_available DESC, open_threads, id LIMIT 1", (exclude,)).fetchone()
    return _volunteer(row) if row else None


def _add_count(c: sqlite3.Connection, count: Count) -> None:
    c.execute("INSERT INTO stats_counts(day, channel, metric, bucket, count) VALUES (?, ?, ?, ?, 1)"
              " ON CONFLICT(day, channel, metric, bucket) DO UPDATE SET count = count + 1",
              (count.day, count.channel, count.metric, count.bucket))


def _insert_thread(c: sqlite3.Connection, thread: MailThread, first: MailMessage, count: Count | None) -> None:
    """Inside a transaction: the thread, its first message, and the statistics count."""
    # unread_count (migration 0008): the first message is the one unread message of a new thread.
    c.execute(f"INSERT INTO mail_threads({THREAD_COLUMNS}, unread_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              (thread.id, thread.lookup_hash, thread.seeker_x25519_public, thread.seeker_ed25519_public,
               thread.volunteer_id, thread.state, thread.assigned_hour, int(thread.opened),
               thread.waiting_since_hour, int(thread.unread_volunteer), int(thread.unread_seeker),
               thread.last_activity_day, int(thread.unread_volunteer)))
    c.execute(f"INSERT INTO mail_messages({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              (thread.id, *_fields(first), thread.assigned_hour))
    if count is not None:
        _add_count(c, count)


def _create_one(c: sqlite3.Connection, make: Callable[[Volunteer], tuple[MailThread, MailMessage]],
                count: Count | None) -> tuple[MailThread, Volunteer] | None:
    volunteer = _fewest_threads(c, None)
    if volunteer is None:
        return None
    thread, first = make(volunteer)
    if thread.volunteer_id != volunteer.id:
        raise ThreadConflict("the thread was made for another volunteer")
    _insert_thread(c, thread, first, count)
    return thread, volunteer


class SQLiteStorage:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oor-sqlite")
        # create_thread_for_fewest calls waiting for the storage thread (group commit).
        self._batch: list[tuple[Callable[[Volunteer], tuple[MailThread, MailMessage]], Count | None,
                                asyncio.Future[tuple[MailThread, Volunteer] | None]]] | None = None
        self._batch_lock = threading.Lock()

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

    async def set_meta(self, key: str, value: bytes) -> None:
        def run(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (key, value))
        await self._run(run)

    async def mail_thread_count(self) -> int:
        def run(c: sqlite3.Connection) -> int:
            return int(c.execute("SELECT count(*) FROM mail_threads").fetchone()[0])
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
                    " wrapped_identity, x25519_certificate, account_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (volunteer.name, volunteer.role, int(volunteer.can_chat), int(volunteer.can_mail),
                     volunteer.enrolled_day, volunteer.kdf_salt, volunteer.kdf_opslimit,
                     volunteer.kdf_memlimit, volunteer.auth_hash, volunteer.x25519_public,
                     volunteer.ed25519_public, volunteer.wrapped_identity, volunteer.x25519_certificate,
                     secrets.token_bytes(ACCOUNT_ID_BYTES)))
                c.execute("COMMIT")
                return int(cur.lastrowid)
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return await self._run(run)

    # -- volunteers ------------------------------------------------------------------

    async def volunteer_by_name(self, name: str) -> Volunteer | None:
        def run(c: sqlite3.Connection) -> Volunteer | None:
            row = c.execute(f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE name = ?", (name,)).fetchone()
            return _volunteer(row) if row else None
        return await self._run(run)

    async def volunteer_by_id(self, volunteer_id: int) -> Volunteer | None:
        def run(c: sqlite3.Connection) -> Volunteer | None:
            row = c.execute(f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE id = ?",
                            (volunteer_id,)).fetchone()
            return _volunteer(row) if row else None
        return await self._run(run)

    async def list_volunteers(self) -> list[Volunteer]:
        def run(c: sqlite3.Connection) -> list[Volunteer]:
            rows = c.execute(f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers ORDER BY name").fetchall()
            return [_volunteer(r) for r in rows]
        return await self._run(run)

    async def set_active(self, name: str, active: bool, *, keep_a_coordinator: bool = False) -> bool:
        """(De)activate an account; deactivation ends its sessions in the same transaction.

        With `keep_a_coordinator` (the coordinator dashboard), deactivating the last active
        coordinator is refused (LastCoordinator), checked inside the transaction so that two
        coordinators cannot deactivate each other at the same moment. The CLI may do anything."""
        def run(c: sqlite3.Connection) -> bool:
            with _writing(c):
                if not active and keep_a_coordinator:
                    _keep_a_coordinator(c, name)
                cur = c.execute("UPDATE volunteers SET active = ? WHERE name = ?", (int(active), name))
                if not active:
                    c.execute("DELETE FROM sessions WHERE volunteer_id IN"
                              " (SELECT id FROM volunteers WHERE name = ?)", (name,))
            return cur.rowcount == 1
        return await self._run(run)

    async def set_role(self, name: str, role: str) -> bool:
        """Change an account's role (one role per account); refuses to leave no active coordinator."""
        def run(c: sqlite3.Connection) -> bool:
            with _writing(c):
                if role != "coordinator":
                    _keep_a_coordinator(c, name)
                cur = c.execute("UPDATE volunteers SET role = ? WHERE name = ?", (role, name))
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
        """Delete expired sessions and invitations (secure_delete zeroes them on disk), then empty the
        write-ahead log: its frames keep successive versions of the pages written since the last
        checkpoint, in order, so without this the WAL would tell in which order recent statistics
        counts went up (and which wait, length and wrap-up belonged together)."""
        def run(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            c.execute("DELETE FROM sessions WHERE last_seen < ? OR created_at < ?", (idle_before, created_before))
            c.execute("DELETE FROM invitations WHERE expires_at <= ?", (now,))
            c.execute("COMMIT")
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await self._run(run)

    # -- statistics -------------------------------------------------------------------

    async def add_wrapup(self, day: str, topic: str, age_band: str, handed_over: bool) -> None:
        await self._run(lambda c: c.execute(
            "INSERT INTO chat_wrapups(day, topic, age_band, handed_over, count) VALUES (?, ?, ?, ?, 1)"
            " ON CONFLICT(day, topic, age_band, handed_over) DO UPDATE SET count = count + 1",
            (day, topic, age_band, int(handed_over))))

    async def wrapup_counts(self, first_day: str | None = None,
                            last_day: str | None = None) -> list[tuple[str, str, str, bool, int]]:
        """Wrap-up counts, of every day or of the days first_day..last_day (inclusive, YYYY-MM-DD)."""
        def run(c: sqlite3.Connection) -> list[tuple[str, str, str, bool, int]]:
            rows = c.execute("SELECT day, topic, age_band, handed_over, count FROM chat_wrapups"
                             " WHERE day BETWEEN ? AND ? ORDER BY day, topic, age_band, handed_over",
                             (first_day or "0000-00-00", last_day or "9999-99-99")).fetchall()
            return [(d, t, a, bool(h), n) for d, t, a, h, n in rows]
        return await self._run(run)

    async def add_count(self, day: str, channel: str, metric: str, bucket: str) -> None:
        """Add 1 to one statistics count: one UPSERT, never a row per event."""
        await self._run(lambda c: _add_count(c, Count(day, channel, metric, bucket)))

    async def counts_between(self, first_day: str, last_day: str) -> list[tuple[str, str, str, str, int]]:
        def run(c: sqlite3.Connection) -> list[tuple[str, str, str, str, int]]:
            return c.execute("SELECT day, channel, metric, bucket, count FROM stats_counts"
                             " WHERE day BETWEEN ? AND ? ORDER BY day, channel, metric, bucket",
                             (first_day, last_day)).fetchall()
        return await self._run(run)

    # -- live figures (coordinator) ----------------------------------------------------------

    async def mail_volunteers_available(self) -> int:
        """Accounts that take new mail now: the same condition as the choice of a mail volunteer."""
        def run(c: sqlite3.Connection) -> int:
            return c.execute("SELECT count(*) FROM volunteers WHERE active = 1 AND can_mail = 1 AND key_ready = 1"
                             " AND mail_available = 1 AND x25519_certificate IS NOT NULL").fetchone()[0]
        return await self._run(run)

    async def open_thread_waits(self) -> list[tuple[str, int | None, int]]:
        """Threads not handled, counted per (state, hour the help-seeker started waiting or NULL)."""
        def run(c: sqlite3.Connection) -> list[tuple[str, int | None, int]]:
            return c.execute("SELECT state, waiting_since_hour, count(*) FROM mail_threads"
                             " WHERE state != 'handled' GROUP BY state, waiting_since_hour").fetchall()
        return await self._run(run)

    # -- mail -----------------------------------------------------------------------------

    async def set_mail_available(self, volunteer_id: int, available: bool) -> None:
        await self._run(lambda c: c.execute("UPDATE volunteers SET mail_available = ? WHERE id = ?",
                                            (int(available), volunteer_id)))

    async def mail_volunteer_with_fewest_threads(self, exclude: int | None = None) -> Volunteer | None:
        """The available mail volunteer with the fewest threads that are not handled."""
        return await self._run(lambda c: _fewest_threads(c, exclude))

    async def create_thread(self, thread: MailThread, first: MailMessage, count: Count | None = None) -> None:
        """Store a new thread with its first message (and add `count`) in one transaction."""
        def run(c: sqlite3.Connection) -> None:
            with _writing(c):
                _insert_thread(c, thread, first, count)
        try:
            await self._run(run)
        except sqlite3.IntegrityError:
            raise ThreadConflict("a thread with this token exists already") from None

    async def create_thread_for_fewest(
        self, make: Callable[[Volunteer], tuple[MailThread, MailMessage]], count: Count | None = None,
    ) -> tuple[MailThread, Volunteer] | None:
        """Choose the available mail volunteer with the fewest open threads and store the thread
        that `make` builds for them (None, and nothing stored, if nobody is available).

        For the mail gateway, which encrypts to whoever is chosen: choice and insert in one
        transaction, so the chosen volunteer cannot change in between. `make` runs on the storage
        thread while the write lock is held, so it must be quick (sealing a message is; a key
        derivation is not).

        Group commit: the calls waiting when the storage thread gets to them go in one transaction,
        each inside its own savepoint (one that fails is rolled back alone), and are answered
        together after the one COMMIT. Every caller still learns of its thread only once it is
        durable. Each hand-over between the event loop and the storage thread costs far more CPU
        than the statements themselves when the loop is busy (bench/README.md), and a burst of
        mail then needs one hand-over and one fsync instead of one per mail."""
        if self._conn is None:
            raise StorageError("storage is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[MailThread, Volunteer] | None] = loop.create_future()
        with self._batch_lock:
            start = self._batch is None
            if start:
                self._batch = []
            self._batch.append((make, count, future))
        del make  # the batch holds it until the commit; the exception a caller keeps must not, via this frame
        if start:
            try:
                loop.run_in_executor(self._executor, self._create_batch, loop, self._conn)
            except BaseException as exc:  # e.g. the executor is shut down: fail this batch, not the next
                with self._batch_lock:
                    batch, self._batch = self._batch or [], None
                answer_futures([f for _, _, f in batch], [(False, StorageError(str(exc)))] * len(batch))
        return await future

    def _create_batch(self, loop: asyncio.AbstractEventLoop, c: sqlite3.Connection) -> None:
        """On the storage thread: every create_thread_for_fewest waiting now, in one transaction."""
        with self._batch_lock:
            batch, self._batch = self._batch or [], None
        # A caller that has gone away already (its SMTP client hung up, so no 250 will be sent) is
        # not stored: the sending server will retry, and a copy nobody was told of would only
        # reach the volunteer twice. (Reading done() from this thread is a plain attribute read.)
        batch = [item for item in batch if not item[2].done()]
        outcomes: list[tuple[bool, Any]] = []
        try:
            with _writing(c):
                for make, count, _ in batch:
                    c.execute("SAVEPOINT one_thread")
                    try:
                        outcomes.append((True, _create_one(c, make, count)))
                        c.execute("RELEASE one_thread")
                    except Exception as exc:  # this one is rolled back and answered with its error
                        c.execute("ROLLBACK TO one_thread")
                        c.execute("RELEASE one_thread")
                        if isinstance(exc, sqlite3.IntegrityError):
                            exc = ThreadConflict("a thread with this token exists already")
                        outcomes.append((False, exc))
        except BaseException as exc:  # the transaction failed as a whole: nothing of the batch is stored
            failure = exc if isinstance(exc, Exception) else StorageError("the storage thread was interrupted")
            outcomes = [(False, failure)] * len(batch)
            if not isinstance(exc, Exception):
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(answer_futures, [future for _, _, future in batch], outcomes)
                raise
        futures = [future for _, _, future in batch]
        # The callers' `make` closures hold plaintext and keys: drop them (the list, and the loop's
        # last `make`, which this frame would hold until it returns, after the answer), and the
        # frames an exception's traceback would keep alive, before answering.
        batch.clear()
        make = None  # noqa: F841
        for ok, value in outcomes:
            if not ok and isinstance(value, BaseException):
                forget_frames(value)
        with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(answer_futures, futures, outcomes)

    async def thread_by_lookup(self, lookup_hash: bytes) -> MailThread | None:
        def run(c: sqlite3.Connection) -> MailThread | None:
            row = c.execute(f"SELECT {THREAD_COLUMNS} FROM mail_threads WHERE lookup_hash = ?",
                            (lookup_hash,)).fetchone()
            return _thread(row) if row else None
        return await self._run(run)

    async def thread_by_id(self, thread_id: bytes) -> MailThread | None:
        def run(c: sqlite3.Connection) -> MailThread | None:
            row = c.execute(f"SELECT {THREAD_COLUMNS} FROM mail_threads WHERE id = ?", (thread_id,)).fetchone()
            return _thread(row) if row else None
        return await self._run(run)

    async def messages(self, thread_id: bytes) -> list[MailMessage]:
        def run(c: sqlite3.Connection) -> list[MailMessage]:
            rows = c.execute("SELECT seq, author, body, signature, signer_public, seeker_wrap, volunteer_wrap, hour"
                             " FROM mail_messages WHERE thread_id = ? ORDER BY seq", (thread_id,)).fetchall()
            return [_message(r) for r in rows]
        return await self._run(run)

    async def add_message(self, thread_id: bytes, message: MailMessage, hour: int, day: int,
                          limit: int, first_reply: Callable[[int], Count] | None = None) -> int | None:
        """Append the next message; the sequence number must follow the last one.

        Answers, for the thread's first volunteer message, how many whole hours the help-seeker
        had been waiting for it (for the statistics); None otherwise. Given `first_reply`, the
        count it makes of those hours is added in the same transaction."""
        def run(c: sqlite3.Connection) -> int | None:
            first_reply_hours = None
            c.execute("BEGIN IMMEDIATE")
            try:
                last, count = c.execute("SELECT coalesce(max(seq), 0), count(*) FROM mail_messages"
                                        " WHERE thread_id = ?", (thread_id,)).fetchone()
                if message.seq != last + 1 or count >= limit:
                    raise ThreadConflict("sequence number or message limit")
                if message.author != 1 and not c.execute(
                        "SELECT 1 FROM mail_messages WHERE thread_id = ? AND author != 1 LIMIT 1",
                        (thread_id,)).fetchone():
                    # No volunteer has written yet, so the wait began with the thread's first message.
                    since = c.execute("SELECT waiting_since_hour FROM mail_threads WHERE id = ?",
                                      (thread_id,)).fetchone()
                    if since is not None and since[0] is not None:
                        first_reply_hours = max(0, hour - since[0])
                        if first_reply is not None:
                            _add_count(c, first_reply(first_reply_hours))
                c.execute(f"INSERT INTO mail_messages({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          (thread_id, *_fields(message), hour))
                if message.author == 1:
                    c.execute("UPDATE mail_threads SET state = CASE state WHEN 'handled' THEN 'open' ELSE state END,"
                              " waiting_since_hour = coalesce(waiting_since_hour, ?), unread_volunteer = 1,"
                              " unread_count = unread_count + 1, last_activity_day = ? WHERE id = ?",
                              (hour, day, thread_id))
                else:
                    c.execute("UPDATE mail_threads SET waiting_since_hour = NULL, unread_seeker = 1,"
                              " last_activity_day = ? WHERE id = ?", (day, thread_id))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            return first_reply_hours
        return await self._run(run)

    async def assign_thread(self, thread_id: bytes, volunteer_id: int, wraps: dict[int, bytes], hour: int,
                            expected_volunteer: int | None, note: bytes | None = None) -> None:
        """Give the thread to another volunteer with every message key re-wrapped for them, atomically.
        The thread's note becomes `note` (sealed anew for them by the page), or none: the previous
        volunteer's note is never left with a thread it can no longer be read in.

        The previous volunteer's wraps are overwritten, so they can no longer read the thread's
        keys from the database; `expected_volunteer` guards against a concurrent change."""
        def run(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            try:
                current = c.execute("SELECT volunteer_id FROM mail_threads WHERE id = ?", (thread_id,)).fetchone()
                seqs = {r[0] for r in c.execute("SELECT seq FROM mail_messages WHERE thread_id = ?", (thread_id,))}
                if current is None or current[0] != expected_volunteer or set(wraps) != seqs:
                    raise ThreadConflict("the thread changed, or not every message key was re-wrapped")
                c.executemany("UPDATE mail_messages SET volunteer_wrap = ? WHERE thread_id = ? AND seq = ?",
                              [(wrap, thread_id, seq) for seq, wrap in wraps.items()])
                c.execute("UPDATE mail_threads SET volunteer_id = ?, state = 'open', opened = 0, assigned_hour = ?,"
                          " unread_volunteer = 1, unread_count = max(unread_count, 1), volunteer_note = ?"
                          " WHERE id = ?", (volunteer_id, hour, note, thread_id))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        await self._run(run)

    async def update_thread(self, thread_id: bytes, **fields: object) -> None:
        unknown = set(fields) - THREAD_FIELDS
        if unknown or not fields:
            raise StorageError(f"cannot update {unknown or 'nothing'}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await self._run(lambda c: c.execute(f"UPDATE mail_threads SET {assignments} WHERE id = ?",
                                            (*fields.values(), thread_id)))

    async def inbox(self, volunteer_id: int) -> list[MailThread]:
        def run(c: sqlite3.Connection) -> list[MailThread]:
            rows = c.execute(f"SELECT {THREAD_COLUMNS} FROM mail_threads WHERE volunteer_id = ?"
                             " AND state = 'open' ORDER BY waiting_since_hour IS NULL, waiting_since_hour, id",
                             (volunteer_id,)).fetchall()
            return [_thread(r) for r in rows]
        return await self._run(run)

    async def delete_thread(self, thread_id: bytes) -> None:
        def run(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            c.execute("DELETE FROM mail_messages WHERE thread_id = ?", (thread_id,))
            c.execute("DELETE FROM mail_threads WHERE id = ?", (thread_id,))
            c.execute("COMMIT")
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # do not leave the rows in the write-ahead log
        await self._run(run)

    async def expire_threads(self, before_day: int) -> int:
        def run(c: sqlite3.Connection) -> int:
            c.execute("BEGIN IMMEDIATE")
            c.execute("DELETE FROM mail_messages WHERE thread_id IN"
                      " (SELECT id FROM mail_threads WHERE last_activity_day < ?)", (before_day,))
            n = c.execute("DELETE FROM mail_threads WHERE last_activity_day < ?", (before_day,)).rowcount
            c.execute("COMMIT")
            if n:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return n
        return await self._run(run)

    async def mark_needing_volunteer(self, hour: int, pickup_hours: int) -> int:
        """Threads whose volunteer left, or did not open them in time, need a new volunteer."""
        def run(c: sqlite3.Connection) -> int:
            return c.execute(
                "UPDATE mail_threads SET state = 'needs-volunteer' WHERE state = 'open' AND ("
                " volunteer_id IN (SELECT id FROM volunteers WHERE active = 0 OR can_mail = 0)"
                " OR (opened = 0 AND assigned_hour <= ?))", (hour - pickup_hours,)).rowcount
        return await self._run(run)

    # -- quick replies (coordinator; organisation text) ----------------------------------------

    async def add_quick_reply(self, nl: str, en: str) -> int:
        """Store a new quick reply; TooManyQuickReplies if there are QUICK_REPLIES_MAX already."""
        def run(c: sqlite3.Connection) -> int:
            with _writing(c):
                if c.execute("SELECT count(*) FROM quick_replies").fetchone()[0] >= QUICK_REPLIES_MAX:
                    raise TooManyQuickReplies(str(QUICK_REPLIES_MAX))
                cur = c.execute("INSERT INTO quick_replies(nl, en) VALUES (?, ?)", (nl, en))
            return int(cur.lastrowid or 0)
        return await self._run(run)

    async def list_quick_replies(self) -> list[QuickReply]:
        def run(c: sqlite3.Connection) -> list[QuickReply]:
            return [QuickReply(*row) for row in c.execute("SELECT id, nl, en FROM quick_replies ORDER BY id")]
        return await self._run(run)

    async def update_quick_reply(self, reply_id: int, nl: str, en: str) -> bool:
        """Change a quick reply's texts; False if there is none with this id."""
        return await self._run(lambda c: c.execute("UPDATE quick_replies SET nl = ?, en = ? WHERE id = ?",
                                                   (nl, en, reply_id)).rowcount == 1)

    async def delete_quick_reply(self, reply_id: int) -> bool:
        """Delete a quick reply; False if there is none with this id."""
        return await self._run(lambda c: c.execute("DELETE FROM quick_replies WHERE id = ?",
                                                   (reply_id,)).rowcount == 1)

    async def pending_invitations(self, now: int) -> list[Invitation]:
        """Invitations neither used nor expired, soonest expiry first (never the token's hash)."""
        def run(c: sqlite3.Connection) -> list[Invitation]:
            rows = c.execute("SELECT name, role, can_chat, can_mail, expires_at, used FROM invitations"
                             " WHERE used = 0 AND expires_at > ? ORDER BY expires_at, name", (now,)).fetchall()
            return [Invitation(r[0], r[1], bool(r[2]), bool(r[3]), r[4], bool(r[5])) for r in rows]
        return await self._run(run)

    # -- the mail inbox and notes (migration 0008) ---------------------------------------------

    async def mail_can_be_taken(self) -> bool:
        """Whether any account could be given a new mail now (active, can mail, with a certificate and
        a key statement in a usable checkpoint)."""
        return await self._run(lambda c: c.execute(
            "SELECT 1 FROM volunteers WHERE active = 1 AND can_mail = 1 AND key_ready = 1"
            " AND x25519_certificate IS NOT NULL LIMIT 1").fetchone() is not None)

    async def inbox_counts(self, volunteer_ids: list[int]) -> dict[int, tuple[int, int]]:
        """For each of these volunteers with open threads: (unread help-seeker messages, open threads).
        One query for every volunteer with a socket on this node (server/mail/inbox.py)."""
        if not volunteer_ids:
            return {}
        def run(c: sqlite3.Connection) -> dict[int, tuple[int, int]]:
            marks = ", ".join("?" * len(volunteer_ids))
            rows = c.execute(f"SELECT volunteer_id, sum(unread_count), count(*) FROM mail_threads"
                             f" WHERE volunteer_id IN ({marks}) AND state = 'open' GROUP BY volunteer_id",
                             volunteer_ids).fetchall()
            return {vid: (int(unread), int(n)) for vid, unread, n in rows}
        return await self._run(run)

    async def inbox_details(self, volunteer_id: int) -> dict[bytes, tuple[int, int | None]]:
        """Per open thread of the volunteer: its unread count and the hour of its last message."""
        def run(c: sqlite3.Connection) -> dict[bytes, tuple[int, int | None]]:
            rows = c.execute("SELECT t.id, t.unread_count, (SELECT max(m.hour) FROM mail_messages m"
                             " WHERE m.thread_id = t.id) FROM mail_threads t"
                             " WHERE t.volunteer_id = ? AND t.state = 'open'", (volunteer_id,)).fetchall()
            return {tid: (int(unread), hour) for tid, unread, hour in rows}
        return await self._run(run)

    async def thread_note(self, thread_id: bytes) -> bytes | None:
        def run(c: sqlite3.Connection) -> bytes | None:
            row = c.execute("SELECT volunteer_note FROM mail_threads WHERE id = ?", (thread_id,)).fetchone()
            return row[0] if row else None
        return await self._run(run)

    async def set_thread_note(self, thread_id: bytes, volunteer_id: int, note: bytes | None) -> bool:
        """Replace the thread's note (None deletes it) if the thread is still this volunteer's."""
        def run(c: sqlite3.Connection) -> bool:
            changed = c.execute("UPDATE mail_threads SET volunteer_note = ? WHERE id = ? AND volunteer_id = ?",
                                (note, thread_id, volunteer_id)).rowcount == 1
            if changed and note is None:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # do not leave the old note in the write-ahead log
            return changed
        return await self._run(run)

    # -- the transparency log (migration 0010) ---------------------------------------------------

    async def log_append(self, entries: list[bytes]) -> int:
        """Append `entries` after the last one, atomically; the new size. BEGIN IMMEDIATE takes the
        database's write lock, so appenders in other processes wait and the indexes stay contiguous."""
        check_log_entries(entries)
        def run(c: sqlite3.Connection) -> int:
            with _writing(c):
                size = int(c.execute("SELECT count(*) FROM log_entries").fetchone()[0])
                c.executemany("INSERT INTO log_entries(idx, data) VALUES (?, ?)",
                              [(size + i, bytes(e)) for i, e in enumerate(entries)])
            return size + len(entries)
        return await self._run(run)

    async def log_entries(self, start: int, end: int) -> list[bytes]:
        """The entries start..end-1 (fewer if the log is shorter)."""
        def run(c: sqlite3.Connection) -> list[bytes]:
            rows = c.execute("SELECT data FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                             (max(0, start), end)).fetchall()
            return [bytes(r[0]) for r in rows]
        return await self._run(run)

    async def log_size(self) -> int:
        return await self._run(lambda c: int(c.execute("SELECT count(*) FROM log_entries").fetchone()[0]))

    async def save_checkpoint(self, size: int, note: str, now: int) -> None:
        """Store the note for this tree size (replacing the one stored, e.g. with fresher cosignatures)."""
        await self._run(lambda c: c.execute(
            "INSERT INTO log_checkpoints(size, note, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(size) DO UPDATE SET note = excluded.note, updated_at = excluded.updated_at",
            (size, note, now)))

    async def latest_checkpoint(self) -> tuple[int, str] | None:
        def run(c: sqlite3.Connection) -> tuple[int, str] | None:
            row = c.execute("SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1").fetchone()
            return (int(row[0]), row[1]) if row else None
        return await self._run(run)

    async def set_keys_ready(self, account_ids: Collection[bytes]) -> None:
        """key_ready = (account_id in account_ids), for every account, in one transaction."""
        ready = {bytes(a) for a in account_ids}
        def run(c: sqlite3.Connection) -> None:
            with _writing(c):
                rows = c.execute("SELECT id, account_id, key_ready FROM volunteers").fetchall()
                changes = [(int(want), vid) for vid, aid, now in rows
                           if (want := aid is not None and bytes(aid) in ready) != bool(now)]
                c.executemany("UPDATE volunteers SET key_ready = ? WHERE id = ?", changes)
        await self._run(run)

    async def volunteer_by_account_id(self, account_id: bytes) -> Volunteer | None:
        def run(c: sqlite3.Connection) -> Volunteer | None:
            row = c.execute(f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE account_id = ?",
                            (bytes(account_id),)).fetchone()
            return _volunteer(row) if row else None
        return await self._run(run)


def _keep_a_coordinator(c: sqlite3.Connection, name: str) -> None:
    """Raise LastCoordinator if `name` is the only active coordinator (inside the caller's transaction)."""
    others = c.execute("SELECT count(*) FROM volunteers WHERE role = 'coordinator' AND active = 1 AND name != ?",
                       (name,)).fetchone()[0]
    target = c.execute("SELECT role = 'coordinator' AND active = 1 FROM volunteers WHERE name = ?",
                       (name,)).fetchone()
    if target is not None and target[0] and others == 0:
        raise LastCoordinator(name)


def _fields(m: MailMessage) -> tuple[Any, ...]:
    return (m.seq, m.author, m.body, m.signature, m.signer_public, m.seeker_wrap, m.volunteer_wrap)


_MESSAGE_COLUMNS = "thread_id, seq, author, body, signature, signer_public, seeker_wrap, volunteer_wrap, hour"
