"""The baseline for bench/smtp_intake.py: a bare aiosmtpd server that parses and stores each mail.

For every message it does what a competent minimal intake does, and nothing more:

- parse it with `email.parser.BytesParser` and the modern policy (`policy.default`, the
  gateway's policy, mailgate/parse.py), with a header memo: with that policy every read of a
  header parses it again (the parser and `get_body`/`get_content` ask for Content-Type a dozen
  times per part), so each distinct header of a message is parsed once (`HeadersOnce`). The
  gateway has its own memo for the same reason; this one is written for this server.
- store it with group commit (`SQLiteStore`, `PostgresStore`): the mails that wait while a
  transaction is being committed go together in the next one, with one COMMIT (one fsync) for
  all of them, and each is answered 250 only after that commit. The gateway's storage does the
  same (server/storage/sqlite.py, postgres.py: `create_thread_for_fewest`). SQLite runs as the
  product's does: WAL, `synchronous=FULL`, on a thread of its own that owns the connection, so
  the 250 comes after a durable commit and the event loop never waits for the disk.
- with --argon2-opslimit/--argon2-memlimit-kib: one Argon2id per mail at those parameters
  (libsodium through PyNaCl, as crypto/ uses it), in the event loop's default thread pool as the
  gateway runs its key derivation (libsodium releases the GIL), before the mail is stored. This
  is the baseline for the gateway at production cost: the bare server plus the one derivation
  per mail that the product cannot do without.

Nothing is encrypted, no return mail is sent, nobody is assigned.

With --extract it also does what any intake that keeps only the text must do: read the subject
and the body part (`get_body(("plain", "html"))`, `get_content()`), as mailgate/parse.py does,
and stores those instead of the raw bytes.

The SMTP side is configured as the gateway's (mailgate/gateway.py smtp_factory):
the same size limit, SMTPUTF8, timeout and command limits; any recipient is taken.

With --database-url env it stores into the PostgreSQL database named by BARE_DATABASE_URL instead
(asyncpg, group commit: one transaction and one `executemany` for the mails waiting; the server's
defaults, fsync and synchronous_commit on, so the 250 again comes after a durable commit), the
baseline for `bench/smtp_intake.py --postgres`.

bench/smtp_intake.py starts it as a subprocess. It lives in bench/support/ because
`make bench` runs every bench/*.py, and this one would serve until stopped. On its own:
    .venv/bin/python bench/support/bare_smtp.py --smtp 127.0.0.1:2626 --data /tmp/bare
It is not a mail server for people: it binds to loopback only and keeps everything it is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

MAX_BYTES = 1024 * 1024  # the gateway's default smtp_max_bytes
INSERT_SQLITE = "INSERT INTO mails(received_at, size, raw, subject, text) VALUES (?, ?, ?, ?, ?)"
INSERT_POSTGRES = "INSERT INTO mails(received_at, size, raw, subject, text) VALUES ($1, $2, $3, $4, $5)"
Row = tuple[Any, ...]


# ---------------------------------------------------------------------------------------------
# Parsing: the modern policy, each distinct header of a message parsed once.
# ---------------------------------------------------------------------------------------------

class HeadersOnce:
    """A header factory that remembers, for the message being parsed, each header it has built.

    Header objects are immutable, so building one per distinct (name, value) gives the same
    message as the policy's own factory. The memo is emptied after every message (`forget`):
    this server parses one message at a time, on its event loop. Only short values are kept,
    and only so many: a hostile message with huge or countless headers is then parsed as slowly
    as without the memo, but cannot make it grow."""

    MAX_VALUE_CHARS = 256
    MAX_ENTRIES = 64

    def __init__(self) -> None:
        self.registry = HeaderRegistry()
        self.memo: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        key = (name, value)
        header = self.memo.get(key)
        if header is None:
            header = self.registry(name, value)
            if len(value) <= self.MAX_VALUE_CHARS and len(self.memo) < self.MAX_ENTRIES:
                self.memo[key] = header
        return header

    def __getitem__(self, name: str) -> type:
        return self.registry[name]  # the policy asks the header class for max_count

    def forget(self) -> None:
        self.memo.clear()


class Parser:
    def __init__(self, extract: bool) -> None:
        self.extract = extract
        self.headers = HeadersOnce()
        self.parser = BytesParser(policy=policy.default.clone(header_factory=self.headers))

    def row(self, raw: bytes) -> Row | None:
        """The row to store: (received_at, size, raw, subject, text); None if the mail cannot be read."""
        try:
            message = self.parser.parsebytes(raw)
            if not self.extract:
                return (time.time(), len(raw), raw, None, None)
            subject = str(message.get("subject", "") or "")
            body = message.get_body(preferencelist=("plain", "html"))
            text = body.get_content() if body is not None else ""
            return (time.time(), len(raw), None, subject, text if isinstance(text, str) else "")
        except Exception:
            return None
        finally:
            self.headers.forget()  # the reads above were the last ones of this message's headers


# ---------------------------------------------------------------------------------------------
# Storage with group commit.
# ---------------------------------------------------------------------------------------------

def _answer(futures: list[asyncio.Future[None]], failure: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the caller has gone (its client hung up)
            continue
        if failure is None:
            future.set_result(None)
        else:
            future.set_exception(failure)


class SQLiteStore:
    """One thread owns the connection. The first mail to wait hands a commit job to it; mails that
    arrive before that job takes the queue join it; one transaction, one COMMIT, then every one of
    them is answered. A mail that arrives while a commit runs starts the next job."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bare-sqlite")
        self.db: sqlite3.Connection | None = None
        self.waiting: list[tuple[Row, asyncio.Future[None]]] = []
        self.lock = threading.Lock()
        self.commits = 0
        self.stored = 0

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS mails (id INTEGER PRIMARY KEY, received_at REAL NOT NULL,"
                   " size INTEGER NOT NULL, raw BLOB, subject TEXT, text TEXT)")
        return db

    async def open(self) -> None:
        self.db = await asyncio.get_running_loop().run_in_executor(self.executor, self._connect)

    async def add(self, row: Row) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self.lock:
            first = not self.waiting
            self.waiting.append((row, future))
        if first:
            loop.run_in_executor(self.executor, self._commit_waiting, loop)
        await future

    def _commit_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the storage thread: every mail waiting now, in one transaction."""
        with self.lock:
            batch, self.waiting = self.waiting, []
        if not batch:
            return
        db, failure = self.db, None
        try:
            if db is None:
                raise ConnectionError("the store is closed")
            db.execute("BEGIN IMMEDIATE")
            # The rows are independent (no constraint can refuse one), so one statement for all of
            # them: no savepoint per mail is needed, unlike the gateway, whose calls each choose a
            # volunteer and may fail alone.
            db.executemany(INSERT_SQLITE, [row for row, _ in batch])
            db.execute("COMMIT")
            self.commits += 1
            self.stored += len(batch)
        except Exception as exc:
            if db is not None and db.in_transaction:
                db.execute("ROLLBACK")
            failure = exc
        loop.call_soon_threadsafe(_answer, [future for _, future in batch], failure)

    async def close(self) -> None:
        if self.db is not None:
            db, self.db = self.db, None
            await asyncio.get_running_loop().run_in_executor(self.executor, db.close)
        self.executor.shutdown(wait=True)


class PostgresStore:
    """One committer task at a time: it takes the mails waiting once it has a connection, stores
    them in one transaction and answers them after its COMMIT, and goes on while mails wait."""

    def __init__(self) -> None:
        self.pool: Any = None
        self.waiting: list[tuple[Row, asyncio.Future[None]]] = []
        self.committer: asyncio.Task[None] | None = None
        self.commits = 0
        self.stored = 0

    async def open(self, url: str) -> None:
        import asyncpg  # only this baseline needs it
        self.pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        await self.pool.execute("CREATE TABLE IF NOT EXISTS mails (id bigserial PRIMARY KEY, received_at double"
                                " precision NOT NULL, size integer NOT NULL, raw bytea, subject text, text text)")

    async def add(self, row: Row) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((row, future))
        if self.committer is None or self.committer.done():
            self.committer = asyncio.create_task(self._commit_waiting())
        await future

    async def _commit_waiting(self) -> None:
        while self.waiting:
            batch: list[tuple[Row, asyncio.Future[None]]] = []
            failure: BaseException | None = None
            try:
                async with self.pool.acquire() as c:
                    batch, self.waiting = self.waiting, []
                    async with c.transaction():
                        await c.executemany(INSERT_POSTGRES, [row for row, _ in batch])
                self.commits += 1
                self.stored += len(batch)
            except Exception as exc:
                failure = exc
                if not batch:  # no connection: the mails waiting are answered, not retried for ever
                    batch, self.waiting = self.waiting, []
            except BaseException:
                _answer([future for _, future in batch + self.waiting], ConnectionError("stopped"))
                raise
            _answer([future for _, future in batch], failure)

    async def close(self) -> None:
        if self.committer is not None:
            await asyncio.gather(self.committer, return_exceptions=True)
        if self.pool is not None:
            await self.pool.close()


# ---------------------------------------------------------------------------------------------
# The SMTP handler.
# ---------------------------------------------------------------------------------------------

class Argon2id:
    """One Argon2id per mail at the given cost: a random 16-byte secret (as the gateway's token
    has 16 bytes of entropy at most) under a random salt, 32 bytes out, and thrown away."""

    def __init__(self, opslimit: int, memlimit_kib: int) -> None:
        import nacl.bindings  # PyNaCl, libsodium's crypto_pwhash, as crypto/_primitives.py calls it
        self.pwhash = nacl.bindings.crypto_pwhash_alg
        self.alg = nacl.bindings.crypto_pwhash_ALG_ARGON2ID13
        self.salt_bytes = nacl.bindings.crypto_pwhash_SALTBYTES
        self.opslimit, self.memlimit = opslimit, memlimit_kib * 1024
        self.derive()  # a warm-up, and a check of the parameters before any mail is taken

    def derive(self) -> bytes:
        return self.pwhash(32, secrets.token_bytes(16), secrets.token_bytes(self.salt_bytes), self.opslimit,
                           self.memlimit, self.alg)


class BareHandler:
    def __init__(self, store: SQLiteStore | PostgresStore, extract: bool, argon2: Argon2id | None) -> None:
        self.store, self.parser, self.argon2 = store, Parser(extract), argon2
        # One derivation thread per core, as mailgate/gateway.py's pool (fewer than the loop's default of
        # cores + 4, and faster on this machine): the baseline derives as competently as the product.
        self.derivations = ThreadPoolExecutor(max_workers=max(1, len(os.sched_getaffinity(0))))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        row = self.parser.row(raw)
        if row is None:
            return "554 5.6.0 This message cannot be read"
        if self.argon2 is not None:
            await asyncio.get_running_loop().run_in_executor(self.derivations, self.argon2.derive)
        await self.store.add(row)
        return "250 2.0.0 OK"


async def serve(host: str, port: int, data: Path, extract: bool, database_url: str = "",
                argon2: tuple[int, int] | None = None) -> None:
    logging.getLogger("mail.log").disabled = True  # as the gateway
    data.mkdir(parents=True, exist_ok=True)
    store: SQLiteStore | PostgresStore
    if database_url:
        store = PostgresStore()
        await store.open(database_url)
    else:
        store = SQLiteStore(data / "bare.sqlite3")
        await store.open()
    handler = BareHandler(store, extract, Argon2id(*argon2) if argon2 else None)

    def make() -> SMTP:
        return SMTP(handler, hostname="localhost", ident="bare", data_size_limit=MAX_BYTES, enable_SMTPUTF8=True,
                    timeout=60, command_call_limit={"MAIL": 20, "RCPT": 40, "DATA": 20, "*": 100})

    loop = asyncio.get_running_loop()
    server = await loop.create_server(make, host, port)
    what = (["extracting subject and text"] if extract else []) + (
        [f"Argon2id opslimit {argon2[0]}, {argon2[1]} KiB per mail"] if argon2 else [])
    print(f"bare smtp on {host}:{port}" + (f" ({'; '.join(what)})" if what else ""), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    await store.close()
    if store.commits:
        print(f"stored {store.stored} mails in {store.commits} commits ({store.stored / store.commits:.1f} a commit)",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smtp", default="127.0.0.1:2626", help="HOST:PORT (loopback only)")
    parser.add_argument("--data", required=True, type=Path, help="folder for bare.sqlite3")
    parser.add_argument("--extract", action="store_true", help="also read subject and body text, store those")
    parser.add_argument("--database-url", default="",
                        help="'env': store in the PostgreSQL database named by BARE_DATABASE_URL instead of SQLite")
    parser.add_argument("--argon2-opslimit", type=int, help="one Argon2id per mail with this many passes")
    parser.add_argument("--argon2-memlimit-kib", type=int, help="... and this much memory (KiB)")
    args = parser.parse_args()
    if args.database_url not in ("", "env"):
        parser.error("--database-url takes only 'env' (a URL with its password has no place on a command line)")
    if (args.argon2_opslimit is None) != (args.argon2_memlimit_kib is None):
        parser.error("--argon2-opslimit and --argon2-memlimit-kib go together")
    argon2 = (args.argon2_opslimit, args.argon2_memlimit_kib) if args.argon2_opslimit is not None else None
    url = os.environ.get("BARE_DATABASE_URL", "") if args.database_url == "env" else ""
    host, _, port = args.smtp.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the bare server listens on loopback only")
    asyncio.run(serve(host, int(port), args.data, args.extract, url, argon2))


if __name__ == "__main__":
    main()
