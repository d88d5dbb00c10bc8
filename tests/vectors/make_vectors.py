"""Generate the known-answer vector files in tests/vectors/ from fixed inputs.

Run from the repository root:

    python tests/vectors/make_vectors.py          # rewrite the JSON files
    python tests/vectors/make_vectors.py --check  # exit 1 if any file would change

Every input is fixed (derived from a name with stdlib BLAKE2b, or written
out), and randomness is pinned through the facade's test-only ``nonce``
parameter, so the output is byte-for-byte reproducible. tests/crypto checks
that re-running this script changes nothing, so the files cannot drift from
the Python implementation; the browser suite checks web/js/crypto.js against
the same files.
"""

from __future__ import annotations

import hashlib
import json
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402
from crypto import _primitives  # noqa: E402  (only for deliberately malformed inputs and cross-checks)
from crypto.labels import (  # noqa: E402
    LABEL_CHAT_AD,
    LABEL_CHAT_CHAIN_KEY,
    LABEL_CHAT_MESSAGE_KEY,
    LABEL_CHAT_OFFER,
    LABEL_IDENTITY_WRAP,
    LABEL_POW,
)

b64 = crypto.b64encode


def fixed(name: str, n: int) -> bytes:
    """``n`` reproducible, random-looking bytes named ``name`` (not secret)."""
    return hashlib.blake2b(b"luisterend-oor test vectors/" + name.encode(), digest_size=n).digest()


def dump(document: dict) -> str:
    # ensure_ascii: non-ASCII passphrases appear as \u escapes, so no editor
    # or tool can silently re-normalise them and break the NFC cases.
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


# --------------------------------------------------------------------------
# volunteer_keys.json
# --------------------------------------------------------------------------

SMALL = crypto.KdfParams(opslimit=1, memlimit=8192)
MEDIUM = crypto.KdfParams(opslimit=2, memlimit=65536)


def volunteer_keys() -> dict:
    inputs = [
        ("ascii-minimum-params", "correct horse battery staple", fixed("salt-1", 16), SMALL),
        ("ascii-small-params", "correct horse battery staple", fixed("salt-1", 16), MEDIUM),
        ("same-passphrase-other-salt", "correct horse battery staple", fixed("salt-2", 16), MEDIUM),
        ("zero-salt", "a", bytes(16), SMALL),
        ("dutch-diacritics-nfc", "\u00c9\u00e9n kopje thee bij de Ijssel, \u00fc\u00eb\u00ef", fixed("salt-3", 16), MEDIUM),
        # The same phrase with decomposed characters (e + U+0301 and so on)
        # MUST give exactly the keys of the case above, after NFC.
        ("dutch-diacritics-nfd", "E\u0301e\u0301n kopje thee bij de Ijssel, u\u0308e\u0308i\u0308", fixed("salt-3", 16), MEDIUM),
        # Hangul jamo compose under NFC: U+1100 U+1161 -> U+AC00.
        ("hangul-composed", "\uac00\ub098\ub2e4 passphrase", fixed("salt-4", 16), SMALL),
        ("hangul-decomposed", "\u1100\u1161\u1102\u1161\u1103\u1161 passphrase", fixed("salt-4", 16), SMALL),
        # Astral code points are surrogate pairs in JavaScript strings.
        ("emoji-astral", "golven \U0001f30a en een oor \U0001f442", fixed("salt-5", 16), SMALL),
        ("long-passphrase", "lange zin " * 50, fixed("salt-6", 16), SMALL),
        # The production parameters, so both sides are known to agree at the
        # real memory cost (64 MiB), not just at toy sizes.
        ("production-params", "een wachtzin voor productie", fixed("salt-7", 16), crypto.PRODUCTION_KDF),
    ]
    cases = []
    for name, passphrase, salt, params in inputs:
        keys = crypto.derive_volunteer_keys(passphrase, salt, params)
        cases.append(
            {
                "name": name,
                "expect": "ok",
                "passphrase": passphrase,
                "passphrase_nfc_utf8": b64(unicodedata.normalize("NFC", passphrase).encode("utf-8")),
                "salt": b64(salt),
                "opslimit": params.opslimit,
                "memlimit": params.memlimit,
                "auth_key": b64(keys.auth_key),
                "wrapping_key": b64(keys.wrapping_key),
            }
        )
    return {
        "description": (
            "Volunteer key derivation: master = Argon2id13(outlen 32, UTF-8 of the NFC-normalised "
            "passphrase, salt, opslimit, memlimit); auth_key = BLAKE2b-256(key=master, "
            "message=LABEL_VOLUNTEER_AUTH); wrapping_key = BLAKE2b-256(key=master, "
            "message=LABEL_VOLUNTEER_WRAP). passphrase_nfc_utf8 is the exact password input, for "
            "debugging. Cases *-nfc/*-nfd and hangul-composed/-decomposed MUST give equal keys."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


# --------------------------------------------------------------------------
# identity_wrap.json
# --------------------------------------------------------------------------

_PK = crypto.PUBLIC_KEY_BYTES
_HDR = 1 + 24  # version + nonce
_CT_END = _HDR + 64  # end of the encrypted secrets; the tag follows


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


def _ok_case(name: str, x_sec: bytes, e_seed: bytes, key: bytes, nonce: bytes) -> dict:
    identity = crypto.identity_from_secrets(x_sec, e_seed)
    blob = crypto.wrap_identity(key, identity, nonce=nonce)
    return {
        "name": name,
        "expect": "ok",
        "x25519_secret": b64(x_sec),
        "ed25519_seed": b64(e_seed),
        "wrapping_key": b64(key),
        "nonce": b64(nonce),
        "x25519_public": b64(identity.x25519_public),
        "ed25519_public": b64(identity.ed25519_public),
        "wrapped_identity": b64(blob),
    }


def identity_wrap() -> dict:
    ok = [
        _ok_case("fixed-1", fixed("x25519-1", 32), fixed("ed25519-1", 32), fixed("wrap-key-1", 32), fixed("nonce-1", 24)),
        _ok_case("fixed-2", fixed("x25519-2", 32), fixed("ed25519-2", 32), fixed("wrap-key-2", 32), fixed("nonce-2", 24)),
        _ok_case("all-zero-inputs", bytes(32), bytes(32), bytes(32), bytes(24)),
        _ok_case("all-ff-inputs", b"\xff" * 32, b"\xff" * 32, b"\xff" * 32, b"\xff" * 24),
        # A wrapping key really derived from a passphrase, to tie the files together.
        _ok_case(
            "key-from-passphrase",
            fixed("x25519-3", 32),
            fixed("ed25519-3", 32),
            crypto.derive_volunteer_keys("correct horse battery staple", fixed("salt-1", 16), SMALL).wrapping_key,
            fixed("nonce-3", 24),
        ),
    ]
    base = ok[0]
    key = crypto.b64decode(base["wrapping_key"])
    blob = crypto.b64decode(base["wrapped_identity"])
    x_pub = crypto.b64decode(base["x25519_public"])
    e_pub = crypto.b64decode(base["ed25519_public"])

    def bad(name: str, expect: str, *, k: bytes = key, b: bytes = blob, x: bytes = x_pub, e: bytes = e_pub) -> dict:
        return {
            "name": name,
            "expect": expect,
            "wrapping_key": b64(k),
            "x25519_public": b64(x),
            "ed25519_public": b64(e),
            "wrapped_identity": b64(b),
        }

    # A blob that authenticates under the key and the published public keys
    # but holds other secrets: only the recompute-and-compare rule catches it.
    other = crypto.identity_from_secrets(fixed("x25519-other", 32), fixed("ed25519-other", 32))
    nonce = fixed("nonce-mismatch", 24)
    mismatched = (
        bytes([crypto.WRAP_VERSION])
        + nonce
        + _primitives.aead_encrypt(
            key, nonce, other.x25519_secret + other.ed25519_seed, LABEL_IDENTITY_WRAP + x_pub + e_pub
        )
    )
    # Only one of the two secrets wrong.
    half = (
        bytes([crypto.WRAP_VERSION])
        + nonce
        + _primitives.aead_encrypt(
            key, nonce, crypto.b64decode(base["x25519_secret"]) + other.ed25519_seed, LABEL_IDENTITY_WRAP + x_pub + e_pub
        )
    )

    tamper = [
        bad("version-0", "invalid-input", b=bytes([0]) + blob[1:]),
        bad("version-2", "invalid-input", b=bytes([2]) + blob[1:]),
        bad("version-ff", "invalid-input", b=bytes([0xFF]) + blob[1:]),
        bad("nonce-first-byte-flipped", "decryption-failed", b=_flip(blob, 1)),
        bad("nonce-last-byte-flipped", "decryption-failed", b=_flip(blob, _HDR - 1, 0x80)),
        bad("ciphertext-first-byte-flipped", "decryption-failed", b=_flip(blob, _HDR)),
        bad("ciphertext-middle-byte-flipped", "decryption-failed", b=_flip(blob, _HDR + 32)),
        bad("ciphertext-last-byte-flipped", "decryption-failed", b=_flip(blob, _CT_END - 1, 0x80)),
        bad("tag-first-byte-flipped", "decryption-failed", b=_flip(blob, _CT_END)),
        bad("tag-last-byte-flipped", "decryption-failed", b=_flip(blob, len(blob) - 1, 0x80)),
        bad("x25519-public-flipped", "decryption-failed", x=_flip(x_pub, 0)),
        bad("x25519-public-last-bit", "decryption-failed", x=_flip(x_pub, _PK - 1, 0x80)),
        bad("ed25519-public-flipped", "decryption-failed", e=_flip(e_pub, 0)),
        bad("ed25519-public-last-bit", "decryption-failed", e=_flip(e_pub, _PK - 1, 0x80)),
        bad("public-keys-swapped", "decryption-failed", x=e_pub, e=x_pub),
        bad("public-keys-of-other-identity", "decryption-failed", x=other.x25519_public, e=other.ed25519_public),
        bad("wrong-key", "decryption-failed", k=fixed("wrap-key-2", 32)),
        bad("wrong-key-one-bit", "decryption-failed", k=_flip(key, 31, 0x80)),
        bad("blob-of-other-case", "decryption-failed", b=crypto.b64decode(ok[1]["wrapped_identity"])),
        bad("secrets-do-not-match-public-keys", "decryption-failed", b=mismatched),
        bad("ed25519-seed-does-not-match", "decryption-failed", b=half),
        bad("truncated-by-one", "invalid-input", b=blob[:-1]),
        bad("truncated-to-header", "invalid-input", b=blob[:_HDR]),
        bad("empty", "invalid-input", b=b""),
        bad("extended-by-one", "invalid-input", b=blob + b"\x00"),
        bad("extended-by-block", "invalid-input", b=blob + bytes(64)),
        bad("key-too-short", "invalid-input", k=key[:31]),
        bad("key-too-long", "invalid-input", k=key + b"\x00"),
        bad("x25519-public-too-short", "invalid-input", x=x_pub[:31]),
        bad("ed25519-public-too-long", "invalid-input", e=e_pub + b"\x00"),
    ]
    return {
        "description": (
            "Identity wrapping. wrapped_identity = 0x01 || nonce(24) || "
            "XChaCha20-Poly1305-IETF(key=wrapping_key, nonce, plaintext=x25519_secret || ed25519_seed, "
            "ad=LABEL_IDENTITY_WRAP || x25519_public || ed25519_public), 105 bytes. For expect=ok: the "
            "public keys follow from the secrets, wrapping with the given nonce gives wrapped_identity, "
            "and unwrapping gives the secrets back. For other cases: unwrap(wrapping_key, "
            "wrapped_identity, x25519_public, ed25519_public) MUST fail with the named error and "
            "return nothing."
        ),
        "checked_by": ["python", "browser"],
        "cases": ok + tamper,
    }


# --------------------------------------------------------------------------
# b64.json
# --------------------------------------------------------------------------


def b64_cases() -> dict:
    ok_inputs = [
        ("empty", b""),
        ("one-byte", b"\x00"),
        ("two-bytes", b"\x00\x01"),
        ("three-bytes", b"\x00\x01\x02"),
        ("url-safe-chars", b"\xfb\xff\xbf"),
        ("all-byte-values", bytes(range(256))),
        ("thirty-two-bytes", fixed("b64-32", 32)),
    ]
    cases: list[dict] = [
        {"name": name, "expect": "ok", "hex": data.hex(), "text": b64(data)} for name, data in ok_inputs
    ]
    rejects = [
        ("padding", "AA==", None),
        ("single-padding", "AAE=", None),
        ("standard-alphabet-plus", "+/8", None),
        ("standard-alphabet-slash", "//8", None),
        ("whitespace-inside", "AA AA", None),
        ("trailing-newline", "AAAA\n", None),
        ("impossible-length", "AAAAA", None),
        ("single-char", "A", None),
        ("non-canonical-one-byte", "AB", None),
        ("non-canonical-two-bytes", "AAB", None),
        ("non-ascii-letter", "A\u00e9AA", None),
        ("fullwidth-digit", "AA\uff10A", None),
        ("wrong-length-short", b64(bytes(31)), 32),
        ("wrong-length-long", b64(bytes(33)), 32),
    ]
    for name, text, length in rejects:
        case: dict = {"name": name, "expect": "invalid-input", "text": text}
        if length is not None:
            case["length"] = length
        cases.append(case)
    cases.append({"name": "right-length", "expect": "ok", "hex": bytes(32).hex(), "text": b64(bytes(32)), "length": 32})
    return {
        "description": (
            "The one binary-to-text encoding of the protocol: base64, URL-safe alphabet, no padding, "
            "canonical (libsodium's URLSAFE_NO_PADDING). Bytes are given in hex here because base64 "
            "is what is tested. ok: encode(hex) == text and decode(text, length) == hex. "
            "invalid-input: decode(text, length) MUST fail."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


# --------------------------------------------------------------------------
# server_hashes.json (Python only: the browser never computes these)
# --------------------------------------------------------------------------


def server_hashes() -> dict:
    secret = fixed("server-secret", 32)
    cases: list[dict] = []
    for name, token in [
        ("token-short", "abc"),
        ("token-typical", crypto.b64encode(fixed("token-1", 32))),
        ("token-non-ascii", "t\u00f6ken"),
    ]:
        cases.append({"name": name, "kind": "token-hash", "expect": "ok", "token": token, "hash": b64(crypto.hash_token(token))})
    for name, volunteer_name in [
        ("fake-salt-ascii", "anna"),
        ("fake-salt-nfc", "Ren\u00e9e"),
        ("fake-salt-nfd", "Rene\u0301e"),
        ("fake-salt-empty-name", ""),
    ]:
        cases.append(
            {
                "name": name,
                "kind": "fake-salt",
                "expect": "ok",
                "server_secret": b64(secret),
                "volunteer_name": volunteer_name,
                "salt": b64(crypto.fake_salt(secret, volunteer_name)),
            }
        )
    return {
        "description": (
            "Server-side hashes. token-hash: hash = BLAKE2b-256(message=LABEL_SERVER_TOKEN || UTF-8 "
            "of token), unkeyed. fake-salt: salt = BLAKE2b-128(key=server_secret, "
            "message=LABEL_FAKE_SALT || UTF-8 of NFC(volunteer_name)); fake-salt-nfc and -nfd MUST "
            "be equal."
        ),
        "checked_by": ["python"],
        "cases": cases,
    }


# --------------------------------------------------------------------------
# chat_session.json, chat_tamper.json, chat_offer.json
# --------------------------------------------------------------------------

_TAG = 16
_PAD_BLOCK = 256
_DIR = {"seeker": 0x01, "volunteer": 0x02}  # direction byte of what each side *sends*


def _exact_text(n: int, phrase: str = "Ik luister naar je, neem je tijd. ") -> str:
    """ASCII text of exactly ``n`` bytes (for the padding boundaries)."""
    return (phrase * (n // len(phrase) + 1))[:n]


def _padded(content: bytes) -> bytes:
    """The padded plaintext, written out independently of the facade."""
    size = -(-(2 + len(content)) // _PAD_BLOCK) * _PAD_BLOCK
    return len(content).to_bytes(2, "big") + content + bytes(size - 2 - len(content))


def _ratchet(chain: bytes) -> tuple[bytes, bytes]:
    return (
        _primitives.blake2b(LABEL_CHAT_MESSAGE_KEY, key=chain, digest_size=32),
        _primitives.blake2b(LABEL_CHAT_CHAIN_KEY, key=chain, digest_size=32),
    )


def _message_keys(chain: bytes, count: int) -> list[bytes]:
    """Message keys 1..count of a direction whose chain_0 is ``chain``."""
    keys = []
    for _ in range(count):
        message_key, chain = _ratchet(chain)
        keys.append(message_key)
    return keys


def _nonce(seq: int) -> bytes:
    return seq.to_bytes(8, "big") + bytes(16)


def _ad(chat_id: bytes, direction: int, seq: int, label: bytes = LABEL_CHAT_AD) -> bytes:
    return label + chat_id + bytes([direction]) + seq.to_bytes(8, "big")


def _kx(seeker: crypto.ChatKeyPair, volunteer: crypto.ChatKeyPair) -> dict[str, bytes]:
    s_rx, s_tx = _primitives.kx_client_session_keys(seeker.public, seeker.secret, volunteer.public)
    v_rx, v_tx = _primitives.kx_server_session_keys(volunteer.public, volunteer.secret, seeker.public)
    if s_tx != v_rx or s_rx != v_tx:  # pragma: no cover - crypto_kx invariant
        raise SystemExit("crypto_kx keys do not pair up")
    return {"seeker_rx": s_rx, "seeker_tx": s_tx, "volunteer_rx": v_rx, "volunteer_tx": v_tx}


CHAT_TRANSCRIPT_1 = [
    ("seeker", "Hallo, is daar iemand?"),
    ("volunteer", "Ja, ik ben er. Waar wil je over praten?"),
    ("seeker", ""),
    ("seeker", "Ik weet het niet goed \U0001f614"),
    # 2 + 254 = 256: fills one block exactly, no padding bytes.
    ("volunteer", _exact_text(254)),
    # 2 + 253 = 255: one padding byte.
    ("seeker", _exact_text(253)),
    # 2 + 255 = 257: the first length that needs a second block.
    ("volunteer", _exact_text(255)),
    ("seeker", "\u00c9\u00e9n moment\u2026 \U0001f30a\U0001f442\U0001f3fd \U0001f469\u200d\U0001f467 (zwj)"),
    ("volunteer", _exact_text(crypto.MAX_CHAT_CONTENT, "Luisteren zonder oordeel. ")),
    ("volunteer", "Nog \u00e9\u00e9n ding: je mag altijd terugkomen."),
    ("seeker", "Dank je wel."),
]

CHAT_TRANSCRIPT_2 = [
    # The volunteer may speak first; each direction counts from 1 on its own.
    ("volunteer", "Goedenavond, je spreekt met een vrijwilliger."),
    ("volunteer", "Schrijf maar wat je wilt."),
    ("seeker", "\U0001f44b"),
]


def _transcript_case(name: str, seeker: crypto.ChatKeyPair, volunteer: crypto.ChatKeyPair, chat_id: bytes, script) -> dict:
    kx = _kx(seeker, volunteer)
    chains = {"seeker": kx["seeker_tx"], "volunteer": kx["volunteer_tx"]}
    keys = {side: _message_keys(chain, len(script)) for side, chain in chains.items()}
    sessions = {
        "seeker": crypto.ChatSession.for_seeker(chat_id, seeker, volunteer.public),
        "volunteer": crypto.ChatSession.for_volunteer(chat_id, volunteer, seeker.public),
    }
    messages = []
    for sender, text in script:
        receiver = "volunteer" if sender == "seeker" else "seeker"
        content = text.encode("utf-8")
        seq, ciphertext = sessions[sender].seal(content)
        if sessions[receiver].open(seq, ciphertext) != content:  # pragma: no cover
            raise SystemExit(f"{name}: round trip failed at {sender} {seq}")
        # Cross-check the facade against the formula written out here.
        expected = _primitives.aead_encrypt(keys[sender][seq - 1], _nonce(seq), _padded(content), _ad(chat_id, _DIR[sender], seq))
        if expected != ciphertext:  # pragma: no cover
            raise SystemExit(f"{name}: facade and formula disagree at {sender} {seq}")
        messages.append(
            {
                "from": sender,
                "seq": seq,
                "content": text,
                "padded_length": len(_padded(content)),
                "message_key": b64(keys[sender][seq - 1]),
                "ciphertext": b64(ciphertext),
            }
        )
    return {
        "name": name,
        "expect": "ok",
        "chat_id": b64(chat_id),
        "seeker_secret": b64(seeker.secret),
        "seeker_public": b64(seeker.public),
        "volunteer_secret": b64(volunteer.secret),
        "volunteer_public": b64(volunteer.public),
        **{field: b64(value) for field, value in kx.items()},
        "messages": messages,
    }


def _chat_keys_1() -> tuple[crypto.ChatKeyPair, crypto.ChatKeyPair, bytes]:
    return (
        crypto.chat_keypair_from_secret(fixed("chat-seeker-1", 32)),
        crypto.chat_keypair_from_secret(fixed("chat-volunteer-1", 32)),
        fixed("chat-id-1", 16),
    )


def chat_session() -> dict:
    seeker, volunteer, chat_id = _chat_keys_1()
    cases = [
        _transcript_case("transcript-1", seeker, volunteer, chat_id, CHAT_TRANSCRIPT_1),
        _transcript_case(
            "transcript-2-volunteer-first",
            crypto.chat_keypair_from_secret(fixed("chat-seeker-2", 32)),
            crypto.chat_keypair_from_secret(fixed("chat-volunteer-2", 32)),
            fixed("chat-id-2", 16),
            CHAT_TRANSCRIPT_2,
        ),
    ]
    return {
        "description": (
            "Chat sessions. Public keys: X25519 base point times the secret (as crypto_kx_keypair). "
            "(seeker_rx, seeker_tx) = crypto_kx_client_session_keys(seeker_public, seeker_secret, "
            "volunteer_public); (volunteer_rx, volunteer_tx) = crypto_kx_server_session_keys("
            "volunteer_public, volunteer_secret, seeker_public); seeker_tx == volunteer_rx is chain_0 of "
            "direction 1 (seeker to volunteer), volunteer_tx == seeker_rx of direction 2. Message n of a "
            "direction: message_key = BLAKE2b-256(key=chain_{n-1}, message=LABEL_CHAT_MESSAGE_KEY), "
            "chain_n = BLAKE2b-256(key=chain_{n-1}, message=LABEL_CHAT_CHAIN_KEY); ciphertext = "
            "XChaCha20-Poly1305-IETF(key=message_key, nonce=seq as 8 bytes big-endian || 16 zero bytes, "
            "plaintext=length as 2 bytes big-endian || UTF-8 content || zero bytes up to the next "
            "multiple of 256 (padded_length), ad=LABEL_CHAT_AD || chat_id || direction byte || seq as 8 "
            "bytes big-endian). Replay the messages in order: the sender's seal(content) gives seq and "
            "ciphertext, the receiver's open(seq, ciphertext) gives content."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


def chat_tamper() -> dict:
    seeker, volunteer, chat_id = _chat_keys_1()
    transcript = _transcript_case("transcript-1", seeker, volunteer, chat_id, CHAT_TRANSCRIPT_1)
    frames = {"seeker": [], "volunteer": []}  # by sender
    for m in transcript["messages"]:
        frames[m["from"]].append({"seq": m["seq"], "ciphertext": m["ciphertext"], "content": m["content"]})
    s2v, v2s = frames["seeker"], frames["volunteer"]
    keys_s2v = _message_keys(crypto.b64decode(transcript["seeker_tx"]), 3)
    chain0_s2v = crypto.b64decode(transcript["seeker_tx"])

    def frame(f: dict) -> dict:
        return {"seq": f["seq"], "ciphertext": f["ciphertext"]}

    def case(
        name: str,
        expect: str,
        seq: int,
        ciphertext: bytes | str,
        *,
        receiver: str = "volunteer",
        before: list | None = None,
        then: dict | None = None,
        own: crypto.ChatKeyPair | None = None,
        peer_public: bytes | None = None,
        chat: bytes = chat_id,
    ) -> dict:
        if own is None:
            own = volunteer if receiver == "volunteer" else seeker
        if peer_public is None:
            peer_public = seeker.public if receiver == "volunteer" else volunteer.public
        out = {
            "name": name,
            "expect": expect,
            "receiver": receiver,
            "chat_id": b64(chat),
            "own_secret": b64(own.secret),
            "peer_public": b64(peer_public),
            "before": [frame(f) for f in (before or [])],
            "seq": seq,
            "ciphertext": ciphertext if isinstance(ciphertext, str) else b64(ciphertext),
        }
        if then is not None:
            out["then"] = dict(then)
        return out

    ct2 = crypto.b64decode(s2v[1]["ciphertext"])  # seq 2, the empty message (one block)

    def at_seq_2(name: str, expect: str, ciphertext: bytes) -> dict:
        # After frame 1; the real frame 2 must still open afterwards.
        return case(name, expect, 2, ciphertext, before=s2v[:1], then=s2v[1])

    def raw(key: bytes, padded: bytes, *, nonce_seq: int, ad: bytes) -> bytes:
        return _primitives.aead_encrypt(key, _nonce(nonce_seq), padded, ad)

    hello = _padded(b"hoi")

    def with_byte(data: bytes, index: int, value: int) -> bytes:
        out = bytearray(data)
        out[index] = value
        return bytes(out)

    def length_field(padded_size: int, length: int) -> bytes:
        return length.to_bytes(2, "big") + bytes(padded_size - 2)

    other = crypto.chat_keypair_from_secret(fixed("chat-other-1", 32))
    cases = [
        # Bytes of the ciphertext and tag.
        at_seq_2("ciphertext-first-byte-flipped", "decryption-failed", _flip(ct2, 0)),
        at_seq_2("ciphertext-last-byte-flipped", "decryption-failed", _flip(ct2, len(ct2) - _TAG - 1, 0x80)),
        at_seq_2("tag-first-byte-flipped", "decryption-failed", _flip(ct2, len(ct2) - _TAG)),
        at_seq_2("tag-last-byte-flipped", "decryption-failed", _flip(ct2, len(ct2) - 1, 0x80)),
        at_seq_2("extended-by-a-block", "decryption-failed", ct2 + bytes(_PAD_BLOCK)),
        # Sizes no sender produces: refused before decrypting.
        at_seq_2("truncated-by-one", "invalid-input", ct2[:-1]),
        at_seq_2("truncated-to-the-tag", "invalid-input", ct2[-_TAG:]),
        at_seq_2("empty", "invalid-input", b""),
        at_seq_2("extended-by-one", "invalid-input", ct2 + b"\x00"),
        at_seq_2("longer-than-maximum", "invalid-input", bytes(34 * _PAD_BLOCK + _TAG)),
        # Order: only seq == received + 1.
        case("replay-of-seq-1", "decryption-failed", 1, s2v[0]["ciphertext"], before=s2v[:1], then=s2v[1]),
        case("seq-1-ciphertext-as-seq-2", "decryption-failed", 2, s2v[0]["ciphertext"], before=s2v[:1], then=s2v[1]),
        case("skip-to-seq-3", "decryption-failed", 3, s2v[2]["ciphertext"], before=s2v[:1], then=s2v[1]),
        case("first-frame-is-seq-2", "decryption-failed", 2, s2v[1]["ciphertext"], then=s2v[0]),
        case("replay-of-older-frame", "decryption-failed", 2, s2v[1]["ciphertext"], before=s2v[:3], then=s2v[3]),
        case("seq-zero", "invalid-input", 0, s2v[0]["ciphertext"], then=s2v[0]),
        case("seq-negative", "invalid-input", -1, s2v[0]["ciphertext"], then=s2v[0]),
        case("seq-above-maximum", "invalid-input", 2**53, s2v[0]["ciphertext"], then=s2v[0]),
        # Reflection: a frame I sent, fed back to me.
        case("reflected-to-seeker", "decryption-failed", 1, s2v[0]["ciphertext"], receiver="seeker", then=v2s[0]),
        case("reflected-to-volunteer", "decryption-failed", 1, v2s[0]["ciphertext"], receiver="volunteer", then=s2v[0]),
        # Another chat, another peer, roles mixed up.
        case("wrong-chat-id", "decryption-failed", 1, s2v[0]["ciphertext"], chat=_flip(chat_id, 0)),
        case("wrong-peer-public-key", "decryption-failed", 1, s2v[0]["ciphertext"], peer_public=other.public),
        case(
            "roles-swapped",
            "decryption-failed",
            1,
            s2v[0]["ciphertext"],
            receiver="seeker",
            own=volunteer,
            peer_public=seeker.public,
        ),
        # Valid encryptions with one input of the formula wrong.
        case(
            "ad-direction-byte-wrong",
            "decryption-failed",
            1,
            raw(keys_s2v[0], hello, nonce_seq=1, ad=_ad(chat_id, 0x02, 1)),
            then=s2v[0],
        ),
        case(
            "ad-seq-wrong",
            "decryption-failed",
            1,
            raw(keys_s2v[0], hello, nonce_seq=1, ad=_ad(chat_id, 0x01, 2)),
            then=s2v[0],
        ),
        case(
            "ad-chat-id-wrong",
            "decryption-failed",
            1,
            raw(keys_s2v[0], hello, nonce_seq=1, ad=_ad(_flip(chat_id, 15, 0x80), 0x01, 1)),
            then=s2v[0],
        ),
        case(
            "ad-without-label",
            "decryption-failed",
            1,
            raw(keys_s2v[0], hello, nonce_seq=1, ad=_ad(chat_id, 0x01, 1, label=b"")),
            then=s2v[0],
        ),
        case(
            "nonce-seq-wrong",
            "decryption-failed",
            1,
            raw(keys_s2v[0], hello, nonce_seq=2, ad=_ad(chat_id, 0x01, 1)),
            then=s2v[0],
        ),
        case(
            "chain-key-used-as-message-key",
            "decryption-failed",
            1,
            raw(chain0_s2v, hello, nonce_seq=1, ad=_ad(chat_id, 0x01, 1)),
            then=s2v[0],
        ),
        case(
            "message-key-of-step-2-at-seq-1",
            "decryption-failed",
            1,
            raw(keys_s2v[1], hello, nonce_seq=1, ad=_ad(chat_id, 0x01, 1)),
            then=s2v[0],
        ),
    ]
    # Authentic plaintexts (right key, nonce and AD for seq 2) that break the
    # padding rules: only the unpadding checks catch these.
    good = {"nonce_seq": 2, "ad": _ad(chat_id, 0x01, 2)}
    bad_plaintexts = [
        ("padding-last-byte-nonzero", with_byte(hello, _PAD_BLOCK - 1, 0x01)),
        ("padding-first-byte-nonzero", with_byte(hello, 2 + 3, 0x80)),
        ("length-field-beyond-plaintext", length_field(_PAD_BLOCK, 300)),
        ("length-field-ffff", length_field(_PAD_BLOCK, 0xFFFF)),
        ("length-field-above-maximum", length_field(33 * _PAD_BLOCK, crypto.MAX_CHAT_CONTENT + 1)),
        ("one-padding-block-too-many", _padded(b"hoi") + bytes(_PAD_BLOCK)),
        ("254-bytes-in-two-blocks", _padded(_exact_text(254).encode()) + bytes(_PAD_BLOCK)),
    ]
    for name, padded in bad_plaintexts:
        cases.append(at_seq_2(name, "decryption-failed", raw(keys_s2v[1], padded, **good)))
    # The control: the same construction with a well-formed plaintext opens.
    control = raw(keys_s2v[1], hello, **good)
    cases.append(
        case(
            "control-constructed-frame-opens",
            "ok",
            2,
            control,
            before=s2v[:1],
            then={"seq": 3, "ciphertext": s2v[2]["ciphertext"], "content": s2v[2]["content"]},
        )
    )
    cases[-1]["content"] = "hoi"
    return {
        "description": (
            "Chat frames a receiver MUST reject, built on transcript-1 of chat_session.json. Build the "
            "receiving session: receiver 'seeker' -> ChatSession.for_seeker(chat_id, "
            "keypair(own_secret), peer_public), 'volunteer' -> for_volunteer(...). Open every frame of "
            "'before' (all succeed), then open(seq, ciphertext): it MUST fail with the named error "
            "(expect 'ok': it MUST give 'content'), and 'received' MUST still be len(before) "
            "afterwards. If 'then' is present, open(then.seq, then.ciphertext) MUST then succeed "
            "with then.content: a rejected frame does not advance or break the session."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


def _offer_ok(name: str, identity: crypto.Identity, chat_id: bytes, seeker_public: bytes, volunteer_public: bytes) -> dict:
    signature = crypto.sign_chat_offer(identity, chat_id, seeker_public, volunteer_public)
    return {
        "name": name,
        "expect": "ok",
        "x25519_secret": b64(identity.x25519_secret),
        "ed25519_seed": b64(identity.ed25519_seed),
        "ed25519_public": b64(identity.ed25519_public),
        "chat_id": b64(chat_id),
        "seeker_public": b64(seeker_public),
        "volunteer_public": b64(volunteer_public),
        "signed_message": b64(LABEL_CHAT_OFFER + chat_id + seeker_public + volunteer_public),
        "signature": b64(signature),
    }


# The order of the Ed25519 group (RFC 8032 "L").
_ED25519_L = 2**252 + 27742317777372353535851937790883648493


def chat_offer() -> dict:
    seeker, volunteer, chat_id = _chat_keys_1()
    identity = crypto.identity_from_secrets(fixed("offer-x25519-1", 32), fixed("offer-ed25519-1", 32))
    other_identity = crypto.identity_from_secrets(fixed("offer-x25519-2", 32), fixed("offer-ed25519-2", 32))
    ok = [
        # Ties the files together: the keys and chat id of chat_session.json transcript-1.
        _offer_ok("offer-for-transcript-1", identity, chat_id, seeker.public, volunteer.public),
        _offer_ok(
            "offer-other-volunteer",
            other_identity,
            fixed("chat-id-3", 16),
            crypto.chat_keypair_from_secret(fixed("chat-seeker-3", 32)).public,
            crypto.chat_keypair_from_secret(fixed("chat-volunteer-3", 32)).public,
        ),
        _offer_ok("offer-zero-chat-id", identity, bytes(16), seeker.public, volunteer.public),
    ]
    base = ok[0]
    sig = crypto.b64decode(base["signature"])
    e_pub = identity.ed25519_public
    s_pub, v_pub = seeker.public, volunteer.public

    def bad(name: str, expect: str, *, e=e_pub, c=chat_id, s=s_pub, v=v_pub, signature=sig) -> dict:
        return {
            "name": name,
            "expect": expect,
            "ed25519_public": b64(e),
            "chat_id": b64(c),
            "seeker_public": b64(s),
            "volunteer_public": b64(v),
            "signature": b64(signature),
        }

    s_value = int.from_bytes(sig[32:], "little") + _ED25519_L
    non_canonical = sig[:32] + s_value.to_bytes(32, "little")
    message = chat_id + s_pub + v_pub
    cases = ok + [
        bad("signature-r-first-byte-flipped", "bad-signature", signature=_flip(sig, 0)),
        bad("signature-s-first-byte-flipped", "bad-signature", signature=_flip(sig, 32)),
        bad("signature-s-last-byte-flipped", "bad-signature", signature=_flip(sig, 63, 0x01)),
        # S + L verifies the same equation; libsodium refuses it (no malleability).
        bad("signature-s-plus-group-order", "bad-signature", signature=non_canonical),
        bad("signature-all-zero", "bad-signature", signature=bytes(64)),
        bad("chat-id-flipped", "bad-signature", c=_flip(chat_id, 0)),
        bad("seeker-public-flipped", "bad-signature", s=_flip(s_pub, 0)),
        bad("volunteer-public-flipped", "bad-signature", v=_flip(v_pub, 31, 0x80)),
        bad("public-keys-swapped", "bad-signature", s=v_pub, v=s_pub),
        # A man in the middle's own ephemeral key, with the real signature.
        bad("volunteer-public-replaced", "bad-signature", v=crypto.chat_keypair_from_secret(fixed("chat-other-1", 32)).public),
        bad("other-volunteer-identity", "bad-signature", e=other_identity.ed25519_public),
        bad("x25519-public-as-ed25519-key", "bad-signature", e=identity.x25519_public),
        bad("ed25519-public-identity-point", "bad-signature", e=b"\x01" + bytes(31)),
        bad("signature-of-other-case", "bad-signature", signature=crypto.b64decode(ok[1]["signature"])),
        bad("signed-without-label", "bad-signature", signature=_primitives.ed25519_sign_detached(identity.ed25519_seed, message)),
        bad(
            "signed-with-other-label",
            "bad-signature",
            signature=_primitives.ed25519_sign_detached(identity.ed25519_seed, LABEL_IDENTITY_WRAP + message),
        ),
        bad("signature-truncated", "invalid-input", signature=sig[:63]),
        bad("signature-extended", "invalid-input", signature=sig + b"\x00"),
        bad("ed25519-public-too-short", "invalid-input", e=e_pub[:31]),
        bad("chat-id-too-short", "invalid-input", c=chat_id[:15]),
        bad("chat-id-too-long", "invalid-input", c=chat_id + b"\x00"),
        bad("seeker-public-too-long", "invalid-input", s=s_pub + b"\x00"),
        bad("volunteer-public-empty", "invalid-input", v=b""),
    ]
    return {
        "description": (
            "Signed chat offer. signature = Ed25519-sign(key of ed25519_seed, LABEL_CHAT_OFFER || "
            "chat_id(16) || seeker_public(32) || volunteer_public(32)), detached, 64 bytes "
            "(signed_message is that message). For expect=ok: identity_from_secrets(x25519_secret, "
            "ed25519_seed) gives ed25519_public, sign_chat_offer gives signature, and verify_chat_offer "
            "accepts it. For other cases: verify_chat_offer(ed25519_public, chat_id, seeker_public, "
            "volunteer_public, signature) MUST fail as named ('bad-signature' is BadSignature)."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


# --------------------------------------------------------------------------
# pow.json
# --------------------------------------------------------------------------


def _pow_hash(challenge: bytes, nonce: bytes) -> bytes:
    return _primitives.blake2b(LABEL_POW + challenge + nonce, digest_size=32)


def _leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def pow_cases() -> dict:
    challenge = fixed("pow-challenge-1", 32)
    cases: list[dict] = []
    solved: dict[int, bytes] = {}
    for name, chal, bits in [
        ("solve-bits-0", challenge, 0),
        ("solve-bits-1", challenge, 1),
        ("solve-bits-4", challenge, 4),
        ("solve-bits-8", challenge, 8),
        ("solve-bits-12", challenge, 12),
        ("solve-bits-16", challenge, 16),
        ("solve-shortest-challenge", fixed("pow-challenge-16", 16), 8),
        ("solve-longest-challenge", fixed("pow-challenge-64", 64), 8),
    ]:
        nonce = crypto.pow_solve(chal, bits)
        digest = _pow_hash(chal, nonce)
        if chal == challenge:
            solved[bits] = nonce
        cases.append(
            {
                "name": name,
                "kind": "solve",
                "expect": "ok",
                "challenge": b64(chal),
                "bits": bits,
                "nonce": b64(nonce),
                "counter": int.from_bytes(nonce, "big"),
                "hash": b64(digest),
                "leading_zero_bits": _leading_zero_bits(digest),
            }
        )

    def check(name: str, expect: str, chal: bytes, nonce: bytes, bits: int) -> dict:
        out: dict = {"name": name, "kind": "check", "expect": expect, "challenge": b64(chal), "bits": bits, "nonce": b64(nonce)}
        if expect != "invalid-input":
            digest = _pow_hash(chal, nonce)
            if (_leading_zero_bits(digest) >= bits) != (expect == "ok"):  # pragma: no cover
                raise SystemExit(f"pow case {name} does not have the outcome it claims")
            out["hash"] = b64(digest)
            out["leading_zero_bits"] = _leading_zero_bits(digest)
        return out

    n16 = solved[16]
    exact = _leading_zero_bits(_pow_hash(challenge, n16))
    previous = (int.from_bytes(n16, "big") - 1).to_bytes(8, "big")
    cases += [
        check("solution-at-its-exact-bits", "ok", challenge, n16, exact),
        check("solution-one-bit-short", "fail", challenge, n16, exact + 1),
        check("previous-counter", "fail", challenge, previous, 16),
        check("little-endian-counter", "fail", challenge, n16[::-1], 16),
        check("other-challenge", "fail", fixed("pow-challenge-2", 32), n16, 16),
        check("bits-0-any-nonce", "ok", challenge, b"\xff" * 8, 0),
        check("bits-32-zero-nonce", "fail", challenge, bytes(8), 32),
        check("nonce-7-bytes", "invalid-input", challenge, n16[:7], 16),
        check("nonce-9-bytes", "invalid-input", challenge, n16 + b"\x00", 16),
        check("nonce-empty", "invalid-input", challenge, b"", 0),
        check("bits-33", "invalid-input", challenge, n16, 33),
        check("bits-negative", "invalid-input", challenge, n16, -1),
        check("challenge-15-bytes", "invalid-input", challenge[:15], n16, 8),
        check("challenge-65-bytes", "invalid-input", challenge + challenge + b"\x00", n16, 8),
        check("challenge-empty", "invalid-input", b"", n16, 0),
    ]
    return {
        "description": (
            "Proof-of-work. hash = BLAKE2b-256(message = LABEL_POW || challenge || nonce), unkeyed; "
            "a nonce (8 bytes) passes for `bits` if hash has at least `bits` leading zero bits, most "
            "significant bit of the first byte first. kind=solve: pow_solve(challenge, bits) / "
            "solvePow counts up from 0 (nonce = counter as 8 bytes big-endian) and MUST return "
            "exactly `nonce` (the first passing counter); pow_check(challenge, nonce, bits) is true. "
            "kind=check: pow_check(challenge, nonce, bits) is true ('ok'), false ('fail') or raises "
            "InvalidInput ('invalid-input': challenge not 16..64 bytes, bits not 0..32, nonce not 8 "
            "bytes)."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


def build() -> dict[str, str]:
    """File name -> exact file content."""
    return {
        "volunteer_keys.json": dump(volunteer_keys()),
        "identity_wrap.json": dump(identity_wrap()),
        "b64.json": dump(b64_cases()),
        "server_hashes.json": dump(server_hashes()),
        "chat_session.json": dump(chat_session()),
        "chat_tamper.json": dump(chat_tamper()),
        "chat_offer.json": dump(chat_offer()),
        "pow.json": dump(pow_cases()),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for filename, content in build().items():
        path = HERE / filename
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        stale.append(filename)
        if not check:
            path.write_text(content, encoding="utf-8", newline="\n")
    if check and stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    if not check:
        print("rewrote: " + (", ".join(stale) if stale else "nothing (all up to date)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
