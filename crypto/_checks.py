"""Private: the input checks and the padding that several sections share.

Each rule is written here once and named after the PROTOCOL.md section that
states it; the section modules call these instead of restating them.

- bytes of a fixed length, and integers that are not booleans: every section;
- text as UTF-8, refusing lone surrogates, and NFC first for passphrases and
  names: section 1 ("Passphrases and names");
- the length of unpadded base64: section 1 (the relay checks a string's
  length before it decodes anything, 10.8);
- padding to 256-byte buckets: section 10.6, which mail reuses with a larger
  maximum (12.4).

Nothing outside ``crypto/`` imports this module.
"""

from __future__ import annotations

import unicodedata

from .errors import DecryptionFailed, InvalidInput


def require_bytes(value: object, length: int | None, what: str) -> bytes:
    """``value`` as bytes (a bytearray is copied), of exactly ``length`` bytes unless that is None."""
    if isinstance(value, bytearray):
        value = bytes(value)
    if not isinstance(value, bytes):
        raise InvalidInput(f"{what} must be bytes, not {type(value).__name__}")
    if length is not None and len(value) != length:
        raise InvalidInput(f"{what} must be {length} bytes, got {len(value)}")
    return value


def require_sized(value: object, lengths: frozenset[int], what: str, shape: str) -> bytes:
    """``value`` as bytes of one of ``lengths``, the sizes an honest sender can produce (10.6, 12.4)."""
    data = require_bytes(value, None, what)
    if len(data) not in lengths:
        raise InvalidInput(f"{what} must be {shape}, {min(lengths)} to {max(lengths)} bytes; got {len(data)}")
    return data


def require_int(value: object, what: str) -> int:
    # bool is an int subclass; True as an opslimit is a bug, not a parameter.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, not {type(value).__name__}")
    return value


def require_seq(seq: object, maximum: int) -> int:
    """A sequence number: an integer (not a bool) from 1 to ``maximum`` (10.7 step 1, 12.5 step 1)."""
    seq = require_int(seq, "seq")
    if not 1 <= seq <= maximum:
        raise InvalidInput(f"seq must be between 1 and {maximum}")
    return seq


def utf8(text: object, what: str, *, max_chars: int) -> bytes:
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


def nfc_utf8(text: object, what: str, *, max_chars: int) -> bytes:
    # NFC so that "é" typed as one code point or as "e" + combining accent
    # (different keyboards, different operating systems) gives the same bytes.
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a str, not {type(text).__name__}")
    if len(text) > max_chars:  # cap before normalising hostile input
        raise InvalidInput(f"{what} is longer than {max_chars} characters")
    return utf8(unicodedata.normalize("NFC", text), what, max_chars=max_chars)


def b64_length(nbytes: int) -> int:
    """The length of the unpadded base64 of ``nbytes`` bytes."""
    return (4 * nbytes + 2) // 3


PAD_BLOCK = 256
_LENGTH_BYTES = 2


def padded_size(content_length: int) -> int:
    # The smallest multiple of the block that holds the length field and the
    # content: the server learns only the bucket, not the exact length.
    needed = _LENGTH_BYTES + content_length
    return -(-needed // PAD_BLOCK) * PAD_BLOCK


def pad(content: bytes) -> bytes:
    size = padded_size(len(content))
    return len(content).to_bytes(_LENGTH_BYTES, "big") + content + bytes(size - _LENGTH_BYTES - len(content))


def unpad(padded: bytes, max_content: int, what: str) -> bytes:
    # Only a holder of the message key can produce an authenticated plaintext,
    # so these checks guard against a buggy or hostile peer, not the server.
    # Exactly one padded form per content: anything else is refused.
    length = int.from_bytes(padded[:_LENGTH_BYTES], "big")
    if length > max_content or padded_size(length) != len(padded):
        raise DecryptionFailed(f"{what} has a malformed length field")
    end = _LENGTH_BYTES + length
    if any(padded[end:]):
        raise DecryptionFailed(f"{what} padding is not all zeros")
    return padded[_LENGTH_BYTES:end]
