"""HTTP API for anonymous mail. Tokens never travel: the page sends a key derived from it, in a body.

Help-seeker (no account, no cookie):
  GET  /api/mail/status                          -> {open: bool, reply_hours}  (before writing: can mail be taken?)
  POST /api/mail/challenge                       -> {challenge, bits}
  POST /api/mail/assign   {challenge, nonce}     -> {assignment, thread, volunteer: {name, x25519_public, ed25519_public, certificate,
                                                      proof}}  (proof: the key proof the page checks, PROTOCOL.md 14)
  POST /api/mail/threads  {assignment, lookup_key, seeker_x25519_public, seeker_ed25519_public, message}
  POST /api/mail/open     {lookup_key}           -> the thread (messages with the help-seeker's wraps;
                                                    `volunteer.proof`, `reassign.proof`, and `signer_proofs`,
                                                    {b64 key: proof} of the reply signers the log can prove)
  POST /api/mail/write    {lookup_key, message}
  POST /api/mail/reassign {lookup_key, volunteer, wraps: [{seq, wrap}]}
  POST /api/mail/delete   {lookup_key}
Volunteer (session):
  POST /api/mail/availability {mail: bool}
  GET  /api/mail/inbox
  GET  /api/mail/colleagues
  GET  /api/mail/threads/{thread}                -> messages with the volunteer's wraps, the label, the note
  POST /api/mail/threads/{thread}/reply   {message}
  POST /api/mail/threads/{thread}/note    {note: b64 | null}   (sealed in the page, PROTOCOL.md 12.10)
  POST /api/mail/threads/{thread}/handled
  POST /api/mail/threads/{thread}/handover {to, wraps: [{seq, wrap}], note?: b64}  (no note: it is dropped)
A message is {seq, body, signature, seeker_wrap, volunteer_wrap}, all binary fields base64.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

import crypto

from .. import accounts
from ..errors import BadRequest, NotFound, TooManyRequests, crypto_refusal
from ..guards import GUARD, POW, client_tags
from ..http import read_json
from ..keys import CONFIG, STORAGE
from ..transparency.log import LOG
from .desk import MAIL_DESK, ProofFor, volunteer_keys

routes = web.RouteTableDef()
MISS_DELAY_SECONDS = 0.5  # a wrong or unknown code answers slowly; guessing needs Argon2id per try anyway


async def _limited(request: web.Request, kind: str, limit: int) -> None:
    if not await request.app[GUARD].allow(kind, client_tags(request), limit=limit, window=60):
        raise TooManyRequests()


def proof_for(request: web.Request) -> ProofFor:
    """The log's key proofs (server/transparency/log.py), for the volunteer keys a help-seeker's page is given."""
    return request.app[LOG].proof_for


async def _seeker_thread(request: web.Request, payload: dict) -> object:
    await _limited(request, "mail-open", 20)
    try:
        return await request.app[MAIL_DESK].seeker_thread(payload)
    except NotFound:
        await asyncio.sleep(MISS_DELAY_SECONDS)
        raise


@routes.get("/api/mail/status")
async def status(request: web.Request) -> web.Response:
    """Whether a new mail can be taken at all (some active account can take mail, marked available
    or not), and when to expect an answer: the page says so before the help-seeker writes."""
    return web.json_response({"open": await request.app[MAIL_DESK].mail_possible(),
                              "reply_hours": request.app[CONFIG].mail_reply_expected_hours})


@routes.post("/api/mail/challenge")
async def challenge(request: web.Request) -> web.Response:
    await _limited(request, "challenge", request.app[CONFIG].chat_challenges_per_minute)
    return web.json_response(await request.app[POW].issue(request.app[MAIL_DESK].load(), "mail"))


@routes.post("/api/mail/assign")
async def assign(request: web.Request) -> web.Response:
    payload = await read_json(request)
    chal, nonce = payload.get("challenge"), payload.get("nonce")
    # A malformed nonce is refused like a wrong one, and leaves the challenge unspent.
    with crypto_refusal(BadRequest, "pow_failed", field="nonce"):
        nonce_bytes = crypto.b64decode(nonce, length=crypto.POW_NONCE_BYTES) if isinstance(nonce, str) else b""
    if not isinstance(chal, str) or not nonce_bytes or not await request.app[POW].redeem(chal, nonce_bytes, "mail"):
        raise BadRequest("pow_failed", field="nonce")
    token, thread_id, volunteer = await request.app[MAIL_DESK].assign()
    keys = volunteer_keys(volunteer, proof_for(request))
    if keys["proof"] is None:
        # Chosen from storage, which may have marked the keys ready a moment before this node's log saw the
        # checkpoint (log_refresh_seconds): look again once, rather than send a page a key it must refuse.
        await request.app[LOG].refresh()
        keys = volunteer_keys(volunteer, proof_for(request))
    return web.json_response({"assignment": token, "thread": crypto.b64encode(thread_id), "volunteer": keys})


@routes.post("/api/mail/threads")
async def create(request: web.Request) -> web.Response:
    desk = request.app[MAIL_DESK]
    thread = await desk.create(await read_json(request))
    return web.json_response({"expires": desk.expires_on(thread),
                              "reply_hours": request.app[CONFIG].mail_reply_expected_hours}, status=201)


@routes.post("/api/mail/open")
async def open_thread(request: web.Request) -> web.Response:
    payload = await read_json(request)
    thread = await _seeker_thread(request, payload)
    return web.json_response(await request.app[MAIL_DESK].seeker_view(thread, proof_for(request)))


@routes.post("/api/mail/write")
async def write(request: web.Request) -> web.Response:
    payload = await read_json(request)
    thread = await _seeker_thread(request, payload)
    await request.app[MAIL_DESK].seeker_write(thread, payload)
    return web.json_response({"status": "sent"}, status=201)


@routes.post("/api/mail/reassign")
async def reassign(request: web.Request) -> web.Response:
    payload = await read_json(request)
    thread = await _seeker_thread(request, payload)
    volunteer = await request.app[MAIL_DESK].reassign(thread, payload)
    return web.json_response({"volunteer": volunteer_keys(volunteer, proof_for(request))})


@routes.post("/api/mail/delete")
async def delete(request: web.Request) -> web.Response:
    payload = await read_json(request)
    thread = await _seeker_thread(request, payload)
    await request.app[MAIL_DESK].delete(thread)
    return web.json_response({"status": "deleted"})


@routes.post("/api/mail/availability")
async def availability(request: web.Request) -> web.Response:
    volunteer = await accounts.logged_in(request, mail=True)
    payload = await read_json(request)
    if not isinstance(payload.get("mail"), bool):
        raise BadRequest("field_missing", field="mail")
    await request.app[STORAGE].set_mail_available(volunteer.id, payload["mail"])
    return web.json_response({"mail": payload["mail"]})


@routes.get("/api/mail/inbox")
async def inbox(request: web.Request) -> web.Response:
    volunteer = await accounts.logged_in(request, mail=True)
    return web.json_response({"mail": volunteer.mail_available,
                              "threads": await request.app[MAIL_DESK].inbox(volunteer)})


@routes.get("/api/mail/colleagues")
async def colleagues(request: web.Request) -> web.Response:
    volunteer = await accounts.logged_in(request, mail=True)
    return web.json_response({"colleagues": await request.app[MAIL_DESK].colleagues(volunteer)})


@routes.get("/api/mail/threads/{thread}")
async def volunteer_thread(request: web.Request) -> web.Response:
    volunteer = await accounts.logged_in(request, mail=True)
    desk = request.app[MAIL_DESK]
    thread = await desk.volunteer_thread(volunteer, request.match_info["thread"])
    return web.json_response(await desk.volunteer_view(thread))


@routes.post("/api/mail/threads/{thread}/reply")
async def reply(request: web.Request) -> web.Response:
    volunteer = await accounts.logged_in(request, mail=True)
    desk = request.app[MAIL_DESK]
    thread = await desk.volunteer_thread(volunteer, request.match_info["thread"])
    await desk.reply(volunteer, thread, await read_json(request))
    return web.json_response({"status": "sent"}, status=201)


@routes.post("/api/mail/threads/{thread}/note")
async def note(request: web.Request) -> web.Response:
    volunteer = await accounts.logged_in(request, mail=True)
    desk = request.app[MAIL_DESK]
    thread = await desk.volunteer_thread(volunteer, request.match_info["thread"])
    await desk.set_note(volunteer, thread, await read_json(request))
    return web.json_response({"status": "kept"})


@routes.post("/api/mail/threads/{thread}/handled")
async def handled(request: web.Request) -> web.Response:
    volunteer = await accounts.logged_in(request, mail=True)
    desk = request.app[MAIL_DESK]
    await desk.handled(await desk.volunteer_thread(volunteer, request.match_info["thread"]))
    return web.json_response({"status": "handled"})


@routes.post("/api/mail/threads/{thread}/handover")
async def handover(request: web.Request) -> web.Response:
    volunteer = await accounts.logged_in(request, mail=True)
    desk = request.app[MAIL_DESK]
    thread = await desk.volunteer_thread(volunteer, request.match_info["thread"])
    colleague = await desk.hand_over(volunteer, thread, await read_json(request))
    return web.json_response({"to": colleague.name})
