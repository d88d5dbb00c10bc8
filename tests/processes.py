"""Real `oor serve` processes, with or without `--only`, over a data folder a test chooses.

tests/conftest.py's `start_live_server` starts the one-process service; this starts either part
alone (or both), on ports of its own, so that two processes can share one storage, and waits
until the part it started listens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

import crypto
from tests.conftest import INSECURE_TEST_ENV, REPO, free_port
from tests.helpers import PASSPHRASE, enrolment_body, login_body
from tests.mailclient import MailVolunteer


@dataclass
class OorProcess:
    process: subprocess.Popen[bytes]
    only: str | None
    http_port: int
    smtp_port: int
    data_dir: Path
    output_path: Path
    env: dict[str, str]
    robot: Any = None  # the signing robot (tests/transparency.py) of this storage, None when turned off

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def oor(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `oor` CLI against the same data folder and configuration."""
        return run_oor(self.data_dir, *args, env=self.env)

    def invite(self, name: str) -> str:
        done = self.oor("volunteer", "invite", name)
        if done.returncode != 0:
            raise AssertionError(f"oor volunteer invite failed: {done.stderr}")
        return done.stdout.strip().split("#uitnodiging=", 1)[1]

    async def keys_ready(self, name: str) -> None:
        """Until the signing robot has logged the account's keys (tests/transparency.py)."""
        import asyncio
        if self.robot is not None:
            await asyncio.to_thread(self.robot.wait_ready, name)

    def stop(self, timeout: float = 30) -> float:
        """SIGTERM, and wait for the exit; answers how many seconds it took."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                raise AssertionError(f"oor serve did not exit within {timeout} s of SIGTERM:\n{self.output()}")
        if self.robot is not None:
            robot, self.robot = self.robot, None
            robot.release()
        return time.monotonic() - started


def oor_env(public_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")}, **INSECURE_TEST_ENV,
            "OOR_PUBLIC_URL": public_url, **(extra or {}), "PYTHONUNBUFFERED": "1"}


def run_oor(data_dir: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args, "--data", str(data_dir)],
                          env=env or oor_env("http://127.0.0.1:8080"), cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start_oor(tmp: Path, data_dir: Path, *, only: str | None = None, http_port: int | None = None,
              smtp_port: int | None = None, env: dict[str, str] | None = None, name: str = "oor",
              signing_robot: bool = True) -> OorProcess:
    """`oor serve [--only ...]` on `data_dir`; waits for the HTTP port (web, both) or the SMTP port (smtp).
    The release is published first (`oor release publish`, as after an install), and the storage's signing
    robot (tests/transparency.py) signs every enrolled account unless `signing_robot` is False."""
    from tests.transparency import ThreadRobot, publish_release
    http_port = http_port or free_port()
    smtp_port = smtp_port or free_port()
    env = env or oor_env(f"http://127.0.0.1:{http_port}")
    publish_release(data_dir, env)
    output = tmp / f"{name}-output.log"
    command = [sys.executable, "-m", "server.cli", "serve", "--data", str(data_dir),
               "--http", f"127.0.0.1:{http_port}", "--smtp", f"127.0.0.1:{smtp_port}"]
    if only:
        command += ["--only", only]
    with output.open("wb") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    started = OorProcess(proc, only, http_port, smtp_port, data_dir, output, env)
    wait_for = smtp_port if only == "smtp" else http_port
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"oor serve exited early:\n{started.output()}")
        # With both parts, the gateway listens after the web site: wait for both.
        if _listening(wait_for) and (only is not None or _listening(smtp_port)):
            if signing_robot:
                started.robot = ThreadRobot.shared(env, data_dir)
            return started
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"oor serve did not start:\n{started.output()}")


async def volunteer_on_duty(server: OorProcess, http: aiohttp.ClientSession, name: str = "Sanne",
                            identity: crypto.Identity | None = None) -> MailVolunteer:
    """Enrol (with an invitation from the CLI), log in and take mail, over the web part's API."""
    identity = identity or crypto.new_identity()
    token = server.invite(name)
    assert (await http.post("/api/enrol", json=enrolment_body(token, identity=identity))).status == 201
    await server.keys_ready(name)  # as after a coordinator signed: mail and chat go only to logged keys
    return await volunteer_logs_in(http, name, identity)


async def volunteer_logs_in(http: aiohttp.ClientSession, name: str, identity: crypto.Identity) -> MailVolunteer:
    resp = await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))
    assert resp.status == 200, await resp.text()
    volunteer = MailVolunteer(http, identity)
    await volunteer.available(True)
    return volunteer


def mail_to_gateway(port: int, sender: str, body: str, subject: str = "Een vraag") -> tuple[int, str]:
    """One mail to hulp@localhost with stdlib smtplib; the DATA reply."""
    import smtplib
    raw = (f"From: {sender}\r\nTo: hulp@localhost\r\nSubject: {subject}\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        code, text = client.mail(sender)
        if code != 250:
            return code, text.decode()
        code, text = client.rcpt("hulp@localhost")
        if code != 250:
            return code, text.decode()
        code, text = client.data(raw)
        return code, text.decode()


def cookie_session(url: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=url, cookie_jar=aiohttp.CookieJar(unsafe=True))


def listening(port: int) -> bool:
    return _listening(port)


__all__ = ["OorProcess", "cookie_session", "listening", "mail_to_gateway", "oor_env", "run_oor", "start_oor",
           "volunteer_logs_in", "volunteer_on_duty"]
