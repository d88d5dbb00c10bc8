"""The tests' coordinator: a fixed test root key, and a signing robot that plays the coordinators.

Every test server (in-process apps, aiohttp test clients, `oor serve` processes, cluster nodes) is
configured with the test root's public key (`INSECURE_TEST_ENV["OOR_ROOT_PUBLIC_KEY"]`, tests/conftest.py)
and gets a `SigningRobot`: every ~50 ms it does what the coordinators do, through the real code path
(server/transparency/keys.py): `pending_request` -> `build_statements` with the test root ->
`import_signed` (which appends to the log and checkpoints with the log key). So an enrolled volunteer
becomes ready a moment later, as in production once a coordinator signed, and the suite that predates
the key gate runs with the gate on.

Tests that are *about* the gate turn the robot off: `@pytest.mark.no_signing_robot` (aiohttp test
clients, tests/conftest.py), `start_in_process(..., signing_robot=False)`, or `signing_robot=False`
for the process harnesses. `wait_ready` lets a helper wait until an account's keys are logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import crypto

log = logging.getLogger("tests.robot")

TEST_ROOT_SEED = hashlib.sha256(b"luisterend-oor test root").digest()
# RootKey.from_seed(TEST_ROOT_SEED).public, written out so that tests/conftest.py needs no key at import
# (tests/server/test_key_statements.py checks that the two agree).
TEST_ROOT_PUBLIC_KEY = "WHiP7dOaDTliAWWlnmRHevI6FkTo5eoeMabVNljmCDc"
POLL_SECONDS = 0.05
SIGN_DAYS = 5 * 366  # the longest `oor root sign` accepts: tests move their clocks by days, never years

# One robot signs for a storage at a time: two apps on one database (a cluster's nodes in one test)
# must not both log the same account's statement.
_locks: dict[tuple[int, str], asyncio.Lock] = {}


def robot_root() -> crypto.RootKey:
    """The test root key (the private half of TEST_ROOT_PUBLIC_KEY)."""
    return crypto.RootKey.from_seed(TEST_ROOT_SEED)


test_root = robot_root  # the name other test modules import;
test_root.__test__ = False  # type: ignore[attr-defined]  # ... and not a test where it is imported


def _storage_key(config: Any) -> str:
    return config.database_url or str(config.data_dir)


class SigningRobot:
    """Signs every pending request of one storage with the test root, until stopped."""

    def __init__(self, storage: Any, config: Any, *, log: Any = None,
                 clock: Callable[[], float] | None = None, interval: float = POLL_SECONDS) -> None:
        self.storage, self.config, self.log, self.interval = storage, config, log, interval
        self.clock = clock or time.time
        self.task: asyncio.Task[None] | None = None
        self.signed = 0
        self.errors: list[str] = []

    def now(self) -> int:
        # Valid from before both clocks (an app's test clock may be behind or ahead of the browser's).
        return int(min(self.clock(), time.time())) - 3600

    async def sign_once(self) -> int:
        """One round trip, as the coordinators would do it; answers how many statements were logged."""
        from server.transparency.keys import KeysError, build_statements, import_signed, pending_request
        lock = _locks.setdefault((id(asyncio.get_running_loop()), _storage_key(self.config)), asyncio.Lock())
        async with lock:
            request = await pending_request(self.storage, self.config, self.log)
            if not request["requests"]:
                return 0
            now = self.now()
            signed = build_statements(request, robot_root(), now=now, days=SIGN_DAYS)
            try:
                await import_signed(self.storage, self.config, signed, now=now)
            except KeysError as exc:  # raced with a test's own import: the next round sees the log as it is
                self.errors.append(str(exc))
                return 0
        self.signed += len(signed["statements"])
        if self.log is not None:
            await self.log.refresh()
        return len(signed["statements"])

    async def run(self) -> None:
        while True:
            try:
                await self.sign_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a storage closing under it at the end of a test; never fatal
                self.errors.append(repr(exc))
                log.debug("signing robot: %r", exc)
            await asyncio.sleep(self.interval)

    def start(self) -> "SigningRobot":
        self.task = asyncio.ensure_future(self.run())
        return self

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass
            self.task = None


def robot_for_app(app: Any) -> SigningRobot:
    """A started robot for a running application (its storage, config, clock and log).

    Besides polling, it signs at once when an account is enrolled: the application's storage has its
    `enrol` followed by one round trip of the robot before the enrolment's answer goes out. So a test
    that enrols and then logs in finds the account ready, as it would be once a coordinator signed; the
    statement is signed, logged and checkpointed by the same code as ever, only sooner."""
    from server.keys import CLOCK, CONFIG, STORAGE
    from server.transparency.log import LOG
    storage = app[STORAGE]
    robot = SigningRobot(storage, app[CONFIG], log=app.get(LOG), clock=app[CLOCK])
    enrol = storage.enrol

    async def enrol_then_sign(*args: Any, **kwargs: Any) -> Any:
        volunteer_id = await enrol(*args, **kwargs)
        if robot.task is not None:  # a stopped robot signs nothing
            try:
                await robot.sign_once()
            except Exception as exc:  # never the enrolment's failure: the polling signs it a moment later
                robot.errors.append(repr(exc))
        return volunteer_id

    storage.enrol = enrol_then_sign
    return robot.start()


async def wait_ready(app: Any, account_id: bytes | None = None, *, name: str | None = None,
                     timeout: float = 30) -> None:
    """Until the application's log says "ready" for this account (by id, or by name)."""
    from server.keys import STORAGE
    from server.transparency.log import LOG
    log_ = app[LOG]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if account_id is None and name is not None:
            volunteer = await app[STORAGE].volunteer_by_name(name)
            account_id = volunteer.account_id if volunteer is not None else None
        if account_id is not None and log_.status_for(account_id) == "ready":
            return
        if asyncio.get_running_loop().time() > deadline:
            status = log_.status_for(account_id) if account_id is not None else "no account"
            raise AssertionError(f"keys of {name or account_id!r} not ready within {timeout} s: {status}")
        await asyncio.sleep(0.05)


_shared: dict[str, tuple[Any, int]] = {}
_shared_lock = threading.Lock()
_publish_lock = threading.Lock()


class EveryKeyReady:
    """A log for unit tests of the chat hub's other parts (a hub without an application, storage or log):
    every account's status is "ready", so the key gate lets everyone through. Tests of the gate itself
    use the real TransparencyLog (tests/server/test_key_statements.py)."""

    def __init__(self) -> None:
        self.callbacks: list[Any] = []

    def status_for(self, account_id: bytes) -> str:
        return "ready"

    def proof_for(self, account_id: bytes) -> None:
        return None

    def on_change(self, callback: Any) -> None:
        self.callbacks.append(callback)


class ThreadRobot:
    """The robot for `oor serve` processes: its own thread and event loop, its own storage connection to
    the server's database, and the server's data folder (the log key file the server made)."""

    def __init__(self, env: dict[str, str], data_dir: Any, interval: float = POLL_SECONDS) -> None:
        self.env, self.data_dir, self.interval = dict(env), Path(data_dir), interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._main, name="signing-robot", daemon=True)
        self.errors: list[str] = []
        self.key = ""
        self.loop: Any = None
        self.storage: Any = None

    def wait_ready(self, name: str, timeout: float = 30) -> None:
        """Until the account's keys are logged and checkpointed (key_ready in the shared storage), as after a
        coordinator signed; then one more moment for the server's own log to notice (it refreshes every
        OOR_LOG_REFRESH_SECONDS, 0.1 s). Blocking: from an async test, through asyncio.to_thread."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.storage is not None and self.loop is not None:
                found = asyncio.run_coroutine_threadsafe(self.storage.volunteer_by_name(name), self.loop).result(10)
                if found is not None and found.key_ready:
                    time.sleep(0.5)
                    return
            time.sleep(0.05)
        raise AssertionError(f"the keys of {name!r} were not logged within {timeout} s: {self.errors[-3:]}")

    def start(self) -> "ThreadRobot":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=20)

    @classmethod
    def shared(cls, env: dict[str, str], data_dir: Any) -> "ThreadRobot":
        """The one robot of a storage several processes share (a web part and a gateway, cluster nodes):
        started by the first, stopped when the last lets go (`release`)."""
        key = env.get("OOR_DATABASE_URL") or str(Path(data_dir).resolve())
        with _shared_lock:
            robot, count = _shared.get(key, (None, 0))
            if robot is None:
                robot = cls(env, data_dir).start()
            _shared[key] = (robot, count + 1)
            robot.key = key
            return robot

    def release(self) -> None:
        with _shared_lock:
            robot, count = _shared.get(self.key, (None, 0))
            if robot is self and count > 1:
                _shared[self.key] = (robot, count - 1)
                return
            _shared.pop(self.key, None)
        self.stop()

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        from server.config import load_config
        from server.storage import open_storage
        config = load_config(env={k: v for k, v in self.env.items() if k.startswith("OOR_")},
                             overrides={"data_dir": str(self.data_dir)})
        storage = None
        robot = None
        self.loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            try:
                if storage is None:
                    key_file = Path(config.log_key_file or self.data_dir / "log.key")
                    if not key_file.exists():
                        await asyncio.sleep(self.interval)  # the server has not made its log key yet
                        continue
                    storage = open_storage(config)
                    await storage.open()
                    self.storage = storage
                    robot = SigningRobot(storage, config)
                assert robot is not None
                await robot.sign_once()
            except Exception as exc:
                self.errors.append(repr(exc))
            await asyncio.sleep(self.interval)
        if storage is not None:
            await storage.close()



def publish_release(data_dir: Any, env: dict[str, str]) -> None:
    """`oor release publish` on a data folder, as an operator does after installing a release and before
    `oor serve` (which refuses to start on files that differ from the latest logged manifest)."""
    import subprocess
    import sys
    from tests.conftest import REPO
    with _publish_lock:  # servers started at once (threads) would race to make one shared log key file
        done = subprocess.run([sys.executable, "-m", "server.cli", "release", "publish", "--data", str(data_dir)],
                              env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"oor release publish failed:\n{done.stdout}{done.stderr}")
