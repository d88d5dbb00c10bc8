"""The transparency log on the server (server/transparency/log.py, routes.py; PROTOCOL.md 14), both backends.

A client that knows only the trust configuration fetches /log/checkpoint, every entry bundle and
hash tile, recomputes the root and finds it equal to the checkpoint's; key proofs from `proof_for`
verify with `crypto.verify_key_proof` (and stop when the account is revoked); `key_ready` follows
the usable checkpoint; two processes appending at once give contiguous entries and a checkpoint of
exactly what is stored.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import pytest

import crypto
from server.app import create_app
from server.keys import STORAGE
from server.storage import NewVolunteer, Storage, open_storage
from server.transparency.log import (LOG, LogError, STATUS_PENDING, STATUS_READY, STATUS_REVOKED,
                                     append_and_checkpoint, read_log_key, trust_config)
from server.transparency.routes import parse_tile_path
from tests.conftest import INSECURE_TEST_ENV, REPO
from tests.helpers import Clock
from tests.services.database import Database
from tests.transparency import TEST_ROOT_SEED

pytestmark = pytest.mark.no_signing_robot

NOW = 1_800_000_000
DAY = "2027-01-15"


async def enrol(storage: Storage, name: str, role: str = "volunteer") -> Any:
    token = name.encode().ljust(32, b".")
    await storage.create_invitation(token, name, role, True, True, 10**10)
    identity = crypto.new_identity()
    x, e = identity.x25519_public, identity.ed25519_public
    vid = await storage.enrol(token, 0, NewVolunteer(
        name=name, role=role, can_chat=True, can_mail=True, enrolled_day=DAY, kdf_salt=b"s" * 16, kdf_opslimit=1,
        kdf_memlimit=8192, auth_hash="h", x25519_public=x, ed25519_public=e, wrapped_identity=b"w",
        x25519_certificate=b"c" * 64))
    return await storage.volunteer_by_id(vid)


def statement_entry(config: Any, v: Any, *, kind: int = crypto.KIND_KEY, now: int = NOW,
                    days: int = 365, deployment: str | None = None) -> bytes:
    s = crypto.Statement(kind=kind, deployment_id=deployment or config.deployment_id, account_id=v.account_id,
                         role=v.role, name=v.name, x25519_public=v.x25519_public, ed25519_public=v.ed25519_public,
                         not_before=now - 60 if kind == crypto.KIND_KEY else now,
                         not_after=now + days * 86400 if kind == crypto.KIND_KEY else now)
    return crypto.statement_entry(*crypto.sign_statement(crypto.RootKey.from_seed(TEST_ROOT_SEED), s))


@pytest.fixture
async def served(aiohttp_client: Any, insecure_kdf_config: Any) -> Any:
    clock = Clock(NOW)
    client = await aiohttp_client(create_app(insecure_kdf_config, clock=clock))
    client.clock = clock
    client.config = insecure_kdf_config
    return client


async def fetch_and_recompute(client: Any, trust: dict, now: int) -> tuple[crypto.Checkpoint, list[bytes]]:
    """What an outside monitor does: verify the checkpoint, fetch every bundle and tile it covers,
    check each bundle against its level-0 tile and recompute the root from the leaves."""
    response = await client.get("/log/checkpoint")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Cache-Control"] == "public, max-age=5"
    note = await response.text()
    cp = crypto.verify_checkpoint(note, origin=trust["log"]["origin"],
                                  log_public=crypto.b64decode(trust["log"]["public_key"]),
                                  witnesses=[], quorum=0, max_age=86400, now=now)
    entries: list[bytes] = []
    leaves: list[bytes] = []
    full, rest = divmod(cp.size, 256)
    for n in range(full + (1 if rest else 0)):
        suffix = f"{n:03d}" + ("" if n < full else f".p/{rest}")
        bundle = await client.get(f"/log/tile/entries/{suffix}")
        tile = await client.get(f"/log/tile/0/{suffix}")
        assert bundle.status == tile.status == 200
        assert bundle.headers["Cache-Control"] == tile.headers["Cache-Control"] == (
            "public, max-age=31536000, immutable" if n < full else "public, max-age=5")
        got = crypto.parse_entry_bundle(await bundle.read())
        hashes = await tile.read()
        assert [crypto.leaf_hash(e) for e in got] == [hashes[i:i + 32] for i in range(0, len(hashes), 32)]
        entries += got
        leaves += [crypto.leaf_hash(e) for e in got]
    assert crypto.root_from_leaf_hashes(leaves) == cp.root
    return cp, entries


async def test_a_monitor_recomputes_the_checkpoint_root_from_the_served_tiles(served: Any) -> None:
    config, app = served.config, served.server.app
    storage = app[STORAGE]
    trust = trust_config(config)
    assert trust["log"]["origin"] == "localhost/log" and trust["quorum"] == 0
    assert (await served.get("/log/checkpoint")).status in (200, 404)  # the keeper may have signed size 0
    entries = [crypto.release_entry(config.deployment_id, bytes([n % 256, n // 256]) * 3) for n in range(300)]
    await append_and_checkpoint(storage, config, entries, now=NOW)
    # Appended after the checkpoint: not served until a checkpoint covers it.
    await storage.log_append([crypto.release_entry(config.deployment_id, b"later")])
    await app[LOG].refresh()
    cp, got = await fetch_and_recompute(served, trust, NOW)
    assert cp.size == 300 and got == entries
    # The level-1 tile is the root of the full level-0 tile; a tree of 300 has only a partial one.
    level1 = await served.get("/log/tile/1/000.p/1")
    tile0 = await (await served.get("/log/tile/0/000")).read()
    assert await level1.read() == crypto.root_from_leaf_hashes([tile0[i:i + 32] for i in range(0, 8192, 32)])
    for missing in ("/log/tile/0/001", "/log/tile/0/001.p/45", "/log/tile/entries/001.p/45", "/log/tile/1/000",
                    "/log/tile/0/01", "/log/tile/00/000", "/log/tile/0/x000/001", "/log/tile/64/000",
                    "/log/tile/0/000.p/0", "/log/tile/0/000.p/256", "/log/tile/0/000.p/044", "/log/tile/entries/abc",
                    "/log/manifest/" + "00" * 32 + ".json"):
        assert (await served.get(missing)).status == 404, missing
    assert (await served.post("/log/checkpoint")).status == 405
    # The keeper signs what was appended since, on its own.
    for _ in range(100):
        await asyncio.sleep(0.1)
        if (await storage.latest_checkpoint() or (0, ""))[0] == 301:
            break
    await app[LOG].refresh()
    cp, got = await fetch_and_recompute(served, trust, NOW)
    assert cp.size == 301 and got[-1] == crypto.release_entry(config.deployment_id, b"later")


def test_tile_paths_are_parsed_strictly() -> None:
    assert parse_tile_path("0/000") == ("hash", 0, 0, None)
    assert parse_tile_path("2/x001/x234/067.p/8") == ("hash", 2, 1234067, 8)
    assert parse_tile_path("entries/x001/234") == ("entries", 0, 1234, None)
    for bad in ("0/1", "0/0000", "01/000", "0/x000/001", "0/001/x002", "0/000.p/", "0/000.p/00", "-1/000",
                "0/000.p/1/2", "entries", "0", "0/" + "x999/" * 7 + "000"):
        assert parse_tile_path(bad) is None, bad


async def test_proofs_verify_for_a_logged_key_and_stop_with_its_revocation(served: Any) -> None:
    config, app = served.config, served.server.app
    storage, log = app[STORAGE], app[LOG]
    sanne, bram = await enrol(storage, "Sanne"), await enrol(storage, "Bram", "mentor")
    await log.refresh()
    assert log.status_for(sanne.account_id) == STATUS_PENDING and log.proof_for(sanne.account_id) is None
    changes: list[int] = []
    log.on_change(lambda: changes.append(log.size))
    await append_and_checkpoint(storage, config, [statement_entry(config, sanne), statement_entry(config, bram)],
                                now=NOW)
    # append_and_checkpoint set key_ready itself (no server needed)...
    assert (await storage.volunteer_by_id(sanne.id)).key_ready
    # ...and the server's log sees the checkpoint at its next refresh.
    await log.refresh()
    assert changes and log.status_for(sanne.account_id) == STATUS_READY
    trust = trust_config(config)
    proof = log.proof_for(sanne.account_id)
    assert proof is not None and len(json.dumps(proof)) < 16384
    statement = crypto.verify_key_proof(trust, proof, ed25519_public=sanne.ed25519_public,
                                        x25519_public=sanne.x25519_public, roles=["volunteer"], now=NOW)
    assert statement.account_id == sanne.account_id and statement.name == "Sanne"
    mentor = crypto.verify_key_proof(trust, log.proof_for(bram.account_id), ed25519_public=bram.ed25519_public,
                                     roles=["mentor"], now=NOW)
    assert mentor.role == "mentor"
    with pytest.raises(crypto.ProofError):  # Bram's proof is not Sanne's key
        crypto.verify_key_proof(trust, log.proof_for(bram.account_id), ed25519_public=sanne.ed25519_public, now=NOW)
    assert [s.name for _, s in log.statements()] == ["Sanne", "Bram"]

    # A revocation: no proof, not ready, and the revoked set of the next checkpoint names the account.
    await append_and_checkpoint(storage, config, [statement_entry(config, sanne, kind=crypto.KIND_REVOCATION)],
                                now=NOW + 10)
    served.clock.now = NOW + 10
    await log.refresh()
    assert log.status_for(sanne.account_id) == STATUS_REVOKED and log.proof_for(sanne.account_id) is None
    assert not (await storage.volunteer_by_id(sanne.id)).key_ready
    assert (await storage.volunteer_by_id(bram.id)).key_ready
    revoked = await served.get("/log/revoked")
    assert await revoked.read() == sanne.account_id
    # The old proof (checkpoint before the revocation) still verifies on its own: the page's freshness
    # rules (max_age) bound how long; the server no longer hands it out.
    new = log.proof_for(bram.account_id)
    assert crypto.b64decode(new["revoked"]) == sanne.account_id
    crypto.verify_key_proof(trust, new, ed25519_public=bram.ed25519_public, now=NOW + 10)


async def test_a_statement_for_another_deployment_or_expired_is_never_ready(served: Any) -> None:
    config, app = served.config, served.server.app
    storage, log = app[STORAGE], app[LOG]
    other, short = await enrol(storage, "Other"), await enrol(storage, "Kort")
    await append_and_checkpoint(storage, config, [statement_entry(config, other, deployment="elders"),
                                                  statement_entry(config, short, days=1)], now=NOW)
    await log.refresh()
    assert log.status_for(other.account_id) == STATUS_PENDING and log.proof_for(other.account_id) is None
    assert log.status_for(short.account_id) == STATUS_READY
    served.clock.now = NOW + 2 * 86400
    await log.refresh()
    await log.keep()
    assert log.status_for(short.account_id) == "expired" and log.proof_for(short.account_id) is None
    assert not (await storage.volunteer_by_id(short.id)).key_ready


async def test_the_log_refuses_to_sign_a_history_that_differs_from_its_checkpoint(
        insecure_kdf_config: Any, database: Database) -> None:
    store = open_storage(insecure_kdf_config)
    await store.open()
    try:
        await append_and_checkpoint(store, insecure_kdf_config, [b"\x02\x01x" + b"a" * 32], now=NOW)
        # Someone with the database's password forges the stored checkpoint's root.
        size, note = await store.latest_checkpoint()  # type: ignore[misc]
        key = read_log_key(insecure_kdf_config)
        forged = crypto.format_checkpoint(crypto.Checkpoint(key.name, size, b"\0" * 32, 0, crypto.revoked_digest([])))
        await store.save_checkpoint(size, key.sign_note(forged), NOW)
        with pytest.raises(LogError, match="inconsistent history"):
            await append_and_checkpoint(store, insecure_kdf_config, [], now=NOW)
    finally:
        await store.close()


WORKER = """
import asyncio, json, sys
from server.config import load_config
from server.storage import open_storage
from server.transparency.log import append_and_checkpoint
import crypto

async def main(tag, rounds):
    config = load_config()
    store = open_storage(config)
    await store.open()
    try:
        for n in range(rounds):
            entries = [crypto.release_entry("x", bytes([tag, n, k]) * 11) for k in range(3)]
            await append_and_checkpoint(store, config, entries, now=1_800_000_000)
    finally:
        await store.close()

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


async def test_two_processes_appending_at_once_give_contiguous_entries(insecure_kdf_config: Any,
                                                                       database: Database) -> None:
    env = {**os.environ, **INSECURE_TEST_ENV, "OOR_DATA_DIR": str(insecure_kdf_config.data_dir),
           "OOR_DATABASE_URL": database.url, "PYTHONPATH": str(REPO)}
    # The key file is made before the workers start, so both sign with it.
    trust = trust_config(insecure_kdf_config)
    rounds = 15
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(tag), str(rounds)], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for tag in (1, 2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    store = open_storage(insecure_kdf_config)
    await store.open()
    try:
        size = await store.log_size()
        entries = await store.log_entries(0, size)
        size_cp, note = await store.latest_checkpoint()  # type: ignore[misc]
    finally:
        await store.close()
    assert size == 2 * rounds * 3 == len(entries)
    # Each append stays in one piece (k = 0, 1, 2 in order), every (tag, round) once.
    made = {crypto.release_entry("x", bytes([t, n, k]) * 11): (t, n, k)
            for t in (1, 2) for n in range(rounds) for k in range(3)}
    order = [made[e] for e in entries]
    assert sorted(order) == sorted(made.values())
    for i in range(0, size, 3):
        t, n, _ = order[i]
        assert order[i:i + 3] == [(t, n, 0), (t, n, 1), (t, n, 2)]
    cp = crypto.verify_checkpoint(note, origin=trust["log"]["origin"],
                                  log_public=crypto.b64decode(trust["log"]["public_key"]), witnesses=[],
                                  quorum=0, max_age=86400, now=NOW)
    assert cp.size == size_cp == size and cp.root == crypto.MerkleTree(entries).root()
