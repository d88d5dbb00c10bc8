"""Debian's Redis (7.x), run by the tests in a temporary folder on a free port (never the system service).

`start_redis()` starts `/usr/bin/redis-server` in the foreground with persistence off (`save ""`,
`appendonly no`), as production must run it (DESIGN.md invariant 4: chats are never stored), bound
to 127.0.0.1 on a free port, with its working folder (`dir`) and log inside a new folder under /tmp.
`settings` adds command-line settings after those, so that a test can start a Redis that keeps
something on disk and check that the server refuses it.

`RedisServer.dump_all()` is the tests' view from outside the server: every key with its type, its
time to live and its DUMP bytes, so that a test can check that every key expires and that no key or
value holds an address. DUMP bytes are searchable as they are: the server runs with
`rdbcompression no` (DUMP would otherwise LZF-compress longer strings and hide what they hold; the
setting changes nothing else, since nothing is ever written to disk). `flush()` empties it between tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import redis

from tests.conftest import free_port

REDIS_SERVER = Path("/usr/bin/redis-server")

# Run beside the tests: once the test process is gone, however it ended (a timeout's SIGKILL runs
# no fixture's teardown), stop its Redis and remove the folder. Normally both are done already.
REAPER = """
import os, shutil, signal, sys, time
parent, pid, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
try:
    os.kill(pid, signal.SIGKILL)
except ProcessLookupError:
    pass
shutil.rmtree(root, ignore_errors=True)
"""


class RedisMissing(RuntimeError):
    """Redis is not installed where Debian puts it."""


class RedisServer:
    """One running test Redis, and a synchronous client for the tests' own checks."""

    def __init__(self, root: Path, port: int, process: subprocess.Popen[bytes], password: str | None) -> None:
        self.root = root
        self.dir = root  # Redis's working folder (`dir`): where it would write a dump or an AOF
        self.port = port
        self.process = process
        self.password = password
        self.log = root / "redis.log"
        auth = f":{quote(password, safe='')}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{port}/0"
        self.client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=10)

    def dump_all(self) -> dict[bytes, tuple[str, int, bytes]]:
        """Every key: (type, PTTL in ms (-1: never expires), DUMP bytes). SCAN, so never KEYS."""
        found: dict[bytes, tuple[str, int, bytes]] = {}
        for key in self.client.scan_iter(count=1000):
            kind = self.client.type(key)
            pttl = int(self.client.pttl(key))
            dumped = self.client.dump(key)
            if pttl == -2 or dumped is None:  # expired between SCAN and now
                continue
            found[key] = (kind.decode() if isinstance(kind, bytes) else str(kind), pttl, bytes(dumped))
        return found

    def flush(self) -> None:
        self.client.flushall()

    def config_get(self, name: str) -> str:
        value = self.client.config_get(name).get(name, "")
        return value.decode() if isinstance(value, bytes) else str(value)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_redis(settings: Sequence[str] = (), password: str | None = None) -> RedisServer:
    """A new Redis in a new folder under /tmp; the caller stops it with `stop_redis`, which removes
    the folder (and REAPER does, should the caller die). `settings` are extra command-line
    arguments (e.g. `("--save", "900 1")`); `password` sets `requirepass`, given in a config file
    in the folder so that it never appears in the process list."""
    if not REDIS_SERVER.exists():
        raise RedisMissing(f"redis-server not found at {REDIS_SERVER}: run `make test`, which installs Debian's "
                           "redis-server; the Redis tests must run, not skip")
    root = Path(tempfile.mkdtemp(prefix="oor-redis-", dir="/tmp"))
    port = free_port()
    config = root / "redis.conf"
    config.write_text(f"requirepass {password}\n" if password else "")
    config.chmod(0o600)
    argv = [str(REDIS_SERVER), str(config), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root),
            "--save", "", "--appendonly", "no", "--rdbcompression", "no", "--daemonize", "no",
            "--logfile", str(root / "redis.log"), *settings]
    process = subprocess.Popen(argv, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    subprocess.Popen([sys.executable, "-c", REAPER, str(os.getpid()), str(process.pid), str(root)],
                     start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    server = RedisServer(root, port, process, password)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log = server.log.read_text(errors="replace") if server.log.exists() else ""
                raise RuntimeError(f"redis-server exited early ({process.returncode}):\n{log}")
            try:
                if server.client.ping():
                    break
            except (redis.ConnectionError, redis.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer PING within 30 s")
            time.sleep(0.05)
    except BaseException:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def stop_redis(server: RedisServer) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.root, ignore_errors=True)
