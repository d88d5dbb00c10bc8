"""The baseline for bench/smtp_intake.py: a bare aiosmtpd server that parses and stores each mail.

For every message it does what the benchmark's issue asks of the baseline and
nothing more: parse it with `email.parser.BytesParser(policy=policy.default)`
(the gateway's parser and policy, mailgate/parse.py), INSERT the raw message
into SQLite and COMMIT, one transaction per mail, then answer 250. SQLite runs
as the product's does (server/storage/sqlite.py): WAL, `synchronous=FULL`, so
the 250 comes after a durable commit. Nothing is encrypted, no key is derived,
no return mail is sent, nobody is assigned.

With --extract it also does what any intake that keeps only the text must do:
read the subject and the body part (`get_body(("plain", "html"))`,
`get_content()`), as mailgate/parse.py does, and stores those instead of the
raw bytes. That costs about 0.3 ms more per mail (bench/README.md).

The SMTP side is configured as the gateway's (mailgate/gateway.py smtp_factory):
the same size limit, SMTPUTF8, timeout and command limits; any recipient is taken.

With --database-url postgresql://... it stores into PostgreSQL instead (asyncpg, one INSERT per
mail in its own transaction, with the server's defaults: fsync and synchronous_commit on, so the
250 again comes after a durable commit), the baseline for `bench/smtp_intake.py --postgres`.

bench/smtp_intake.py starts it as a subprocess. It lives in bench/support/ because
`make bench` runs every bench/*.py, and this one would serve until stopped. On its own:
    .venv/bin/python bench/support/bare_smtp.py --smtp 127.0.0.1:2626 --data /tmp/bare
It is not a mail server for people: it binds to loopback only and keeps everything it is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sqlite3
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

MAX_BYTES = 1024 * 1024  # the gateway's default smtp_max_bytes


class BareHandler:
    def __init__(self, path: Path, extract: bool) -> None:
        self.extract = extract
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS mails (id INTEGER PRIMARY KEY, received_at REAL NOT NULL,"
                        " size INTEGER NOT NULL, raw BLOB, subject TEXT, text TEXT)")
        self.parser = BytesParser(policy=policy.default)

    def parse(self, raw: bytes) -> tuple[Any, ...] | None:
        """The row to store: (received_at, size, raw, subject, text); None if the mail cannot be read."""
        try:
            message = self.parser.parsebytes(raw)
            if not self.extract:
                return (time.time(), len(raw), raw, None, None)
            subject = str(message.get("subject", "") or "")
            body = message.get_body(preferencelist=("plain", "html"))
            text = body.get_content() if body is not None else ""
            return (time.time(), len(raw), None, subject, text if isinstance(text, str) else "")
        except Exception:
            return None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        row = self.parse(raw)
        if row is None:
            return "554 5.6.0 This message cannot be read"
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("INSERT INTO mails(received_at, size, raw, subject, text) VALUES (?, ?, ?, ?, ?)", row)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return "250 2.0.0 OK"


class BarePostgresHandler(BareHandler):
    """The same work, stored in PostgreSQL: one INSERT, its own (durable) transaction, per mail."""

    def __init__(self, extract: bool) -> None:
        self.extract = extract
        self.parser = BytesParser(policy=policy.default)
        self.pool: Any = None

    async def open(self, url: str) -> None:
        import asyncpg  # only this baseline needs it
        self.pool = await asyncpg.create_pool(url, min_size=1, max_size=8)
        await self.pool.execute("CREATE TABLE IF NOT EXISTS mails (id bigserial PRIMARY KEY, received_at double"
                                " precision NOT NULL, size integer NOT NULL, raw bytea, subject text, text text)")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        row = self.parse(raw)
        if row is None:
            return "554 5.6.0 This message cannot be read"
        await self.pool.execute("INSERT INTO mails(received_at, size, raw, subject, text) VALUES ($1, $2, $3, $4, $5)",
                                *row)
        return "250 2.0.0 OK"


async def serve(host: str, port: int, data: Path, extract: bool, database_url: str = "") -> None:
    logging.getLogger("mail.log").disabled = True  # as the gateway
    data.mkdir(parents=True, exist_ok=True)
    handler: BareHandler
    if database_url:
        handler = BarePostgresHandler(extract)
        await handler.open(database_url)
    else:
        handler = BareHandler(data / "bare.sqlite3", extract)

    def make() -> SMTP:
        return SMTP(handler, hostname="localhost", ident="bare", data_size_limit=MAX_BYTES, enable_SMTPUTF8=True,
                    timeout=60, command_call_limit={"MAIL": 20, "RCPT": 40, "DATA": 20, "*": 100})

    server = await asyncio.get_running_loop().create_server(make, host, port)
    print(f"bare smtp on {host}:{port}{' (extracting subject and text)' if extract else ''}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    if isinstance(handler, BarePostgresHandler):
        await handler.pool.close()
    else:
        handler.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smtp", default="127.0.0.1:2626", help="HOST:PORT (loopback only)")
    parser.add_argument("--data", required=True, type=Path, help="folder for bare.sqlite3")
    parser.add_argument("--extract", action="store_true", help="also read subject and body text, store those")
    parser.add_argument("--database-url", default="",
                        help="'env': store in the PostgreSQL database named by BARE_DATABASE_URL instead of SQLite")
    args = parser.parse_args()
    if args.database_url not in ("", "env"):
        parser.error("--database-url takes only 'env' (a URL with its password has no place on a command line)")
    url = os.environ.get("BARE_DATABASE_URL", "") if args.database_url == "env" else ""
    host, _, port = args.smtp.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the bare server listens on loopback only")
    asyncio.run(serve(host, int(port), args.data, args.extract, url))


if __name__ == "__main__":
    main()
