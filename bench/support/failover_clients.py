"""Help-seekers and volunteers that outlive a web node: they reconnect, resume, resend and drop duplicates.

bench/failover.py drives a few hundred of each through nginx while it stops, restarts and kills
nodes. They take every protocol step from the protocol client (client/chat.py: `open_frame`,
`accept_frame`, `checked_session`, `content`, crypto.ChatSession seal and open), so the crypto is
the real one, and add what a page does when its socket goes away (web/js/chatcore.js), as the
resume protocol of issue 14 says:

  help-seeker  -> {t: "resume", chat, resume, received}
               <- {t: "resumed", state, position, acked}      then the backlog after `received`
  volunteer    -> {t: "resume", chats: [{chat, received}]}
               <- {t: "resumed", chat, acked}  (per chat)     then that chat's backlog

- **Reconnect at once** on close code 1012 ("restarting: come back now") and on any other drop,
  then with a short back-off (50 ms doubling to 1 s) while connecting fails; a close code of 4000
  or more means the server ended the socket on purpose, and a side gives up after
  `RESUME_DEADLINE_S` without a resumed chat (the chat counts as lost).
- **Keep what was sealed until the relay acknowledges it.** Every sealed message stays in the
  side's outbox; `acked` (the highest seq of its own the server accepted) drops the ones it covers
  and the rest are sent again, in order, before anything new. Nothing new is sent between a
  reconnect and its `resumed`: the relay takes a sender's messages strictly in order.
- **Drop duplicates.** A message whose seq is not above `received` (the highest opened) was
  delivered already (a backlog replays what may have arrived): dropped before opening, counted.
- **Pace frames** below the server's per-connection allowances (server/chat/ws.py: 5 frames/s and
  a burst of 30 per help-seeker socket, 20 and 60 per volunteer socket), so that a resend after a
  resume is never refused as too fast.

A server without `acked` in `resumed` (before issue 14) gets the best a page could do: resend what
was never written and what was written in the last `LEGACY_RESEND_S` before the drop (the relay
refuses, harmlessly, the ones it had); such resumes are counted as "legacy". A volunteer's chats
that get no `resumed` of their own fall back to it a second after the `queue` frame that ends the
server's handling of the resume, unless some `resumed` ever carried `acked`.

Every message's content names its chat, direction and number (`chat:direction:seq`), so that the
receiving side checks, beyond what the AEAD already binds, that it got the message it expected;
`Direction` keeps when each was sealed and when (and how often) it was delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

import crypto
from client.chat import CHALLENGE_PATH, accept_frame, checked_session, content, open_frame, read_content
from client.transport import solved_challenge

RESUME_DEADLINE_S = 30.0       # a side not resumed this long after its drop gives up: the chat is lost
LEGACY_RESEND_S = 2.0          # without `acked`: resend what was written this long before the drop
LEGACY_VOLUNTEER_WAIT_S = 1.0  # without per-chat `resumed`: wait this long after the queue frame
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.05, 1.0
STEP_TIMEOUT_S = 30.0
# The server's per-connection allowances (server/chat/ws.py), kept under with a margin.
SEEKER_PACE = (4.0, 24)         # frames per second, burst
VOLUNTEER_PACE = (16.0, 48)
FILLER = "Ik weet niet goed waar ik moet beginnen, maar het is fijn dat iemand luistert."

Clock = Callable[[], float]
now: Clock = time.monotonic


# -- what was sent and what arrived ----------------------------------------------------------------


class Direction:
    """One direction of one chat: when each message was sealed (by seq) and when it was delivered."""

    __slots__ = ("label", "sealed_at", "delivered_at", "deliveries", "duplicates", "out_of_order", "mismatched")

    def __init__(self, label: str) -> None:
        self.label = label                           # "<chat index>:<up|down>", also in each message
        self.sealed_at: list[float] = []             # index seq - 1
        self.delivered_at: dict[int, float] = {}     # seq -> first delivery
        self.deliveries: Counter[int] = Counter()    # seq -> how often the application got it
        self.duplicates = 0                          # frames dropped: seq not above `received`
        self.out_of_order = 0                        # frames beyond the next seq: could not be opened
        self.mismatched = 0                          # opened, but not the message expected

    def text(self, seq: int) -> bytes:
        return content(f"{self.label}:{seq}:{FILLER}")

    def check(self, seq: int, body: dict[str, Any], at: float) -> None:
        expected = f"{self.label}:{seq}:"
        if body.get("k") != "text" or not str(body.get("b", "")).startswith(expected):
            self.mismatched += 1
            return
        self.deliveries[seq] += 1
        self.delivered_at.setdefault(seq, at)

    @property
    def sealed(self) -> int:
        return len(self.sealed_at)

    def lost(self) -> int:
        return sum(1 for seq in range(1, self.sealed + 1) if seq not in self.delivered_at)

    def delivered_twice(self) -> int:
        return sum(n - 1 for n in self.deliveries.values() if n > 1)

    def latencies(self, start: float, end: float) -> list[float]:
        """Delivery times of the messages in flight at some moment of [start, end): sealed before its
        end and delivered after its start. The longest is the longest this direction could not deliver."""
        return [self.delivered_at[seq] - sealed for seq, sealed in enumerate(self.sealed_at, 1)
                if sealed < end and seq in self.delivered_at and self.delivered_at[seq] >= start]


@dataclass
class Sent:
    seq: int
    frame: str
    written_at: float | None = None
    generation: int = 0


class Outbox:
    """What one side sealed and the relay has not acknowledged, in seq order."""

    def __init__(self) -> None:
        self.entries: deque[Sent] = deque()

    def add(self, seq: int, frame: str) -> Sent:
        entry = Sent(seq, frame)
        self.entries.append(entry)
        return entry

    def acknowledged(self, acked: int) -> None:
        """The relay accepted everything up to `acked`: never needed again."""
        while self.entries and self.entries[0].seq <= acked:
            self.entries.popleft()

    @staticmethod
    def again(entry: Sent, acked: int | None, dropped_at: float) -> bool:
        """Whether to send `entry` after a resume: everything above `acked`; without it (an older
        server), what was never written or written shortly before the drop. Nothing is dropped on a
        guess: a later resume that does say `acked` may still need an older one."""
        if acked is not None:
            return entry.seq > acked
        return entry.written_at is None or entry.written_at >= dropped_at - LEGACY_RESEND_S


@dataclass
class Tally:
    """Counts shared by every client: what the protocol did, for the benchmark's report."""

    closes: Counter[str] = field(default_factory=Counter)       # close code (or "connect-failed")
    errors: Counter[str] = field(default_factory=Counter)       # error frames by side:code
    ended: Counter[str] = field(default_factory=Counter)        # chats ended, by reason
    control: Counter[str] = field(default_factory=Counter)      # other frames by type
    resumes: int = 0
    legacy_resumes: int = 0     # resumed without `acked` (a server before issue 14)
    resent: int = 0             # sealed messages written again after a resume
    saw_acked: bool = False
    events: list[tuple[float, str]] = field(default_factory=list)  # (time, "close:<code>") for phases


class Pace:
    """A token bucket like the server's, so that this client never sends faster than it is allowed."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.at = float(burst), now()

    async def take(self) -> None:
        while True:
            t = now()
            self.tokens = min(self.burst, self.tokens + (t - self.at) * self.rate)
            self.at = t
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)


# -- one side of one chat ---------------------------------------------------------------------------------


class Side:
    """One party's end of one chat: its session, what it sealed (outbox) and its down periods."""

    def __init__(self, owner: Socket, send: Direction, hear: Direction, ids: dict[str, str]) -> None:
        self.owner = owner
        self.send_dir, self.hear_dir = send, hear
        self.ids = ids                                 # {"chat": key} on the volunteer's socket
        self.session: crypto.ChatSession | None = None
        self.outbox = Outbox()
        self.ready = False                             # connected and resumed: new messages may go out
        self.ended: str | None = None
        self.down_since: float | None = None
        self.downs: list[tuple[float, float]] = []     # (dropped, resumed)

    @property
    def received(self) -> int:
        return self.session.received if self.session is not None else 0

    def went_down(self, at: float) -> None:
        self.ready = False
        if self.down_since is None:
            self.down_since = at

    def came_back(self, at: float) -> None:
        if self.down_since is not None:
            self.downs.append((self.down_since, at))
            self.down_since = None

    async def say(self) -> None:
        """Seal the next message (a person keeps typing while the page reconnects) and send it if
        the socket is up and resumed; otherwise it waits in the outbox."""
        if self.session is None or self.ended is not None:
            return
        direction = self.send_dir
        seq, ct = self.session.seal(direction.text(self.session.sent + 1))
        direction.sealed_at.append(now())
        frame = json.dumps({"t": "msg", **self.ids, "seq": seq, "ct": crypto.b64encode(ct)}, separators=(",", ":"))
        entry = self.outbox.add(seq, frame)
        if self.ready:
            await self.owner.write_entry(self, entry)

    def hear(self, frame: dict[str, Any]) -> None:
        """A "msg" frame: a duplicate (seq not above `received`) is dropped; the next one is opened
        and checked; one beyond the next cannot be opened (something before it is missing)."""
        if self.session is None:
            return
        seq = frame["seq"]
        if not isinstance(seq, int) or seq <= self.session.received:
            self.hear_dir.duplicates += 1
            return
        if seq != self.session.received + 1:
            self.hear_dir.out_of_order += 1
            return
        body = read_content(self.session.open(seq, crypto.b64decode(frame["ct"])))
        self.hear_dir.check(seq, body, now())

    async def resumed(self, acked: Any, tally: Tally) -> None:
        """The server took this side back: send again, in order, what it did not acknowledge, and
        what was sealed while the socket was down (or is sealed meanwhile), then go on as before."""
        dropped_at = self.down_since if self.down_since is not None else now()
        if isinstance(acked, int) and not isinstance(acked, bool):
            tally.saw_acked = True
            self.outbox.acknowledged(acked)
            known: int | None = acked
        else:
            tally.legacy_resumes += 1
            known = None
        tally.resumes += 1
        generation = self.owner.generation
        i = 0
        # By index: what `say` seals during the awaits below is appended, and sent in this loop too.
        while i < len(self.outbox.entries):
            if self.owner.generation != generation or self.ended is not None:
                return  # dropped again meanwhile: the next resume sends them
            entry = self.outbox.entries[i]
            i += 1
            if entry.generation == generation and entry.written_at is not None:
                continue
            if not Outbox.again(entry, known, dropped_at):
                continue
            if entry.written_at is not None:
                tally.resent += 1
            await self.owner.write_entry(self, entry)
        if self.owner.generation == generation and self.ended is None:
            self.ready = True
            self.came_back(now())


# -- a socket that comes back ----------------------------------------------------------------------------


class Socket:
    """One websocket through nginx that reconnects as a page does, read by one task. `http` is a
    session whose base_url is the site (`base`, also the Origin every upgrade carries)."""

    path = ""
    pace = SEEKER_PACE

    def __init__(self, base: str, http: aiohttp.ClientSession, tally: Tally) -> None:
        self.base, self.http, self.tally = base, http, tally
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.generation = 0
        self.opened = False
        self.closing = False
        self.gave_up = False
        self.bucket = Pace(*self.pace)
        self.task: asyncio.Task[None] | None = None
        self.dropped_at: float | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def before_connect(self) -> None:
        """What must be done before the first connection (the help-seeker's proof-of-work)."""

    async def on_open(self, reconnected: bool) -> None:
        raise NotImplementedError

    async def on_frame(self, frame: dict[str, Any]) -> None:
        raise NotImplementedError

    def on_drop(self, at: float) -> None:
        """The socket went away: every side on it waits for its `resumed`."""

    def done(self) -> bool:
        """Nothing left to resume (every chat ended): do not reconnect."""
        return False

    async def run(self) -> None:
        backoff = 0.0
        while not self.closing and not self.done():
            if self.dropped_at is not None and now() - self.dropped_at > RESUME_DEADLINE_S:
                self.give_up()
                return
            if backoff:
                await asyncio.sleep(backoff)
            try:
                if not self.opened:
                    await self.before_connect()
                ws = await self.http.ws_connect(self.path, headers={"Origin": self.base},
                                                max_msg_size=0, heartbeat=None,
                                                timeout=aiohttp.ClientWSTimeout(ws_close=2))
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
                status = getattr(exc, "status", None)
                self.tally.closes[f"connect-failed:{status or type(exc).__name__}"] += 1
                if not self.opened and self.dropped_at is None:
                    self.dropped_at = now()  # never opened: the same deadline applies
                backoff = BACKOFF_FIRST_S if not backoff else min(BACKOFF_MAX_S, backoff * 2)
                continue
            backoff = 0.0
            self.ws, self.bucket = ws, Pace(*self.pace)
            self.generation += 1
            reconnected, self.opened = self.opened, True
            try:
                await self.on_open(reconnected)
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.ERROR:
                        # Why the socket is about to close (a protocol error, a reset): for the report.
                        self.tally.errors[f"socket:{type(msg.data).__name__}:{str(msg.data)[:60]}"] += 1
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        continue
                    try:
                        await self.on_frame(json.loads(msg.data))
                    except (ValueError, KeyError, TypeError, crypto.CryptoError) as exc:
                        # A frame this client cannot use (or a bug of its own) must show in the
                        # report, not end the socket's task without a word.
                        self.tally.errors[f"client:{type(exc).__name__}"] += 1
            except (aiohttp.ClientError, ConnectionError, asyncio.TimeoutError):
                pass
            finally:
                self.ws = None
                self.generation += 1  # whatever was about to be written belongs to the old socket
            at = now()
            code = ws.close_code
            self.tally.closes[str(code)] += 1
            self.tally.events.append((at, f"close:{code}"))
            if self.dropped_at is None:
                self.dropped_at = at
            self.on_drop(at)
            if code is not None and code >= 4000:
                self.give_up()
                return

    def give_up(self) -> None:
        self.gave_up = True
        self.closing = True

    def resumed_all(self) -> None:
        """Every side is back: the next drop starts a new deadline."""
        self.dropped_at = None

    async def write(self, frame: dict[str, Any] | str) -> bool:
        ws = self.ws
        if ws is None or ws.closed:
            return False
        generation = self.generation
        await self.bucket.take()
        if self.ws is not ws or self.generation != generation or ws.closed:
            return False
        try:
            await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame, separators=(",", ":")))
        except (ConnectionError, aiohttp.ClientError, RuntimeError):
            return False
        return True

    async def write_entry(self, side: Side, entry: Sent) -> None:
        """Write one sealed message, unless this socket was replaced meanwhile or it went out already
        on this socket (a sender and a resume after a reconnect must not both send it)."""
        generation = self.generation
        if entry.written_at is not None and entry.generation == generation:
            return
        if await self.write(entry.frame) and self.generation == generation:
            entry.written_at, entry.generation = now(), generation

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


# -- the parties ----------------------------------------------------------------------------------------


class Seeker(Socket):
    """A help-seeker's page: one chat on one socket."""

    path = "/ws/chat"
    pace = SEEKER_PACE

    def __init__(self, base: str, http: aiohttp.ClientSession, tally: Tally, index: int,
                 on_queued: Callable[[Seeker], None]) -> None:
        super().__init__(base, http, tally)
        self.index = index
        self.keys = crypto.new_chat_keypair()
        self.up, self.down = Direction(f"{index}:up"), Direction(f"{index}:down")
        self.side = Side(self, self.up, self.down, {})
        self.chat_id: bytes | None = None
        self.key = ""
        self.resume: str | None = None
        self.solved: dict[str, str] | None = None
        self.on_queued = on_queued
        loop = asyncio.get_running_loop()
        self.queued: asyncio.Future[None] = loop.create_future()
        self.connected: asyncio.Future[None] = loop.create_future()

    def done(self) -> bool:
        return self.side.ended is not None

    async def before_connect(self) -> None:
        if self.solved is None:
            self.solved = await solved_challenge(self.http, CHALLENGE_PATH)

    async def on_open(self, reconnected: bool) -> None:
        if not reconnected:
            assert self.solved is not None
            await self.write(open_frame(self.solved, self.keys))
        elif self.resume is not None:
            await self.write({"t": "resume", "chat": self.key, "resume": self.resume, "received": self.side.received})

    def on_drop(self, at: float) -> None:
        self.side.went_down(at)

    async def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("t")
        if kind == "msg":
            self.side.hear(frame)
        elif kind == "queued":
            self.chat_id, self.key, self.resume = crypto.b64decode(frame["chat"]), frame["chat"], frame["resume"]
            self.on_queued(self)
            _settle(self.queued)
        elif kind == "connected":
            assert self.chat_id is not None
            # What the page does: check the volunteer's signed key before deriving anything.
            self.side.session = checked_session(frame, self.chat_id, self.keys)
            self.side.ready = True
            _settle(self.connected)
        elif kind == "resumed":
            state = frame.get("state")
            if state not in ("active", "waiting", "offered"):
                self.finish(f"resumed-{state}")
                return
            if state != "active" and self.side.session is not None:
                self.tally.control[f"seeker:resumed-{state}-after-pickup"] += 1
            await self.side.resumed(frame.get("acked"), self.tally)
            if self.side.ready:
                self.resumed_all()
        elif kind == "ended":
            self.finish(str(frame.get("reason")))
        elif kind == "error":
            self.tally.errors[f"seeker:{frame.get('code')}"] += 1
            if not self.queued.done():
                _settle(self.queued, RuntimeError(f"open refused: {frame.get('code')}"))
        elif kind != "position":
            self.tally.control[f"seeker:{kind}"] += 1

    def finish(self, reason: str) -> None:
        if self.side.ended is None:
            self.side.ended = reason
            self.tally.ended[reason] += 1
        self.closing = True
        for fut in (self.queued, self.connected):
            _settle(fut, RuntimeError(f"chat ended: {reason}"))
        if self.ws is not None:
            asyncio.ensure_future(self.ws.close())

    def give_up(self) -> None:
        super().give_up()
        if self.side.ended is None:
            self.side.ended = "could-not-resume"
            self.tally.ended["could-not-resume"] += 1


@dataclass
class VolunteerChat:
    seeker: Seeker
    side: Side
    resume_sent_at: float | None = None


class Volunteer(Socket):
    """A volunteer's workspace: up to `capacity` chats over one socket, logged in with a session cookie."""

    path = "/ws/volunteer"
    pace = VOLUNTEER_PACE

    def __init__(self, base: str, http: aiohttp.ClientSession, tally: Tally, name: str,
                 identity: crypto.Identity, pending: dict[str, Seeker]) -> None:
        super().__init__(base, http, tally)
        self.name, self.identity, self.pending = name, identity, pending
        self.chats: dict[str, VolunteerChat] = {}
        self.pickup: asyncio.Future[str | None] | None = None
        self.first_queue: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.legacy_timer: asyncio.TimerHandle | None = None

    def live(self) -> list[VolunteerChat]:
        return [c for c in self.chats.values() if c.side.ended is None]

    async def on_open(self, reconnected: bool) -> None:
        if reconnected:
            held = [{"chat": key, "received": c.side.received} for key, c in self.chats.items()
                    if c.side.ended is None and c.side.session is not None]
            for c in self.live():
                c.resume_sent_at = now()
            await self.write({"t": "resume", "chats": held})
        await self.write({"t": "available", "chat": True})

    def on_drop(self, at: float) -> None:
        for c in self.live():
            c.side.went_down(at)
        if self.pickup is not None:
            _settle(self.pickup, None)

    async def pick_up(self) -> str | None:
        """One pickup: the chat key assigned (and accepted), or None if the server had none for us."""
        fut: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.pickup = fut
        if not await self.write({"t": "pickup"}):
            return None
        try:
            return await asyncio.wait_for(fut, STEP_TIMEOUT_S)
        except asyncio.TimeoutError:
            return None
        finally:
            self.pickup = None

    async def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("t")
        if kind == "msg":
            chat = self.chats.get(frame.get("chat", ""))
            if chat is not None:
                chat.side.hear(frame)
        elif kind == "assigned":
            await self.accept(frame)
        elif kind == "resumed":
            chat = self.chats.get(frame.get("chat", ""))
            if chat is not None and chat.side.ended is None:
                await chat.side.resumed(frame.get("acked"), self.tally)
                self._all_back()
        elif kind == "queue":
            _settle(self.first_queue)
            self._legacy_fallback()
        elif kind == "ended":
            chat = self.chats.get(frame.get("chat", ""))
            if chat is not None and chat.side.ended is None:
                reason = str(frame.get("reason"))
                chat.side.ended = reason
                self.tally.ended[f"volunteer:{reason}"] += 1
        elif kind == "error":
            self.tally.errors[f"volunteer:{frame.get('code')}"] += 1
            if self.pickup is not None:
                _settle(self.pickup, None)
        else:
            self.tally.control[f"volunteer:{kind}"] += 1

    async def accept(self, frame: dict[str, Any]) -> None:
        """What the volunteer's page does: a fresh ephemeral key for this chat, signed by the identity key."""
        key = frame["chat"]
        seeker = self.pending.pop(key, None)
        if seeker is None:
            self.tally.errors["volunteer:assigned-unknown-chat"] += 1
            return
        _, session, accept = accept_frame(self.identity, frame)
        side = Side(self, seeker.down, seeker.up, {"chat": key})
        side.session, side.ready = session, True
        self.chats[key] = VolunteerChat(seeker, side)
        await self.write(accept)
        if self.pickup is not None:
            _settle(self.pickup, key)

    def _legacy_fallback(self) -> None:
        """A server before issue 14 sends no per-chat `resumed`: its resume ends with this queue frame."""
        waiting = [c for c in self.live() if c.resume_sent_at is not None and not c.side.ready]
        if not waiting or self.tally.saw_acked or self.legacy_timer is not None:
            return

        def fire() -> None:
            self.legacy_timer = None
            for c in waiting:
                if c.side.ended is None and not c.side.ready and not self.tally.saw_acked:
                    asyncio.ensure_future(self._legacy_resume(c))
        self.legacy_timer = asyncio.get_running_loop().call_later(LEGACY_VOLUNTEER_WAIT_S, fire)

    async def _legacy_resume(self, chat: VolunteerChat) -> None:
        await chat.side.resumed(None, self.tally)
        self._all_back()

    def _all_back(self) -> None:
        if all(c.side.ready for c in self.live()):
            self.resumed_all()

    def give_up(self) -> None:
        super().give_up()
        for c in self.live():
            c.side.ended = "could-not-resume"
            self.tally.ended["volunteer:could-not-resume"] += 1


def _settle(fut: asyncio.Future[Any], value: Any = None) -> None:
    if fut.done():
        return
    if isinstance(value, BaseException):
        fut.set_exception(value)
        fut.exception()  # retrieved: nobody may be waiting any more
    else:
        fut.set_result(value)


async def paced(side_of: Callable[[], Side | None], rate: float, stop: asyncio.Event) -> None:
    """Say something every 1/rate seconds (random phase, +-10 % jitter) until `stop`."""
    interval = 1.0 / rate
    await asyncio.sleep(random.uniform(0, interval))
    while not stop.is_set():
        side = side_of()
        if side is not None:
            await side.say()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval * random.uniform(0.9, 1.1))


__all__ = ["Direction", "Outbox", "Pace", "RESUME_DEADLINE_S", "Seeker", "Side", "Socket", "Tally", "Volunteer",
           "VolunteerChat", "paced"]
