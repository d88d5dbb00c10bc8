"""The mail desk: assignment, threads, replies, handover and expiry, over the storage interface.

The desk never sees a token, a plaintext or a private key. It stores what the
pages (or the mail gateway) send: a hash of the lookup key, public keys,
ciphertext, signatures and wrapped message keys, with times in whole hours or days.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

import crypto

from ..config import Config
from ..errors import BadRequest, ConfigError, Conflict, NotFound, OorError, crypto_refusal, decode_field
from ..live.assignments import Assignment, Assignments, LocalAssignments
from ..stats import Stats
from ..storage import Count, MailMessage, MailThread, Storage, ThreadConflict, Volunteer

# The protocol's sizes, from crypto (PROTOCOL.md 12.4): one rule, one place. Kept under
# these names because the gateway and the API description use them.
AUTHOR_SEEKER, AUTHOR_VOLUNTEER = crypto.AUTHOR_SEEKER, crypto.AUTHOR_VOLUNTEER
THREAD_ID_BYTES = crypto.MAIL_THREAD_ID_BYTES
WRAP_BYTES = crypto.MAIL_WRAP_BYTES
# A body is 0x01 || nonce(24) || AEAD of 256*k padded bytes (+16 tag), k = 1..129.
BODY_LENGTHS = crypto.MAIL_BODY_LENGTHS
ASSIGNMENT_SECONDS = 15 * 60


MAX_FIELD_CHARS = 50_000  # a base64 field's text, bounded before it is decoded


class NoMailVolunteer(OorError):
    """No account can take mail at all (none active with mail and keys), or too many new mails are
    in progress: the help-seeker is told to try later, or to call. Nobody being marked available
    is not a reason: a new mail then goes to an active mail volunteer all the same."""

    status = 503
    code = "no-mail-volunteer"
    key = "no_mail_volunteer"


def not_found() -> NotFound:
    # One answer for a wrong token and an unknown one.
    return NotFound("mail_code_unknown")


def b64_field(payload: dict[str, Any], key: str, length: int | None = None,
              lengths: frozenset[int] | None = None) -> bytes:
    """A binary field of a mail request (`decode_field`, bounded to MAX_FIELD_CHARS before decoding)."""
    return decode_field(payload, key, length, lengths=lengths, max_chars=MAX_FIELD_CHARS)


def message_from(payload: Any, author: int, signer: bytes, thread_id: bytes) -> MailMessage:
    """Parse a submitted message and check its signature with the submitting party's key:
    nobody can store a message in another's name, and malformed ciphertext is refused."""
    if not isinstance(payload, dict):
        raise BadRequest("message_missing", field="message")
    seq = payload.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= 10_000:
        raise BadRequest("seq_invalid", field="seq")
    message = MailMessage(seq=seq, author=author,
                          body=b64_field(payload, "body", lengths=BODY_LENGTHS),
                          signature=b64_field(payload, "signature", crypto.SIGNATURE_BYTES),
                          signer_public=signer,
                          seeker_wrap=b64_field(payload, "seeker_wrap", WRAP_BYTES),
                          volunteer_wrap=b64_field(payload, "volunteer_wrap", WRAP_BYTES))
    with crypto_refusal(BadRequest, "signature_invalid", field="signature"):
        crypto.verify_mail_signature(thread_id, seq, author, message.body, message.signature, signer)
    return message


def message_from_sealed(seq: int, author: int, sealed: crypto.SealedMail, signer: bytes) -> MailMessage:
    """A message sealed on this side (the mail gateway), in the storage's form."""
    return MailMessage(seq=seq, author=author, body=sealed.body, signature=sealed.signature, signer_public=signer,
                       seeker_wrap=sealed.seeker_wrap, volunteer_wrap=sealed.volunteer_wrap)


def wraps_from(payload: dict[str, Any]) -> dict[int, bytes]:
    items = payload.get("wraps")
    if not isinstance(items, list) or not 1 <= len(items) <= 10_000:
        raise BadRequest("wraps_missing", field="wraps")
    wraps: dict[int, bytes] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("seq"), int):
            raise BadRequest("wraps_invalid", field="wraps")
        wraps[item["seq"]] = b64_field(item, "wrap", WRAP_BYTES)
    return wraps


# The key proof of an account's keys (TransparencyLog.proof_for), or None if the log has none usable.
ProofFor = Callable[[bytes], dict[str, Any] | None]


def volunteer_keys(v: Volunteer, proof_for: ProofFor | None = None) -> dict[str, Any]:
    """What a page needs to encrypt to a volunteer and check their keys; with `proof_for`, also the key
    proof a help-seeker's page checks before it encrypts to them (`proof`, null if the log has none)."""
    keys: dict[str, Any] = {"name": v.name, "x25519_public": crypto.b64encode(v.x25519_public),
                            "ed25519_public": crypto.b64encode(v.ed25519_public),
                            "certificate": crypto.b64encode(v.x25519_certificate or b"")}
    if proof_for is not None:
        keys["proof"] = proof_for(v.account_id) if v.account_id else None
    return keys


def message_json(m: MailMessage, wrap: str) -> dict[str, Any]:
    return {"seq": m.seq, "author": m.author, "body": crypto.b64encode(m.body),
            "signature": crypto.b64encode(m.signature), "signer": crypto.b64encode(m.signer_public),
            "wrap": crypto.b64encode(m.seeker_wrap if wrap == "seeker" else m.volunteer_wrap), "hour": m.hour}


LABEL_PREFIX = b"oor mail thread label:"  # not a protocol label (crypto/labels.py): a display name only


def thread_label(thread_id: bytes) -> str:
    """A thread's short, stable name for the volunteer's page ("Mail 7F3K"): the first 4 characters
    (20 bits) of the RFC 4648 base32 of SHA-256(LABEL_PREFIX || thread id). Never a list position,
    and no bits of the id itself (the label appears in tab titles and notifications)."""
    return base64.b32encode(hashlib.sha256(LABEL_PREFIX + thread_id).digest()).decode()[:4]


NOTE_FIELD_CHARS = 12_000  # a note's base64 text, bounded before it is decoded (its bytes: crypto.MAIL_NOTE_LENGTHS)


def note_field(payload: dict[str, Any]) -> bytes | None:
    """A thread's sealed note (PROTOCOL.md 12.10) from a request, or None to have none."""
    if payload.get("note") is None:
        return None
    note = decode_field(payload, "note", lengths=crypto.MAIL_NOTE_LENGTHS, max_chars=NOTE_FIELD_CHARS)
    with crypto_refusal(BadRequest, "note_invalid", field="note"):
        crypto.check_mail_note(note)
    return note


MAIL_DERIVATION_KEY = "mail-derivation"


def mail_derivation(config: Config) -> bytes:
    """What a help-seeker's return code is turned into keys with (PROTOCOL.md 12.2): public settings."""
    return f"{config.deployment_id}|{config.kdf_opslimit}|{config.kdf_memlimit_kib}".encode()


async def guard_mail_derivation(storage: Storage, config: Config) -> None:
    """Refuse to start when the settings that turn return codes into keys changed while threads exist.

    Every stored thread is found by a key derived from its code with `deployment_id` and the
    Argon2id settings (PROTOCOL.md [M-12.2-1]); with other values every code silently stops
    working, and its help-seeker never reads the answer. So the values in use are kept in the
    database, and a change is taken only while no thread exists."""
    wanted = mail_derivation(config)
    stored = await storage.get_or_create_meta(MAIL_DERIVATION_KEY, wanted)
    if stored == wanted:
        return
    threads = await storage.mail_thread_count()
    if threads:
        deployment_id, ops, mem = stored.decode().split("|")
        raise ConfigError(
            f"deployment_id, kdf_opslimit and kdf_memlimit_kib: changed while {threads} mail threads exist, whose "
            f"return codes were turned into keys with deployment_id = {deployment_id!r}, kdf_opslimit = {ops}, "
            f"kdf_memlimit_kib = {mem}; with other values every one of those codes would stop working. "
            "Set those values back (the threads expire after mail_retention_days without activity).")
    await storage.set_meta(MAIL_DERIVATION_KEY, wanted)


class MailDesk:
    def __init__(self, storage: Storage, config: Config, clock: Callable[[], int],
                 monotonic: Callable[[], float] = time.monotonic, *, stats: Stats | None = None,
                 assignments: Assignments | None = None) -> None:
        self.storage, self.config, self.clock, self.monotonic = storage, config, clock, monotonic
        self.stats = stats  # anonymous daily counts: a new thread, a thread's first reply
        # Assignments in progress: in this process (the default), or in Redis when several nodes
        # share the work (`server.live.live_ctx` puts a RedisAssignments here).
        self.assignments: Assignments = assignments if assignments is not None else LocalAssignments(monotonic)
        self.recent: deque[float] = deque()  # when recent threads were made (memory only): the load
        self.nobody_for_mail: float | None = None  # when the gateway last found no mail volunteer
        # Called after this process changed a thread (server/mail/inbox.py looks again at once).
        self.listeners: list[Callable[[], None]] = []

    def changed(self) -> None:
        for listener in self.listeners:
            listener()

    def load(self) -> int:
        """Threads made in the last ten minutes; the proof-of-work for new mail rises with it."""
        horizon = self.monotonic() - 600
        while self.recent and self.recent[0] < horizon:
            self.recent.popleft()
        return len(self.recent)

    def hour(self) -> int:
        return self.clock() // 3600

    def day(self) -> int:
        return self.clock() // 86400

    def expires_on(self, thread: MailThread) -> str:
        from datetime import date, timedelta
        return (date(1970, 1, 1) + timedelta(days=thread.last_activity_day + self.config.mail_retention_days)).isoformat()

    # -- help-seekers ------------------------------------------------------------------

    async def assign(self) -> tuple[str, bytes, Volunteer]:
        """Choose the mail volunteer with the fewest open threads (available ones first, else any
        active account that can take mail) and reserve a thread id."""
        volunteer = await self.storage.mail_volunteer_with_fewest_threads()
        if volunteer is None:
            raise NoMailVolunteer()
        token = crypto.new_token(24)
        thread_id = secrets.token_bytes(THREAD_ID_BYTES)
        if not await self.assignments.add(token, thread_id, volunteer.id, ASSIGNMENT_SECONDS):
            raise NoMailVolunteer()  # as many in progress as memory allows: try again later
        return token, thread_id, volunteer

    async def create(self, payload: dict[str, Any]) -> MailThread:
        token = payload.get("assignment")
        assignment: Assignment | None = await self.assignments.get(token) if isinstance(token, str) else None
        if assignment is None:
            raise BadRequest("assignment_expired", field="assignment")
        lookup = b64_field(payload, "lookup_key", 32)
        x_pub = b64_field(payload, "seeker_x25519_public", 32)
        ed_pub = b64_field(payload, "seeker_ed25519_public", 32)
        first = message_from(payload.get("message"), AUTHOR_SEEKER, ed_pub, assignment.thread_id)
        if first.seq != 1:
            raise BadRequest("seq_invalid", field="seq")
        # Spent only now, once the request is known to be good: a malformed one leaves it for a retry.
        # `take` is atomic, so of two requests with one token (on any node), one goes on.
        if await self.assignments.take(token) is None:
            raise BadRequest("assignment_expired", field="assignment")
        try:
            return await self.store_new_thread(assignment.thread_id, assignment.volunteer_id, lookup, x_pub, ed_pub,
                                               first)
        except Exception:
            await self.assignments.put_back(token, assignment)  # not stored: the help-seeker may try again
            raise

    def _new_thread(self, thread_id: bytes, volunteer_id: int, lookup_key: bytes, x_pub: bytes,
                    ed_pub: bytes) -> MailThread:
        hour, day = self.hour(), self.day()
        return MailThread(id=thread_id, lookup_hash=crypto.mailbox_lookup_hash(lookup_key),
                          seeker_x25519_public=x_pub, seeker_ed25519_public=ed_pub,
                          volunteer_id=volunteer_id, state="open", assigned_hour=hour, opened=False,
                          waiting_since_hour=hour, unread_volunteer=True, unread_seeker=False,
                          last_activity_day=day)

    async def store_new_thread(self, thread_id: bytes, volunteer_id: int, lookup_key: bytes, x_pub: bytes,
                               ed_pub: bytes, first: MailMessage) -> MailThread:
        """Store a new thread from the site, with its first message and its count, in one transaction."""
        thread = self._new_thread(thread_id, volunteer_id, lookup_key, x_pub, ed_pub)
        try:
            await self.storage.create_thread(thread, first, self._offered())
        except ThreadConflict:
            raise Conflict("mail_code_taken") from None
        self.recent.append(self.monotonic())
        self.changed()
        return thread

    async def store_gateway_thread(self, thread_id: bytes, lookup_key: bytes, x_pub: bytes, ed_pub: bytes,
                                   seal: Callable[[Volunteer], MailMessage]) -> MailThread | None:
        """The gateway's new thread: the volunteer with the fewest open threads is chosen, `seal`
        encrypts the first message to them, and thread, message and count are stored, all in one
        storage transaction. None (nothing stored) only if no account can take mail at all: a
        volunteer marked available comes first, else any active account that can take mail.

        `seal` runs on the storage thread while it holds the write lock: it must be quick."""
        def make(volunteer: Volunteer) -> tuple[MailThread, MailMessage]:
            return self._new_thread(thread_id, volunteer.id, lookup_key, x_pub, ed_pub), seal(volunteer)
        try:
            stored = await self.storage.create_thread_for_fewest(make, self._offered())
        except ThreadConflict:
            raise Conflict("mail_code_taken") from None
        if stored is None:
            self.nobody_for_mail = self.monotonic()
            return None
        self.nobody_for_mail = None
        self.recent.append(self.monotonic())
        self.changed()
        return stored[0]

    async def mail_possible(self) -> bool:
        """Whether a new mail can be taken now: some active account can take mail (whether or not
        anyone is marked available). The page says so before the help-seeker starts writing."""
        return await self.storage.mail_can_be_taken()

    def nobody_for_mail_lately(self, seconds: float = 1.0) -> bool:
        """Whether the last attempt, less than `seconds` ago, found no account for mail: the gateway
        then refuses at once rather than derive keys for a mail it cannot store. Only a hint; the
        storage transaction decides."""
        return self.nobody_for_mail is not None and self.monotonic() - self.nobody_for_mail < seconds

    def _offered(self) -> Count | None:
        # Counted in the same transaction as the thread: the site and the gateway both come through here.
        return self.stats.mail_offered_count() if self.stats is not None else None

    async def seeker_thread(self, payload: dict[str, Any]) -> MailThread:
        lookup = b64_field(payload, "lookup_key", 32)
        thread = await self.storage.thread_by_lookup(crypto.mailbox_lookup_hash(lookup))
        if thread is None:
            raise not_found()
        return thread

    async def seeker_view(self, thread: MailThread, proof_for: ProofFor | None = None) -> dict[str, Any]:
        """The thread as the help-seeker's page needs it; marks replies read and counts as activity.

        With `proof_for`: the key proof of the volunteer a follow-up is encrypted to (`volunteer.proof`), of
        the volunteer proposed for a reassignment (`reassign.proof`), and of every distinct key that signed a
        reply (`signer_proofs`: {b64 Ed25519 key: proof}, only those the log can prove now; a revoked
        account's old replies have none)."""
        volunteer = await self.storage.volunteer_by_id(thread.volunteer_id) if thread.volunteer_id else None
        messages = await self.storage.messages(thread.id)
        answer: dict[str, Any] = {
            "thread": crypto.b64encode(thread.id), "state": thread.state,
            "expires": self.expires_on(thread), "reply_hours": self.config.mail_reply_expected_hours,
            "volunteer": volunteer_keys(volunteer, proof_for) if volunteer else None,
            "messages": [message_json(m, "seeker") for m in messages],
        }
        if proof_for is not None:
            answer["signer_proofs"] = await self._signer_proofs(messages, volunteer, proof_for)
        if thread.state == "needs-volunteer":
            candidate = await self.storage.mail_volunteer_with_fewest_threads(exclude=thread.volunteer_id)
            answer["reassign"] = volunteer_keys(candidate, proof_for) if candidate else None
        await self.storage.update_thread(thread.id, unread_seeker=0, last_activity_day=self.day())
        return answer

    async def _signer_proofs(self, messages: list[MailMessage], volunteer: Volunteer | None,
                             proof_for: ProofFor) -> dict[str, Any]:
        signers = {m.signer_public for m in messages if m.author == AUTHOR_VOLUNTEER}
        if not signers:
            return {}
        accounts = {volunteer.ed25519_public: volunteer} if volunteer is not None else {}
        if signers - accounts.keys():  # a reply by an earlier volunteer (a handover): look them up
            accounts.update({v.ed25519_public: v for v in await self.storage.list_volunteers()
                             if v.ed25519_public in signers})
        proofs: dict[str, Any] = {}
        for signer in sorted(signers):
            account = accounts.get(signer)
            proof = proof_for(account.account_id) if account is not None and account.account_id else None
            if proof is not None:
                proofs[crypto.b64encode(signer)] = proof
        return proofs

    async def seeker_write(self, thread: MailThread, payload: dict[str, Any]) -> None:
        if thread.state == "needs-volunteer":
            raise Conflict("choose_new_volunteer_first")
        message = message_from(payload.get("message"), AUTHOR_SEEKER, thread.seeker_ed25519_public, thread.id)
        await self._append(thread, message)

    async def reassign(self, thread: MailThread, payload: dict[str, Any]) -> Volunteer:
        """The help-seeker's page re-wrapped every message key for a newly chosen volunteer."""
        name = payload.get("volunteer")
        volunteer = await self.storage.volunteer_by_name(name) if isinstance(name, str) else None
        if (thread.state != "needs-volunteer" or volunteer is None or not volunteer.active
                or not volunteer.can_mail or volunteer.x25519_certificate is None):
            raise Conflict("choose_volunteer_again")
        await self._assign(thread, volunteer, wraps_from(payload))
        return volunteer

    async def delete(self, thread: MailThread) -> None:
        await self.storage.delete_thread(thread.id)  # its note goes with its row
        self.changed()

    # -- volunteers --------------------------------------------------------------------

    async def inbox(self, volunteer: Volunteer) -> list[dict[str, Any]]:
        hour = self.hour()
        rows = await self.storage.inbox(volunteer.id)
        details = await self.storage.inbox_details(volunteer.id)
        answer = []
        for t in rows:
            unread_count, last_hour = details.get(t.id, (int(t.unread_volunteer), None))
            answer.append({
                "thread": crypto.b64encode(t.id), "label": thread_label(t.id), "unread": t.unread_volunteer,
                "unread_count": unread_count, "last_hour": last_hour,
                "waiting_hours": None if t.waiting_since_hour is None else max(0, hour - t.waiting_since_hour),
                "expires": self.expires_on(t)})
        return answer

    async def volunteer_thread(self, volunteer: Volunteer, thread_key: str) -> MailThread:
        with crypto_refusal(NotFound):  # a malformed id is one nobody has
            thread_id = crypto.b64decode(thread_key, length=THREAD_ID_BYTES)
        thread = await self.storage.thread_by_id(thread_id)
        if thread is None or thread.volunteer_id != volunteer.id:
            raise NotFound()
        return thread

    async def volunteer_view(self, thread: MailThread) -> dict[str, Any]:
        await self.storage.update_thread(thread.id, opened=1, unread_volunteer=0, unread_count=0)
        self.changed()
        note = await self.storage.thread_note(thread.id)
        return {"thread": crypto.b64encode(thread.id), "label": thread_label(thread.id), "state": thread.state,
                "seeker_x25519_public": crypto.b64encode(thread.seeker_x25519_public),
                "seeker_ed25519_public": crypto.b64encode(thread.seeker_ed25519_public),
                "note": crypto.b64encode(note) if note is not None else None,
                "messages": [message_json(m, "volunteer") for m in await self.storage.messages(thread.id)]}

    async def set_note(self, volunteer: Volunteer, thread: MailThread, payload: dict[str, Any]) -> None:
        """Keep the volunteer's sealed note on the thread, or delete it (`note: null`). The server checks
        only its form; only the volunteer's page can open it (PROTOCOL.md 12.10)."""
        note = note_field(payload)
        if not await self.storage.set_thread_note(thread.id, volunteer.id, note):
            raise Conflict("thread_changed_reload")

    async def reply(self, volunteer: Volunteer, thread: MailThread, payload: dict[str, Any]) -> None:
        message = message_from(payload.get("message"), AUTHOR_VOLUNTEER, volunteer.ed25519_public, thread.id)
        await self._append(thread, message)

    async def handled(self, thread: MailThread) -> None:
        await self.storage.update_thread(thread.id, state="handled")
        self.changed()

    async def colleagues(self, volunteer: Volunteer) -> list[dict[str, str]]:
        return [volunteer_keys(v) for v in await self.storage.list_volunteers()
                if v.active and v.can_mail and v.x25519_certificate is not None and v.id != volunteer.id]

    async def hand_over(self, volunteer: Volunteer, thread: MailThread, payload: dict[str, Any]) -> Volunteer:
        name = payload.get("to")
        colleague = await self.storage.volunteer_by_name(name) if isinstance(name, str) else None
        if (colleague is None or colleague.id == volunteer.id or not colleague.active or not colleague.can_mail
                or colleague.x25519_certificate is None):
            raise BadRequest("colleague_cannot_mail", field="to")
        # The note goes along only if the page sealed it anew for the colleague; otherwise it is dropped.
        await self._assign(thread, colleague, wraps_from(payload), note_field(payload))
        return colleague

    # -- shared ------------------------------------------------------------------------

    async def _append(self, thread: MailThread, message: MailMessage) -> None:
        try:
            # A thread's first reply is counted in the same transaction: only its whole hours of
            # waiting, as a bucket of the day's count, never the thread.
            await self.storage.add_message(thread.id, message, self.hour(), self.day(), self.config.mail_max_messages,
                                           self.stats.mail_first_reply_count if self.stats is not None else None)
        except ThreadConflict:
            raise Conflict("thread_changed_reload") from None
        self.changed()

    async def _assign(self, thread: MailThread, volunteer: Volunteer, wraps: dict[int, bytes],
                      note: bytes | None = None) -> None:
        try:
            await self.storage.assign_thread(thread.id, volunteer.id, wraps, self.hour(), thread.volunteer_id, note)
        except ThreadConflict:
            raise Conflict("thread_changed_retry") from None
        self.changed()

    async def housekeeping(self) -> None:
        """Expire quiet threads and flag threads that need a new volunteer."""
        expired = await self.storage.expire_threads(self.day() - self.config.mail_retention_days)
        moved = await self.storage.mark_needing_volunteer(self.hour(), self.config.mail_pickup_hours)
        if expired or moved:
            self.changed()


MAIL_DESK: web.AppKey[MailDesk] = web.AppKey("mail_desk")
