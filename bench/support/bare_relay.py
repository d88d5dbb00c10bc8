"""The baseline for bench/chat_relay.py: a bare aiohttp websocket relay.

Two websockets that connect to /ws/{chat}/{side} with the same chat id are a
pair; every text frame one of them sends is forwarded verbatim to the other.
No parsing, no checks, no state beyond the pairing: its cost is pure aiohttp
websocket forwarding, which is the floor for any relay written on aiohttp.

bench/chat_relay.py starts it as a subprocess. It lives in bench/support/ because
`make bench` runs every bench/*.py, and this one would serve until stopped. On its own:
    .venv/bin/python bench/support/bare_relay.py --http 127.0.0.1:8181
It is not a server for people: it binds to loopback only and has no limits.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import WSMsgType, web

HEARTBEAT_SECONDS = 20.0      # as the real relay (server/chat/ws.py)
MAX_FRAME_BYTES = 16 * 1024   # as the real relay (server/chat/frames.py)

PAIRS: web.AppKey[dict[str, dict[str, web.WebSocketResponse]]] = web.AppKey("pairs", dict)


async def relay_socket(request: web.Request) -> web.WebSocketResponse:
    chat, side = request.match_info["chat"], request.match_info["side"]
    if side not in ("a", "b"):
        raise web.HTTPNotFound()
    other = "b" if side == "a" else "a"
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    pair = request.app[PAIRS].setdefault(chat, {})
    pair[side] = ws
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                peer = pair.get(other)
                if peer is not None and not peer.closed:
                    try:
                        await peer.send_str(msg.data)
                    except (ConnectionError, RuntimeError):
                        pass
    finally:
        if pair.get(side) is ws:
            del pair[side]
        if not pair:
            request.app[PAIRS].pop(chat, None)
    return ws


def make_app() -> web.Application:
    app = web.Application()
    app[PAIRS] = {}
    app.router.add_get("/ws/{chat}/{side}", relay_socket)
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
