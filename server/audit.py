"""`oor audit`: check a running instance (and its data folder) against the threat model's claims.

    oor audit --url URL [--data DIR] [--out FILE] [--manifest FILE] [--from-address ADDR]
              [--log-state FILE] [--roster FILE] [--root-public-key B64] [--log-key VKEY]
              [--witness VKEY ...] [--quorum N]

Each check names the claim it verifies and ends as pass, fail or "not checkable
from outside" (with the reason). The synthetic chat and mail are driven through
the public interface by the protocol client (`client/`, with the `crypto`
facade: the same bytes as the browser's crypto.js), from a loopback address
that appears nowhere else, so that finding it, or the text sent, in the data
folder proves a leak. Exit status 1 when any check fails.

The transparency log (crypto/PROTOCOL.md section 14) is audited as a client of its public
C2SP tlog-tiles endpoints under /log/, never through the server's database: the checkpoint is
verified with the auditor's own trust anchors (root key, log key, witnesses; those not given are
taken from the server's /js/trust.js and the report says so), every entry bundle and hash tile is
fetched and the root recomputed, the new checkpoint must be consistent with the one saved in the
`--log-state` file by the last run (replaced, atomically, only when no log check failed), the
revoked set must equal the logged revocations, every key statement and revocation
must match the coordinators' roster (`oor root sign --roster`), and the files served must equal
the latest logged release manifest.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import os
import re
import secrets
import socket
import sqlite3
import ssl
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

import crypto
from client import chat, mail
from client.transport import kdf_params, origin_of, solved_challenge
from client.volunteer import login_body

from .assets import REPO_ROOT
from .config import PRODUCTION_MIN_MEMLIMIT_KIB, PRODUCTION_MIN_OPSLIMIT

PAGES = ("/", "/chat", "/mail", "/mail/terug", "/inschrijven", "/vrijwilliger", "/api/health", "/bestaat-niet")
INVENTORY = REPO_ROOT / "threat_model" / "data_inventory.toml"
PASS, FAIL, UNCHECKABLE = "pass", "fail", "not checkable from outside"

# -- the transparency log (C2SP tlog-tiles under /log/; crypto/PROTOCOL.md section 14) --------------
# Every answer is capped before it is parsed: a hostile instance must not make the auditor read without end.
TILE_WIDTH = 256
HASH_SIZE = 32
ACCOUNT_ID_SIZE = 16
MAX_CHECKPOINT = crypto.MAX_NOTE_BYTES
MAX_TILE = TILE_WIDTH * HASH_SIZE
MAX_BUNDLE = TILE_WIDTH * (2 + crypto.MAX_ENTRY_BYTES)
MAX_LOG_SIZE = 1 << 20                             # entries one audit reads: far beyond a helpline's statements
MAX_REVOKED = ACCOUNT_ID_SIZE * MAX_LOG_SIZE
MAX_MANIFEST = 4 << 20
MAX_TRUST_JS = 64 * 1024
MAX_ASSETS = 4 << 20
MAX_ASSET = 32 << 20                               # one served file (libsodium's sumo build is the largest)
MAX_ROSTER = 16 << 20
MAX_STATE = 64 * 1024
LOG_ATTEMPTS = 3                                   # refetch when the log grew while it was read

C_LOG = ("The log checkpoint verifies and its entries and tiles recompute its root", "TLOG-1")
C_CONSISTENT = ("The log is consistent with the checkpoint this auditor saw last", "TLOG-2")
C_STATEMENTS = ("Every key statement and revocation is root-signed and matches the roster", "TLOG-3")
C_REVOKED = ("The revoked set equals the logged revocations", "TLOG-4")
C_RELEASE = ("The served files equal the latest logged release manifest", "TLOG-5, WEB-2")
C_TRUST = ("The pages' trust configuration equals the auditor's trust anchors", "TLOG-6")


class AuditFailure(Exception):
    """What the instance answered makes a check fail; the message says what."""


@dataclass
class Anchors:
    """What the auditor brings instead of believing the server: None or empty = take the server's."""

    root_public_key: str | None = None
    log_key: str | None = None
    witnesses: tuple[str, ...] = ()
    quorum: int | None = None


@dataclass
class Result:
    check: str
    claims: str
    outcome: str
    detail: str


@dataclass
class Audit:
    url: str
    data: Path | None = None
    manifest: Path | None = None
    from_address: str | None = None
    log_state: Path | None = None
    roster: Path | None = None
    anchors: Anchors = field(default_factory=Anchors)
    results: list[Result] = field(default_factory=list)
    snapshots: list[bytes] = field(default_factory=list)
    tables: list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    new_state: dict | None = None
    _assets: dict[str, str] | None = None
    _served: dict[str, str] = field(default_factory=dict)

    def snapshot(self) -> None:
        """Read every file of the data folder as it is now."""
        if self.data is not None:
            self.snapshots.append(b"".join(p.read_bytes() for p in sorted(self.data.rglob("*")) if p.is_file()))

    def record(self, check: str, claims: str, ok: bool | None, detail: str) -> None:
        outcome = UNCHECKABLE if ok is None else (PASS if ok else FAIL)
        self.results.append(Result(check, claims, outcome, detail))

    @property
    def failed(self) -> bool:
        return any(r.outcome == FAIL for r in self.results)

    # -- running ---------------------------------------------------------------------------

    def session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(local_addr=(self.from_address, 0) if self.from_address else None,
                                         force_close=True)
        return aiohttp.ClientSession(base_url=self.url, connector=connector,
                                     cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def run(self) -> None:
        async with self.session() as http:
            for name, claims, check in (
                    ("Security headers and CSP on every page", "WEB-1, WEB-3", self.check_headers),
                    ("Subresource Integrity equals the published asset manifest", "WEB-2", self.check_integrity),
                    ("Argon2id parameters at or above 3 passes and 64 MiB", "KEY-5", self.check_kdf),
                    ("No plaintext or client address in the data folder", "CHAT-1, MAIL-1", self.check_synthetic),
                    ("Session cookie flags", "AUTH-4", self.check_cookie),
                    ("The transparency log", "TLOG-1", self.check_log)):
                try:
                    await check(http)
                except Exception as exc:  # an instance that answers unexpectedly fails the check, not the audit
                    self.record(name, claims, False, f"could not be checked: {type(exc).__name__}: {exc}")
        for name, claims, plain in (("TLS 1.2 or newer", "deployment", self.check_tls),
                                    ("The schema equals the data inventory", "DATA-1", self.check_schema)):
            try:
                plain()
            except Exception as exc:
                self.record(name, claims, False, f"could not be checked: {type(exc).__name__}: {exc}")

    # -- checks -----------------------------------------------------------------------------

    async def check_headers(self, http: aiohttp.ClientSession) -> None:
        problems: list[str] = []
        for path in PAGES:
            async with http.get(path) as resp:
                h = resp.headers
                csp = h.get("Content-Security-Policy", "")
                directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
                if directives.get("default-src") != "default-src 'none'":
                    problems.append(f"{path}: default-src is not 'none'")
                if directives.get("frame-ancestors") != "frame-ancestors 'none'":
                    problems.append(f"{path}: frame-ancestors is not 'none'")
                if "unsafe-inline" in csp or "'unsafe-eval'" in csp or "*" in directives.get("script-src", ""):
                    problems.append(f"{path}: CSP allows unsafe script sources")
                for header, want in (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                                     ("Cross-Origin-Opener-Policy", "same-origin")):
                    if h.get(header) != want:
                        problems.append(f"{path}: {header} is {h.get(header)!r}, want {want!r}")
                if "Permissions-Policy" not in h:
                    problems.append(f"{path}: no Permissions-Policy")
                if "Set-Cookie" in h:
                    problems.append(f"{path}: sets a cookie for an anonymous visitor")
                if self.url.startswith("https://") and "Strict-Transport-Security" not in h:
                    problems.append(f"{path}: no HSTS over TLS")
        self.record("Security headers and CSP on every page", "WEB-1, WEB-3", not problems,
                    "; ".join(problems) or f"{len(PAGES)} pages checked")

    async def check_integrity(self, http: aiohttp.ClientSession) -> None:
        problems: list[str] = []
        manifest = await self.served_assets(http)
        if self.manifest is not None:
            reviewed = json.loads(self.manifest.read_text(encoding="utf-8"))
            reviewed = reviewed.get("assets", reviewed)
            if reviewed != manifest:
                differ = sorted(set(reviewed.items()) ^ set(manifest.items()))
                problems.append(f"published hashes differ from the reviewed manifest: {differ[:4]}")
        for url, sri in manifest.items():
            if await self.served_sri(http, url) != sri:
                problems.append(f"{url}: served bytes do not match the published hash")
        for path in PAGES[:6]:
            async with http.get(path) as resp:
                page = await resp.text()
            for tag in re.findall(r"<script[^>]*\bsrc=\"[^\"]+\"[^>]*>|<link rel=\"stylesheet\"[^>]*>", page):
                src = html.unescape(re.search(r'(?:src|href)="([^"]+)"', tag).group(1))
                if not src.startswith("/"):
                    problems.append(f"{path}: third-party script or style {src}")
                    continue
                want = manifest.get(src)
                if want is None or f'integrity="{want}"' not in tag:
                    problems.append(f"{path}: {src} lacks the published integrity hash")
            for block in re.findall(r'<script type="importmap">(.*?)</script>', page, re.S):
                for url, sri in json.loads(block).get("integrity", {}).items():
                    if manifest.get(url) != sri:
                        problems.append(f"{path}: import map integrity for {url} differs from the manifest")
        self.record("Subresource Integrity equals the published asset manifest", "WEB-2", not problems,
                    "; ".join(problems) or f"{len(manifest)} assets checked")

    async def check_kdf(self, http: aiohttp.ClientSession) -> None:
        name = "Audit" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12))
        async with http.post("/api/login/start", json={"name": name}) as resp:
            kdf = (await resp.json()).get("kdf", {})
        problems = []
        if kdf.get("opslimit", 0) < PRODUCTION_MIN_OPSLIMIT:
            problems.append(f"volunteer opslimit {kdf.get('opslimit')} < {PRODUCTION_MIN_OPSLIMIT}")
        if kdf.get("memlimit", 0) < PRODUCTION_MIN_MEMLIMIT_KIB * 1024:
            problems.append(f"volunteer memlimit {kdf.get('memlimit')} < {PRODUCTION_MIN_MEMLIMIT_KIB * 1024}")
        mail_kdf = (await mail.page_settings(http)).get("kdf", {})
        if mail_kdf.get("opslimit", 0) < PRODUCTION_MIN_OPSLIMIT or \
                mail_kdf.get("memlimit", 0) < PRODUCTION_MIN_MEMLIMIT_KIB * 1024:
            problems.append(f"mail token parameters {mail_kdf} below the minimum")
        self.record("Argon2id parameters at or above 3 passes and 64 MiB", "KEY-5", not problems,
                    "; ".join(problems) or f"volunteers {kdf}, mail tokens {mail_kdf}")

    async def check_synthetic(self, http: aiohttp.ClientSession) -> None:
        marker = "oor-audit-" + secrets.token_hex(12)
        sent: list[str] = []
        sent += await self._synthetic_mail(http, marker)
        sent += await self._synthetic_chat(http)
        if self.data is None:
            self.record("No plaintext or client address in the data folder", "CHAT-1, MAIL-1, DATA-1", None,
                        "give --data DIR to check the data folder")
            return
        if not sent:
            self.record("No plaintext or client address in the data folder", "CHAT-1, MAIL-1", None,
                        "nobody was on duty for chat or mail, so nothing synthetic could be sent")
            return
        self.snapshot()
        stored = b"".join(self.snapshots)
        needles = [marker.encode()]
        if self.from_address:
            needles += [self.from_address.encode(), socket.inet_aton(self.from_address)]
        found = [n for n in needles for form in _encodings(n) if form in stored]
        self.record("No plaintext or client address in the data folder after a synthetic " + " and ".join(sent),
                    "CHAT-1, MAIL-1", not found,
                    f"found {len(found)} traces" if found else f"marker and {self.from_address or 'address'} absent")

    async def _synthetic_mail(self, http: aiohttp.ClientSession, marker: str) -> list[str]:
        async with await mail.assign(http) as resp:
            if resp.status == 503:
                return []
            assigned = await resp.json()
        settings = await mail.page_settings(http)
        seeker = await mail.MailSeeker.derived_off_loop(http, settings["deployment_id"], kdf_params(settings["kdf"]))
        async with await seeker.create(assigned, f"{marker} (oor audit)") as resp:
            created = resp.status == 201
        if created:
            self.snapshot()  # while the thread exists: its ciphertext must not show the text
            # Leave nothing behind for the volunteer to answer: the help-seeker's own delete.
            async with await seeker.delete():
                pass
        return ["mail"] if created else []

    async def _synthetic_chat(self, http: aiohttp.ClientSession) -> list[str]:
        async with http.get("/api/chat/status") as resp:
            if not (await resp.json()).get("available"):
                return []
        solved = await solved_challenge(http, chat.CHALLENGE_PATH)
        async with http.ws_connect("/ws/chat", headers={"Origin": origin_of(self.url)}) as ws:
            opened = (await chat.Seeker(ws).open_solved(solved))["t"] == "queued"
            if opened:
                self.snapshot()  # while the chat is open and this address is connected
                await ws.send_json({"t": "end"})
        return ["chat"] if opened else []

    async def check_cookie(self, http: aiohttp.ClientSession) -> None:
        """Log in as a volunteer (only when the auditor was given an account) and read the cookie's flags."""
        name, passphrase = os.environ.get("OOR_AUDIT_VOLUNTEER"), os.environ.get("OOR_AUDIT_PASSPHRASE")
        if not name or not passphrase:
            self.record("Session cookie flags", "AUTH-4", None,
                        "needs an account: set OOR_AUDIT_VOLUNTEER and OOR_AUDIT_PASSPHRASE")
            return
        async with http.post("/api/login", json=await login_body(http, name, passphrase)) as resp:
            cookies = resp.headers.getall("Set-Cookie", [])
            status = resp.status
        async with http.post("/api/logout", json={}):
            pass
        if status != 200 or not cookies:
            self.record("Session cookie flags", "AUTH-4", False, f"login as {name} failed ({status})")
            return
        cookie = cookies[0]
        flags = [part.strip().lower() for part in cookie.split(";")[1:]]
        problems = [f for f, ok in (("HttpOnly", "httponly" in flags), ("SameSite=Strict", "samesite=strict" in flags),
                                    ("Secure", "secure" in flags or not self.url.startswith("https://")))
                    if not ok]
        self.record("Session cookie flags", "AUTH-4", not problems,
                    f"missing {', '.join(problems)}" if problems else "HttpOnly, SameSite=Strict"
                    + (", Secure" if self.url.startswith("https://") else ""))

    def check_tls(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "https":
            loopback = parts.hostname in ("localhost",) or (parts.hostname or "").startswith("127.")
            self.record("TLS 1.2 or newer", "deployment", None if loopback else False,
                        "plain http on loopback (test or behind a proxy)" if loopback else "served without TLS")
            return
        context = ssl.create_default_context()
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
            version = tls.version() or ""
        self.record("TLS 1.2 or newer", "deployment", version in ("TLSv1.2", "TLSv1.3"), f"negotiated {version}")

    def check_schema(self) -> None:
        if self.data is None:
            self.record("The schema equals the data inventory", "DATA-1", None, "give --data DIR")
            return
        db = self.data / "oor.sqlite3"
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            schema = {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
        finally:
            conn.close()
        declared = {t: set(spec["columns"]) for t, spec in tomllib.loads(
            INVENTORY.read_text(encoding="utf-8"))["tables"].items()}
        problems = [f"table {t} is not declared" for t in schema.keys() - declared.keys()]
        problems += [f"declared table {t} is missing" for t in declared.keys() - schema.keys()]
        for t in schema.keys() & declared.keys():
            problems += [f"{t}.{c} is not declared" for c in schema[t] - declared[t]]
            problems += [f"declared {t}.{c} is missing" for c in declared[t] - schema[t]]
        self.record("The schema equals the data inventory", "DATA-1", not problems,
                    "; ".join(problems) or f"{len(schema)} tables match")

    # -- fetching, capped ----------------------------------------------------------------------

    async def served_assets(self, http: aiohttp.ClientSession) -> dict[str, str]:
        """/api/assets: every URL served with its SRI hash (fetched once per audit)."""
        if self._assets is None:
            data = json.loads(await _get(http, "/api/assets", MAX_ASSETS))
            assets = data.get("assets") if isinstance(data, dict) else None
            if not isinstance(assets, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in assets.items()):
                raise AuditFailure("/api/assets is not a map of URLs to hashes")
            self._assets = assets
        return self._assets

    async def served_sri(self, http: aiohttp.ClientSession, url: str) -> str:
        """The sha384 SRI hash of the bytes served at `url` (fetched once per audit)."""
        if url not in self._served:
            try:
                body = await _get(http, url, MAX_ASSET)
                self._served[url] = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
            except AuditFailure as exc:
                self._served[url] = str(exc)
        return self._served[url]

    # -- the transparency log ------------------------------------------------------------------

    async def check_log(self, http: aiohttp.ClientSession) -> None:
        """TLOG-1..6: the log, its consistency, revocations, the roster, the release, the trust anchors."""
        later = (C_CONSISTENT, C_REVOKED, C_STATEMENTS, C_RELEASE)
        trust, unusable = None, None
        try:
            trust = await self._trust(http)
        except (AuditFailure, crypto.CryptoError, ValueError, KeyError, TypeError) as exc:
            unusable = f"no usable /js/trust.js: {_why(exc)}"
        try:
            anchors = self._resolve_anchors(trust, unusable)
        except (crypto.CryptoError, ValueError) as exc:
            self.record(*C_TRUST, False, f"the auditor's anchors are malformed: {exc}")
            anchors = None
        if anchors is None:
            for check in (C_LOG, *later):
                self.record(*check, False, "not checked: no trust anchors (neither given nor in trust.js)")
            return
        try:
            note, checkpoint, entries, tree, revoked = await self._fetch_log(http, anchors)
        except (AuditFailure, crypto.CryptoError, UnicodeDecodeError) as exc:
            self.record(*C_LOG, False, _why(exc))
            for check in later:
                self.record(*check, False, "not checked: the log did not verify")
            return
        self.record(*C_LOG, True, f"checkpoint of {checkpoint.size} entries signed by {anchors['origin']}, "
                                  f"{anchors['quorum']} cosignature(s) required; every entry bundle and hash "
                                  f"tile fetched and the root recomputed")
        decoded = [crypto.decode_entry(e) for e in entries]
        for name, claims, step in (
                (*C_CONSISTENT, lambda: self._check_consistency(note, checkpoint, tree)),
                (*C_REVOKED, lambda: self._check_revoked(checkpoint, decoded, revoked)),
                (*C_STATEMENTS, lambda: self._check_statements(decoded, anchors))):
            try:
                step()
            except (AuditFailure, crypto.CryptoError, OSError, ValueError, KeyError, TypeError) as exc:
                self.record(name, claims, False, _why(exc))
        try:
            await self._check_release(http, decoded, anchors)
        except (AuditFailure, crypto.CryptoError, ValueError, KeyError, TypeError) as exc:
            self.record(*C_RELEASE, False, _why(exc))

    async def _trust(self, http: aiohttp.ClientSession) -> dict:
        """The trust configuration the pages are given: the module /js/trust.js as listed in /api/assets."""
        assets = await self.served_assets(http)
        urls = [url for url in assets if url.endswith("/js/trust.js")]
        if len(urls) != 1:
            raise AuditFailure(f"/api/assets lists {len(urls)} trust.js modules, not one")
        text = (await _get(http, urls[0], MAX_TRUST_JS)).decode("utf-8")
        found = re.search(r"export const TRUST = Object\.freeze\((\{.*\})\);?\s*$", text, re.S)
        if found is None:
            raise AuditFailure(f"{urls[0]} is not `export const TRUST = Object.freeze({{...}});`")
        trust = json.loads(found.group(1))
        if not isinstance(trust, dict):
            raise AuditFailure("the trust configuration is not an object")
        return trust

    def _resolve_anchors(self, trust: dict | None, unusable: str | None = None) -> dict | None:
        """The anchors the audit verifies with (the auditor's, else the server's), recording TLOG-6."""
        problems: list[str] = [unusable] if unusable else []
        taken: list[str] = []
        given = self.anchors
        served: dict = {}
        if trust is not None:
            try:
                served = {"deployment_id": str(trust["deployment_id"]),
                          "root": _key32(trust["root_public_key"]),
                          "origin": str(trust["log"]["origin"]), "log": _key32(trust["log"]["public_key"]),
                          "witnesses": {(str(w["name"]), _key32(w["public_key"])) for w in trust["witnesses"]},
                          "quorum": int(trust["quorum"]), "max_age": int(trust["max_age"])}
            except (KeyError, TypeError, ValueError, crypto.CryptoError) as exc:
                problems.append(f"trust.js is malformed ({type(exc).__name__}: {exc})")
                served = {}
        anchors = dict(served)
        if given.root_public_key:
            anchors["root"] = _key32(given.root_public_key)
            if served and served["root"] != anchors["root"]:
                problems.append("trust.js names another root public key than the auditor's")
        else:
            taken.append("root key")
        if given.log_key:
            # The vkey, or the "ORIGIN=VKEY" line `oor log init` prints (a vkey holds no "=": 33 bytes of base64).
            origin, _, vkey = given.log_key.rpartition("=")
            name, alg, public = crypto.parse_vkey(vkey)
            if origin and origin != name:
                raise ValueError(f"--log-key names origin {origin!r} and a key named {name!r}")
            if alg != 1:
                raise ValueError("--log-key is not an Ed25519 signed-note key")
            anchors["origin"], anchors["log"] = name, public
            if served and (served["origin"], served["log"]) != (name, public):
                problems.append("trust.js names another log origin or log key than the auditor's")
        else:
            taken.append("log key")
        if given.witnesses:
            mine = set()
            for vkey in given.witnesses:
                name, _alg, public = crypto.parse_vkey(vkey)
                mine.add((name, public))
            anchors["witnesses"] = mine
            if served and served["witnesses"] != mine:
                extra = sorted(n for n, _ in served["witnesses"] - mine)
                lacking = sorted(n for n, _ in mine - served["witnesses"])
                problems.append(f"trust.js witnesses differ from the auditor's (unknown to the auditor: "
                                f"{', '.join(extra) or 'none'}; missing: {', '.join(lacking) or 'none'})")
        else:
            taken.append("witnesses")
        if given.quorum is not None:
            anchors["quorum"] = given.quorum
            if served and served["quorum"] < given.quorum:
                problems.append(f"trust.js accepts {served['quorum']} cosignature(s), the auditor requires "
                                f"{given.quorum}")
        if not {"root", "origin", "log", "witnesses", "quorum"} <= anchors.keys():
            self.record(*C_TRUST, False, "; ".join(problems) or "no trust anchors")
            return None
        anchors.setdefault("max_age", 86400)
        anchors.setdefault("deployment_id", None)
        anchors["witnesses"] = sorted(anchors["witnesses"])
        if len(taken) == 3 and given.quorum is None and not problems:
            self.record(*C_TRUST, None, "no anchors given: the server's trust.js was believed (give "
                                        "--root-public-key, --log-key and --witness to check it)")
        else:
            note = f"; taken from the server's trust.js: {', '.join(taken)}" if taken else ""
            self.record(*C_TRUST, not problems, ("; ".join(problems) or "trust.js equals the auditor's anchors")
                        + note)
        return anchors

    async def _fetch_log(self, http: aiohttp.ClientSession, anchors: dict
                         ) -> tuple[str, crypto.Checkpoint, list[bytes], crypto.MerkleTree, bytes]:
        """Checkpoint, entries, tree and revoked set of one state of the log (refetched if it grew meanwhile)."""
        for _attempt in range(LOG_ATTEMPTS):
            note, checkpoint = await self._checkpoint(http, anchors)
            size = checkpoint.size
            if size > MAX_LOG_SIZE:
                raise AuditFailure(f"the log claims {size} entries, more than this audit reads ({MAX_LOG_SIZE})")
            entries: list[bytes] = []
            for n in range(-(-size // TILE_WIDTH)):
                width = min(TILE_WIDTH, size - n * TILE_WIDTH)
                path = "/log/tile/entries/" + _tile_path(n, width)
                try:
                    bundle = crypto.parse_entry_bundle(await _get(http, path, MAX_BUNDLE))
                except crypto.CryptoError as exc:
                    raise AuditFailure(f"{path}: {exc}") from None
                if len(bundle) != width:
                    raise AuditFailure(f"entry bundle {n} holds {len(bundle)} entries, not {width}")
                entries += bundle
            for index, entry in enumerate(entries):
                try:
                    crypto.decode_entry(entry)
                except crypto.CryptoError as exc:
                    raise AuditFailure(f"entry {index} is malformed: {exc}") from None
            tree = crypto.MerkleTree(entries)
            if tree.root() != checkpoint.root:
                raise AuditFailure(f"the {size} entries served hash to another root than the checkpoint's")
            level = 0
            while size // TILE_WIDTH ** level:
                across = size // TILE_WIDTH ** level
                for n in range(-(-across // TILE_WIDTH)):
                    width = min(TILE_WIDTH, across - n * TILE_WIDTH)
                    tile = await _get(http, f"/log/tile/{level}/" + _tile_path(n, width), MAX_TILE)
                    if tile != tree.tile(level, n, width):
                        raise AuditFailure(f"hash tile {level}/{n} (width {width}) differs from the entries")
                level += 1
            revoked = await _get(http, "/log/revoked", MAX_REVOKED)
            _, again = await self._checkpoint(http, anchors)
            if (again.size, again.root) == (checkpoint.size, checkpoint.root):
                return note, checkpoint, entries, tree, revoked
        raise AuditFailure(f"the log changed during each of {LOG_ATTEMPTS} attempts to read it")

    async def _checkpoint(self, http: aiohttp.ClientSession, anchors: dict) -> tuple[str, crypto.Checkpoint]:
        note = (await _get(http, "/log/checkpoint", MAX_CHECKPOINT)).decode("utf-8")
        try:
            checkpoint = crypto.verify_checkpoint(
                note, origin=anchors["origin"], log_public=anchors["log"], witnesses=anchors["witnesses"],
                quorum=anchors["quorum"], max_age=anchors["max_age"], now=int(time.time()))
        except crypto.CryptoError as exc:
            raise AuditFailure(f"the checkpoint does not verify with the anchors: {exc}") from None
        return note, checkpoint

    def _check_consistency(self, note: str, checkpoint: crypto.Checkpoint, tree: crypto.MerkleTree) -> None:
        size, root = checkpoint.size, checkpoint.root
        self.new_state = {"v": 1, "origin": checkpoint.origin, "size": size,
                          "root": base64.b64encode(root).decode("ascii"), "checkpoint": note,
                          "seen_at": int(time.time())}
        if self.log_state is None:
            self.record(*C_CONSISTENT, None, "give --log-state FILE to compare with the checkpoint of the last audit")
            return
        if not self.log_state.exists():
            self.record(*C_CONSISTENT, None, f"no earlier state in {self.log_state}: this checkpoint (size {size}) "
                                             "becomes the reference")
            return
        raw = self.log_state.read_bytes()
        if len(raw) > MAX_STATE:
            raise AuditFailure(f"{self.log_state} is larger than a state file can be")
        saved = json.loads(raw)
        old_size, old_root = int(saved["size"]), base64.b64decode(saved["root"], validate=True)
        seen = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(int(saved.get("seen_at", 0))))
        if saved.get("origin") != checkpoint.origin:
            raise AuditFailure(f"the state file is of log {saved.get('origin')!r}, not {checkpoint.origin!r}")
        if len(old_root) != HASH_SIZE or old_size < 0:
            raise AuditFailure(f"{self.log_state} is malformed")
        if old_size > size:
            self.record(*C_CONSISTENT, False, f"THE LOG SHRANK: {size} entries now, {old_size} seen on {seen}")
            return
        try:  # the proof a light client would get, computed from the recomputed tree (RFC 9162 2.1.4)
            crypto.verify_consistency(old_size, size, old_root, root, tree.consistency_proof(old_size, size))
            ok = True
        except crypto.ProofError:
            ok = False
        self.record(*C_CONSISTENT, ok,
                    f"size {size} extends the {old_size} entries seen on {seen}" if ok else
                    f"HISTORY REWRITTEN: the first {old_size} entries now hash to another root than on {seen}")

    def _check_revoked(self, checkpoint: crypto.Checkpoint, decoded: list[crypto.Entry], served: bytes) -> None:
        logged = sorted({crypto.decode_statement(e.statement).account_id for e in decoded
                         if e.type == 1 and crypto.decode_statement(e.statement).kind == crypto.KIND_REVOCATION})
        problems = []
        if len(served) % ACCOUNT_ID_SIZE:
            problems.append(f"/log/revoked is {len(served)} bytes, not a multiple of {ACCOUNT_ID_SIZE}")
        else:
            ids = [served[i:i + ACCOUNT_ID_SIZE] for i in range(0, len(served), ACCOUNT_ID_SIZE)]
            if ids != sorted(set(ids)):
                problems.append("/log/revoked is not sorted and unique")
            missing, extra = set(logged) - set(ids), set(ids) - set(logged)
            if missing or extra:
                problems.append(f"/log/revoked lacks {len(missing)} logged revocation(s) and names {len(extra)} "
                                f"account(s) the log never revoked")
        if checkpoint.revoked_count != len(logged):
            problems.append(f"the checkpoint says {checkpoint.revoked_count} revoked, the log holds {len(logged)}")
        if checkpoint.revoked_digest != crypto.revoked_digest(logged):
            problems.append("the checkpoint's revoked digest is not that of the logged revocations")
        self.record(*C_REVOKED, not problems, "; ".join(problems) or (
            f"{len(logged)} revoked account(s), the same in the entries, the checkpoint and /log/revoked"))

    def _check_statements(self, decoded: list[crypto.Entry], anchors: dict) -> None:
        """Every statement verifies under the auditor's root key and matches the coordinators' roster."""
        problems: list[str] = []
        listed: list[tuple[int, crypto.Statement, bytes]] = []
        for index, entry in enumerate(decoded):
            if entry.type != 1:
                continue
            try:
                statement = crypto.verify_statement(anchors["root"], entry.statement, entry.signature)
            except crypto.CryptoError:
                statement = crypto.decode_statement(entry.statement)
                problems.append(f"entry {index} ({statement.name}): the root signature does not verify")
            if anchors["deployment_id"] is not None and statement.deployment_id != anchors["deployment_id"]:
                problems.append(f"entry {index} ({statement.name}): for deployment {statement.deployment_id!r}")
            listed.append((index, statement, entry.statement))
        roster = self._read_roster(anchors, problems)
        verdicts = _match_roster(listed, roster, problems) if roster is not None else {}
        rows = []
        for index, s, _raw in listed:
            rows.append((str(index), "revocation" if s.kind == crypto.KIND_REVOCATION else "key", s.name, s.role,
                         crypto.b64encode(s.account_id),
                         crypto.fingerprint(s.account_id, s.x25519_public, s.ed25519_public),
                         f"{_day(s.not_before)} to {_day(s.not_after)}", verdicts.get(index, "no roster given")))
        self.tables.append(("Key statements and revocations in the log",
                            ("index", "kind", "name", "role", "account id", "fingerprint", "valid", "roster"), rows))
        keys = sum(s.kind != crypto.KIND_REVOCATION for _, s, _ in listed)
        summary = f"{keys} key statement(s), {len(listed) - keys} revocation(s)"
        if roster is None:
            self.record(*C_STATEMENTS, False if problems else None,
                        "; ".join(problems) or f"{summary}, all root-signed; give --roster FILE to compare them")
            return
        self.record(*C_STATEMENTS, not problems,
                    "; ".join(problems) or f"{summary}, all root-signed and matched to the roster's "
                                           f"{len(roster)} account(s)")

    def _read_roster(self, anchors: dict, problems: list[str]) -> dict[bytes, dict] | None:
        if self.roster is None:
            return None
        raw = self.roster.read_bytes()
        if len(raw) > MAX_ROSTER:
            raise AuditFailure(f"{self.roster} is larger than a roster can be")
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != 1 or not isinstance(data.get("accounts"), list):
            raise AuditFailure(f"{self.roster} is not a roster (v 1, accounts)")
        if anchors["deployment_id"] is not None and data.get("deployment_id") != anchors["deployment_id"]:
            problems.append(f"the roster is of deployment {data.get('deployment_id')!r}, the instance is "
                            f"{anchors['deployment_id']!r}")
        roster: dict[bytes, dict] = {}
        for row in data["accounts"]:
            account = _bytes(row["account_id"], ACCOUNT_ID_SIZE)
            if account in roster:
                raise AuditFailure(f"the roster has two rows for account {row['account_id']}")
            if row.get("status") not in ("key", "revoked"):
                raise AuditFailure(f"the roster row of {row.get('name')!r} has status {row.get('status')!r}")
            roster[account] = row
        return roster

    async def _check_release(self, http: aiohttp.ClientSession, decoded: list[crypto.Entry], anchors: dict) -> None:
        releases = [(i, e) for i, e in enumerate(decoded) if e.type == 2]
        self.tables.append(("Release manifests in the log", ("index", "deployment", "manifest SHA-256"),
                            [(str(i), str(e.deployment_id), e.manifest_hash.hex()) for i, e in releases]))
        if not releases:
            raise AuditFailure("the log holds no release manifest")
        index, latest = releases[-1]
        problems: list[str] = []
        if anchors["deployment_id"] is not None and latest.deployment_id != anchors["deployment_id"]:
            problems.append(f"the latest release (entry {index}) is for deployment {latest.deployment_id!r}")
        body = await _get(http, f"/log/manifest/{latest.manifest_hash.hex()}.json", MAX_MANIFEST)
        if hashlib.sha256(body).digest() != latest.manifest_hash:
            raise AuditFailure(f"/log/manifest/{latest.manifest_hash.hex()}.json is not the manifest entry "
                               f"{index} commits to")
        manifest = json.loads(body)
        files = manifest.get("files") if isinstance(manifest, dict) else None
        if manifest.get("v") != 1 or not isinstance(files, dict):
            raise AuditFailure("the logged manifest is not {v: 1, files: {...}}")
        if anchors["deployment_id"] is not None and manifest.get("deployment_id") != anchors["deployment_id"]:
            problems.append(f"the logged manifest is for deployment {manifest.get('deployment_id')!r}")
        served = await self.served_assets(http)
        unlogged = sorted(served.keys() - files.keys())
        if unlogged:
            problems.append(f"/api/assets lists {len(unlogged)} file(s) the manifest lacks: {unlogged[:4]}")
        for url, sri in sorted(files.items()):
            actual = await self.served_sri(http, url)
            if actual != sri:
                problems.append(f"{url}: served bytes differ from the logged manifest" if actual.startswith("sha")
                                else f"{actual}, not the file of the logged manifest")
            elif served.get(url, sri) != sri:
                problems.append(f"{url}: /api/assets publishes another hash than the logged manifest")
        self.record(*C_RELEASE, not problems,
                    "; ".join(problems[:6]) + (f"; {len(problems) - 6} more" if len(problems) > 6 else "")
                    or f"{len(files)} files served as the manifest of entry {index} says "
                       f"(SHA-256 {latest.manifest_hash.hex()[:16]}...)")

    def save_state(self) -> None:
        """Keep the verified checkpoint for the next run's consistency check, only when no log check
        (TLOG-*) failed. The other checks do not hold it back: a weak KDF says nothing about the log,
        and a log that verified and extends the last state is a safe reference for the next run."""
        if self.log_state is None or self.new_state is None:
            return
        if any(r.outcome == FAIL and "TLOG" in r.claims for r in self.results):
            self.notes.append(f"Log state in {self.log_state} NOT updated: a log check failed.")
            return
        tmp = self.log_state.with_name(self.log_state.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(self.new_state, out, sort_keys=True, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.log_state)
        self.notes.append(f"Log state saved to {self.log_state}: size {self.new_state['size']}.")

    # -- report -------------------------------------------------------------------------------

    def report(self, fmt: str = "md") -> str:
        rows = [(r.check, r.claims, r.outcome, r.detail) for r in self.results]
        if fmt == "html":
            cells = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td>"
                            f"<td>{html.escape(d)}</td></tr>" for a, b, c, d in rows)
            extra = "".join(
                f"<h2>{html.escape(title)}</h2><table><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in heads)}"
                f"</tr>{''.join('<tr>' + ''.join(f'<td>{html.escape(v)}</td>' for v in row) + '</tr>' for row in body)}"
                f"</table>" for title, heads, body in self.tables)
            notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
            return (f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>oor audit</title>"
                    f"<h1>oor audit of {html.escape(self.url)}</h1><table><tr><th>check</th><th>claims</th>"
                    f"<th>result</th><th>detail</th></tr>{cells}</table>{extra}{notes}</html>\n")
        lines = [f"# oor audit of {self.url}", "", "| check | claims | result | detail |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d.replace('|', '/')} |" for a, b, c, d in rows]
        for title, heads, body in self.tables:
            lines += ["", f"## {title}", "", "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
            lines += ["| " + " | ".join(v.replace("|", "/") for v in row) + " |" for row in body]
            if not body:
                lines.append("| " + " | ".join(["(none)"] + [""] * (len(heads) - 1)) + " |")
        verdict = "FAIL" if self.failed else "PASS"
        lines += ["", *self.notes, "", f"Result: **{verdict}** ({sum(r.outcome == FAIL for r in self.results)} "
                  f"failed, {sum(r.outcome == UNCHECKABLE for r in self.results)} not checkable from outside)", ""]
        return "\n".join(lines)


async def _get(http: aiohttp.ClientSession, path: str, cap: int) -> bytes:
    """The body of a 200 answer, at most `cap` bytes (counted as they arrive, after decompression)."""
    async with http.get(path) as resp:
        if resp.status != 200:
            raise AuditFailure(f"{path}: HTTP {resp.status}")
        if resp.content_length is not None and resp.content_length > cap:
            raise AuditFailure(f"{path}: {resp.content_length} bytes, more than {cap}")
        body = bytearray()
        async for chunk in resp.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > cap:
                raise AuditFailure(f"{path}: more than {cap} bytes")
    return bytes(body)


def _tile_path(n: int, width: int = TILE_WIDTH) -> str:
    """C2SP tlog-tiles index path: 1234067 -> x001/x234/067, with .p/<W> for a partial tile."""
    elements = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        elements.insert(0, f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(elements) + (f".p/{width}" if width < TILE_WIDTH else "")


def _bytes(text: object, length: int) -> bytes:
    """Base64 of exactly `length` bytes: this project's (URL-safe, no padding) or standard."""
    if not isinstance(text, str):
        raise ValueError("expected a base64 string")
    try:
        return crypto.b64decode(text, length=length)
    except crypto.CryptoError:
        data = base64.b64decode(text, validate=True)
        if len(data) != length:
            raise ValueError(f"expected base64 of {length} bytes") from None
        return data


def _why(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, AuditFailure) else f"{type(exc).__name__}: {exc}"


def _key32(text: object) -> bytes:
    return _bytes(text, 32)


def _day(t: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def _match_roster(listed: list[tuple[int, crypto.Statement, bytes]], roster: dict[bytes, dict],
                  problems: list[str]) -> dict[int, str]:
    """Each logged statement against the coordinators' roster (one row per account id, its latest status).

    An account's LAST statement in the log must be the one the roster records (same SHA-256, and a
    revocation exactly when the roster says revoked); an earlier statement of the same account (a key
    statement renewed since) must carry the same fingerprint, name and role; nothing may follow a
    revocation; an account revoked in the roster must be revoked in the log. A roster account with a
    key and no statement in the log yet is only noted: it was signed and not imported (yet)."""
    verdicts: dict[int, str] = {}
    by_account: dict[bytes, list[tuple[int, crypto.Statement, bytes]]] = {}
    for item in listed:
        by_account.setdefault(item[1].account_id, []).append(item)
    for account, items in by_account.items():
        row = roster.get(account)
        last = items[-1][0]
        for index, s, raw in items:
            if row is None:
                verdicts[index] = "NOT IN THE ROSTER"
                problems.append(f"entry {index}: a {_kind(s)} for {s.name} ({s.role}) that the roster does not have")
                continue
            wrong = [what for what, ok in (
                ("fingerprint", row.get("fingerprint") == crypto.fingerprint(s.account_id, s.x25519_public,
                                                                            s.ed25519_public)),
                ("name", row.get("name") == s.name), ("role", row.get("role") == s.role)) if not ok]
            if index != last:
                if s.kind == crypto.KIND_REVOCATION:
                    wrong.append("a statement after its revocation")
                verdict = "superseded" if not wrong else "DIFFERS: " + ", ".join(wrong)
            else:
                if hashlib.sha256(raw).hexdigest() != row.get("statement_sha256"):
                    wrong.append("statement hash")
                if (s.kind == crypto.KIND_REVOCATION) != (row.get("status") == "revoked"):
                    wrong.append("a revocation the roster does not have" if s.kind == crypto.KIND_REVOCATION
                                 else "revoked in the roster, not in the log")
                verdict = "matched" if not wrong else "DIFFERS: " + ", ".join(wrong)
            verdicts[index] = verdict
            if wrong:
                problems.append(f"entry {index} ({_kind(s)} for {s.name}): differs from the roster in "
                                + ", ".join(wrong))
    for account, row in roster.items():
        if account not in by_account and row.get("status") == "revoked":
            problems.append(f"{row.get('name')}: revoked in the roster, no statement in the log")
    return verdicts


def _kind(s: crypto.Statement) -> str:
    return "revocation" if s.kind == crypto.KIND_REVOCATION else "key statement"


def _encodings(data: bytes) -> list[bytes]:
    return [data, data.hex().encode(), base64.b64encode(data), base64.urlsafe_b64encode(data).rstrip(b"=")]


def default_from_address(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    return "127.77.0.1" if host == "localhost" or host.startswith("127.") else None


def run_audit(url: str, data: Path | None, out: Path | None, manifest: Path | None,
              from_address: str | None, *, log_state: Path | None = None, roster: Path | None = None,
              anchors: Anchors | None = None) -> int:
    audit = Audit(url.rstrip("/"), data, manifest, from_address or default_from_address(url),
                  log_state=log_state, roster=roster, anchors=anchors or Anchors())
    try:
        asyncio.run(audit.run())
    except (aiohttp.ClientError, OSError, ValueError, KeyError) as exc:
        audit.record("Reach the instance", "all", False, f"{type(exc).__name__}: {exc}")
    audit.save_state()
    fmt = "html" if out is not None and out.suffix.lower() in (".html", ".htm") else "md"
    text = audit.report(fmt)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    print(audit.report("md"))
    return 1 if audit.failed else 0
