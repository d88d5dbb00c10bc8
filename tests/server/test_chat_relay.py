"""The chat relay end to end with real websockets and the real protocol (Python clients).

The browser journey is in tests/browser/test_chat.py; this file pins the
server's behaviour frame by frame.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import crypto
from server.app import create_app
from server.chat.hub import CHAT_HUB
from tests.chatclient import Seeker, Volunteer
from tests.helpers import logged_in_volunteer


@pytest.fixture
async def relay(aiohttp_client: Any, insecure_kdf_config: Any, clock: Any) -> Any:
    frames: list[tuple[int, str]] = []
    client = await aiohttp_client(create_app(insecure_kdf_config, clock=clock,
                                             frame_observer=lambda d, f: frames.append((d, f))))
    client.frames = frames
    return client


def origin(client: Any) -> dict[str, str]:
    return {"Origin": str(client.make_url("")).rstrip("/")}


@pytest.fixture
async def seeker_http(relay: Any) -> AsyncIterator[aiohttp.ClientSession]:
    """The help-seeker's own HTTP client: no cookies of the volunteer's."""
    async with aiohttp.ClientSession(base_url=str(relay.make_url(""))) as http:
        yield http


async def volunteer_on_duty(relay: Any, name: str = "Sanne") -> Volunteer:
    identity = await logged_in_volunteer(relay, name)
    ws = await relay.ws_connect("/ws/volunteer", headers=origin(relay))
    volunteer = Volunteer(ws, identity)
    await volunteer.next("queue")
    await volunteer.available(True)
    return volunteer


async def seeker(relay: Any, http: aiohttp.ClientSession) -> Seeker:
    return Seeker(await http.ws_connect("/ws/chat", headers=origin(relay)))


async def test_conversation_both_ways_relays_only_ciphertext(relay: Any, seeker_http: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    queued = await s.open(seeker_http)
    assert queued["t"] == "queued" and queued["position"] == 1
    queue = await volunteer.next("queue")
    assert len(queue["waiting"]) == 1
    chat_id = await volunteer.pick_up()
    await s.connected()
    assert s.volunteer_name == "Sanne"
    await s.say("Ik voel me zo alleen vandaag")
    assert await volunteer.hear() == (chat_id, "Ik voel me zo alleen vandaag")
    await volunteer.say(chat_id, "Fijn dat je er bent. Vertel maar.")
    assert await s.hear() == "Fijn dat je er bent. Vertel maar."
    relayed = " ".join(f for _, f in relay.frames)
    assert len(relay.frames) == 2
    assert "alleen" not in relayed and "Vertel" not in relayed


async def test_replayed_or_reordered_frames_are_refused_by_the_relay(relay: Any, seeker_http: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    await s.open(seeker_http)
    chat_id = await volunteer.pick_up()
    await s.connected()
    seq, ct = s.session.seal(b'{"k":"text","b":"een"}')
    frame = {"t": "msg", "seq": seq, "ct": crypto.b64encode(ct)}
    await s.ws.send_json(frame)
    await volunteer.next("msg")
    await s.ws.send_json(frame)  # replay
    error = await s.next("error")
    assert error["code"] == "out-of-order"
    await s.say("twee")  # the chat is intact
    got = await volunteer.next("msg")
    assert got["seq"] == 2 and volunteer.sessions[chat_id].received == 0


@pytest.mark.parametrize("raw", [
    "not json", "[]", '{"t": 5}', '{"t": "nope"}', '{"t": "open"}', '{"t": "msg", "seq": 0, "ct": "AAAA"}',
    '{"t": "msg", "seq": 1, "ct": "has spaces in it and more"}', '{"t": "end", "extra": 1}',
    '{"t": "resume", "chat": "AAAA", "resume": "x", "received": 0}', "x" * 20000,
])
async def test_malformed_seeker_frames_get_an_error_frame_and_change_nothing(
        relay: Any, seeker_http: Any, raw: str) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    await s.open(seeker_http)
    await volunteer.next("queue")
    if len(raw) > 16 * 1024:
        await s.ws.send_str(raw)  # over the frame cap: aiohttp closes with 1009
        while (msg := await s.ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
            assert json.loads(msg.data)["t"] == "position"
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        assert s.ws.close_code == 1009
        return
    await s.ws.send_str(raw)
    error = await s.next("error")
    assert error["t"] == "error" and error["message"]["nl"] and error["message"]["en"]
    assert relay.server.app[CHAT_HUB].queue.position(s.chat_id) == 1  # still waiting, unchanged


async def test_wrong_proof_of_work_is_refused(relay: Any, seeker_http: Any) -> None:
    await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    challenge = await (await seeker_http.post("/api/chat/challenge")).json()
    raw = crypto.b64decode(challenge["challenge"])
    wrong = next(n.to_bytes(8, "big") for n in range(1000)
                 if not crypto.pow_check(raw, n.to_bytes(8, "big"), challenge["bits"]))
    await s.ws.send_json({"t": "open", "challenge": challenge["challenge"], "nonce": crypto.b64encode(wrong),
                          "pub": crypto.b64encode(s.keys.public)})
    frame = await s.next("queued")
    assert frame["code"] == "bad-pow"
    nonce = crypto.pow_solve(crypto.b64decode(challenge["challenge"]), challenge["bits"])
    await s.ws.send_json({"t": "open", "challenge": challenge["challenge"], "nonce": crypto.b64encode(nonce),
                          "pub": crypto.b64encode(s.keys.public)})
    assert (await s.next("queued"))["code"] == "bad-pow"  # single use


async def test_no_volunteer_on_duty_is_said_before_anyone_waits(relay: Any, seeker_http: Any) -> None:
    status = await (await seeker_http.get("/api/chat/status")).json()
    assert status["available"] is False
    s = await seeker(relay, seeker_http)
    frame = await s.open(seeker_http)
    assert frame["code"] == "no-volunteers"


async def test_end_then_wrapup_adds_one_anonymous_count(relay: Any, seeker_http: Any,
                                                        database: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    await s.open(seeker_http)
    chat_id = await volunteer.pick_up()
    await s.connected()
    await s.ws.send_json({"t": "end"})
    ended = await volunteer.next("ended")
    assert ended["reason"] == "seeker" and ended["wrapup"] is True
    key = crypto.b64encode(chat_id)
    await volunteer.ws.send_json({"t": "wrapup", "chat": key, "topic": "nope", "age": "18-29", "handed_over": False})
    assert (await volunteer.next("wrapped"))["code"] == "bad-wrapup"
    await volunteer.ws.send_json({"t": "wrapup", "chat": key, "topic": "eenzaamheid", "age": "18-29",
                                  "handed_over": False})
    assert (await volunteer.next("wrapped"))["t"] == "wrapped"
    await volunteer.ws.send_json({"t": "wrapup", "chat": key, "topic": "eenzaamheid", "age": "18-29",
                                  "handed_over": False})
    assert (await volunteer.next("wrapped"))["code"] == "no-wrapup"  # once per chat
    assert database.rows("SELECT topic, age_band, handed_over, count FROM chat_wrapups") == \
        [("eenzaamheid", "18-29", 0, 1)]


async def test_block_ends_the_chat_and_refuses_a_new_one_from_that_browser(relay: Any, seeker_http: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    await s.open(seeker_http)
    chat_id = await volunteer.pick_up()
    await s.connected()
    await volunteer.ws.send_json({"t": "block", "chat": crypto.b64encode(chat_id)})
    assert (await s.next("ended"))["reason"] == "blocked"
    again = await seeker(relay, seeker_http)
    frame = await again.open(seeker_http)
    assert frame["code"] == "blocked"


async def test_seeker_resumes_after_a_dropped_connection_and_gets_what_it_missed(
        relay: Any, seeker_http: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    await s.open(seeker_http)
    chat_id = await volunteer.pick_up()
    await s.connected()
    await s.ws.close()
    assert (await volunteer.next("peer-away"))["chat"] == crypto.b64encode(chat_id)
    await volunteer.say(chat_id, "Ben je er nog?")
    s.ws = await seeker_http.ws_connect("/ws/chat", headers=origin(relay))
    await s.ws.send_json({"t": "resume", "chat": crypto.b64encode(s.chat_id), "resume": s.resume,
                          "received": s.session.received})
    assert (await s.next("resumed"))["state"] == "active"
    assert await s.hear() == "Ben je er nog?"
    await volunteer.next("peer-back")
    await s.say("Ja, sorry")
    assert (await volunteer.hear())[1] == "Ja, sorry"


async def test_resume_with_a_wrong_secret_is_refused(relay: Any, seeker_http: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    await s.open(seeker_http)
    await volunteer.pick_up()
    other = await seeker(relay, seeker_http)
    await other.ws.send_json({"t": "resume", "chat": crypto.b64encode(s.chat_id), "resume": crypto.new_token(32),
                              "received": 0})
    assert (await other.next("ended"))["reason"] == "unknown"


async def test_grace_period_over_ends_the_chat_for_the_volunteer(
        aiohttp_client: Any, tmp_path: Any, database: Any) -> None:
    from server.config import load_config
    from tests.conftest import INSECURE_TEST_ENV
    # Each side has its own grace (chat_seeker_grace_seconds for the help-seeker, 10 minutes by default).
    config = load_config(env={**INSECURE_TEST_ENV, "OOR_CHAT_GRACE_SECONDS": "1",
                              "OOR_CHAT_SEEKER_GRACE_SECONDS": "1"},
                         overrides={"data_dir": str(tmp_path / "var"), "database_url": database.url})
    relay = await aiohttp_client(create_app(config))
    async with aiohttp.ClientSession(base_url=str(relay.make_url(""))) as http:
        volunteer = await volunteer_on_duty(relay)
        s = await seeker(relay, http)
        await s.open(http)
        chat_id = await volunteer.pick_up()
        await s.connected()
        await s.ws.close()
        ended = await volunteer.next("ended")
        assert ended["reason"] == "timeout" and ended["chat"] == crypto.b64encode(chat_id)


async def test_volunteer_going_offline_returns_an_unanswered_offer_to_the_queue(
        relay: Any, seeker_http: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    await s.open(seeker_http)
    await volunteer.ws.send_json({"t": "pickup"})
    await volunteer.next("assigned")  # offered, never accepted
    await volunteer.ws.close()
    frame = await s.next("position")
    assert frame["position"] == 1


async def test_capacity_is_enforced_by_the_server(relay: Any, seeker_http: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    for _ in range(3):
        s = await seeker(relay, seeker_http)
        await s.open(seeker_http)
    await volunteer.pick_up()
    await volunteer.pick_up()
    await volunteer.ws.send_json({"t": "pickup"})
    assert (await volunteer.next("assigned"))["code"] == "nothing-to-pick-up"


async def test_websocket_upgrade_needs_this_sites_origin(relay: Any, seeker_http: Any) -> None:
    for headers in ({}, {"Origin": "https://evil.example"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await seeker_http.ws_connect("/ws/chat", headers=headers)
        assert err.value.status == 403


async def test_volunteer_socket_needs_a_session(relay: Any, seeker_http: Any) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await seeker_http.ws_connect("/ws/volunteer", headers=origin(relay))
    assert err.value.status == 401


async def test_server_restart_ends_chats_with_a_clear_message(relay: Any, seeker_http: Any) -> None:
    volunteer = await volunteer_on_duty(relay)
    s = await seeker(relay, seeker_http)
    await s.open(seeker_http)
    await volunteer.pick_up()
    await s.connected()
    await relay.server.app[CHAT_HUB].shutdown()
    assert (await s.next("ended"))["reason"] == "restart"
    assert (await volunteer.next("ended"))["reason"] == "restart"



async def test_deactivation_closes_an_open_volunteer_socket(relay: Any, seeker_http: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from server.chat import ws as chat_ws
    from server.keys import STORAGE
    monkeypatch.setattr(chat_ws, "SESSION_CHECK_SECONDS", 0.05)
    volunteer = await volunteer_on_duty(relay)
    assert await relay.server.app[STORAGE].set_active("Sanne", False)
    frame = await volunteer.next("none")
    assert frame["code"] == "session-ended"
    closed = await volunteer.ws.receive(timeout=5)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert relay.server.app[CHAT_HUB].queue.available_volunteers() == 0
