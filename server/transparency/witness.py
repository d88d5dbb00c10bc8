"""`oor witness`: a C2SP tlog-witness anyone can run against the public log (PROTOCOL.md 14).

    oor witness init --key FILE --name NAME          make a witness key (0600); prints its vkey
    oor witness serve --key FILE --state FILE --log ORIGIN=VKEY [--log ...] --listen HOST:PORT

`POST /add-checkpoint` (c2sp.org/tlog-witness): the body is `old <size>`, up to 63 consistency
proof lines, a blank line, and a checkpoint signed by the log. The witness cosigns (cosignature/v1,
c2sp.org/tlog-cosignature, timestamped with its own clock) only a checkpoint consistent with the
latest one it cosigned for that origin, and records the new one in its state file (written to a
temporary file, synced and renamed) before it answers:

- 404: the origin is not one of its `--log`s; 403: no valid signature of the configured log key
  (or a signature line of that key that fails);
- 400: a malformed request (or old size above the checkpoint's); 409 Conflict: the old size is not
  the size it cosigned last (the body says that size, `text/x.tlog.size`), so the log asks again;
- 422: the consistency proof does not verify, a proof for an old size of 0, a size-0 checkpoint
  that is not the empty tree, or the same size with another root (a log that rewrote history).

Checks and the state update are done under one lock, so two requests cannot roll the state back
(the race tlog-witness describes). `GET /<sha256 hex of origin>/checkpoint` serves the latest
checkpoint it cosigned, with its cosignature (the monitoring API).

The witness only understands this service's checkpoints (crypto.parse_checkpoint: the three
tlog-checkpoint lines and the `oor-revoked` extension line).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

import crypto

log = logging.getLogger("oor.witness")

WITNESS_KEY_HEADER = "luisterend-oor witness key v1"
MAX_KEY_FILE_BYTES = 2048
MAX_STATE_BYTES = 1024 * 1024
# old line + 63 proof lines (45 bytes each) + blank line + a note of at most 16 KiB.
MAX_BODY_BYTES = 32 + 63 * 46 + 1 + crypto.MAX_NOTE_BYTES
MAX_PROOF_LINES = 63
_OLD = re.compile(r"old (0|[1-9][0-9]{0,15})")


class WitnessError(Exception):
    """A witness key or state file that cannot be used (the message says why)."""


# -- key and state files ---------------------------------------------------------------------------


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` so that a crash leaves the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def init_key(path: Path, name: str) -> crypto.Cosigner:
    """Make a witness key file (refuses to overwrite one); returns the key."""
    key = crypto.Cosigner.generate(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise WitnessError(f"{path} exists already: a witness keeps its key") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"{WITNESS_KEY_HEADER}\n{name}\n{crypto.b64encode(key.seed)}\n")
        f.flush()
        os.fsync(f.fileno())
    return key


def read_key(path: Path) -> crypto.Cosigner:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise WitnessError(f"{path} does not exist: run `oor witness init`") from None
    lines = raw.decode("utf-8", "replace").splitlines()
    try:
        if len(raw) > MAX_KEY_FILE_BYTES or len(lines) < 3 or lines[0] != WITNESS_KEY_HEADER:
            raise ValueError
        return crypto.Cosigner.from_seed(lines[1], crypto.b64decode(lines[2].strip(), length=32))
    except (ValueError, crypto.CryptoError):
        raise WitnessError(f"{path} is not a witness key file ({WITNESS_KEY_HEADER})") from None


def read_state(path: Path) -> dict[str, dict[str, Any]]:
    """{origin: {"size": n, "root": b64, "note": the cosigned checkpoint}} ({} if there is no file yet)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(raw)
        if len(raw) > MAX_STATE_BYTES or not isinstance(data, dict) or data.get("v") != 1:
            raise ValueError
        logs = data["logs"]
        for entry in logs.values():
            if not isinstance(entry["size"], int) or len(crypto.b64decode(entry["root"])) != 32:
                raise ValueError
        return logs
    except (ValueError, KeyError, TypeError, AttributeError, crypto.CryptoError):
        raise WitnessError(f"{path} is not a witness state file") from None


def parse_log_arg(text: str) -> tuple[str, bytes]:
    """`ORIGIN=VKEY`, or the bare VKEY `oor log key` prints -> (origin, log public key); the vkey's name
    must be the origin."""
    try:
        name, alg, public = crypto.parse_vkey(text)
    except crypto.CryptoError:
        pass
    else:
        if alg != crypto.NOTE_ALG_ED25519:
            raise WitnessError(f"--log {name}: expected the log's Ed25519 vkey (`oor log key`)")
        return name, public
    origin, sep, vkey = text.partition("=")
    if not sep:
        raise WitnessError(f"--log {text!r}: expected VKEY or ORIGIN=VKEY")
    try:
        name, alg, public = crypto.parse_vkey(vkey)
    except crypto.CryptoError as exc:
        raise WitnessError(f"--log {origin}: not a vkey ({exc})") from None
    if alg != crypto.NOTE_ALG_ED25519 or name != origin:
        raise WitnessError(f"--log {origin}: expected the log's Ed25519 vkey named {origin!r} (`oor log key`)")
    return origin, public


def _hash(line: str) -> bytes:
    """One consistency proof line: the standard base64 of 32 bytes."""
    try:
        raw = base64.b64decode(line.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise crypto.InvalidInput("a proof line is not base64") from None
    if len(raw) != 32 or base64.b64encode(raw).decode("ascii") != line:
        raise crypto.InvalidInput("a proof line is the base64 of 32 bytes")
    return raw


# -- the witness ----------------------------------------------------------------------------------


class Witness:
    def __init__(self, key: crypto.Cosigner, state_path: Path, logs: dict[str, bytes],
                 clock: Callable[[], int] | None = None) -> None:
        self.key = key
        self.state_path = state_path
        self.logs = logs
        self.clock = clock or (lambda: int(time.time()))
        self.state = read_state(state_path)
        self.lock = asyncio.Lock()

    def _save(self, state: dict[str, Any]) -> None:
        write_atomically(self.state_path, json.dumps({"v": 1, "logs": state}, sort_keys=True).encode())

    async def add_checkpoint(self, body: bytes) -> tuple[int, str, str]:
        """(HTTP status, body, content type) for one add-checkpoint request body."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return 400, "not UTF-8\n", "text/plain"
        head, sep, note = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or not lines or not (found := _OLD.fullmatch(lines[0])) or len(lines) - 1 > MAX_PROOF_LINES:
            return 400, "expected: old <size>, proof lines, a blank line, a checkpoint\n", "text/plain"
        old = int(found.group(1))
        try:
            proof = [_hash(line) for line in lines[1:]]
            note_text, _ = crypto.parse_note(note)
            checkpoint = crypto.parse_checkpoint(note_text)
        except crypto.CryptoError as exc:
            return 400, f"malformed: {exc}\n", "text/plain"
        origin = checkpoint.origin
        if origin not in self.logs:
            return 404, "unknown log\n", "text/plain"
        try:
            crypto.verify_checkpoint(note, origin=origin, log_public=self.logs[origin], witnesses=[], quorum=0,
                                     max_age=0, now=self.clock())
        except crypto.CryptoError as exc:
            return 403, f"not signed by the log key: {exc}\n", "text/plain"
        if old > checkpoint.size:
            return 400, "old size above the checkpoint's size\n", "text/plain"
        async with self.lock:
            known = self.state.get(origin)
            size = known["size"] if known else 0
            root = crypto.b64decode(known["root"]) if known else crypto.EMPTY_ROOT
            if old != size:
                return 409, f"{size}\n", "text/x.tlog.size"
            if checkpoint.size == 0 and checkpoint.root != crypto.EMPTY_ROOT:
                return 422, "a tree of size 0 has the empty root\n", "text/plain"
            if old == 0 and proof:
                log.warning("%s: a consistency proof from size 0", origin)
                return 422, "no consistency proof from size 0\n", "text/plain"
            if old == checkpoint.size:
                if checkpoint.root != root or proof:
                    log.warning("%s: another root for size %d: the log rewrote history", origin, old)
                    return 422, "another root for the size cosigned before\n", "text/plain"
                # One text per size: the same tree with another revoked-set line (PROTOCOL.md 14.3) would let
                # the log show chosen visitors a checkpoint that leaves a revocation out.
                if known and known.get("note") and crypto.parse_note(known["note"])[0] != note_text:
                    log.warning("%s: another checkpoint text for size %d", origin, old)
                    return 422, "another checkpoint text for the size cosigned before\n", "text/plain"
            elif old:
                try:
                    crypto.verify_consistency(old, checkpoint.size, root, checkpoint.root, proof)
                except crypto.CryptoError:
                    log.warning("%s: checkpoint of size %d inconsistent with size %d", origin, checkpoint.size, old)
                    return 422, "the consistency proof does not verify\n", "text/plain"
            if known and known.get("note") and checkpoint.revoked_count < crypto.parse_checkpoint(
                    crypto.parse_note(known["note"])[0]).revoked_count:
                # Revocations are for good: a log whose revoked set shrinks is hiding one.
                log.warning("%s: the revoked set shrank at size %d", origin, checkpoint.size)
                return 422, "the revoked set cannot shrink\n", "text/plain"
            line = self.key.cosign(note_text, self.clock())
            updated = dict(self.state)
            updated[origin] = {"size": checkpoint.size, "root": crypto.b64encode(checkpoint.root),
                               "note": note + line}
            self._save(updated)  # on disk first: a crash after the answer must not forget what was cosigned
            self.state = updated
        return 200, line, "text/plain"

    def latest(self, origin_hash: str) -> str | None:
        for origin, entry in self.state.items():
            if hashlib.sha256(origin.encode("utf-8")).hexdigest() == origin_hash:
                return entry.get("note")
        return None


WITNESS = web.AppKey("witness", Witness)


async def _add_checkpoint(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return web.Response(status=413, text="request too large\n")
    body = await request.content.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return web.Response(status=413, text="request too large\n")
    status, text, content_type = await request.app[WITNESS].add_checkpoint(body)
    return web.Response(status=status, body=text.encode("utf-8"), content_type=content_type,
                        charset="utf-8" if content_type == "text/plain" else None)


async def _monitor(request: web.Request) -> web.Response:
    note = request.app[WITNESS].latest(request.match_info["origin_hash"])
    if note is None:
        raise web.HTTPNotFound(text="no checkpoint cosigned for that log\n")
    return web.Response(text=note, content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=60"})


def make_app(witness: Witness) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[WITNESS] = witness
    app.router.add_post("/add-checkpoint", _add_checkpoint)
    app.router.add_get(r"/{origin_hash:[0-9a-f]{64}}/checkpoint", _monitor)
    return app


async def start(witness: Witness, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `witness` on host:port (0: any free port) in this event loop; (runner, port)."""
    runner = web.AppRunner(make_app(witness), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []  # the port chosen for port 0
    return runner, (sockets[0].getsockname()[1] if sockets else port)


# -- the command ----------------------------------------------------------------------------------


def add_commands(sub: Any) -> None:
    w = sub.add_parser("witness", help="a C2SP tlog-witness for this service's log (anyone can run one)")
    wsub = w.add_subparsers(dest="action", required=True)
    init = wsub.add_parser("init", help="make a witness key file; prints its vkey")
    init.add_argument("--key", type=Path, required=True, help="the key file to make (0600)")
    init.add_argument("--name", required=True, help="the witness's name, e.g. witness.example.org/oor")
    serve = wsub.add_parser("serve", help="serve POST /add-checkpoint")
    serve.add_argument("--key", type=Path, required=True)
    serve.add_argument("--state", type=Path, required=True, help="the witness's state file (made if missing)")
    serve.add_argument("--log", action="append", required=True, dest="logs", metavar="ORIGIN=VKEY",
                       help="a log to witness: its origin and Ed25519 vkey (`oor log key`); repeat for each")
    serve.add_argument("--listen", default="127.0.0.1:8090", help="HOST:PORT (default 127.0.0.1:8090)")


def hold_state_lock(state: Path) -> Any:
    """An exclusive lock next to the state file: two witnesses on one state could each cosign a fork."""
    import fcntl
    handle = open(state.with_name(state.name + ".lock"), "a")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise WitnessError(f"another witness is using {state}") from None
    return handle


def command(args: argparse.Namespace) -> int:
    try:
        if args.action == "init":
            key = init_key(args.key, args.name)
            print(key.vkey())
            print(f"witness key written to {args.key} (mode 0600); give the log operator the line above",
                  file=sys.stderr)
            return 0
        from ..config import HostPort
        listen = HostPort.parse("--listen", args.listen)
        key = read_key(args.key)
        logs = dict(parse_log_arg(text) for text in args.logs)
        lock = hold_state_lock(args.state)  # kept open while the witness runs
        witness = Witness(key, args.state, logs)
    except WitnessError as exc:
        print(f"oor witness: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # ConfigError of --listen
        print(f"oor witness: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> None:
        runner, port = await start(witness, listen.host, listen.port)
        print(f"oor witness {key.vkey()} on http://{listen.host}:{port} for {', '.join(logs)}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    lock.close()
    return 0
