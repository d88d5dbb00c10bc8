"""SIGKILL during a stream of mails: every mail that got 250 is stored whole and readable; none half-stored."""

from __future__ import annotations

import asyncio
import signal
import smtplib
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

import crypto
from tests.conftest import start_live_server, stop_live_server
from tests.helpers import PASSPHRASE, enrolment_body, login_body
from tests.mailclient import MailVolunteer


def stream(port: int, accepted: list[int], stop: threading.Event, worker: int) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        body = f"bericht {worker}-{n}: ik wil graag met iemand praten"
        raw = (f"From: a{worker}@example.org\r\nTo: hulp@localhost\r\nSubject: stroom\r\n\r\n{body}\r\n").encode()
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                client.sendmail(f"a{worker}@example.org", ["hulp@localhost"], raw)
            accepted.append(n)
        except (OSError, smtplib.SMTPException):
            if stop.is_set():
                return
            time.sleep(0.01)


async def test_sigkill_during_intake_loses_nothing_that_got_250(tmp_path: Path, database: Any) -> None:
    env = {"OOR_SMTP_PER_MINUTE": "100000", "OOR_SMTP_RELAY": "127.0.0.1:9"}  # relay down: not the point here
    server = start_live_server(tmp_path, env, database=database)
    identity = crypto.new_identity()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=jar) as http:
        token = server.invite("Sanne").split("#uitnodiging=", 1)[1]
        assert (await http.post("/api/enrol", json=enrolment_body(token, identity=identity))).status == 201
        assert (await http.post("/api/login", json=await login_body(http, "Sanne", PASSPHRASE))).status == 200
        assert (await http.post("/api/mail/availability", json={"mail": True})).status == 200

    accepted: list[int] = []
    stop = threading.Event()
    workers = [threading.Thread(target=stream, args=(server.smtp_port, accepted, stop, i)) for i in range(3)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 20
    while len(accepted) < 20 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    parse_processes = descendants(server.process.pid)  # the forkserver and its parse workers
    assert len(parse_processes) >= 2
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    stop_live_server(server)  # its signing robot (and that robot's storage pool) too: the process is gone already
    stop.set()
    for w in workers:
        w.join(timeout=10)
    got_250 = len(accepted)
    assert got_250 >= 20
    # A killed server leaves no parse process behind (mailgate/isolation.py, _exit_with).
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in parse_processes) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not [pid for pid in parse_processes if Path(f"/proc/{pid}").exists()]

    restarted = start_live_server_again(server, tmp_path)
    try:
        async with aiohttp.ClientSession(base_url=restarted.url, cookie_jar=jar) as http:
            volunteer = MailVolunteer(http, identity)
            threads = await volunteer.inbox()
            # Every 250 is there; at most one mail per client was committed but killed before its 250.
            assert got_250 <= len(threads) <= got_250 + len(workers)
            for thread in threads:
                data, texts = await volunteer.read(thread["thread"])
                assert len(texts) == 1 and "ik wil graag met iemand praten" in texts[0][1]
    finally:
        stop_live_server(restarted)


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, p in parents.items() if p == parent]
        found += children
        todo += children
    return found


def start_live_server_again(old: Any, tmp_path: Path) -> Any:
    """The same data folder and database, a new process (and new ports)."""
    from tests.conftest import start_live_server as start
    again = tmp_path / "again"
    again.mkdir()
    (again / "var").symlink_to(old.data_dir)
    return start(again, {k: old.env[k] for k in ("OOR_SMTP_PER_MINUTE", "OOR_SMTP_RELAY")}, database=old.store)
