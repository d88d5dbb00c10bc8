"""Shared fixtures.

The names say what is insecure: `INSECURE_TEST_ENV` lowers Argon2id to libsodium's
floor and the chat proof-of-work to 8 bits so that tests run fast. Production defaults stay at 64 MiB; the server
refuses such parameters unless `insecure_kdf = true`, and then shows a banner.

Every test that stores something runs on both backends: `backend` is a session-wide parameter
("sqlite", "postgresql"; the test ids say which), `database` makes a fresh database of it for the
test (tests/services/database.py), and the configuration and server fixtures use that database.
pytest runs the tests grouped by backend, so the session-wide live server starts once per backend,
and the PostgreSQL cluster (tests/services/postgres.py) only once the first PostgreSQL test runs.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.transparency import TEST_ROOT_PUBLIC_KEY

if TYPE_CHECKING:
    from tests.services.database import Database, PostgresDatabase
    from tests.services.postgres import PostgresServer

REPO = Path(__file__).resolve().parent.parent

INSECURE_TEST_ENV = {
    "OOR_INSECURE_KDF": "true",
    "OOR_KDF_OPSLIMIT": "1",
    "OOR_KDF_MEMLIMIT_KIB": "8",
    "OOR_POW_BASE_BITS": "8",
    "OOR_SMTP_DRAIN_SECONDS": "2",
    # Key transparency (issue 17): the test root (tests/transparency.py, whose signing robot plays the
    # coordinators), no witness required (the witness has tests of its own), and a log that notices
    # new entries quickly.
    "OOR_ROOT_PUBLIC_KEY": TEST_ROOT_PUBLIC_KEY,
    "OOR_WITNESS_QUORUM": "0",
    "OOR_LOG_REFRESH_SECONDS": "0.1",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "no_signing_robot: the test's servers get no signing robot "
                                       "(tests/transparency.py): a test about the key gate itself")


@pytest.fixture
async def aiohttp_client(aiohttp_client: Any, request: pytest.FixtureRequest) -> Any:
    """pytest-aiohttp's `aiohttp_client`, with the signing robot (tests/transparency.py) started on every
    application it serves, unless the test is marked `no_signing_robot`."""
    from aiohttp import web

    from server.keys import STORAGE
    from tests.transparency import robot_for_app
    robots: list[Any] = []
    sign = request.node.get_closest_marker("no_signing_robot") is None

    async def make(app: Any, *args: Any, **kwargs: Any) -> Any:
        client = await aiohttp_client(app, *args, **kwargs)
        served = getattr(client.server, "app", None)  # an app, or its TestServer; one with a storage
        if sign and isinstance(served, web.Application) and STORAGE in served:
            client.robot = robot_for_app(client.server.app)
            robots.append(client.robot)
        return client

    yield make
    for robot in robots:
        await robot.stop()


@pytest.fixture(scope="session", params=("sqlite", "postgresql"))
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend the test runs on."""
    return str(request.param)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the whole session. Missing PostgreSQL fails the tests: they must
    run, not skip (`make test` installs it)."""
    from tests.services.postgres import PostgresMissing, start_postgres, stop_postgres
    try:
        server = start_postgres()
    except PostgresMissing as exc:
        pytest.fail(str(exc))
    yield server
    stop_postgres(server)


def new_database(request: pytest.FixtureRequest, backend: str, data_dir: Path) -> Database:
    """A fresh, empty database: the SQLite file of a server with `data_dir`, or a new PostgreSQL
    database in the session's cluster. The caller drops it when done."""
    from tests.services.database import PostgresDatabase, SQLiteFile
    if backend == "sqlite":
        return SQLiteFile(data_dir)
    server = request.getfixturevalue("postgres_server")
    return PostgresDatabase(server, server.create_database())


@pytest.fixture
def database(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Database]:
    """The test's own database, on the test's backend, for a server whose data folder is tmp_path/var."""
    made = new_database(request, backend, tmp_path / "var")
    yield made
    made.drop()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[PostgresDatabase]:
    """A fresh PostgreSQL database whatever the backend, for the tests of PostgreSQL itself."""
    from tests.services.database import PostgresDatabase
    made = PostgresDatabase(postgres_server, postgres_server.create_database())
    yield made
    made.drop()


@pytest.fixture
def insecure_kdf_config(tmp_path: Path, database: Database) -> Any:
    """A Config with fast, insecure key derivation, a fresh data folder and the test's database."""
    from server.config import load_config

    return load_config(env=INSECURE_TEST_ENV,
                       overrides={"data_dir": str(tmp_path / "var"), "database_url": database.url})


@pytest.fixture
def clock() -> Any:
    """A settable wall clock (unix seconds) for expiry tests."""
    from tests.helpers import Clock
    return Clock()


@pytest.fixture
async def client(aiohttp_client: Any, insecure_kdf_config: Any, clock: Any) -> Any:
    """A real in-process server (aiohttp test server) on the test's database."""
    from server.app import create_app
    return await aiohttp_client(create_app(insecure_kdf_config, clock=clock))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A real `oor serve` process with its own data folder, its database and captured output."""

    url: str
    data_dir: Path
    output: Path
    smtp_port: int
    env: dict[str, str] = field(repr=False)  # OOR_DATABASE_URL holds the test cluster's password
    process: subprocess.Popen[bytes]
    store: Database
    robot: Any = None  # the signing robot (tests/transparency.py), None when the test turned it off

    def stored_bytes(self) -> bytes:
        """Everything the server has written to disk: its data folder and its database's files."""
        from tests.services.database import written
        return written(self.data_dir, self.store)

    def oor(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the `oor` CLI against the same data folder and configuration."""
        return subprocess.run([sys.executable, "-m", "server.cli", *args, "--data", str(self.data_dir)],
                              env=self.env, cwd=REPO, capture_output=True, text=True, timeout=60)

    def invite(self, name: str, *flags: str) -> str:
        done = self.oor("volunteer", "invite", name, *flags)
        if done.returncode != 0:
            raise AssertionError(f"oor volunteer invite failed: {done.stderr}")
        return done.stdout.strip()

    def read_output(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    async def keys_ready(self, name: str) -> None:
        """Until the signing robot has logged the account's keys (tests/transparency.py)."""
        import asyncio
        if self.robot is not None:
            await asyncio.to_thread(self.robot.wait_ready, name)


def start_live_server(tmp: Path, extra_env: dict[str, str] | None = None,
                      rlimit_nofile: tuple[int, int] | None = None, database: Database | None = None,
                      signing_robot: bool = True) -> LiveServer:
    """`rlimit_nofile=(soft, hard)` starts the process with that open file limit; `database` is the
    one to use (the `database` fixture's, or one shared by several servers), by default the SQLite
    file in tmp/var. The release is published first (`oor release publish`, as after an install), and
    a signing robot (tests/transparency.py) signs every enrolled account unless `signing_robot` is False."""
    from tests.services.database import SQLiteFile
    from tests.transparency import ThreadRobot, publish_release
    port, smtp_port = free_port(), free_port()
    data = tmp / "var"
    output = tmp / "server-output.log"
    store = database if database is not None else SQLiteFile(data)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")}, **INSECURE_TEST_ENV,
           "OOR_PUBLIC_URL": f"http://127.0.0.1:{port}", **({"OOR_DATABASE_URL": store.url} if store.url else {}),
           **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    publish_release(data, env)
    with output.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--data", str(data),
                                 "--http", f"127.0.0.1:{port}", "--smtp", f"127.0.0.1:{smtp_port}"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=None if rlimit_nofile is None else (
                                    lambda: resource.setrlimit(resource.RLIMIT_NOFILE, rlimit_nofile)))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"oor serve exited early:\n{output.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"oor serve did not start:\n{output.read_text()}")
    robot = ThreadRobot(env, data).start() if signing_robot else None
    return LiveServer(f"http://127.0.0.1:{port}", data, output, smtp_port, env, proc, store, robot)


def stop_live_server(server: LiveServer) -> None:
    if server.robot is not None:
        server.robot.stop()
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest, backend: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One `oor serve` per backend for the whole session, on a database of its own."""
    tmp = tmp_path_factory.mktemp(f"live-{backend}")
    store = new_database(request, backend, tmp / "var")
    server = start_live_server(tmp, database=store)
    yield server
    stop_live_server(server)
    store.drop()


# -- Redis (tests/services/redis.py): the live state several nodes share --------------------------

if TYPE_CHECKING:
    from tests.services.redis import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis (persistence off) for the whole session. Missing Redis fails the tests: they must
    run, not skip (`make test` installs Debian's redis-server)."""
    from tests.services.redis import RedisMissing, start_redis, stop_redis
    try:
        server = start_redis()
    except RedisMissing as exc:
        pytest.fail(str(exc))
    yield server
    stop_redis(server)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test: what `hub_url` says to reach it."""
    redis_server.flush()
    return redis_server.url
