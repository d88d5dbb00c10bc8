"""`oor audit`: check a running instance (and its data folder) against the threat model's claims.

    oor audit --url URL [--data DIR] [--out FILE] [--manifest FILE] [--from-address ADDR]

Each check names the claim it verifies and ends as pass, fail or "not checkable
from outside" (with the reason). The synthetic chat and mail are driven through
the public interface by the protocol client (`client/`, with the `crypto`
facade: the same bytes as the browser's crypto.js), from a loopback address
that appears nowhere else, so that finding it, or the text sent, in the data
folder proves a leak. Exit status 1 when any check fails.
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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from client import chat, mail
from client.transport import kdf_params, origin_of, solved_challenge
from client.volunteer import login_body

from .assets import REPO_ROOT
from .config import PRODUCTION_MIN_MEMLIMIT_KIB, PRODUCTION_MIN_OPSLIMIT

PAGES = ("/", "/chat", "/mail", "/mail/terug", "/inschrijven", "/vrijwilliger", "/api/health", "/bestaat-niet")
INVENTORY = REPO_ROOT / "threat_model" / "data_inventory.toml"
PASS, FAIL, UNCHECKABLE = "pass", "fail", "not checkable from outside"


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
    results: list[Result] = field(default_factory=list)
    snapshots: list[bytes] = field(default_factory=list)

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
                    ("Session cookie flags", "AUTH-4", self.check_cookie)):
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
        async with http.get("/api/assets") as resp:
            manifest = (await resp.json())["assets"]
        if self.manifest is not None:
            reviewed = json.loads(self.manifest.read_text(encoding="utf-8"))
            reviewed = reviewed.get("assets", reviewed)
            if reviewed != manifest:
                differ = sorted(set(reviewed.items()) ^ set(manifest.items()))
                problems.append(f"published hashes differ from the reviewed manifest: {differ[:4]}")
        for url, sri in manifest.items():
            async with http.get(url) as resp:
                body = await resp.read()
            actual = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
            if actual != sri:
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

    # -- report -------------------------------------------------------------------------------

    def report(self, fmt: str = "md") -> str:
        rows = [(r.check, r.claims, r.outcome, r.detail) for r in self.results]
        if fmt == "html":
            cells = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td>"
                            f"<td>{html.escape(d)}</td></tr>" for a, b, c, d in rows)
            return (f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>oor audit</title>"
                    f"<h1>oor audit of {html.escape(self.url)}</h1><table><tr><th>check</th><th>claims</th>"
                    f"<th>result</th><th>detail</th></tr>{cells}</table></html>\n")
        lines = [f"# oor audit of {self.url}", "", "| check | claims | result | detail |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d.replace('|', '/')} |" for a, b, c, d in rows]
        verdict = "FAIL" if self.failed else "PASS"
        lines += ["", f"Result: **{verdict}** ({sum(r.outcome == FAIL for r in self.results)} failed, "
                      f"{sum(r.outcome == UNCHECKABLE for r in self.results)} not checkable from outside)", ""]
        return "\n".join(lines)


def _encodings(data: bytes) -> list[bytes]:
    return [data, data.hex().encode(), base64.b64encode(data), base64.urlsafe_b64encode(data).rstrip(b"=")]


def default_from_address(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    return "127.77.0.1" if host == "localhost" or host.startswith("127.") else None


def run_audit(url: str, data: Path | None, out: Path | None, manifest: Path | None,
              from_address: str | None) -> int:
    audit = Audit(url.rstrip("/"), data, manifest, from_address or default_from_address(url))
    try:
        asyncio.run(audit.run())
    except (aiohttp.ClientError, OSError, ValueError, KeyError) as exc:
        audit.record("Reach the instance", "all", False, f"{type(exc).__name__}: {exc}")
    fmt = "html" if out is not None and out.suffix.lower() in (".html", ".htm") else "md"
    text = audit.report(fmt)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    print(audit.report("md"))
    return 1 if audit.failed else 0
