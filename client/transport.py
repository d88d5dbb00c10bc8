"""The thin transport under the protocol client: what every journey does before its first frame."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import crypto

T = TypeVar("T")


class UnexpectedAnswer(Exception):
    """The instance answered otherwise than the protocol's next step (often with an error frame or status)."""


def expect(frame: dict[str, Any], kind: str) -> dict[str, Any]:
    if frame.get("t") != kind:
        raise UnexpectedAnswer(frame)
    return frame


async def solved_challenge(http: Any, path: str) -> dict[str, str]:
    """Fetch a proof-of-work challenge from `path` and solve it, as a page does before it opens a chat
    or sends a first mail; the answer is the `challenge` and `nonce` fields of the request it unlocks."""
    challenge = await (await http.post(path)).json()
    nonce = crypto.pow_solve(crypto.b64decode(challenge["challenge"]), challenge["bits"])
    return {"challenge": challenge["challenge"], "nonce": crypto.b64encode(nonce)}


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Argon2id at production cost takes about a second: never on the loop that reads the sockets."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def kdf_params(announced: dict[str, int]) -> crypto.KdfParams:
    """The Argon2id parameters an instance announces ({"opslimit": .., "memlimit": ..})."""
    return crypto.KdfParams(announced["opslimit"], announced["memlimit"])


def origin_of(url: str) -> str:
    """The Origin header a page served from `url` sends on its websocket upgrade."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
