"""Queue events benchmark: what one queue event costs the server with hundreds of volunteers online.

    .venv/bin/python bench/queue_events.py            # full run, about 40 s
    .venv/bin/python bench/queue_events.py --quick    # smoke run, about 15 s

A real `server.chat.hub.ChatHub` on the production `Config` defaults (server/config.py),
logging at INFO as `oor serve` sets it up, with V volunteers online over fake sockets:
an object with `closed = False` and `async send_str(text)` that counts bytes, which is the
socket interface `room.send` uses (help-seekers' sockets are the same). There is no network,
so what is measured is the hub's own work: the event, the frames it makes and hands to the
sockets, and the coalescing windows and timers (server/chat/announce.py). A real socket adds
aiohttp's framing and a write per frame, which is why the frames and bytes per event are
printed too. CPU is the process's (`time.process_time`), taken over whole phases.

The queue events cycle through the three that happen all day: a help-seeker joins
(`open_chat`), a volunteer picks up the longest-waiting chat (`pick_up`, then `accept`),
a chat ends (`end_chat`). A standing queue of 20 waiting help-seekers and 100 active chats
is set up first and stays that size.

Phases:
  single   V=500: one event at a time, each after a quiet spell longer than the
           coalescing window, so that each event's frames go out on their own (the
           dearest case per event): CPU per event, counted until its window has closed.
  bare     the bare baseline, measured in the same run: one frame of the single phase's
           mean size to each of 500 real aiohttp websockets on loopback (their client in
           another process), CPU per round. That is what real sockets add to each round of
           frames (framing and a write per socket), which no hub can avoid if every
           volunteer is to hear of the event; printed beside the hub's own figure
           (`--no-bare` skips it).
  burst    V=500: 50 events back to back, within one window: CPU per event, and the
           most queue frames one volunteer got.
  steady   V=1000: 10 queue events a second for 10 s (3 s with --quick): CPU over wall
           time, as a share of one core.
  restart  5,000 chats (the queue's maximum raised to 5,000), 150 volunteers:
           the CPU of `ChatHub.shutdown` ("restart" to both sides of every chat).

The old algorithm is not run (at 500 volunteers it cost 421 ms per event); for comparison
the bytes one event would have cost with the colleague list in every frame are computed
from the same state. The last line is

    queue_event_ms_500 Q cpu_share_1000x10 S

Q in milliseconds of CPU (target: at most 2), S a fraction of one core (target: at most 0.10).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.support.transparency import SignedAccounts  # noqa: E402  (the key gate, issue 17)
from server.chat.hub import ChatHub  # noqa: E402
from server.chat.queue import ChatState  # noqa: E402
from server.chat.room import Chat, VolunteerInfo  # noqa: E402
from server.config import Config  # noqa: E402
from server.http import install_log_scrubber  # noqa: E402

WINDOW_S = 0.25       # server/chat/announce.py COALESCE_SECONDS (not imported: the script also runs on old code)
QUIET_S = WINDOW_S + 0.05
STANDING_WAITING = 20
STANDING_ACTIVE = 100
TAGS = (b"a" * 16, b"b" * 16)


class FakeSocket:
    """The socket as `room.send` uses it: `closed` and `send_str`; counts what it was sent (in characters,
    which are bytes here: the frames are JSON with every other character escaped)."""

    __slots__ = ("closed", "bytes", "frames", "queue_frames", "last")

    def __init__(self) -> None:
        self.closed = False
        self.bytes = 0
        self.frames = 0
        self.queue_frames = 0
        self.last = ""

    async def send_str(self, text: str) -> None:
        self.bytes += len(text)
        self.frames += 1
        self.last = text
        if text.startswith('{"t":"queue"'):
            self.queue_frames += 1

    async def close(self, *, code: int = 1000, message: bytes = b"") -> None:
        self.closed = True


async def _no_wrapup(topic: str, age: str, handed_over: bool) -> None:
    return None


class Scene:
    """A hub with V volunteers online and a standing queue, and the three queue events."""

    def __init__(self, volunteers: int, config: Config) -> None:
        self.hub = ChatHub(config, add_wrapup=_no_wrapup)
        # The key gate (issue 17): every volunteer here has a signed, logged key statement.
        self.log = SignedAccounts()
        if hasattr(self.hub, "attach_log"):  # the script also runs on code from before the gate
            self.hub.attach_log(self.log)
        self.n_volunteers = volunteers
        self.volunteers: list[VolunteerInfo] = []
        self.sockets: list[FakeSocket] = []
        self.seekers: list[FakeSocket] = []
        self.active: deque[Chat] = deque()
        self.turn = 0
        self.step = 0

    async def setup(self, waiting: int, active: int) -> None:
        for n in range(1, self.n_volunteers + 1):
            ws = FakeSocket()
            info = VolunteerInfo(n, f"Vrijwilliger {n}", bytes(32))
            info.account_id = n.to_bytes(16, "big")
            self.log.sign(info.account_id)
            await self.hub.volunteer_connected(info, ws)  # type: ignore[arg-type]
            await self.hub.set_available(info, True)
            self.volunteers.append(info)
            self.sockets.append(ws)
        self.log.seal()  # their key proofs, built before any event (the real log keeps them too)
        for _ in range(waiting + active):
            await self.join()
        for _ in range(active):
            await self.pick_up()

    async def join(self) -> None:
        ws = FakeSocket()
        self.seekers.append(ws)
        await self.hub.open_chat(ws, os.urandom(32), TAGS)  # type: ignore[arg-type]

    async def pick_up(self) -> None:
        queue = self.hub.queue
        for _ in range(len(self.volunteers)):
            info = self.volunteers[self.turn % len(self.volunteers)]
            self.turn += 1
            if queue.free_capacity(info.id) > 0:
                break
        await self.hub.pick_up(info)
        chat_id = next(c for c in sorted(queue.slot(info.id).chats)
                       if queue.entries[c].state is ChatState.OFFERED)
        await self.hub.accept(info, {"t": "accept", "chat": chat_id, "pub": bytes(32), "sig": bytes(64)})
        self.active.append(self.hub.chats[chat_id])

    async def end(self) -> None:
        await self.hub.end_chat(self.active.popleft(), "volunteer")

    async def event(self) -> None:
        """The next queue event of the cycle: join, pick up, end (the standing queue keeps its size)."""
        kind = self.step % 3
        self.step += 1
        await (self.join, self.pick_up, self.end)[kind]()

    def sent(self) -> tuple[int, int, int]:
        """(bytes, frames, queue frames) sent so far to every socket."""
        every = self.sockets + self.seekers
        return (sum(s.bytes for s in every), sum(s.frames for s in every), sum(s.queue_frames for s in self.sockets))

    def old_bytes_per_event(self) -> int:
        """What one event's queue frames would have weighed with every colleague in every frame (the old
        algorithm), from the current state: the frame of one volunteer with the full list, times V."""
        hub, now = self.hub, self.hub.clock()
        waiting = hub.queue.waiting()
        info = self.volunteers[0]
        frame = {"t": "queue", "available": True, "waiting": [int(now - e.arrived) for e in waiting],
                 "handovers": [], "holding": len(hub.queue.slot(info.id).chats), "capacity": hub.queue.capacity,
                 "partners": hub.handover.partner_choices(),
                 "colleagues": [{"id": v.id, "name": v.name, "mentor": False} for v in self.volunteers[1:]]}
        return len(json.dumps(frame, separators=(",", ":"))) * len(self.volunteers)


async def quiet() -> None:
    """Long enough for an open window to close with nothing merged into it."""
    await asyncio.sleep(QUIET_S)


async def settle() -> None:
    """After a setup: a window that merged changes sends them at its end and opens one more."""
    await asyncio.sleep(2 * QUIET_S)


async def single(volunteers: int, events: int) -> tuple[float, float, float, float]:
    """CPU ms, bytes, frames and queue frames per event, each event on its own."""
    scene = Scene(volunteers, Config())
    await scene.setup(STANDING_WAITING, STANDING_ACTIVE)
    await settle()
    bytes0, frames0, queue0 = scene.sent()
    cpu = 0.0
    for _ in range(events):
        start = time.process_time()
        await scene.event()
        await quiet()  # the window closes (and would send what it merged): counted with the event
        cpu += time.process_time() - start
    bytes1, frames1, queue1 = scene.sent()
    print(f"single   V={volunteers}: {events} events, one at a time: {1000 * cpu / events:.3f} ms CPU per event, "
          f"{(bytes1 - bytes0) / events:,.0f} bytes in {(frames1 - frames0) / events:.1f} frames "
          f"({(queue1 - queue0) / events:.1f} queue frames) per event")
    old = scene.old_bytes_per_event()
    print(f"         the old algorithm's queue frames (colleagues in every frame) would have been "
          f"{old:,} bytes per event: {old / ((bytes1 - bytes0) / events):.1f} x")
    await scene.hub.shutdown()
    return 1000 * cpu / events, (bytes1 - bytes0) / events, (frames1 - frames0) / events, old


async def burst(volunteers: int, events: int) -> None:
    scene = Scene(volunteers, Config())
    await scene.setup(STANDING_WAITING, STANDING_ACTIVE)
    await settle()
    before = [s.queue_frames for s in scene.sockets]
    bytes0, frames0, _ = scene.sent()
    start = time.process_time()
    for _ in range(events):
        await scene.event()
    await quiet()
    cpu = time.process_time() - start
    bytes1, frames1, _ = scene.sent()
    most = max(s.queue_frames - b for s, b in zip(scene.sockets, before))
    print(f"burst    V={volunteers}: {events} events back to back: {1000 * cpu / events:.3f} ms CPU per event, "
          f"{(bytes1 - bytes0) / events:,.0f} bytes per event; at most {most} queue frames to one volunteer")
    await scene.hub.shutdown()


async def steady(volunteers: int, rate: float, seconds: float) -> tuple[float, float]:
    scene = Scene(volunteers, Config())
    await scene.setup(STANDING_WAITING, STANDING_ACTIVE)
    await settle()
    bytes0, frames0, queue0 = scene.sent()
    loop = asyncio.get_running_loop()
    events = int(rate * seconds)
    wall0, cpu0 = loop.time(), time.process_time()
    for n in range(events):
        await asyncio.sleep(max(0.0, wall0 + n / rate - loop.time()))
        await scene.event()
    await asyncio.sleep(max(0.0, wall0 + seconds - loop.time()))
    cpu, wall = time.process_time() - cpu0, loop.time() - wall0
    bytes1, frames1, queue1 = scene.sent()
    share = cpu / wall
    print(f"steady   V={volunteers}: {events} events in {wall:.2f} s ({rate:g}/s): {cpu:.3f} s CPU = "
          f"{share:.4f} of a core; {(bytes1 - bytes0) / wall / 1e6:.2f} MB/s in {(frames1 - frames0) / wall:,.0f} "
          f"frames/s ({(queue1 - queue0) / wall:,.0f} queue frames/s)")
    await scene.hub.shutdown()
    return share, (frames1 - frames0) / wall


async def restart(chats: int, volunteers: int) -> float:
    config = dataclasses.replace(Config(), chat_queue_max=chats)
    scene = Scene(volunteers, config)
    active = min(chats, volunteers * config.chat_max_per_volunteer)
    setup0 = time.process_time()
    await scene.setup(chats - active, active)
    setup = time.process_time() - setup0
    await settle()
    start = time.process_time()
    await scene.hub.shutdown()
    cpu = time.process_time() - start
    told = sum(1 for s in scene.seekers if '"reason":"restart"' in s.last)
    print(f"restart  {chats} chats ({active} active), {volunteers} volunteers: shutdown {1000 * cpu:.1f} ms CPU "
          f"(setup {setup:.2f} s); {len(scene.hub.chats)} chats left, {told} help-seekers told \"restart\"")
    return cpu


BARE_CLIENT = """
import asyncio, sys, aiohttp
async def one(session, url):
    async with session.ws_connect(url) as ws:
        async for _ in ws:
            pass
async def main(url, n):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(one(session, url) for _ in range(n)))
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def bare(volunteers: int, frame_bytes: int, rounds: int) -> float:
    """The bare baseline: one frame of that size to each of V real aiohttp websockets on loopback (their
    client in another process), i.e. what real sockets add to every round of frames: ms per round."""
    from aiohttp import web

    sockets: list[web.WebSocketResponse] = []
    ready = asyncio.Event()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.append(ws)
        if len(sockets) == volunteers:
            ready.set()
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = await asyncio.create_subprocess_exec(sys.executable, "-c", BARE_CLIENT,
                                                  f"http://127.0.0.1:{port}/ws", str(volunteers))
    try:
        await asyncio.wait_for(ready.wait(), 60)
        await quiet()
        text = json.dumps({"t": "queue", "pad": "x" * max(0, frame_bytes - 20)}, separators=(",", ":"))
        cpu = 0.0
        for _ in range(rounds):
            start = time.process_time()
            for ws in sockets:
                await ws.send_str(text)
            cpu += time.process_time() - start
            await quiet()
    finally:
        for ws in sockets:
            await ws.close()
        await asyncio.wait_for(client.wait(), 30)
        await runner.cleanup()
    print(f"bare     V={volunteers}: one {len(text)}-byte frame to each of {volunteers} real aiohttp websockets "
          f"(loopback): {1000 * cpu / rounds:.3f} ms CPU per round, {1e6 * cpu / rounds / volunteers:.2f} us a frame")
    return 1000 * cpu / rounds


def production_logging() -> None:
    """INFO to stderr through the scrubber, as `oor serve` sets it up (server/cli.py)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M"))
    install_log_scrubber(handler)
    logging.basicConfig(level=Config().log_level.upper(), handlers=[handler])


async def run(args: argparse.Namespace) -> None:
    if args.restart_only:
        await restart(args.restart_chats, 150)
        return
    q, sent, frames, _ = await single(500, 9 if args.quick else 30)
    floor = None
    if not args.no_bare:
        floor = await bare(500, int(sent / frames), 9 if args.quick else 30)
        print(f"         a real server sends the same frames: about {q + floor:.3f} ms per event "
              f"(hub {q:.3f} + sockets {floor:.3f}); hub / bare = {q / floor:.2f}")
    await burst(500, 50)
    share, frames_per_s = await steady(1000, 10.0, 3.0 if args.quick else 10.0)
    if floor is not None:
        sockets = frames_per_s * floor / 500 / 1000
        print(f"         with real sockets about {share + sockets:.4f} of a core (hub {share:.4f} + sockets {sockets:.4f})")
    await restart(args.restart_chats, 150)
    print(f"queue_event_ms_500 {q:.3f} cpu_share_1000x10 {share:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer events, a shorter steady phase")
    parser.add_argument("--restart-only", action="store_true", help="only the restart phase")
    parser.add_argument("--restart-chats", type=int, default=5000)
    parser.add_argument("--no-bare", action="store_true", help="skip the bare baseline of real websockets")
    args = parser.parse_args()
    production_logging()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
