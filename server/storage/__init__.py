"""Storage behind a small interface.

The rest of the server never writes SQL: it calls the methods of `Storage`
(`interface.py`). Two implementations keep the same semantics: SQLite, the
embedded default (`SQLiteStorage`, one file in the data folder), and PostgreSQL
for several nodes sharing one database (`PostgresStorage`). One setting,
`database_url`, chooses between them (`open_storage`).

Records are plain frozen dataclasses. None of them can hold anything that
identifies a help-seeker.
"""

from __future__ import annotations

from ..config import Config
from .interface import (ROLES, Count, Invitation, InvitationUnusable, LastCoordinator, MailMessage, MailThread,
                        NameTaken, NewVolunteer, Session, Storage, StorageError, ThreadConflict, Volunteer)

__all__ = [
    "ROLES", "Count", "Invitation", "InvitationUnusable", "LastCoordinator", "MailMessage", "MailThread",
    "NameTaken", "NewVolunteer", "Session", "Storage", "StorageError", "ThreadConflict", "Volunteer",
    "open_storage",
]


def open_storage(config: Config) -> Storage:
    """The storage `config` names, not opened yet (the caller awaits `open()` and `close()`).

    An empty `database_url` is the SQLite file in the data folder; otherwise the PostgreSQL
    database at that URL (config.py accepts only postgresql:// and postgres://). Each
    implementation is imported only when chosen, so a SQLite deployment never loads asyncpg."""
    if config.database_url:
        from .postgres import PostgresStorage
        return PostgresStorage(config.database_url)
    from .sqlite import SQLiteStorage
    return SQLiteStorage(config.database_path)
