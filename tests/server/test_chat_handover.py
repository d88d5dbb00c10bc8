"""Read-along and handover through the real relay with the real protocol (Python clients).

The browser journeys are in tests/browser/test_chat_handover.py; this file pins the server's part
frame by frame: who receives what, that the relay only ever carries ciphertext, and what happens
on decline, timeout and disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import crypto
from client.chat import FRAME_TIMEOUT_S
from server.app import create_app
from server.chat.hub import CHAT_HUB
from tests.chatclient import Seeker, SeekerExtras, Staff, read_content
from tests.helpers import PASSPHRASE, enrolment_body, invite, login_body


@pytest.fixture
async def relay(aiohttp_client: Any, insecure_kdf_config: Any, clock: Any) -> Any:
    frames: list[tuple[int, str]] = []
    config = dataclasses.replace(insecure_kdf_config, chat_handover_timeout_seconds=2)
    client = await aiohttp_client(create_app(config, clock=clock, frame_observer=lambda d, f: frames.append((d, f))))
    client.frames = frames
    return client


@pytest.fixture
async def stack() -> AsyncIterator[contextlib.AsyncExitStack]:
    async with contextlib.AsyncExitStack() as s:
        yield s


def origin(client: Any) -> dict[str, str]:
    return {"Origin": str(client.make_url("")).rstrip("/")}


async def http_for(relay: Any, stack: contextlib.AsyncExitStack) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(base_url=str(relay.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))
    stack.push_async_callback(http.close)
    return http


class Member(Staff):
    """A staff page that keeps the colleague list of the last queue frame that had one, as
    web/js/workspace.js does: a queue frame lists `colleagues` only when they changed."""

    def __init__(self, ws: Any, identity: crypto.Identity) -> None:
        super().__init__(ws, identity)
        self.colleagues: list[dict[str, Any]] = []

    async def next(self, *types: str) -> dict[str, Any]:
        while True:
            frame = await self.ws.receive_json(timeout=FRAME_TIMEOUT_S)
            if frame["t"] == "queue" and "colleagues" in frame:
                self.colleagues = frame["colleagues"]
            if not types or frame["t"] in types or frame["t"] == "error":
                return frame


async def staff(relay: Any, stack: contextlib.AsyncExitStack, name: str, role: str = "volunteer",
                available: bool = True) -> Member:
    http = await http_for(relay, stack)
    identity = crypto.new_identity()
    resp = await http.post("/api/enrol", json=enrolment_body(await invite(relay, name, role), identity=identity))
    assert resp.status == 201, await resp.text()
    resp = await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))
    assert resp.status == 200, await resp.text()
    member = Member(await http.ws_connect("/ws/volunteer", headers=origin(relay)), identity)
    await member.next("queue")
    if available:
        await member.available(True)
    return member


async def chatting(relay: Any, stack: contextlib.AsyncExitStack, volunteer: Staff) -> tuple[SeekerExtras, bytes]:
    http = await http_for(relay, stack)
    s = Seeker(await http.ws_connect("/ws/chat", headers=origin(relay)))
    assert (await s.open(http))["t"] == "queued"
    chat_id = await volunteer.pick_up()
    await s.connected()
    return SeekerExtras(s), chat_id


async def account_id(member: Member, name: str) -> int:
    """An online colleague's account id, as the page's colleague list (from the queue frames) has it."""
    await member.ws.send_json({"t": "available", "chat": True})
    await member.next("queue")
    assert any(c["name"] == name for c in member.colleagues), repr(member.colleagues)
    return next(c["id"] for c in member.colleagues if c["name"] == name)


async def test_read_along_mentor_reads_both_sides_and_hints_reach_only_the_volunteer(relay: Any, stack: Any) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    mentor = await staff(relay, stack, "Mirjam", "mentor", available=False)
    seeker, chat_id = await chatting(relay, stack, volunteer)
    link_id = await volunteer.invite_mentor(chat_id, await account_id(volunteer, "Mirjam"))
    await seeker.give_mentor_key()
    ask = await mentor.accept_readalong()
    assert ask["from"] == "Sanne"
    joined = await seeker.mentor_joined()
    assert joined["name"] == "Mirjam"
    await volunteer.joiner_arrived("mentor-linked")

    await seeker.say("Ik slaap al weken slecht")
    assert await volunteer.hear() == (chat_id, "Ik slaap al weken slecht")
    assert await mentor.watch_hear() == "Ik slaap al weken slecht"
    await volunteer.say(chat_id, "Wat houdt je wakker?")
    await volunteer.link_say(link_id, "text", "Wat houdt je wakker?")
    assert await seeker.s.hear() == "Wat houdt je wakker?"
    assert await mentor.link_hear() == (link_id, {"k": "text", "b": "Wat houdt je wakker?"})
    await mentor.link_say(link_id, "hint", "Vraag naar slaapritme")
    assert await volunteer.link_hear() == (link_id, {"k": "hint", "b": "Vraag naar slaapritme"})

    # The mentor has no way to write to the help-seeker: the seeker frame is refused for staff.
    await mentor.ws.send_json({"t": "msg", "chat": crypto.b64encode(chat_id), "seq": 1, "ct": "A" * 363})
    assert (await mentor.next("error"))["code"] == "unknown-chat"

    relayed = " ".join(f for _, f in relay.frames)
    assert "slaap" not in relayed and "wakker" not in relayed and "ritme" not in relayed

    await mentor.ws.send_json({"t": "mentor-end", "link": crypto.b64encode(link_id)})
    assert (await seeker.s.next("mentor-ended"))["t"] == "mentor-ended"
    assert (await volunteer.next("mentor-ended"))["reason"] == "ended"
    # After the end the help-seeker's copy for the mentor is refused: nobody reads along any more.
    await seeker.s.ws.send_json({"t": "mmsg", "seq": 2, "ct": "A" * 363})
    assert (await seeker.s.next("error"))["code"] == "no-mentor"


async def test_read_along_ends_when_the_mentor_leaves(relay: Any, stack: Any) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    mentor = await staff(relay, stack, "Mirjam", "mentor", available=False)
    seeker, chat_id = await chatting(relay, stack, volunteer)
    await volunteer.invite_mentor(chat_id, await account_id(volunteer, "Mirjam"))
    await seeker.give_mentor_key()
    await mentor.accept_readalong()
    await seeker.mentor_joined()
    await mentor.ws.close()
    assert (await seeker.s.next("mentor-ended"))["t"] == "mentor-ended"
    assert (await volunteer.next("mentor-ended"))["reason"] == "left"
    assert not relay.server.app[CHAT_HUB].readalongs


async def test_only_mentors_can_be_invited_to_read_along(relay: Any, stack: Any) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    bram = await staff(relay, stack, "Bram", "volunteer", available=False)  # noqa: F841 (keeps the socket open)
    _, chat_id = await chatting(relay, stack, volunteer)
    await volunteer.invite_mentor(chat_id, await account_id(volunteer, "Bram"))
    assert (await volunteer.next("error"))["code"] == "no-mentor"
    assert not relay.server.app[CHAT_HUB].readalongs


async def test_handover_to_partner_new_keys_note_and_only_what_was_allowed(relay: Any, stack: Any) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    partner = await staff(relay, stack, "Pieter", "partner")
    seeker, chat_id = await chatting(relay, stack, volunteer)
    await seeker.say("Ik wil er niet meer zijn")
    await volunteer.hear()
    link_id = await volunteer.hand_over(chat_id, "p:113")
    ask = await seeker.answer_handover(accept=True, history=False)
    assert ask["kind"] == "partner" and ask["to"]["nl"] == "113 Zelfmoordpreventie"
    assert (await volunteer.next("handover-waiting"))["chat"] == crypto.b64encode(chat_id)
    queue = await partner.next("queue")
    while not queue["handovers"]:
        queue = await partner.next("queue")
    assert queue["waiting"] == []  # partners answer handed-over chats only

    new_id, assigned = await partner.take_handover()
    assert new_id != chat_id and assigned["handover"]["from"] == "Sanne"
    assert assigned["handover"]["history"] is False
    done = await volunteer.joiner_arrived("handover-done")
    assert done["name"] == "Pieter"
    ended = await volunteer.next("ended")
    assert ended == {"t": "ended", "chat": crypto.b64encode(chat_id), "reason": "handed-over", "wrapup": True}
    await volunteer.link_say(link_id, "note", "Suïcidale gedachten, plan genoemd")
    assert await partner.link_hear() == (link_id, {"k": "note", "b": "Suïcidale gedachten, plan genoemd"})

    await seeker.handed_over()
    await seeker.say("Hallo?")
    assert await partner.hear() == (new_id, "Hallo?")
    await partner.say(new_id, "Je spreekt nu met Pieter van 113.")
    assert await seeker.s.hear() == "Je spreekt nu met Pieter van 113."
    # The old volunteer's session is gone on both sides: its messages are refused.
    await volunteer.say(chat_id, "nog iets")
    assert (await volunteer.next("error"))["code"] == "unknown-chat"
    relayed = " ".join(f for _, f in relay.frames)
    assert "plan" not in relayed and "Pieter van" not in relayed and "niet meer" not in relayed


async def test_declined_handover_leaves_the_chat_with_the_volunteer(relay: Any, stack: Any) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    pieter = await staff(relay, stack, "Pieter", "partner")  # noqa: F841 (keeps the socket open)
    seeker, chat_id = await chatting(relay, stack, volunteer)
    await volunteer.hand_over(chat_id, "p:113")
    await seeker.answer_handover(accept=False)
    assert (await volunteer.next("handover-off")) == {"t": "handover-off", "chat": crypto.b64encode(chat_id),
                                                      "reason": "declined"}
    assert (await seeker.s.next("handover-off"))["reason"] == "declined"
    await seeker.say("Liever met jou")
    assert await volunteer.hear() == (chat_id, "Liever met jou")
    assert not relay.server.app[CHAT_HUB].handovers


async def test_handover_nobody_accepts_in_time_volunteer_stays(relay: Any, stack: Any) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    seeker, chat_id = await chatting(relay, stack, volunteer)
    await volunteer.hand_over(chat_id, "p:113")
    await seeker.answer_handover(accept=True)
    await volunteer.next("handover-waiting")
    assert (await seeker.s.next("handover-off"))["reason"] == "expired"  # after 2 s (test config)
    assert (await volunteer.next("handover-off"))["reason"] == "expired"
    await volunteer.say(chat_id, "Ik blijf bij je.")
    assert await seeker.s.hear() == "Ik blijf bij je."


async def test_handover_to_a_named_colleague_comes_before_new_chats(relay: Any, stack: Any) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    colleague = await staff(relay, stack, "Bram")
    seeker, chat_id = await chatting(relay, stack, volunteer)
    # A new help-seeker waits too; the handover must still be Bram's first pickup.
    http = await http_for(relay, stack)
    other = Seeker(await http.ws_connect("/ws/chat", headers=origin(relay)))
    await other.open(http)
    await volunteer.hand_over(chat_id, f"v:{await account_id(volunteer, 'Bram')}")
    ask = await seeker.answer_handover(accept=True, history=True)
    assert ask == {"t": "handover-ask", "kind": "colleague", "to": {"nl": "Bram", "en": "Bram"}}
    new_id, assigned = await colleague.take_handover()
    assert assigned["handover"]["history"] is True
    await seeker.handed_over()
    # With consent, the help-seeker's page passes the earlier conversation on itself, in the new session.
    seq, ct = seeker.s.session.seal(b'{"k":"history","items":[{"w":"seeker","b":"eerder"}]}')
    await seeker.s.ws.send_json({"t": "msg", "seq": seq, "ct": crypto.b64encode(ct)})
    frame = await colleague.next("msg")
    history = read_content(colleague.sessions[new_id].open(frame["seq"], crypto.b64decode(frame["ct"])))
    assert history["k"] == "history"


async def test_bad_handover_targets_are_refused_and_change_nothing(relay: Any, stack: Any) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    _, chat_id = await chatting(relay, stack, volunteer)
    await volunteer.hand_over(chat_id, "p:onbekend")
    assert (await volunteer.next("error"))["code"] == "no-partner"
    await volunteer.hand_over(chat_id, "v:999")
    assert (await volunteer.next("error"))["code"] == "no-colleague"
    await volunteer.ws.send_json({"t": "handover", "chat": crypto.b64encode(chat_id), "target": "x:1",
                                  "link": crypto.b64encode(bytes(16)), "pub": crypto.b64encode(bytes(32)),
                                  "sig": crypto.b64encode(bytes(64))})
    assert (await volunteer.next("error"))["code"] == "bad-frame"
    assert not relay.server.app[CHAT_HUB].handovers
    await asyncio.sleep(0)
