"""What the hub's parts share (server/chat/room.py), and the stand-ins the part tests use.

The part tests (test_chat_relay_part.py, test_chat_assignment.py, test_chat_readalong.py,
test_chat_handover_part.py) drive each part through its own API with real objects: a
real Config, a real Room, the real statistics on a real database (both backends). Only the sockets
are stand-ins: `Page` records what a page would receive, as aiohttp's WebSocketResponse
would have sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import crypto
from server.accounts import day_of
from server.chat.errors import ChatRefused
from server.chat.queue import ChatState
from server.chat.room import Chat, Room, VolunteerInfo, send
from server.config import Config
from server.stats import Stats
from server.storage import Storage, open_storage

WALL = 1_800_000_000  # the statistics' wall clock (unix seconds): one fixed day


class Page:
    """A websocket as the hub sees it: `send_str`, `close`, `closed`. Keeps what was sent."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.closed = False
        self.close_code: int | None = None

    async def send_str(self, text: str) -> None:
        self.texts.append(text)

    async def close(self, *, code: int = 1000, message: bytes = b"") -> None:
        self.closed, self.close_code = True, code

    @property
    def frames(self) -> list[dict[str, Any]]:
        return [json.loads(t) for t in self.texts]

    def kinds(self) -> list[str]:
        return [f["t"] for f in self.frames]

    def take(self) -> list[dict[str, Any]]:
        """The frames received since the last take."""
        frames = self.frames
        self.texts.clear()
        return frames


class Monotonic:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def storage(insecure_kdf_config: Config) -> AsyncIterator[Storage]:
    db = open_storage(insecure_kdf_config)
    await db.open()
    yield db
    await db.close()


def make_room(storage: Storage | None, **settings: Any) -> Room:
    """A Room on a real Config (defaults, plus `settings`) with the real statistics."""
    stats = Stats(storage, lambda: WALL) if storage is not None else None
    return Room(dataclasses.replace(Config(), **settings), Monotonic(), stats)


@pytest.fixture
def room(storage: Storage) -> Room:
    return make_room(storage)


async def settled(room: Room) -> None:
    """Wait for the background work (statistics, closes) the room has started."""
    while room.tasks:
        await asyncio.gather(*list(room.tasks), return_exceptions=True)


async def counts(room: Room, storage: Storage) -> dict[tuple[str, str], int]:
    await settled(room)
    day = day_of(WALL)
    return {(metric, bucket): n for _, channel, metric, bucket, n in await storage.counts_between(day, day)
            if channel == "chat"}


def online(room: Room, volunteer_id: int, name: str = "Sanne", role: str = "volunteer") -> tuple[VolunteerInfo, Page]:
    page = Page()
    info = VolunteerInfo(volunteer_id, name, crypto.new_chat_keypair().public, ws=page, role=role)  # type: ignore[arg-type]
    room.volunteers[volunteer_id] = info
    return info, page


def active_chat(room: Room, volunteer: VolunteerInfo) -> tuple[Chat, Page]:
    """A chat answered by `volunteer`, its help-seeker's page connected."""
    page = Page()
    chat_id = bytes([len(room.chats) + 1]) * 16
    chat = Chat(chat_id, crypto.new_chat_keypair().public, crypto.hash_token(crypto.new_token(32)),
                (b"a" * 16, b"b" * 16), page, volunteer_id=volunteer.id)  # type: ignore[arg-type]
    room.chats[chat_id] = chat
    room.queue.join(chat_id, room.clock())
    room.queue.set_available(volunteer.id, True)
    room.queue.pick_up(volunteer.id)
    room.queue.accept(volunteer.id, chat_id)
    chat.answered_at = room.clock()
    return chat, page


@contextlib.contextmanager
def refused(code: str, key: str) -> Iterator[None]:
    """The block must raise ChatRefused with this code, and the words of this catalogue key."""
    with pytest.raises(ChatRefused) as exc:
        yield
    assert (exc.value.code, exc.value.key) == (code, key)


# -- the room itself ------------------------------------------------------------------------------


async def test_a_volunteer_reaches_only_their_own_chats(room: Room) -> None:
    sanne, _ = online(room, 1)
    mark, _ = online(room, 2, "Mark")
    chat, _ = active_chat(room, sanne)
    assert room.chat_of(sanne, chat.id) is chat and room.active_chat(sanne, chat.id) is chat
    # Someone else's chat and a chat that does not exist are refused alike: nothing tells them apart.
    for who, chat_id in ((mark, chat.id), (sanne, bytes(16))):
        with refused("unknown-chat", "chat_unknown_chat"):
            room.chat_of(who, chat_id)


async def test_an_active_chat_needs_an_answer_and_the_help_seeker_connected(room: Room) -> None:
    sanne, _ = online(room, 1)
    chat, _ = active_chat(room, sanne)
    chat.seeker = None
    with refused("not-now", "chat_seeker_not_connected"):
        room.active_chat(sanne, chat.id)
    chat.seeker = Page()  # type: ignore[assignment]
    room.queue.entries[chat.id].state = ChatState.OFFERED
    assert not room.is_active(chat)
    with pytest.raises(ChatRefused):
        room.active_chat(sanne, chat.id)


async def test_counts_go_to_the_statistics_in_the_background(room: Room, storage: Storage) -> None:
    room.count("chat_offered")
    room.count("chat_answered", 42.0)
    assert await counts(room, storage) == {("offered", ""): 1, ("answered", "60"): 1}


async def test_a_failing_count_is_logged_and_never_reaches_the_chat(room: Room, storage: Storage,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="oor.chat"):
        room.count("chat_handover", "no-such-outcome")  # the statistics refuse it with a ValueError
        assert await counts(room, storage) == {}
    assert "statistics: chat_handover failed" in caplog.text


async def test_timers_run_once_and_a_cancelled_one_never(room: Room) -> None:
    sanne, _ = online(room, 1)
    chat, _ = active_chat(room, sanne)
    ran: list[str] = []

    async def note(c: Chat) -> None:
        ran.append(c.key)

    room.later(chat, "a", 0, note)
    room.later(chat, "b", 0, note)
    room.cancel(chat, "b")
    await asyncio.sleep(0.01)
    await settled(room)
    assert ran == [chat.key] and "b" not in chat.timers


async def test_send_skips_a_page_that_is_gone() -> None:
    page = Page()
    assert await send(page, {"t": "x", "n": 1})  # type: ignore[arg-type]
    assert page.texts == ['{"t":"x","n":1}']  # compact JSON, as every frame
    page.closed = True
    assert not await send(page, {"t": "y"})  # type: ignore[arg-type]
    assert not await send(None, {"t": "y"})
    assert page.texts == ['{"t":"x","n":1}']
