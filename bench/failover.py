"""Failover benchmark: running chats through a rolling restart and a crash of the web nodes.

    .venv/bin/python bench/failover.py                      # 200 chats, 1 msg/s each way, about 90 s
    .venv/bin/python bench/failover.py --chats 20 --settle 2   # smoke run, about 45 s

The cluster of DESIGN.md 3 runs for real (tests/deploy/cluster.py): PostgreSQL, Redis, two
`oor serve --only web` nodes, the gateway, and nginx running deploy/nginx/ with both nodes in its
upstream. This process plays P help-seekers and P/2 volunteers (chat_max_per_volunteer = 2, so
every volunteer socket carries two chats), all through nginx, doing the real crypto and the resume
protocol of issue 14 (bench/support/failover_clients.py: reconnect at once on close 1012 or any
drop, resume, resend what the relay did not acknowledge, drop duplicates). Volunteers are
invited as `oor volunteer invite NAME --chat` invites them (in this process, on the cluster's
database), then enrol and log in through the API.

Once every chat runs, each side of each chat sends `--rate` messages a second (random phase,
+-10 % jitter), and the nodes are put through, in order:

  steady     nothing happens (`--steady` s): the baseline latency
  roll web-0 SIGTERM node 0 (drain: seconds to its exit), start it again on its port, wait until
             nginx sends it requests again (its failure mark, fail_timeout in oor-upstream.conf,
             ran out), wait until every chat has resumed, then `--settle` s
  roll web-1 the same for node 1
  kill       SIGKILL node `--kill` (no drain: its sockets just drop), wait until every chat has
             resumed on the other, then `--settle` s; the killed node stays down
  drain      senders stop; wait until everything sealed has arrived (at most 15 s)

Then every chat is checked: each message sealed is delivered exactly once, in order, to the other
side (the session opens only the next seq; the content names chat, direction and seq and is
checked too). Per phase it prints the messages sealed in it, how many of those were lost, their
one-way latency (p50, p99, max), the longest a chat had one side not resumed (outage), resumes,
legacy resumes (no `acked`), messages sent again, and the closes the clients saw by code. The last
line is

    chats_lost N messages_lost M max_gap_ms G drain_s D

chats_lost: chats that never started, ended, or could not resume (either side); messages_lost:
sealed but never delivered (duplicates dropped and anything delivered twice are on an earlier
line); max_gap_ms: the longest one-way delivery time of any message in flight during the rolling
restart (from SIGTERM of node 0 to the end of node 1's settle), that is the longest any chat could
not deliver (the kill phase's is on its own line, kill_gap_ms); drain_s: the longer SIGTERM-to-exit
of the two nodes. The targets of issue 14: chats_lost 0, messages_lost 0, max_gap_ms <= 3000,
drain_s <= 5.

There is no bare baseline: what is measured (lost, duplicated, delayed by a restart) is zero for a
relay that never restarts. Server settings are the test suite's fast Argon2id, proof-of-work at 0
bits, per-address limits lifted (every client here comes from 127.0.0.1 through nginx), access log
on (the harness reads it to see nginx use a restarted node again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

import crypto  # noqa: E402
from bench.support.failover_clients import (  # noqa: E402
    RESUME_DEADLINE_S, Seeker, Side, Tally, Volunteer, VolunteerChat, paced)
from bench.support.transparency import KeyGate  # noqa: E402  (the key gate, issue 17)
from client.volunteer import enrolment_body, login_body  # noqa: E402
from tests.deploy import cluster as cluster_harness  # noqa: E402
from tests.deploy.cluster import Cluster, Node, NodeStuck, start_cluster, stop_cluster  # noqa: E402
from tests.processes import start_oor  # noqa: E402

CHATS_PER_VOLUNTEER = 2
PASSPHRASE = "groene appel onder de brug"
INSECURE_KDF = crypto.KdfParams(crypto.MIN_OPSLIMIT, crypto.MIN_MEMLIMIT)  # Argon2id at its floor, as the tests
SETUP_CONCURRENCY = 16
STEP_TIMEOUT_S = 30.0
DELIVERY_TIMEOUT_S = 15.0
QUIET_S = 1.0  # no socket closed for this long: the wave of reconnections is over
TARGETS = {"chats_lost": 0, "messages_lost": 0, "max_gap_ms": 3000, "drain_s": 5}

# On top of the cluster harness's settings (the insecure test settings, PostgreSQL, Redis, X-Real-IP).
SERVER_ENV = {
    "OOR_CHAT_MAX_PER_VOLUNTEER": str(CHATS_PER_VOLUNTEER),
    "OOR_POW_BASE_BITS": "0",
    "OOR_POW_MAX_BITS": "0",
    "OOR_CHAT_QUEUE_MAX": "5000",
    "OOR_CHAT_CHALLENGES_PER_MINUTE": "100000",
    "OOR_CHAT_IDLE_SOCKETS_PER_ADDRESS": "100000",
    "OOR_LOGIN_PER_MINUTE": "100000",
}


def say(text: str) -> None:
    """Progress, on stderr: the report on stdout stays the figures alone."""
    print(text, file=sys.stderr, flush=True)


def letters(i: int) -> str:
    """A name part of letters only (volunteer names are letters, spaces, hyphens)."""
    out = ""
    i += 26 * 26
    while i:
        i, r = divmod(i, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[r] + out
    return out.capitalize()


@dataclass
class Chat:
    index: int
    seeker: Seeker
    volunteer: Volunteer | None = None

    @property
    def vside(self) -> Side | None:
        if self.volunteer is None:
            return None
        held: VolunteerChat | None = self.volunteer.chats.get(self.seeker.key)
        return held.side if held is not None else None

    @property
    def sides(self) -> list[Side]:
        return [s for s in (self.seeker.side, self.vside) if s is not None]

    @property
    def started(self) -> bool:
        return self.vside is not None and self.seeker.side.session is not None

    @property
    def ended(self) -> str | None:
        """Why the chat is over for this benchmark (either side), or None while it runs."""
        for side in self.sides:
            if side.ended is not None:
                return side.ended
        if self.volunteer is not None and self.volunteer.gave_up:
            return "could-not-resume"
        return None

    def running(self) -> bool:
        return self.started and self.ended is None

    def resumed(self) -> bool:
        return all(s.ready and s.down_since is None for s in self.sides)

    def longest_outage(self, start: float, end: float, until: float) -> float:
        """The longest stretch overlapping [start, end) with either side not resumed."""
        spans = [(a, b) for side in self.sides for a, b in side.downs]
        spans += [(side.down_since, until) for side in self.sides if side.down_since is not None]
        spans.sort()
        best, cur_a, cur_b = 0.0, None, None
        for a, b in spans + [(math.inf, math.inf)]:
            if cur_b is not None and a <= cur_b:
                cur_b = max(cur_b, b)
                continue
            if cur_a is not None and cur_b is not None and cur_b >= start and cur_a < end:
                best = max(best, cur_b - cur_a)
            cur_a, cur_b = a, b
        return best


@dataclass
class Phase:
    name: str
    start: float
    end: float = 0.0
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # tally counters over the phase


def tally_counts(tally: Tally) -> dict[str, int]:
    return {"resumes": tally.resumes, "legacy": tally.legacy_resumes, "resent": tally.resent}


class Failover:
    """The clients, the schedule and the figures of one run."""

    def __init__(self, cluster: Cluster, args: argparse.Namespace, gate: KeyGate) -> None:
        self.cluster, self.args, self.gate = cluster, args, gate
        self.base = cluster.url
        self.tally = Tally()
        self.pending: dict[str, Seeker] = {}
        self.chats: list[Chat] = []
        self.volunteers: list[Volunteer] = []
        self.sessions: list[aiohttp.ClientSession] = []
        self.stop = asyncio.Event()
        self.senders: list[asyncio.Task[None]] = []
        self.phases: list[Phase] = []
        self.drains: list[float] = []
        self.stuck: list[str] = []

    def session(self, cookies: bool) -> aiohttp.ClientSession:
        jar: aiohttp.abc.AbstractCookieJar = aiohttp.CookieJar(unsafe=True) if cookies else aiohttp.DummyCookieJar()
        made = aiohttp.ClientSession(self.base, cookie_jar=jar, connector=aiohttp.TCPConnector(limit=0, ssl=False),
                                     timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT_S))
        self.sessions.append(made)
        return made

    # -- setup ------------------------------------------------------------------------------------

    async def invitations(self, names: list[str]) -> list[str]:
        """Invitations as `oor volunteer invite NAME --chat` makes them, on the cluster's database
        (one CLI process per volunteer would take a minute of start-ups)."""
        from server import accounts
        from server.config import load_config
        from server.storage import open_storage

        config = load_config(env=self.cluster.env, overrides={"data_dir": str(self.cluster.root / "admin")})
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

    async def enrol(self, count: int) -> None:
        names = [f"Oor {letters(i)}" for i in range(count)]
        tokens = await self.invitations(names)
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def one(name: str, token: str) -> Volunteer:
            async with gate:
                identity = crypto.new_identity()
                http = self.session(cookies=True)
                async with http.post("/api/enrol", json=enrolment_body(token, PASSPHRASE, INSECURE_KDF, identity)) as r:
                    if r.status != 201:
                        raise RuntimeError(f"enrol {name}: {r.status} {await r.text()}")
                async with http.post("/api/login", json=await login_body(http, name, PASSPHRASE)) as r:
                    if r.status != 200:
                        raise RuntimeError(f"login {name}: {r.status} {await r.text()}")
                return Volunteer(self.base, http, self.tally, name, identity, self.pending)

        async def connect(volunteer: Volunteer) -> None:
            async with gate:
                volunteer.start()
                await asyncio.wait_for(asyncio.shield(volunteer.first_queue), STEP_TIMEOUT_S)
        self.volunteers = list(await asyncio.gather(*(one(n, t) for n, t in zip(names, tokens))))
        # The coordinators sign the enrolled volunteers' key statements with the real CLI
        # (bench/support/transparency.py) and both nodes' logs take them in, before any socket opens.
        size = await asyncio.to_thread(self.gate.sign, self.cluster.root / "admin", self.cluster.env, expect=count)
        await self.gate.wait_ready([node.url for node in self.cluster.nodes], size)
        await asyncio.gather(*(connect(v) for v in self.volunteers))

    def queued(self, seeker: Seeker) -> None:
        self.pending[seeker.key] = seeker

    async def open_chats(self, count: int) -> float:
        """Open `count` chats and pair each with a volunteer; the seconds it took."""
        begun = time.monotonic()
        http = self.session(cookies=False)
        gate = asyncio.Semaphore(SETUP_CONCURRENCY * 2)

        async def one(i: int) -> Chat:
            seeker = Seeker(self.base, http, self.tally, i, self.queued)
            chat = Chat(i, seeker)
            async with gate:
                seeker.start()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(seeker.queued), STEP_TIMEOUT_S)
            return chat
        self.chats = list(await asyncio.gather(*(one(i) for i in range(count))))
        # Pickups in rounds: every volunteer with room takes one (the hub hands out the longest
        # waiting); rounds go on while they make progress. Without shared state a volunteer sees only
        # the help-seekers of its own node, and some chats may never be picked up.
        by_key = {c.seeker.key: c for c in self.chats if c.seeker.key}
        idle_rounds = 0
        while any(c.volunteer is None and c.seeker.key for c in self.chats) and idle_rounds < 4:
            room = [v for v in self.volunteers if len(v.live()) < CHATS_PER_VOLUNTEER and v.ws is not None]
            keys = await asyncio.gather(*(v.pick_up() for v in room))
            progress = 0
            for volunteer, key in zip(room, keys):
                if key is not None and key in by_key:
                    by_key[key].volunteer = volunteer
                    progress += 1
            idle_rounds = 0 if progress else idle_rounds + 1
            if not progress:
                await asyncio.sleep(0.5)
        waiting = [c.seeker.connected for c in self.chats if c.volunteer is not None]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), STEP_TIMEOUT_S)
        return time.monotonic() - begun

    def start_senders(self, rate: float) -> None:
        for chat in self.chats:
            if not chat.started:
                continue

            def seeker_side(chat: Chat = chat) -> Side | None:
                return chat.seeker.side if chat.ended is None else None

            def volunteer_side(chat: Chat = chat) -> Side | None:
                return chat.vside if chat.ended is None else None
            self.senders.append(asyncio.create_task(paced(seeker_side, rate, self.stop)))
            self.senders.append(asyncio.create_task(paced(volunteer_side, rate, self.stop)))

    # -- the schedule -----------------------------------------------------------------------------

    async def all_resumed(self, since: float, timeout: float) -> float | None:
        """Seconds from `since` until every running chat has both sides resumed and no socket has
        closed for QUIET_S (a second wave, when the lead of the hub moves, is waited for too), or
        None after `timeout`."""
        while time.monotonic() - since < timeout:
            last_close = max((t for t, _ in self.tally.events), default=0.0)
            if all(c.resumed() for c in self.chats if c.running()) and time.monotonic() - last_close >= QUIET_S:
                return max(last_close, since) - since if last_close > since else 0.0
            await asyncio.sleep(0.05)
        return None

    async def drops_seen(self, since: float, timeout: float = 10.0) -> bool:
        """Wait until the clients see a socket close after `since` (a killed node's sockets drop as
        soon as nginx notices): before that, every chat still looks resumed."""
        while time.monotonic() - since < timeout:
            if any(t >= since for t, _ in self.tally.events):
                return True
            await asyncio.sleep(0.02)
        return False

    def begin(self, name: str) -> Phase:
        phase = Phase(name, time.monotonic(), counts=tally_counts(self.tally))
        self.phases.append(phase)
        say(f"phase {name}")
        return phase

    def finish(self, phase: Phase) -> None:
        phase.end = time.monotonic()
        after = tally_counts(self.tally)
        phase.counts = {k: after[k] - phase.counts[k] for k in after}

    async def steady(self, seconds: float) -> None:
        phase = self.begin("steady")
        await asyncio.sleep(seconds)
        self.finish(phase)

    async def roll(self, node: Node) -> None:
        phase = self.begin(f"roll {node.name}")
        try:
            drain = await asyncio.to_thread(node.sigterm)
        except NodeStuck as exc:
            drain = exc.seconds
            self.stuck.append(node.name)
        self.drains.append(drain)
        stopped = time.monotonic()
        await asyncio.to_thread(node.start)
        started = time.monotonic()
        refused = await asyncio.to_thread(self.cluster.wait_in_rotation, node, 15.0, False)
        in_rotation = time.monotonic()
        if refused:
            phase.notes.append(f"nginx answered /api/health with {Counter(refused)} while {node.name} came back")
        back = await self.all_resumed(phase.start, RESUME_DEADLINE_S + 5)
        phase.notes.append(f"drain {drain:.2f} s{' (STUCK, killed)' if node.name in self.stuck else ''}, "
                           f"restart {started - stopped:.2f} s, back in nginx's rotation {in_rotation - started:.2f} s "
                           "after that; " + (f"the last socket closed {back:.2f} s after SIGTERM, every chat resumed"
                                             if back is not None else "NOT every chat resumed"))
        await asyncio.sleep(self.args.settle)
        self.finish(phase)

    async def kill(self, node: Node) -> None:
        phase = self.begin(f"kill {node.name}")
        await asyncio.to_thread(node.sigkill)
        seen = await self.drops_seen(phase.start)
        back = await self.all_resumed(phase.start, RESUME_DEADLINE_S + 5)
        phase.notes.append("SIGKILL, the node stays down; " + (
            "no socket dropped (none was on it?)" if not seen else
            f"the last socket closed {back:.2f} s after SIGKILL, every chat resumed" if back is not None
            else "NOT every chat resumed"))
        await asyncio.sleep(self.args.settle)
        self.finish(phase)

    async def deliver(self) -> Phase:
        """Stop the senders and wait until what was sealed has arrived."""
        phase = self.begin("drain")
        self.stop.set()
        await asyncio.gather(*self.senders, return_exceptions=True)
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            if all(d.lost() == 0 for c in self.chats if c.running() for d in (c.seeker.up, c.seeker.down)):
                break
            await asyncio.sleep(0.05)
        self.finish(phase)
        return phase

    async def close(self) -> None:
        self.stop.set()
        for task in self.senders:
            task.cancel()
        await asyncio.gather(*self.senders, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in [c.seeker for c in self.chats] + self.volunteers),
                             return_exceptions=True)
        for http in self.sessions:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(http.close(), 5)

    # -- figures ----------------------------------------------------------------------------------

    def directions(self) -> list[Any]:
        return [d for c in self.chats if c.started for d in (c.seeker.up, c.seeker.down)]

    def latencies(self, start: float, end: float) -> list[float]:
        return [x for d in self.directions() for x in d.latencies(start, end)]

    def report(self, setup_s: float, begun: float) -> list[str]:
        lines: list[str] = []
        end_of_run = time.monotonic()
        started = [c for c in self.chats if c.started]
        lines.append(f"failover benchmark: {len(self.chats)} chats, {len(self.volunteers)} volunteers "
                     f"({CHATS_PER_VOLUNTEER} chats each), {self.args.rate:g} msg/s per chat and direction; "
                     f"2 web nodes behind nginx, live state shared through Redis: "
                     f"{'yes' if self.cluster.shared_state else 'NO (this server has no hub_url setting)'}; "
                     f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}; "
                     f"{time.strftime('%Y-%m-%d %H:%M')}; {end_of_run - begun:.0f} s")
        lines.append(f"setup: {len(started)}/{len(self.chats)} chats running after {setup_s:.1f} s")
        header = (f"{'phase':<12}{'s':>6}{'sealed':>8}{'lost':>6}{'p50_ms':>8}{'p99_ms':>8}{'max_ms':>8}"
                  f"{'outage_ms':>11}{'resumes':>9}{'legacy':>8}{'resent':>8}  closes")
        lines.append(header)
        for phase in self.phases:
            sealed = sum(1 for d in self.directions() for t in d.sealed_at if phase.start <= t < phase.end)
            lost = sum(1 for d in self.directions() for seq, t in enumerate(d.sealed_at, 1)
                       if phase.start <= t < phase.end and seq not in d.delivered_at)
            # Per phase: the messages sealed in it (the gap lines below take every message in flight).
            lat = sorted(d.delivered_at[seq] - t for d in self.directions() for seq, t in enumerate(d.sealed_at, 1)
                         if phase.start <= t < phase.end and seq in d.delivered_at)
            outage = max((c.longest_outage(phase.start, phase.end, end_of_run) for c in started if c.ended is None),
                         default=0.0)  # an ended chat's sides stay down for good: counted as lost instead
            closes = Counter(e.split(":", 1)[1] for t, e in self.tally.events if phase.start <= t < phase.end)
            lines.append(f"{phase.name:<12}{phase.end - phase.start:>6.1f}{sealed:>8}{lost:>6}"
                         f"{ms(pct(lat, 50)):>8}{ms(pct(lat, 99)):>8}{ms(lat[-1] if lat else 0):>8}"
                         f"{ms(outage):>11}{phase.counts['resumes']:>9}{phase.counts['legacy']:>8}"
                         f"{phase.counts['resent']:>8}  "
                         + (", ".join(f"{code}: {n}" for code, n in sorted(closes.items())) or "-"))
            for note in phase.notes:
                lines.append(f"{'':<12}{note}")
        dirs = self.directions()
        never = len(self.chats) - len(started)
        ended = Counter(c.ended for c in started if c.ended is not None)
        unresumed = sum(1 for c in started if c.ended is None and not c.resumed())
        chats_lost = never + sum(ended.values()) + unresumed
        duplicates = sum(d.duplicates for d in dirs)
        twice = sum(d.delivered_twice() for d in dirs)
        lines.append(f"chats: {len(started)} started, {never} never started, ended {dict(ended) or 0}, "
                     f"not resumed at the end {unresumed}")
        delivered = sum(len(d.delivered_at) for d in dirs)
        lines.append(f"messages: sealed {sum(d.sealed for d in dirs)}, delivered {delivered}; "
                     f"duplicates_dropped {duplicates} (seq not above received: dropped as the protocol says), "
                     f"delivered_twice {twice}, out_of_order {sum(d.out_of_order for d in dirs)}, "
                     f"mismatched {sum(d.mismatched for d in dirs)}")
        messages_lost = sum(d.lost() for d in dirs)
        if self.tally.errors:
            lines.append("error frames and client errors: " + ", ".join(
                f"{k} {v}" for k, v in self.tally.errors.most_common(12)))
        troubles = [f"{n.name} {n.output().count(' ERROR ')}" for n in self.cluster.nodes]
        lines.append("ERROR lines in the nodes' output: " + ", ".join(troubles))
        if self.tally.ended:
            lines.append("ended frames: " + ", ".join(f"{k} {v}" for k, v in self.tally.ended.most_common()))
        connect_failures = {k: v for k, v in self.tally.closes.items() if k.startswith("connect-failed")}
        if connect_failures:
            lines.append("failed (re)connections: " + ", ".join(f"{k.split(':', 1)[1]} {v}"
                                                               for k, v in sorted(connect_failures.items())))
        rolls = [p for p in self.phases if p.name.startswith("roll")]
        kills = [p for p in self.phases if p.name.startswith("kill")]
        max_gap = max(self.latencies(rolls[0].start, rolls[-1].end), default=0.0) if rolls else 0.0
        kill_gap = max(self.latencies(kills[0].start, kills[-1].end), default=0.0) if kills else 0.0
        if kills:
            lines.append(f"kill_gap_ms {ms(kill_gap)} ({kills[0].name}: the longest one-way delivery of a message "
                         "in flight during the kill phase)")
        drain = max(self.drains, default=0.0)
        figures = {"chats_lost": chats_lost, "messages_lost": messages_lost, "max_gap_ms": int(ms(max_gap)),
                   "drain_s": drain}
        missed = [f"{k} {round(figures[k], 2):g} > {v}" for k, v in TARGETS.items() if figures[k] > v]
        lines.append("targets (issue 14): " + ("met" if not missed else "MISSED: " + ", ".join(missed)))
        lines.append(f"chats_lost {chats_lost} messages_lost {messages_lost} max_gap_ms {int(ms(max_gap))} "
                     f"drain_s {drain:.2f}")
        return lines


def _start_oor_without_robot(*args: Any, **kwargs: Any) -> Any:
    """tests/processes.py's start_oor (`oor release publish`, then `oor serve`) without the signing
    robot: this benchmark's coordinators sign with `oor root sign` (Failover.enrol)."""
    return start_oor(*args, **{**kwargs, "signing_robot": False})


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


def ms(seconds: float) -> float:
    return round(seconds * 1000)


async def run(args: argparse.Namespace) -> int:
    begun = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="oor-failover-"))
    # The key gate (issue 17): this run's own root key and a witness of the cluster's one log, instead
    # of the test suite's root; the statements are signed with the CLI (Failover.enrol), so the
    # harness's signing robot (tests/transparency.py) is left out of every node's start.
    gate = await asyncio.to_thread(KeyGate, root)
    env = await asyncio.to_thread(gate.server_env, SERVER_ENV, root / "admin", "failover")
    cluster_harness.start_oor = _start_oor_without_robot  # type: ignore[assignment]
    say(f"starting the cluster in {root}")
    try:
        cluster = await asyncio.to_thread(start_cluster, root, 2, True, env,
                                          nginx_connections=max(4096, 4 * args.chats + 512))
    except BaseException:
        gate.stop()
        raise
    bench = Failover(cluster, args, gate)
    ok = False
    try:
        volunteers = math.ceil(args.chats / CHATS_PER_VOLUNTEER)
        say(f"enrolling {volunteers} volunteers")
        await bench.enrol(volunteers)
        say(f"opening {args.chats} chats")
        setup_s = await bench.open_chats(args.chats)
        bench.start_senders(args.rate)
        await bench.steady(args.steady)
        for node in cluster.nodes:
            await bench.roll(node)
        await bench.kill(cluster.nodes[args.kill])
        await bench.deliver()
        lines = bench.report(setup_s, begun)
        ok = True
    finally:
        await bench.close()
        await asyncio.to_thread(stop_cluster, cluster)
        gate.stop()
        if ok and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            say(f"node output and logs kept in {root}")
    for line in lines:
        print(line, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=200, help="chats at once (default 200; 2 per volunteer)")
    parser.add_argument("--rate", type=float, default=1.0, help="messages per second per chat and direction")
    parser.add_argument("--steady", type=float, default=5.0, help="seconds of steady traffic before the roll")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of traffic after each node is back")
    parser.add_argument("--kill", type=int, choices=(0, 1), default=0, help="the node to SIGKILL at the end")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's folder (node output, logs)")
    args = parser.parse_args(argv)
    if args.chats < 1 or args.rate <= 0:
        parser.error("--chats and --rate must be positive")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        say("interrupted; the cluster was stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
