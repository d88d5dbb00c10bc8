"""The coordinator's pages and API: live figures, volunteer management, statistics.

Pages (session cookie, role coordinator; not logged in: 401 and a pointer to the login,
another role: 403):
  GET /coordinator                         live figures, invite, deactivate, change roles
  GET /coordinator/statistiek?period=day|week|month&date=YYYY-MM-DD   (default: today)
  GET /coordinator/statistiek.csv?...      the same figures as CSV
API (same rules, JSON errors):
  GET  /api/coordinator/live                                  -> the live figures
  POST /api/coordinator/invite     {name, role, can_chat, can_mail} -> {url, expires_at, ...} (201)
  POST /api/coordinator/deactivate {name}                     -> the account (its sessions have ended)
  POST /api/coordinator/role       {name, role}               -> the account
  GET  /api/coordinator/quick-replies                         -> {replies: [{id, nl, en}]}
  POST /api/coordinator/quick-replies           {nl, en}      -> {id, nl, en} (201; 409 when 50 exist)
  POST /api/coordinator/quick-replies/{id}      {nl, en}      -> the reply
  POST /api/coordinator/quick-replies/{id}/delete             -> {deleted: id}
  GET  /api/quick-replies (any staff session, for the workspace) -> {replies: [...]}

A coordinator sees counts and staff accounts, never content: the live figures come
from the chat queue (in memory) and from thread states and coarse hours; the
statistics only from anonymous daily counts (server/stats.py). A coordinator cannot
deactivate or change the role of their own account, and the storage refuses any change
that would leave no active coordinator.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from . import accounts
from .charts import bar_chart
from .chat.cluster import CLUSTER
from .chat.hub import CHAT_HUB
from .errors import BadRequest, Conflict, NotFound, Unauthorized
from .http import read_json
from .keys import CLOCK, CONFIG, STORAGE
from .pages import page_context, route_path
from .stats import (AGE_BANDS, Histogram, Report, Shown, bucket_label, csv_text, day_label, parse_period,
                    period_label, quantile_text, report_for)
from .storage import ROLES, LastCoordinator, Volunteer
from .storage.interface import QUICK_REPLIES_MAX, QUICK_REPLY_MAX_CHARS, QuickReply, TooManyQuickReplies

routes = web.RouteTableDef()
COORDINATOR = "coordinator"
MAIL_BAND_EDGES = (4, 24, 48, 72)  # hours the help-seeker has waited for a reply


async def _page_coordinator(request: web.Request) -> Volunteer | None:
    """The logged-in coordinator, or None if nobody is logged in: a page then points to the login
    (`_login_first`) rather than answer a bare 401. Another role: Forbidden, as in the API."""
    try:
        return await accounts.logged_in(request, role=COORDINATOR)
    except Unauthorized:
        return None


def _login_first(request: web.Request) -> web.Response:
    """Not logged in: say where to log in (the volunteer page), with status 401."""
    return aiohttp_jinja2.render_template("coordinator_login.html", request,
                                          page_context(request, "coordinator_login"), status=401)


# -- live figures -------------------------------------------------------------------------------


def mail_band_keys() -> list[str]:
    edges = (0, *MAIL_BAND_EDGES)
    return [f"{a}-{b}" for a, b in zip(edges, edges[1:])] + [f"{MAIL_BAND_EDGES[-1]}+"]


def _mail_band(hours: int) -> str:
    low = 0
    for edge in MAIL_BAND_EDGES:
        if hours < edge:
            return f"{low}-{edge}"
        low = edge
    return f"{MAIL_BAND_EDGES[-1]}+"


async def live_figures(app: web.Application) -> dict[str, Any]:
    """What is happening now, as counts: the chat queue (memory) and open mail threads (coarse hours)."""
    cluster = app.get(CLUSTER)  # with several nodes, as the leading one last wrote them
    chat = app[CHAT_HUB].figures() if cluster is None else await cluster.figures()
    storage = app[STORAGE]
    hour = app[CLOCK]() // 3600
    bands = dict.fromkeys(mail_band_keys(), 0)
    needs_volunteer = answered_open = 0
    for state, since, count in await storage.open_thread_waits():
        if state == "needs-volunteer":
            needs_volunteer += count
        elif since is None:
            answered_open += count
        else:
            bands[_mail_band(max(0, hour - since))] += count
    return {
        "chat": chat,
        "mail": {"volunteers_available": await storage.mail_volunteers_available(),
                 "waiting": [{"band": k, "threads": n} for k, n in bands.items()],
                 "needs_volunteer": needs_volunteer, "answered_open": answered_open},
    }


def wait_text(seconds: int | None, t: Any) -> str:
    if seconds is None:
        return str(t("co_nobody_waiting"))
    return str(t("co_seconds", n=seconds) if seconds < 60 else t("co_minutes", n=seconds // 60))


def band_label(key: str, t: Any) -> str:
    # The counts go in as numbers: the plural rule picks "one" for the number 1 only (a text takes "other").
    if key.endswith("+"):
        return str(t("co_band_above", n=int(key[:-1])))
    low, high = (int(part) for part in key.split("-"))
    return str(t("co_band_below", n=high) if low == 0 else t("co_band_range", a=low, b=high))


@routes.get("/api/coordinator/live")
async def live(request: web.Request) -> web.Response:
    await accounts.logged_in(request, role=COORDINATOR)
    return web.json_response(await live_figures(request.app))


# -- volunteer management ---------------------------------------------------------------------


def volunteer_json(v: Volunteer) -> dict[str, Any]:
    return {"name": v.name, "role": v.role, "can_chat": v.can_chat, "can_mail": v.can_mail, "active": v.active,
            "enrolled_day": v.enrolled_day}


def _flag(payload: dict[str, Any], key: str) -> bool:
    value = payload.get(key)
    if not isinstance(value, bool):
        raise BadRequest("field_not_boolean", field=key)
    return value


def _role(payload: dict[str, Any]) -> str:
    role = payload.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise BadRequest("role_choose", field="role")
    return role


async def _other_account(request: web.Request, me: Volunteer, payload: dict[str, Any],
                         not_yourself: Conflict) -> Volunteer:
    """The account named in `payload`; `not_yourself` is the refusal if that is the coordinator's own."""
    name = accounts.normalise_name(payload.get("name"))  # type: ignore[arg-type]
    if name == me.name:
        raise not_yourself
    target = await request.app[STORAGE].volunteer_by_name(name)
    if target is None:
        raise NotFound("no_such_account", field="name")
    return target


@routes.post("/api/coordinator/invite")
async def invite(request: web.Request) -> web.Response:
    await accounts.logged_in(request, role=COORDINATOR)
    app = request.app
    payload = await read_json(request)
    name = accounts.normalise_name(payload.get("name"))  # type: ignore[arg-type]
    role, can_chat, can_mail = _role(payload), _flag(payload, "can_chat"), _flag(payload, "can_mail")
    invited = await accounts.invite(app[STORAGE], app[CONFIG], name, role, can_chat, can_mail, app[CLOCK]())
    # The link holds the one-time token in its fragment; it is in this answer only (Cache-Control: no-store).
    return web.json_response({"name": name, "role": role, "can_chat": can_chat, "can_mail": can_mail,
                              "url": invited.url, "expires_at": invited.expires_at}, status=201)


@routes.post("/api/coordinator/deactivate")
async def deactivate(request: web.Request) -> web.Response:
    me = await accounts.logged_in(request, role=COORDINATOR)
    storage = request.app[STORAGE]
    target = await _other_account(request, me, await read_json(request),
                                  Conflict("own_account_deactivate", field="name", reason="self"))
    try:
        await storage.set_active(target.name, False, keep_a_coordinator=True)  # ends their sessions too
    except LastCoordinator:
        raise Conflict("last_coordinator", field="name", reason="last-coordinator") from None
    updated = await storage.volunteer_by_name(target.name)
    return web.json_response(volunteer_json(updated or target))


@routes.post("/api/coordinator/role")
async def change_role(request: web.Request) -> web.Response:
    me = await accounts.logged_in(request, role=COORDINATOR)
    storage = request.app[STORAGE]
    payload = await read_json(request)
    role = _role(payload)
    target = await _other_account(request, me, payload, Conflict("own_role_change", field="name", reason="self"))
    try:
        await storage.set_role(target.name, role)
    except LastCoordinator:
        raise Conflict("last_coordinator", field="name", reason="last-coordinator") from None
    updated = await storage.volunteer_by_name(target.name)
    return web.json_response(volunteer_json(updated or target))


@routes.get("/coordinator", name="coordinator")
async def dashboard(request: web.Request) -> web.Response:
    me = await _page_coordinator(request)
    if me is None:
        return _login_first(request)
    app = request.app
    context = page_context(request, "coordinator")
    t = context["t"]
    figures = await live_figures(app)
    context.update(
        me=me, volunteers=await app[STORAGE].list_volunteers(), roles=ROLES, live=figures,
        role_names={role: t(f"role_{role}") for role in ROLES},
        longest_text=wait_text(figures["chat"]["longest_wait_s"], t),
        bands=[(b["band"], band_label(b["band"], t), b["threads"]) for b in figures["mail"]["waiting"]],
        quick_replies=[quick_reply_json(r) for r in await app[STORAGE].list_quick_replies()],
        quick_replies_max=QUICK_REPLIES_MAX,
    )
    return aiohttp_jinja2.render_template("coordinator.html", request, context)


# -- quick replies ------------------------------------------------------------------------------
# Organisation text a coordinator writes and every volunteer's page may insert into its composer:
# not help-seeker data, shown in the pages with textContent only.

# The largest body a quick-reply write may have, checked before it is read: two texts of
# QUICK_REPLY_MAX_CHARS, each character at worst a JSON surrogate-pair escape (12 bytes), and the keys.
QUICK_REPLY_BODY_MAX = 2 * QUICK_REPLY_MAX_CHARS * 12 + 256
_CONTROL = frozenset(chr(c) for c in range(32) if chr(c) not in "\n\t") | {"\x7f"}


def quick_reply_json(reply: QuickReply) -> dict[str, Any]:
    return {"id": reply.id, "nl": reply.nl, "en": reply.en}


async def quick_replies_json(request: web.Request) -> dict[str, Any]:
    return {"replies": [quick_reply_json(r) for r in await request.app[STORAGE].list_quick_replies()]}


async def _read_small_json(request: web.Request, limit: int) -> dict[str, Any]:
    """The JSON body, refused (413) before it is read if it says it is larger than `limit`, or says nothing."""
    if request.content_length is None or request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length or 0)
    return await read_json(request)


def _reply_text(payload: dict[str, Any], lang: str) -> str:
    value = payload.get(lang)
    if not isinstance(value, str):
        raise BadRequest("field_missing", field=lang)
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not value:
        raise BadRequest("quick_reply_empty", field=lang)
    if len(value) > QUICK_REPLY_MAX_CHARS:
        raise BadRequest("quick_reply_too_long", field=lang, max=QUICK_REPLY_MAX_CHARS)
    if any(ch in _CONTROL for ch in value):
        raise BadRequest("field_invalid", field=lang)
    return value


async def _reply_texts(request: web.Request) -> tuple[str, str]:
    payload = await _read_small_json(request, QUICK_REPLY_BODY_MAX)
    return _reply_text(payload, "nl"), _reply_text(payload, "en")


def _reply_id(request: web.Request) -> int:
    return int(request.match_info["id"])  # the route allows 1 to 9 digits only, no leading zero


@routes.get("/api/quick-replies")
async def quick_replies_for_staff(request: web.Request) -> web.Response:
    await accounts.logged_in(request)
    return web.json_response(await quick_replies_json(request))


@routes.get("/api/coordinator/quick-replies")
async def quick_replies(request: web.Request) -> web.Response:
    await accounts.logged_in(request, role=COORDINATOR)
    return web.json_response(await quick_replies_json(request))


@routes.post("/api/coordinator/quick-replies")
async def add_quick_reply(request: web.Request) -> web.Response:
    await accounts.logged_in(request, role=COORDINATOR)
    nl, en = await _reply_texts(request)
    try:
        reply_id = await request.app[STORAGE].add_quick_reply(nl, en)
    except TooManyQuickReplies:
        raise Conflict("quick_replies_full", reason="full") from None
    return web.json_response({"id": reply_id, "nl": nl, "en": en}, status=201)


@routes.post(r"/api/coordinator/quick-replies/{id:[1-9][0-9]{0,8}}")
async def update_quick_reply(request: web.Request) -> web.Response:
    await accounts.logged_in(request, role=COORDINATOR)
    reply_id = _reply_id(request)
    nl, en = await _reply_texts(request)
    if not await request.app[STORAGE].update_quick_reply(reply_id, nl, en):
        raise NotFound("no_such_quick_reply")
    return web.json_response({"id": reply_id, "nl": nl, "en": en})


@routes.post(r"/api/coordinator/quick-replies/{id:[1-9][0-9]{0,8}}/delete")
async def delete_quick_reply(request: web.Request) -> web.Response:
    await accounts.logged_in(request, role=COORDINATOR)
    if not await request.app[STORAGE].delete_quick_reply(_reply_id(request)):
        raise NotFound("no_such_quick_reply")
    return web.json_response({"deleted": _reply_id(request)})


# -- statistics ---------------------------------------------------------------------------------


def _topics(request: web.Request) -> tuple[list[str], dict[str, str]]:
    """The configured wrap-up topics (stored by their Dutch name) and their name in the page's language."""
    names: dict[str, str] = {}
    for entry in request.app[CONFIG].chat_topics:
        nl, _, en = entry.partition("|")
        names[nl] = en or nl
    return list(names), names


async def _report(request: web.Request) -> Report:
    period = parse_period(request.query, request.app[CLOCK]())
    topics, _ = _topics(request)
    return await report_for(request.app[STORAGE], period, topics, AGE_BANDS)


def _stats_view(request: web.Request, report: Report, t: Any, lang: str) -> dict[str, Any]:
    """Everything the statistics template shows, from the (already suppressed) report."""
    none = str(t("co_none"))
    too_few = str(t("co_too_few"))
    note = str(t("co_suppressed_note"))
    _, topic_names = _topics(request)

    def q(hist: Histogram, which: str) -> str:
        return quantile_text(hist.p50 if which == "p50" else hist.p90, hist, lang, none, too_few)

    def figure(chart_id: str, title_key: str, column_key: str, rows: list[tuple[str, Shown]]) -> dict[str, Any]:
        title = str(t(title_key))
        return {"id": chart_id, "title": title, "column": t(column_key), "svg": bar_chart(chart_id, title, rows, note),
                "rows": [(label, value.text) for label, value in rows]}

    def hist_rows(hist: Histogram) -> list[tuple[str, Shown]]:
        return [(bucket_label(hist, key, lang), value) for key, value in hist.bars]

    r = report
    chat_summary = [
        (t("co_offered"), r.chat_offered.text), (t("co_answered"), r.wait_answered.total.text),
        (t("co_abandoned"), r.wait_abandoned.total.text), (t("co_finished"), r.length.total.text),
        (t("co_wait_p50"), q(r.wait_answered, "p50")), (t("co_wait_p90"), q(r.wait_answered, "p90")),
        (t("co_abandon_p50"), q(r.wait_abandoned, "p50")),
        (t("co_abandon_p90"), q(r.wait_abandoned, "p90")),
        (t("co_length_p50"), q(r.length, "p50")), (t("co_length_p90"), q(r.length, "p90")),
        (t("co_wrapups"), r.wrapups.text), (t("co_debriefs"), r.debriefs.text),
    ]
    mail_summary = [
        (t("co_mail_offered"), r.mail_offered.text), (t("co_first_replies"), r.first_reply.total.text),
        (t("co_reply_p50"), q(r.first_reply, "p50")), (t("co_reply_p90"), q(r.first_reply, "p90")),
    ]
    topic_label = (lambda name: topic_names.get(name, name)) if lang == "en" else (lambda name: name)
    chat_figures = [
        figure("grafiek-wachttijd", "co_wait_chart", "co_class", hist_rows(r.wait_answered)),
        figure("grafiek-weggegaan", "co_abandon_chart", "co_class", hist_rows(r.wait_abandoned)),
        figure("grafiek-duur", "co_length_chart", "co_class", hist_rows(r.length)),
        figure("grafiek-onderwerpen", "co_topics", "co_topic", [(topic_label(k), v) for k, v in r.topics]),
        figure("grafiek-leeftijd", "co_ages", "co_age",
               [(str(t("co_age_unknown")) if band == "onbekend" else band, v) for band, v in r.ages]),
    ]
    day_figures = []
    if r.days:
        labels = [day_label(row.day, lang) for row in r.days]
        day_figures = [
            figure("grafiek-chats-per-dag", "co_chats_per_day", "co_day",
                   [(label, row.chat_offered) for label, row in zip(labels, r.days)]),
            figure("grafiek-mail-per-dag", "co_mail_per_day", "co_day",
                   [(label, row.mail_offered) for label, row in zip(labels, r.days)]),
        ]
    return {
        "report": r, "period_label": _period_heading(request, r, t, lang),
        "chat_summary": chat_summary, "mail_summary": mail_summary,
        "chat_figures": chat_figures, "day_figures": day_figures,
        "reply_figure": figure("grafiek-eerste-antwoord", "co_reply_chart", "co_class", hist_rows(r.first_reply)),
        "handovers": [(t(f"co_handover_{o}"), v.text) for o, v in r.handovers],
        "handed_over": [(t(k), v.text) for k, v in r.handed_over],
        "days": [(day_label(row.day, lang), row.chat_offered.text, row.chat_answered.text, row.chat_abandoned.text,
                  row.mail_offered.text) for row in r.days],
    }


def _period_heading(request: web.Request, report: Report, t: Any, lang: str) -> str:
    """The period in words, saying which kind it is and whether it is the current one ("Dag: di 1 december
    2026 (vandaag)"): the page opens on today, and must not leave the reader guessing."""
    p = report.period
    heading = str(t(f"co_heading_{p.kind}", label=period_label(p, lang)))
    today = parse_period({"period": p.kind}, request.app[CLOCK]())
    return heading + (f" ({t(f'co_current_{p.kind}')})" if today == p else "")


async def _report_for_coordinator(request: web.Request) -> Report | None:
    """The requested period's report for a coordinator; None if nobody is logged in (403 for another role)."""
    if await _page_coordinator(request) is None:
        return None
    return await _report(request)


def _stats_href(path: str, kind: str, day: str, lang: str) -> str:
    return f"{path}?period={kind}&date={day}" + ("&lang=en" if lang == "en" else "")


@routes.get("/coordinator/statistiek", name="coordinator_statistics")
async def statistics(request: web.Request) -> web.Response:
    report = await _report_for_coordinator(request)
    if report is None:
        return _login_first(request)
    context = page_context(request, "coordinator_statistics")
    lang, p = context["lang"], report.period
    context.update(_stats_view(request, report, context["t"], lang))
    context.update(
        previous_href=_stats_href(route_path(request), p.kind, p.previous().first.isoformat(), lang),
        next_href=_stats_href(route_path(request), p.kind, p.next().first.isoformat(), lang),
        csv_href=_stats_href("/coordinator/statistiek.csv", p.kind, p.first.isoformat(), lang),
        chosen_date=request.query.get("date") or p.first.isoformat(),
    )
    return aiohttp_jinja2.render_template("coordinator_stats.html", request, context)


@routes.get("/coordinator/statistiek.csv", name="coordinator_statistics_csv")
async def statistics_csv(request: web.Request) -> web.Response:
    report = await _report_for_coordinator(request)
    if report is None:
        return _login_first(request)
    p = report.period
    name = f"statistiek-{p.kind}-{p.first.isoformat()}.csv"
    return web.Response(text=csv_text(report), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
