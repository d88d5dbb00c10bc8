"""The tests' view of a server's database from outside the server, the same on both backends.

A test reads rows with `rows()` (SQL with `?` placeholders, as SQLite writes them; they become
`$1`, `$2`, ... for PostgreSQL) and searches `stored_bytes()` for what must never be stored:
for SQLite the database file and its write-ahead log, for PostgreSQL every file of the database
in the cluster and the whole WAL, after a CHECKPOINT.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tests.services.postgres import PostgresServer


class Database(Protocol):
    backend: str

    @property
    def url(self) -> str:
        """What `database_url` says for this database ("" for SQLite)."""

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]: ...
    def tables(self) -> list[str]: ...
    def columns(self, table: str) -> list[str]: ...
    def stored_bytes(self) -> bytes: ...
    def drop(self) -> None: ...


@dataclass
class SQLiteFile:
    """The SQLite file a server with this data folder writes (it need not exist yet)."""

    data_dir: Path
    backend: str = "sqlite"

    @property
    def url(self) -> str:
        return ""

    @property
    def path(self) -> Path:
        return self.data_dir / "oor.sqlite3"

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            return db.execute(sql, args).fetchall()

    def tables(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'"
                                        " AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def columns(self, table: str) -> list[str]:
        return [r[1] for r in self.rows(f"PRAGMA table_info({table})")]

    def stored_bytes(self) -> bytes:
        files = [self.path, self.path.with_name(self.path.name + "-wal")]
        return b"".join(p.read_bytes() for p in files if p.exists())

    def drop(self) -> None:
        """The file goes with the test's temporary folder."""


@dataclass
class PostgresDatabase:
    """One database of the test cluster, made for one test (or one live server) and dropped after it."""

    server: PostgresServer
    name: str
    backend: str = "postgresql"

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        numbers = itertools.count(1)
        return self.server.fetch(self.name, re.sub(r"\?", lambda _: f"${next(numbers)}", sql), *args)

    def tables(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT table_name FROM information_schema.tables WHERE table_schema ="
                                        " current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")]

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.rows("SELECT column_name FROM information_schema.columns"
                                        " WHERE table_schema = current_schema() AND table_name = ?"
                                        " ORDER BY ordinal_position", table)]

    def stored_bytes(self) -> bytes:
        return self.server.stored_bytes(self.name)

    def drop(self) -> None:
        self.server.drop_database(self.name)


def written(data_dir: Path, database: Database) -> bytes:
    """Everything a server with this data folder and database has put on disk: the folder's files
    (the SQLite database among them) and, for PostgreSQL, the database's files and the WAL."""
    folder = b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file()) if data_dir.exists() else b""
    return folder + (database.stored_bytes() if database.backend != "sqlite" else b"")


def dead_rows(database: PostgresDatabase, table: str) -> int:
    """Row versions of `table` (and of its TOAST table) that are deleted but still in the files,
    counted by reading every page (pgstattuple), not estimated as pg_stat_user_tables does."""
    database.server.execute(database.name, "CREATE EXTENSION IF NOT EXISTS pgstattuple")
    ((heap, toast),) = database.rows(
        "SELECT (pgstattuple(c.oid)).dead_tuple_count,"
        " CASE WHEN c.reltoastrelid = 0 THEN 0 ELSE (pgstattuple(c.reltoastrelid)).dead_tuple_count END"
        " FROM pg_class c WHERE c.oid = ?::regclass", table)
    return int(heap) + int(toast)
