"""The cluster harness (tests/deploy/cluster.py) and the failover nginx gives it, for real.

One cluster for the module, in file order: PostgreSQL, Redis, two `oor serve --only web` nodes,
the gateway and nginx running deploy/nginx/ with both nodes in its upstream.

1. nginx spreads requests over both nodes (round robin, no stickiness), and the gateway answers;
2. a rolling restart (SIGTERM one node, start it again, wait until nginx uses it, then the other)
   never shows a client anything but 200: a request that reaches a stopped node is refused and
   passed to the other node by `proxy_next_upstream` (luisterend-oor.conf), websocket upgrades
   included;
3. a killed node (SIGKILL: no drain) is passed over just the same;
4. `stop_cluster` leaves no process behind.

Which node answered is read from each node's own access log (route and status, never an address),
so none of this needs anything from the server but `/api/health`. What chats survive a roll is
bench/failover.py's to measure.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.deploy.cluster import Cluster, Node, start_cluster, stop_cluster
from tests.processes import mail_to_gateway


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    made = start_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield made
    finally:
        stop_cluster(made)


@dataclass
class Probe:
    """GET /api/health through nginx, back to back, from a thread, while the test stops and starts
    nodes: every answer with the time its request started, and every request that got none."""

    port: int
    answers: list[tuple[float, int]] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Probe:
        self._thread = threading.Thread(target=self._run, name="nginx-probe", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)

    def _run(self) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        conn: http.client.HTTPSConnection | None = None
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=ctx)
                conn.request("GET", "/api/health")
                resp = conn.getresponse()
                resp.read()
                self.answers.append((started, resp.status))
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append((started, f"{type(exc).__name__}: {exc}"))
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(0.005)
        if conn is not None:
            conn.close()

    def between(self, start: float, end: float) -> list[int]:
        return [status for at, status in self.answers if start <= at < end]


async def _upgrades_while_down(cluster: Cluster, count: int) -> list[int]:
    """Open `count` help-seeker websockets through nginx (each a new upgrade request) and close them;
    the handshake statuses (101 for an open socket)."""
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(ssl=False, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(count):
            try:
                ws = await http.ws_connect(cluster.url + "/ws/chat", headers={"Origin": cluster.url})
            except aiohttp.WSServerHandshakeError as exc:
                statuses.append(exc.status)
                continue
            statuses.append(101)
            await ws.close()
    return statuses


def test_nginx_spreads_requests_over_both_nodes_and_the_gateway_answers(cluster: Cluster) -> None:
    time.sleep(0.2)  # the access lines of what came before are written
    before = [n.served("/api/health", 200) for n in cluster.nodes]
    for _ in range(20):
        assert cluster.get("/api/health") == 200
    time.sleep(0.2)  # the access lines are written after the answers
    after = [n.served("/api/health", 200) for n in cluster.nodes]
    spread = [a - b for a, b in zip(after, before)]
    # Round robin: about half each (the harness's own checks are HEAD requests, not counted).
    assert sum(spread) == 20 and all(s >= 5 for s in spread), spread
    # The gateway runs on the same storage: nobody takes mail yet, so it asks the sender's server
    # to keep the mail and try again later (rather than store what nobody may read yet).
    code, text = mail_to_gateway(cluster.smtp_port, "iemand@example.org", "Een vraag aan jullie")
    assert (code, text.split()[0]) == (451, "4.3.2"), (code, text)


def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _roll(cluster: Cluster, node: Node, probe: Probe, upgrades: list[int]) -> float:
    drain = node.sigterm()
    assert not node.alive()
    down_from = time.monotonic()
    time.sleep(0.5)  # requests go on meanwhile
    other = next(n for n in cluster.nodes if n is not node)
    before = other.served("/ws/chat", 101)
    upgrades += asyncio.run(_upgrades_while_down(cluster, 4))
    # Every upgrade went to the node that runs (its access line is written when the socket closes).
    assert _eventually(lambda: other.served("/ws/chat", 101) - before >= 4)
    down_until = time.monotonic()
    assert probe.between(down_from, down_until), "no request was sent while the node was down"
    node.start()
    cluster.wait_in_rotation(node)
    return drain


def test_a_rolling_restart_never_shows_a_client_anything_but_200(cluster: Cluster) -> None:
    upgrades: list[int] = []
    served = [n.served("/api/health", 200) for n in cluster.nodes]
    with Probe(cluster.https_port) as probe:
        time.sleep(0.3)
        drains = [_roll(cluster, node, probe, upgrades) for node in cluster.nodes]
        time.sleep(0.3)
    assert probe.failures == [], probe.failures[:5]
    statuses = [s for _, s in probe.answers]
    assert len(statuses) > 50 and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    assert upgrades == [101] * 8, upgrades
    # Both nodes served again after their restarts: the roll ended with both in the rotation.
    assert all(n.served("/api/health", 200) > s for n, s in zip(cluster.nodes, served))
    assert all(d < 30 for d in drains), drains


def test_a_killed_node_is_passed_over(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    with Probe(cluster.https_port) as probe:
        time.sleep(0.3)
        node.sigkill()
        killed = time.monotonic()
        time.sleep(1.0)
        node.start()
        cluster.wait_in_rotation(node)
    assert probe.failures == [], probe.failures[:5]
    assert probe.between(killed, killed + 1.0) and set(s for _, s in probe.answers) == {200}


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone as a process.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_stop_cluster_leaves_no_process_behind(cluster: Cluster) -> None:
    """Runs last: stops the module's cluster (the fixture's stop afterwards finds nothing to do)."""
    assert cluster.nginx is not None and cluster.gateway is not None and cluster.redis is not None
    assert cluster.postgres is not None
    postgres_pid = int((cluster.postgres.data / "postmaster.pid").read_text().split()[0])
    pids = [n.pid for n in cluster.nodes] + [cluster.gateway.process.pid, cluster.nginx.process.pid,
                                              cluster.redis.process.pid, postgres_pid]
    assert all(_running(p) for p in pids)
    stop_cluster(cluster)
    assert [p for p in pids if _running(p)] == []
