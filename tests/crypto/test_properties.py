"""Property tests (hypothesis) for the crypto facade."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402

# libsodium's minimum Argon2id cost: fast enough for property tests and far
# too weak for any real passphrase. Never use outside tests.
INSECURE_TEST_KDF = crypto.KdfParams(opslimit=crypto.MIN_OPSLIMIT, memlimit=crypto.MIN_MEMLIMIT)

key32 = st.binary(min_size=32, max_size=32)
nonce24 = st.binary(min_size=24, max_size=24)
salt16 = st.binary(min_size=16, max_size=16)
# Passphrases: any non-empty text without lone surrogates (category Cs).
passphrases = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# --------------------------------------------------------------------------
# Identity wrapping
# --------------------------------------------------------------------------


@given(x_sec=key32, e_seed=key32, key=key32, nonce=st.one_of(st.none(), nonce24))
def test_wrap_unwrap_round_trip(x_sec, e_seed, key, nonce):
    identity = crypto.identity_from_secrets(x_sec, e_seed)
    blob = crypto.wrap_identity(key, identity, nonce=nonce)
    assert len(blob) == crypto.WRAPPED_IDENTITY_BYTES
    assert blob[0] == crypto.WRAP_VERSION
    back = crypto.unwrap_identity(key, blob, identity.x25519_public, identity.ed25519_public)
    assert back == identity


@given(x_sec=key32, e_seed=key32, key=key32, other_key=key32)
def test_unwrap_with_another_key_fails(x_sec, e_seed, key, other_key):
    assume(key != other_key)
    identity = crypto.identity_from_secrets(x_sec, e_seed)
    blob = crypto.wrap_identity(key, identity)
    with pytest.raises(crypto.DecryptionFailed):
        crypto.unwrap_identity(other_key, blob, identity.x25519_public, identity.ed25519_public)


@given(blob=st.binary(min_size=0, max_size=300), key=key32)
def test_arbitrary_blobs_never_unwrap(blob, key):
    identity = crypto.identity_from_secrets(bytes(32), bytes(32))
    with pytest.raises(crypto.CryptoError):
        crypto.unwrap_identity(key, blob, identity.x25519_public, identity.ed25519_public)


def test_random_wraps_use_fresh_nonces():
    identity = crypto.new_identity()
    key = bytes(32)
    blobs = {crypto.wrap_identity(key, identity) for _ in range(50)}
    assert len(blobs) == 50


def test_identity_must_be_consistent():
    a, b = crypto.new_identity(), crypto.new_identity()
    with pytest.raises(crypto.InvalidInput):
        crypto.Identity(a.x25519_secret, b.x25519_public, a.ed25519_seed, a.ed25519_public)
    with pytest.raises(crypto.InvalidInput):
        crypto.Identity(a.x25519_secret, a.x25519_public, a.ed25519_seed, b.ed25519_public)


def test_reprs_hide_secrets():
    identity = crypto.new_identity()
    text = repr(identity)
    assert repr(identity.x25519_secret) not in text and repr(identity.ed25519_seed) not in text
    assert "secret" not in text and "seed" not in text
    keys = crypto.derive_volunteer_keys("geheim", bytes(16), INSECURE_TEST_KDF)
    assert repr(keys.auth_key) not in repr(keys) and repr(keys.wrapping_key) not in repr(keys)


# --------------------------------------------------------------------------
# base64
# --------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_b64_round_trip(data):
    text = crypto.b64encode(data)
    assert set(text) <= set(B64_ALPHABET)
    assert crypto.b64decode(text) == data
    assert crypto.b64decode(text, length=len(data)) == data


@given(st.binary(min_size=1, max_size=100), st.data())
def test_b64_rejects_non_canonical_trailing_bits(data, draw):
    assume(len(data) % 3 != 0)
    text = crypto.b64encode(data)
    unused = 4 if len(data) % 3 == 1 else 2  # bits of the last char that carry nothing
    last = B64_ALPHABET.index(text[-1])
    junk = draw.draw(st.integers(min_value=1, max_value=(1 << unused) - 1))
    bad = text[:-1] + B64_ALPHABET[last | junk]
    with pytest.raises(crypto.InvalidInput):
        crypto.b64decode(bad)


@given(st.binary(min_size=1, max_size=100))
def test_b64_rejects_padding_and_standard_alphabet(data):
    import base64

    padded = base64.urlsafe_b64encode(data).decode()
    if "=" in padded:
        with pytest.raises(crypto.InvalidInput):
            crypto.b64decode(padded)
    standard = base64.b64encode(data).decode().rstrip("=")
    if "+" in standard or "/" in standard:
        with pytest.raises(crypto.InvalidInput):
            crypto.b64decode(standard)


def _b64check_agrees(text):
    from crypto.encoding import b64check

    try:
        data = crypto.b64decode(text)
    except crypto.InvalidInput:
        with pytest.raises(crypto.InvalidInput):
            b64check(text)
        return
    assert b64check(text) == len(data)


@given(st.one_of(st.text(max_size=60), st.text(alphabet=B64_ALPHABET + "=+/ ", max_size=60),
                 st.binary(max_size=60).map(crypto.b64encode)))
def test_b64check_agrees_with_decoding(text):
    # The relay's check without decoding (crypto.encoding.b64check) refuses exactly what b64decode refuses
    # and counts the bytes it would give: on arbitrary text, on near-base64 and on every canonical encoding
    # (each of which is also tried with every possible last character).
    _b64check_agrees(text)
    if text:
        for last in B64_ALPHABET:
            _b64check_agrees(text[:-1] + last)


@given(st.text(max_size=60))
def test_b64_decode_accepts_only_canonical_text(text):
    try:
        data = crypto.b64decode(text)
    except crypto.InvalidInput:
        return
    assert crypto.b64encode(data) == text


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=64))
def test_b64_length_is_enforced(data, length):
    text = crypto.b64encode(data)
    if length == len(data):
        assert crypto.b64decode(text, length=length) == data
    else:
        with pytest.raises(crypto.InvalidInput):
            crypto.b64decode(text, length=length)


def test_b64_rejects_non_str():
    with pytest.raises(crypto.InvalidInput):
        crypto.b64decode(b"AAAA")


# --------------------------------------------------------------------------
# Volunteer key derivation
# --------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(passphrase=passphrases, salt=salt16)
def test_derive_is_deterministic_and_label_separated(passphrase, salt):
    a = crypto.derive_volunteer_keys(passphrase, salt, INSECURE_TEST_KDF)
    b = crypto.derive_volunteer_keys(passphrase, salt, INSECURE_TEST_KDF)
    assert a == b
    assert len(a.auth_key) == len(a.wrapping_key) == crypto.KEY_BYTES
    assert a.auth_key != a.wrapping_key


@settings(max_examples=30, deadline=None)
@given(passphrase=passphrases, salt=salt16)
def test_derive_normalises_to_nfc(passphrase, salt):
    for form in ("NFD", "NFKC"):
        other = unicodedata.normalize(form, passphrase)
        same = unicodedata.normalize("NFC", other) == unicodedata.normalize("NFC", passphrase)
        if not other or not same:
            continue
        assert crypto.derive_volunteer_keys(other, salt, INSECURE_TEST_KDF) == crypto.derive_volunteer_keys(
            passphrase, salt, INSECURE_TEST_KDF
        )


@settings(max_examples=20, deadline=None)
@given(passphrase=passphrases, salt=salt16, other_salt=salt16)
def test_derive_depends_on_salt(passphrase, salt, other_salt):
    assume(salt != other_salt)
    a = crypto.derive_volunteer_keys(passphrase, salt, INSECURE_TEST_KDF)
    b = crypto.derive_volunteer_keys(passphrase, other_salt, INSECURE_TEST_KDF)
    assert a.auth_key != b.auth_key and a.wrapping_key != b.wrapping_key


def test_derive_depends_on_params():
    salt = bytes(16)
    a = crypto.derive_volunteer_keys("p", salt, INSECURE_TEST_KDF)
    b = crypto.derive_volunteer_keys("p", salt, crypto.KdfParams(2, crypto.MIN_MEMLIMIT))
    c = crypto.derive_volunteer_keys("p", salt, crypto.KdfParams(1, 2 * crypto.MIN_MEMLIMIT))
    assert len({a.auth_key, b.auth_key, c.auth_key}) == 3


@pytest.mark.parametrize(
    ("passphrase", "salt", "params"),
    [
        ("", bytes(16), INSECURE_TEST_KDF),
        ("a\ud800b", bytes(16), INSECURE_TEST_KDF),
        (b"bytes", bytes(16), INSECURE_TEST_KDF),
        ("x" * 5000, bytes(16), INSECURE_TEST_KDF),
        ("p", bytes(15), INSECURE_TEST_KDF),
        ("p", bytes(17), INSECURE_TEST_KDF),
        ("p", "0" * 16, INSECURE_TEST_KDF),
        ("p", bytes(16), (1, 8192)),
    ],
)
def test_derive_rejects_bad_input(passphrase, salt, params):
    with pytest.raises(crypto.InvalidInput):
        crypto.derive_volunteer_keys(passphrase, salt, params)


@pytest.mark.parametrize(
    ("opslimit", "memlimit"),
    [(0, 8192), (1, 8191), (-1, 65536), (True, 8192), (1.0, 8192), (1, "8192"), (2**32, 8192)],
)
def test_kdf_params_below_floor_or_wrong_type(opslimit, memlimit):
    with pytest.raises(crypto.InvalidInput):
        crypto.KdfParams(opslimit, memlimit)


def test_kdf_constants():
    assert (crypto.MIN_OPSLIMIT, crypto.MIN_MEMLIMIT) == (1, 8192)
    assert crypto.PRODUCTION_KDF == crypto.KdfParams(3, 64 * 1024 * 1024)
    assert (crypto.SALT_BYTES, crypto.KEY_BYTES) == (16, 32)
    salt = crypto.new_salt()
    assert len(salt) == 16 and salt != crypto.new_salt()


# --------------------------------------------------------------------------
# Server-side helpers
# --------------------------------------------------------------------------


@given(st.integers(min_value=crypto.MIN_TOKEN_BYTES, max_value=64))
def test_new_token_size(nbytes):
    token = crypto.new_token(nbytes)
    assert len(crypto.b64decode(token)) == nbytes


@pytest.mark.parametrize("nbytes", [0, 8, 15, 65, True, "32"])
def test_new_token_rejects_weak_or_silly_sizes(nbytes):
    with pytest.raises(crypto.InvalidInput):
        crypto.new_token(nbytes)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=100))
def test_hash_token_is_stable_and_sized(token):
    assert crypto.hash_token(token) == crypto.hash_token(token)
    assert len(crypto.hash_token(token)) == 32


@given(st.text(max_size=50), st.text(max_size=50))
def test_hash_token_separates_tokens(a, b):
    assume(a != b and a and b)
    try:
        assert crypto.hash_token(a) != crypto.hash_token(b)
    except crypto.InvalidInput:
        pass  # lone surrogates


@pytest.mark.parametrize("token", ["", "x" * 513, b"token", None])
def test_hash_token_rejects(token):
    with pytest.raises(crypto.InvalidInput):
        crypto.hash_token(token)


@given(secret=st.binary(min_size=32, max_size=64), name=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_fake_salt_is_stable_and_nfc(secret, name):
    salt = crypto.fake_salt(secret, name)
    assert len(salt) == crypto.SALT_BYTES
    assert crypto.fake_salt(secret, name) == salt
    assert crypto.fake_salt(secret, unicodedata.normalize("NFD", name)) == salt


def test_fake_salt_depends_on_secret_and_name():
    s1, s2 = bytes(32), b"\x01" * 32
    assert crypto.fake_salt(s1, "anna") != crypto.fake_salt(s2, "anna")
    assert crypto.fake_salt(s1, "anna") != crypto.fake_salt(s1, "anne")


@pytest.mark.parametrize("secret", [b"", bytes(31), bytes(65), "x" * 32])
def test_fake_salt_rejects_weak_secret(secret):
    with pytest.raises(crypto.InvalidInput):
        crypto.fake_salt(secret, "anna")


def test_auth_key_hash_round_trip():
    key, other = bytes(range(32)), bytes(32)
    stored = crypto.hash_auth_key(key)
    assert stored.startswith("$argon2id$")
    assert crypto.verify_auth_key(stored, key) is True
    assert crypto.verify_auth_key(stored, other) is False
    assert crypto.hash_auth_key(key) != stored  # salted


@pytest.mark.parametrize(
    "stored",
    ["", "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$AAAA$AAAA", "$argon2id$", None, b"$argon2id$", 42],
)
def test_verify_auth_key_malformed_stored_is_false(stored):
    assert crypto.verify_auth_key(stored, bytes(32)) is False


@pytest.mark.parametrize("key", [bytes(31), bytes(33), b"", "x" * 32, None])
def test_auth_key_must_be_32_bytes(key):
    with pytest.raises(crypto.InvalidInput):
        crypto.hash_auth_key(key)
    with pytest.raises(crypto.InvalidInput):
        crypto.verify_auth_key(crypto.hash_auth_key(bytes(32)), key)


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_constant_time_equal_agrees_with_eq(a, b):
    assert crypto.constant_time_equal(a, b) == (a == b)
    assert crypto.constant_time_equal(a, a)


def test_check_public_key():
    assert crypto.check_public_key(bytes(32)) == bytes(32)
    assert crypto.check_public_key(bytearray(32)) == bytes(32)
    for bad in (bytes(31), bytes(33), "a" * 32, None):
        with pytest.raises(crypto.InvalidInput):
            crypto.check_public_key(bad)
