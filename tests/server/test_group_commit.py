"""Group commit of the gateway's new threads (`create_thread_for_fewest`) on a real database, both backends.

Calls that wait together share one transaction; each must still get its own answer, a failing one
must take nothing of the others with it, and the choice of volunteer must see the threads stored
earlier in the same transaction (fair assignment). The calls are made to wait together by holding
what a group commit waits for: SQLite's storage thread, or PostgreSQL's mail-assignment lock (taken
by another connection, as another process would).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from server.storage import (Count, MailMessage, MailThread, NewVolunteer, Storage, StorageError, ThreadConflict,
                            Volunteer, open_storage)
from server.storage import postgres
from tests.services.database import Database

DAY = "2027-03-10"


@pytest.fixture
async def storage(insecure_kdf_config: Any) -> AsyncIterator[Storage]:
    store = open_storage(insecure_kdf_config)
    await store.open()
    yield store
    await store.close()


async def on_duty(storage: Storage, name: str) -> int:
    token = name.encode().ljust(32, b".")
    await storage.create_invitation(token, name, "volunteer", False, True, 10**10)
    volunteer_id = await storage.enrol(token, 0, NewVolunteer(
        name=name, role="volunteer", can_chat=False, can_mail=True, enrolled_day=DAY, kdf_salt=b"s" * 16,
        kdf_opslimit=3, kdf_memlimit=65536, auth_hash="h", x25519_public=name.encode().ljust(32, b"x"),
        ed25519_public=name.encode().ljust(32, b"e"), wrapped_identity=b"w", x25519_certificate=b"c" * 64))
    await storage.set_mail_available(volunteer_id, True)
    # As the log does once the account's key statement is in a usable checkpoint (issue 17): mail goes only there.
    await storage.set_keys_ready([v.account_id for v in await storage.list_volunteers()])
    return volunteer_id


def maker(thread_id: bytes, fail: bool = False):  # type: ignore[no-untyped-def]
    def make(volunteer: Volunteer) -> tuple[MailThread, MailMessage]:
        if fail:
            raise RuntimeError("sealing failed")
        thread = MailThread(thread_id, b"L" + thread_id, b"x" * 32, b"e" * 32, volunteer.id, "open", 1, False, 1,
                            True, False, 1)
        return thread, MailMessage(1, 1, b"ciphertext", b"s" * 64, b"e" * 32, b"w1", b"w2")
    return make


@contextlib.asynccontextmanager
async def commits_held(storage: Any, database: Database) -> AsyncIterator[Callable[[], int]]:
    """Hold what a group commit waits for; yields how many calls are waiting for one."""
    if database.backend == "sqlite":
        gate = threading.Event()
        busy = asyncio.ensure_future(storage._run(lambda c: gate.wait(10)))
        try:
            yield lambda: len(storage._batch or [])
        finally:
            gate.set()
            await busy
    else:
        other = await asyncpg.connect(database.url)
        await other.execute("SELECT pg_advisory_lock($1)", postgres._MAIL_ASSIGNMENT_LOCK)
        try:
            yield lambda: len(storage._waiting)
        finally:
            await other.close()  # and with it the lock


async def in_one_batch(storage: Storage, database: Database, *calls: Any) -> list[Any]:
    """Run the calls while the group commit is held, so that they all wait for one batch."""
    async with commits_held(storage, database) as waiting:
        tasks = [asyncio.ensure_future(call) for call in calls]
        await asyncio.sleep(0.05)
        assert waiting() == len(calls)
    return await asyncio.gather(*tasks, return_exceptions=True)


def rows(database: Database) -> tuple[list[tuple[bytes, int]], list[tuple[str, int]]]:
    return (database.rows("SELECT id, volunteer_id FROM mail_threads ORDER BY id"),
            database.rows("SELECT metric, count FROM stats_counts"))


async def test_concurrent_calls_share_a_commit_and_are_assigned_fairly(storage: Storage, database: Database) -> None:
    anouk, bram = await on_duty(storage, "Anouk"), await on_duty(storage, "Bram")
    ids = [bytes([i]) * 16 for i in range(1, 9)]
    answers = await in_one_batch(storage, database, *(
        storage.create_thread_for_fewest(maker(i), Count(DAY, "mail", "offered")) for i in ids))
    assert [thread.id for thread, _ in answers] == ids
    threads, counts = rows(database)
    assert sorted(t for t, _ in threads) == ids
    assigned = [v for _, v in threads]
    assert assigned.count(anouk) == 4 and assigned.count(bram) == 4  # each choice saw the ones before it
    assert counts == [("offered", 8)]


async def test_one_failure_leaves_the_others_of_its_batch_stored(storage: Storage, database: Database) -> None:
    await on_duty(storage, "Anouk")
    good = [bytes([i]) * 16 for i in (1, 2, 4)]
    duplicate = bytes([1]) * 16
    results = await in_one_batch(
        storage, database,
        storage.create_thread_for_fewest(maker(good[0]), Count(DAY, "mail", "offered")),
        storage.create_thread_for_fewest(maker(bytes([3]) * 16, fail=True), Count(DAY, "mail", "offered")),
        storage.create_thread_for_fewest(maker(good[1]), Count(DAY, "mail", "offered")),
        storage.create_thread_for_fewest(maker(duplicate), Count(DAY, "mail", "offered")),
        storage.create_thread_for_fewest(maker(good[2]), Count(DAY, "mail", "offered")))
    assert isinstance(results[1], RuntimeError) and isinstance(results[3], ThreadConflict)
    assert [r[0].id for r in results if isinstance(r, tuple)] == good
    threads, counts = rows(database)
    assert [t for t, _ in threads] == good and counts == [("offered", 3)]  # nothing of the failures counted


async def test_no_account_for_mail_stores_nothing(storage: Storage, database: Database) -> None:
    # Since issue 15 mail goes to an account that can take it even when nobody is marked available;
    # only with no active mail account at all is nothing stored.
    await on_duty(storage, "Anouk")
    assert await storage.set_active("Anouk", False)
    assert await storage.create_thread_for_fewest(maker(b"\x01" * 16), Count(DAY, "mail", "offered")) is None
    assert rows(database) == ([], [])


async def test_a_caller_that_went_away_before_its_batch_ran_is_not_stored(storage: Storage, database: Database) -> None:
    """An SMTP client that hung up gets no 250, so its mail must not be stored (the sender retries)."""
    await on_duty(storage, "Anouk")
    async with commits_held(storage, database):
        kept = asyncio.ensure_future(storage.create_thread_for_fewest(maker(b"\x01" * 16),
                                                                      Count(DAY, "mail", "offered")))
        gone = asyncio.ensure_future(storage.create_thread_for_fewest(maker(b"\x02" * 16),
                                                                      Count(DAY, "mail", "offered")))
        await asyncio.sleep(0.05)
        gone.cancel()
        await asyncio.sleep(0)
    assert (await kept)[0].id == b"\x01" * 16
    assert gone.cancelled()
    assert rows(database)[0] == [(b"\x01" * 16, 1)] and rows(database)[1] == [("offered", 1)]


async def test_after_close_a_call_fails_clearly_and_nothing_hangs(insecure_kdf_config: Any) -> None:
    store = open_storage(insecure_kdf_config)
    await store.open()
    await store.close()
    with pytest.raises(StorageError):
        await asyncio.wait_for(store.create_thread_for_fewest(maker(b"\x01" * 16)), 5)


class Plaintext:
    """Stands for what a gateway's `make` holds: the mail's text and keys."""


async def test_what_make_holds_is_let_go_once_answered(storage: Storage) -> None:
    """The closures (and, for a failure, every frame its exception holds) are dropped before the
    answer: nothing of a mail stays alive after its caller has been told, even while the caller keeps
    the exception."""
    await on_duty(storage, "Anouk")
    held: list[weakref.ref[Plaintext]] = []

    def holding(thread_id: bytes, fail: bool) -> Any:
        plaintext = Plaintext()
        held.append(weakref.ref(plaintext))
        inner = maker(thread_id, fail)

        def make(volunteer: Volunteer) -> tuple[MailThread, MailMessage]:
            text = plaintext  # in make's frame, as the gateway's seal has the text
            if text is None:
                raise AssertionError
            return inner(volunteer)
        return make

    assert await storage.create_thread_for_fewest(holding(b"\x01" * 16, False)) is not None
    with pytest.raises(RuntimeError):
        await storage.create_thread_for_fewest(holding(b"\x02" * 16, True))
    assert [ref() for ref in held] == [None, None]
