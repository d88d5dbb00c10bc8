"""Mail crypto: the return token codec, mailbox keys, key certificates and mail messages.

Hypothesis proves the token's promises (every accepted spelling parses to the
same token; every single-symbol substitution and every adjacent transposition
of distinct symbols is refused with reason "check"), round trips cover seal,
open and rewrap for both readers, and every byte of every field of a message
is flipped.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402

# libsodium's minimum Argon2id cost: fast for tests and far too weak for any
# real mailbox. Never use outside tests.
INSECURE_TEST_KDF = crypto.KdfParams(opslimit=crypto.MIN_OPSLIMIT, memlimit=crypto.MIN_MEMLIMIT)
DEPLOYMENT = "test.luisterend-oor.example"
ALPHABET = crypto.MAIL_TOKEN_ALPHABET
SEPARATORS = [" ", "\t", "\n", "\r", "\u00a0", "-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015",
              "\u2212", ".", "_"]
MASKS = (0x01, 0x80, 0xFF)
# Every character parse_token accepts as a symbol, with its value.
SYMBOL_VALUES = {**{c: i for i, c in enumerate(ALPHABET)}, **{c.lower(): i for i, c in enumerate(ALPHABET)},
                 "O": 0, "o": 0, "I": 1, "i": 1, "L": 1, "l": 1}

random12 = st.binary(min_size=12, max_size=12)
tokens = random12.map(crypto.token_code_from_bytes)


def flip_byte(data: bytes, index: int, mask: int) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


def reason_of(text: str) -> str | None:
    try:
        crypto.parse_token(text)
    except crypto.InvalidToken as exc:
        return exc.reason
    return None


# --------------------------------------------------------------------------
# Token codec
# --------------------------------------------------------------------------


def test_alphabet_is_crockford():
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert not set("ILOU") & set(ALPHABET)
    assert crypto.MAIL_TOKEN_SYMBOLS == 20 and crypto.MAIL_TOKEN_DATA_SYMBOLS == 18


def test_the_typo_argument_holds():
    # PROTOCOL.md 12.1: 1021 is prime, larger than any symbol difference, and
    # divides none of the factors by which one typo can change N.
    m = crypto.MAIL_TOKEN_CHECK_MODULUS
    assert m == 1021 and all(m % p for p in range(2, int(m**0.5) + 1))
    assert 32 < m < 32 * 32
    for k in range(crypto.MAIL_TOKEN_DATA_SYMBOLS):
        for diff in range(1, 32):
            assert diff * 32**k % m != 0  # one symbol changed
            assert diff * 31 * 32**k % m != 0  # two neighbours swapped
    for diff in range(1, 32):
        assert 33 * diff % m != 0  # last data symbol swapped with the first check symbol


@given(random12)
def test_token_round_trip(data):
    token = crypto.token_code_from_bytes(data)
    assert len(token) == 20 and set(token) <= set(ALPHABET)
    formatted = crypto.format_token(token)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}", formatted)
    assert crypto.parse_token(token) == token
    assert crypto.parse_token(formatted) == token
    assert crypto.format_token(formatted) == formatted
    # The 18 data symbols are exactly the low 90 bits.
    number = 0
    for symbol in token[:18]:
        number = number * 32 + ALPHABET.index(symbol)
    assert number == int.from_bytes(data, "big") & ((1 << 90) - 1)


READINGS = {symbol: [symbol, symbol.lower()] for symbol in ALPHABET}
READINGS["0"] += ["O", "o"]
READINGS["1"] += ["I", "i", "L", "l"]
separator_runs = st.lists(st.sampled_from(SEPARATORS), max_size=3).map("".join)


@given(tokens, st.lists(st.tuples(st.integers(0, 5), separator_runs), min_size=20, max_size=20), separator_runs)
def test_any_case_spacing_and_look_alikes_are_accepted(token, choices, leading):
    typed = leading
    for symbol, (reading, separators) in zip(token, choices):
        readings = READINGS[symbol]
        typed += readings[reading % len(readings)] + separators
    assert crypto.parse_token(typed) == token
    assert crypto.format_token(typed) == crypto.format_token(token)


@settings(max_examples=60)
@given(tokens)
def test_every_substitution_and_adjacent_transposition_is_rejected(token):
    # Exhaustive per token: all 20 positions x every accepted symbol of
    # another value, and all 19 adjacent swaps of distinct symbols.
    for index, original in enumerate(token):
        for symbol, value in SYMBOL_VALUES.items():
            if value == ALPHABET.index(original):
                continue
            assert reason_of(token[:index] + symbol + token[index + 1 :]) == "check", (token, index, symbol)
    for index in range(19):
        if token[index] != token[index + 1]:
            swapped = token[:index] + token[index + 1] + token[index] + token[index + 2 :]
            assert reason_of(swapped) == "check", (token, index)


@given(tokens, st.integers(0, 19), st.sampled_from(sorted(SYMBOL_VALUES)))
def test_a_single_substitution_is_rejected_or_is_the_same_symbol(token, index, symbol):
    typed = token[:index] + symbol + token[index + 1 :]
    if SYMBOL_VALUES[symbol] == ALPHABET.index(token[index]):
        assert crypto.parse_token(typed) == token
    else:
        assert reason_of(typed) == "check"


@given(tokens, st.integers(0, 17))
def test_twin_and_jump_errors_are_caught_too(token, index):
    # Not promised, but the same argument covers them: aa -> bb and abc -> cba.
    if token[index] == token[index + 1]:
        other = ALPHABET[(ALPHABET.index(token[index]) + 1) % 32]
        assert reason_of(token[:index] + other * 2 + token[index + 2 :]) == "check"
    if index <= 15 and token[index] != token[index + 2]:
        jumped = token[:index] + token[index + 2] + token[index + 1] + token[index] + token[index + 3 :]
        assert reason_of(jumped) == "check"


@given(tokens, st.integers(0, 19))
def test_a_missing_or_doubled_symbol_is_a_length_error(token, index):
    assert reason_of(token[:index] + token[index + 1 :]) == "length"
    assert reason_of(token[:index] + token[index] + token[index:]) == "length"


@given(tokens, st.integers(0, 20), st.characters(blacklist_characters="".join(SYMBOL_VALUES) + "".join(SEPARATORS)))
def test_any_other_character_is_refused(token, index, char):
    assert reason_of(token[:index] + char + token[index:]) == "character"


@pytest.mark.parametrize("value", [None, b"0000000000000000000", 12345, ["0"] * 20])
def test_parse_token_wants_a_string(value):
    with pytest.raises(crypto.InvalidInput) as raised:
        crypto.parse_token(value)
    assert not isinstance(raised.value, crypto.InvalidToken)


def test_huge_input_is_refused_by_length_first():
    token = crypto.new_token_code()
    assert crypto.parse_token(token + " " * 180) == token
    assert reason_of(token + " " * 181) == "length"
    assert reason_of("!" * 100_000) == "length"


def test_invalid_token_never_repeats_the_token():
    token = crypto.new_token_code()
    for typo in (token[:19], token[:5] + "U" + token[6:], token[:18] + ("00" if token[18:] != "00" else "01")):
        with pytest.raises(crypto.InvalidToken) as raised:
            crypto.parse_token(typo)
        assert token[:8] not in str(raised.value) and token[:8] not in repr(raised.value)


def test_invalid_token_is_in_the_error_tree():
    assert issubclass(crypto.InvalidToken, crypto.InvalidInput)
    assert issubclass(crypto.InvalidToken, ValueError)
    assert crypto.InvalidToken("check").reason == "check"
    with pytest.raises(ValueError):
        crypto.InvalidToken("typo")


def test_new_token_codes_are_valid_fresh_and_use_every_symbol_everywhere():
    seen = [crypto.new_token_code() for _ in range(2000)]
    assert len(set(seen)) == len(seen)
    for token in seen:
        assert crypto.parse_token(token) == token
    # 90 whole bits: every data position takes all 32 values (no position is
    # stuck or biased to a sub-range, e.g. the first symbol is not limited).
    for index in range(18):
        assert {t[index] for t in seen} == set(ALPHABET), index


@pytest.mark.parametrize("data", [bytes(11), bytes(13), "x" * 12, None])
def test_token_code_from_bytes_wants_12_bytes(data):
    with pytest.raises(crypto.InvalidInput):
        crypto.token_code_from_bytes(data)


# --------------------------------------------------------------------------
# Mailbox keys
# --------------------------------------------------------------------------

TOKEN = crypto.token_code_from_bytes(bytes(range(12)))
MAILBOX = crypto.derive_mailbox(TOKEN, DEPLOYMENT, INSECURE_TEST_KDF)


def test_derive_mailbox_is_deterministic_and_spelling_blind():
    again = crypto.derive_mailbox(crypto.format_token(TOKEN).lower().replace("-", " "), DEPLOYMENT, INSECURE_TEST_KDF)
    assert again == MAILBOX
    keys = [MAILBOX.lookup_key, MAILBOX.x25519_secret, MAILBOX.ed25519_seed, MAILBOX.x25519_public, MAILBOX.ed25519_public]
    assert len(set(keys)) == len(keys) and all(len(k) == 32 for k in keys)


def test_derive_mailbox_depends_on_token_deployment_and_params():
    other_token = crypto.token_code_from_bytes(bytes(range(1, 13)))
    variants = [
        crypto.derive_mailbox(other_token, DEPLOYMENT, INSECURE_TEST_KDF),
        crypto.derive_mailbox(TOKEN, DEPLOYMENT + ".", INSECURE_TEST_KDF),
        crypto.derive_mailbox(TOKEN, DEPLOYMENT, crypto.KdfParams(2, 8192)),
        crypto.derive_mailbox(TOKEN, DEPLOYMENT, crypto.KdfParams(1, 16384)),
    ]
    for variant in variants:
        assert variant.lookup_key != MAILBOX.lookup_key
        assert variant.x25519_public != MAILBOX.x25519_public
        assert variant.ed25519_public != MAILBOX.ed25519_public


def test_derive_mailbox_in_two_halves_gives_the_same_mailbox():
    # The gateway runs the Argon2id half on a thread and the rest on its loop (mailgate/gateway.py).
    master = crypto.mailbox_master_key(crypto.format_token(TOKEN), DEPLOYMENT, INSECURE_TEST_KDF)
    assert len(master) == 32 and crypto.mailbox_from_master(master) == MAILBOX
    assert crypto.mailbox_from_master(bytes(32)) != MAILBOX
    with pytest.raises(crypto.InvalidInput):
        crypto.mailbox_from_master(master[:31])
    with pytest.raises(crypto.InvalidToken):
        crypto.mailbox_master_key("not a token", DEPLOYMENT, INSECURE_TEST_KDF)


def test_mailbox_hides_secrets_and_checks_consistency():
    text = repr(MAILBOX)
    for secret in (MAILBOX.lookup_key, MAILBOX.x25519_secret, MAILBOX.ed25519_seed):
        assert repr(secret) not in text
    assert "lookup_key" not in text and "secret" not in text and "seed" not in text
    assert repr(MAILBOX.x25519_public) in text
    fields = dict(lookup_key=MAILBOX.lookup_key, x25519_secret=MAILBOX.x25519_secret, x25519_public=MAILBOX.x25519_public,
                  ed25519_seed=MAILBOX.ed25519_seed, ed25519_public=MAILBOX.ed25519_public)
    for name, bad in [("x25519_public", MAILBOX.ed25519_public), ("ed25519_public", MAILBOX.x25519_public),
                      ("lookup_key", bytes(31)), ("x25519_secret", bytes(32))]:
        with pytest.raises(crypto.InvalidInput):
            crypto.Mailbox(**{**fields, name: bad})


@pytest.mark.parametrize("deployment", ["", None, b"deployment", "x" * 257, "bad\ud800surrogate"])
def test_derive_mailbox_refuses_a_bad_deployment_id(deployment):
    with pytest.raises(crypto.InvalidInput):
        crypto.derive_mailbox(TOKEN, deployment, INSECURE_TEST_KDF)


def test_derive_mailbox_refuses_bad_params_and_tokens():
    with pytest.raises(crypto.InvalidInput):
        crypto.derive_mailbox(TOKEN, DEPLOYMENT, {"opslimit": 1, "memlimit": 8192})
    with pytest.raises(crypto.InvalidToken) as raised:
        crypto.derive_mailbox(TOKEN[:19], DEPLOYMENT, INSECURE_TEST_KDF)
    assert raised.value.reason == "length"


def test_lookup_hash():
    stored = crypto.mailbox_lookup_hash(MAILBOX.lookup_key)
    assert len(stored) == 32 and stored != MAILBOX.lookup_key
    assert crypto.mailbox_lookup_hash(bytearray(MAILBOX.lookup_key)) == stored
    assert crypto.mailbox_lookup_hash(flip_byte(MAILBOX.lookup_key, 0, 1)) != stored
    for bad in (bytes(31), bytes(33), "x" * 32, None):
        with pytest.raises(crypto.InvalidInput):
            crypto.mailbox_lookup_hash(bad)


# --------------------------------------------------------------------------
# Key certificates
# --------------------------------------------------------------------------

VOLUNTEER = crypto.identity_from_secrets(bytes(range(40, 72)), bytes(range(80, 112)))
COLLEAGUE = crypto.identity_from_secrets(bytes(range(120, 152)), bytes(range(160, 192)))
STRANGER = crypto.identity_from_secrets(bytes(range(200, 232)), bytes(range(10, 42)))


@pytest.mark.parametrize("holder", [VOLUNTEER, COLLEAGUE, MAILBOX], ids=["volunteer", "colleague", "mailbox"])
def test_key_certificate_round_trip(holder):
    cert = crypto.sign_key_certificate(holder)
    assert len(cert) == crypto.SIGNATURE_BYTES
    assert crypto.verify_key_certificate(holder.ed25519_public, holder.x25519_public, cert) is None
    for index in range(64):
        with pytest.raises(crypto.BadSignature):
            crypto.verify_key_certificate(holder.ed25519_public, holder.x25519_public, flip_byte(cert, index, 0x01))
    for index in range(32):
        with pytest.raises(crypto.BadSignature):
            crypto.verify_key_certificate(holder.ed25519_public, flip_byte(holder.x25519_public, index, 0x01), cert)
    with pytest.raises(crypto.BadSignature):
        crypto.verify_key_certificate(STRANGER.ed25519_public, holder.x25519_public, cert)
    with pytest.raises(crypto.BadSignature):
        crypto.verify_key_certificate(holder.ed25519_public, STRANGER.x25519_public, cert)


def test_key_certificate_is_not_a_chat_offer_or_mail_signature():
    # Same identity key, other labels: no signature crosses over.
    cert = crypto.sign_key_certificate(VOLUNTEER)
    with pytest.raises(crypto.BadSignature):
        crypto.verify_chat_offer(VOLUNTEER.ed25519_public, bytes(16), VOLUNTEER.x25519_public, VOLUNTEER.x25519_public, cert)


@pytest.mark.parametrize("holder", [None, b"x" * 32, VOLUNTEER.ed25519_seed, crypto.new_chat_keypair()])
def test_sign_key_certificate_wants_a_key_holder(holder):
    with pytest.raises(crypto.InvalidInput):
        crypto.sign_key_certificate(holder)


# --------------------------------------------------------------------------
# Mail messages
# --------------------------------------------------------------------------

THREAD = bytes(range(16))
SEEKER = MAILBOX
thread_ids = st.binary(min_size=16, max_size=16)
seqs = st.integers(1, crypto.MAX_MAIL_SEQ)
authors = st.sampled_from([crypto.AUTHOR_SEEKER, crypto.AUTHOR_VOLUNTEER])


def signer_of(author: int):
    return SEEKER if author == crypto.AUTHOR_SEEKER else VOLUNTEER


def seal(content: bytes = b"Hallo, is daar iemand?", *, thread=THREAD, seq=1, author=crypto.AUTHOR_SEEKER, key=None):
    return crypto.seal_mail(thread, seq, author, content, signer_of(author), SEEKER.x25519_public,
                            VOLUNTEER.x25519_public, key=key)


SEALED = seal()


def open_(sealed=SEALED, *, thread=THREAD, seq=1, author=crypto.AUTHOR_SEEKER, body=None, signature=None, wrap=None,
          reader=VOLUNTEER, author_public=None):
    if wrap is None:
        wrap = sealed.seeker_wrap if reader is SEEKER else sealed.volunteer_wrap
    return crypto.open_mail(thread, seq, author, sealed.body if body is None else body,
                            sealed.signature if signature is None else signature, wrap, reader,
                            signer_of(author).ed25519_public if author_public is None else author_public)


def test_sizes():
    assert crypto.MAIL_WRAP_BYTES == 80 and crypto.MAIL_THREAD_ID_BYTES == 16
    assert crypto.MAX_MAIL_CONTENT == 32768
    assert crypto.MIN_MAIL_BODY_BYTES == 1 + 24 + 256 + 16
    assert crypto.MAX_MAIL_BODY_BYTES == 1 + 24 + 129 * 256 + 16
    assert len(seal(bytes(crypto.MAX_MAIL_CONTENT)).body) == crypto.MAX_MAIL_BODY_BYTES
    assert len(SEALED.body) == crypto.MIN_MAIL_BODY_BYTES
    assert (len(SEALED.signature), len(SEALED.seeker_wrap), len(SEALED.volunteer_wrap)) == (64, 80, 80)


@settings(max_examples=40, deadline=None)
@given(content=st.binary(max_size=1200), thread=thread_ids, seq=seqs, author=authors)
def test_seal_open_round_trip_for_both_readers(content, thread, seq, author):
    sealed = seal(content, thread=thread, seq=seq, author=author)
    assert len(sealed.body) == 1 + 24 + -(-(2 + len(content)) // 256) * 256 + 16
    for reader in (SEEKER, VOLUNTEER):
        assert open_(sealed, thread=thread, seq=seq, author=author, reader=reader) == content
    crypto.verify_mail_signature(thread, seq, author, sealed.body, sealed.signature, signer_of(author).ed25519_public)
    # Nobody else: not a colleague before handover, not the wrong wrap.
    with pytest.raises(crypto.DecryptionFailed):
        open_(sealed, thread=thread, seq=seq, author=author, reader=COLLEAGUE, wrap=sealed.volunteer_wrap)
    with pytest.raises(crypto.DecryptionFailed):
        open_(sealed, thread=thread, seq=seq, author=author, reader=VOLUNTEER, wrap=sealed.seeker_wrap)


def test_content_key_and_nonce_are_fresh_per_message():
    a, b = seal(b"zelfde tekst"), seal(b"zelfde tekst")
    assert a.body[1:25] != b.body[1:25]
    assert a.body != b.body and a.signature != b.signature
    assert len({a.seeker_wrap, a.volunteer_wrap, b.seeker_wrap, b.volunteer_wrap}) == 4
    # With the vectors' pinned key, the body is reproducible; the wraps never are.
    key = bytes(range(32))
    c, d = seal(b"x", key=key), seal(b"x", key=key)
    assert (c.body, c.signature) == (d.body, d.signature)
    assert c.seeker_wrap != d.seeker_wrap


def test_a_prepared_mail_is_the_sealed_mail_once_wrapped_for_its_volunteer():
    # The gateway prepares the message before the volunteer is chosen (mailgate/gateway.py): the same bytes
    # as seal_mail with the same key, and both readers open it.
    key = bytes(range(32))
    prepared = crypto.prepare_mail(THREAD, 1, crypto.AUTHOR_SEEKER, b"Hallo, is daar iemand?", SEEKER,
                                   SEEKER.x25519_public, key=key)
    sealed = prepared.for_volunteer(VOLUNTEER.x25519_public)
    whole = seal(key=key)
    assert (sealed.body, sealed.signature) == (whole.body, whole.signature)
    for reader in (SEEKER, VOLUNTEER):
        assert open_(sealed, reader=reader) == b"Hallo, is daar iemand?"
    # Wrapped for another volunteer, only that one opens it: the key is sealed to whoever is named.
    other = prepared.for_volunteer(COLLEAGUE.x25519_public)
    assert open_(other, reader=COLLEAGUE, wrap=other.volunteer_wrap) == b"Hallo, is daar iemand?"
    with pytest.raises(crypto.DecryptionFailed):
        open_(other, reader=VOLUNTEER, wrap=other.volunteer_wrap)
    assert key.hex() not in repr(prepared) and repr(key) not in repr(prepared)
    with pytest.raises(crypto.InvalidInput):
        prepared.for_volunteer(VOLUNTEER.x25519_public[:31])
    with pytest.raises(crypto.InvalidInput):
        crypto.prepare_mail(THREAD, 1, crypto.AUTHOR_SEEKER, bytes(crypto.MAX_MAIL_CONTENT + 1), SEEKER,
                            SEEKER.x25519_public)


def test_handover_and_reassignment():
    messages = [(seq, author, seal(f"bericht {seq}".encode(), seq=seq, author=author))
                for seq, author in ((1, crypto.AUTHOR_SEEKER), (2, crypto.AUTHOR_VOLUNTEER), (3, crypto.AUTHOR_SEEKER))]
    for seq, author, sealed in messages:
        # Handover: the volunteer's page unwraps with its own key and wraps for the colleague.
        handed = crypto.rewrap_mail_key(sealed.volunteer_wrap, VOLUNTEER, COLLEAGUE.x25519_public)
        assert len(handed) == crypto.MAIL_WRAP_BYTES
        assert open_(sealed, seq=seq, author=author, reader=COLLEAGUE, wrap=handed) == f"bericht {seq}".encode()
        # The old wrap still opens, but only for its own reader; the new one only for the colleague.
        assert open_(sealed, seq=seq, author=author, reader=VOLUNTEER) == f"bericht {seq}".encode()
        with pytest.raises(crypto.DecryptionFailed):
            open_(sealed, seq=seq, author=author, reader=COLLEAGUE, wrap=sealed.volunteer_wrap)
        with pytest.raises(crypto.DecryptionFailed):
            open_(sealed, seq=seq, author=author, reader=VOLUNTEER, wrap=handed)
        # Reassignment: the help-seeker's page wraps for a new volunteer.
        reassigned = crypto.rewrap_mail_key(sealed.seeker_wrap, SEEKER, STRANGER.x25519_public)
        assert open_(sealed, seq=seq, author=author, reader=STRANGER, wrap=reassigned) == f"bericht {seq}".encode()
        # A page can only rewrap what was wrapped for it.
        with pytest.raises(crypto.DecryptionFailed):
            crypto.rewrap_mail_key(sealed.seeker_wrap, VOLUNTEER, COLLEAGUE.x25519_public)
        with pytest.raises(crypto.DecryptionFailed):
            crypto.rewrap_mail_key(handed, VOLUNTEER, STRANGER.x25519_public)


@pytest.mark.parametrize("mask", MASKS)
def test_every_body_byte_flipped_is_rejected(mask):
    for index in range(len(SEALED.body)):
        expected = crypto.InvalidInput if index == 0 else crypto.BadSignature
        with pytest.raises(expected):
            open_(body=flip_byte(SEALED.body, index, mask))
        with pytest.raises(expected):
            crypto.verify_mail_signature(THREAD, 1, crypto.AUTHOR_SEEKER, flip_byte(SEALED.body, index, mask),
                                         SEALED.signature, SEEKER.ed25519_public)


@pytest.mark.parametrize("mask", MASKS)
def test_every_signature_byte_flipped_is_rejected(mask):
    for index in range(64):
        with pytest.raises(crypto.BadSignature):
            open_(signature=flip_byte(SEALED.signature, index, mask))


@pytest.mark.parametrize("mask", MASKS)
def test_every_wrap_byte_flipped_is_rejected(mask):
    for index in range(crypto.MAIL_WRAP_BYTES):
        with pytest.raises(crypto.DecryptionFailed):
            open_(wrap=flip_byte(SEALED.volunteer_wrap, index, mask))
        with pytest.raises(crypto.DecryptionFailed):
            open_(reader=SEEKER, wrap=flip_byte(SEALED.seeker_wrap, index, mask))
        with pytest.raises(crypto.DecryptionFailed):
            crypto.rewrap_mail_key(flip_byte(SEALED.volunteer_wrap, index, mask), VOLUNTEER, COLLEAGUE.x25519_public)


@pytest.mark.parametrize("mask", MASKS)
def test_every_thread_id_and_author_key_byte_flipped_is_rejected(mask):
    for index in range(16):
        with pytest.raises(crypto.BadSignature):
            open_(thread=flip_byte(THREAD, index, mask))
    for index in range(32):
        with pytest.raises(crypto.BadSignature):
            open_(author_public=flip_byte(SEEKER.ed25519_public, index, mask))


@pytest.mark.parametrize("seq", [2, 0x100, 2**32 + 1, crypto.MAX_MAIL_SEQ])
def test_another_seq_is_rejected(seq):
    with pytest.raises(crypto.BadSignature):
        open_(seq=seq)


def test_another_author_is_rejected_whatever_key_is_used():
    for key in (SEEKER.ed25519_public, VOLUNTEER.ed25519_public):
        with pytest.raises(crypto.BadSignature):
            open_(author=crypto.AUTHOR_VOLUNTEER, author_public=key)


def test_server_cannot_write_as_either_side():
    # A stranger (the server, a database thief) signs with a key of its own.
    forged = crypto.seal_mail(THREAD, 2, crypto.AUTHOR_VOLUNTEER, b"van de server", STRANGER, SEEKER.x25519_public,
                              VOLUNTEER.x25519_public)
    with pytest.raises(crypto.BadSignature):
        crypto.open_mail(THREAD, 2, crypto.AUTHOR_VOLUNTEER, forged.body, forged.signature, forged.seeker_wrap, SEEKER,
                         VOLUNTEER.ed25519_public)
    with pytest.raises(crypto.BadSignature):
        crypto.verify_mail_signature(THREAD, 2, crypto.AUTHOR_SEEKER, forged.body, forged.signature, SEEKER.ed25519_public)


def test_signature_is_checked_before_the_wrap():
    with pytest.raises(crypto.BadSignature):
        open_(signature=flip_byte(SEALED.signature, 0, 1), reader=COLLEAGUE, wrap=SEALED.volunteer_wrap)


def test_a_wrap_from_another_message_is_rejected():
    other = seal(b"Hallo, is daar iemand?")
    with pytest.raises(crypto.DecryptionFailed):
        open_(wrap=other.volunteer_wrap)


def test_content_and_position_limits():
    assert open_(seal(bytes(crypto.MAX_MAIL_CONTENT))) == bytes(crypto.MAX_MAIL_CONTENT)
    with pytest.raises(crypto.InvalidInput):
        seal(bytes(crypto.MAX_MAIL_CONTENT + 1))
    sealed = seal(b"hoi", seq=crypto.MAX_MAIL_SEQ, author=crypto.AUTHOR_VOLUNTEER)
    assert open_(sealed, seq=crypto.MAX_MAIL_SEQ, author=crypto.AUTHOR_VOLUNTEER, reader=SEEKER) == b"hoi"
    for bad in (0, -1, crypto.MAX_MAIL_SEQ + 1, True, 1.0, "1", None):
        with pytest.raises(crypto.InvalidInput):
            seal(seq=bad)
        with pytest.raises(crypto.InvalidInput):
            open_(seq=bad)
    for bad in (0, 3, 255, True, "1", None):
        with pytest.raises(crypto.InvalidInput):
            seal(author=bad)
        with pytest.raises(crypto.InvalidInput):
            open_(author=bad)
    for bad in (bytes(15), bytes(17), "x" * 16, None):
        with pytest.raises(crypto.InvalidInput):
            seal(thread=bad)
        with pytest.raises(crypto.InvalidInput):
            open_(thread=bad)


@pytest.mark.parametrize("length", [0, 1, 296, 298, 552, 554, crypto.MAX_MAIL_BODY_BYTES + 256])
def test_impossible_body_sizes_are_invalid_input(length):
    body = bytes([crypto.MAIL_VERSION]) + bytes(length - 1) if length else b""
    with pytest.raises(crypto.InvalidInput):
        open_(body=body)


def test_wrong_types_and_sizes_are_invalid_input():
    for kwargs in (dict(signature=SEALED.signature[:63]), dict(wrap=SEALED.volunteer_wrap[:79]),
                   dict(wrap=SEALED.volunteer_wrap + b"\0"), dict(author_public=bytes(31)),
                   dict(reader=VOLUNTEER.x25519_secret), dict(body=SEALED.body.hex())):
        with pytest.raises(crypto.InvalidInput):
            open_(**kwargs)
    with pytest.raises(crypto.InvalidInput):
        crypto.seal_mail(THREAD, 1, 1, "text, not bytes", SEEKER, SEEKER.x25519_public, VOLUNTEER.x25519_public)
    with pytest.raises(crypto.InvalidInput):
        crypto.seal_mail(THREAD, 1, 1, b"x", SEEKER.ed25519_seed, SEEKER.x25519_public, VOLUNTEER.x25519_public)
    with pytest.raises(crypto.InvalidInput):
        crypto.seal_mail(THREAD, 1, 1, b"x", SEEKER, SEEKER.x25519_public[:31], VOLUNTEER.x25519_public)
    with pytest.raises(crypto.InvalidInput):
        crypto.seal_mail(THREAD, 1, 1, b"x", SEEKER, SEEKER.x25519_public, VOLUNTEER.x25519_public, key=bytes(31))
    # A low-order recipient key: nobody could ever open the wrap.
    with pytest.raises(crypto.InvalidInput):
        crypto.seal_mail(THREAD, 1, 1, b"x", SEEKER, SEEKER.x25519_public, bytes(32))
    with pytest.raises(crypto.InvalidInput):
        crypto.rewrap_mail_key(SEALED.volunteer_wrap, VOLUNTEER, bytes(32))
    with pytest.raises(crypto.InvalidInput):
        crypto.rewrap_mail_key(SEALED.volunteer_wrap, VOLUNTEER, COLLEAGUE.x25519_public[:31])


def test_thread_ids_are_fresh():
    ids = {crypto.new_mail_thread_id() for _ in range(20)}
    assert len(ids) == 20 and all(len(i) == crypto.MAIL_THREAD_ID_BYTES for i in ids)


def test_sealed_mail_shows_no_content_key():
    # SealedMail holds only what the server may see; nothing secret to hide.
    assert set(crypto.SealedMail.__dataclass_fields__) == {"body", "signature", "seeker_wrap", "volunteer_wrap"}
