"""The `Storage` interface, its records and its errors.

Both implementations (`sqlite.py`, `postgres.py`) import this module and nothing
else of the package, so that the package's face (`__init__.py`) can choose
between them without an import cycle.

Records are plain frozen dataclasses. None of them can hold anything that
identifies a help-seeker.
"""

from __future__ import annotations

import asyncio
import traceback

from collections.abc import Callable, Collection
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

ROLES = ("volunteer", "mentor", "partner", "coordinator")


class StorageError(Exception):
    """A storage operation could not be done as asked (the message says why)."""


class InvitationUnusable(StorageError):
    """The invitation is unknown, used already, or expired."""

    def __init__(self, reason: str) -> None:
        self.reason = reason  # "unknown" | "used" | "expired"
        super().__init__(reason)


class NameTaken(StorageError):
    """A volunteer with this name exists already."""


class LastCoordinator(StorageError):
    """The change would leave no active coordinator account. Nothing was changed."""


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
    x25519_certificate: bytes | None


@dataclass(frozen=True)
class Volunteer(NewVolunteer):
    id: int
    active: bool
    failed_logins: int
    locked_until: int
    mail_available: bool
    # Key transparency (migration 0010): the random account id a key statement binds (16 bytes, never
    # the name), and whether that statement is in a checkpoint the help-seekers' pages accept.
    account_id: bytes = b""
    key_ready: bool = False


class ThreadConflict(StorageError):
    """A mail write did not fit the thread as stored (wrong sequence number, too many messages,
    missing re-encrypted keys). Nothing was changed."""


@dataclass(frozen=True)
class MailMessage:
    seq: int
    author: int            # 1 help-seeker, 2 volunteer
    body: bytes
    signature: bytes
    signer_public: bytes
    seeker_wrap: bytes
    volunteer_wrap: bytes
    hour: int | None = None  # when it was stored (whole hours since 1970); None before migration 0008


@dataclass(frozen=True)
class MailThread:
    id: bytes
    lookup_hash: bytes
    seeker_x25519_public: bytes
    seeker_ed25519_public: bytes
    volunteer_id: int | None
    state: str              # open | handled | needs-volunteer
    assigned_hour: int
    opened: bool
    waiting_since_hour: int | None
    unread_volunteer: bool
    unread_seeker: bool
    last_activity_day: int


@dataclass(frozen=True)
class Count:
    """One statistics count to add 1 to (server/stats.py): a day and fixed words, never an id."""

    day: str
    channel: str
    metric: str
    bucket: str = ""


@dataclass(frozen=True)
class Session:
    volunteer_id: int
    created_at: int
    last_seen: int


# Quick replies (migration 0009): organisation text, at most this many, of at most this many characters each.
QUICK_REPLIES_MAX = 50
QUICK_REPLY_MAX_CHARS = 1000


@dataclass(frozen=True)
class QuickReply:
    """A coordinator's ready-made text, in Dutch and English: organisation text, not help-seeker data."""

    id: int
    nl: str
    en: str


# The log (migration 0010): the most entries one log_append takes, and the size cap of one entry.
LOG_APPEND_MAX = 1000
LOG_ENTRY_MAX_BYTES = 4096
ACCOUNT_ID_BYTES = 16


def check_log_entries(entries: list[bytes]) -> None:
    """Refuse (StorageError, nothing stored) an append that is empty, too long, or has a bad entry."""
    if not entries or len(entries) > LOG_APPEND_MAX:
        raise StorageError(f"a log append takes 1 to {LOG_APPEND_MAX} entries")
    for entry in entries:
        if not isinstance(entry, (bytes, bytearray)) or not 1 <= len(entry) <= LOG_ENTRY_MAX_BYTES:
            raise StorageError(f"a log entry is 1 to {LOG_ENTRY_MAX_BYTES} bytes")


class TooManyQuickReplies(StorageError):
    """There are QUICK_REPLIES_MAX quick replies already. Nothing was changed."""


class Storage(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def get_or_create_meta(self, key: str, make: bytes) -> bytes: ...
    async def set_meta(self, key: str, value: bytes) -> None: ...
    async def mail_thread_count(self) -> int: ...

    async def create_invitation(self, token_hash: bytes, name: str, role: str,
                                can_chat: bool, can_mail: bool, expires_at: int) -> None: ...
    async def get_invitation(self, token_hash: bytes) -> Invitation | None: ...
    async def enrol(self, token_hash: bytes, now: int, volunteer: NewVolunteer) -> int: ...

    async def volunteer_by_name(self, name: str) -> Volunteer | None: ...
    async def volunteer_by_id(self, volunteer_id: int) -> Volunteer | None: ...
    async def list_volunteers(self) -> list[Volunteer]: ...
    async def set_active(self, name: str, active: bool, *, keep_a_coordinator: bool = False) -> bool: ...
    async def set_role(self, name: str, role: str) -> bool: ...
    async def record_login_failure(self, volunteer_id: int, failed: int, locked_until: int) -> None: ...
    async def reset_login_failures(self, volunteer_id: int) -> None: ...

    async def create_session(self, token_hash: bytes, volunteer_id: int, now: int) -> None: ...
    async def get_session(self, token_hash: bytes) -> Session | None: ...
    async def touch_session(self, token_hash: bytes, now: int) -> None: ...
    async def delete_session(self, token_hash: bytes) -> None: ...
    async def delete_sessions_of(self, volunteer_id: int) -> None: ...
    async def purge(self, now: int, idle_before: int, created_before: int) -> None: ...

    async def add_wrapup(self, day: str, topic: str, age_band: str, handed_over: bool) -> None: ...

    async def set_mail_available(self, volunteer_id: int, available: bool) -> None: ...
    async def mail_volunteer_with_fewest_threads(self, exclude: int | None = None) -> Volunteer | None: ...
    async def create_thread(self, thread: MailThread, first: MailMessage, count: Count | None = None) -> None: ...
    async def create_thread_for_fewest(
        self, make: Callable[[Volunteer], tuple[MailThread, MailMessage]], count: Count | None = None,
    ) -> tuple[MailThread, Volunteer] | None: ...
    async def thread_by_lookup(self, lookup_hash: bytes) -> MailThread | None: ...
    async def thread_by_id(self, thread_id: bytes) -> MailThread | None: ...
    async def messages(self, thread_id: bytes) -> list[MailMessage]: ...
    async def add_message(self, thread_id: bytes, message: MailMessage, hour: int, day: int,
                          limit: int, first_reply: Callable[[int], Count] | None = None) -> int | None: ...
    async def assign_thread(self, thread_id: bytes, volunteer_id: int, wraps: dict[int, bytes], hour: int,
                            expected_volunteer: int | None, note: bytes | None = None) -> None: ...
    async def update_thread(self, thread_id: bytes, **fields: object) -> None: ...
    async def inbox(self, volunteer_id: int) -> list[MailThread]: ...
    async def delete_thread(self, thread_id: bytes) -> None: ...
    async def expire_threads(self, before_day: int) -> int: ...
    async def mark_needing_volunteer(self, hour: int, pickup_hours: int) -> int: ...
    async def wrapup_counts(self, first_day: str | None = None,
                            last_day: str | None = None) -> list[tuple[str, str, str, bool, int]]: ...

    # Statistics (server/stats.py): counts only, never a row per contact.
    async def add_count(self, day: str, channel: str, metric: str, bucket: str) -> None: ...
    async def counts_between(self, first_day: str, last_day: str) -> list[tuple[str, str, str, str, int]]: ...
    # Live figures for the coordinator.
    async def mail_volunteers_available(self) -> int: ...
    async def open_thread_waits(self) -> list[tuple[str, int | None, int]]: ...

    # Quick replies (organisation text; QUICK_REPLIES_MAX of at most QUICK_REPLY_MAX_CHARS per language).
    async def add_quick_reply(self, nl: str, en: str) -> int: ...
    async def list_quick_replies(self) -> list[QuickReply]: ...
    async def update_quick_reply(self, reply_id: int, nl: str, en: str) -> bool: ...
    async def delete_quick_reply(self, reply_id: int) -> bool: ...
    # Invitations not used and not expired at `now` (the CLI's list): never the token or its hash.
    async def pending_invitations(self, now: int) -> list[Invitation]: ...
    # The mail inbox and notes (server/mail/inbox.py, PROTOCOL.md 12.10; migration 0008).
    async def mail_can_be_taken(self) -> bool: ...
    async def inbox_counts(self, volunteer_ids: list[int]) -> dict[int, tuple[int, int]]: ...
    async def inbox_details(self, volunteer_id: int) -> dict[bytes, tuple[int, int | None]]: ...
    async def thread_note(self, thread_id: bytes) -> bytes | None: ...
    async def set_thread_note(self, thread_id: bytes, volunteer_id: int, note: bytes | None) -> bool: ...
    # The transparency log (server/transparency/log.py, PROTOCOL.md 14; migration 0010). Entries are
    # contiguous 0..n-1 and never change; log_append serialises every appender, in any process.
    async def log_append(self, entries: list[bytes]) -> int: ...
    async def log_entries(self, start: int, end: int) -> list[bytes]: ...
    async def log_size(self) -> int: ...
    async def save_checkpoint(self, size: int, note: str, now: int) -> None: ...
    async def latest_checkpoint(self) -> tuple[int, str] | None: ...
    async def set_keys_ready(self, account_ids: Collection[bytes]) -> None: ...
    async def volunteer_by_account_id(self, account_id: bytes) -> Volunteer | None: ...


def forget_frames(exc: BaseException) -> None:
    """Drop the traceback of `exc` and of the exceptions chained to it, before a failed group-commit
    call is answered. Clearing the frames' locals is not enough: a frame still holds its function,
    and so a closure such as the gateway's `make`, which holds an e-mail's text and keys."""
    seen: set[int] = set()
    chained: BaseException | None = exc
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        traceback.clear_frames(chained.__traceback__)
        chained.__traceback__ = None
        chained = chained.__cause__ or chained.__context__


def answer_futures(futures: list[asyncio.Future[Any]], outcomes: list[tuple[bool, Any]]) -> None:
    """On the event loop: answer every caller of one group commit, (True, result) or (False, error)."""
    for future, (ok, value) in zip(futures, outcomes):
        if future.done():  # the caller went away meanwhile (cancelled)
            continue
        try:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        except Exception:  # one odd exception must not leave the others waiting
            future.set_exception(StorageError("storing the thread failed"))


# The columns both implementations read, in the order their row converters expect.
VOLUNTEER_COLUMNS = (
    "id, name, role, can_chat, can_mail, active, enrolled_day, kdf_salt, kdf_opslimit, "
    "kdf_memlimit, auth_hash, x25519_public, ed25519_public, wrapped_identity, "
    "failed_logins, locked_until, x25519_certificate, mail_available, account_id, key_ready"
)
THREAD_COLUMNS = (
    "id, lookup_hash, seeker_x25519_public, seeker_ed25519_public, volunteer_id, state, assigned_hour, "
    "opened, waiting_since_hour, unread_volunteer, unread_seeker, last_activity_day"
)
# What update_thread may change.
THREAD_FIELDS = frozenset({"state", "opened", "unread_volunteer", "unread_seeker", "last_activity_day",
                           "waiting_since_hour", "unread_count"})


def migration_scripts(folder: str) -> list[tuple[int, str]]:
    """The numbered SQL scripts in server/storage/<folder>/ (NNNN_name.sql), in order."""
    found = []
    for entry in resources.files(__package__).joinpath(folder).iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)
