"""PROTOCOL.md section 4, Wrapped identity: the 105-byte blob the server stores.

An identity's two secrets, encrypted with XChaCha20-Poly1305 under the
wrapping key (section 3), with both public keys bound as associated data.
The server stores the blob and can check only its length and version byte;
``check_public_key`` is the size check it runs on the public keys (section 7).
"""

from __future__ import annotations

from . import _primitives as _p
from ._checks import require_bytes
from .errors import CryptoError, DecryptionFailed, InvalidInput
from .labels import LABEL_IDENTITY_WRAP
from .params import KEY_BYTES, PUBLIC_KEY_BYTES
from .volunteer import Identity

WRAP_VERSION = 1
_SECRETS_BYTES = 2 * KEY_BYTES  # x25519_secret || ed25519_seed
_WRAP_HEADER_BYTES = 1 + _p.AEAD_NONCE_BYTES
WRAPPED_IDENTITY_BYTES = _WRAP_HEADER_BYTES + _SECRETS_BYTES + _p.AEAD_TAG_BYTES  # 105


def check_public_key(public_key: bytes) -> bytes:
    """Return ``public_key`` (as bytes) if it is 32 bytes; raise InvalidInput otherwise."""
    return require_bytes(public_key, PUBLIC_KEY_BYTES, "public key")


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
    key = require_bytes(wrapping_key, KEY_BYTES, "wrapping_key")
    if not isinstance(identity, Identity):
        raise InvalidInput("identity must be an Identity")
    if nonce is None:
        nonce = _p.random_bytes(_p.AEAD_NONCE_BYTES)
    nonce = require_bytes(nonce, _p.AEAD_NONCE_BYTES, "nonce")
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
    key = require_bytes(wrapping_key, KEY_BYTES, "wrapping_key")
    blob = require_bytes(blob, None, "wrapped identity")
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
