"""`oor witness` (server/transparency/witness.py), run as the real process, against the real log code.

A log that rewrites history (a checkpoint inconsistent with the one the witness cosigned) is refused,
and a key proof from it then fails `crypto.verify_key_proof` with quorum 1 for lack of cosignatures;
a consistent one is cosigned, and the proof verifies. The state survives a restart. The C2SP
tlog-witness answers (404, 403, 400, 409 with the size, 422, 413) are checked one by one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from server.config import load_config
from server.storage import NewVolunteer, Storage, open_storage
from server.transparency.log import (LOG_KEY_HEADER, STATUS_NO_WITNESS, STATUS_READY, TransparencyLog,
                                     append_and_checkpoint, create_log_key, trust_config)
from server.transparency.witness import read_state
from tests.conftest import INSECURE_TEST_ENV, REPO, free_port
from tests.services.database import Database
from tests.transparency import TEST_ROOT_SEED

DAY = "2026-12-01"


class WitnessProcess:
    def __init__(self, tmp: Path, logs: list[str]) -> None:
        self.key, self.state = tmp / "witness.key", tmp / "witness.state.json"
        if not self.key.exists():
            done = subprocess.run([sys.executable, "-m", "server.cli", "witness", "init", "--key", str(self.key),
                                   "--name", "witness.test/w1"], cwd=REPO, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            self.vkey = done.stdout.strip()
            assert (self.key.stat().st_mode & 0o777) == 0o600
        self.logs = logs
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "WitnessProcess":
        args = [sys.executable, "-m", "server.cli", "witness", "serve", "--key", str(self.key), "--state",
                str(self.state), "--listen", f"127.0.0.1:{self.port}"]
        for entry in self.logs:
            args += ["--log", entry]
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stdout.read() if self.proc.stdout else ""
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            time.sleep(0.05)
        raise AssertionError("the witness did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


def log_config(data: Path, database: Database | None, witness: WitnessProcess | None, quorum: int,
               key_file: Path | None = None) -> Any:
    env = {**INSECURE_TEST_ENV, "OOR_WITNESS_QUORUM": str(quorum)}
    if witness is not None:
        env["OOR_LOG_WITNESSES"] = f"{witness.vkey} {witness.url}"
    overrides = {"data_dir": str(data), "database_url": database.url if database else ""}
    if key_file is not None:
        overrides["log_key_file"] = str(key_file)
    return load_config(env=env, overrides=overrides)


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[WitnessProcess]:
    """A witness process for the log whose key is tmp_path/var/log.key (made here)."""
    config = log_config(tmp_path / "var", None, None, 0)
    key, _ = create_log_key(config)
    w = WitnessProcess(tmp_path, [f"{key.name}={key.vkey()}"])
    # (the vkey comes from `oor witness init`)
    w.start()
    yield w
    w.stop()


async def enrol(storage: Storage, name: str) -> Any:
    token = name.encode().ljust(32, b".")
    await storage.create_invitation(token, name, "volunteer", True, True, 10**10)
    identity = crypto.new_identity()
    vid = await storage.enrol(token, 0, NewVolunteer(
        name=name, role="volunteer", can_chat=True, can_mail=True, enrolled_day=DAY, kdf_salt=b"s" * 16,
        kdf_opslimit=1, kdf_memlimit=8192, auth_hash="h", x25519_public=identity.x25519_public,
        ed25519_public=identity.ed25519_public, wrapped_identity=b"w", x25519_certificate=b"c" * 64))
    return await storage.volunteer_by_id(vid)


def signed(config: Any, v: Any, now: int) -> bytes:
    s = crypto.Statement(kind=crypto.KIND_KEY, deployment_id=config.deployment_id, account_id=v.account_id,
                         role=v.role, name=v.name, x25519_public=v.x25519_public, ed25519_public=v.ed25519_public,
                         not_before=now - 60, not_after=now + 86400)
    return crypto.statement_entry(*crypto.sign_statement(crypto.RootKey.from_seed(TEST_ROOT_SEED), s))


def cosigners(note: str, witness: WitnessProcess) -> int:
    name = witness.vkey.split("+")[0]
    return sum(1 for n, _, _ in crypto.parse_note(note)[1] if n == name)


async def proof_of(storage: Storage, config: Any, account_id: bytes) -> tuple[str, dict | None]:
    log = TransparencyLog(storage, config, keeper=False)
    await log.refresh()
    return log.status_for(account_id), log.proof_for(account_id)


async def test_a_consistent_log_is_cosigned_and_a_rewritten_one_is_refused(
        tmp_path: Path, witness: WitnessProcess, database: Database) -> None:
    config = log_config(tmp_path / "var", database, witness, 1)
    store = open_storage(config)
    await store.open()
    try:
        sanne = await enrol(store, "Sanne")
        now = int(time.time())
        note = await append_and_checkpoint(store, config, [signed(config, sanne, now)], now=now)
        assert cosigners(note, witness) == 1
        status, proof = await proof_of(store, config, sanne.account_id)
        assert status == STATUS_READY and proof is not None
        crypto.verify_key_proof(trust_config(config), proof, ed25519_public=sanne.ed25519_public, now=now)
        assert (await store.volunteer_by_id(sanne.id)).key_ready  # type: ignore[union-attr]
        # The log grows: the witness gets the consistency proof from the size it cosigned (1 -> 3).
        bram, cor = await enrol(store, "Bram"), await enrol(store, "Cor")
        note = await append_and_checkpoint(store, config, [signed(config, bram, now), signed(config, cor, now)],
                                           now=now)
        assert cosigners(note, witness) == 1
        assert next(iter(read_state(witness.state).values()))["size"] == 3
        status, proof = await proof_of(store, config, cor.account_id)
        assert status == STATUS_READY
        crypto.verify_key_proof(trust_config(config), proof, ed25519_public=cor.ed25519_public, now=now)
    finally:
        await store.close()

    # Another history under the same log key: a server whose database was swapped (a rogue key in
    # place of Sanne's), grown past the size the witness cosigned. The witness refuses it.
    rogue_config = log_config(tmp_path / "rogue", None, witness, 1, key_file=tmp_path / "var" / "log.key")
    rogue = open_storage(rogue_config)
    await rogue.open()
    try:
        mallory = await enrol(rogue, "Sanne")
        now = int(time.time())
        note = await append_and_checkpoint(rogue, rogue_config, [signed(rogue_config, mallory, now)] +
                                           [crypto.release_entry("x", bytes([n])) for n in range(4)], now=now)
        assert cosigners(note, witness) == 0
        status, proof = await proof_of(rogue, rogue_config, mallory.account_id)
        assert status == STATUS_NO_WITNESS and proof is None
        # The proof such a server would build (it can, with the log key) fails the page's check.
        without_quorum = log_config(tmp_path / "rogue", None, witness, 0, key_file=tmp_path / "var" / "log.key")
        _, forged = await proof_of(rogue, without_quorum, mallory.account_id)
        assert forged is not None
        with pytest.raises(crypto.ProofError) as refused:
            crypto.verify_key_proof(trust_config(config), forged, ed25519_public=mallory.ed25519_public, now=now)
        assert refused.value.reason == "cosignatures"
        # The witness's state is the honest log's, on disk, and a restart keeps it: still refused.
        witness.stop()
        witness.start()
        note = await append_and_checkpoint(rogue, rogue_config, [], now=now)
        assert cosigners(note, witness) == 0
        assert next(iter(read_state(witness.state).values()))["size"] == 3
    finally:
        await rogue.close()

    # The honest log, extended, is still cosigned after the restart.
    store = open_storage(config)
    await store.open()
    try:
        note = await append_and_checkpoint(store, config, [crypto.release_entry("x", b"r")], now=int(time.time()))
        assert cosigners(note, witness) == 1
    finally:
        await store.close()


def _tree_note(key: crypto.NoteKey, entries: list[bytes]) -> tuple[crypto.MerkleTree, str]:
    tree = crypto.MerkleTree(entries)
    text = crypto.format_checkpoint(crypto.Checkpoint(key.name, tree.size, tree.root(), 0, crypto.revoked_digest([])))
    return tree, key.sign_note(text)


def _body(old: int, proof: list[bytes], note: str) -> bytes:
    return (f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + note).encode()


async def test_the_witness_answers_as_tlog_witness_says(tmp_path: Path, witness: WitnessProcess) -> None:
    config = log_config(tmp_path / "var", None, None, 0)
    from server.transparency.log import read_log_key
    key = read_log_key(config)
    entries = [bytes([n]) * 10 for n in range(7)]
    tree, note5 = _tree_note(key, entries[:5])
    _, note7 = _tree_note(key, entries)
    url = f"{witness.url}/add-checkpoint"
    async with aiohttp.ClientSession() as http:
        async def post(body: bytes) -> tuple[int, str, str]:
            async with http.post(url, data=body) as r:
                return r.status, await r.text(), r.headers.get("Content-Type", "")

        # Unknown origin: 404. Another key for the known origin: 403 (its signature is ignored, none is left).
        other = crypto.NoteKey.generate("elsewhere/log")
        assert (await post(_body(0, [], _tree_note(other, entries[:5])[1])))[0] == 404
        impostor = crypto.NoteKey.generate(key.name)
        assert (await post(_body(0, [], _tree_note(impostor, entries[:5])[1])))[0] == 403
        # A tampered note of the real key: 403.
        lines = note5.split("\n")
        lines[1] = "6"
        assert (await post(_body(0, [], "\n".join(lines))))[0] == 403
        # Malformed: 400; old above the size: 400; a proof from 0: 422.
        assert (await post(b"new 0\n\n" + note5.encode()))[0] == 400
        assert (await post(b"old 01\n\n" + note5.encode()))[0] == 400
        assert (await post(_body(6, [], note5)))[0] == 400
        assert (await post(_body(0, [b"\0" * 32], note5)))[0] == 422
        assert (await post(b"x" * 40_000))[0] == 413
        # The first checkpoint: cosigned, a cosignature/v1 line that verifies.
        status, text, _ = await post(_body(0, [], note5))
        assert status == 200 and text.startswith("\u2014 witness.test/w1 ")
        name, _, public = crypto.parse_vkey(witness.vkey)
        crypto.verify_checkpoint(note5 + text, origin=key.name, log_public=key.public, witnesses=[(name, public)],
                                 quorum=1, max_age=60, now=int(time.time()))
        # A stale old size: 409 with the size it cosigned.
        status, text, ctype = await post(_body(0, [], note7))
        assert (status, text) == (409, "5\n") and ctype.startswith("text/x.tlog.size")
        # A bad consistency proof: 422; the right one: 200.
        good = crypto.MerkleTree(entries).consistency_proof(5, 7)
        assert (await post(_body(5, [b"\1" * 32] * len(good), note7)))[0] == 422
        assert (await post(_body(5, good, note7)))[0] == 200
        # The same size again with another root: 422; with the same root: a fresh cosignature.
        _, forked = _tree_note(key, entries[:6] + [b"forked"])
        assert (await post(_body(7, [], forked)))[0] == 422
        assert (await post(_body(7, [], note7)))[0] == 200
        # The monitoring API serves the latest cosigned checkpoint.
        import hashlib
        async with http.get(f"{witness.url}/{hashlib.sha256(key.name.encode()).hexdigest()}/checkpoint") as r:
            assert r.status == 200 and (await r.text()).startswith(note7)
    state = read_state(witness.state)
    assert state[key.name]["size"] == 7 and crypto.b64decode(state[key.name]["root"]) == crypto.MerkleTree(entries).root()
    assert not (witness.state.with_name(witness.state.name + ".tmp")).exists()
    assert LOG_KEY_HEADER in (tmp_path / "var" / "log.key").read_text()
    assert os.stat(tmp_path / "var" / "log.key").st_mode & 0o777 == 0o600


@pytest.mark.no_signing_robot
async def test_the_keeper_checkpoints_new_entries_and_refreshes_the_cosignatures(
        tmp_path: Path, witness: WitnessProcess, database: Database, aiohttp_client: Any) -> None:
    from server.app import create_app
    from server.keys import STORAGE
    from server.transparency.log import LOG
    config = log_config(tmp_path / "var", database, witness, 1)
    import dataclasses
    config = dataclasses.replace(config, witness_refresh_seconds=1)
    client = await aiohttp_client(create_app(config))
    app = client.server.app
    storage, log = app[STORAGE], app[LOG]
    sanne = await enrol(storage, "Sanne")
    # Only appended (as a second process would): the keeper of the running server signs it and asks
    # the witness; the account becomes ready and key_ready.
    await storage.log_append([signed(config, sanne, int(time.time()))])
    deadline = time.monotonic() + 60
    while log.status_for(sanne.account_id) != STATUS_READY:
        assert time.monotonic() < deadline, log.status_for(sanne.account_id)
        await asyncio.sleep(0.1)
    assert (await storage.volunteer_by_id(sanne.id)).key_ready  # type: ignore[union-attr]
    crypto.verify_key_proof(trust_config(config), log.proof_for(sanne.account_id),
                            ed25519_public=sanne.ed25519_public, now=int(time.time()))
    served = await (await client.get("/log/checkpoint")).text()
    first = _stamp(served, witness)
    # witness_refresh_seconds later (and the keeper's retry pause), a fresher cosignature of the same size.
    while _stamp(await (await client.get("/log/checkpoint")).text(), witness) <= first:
        assert time.monotonic() < deadline + 30, "no fresh cosignature"
        await asyncio.sleep(0.2)
    note = await (await client.get("/log/checkpoint")).text()
    assert crypto.parse_checkpoint(crypto.parse_note(note)[0]).size == 1 and cosigners(note, witness) == 1


def _stamp(note: str, witness: WitnessProcess) -> int:
    name = witness.vkey.split("+")[0]
    return max(int.from_bytes(sig[:8], "big") for n, _, sig in crypto.parse_note(note)[1] if n == name)


async def test_while_the_witness_is_down_the_last_cosigned_checkpoint_still_serves(
        tmp_path: Path, witness: WitnessProcess, database: Database) -> None:
    config = log_config(tmp_path / "var", database, witness, 1)
    store = open_storage(config)
    await store.open()
    try:
        sanne = await enrol(store, "Sanne")
        now = int(time.time())
        await append_and_checkpoint(store, config, [signed(config, sanne, now)], now=now)
        log = TransparencyLog(store, config, keeper=False)
        await log.refresh()
        assert log.status_for(sanne.account_id) == STATUS_READY
        witness.stop()
        # The same size signed again: the witness does not answer, its earlier (fresh) cosignature stays.
        note = await append_and_checkpoint(store, config, [], now=now + 1)
        assert cosigners(note, witness) == 1
        # A new entry: its checkpoint has no cosignature. The server keeps proving Sanne's key against the
        # last usable checkpoint; Bram waits for a witness.
        bram = await enrol(store, "Bram")
        note = await append_and_checkpoint(store, config, [signed(config, bram, now)], now=now + 2)
        assert cosigners(note, witness) == 0
        await log.refresh()
        assert log.status_for(sanne.account_id) == STATUS_READY
        assert log.status_for(bram.account_id) == STATUS_NO_WITNESS and log.proof_for(bram.account_id) is None
        proof = log.proof_for(sanne.account_id)
        assert crypto.parse_checkpoint(crypto.parse_note(proof["checkpoint"])[0]).size == 1
        crypto.verify_key_proof(trust_config(config), proof, ed25519_public=sanne.ed25519_public, now=now + 2)
        assert not (await store.volunteer_by_id(bram.id)).key_ready  # type: ignore[union-attr]
        # The witness is back: the next checkpoint is cosigned (from the size it saw, 1) and Bram is ready.
        witness.start()
        await append_and_checkpoint(store, config, [], now=int(time.time()))
        await log.refresh()
        assert log.status_for(bram.account_id) == STATUS_READY
        assert (await store.volunteer_by_id(bram.id)).key_ready  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_one_text_per_size_and_a_revoked_set_that_never_shrinks(tmp_path: Path) -> None:
    """The witness vouches for one checkpoint text per tree size, so that the log cannot show chosen
    visitors the same tree with a revoked-set line that leaves a revocation out, and it refuses a
    revoked count that goes down (a revocation is for good). Driven on the witness itself with a real
    log key and real trees."""
    from server.transparency.witness import Witness
    log_key = crypto.NoteKey.generate("witness.test/log")
    w = Witness(crypto.Cosigner.generate("witness.test/w1"), tmp_path / "state.json",
                {log_key.name: log_key.public}, clock=lambda: 1_800_000_000)
    tree = crypto.MerkleTree([b"\x02entry-%d" % i for i in range(3)])
    gone = [bytes(range(16))]

    def note(size: int, revoked: list[bytes]) -> str:
        cp = crypto.Checkpoint(origin=log_key.name, size=size, root=tree.root(size), revoked_count=len(revoked),
                               revoked_digest=crypto.revoked_digest(revoked))
        return log_key.sign_note(crypto.format_checkpoint(cp))

    def request(old: int, size: int, revoked: list[bytes]) -> bytes:
        proof = [base64.b64encode(h).decode() for h in tree.consistency_proof(old, size)] if old else []
        return ("\n".join([f"old {old}", *proof]) + "\n\n" + note(size, revoked)).encode()

    assert (await w.add_checkpoint(request(0, 3, gone)))[0] == 200
    assert (await w.add_checkpoint(request(3, 3, gone)))[0] == 200           # the same text again: fresh time
    status, body, _ = await w.add_checkpoint(request(3, 3, []))              # same tree, revocation left out
    assert status == 422 and "text" in body
    tree.append(b"\x02entry-3")
    status, body, _ = await w.add_checkpoint(request(3, 4, []))              # grown, revoked set shrunk
    assert status == 422 and "shrink" in body
    assert read_state(tmp_path / "state.json")[log_key.name]["size"] == 3   # nothing refused was kept
    assert (await w.add_checkpoint(request(3, 4, gone)))[0] == 200
    assert read_state(tmp_path / "state.json")[log_key.name]["size"] == 4
