"""One exception tree for the server: the domain errors, and the one way a crypto refusal joins it.

Every domain error carries an HTTP status, a stable machine-readable `code`,
and a key into the catalogue of user-facing text (`server/i18n.py`), with the
values its sentence is filled in with: the message, in Dutch and English, is
safe to show to the person who caused it. Accounts, the mail desk, the
coordinator's rules and the gateway raise these; they never answer a request.
The transports translate them, each in one function: the HTTP error middleware
(`server/http.py`, JSON for the API, an error page otherwise), the SMTP reply
(`mailgate/gateway.py` `smtp_reply`), and the chat's frame writer.

Keyword arguments are what the answer carries besides the message (`field`,
`reason`, `retry_after`: the pages read them); the sentence may name them too
(`"Veld {field} ontbreekt."`). A value only the sentence needs goes in `values`.

A `crypto.CryptoError` that nobody caught is the middleware's business too (a
generic 400); `crypto_refusal` and `decode_field` are for the checks whose
answer must name the field or say more.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import crypto

from .i18n import message


class OorError(Exception):
    """Base of every error the server answers on purpose."""

    status = 400
    code = "bad-request"
    key = "bad_request"  # the class's own sentence, when a raise site names none

    def __init__(self, key: str | None = None, /, *, values: Mapping[str, object] | None = None,
                 **extra: object) -> None:
        self.extra = extra
        if key is not None:
            self.key = key
        self.message = message(self.key, **{**extra, **(values or {})})
        super().__init__(self.message["en"])

    @property
    def nl(self) -> str:
        return self.message["nl"]

    @property
    def en(self) -> str:
        return self.message["en"]

    def as_json(self) -> dict[str, object]:
        return {"error": self.code, "message": dict(self.message), **self.extra}


class BadRequest(OorError):
    """The input is malformed, too large, or of the wrong type. Nothing changed."""


class Unauthorized(OorError):
    """No live session came with the request: log in (again)."""

    status = 401
    code = "unauthorized"
    key = "unauthorized"


class Forbidden(OorError):
    """The person is known (or the request's origin is), but may not do this."""

    status = 403
    code = "forbidden"
    key = "forbidden"


class NotFound(OorError):
    status = 404
    code = "not-found"
    key = "resource_not_found"


class Conflict(OorError):
    """The request is well formed but clashes with what is stored now. Nothing changed."""

    status = 409
    code = "conflict"


class Gone(OorError):
    status = 410
    code = "gone"


class TooManyRequests(OorError):
    status = 429
    code = "too-many-requests"
    key = "too_many_requests"


class ServiceUnavailable(OorError):
    """The server is at a capacity limit for everyone, not for this client. Nothing changed."""

    status = 503
    code = "busy"
    key = "busy"


@contextmanager
def crypto_refusal(error: type[OorError], key: str | None = None, **extra: object) -> Iterator[None]:
    """Inside this block, a `crypto.CryptoError` becomes `error(key, **extra)`.

    For the few checks whose answer must say more than the middleware's generic one:
    which field was refused (`field=`), or that a malformed id is simply not found.
    """
    try:
        yield
    except crypto.CryptoError:
        raise error(key, **extra) from None


def decode_field(payload: Mapping[str, Any], key: str, length: int | None = None, *,
                 lengths: Collection[int] | None = None, max_chars: int | None = None) -> bytes:
    """The base64 field `key` of a request body as bytes, or a BadRequest that names the field.

    `length` or `lengths` are the sizes the protocol allows; `max_chars` bounds the text
    before it is decoded, where the size alone does not."""
    value = payload.get(key)
    if not isinstance(value, str) or (max_chars is not None and len(value) > max_chars):
        raise BadRequest("field_missing", field=key)
    with crypto_refusal(BadRequest, "field_invalid", field=key):
        raw = crypto.b64decode(value, length=length)
    if lengths is not None and len(raw) not in lengths:
        raise BadRequest("field_invalid", field=key)
    return raw


class ConfigError(Exception):
    """The configuration is wrong. The message names the key and what is expected."""
