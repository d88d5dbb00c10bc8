"""Group commit of the gateway's new threads (SQLiteStorage.create_thread_for_fewest) on a real SQLite file.

Calls that wait together share one transaction; each must still get its own answer, a failing one
must take nothing of the others with it, and the choice of volunteer must see the threads stored
earlier in the same transaction (fair assignment).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.storage import Count, MailMessage, MailThread, NewVolunteer, StorageError, ThreadConflict, Volunteer
from server.storage.sqlite import SQLiteStorage

DAY = "2027-03-10"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    store = SQLiteStorage(tmp_path / "oor.sqlite3")
    await store.open()
    yield store
    await store.close()


async def on_duty(storage: SQLiteStorage, name: str) -> int:
    token = name.encode().ljust(32, b".")
    await storage.create_invitation(token, name, "volunteer", False, True, 10**10)
    volunteer_id = await storage.enrol(token, 0, NewVolunteer(
        name=name, role="volunteer", can_chat=False, can_mail=True, enrolled_day=DAY, kdf_salt=b"s" * 16,
        kdf_opslimit=3, kdf_memlimit=65536, auth_hash="h", x25519_public=name.encode().ljust(32, b"x"),
        ed25519_public=name.encode().ljust(32, b"e"), wrapped_identity=b"w", x25519_certificate=b"c" * 64))
    await storage.set_mail_available(volunteer_id, True)
    return volunteer_id


def maker(thread_id: bytes, fail: bool = False):  # type: ignore[no-untyped-def]
    def make(volunteer: Volunteer) -> tuple[MailThread, MailMessage]:
        if fail:
            raise RuntimeError("sealing failed")
        thread = MailThread(thread_id, b"L" + thread_id, b"x" * 32, b"e" * 32, volunteer.id, "open", 1, False, 1,
                            True, False, 1)
        return thread, MailMessage(1, 1, b"ciphertext", b"s" * 64, b"e" * 32, b"w1", b"w2")
    return make


async def in_one_batch(storage: SQLiteStorage, *calls: Any) -> list[Any]:
    """Run the calls while the storage thread is held busy, so that they all wait for one batch."""
    gate = threading.Event()
    busy = asyncio.ensure_future(storage._run(lambda c: gate.wait(10)))
    tasks = [asyncio.ensure_future(call) for call in calls]
    await asyncio.sleep(0.05)
    assert storage._batch is not None and len(storage._batch) == len(calls)
    gate.set()
    await busy
    return await asyncio.gather(*tasks, return_exceptions=True)


def rows(storage: SQLiteStorage) -> tuple[list[tuple[bytes, int]], list[tuple[str, int]]]:
    with sqlite3.connect(storage.path) as db:
        threads = db.execute("SELECT id, volunteer_id FROM mail_threads ORDER BY id").fetchall()
        counts = db.execute("SELECT metric, count FROM stats_counts").fetchall()
    return threads, counts


async def test_concurrent_calls_share_a_commit_and_are_assigned_fairly(storage: SQLiteStorage) -> None:
    anouk, bram = await on_duty(storage, "Anouk"), await on_duty(storage, "Bram")
    ids = [bytes([i]) * 16 for i in range(1, 9)]
    answers = await in_one_batch(storage, *(storage.create_thread_for_fewest(maker(i), Count(DAY, "mail", "offered"))
                                            for i in ids))
    assert [thread.id for thread, _ in answers] == ids
    threads, counts = rows(storage)
    assert sorted(t for t, _ in threads) == ids
    assigned = [v for _, v in threads]
    assert assigned.count(anouk) == 4 and assigned.count(bram) == 4  # each choice saw the ones before it
    assert counts == [("offered", 8)]


async def test_one_failure_leaves_the_others_of_its_batch_stored(storage: SQLiteStorage) -> None:
    await on_duty(storage, "Anouk")
    good = [bytes([i]) * 16 for i in (1, 2, 4)]
    duplicate = bytes([1]) * 16
    results = await in_one_batch(
        storage,
        storage.create_thread_for_fewest(maker(good[0]), Count(DAY, "mail", "offered")),
        storage.create_thread_for_fewest(maker(bytes([3]) * 16, fail=True), Count(DAY, "mail", "offered")),
        storage.create_thread_for_fewest(maker(good[1]), Count(DAY, "mail", "offered")),
        storage.create_thread_for_fewest(maker(duplicate), Count(DAY, "mail", "offered")),
        storage.create_thread_for_fewest(maker(good[2]), Count(DAY, "mail", "offered")))
    assert isinstance(results[1], RuntimeError) and isinstance(results[3], ThreadConflict)
    assert [r[0].id for r in results if isinstance(r, tuple)] == good
    threads, counts = rows(storage)
    assert [t for t, _ in threads] == good and counts == [("offered", 3)]  # nothing of the failures counted


async def test_nobody_available_stores_nothing(storage: SQLiteStorage) -> None:
    volunteer_id = await on_duty(storage, "Anouk")
    await storage.set_mail_available(volunteer_id, False)
    assert await storage.create_thread_for_fewest(maker(b"\x01" * 16), Count(DAY, "mail", "offered")) is None
    assert rows(storage) == ([], [])


async def test_a_caller_that_went_away_before_its_batch_ran_is_not_stored(storage: SQLiteStorage) -> None:
    """An SMTP client that hung up gets no 250, so its mail must not be stored (the sender retries)."""
    await on_duty(storage, "Anouk")
    gate = threading.Event()
    busy = asyncio.ensure_future(storage._run(lambda c: gate.wait(10)))
    kept = asyncio.ensure_future(storage.create_thread_for_fewest(maker(b"\x01" * 16), Count(DAY, "mail", "offered")))
    gone = asyncio.ensure_future(storage.create_thread_for_fewest(maker(b"\x02" * 16), Count(DAY, "mail", "offered")))
    await asyncio.sleep(0.05)
    gone.cancel()
    await asyncio.sleep(0)
    gate.set()
    await busy
    assert (await kept)[0].id == b"\x01" * 16
    assert gone.cancelled()
    assert rows(storage)[0] == [(b"\x01" * 16, 1)] and rows(storage)[1] == [("offered", 1)]


async def test_after_close_a_call_fails_clearly_and_nothing_hangs(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "oor.sqlite3")
    await store.open()
    await store.close()
    with pytest.raises(StorageError):
        await asyncio.wait_for(store.create_thread_for_fewest(maker(b"\x01" * 16)), 5)
