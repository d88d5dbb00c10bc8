"""Several web nodes sharing the live chat through Redis (setting `hub_url`).

The chat's rules (the queue's order, a volunteer's capacity, one connection per volunteer, the
sequence numbers, handovers and read-alongs) are one state machine, the `ChatHub` of hub.py.
In a cluster exactly one node at a time runs it: the *leader*, holding a lease in Redis
(`oor:hub:leader`, a random token, renewed every RENEW_SECONDS, lost after LEASE_MS). Every node,
the leader too, is an *edge* for the sockets of its own pages: it passes what a page sends to
the leader and what the leader sends to the page. The hub's code is the same in both modes; in a
cluster its sockets are `RemoteSocket`s.

Frames travel over Redis pub/sub: pages' frames on one channel to the leader (`oor:hub:in`),
the leader's to each node on that node's channel (`oor:hub:to:<node>`). Pub/sub rather than
streams because nothing may be stored for a frame that a page and the relay already keep: a page
keeps the messages the relay has not acknowledged (`acked` in `resumed`) and the relay keeps a
backlog of what a page has not received (`received` in `resume`). A frame lost while the lead
moves is therefore sent again by one of the two; a stream would hold ciphertext in Redis until
trimmed and add a consumer group to track what nobody needs to track.

The leader writes what a new leader needs into Redis (`Replica`), in the same atomic script as
the frames that follow from it, and only while its lease holds (a deposed leader can neither
write nor deliver): every chat (ids, the help-seeker's public key, the resume secret's hash,
the in-memory address tags that honour a block, who answers it, the sequence numbers, its state
in the queue) and its resume backlog (ciphertext, bounded as in the relay, expiring with the
grace period). Nothing in Redis outlives the grace period without a leader renewing it.

When the lead moves (a drain, a crash, a lost lease), the new leader loads that picture and
tells every node to close every page's socket with 1012; the pages reconnect at once and resume
with their secrets, as after any blip. A handover or read-along being set up is not carried over
(they take seconds; the volunteer starts it again: a limit in the threat model). A node that dies
without a word is noticed by its heartbeat key expiring: its pages count as gone and their grace
periods run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import struct
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

import crypto

from .queue import ChatState, QueueEntry
from .room import TO_SEEKER, TO_VOLUNTEER, Chat, VolunteerInfo
from .sessions import SeekerSession, VolunteerSession

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .hub import ChatHub

log = logging.getLogger("oor.chat")

LEADER_KEY = b"oor:hub:leader"
CHATS_KEY = b"oor:hub:chats"        # hash: c:<chat id b64> -> the chat, w:<account id> -> wrap-ups due
STATUS_KEY = b"oor:hub:status"      # the queue's figures for /api/chat/status on every node
CHANNEL_IN = b"oor:hub:in"          # pages' frames, to the leader
CHANNEL_ALL = b"oor:hub:all"        # to every node: the lead moved
LEASE_MS = 3000                     # a leader whose loop stalls this long (a busy node) loses the lead
RENEW_SECONDS = 0.5
HEARTBEAT_MS = 3000
HEARTBEAT_SECONDS = 1.0
STATUS_EVERY_SECONDS = 0.5
CLOSE_MOVED = 1012                  # "service restart": the page reconnects at once and resumes
DRAIN_SECONDS = 3.0                 # a draining node waits this long for its pages to go

# Edge -> leader: node id (8) | connection id (8) | op (1) | payload
OPEN_SEEKER, OPEN_VOLUNTEER, FRAME_TEXT, FRAME_BINARY, CLOSED = 1, 2, 3, 4, 5
# Leader -> node, a batch of: connection id (8) | op (1) | length (4) | payload
SEND, CLOSE, OPENED = 1, 2, 3
_ITEM = struct.Struct(">8sBI")
_LENGTH = struct.Struct(">I")       # node -> leader: events, each with its length first
OUTGOING_MAX_BYTES = 4 << 20        # what a node holds for the leader before its pages wait

# Applies a list of commands only while the caller holds the lease, and extends it: all or
# nothing, so that a chat's state and the frames that follow from it are never half written.
APPLY_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local i = 3
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return 1
"""
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def node_channel(node: bytes) -> bytes:
    return b"oor:hub:to:" + node.hex().encode()


def node_key(node: bytes) -> bytes:
    return b"oor:hub:node:" + node.hex().encode()


def backlog_key(chat_id: bytes, direction: int) -> bytes:
    return f"oor:hub:backlog:{crypto.b64encode(chat_id)}:{direction}".encode()


def ttl_ms(config: Any) -> int:
    """How long live state lasts in Redis without a leader renewing it: the longer grace period (a help-seeker's,
    `chat_seeker_grace_seconds`, or a volunteer's) and a margin, so that a backlog outlives every page that may
    still resume it."""
    return int((max(config.chat_grace_seconds, config.chat_seeker_grace_seconds) + 30) * 1000)


# -- the leader's sockets ------------------------------------------------------------------------


class RemoteSocket:
    """A page's socket on some node, as the hub uses a websocket (`closed`, `send_str`, `close`)."""

    __slots__ = ("leader", "node", "conn", "_closed")

    def __init__(self, leader: Leader, node: bytes, conn: bytes) -> None:
        self.leader, self.node, self.conn, self._closed = leader, node, conn, False

    @property
    def closed(self) -> bool:
        return self._closed

    async def send_str(self, data: str) -> None:
        if not self._closed:
            self.leader.deliver(self.node, self.conn, SEND, data.encode())

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        if self._closed:
            return False
        self._closed = True
        self.leader.deliver(self.node, self.conn, CLOSE, struct.pack(">H", code) + message[:120])
        return True


class RemoteSlot:
    """A socket's admission count lives on its node: the leader only says when it holds a chat."""

    __slots__ = ("socket", "idle")

    def __init__(self, socket: RemoteSocket) -> None:
        self.socket, self.idle = socket, True

    def opened(self) -> None:
        if self.idle:
            self.idle = False
            self.socket.leader.deliver(self.socket.node, self.socket.conn, OPENED, b"")


@dataclass
class _Session:
    """One page's session on the leader, fed in order by its own task (as a handler is at home)."""
    handler: Any
    socket: RemoteSocket
    inbox: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


# -- what a new leader needs: the replica --------------------------------------------------------


def _fingerprint(chat: Chat, entry: QueueEntry | None) -> tuple[Any, ...]:
    return (chat.volunteer_id, chat.sent[TO_VOLUNTEER], chat.sent[TO_SEEKER], chat.answered_at,
            chat.handed_over_frame is not None,
            None if entry is None else (entry.state, entry.volunteer_id))


class Replica:
    """The hub's picture in Redis, written by the leader (see the module docstring).

    `appended` is called by the relay for every message (cheap: one chat); after any other event
    `sweep` compares every chat with what was written, so that no rule of the hub needs to know
    about Redis. Both only collect commands; `take` hands them to the leader's next write."""

    def __init__(self, hub: ChatHub, config: Any) -> None:
        self.hub, self.ttl = hub, str(ttl_ms(config))
        self.written: dict[bytes, tuple[Any, ...]] = {}
        self.wrapups: dict[int, frozenset[bytes]] = {}
        self.dirty: set[bytes] = set()
        self.commands: list[tuple[bytes | str, ...]] = []
        self.sweep_due = False

    def appended(self, chat: Chat, direction: int, seq: int, text: str, kept: int) -> None:
        key = backlog_key(chat.id, direction)
        self.commands += [(b"RPUSH", key, f"{seq} {text}"), (b"LTRIM", key, str(-kept), b"-1"),
                          (b"PEXPIRE", key, self.ttl)]
        self.dirty.add(chat.id)

    def take(self) -> list[tuple[bytes | str, ...]]:
        room = self.hub.room
        if self.sweep_due:
            self.sweep_due = False
            for chat_id in list(self.written):
                if chat_id not in room.chats:
                    self._gone(chat_id)
            self.dirty.update(room.chats)
            self._sweep_wrapups()
        for chat_id in self.dirty:
            chat = room.chats.get(chat_id)
            if chat is None:
                if chat_id in self.written:
                    self._gone(chat_id)
                continue
            entry = room.queue.entries.get(chat_id)
            mark = _fingerprint(chat, entry)
            if self.written.get(chat_id) != mark:
                self.written[chat_id] = mark
                self.commands.append((b"HSET", CHATS_KEY, b"c:" + chat.key.encode(), self._chat_json(chat, entry)))
        self.dirty.clear()
        commands, self.commands = self.commands, []
        if commands:
            commands.append((b"PEXPIRE", CHATS_KEY, self.ttl))
        return commands

    def _gone(self, chat_id: bytes) -> None:
        del self.written[chat_id]
        self.commands += [(b"HDEL", CHATS_KEY, b"c:" + crypto.b64encode(chat_id).encode()),
                          (b"DEL", backlog_key(chat_id, TO_VOLUNTEER), backlog_key(chat_id, TO_SEEKER))]

    def _sweep_wrapups(self) -> None:
        pending = {v: frozenset(c) for v, c in self.hub.assignment.pending_wrapups.items() if c}
        for volunteer_id in set(self.wrapups) | set(pending):
            if self.wrapups.get(volunteer_id) != pending.get(volunteer_id):
                field_name = f"w:{volunteer_id}".encode()
                if volunteer_id in pending:
                    value = json.dumps([crypto.b64encode(c) for c in sorted(pending[volunteer_id])])
                    self.commands.append((b"HSET", CHATS_KEY, field_name, value))
                else:
                    self.commands.append((b"HDEL", CHATS_KEY, field_name))
        self.wrapups = pending

    def _chat_json(self, chat: Chat, entry: QueueEntry | None) -> str:
        wall = self._to_wall
        return json.dumps({
            "pub": crypto.b64encode(chat.seeker_public), "rh": crypto.b64encode(chat.resume_hash),
            "tags": [crypto.b64encode(t) for t in chat.address_tags], "vol": chat.volunteer_id,
            "sent": [chat.sent[TO_VOLUNTEER], chat.sent[TO_SEEKER]],
            "answered": None if chat.answered_at is None else wall(chat.answered_at),
            "hof": chat.handed_over_frame,
            "entry": None if entry is None else [entry.state.value, entry.volunteer_id, wall(entry.arrived)]},
            separators=(",", ":"))

    def _to_wall(self, monotonic: float) -> float:
        return round(time.time() - (self.hub.room.clock() - monotonic), 3)

    async def load(self, redis: Redis) -> int:
        """Rebuild the hub from Redis (a new leader). Every page counts as away until it resumes."""
        hub, room = self.hub, self.hub.room
        now, wall_now = room.clock(), time.time()
        raw = await redis.hgetall(CHATS_KEY)
        chats = {k[2:]: v for k, v in raw.items() if k.startswith(b"c:")}
        backlogs: dict[bytes, list[bytes]] = {}
        if chats:
            async with redis.pipeline(transaction=False) as pipe:
                for key in chats:
                    chat_id = crypto.b64decode(key.decode())
                    for direction in (TO_VOLUNTEER, TO_SEEKER):
                        pipe.lrange(backlog_key(chat_id, direction), 0, -1)
                results = await pipe.execute()
            for index, key in enumerate(chats):
                backlogs[key + b":1"], backlogs[key + b":2"] = results[2 * index], results[2 * index + 1]
        for key, blob in chats.items():
            data = json.loads(blob)
            chat_id = crypto.b64decode(key.decode())
            tags = tuple(crypto.b64decode(t) for t in data["tags"])
            chat = Chat(chat_id, crypto.b64decode(data["pub"]), crypto.b64decode(data["rh"]),
                        (tags[0], tags[1]), None, volunteer_id=data["vol"])
            chat.sent = {TO_VOLUNTEER: data["sent"][0], TO_SEEKER: data["sent"][1]}
            chat.answered_at = None if data["answered"] is None else now - (wall_now - data["answered"])
            chat.handed_over_frame = data["hof"]
            for direction, suffix in ((TO_VOLUNTEER, b":1"), (TO_SEEKER, b":2")):
                for item in backlogs.get(key + suffix, []):
                    seq, text = item.decode().split(" ", 1)
                    chat.backlog[direction].append((int(seq), text))
            room.chats[chat_id] = chat
            if data["entry"] is not None:
                state, volunteer_id, arrived = data["entry"]
                _restore(hub, chat_id, ChatState(state), volunteer_id, now - (wall_now - arrived))
            chat.seeker_away = now
            hub.seeker_away(chat)
            if chat.volunteer_id is not None:
                chat.volunteer_away = now
                hub.volunteer_away(chat)
            self.written[chat_id] = _fingerprint(chat, room.queue.entries.get(chat_id))
        for name, blob in raw.items():
            if name.startswith(b"w:"):
                due = {crypto.b64decode(c) for c in json.loads(blob)}
                hub.assignment.pending_wrapups[int(name[2:])] = due
        self.wrapups = {v: frozenset(c) for v, c in hub.assignment.pending_wrapups.items() if c}
        return len(chats)


def _restore(hub: ChatHub, chat_id: bytes, state: ChatState, volunteer_id: int | None, arrived: float) -> None:
    """Put a chat back in the queue as it was. An offer not yet answered goes back to waiting, in
    its place: its volunteer's page must resume first, and would be refused answering an old offer."""
    queue = hub.queue
    if state in (ChatState.WAITING, ChatState.OFFERED) or volunteer_id is None:
        queue.join(chat_id, arrived)
        return
    queue.entries[chat_id] = QueueEntry(chat_id, arrived, state, volunteer_id)
    queue.slot(volunteer_id).chats.add(chat_id)


# -- the leader ----------------------------------------------------------------------------------


class Leader:
    """The node that runs the hub: sessions for every page, and one writer to Redis."""

    def __init__(self, cluster: Cluster, token: bytes) -> None:
        self.cluster, self.token = cluster, token
        self.hub = cluster.make_hub()
        self.replica = Replica(self.hub, cluster.config)
        self.hub.room.replica = self.replica
        self.sessions: dict[tuple[bytes, bytes], _Session] = {}
        self.outgoing: dict[bytes, list[bytes]] = {}
        self.wake = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None
        self.ready = False
        self.waiting: list[bytes] = []  # events that came while loading
        self.deposed = False
        self.closing = False
        self.status_due = True

    async def start(self) -> None:
        count = await self.replica.load(self.cluster.redis)
        self.writer = asyncio.create_task(self._write_loop())
        self.ready = True
        for event in self.waiting:
            self.event(event)
        self.waiting.clear()
        # Every page resumes with this leader: the sockets the last one knew are all closed.
        await self.cluster.redis.publish(CHANNEL_ALL, b"lead " + self.cluster.node)
        log.info("leading the chat hub (%d chat%s carried over)", count, "" if count == 1 else "s")

    # frames out ------------------------------------------------------------------------------

    def deliver(self, node: bytes, conn: bytes, op: int, payload: bytes) -> None:
        self.outgoing.setdefault(node, []).append(_ITEM.pack(conn, op, len(payload)) + payload)
        self.wake.set()

    def changed(self) -> None:
        """Something other than a message changed: compare every chat at the next write."""
        self.replica.sweep_due = True
        self.wake.set()

    def _commands(self) -> list[tuple[bytes | str, ...]]:
        commands = self.replica.take()
        if self.status_due:
            self.status_due = False
            status = json.dumps({"status": self.hub.status(), "figures": self.hub.figures()},
                                separators=(",", ":")).encode()
            commands.append((b"SET", STATUS_KEY, status, b"PX", b"5000"))
            # About once a second (the heartbeat): the chats' hash lives on while a leader does, also when
            # no chat changed for longer than its TTL (a help-seeker away for minutes, nobody writing).
            commands.append((b"PEXPIRE", CHATS_KEY, self.replica.ttl))
            # And the backlog a page that is away will resume: its last message may be older than the TTL
            # by the time the page is back (a dead socket is noticed only by the heartbeat, seconds later).
            for chat in self.hub.room.chats.values():
                if chat.seeker_away is not None:
                    commands.append((b"PEXPIRE", backlog_key(chat.id, TO_SEEKER), self.replica.ttl))
                if chat.volunteer_away is not None:
                    commands.append((b"PEXPIRE", backlog_key(chat.id, TO_VOLUNTEER), self.replica.ttl))
        for node, items in self.outgoing.items():
            commands.append((b"PUBLISH", node_channel(node), b"".join(items)))
        self.outgoing = {}
        return commands

    async def _apply(self, commands: list[tuple[bytes | str, ...]]) -> bool:
        args: list[bytes | str] = [self.token, str(LEASE_MS)]
        for command in commands:
            args.append(str(len(command)))
            args.extend(command)
        return bool(await self.cluster.apply(keys=[LEADER_KEY], args=args))

    async def _apply_retrying(self, commands: list[tuple[bytes | str, ...]]) -> bool:
        """Write, retrying a failed attempt until the lease would have run out. An attempt whose
        answer was lost may have been applied: then a backlog entry or a frame goes twice, which
        the pages drop as a duplicate (PROTOCOL.md [M-10.7-3]); nothing is lost."""
        give_up = time.monotonic() + LEASE_MS / 1000
        while True:
            try:
                return await self._apply(commands)
            except asyncio.CancelledError:
                raise
            except Exception:
                if time.monotonic() > give_up:
                    log.exception("writing the live chat state to Redis failed; giving up the lead")
                    return False
                await asyncio.sleep(0.05)

    async def _write_loop(self) -> None:
        """One write at a time, in order: what gathers while one is under way goes into the next."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            await asyncio.sleep(0)  # let the frames of this loop turn gather into one write
            commands = self._commands()
            if commands:
                held = await self._apply_retrying(commands)
                if not held:
                    self.deposed = True
                    self.cluster.lost_lead(self)
                    return
            if self.closing and not self.wake.is_set():
                return

    # frames in -------------------------------------------------------------------------------

    def event(self, data: bytes) -> None:
        if not self.ready:
            self.waiting.append(data)
            return
        if self.deposed or len(data) < 17:
            return
        node, conn, op, payload = data[:8], data[8:16], data[16], data[17:]
        key = (node, conn)
        session = self.sessions.get(key)
        if op in (OPEN_SEEKER, OPEN_VOLUNTEER):
            if session is None:
                self._open(key, op, payload)
            return
        if session is None:
            # A page this leader never heard open (opened before it led): it must resume here.
            if op != CLOSED:
                self.deliver(node, conn, CLOSE, struct.pack(">H", CLOSE_MOVED) + b"resume")
            return
        if op == CLOSED:
            session.socket._closed = True
            session.inbox.put_nowait(None)
        elif op == FRAME_TEXT:
            session.inbox.put_nowait(payload)
        elif op == FRAME_BINARY:
            session.inbox.put_nowait(b"\x00" + payload)

    def _open(self, key: tuple[bytes, bytes], op: int, payload: bytes) -> None:
        socket = RemoteSocket(self, *key)
        app = self.cluster.app
        if op == OPEN_SEEKER:
            handler: Any = SeekerSession(app, self.hub, socket, (payload[:16], payload[16:32]), RemoteSlot(socket))
        else:
            info = json.loads(payload)
            handler = VolunteerSession(app, self.hub, VolunteerInfo(
                info["id"], info["name"], crypto.b64decode(info["identity"]), role=info["role"]), socket)
        session = _Session(handler, socket)
        if op == OPEN_VOLUNTEER:
            session.inbox.put_nowait(b"")  # connected
        self.sessions[key] = session
        session.task = asyncio.create_task(self._run(key, session, op == OPEN_VOLUNTEER))

    async def _run(self, key: tuple[bytes, bytes], session: _Session, volunteer: bool) -> None:
        handler = session.handler
        try:
            while (item := await session.inbox.get()) is not None:
                if volunteer and item == b"":
                    await handler.message(None)
                elif item[:1] == b"\x00":
                    await handler.message(item[1:])
                elif not await handler.message(item.decode()):
                    await session.socket.close()
                    break
                # Relayed messages tell the replica themselves; anything else may have changed more.
                if not item.startswith(b'{"t":"msg"'):
                    self.changed()
        except Exception:
            log.exception("chat session failed")
            await session.socket.close(code=1011)
        finally:
            if not self.closing:  # a leader that stops hands its pages on: they have not left
                with contextlib.suppress(Exception):
                    await handler.left()
            self.changed()
            if self.sessions.get(key) is session:
                del self.sessions[key]

    def nodes_gone(self, nodes: set[bytes]) -> None:
        """Nodes whose heartbeat stopped: their pages are gone (their grace periods start)."""
        for key, session in list(self.sessions.items()):
            if key[0] in nodes:
                session.socket._closed = True
                session.inbox.put_nowait(None)

    async def stop(self, *, release: bool) -> None:
        """Stop leading. On a drain (`release`), what is pending is written first and the lease is
        given back at once, so that another node leads within one round trip, not LEASE_MS."""
        self.closing = True
        for session in self.sessions.values():
            if session.task is not None:
                session.task.cancel()
        if self.writer is not None:
            if release and not self.deposed:
                self.wake.set()
                with contextlib.suppress(asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(asyncio.shield(self.writer), 1.0)
            self.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.writer
        if release and not self.deposed:
            with contextlib.suppress(Exception):
                commands = self._commands()
                if commands:
                    await self._apply(commands)
                await self.cluster.redis.eval(RELEASE_SCRIPT, 1, LEADER_KEY, self.token)
                await self.cluster.redis.publish(CHANNEL_ALL, b"gone " + self.cluster.node)
        self.deposed = True
        for task in list(self.hub.room.tasks):
            task.cancel()
        for chat in self.hub.room.chats.values():
            for timer in chat.timers.values():
                timer.cancel()


# -- every node: the edge -----------------------------------------------------------------------


class EdgeConnection:
    """A page's socket on this node, passed on to the leader (`ws.Connection`)."""

    def __init__(self, cluster: Cluster, ws: web.WebSocketResponse, slot: Any, opening: bytes) -> None:
        self.cluster, self.ws, self.slot = cluster, ws, slot
        self.id = secrets.token_bytes(8)
        self.head = cluster.node + self.id
        self.pending: deque[tuple[int, bytes]] = deque()
        self.writing = False
        self.opening = opening
        self.announced = False
        self.closing: asyncio.Future[bool] | None = None
        cluster.connections[self.id] = self
        if cluster.draining:  # upgraded on a connection nginx kept alive: go to another node at once
            self.deliver(CLOSE, struct.pack(">H", CLOSE_MOVED) + b"node draining")

    async def message(self, data: str | bytes | None) -> bool:
        if not self.announced:
            await self.announce()
        if data is None:
            return True
        if isinstance(data, str):
            await self.cluster.publish(self.head + bytes([FRAME_TEXT]) + data.encode())
        else:
            await self.cluster.publish(self.head + bytes([FRAME_BINARY]) + data)
        return True

    async def announce(self) -> None:
        # The leader hears of a socket with its first message (a help-seeker's `open` or `resume`,
        # a volunteer's connection): a socket that never says anything costs the leader nothing.
        self.announced = True
        await self.cluster.publish(self.head + self.opening)

    async def left(self) -> None:
        self.cluster.connections.pop(self.id, None)
        if self.closing is not None:
            # Closed from here (a drain, the lead moved): the handler saw CLOSING; the close
            # handshake finishes in that task, and the page must get its code, so wait for it.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.closing), 2.0)
        if self.announced:
            with contextlib.suppress(Exception):
                await self.cluster.publish(self.head + bytes([CLOSED]))

    def deliver(self, op: int, payload: bytes) -> None:
        if op == OPENED:
            if self.slot is not None:
                self.slot.opened()
            return
        self.pending.append((op, payload))
        if not self.writing:
            self.writing = True
            self.cluster.spawn(self._write())

    async def _write(self) -> None:
        # One writer per socket: a slow page holds up only itself, never the node's other pages.
        try:
            while self.pending:
                op, payload = self.pending.popleft()
                if op == SEND:
                    if self.ws.closed:
                        self.pending.clear()
                        return
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await self.ws.send_str(payload.decode())
                elif op == CLOSE:
                    self.pending.clear()
                    code = struct.unpack(">H", payload[:2])[0]
                    self.closing = asyncio.ensure_future(self.ws.close(code=code, message=payload[2:]))
                    with contextlib.suppress(Exception):
                        await self.closing
                    return
        finally:
            self.writing = False


class Cluster:
    """This node's part: its pages' sockets, its heartbeat, and the lead when it holds it."""

    def __init__(self, app: web.Application, redis: Redis, make_hub: Callable[[], ChatHub]) -> None:
        from ..keys import CONFIG
        self.app, self.redis, self.make_hub = app, redis, make_hub
        self.config = app[CONFIG]
        self.node = secrets.token_bytes(8)
        self.connections: dict[bytes, EdgeConnection] = {}
        self.leader: Leader | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.draining = False
        self.nudge = asyncio.Event()
        self.apply = redis.register_script(APPLY_SCRIPT)
        self.pubsub: Any = None
        self.status_cache: tuple[float, dict[str, Any]] = (0.0, {})
        self.outgoing: list[bytes] = []
        self.outgoing_bytes = 0
        self.outgoing_ready = asyncio.Event()
        self.outgoing_room = asyncio.Event()
        self.outgoing_room.set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def publish(self, data: bytes) -> None:
        """Queue one event for the leader. One writer sends them, in order, several to a message:
        a node with a thousand busy pages needs one Redis connection for them, not a thousand."""
        self.outgoing.append(data)
        self.outgoing_bytes += len(data)
        self.outgoing_ready.set()
        if self.outgoing_bytes > OUTGOING_MAX_BYTES:  # Redis is slow or gone: the pages wait here
            self.outgoing_room.clear()
            await self.outgoing_room.wait()

    async def _publisher(self) -> None:
        while True:
            await self.outgoing_ready.wait()
            self.outgoing_ready.clear()
            await asyncio.sleep(0)  # gather what this loop turn adds
            batch, self.outgoing, self.outgoing_bytes = self.outgoing, [], 0
            payload = b"".join(_LENGTH.pack(len(event)) + event for event in batch)
            while True:
                try:
                    await self.redis.publish(CHANNEL_IN, payload)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("passing frames to the leader through Redis failed; retrying")
                    await asyncio.sleep(0.2)
            self.outgoing_room.set()

    # the handlers' side --------------------------------------------------------------------

    def seeker(self, ws: web.WebSocketResponse, tags: tuple[bytes, bytes], slot: Any) -> EdgeConnection:
        return EdgeConnection(self, ws, slot, bytes([OPEN_SEEKER]) + tags[0] + tags[1])

    def volunteer(self, ws: web.WebSocketResponse, info: VolunteerInfo) -> EdgeConnection:
        about = json.dumps({"id": info.id, "name": info.name, "role": info.role,
                            "identity": crypto.b64encode(info.ed25519_public)}).encode()
        return EdgeConnection(self, ws, None, bytes([OPEN_VOLUNTEER]) + about)

    async def _snapshot(self) -> dict[str, Any]:
        at, cached = self.status_cache
        if time.monotonic() - at < STATUS_EVERY_SECONDS and cached:
            return cached
        raw = await self.redis.get(STATUS_KEY)
        snapshot = json.loads(raw) if raw else {  # nobody leads (yet): nobody can be answered
            "status": {"available": False, "waiting": 0, "estimate_s": 0},
            "figures": {"waiting": 0, "longest_wait_s": None, "in_progress": 0, "volunteers_available": 0,
                        "partners_available": 0, "mentors_online": 0, "handovers_waiting_for_partner": 0}}
        self.status_cache = (time.monotonic(), snapshot)
        return snapshot

    async def status(self) -> dict[str, Any]:
        """The queue's figures for /api/chat/status, as the leader last wrote them (about a second old)."""
        return dict((await self._snapshot())["status"])

    async def figures(self) -> dict[str, Any]:
        """The coordinator's live chat figures, as the leader last wrote them."""
        return dict((await self._snapshot())["figures"])

    # the node's life -------------------------------------------------------------------------

    async def start(self) -> None:
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self.pubsub.subscribe(node_channel(self.node), CHANNEL_ALL)
        await self.redis.set(node_key(self.node), b"1", px=HEARTBEAT_MS)
        self.spawn(self._listen())
        self.spawn(self._publisher())
        self.spawn(self._heartbeat())
        self.spawn(self._candidacy())

    async def _listen(self) -> None:
        mine, everyone = node_channel(self.node), CHANNEL_ALL
        while True:
            try:
                message = await self.pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Redis subscription failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            channel, data = message["channel"], message["data"]
            if channel == mine:
                self._deliver_batch(data)
            elif channel == CHANNEL_IN:
                leader = self.leader
                if leader is not None:
                    offset = 0
                    while offset + _LENGTH.size <= len(data):
                        (length,) = _LENGTH.unpack_from(data, offset)
                        offset += _LENGTH.size
                        leader.event(data[offset:offset + length])
                        offset += length
            elif channel == everyone:
                self._lead_moved(data)

    def _deliver_batch(self, data: bytes) -> None:
        offset, size = 0, len(data)
        while offset + _ITEM.size <= size:
            conn, op, length = _ITEM.unpack_from(data, offset)
            offset += _ITEM.size
            payload = data[offset:offset + length]
            offset += length
            connection = self.connections.get(conn)
            if connection is not None:
                connection.deliver(op, payload)

    def _lead_moved(self, data: bytes) -> None:
        kind, node = data[:4], data[5:]
        if kind == b"gone":
            self.nudge.set()  # the lead is free: try for it now
        elif kind == b"lead":
            # A new leader knows none of the sockets open now: every page resumes with it.
            for connection in list(self.connections.values()):
                connection.deliver(CLOSE, struct.pack(">H", CLOSE_MOVED) + b"the lead moved")

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self.redis.set(node_key(self.node), b"1", px=HEARTBEAT_MS)
                leader = self.leader
                if leader is not None:
                    # Timers (grace periods) change the picture too: compare it once a second.
                    leader.status_due = True
                    leader.changed()
                    nodes = {key[0] for key in leader.sessions}
                    if nodes:
                        names = sorted(nodes)
                        alive = await self.redis.exists(*[node_key(n) for n in names]) if len(names) == 1 else None
                        if alive is None:
                            async with self.redis.pipeline(transaction=False) as pipe:
                                for n in names:
                                    pipe.exists(node_key(n))
                                flags = await pipe.execute()
                        else:
                            flags = [alive]
                        gone = {n for n, flag in zip(names, flags) if not flag}
                        if gone:
                            leader.nodes_gone(gone)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("heartbeat to Redis failed")

    async def _candidacy(self) -> None:
        while not self.draining:
            try:
                if self.leader is None:
                    token = secrets.token_hex(16).encode()
                    if await self.redis.set(LEADER_KEY, token, nx=True, px=LEASE_MS):
                        await self._lead(token)
                else:
                    leader = self.leader
                    held = await self.apply(keys=[LEADER_KEY], args=[leader.token, str(LEASE_MS)])
                    if not held:
                        self.lost_lead(leader)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the chat hub's lease in Redis failed")
            self.nudge.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.nudge.wait(), RENEW_SECONDS)

    async def _lead(self, token: bytes) -> None:
        leader = Leader(self, token)
        self.leader = leader
        await self.pubsub.subscribe(CHANNEL_IN)
        try:
            await leader.start()
        except Exception:
            log.exception("taking the lead failed")
            self.lost_lead(leader)

    def lost_lead(self, leader: Leader) -> None:
        if self.leader is not leader:
            return
        log.warning("lost the chat hub's lease; another node leads now")
        self.leader = None
        self.spawn(self._step_down(leader, release=False))

    async def _step_down(self, leader: Leader, *, release: bool) -> None:
        # Every wait on Redis in a stop is bounded: a stop must end whatever Redis does.
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(self.pubsub.unsubscribe(CHANNEL_IN), 1.0)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(leader.stop(release=release), 3.0)

    async def drain(self) -> None:
        """SIGTERM: give the lead away, tell every page to reconnect now, and go (within seconds)."""
        self.draining = True
        self.nudge.set()
        leader, self.leader = self.leader, None
        if leader is not None:
            await self._step_down(leader, release=True)
        for connection in list(self.connections.values()):
            connection.deliver(CLOSE, struct.pack(">H", CLOSE_MOVED) + b"node draining")
        deadline = time.monotonic() + DRAIN_SECONDS
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(self.redis.delete(node_key(self.node)), 1.0)
        if self.pubsub is not None:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(self.pubsub.aclose(), 1.0)


CLUSTER: web.AppKey[Cluster] = web.AppKey("chat_cluster")


async def cluster_ctx(app: web.Application, redis: Redis, make_hub: Callable[[], ChatHub]) -> AsyncIterator[None]:
    """Run this node as part of a cluster for the application's life (app.py wires it in)."""
    cluster = Cluster(app, redis, make_hub)
    app[CLUSTER] = cluster
    await cluster.start()
    yield
    if not cluster.draining:
        await cluster.drain()
    await cluster.stop()
