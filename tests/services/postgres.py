"""Debian's PostgreSQL 15, run by the tests in a temporary folder on a free port (never the system service).

`start_postgres()` makes a cluster with `initdb`, starts it with `pg_ctl`, and creates the
role the server logs in as (`ROLE`) with a random password. The password exists only in this
process: the role's SCRAM verifier is computed here and sent instead (so not even the server's
log could show it), and the URLs that carry it live in memory and in the environment of the
processes the tests start. Local connections (the tests' own checks, as superuser) go over a
unix socket inside the folder with `trust`; TCP needs the password (`scram-sha-256`).

Each test gets a fresh, empty database (`create_database`; dropped before the next is made):
CREATE DATABASE from template0 takes under 10 ms here, less than the migrations the storage then
runs (about 20 ms). A schema per test would be faster still, but a database of its own gives each
test its own files under base/<oid>/, which is what `stored_bytes` searches.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from tests.conftest import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROLE = "oor"
SUPERUSER = "postgres"
T = TypeVar("T")

# For test speed only: a test cluster need not survive a power cut. Production keeps PostgreSQL's
# defaults (fsync, synchronous_commit and full_page_writes on). The small WAL keeps the files that
# stored_bytes() reads few; max_connections leaves room for the pools of several servers at once.
TEST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_wal_size=64MB",
                 "min_wal_size=32MB", "max_connections=300")


# Run beside the tests: once the test process is gone, however it ended (a timeout's SIGKILL runs
# no fixture's teardown), stop its cluster and remove the folder. Normally both are done already.
REAPER = """
import os, shutil, subprocess, sys, time
parent, root, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
if os.path.exists(os.path.join(root, "data", "postmaster.pid")):
    subprocess.run(stop, capture_output=True, timeout=60)
shutil.rmtree(root, ignore_errors=True)
"""


# For the benchmarks: PostgreSQL's defaults for durability, as a production server runs.
DURABLE_SETTINGS = ("max_connections=300",)


class PostgresMissing(RuntimeError):
    """PostgreSQL 15 is not installed where Debian puts it."""


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: as root, run them as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802, 7677), made here so
    that the password itself is never sent to the server. (A URL-safe token needs no SASLprep.)"""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"


class PostgresServer:
    """One running test cluster. Its admin connections run on a private event loop in a thread,
    so that plain functions and async tests alike can call it."""

    def __init__(self, root: Path, port: int, durable: bool = False) -> None:
        self.durable = durable  # PostgreSQL's own defaults (fsync and synchronous_commit on): benchmarks
        self.root = root
        self.port = port
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = root / "postgres.log"
        self.password = secrets.token_urlsafe(24)
        self._names = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="postgres-admin", daemon=True)
        self._thread.start()
        self._admin: dict[str, asyncpg.Connection] = {}
        self._done: list[str] = []

    # -- running admin work ------------------------------------------------------------------

    def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(work(), self._loop).result(timeout=60)

    async def _connection(self, database: str) -> asyncpg.Connection:
        if database not in self._admin:
            self._admin[database] = await asyncpg.connect(host=str(self.sockets), port=self.port,
                                                          user=SUPERUSER, database=database)
        return self._admin[database]

    def fetch(self, database: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of one statement in `database`, as superuser (the tests' view from outside the server)."""
        async def work() -> list[tuple[Any, ...]]:
            return [tuple(r) for r in await (await self._connection(database)).fetch(sql, *args)]
        return self.run(work)

    def execute(self, database: str, sql: str, *args: Any) -> str:
        async def work() -> str:
            return str(await (await self._connection(database)).execute(sql, *args))
        return self.run(work)

    # -- databases --------------------------------------------------------------------------

    def url(self, database: str) -> str:
        """What `database_url` says to reach `database` as the server's role, over TCP with the password."""
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        self._drop_done()
        name = f"oor_test_{next(self._names)}"
        self.execute("postgres", f"CREATE DATABASE {name} OWNER {ROLE} TEMPLATE template0 STRATEGY FILE_COPY")
        return name

    def drop_database(self, name: str) -> None:
        """Drop `name` before the next database is made. Not at once: pytest may tear the test's
        database down before the server that uses it (fixtures end in the reverse order they were
        set up), and its connections must not be cut under it while it closes."""
        self._done.append(name)

    def _drop_done(self) -> None:
        async def work() -> None:
            while self._done:
                name = self._done.pop()
                if name in self._admin:
                    await self._admin.pop(name).close()
                # FORCE: a server a failed test left running must not keep its database alive.
                await (await self._connection("postgres")).execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.run(work)

    def database_files(self, database: str) -> list[Path]:
        """The files of `database` in the cluster: base/<oid>/ (tables, TOAST, indexes, maps)."""
        ((oid,),) = self.fetch("postgres", "SELECT oid FROM pg_database WHERE datname = $1", database)
        return sorted(p for p in (self.data / "base" / str(oid)).iterdir() if p.is_file())

    def wal_files(self) -> list[Path]:
        return sorted(p for p in (self.data / "pg_wal").iterdir() if p.is_file())

    def stored_bytes(self, database: str) -> bytes:
        """Every byte PostgreSQL keeps on disk for `database`: after a CHECKPOINT (so that what is in
        shared buffers has reached the files), its files under base/<oid>/, and the whole WAL."""
        self.execute("postgres", "CHECKPOINT")
        return b"".join(p.read_bytes() for p in [*self.database_files(database), *self.wal_files()])

    # -- the cluster ------------------------------------------------------------------------

    def _pg(self, *argv: str) -> None:
        done = subprocess.run(_as_postgres([str(PG_BIN / argv[0]), *argv[1:]]), capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n{log}")

    def start(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth-local=trust",
                 "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
                 "--no-sync")  # test speed only, as TEST_SETTINGS
        self.sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.sockets, "postgres", "postgres")
        options = " ".join([f"-c port={self.port}", "-c listen_addresses=127.0.0.1",
                            f"-c unix_socket_directories={self.sockets}", *(f"-c {s}" for s in (
                                DURABLE_SETTINGS if self.durable else TEST_SETTINGS))])
        self._pg("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options)
        verifier = scram_verifier(self.password)
        self.execute("postgres", f"CREATE ROLE {ROLE} LOGIN PASSWORD '{verifier}'")

    def stop(self) -> None:
        try:
            self._stop_admin()
        finally:
            self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")

    def _stop_admin(self) -> None:
        async def close() -> None:
            for connection in self._admin.values():
                await connection.close()
            self._admin.clear()
        try:
            self.run(close)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


def start_postgres(durable: bool = False) -> PostgresServer:
    """A new cluster in a new folder under /tmp (owned by `postgres` when we are root); the caller
    stops it with `stop_postgres`, which removes the folder (and REAPER does, should the caller die)."""
    if not (PG_BIN / "initdb").exists():
        raise PostgresMissing(f"PostgreSQL 15 not found at {PG_BIN}: run `make test`, which installs Debian's "
                              "postgresql; the PostgreSQL tests must run, not skip")
    root = Path(tempfile.mkdtemp(prefix="oor-postgres-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = PostgresServer(root, free_port(), durable)
    stop = _as_postgres([str(PG_BIN / "pg_ctl"), "stop", "-D", str(server.data), "-m", "immediate"])
    subprocess.Popen([sys.executable, "-c", REAPER, str(os.getpid()), str(root), *stop], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        server.start()
    except BaseException:
        server._stop_admin()
        if (server.data / "postmaster.pid").exists():
            server._pg("pg_ctl", "stop", "-D", str(server.data), "-m", "fast", "-w")
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def stop_postgres(server: PostgresServer) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.root, ignore_errors=True)
