"""The `oor` CLI against a real SQLite file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import crypto
from tests.conftest import INSECURE_TEST_ENV, REPO


def oor(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **INSECURE_TEST_ENV, "OOR_PUBLIC_URL": "https://hulp.example.nl"}
    return subprocess.run([sys.executable, "-m", "server.cli", *args, "--data", str(data)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_invite_prints_a_one_time_link_and_stores_only_its_hash(tmp_path: Path) -> None:
    done = oor(tmp_path, "volunteer", "invite", "Anouk", "--role", "partner", "--chat")
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    prefix = "https://hulp.example.nl/inschrijven#uitnodiging="
    assert url.startswith(prefix)
    token = url[len(prefix):]
    assert len(crypto.b64decode(token)) == 32  # 256 bits, in the fragment: never sent to the server
    with sqlite3.connect(tmp_path / "oor.sqlite3") as db:
        row = db.execute("SELECT token_hash, name, role, can_chat, can_mail, expires_at FROM invitations").fetchone()
    assert row[0] == crypto.hash_token(token)
    assert row[1:5] == ("Anouk", "partner", 1, 0)
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert token.encode() not in raw
    second = oor(tmp_path, "volunteer", "invite", "Anouk")
    assert second.returncode == 0 and second.stdout.strip() != url


def test_invite_refuses_bad_names_and_roles(tmp_path: Path) -> None:
    bad = oor(tmp_path, "volunteer", "invite", "R2D2")
    assert bad.returncode == 1 and "letters" in bad.stderr
    role = oor(tmp_path, "volunteer", "invite", "Anouk", "--role", "admin")
    assert role.returncode == 2 and "invalid choice" in role.stderr


def test_list_and_deactivate(tmp_path: Path) -> None:
    listing = oor(tmp_path, "volunteer", "list")
    assert listing.returncode == 0 and listing.stdout.startswith("name")
    missing = oor(tmp_path, "volunteer", "deactivate", "Niemand")
    assert missing.returncode == 1 and "no volunteer" in missing.stderr
