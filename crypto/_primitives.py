"""Hazardous material: raw libsodium and argon2 primitives (PROTOCOL.md section 2, Primitives).

This module is private. It is the only place in the project that imports
``nacl`` (PyNaCl) or ``argon2`` (argon2-cffi). The functions here do exactly
one primitive each and know nothing about the protocol: they will happily
reuse a nonce, accept a key meant for something else, or derive a key from an
empty passphrase if you ask them to. Use the composed operations that
``crypto/__init__.py`` exports instead; if you need something new, add a
composed operation to the module of its PROTOCOL.md section (with a label in
``labels.py``, a rule in ``PROTOCOL.md`` and a vector in ``tests/vectors/``)
rather than importing this module from elsewhere.

Every function here translates library exceptions into the package's own
exception tree, so no ``nacl`` or ``argon2`` exception escapes the package.
"""

from __future__ import annotations

import argon2
import argon2.exceptions
import nacl.bindings
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.signing
import nacl.utils

from .errors import DecryptionFailed, InvalidInput

# libsodium's own bounds for Argon2id; anything outside fails inside libsodium,
# so we check first and give a clear message.
ARGON2ID_OPSLIMIT_MIN: int = nacl.bindings.crypto_pwhash_argon2id_OPSLIMIT_MIN
ARGON2ID_OPSLIMIT_MAX: int = nacl.bindings.crypto_pwhash_argon2id_OPSLIMIT_MAX
ARGON2ID_MEMLIMIT_MIN: int = nacl.bindings.crypto_pwhash_argon2id_MEMLIMIT_MIN
ARGON2ID_MEMLIMIT_MAX: int = nacl.bindings.crypto_pwhash_argon2id_MEMLIMIT_MAX
ARGON2ID_SALT_BYTES: int = nacl.bindings.crypto_pwhash_SALTBYTES

AEAD_KEY_BYTES: int = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
AEAD_NONCE_BYTES: int = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
AEAD_TAG_BYTES: int = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES

X25519_BYTES: int = nacl.bindings.crypto_scalarmult_BYTES
ED25519_SEED_BYTES: int = nacl.bindings.crypto_sign_SEEDBYTES
ED25519_PUBLIC_BYTES: int = nacl.bindings.crypto_sign_PUBLICKEYBYTES
ED25519_SIGNATURE_BYTES: int = nacl.bindings.crypto_sign_BYTES

KX_PUBLIC_KEY_BYTES: int = nacl.bindings.crypto_kx_PUBLIC_KEY_BYTES
KX_SECRET_KEY_BYTES: int = nacl.bindings.crypto_kx_SECRET_KEY_BYTES
KX_SESSION_KEY_BYTES: int = nacl.bindings.crypto_kx_SESSION_KEY_BYTES

BLAKE2B_KEY_BYTES_MAX: int = nacl.bindings.crypto_generichash_KEYBYTES_MAX

BOX_SEAL_OVERHEAD_BYTES: int = nacl.bindings.crypto_box_SEALBYTES  # ephemeral public key 32 + tag 16

# Parameters of the server-side argon2-cffi hash of a volunteer's auth key.
# Deliberately light (OWASP's minimum Argon2id profile): the input is not a
# password but a 256-bit BLAKE2b output of a >= 64 MiB Argon2id that the
# browser already computed, so it cannot be guessed; the server-side hash only
# has to stop a database thief from replaying stored values as login
# credentials. Heavy parameters here would only let a flood of logins exhaust
# the server's memory.
AUTH_HASH_TIME_COST = 2
AUTH_HASH_MEMORY_COST_KIB = 19456
AUTH_HASH_PARALLELISM = 1
AUTH_HASH_HASH_LEN = 32
AUTH_HASH_SALT_LEN = 16


def random_bytes(n: int) -> bytes:
    """Return ``n`` bytes from libsodium's CSPRNG."""
    return nacl.utils.random(n)


def argon2id(outlen: int, password: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    """libsodium ``crypto_pwhash`` with ``crypto_pwhash_ALG_ARGON2ID13``."""
    try:
        return nacl.bindings.crypto_pwhash_alg(
            outlen,
            password,
            salt,
            opslimit,
            memlimit,
            nacl.bindings.crypto_pwhash_ALG_ARGON2ID13,
        )
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"Argon2id rejected its parameters: {exc}") from None
    except nacl.exceptions.RuntimeError as exc:
        # libsodium fails this way when it cannot allocate memlimit bytes.
        raise InvalidInput(f"Argon2id could not run with these parameters: {exc}") from None


def blake2b(message: bytes, *, key: bytes = b"", digest_size: int = 32) -> bytes:
    """BLAKE2b (libsodium ``crypto_generichash``), keyed when ``key`` is not empty."""
    try:
        return nacl.hash.blake2b(
            message, digest_size=digest_size, key=key, encoder=nacl.encoding.RawEncoder
        )
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"BLAKE2b rejected its parameters: {exc}") from None


def aead_encrypt(key: bytes, nonce: bytes, plaintext: bytes, ad: bytes) -> bytes:
    """XChaCha20-Poly1305-IETF; returns ciphertext || 16-byte tag."""
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"AEAD rejected its parameters: {exc}") from None


def aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, ad: bytes) -> bytes:
    """XChaCha20-Poly1305-IETF; raises DecryptionFailed unless the tag verifies."""
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"AEAD rejected its parameters: {exc}") from None
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed("authentication failed: wrong key or tampered data") from None


def x25519_public_from_secret(secret: bytes) -> bytes:
    """X25519 public key of a 32-byte secret (libsodium clamps the scalar)."""
    try:
        return nacl.bindings.crypto_scalarmult_base(secret)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"X25519 rejected the secret: {exc}") from None


def ed25519_public_from_seed(seed: bytes) -> bytes:
    """Ed25519 public key of a 32-byte seed (``crypto_sign_seed_keypair``)."""
    try:
        return nacl.signing.SigningKey(seed).verify_key.encode()
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"Ed25519 rejected the seed: {exc}") from None


def ed25519_sign_detached(seed: bytes, message: bytes) -> bytes:
    """Detached 64-byte Ed25519 signature of ``message`` with the key of ``seed``."""
    try:
        return nacl.signing.SigningKey(seed).sign(message).signature
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"Ed25519 rejected the seed: {exc}") from None


def ed25519_verify_detached(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is libsodium-valid for ``message`` under ``public_key``.

    libsodium rejects non-canonical ``S``, small-order ``R`` and small-order or
    non-canonical public keys, so signatures are not malleable. Sizes are the
    caller's business; wrong sizes raise InvalidInput.
    """
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except nacl.exceptions.BadSignatureError:
        return False
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"Ed25519 rejected its input: {exc}") from None
    return True


def kx_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair for ``crypto_kx``: (public, secret).

    libsodium makes the secret with ``randombytes_buf`` and the public key
    with ``crypto_scalarmult_base``; ``x25519_public_from_secret`` therefore
    rebuilds the same pair from a stored secret.
    """
    public, secret = nacl.bindings.crypto_kx_keypair()
    return public, secret


def kx_client_session_keys(client_public: bytes, client_secret: bytes, server_public: bytes) -> tuple[bytes, bytes]:
    """``crypto_kx_client_session_keys``: (rx, tx) for the client side."""
    try:
        return nacl.bindings.crypto_kx_client_session_keys(client_public, client_secret, server_public)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"key exchange rejected its input: {exc}") from None
    except nacl.exceptions.CryptoError:
        # libsodium refuses a peer key that makes the shared secret all zero
        # (a low-order point): the peer key is unusable, not a wrong key.
        raise InvalidInput("key exchange failed: the peer public key is not usable") from None


def kx_server_session_keys(server_public: bytes, server_secret: bytes, client_public: bytes) -> tuple[bytes, bytes]:
    """``crypto_kx_server_session_keys``: (rx, tx) for the server side."""
    try:
        return nacl.bindings.crypto_kx_server_session_keys(server_public, server_secret, client_public)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"key exchange rejected its input: {exc}") from None
    except nacl.exceptions.CryptoError:
        raise InvalidInput("key exchange failed: the peer public key is not usable") from None


def box_seal(message: bytes, recipient_public: bytes) -> bytes:
    """``crypto_box_seal``: anonymous public-key encryption to ``recipient_public``.

    Output is an ephemeral X25519 public key, then the XSalsa20-Poly1305
    ciphertext and tag: ``len(message) + 48`` bytes. Random every time.
    """
    try:
        return nacl.bindings.crypto_box_seal(message, recipient_public)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"sealed box rejected its input: {exc}") from None
    except nacl.exceptions.CryptoError:
        # libsodium refuses a recipient key that makes the shared secret all
        # zero (a low-order point): nobody could open the result.
        raise InvalidInput("sealed box failed: the recipient public key is not usable") from None


def box_seal_open(sealed: bytes, recipient_public: bytes, recipient_secret: bytes) -> bytes:
    """``crypto_box_seal_open``; raises DecryptionFailed unless it authenticates."""
    try:
        return nacl.bindings.crypto_box_seal_open(sealed, recipient_public, recipient_secret)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidInput(f"sealed box rejected its input: {exc}") from None
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed("sealed box did not open: not for this key, or tampered") from None


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare without leaking the position of the first difference.

    Lengths are not secret here; a length difference returns False.
    """
    return nacl.bindings.sodium_memcmp(a, b)


def _password_hasher() -> argon2.PasswordHasher:
    # Built per call: cheap, and keeps this module free of import-time state.
    return argon2.PasswordHasher(
        time_cost=AUTH_HASH_TIME_COST,
        memory_cost=AUTH_HASH_MEMORY_COST_KIB,
        parallelism=AUTH_HASH_PARALLELISM,
        hash_len=AUTH_HASH_HASH_LEN,
        salt_len=AUTH_HASH_SALT_LEN,
        type=argon2.Type.ID,
    )


def password_hash(secret: bytes) -> str:
    """argon2-cffi PHC string (``$argon2id$v=19$...``) of ``secret``."""
    return _password_hasher().hash(secret)


def password_verify(stored: str, secret: bytes) -> bool:
    """True iff ``secret`` matches ``stored``; False on mismatch or a malformed hash."""
    try:
        return _password_hasher().verify(stored, secret)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False
