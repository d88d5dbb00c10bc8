"""Release manifests (crypto/PROTOCOL.md section 14, issue 17 point 4).

The manifest of a release is the canonical JSON of every file the service serves to a browser, with
its Subresource Integrity hash (`AssetRegistry.manifest()`, the list behind `/api/assets`, which
includes the generated trust configuration `/js/trust.js`):

    {"deployment_id": "...", "files": {"/static/js/ui.js": "sha384-...", ...}, "v": 1}

`oor release publish` appends a release entry (`0x02 ‖ deployment id ‖ SHA-256(manifest)`) to the
log when the latest release entry of this deployment commits to another manifest, and keeps the
manifest's bytes (served at `/log/manifest/<hex>.json`). `oor serve` refuses to start when the
files it would serve do not match the latest logged manifest (`check`), so a changed file cannot be
served without a log entry anyone can see; `oor serve --demo` publishes by itself.

A WEBCAT-style manifest (freedomofpress/webcat, `extension/src/webcat/interfaces/bundle.ts`) of the
same files is served at `/.well-known/webcat/manifest.json`: `files` maps each served path to the
base64url SHA-256 of its bytes, as the extension checks them. Where it does not fit WEBCAT (see
`webcat_manifest`): the HTML pages are rendered per deployment and not listed, there is no WEBCAT
enrollment or Sigsum/Sigstore signature (our signature is the log entry and its cosigned checkpoint),
and libsodium's WebAssembly is embedded in its module, so `wasm` is not filled.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from aiohttp import web

import crypto

from ..assets import AssetRegistry
from ..config import Config
from ..storage.interface import Storage
from .log import append_and_checkpoint, load_state

MANIFEST_VERSION = 1
# Earlier releases' manifests are kept in `meta` under this prefix and the hex SHA-256.
RELEASE_META_PREFIX = "release-manifest:"
WEBCAT_MANIFEST_PATH = "/.well-known/webcat/manifest.json"


class ReleaseMismatch(Exception):
    """The files this server would serve are not the latest logged release manifest."""


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def manifest_bytes(assets: AssetRegistry, config: Config) -> bytes:
    return canonical_json({"v": MANIFEST_VERSION, "deployment_id": config.deployment_id, "files": assets.manifest()})


def manifest_hash(assets: AssetRegistry, config: Config) -> bytes:
    return hashlib.sha256(manifest_bytes(assets, config)).digest()


async def logged_release(storage: Storage, config: Config) -> bytes | None:
    """The manifest hash of the latest release entry of this deployment in the log, or None."""
    state = await load_state(storage, config)
    hashes = [h for _, deployment, h in state.releases if deployment == config.deployment_id]
    return hashes[-1] if hashes else None


async def publish(storage: Storage, config: Config, assets: AssetRegistry, now: int) -> bool:
    """Log this release's manifest unless it is the latest logged one already; True if it logged it."""
    body = manifest_bytes(assets, config)
    digest = hashlib.sha256(body).digest()
    if await logged_release(storage, config) == digest:
        return False
    await storage.set_meta(RELEASE_META_PREFIX + digest.hex(), body)
    await append_and_checkpoint(storage, config, [crypto.release_entry(config.deployment_id, body)], now=now)
    return True


async def check(storage: Storage, config: Config, assets: AssetRegistry) -> None:
    """ReleaseMismatch unless the latest logged release manifest is exactly these files."""
    logged = await logged_release(storage, config)
    if logged is None:
        raise ReleaseMismatch("no release manifest is logged for this deployment: run `oor release publish` "
                              "after installing a release (it logs the hashes of the files served)")
    if logged != manifest_hash(assets, config):
        raise ReleaseMismatch("the files this server would serve differ from the latest logged release manifest: "
                              "run `oor release publish` after installing a release, or find out who changed them")


def manifest_for(app: web.Application, digest: bytes) -> bytes | None:
    """This server's own manifest, if its hash is `digest`."""
    from ..keys import ASSETS, CONFIG
    body = manifest_bytes(app[ASSETS], app[CONFIG])
    return body if hashlib.sha256(body).digest() == digest else None


def webcat_manifest(assets: AssetRegistry, config: Config) -> dict:
    """The same files in WEBCAT's manifest format (interfaces/bundle.ts `Manifest`)."""
    files = {}
    for url in assets.manifest():
        found = assets.find(url)
        if found is not None:
            files[url] = base64.urlsafe_b64encode(hashlib.sha256(found[0].body).digest()).rstrip(b"=").decode()
    return {
        "name": f"Luisterend Oor ({config.deployment_id})",
        "version": hashlib.sha256(manifest_bytes(assets, config)).hexdigest(),
        "default_csp": assets.csp,
        "extra_csp": {},
        "default_index": "/",
        "default_fallback": "/",
        "files": dict(sorted(files.items())),
        "wasm": [],
    }


routes = web.RouteTableDef()


@routes.get(WEBCAT_MANIFEST_PATH)
async def webcat(request: web.Request) -> web.Response:
    from ..keys import ASSETS, CONFIG
    body = canonical_json(webcat_manifest(request.app[ASSETS], request.app[CONFIG]))
    return web.Response(body=body, content_type="application/json", headers={"Cache-Control": "no-cache"})


# -- `oor log ...` and `oor release ...` ----------------------------------------------------------


def add_commands(sub: Any, common: Any) -> None:
    lg = sub.add_parser("log", help="the transparency log's checkpoint key")
    lsub = lg.add_subparsers(dest="action", required=True)
    init = lsub.add_parser("init", help="make the log key (log_key_file, 0600) and print its vkey for witnesses")
    common(init)
    key = lsub.add_parser("key", help="print the log key's vkey (for `oor witness serve --log ORIGIN=VKEY`)")
    common(key)
    rel = sub.add_parser("release", help="log the manifest of the files this release serves")
    rsub = rel.add_subparsers(dest="action", required=True)
    pub = rsub.add_parser("publish", help="append this release's manifest to the log (run after installing)")
    common(pub)


def log_command(config: Config, args: Any) -> int:
    import sys
    from .log import LogError, create_log_key, read_log_key
    try:
        if args.action == "init":
            key, made = create_log_key(config)
            print(key.vkey())
            print((f"log key written to {config.log_key_path} (mode 0600)" if made else
                   f"{config.log_key_path} exists already: its key is kept") +
                  f"; witness operators run: oor witness serve --log <the line above> ...",
                  file=sys.stderr)
        else:
            key = read_log_key(config)
            print(key.vkey())
    except LogError as exc:
        print(f"oor: {exc}", file=sys.stderr)
        return 1
    return 0


def release_command(config: Config, args: Any, with_storage: Any) -> int:
    import asyncio
    import time
    from .log import trust_config
    assets = AssetRegistry(trust=trust_config(config))

    async def work(storage: Storage) -> bool:
        return await publish(storage, config, assets, int(time.time()))
    logged = asyncio.run(with_storage(config, work))
    digest = manifest_hash(assets, config).hex()
    print(f"release manifest {digest} " + ("logged" if logged else "is the latest logged one already"))
    return 0


# -- `oor serve`: the start-up checks, and the demo's own witness ---------------------------------


class StartRefused(Exception):
    """`oor serve` must not start with this configuration (the message says why and what to do)."""


DEMO_WITNESS_KEY = "demo-witness.key"
DEMO_WITNESS_STATE = "demo-witness.state.json"
DEMO_WITNESS_NAME = "localhost/oor-demo-witness"


async def demo_witness(config: Config) -> tuple[Config, Any]:
    """`oor serve --demo`: the real witness (server/transparency/witness.py) in this process, on a port
    of its own, its key and state in the data folder, required by the pages (quorum 1). Returns the
    configuration that names it and the witness's runner (to clean up)."""
    import dataclasses
    from . import witness as w
    from .log import log_key
    key_path = config.data_dir / DEMO_WITNESS_KEY
    key = w.read_key(key_path) if key_path.exists() else w.init_key(key_path, DEMO_WITNESS_NAME)
    origin_key = log_key(config)
    witness = w.Witness(key, config.data_dir / DEMO_WITNESS_STATE, {origin_key.name: origin_key.public})
    runner, port = await w.start(witness, "127.0.0.1", 0)
    entry = f"{key.vkey()} http://127.0.0.1:{port}"
    config = dataclasses.replace(config, log_witnesses=(*config.log_witnesses, entry),
                                 witness_quorum=max(config.witness_quorum, 1))
    return config, runner


async def release_gate(config: Config, assets: AssetRegistry, *, demo: bool, with_storage: Any) -> str | None:
    """Before `oor serve` listens: the demo logs its release itself; otherwise the files it would serve
    must be the latest logged release manifest (StartRefused). Returns a line to print, if any."""
    import time
    from .log import start_problems
    problems = start_problems(config, demo=demo)
    if problems:
        raise StartRefused("; ".join(problems))
    if config.witness_quorum == 0:
        import logging
        logging.getLogger("oor.log").warning(
            "witness_quorum = 0: the pages accept checkpoints no witness cosigned, so this server could show "
            "different visitors different logs unnoticed. For development only; production needs at least 1")
    if demo:
        async def work(storage: Storage) -> bool:
            return await publish(storage, config, assets, int(time.time()))
        if await with_storage(config, work):
            return "Demo: logged this release's manifest (`oor release publish`)."
        return None

    async def checking(storage: Storage) -> None:
        await check(storage, config, assets)
    try:
        await with_storage(config, checking)
    except ReleaseMismatch as exc:
        raise StartRefused(str(exc)) from None
    return None
