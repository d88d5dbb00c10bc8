"""One rule, one place: the relay and the server take what they share with the protocol from `crypto`.

Issue 11, findings 8 and 9. `crypto/PROTOCOL.md` 10.8 says the relay MUST refuse a `ct`
that is not canonical base64 (section 1); the relay used its own regular expression,
which let through a last character with non-zero unused bits and a trailing newline.
Now it asks `crypto`, and these tests hold it to that: the relay's verdict on a base64
field is crypto's verdict, a non-canonical `ct` gets an error frame and is not relayed,
and no server module writes the protocol's numbers (2^53 - 1, the KDF floor, the mail
sizes) or its base64 alphabet again.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from server.chat import frames
from server.chat.frames import SEEKER_FRAMES, VOLUNTEER_FRAMES, FrameError, parse
from tests.server.test_chat_relay import relay, seeker, seeker_http, volunteer_on_duty  # noqa: F401 (fixtures)

REPO = Path(__file__).resolve().parents[2]
B64_CASES = json.loads((REPO / "tests" / "vectors" / "b64.json").read_text(encoding="utf-8"))["cases"]
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CHAT = crypto.b64encode(bytes(range(16)))


def ct_of(k: int, fill: int = 0x5A) -> str:
    return crypto.b64encode(bytes([fill]) * (256 * k + 16))


def with_unused_bits(text: str) -> str:
    """The same string with its last character's unused low bits set: non-canonical, same length.

    A string whose length is a multiple of 4 has no unused bits: it comes back unchanged."""
    unused = {0: 0, 2: 4, 3: 2}[len(text) % 4]  # 1 byte in the last group leaves 4 bits, 2 bytes leave 2
    if not unused:
        return text
    last = ALPHABET.index(text[-1])
    return text[:-1] + ALPHABET[last | ((1 << unused) - 1)]


def non_canonical_variants(text: str) -> dict[str, str]:
    """Spellings of (nearly) the same bytes that section 1 forbids."""
    return {
        "unused-bits-set": with_unused_bits(text),
        "trailing-newline-same-length": text[:-1] + "\n",
        "trailing-newline": text + "\n",
        "space-inside": text[:10] + " " + text[11:],
        "padding": text + "=" * (-len(text) % 4),
        "padding-same-length": text[:-1] + "=",
        "standard-alphabet-plus": text[:-2] + "+" + text[-1],
        "standard-alphabet-slash": text[:-2] + "/" + text[-1],
        "missing-last-char": text[:-1],
        "non-ascii": text[:-1] + "é",
        "fullwidth-letter": text[:-1] + "Ａ",
    }


def refused(raw: dict[str, Any], spec: frames.Spec) -> bool:
    try:
        parse(json.dumps(raw), spec)
    except FrameError as exc:
        assert exc.code == "bad-frame"
        return True
    return False


def crypto_accepts_ct(text: str) -> bool:
    try:
        crypto.check_chat_ciphertext_b64(text)
    except crypto.InvalidInput:
        return False
    return True


# -- finding 8: the relay asks crypto --------------------------------------------------------------

CT_FRAMES = [("msg", SEEKER_FRAMES, {}), ("mmsg", SEEKER_FRAMES, {}),
             ("msg", VOLUNTEER_FRAMES, {"chat": CHAT}), ("lmsg", VOLUNTEER_FRAMES, {"link": CHAT})]


@pytest.mark.parametrize("k", [1, 2, 3, 33])
@pytest.mark.parametrize("kind,spec,extra", CT_FRAMES, ids=["seeker-msg", "seeker-mmsg", "volunteer-msg", "lmsg"])
def test_relay_refuses_every_non_canonical_ct(k: int, kind: str, spec: frames.Spec, extra: dict[str, Any]) -> None:
    good = ct_of(k)
    assert not refused({"t": kind, "seq": 1, "ct": good, **extra}, spec)
    for name, bad in non_canonical_variants(good).items():
        if bad == good:
            continue  # k = 2 has no unused bits: 528 bytes are 704 characters exactly
        assert refused({"t": kind, "seq": 1, "ct": bad, **extra}, spec), (k, name)


def test_qq_and_qr_the_textbook_case() -> None:
    # "QQ" is canonical for b"A"; "QR" decodes to the same byte with a non-zero unused bit.
    assert crypto.b64decode("QQ") == b"A"
    with pytest.raises(crypto.InvalidInput):
        crypto.b64decode("QR")
    # 784 bytes (k = 3) end in a one-byte group: a ciphertext ending in b"A" ends in "QQ".
    good = crypto.b64encode(bytes(256 * 3 + 15) + b"A")
    assert good.endswith("QQ")
    assert not refused({"t": "msg", "seq": 1, "ct": good}, SEEKER_FRAMES)
    assert refused({"t": "msg", "seq": 1, "ct": good[:-1] + "R"}, SEEKER_FRAMES)


@pytest.mark.parametrize("case", B64_CASES, ids=[c["name"] for c in B64_CASES])
def test_relay_and_crypto_agree_on_every_b64_vector_inside_a_ct(case: dict[str, Any]) -> None:
    """Each case of tests/vectors/b64.json at the end of a ciphertext-sized string: same verdict."""
    for k in (1, 2, 3):
        length = len(ct_of(k))
        text = "A" * (length - len(case["text"])) + case["text"]
        assert refused({"t": "msg", "seq": 1, "ct": text}, SEEKER_FRAMES) is not crypto_accepts_ct(text), (k, text)
        if case["expect"] == "invalid-input" and case.get("length") is None and len(case["text"]) % 4 == length % 4:
            # Aligned the same way as in the vector, the fault is still a fault.
            assert refused({"t": "msg", "seq": 1, "ct": text}, SEEKER_FRAMES), (k, case["name"])


@settings(max_examples=300)
@given(st.integers(1, 33), st.integers(0, 10**6), st.sampled_from(list(ALPHABET + "=+/ \n\t.é")))
def test_relay_verdict_on_ct_is_cryptos_verdict(k: int, where: int, char: str) -> None:
    good = ct_of(k, fill=where % 256)
    position = where % len(good)
    text = good[:position] + char + good[position + 1:]
    assert refused({"t": "msg", "seq": 1, "ct": text}, SEEKER_FRAMES) is not crypto_accepts_ct(text)


def test_relay_delegates_the_ct_check_to_crypto(monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay has no rule of its own: if crypto said no, the relay says no."""
    good = ct_of(1)
    assert not refused({"t": "msg", "seq": 1, "ct": good}, SEEKER_FRAMES)

    def no(text: object) -> None:
        raise crypto.InvalidInput("crypto says no")
    monkeypatch.setattr(crypto, "check_chat_ciphertext_b64", no)
    assert refused({"t": "msg", "seq": 1, "ct": good}, SEEKER_FRAMES)


@pytest.mark.parametrize("field,spec,frame", [
    ("resume", SEEKER_FRAMES, {"t": "resume", "chat": CHAT, "received": 0}),
    ("challenge", SEEKER_FRAMES, {"t": "open", "nonce": crypto.b64encode(bytes(8)),
                                  "pub": crypto.b64encode(bytes(32))}),
])
def test_opaque_base64_fields_must_be_canonical_too(field: str, spec: frames.Spec, frame: dict[str, Any]) -> None:
    good = crypto.new_token(32)  # 43 characters, 2 unused bits: as the server hands them out
    assert not refused({**frame, field: good}, spec)
    for name, bad in non_canonical_variants(good).items():
        if name == "missing-last-char":
            # These fields have no fixed length: 42 characters are canonical base64 of 31 bytes
            # whenever the last one has no unused bits set (1 in 16 random tokens). Crypto decides.
            try:
                crypto.b64decode(bad)
            except crypto.InvalidInput:
                assert refused({**frame, field: bad}, spec), name
            else:
                assert not refused({**frame, field: bad}, spec), name
            continue
        assert refused({**frame, field: bad}, spec), name


@pytest.mark.parametrize("field", ["chat", "pub", "sig", "link", "cpub", "csig", "lpub", "lsig", "nonce"])
def test_fixed_size_fields_refuse_non_canonical_base64(field: str) -> None:
    sizes = {"chat": crypto.CHAT_ID_BYTES, "link": crypto.CHAT_ID_BYTES, "nonce": crypto.POW_NONCE_BYTES,
             "sig": crypto.SIGNATURE_BYTES, "csig": crypto.SIGNATURE_BYTES, "lsig": crypto.SIGNATURE_BYTES}
    good = crypto.b64encode(bytes(sizes.get(field, crypto.PUBLIC_KEY_BYTES)))
    check = next(spec[kind][field] for spec in (SEEKER_FRAMES, VOLUNTEER_FRAMES) for kind in spec
                 if field in spec[kind])
    check(field, good)
    for name, bad in non_canonical_variants(good).items():
        if bad != good:
            with pytest.raises(FrameError):
                check(field, bad)


async def test_non_canonical_ct_gets_an_error_frame_and_is_not_relayed(relay: Any, seeker_http: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    await s.open(seeker_http)
    chat_id = await volunteer.pick_up()
    await s.connected()
    seq, ct = s.session.seal(b'{"k":"text","b":"een"}')
    text = crypto.b64encode(ct)
    for bad in (with_unused_bits(text), text[:-1] + "\n"):
        await s.ws.send_json({"t": "msg", "seq": seq, "ct": bad})
        error = await s.next("error")
        assert error["code"] == "bad-frame"
    assert relay.frames == []  # nothing went to the volunteer
    # The volunteer's side is held to the same rule.
    vseq, vct = volunteer.sessions[chat_id].seal(b'{"k":"text","b":"hoi"}')
    await volunteer.ws.send_json({"t": "msg", "chat": crypto.b64encode(chat_id), "seq": vseq,
                                  "ct": with_unused_bits(crypto.b64encode(vct))})
    assert (await volunteer.next("error"))["code"] == "bad-frame"
    assert relay.frames == []
    # The refused frames changed nothing: the real message, with the same sequence number, goes through.
    await s.ws.send_json({"t": "msg", "seq": seq, "ct": text})
    got = await volunteer.next("msg")
    assert got["seq"] == seq and got["ct"] == text and len(relay.frames) == 1


# -- finding 9: the protocol's constants come from crypto ------------------------------------------

CONSUMERS = ("server", "mailgate")
TWO_TO_THE_53 = re.compile(r"2\s*\*\*\s*53|9007199254740991|9007199254740992|1\s*<<\s*53|0x1f{13}", re.I)
# The base64 alphabet written as a character class (URL-safe or standard), in any order of the extras.
B64_ALPHABET = re.compile(r"A-Za-z0-9(?:_-|\\?-_|\+/|/\+)|a-zA-Z0-9(?:_-|\\?-_|\+/)")
PADDING_RULE = re.compile(r"256\s*\*\s*\w+\s*\+\s*16")
# server/openapi.py describes the API as JSON Schema, whose `pattern` must be a regular expression
# string; it documents the rule and checks nothing. (Better: derive it from crypto too.)
ALPHABET_EXEMPT = {"server/openapi.py"}


def sources(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def code_and_strings(path: Path) -> tuple[str, str]:
    """The module's code without comments and strings, and its string literals, separately."""
    code, strings = [], []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if tok.type == tokenize.COMMENT:
            continue
        if tok.type == tokenize.STRING or tok.type in {getattr(tokenize, "FSTRING_MIDDLE", -1)}:
            strings.append(tok.string)
            code.append('""')
        else:
            code.append(tok.string)
    return " ".join(code), "\n".join(strings)


@pytest.mark.parametrize("folder", CONSUMERS)
def test_no_consumer_writes_the_largest_json_integer(folder: str) -> None:
    offenders = [str(p.relative_to(REPO)) for p in sources(folder) if TWO_TO_THE_53.search(code_and_strings(p)[0])]
    assert not offenders, f"use crypto.MAX_SAFE_INTEGER (or MAX_CHAT_SEQ / MAX_MAIL_SEQ): {offenders}"


def test_crypto_writes_the_largest_json_integer_once() -> None:
    found = [(str(p.relative_to(REPO)), m.group(0)) for p in sources("crypto")
             for m in TWO_TO_THE_53.finditer(code_and_strings(p)[0])]
    assert len(found) == 1, found
    assert crypto.MAX_CHAT_SEQ == crypto.MAX_MAIL_SEQ == crypto.MAX_SAFE_INTEGER == 2**53 - 1
    assert "MAX_SAFE_INTEGER" in crypto.__all__
    assert frames.MAX_SEQ is crypto.MAX_SAFE_INTEGER


@pytest.mark.parametrize("folder", CONSUMERS)
def test_no_consumer_redeclares_the_base64_alphabet_or_the_padding_rule(folder: str) -> None:
    offenders = []
    for path in sources(folder):
        rel = str(path.relative_to(REPO))
        code, strings = code_and_strings(path)
        if rel not in ALPHABET_EXEMPT and B64_ALPHABET.search(strings):
            offenders.append(f"{rel}: a base64 alphabet of its own (use crypto.b64decode)")
        if PADDING_RULE.search(code):
            offenders.append(f"{rel}: the 256*k + 16 rule (use crypto.check_chat_ciphertext_b64 / MAIL_BODY_LENGTHS)")
    assert not offenders, "\n".join(offenders)


def assignments(path: Path) -> dict[str, ast.expr]:
    found: dict[str, ast.expr] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for name, value in zip(target.elts, node.value.elts):
                        if isinstance(name, ast.Name):
                            found[name.id] = value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            found[node.target.id] = node.value
    return found


def uses_crypto(expr: ast.expr) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "crypto" for n in ast.walk(expr))


# Names the server keeps (other modules import them), each of which must be computed from crypto.
DERIVED = {
    "server/config.py": ("PRODUCTION_MIN_MEMLIMIT_KIB", "PRODUCTION_MIN_OPSLIMIT", "SODIUM_MIN_MEMLIMIT_KIB"),
    "server/mail/desk.py": ("AUTHOR_SEEKER", "AUTHOR_VOLUNTEER", "THREAD_ID_BYTES", "WRAP_BYTES", "BODY_LENGTHS"),
    "server/chat/frames.py": ("MAX_SEQ",),
}


@pytest.mark.parametrize("module", sorted(DERIVED))
def test_server_names_for_protocol_constants_are_taken_from_crypto(module: str) -> None:
    found = assignments(REPO / module)
    for name in DERIVED[module]:
        assert name in found, f"{module} no longer defines {name}: update this test"
        assert uses_crypto(found[name]), f"{module}: {name} = {ast.unparse(found[name])} restates crypto's value"


def test_the_derived_values_are_cryptos() -> None:
    from server import config
    from server.mail import desk
    assert config.PRODUCTION_MIN_OPSLIMIT == crypto.PRODUCTION_KDF.opslimit
    assert config.PRODUCTION_MIN_MEMLIMIT_KIB * 1024 == crypto.PRODUCTION_KDF.memlimit
    assert config.SODIUM_MIN_MEMLIMIT_KIB * 1024 == crypto.MIN_MEMLIMIT
    assert (desk.AUTHOR_SEEKER, desk.AUTHOR_VOLUNTEER) == (crypto.AUTHOR_SEEKER, crypto.AUTHOR_VOLUNTEER)
    assert desk.THREAD_ID_BYTES == crypto.MAIL_THREAD_ID_BYTES and desk.WRAP_BYTES == crypto.MAIL_WRAP_BYTES
    assert desk.BODY_LENGTHS is crypto.MAIL_BODY_LENGTHS
    assert min(desk.BODY_LENGTHS) == crypto.MIN_MAIL_BODY_BYTES and max(desk.BODY_LENGTHS) == crypto.MAX_MAIL_BODY_BYTES


def test_the_new_names_are_in_the_protocol_document() -> None:
    text = (REPO / "crypto" / "PROTOCOL.md").read_text(encoding="utf-8")
    for name in ("MAX_SAFE_INTEGER", "check_chat_ciphertext_b64", "MAIL_BODY_LENGTHS", "PRODUCTION_KDF", "MIN_MEMLIMIT"):
        assert name in text and name in crypto.__all__, name
