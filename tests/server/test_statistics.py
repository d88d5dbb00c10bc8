"""Coordinator statistics: a synthetic day of contacts through `Stats` on a real database (both backends).

The figures on the page and in the CSV are checked against what was recorded; small counts
must read "<5" in both, and a percentile of few observations (a duration) must say "too few" in
words, never "<5"; the statistics tables must be
able to hold nothing but days, fixed vocabularies and counts; and only coordinators may look.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

import aiohttp
import pytest

import crypto
from server.keys import STORAGE
from server.stats import (AGE_BANDS, HANDOVER_OUTCOMES, LENGTH_EDGES_MIN, OVERFLOW, REPLY_EDGES_H, STATS,
                          WAIT_EDGES_S, Quantile, bucket_of, quantile, shown)
from tests.chatclient import Seeker, Volunteer
from tests.helpers import clocked_client, cookie_sessions, PASSPHRASE, enrolment_body, invite, login_body
from tests.mailclient import MailSeeker, MailVolunteer
from tests.services.database import Database

WEDNESDAY = int(datetime(2027, 3, 10, 9, 0, tzinfo=timezone.utc).timestamp())
TUESDAY = WEDNESDAY - 86_400
EARLIER_IN_MONTH = int(datetime(2027, 3, 2, 12, 0, tzinfo=timezone.utc).timestamp())
NEXT_MONTH = int(datetime(2027, 4, 1, 0, 30, tzinfo=timezone.utc).timestamp())

ANSWER_WAITS = [5, 8, 12, 25, 40, 45, 50, 55, 90, 100, 200, 250, 700, 4000]      # seconds, 14 chats
ABANDON_WAITS = [30, 70, 400]                                                    # 3: "<5"
LENGTHS_MIN = [3, 4, 8, 12, 14, 18, 25, 28, 40, 50, 70, 130]                     # 12 conversations
FIRST_REPLY_HOURS = [0, 0, 2, 5, 30, 200]                                        # 6 threads answered
WRAPUPS = [("eenzaamheid", "18-29", False)] * 5 + [("eenzaamheid", "30-49", False)] * 2 + \
          [("relaties", "30-49", False)] * 2 + [("relaties", "<18", True)] + [("zelfmoordgedachten", "18-29", True)] + \
          [("zelfmoordgedachten", "<18", False)]                                 # 12 forms
VOLUNTEER_NAMES = ("Carla", "Sanne")


# -- reading the page and the CSV ---------------------------------------------------------------


class Tables(HTMLParser):
    """Every <table> of a page as {caption: {row header: [cells]}}, plus the texts inside <svg>."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[str]]] = {}
        self.svg_texts: list[str] = []
        self._caption: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] = []
        self._in_caption = False
        self._in_svg = 0
        self._svg_text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self._in_svg += 1
        elif self._in_svg and tag in ("text", "desc", "title"):
            self._svg_text = []
        elif tag == "caption":
            self._in_caption, self._caption = True, ""
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_svg -= 1
        elif self._in_svg and tag in ("text", "desc", "title") and self._svg_text is not None:
            self.svg_texts.append("".join(self._svg_text))
            self._svg_text = None
        elif tag == "caption":
            self._in_caption = False
            self.tables[self._caption or ""] = {}
        elif tag in ("th", "td") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row and self._caption is not None:
            self.tables[self._caption][self._row[0]] = self._row[1:]

    def handle_data(self, data: str) -> None:
        if self._svg_text is not None:
            self._svg_text.append(data)
        elif self._in_caption:
            self._caption = (self._caption or "") + data
        elif self._cell is not None:
            self._cell.append(data)


def read_page(html: str) -> Tables:
    parser = Tables()
    parser.feed(html)
    return parser


def figure(tables: Tables, caption: str, row: str) -> str:
    return tables.tables[caption][row][0]


def read_csv(text: str) -> dict[tuple[str, str, str, str], str]:
    """(day, channel, figure, category) -> value."""
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, text
    return {(r["day"], r["channel"], r["figure"], r["category"]): r["value"] for r in rows}


def assert_no_small_number(values: list[str], where: str) -> None:
    """No shown number is 1, 2, 3 or 4 (as a count, or hidden in a percentile such as "<=3")."""
    for value in values:
        if re.fullmatch(r"[1-4]", value.strip()):
            pytest.fail(f"{where}: a small count is shown as {value!r}")


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
async def app_client(aiohttp_client: Any, insecure_kdf_config: Any) -> Any:
    return await clocked_client(aiohttp_client, insecure_kdf_config, WEDNESDAY)


@pytest.fixture
async def sessions(app_client: Any) -> AsyncIterator[list[aiohttp.ClientSession]]:
    async with cookie_sessions(app_client, 3) as made:
        yield made


async def log_in(app_client: Any, http: Any, name: str, role: str) -> crypto.Identity:
    identity = crypto.new_identity()
    token = await invite(app_client, name, role)
    assert (await http.post("/api/enrol", json=enrolment_body(token, identity=identity))).status == 201
    assert (await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))).status == 200
    return identity


async def synthetic_day(app_client: Any) -> None:
    """A day of contacts on Wednesday 10 March 2027, plus a few on other days of the month."""
    app, clock = app_client.server.app, app_client.clock
    stats, storage = app[STATS], app[STORAGE]
    clock.now = WEDNESDAY
    for _ in range(20):
        await stats.chat_offered()
    for wait in ANSWER_WAITS:
        await stats.chat_answered(wait)
    for wait in ABANDON_WAITS:
        await stats.chat_abandoned(wait)
    for minutes in LENGTHS_MIN:
        await stats.chat_finished(minutes * 60)
    for outcome in ["accepted"] * 6 + ["declined"] * 2:
        await stats.chat_handover(outcome)
    for _ in range(9):
        await stats.mail_offered()
    for hours in FIRST_REPLY_HOURS:
        await stats.mail_first_reply(hours)
    for topic, age, handed_over in WRAPUPS:
        await storage.add_wrapup("2027-03-10", topic, age, handed_over)  # as the hub's wrap-up does
    clock.now = TUESDAY
    for _ in range(3):
        await stats.chat_offered()
    await stats.mail_offered()
    clock.now = EARLIER_IN_MONTH
    for _ in range(4):
        await stats.chat_offered()
    await stats.chat_answered(20)
    clock.now = NEXT_MONTH
    for _ in range(50):
        await stats.chat_offered()
    clock.now = WEDNESDAY


@pytest.fixture
async def coordinator(app_client: Any, sessions: Any) -> aiohttp.ClientSession:
    await log_in(app_client, sessions[0], "Carla", "coordinator")
    return sessions[0]


# -- the figures -------------------------------------------------------------------------------------


async def test_a_synthetic_day_gives_the_right_figures_on_the_page_and_in_the_csv(
        app_client: Any, coordinator: Any) -> None:
    await synthetic_day(app_client)
    resp = await coordinator.get("/coordinator/statistiek?period=day&date=2027-03-10")
    assert resp.status == 200
    page = read_page(await resp.text())
    chat = "Chat in deze periode"
    assert figure(page, chat, "Aangeboden") == "20"
    assert figure(page, chat, "Beantwoord") == "14"
    assert figure(page, chat, "Weggegaan tijdens het wachten") == "<5"
    assert figure(page, chat, "Afgeronde gesprekken") == "12"
    # 14 waits: the 7th lies in (30 s, 1 min], the 13th in (10 min, 20 min].
    assert figure(page, chat, "Wachttijd tot antwoord, mediaan (p50)") == "≤ 1 min"
    assert figure(page, chat, "Wachttijd tot antwoord, p90") == "≤ 20 min"
    assert figure(page, chat, "Wachttijd tot weggaan, mediaan (p50)") == "te weinig"  # 3
    assert figure(page, chat, "Wachttijd tot weggaan, p90") == "te weinig"
    assert figure(page, chat, "Gespreksduur, mediaan (p50)") == "≤ 20 min"
    assert figure(page, chat, "Gespreksduur, p90") == "≤ 90 min"
    assert figure(page, chat, "Afrondingsformulieren") == "12"
    handovers = page.tables["Overdrachten tijdens een chat"]
    assert handovers == {"Uitkomst": ["Aantal"], "Aangenomen": ["6"], "Geweigerd": ["<5"], "Verlopen": ["0"]}
    assert page.tables["Doorverbonden volgens het afrondingsformulier"]["Nee"] == ["10"]
    assert page.tables["Doorverbonden volgens het afrondingsformulier"]["Ja"] == ["<5"]
    topics = page.tables["Onderwerpen (afrondingsformulier)"]
    assert topics["eenzaamheid"] == ["7"] and topics["relaties"] == ["<5"]
    assert topics["zelfmoordgedachten"] == ["<5"] and topics["anders"] == ["0"]
    ages = page.tables["Leeftijdsgroepen (afrondingsformulier)"]
    assert ages["18-29"] == ["6"] and ages["30-49"] == ["<5"] and ages["<18"] == ["<5"] and ages["70+"] == ["0"]
    waits = page.tables["Wachttijd tot antwoord"]
    assert waits["30 s – 1 min"] == ["<5"] and waits["0 – 10 s"] == ["<5"] and waits["5 min – 10 min"] == ["0"]
    mail = "Mail in deze periode"
    assert figure(page, mail, "Nieuwe berichten (draden)") == "9"
    assert figure(page, mail, "Eerste antwoorden") == "6"
    assert figure(page, mail, "Tijd tot eerste antwoord, mediaan (p50)") == "≤ 4 uur"
    assert figure(page, mail, "Tijd tot eerste antwoord, p90") == "> 7 dagen"
    assert "Chat en mail per dag" not in page.tables  # a day has no per-day table
    english = read_page(await (await coordinator.get("/coordinator/statistiek?period=day&date=2027-03-10&lang=en")).text())
    ages_en = next(table for caption, table in english.tables.items() if caption.startswith("Age"))
    assert "unknown" in ages_en and "onbekend" not in ages_en

    resp = await coordinator.get("/coordinator/statistiek.csv?period=day&date=2027-03-10")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = read_csv(await resp.text())
    assert rows[("", "chat", "offered", "")] == "20"
    assert rows[("", "chat", "answered", "")] == "14"
    assert rows[("", "chat", "abandoned", "")] == "<5"
    assert rows[("", "chat", "wait_answered_p50", "")] == "<=60"
    assert rows[("", "chat", "wait_answered_p90", "")] == "<=1200"
    assert rows[("", "chat", "wait_abandoned_p50", "")] == "too-few"
    assert rows[("", "chat", "length_p50", "")] == "<=20"
    assert rows[("", "chat", "length_p90", "")] == "<=90"
    assert rows[("", "chat", "wait_answered", "30-60")] == "<5"
    assert rows[("", "chat", "handover", "accepted")] == "6"
    assert rows[("", "chat", "handover", "declined")] == "<5"
    assert rows[("", "chat", "topic", "eenzaamheid")] == "7"
    assert rows[("", "chat", "topic", "relaties")] == "<5"
    assert rows[("", "chat", "age_band", "18-29")] == "6"
    assert rows[("", "chat", "handed_over", "yes")] == "<5"
    assert rows[("", "mail", "offered", "")] == "9"
    assert rows[("", "mail", "first_replies", "")] == "6"
    assert rows[("", "mail", "first_reply_p50", "")] == "<=4"
    assert rows[("", "mail", "first_reply_p90", "")] == ">168"


async def test_week_and_month_add_up_the_days(app_client: Any, coordinator: Any) -> None:
    await synthetic_day(app_client)
    page = read_page(await (await coordinator.get("/coordinator/statistiek?period=week&date=2027-03-12")).text())
    assert figure(page, "Chat in deze periode", "Aangeboden") == "23"       # Tuesday 3 + Wednesday 20
    assert figure(page, "Mail in deze periode", "Nieuwe berichten (draden)") == "10"
    days = page.tables["Chat en mail per dag"]
    assert days["di 9 mrt"] == ["<5", "0", "0", "<5"]
    assert days["wo 10 mrt"] == ["20", "14", "<5", "9"]
    assert days["zo 14 mrt"] == ["0", "0", "0", "0"]
    assert len(days) == 1 + 7

    page = read_page(await (await coordinator.get("/coordinator/statistiek?period=month&date=2027-03-31")).text())
    assert figure(page, "Chat in deze periode", "Aangeboden") == "27"       # + 4 on 2 March; April not counted
    assert figure(page, "Chat in deze periode", "Beantwoord") == "15"
    assert len(page.tables["Chat en mail per dag"]) == 1 + 31
    rows = read_csv(await (await coordinator.get("/coordinator/statistiek.csv?period=month&date=2027-03-01")).text())
    assert rows[("", "chat", "offered", "")] == "27"
    assert rows[("2027-03-02", "chat", "offered", "")] == "<5"
    assert rows[("2027-03-10", "chat", "offered", "")] == "20"
    assert len([k for k in rows if k[0] and k[2] == "offered" and k[1] == "chat"]) == 31

    english = await (await coordinator.get("/coordinator/statistiek?period=month&date=2027-03-01&lang=en")).text()
    page = read_page(english)
    assert figure(page, "Chat in this period", "Offered") == "27"
    assert page.tables["Topics (wrap-up form)"]["loneliness"] == ["7"]


async def test_small_counts_read_less_than_5_everywhere(app_client: Any, coordinator: Any) -> None:
    """Every count from 1 to 4, in the page's tables, its charts and the CSV, reads "<5"."""
    app = app_client.server.app
    stats = app[STATS]
    for n, wait in zip(range(1, 5), (5, 50, 500, 5000)):
        for _ in range(n):
            await stats.chat_answered(wait)      # bucket counts 1, 2, 3, 4; 10 in all
    for _ in range(4):
        await stats.chat_finished(600)           # four conversations: too few for a percentile
    await stats.mail_first_reply(3)              # one first reply
    await app[STORAGE].add_wrapup("2027-03-10", "anders", "70+", False)
    for period in ("day", "week", "month"):
        query = f"period={period}&date=2027-03-10"
        html = await (await coordinator.get(f"/coordinator/statistiek?{query}")).text()
        page = read_page(html)
        cells = [c for table in page.tables.values() for row in table.values() for c in row]
        assert_no_small_number(cells, f"page ({period})")
        assert_no_small_number([t.rsplit(": ", 1)[-1] for text in page.svg_texts for t in text.split("; ")],
                               f"charts ({period})")
        assert figure(page, "Chat in deze periode", "Beantwoord") == "10"
        # A duration is never "<5" (it would read "under 5 minutes"): too few observations say so in words.
        assert figure(page, "Chat in deze periode", "Gespreksduur, mediaan (p50)") == "te weinig"
        assert figure(page, "Mail in deze periode", "Tijd tot eerste antwoord, p90") == "te weinig"
        durations = [c for table in page.tables.values() for label, row in table.items() for c in row
                     if any(word in label for word in ("mediaan", "p90", "Wachttijd tot", "Gespreksduur,"))]
        assert "<5" not in durations, durations
        assert figure(page, "Chat in deze periode", "Afrondingsformulieren") == "<5"
        # In the chart, a dotted bar for "<5" is as long whatever the count behind it (1, 2, 3 or 4).
        chart = html.split('id="grafiek-wachttijd"', 1)[1].split("</svg>", 1)[0]
        widths = re.findall(r'<rect class="bar suppressed"[^>]* width="([0-9.]+)"', chart)
        assert len(widths) == 4 and len(set(widths)) == 1
        assert float(widths[0]) < 360 / 3  # a few "<5" bars do not fill the chart as if they were many
        rows = read_csv(await (await coordinator.get(f"/coordinator/statistiek.csv?{query}")).text())
        assert_no_small_number(list(rows.values()), f"CSV ({period})")
        assert rows[("", "chat", "wait_answered", "0-10")] == "<5"
        assert rows[("", "chat", "wait_answered", ">3600")] == "<5"
        assert rows[("", "chat", "length_p50", "")] == "too-few"
        assert rows[("", "mail", "first_reply_p50", "")] == "too-few"
        assert not [v for k, v in rows.items() if k[2].endswith(("_p50", "_p90")) and v == "<5"]
        assert rows[("", "chat", "topic", "anders")] == "<5"


async def test_the_page_opens_on_today_and_says_which_period_it_shows(app_client: Any, coordinator: Any) -> None:
    await synthetic_day(app_client)  # ends on Wednesday 10 March 2027, 09:00 UTC
    for _ in range(6):
        await app_client.server.app[STATS].chat_debrief()  # a count per day, nothing else
    html = await (await coordinator.get("/coordinator/statistiek")).text()
    assert '<h2 id="periode-kop">Dag: wo 10 maart 2027 (vandaag)</h2>' in html
    assert figure(read_page(html), "Chat in deze periode", "Aangeboden") == "20"  # today only, not the week's 23
    assert figure(read_page(html), "Chat in deze periode", "Verzoeken om na te bespreken (aan een mentor)") == "6"
    html = await (await coordinator.get("/coordinator/statistiek?period=day&date=2027-03-09")).text()
    assert '<h2 id="periode-kop">Dag: di 9 maart 2027</h2>' in html  # not today: no "(vandaag)"
    html = await (await coordinator.get("/coordinator/statistiek?period=week")).text()
    assert "Week 10: 8 maart – 14 maart 2027 (deze week)</h2>" in html
    html = await (await coordinator.get("/coordinator/statistiek?period=month&lang=en")).text()
    assert '<h2 id="periode-kop">Month: March 2027 (this month)</h2>' in html
    rows = read_csv(await (await coordinator.get("/coordinator/statistiek.csv")).text())
    assert next(iter(rows)) is not None and rows[("", "chat", "offered", "")] == "20"


def test_one_suppression_rule_and_percentiles_from_buckets() -> None:
    assert [shown(n).text for n in (0, 1, 2, 3, 4, 5, 17)] == ["0", "<5", "<5", "<5", "<5", "5", "17"]
    assert shown(1).bar == shown(4).bar == 5 and shown(3).suppressed and not shown(0).suppressed
    assert bucket_of(10, WAIT_EDGES_S) == "10" and bucket_of(10.5, WAIT_EDGES_S) == "30"
    assert bucket_of(-3, WAIT_EDGES_S) == "10" and bucket_of(1e9, WAIT_EDGES_S) == OVERFLOW
    assert bucket_of(60, LENGTH_EDGES_MIN) == "60" and bucket_of(0, REPLY_EDGES_H) == "1"
    with pytest.raises(ValueError):
        bucket_of(float("nan"), WAIT_EDGES_S)
    assert quantile({}, WAIT_EDGES_S, 0.5) == Quantile("none")
    assert quantile({"10": 4}, WAIT_EDGES_S, 0.5) == Quantile("small")
    assert quantile({"10": 2, "60": 2, "+": 1}, WAIT_EDGES_S, 0.5) == Quantile("ok", "60")
    assert quantile({"10": 2, "60": 2, "+": 1}, WAIT_EDGES_S, 0.9) == Quantile("ok", OVERFLOW)


async def test_a_bad_handover_outcome_is_refused_and_records_nothing(app_client: Any, database: Database) -> None:
    with pytest.raises(ValueError):
        await app_client.server.app[STATS].chat_handover("vanished")
    assert set(HANDOVER_OUTCOMES) == {"accepted", "declined", "expired"}
    assert database.rows("SELECT count(*) FROM stats_counts") == [(0,)]


# -- recorded by the real chat ------------------------------------------------------------------------


async def test_a_real_chat_over_websockets_is_counted(app_client: Any, sessions: Any, database: Database) -> None:
    """The hub in the app records its events: one chat answered and ended, one left while waiting."""
    origin = {"Origin": str(app_client.make_url("")).rstrip("/")}
    identity = await log_in(app_client, sessions[0], "Sanne", "volunteer")
    volunteer = Volunteer(await sessions[0].ws_connect("/ws/volunteer", headers=origin), identity)
    await volunteer.next("queue")
    await volunteer.available(True)
    answered = Seeker(await sessions[1].ws_connect("/ws/chat", headers=origin))
    assert (await answered.open(sessions[1]))["t"] == "queued"
    chat_id = await volunteer.pick_up()
    await answered.connected()
    await answered.say("Ik kan niet slapen")
    assert await volunteer.hear() == (chat_id, "Ik kan niet slapen")
    await answered.ws.send_json({"t": "end"})
    assert (await volunteer.next("ended"))["wrapup"] is True
    left = Seeker(await sessions[2].ws_connect("/ws/chat", headers=origin))
    assert (await left.open(sessions[2]))["t"] == "queued"
    await left.ws.send_json({"t": "end"})
    await left.ws.receive(timeout=10)  # the server closes the socket once the chat is gone
    for ws in (answered.ws, left.ws, volunteer.ws):
        await ws.close()

    # The hub writes its counts in the background: wait (bounded) until all four have landed.
    counts: dict[tuple[str, str, str], int] = {}
    for _ in range(100):
        counts = {(c, m, b): n for _, c, m, b, n in
                  database.rows("SELECT day, channel, metric, bucket, count FROM stats_counts")}
        if sum(counts.values()) >= 5:
            break
        await asyncio.sleep(0.05)
    # Waits and the length here are far below the first edges (10 s, 5 min).
    assert counts == {("chat", "offered", ""): 2, ("chat", "answered", "10"): 1,
                      ("chat", "finished", "5"): 1, ("chat", "abandoned", "10"): 1}


# -- nothing that identifies ---------------------------------------------------------------------------


async def test_statistics_tables_hold_no_identifier(app_client: Any, sessions: Any, insecure_kdf_config: Any,
                                                    database: Database) -> None:
    """Real mail through the API and a synthetic day: the statistics tables have exactly the declared
    columns, no rowid, and every value they hold is a day, a word from a fixed list, or a count.
    After a purge nothing tells in which order the counts went up (SQLite: an empty WAL;
    PostgreSQL: one transaction id on every row, and the rows in primary-key order)."""
    volunteer_http, seeker_http = sessions[1], sessions[2]
    identity = await log_in(app_client, volunteer_http, "Sanne", "volunteer")
    volunteer = MailVolunteer(volunteer_http, identity)
    await volunteer.available(True)
    seeker = MailSeeker(seeker_http)
    assert (await seeker.send_first("Ik weet niet met wie ik hierover kan praten")).status == 201
    app_client.clock.now += 3 * 3600  # the session has gone idle meanwhile: log in again
    again = await volunteer_http.post("/api/login", json=await login_body(volunteer_http, "Sanne", PASSPHRASE))
    assert again.status == 200
    thread_key = (await volunteer.inbox())[0]["thread"]
    data, _ = await volunteer.read(thread_key)
    assert (await volunteer.reply(data, "Met mij, als je wilt. Vertel maar.")).status == 201
    data, _ = await volunteer.read(thread_key)
    assert (await volunteer.reply(data, "Ik ben er morgen weer.")).status == 201  # not a first reply
    app_client.clock.now = WEDNESDAY
    await synthetic_day(app_client)
    await app_client.server.app[STORAGE].purge(WEDNESDAY, 0, 0)

    assert database.columns("stats_counts") == ["day", "channel", "metric", "bucket", "count"]
    assert database.columns("chat_wrapups") == ["day", "topic", "age_band", "handed_over", "count"]
    rows = database.rows("SELECT day, channel, metric, bucket, count FROM stats_counts")
    wrapups = database.rows("SELECT day, topic, age_band, handed_over, count FROM chat_wrapups")
    mail = {(m, b): n for d, c, m, b, n in rows if d == "2027-03-10" and c == "mail"}
    assert mail[("offered", "")] == 9 + 1 and mail[("first_reply", "4")] == 1 + 1  # the real thread: 3 hours
    buckets = {"", *HANDOVER_OUTCOMES, OVERFLOW, *map(str, WAIT_EDGES_S + LENGTH_EDGES_MIN + REPLY_EDGES_H)}
    metrics = {"offered", "answered", "abandoned", "finished", "handover", "first_reply"}
    topics = {t.split("|")[0] for t in insecure_kdf_config.chat_topics}
    for day, channel, metric, bucket, count in rows:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) and channel in ("chat", "mail")
        assert metric in metrics and bucket in buckets and isinstance(count, int) and count > 0
    for day, topic, age, handed_over, count in wrapups:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) and topic in topics and age in AGE_BANDS
        assert handed_over in (0, 1) and count > 0
    # Nothing of the thread or the people in it is in the statistics, nor the order of events in the WAL.
    thread_id = crypto.b64decode(thread_key)
    stored = repr(rows + wrapups).encode()
    for secret in (thread_id, thread_id.hex().encode(), thread_key.encode(), *(n.encode() for n in VOLUNTEER_NAMES)):
        assert secret not in stored
    if database.backend == "sqlite":
        assert "WITHOUT ROWID" in database.rows("SELECT sql FROM sqlite_master WHERE name = 'stats_counts'")[0][0]
        with pytest.raises(sqlite3.OperationalError):
            database.rows("SELECT rowid FROM stats_counts")
        wal = insecure_kdf_config.database_path.with_name(insecure_kdf_config.database_path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0
    else:
        for table, key in (("stats_counts", "day, channel, metric, bucket"),
                           ("chat_wrapups", "day, topic, age_band, handed_over")):
            assert len(database.rows(f"SELECT DISTINCT xmin::text FROM {table}")) == 1, table
            assert database.rows(f"SELECT {key} FROM {table} ORDER BY ctid") == \
                database.rows(f"SELECT {key} FROM {table} ORDER BY {key}"), table


# -- who may look ------------------------------------------------------------------------------------------


PATHS = ("/coordinator", "/coordinator/statistiek", "/coordinator/statistiek.csv", "/api/coordinator/live")


async def test_only_coordinators_see_the_dashboard_and_the_statistics(app_client: Any, sessions: Any) -> None:
    anonymous, volunteer = sessions[1], sessions[2]
    await log_in(app_client, volunteer, "Sanne", "volunteer")
    for path in PATHS:
        resp = await anonymous.get(path)
        assert resp.status == 401, path
        body = await resp.text()
        if path.startswith("/api/"):
            assert (await resp.json())["error"] == "unauthorized"
        else:
            assert 'href="/vrijwilliger"' in body and "Log eerst in" in body, body
        resp = await volunteer.get(path)
        assert resp.status == 403, path
        if path.startswith("/api/"):
            assert (await resp.json())["error"] == "forbidden"
        else:
            assert "alleen voor coördinatoren" in await resp.text()
    await log_in(app_client, sessions[0], "Carla", "coordinator")
    for path in PATHS:
        assert (await sessions[0].get(path)).status == 200, path


async def test_bad_period_or_date_is_a_clear_400(app_client: Any, coordinator: Any) -> None:
    for query in ("period=year", "period=week&date=10-03-2027", "period=day&date=2027-02-30",
                  "period=day&date=1999-12-31", "period=week&date=2027-W10-1"):
        for path in ("/coordinator/statistiek", "/coordinator/statistiek.csv"):
            resp = await coordinator.get(f"{path}?{query}")
            assert resp.status == 400, (path, query)
            assert "JJJJ-MM-DD" in await resp.text() or "dag, week of maand" in await resp.text()
