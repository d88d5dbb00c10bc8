"""Typed keys (`web.AppKey`) for the application's shared state that belongs to no feature.

The configuration, the storage, the asset registry, the clock and two secrets are
everybody's: their keys are here. A feature's key lives beside its class instead
(`CHAT_HUB` in chat/hub.py, `CHAT_SOCKETS` in chat/limits.py, `MAIL_DESK` in
mail/desk.py, `STATS` in stats.py, `GUARD` and `POW` in guards.py,
`LOGIN_THROTTLE` in api.py, `GATEWAY` in mailgate/gateway.py), so that this module
names only ground-floor types, and those only for the type checker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .assets import AssetRegistry
    from .config import Config
    from .live.connection import Live
    from .storage import Storage

CONFIG: web.AppKey["Config"] = web.AppKey("config")
STORAGE: web.AppKey["Storage"] = web.AppKey("storage")
LIVE: web.AppKey["Live"] = web.AppKey("live")  # the live state's connection (server/live/): none, or Redis
ASSETS: web.AppKey["AssetRegistry"] = web.AppKey("assets")
CLOCK: web.AppKey[Callable[[], int]] = web.AppKey("clock")
SERVER_SECRET: web.AppKey[bytes] = web.AppKey("server_secret")
DUMMY_AUTH_HASH: web.AppKey[str] = web.AppKey("dummy_auth_hash")
