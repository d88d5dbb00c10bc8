"""The cluster of DESIGN.md 3, for real: PostgreSQL, Redis, N web nodes, the gateway and nginx.

`start_cluster(tmp)` starts, from Debian's packages and this project's own files:

- PostgreSQL (tests/services/postgres.py) with a fresh database, the storage every process shares;
- Redis (tests/services/redis.py, persistence off), the live chat state the web nodes share;
- N web nodes, `oor serve --only web`, each a real process (tests/processes.py) on a free port of
  its own, with `OOR_DATABASE_URL`, `OOR_HUB_URL` and the tests' insecure settings (fast Argon2id,
  `INSECURE_TEST_ENV`), behind nginx as deployed (`client_address_header = "X-Real-IP"`,
  `public_url` nginx's https address);
- one gateway, `oor serve --only smtp`, on the same storage;
- nginx running deploy/nginx/ (tests/deploy/nginx.py) with every node in the upstream.

`Cluster.url` is what a browser opens (nginx, TLS with a self-signed certificate: clients pass
`ssl=False`). `Cluster.nodes[i]` can be stopped the way systemd stops it (`sigterm`, which answers
how long the node took to exit: the drain), killed (`sigkill`), and started again on the same port
(`start`, which waits until the node answers /api/health). `stop_cluster` stops everything, whatever
state a test left it in; the caller calls it in a `finally`.

Which node served a request needs no server change: every node writes its private access log
(method, route, status; never an address) to its output, so `Node.served(route)` counts the lines
of one route. `Cluster.wait_in_rotation(node)` sends requests through nginx until one reaches that
node: after a restart, nginx's failure mark (`fail_timeout` in oor-upstream.conf) must have run
out before the next node may stop, as in an operator's rolling restart.

No orphans: besides the `finally`, a small reaper process watches this one and, should it die
without cleaning up (a timeout's SIGKILL runs no `finally`), stops the nodes, the gateway and nginx
(whose pids it reads from a file kept current on every start); PostgreSQL and Redis have reapers of
their own.

Until the server knows the `hub_url` setting, the nodes start without it (an unknown OOR_ variable
is a configuration error): each then keeps its chats in its own memory, and `Cluster.shared_state`
is False. Everything here works either way; only what the chats survive differs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port
from tests.deploy.nginx import Nginx, start_nginx, stop_nginx
from tests.processes import OorProcess, oor_env, run_oor, start_oor
from tests.services.database import PostgresDatabase
from tests.services.postgres import PostgresServer, start_postgres, stop_postgres
from tests.services.redis import RedisServer, start_redis, stop_redis

START_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 30.0

# Run beside the harness: once the harness process is gone without stopping its cluster, stop what
# the pid file names (SIGTERM, then SIGKILL after 5 s). A pid is signalled only while its command
# line still is one of ours, so that a pid the system reused is never touched.
REAPER = """
import os, signal, sys, time
parent, pids_file = int(sys.argv[1]), sys.argv[2]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
def ours():
    found = []
    try:
        lines = open(pids_file).read().split()
    except OSError:
        return found
    for pid in map(int, lines):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if b"server.cli" in cmd or b"nginx" in cmd:
            found.append(pid)
    return found
for sig, pause in ((signal.SIGTERM, 5), (signal.SIGKILL, 0)):
    for pid in ours():
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    time.sleep(pause)
"""


class NodeStuck(AssertionError):
    """A node did not exit within the time allowed after SIGTERM; it was killed."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


@dataclass
class Node:
    """One web node, `oor serve --only web` on a port that stays its own across restarts."""

    index: int
    port: int
    folder: Path
    env: dict[str, str] = field(repr=False)  # holds the database's and Redis's passwords
    on_start: list[Callable[[], None]] = field(default_factory=list, repr=False)  # keeps the pid file current
    process: OorProcess | None = None
    runs: int = 0
    sigterm_at: float | None = None

    @property
    def name(self) -> str:
        return f"web-{self.index}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "var"

    @property
    def url(self) -> str:
        """The node itself, bypassing nginx (for health checks; pages go through `Cluster.url`)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.process.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.process.poll() is None

    def output(self) -> str:
        """Everything the node wrote, over all its runs (each run has its own file: a restart must not
        overwrite what the previous run said while it drained)."""
        return "".join(p.read_text(encoding="utf-8", errors="replace") for p in self._outputs())

    def _outputs(self) -> list[Path]:
        return [self.folder / f"{self.name}-run{i}-output.log" for i in range(1, self.runs + 1)
                if (self.folder / f"{self.name}-run{i}-output.log").exists()]

    def served(self, route: str, status: int | None = None, method: str = "GET") -> int:
        """How many requests for `route` (the route's template, e.g. "/api/health" or "/ws/chat") this
        node answered, over all its runs, from its private access log; with `status`, only those."""
        needle = f'"{method} {route}" {status}' if status is not None else f'"{method} {route}" '
        return self.output().count(needle)

    def start(self) -> None:
        """Start the node (again) on its port, and wait until it answers /api/health itself."""
        if self.alive():
            raise RuntimeError(f"{self.name} is running already")
        self._release_robot()
        self.runs += 1
        self.sigterm_at = None
        self.process = start_oor(self.folder, self.data_dir, only="web", http_port=self.port, env=self.env,
                                 name=f"{self.name}-run{self.runs}")
        for callback in self.on_start:
            callback()
        wait_healthy(self.url, self.process, START_TIMEOUT_S)

    def sigterm(self, wait: bool = True, timeout: float = EXIT_TIMEOUT_S) -> float:
        """Stop the node as systemd does (SIGTERM). With `wait`, answer the seconds from the signal to
        the exit (the drain); a node still running after `timeout` is killed and NodeStuck raised."""
        if not self.alive():
            raise RuntimeError(f"{self.name} is not running")
        assert self.process is not None
        self.sigterm_at = time.monotonic()
        self.process.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout) if wait else 0.0

    def wait_exit(self, timeout: float = EXIT_TIMEOUT_S) -> float:
        """Wait for the exit after `sigterm(wait=False)`; the seconds since the signal."""
        if self.process is None or self.sigterm_at is None:
            raise RuntimeError(f"{self.name} was not sent SIGTERM")
        remaining = self.sigterm_at + timeout - time.monotonic()
        try:
            self.process.process.wait(timeout=max(remaining, 0.0))
        except subprocess.TimeoutExpired:
            self.process.process.kill()
            self.process.process.wait(timeout=10)
            seconds = time.monotonic() - self.sigterm_at
            raise NodeStuck(f"{self.name} did not exit within {timeout:.0f} s of SIGTERM (killed):\n"
                            f"{tail(self.output())}", seconds) from None
        return time.monotonic() - self.sigterm_at

    def sigkill(self) -> None:
        """A crash: SIGKILL, no drain; waits until the process is gone."""
        if self.process is not None and self.process.process.poll() is None:
            self.process.process.kill()
            self.process.process.wait(timeout=10)

    def stop(self) -> None:
        """For the clean-up: SIGTERM, and SIGKILL if it does not exit in time; never raises."""
        if self.alive():
            with contextlib.suppress(Exception):
                self.sigterm(wait=True)
            self.sigkill()
        self._release_robot()

    def _release_robot(self) -> None:
        """Let go of the signing robot of the run that has ended (SIGTERM, SIGKILL or a crash bypass
        `Started.stop`): otherwise its storage pool outlives the cluster's PostgreSQL and retries for the
        rest of the session, logging a traceback each time from the robot's thread."""
        if self.process is not None and self.process.robot is not None:
            robot, self.process.robot = self.process.robot, None
            robot.release()


@dataclass
class Cluster:
    """What `start_cluster` started; fields are None while (or if) that part is not started."""

    root: Path
    https_port: int
    http_port: int
    env: dict[str, str] = field(repr=False)
    shared_state: bool = False
    postgres: PostgresServer | None = None
    database: PostgresDatabase | None = None
    redis: RedisServer | None = None
    nodes: list[Node] = field(default_factory=list)
    gateway: OorProcess | None = None
    nginx: Nginx | None = None
    reaper: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """What a browser opens: nginx's https address (self-signed certificate)."""
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def smtp_port(self) -> int:
        if self.gateway is None:
            raise RuntimeError("this cluster has no gateway")
        return self.gateway.smtp_port

    def oor(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `oor` CLI against the cluster's storage (as `oor-admin` on a node would run it)."""
        return run_oor(self.root / "admin", *args, env=self.env)

    def invite(self, name: str, *flags: str) -> str:
        """An invitation from the CLI (`oor volunteer invite NAME [flags]`); the token, without the link."""
        done = self.oor("volunteer", "invite", name, *flags)
        if done.returncode != 0:
            raise AssertionError(f"oor volunteer invite failed: {done.stderr}")
        return done.stdout.strip().split("#uitnodiging=", 1)[1]

    def pid_file(self) -> Path:
        return self.root / "pids"

    def write_pids(self) -> None:
        """Keep the reaper's list current: every process of ours that may be running now."""
        pids = [n.pid for n in self.nodes if n.process is not None]
        if self.gateway is not None:
            pids.append(self.gateway.process.pid)
        if self.nginx is not None:
            pids.append(self.nginx.process.pid)
        tmp = self.pid_file().with_suffix(".tmp")
        tmp.write_text("".join(f"{p}\n" for p in pids))
        tmp.replace(self.pid_file())

    def get(self, path: str, timeout: float = 10.0, method: str = "GET") -> int:
        """One request through nginx; the status (an HTTP error status too), or raises on no answer."""
        return http_get(self.url + path, timeout, method)

    def wait_in_rotation(self, node: Node, timeout: float = 15.0, strict: bool = True) -> list[int]:
        """GET /api/health through nginx until one of them reaches `node`: nginx uses it again (its
        failure mark from the downtime has run out). Any other answer than 200 fails at once, or with
        `strict=False` (a benchmark that counts them) is answered: the statuses seen, in order."""
        before = node.served("/api/health", 200)
        others: list[int] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.get("/api/health")
            if status != 200:
                if strict:
                    raise AssertionError(f"nginx answered {status} while {node.name} came back")
                others.append(status)
            # The access log line is written once the answer is sent: give it a moment.
            for _ in range(5):
                if node.served("/api/health", 200) > before:
                    return others
                time.sleep(0.02)
        raise AssertionError(f"nginx sent {node.name} no request within {timeout:.0f} s of its restart")


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _insecure_tls() -> ssl.SSLContext:
    """nginx's certificate is a test's own self-signed one."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx


def http_get(url: str, timeout: float = 10.0, method: str = "GET") -> int:
    try:
        request = urllib.request.Request(url, method=method)
        with urllib.request.urlopen(request, timeout=timeout, context=_insecure_tls()) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def wait_healthy(url: str, process: OorProcess, timeout: float) -> None:
    """Until `url`/api/health answers 200 (start_oor waited for the port; the app may still be starting).

    HEAD, not GET: the node's access log tells them apart, so that these checks from here never
    count as requests nginx sent (`Node.served`, `Cluster.wait_in_rotation` count GETs)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(f"{url}: oor serve exited ({process.process.returncode}):\n{tail(process.output())}")
        try:
            if http_get(url + "/api/health", 2.0, method="HEAD") == 200:
                return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.05)
    raise RuntimeError(f"{url}: no healthy answer within {timeout:.0f} s ({last}):\n{tail(process.output())}")


def server_knows(setting: str) -> bool:
    """Whether this tree's configuration has `setting` (an unknown OOR_ variable stops the server)."""
    from server.config import Config
    return setting in {f.name for f in dataclasses.fields(Config)}


def start_cluster(tmp: Path, nodes: int = 2, gateway: bool = True, env: dict[str, str] | None = None, *,
                  durable_postgres: bool = False, nginx_connections: int = 4096) -> Cluster:
    """Start everything (see the module's docstring) in `tmp`; on any failure, stop what was started
    and raise. `env` adds (or overrides) OOR_ settings for every process; `durable_postgres` runs
    PostgreSQL with its production durability (for benchmarks); `nginx_connections` is nginx's
    worker_connections (two per proxied websocket: a few thousand chats need more than Debian's 768)."""
    if not 1 <= nodes <= 2:
        raise ValueError("deploy/nginx/oor-upstream.conf lists two nodes: start one or two")
    tmp.mkdir(parents=True, exist_ok=True)
    https_port, http_port = free_port(), free_port()
    public_url = f"https://127.0.0.1:{https_port}"
    cluster = Cluster(tmp, https_port, http_port, env={})
    try:
        cluster.reaper = subprocess.Popen(
            [sys.executable, "-c", REAPER, str(os.getpid()), str(cluster.pid_file())], start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cluster.postgres = start_postgres(durable=durable_postgres)
        cluster.database = PostgresDatabase(cluster.postgres, cluster.postgres.create_database())
        cluster.redis = start_redis()
        cluster.shared_state = server_knows("hub_url")
        cluster.env = oor_env(public_url, {
            "OOR_DATABASE_URL": cluster.database.url,
            **({"OOR_HUB_URL": cluster.redis.url} if cluster.shared_state else {}),
            # As deployed behind nginx (deploy/oor.toml): the node trusts nginx's X-Real-IP.
            "OOR_CLIENT_ADDRESS_HEADER": "X-Real-IP",
            # One log, one log key: every node signs the checkpoints of the one shared log (issue 17).
            "OOR_LOG_KEY_FILE": str(tmp / "log.key"),
            **(env or {}),
        })
        for i in range(nodes):
            folder = tmp / f"web-{i}"
            folder.mkdir(exist_ok=True)
            node = Node(i, free_port(), folder, cluster.env)
            node.on_start.append(cluster.write_pids)
            cluster.nodes.append(node)
            node.start()
        if gateway:
            cluster.gateway = start_oor(tmp, tmp / "gateway" / "var", only="smtp", env=cluster.env, name="gateway")
            cluster.write_pids()
        cluster.nginx = start_nginx(tmp / "nginx", [n.port for n in cluster.nodes], https_port, http_port,
                                    worker_connections=nginx_connections)
        cluster.write_pids()
        wait_through_nginx(cluster)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def wait_through_nginx(cluster: Cluster, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cluster.get("/api/health", 2.0, method="HEAD") == 200:  # HEAD: see wait_healthy
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("nginx did not pass /api/health to a node")
        time.sleep(0.05)


def stop_cluster(cluster: Cluster) -> None:
    """Stop everything that runs, whatever the state: nginx first (no new requests), then the nodes
    and the gateway (SIGTERM, then SIGKILL), Redis, PostgreSQL (its folder removed). Each step runs
    even if one before it failed; the first failure is raised at the end."""
    errors: list[BaseException] = []

    def step(action: Callable[[], object]) -> None:
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - every part must be stopped; the first error is raised
            errors.append(exc)

    if cluster.nginx is not None:
        step(lambda: stop_nginx(cluster.nginx))  # type: ignore[arg-type]
    for node in cluster.nodes:
        step(node.stop)
    if cluster.gateway is not None:
        gateway = cluster.gateway

        def stop_gateway() -> None:
            try:
                gateway.stop()
            finally:
                if gateway.process.poll() is None:
                    gateway.process.kill()
                    gateway.process.wait(timeout=10)
        step(stop_gateway)
    if cluster.redis is not None:
        step(lambda: stop_redis(cluster.redis))  # type: ignore[arg-type]
    if cluster.postgres is not None:
        step(lambda: stop_postgres(cluster.postgres))  # type: ignore[arg-type]
    cluster.redis = cluster.postgres = None
    if cluster.reaper is not None and cluster.reaper.poll() is None:
        step(cluster.reaper.kill)
        step(lambda: cluster.reaper.wait(timeout=10))  # type: ignore[union-attr]
    if errors:
        raise errors[0]


__all__ = ["Cluster", "Node", "NodeStuck", "http_get", "start_cluster", "stop_cluster"]
