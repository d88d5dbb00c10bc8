"""Known-answer vectors for notes on mail threads (PROTOCOL.md 12.10): tests/vectors/mail_note.json.

The file is checked twice here: through the facade (`seal_mail_note`, `open_mail_note`,
`check_mail_note`), and by recomputing the formula of 12.10 from raw libsodium bindings and
hashlib, so that a mistake in crypto/ that the generator would copy into the vectors still shows.
The same file is checked in Chromium by tests/browser/test_mail_vectors_in_browser.py.

The vectors are made by this file: `python -m tests.crypto.test_mail_note_vectors` writes them
(deterministic: every key and every sealed box's ephemeral key is fixed).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import nacl.bindings as sodium
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402
from crypto.labels import LABEL_MAIL_NOTE_AD, LABEL_MAIL_NOTE_NONCE, LABEL_MAIL_NOTE_SIGNATURE  # noqa: E402

VECTOR_FILE = REPO / "tests" / "vectors" / "mail_note.json"
OUTCOMES = {
    "invalid-input": crypto.InvalidInput,
    "decryption-failed": crypto.DecryptionFailed,
    "bad-signature": crypto.BadSignature,
}
b64, d = crypto.b64encode, crypto.b64decode


def fixed(name: str, n: int) -> bytes:
    """`n` reproducible, random-looking bytes named `name` (not secret)."""
    return hashlib.blake2b(b"luisterend-oor test vectors/" + name.encode(), digest_size=n).digest()


def _identity(name: str) -> crypto.Identity:
    return crypto.identity_from_secrets(fixed(name + "-x25519", 32), fixed(name + "-ed25519", 32))


def _holder(identity: crypto.Identity) -> dict[str, str]:
    return {"x25519_secret": b64(identity.x25519_secret), "x25519_public": b64(identity.x25519_public),
            "ed25519_seed": b64(identity.ed25519_seed), "ed25519_public": b64(identity.ed25519_public)}


def _from_holder(fields: dict[str, str]) -> crypto.Identity:
    return crypto.identity_from_secrets(d(fields["x25519_secret"]), d(fields["ed25519_seed"]))


# -- the formula of 12.10, from raw libsodium ----------------------------------------------------

def _nonce(key: bytes) -> bytes:
    return hashlib.blake2b(LABEL_MAIL_NOTE_NONCE, key=key, digest_size=24).digest()


def _padded(content: bytes) -> bytes:
    raw = len(content).to_bytes(2, "big") + content
    return raw + bytes(-len(raw) % 256)


def _body(thread_id: bytes, key: bytes, padded: bytes) -> bytes:
    nonce = _nonce(key)
    return b"\x01" + nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, LABEL_MAIL_NOTE_AD + thread_id, nonce, key)


def _signature(writer: crypto.Identity, thread_id: bytes, body: bytes) -> bytes:
    message = LABEL_MAIL_NOTE_SIGNATURE + thread_id + hashlib.blake2b(body, digest_size=32).digest()
    return sodium.crypto_sign(message, writer.ed25519_seed + writer.ed25519_public)[:64]


def _sealed_box(message: bytes, recipient: bytes, ephemeral_secret: bytes) -> bytes:
    """crypto_box_seal with a fixed ephemeral key, so that a vector's wrap is reproducible."""
    ephemeral_public = sodium.crypto_scalarmult_base(ephemeral_secret)
    nonce = hashlib.blake2b(ephemeral_public + recipient, digest_size=24).digest()
    return ephemeral_public + sodium.crypto_box(message, nonce, recipient, ephemeral_secret)


def _note(thread_id: bytes, content: bytes, key: bytes, writer: crypto.Identity, reader_public: bytes,
          ephemeral: str) -> tuple[bytes, bytes, bytes]:
    body = _body(thread_id, key, _padded(content))
    return body, _signature(writer, thread_id, body), _sealed_box(key, reader_public, fixed(ephemeral, 32))


# -- the vector file -----------------------------------------------------------------------------

def make() -> dict:
    volunteer, colleague, stranger = _identity("note-volunteer"), _identity("note-colleague"), _identity("note-other")
    thread, other_thread = fixed("note-thread", 16), fixed("note-thread-2", 16)
    cases: list[dict] = []

    def seal(name: str, content: str, writer: crypto.Identity, reader: crypto.Identity) -> tuple[bytes, bytes]:
        key = fixed(name + "-key", 32)
        body, signature, wrap = _note(thread, content.encode(), key, writer, reader.x25519_public, name + "-eph")
        cases.append({"name": name, "kind": "seal", "expect": "ok", "thread_id": b64(thread), "content": content,
                      "key": b64(key), "writer": _holder(writer), "reader": _holder(reader),
                      "body": b64(body), "signature": b64(signature), "wrap": b64(wrap),
                      "note": b64(body + signature + wrap)})
        return body + signature + wrap, key

    own, own_key = seal("seal-own-note", "Afgesproken: morgen na 19:00 terugschrijven. Houdt van tekenen.",
                        volunteer, volunteer)
    seal("seal-empty-note", "", volunteer, volunteer)
    seal("seal-2000-characters", "\u00e9" * 2000, volunteer, volunteer)  # 4,000 bytes, 16 blocks
    seal("seal-largest-note", "n" * crypto.MAX_MAIL_NOTE_CONTENT, volunteer, volunteer)
    handed, _ = seal("seal-for-a-colleague", "Doorgegeven bij de overdracht: rustig aan beginnen.",
                     volunteer, colleague)

    def open_case(name: str, expect: str, note: bytes, reader: crypto.Identity, writer_public: bytes,
                  thread_id: bytes = thread, content: str | None = None) -> None:
        case = {"name": name, "kind": "open", "expect": expect, "thread_id": b64(thread_id), "note": b64(note),
                "reader": _holder(reader), "writer_ed25519_public": b64(writer_public)}
        if content is not None:
            case["content"] = content
        cases.append(case)

    text = "Afgesproken: morgen na 19:00 terugschrijven. Houdt van tekenen."
    open_case("control-own-note-opens", "ok", own, volunteer, volunteer.ed25519_public, content=text)
    open_case("control-colleague-opens-handed-note", "ok", handed, colleague, volunteer.ed25519_public,
              content="Doorgegeven bij de overdracht: rustig aan beginnen.")
    body_end = len(own) - 144

    def flipped(data: bytes, index: int) -> bytes:
        return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]

    # The shape, before anything else.
    open_case("version-0", "invalid-input", b"\x00" + own[1:], volunteer, volunteer.ed25519_public)
    open_case("version-2", "invalid-input", b"\x02" + own[1:], volunteer, volunteer.ed25519_public)
    open_case("truncated-by-one", "invalid-input", own[:-1], volunteer, volunteer.ed25519_public)
    open_case("extended-by-one", "invalid-input", own + b"\x00", volunteer, volunteer.ed25519_public)
    open_case("empty", "invalid-input", b"", volunteer, volunteer.ed25519_public)
    open_case("thread-id-15-bytes", "invalid-input", own, volunteer, volunteer.ed25519_public, thread_id=thread[:15])
    open_case("writer-key-too-short", "invalid-input", own, volunteer, volunteer.ed25519_public[:31])
    # The signature: thread, body and writer, before anything is decrypted.
    open_case("other-thread", "bad-signature", own, volunteer, volunteer.ed25519_public, thread_id=other_thread)
    open_case("nonce-flipped", "bad-signature", flipped(own, 1), volunteer, volunteer.ed25519_public)
    open_case("ciphertext-flipped", "bad-signature", flipped(own, 40), volunteer, volunteer.ed25519_public)
    open_case("tag-flipped", "bad-signature", flipped(own, body_end - 1), volunteer, volunteer.ed25519_public)
    open_case("signature-flipped", "bad-signature", flipped(own, body_end + 5), volunteer, volunteer.ed25519_public)
    open_case("another-writer", "bad-signature", own, volunteer, stranger.ed25519_public)
    # A note the server made itself: sealed to the volunteer, signed by a key of its own.
    forged_body, forged_sig, forged_wrap = _note(thread, b"Bel dit nummer.", fixed("forged-key", 32), stranger,
                                                 volunteer.x25519_public, "forged-eph")
    open_case("signed-by-someone-else", "bad-signature", forged_body + forged_sig + forged_wrap, volunteer,
              volunteer.ed25519_public)
    # The wrap and the key commitment.
    open_case("not-for-this-reader", "decryption-failed", own, colleague, volunteer.ed25519_public)
    open_case("wrap-flipped", "decryption-failed", flipped(own, len(own) - 3), volunteer, volunteer.ed25519_public)
    other_key_wrap = _sealed_box(fixed("some-other-key", 32), volunteer.x25519_public, fixed("swap-eph", 32))
    open_case("wrap-of-another-key", "decryption-failed", own[:-80] + other_key_wrap, volunteer,
              volunteer.ed25519_public)
    # Well signed, but its padding is wrong (only a dishonest writer makes these).
    for name, padded in [("length-field-too-large", (300).to_bytes(2, "big") + bytes(254)),
                         ("non-zero-padding", (3).to_bytes(2, "big") + b"abc" + b"\x01" + bytes(250))]:
        key = fixed(name + "-key", 32)
        body = _body(thread, key, padded)
        note = body + _signature(volunteer, thread, body) + _sealed_box(key, volunteer.x25519_public,
                                                                        fixed(name + "-eph", 32))
        open_case(name, "decryption-failed", note, volunteer, volunteer.ed25519_public)
    cases.append({"name": "seal-one-byte-too-long", "kind": "seal", "expect": "invalid-input",
                  "thread_id": b64(thread), "content_length": crypto.MAX_MAIL_NOTE_CONTENT + 1,
                  "key": b64(own_key), "writer": _holder(volunteer), "reader": _holder(volunteer)})
    return {
        "description": (
            "Notes on mail threads (PROTOCOL.md 12.10). nonce = BLAKE2b-192(key=note key, LABEL_MAIL_NOTE_NONCE); "
            "body = 0x01 || nonce || XChaCha20-Poly1305(note key, nonce, padded content, ad = LABEL_MAIL_NOTE_AD "
            "|| thread_id); signature = Ed25519-sign(writer, LABEL_MAIL_NOTE_SIGNATURE || thread_id || "
            "BLAKE2b-256(body)); wrap = crypto_box_seal(note key, reader's X25519 public key); note = body || "
            "signature || wrap. Holders give x25519_secret and ed25519_seed (identity_from_secrets). kind=seal: "
            "seal_mail_note(thread_id, UTF-8 of content, writer, reader.x25519_public, key=key) MUST give body and "
            "signature exactly (its wrap is random; the given wrap, made with a fixed ephemeral key, MUST open "
            "the given note for the reader with open_mail_note and give content), or fail as named for a "
            "content of content_length bytes. kind=open: open_mail_note(thread_id, note, reader, "
            "writer_ed25519_public) MUST give content (ok) or fail as named; check_mail_note(note) fails with "
            "invalid-input exactly for the invalid-input cases of well-sized thread ids."),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


def dump(document: dict) -> str:
    # As tests/tools/make_vectors.py writes every vector file (which calls make() for this one).
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def load() -> dict:
    return json.loads(VECTOR_FILE.read_text(encoding="utf-8"))


def cases(kind: str) -> list:
    if not VECTOR_FILE.exists():  # while the generator writes it for the first time
        return []
    return [pytest.param(c, id=c["name"]) for c in load()["cases"] if c["kind"] == kind]


def test_the_file_is_what_the_formula_makes() -> None:
    """The vector file is exactly what this file's raw-libsodium generator writes."""
    assert VECTOR_FILE.read_text(encoding="utf-8") == dump(make())


@pytest.mark.parametrize("case", cases("seal"))
def test_seal(case: dict) -> None:
    writer, reader = _from_holder(case["writer"]), _from_holder(case["reader"])
    thread_id = d(case["thread_id"])
    if case["expect"] != "ok":
        with pytest.raises(OUTCOMES[case["expect"]]):
            crypto.seal_mail_note(thread_id, b"x" * case["content_length"], writer, reader.x25519_public,
                                  key=d(case["key"]))
        return
    content = case["content"].encode()
    note = crypto.seal_mail_note(thread_id, content, writer, reader.x25519_public, key=d(case["key"]))
    assert note[:-crypto.MAIL_WRAP_BYTES] == d(case["body"]) + d(case["signature"])
    assert len(note) in crypto.MAIL_NOTE_LENGTHS
    crypto.check_mail_note(note)
    # The facade's own (random) wrap opens, and so does the file's fixed one.
    assert crypto.open_mail_note(thread_id, note, reader, writer.ed25519_public) == content
    assert crypto.open_mail_note(thread_id, d(case["note"]), reader, writer.ed25519_public) == content
    assert note[-crypto.MAIL_WRAP_BYTES:] != d(case["wrap"]), "the wrap must be random"
    # Without `key`, two seals of one content differ everywhere but in the version byte.
    again = crypto.seal_mail_note(thread_id, content, writer, reader.x25519_public)
    assert again[1:25] != note[1:25]


@pytest.mark.parametrize("case", cases("open"))
def test_open(case: dict) -> None:
    args = (d(case["thread_id"]), d(case["note"]), _from_holder(case["reader"]), d(case["writer_ed25519_public"]))
    if case["expect"] == "ok":
        assert crypto.open_mail_note(*args).decode() == case["content"]
        crypto.check_mail_note(args[1])
        return
    with pytest.raises(OUTCOMES[case["expect"]]):
        crypto.open_mail_note(*args)
    # The server's check refuses exactly the malformed notes (it holds no key, so nothing else).
    malformed = case["expect"] == "invalid-input" and len(args[0]) == 16 and len(args[3]) == 32
    if malformed:
        with pytest.raises(crypto.InvalidInput):
            crypto.check_mail_note(args[1])
    else:
        crypto.check_mail_note(args[1])


def test_the_note_and_message_labels_differ() -> None:
    """A note body is never a message body's twin: distinct labels for nonce, AD and signature."""
    from crypto.labels import LABEL_MAIL_AD, LABEL_MAIL_NONCE, LABEL_MAIL_SIGNATURE
    assert len({LABEL_MAIL_AD, LABEL_MAIL_NONCE, LABEL_MAIL_SIGNATURE, LABEL_MAIL_NOTE_AD, LABEL_MAIL_NOTE_NONCE,
                LABEL_MAIL_NOTE_SIGNATURE}) == 6


if __name__ == "__main__":
    VECTOR_FILE.write_text(dump(make()), encoding="utf-8")
    print(f"wrote {VECTOR_FILE}")
