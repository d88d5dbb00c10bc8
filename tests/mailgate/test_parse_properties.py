"""Hypothesis on the mail parser: any bytes in, an Incoming or an Unreadable with an SMTP reply out."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.parse import Incoming, Unreadable, html_to_text, parse_incoming

header_names = st.sampled_from(["Subject", "Content-Type", "Content-Transfer-Encoding", "MIME-Version", "From",
                                "X-Anything", "Content-Disposition"])
header_values = st.text(max_size=80).map(lambda s: s.replace("\r", " ").replace("\n", " ")) | st.sampled_from([
    "multipart/mixed", "multipart/mixed; boundary=\"B\"", "text/html; charset=x-nope", "base64",
    "quoted-printable", "text/plain; charset=utf-8", "=?utf-8?b?////?=", "=?bogus?q?x?="])


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        result = parse_incoming(raw, 8000)
    except Unreadable as exc:
        assert exc.reply[:3] in ("554", "552")
    else:
        assert isinstance(result, Incoming) and (result.text or result.subject)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(header_names, header_values), max_size=8),
       st.text(max_size=500), st.binary(max_size=300))
def test_structured_but_hostile_mail_never_crashes(headers: list[tuple[str, str]], body: str, junk: bytes) -> None:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8", "replace")
    raw = head + b"\r\n" + body.encode("utf-8", "replace") + b"\r\n--B\r\n" + junk
    try:
        result = parse_incoming(raw, 8000)
    except Unreadable as exc:
        assert exc.reply[:3] in ("554", "552")
    else:
        assert len(result.subject) <= 200
        assert "\x00" not in result.text


@given(st.text(max_size=300))
def test_html_to_text_never_keeps_tags_or_scripts(text: str) -> None:
    out = html_to_text(f"<p>{text}</p><script>oor_geheim_42()</script><style>x{{}}</style>")
    assert "oor_geheim_42()" not in out and "<script" not in out


def _plain_policy_result(raw: bytes) -> object:
    """parse_incoming as it would be with BytesParser(policy=policy.default), no header memo."""
    from email import policy
    from email.parser import BytesParser

    import mailgate.parse as parse_module
    real = parse_module.parse_message
    parse_module.parse_message = lambda data: BytesParser(policy=policy.default).parsebytes(data)
    try:
        return parse_incoming(raw, 8000)
    except Unreadable as exc:
        return exc.reply
    finally:
        parse_module.parse_message = real


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(header_names, header_values), max_size=8),
       st.text(max_size=500), st.binary(max_size=300))
def test_parsing_each_header_once_changes_no_result(headers: list[tuple[str, str]], body: str, junk: bytes) -> None:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8", "replace")
    raw = head + b"\r\n" + body.encode("utf-8", "replace") + b"\r\n--B\r\n" + junk
    try:
        ours: object = parse_incoming(raw, 8000)
    except Unreadable as exc:
        ours = exc.reply
    assert ours == _plain_policy_result(raw)


@given(st.text(max_size=300))
def test_tidy_drops_exactly_the_control_and_format_characters(text: str) -> None:
    import unicodedata

    from mailgate.parse import _tidy
    expected = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    expected = "".join(ch for ch in expected if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    import re
    expected = re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", expected)).strip()
    assert _tidy(text) == expected


def test_the_header_memo_keeps_memory_bounded_for_hostile_mail() -> None:
    """Many parts with long, distinct Content-Type headers: the memo must not hold their parse trees."""
    import tracemalloc
    params = "; ".join(f'p{i}="{"v" * 20}{i}"' for i in range(60))
    parts = "".join(f"--B\r\nContent-Type: text/plain; {params}; n={k}\r\n\r\nTekst {k}\r\n" for k in range(40))
    raw = (f'Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n'
           f"{parts}--B--\r\n").encode()

    def peak(parse: object) -> int:
        tracemalloc.start()
        try:
            parse()  # type: ignore[operator]
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    ours = peak(lambda: parse_incoming(raw, 8000))
    plain = peak(lambda: _plain_policy_result(raw))
    assert ours < 2 * plain, (ours, plain)
