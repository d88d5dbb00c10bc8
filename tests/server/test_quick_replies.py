"""Quick replies: organisation text a coordinator manages and every volunteer's page reads (both backends).

The storage keeps at most 50 of at most 1,000 characters per language, in the order made; the API
checks the body's size before it reads it, needs both languages, and answers only staff sessions
(the writes only coordinators', from this site).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from server.storage import Storage, StorageError, open_storage
from server.storage.interface import QUICK_REPLIES_MAX, QuickReply, TooManyQuickReplies
from tests.helpers import PASSPHRASE, clocked_client, cookie_sessions, enrolment_body, invite, login_body
from tests.services.database import Database

START = 1_800_000_000


# -- storage ------------------------------------------------------------------------------------


@pytest.fixture
async def storage(insecure_kdf_config: Any) -> AsyncIterator[Storage]:
    store = open_storage(insecure_kdf_config)
    await store.open()
    yield store
    await store.close()


async def test_storage_keeps_replies_in_the_order_made_and_changes_and_deletes_them(storage: Storage) -> None:
    assert await storage.list_quick_replies() == []
    first = await storage.add_quick_reply("Fijn dat je er bent.", "Good that you are here.")
    second = await storage.add_quick_reply("Neem je tijd.", "Take your time.")
    third = await storage.add_quick_reply("Ik lees mee.", "I am reading.")
    assert first < second < third
    assert await storage.list_quick_replies() == [QuickReply(first, "Fijn dat je er bent.", "Good that you are here."),
                                                  QuickReply(second, "Neem je tijd.", "Take your time."),
                                                  QuickReply(third, "Ik lees mee.", "I am reading.")]
    assert await storage.update_quick_reply(first, "Fijn dat je schrijft.", "Good that you write.")
    assert not await storage.update_quick_reply(third + 100, "x", "y")
    assert await storage.delete_quick_reply(second)
    assert not await storage.delete_quick_reply(second)
    assert await storage.list_quick_replies() == [QuickReply(first, "Fijn dat je schrijft.", "Good that you write."),
                                                  QuickReply(third, "Ik lees mee.", "I am reading.")]
    # An edit keeps the place in the list; a new reply goes last.
    fourth = await storage.add_quick_reply("Tot later.", "See you later.")
    assert [r.id for r in await storage.list_quick_replies()] == [first, third, fourth]


async def test_storage_refuses_the_51st_reply_even_when_added_at_the_same_moment(storage: Storage) -> None:
    for n in range(QUICK_REPLIES_MAX - 5):
        await storage.add_quick_reply(f"nl {n}", f"en {n}")
    outcomes = await asyncio.gather(*(storage.add_quick_reply(f"nl x{n}", f"en x{n}") for n in range(10)),
                                    return_exceptions=True)
    assert sum(isinstance(o, int) for o in outcomes) == 5
    assert sum(isinstance(o, TooManyQuickReplies) for o in outcomes) == 5
    assert len(await storage.list_quick_replies()) == QUICK_REPLIES_MAX
    with pytest.raises(TooManyQuickReplies):
        await storage.add_quick_reply("nog een", "one more")


async def test_the_database_itself_refuses_empty_and_overlong_texts(storage: Storage) -> None:
    await storage.add_quick_reply("a" * 1000, "b" * 1000)
    for nl, en in (("", "b"), ("a", ""), ("a" * 1001, "b"), ("a", "b" * 1001)):
        with pytest.raises(Exception) as refused:  # a CHECK constraint (sqlite3 / asyncpg error)
            await storage.add_quick_reply(nl, en)
        assert not isinstance(refused.value, TooManyQuickReplies)
    assert len(await storage.list_quick_replies()) == 1
    assert not isinstance(StorageError(), TooManyQuickReplies)


# -- API ----------------------------------------------------------------------------------------


@pytest.fixture
async def app_client(aiohttp_client: Any, insecure_kdf_config: Any) -> Any:
    return await clocked_client(aiohttp_client, insecure_kdf_config, START)


@pytest.fixture
async def sessions(app_client: Any) -> AsyncIterator[list[aiohttp.ClientSession]]:
    async with cookie_sessions(app_client, 3) as made:
        yield made


async def log_in(app_client: Any, http: Any, name: str, role: str) -> None:
    token = await invite(app_client, name, role)
    assert (await http.post("/api/enrol", json=enrolment_body(token))).status == 201
    assert (await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))).status == 200


async def test_a_coordinator_adds_edits_and_deletes_and_every_volunteer_reads(
        app_client: Any, sessions: Any, database: Database) -> None:
    coordinator, volunteer, outsider = sessions
    await log_in(app_client, coordinator, "Carla", "coordinator")
    await log_in(app_client, volunteer, "Vera", "volunteer")
    base = "/api/coordinator/quick-replies"

    resp = await coordinator.post(base, json={"nl": "  Fijn dat je er bent.\r\nNeem je tijd. ",
                                              "en": "Good that you are here.\r\nTake your time."})
    assert resp.status == 201
    made = await resp.json()
    assert made == {"id": made["id"], "nl": "Fijn dat je er bent.\nNeem je tijd.",
                    "en": "Good that you are here.\nTake your time."}
    second = (await (await coordinator.post(base, json={"nl": "<b>Tot</b> later", "en": "See you"})).json())["id"]

    # Every staff session reads them, in the order made; nobody else.
    for http in (volunteer, coordinator):
        listed = await (await http.get("/api/quick-replies")).json()
        assert [r["id"] for r in listed["replies"]] == [made["id"], second]
        assert listed["replies"][1]["nl"] == "<b>Tot</b> later"  # stored as text; pages show it with textContent
    assert (await outsider.get("/api/quick-replies")).status == 401
    assert (await outsider.get(base)).status == 401
    assert (await volunteer.get(base)).status == 403
    assert (await volunteer.post(base, json={"nl": "x", "en": "y"})).status == 403

    resp = await coordinator.post(f"{base}/{second}", json={"nl": "Tot later.", "en": "See you later."})
    assert resp.status == 200 and (await resp.json())["nl"] == "Tot later."
    assert (await coordinator.post(f"{base}/999999", json={"nl": "x", "en": "y"})).status == 404
    assert (await coordinator.post(f"{base}/{made['id']}/delete")).status == 200
    assert (await coordinator.post(f"{base}/{made['id']}/delete")).status == 404
    assert database.rows("SELECT nl, en FROM quick_replies") == [("Tot later.", "See you later.")]
    assert (await coordinator.post(f"{base}/0/delete")).status == 404  # not an id: no route
    assert (await coordinator.post(f"{base}/1234567890/delete")).status == 404


async def test_writes_are_checked_before_and_after_parsing(app_client: Any, sessions: Any, database: Database) -> None:
    coordinator, _, _ = sessions
    await log_in(app_client, coordinator, "Carla", "coordinator")
    base = "/api/coordinator/quick-replies"

    async def refused(body: Any, status: int = 400, **kwargs: Any) -> dict[str, Any]:
        resp = await coordinator.post(base, json=body, **kwargs) if body is not None else \
            await coordinator.post(base, **kwargs)
        assert resp.status == status, await resp.text()
        return dict(await resp.json())

    assert (await refused({"nl": "Alleen Nederlands"}))["field"] == "en"
    assert (await refused({"nl": "x", "en": 3}))["field"] == "en"
    assert (await refused({"nl": "   ", "en": "y"}))["field"] == "nl"
    assert (await refused({"nl": "x" * 1001, "en": "y"}))["field"] == "nl"
    assert (await refused({"nl": "x", "en": "a\x00b"}))["field"] == "en"
    ok = await coordinator.post(base, json={"nl": "é" * 1000, "en": "😀" * 1000})  # characters, not bytes
    assert ok.status == 201
    # Larger than two full texts can be: refused from the Content-Length, before the body is read.
    huge = b'{"nl": "' + b"x" * 30_000 + b'", "en": "y"}'
    await refused(None, 413, data=huge, headers={"Content-Type": "application/json"})

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"nl": "x", "en": "y"}'
    await refused(None, 413, data=chunks(), headers={"Content-Type": "application/json"})  # no length given
    other_site = await coordinator.post(base, json={"nl": "x", "en": "y"},
                                        headers={"Origin": "https://elders.example"})
    assert other_site.status == 403
    assert len(database.rows("SELECT id FROM quick_replies")) == 1

    for n in range(QUICK_REPLIES_MAX - 1):
        assert (await coordinator.post(base, json={"nl": f"nl {n}", "en": f"en {n}"})).status == 201
    full = await refused({"nl": "nog een", "en": "one more"}, 409)
    assert full["reason"] == "full"
    listed = await (await coordinator.get(base)).json()
    assert len(listed["replies"]) == QUICK_REPLIES_MAX
