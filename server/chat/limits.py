"""How many help-seeker chat sockets may be open, counted without identity.

A socket costs a file descriptor from the moment it is accepted, but the
proof-of-work is only checked when its `open` frame arrives. So, before the
upgrade, two counts decide:

- sockets that have not (yet) opened or resumed a chat, per address tag
  (`chat_idle_sockets_per_address`): one address cannot hold many idle sockets,
  while sockets in a waiting or running chat do not count, so that many people
  behind one school or office NAT can all talk;
- all help-seeker chat sockets (`chat_sockets_max`), which must stay well under
  the process's open file limit.

Beyond a count the upgrade answers 429 or 503. A refusal is never logged on
its own (a flood would fill the disk and the log would show when an address
was busy): refusals are counted and summed up at most once a minute.

The per-address count is keyed by the in-memory tag of `server.guards.client_tags`
(the current key's), never by the address; an entry disappears once it is zero.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from ..errors import ServiceUnavailable, TooManyRequests

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger("oor.chat")
REPORT_EVERY_SECONDS = 60.0


class SocketSlot:
    """One admitted socket. `opened()` once it holds a chat; `release()` in a `finally`, always.

    Both are idempotent, so no exit path can count a socket twice or leave it counted."""

    __slots__ = ("_limits", "_tag", "idle", "_released")

    def __init__(self, limits: SocketLimits, tag: bytes) -> None:
        self._limits, self._tag = limits, tag
        self.idle, self._released = True, False

    def opened(self) -> None:
        if self.idle and not self._released:
            self.idle = False
            self._limits._idle_done(self._tag)

    def release(self) -> None:
        if self._released:
            return
        if self.idle:
            self._limits._idle_done(self._tag)
        self._released = True
        self._limits.open -= 1


class SocketLimits:
    def __init__(self, per_address: int, total: int) -> None:
        self.per_address, self.total = per_address, total
        self.open = 0
        self.idle: dict[bytes, int] = {}
        self.refused_address = 0
        self.refused_total = 0
        self._report: asyncio.TimerHandle | None = None

    def admit(self, tag: bytes) -> SocketSlot:
        """Count one more socket from this address tag, or raise the refusal to answer."""
        if self.open >= self.total:
            self.refused_total += 1
            self._schedule_report()
            raise ServiceUnavailable(retry_after=60)
        if self.idle.get(tag, 0) >= self.per_address:
            self.refused_address += 1
            self._schedule_report()
            raise TooManyRequests("chat_too_many_connections")
        self.open += 1
        self.idle[tag] = self.idle.get(tag, 0) + 1
        return SocketSlot(self, tag)

    def _idle_done(self, tag: bytes) -> None:
        left = self.idle.get(tag, 0) - 1
        if left > 0:
            self.idle[tag] = left
        else:
            self.idle.pop(tag, None)

    def _schedule_report(self) -> None:
        # The first refusal of a quiet spell starts the clock; the summary follows once, a minute later.
        if self._report is not None:
            return
        try:
            self._report = asyncio.get_running_loop().call_later(REPORT_EVERY_SECONDS, self.report)
        except RuntimeError:  # no event loop (a unit test): the counts wait for report()
            pass

    def report(self) -> None:
        """Log one summary of the refusals since the last one, and start counting afresh."""
        if self._report is not None:
            self._report.cancel()
            self._report = None
        refused = self.refused_address + self.refused_total
        if refused:
            log.warning("refused %d chat connection%s in the last minute (per-address cap: %d, total cap: %d)",
                        refused, "" if refused == 1 else "s", self.refused_address, self.refused_total)
        self.refused_address = self.refused_total = 0


CHAT_SOCKETS: web.AppKey[SocketLimits] = web.AppKey("chat_sockets")


def for_config(config: Config) -> SocketLimits:
    return SocketLimits(config.chat_idle_sockets_per_address, config.chat_sockets_max)


def socket_limits(app: web.Application) -> SocketLimits:
    return app[CHAT_SOCKETS]
