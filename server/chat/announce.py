"""The queue's picture for every page, coalesced: what `ChatHub.queue_changed` sends (issue 14).

Every queue event (a help-seeker joins, a pickup, an end, a volunteer comes online
or goes off duty) changes what the pages show: a waiting help-seeker its position
and estimate, a volunteer the queue. Telling every page on every event made an
event cost O(pages), and the colleague list in every frame made it O(volunteers²).
So these rules hold, and pages rely on them:

- **At most one frame per page per window** (COALESCE_SECONDS, 250 ms). The first
  change after a quiet spell goes out at once; the changes that follow within the
  window are merged into one frame at the window's end. A frame is built when it
  is sent, so it always shows the state of that moment, never an older one.
- **`colleagues` only when it changed.** A `queue` frame carries `colleagues` only
  when that list changed for this page (another colleague came online or went
  away); the first frame on a connection always has it. A queue frame without
  `colleagues` means: the list the page has is still right (web/js/workspace.js
  keeps the last one). `partners` and `handovers` are in every queue frame.
- **A `position` frame only when something changed**: a waiting help-seeker is
  sent one when its position or estimate differs from what the last `position`
  frame to that socket said (its first one may repeat its `queued` frame).
- **One pass per picture.** The queue is kept in order (queue.py), so one pass
  over it gives every position; what every queue frame shares is encoded once,
  and pages that are to get the same frame share one text.
- **Quiet at a restart.** `close()` (the hub's shutdown) cancels the window and
  announces nothing more: every chat ends at once and both pages are told so, and
  a picture per ended chat made a restart quadratic in the chats.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

from .assignment import Assignment
from .handover import Handovers
from .room import Room, VolunteerInfo, send

COALESCE_SECONDS = 0.25
STAFF_ROLES = ("volunteer", "mentor")  # who is listed as a colleague (for a handover or a read-along)
PAUSED_FIELD = '"paused":true,'  # in a queue frame only while the volunteer is on a break (issue 15)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class HubParts(Protocol):
    """What the announcer needs of the hub (server/chat/hub.py); named here so that this
    module does not import the hub that uses it."""
    room: Room
    assignment: Assignment
    handover: Handovers


def announcer(hub: HubParts) -> Announcer:
    """The hub's announcer, made on first use (the hub keeps it as `announce`)."""
    found = vars(hub).get("announce")
    if not isinstance(found, Announcer):
        found = Announcer(hub.room, hub.assignment, hub.handover)
        vars(hub)["announce"] = found
    return found


class Announcer:
    def __init__(self, room: Room, assignment: Assignment, handover: Handovers,
                 window: float = COALESCE_SECONDS) -> None:
        self.room = room
        self.assignment = assignment
        self.handover = handover
        self.window = window
        self._timer: asyncio.TimerHandle | None = None  # set while a window is open
        self._everyone = False           # a change for every page waits for the window's end
        self._some: set[int] = set()     # volunteers whose own frame waits for it (a resume)
        self._flushing = False
        self._closed = False
        self._roster: list[tuple[int, str, bool]] = []  # staff online: (id, name, mentor), in order
        self._roster_items: list[str] = []              # each of them encoded, as a colleague
        self._roster_index: dict[int, int] = {}
        self._roster_version = 0
        # What each page was last told: the socket it went to, so that a new connection starts afresh.
        self._colleagues_told: dict[int, tuple[object, int]] = {}          # volunteer -> (socket, roster version)
        self._positions_told: dict[bytes, tuple[object, int, int]] = {}    # chat -> (socket, position, estimate)

    # -- asking -----------------------------------------------------------------------------------

    async def changed(self) -> None:
        """The queue's picture changed: every page hears of it, now or at the window's end."""
        self._everyone = True
        await self._request()

    async def refresh(self, info: VolunteerInfo) -> None:
        """This volunteer's page wants its queue frame (after a resume): in turn, like every other."""
        self._some.add(info.id)
        await self._request()

    def close(self) -> None:
        """Announce nothing from now on (the hub shuts down); the open window is cancelled."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._everyone, self._some = False, set()
        self._colleagues_told.clear()
        self._positions_told.clear()

    async def _request(self) -> None:
        if self._closed:
            self._everyone, self._some = False, set()
            return
        if self._timer is not None:
            return  # within the window: merged into the frames sent at its end
        self._open_window()
        await self._flush()

    # -- the window -------------------------------------------------------------------------------

    def _open_window(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.window, self._window_over)

    def _window_over(self) -> None:
        self._timer = None
        if self._closed:
            return
        if self._flushing:
            self._open_window()  # the last frames are still going out: look again at the next window's end
        elif self._everyone or self._some:
            self._open_window()
            self.room.spawn(self._flush())

    # -- the frames -------------------------------------------------------------------------------

    async def _flush(self) -> None:
        everyone, some = self._everyone, self._some
        self._everyone, self._some = False, set()
        self._flushing = True
        try:
            waiting = self.room.queue.waiting()
            if everyone:
                await self._tell_seekers(waiting)
            await self._tell_volunteers(waiting, None if everyone else some)
        finally:
            self._flushing = False

    async def _tell_seekers(self, waiting: list[Any]) -> None:
        """Every waiting help-seeker whose position or estimate changed: one pass over the queue in order."""
        chats, estimate = self.room.chats, self.assignment.estimate
        told, self._positions_told = self._positions_told, {}  # chats no longer waiting are forgotten
        for position, entry in enumerate(waiting, start=1):
            chat = chats.get(entry.chat_id)
            if chat is None or chat.seeker is None:
                continue
            now_told = (chat.seeker, position, estimate(position))
            self._positions_told[entry.chat_id] = now_told
            if told.get(entry.chat_id) != now_told:
                await send(chat.seeker, f'{{"t":"position","position":{position},"estimate_s":{now_told[2]}}}')

    async def _tell_volunteers(self, waiting: list[Any], only: set[int] | None) -> None:
        """The queue frame to every volunteer online (or to `only` these)."""
        room, queue, handover = self.room, self.room.queue, self.handover
        now = room.clock()
        online = self._update_roster()
        waited = _json([int(now - e.arrived) for e in waiting])
        shared = f'"capacity":{queue.capacity},"partners":{_json(handover.partner_choices())}'
        texts: dict[tuple[Any, ...], str] = {}  # pages that get the same frame share its text
        version = self._roster_version
        any_handovers = bool(handover.by_new_id)  # mostly none: then nobody needs to be asked
        for info in online:
            ws = info.ws
            if ws is None or (only is not None and info.id not in only):
                continue
            slot = queue.slot(info.id)
            partner = info.role == "partner"
            available = info.id in handover.partner_available if partner else slot.available
            if not info.key_ready:
                available = info.wants  # what the page asked; the key gate holds it back (its `keys` frame says why)
            paused = slot.paused  # a break: nothing new is offered, so no handover is listed either (issue 15)
            handovers = handover.waiting_for(info, now) if any_handovers and not paused else []
            told = self._colleagues_told.get(info.id)
            with_colleagues = told is None or told[0] is not ws or told[1] != version
            key = (available, paused, partner, len(slot.chats), tuple(handovers),
                   info.id if with_colleagues else None)
            text = texts.get(key)
            if text is None:
                colleagues = f',"colleagues":{self._colleagues(info.id)}' if with_colleagues else ""
                text = texts[key] = (
                    f'{{"t":"queue","available":{"true" if available else "false"},'
                    f'{PAUSED_FIELD if paused else ""}'
                    f'"waiting":{"[]" if partner else waited},"handovers":{_json(handovers)},'
                    f'"holding":{len(slot.chats)},{shared}{colleagues}}}')
            if await send(ws, text) and with_colleagues:
                self._colleagues_told[info.id] = (ws, version)

    # -- colleagues -------------------------------------------------------------------------------

    def _update_roster(self) -> list[VolunteerInfo]:
        """Staff online, in the order they first connected; the roster version moves when the
        colleagues listed change (one pass). Forgets what was told to pages that went away."""
        online, roster = [], []
        for info in self.room.volunteers.values():
            if info.ws is None:
                self._colleagues_told.pop(info.id, None)
                continue
            online.append(info)
            if info.role in STAFF_ROLES and info.key_ready:  # a colleague without a logged key takes nothing over
                roster.append((info.id, info.name, info.role == "mentor"))
        if roster != self._roster:
            self._roster = roster
            self._roster_items = [_json({"id": i, "name": name, "mentor": mentor}) for i, name, mentor in roster]
            self._roster_index = {entry[0]: n for n, entry in enumerate(roster)}
            self._roster_version += 1
        return online

    def _colleagues(self, volunteer_id: int) -> str:
        """The colleague list for one page: every staff member online but themselves."""
        items, index = self._roster_items, self._roster_index.get(volunteer_id)
        if index is not None:
            items = items[:index] + items[index + 1:]
        return f"[{','.join(items)}]"
