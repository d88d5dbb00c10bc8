"""The live mail inbox: `{t: "inbox", unread, threads}` on every volunteer socket of this node.

A volunteer's page reloads its inbox (`GET /api/mail/inbox`) when this frame comes, instead of
asking every minute. `unread` is the number of the help-seeker's messages the volunteer has not
opened yet, `threads` the number of open threads assigned to them: two counts, nothing about any
thread, never content.

Mail reaches a thread in many places: this process's desk (the site's form, a reply, a handover),
the mail gateway (in this process, or its own `oor serve --only smtp`), another web node of a
cluster. So the feed has two triggers, and nothing shared between nodes:

- a **nudge**: this process's desk changed a thread (`MailDesk.listeners`), and the feed looks
  again at once;
- a **tick**: every `INTERVAL_SECONDS`, one storage query (`Storage.inbox_counts`) for every
  volunteer with a socket on this node together, never one query per socket, and none at all
  while no volunteer is connected here.

A frame goes out only when a volunteer's two counts differ from what their sockets were last
sent, and always once when a socket is attached. The frame is sent from the node that holds the
socket (in a cluster the volunteer's socket lives on an edge node; the hub never sees it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ..keys import STORAGE
from ..storage import Storage
from .desk import MAIL_DESK

log = logging.getLogger("oor.mail")
INTERVAL_SECONDS = 2.0

Counts = tuple[int, int]  # (unread messages, open threads)


def inbox_frame(counts: Counts) -> str:
    return json.dumps({"t": "inbox", "unread": counts[0], "threads": counts[1]}, separators=(",", ":"))


async def _send(ws: web.WebSocketResponse, frame: str) -> None:
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):  # a vanished page is not an error here
        await ws.send_str(frame)


class InboxFeed:
    """The volunteers with a socket on this node, and the counts their sockets were last sent."""

    def __init__(self, storage: Storage, interval: float = INTERVAL_SECONDS) -> None:
        self.storage, self.interval = storage, interval
        self.sockets: dict[int, set[web.WebSocketResponse]] = {}
        self.sent: dict[int, Counts] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one look at a time: a nudge and a tick never send twice

    async def attach(self, volunteer_id: int, ws: web.WebSocketResponse) -> None:
        """A volunteer's socket is set up: it gets the counts now, and every change from now on."""
        self.sockets.setdefault(volunteer_id, set()).add(ws)
        async with self._lock:
            try:
                counts = (await self.storage.inbox_counts([volunteer_id])).get(volunteer_id, (0, 0))
            except Exception:  # a storage hiccup must not cost the chat socket: the next tick sends
                log.exception("inbox check failed")
                self.sent.pop(volunteer_id, None)
                return
            changed = self.sent.get(volunteer_id) != counts
            self.sent[volunteer_id] = counts
        frame = inbox_frame(counts)
        for other in list(self.sockets.get(volunteer_id, ())):
            if other is ws or changed:
                await _send(other, frame)

    def detach(self, volunteer_id: int, ws: web.WebSocketResponse) -> None:
        held = self.sockets.get(volunteer_id)
        if held is None:
            return
        held.discard(ws)
        if not held:
            del self.sockets[volunteer_id]
            self.sent.pop(volunteer_id, None)

    def nudge(self) -> None:
        """This process changed a thread: look again now rather than at the next tick."""
        self._wake.set()

    async def check(self) -> None:
        """One query for every volunteer connected here; a frame to each whose counts changed."""
        volunteers = list(self.sockets)
        if not volunteers:
            return
        async with self._lock:
            found = await self.storage.inbox_counts(volunteers)
            changes = []
            for volunteer_id in volunteers:
                if volunteer_id not in self.sockets:
                    continue  # left while the query ran
                counts = found.get(volunteer_id, (0, 0))
                if self.sent.get(volunteer_id) != counts:
                    self.sent[volunteer_id] = counts
                    changes.append((volunteer_id, counts))
        for volunteer_id, counts in changes:
            frame = inbox_frame(counts)
            for ws in list(self.sockets.get(volunteer_id, ())):
                await _send(ws, frame)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # a storage hiccup: the next tick tries again
                log.exception("inbox check failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


async def inbox_ctx(app: web.Application) -> AsyncIterator[None]:
    """The feed for the application's life (after the storage and the desk are in place)."""
    feed = InboxFeed(app[STORAGE])
    app[MAIL_INBOX] = feed
    app[MAIL_DESK].listeners.append(feed.nudge)
    feed.start()
    yield
    await feed.stop()


MAIL_INBOX: web.AppKey[InboxFeed] = web.AppKey("mail_inbox")
