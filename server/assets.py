"""The JavaScript, CSS and images this server hands to browsers, with their integrity hashes.

A page is only as honest as the code it is served (threat_model/, "served
code"). So every asset is read once at start-up, hashed (SHA-384), served
from that same in-memory copy, and referenced with Subresource Integrity:
`<script integrity=...>` for entry points, and the import map's `integrity`
section for everything loaded through `import` (the pages' shared modules, the
crypto facade `web/js/crypto.js` and its modules under `web/js/crypto/`, and
libsodium). The same hashes are published at `/api/assets` so that `oor audit`
and an auditor can compare them with a reviewed release.

Every module a page can reach is served from here: at start-up each `import`
in our own modules must name a registered asset or a bare specifier of the
import map, so no script the browser loads is missing from the manifest (and
a renamed or moved module fails at start-up, not in a help-seeker's browser).

**Content-addressed URLs.** Each asset is served at its plain URL
(`/static/js/ui.js`, for anything outside that links it; the browser revalidates it
every time) and at a URL with its hash in the name (`/static/js/ui.3f9a1c2b4d5e6f70.js`,
cached for a year as `immutable`: those bytes never change). Pages name only the
hashed URLs: the templates through `page_context` (`server/pages.py`), and the
modules' own relative imports (`import ... from "./ui.js"`, which the browser
resolves to the plain URL) through the import map's `imports`, which maps every
module's plain URL to its hashed one. The import map's `integrity` lists both URLs
of every module: the HTML standard looks integrity up by the URL after mapping (the
hashed one), and listing the plain one too keeps SRI in force in a browser that
would read it the other way. A release changes a file's hash, so its URL, so no
browser keeps an old copy; an old hashed URL is a 404, never another version.

**Compression.** Each asset is also held gzipped and, with the `brotli` package,
brotli-compressed, made once per process (at the first start-up, memoised by the
SHA-384 of the bytes, so that a process that builds several applications does not
compress twice). The SRI hash is over the uncompressed bytes: the browser checks
it after decoding, so one hash covers every encoding. Only these assets are
compressed: they are public, the same for everyone, and carry nothing a request
put in them. Pages and API answers are never compressed (BREACH: compressing a
secret next to text an attacker chose leaks the secret through the length).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import posixpath
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import brotli

REPO_ROOT = Path(__file__).resolve().parent.parent
WEB_ROOT = REPO_ROOT / "web"
NODE_MODULES = REPO_ROOT / "node_modules"

# Third-party browser code, vendored from npm (package-lock.json pins the versions).
VENDOR = {
    "libsodium-wrappers-sumo.mjs": "libsodium-wrappers-sumo/dist/modules-sumo-esm/libsodium-wrappers.mjs",
    "libsodium-sumo.mjs": "libsodium-sumo/dist/modules-sumo-esm/libsodium-sumo.mjs",
}
BARE_IMPORTS = {
    "libsodium-wrappers-sumo": "/vendor/libsodium-wrappers-sumo.mjs",
    "libsodium-sumo": "/vendor/libsodium-sumo.mjs",
    "trust": "/static/js/trust.js",
}
# The trust configuration (PROTOCOL.md 14, server/transparency/log.py trust_config): a module made in
# memory from the configuration, served, hashed and listed like every other (and so in the release
# manifest), imported by the pages as `import { TRUST } from "trust"`.
TRUST_URL = "/static/js/trust.js"


def trust_module(trust: dict | None) -> bytes:
    """`export const TRUST = Object.freeze({...});` (canonical JSON; `{}` for a registry without one)."""
    text = json.dumps(trust or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return f"export const TRUST = Object.freeze({text});\n".encode("ascii")
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}

# How many hex digits of the SHA-384 go into a hashed URL: 64 bits, so that two
# versions of a file never share a URL (a browser would keep the old one for a year).
URL_HASH_HEX = 16
# Cache-Control of a hashed URL (its bytes never change) and of a plain one (they
# change with a release: the browser asks every time, and mostly gets a 304).
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Content codings we make, best first: brotli is some 20 % smaller than gzip on libsodium.
CODINGS = ("br", "gzip")


def content_security_policy(import_map_hash: str) -> str:
    # 'wasm-unsafe-eval' lets libsodium instantiate its WebAssembly; it does not allow eval() of JS.
    # The import map is the only inline script and is allowed by its hash.
    return "; ".join([
        "default-src 'none'",
        f"script-src 'self' 'wasm-unsafe-eval' {import_map_hash}",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ])


class AssetsMissing(RuntimeError):
    """A browser dependency is not installed: run `make run` (it runs `npm ci`)."""


class UnservedImport(RuntimeError):
    """A module under web/js imports a file that is not served, so it could not carry a
    published hash: fix the import's path (relative to the importing module) or add the file."""


# Static and dynamic imports and re-exports: `from "./x.js"`, `import "./x.js"`, `import("./x.js")`.
_JS_IMPORT = re.compile(r"""\b(?:from|import)\s*\(?\s*["']([^"']+)["']""")
_JS_COMMENT = re.compile(r"""/\*.*?\*/|(?<![:"'\\])//[^\n]*""", re.S)


def _compress(coding: str, body: bytes) -> bytes:
    if coding == "br":
        return brotli.compress(body, quality=11)
    # mtime=0: the same bytes give the same gzip, on every node and at every start.
    return gzip.compress(body, compresslevel=9, mtime=0)


def _decompress(coding: str, data: bytes) -> bytes:
    return brotli.decompress(data) if coding == "br" else gzip.decompress(data)


class _CompressedCopies:
    """Compressed copies by (SHA-384 of the bytes, coding), for the life of the process.

    Compressing is a pure function of public bytes (no secret goes in), and takes
    most of a second for libsodium at brotli's best: a process that builds several
    applications (the tests; `oor serve` builds one) does it once per file. Bounded,
    so that a process that sees many versions of its files does not keep them all.
    """

    LIMIT = 512

    def __init__(self) -> None:
        self._copies: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def get(self, integrity: str, coding: str, body: bytes) -> bytes:
        key = (integrity, coding)
        found = self._copies.get(key)
        if found is None:
            found = _compress(coding, body)
            # Served only if it decodes to exactly the bytes the hash is over.
            if _decompress(coding, found) != body:
                raise RuntimeError(f"{coding} did not give back the bytes it was given")
            self._copies[key] = found
            while len(self._copies) > self.LIMIT:
                self._copies.popitem(last=False)
        return found


_COMPRESSED = _CompressedCopies()


@dataclass(frozen=True)
class Asset:
    url: str  # the plain URL: /static/js/ui.js
    body: bytes
    content_type: str
    integrity: str  # "sha384-<base64>" of `body`, the uncompressed bytes
    hashed_url: str  # the content-addressed URL: /static/js/ui.<hex>.js
    # The compressed copies that are smaller than `body`, by coding ("br", "gzip").
    encoded: dict[str, bytes] = field(default_factory=dict, compare=False)

    def etag(self, coding: str | None) -> str:
        """A strong entity tag per representation: the encodings are different bytes."""
        return '"' + self.integrity + (f".{coding}" if coding else "") + '"'


def _sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode("ascii")


def hashed_url(url: str, body: bytes) -> str:
    """`/static/js/ui.js` -> `/static/js/ui.<first 16 hex digits of the SHA-384>.js`."""
    stem, suffix = posixpath.splitext(url)
    return f"{stem}.{hashlib.sha384(body).hexdigest()[:URL_HASH_HEX]}{suffix}"


def accepted_coding(accept_encoding: str, available: Sequence[str]) -> str | None:
    """The content coding to answer with, of those `available`, given the request's Accept-Encoding
    (RFC 9110, 12.5.3): the one with the highest q-value, ties to the first available (the smaller);
    None for identity. A coding with q=0 is refused; `*` stands for any coding not named."""
    weights: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        weights[name] = q
    if "x-gzip" in weights and "gzip" not in weights:
        weights["gzip"] = weights["x-gzip"]
    best, best_q = None, 0.0
    for coding in available:
        q = weights.get(coding, weights.get("*", 0.0))
        if q > best_q:
            best, best_q = coding, q
    return best


class AssetRegistry:
    """All served assets by URL (plain and hashed), the import map, and the CSP hash of that import map."""

    def __init__(self, web_root: Path = WEB_ROOT, node_modules: Path = NODE_MODULES, *,
                 trust: dict | None = None) -> None:
        self.by_url: dict[str, Asset] = {}
        for folder in ("js", "css", "img"):
            base = web_root / folder
            if not base.is_dir():
                continue
            for path in sorted(base.rglob("*")):
                if path.is_file() and path.suffix in _TYPES:
                    self._add(f"/static/{folder}/{path.relative_to(base).as_posix()}", path)
        if TRUST_URL in self.by_url:
            raise RuntimeError(f"{TRUST_URL} is generated from the configuration: remove the file")
        self._add_bytes(TRUST_URL, trust_module(trust), ".js")
        for name, rel in VENDOR.items():
            path = node_modules / rel
            if not path.is_file():
                raise AssetsMissing(f"{path} is missing: run `npm ci` (make run does this)")
            self._add(f"/vendor/{name}", path)
        self.by_hashed_url: dict[str, Asset] = {}
        for asset in self.by_url.values():
            if asset.hashed_url in self.by_url or asset.hashed_url in self.by_hashed_url:
                raise RuntimeError(f"{asset.hashed_url} is both a file's name and a hashed URL: rename the file")
            self.by_hashed_url[asset.hashed_url] = asset
        modules = {url: a for url, a in self.by_url.items() if a.content_type == "text/javascript"}
        self._check_imports(modules)
        # Every module under both its URLs (see the module docstring): the bare specifiers and the
        # plain URLs map to the hashed URLs, and integrity names both.
        imports = {bare: self.by_url[url].hashed_url for bare, url in BARE_IMPORTS.items()}
        imports.update({url: a.hashed_url for url, a in modules.items()})
        integrity = {url: a.integrity for a in modules.values() for url in (a.url, a.hashed_url)}
        self.import_map = json.dumps({"imports": imports, "integrity": integrity},
                                     sort_keys=True, separators=(",", ":"))
        # The import map is the one inline script; CSP allows exactly its hash.
        self.import_map_csp_hash = "'sha256-" + base64.b64encode(
            hashlib.sha256(self.import_map.encode("utf-8")).digest()).decode("ascii") + "'"
        self.csp = content_security_policy(self.import_map_csp_hash)

    def _add(self, url: str, path: Path) -> None:
        self._add_bytes(url, path.read_bytes(), path.suffix)

    def _add_bytes(self, url: str, body: bytes, suffix: str) -> None:
        integrity = _sri(body)
        encoded = {}
        for coding in CODINGS:
            copy = _COMPRESSED.get(integrity, coding, body)
            if len(copy) < len(body):  # a tiny icon can come out larger: then it goes as it is
                encoded[coding] = copy
        self.by_url[url] = Asset(url, body, _TYPES[suffix], integrity, hashed_url(url, body), encoded)

    def _check_imports(self, modules: dict[str, Asset]) -> None:
        """Every import in our own modules resolves to a served module (see the module docstring)."""
        for url in modules:
            if not url.startswith("/static/"):
                continue  # vendored code: its one import is the bare "libsodium-sumo" of the map
            code = _JS_COMMENT.sub("", self.by_url[url].body.decode("utf-8"))
            for spec in _JS_IMPORT.findall(code):
                if spec in BARE_IMPORTS:
                    continue
                if spec.startswith(("./", "../")):
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(url), spec))
                else:
                    target = spec
                if target not in modules:
                    raise UnservedImport(f"{url} imports {spec!r}, which is not a served module")

    def find(self, url: str) -> tuple[Asset, bool] | None:
        """The asset served at `url`, and whether `url` is its hashed (immutable) URL; None if none is."""
        if (asset := self.by_hashed_url.get(url)) is not None:
            return asset, True
        if (asset := self.by_url.get(url)) is not None:
            return asset, False
        return None

    def url_for(self, url: str) -> str:
        """The hashed URL that pages use for the asset whose plain URL is `url`."""
        return self.by_url[url].hashed_url

    def integrity(self, url: str) -> str:
        found = self.find(url)
        if found is None:
            raise KeyError(url)
        return found[0].integrity

    def manifest(self) -> dict[str, str]:
        """Every URL served, plain and hashed, with the SRI hash of its (uncompressed) bytes."""
        entries = {url: a.integrity for a in self.by_url.values() for url in (a.url, a.hashed_url)}
        return dict(sorted(entries.items()))
