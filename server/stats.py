"""Aggregate statistics: counts per day, channel, metric and bucket, never a row per contact.

Recording: each event adds 1 to one count of the current day (UTC) in one
UPSERT (`Storage.add_count`). Times go into fixed histogram buckets, so a wait,
a length or a reply time is never stored as a value, and nothing recorded names
a chat, a thread, a help-seeker or a volunteer: the methods take no such
argument. The wrap-up forms' topics and age bands are in `chat_wrapups`
(the same principle, migration 0002).

Showing: `build_report` turns the counts of a period into a `Report` that holds
only figures as they may be shown: every count and every percentile has been
through `shown` (counts of 1 to 4 become "<5"), so the page, its charts and the
CSV export cannot show anything else. Percentiles come from the histograms and
are the upper edge of a bucket ("≤ 2 min"); with fewer than 5 observations they are
not shown either, and say so in words ("te weinig", `too-few` in the CSV):
"<5" is for counts only, never in a cell that holds a duration, where it would read
as "less than 5 minutes".

What is not done (said on the page too): complementary counts are not
suppressed (offered minus answered may reveal a suppressed "abandoned"), and
neither are differences between a week and its days.
"""

from __future__ import annotations

import calendar
import csv
import io
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from aiohttp import web

from .accounts import day_of
from .errors import BadRequest
from .storage import Count, Storage

log = logging.getLogger("oor.stats")

CHANNELS = ("chat", "mail")
OVERFLOW = "+"  # the bucket above the last edge
# Histogram edges (a value falls in the first bucket whose edge it does not exceed).
WAIT_EDGES_S = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600)        # seconds in the chat queue
LENGTH_EDGES_MIN = (5, 10, 15, 20, 30, 45, 60, 90, 120)              # minutes of conversation
REPLY_EDGES_H = (1, 4, 8, 24, 48, 72, 168)                           # hours until the first mail reply
HANDOVER_OUTCOMES = ("accepted", "declined", "expired")
AGE_BANDS = ("<18", "18-29", "30-49", "50-69", "70+", "onbekend")  # of the chat wrap-up form
PERIODS = ("day", "week", "month")
SMALL = 5                 # counts below this (and above 0) are never shown
SUPPRESSED = "<5"
TOO_FEW = "too-few"       # a percentile of fewer than SMALL observations, in the CSV (a duration is never "<5")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def bucket_of(value: float, edges: tuple[int, ...]) -> str:
    """The histogram bucket of a value: its upper edge as text, or OVERFLOW."""
    if not math.isfinite(value):
        raise ValueError("a statistics value must be a finite number")
    value = max(0.0, value)
    for edge in edges:
        if value <= edge:
            return str(edge)
    return OVERFLOW


def bucket_keys(edges: tuple[int, ...]) -> list[str]:
    return [str(e) for e in edges] + [OVERFLOW]


class Stats:
    """Records events as anonymous daily counts. `clock()` is the app's wall clock (unix seconds).

    A failure to record is logged and swallowed: statistics must never end a chat or refuse a mail.
    The storage may be attached after construction (the app builds this before the database opens)."""

    def __init__(self, storage: Storage | None, clock: Callable[[], int]) -> None:
        self.storage = storage
        self.clock = clock

    def attach(self, storage: Storage | None) -> None:
        self.storage = storage

    async def _add(self, channel: str, metric: str, bucket: str = "") -> None:
        if self.storage is None:
            log.warning("a statistics count was lost: no storage")
            return
        try:
            await self.storage.add_count(day_of(self.clock()), channel, metric, bucket)
        except Exception:
            log.exception("a statistics count was lost")

    # -- chat (called by the chat hub) -------------------------------------------------------

    async def chat_offered(self) -> None:
        """A help-seeker entered the chat queue."""
        await self._add("chat", "offered")

    async def chat_answered(self, wait_s: float) -> None:
        """A volunteer took the chat after `wait_s` seconds in the queue."""
        await self._add("chat", "answered", bucket_of(wait_s, WAIT_EDGES_S))

    async def chat_abandoned(self, wait_s: float) -> None:
        """The help-seeker left the queue (or was lost) after `wait_s` seconds, before any volunteer took it."""
        await self._add("chat", "abandoned", bucket_of(wait_s, WAIT_EDGES_S))

    async def chat_finished(self, length_s: float) -> None:
        """A conversation that a volunteer took ended after `length_s` seconds."""
        await self._add("chat", "finished", bucket_of(length_s / 60, LENGTH_EDGES_MIN))

    async def chat_handover(self, outcome: str) -> None:
        """A handover during a chat ended as accepted, declined or expired."""
        if outcome not in HANDOVER_OUTCOMES:
            raise ValueError(f"handover outcome must be one of {HANDOVER_OUTCOMES}")
        await self._add("chat", "handover", outcome)

    async def chat_debrief(self) -> None:
        """A volunteer asked the mentors online for a debrief (issue 15): a count per day, nothing else."""
        await self._add("chat", "debrief")

    # -- mail (called by the mail desk, for the site and the gateway alike) ---------------------

    async def mail_offered(self) -> None:
        """A new mail thread was stored. (The mail desk adds `mail_offered_count` in the thread's own
        transaction instead; this is for callers without one.)"""
        count = self.mail_offered_count()
        await self._add(count.channel, count.metric, count.bucket)

    def mail_offered_count(self) -> Count:
        """The count of a new mail thread, for the transaction that stores the thread."""
        return Count(day_of(self.clock()), "mail", "offered")

    async def mail_first_reply(self, delay_hours: int) -> None:
        """The first volunteer reply of a thread, `delay_hours` whole hours after its first message.
        (The mail desk adds `mail_first_reply_count` in the reply's own transaction instead.)"""
        count = self.mail_first_reply_count(delay_hours)
        await self._add(count.channel, count.metric, count.bucket)

    def mail_first_reply_count(self, delay_hours: int) -> Count:
        """The count of a thread's first reply, for the transaction that stores the reply."""
        return Count(day_of(self.clock()), "mail", "first_reply", bucket_of(delay_hours, REPLY_EDGES_H))


STATS: web.AppKey[Stats] = web.AppKey("stats")


# -- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    kind: str      # day | week (ISO, Monday to Sunday) | month
    first: date
    last: date

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def previous(self) -> "Period":
        return period_of(self.kind, self.first - timedelta(days=1))

    def next(self) -> "Period":
        return period_of(self.kind, self.last + timedelta(days=1))


def period_of(kind: str, day: date) -> Period:
    if kind == "day":
        return Period(kind, day, day)
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period(kind, monday, monday + timedelta(days=6))
    first = day.replace(day=1)
    return Period("month", first, first.replace(day=calendar.monthrange(day.year, day.month)[1]))


def parse_period(query: Mapping[str, str], now: int) -> Period:
    """`period` (day, week, month; default day) and `date` (YYYY-MM-DD, any day in it; default today)."""
    kind = query.get("period", "day")
    if kind not in PERIODS:
        raise BadRequest("stats_bad_period", field="period")
    raw = query.get("date", "")
    if not raw:
        day = datetime.fromtimestamp(now, tz=timezone.utc).date()
    else:
        try:
            day = date.fromisoformat(raw) if _ISO_DAY.fullmatch(raw) else None
        except ValueError:
            day = None
        if day is None or not FIRST_DAY <= day <= LAST_DAY:
            raise BadRequest("stats_bad_date", field="date")
    period = period_of(kind, day)
    if period.first < FIRST_DAY or period.last > LAST_DAY:
        raise BadRequest("stats_bad_date", field="date")
    return period


# -- what may be shown -------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A count as it may be shown: `text` for tables and CSV, `bar` for a chart's bar length."""

    text: str
    bar: float
    suppressed: bool


def shown(count: int) -> Shown:
    """THE suppression rule, used by the page, the charts and the CSV alike:
    0 stays 0, 1 to 4 become "<5" (drawn as a dashed bar up to 5), 5 and more are shown."""
    if count <= 0:
        return Shown("0", 0.0, False)
    if count < SMALL:
        return Shown(SUPPRESSED, float(SMALL), True)
    return Shown(str(count), float(count), False)


@dataclass(frozen=True)
class Quantile:
    state: str       # "none" (no observations), "small" (fewer than 5), "ok"
    bucket: str = ""  # with "ok": the upper edge of the bucket, or OVERFLOW


def quantile(histogram: Mapping[str, int], edges: tuple[int, ...], q: float) -> Quantile:
    """The q-quantile (nearest rank) of a histogram, as the bucket that holds it."""
    n = sum(histogram.values())
    if n == 0:
        return Quantile("none")
    if shown(n).suppressed:  # fewer than SMALL observations: the same rule as for counts
        return Quantile("small")
    rank = max(1, math.ceil(q * n))
    seen = 0
    for key in bucket_keys(edges):
        seen += histogram.get(key, 0)
        if seen >= rank:
            return Quantile("ok", key)
    return Quantile("ok", OVERFLOW)  # pragma: no cover - the buckets add up to n


@dataclass(frozen=True)
class Histogram:
    unit: str                       # s | min | h
    edges: tuple[int, ...]
    bars: list[tuple[str, Shown]]   # bucket key -> count as shown
    total: Shown
    p50: Quantile
    p90: Quantile


def histogram(counts: Mapping[str, int], edges: tuple[int, ...], unit: str) -> Histogram:
    return Histogram(unit, edges, [(k, shown(counts.get(k, 0))) for k in bucket_keys(edges)],
                     shown(sum(counts.values())), quantile(counts, edges, 0.5), quantile(counts, edges, 0.9))


@dataclass(frozen=True)
class DayRow:
    day: date
    chat_offered: Shown
    chat_answered: Shown
    chat_abandoned: Shown
    mail_offered: Shown


@dataclass(frozen=True)
class Report:
    """The figures of one period, every one of them already suppressed."""

    period: Period
    chat_offered: Shown
    wait_answered: Histogram      # its total: chats answered
    wait_abandoned: Histogram     # its total: chats abandoned while waiting
    length: Histogram             # its total: conversations finished
    handovers: list[tuple[str, Shown]]
    wrapups: Shown
    topics: list[tuple[str, Shown]]
    ages: list[tuple[str, Shown]]
    handed_over: list[tuple[str, Shown]]   # "yes" / "no" from the wrap-up form
    mail_offered: Shown
    first_reply: Histogram        # its total: threads with a first reply
    days: list[DayRow]            # one per day for a week or a month; empty for a day
    debriefs: Shown = Shown("0", 0.0, False)  # debrief requests to a mentor (issue 15)


def build_report(period: Period, counts: Iterable[tuple[str, str, str, str, int]],
                 wrapups: Iterable[tuple[str, str, str, bool, int]], topics: Iterable[str],
                 age_bands: Iterable[str]) -> Report:
    """Sum the raw counts of the period and suppress them. Raw numbers do not leave this function."""
    total: dict[tuple[str, str], dict[str, int]] = {}
    per_day: dict[tuple[str, str, str], int] = {}
    for day, channel, metric, bucket, count in counts:
        into = total.setdefault((channel, metric), {})
        into[bucket] = into.get(bucket, 0) + count
        per_day[(day, channel, metric)] = per_day.get((day, channel, metric), 0) + count

    def summed(channel: str, metric: str) -> int:
        return sum(total.get((channel, metric), {}).values())

    topic_counts: dict[str, int] = {t: 0 for t in topics}
    age_counts: dict[str, int] = {a: 0 for a in age_bands}
    handed = {"yes": 0, "no": 0}
    for _day, topic, age, handed_over, count in wrapups:
        topic_counts[topic] = topic_counts.get(topic, 0) + count
        age_counts[age] = age_counts.get(age, 0) + count
        handed["yes" if handed_over else "no"] += count
    handovers = total.get(("chat", "handover"), {})
    days = []
    if period.kind != "day":
        for d in period.days():
            key = d.isoformat()
            days.append(DayRow(d, shown(per_day.get((key, "chat", "offered"), 0)),
                               shown(per_day.get((key, "chat", "answered"), 0)),
                               shown(per_day.get((key, "chat", "abandoned"), 0)),
                               shown(per_day.get((key, "mail", "offered"), 0))))
    return Report(
        period=period,
        chat_offered=shown(summed("chat", "offered")),
        wait_answered=histogram(total.get(("chat", "answered"), {}), WAIT_EDGES_S, "s"),
        wait_abandoned=histogram(total.get(("chat", "abandoned"), {}), WAIT_EDGES_S, "s"),
        length=histogram(total.get(("chat", "finished"), {}), LENGTH_EDGES_MIN, "min"),
        handovers=[(o, shown(handovers.get(o, 0))) for o in HANDOVER_OUTCOMES],
        wrapups=shown(sum(handed.values())),
        topics=[(t, shown(n)) for t, n in topic_counts.items()],
        ages=[(a, shown(n)) for a, n in age_counts.items()],
        handed_over=[(k, shown(n)) for k, n in handed.items()],
        mail_offered=shown(summed("mail", "offered")),
        first_reply=histogram(total.get(("mail", "first_reply"), {}), REPLY_EDGES_H, "h"),
        days=days,
        debriefs=shown(summed("chat", "debrief")),
    )


async def report_for(storage: Storage, period: Period, topics: Iterable[str], age_bands: Iterable[str]) -> Report:
    first, last = period.first.isoformat(), period.last.isoformat()
    return build_report(period, await storage.counts_between(first, last),
                        await storage.wrapup_counts(first, last), topics, age_bands)


# -- formatting ----------------------------------------------------------------------------------

_UNITS = {"s": ("s", "s"), "min": ("min", "min"), "h": ("uur", "h"), "days": ("dagen", "days")}
MONTHS = {"nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
                 "oktober", "november", "december"),
          "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December")}
MONTHS_SHORT = {"nl": ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"),
                "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")}
WEEKDAYS = {"nl": ("ma", "di", "wo", "do", "vr", "za", "zo"), "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def _unit(name: str, lang: str) -> str:
    nl, en = _UNITS[name]
    return en if lang == "en" else nl


def duration(value: int, unit: str, lang: str) -> str:
    """A bucket edge in words: 90 s -> "90 s", 120 s -> "2 min", 3600 s -> "1 uur", 72 h -> "3 dagen"."""
    if unit == "s":
        if value < 60 or value % 60:
            return f"{value} {_unit('s', lang)}"
        value, unit = value // 60, "min"
    if unit == "min":
        if value < 60 or value % 60:
            return f"{value} {_unit('min', lang)}"
        value, unit = value // 60, "h"
    if value >= 48 and value % 24 == 0:
        return f"{value // 24} {_unit('days', lang)}"
    return f"{value} {_unit('h', lang)}"


def bucket_label(hist: Histogram, key: str, lang: str) -> str:
    """A bucket as a range: "30 s – 1 min", or "> 1 uur" for the overflow bucket."""
    if key == OVERFLOW:
        return f"> {duration(hist.edges[-1], hist.unit, lang)}"
    index = hist.edges.index(int(key))
    low = "0" if index == 0 else duration(hist.edges[index - 1], hist.unit, lang)
    return f"{low} – {duration(int(key), hist.unit, lang)}"


def quantile_text(q: Quantile, hist: Histogram, lang: str, none: str, too_few: str) -> str:
    """A percentile in words; `too_few` when it rests on fewer than SMALL observations (never "<5":
    that is a count's word, and beside a duration it would read as "under 5 minutes")."""
    if q.state == "none":
        return none
    if q.state == "small":
        return too_few
    if q.bucket == OVERFLOW:
        return f"> {duration(hist.edges[-1], hist.unit, lang)}"
    return f"≤ {duration(int(q.bucket), hist.unit, lang)}"


def day_label(day: date, lang: str) -> str:
    return f"{WEEKDAYS[lang][day.weekday()]} {day.day} {MONTHS_SHORT[lang][day.month - 1]}"


def period_label(period: Period, lang: str) -> str:
    def full(d: date) -> str:
        return f"{d.day} {MONTHS[lang][d.month - 1]} {d.year}"
    if period.kind == "day":
        return f"{WEEKDAYS[lang][period.first.weekday()]} {full(period.first)}"
    if period.kind == "week":
        week = period.first.isocalendar()
        first = (f"{period.first.day} {MONTHS[lang][period.first.month - 1]}"
                 + (f" {period.first.year}" if period.first.year != period.last.year else ""))
        return f"Week {week.week}: {first} – {full(period.last)}"
    return f"{MONTHS[lang][period.first.month - 1]} {period.first.year}"


# -- CSV -------------------------------------------------------------------------------------------

CSV_HEADER = ["period", "first_day", "last_day", "day", "channel", "figure", "category", "value", "unit"]


def _csv_quantile(q: Quantile, hist: Histogram) -> str:
    if q.state == "none":
        return ""
    if q.state == "small":
        return TOO_FEW
    return f">{hist.edges[-1]}" if q.bucket == OVERFLOW else f"<={q.bucket}"


def _csv_bucket(hist: Histogram, key: str) -> str:
    if key == OVERFLOW:
        return f">{hist.edges[-1]}"
    index = hist.edges.index(int(key))
    return f"{0 if index == 0 else hist.edges[index - 1]}-{key}"


def _cell(text: str) -> str:
    # A spreadsheet would run a cell that starts like a formula; none of ours should, but be sure.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(report: Report) -> str:
    """The report as CSV: the same suppressed figures as the page, language-neutral."""
    p = report.period
    head = [p.kind, p.first.isoformat(), p.last.isoformat()]
    rows: list[list[str]] = []

    def add(channel: str, figure: str, category: str, value: str, unit: str = "", day: str = "") -> None:
        rows.append([*head, day, channel, figure, category, value, unit])

    def hist_rows(channel: str, name: str, hist: Histogram) -> None:
        add(channel, f"{name}_p50", "", _csv_quantile(hist.p50, hist), hist.unit)
        add(channel, f"{name}_p90", "", _csv_quantile(hist.p90, hist), hist.unit)
        for key, value in hist.bars:
            add(channel, name, _csv_bucket(hist, key), value.text, hist.unit)

    add("chat", "offered", "", report.chat_offered.text)
    add("chat", "answered", "", report.wait_answered.total.text)
    add("chat", "abandoned", "", report.wait_abandoned.total.text)
    add("chat", "finished", "", report.length.total.text)
    hist_rows("chat", "wait_answered", report.wait_answered)
    hist_rows("chat", "wait_abandoned", report.wait_abandoned)
    hist_rows("chat", "length", report.length)
    for outcome, value in report.handovers:
        add("chat", "handover", outcome, value.text)
    add("chat", "wrapups", "", report.wrapups.text)
    for topic, value in report.topics:
        add("chat", "topic", topic, value.text)
    for band, value in report.ages:
        add("chat", "age_band", band, value.text)
    for answer, value in report.handed_over:
        add("chat", "handed_over", answer, value.text)
    add("chat", "debriefs", "", report.debriefs.text)
    add("mail", "offered", "", report.mail_offered.text)
    add("mail", "first_replies", "", report.first_reply.total.text)
    hist_rows("mail", "first_reply", report.first_reply)
    for row in report.days:
        day = row.day.isoformat()
        add("chat", "offered", "", row.chat_offered.text, day=day)
        add("chat", "answered", "", row.chat_answered.text, day=day)
        add("chat", "abandoned", "", row.chat_abandoned.text, day=day)
        add("mail", "offered", "", row.mail_offered.text, day=day)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows([[_cell(c) for c in row] for row in rows])
    return out.getvalue()
