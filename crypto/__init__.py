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
from .errors import BadSignature, CryptoError, DecryptionFailed, InvalidInput, InvalidToken
from .labels import (
    LABEL_CHAT_AD,
    LABEL_CHAT_CHAIN_KEY,
    LABEL_CHAT_MESSAGE_KEY,
    LABEL_CHAT_LINK,
    LABEL_CHAT_OFFER,
    LABEL_FAKE_SALT,
    LABEL_IDENTITY_WRAP,
    LABEL_MAIL_AD,
    LABEL_MAIL_ED25519,
    LABEL_MAIL_KEY_CERT,
    LABEL_MAIL_LOOKUP,
    LABEL_MAIL_LOOKUP_HASH,
    LABEL_MAIL_NONCE,
    LABEL_MAIL_SALT,
    LABEL_MAIL_SIGNATURE,
    LABEL_MAIL_X25519,
    LABEL_POW,
    LABEL_SERVER_TOKEN,
    LABEL_VOLUNTEER_AUTH,
    LABEL_VOLUNTEER_WRAP,
)

__all__ = [
    # errors
    "CryptoError",
    "InvalidInput",
    "InvalidToken",
    "DecryptionFailed",
    "BadSignature",
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
    "MAX_SAFE_INTEGER",
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
    # chat
    "CHAT_ID_BYTES",
    "SIGNATURE_BYTES",
    "MAX_CHAT_CONTENT",
    "MAX_CHAT_SEQ",
    "MAX_CHAT_CIPHERTEXT_BYTES",
    "MAX_CHAT_CIPHERTEXT_B64",
    "ChatKeyPair",
    "new_chat_keypair",
    "chat_keypair_from_secret",
    "new_chat_id",
    "sign_chat_offer",
    "verify_chat_offer",
    "LINK_INVITER",
    "LINK_JOINER",
    "sign_link_key",
    "verify_link_key",
    "check_chat_frame",
    "check_chat_ciphertext_b64",
    "ChatSession",
    # proof-of-work
    "POW_NONCE_BYTES",
    "POW_MIN_CHALLENGE_BYTES",
    "POW_MAX_CHALLENGE_BYTES",
    "POW_MAX_BITS",
    "new_pow_challenge",
    "pow_check",
    "pow_solve",
    # mail: return token
    "MAIL_TOKEN_ALPHABET",
    "MAIL_TOKEN_SYMBOLS",
    "MAIL_TOKEN_DATA_SYMBOLS",
    "MAIL_TOKEN_CHECK_MODULUS",
    "MAIL_TOKEN_RANDOM_BYTES",
    "parse_token",
    "format_token",
    "new_token_code",
    "token_code_from_bytes",
    # mail: keys
    "Mailbox",
    "derive_mailbox",
    "mailbox_lookup_hash",
    "sign_key_certificate",
    "verify_key_certificate",
    # mail: messages
    "MAIL_THREAD_ID_BYTES",
    "MAIL_VERSION",
    "MAIL_WRAP_BYTES",
    "MAX_MAIL_CONTENT",
    "MAX_MAIL_SEQ",
    "MIN_MAIL_BODY_BYTES",
    "MAX_MAIL_BODY_BYTES",
    "MAIL_BODY_LENGTHS",
    "AUTHOR_SEEKER",
    "AUTHOR_VOLUNTEER",
    "SealedMail",
    "new_mail_thread_id",
    "seal_mail",
    "open_mail",
    "verify_mail_signature",
    "rewrap_mail_key",
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

# Integers (sequence numbers, counts, ids) travel as JSON numbers; 2**53 - 1 is the
# largest integer a browser reads exactly (JavaScript's Number.MAX_SAFE_INTEGER), so
# every integer field of the protocol stops there. The one place this number is written.
MAX_SAFE_INTEGER = 2**53 - 1

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
# Chat: ephemeral key agreement, a signed offer, and a per-message symmetric
# ratchet under XChaCha20-Poly1305 (PROTOCOL.md section 10).
# --------------------------------------------------------------------------

CHAT_ID_BYTES = 16
SIGNATURE_BYTES = 64
MAX_CHAT_CONTENT = 8192
# Sequence numbers travel as JSON numbers: both sides stop at the largest integer a
# browser reads exactly (no chat gets near it).
MAX_CHAT_SEQ = MAX_SAFE_INTEGER
_CHAT_LENGTH_BYTES = 2
_CHAT_PAD_BLOCK = 256
_CHAT_SEQ_BYTES = 8
_DIR_SEEKER_TO_VOLUNTEER = 0x01
_DIR_VOLUNTEER_TO_SEEKER = 0x02


def _chat_padded_size(content_length: int) -> int:
    # The smallest multiple of the block that holds the length field and the
    # content: the server learns only the bucket, not the exact length.
    needed = _CHAT_LENGTH_BYTES + content_length
    return -(-needed // _CHAT_PAD_BLOCK) * _CHAT_PAD_BLOCK


_MAX_CHAT_PADDED = _chat_padded_size(MAX_CHAT_CONTENT)  # 8448
MAX_CHAT_CIPHERTEXT_BYTES = _MAX_CHAT_PADDED + _p.AEAD_TAG_BYTES  # 8464
_MIN_CHAT_CIPHERTEXT_BYTES = _CHAT_PAD_BLOCK + _p.AEAD_TAG_BYTES  # 272
# The relay sees `ct` as a string (10.8): the base64 lengths of 256·k + 16 bytes, k = 1..33.
_CHAT_CIPHERTEXT_B64_LENGTHS = frozenset(
    _b64_len(n) for n in range(_MIN_CHAT_CIPHERTEXT_BYTES, MAX_CHAT_CIPHERTEXT_BYTES + 1, _CHAT_PAD_BLOCK))
MAX_CHAT_CIPHERTEXT_B64 = _b64_len(MAX_CHAT_CIPHERTEXT_BYTES)  # 11286

if SIGNATURE_BYTES != _p.ED25519_SIGNATURE_BYTES or _p.KX_SESSION_KEY_BYTES != KEY_BYTES:
    raise ImportError("libsodium sizes differ from the protocol's; refusing to load")


@dataclass(frozen=True)
class ChatKeyPair:
    """An ephemeral X25519 key pair for one chat (``crypto_kx``).

    Construction checks that ``public`` belongs to ``secret``; the secret is
    hidden from ``repr``. Make a new one for every chat and let it go when the
    session is built: forward secrecy of the chat depends on it being gone.
    """

    public: bytes
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        public = _require_bytes(self.public, PUBLIC_KEY_BYTES, "chat public key")
        secret = _require_bytes(self.secret, KEY_BYTES, "chat secret key")
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "secret", secret)
        if not _p.constant_time_equal(_p.x25519_public_from_secret(secret), public):
            raise InvalidInput("chat public key does not belong to its secret key")


def new_chat_keypair() -> ChatKeyPair:
    """A fresh random ephemeral key pair (libsodium ``crypto_kx_keypair``)."""
    public, secret = _p.kx_keypair()
    return ChatKeyPair(public=public, secret=secret)


def chat_keypair_from_secret(secret: bytes) -> ChatKeyPair:
    """The key pair of a given 32-byte secret, as ``crypto_kx_keypair`` makes it.

    For test vectors. ``crypto_kx_keypair`` is random secret + X25519 base
    point multiplication, so this is that pair. (``crypto_kx_seed_keypair``
    would hash the seed first and give a different pair: not what we want.)
    """
    secret = _require_bytes(secret, KEY_BYTES, "chat secret key")
    return ChatKeyPair(public=_p.x25519_public_from_secret(secret), secret=secret)


def new_chat_id() -> bytes:
    """A fresh random 16-byte chat id (chosen by the server when a chat is queued)."""
    return _p.random_bytes(CHAT_ID_BYTES)


def _chat_offer_message(chat_id: bytes, seeker_public: bytes, volunteer_public: bytes) -> bytes:
    chat = _require_bytes(chat_id, CHAT_ID_BYTES, "chat_id")
    seeker = _require_bytes(seeker_public, PUBLIC_KEY_BYTES, "seeker_public")
    volunteer = _require_bytes(volunteer_public, PUBLIC_KEY_BYTES, "volunteer_public")
    # Fixed-size fields after a label that is no other label's prefix: the
    # message has exactly one parse. The help-seeker's key is included so the
    # server cannot pass this offer to anyone else, or give the volunteer a key
    # of its own (man in the middle) and forward the signature.
    return LABEL_CHAT_OFFER + chat + seeker + volunteer


def sign_chat_offer(identity: Identity, chat_id: bytes, seeker_public: bytes, volunteer_public: bytes) -> bytes:
    """The volunteer's detached Ed25519 signature over its ephemeral key for this chat."""
    if not isinstance(identity, Identity):
        raise InvalidInput("identity must be an Identity")
    message = _chat_offer_message(chat_id, seeker_public, volunteer_public)
    return _p.ed25519_sign_detached(identity.ed25519_seed, message)


def verify_chat_offer(
    ed25519_public: bytes, chat_id: bytes, seeker_public: bytes, volunteer_public: bytes, signature: bytes
) -> None:
    """Check a chat offer; return None or raise :class:`BadSignature`.

    Raises :class:`InvalidInput` for wrong sizes (checked first).
    """
    key = _require_bytes(ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
    message = _chat_offer_message(chat_id, seeker_public, volunteer_public)
    sig = _require_bytes(signature, SIGNATURE_BYTES, "signature")
    if not _p.ed25519_verify_detached(key, message, sig):
        raise BadSignature("the chat offer is not signed by this volunteer for this chat")


LINK_INVITER, LINK_JOINER = 1, 2  # the roles of the two ends of a staff link (PROTOCOL.md 10.11)


def _link_message(link_id: bytes, role: int, own_public: bytes, peer_public: bytes | None) -> bytes:
    link = _require_bytes(link_id, CHAT_ID_BYTES, "link_id")
    if role not in (LINK_INVITER, LINK_JOINER) or isinstance(role, bool):
        raise InvalidInput("role must be LINK_INVITER or LINK_JOINER")
    own = _require_bytes(own_public, PUBLIC_KEY_BYTES, "own_public")
    if role == LINK_INVITER:
        if peer_public is not None:
            raise InvalidInput("the inviter signs before it knows the joiner's key: peer_public must be None")
        peer = bytes(PUBLIC_KEY_BYTES)
    else:
        peer = _require_bytes(peer_public, PUBLIC_KEY_BYTES, "peer_public")
    # Fixed-size fields after a label that is no other label's prefix: one parse only.
    return LABEL_CHAT_LINK + link + bytes([role]) + own + peer


def sign_link_key(identity: Identity, link_id: bytes, role: int, own_public: bytes,
                  peer_public: bytes | None = None) -> bytes:
    """A staff member's detached signature over its ephemeral key for one link between two staff pages.

    The inviter signs (link id, its key); the joiner signs (link id, its key, the inviter's key).
    """
    if not isinstance(identity, Identity):
        raise InvalidInput("identity must be an Identity")
    return _p.ed25519_sign_detached(identity.ed25519_seed, _link_message(link_id, role, own_public, peer_public))


def verify_link_key(ed25519_public: bytes, link_id: bytes, role: int, own_public: bytes,
                    peer_public: bytes | None, signature: bytes) -> None:
    """Check a link key signature; return None or raise :class:`BadSignature` (:class:`InvalidInput` for sizes)."""
    key = _require_bytes(ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
    message = _link_message(link_id, role, own_public, peer_public)
    sig = _require_bytes(signature, SIGNATURE_BYTES, "signature")
    if not _p.ed25519_verify_detached(key, message, sig):
        raise BadSignature("the link key is not signed by this staff member for this link")


def _chat_seq(seq: object) -> int:
    seq = _require_int(seq, "seq")
    if not 1 <= seq <= MAX_CHAT_SEQ:
        raise InvalidInput(f"seq must be between 1 and {MAX_CHAT_SEQ}")
    return seq


def _chat_ciphertext(ciphertext: object) -> bytes:
    ct = _require_bytes(ciphertext, None, "ciphertext")
    body = len(ct) - _p.AEAD_TAG_BYTES
    if not (_MIN_CHAT_CIPHERTEXT_BYTES <= len(ct) <= MAX_CHAT_CIPHERTEXT_BYTES and body % _CHAT_PAD_BLOCK == 0):
        raise InvalidInput(
            f"chat ciphertext must be a multiple of {_CHAT_PAD_BLOCK} bytes plus a {_p.AEAD_TAG_BYTES}-byte tag, "
            f"{_MIN_CHAT_CIPHERTEXT_BYTES} to {MAX_CHAT_CIPHERTEXT_BYTES} bytes; got {len(ct)}"
        )
    return ct


def check_chat_frame(chat_id: bytes, seq: int, ciphertext: bytes) -> None:
    """Syntactic check of a relayed chat frame; needs no key.

    For the server: it can refuse a malformed frame (wrong chat id size, seq
    out of range, a ciphertext whose size no sender can produce) before
    relaying it. It cannot check anything else, by design.
    """
    _require_bytes(chat_id, CHAT_ID_BYTES, "chat_id")
    _chat_seq(seq)
    _chat_ciphertext(ciphertext)


def check_chat_ciphertext_b64(text: object) -> None:
    """The relay's check of a frame's ``ct`` string (PROTOCOL.md 10.8); needs no key.

    Raises :class:`InvalidInput` unless ``text`` is canonical section-1 base64
    (:func:`b64decode`'s rules) of 256·k + 16 bytes with 1 ≤ k ≤ 33. The length
    of the string is checked before anything is decoded. The server relays the
    string itself; the decoded bytes are only looked at for their size.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"ct must be a str, not {type(text).__name__}")
    if len(text) not in _CHAT_CIPHERTEXT_B64_LENGTHS:
        raise InvalidInput(f"ct must be base64 of 256*k + 16 bytes, at most {MAX_CHAT_CIPHERTEXT_B64} characters")
    _chat_ciphertext(b64decode(text))


def _chat_pad(content: bytes) -> bytes:
    size = _chat_padded_size(len(content))
    return len(content).to_bytes(_CHAT_LENGTH_BYTES, "big") + content + bytes(size - _CHAT_LENGTH_BYTES - len(content))


def _chat_unpad(padded: bytes, max_content: int = MAX_CHAT_CONTENT, what: str = "chat message") -> bytes:
    # Only a holder of the message key can produce an authenticated plaintext,
    # so these checks guard against a buggy or hostile peer, not the server.
    # Exactly one padded form per content: anything else is refused.
    # (Mail uses the same padding with a larger maximum, section 12.)
    length = int.from_bytes(padded[:_CHAT_LENGTH_BYTES], "big")
    if length > max_content or _chat_padded_size(length) != len(padded):
        raise DecryptionFailed(f"{what} has a malformed length field")
    end = _CHAT_LENGTH_BYTES + length
    if any(padded[end:]):
        raise DecryptionFailed(f"{what} padding is not all zeros")
    return padded[_CHAT_LENGTH_BYTES:end]


def _chat_nonce(seq: int) -> bytes:
    # A counter nonce. Each message key encrypts exactly one message, so any
    # fixed nonce would be safe; the sequence number costs nothing and would
    # still keep nonces distinct if a key were ever reused by mistake.
    return seq.to_bytes(_CHAT_SEQ_BYTES, "big") + bytes(_p.AEAD_NONCE_BYTES - _CHAT_SEQ_BYTES)


def _chat_ad(chat_id: bytes, direction: int, seq: int) -> bytes:
    # Binds the ciphertext to its chat, direction and position. The keys
    # already differ per chat and direction; the AD makes a mix-up fail even if
    # that were ever not so, and makes the relay's "seq" field authenticated.
    return LABEL_CHAT_AD + chat_id + bytes([direction]) + seq.to_bytes(_CHAT_SEQ_BYTES, "big")


def _chat_ratchet(chain: bytes) -> tuple[bytes, bytes]:
    # (message key, next chain key). Both are one-way functions of the chain
    # key under distinct labels: a later chain key reveals no earlier one
    # (forward secrecy within the chat), and a message key reveals no chain key.
    return (
        _p.blake2b(LABEL_CHAT_MESSAGE_KEY, key=chain, digest_size=KEY_BYTES),
        _p.blake2b(LABEL_CHAT_CHAIN_KEY, key=chain, digest_size=KEY_BYTES),
    )


class ChatSession:
    """One side of an end-to-end encrypted chat.

    Build it with :meth:`for_seeker` or :meth:`for_volunteer`. ``seal`` gives
    the next (seq, ciphertext) to send; ``open`` accepts only the next seq of
    the other direction and raises without changing any state otherwise.

    Python cannot wipe ``bytes``: chain keys are replaced, not zeroed. The
    browser (``web/js/crypto.js``) zeroes them; this class exists for tests,
    vectors and tools.
    """

    __slots__ = ("_chat_id", "_tx_direction", "_rx_direction", "_tx_chain", "_rx_chain", "_sent", "_received")

    def __init__(self, chat_id: bytes, own: ChatKeyPair, peer_public: bytes, *, role: str) -> None:
        chat = _require_bytes(chat_id, CHAT_ID_BYTES, "chat_id")
        if not isinstance(own, ChatKeyPair):
            raise InvalidInput("own must be a ChatKeyPair")
        peer = _require_bytes(peer_public, PUBLIC_KEY_BYTES, "peer public key")
        if _p.constant_time_equal(peer, own.public):
            raise InvalidInput("peer public key is our own public key")
        if role == "seeker":
            # The help-seeker is the crypto_kx client: its tx is direction 1.
            rx, tx = _p.kx_client_session_keys(own.public, own.secret, peer)
            self._tx_direction, self._rx_direction = _DIR_SEEKER_TO_VOLUNTEER, _DIR_VOLUNTEER_TO_SEEKER
        elif role == "volunteer":
            rx, tx = _p.kx_server_session_keys(own.public, own.secret, peer)
            self._tx_direction, self._rx_direction = _DIR_VOLUNTEER_TO_SEEKER, _DIR_SEEKER_TO_VOLUNTEER
        else:
            raise InvalidInput("role must be 'seeker' or 'volunteer'")
        self._chat_id = chat
        self._tx_chain: bytes | None = tx
        self._rx_chain: bytes | None = rx
        self._sent = 0
        self._received = 0

    @classmethod
    def for_seeker(cls, chat_id: bytes, own: ChatKeyPair, volunteer_public: bytes) -> ChatSession:
        """The help-seeker's side (crypto_kx client). Verify the offer first."""
        return cls(chat_id, own, volunteer_public, role="seeker")

    @classmethod
    def for_volunteer(cls, chat_id: bytes, own: ChatKeyPair, seeker_public: bytes) -> ChatSession:
        """The volunteer's side (crypto_kx server)."""
        return cls(chat_id, own, seeker_public, role="volunteer")

    @property
    def sent(self) -> int:
        """Sequence number of the last message sealed (0 before the first)."""
        return self._sent

    @property
    def received(self) -> int:
        """Sequence number of the last message opened (0 before the first)."""
        return self._received

    def __repr__(self) -> str:
        return f"ChatSession(sent={self._sent}, received={self._received})"

    def seal(self, content: bytes) -> tuple[int, bytes]:
        """Encrypt the next message: returns (seq, ciphertext) for the relay frame."""
        data = _require_bytes(content, None, "content")
        if len(data) > MAX_CHAT_CONTENT:
            raise InvalidInput(f"chat messages are at most {MAX_CHAT_CONTENT} bytes, got {len(data)}")
        if self._tx_chain is None:
            raise CryptoError("this chat session was wiped")
        if self._sent >= MAX_CHAT_SEQ:
            raise CryptoError("this chat has reached its last sequence number")
        seq = self._sent + 1
        message_key, next_chain = _chat_ratchet(self._tx_chain)
        ciphertext = _p.aead_encrypt(
            message_key, _chat_nonce(seq), _chat_pad(data), _chat_ad(self._chat_id, self._tx_direction, seq)
        )
        self._tx_chain, self._sent = next_chain, seq
        return seq, ciphertext

    def open(self, seq: int, ciphertext: bytes) -> bytes:
        """Decrypt the next message of the other direction; returns its content.

        Raises :class:`InvalidInput` for a seq out of range or a ciphertext of
        impossible size, and :class:`DecryptionFailed` for any seq but
        ``received + 1`` (replay, reordering, a gap), a failed tag (tampering,
        another chat, a reflected frame) or malformed padding. A failure
        changes nothing: the same session still opens the right next frame.
        """
        seq = _chat_seq(seq)
        ct = _chat_ciphertext(ciphertext)
        if self._rx_chain is None:
            raise CryptoError("this chat session was wiped")
        if seq != self._received + 1:
            raise DecryptionFailed(f"expected chat message {self._received + 1}, got {seq}")
        message_key, next_chain = _chat_ratchet(self._rx_chain)
        padded = _p.aead_decrypt(message_key, _chat_nonce(seq), ct, _chat_ad(self._chat_id, self._rx_direction, seq))
        content = _chat_unpad(padded)
        # Commit only after everything succeeded.
        self._rx_chain, self._received = next_chain, seq
        return content

    def wipe(self) -> None:
        """Forget both chain keys; the session can no longer seal or open."""
        self._tx_chain = None
        self._rx_chain = None


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


# --------------------------------------------------------------------------
# Proof-of-work: a small cost per chat request or mail submission, so that a
# flood costs the sender CPU time (PROTOCOL.md section 11).
# --------------------------------------------------------------------------

POW_NONCE_BYTES = 8
POW_MIN_CHALLENGE_BYTES = 16
POW_MAX_CHALLENGE_BYTES = 64
POW_MAX_BITS = 32


def new_pow_challenge(nbytes: int = 32) -> bytes:
    """A fresh random challenge for :func:`pow_check` (the server keeps it, single use)."""
    nbytes = _require_int(nbytes, "nbytes")
    if not POW_MIN_CHALLENGE_BYTES <= nbytes <= POW_MAX_CHALLENGE_BYTES:
        raise InvalidInput(f"challenges must be {POW_MIN_CHALLENGE_BYTES} to {POW_MAX_CHALLENGE_BYTES} bytes")
    return _p.random_bytes(nbytes)


def _pow_params(challenge: object, bits: object) -> tuple[bytes, int]:
    data = _require_bytes(challenge, None, "challenge")
    if not POW_MIN_CHALLENGE_BYTES <= len(data) <= POW_MAX_CHALLENGE_BYTES:
        raise InvalidInput(f"challenge must be {POW_MIN_CHALLENGE_BYTES} to {POW_MAX_CHALLENGE_BYTES} bytes")
    bits = _require_int(bits, "bits")
    if not 0 <= bits <= POW_MAX_BITS:
        raise InvalidInput(f"bits must be between 0 and {POW_MAX_BITS}")
    return data, bits


def _has_leading_zero_bits(digest: bytes, bits: int) -> bool:
    full, rest = divmod(bits, 8)
    if any(digest[:full]):
        return False
    return rest == 0 or digest[full] >> (8 - rest) == 0


def pow_check(challenge: bytes, nonce: bytes, bits: int) -> bool:
    """True iff BLAKE2b-256(LABEL_POW || challenge || nonce) starts with ``bits`` zero bits.

    Raises :class:`InvalidInput` for a nonce that is not exactly 8 bytes, a
    challenge outside 16..64 bytes or ``bits`` outside 0..32. It says nothing
    about whether the challenge was issued, is fresh or was used before: that
    is the server's bookkeeping.
    """
    data, bits = _pow_params(challenge, bits)
    n = _require_bytes(nonce, POW_NONCE_BYTES, "nonce")
    return _has_leading_zero_bits(_p.blake2b(LABEL_POW + data + n, digest_size=KEY_BYTES), bits)


def pow_solve(challenge: bytes, bits: int) -> bytes:
    """The first nonce, counting up from 0 (8 bytes, big-endian), that passes :func:`pow_check`.

    For tests and benchmarks: the browser's ``solvePow`` counts the same way,
    so both find the same nonce. Expect about ``2**bits`` hashes.
    """
    data, bits = _pow_params(challenge, bits)
    prefix = LABEL_POW + data
    for counter in range(1 << (8 * POW_NONCE_BYTES)):
        nonce = counter.to_bytes(POW_NONCE_BYTES, "big")
        if _has_leading_zero_bits(_p.blake2b(prefix + nonce, digest_size=KEY_BYTES), bits):
            return nonce
    raise CryptoError("no proof-of-work nonce exists")  # pragma: no cover - 2**64 hashes


# --------------------------------------------------------------------------
# Mail (PROTOCOL.md section 12): a return token the help-seeker types, the
# mailbox keys derived from it, volunteer key certificates, and messages that
# exactly the help-seeker and the assigned volunteer can read.
# --------------------------------------------------------------------------

# Crockford's base32: digits and upper-case letters without I, L, O and U, so
# that no two symbols look alike and a read-aloud token has no vowel-free
# ambiguity; O, I and L are read as the digits they resemble.
MAIL_TOKEN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAIL_TOKEN_DATA_SYMBOLS = 18  # 90 random bits
MAIL_TOKEN_SYMBOLS = 20  # data + 2 check symbols
MAIL_TOKEN_CHECK_MODULUS = 1021  # prime, > 32 and < 32**2 (see _token_check)
MAIL_TOKEN_RANDOM_BYTES = 12  # 96 random bits, of which the low 90 are used
_TOKEN_GROUP = 4
_TOKEN_DATA_BITS = 5 * MAIL_TOKEN_DATA_SYMBOLS
# Cap before looking at hostile or pasted input: a token with generous
# spacing is under 40 characters.
_MAX_TOKEN_INPUT_CHARS = 200
# Ignored between symbols: what people type or paste between groups. Spaces
# and line breaks (also no-break spaces from formatted mail), ASCII and
# Unicode dashes (phones turn "-" into dashes), dots and underscores.
_TOKEN_SEPARATORS = frozenset(" \t\r\n\u00a0-\u2010\u2011\u2012\u2013\u2014\u2015\u2212._")


def _token_symbol_values() -> dict[str, int]:
    values = {}
    for value, symbol in enumerate(MAIL_TOKEN_ALPHABET):
        values[symbol] = value
        values[symbol.lower()] = value
    # Crockford's decoding of the look-alikes. Only ASCII is case-folded:
    # Unicode case mapping differs between Python and JavaScript.
    for symbol, value in (("O", 0), ("I", 1), ("L", 1)):
        values[symbol] = value
        values[symbol.lower()] = value
    return values


_TOKEN_VALUES = _token_symbol_values()
if len(MAIL_TOKEN_ALPHABET) != 32 or len(set(MAIL_TOKEN_ALPHABET)) != 32:
    raise ImportError("the token alphabet must have 32 distinct symbols")


def _token_check(data_values: list[int]) -> int:
    # N mod 1021, N the data symbols read as one base-32 number. A typo in one
    # symbol changes N by d * 32**k with 0 < |d| < 32; swapping neighbours a, b
    # changes it by (a - b) * 31 * 32**k. 1021 is a prime that divides none of
    # these factors, so the remainder always changes (PROTOCOL.md 12.1).
    remainder = 0
    for value in data_values:
        remainder = (remainder * 32 + value) % MAIL_TOKEN_CHECK_MODULUS
    return remainder


def _token_with_check(data_values: list[int]) -> str:
    check = _token_check(data_values)
    values = data_values + [check // 32, check % 32]
    return "".join(MAIL_TOKEN_ALPHABET[v] for v in values)


def parse_token(text: str) -> str:
    """The canonical 20-symbol token of what a person typed, or :class:`InvalidToken`.

    Forgiving where it is safe: spaces, line breaks, dashes, dots and
    underscores are ignored, lower case is read as upper case, and O, I, L
    are read as 0, 1, 1. Strict where it matters: any other character
    (reason ``"character"``), not exactly 20 symbols (``"length"``) or
    check symbols that do not match (``"check"``) are refused before any key
    is derived or request made.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"token must be a str, not {type(text).__name__}")
    if len(text) > _MAX_TOKEN_INPUT_CHARS:
        raise InvalidToken("length", "this is much longer than a token")
    values = []
    for char in text:
        if char in _TOKEN_SEPARATORS:
            continue
        value = _TOKEN_VALUES.get(char)
        if value is None:
            raise InvalidToken("character", "a token holds only digits and the letters A-Z without U")
        values.append(value)
    if len(values) != MAIL_TOKEN_SYMBOLS:
        raise InvalidToken("length", f"a token has {MAIL_TOKEN_SYMBOLS} symbols, this has {len(values)}")
    data, check = values[:MAIL_TOKEN_DATA_SYMBOLS], values[MAIL_TOKEN_DATA_SYMBOLS:]
    if _token_check(data) != check[0] * 32 + check[1]:
        raise InvalidToken("check", "the token's check symbols do not match: a symbol is mistyped")
    return "".join(MAIL_TOKEN_ALPHABET[v] for v in values)


def format_token(token: str) -> str:
    """``XXXX-XXXX-XXXX-XXXX-XXXX``: how a token is shown and read aloud.

    Accepts anything :func:`parse_token` accepts (and raises what it raises).
    """
    canonical = parse_token(token)
    return "-".join(canonical[i : i + _TOKEN_GROUP] for i in range(0, MAIL_TOKEN_SYMBOLS, _TOKEN_GROUP))


def token_code_from_bytes(random12: bytes) -> str:
    """The canonical token of 12 random bytes: the low 90 of their 96 bits, then the check.

    For test vectors and :func:`new_token_code`. Taking whole bits (not
    ``value % 32**18``) keeps every token exactly equally likely.
    """
    data = _require_bytes(random12, MAIL_TOKEN_RANDOM_BYTES, "token randomness")
    number = int.from_bytes(data, "big") & ((1 << _TOKEN_DATA_BITS) - 1)
    values = [(number >> (5 * (MAIL_TOKEN_DATA_SYMBOLS - 1 - i))) & 31 for i in range(MAIL_TOKEN_DATA_SYMBOLS)]
    return _token_with_check(values)


def new_token_code() -> str:
    """A fresh random return token (canonical, 20 symbols; show it with :func:`format_token`).

    90 random bits from libsodium's CSPRNG. The mail gateway makes one per
    first e-mail; the help-seeker's page makes its own (``newTokenCode``).
    """
    return token_code_from_bytes(_p.random_bytes(MAIL_TOKEN_RANDOM_BYTES))


@dataclass(frozen=True)
class Mailbox:
    """The keys a help-seeker's token opens.

    ``lookup_key`` is presented to the server to find the thread (which stores
    only :func:`mailbox_lookup_hash` of it); the X25519 key pair receives the
    wrapped message keys; the Ed25519 key pair signs the help-seeker's
    messages. Construction checks that the public keys belong to the secrets;
    the secrets and the lookup key are hidden from ``repr``.
    """

    lookup_key: bytes = field(repr=False)
    x25519_secret: bytes = field(repr=False)
    x25519_public: bytes
    ed25519_seed: bytes = field(repr=False)
    ed25519_public: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "lookup_key", _require_bytes(self.lookup_key, KEY_BYTES, "lookup_key"))
        # The four key fields are checked exactly as an Identity's are.
        keys = Identity(self.x25519_secret, self.x25519_public, self.ed25519_seed, self.ed25519_public)
        object.__setattr__(self, "x25519_secret", keys.x25519_secret)
        object.__setattr__(self, "x25519_public", keys.x25519_public)
        object.__setattr__(self, "ed25519_seed", keys.ed25519_seed)
        object.__setattr__(self, "ed25519_public", keys.ed25519_public)


_MAX_DEPLOYMENT_ID_CHARS = 256


def _mailbox_salt(deployment_id: str) -> bytes:
    # Public and the same for every mailbox of a deployment: the help-seeker
    # has only the token, so there is nowhere to keep a per-mailbox salt. It
    # still stops a table computed for one deployment from fitting another.
    data = _utf8(deployment_id, "deployment_id", max_chars=_MAX_DEPLOYMENT_ID_CHARS)
    if not data:
        raise InvalidInput("deployment_id must not be empty")
    return _p.blake2b(LABEL_MAIL_SALT + data, digest_size=SALT_BYTES)


def derive_mailbox(token: str, deployment_id: str, params: KdfParams) -> Mailbox:
    """Token -> Argon2id master key -> lookup key and the mailbox's two key pairs.

    The token is parsed first (:func:`parse_token`; a typo raises
    :class:`InvalidToken`), so any accepted spelling gives the same keys.
    ``deployment_id`` and ``params`` come from the deployment's configuration
    and MUST NOT change while mailboxes exist: other values give other keys.
    """
    canonical = parse_token(token)
    salt = _mailbox_salt(deployment_id)
    if not isinstance(params, KdfParams):
        raise InvalidInput("params must be a KdfParams")
    master = _p.argon2id(KEY_BYTES, canonical.encode("ascii"), salt, params.opslimit, params.memlimit)
    # Three subkeys of one master key under distinct labels: the lookup key,
    # which the server sees, reveals nothing about the two private keys.
    x_sec = _p.blake2b(LABEL_MAIL_X25519, key=master, digest_size=KEY_BYTES)
    e_seed = _p.blake2b(LABEL_MAIL_ED25519, key=master, digest_size=KEY_BYTES)
    return Mailbox(
        lookup_key=_p.blake2b(LABEL_MAIL_LOOKUP, key=master, digest_size=KEY_BYTES),
        x25519_secret=x_sec,
        x25519_public=_p.x25519_public_from_secret(x_sec),
        ed25519_seed=e_seed,
        ed25519_public=_p.ed25519_public_from_seed(e_seed),
    )


def mailbox_lookup_hash(lookup_key: bytes) -> bytes:
    """What the server stores and looks a mailbox up by: BLAKE2b-256(LABEL_MAIL_LOOKUP_HASH || lookup_key).

    Unkeyed and unsalted on purpose, like :func:`hash_token`: the lookup key
    is a 256-bit function of a 90-bit token behind Argon2id, so there is
    nothing to guess, and the hash must be stable to find the row.
    """
    key = _require_bytes(lookup_key, KEY_BYTES, "lookup_key")
    return _p.blake2b(LABEL_MAIL_LOOKUP_HASH + key, digest_size=KEY_BYTES)


def _key_holder(value: object, what: str) -> Identity | Mailbox:
    # A volunteer's Identity and a help-seeker's Mailbox both hold an X25519
    # and an Ed25519 key pair, checked consistent at construction.
    if not isinstance(value, (Identity, Mailbox)):
        raise InvalidInput(f"{what} must be an Identity or a Mailbox")
    return value


def _key_certificate_message(x25519_public: bytes) -> bytes:
    return LABEL_MAIL_KEY_CERT + _require_bytes(x25519_public, PUBLIC_KEY_BYTES, "x25519_public")


def sign_key_certificate(holder: Identity | Mailbox) -> bytes:
    """Detached Ed25519 signature (64 bytes) by ``holder`` over its own X25519 public key.

    A volunteer's page makes one at enrolment, so that pages encrypting to the
    volunteer can check that the X25519 key the server hands out is the one
    the holder of the Ed25519 identity key chose.
    """
    holder = _key_holder(holder, "holder")
    return _p.ed25519_sign_detached(holder.ed25519_seed, _key_certificate_message(holder.x25519_public))


def verify_key_certificate(ed25519_public: bytes, x25519_public: bytes, certificate: bytes) -> None:
    """Return None, or raise :class:`BadSignature` unless ``certificate`` vouches for ``x25519_public``.

    Raises :class:`InvalidInput` for wrong sizes (checked first).
    """
    key = _require_bytes(ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
    message = _key_certificate_message(x25519_public)
    cert = _require_bytes(certificate, SIGNATURE_BYTES, "certificate")
    if not _p.ed25519_verify_detached(key, message, cert):
        raise BadSignature("the key certificate does not vouch for this X25519 key")


MAIL_THREAD_ID_BYTES = 16
MAIL_VERSION = 1
MAX_MAIL_CONTENT = 32768
MAX_MAIL_SEQ = MAX_SAFE_INTEGER  # as for chat: the largest integer JSON carries exactly into JavaScript
AUTHOR_SEEKER = 1
AUTHOR_VOLUNTEER = 2
MAIL_WRAP_BYTES = KEY_BYTES + _p.BOX_SEAL_OVERHEAD_BYTES  # 80
_MAIL_HEADER_BYTES = 1 + _p.AEAD_NONCE_BYTES  # version + nonce
MIN_MAIL_BODY_BYTES = _MAIL_HEADER_BYTES + _CHAT_PAD_BLOCK + _p.AEAD_TAG_BYTES  # 297
MAX_MAIL_BODY_BYTES = _MAIL_HEADER_BYTES + _chat_padded_size(MAX_MAIL_CONTENT) + _p.AEAD_TAG_BYTES  # 33065
# Every body size a sender can produce (header + 256·k + tag): the server refuses any other.
MAIL_BODY_LENGTHS = frozenset(range(MIN_MAIL_BODY_BYTES, MAX_MAIL_BODY_BYTES + 1, _CHAT_PAD_BLOCK))

if MAIL_WRAP_BYTES != 80:
    raise ImportError("libsodium sizes differ from the protocol's; refusing to load")


@dataclass(frozen=True)
class SealedMail:
    """One sealed mail message: what the author's page sends to the server.

    ``body`` and ``signature`` are the same for both readers; ``seeker_wrap``
    and ``volunteer_wrap`` are the message key sealed to each reader.
    """

    body: bytes
    signature: bytes
    seeker_wrap: bytes
    volunteer_wrap: bytes


def new_mail_thread_id() -> bytes:
    """A fresh random 16-byte thread id (chosen by the server for a new thread)."""
    return _p.random_bytes(MAIL_THREAD_ID_BYTES)


def _mail_seq(seq: object) -> int:
    seq = _require_int(seq, "seq")
    if not 1 <= seq <= MAX_MAIL_SEQ:
        raise InvalidInput(f"seq must be between 1 and {MAX_MAIL_SEQ}")
    return seq


def _mail_author(author: object) -> int:
    author = _require_int(author, "author")
    if author not in (AUTHOR_SEEKER, AUTHOR_VOLUNTEER):
        raise InvalidInput("author must be AUTHOR_SEEKER (1) or AUTHOR_VOLUNTEER (2)")
    return author


def _mail_body(body: object) -> bytes:
    data = _require_bytes(body, None, "mail body")
    sealed = len(data) - _MAIL_HEADER_BYTES - _p.AEAD_TAG_BYTES
    if not (MIN_MAIL_BODY_BYTES <= len(data) <= MAX_MAIL_BODY_BYTES and sealed % _CHAT_PAD_BLOCK == 0):
        raise InvalidInput(
            f"mail body must be {_MAIL_HEADER_BYTES} + {_CHAT_PAD_BLOCK}*k + {_p.AEAD_TAG_BYTES} bytes, "
            f"{MIN_MAIL_BODY_BYTES} to {MAX_MAIL_BODY_BYTES}; got {len(data)}"
        )
    if data[0] != MAIL_VERSION:
        raise InvalidInput(f"unknown mail body version {data[0]}")
    return data


def _mail_position(thread_id: object, seq: object, author: object) -> bytes:
    # thread id || seq || author: fixed sizes, so exactly one parse.
    thread = _require_bytes(thread_id, MAIL_THREAD_ID_BYTES, "thread_id")
    return thread + _mail_seq(seq).to_bytes(8, "big") + bytes([_mail_author(author)])


def _mail_nonce(content_key: bytes) -> bytes:
    # Each content key encrypts exactly one message, so a nonce that is a
    # function of the key is never reused. Making it a PRF of the key turns
    # the signed body into a commitment to the key: XChaCha20-Poly1305 alone
    # is not key-committing, and without this an author could craft one body
    # that opens to different texts under two keys and wrap a different key
    # for each reader, with one valid signature.
    return _p.blake2b(LABEL_MAIL_NONCE, key=content_key, digest_size=_p.AEAD_NONCE_BYTES)


def _mail_signed_message(position: bytes, body: bytes) -> bytes:
    return LABEL_MAIL_SIGNATURE + position + _p.blake2b(body, digest_size=KEY_BYTES)


def seal_mail(
    thread_id: bytes,
    seq: int,
    author: int,
    content: bytes,
    signer: Identity | Mailbox,
    seeker_x25519_public: bytes,
    volunteer_x25519_public: bytes,
    *,
    key: bytes | None = None,
) -> SealedMail:
    """Encrypt, sign and wrap one mail message for the help-seeker and the assigned volunteer.

    ``signer`` is the author's key holder: the help-seeker's :class:`Mailbox`
    (``author=AUTHOR_SEEKER``) or the volunteer's :class:`Identity`
    (``AUTHOR_VOLUNTEER``). ``volunteer_x25519_public`` MUST have been checked
    with :func:`verify_key_certificate` first. ``key`` (the content key)
    exists only for test vectors; production callers MUST leave it out.
    """
    position = _mail_position(thread_id, seq, author)
    data = _require_bytes(content, None, "content")
    if len(data) > MAX_MAIL_CONTENT:
        raise InvalidInput(f"mail messages are at most {MAX_MAIL_CONTENT} bytes, got {len(data)}")
    signer = _key_holder(signer, "signer")
    seeker_public = _require_bytes(seeker_x25519_public, PUBLIC_KEY_BYTES, "seeker_x25519_public")
    volunteer_public = _require_bytes(volunteer_x25519_public, PUBLIC_KEY_BYTES, "volunteer_x25519_public")
    content_key = _p.random_bytes(KEY_BYTES) if key is None else _require_bytes(key, KEY_BYTES, "key")
    nonce = _mail_nonce(content_key)
    sealed = _p.aead_encrypt(content_key, nonce, _chat_pad(data), LABEL_MAIL_AD + position)
    body = bytes([MAIL_VERSION]) + nonce + sealed
    return SealedMail(
        body=body,
        signature=_p.ed25519_sign_detached(signer.ed25519_seed, _mail_signed_message(position, body)),
        seeker_wrap=_p.box_seal(content_key, seeker_public),
        volunteer_wrap=_p.box_seal(content_key, volunteer_public),
    )


def verify_mail_signature(
    thread_id: bytes, seq: int, author: int, body: bytes, signature: bytes, author_ed25519_public: bytes
) -> None:
    """Check a mail message's shape and its author's signature; return None or raise.

    :class:`InvalidInput` for a thread id, seq, author, body shape or version,
    signature or key that no honest sender produces (checked first);
    :class:`BadSignature` unless ``author_ed25519_public`` signed exactly this
    thread, position, author and body. Needs no secret: the server calls it on
    every submitted message with the key of the party that submits it.
    """
    position = _mail_position(thread_id, seq, author)
    data = _mail_body(body)
    sig = _require_bytes(signature, SIGNATURE_BYTES, "signature")
    key = _require_bytes(author_ed25519_public, PUBLIC_KEY_BYTES, "author_ed25519_public")
    if not _p.ed25519_verify_detached(key, _mail_signed_message(position, data), sig):
        raise BadSignature("the mail message is not signed by this author for this thread and position")


def _unwrap_mail_key(wrap: object, reader: Identity | Mailbox) -> bytes:
    sealed = _require_bytes(wrap, MAIL_WRAP_BYTES, "wrap")
    return _p.box_seal_open(sealed, reader.x25519_public, reader.x25519_secret)


def open_mail(
    thread_id: bytes,
    seq: int,
    author: int,
    body: bytes,
    signature: bytes,
    wrap: bytes,
    reader: Identity | Mailbox,
    author_ed25519_public: bytes,
) -> bytes:
    """Check and decrypt one mail message for ``reader``; returns its content.

    In this order: sizes (:class:`InvalidInput`), the author's signature
    (:class:`BadSignature`), the wrap (:class:`DecryptionFailed` if it is not
    for ``reader``), the key commitment in the nonce, the AEAD and the padding
    (:class:`DecryptionFailed`). Nothing is returned on any failure.
    """
    reader = _key_holder(reader, "reader")
    sealed_key = _require_bytes(wrap, MAIL_WRAP_BYTES, "wrap")
    verify_mail_signature(thread_id, seq, author, body, signature, author_ed25519_public)
    position = _mail_position(thread_id, seq, author)
    data = _mail_body(body)
    content_key = _unwrap_mail_key(sealed_key, reader)
    nonce = data[1:_MAIL_HEADER_BYTES]
    if not _p.constant_time_equal(_mail_nonce(content_key), nonce):
        # The wrap holds a key this body was not made with (a wrap of another
        # message, or one made up by whoever can seal to the reader).
        raise DecryptionFailed("the wrapped key does not belong to this message")
    padded = _p.aead_decrypt(content_key, nonce, data[_MAIL_HEADER_BYTES:], LABEL_MAIL_AD + position)
    return _chat_unpad(padded, MAX_MAIL_CONTENT, "mail message")


def rewrap_mail_key(wrap: bytes, reader: Identity | Mailbox, new_reader_x25519_public: bytes) -> bytes:
    """Unwrap a message key with ``reader``'s key and seal it to another reader (80 bytes).

    For a handover (the volunteer's page re-wraps every message of the thread
    for the colleague) and a reassignment (the help-seeker's page re-wraps for
    the new volunteer). ``new_reader_x25519_public`` MUST have been checked
    with :func:`verify_key_certificate`: this hands the thread to whoever holds
    that key. Raises :class:`DecryptionFailed` if the wrap is not for ``reader``.
    """
    reader = _key_holder(reader, "reader")
    sealed_key = _require_bytes(wrap, MAIL_WRAP_BYTES, "wrap")
    new_public = _require_bytes(new_reader_x25519_public, PUBLIC_KEY_BYTES, "new_reader_x25519_public")
    return _p.box_seal(_unwrap_mail_key(sealed_key, reader), new_public)
