"""A loopback proxy (tests/browser/inprocess.py `SourceProxy`) that can keep a page from reconnecting.

A page behind it can be made to be *down* for as long as a test needs, deterministically: `hold()`
accepts new connections but passes nothing on until `release()` (the page's websocket stays
"connecting", as towards a node that is slow to answer), `refuse()` drops them at once (as towards a
node that is gone, so the page's attempt fails and its backoff starts). Connections already open
are not touched. `attempts` records when each new connection arrived, so a test can tell how soon
a page tried to come back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tests.browser.inprocess import InProcessServer, SourceProxy


@dataclass
class HoldingProxy(SourceProxy):
    attempts: list[float] = field(default_factory=list)
    refusing: bool = False
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    def hold(self) -> None:
        self.refusing = False
        self.gate.clear()

    def refuse(self) -> None:
        self.refusing = True
        self.gate.set()

    def release(self) -> None:
        self.refusing = False
        self.gate.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts.append(asyncio.get_running_loop().time())
        if self.refusing:
            if writer.transport is not None:
                writer.transport.abort()
            return
        self.writers.add(writer)  # so that cut() and stop() end a held connection too
        await self.gate.wait()
        if writer.is_closing():
            return
        await super()._handle(reader, writer)

    async def stop(self) -> None:
        self.cut()
        self.gate.set()  # held connections were cut: let their handlers see it and return
        await super().stop()


async def with_holding_proxy(server: InProcessServer) -> HoldingProxy:
    """Put a HoldingProxy in front of the server (it is stopped with the server, as the usual proxy is)."""
    proxy = await HoldingProxy(int(server.url.rsplit(":", 1)[1])).start()
    server.proxy = proxy
    return proxy
