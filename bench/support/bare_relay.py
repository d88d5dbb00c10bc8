"""The baseline for bench/chat_relay.py: a bare aiohttp websocket relay with the real relay's topology.

It has the real relay's sockets and handshake, and nothing else: no checks, no limits,
no logging, no storage, no queue broadcasts. Its cost is aiohttp's HTTP and websocket
work plus the least that routing multiplexed frames takes. That is the floor for any
relay written on aiohttp that carries chats the way the real one does
(server/chat/ws.py):

  POST /api/chat/challenge   -> {"challenge": b64(24), "bits": 0}     (a random token, never checked)
  GET  /ws/chat              one socket per help-seeker, one chat on it
      -> {t: "open", pub, ...}      <- {t: "queued", chat: b64(16)}   the chat joins the queue (FIFO)
      <- {t: "connected", identity, pub, sig}                         once a volunteer accepted
      -> any later frame            forwarded to the chat's volunteer with "chat" added, unread
      <- the volunteer's frames for this chat, verbatim
  GET  /ws/volunteer         one socket per volunteer, several chats on it (multiplexed)
      -> {t: "pickup"}              <- {t: "assigned", chat, peer}    the longest-waiting chat
      -> {t: "accept", chat, identity, pub, sig}                      passed on as "connected"
      -> {t: "msg", chat, ...}      forwarded verbatim to that chat's help-seeker

A volunteer's frame must be read (json.loads) to find its chat: that is the least a relay
can do that multiplexes chats over one socket, and the real relay reads it too. A
help-seeker's frame is not read: "chat" is spliced in front of its first field. The
volunteer names its own identity key in "accept" because there are no accounts here (the
real relay takes it from the volunteer's session).

bench/chat_relay.py starts it as a subprocess. It lives in bench/support/ because
`make bench` runs every bench/*.py, and this one would serve until stopped. On its own:
    .venv/bin/python bench/support/bare_relay.py --http 127.0.0.1:8181
It is not a server for people: it binds to loopback only and has no limits.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import signal
from collections import deque
from dataclasses import dataclass

from aiohttp import WSMsgType, web

HEARTBEAT_SECONDS = 20.0      # as the real relay (server/chat/ws.py)
MAX_FRAME_BYTES = 16 * 1024   # as the real relay (server/chat/frames.py)


def b64(data: bytes) -> str:
    """The protocol's base64 (crypto/encoding.py): URL-safe, no padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class BareChat:
    key: str
    pub: str
    seeker: web.WebSocketResponse
    volunteer: web.WebSocketResponse | None = None
    prefix: str = ""  # what goes in front of a help-seeker's frame (its "{" dropped) for the volunteer

    def __post_init__(self) -> None:
        self.prefix = f'{{"chat":"{self.key}",'


class Hub:
    def __init__(self) -> None:
        self.chats: dict[str, BareChat] = {}
        self.waiting: deque[BareChat] = deque()


HUB: web.AppKey[Hub] = web.AppKey("bare_hub", Hub)


async def _send(ws: web.WebSocketResponse | None, text: str) -> None:
    if ws is not None and not ws.closed:
        try:
            await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            pass


async def challenge(request: web.Request) -> web.Response:
    return web.json_response({"challenge": b64(secrets.token_bytes(24)), "bits": 0})


async def seeker_socket(request: web.Request) -> web.WebSocketResponse:
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    chat: BareChat | None = None
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            if chat is None:  # the first frame opens the chat
                chat = BareChat(b64(secrets.token_bytes(16)), json.loads(msg.data)["pub"], ws)
                hub.chats[chat.key] = chat
                hub.waiting.append(chat)
                await ws.send_str(f'{{"t":"queued","chat":"{chat.key}"}}')
            else:
                await _send(chat.volunteer, chat.prefix + msg.data[1:])
    finally:
        if chat is not None:
            hub.chats.pop(chat.key, None)
    return ws


async def volunteer_socket(request: web.Request) -> web.WebSocketResponse:
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            continue
        frame = json.loads(msg.data)
        kind = frame["t"]
        if kind == "msg":
            chat = hub.chats.get(frame["chat"])
            if chat is not None:
                await _send(chat.seeker, msg.data)
        elif kind == "pickup":
            while hub.waiting and hub.waiting[0].key not in hub.chats:
                hub.waiting.popleft()  # its help-seeker left before anyone picked it up
            if not hub.waiting:
                await ws.send_str('{"t":"error","code":"nothing-to-pick-up"}')
                continue
            chat = hub.waiting.popleft()
            chat.volunteer = ws
            await ws.send_str(f'{{"t":"assigned","chat":"{chat.key}","peer":"{chat.pub}"}}')
        elif kind == "accept":
            chat = hub.chats.get(frame["chat"])
            if chat is not None and chat.volunteer is ws:
                await _send(chat.seeker, json.dumps({"t": "connected", "identity": frame["identity"],
                                                     "pub": frame["pub"], "sig": frame["sig"]}))
    return ws


def make_app() -> web.Application:
    app = web.Application()
    app[HUB] = Hub()
    app.router.add_post("/api/chat/challenge", challenge)
    app.router.add_get("/ws/chat", seeker_socket)
    app.router.add_get("/ws/volunteer", volunteer_socket)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"bare relay on {host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", default="127.0.0.1:8181", help="HOST:PORT (loopback only)")
    args = parser.parse_args()
    host, _, port = args.http.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the bare relay listens on loopback only")
    asyncio.run(serve(host, int(port)))


if __name__ == "__main__":
    main()
