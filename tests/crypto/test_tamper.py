"""Flip every byte of a wrapped identity, and of what it is bound to.

Whatever is changed, unwrap_identity must raise and never hand back an
identity: a changed version byte or length is InvalidInput (checked before
decrypting), anything else DecryptionFailed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402

# Fixed, non-secret test material (not derived from a passphrase: the KDF is
# not what is under test here).
KEY = bytes(range(32))
IDENTITY = crypto.identity_from_secrets(bytes(range(32, 64)), bytes(range(64, 96)))
NONCE = bytes(range(96, 120))
BLOB = crypto.wrap_identity(KEY, IDENTITY, nonce=NONCE)
MASKS = (0x01, 0x80, 0xFF)


def flip_byte(data: bytes, index: int, mask: int) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


def unwrap(key=KEY, blob=BLOB, x_pub=IDENTITY.x25519_public, e_pub=IDENTITY.ed25519_public):
    return crypto.unwrap_identity(key, blob, x_pub, e_pub)


def test_untouched_blob_unwraps():
    assert unwrap() == IDENTITY
    assert len(BLOB) == crypto.WRAPPED_IDENTITY_BYTES == 105


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("index", range(crypto.WRAPPED_IDENTITY_BYTES))
def test_flipped_blob_byte_is_rejected(index, mask):
    expected = crypto.InvalidInput if index == 0 else crypto.DecryptionFailed
    with pytest.raises(expected):
        unwrap(blob=flip_byte(BLOB, index, mask))


@pytest.mark.parametrize("which", ["x25519", "ed25519"])
@pytest.mark.parametrize("index", range(crypto.PUBLIC_KEY_BYTES))
def test_flipped_public_key_byte_is_rejected(which, index):
    for mask in MASKS:
        if which == "x25519":
            call = lambda: unwrap(x_pub=flip_byte(IDENTITY.x25519_public, index, mask))  # noqa: E731
        else:
            call = lambda: unwrap(e_pub=flip_byte(IDENTITY.ed25519_public, index, mask))  # noqa: E731
        with pytest.raises(crypto.DecryptionFailed):
            call()


@pytest.mark.parametrize("index", range(crypto.KEY_BYTES))
def test_flipped_wrapping_key_byte_is_rejected(index):
    for mask in MASKS:
        with pytest.raises(crypto.DecryptionFailed):
            unwrap(key=flip_byte(KEY, index, mask))


@pytest.mark.parametrize("length", list(range(crypto.WRAPPED_IDENTITY_BYTES)) + [106, 121, 210])
def test_wrong_length_is_rejected_before_decrypting(length):
    blob = (BLOB + bytes(200))[:length]
    with pytest.raises(crypto.InvalidInput):
        unwrap(blob=blob)


def test_every_version_but_one_is_rejected():
    for version in range(256):
        blob = bytes([version]) + BLOB[1:]
        if version == crypto.WRAP_VERSION:
            assert unwrap(blob=blob) == IDENTITY
        else:
            with pytest.raises(crypto.InvalidInput):
                unwrap(blob=blob)


def test_public_keys_of_another_identity_are_rejected():
    other = crypto.new_identity()
    with pytest.raises(crypto.DecryptionFailed):
        unwrap(x_pub=other.x25519_public, e_pub=other.ed25519_public)
    with pytest.raises(crypto.DecryptionFailed):
        unwrap(x_pub=other.x25519_public)
    with pytest.raises(crypto.DecryptionFailed):
        unwrap(e_pub=other.ed25519_public)


def test_wrong_type_inputs_are_invalid_input():
    with pytest.raises(crypto.InvalidInput):
        unwrap(blob=BLOB.hex())
    with pytest.raises(crypto.InvalidInput):
        unwrap(key=None)
    with pytest.raises(crypto.InvalidInput):
        unwrap(x_pub=IDENTITY.x25519_public[:31])
    with pytest.raises(crypto.InvalidInput):
        unwrap(e_pub=IDENTITY.ed25519_public + b"\x00")


def test_errors_form_one_tree():
    assert issubclass(crypto.InvalidInput, crypto.CryptoError)
    assert issubclass(crypto.InvalidInput, ValueError)
    assert issubclass(crypto.DecryptionFailed, crypto.CryptoError)
    assert not issubclass(crypto.DecryptionFailed, crypto.InvalidInput)
