"""Chat errors, translated at the edge: the parts raise `ChatRefused`, the parser `FrameError`,
and `server.chat.ws.error_frame` alone makes them (and a `crypto.CryptoError`) into the error
frame, with the words from the one catalogue (`server.i18n.TEXTS`).

The frames a page gets are pinned here byte for byte, as they were before the words moved.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from server import accounts
from server.chat.errors import ChatRefused
from server.chat.frames import SEEKER_FRAMES, FrameError, parse
from server.chat.ws import error_frame
from server.i18n import TEXTS, message
from server.keys import CLOCK, CONFIG, STORAGE
from tests.helpers import PASSPHRASE, enrolment_body, login_body
from tests.server.test_chat_relay import relay, seeker, seeker_http, volunteer_on_duty  # noqa: F401 (fixtures)

CHAT = Path(__file__).resolve().parents[2] / "server" / "chat"
PARTS = ("room.py", "relay.py", "assignment.py", "readalong.py", "handover.py", "hub.py")


def wire(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))  # as server.chat.room.send writes it


def test_a_refusal_becomes_the_error_frame_with_both_languages() -> None:
    assert wire(error_frame(ChatRefused("busy", "chat_busy"))) == (
        '{"t":"error","code":"busy","message":{"nl":"Het is nu erg druk. Probeer het over een paar minuten '
        'opnieuw.","en":"It is very busy right now. Please try again in a few minutes."}}')


def test_a_frame_that_cannot_be_read_names_the_field() -> None:
    with pytest.raises(FrameError) as exc:
        parse('{"t":"msg","seq":0,"ct":"AAAA"}', SEEKER_FRAMES)
    assert wire(error_frame(exc.value)) == (
        '{"t":"error","code":"bad-frame","message":{"nl":"Ongeldig veld: seq.","en":"Invalid field: seq."}}')
    assert (exc.value.nl, exc.value.en) == ("Ongeldig veld: seq.", "Invalid field: seq.")


@pytest.mark.parametrize("error", [crypto.InvalidInput("token must not be empty"), crypto.BadSignature("x"),
                                   crypto.DecryptionFailed("secret detail")])
def test_a_crypto_error_is_answered_as_a_bad_frame_without_its_message(error: crypto.CryptoError) -> None:
    frame = error_frame(error)
    assert frame == {"t": "error", "code": "bad-frame", "message": {"nl": "Ongeldig bericht.", "en": "Invalid frame."}}
    assert str(error) not in wire(frame)


def _calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None)
            in ("ChatRefused", "FrameError")]


def test_every_refusal_in_the_chat_names_a_catalogue_entry() -> None:
    seen = 0
    for path in sorted(CHAT.glob("*.py")):
        for call in _calls(path):
            if call.args and isinstance(call.args[0], ast.Name):
                continue  # the class's own definition passing its arguments on
            code, key = call.args
            assert isinstance(code, ast.Constant) and isinstance(key, ast.Constant), f"{path.name}:{call.lineno}"
            assert key.value.startswith("chat_") and key.value in TEXTS, f"{path.name}:{call.lineno}: {key.value}"
            seen += 1
    assert seen >= 40


def test_the_hub_and_its_parts_raise_domain_errors_and_write_no_error_frame() -> None:
    for name in PARTS:
        source = (CHAT / name).read_text(encoding="utf-8")
        tree = ast.parse(source)
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert "FrameError" not in names, name
        assert '"t": "error"' not in source, name
    sessions = (CHAT / "sessions.py").read_text(encoding="utf-8")
    assert sessions.count('"t": "error"') == 2  # both in error_frame
    assert '"t": "error"' not in (CHAT / "ws.py").read_text(encoding="utf-8")


async def test_refusals_reach_the_pages_byte_for_byte(relay: Any, seeker_http: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    await s.ws.send_json({"t": "msg", "seq": 1, "ct": crypto.b64encode(bytes(272))})
    assert await s.ws.receive_str(timeout=10) == (
        '{"t":"error","code":"no-chat","message":{"nl":"Er is geen gesprek.","en":"There is no chat."}}')
    await s.ws.send_str("{")
    assert await s.ws.receive_str(timeout=10) == (
        '{"t":"error","code":"bad-json","message":{"nl":"Ongeldig bericht.","en":"Frame is not valid JSON."}}')
    await volunteer.ws.send_json({"t": "accept", "chat": crypto.b64encode(bytes(16)),
                                  "pub": crypto.b64encode(bytes(32)), "sig": crypto.b64encode(bytes(64))})
    assert (await volunteer.next("error"))["message"] == {
        "nl": "Dit gesprek is niet (meer) aan jou toegewezen.", "en": "This chat is not (or no longer) assigned to you."}
    await s.open(seeker_http)
    await s.ws.send_json({"t": "resume", "chat": crypto.b64encode(bytes(16)), "resume": crypto.new_token(32),
                          "received": 0})
    assert (await s.next("error")) == {"t": "error", "code": "already-open", "message": {
        "nl": "Er loopt al een gesprek.", "en": "A chat is already open."}}


async def test_the_volunteer_socket_answers_401_without_a_session_and_403_for_an_account_without_chat(
        relay: Any, seeker_http: Any) -> None:
    headers = {"Origin": str(relay.make_url("")).rstrip("/")}
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await seeker_http.ws_connect("/ws/volunteer", headers=headers)
    assert exc.value.status == 401
    app = relay.server.app
    invited = await accounts.invite(app[STORAGE], app[CONFIG], "Kees", "volunteer", False, True, app[CLOCK]())
    assert (await relay.post("/api/enrol", json=enrolment_body(invited.url.split("#uitnodiging=", 1)[1]))).status == 201
    assert (await relay.post("/api/login", json=await login_body(relay, "Kees", PASSPHRASE))).status == 200
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await relay.ws_connect("/ws/volunteer", headers=headers)
    assert exc.value.status == 403
    resp = await relay.get("/ws/volunteer", headers=headers)  # the refusal comes before the upgrade: its JSON
    assert resp.status == 403  # the same answer as every route for an account not set up for chat
    assert await resp.json() == {"error": "forbidden", "message": message("not_set_up_chat")}
    # A page from another site is refused before anything else, in the chat's own words.
    resp = await relay.get("/ws/volunteer", headers={"Origin": "https://elders.example"})
    assert resp.status == 403 and (await resp.json())["message"] == message("chat_other_site")
