"""The transparency log on the server (crypto/PROTOCOL.md section 14).

The log's entries (signed key statements, revocations, release manifests) are rows of the storage,
contiguous from 0 and never changed (migration 0010); every process that serves the log keeps the
RFC 6962 tree over them in memory (`crypto.MerkleTree`) and reloads what is new every
`log_refresh_seconds`. A checkpoint (C2SP tlog-checkpoint with our `oor-revoked` extension line) is
signed by the log key (`log_key_file`, separate from the coordinators' offline root key) and sent
to every configured witness (C2SP tlog-witness `add-checkpoint`, with the consistency proof from the
size the witness last cosigned); the note is stored with whatever cosignatures came back.

A checkpoint is *usable* when it verifies as a help-seeker's page would verify it (the log key's
signature, `witness_quorum` distinct configured witnesses with a cosignature younger than
`witness_max_age_seconds`) and its root is the root of the entries this process holds. A key proof
(`TransparencyLog.proof_for`) is only ever made against a usable checkpoint; an account is
`key_ready` (storage) only while its current key statement is in one.

The keeper (one task per server process) makes a checkpoint when the storage holds entries beyond
the latest one, asks the witnesses again every `witness_refresh_seconds` for fresh cosignature
timestamps (and sooner while cosignatures are missing), and sets `key_ready`. The witnesses are
asked from that task only, with timeouts: nothing on the chat path ever waits for a witness.

`append_and_checkpoint` is the same work for a process without a server (the CLI): appends (the
storage serialises appenders across processes), then signs the checkpoint of the size the storage
holds at that moment, never a size it was told.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

import crypto

from ..config import Config, decode_key
from ..storage.interface import Storage

log = logging.getLogger("oor.log")

LOG_KEY_HEADER = "luisterend-oor log key v1"
MAX_LOG_KEY_FILE_BYTES = 1024
# A witness's answer: a few signature lines (16 signatures of a post-quantum size would be 80 KiB).
MAX_WITNESS_RESPONSE_BYTES = 64 * 1024
WITNESS_TIMEOUT_SECONDS = 10.0
# How often the keeper asks again while a witness's cosignature is missing (its answer failed).
WITNESS_RETRY_SECONDS = 5.0
# How often rows of the storage are re-read to compare their keys with the logged ones.
ROWS_REFRESH_SECONDS = 5.0
# A stored checkpoint is re-verified this often (its cosignatures age).
REVERIFY_SECONDS = 5.0
# How often the keeper writes key_ready even when its own view did not change: another process may have
# written an older view last (two processes' writes can cross), and this puts the newest back.
REASSERT_SECONDS = 5.0

STATUS_READY, STATUS_PENDING, STATUS_REVOKED, STATUS_EXPIRED, STATUS_NO_WITNESS = (
    "ready", "pending", "revoked", "expired", "no-witness")


class LogError(Exception):
    """The log cannot be served or extended as asked (the message says why; no secret in it)."""


# -- the log key ------------------------------------------------------------------------------------


def _write_private(path: Path, text: str) -> bool:
    """Create `path` (0600) with `text`; False if it exists already (another process made it first).

    Written whole to a file of its own, then linked into place: a process that finds the file
    never reads half of it, and of two processes making it at once one wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink()


def read_log_key(config: Config) -> crypto.NoteKey:
    """The log's checkpoint key from `log_key_file`, named by the origin; LogError if it is missing or bad."""
    path = config.log_key_path
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_LOG_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise LogError(f"the log key file {path} does not exist: run `oor log init`") from None
    lines = raw.decode("ascii", "replace").splitlines()
    try:
        if len(raw) > MAX_LOG_KEY_FILE_BYTES or len(lines) < 2 or lines[0] != LOG_KEY_HEADER:
            raise ValueError
        return crypto.NoteKey.from_seed(config.transparency_origin, crypto.b64decode(lines[1].strip(), length=32))
    except (ValueError, crypto.CryptoError):
        raise LogError(f"{path} is not a log key file ({LOG_KEY_HEADER})") from None


def create_log_key(config: Config) -> tuple[crypto.NoteKey, bool]:
    """The log key, made (0600) if `log_key_file` does not exist yet; (key, whether it was made now)."""
    key = crypto.NoteKey.generate(config.transparency_origin)
    made = _write_private(config.log_key_path, f"{LOG_KEY_HEADER}\n{crypto.b64encode(key.seed)}\n")
    if made:
        log.warning("made a new log key in %s: give witness operators its vkey (`oor log key`)",
                    config.log_key_path)
        return key, True
    return read_log_key(config), False


def log_key(config: Config) -> crypto.NoteKey:
    """The log key, made if missing (so a fresh data folder works)."""
    try:
        return read_log_key(config)
    except LogError:
        if config.log_key_path.exists():
            raise
    return create_log_key(config)[0]


# -- the trust configuration --------------------------------------------------------------------


@dataclass(frozen=True)
class Witness:
    name: str
    public: bytes
    url: str  # base URL; the log POSTs to <url>/add-checkpoint

    @property
    def key_id(self) -> bytes:
        return crypto.note_key_id(self.name, crypto.NOTE_ALG_COSIGNATURE_V1, self.public)


def witnesses(config: Config) -> list[Witness]:
    found = []
    for vkey, url in config.witness_list:
        name, _, public = crypto.parse_vkey(vkey)
        found.append(Witness(name, public, url))
    return found


def trust_config(config: Config) -> dict:
    """What every page is given to check key proofs with (`/js/trust.js`, PROTOCOL.md 14)."""
    return {
        "deployment_id": config.deployment_id,
        "root_public_key": crypto.b64encode(decode_key(config.root_public_key)) if config.root_public_key else "",
        "log": {"origin": config.transparency_origin, "public_key": crypto.b64encode(log_key(config).public)},
        "witnesses": [{"name": w.name, "public_key": crypto.b64encode(w.public)} for w in witnesses(config)],
        "quorum": config.witness_quorum,
        "max_age": config.witness_max_age_seconds,
    }


def _verify(note: str, trust: dict, now: int, *, quorum: int | None = None) -> crypto.Checkpoint:
    return crypto.verify_checkpoint(
        note, origin=trust["log"]["origin"], log_public=crypto.b64decode(trust["log"]["public_key"]),
        witnesses=[(w["name"], crypto.b64decode(w["public_key"])) for w in trust["witnesses"]],
        quorum=trust["quorum"] if quorum is None else quorum, max_age=trust["max_age"], now=now)


def _configured_log_public(config: Config) -> bytes | None:
    """The log key's public half if its file is there (start_problems only reads, never makes one)."""
    try:
        return read_log_key(config).public if config.log_key_path.exists() else None
    except Exception:  # an unreadable key file is reported when the log starts
        return None


def start_problems(config: Config, *, demo: bool = False) -> list[str]:
    """Why `oor serve` must not start with this configuration (empty: it may)."""
    problems = []
    if not config.root_public_key and not demo:
        problems.append("root_public_key is not set: make the helpline's root key on a coordinator's own machine "
                        "with `oor root init` and put the public key it prints in the configuration "
                        "(OOR_ROOT_PUBLIC_KEY)")
    log_public = _configured_log_public(config)
    if log_public is not None and any(crypto.parse_vkey(w.split()[0])[2] == log_public
                                      for w in config.log_witnesses):
        problems.append("a witness in log_witnesses has the log's own key: the log cannot witness itself")
    if config.witness_quorum > len(config.log_witnesses):
        problems.append(f"witness_quorum is {config.witness_quorum} but {len(config.log_witnesses)} witness(es) "
                        "are configured (log_witnesses): pages would accept no key")
    return problems


# -- the state of the log -----------------------------------------------------------------------


class LogState:
    """The entries, their tree and what they say per account (no storage, no network)."""

    def __init__(self, root_public: bytes, deployment_id: str) -> None:
        self.root_public = root_public
        self.deployment_id = deployment_id
        self.tree = crypto.MerkleTree()
        self.entries: list[bytes] = []
        self.statements: list[tuple[int, crypto.Statement]] = []
        self.key_index: dict[bytes, int] = {}            # account id -> index of its latest valid key statement
        self.revoked_at: dict[bytes, int] = {}           # account id -> index of its first revocation
        self.releases: list[tuple[int, str, bytes]] = []  # (index, deployment id, manifest hash)
        # Decoded statements by index: entries never change, and status() is asked for every mail and frame.
        self._decoded: dict[int, crypto.Statement] = {}

    @property
    def size(self) -> int:
        return self.tree.size

    def extend(self, entries: list[bytes]) -> None:
        for entry in entries:
            index = self.tree.append(entry)
            self.entries.append(entry)
            try:
                decoded = crypto.decode_entry(entry)
            except crypto.CryptoError:
                log.warning("log entry %d does not decode", index)
                continue
            if decoded.type == 2:
                self.releases.append((index, decoded.deployment_id or "", decoded.manifest_hash or b""))
                continue
            try:
                statement = crypto.decode_statement(decoded.statement or b"")
            except crypto.CryptoError:
                continue
            self.statements.append((index, statement))
            if statement.kind == crypto.KIND_REVOCATION:
                self.revoked_at.setdefault(statement.account_id, index)
                continue
            if statement.deployment_id != self.deployment_id or not self.root_public:
                continue
            try:
                crypto.verify_statement(self.root_public, decoded.statement or b"", decoded.signature or b"")
            except crypto.CryptoError:
                log.warning("log entry %d: the root signature does not verify", index)
                continue
            self.key_index[statement.account_id] = index

    def revoked_ids(self, size: int) -> list[bytes]:
        return sorted(a for a, i in self.revoked_at.items() if i < size)

    def checkpoint(self, origin: str, size: int) -> crypto.Checkpoint:
        ids = self.revoked_ids(size)
        return crypto.Checkpoint(origin=origin, size=size, root=self.tree.root(size), revoked_count=len(ids),
                                 revoked_digest=crypto.revoked_digest(ids))

    def statement_at(self, index: int) -> crypto.Statement:
        statement = self._decoded.get(index)
        if statement is None:
            statement = crypto.decode_statement(crypto.decode_entry(self.entries[index]).statement or b"")
            self._decoded[index] = statement
        return statement

    def status(self, account_id: bytes, usable_size: int | None, signed_size: int, now: int,
               row_keys: tuple[bytes, bytes] | None) -> str:
        """One account's status against the usable checkpoint's size (None: there is none)."""
        if account_id in self.revoked_at:
            return STATUS_REVOKED
        index = self.key_index.get(account_id)
        if index is None:
            return STATUS_PENDING
        statement = self.statement_at(index)
        if now > statement.not_after:
            return STATUS_EXPIRED
        if now < statement.not_before - crypto.MAX_CLOCK_SKEW:
            return STATUS_PENDING
        if row_keys is not None and row_keys != (statement.x25519_public, statement.ed25519_public):
            return STATUS_PENDING  # the account's keys are not the logged ones: a new statement is needed
        if usable_size is None or index >= usable_size:
            return STATUS_NO_WITNESS if index < signed_size else STATUS_PENDING
        return STATUS_READY

    def ready_ids(self, usable_size: int | None, signed_size: int, now: int,
                  rows: dict[bytes, tuple[bytes, bytes]]) -> set[bytes]:
        return {a for a, keys in rows.items()
                if self.status(a, usable_size, signed_size, now, keys) == STATUS_READY}


def _b64_std(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _cosignature_lines(note: str, witness: Witness) -> list[tuple[int, str]]:
    """(timestamp, line) of every signature line of `witness` in `note`, as it stands."""
    try:
        _, signatures = crypto.parse_note(note)
    except crypto.CryptoError:
        return []
    return [(int.from_bytes(sig[:8], "big"), f"\u2014 {name} {_b64_std(key_id + sig)}\n")
            for name, key_id, sig in signatures
            if name == witness.name and key_id == witness.key_id and len(sig) == 72]


def note_text(note: str) -> str:
    return crypto.parse_note(note)[0]


async def _post_witness(http: aiohttp.ClientSession, witness: Witness, body: bytes) -> tuple[int, bytes]:
    async with http.post(f"{witness.url}/add-checkpoint", data=body,
                         headers={"Content-Type": "text/plain; charset=utf-8"}) as response:
        data = await response.content.read(MAX_WITNESS_RESPONSE_BYTES + 1)
        if len(data) > MAX_WITNESS_RESPONSE_BYTES:
            raise LogError(f"witness {witness.name}: answer larger than {MAX_WITNESS_RESPONSE_BYTES} bytes")
        return response.status, data


async def ask_witness(http: aiohttp.ClientSession, witness: Witness, state: LogState, signed: str,
                      size: int, old_size: int, now: int, trust: dict) -> tuple[str | None, int | None]:
    """Ask one witness to cosign the signed checkpoint `signed` of `size` (C2SP tlog-witness).

    Returns (its verified cosignature line or None, the size the witness has cosigned last if it
    said). A 409 Conflict names the witness's size: asked once more from there."""
    for _ in range(3):
        if old_size > size:
            log.warning("witness %s has cosigned size %d, beyond this log's %d", witness.name, old_size, size)
            return None, old_size
        proof = state.tree.consistency_proof(old_size, size) if old_size else []
        body = (f"old {old_size}\n" + "".join(_b64_std(h) + "\n" for h in proof) + "\n" + signed).encode("utf-8")
        try:
            status, data = await _post_witness(http, witness, body)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, LogError) as exc:
            log.warning("witness %s did not answer: %s", witness.name, type(exc).__name__)
            return None, None
        if status == 409:
            text = data.decode("ascii", "replace").strip()
            if not text.isdigit() or len(text) > 16 or int(text) == old_size:
                log.warning("witness %s: conflict without a usable size", witness.name)
                return None, None
            old_size = int(text)
            continue
        if status != 200:
            log.warning("witness %s refused the checkpoint of size %d (HTTP %d)", witness.name, size, status)
            return None, old_size
        lines = data.decode("utf-8", "replace")
        one = {"witnesses": [w for w in trust["witnesses"] if w["name"] == witness.name]}
        try:
            candidate = signed + "".join(line + "\n" for line in lines.split("\n") if line.startswith("\u2014 "))
            _verify(candidate, {**trust, **one}, now, quorum=1)
        except crypto.CryptoError as exc:
            log.warning("witness %s: its answer does not verify (%s)", witness.name, exc)
            return None, size
        found = sorted(_cosignature_lines(candidate, witness))
        return (found[-1][1] if found else None), size
    return None, old_size


async def sign_and_cosign(storage: Storage, config: Config, state: LogState, *, now: int,
                          http: aiohttp.ClientSession | None = None,
                          keep_fresh_cosignatures: bool = True) -> tuple[int, str]:
    """Extend `state` to the storage's size, sign that size, ask every witness, store the note.

    Refuses (LogError) if the stored entries are not those of the latest stored checkpoint (a
    database changed behind the log's back): the log never signs a history inconsistent with one
    it signed."""
    key = log_key(config)
    trust = trust_config(config)
    # The checkpoint first, then the entries: a checkpoint is stored only after its entries, so the
    # entries read next cover it even while other processes append and sign.
    latest = await storage.latest_checkpoint()
    await catch_up(state, storage)
    size = state.size
    previous = ""
    if latest is not None:
        latest_size, previous = latest
        try:
            old = crypto.parse_checkpoint(note_text(previous))
        except crypto.CryptoError:
            raise LogError("the latest stored checkpoint does not parse") from None
        if latest_size > size or old.root != state.tree.root(latest_size):
            raise LogError(f"the stored entries are not those of the checkpoint of size {latest_size}: "
                           "refusing to sign an inconsistent history")
    text = crypto.format_checkpoint(state.checkpoint(config.transparency_origin, size))
    signed = key.sign_note(text)
    cosignatures: list[str] = []
    own = http is None
    if own and witnesses(config):
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WITNESS_TIMEOUT_SECONDS))
    try:
        for witness in witnesses(config):
            previous_lines = _cosignature_lines(previous, witness) if previous else []
            guess = latest[0] if latest is not None and previous_lines else 0
            if http is None:  # made above whenever there are witnesses; an explicit check, not an assert
                raise LogError("no HTTP session to ask the witnesses")
            line, _ = await ask_witness(http, witness, state, signed, size, guess, now, trust)
            if line is None and keep_fresh_cosignatures and previous and latest is not None and latest[0] == size:
                # Not answered now: the cosignature it gave this same checkpoint before still counts while fresh.
                fresh = [ln for t, ln in previous_lines if t >= now - config.witness_max_age_seconds]
                line = fresh[-1] if fresh else None
            if line is not None:
                cosignatures.append(line)
    finally:
        if own and http is not None:
            await http.close()
    note = signed + "".join(cosignatures)
    await storage.save_checkpoint(size, note, now)
    return size, note


async def load_rows(storage: Storage) -> dict[bytes, tuple[bytes, bytes]]:
    """Active accounts' (x25519, ed25519) public keys by account id."""
    return {v.account_id: (v.x25519_public, v.ed25519_public) for v in await storage.list_volunteers()
            if v.active and v.account_id}


def usable_size(note: str | None, state: LogState, trust: dict, now: int) -> int | None:
    """The size of `note` if a page would accept it now and it is the root of these entries."""
    if not note:
        return None
    try:
        cp = _verify(note, trust, now)
    except crypto.CryptoError:
        return None
    if cp.size > state.size or cp.root != state.tree.root(cp.size):
        return None
    return cp.size


async def catch_up(state: LogState, storage: Storage) -> bool:
    """Add the entries the storage holds beyond `state` (safe when two tasks do it at once)."""
    size = await storage.log_size()
    if size <= state.size:
        return False
    start = state.size
    got = await storage.log_entries(start, size)
    if state.size >= start:
        state.extend(got[state.size - start:])
    return True


async def load_state(storage: Storage, config: Config) -> LogState:
    state = LogState(decode_key(config.root_public_key) if config.root_public_key else b"", config.deployment_id)
    state.extend(await storage.log_entries(0, await storage.log_size()))
    return state


async def append_and_checkpoint(storage: Storage, config: Config, entries: list[bytes], *, now: int) -> str:
    """Append `entries` (may be empty), sign the checkpoint of the storage's size, ask the witnesses,
    store the note and set key_ready for the usable state. For the CLI: no server needed."""
    if entries:
        await storage.log_append(entries)
    state = await load_state(storage, config)
    _, note = await sign_and_cosign(storage, config, state, now=now)
    await update_keys_ready(storage, config, state, now=now)
    return note


async def update_keys_ready(storage: Storage, config: Config, state: LogState, *, now: int) -> set[bytes]:
    """key_ready from the latest stored checkpoint. The state is brought up to that checkpoint first:
    another process may have appended and checkpointed since `state` was read, and a checkpoint the state
    does not reach would count as unusable and clear every account. If a newer checkpoint is stored
    while the set is worked out, it is worked out again, so an older view is not written over a newer."""
    for _ in range(5):
        latest = await storage.latest_checkpoint()
        await catch_up(state, storage)  # entries are appended before their checkpoint: they cover `latest`
        note = latest[1] if latest else None
        signed = latest[0] if latest else 0
        ready = state.ready_ids(usable_size(note, state, trust_config(config), now), signed, now,
                                await load_rows(storage))
        if await storage.latest_checkpoint() == latest:
            break
    await storage.set_keys_ready(ready)
    return ready


# -- in a running server ------------------------------------------------------------------------


class TransparencyLog:
    """The log as one server process holds it: entries, tree, usable checkpoint, proofs, the keeper."""

    def __init__(self, storage: Storage, config: Config, *, clock: Callable[[], int] | None = None,
                 keeper: bool = True) -> None:
        self.storage = storage
        self.config = config
        self.clock = clock or (lambda: int(time.time()))
        self.keeper_enabled = keeper
        self.trust = trust_config(config)
        self.state = LogState(decode_key(config.root_public_key) if config.root_public_key else b"",
                              config.deployment_id)
        self.checkpoint: str | None = None      # the latest usable note
        self._usable_size: int | None = None
        self._stored: tuple[int, str] | None = None  # the latest stored note, usable or not
        self._rows: dict[bytes, tuple[bytes, bytes]] = {}
        self._rows_at = 0.0
        self._verified_at = 0.0
        self._verified_clock = 0
        self._proofs: dict[bytes, dict | None] = {}
        self._callbacks: list[Callable[[], Awaitable[None] | None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: set[bytes] | None = None
        self._asked_at = 0.0
        self._missing_at = 0.0
        self._reasserted_at = 0.0
        self._keeper_lock = asyncio.Lock()
        # One refresh at a time: a second one started while the first awaits the storage would find the
        # entries and checkpoint already read ("nothing changed") and return before the first has made them
        # usable (an answer that refreshes to find a proof would then find none).
        self._refresh_lock = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None

    @property
    def size(self) -> int:
        return self.state.size

    @property
    def usable_size(self) -> int | None:
        return self._usable_size

    @property
    def stored(self) -> tuple[int, str] | None:
        return self._stored

    async def start(self) -> None:
        await self.refresh()
        self._tasks.append(asyncio.create_task(self._loop(self.refresh, "refresh")))
        if self.keeper_enabled:
            self._tasks.append(asyncio.create_task(self._loop(self.keep, "keeper")))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _loop(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        while True:
            await asyncio.sleep(self.config.log_refresh_seconds)
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("log %s failed", what)

    def on_change(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        self._callbacks.append(callback)

    async def _changed(self) -> None:
        for callback in list(self._callbacks):
            try:
                result = callback()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("a log on_change callback failed")

    async def refresh(self) -> None:
        """Read what is new in the storage (entries, the latest checkpoint, the accounts' keys)."""
        async with self._refresh_lock:
            notify = await self._refresh()
        if notify:  # outside the lock: a callback may ask the log again
            await self._changed()

    async def _refresh(self) -> bool:
        now = self.clock()
        changed = False
        stored = await self.storage.latest_checkpoint()  # before the entries, which then cover it
        changed = await catch_up(self.state, self.storage)
        if stored != self._stored:
            self._stored = stored
            changed = True
        mono = time.monotonic()
        if changed or mono - self._rows_at >= ROWS_REFRESH_SECONDS:
            rows = await load_rows(self.storage)
            self._rows_at = mono
            if rows != self._rows:
                self._rows = rows
                changed = True
        if changed or mono - self._verified_at >= REVERIFY_SECONDS or now != self._verified_clock:
            self._verified_at, self._verified_clock = mono, now
            note = self._stored[1] if self._stored else None
            size_now = usable_size(note, self.state, self.trust, now)
            if size_now is not None:
                new_note: str | None = note
            elif self.checkpoint is not None and usable_size(self.checkpoint, self.state, self.trust, now) is not None:
                new_note, size_now = self.checkpoint, self._usable_size  # the newer note lacks cosignatures: keep
            else:
                new_note = None
            if new_note != self.checkpoint or changed:
                usable_changed = new_note != self.checkpoint
                ready = self.state.ready_ids(size_now, self._signed_size, now, self._rows)
                if self.keeper_enabled and ready != self._ready:
                    # Stored before the new state is used here: what the storage says (key_ready, for
                    # the mail assignment) is never behind what this process hands out.
                    await self.storage.set_keys_ready(ready)
                self.checkpoint, self._usable_size = new_note, size_now
                self._proofs.clear()
                if usable_changed or ready != self._ready:
                    self._ready = ready
                    return True
        return False

    @property
    def _signed_size(self) -> int:
        return self._stored[0] if self._stored else 0

    async def keep(self) -> None:
        """The keeper's step: a checkpoint for new entries, fresh cosignatures when due, key_ready."""
        async with self._keeper_lock:
            now = self.clock()
            size = await self.storage.log_size()
            stored = await self.storage.latest_checkpoint()
            due = stored is None or size > stored[0]
            mono = time.monotonic()
            ws = witnesses(self.config)
            if not due and ws and stored is not None:
                stamps = [max((t for t, _ in _cosignature_lines(stored[1], w)), default=None) for w in ws]
                if any(t is None for t in stamps):
                    due = mono - self._missing_at >= WITNESS_RETRY_SECONDS
                else:
                    due = min(t for t in stamps if t is not None) <= now - self.config.witness_refresh_seconds \
                        and mono - self._asked_at >= WITNESS_RETRY_SECONDS
            if not due:
                reassert = mono - self._reasserted_at >= REASSERT_SECONDS
                if reassert:
                    self._reasserted_at = mono
                await self._update_ready(now, force=reassert)
                return
            self._asked_at = self._missing_at = mono
            if ws and self._http is None:
                self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WITNESS_TIMEOUT_SECONDS))
            try:
                await sign_and_cosign(self.storage, self.config, self.state, now=now, http=self._http)
            except LogError as exc:
                log.error("no checkpoint made: %s", exc)
                return
            await self.refresh()
            # key_ready follows the usable state whether or not it changed (another process may have
            # set it from an older view).
            await self._update_ready(now, force=True)

    async def _update_ready(self, now: int, *, force: bool = False) -> None:
        """key_ready (storage) = the accounts that are ready now; the callbacks hear of a change.

        Under the refresh's lock: computed from the state as one refresh left it, and written before the
        next refresh can write a newer set (else an older set, written last, could stay for good)."""
        async with self._refresh_lock:
            ready = self.state.ready_ids(self._usable_size, self._signed_size, now, self._rows)
            if force or ready != self._ready:
                await self.storage.set_keys_ready(ready)
            changed = ready != self._ready
            if changed:
                self._ready = ready
                self._proofs.clear()
        if changed:
            await self._changed()

    def statements(self) -> list[tuple[int, crypto.Statement]]:
        return list(self.state.statements)

    def status_for(self, account_id: bytes) -> str:
        return self.state.status(bytes(account_id), self._usable_size, self._signed_size, self.clock(),
                                 self._rows.get(bytes(account_id)))

    def proof_for(self, account_id: bytes) -> dict | None:
        """The key proof of the account's current key statement against the usable checkpoint, or None."""
        account_id = bytes(account_id)
        if account_id in self._proofs:
            proof = self._proofs[account_id]
            if proof is None or self.status_for(account_id) == STATUS_READY:
                return proof
        if self.status_for(account_id) != STATUS_READY or self.checkpoint is None or self._usable_size is None:
            return None
        index = self.state.key_index[account_id]
        size = self._usable_size
        proof = {
            "v": 1,
            "entry": crypto.b64encode(self.state.entries[index]),
            "index": index,
            "path": [crypto.b64encode(h) for h in self.state.tree.inclusion_proof(index, size)],
            "checkpoint": self.checkpoint,
            "revoked": crypto.b64encode(b"".join(self.state.revoked_ids(size))),
        }
        self._proofs[account_id] = proof
        return proof

    def revoked(self) -> bytes:
        """The revoked ids of the usable checkpoint (or of the latest stored one), concatenated."""
        size = self._usable_size if self._usable_size is not None else self._signed_size
        return b"".join(self.state.revoked_ids(size))


LOG = web.AppKey("log", TransparencyLog)


async def log_ctx(app: web.Application) -> Any:
    """The app's log: loaded after the storage opened, stopped before it closes."""
    from ..keys import CLOCK, CONFIG, STORAGE
    transparency = TransparencyLog(app[STORAGE], app[CONFIG], clock=app[CLOCK])
    await transparency.start()
    app[LOG] = transparency
    yield
    await transparency.stop()

