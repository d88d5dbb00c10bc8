"""Static assets: precompressed, content-addressed, cached for good, and still exactly the published bytes.

server/assets.py holds every asset with a gzip and a brotli copy and serves it at its plain URL
(revalidated every time) and at its hashed URL (`immutable` for a year). The SRI hash is over the
uncompressed bytes, so whatever encoding a client gets must decode to exactly the file on disk.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import brotli
import pytest
from aiohttp import web

from server import pages
from server.app import create_app
from server.assets import (IMMUTABLE, NODE_MODULES, REVALIDATE, TRUST_URL, URL_HASH_HEX, VENDOR, WEB_ROOT,
                           AssetRegistry, accepted_coding, hashed_url, trust_module)
from server.audit import PASS, Audit
from server.config import load_config
from server.keys import ASSETS
from tests.conftest import INSECURE_TEST_ENV

HASHED = re.compile(rf"\.[0-9a-f]{{{URL_HASH_HEX}}}\.(?:js|mjs|css|svg)$")


def sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


def source_file(url: str) -> Path:
    """The file on disk that a plain asset URL serves."""
    if url.startswith("/vendor/"):
        return NODE_MODULES / VENDOR[url.removeprefix("/vendor/")]
    return WEB_ROOT / url.removeprefix("/static/")


def decode(coding: str | None, data: bytes) -> bytes:
    if coding == "br":
        return brotli.decompress(data)
    if coding == "gzip":
        return gzip.decompress(data)
    assert coding is None, coding
    return data


def assets_app(registry: AssetRegistry) -> web.Application:
    """Only the asset routes, around a registry of the test's choosing."""
    app = web.Application()
    app[ASSETS] = registry
    app.add_routes(pages.routes)
    return app


@pytest.fixture(scope="module")
def registry() -> AssetRegistry:
    return AssetRegistry()


@pytest.fixture
async def raw(aiohttp_client: Any, registry: AssetRegistry) -> Any:
    """A client that neither asks for an encoding by itself nor decodes one: the bytes as sent."""
    return await aiohttp_client(assets_app(registry), auto_decompress=False,
                                skip_auto_headers=["Accept-Encoding"])


def both_urls(registry: AssetRegistry) -> list[str]:
    return [url for a in registry.by_url.values() for url in (a.url, a.hashed_url)]


# -- encodings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("accept, coding", [("br", "br"), ("gzip", "gzip"), ("gzip, deflate, br, zstd", "br")])
async def test_every_encoding_decodes_to_exactly_the_file(raw: Any, registry: AssetRegistry,
                                                          accept: str, coding: str) -> None:
    large = 0
    for url in both_urls(registry):
        resp = await raw.get(url, headers={"Accept-Encoding": accept})
        assert resp.status == 200, url
        body = await resp.read()
        sent = resp.headers.get("Content-Encoding")
        plain = registry.find(url)[0].url
        # trust.js is made in memory from the configuration (server/assets.py trust_module), the rest are files.
        original = trust_module(None) if plain == TRUST_URL else source_file(plain).read_bytes()
        assert decode(sent, body) == original, url
        assert sri(decode(sent, body)) == registry.integrity(url)  # the hash is over the decoded bytes
        assert int(resp.headers["Content-Length"]) == len(body)
        assert resp.headers["Vary"] == "Accept-Encoding"
        if len(original) > 1024:  # a tiny icon may go as it is; everything of size is compressed
            assert sent == coding, url
            assert len(body) < len(original)
            large += 1
    assert large > 20
    libsodium = registry.by_url["/vendor/libsodium-sumo.mjs"]
    assert len(libsodium.encoded["br"]) < len(libsodium.encoded["gzip"]) < len(libsodium.body) // 2


@pytest.mark.parametrize("headers", [{}, {"Accept-Encoding": "identity"}, {"Accept-Encoding": ""},
                                     {"Accept-Encoding": "br;q=0, gzip;q=0"}, {"Accept-Encoding": "deflate"},
                                     {"Accept-Encoding": "*;q=0"}])
async def test_a_client_that_accepts_no_coding_of_ours_gets_identity(raw: Any, headers: dict[str, str]) -> None:
    url = "/vendor/libsodium-sumo.mjs"
    resp = await raw.get(url, headers=headers)
    assert resp.status == 200
    assert "Content-Encoding" not in resp.headers
    assert await resp.read() == source_file(url).read_bytes()
    assert resp.headers["Vary"] == "Accept-Encoding"  # identity too: a cache must not reuse it for br


def test_accept_encoding_is_read_with_its_q_values() -> None:
    ours = ("br", "gzip")
    assert accepted_coding("gzip, deflate, br", ours) == "br"
    assert accepted_coding("GZIP", ours) == "gzip"
    assert accepted_coding("x-gzip", ours) == "gzip"
    assert accepted_coding("gzip;q=1.0, br;q=0.5", ours) == "gzip"
    assert accepted_coding("br;q=0, *", ours) == "gzip"
    assert accepted_coding("*", ours) == "br"
    assert accepted_coding("br;q=nonsense, gzip;q=0.1", ours) == "gzip"
    assert accepted_coding("br", ("gzip",)) is None  # an asset without a brotli copy
    assert accepted_coding("", ours) is None


async def test_head_answers_the_headers_of_get_without_a_body(raw: Any, registry: AssetRegistry) -> None:
    for url in ("/vendor/libsodium-sumo.mjs", registry.url_for("/static/js/chat.js")):
        for accept in ("br", "gzip", "identity"):
            got = await raw.get(url, headers={"Accept-Encoding": accept})
            head = await raw.head(url, headers={"Accept-Encoding": accept})
            assert head.status == 200
            assert await head.read() == b""
            for name in ("Content-Length", "Content-Encoding", "Content-Type", "ETag", "Cache-Control", "Vary"):
                assert head.headers.get(name) == got.headers.get(name), (url, accept, name)


async def test_a_range_request_gets_the_whole_asset(raw: Any) -> None:
    """Nothing of ours needs a part of a script: Range is ignored (RFC 9110 allows it), and said so."""
    url = "/vendor/libsodium-wrappers-sumo.mjs"
    for accept in ("br", "identity"):
        resp = await raw.get(url, headers={"Accept-Encoding": accept, "Range": "bytes=0-99"})
        assert resp.status == 200
        assert resp.headers["Accept-Ranges"] == "none"
        assert "Content-Range" not in resp.headers
        assert decode(resp.headers.get("Content-Encoding"), await resp.read()) == source_file(url).read_bytes()


# -- caching ---------------------------------------------------------------------------------------

async def test_hashed_urls_are_immutable_and_plain_urls_revalidate(raw: Any, registry: AssetRegistry) -> None:
    for asset in registry.by_url.values():
        hashed = await raw.get(asset.hashed_url)
        plain = await raw.get(asset.url)
        assert HASHED.search(asset.hashed_url), asset.hashed_url
        assert hashed.headers["Cache-Control"] == IMMUTABLE == "public, max-age=31536000, immutable"
        assert plain.headers["Cache-Control"] == REVALIDATE == "no-cache"  # for anything outside that links it
        assert await hashed.read() == await plain.read() == asset.body


async def test_each_representation_has_its_own_etag_and_revalidates(raw: Any) -> None:
    url = "/static/js/chat.js"
    tags = {}
    for accept in ("br", "gzip", "identity"):
        resp = await raw.get(url, headers={"Accept-Encoding": accept})
        tags[accept] = resp.headers["ETag"]
        again = await raw.get(url, headers={"Accept-Encoding": accept, "If-None-Match": tags[accept]})
        assert again.status == 304 and await again.read() == b""
        assert again.headers["Vary"] == "Accept-Encoding" and again.headers["Cache-Control"] == "no-cache"
        weak = await raw.get(url, headers={"Accept-Encoding": accept, "If-None-Match": f'"x", W/{tags[accept]}'})
        assert weak.status == 304
    assert len(set(tags.values())) == 3
    # A tag of another representation is not this one: the full answer.
    other = await raw.get(url, headers={"Accept-Encoding": "br", "If-None-Match": tags["gzip"]})
    assert other.status == 200 and other.headers["Content-Encoding"] == "br"


def make_web_root(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "web"
    (root / "js").mkdir(parents=True, exist_ok=True)
    (root / "js" / "a.js").write_text(text, encoding="utf-8")
    (root / "js" / "b.js").write_text('import { a } from "./a.js";\nexport const b = a;\n', encoding="utf-8")
    return root


async def test_a_changed_file_gets_a_new_url_and_its_old_url_is_gone(aiohttp_client: Any, tmp_path: Path) -> None:
    root = make_web_root(tmp_path, "export const a = 1;\n")
    before = AssetRegistry(root, NODE_MODULES)
    (root / "js" / "a.js").write_text("export const a = 2;\n", encoding="utf-8")
    after = AssetRegistry(root, NODE_MODULES)
    old, new = before.url_for("/static/js/a.js"), after.url_for("/static/js/a.js")
    assert old != new and new == hashed_url("/static/js/a.js", b"export const a = 2;\n")
    assert before.url_for("/static/js/b.js") == after.url_for("/static/js/b.js")  # unchanged: same URL
    # The import map sends b.js's `import "./a.js"` to the new copy, with the new hash.
    imports = json.loads(after.import_map)
    assert imports["imports"]["/static/js/a.js"] == new
    assert imports["integrity"][new] == sri(b"export const a = 2;\n")

    client = await aiohttp_client(assets_app(after), skip_auto_headers=["Accept-Encoding"])
    assert await (await client.get(new)).read() == b"export const a = 2;\n"
    # The old version's URL is a 404, never the new bytes under the old name (nor the old bytes).
    assert (await client.get(old)).status == 404


async def test_a_wrong_or_malformed_hash_is_a_404(raw: Any, registry: AssetRegistry) -> None:
    url = registry.url_for("/static/js/chat.js")
    digit = url[-4]
    wrong = url[:-4] + ("0" if digit != "0" else "1") + url[-3:]
    stem = url.rsplit(".", 2)[0]
    for path in (wrong, stem + ".js.js", stem + "." + "0" * URL_HASH_HEX + ".js", url.upper(),
                 url.replace(".js", ".mjs"), stem + "..js", url + ".br", url + ".gz"):
        assert path != url
        assert (await raw.get(path)).status == 404, path


# -- the manifest, the import map and the pages ------------------------------------------------------

def test_manifest_and_import_map_name_every_module_at_both_urls(registry: AssetRegistry) -> None:
    manifest = registry.manifest()
    assert len(manifest) == 2 * len(registry.by_url)
    import_map = json.loads(registry.import_map)
    for asset in registry.by_url.values():
        assert manifest[asset.url] == manifest[asset.hashed_url] == asset.integrity == sri(asset.body)
        assert asset.hashed_url == hashed_url(asset.url, asset.body)
        if asset.content_type == "text/javascript":
            assert import_map["imports"][asset.url] == asset.hashed_url
            assert import_map["integrity"][asset.hashed_url] == asset.integrity  # what the browser looks up
            assert import_map["integrity"][asset.url] == asset.integrity
    # Bare specifiers (libsodium) go straight to the hashed vendor copies.
    assert import_map["imports"]["libsodium-sumo"] == registry.url_for("/vendor/libsodium-sumo.mjs")
    assert import_map["imports"]["libsodium-wrappers-sumo"] == registry.url_for("/vendor/libsodium-wrappers-sumo.mjs")
    # Every module the map points to carries its hash: nothing can be imported past SRI.
    assert set(import_map["imports"].values()) <= set(import_map["integrity"])


@pytest.fixture
async def real(aiohttp_server: Any, tmp_path: Path) -> Any:
    """The whole application (on SQLite), as a browser and `oor audit` meet it."""
    config = load_config(env=INSECURE_TEST_ENV, overrides={"data_dir": str(tmp_path / "var")})
    return await aiohttp_server(create_app(config))


async def test_pages_name_only_hashed_urls_with_their_integrity(real: Any) -> None:
    import aiohttp
    async with aiohttp.ClientSession(base_url=str(real.make_url(""))) as http:
        manifest = (await (await http.get("/api/assets")).json())["assets"]
        for path in ("/", "/chat", "/mail", "/mail/terug", "/inschrijven", "/vrijwilliger"):
            html = await (await http.get(path)).text()
            urls = re.findall(r'(?:src|href)="(/(?:static|vendor)/[^"]+)"', html)
            assert len(urls) >= 3, path  # style sheet, icon, scripts
            for url in urls:
                assert HASHED.search(url), (path, url)
                assert url in manifest
            for tag in re.findall(r'<script[^>]*\bsrc="[^"]+"[^>]*>|<link rel="stylesheet"[^>]*>', html):
                url = re.search(r'(?:src|href)="([^"]+)"', tag).group(1)
                assert f'integrity="{manifest[url]}"' in tag


async def test_pages_and_api_answers_are_never_compressed(real: Any) -> None:
    """BREACH: only the public, fixed assets are compressed; a page or an API answer that holds a secret
    next to text the request chose would leak the secret through its compressed length."""
    import aiohttp
    async with aiohttp.ClientSession(base_url=str(real.make_url("")), auto_decompress=False) as http:
        for path in ("/chat?lang=en", "/vrijwilliger", "/bestaat-niet", "/api/assets", "/api/chat/status",
                     "/api/health", "/api/bestaat-niet"):
            resp = await http.get(path, headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
            assert "Content-Encoding" not in resp.headers, path
        page = await http.get("/chat")
        assert page.headers["Cache-Control"] == "no-store"  # the pages themselves are never cached
        asset = await http.get("/static/js/chat.js", headers={"Accept-Encoding": "br"})
        assert asset.headers["Content-Encoding"] == "br"
        assert "default-src 'none'" in asset.headers["Content-Security-Policy"]  # security headers stay on


async def test_the_audit_accepts_the_published_manifest(real: Any) -> None:
    """`oor audit`'s integrity check fetches every URL of the manifest, plain and hashed, in the encoding
    its client asks for (gzip, and brotli where installed), and compares the decoded bytes."""
    audit = Audit(str(real.make_url("")).rstrip("/"))
    async with audit.session() as http:
        await audit.check_integrity(http)
    (result,) = audit.results
    assert result.outcome == PASS, result.detail
    assert result.detail == f"{2 * len(real.app[ASSETS].by_url)} assets checked"


def test_start_up_refuses_a_file_named_like_a_hashed_url(tmp_path: Path) -> None:
    root = make_web_root(tmp_path, "export const a = 1;\n")
    alias = hashed_url("/static/js/a.js", b"export const a = 1;\n").removeprefix("/static/js/")
    shutil.copy(root / "js" / "a.js", root / "js" / alias)
    with pytest.raises(RuntimeError, match="both a file's name and a hashed URL"):
        AssetRegistry(root, NODE_MODULES)
