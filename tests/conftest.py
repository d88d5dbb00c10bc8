"""Shared fixtures.

The names say what is insecure: `INSECURE_TEST_ENV` lowers Argon2id to libsodium's
floor and the chat proof-of-work to 8 bits so that tests run fast. Production defaults stay at 64 MiB; the server
refuses such parameters unless `insecure_kdf = true`, and then shows a banner.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

INSECURE_TEST_ENV = {
    "OOR_INSECURE_KDF": "true",
    "OOR_KDF_OPSLIMIT": "1",
    "OOR_KDF_MEMLIMIT_KIB": "8",
    "OOR_POW_BASE_BITS": "8",
}


@pytest.fixture
def insecure_kdf_config(tmp_path: Path) -> Any:
    """A Config with fast, insecure key derivation and a fresh data folder."""
    from server.config import load_config

    return load_config(env=INSECURE_TEST_ENV, overrides={"data_dir": str(tmp_path / "var")})


@pytest.fixture
def clock() -> Any:
    """A settable wall clock (unix seconds) for expiry tests."""
    from tests.helpers import Clock
    return Clock()


@pytest.fixture
async def client(aiohttp_client: Any, insecure_kdf_config: Any, clock: Any) -> Any:
    """A real in-process server (aiohttp test server) on a real SQLite file."""
    from server.app import create_app
    return await aiohttp_client(create_app(insecure_kdf_config, clock=clock))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A real `oor serve` process with its own data folder and captured output."""

    url: str
    data_dir: Path
    output: Path
    smtp_port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    @property
    def database(self) -> Path:
        return self.data_dir / "oor.sqlite3"

    def oor(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the `oor` CLI against the same data folder and configuration."""
        return subprocess.run([sys.executable, "-m", "server.cli", *args, "--data", str(self.data_dir)],
                              env=self.env, cwd=REPO, capture_output=True, text=True, timeout=60)

    def invite(self, name: str, *flags: str) -> str:
        done = self.oor("volunteer", "invite", name, *flags)
        if done.returncode != 0:
            raise AssertionError(f"oor volunteer invite failed: {done.stderr}")
        return done.stdout.strip()

    def read_output(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


def start_live_server(tmp: Path, extra_env: dict[str, str] | None = None,
                      rlimit_nofile: tuple[int, int] | None = None) -> LiveServer:
    """`rlimit_nofile=(soft, hard)` starts the process with that open file limit."""
    port, smtp_port = free_port(), free_port()
    data = tmp / "var"
    output = tmp / "server-output.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")}, **INSECURE_TEST_ENV,
           "OOR_PUBLIC_URL": f"http://127.0.0.1:{port}", **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    with output.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--data", str(data),
                                 "--http", f"127.0.0.1:{port}", "--smtp", f"127.0.0.1:{smtp_port}"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=None if rlimit_nofile is None else (
                                    lambda: resource.setrlimit(resource.RLIMIT_NOFILE, rlimit_nofile)))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"oor serve exited early:\n{output.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"oor serve did not start:\n{output.read_text()}")
    return LiveServer(f"http://127.0.0.1:{port}", data, output, smtp_port, env, proc)


def stop_live_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("live"))
    yield server
    stop_live_server(server)
