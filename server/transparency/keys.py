"""Key statements: what the server asks the coordinators' offline root key to sign, and the import
of what they signed (issue 17; crypto/PROTOCOL.md section 14).

The round trip, with the root key never on the server:

    oor keys pending --out REQUEST     (server)      pending_request: who needs a statement or a revocation
    oor root sign REQUEST --out SIGNED (coordinator) build_statements, after comparing each fingerprint aloud
    oor keys import SIGNED             (server)      import_signed: verified, appended to the log, checkpointed

What is pending is derived from the storage alone (the accounts and the log's entries), never from a
table of its own: an active account without a logged key statement needs one; a deactivated account
with a logged key statement and no revocation needs a revocation. So `oor volunteer deactivate`
leaves a revocation in the next request by itself.

Every input is size-capped before it is parsed (`parse_request`, `parse_signed`), and an import
changes nothing unless every statement in the file is right.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import crypto

from ..config import Config
from ..storage.interface import Storage
from .log import append_and_checkpoint

MAX_FILE_BYTES = 4 * 1024 * 1024      # a request or signed file; about 10,000 accounts
MAX_ITEMS = 10_000                    # requests or statements in one file
MAX_DAYS = 5 * 366                    # the longest validity `oor root sign --days` accepts
FILE_VERSION = 1


class KeysError(Exception):
    """A request, signed file or import that is refused; the message says why (English, for the CLI)."""


def _b64(value: Any, size: int, what: str) -> bytes:
    if not isinstance(value, str) or len(value) > 4 * size:
        raise KeysError(f"{what}: not base64 of {size} bytes")
    try:
        raw = crypto.b64decode(value)
    except (crypto.CryptoError, ValueError):
        raise KeysError(f"{what}: not base64 of {size} bytes") from None
    if len(raw) != size:
        raise KeysError(f"{what}: {len(raw)} bytes, expected {size}")
    return raw


def _load_json(data: bytes | str, what: str) -> dict[str, Any]:
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_FILE_BYTES:
        raise KeysError(f"{what}: larger than {MAX_FILE_BYTES} bytes")
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise KeysError(f"{what}: not JSON") from None
    if not isinstance(parsed, dict) or parsed.get("v") != FILE_VERSION:
        raise KeysError(f"{what}: not a version {FILE_VERSION} file")
    return parsed


def read_file(path: Any, what: str) -> dict[str, Any]:
    """A request or signed file from disk: the size checked before a byte is parsed."""
    with open(path, "rb") as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    return _load_json(raw, what)


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=True) + "\n"


# -- what the log holds ---------------------------------------------------------------------------

class Logged:
    """The key statements and revocations in the log's entries, by account id."""

    def __init__(self, entries: Iterable[bytes]) -> None:
        self.keys: dict[bytes, list[crypto.Statement]] = {}
        self.revoked: set[bytes] = set()
        self.statement_bytes: set[bytes] = set()
        for data in entries:
            entry = crypto.decode_entry(data)
            if entry.type != 1 or entry.statement is None:
                continue
            statement = crypto.decode_statement(entry.statement)
            self.statement_bytes.add(entry.statement)
            if statement.kind == crypto.KIND_REVOCATION:
                self.revoked.add(statement.account_id)
            else:
                self.keys.setdefault(statement.account_id, []).append(statement)


async def logged(storage: Storage) -> Logged:
    size = await storage.log_size()
    return Logged(await storage.log_entries(0, size) if size else [])


# -- the server: the request ----------------------------------------------------------------------

def _request_item(kind: str, volunteer: Any) -> dict[str, Any]:
    return {"kind": kind, "account_id": crypto.b64encode(volunteer.account_id), "name": volunteer.name,
            "role": volunteer.role, "x25519_public": crypto.b64encode(volunteer.x25519_public),
            "ed25519_public": crypto.b64encode(volunteer.ed25519_public),
            "fingerprint": crypto.fingerprint(volunteer.account_id, volunteer.x25519_public,
                                              volunteer.ed25519_public)}


async def pending_request(storage: Storage, config: Config, log: Any = None) -> dict[str, Any]:
    """The request file's content: active accounts without a logged key statement, deactivated accounts
    with a logged key statement and no revocation. Derived from the stored entries (the authority),
    so a running server's log (`log`, unused but for symmetry with the callers) cannot be stale here."""
    del log
    done = await logged(storage)
    requests: list[dict[str, Any]] = []
    for volunteer in await storage.list_volunteers():
        account_id = volunteer.account_id
        if len(account_id) != 16 or account_id in done.revoked:
            continue
        if volunteer.active and account_id not in done.keys:
            requests.append(_request_item("key", volunteer))
        elif not volunteer.active and account_id in done.keys:
            requests.append(_request_item("revocation", volunteer))
    return {"v": FILE_VERSION, "deployment_id": config.deployment_id, "requests": requests[:MAX_ITEMS]}


# -- the coordinator's machine: checking and signing ------------------------------------------------

def parse_request(request: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The deployment and the checked items of a request (each with its decoded fields and a
    recomputed fingerprint that must equal the one written in the file)."""
    if not isinstance(request, dict) or request.get("v") != FILE_VERSION:
        raise KeysError("request: not a version 1 request file")
    deployment = request.get("deployment_id")
    if not isinstance(deployment, str) or not 1 <= len(deployment.encode()) <= 64:
        raise KeysError("request: no deployment id")
    items = request.get("requests")
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise KeysError("request: no list of requests")
    checked = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise KeysError(f"request {n}: not an object")
        kind = item.get("kind")
        if kind not in ("key", "revocation"):
            raise KeysError(f"request {n}: kind must be 'key' or 'revocation'")
        role = item.get("role")
        if role not in crypto.ROLE_CODES:
            raise KeysError(f"request {n}: unknown role {role!r}")
        name = item.get("name")
        if not isinstance(name, str) or not 1 <= len(name.encode()) <= 128:
            raise KeysError(f"request {n}: no name")
        account_id = _b64(item.get("account_id"), 16, f"request {n}: account_id")
        x_pub = _b64(item.get("x25519_public"), 32, f"request {n}: x25519_public")
        ed_pub = _b64(item.get("ed25519_public"), 32, f"request {n}: ed25519_public")
        try:  # the statement's own rules (NFC, no control characters): nothing odd reaches the terminal
            crypto.encode_statement(crypto.Statement(
                kind=crypto.KIND_KEY, deployment_id=deployment, account_id=account_id, role=role, name=name,
                x25519_public=x_pub, ed25519_public=ed_pub, not_before=0, not_after=0))
        except crypto.CryptoError as exc:
            raise KeysError(f"request {n}: {exc}") from None
        fingerprint = crypto.fingerprint(account_id, x_pub, ed_pub)
        if item.get("fingerprint") != fingerprint:
            raise KeysError(f"request {n} ({name}): the fingerprint written in the file does not match its keys")
        checked.append({"kind": kind, "role": role, "name": name, "account_id": account_id,
                        "x25519_public": x_pub, "ed25519_public": ed_pub, "fingerprint": fingerprint})
    return deployment, checked


def build_statements(request: dict[str, Any], root: crypto.RootKey, *, now: int, days: int) -> dict[str, Any]:
    """Sign a statement for every item of the request: a key statement valid from `now` for `days`
    days, or a revocation (not_before = not_after = now). What `oor root sign` does once each item is
    confirmed (the CLI passes only the confirmed items)."""
    if not 1 <= days <= MAX_DAYS:
        raise KeysError(f"--days must be between 1 and {MAX_DAYS}")
    deployment, items = parse_request(request)
    out = []
    for item in items:
        revocation = item["kind"] == "revocation"
        statement = crypto.Statement(
            kind=crypto.KIND_REVOCATION if revocation else crypto.KIND_KEY, deployment_id=deployment,
            account_id=item["account_id"], role=item["role"], name=item["name"],
            x25519_public=item["x25519_public"], ed25519_public=item["ed25519_public"],
            not_before=now, not_after=now if revocation else now + days * 86400)
        data, signature = crypto.sign_statement(root, statement)
        out.append({"statement": crypto.b64encode(data), "signature": crypto.b64encode(signature)})
    return {"v": FILE_VERSION, "statements": out}


def roster_update(roster: dict[str, Any] | None, deployment: str, signed: dict[str, Any]) -> dict[str, Any]:
    """The coordinators' own record of what they signed (interfaces section 13): one row per account
    id with its latest status."""
    if roster is None:
        roster = {"v": FILE_VERSION, "deployment_id": deployment, "accounts": []}
    if roster.get("v") != FILE_VERSION or not isinstance(roster.get("accounts"), list):
        raise KeysError("roster: not a version 1 roster")
    if roster.get("deployment_id") != deployment:
        raise KeysError(f"roster: it is for deployment {roster.get('deployment_id')!r}, the request for {deployment!r}")
    rows = {row.get("account_id"): row for row in roster["accounts"] if isinstance(row, dict)}
    for item in signed["statements"]:
        data = crypto.b64decode(item["statement"])
        s = crypto.decode_statement(data)
        account = crypto.b64encode(s.account_id)
        rows[account] = {"account_id": account, "name": s.name, "role": s.role,
                         "fingerprint": crypto.fingerprint(s.account_id, s.x25519_public, s.ed25519_public),
                         "status": "revoked" if s.kind == crypto.KIND_REVOCATION else "key",
                         "statement_sha256": statement_sha256(data)}
    roster["accounts"] = list(rows.values())
    return roster


def statement_sha256(data: bytes) -> str:
    """The roster's digest of a statement's bytes (public bytes: a record, not a check)."""
    return hashlib.sha256(data).hexdigest()


# -- the server: the import -----------------------------------------------------------------------

def parse_signed(signed: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    if not isinstance(signed, dict) or signed.get("v") != FILE_VERSION:
        raise KeysError("signed file: not a version 1 signed file")
    items = signed.get("statements")
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise KeysError("signed file: no list of statements")
    out = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise KeysError(f"statement {n}: not an object")
        data = item.get("statement")
        if not isinstance(data, str) or len(data) > 1024:
            raise KeysError(f"statement {n}: missing or too long")
        try:
            raw = crypto.b64decode(data)
        except (crypto.CryptoError, ValueError):
            raise KeysError(f"statement {n}: not base64") from None
        out.append((raw, _b64(item.get("signature"), 64, f"statement {n}: signature")))
    return out


async def import_signed(storage: Storage, config: Config, signed: dict[str, Any], *, now: int) -> list[str]:
    """Verify every statement of a signed file and append them all to the log with a new checkpoint,
    or refuse the file (KeysError) and append nothing. Returns lines for the operator."""
    try:
        root_public = crypto.b64decode(config.root_public_key) if config.root_public_key else b""
    except (crypto.CryptoError, ValueError):
        root_public = b""
    if len(root_public) != 32:
        raise KeysError("root_public_key is not configured (run `oor root init` on a coordinator's machine "
                        "and put the public key it prints in root_public_key)")
    pairs = parse_signed(signed)
    done = await logged(storage)
    seen: set[bytes] = set()
    entries, lines = [], []
    for n, (data, signature) in enumerate(pairs, 1):
        try:
            s = crypto.verify_statement(root_public, data, signature)
        except crypto.CryptoError:
            raise KeysError(f"statement {n}: the root signature does not verify under root_public_key") from None
        who = f"statement {n} ({s.name}, {s.role})"
        if s.deployment_id != config.deployment_id:
            raise KeysError(f"{who}: for deployment {s.deployment_id!r}, this server is {config.deployment_id!r}")
        volunteer = await storage.volunteer_by_account_id(s.account_id)
        if volunteer is None:
            raise KeysError(f"{who}: no account with this account id")
        if (volunteer.x25519_public, volunteer.ed25519_public) != (s.x25519_public, s.ed25519_public):
            raise KeysError(f"{who}: the keys differ from the account's")
        if (volunteer.name, volunteer.role) != (s.name, s.role):
            raise KeysError(f"{who}: the name or role differs from the account's "
                            f"({volunteer.name}, {volunteer.role})")
        if s.account_id in seen or data in done.statement_bytes:
            raise KeysError(f"{who}: already logged")
        if s.account_id in done.revoked:
            raise KeysError(f"{who}: this account id is revoked for good")
        if s.kind == crypto.KIND_KEY:
            if not volunteer.active:
                raise KeysError(f"{who}: the account is deactivated")
            if s.account_id in done.keys:
                raise KeysError(f"{who}: a key statement for this account is logged already")
            if s.not_after < now:
                raise KeysError(f"{who}: expired already")
        seen.add(s.account_id)
        entries.append(crypto.statement_entry(data, signature))
        kind = "revocation" if s.kind == crypto.KIND_REVOCATION else "key statement"
        lines.append(f"{kind} for {s.name} ({s.role}), fingerprint "
                     f"{crypto.fingerprint(s.account_id, s.x25519_public, s.ed25519_public)}")
    if not entries:
        return ["nothing to import"]
    await append_and_checkpoint(storage, config, entries, now=now)
    size = await storage.log_size()
    return [*lines, f"logged {len(entries)}; the log now holds {size} entries"]


# -- the CLI: `oor root ...` (coordinator's machine) and `oor keys ...` (server) -------------------

MIN_PASSPHRASE_CHARS = 12
MAX_ROOT_FILE_BYTES = 4096


def add_commands(sub: Any, common: Any) -> None:
    """The `root` and `keys` subcommands of server/cli.py."""
    from pathlib import Path
    root = sub.add_parser("root", help="the helpline's offline root key (on a coordinator's own machine, never "
                                       "on the server)")
    rsub = root.add_subparsers(dest="root_action", required=True)
    init = rsub.add_parser("init", help="make the root key pair; prints the public key for root_public_key")
    init.add_argument("--out", type=Path, required=True, help="the root key file to write (mode 0600)")
    init.add_argument("--passphrase-file", type=Path, dest="passphrase_file",
                      help="read the passphrase from this file's first line (scripts; default: ask twice)")
    init.add_argument("--insecure-kdf", action="store_true", dest="insecure_kdf",
                      help=argparse.SUPPRESS)  # tests only: libsodium's Argon2id floor
    sign = rsub.add_parser("sign", help="sign a request from `oor keys pending`, after comparing each "
                                        "fingerprint with the person")
    sign.add_argument("request", type=Path, help="the request file")
    sign.add_argument("--out", type=Path, required=True, help="the signed file to write, for `oor keys import`")
    sign.add_argument("--key", type=Path, required=True, help="the root key file (`oor root init`)")
    sign.add_argument("--days", type=int, default=365, help="how long a key statement is valid (default 365)")
    sign.add_argument("--roster", type=Path, help="the coordinators' record of what they signed (created or updated)")
    sign.add_argument("--deployment", help="refuse a request for any other deployment id")
    sign.add_argument("--passphrase-file", type=Path, dest="passphrase_file",
                      help="read the passphrase from this file's first line (scripts; default: ask)")
    sign.add_argument("--yes", action="store_true", help="sign every request without asking (scripts only: "
                                                         "compare the fingerprints first)")
    keys = sub.add_parser("keys", help="key statements: what waits for the root key's signature, and importing it")
    ksub = keys.add_subparsers(dest="keys_action", required=True)
    pending = ksub.add_parser("pending", help="write the request file for `oor root sign`")
    common(pending)
    pending.add_argument("--out", type=Path, required=True, help="the request file to write")
    imp = ksub.add_parser("import", help="verify a signed file from `oor root sign` and add it to the log")
    common(imp)
    imp.add_argument("signed", type=Path, help="the signed file")


def _read_passphrase(path: Any, *, twice: bool) -> str:
    import getpass
    if path is not None:
        with open(path, "rb") as f:
            raw = f.read(1025)
        if len(raw) > 1024:
            raise KeysError("the passphrase file is longer than 1024 bytes")
        lines = raw.decode("utf-8").splitlines()
        return lines[0] if lines else ""
    first = getpass.getpass("Passphrase of the root key: ")
    if twice and getpass.getpass("The same passphrase again: ") != first:
        raise KeysError("the two passphrases differ; nothing was written")
    return first


def _write_new(path: Any, text: str, mode: int = 0o600) -> None:
    import os
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _write_replace(path: Any, text: str) -> None:
    import os
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def root_init(args: Any) -> int:
    import os
    if os.path.exists(args.out):
        raise KeysError(f"{args.out} exists: a root key is never overwritten")
    passphrase = _read_passphrase(args.passphrase_file, twice=True)
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise KeysError(f"the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")
    params = (crypto.KdfParams(crypto.MIN_OPSLIMIT, crypto.MIN_MEMLIMIT) if args.insecure_kdf
              else crypto.PRODUCTION_KDF)
    root = crypto.RootKey.generate()
    text = crypto.seal_root_key(passphrase, root, opslimit=params.opslimit, memlimit=params.memlimit)
    _write_new(args.out, text)
    public = crypto.b64encode(root.public)
    print(f"Root key written to {args.out} (protected by the passphrase; keep it off the server, with a copy "
          "in a safe place).")
    print("Put this in the server's configuration (oor.toml), and in every copy of it:")
    print(f'  root_public_key = "{public}"')
    return 0


def _open_root(path: Any, passphrase_file: Any) -> crypto.RootKey:
    with open(path, "rb") as f:
        raw = f.read(MAX_ROOT_FILE_BYTES + 1)
    if len(raw) > MAX_ROOT_FILE_BYTES:
        raise KeysError(f"{path}: not a root key file (too long)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KeysError(f"{path}: not a root key file") from None
    passphrase = _read_passphrase(passphrase_file, twice=False)
    try:
        return crypto.open_root_key(passphrase, text)
    except crypto.DecryptionFailed:
        raise KeysError("wrong passphrase (or a damaged root key file): nothing was signed") from None
    except crypto.CryptoError:
        raise KeysError(f"{path}: not a root key file") from None


def root_sign(args: Any, *, ask: Any = input, now: int | None = None) -> int:
    import os
    import time
    request = read_file(args.request, "request")
    deployment, items = parse_request(request)
    roster = read_file(args.roster, "roster") if args.roster is not None and os.path.exists(args.roster) else None
    if args.deployment is not None and args.deployment != deployment:
        raise KeysError(f"the request is for deployment {deployment!r}, not {args.deployment!r}: nothing was signed")
    if roster is not None and roster.get("deployment_id") != deployment:
        raise KeysError(f"the request is for deployment {deployment!r}, the roster for "
                        f"{roster.get('deployment_id')!r}: nothing was signed")
    if not 1 <= args.days <= MAX_DAYS:
        raise KeysError(f"--days must be between 1 and {MAX_DAYS}")
    if not items:
        print("The request holds nothing to sign.")
        return 0
    root = _open_root(args.key, args.passphrase_file)
    print(f"Deployment: {deployment}; {len(items)} request(s).")
    known = {row.get("account_id"): row for row in (roster or {}).get("accounts", []) if isinstance(row, dict)}
    confirmed = []
    for n, item in enumerate(items, 1):
        what = "KEY" if item["kind"] == "key" else "REVOCATION"
        print(f"\n{n}/{len(items)} {what}: {item['name']} ({item['role']})\n"
              f"  account id  {crypto.b64encode(item['account_id'])}\n"
              f"  fingerprint {item['fingerprint']}")
        row = known.get(crypto.b64encode(item["account_id"]))
        if item["kind"] == "key" and row is not None:
            # The roster says a key was signed for this account already: a second key for one account is
            # what a server that swaps keys would ask for. Never signed; re-enrolment makes a new account.
            print(f"  REFUSED: the roster already has a key for this account ({row.get('status')}, fingerprint "
                  f"{row.get('fingerprint')}); a new key needs a new account")
            continue
        twins = [r for r in known.values() if item["kind"] == "key" and r.get("status") == "key"
                 and r.get("name") == item["name"] and r.get("role") == item["role"]]
        for twin in twins:
            print(f"  WARNING: the roster has another account with this name and role, fingerprint "
                  f"{twin.get('fingerprint')}: is this the same person with a new account? Revoke the old one.")
        if args.yes:
            confirmed.append(request["requests"][n - 1])
            continue
        question = ("  Is this the fingerprint the person read to you? Sign it? [y/N] " if item["kind"] == "key"
                    else "  Revoke this account for good? [y/N] ")
        if ask(question).strip().lower() in ("y", "yes", "j", "ja"):
            confirmed.append(request["requests"][n - 1])
        else:
            print("  skipped")
    if not confirmed:
        print("Nothing signed.")
        return 1
    signed = build_statements({**request, "requests": confirmed}, root,
                              now=int(time.time()) if now is None else now, days=args.days)
    _write_replace(args.out, dumps(signed))
    if args.roster is not None:
        _write_replace(args.roster, dumps(roster_update(roster, deployment, signed)))
    print(f"\nSigned {len(confirmed)}; written to {args.out}"
          + (f", roster {args.roster} updated" if args.roster is not None else "")
          + ". Take it to the server: oor keys import FILE")
    return 0


def root_command(args: Any) -> int:
    import sys
    try:
        return root_init(args) if args.root_action == "init" else root_sign(args)
    except (KeysError, OSError) as exc:
        print(f"oor: {exc}", file=sys.stderr)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("oor: stopped; nothing was signed", file=sys.stderr)
        return 1


async def _pending(storage: Storage, config: Config, out: Any) -> list[str]:
    request = await pending_request(storage, config)
    _write_replace(out, dumps(request))
    lines = [f"{item['kind']:<10} {item['name']} ({item['role']})  {item['fingerprint']}"
             for item in request["requests"]]
    return [*lines, f"{len(request['requests'])} request(s) written to {out}"
            + (": take it to a coordinator (oor root sign)" if request["requests"] else "")]


def keys_command(config: Config, args: Any, with_storage: Any) -> int:
    import asyncio
    import sys
    import time
    try:
        if args.keys_action == "pending":
            lines = asyncio.run(with_storage(config, lambda s: _pending(s, config, args.out)))
        else:
            signed = read_file(args.signed, "signed file")
            lines = asyncio.run(with_storage(config, lambda s: import_signed(s, config, signed,
                                                                              now=int(time.time()))))
    except (KeysError, OSError) as exc:
        print(f"oor: refused: {exc}" + ("; nothing was imported" if args.keys_action == "import" else ""),
              file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


# -- `oor serve --demo`: a demo root key in the data folder, signing the demo accounts ------------

DEMO_ROOT_FILE = "demo-root.key"
DEMO_PASSPHRASE = "luisterend-oor demo root key"  # a demo only: the file says so, and so does the banner
DEMO_SIGN_SECONDS = 1.0


def demo_root(config: Config) -> tuple[Config, crypto.RootKey | None, str]:
    """The demo's root key (made in the data folder on first use, Argon2id at libsodium's floor: a demo,
    never a deployment) and the configuration that trusts it. With a root_public_key of its own the
    configuration is kept, and the demo signs nothing (a line says so)."""
    import dataclasses
    from pathlib import Path
    path = Path(config.data_dir) / DEMO_ROOT_FILE
    if path.exists():
        root = crypto.open_root_key(DEMO_PASSPHRASE, path.read_text(encoding="utf-8"))
    else:
        root = crypto.RootKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_new(path, crypto.seal_root_key(DEMO_PASSPHRASE, root, opslimit=crypto.MIN_OPSLIMIT,
                                              memlimit=crypto.MIN_MEMLIMIT))
    public = crypto.b64encode(root.public)
    if config.root_public_key and config.root_public_key != public:
        return config, None, ("Demo: root_public_key is configured, so the demo accounts are not signed by "
                              "themselves: sign them with oor keys pending / oor root sign / oor keys import.")
    line = (f"Demo: the root key is a DEMO key in {path} (its passphrase is in the source: never use it for a "
            "deployment); the demo accounts are signed with it as soon as they are enrolled.")
    return dataclasses.replace(config, root_public_key=public), root, line


async def demo_signer(storage: Storage, config: Config, root: crypto.RootKey, names: Iterable[str], *,
                      clock: Any = None) -> None:
    """Sign, every second, the pending requests of the demo accounts (and nothing else), through the same
    path as the coordinators: build_statements and import_signed."""
    import asyncio
    import logging
    import time
    wanted = set(names)
    while True:
        try:
            request = await pending_request(storage, config)
            mine = [r for r in request["requests"] if r["name"] in wanted]
            if mine:
                now = int(clock() if clock is not None else time.time())
                signed = build_statements({**request, "requests": mine}, root, now=now, days=365)
                for line in await import_signed(storage, config, signed, now=now):
                    logging.getLogger("oor").info("demo root key: %s", line)
        except asyncio.CancelledError:
            raise
        except Exception:
            logging.getLogger("oor").exception("demo root key: signing failed")
        await asyncio.sleep(DEMO_SIGN_SECONDS)
