"""Turning an incoming e-mail into the text a volunteer will read, and nothing more.

Parsing uses the standard library's `email` package with the modern policy. Only
the subject and the text survive; every other header (From, Received, Message-ID,
X-Originating-IP and the rest) is dropped here, and attachments are counted and
dropped. HTML-only mail is reduced to its text without running or fetching anything.
"""

from __future__ import annotations

import html.parser
import re
import unicodedata
from dataclasses import dataclass
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesParser

MAX_SUBJECT_CHARS = 200
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table"}


_HEADERS = HeaderRegistry()
MEMO_MAX_CHARS = 256
MEMO_MAX_ENTRIES = 64


class _ParseOnce:
    """A header factory for one message that parses each distinct header once.

    With the modern policy, every read of a header parses it again: the parser and
    `get_body`/`get_content` ask for Content-Type a dozen times per part, which cost
    more than the rest of the parse (bench/README.md). The header objects are immutable,
    so one parse per (name, value) gives the same results. The memo belongs to one
    message and goes with it: it is never shared between messages, because it holds
    that message's headers (its subject among them)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        header = self.seen.get((name, value))
        if header is None:
            header = _HEADERS(name, value)
            # A parsed header weighs far more than its text (a long parameter list: hundreds of times
            # more), so only short headers are kept, and only a few: memory stays bounded for a
            # hostile message, which is then merely parsed as slowly as without the memo.
            if len(value) <= MEMO_MAX_CHARS and len(self.seen) < MEMO_MAX_ENTRIES:
                self.seen[(name, value)] = header
        return header

    def __getitem__(self, name: str) -> type:
        return _HEADERS[name]  # the policy asks the header class for max_count


def parse_message(raw: bytes) -> EmailMessage:
    """`BytesParser` with the modern policy (`policy.default`), headers parsed once each."""
    return BytesParser(policy=policy.default.clone(header_factory=_ParseOnce())).parsebytes(raw)


class Unreadable(Exception):
    """The message cannot be turned into text; the SMTP status is in `reply`."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True)
class Incoming:
    subject: str
    text: str
    attachments: int

    def content(self) -> str:
        """What is encrypted: the subject (if any) and the text."""
        return f"Onderwerp / Subject: {self.subject}\n\n{self.text}" if self.subject else self.text


class _TextOnly(html.parser.HTMLParser):
    """Collects visible text; never follows links or loads anything."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def _tidy(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Drop control and format characters (category C: also bidi overrides, zero-width marks),
    # keeping newlines and tabs. Most text has none, which `isprintable` (false for every
    # category-C character) tells at C speed; only other text is filtered character by character.
    if not text.replace("\n", "").replace("\t", "").replace(" ", "").isprintable():
        text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _part_text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError, TypeError):
        # Unknown or lying charset: decode what is there rather than refuse the person.
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_type() == "text/html" else content


def parse_incoming(raw: bytes, max_chars: int) -> Incoming:
    """Parse one message; raise Unreadable with the SMTP reply for mail we cannot take."""
    try:
        message = parse_message(raw)
        subject = _tidy(str(message.get("subject", "") or ""))[:MAX_SUBJECT_CHARS]
        body = message.get_body(preferencelist=("plain", "html"))
        text = _tidy(_part_text(body)) if body is not None else ""
        attachments = sum(1 for _ in message.iter_attachments()) if message.is_multipart() else 0
    except Unreadable:
        raise
    except Exception:
        raise Unreadable("554 5.6.0 Dit bericht kunnen we niet lezen / This message cannot be read") from None
    if not text and not subject:
        raise Unreadable("554 5.6.0 Het bericht is leeg / The message is empty")
    if len(text) + len(subject) > max_chars:
        raise Unreadable(f"552 5.3.4 Het bericht is te lang (max {max_chars} tekens) / "
                         f"The message is too long (at most {max_chars} characters)")
    return Incoming(subject, text, attachments)
