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
from crypto import _primitives  # noqa: E402  (only for the deliberately inconsistent blob)
from crypto.labels import LABEL_IDENTITY_WRAP  # noqa: E402

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


def build() -> dict[str, str]:
    """File name -> exact file content."""
    return {
        "volunteer_keys.json": dump(volunteer_keys()),
        "identity_wrap.json": dump(identity_wrap()),
        "b64.json": dump(b64_cases()),
        "server_hashes.json": dump(server_hashes()),
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
