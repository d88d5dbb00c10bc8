"""Typed keys for the application's shared state (`web.AppKey`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .abuse import AddressGuard
    from .chat.hub import ChatHub
    from .chat.ws import PowGate
    from .mail.desk import MailDesk
    from .stats import Stats
    from .accounts import LoginThrottle
    from .config import Config
    from .storage import Storage
    from .assets import AssetRegistry

CONFIG: web.AppKey["Config"] = web.AppKey("config")
STORAGE: web.AppKey["Storage"] = web.AppKey("storage")
ASSETS: web.AppKey["AssetRegistry"] = web.AppKey("assets")
CLOCK: web.AppKey[Callable[[], int]] = web.AppKey("clock")
SERVER_SECRET: web.AppKey[bytes] = web.AppKey("server_secret")
DUMMY_AUTH_HASH: web.AppKey[str] = web.AppKey("dummy_auth_hash")
LOGIN_THROTTLE: web.AppKey["LoginThrottle"] = web.AppKey("login_throttle")
CHAT_HUB: web.AppKey["ChatHub"] = web.AppKey("chat_hub")
GUARD: web.AppKey["AddressGuard"] = web.AppKey("address_guard")
POW: web.AppKey["PowGate"] = web.AppKey("pow_gate")
MAIL_DESK: web.AppKey["MailDesk"] = web.AppKey("mail_desk")
STATS: web.AppKey["Stats"] = web.AppKey("stats")
