"""PROTOCOL.md section 11, Proof-of-work: a small cost per chat request or mail submission.

BLAKE2b-256(LABEL_POW || challenge || nonce) must start with ``bits`` zero
bits, so that a flood costs the sender CPU time. The server issues and checks
(``new_pow_challenge``, ``pow_check``) and keeps the bookkeeping (single use,
expiry, purpose); the client solves (``pow_solve`` here, ``solvePow`` in the
browser), counting up from 0 so every implementation finds the same nonce.
"""

from __future__ import annotations

from . import _primitives as _p
from ._checks import require_bytes, require_int
from .errors import CryptoError, InvalidInput
from .labels import LABEL_POW
from .params import KEY_BYTES

POW_NONCE_BYTES = 8
POW_MIN_CHALLENGE_BYTES = 16
POW_MAX_CHALLENGE_BYTES = 64
POW_MAX_BITS = 32


def new_pow_challenge(nbytes: int = 32) -> bytes:
    """A fresh random challenge for :func:`pow_check` (the server keeps it, single use)."""
    nbytes = require_int(nbytes, "nbytes")
    if not POW_MIN_CHALLENGE_BYTES <= nbytes <= POW_MAX_CHALLENGE_BYTES:
        raise InvalidInput(f"challenges must be {POW_MIN_CHALLENGE_BYTES} to {POW_MAX_CHALLENGE_BYTES} bytes")
    return _p.random_bytes(nbytes)


def _pow_params(challenge: object, bits: object) -> tuple[bytes, int]:
    data = require_bytes(challenge, None, "challenge")
    if not POW_MIN_CHALLENGE_BYTES <= len(data) <= POW_MAX_CHALLENGE_BYTES:
        raise InvalidInput(f"challenge must be {POW_MIN_CHALLENGE_BYTES} to {POW_MAX_CHALLENGE_BYTES} bytes")
    bits = require_int(bits, "bits")
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
    n = require_bytes(nonce, POW_NONCE_BYTES, "nonce")
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
