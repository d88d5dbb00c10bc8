"""The abuse controls (`server/abuse.py`) as the application holds them.

Their `web.AppKey`s live here, in the module that puts the classes into the
application (ARCHITECTURE.md rule 4's one exception, written down there), so that
abuse.py stays plain Python without aiohttp that the mail gateway and the tests can
use; and a request becomes its keyed tags here, in one place, so that no handler
ever holds the client's address.
"""

from __future__ import annotations

from aiohttp import web

from .abuse import AddressGuard, PowGate
from .config import Config
from .keys import CONFIG

GUARD: web.AppKey[AddressGuard] = web.AppKey("address_guard")
POW: web.AppKey[PowGate] = web.AppKey("pow_gate")


def make_guard(config: Config) -> AddressGuard:
    # The key rotates once per block length: with the previous key kept one more period, a block
    # still holds across a rotation, and an address's tags cannot be linked for longer than that.
    return AddressGuard(period_seconds=config.chat_block_minutes * 60)


def client_tags(request: web.Request) -> tuple[bytes, bytes]:
    """The client's address as in-memory keyed tags: the address itself is never kept or logged."""
    header = request.app[CONFIG].client_address_header
    address = request.headers.get(header, "") if header else (request.remote or "")
    return request.app[GUARD].tags(address)
