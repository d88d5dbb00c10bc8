"""The coordinator's live figures and volunteer management, through the real API and database (both backends)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import crypto
from server.chat.hub import CHAT_HUB
from server.keys import STORAGE
from server.mail.desk import MAIL_DESK
from server.storage import LastCoordinator
from tests.chatclient import Seeker, Volunteer
from tests.helpers import clocked_client, cookie_sessions, PASSPHRASE, enrolment_body, invite, login_body
from tests.mailclient import MailSeeker, MailVolunteer
from tests.services.database import Database, written
from tests.server.test_chat_handover import chatting, http_for, relay, stack, staff  # noqa: F401 (fixtures)
from tests.server.test_chat_cluster import nodes  # noqa: F401 (a fixture: two nodes over one Redis)

START = 1_800_000_000  # a whole hour (unix seconds)


@pytest.fixture
async def app_client(aiohttp_client: Any, insecure_kdf_config: Any) -> Any:
    return await clocked_client(aiohttp_client, insecure_kdf_config, START)


@pytest.fixture
async def sessions(app_client: Any) -> AsyncIterator[list[aiohttp.ClientSession]]:
    async with cookie_sessions(app_client, 4) as made:
        yield made


async def log_in(app_client: Any, http: Any, name: str, role: str = "volunteer") -> crypto.Identity:
    identity = crypto.new_identity()
    token = await invite(app_client, name, role)
    assert (await http.post("/api/enrol", json=enrolment_body(token, identity=identity))).status == 201
    assert (await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))).status == 200
    return identity


def origin(client: Any) -> dict[str, str]:
    return {"Origin": str(client.make_url("")).rstrip("/")}


def rows(database: Database, sql: str) -> list[tuple[Any, ...]]:
    return database.rows(sql)


# -- live figures --------------------------------------------------------------------------------


async def test_live_figures_count_the_queue_and_open_mail_by_waiting_time(app_client: Any, sessions: Any) -> None:
    coordinator, mail_http, chat_http, seeker_http = sessions
    await log_in(app_client, coordinator, "Carla", "coordinator")
    empty = await (await coordinator.get("/api/coordinator/live")).json()
    assert empty["chat"] == {"waiting": 0, "longest_wait_s": None, "in_progress": 0, "volunteers_available": 0,
                             "partners_available": 0, "mentors_online": 0, "handovers_waiting_for_partner": 0}
    assert empty["mail"]["volunteers_available"] == 0 and empty["mail"]["needs_volunteer"] == 0

    # A mail volunteer on duty and two help-seekers who wrote five hours apart.
    mail_volunteer = MailVolunteer(mail_http, await log_in(app_client, mail_http, "Mila"))
    await mail_volunteer.available(True)
    first = MailSeeker(seeker_http)
    assert (await first.send_first("Eerste bericht")).status == 201
    app_client.clock.now += 5 * 3600
    assert (await MailSeeker(seeker_http).send_first("Tweede bericht")).status == 201
    assert (await mail_http.post("/api/login", json=await login_body(mail_http, "Mila", PASSPHRASE))).status == 200
    assert (await coordinator.post("/api/login", json=await login_body(coordinator, "Carla", PASSPHRASE))).status == 200

    # A chat volunteer on duty and one help-seeker waiting, for 95 seconds of the hub's clock.
    hub = app_client.server.app[CHAT_HUB]
    monotonic = [1000.0]
    hub.clock = lambda: monotonic[0]
    chat_identity = await log_in(app_client, chat_http, "Chris")
    volunteer = Volunteer(await chat_http.ws_connect("/ws/volunteer", headers=origin(app_client)), chat_identity)
    await volunteer.next("queue")
    await volunteer.available(True)
    seeker = Seeker(await seeker_http.ws_connect("/ws/chat", headers=origin(app_client)))
    assert (await seeker.open(seeker_http))["t"] == "queued"
    monotonic[0] += 95

    live = await (await coordinator.get("/api/coordinator/live")).json()
    assert live["chat"] == {"waiting": 1, "longest_wait_s": 95, "in_progress": 0, "volunteers_available": 1,
                            "partners_available": 0, "mentors_online": 0, "handovers_waiting_for_partner": 0}
    assert live["mail"]["volunteers_available"] == 1
    assert {b["band"]: b["threads"] for b in live["mail"]["waiting"]} == {
        "0-4": 1, "4-24": 1, "24-48": 0, "48-72": 0, "72+": 0}
    page = await (await coordinator.get("/coordinator")).text()
    assert '<td id="chat-wachtend">1</td>' in page and '<td id="chat-langste">1 minuut</td>' in page

    # The chat is taken; the older mail is answered; the volunteer goes off mail and is deactivated.
    await volunteer.pick_up()
    await seeker.connected()
    key = [t for t in await mail_volunteer.inbox() if t["waiting_hours"] == 5][0]["thread"]
    data, _ = await mail_volunteer.read(key)
    assert (await mail_volunteer.reply(data, "Ik lees je")).status == 201
    live = await (await coordinator.get("/api/coordinator/live")).json()
    assert live["chat"]["waiting"] == 0 and live["chat"]["in_progress"] == 1 and live["chat"]["longest_wait_s"] is None
    assert live["mail"]["answered_open"] == 1
    assert {b["band"]: b["threads"] for b in live["mail"]["waiting"]}["0-4"] == 1
    assert (await coordinator.post("/api/coordinator/deactivate", json={"name": "Mila"})).status == 200
    await app_client.server.app[MAIL_DESK].housekeeping()  # her threads need a new volunteer
    live = await (await coordinator.get("/api/coordinator/live")).json()
    assert live["mail"]["volunteers_available"] == 0 and live["mail"]["needs_volunteer"] == 2
    await seeker.ws.close()
    await volunteer.ws.close()


async def test_live_figures_count_partners_mentors_and_handovers_waiting_for_a_partner(relay: Any,
                                                                                      stack: Any) -> None:
    """A volunteer, a partner and a mentor on duty: each figure counts one of them, and a chat handed to
    113 counts as waiting for a partner until a partner takes it."""
    coordinator = await http_for(relay, stack)
    token = await invite(relay, "Carla", "coordinator")
    assert (await coordinator.post("/api/enrol", json=enrolment_body(token))).status == 201
    assert (await coordinator.post("/api/login", json=await login_body(coordinator, "Carla", PASSPHRASE))).status == 200

    async def chat_figures() -> dict[str, Any]:
        return dict((await (await coordinator.get("/api/coordinator/live")).json())["chat"])

    volunteer = await staff(relay, stack, "Sanne")
    partner = await staff(relay, stack, "Pieter", "partner")
    mentor = await staff(relay, stack, "Mirjam", "mentor", available=False)
    figures = await chat_figures()
    assert (figures["volunteers_available"], figures["partners_available"], figures["mentors_online"],
            figures["handovers_waiting_for_partner"]) == (1, 1, 1, 0)
    page = await (await coordinator.get("/coordinator")).text()
    for cell in ('<td id="chat-beschikbaar">1</td>', '<td id="partners-beschikbaar">1</td>',
                 '<td id="mentoren-online">1</td>', '<td id="overdrachten-partner">0</td>'):
        assert cell in page
    assert "Partners (zoals 113) nemen alleen overgedragen chats aan" in page  # what each figure counts
    await mentor.available(True)  # a mentor who takes chats too is in both figures
    figures = await chat_figures()
    assert (figures["volunteers_available"], figures["mentors_online"]) == (2, 1)

    seeker, chat_id = await chatting(relay, stack, volunteer)
    await volunteer.hand_over(chat_id, "p:113")
    await seeker.answer_handover(accept=True, history=False)
    await volunteer.next("handover-waiting")
    assert (await chat_figures())["handovers_waiting_for_partner"] == 1
    await partner.take_handover()
    await volunteer.joiner_arrived("handover-done")
    figures = await chat_figures()
    assert figures["handovers_waiting_for_partner"] == 0 and figures["in_progress"] == 1
    await mentor.ws.close()
    await partner.available(False)
    figures = await chat_figures()
    while figures["mentors_online"]:  # the server notices the closed socket a moment later
        await asyncio.sleep(0.05)
        figures = await chat_figures()
    assert (figures["partners_available"], figures["mentors_online"]) == (0, 0)


async def test_live_figures_in_a_cluster_count_partners_and_mentors_on_any_node(nodes: Any) -> None:
    """With two nodes, the figures a node that does not lead shows come from the leader's status in
    Redis, and count the partner and the mentor whichever node their sockets are on."""
    from server.chat.cluster import CLUSTER
    from server.coordinator import live_figures
    a, b, _ = nodes
    async with cookie_sessions(a, 2) as (partner_http, mentor_http):
        sockets = []
        for http, name, role, node in ((partner_http, "Pieter", "partner", b), (mentor_http, "Mirjam", "mentor", a)):
            identity = crypto.new_identity()
            token = await invite(a, name, role)
            assert (await http.post("/api/enrol", json=enrolment_body(token, identity=identity))).status == 201
            assert (await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))).status == 200
            cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
            ws = await node.session.ws_connect(node.make_url("/ws/volunteer"),
                                               headers={**origin(node), "Cookie": cookie})
            staff_member = Volunteer(ws, identity)
            await staff_member.next("queue")
            sockets.append(staff_member)
        await sockets[0].available(True)  # the partner, on node B
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            chat = (await live_figures(b.server.app))["chat"]
            if chat["partners_available"] == 1 and chat["mentors_online"] == 1:
                break
            assert asyncio.get_running_loop().time() < deadline, chat
            await asyncio.sleep(0.1)
        assert chat["volunteers_available"] == 0 and chat["handovers_waiting_for_partner"] == 0
        assert b.server.app[CLUSTER].leader is None  # B does not lead: these came through Redis
        for member in sockets:
            await member.ws.close()


# -- invitations -----------------------------------------------------------------------------------


async def test_invite_gives_a_link_that_enrols_with_the_existing_api(
        app_client: Any, sessions: Any, insecure_kdf_config: Any, database: Database) -> None:
    coordinator, newcomer = sessions[:2]
    await log_in(app_client, coordinator, "Carla", "coordinator")
    resp = await coordinator.post("/api/coordinator/invite",
                                  json={"name": " Mentor Mo ", "role": "mentor", "can_chat": True, "can_mail": False})
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    assert made["name"] == "Mentor Mo" and made["role"] == "mentor"
    assert made["expires_at"] == START + insecure_kdf_config.invitation_ttl_hours * 3600
    prefix = f"{insecure_kdf_config.base_url}/inschrijven#uitnodiging="
    assert made["url"].startswith(prefix)
    token = made["url"][len(prefix):]
    assert resp.headers["Cache-Control"] == "no-store"
    checked = await (await newcomer.post("/api/enrol/check", json={"invitation": token})).json()
    assert checked["name"] == "Mentor Mo" and checked["role"] == "mentor"
    assert (await newcomer.post("/api/enrol", json=enrolment_body(token))).status == 201
    assert (await newcomer.post("/api/login", json=await login_body(newcomer, "Mentor Mo", PASSPHRASE))).status == 200
    me = await (await newcomer.get("/api/me")).json()
    assert me == {"name": "Mentor Mo", "role": "mentor", "can_chat": True, "can_mail": False}
    # Only a hash of the token is stored; the link is not in any file.
    stored = written(insecure_kdf_config.data_dir, database)
    assert token.encode() not in stored
    assert rows(database, "SELECT token_hash FROM invitations WHERE name = 'Mentor Mo'") == \
        [(crypto.hash_token(token),)]
    page = await (await coordinator.get("/coordinator")).text()
    assert '<tr data-name="Mentor Mo">' in page


async def test_bad_invitations_get_a_clear_400_and_change_nothing(app_client: Any, sessions: Any,
                                                                  database: Database) -> None:
    coordinator = sessions[0]
    await log_in(app_client, coordinator, "Carla", "coordinator")
    good = {"name": "Noor", "role": "volunteer", "can_chat": True, "can_mail": True}
    for change, field in (({"name": "R2-D2 <script>"}, "name"), ({"name": "-Noor"}, "name"),
                          ({"name": "=1+1"}, "name"), ({"name": "x" * 41}, "name"), ({"name": "No\u202eor"}, "name"),
                          ({"name": ""}, "name"), ({"name": 7}, "name"),
                          ({"role": "admin"}, "role"), ({"role": None}, "role"), ({"can_chat": "ja"}, "can_chat"),
                          ({"can_mail": 1}, "can_mail")):
        resp = await coordinator.post("/api/coordinator/invite", json={**good, **change})
        assert resp.status == 400, change
        body = await resp.json()
        assert body["error"] == "bad-request" and body["field"] == field and body["message"]["nl"]
    resp = await coordinator.post("/api/coordinator/invite", data=b"{", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    resp = await coordinator.post("/api/coordinator/invite", json={**good, "name": "Carla"})
    assert resp.status == 409 and (await resp.json())["field"] == "name"
    resp = await coordinator.post("/api/coordinator/invite", json=good, headers={"Origin": "https://elders.example"})
    assert resp.status == 403
    assert rows(database, "SELECT name FROM invitations WHERE name != 'Carla'") == []
    # The names people and teams have are taken, and shown as text on the dashboard.
    for name in ("Team 113", "Anne-Marie", "O'Brien", "Jan Jr."):
        resp = await coordinator.post("/api/coordinator/invite", json={**good, "name": name})
        assert resp.status == 201 and (await resp.json())["name"] == name


# -- deactivation and roles --------------------------------------------------------------------------


async def test_deactivate_ends_the_sessions_and_cannot_hit_oneself(app_client: Any, sessions: Any,
                                                                  database: Database) -> None:
    coordinator, volunteer = sessions[:2]
    await log_in(app_client, coordinator, "Carla", "coordinator")
    await log_in(app_client, volunteer, "Sanne")
    assert (await volunteer.get("/api/me")).status == 200
    resp = await coordinator.post("/api/coordinator/deactivate", json={"name": "Sanne"})
    assert resp.status == 200
    assert (await resp.json()) == {"name": "Sanne", "role": "volunteer", "can_chat": True, "can_mail": True,
                                   "active": False, "enrolled_day": "2027-01-15"}
    assert (await volunteer.get("/api/me")).status == 401
    assert rows(database,
                "SELECT count(*) FROM sessions JOIN volunteers v ON v.id = volunteer_id"
                " WHERE v.name = 'Sanne'") == [(0,)]
    relogin = await volunteer.post("/api/login", json=await login_body(volunteer, "Sanne", PASSPHRASE))
    assert relogin.status == 403 and (await relogin.json())["reason"] == "deactivated"

    resp = await coordinator.post("/api/coordinator/deactivate", json={"name": "Carla"})
    assert resp.status == 409 and (await resp.json())["reason"] == "self"
    assert (await coordinator.get("/api/me")).status == 200
    resp = await coordinator.post("/api/coordinator/deactivate", json={"name": "Niemand"})
    assert resp.status == 404 and (await resp.json())["field"] == "name"
    resp = await coordinator.post("/api/coordinator/deactivate", json={"name": ["Sanne"]})
    assert resp.status == 400 and (await resp.json())["field"] == "name"
    page = await (await coordinator.get("/coordinator")).text()
    sanne = page.split('<tr data-name="Sanne">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="actief">Nee</td>' in sanne and "deactiveren" not in sanne
    carla = page.split('<tr data-name="Carla">', 1)[1].split("</tr>", 1)[0]
    assert "Dit ben jij." in carla and "<form" not in carla


async def test_role_change_takes_effect_and_self_demotion_is_refused(app_client: Any, sessions: Any,
                                                                    database: Database) -> None:
    coordinator, volunteer, second = sessions[:3]
    await log_in(app_client, coordinator, "Carla", "coordinator")
    await log_in(app_client, volunteer, "Sanne")
    resp = await coordinator.post("/api/coordinator/role", json={"name": "Sanne", "role": "mentor"})
    assert resp.status == 200 and (await resp.json())["role"] == "mentor"
    assert (await (await volunteer.get("/api/me")).json())["role"] == "mentor"
    # Made coordinator, Sanne may open the dashboard at once; made volunteer again, she may not.
    assert (await volunteer.get("/api/coordinator/live")).status == 403
    made = await coordinator.post("/api/coordinator/role", json={"name": "Sanne", "role": "coordinator"})
    assert made.status == 200
    assert (await volunteer.get("/api/coordinator/live")).status == 200
    # Even with another coordinator there, nobody demotes or deactivates themselves.
    for path, body in (("/api/coordinator/role", {"name": "Carla", "role": "volunteer"}),
                       ("/api/coordinator/deactivate", {"name": "Carla"})):
        resp = await coordinator.post(path, json=body)
        assert resp.status == 409 and (await resp.json())["reason"] == "self"
    assert (await coordinator.post("/api/coordinator/role", json={"name": "Sanne", "role": "volunteer"})).status == 200
    assert (await volunteer.get("/api/coordinator/live")).status == 403

    for body, status, field in (({"name": "Carla", "role": "volunteer"}, 409, "name"),
                                ({"name": "Sanne", "role": "admin"}, 400, "role"),
                                ({"name": "Sanne"}, 400, "role"),
                                ({"name": "Niemand", "role": "mentor"}, 404, "name")):
        resp = await coordinator.post("/api/coordinator/role", json=body)
        assert resp.status == status, body
        assert (await resp.json())["field"] == field
    assert rows(database, "SELECT name, role FROM volunteers ORDER BY name") == \
        [("Carla", "coordinator"), ("Sanne", "volunteer")]
    # A volunteer cannot use the management API at all.
    for path, body in (("/api/coordinator/role", {"name": "Sanne", "role": "coordinator"}),
                       ("/api/coordinator/deactivate", {"name": "Carla"}),
                       ("/api/coordinator/invite", {"name": "Nep", "role": "coordinator", "can_chat": True,
                                                     "can_mail": True})):
        assert (await volunteer.post(path, json=body)).status == 403
        assert (await second.post(path, json=body)).status == 401
    assert rows(database, "SELECT name, role, active FROM volunteers ORDER BY name") == \
        [("Carla", "coordinator", 1), ("Sanne", "volunteer", 1)]


async def test_two_coordinators_cannot_leave_none(app_client: Any, sessions: Any, database: Database) -> None:
    """The storage refuses, inside its transaction, a change that would leave no active coordinator:
    two coordinators who demote or deactivate each other at the same moment keep one."""
    await log_in(app_client, sessions[0], "Anna", "coordinator")
    await log_in(app_client, sessions[1], "Bram", "coordinator")
    storage = app_client.server.app[STORAGE]
    results = await asyncio.gather(storage.set_role("Anna", "volunteer"), storage.set_role("Bram", "volunteer"),
                                   return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["LastCoordinator", "bool"]
    assert rows(database,
                "SELECT count(*) FROM volunteers WHERE role = 'coordinator' AND active = 1") == [(1,)]
    (left,) = rows(database, "SELECT name FROM volunteers WHERE role = 'coordinator'")[0]
    with pytest.raises(LastCoordinator):
        await storage.set_active(left, False, keep_a_coordinator=True)
    assert await storage.set_active(left, False)  # the CLI (the operator's shell) may still do it
