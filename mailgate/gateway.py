"""The SMTP side: accept, encrypt, store, answer 250, then mail the token back once and forget.

Order matters for what a crash can cost:
  1. the message is parsed in a worker process (`isolation.py`: its cost is the sender's
     choice, so never on the event loop) and encrypted in memory;
  2. the thread is committed in one transaction;
  3. only then is `250` answered (a crash before that leaves nothing, and the
     sending server retries, as SMTP intends);
  4. the return mail with the token waits in memory and is retried for a
     bounded time; a crash before it is delivered loses it, and the thread,
     which nobody can then open but the volunteer, simply expires. A graceful
     stop (SIGTERM, Ctrl-C) first stops taking mail, then tries every waiting
     return mail once more for at most `smtp_drain_seconds` (`drain`), and
     logs how many went out and how many were lost: counts, nothing else.
The sender's address, the token and the keys derived from it live only in
that in-memory return mail and in local variables; nothing of them is logged
or stored.

Automatic mail (bounces, out-of-office replies, lists, delivery reports, and
anything from the gateway's own addresses) is answered 250 and dropped: no
thread and no return mail, so two robots can never answer each other for ever.
Return mails are bounded per recipient (a keyed tag of the address, in memory)
so that forged senders cannot turn the gateway into a mailer aimed at a victim.

The intake raises; `smtp_reply` alone turns what it raised (a mail we cannot read,
a refusal of the desk, a volunteer without a key, anything unexpected) into the
SMTP reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import quopri
import re
import ssl
from concurrent.futures import ThreadPoolExecutor
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import formatdate, make_msgid
from typing import Any

import aiosmtplib
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

import crypto
from server.mail.gateway_port import (AUTHOR_SEEKER, CONFIG, GUARD, LOG, MAIL_DESK, AddressGuard, Config, Conflict,
                                      MailDesk, MailMessage, Volunteer, message_from_sealed, network_of, trust_config)

from .isolation import ParsePool
from .parse import Unreadable

log = logging.getLogger("oor.mailgate")
TEMPORARY_PROBLEM = "451 4.3.0 Tijdelijk probleem; probeer het later / Temporary problem, try again later"
# Only when no account can take mail at all (none active with mail and keys): nobody being marked
# "available for mail" is no reason to refuse, the mail then goes to an active mail volunteer all the
# same (MailDesk.store_gateway_thread). Temporary, so the sending server keeps the mail and tries again
# (for days, as SMTP servers do) and it arrives once an account can take it; it is never stored unread.
NO_MAIL_ACCOUNT = ("451 4.3.2 Hier kan nu niemand mail aannemen; probeer het later of bel 113 / "
                   "No one can take mail here now; try again later or call 113")
RETRY_FIRST_SECONDS = 30.0
# Return mails waiting in memory (the relay is down or slow). Past this, new mail with a sender is
# refused with 451: its sender's server keeps it and retries, rather than the gateway storing a
# thread whose code it cannot send, or memory growing without bound.
OUTBOX_MAX = 10_000
COALESCE_SECONDS = 0.5
# Every blocking step with the relay (connect, each command) waits at most this long.
RELAY_TIMEOUT_SECONDS = 30.0
# At a graceful stop: how long waiting return mails are tried before they are dropped, unless
# `smtp_drain_seconds` says otherwise; and the pause between two tries while the relay refuses.
DRAIN_SECONDS = 10
DRAIN_RETRY_SECONDS = 1.0
# Of that time, a mail still being taken in (parsing, key derivation, storage) may use at most this share,
# so that its own return mail, and the others, still get a chance.
INTAKE_SHARE = 0.5
# A mailbox we can send a return mail to: printable local part (no quotes or controls), a dotted domain.
DAY_SECONDS = 24 * 3600
DROPPED = "250 2.0.0 Automatisch bericht; niet doorgegeven / Automatic message; not passed on"
NO_CODE_AGAIN = ("250 2.0.0 Ontvangen; vandaag kunnen we je geen code meer mailen, schrijf ons via {url} "
                 "/ Received; we cannot mail you a code again today, write to us at {url}")
# Senders that are machines by convention (RFC 3834 section 2 names MAILER-DAEMON, LISTSERV, majordomo
# and "-request" addresses; "owner-" is the list owner's). Bounce addresses ("bounces+…") are left
# out on purpose: real bounces come from the null sender, and a person may well be called that.
_ROBOT_LOCAL = re.compile(r"mailer[-_.]?daemon|postmaster|mail[-_.]?daemon|listserv|majordomo|owner-.+|.+-request",
                          re.IGNORECASE)
SENDER = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u00a0-\uffff]{1,64}@[A-Za-z0-9\-\u00a0-\uffff]+"
                    r"(\.[A-Za-z0-9\-\u00a0-\uffff]+)*")


class NoKey(Exception):
    """The volunteer chosen for a mail has no certified key to encrypt it to, or none the log vouches for.

    Raised inside the storage transaction (by `seal`), which then stores nothing; the
    sender's server is asked to try again later, as for any temporary problem."""


def smtp_reply(exc: Exception) -> str:
    """The one place where what the intake raised becomes its SMTP reply (every string as it always was)."""
    if isinstance(exc, Unreadable):
        return exc.reply  # the parser's own 55x (or 451) reply, naming what it could not take
    if isinstance(exc, (Conflict, NoKey)):
        return TEMPORARY_PROBLEM  # nothing was stored: the retry will make a new thread
    # Anything else is a bug or a broken dependency: logged (types and code locations; nothing
    # from the message is in the record), and the sender's server tries again later.
    log.error("mail intake failed", exc_info=exc)
    return TEMPORARY_PROBLEM


@dataclass
class ReturnMail:
    """One pending return mail. It holds the sender's address and the token: memory only."""

    to: str
    token: str
    attachments: int
    expires: str
    give_up_at: float
    attempts: int = 0
    next_try: float = 0.0


def derivation_threads() -> int:
    """Threads for the production Argon2id of new mail: one per core this process may run on.

    The loop's default pool has cores + 4 threads: on two cores six 64 MiB derivations at once, which
    fill both cores, hold 384 MiB and, measured, derive fewer keys a second than two threads do
    (bench/README.md, "At production cost": 22.7 against 26.9). One per core bounds the memory to
    64 MiB a core, whatever a flood of mail asks.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass
class Gateway:
    desk: MailDesk
    config: Config
    guard: AddressGuard
    outbox: list[ReturnMail] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    verified: set[tuple[bytes, bytes, bytes]] = field(default_factory=set)
    pool: ParsePool = field(default_factory=ParsePool)
    # The Argon2id derivations of new mail (libsodium releases the GIL): bounded, see derivation_threads.
    derivations: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=derivation_threads(), thread_name_prefix="oor-mail-kdf"))
    # Keyed tags of return-mail recipients, rotating daily (a 24-hour window needs a key that lives a day).
    recipients: AddressGuard = field(default_factory=lambda: AddressGuard(period_seconds=DAY_SECONDS))
    dropped: int = 0
    # Set at a graceful stop: the sender finishes the round it is in and leaves the rest to `drain`.
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    # SMTP sessions that are open, and how many of them are in handle_DATA: closed and awaited at a stop.
    sessions: weakref.WeakSet[SMTP] = field(default_factory=weakref.WeakSet)
    taking: int = 0
    delivered: int = 0  # return mails the relay took, since the start (a count, for the shutdown line)
    # The transparency log and the pages' trust configuration (PROTOCOL.md 14): the gateway seals only to keys
    # whose key proof verifies, as a help-seeker's page would. None: a gateway without a log (never in `oor serve`).
    log: Any = None
    trust: dict[str, Any] | None = None
    # (checkpoint note, ed25519, x25519) already checked: a proof's verdict for given keys and note never changes.
    vouched: set[tuple[str, bytes, bytes]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.busy = asyncio.Semaphore(self.config.smtp_concurrency)
        # The relay connection in use, so that a stop can close it (abort_relay).
        self._relay_client: aiosmtplib.SMTP | None = None
        self._relay_aborted = False

    def check_proof(self, volunteer: Volunteer) -> None:
        """Raise NoKey unless the log's key proof vouches for exactly this volunteer's keys (PROTOCOL.md 14).

        Runs inside the storage transaction (`seal`): a few Ed25519 checks and hashes, once per checkpoint."""
        if self.log is None or self.trust is None:
            return
        proof = self.log.proof_for(volunteer.account_id) if volunteer.account_id else None
        if proof is None:
            raise NoKey()
        seen = (proof["checkpoint"], volunteer.ed25519_public, volunteer.x25519_public)
        if seen in self.vouched:
            return
        try:
            crypto.verify_key_proof(self.trust, proof, ed25519_public=volunteer.ed25519_public,
                                    x25519_public=volunteer.x25519_public, now=int(time.time()))
        except crypto.CryptoError:
            raise NoKey() from None
        if len(self.vouched) > 4096:  # new checkpoints come every hour or so: forget old verdicts now and then
            self.vouched.clear()
        self.vouched.add(seen)

    def robot_sender(self, sender: str | None) -> bool:
        """Whether the envelope sender is a machine we must never answer: the null sender (bounces),
        MAILER-DAEMON-style names, and the gateway's own addresses (a loop)."""
        if not sender or sender == "<>":
            return True
        address = sender.lower()
        if address in self.config.gateway_addresses or address == self.config.return_mail_from.lower():
            return True
        return bool(_ROBOT_LOCAL.fullmatch(address.rsplit("@", 1)[0]))

    # -- aiosmtpd handler hooks --------------------------------------------------------

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if address and address != "<>" and not SENDER.fullmatch(address):
            # A sender we could not mail the token to (control characters, no domain): refuse it now,
            # rather than accept the mail and fail later when composing the return mail.
            return "553 5.1.7 Ongeldig afzenderadres / Invalid sender address"
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        # Per address and per network (/24, /56): many addresses in one network count as one source.
        limit = self.config.smtp_per_minute
        per_address = await self.guard.allow("smtp", self.guard.tags(peer), limit, 60)
        per_network = await self.guard.allow("smtp-net", self.guard.tags(network_of(peer)), limit, 60)
        if not (per_address and per_network):
            return "451 4.7.1 Te veel berichten; probeer het later / Too many messages, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() not in self.config.gateway_addresses:
            return "550 5.1.1 Onbekende ontvanger / No such recipient here"
        if address.lower() not in (a.lower() for a in envelope.rcpt_tos):
            envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.taking += 1
        try:
            async with self.busy:
                try:
                    return await self._take(envelope)
                except Exception as exc:
                    return smtp_reply(exc)
        finally:
            self.taking -= 1

    # -- intake ------------------------------------------------------------------------

    async def _take(self, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        if self.robot_sender(envelope.mail_from):
            return self._drop()
        incoming = await self.pool.parse(raw, self.config.mail_max_chars)
        if incoming.automatic is not None:
            return self._drop()
        if self.desk.nobody_for_mail_lately():
            return NO_MAIL_ACCOUNT
        if len(self.outbox) >= OUTBOX_MAX:
            return "451 4.3.1 Het is nu te druk; probeer het later / Too busy right now, try again later"
        token = crypto.new_token_code()
        thread_id = crypto.new_mail_thread_id()
        # Argon2id takes a while at production cost: off the event loop, on a thread that needs the interpreter
        # once (one call into libsodium, which releases the GIL). The rest has a fixed cost, bounded by
        # mail_max_chars, and is done here: the mailbox's subkeys and key pairs, and the first message
        # encrypted and signed, all but the wrap for the volunteer, who is chosen in the storage transaction.
        # Every time a helper thread takes the interpreter back costs far more than this work (bench/README.md,
        # "Issue 16, session 8"); the derivation thread now takes it once a mail, not eight times.
        master = await asyncio.get_running_loop().run_in_executor(
            self.derivations, crypto.mailbox_master_key, token, self.config.deployment_id,
            crypto.KdfParams(self.config.kdf_opslimit, self.config.kdf_memlimit_bytes))
        mailbox = crypto.mailbox_from_master(master)
        del master
        prepared = crypto.prepare_mail(thread_id, 1, AUTHOR_SEEKER, incoming.content().encode("utf-8"), mailbox,
                                       mailbox.x25519_public)

        def seal(volunteer: Volunteer) -> MailMessage:
            # Runs in the storage transaction that chose this volunteer (one worker-thread hop for
            # choice, the message key's wrap and commit). Seal only to a key vouched for by the volunteer's
            # identity key (public data: the verdict for a given triple never changes, so it is remembered).
            if volunteer.x25519_certificate is None:
                raise NoKey()
            triple = (volunteer.ed25519_public, volunteer.x25519_public, volunteer.x25519_certificate)
            if triple not in self.verified:
                crypto.verify_key_certificate(*triple)
                self.verified.add(triple)
            self.check_proof(volunteer)
            sealed = prepared.for_volunteer(volunteer.x25519_public)
            return message_from_sealed(1, AUTHOR_SEEKER, sealed, mailbox.ed25519_public)

        try:
            thread = await self.desk.store_gateway_thread(thread_id, mailbox.lookup_key, mailbox.x25519_public,
                                                          mailbox.ed25519_public, seal)
        except NoKey:
            if self.log is None:
                raise
            # Storage may have marked the keys ready a moment before this process's log saw the checkpoint
            # (log_refresh_seconds): look again once (nothing was stored), rather than refuse the mail.
            await self.log.refresh()
            thread = await self.desk.store_gateway_thread(thread_id, mailbox.lookup_key, mailbox.x25519_public,
                                                          mailbox.ed25519_public, seal)
        if thread is None:
            return NO_MAIL_ACCOUNT
        sender = envelope.mail_from or ""
        # At most smtp_returns_per_day codes to one address: a forged sender gets a few mails, not a flood.
        # Past it the mail is still taken (the person may be real and write again), but no code is sent.
        if not await self.recipients.allow_recent("return", self.recipients.tags(sender.lower()),
                                            self.config.smtp_returns_per_day, DAY_SECONDS):
            return NO_CODE_AGAIN.format(url=f"{self.config.base_url}/mail")
        self.outbox.append(ReturnMail(sender, token, incoming.attachments, self.desk.expires_on(thread),
                                      time.monotonic() + self.config.smtp_relay_retry_minutes * 60))
        self.wake.set()
        return "250 2.0.0 Ontvangen; je krijgt je code per mail / Received; your code follows by mail"

    def _drop(self) -> str:
        """Automatic mail: accepted (a refusal would itself be a bounce) and forgotten."""
        self.dropped += 1
        return DROPPED

    # -- return mail ----------------------------------------------------------------------

    def compose(self, pending: ReturnMail) -> bytes:
        """A neutral return mail: the token, where to use it, when to expect an answer. Not a word of the original.

        Built as bytes by hand (fixed headers, quoted-printable UTF-8 text) rather than with
        `EmailMessage`, whose header objects cost more than the rest of the intake together. The only
        value from outside is the recipient, which `handle_MAIL` has checked against SENDER (no CR/LF).
        """
        if not SENDER.fullmatch(pending.to):
            raise ValueError("unsendable recipient")
        url = f"{self.config.base_url}/mail/terug"
        hours = self.config.mail_reply_expected_hours
        note_nl = ("\nBijlagen bewaren we niet; je bijlage is niet doorgestuurd.\n" if pending.attachments else "")
        note_en = ("\nWe do not keep attachments; yours was not passed on.\n" if pending.attachments else "")
        text = (
            "Je bericht is goed aangekomen bij Luisterend Oor.\n\n"
            f"Je persoonlijke code:\n\n    {crypto.format_token(pending.token)}\n\n"
            f"Lees het antwoord op {url} met deze code. Je kunt binnen ongeveer {hours} uur een antwoord "
            f"verwachten. Je berichten worden bewaard tot en met {pending.expires}.\n"
            f"{note_nl}"
            "We sturen antwoorden nooit per e-mail: zo blijft je gesprek alleen tussen jou en je vrijwilliger.\n"
            "Heb je nu direct hulp nodig? Bel 113 (of 0800-0113) of bij gevaar 112.\n\n"
            "----\n\n"
            "Your message has reached Luisterend Oor.\n\n"
            f"Your personal code:\n\n    {crypto.format_token(pending.token)}\n\n"
            f"Read the answer at {url} with this code. You can expect an answer within about {hours} hours. "
            f"Your messages are kept until {pending.expires}.\n"
            f"{note_en}"
            "We never send answers by e-mail, so your conversation stays between you and your volunteer.\n"
            "Need help right now? Call 113 (or 0800-0113), or 112 in an emergency.\n")
        headers = (f"From: Luisterend Oor <{self.config.return_mail_from}>\r\n"
                   f"To: {pending.to}\r\n"
                   "Subject: Je bericht is ontvangen / Your message was received\r\n"
                   f"Date: {formatdate(usegmt=True)}\r\n"
                   f"Message-ID: {make_msgid(domain=self.config.mail_domain)}\r\n"
                   "Auto-Submitted: auto-replied\r\n"
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        encoded = quopri.encodestring(text.replace("\n", "\r\n").encode("utf-8"))
        # An address with non-ASCII characters (accepted under SMTPUTF8) goes out as UTF-8 headers,
        # sent with the SMTPUTF8 option (RFC 6531/6532); every other return mail is plain ASCII.
        return headers.encode("ascii" if pending.to.isascii() else "utf-8") + encoded

    def abort_relay(self) -> None:
        """Close a relay connection in use and make no new one: the end of a stop."""
        self._relay_aborted = True
        if self._relay_client is not None:
            self._relay_client.close()

    def _due(self, now: float) -> list[tuple[ReturnMail, bytes]]:
        """The return mails due at `now`, composed; one that cannot be composed is dropped."""
        due: list[tuple[ReturnMail, bytes]] = []
        for pending in [p for p in self.outbox if p.next_try <= now]:
            try:
                due.append((pending, self.compose(pending)))
            except Exception:
                # One unsendable return mail must never stop the others: drop it, say so, go on.
                self.outbox.remove(pending)
                log.warning("a return mail could not be composed and was dropped")
        return due

    async def _send(self, due: list[tuple[ReturnMail, bytes]], timeout: float) -> list[bool]:
        """Send due return mails over one relay connection; which ones went through.

        aiosmtplib on the event loop, the asyncio client made for this: no thread of our own to start per
        batch and to abandon at a stop (a connect on a thread could not be cut). Every step waits at most
        `timeout`; a stop that cancels this (its deadline) or calls `abort_relay` closes the connection.
        The relay's pace is not ours, but waiting for it costs the loop nothing."""
        relay = self.config.smtp_relay
        sent = [False] * len(due)
        if relay is None or self._relay_aborted:
            return sent
        client = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, timeout=max(0.1, timeout),
                                 local_hostname=self.config.mail_domain, use_tls=False, start_tls=False)
        self._relay_client = client
        try:
            await client.connect()
            if self.config.smtp_relay_starttls:
                await client.starttls(tls_context=ssl.create_default_context())
            if self.config.smtp_relay_user:
                await client.login(self.config.smtp_relay_user, self.config.smtp_relay_password)
            for index, (pending, message) in enumerate(due):
                try:
                    options = [] if pending.to.isascii() else ["SMTPUTF8"]
                    await client.sendmail(self.config.return_mail_from, [pending.to], message, mail_options=options)
                    sent[index] = True
                except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPDataError, aiosmtplib.SMTPSenderRefused,
                        aiosmtplib.SMTPNotSupported):
                    await client.rset()  # this one is refused (for now); the others can still go
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                await client.quit()
        except (OSError, aiosmtplib.SMTPException, asyncio.TimeoutError):
            pass  # the relay is unreachable or hung up: what was not sent is retried later
        finally:
            if self._relay_client is client:
                self._relay_client = None
            client.close()
        return sent

    async def deliver_forever(self) -> None:
        """Send return mails as they come, retrying with a growing pause; leave at `closing`."""
        while not self.closing.is_set():
            now = time.monotonic()
            due = self._due(now)
            if due:
                results = await self._send(due, RELAY_TIMEOUT_SECONDS)
                for (pending, _), sent in zip(due, results):
                    if sent:
                        # Delivered: the address and the token go with the last reference to them.
                        self.outbox.remove(pending)
                        self.delivered += 1
                        continue
                    pending.attempts += 1
                    pending.next_try = time.monotonic() + RETRY_FIRST_SECONDS * 2 ** min(pending.attempts - 1, 6)
                    if pending.next_try > pending.give_up_at:
                        self.outbox.remove(pending)
                        log.warning("a return mail could not be delivered within %d minutes and was dropped",
                                    self.config.smtp_relay_retry_minutes)
                del due
            if self.closing.is_set():
                return
            self.wake.clear()
            wait = min((p.next_try for p in self.outbox), default=now + 3600) - time.monotonic()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=max(0.05, wait))
            if self.closing.is_set():
                return
            # Let return mails gather for a moment: one relay session then carries many of them.
            await asyncio.sleep(COALESCE_SECONDS)

    async def drain(self, deadline: float) -> int:
        """At a stop: try every waiting return mail until `deadline` (time.monotonic()); then drop
        the rest, and answer how many that were. The intake is closed already: nothing new arrives."""
        while self.outbox and self.config.smtp_relay is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            due = self._due(float("inf"))  # every one of them, whatever its retry pause
            if not due:
                continue
            try:
                results = await asyncio.wait_for(self._send(due, remaining), timeout=remaining)
            except asyncio.TimeoutError:
                # The relay is too slow: wait_for has cancelled the send (its connection is closed); stop trying.
                self.abort_relay()
                break
            for (pending, _), ok in zip(due, results):
                if ok:
                    self.outbox.remove(pending)
                    self.delivered += 1
            del due
            if self.outbox:
                await asyncio.sleep(max(0.0, min(DRAIN_RETRY_SECONDS, deadline - time.monotonic())))
        lost = len(self.outbox)
        self.outbox.clear()  # the addresses and tokens go with the process; not one is written anywhere
        return lost

    async def close_intake(self, server: asyncio.AbstractServer, deadline: float) -> None:
        """Stop taking mail: no new connection; a mail being taken in may finish (until `deadline`),
        then every session is closed (a sender cut off before its 250 retries later, as SMTP intends)."""
        server.close()
        while self.taking and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            transport = session.transport
            if transport is not None and not transport.is_closing():
                transport.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=max(0.05, deadline - time.monotonic()))


def smtp_factory(gateway: Gateway, config: Config) -> Any:
    tls = None
    if config.smtp_tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(config.smtp_tls_cert, config.smtp_tls_key)

    def make() -> SMTP:
        session = SMTP(gateway, hostname=config.mail_domain, ident="Luisterend Oor",
                       data_size_limit=config.smtp_max_bytes, enable_SMTPUTF8=True, tls_context=tls, timeout=60,
                       command_call_limit={"MAIL": 20, "RCPT": 40, "DATA": 20, "*": 100})
        gateway.sessions.add(session)
        return session
    return make


def drain_seconds(config: Config) -> float:
    """How long a graceful stop may spend on waiting return mails (and on a mail being taken in)."""
    return float(config.smtp_drain_seconds)


async def gateway_context(app: web.Application) -> AsyncIterator[None]:
    """Run the gateway in the application's event loop, over the same storage (an aiohttp cleanup_ctx).

    `oor serve` runs it beside the web part; `oor serve --only smtp` runs the application's start-up
    and clean-up without an HTTP site, so that the gateway has the same storage, desk and counts."""
    config = app[CONFIG]
    # aiosmtpd logs every peer address and every command line (MAIL FROM included) on "mail.log".
    # Those would be a help-seeker's address and e-mail address: that logger stays silent.
    logging.getLogger("mail.log").disabled = True
    gateway = Gateway(app[MAIL_DESK], config, app[GUARD], log=app[LOG], trust=trust_config(config))
    app[GATEWAY] = gateway
    await gateway.pool.start()
    server = await asyncio.get_running_loop().create_server(smtp_factory(gateway, config),
                                                            config.smtp.host, config.smtp.port)
    sender = asyncio.create_task(gateway.deliver_forever())
    if config.smtp_relay is None:
        log.warning("no smtp_relay configured: senders of e-mail will not receive their token")
    yield
    budget = drain_seconds(config)
    started, delivered = time.monotonic(), gateway.delivered
    deadline = started + budget
    # 1. No new mail; a mail being taken in may finish, for part of the time, so that it gets its 250.
    await gateway.close_intake(server, started + budget * INTAKE_SHARE)
    gateway.pool.close()
    gateway.derivations.shutdown(wait=False, cancel_futures=True)  # intake is closed: nothing more to derive
    # 2. The sender finishes the round it is in (cut off at the deadline), then 3. every waiting
    # return mail is tried until the deadline.
    gateway.closing.set()
    gateway.wake.set()
    try:
        await asyncio.wait_for(sender, timeout=max(0.0, deadline - time.monotonic()))
    except asyncio.TimeoutError:  # wait_for has cancelled it (and closed its relay connection)
        gateway.abort_relay()
    lost = await gateway.drain(deadline)
    sent = gateway.delivered - delivered
    if sent or lost:
        # Counts only: never an address, a code, or which mail it was.
        (log.warning if lost else log.info)(
            "at shutdown %d waiting return mails were sent and %d could not be sent within %g seconds "
            "(those are dropped)", sent, lost, budget)


GATEWAY: web.AppKey[Gateway] = web.AppKey("mail_gateway")
