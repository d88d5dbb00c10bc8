"""Storage behind a small interface.

The rest of the server never writes SQL: it calls the methods of `Storage`.
SQLite is the embedded default (`SQLiteStorage`); the interface is kept narrow
so that a PostgreSQL implementation can be added for several nodes later.

Records are plain frozen dataclasses. None of them can hold anything that
identifies a help-seeker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

ROLES = ("volunteer", "partner", "coordinator")


class StorageError(Exception):
    """A storage operation could not be done as asked (the message says why)."""


class InvitationUnusable(StorageError):
    """The invitation is unknown, used already, or expired."""

    def __init__(self, reason: str) -> None:
        self.reason = reason  # "unknown" | "used" | "expired"
        super().__init__(reason)


class NameTaken(StorageError):
    """A volunteer with this name exists already."""


@dataclass(frozen=True)
class Invitation:
    name: str
    role: str
    can_chat: bool
    can_mail: bool
    expires_at: int
    used: bool


@dataclass(frozen=True)
class NewVolunteer:
    name: str
    role: str
    can_chat: bool
    can_mail: bool
    enrolled_day: str
    kdf_salt: bytes
    kdf_opslimit: int
    kdf_memlimit: int
    auth_hash: str
    x25519_public: bytes
    ed25519_public: bytes
    wrapped_identity: bytes


@dataclass(frozen=True)
class Volunteer(NewVolunteer):
    id: int
    active: bool
    failed_logins: int
    locked_until: int


@dataclass(frozen=True)
class Session:
    volunteer_id: int
    created_at: int
    last_seen: int


class Storage(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def get_or_create_meta(self, key: str, make: bytes) -> bytes: ...

    async def create_invitation(self, token_hash: bytes, name: str, role: str,
                                can_chat: bool, can_mail: bool, expires_at: int) -> None: ...
    async def get_invitation(self, token_hash: bytes) -> Invitation | None: ...
    async def enrol(self, token_hash: bytes, now: int, volunteer: NewVolunteer) -> int: ...

    async def volunteer_by_name(self, name: str) -> Volunteer | None: ...
    async def volunteer_by_id(self, volunteer_id: int) -> Volunteer | None: ...
    async def list_volunteers(self) -> list[Volunteer]: ...
    async def set_active(self, name: str, active: bool) -> bool: ...
    async def record_login_failure(self, volunteer_id: int, failed: int, locked_until: int) -> None: ...
    async def reset_login_failures(self, volunteer_id: int) -> None: ...

    async def create_session(self, token_hash: bytes, volunteer_id: int, now: int) -> None: ...
    async def get_session(self, token_hash: bytes) -> Session | None: ...
    async def touch_session(self, token_hash: bytes, now: int) -> None: ...
    async def delete_session(self, token_hash: bytes) -> None: ...
    async def delete_sessions_of(self, volunteer_id: int) -> None: ...
    async def purge(self, now: int, idle_before: int, created_before: int) -> None: ...

    async def add_wrapup(self, day: str, topic: str, age_band: str, handed_over: bool) -> None: ...
    async def wrapup_counts(self) -> list[tuple[str, str, str, bool, int]]: ...
