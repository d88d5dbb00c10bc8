"""Known-answer vectors: the Python facade against tests/vectors/*.json.

The same files are checked in a real browser against web/js/crypto.js, so a
case passing here and there means both languages produce identical bytes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402
from crypto.labels import LABEL_FAKE_SALT, LABEL_SERVER_TOKEN, LABEL_VOLUNTEER_AUTH, LABEL_VOLUNTEER_WRAP  # noqa: E402

VECTORS = REPO / "tests" / "vectors"
OUTCOMES = {
    "ok": None,
    "invalid-input": crypto.InvalidInput,
    "invalid-token": crypto.InvalidToken,  # mail_token.json, mail_keys.json: a mistyped return token
    "decryption-failed": crypto.DecryptionFailed,
    "bad-signature": crypto.BadSignature,
    "fail": None,  # pow.json: pow_check returns False, nothing is raised
    "proof-error": crypto.ProofError,  # transparency.json: a refused proof, checkpoint or key proof (`reason`)
}


def load(filename: str) -> dict:
    return json.loads((VECTORS / filename).read_text(encoding="utf-8"))


def cases(filename: str) -> list:
    return [pytest.param(case, id=case["name"]) for case in load(filename)["cases"]]


def d(text: str) -> bytes:
    return crypto.b64decode(text)


# --------------------------------------------------------------------------
# The files themselves
# --------------------------------------------------------------------------


def load_generator():
    spec = importlib.util.spec_from_file_location("luisterend_oor_make_vectors", REPO / "tests" / "tools" / "make_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_every_file_exactly():
    built = load_generator().build()
    on_disk = {p.name for p in VECTORS.glob("*.json")}
    assert on_disk == set(built), "a vector file exists that make_vectors.py does not generate (or vice versa)"
    for filename, content in built.items():
        assert (VECTORS / filename).read_text(encoding="utf-8") == content, (
            f"{filename} differs from what make_vectors.py generates; run "
            "`python tests/tools/make_vectors.py` and review the diff"
        )


@pytest.mark.parametrize("filename", sorted(p.name for p in VECTORS.glob("*.json")))
def test_file_shape(filename):
    doc = load(filename)
    assert isinstance(doc["description"], str) and doc["description"]
    assert doc["cases"], "no cases"
    names = [case["name"] for case in doc["cases"]]
    assert len(names) == len(set(names)), "case names must be unique"
    for case in doc["cases"]:
        assert case["expect"] in OUTCOMES


# --------------------------------------------------------------------------
# volunteer_keys.json
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("volunteer_keys.json"))
def test_volunteer_keys(case):
    keys = crypto.derive_volunteer_keys(
        case["passphrase"], d(case["salt"]), crypto.KdfParams(case["opslimit"], case["memlimit"])
    )
    assert crypto.b64encode(keys.auth_key) == case["auth_key"]
    assert crypto.b64encode(keys.wrapping_key) == case["wrapping_key"]
    assert unicodedata.normalize("NFC", case["passphrase"]).encode() == d(case["passphrase_nfc_utf8"])


@pytest.mark.parametrize("case", cases("volunteer_keys.json"))
def test_volunteer_keys_independent_implementation(case):
    # argon2-cffi's own Argon2 and hashlib's BLAKE2b, not libsodium: catches a
    # wrong parameter mapping in crypto/_primitives.py that the generator
    # would otherwise faithfully copy into the vectors.
    from argon2.low_level import Type, hash_secret_raw

    master = hash_secret_raw(
        secret=d(case["passphrase_nfc_utf8"]),
        salt=d(case["salt"]),
        time_cost=case["opslimit"],
        memory_cost=case["memlimit"] // 1024,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
        version=19,
    )
    assert hashlib.blake2b(LABEL_VOLUNTEER_AUTH, key=master, digest_size=32).digest() == d(case["auth_key"])
    assert hashlib.blake2b(LABEL_VOLUNTEER_WRAP, key=master, digest_size=32).digest() == d(case["wrapping_key"])


@pytest.mark.parametrize(
    ("composed", "decomposed"),
    [("dutch-diacritics-nfc", "dutch-diacritics-nfd"), ("hangul-composed", "hangul-decomposed")],
)
def test_nfc_pairs_give_the_same_keys(composed, decomposed):
    by_name = {case["name"]: case for case in load("volunteer_keys.json")["cases"]}
    a, b = by_name[composed], by_name[decomposed]
    assert a["passphrase"] != b["passphrase"]
    assert unicodedata.normalize("NFC", b["passphrase"]) == a["passphrase"]
    assert (a["auth_key"], a["wrapping_key"]) == (b["auth_key"], b["wrapping_key"])


def test_production_parameters_are_covered():
    params = {(c["opslimit"], c["memlimit"]) for c in load("volunteer_keys.json")["cases"]}
    assert (crypto.PRODUCTION_KDF.opslimit, crypto.PRODUCTION_KDF.memlimit) in params


# --------------------------------------------------------------------------
# identity_wrap.json
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("identity_wrap.json"))
def test_identity_wrap(case):
    key, blob = d(case["wrapping_key"]), d(case["wrapped_identity"])
    x_pub, e_pub = d(case["x25519_public"]), d(case["ed25519_public"])
    if case["expect"] == "ok":
        identity = crypto.identity_from_secrets(d(case["x25519_secret"]), d(case["ed25519_seed"]))
        assert identity.x25519_public == x_pub
        assert identity.ed25519_public == e_pub
        assert crypto.wrap_identity(key, identity, nonce=d(case["nonce"])) == blob
        assert len(blob) == crypto.WRAPPED_IDENTITY_BYTES
        assert blob[1:25] == d(case["nonce"])
        back = crypto.unwrap_identity(key, blob, x_pub, e_pub)
        assert back == identity
    else:
        with pytest.raises(OUTCOMES[case["expect"]]):
            crypto.unwrap_identity(key, blob, x_pub, e_pub)


def test_identity_wrap_tamper_cases_cover_every_field():
    names = {c["name"] for c in load("identity_wrap.json")["cases"] if c["expect"] != "ok"}
    for field in ("version", "nonce", "ciphertext", "tag", "x25519-public", "ed25519-public", "wrong-key", "truncated", "extended"):
        assert any(field in name for name in names), f"no tamper case for {field}"
    assert "secrets-do-not-match-public-keys" in names


# --------------------------------------------------------------------------
# b64.json
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("b64.json"))
def test_b64(case):
    length = case.get("length")
    if case["expect"] == "ok":
        data = bytes.fromhex(case["hex"])
        assert crypto.b64encode(data) == case["text"]
        assert crypto.b64decode(case["text"], length=length) == data
    else:
        with pytest.raises(crypto.InvalidInput):
            crypto.b64decode(case["text"], length=length)


# --------------------------------------------------------------------------
# server_hashes.json
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("server_hashes.json"))
def test_server_hashes(case):
    if case["kind"] == "token-hash":
        expected = d(case["hash"])
        assert crypto.hash_token(case["token"]) == expected
        assert hashlib.blake2b(LABEL_SERVER_TOKEN + case["token"].encode(), digest_size=32).digest() == expected
    elif case["kind"] == "fake-salt":
        secret, expected = d(case["server_secret"]), d(case["salt"])
        assert crypto.fake_salt(secret, case["volunteer_name"]) == expected
        name = unicodedata.normalize("NFC", case["volunteer_name"]).encode()
        assert hashlib.blake2b(LABEL_FAKE_SALT + name, key=secret, digest_size=16).digest() == expected
    else:
        pytest.fail(f"unknown kind {case['kind']!r}")


def test_fake_salt_nfc_pair():
    by_name = {case["name"]: case for case in load("server_hashes.json")["cases"]}
    assert by_name["fake-salt-nfc"]["salt"] == by_name["fake-salt-nfd"]["salt"]
