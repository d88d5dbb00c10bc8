"""The key gate (issue 17) for the benchmarks: a root key, a witness, the release published and the
volunteers' key statements signed, all through the real CLI and before anything is measured.

Since issue 17 `oor serve` refuses to start without `root_public_key` and unless `oor release publish`
logged the files it serves, and a volunteer takes chats or mail only once a key statement signed with
the root key is in the log. A benchmark run does what a helpline does, with the same commands:

    gate = KeyGate(workdir)                      # `oor root init` (root key sealed with a passphrase)
    env = gate.server_env(env, data_dir, "relay")  # root_public_key, witness_quorum 1, a log key file for
                                                 # this storage, and a witness of its log (`oor witness serve`)
    gate.publish(data_dir, env)                  # `oor release publish`, before every `oor serve`
    ... volunteers enrol ...
    size = gate.sign(data_dir, env)              # `oor keys pending` -> `oor root sign --yes` -> `oor keys import`
    await gate.wait_ready([base_url], size)      # until the server's /log/checkpoint covers the statements
    ... volunteers log in, measuring starts ...
    gate.stop()                                  # the witnesses

A witness costs the log one round trip per checkpoint (when statements or a release are logged, and
every witness_refresh_seconds, an hour by default), never per chat or mail: with nothing logged while
a benchmark measures, the witness process sits idle and its CPU is nobody's figure. `quorum=0` runs
without one (as the tests do), with the start-up warning.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent.parent
ROOT_PASSPHRASE = "bench root key, sealed as a coordinator's would be"
WITNESS_NAME = "witness.bench.invalid/w1"
CLI_TIMEOUT_S = 180.0


class GateError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """SIGTERM to the witness when the benchmark dies (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def oor(*args: str, env: dict[str, str] | None = None) -> str:
    """`python -m server.cli ARGS` in the repository; answers its standard output, raises on failure."""
    done = subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise GateError(f"oor {' '.join(args[:2])} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


class Witness:
    """`oor witness serve` for one log (C2SP tlog-witness `POST /add-checkpoint`), on a free port."""

    def __init__(self, folder: Path, log_vkey: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.key, self.state = folder / "witness.key", folder / "witness.state.json"
        self.output = folder / "witness.log"
        self.vkey = oor("witness", "init", "--key", str(self.key), "--name", WITNESS_NAME).strip().splitlines()[0]
        self.port = _free_port()
        origin = log_vkey.split("+", 1)[0]  # a vkey is <name>+<hex id>+<key>; the log's name is its origin
        argv = [sys.executable, "-m", "server.cli", "witness", "serve", "--key", str(self.key), "--state",
                str(self.state), "--log", f"{origin}={log_vkey}", "--listen", f"127.0.0.1:{self.port}"]
        with self.output.open("wb") as out:
            self.proc = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        atexit.register(self.stop)  # whatever the benchmark does on its way out
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise GateError(f"oor witness serve exited:\n{self.output.read_text(errors='replace')}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            if time.monotonic() > deadline:
                raise GateError("oor witness serve did not listen within 60 s")
            time.sleep(0.05)

    @property
    def entry(self) -> str:
        """The `log_witnesses` entry: "<witness vkey> <base URL>"."""
        return f"{self.vkey} http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class KeyGate:
    """One benchmark run's coordinators: a root key (`oor root init`), a witness per log, and the
    signing round trip. `quorum` is the servers' witness_quorum (1 as in production, 0 without witness)."""

    def __init__(self, workdir: Path, *, quorum: int = 1) -> None:
        self.dir = Path(workdir) / "transparency"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.quorum = quorum
        self.passphrase_file = self.dir / "root.passphrase"
        self.passphrase_file.write_text(ROOT_PASSPHRASE + "\n", encoding="utf-8")
        self.root_key = self.dir / "root.key"
        out = oor("root", "init", "--out", str(self.root_key), "--passphrase-file", str(self.passphrase_file))
        found = re.search(r'root_public_key = "([^"]+)"', out)
        if found is None:
            raise GateError(f"oor root init printed no root_public_key:\n{out}")
        self.root_public_key = found.group(1)
        self.witnesses: dict[str, Witness] = {}
        self.signed = 0

    def server_env(self, env: dict[str, str], data_dir: Path, label: str) -> dict[str, str]:
        """`env` with the gate's settings for the storage named `label` (every process on one storage,
        a cluster's nodes or a web part and its gateway, takes the same `label`: one log key file, one
        witness). The first call for a label makes the log key (`oor log init`) and starts its witness."""
        key_file = self.dir / f"{label}-log.key"
        # The log's origin as `oor serve` derives it from a public_url on 127.0.0.1, written out: the
        # log key and its witness are made here, maybe before the public_url is known (a cluster's).
        env = {"OOR_LOG_ORIGIN": "127.0.0.1/log", **env, "OOR_ROOT_PUBLIC_KEY": self.root_public_key,
               "OOR_WITNESS_QUORUM": str(self.quorum), "OOR_LOG_KEY_FILE": str(key_file)}
        if self.quorum <= 0:
            return env
        if label not in self.witnesses:
            vkey = oor("log", "init", "--data", str(data_dir), env=env).strip().splitlines()[0]
            self.witnesses[label] = Witness(self.dir / f"{label}-witness", vkey)
        return {**env, "OOR_LOG_WITNESSES": self.witnesses[label].entry}

    def publish(self, data_dir: Path, env: dict[str, str]) -> None:
        """`oor release publish`, as after installing a release: before every `oor serve`."""
        oor("release", "publish", "--data", str(data_dir), env=env)

    def sign(self, data_dir: Path, env: dict[str, str], *, expect: int | None = None) -> int:
        """The coordinators' round trip for whatever waits on this storage: `oor keys pending` (server side),
        `oor root sign --yes` (the root key's side), `oor keys import`. Answers the log's size after the
        import (0 when nothing waited). `expect`: how many requests there must be (a check, not a filter)."""
        request, signed = self.dir / f"request-{self.signed}.json", self.dir / f"signed-{self.signed}.json"
        oor("keys", "pending", "--data", str(data_dir), "--out", str(request), env=env)
        requests = json.loads(request.read_text(encoding="utf-8"))["requests"]
        if expect is not None and len(requests) != expect:
            raise GateError(f"oor keys pending: {len(requests)} requests, {expect} expected")
        if not requests:
            return 0
        oor("root", "sign", str(request), "--key", str(self.root_key), "--out", str(signed), "--yes",
            "--passphrase-file", str(self.passphrase_file))
        out = oor("keys", "import", str(signed), "--data", str(data_dir), env=env)
        self.signed += len(requests)
        found = re.search(r"the log now holds (\d+) entries", out)
        if found is None:
            raise GateError(f"oor keys import did not say the log's size:\n{out}")
        return int(found.group(1))

    async def wait_ready(self, bases: list[str], size: int, timeout: float = 60.0) -> None:
        """Until every server's GET /log/checkpoint (the latest checkpoint its pages accept: signed, and
        cosigned by the quorum) covers `size` entries: from then on its log says "ready" for the signed
        volunteers (each server re-reads the log every log_refresh_seconds)."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for base in bases:
                seen = "nothing"
                while True:
                    with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                        async with http.get(f"{base}/log/checkpoint") as resp:
                            seen = f"{resp.status}"
                            if resp.status == 200:
                                lines = (await resp.text()).split("\n")
                                seen = f"size {lines[1]}"
                                if int(lines[1]) >= size:
                                    break
                    if time.monotonic() > deadline:
                        raise GateError(f"{base}/log/checkpoint does not cover {size} entries within "
                                        f"{timeout:g} s ({seen})")
                    await asyncio.sleep(0.05)

    def stop(self) -> None:
        for witness in self.witnesses.values():
            witness.stop()
        self.witnesses.clear()


class SignedAccounts:
    """The log, for a chat hub run without an application, storage or log (bench/queue_events.py measures
    the hub's own work over fake sockets): the accounts given are signed by a root key of this run and
    logged, in a Merkle tree whose checkpoint is signed by a log key and cosigned by a witness key (the
    real formats, crypto/transparency.py); `status_for` says "ready" for them, "pending" for any other,
    and `proof_for` answers the key proof (crypto/PROTOCOL.md 14) that the hub puts into the frames a
    help-seeker's page gets, built once by `seal()` and kept, as server/transparency/log.py keeps them.
    The gate reads a status when a volunteer connects and when the log changes (never here)."""

    def __init__(self, deployment_id: str = "bench") -> None:
        self.deployment_id = deployment_id
        self.ready: set[bytes] = set()
        self.proofs: dict[bytes, dict[str, object]] = {}
        self.callbacks: list[object] = []

    def sign(self, account_id: bytes) -> None:
        self.ready.add(bytes(account_id))

    def seal(self, now: int | None = None) -> None:
        """Statements for every account signed so far, the tree, the checkpoint, and each account's proof."""
        import crypto as t  # crypto/transparency.py, through the package's own names
        now = int(time.time()) if now is None else now
        root, ids = t.RootKey.generate(), sorted(self.ready)
        entries = []
        for account_id in ids:
            identity = t.new_identity()
            statement = t.Statement(1, self.deployment_id, account_id, "volunteer", "Vrijwilliger",
                                    identity.x25519_public, identity.ed25519_public, now - 60, now + 86400)
            entries.append(t.statement_entry(*t.sign_statement(root, statement)))
        tree = t.MerkleTree(entries)
        text = t.format_checkpoint(t.Checkpoint("127.0.0.1/log", tree.size, tree.root(), 0, t.revoked_digest([])))
        note = t.NoteKey.generate("127.0.0.1/log").sign_note(text) + t.Cosigner.generate(WITNESS_NAME).cosign(text, now)
        self.proofs = {account_id: {"v": 1, "entry": t.b64encode(entries[i]), "index": i,
                                    "path": [t.b64encode(h) for h in tree.inclusion_proof(i, tree.size)],
                                    "checkpoint": note, "revoked": ""}
                       for i, account_id in enumerate(ids)}

    def status_for(self, account_id: bytes) -> str:
        return "ready" if bytes(account_id) in self.ready else "pending"

    def proof_for(self, account_id: bytes) -> dict[str, object] | None:
        return self.proofs.get(bytes(account_id))

    def on_change(self, callback: object) -> None:
        self.callbacks.append(callback)
