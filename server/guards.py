"""The abuse controls (`server/abuse.py`) as the application holds them.

Their `web.AppKey`s live here, in the module that puts the classes into the
application (ARCHITECTURE.md rule 4's one exception, written down there), so that
abuse.py stays plain Python without aiohttp that the mail gateway and the tests can
use; and a request becomes its keyed tags here, in one place, so that no handler
ever holds the client's address.

Each key holds one of two implementations: in this process's memory (`AddressGuard`,
`PowGate`: made by `create_app`), or shared by several nodes through Redis
(`server/live/abuse.py`: put in place by `server.live.live_ctx` when `hub_url` is set).
Callers see only the interfaces `Guard` and `Gate`, whose stateful methods are coroutines.
"""

from __future__ import annotations

from aiohttp import web

from .abuse import AddressGuard, Gate, Guard, PowGate
from .config import Config
from .keys import CONFIG
from .live.abuse import RedisAddressGuard, RedisPowGate
from .live.connection import Live

GUARD: web.AppKey[Guard] = web.AppKey("address_guard")
POW: web.AppKey[Gate] = web.AppKey("pow_gate")


def _period(config: Config) -> float:
    # The key rotates once per block length: with the previous key kept one more period, a block
    # still holds across a rotation, and an address's tags cannot be linked for longer than that.
    return config.chat_block_minutes * 60


def make_guard(config: Config) -> AddressGuard:
    return AddressGuard(period_seconds=_period(config))


def make_shared_guard(config: Config, live: Live) -> RedisAddressGuard:
    """The guard several nodes share; the caller awaits its `start()` (and `stop()` at the end)."""
    return RedisAddressGuard(live, period_seconds=_period(config))


def make_pow(config: Config, live: Live | None = None) -> Gate:
    """The proof-of-work gate: in this process, or shared through `live`'s Redis."""
    if live is not None and live.redis is not None:
        return RedisPowGate(live, config.pow_base_bits, config.pow_max_bits)
    return PowGate(config.pow_base_bits, config.pow_max_bits)


def client_tags(request: web.Request) -> tuple[bytes, bytes]:
    """The client's address as in-memory keyed tags: the address itself is never kept or logged."""
    header = request.app[CONFIG].client_address_header
    address = request.headers.get(header, "") if header else (request.remote or "")
    return request.app[GUARD].tags(address)
