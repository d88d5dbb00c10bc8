"""HTTP plumbing shared by every route: security headers, errors, JSON input, access log.

- Every response carries a strict Content-Security-Policy and the other
  hardening headers (set in `on_response_prepare`, so errors and static files
  get them too).
- One error middleware turns domain errors into JSON (`/api/`) or a page, and
  anything unexpected into a generic 500 without echoing the request.
- The access log format records no client address, user agent or referrer.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .errors import BadRequest, Forbidden, OorError
from .keys import ASSETS, CONFIG
from .pages import page_context

log = logging.getLogger("oor.http")

PERMISSIONS_POLICY = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
                      "microphone=(), payment=(), usb=(), interest-cohort=(), browsing-topics=()")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    app = request.app
    h = response.headers
    h["Content-Security-Policy"] = app[ASSETS].csp
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "no-referrer"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    h["Permissions-Policy"] = PERMISSIONS_POLICY
    h["X-Frame-Options"] = "DENY"
    if app[CONFIG].served_over_tls:
        h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if "Cache-Control" not in h:
        h["Cache-Control"] = "no-store"
    h.pop("Server", None)


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def _error_page(request: web.Request, status: int, message: dict[str, str]) -> web.Response:
    context = page_context(request, "error")
    context.update(message=message[context["lang"]], status=status)
    return aiohttp_jinja2.render_template("error.html", request, context, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except OorError as exc:
        if _wants_json(request):
            resp = web.json_response(exc.as_json(), status=exc.status)
            if "retry_after" in exc.extra:
                resp.headers["Retry-After"] = str(exc.extra["retry_after"])
            return resp
        return _error_page(request, exc.status, {"nl": exc.nl, "en": exc.en})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            message = {"nl": "Niet gevonden.", "en": "Not found."}
        elif exc.status == 405:
            message = {"nl": "Deze methode is hier niet toegestaan.", "en": "Method not allowed here."}
        elif exc.status == 413:
            message = {"nl": "Het verzoek is te groot.", "en": "The request is too large."}
        else:
            message = {"nl": "Dit verzoek klopt niet.", "en": exc.reason}
        if _wants_json(request):
            return web.json_response({"error": exc.reason.lower().replace(" ", "-"), "message": message},
                                     status=exc.status, headers={k: v for k, v in exc.headers.items()
                                                                 if k in ("Allow",)})
        return _error_page(request, exc.status, message)
    except Exception:
        # Log the failure without anything from the request (no path parameters, no body, no peer).
        log.exception("internal error in %s handler", request.match_info.route.name or "unnamed")
        message = {"nl": "Er ging iets mis aan onze kant. Er is niets bewaard.",
                   "en": "Something went wrong on our side. Nothing was stored."}
        if _wants_json(request):
            return web.json_response({"error": "internal", "message": message}, status=500)
        return _error_page(request, 500, message)


@web.middleware
async def same_origin_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse state-changing requests that a browser sent from another origin."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(request, origin):
            raise Forbidden("Verzoek van een andere website geweigerd.", "Request from another site refused.")
    return await handler(request)


def same_origin(request: web.Request, origin: str) -> bool:
    """Whether an Origin header names this server (host and port; the scheme may be TLS-terminated)."""
    if origin == "null" or "://" not in origin:
        return False
    return origin.split("://", 1)[1].rstrip("/") == request.host


async def read_json(request: web.Request) -> dict[str, Any]:
    """Parse a JSON object body; size is capped by the app's client_max_size before this runs."""
    if request.content_type != "application/json":
        raise BadRequest("Verwacht JSON.", "Expected a JSON body (Content-Type: application/json).")
    raw = await request.read()
    try:
        data = json.loads(raw)
        # Lone surrogates ("\ud800") are valid JSON but not Unicode text: refuse them here, once,
        # rather than let them reach a hash or the database.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        raise BadRequest("Ongeldige JSON.", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("Verwacht een JSON-object.", "Expected a JSON object.")
    return data


_ADDRESS = re.compile(
    r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"          # IPv4
    r"|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"  # IPv6
)


class AddressScrubber(logging.Filter):
    """Defence in depth: remove anything shaped like an IP address from every log record.

    Our own code never logs an address; this catches libraries that might (aiohttp's
    server logger names the peer when a handler fails). It rewrites the record's final
    message, so no formatter downstream can bring the address back.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = _ADDRESS.sub("[address removed]", message)
        record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = _ADDRESS.sub("[address removed]", record.exc_text)
        return True


def install_log_scrubber(handler: logging.Handler) -> None:
    handler.addFilter(AddressScrubber())


class PrivateAccessLogger(AbstractAccessLogger):
    """Access log lines with method, path, status, size and time: never the client's address,
    user agent or referrer, and never the query string (it may carry a language only, but we
    do not want to find out later that something else slipped in)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        # The route's template, not the concrete path: a thread id in a path would link log lines.
        route = getattr(getattr(request, "match_info", None), "route", None)
        resource = getattr(route, "resource", None)
        canonical = getattr(resource, "canonical", None)
        path = canonical if isinstance(canonical, str) and canonical else request.path
        if path.startswith("/ws/"):
            # A websocket's lifetime is a chat's duration: not logged.
            self.logger.info('"%s %s" %s', request.method, path, response.status)
            return
        self.logger.info('"%s %s" %s %s %.3fs', request.method, path, response.status, response.body_length, time)
