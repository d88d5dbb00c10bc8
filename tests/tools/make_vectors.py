"""Generate the known-answer vector files in tests/vectors/ from fixed inputs.

Run from the repository root:

    python tests/tools/make_vectors.py          # rewrite the JSON files
    python tests/tools/make_vectors.py --check  # exit 1 if any file would change

It sits in tests/ (which may import anything: it reaches past the facade into
crypto._primitives and nacl) but not among the files it writes, so that
tests/vectors/ holds only the data that both languages read.

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

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402
from crypto import _primitives  # noqa: E402  (only for deliberately malformed inputs and cross-checks)
from crypto.labels import (  # noqa: E402
    LABEL_CHAT_AD,
    LABEL_CHAT_CHAIN_KEY,
    LABEL_CHAT_MESSAGE_KEY,
    LABEL_CHAT_LINK,
    LABEL_CHAT_OFFER,
    LABEL_IDENTITY_WRAP,
    LABEL_MAIL_AD,
    LABEL_MAIL_KEY_CERT,
    LABEL_MAIL_NONCE,
    LABEL_MAIL_SIGNATURE,
    LABEL_POW,
)

# Only for writing out sealed boxes with a fixed ephemeral key (mail wraps),
# which the facade deliberately cannot do.
import nacl.bindings  # noqa: E402

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
# link_key.json
# --------------------------------------------------------------------------


def link_key() -> dict:
    inviter = crypto.identity_from_secrets(fixed("link-x25519-1", 32), fixed("link-ed25519-1", 32))
    joiner = crypto.identity_from_secrets(fixed("link-x25519-2", 32), fixed("link-ed25519-2", 32))
    link_id = fixed("link-id-1", 16)
    i_pub = crypto.chat_keypair_from_secret(fixed("link-inviter-1", 32)).public
    j_pub = crypto.chat_keypair_from_secret(fixed("link-joiner-1", 32)).public

    def ok(name: str, identity: crypto.Identity, role: int, own: bytes, peer: bytes | None) -> dict:
        return {
            "name": name, "expect": "ok", "role": role,
            "x25519_secret": b64(identity.x25519_secret), "ed25519_seed": b64(identity.ed25519_seed),
            "ed25519_public": b64(identity.ed25519_public), "link_id": b64(link_id),
            "own_public": b64(own), "peer_public": None if peer is None else b64(peer),
            "signed_message": b64(LABEL_CHAT_LINK + link_id + bytes([role]) + own + (peer or bytes(32))),
            "signature": b64(crypto.sign_link_key(identity, link_id, role, own, peer)),
        }

    good = [ok("inviter", inviter, crypto.LINK_INVITER, i_pub, None),
            ok("joiner", joiner, crypto.LINK_JOINER, j_pub, i_pub)]
    i_sig, j_sig = (crypto.b64decode(c["signature"]) for c in good)

    def bad(name: str, expect: str, role: int, e: bytes, own: bytes, peer: bytes | None, signature: bytes,
            link: bytes = link_id) -> dict:
        return {"name": name, "expect": expect, "role": role, "ed25519_public": b64(e), "link_id": b64(link),
                "own_public": b64(own), "peer_public": None if peer is None else b64(peer),
                "signature": b64(signature)}

    J, INV = crypto.LINK_JOINER, crypto.LINK_INVITER
    cases = good + [
        bad("joiner-signature-flipped", "bad-signature", J, joiner.ed25519_public, j_pub, i_pub, _flip(j_sig, 5)),
        bad("joiner-other-inviter-key", "bad-signature", J, joiner.ed25519_public, j_pub, j_pub, j_sig),
        bad("joiner-link-id-flipped", "bad-signature", J, joiner.ed25519_public, j_pub, i_pub, j_sig,
            link=_flip(link_id, 0)),
        # The inviter's signature is no joiner's signature, and the other way round (the role byte).
        bad("inviter-signature-as-joiner", "bad-signature", J, inviter.ed25519_public, i_pub, bytes(32), i_sig),
        bad("inviter-by-other-identity", "bad-signature", INV, joiner.ed25519_public, i_pub, None, i_sig),
        bad("chat-offer-signature-as-link", "bad-signature", J, joiner.ed25519_public, j_pub, i_pub,
            _primitives.ed25519_sign_detached(joiner.ed25519_seed, LABEL_CHAT_OFFER + link_id + i_pub + j_pub)),
        bad("inviter-with-peer-key", "invalid-input", INV, inviter.ed25519_public, i_pub, j_pub, i_sig),
        bad("joiner-without-peer-key", "invalid-input", J, joiner.ed25519_public, j_pub, None, j_sig),
        bad("role-zero", "invalid-input", 0, joiner.ed25519_public, j_pub, i_pub, j_sig),
        bad("link-id-too-short", "invalid-input", J, joiner.ed25519_public, j_pub, i_pub, j_sig, link=link_id[:15]),
        bad("signature-truncated", "invalid-input", J, joiner.ed25519_public, j_pub, i_pub, j_sig[:63]),
    ]
    return {
        "description": (
            "Signed link keys (PROTOCOL.md 10.11). signature = Ed25519-sign(key of ed25519_seed, LABEL_CHAT_LINK || "
            "link_id(16) || role(1 byte: 1 inviter, 2 joiner) || own_public(32) || peer_public(32, all zero for the "
            "inviter, whose peer_public is null)). For expect=ok: identity_from_secrets gives ed25519_public, "
            "sign_link_key(identity, link_id, role, own_public, peer_public) gives signature and verify_link_key "
            "accepts it. Other cases: verify_link_key(ed25519_public, link_id, role, own_public, peer_public, "
            "signature) MUST fail as named."
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


# --------------------------------------------------------------------------
# mail_token.json, mail_keys.json, key_certificate.json, mail_messages.json
# --------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _token_of_values(data_values: list[int]) -> str:
    """A canonical token from 18 data values, with the check written out independently."""
    number = 0
    for value in data_values:
        number = number * 32 + value
    check = number % 1021
    return "".join(_CROCKFORD[v] for v in data_values) + _CROCKFORD[check // 32] + _CROCKFORD[check % 32]


def _token_of_bytes(data: bytes) -> str:
    number = int.from_bytes(data, "big") & ((1 << 90) - 1)
    return _token_of_values([(number >> (5 * (17 - i))) & 31 for i in range(18)])


def _grouped(token: str, sep: str = "-") -> str:
    return sep.join(token[i : i + 4] for i in range(0, 20, 4))


# A token whose data holds 0 and 1 (for the O/I/L readings), and random-looking ones.
TOKEN_01 = _token_of_values([0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 0, 12, 13])
TOKEN_1 = _token_of_bytes(fixed("mail-token-1", 12))
TOKEN_2 = _token_of_bytes(fixed("mail-token-2", 12))
DEPLOYMENT = "luisterend-oor.example"


def _substitute(token: str, index: int, symbol: str) -> str:
    return token[:index] + symbol + token[index + 1 :]


def _swap(token: str, index: int) -> str:
    return token[:index] + token[index + 1] + token[index] + token[index + 2 :]


def mail_token() -> dict:
    cases: list[dict] = []
    for name, data in [
        ("bytes-fixed-1", fixed("mail-token-1", 12)),
        ("bytes-fixed-2", fixed("mail-token-2", 12)),
        ("bytes-fixed-3", fixed("mail-token-3", 12)),
        ("bytes-all-zero", bytes(12)),
        ("bytes-all-ff", b"\xff" * 12),
        # The top 6 of the 96 bits are dropped: this is the all-zero token.
        ("bytes-only-top-6-bits-set", b"\xfc" + bytes(11)),
        # The lowest bit is the last data symbol's lowest bit.
        ("bytes-lowest-bit-set", bytes(11) + b"\x01"),
        ("bytes-bit-89-set", b"\x02" + bytes(11)),
    ]:
        token = _token_of_bytes(data)
        if crypto.token_code_from_bytes(data) != token:  # pragma: no cover
            raise SystemExit(f"token_code_from_bytes disagrees on {name}")
        cases.append({"name": name, "kind": "from-bytes", "expect": "ok", "random": b64(data),
                      "token": token, "formatted": _grouped(token)})

    def parse(name: str, text: str, token: str | None = None, reason: str | None = None) -> None:
        case: dict = {"name": name, "kind": "parse", "input": text}
        if reason is None:
            case.update(expect="ok", token=token, formatted=_grouped(token))
            if crypto.parse_token(text) != token:  # pragma: no cover
                raise SystemExit(f"parse_token disagrees on {name}")
        else:
            case.update(expect="invalid-token", reason=reason)
            try:
                crypto.parse_token(text)
            except crypto.InvalidToken as exc:
                if exc.reason != reason:  # pragma: no cover
                    raise SystemExit(f"parse_token gives reason {exc.reason} for {name}") from None
            else:  # pragma: no cover
                raise SystemExit(f"parse_token accepts {name}")
        cases.append(case)

    t1 = TOKEN_1
    parse("canonical", t1, t1)
    parse("formatted", _grouped(t1), t1)
    parse("lower-case", _grouped(t1).lower(), t1)
    parse("mixed-case-spaces", " ".join(t1[i : i + 4].lower() if i % 8 else t1[i : i + 4] for i in range(0, 20, 4)), t1)
    parse("dots-and-underscores", _grouped(t1, ".")[:12] + "_" + _grouped(t1, ".")[12:], t1)
    parse("tabs-newlines-around", "\t " + _grouped(t1, "\n") + "\r\n", t1)
    parse("separators-anywhere", "-".join(t1[i : i + 3] for i in range(0, 20, 3)) + "--", t1)
    parse("many-separators", "  --  ".join(t1) + " ", t1)
    parse("unicode-dashes", t1[:4] + "\u2013" + t1[4:8] + "\u2014" + t1[8:12] + "\u2010" + t1[12:16] + "\u2212" + t1[16:], t1)
    parse("no-break-spaces", _grouped(t1, "\u00a0"), t1)
    t01 = TOKEN_01
    parse("digits-zero-one", _grouped(t01), t01)
    parse("letter-o-for-zero", t01.replace("0", "O"), t01)
    parse("lower-o-for-zero", t01.replace("0", "o"), t01)
    parse("letter-i-for-one", t01.replace("1", "I"), t01)
    parse("letter-l-for-one", t01.replace("1", "L"), t01)
    parse("lower-i-and-l-for-one", t01.replace("1", "i", 1).replace("1", "l"), t01)
    parse("all-zero-token", "0000-0000-0000-0000-0000", "0" * 20)
    parse("all-zero-token-as-letter-o", "oooo oooo oooo oooo oooo", "0" * 20)

    parse("empty", "", reason="length")
    parse("only-separators", " - . _ ", reason="length")
    parse("19-symbols", t1[:19], reason="length")
    parse("21-symbols", t1 + "0", reason="length")
    parse("one-group-missing", _grouped(t1)[:19], reason="length")
    parse("symbol-doubled", t1[:5] + t1[4:], reason="length")
    parse("valid-token-with-181-spaces", t1 + " " * 181, reason="length")
    parse("letter-u", _substitute(t1, 3, "U"), reason="character")
    parse("lower-u", _substitute(t1, 3, "u"), reason="character")
    parse("exclamation-mark", t1 + "!", reason="character")
    parse("comma-separator", ",".join(t1[i : i + 4] for i in range(0, 20, 4)), reason="character")
    parse("slash-separator", "/".join(t1[i : i + 4] for i in range(0, 20, 4)), reason="character")
    parse("plus-and-equals", t1[:10] + "+=" + t1[10:], reason="character")
    parse("e-acute", _substitute(t1, 0, "\u00e9"), reason="character")
    parse("fullwidth-digit", _substitute(t01, 0, "\uff10"), reason="character")
    parse("cyrillic-a-lookalike", _substitute(t1, 0, "\u0410"), reason="character")
    parse("dotless-i", _substitute(t01, 1, "\u0131"), reason="character")
    parse("emoji", t1 + "\U0001f442", reason="character")
    parse("nul-character", t1[:10] + "\x00" + t1[10:], reason="character")
    parse("character-reported-before-length", "ABC!", reason="character")
    # One symbol changed, two neighbours swapped: always caught by the check.
    other = lambda ch: "Z" if ch != "Z" else "Y"  # noqa: E731
    parse("substitution-first-symbol", _substitute(t1, 0, other(t1[0])), reason="check")
    parse("substitution-last-data-symbol", _substitute(t1, 17, other(t1[17])), reason="check")
    parse("substitution-check-symbol", _substitute(t1, 19, other(t1[19])), reason="check")
    swap_at = next(i for i in range(19) if t1[i] != t1[i + 1])
    parse("adjacent-transposition", _swap(t1, swap_at), reason="check")
    parse("transposition-across-data-and-check", _swap(t01, 17) if t01[17] != t01[18] else _swap(t1, 17), reason="check")
    parse("u-typed-as-v", _substitute(TOKEN_2, 2, "V" if TOKEN_2[2] != "V" else "W"), reason="check")
    # Check values 1021..1023 never occur: "ZZ" is 1023.
    parse("check-value-1023", "0" * 18 + "ZZ", reason="check")
    parse("check-of-other-token", t1[:18] + TOKEN_2[18:] if t1[18:] != TOKEN_2[18:] else t1[:18] + "00", reason="check")
    parse("all-zero-data-check-01", "0" * 18 + "01", reason="check")
    return {
        "description": (
            "Mail return token codec. A token is 18 data symbols (90 bits) and 2 check symbols in "
            "Crockford base32 (0123456789ABCDEFGHJKMNPQRSTVWXYZ); check = N mod 1021, N the data "
            "symbols as a base-32 number (most significant first), written as two symbols "
            "(check // 32, check % 32). kind=from-bytes: token_code_from_bytes(random) (the low 90 "
            "of the 96 bits) MUST give token, and format_token(token) MUST give formatted. "
            "kind=parse: parse_token(input) MUST give token and format_token(input) formatted "
            "(expect ok), or raise InvalidToken with the given reason ('invalid-token')."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


def _holder(holder) -> dict:
    """The four key fields of an Identity or Mailbox."""
    return {
        "x25519_secret": b64(holder.x25519_secret),
        "x25519_public": b64(holder.x25519_public),
        "ed25519_seed": b64(holder.ed25519_seed),
        "ed25519_public": b64(holder.ed25519_public),
    }


def mail_keys() -> dict:
    cases: list[dict] = []

    def ok(name: str, token: str, deployment: str, params: crypto.KdfParams) -> None:
        mailbox = crypto.derive_mailbox(token, deployment, params)
        salt = hashlib.blake2b(b"luisterend-oor/v1/mail/salt" + deployment.encode("utf-8"), digest_size=16).digest()
        cases.append(
            {
                "name": name,
                "expect": "ok",
                "token": token,
                "canonical_token": crypto.parse_token(token),
                "deployment_id": deployment,
                "opslimit": params.opslimit,
                "memlimit": params.memlimit,
                "salt": b64(salt),
                "lookup_key": b64(mailbox.lookup_key),
                "lookup_hash": b64(crypto.mailbox_lookup_hash(mailbox.lookup_key)),
                **_holder(mailbox),
            }
        )

    def bad(name: str, expect: str, token: str, deployment: str, opslimit: int, memlimit: int, reason: str | None = None) -> None:
        case = {"name": name, "expect": expect, "token": token, "deployment_id": deployment,
                "opslimit": opslimit, "memlimit": memlimit}
        if reason is not None:
            case["reason"] = reason
        cases.append(case)

    ok("minimum-params", TOKEN_1, DEPLOYMENT, SMALL)
    # Any accepted spelling of the token MUST give exactly the keys above.
    ok("same-token-typed-sloppily", " " + _grouped(TOKEN_1, " ").lower() + " ", DEPLOYMENT, SMALL)
    ok("other-deployment-id", TOKEN_1, "test.luisterend-oor.example", SMALL)
    ok("other-token", TOKEN_2, DEPLOYMENT, SMALL)
    ok("token-with-o-i-l", TOKEN_01.replace("0", "O").replace("1", "l"), DEPLOYMENT, SMALL)
    ok("non-ascii-deployment-id", TOKEN_1, "oor-\u00e9\u00e9n-\U0001f442", SMALL)
    ok("small-params", TOKEN_1, DEPLOYMENT, MEDIUM)
    # Production parameters (3 passes, 64 MiB), so both sides are known to
    # agree at the real cost a help-seeker's phone pays.
    ok("production-params", TOKEN_2, DEPLOYMENT, crypto.PRODUCTION_KDF)
    bad("token-typo", "invalid-token", _substitute(TOKEN_1, 5, "Z" if TOKEN_1[5] != "Z" else "Y"), DEPLOYMENT, 1, 8192, "check")
    bad("token-too-short", "invalid-token", TOKEN_1[:19], DEPLOYMENT, 1, 8192, "length")
    bad("token-with-u", "invalid-token", _substitute(TOKEN_1, 5, "U"), DEPLOYMENT, 1, 8192, "character")
    bad("empty-deployment-id", "invalid-input", TOKEN_1, "", 1, 8192)
    bad("opslimit-zero", "invalid-input", TOKEN_1, DEPLOYMENT, 0, 8192)
    bad("memlimit-below-minimum", "invalid-input", TOKEN_1, DEPLOYMENT, 1, 8191)
    return {
        "description": (
            "Mailbox keys from a return token. salt = BLAKE2b-128(message = LABEL_MAIL_SALT || UTF-8 "
            "of deployment_id); master = Argon2id13(outlen 32, the canonical token (parse_token of "
            "token) as 20 ASCII bytes, salt, opslimit, memlimit); lookup_key = BLAKE2b-256(key=master, "
            "LABEL_MAIL_LOOKUP); x25519_secret = BLAKE2b-256(key=master, LABEL_MAIL_X25519); "
            "ed25519_seed = BLAKE2b-256(key=master, LABEL_MAIL_ED25519); the public keys as usual. "
            "lookup_hash = BLAKE2b-256(message = LABEL_MAIL_LOOKUP_HASH || lookup_key) (Python only). "
            "derive_mailbox(token, deployment_id, {opslimit, memlimit}) MUST give these (expect ok) or "
            "fail as named ('invalid-token' with reason is InvalidToken). minimum-params and "
            "same-token-typed-sloppily MUST give equal keys."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


def _seeker_mailbox() -> crypto.Mailbox:
    # The help-seeker of the message vectors is mail_keys.json's minimum-params case.
    return crypto.derive_mailbox(TOKEN_1, DEPLOYMENT, SMALL)


def _mail_volunteer(n: int) -> crypto.Identity:
    return crypto.identity_from_secrets(fixed(f"mail-volunteer-x25519-{n}", 32), fixed(f"mail-volunteer-ed25519-{n}", 32))


def key_certificate() -> dict:
    volunteer, other = _mail_volunteer(1), _mail_volunteer(2)
    seeker = _seeker_mailbox()

    def ok(name: str, holder) -> dict:
        certificate = crypto.sign_key_certificate(holder)
        return {"name": name, "expect": "ok", **_holder(holder),
                "signed_message": b64(LABEL_MAIL_KEY_CERT + holder.x25519_public), "certificate": b64(certificate)}

    oks = [ok("volunteer-1", volunteer), ok("volunteer-2", other), ok("mailbox-of-minimum-params", seeker)]
    cert = crypto.sign_key_certificate(volunteer)
    e_pub, x_pub = volunteer.ed25519_public, volunteer.x25519_public

    def bad(name: str, expect: str, *, e: bytes = e_pub, x: bytes = x_pub, c: bytes = cert) -> dict:
        return {"name": name, "expect": expect, "ed25519_public": b64(e), "x25519_public": b64(x), "certificate": b64(c)}

    s_value = int.from_bytes(cert[32:], "little") + _ED25519_L
    cases = oks + [
        bad("certificate-r-flipped", "bad-signature", c=_flip(cert, 0)),
        bad("certificate-s-flipped", "bad-signature", c=_flip(cert, 40)),
        bad("certificate-last-bit-flipped", "bad-signature", c=_flip(cert, 63, 0x01)),
        bad("certificate-s-plus-group-order", "bad-signature", c=cert[:32] + s_value.to_bytes(32, "little")),
        bad("certificate-all-zero", "bad-signature", c=bytes(64)),
        # A server handing out an X25519 key of its own with the real certificate.
        bad("x25519-public-replaced", "bad-signature", x=other.x25519_public),
        bad("x25519-public-flipped", "bad-signature", x=_flip(x_pub, 31, 0x80)),
        bad("other-identity-key", "bad-signature", e=other.ed25519_public),
        bad("certificate-of-other-volunteer", "bad-signature", c=crypto.sign_key_certificate(other)),
        bad("keys-swapped", "bad-signature", e=x_pub, x=e_pub),
        bad("signed-without-label", "bad-signature", c=_primitives.ed25519_sign_detached(volunteer.ed25519_seed, x_pub)),
        bad("signed-as-chat-offer", "bad-signature",
            c=_primitives.ed25519_sign_detached(volunteer.ed25519_seed, LABEL_CHAT_OFFER + x_pub)),
        bad("certificate-truncated", "invalid-input", c=cert[:63]),
        bad("certificate-extended", "invalid-input", c=cert + b"\x00"),
        bad("x25519-public-too-short", "invalid-input", x=x_pub[:31]),
        bad("ed25519-public-too-long", "invalid-input", e=e_pub + b"\x00"),
    ]
    return {
        "description": (
            "Key certificate: certificate = Ed25519-sign(key of ed25519_seed, LABEL_MAIL_KEY_CERT || "
            "x25519_public), detached, 64 bytes (signed_message is that message). expect ok: "
            "identity_from_secrets(x25519_secret, ed25519_seed) gives both public keys, "
            "sign_key_certificate gives certificate and verify_key_certificate(ed25519_public, "
            "x25519_public, certificate) accepts it. Other cases: verify_key_certificate MUST fail as "
            "named ('bad-signature' is BadSignature)."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


def _sealed_box(message: bytes, recipient_public: bytes, ephemeral_secret: bytes) -> bytes:
    """crypto_box_seal with a fixed ephemeral key, written out, so the file is reproducible.

    crypto_box_seal(m, pk) = epk || crypto_box(m, nonce = BLAKE2b-192(epk || pk), pk, esk).
    """
    epk = nacl.bindings.crypto_scalarmult_base(ephemeral_secret)
    nonce = hashlib.blake2b(epk + recipient_public, digest_size=24).digest()
    return epk + nacl.bindings.crypto_box(message, nonce, recipient_public, ephemeral_secret)


def _mail_position(thread_id: bytes, seq: int, author: int) -> bytes:
    return thread_id + seq.to_bytes(8, "big") + bytes([author])


def _mail_nonce(key: bytes) -> bytes:
    return hashlib.blake2b(LABEL_MAIL_NONCE, key=key, digest_size=24).digest()


def _mail_raw(key: bytes, padded: bytes, ad_position: bytes, *, nonce: bytes | None = None,
              ad_label: bytes = LABEL_MAIL_AD) -> bytes:
    """A body made by hand: 0x01 || nonce || AEAD(key, nonce, padded, ad_label || position)."""
    nonce = _mail_nonce(key) if nonce is None else nonce
    return b"\x01" + nonce + _primitives.aead_encrypt(key, nonce, padded, ad_label + ad_position)


def _mail_sign(signer, position: bytes, body: bytes) -> bytes:
    message = LABEL_MAIL_SIGNATURE + position + hashlib.blake2b(body, digest_size=32).digest()
    return _primitives.ed25519_sign_detached(signer.ed25519_seed, message)


MAIL_SCRIPT = [
    # (author, content)
    (crypto.AUTHOR_SEEKER, "Hallo, ik wil graag iets vertellen maar ik weet niet hoe."),
    (crypto.AUTHOR_VOLUNTEER, "Fijn dat je schrijft. Neem je tijd; ik lees alles wat je stuurt."),
    (crypto.AUTHOR_SEEKER, "Het gaat over thuis \U0001f614 en school\u2026"),
    (crypto.AUTHOR_VOLUNTEER, ""),
    (crypto.AUTHOR_SEEKER, _exact_text(254)),
    (crypto.AUTHOR_VOLUNTEER, _exact_text(255)),
    (crypto.AUTHOR_SEEKER, _exact_text(crypto.MAX_MAIL_CONTENT, "Een lange brief, regel na regel. ")),
    (crypto.AUTHOR_VOLUNTEER, "Dank je voor je vertrouwen. \u00c9\u00e9n ding nog: bel 113 als het niet meer gaat."),
]


def mail_messages() -> dict:
    seeker = _seeker_mailbox()
    volunteer, colleague, stranger = _mail_volunteer(1), _mail_volunteer(2), _mail_volunteer(3)
    thread = fixed("mail-thread-1", 16)
    holders = {crypto.AUTHOR_SEEKER: seeker, crypto.AUTHOR_VOLUNTEER: volunteer}
    cases: list[dict] = []
    sealed: list[dict] = []
    for seq, (author, text) in enumerate(MAIL_SCRIPT, start=1):
        key = fixed(f"mail-content-key-{seq}", 32)
        content = text.encode("utf-8")
        out = crypto.seal_mail(thread, seq, author, content, holders[author], seeker.x25519_public,
                               volunteer.x25519_public, key=key)
        position = _mail_position(thread, seq, author)
        # Cross-check the facade against the formula written out here.
        body = _mail_raw(key, _padded(content), position)
        if out.body != body or out.signature != _mail_sign(holders[author], position, body):  # pragma: no cover
            raise SystemExit(f"seal_mail disagrees with the written-out formula at seq {seq}")
        wraps = {
            "seeker_wrap": _sealed_box(key, seeker.x25519_public, fixed(f"mail-ephemeral-seeker-{seq}", 32)),
            "volunteer_wrap": _sealed_box(key, volunteer.x25519_public, fixed(f"mail-ephemeral-volunteer-{seq}", 32)),
        }
        for field, wrap in wraps.items():
            reader = seeker if field == "seeker_wrap" else volunteer
            if nacl.bindings.crypto_box_seal_open(wrap, reader.x25519_public, reader.x25519_secret) != key:  # pragma: no cover
                raise SystemExit("hand-made sealed box does not open")
        case = {
            "name": f"seal-seq-{seq}-{'seeker' if author == crypto.AUTHOR_SEEKER else 'volunteer'}",
            "kind": "seal",
            "expect": "ok",
            "thread_id": b64(thread),
            "seq": seq,
            "author": author,
            "content": text,
            "key": b64(key),
            "seeker": _holder(seeker),
            "volunteer": _holder(volunteer),
            "nonce": b64(body[1:25]),
            "padded_length": len(_padded(content)),
            "ad": b64(LABEL_MAIL_AD + position),
            "signed_message": b64(LABEL_MAIL_SIGNATURE + position + hashlib.blake2b(body, digest_size=32).digest()),
            "body": b64(body),
            "signature": b64(out.signature),
            **{field: b64(wrap) for field, wrap in wraps.items()},
        }
        cases.append(case)
        sealed.append({"seq": seq, "author": author, "key": key, "content": text, "body": body,
                       "signature": out.signature, **wraps})

    first, reply = sealed[0], sealed[1]
    hello = first["content"].encode("utf-8")
    k1 = first["key"]
    pos1 = _mail_position(thread, 1, crypto.AUTHOR_SEEKER)

    def opening(name: str, expect: str, *, m: dict = first, reader=volunteer, wrap: bytes | None = None,
                thread_id: bytes = thread, seq: int | None = None, author: int | None = None,
                body: bytes | None = None, signature: bytes | None = None, author_public: bytes | None = None) -> dict:
        author_value = m["author"] if author is None else author
        case = {
            "name": name,
            "kind": "open",
            "expect": expect,
            "thread_id": b64(thread_id),
            "seq": m["seq"] if seq is None else seq,
            "author": author_value,
            "body": b64(m["body"] if body is None else body),
            "signature": b64(m["signature"] if signature is None else signature),
            "wrap": b64(wrap if wrap is not None else (m["seeker_wrap"] if reader is seeker else m["volunteer_wrap"])),
            "reader": _holder(reader),
            "author_ed25519_public": b64(author_public if author_public is not None else holders[m["author"]].ed25519_public),
        }
        if expect == "ok":
            case["content"] = m["content"]
        return case

    def signed(name: str, body: bytes, *, key: bytes = k1, signer=seeker, wrap_key: bytes | None = None) -> dict:
        """A body signed correctly for seq 1 by the help-seeker, with its key wrapped for the volunteer:
        only the checks after the signature can refuse it."""
        wrap = _sealed_box(key if wrap_key is None else wrap_key, volunteer.x25519_public, fixed("mail-ephemeral-" + name, 32))
        return opening(name, "decryption-failed", body=body, signature=_mail_sign(signer, pos1, body), wrap=wrap)

    body1, sig1 = first["body"], first["signature"]
    s_value = int.from_bytes(sig1[32:], "little") + _ED25519_L
    other_key = fixed("mail-other-content-key", 32)
    cases += [
        opening("control-volunteer-opens", "ok"),
        opening("control-seeker-opens-own-message", "ok", reader=seeker),
        opening("control-seeker-opens-reply", "ok", m=reply, reader=seeker),
        opening("control-volunteer-opens-own-reply", "ok", m=reply),
        # Shape and version: refused before any signature check.
        opening("body-version-0", "invalid-input", body=b"\x00" + body1[1:]),
        opening("body-version-2", "invalid-input", body=b"\x02" + body1[1:]),
        opening("body-truncated-by-one", "invalid-input", body=body1[:-1]),
        opening("body-extended-by-one", "invalid-input", body=body1 + b"\x00"),
        opening("body-empty", "invalid-input", body=b""),
        opening("signature-truncated", "invalid-input", signature=sig1[:63]),
        opening("signature-extended", "invalid-input", signature=sig1 + b"\x00"),
        opening("wrap-truncated", "invalid-input", wrap=first["volunteer_wrap"][:79]),
        opening("wrap-extended", "invalid-input", wrap=first["volunteer_wrap"] + b"\x00"),
        opening("thread-id-15-bytes", "invalid-input", thread_id=thread[:15]),
        opening("seq-zero", "invalid-input", seq=0),
        opening("seq-above-maximum", "invalid-input", seq=2**53),
        opening("author-zero", "invalid-input", author=0),
        opening("author-three", "invalid-input", author=3),
        opening("author-key-too-short", "invalid-input", author_public=seeker.ed25519_public[:31]),
        # Anything the signature covers: the server cannot alter or move a message.
        opening("body-nonce-flipped", "bad-signature", body=_flip(body1, 1)),
        opening("body-ciphertext-first-byte-flipped", "bad-signature", body=_flip(body1, 25)),
        opening("body-ciphertext-middle-byte-flipped", "bad-signature", body=_flip(body1, 25 + 128)),
        opening("body-tag-last-byte-flipped", "bad-signature", body=_flip(body1, len(body1) - 1, 0x80)),
        opening("body-extended-by-a-block", "bad-signature", body=body1 + bytes(256)),
        opening("body-of-other-message", "bad-signature", body=sealed[2]["body"]),
        opening("signature-r-flipped", "bad-signature", signature=_flip(sig1, 0)),
        opening("signature-s-flipped", "bad-signature", signature=_flip(sig1, 32)),
        opening("signature-s-plus-group-order", "bad-signature", signature=sig1[:32] + s_value.to_bytes(32, "little")),
        opening("signature-all-zero", "bad-signature", signature=bytes(64)),
        opening("signature-of-other-message", "bad-signature", signature=sealed[2]["signature"]),
        opening("wrong-author-byte", "bad-signature", author=crypto.AUTHOR_VOLUNTEER),
        opening("wrong-seq", "bad-signature", seq=2),
        opening("wrong-thread", "bad-signature", thread_id=_flip(thread, 0)),
        opening("other-thread", "bad-signature", thread_id=fixed("mail-thread-2", 16)),
        opening("author-key-of-volunteer", "bad-signature", author_public=volunteer.ed25519_public),
        opening("author-key-x25519-instead-of-ed25519", "bad-signature", author_public=seeker.x25519_public),
        # The server writing as the volunteer with a key of its own.
        opening("reply-signed-by-stranger", "bad-signature", m=reply, reader=seeker,
                signature=_mail_sign(stranger, _mail_position(thread, 2, crypto.AUTHOR_VOLUNTEER), reply["body"])),
        opening("signed-without-label", "bad-signature",
                signature=_primitives.ed25519_sign_detached(seeker.ed25519_seed, pos1 + hashlib.blake2b(body1, digest_size=32).digest())),
        # The wrap: only the reader it was sealed to can open it, and only for this body.
        opening("wrap-of-other-reader", "decryption-failed", wrap=first["seeker_wrap"]),
        opening("wrong-reader-key", "decryption-failed", reader=colleague, wrap=first["volunteer_wrap"]),
        opening("stranger-with-own-wrap-of-other-key", "decryption-failed", reader=stranger,
                wrap=_sealed_box(other_key, stranger.x25519_public, fixed("mail-ephemeral-stranger", 32))),
        opening("wrap-ephemeral-key-flipped", "decryption-failed", wrap=_flip(first["volunteer_wrap"], 0)),
        opening("wrap-ciphertext-flipped", "decryption-failed", wrap=_flip(first["volunteer_wrap"], 40)),
        opening("wrap-tag-flipped", "decryption-failed", wrap=_flip(first["volunteer_wrap"], 79, 0x80)),
        opening("wrap-of-other-message", "decryption-failed", wrap=sealed[2]["volunteer_wrap"]),
        # Correctly signed bodies that break a rule after the signature.
        signed("signed-ad-seq-wrong", _mail_raw(k1, _padded(hello), _mail_position(thread, 2, crypto.AUTHOR_SEEKER))),
        signed("signed-ad-author-wrong", _mail_raw(k1, _padded(hello), _mail_position(thread, 1, crypto.AUTHOR_VOLUNTEER))),
        signed("signed-ad-thread-wrong", _mail_raw(k1, _padded(hello), _mail_position(_flip(thread, 15, 0x80), 1, 1))),
        signed("signed-ad-without-label", _mail_raw(k1, _padded(hello), pos1, ad_label=b"")),
        signed("signed-ad-with-chat-label", _mail_raw(k1, _padded(hello), pos1, ad_label=LABEL_CHAT_AD)),
        # A random nonce (not derived from the key): the key commitment fails.
        signed("signed-random-nonce", _mail_raw(k1, _padded(hello), pos1, nonce=fixed("mail-random-nonce", 24))),
        # Body made with one key, the other key wrapped: the commitment catches it.
        signed("signed-body-of-other-key", _mail_raw(other_key, _padded(hello), pos1)),
        signed("signed-wrap-of-other-key", body1, wrap_key=other_key),
        signed("signed-padding-nonzero", _mail_raw(k1, _padded(hello)[:-1] + b"\x01", pos1)),
        signed("signed-length-beyond-plaintext", _mail_raw(k1, (300).to_bytes(2, "big") + bytes(254), pos1)),
        signed("signed-length-above-maximum", _mail_raw(
            k1, (crypto.MAX_MAIL_CONTENT + 1).to_bytes(2, "big") + bytes(_PAD_BLOCK * 129 - 2), pos1)),
        signed("signed-one-padding-block-too-many", _mail_raw(k1, _padded(hello) + bytes(_PAD_BLOCK), pos1)),
        signed("signed-key-all-zero-wrapped", _mail_raw(k1, _padded(hello), pos1), wrap_key=bytes(32)),
    ]
    # A well-formed constructed message (same construction, right inputs) opens.
    control_body = _mail_raw(k1, _padded(hello), pos1)
    control = signed("control-constructed-message-opens", control_body)
    control["expect"], control["content"] = "ok", first["content"]
    cases.append(control)

    def rewrap(name: str, expect: str, m: dict, reader, wrap: bytes, new_reader) -> dict:
        return {
            "name": name,
            "kind": "rewrap",
            "expect": expect,
            "thread_id": b64(thread),
            "seq": m["seq"],
            "author": m["author"],
            "body": b64(m["body"]),
            "signature": b64(m["signature"]),
            "author_ed25519_public": b64(holders[m["author"]].ed25519_public),
            "content": m["content"],
            "wrap": b64(wrap),
            "reader": _holder(reader),
            "new_reader": _holder(new_reader),
        }

    cases += [
        # Handover: the volunteer's page re-wraps for a colleague.
        rewrap("handover-of-seeker-message", "ok", first, volunteer, first["volunteer_wrap"], colleague),
        rewrap("handover-of-own-reply", "ok", reply, volunteer, reply["volunteer_wrap"], colleague),
        # Reassignment: the help-seeker's page re-wraps for a new volunteer.
        rewrap("reassignment-by-seeker", "ok", reply, seeker, reply["seeker_wrap"], colleague),
        rewrap("rewrap-of-wrap-for-someone-else", "decryption-failed", first, volunteer, first["seeker_wrap"], colleague),
        rewrap("rewrap-by-stranger", "decryption-failed", first, stranger, first["volunteer_wrap"], stranger),
        rewrap("rewrap-of-tampered-wrap", "decryption-failed", first, volunteer, _flip(first["volunteer_wrap"], 50), colleague),
        rewrap("rewrap-of-truncated-wrap", "invalid-input", first, volunteer, first["volunteer_wrap"][:79], colleague),
    ]
    return {
        "description": (
            "Mail messages (PROTOCOL.md 12.4). position = thread_id(16) || seq(8, big-endian) || "
            "author(1: 1 help-seeker, 2 volunteer); nonce = BLAKE2b-192(key=content key, "
            "LABEL_MAIL_NONCE); body = 0x01 || nonce || XChaCha20-Poly1305(content key, nonce, padded "
            "content, ad = LABEL_MAIL_AD || position); signature = Ed25519-sign(author's key, "
            "LABEL_MAIL_SIGNATURE || position || BLAKE2b-256(body)); wraps = crypto_box_seal(content "
            "key, reader's X25519 public key). Holders (seeker, volunteer, reader, new_reader) give "
            "x25519_secret and ed25519_seed; build them with identity_from_secrets. kind=seal: "
            "seal_mail(thread_id, seq, author, UTF-8 of content, the author's holder, "
            "seeker.x25519_public, volunteer.x25519_public, key=key) MUST give body and signature "
            "exactly; its wraps are random, so instead the given seeker_wrap and volunteer_wrap (made "
            "once, with a fixed ephemeral key) MUST open for their reader with open_mail and give "
            "content. kind=open: open_mail(thread_id, seq, author, body, signature, wrap, reader, "
            "author_ed25519_public) MUST give content (ok) or fail as named. kind=rewrap: "
            "rewrap_mail_key(wrap, reader, new_reader.x25519_public) MUST fail as named, or (ok) give "
            "a new 80-byte wrap with which open_mail(..., new_reader, ...) gives content."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


def mail_note() -> dict:
    # PROTOCOL.md 12.10, made where the cases are explained (tests/crypto/test_mail_note_vectors.py).
    from tests.crypto.test_mail_note_vectors import make
    return make()


def transparency() -> dict:
    # PROTOCOL.md section 14, made where the cases are explained (tests/crypto/test_transparency_vectors.py).
    from tests.crypto.test_transparency_vectors import make
    return make()


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
        "link_key.json": dump(link_key()),
        "pow.json": dump(pow_cases()),
        "mail_token.json": dump(mail_token()),
        "mail_keys.json": dump(mail_keys()),
        "key_certificate.json": dump(key_certificate()),
        "mail_messages.json": dump(mail_messages()),
        "mail_note.json": dump(mail_note()),
        "transparency.json": dump(transparency()),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for filename, content in build().items():
        path = VECTORS / filename
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
