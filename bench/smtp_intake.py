"""SMTP intake benchmark: the real mail gateway (`oor serve`) against a bare aiosmtpd server.

    .venv/bin/python bench/smtp_intake.py            # full run: 2 rounds x 4 servers x (3 s + 20 s), then the
                                                     # deployed topology with chats; about 4.5 min
    .venv/bin/python bench/smtp_intake.py --quick    # smoke run: 1 round, 1 s + 4 s per server, about 1 min

The servers run as subprocesses on 127.0.0.1 and are driven, one after the other, by K concurrent
SMTP clients in this process (asyncio streams, a small hand-written client: one connection per
mail, EHLO, MAIL, RCPT, DATA, QUIT, as a sending MTA delivers a single message). Every client
cycles through the same corpus of realistic mails (2-8 KB: MTA headers with DKIM signatures,
UTF-8 subjects, quoted-printable plain text, text+HTML alternatives, an attachment, an
HTML-only webmail message).

  gateway         `python -m server.cli serve` with a temporary data folder and the fast test
                  Argon2id parameters (OOR_INSECURE_KDF=true, opslimit 1, 8 KiB), the per-address
                  and per-recipient limits lifted, and OOR_SMTP_RELAY pointing at a minimal SMTP
                  sink in this process, so that every return mail with a token is really composed
                  and delivered over loopback. One mail volunteer is enrolled and logged in through
                  the API (invitation from `oor volunteer invite --mail`) and switched on for mail,
                  so every mail is assigned, encrypted and stored.
  bare            bench/support/bare_smtp.py: aiosmtpd configured as the gateway, every mail parsed
                  with the same `email` policy (policy.default) and, as the gateway, each distinct
                  header of a message parsed once (a header memo of its own), stored raw in SQLite
                  (WAL, synchronous=FULL as the product) with group commit as the product's storage
                  (the mails waiting share one transaction and one fsync), then 250. With
                  --bare-extract it also reads the subject and the body text (get_body,
                  get_content) and stores those instead: a stricter baseline.
  gateway+argon2  the gateway at production cost: Argon2id at server/config.py's kdf_* defaults
                  (64 MiB, 3 passes), not the insecure test setting; otherwise as `gateway`.
  bare+argon2     the bare server plus one Argon2id per mail at those parameters, in the event
                  loop's default thread pool as the gateway runs its key derivation.

ratio compares gateway with bare; prod_ratio gateway+argon2 with bare+argon2, measured in the
same run, so that at production cost the Argon2id work is the same on both sides and whatever
else the gateway does is what the ratio shows.

Each phase has a warm-up (not counted) and a measured window. Counted: mails whose DATA was
answered 250 inside the window, per wall second; latency is from the end of DATA (the final
".") to the 250, p50 and p99, over those mails. The load generator shares the machine's cores:
for reading the result the servers' CPU-ms per accepted mail (utime+stime of the server process
and its worker processes from /proc/PID/stat), this process's CPU (clients and sink) and the
rest of the machine's are printed, with a WARNING when other processes used more than 0.15
cores before the run or during any phase (another benchmark disturbs both servers, and not
equally). The phases alternate (round 1 bare, gateway, bare+argon2, gateway+argon2; round 2 the
reverse) so drift hits both sides of each pair; after each gateway phase the benchmark waits
until every return mail has reached the sink, so that no backlog runs into the next phase.

Then the product as deployed (unless --no-deployed): `oor serve --only web` and `oor serve
--only smtp`, two processes with one configuration on one PostgreSQL 15 (tests/services/postgres.py,
durable: fsync and synchronous_commit on), server/config.py's defaults throughout (production
Argon2id, proof-of-work, chat_max_per_volunteer, access log) but for the SMTP per-address limits
(every mail comes from one loopback sender) and the relay (the sink). N chats (--chats, 100),
opened and driven by bench/chat_relay.py's clients (the real protocol and crypto, help-seekers
from their own loopback addresses), send 1 message/s each way, first alone, then while the K mail
clients keep the gateway at its limit: the one-way p99 during the mail load is the line
`chat_p99_during_mail_ms`. Both ends of every chat are in this process, on the same two cores, so
the figure includes this process's own wait for a core (a real help-seeker's page does not wait
for the server's). --gateway-nice N starts the gateway at that nice value, as systemd's Nice=
would; by default the unit's own Nice= (deploy/systemd/oor-gateway.service), so the figure is the
deployed one. (The unit's CPUWeight= needs cgroups this run does not make; nice alone is measured.)

Last, in this process after the servers have stopped: one token derivation at the production
parameters (crypto.derive_mailbox; the median of 3 after a warm-up, 1 with --quick), and how many
derivations per second 1, 2 and 6 threads achieve here (6: the size of the default thread pool
the gateway derives in, min(32, cores + 4)).

With --postgres the four servers store in PostgreSQL instead of SQLite: one database each in the
cluster this run starts for the deployed topology anyway.

The last lines of output are

    chat_p99_during_mail_ms <chat one-way p99 while the gateway takes mail at its limit>
    ratio <gateway / bare> prod_ratio <gateway+argon2 / bare+argon2> p99_ms <gateway p99> argon2_ms <one derivation>

Results are in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import ctypes
import math
import multiprocessing
import os
import platform
import quopri
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

import crypto  # noqa: E402
from bench import chat_relay  # noqa: E402  (its chat clients, for the deployed topology)
from bench.support.bare_smtp import Parser as BareParser  # noqa: E402  (the bare server's parse, timed here)
from bench.support.transparency import KeyGate  # noqa: E402  (the key gate, issue 17)
from client.volunteer import enrolment_body, login_body  # noqa: E402
from mailgate.isolation import parse_checked  # noqa: E402  (the gateway's parse, timed here)
from server.config import Config  # noqa: E402
from tests.services.postgres import start_postgres, stop_postgres  # noqa: E402  (a real cluster, as the tests)

PASSPHRASE = "bench passphrase for the smtp intake benchmark"
RECIPIENT = "hulp@localhost"
MAIL_TIMEOUT_S = 30.0          # one SMTP session, connect to QUIT
START_TIMEOUT_S = 30.0         # a server subprocess to accept connections
DRAIN_TIMEOUT_S = 120.0        # return mails still queued in the gateway after a phase
MAX_MAILS_PER_PHASE = 200_000  # a bound on the loop whatever the rate
TARGET_RATIO = 0.6             # gateway / bare, fast KDF
TARGET_PROD_RATIO = 0.9        # gateway+argon2 / bare+argon2
TARGET_CHAT_P99_MS = 5.0       # chat one-way p99 while the gateway takes mail at its limit
# Production Argon2id: what a deployment runs unless it sets kdf_* (server/config.py's defaults).
PROD_OPSLIMIT = Config.kdf_opslimit
PROD_MEMLIMIT_KIB = Config.kdf_memlimit_kib
PROD_KDF = crypto.KdfParams(PROD_OPSLIMIT, PROD_MEMLIMIT_KIB * 1024)
FAST_KDF = crypto.KdfParams(1, 8 * 1024)  # the insecure test setting (OOR_INSECURE_KDF)
DEFAULT_POOL_THREADS = min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor (the gateway derived there before)
BUSY_CORES = 0.15              # other processes using more than this, before the run or in a phase: say so


# ---------------------------------------------------------------------------------------------
# The corpus: the same mails for both servers, built once, dot-stuffed, CRLF.
# ---------------------------------------------------------------------------------------------

FIRST_NAMES = ["Joëlle", "Daan", "Fatima", "Sem", "Lotte", "Mohammed", "Anouk", "Bram"]
PARAGRAPHS = [
    "Ik weet eigenlijk niet goed hoe ik dit moet beginnen. Al een paar weken slaap ik slecht en lig ik "
    "'s nachts te piekeren over van alles: mijn werk, mijn moeder die ziek is, en of ik het allemaal wel "
    "aankan. Overdag gaat het meestal wel, maar 's avonds komt het allemaal terug.",
    "Mijn vrienden zeggen dat ik moet praten met iemand, maar ik wil ze niet tot last zijn. Ze hebben "
    "hun eigen zorgen. Daarom probeer ik het zo, per mail, omdat ik het moeilijk vind om te bellen. "
    "Is dat goed? Ik hoop dat iemand dit leest en me kan helpen ordenen wat er in mijn hoofd gebeurt.",
    "Vorige maand ben ik mijn baan kwijtgeraakt. Het bedrijf ging failliet, niemand kon er iets aan doen, "
    "maar het voelt toch alsof ik gefaald heb. Sindsdien zit ik veel thuis, en de dagen lijken op elkaar. "
    "Ik merk dat ik minder eet en dat ik nergens zin in heb, zelfs niet in dingen die ik vroeger leuk vond.",
    "Wat ik vooral zou willen weten: is dit normaal, na zoiets? En wat kan ik doen om me wat minder "
    "alleen te voelen? Ik heb gelezen over gesprekken met een vrijwilliger, en dat lijkt me een goede "
    "eerste stap. Ik ben 34, woon alleen, en heb een kat die me gelukkig wel aan het lachen maakt.",
    "Sorry voor het lange verhaal. Het lucht wel op om het op te schrijven. Dank je wel alvast voor "
    "het lezen; ik zie uit naar een antwoord, ook als het even duurt. Groetjes, en fijne dag verder.",
]


def _qp(text: str, charset: str = "utf-8") -> bytes:
    return quopri.encodestring(text.replace("\n", "\r\n").encode(charset)).replace(b"\r\r\n", b"\r\n")


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _headers(i: int, sender: str, name: str, subject_qp: str, *, full: bool = True) -> list[str]:
    s = i % 60
    hexid = f"{(i * 2654435761) & 0xFFFFFFFFFFFF:012x}"
    dkim_b = base64.b64encode(bytes((i * 7 + k * 13) & 0xFF for k in range(256))).decode()
    lines = [f"Return-Path: <{sender}>"]
    if full:
        lines += [
            "Received: from mail-ej1-f41.google.com (mail-ej1-f41.google.com [209.85.218.41])",
            "\tby mx.luisterendoor.example (Postfix) with ESMTPS id 4Xk2Lq0Zs9z9sRk",
            f"\tfor <{RECIPIENT}>; Tue, 25 Nov 2025 10:14:{s:02d} +0100 (CET)",
            f"Received: by mail-ej1-f41.google.com with SMTP id a640c23a62f3a-{hexid}",
            f"        for <{RECIPIENT}>; Tue, 25 Nov 2025 01:14:{s:02d} -0800 (PST)",
            "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;",
            "        d=example.org; s=20230601; t=1764062081; x=1764666881; darn=localhost;",
            "        h=to:subject:message-id:date:from:mime-version:from:to:cc:subject",
            "         :date:message-id:reply-to;",
            f"        bh={base64.b64encode(hexid.encode() * 2)[:43].decode()}=;",
        ]
        lines += [f"        b={dkim_b[:70]}"] + [f"         {dkim_b[k:k + 70]}" for k in range(70, len(dkim_b), 70)]
        lines += [
            "Authentication-Results: mx.luisterendoor.example;",
            "\tdkim=pass (2048-bit key; unprotected) header.d=example.org header.i=@example.org;",
            "\tspf=pass (example.org: domain of sender designates 209.85.218.41 as permitted sender)",
            f"X-Google-Smtp-Source: AGHT+IE{hexid}{dkim_b[:40]}",
            f"X-Received: by 2002:a17:907:7b94:b0:a8d:{hexid[:4]}:{hexid[4:8]} with SMTP id jh20mr{i};",
            f"        Tue, 25 Nov 2025 01:14:{s:02d} -0800 (PST)",
        ]
    lines += [
        "MIME-Version: 1.0",
        f"From: {name} <{sender}>",
        f"Date: Tue, 25 Nov 2025 10:14:{s:02d} +0100",
        f"Message-ID: <CAF{hexid}{i:06d}@mail.example.org>",
        f"Subject: {subject_qp}",
        f"To: {RECIPIENT}",
    ]
    return lines


def _encoded_word(text: str) -> str:
    return "=?UTF-8?Q?" + quopri.encodestring(text.encode(), header=True).decode().replace("=\n", "") + "?="


def _html(paragraphs: list[str]) -> str:
    body = "\n".join(f"<p style=\"margin:0 0 1em 0\">{p}</p>" for p in paragraphs)
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>p{font-family:Arial}</style></head>"
            f"<body><div dir=\"ltr\">\n{body}\n<div class=\"gmail_signature\">Verstuurd vanaf mijn telefoon</div>"
            "</div></body></html>\n")


def build_mail(i: int) -> tuple[str, bytes]:
    """Mail number i of the corpus: (envelope sender, message bytes ready for DATA, without the final '.')."""
    name_plain = FIRST_NAMES[i % len(FIRST_NAMES)]
    sender = f"afzender{i}@example.org"
    name = _encoded_word(f"{name_plain} de Vries") if not name_plain.isascii() else f"{name_plain} de Vries"
    paras = [PARAGRAPHS[(i + k) % len(PARAGRAPHS)] for k in range(2 + i % 4)]
    paras[0] = f"Hallo, ({i}) " + paras[0]
    text = "\n\n".join(paras) + f"\n\n{name_plain}\n"
    subject = _encoded_word(["Ik weet het even niet meer", "Vraag over een gesprek", "Hulp gezocht – slapeloosheid",
                             "Even mijn verhaal kwijt", "Zorgen om mijn moeder"][i % 5])
    kind = i % 5
    boundary = f"000000000000{i:08x}05f1a2b3"
    if kind == 0:    # plain text, quoted-printable
        lines = _headers(i, sender, name, subject) + [
            'Content-Type: text/plain; charset="UTF-8"', "Content-Transfer-Encoding: quoted-printable", ""]
        raw = "\r\n".join(lines).encode() + b"\r\n" + _qp(text)
    elif kind == 1:  # multipart/alternative: text + HTML, as most webmail sends
        lines = _headers(i, sender, name, subject) + [
            f'Content-Type: multipart/alternative; boundary="{boundary}"', "",
            f"--{boundary}", 'Content-Type: text/plain; charset="UTF-8"',
            "Content-Transfer-Encoding: quoted-printable", ""]
        raw = ("\r\n".join(lines).encode() + b"\r\n" + _qp(text) + f"\r\n--{boundary}\r\n".encode()
               + b'Content-Type: text/html; charset="UTF-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
               + _qp(_html(paras)) + f"\r\n--{boundary}--\r\n".encode())
    elif kind == 2:  # multipart/mixed: the alternative plus a small PDF attachment
        inner = f"{boundary}in"
        attachment = b"%PDF-1.4\n" + bytes((i * 31 + k * 17) & 0xFF for k in range(2400)) + b"\n%%EOF\n"
        lines = _headers(i, sender, name, subject) + [
            f'Content-Type: multipart/mixed; boundary="{boundary}"', "",
            f"--{boundary}", f'Content-Type: multipart/alternative; boundary="{inner}"', "",
            f"--{inner}", 'Content-Type: text/plain; charset="UTF-8"',
            "Content-Transfer-Encoding: quoted-printable", ""]
        raw = ("\r\n".join(lines).encode() + b"\r\n" + _qp(text) + f"\r\n--{inner}\r\n".encode()
               + b'Content-Type: text/html; charset="UTF-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
               + _qp(_html(paras)) + f"\r\n--{inner}--\r\n\r\n--{boundary}\r\n".encode()
               + b'Content-Type: application/pdf; name="brief.pdf"\r\n'
               + b'Content-Disposition: attachment; filename="brief.pdf"\r\n'
               + b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(attachment) + f"--{boundary}--\r\n".encode())
    elif kind == 3:  # a short plain ASCII mail from a desktop client
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        ascii_name = unicodedata.normalize("NFKD", name_plain).encode("ascii", "ignore").decode()
        lines = _headers(i, sender, f"{ascii_name} de Vries", "Even praten", full=False) + [
            "Content-Type: text/plain; charset=us-ascii; format=flowed", "Content-Transfer-Encoding: 7bit",
            "User-Agent: Mozilla Thunderbird", ""]
        raw = "\r\n".join(lines).encode() + b"\r\n" + ascii_text.replace("\n", "\r\n").encode()
    else:            # HTML only, Latin-1, quoted-printable
        lines = _headers(i, sender, name, subject) + [
            'Content-Type: text/html; charset="iso-8859-1"', "Content-Transfer-Encoding: quoted-printable", ""]
        raw = "\r\n".join(lines).encode() + b"\r\n" + _qp(_html(paras).replace("–", "-"), "iso-8859-1")
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in raw.split(b"\r\n"))
    return sender, stuffed


def build_corpus(n: int) -> list[tuple[str, bytes]]:
    return [build_mail(i) for i in range(n)]


def parse_cost(corpus: list[tuple[str, bytes]], repeat: int) -> dict[str, float]:
    """ms per mail in this process: the bare server's parse, the gateway's, and parsebytes alone."""
    raws = [data.replace(b"\r\n..", b"\r\n.") for _, data in corpus]
    out: dict[str, float] = {}
    bare, bare_extract = BareParser(False), BareParser(True)
    for label, fn in (("bare (policy.default, header memo)", bare.row),
                      ("bare --bare-extract", bare_extract.row),
                      ("gateway parse_checked (in its workers)", lambda r: parse_checked(r, Config.mail_max_chars)),
                      ("parsebytes, policy.default", lambda r: BytesParser(policy=policy.default).parsebytes(r)),
                      ("parsebytes, compat32", lambda r: BytesParser(policy=policy.compat32).parsebytes(r))):
        for raw in raws:  # warm-up
            fn(raw)
        t = time.perf_counter()
        for _ in range(repeat):
            for raw in raws:
                fn(raw)
        out[label] = (time.perf_counter() - t) / (repeat * len(raws)) * 1e3
    return out


# ---------------------------------------------------------------------------------------------
# The relay sink: a minimal SMTP responder that takes the gateway's return mails.
# ---------------------------------------------------------------------------------------------

class ReturnSink:
    def __init__(self) -> None:
        self.delivered = 0
        self.with_code = 0
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> "ReturnSink":
        self.server = await asyncio.get_running_loop().create_server(lambda: _SinkProtocol(self), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)


class _SinkProtocol(asyncio.Protocol):
    def __init__(self, sink: ReturnSink) -> None:
        self.sink, self.buf, self.in_data = sink, b"", False
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(b"220 relay.bench ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            if self.in_data:
                end = (b"\r\n" + self.buf).find(b"\r\n.\r\n")
                if end < 0:
                    return
                message, self.buf = self.buf[:max(0, end - 2)], self.buf[end + 3:]
                self.in_data = False
                self.sink.delivered += 1
                if b"Je persoonlijke code" in message:
                    self.sink.with_code += 1
                self.transport.write(b"250 2.0.0 queued\r\n")
                continue
            eol = self.buf.find(b"\r\n")
            if eol < 0:
                return
            verb, self.buf = self.buf[:4].upper(), self.buf[eol + 2:]
            if verb == b"EHLO":
                self.transport.write(b"250-relay.bench\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.transport.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self.transport.write(b"250 OK\r\n")


# ---------------------------------------------------------------------------------------------
# The load: K clients, one SMTP session per mail.
# ---------------------------------------------------------------------------------------------

async def _reply(reader: asyncio.StreamReader) -> int:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


async def send_mail(port: int, sender: str, data: bytes) -> tuple[int, float]:
    """One SMTP session; returns (DATA reply code, seconds from the end of DATA to the reply)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if (code := await _reply(reader)) != 220:
            return code, 0.0
        for command, expect in ((b"EHLO client.bench.example", 250), (f"MAIL FROM:<{sender}>".encode(), 250),
                                (f"RCPT TO:<{RECIPIENT}>".encode(), 250), (b"DATA", 354)):
            writer.write(command + b"\r\n")
            if (code := await _reply(reader)) != expect:
                return code, 0.0
        writer.write(data + b".\r\n")
        t0 = time.perf_counter()
        code = await _reply(reader)
        latency = time.perf_counter() - t0
        writer.write(b"QUIT\r\n")
        with contextlib.suppress(ConnectionError, ValueError):
            await _reply(reader)
        return code, latency
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@dataclass
class Phase:
    server: str
    seconds: float
    accepted: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    returns: int = 0

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds

    @property
    def others(self) -> float:
        """Cores used by other processes (or the kernel for them) during the window."""
        return max(0.0, (self.machine_cpu - self.server_cpu - self.client_cpu) / self.seconds)


def machine_cpu_seconds() -> float:
    with open("/proc/stat", encoding="ascii") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


async def run_phase(server: "ServerProcess", corpus: list[tuple[str, bytes]], clients: int, warmup: float,
                    seconds: float, sink: ReturnSink) -> tuple[Phase, int]:
    """Drive one server for warmup + seconds; returns the window's figures and all 250s (warm-up included)."""
    phase = Phase(server.name, seconds)
    loop_start = time.perf_counter()
    window_start, window_end = loop_start + warmup, loop_start + warmup + seconds
    sent = 0
    all_accepted = 0

    async def client(k: int) -> None:
        nonlocal sent, all_accepted
        index = k
        while time.perf_counter() < window_end and sent < MAX_MAILS_PER_PHASE:
            sender, data = corpus[index % len(corpus)]
            index += clients
            sent += 1
            try:
                code, latency = await asyncio.wait_for(send_mail(server.smtp_port, sender, data), MAIL_TIMEOUT_S)
            except (OSError, ConnectionError, ValueError, asyncio.TimeoutError):
                if window_start <= time.perf_counter() <= window_end:
                    phase.errors += 1
                await asyncio.sleep(0.01)
                continue
            done = time.perf_counter()
            all_accepted += code == 250
            if not window_start <= done <= window_end:
                continue
            if code == 250:
                phase.accepted += 1
                phase.latencies.append(latency)
            else:
                phase.refused[code] = phase.refused.get(code, 0) + 1
                await asyncio.sleep(0.01)  # a refusing server is not hammered in a tight loop

    async def meter() -> None:
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        s0, c0, m0, r0 = server.cpu_seconds(), time.process_time(), machine_cpu_seconds(), sink.delivered
        await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
        phase.server_cpu = server.cpu_seconds() - s0
        phase.client_cpu = time.process_time() - c0
        phase.machine_cpu = machine_cpu_seconds() - m0
        phase.returns = sink.delivered - r0

    await asyncio.gather(meter(), *(client(k) for k in range(clients)))
    return phase, all_accepted


# ---------------------------------------------------------------------------------------------
# The servers, as subprocesses.
# ---------------------------------------------------------------------------------------------

def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, smtp_port: int,
                 http_port: int | None = None, nice: int = 0) -> None:
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.smtp_port, self.http_port, self.nice = smtp_port, http_port, nice
        self.proc: subprocess.Popen[bytes] | None = None
        self.tick = os.sysconf("SC_CLK_TCK")

    def _in_child(self) -> None:  # pragma: no cover - runs in the child before exec
        _die_with_parent()
        if self.nice:
            os.nice(self.nice)

    async def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=self._in_child)
        deadline = time.monotonic() + START_TIMEOUT_S
        ports = [p for p in (self.smtp_port, self.http_port) if p]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                for port in ports:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        pass
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start within {START_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def cpu_seconds(self) -> float:
        """User + system CPU time of the whole server: the process (all threads) and every process
        below it (the gateway parses mail in worker processes: their CPU is the server's cost too)."""
        assert self.proc is not None
        parents: dict[int, int] = {}
        times: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            times[int(entry)] = int(fields[11]) + int(fields[12])
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            total += times.get(pid, 0)
            todo.extend(child for child, parent in parents.items() if parent == pid)
        return total / self.tick

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def base_env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")}, "PYTHONUNBUFFERED": "1"}


def bare_server(work: Path, name: str, extract: bool, database_url: str = "",
                argon2: crypto.KdfParams | None = None) -> ServerProcess:
    port = free_port()
    folder = name.replace("+", "-")
    argv = [sys.executable, str(REPO / "bench" / "support" / "bare_smtp.py"),
            "--smtp", f"127.0.0.1:{port}", "--data", str(work / folder)] + (["--extract"] if extract else [])
    if argon2 is not None:
        argv += ["--argon2-opslimit", str(argon2.opslimit), "--argon2-memlimit-kib", str(argon2.memlimit // 1024)]
    env = base_env()
    if database_url:  # in the environment, never on a command line (it holds the password)
        argv += ["--database-url", "env"]
        env["BARE_DATABASE_URL"] = database_url
    return ServerProcess(name, argv, env, work / f"{folder}.log", port)


def kdf_env(kdf: crypto.KdfParams) -> dict[str, str]:
    """The server's Argon2id settings: below production cost the server must be told it is a test."""
    below = kdf.memlimit < PROD_KDF.memlimit or kdf.opslimit < PROD_KDF.opslimit
    insecure = {"OOR_INSECURE_KDF": "true"} if below else {}
    return {**insecure, "OOR_KDF_OPSLIMIT": str(kdf.opslimit), "OOR_KDF_MEMLIMIT_KIB": str(kdf.memlimit // 1024)}


def mail_env(relay_port: int, public_url: str) -> dict[str, str]:
    """The gateway's settings for a benchmark: the per-address and per-recipient limits lifted (every
    mail here comes from one loopback sender), return mails to the sink in this process."""
    return {"OOR_SMTP_PER_MINUTE": "1000000", "OOR_SMTP_RETURNS_PER_DAY": "1000000",
            "OOR_SMTP_RELAY": f"127.0.0.1:{relay_port}", "OOR_PUBLIC_URL": public_url}


def gateway_env(http_port: int, relay_port: int, kdf: crypto.KdfParams, database_url: str = "") -> dict[str, str]:
    """The intake phases' gateway: also without the access log, at log level warning."""
    return {**base_env(), **({"OOR_DATABASE_URL": database_url} if database_url else {}), **kdf_env(kdf),
            **mail_env(relay_port, f"http://127.0.0.1:{http_port}"), "OOR_ACCESS_LOG": "false",
            "OOR_LOG_LEVEL": "warning"}


async def invite_mail_volunteer(name: str, data: Path, env: dict[str, str]) -> str:
    """`oor volunteer invite NAME --mail`: the invitation token."""
    argv = [sys.executable, "-m", "server.cli", "volunteer", "invite", name, "--mail", "--data", str(data)]
    invite = await asyncio.to_thread(subprocess.run, argv, cwd=REPO, env=env, capture_output=True, text=True,
                                     timeout=60)
    if invite.returncode != 0 or "#uitnodiging=" not in invite.stdout:
        raise RuntimeError(f"oor volunteer invite failed:\n{invite.stdout}\n{invite.stderr}")
    return invite.stdout.strip().split("#uitnodiging=", 1)[1]


async def enrol_mail_volunteer(base: str, token: str, name: str, kdf: crypto.KdfParams) -> None:
    """Enrol, log in and switch on for mail, through the API of the web server at `base`."""
    identity = crypto.new_identity()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=timeout) as http:
        body = await asyncio.to_thread(enrolment_body, token, PASSPHRASE, kdf, identity)
        async with http.post("/api/enrol", json=body) as resp:
            if resp.status != 201:
                raise RuntimeError(f"enrol: {resp.status} {await resp.text()}")
        async with http.post("/api/login", json=await login_body(http, name, PASSPHRASE)) as resp:
            if resp.status != 200:
                raise RuntimeError(f"login: {resp.status} {await resp.text()}")
        async with http.post("/api/mail/availability", json={"mail": True}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"availability: {resp.status} {await resp.text()}")


async def gateway_server(work: Path, name: str, relay_port: int, servers: list[ServerProcess], kdf: crypto.KdfParams,
                         gate: KeyGate, database_url: str = "") -> ServerProcess:
    """`oor serve` with one mail volunteer on duty (invited by the CLI, enrolled and logged in by the API,
    its key statement signed and logged: bench/support/transparency.py).

    The process is added to `servers` as soon as it exists, so that the caller stops it whatever fails next."""
    http_port, smtp_port = free_port(), free_port()
    folder = name.replace("+", "-")
    data = work / folder / "var"
    env = await asyncio.to_thread(gate.server_env, gateway_env(http_port, relay_port, kdf, database_url), data, folder)
    volunteer = "Bench Mail"
    token = await invite_mail_volunteer(volunteer, data, env)
    await asyncio.to_thread(gate.publish, data, env)
    argv = [sys.executable, "-m", "server.cli", "serve", "--data", str(data),
            "--http", f"127.0.0.1:{http_port}", "--smtp", f"127.0.0.1:{smtp_port}"]
    server = ServerProcess(name, argv, env, work / f"{folder}.log", smtp_port, http_port)
    servers.append(server)
    await server.start()
    await enrol_mail_volunteer(f"http://127.0.0.1:{http_port}", token, volunteer, kdf)
    size = await asyncio.to_thread(gate.sign, data, env, expect=1)
    await gate.wait_ready([f"http://127.0.0.1:{http_port}"], size)
    return server


async def check_server(server: ServerProcess, corpus: list[tuple[str, bytes]]) -> None:
    """Every kind of mail in the corpus is taken (250) before anything is measured."""
    for sender, data in corpus[:5]:
        code, _ = await asyncio.wait_for(send_mail(server.smtp_port, sender, data), MAIL_TIMEOUT_S)
        if code != 250:
            raise RuntimeError(f"{server.name} answered {code} to a corpus mail from {sender}:\n{server.log_tail()}")


async def drain_returns(sink: ReturnSink, expected: int) -> float:
    """Wait (bounded) until the sink has every return mail the gateway owes; return the seconds waited."""
    t = time.perf_counter()
    deadline = t + DRAIN_TIMEOUT_S
    while sink.delivered < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    return time.perf_counter() - t


# ---------------------------------------------------------------------------------------------
# The product as deployed: a web node and the gateway, two processes on one PostgreSQL, with chats.
# ---------------------------------------------------------------------------------------------

KDF_KEYS = ("OOR_INSECURE_KDF", "OOR_KDF_OPSLIMIT", "OOR_KDF_MEMLIMIT_KIB")


class DeployedWeb(chat_relay.RealRelay):
    """bench/chat_relay.py's real relay and its clients, against `oor serve --only web` as deployed:
    PostgreSQL, production Argon2id, the mail gateway in a process of its own. `env` is the
    deployment's configuration, the same for both processes (as one oor.toml would be)."""

    name = "deployed"

    def __init__(self, workdir: Path, chats: int, volunteers: int, gate: KeyGate, database_url: str,
                 settings: dict[str, str]) -> None:
        super().__init__(workdir, chats, volunteers, gate, database_url)
        # chat_relay's settings (server/config.py's defaults) without its insecure KDF: this
        # deployment runs Argon2id at production cost.
        self.env = {**{k: v for k, v in self.env.items() if k not in KDF_KEYS}, **settings,
                    "OOR_PUBLIC_URL": self.base}
        self.process = self._node(self.name, self.port, self.base)

    def _node(self, label: str, port: int, public_url: str) -> chat_relay.RelayProcess:
        data = self.workdir / f"{label}-data"
        argv = [sys.executable, "-m", "server.cli", "serve", "--only", "web",
                "--data", str(data), "--http", f"127.0.0.1:{port}"]
        return self._published(chat_relay.RelayProcess("oor serve --only web", argv,
                                                       {**self.env, "OOR_PUBLIC_URL": public_url},
                                                       self.workdir / f"{label}.log", port), data)

    async def start(self) -> None:
        # chat_relay's RealVolunteer enrols with that module's INSECURE_KDF; this web node dictates the
        # production cost (server/accounts.py refuses any other), so for the set-up that is what it is.
        saved = chat_relay.INSECURE_KDF
        chat_relay.INSECURE_KDF = PROD_KDF
        try:
            await super().start()
        finally:
            chat_relay.INSECURE_KDF = saved


@dataclass
class Deployed:
    chats: int
    volunteers: int
    alone: chat_relay.PhaseResult
    during: chat_relay.PhaseResult
    mail: Phase
    errors: dict[str, int]
    nice: int


async def deployed_run(work: Path, database_url: str, sink: ReturnSink, corpus: list[tuple[str, bytes]],
                       args: argparse.Namespace, owed: int, gate: KeyGate) -> tuple[Deployed, int]:
    """Chats alone, then chats while K mail clients keep the gateway at its limit; and the return
    mails owed since (`owed` is what the sink had to have before)."""
    volunteers = math.ceil(args.chats / chat_relay.CAPACITY)  # chat_max_per_volunteer as shipped
    settings = {**kdf_env(PROD_KDF), **mail_env(sink.port, "")}
    web = DeployedWeb(work, args.chats, volunteers, gate, database_url, settings)
    smtp_port = free_port()
    argv = [sys.executable, "-m", "server.cli", "serve", "--only", "smtp", "--data", str(web.data),
            "--smtp", f"127.0.0.1:{smtp_port}"]
    gateway = ServerProcess("gateway --only smtp", argv, web.env, work / "deployed-gateway.log", smtp_port,
                            nice=args.gateway_nice)
    interval = 1 / chat_relay.LATENCY_RATE
    seconds = max(chat_relay.LATENCY_WARMUP_S + 1.0, args.seconds - 1.0)
    # The help-seekers' proof-of-work, solved in fresh worker processes between the set-up's steps, as
    # bench/chat_relay.py does.
    pool = concurrent.futures.ProcessPoolExecutor(os.cpu_count() or 2, mp_context=multiprocessing.get_context("spawn"))
    try:
        await web.start()
        token = await invite_mail_volunteer("Bench Mail", web.data, web.env)
        await enrol_mail_volunteer(web.base, token, "Bench Mail", PROD_KDF)
        size = await asyncio.to_thread(gate.sign, web.data, web.env, expect=1)  # the mail volunteer's statement
        await gate.wait_ready([web.base], size)
        await asyncio.to_thread(gate.publish, web.data, web.env)  # before the gateway's `oor serve` too
        await gateway.start()
        await check_server(gateway, corpus)
        owed += 5
        await chat_relay.warm_up(web, pool)
        await chat_relay.set_up_chats(web, list(range(args.chats)), pool)
        await asyncio.sleep(2.0)  # every per-connection frame allowance is full again
        alone = await chat_relay.run_phase(web, seconds, interval, interval, chat_relay.LATENCY_JITTER, True)
        # The mail load first, so that the gateway is at its limit before the chat's window opens,
        # and until after it has closed.
        mail_load = asyncio.create_task(run_phase(gateway, corpus, args.clients, args.warmup, args.seconds, sink))
        await asyncio.sleep(args.warmup + 0.3)
        during = await chat_relay.run_phase(web, seconds, interval, interval, chat_relay.LATENCY_JITTER, True)
        mail, accepted = await mail_load
        owed += accepted
        await drain_returns(sink, owed)
        if not web.process.alive():
            raise RuntimeError(f"the web node died during the run:\n{web.process.log_tail()}")
        if gateway.proc is not None and gateway.proc.poll() is not None:
            raise RuntimeError(f"the gateway died during the run:\n{gateway.log_tail()}")
        return Deployed(args.chats, volunteers, alone, during, mail, dict(web.stats.errors), args.gateway_nice), owed
    except BaseException:
        if web.process.proc is not None:
            print(f"  deployed run failed; web node:\n{web.process.log_tail()}\n  gateway:\n{gateway.log_tail()}",
                  file=sys.stderr)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        await web.close()
        web.stop()
        gateway.stop()


def deployed_others(d: Deployed) -> tuple[float, float]:
    """Cores used by other processes (PostgreSQL among them) during the chats alone, and during the
    chats with mail: the machine less the web node, this process and (then) the gateway."""
    alone = d.alone.other_cpu_s / d.alone.wall_s
    m = d.mail
    during = max(0.0, (m.machine_cpu - m.server_cpu - m.client_cpu) / m.seconds - d.during.cpu_s / d.during.wall_s)
    return alone, during


def report_deployed(d: Deployed, clients: int) -> None:
    alone_others, during_others = deployed_others(d)

    def chat(label: str, p: chat_relay.PhaseResult, others: float) -> str:
        flag = "  ** disturbed **" if others > BUSY_CORES else ""
        return (f"    {label:<22} one-way p50 {p.pct(0.50):5.2f} ms  p99 {p.pct(0.99):6.2f} ms  max "
                f"{max(p.latencies, default=float('nan')) * 1e3:6.1f} ms  ({len(p.latencies)} sampled, {p.lost} lost)"
                f"  web node {p.cpu_s / p.wall_s:.2f} cores  other processes {others:.2f} cores{flag}")
    m = d.mail
    nice = f", the gateway at nice {d.nice}" if d.nice else ""
    print(f"  deployed: `oor serve --only web` + `oor serve --only smtp` on PostgreSQL 15 (durable), production "
          f"Argon2id{nice}; {d.chats} chats ({d.volunteers} volunteers) at {chat_relay.LATENCY_RATE:g} msg/s each way")
    print(chat("chats alone", d.alone, alone_others))
    print(chat("chats during mail", d.during, during_others))
    print(f"    mail at the same time  {m.rate:.1f} mails/s ({clients} clients), DATA->250 p99 "
          f"{percentile(m.latencies, 99) * 1e3:.0f} ms  |  gateway {m.server_cpu / m.seconds:.2f} cores  "
          f"this process (chat and mail clients) {m.client_cpu / m.seconds:.2f} cores")
    if d.errors:
        print(f"    chat errors: {d.errors}")


# ---------------------------------------------------------------------------------------------
# Argon2id at production cost.
# ---------------------------------------------------------------------------------------------

def time_argon2(runs: int) -> list[float]:
    """ms per crypto.derive_mailbox at production cost, after one warm-up derivation."""
    crypto.derive_mailbox(crypto.new_token_code(), "bench", PROD_KDF)
    times = []
    for _ in range(runs):
        token = crypto.new_token_code()
        t = time.perf_counter()
        crypto.derive_mailbox(token, "bench", PROD_KDF)
        times.append((time.perf_counter() - t) * 1e3)
    return times


def argon2_rate(threads: int, seconds: float) -> float:
    """Derivations per second at production cost with `threads` threads deriving back to back
    (libsodium releases the GIL), counted until the last one has finished."""
    counts = [0] * threads
    t0 = time.perf_counter()
    stop = t0 + seconds

    def work(i: int) -> None:
        while time.perf_counter() < stop:
            crypto.derive_mailbox(crypto.new_token_code(), "bench", PROD_KDF)
            counts[i] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summarise(name: str, phases: list[Phase]) -> dict[str, float]:
    seconds = sum(p.seconds for p in phases)
    accepted = sum(p.accepted for p in phases)
    latencies = [x for p in phases for x in p.latencies]
    cpu = sum(p.server_cpu for p in phases)
    refused: dict[int, int] = {}
    for p in phases:
        for code, n in p.refused.items():
            refused[code] = refused.get(code, 0) + n
    s = {"rate": accepted / seconds, "p50": percentile(latencies, 50) * 1e3,
         "p99": percentile(latencies, 99) * 1e3, "max": max(latencies, default=float("nan")) * 1e3,
         "cpu_ms": cpu / accepted * 1e3 if accepted else float("nan"), "server_cores": cpu / seconds,
         "client_cores": sum(p.client_cpu for p in phases) / seconds,
         "machine_cores": sum(p.machine_cpu for p in phases) / seconds,
         "returns": sum(p.returns for p in phases) / seconds, "accepted": accepted,
         "errors": sum(p.errors for p in phases)}
    rest = max(0.0, s["machine_cores"] - s["server_cores"] - s["client_cores"])
    refusals = ", ".join(f"{n} x {code}" for code, n in sorted(refused.items())) or "none"
    print(f"  {name:<14} {s['rate']:7.1f} mails/s  DATA->250 p50 {s['p50']:6.2f} ms  p99 {s['p99']:6.2f} ms  "
          f"max {s['max']:6.1f} ms  |  server {s['cpu_ms']:5.2f} CPU-ms/mail ({s['server_cores']:.2f} cores)  "
          f"client {s['client_cores']:.2f} cores  rest {rest:.2f} cores")
    extra = f"  return mails delivered {s['returns']:.1f}/s" if name.startswith("gateway") else ""
    print(f"  {'':<14} {accepted} accepted, refused: {refusals}, connection errors {s['errors']}{extra}")
    return s


async def bench(args: argparse.Namespace) -> str:
    corpus = build_corpus(args.corpus)
    sizes = [len(d) for _, d in corpus]
    print(f"SMTP intake benchmark  {time.strftime('%Y-%m-%d %H:%M %Z')}  {platform.node()}")
    print(f"  {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")
    print(f"  {args.clients} clients, one SMTP session per mail; {args.rounds} round(s) of {args.warmup:g} s warm-up + "
          f"{args.seconds:g} s measured per server; corpus {len(corpus)} mails, {min(sizes)}-{max(sizes)} bytes "
          f"(mean {statistics.mean(sizes):.0f}); the bare server parses with a header memo and "
          + ("extracts subject and text" if args.bare_extract else "stores the raw mail")
          + ", group commit; "
          + ("all store in PostgreSQL 15 (own cluster, its default durability: fsync and synchronous_commit on)"
             if args.postgres else "all store in SQLite (WAL, synchronous=FULL)")
          + f"; +argon2: Argon2id at production cost (opslimit {PROD_OPSLIMIT}, {PROD_MEMLIMIT_KIB // 1024} MiB) "
            "per mail, the gateway's own and the bare server's in the default thread pool")
    m0 = machine_cpu_seconds()
    await asyncio.sleep(2.0)
    busy = (machine_cpu_seconds() - m0) / 2.0
    warning = "  ** WARNING: something else is running; the figures below are disturbed **"
    print(f"  machine busy before the run: {busy:.2f} cores" + (warning if busy > BUSY_CORES else ""))
    cost = parse_cost(corpus, 3 if args.quick else 20)
    print("  parsing in this process, ms per mail: " + ", ".join(f"{k} {v:.3f}" for k, v in cost.items()))

    names = ("bare", "gateway", "bare+argon2", "gateway+argon2")
    results: dict[str, list[Phase]] = {name: [] for name in names}
    summary: dict[str, dict[str, float]] = {}
    deployed: Deployed | None = None
    sink = await ReturnSink().start()
    postgres = None
    try:
        if args.postgres or args.deployed:
            postgres = await asyncio.to_thread(start_postgres, durable=True)
        urls = {name: postgres.url(postgres.create_database()) if postgres is not None and args.postgres else ""
                for name in names}
        with tempfile.TemporaryDirectory(prefix="oor-bench-smtp-") as tmp:
            work = Path(tmp)
            servers: list[ServerProcess] = []
            gate = await asyncio.to_thread(KeyGate, work)  # the root key; a witness per gateway's log
            try:
                bare = bare_server(work, "bare", args.bare_extract, urls["bare"])
                bare_argon2 = bare_server(work, "bare+argon2", args.bare_extract, urls["bare+argon2"], PROD_KDF)
                for server in (bare, bare_argon2):
                    servers.append(server)
                    await server.start()
                gateway = await gateway_server(work, "gateway", sink.port, servers, FAST_KDF, gate, urls["gateway"])
                gateway_argon2 = await gateway_server(work, "gateway+argon2", sink.port, servers, PROD_KDF, gate,
                                                      urls["gateway+argon2"])
                for server in servers:
                    await check_server(server, corpus)
                owed = 10
                await drain_returns(sink, owed)
                if sink.delivered < owed:
                    raise RuntimeError(f"the gateways sent {sink.delivered} of {owed} return mails:\n"
                                       f"{gateway.log_tail()}\n{gateway_argon2.log_tail()}")
                order = [bare, gateway, bare_argon2, gateway_argon2]
                for r in range(args.rounds):
                    for server in (order if r % 2 == 0 else order[::-1]):
                        phase, all_accepted = await run_phase(server, corpus, args.clients, args.warmup, args.seconds,
                                                              sink)
                        results[server.name].append(phase)
                        drained = ""
                        if server in (gateway, gateway_argon2):
                            owed += all_accepted
                            waited = await drain_returns(sink, owed)
                            drained = f", return-mail backlog drained in {waited:.1f} s"
                            if sink.delivered < owed:
                                drained = f", {owed - sink.delivered} return mails still queued after {waited:.0f} s"
                        flag = "  ** disturbed **" if phase.others > BUSY_CORES else ""
                        print(f"  round {r + 1} {server.name:<14} {phase.rate:7.1f} mails/s  p99 "
                              f"{percentile(phase.latencies, 99) * 1e3:7.2f} ms  other processes {phase.others:.2f} "
                              f"cores{drained}{flag}", flush=True)
                for server in servers:
                    if server.proc is not None and server.proc.poll() is not None:
                        raise RuntimeError(f"{server.name} died during the run:\n{server.log_tail()}")
            finally:
                for server in servers:
                    server.stop()
            print("Results (all rounds):")
            for name in names:
                summary[name] = summarise(name, results[name])
            if args.deployed and postgres is not None:
                deployed, owed = await deployed_run(work, postgres.url(postgres.create_database()), sink, corpus,
                                                    args, owed, gate)
                report_deployed(deployed, args.clients)
            gate.stop()
            print(f"  return mails with a token that reached the relay sink: {sink.with_code} of {owed} owed")
    finally:
        await sink.stop()
        if postgres is not None:
            await asyncio.to_thread(stop_postgres, postgres)

    times = await asyncio.to_thread(time_argon2, 1 if args.quick else 3)
    argon2_ms = statistics.median(times)
    print(f"  Argon2id at production cost (opslimit {PROD_OPSLIMIT}, {PROD_MEMLIMIT_KIB // 1024} MiB), derive_mailbox: "
          + ", ".join(f"{t:.0f}" for t in times) + " ms")
    rates = {n: await asyncio.to_thread(argon2_rate, n, 1.0 if args.quick else 3.0)
             for n in sorted({1, 2, DEFAULT_POOL_THREADS})}
    print("  derivations per second in this process: "
          + ", ".join(f"{n} thread{'s' if n > 1 else ''} {r:.1f}" for n, r in rates.items())
          + f" ({DEFAULT_POOL_THREADS}: the loop's default pool; the gateway and the bare server derive in "
             f"one thread per core, {len(os.sched_getaffinity(0))} here)")

    b, g, ba, ga = (summary[name] for name in names)
    ratio, prod_ratio = g["rate"] / b["rate"], ga["rate"] / ba["rate"]

    def verdict(ok: bool) -> str:
        return "meets" if ok else "misses"
    print(f"  gateway/bare {ratio:.2f} ({verdict(ratio >= TARGET_RATIO)} the target of {TARGET_RATIO}); "
          f"CPU per mail gateway/bare {g['cpu_ms'] / b['cpu_ms']:.2f}")
    print(f"  gateway+argon2/bare+argon2 {prod_ratio:.2f} ({verdict(prod_ratio >= TARGET_PROD_RATIO)} the target of "
          f"{TARGET_PROD_RATIO}); CPU per mail {ga['cpu_ms']:.1f} against {ba['cpu_ms']:.1f} ms (mails per server "
          f"CPU-second {ba['cpu_ms'] / ga['cpu_ms']:.2f}); at production cost the "
          f"gateway takes {ga['rate']:.1f} mails/s, the bare server without Argon2id {b['rate']:.0f} "
          f"({ga['rate'] / b['rate']:.3f})")
    chat_p99 = float("nan")
    if deployed is not None:
        chat_p99 = deployed.during.pct(0.99)
        print(f"  chat p99 while the gateway takes mail at its limit {chat_p99:.2f} ms "
              f"({verdict(chat_p99 < TARGET_CHAT_P99_MS)} the target of {TARGET_CHAT_P99_MS:g} ms); alone "
              f"{deployed.alone.pct(0.99):.2f} ms")
    disturbed = [f"round {r + 1} {name}" for name, phases in results.items()
                 for r, phase in enumerate(phases) if phase.others > BUSY_CORES]
    if deployed is not None:
        disturbed += [f"deployed, chats {label}" for label, others in zip(("alone", "during mail"),
                                                                          deployed_others(deployed))
                      if others > BUSY_CORES]
    if disturbed or busy > BUSY_CORES:
        print(f"  ** WARNING: other processes used more than {BUSY_CORES} cores "
              f"({', '.join(disturbed) or 'before the run'}); these figures cannot be compared **")
    print(f"chat_p99_during_mail_ms {chat_p99:.2f}" if deployed is not None else "chat_p99_during_mail_ms -")
    return (f"ratio {ratio:.2f} prod_ratio {prod_ratio:.2f} p99_ms {g['p99']:.1f} argon2_ms {argon2_ms:.0f}")


def unit_nice() -> int:
    """The Nice= the gateway's systemd unit sets (0 if it sets none): what the deployed run measures."""
    unit = Path(__file__).resolve().parents[1] / "deploy" / "systemd" / "oor-gateway.service"
    found = re.findall(r"^Nice=(-?\d+)\s*$", unit.read_text(encoding="utf-8"), re.M)
    return int(found[-1]) if found else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 1 s warm-up + 4 s per phase")
    parser.add_argument("--clients", type=int, default=8, help="concurrent SMTP clients K (default 8)")
    parser.add_argument("--seconds", type=float, help="measured seconds per server and round (default 20)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per phase (default 3)")
    parser.add_argument("--rounds", type=int, help="rounds; each drives the four servers (default 2)")
    parser.add_argument("--bare-extract", action="store_true",
                        help="the bare server also extracts subject and body text (a stricter baseline)")
    parser.add_argument("--corpus", type=int, default=40, help="distinct mails in the corpus (default 40)")
    parser.add_argument("--postgres", action="store_true",
                        help="the four servers store in PostgreSQL (a cluster this run starts) instead of SQLite")
    parser.add_argument("--chats", type=int, default=100,
                        help="chats in the deployed run, 1 message/s each way (default 100)")
    parser.add_argument("--gateway-nice", type=int, default=unit_nice(),
                        help="in the deployed run, start the gateway at this nice value, as systemd's Nice= would "
                             "(default: the Nice= of deploy/systemd/oor-gateway.service, as it is deployed)")
    parser.add_argument("--no-deployed", dest="deployed", action="store_false",
                        help="leave out the deployed run (web node + gateway on PostgreSQL, chats during mail)")
    args = parser.parse_args()
    args.seconds = args.seconds if args.seconds is not None else (4.0 if args.quick else 20.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 2)
    if not (1 <= args.clients <= 256 and 0 < args.seconds <= 300 and 0 <= args.warmup <= 60
            and 1 <= args.rounds <= 10 and 5 <= args.corpus <= 1000 and 1 <= args.chats <= 1000
            and 0 <= args.gateway_nice <= 19):
        parser.error("out of range: 1-256 clients, 0-300 s, 0-60 s warm-up, 1-10 rounds, 5-1000 mails, 1-1000 chats, "
                     "nice 0-19")

    async def run() -> str:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        return await bench(args)

    try:
        line = asyncio.run(run())
    except asyncio.CancelledError:
        print("interrupted", file=sys.stderr)
        return 130
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
