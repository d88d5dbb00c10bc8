"""The cryptographic facade of Luisterend Oor.

``server/`` and ``mailgate/`` import only the names in ``__all__``. Every
operation here is a composed, protocol-level operation whose bytes are fixed
by ``crypto/PROTOCOL.md`` and pinned by the vectors in ``tests/vectors/``;
``web/js/crypto.js`` computes the same bytes in the browser.

Validation is explicit (``raise``, never ``assert``): everything that comes
from outside is checked for type and length before any secret is touched, and
every refusal is a :class:`CryptoError`.

Nothing here caches a value derived from a secret. Python cannot reliably wipe
``bytes``; keep secrets in local variables and let them go out of scope.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass, field

from . import _primitives as _p
from .errors import CryptoError, DecryptionFailed, InvalidInput
from .labels import (
    LABEL_FAKE_SALT,
    LABEL_IDENTITY_WRAP,
    LABEL_SERVER_TOKEN,
    LABEL_VOLUNTEER_AUTH,
    LABEL_VOLUNTEER_WRAP,
)

__all__ = [
    # errors
    "CryptoError",
    "InvalidInput",
    "DecryptionFailed",
    # sizes and parameters
    "SALT_BYTES",
    "KEY_BYTES",
    "PUBLIC_KEY_BYTES",
    "WRAPPED_IDENTITY_BYTES",
    "WRAP_VERSION",
    "MIN_TOKEN_BYTES",
    "MIN_OPSLIMIT",
    "MIN_MEMLIMIT",
    "KdfParams",
    "PRODUCTION_KDF",
    # encoding
    "b64encode",
    "b64decode",
    # volunteer keys and identity
    "VolunteerKeys",
    "Identity",
    "new_salt",
    "derive_volunteer_keys",
    "new_identity",
    "identity_from_secrets",
    "wrap_identity",
    "unwrap_identity",
    "check_public_key",
    # server-side secrets handling
    "new_token",
    "hash_token",
    "fake_salt",
    "hash_auth_key",
    "verify_auth_key",
    "constant_time_equal",
]

# --------------------------------------------------------------------------
# Sizes and parameters
# --------------------------------------------------------------------------

SALT_BYTES = 16
KEY_BYTES = 32
PUBLIC_KEY_BYTES = 32
WRAP_VERSION = 1
_SECRETS_BYTES = 2 * KEY_BYTES  # x25519_secret || ed25519_seed
_WRAP_HEADER_BYTES = 1 + _p.AEAD_NONCE_BYTES
WRAPPED_IDENTITY_BYTES = _WRAP_HEADER_BYTES + _SECRETS_BYTES + _p.AEAD_TAG_BYTES  # 105
MIN_TOKEN_BYTES = 16  # 128 bits: unguessable even with many online attempts
_MAX_TOKEN_BYTES = 64
_MAX_TOKEN_CHARS = 512  # cap before hashing attacker-supplied cookie values
_MAX_NAME_CHARS = 1024
_MAX_PASSPHRASE_CHARS = 4096

# libsodium's own Argon2id minimums. The *policy* floor (at least 64 MiB for
# real volunteers) is enforced by the server configuration, not here, so that
# tests can run with fast, explicitly insecure parameters.
MIN_OPSLIMIT = _p.ARGON2ID_OPSLIMIT_MIN  # 1
MIN_MEMLIMIT = _p.ARGON2ID_MEMLIMIT_MIN  # 8192 bytes

if SALT_BYTES != _p.ARGON2ID_SALT_BYTES or KEY_BYTES != _p.AEAD_KEY_BYTES:
    raise ImportError("libsodium sizes differ from the protocol's; refusing to load")


def _require_bytes(value: object, length: int | None, what: str) -> bytes:
    if isinstance(value, bytearray):
        value = bytes(value)
    if not isinstance(value, bytes):
        raise InvalidInput(f"{what} must be bytes, not {type(value).__name__}")
    if length is not None and len(value) != length:
        raise InvalidInput(f"{what} must be {length} bytes, got {len(value)}")
    return value


def _require_int(value: object, what: str) -> int:
    # bool is an int subclass; True as an opslimit is a bug, not a parameter.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, not {type(value).__name__}")
    return value


def _utf8(text: object, what: str, *, max_chars: int) -> bytes:
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a str, not {type(text).__name__}")
    if len(text) > max_chars:
        raise InvalidInput(f"{what} is longer than {max_chars} characters")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: the browser's TextEncoder would silently turn them
        # into U+FFFD, Python would not; refuse rather than disagree.
        raise InvalidInput(f"{what} is not valid Unicode (lone surrogate)") from None


def _nfc_utf8(text: object, what: str, *, max_chars: int) -> bytes:
    # NFC so that "é" typed as one code point or as "e" + combining accent
    # (different keyboards, different operating systems) gives the same bytes.
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a str, not {type(text).__name__}")
    if len(text) > max_chars:  # cap before normalising hostile input
        raise InvalidInput(f"{what} is longer than {max_chars} characters")
    return _utf8(unicodedata.normalize("NFC", text), what, max_chars=max_chars)


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters: ``opslimit`` passes, ``memlimit`` in bytes.

    Construction validates against libsodium's minimums and maximums and
    raises :class:`InvalidInput` otherwise, so ``KdfParams(int(a), int(b))`` on
    request data is a complete syntactic check. Whether the values meet the
    deployment's policy is the server configuration's decision.
    """

    opslimit: int
    memlimit: int

    def __post_init__(self) -> None:
        ops = _require_int(self.opslimit, "opslimit")
        mem = _require_int(self.memlimit, "memlimit")
        if not MIN_OPSLIMIT <= ops <= _p.ARGON2ID_OPSLIMIT_MAX:
            raise InvalidInput(f"opslimit must be between {MIN_OPSLIMIT} and {_p.ARGON2ID_OPSLIMIT_MAX}")
        if not MIN_MEMLIMIT <= mem <= _p.ARGON2ID_MEMLIMIT_MAX:
            raise InvalidInput(f"memlimit must be between {MIN_MEMLIMIT} and {_p.ARGON2ID_MEMLIMIT_MAX} bytes")


# libsodium's "moderate"-like cost in the browser: three passes over 64 MiB.
PRODUCTION_KDF = KdfParams(opslimit=3, memlimit=64 * 1024 * 1024)

# --------------------------------------------------------------------------
# Encoding: base64, URL-safe alphabet, no padding (libsodium.js's default
# variant, URLSAFE_NO_PADDING). One canonical string per byte string, so that
# two encodings of the same value can never be told apart or compared wrongly.
# --------------------------------------------------------------------------

_B64_RE = re.compile(r"[A-Za-z0-9_-]*")


def _b64_len(nbytes: int) -> int:
    return (4 * nbytes + 2) // 3


def b64encode(data: bytes) -> str:
    """URL-safe base64 without padding."""
    data = _require_bytes(data, None, "data")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str, *, length: int | None = None) -> bytes:
    """Decode canonical URL-safe base64 without padding.

    Raises :class:`InvalidInput` on any character outside ``A-Z a-z 0-9 - _``
    (so also on ``=``, ``+``, ``/`` and whitespace), on a length that no byte
    string encodes to, on non-zero unused trailing bits (non-canonical), and,
    when ``length`` is given, unless the result is exactly ``length`` bytes.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"base64 input must be a str, not {type(text).__name__}")
    if length is not None:
        # Checked before decoding: also caps the work done on hostile input.
        if len(text) != _b64_len(length):
            raise InvalidInput(f"expected base64 of {length} bytes")
    if _B64_RE.fullmatch(text) is None:
        raise InvalidInput("base64 must use the URL-safe alphabet without padding")
    if len(text) % 4 == 1:
        raise InvalidInput("base64 input has an impossible length")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("malformed base64") from None
    if b64encode(data) != text:
        raise InvalidInput("non-canonical base64 (unused bits are not zero)")
    return data


# --------------------------------------------------------------------------
# Volunteer keys
# --------------------------------------------------------------------------


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
    password = _nfc_utf8(passphrase, "passphrase", max_chars=_MAX_PASSPHRASE_CHARS)
    if not password:
        raise InvalidInput("passphrase must not be empty")
    salt = _require_bytes(salt, SALT_BYTES, "salt")
    if not isinstance(params, KdfParams):
        raise InvalidInput("params must be a KdfParams")
    master = _p.argon2id(KEY_BYTES, password, salt, params.opslimit, params.memlimit)
    # The master key is used only as a BLAKE2b key, never directly, so that
    # further subkeys can be added later under new labels.
    return VolunteerKeys(
        auth_key=_p.blake2b(LABEL_VOLUNTEER_AUTH, key=master, digest_size=KEY_BYTES),
        wrapping_key=_p.blake2b(LABEL_VOLUNTEER_WRAP, key=master, digest_size=KEY_BYTES),
    )


# --------------------------------------------------------------------------
# Identity: a long-term X25519 key pair (mail, key agreement) and an Ed25519
# key pair (signing per-chat ephemeral keys).
# --------------------------------------------------------------------------


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
        x_sec = _require_bytes(self.x25519_secret, KEY_BYTES, "x25519_secret")
        x_pub = _require_bytes(self.x25519_public, PUBLIC_KEY_BYTES, "x25519_public")
        e_seed = _require_bytes(self.ed25519_seed, KEY_BYTES, "ed25519_seed")
        e_pub = _require_bytes(self.ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
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
    x_sec = _require_bytes(x25519_secret, KEY_BYTES, "x25519_secret")
    e_seed = _require_bytes(ed25519_seed, KEY_BYTES, "ed25519_seed")
    return Identity(
        x25519_secret=x_sec,
        x25519_public=_p.x25519_public_from_secret(x_sec),
        ed25519_seed=e_seed,
        ed25519_public=_p.ed25519_public_from_seed(e_seed),
    )


def new_identity() -> Identity:
    """A fresh random identity (done in the browser in production)."""
    return identity_from_secrets(_p.random_bytes(KEY_BYTES), _p.random_bytes(KEY_BYTES))


def _wrap_ad(x25519_public: bytes, ed25519_public: bytes) -> bytes:
    # Both public keys are bound as associated data: a server that pairs a
    # wrapped blob with other public keys (to make a volunteer encrypt to, or
    # trust, keys it controls) makes decryption fail.
    return LABEL_IDENTITY_WRAP + x25519_public + ed25519_public


def wrap_identity(wrapping_key: bytes, identity: Identity, *, nonce: bytes | None = None) -> bytes:
    """Encrypt an identity's secrets under the wrapping key (105-byte blob).

    ``nonce`` exists only so that test vectors are reproducible; production
    callers MUST leave it out. A random 24-byte XChaCha20 nonce makes
    collisions negligible even though a volunteer may re-wrap many times.
    """
    key = _require_bytes(wrapping_key, KEY_BYTES, "wrapping_key")
    if not isinstance(identity, Identity):
        raise InvalidInput("identity must be an Identity")
    if nonce is None:
        nonce = _p.random_bytes(_p.AEAD_NONCE_BYTES)
    nonce = _require_bytes(nonce, _p.AEAD_NONCE_BYTES, "nonce")
    sealed = _p.aead_encrypt(
        key,
        nonce,
        identity.x25519_secret + identity.ed25519_seed,
        _wrap_ad(identity.x25519_public, identity.ed25519_public),
    )
    blob = bytes([WRAP_VERSION]) + nonce + sealed
    if len(blob) != WRAPPED_IDENTITY_BYTES:  # pragma: no cover - libsodium invariant
        raise CryptoError("internal error: wrapped identity has the wrong size")
    return blob


def unwrap_identity(
    wrapping_key: bytes, blob: bytes, x25519_public: bytes, ed25519_public: bytes
) -> Identity:
    """Decrypt a wrapped identity and check it against the published public keys.

    Raises :class:`InvalidInput` for a malformed blob (length or version) or
    key, before any decryption is attempted, and :class:`DecryptionFailed`
    when authentication fails or the decrypted secrets do not produce the
    given public keys.
    """
    key = _require_bytes(wrapping_key, KEY_BYTES, "wrapping_key")
    blob = _require_bytes(blob, None, "wrapped identity")
    x_pub = check_public_key(x25519_public)
    e_pub = check_public_key(ed25519_public)
    if len(blob) != WRAPPED_IDENTITY_BYTES:
        raise InvalidInput(f"wrapped identity must be {WRAPPED_IDENTITY_BYTES} bytes, got {len(blob)}")
    if blob[0] != WRAP_VERSION:
        raise InvalidInput(f"unknown wrapped identity version {blob[0]}")
    nonce = blob[1:_WRAP_HEADER_BYTES]
    secrets = _p.aead_decrypt(key, nonce, blob[_WRAP_HEADER_BYTES:], _wrap_ad(x_pub, e_pub))
    x_sec, e_seed = secrets[:KEY_BYTES], secrets[KEY_BYTES:]
    # Authentication proves the blob was made by someone holding the wrapping
    # key for these public keys, not that its secrets match them (a buggy or
    # malicious encryptor could pair them wrongly). Recompute and compare.
    x_calc = _p.x25519_public_from_secret(x_sec)
    e_calc = _p.ed25519_public_from_seed(e_seed)
    x_ok = _p.constant_time_equal(x_calc, x_pub)
    e_ok = _p.constant_time_equal(e_calc, e_pub)
    if not (x_ok and e_ok):
        raise DecryptionFailed("wrapped secrets do not match the published public keys")
    return Identity(x25519_secret=x_sec, x25519_public=x_pub, ed25519_seed=e_seed, ed25519_public=e_pub)


def check_public_key(public_key: bytes) -> bytes:
    """Return ``public_key`` (as bytes) if it is 32 bytes; raise InvalidInput otherwise."""
    return _require_bytes(public_key, PUBLIC_KEY_BYTES, "public key")


# --------------------------------------------------------------------------
# Server-side handling of secrets the server must check but never learn in a
# reusable form.
# --------------------------------------------------------------------------


def new_token(nbytes: int = 32) -> str:
    """A random bearer token (invitation, session cookie), base64-encoded."""
    nbytes = _require_int(nbytes, "nbytes")
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
    data = _utf8(token, "token", max_chars=_MAX_TOKEN_CHARS)
    if not data:
        raise InvalidInput("token must not be empty")
    return _p.blake2b(LABEL_SERVER_TOKEN + data, digest_size=KEY_BYTES)


def fake_salt(server_secret: bytes, name: str) -> bytes:
    """A stable salt to answer for an unknown volunteer name.

    Keyed with a server secret so nobody can predict it (and so tell fake from
    real salts), and a function of the name so that asking twice gives the
    same answer, as it would for a real volunteer.
    """
    secret = _require_bytes(server_secret, None, "server_secret")
    if not KEY_BYTES <= len(secret) <= _p.BLAKE2B_KEY_BYTES_MAX:
        raise InvalidInput(f"server_secret must be {KEY_BYTES} to {_p.BLAKE2B_KEY_BYTES_MAX} bytes")
    data = _nfc_utf8(name, "name", max_chars=_MAX_NAME_CHARS)
    return _p.blake2b(LABEL_FAKE_SALT + data, key=secret, digest_size=SALT_BYTES)


def hash_auth_key(auth_key: bytes) -> str:
    """argon2-cffi (Argon2id) PHC string of a volunteer's auth key, for storage.

    Light parameters (t=2, m=19 MiB, p=1) suffice: the auth key is a 256-bit
    value produced by a >= 64 MiB Argon2id in the browser, so there is nothing
    to guess; this hash only stops a database thief from logging in with the
    stored value. The slow, memory-hard work is done once, in the browser.
    """
    key = _require_bytes(auth_key, KEY_BYTES, "auth_key")
    return _p.password_hash(key)


def verify_auth_key(stored: str, auth_key: bytes) -> bool:
    """True iff ``auth_key`` matches ``stored``; False on mismatch or a malformed hash."""
    key = _require_bytes(auth_key, KEY_BYTES, "auth_key")
    if not isinstance(stored, str):
        return False
    return _p.password_verify(stored, key)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings in time independent of their contents."""
    return _p.constant_time_equal(_require_bytes(a, None, "a"), _require_bytes(b, None, "b"))
