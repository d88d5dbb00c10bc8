"""PROTOCOL.md section 6, Server-side hashing: secrets the server checks but never keeps reusable.

Auth keys (an argon2-cffi hash), bearer tokens for invitations and sessions
(an unkeyed BLAKE2b lookup hash), and the fake salt answered for an unknown
volunteer name (a BLAKE2b keyed with the server's secret). The mailbox
lookup hash follows the same reasoning but belongs to mail (12.2, ``mail.py``).
"""

from __future__ import annotations

from . import _primitives as _p
from ._checks import nfc_utf8, require_bytes, require_int, utf8
from .encoding import b64encode
from .errors import InvalidInput
from .labels import LABEL_FAKE_SALT, LABEL_SERVER_TOKEN
from .params import KEY_BYTES, SALT_BYTES

MIN_TOKEN_BYTES = 16  # 128 bits: unguessable even with many online attempts
_MAX_TOKEN_BYTES = 64
_MAX_TOKEN_CHARS = 512  # cap before hashing attacker-supplied cookie values
_MAX_NAME_CHARS = 1024


def new_token(nbytes: int = 32) -> str:
    """A random bearer token (invitation, session cookie), base64-encoded."""
    nbytes = require_int(nbytes, "nbytes")
    if not MIN_TOKEN_BYTES <= nbytes <= _MAX_TOKEN_BYTES:
        raise InvalidInput(f"tokens must be {MIN_TOKEN_BYTES} to {_MAX_TOKEN_BYTES} bytes")
    return b64encode(_p.random_bytes(nbytes))


def hash_token(token: str) -> bytes:
    """Stable 32-byte lookup hash of a token; store this, never the token.

    Unkeyed and fast on purpose: tokens carry at least 128 random bits, so
    there is nothing to brute-force and no need for a slow hash or a salt, and
    the same token must always give the same hash so the server can find it.
    A database thief learns hashes that cannot be turned back into tokens.
    """
    data = utf8(token, "token", max_chars=_MAX_TOKEN_CHARS)
    if not data:
        raise InvalidInput("token must not be empty")
    return _p.blake2b(LABEL_SERVER_TOKEN + data, digest_size=KEY_BYTES)


def fake_salt(server_secret: bytes, name: str) -> bytes:
    """A stable salt to answer for an unknown volunteer name.

    Keyed with a server secret so nobody can predict it (and so tell fake from
    real salts), and a function of the name so that asking twice gives the
    same answer, as it would for a real volunteer.
    """
    secret = require_bytes(server_secret, None, "server_secret")
    if not KEY_BYTES <= len(secret) <= _p.BLAKE2B_KEY_BYTES_MAX:
        raise InvalidInput(f"server_secret must be {KEY_BYTES} to {_p.BLAKE2B_KEY_BYTES_MAX} bytes")
    data = nfc_utf8(name, "name", max_chars=_MAX_NAME_CHARS)
    return _p.blake2b(LABEL_FAKE_SALT + data, key=secret, digest_size=SALT_BYTES)


def hash_auth_key(auth_key: bytes) -> str:
    """argon2-cffi (Argon2id) PHC string of a volunteer's auth key, for storage.

    Light parameters (t=2, m=19 MiB, p=1) suffice: the auth key is a 256-bit
    value produced by a >= 64 MiB Argon2id in the browser, so there is nothing
    to guess; this hash only stops a database thief from logging in with the
    stored value. The slow, memory-hard work is done once, in the browser.
    """
    key = require_bytes(auth_key, KEY_BYTES, "auth_key")
    return _p.password_hash(key)


def verify_auth_key(stored: str, auth_key: bytes) -> bool:
    """True iff ``auth_key`` matches ``stored``; False on mismatch or a malformed hash."""
    key = require_bytes(auth_key, KEY_BYTES, "auth_key")
    if not isinstance(stored, str):
        return False
    return _p.password_verify(stored, key)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings in time independent of their contents."""
    return _p.constant_time_equal(require_bytes(a, None, "a"), require_bytes(b, None, "b"))
