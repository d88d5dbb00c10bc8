"""PostgreSQL implementation of `Storage`, for several nodes sharing one database.

The semantics, records and exceptions are those of `SQLiteStorage`. SQLite gets them for free:
one process writes at a time. Here other processes write at the same moment, so every
read-then-write takes a lock first:

- a change to one mail thread (a message, a handover) locks the thread's row (`FOR UPDATE`),
  so the sequence number and the keys it checks cannot change before it writes;
- choosing the mail volunteer with the fewest open threads and storing the thread for them take
  a transaction-level advisory lock (`_MAIL_ASSIGNMENT_LOCK`). Locking the chosen volunteer's
  row would not do: two transactions could each choose the same "fewest" before either counts
  its thread, and `SKIP LOCKED` would hand the second one somebody who is not the fewest. With
  the lock, each choice sees every thread committed before it, in any process;
- a change that must leave one active coordinator takes `_COORDINATORS_LOCK`, so that two
  coordinators deactivating each other at the same moment cannot both succeed;
- migrations take `_MIGRATIONS_LOCK`, so two processes starting at once migrate once;
- appending to the transparency log takes `_LOG_APPEND_LOCK`, so the entries of two processes
  appending at once stay contiguous (0..n-1, each index once).

Transactions run at READ COMMITTED: after a lock is granted, each statement sees what was
committed before it. The open-thread counters are kept by triggers that update volunteers'
rows, so two transactions can deadlock on them; PostgreSQL then aborts one, which is run again
(`_transaction`). Records hold bytes as bytes and flags as bools, exactly as SQLite's.

Deleting is not erasing here. There is no `secure_delete`: a deleted row stays in the table's file
until VACUUM frees its space, and its bytes stay in that free space until a new row happens to be
written over them, and in the write-ahead log (pg_wal) until a recycled segment is written over.
Every deletion is therefore followed by a VACUUM of the tables it touched (outside any transaction):
then no deleted row can be read back, through SQL or the page-level functions, and its index
entries are gone (tests/server/test_storage_postgres.py shows what is left on disk). VACUUM cannot
remove a row version that a snapshot still open in the database may see, so it first waits, at most
`VACUUM_WAIT_SECONDS`, until every transaction of the server's role that began before it has ended
(`_wait_for_older_transactions`; a long one, a backup say, is not waited for beyond that, and its
rows go at the next VACUUM). VACUUM needs
the role the server logs in as to own the tables, as it does when its migrations made them;
otherwise PostgreSQL skips them with a mere warning.

The URL may leave the password out: asyncpg then reads it from PGPASSWORD or ~/.pgpass.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

import asyncpg

from .interface import (Count, Invitation, InvitationUnusable, LastCoordinator, MailMessage, MailThread, NameTaken,
                        NewVolunteer, Session, StorageError, ThreadConflict, Volunteer, answer_futures, forget_frames,
                        migration_scripts, THREAD_COLUMNS, THREAD_FIELDS, VOLUNTEER_COLUMNS)
from .interface import QUICK_REPLIES_MAX, QuickReply, TooManyQuickReplies
from .interface import ACCOUNT_ID_BYTES, check_log_entries

T = TypeVar("T")
Make = Callable[[Volunteer], tuple[MailThread, MailMessage]]
Waiting = tuple[Make, Count | None, asyncio.Future[tuple[MailThread, Volunteer] | None]]

# Keys of the advisory locks (a lock is private to its database). Taken with pg_advisory_xact_lock,
# so they are given back at COMMIT or ROLLBACK and a connection can never keep one by mistake.
_MIGRATIONS_LOCK = 0x6F6F_7201
_MAIL_ASSIGNMENT_LOCK = 0x6F6F_7202
_COORDINATORS_LOCK = 0x6F6F_7203
_LOG_APPEND_LOCK = 0x6F6F_7204
# The schema version, in `meta` (SQLite keeps it in PRAGMA user_version), as ASCII digits.
SCHEMA_VERSION_KEY = "schema-version"
# A transaction PostgreSQL aborted to break a deadlock is run again, this many times in all.
_ATTEMPTS = 5
# How long a VACUUM after a deletion waits for transactions that began before it (see the docstring).
VACUUM_WAIT_SECONDS = 2.0
_VACUUM_POLL_SECONDS = 0.01
# Other sessions of this database holding a snapshot or a transaction id that began at or before $1.
# pg_stat_activity shows the columns of the role's own sessions only (others' read as NULL), which are
# the ones that matter here: the server's other connections and processes.
_OLDER_TRANSACTIONS = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND pid <> pg_backend_pid() AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)"
                       " AND xact_start <= $1")
POOL_MIN, POOL_MAX = 1, 10

_MESSAGE_COLUMNS = "thread_id, seq, author, body, signature, signer_public, seeker_wrap, volunteer_wrap, hour"


def migrations() -> list[tuple[int, str]]:
    """The numbered SQL scripts in `migrations_postgres/`, in order (the same numbers as SQLite's)."""
    return migration_scripts("migrations_postgres")


async def schema_version(c: asyncpg.Connection) -> int:
    """The last migration applied to this database (0 for an empty one)."""
    if not await c.fetchval("SELECT to_regclass('meta') IS NOT NULL"):
        return 0
    value = await c.fetchval("SELECT value FROM meta WHERE key = $1", SCHEMA_VERSION_KEY)
    return int(value) if value is not None else 0


async def migrate(c: asyncpg.Connection) -> None:
    """Apply the missing migrations in one transaction: all of them or, on any error, none.

    The advisory lock makes a second process that starts at the same moment wait, then find the
    schema up to date."""
    async with c.transaction():
        await c.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATIONS_LOCK)
        version = start = await schema_version(c)
        for number, script in migrations():
            if number > version:
                await c.execute(script)
                version = number
        # The accounts enrolled before migration 0010 get their random account id (once).
        if version >= 10:
            for vid in [r[0] for r in await c.fetch("SELECT id FROM volunteers WHERE account_id IS NULL")]:
                await c.execute("UPDATE volunteers SET account_id = $1 WHERE id = $2",
                                secrets.token_bytes(ACCOUNT_ID_BYTES), vid)
        if version != start:
            await c.execute("INSERT INTO meta(key, value) VALUES ($1, $2)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            SCHEMA_VERSION_KEY, str(version).encode())


def _volunteer(row: asyncpg.Record) -> Volunteer:
    (vid, name, role, can_chat, can_mail, active, day, salt, ops, mem, auth_hash,
     xpub, edpub, wrapped, failed, locked, cert, mail_available, account_id, key_ready) = row
    return Volunteer(id=vid, name=name, role=role, can_chat=bool(can_chat), can_mail=bool(can_mail),
                     active=bool(active), enrolled_day=day, kdf_salt=salt, kdf_opslimit=ops,
                     kdf_memlimit=mem, auth_hash=auth_hash, x25519_public=xpub,
                     ed25519_public=edpub, wrapped_identity=wrapped, failed_logins=failed,
                     locked_until=locked, x25519_certificate=cert, mail_available=bool(mail_available),
                     account_id=bytes(account_id) if account_id is not None else b"", key_ready=bool(key_ready))


def _thread(row: asyncpg.Record) -> MailThread:
    (tid, lookup, xpub, edpub, vid, state, hour, opened, waiting, unread_v, unread_s, day) = row
    return MailThread(tid, lookup, xpub, edpub, vid, state, hour, bool(opened), waiting, bool(unread_v),
                      bool(unread_s), day)


def _fields(m: MailMessage) -> tuple[Any, ...]:
    return (m.seq, m.author, m.body, m.signature, m.signer_public, m.seeker_wrap, m.volunteer_wrap)


def _rowcount(status: str) -> int:
    """The number of rows of a command tag such as 'UPDATE 3' or 'DELETE 0'."""
    return int(status.rsplit(" ", 1)[1])


async def _fewest_threads(c: asyncpg.Connection, exclude: int | None) -> Volunteer | None:
    """The mail volunteer with the fewest threads that are not handled: of those available for mail
    first, else of every active account that can take mail (mail is never refused because nobody
    switched "available" on; the pickup rule moves a thread on that is not opened in time).

    `open_threads` is kept by triggers (migration 0005), so this costs the same at any load. Only an
    account whose key statement is in a usable checkpoint (`key_ready`, migration 0010) is chosen."""
    row = await c.fetchrow(
        f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers"
        " WHERE active = 1 AND can_mail = 1 AND key_ready = 1"
        " AND x25519_certificate IS NOT NULL AND id IS DISTINCT FROM $1"
        " ORDER BY mail_available DESC, open_threads, id LIMIT 1", exclude)
    return _volunteer(row) if row else None


async def _add_count(c: asyncpg.Connection, count: Count) -> None:
    await c.execute("INSERT INTO stats_counts(day, channel, metric, bucket, count) VALUES ($1, $2, $3, $4, 1)"
                    " ON CONFLICT (day, channel, metric, bucket) DO UPDATE SET count = stats_counts.count + 1",
                    count.day, count.channel, count.metric, count.bucket)


async def _insert_thread(c: asyncpg.Connection, thread: MailThread, first: MailMessage, count: Count | None) -> None:
    """Inside a transaction: the thread, its first message, and the statistics count."""
    # unread_count (migration 0008): the first message is the one unread message of a new thread.
    await c.execute(
        f"INSERT INTO mail_threads({THREAD_COLUMNS}, unread_count)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        thread.id, thread.lookup_hash, thread.seeker_x25519_public, thread.seeker_ed25519_public,
        thread.volunteer_id, thread.state, thread.assigned_hour, int(thread.opened), thread.waiting_since_hour,
        int(thread.unread_volunteer), int(thread.unread_seeker), thread.last_activity_day, int(thread.unread_volunteer))
    await c.execute(f"INSERT INTO mail_messages({_MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    thread.id, *_fields(first), thread.assigned_hour)
    if count is not None:
        await _add_count(c, count)


async def _create_one(c: asyncpg.Connection, make: Make, count: Count | None) -> tuple[MailThread, Volunteer] | None:
    volunteer = await _fewest_threads(c, None)
    if volunteer is None:
        return None
    thread, first = make(volunteer)
    if thread.volunteer_id != volunteer.id:
        raise ThreadConflict("the thread was made for another volunteer")
    await _insert_thread(c, thread, first, count)
    return thread, volunteer


async def _keep_a_coordinator(c: asyncpg.Connection, name: str) -> None:
    """Raise LastCoordinator if `name` is the only active coordinator (inside the caller's transaction,
    which holds `_COORDINATORS_LOCK`, so the count cannot change before the caller writes)."""
    others = await c.fetchval("SELECT count(*) FROM volunteers WHERE role = 'coordinator' AND active = 1"
                              " AND name != $1", name)
    target = await c.fetchval("SELECT role = 'coordinator' AND active = 1 FROM volunteers WHERE name = $1", name)
    if target and others == 0:
        raise LastCoordinator(name)


async def _create_in_savepoint(c: asyncpg.Connection, make: Make, count: Count | None) -> tuple[bool, Any]:
    """One call of a group commit in its own savepoint: (True, answer) or (False, its exception).
    A deadlock on the open-thread counters rolls back this savepoint only, and it is tried again."""
    attempt = 1
    while True:
        try:
            async with c.transaction():
                return True, await _create_one(c, make, count)
        except asyncpg.TransactionRollbackError as exc:
            if attempt >= _ATTEMPTS:
                return False, exc
        except asyncpg.IntegrityConstraintViolationError:
            return False, ThreadConflict("a thread with this token exists already")
        except Exception as exc:  # this one is rolled back and answered with its error
            return False, exc
        attempt += 1


def _answer_batch(batch: list[Waiting], outcomes: list[tuple[bool, Any]]) -> None:
    """Answer every caller of one group commit.

    The callers' `make` closures hold plaintext and keys: they are dropped, with every frame an
    exception would keep alive, before anybody is answered."""
    futures = [future for _, _, future in batch]
    batch.clear()
    for ok, value in outcomes:
        if not ok and isinstance(value, BaseException):
            forget_frames(value)
    answer_futures(futures, outcomes)


class PostgresStorage:
    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        # create_thread_for_fewest calls waiting for the next group commit, and the task that runs it.
        self._waiting: list[Waiting] = []
        self._committer: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return "PostgresStorage(<database_url>)"  # never the URL: it may hold a password

    def _opened(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StorageError("storage is not open")
        return self._pool

    async def open(self) -> None:
        pool = await asyncpg.create_pool(self.url, min_size=POOL_MIN, max_size=POOL_MAX,
                                         server_settings={"application_name": "oor"})
        try:
            async with pool.acquire() as c:
                await migrate(c)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is None:
            return
        if self._committer is not None:  # the calls waiting for a group commit are stored and answered first
            await asyncio.gather(self._committer, return_exceptions=True)
        pool, self._pool = self._pool, None
        await pool.close()

    async def _transaction(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `work` in one transaction, and again if PostgreSQL aborted it to break a deadlock
        (or a serialization failure): `work` then starts over from a clean slate."""
        attempt = 1
        while True:
            try:
                async with self._opened().acquire() as c, c.transaction():
                    return await work(c)
            except asyncpg.TransactionRollbackError:
                if attempt >= _ATTEMPTS:
                    raise
            attempt += 1
            await asyncio.sleep(0.005 * attempt)

    async def _execute(self, sql: str, *args: Any) -> str:
        """One statement, its own transaction (retried like any other write)."""
        async def run(c: asyncpg.Connection) -> str:
            return str(await c.execute(sql, *args))
        return await self._transaction(run)

    async def _vacuum(self, *tables: str) -> None:
        """Free the space of the deleted rows and remove their index entries. INDEX_CLEANUP ON: when
        few rows died, VACUUM would otherwise skip the indexes and leave their entries, and the rows'
        line pointers, in place. VACUUM cannot run inside a transaction."""
        async with self._opened().acquire() as c:
            await self._wait_for_older_transactions(c)
            await c.execute(f"VACUUM (INDEX_CLEANUP ON) {', '.join(tables)}")

    @staticmethod
    async def _wait_for_older_transactions(c: asyncpg.Connection) -> None:
        """Wait (at most VACUUM_WAIT_SECONDS) until no other session of the database is in a transaction
        that began before now: one of them (another process's read, say) could still see the rows
        just deleted, and VACUUM would then leave them in the table's file."""
        since = await c.fetchval("SELECT clock_timestamp()")
        deadline = asyncio.get_running_loop().time() + VACUUM_WAIT_SECONDS
        while await c.fetchval(_OLDER_TRANSACTIONS, since):
            if asyncio.get_running_loop().time() >= deadline:
                return
            await asyncio.sleep(_VACUUM_POLL_SECONDS)

    async def get_or_create_meta(self, key: str, make: bytes) -> bytes:
        """Two statements, each its own transaction: when two processes start at once, the second
        INSERT waits for the first to commit and does nothing, and the SELECT then sees its row.
        Both processes answer the same value."""
        async with self._opened().acquire() as c:
            await c.execute("INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, make)
            return bytes(await c.fetchval("SELECT value FROM meta WHERE key = $1", key))

    async def set_meta(self, key: str, value: bytes) -> None:
        await self._execute("INSERT INTO meta(key, value) VALUES ($1, $2)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)

    async def mail_thread_count(self) -> int:
        return int(await self._opened().fetchval("SELECT count(*) FROM mail_threads"))

    # -- invitations and enrolment -------------------------------------------------

    async def create_invitation(self, token_hash: bytes, name: str, role: str,
                                can_chat: bool, can_mail: bool, expires_at: int) -> None:
        async def run(c: asyncpg.Connection) -> None:
            if await c.fetchval("SELECT 1 FROM volunteers WHERE name = $1", name):
                raise NameTaken(name)
            await c.execute("INSERT INTO invitations(token_hash, name, role, can_chat, can_mail, expires_at)"
                            " VALUES ($1, $2, $3, $4, $5, $6)",
                            token_hash, name, role, int(can_chat), int(can_mail), expires_at)
        await self._transaction(run)

    async def get_invitation(self, token_hash: bytes) -> Invitation | None:
        row = await self._opened().fetchrow("SELECT name, role, can_chat, can_mail, expires_at, used"
                                            " FROM invitations WHERE token_hash = $1", token_hash)
        if row is None:
            return None
        return Invitation(row[0], row[1], bool(row[2]), bool(row[3]), row[4], bool(row[5]))

    async def enrol(self, token_hash: bytes, now: int, volunteer: NewVolunteer) -> int:
        """Use the invitation and create the volunteer in one transaction.

        The invitation's row is locked first, so the same link used twice at once enrols once (the
        second sees it used). Two links for the same name at once: the unique name refuses the
        second, which is NameTaken as when the name was taken before."""
        async def run(c: asyncpg.Connection) -> int:
            row = await c.fetchrow("SELECT expires_at, used FROM invitations WHERE token_hash = $1 FOR UPDATE",
                                   token_hash)
            if row is None:
                raise InvitationUnusable("unknown")
            if row[1]:
                raise InvitationUnusable("used")
            if row[0] <= now:
                raise InvitationUnusable("expired")
            if await c.fetchval("SELECT 1 FROM volunteers WHERE name = $1", volunteer.name):
                raise NameTaken(volunteer.name)
            await c.execute("UPDATE invitations SET used = 1 WHERE token_hash = $1", token_hash)
            return int(await c.fetchval(
                "INSERT INTO volunteers(name, role, can_chat, can_mail, enrolled_day, kdf_salt,"
                " kdf_opslimit, kdf_memlimit, auth_hash, x25519_public, ed25519_public,"
                " wrapped_identity, x25519_certificate, account_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
                volunteer.name, volunteer.role, int(volunteer.can_chat), int(volunteer.can_mail),
                volunteer.enrolled_day, volunteer.kdf_salt, volunteer.kdf_opslimit, volunteer.kdf_memlimit,
                volunteer.auth_hash, volunteer.x25519_public, volunteer.ed25519_public,
                volunteer.wrapped_identity, volunteer.x25519_certificate, secrets.token_bytes(ACCOUNT_ID_BYTES)))
        try:
            return await self._transaction(run)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "volunteers_name_key":
                raise NameTaken(volunteer.name) from None
            raise

    # -- volunteers ------------------------------------------------------------------

    async def volunteer_by_name(self, name: str) -> Volunteer | None:
        row = await self._opened().fetchrow(f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE name = $1", name)
        return _volunteer(row) if row else None

    async def volunteer_by_id(self, volunteer_id: int) -> Volunteer | None:
        row = await self._opened().fetchrow(f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE id = $1",
                                            volunteer_id)
        return _volunteer(row) if row else None

    async def list_volunteers(self) -> list[Volunteer]:
        rows = await self._opened().fetch(f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers ORDER BY name")
        return [_volunteer(r) for r in rows]

    async def set_active(self, name: str, active: bool, *, keep_a_coordinator: bool = False) -> bool:
        """(De)activate an account; deactivation ends its sessions in the same transaction.

        With `keep_a_coordinator` (the coordinator dashboard), deactivating the last active
        coordinator is refused (LastCoordinator), under `_COORDINATORS_LOCK`, so that two
        coordinators cannot deactivate each other at the same moment. The CLI may do anything."""
        async def run(c: asyncpg.Connection) -> bool:
            if not active and keep_a_coordinator:
                await c.execute("SELECT pg_advisory_xact_lock($1)", _COORDINATORS_LOCK)
                await _keep_a_coordinator(c, name)
            changed = _rowcount(await c.execute("UPDATE volunteers SET active = $1 WHERE name = $2",
                                                int(active), name))
            if not active:
                await c.execute("DELETE FROM sessions WHERE volunteer_id IN"
                                " (SELECT id FROM volunteers WHERE name = $1)", name)
            return changed == 1
        return await self._transaction(run)

    async def set_role(self, name: str, role: str) -> bool:
        """Change an account's role (one role per account); refuses to leave no active coordinator."""
        async def run(c: asyncpg.Connection) -> bool:
            if role != "coordinator":
                await c.execute("SELECT pg_advisory_xact_lock($1)", _COORDINATORS_LOCK)
                await _keep_a_coordinator(c, name)
            return _rowcount(await c.execute("UPDATE volunteers SET role = $1 WHERE name = $2", role, name)) == 1
        return await self._transaction(run)

    async def record_login_failure(self, volunteer_id: int, failed: int, locked_until: int) -> None:
        await self._execute("UPDATE volunteers SET failed_logins = $1, locked_until = $2 WHERE id = $3",
                            failed, locked_until, volunteer_id)

    async def reset_login_failures(self, volunteer_id: int) -> None:
        await self._execute("UPDATE volunteers SET failed_logins = 0, locked_until = 0 WHERE id = $1", volunteer_id)

    # -- sessions --------------------------------------------------------------------

    async def create_session(self, token_hash: bytes, volunteer_id: int, now: int) -> None:
        await self._execute("INSERT INTO sessions(token_hash, volunteer_id, created_at, last_seen)"
                            " VALUES ($1, $2, $3, $3)", token_hash, volunteer_id, now)

    async def get_session(self, token_hash: bytes) -> Session | None:
        row = await self._opened().fetchrow("SELECT volunteer_id, created_at, last_seen FROM sessions"
                                            " WHERE token_hash = $1", token_hash)
        return Session(*row) if row else None

    async def touch_session(self, token_hash: bytes, now: int) -> None:
        await self._execute("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2", now, token_hash)

    async def delete_session(self, token_hash: bytes) -> None:
        await self._execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)

    async def delete_sessions_of(self, volunteer_id: int) -> None:
        await self._execute("DELETE FROM sessions WHERE volunteer_id = $1", volunteer_id)

    async def purge(self, now: int, idle_before: int, created_before: int) -> None:
        """Delete expired sessions and invitations and VACUUM them away, then rewrite the two
        statistics tables so that they no longer tell in which order their counts went up.

        Every UPSERT writes a new version of a count's row, wherever there is room, stamped with its
        transaction's id (xmin): both would tell which counts went up one after the other (which wait,
        length and wrap-up belonged together). SQLite's purge empties its write-ahead log for the same
        reason. Here every row is written again in one transaction (one xmin for all), then CLUSTER
        puts them in primary-key order into a new file and drops the old one with its dead versions.
        Both tables are small (a row per day and bucket), so this takes milliseconds."""
        async def run(c: asyncpg.Connection) -> None:
            await c.execute("DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2", idle_before,
                            created_before)
            await c.execute("DELETE FROM invitations WHERE expires_at <= $1", now)
        await self._transaction(run)
        await self._vacuum("sessions", "invitations")

        async def rewrite(c: asyncpg.Connection) -> None:
            await c.execute("LOCK TABLE stats_counts, chat_wrapups IN EXCLUSIVE MODE")  # readers go on
            await c.execute("WITH old AS (DELETE FROM stats_counts RETURNING *)"
                            " INSERT INTO stats_counts SELECT * FROM old ORDER BY day, channel, metric, bucket")
            await c.execute("WITH old AS (DELETE FROM chat_wrapups RETURNING *)"
                            " INSERT INTO chat_wrapups SELECT * FROM old ORDER BY day, topic, age_band, handed_over")
        await self._transaction(rewrite)
        async with self._opened().acquire() as c:
            await c.execute("CLUSTER stats_counts USING stats_counts_pkey")
            await c.execute("CLUSTER chat_wrapups USING chat_wrapups_pkey")

    # -- statistics -------------------------------------------------------------------

    async def add_wrapup(self, day: str, topic: str, age_band: str, handed_over: bool) -> None:
        await self._execute(
            "INSERT INTO chat_wrapups(day, topic, age_band, handed_over, count) VALUES ($1, $2, $3, $4, 1)"
            " ON CONFLICT (day, topic, age_band, handed_over) DO UPDATE SET count = chat_wrapups.count + 1",
            day, topic, age_band, int(handed_over))

    async def wrapup_counts(self, first_day: str | None = None,
                            last_day: str | None = None) -> list[tuple[str, str, str, bool, int]]:
        """Wrap-up counts, of every day or of the days first_day..last_day (inclusive, YYYY-MM-DD)."""
        rows = await self._opened().fetch(
            "SELECT day, topic, age_band, handed_over, count FROM chat_wrapups"
            " WHERE day BETWEEN $1 AND $2 ORDER BY day, topic, age_band, handed_over",
            first_day or "0000-00-00", last_day or "9999-99-99")
        return [(d, t, a, bool(h), n) for d, t, a, h, n in rows]

    async def add_count(self, day: str, channel: str, metric: str, bucket: str) -> None:
        """Add 1 to one statistics count: one UPSERT, never a row per event."""
        await self._transaction(lambda c: _add_count(c, Count(day, channel, metric, bucket)))

    async def counts_between(self, first_day: str, last_day: str) -> list[tuple[str, str, str, str, int]]:
        rows = await self._opened().fetch("SELECT day, channel, metric, bucket, count FROM stats_counts"
                                          " WHERE day BETWEEN $1 AND $2 ORDER BY day, channel, metric, bucket",
                                          first_day, last_day)
        return [tuple(r) for r in rows]

    # -- live figures (coordinator) ----------------------------------------------------------

    async def mail_volunteers_available(self) -> int:
        """Accounts that take new mail now: the same condition as the choice of a mail volunteer."""
        return int(await self._opened().fetchval(
            "SELECT count(*) FROM volunteers WHERE active = 1 AND can_mail = 1 AND key_ready = 1"
            " AND mail_available = 1 AND x25519_certificate IS NOT NULL"))

    async def open_thread_waits(self) -> list[tuple[str, int | None, int]]:
        """Threads not handled, counted per (state, hour the help-seeker started waiting or NULL)."""
        rows = await self._opened().fetch("SELECT state, waiting_since_hour, count(*) FROM mail_threads"
                                          " WHERE state != 'handled' GROUP BY state, waiting_since_hour")
        return [tuple(r) for r in rows]

    # -- mail -----------------------------------------------------------------------------

    async def set_mail_available(self, volunteer_id: int, available: bool) -> None:
        await self._execute("UPDATE volunteers SET mail_available = $1 WHERE id = $2", int(available), volunteer_id)

    async def mail_volunteer_with_fewest_threads(self, exclude: int | None = None) -> Volunteer | None:
        """The available mail volunteer with the fewest threads that are not handled."""
        async with self._opened().acquire() as c:
            return await _fewest_threads(c, exclude)

    async def create_thread(self, thread: MailThread, first: MailMessage, count: Count | None = None) -> None:
        """Store a new thread with its first message (and add `count`) in one transaction."""
        try:
            await self._transaction(lambda c: _insert_thread(c, thread, first, count))
        except asyncpg.IntegrityConstraintViolationError:
            raise ThreadConflict("a thread with this token exists already") from None

    async def create_thread_for_fewest(self, make: Make, count: Count | None = None,
                                       ) -> tuple[MailThread, Volunteer] | None:
        """Choose the available mail volunteer with the fewest open threads and store the thread
        that `make` builds for them (None, and nothing stored, if nobody is available).

        For the mail gateway, which encrypts to whoever is chosen: choice and insert in one
        transaction under `_MAIL_ASSIGNMENT_LOCK`, so the chosen volunteer cannot change in between,
        in this process or another. `make` runs inside that transaction, so it must be quick
        (sealing a message is; a key derivation is not).

        Group commit, as in SQLiteStorage: the calls that are waiting when the lock is granted go in
        one transaction, each inside its own savepoint (one that fails is rolled back alone), and are
        answered together after the one COMMIT. Every caller still learns of its thread only once it
        is committed. A burst of mail then costs one commit instead of one per mail, and the calls of
        this process queue here rather than one connection each behind the lock."""
        self._opened()
        future: asyncio.Future[tuple[MailThread, Volunteer] | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((make, count, future))
        del make  # the queue holds it until the commit; an exception raised through this frame must not
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_waiting())
        return await future

    async def _commit_waiting(self) -> None:
        """Group commits, one after the other, while calls are waiting."""
        while self._waiting:
            batch: list[Waiting] = []
            taken = False
            outcomes: list[tuple[bool, Any]] = []
            try:
                async with self._opened().acquire() as c, c.transaction():
                    await c.execute("SELECT pg_advisory_xact_lock($1)", _MAIL_ASSIGNMENT_LOCK)
                    # Taken once the lock is granted, so that calls made while another process held it
                    # join this commit. A caller that has gone away already (its SMTP client hung up, so
                    # no 250 will be sent) is not stored: the sending server will retry, and a copy
                    # nobody was told of would only reach the volunteer twice.
                    batch.extend(item for item in self._waiting if not item[2].done())
                    self._waiting.clear()
                    taken = True
                    # A comprehension, so that no loop variable keeps a `make` once the batch is answered.
                    outcomes = [await _create_in_savepoint(c, make, count) for make, count, _ in batch]
            except BaseException as exc:  # the transaction failed as a whole: nothing of the batch is stored
                interrupted = not isinstance(exc, Exception)
                if not taken or interrupted:  # nobody may be left waiting for a commit that will not come
                    batch.extend(self._waiting)
                    self._waiting.clear()
                failure = StorageError("storing the threads was interrupted") if interrupted else exc
                _answer_batch(batch, [(False, failure)] * len(batch))
                if interrupted:
                    raise
            else:
                _answer_batch(batch, outcomes)

    async def thread_by_lookup(self, lookup_hash: bytes) -> MailThread | None:
        row = await self._opened().fetchrow(f"SELECT {THREAD_COLUMNS} FROM mail_threads WHERE lookup_hash = $1",
                                            lookup_hash)
        return _thread(row) if row else None

    async def thread_by_id(self, thread_id: bytes) -> MailThread | None:
        row = await self._opened().fetchrow(f"SELECT {THREAD_COLUMNS} FROM mail_threads WHERE id = $1", thread_id)
        return _thread(row) if row else None

    async def messages(self, thread_id: bytes) -> list[MailMessage]:
        rows = await self._opened().fetch(
            "SELECT seq, author, body, signature, signer_public, seeker_wrap, volunteer_wrap, hour"
            " FROM mail_messages WHERE thread_id = $1 ORDER BY seq", thread_id)
        return [MailMessage(*r) for r in rows]

    async def add_message(self, thread_id: bytes, message: MailMessage, hour: int, day: int,
                          limit: int, first_reply: Callable[[int], Count] | None = None) -> int | None:
        """Append the next message; the sequence number must follow the last one.

        Answers, for the thread's first volunteer message, how many whole hours the help-seeker
        had been waiting for it (for the statistics); None otherwise. Given `first_reply`, the
        count it makes of those hours is added in the same transaction. The thread's row is locked
        first, so a message written at the same moment elsewhere waits, then finds the new last one."""
        async def run(c: asyncpg.Connection) -> int | None:
            since = await c.fetchrow("SELECT waiting_since_hour FROM mail_threads WHERE id = $1 FOR UPDATE",
                                     thread_id)
            last, count = await c.fetchrow("SELECT coalesce(max(seq), 0), count(*) FROM mail_messages"
                                           " WHERE thread_id = $1", thread_id)
            if message.seq != last + 1 or count >= limit:
                raise ThreadConflict("sequence number or message limit")
            first_reply_hours = None
            if message.author != 1 and not await c.fetchval(
                    "SELECT 1 FROM mail_messages WHERE thread_id = $1 AND author != 1 LIMIT 1", thread_id):
                # No volunteer has written yet, so the wait began with the thread's first message.
                if since is not None and since[0] is not None:
                    first_reply_hours = max(0, hour - since[0])
                    if first_reply is not None:
                        await _add_count(c, first_reply(first_reply_hours))
            await c.execute(f"INSERT INTO mail_messages({_MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                            thread_id, *_fields(message), hour)
            if message.author == 1:
                await c.execute("UPDATE mail_threads SET state = CASE state WHEN 'handled' THEN 'open' ELSE state END,"
                                " waiting_since_hour = coalesce(waiting_since_hour, $1), unread_volunteer = 1,"
                                " unread_count = unread_count + 1, last_activity_day = $2 WHERE id = $3",
                                hour, day, thread_id)
            else:
                await c.execute("UPDATE mail_threads SET waiting_since_hour = NULL, unread_seeker = 1,"
                                " last_activity_day = $1 WHERE id = $2", day, thread_id)
            return first_reply_hours
        return await self._transaction(run)

    async def assign_thread(self, thread_id: bytes, volunteer_id: int, wraps: dict[int, bytes], hour: int,
                            expected_volunteer: int | None, note: bytes | None = None) -> None:
        """Give the thread to another volunteer with every message key re-wrapped for them, atomically.
        The thread's note becomes `note` (sealed anew for them by the page), or none: the previous
        volunteer's note is never left with a thread it can no longer be read in.

        The previous volunteer's wraps are overwritten, so they can no longer read the thread's
        keys through the database; `expected_volunteer` guards against a concurrent change, checked
        with the thread's row locked."""
        async def run(c: asyncpg.Connection) -> None:
            current = await c.fetchrow("SELECT volunteer_id FROM mail_threads WHERE id = $1 FOR UPDATE", thread_id)
            seqs = {r[0] for r in await c.fetch("SELECT seq FROM mail_messages WHERE thread_id = $1", thread_id)}
            if current is None or current[0] != expected_volunteer or set(wraps) != seqs:
                raise ThreadConflict("the thread changed, or not every message key was re-wrapped")
            await c.executemany("UPDATE mail_messages SET volunteer_wrap = $1 WHERE thread_id = $2 AND seq = $3",
                                [(wrap, thread_id, seq) for seq, wrap in wraps.items()])
            await c.execute("UPDATE mail_threads SET volunteer_id = $1, state = 'open', opened = 0,"
                            " assigned_hour = $2, unread_volunteer = 1, unread_count = greatest(unread_count, 1),"
                            " volunteer_note = $3 WHERE id = $4", volunteer_id, hour, note, thread_id)
        await self._transaction(run)

    async def update_thread(self, thread_id: bytes, **fields: object) -> None:
        unknown = set(fields) - THREAD_FIELDS
        if unknown or not fields:
            raise StorageError(f"cannot update {unknown or 'nothing'}")
        assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(fields, start=1))
        values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
        await self._execute(f"UPDATE mail_threads SET {assignments} WHERE id = ${len(fields) + 1}",
                            *values, thread_id)

    async def inbox(self, volunteer_id: int) -> list[MailThread]:
        rows = await self._opened().fetch(
            f"SELECT {THREAD_COLUMNS} FROM mail_threads WHERE volunteer_id = $1 AND state = 'open'"
            " ORDER BY waiting_since_hour IS NULL, waiting_since_hour, id", volunteer_id)
        return [_thread(r) for r in rows]

    async def delete_thread(self, thread_id: bytes) -> None:
        async def run(c: asyncpg.Connection) -> None:
            await c.execute("DELETE FROM mail_messages WHERE thread_id = $1", thread_id)
            await c.execute("DELETE FROM mail_threads WHERE id = $1", thread_id)
        await self._transaction(run)
        await self._vacuum("mail_messages", "mail_threads")

    async def expire_threads(self, before_day: int) -> int:
        async def run(c: asyncpg.Connection) -> int:
            await c.execute("DELETE FROM mail_messages WHERE thread_id IN"
                            " (SELECT id FROM mail_threads WHERE last_activity_day < $1)", before_day)
            return _rowcount(await c.execute("DELETE FROM mail_threads WHERE last_activity_day < $1", before_day))
        n = await self._transaction(run)
        if n:
            await self._vacuum("mail_messages", "mail_threads")
        return n

    async def mark_needing_volunteer(self, hour: int, pickup_hours: int) -> int:
        """Threads whose volunteer left, or did not open them in time, need a new volunteer."""
        return _rowcount(await self._execute(
            "UPDATE mail_threads SET state = 'needs-volunteer' WHERE state = 'open' AND ("
            " volunteer_id IN (SELECT id FROM volunteers WHERE active = 0 OR can_mail = 0)"
            " OR (opened = 0 AND assigned_hour <= $1))", hour - pickup_hours))

    # -- quick replies (coordinator; organisation text) ----------------------------------------

    async def add_quick_reply(self, nl: str, en: str) -> int:
        """Store a new quick reply; TooManyQuickReplies if there are QUICK_REPLIES_MAX already. The table
        is locked against other inserts first, so two coordinators at the same moment cannot pass the cap."""
        async def run(c: asyncpg.Connection) -> int:
            await c.execute("LOCK TABLE quick_replies IN SHARE ROW EXCLUSIVE MODE")
            if await c.fetchval("SELECT count(*) FROM quick_replies") >= QUICK_REPLIES_MAX:
                raise TooManyQuickReplies(str(QUICK_REPLIES_MAX))
            return int(await c.fetchval("INSERT INTO quick_replies(nl, en) VALUES ($1, $2) RETURNING id", nl, en))
        return await self._transaction(run)

    async def list_quick_replies(self) -> list[QuickReply]:
        rows = await self._opened().fetch("SELECT id, nl, en FROM quick_replies ORDER BY id")
        return [QuickReply(int(r[0]), r[1], r[2]) for r in rows]

    async def update_quick_reply(self, reply_id: int, nl: str, en: str) -> bool:
        """Change a quick reply's texts; False if there is none with this id."""
        return _rowcount(await self._execute("UPDATE quick_replies SET nl = $1, en = $2 WHERE id = $3",
                                             nl, en, reply_id)) == 1

    async def delete_quick_reply(self, reply_id: int) -> bool:
        """Delete a quick reply; False if there is none with this id."""
        return _rowcount(await self._execute("DELETE FROM quick_replies WHERE id = $1", reply_id)) == 1

    async def pending_invitations(self, now: int) -> list[Invitation]:
        """Invitations neither used nor expired, soonest expiry first (never the token's hash)."""
        rows = await self._opened().fetch("SELECT name, role, can_chat, can_mail, expires_at, used FROM invitations"
                                          " WHERE used = 0 AND expires_at > $1 ORDER BY expires_at, name", now)
        return [Invitation(r[0], r[1], bool(r[2]), bool(r[3]), r[4], bool(r[5])) for r in rows]

    # -- the mail inbox and notes (migration 0008) ---------------------------------------------

    async def mail_can_be_taken(self) -> bool:
        """Whether any account could be given a new mail now (active, can mail, with a certificate and
        a key statement in a usable checkpoint)."""
        return await self._opened().fetchval(
            "SELECT 1 FROM volunteers WHERE active = 1 AND can_mail = 1 AND key_ready = 1"
            " AND x25519_certificate IS NOT NULL LIMIT 1") is not None

    async def inbox_counts(self, volunteer_ids: list[int]) -> dict[int, tuple[int, int]]:
        """For each of these volunteers with open threads: (unread help-seeker messages, open threads).
        One query for every volunteer with a socket on this node (server/mail/inbox.py)."""
        if not volunteer_ids:
            return {}
        rows = await self._opened().fetch(
            "SELECT volunteer_id, sum(unread_count), count(*) FROM mail_threads"
            " WHERE volunteer_id = ANY($1::bigint[]) AND state = 'open' GROUP BY volunteer_id", volunteer_ids)
        return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}

    async def inbox_details(self, volunteer_id: int) -> dict[bytes, tuple[int, int | None]]:
        """Per open thread of the volunteer: its unread count and the hour of its last message."""
        rows = await self._opened().fetch(
            "SELECT t.id, t.unread_count, (SELECT max(m.hour) FROM mail_messages m WHERE m.thread_id = t.id)"
            " FROM mail_threads t WHERE t.volunteer_id = $1 AND t.state = 'open'", volunteer_id)
        return {bytes(r[0]): (int(r[1]), r[2]) for r in rows}

    async def thread_note(self, thread_id: bytes) -> bytes | None:
        value = await self._opened().fetchval("SELECT volunteer_note FROM mail_threads WHERE id = $1", thread_id)
        return bytes(value) if value is not None else None

    async def set_thread_note(self, thread_id: bytes, volunteer_id: int, note: bytes | None) -> bool:
        """Replace the thread's note (None deletes it) if the thread is still this volunteer's."""
        changed = _rowcount(await self._execute(
            "UPDATE mail_threads SET volunteer_note = $1 WHERE id = $2 AND volunteer_id = $3",
            note, thread_id, volunteer_id)) == 1
        if changed and note is None:
            await self._vacuum("mail_threads")  # the deleted note's row version is not left in the table
        return changed

    # -- the transparency log (migration 0010) ---------------------------------------------------

    async def log_append(self, entries: list[bytes]) -> int:
        """Append `entries` after the last one, atomically; the new size. `_LOG_APPEND_LOCK` makes
        appenders in other processes wait, so the indexes stay contiguous."""
        check_log_entries(entries)
        async def run(c: asyncpg.Connection) -> int:
            await c.execute("SELECT pg_advisory_xact_lock($1)", _LOG_APPEND_LOCK)
            size = int(await c.fetchval("SELECT count(*) FROM log_entries"))
            await c.executemany("INSERT INTO log_entries(idx, data) VALUES ($1, $2)",
                                [(size + i, bytes(e)) for i, e in enumerate(entries)])
            return size + len(entries)
        return await self._transaction(run)

    async def log_entries(self, start: int, end: int) -> list[bytes]:
        """The entries start..end-1 (fewer if the log is shorter)."""
        rows = await self._opened().fetch("SELECT data FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                                          max(0, start), end)
        return [bytes(r[0]) for r in rows]

    async def log_size(self) -> int:
        return int(await self._opened().fetchval("SELECT count(*) FROM log_entries"))

    async def save_checkpoint(self, size: int, note: str, now: int) -> None:
        """Store the note for this tree size (replacing the one stored, e.g. with fresher cosignatures)."""
        await self._execute("INSERT INTO log_checkpoints(size, note, updated_at) VALUES ($1, $2, $3)"
                            " ON CONFLICT (size) DO UPDATE SET note = excluded.note, updated_at = excluded.updated_at",
                            size, note, now)

    async def latest_checkpoint(self) -> tuple[int, str] | None:
        row = await self._opened().fetchrow("SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1")
        return (int(row[0]), row[1]) if row else None

    async def set_keys_ready(self, account_ids: Collection[bytes]) -> None:
        """key_ready = (account_id in account_ids), for every account, in one statement."""
        await self._execute(
            "UPDATE volunteers SET key_ready = CASE WHEN account_id = ANY($1::bytea[]) THEN 1 ELSE 0 END"
            " WHERE key_ready IS DISTINCT FROM CASE WHEN account_id = ANY($1::bytea[]) THEN 1 ELSE 0 END",
            [bytes(a) for a in account_ids])

    async def volunteer_by_account_id(self, account_id: bytes) -> Volunteer | None:
        row = await self._opened().fetchrow(f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE account_id = $1",
                                            bytes(account_id))
        return _volunteer(row) if row else None
