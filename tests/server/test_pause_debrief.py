"""Pause and debrief (issue 15, point 8) through the real hub with Python clients.

A paused volunteer is offered no new chat and no handover, keeps the open chats, and the queue frame
says `paused`; a debrief request reaches every mentor online with the sender's first name only, and is
counted per day in the anonymous statistics (a pause is not counted).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date
from typing import Any

import aiohttp

import crypto
from server.keys import STORAGE
from server.stats import build_report, csv_text, period_of
from tests.chatclient import Seeker, Volunteer
from tests.helpers import PASSPHRASE, enrolment_body, invite, logged_in_volunteer, login_body
from tests.server.test_chat_cluster import nodes, volunteer_ws  # noqa: F401
from tests.server.test_chat_handover import (account_id, chatting, http_for, origin, relay, stack,  # noqa: F401
                                             staff)


async def queue_frame(member: Any, **expect: Any) -> dict[str, Any]:
    """The next queue frame that has these values (frames are coalesced, so an earlier one may still come)."""
    while True:
        frame = await member.next("queue")
        assert frame["t"] == "queue", frame
        frame.setdefault("paused", False)  # the field is there only while on a break
        if all(frame.get(k) == v for k, v in expect.items()):
            return frame


async def test_pause_stops_new_chats_but_keeps_the_open_one(relay: Any, stack: contextlib.AsyncExitStack) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    seeker, chat_id = await chatting(relay, stack, volunteer)

    await volunteer.ws.send_json({"t": "pause", "on": True})
    frame = await queue_frame(volunteer, paused=True)
    assert frame["available"] is True  # availability is kept for the end of the break

    # Nobody else takes chats: a new help-seeker is refused (nobody available), and pickup is refused.
    http = await http_for(relay, stack)
    other = Seeker(await http.ws_connect("/ws/chat", headers=origin(relay)))
    refused = await other.open(http)
    assert refused["t"] == "error" and refused["code"] == "no-volunteers", refused
    await volunteer.ws.send_json({"t": "pickup"})
    error = await volunteer.next("error")
    assert error["code"] == "paused"

    # The open chat goes on, both ways.
    await seeker.say("Ben je er nog?")
    assert await volunteer.hear() == (chat_id, "Ben je er nog?")
    await volunteer.say(chat_id, "Ja, ik ben er.")
    assert await seeker.s.hear() == "Ja, ik ben er."

    # After the break a new chat can be taken again.
    await volunteer.ws.send_json({"t": "pause", "on": False})
    await queue_frame(volunteer, paused=False, available=True)
    http2 = await http_for(relay, stack)
    third = Seeker(await http2.ws_connect("/ws/chat", headers=origin(relay)))
    assert (await third.open(http2))["t"] == "queued"
    await queue_frame(volunteer, paused=False, waiting=[0])
    second = await volunteer.pick_up()
    assert second != chat_id


async def test_no_colleague_handover_to_a_paused_volunteer(relay: Any, stack: contextlib.AsyncExitStack) -> None:
    anna = await staff(relay, stack, "Anna")
    bram = await staff(relay, stack, "Bram")
    _seeker, chat_id = await chatting(relay, stack, anna)
    bram_id = await account_id(anna, "Bram")
    await bram.ws.send_json({"t": "pause", "on": True})
    await queue_frame(bram, paused=True)
    await anna.hand_over(chat_id, f"v:{bram_id}")
    error = await anna.next("handover-asked", "error")
    assert error["t"] == "error" and error["code"] == "colleague-paused", error


async def test_debrief_reaches_every_mentor_online_without_content_and_is_counted(
        relay: Any, stack: contextlib.AsyncExitStack) -> None:
    volunteer = await staff(relay, stack, "Sanne de Vries", available=False)
    await volunteer.ws.send_json({"t": "debrief"})
    error = await volunteer.next("debrief-sent", "error")
    assert error["t"] == "error" and error["code"] == "no-mentor"

    mirjam = await staff(relay, stack, "Mirjam", "mentor", available=False)
    karel = await staff(relay, stack, "Karel", "mentor", available=False)
    await volunteer.ws.send_json({"t": "debrief"})
    sent = await volunteer.next("debrief-sent", "error")
    assert sent == {"t": "debrief-sent", "mentors": 2}
    for mentor in (mirjam, karel):
        ask = await mentor.next("debrief-ask")
        assert ask == {"t": "debrief-ask", "from": "Sanne"}  # the first name, nothing else

    await volunteer.ws.send_json({"t": "pause", "on": True})
    await queue_frame(volunteer, paused=True)
    storage = relay.server.app[STORAGE]
    for _ in range(200):  # the count is written in the background
        rows = await storage.counts_between("2000-01-01", "2999-12-31")
        if any(r[1:3] == ("chat", "debrief") for r in rows):
            break
        await asyncio.sleep(0.02)
    debriefs = [r for r in rows if r[1:3] == ("chat", "debrief")]
    assert [r[4] for r in debriefs] == [1], rows  # the refused one (no mentor) is not counted
    assert not any("pause" in r[2] for r in rows)  # a pause is not counted


async def test_pause_frame_is_checked(relay: Any, stack: contextlib.AsyncExitStack) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    await volunteer.ws.send_json({"t": "pause", "on": "yes"})
    error = await volunteer.next("error")
    assert error["t"] == "error"
    await volunteer.ws.send_json({"t": "debrief", "to": 3})
    error = await volunteer.next("error")
    assert error["code"] == "bad-frame"
    assert isinstance(volunteer.ws, aiohttp.ClientWebSocketResponse)


def test_debrief_counts_are_suppressed_like_every_other_count() -> None:
    period = period_of("day", date(2027, 3, 10))
    few = build_report(period, [("2027-03-10", "chat", "debrief", "", 3)], [], [], [])
    many = build_report(period, [("2027-03-10", "chat", "debrief", "", 7)], [], [], [])
    none = build_report(period, [], [], [], [])
    assert (few.debriefs.text, many.debriefs.text, none.debriefs.text) == ("<5", "7", "0")
    assert ",chat,debriefs,,<5," in csv_text(few).replace("\r\n", "\n")


async def test_pause_and_debrief_across_two_nodes(nodes: Any, redis_server: Any) -> None:
    """In a cluster the hub runs on the leader: the frames travel there as `available` does."""
    a, b, _frames = nodes
    await logged_in_volunteer(a, "Sanne")
    identity = crypto.new_identity()
    http = aiohttp.ClientSession(base_url=str(a.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        assert (await http.post("/api/enrol", json=enrolment_body(await invite(a, "Mirjam", "mentor"),
                                                                  identity=identity))).status == 201
        assert (await http.post("/api/login", json=await login_body(http, "Mirjam", PASSPHRASE))).status == 200
        mentor = Volunteer(await http.ws_connect("/ws/volunteer", headers=origin(a)), identity)  # Mirjam on A
        await pause_and_debrief(a, b, mentor)
    finally:
        await http.close()


async def pause_and_debrief(a: Any, b: Any, mentor: Any) -> None:
    volunteer = Volunteer(await volunteer_ws(a, b), crypto.new_identity())  # Sanne on node B
    await volunteer.next("queue")
    await mentor.next("queue")
    await volunteer.available(True)

    async def status() -> bool:
        return bool((await (await a.get("/api/chat/status")).json())["available"])

    for _ in range(100):
        if await status():
            break
        await asyncio.sleep(0.05)
    assert await status()
    await volunteer.ws.send_json({"t": "pause", "on": True})
    await queue_frame(volunteer, paused=True)
    for _ in range(100):
        if not await status():
            break
        await asyncio.sleep(0.05)
    assert not await status()  # on a break, Sanne takes no new chat: nobody is available

    await volunteer.ws.send_json({"t": "debrief"})
    assert await volunteer.next("debrief-sent") == {"t": "debrief-sent", "mentors": 1}
    assert await mentor.next("debrief-ask") == {"t": "debrief-ask", "from": "Sanne"}
