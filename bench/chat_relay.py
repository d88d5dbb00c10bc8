"""Chat relay benchmark: the real relay (`oor serve`) against a bare aiohttp websocket relay.

    .venv/bin/python bench/chat_relay.py            # full run: 1000 chats, about 4 minutes on 2 cores
    .venv/bin/python bench/chat_relay.py --quick    # smoke run: 50 chats, 2-3 s phases, about a minute
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

Production topology and settings. The real relay runs on the production defaults
of server/config.py except Argon2id (at its floor, as in the tests: it costs only
the volunteers' enrolment and login, which come before anything is measured):
`chat_max_per_volunteer` 2, so N chats need N/2 volunteers and every volunteer
socket carries two chats; proof-of-work at the base difficulty (16 bits); the queue
capped at 200; the access log on and log level info, written to a file as
journald would take the service's stderr; every per-address limit as shipped. The
help-seekers come from source addresses 127.0.0.2 and up (CHATS_PER_ADDRESS chats
each; Linux answers all of 127.0.0.0/8 on loopback), the volunteers from 127.0.0.1,
so that no limit has to be raised for a load that comes from one machine. The
bare relay (bench/support/bare_relay.py) gets the same topology: the same sockets
(one per help-seeker, one per volunteer with two chats on it), the same handshake
(challenge request, open, queued, pickup, assigned, accept, connected) and the same
frames, {"t":"msg","seq":n,"ct":...} (plus "chat" from the volunteer side), with
no checks, limits, logs or storage.

The clients take their protocol steps from the protocol client (client/) and
do the real crypto: signed offers checked by the help-seeker, crypto.ChatSession
seal/open for every message, proof-of-work. The challenges are solved in a pool
of worker processes (bench/support/pow_solver.py: crypto.pow_solve's nonce, checked
with crypto.pow_check) between the timed steps, so their CPU is neither the
server's nor the load generator's; the server's check of each one is measured.
The load generator shares the machine's cores, so work is counted per *server*
CPU-second (utime+stime of the relay process from /proc/PID/stat), never per
wall second. Results are in bench/README.md.

Per relay, in order:
  start       (real relay) volunteers enrol through the API, the coordinators sign
              their key statements into the witnessed log (bench/support/transparency.py,
              the real CLI), then they log in and open /ws/volunteer; (bare) volunteers
              open /ws/volunteer. Then a warm-up of a few short chats that end.
  setup       N chats are opened, in batches of SETUP_BATCH, SETUP_CONCURRENCY at a
              time. Timed (wall and server CPU): fetching the batch's challenges,
              then opening (socket, `open`, queued, pickup, assigned, signed
              accept, connected). Not timed: solving the challenges, in between.
              `setup_ratio` = real set-up time / bare set-up time.
  idle        RSS (VmRSS from /proc/PID/status) just before and 2 s after the
              N chats are set up: growth / connections added (N help-seeker
              sockets for both: the volunteers' were open before).
  burst       (extra) every chat sends messages sealed beforehand back to back,
              as many as the relay's per-connection allowances take at once (24
              per help-seeker, 48 per volunteer connection), 3 rounds.
  latency     every chat sends 1 message/s each way (random phase, +-10%
              jitter) for 11 s; one-way latency = receive time - send time,
              both taken in this process, which holds both ends of every chat;
              the first second is not sampled.
  paced       every chat sends at 80% of the real relay's per-connection frame
              limits (server/chat/sessions.py: 5 frames/s per help-seeker, 20 per
              volunteer connection), a window of 8 messages in flight per
              direction, sealing and opening as it goes, for 10 s: `paced_ratio`.
              At 1000 chats that is 12,000 msgs/s, about all that the generator
              can seal and open beside the relay on 2 cores: a WARNING line says
              when a paced phase fell behind its schedule.
  peak        the highest rate the real relay sustains for 1000 chats: 95% of those
              frame limits (it refuses more; 14,250 msgs/s), frames sealed
              beforehand and opened afterwards so that the generator's CPU goes
              to the sockets, 10 s. The relays are busiest here: `ratio`, the
              headline.

A "WARNING" line says when other processes used the CPU during a phase: such
figures are not comparable. After the targets, bench/queue_events.py runs as a
subprocess (with --quick if this run has it) for the cost of one queue event.
The line before the last is the cluster's (`cluster_ratio C`: the cluster's msgs
per server CPU-s over the one-node relay's in the paced phase, `-` without
--cluster); the last line of output is

    ratio R paced_ratio P setup_ratio S p99_ms L kib_per_idle_conn K queue_event_ms_500 Q

R and P: relay msgs per server CPU-s / bare (peak and paced phases); S: relay set-up
seconds / bare; L: relay p99 in ms, latency phase; K: relay KiB per idle connection;
Q: bench/queue_events.py's figure (`-` when it is absent or failed).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import ctypes
import gc
import json
import math
import multiprocessing
import os
import platform
import random
import re
import resource
import shutil
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
from bench.support.pow_solver import solve_b64  # noqa: E402
from bench.support.profiling import PySpy, summary  # noqa: E402
from bench.support.transparency import KeyGate  # noqa: E402
from client.chat import (  # noqa: E402
    CHALLENGE_PATH, accept_frame, checked_session, content, open_frame, read_content)
from client.volunteer import enrolment_body, login_body  # noqa: E402
from server.config import Config  # noqa: E402

# The real relay's per-connection frame limits (server/chat/sessions.py TokenBucket): seeker 5/s, volunteer 20/s.
SEEKER_RATE_LIMIT, VOLUNTEER_RATE_LIMIT = 5.0, 20.0
SEEKER_BURST, VOLUNTEER_BURST = 30, 60
CAPACITY = Config.chat_max_per_volunteer  # the production default: chats one volunteer socket holds (2)
BURST_PAUSE_S = 6.0           # seekers refill 24 frames at 5/s in 4.8 s
PACE_FRACTION = 0.8           # the paced phase at 80% of those limits, and bursts of 80% of the allowances
PEAK_FRACTION = 0.95          # the peak phase: as close to the limits as jitter allows without a refusal
PEAK_JITTER = 0.10
WINDOW = 8                    # at most this many messages in flight per chat and direction
LATENCY_RATE = 1.0            # messages per second per chat and direction in the latency phase
LATENCY_JITTER = 0.10
LATENCY_WARMUP_S = 1.0        # messages sent in the first second are not sampled
DRAIN_TIMEOUT_S = 15.0
SETUP_CONCURRENCY = 32        # chats being opened at once (and challenges being fetched)
SETUP_BATCH = 250             # challenges fetched, solved and used per batch: well within their 2 minutes
CHATS_PER_ADDRESS = 4         # help-seekers per source address: under every per-address limit as shipped
STEP_TIMEOUT_S = 30.0
PASSPHRASE = "groene appel onder de brug"
INSECURE_KDF = crypto.KdfParams(crypto.MIN_OPSLIMIT, crypto.MIN_MEMLIMIT)  # Argon2id at its floor, as in the tests
TEXTS = (
    "Hoi, ik weet niet zo goed waar ik moet beginnen, maar ik wilde even met iemand praten.",
    "Dat klinkt zwaar. Neem gerust de tijd; ik lees mee en ben er voor je.",
    "Sinds een paar weken slaap ik slecht en pieker ik veel over mijn werk en thuis.",
    "Wat fijn dat je het vertelt. Wat houdt je 's nachts het meest bezig?",
)

# What the real relay runs with beyond the production defaults of server/config.py: Argon2id at
# the floor the tests use (tests/conftest.py INSECURE_TEST_ENV). Only enrolment and login derive a
# key, and both come before anything is measured; a production-cost Argon2id would only make the
# 500 logins take minutes. Everything else is as shipped: proof-of-work (pow_base_bits 16), the
# queue's cap (200), chat_max_per_volunteer (2), every per-address limit, the access log, log level info.
SERVER_ENV = {
    "OOR_INSECURE_KDF": "true",
    "OOR_KDF_OPSLIMIT": "1",
    "OOR_KDF_MEMLIMIT_KIB": "8",
}
VOLUNTEER_ADDRESS = "127.0.0.1"


def seeker_address(index: int) -> str:
    """Help-seeker `index`'s source address: CHATS_PER_ADDRESS chats each, from 127.0.0.2 up."""
    n = 1 + index // CHATS_PER_ADDRESS
    return f"127.0.{n // 254}.{n % 254 + 1}"


def addresses_used(chats: int) -> str:
    return f"{seeker_address(0)}-{seeker_address(chats - 1)}"


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
        self.before_start: Callable[[], None] | None = None  # e.g. `oor release publish` (issue 17)

    def start(self) -> None:
        if self.before_start is not None:
            self.before_start()
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

    def log_lines(self) -> tuple[int, int]:
        """Lines the process wrote to its log file (its stderr and stdout, as journald would take
        them), and how many of them are warnings or errors."""
        try:
            lines = self.log_path.read_bytes().splitlines()
        except OSError:
            return 0, 0
        return len(lines), sum(1 for line in lines if b" WARNING " in line or b" ERROR " in line)


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

    def log_lines(self) -> tuple[int, int]:
        counts = [p.log_lines() for p in self.owned]
        return sum(n for n, _ in counts), sum(bad for _, bad in counts)

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
    """A relay under test: its process, its clients and its chats. The real relay and the bare one
    are driven by the same clients (VolunteerClient, SeekerClient below) through the same handshake."""

    name = ""
    process: RelayProcess | ProcessGroup
    names_identity = False  # the bare relay has no accounts: the volunteer names its identity key in `accept`

    def __init__(self, chats: int, volunteers: int) -> None:
        self.stats = Stats()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"  # where the help-seekers connect
        self.volunteer_base = self.base              # where the volunteers connect
        self.n_volunteers = volunteers
        self.down_share = math.ceil(chats / volunteers)  # chats on one volunteer connection (pacing)
        self.chats: list[ChatPair] = []
        self.volunteers: list[VolunteerClient] = []
        self.pending: dict[str, ChatPair] = {}
        self.seekers: list[SeekerClient] = []
        self.readers: list[asyncio.Task[Any]] = []
        self.sessions: dict[str, aiohttp.ClientSession] = {}  # by source address

    def session(self, address: str, base: str | None = None) -> aiohttp.ClientSession:
        """The HTTP client for one source address (its connections are bound to it)."""
        found = self.sessions.get(address)
        if found is None:
            found = self.sessions[address] = aiohttp.ClientSession(
                base or self.base, connector=aiohttp.TCPConnector(limit=0, local_addr=(address, 0)),
                timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT_S))
        return found

    async def start(self) -> None:
        raise NotImplementedError

    # -- opening chats: the steps that bench_target times, one batch at a time --------------------

    async def challenges(self, indices: list[int]) -> list[dict[str, Any]]:
        """Every help-seeker of the batch asks for a proof-of-work challenge, from its own address."""
        sem = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def one(i: int) -> dict[str, Any]:
            async with sem:
                async with self.session(seeker_address(i)).post(CHALLENGE_PATH) as resp:
                    if resp.status != 200:
                        raise RuntimeError(f"[{self.name}] challenge: {resp.status} {await resp.text()}")
                    return await resp.json()
        return await asyncio.gather(*(one(i) for i in indices))

    async def open_chats(self, indices: list[int], solved: list[dict[str, str]]) -> None:
        """Open the batch's chats with their solved challenges: socket, open, pickup, accept, connected."""
        sem = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def one(i: int, answer: dict[str, str]) -> ChatPair:
            async with sem:
                return await self._new_chat(i, answer)
        self.chats.extend(await asyncio.gather(*(one(i, s) for i, s in zip(indices, solved))))

    async def _new_chat(self, index: int, solved: dict[str, str]) -> ChatPair:
        pair = ChatPair(index, Channel(self.stats), Channel(self.stats))
        seeker = SeekerClient(self, pair, self.session(seeker_address(index)))
        self.seekers.append(seeker)
        await seeker.open(solved)
        # One pickup per queued help-seeker, round-robin over the volunteers (each picks up at most
        # CAPACITY): the relay hands out the longest-waiting chat, which may be another one of ours;
        # every chat is picked up exactly once.
        await self.volunteers[index % len(self.volunteers)].pick_up()
        await asyncio.wait_for(seeker.connected, STEP_TIMEOUT_S)
        return pair

    async def end_chats(self) -> None:
        """The warm-up's chats end (the help-seeker says so and leaves); everything about them is forgotten."""
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
        sessions = [v.http for v in self.volunteers if v.http is not None] + list(self.sessions.values())
        for s in sessions:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.close(), 5)

    def stop(self) -> None:
        self.process.stop()


# ---------------------------------------------------------------------------------------------
# The clients: a volunteer's page and a help-seeker's page, for either relay
# ---------------------------------------------------------------------------------------------

class VolunteerClient:
    def __init__(self, target: Target, slot: int, name: str, identity: crypto.Identity | None = None) -> None:
        self.target, self.slot, self.name = target, slot, name
        self.identity = identity or crypto.new_identity()
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.by_key: dict[str, ChatPair] = {}
        self.pickups: deque[asyncio.Future[str]] = deque()
        self.first_queue: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.keys_ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def connect(self, http: aiohttp.ClientSession) -> None:
        base = self.target.volunteer_base
        self.ws = await http.ws_connect(f"{base}/ws/volunteer", headers={"Origin": base}, max_msg_size=0,
                                        timeout=aiohttp.ClientWSTimeout(ws_close=2))
        self.target.readers.append(asyncio.create_task(read_frames(self.ws, self.on_frame, self.target.stats)))

    def on_frame(self, frame: dict[str, Any], now: float) -> None:
        kind = frame["t"]
        stats = self.target.stats
        if kind == "msg":
            self.by_key[frame["chat"]].up.deliver(frame["seq"], frame["ct"], now)
        elif kind == "assigned":
            self.accept(frame)
        elif kind == "queue":
            if not self.first_queue.done():
                self.first_queue.set_result(None)
        elif kind == "keys":  # the key gate's word (issue 17): "ready" once the signed statement is logged
            if frame.get("status") == "ready" and not self.keys_ready.done():
                self.keys_ready.set_result(None)
        elif kind == "error":
            stats.error(f"volunteer:{frame.get('code')}")
            if self.pickups:
                self.pickups.popleft().set_exception(RuntimeError(f"pickup refused: {frame}"))
        else:
            stats.control[kind] = stats.control.get(kind, 0) + 1

    def accept(self, frame: dict[str, Any]) -> None:
        """Do what the volunteer's page does: a fresh ephemeral key, signed by the identity key."""
        assert self.ws is not None
        key = frame["chat"]
        pair = self.target.pending[key]
        _, session, accept = accept_frame(self.identity, frame)
        if self.target.names_identity:
            accept["identity"] = crypto.b64encode(self.identity.ed25519_public)
        pair.up.opener = session
        pair.down.sealer = session
        pair.down.ws = self.ws
        pair.down.prefix = f'{{"t":"msg","chat":"{key}",'
        pair.volunteer_slot = self.slot
        self.by_key[key] = pair
        task = asyncio.ensure_future(self.ws.send_str(json.dumps(accept, separators=(",", ":"))))
        self.target.readers.append(task)
        if self.pickups:
            self.pickups.popleft().set_result(key)

    async def pick_up(self) -> str:
        assert self.ws is not None
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.pickups.append(fut)
        await self.ws.send_str('{"t":"pickup"}')
        return await asyncio.wait_for(fut, STEP_TIMEOUT_S)


class RealVolunteer(VolunteerClient):
    async def enrol(self, token: str) -> None:
        base = self.target.volunteer_base
        self.http = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          connector=aiohttp.TCPConnector(local_addr=(VOLUNTEER_ADDRESS, 0)),
                                          timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT_S))
        # Enrolment and login bodies from the protocol client, so that this benchmark follows the
        # enrolment API wherever it goes.
        body = enrolment_body(token, PASSPHRASE, INSECURE_KDF, self.identity)
        async with self.http.post("/api/enrol", json=body) as resp:
            if resp.status != 201:
                raise RuntimeError(f"enrol {self.name}: {resp.status} {await resp.text()}")

    async def log_in_and_connect(self) -> None:
        """After the coordinators signed the key statement (RealRelay.start): log in, open the socket,
        and say available once the relay's key gate says "ready"."""
        assert self.http is not None
        async with self.http.post("/api/login", json=await login_body(self.http, self.name, PASSPHRASE)) as resp:
            if resp.status != 200:
                raise RuntimeError(f"login {self.name}: {resp.status} {await resp.text()}")
        await self.connect(self.http)
        await asyncio.wait_for(self.first_queue, STEP_TIMEOUT_S)
        await asyncio.wait_for(self.keys_ready, STEP_TIMEOUT_S)
        assert self.ws is not None
        await self.ws.send_str('{"t":"available","chat":true}')


class SeekerClient:
    def __init__(self, target: Target, pair: ChatPair, http: aiohttp.ClientSession) -> None:
        self.target, self.pair, self.http = target, pair, http
        self.keys = crypto.new_chat_keypair()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.queued: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def open(self, solved: dict[str, str]) -> None:
        target = self.target
        self.ws = await self.http.ws_connect("/ws/chat", headers={"Origin": target.base}, max_msg_size=0,
                                             timeout=aiohttp.ClientWSTimeout(ws_close=2))
        self.pair.up.ws = self.ws
        target.readers.append(asyncio.create_task(read_frames(self.ws, self.on_frame, target.stats)))
        await self.ws.send_str(json.dumps(open_frame(solved, self.keys), separators=(",", ":")))
        await asyncio.wait_for(self.queued, STEP_TIMEOUT_S)

    def on_frame(self, frame: dict[str, Any], now: float) -> None:
        kind = frame["t"]
        stats = self.target.stats
        if kind == "msg":
            self.pair.down.deliver(frame["seq"], frame["ct"], now)
        elif kind == "queued":
            self.pair.chat_id = crypto.b64decode(frame["chat"])
            self.pair.key = frame["chat"]
            self.target.pending[frame["chat"]] = self.pair
            self.queued.set_result(None)
        elif kind == "connected":
            # Do what the help-seeker's page does: check the volunteer's signed key, then derive the session.
            session = checked_session(frame, self.pair.chat_id, self.keys)
            self.pair.up.sealer = session
            self.pair.down.opener = session
            self.connected.set_result(None)
        elif kind == "error":
            stats.error(f"seeker:{frame.get('code')}")
            for fut in (self.queued, self.connected):
                if not fut.done():
                    fut.set_exception(RuntimeError(f"seeker refused: {frame}"))
                    break
        elif kind != "position":
            stats.control[kind] = stats.control.get(kind, 0) + 1


# ---------------------------------------------------------------------------------------------
# The real relay: `python -m server.cli serve`
# ---------------------------------------------------------------------------------------------

class RealRelay(Target):
    name = "relay"

    def __init__(self, workdir: Path, chats: int, volunteers: int, gate: KeyGate, database_url: str = "",
                 hub_url: str = "") -> None:
        super().__init__(chats, volunteers)
        self.workdir = workdir
        self.data = workdir / f"{self.name}-data"
        self.gate = gate
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")}, **SERVER_ENV,
                    "OOR_PUBLIC_URL": self.base, "PYTHONUNBUFFERED": "1",
                    **({"OOR_DATABASE_URL": database_url} if database_url else {}),
                    **({"OOR_HUB_URL": hub_url} if hub_url else {})}
        # The key gate (bench/support/transparency.py): the root key, a witness of this storage's log
        # (every node of a cluster shares it and its log key file).
        self.env = gate.server_env(self.env, self.data, self.name)
        self.process: RelayProcess | ProcessGroup = self._node(self.name, self.port, self.base)

    def _node(self, label: str, port: int, public_url: str) -> RelayProcess:
        """`oor serve` as deployed alone: the mail gateway included (it shares the process), on a
        free port of its own."""
        data = self.workdir / f"{label}-data"
        argv = [sys.executable, "-m", "server.cli", "serve", "--data", str(data),
                "--http", f"127.0.0.1:{port}", "--smtp", f"127.0.0.1:{free_port()}"]
        return self._published(RelayProcess("oor serve", argv, {**self.env, "OOR_PUBLIC_URL": public_url},
                                            self.workdir / f"{label}.log", port), data)

    def _published(self, node: RelayProcess, data: Path) -> RelayProcess:
        """`oor release publish` before the node's `oor serve`, as after installing a release."""
        node.before_start = lambda: self.gate.publish(data, node.env)
        return node

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
        volunteers = [RealVolunteer(self, i, name) for i, name in enumerate(names)]
        self.volunteers = list(volunteers)
        sem = asyncio.Semaphore(8)

        async def enrol(vol: RealVolunteer, token: str) -> None:
            async with sem:
                await vol.enrol(token)

        async def connect(vol: RealVolunteer) -> None:
            async with sem:
                await vol.log_in_and_connect()
        await asyncio.gather(*(enrol(v, t) for v, t in zip(volunteers, tokens)))
        # The coordinators sign the enrolled volunteers' key statements (`oor keys pending`, `oor root
        # sign`, `oor keys import`) and every node's log takes them in, before anything is measured.
        size = await asyncio.to_thread(self.gate.sign, self.data, self.env, expect=len(names))
        await self.gate.wait_ready(sorted({self.base, self.volunteer_base}), size)
        await asyncio.gather(*(connect(v) for v in volunteers))
        await asyncio.sleep(0.5)
        await self._until_available()

    async def _start_servers(self) -> None:
        assert isinstance(self.process, RelayProcess)
        self.process.start()

    async def _until_available(self) -> None:
        """Alone, the hub that took the volunteers' `available` is the one that answers the status."""


# ---------------------------------------------------------------------------------------------
# The relay across two web nodes through Redis (server/chat/cluster.py)
# ---------------------------------------------------------------------------------------------

class RealCluster(RealRelay):
    """The real relay's clients, split over two `oor serve --only web` nodes that share the chat
    through Redis: help-seekers on node A, which leads the hub, volunteers on node B. A frame goes
    page -> its node -> Redis -> the leader -> Redis -> the other page's node -> page, both ways."""

    name = "cluster"

    def __init__(self, workdir: Path, chats: int, volunteers: int, gate: KeyGate, database_url: str,
                 redis: Any) -> None:
        super().__init__(workdir, chats, volunteers, gate, database_url, hub_url=redis.url)
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
        data = self.workdir / f"{label}-data"
        argv = [sys.executable, "-m", "server.cli", "serve", "--only", "web",
                "--data", str(data), "--http", f"127.0.0.1:{port}"]
        return self._published(RelayProcess("oor serve --only web", argv, {**self.env, "OOR_PUBLIC_URL": public_url},
                                            self.workdir / f"{label}.log", port), data)

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
        http = self.session(VOLUNTEER_ADDRESS)
        for base in (self.volunteer_base, self.base):
            async def available(url: str = base + "/api/chat/status") -> bool:
                async with http.get(url) as resp:
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
# ---------------------------------------------------------------------------------------------
# The bare relay: bench/support/bare_relay.py
# ---------------------------------------------------------------------------------------------

class BareRelay(Target):
    name = "bare"
    names_identity = True

    def __init__(self, workdir: Path, chats: int, volunteers: int) -> None:
        super().__init__(chats, volunteers)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")}, "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, str(REPO / "bench" / "support" / "bare_relay.py"), "--http", f"127.0.0.1:{self.port}"]
        self.process = RelayProcess("bare relay", argv, env, workdir / "bare.log", self.port)

    async def start(self) -> None:
        """The volunteers' sockets, as the real relay's after login (no accounts here)."""
        self.process.start()
        http = self.session(VOLUNTEER_ADDRESS)
        self.volunteers = [VolunteerClient(self, i, f"bare {i}") for i in range(self.n_volunteers)]
        sem = asyncio.Semaphore(8)

        async def one(vol: VolunteerClient) -> None:
            async with sem:
                await vol.connect(http)
        await asyncio.gather(*(one(v) for v in self.volunteers))


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
        if next_at >= deadline:
            return sent  # the next one would be too late: do not wait for it
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
    offered: float = 0.0  # the schedule's messages per second (paced phases)

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
                    sample_latency: bool, sealed_ahead: bool = False) -> PhaseResult:
    """Every chat sends every interval (each direction its own) for `seconds`. With `sealed_ahead`,
    the frames are sealed before the clock starts and opened after it stops (the generator's CPU then
    goes to the sockets); a channel that runs out seals the rest as it goes."""
    stats = target.stats
    stats.latencies = []
    if sealed_ahead:
        for pair in target.chats:
            pair.up.seal_ahead(math.ceil(1.05 * seconds / up_interval) + 2)
            pair.down.seal_ahead(math.ceil(1.05 * seconds / down_interval) + 2)
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
    if sealed_ahead:
        for pair in target.chats:  # the real crypto, after the clock has stopped
            pair.up.open_deferred()
            pair.down.open_deferred()
    result = PhaseResult.between(before, after, lost, list(stats.latencies))
    result.offered = len(target.chats) * (1 / up_interval + 1 / down_interval)
    return result


@dataclass
class SetupResult:
    """Opening the chats: the two timed steps (summed over the batches) and the untimed solving."""
    challenges: PhaseResult = field(default_factory=PhaseResult)  # the challenge requests
    opening: PhaseResult = field(default_factory=PhaseResult)     # socket, open, pickup, accept, connected
    pow_cpu_s: float = 0.0   # the worker processes' CPU for solving (not the server's, not the generator's)
    pow_wall_s: float = 0.0
    bits: set[int] = field(default_factory=set)

    @property
    def wall_s(self) -> float:
        return self.challenges.wall_s + self.opening.wall_s

    @property
    def cpu_s(self) -> float:
        return self.challenges.cpu_s + self.opening.cpu_s

    @property
    def other_cpu_s(self) -> float:
        return self.challenges.other_cpu_s + self.opening.other_cpu_s

    @property
    def gen_cpu_s(self) -> float:
        return self.challenges.gen_cpu_s + self.opening.gen_cpu_s

    def share(self, seconds: float) -> float:
        return 100 * seconds / self.wall_s if self.wall_s > 0 else float("nan")


async def solve_all(pool: concurrent.futures.Executor, challenges: list[dict[str, Any]],
                    setup: SetupResult) -> list[dict[str, str]]:
    """The batch's challenges solved in the worker processes (the bare relay's, at 0 bits, here)."""
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()

    async def one(ch: dict[str, Any]) -> tuple[str, float]:
        setup.bits.add(ch["bits"])
        if ch["bits"] == 0:
            return crypto.b64encode(bytes(crypto.POW_NONCE_BYTES)), 0.0  # what pow_solve returns at 0 bits
        return await loop.run_in_executor(pool, solve_b64, ch["challenge"], ch["bits"])
    answers = await asyncio.gather(*(one(ch) for ch in challenges))
    setup.pow_wall_s += time.perf_counter() - t0
    setup.pow_cpu_s += sum(cpu for _, cpu in answers)
    return [{"challenge": ch["challenge"], "nonce": nonce} for ch, (nonce, _) in zip(challenges, answers)]


async def set_up_chats(target: Target, indices: list[int], pool: concurrent.futures.Executor) -> SetupResult:
    """Open these chats in batches: the challenges (timed), their solving (not), the opening (timed)."""
    setup = SetupResult()
    for at in range(0, len(indices), SETUP_BATCH):
        batch = indices[at:at + SETUP_BATCH]
        before = Snapshot.take(target)
        challenges = await target.challenges(batch)
        asked = Snapshot.take(target)
        solved = await solve_all(pool, challenges, setup)
        ready = Snapshot.take(target)
        await target.open_chats(batch, solved)
        after = Snapshot.take(target)
        setup.challenges.add(PhaseResult.between(before, asked, 0))
        setup.opening.add(PhaseResult.between(ready, after, 0))
    return setup


async def warm_up(target: Target, pool: concurrent.futures.Executor) -> None:
    """A few short chats that end, so that first-use allocations are not counted as idle memory."""
    n = min(20, len(target.volunteers) * CAPACITY)
    await set_up_chats(target, list(range(n)), pool)
    for _ in range(3):
        for pair in target.chats:
            await pair.up.send()
            await pair.down.send()
    await drain(target.chats, 10)
    await target.end_chats()


@dataclass
class TargetResult:
    name: str
    chats: int = 0
    setup: SetupResult = field(default_factory=SetupResult)
    rss_before_kib: int = 0
    rss_idle_kib: int = 0
    rss_after_kib: int = 0
    connections_added: float = 0
    log_lines: tuple[int, int] = (0, 0)  # written, of which warnings and errors
    burst: PhaseResult = field(default_factory=PhaseResult)
    latency: PhaseResult = field(default_factory=PhaseResult)
    paced: PhaseResult = field(default_factory=PhaseResult)
    peak: PhaseResult = field(default_factory=PhaseResult)
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


@contextlib.asynccontextmanager
async def profiled(target: Target, what: str, profile: tuple[Path, str] | None, say: Callable[[str], None]):  # type: ignore[no-untyped-def]
    """With --profile: py-spy samples the relay process (one process: not the cluster) while the block runs."""
    proc = target.process.proc if isinstance(target.process, RelayProcess) else None
    if profile is None or proc is None:
        yield
        return
    folder, exe = profile
    spy = PySpy(exe, proc.pid, folder / f"{target.name}-{what}.txt")
    spy.start()
    await asyncio.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        out = spy.stop()
        for line in summary(out, 25) if out else [f"no profile written (see {spy.out.with_suffix('.log')})"]:
            say(f"[{target.name} profile {what}] {line}")


async def bench_target(target: Target, chats: int, latency_s: float, phase_s: float, bursts: int,
                       pool: concurrent.futures.Executor, say: Callable[[str], None],
                       profile: tuple[Path, str] | None = None) -> TargetResult:
    result = TargetResult(target.name, chats)
    say(f"[{target.name}] starting {target.process.name} and {target.n_volunteers} volunteers")
    await target.start()
    await warm_up(target, pool)
    await asyncio.sleep(1.0)
    result.rss_before_kib = target.process.rss_kib()
    say(f"[{target.name}] opening {chats} chats from {addresses_used(chats)}")
    async with profiled(target, "setup", profile, say):
        result.setup = await set_up_chats(target, list(range(chats)), pool)
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

    for label, fraction, jitter, ahead in (("paced", PACE_FRACTION, 0.2, False), ("peak", PEAK_FRACTION, PEAK_JITTER, True)):
        up_interval = 1 / (SEEKER_RATE_LIMIT * fraction)
        down_interval = target.down_share / (VOLUNTEER_RATE_LIMIT * fraction)
        say(f"[{target.name}] {label}: {chats} chats, {1 / up_interval:.3g} + {1 / down_interval:.3g} msg/s "
            f"per chat, window {WINDOW}, {phase_s:g} s{', sealed beforehand' if ahead else ''}")
        await asyncio.sleep(1.0)
        async with profiled(target, label, profile if label == "peak" else None, say):
            setattr(result, label, await run_phase(target, phase_s, up_interval, down_interval, jitter, True,
                                                   ahead))
    await asyncio.sleep(0.5)
    result.rss_after_kib = target.process.rss_kib()
    if not target.process.alive():
        raise RuntimeError(f"{target.process.name} died (its output is above)")
    result.errors = dict(target.stats.errors)
    result.log_lines = target.process.log_lines()
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


PHASES = ("burst", "latency", "paced", "peak")
SUSTAINED = 0.9  # a paced phase that delivered less per wall second than this share of its schedule fell behind


def _rows(t: TargetResult) -> list[tuple[str, float, int, str]]:
    """The table's rows for one target: (label, value, digits, which ratios: "" none, "all"
    relay/bare and cluster/relay, "cluster" only cluster/relay)."""
    s = t.setup
    rows: list[tuple[str, float, int, str]] = [
        ("setup: chats opened", t.chats, 0, ""),
        ("setup: challenge requests s", s.challenges.wall_s, 2, "all"),
        ("setup: socket to connected s", s.opening.wall_s, 2, "all"),
        ("setup: seconds (both timed steps)", s.wall_s, 2, "all"),
        ("setup: server CPU s", s.cpu_s, 2, "all"),
        ("setup: server CPU %", s.share(s.cpu_s), 0, ""),
        ("setup: generator CPU %", s.share(s.gen_cpu_s), 0, ""),
        ("setup: other processes CPU %", s.share(s.other_cpu_s), 0, ""),
        ("setup: proof-of-work solving s (untimed)", s.pow_wall_s, 1, ""),
        ("idle: connections added", t.connections_added, 0, ""),
        ("idle: RSS growth MiB", (t.rss_idle_kib - t.rss_before_kib) / 1024, 1, ""),
        ("idle: KiB per idle connection", t.kib_per_idle_conn, 1, "all"),
    ]
    for label in PHASES:
        p: PhaseResult = getattr(t, label)
        rows += [
            (f"{label}: messages delivered", p.delivered, 0, ""),
        ]
        if p.offered:
            rows.append((f"{label}: msgs per s scheduled", p.offered, 0, ""))
        rows.append((f"{label}: msgs per wall s", _ratio(p.delivered, p.wall_s), 0, ""))
        if p.latencies:
            rows += [
                (f"{label}: messages sampled", len(p.latencies), 0, ""),
                (f"{label}: p50 ms", p.pct(0.50), 2, "cluster"),
                (f"{label}: p99 ms", p.pct(0.99), 2, "cluster"),
                (f"{label}: max ms", p.pct(1.0), 2, ""),
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
        ("lost messages (all phases)", sum(getattr(t, label).lost for label in PHASES), 0, ""),
        ("server log lines written", t.log_lines[0], 0, ""),
        ("server log: warnings and errors", t.log_lines[1], 0, ""),
    ]
    return rows


def report(relay: TargetResult, bare: TargetResult, args: argparse.Namespace, elapsed: float,
           cluster: TargetResult | None = None, queue: QueueEvents | None = None) -> list[str]:
    def n(x: float, digits: int = 0) -> str:
        return f"{x:,.{digits}f}"

    flags = ", ".join(name for name, on in (("--quick", args.quick), ("--cluster", cluster is not None)) if on)
    c = Config
    bits = sorted(relay.setup.bits)
    lines = [
        f"chat relay benchmark{f' ({flags})' if flags else ''}: {relay.chats} chats, {args.volunteers} "
        f"volunteers; {os.cpu_count()} CPUs; Python {platform.python_version()}, aiohttp {aiohttp.__version__}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}; {elapsed:.0f} s",
        f"relay settings: the production defaults (server/config.py) but Argon2id at its floor: "
        f"chat_max_per_volunteer {c.chat_max_per_volunteer}, proof-of-work {'-'.join(map(str, bits))} bits "
        f"(base {c.pow_base_bits}), chat_queue_max {c.chat_queue_max}, access log {'on' if c.access_log else 'off'}, "
        f"log level {c.log_level} (to a file), per-address limits as shipped "
        f"(chat_challenges_per_minute {c.chat_challenges_per_minute}, chat_idle_sockets_per_address "
        f"{c.chat_idle_sockets_per_address}, login_per_minute {c.login_per_minute})",
        f"topology, both relays: {relay.chats} help-seeker sockets from {addresses_used(relay.chats)} "
        f"({CHATS_PER_ADDRESS} each), {args.volunteers} volunteer sockets from {VOLUNTEER_ADDRESS} "
        f"with up to {math.ceil(relay.chats / args.volunteers)} chats each; proof-of-work solved in "
        f"{args.workers} worker processes between the timed steps: {relay.setup.pow_cpu_s:.1f} CPU-s",
        f"{'':40} {'relay':>10} {'bare':>10} {'relay/bare':>10}"
        + (f" {'cluster':>10} {'cluster/relay':>13}" if cluster else ""),
    ]
    columns = [_rows(relay), _rows(bare)] + ([_rows(cluster)] if cluster else [])
    for i, (label, r, digits, kind) in enumerate(columns[0]):
        b = columns[1][i][1]
        line = f"{label:40} {n(r, digits):>10} {n(b, digits):>10} {n(_ratio(r, b), 2) if kind == 'all' else '':>10}"
        if cluster:
            cl = columns[2][i][1]
            line += f" {n(cl, digits):>10} {n(_ratio(cl, r), 2) if kind else '':>13}"
        lines.append(line)
    targets = [relay, bare] + ([cluster] if cluster else [])
    for r in targets:
        if r.errors:
            lines.append(f"{r.name} errors: {r.errors}")
    busy: list[tuple[str, Any]] = [(f"{t.name} {label}", getattr(t, label)) for t in targets for label in PHASES]
    busy += [(f"{t.name} setup", t.setup) for t in targets]
    noisy = [name for name, p in busy if p.share(p.other_cpu_s) > 15]
    if noisy:
        lines.append(f"WARNING: other processes used more than 15% of a core during: {', '.join(noisy)}; "
                     "figures from a busy machine are not comparable")
    behind = [f"{t.name} {label} ({_ratio(p.delivered, p.wall_s):,.0f} of {p.offered:,.0f} msgs/s)"
              for t in targets for label in PHASES for p in [getattr(t, label)]
              if p.offered and _ratio(p.delivered, p.wall_s) < SUSTAINED * p.offered]
    if behind:
        lines.append(f"WARNING: the schedule was not kept (under {SUSTAINED:.0%} of it delivered per wall second: "
                     f"the generator or the relay fell behind, so the relays did not carry the same load) during: "
                     f"{', '.join(behind)}")
    ratio = relay.peak.per_cpu_s / bare.peak.per_cpu_s
    paced_ratio = relay.paced.per_cpu_s / bare.paced.per_cpu_s
    setup_ratio = relay.setup.wall_s / bare.setup.wall_s
    p99 = relay.latency.pct(0.99)
    kib = relay.kib_per_idle_conn
    bare_p99 = bare.latency.pct(0.99)
    if cluster:
        lines.append("cluster server CPU, % of a core: node A (leads the hub, help-seekers' sockets) + node B "
                     "(volunteers' sockets) + redis-server; PostgreSQL counts as other processes: "
                     + "; ".join(f"{label} " + " + ".join(f"{name} {n(p.share(cpu))}"
                                                         for name, cpu in p.cpu_parts.items())
                                 for label in PHASES for p in [getattr(cluster, label)]))
        c_relay = cluster.paced.per_cpu_s / relay.paced.per_cpu_s
        c_bare = cluster.paced.per_cpu_s / bare.paced.per_cpu_s
        c_peak = cluster.peak.per_cpu_s / relay.peak.per_cpu_s
        c_p99 = cluster.latency.pct(0.99)
        fields = (f"{c_relay:.2f}", f"{c_bare:.2f}", f"{c_p99:.2f}", f"{c_p99 / p99:.2f}", f"{c_p99 / bare_p99:.2f}",
                  f"{c_peak:.2f}")
    else:
        fields = ("-",) * 6
    queue = queue or QueueEvents("bench/queue_events.py", why="not run")
    lines.append(f"queue events ({queue.command}): queue_event_ms_500 {queue.q} cpu_share_1000x10 {queue.share}"
                 + (f" ({queue.why})" if queue.why else ""))
    met = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    lines.append(f"targets: ratio >= 0.7 {met(ratio >= 0.7)} ({ratio:.2f}, peak phase; paced {paced_ratio:.2f}); "
                 f"setup_ratio <= 3 {met(setup_ratio <= 3)} ({setup_ratio:.2f}); "
                 f"p99 <= 2 ms {met(p99 <= 2)} ({p99:.2f}); "
                 f"KiB per idle connection <= 32 {met(kib <= 32)} ({kib:.1f})")
    lines.append(f"cluster (2 web nodes through Redis{'' if cluster else '; run with --cluster'}): "
                 f"cluster_ratio {fields[0]} (paced msgs per server CPU-s x relay; {fields[1]} x bare; "
                 f"peak {fields[5]} x relay); "
                 f"p99 {fields[2]} ms (relay {p99:.2f}, bare {bare_p99:.2f}) = {fields[3]} x relay, {fields[4]} x bare")
    lines.append(f"ratio {ratio:.2f} paced_ratio {paced_ratio:.2f} setup_ratio {setup_ratio:.2f} p99_ms {p99:.2f} "
                 f"kib_per_idle_conn {kib:.1f} queue_event_ms_500 {queue.q}")
    return lines


async def main_async(args: argparse.Namespace) -> int:
    begun = time.perf_counter()
    say = (lambda text: print(text, file=sys.stderr, flush=True))
    postgres = redis = None
    # The proof-of-work solvers: fresh interpreters (spawn), not forks of this process and its sockets.
    pool = concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"))
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
        return await _run_targets(args, begun, say, relay_db, cluster_db, redis, pool)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if redis is not None:
            from tests.services.redis import stop_redis
            await asyncio.to_thread(stop_redis, redis)
        if postgres is not None:
            from tests.services.postgres import stop_postgres
            await asyncio.to_thread(stop_postgres, postgres)


async def _run_targets(args: argparse.Namespace, begun: float, say: Any, database_url: str, cluster_db: str,
                       redis: Any, pool: concurrent.futures.Executor) -> int:
    with tempfile.TemporaryDirectory(prefix="oor-bench-") as tmp:
        work = Path(tmp)
        results: dict[str, TargetResult] = {}
        gate = await asyncio.to_thread(KeyGate, work)  # the root key; a witness per real target's log
        targets: list[Callable[[], Target]] = [
            lambda: RealRelay(work, args.chats, args.volunteers, gate, database_url),
            lambda: BareRelay(work, args.chats, args.volunteers),
        ]
        if args.cluster:
            targets.append(lambda: RealCluster(work, args.chats, args.volunteers, gate, cluster_db, redis))
        try:
            await _run_each(targets, results, args, say, pool)
        finally:
            gate.stop()
        queue = await asyncio.to_thread(queue_events, args.quick, say)
        for line in report(results["relay"], results["bare"], args, time.perf_counter() - begun,
                           results.get("cluster"), queue):
            print(line, flush=True)
    return 0


async def _run_each(targets: list[Callable[[], Target]], results: dict[str, TargetResult], args: argparse.Namespace,
                    say: Any, pool: concurrent.futures.Executor) -> None:
    for make in targets:
        target = make()
        try:
            results[target.name] = await bench_target(target, args.chats, args.latency_seconds,
                                                      args.seconds, args.bursts, pool, say, args.profile)
        except (KeyboardInterrupt, asyncio.CancelledError):
            raise
        except BaseException:
            if target.process.proc is not None:
                say(f"[{target.name}] failed; last output of {target.process.name}:\n{target.process.log_tail()}")
            raise
        finally:
            await target.close()
            target.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Chat relay benchmark: the real relay against a bare aiohttp relay.")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 chats, 25 volunteers, 2-second phases")
    parser.add_argument("--chats", type=int, help="concurrent chats (default 1000; 50 with --quick)")
    parser.add_argument("--volunteers", type=int,
                        help=f"volunteers sharing the chats (default: chats / {CAPACITY}, the production "
                             "chat_max_per_volunteer; at least that many)")
    parser.add_argument("--seconds", type=float, help="paced and peak phase length (default 10; 2 with --quick)")
    parser.add_argument("--bursts", type=int, help="burst rounds (default 3; 1 with --quick)")
    parser.add_argument("--latency-seconds", type=float, help="latency phase length (default 11; 3 with --quick)")
    parser.add_argument("--postgres", action="store_true",
                        help="the real relay stores in PostgreSQL (a cluster this run starts) instead of SQLite")
    parser.add_argument("--cluster", action="store_true",
                        help="add a third target: two `oor serve --only web` nodes sharing the chat through Redis "
                             "(PostgreSQL and Redis started by this run), help-seekers on one, volunteers on the other")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample each one-process relay with py-spy during the set-up and the peak phase; raw "
                             "profiles into DIR, top functions to stderr (figures of such a run are not comparable)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), metavar="PATH",
                        help="the py-spy executable for --profile (default: py-spy on PATH)")
    args = parser.parse_args(argv)
    if args.profile is not None:
        if not args.py_spy:
            parser.error("--profile needs py-spy (pip install py-spy, then --py-spy PATH if it is not on PATH)")
        args.profile.mkdir(parents=True, exist_ok=True)
        args.profile = (args.profile.resolve(), args.py_spy)
    args.chats = args.chats or (50 if args.quick else 1000)
    args.volunteers = args.volunteers or math.ceil(args.chats / CAPACITY)
    args.workers = os.cpu_count() or 2
    args.seconds = args.seconds or (2.0 if args.quick else 10.0)
    args.latency_seconds = args.latency_seconds or (3.0 if args.quick else 11.0)
    args.bursts = args.bursts or (1 if args.quick else 3)
    if not (1 <= args.chats <= 5000 and math.ceil(args.chats / CAPACITY) <= args.volunteers <= args.chats
            and 0 < args.seconds <= 120 and LATENCY_WARMUP_S < args.latency_seconds <= 120
            and 1 <= args.bursts <= 10):
        parser.error(f"chats 1..5000, volunteers chats/{CAPACITY}..chats (a volunteer holds at most "
                     f"{CAPACITY} chats in production), phases up to 120 s (latency longer than 1 s), 1..10 bursts")
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
