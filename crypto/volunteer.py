"""PROTOCOL.md section 3, Volunteer key hierarchy: passphrase to keys, and the identity.

A passphrase gives, through Argon2id and BLAKE2b under two labels, an
authentication key (sent at login) and a wrapping key (never leaves the
browser). The identity is a long-term X25519 key pair (mail, key agreement)
and an Ed25519 key pair (signing chat offers, certificates, mail replies),
generated in the browser at enrolment and stored wrapped (section 4,
``wrap.py``). The browser does all of this in production; the Python side
serves tests, vectors, the mail gateway and ``oor audit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import _primitives as _p
from ._checks import nfc_utf8, require_bytes
from .errors import InvalidInput
from .labels import LABEL_VOLUNTEER_AUTH, LABEL_VOLUNTEER_WRAP
from .params import KEY_BYTES, PUBLIC_KEY_BYTES, SALT_BYTES, KdfParams

_MAX_PASSPHRASE_CHARS = 4096


def new_salt() -> bytes:
    """A fresh random Argon2id salt (16 bytes), one per volunteer enrolment."""
    return _p.random_bytes(SALT_BYTES)


@dataclass(frozen=True)
class VolunteerKeys:
    """The two keys split from a volunteer's Argon2id master key.

    ``auth_key`` is sent to the server at login (which stores only an
    argon2-cffi hash of it); ``wrapping_key`` never leaves the browser.
    """

    auth_key: bytes = field(repr=False)
    wrapping_key: bytes = field(repr=False)


def derive_volunteer_keys(passphrase: str, salt: bytes, params: KdfParams) -> VolunteerKeys:
    """Passphrase -> Argon2id master key -> BLAKE2b auth key and wrapping key.

    The passphrase is NFC-normalised and UTF-8 encoded. The two keys come
    from the same master key under distinct labels, so knowing the auth key
    (as the server does) reveals nothing about the wrapping key.
    """
    password = nfc_utf8(passphrase, "passphrase", max_chars=_MAX_PASSPHRASE_CHARS)
    if not password:
        raise InvalidInput("passphrase must not be empty")
    salt = require_bytes(salt, SALT_BYTES, "salt")
    if not isinstance(params, KdfParams):
        raise InvalidInput("params must be a KdfParams")
    master = _p.argon2id(KEY_BYTES, password, salt, params.opslimit, params.memlimit)
    # The master key is used only as a BLAKE2b key, never directly, so that
    # further subkeys can be added later under new labels.
    return VolunteerKeys(
        auth_key=_p.blake2b(LABEL_VOLUNTEER_AUTH, key=master, digest_size=KEY_BYTES),
        wrapping_key=_p.blake2b(LABEL_VOLUNTEER_WRAP, key=master, digest_size=KEY_BYTES),
    )


@dataclass(frozen=True)
class Identity:
    """A volunteer's long-term key pairs.

    Construction checks that the public keys belong to the secrets, so an
    ``Identity`` is always consistent. The secrets are hidden from ``repr``.
    """

    x25519_secret: bytes = field(repr=False)
    x25519_public: bytes
    ed25519_seed: bytes = field(repr=False)
    ed25519_public: bytes

    def __post_init__(self) -> None:
        x_sec = require_bytes(self.x25519_secret, KEY_BYTES, "x25519_secret")
        x_pub = require_bytes(self.x25519_public, PUBLIC_KEY_BYTES, "x25519_public")
        e_seed = require_bytes(self.ed25519_seed, KEY_BYTES, "ed25519_seed")
        e_pub = require_bytes(self.ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
        # Normalise bytearray inputs to bytes on the frozen instance.
        object.__setattr__(self, "x25519_secret", x_sec)
        object.__setattr__(self, "x25519_public", x_pub)
        object.__setattr__(self, "ed25519_seed", e_seed)
        object.__setattr__(self, "ed25519_public", e_pub)
        if not _p.constant_time_equal(_p.x25519_public_from_secret(x_sec), x_pub):
            raise InvalidInput("x25519_public does not belong to x25519_secret")
        if not _p.constant_time_equal(_p.ed25519_public_from_seed(e_seed), e_pub):
            raise InvalidInput("ed25519_public does not belong to ed25519_seed")


def identity_from_secrets(x25519_secret: bytes, ed25519_seed: bytes) -> Identity:
    """Rebuild an identity (both public keys) from its two 32-byte secrets."""
    x_sec = require_bytes(x25519_secret, KEY_BYTES, "x25519_secret")
    e_seed = require_bytes(ed25519_seed, KEY_BYTES, "ed25519_seed")
    return Identity(
        x25519_secret=x_sec,
        x25519_public=_p.x25519_public_from_secret(x_sec),
        ed25519_seed=e_seed,
        ed25519_public=_p.ed25519_public_from_seed(e_seed),
    )


def new_identity() -> Identity:
    """A fresh random identity (done in the browser in production)."""
    return identity_from_secrets(_p.random_bytes(KEY_BYTES), _p.random_bytes(KEY_BYTES))
