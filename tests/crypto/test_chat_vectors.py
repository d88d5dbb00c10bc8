"""Known-answer vectors for chat and proof-of-work: the Python facade against
tests/vectors/chat_session.json, chat_tamper.json, chat_offer.json and pow.json.

Each file is checked twice: through the facade, and by recomputing the formula
of PROTOCOL.md here from raw libsodium bindings and hashlib, so that a mistake
in crypto/ that the generator would faithfully copy into the vectors still
shows. The same files are checked in Chromium by
tests/browser/test_chat_vectors_in_browser.py.
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
    LABEL_CHAT_AD,
    LABEL_CHAT_CHAIN_KEY,
    LABEL_CHAT_MESSAGE_KEY,
    LABEL_CHAT_LINK,
    LABEL_CHAT_OFFER,
    LABEL_POW,
)

VECTORS = REPO / "tests" / "vectors"
OUTCOMES = {
    "invalid-input": crypto.InvalidInput,
    "decryption-failed": crypto.DecryptionFailed,
    "bad-signature": crypto.BadSignature,
}


def load(filename: str) -> dict:
    return json.loads((VECTORS / filename).read_text(encoding="utf-8"))


def cases(filename: str) -> list:
    return [pytest.param(case, id=case["name"]) for case in load(filename)["cases"]]


def d(text: str) -> bytes:
    return crypto.b64decode(text)


@pytest.mark.parametrize("filename", ["chat_session.json", "chat_tamper.json", "chat_offer.json", "link_key.json",
                                      "pow.json"])
def test_files_are_for_both_languages_and_names_unique(filename):
    data = load(filename)
    assert data["checked_by"] == ["python", "browser"]
    names = [c["name"] for c in data["cases"]]
    assert len(names) == len(set(names))
    assert {c["expect"] for c in data["cases"]} <= {"ok", "fail", *OUTCOMES}


# --------------------------------------------------------------------------
# An independent implementation of the chat formula (raw bindings, hashlib)
# --------------------------------------------------------------------------


def kx_independent(seeker_secret: bytes, seeker_public: bytes, volunteer_secret: bytes, volunteer_public: bytes):
    # crypto_kx: keys = BLAKE2b-512(q || client_pk || server_pk); the client
    # takes rx = keys[:32], tx = keys[32:]; the server the other way round.
    q_seeker = nacl.bindings.crypto_scalarmult(seeker_secret, volunteer_public)
    q_volunteer = nacl.bindings.crypto_scalarmult(volunteer_secret, seeker_public)
    assert q_seeker == q_volunteer
    keys = hashlib.blake2b(q_seeker + seeker_public + volunteer_public, digest_size=64).digest()
    return {"seeker_rx": keys[:32], "seeker_tx": keys[32:], "volunteer_tx": keys[:32], "volunteer_rx": keys[32:]}


def message_keys_independent(chain: bytes, count: int) -> list[bytes]:
    keys = []
    for _ in range(count):
        keys.append(hashlib.blake2b(LABEL_CHAT_MESSAGE_KEY, key=chain, digest_size=32).digest())
        chain = hashlib.blake2b(LABEL_CHAT_CHAIN_KEY, key=chain, digest_size=32).digest()
    return keys


def open_independent(message_key: bytes, chat_id: bytes, direction: int, seq: int, ciphertext: bytes) -> bytes:
    nonce = seq.to_bytes(8, "big") + bytes(16)
    ad = LABEL_CHAT_AD + chat_id + bytes([direction]) + seq.to_bytes(8, "big")
    padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, message_key)
    assert len(padded) % 256 == 0
    length = int.from_bytes(padded[:2], "big")
    assert padded[2 + length :] == bytes(len(padded) - 2 - length)
    assert len(padded) == -(-(2 + length) // 256) * 256
    return padded[2 : 2 + length]


# --------------------------------------------------------------------------
# chat_session.json
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("chat_session.json"))
def test_chat_session_transcript(case):
    chat_id = d(case["chat_id"])
    seeker = crypto.chat_keypair_from_secret(d(case["seeker_secret"]))
    volunteer = crypto.chat_keypair_from_secret(d(case["volunteer_secret"]))
    assert seeker.public == d(case["seeker_public"])
    assert volunteer.public == d(case["volunteer_public"])
    sessions = {
        "seeker": crypto.ChatSession.for_seeker(chat_id, seeker, volunteer.public),
        "volunteer": crypto.ChatSession.for_volunteer(chat_id, volunteer, seeker.public),
    }
    counts = {"seeker": 0, "volunteer": 0}
    for message in case["messages"]:
        sender = message["from"]
        receiver = "volunteer" if sender == "seeker" else "seeker"
        content = message["content"].encode("utf-8")
        counts[sender] += 1
        assert message["seq"] == counts[sender]
        seq, ciphertext = sessions[sender].seal(content)
        assert seq == message["seq"]
        assert crypto.b64encode(ciphertext) == message["ciphertext"], (sender, seq)
        assert len(ciphertext) == message["padded_length"] + 16
        assert sessions[receiver].open(seq, ciphertext) == content
        assert sessions[sender].sent == seq and sessions[receiver].received == seq
    assert sessions["seeker"].sent == sessions["volunteer"].received == counts["seeker"]
    assert sessions["volunteer"].sent == sessions["seeker"].received == counts["volunteer"]


@pytest.mark.parametrize("case", cases("chat_session.json"))
def test_chat_session_independent_implementation(case):
    chat_id = d(case["chat_id"])
    s_sec, v_sec = d(case["seeker_secret"]), d(case["volunteer_secret"])
    s_pub, v_pub = d(case["seeker_public"]), d(case["volunteer_public"])
    assert nacl.bindings.crypto_scalarmult_base(s_sec) == s_pub
    assert nacl.bindings.crypto_scalarmult_base(v_sec) == v_pub
    kx = kx_independent(s_sec, s_pub, v_sec, v_pub)
    for field, value in kx.items():
        assert d(case[field]) == value, field
    # And libsodium's own crypto_kx agrees.
    assert nacl.bindings.crypto_kx_client_session_keys(s_pub, s_sec, v_pub) == (kx["seeker_rx"], kx["seeker_tx"])
    assert nacl.bindings.crypto_kx_server_session_keys(v_pub, v_sec, s_pub) == (kx["volunteer_rx"], kx["volunteer_tx"])
    chains = {"seeker": (kx["seeker_tx"], 0x01), "volunteer": (kx["volunteer_tx"], 0x02)}
    keys = {side: message_keys_independent(chain, len(case["messages"])) for side, (chain, _) in chains.items()}
    for message in case["messages"]:
        sender, seq = message["from"], message["seq"]
        assert d(message["message_key"]) == keys[sender][seq - 1]
        content = open_independent(keys[sender][seq - 1], chat_id, chains[sender][1], seq, d(message["ciphertext"]))
        assert content.decode("utf-8") == message["content"]
        assert message["padded_length"] == -(-(2 + len(content)) // 256) * 256


def test_chat_session_covers_the_padding_boundaries_and_content_kinds():
    messages = [m for c in load("chat_session.json")["cases"] for m in c["messages"]]
    lengths = {len(m["content"].encode("utf-8")) for m in messages}
    assert {0, 253, 254, 255, crypto.MAX_CHAT_CONTENT} <= lengths
    assert any(any(ord(ch) > 0xFFFF for ch in m["content"]) for m in messages), "no astral (emoji) content"
    assert {m["padded_length"] for m in messages} >= {256, 512, 8448}
    first = load("chat_session.json")["cases"][0]["messages"]
    directions = [m["from"] for m in first]
    assert any(a == b for a, b in zip(directions, directions[1:])), "no two messages in a row from one side"


# --------------------------------------------------------------------------
# chat_tamper.json
# --------------------------------------------------------------------------


def tamper_session(case):
    own = crypto.chat_keypair_from_secret(d(case["own_secret"]))
    build = crypto.ChatSession.for_seeker if case["receiver"] == "seeker" else crypto.ChatSession.for_volunteer
    return build(d(case["chat_id"]), own, d(case["peer_public"]))


@pytest.mark.parametrize("case", cases("chat_tamper.json"))
def test_chat_tamper(case):
    session = tamper_session(case)
    for frame in case["before"]:
        session.open(frame["seq"], d(frame["ciphertext"]))
    assert session.received == len(case["before"])
    if case["expect"] == "ok":
        assert session.open(case["seq"], d(case["ciphertext"])).decode("utf-8") == case["content"]
        assert session.received == len(case["before"]) + 1
    else:
        with pytest.raises(OUTCOMES[case["expect"]]):
            session.open(case["seq"], d(case["ciphertext"]))
        assert session.received == len(case["before"]), "a rejected frame advanced the session"
        assert session.sent == 0
    if "then" in case:
        then = case["then"]
        assert session.open(then["seq"], d(then["ciphertext"])).decode("utf-8") == then["content"]


def test_chat_tamper_covers_every_rule():
    names = {c["name"] for c in load("chat_tamper.json")["cases"]}
    for word in ("ciphertext", "tag", "truncated", "extended", "replay", "skip", "reflected", "wrong-chat-id",
                 "ad-direction", "ad-seq", "nonce-seq", "padding", "length-field", "seq-zero", "seq-above-maximum"):
        assert any(word in name for name in names), f"no tamper case for {word}"


# --------------------------------------------------------------------------
# chat_offer.json
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("chat_offer.json"))
def test_chat_offer(case):
    fields = [d(case[f]) for f in ("ed25519_public", "chat_id", "seeker_public", "volunteer_public", "signature")]
    if case["expect"] == "ok":
        identity = crypto.identity_from_secrets(d(case["x25519_secret"]), d(case["ed25519_seed"]))
        assert identity.ed25519_public == fields[0]
        signature = crypto.sign_chat_offer(identity, *fields[1:4])
        assert signature == fields[4]
        assert crypto.verify_chat_offer(*fields) is None
        # Independently: libsodium's raw detached verification of the written-out message.
        message = LABEL_CHAT_OFFER + fields[1] + fields[2] + fields[3]
        assert d(case["signed_message"]) == message
        assert nacl.bindings.crypto_sign_open(signature + message, fields[0]) == message
    else:
        with pytest.raises(OUTCOMES[case["expect"]]):
            crypto.verify_chat_offer(*fields)


def test_chat_offer_tamper_cases_agree_with_raw_libsodium():
    for case in load("chat_offer.json")["cases"]:
        if case["expect"] != "bad-signature":
            continue
        message = LABEL_CHAT_OFFER + d(case["chat_id"]) + d(case["seeker_public"]) + d(case["volunteer_public"])
        with pytest.raises(nacl.exceptions.BadSignatureError):
            nacl.bindings.crypto_sign_open(d(case["signature"]) + message, d(case["ed25519_public"]))


def test_chat_offer_is_tied_to_the_session_vectors():
    offer = load("chat_offer.json")["cases"][0]
    session = load("chat_session.json")["cases"][0]
    for field in ("chat_id", "seeker_public", "volunteer_public"):
        assert offer[field] == session[field]


# --------------------------------------------------------------------------
# link_key.json
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("link_key.json"))
def test_link_key(case):
    peer = None if case["peer_public"] is None else d(case["peer_public"])
    args = (d(case["ed25519_public"]), d(case["link_id"]), case["role"], d(case["own_public"]), peer,
            d(case["signature"]))
    if case["expect"] == "ok":
        identity = crypto.identity_from_secrets(d(case["x25519_secret"]), d(case["ed25519_seed"]))
        assert identity.ed25519_public == args[0]
        assert crypto.sign_link_key(identity, *args[1:5]) == args[5]
        assert crypto.verify_link_key(*args) is None
        # Independently: the message written out from PROTOCOL.md, checked by raw libsodium.
        message = LABEL_CHAT_LINK + args[1] + bytes([case["role"]]) + args[3] + (peer or bytes(32))
        assert d(case["signed_message"]) == message
        assert nacl.bindings.crypto_sign_open(args[5] + message, args[0]) == message
    else:
        with pytest.raises(OUTCOMES[case["expect"]]):
            crypto.verify_link_key(*args)


# --------------------------------------------------------------------------
# pow.json
# --------------------------------------------------------------------------


def leading_zero_bits(digest: bytes) -> int:
    return len(digest) * 8 - int.from_bytes(digest, "big").bit_length()


@pytest.mark.parametrize("case", cases("pow.json"))
def test_pow(case):
    nonce = d(case["nonce"])
    challenge = d(case["challenge"])
    bits = case["bits"]
    if case["expect"] == "invalid-input":
        with pytest.raises(crypto.InvalidInput):
            crypto.pow_check(challenge, nonce, bits)
        return
    digest = hashlib.blake2b(LABEL_POW + challenge + nonce, digest_size=32).digest()
    assert crypto.b64encode(digest) == case["hash"]
    assert leading_zero_bits(digest) == case["leading_zero_bits"]
    expected = case["expect"] in ("ok",)
    assert crypto.pow_check(challenge, nonce, bits) is expected
    assert (leading_zero_bits(digest) >= bits) is expected
    if case["kind"] == "solve":
        assert crypto.pow_solve(challenge, bits) == nonce
        assert int.from_bytes(nonce, "big") == case["counter"]
        # The first passing counter: every earlier one fails.
        for counter in range(max(0, case["counter"] - 64), case["counter"]):
            assert not crypto.pow_check(challenge, counter.to_bytes(8, "big"), bits)


def test_pow_vectors_include_the_browser_solve_case():
    by_name = {c["name"]: c for c in load("pow.json")["cases"]}
    assert by_name["solve-bits-8"]["kind"] == "solve"
    assert by_name["solve-bits-8"]["counter"] > 0
