"""Release manifests (server/transparency/release.py; PROTOCOL.md 14), both backends.

The manifest is the canonical JSON of every served file's SRI hash (the trust configuration
included); `publish` logs it once; `check` refuses files that are not the latest logged manifest;
`oor serve` refuses to start without a root key, and without the logged release, with messages that
say what to run; the manifest and a WEBCAT-style manifest are served, and match the served bytes.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import crypto
from server.app import create_app
from server.assets import AssetRegistry
from server.keys import ASSETS, STORAGE
from server.storage import open_storage
from server.transparency.log import LOG, trust_config
from server.transparency.release import (ReleaseMismatch, StartRefused, check, manifest_bytes, publish,
                                         release_gate, webcat_manifest)
from tests.conftest import INSECURE_TEST_ENV, REPO, free_port
from tests.helpers import Clock

pytestmark = pytest.mark.no_signing_robot

NOW = 1_800_000_000


async def test_publish_logs_a_release_once_and_check_refuses_other_files(insecure_kdf_config: Any) -> None:
    config = insecure_kdf_config
    assets = AssetRegistry(trust=trust_config(config))
    body = manifest_bytes(assets, config)
    manifest = json.loads(body)
    assert body == json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    assert manifest["v"] == 1 and manifest["deployment_id"] == config.deployment_id
    assert manifest["files"] == assets.manifest()
    trust_urls = [u for u in manifest["files"] if u.endswith("/js/trust.js")]
    assert len(trust_urls) == 1 and manifest["files"][trust_urls[0]] == assets.integrity("/static/js/trust.js")
    store = open_storage(config)
    await store.open()
    try:
        with pytest.raises(ReleaseMismatch, match="oor release publish"):
            await check(store, config, assets)
        assert await publish(store, config, assets, NOW)
        await check(store, config, assets)
        assert not await publish(store, config, assets, NOW)  # the same release: nothing appended
        assert await store.log_size() == 1
        entry = crypto.decode_entry((await store.log_entries(0, 1))[0])
        assert entry.type == 2 and entry.manifest_hash == hashlib.sha256(body).digest()
        # Another trust configuration is another trust.js, so another release: refused until published.
        other = dataclasses.replace(config, witness_max_age_seconds=7200)
        changed = AssetRegistry(trust=trust_config(other))
        with pytest.raises(ReleaseMismatch, match="differ from the latest logged release manifest"):
            await check(store, other, changed)
        assert await publish(store, other, changed, NOW)
        await check(store, other, changed)
        with pytest.raises(ReleaseMismatch):  # the old files are no longer the latest release
            await check(store, config, assets)
        # The start-up gate: the same checks, and the root key first.
        with pytest.raises(StartRefused, match="oor root init"):
            await release_gate(dataclasses.replace(other, root_public_key=""), changed, demo=False,
                               with_storage=_with(store))
        with pytest.raises(StartRefused, match="witness_quorum is 1 but 0 witness"):
            await release_gate(dataclasses.replace(other, witness_quorum=1), changed, demo=False,
                               with_storage=_with(store))
        assert await release_gate(other, changed, demo=False, with_storage=_with(store)) is None
    finally:
        await store.close()


def _with(store: Any) -> Any:
    async def with_storage(config: Any, work: Any) -> Any:
        return await work(store)
    return with_storage


async def test_the_manifest_and_the_webcat_manifest_are_served_and_match_the_files(
        aiohttp_client: Any, insecure_kdf_config: Any) -> None:
    config = insecure_kdf_config
    client = await aiohttp_client(create_app(config, clock=Clock(NOW)))
    app = client.server.app
    assert await publish(app[STORAGE], config, app[ASSETS], NOW)
    await app[LOG].refresh()
    body = manifest_bytes(app[ASSETS], config)
    digest = hashlib.sha256(body).hexdigest()
    served = await client.get(f"/log/manifest/{digest}.json")
    assert served.status == 200 and await served.read() == body
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (await client.get(f"/log/manifest/{'1' * 64}.json")).status == 404
    assert (await client.get(f"/log/manifest/{digest.upper()}.json")).status == 404
    # /api/assets publishes the same files the logged manifest lists.
    assets = await (await client.get("/api/assets")).json()
    assert assets["assets"] == json.loads(body)["files"]
    # The trust configuration is a served module, import-mapped as "trust".
    trust_url = app[ASSETS].url_for("/static/js/trust.js")
    trust_js = await (await client.get(trust_url)).text()
    assert trust_js == "export const TRUST = Object.freeze(" + json.dumps(
        trust_config(config), sort_keys=True, separators=(",", ":")) + ");\n"
    page = await (await client.get("/")).text()
    assert f'"trust":"{trust_url}"' in page
    # WEBCAT: every listed path's bytes hash (SHA-256, base64url) to what the manifest says.
    webcat = await client.get("/.well-known/webcat/manifest.json")
    assert webcat.status == 200
    manifest = await webcat.json()
    assert manifest == webcat_manifest(app[ASSETS], config)
    assert set(manifest) == {"name", "version", "default_csp", "extra_csp", "default_index", "default_fallback",
                             "files", "wasm"}
    assert manifest["version"] == digest and manifest["default_csp"] == app[ASSETS].csp
    for path in list(manifest["files"])[:12] + [trust_url]:
        got = await (await client.get(path, headers={"Accept-Encoding": "identity"})).read()
        want = base64.urlsafe_b64encode(hashlib.sha256(got).digest()).rstrip(b"=").decode()
        assert manifest["files"][path] == want, path


def _oor(data: Path, *args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args, "--data", str(data)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_oor_serve_refuses_to_start_without_the_root_key_or_the_logged_release(tmp_path: Path) -> None:
    data = tmp_path / "var"
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("OOR_")}
    env = {**base, **INSECURE_TEST_ENV, "OOR_SMTP_ENABLED": "false", "PYTHONPATH": str(REPO)}
    no_root = {k: v for k, v in env.items() if k != "OOR_ROOT_PUBLIC_KEY"}
    done = _oor(data, "serve", "--http", f"127.0.0.1:{port}", env=no_root)
    assert done.returncode == 1 and "refusing to start" in done.stderr and "oor root init" in done.stderr
    done = _oor(data, "serve", "--http", f"127.0.0.1:{port}", env=env)
    assert done.returncode == 1 and "oor release publish" in done.stderr, done.stderr
    # `oor log init` printed the vkey for the witness operators; `oor log key` prints it again.
    init = _oor(data, "log", "init", env=env)
    assert init.returncode == 0 and "exists already" in init.stderr  # `oor serve` made it above
    vkey = init.stdout.strip()
    name, alg, _ = crypto.parse_vkey(vkey)
    assert (name, alg) == ("localhost/log", 1) and "--log <the line above>" in init.stderr
    assert _oor(data, "log", "key", env=env).stdout == init.stdout
    published = _oor(data, "release", "publish", env=env)
    assert published.returncode == 0 and published.stdout.strip().endswith("logged"), published.stderr
    again = _oor(data, "release", "publish", env=env)
    assert "is the latest logged one already" in again.stdout
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--data", str(data), "--http",
                             f"127.0.0.1:{port}"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Luisterend Oor is running." in line:
                break
            assert time.monotonic() < deadline, "oor serve did not start"
        else:
            raise AssertionError("oor serve stopped")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
