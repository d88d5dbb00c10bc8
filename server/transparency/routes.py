"""The log, served in the C2SP tlog-tiles layout under /log/ (public, GET only; PROTOCOL.md 14).

    /log/checkpoint                    the latest signed checkpoint, with its cosignatures
    /log/tile/<L>/<N>[.p/<W>]          hash tiles (RFC 6962 hashes, 256 per full tile)
    /log/tile/entries/<N>[.p/<W>]      entry bundles (u16be length ‖ entry, repeated)
    /log/manifest/<hex sha256>.json    the release manifest a release entry commits to
    /log/revoked                       the revoked account ids of the latest checkpoint (16 bytes each)

Only what the latest stored checkpoint covers is served: entries appended since are not, until a
checkpoint signs them. Full tiles and full bundles never change (cached for a year, immutable);
partial ones, the checkpoint and the revoked set are cached a few seconds. The paths are parsed
strictly (tlog-tiles: no leading zeros, `x`-prefixed 3-digit groups) before anything is looked up.
"""

from __future__ import annotations

import re

from aiohttp import web

import crypto

from ..keys import STORAGE
from .log import LOG

routes = web.RouteTableDef()

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=5"
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")
MAX_TILE_PATH = 120


def parse_index(parts: list[str]) -> int | None:
    """A tlog-tiles index from its path elements (`x001`, `x234`, `067`), or None if malformed."""
    if not parts or len(parts) > 6 or not _LAST.fullmatch(parts[-1]) \
            or not all(_GROUP.fullmatch(p) for p in parts[:-1]):
        return None
    if len(parts) > 1 and parts[0] == "x000":
        return None  # no leading zero groups: every index has one encoding
    index = 0
    for part in parts:
        index = index * 1000 + int(part.lstrip("x"))
    return index


def parse_tile_path(path: str) -> tuple[str, int, int, int | None] | None:
    """("hash", level, index, width|None) or ("entries", 0, index, width|None); None if malformed."""
    if len(path) > MAX_TILE_PATH:
        return None
    parts = path.split("/")
    kind, level = "hash", 0
    if parts[0] == "entries":
        kind = "entries"
    elif _LEVEL.fullmatch(parts[0]) and int(parts[0]) <= 63:
        level = int(parts[0])
    else:
        return None
    parts = parts[1:]
    width = None
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        if not _WIDTH.fullmatch(parts[-1]) or not 1 <= int(parts[-1]) <= 255:
            return None
        width = int(parts[-1])
        parts = parts[:-2] + [parts[-2][:-2]]
    index = parse_index(parts)
    if index is None:
        return None
    return kind, level, index, width


def _missing(why: str) -> web.Response:
    """A plain 404 (not the HTML error page: a log client reads only the status)."""
    return web.Response(status=404, text=why + "\n", headers={"Cache-Control": "no-store"})


def _octets(body: bytes, cache: str) -> web.Response:
    return web.Response(body=body, content_type="application/octet-stream", headers={"Cache-Control": cache})


@routes.get("/log/checkpoint")
async def checkpoint(request: web.Request) -> web.Response:
    stored = request.app[LOG].stored
    if stored is None:
        return _missing("no checkpoint yet")
    return web.Response(text=stored[1], content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": SHORT})


@routes.get(r"/log/tile/{tile:[\s\S]+}")
async def tile(request: web.Request) -> web.Response:
    parsed = parse_tile_path(request.match_info["tile"])
    if parsed is None:
        return _missing("no such tile")
    kind, level, index, width = parsed
    log = request.app[LOG]
    size = min(log.stored[0], log.size) if log.stored else 0
    span = 256 ** level  # leaves under one hash of the tile
    count = 256 if width is None else width
    if (index * 256 + count) * span > size:
        return _missing("the latest checkpoint does not cover this tile")
    cache = IMMUTABLE if width is None else SHORT
    if kind == "entries":
        entries = log.state.entries[index * 256:index * 256 + count]
        return _octets(crypto.encode_entry_bundle(entries), cache)
    return _octets(log.state.tree.tile(level, index, count), cache)


@routes.get("/log/revoked")
async def revoked(request: web.Request) -> web.Response:
    return _octets(request.app[LOG].revoked(), SHORT)


@routes.get("/log/manifest/{digest}.json")
async def manifest(request: web.Request) -> web.Response:
    from .release import RELEASE_META_PREFIX, manifest_for
    if not re.fullmatch(r"[0-9a-f]{64}", request.match_info["digest"]):
        return _missing("no such manifest")
    digest = bytes.fromhex(request.match_info["digest"])
    log = request.app[LOG]
    if not any(h == digest for _, _, h in log.state.releases):
        return _missing("no logged release has this manifest")
    body = manifest_for(request.app, digest)
    if body is None:
        # An earlier release's manifest, kept by `oor release publish` (only for a logged hash, so the
        # lookup cannot add rows for arbitrary names).
        body = await request.app[STORAGE].get_or_create_meta(RELEASE_META_PREFIX + digest.hex(), b"")
    if not body:
        return _missing("this manifest is not kept here")
    return web.Response(body=body, content_type="application/json", headers={"Cache-Control": IMMUTABLE})
