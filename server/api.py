"""JSON API for volunteer enrolment, login and sessions.

Every handler parses its input through `read_json` and the validators in
`accounts`, inside the error middleware, so bad input answers a 4xx JSON error
and changes nothing.
"""

from __future__ import annotations

from aiohttp import web

from . import accounts
from .errors import TooManyRequests
from .guards import GUARD, client_tags
from .http import read_json
from .keys import ASSETS, CLOCK, CONFIG, DUMMY_AUTH_HASH, SERVER_SECRET, STORAGE
from .openapi import openapi_description

routes = web.RouteTableDef()
LOGIN_WINDOW_SECONDS = 60  # `login_per_minute` counts attempts per address tag in this window
# Beside its only user, the login route (its class, accounts.LoginThrottle, knows nothing of aiohttp).
LOGIN_THROTTLE: web.AppKey[accounts.LoginThrottle] = web.AppKey("login_throttle")


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/api/assets")
async def asset_manifest(request: web.Request) -> web.Response:
    """The published SRI hashes of every script and style sheet this server serves."""
    return web.json_response({"algorithm": "sha384", "assets": request.app[ASSETS].manifest()})


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI description of this API (server/openapi.py)."""
    return web.json_response(openapi_description())


@routes.post("/api/enrol/check")
async def enrol_check(request: web.Request) -> web.Response:
    app = request.app
    payload = await read_json(request)
    info = await accounts.check_invitation(app[STORAGE], app[CONFIG], payload, app[CLOCK]())
    return web.json_response(info)


@routes.post("/api/enrol")
async def enrol(request: web.Request) -> web.Response:
    app = request.app
    payload = await read_json(request)
    volunteer = await accounts.enrol(app[STORAGE], app[CONFIG], payload, app[CLOCK]())
    return web.json_response({"name": volunteer.name, "role": volunteer.role}, status=201)


@routes.post("/api/login/start")
async def login_start(request: web.Request) -> web.Response:
    # Not limited per address: one indexed read and a BLAKE2b, no Argon2 and no write, and the
    # answer for an unknown name is a stable fake salt. The browser asks it before every login,
    # so counting it with the logins would halve what `login_per_minute` allows.
    app = request.app
    payload = await read_json(request)
    return web.json_response(await accounts.login_start(app[STORAGE], app[CONFIG], app[SERVER_SECRET], payload))


def _set_session_cookie(request: web.Request, response: web.Response, token: str) -> None:
    config = request.app[CONFIG]
    response.set_cookie(accounts.SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
                        secure=config.served_over_tls or request.secure,
                        max_age=config.session_max_hours * 3600)


async def _limit_logins(request: web.Request) -> tuple[bytes, bytes]:
    """At most `login_per_minute` attempts per address tag, refused before the body is even read.

    Each attempt costs the server an Argon2id verification (tens of milliseconds of a core);
    without this limit one address could keep the cores busy for everyone. Only in-memory keyed
    tags are counted (server.abuse), never the address. Every attempt is counted before its work
    (so parallel attempts cannot slip past), and a successful login is taken back afterwards: a
    whole office behind one address can start its shift without meeting the limit.
    """
    app = request.app
    tags = client_tags(request)
    if not await app[GUARD].allow("login", tags, app[CONFIG].login_per_minute, LOGIN_WINDOW_SECONDS):
        raise TooManyRequests("login_network_limit", retry_after=LOGIN_WINDOW_SECONDS)
    return tags


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    app = request.app
    tags = await _limit_logins(request)
    payload = await read_json(request)
    # A new login replaces the session this browser had, if any.
    await accounts.logout(app[STORAGE], request.cookies.get(accounts.SESSION_COOKIE))
    volunteer, token = await accounts.login(app[STORAGE], app[CONFIG], payload, app[CLOCK](),
                                            app[DUMMY_AUTH_HASH], app[LOGIN_THROTTLE])
    await app[GUARD].refund("login", tags)
    response = web.json_response(accounts.identity_payload(volunteer))
    _set_session_cookie(request, response, token)
    return response


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    await accounts.logout(request.app[STORAGE], request.cookies.get(accounts.SESSION_COOKIE))
    response = web.json_response({"status": "logged-out"})
    response.del_cookie(accounts.SESSION_COOKIE, path="/")
    return response


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    volunteer = await accounts.logged_in(request)
    return web.json_response({"name": volunteer.name, "role": volunteer.role,
                              "can_chat": volunteer.can_chat, "can_mail": volunteer.can_mail})
