"""Hypothesis on the pre-checks (issue 11): under the limits they change nothing, over them they
answer a clear 5xx and the parser is never reached."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mailgate.parse as parse_module
from mailgate.isolation import parse_checked
from mailgate.parse import (MAX_DEPTH, MAX_ENCODED_WORDS, MAX_ENCODED_WORDS_PER_HEADER, MAX_HEADER_BYTES, MAX_PARTS,
                            Unreadable, parse_incoming, precheck)

WORD = st.sampled_from(["=?utf-8?q?hallo?=", "=?iso-8859-1?q?=E9t=E9?=", "=?utf-8?b?w6k=?=", "gewoon", "tekst"])


def outcome(fn: object, raw: bytes) -> object:
    try:
        return fn(raw, 8000)  # type: ignore[operator]
    except Unreadable as exc:
        return exc.reply


def folded(words: list[str]) -> str:
    lines, line = [], ""
    for word in words:
        if len(line) > 70:
            lines.append(line)
            line = ""
        line += word + " "
    lines.append(line)
    return "\r\n ".join(lines)


def mail(subject_words: list[str], parts: list[str], depth: int, extra_headers: int) -> bytes:
    head = f"From: a@example.org\r\nTo: hulp@localhost\r\nSubject: {folded(subject_words)}\r\n"
    head += "".join(f"X-Extra-{n}: {'w' * 60}\r\n" for n in range(extra_headers))
    if not parts:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\nHallo, ik wil praten.\r\n").encode()
    inner = "".join(f"--b0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n" for text in parts) + "--b0--\r\n"
    for level in range(1, depth):
        inner = (f"--b{level}\r\nContent-Type: multipart/mixed; boundary=\"b{level - 1}\"\r\n\r\n{inner}"
                 f"--b{level}--\r\n")
    top = depth - 1
    return (head + f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{top}\"\r\n\r\n{inner}").encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(WORD, max_size=MAX_ENCODED_WORDS_PER_HEADER), st.lists(st.text(max_size=40), max_size=MAX_PARTS - 10),
       st.integers(1, MAX_DEPTH), st.integers(0, 40))
def test_under_the_limits_the_result_is_the_plain_parsers(subject: list[str], parts: list[str], depth: int,
                                                          extra: int) -> None:
    raw = mail(subject, parts, depth, extra)
    assert outcome(parse_checked, raw) == outcome(parse_incoming, raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_the_pre_check_passes_parse_as_before(raw: bytes) -> None:
    assert outcome(parse_checked, raw) == outcome(parse_incoming, raw)


OVER = {
    "encoded words in one header": lambda extra: mail(["=?utf-8?q?a?="] * (MAX_ENCODED_WORDS_PER_HEADER + 1 + extra),
                                                       [], 1, 0),
    "encoded words in all": lambda extra: mail([], ["=?utf-8?q?a?= " * ((MAX_ENCODED_WORDS + 1 + extra) // 10 + 1)] * 10,
                                                1, 0),
    "header bytes": lambda extra: mail(["gewoon"], [], 1, MAX_HEADER_BYTES // 70 + 1 + extra),
    "parts": lambda extra: mail([], ["x"] * (MAX_PARTS + MAX_DEPTH + 1 + extra), 1, 0),
    "depth": lambda extra: mail([], ["x"], MAX_DEPTH + 1 + extra % 4, 0),
}


@pytest.mark.parametrize("limit", sorted(OVER))
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 500))
def test_over_a_limit_a_clear_5xx_and_no_parse(limit: str, extra: int) -> None:
    raw = OVER[limit](extra)
    original = parse_module.parse_message

    def must_not_parse(data: bytes) -> object:
        raise AssertionError("parsed a message over the limits")

    parse_module.parse_message = must_not_parse  # type: ignore[assignment]
    try:
        with pytest.raises(Unreadable) as refused:
            parse_checked(raw, 8000)
    finally:
        parse_module.parse_message = original
    assert refused.value.reply.startswith("552 5.3.4 ") and " / " in refused.value.reply
    with pytest.raises(Unreadable):
        precheck(raw)
