"""PROTOCOL.md section 1, Encodings: base64 and the largest integer on the wire.

Binary values travel as base64 with the URL-safe alphabet and no padding
(libsodium.js's default variant, URLSAFE_NO_PADDING). There is one canonical
string per byte string, so that two encodings of the same value can never be
told apart or compared wrongly. The text rules of the same section (NFC,
UTF-8, no lone surrogates) are in ``_checks.py``, shared by the sections that
take text.
"""

from __future__ import annotations

import base64
import binascii
import re

from ._checks import b64_length, require_bytes
from .errors import InvalidInput

# Integers (sequence numbers, counts, ids) travel as JSON numbers; 2**53 - 1 is the
# largest integer a browser reads exactly (JavaScript's Number.MAX_SAFE_INTEGER), so
# every integer field of the protocol stops there. The one place this number is written.
MAX_SAFE_INTEGER = 2**53 - 1

_B64_RE = re.compile(r"[A-Za-z0-9_-]*")


def b64encode(data: bytes) -> str:
    """URL-safe base64 without padding."""
    data = require_bytes(data, None, "data")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# The last character of an encoding whose length is 2 or 3 modulo 4 carries 4 or 2 unused bits,
# which must be zero in the canonical encoding: these are the characters for which they are.
_LAST_CANONICAL = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


def b64check(text: str) -> int:
    """The checks of :func:`b64decode`, without decoding: the number of bytes ``text`` encodes.

    For a relay that passes a string on unread and only needs to know it is canonical base64 of
    a permitted size (about seven times cheaper than decoding and encoding again). Raises
    :class:`InvalidInput` exactly where :func:`b64decode` does (tests/crypto/test_encoding.py
    compares the two on arbitrary strings).
    """
    if not isinstance(text, str):
        raise InvalidInput(f"base64 input must be a str, not {type(text).__name__}")
    if _B64_RE.fullmatch(text) is None:
        raise InvalidInput("base64 must use the URL-safe alphabet without padding")
    tail = len(text) % 4
    if tail == 1:
        raise InvalidInput("base64 input has an impossible length")
    if tail and text[-1] not in _LAST_CANONICAL[tail]:
        raise InvalidInput("non-canonical base64 (unused bits are not zero)")
    return len(text) // 4 * 3 + (tail - 1 if tail else 0)


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
        if len(text) != b64_length(length):
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
