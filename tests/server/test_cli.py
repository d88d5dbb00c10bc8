"""The `oor` CLI against a real SQLite file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
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


def test_invite_takes_the_names_people_and_teams_have(tmp_path: Path) -> None:
    """The README's own example, and the usual punctuation of names (issue 15, point 14)."""
    for name in ("Team 113", "Anne-Marie", "O'Brien", "O\u2019Neill", "Jan Jr.", "R2D2", "Zoë", "x" * 40):
        done = oor(tmp_path, "volunteer", "invite", name, "--role", "partner", "--chat")
        assert done.returncode == 0, (name, done.stderr)
    with sqlite3.connect(tmp_path / "oor.sqlite3") as db:
        names = {r[0] for r in db.execute("SELECT name FROM invitations")}
    assert {"Team 113", "O'Brien", "Jan Jr."} <= names


def test_invite_refuses_bad_names_and_roles(tmp_path: Path) -> None:
    # Bounded (1..40), starting with a letter or digit (never a spreadsheet formula), no markup, no
    # control character (nothing that could move a terminal's cursor in `oor volunteer list`).
    for name in (".Jan", "'Jan", "=HYPERLINK(1)", "+31", "@team", "<b>Jan</b>", "Jan & Piet", "Jan\x1b[31m", "Jan\tPiet",
                 "Jan  Piet", "x" * 41, "", " ", "Jan/Piet", "_jan"):
        bad = oor(tmp_path, "volunteer", "invite", name)
        assert bad.returncode == 1 and "letters and digits" in bad.stderr, (name, bad.stderr)
    with sqlite3.connect(tmp_path / "oor.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM invitations").fetchone()[0] == 0
    role = oor(tmp_path, "volunteer", "invite", "Anouk", "--role", "admin")
    assert role.returncode == 2 and "invalid choice" in role.stderr


def test_list_and_deactivate(tmp_path: Path) -> None:
    listing = oor(tmp_path, "volunteer", "list")
    assert listing.returncode == 0 and listing.stdout.startswith("name")
    assert "pending invitations (not used yet): 0" in listing.stdout
    missing = oor(tmp_path, "volunteer", "deactivate", "Niemand")
    assert missing.returncode == 1 and "no volunteer" in missing.stderr


def test_list_shows_pending_invitations_without_their_token(tmp_path: Path) -> None:
    link = oor(tmp_path, "volunteer", "invite", "Team 113", "--role", "partner", "--chat").stdout.strip()
    token = link.split("#uitnodiging=", 1)[1]
    oor(tmp_path, "volunteer", "invite", "Anne-Marie", "--role", "mentor", "--chat")
    listing = oor(tmp_path, "volunteer", "list")
    assert listing.returncode == 0, listing.stderr
    assert "pending invitations (not used yet): 2" in listing.stdout
    rows = [line.split() for line in listing.stdout.splitlines()]
    team = next(line for line in listing.stdout.splitlines() if line.startswith("Team 113 "))
    assert team.split()[2:5] == ["partner", "yes", "no"] and team.endswith("UTC")
    assert any(r[:2] == ["Anne-Marie", "mentor"] for r in rows)
    assert token not in listing.stdout and token not in listing.stderr
    assert crypto.hash_token(token).hex() not in listing.stdout


def test_invite_links_use_public_url_or_the_flag(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", **INSECURE_TEST_ENV}  # no OOR_PUBLIC_URL
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "server.cli", *args, "--data", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    flagged = run("volunteer", "invite", "Sanne", "--public-url", "https://hulp.example.org/")
    assert flagged.returncode == 0, flagged.stderr
    assert flagged.stdout.startswith("https://hulp.example.org/inschrijven#uitnodiging=")
    assert "note" not in flagged.stderr and "valid until" in flagged.stderr
    # Without public_url and without a server that ran here: the configured http address, and a note that says so.
    guessed = run("volunteer", "invite", "Bram")
    assert guessed.returncode == 0 and guessed.stdout.startswith("http://127.0.0.1:8080/inschrijven#")
    assert "public_url is not set" in guessed.stderr and "--public-url" in guessed.stderr
    refused = run("volunteer", "invite", "Carla", "--public-url", "javascript:alert(1)")
    assert refused.returncode == 2 and "public_url" in refused.stderr


def test_invite_links_follow_the_server_that_runs_on_another_port(tmp_path: Path) -> None:
    """`oor serve --http 127.0.0.1:PORT` without public_url: the CLI's links point at PORT, not 8080."""
    from tests.processes import oor_env, run_oor, start_oor
    data = tmp_path / "var"
    env = oor_env("")
    server = start_oor(tmp_path, data, env=env)
    try:
        deadline = time.monotonic() + 30
        while "Press Ctrl-C" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        done = run_oor(data, "volunteer", "invite", "Sanne", env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"http://127.0.0.1:{server.http_port}/inschrijven#uitnodiging="), done.stdout
        assert "note" not in done.stderr
        # The flag still wins.
        flagged = run_oor(data, "volunteer", "invite", "Bram", "--public-url", "https://hulp.example.nl", env=env)
        assert flagged.stdout.startswith("https://hulp.example.nl/inschrijven#")
    finally:
        server.stop()
