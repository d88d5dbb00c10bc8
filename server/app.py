"""The application factory: `create_app(config)` builds everything, imports do nothing."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable

import aiohttp_jinja2
import jinja2
from aiohttp import web

import crypto

from . import api, coordinator, pages
from .abuse import PowGate
from .accounts import SERVER_SECRET_KEY, LoginThrottle, day_of
from .api import LOGIN_THROTTLE
from .assets import WEB_ROOT, AssetRegistry
from .chat import limits as chat_limits
from .chat import ws as chat_ws
from .chat.cluster import CLUSTER, cluster_ctx
from .chat.hub import CHAT_HUB, ChatHub, FrameObserver
from .config import Config
from .errors import ConfigError
from .guards import GUARD, POW, make_guard
from .http import error_middleware, same_origin_middleware, security_headers
from .keys import ASSETS, CLOCK, CONFIG, DUMMY_AUTH_HASH, LIVE, SERVER_SECRET, STORAGE
from .live import live_ctx
from .mail import api as mail_api
from .mail.desk import MAIL_DESK, MailDesk, guard_mail_derivation
from .mail.inbox import inbox_ctx
from .stats import STATS, Stats
from .storage import open_storage
from .transparency import release
from .transparency import routes as log_routes
from .transparency.log import log_ctx, trust_config

log = logging.getLogger("oor")
PURGE_EVERY_SECONDS = 600


def wall_clock() -> int:
    return int(time.time())


def create_app(config: Config, *, clock: Callable[[], int] = wall_clock,
               frame_observer: FrameObserver | None = None, chat: bool = True) -> web.Application:
    """Build the application. `frame_observer` sees every relayed chat frame (tests use it
    to prove that the relay only ever handles ciphertext). `chat=False` (the gateway alone,
    `oor serve --only smtp`) keeps the process out of a cluster's chat: it never leads it."""
    app = web.Application(
        middlewares=[error_middleware, same_origin_middleware],
        client_max_size=config.max_request_kib * 1024,
    )
    app[CONFIG] = config
    app[CLOCK] = clock
    # The trust configuration (/js/trust.js) is one of the assets; making it makes the log key if missing.
    app[ASSETS] = AssetRegistry(trust=trust_config(config))
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(WEB_ROOT / "templates"), autoescape=True,
                         undefined=jinja2.StrictUndefined)
    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.append(_storage_ctx)
    app.cleanup_ctx.append(log_ctx)  # the transparency log (server/transparency/log.py): app[LOG]
    app.cleanup_ctx.append(inbox_ctx)  # the live mail inbox on this node's volunteer sockets
    app.cleanup_ctx.append(_purge_ctx)
    app[GUARD] = make_guard(config)
    app[POW] = PowGate(config.pow_base_bits, config.pow_max_bits)
    app[chat_limits.CHAT_SOCKETS] = chat_limits.for_config(config)
    # Anonymous daily counts for the coordinator's statistics; the storage is attached when it opens.
    app[STATS] = Stats(None, clock)

    async def add_wrapup(topic: str, age_band: str, handed_over: bool) -> None:
        await app[STORAGE].add_wrapup(day_of(app[CLOCK]()), topic, age_band, handed_over)

    def make_hub() -> ChatHub:
        return ChatHub(config, add_wrapup=add_wrapup, observer=frame_observer, stats=app[STATS])

    # With `hub_url`, this process's hub stays empty: the cluster's leader runs one (chat/cluster.py).
    app[CHAT_HUB] = make_hub()
    app.cleanup_ctx.append(live_ctx)
    if config.hub_url and chat:
        app.cleanup_ctx.append(functools.partial(_cluster_ctx, make_hub=make_hub))
    app.on_shutdown.append(_end_chats)
    app.add_routes(pages.routes)
    app.add_routes(api.routes)
    app.add_routes(chat_ws.routes)
    app.add_routes(mail_api.routes)
    app.add_routes(coordinator.routes)
    app.add_routes(log_routes.routes)  # /log/: the transparency log, C2SP tlog-tiles
    app.add_routes(release.routes)  # the WEBCAT-style manifest of the served files
    return app


async def _end_chats(app: web.Application) -> None:
    """A stop: in a cluster the node drains (its pages resume on another node); alone, every chat ends."""
    cluster = app.get(CLUSTER)
    if cluster is not None:
        await cluster.drain()
    else:
        await app[CHAT_HUB].shutdown()


async def _cluster_ctx(app: web.Application, make_hub: Callable[[], ChatHub]) -> AsyncIterator[None]:
    async for _ in cluster_ctx(app, app[LIVE].redis, make_hub):
        yield


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    storage = open_storage(config)
    await storage.open()
    app[STORAGE] = storage
    # Answers fake salts for unknown names; kept in the database so they stay stable across restarts.
    app[SERVER_SECRET] = await storage.get_or_create_meta(SERVER_SECRET_KEY, crypto.new_token(32).encode())
    # Failed-login counts per name, known or not, in memory only (a restart forgets them).
    app[LOGIN_THROTTLE] = LoginThrottle(app[SERVER_SECRET])
    try:
        await guard_mail_derivation(storage, config)
    except ConfigError:
        await storage.close()
        raise
    app[STATS].attach(storage)
    app[MAIL_DESK] = MailDesk(storage, config, app[CLOCK], stats=app[STATS])
    # A hash to verify against when the name is unknown, so both answers take the same time.
    app[DUMMY_AUTH_HASH] = crypto.hash_auth_key(bytes(crypto.KEY_BYTES))
    if config.insecure_kdf:
        log.warning("INSECURE KDF PARAMETERS IN USE (insecure_kdf = true): for tests only")
    yield
    app[STATS].attach(None)
    await storage.close()


async def _purge_ctx(app: web.Application) -> AsyncIterator[None]:
    """Delete expired sessions, invitations and mail threads now and then."""
    config = app[CONFIG]

    async def loop() -> None:
        while True:
            now = app[CLOCK]()
            try:
                await app[STORAGE].purge(now, now - config.session_idle_minutes * 60,
                                         now - config.session_max_hours * 3600)
                await app[MAIL_DESK].housekeeping()
            except Exception:
                log.exception("purge failed")
            await asyncio.sleep(PURGE_EVERY_SECONDS)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
