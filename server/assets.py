"""The JavaScript and CSS this server hands to browsers, with their integrity hashes.

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
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

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
}
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


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


@dataclass(frozen=True)
class Asset:
    url: str
    body: bytes
    content_type: str
    integrity: str  # "sha384-<base64>"


def _sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode("ascii")


class AssetRegistry:
    """All served assets by URL, the import map, and the CSP hash of that import map."""

    def __init__(self, web_root: Path = WEB_ROOT, node_modules: Path = NODE_MODULES) -> None:
        self.by_url: dict[str, Asset] = {}
        for folder in ("js", "css", "img"):
            base = web_root / folder
            if not base.is_dir():
                continue
            for path in sorted(base.rglob("*")):
                if path.is_file() and path.suffix in _TYPES:
                    self._add(f"/static/{folder}/{path.relative_to(base).as_posix()}", path)
        for name, rel in VENDOR.items():
            path = node_modules / rel
            if not path.is_file():
                raise AssetsMissing(f"{path} is missing: run `npm ci` (make run does this)")
            self._add(f"/vendor/{name}", path)
        modules = {url: a.integrity for url, a in self.by_url.items() if a.content_type == "text/javascript"}
        self._check_imports(modules)
        self.import_map = json.dumps({"imports": BARE_IMPORTS, "integrity": modules},
                                     sort_keys=True, separators=(",", ":"))
        # The import map is the one inline script; CSP allows exactly its hash.
        self.import_map_csp_hash = "'sha256-" + base64.b64encode(
            hashlib.sha256(self.import_map.encode("utf-8")).digest()).decode("ascii") + "'"
        self.csp = content_security_policy(self.import_map_csp_hash)

    def _add(self, url: str, path: Path) -> None:
        body = path.read_bytes()
        self.by_url[url] = Asset(url, body, _TYPES[path.suffix], _sri(body))

    def _check_imports(self, modules: dict[str, str]) -> None:
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

    def integrity(self, url: str) -> str:
        return self.by_url[url].integrity

    def manifest(self) -> dict[str, str]:
        return {url: a.integrity for url, a in sorted(self.by_url.items())}
