"""One exception tree for the server.

Every domain error carries an HTTP status, a stable machine-readable `code`,
and a message in Dutch and English that is safe to show to the person who
caused it. The error middleware in `server.app` turns them into JSON (API) or
an error page (HTML) in one place.
"""

from __future__ import annotations


class OorError(Exception):
    """Base of every error the server answers on purpose."""

    status = 400
    code = "bad-request"
    nl = "Dit verzoek klopt niet."
    en = "This request is not valid."

    def __init__(self, nl: str | None = None, en: str | None = None, **extra: object) -> None:
        if nl is not None:
            self.nl = nl
        if en is not None:
            self.en = en
        self.extra = extra
        super().__init__(self.en)

    def as_json(self) -> dict[str, object]:
        return {"error": self.code, "message": {"nl": self.nl, "en": self.en}, **self.extra}


class BadRequest(OorError):
    """The input is malformed, too large, or of the wrong type. Nothing changed."""


class Unauthorized(OorError):
    status = 401
    code = "unauthorized"
    nl = "Je bent niet (meer) ingelogd."
    en = "You are not (or no longer) logged in."


class Forbidden(OorError):
    status = 403
    code = "forbidden"
    nl = "Dit mag niet."
    en = "This is not allowed."


class NotFound(OorError):
    status = 404
    code = "not-found"
    nl = "Niet gevonden."
    en = "Not found."


class Conflict(OorError):
    status = 409
    code = "conflict"


class Gone(OorError):
    status = 410
    code = "gone"


class TooManyRequests(OorError):
    status = 429
    code = "too-many-requests"
    nl = "Te veel pogingen. Wacht even en probeer het opnieuw."
    en = "Too many attempts. Please wait a moment and try again."


class ServiceUnavailable(OorError):
    """The server is at a capacity limit for everyone, not for this client. Nothing changed."""

    status = 503
    code = "busy"
    nl = "Het is nu erg druk. Probeer het over een paar minuten opnieuw. Heb je direct hulp nodig? Bel 113 of 112."
    en = "It is very busy right now. Please try again in a few minutes. Need help right away? Call 113 or 112."


class ConfigError(Exception):
    """The configuration is wrong. The message names the key and what is expected."""
