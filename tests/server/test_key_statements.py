"""Key statements (issue 17): the request, the offline signature, the import, and the gate.

These tests are about the gate itself: their servers have no signing robot (tests/transparency.py),
and the test plays the coordinator through the same functions the CLI runs.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from server.keys import CONFIG, STORAGE
from server.transparency.keys import (MAX_FILE_BYTES, KeysError, build_statements, import_signed,
                                      pending_request, read_file)
from server.transparency.log import LOG
from tests.chatclient import Seeker, Volunteer
from tests.conftest import INSECURE_TEST_ENV, REPO
from tests.helpers import logged_in_volunteer
from tests.transparency import TEST_ROOT_PUBLIC_KEY, TEST_ROOT_SEED, robot_root

pytestmark = pytest.mark.no_signing_robot

NOW = 1_800_000_000  # the test clock (tests/helpers.py Clock)


def origin(client: Any) -> dict[str, str]:
    return {"Origin": str(client.make_url("")).rstrip("/")}


async def sign_and_import(client: Any, *, root: crypto.RootKey | None = None, days: int = 365) -> list[str]:
    app = client.server.app
    request = await pending_request(app[STORAGE], app[CONFIG], app[LOG])
    signed = build_statements(request, root or robot_root(), now=NOW, days=days)
    lines = await import_signed(app[STORAGE], app[CONFIG], signed, now=NOW)
    await app[LOG].refresh()
    return lines


async def settled(log: Any, account_id: bytes, status: str, timeout: float = 10) -> None:
    """Until the log's status for the account is `status` (its keeper may checkpoint at the same moment)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while log.status_for(account_id) != status:
        assert asyncio.get_running_loop().time() < deadline, log.status_for(account_id)
        await asyncio.sleep(0.05)


async def frame_of(volunteer: Volunteer, kind: str, timeout: float = 20) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            frame = await volunteer.ws.receive_json(timeout=timeout)
            if frame["t"] == kind:
                return frame
    return await asyncio.wait_for(wait(), timeout)


def test_the_test_root_is_the_configured_one() -> None:
    assert crypto.b64encode(crypto.RootKey.from_seed(TEST_ROOT_SEED).public) == TEST_ROOT_PUBLIC_KEY
    assert INSECURE_TEST_ENV["OOR_ROOT_PUBLIC_KEY"] == TEST_ROOT_PUBLIC_KEY


async def test_a_volunteer_takes_chats_only_once_the_statement_is_logged(client: Any) -> None:
    app = client.server.app
    identity = await logged_in_volunteer(client, "Sanne")
    row = await app[STORAGE].volunteer_by_name("Sanne")
    assert len(row.account_id) == 16
    # The login response carries the account id the statement binds; the fingerprint is of it and the keys.
    request = await pending_request(app[STORAGE], app[CONFIG], app[LOG])
    [item] = request["requests"]
    assert request["deployment_id"] == app[CONFIG].deployment_id
    assert item["kind"] == "key" and item["name"] == "Sanne" and item["role"] == "volunteer"
    assert crypto.b64decode(item["account_id"]) == row.account_id
    assert item["fingerprint"] == crypto.fingerprint(row.account_id, identity.x25519_public, identity.ed25519_public)

    ws = await client.ws_connect("/ws/volunteer", headers=origin(client))
    volunteer = Volunteer(ws, identity)
    assert (await frame_of(volunteer, "keys"))["status"] == "pending"
    await volunteer.available(True)
    # Connected but not available: no help-seeker can open a chat, and a pickup is refused with the reason.
    status = await (await client.get("/api/chat/status")).json()
    assert status["available"] is False
    async with aiohttp.ClientSession(base_url=str(client.make_url(""))) as http:
        seeker_ws = await http.ws_connect("/ws/chat", headers=origin(client))
        refused = await Seeker(seeker_ws).open(http)
        assert refused["t"] == "error" and refused["code"] == "no-volunteers"
        await seeker_ws.close()
        await ws.send_json({"t": "pickup"})
        error = await frame_of(volunteer, "error")
        assert error["code"] == "keys-pending" and "ondertekend" in error["message"]["nl"]

        lines = await sign_and_import(client)
        assert any("Sanne" in line for line in lines)
        # Without reconnecting: the page hears that the key is ready, and the volunteer is available.
        assert (await frame_of(volunteer, "keys"))["status"] == "ready"
        assert app[LOG].status_for(row.account_id) == "ready"
        assert (await app[STORAGE].volunteer_by_name("Sanne")).key_ready
        seeker = Seeker(await http.ws_connect("/ws/chat", headers=origin(client)))
        for _ in range(100):
            if (await (await client.get("/api/chat/status")).json())["available"]:
                break
            await asyncio.sleep(0.05)
        assert (await seeker.open(http))["t"] == "queued"
        chat_id = await volunteer.pick_up()
        await seeker.connected()
        await seeker.say("hallo")
        assert await volunteer.hear() == (chat_id, "hallo")
        await volunteer.say(chat_id, "Fijn dat je er bent.")
        assert await seeker.hear() == "Fijn dat je er bent."
        await seeker.ws.close()
    await ws.close()
    # Nothing more is pending for this account.
    assert (await pending_request(app[STORAGE], app[CONFIG], app[LOG]))["requests"] == []


async def test_import_refuses_and_appends_nothing(client: Any) -> None:
    app = client.server.app
    storage, config = app[STORAGE], app[CONFIG]
    await logged_in_volunteer(client, "Sanne")
    request = await pending_request(storage, config, app[LOG])
    size = await storage.log_size()

    async def refused(signed: dict[str, Any], why: str) -> None:
        with pytest.raises(KeysError, match=why):
            await import_signed(storage, config, signed, now=NOW)
        assert await storage.log_size() == size

    # Another root key: the signature does not verify under root_public_key.
    await refused(build_statements(request, crypto.RootKey.generate(), now=NOW, days=30), "root signature")
    # Another deployment.
    other = {**request, "deployment_id": "een-andere-hulplijn"}
    await refused(build_statements(other, robot_root(), now=NOW, days=30), "deployment")
    # Keys that are not the account's (a server that swapped them in the request).
    swapped = crypto.new_identity()
    item = {**request["requests"][0], "x25519_public": crypto.b64encode(swapped.x25519_public),
            "ed25519_public": crypto.b64encode(swapped.ed25519_public)}
    item["fingerprint"] = crypto.fingerprint(crypto.b64decode(item["account_id"]), swapped.x25519_public,
                                             swapped.ed25519_public)
    await refused(build_statements({**request, "requests": [item]}, robot_root(), now=NOW, days=30), "keys differ")
    # A bad file: not version 1; a signature of the wrong size.
    await refused({"v": 2, "statements": []}, "version 1")
    good = build_statements(request, robot_root(), now=NOW, days=30)
    broken = {"v": 1, "statements": [{**good["statements"][0], "signature": crypto.b64encode(b"x" * 63)}]}
    await refused(broken, "signature")
    # The good one is imported once; the same file again is refused, nothing appended.
    await import_signed(storage, config, good, now=NOW)
    size = await storage.log_size()
    await refused(good, "already logged")
    # A key statement for a deactivated account is refused.
    await logged_in_volunteer(client, "Bram")
    bram = await pending_request(storage, config, app[LOG])
    assert [r["name"] for r in bram["requests"]] == ["Bram"]
    assert await storage.set_active("Bram", False)
    await refused(build_statements(bram, robot_root(), now=NOW, days=30), "deactivated")


async def test_a_request_whose_fingerprint_does_not_match_its_keys_is_not_signed(client: Any) -> None:
    app = client.server.app
    await logged_in_volunteer(client, "Sanne")
    request = await pending_request(app[STORAGE], app[CONFIG], app[LOG])
    request["requests"][0]["fingerprint"] = "00000 00000 00000 00000 00000 00000"
    with pytest.raises(KeysError, match="fingerprint"):
        build_statements(request, robot_root(), now=NOW, days=30)


async def test_deactivation_leaves_a_revocation_to_sign(client: Any) -> None:
    app = client.server.app
    storage, config, log = app[STORAGE], app[CONFIG], app[LOG]
    await logged_in_volunteer(client, "Sanne")
    await sign_and_import(client)
    row = await storage.volunteer_by_name("Sanne")
    await settled(log, row.account_id, "ready")
    assert await storage.set_active("Sanne", False)  # what `oor volunteer deactivate` does
    request = await pending_request(storage, config, log)
    [item] = request["requests"]
    assert item["kind"] == "revocation" and crypto.b64decode(item["account_id"]) == row.account_id
    await sign_and_import(client)
    await settled(log, row.account_id, "revoked")
    for _ in range(200):  # the revoked set of the latest usable checkpoint follows
        revoked = log.revoked()
        if row.account_id in [revoked[i:i + 16] for i in range(0, len(revoked), 16)]:
            break
        await asyncio.sleep(0.05)
    assert row.account_id in [revoked[i:i + 16] for i in range(0, len(revoked), 16)]
    # key_ready follows (the log's keeper may write its own view once more before it refreshed: wait for it)
    for _ in range(200):
        if not (await storage.volunteer_by_name("Sanne")).key_ready:
            break
        await asyncio.sleep(0.05)
    assert not (await storage.volunteer_by_name("Sanne")).key_ready
    assert (await pending_request(storage, config, log))["requests"] == []  # revoked for good: nothing more


def test_a_request_file_over_the_cap_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    big = tmp_path / "request.json"
    big.write_bytes(b"{" + b" " * MAX_FILE_BYTES + b"}")
    with pytest.raises(KeysError, match="larger than"):
        read_file(big, "request")


def oor(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, input=stdin, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})


def test_root_init_then_sign_with_a_wrong_passphrase_refuses(tmp_path: Path) -> None:
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    right.write_text("een lange en goede zin\n")
    wrong.write_text("een andere lange zin\n")
    key = tmp_path / "root.key"
    made = oor("root", "init", "--out", str(key), "--passphrase-file", str(right), "--insecure-kdf", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    public = made.stdout.split('root_public_key = "', 1)[1].split('"', 1)[0]
    assert crypto.b64decode(public) == crypto.root_key_file_public(key.read_text())
    assert key.stat().st_mode & 0o777 == 0o600
    again = oor("root", "init", "--out", str(key), "--passphrase-file", str(right), "--insecure-kdf", cwd=tmp_path)
    assert again.returncode == 1 and "never overwritten" in again.stderr
    identity, account = crypto.new_identity(), bytes(range(16))
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"v": 1, "deployment_id": "luisterend-oor-dev", "requests": [
        {"kind": "key", "account_id": crypto.b64encode(account), "name": "Sanne", "role": "volunteer",
         "x25519_public": crypto.b64encode(identity.x25519_public),
         "ed25519_public": crypto.b64encode(identity.ed25519_public),
         "fingerprint": crypto.fingerprint(account, identity.x25519_public, identity.ed25519_public)}]}))
    signed = tmp_path / "signed.json"
    bad = oor("root", "sign", str(request), "--out", str(signed), "--key", str(key), "--passphrase-file", str(wrong),
              "--yes", cwd=tmp_path)
    assert bad.returncode == 1 and "wrong passphrase" in bad.stderr and not signed.exists()
    other = oor("root", "sign", str(request), "--out", str(signed), "--key", str(key), "--passphrase-file",
                str(right), "--yes", "--deployment", "een-andere-hulplijn", cwd=tmp_path)
    assert other.returncode == 1 and "deployment" in other.stderr and not signed.exists()
    # Asked, and not confirmed: nothing signed.
    no = oor("root", "sign", str(request), "--out", str(signed), "--key", str(key), "--passphrase-file", str(right),
             cwd=tmp_path, stdin="n\n")
    assert no.returncode == 1 and "Sanne (volunteer)" in no.stdout and not signed.exists()
    assert crypto.fingerprint(account, identity.x25519_public, identity.ed25519_public) in no.stdout
    roster = tmp_path / "roster.json"
    yes = oor("root", "sign", str(request), "--out", str(signed), "--key", str(key), "--passphrase-file", str(right),
              "--roster", str(roster), cwd=tmp_path, stdin="ja\n")
    assert yes.returncode == 0, yes.stderr
    [item] = json.loads(signed.read_text())["statements"]
    statement = crypto.verify_statement(crypto.b64decode(public), crypto.b64decode(item["statement"]),
                                        crypto.b64decode(item["signature"]))
    assert (statement.account_id, statement.name, statement.kind) == (account, "Sanne", crypto.KIND_KEY)
    assert statement.not_after - statement.not_before == 365 * 86400
    [row] = json.loads(roster.read_text())["accounts"]
    assert row["status"] == "key" and row["account_id"] == crypto.b64encode(account)
    # A second key for the same account (what a server swapping keys would ask for) is never signed once the
    # roster knows the account, whatever is confirmed; a name and role already in the roster is warned about.
    other_identity = crypto.new_identity()
    swapped, second = tmp_path / "swapped.json", tmp_path / "second.json"
    swapped.write_text(json.dumps({"v": 1, "deployment_id": "luisterend-oor-dev", "requests": [
        {"kind": "key", "account_id": crypto.b64encode(account), "name": "Sanne", "role": "volunteer",
         "x25519_public": crypto.b64encode(other_identity.x25519_public),
         "ed25519_public": crypto.b64encode(other_identity.ed25519_public),
         "fingerprint": crypto.fingerprint(account, other_identity.x25519_public, other_identity.ed25519_public)},
        {"kind": "key", "account_id": crypto.b64encode(bytes(16)), "name": "Sanne", "role": "volunteer",
         "x25519_public": crypto.b64encode(other_identity.x25519_public),
         "ed25519_public": crypto.b64encode(other_identity.ed25519_public),
         "fingerprint": crypto.fingerprint(bytes(16), other_identity.x25519_public,
                                           other_identity.ed25519_public)}]}))
    guarded = oor("root", "sign", str(swapped), "--out", str(second), "--key", str(key), "--passphrase-file",
                  str(right), "--roster", str(roster), "--yes", cwd=tmp_path)
    assert guarded.returncode == 0, guarded.stderr
    assert "REFUSED" in guarded.stdout and "WARNING" in guarded.stdout
    [only] = json.loads(second.read_text())["statements"]
    assert crypto.decode_statement(crypto.b64decode(only["statement"])).account_id == bytes(16)


async def test_the_demo_signs_its_demo_accounts_with_a_demo_root_key(tmp_path: Path) -> None:
    """`oor serve --demo` (make run): a demo root key in the data folder, and the demo volunteer ready once enrolled."""
    import os
    import re

    from tests.conftest import free_port
    from tests.helpers import PASSPHRASE, enrolment_body
    from tests.services.database import SQLiteFile
    port, smtp = free_port(), free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")}, **INSECURE_TEST_ENV,
           "OOR_PUBLIC_URL": f"http://127.0.0.1:{port}", "PYTHONUNBUFFERED": "1"}
    del env["OOR_ROOT_PUBLIC_KEY"], env["OOR_WITNESS_QUORUM"]  # the demo makes its own root and runs a witness
    data = tmp_path / "var"
    output = tmp_path / "demo.log"
    with output.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--demo", "--data", str(data),
                                 "--http", f"127.0.0.1:{port}", "--smtp", f"127.0.0.1:{smtp}"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "is running" not in output.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, output.read_text()
            await asyncio.sleep(0.1)
        text = output.read_text()
        assert "DEMO key" in text and (data / "demo-root.key").exists()
        token = re.search(r"#uitnodiging=(\S+)", text).group(1)  # the first link: the demo volunteer
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.post("/api/enrol", json=enrolment_body(token, PASSPHRASE))).status == 201
        store = SQLiteFile(data)
        for _ in range(300):
            if store.rows("SELECT key_ready FROM volunteers WHERE name = 'Demo'") == [(1,)]:
                break
            await asyncio.sleep(0.1)
        assert store.rows("SELECT key_ready FROM volunteers WHERE name = 'Demo'") == [(1,)]
        public = crypto.root_key_file_public((data / "demo-root.key").read_text())
        [entry] = [e for e in store.rows("SELECT data FROM log_entries ORDER BY idx")
                   if crypto.decode_entry(bytes(e[0])).type == 1]
        decoded = crypto.decode_entry(bytes(entry[0]))
        assert crypto.verify_statement(public, decoded.statement, decoded.signature).name == "Demo"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def test_in_a_cluster_the_leader_gates_a_volunteer_on_another_node(aiohttp_client: Any, insecure_kdf_config: Any,
                                                                         redis_url: str, tmp_path: Path) -> None:
    """Two nodes on one storage and one Redis, one log key: the volunteer's socket is on node B, the hub runs
    on the leader (node A) with A's own log; the gate holds there, and lifts when A's log sees the statement."""
    import dataclasses

    from server.app import create_app
    from server.chat.cluster import CLUSTER
    from tests.server.test_chat_cluster import until, volunteer_ws
    config = dataclasses.replace(insecure_kdf_config, hub_url=redis_url, log_key_file=str(tmp_path / "log.key"))
    a = await aiohttp_client(create_app(config))
    await until(lambda: a.server.app[CLUSTER].leader is not None and a.server.app[CLUSTER].leader.ready)
    b = await aiohttp_client(create_app(config))
    identity = await logged_in_volunteer(a, "Sanne")
    volunteer = Volunteer(await volunteer_ws(a, b), identity)  # the volunteer on node B
    assert (await frame_of(volunteer, "keys"))["status"] == "pending"
    await volunteer.available(True)
    async with aiohttp.ClientSession(base_url=str(b.make_url(""))) as http:
        await ws_pickup_refused(volunteer)
        assert (await (await http.get("/api/chat/status")).json())["available"] is False
        # Signed and imported (through node B's storage and log: any node, or the CLI, may import).
        storage, log_b = b.server.app[STORAGE], b.server.app[LOG]
        now = int(time.time())  # these apps run on the wall clock
        signed = build_statements(await pending_request(storage, config, log_b), robot_root(), now=now, days=30)
        await import_signed(storage, config, signed, now=now)
        # The leader's own log notices by itself (log_refresh_seconds) and the page hears it through node B.
        assert (await frame_of(volunteer, "keys"))["status"] == "ready"
        deadline = asyncio.get_running_loop().time() + 10
        while not (await (await http.get("/api/chat/status")).json())["available"]:
            assert asyncio.get_running_loop().time() < deadline, "the cluster's status never said available"
            await asyncio.sleep(0.1)
        seeker = Seeker(await http.ws_connect("/ws/chat", headers=origin(b)))
        assert (await seeker.open(http))["t"] == "queued"
        chat_id = await volunteer.pick_up()
        await seeker.connected()
        await seeker.say("hallo")
        assert await volunteer.hear() == (chat_id, "hallo")
        await seeker.ws.close()
    await volunteer.ws.close()


async def ws_pickup_refused(volunteer: Volunteer) -> None:
    await volunteer.ws.send_json({"t": "pickup"})
    assert (await frame_of(volunteer, "error"))["code"] == "keys-pending"
