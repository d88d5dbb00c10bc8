"""Chat sessions, chat offers and proof-of-work: properties, tampering, API edges.

Round trips over random interleavings of both directions (hypothesis), every
byte of a ciphertext flipped (rejected, and the session not advanced), and the
proof-of-work's solve/check agreement.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402

CHAT_ID = bytes(range(16))
SEEKER = crypto.chat_keypair_from_secret(bytes(range(100, 132)))
VOLUNTEER = crypto.chat_keypair_from_secret(bytes(range(140, 172)))
MASKS = (0x01, 0x80, 0xFF)


def flip_byte(data: bytes, index: int, mask: int) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


def pair(chat_id: bytes = CHAT_ID, seeker=SEEKER, volunteer=VOLUNTEER):
    return (
        crypto.ChatSession.for_seeker(chat_id, seeker, volunteer.public),
        crypto.ChatSession.for_volunteer(chat_id, volunteer, seeker.public),
    )


# --------------------------------------------------------------------------
# Key pairs
# --------------------------------------------------------------------------


def test_keypair_from_secret_is_what_crypto_kx_keypair_makes():
    # crypto_kx_keypair = random secret + X25519 base point multiplication, so
    # chat_keypair_from_secret rebuilds exactly the pairs libsodium generates.
    for _ in range(50):
        public, secret = nacl.bindings.crypto_kx_keypair()
        assert crypto.chat_keypair_from_secret(secret).public == public
    for _ in range(10):
        pair_ = crypto.new_chat_keypair()
        assert crypto.chat_keypair_from_secret(pair_.secret) == pair_


def test_keypair_from_secret_is_not_crypto_kx_seed_keypair():
    # The seed variant hashes its seed first: a different pair, not what we use.
    seed = bytes(range(32))
    public, _ = nacl.bindings.crypto_kx_seed_keypair(seed)
    assert crypto.chat_keypair_from_secret(seed).public != public


def test_keypair_checks_consistency_and_hides_secret():
    with pytest.raises(crypto.InvalidInput):
        crypto.ChatKeyPair(public=VOLUNTEER.public, secret=SEEKER.secret)
    for bad in (bytes(31), bytes(33), "x" * 32, None):
        with pytest.raises(crypto.InvalidInput):
            crypto.chat_keypair_from_secret(bad)
    text = repr(SEEKER)
    assert repr(SEEKER.secret) not in text and "secret" not in text
    assert repr(SEEKER.public) in text


def test_new_keypairs_and_chat_ids_are_fresh():
    assert len({crypto.new_chat_keypair().public for _ in range(20)}) == 20
    ids = {crypto.new_chat_id() for _ in range(20)}
    assert len(ids) == 20 and all(len(i) == crypto.CHAT_ID_BYTES for i in ids)


# --------------------------------------------------------------------------
# Sessions: round trips
# --------------------------------------------------------------------------

contents = st.binary(max_size=700) | st.sampled_from([b"", bytes(254), bytes(255), b"\x00" * 8192, b"\xff" * 8192])
# An action is (who acts, what): send a message, or deliver the oldest pending
# message of one direction. Deliveries may lag behind sends by any amount.
actions = st.lists(
    st.tuples(st.sampled_from(["seeker", "volunteer"]), st.sampled_from(["send", "deliver"]), contents),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(actions=actions, chat_id=st.binary(min_size=16, max_size=16))
def test_random_interleavings_round_trip(actions, chat_id):
    sessions = dict(zip(("seeker", "volunteer"), pair(chat_id, crypto.new_chat_keypair(), crypto.new_chat_keypair())))
    pending = {"seeker": [], "volunteer": []}  # by sender, oldest first
    for who, what, content in actions:
        other = "volunteer" if who == "seeker" else "seeker"
        if what == "send":
            seq, ciphertext = sessions[who].seal(content)
            assert seq == sessions[who].sent
            assert (len(ciphertext) - 16) % 256 == 0
            assert len(ciphertext) == -(-(2 + len(content)) // 256) * 256 + 16
            pending[who].append((seq, ciphertext, content))
        elif pending[other]:  # `who` receives the oldest frame from `other`
            seq, ciphertext, expected = pending[other].pop(0)
            assert seq == sessions[who].received + 1
            assert sessions[who].open(seq, ciphertext) == expected
    for sender, frames in pending.items():
        receiver = "volunteer" if sender == "seeker" else "seeker"
        for seq, ciphertext, expected in frames:
            assert sessions[receiver].open(seq, ciphertext) == expected
        assert sessions[receiver].received == sessions[sender].sent


@settings(max_examples=40, deadline=None)
@given(st.lists(contents, min_size=2, max_size=8), st.data())
def test_out_of_order_frames_are_rejected_without_harm(messages, data):
    seeker, volunteer = pair()
    frames = [seeker.seal(m) for m in messages]
    # Present a wrong frame (any but the next), then the right one.
    for expected_seq, (seq, ciphertext) in enumerate(frames, start=1):
        wrong = data.draw(st.sampled_from([f for f in frames if f[0] != expected_seq]))
        with pytest.raises(crypto.DecryptionFailed):
            volunteer.open(*wrong)
        with pytest.raises(crypto.DecryptionFailed):
            volunteer.open(expected_seq, wrong[1])  # right seq, wrong ciphertext
        assert volunteer.received == expected_seq - 1
        assert volunteer.open(seq, ciphertext) == messages[expected_seq - 1]


def test_ciphertexts_differ_per_chat_direction_and_position():
    seeker, volunteer = pair()
    other_seeker, _ = pair(chat_id=bytes(16))
    a = seeker.seal(b"same")
    b = seeker.seal(b"same")
    c = volunteer.seal(b"same")
    d = other_seeker.seal(b"same")
    assert len({a[1], b[1], c[1], d[1]}) == 4


def test_a_session_cannot_open_its_own_frames():
    seeker, volunteer = pair()
    seq, ciphertext = seeker.seal(b"echo")
    with pytest.raises(crypto.DecryptionFailed):
        seeker.open(seq, ciphertext)
    assert seeker.received == 0
    assert volunteer.open(seq, ciphertext) == b"echo"


def test_two_sessions_from_the_same_keys_agree():
    # The ratchet is a pure function of the keys: a second volunteer session
    # built from the same key pair opens the same frames (used by the vectors).
    seeker, volunteer = pair()
    _, volunteer_again = pair()
    frames = [seeker.seal(b"x" * n) for n in (0, 1, 300)]
    for seq, ciphertext in frames:
        assert volunteer.open(seq, ciphertext) == volunteer_again.open(seq, ciphertext)


def test_wrong_peer_or_chat_id_fails():
    seeker, _ = pair()
    seq, ciphertext = seeker.seal(b"hallo")
    stranger = crypto.new_chat_keypair()
    for session in (
        crypto.ChatSession.for_volunteer(CHAT_ID, VOLUNTEER, stranger.public),
        crypto.ChatSession.for_volunteer(bytes(16), VOLUNTEER, SEEKER.public),
        crypto.ChatSession.for_seeker(CHAT_ID, VOLUNTEER, SEEKER.public),  # roles swapped
    ):
        with pytest.raises(crypto.DecryptionFailed):
            session.open(seq, ciphertext)


# --------------------------------------------------------------------------
# Sessions: every byte flipped
# --------------------------------------------------------------------------

_SEEKER_SESSION, _ = pair()
FIRST = _SEEKER_SESSION.seal(b"eerste bericht")
SECOND = _SEEKER_SESSION.seal("tweede bericht \U0001f30a".encode())


@pytest.mark.parametrize("index", range(len(SECOND[1])))
def test_flipped_ciphertext_byte_is_rejected_and_does_not_advance(index):
    _, volunteer = pair()
    volunteer.open(*FIRST)
    for mask in MASKS:
        with pytest.raises(crypto.DecryptionFailed):
            volunteer.open(SECOND[0], flip_byte(SECOND[1], index, mask))
        assert volunteer.received == 1
    assert volunteer.open(*SECOND) == "tweede bericht \U0001f30a".encode()


@pytest.mark.parametrize("index", range(crypto.CHAT_ID_BYTES))
def test_flipped_chat_id_byte_is_rejected(index):
    session = crypto.ChatSession.for_volunteer(flip_byte(CHAT_ID, index, 0x01), VOLUNTEER, SEEKER.public)
    with pytest.raises(crypto.DecryptionFailed):
        session.open(*FIRST)
    assert session.received == 0


@pytest.mark.parametrize("index", range(crypto.PUBLIC_KEY_BYTES))
def test_flipped_peer_public_key_byte_is_rejected(index):
    peer = flip_byte(SEEKER.public, index, 0x01)
    try:
        session = crypto.ChatSession.for_volunteer(CHAT_ID, VOLUNTEER, peer)
    except crypto.InvalidInput:
        return  # a low-order point: refused by the key exchange itself
    with pytest.raises(crypto.DecryptionFailed):
        session.open(*FIRST)


@pytest.mark.parametrize("length", [0, 1, 16, 255, 271, 273, 527, 529, 8463, 8465, 8720])
def test_impossible_ciphertext_sizes_are_invalid_input(length):
    _, volunteer = pair()
    with pytest.raises(crypto.InvalidInput):
        volunteer.open(1, (FIRST[1] * 40)[:length])
    assert volunteer.received == 0
    assert volunteer.open(*FIRST) == b"eerste bericht"


@pytest.mark.parametrize("seq", [0, -1, 2**53, 2**64, True, 1.0, "1", None])
def test_bad_seq_is_invalid_input(seq):
    _, volunteer = pair()
    with pytest.raises(crypto.InvalidInput):
        volunteer.open(seq, FIRST[1])


# --------------------------------------------------------------------------
# Sessions: API edges
# --------------------------------------------------------------------------


def test_content_limits():
    seeker, volunteer = pair()
    seq, ciphertext = seeker.seal(bytes(crypto.MAX_CHAT_CONTENT))
    assert len(ciphertext) == crypto.MAX_CHAT_CIPHERTEXT_BYTES == 8464
    assert volunteer.open(seq, ciphertext) == bytes(crypto.MAX_CHAT_CONTENT)
    with pytest.raises(crypto.InvalidInput):
        seeker.seal(bytes(crypto.MAX_CHAT_CONTENT + 1))
    with pytest.raises(crypto.InvalidInput):
        seeker.seal("text, not bytes")
    assert seeker.sent == 1
    assert seeker.seal(bytearray(b"bytearray is fine"))[0] == 2


def test_session_constructor_checks():
    with pytest.raises(crypto.InvalidInput):
        crypto.ChatSession.for_seeker(bytes(15), SEEKER, VOLUNTEER.public)
    with pytest.raises(crypto.InvalidInput):
        crypto.ChatSession.for_seeker(CHAT_ID, SEEKER.secret, VOLUNTEER.public)
    with pytest.raises(crypto.InvalidInput):
        crypto.ChatSession.for_seeker(CHAT_ID, SEEKER, VOLUNTEER.public[:31])
    with pytest.raises(crypto.InvalidInput):
        crypto.ChatSession.for_seeker(CHAT_ID, SEEKER, SEEKER.public)
    with pytest.raises(crypto.InvalidInput):
        crypto.ChatSession(CHAT_ID, SEEKER, VOLUNTEER.public, role="relay")
    # An all-zero (low-order) peer key makes the shared secret zero: refused.
    with pytest.raises(crypto.InvalidInput):
        crypto.ChatSession.for_volunteer(CHAT_ID, VOLUNTEER, bytes(32))


def test_wiped_session_refuses_work_and_repr_hides_keys():
    seeker, volunteer = pair()
    seq, ciphertext = seeker.seal(b"x")
    text = repr(volunteer)
    assert "sent=0" in text and "received=0" in text
    volunteer.wipe()
    with pytest.raises(crypto.CryptoError):
        volunteer.open(seq, ciphertext)
    with pytest.raises(crypto.CryptoError):
        volunteer.seal(b"y")


def test_check_chat_frame():
    crypto.check_chat_frame(CHAT_ID, FIRST[0], FIRST[1])
    crypto.check_chat_frame(CHAT_ID, crypto.MAX_CHAT_SEQ, bytes(crypto.MAX_CHAT_CIPHERTEXT_BYTES))
    for chat_id, seq, ciphertext in [
        (bytes(15), 1, FIRST[1]),
        (CHAT_ID, 0, FIRST[1]),
        (CHAT_ID, crypto.MAX_CHAT_SEQ + 1, FIRST[1]),
        (CHAT_ID, 1, FIRST[1][:-1]),
        (CHAT_ID, 1, bytes(crypto.MAX_CHAT_CIPHERTEXT_BYTES + 256)),
        (CHAT_ID, 1, "not bytes"),
    ]:
        with pytest.raises(crypto.InvalidInput):
            crypto.check_chat_frame(chat_id, seq, ciphertext)


# --------------------------------------------------------------------------
# Chat offers
# --------------------------------------------------------------------------

IDENTITY = crypto.identity_from_secrets(bytes(range(200, 232)), bytes(range(1, 33)))


@given(chat_id=st.binary(min_size=16, max_size=16))
@settings(max_examples=30)
def test_offer_round_trip(chat_id):
    seeker, volunteer = crypto.new_chat_keypair(), crypto.new_chat_keypair()
    signature = crypto.sign_chat_offer(IDENTITY, chat_id, seeker.public, volunteer.public)
    assert len(signature) == crypto.SIGNATURE_BYTES
    crypto.verify_chat_offer(IDENTITY.ed25519_public, chat_id, seeker.public, volunteer.public, signature)
    with pytest.raises(crypto.BadSignature):
        crypto.verify_chat_offer(IDENTITY.ed25519_public, chat_id, volunteer.public, seeker.public, signature)


@pytest.mark.parametrize("field", range(4))
def test_offer_binds_every_field(field):
    values = [IDENTITY.ed25519_public, CHAT_ID, SEEKER.public, VOLUNTEER.public]
    signature = crypto.sign_chat_offer(IDENTITY, *values[1:])
    for index in range(len(values[field])):
        changed = list(values)
        changed[field] = flip_byte(values[field], index, 0x01)
        with pytest.raises(crypto.BadSignature):
            crypto.verify_chat_offer(*changed, signature)


@pytest.mark.parametrize("index", range(crypto.SIGNATURE_BYTES))
def test_offer_signature_byte_flips_are_rejected(index):
    signature = crypto.sign_chat_offer(IDENTITY, CHAT_ID, SEEKER.public, VOLUNTEER.public)
    with pytest.raises(crypto.BadSignature):
        crypto.verify_chat_offer(IDENTITY.ed25519_public, CHAT_ID, SEEKER.public, VOLUNTEER.public,
                                 flip_byte(signature, index, 0x01))


def test_offer_input_checks():
    signature = crypto.sign_chat_offer(IDENTITY, CHAT_ID, SEEKER.public, VOLUNTEER.public)
    with pytest.raises(crypto.InvalidInput):
        crypto.sign_chat_offer(SEEKER, CHAT_ID, SEEKER.public, VOLUNTEER.public)
    with pytest.raises(crypto.InvalidInput):
        crypto.verify_chat_offer(IDENTITY.ed25519_public, CHAT_ID, SEEKER.public, VOLUNTEER.public, signature.hex())
    assert issubclass(crypto.BadSignature, crypto.CryptoError)
    assert not issubclass(crypto.BadSignature, (crypto.DecryptionFailed, crypto.InvalidInput))


# --------------------------------------------------------------------------
# Proof-of-work
# --------------------------------------------------------------------------

challenges = st.binary(min_size=crypto.POW_MIN_CHALLENGE_BYTES, max_size=crypto.POW_MAX_CHALLENGE_BYTES)


@settings(max_examples=40, deadline=None)
@given(challenge=challenges, bits=st.integers(min_value=0, max_value=10))
def test_pow_solve_passes_check(challenge, bits):
    nonce = crypto.pow_solve(challenge, bits)
    assert len(nonce) == crypto.POW_NONCE_BYTES
    assert crypto.pow_check(challenge, nonce, bits)
    for weaker in range(bits + 1):
        assert crypto.pow_check(challenge, nonce, weaker)
    # It is the first: no smaller counter passes.
    for counter in range(int.from_bytes(nonce, "big")):
        assert not crypto.pow_check(challenge, counter.to_bytes(8, "big"), bits)


@given(challenge=challenges, nonce=st.binary(min_size=8, max_size=8))
def test_pow_bits_zero_always_passes(challenge, nonce):
    assert crypto.pow_check(challenge, nonce, 0)


@given(challenge=challenges, nonce=st.binary(min_size=8, max_size=8), bits=st.integers(0, 32))
def test_pow_check_is_monotonic(challenge, nonce, bits):
    if crypto.pow_check(challenge, nonce, bits):
        assert all(crypto.pow_check(challenge, nonce, b) for b in range(bits + 1))
    else:
        assert not any(crypto.pow_check(challenge, nonce, b) for b in range(bits, 33))


@pytest.mark.parametrize(
    ("challenge", "nonce", "bits"),
    [
        (bytes(16), bytes(7), 1),
        (bytes(16), bytes(9), 1),
        (bytes(16), "12345678", 1),
        (bytes(15), bytes(8), 1),
        (bytes(65), bytes(8), 1),
        (bytes(16), bytes(8), 33),
        (bytes(16), bytes(8), -1),
        (bytes(16), bytes(8), True),
        (bytes(16), bytes(8), 8.0),
    ],
)
def test_pow_check_rejects_malformed_input(challenge, nonce, bits):
    with pytest.raises(crypto.InvalidInput):
        crypto.pow_check(challenge, nonce, bits)


def test_pow_solve_rejects_malformed_input():
    for challenge, bits in [(bytes(15), 1), (bytes(16), 33), (bytes(16), -1)]:
        with pytest.raises(crypto.InvalidInput):
            crypto.pow_solve(challenge, bits)


def test_new_pow_challenge():
    challenges_ = {crypto.new_pow_challenge() for _ in range(10)}
    assert len(challenges_) == 10 and all(len(c) == 32 for c in challenges_)
    assert len(crypto.new_pow_challenge(16)) == 16 and len(crypto.new_pow_challenge(64)) == 64
    for bad in (15, 65, True, "32"):
        with pytest.raises(crypto.InvalidInput):
            crypto.new_pow_challenge(bad)
