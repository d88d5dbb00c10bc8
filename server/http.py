"""HTTP plumbing shared by every route: security headers, errors, JSON input, access log.

- Every response carries a strict Content-Security-Policy and the other
  hardening headers (set in `on_response_prepare`, so errors and static files
  get them too).
- One error middleware turns domain errors (and any `crypto.CryptoError` that no
  domain rule caught) into JSON (`/api/`) or a page, and anything unexpected into
  a generic 500 without echoing the request: the one place an HTTP answer is made
  of an error. Every sentence in it comes from the catalogue (`server/i18n.py`).
- The access log format records no client address, user agent or referrer.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

import crypto

from .errors import BadRequest, Forbidden, OorError
from .i18n import message, text
from .keys import ASSETS, CONFIG
from .pages import matched_resource, page_context

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
    return request.path.startswith(("/api/", "/ws/"))


def _error_page(request: web.Request, status: int, words: dict[str, str]) -> web.Response:
    context = page_context(request, "error")
    context.update(message=words[context["lang"]], status=status)
    return aiohttp_jinja2.render_template("error.html", request, context, status=status)


def _domain_answer(request: web.Request, exc: OorError) -> web.Response:
    if _wants_json(request):
        resp = web.json_response(exc.as_json(), status=exc.status)
        if "retry_after" in exc.extra:
            resp.headers["Retry-After"] = str(exc.extra["retry_after"])
        return resp
    return _error_page(request, exc.status, exc.message)


# aiohttp's own refusals (no route, wrong method, body over client_max_size), by status.
_HTTP_TEXTS = {404: "resource_not_found", 405: "method_not_allowed", 413: "request_too_large"}


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except OorError as exc:
        return _domain_answer(request, exc)
    except crypto.CryptoError:
        # The cryptography refused what the request carried, and no domain rule gave it a field
        # or a meaning (those raise their own error, `server.errors.crypto_refusal`): a generic
        # 400 that echoes nothing of it (PROTOCOL.md section 8).
        return _domain_answer(request, BadRequest("crypto_refused"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status in _HTTP_TEXTS:
            answer = message(_HTTP_TEXTS[exc.status])
        else:
            answer = {"nl": text("bad_request", "nl"), "en": exc.reason}
        if _wants_json(request):
            return web.json_response({"error": exc.reason.lower().replace(" ", "-"), "message": answer},
                                     status=exc.status, headers={k: v for k, v in exc.headers.items()
                                                                 if k in ("Allow",)})
        return _error_page(request, exc.status, answer)
    except Exception:
        # Log the failure without anything from the request (no path, no parameters, no body, no
        # peer): the route's name, and the exception's type and where it was raised, but not its
        # message, which may quote what the request carried (`invalid literal for int(): 'K7QM…'`).
        # The log handler's RequestTextScrubber would strip the message too; this does not rely on it.
        route_name = getattr(request.match_info.route, "name", None) or "unnamed"
        log.error("internal error in %s handler\n%s", route_name, redacted_traceback(sys.exc_info()[1]))
        answer = message("internal_error")
        if _wants_json(request):
            return web.json_response({"error": "internal", "message": answer}, status=500)
        return _error_page(request, 500, answer)


@web.middleware
async def same_origin_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse state-changing requests that a browser sent from another origin."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(request, origin):
            raise Forbidden("other_site")
    return await handler(request)


def same_origin(request: web.Request, origin: str) -> bool:
    """Whether an Origin header names this server (host and port; the scheme may be TLS-terminated)."""
    if origin == "null" or "://" not in origin:
        return False
    return origin.split("://", 1)[1].rstrip("/") == request.host


async def read_json(request: web.Request) -> dict[str, Any]:
    """Parse a JSON object body; size is capped by the app's client_max_size before this runs."""
    if request.content_type != "application/json":
        raise BadRequest("json_expected")
    raw = await request.read()
    try:
        data = json.loads(raw)
        # Lone surrogates ("\ud800") are valid JSON but not Unicode text: refuse them here, once,
        # rather than let them reach a hash or the database.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        raise BadRequest("json_invalid") from None
    if not isinstance(data, dict):
        raise BadRequest("json_object_expected")
    return data


_ADDRESS = re.compile(
    r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"          # IPv4
    r"|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"  # IPv6
)


def redacted_traceback(exc: BaseException | None) -> str:
    """A traceback with the exception types and the code locations, but no exception messages.

    An exception's message is the one part of a traceback that can carry data rather than
    code: a parser quoting the bytes it choked on (aiohttp's "Bad status line 'K7QM…'"), a
    KeyError naming the key it was given. The frames (file, line, function, source line)
    come from our own code and libraries, and are what one needs to find the bug.
    """
    if exc is None:
        return ""
    te = traceback.TracebackException.from_exception(exc, capture_locals=False)
    lines: list[str] = []
    seen: set[int] = set()
    chain: list[traceback.TracebackException] = []
    current: traceback.TracebackException | None = te
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    for i, part in enumerate(reversed(chain)):
        if i:
            lines.append("The above exception led to another:\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(part.stack.format())
        module = part.exc_type.__module__ if part.exc_type is not None else ""
        name = part.exc_type.__qualname__ if part.exc_type is not None else "Exception"
        lines.append(f"{name if module in ('builtins', '') else module + '.' + name}: [message removed]\n")
    return "".join(lines).rstrip("\n")


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


class RequestTextScrubber(logging.Filter):
    """Defence in depth: no exception message reaches the log, from any logger.

    Tracebacks keep their frames and exception types (`redacted_traceback`); the messages go,
    because aiohttp's server logger logs a malformed request's parse error with the raw request
    line or header quoted in it, and any other library's error may quote its input.
    Installed before AddressScrubber, which then sees the redacted text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else None
            record.exc_text = redacted_traceback(exc) if exc is not None else ""
            record.exc_info = None
        return True


def install_log_scrubber(handler: logging.Handler) -> None:
    handler.addFilter(RequestTextScrubber())
    handler.addFilter(AddressScrubber())


# What the access log may say about a request: a method from this list (anything else
# is a token the client typed, and could be anything), and the template of the route it
# matched. A path that matched no route is never written as typed: a help-seeker who
# pastes their return code into the address bar must not find it in our logs.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNKNOWN_METHOD = "<other>"
UNKNOWN_PATH = "<unknown>"


def loggable_method(request: web.BaseRequest) -> str:
    method = request.method
    return method if method in KNOWN_METHODS else UNKNOWN_METHOD


def loggable_path(request: web.BaseRequest) -> str:
    """The matched route's template (`/api/mail/threads/{thread}`), or a fixed placeholder."""
    _, resource = matched_resource(request)
    if isinstance(resource, web.AbstractResource):
        canonical = resource.canonical
        if isinstance(canonical, str) and canonical.startswith("/"):
            return canonical
    return UNKNOWN_PATH


class PrivateAccessLogger(AbstractAccessLogger):
    """Access log lines with method, route, status, size and time: never the client's address,
    user agent or referrer, never the query string (it may carry a language only, but we
    do not want to find out later that something else slipped in), and never the path as
    typed (`loggable_path`)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        # The route's template, not the concrete path: a thread id in a path would link log lines.
        method, path = loggable_method(request), loggable_path(request)
        if path.startswith("/ws/"):
            if response.status in (429, 503):
                return  # a refused upgrade: counted and summed up once a minute (chat/limits.py), not a line each
            # A websocket's lifetime is a chat's duration: not logged.
            self.logger.info('"%s %s" %s', method, path, response.status)
            return
        self.logger.info('"%s %s" %s %s %.3fs', method, path, response.status, response.body_length, time)
