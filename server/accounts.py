"""Volunteer accounts: invitations, enrolment, login, throttling and sessions.

The server never sees a passphrase or a private key. At enrolment and login the
browser sends an *authentication key* derived from the passphrase (see
crypto/PROTOCOL.md); the server keeps only an argon2id hash of it. Private keys
arrive wrapped under a key that never leaves the browser.

Failed logins slow down the *name* (`LoginThrottle`), and `/api/login` also limits
attempts per address tag (in-memory keyed tags, `server.abuse`): we store no
addresses. The Argon2id work runs in a worker thread, never on the event loop,
where 50-100 ms a call would stall every chat.

`logged_in(request, ...)` is the one way a route (HTTP or websocket) learns who is
logged in and whether they may do what it does.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

import crypto

from .config import Config
from .errors import BadRequest, Conflict, Forbidden, Gone, TooManyRequests, Unauthorized, crypto_refusal, decode_field
from .keys import CLOCK, CONFIG, STORAGE
from .storage import ROLES, InvitationUnusable, NameTaken, NewVolunteer, Storage, Volunteer

SESSION_COOKIE = "oor_sessie"
SERVER_SECRET_KEY = "server-secret"
# A name as help-seekers and colleagues will see it ("Anne-Marie", "O'Brien", "Jan Jr.", "Team 113"): 1 to 40
# letters (any script) and digits, with single spaces, hyphens, apostrophes (' and ’) and full stops between
# them. It starts with a letter or digit, so it can never begin a spreadsheet formula (= + - @) in a CSV or a
# terminal; it has no control character, no markup character (< > & ") and no slash. Pages show it as text.
_NAME = re.compile(r"^[^\W_](?:[^\W_]|[ '\u2019.\-]){0,39}$")
_TOUCH_EVERY = 60  # seconds: refresh last_seen at most this often, to spare the disk


def normalise_name(name: str) -> str:
    """NFC-normalise and validate a volunteer's name, or raise BadRequest."""
    if not isinstance(name, str):
        raise BadRequest("name_missing", field="name")
    name = unicodedata.normalize("NFC", name.strip())
    if not _NAME.match(name) or "  " in name:
        raise BadRequest("name_invalid", field="name")
    return name


def day_of(now: int) -> str:
    return datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Invited:
    url: str
    expires_at: int


async def invite(storage: Storage, config: Config, name: str, role: str, can_chat: bool,
                 can_mail: bool, now: int, *, base_url: str | None = None) -> Invited:
    """Create a one-time invitation and return its enrolment URL (on `base_url`, default the configured one).

    The token travels in the URL *fragment*, which browsers never send to the
    server, so it cannot land in an access log or a proxy's log.
    """
    name = normalise_name(name)
    if role not in ROLES:
        raise BadRequest("role_unknown", field="role")
    token = crypto.new_token(32)  # 256 bits
    expires_at = now + config.invitation_ttl_hours * 3600
    try:
        await storage.create_invitation(crypto.hash_token(token), name, role, can_chat, can_mail, expires_at)
    except NameTaken:
        raise Conflict("name_taken_named", field="name", values={"name": name}) from None
    return Invited(f"{base_url or config.base_url}/inschrijven#uitnodiging={token}", expires_at)


def _invitation_gone(reason: str) -> Gone:
    if reason == "used":
        return Gone("invitation_used", reason="used")
    if reason == "expired":
        return Gone("invitation_expired", reason="expired")
    return Gone("invitation_unknown", reason="unknown")


def _field_token(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not 16 <= len(value) <= 128:
        raise BadRequest("field_missing_or_invalid", field=key)
    return value


def kdf_params(config: Config) -> dict[str, int]:
    return {"opslimit": config.kdf_opslimit, "memlimit": config.kdf_memlimit_bytes}


async def check_invitation(storage: Storage, config: Config, payload: dict[str, Any],
                           now: int) -> dict[str, Any]:
    token = _field_token(payload, "invitation")
    inv = await storage.get_invitation(crypto.hash_token(token))
    if inv is None:
        raise _invitation_gone("unknown")
    if inv.used:
        raise _invitation_gone("used")
    if inv.expires_at <= now:
        raise _invitation_gone("expired")
    return {"name": inv.name, "role": inv.role, "kdf": kdf_params(config),
            "passphrase_min_length": config.passphrase_min_length}


async def enrol(storage: Storage, config: Config, payload: dict[str, Any], now: int) -> Volunteer:
    """Store the public half of a new volunteer's keys. Changes nothing on any error."""
    token = _field_token(payload, "invitation")
    token_hash = crypto.hash_token(token)
    # The server dictates the KDF cost; a page that used weaker parameters is refused.
    if payload.get("opslimit") != config.kdf_opslimit or payload.get("memlimit") != config.kdf_memlimit_bytes:
        raise BadRequest("kdf_mismatch", field="kdf")
    salt = decode_field(payload, "salt", crypto.SALT_BYTES)
    auth_key = decode_field(payload, "auth_key", crypto.KEY_BYTES)
    x_pub = decode_field(payload, "x25519_public", 32)
    ed_pub = decode_field(payload, "ed25519_public", 32)
    wrapped = decode_field(payload, "wrapped_identity", crypto.WRAPPED_IDENTITY_BYTES)
    # The X25519 key that mail is encrypted to, signed by the identity key: help-seekers' pages check it.
    cert = decode_field(payload, "x25519_certificate", crypto.SIGNATURE_BYTES)
    with crypto_refusal(BadRequest, "keys_mismatch", field="x25519_certificate"):
        crypto.verify_key_certificate(ed_pub, x_pub, cert)
    inv = await storage.get_invitation(token_hash)
    if inv is None:
        raise _invitation_gone("unknown")
    # Refuse a used or expired invitation before the Argon2 work (storage.enrol checks again, atomically).
    if inv.used:
        raise _invitation_gone("used")
    if inv.expires_at <= now:
        raise _invitation_gone("expired")
    # argon2-cffi takes tens of milliseconds: in a worker thread, so the event loop keeps relaying chats.
    auth_hash = await asyncio.to_thread(crypto.hash_auth_key, auth_key)
    record = NewVolunteer(
        name=inv.name, role=inv.role, can_chat=inv.can_chat, can_mail=inv.can_mail,
        enrolled_day=day_of(now), kdf_salt=salt, kdf_opslimit=config.kdf_opslimit,
        kdf_memlimit=config.kdf_memlimit_bytes, auth_hash=auth_hash,
        x25519_public=x_pub, ed25519_public=ed_pub, wrapped_identity=wrapped, x25519_certificate=cert)
    try:
        volunteer_id = await storage.enrol(token_hash, now, record)
    except InvitationUnusable as exc:
        raise _invitation_gone(exc.reason) from None
    except NameTaken:
        raise Conflict("name_taken", field="name") from None
    volunteer = await storage.volunteer_by_id(volunteer_id)
    if volunteer is None:  # pragma: no cover - the row was inserted in the same transaction
        raise Conflict()
    return volunteer


async def login_start(storage: Storage, config: Config, server_secret: bytes,
                      payload: dict[str, Any]) -> dict[str, Any]:
    """Answer the salt for a name; a stable fake salt for unknown names, so names cannot be probed."""
    name = normalise_name(payload.get("name"))  # type: ignore[arg-type]
    volunteer = await storage.volunteer_by_name(name)
    if volunteer is None:
        return {"salt": crypto.b64encode(crypto.fake_salt(server_secret, name)), "kdf": kdf_params(config)}
    return {"salt": crypto.b64encode(volunteer.kdf_salt),
            "kdf": {"opslimit": volunteer.kdf_opslimit, "memlimit": volunteer.kdf_memlimit}}


def _lock_seconds(config: Config, failed: int) -> int:
    """Exponential slow-down per name after the free attempts."""
    if failed < config.login_free_attempts:
        return 0
    return min(config.login_max_delay_seconds, 2 ** (failed - config.login_free_attempts + 1))


def _locked(locked_until: int, now: int) -> TooManyRequests:
    return TooManyRequests("login_locked", retry_after=locked_until - now)


class LoginThrottle:
    """Slows down logins per *name*, for names that exist exactly as for names that do not.

    Every attempt is counted before any database or Argon2 work, so parallel
    guesses cannot slip in before the first failure is recorded; a right
    authentication key forgets the count. After `login_free_attempts` the name is
    locked for an exponentially growing time (at most `login_max_delay_seconds`),
    answered with 429 and retry_after.

    Known and unknown names go through this same code and touch the same things:
    only this dictionary, never the database. Were real accounts counted on disk,
    the extra write and fsync (about 1 ms) after a wrong passphrase would tell
    which names exist; were unknown names not counted at all, only real accounts
    would ever answer "too many attempts". Entries are keyed by a keyed hash of
    the name (the fake salt), so the dictionary holds no names.

    Kept in memory only: a restart forgets every count and lock. That is accepted:
    the lock only slows down online guessing of a 256-bit authentication key
    behind a >= 64 MiB Argon2id in the browser, and `/api/login` is limited per
    address as well. Bounded in size: when full, names that are not locked now
    are forgotten first, then the longest idle.
    """

    MAX_ENTRIES = 100_000

    def __init__(self, server_secret: bytes) -> None:
        self._secret = server_secret
        # keyed hash of the name -> (attempts counted, locked until); oldest activity first.
        self._entries: dict[bytes, tuple[int, int]] = {}

    def _key(self, name: str) -> bytes:
        return crypto.fake_salt(self._secret, name)

    def attempt(self, config: Config, name: str, now: int) -> None:
        """Count one login attempt for `name`, or raise TooManyRequests while it is locked."""
        key = self._key(name)
        failed, locked_until = self._entries.get(key, (0, 0))
        if locked_until > now:
            raise _locked(locked_until, now)
        failed += 1
        self._entries.pop(key, None)  # re-inserted last: the dict's order is the order of activity
        self._entries[key] = (failed, now + _lock_seconds(config, failed))
        self._make_room(now)

    def succeeded(self, name: str) -> None:
        """The right authentication key: forget the name's count and lock."""
        self._entries.pop(self._key(name), None)

    def _make_room(self, now: int) -> None:
        if len(self._entries) <= self.MAX_ENTRIES:
            return
        kept = {key: entry for key, entry in self._entries.items() if entry[1] > now}
        # Down to 90 %, so that a full table of locked names is pruned only every 10 % of MAX_ENTRIES.
        excess = len(kept) - self.MAX_ENTRIES * 9 // 10
        for key in list(itertools.islice(kept, max(0, excess))):
            del kept[key]
        self._entries = kept


async def login(storage: Storage, config: Config, payload: dict[str, Any], now: int,
                dummy_hash: str, throttle: LoginThrottle) -> tuple[Volunteer, str]:
    """Check the authentication key; on success return the volunteer and a new session token.

    A wrong key for a real name and any key for an unknown name do the same work
    (one Argon2id verification, against the dummy hash for an unknown name) and
    the same writes (none): neither the answer, nor its time, nor the disk tells
    which names exist.
    """
    name = normalise_name(payload.get("name"))  # type: ignore[arg-type]
    auth_key = decode_field(payload, "auth_key", crypto.KEY_BYTES)
    throttle.attempt(config, name, now)
    volunteer = await storage.volunteer_by_name(name)
    stored = dummy_hash if volunteer is None else volunteer.auth_hash
    # argon2-cffi releases the GIL: in a worker thread the event loop keeps relaying chats meanwhile.
    matches = await asyncio.to_thread(crypto.verify_auth_key, stored, auth_key)
    if volunteer is None or not matches:
        raise Unauthorized("login_wrong")
    throttle.succeeded(name)
    if not volunteer.active:
        raise Forbidden("account_deactivated", reason="deactivated")
    token = crypto.new_token(32)
    await storage.create_session(crypto.hash_token(token), volunteer.id, now)
    return volunteer, token


async def session_volunteer(storage: Storage, config: Config, token: str | None, now: int) -> Volunteer | None:
    """The active volunteer behind a session cookie, or None (expired sessions are deleted)."""
    if not token or len(token) > 128:
        return None
    token_hash = crypto.hash_token(token)
    session = await storage.get_session(token_hash)
    if session is None:
        return None
    if (now - session.last_seen > config.session_idle_minutes * 60
            or now - session.created_at > config.session_max_hours * 3600):
        await storage.delete_session(token_hash)
        return None
    volunteer = await storage.volunteer_by_id(session.volunteer_id)
    if volunteer is None or not volunteer.active:
        await storage.delete_session(token_hash)
        return None
    if now - session.last_seen >= _TOUCH_EVERY:
        await storage.touch_session(token_hash, now)
    return volunteer


async def logged_in(request: web.Request, *, role: str | None = None, chat: bool = False,
                    mail: bool = False) -> Volunteer:
    """The volunteer whose live session cookie came with `request`, if they may do what the route does.

    Unauthorized (401) without a live session; Forbidden (403) for an account of another role
    than `role`, or one not set up for chat (`chat=True`) or mail (`mail=True`): the person is
    known, the account may not do this, so both refusals answer the same status.
    """
    app = request.app
    volunteer = await session_volunteer(app[STORAGE], app[CONFIG], request.cookies.get(SESSION_COOKIE), app[CLOCK]())
    if volunteer is None:
        raise Unauthorized()
    if role is not None and volunteer.role != role:
        # The coordinator's pages say whom they are for; a route for another role would get Forbidden's own words.
        raise Forbidden("coordinators_only" if role == "coordinator" else None)
    if chat and not volunteer.can_chat:
        raise Forbidden("not_set_up_chat")
    if mail and not volunteer.can_mail:
        raise Forbidden("not_set_up_mail")
    return volunteer


async def logout(storage: Storage, token: str | None) -> None:
    if token and len(token) <= 128:
        await storage.delete_session(crypto.hash_token(token))


def identity_payload(volunteer: Volunteer) -> dict[str, Any]:
    """What the browser needs to unlock its keys after login."""
    return {
        "name": volunteer.name, "role": volunteer.role,
        "can_chat": volunteer.can_chat, "can_mail": volunteer.can_mail,
        "mail_available": volunteer.mail_available,
        "x25519_public": crypto.b64encode(volunteer.x25519_public),
        "ed25519_public": crypto.b64encode(volunteer.ed25519_public),
        "wrapped_identity": crypto.b64encode(volunteer.wrapped_identity),
        # The random id the coordinators' root key signs the keys under (issue 17): the workspace shows the
        # fingerprint of it and the keys, and checks that the public log holds nothing else for it.
        "account_id": crypto.b64encode(volunteer.account_id),
    }
