"""The connection to the live state: none (this process's memory) or a Redis that keeps nothing on disk.

Chats are never stored (DESIGN.md invariant 4): the live state several web nodes share (queue,
pairings, resume backlogs, proof-of-work challenges, abuse tags, mail assignments in progress)
may live in a Redis only if that Redis writes none of it to disk. `Live.open` therefore asks the
server itself, before the application uses it: `CONFIG GET save` must be empty (no RDB snapshots)
and `CONFIG GET appendonly` must be `no` (no append-only file). A server that will not say (CONFIG
disabled, renamed or forbidden by an ACL) is refused too: what cannot be checked is not trusted.

Two rules for every key written through this connection, so that an operator can see and a test can
check what is ours and that nothing outlives its use:
- every key starts with `KEY_PREFIX` (`oor:`), built with `Live.key`;
- every key is written with a time to live (SET with PX, or PEXPIRE in the same script or MULTI).
threat_model/data_inventory.toml `[redis]` lists every key pattern, what it holds and for how long.

Plain Python on the ground floor: the aiohttp side (`live_ctx`) is in the package's `__init__`.
"""

from __future__ import annotations

import asyncio
import contextlib

from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from ..config import Config
from ..errors import ConfigError

KEY_PREFIX = b"oor:"
CONNECT_TIMEOUT_SECONDS = 10.0


class Live:
    """The live state's connection. `redis` is None in the embedded default (everything live stays in
    this process's memory, as it always did), else a `redis.asyncio.Redis` with bytes answers."""

    def __init__(self, url: str = "") -> None:
        self._url = url  # may hold a password: never in a repr, an error or a log line
        self.redis: aioredis.Redis | None = None

    def __repr__(self) -> str:
        return f"Live({'redis' if self._url else 'in-process'})"

    @property
    def shared(self) -> bool:
        """Whether the live state is shared with other nodes through Redis."""
        return bool(self._url)

    @staticmethod
    def key(*parts: bytes | str) -> bytes:
        """`oor:part:part…`: every key we write has our prefix, so that what is ours is easy to see."""
        return KEY_PREFIX + b":".join(p.encode() if isinstance(p, str) else p for p in parts)

    async def open(self) -> None:
        """Connect, and refuse a Redis that would keep anything on disk (ConfigError, naming the setting)."""
        if not self._url:
            return
        client = aioredis.Redis.from_url(self._url, decode_responses=False,
                                         socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                         health_check_interval=30)
        try:
            await client.ping()
            await check_keeps_nothing_on_disk(client)
        except ConfigError:
            await client.aclose()
            raise
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise ConfigError(f"hub_url: cannot reach Redis ({type(exc).__name__}: {self._scrub(exc)})") from None
        self.redis = client

    async def close(self) -> None:
        if self.redis is not None:
            # Bounded: a stop must end whatever Redis does.
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(self.redis.aclose(), 2.0)
            self.redis = None

    def _scrub(self, exc: BaseException) -> str:
        """The error's text without anything of the URL's credentials (redis-py does not put them in
        its messages, but a password must never reach a log even if some version did)."""
        text = str(exc)
        try:
            secret = urlsplit(self._url).password
        except ValueError:
            secret = None
        return text.replace(secret, "***") if secret else text


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _setting(answer: dict[Any, Any], name: str) -> str | None:
    """One value of a CONFIG GET answer (redis-py gives text keys; bytes are accepted too)."""
    for key, value in answer.items():
        if _text(key).lower() == name:
            return _text(value)
    return None


def _unchecked(why: str) -> ConfigError:
    return ConfigError(
        f"hub_url: this Redis does not answer CONFIG GET ({why}), so oor serve cannot check that it keeps "
        "nothing on disk, and refuses it: chats are never stored. Allow CONFIG GET for the server's "
        "connection (not renamed or disabled; with ACLs `+config|get`), with `save \"\"` and `appendonly no` "
        "in redis.conf.")


async def check_keeps_nothing_on_disk(client: aioredis.Redis) -> None:
    """Refuse (ConfigError) unless the server says it writes no snapshot and no append-only file.

    What this cannot see: a replica of this server with persistence on, and a later `CONFIG SET` by
    an administrator. Both are the operator's part (threat_model/data_inventory.toml, `[redis]`)."""
    try:
        save = _setting(await client.config_get("save"), "save")
        appendonly = _setting(await client.config_get("appendonly"), "appendonly")
    except ResponseError as exc:  # unknown command (renamed or disabled), or NOPERM under an ACL
        raise _unchecked(f"the command is disabled, renamed or not allowed: {exc}") from None
    if save is None or appendonly is None:
        raise _unchecked("the answer lacks `save` or `appendonly`")
    if save.strip():
        raise ConfigError(
            f"hub_url: this Redis writes snapshots to disk (save = {save!r}); set `save \"\"` in redis.conf "
            "(or `CONFIG SET save \"\"`): chats are never stored, and the live state holds them.")
    if appendonly.strip().lower() != "no":
        raise ConfigError(
            f"hub_url: this Redis writes an append-only file to disk (appendonly = {appendonly!r}); set "
            "`appendonly no` in redis.conf: chats are never stored, and the live state holds them.")


def open_live(config: Config) -> Live:
    """The live state `hub_url` names (empty: in this process's memory). Call `await live.open()`."""
    return Live(config.hub_url)
