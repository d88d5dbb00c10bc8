"""The live state: what a chat needs while it lasts, and the small state abuse control and mail
assignment need for minutes, kept in this process's memory (the embedded default) or in a Redis that
several web nodes share and that keeps nothing on disk (`hub_url`).

- `connection.py`: `Live`, `open_live(config)`, the check that Redis persists nothing, key rules;
- `abuse.py`: the Redis `Guard` and `Gate` (`server/abuse.py` has the in-process ones);
- `assignments.py`: mail assignments in progress, both implementations.

`live_ctx` is the application's side: an aiohttp `cleanup_ctx` that opens the connection, keeps it
under `LIVE`, and with `hub_url` set puts the Redis implementations in place of the in-process ones
that `create_app` made. It must come after the storage's context (it replaces the mail desk's
assignments, which that context creates) and before the gateway's (which takes `GUARD` as it starts).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .connection import KEY_PREFIX, Live, open_live

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["KEY_PREFIX", "Live", "live_ctx", "open_live"]


async def live_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the live state for the application's lifetime (see the module's docstring)."""
    # Imported here, not at the top: server.guards and server.mail.desk import this package's
    # modules (abuse, assignments), and a top-level import back would run before they are defined.
    from ..guards import GUARD, POW, make_pow, make_shared_guard
    from ..keys import CONFIG, LIVE
    from ..mail.desk import MAIL_DESK
    from .assignments import RedisAssignments

    config = app[CONFIG]
    live = open_live(config)
    await live.open()
    guard = None
    try:
        if live.redis is not None:
            if MAIL_DESK not in app:
                raise RuntimeError("live_ctx must come after the storage's cleanup context (it needs the mail desk)")
            guard = make_shared_guard(config, live)
            await guard.start()
            app[GUARD] = guard
            app[POW] = make_pow(config, live)
            app[MAIL_DESK].assignments = RedisAssignments(live)
        app[LIVE] = live
    except BaseException:
        if guard is not None:
            await guard.stop()
        await live.close()
        raise
    yield
    if guard is not None:
        await guard.stop()
    await live.close()
