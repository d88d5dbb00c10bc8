"""The live mail inbox and the volunteer's view of it (issue 15, points 4, 5 and 10), through the real API,
websocket and database (both backends).

- `{t: "inbox", unread, threads}` comes on the volunteer's socket at set-up and whenever either count
  changes: at once for what this process did (a nudge from the desk), within a tick for mail another
  process stored (the gateway's own process, another web node), with one storage query per tick for
  every socket of the node together;
- inbox entries carry a stable label derived from the thread id, an unread count, the hour of the
  last message; messages carry the hour they were stored;
- mail is taken when nobody is marked available, and refused (before writing) only when no account can
  take mail at all.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import aiohttp

import crypto
from server.app import create_app
from server.keys import STORAGE
from server.mail.desk import MAIL_DESK, thread_label
from server.mail.inbox import MAIL_INBOX
from tests.mailclient import MailSeeker
from tests.server.test_mail import FIRST, app_client, mail_volunteer, session_for, sessions  # noqa: F401


async def inbox_socket(app_client: Any, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    origin = str(app_client.make_url("")).rstrip("/")
    return await http.ws_connect("/ws/volunteer", headers={"Origin": origin})


async def next_inbox(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10.0) -> dict[str, Any]:
    """The next inbox frame (other frames, such as the queue, are skipped)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError("no inbox frame in time")
        msg = await ws.receive(timeout=left)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        if frame["t"] == "inbox":
            return frame


async def no_inbox_frame(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> None:
    try:
        frame = await next_inbox(ws, seconds)
    except (AssertionError, asyncio.TimeoutError):
        return
    raise AssertionError(f"an inbox frame came although nothing changed: {frame}")


async def test_the_inbox_frame_comes_at_set_up_and_with_every_change(app_client: Any, sessions: Any) -> None:
    a_http, s_http = sessions[:2]
    anna = await mail_volunteer(app_client, a_http, "Anna")
    ws = await inbox_socket(app_client, a_http)
    assert await next_inbox(ws) == {"t": "inbox", "unread": 0, "threads": 0}
    seeker = MailSeeker(s_http)
    assert (await seeker.send_first(FIRST)).status == 201
    assert await next_inbox(ws) == {"t": "inbox", "unread": 1, "threads": 1}
    await seeker.open()
    assert (await seeker.write("en nog iets")).status == 201
    assert await next_inbox(ws) == {"t": "inbox", "unread": 2, "threads": 1}
    key = (await anna.inbox())[0]["thread"]
    data, _ = await anna.read(key)
    assert await next_inbox(ws) == {"t": "inbox", "unread": 0, "threads": 1}
    assert (await anna.reply(data, "Dank je")).status == 201
    await no_inbox_frame(ws, 2.5)  # a reply changes neither count: nothing is sent
    assert (await a_http.post(f"/api/mail/threads/{key}/handled")).status == 200
    assert await next_inbox(ws) == {"t": "inbox", "unread": 0, "threads": 0}
    await ws.close()


async def test_mail_another_process_stored_arrives_within_a_tick(aiohttp_client: Any, insecure_kdf_config: Any,
                                                                 clock: Any, app_client: Any, sessions: Any) -> None:
    """A second application on the same database (as `oor serve --only smtp` or another web node): its
    desk does not nudge this one's feed, so the mail comes with this node's next storage query."""
    other = await aiohttp_client(create_app(insecure_kdf_config, clock=clock, chat=False))
    a_http = sessions[0]
    await mail_volunteer(app_client, a_http, "Anna")
    ws = await inbox_socket(app_client, a_http)
    assert await next_inbox(ws) == {"t": "inbox", "unread": 0, "threads": 0}
    async with aiohttp.ClientSession(base_url=str(other.make_url(""))) as elsewhere:
        started = asyncio.get_running_loop().time()
        assert (await MailSeeker(elsewhere).send_first(FIRST)).status == 201
        assert await next_inbox(ws, timeout=8) == {"t": "inbox", "unread": 1, "threads": 1}
        assert asyncio.get_running_loop().time() - started < 6
    await ws.close()


async def test_one_storage_query_per_tick_for_every_socket_of_the_node(app_client: Any, sessions: Any) -> None:
    a_http, b_http, c_http = sessions[:3]
    await mail_volunteer(app_client, a_http, "Anna")
    await mail_volunteer(app_client, b_http, "Bram")
    await mail_volunteer(app_client, c_http, "Carla")
    app = app_client.server.app
    storage, feed = app[STORAGE], app[MAIL_INBOX]
    calls: list[list[int]] = []
    real = storage.inbox_counts

    async def counted(volunteer_ids: list[int]) -> dict[int, tuple[int, int]]:
        calls.append(sorted(volunteer_ids))
        return await real(volunteer_ids)
    storage.inbox_counts = counted  # instrumented, not replaced: every call still goes to the database
    try:
        sockets = [await inbox_socket(app_client, h) for h in (a_http, b_http, c_http)]
        for ws in sockets:
            await next_inbox(ws)
        calls.clear()
        await asyncio.sleep(feed.interval * 3 + 0.5)
        ticks = [c for c in calls if len(c) > 1]
        assert 2 <= len(calls) <= 5, calls
        assert ticks == calls, "every tick asks for every volunteer connected here in one query"
        assert all(len(c) == 3 for c in calls), calls  # three volunteers with a socket, one query
        for ws in sockets:
            await ws.close()
        await asyncio.sleep(feed.interval + 0.5)
        calls.clear()
        await asyncio.sleep(feed.interval * 2 + 0.5)
        assert calls == [], "no socket here: no query"
    finally:
        storage.inbox_counts = real


async def _login(http: aiohttp.ClientSession, name: str) -> dict[str, Any]:
    from tests.helpers import PASSPHRASE, login_body
    return await login_body(http, name, PASSPHRASE)


async def test_inbox_entries_have_a_stable_label_an_unread_count_and_coarse_times(
        app_client: Any, sessions: Any, clock: Any) -> None:
    a_http, s1, s2 = sessions[:3]
    anna = await mail_volunteer(app_client, a_http, "Anna")
    first = MailSeeker(s1)
    await first.send_first("een")
    hour = clock.now // 3600
    entries = await anna.inbox()
    assert len(entries) == 1
    entry = entries[0]
    thread_id = crypto.b64decode(entry["thread"])
    expected = base64.b32encode(hashlib.sha256(b"oor mail thread label:" + thread_id).digest())[:4]
    assert entry["label"] == thread_label(thread_id) == expected.decode()
    assert entry["unread_count"] == 1 and entry["last_hour"] == hour and entry["waiting_hours"] == 0
    # A second thread that waits longer comes first; the first thread's label does not change.
    clock.now += 3 * 3600
    await MailSeeker(s2).send_first("twee")
    await first.open()
    await first.write("nog een")
    assert (await a_http.post("/api/login", json=await _login(a_http, "Anna"))).status == 200  # idle too long
    entries = await anna.inbox()
    assert [e["label"] for e in entries][0] == entry["label"]
    assert entries[0]["unread_count"] == 2 and entries[0]["waiting_hours"] == 3
    assert entries[0]["last_hour"] == hour + 3
    data, _ = await anna.read(entry["thread"])
    assert data["label"] == entry["label"]
    assert [m["hour"] for m in data["messages"]] == [hour, hour + 3]
    assert (await anna.inbox())[0]["unread_count"] == 0


async def test_mail_is_taken_with_nobody_marked_available(app_client: Any, sessions: Any) -> None:
    a_http, s_http, s2_http = sessions[:3]
    # No account at all: the page is told before anyone writes, and a new mail is refused.
    status = await (await s_http.get("/api/mail/status")).json()
    assert status["open"] is False and status["reply_hours"] > 0
    anna = await mail_volunteer(app_client, a_http, "Anna")
    await anna.available(False)
    status = await (await s_http.get("/api/mail/status")).json()
    assert status["open"] is True
    assert (await MailSeeker(s_http).send_first(FIRST)).status == 201
    assert len(await anna.inbox()) == 1  # it went to Anna, although she is not marked available
    # A deactivated account takes no mail: then there is nobody again.
    assert await app_client.server.app[STORAGE].set_active("Anna", False)
    assert (await (await s2_http.get("/api/mail/status")).json())["open"] is False


async def test_a_volunteer_marked_available_comes_first(app_client: Any, sessions: Any) -> None:
    a_http, b_http, s1, s2 = sessions
    anna = await mail_volunteer(app_client, a_http, "Anna")
    await MailSeeker(s1).send_first("een")  # Anna: one open thread, and marked available
    bram = await mail_volunteer(app_client, b_http, "Bram")
    await bram.available(False)  # Bram: none, but not marked available
    await MailSeeker(s2).send_first("twee")
    assert len(await anna.inbox()) == 2 and await bram.inbox() == []
    # With Anna off too, the fewest open threads decide among every account that can mail.
    await anna.available(False)
    async with aiohttp.ClientSession(base_url=str(app_client.make_url(""))) as s3:
        await MailSeeker(s3).send_first("drie")
    assert len(await bram.inbox()) == 1


async def test_the_pickup_rule_still_moves_an_unopened_thread_on(app_client: Any, sessions: Any, clock: Any,
                                                                insecure_kdf_config: Any) -> None:
    a_http, b_http, s_http = sessions[:3]
    anna = await mail_volunteer(app_client, a_http, "Anna")
    await anna.available(False)
    seeker = MailSeeker(s_http)
    await seeker.send_first(FIRST)
    await mail_volunteer(app_client, b_http, "Bram")  # marked available
    clock.now += insecure_kdf_config.mail_pickup_hours * 3600
    await app_client.server.app[MAIL_DESK].housekeeping()
    await seeker.open()
    assert seeker.thread["state"] == "needs-volunteer"
    assert seeker.thread["reassign"]["name"] == "Bram"


def test_the_inbox_words_count_right() -> None:
    """Whole hours, plural-correct, and "< 1 uur" rather than "0 uur" (the page picks wm_waiting_short for 0)."""
    from server.i18n import text
    assert text("wm_waiting_short", "nl") == "wacht < 1 uur"
    assert text("wm_waiting_short", "en") == "waiting < 1 hour"
    assert text("wm_waiting", "en", hours=1) == "waiting 1 hour"
    assert text("wm_waiting", "en", hours=3) == "waiting 3 hours"
    assert text("wm_waiting", "nl", hours=1) == "wacht 1 uur"
    assert text("wm_unread_count", "en", n=2) == "2 unread"
    assert text("mail_expect_before", "en", hours=1).count("1 hour.") == 1
    assert "24 hours" in text("mail_expect_before", "en", hours=24)
    assert text("wm_label", "nl", label="7F3K") == "Mail 7F3K"
