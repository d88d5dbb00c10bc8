"""HTML pages and the static assets they load."""

from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup

from .assets import CODINGS, IMMUTABLE, REVALIDATE, Asset, accepted_coding
from .i18n import forms, pick_language, text
from .keys import ASSETS, CONFIG
from .stats import AGE_BANDS

routes = web.RouteTableDef()


def matched_resource(request: web.BaseRequest) -> tuple[Any, Any]:
    """(route, resource) the router matched for this request, or (None, None).

    A request aiohttp could not parse reaches the access log without match info (and
    `request.match_info` then asserts), so this never raises.
    """
    try:
        match_info = request.match_info  # type: ignore[attr-defined]
    except (AttributeError, AssertionError):
        return None, None
    route = getattr(match_info, "route", None)
    return route, getattr(route, "resource", None)


def route_path(request: web.BaseRequest) -> str:
    """The path of the page this request matched, as our route table spells it, or "/".

    Links and redirects are built from this, never from the request's own path: a
    path such as `/%2Fevil.example` decodes to `//evil.example`, which a browser reads
    as another host (and `/\\evil.example` likewise). Only a fixed page route (no
    variable parts) answering GET has a path worth linking to; anything else (an
    unknown path, a 405, a route with variable parts such as a missing static file)
    gets the home page.
    """
    route, resource = matched_resource(request)
    if isinstance(resource, web.PlainResource) and getattr(route, "method", None) in ("GET", "HEAD"):
        path = resource.canonical
        # Our own routes are literals; refuse anything that could leave the site all the same.
        if path.startswith("/") and not path.startswith("//") and "\\" not in path:
            return path
    return "/"


def page_context(request: web.Request, page: str, **extra: Any) -> dict[str, Any]:
    """What every template gets: the language, a text lookup, asset tags and the crisis lines."""
    lang = pick_language(request.query.get("lang"))
    config = request.app[CONFIG]
    assets = request.app[ASSETS]

    def t(key: str, **values: object) -> str:
        return text(key, lang, **values)

    def url(path: str) -> str:
        # The language travels in the query string: no cookie for anonymous visitors.
        return f"{path}?lang=en" if lang == "en" else path

    # Pages name every asset by its hashed URL, which the browser caches for good (server/assets.py).
    def script(name: str) -> dict[str, str]:
        src = f"/static/js/{name}"
        return {"src": assets.url_for(src), "integrity": assets.integrity(src)}

    def style(name: str) -> dict[str, str]:
        href = f"/static/css/{name}"
        return {"href": assets.url_for(href), "integrity": assets.integrity(href)}

    def js_texts(*keys: str, **values: object) -> Markup:
        # Texts (and settings) the page's script needs, as inert JSON (not executed, so CSP allows it).
        data: dict[str, object] = {k: forms(k, lang) for k in keys}
        data.update(values)
        data["lang"] = lang
        encoded = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
        return Markup(f'<script type="application/json" id="teksten">{encoded}</script>')

    other = "nl" if lang == "en" else "en"
    return {
        "lang": lang, "t": t, "url": url, "script": script, "style": style, "asset": assets.url_for, "page": page,
        "import_map": assets.import_map, "js_texts": js_texts,
        "switch_href": route_path(request) + ("?lang=en" if other == "en" else ""),
        "switch_lang": other,
        "config": config,
        **extra,
    }


@routes.get("/", name="home")
@aiohttp_jinja2.template("home.html")
async def home(request: web.Request) -> dict[str, Any]:
    return page_context(request, "home")


@routes.get("/chat", name="chat")
@aiohttp_jinja2.template("chat.html")
async def chat_page(request: web.Request) -> dict[str, Any]:
    return page_context(request, "chat")


@routes.get("/mail", name="mail")
@aiohttp_jinja2.template("mail.html")
async def mail_page(request: web.Request) -> dict[str, Any]:
    return page_context(request, "mail")


@routes.get("/mail/terug", name="mail_return")
@aiohttp_jinja2.template("mail_return.html")
async def mail_return_page(request: web.Request) -> dict[str, Any]:
    # The token is typed into the page and never travels in a URL.
    return page_context(request, "mail_return")


@routes.get("/inschrijven", name="enrol")
@aiohttp_jinja2.template("enrol.html")
async def enrol_page(request: web.Request) -> dict[str, Any]:
    # The invitation token is in the URL fragment and never reaches the server.
    return page_context(request, "enrol")


@routes.get("/vrijwilliger", name="volunteer")
@aiohttp_jinja2.template("volunteer.html")
async def volunteer_page(request: web.Request) -> dict[str, Any]:
    return page_context(request, "volunteer", age_bands=AGE_BANDS)


@routes.get("/static/{path:.+}", name="static")
@routes.get("/vendor/{path:.+}", name="vendor")
async def asset(request: web.Request) -> web.Response:
    """An asset from memory: at its hashed URL for a year, at its plain URL revalidated every time.

    Compressed as the request's Accept-Encoding allows, from the copies made at start-up. This is
    the one place the server compresses: these bytes are public and the same for everyone. Pages and
    API answers go uncompressed, because a compressed answer that holds a secret next to text the
    request chose tells the secret by its length (BREACH); nginx compresses nothing either
    (deploy/nginx/luisterend-oor.conf). Range requests are not served (`Accept-Ranges: none`, and a
    Range header gets the whole asset, as RFC 9110 allows): nothing of ours needs a part of a script.
    """
    found = request.app[ASSETS].find(request.path)
    if found is None:
        raise web.HTTPNotFound()
    item, immutable = found
    coding = accepted_coding(request.headers.get("Accept-Encoding", ""),
                             [c for c in CODINGS if c in item.encoded])
    etag = item.etag(coding)
    headers = {"Cache-Control": IMMUTABLE if immutable else REVALIDATE, "ETag": etag,
               # Every answer depends on Accept-Encoding, the uncompressed ones too: a cache must not
               # hand a gzip-only client the brotli copy, nor a brotli client the larger identity one.
               "Vary": "Accept-Encoding", "Accept-Ranges": "none"}
    if _none_match(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    return _asset_response(item, coding, headers)


def _asset_response(item: Asset, coding: str | None, headers: dict[str, str]) -> web.Response:
    if coding is None:
        return web.Response(body=item.body, content_type=item.content_type, headers=headers)
    return web.Response(body=item.encoded[coding], content_type=item.content_type,
                        headers={**headers, "Content-Encoding": coding})


def _none_match(header: str | None, etag: str) -> bool:
    """If-None-Match (RFC 9110, 13.1.2): `*`, or a list of entity tags compared weakly."""
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags
