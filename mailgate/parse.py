"""Turning an incoming e-mail into the text a volunteer will read, and nothing more.

Parsing uses the standard library's `email` package with the modern policy. Only
the subject and the text survive; every other header (From, Received, Message-ID,
X-Originating-IP and the rest) is dropped here, and attachments are counted and
dropped. HTML-only mail is reduced to its text without running or fetching anything.
The few headers that mark a message as automatic (RFC 3834 and its older
relatives) are read only to say so, in `Incoming.automatic`.

The sender decides what this costs: the standard library's header parser grows
faster than linearly in encoded words and in long headers. So `precheck` looks at
the raw bytes first (linear, no parse) and refuses what is over the limits below,
and the gateway runs `parse_incoming` in a worker process with CPU-time and memory
limits (`mailgate/isolation.py`), never on the event loop that relays chats.
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
# Limits on the raw message, checked by `precheck` before any parse. Far above what a person's
# mail client writes (a subject of 200 characters is at most ~60 encoded words), far below what
# makes the parser slow: at these limits the worst message parses in tens of milliseconds
# (bench/README.md), where 16,000 encoded words took ~6 s and 1.7 GiB.
MAX_HEADER_BYTES = 64 * 1024          # the top-level header section
MAX_ENCODED_WORDS_PER_HEADER = 200    # "=?charset?q?...?=" in one (unfolded) header
MAX_ENCODED_WORDS = 1000              # in the whole message (part headers, too)
MAX_PARTS = 100                       # MIME parts (delimiter lines of declared boundaries)
# Declared boundaries, anywhere in the message: an upper bound of the nesting depth, and what a
# person's mail really has (a forward of three HTML mails with pictures declares about ten).
MAX_DEPTH = 32
_ENCODED_WORD = b"=?"
_BOUNDARY = re.compile(rb"""boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))""", re.IGNORECASE)
_DELIMITER = re.compile(rb"^--([^\r\n]{1,202}?)[ \t]*\r?$", re.MULTILINE)
# Headers that mark a message as sent by a machine (RFC 3834 Auto-Submitted, and the older
# conventions of vacation programs and list servers); such mail gets no thread and no return mail.
_LIST_HEADERS = ("list-id", "list-unsubscribe")
_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder")
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


def _too_much(what_nl: str, what_en: str) -> Unreadable:
    return Unreadable(f"552 5.3.4 Dit bericht is te ingewikkeld ({what_nl}); stuur gewone tekst of schrijf via de "
                      f"website / This message is too complex ({what_en}); send plain text or write on the website")


def precheck(raw: bytes) -> None:
    """Refuse, without parsing, a message whose shape would make the parser slow or large.

    Linear in the message and allocation-light: counts on the raw bytes only. The counts
    are upper bounds of what the parser would meet (every MIME part starts with a delimiter
    line of a declared boundary; every nesting level declares one), so a message that passes
    is parsed exactly as it would have been without this check.
    """
    end = raw.find(b"\r\n\r\n")
    end_lf = raw.find(b"\n\n")
    ends = [e for e in (end, end_lf) if e >= 0]
    header_end = min(ends) if ends else len(raw)
    if header_end > MAX_HEADER_BYTES:
        raise _too_much("kopregels te lang", "headers too long")
    if raw.count(_ENCODED_WORD) > MAX_ENCODED_WORDS:
        raise _too_much("te veel gecodeerde woorden", "too many encoded words")
    # Per header of the top-level section: a header is a line that does not start with
    # white space, with its folded continuation lines.
    per_header = 0
    for line in raw[:header_end].split(b"\n"):
        if line[:1] not in (b" ", b"\t"):
            per_header = 0
        per_header += line.count(_ENCODED_WORD)
        if per_header > MAX_ENCODED_WORDS_PER_HEADER:
            raise _too_much("te veel gecodeerde woorden in een kopregel", "too many encoded words in one header")
    boundaries = set()
    for match in _BOUNDARY.finditer(raw):
        boundaries.add(match.group(1) or match.group(2))
        if len(boundaries) > MAX_DEPTH:
            raise _too_much("te veel geneste delen", "too many nested parts")
    if boundaries:
        parts = 0
        for match in _DELIMITER.finditer(raw):
            value = match.group(1)
            if value in boundaries or (value.endswith(b"--") and value[:-2] in boundaries):
                parts += 1
                if parts > MAX_PARTS + MAX_DEPTH:  # each multipart also has one closing delimiter
                    raise _too_much("te veel delen", "too many parts")


def automatic_reason(message: EmailMessage) -> str | None:
    """Why a parsed message is automatic mail (a bounce, an out-of-office reply, a list), or None."""
    auto = str(message.get("auto-submitted", "") or "").strip().lower()
    if auto and auto.split(";", 1)[0].strip() != "no":
        return "auto-submitted"
    if str(message.get("precedence", "") or "").strip().lower() in ("bulk", "list", "junk"):
        return "precedence"
    if any(message.get(name) is not None for name in _LIST_HEADERS):
        return "list"
    if any(message.get(name) is not None for name in _AUTOREPLY_HEADERS):
        return "autoreply"
    if message.get_content_type() == "multipart/report":
        return "report"
    return None


@dataclass(frozen=True)
class Incoming:
    subject: str
    text: str
    attachments: int
    automatic: str | None = None

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
        automatic = automatic_reason(message)
        subject = _tidy(str(message.get("subject", "") or ""))[:MAX_SUBJECT_CHARS]
        body = message.get_body(preferencelist=("plain", "html"))
        text = _tidy(_part_text(body)) if body is not None else ""
        attachments = sum(1 for _ in message.iter_attachments()) if message.is_multipart() else 0
    except Unreadable:
        raise
    except Exception:
        raise Unreadable("554 5.6.0 Dit bericht kunnen we niet lezen / This message cannot be read") from None
    if automatic is not None:
        # Nothing of it is kept or answered, so its emptiness or length does not matter.
        return Incoming("", "", 0, automatic)
    if not text and not subject:
        raise Unreadable("554 5.6.0 Het bericht is leeg / The message is empty")
    if len(text) + len(subject) > max_chars:
        raise Unreadable(f"552 5.3.4 Het bericht is te lang (max {max_chars} tekens) / "
                         f"The message is too long (at most {max_chars} characters)")
    return Incoming(subject, text, attachments, None)
