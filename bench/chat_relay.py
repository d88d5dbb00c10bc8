"""Chat relay benchmark: the real relay (`oor serve`) against a bare aiohttp websocket relay.

    .venv/bin/python bench/chat_relay.py            # full run: 1000 chats, about 105 s on 2 cores
    .venv/bin/python bench/chat_relay.py --quick    # smoke run: 50 chats, 2-3 s phases, about 30 s
    .venv/bin/python bench/chat_relay.py --cluster  # and the relay across two web nodes through Redis

Both relays run as subprocesses on 127.0.0.1, one after the other, and are
driven by this process with the same clients, the same frames and the same
schedule. With --cluster a third target follows, `cluster`: PostgreSQL and
Redis started by this run, two `oor serve --only web` nodes sharing the chat
through Redis (server/chat/cluster.py), node A leading the hub and holding the
help-seekers' sockets, node B holding the volunteers' (enrolled and logged in
through B; the sessions are in the shared database). Every message crosses
Redis twice: the sender's node publishes it to the leader, the leader publishes
it to the receiver's node. Its server CPU is that of node A, node B and
redis-server together (PostgreSQL is idle while a phase runs: it is counted
among the other processes), and so is its memory.

The clients take their protocol steps from the protocol client (client/) and
do the real crypto: signed offers checked by the help-seeker,
crypto.ChatSession seal/open for every message, proof-of-work (at 0 bits). The
load generator shares the machine's cores, so work is counted per *server*
CPU-second (utime+stime of the relay process from /proc/PID/stat), never per
wall second. Results are in bench/README.md.

Per relay, in order:
  setup       (real relay) volunteers enrol and log in through the API and
              open /ws/volunteer; a warm-up of a few short chats; then N chats
              are opened (challenge, open, pickup, signed accept, connected).
              Not measured, except for
  idle        RSS (VmRSS from /proc/PID/status) just before and 2 s after the
              N chats are set up: growth / connections added.
  burst       (extra, not in the last line) every chat sends messages sealed
              beforehand back to back, as many as the relay's per-connection
              allowances take at once (24 per help-seeker, 48 per volunteer
              connection), 3 rounds: the relay near saturation.
  latency     every chat sends 1 message/s each way (random phase, +-10%
              jitter) for 11 s; one-way latency = receive time - send time,
              both taken in this process, which holds both ends of every chat;
              the first second is not sampled.
  throughput  every chat sends as fast as a window of 8 messages in flight per
              direction and the real relay's own per-connection frame limits
              allow (server/chat/ws.py: 5 frames/s per help-seeker, 20 per
              volunteer connection; paced at 80% of both so that no frame is
              refused) for 10 s: messages delivered / server CPU-seconds. At
              1000 chats that is the most the real relay will ever be asked to
              carry (about 5,600 messages/s).

The real relay multiplexes a volunteer's chats over one websocket (N/V chats
each); the bare relay (bench/support/bare_relay.py) pairs one websocket per side
per chat by chat id and forwards every text frame verbatim. Both are sent the
same frames, {"t":"msg","seq":n,"ct":...} (plus "chat" from the volunteer side).
A "WARNING" line says when other processes used the CPU during a phase: such
figures are not comparable. After the targets, bench/queue_events.py runs as a
subprocess (with --quick if this run has it) for the cost of one queue event.
The last line of output is

    ratio <relay msgs per server CPU-s / bare> p99_ms <relay p99> kib_per_idle_conn <relay KiB>
        cluster_ratio <cluster msgs per server CPU-s / relay> queue_event_ms_500 <queue_events.py's Q>

(one line), `-` for a figure not measured (no --cluster; bench/queue_events.py
absent or failed). cluster_ratio compares the cluster with the one-node relay
of the same run, throughput phase; the line `cluster (...)` adds the cluster
against the bare relay, and its p99 against both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import math
import os
import platform
import random
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

import crypto  # noqa: E402
from client.chat import (  # noqa: E402
    CHALLENGE_PATH, accept_frame, checked_session, content, offer, open_frame, read_content)
from client.transport import solved_challenge  # noqa: E402
from client.volunteer import enrolment_body, login_body  # noqa: E402

# The real relay's per-connection frame limits (server/chat/ws.py TokenBucket): seeker 5/s, volunteer 20/s.
SEEKER_RATE_LIMIT, VOLUNTEER_RATE_LIMIT = 5.0, 20.0
SEEKER_BURST, VOLUNTEER_BURST = 30, 60
BURST_PAUSE_S = 6.0           # seekers refill 24 frames at 5/s in 4.8 s
PACE_FRACTION = 0.8           # pace the throughput phase at 80% of those limits, and burst 80% of the bursts
WINDOW = 8                    # at most this many messages in flight per chat and direction
LATENCY_RATE = 1.0            # messages per second per chat and direction in the latency phase
LATENCY_JITTER = 0.10
LATENCY_WARMUP_S = 1.0        # messages sent in the first second are not sampled
DRAIN_TIMEOUT_S = 15.0
SETUP_CONCURRENCY = 32
STEP_TIMEOUT_S = 30.0
PASSPHRASE = "groene appel onder de brug"
INSECURE_KDF = crypto.KdfParams(crypto.MIN_OPSLIMIT, crypto.MIN_MEMLIMIT)  # Argon2id at its floor, as in the tests
TEXTS = (
    "Hoi, ik weet niet zo goed waar ik moet beginnen, maar ik wilde even met iemand praten.",
    "Dat klinkt zwaar. Neem gerust de tijd; ik lees mee en ben er voor je.",
    "Sinds een paar weken slaap ik slecht en pieker ik veel over mijn werk en thuis.",
    "Wat fijn dat je het vertelt. Wat houdt je 's nachts het meest bezig?",
)

# The insecure test settings (tests/conftest.py INSECURE_TEST_ENV) plus room for a thousand chats.
SERVER_ENV = {
    "OOR_INSECURE_KDF": "true",
    "OOR_KDF_OPSLIMIT": "1",
    "OOR_KDF_MEMLIMIT_KIB": "8",
    "OOR_POW_BASE_BITS": "0",
    "OOR_POW_MAX_BITS": "0",
    "OOR_CHAT_QUEUE_MAX": "5000",
    "OOR_CHAT_CHALLENGES_PER_MINUTE": "100000",
    # Every client here comes from one loopback address: lift the per-address limits of issue 11.
    "OOR_CHAT_IDLE_SOCKETS_PER_ADDRESS": "100000",
    "OOR_LOGIN_PER_MINUTE": "100000",
    "OOR_ACCESS_LOG": "false",
    "OOR_LOG_LEVEL": "warning",
}


# ---------------------------------------------------------------------------------------------
# Subprocesses: the relays, with CPU and memory read from /proc.
# ---------------------------------------------------------------------------------------------

def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """If this benchmark dies (even by SIGKILL), the kernel sends the relay SIGTERM."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_busy_seconds() -> float:
    """CPU time spent by everything on this machine (all cores), including time stolen by the hypervisor."""
    with open("/proc/stat", encoding="ascii") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class RelayProcess:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, port: int) -> None:
        self.name, self.argv, self.env, self.log_path, self.port = name, argv, env, log_path, port
        self.proc: subprocess.Popen[bytes] | None = None
        self.tick = os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early (its output is above)")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start listening within 30 s (its output is above)")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @classmethod
    def watching(cls, name: str, proc: subprocess.Popen[bytes], log_path: Path) -> "RelayProcess":
        """A process started elsewhere (redis-server, by tests/services/redis.py): read, never started here."""
        watched = cls(name, [], {}, log_path, 0)
        watched.proc = proc
        return watched

    def cpu_seconds(self) -> float:
        """User + system CPU time of the whole relay process (all threads)."""
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime (fields 14 and 15)

    def cpu_parts(self) -> dict[str, float]:
        return {self.name: self.cpu_seconds()}

    def rss_kib(self) -> int:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"


class ProcessGroup:
    """Several processes counted as one server (a cluster's nodes and its Redis): CPU and RSS are
    summed, `cpu_parts` tells them apart. Only the `owned` ones are stopped here."""

    def __init__(self, name: str, owned: list[RelayProcess], watched: list[RelayProcess]) -> None:
        self.name, self.owned, self.parts = name, owned, owned + watched

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return next((p.proc for p in self.owned if p.proc is not None), None)

    def cpu_seconds(self) -> float:
        return sum(self.cpu_parts().values())

    def cpu_parts(self) -> dict[str, float]:
        return {p.name: p.cpu_seconds() for p in self.parts}

    def rss_kib(self) -> int:
        return sum(p.rss_kib() for p in self.parts)

    def alive(self) -> bool:
        return all(p.alive() for p in self.parts)

    def stop(self) -> None:
        for p in self.owned:
            p.stop()

    def log_tail(self, lines: int = 30) -> str:
        """Each part's last lines, headed by how many ERROR lines it logged and the first of them
        (in a cluster the first failure often brings others on other nodes)."""
        out = []
        for p in self.parts:
            try:
                errors = [line for line in p.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
                          if " ERROR " in line]
            except OSError:
                errors = []
            first = f"; the first: {errors[0]}" if errors else ""
            out.append(f"--- {p.name}: {len(errors)} ERROR lines{first} ---\n{p.log_tail(lines)}")
        return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Chats as the load generator sees them: two directions, each a sealer, an opener and a window.
# ---------------------------------------------------------------------------------------------

class Stats:
    def __init__(self) -> None:
        self.delivered = 0
        self.latencies: list[float] = []
        self.sample_from = math.inf      # sample latencies of messages sent in [sample_from, sample_until)
        self.sample_until = -math.inf
        self.errors: dict[str, int] = {}
        self.control: dict[str, int] = {}

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


class Channel:
    """One direction of one chat: the sender's ChatSession seals, the receiver's opens."""

    __slots__ = ("stats", "sealer", "opener", "ws", "prefix", "sent_at", "freed", "sealed", "deferred")

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.sealer: crypto.ChatSession | None = None
        self.opener: crypto.ChatSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.prefix = '{"t":"msg",'
        self.sent_at: deque[float] = deque()
        self.freed: asyncio.Event | None = None
        self.sealed: deque[str] = deque()                 # frames sealed ahead of a burst
        self.deferred: list[tuple[int, str]] | None = None  # during a burst: opened afterwards

    @property
    def in_flight(self) -> int:
        return len(self.sent_at)

    def _seal(self) -> str:
        """client.chat.sealed_frame, written straight into the frame's text: this is the hot path."""
        assert self.sealer is not None
        seq, ct = self.sealer.seal(content(random.choice(TEXTS)))
        return f'{self.prefix}"seq":{seq},"ct":"{crypto.b64encode(ct)}"}}'

    def seal_ahead(self, n: int) -> None:
        self.sealed.extend(self._seal() for _ in range(n))
        self.deferred = []

    async def send(self) -> None:
        assert self.ws is not None
        frame = self.sealed.popleft() if self.sealed else self._seal()
        self.sent_at.append(time.perf_counter())
        await self.ws.send_str(frame)

    def deliver(self, seq: int, ct: str, received_at: float) -> None:
        if self.deferred is not None:
            self.deferred.append((seq, ct))
        else:
            self._open(seq, ct)
        sent = self.sent_at.popleft()
        stats = self.stats
        stats.delivered += 1
        if stats.sample_from <= sent < stats.sample_until:
            stats.latencies.append(received_at - sent)
        if self.freed is not None and len(self.sent_at) < WINDOW:
            self.freed.set()

    def _open(self, seq: int, ct: str) -> None:
        assert self.opener is not None
        body = read_content(self.opener.open(seq, crypto.b64decode(ct)))
        if body.get("k") != "text":
            self.stats.error("bad-content")

    def open_deferred(self) -> None:
        deferred, self.deferred = self.deferred or [], None
        for seq, ct in deferred:
            self._open(seq, ct)

    async def wait_window(self, deadline: float) -> bool:
        while len(self.sent_at) >= WINDOW:
            if self.freed is None:
                self.freed = asyncio.Event()
            self.freed.clear()
            timeout = deadline - time.perf_counter()
            if timeout <= 0:
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.freed.wait(), timeout)
        return True


@dataclass
class ChatPair:
    index: int
    up: Channel        # seeker -> volunteer
    down: Channel      # volunteer -> seeker
    chat_id: bytes = b""
    key: str = ""
    volunteer_slot: int = 0  # which volunteer (or, for the bare relay, which pacing group)
    ready: asyncio.Future[None] | None = None


# ---------------------------------------------------------------------------------------------
# Websocket readers
# ---------------------------------------------------------------------------------------------

async def read_frames(ws: aiohttp.ClientWebSocketResponse, on_frame: Callable[[dict[str, Any], float], None],
                      stats: Stats) -> None:
    try:
        async for msg in ws:
            now = time.perf_counter()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                on_frame(json.loads(msg.data), now)
            except Exception as exc:  # a client bug must show, not hang the run
                stats.error(f"client:{type(exc).__name__}:{exc}"[:120])
    except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
        pass


class Target:
    """A relay under test: its process, its chats, and how to set them up."""

    name = ""
    process: RelayProcess | ProcessGroup
    stats: Stats
    chats: list[ChatPair]
    down_share = 1  # chats that share the connection carrying the volunteer side (pacing)

    async def start(self) -> None:
        raise NotImplementedError

    async def warm_up(self) -> None:
        raise NotImplementedError

    async def open_chats(self, n: int) -> None:
        raise NotImplementedError

    def connections_per_chat(self) -> float:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.process.stop()


# ---------------------------------------------------------------------------------------------
# The real relay: `python -m server.cli serve`
# ---------------------------------------------------------------------------------------------

class RealVolunteer:
    def __init__(self, relay: "RealRelay", slot: int, name: str) -> None:
        self.relay, self.slot, self.name = relay, slot, name
        self.identity = crypto.new_identity()
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.by_key: dict[str, ChatPair] = {}
        self.pickups: deque[asyncio.Future[str]] = deque()
        self.first_queue: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def enrol_and_connect(self, token: str) -> None:
        base = self.relay.volunteer_base
        self.http = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT_S))
        # Enrolment and login bodies from the protocol client, so that this benchmark follows the
        # enrolment API wherever it goes.
        body = enrolment_body(token, PASSPHRASE, INSECURE_KDF, self.identity)
        async with self.http.post("/api/enrol", json=body) as resp:
            if resp.status != 201:
                raise RuntimeError(f"enrol {self.name}: {resp.status} {await resp.text()}")
        async with self.http.post("/api/login", json=await login_body(self.http, self.name, PASSPHRASE)) as resp:
            if resp.status != 200:
                raise RuntimeError(f"login {self.name}: {resp.status} {await resp.text()}")
        self.ws = await self.http.ws_connect("/ws/volunteer", headers={"Origin": base}, max_msg_size=0,
                                             timeout=aiohttp.ClientWSTimeout(ws_close=2))
        self.relay.readers.append(asyncio.create_task(read_frames(self.ws, self.on_frame, self.relay.stats)))
        await asyncio.wait_for(self.first_queue, STEP_TIMEOUT_S)
        await self.ws.send_str('{"t":"available","chat":true}')

    def on_frame(self, frame: dict[str, Any], now: float) -> None:
        kind = frame["t"]
        if kind == "msg":
            self.by_key[frame["chat"]].up.deliver(frame["seq"], frame["ct"], now)
        elif kind == "assigned":
            self.accept(frame)
        elif kind == "queue":
            if not self.first_queue.done():
                self.first_queue.set_result(None)
        elif kind == "error":
            self.relay.stats.error(f"volunteer:{frame.get('code')}")
            if self.pickups:
                self.pickups.popleft().set_exception(RuntimeError(f"pickup refused: {frame}"))
        else:
            self.relay.stats.control[kind] = self.relay.stats.control.get(kind, 0) + 1

    def accept(self, frame: dict[str, Any]) -> None:
        """Do what the volunteer's page does: a fresh ephemeral key, signed by the identity key."""
        assert self.ws is not None
        key = frame["chat"]
        pair = self.relay.pending[key]
        _, session, accept = accept_frame(self.identity, frame)
        pair.up.opener = session
        pair.down.sealer = session
        pair.down.ws = self.ws
        pair.down.prefix = f'{{"t":"msg","chat":"{key}",'
        pair.volunteer_slot = self.slot
        self.by_key[key] = pair
        task = asyncio.ensure_future(self.ws.send_str(json.dumps(accept, separators=(",", ":"))))
        self.relay.readers.append(task)
        if self.pickups:
            self.pickups.popleft().set_result(key)

    async def pick_up(self) -> str:
        assert self.ws is not None
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.pickups.append(fut)
        await self.ws.send_str('{"t":"pickup"}')
        return await asyncio.wait_for(fut, STEP_TIMEOUT_S)


class RealSeeker:
    def __init__(self, relay: "RealRelay", pair: ChatPair) -> None:
        self.relay, self.pair = relay, pair
        self.keys = crypto.new_chat_keypair()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.queued: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def open(self) -> None:
        relay = self.relay
        assert relay.http is not None
        solved = await solved_challenge(relay.http, CHALLENGE_PATH)
        self.ws = await relay.http.ws_connect("/ws/chat", headers={"Origin": relay.base}, max_msg_size=0,
                                              timeout=aiohttp.ClientWSTimeout(ws_close=2))
        self.pair.up.ws = self.ws
        relay.readers.append(asyncio.create_task(read_frames(self.ws, self.on_frame, relay.stats)))
        await self.ws.send_str(json.dumps(open_frame(solved, self.keys), separators=(",", ":")))
        await asyncio.wait_for(self.queued, STEP_TIMEOUT_S)

    def on_frame(self, frame: dict[str, Any], now: float) -> None:
        kind = frame["t"]
        if kind == "msg":
            self.pair.down.deliver(frame["seq"], frame["ct"], now)
        elif kind == "queued":
            self.pair.chat_id = crypto.b64decode(frame["chat"])
            self.pair.key = frame["chat"]
            self.relay.pending[frame["chat"]] = self.pair
            self.queued.set_result(None)
        elif kind == "connected":
            # Do what the help-seeker's page does: check the volunteer's signed key, then derive the session.
            session = checked_session(frame, self.pair.chat_id, self.keys)
            self.pair.up.sealer = session
            self.pair.down.opener = session
            self.connected.set_result(None)
        elif kind == "error":
            self.relay.stats.error(f"seeker:{frame.get('code')}")
            for fut in (self.queued, self.connected):
                if not fut.done():
                    fut.set_exception(RuntimeError(f"seeker refused: {frame}"))
                    break
        elif kind != "position":
            self.relay.stats.control[kind] = self.relay.stats.control.get(kind, 0) + 1


class RealRelay(Target):
    name = "relay"

    def __init__(self, workdir: Path, chats: int, volunteers: int, database_url: str = "",
                 hub_url: str = "") -> None:
        self.stats = Stats()
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"  # where the help-seekers connect
        self.volunteer_base = self.base              # where the volunteers enrol, log in and connect
        self.data = workdir / f"{self.name}-data"
        self.n_volunteers = volunteers
        self.capacity = math.ceil(chats / volunteers) + 4
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")}, **SERVER_ENV,
                    "OOR_CHAT_MAX_PER_VOLUNTEER": str(self.capacity), "OOR_PUBLIC_URL": self.base,
                    "PYTHONUNBUFFERED": "1", **({"OOR_DATABASE_URL": database_url} if database_url else {}),
                    **({"OOR_HUB_URL": hub_url} if hub_url else {})}
        self.process: RelayProcess | ProcessGroup = self._node(self.name, self.port, self.base)
        self.chats: list[ChatPair] = []
        self.volunteers: list[RealVolunteer] = []
        self.pending: dict[str, ChatPair] = {}
        self.seekers: list[RealSeeker] = []
        self.readers: list[asyncio.Task[Any]] = []
        self.http: aiohttp.ClientSession | None = None
        self.down_share = math.ceil(chats / volunteers)

    def _node(self, label: str, port: int, public_url: str) -> RelayProcess:
        """`oor serve` as deployed alone: the mail gateway included (it shares the process), on a
        free port of its own."""
        argv = [sys.executable, "-m", "server.cli", "serve", "--data", str(self.workdir / f"{label}-data"),
                "--http", f"127.0.0.1:{port}", "--smtp", f"127.0.0.1:{free_port()}"]
        return RelayProcess("oor serve", argv, {**self.env, "OOR_PUBLIC_URL": public_url},
                            self.workdir / f"{label}.log", port)

    async def _invitations(self, names: list[str]) -> list[str]:
        """Invitations as `oor volunteer invite NAME --chat` makes them, written before the server starts."""
        from server import accounts
        from server.config import load_config
        from server.storage import open_storage

        config = load_config(env=self.env, overrides={"data_dir": str(self.data)})
        storage = open_storage(config)
        await storage.open()
        try:
            tokens = []
            for name in names:
                inv = await accounts.invite(storage, config, name, "volunteer", True, False, int(time.time()))
                tokens.append(inv.url.split("#uitnodiging=", 1)[1])
            return tokens
        finally:
            await storage.close()

    async def start(self) -> None:
        names = [f"Bank {_letters(i)}" for i in range(self.n_volunteers)]
        tokens = await self._invitations(names)
        await self._start_servers()
        self.http = aiohttp.ClientSession(self.base, connector=aiohttp.TCPConnector(limit=0),
                                          timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT_S))
        self.volunteers = [RealVolunteer(self, i, name) for i, name in enumerate(names)]
        sem = asyncio.Semaphore(8)

        async def one(vol: RealVolunteer, token: str) -> None:
            async with sem:
                await vol.enrol_and_connect(token)
        await asyncio.gather(*(one(v, t) for v, t in zip(self.volunteers, tokens)))
        await asyncio.sleep(0.5)
        await self._until_available()

    async def _start_servers(self) -> None:
        assert isinstance(self.process, RelayProcess)
        self.process.start()

    async def _until_available(self) -> None:
        """Alone, the hub that took the volunteers' `available` is the one that answers the status."""

    async def _new_chat(self, index: int) -> ChatPair:
        pair = ChatPair(index, Channel(self.stats), Channel(self.stats))
        seeker = RealSeeker(self, pair)
        self.seekers.append(seeker)
        await seeker.open()
        # One pickup per queued help-seeker, round-robin over the volunteers: the hub hands out the
        # longest-waiting chat, which may be another one of ours; every chat is picked up exactly once.
        await self.volunteers[index % len(self.volunteers)].pick_up()
        await asyncio.wait_for(seeker.connected, STEP_TIMEOUT_S)
        return pair

    async def open_chats(self, n: int) -> None:
        sem = asyncio.Semaphore(SETUP_CONCURRENCY)
        start = len(self.chats)

        async def one(i: int) -> ChatPair:
            async with sem:
                return await self._new_chat(i)
        self.chats.extend(await asyncio.gather(*(one(start + i) for i in range(n))))

    async def warm_up(self) -> None:
        """A few short chats that end, so that first-use allocations are not counted as idle memory."""
        n = min(20, len(self.volunteers) * 2)
        await self.open_chats(n)
        for _ in range(3):
            for pair in self.chats:
                await pair.up.send()
                await pair.down.send()
        await drain(self.chats, 10)
        for seeker in self.seekers:
            assert seeker.ws is not None
            await seeker.ws.send_str('{"t":"end"}')
        await asyncio.sleep(0.5)
        for seeker in self.seekers:
            assert seeker.ws is not None
            await seeker.ws.close()
        self.chats.clear()
        self.seekers.clear()
        self.pending.clear()
        for vol in self.volunteers:
            vol.by_key.clear()
        await asyncio.sleep(0.5)

    def connections_per_chat(self) -> float:
        return 1.0  # one help-seeker websocket per chat; the volunteers' websockets were open before

    async def close(self) -> None:
        # Closing the client sessions drops their connections without a websocket close handshake each.
        for task in self.readers:
            task.cancel()
        sessions = [v.http for v in self.volunteers if v.http is not None] + ([self.http] if self.http else [])
        for s in sessions:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.close(), 5)


# ---------------------------------------------------------------------------------------------
# The relay across two web nodes through Redis (server/chat/cluster.py)
# ---------------------------------------------------------------------------------------------

class RealCluster(RealRelay):
    """The real relay's clients, split over two `oor serve --only web` nodes that share the chat
    through Redis: help-seekers on node A, which leads the hub, volunteers on node B. A frame goes
    page -> its node -> Redis -> the leader -> Redis -> the other page's node -> page, both ways."""

    name = "cluster"

    def __init__(self, workdir: Path, chats: int, volunteers: int, database_url: str, redis: Any) -> None:
        super().__init__(workdir, chats, volunteers, database_url, hub_url=redis.url)
        self.redis = redis  # tests/services/redis.py RedisServer, started and stopped by main_async
        assert isinstance(self.process, RelayProcess)
        self.node_a = self.process
        self.node_a.name = "node A"
        port_b = free_port()
        self.volunteer_base = f"http://127.0.0.1:{port_b}"
        self.node_b = self._node(f"{self.name}-b", port_b, self.volunteer_base)
        self.node_b.name = "node B"
        self.process = ProcessGroup("2 oor serve --only web + redis-server", [self.node_a, self.node_b],
                                    [RelayProcess.watching("redis-server", redis.process, redis.log)])

    def _node(self, label: str, port: int, public_url: str) -> RelayProcess:
        """A web node as a cluster runs it: no SMTP listener (the gateway would be a process of its own)."""
        argv = [sys.executable, "-m", "server.cli", "serve", "--only", "web",
                "--data", str(self.workdir / f"{label}-data"), "--http", f"127.0.0.1:{port}"]
        return RelayProcess("oor serve --only web", argv, {**self.env, "OOR_PUBLIC_URL": public_url},
                            self.workdir / f"{label}.log", port)

    async def _start_servers(self) -> None:
        """Node A first, alone, so that it takes the hub's lease; node B once A leads and has written
        the queue's status into Redis (the leader's write loop does so about once a second)."""
        from server.chat.cluster import LEADER_KEY, STATUS_KEY

        self.node_a.start()
        await self._until("node A leads the chat hub",
                          lambda: bool(self.redis.client.exists(LEADER_KEY) and self.redis.client.exists(STATUS_KEY)))
        self.node_b.start()

    async def _until_available(self) -> None:
        """The volunteers' `available` reached the leader through Redis; the status that node B answers
        comes from Redis too, written by the leader about once a second: wait until both nodes say
        a volunteer is available, as a help-seeker's page would see it before opening a chat."""
        assert self.http is not None
        for base in (self.volunteer_base, self.base):
            async def available(url: str = base + "/api/chat/status") -> bool:
                assert self.http is not None
                async with self.http.get(url) as resp:
                    return resp.status == 200 and bool((await resp.json())["available"])
            await self._until(f"{base}/api/chat/status answers available: true", available)

    async def _until(self, what: str, condition: Callable[[], Any], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            done = condition()
            if asyncio.iscoroutine(done):
                done = await done
            if done:
                return
            if any(node.proc is not None and not node.alive() for node in (self.node_a, self.node_b)):
                raise RuntimeError(f"a cluster process exited while waiting until {what} (its output is below)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not within {timeout:g} s: {what}")
            await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# The bare relay: bench/support/bare_relay.py
# ---------------------------------------------------------------------------------------------

class BareRelay(Target):
    name = "bare"

    def __init__(self, workdir: Path, chats: int, volunteers: int) -> None:
        self.stats = Stats()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")}, "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, str(REPO / "bench" / "support" / "bare_relay.py"), "--http", f"127.0.0.1:{self.port}"]
        self.process = RelayProcess("bare relay", argv, env, workdir / "bare.log", self.port)
        self.n_volunteers = volunteers
        self.chats: list[ChatPair] = []
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task[Any]] = []
        self.http: aiohttp.ClientSession | None = None
        self.identities = [crypto.new_identity() for _ in range(volunteers)]
        self.down_share = math.ceil(chats / volunteers)

    async def start(self) -> None:
        self.process.start()
        self.http = aiohttp.ClientSession(self.base, connector=aiohttp.TCPConnector(limit=0),
                                          timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT_S))

    async def _new_chat(self, index: int) -> ChatPair:
        assert self.http is not None
        pair = ChatPair(index, Channel(self.stats), Channel(self.stats))
        pair.volunteer_slot = index % self.n_volunteers
        pair.chat_id = secrets.token_bytes(crypto.CHAT_ID_BYTES)
        pair.key = crypto.b64encode(pair.chat_id)
        # The same key agreement as the real chat, done here since the bare relay carries no handshake.
        seeker_keys = crypto.new_chat_keypair()
        identity = self.identities[pair.volunteer_slot]
        volunteer, pub, sig = offer(identity, pair.chat_id, seeker_keys.public)
        seeker = checked_session({"identity": crypto.b64encode(identity.ed25519_public), "pub": crypto.b64encode(pub),
                                  "sig": crypto.b64encode(sig)}, pair.chat_id, seeker_keys)
        pair.up.sealer, pair.up.opener = seeker, volunteer
        pair.down.sealer, pair.down.opener = volunteer, seeker
        pair.down.prefix = f'{{"t":"msg","chat":"{pair.key}",'  # the same frames as sent to the real relay
        path = pair.key
        ws_a = await self.http.ws_connect(f"/ws/{path}/a", max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=2))
        ws_b = await self.http.ws_connect(f"/ws/{path}/b", max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=2))
        self.sockets += [ws_a, ws_b]
        pair.up.ws, pair.down.ws = ws_a, ws_b

        def on_a(frame: dict[str, Any], now: float) -> None:  # help-seeker side hears the volunteer
            pair.down.deliver(frame["seq"], frame["ct"], now)

        def on_b(frame: dict[str, Any], now: float) -> None:  # volunteer side hears the help-seeker
            pair.up.deliver(frame["seq"], frame["ct"], now)
        self.readers.append(asyncio.create_task(read_frames(ws_a, on_a, self.stats)))
        self.readers.append(asyncio.create_task(read_frames(ws_b, on_b, self.stats)))
        return pair

    async def open_chats(self, n: int) -> None:
        sem = asyncio.Semaphore(SETUP_CONCURRENCY)
        start = len(self.chats)

        async def one(i: int) -> ChatPair:
            async with sem:
                return await self._new_chat(i)
        self.chats.extend(await asyncio.gather(*(one(start + i) for i in range(n))))

    async def warm_up(self) -> None:
        await self.open_chats(20)
        for _ in range(3):
            for pair in self.chats:
                await pair.up.send()
                await pair.down.send()
        await drain(self.chats, 10)
        for ws in self.sockets:
            await ws.close()
        for task in self.readers:
            task.cancel()
        self.sockets.clear()
        self.readers.clear()
        self.chats.clear()
        await asyncio.sleep(0.5)

    def connections_per_chat(self) -> float:
        return 2.0

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        if self.http is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.http.close(), 5)


# ---------------------------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------------------------

def _letters(i: int) -> str:
    out = ""
    i += 26 * 26  # at least three letters
    while i:
        i, r = divmod(i, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[r] + out
    return out.capitalize()


async def drain(chats: list[ChatPair], timeout: float) -> int:
    """Wait until every sent message has arrived; return how many are still missing."""
    deadline = time.perf_counter() + timeout
    while True:
        missing = sum(p.up.in_flight + p.down.in_flight for p in chats)
        if missing == 0 or time.perf_counter() >= deadline:
            return missing
        await asyncio.sleep(0.02)


async def paced_sender(channel: Channel, interval: float, jitter: float, start: float, deadline: float) -> int:
    """Send every `interval` seconds (+-jitter, random phase) within the window, until the deadline."""
    sent = 0
    next_at = start + random.uniform(0, interval)
    while True:
        delay = next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.perf_counter() >= deadline:
            return sent
        if not await channel.wait_window(deadline):
            return sent
        await channel.send()
        sent += 1
        next_at += interval * (1 + random.uniform(-jitter, jitter))
        now = time.perf_counter()
        if next_at < now:
            next_at = now  # never burst to catch up: the relay's per-connection limits must hold


@dataclass
class Snapshot:
    wall: float
    server: float
    generator: float
    machine: float
    delivered: int
    parts: dict[str, float] = field(default_factory=dict)  # the server's CPU by process

    @classmethod
    def take(cls, target: Target) -> "Snapshot":
        parts = target.process.cpu_parts()
        return cls(time.perf_counter(), sum(parts.values()), time.process_time(), machine_busy_seconds(),
                   target.stats.delivered, parts)


@dataclass
class PhaseResult:
    delivered: int = 0
    lost: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    gen_cpu_s: float = 0.0
    other_cpu_s: float = 0.0  # everything else on the machine: should be near 0
    latencies: list[float] = field(default_factory=list)
    cpu_parts: dict[str, float] = field(default_factory=dict)  # cpu_s by process

    @classmethod
    def between(cls, a: Snapshot, b: Snapshot, lost: int, latencies: list[float] | None = None) -> "PhaseResult":
        server, generator = b.server - a.server, b.generator - a.generator
        other = max(0.0, (b.machine - a.machine) - server - generator)
        parts = {name: b.parts[name] - a.parts.get(name, 0.0) for name in b.parts}
        return cls(b.delivered - a.delivered, lost, b.wall - a.wall, server, generator, other, latencies or [], parts)

    def add(self, other: "PhaseResult") -> None:
        self.delivered += other.delivered
        self.lost += other.lost
        self.wall_s += other.wall_s
        self.cpu_s += other.cpu_s
        self.gen_cpu_s += other.gen_cpu_s
        self.other_cpu_s += other.other_cpu_s
        self.latencies += other.latencies
        for name, cpu in other.cpu_parts.items():
            self.cpu_parts[name] = self.cpu_parts.get(name, 0.0) + cpu

    def share(self, seconds: float) -> float:
        """CPU seconds as a percentage of one core over the phase."""
        return 100 * seconds / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def per_cpu_s(self) -> float:
        return self.delivered / self.cpu_s if self.cpu_s > 0 else float("nan")

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, max(0, math.ceil(p * len(data)) - 1))] * 1000


async def run_tasks(tasks: list[asyncio.Task[Any]], timeout: float) -> None:
    """Wait for the senders (bounded in time); a sender's exception is raised here."""
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout)
    finally:
        for t in tasks:
            t.cancel()
    for t in done:
        t.result()


@contextlib.contextmanager
def generator_gc_paused():  # type: ignore[no-untyped-def]
    """No garbage collection in the load generator during a phase: a full collection over its
    thousands of connections takes tens of milliseconds, which would be counted as relay latency.
    (The relays keep their collectors: their pauses are part of what is measured.)"""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def burst_sender(channel: Channel, deadline: float) -> None:
    while channel.sealed and time.perf_counter() < deadline:
        if not await channel.wait_window(deadline):
            return
        await channel.send()


async def run_burst(target: Target, up_n: int, down_n: int, rounds: int) -> PhaseResult:
    """Every chat sends frames sealed beforehand, back to back within the window; they are opened
    afterwards. Each round fits the relay's per-connection allowances; between rounds (not counted)
    the allowances fill up again."""
    total = PhaseResult()
    for round_ in range(rounds):
        if round_:
            await asyncio.sleep(BURST_PAUSE_S)
        for pair in target.chats:
            pair.up.seal_ahead(up_n)
            pair.down.seal_ahead(down_n)
        with generator_gc_paused():
            await asyncio.sleep(0.2)
            before = Snapshot.take(target)
            deadline = before.wall + 60
            tasks = [asyncio.create_task(burst_sender(ch, deadline)) for p in target.chats for ch in (p.up, p.down)]
            await run_tasks(tasks, 90)
            lost = await drain(target.chats, DRAIN_TIMEOUT_S)
            after = Snapshot.take(target)
        if lost or any(p.up.sealed or p.down.sealed for p in target.chats):
            raise RuntimeError(f"a burst did not finish within a minute ({lost} messages missing)")
        for pair in target.chats:  # the real crypto, after the clock has stopped
            pair.up.open_deferred()
            pair.down.open_deferred()
        total.add(PhaseResult.between(before, after, lost))
    return total


async def run_phase(target: Target, seconds: float, up_interval: float, down_interval: float, jitter: float,
                    sample_latency: bool) -> PhaseResult:
    stats = target.stats
    stats.latencies = []
    with generator_gc_paused():
        start = time.perf_counter() + 0.2
        deadline = start + seconds
        if sample_latency:
            stats.sample_from, stats.sample_until = start + LATENCY_WARMUP_S, deadline
        else:
            stats.sample_from, stats.sample_until = math.inf, -math.inf
        await asyncio.sleep(0.1)
        before = Snapshot.take(target)
        tasks = []
        for pair in target.chats:
            tasks.append(asyncio.create_task(paced_sender(pair.up, up_interval, jitter, start, deadline)))
            tasks.append(asyncio.create_task(paced_sender(pair.down, down_interval, jitter, start, deadline)))
        await run_tasks(tasks, seconds + 30)
        lost = await drain(target.chats, DRAIN_TIMEOUT_S)
        after = Snapshot.take(target)
    stats.sample_from, stats.sample_until = math.inf, -math.inf
    return PhaseResult.between(before, after, lost, list(stats.latencies))


@dataclass
class TargetResult:
    name: str
    chats: int = 0
    setup_s: float = 0.0
    rss_before_kib: int = 0
    rss_idle_kib: int = 0
    rss_after_kib: int = 0
    connections_added: float = 0
    burst: PhaseResult = field(default_factory=PhaseResult)
    latency: PhaseResult = field(default_factory=PhaseResult)
    throughput: PhaseResult = field(default_factory=PhaseResult)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def kib_per_idle_conn(self) -> float:
        return (self.rss_idle_kib - self.rss_before_kib) / self.connections_added

    @property
    def kib_per_idle_chat(self) -> float:
        return (self.rss_idle_kib - self.rss_before_kib) / self.chats

    @property
    def kib_per_chat_after_traffic(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.chats


async def bench_target(target: Target, chats: int, latency_s: float, throughput_s: float, bursts: int,
                       say: Callable[[str], None]) -> TargetResult:
    result = TargetResult(target.name, chats)
    say(f"[{target.name}] starting {target.process.name} and its clients")
    await target.start()
    await target.warm_up()
    await asyncio.sleep(1.0)
    result.rss_before_kib = target.process.rss_kib()
    say(f"[{target.name}] opening {chats} chats")
    t0 = time.perf_counter()
    await target.open_chats(chats)
    result.setup_s = time.perf_counter() - t0
    await asyncio.sleep(2.0)
    result.rss_idle_kib = target.process.rss_kib()
    result.connections_added = chats * target.connections_per_chat()
    await asyncio.sleep(2.0)  # every per-connection frame allowance is full again

    up_n = int(SEEKER_BURST * PACE_FRACTION)
    down_n = max(1, int(VOLUNTEER_BURST * PACE_FRACTION) // target.down_share)
    say(f"[{target.name}] burst: {chats} chats send {up_n} + {down_n} messages back to back, window {WINDOW}, "
        f"{bursts} times")
    result.burst = await run_burst(target, up_n, down_n, bursts)

    say(f"[{target.name}] latency: {chats} chats, {LATENCY_RATE:g} msg/s each side, {latency_s:g} s")
    result.latency = await run_phase(target, latency_s, 1 / LATENCY_RATE, 1 / LATENCY_RATE, LATENCY_JITTER, True)

    up_interval = 1 / (SEEKER_RATE_LIMIT * PACE_FRACTION)
    down_interval = target.down_share / (VOLUNTEER_RATE_LIMIT * PACE_FRACTION)
    say(f"[{target.name}] throughput: {chats} chats, up to {1 / up_interval:g} + {1 / down_interval:.3g} msg/s "
        f"per chat, window {WINDOW}, {throughput_s:g} s")
    result.throughput = await run_phase(target, throughput_s, up_interval, down_interval, 0.2, False)
    await asyncio.sleep(0.5)
    result.rss_after_kib = target.process.rss_kib()
    if not target.process.alive():
        raise RuntimeError(f"{target.process.name} died (its output is above)")
    result.errors = dict(target.stats.errors)
    return result


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

QUEUE_EVENTS = REPO / "bench" / "queue_events.py"
QUEUE_EVENTS_TIMEOUT_S = 300.0
QUEUE_EVENTS_LINE = re.compile(r"queue_event_ms_500 (\S+) cpu_share_1000x10 (\S+)")


@dataclass
class QueueEvents:
    """bench/queue_events.py's last line, or why there is none."""
    command: str
    q: str = "-"
    share: str = "-"
    why: str = ""


def queue_events(quick: bool, say: Callable[[str], None]) -> QueueEvents:
    """Run bench/queue_events.py (with --quick for a quick run) after the relays, alone on the
    machine, and read Q and S from its last line. A subprocess with a timeout, so that this
    benchmark reports `-` instead of failing when the script is absent, broken or hangs."""
    argv = [sys.executable, str(QUEUE_EVENTS), *(["--quick"] if quick else [])]
    found = QueueEvents(" ".join(["bench/queue_events.py", *argv[2:]]))
    if not QUEUE_EVENTS.exists():
        found.why = "bench/queue_events.py does not exist"
        return found
    say(f"[queue events] {found.command}")
    try:
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=QUEUE_EVENTS_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired:
        found.why = f"no answer within {QUEUE_EVENTS_TIMEOUT_S:g} s"
        return found
    lines = done.stdout.strip().splitlines()
    for line in lines:
        say(f"[queue events] {line}")
    match = QUEUE_EVENTS_LINE.fullmatch(lines[-1].strip()) if lines else None
    if done.returncode != 0 or match is None:
        tail = "; ".join((done.stderr.strip().splitlines() or ["no output"])[-3:])
        found.why = f"exit status {done.returncode}, no last line `queue_event_ms_500 Q cpu_share_1000x10 S` ({tail})"
        return found
    found.q, found.share = match.groups()
    return found


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _rows(t: TargetResult) -> list[tuple[str, float, int, str]]:
    """The table's rows for one target: (label, value, digits, which ratios: "" none, "all"
    relay/bare and cluster/relay, "cluster" only cluster/relay)."""
    rows: list[tuple[str, float, int, str]] = [
        ("setup: chats opened", t.chats, 0, ""),
        ("setup: seconds (not measured)", t.setup_s, 1, ""),
        ("idle: connections added", t.connections_added, 0, ""),
        ("idle: RSS growth MiB", (t.rss_idle_kib - t.rss_before_kib) / 1024, 1, ""),
        ("idle: KiB per idle connection", t.kib_per_idle_conn, 1, "all"),
        ("idle: KiB per idle chat", t.kib_per_idle_chat, 1, "all"),
    ]
    for label in ("burst", "latency", "throughput"):
        p: PhaseResult = getattr(t, label)
        rows += [
            (f"{label}: messages delivered", p.delivered, 0, ""),
            (f"{label}: msgs per wall s", _ratio(p.delivered, p.wall_s), 0, ""),
        ]
        if label == "latency":
            rows += [
                ("latency: messages sampled", len(p.latencies), 0, ""),
                ("latency: p50 ms", p.pct(0.50), 2, "cluster"),
                ("latency: p99 ms", p.pct(0.99), 2, "cluster"),
                ("latency: max ms", p.pct(1.0), 2, ""),
            ]
        rows += [
            (f"{label}: server CPU %", p.share(p.cpu_s), 0, ""),
            (f"{label}: generator CPU %", p.share(p.gen_cpu_s), 0, ""),
            (f"{label}: other processes CPU %", p.share(p.other_cpu_s), 0, ""),
            (f"{label}: server us per message", _ratio(1e6, p.per_cpu_s), 1, ""),
            (f"{label}: msgs per server CPU-s", p.per_cpu_s, 0, "all"),
        ]
    rows += [
        ("after traffic: RSS growth KiB/chat", t.kib_per_chat_after_traffic, 1, ""),
        ("lost messages (all phases)", sum(p.lost for p in (t.burst, t.latency, t.throughput)), 0, ""),
    ]
    return rows


def report(relay: TargetResult, bare: TargetResult, args: argparse.Namespace, elapsed: float,
           cluster: TargetResult | None = None, queue: QueueEvents | None = None) -> list[str]:
    def n(x: float, digits: int = 0) -> str:
        return f"{x:,.{digits}f}"

    flags = ", ".join(name for name, on in (("--quick", args.quick), ("--cluster", cluster is not None)) if on)
    lines = [
        f"chat relay benchmark{f' ({flags})' if flags else ''}: {relay.chats} chats, {args.volunteers} "
        f"volunteers; {os.cpu_count()} CPUs; Python {platform.python_version()}, aiohttp {aiohttp.__version__}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}; {elapsed:.0f} s",
        f"{'':36} {'relay':>12} {'bare':>12} {'relay/bare':>11}"
        + (f" {'cluster':>12} {'cluster/relay':>14}" if cluster else ""),
    ]
    columns = [_rows(relay), _rows(bare)] + ([_rows(cluster)] if cluster else [])
    for i, (label, r, digits, kind) in enumerate(columns[0]):
        b = columns[1][i][1]
        line = f"{label:36} {n(r, digits):>12} {n(b, digits):>12} {n(_ratio(r, b), 2) if kind == 'all' else '':>11}"
        if cluster:
            c = columns[2][i][1]
            line += f" {n(c, digits):>12} {n(_ratio(c, r), 2) if kind else '':>14}"
        lines.append(line)
    targets = [relay, bare] + ([cluster] if cluster else [])
    for r in targets:
        if r.errors:
            lines.append(f"{r.name} errors: {r.errors}")
    phases = ("burst", "latency", "throughput")
    busy = [(f"{t.name} {label}", getattr(t, label)) for t in targets for label in phases]
    noisy = [name for name, p in busy if p.share(p.other_cpu_s) > 15]
    if noisy:
        lines.append(f"WARNING: other processes used more than 15% of a core during: {', '.join(noisy)}; "
                     "figures from a busy machine are not comparable")
    ratio = relay.throughput.per_cpu_s / bare.throughput.per_cpu_s
    p99 = relay.latency.pct(0.99)
    kib = relay.kib_per_idle_conn
    bare_p99 = bare.latency.pct(0.99)
    if cluster:
        lines.append("cluster server CPU, % of a core: node A (leads the hub, help-seekers' sockets) + node B "
                     "(volunteers' sockets) + redis-server; PostgreSQL counts as other processes: "
                     + "; ".join(f"{label} " + " + ".join(f"{name} {n(p.share(cpu))}"
                                                         for name, cpu in p.cpu_parts.items())
                                 for label in phases for p in [getattr(cluster, label)]))
        c_relay = cluster.throughput.per_cpu_s / relay.throughput.per_cpu_s
        c_bare = cluster.throughput.per_cpu_s / bare.throughput.per_cpu_s
        c_p99 = cluster.latency.pct(0.99)
        fields = (f"{c_relay:.2f}", f"{c_bare:.2f}", f"{c_p99:.2f}", f"{c_p99 / p99:.2f}", f"{c_p99 / bare_p99:.2f}")
    else:
        fields = ("-",) * 5
    lines.append(f"cluster (2 web nodes through Redis{'' if cluster else '; run with --cluster'}): "
                 f"msgs per server CPU-s {fields[0]} x relay, {fields[1]} x bare; "
                 f"p99 {fields[2]} ms (relay {p99:.2f}, bare {bare_p99:.2f}) = {fields[3]} x relay, {fields[4]} x bare")
    queue = queue or QueueEvents("bench/queue_events.py", why="not run")
    lines.append(f"queue events ({queue.command}): queue_event_ms_500 {queue.q} cpu_share_1000x10 {queue.share}"
                 + (f" ({queue.why})" if queue.why else ""))
    lines.append(f"targets: ratio >= 0.6 {'met' if ratio >= 0.6 else 'MISSED'} ({ratio:.2f}); "
                 f"p99 <= 5 ms {'met' if p99 <= 5 else 'MISSED'} ({p99:.2f}); "
                 f"KiB per idle connection <= 32 {'met' if kib <= 32 else 'MISSED'} ({kib:.1f})")
    lines.append(f"ratio {ratio:.2f} p99_ms {p99:.2f} kib_per_idle_conn {kib:.1f} "
                 f"cluster_ratio {fields[0]} queue_event_ms_500 {queue.q}")
    return lines


async def main_async(args: argparse.Namespace) -> int:
    begun = time.perf_counter()
    say = (lambda text: print(text, file=sys.stderr, flush=True))
    postgres = redis = None
    try:
        if args.postgres or args.cluster:  # a real cluster, PostgreSQL's default durability (as in production)
            from tests.services.postgres import start_postgres
            postgres = await asyncio.to_thread(start_postgres, durable=True)
        if args.cluster:  # persistence off, as production must run it
            from tests.services.redis import start_redis
            redis = await asyncio.to_thread(start_redis)
        # A database of its own for each target that uses PostgreSQL: nothing of one run meets the other.
        relay_db = postgres.url(postgres.create_database()) if postgres and args.postgres else ""
        cluster_db = postgres.url(postgres.create_database()) if postgres and args.cluster else ""
        return await _run_targets(args, begun, say, relay_db, cluster_db, redis)
    finally:
        if redis is not None:
            from tests.services.redis import stop_redis
            await asyncio.to_thread(stop_redis, redis)
        if postgres is not None:
            from tests.services.postgres import stop_postgres
            await asyncio.to_thread(stop_postgres, postgres)


async def _run_targets(args: argparse.Namespace, begun: float, say: Any, database_url: str, cluster_db: str,
                       redis: Any) -> int:
    with tempfile.TemporaryDirectory(prefix="oor-bench-") as tmp:
        work = Path(tmp)
        results: dict[str, TargetResult] = {}
        targets: list[Callable[[], Target]] = [
            lambda: RealRelay(work, args.chats, args.volunteers, database_url),
            lambda: BareRelay(work, args.chats, args.volunteers),
        ]
        if args.cluster:
            targets.append(lambda: RealCluster(work, args.chats, args.volunteers, cluster_db, redis))
        for make in targets:
            target = make()
            try:
                results[target.name] = await bench_target(target, args.chats, args.latency_seconds,
                                                          args.seconds, args.bursts, say)
            except (KeyboardInterrupt, asyncio.CancelledError):
                raise
            except BaseException:
                if target.process.proc is not None:
                    say(f"[{target.name}] failed; last output of {target.process.name}:\n{target.process.log_tail()}")
                raise
            finally:
                await target.close()
                target.stop()
        queue = await asyncio.to_thread(queue_events, args.quick, say)
        for line in report(results["relay"], results["bare"], args, time.perf_counter() - begun,
                           results.get("cluster"), queue):
            print(line, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Chat relay benchmark: the real relay against a bare aiohttp relay.")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 chats, 5 volunteers, 2-second phases")
    parser.add_argument("--chats", type=int, help="concurrent chats (default 1000; 50 with --quick)")
    parser.add_argument("--volunteers", type=int, help="volunteers sharing the chats (default 100; 5 with --quick)")
    parser.add_argument("--seconds", type=float, help="throughput phase length (default 10; 2 with --quick)")
    parser.add_argument("--bursts", type=int, help="burst rounds (default 3; 1 with --quick)")
    parser.add_argument("--latency-seconds", type=float, help="latency phase length (default 11; 3 with --quick)")
    parser.add_argument("--postgres", action="store_true",
                        help="the real relay stores in PostgreSQL (a cluster this run starts) instead of SQLite")
    parser.add_argument("--cluster", action="store_true",
                        help="add a third target: two `oor serve --only web` nodes sharing the chat through Redis "
                             "(PostgreSQL and Redis started by this run), help-seekers on one, volunteers on the other")
    args = parser.parse_args(argv)
    args.chats = args.chats or (50 if args.quick else 1000)
    args.volunteers = args.volunteers or (5 if args.quick else 100)
    args.seconds = args.seconds or (2.0 if args.quick else 10.0)
    args.latency_seconds = args.latency_seconds or (3.0 if args.quick else 11.0)
    args.bursts = args.bursts or (1 if args.quick else 3)
    if not (1 <= args.chats <= 5000 and 1 <= args.volunteers <= args.chats
            and 0 < args.seconds <= 120 and LATENCY_WARMUP_S < args.latency_seconds <= 120
            and 1 <= args.bursts <= 10):
        parser.error("chats 1..5000, volunteers 1..chats, phases up to 120 s (latency longer than 1 s), 1..10 bursts")
    per_volunteer = math.ceil(args.chats / args.volunteers)
    if per_volunteer * LATENCY_RATE > VOLUNTEER_RATE_LIMIT * PACE_FRACTION:
        parser.error(f"{per_volunteer} chats per volunteer at {LATENCY_RATE:g} msg/s would pass the relay's "
                     f"{VOLUNTEER_RATE_LIMIT:g} frames/s per volunteer connection: add volunteers")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 4 * args.chats + 4 * args.volunteers + 256
    if soft < need:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("interrupted; relays stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
