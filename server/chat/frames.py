"""Parsing and validating websocket frames (the catalogue is in `server.chat.ws`).

Every frame is a JSON object of at most MAX_FRAME_BYTES with a string `t`. Each
type has a fixed set of fields with fixed kinds; unknown types, missing or
extra fields and wrong kinds are refused with a FrameError that the handler
turns into an error frame (`server.chat.ws.error_frame`), leaving the chat as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import crypto

from ..i18n import text

MAX_FRAME_BYTES = 16 * 1024
# Every rule shared with the protocol comes from `crypto`, so the relay and the spec
# cannot drift apart: what base64 is (canonical, section 1), what a ciphertext may be
# (10.8) and the largest integer a field may carry.
MAX_SEQ = crypto.MAX_SAFE_INTEGER
# Opaque strings (a resume token, a proof-of-work challenge): bounded before decoding.
_OPAQUE_CHARS = (16, 128)


class FrameError(Exception):
    """A frame could not be read: not text, too large, not JSON, or not in the catalogue.

    `code` is stable; `key` names the words for the person in `server.i18n.TEXTS`
    (`nl` and `en` give them filled in). `server.chat.ws.error_frame` turns it into
    the error frame."""

    def __init__(self, code: str, key: str, **values: object) -> None:
        super().__init__(code)
        self.code, self.key, self.values = code, key, values

    @property
    def nl(self) -> str:
        return text(self.key, "nl", **self.values)

    @property
    def en(self) -> str:
        return text(self.key, "en", **self.values)


def _bad(field: str) -> FrameError:
    return FrameError("bad-frame", "chat_bad_field", field=field)


def _b64_bytes(length: int) -> Callable[[str, Any], bytes]:
    def check(field: str, value: Any) -> bytes:
        if not isinstance(value, str):
            raise _bad(field)
        try:
            return crypto.b64decode(value, length=length)
        except crypto.InvalidInput:
            raise _bad(field) from None
    return check


def _ciphertext(field: str, value: Any) -> str:
    # Relayed verbatim. crypto checks the string's length first, then that it is canonical
    # base64 of a size a sender can produce; the bytes say nothing (the server has no key).
    try:
        crypto.check_chat_ciphertext_b64(value)
    except crypto.InvalidInput:
        raise _bad(field) from None
    return value


def _opaque_b64(field: str, value: Any) -> str:
    # A value the server handed out (or will hash); kept as the string, but it must be
    # canonical base64 like every other binary field, so one value has one spelling.
    low, high = _OPAQUE_CHARS
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise _bad(field)
    try:
        crypto.b64decode(value)
    except crypto.InvalidInput:
        raise _bad(field) from None
    return value


def _seq(field: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SEQ:
        raise _bad(field)
    return value


def _count(field: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEQ:
        raise _bad(field)
    return value


def _bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad(field)
    return value


def _label(field: str, value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 60:
        raise _bad(field)
    return value


_token = _challenge = _opaque_b64


_CHAT = _b64_bytes(crypto.CHAT_ID_BYTES)
_KEY = _b64_bytes(crypto.PUBLIC_KEY_BYTES)
_SIG = _b64_bytes(crypto.SIGNATURE_BYTES)
_NONCE = _b64_bytes(crypto.POW_NONCE_BYTES)


_TARGET = re.compile(r"p:[a-z0-9\-]{1,20}|v:[1-9][0-9]{0,17}")


def _target(field: str, value: Any) -> str:
    """A handover target: "p:<partner key>" or "v:<colleague's account id>"."""
    if not isinstance(value, str) or _TARGET.fullmatch(value) is None:
        raise _bad(field)
    return value


def _account(field: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SEQ:
        raise _bad(field)
    return value


def _resume_list(field: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > 16:
        raise _bad(field)
    out = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"chat", "received"}:
            raise _bad(field)
        out.append({"chat": _CHAT("chat", item["chat"]), "received": _count("received", item["received"])})
    return out


Spec = dict[str, dict[str, Callable[[str, Any], Any]]]

SEEKER_FRAMES: Spec = {
    "open": {"challenge": _challenge, "nonce": _NONCE, "pub": _KEY},
    "msg": {"seq": _seq, "ct": _ciphertext},
    "end": {},
    "resume": {"chat": _CHAT, "resume": _token, "received": _count},
    # Read-along: the key for the mentor's session, and each message sealed again for the mentor.
    "mentor-key": {"pub": _KEY},
    "mmsg": {"seq": _seq, "ct": _ciphertext},
    # Handover: the help-seeker's answer.
    "handover-accept": {"pub": _KEY, "history": _bool},
    "handover-decline": {},
}

VOLUNTEER_FRAMES: Spec = {
    "available": {"chat": _bool},
    "pause": {"on": _bool},   # a break: nothing new is offered; the open chats stay
    "debrief": {},            # ask the mentors online to get in touch (no content)
    "pickup": {},
    "accept": {"chat": _CHAT, "pub": _KEY, "sig": _SIG},
    "msg": {"chat": _CHAT, "seq": _seq, "ct": _ciphertext},
    "end": {"chat": _CHAT},
    "block": {"chat": _CHAT},
    "wrapup": {"chat": _CHAT, "topic": _label, "age": _label, "handed_over": _bool},
    "resume": {"chats": _resume_list},
    # Read-along (crypto/PROTOCOL.md 10.11): `link` is the staff link's id, chosen by the inviter's page.
    "mentor-invite": {"chat": _CHAT, "mentor": _account, "link": _CHAT, "pub": _KEY, "sig": _SIG},
    "mentor-accept": {"link": _CHAT, "cpub": _KEY, "csig": _SIG, "pub": _KEY, "sig": _SIG},
    "mentor-decline": {"link": _CHAT},
    "mentor-end": {"link": _CHAT},
    "lmsg": {"link": _CHAT, "seq": _seq, "ct": _ciphertext},
    # Handover to a partner queue or a colleague.
    "handover": {"chat": _CHAT, "target": _target, "link": _CHAT, "pub": _KEY, "sig": _SIG},
    "handover-cancel": {"chat": _CHAT},
    "accept-handover": {"chat": _CHAT, "pub": _KEY, "sig": _SIG, "lpub": _KEY, "lsig": _SIG},
}


def parse(raw: str | bytes, spec: Spec) -> dict[str, Any]:
    """Parse one frame against a catalogue; raise FrameError for anything else."""
    if isinstance(raw, bytes):
        raise FrameError("bad-frame", "chat_text_only")
    if len(raw) > MAX_FRAME_BYTES:
        raise FrameError("too-large", "chat_too_large")
    try:
        data = json.loads(raw)
    except ValueError:
        raise FrameError("bad-json", "chat_bad_json") from None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        raise FrameError("bad-frame", "chat_not_an_object")
    fields = spec.get(data["t"])
    if fields is None:
        raise FrameError("unknown-type", "chat_unknown_type")
    if set(data) != {"t", *fields}:
        raise FrameError("bad-frame", "chat_wrong_fields")
    out: dict[str, Any] = {"t": data["t"]}
    for name, check in fields.items():
        out[name] = check(name, data[name])
    return out
