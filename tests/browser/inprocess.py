"""A real server started in the test's own event loop, and a loopback proxy with an unusual source address.

The server is the real application (`create_app`) on a real TCP port and a real
database (the test's, on either backend); running it in-process lets a test watch the relay (frame observer)
and, for tamper tests, inject frames as a malicious server would. Every log
record is captured *before* any filtering, so an address or a plaintext that a
handler would try to log is caught even if the production scrubber would hide it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from server.app import create_app
from server.config import load_config
from server.http import PrivateAccessLogger
from tests.conftest import INSECURE_TEST_ENV, free_port
from tests.services.database import Database, SQLiteFile, written

UNUSUAL_ADDRESS = "127.31.7.9"


class RawCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {record.levelname} {text}")


@dataclass
class InProcessServer:
    url: str
    app: web.Application
    data_dir: Path
    frames: list[tuple[int, str]]
    log: RawCapture
    runner: web.AppRunner
    store: Database
    proxy: "SourceProxy | None" = None
    config: Any = None
    robot: Any = None  # the signing robot (tests/transparency.py), None when the test turned it off

    def output(self) -> str:
        return "\n".join(self.log.lines)

    def data_bytes(self) -> bytes:
        """Everything the server has written to disk: its data folder and its database's files."""
        return written(self.data_dir, self.store)


async def start_in_process(tmp: Path, extra_env: dict[str, str] | None = None, *,
                           smtp: bool = False, database: Database | None = None,
                           signing_robot: bool = True) -> InProcessServer:
    """The real application on free ports; with `smtp`, the mail gateway runs in it too (as in `oor serve`).
    `database` is the test's (the `database` fixture), by default the SQLite file in tmp/var. A signing
    robot (tests/transparency.py) plays the coordinators unless `signing_robot` is False."""
    port = free_port()
    store = database if database is not None else SQLiteFile(tmp / "var")
    overrides = {"data_dir": str(tmp / "var"), "http": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}",
                 "database_url": store.url}
    if smtp:
        overrides["smtp"] = f"127.0.0.1:{free_port()}"
    config = load_config(env={**INSECURE_TEST_ENV, **(extra_env or {})}, overrides=overrides)
    frames: list[tuple[int, str]] = []
    app = create_app(config, frame_observer=lambda d, f: frames.append((d, f)))
    if smtp:
        from mailgate import gateway_context
        app.cleanup_ctx.append(gateway_context)
    capture = RawCapture()
    root = logging.getLogger()
    root.addHandler(capture)
    previous = root.level
    root.setLevel(logging.DEBUG)
    app.on_cleanup.append(lambda _: _restore(root, capture, previous))
    runner = web.AppRunner(app, access_log_class=PrivateAccessLogger, access_log=logging.getLogger("oor.access"))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    from tests.transparency import robot_for_app
    return InProcessServer(f"http://127.0.0.1:{port}", app, config.data_dir, frames, capture, runner, store,
                           config=config, robot=robot_for_app(app) if signing_robot else None)


async def _restore(root: logging.Logger, capture: logging.Handler, level: int) -> None:
    root.removeHandler(capture)
    root.setLevel(level)


@dataclass
class SourceProxy:
    """Forwards 127.0.0.1:<port> to the server, connecting from UNUSUAL_ADDRESS.

    The browser cannot choose its source address; through this proxy the server
    sees every connection as coming from 127.31.7.9, an address that appears
    nowhere else, so finding it in a file or a log proves a leak. `cut()` drops
    every open connection at once: a network blip.
    """

    target_port: int
    port: int = 0
    server: asyncio.base_events.Server | None = None
    writers: set[asyncio.StreamWriter] = field(default_factory=set)
    upstream_sources: set[str] = field(default_factory=set)

    async def start(self) -> "SourceProxy":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port,
                                                             local_addr=(UNUSUAL_ADDRESS, 0))
        self.upstream_sources.add(up_writer.get_extra_info("sockname")[0])
        self.writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers.difference_update({writer, up_writer})

    def cut(self) -> None:
        for w in list(self.writers):
            transport = w.transport
            if transport is not None:
                transport.abort()
        self.writers.clear()

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def stop_in_process(server: InProcessServer) -> None:
    if server.robot is not None:
        await server.robot.stop()
    if server.proxy is not None:
        await server.proxy.stop()
    await server.runner.cleanup()


def proxied_url(server: InProcessServer) -> str:
    return f"http://127.0.0.1:{server.proxy.port}" if server.proxy else server.url


async def with_proxy(server: InProcessServer) -> InProcessServer:
    server.proxy = await SourceProxy(int(server.url.rsplit(":", 1)[1])).start()
    return server


def invite_link(server: InProcessServer, name: str, role: str = "volunteer") -> Any:
    """An enrolment link as `oor volunteer invite` makes it, for this in-process server."""
    from server import accounts
    from server.keys import CLOCK, CONFIG, STORAGE

    async def make() -> str:
        app = server.app
        inv = await accounts.invite(app[STORAGE], app[CONFIG], name, role, True, True, app[CLOCK]())
        return inv.url.split("#", 1)[1]
    return make()


async def api_volunteer(server: InProcessServer, http: Any, name: str, *, chat: bool = False) -> Any:
    """A volunteer enrolled and logged in through the real API from Python (tests/mailclient.py and
    tests/chatclient.py speak for them); mail availability is switched on."""
    import crypto
    from server import accounts
    from server.keys import CLOCK, CONFIG, STORAGE
    from tests.helpers import PASSPHRASE, enrolment_body, login_body
    from tests.mailclient import MailVolunteer
    app = server.app
    inv = await accounts.invite(app[STORAGE], app[CONFIG], name, "volunteer", True, True, app[CLOCK]())
    identity = crypto.new_identity()
    body = enrolment_body(inv.url.split("#uitnodiging=", 1)[1], identity=identity)
    assert (await http.post("/api/enrol", json=body)).status == 201
    assert (await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))).status == 200
    if server.robot is not None:  # as after a coordinator signed: mail and chat go only to logged keys
        from tests.transparency import wait_ready
        await wait_ready(app, name=name)
    volunteer = MailVolunteer(http, identity)
    await volunteer.available(True)
    return volunteer
