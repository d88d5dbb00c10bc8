"""Hypothesis on the websocket frame parser: anything in, a frame or a FrameError out, never a crash."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from server.chat.frames import MAX_FRAME_BYTES, SEEKER_FRAMES, VOLUNTEER_FRAMES, FrameError, parse

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
b64 = st.binary(min_size=0, max_size=80).map(crypto.b64encode)
chat_ids = st.binary(min_size=16, max_size=16).map(crypto.b64encode)


@settings(max_examples=300)
@given(st.text(max_size=300) | st.binary(max_size=100))
def test_arbitrary_input_never_crashes(raw: Any) -> None:
    for spec in (SEEKER_FRAMES, VOLUNTEER_FRAMES):
        try:
            frame = parse(raw, spec)
        except FrameError as exc:
            assert exc.code and exc.nl and exc.en
        else:
            assert frame["t"] in spec


@settings(max_examples=300)
@given(st.sampled_from(sorted(set(SEEKER_FRAMES) | set(VOLUNTEER_FRAMES))),
       st.dictionaries(st.sampled_from(["chat", "seq", "ct", "pub", "sig", "nonce", "challenge", "resume",
                                        "received", "topic", "age", "handed_over", "chats", "x"]),
                       json_values | b64 | chat_ids, max_size=6))
def test_typed_frames_with_arbitrary_fields(kind: str, fields: dict[str, Any]) -> None:
    raw = json.dumps({"t": kind, **fields})
    for spec in (SEEKER_FRAMES, VOLUNTEER_FRAMES):
        try:
            frame = parse(raw, spec)
        except FrameError:
            continue
        # Accepted: exactly the catalogue's fields, each of the right kind.
        assert set(frame) == {"t", *spec[kind]}


@given(chat_ids, st.integers(1, 2**53 - 1), st.integers(1, 33), st.binary(min_size=1, max_size=1))
def test_valid_message_frames_round_trip(chat: str, seq: int, k: int, fill: bytes) -> None:
    text = crypto.b64encode(fill * (256 * k + 16))
    frame = parse(json.dumps({"t": "msg", "chat": chat, "seq": seq, "ct": text}), VOLUNTEER_FRAMES)
    assert frame == {"t": "msg", "chat": crypto.b64decode(chat), "seq": seq, "ct": text}
    assert parse(json.dumps({"t": "msg", "seq": seq, "ct": text}), SEEKER_FRAMES)["seq"] == seq


@pytest.mark.parametrize("raw,code", [
    ("x" * (MAX_FRAME_BYTES + 1), "too-large"), (b"\x00", "bad-frame"), ("{", "bad-json"),
    ('{"t":"msg","seq":true,"ct":"' + "A" * 40 + '"}', "bad-frame"), ('{"t":"msg","seq":1.0,"ct":"AAAA"}', "bad-frame"),
    ('{"t":"pickup","x":1}', "unknown-type"),
    ('{"t":"msg","seq":1,"ct":"' + "A" * 364 + '"}', "bad-frame"),  # 273 bytes: not 256k+16
])
def test_named_refusals(raw: Any, code: str) -> None:
    with pytest.raises(FrameError) as err:
        parse(raw, SEEKER_FRAMES)
    assert err.value.code == code
