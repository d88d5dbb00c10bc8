"""The OpenAPI 3.1 description of the HTTP API, served at `/api/openapi.json`.

Built in code, next to the handlers it describes, so a change to a route is a
change here too: tests/server/test_openapi.py fails when a route of the app is
missing from this description or the other way round, and
tests/server/test_schemathesis.py fuzzes a live server against it (no 5xx, every
status code, content type and JSON body as described here).

Binary values travel as URL-safe base64 without padding (crypto/PROTOCOL.md):
`b64(n)` is the string that encodes exactly n bytes.
"""

from __future__ import annotations

import copy
from typing import Any

import crypto

from .accounts import SESSION_COOKIE
from .mail.desk import BODY_LENGTHS, THREAD_ID_BYTES, WRAP_BYTES
from .storage import ROLES

B64_PATTERN = "^[A-Za-z0-9_-]*$"
JSON = "application/json"
HTML = "text/html"


def b64_chars(nbytes: int) -> int:
    """Length of the unpadded base64 text of `nbytes` bytes."""
    return (4 * nbytes + 2) // 3


def b64(nbytes: int | None = None, description: str = "", *, min_bytes: int | None = None,
        max_bytes: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "pattern": B64_PATTERN}
    if nbytes is not None:
        schema["minLength"] = schema["maxLength"] = b64_chars(nbytes)
    if min_bytes is not None:
        schema["minLength"] = b64_chars(min_bytes)
    if max_bytes is not None:
        schema["maxLength"] = b64_chars(max_bytes)
    if description:
        schema["description"] = description
    return schema


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: list[str] | None = None, *, closed: bool = False,
        description: str = "") -> dict[str, Any]:
    """An object schema; `required` defaults to every property."""
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": list(properties) if required is None else required}
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def status_const(value: str) -> dict[str, Any]:
    return obj({"status": {"const": value}})


# -- shared schemas -----------------------------------------------------------------------

_TOKEN = "a random token as handed out by the server (base64 of 24 bytes)"
_MIN_BODY, _MAX_BODY = min(BODY_LENGTHS), max(BODY_LENGTHS)

SCHEMAS: dict[str, Any] = {
    "Error": obj({
        "error": {"type": "string", "description": "stable machine-readable code, e.g. `bad-request`, "
                  "`unauthorized`, `forbidden`, `not-found`, `conflict`, `gone`, `too-many-requests`, "
                  "`no-mail-volunteer`, `method-not-allowed`, `request-entity-too-large`"},
        "message": obj({"nl": {"type": "string"}, "en": {"type": "string"}},
                       description="a message safe to show to the person who caused the error"),
        "field": {"type": "string", "description": "the request field that was refused, when one was"},
        "reason": {"type": "string", "description": "why an invitation is gone (`used`, `expired`, "
                   "`unknown`), why a login is refused (`deactivated`), or why a coordinator's change is refused "
                   "(`self`, `last-coordinator`, `full` for a 51st quick reply)"},
        "retry_after": {"type": "integer", "description": "seconds to wait (login slow-down only)"},
    }, ["error", "message"], description="Every error answer of `/api/`: nothing changed on the server."),
    "Kdf": obj({"opslimit": {"type": "integer", "minimum": 1},
                "memlimit": {"type": "integer", "minimum": 1, "description": "bytes"}},
               description="Argon2id parameters the browser must use"),
    "Role": {"type": "string", "enum": list(ROLES)},
    "Challenge": obj({"challenge": b64(24, "single-use proof-of-work challenge, valid two minutes"),
                      "bits": {"type": "integer", "minimum": 0, "maximum": crypto.POW_MAX_BITS,
                               "description": "leading zero bits the solution's hash must have"}}),
    "VolunteerKeys": obj({
        "name": {"type": "string"},
        "x25519_public": b64(32),
        "ed25519_public": b64(32),
        "certificate": {"type": "string", "pattern": f"^([A-Za-z0-9_-]{{{b64_chars(crypto.SIGNATURE_BYTES)}}})?$",
                        "description": "signature of the X25519 key by the Ed25519 identity key"},
        "proof": {"type": ["object", "null"],
                  "description": "the key proof of these keys (crypto/PROTOCOL.md 14: {v, entry, index, path, "
                                 "checkpoint, revoked}); a help-seeker's page encrypts only to keys it verifies. "
                                 "In the answers to help-seekers only; null when the log has none usable"},
    }, ["name", "x25519_public", "ed25519_public", "certificate"],
        description="What a page needs to encrypt to a volunteer and check their keys."),
    "MessageIn": obj({
        "seq": {"type": "integer", "minimum": 1, "maximum": 10_000},
        "body": b64(description="0x01 || nonce || AEAD ciphertext of the padded text (256-byte blocks)",
                    min_bytes=_MIN_BODY, max_bytes=_MAX_BODY),
        "signature": b64(crypto.SIGNATURE_BYTES),
        "seeker_wrap": b64(WRAP_BYTES, "the message key wrapped for the help-seeker"),
        "volunteer_wrap": b64(WRAP_BYTES, "the message key wrapped for the volunteer"),
    }, description="A mail message as the page seals it (crypto/PROTOCOL.md)."),
    "MessageOut": obj({
        "seq": {"type": "integer", "minimum": 1},
        "author": {"type": "integer", "enum": [1, 2], "description": "1 help-seeker, 2 volunteer"},
        "body": b64(min_bytes=_MIN_BODY, max_bytes=_MAX_BODY),
        "signature": b64(crypto.SIGNATURE_BYTES),
        "signer": b64(32, "the Ed25519 public key that signed the message"),
        "wrap": b64(WRAP_BYTES, "the message key wrapped for the reader"),
    }),
    "Wraps": {"type": "array", "minItems": 1, "maxItems": 10_000,
              "description": "every message key of the thread, re-wrapped for the new volunteer",
              "items": obj({"seq": {"type": "integer", "minimum": 1, "maximum": 10_000},
                            "wrap": b64(WRAP_BYTES)})},
    "LookupKey": obj({"lookup_key": b64(32, "derived from the help-seeker's code; the code never travels")}),
    "Account": obj({
        "name": {"type": "string"}, "role": ref("Role"), "can_chat": {"type": "boolean"},
        "can_mail": {"type": "boolean"}, "active": {"type": "boolean"},
        "enrolled_day": {"type": "string", "format": "date"},
    }, description="A staff account as the coordinator sees it (no keys, no sessions)."),
    "AccountName": obj({"name": {"type": "string", "minLength": 1, "maxLength": 40}}),
    "CoordinatorLive": obj({
        "chat": obj({
            "waiting": {"type": "integer", "minimum": 0},
            "longest_wait_s": {"type": ["integer", "null"], "minimum": 0,
                               "description": "seconds the longest-waiting chat has waited; null if none waits"},
            "in_progress": {"type": "integer", "minimum": 0},
            "volunteers_available": {"type": "integer", "minimum": 0, "description":
                                     "volunteers and mentors who take new chats now (available, not on a break)"},
            "partners_available": {"type": "integer", "minimum": 0,
                                   "description": "partner accounts (such as 113) available for handed-over chats"},
            "mentors_online": {"type": "integer", "minimum": 0,
                               "description": "mentors online, for a read-along or a debrief"},
            "handovers_waiting_for_partner": {"type": "integer", "minimum": 0, "description":
                                              "chats the help-seeker agreed to hand to a partner, not yet taken"},
        }),
        "mail": obj({
            "volunteers_available": {"type": "integer", "minimum": 0},
            "waiting": {"type": "array", "description": "threads whose help-seeker waits for a reply, by whole hours",
                        "items": obj({"band": {"type": "string", "enum": ["0-4", "4-24", "24-48", "48-72", "72+"]},
                                      "threads": {"type": "integer", "minimum": 0}})},
            "needs_volunteer": {"type": "integer", "minimum": 0},
            "answered_open": {"type": "integer", "minimum": 0},
        }),
    }, description="Counts of what is happening now: never a conversation, a thread or a person."),
    "QuickReplyText": obj({"nl": {"type": "string", "minLength": 1, "maxLength": 1000},
                           "en": {"type": "string", "minLength": 1, "maxLength": 1000}},
                          description="A quick reply's text in both languages (surrounding spaces are removed; "
                                      "line breaks and tabs are the only control characters allowed)."),
    "QuickReply": obj({"id": {"type": "integer", "minimum": 1},
                       "nl": {"type": "string", "minLength": 1, "maxLength": 1000},
                       "en": {"type": "string", "minLength": 1, "maxLength": 1000}},
                      description="Organisation text a volunteer may insert into the chat composer."),
    "QuickReplies": obj({"replies": {"type": "array", "maxItems": 50, "items": {"$ref": "#/components/schemas/QuickReply"},
                                     "description": "in the order they were made"}}),
    "Expires": {"type": "string", "format": "date",
                "description": "the day the thread is deleted unless there is activity"},
}

# -- responses ----------------------------------------------------------------------------

_ERRORS: dict[str, tuple[str, str]] = {
    "400": ("BadRequest", "The input is malformed, of the wrong type, or refused. Nothing changed."),
    "401": ("Unauthorized", "No valid volunteer session (or, at login, a wrong name or passphrase)."),
    "403": ("Forbidden", "Not allowed: a request from another site, a deactivated account, or a role "
            "without this channel."),
    "404": ("NotFound", "Not found (for mail: one answer for a wrong and an unknown code)."),
    "409": ("Conflict", "The state changed in the meantime, or the name exists already."),
    "410": ("Gone", "The invitation is used, expired or unknown (see `reason`)."),
    "413": ("PayloadTooLarge", "The body is larger than `max_request_kib` (a quick reply's: larger than "
            "24,256 bytes, or without a Content-Length)."),
    "429": ("TooManyRequests", "Too many requests; wait and try again."),
    "503": ("ServiceUnavailable", "Nobody can answer mail at the moment."),
}


def _error_response(status: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": _ERRORS[status][1], "content": {JSON: {"schema": ref("Error")}}}
    if status == "429":
        response["headers"] = {"Retry-After": {
            "description": "seconds to wait; sent with a login slow-down", "schema": {"type": "integer"}}}
    return response


RESPONSES = {name: _error_response(status) for status, (name, _) in _ERRORS.items()}


def errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/{_ERRORS[str(s)][0]}"} for s in statuses}


def ok(schema: dict[str, Any], description: str = "OK", status: int = 200, **extra: Any) -> dict[str, Any]:
    return {str(status): {"description": description, "content": {JSON: {"schema": schema}}, **extra}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


SESSION = [{"cookieAuth": []}]
OPTIONAL_SESSION = [{}, {"cookieAuth": []}]
# Anything that reads a JSON body may also answer 400 (not JSON, not an object) and 413 (too large).
BODY_ERRORS = (400, 413)
VOLUNTEER_ERRORS = (401, 403)


def op(operation_id: str, summary: str, tag: str, responses: dict[str, Any], *,
       body: dict[str, Any] | None = None, security: list[dict[str, list[str]]] | None = None,
       parameters: list[dict[str, Any]] | None = None, description: str = "") -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": [tag],
                                 "responses": responses}
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = json_body(body)
    operation["security"] = security if security is not None else []
    if parameters:
        operation["parameters"] = parameters
    return operation


TEXT = "text/plain"
BINARY = "application/octet-stream"


def _log_op(operation_id: str, summary: str, media: str, *,
            parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A GET of the log: its content, or a plain-text 404 (not covered by any checkpoint, malformed)."""
    schema = {"type": "object"} if media == JSON else {"type": "string"}
    operation = {"operationId": operation_id, "summary": summary, "tags": ["transparency"], "security": [],
                 "responses": {"200": {"description": "OK", "content": {media: {"schema": schema}}},
                               "404": {"description": "not (yet) covered by a checkpoint, or malformed",
                                       "content": {TEXT: {"schema": {"type": "string"}}}}}}
    if parameters:
        operation["parameters"] = parameters
    return operation


def page(operation_id: str, summary: str) -> dict[str, Any]:
    return {"get": {
        "operationId": operation_id, "summary": summary, "tags": ["pages"], "security": [],
        "parameters": [{"name": "lang", "in": "query", "required": False,
                        "description": "`en` for English; anything else is Dutch. No cookie is set.",
                        "schema": {"type": "string", "enum": ["nl", "en"]}}],
        "responses": {"200": {"description": "the page", "content": {HTML: {"schema": {"type": "string"}}}}},
    }}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


_LANG_PARAM = {"name": "lang", "in": "query", "required": False,
               "description": "`en` for English; anything else is Dutch. No cookie is set.",
               "schema": {"type": "string", "enum": ["nl", "en"]}}
_PERIOD_PARAMS = [
    {"name": "period", "in": "query", "required": False, "description": "`day` (the default), `week` (ISO, Monday "
     "to Sunday) or `month`", "schema": {"type": "string", "enum": ["day", "week", "month"]}},
    {"name": "date", "in": "query", "required": False, "description": "any day in the period, YYYY-MM-DD (UTC; "
     "default today, from 2000-01-01 to 2999-12-31)", "schema": {"type": "string", "format": "date"}},
]


def coordinator_page(operation_id: str, summary: str, *, statistics: bool = False,
                     media: str = HTML) -> dict[str, Any]:
    """A page for coordinators: 401 (a page pointing to the login) without a session, 403 for another role."""
    responses: dict[str, Any] = {
        "200": {"description": "the page" if media == HTML else "the figures as CSV, small counts suppressed",
                "content": {media: {"schema": {"type": "string"}}}},
        "401": _html("not logged in: a page that says where to log in"),
        "403": _html("logged in, but not as a coordinator"),
    }
    if statistics:
        responses["400"] = _html("a period or date that is not valid")
    return {"get": {"operationId": operation_id, "summary": summary, "tags": ["coordinator"], "security": SESSION,
                    "parameters": [_LANG_PARAM, *(_PERIOD_PARAMS if statistics else [])],
                    "responses": dict(sorted(responses.items()))}}


QUICK_REPLY_PARAM = [{"name": "id", "in": "path", "required": True, "description": "the quick reply's id",
                      "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,8}$"}}]
THREAD_PARAM = [{"name": "thread", "in": "path", "required": True, "description": "the thread id",
                 "schema": b64(THREAD_ID_BYTES)}]
SEEKER_THREAD = obj({
    "thread": b64(THREAD_ID_BYTES),
    "state": {"type": "string", "enum": ["open", "handled", "needs-volunteer"]},
    "expires": ref("Expires"),
    "reply_hours": {"type": "integer"},
    "volunteer": {"oneOf": [ref("VolunteerKeys"), {"type": "null"}]},
    "messages": {"type": "array", "items": ref("MessageOut")},
    "reassign": {"oneOf": [ref("VolunteerKeys"), {"type": "null"}],
                 "description": "only when the thread needs a new volunteer: the proposed one, if any"},
    "signer_proofs": {"type": "object", "additionalProperties": {"type": "object"},
                      "description": "the key proof of each distinct key that signed a reply, by that key (b64), "
                                     "for the keys the log can prove now"},
}, ["thread", "state", "expires", "reply_hours", "volunteer", "messages", "signer_proofs"])


def _paths() -> dict[str, Any]:
    paths = _operations()
    for item in paths.values():
        if "post" in item:  # same_origin_middleware: a state-changing request from another site
            responses = {**item["post"]["responses"], **errors(403)}
            item["post"]["responses"] = dict(sorted(responses.items()))
    return paths


def _operations() -> dict[str, Any]:
    return {
        # -- pages ------------------------------------------------------------------------
        "/": page("homePage", "Home: chat, mail and the crisis lines"),
        "/chat": page("chatPage", "Anonymous chat"),
        "/mail": page("mailPage", "Write an anonymous mail"),
        "/mail/terug": page("mailReturnPage", "Read the answer with the personal code"),
        "/inschrijven": page("enrolPage", "Volunteer enrolment (the invitation is in the URL fragment)"),
        "/vrijwilliger": page("volunteerPage", "Volunteer login and workspace"),
        # -- service ----------------------------------------------------------------------
        "/api/health": {"get": op("health", "Liveness", "service", ok(status_const("ok")))},
        "/api/assets": {"get": op("assets", "The SRI hashes of every script and style sheet served", "service", ok(obj({
            "algorithm": {"const": "sha384"},
            "assets": {"type": "object", "additionalProperties": {"type": "string", "pattern": "^sha384-"},
                       "description": "URL path -> integrity value"},
        })))},
        "/api/openapi.json": {"get": op("openapi", "This description", "service",
                                        ok({"type": "object", "required": ["openapi", "info", "paths"]}))},
        # -- the transparency log (C2SP tlog-tiles; crypto/PROTOCOL.md 14) -------------------
        "/log/checkpoint": {"get": _log_op("logCheckpoint", "The latest checkpoint (C2SP signed note with the log "
                                           "key's signature and the witnesses' cosignatures)", TEXT)},
        "/log/tile/{tile}": {"get": _log_op(
            "logTile", "A hash tile `<L>/<N>[.p/<W>]` or an entry bundle `entries/<N>[.p/<W>]` (C2SP tlog-tiles)",
            BINARY, parameters=[{"name": "tile", "in": "path", "required": True,
                                 "schema": {"type": "string", "minLength": 1, "maxLength": 120},
                                 "description": "e.g. 0/x001/234 or entries/000.p/17 (several path segments)"}])},
        "/log/revoked": {"get": _log_op("logRevoked", "The revoked account ids of the latest checkpoint "
                                        "(16 bytes each, sorted)", BINARY)},
        "/log/manifest/{digest}.json": {"get": _log_op(
            "logManifest", "The release manifest a release entry commits to", JSON,
            parameters=[{"name": "digest", "in": "path", "required": True,
                         "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                         "description": "the hex SHA-256 in the log entry"}])},
        "/.well-known/webcat/manifest.json": {"get": op(
            "webcatManifest", "The served files in WEBCAT's manifest format (SHA-256, base64url)", "transparency",
            ok({"type": "object", "required": ["name", "version", "files", "default_csp"]}))},
        # -- volunteer accounts -----------------------------------------------------------
        "/api/enrol/check": {"post": op(
            "enrolCheck", "Check an invitation before the browser derives keys", "accounts",
            {**ok(obj({"name": {"type": "string"}, "role": ref("Role"), "kdf": ref("Kdf"),
                       "passphrase_min_length": {"type": "integer"}})),
             **errors(*BODY_ERRORS, 410)},
            body=obj({"invitation": b64(min_bytes=12, max_bytes=96, description="the token from the link")}))},
        "/api/enrol": {"post": op(
            "enrol", "Enrol with the public keys, wrapped private keys and an authentication key", "accounts",
            {**ok(obj({"name": {"type": "string"}, "role": ref("Role")}), "enrolled", 201),
             **errors(*BODY_ERRORS, 409, 410)},
            body=obj({
                "invitation": b64(min_bytes=12, max_bytes=96),
                "opslimit": {"type": "integer", "description": "must equal the server's"},
                "memlimit": {"type": "integer", "description": "must equal the server's, in bytes"},
                "salt": b64(crypto.SALT_BYTES),
                "auth_key": b64(crypto.KEY_BYTES, "derived from the passphrase; stored as an argon2id hash"),
                "x25519_public": b64(32),
                "ed25519_public": b64(32),
                "wrapped_identity": b64(crypto.WRAPPED_IDENTITY_BYTES, "the private keys, wrapped"),
                "x25519_certificate": b64(crypto.SIGNATURE_BYTES, "the X25519 key signed by the Ed25519 key"),
            }))},
        "/api/login/start": {"post": op(
            "loginStart", "The salt and KDF parameters for a name (a stable fake salt for unknown names)",
            "accounts", {**ok(obj({"salt": b64(crypto.SALT_BYTES), "kdf": ref("Kdf")})), **errors(*BODY_ERRORS)},
            body=obj({"name": {"type": "string", "minLength": 1, "maxLength": 40}}))},
        "/api/login": {"post": op(
            "login", "Log in; sets the session cookie", "accounts",
            {**ok(obj({"name": {"type": "string"}, "role": ref("Role"), "can_chat": {"type": "boolean"},
                       "can_mail": {"type": "boolean"}, "mail_available": {"type": "boolean"},
                       "x25519_public": b64(32), "ed25519_public": b64(32),
                       "wrapped_identity": b64(crypto.WRAPPED_IDENTITY_BYTES)}),
                  headers={"Set-Cookie": {"description": f"`{SESSION_COOKIE}`: HttpOnly, SameSite=Strict",
                                          "schema": {"type": "string"}}}),
             **errors(*BODY_ERRORS, 401, 403, 429)},
            body=obj({"name": {"type": "string", "minLength": 1, "maxLength": 40},
                      "auth_key": b64(crypto.KEY_BYTES)}))},
        "/api/logout": {"post": op(
            "logout", "End this browser's session, if any", "accounts",
            ok(status_const("logged-out")), security=OPTIONAL_SESSION)},
        "/api/me": {"get": op(
            "me", "Who is logged in", "accounts",
            {**ok(obj({"name": {"type": "string"}, "role": ref("Role"), "can_chat": {"type": "boolean"},
                       "can_mail": {"type": "boolean"}})), **errors(401)}, security=SESSION)},
        # -- chat (HTTP part) -------------------------------------------------------------
        "/api/chat/status": {"get": op(
            "chatStatus", "Whether anyone is on duty, and the queue", "chat",
            ok(obj({"available": {"type": "boolean"}, "waiting": {"type": "integer", "minimum": 0},
                    "estimate_s": {"type": "integer", "minimum": 0}})))},
        "/api/chat/challenge": {"post": op(
            "chatChallenge", "A proof-of-work challenge for opening a chat on /ws/chat", "chat",
            {**ok(ref("Challenge")), **errors(429)})},
        # -- mail: help-seekers -----------------------------------------------------------
        "/api/mail/status": {"get": op(
            "mailStatus", "Whether a new mail can be taken at all, and when to expect an answer", "mail",
            ok(obj({"open": {"type": "boolean", "description": "some active account can take mail (marked "
                             "available or not)"},
                    "reply_hours": {"type": "integer", "minimum": 0}})))},
        "/api/mail/challenge": {"post": op(
            "mailChallenge", "A proof-of-work challenge for a new thread", "mail",
            {**ok(ref("Challenge")), **errors(429)})},
        "/api/mail/assign": {"post": op(
            "mailAssign", "Redeem a solved challenge: a volunteer and a thread id to encrypt for", "mail",
            {**ok(obj({"assignment": b64(24, _TOKEN + "; valid 15 minutes"), "thread": b64(THREAD_ID_BYTES),
                       "volunteer": ref("VolunteerKeys")})),
             **errors(*BODY_ERRORS, 503)},
            body=obj({"challenge": b64(24), "nonce": b64(crypto.POW_NONCE_BYTES)}))},
        "/api/mail/threads": {"post": op(
            "mailCreate", "Store a new thread with its first message", "mail",
            {**ok(obj({"expires": ref("Expires"), "reply_hours": {"type": "integer"}}), "stored", 201),
             **errors(*BODY_ERRORS, 409)},
            body=obj({"assignment": b64(24), "lookup_key": b64(32), "seeker_x25519_public": b64(32),
                      "seeker_ed25519_public": b64(32), "message": ref("MessageIn")}))},
        "/api/mail/open": {"post": op(
            "mailOpen", "The help-seeker's thread, with the message keys wrapped for them", "mail",
            {**ok(SEEKER_THREAD), **errors(*BODY_ERRORS, 404, 429)}, body=ref("LookupKey"))},
        "/api/mail/write": {"post": op(
            "mailWrite", "The help-seeker writes again", "mail",
            {**ok(status_const("sent"), "stored", 201), **errors(*BODY_ERRORS, 404, 409, 429)},
            body=obj({"lookup_key": b64(32), "message": ref("MessageIn")}))},
        "/api/mail/reassign": {"post": op(
            "mailReassign", "Re-wrap the thread for a newly chosen volunteer", "mail",
            {**ok(obj({"volunteer": ref("VolunteerKeys")})), **errors(*BODY_ERRORS, 404, 409, 429)},
            body=obj({"lookup_key": b64(32), "volunteer": {"type": "string", "minLength": 1, "maxLength": 40},
                      "wraps": ref("Wraps")}))},
        "/api/mail/delete": {"post": op(
            "mailDelete", "Delete the thread and every message at once", "mail",
            {**ok(status_const("deleted")), **errors(*BODY_ERRORS, 404, 429)}, body=ref("LookupKey"))},
        # -- mail: volunteers -------------------------------------------------------------
        "/api/mail/availability": {"post": op(
            "mailAvailability", "Switch receiving new threads on or off", "mail-volunteer",
            {**ok(obj({"mail": {"type": "boolean"}})), **errors(*BODY_ERRORS, *VOLUNTEER_ERRORS)},
            body=obj({"mail": {"type": "boolean"}}), security=SESSION)},
        "/api/mail/inbox": {"get": op(
            "mailInbox", "Open threads, longest waiting first", "mail-volunteer",
            {**ok(obj({"mail": {"type": "boolean"}, "threads": {"type": "array", "items": obj({
                "thread": b64(THREAD_ID_BYTES), "unread": {"type": "boolean"},
                "waiting_hours": {"type": ["integer", "null"]}, "expires": ref("Expires")})}})),
             **errors(*VOLUNTEER_ERRORS)}, security=SESSION)},
        "/api/mail/colleagues": {"get": op(
            "mailColleagues", "Colleagues a thread can be handed over to", "mail-volunteer",
            {**ok(obj({"colleagues": {"type": "array", "items": ref("VolunteerKeys")}})),
             **errors(*VOLUNTEER_ERRORS)}, security=SESSION)},
        "/api/mail/threads/{thread}": {"get": op(
            "mailThread", "A thread with the message keys wrapped for the volunteer; marks it read", "mail-volunteer",
            {**ok(obj({"thread": b64(THREAD_ID_BYTES),
                       "state": {"type": "string", "enum": ["open", "handled", "needs-volunteer"]},
                       "seeker_x25519_public": b64(32), "seeker_ed25519_public": b64(32),
                       "messages": {"type": "array", "items": ref("MessageOut")}})),
             **errors(*VOLUNTEER_ERRORS, 404)}, security=SESSION, parameters=THREAD_PARAM)},
        "/api/mail/threads/{thread}/reply": {"post": op(
            "mailReply", "Reply to the help-seeker", "mail-volunteer",
            {**ok(status_const("sent"), "stored", 201), **errors(*BODY_ERRORS, *VOLUNTEER_ERRORS, 404, 409)},
            body=obj({"message": ref("MessageIn")}), security=SESSION, parameters=THREAD_PARAM)},
        "/api/mail/threads/{thread}/note": {"post": op(
            "mailNote", "Keep the volunteer's own sealed note on the thread, or delete it (null)", "mail-volunteer",
            {**ok(status_const("kept")), **errors(*BODY_ERRORS, *VOLUNTEER_ERRORS, 404, 409)},
            body=obj({"note": {"oneOf": [b64(min_bytes=min(crypto.MAIL_NOTE_LENGTHS),
                                             max_bytes=max(crypto.MAIL_NOTE_LENGTHS)), {"type": "null"}],
                               "description": "sealed to the volunteer's own key (crypto/PROTOCOL.md 12.10)"}}),
            security=SESSION, parameters=THREAD_PARAM)},
        "/api/mail/threads/{thread}/handled": {"post": op(
            "mailHandled", "Close the thread (a new message from the help-seeker reopens it)", "mail-volunteer",
            {**ok(status_const("handled")), **errors(*VOLUNTEER_ERRORS, 404)},
            security=SESSION, parameters=THREAD_PARAM)},
        "/api/mail/threads/{thread}/handover": {"post": op(
            "mailHandover", "Hand the thread to a colleague, with every message key re-wrapped", "mail-volunteer",
            {**ok(obj({"to": {"type": "string"}})), **errors(*BODY_ERRORS, *VOLUNTEER_ERRORS, 404, 409)},
            body=obj({"to": {"type": "string", "minLength": 1, "maxLength": 40}, "wraps": ref("Wraps")}),
            security=SESSION, parameters=THREAD_PARAM)},
        # -- coordinator ------------------------------------------------------------------
        "/coordinator": coordinator_page("coordinatorPage", "Coordinator: live figures and staff accounts"),
        "/coordinator/statistiek": coordinator_page(
            "statisticsPage", "Statistics per day, week or month, small counts suppressed", statistics=True),
        "/coordinator/statistiek.csv": coordinator_page(
            "statisticsCsv", "The same statistics as CSV", statistics=True, media="text/csv"),
        "/api/coordinator/live": {"get": op(
            "coordinatorLive", "What is happening now, as counts", "coordinator",
            {**ok(ref("CoordinatorLive")), **errors(*VOLUNTEER_ERRORS)}, security=SESSION)},
        "/api/coordinator/invite": {"post": op(
            "coordinatorInvite", "A one-time enrolment link for a new account (shown once)", "coordinator",
            {**ok(obj({"name": {"type": "string"}, "role": ref("Role"), "can_chat": {"type": "boolean"},
                       "can_mail": {"type": "boolean"},
                       "url": {"type": "string", "description": "the enrolment link; the token is in its fragment"},
                       "expires_at": {"type": "integer", "description": "unix seconds"}}), "invited", 201),
             **errors(*BODY_ERRORS, *VOLUNTEER_ERRORS, 409)},
            body=obj({"name": {"type": "string", "minLength": 1, "maxLength": 40}, "role": ref("Role"),
                      "can_chat": {"type": "boolean"}, "can_mail": {"type": "boolean"}}), security=SESSION)},
        "/api/coordinator/deactivate": {"post": op(
            "coordinatorDeactivate", "Deactivate another account and end its sessions", "coordinator",
            {**ok(ref("Account")), **errors(*BODY_ERRORS, *VOLUNTEER_ERRORS, 404, 409)},
            body=ref("AccountName"), security=SESSION,
            description="409 with reason `self` for one's own account, `last-coordinator` if no active "
                        "coordinator would be left.")},
        "/api/coordinator/role": {"post": op(
            "coordinatorRole", "Change another account's role (one role per account)", "coordinator",
            {**ok(ref("Account")), **errors(*BODY_ERRORS, *VOLUNTEER_ERRORS, 404, 409)},
            body=obj({"name": {"type": "string", "minLength": 1, "maxLength": 40}, "role": ref("Role")}),
            security=SESSION,
            description="409 with reason `self` for one's own account, `last-coordinator` if no active "
                        "coordinator would be left.")},
        "/api/quick-replies": {"get": op(
            "quickReplies", "The quick replies a volunteer may insert into the composer", "accounts",
            {**ok(ref("QuickReplies")), **errors(401, 403)}, security=SESSION)},
        "/api/coordinator/quick-replies": {
            "get": op("coordinatorQuickReplies", "The quick replies, in the order made", "coordinator",
                      {**ok(ref("QuickReplies")), **errors(*VOLUNTEER_ERRORS)}, security=SESSION),
            "post": op("coordinatorQuickReplyAdd", "Add a quick reply (at most 50)", "coordinator",
                       {**ok(ref("QuickReply"), "added", 201), **errors(*BODY_ERRORS, *VOLUNTEER_ERRORS, 409)},
                       body=ref("QuickReplyText"), security=SESSION,
                       description="409 with reason `full` when there are 50 already.")},
        "/api/coordinator/quick-replies/{id}": {"post": op(
            "coordinatorQuickReplyEdit", "Change a quick reply's text", "coordinator",
            {**ok(ref("QuickReply")), **errors(*BODY_ERRORS, *VOLUNTEER_ERRORS, 404)},
            body=ref("QuickReplyText"), security=SESSION, parameters=QUICK_REPLY_PARAM)},
        "/api/coordinator/quick-replies/{id}/delete": {"post": op(
            "coordinatorQuickReplyDelete", "Delete a quick reply", "coordinator",
            {**ok(obj({"deleted": {"type": "integer", "minimum": 1}})), **errors(*VOLUNTEER_ERRORS, 404)},
            security=SESSION, parameters=QUICK_REPLY_PARAM)},
    }


DESCRIPTION = f"""\
The HTTP API of Luisterend Oor, an anonymous, end-to-end encrypted helpline.
The server only ever receives ciphertext, hashes and public keys; binary values
are URL-safe base64 without padding (pattern `{B64_PATTERN}`).

Every error under `/api/` is a JSON object
`{{"error": code, "message": {{"nl": ..., "en": ...}}, ...}}` and means nothing
changed. A state-changing request whose `Origin` names another site answers 403.

Volunteer operations need the `{SESSION_COOKIE}` cookie set by `POST /api/login`;
coordinator pages and operations need it too, for an account with role `coordinator`.

The chat itself runs over two websockets outside this description:
`GET /ws/chat` (help-seeker, after a challenge from `POST /api/chat/challenge`)
and `GET /ws/volunteer` (session cookie). Their frame catalogue is the docstring
of `server/chat/ws.py`. Static assets under `/static/` and `/vendor/` are listed,
with their integrity hashes, by `GET /api/assets`.
"""

_DESCRIPTION_DOC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Luisterend Oor", "version": "0.1.0", "description": DESCRIPTION,
             "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"}},
    "tags": [{"name": name} for name in ("pages", "service", "accounts", "chat", "mail", "mail-volunteer",
                                         "coordinator", "transparency")],
    "paths": _paths(),
    "components": {
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "securitySchemes": {"cookieAuth": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                                           "description": "the volunteer session, set by POST /api/login"}},
    },
}


def openapi_description() -> dict[str, Any]:
    """A fresh copy of the description (callers may change it freely)."""
    return copy.deepcopy(_DESCRIPTION_DOC)
