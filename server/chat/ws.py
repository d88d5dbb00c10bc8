"""Chat over websockets: the frame catalogue and the two handlers.

Help-seeker  (GET /ws/chat, no account, no cookie)
  -> {t: "open", challenge: str, nonce: b64(8), pub: b64(32)}     after solving the proof-of-work
  <- {t: "queued", chat: b64(16), resume: str, position: int, estimate_s: int}
  <- {t: "position", position: int, estimate_s: int}               whenever the queue moves
  <- {t: "connected", name: str, identity: b64(32), pub: b64(32), sig: b64(64), proof: {key proof}}
                                                                    `proof`: the identity key's key proof (PROTOCOL.md
                                                                    14); the page verifies it before it seals a byte
  -> {t: "msg", seq: int, ct: b64}                                  ciphertext to the volunteer
  <- {t: "msg", seq: int, ct: b64}                                  ciphertext from the volunteer
  -> {t: "end"}
  <- {t: "ended", reason: "seeker"|"volunteer"|"timeout"|"blocked"|"restart"|"volunteer-left"|"unknown"}
  -> {t: "resume", chat: b64(16), resume: str, received: int}      after a dropped connection
  <- {t: "resumed", state: "waiting"|"offered"|"active", position: int, acked: int}
                                                                    `acked`: the last of its own msgs the relay has;
                                                                    the page sends the later ones again
  <- {t: "connected", ...} again right after `resumed` when a volunteer took the chat while the page was away
     and nothing was exchanged yet (a page that already holds its session drops it)
  <- {t: "peer-away"} / {t: "peer-back"}                            the volunteer's connection dropped / is back
  Read-along (crypto/PROTOCOL.md 10.11):
  <- {t: "mentor-request"}                                          a mentor is invited: make a key for them
  -> {t: "mentor-key", pub: b64(32)}
  <- {t: "mentor-joined", chat: b64(16), name, identity, pub, sig, proof}  the mentor's signed, proven key: notice
  -> {t: "mmsg", seq: int, ct: b64}                                 each message sealed again for the mentor
  <- {t: "mentor-ended"}                                            wipe the mentor session, hide the notice
  Handover:
  <- {t: "handover-ask", kind: "partner"|"colleague", to: {nl, en}}
  -> {t: "handover-accept", pub: b64(32), history: bool}  /  -> {t: "handover-decline"}
  <- {t: "handover-waiting"}
  <- {t: "handover-off", reason: "declined"|"expired"|"cancelled"}   the chat stays with the volunteer
  <- {t: "handed-over", chat: b64(16), name, kind, identity, pub, sig, proof}  the new chat id, the receiver's
                                                                    offer and their key's proof
  <- {t: "error", code: str, message: {nl, en}}                     the frame was refused; nothing changed

Volunteer    (GET /ws/volunteer, session cookie, role with chat)
  <- {t: "inbox", unread: int, threads: int}   for an account that can mail: at set-up and whenever its help-seeker
                                               messages not yet opened or its open threads change (server/mail/inbox.py)
  -> {t: "available", chat: bool}
  <- {t: "queue", available: bool, paused?: true, waiting: [seconds waited, ...], holding: int, capacity: int}
                                  `paused` only while on a break
  -> {t: "pause", on: bool}       a break: no new chat or handover is offered; open chats, read-along, mail stay
  -> {t: "debrief"}               <- {t: "debrief-sent", mentors: n} (or an error frame: no mentor online)
  M <- {t: "debrief-ask", from: first name}   every mentor online: the sender asks to talk; no content
  -> {t: "pickup"}                                                  take the longest-waiting chat
  <- {t: "assigned", chat: b64(16), peer: b64(32)}                  the help-seeker's ephemeral key
  -> {t: "accept", chat: b64(16), pub: b64(32), sig: b64(64)}       own ephemeral key, signed by the identity key
  -> {t: "msg", chat: b64(16), seq: int, ct: b64}
  <- {t: "msg", chat: b64(16), seq: int, ct: b64}
  -> {t: "end", chat: b64(16)}
  -> {t: "block", chat: b64(16)}                                    end, and refuse this browser for a while
  <- {t: "ended", chat: b64(16), reason: str, wrapup: bool}
  -> {t: "wrapup", chat: b64(16), topic: str, age: str, handed_over: bool}
  <- {t: "wrapped", chat: b64(16)}
  -> {t: "resume", chats: [{chat: b64(16), received: int}]}         after a reconnect: the chats this page holds
  <- {t: "resumed", chat: b64(16), acked: int}  per held chat: the page sends its messages after `acked` again
  <- {t: "ended", chat, reason: "unknown", wrapup: false}  for a held chat this server no longer knows
  <- {t: "peer-away", chat} / {t: "peer-back", chat}
  The queue frame also lists `handovers` waiting for this account and `partners`, and online `colleagues`
  only when that list changed for this page (always in the first queue frame on a connection): a queue
  frame without `colleagues` means the last list still holds. A page gets at most one `queue` or
  `position` frame per 250 ms, and a help-seeker a `position` frame only when its position or estimate
  changed (server/chat/announce.py).
  Read-along (inviting volunteer V, mentor M; `link` is the staff link, PROTOCOL.md 10.11):
  V -> {t: "mentor-invite", chat, mentor: account id, link: b64(16), pub, sig}   V's signed link key
  V <- {t: "mentor-asked", chat, link}
  M <- {t: "mentor-ask", link, chat: b64(16) (M's read-only chat), seeker: b64(32), from, identity, pub, sig, proof}
  M -> {t: "mentor-accept", link, cpub, csig, pub, sig}   / M -> {t: "mentor-decline", link}
  V <- {t: "mentor-linked", chat, link, name, identity, pub, sig, proof}  `proof`: of the identity key (PROTOCOL.md 14)
  M <- {t: "mmsg", link, seq, ct}                                   the help-seeker's copy for the mentor
  -> {t: "lmsg", link, seq, ct}  <- {t: "lmsg", link, seq, ct}       V's copies to M, M's hints to V
  -> {t: "mentor-end", link}     <- {t: "mentor-ended", chat, link, reason}
  Handover (V hands over, receiver R):
  V -> {t: "handover", chat, target: "p:<partner>"|"v:<account id>", link: b64(16), pub, sig}
  V <- {t: "handover-asked" | "handover-waiting", chat}  /  {t: "handover-off", chat, reason}
  V -> {t: "handover-cancel", chat}
  R -> {t: "pickup"}  handed-over chats come first
  R <- {t: "assigned", chat: b64(16) (new id), peer, handover: {link, from, identity, pub, sig, history, kind, proof}}
  R -> {t: "accept-handover", chat, pub, sig, lpub, lsig}   chat offer and link key, both signed
  V <- {t: "handover-done", chat, link, name, identity, pub, sig, proof}  then {t: "ended", reason: "handed-over"}
  V -> {t: "lmsg", link, seq: 1, ct}                                the handover note (the link's one message)
  <- {t: "error", code: str, message: {nl, en}}

Close code 1012 from the server: this node is going away (a drain, or the cluster's lead moved:
chat/cluster.py); the page reconnects at once and resumes. An incoming msg whose seq the page
opened already is a duplicate (a re-send after a node's crash): dropped unseen (PROTOCOL.md 10.7).

Every frame is parsed inside the error path (`frames.parse`, size-capped first);
a bad frame gets an error frame and the chat stays as it was. The handlers only
parse, call the hub and write: a refusal anywhere (`ChatRefused` from the hub and
its parts, `FrameError` from the parser, a `crypto.CryptoError`) becomes the error
frame in one function, `error_frame`, with its words from `server/i18n.py`. Every
upgrade must carry this site's Origin. Heartbeats (ping every 20 s) detect dead peers.

A help-seeker socket must open (or resume) a chat within `chat_open_timeout_seconds`,
else <- {t: "error", code: "open-timeout"} and close code 4008. Before the upgrade,
at most `chat_idle_sockets_per_address` sockets without a chat per address (429) and
`chat_sockets_max` in all (503) are let in, as JSON errors (chat/limits.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import WSMessage, WSMsgType, web

from .. import accounts
from ..errors import Forbidden, TooManyRequests
from ..guards import GUARD, POW, client_tags
from ..http import same_origin
from ..keys import CLOCK, CONFIG, STORAGE
from ..mail.inbox import MAIL_INBOX
from .cluster import CLUSTER
from .errors import ChatRefused
from .frames import MAX_FRAME_BYTES
from .hub import CHAT_HUB, VolunteerInfo, send
from .limits import socket_limits
from .sessions import Connection, SeekerSession, VolunteerSession, error_frame

__all__ = ["error_frame", "routes"]

log = logging.getLogger("oor.chat")
routes = web.RouteTableDef()
HEARTBEAT_SECONDS = 20.0
SESSION_CHECK_SECONDS = 30.0
CLOSE_OPEN_TIMEOUT = 4008  # 4000+: the page gives up instead of reconnecting (web/js/chatcore.js)

def check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is None or not same_origin(request, origin):
        raise Forbidden("chat_other_site")


async def _status(app: web.Application) -> dict[str, Any]:
    """The queue's figures: from this process's hub, or as the cluster's leader last wrote them."""
    cluster = app.get(CLUSTER)
    return app[CHAT_HUB].status() if cluster is None else await cluster.status()


@routes.get("/api/chat/status")
async def chat_status(request: web.Request) -> web.Response:
    return web.json_response(await _status(request.app))


@routes.post("/api/chat/challenge")
async def chat_challenge(request: web.Request) -> web.Response:
    app = request.app
    tags = client_tags(request)
    if not await app[GUARD].allow("challenge", tags, limit=app[CONFIG].chat_challenges_per_minute, window=60):
        raise TooManyRequests()
    return web.json_response(await app[POW].issue((await _status(app))["waiting"], "chat"))


@routes.get("/ws/chat")
async def seeker_socket(request: web.Request) -> web.WebSocketResponse:
    check_origin(request)
    app = request.app
    tags = client_tags(request)
    # Counted before the upgrade: a refusal is a plain 429/503 and costs no websocket (chat/limits.py).
    slot = socket_limits(app).admit(tags[0])
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_FRAME_BYTES)
    cluster = app.get(CLUSTER)
    session: Connection | None = None
    try:
        await ws.prepare(request)
        # Where the hub runs: here (the embedded default), or on the node that leads (chat/cluster.py).
        session = SeekerSession(app, app[CHAT_HUB], ws, tags, slot) if cluster is None \
            else cluster.seeker(ws, tags, slot)
        # The page solves the proof-of-work before it connects, so a real `open` comes at once;
        # a socket without a chat is only allowed to wait this long for it.
        idle_until = asyncio.get_running_loop().time() + app[CONFIG].chat_open_timeout_seconds
        while (msg := await _next_message(ws, idle_until if slot.idle else None)) is not None:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            if not await session.message(msg.data):
                break
    finally:
        # Every exit (close, timeout, an exception, a cancelled handler) gives the slot back.
        slot.release()
        if session is not None:
            await session.left()
    return ws


async def _next_message(ws: web.WebSocketResponse, idle_until: float | None) -> WSMessage | None:
    """The next message, as `async for msg in ws` would give it; None once the socket is closed.

    While the socket holds no chat (`idle_until` is set) it waits only until then: the page is
    told why, and the socket is closed with CLOSE_OPEN_TIMEOUT (the page does not reconnect)."""
    timeout = None if idle_until is None else idle_until - asyncio.get_running_loop().time()
    try:
        if timeout is not None and timeout <= 0:
            raise asyncio.TimeoutError
        msg = await ws.receive(timeout=timeout)
    except asyncio.TimeoutError:
        await send(ws, error_frame(ChatRefused("open-timeout", "chat_open_timeout")))
        await ws.close(code=CLOSE_OPEN_TIMEOUT, message=b"no chat opened in time")
        return None
    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
        return None
    return msg


@routes.get("/ws/volunteer")
async def volunteer_socket(request: web.Request) -> web.WebSocketResponse:
    check_origin(request)
    app = request.app
    volunteer = await accounts.logged_in(request, chat=True)  # 401 without a session, 403 if not set up for chat
    info = VolunteerInfo(volunteer.id, volunteer.name, volunteer.ed25519_public, role=volunteer.role)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    cluster = app.get(CLUSTER)
    session: Connection = VolunteerSession(app, app[CHAT_HUB], info, ws) if cluster is None \
        else cluster.volunteer(ws, info)
    watch = asyncio.ensure_future(_watch_session(request, ws))
    # The live mail inbox ({t: "inbox", unread, threads}), sent from this node (server/mail/inbox.py).
    inbox = app.get(MAIL_INBOX) if volunteer.can_mail else None
    try:
        await session.message(None)  # connected: the hub hears of it before any frame
        if inbox is not None:
            await inbox.attach(volunteer.id, ws)
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await session.message(msg.data)
    finally:
        watch.cancel()
        if inbox is not None:
            inbox.detach(volunteer.id, ws)
        await session.left()
    return ws


async def _watch_session(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Keep the session alive while connected, and close the socket once it ends
    (logout elsewhere, expiry, or deactivation with `oor volunteer deactivate`)."""
    app = request.app
    token = request.cookies.get(accounts.SESSION_COOKIE)
    while not ws.closed:
        await asyncio.sleep(SESSION_CHECK_SECONDS)
        if await accounts.session_volunteer(app[STORAGE], app[CONFIG], token, app[CLOCK]()) is None:
            await send(ws, error_frame(ChatRefused("session-ended", "chat_session_ended")))
            await ws.close(code=4003, message=b"session ended")
            return
