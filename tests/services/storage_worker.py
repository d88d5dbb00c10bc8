"""Another process writing to the same PostgreSQL database, for the two-process tests
(tests/server/test_storage_postgres.py). The URL comes in the environment, never on the command line:

    OOR_DATABASE_URL=postgresql://... python -m tests.services.storage_worker JOB [ARG ...]

It opens `PostgresStorage`, prints "ready", waits for a line on stdin (so that the test can start
two of them at the same moment), does JOB, prints what it saw as one line of JSON, and closes.

    mail N DAY           N threads for the fewest (create_thread_for_fewest, 10 at a time) and N
                         statistics counts (add_count)
    rounds N             N times: wait for a line, store one thread for the fewest, print "stored"
    replies THREAD N     N messages appended to one thread (hex id), each after the last it read
    deactivate NAME      NAME deactivated as the dashboard does it (keep_a_coordinator)
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from typing import Any

from server.storage import Count, LastCoordinator, MailMessage, MailThread, ThreadConflict, Volunteer
from server.storage.postgres import PostgresStorage

MESSAGE_LIMIT = 10_000


def new_thread(volunteer: Volunteer) -> tuple[MailThread, MailMessage]:
    thread_id = secrets.token_bytes(16)
    thread = MailThread(thread_id, secrets.token_bytes(32), b"x" * 32, b"e" * 32, volunteer.id, "open", 1, False, 1,
                        True, False, 1)
    return thread, MailMessage(1, 1, b"ciphertext", b"s" * 64, b"e" * 32, b"w1", b"w2")


async def mail(storage: PostgresStorage, n: int, day: str) -> dict[str, Any]:
    stored = 0
    for start in range(0, n, 10):
        answers = await asyncio.gather(*(storage.create_thread_for_fewest(new_thread, Count(day, "mail", "offered"))
                                         for _ in range(start, min(n, start + 10))))
        stored += sum(answer is not None for answer in answers)
        await asyncio.gather(*(storage.add_count(day, "chat", "offered", "") for _ in range(start, min(n, start + 10))))
    return {"stored": stored}


async def rounds(storage: PostgresStorage, n: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    for _ in range(n):
        await loop.run_in_executor(None, sys.stdin.readline)
        await storage.create_thread_for_fewest(new_thread)
        print("stored", flush=True)
    return {"rounds": n}


async def replies(storage: PostgresStorage, thread_id: bytes, n: int) -> dict[str, Any]:
    added = conflicts = 0
    while added < n:
        last = max(m.seq for m in await storage.messages(thread_id))
        message = MailMessage(last + 1, 2, os.urandom(16), b"s" * 64, b"e" * 32, b"w1", b"w2")
        try:
            await storage.add_message(thread_id, message, 2, 1, MESSAGE_LIMIT)
            added += 1
        except ThreadConflict:
            conflicts += 1
    return {"added": added, "conflicts": conflicts}


async def deactivate(storage: PostgresStorage, name: str) -> dict[str, Any]:
    try:
        await storage.set_active(name, False, keep_a_coordinator=True)
        return {"outcome": "deactivated"}
    except LastCoordinator:
        return {"outcome": "last-coordinator"}


async def main(job: str, args: list[str]) -> None:
    storage = PostgresStorage(os.environ["OOR_DATABASE_URL"])
    await storage.open()
    try:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if job == "mail":
            result = await mail(storage, int(args[0]), args[1])
        elif job == "rounds":
            result = await rounds(storage, int(args[0]))
        elif job == "replies":
            result = await replies(storage, bytes.fromhex(args[0]), int(args[1]))
        elif job == "deactivate":
            result = await deactivate(storage, args[0])
        else:
            raise SystemExit(f"unknown job {job!r}")
        print(json.dumps(result), flush=True)
    finally:
        await storage.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
