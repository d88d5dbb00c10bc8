"""A rewriting proxy between a real Chromium page and the real in-process server: a frame-rewriting attacker.

Whoever terminates TLS in front of the service (a compromised proxy, or the server process itself) can
read and rewrite every HTTP answer and every websocket frame. This proxy is that attacker, at the HTTP
and websocket level: the browser talks to it as to the site (same origin: it forwards the browser's
Host and Origin unchanged, so the server's own origin checks see what they would see behind a real
TLS terminator), and it passes everything on to the server, except what a test's hooks rewrite:

- `to_page(frame) -> frame | None` for every JSON text frame the server sends on `/ws/chat` (None drops it);
- `to_server(frame)` is told every JSON text frame the page sends on `/ws/chat` (recorded in `from_page`);
  `paths` names the websockets these hooks see (add `/ws/volunteer` to attack a staff page);
- `answers[path](data) -> data` for a JSON answer of that path (the mail API's `/api/mail/assign`).

It asks the server for uncompressed answers (it must read them), which changes nothing a page checks:
subresource integrity covers the decoded bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length", "content-encoding", "accept-encoding"}
WS_HEADERS = frozenset({"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"})

FrameHook = Callable[[dict[str, Any]], "dict[str, Any] | None"]


@dataclass
class FrameProxy:
    target: str  # the server's base URL, http://127.0.0.1:<port>
    to_page: FrameHook | None = None
    to_server: Callable[[dict[str, Any]], None] | None = None
    answers: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    paths: tuple[str, ...] = ("/ws/chat",)  # the websockets whose frames the hooks see and rewrite
    from_page: list[dict[str, Any]] = field(default_factory=list)  # every chat frame the page sent
    to_page_sent: list[dict[str, Any]] = field(default_factory=list)  # every chat frame the page got
    requests: list[str] = field(default_factory=list)  # "POST /api/mail/threads", ... as the page made them
    port: int = 0
    runner: web.AppRunner | None = None
    http: aiohttp.ClientSession | None = None
    sockets: set[web.WebSocketResponse] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FrameProxy:
        self.http = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.http is not None:
            await self.http.close()

    def _headers(self, request: web.Request, skip: frozenset[str] = frozenset()) -> dict[str, str]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | skip}
        headers["Accept-Encoding"] = "identity"  # the proxy reads every answer (else aiohttp asks for gzip)
        return headers

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        assert self.http is not None
        self.requests.append(f"{request.method} {request.path}")
        body = await request.read()
        async with self.http.request(request.method, self.target + request.path_qs, data=body or None,
                                     headers=self._headers(request), allow_redirects=False) as upstream:
            data = await upstream.read()
            headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            rewrite = self.answers.get(request.path)
            if rewrite is not None and upstream.status < 300 and upstream.content_type == "application/json":
                data = json.dumps(rewrite(json.loads(data))).encode()
            return web.Response(status=upstream.status, body=data, headers=headers)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        assert self.http is not None
        page = web.WebSocketResponse(autoping=True)
        await page.prepare(request)
        self.sockets.add(page)
        chat = request.path in self.paths
        try:
            async with self.http.ws_connect(self.target + request.path_qs, autoping=True,
                                            headers=self._headers(request, WS_HEADERS)) as server:
                await asyncio.gather(self._pump_up(page, server, chat), self._pump_down(server, page, chat))
        finally:
            self.sockets.discard(page)
            with contextlib.suppress(Exception):
                await page.close()
        return page

    async def _pump_up(self, page: web.WebSocketResponse, server: aiohttp.ClientWebSocketResponse, chat: bool) -> None:
        async for msg in page:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            if chat:
                with contextlib.suppress(ValueError):
                    frame = json.loads(msg.data)
                    self.from_page.append(frame)
                    if self.to_server is not None:
                        self.to_server(frame)
            with contextlib.suppress(Exception):
                await server.send_str(msg.data)
        with contextlib.suppress(Exception):
            await server.close()

    async def _pump_down(self, server: aiohttp.ClientWebSocketResponse, page: web.WebSocketResponse,
                         chat: bool) -> None:
        async for msg in server:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            text = msg.data
            if chat:
                frame = json.loads(text)
                if self.to_page is not None:
                    rewritten = self.to_page(frame)
                    if rewritten is None:
                        continue
                    frame = rewritten
                    text = json.dumps(frame, separators=(",", ":"))
                self.to_page_sent.append(frame)
            with contextlib.suppress(Exception):
                await page.send_str(text)
        with contextlib.suppress(Exception):
            await page.close()


# -- forged logs: what an attacker holding some (or none) of the keys can make ---------------------------


def key_proof(entries: list[bytes], index: int, note: str, revoked: list[bytes]) -> dict[str, Any]:
    """A key proof (PROTOCOL.md 14) of entries[index] in the tree of `entries`, against `note`."""
    import crypto
    tree = crypto.MerkleTree(entries)
    return {"v": 1, "entry": crypto.b64encode(entries[index]), "index": index,
            "path": [crypto.b64encode(h) for h in tree.inclusion_proof(index, len(entries))],
            "checkpoint": note, "revoked": crypto.b64encode(b"".join(sorted(revoked)))}


def signed_checkpoint(entries: list[bytes], origin: str, signer: Any, revoked: list[bytes],
                      cosigners: tuple[Any, ...] = (), now: int = 0) -> str:
    """A checkpoint note of the tree of `entries`, signed by `signer` (a crypto.NoteKey), cosigned by each
    of `cosigners` (crypto.Cosigner) at `now`: a log of the attacker's own making."""
    import crypto
    cp = crypto.Checkpoint(origin, len(entries), crypto.MerkleTree(entries).root(), len(revoked),
                           crypto.revoked_digest(sorted(revoked)))
    note = signer.sign_note(crypto.format_checkpoint(cp))
    for cosigner in cosigners:
        note += cosigner.cosign(crypto.format_checkpoint(cp), now)
    return note
