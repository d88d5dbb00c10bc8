"""Known-answer vectors for mail: the Python facade against tests/vectors/mail_token.json,
mail_keys.json, key_certificate.json and mail_messages.json.

As for chat, each file is checked twice: through the facade, and by recomputing
the formula of PROTOCOL.md section 12 here from raw libsodium bindings,
argon2-cffi and hashlib, so that a mistake in crypto/ that the generator would
faithfully copy into the vectors still shows. The same files are checked in
Chromium by tests/browser/test_mail_vectors_in_browser.py.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import nacl.bindings
import nacl.exceptions
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402
from crypto.labels import (  # noqa: E402
    LABEL_MAIL_AD,
    LABEL_MAIL_ED25519,
    LABEL_MAIL_KEY_CERT,
    LABEL_MAIL_LOOKUP,
    LABEL_MAIL_LOOKUP_HASH,
    LABEL_MAIL_NONCE,
    LABEL_MAIL_SALT,
    LABEL_MAIL_SIGNATURE,
    LABEL_MAIL_X25519,
)

VECTORS = REPO / "tests" / "vectors"
FILES = ["mail_token.json", "mail_keys.json", "key_certificate.json", "mail_messages.json"]
OUTCOMES = {
    "invalid-input": crypto.InvalidInput,
    "invalid-token": crypto.InvalidToken,
    "decryption-failed": crypto.DecryptionFailed,
    "bad-signature": crypto.BadSignature,
}
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def load(filename: str) -> dict:
    return json.loads((VECTORS / filename).read_text(encoding="utf-8"))


def cases(filename: str, kind: str | None = None) -> list:
    return [
        pytest.param(case, id=case["name"])
        for case in load(filename)["cases"]
        if kind is None or case.get("kind") == kind
    ]


def d(text: str) -> bytes:
    return crypto.b64decode(text)


def holder(fields: dict) -> crypto.Identity:
    return crypto.identity_from_secrets(d(fields["x25519_secret"]), d(fields["ed25519_seed"]))


@pytest.mark.parametrize("filename", FILES)
def test_files_are_for_both_languages_and_names_unique(filename):
    data = load(filename)
    assert data["checked_by"] == ["python", "browser"]
    names = [c["name"] for c in data["cases"]]
    assert len(names) == len(set(names))
    assert {c["expect"] for c in data["cases"]} <= {"ok", *OUTCOMES}
    for case in data["cases"]:
        assert ("reason" in case) == (case["expect"] == "invalid-token"), case["name"]


# --------------------------------------------------------------------------
# mail_token.json
# --------------------------------------------------------------------------


def check_independent(data_symbols: str) -> str:
    number = 0
    for symbol in data_symbols:
        number = number * 32 + CROCKFORD.index(symbol)
    check = number % 1021
    return CROCKFORD[check // 32] + CROCKFORD[check % 32]


@pytest.mark.parametrize("case", cases("mail_token.json"))
def test_mail_token(case):
    if case["kind"] == "from-bytes":
        random = d(case["random"])
        token = crypto.token_code_from_bytes(random)
        assert token == case["token"]
        # Independently: the low 90 bits, 5 at a time, most significant first.
        bits = format(int.from_bytes(random, "big"), "096b")[6:]
        assert token[:18] == "".join(CROCKFORD[int(bits[i : i + 5], 2)] for i in range(0, 90, 5))
    else:
        if case["expect"] == "invalid-token":
            with pytest.raises(crypto.InvalidToken) as raised:
                crypto.parse_token(case["input"])
            assert raised.value.reason == case["reason"]
            assert isinstance(raised.value, crypto.InvalidInput)
            with pytest.raises(crypto.InvalidToken):
                crypto.format_token(case["input"])
            return
        token = crypto.parse_token(case["input"])
        assert token == case["token"]
        assert crypto.format_token(case["input"]) == case["formatted"]
    assert crypto.format_token(case["token"]) == case["formatted"]
    assert crypto.parse_token(case["formatted"]) == case["token"]
    assert case["token"][18:] == check_independent(case["token"][:18])
    assert case["formatted"] == "-".join(case["token"][i : i + 4] for i in range(0, 20, 4))


def test_mail_token_covers_every_rule():
    by_reason: dict[str, set[str]] = {}
    for case in load("mail_token.json")["cases"]:
        by_reason.setdefault(case.get("reason", "ok"), set()).add(case["name"])
    assert {"ok", "length", "character", "check"} == set(by_reason)
    names = {c["name"] for c in load("mail_token.json")["cases"]}
    for word in ("lower-case", "letter-o", "letter-i", "letter-l", "unicode-dashes", "letter-u", "substitution",
                 "transposition", "check-value-1023", "bytes-all-ff", "only-top-6-bits"):
        assert any(word in name for name in names), f"no token case for {word}"


# --------------------------------------------------------------------------
# mail_keys.json
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("mail_keys.json"))
def test_mail_keys(case):
    if case["expect"] != "ok":
        with pytest.raises(OUTCOMES[case["expect"]]) as raised:
            crypto.derive_mailbox(case["token"], case["deployment_id"], crypto.KdfParams(case["opslimit"], case["memlimit"]))
        if case["expect"] == "invalid-token":
            assert raised.value.reason == case["reason"]
        return
    mailbox = crypto.derive_mailbox(case["token"], case["deployment_id"], crypto.KdfParams(case["opslimit"], case["memlimit"]))
    assert crypto.parse_token(case["token"]) == case["canonical_token"]
    assert mailbox.lookup_key == d(case["lookup_key"])
    assert mailbox.x25519_secret == d(case["x25519_secret"])
    assert mailbox.x25519_public == d(case["x25519_public"])
    assert mailbox.ed25519_seed == d(case["ed25519_seed"])
    assert mailbox.ed25519_public == d(case["ed25519_public"])
    assert crypto.mailbox_lookup_hash(mailbox.lookup_key) == d(case["lookup_hash"])


@pytest.mark.parametrize("case", [c for c in cases("mail_keys.json") if c.values[0]["expect"] == "ok"])
def test_mail_keys_independent_implementation(case):
    # argon2-cffi's Argon2, hashlib's BLAKE2b and raw libsodium: not the code under test.
    from argon2.low_level import Type, hash_secret_raw

    salt = hashlib.blake2b(LABEL_MAIL_SALT + case["deployment_id"].encode("utf-8"), digest_size=16).digest()
    assert salt == d(case["salt"])
    assert len(case["canonical_token"]) == 20 and case["canonical_token"].isascii()
    master = hash_secret_raw(
        secret=case["canonical_token"].encode("ascii"),
        salt=salt,
        time_cost=case["opslimit"],
        memory_cost=case["memlimit"] // 1024,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
        version=19,
    )
    lookup = hashlib.blake2b(LABEL_MAIL_LOOKUP, key=master, digest_size=32).digest()
    x_sec = hashlib.blake2b(LABEL_MAIL_X25519, key=master, digest_size=32).digest()
    e_seed = hashlib.blake2b(LABEL_MAIL_ED25519, key=master, digest_size=32).digest()
    assert lookup == d(case["lookup_key"])
    assert x_sec == d(case["x25519_secret"])
    assert e_seed == d(case["ed25519_seed"])
    assert nacl.bindings.crypto_scalarmult_base(x_sec) == d(case["x25519_public"])
    assert nacl.bindings.crypto_sign_seed_keypair(e_seed)[0] == d(case["ed25519_public"])
    assert hashlib.blake2b(LABEL_MAIL_LOOKUP_HASH + lookup, digest_size=32).digest() == d(case["lookup_hash"])


def test_mail_keys_pairs_and_coverage():
    by_name = {c["name"]: c for c in load("mail_keys.json")["cases"]}
    fields = ("lookup_key", "x25519_secret", "ed25519_seed")
    a, b = by_name["minimum-params"], by_name["same-token-typed-sloppily"]
    assert a["token"] != b["token"]
    assert all(a[f] == b[f] for f in fields)
    for other in ("other-deployment-id", "other-token", "small-params", "non-ascii-deployment-id"):
        assert all(a[f] != by_name[other][f] for f in fields), other
    assert by_name["other-deployment-id"]["salt"] != a["salt"]
    production = (crypto.PRODUCTION_KDF.opslimit, crypto.PRODUCTION_KDF.memlimit)
    assert production in {(c["opslimit"], c["memlimit"]) for c in by_name.values()}


# --------------------------------------------------------------------------
# key_certificate.json
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("key_certificate.json"))
def test_key_certificate(case):
    e_pub, x_pub, cert = d(case["ed25519_public"]), d(case["x25519_public"]), d(case["certificate"])
    if case["expect"] == "ok":
        identity = holder(case)
        assert (identity.x25519_public, identity.ed25519_public) == (x_pub, e_pub)
        assert crypto.sign_key_certificate(identity) == cert
        assert crypto.verify_key_certificate(e_pub, x_pub, cert) is None
        message = LABEL_MAIL_KEY_CERT + x_pub
        assert d(case["signed_message"]) == message
        assert nacl.bindings.crypto_sign_open(cert + message, e_pub) == message
    else:
        with pytest.raises(OUTCOMES[case["expect"]]):
            crypto.verify_key_certificate(e_pub, x_pub, cert)
        if case["expect"] == "bad-signature":
            with pytest.raises(nacl.exceptions.BadSignatureError):
                nacl.bindings.crypto_sign_open(cert + LABEL_MAIL_KEY_CERT + x_pub, e_pub)


def test_key_certificate_of_a_mailbox_is_tied_to_mail_keys():
    certificate = {c["name"]: c for c in load("key_certificate.json")["cases"]}["mailbox-of-minimum-params"]
    keys = {c["name"]: c for c in load("mail_keys.json")["cases"]}["minimum-params"]
    mailbox = crypto.derive_mailbox(keys["token"], keys["deployment_id"], crypto.KdfParams(keys["opslimit"], keys["memlimit"]))
    assert crypto.sign_key_certificate(mailbox) == d(certificate["certificate"])
    for field in ("x25519_public", "ed25519_public"):
        assert certificate[field] == keys[field]


# --------------------------------------------------------------------------
# mail_messages.json
# --------------------------------------------------------------------------


def open_independent(case_key: bytes, thread_id: bytes, seq: int, author: int, body: bytes) -> bytes:
    """PROTOCOL.md 12.4 written out with raw bindings, given the content key."""
    position = thread_id + seq.to_bytes(8, "big") + bytes([author])
    assert body[0] == 1
    assert body[1:25] == hashlib.blake2b(LABEL_MAIL_NONCE, key=case_key, digest_size=24).digest()
    padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(body[25:], LABEL_MAIL_AD + position, body[1:25], case_key)
    length = int.from_bytes(padded[:2], "big")
    assert len(padded) == -(-(2 + length) // 256) * 256
    assert padded[2 + length :] == bytes(len(padded) - 2 - length)
    return padded[2 : 2 + length]


@pytest.mark.parametrize("case", cases("mail_messages.json", "seal"))
def test_mail_seal(case):
    thread_id, seq, author = d(case["thread_id"]), case["seq"], case["author"]
    content = case["content"].encode("utf-8")
    seeker, volunteer = holder(case["seeker"]), holder(case["volunteer"])
    signer = seeker if author == crypto.AUTHOR_SEEKER else volunteer
    sealed = crypto.seal_mail(thread_id, seq, author, content, signer, seeker.x25519_public, volunteer.x25519_public,
                              key=d(case["key"]))
    assert sealed.body == d(case["body"])
    assert sealed.signature == d(case["signature"])
    assert len(sealed.body) == 1 + 24 + case["padded_length"] + 16
    # The facade's wraps are random; they and the file's fixed ones open alike.
    for wraps in ((sealed.seeker_wrap, sealed.volunteer_wrap), (d(case["seeker_wrap"]), d(case["volunteer_wrap"]))):
        for wrap, reader in zip(wraps, (seeker, volunteer)):
            assert len(wrap) == crypto.MAIL_WRAP_BYTES
            got = crypto.open_mail(thread_id, seq, author, sealed.body, sealed.signature, wrap, reader, signer.ed25519_public)
            assert got == content
    assert sealed.seeker_wrap != d(case["seeker_wrap"])


@pytest.mark.parametrize("case", cases("mail_messages.json", "seal"))
def test_mail_seal_independent_implementation(case):
    thread_id, seq, author = d(case["thread_id"]), case["seq"], case["author"]
    body, key = d(case["body"]), d(case["key"])
    position = thread_id + seq.to_bytes(8, "big") + bytes([author])
    assert d(case["ad"]) == LABEL_MAIL_AD + position
    assert d(case["nonce"]) == body[1:25]
    assert open_independent(key, thread_id, seq, author, body).decode("utf-8") == case["content"]
    signed = LABEL_MAIL_SIGNATURE + position + hashlib.blake2b(body, digest_size=32).digest()
    assert d(case["signed_message"]) == signed
    author_public = d(case["seeker" if author == crypto.AUTHOR_SEEKER else "volunteer"]["ed25519_public"])
    assert nacl.bindings.crypto_sign_open(d(case["signature"]) + signed, author_public) == signed
    for reader in ("seeker", "volunteer"):
        r = case[reader]
        assert nacl.bindings.crypto_box_seal_open(d(case[reader + "_wrap"]), d(r["x25519_public"]), d(r["x25519_secret"])) == key


def test_mail_seal_covers_the_boundaries():
    seals = [c for c in load("mail_messages.json")["cases"] if c["kind"] == "seal"]
    lengths = {len(c["content"].encode("utf-8")) for c in seals}
    assert {0, 254, 255, crypto.MAX_MAIL_CONTENT} <= lengths
    assert {c["author"] for c in seals} == {crypto.AUTHOR_SEEKER, crypto.AUTHOR_VOLUNTEER}
    assert [c["seq"] for c in seals] == list(range(1, len(seals) + 1))
    assert any(any(ord(ch) > 0xFFFF for ch in c["content"]) for c in seals)
    keys = {c["name"]: c for c in load("mail_keys.json")["cases"]}["minimum-params"]
    for field in ("x25519_secret", "ed25519_seed"):
        assert seals[0]["seeker"][field] == keys[field], "the help-seeker is mail_keys.json's minimum-params mailbox"


def open_case(case: dict, wrap: bytes | None = None, reader=None) -> bytes:
    return crypto.open_mail(
        d(case["thread_id"]),
        case["seq"],
        case["author"],
        d(case["body"]),
        d(case["signature"]),
        d(case["wrap"]) if wrap is None else wrap,
        holder(case["reader"]) if reader is None else reader,
        d(case["author_ed25519_public"]),
    )


@pytest.mark.parametrize("case", cases("mail_messages.json", "open"))
def test_mail_open(case):
    if case["expect"] == "ok":
        assert open_case(case).decode("utf-8") == case["content"]
    else:
        with pytest.raises(OUTCOMES[case["expect"]]):
            open_case(case)


def test_mail_open_covers_every_field():
    names = {c["name"] for c in load("mail_messages.json")["cases"] if c["kind"] == "open" and c["expect"] != "ok"}
    for word in ("body-version", "body-nonce", "body-ciphertext", "body-tag", "truncated", "extended", "signature-r",
                 "signature-s", "wrong-author-byte", "wrong-seq", "wrong-thread", "author-key", "wrap-of-other-reader",
                 "wrong-reader-key", "wrap-tag", "wrap-of-other-message", "signed-ad-seq", "signed-ad-author",
                 "signed-ad-thread", "signed-random-nonce", "signed-body-of-other-key", "signed-padding",
                 "signed-length", "seq-zero", "author-three"):
        assert any(word in name for name in names), f"no open case for {word}"


@pytest.mark.parametrize("case", cases("mail_messages.json", "rewrap"))
def test_mail_rewrap(case):
    reader, new_reader = holder(case["reader"]), holder(case["new_reader"])
    if case["expect"] != "ok":
        with pytest.raises(OUTCOMES[case["expect"]]):
            crypto.rewrap_mail_key(d(case["wrap"]), reader, new_reader.x25519_public)
        return
    new_wrap = crypto.rewrap_mail_key(d(case["wrap"]), reader, new_reader.x25519_public)
    assert len(new_wrap) == crypto.MAIL_WRAP_BYTES
    assert open_case(case, wrap=new_wrap, reader=new_reader).decode("utf-8") == case["content"]
    # The old wrap still opens only for its own reader.
    assert open_case(case, wrap=d(case["wrap"]), reader=reader).decode("utf-8") == case["content"]
    with pytest.raises(crypto.DecryptionFailed):
        open_case(case, wrap=d(case["wrap"]), reader=new_reader)
    with pytest.raises(crypto.DecryptionFailed):
        open_case(case, wrap=new_wrap, reader=reader)
