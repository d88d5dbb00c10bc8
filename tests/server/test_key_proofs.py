"""Every frame and API answer that gives a help-seeker's page a volunteer key carries that key's proof.

crypto/PROTOCOL.md 14 (interfaces of issue 17, section 10): chat `connected` (and the copy the hub keeps
for a resume), the help-seeker's `mentor-joined` and `handed-over`, `/api/mail/assign` and the
help-seeker's thread view (`volunteer.proof`, `signer_proofs`). Each proof is checked here as the page
checks it (`crypto.verify_key_proof`, the Python mirror of web/js/crypto/transparency.js) against the
trust configuration the pages are served (`trust_config`): it must vouch for exactly that account's keys,
and for no other key. The real relay, the real log, the real signing path (tests/transparency.py's robot
plays the coordinators); the browser half is tests/browser/test_key_transparency.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import crypto
from server.app import create_app
from server.chat.hub import CHAT_HUB
from server.keys import CONFIG, STORAGE
from server.transparency.log import trust_config
from tests.chatclient import Seeker, SeekerExtras, Staff
from tests.helpers import PASSPHRASE, enrolment_body, invite, login_body
from tests.mailclient import MailSeeker, MailVolunteer
from tests.transparency import wait_ready

CHAT_ROLES = ("volunteer", "mentor", "coordinator")


@pytest.fixture
async def relay(aiohttp_client: Any, insecure_kdf_config: Any) -> Any:
    config = dataclasses.replace(insecure_kdf_config, chat_handover_timeout_seconds=5)
    return await aiohttp_client(create_app(config))


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


async def enrolled(relay: Any, stack: contextlib.AsyncExitStack, name: str,
                   role: str = "volunteer") -> tuple[aiohttp.ClientSession, crypto.Identity]:
    """An account enrolled and logged in through the real API, once its keys are signed and logged."""
    http = await http_for(relay, stack)
    identity = crypto.new_identity()
    resp = await http.post("/api/enrol", json=enrolment_body(await invite(relay, name, role), identity=identity))
    assert resp.status == 201, await resp.text()
    resp = await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))
    assert resp.status == 200, await resp.text()
    await wait_ready(relay.server.app, name=name)
    return http, identity


async def staff(relay: Any, stack: contextlib.AsyncExitStack, name: str, role: str = "volunteer",
                available: bool = True) -> Staff:
    http, identity = await enrolled(relay, stack, name, role)
    member = Staff(await http.ws_connect("/ws/volunteer", headers=origin(relay)), identity)
    await member.next("queue")
    if available:
        await member.available(True)
    return member


async def account_of(relay: Any, name: str) -> Any:
    volunteer = await relay.server.app[STORAGE].volunteer_by_name(name)
    assert volunteer is not None and len(volunteer.account_id) == 16
    return volunteer


def checked(relay: Any, proof: Any, keys: Any, *, roles: Any = None, x25519: bool = False) -> crypto.Statement:
    """The page's check of a proof for these keys (an Identity or a Volunteer row)."""
    trust = trust_config(relay.server.app[CONFIG])
    return crypto.verify_key_proof(trust, proof, ed25519_public=keys.ed25519_public,
                                   x25519_public=keys.x25519_public if x25519 else None,
                                   roles=roles, now=int(time.time()))


def refused_for_another_key(relay: Any, proof: Any) -> None:
    """A proof vouches for one key only: with any other, the page's check refuses."""
    other = crypto.new_identity()
    with pytest.raises(crypto.CryptoError):
        checked(relay, proof, other)


async def chatting(relay: Any, stack: contextlib.AsyncExitStack,
                   volunteer: Staff) -> tuple[SeekerExtras, bytes, dict[str, Any]]:
    http = await http_for(relay, stack)
    seeker = Seeker(await http.ws_connect("/ws/chat", headers=origin(relay)))
    assert (await seeker.open(http))["t"] == "queued"
    chat_id = await volunteer.pick_up()
    connected = await seeker.connected()
    return SeekerExtras(seeker), chat_id, connected


async def colleague_id(member: Staff, relay: Any, name: str) -> int:
    return (await account_of(relay, name)).id


async def test_connected_frame_carries_the_proof_of_exactly_that_volunteers_keys(relay: Any, stack: Any) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    _, chat_id, connected = await chatting(relay, stack, volunteer)
    assert "proof" in connected
    statement = checked(relay, connected["proof"], volunteer.identity, roles=CHAT_ROLES)
    row = await account_of(relay, "Sanne")
    assert statement.account_id == row.account_id and statement.name == "Sanne" and statement.role == "volunteer"
    assert statement.x25519_public == volunteer.identity.x25519_public
    assert crypto.b64decode(connected["identity"]) == volunteer.identity.ed25519_public
    refused_for_another_key(relay, connected["proof"])
    with pytest.raises(crypto.ProofError):  # a volunteer's statement does not pass where only a partner may answer
        checked(relay, connected["proof"], volunteer.identity, roles=("partner",))
    # The copy the hub keeps for a help-seeker who resumes before anything was said carries the same proof.
    kept = relay.server.app[CHAT_HUB].connected_frames[chat_id]
    assert kept["proof"] == connected["proof"] and kept["identity"] == connected["identity"]


async def test_mentor_joined_frame_carries_the_mentors_proof(relay: Any, stack: Any) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    mentor = await staff(relay, stack, "Mirjam", "mentor", available=False)
    seeker, chat_id, _ = await chatting(relay, stack, volunteer)
    await volunteer.invite_mentor(chat_id, await colleague_id(volunteer, relay, "Mirjam"))
    await seeker.give_mentor_key()
    await mentor.accept_readalong()
    joined = await seeker.mentor_joined()
    statement = checked(relay, joined["proof"], mentor.identity, roles=("mentor", "coordinator"))
    assert statement.name == "Mirjam" and statement.role == "mentor"
    assert statement.account_id == (await account_of(relay, "Mirjam")).account_id
    refused_for_another_key(relay, joined["proof"])
    # Not the proof of the volunteer who invited: the page checks the mentor's own key.
    with pytest.raises(crypto.CryptoError):
        checked(relay, joined["proof"], volunteer.identity)


@pytest.mark.parametrize("kind", ["partner", "colleague"])
async def test_handed_over_frame_carries_the_receivers_proof(relay: Any, stack: Any, kind: str) -> None:
    volunteer = await staff(relay, stack, "Sanne")
    receiver = await staff(relay, stack, "Pieter", "partner" if kind == "partner" else "volunteer")
    seeker, chat_id, _ = await chatting(relay, stack, volunteer)
    target = "p:113" if kind == "partner" else f"v:{(await account_of(relay, 'Pieter')).id}"
    await volunteer.hand_over(chat_id, target)
    await seeker.answer_handover(accept=True)
    if kind == "partner":
        queue = await receiver.next("queue")
        while not queue["handovers"]:
            queue = await receiver.next("queue")
    else:
        queue = await receiver.next("queue")
        while not queue.get("handovers"):
            queue = await receiver.next("queue")
    new_id, _ = await receiver.take_handover()
    await volunteer.joiner_arrived("handover-done")
    frame = await seeker.handed_over()
    roles = ("partner",) if kind == "partner" else ("volunteer", "mentor")
    statement = checked(relay, frame["proof"], receiver.identity, roles=roles)
    assert statement.name == "Pieter" and statement.account_id == (await account_of(relay, "Pieter")).account_id
    refused_for_another_key(relay, frame["proof"])
    # The frame the hub repeats to a page that resumes with the old id carries it too.
    chat = relay.server.app[CHAT_HUB].chats[new_id]
    assert json.loads(chat.handed_over_frame)["proof"] == frame["proof"]


async def test_staff_link_frames_of_a_read_along_carry_the_proof_of_the_peer_they_name(relay: Any, stack: Any) -> None:
    """The staff pages check a colleague's identity key against the log before they verify a link key with it
    (PROTOCOL.md 10.11): `mentor-ask` carries the inviting volunteer's proof, `mentor-linked` the mentor's."""
    volunteer = await staff(relay, stack, "Sanne")
    mentor = await staff(relay, stack, "Mirjam", "mentor", available=False)
    seeker, chat_id, _ = await chatting(relay, stack, volunteer)
    await volunteer.invite_mentor(chat_id, await colleague_id(volunteer, relay, "Mirjam"))
    await seeker.give_mentor_key()
    ask = await mentor.accept_readalong()
    statement = checked(relay, ask["proof"], volunteer.identity, roles=CHAT_ROLES)
    assert statement.name == "Sanne" and statement.account_id == (await account_of(relay, "Sanne")).account_id
    assert crypto.b64decode(ask["identity"]) == volunteer.identity.ed25519_public
    refused_for_another_key(relay, ask["proof"])
    with pytest.raises(crypto.CryptoError):  # the inviter's proof, not the mentor's
        checked(relay, ask["proof"], mentor.identity)
    linked = await volunteer.joiner_arrived("mentor-linked")
    statement = checked(relay, linked["proof"], mentor.identity, roles=("mentor", "coordinator"))
    assert statement.name == "Mirjam" and statement.role == "mentor"
    assert statement.account_id == (await account_of(relay, "Mirjam")).account_id
    assert crypto.b64decode(linked["identity"]) == mentor.identity.ed25519_public
    refused_for_another_key(relay, linked["proof"])
    with pytest.raises(crypto.CryptoError):
        checked(relay, linked["proof"], volunteer.identity)


@pytest.mark.parametrize("kind", ["partner", "colleague"])
async def test_staff_link_frames_of_a_handover_carry_the_proof_of_the_peer_they_name(
        relay: Any, stack: Any, kind: str) -> None:
    """The receiver's `assigned` (with `handover`) carries the handing-over volunteer's proof, and the volunteer's
    `handover-done` the receiver's: the handover note is sealed only to a key the log vouches for."""
    volunteer = await staff(relay, stack, "Sanne")
    receiver = await staff(relay, stack, "Pieter", "partner" if kind == "partner" else "volunteer")
    seeker, chat_id, _ = await chatting(relay, stack, volunteer)
    target = "p:113" if kind == "partner" else f"v:{(await account_of(relay, 'Pieter')).id}"
    await volunteer.hand_over(chat_id, target)
    await seeker.answer_handover(accept=True)
    queue = await receiver.next("queue")
    while not queue.get("handovers"):
        queue = await receiver.next("queue")
    _, assigned = await receiver.take_handover()
    inviter = assigned["handover"]
    statement = checked(relay, inviter["proof"], volunteer.identity, roles=CHAT_ROLES)
    assert statement.name == "Sanne" and statement.account_id == (await account_of(relay, "Sanne")).account_id
    assert crypto.b64decode(inviter["identity"]) == volunteer.identity.ed25519_public
    refused_for_another_key(relay, inviter["proof"])
    with pytest.raises(crypto.CryptoError):
        checked(relay, inviter["proof"], receiver.identity)
    done = await volunteer.joiner_arrived("handover-done")
    roles = ("partner",) if kind == "partner" else ("volunteer", "mentor")
    statement = checked(relay, done["proof"], receiver.identity, roles=roles)
    assert statement.name == "Pieter" and statement.account_id == (await account_of(relay, "Pieter")).account_id
    assert crypto.b64decode(done["identity"]) == receiver.identity.ed25519_public
    refused_for_another_key(relay, done["proof"])
    with pytest.raises(crypto.CryptoError):
        checked(relay, done["proof"], volunteer.identity)
    await seeker.handed_over()


async def test_mail_assign_and_thread_view_carry_the_volunteers_proof(relay: Any, stack: Any) -> None:
    http, identity = await enrolled(relay, stack, "Sanne")
    volunteer = MailVolunteer(http, identity)
    await volunteer.available(True)
    seeker_http = await http_for(relay, stack)
    seeker = MailSeeker(seeker_http)
    from client.mail import assign
    assigned = await (await assign(seeker_http)).json()
    row = await account_of(relay, "Sanne")
    statement = checked(relay, assigned["volunteer"]["proof"], row, roles=None, x25519=True)
    assert statement.account_id == row.account_id and statement.x25519_public == identity.x25519_public
    refused_for_another_key(relay, assigned["volunteer"]["proof"])
    assert (await seeker.create(assigned, "Ik kan niet slapen")).status == 201

    # The help-seeker's thread view: the proof of the key a follow-up is encrypted to, and of each reply's signer.
    [thread] = await volunteer.inbox()
    data, _ = await volunteer.read(thread["thread"])
    assert (await volunteer.reply(data, "Wat fijn dat je schrijft")).status == 201
    assert (await seeker.open()).status == 200
    view = seeker.thread
    checked(relay, view["volunteer"]["proof"], row, x25519=True)
    assert view["signer_proofs"].keys() == {crypto.b64encode(identity.ed25519_public)}
    checked(relay, view["signer_proofs"][crypto.b64encode(identity.ed25519_public)], identity)


async def test_in_a_cluster_the_leader_builds_connected_with_the_proof(
        aiohttp_client: Any, insecure_kdf_config: Any, redis_url: str) -> None:
    """With `hub_url` the frames are built on the leading node (chat/cluster.py) from its own log: a help-seeker
    on the other node gets the same verifiable proof."""
    from server.chat.cluster import CLUSTER
    from tests.helpers import logged_in_volunteer
    config = dataclasses.replace(insecure_kdf_config, hub_url=redis_url)
    a = await aiohttp_client(create_app(config))
    deadline = time.monotonic() + 10
    while not (a.server.app[CLUSTER].leader is not None and a.server.app[CLUSTER].leader.ready):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    b = await aiohttp_client(create_app(config))
    identity = await logged_in_volunteer(a, "Sanne")
    await wait_ready(b.server.app, name="Sanne")
    cookies = "; ".join(f"{c.key}={c.value}" for c in a.session.cookie_jar)
    ws = await b.session.ws_connect(b.make_url("/ws/volunteer"), headers={**origin(b), "Cookie": cookies})
    volunteer = Staff(ws, identity)
    await volunteer.next("queue")
    await volunteer.available(True)
    async with aiohttp.ClientSession(base_url=str(b.make_url(""))) as http:
        while not (await (await http.get("/api/chat/status")).json())["available"]:
            assert time.monotonic() < deadline + 10
            await asyncio.sleep(0.1)
        seeker = Seeker(await http.ws_connect("/ws/chat", headers=origin(b)))
        await seeker.open(http)
        await volunteer.pick_up()
        connected = await seeker.connected()
    statement = checked(a, connected["proof"], identity, roles=CHAT_ROLES)
    assert statement.account_id == (await account_of(a, "Sanne")).account_id
    refused_for_another_key(a, connected["proof"])


async def test_the_mail_gateway_seals_only_to_keys_the_log_vouches_for(tmp_path: Any, database: Any) -> None:
    """The gateway encrypts on the server (PROTOCOL.md 12.9), but checks the key proof first, as a page does:
    a volunteer row whose keys are not the logged ones (a database thief's swap) is refused (NoKey: nothing is
    stored, the sender's server retries); the real row passes, and a mail goes through."""
    from mailgate.gateway import GATEWAY, NoKey
    from tests.browser.inprocess import api_volunteer, start_in_process, stop_in_process
    from tests.processes import mail_to_gateway
    server = await start_in_process(tmp_path, smtp=True, database=database)
    try:
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await api_volunteer(server, http, "Sanne")
        gateway = server.app[GATEWAY]
        row = await server.app[STORAGE].volunteer_by_name("Sanne")
        gateway.check_proof(row)
        thief = crypto.new_identity()
        for swapped in (dataclasses.replace(row, x25519_public=thief.x25519_public),
                        dataclasses.replace(row, ed25519_public=thief.ed25519_public),
                        dataclasses.replace(row, account_id=bytes(16))):
            with pytest.raises(NoKey):
                gateway.check_proof(swapped)
        code, text = await asyncio.get_running_loop().run_in_executor(
            None, mail_to_gateway, server.config.smtp.port, "iemand@example.org", "Ik wil even iets kwijt")
        assert code == 250, text
        assert server.store.rows("SELECT COUNT(*) FROM mail_threads") == [(1,)]
    finally:
        await stop_in_process(server)
