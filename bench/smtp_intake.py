"""SMTP intake benchmark: the real mail gateway (`oor serve`) against a bare aiosmtpd server.

    .venv/bin/python bench/smtp_intake.py            # full run: 2 rounds x 2 servers x (3 s + 20 s), about 2 min
    .venv/bin/python bench/smtp_intake.py --quick    # smoke run: 1 round, 1 s + 4 s per server, about 15 s

Both servers run as subprocesses on 127.0.0.1 and are driven, one after the
other, by K concurrent SMTP clients in this process (asyncio streams, a small
hand-written client: one connection per mail, EHLO, MAIL, RCPT, DATA, QUIT, as
a sending MTA delivers a single message). Every client cycles through the same
corpus of realistic mails (2-8 KB: MTA headers with DKIM signatures, UTF-8
subjects, quoted-printable plain text, text+HTML alternatives, an attachment,
an HTML-only webmail message).

  gateway  `python -m server.cli serve` with a temporary data folder and the
           fast test Argon2id parameters (OOR_INSECURE_KDF=true, opslimit 1,
           8 KiB), the per-address and per-recipient limits lifted, and OOR_SMTP_RELAY
           pointing at a minimal SMTP sink in this process, so that every
           return mail with a token is really composed and delivered over
           loopback. One mail volunteer is enrolled and logged in through the
           API (invitation from `oor volunteer invite --mail`) and switched on
           for mail, so every mail is assigned, encrypted and stored.
  bare     bench/support/bare_smtp.py: aiosmtpd configured as the gateway,
           every mail parsed with the same `email` policy (policy.default)
           and stored raw in SQLite (WAL, synchronous=FULL as the product)
           with one commit per mail, then 250. With --bare-extract it also
           reads the subject and the body text (get_body, get_content) and
           stores those instead: a stricter baseline.

Each phase has a warm-up (not counted) and a measured window. Counted: mails
whose DATA was answered 250 inside the window, per wall second; latency is
from the end of DATA (the final ".") to the 250, p50 and p99, over those mails.
The load generator shares the machine's cores: for reading the result the
servers' CPU-ms per accepted mail (utime+stime of the server process and its
worker processes from /proc/PID/stat), this process's CPU (clients and sink) and the rest of the
machine's are printed, with a WARNING when other processes used more than
0.15 cores before the run or during any phase (another benchmark disturbs
both servers, and not equally). Each server is one Python process, so its
rate is bounded by about one core whatever the machine has. The phases
alternate (bare, gateway, then gateway, bare) so drift hits both; after each
gateway phase the benchmark waits until every return mail has reached the
sink, so that no backlog runs into the next phase. Separately, one token
derivation at the production parameters (crypto.PRODUCTION_KDF, 64 MiB,
3 passes) is timed in this process after a warm-up (the median of 3; 1 with --quick).

With --postgres both servers store in PostgreSQL instead: a cluster this run starts from Debian's
postgresql-15 (tests/services/postgres.py) with PostgreSQL's default durability (fsync,
synchronous_commit and full_page_writes on, as in production), one database for each server.

The last line of output is

    ratio <gateway rate / bare rate> p99_ms <gateway p99> argon2_ms <production derivation>

Results are in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import ctypes
import os
import platform
import quopri
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
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
from tests.services.postgres import start_postgres, stop_postgres  # noqa: E402  (a real cluster, as the tests)

PASSPHRASE = "bench passphrase for the smtp intake benchmark"
RECIPIENT = "hulp@localhost"
MAIL_TIMEOUT_S = 30.0          # one SMTP session, connect to QUIT
START_TIMEOUT_S = 30.0         # a server subprocess to accept connections
DRAIN_TIMEOUT_S = 120.0        # return mails still queued in the gateway after a phase
MAX_MAILS_PER_PHASE = 200_000  # a bound on the loop whatever the rate
TARGET_RATIO = 0.5
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
    """ms per mail in this process: what the bare server does, and parsebytes alone with two policies."""
    raws = [data.replace(b"\r\n..", b"\r\n.") for _, data in corpus]
    out: dict[str, float] = {}

    def bare(raw: bytes) -> None:
        m = BytesParser(policy=policy.default).parsebytes(raw)
        str(m.get("subject", "") or "")
        body = m.get_body(preferencelist=("plain", "html"))
        if body is not None:
            body.get_content()

    for label, fn in (("parse + subject + body text (--bare-extract), policy.default", bare),
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
                 http_port: int | None = None) -> None:
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.smtp_port, self.http_port = smtp_port, http_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.tick = os.sysconf("SC_CLK_TCK")

    async def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
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


def bare_server(work: Path, extract: bool, database_url: str = "") -> ServerProcess:
    port = free_port()
    argv = [sys.executable, str(REPO / "bench" / "support" / "bare_smtp.py"),
            "--smtp", f"127.0.0.1:{port}", "--data", str(work / "bare")] + (["--extract"] if extract else [])
    env = base_env()
    if database_url:  # in the environment, never on a command line (it holds the password)
        argv += ["--database-url", "env"]
        env["BARE_DATABASE_URL"] = database_url
    return ServerProcess("bare", argv, env, work / "bare.log", port)


def gateway_env(http_port: int, relay_port: int, database_url: str = "") -> dict[str, str]:
    return {**base_env(), **({"OOR_DATABASE_URL": database_url} if database_url else {}),
            "OOR_INSECURE_KDF": "true", "OOR_KDF_OPSLIMIT": "1", "OOR_KDF_MEMLIMIT_KIB": "8",
            "OOR_SMTP_PER_MINUTE": "1000000", "OOR_SMTP_RETURNS_PER_DAY": "1000000", "OOR_ACCESS_LOG": "false", "OOR_LOG_LEVEL": "warning",
            "OOR_SMTP_RELAY": f"127.0.0.1:{relay_port}", "OOR_PUBLIC_URL": f"http://127.0.0.1:{http_port}"}


async def gateway_server(work: Path, relay_port: int, servers: list[ServerProcess],
                         database_url: str = "") -> ServerProcess:
    """`oor serve` with one mail volunteer on duty (invited by the CLI, enrolled and logged in by the API).

    The process is added to `servers` as soon as it exists, so that the caller stops it whatever fails next."""
    http_port, smtp_port = free_port(), free_port()
    data = work / "gateway" / "var"
    env = gateway_env(http_port, relay_port, database_url)
    name = "Bench Mail"
    invite_argv = [sys.executable, "-m", "server.cli", "volunteer", "invite", name, "--mail", "--data", str(data)]
    invite = await asyncio.to_thread(subprocess.run, invite_argv, cwd=REPO, env=env, capture_output=True, text=True,
                                     timeout=60)
    if invite.returncode != 0 or "#uitnodiging=" not in invite.stdout:
        raise RuntimeError(f"oor volunteer invite failed:\n{invite.stdout}\n{invite.stderr}")
    token = invite.stdout.strip().split("#uitnodiging=", 1)[1]
    argv = [sys.executable, "-m", "server.cli", "serve", "--data", str(data),
            "--http", f"127.0.0.1:{http_port}", "--smtp", f"127.0.0.1:{smtp_port}"]
    server = ServerProcess("gateway", argv, env, work / "gateway.log", smtp_port, http_port)
    servers.append(server)
    await server.start()
    base = f"http://127.0.0.1:{http_port}"
    identity = crypto.new_identity()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=timeout) as http:
        kdf = crypto.KdfParams(1, 8 * 1024)
        salt = crypto.new_salt()
        keys = crypto.derive_volunteer_keys(PASSPHRASE, salt, kdf)
        body = {"invitation": token, "salt": crypto.b64encode(salt), "opslimit": kdf.opslimit, "memlimit": kdf.memlimit,
                "auth_key": crypto.b64encode(keys.auth_key),
                "x25519_public": crypto.b64encode(identity.x25519_public),
                "ed25519_public": crypto.b64encode(identity.ed25519_public),
                "wrapped_identity": crypto.b64encode(crypto.wrap_identity(keys.wrapping_key, identity)),
                "x25519_certificate": crypto.b64encode(crypto.sign_key_certificate(identity))}
        async with http.post("/api/enrol", json=body) as resp:
            if resp.status != 201:
                raise RuntimeError(f"enrol: {resp.status} {await resp.text()}")
        async with http.post("/api/login/start", json={"name": name}) as resp:
            start = await resp.json()
        params = crypto.KdfParams(start["kdf"]["opslimit"], start["kdf"]["memlimit"])
        keys = crypto.derive_volunteer_keys(PASSPHRASE, crypto.b64decode(start["salt"]), params)
        async with http.post("/api/login", json={"name": name, "auth_key": crypto.b64encode(keys.auth_key)}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"login: {resp.status} {await resp.text()}")
        async with http.post("/api/mail/availability", json={"mail": True}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"availability: {resp.status} {await resp.text()}")
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
# Argon2id at production cost.
# ---------------------------------------------------------------------------------------------

def time_argon2(runs: int) -> list[float]:
    """ms per crypto.derive_mailbox at crypto.PRODUCTION_KDF, after one warm-up derivation."""
    crypto.derive_mailbox(crypto.new_token_code(), "bench", crypto.PRODUCTION_KDF)
    times = []
    for _ in range(runs):
        token = crypto.new_token_code()
        t = time.perf_counter()
        crypto.derive_mailbox(token, "bench", crypto.PRODUCTION_KDF)
        times.append((time.perf_counter() - t) * 1e3)
    return times


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
    print(f"  {name:<8} {s['rate']:7.1f} mails/s  DATA->250 p50 {s['p50']:6.2f} ms  p99 {s['p99']:6.2f} ms  "
          f"max {s['max']:6.1f} ms  |  server {s['cpu_ms']:5.2f} CPU-ms/mail ({s['server_cores']:.2f} cores)  "
          f"client {s['client_cores']:.2f} cores  rest {rest:.2f} cores")
    extra = f"  return mails delivered {s['returns']:.1f}/s" if name == "gateway" else ""
    print(f"  {'':<8} {accepted} accepted, refused: {refusals}, connection errors {s['errors']}{extra}")
    return s


async def bench(args: argparse.Namespace) -> str:
    corpus = build_corpus(args.corpus)
    sizes = [len(d) for _, d in corpus]
    print(f"SMTP intake benchmark  {time.strftime('%Y-%m-%d %H:%M %Z')}  {platform.node()}")
    print(f"  {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")
    print(f"  {args.clients} clients, one SMTP session per mail; {args.rounds} round(s) of {args.warmup:g} s warm-up + "
          f"{args.seconds:g} s measured per server; corpus {len(corpus)} mails, {min(sizes)}-{max(sizes)} bytes "
          f"(mean {statistics.mean(sizes):.0f}); the bare server "
          + ("parses and extracts subject and text" if args.bare_extract else "parses and stores the raw mail")
          + ("; both store in PostgreSQL 15 (own cluster, its default durability: fsync and synchronous_commit on)"
             if args.postgres else "; both store in SQLite (WAL, synchronous=FULL)"))
    m0 = machine_cpu_seconds()
    await asyncio.sleep(2.0)
    busy = (machine_cpu_seconds() - m0) / 2.0
    warning = "  ** WARNING: something else is running; the figures below are disturbed **"
    print(f"  machine busy before the run: {busy:.2f} cores" + (warning if busy > BUSY_CORES else ""))
    cost = parse_cost(corpus, 3 if args.quick else 20)
    print("  parsing in this process: " + ", ".join(f"{k} {v:.3f} ms" for k, v in cost.items()))

    sink = await ReturnSink().start()
    servers: list[ServerProcess] = []
    postgres = await asyncio.to_thread(start_postgres, durable=True) if args.postgres else None
    urls = ({name: postgres.url(postgres.create_database()) for name in ("bare", "gateway")}
            if postgres is not None else {"bare": "", "gateway": ""})
    with tempfile.TemporaryDirectory(prefix="oor-bench-smtp-") as tmp:
        work = Path(tmp)
        try:
            bare = bare_server(work, args.bare_extract, urls["bare"])
            servers.append(bare)
            await bare.start()
            gateway = await gateway_server(work, sink.port, servers, urls["gateway"])
            for server in (bare, gateway):
                await check_server(server, corpus)
            owed = 5
            await drain_returns(sink, owed)
            if sink.delivered < owed:
                raise RuntimeError(f"the gateway sent {sink.delivered} of {owed} return mails:\n{gateway.log_tail()}")
            results: dict[str, list[Phase]] = {"bare": [], "gateway": []}
            for r in range(args.rounds):
                for server in ((bare, gateway) if r % 2 == 0 else (gateway, bare)):
                    phase, all_accepted = await run_phase(server, corpus, args.clients, args.warmup, args.seconds, sink)
                    results[server.name].append(phase)
                    drained = ""
                    if server is gateway:
                        owed += all_accepted
                        waited = await drain_returns(sink, owed)
                        drained = f", return-mail backlog drained in {waited:.1f} s"
                        if sink.delivered < owed:
                            drained = f", {owed - sink.delivered} return mails still queued after {waited:.0f} s"
                    flag = "  ** disturbed **" if phase.others > BUSY_CORES else ""
                    print(f"  round {r + 1} {server.name:<8} {phase.rate:7.1f} mails/s  p99 "
                          f"{percentile(phase.latencies, 99) * 1e3:6.2f} ms  other processes {phase.others:.2f} cores"
                          f"{drained}{flag}", flush=True)
            print("Results (all rounds):")
            disturbed = [f"round {r + 1} {name}" for name, phases in results.items()
                         for r, phase in enumerate(phases) if phase.others > BUSY_CORES]
            b = summarise("bare", results["bare"])
            g = summarise("gateway", results["gateway"])
            print(f"  return mails with a token that reached the relay sink: {sink.with_code} of {owed} owed")
            for server in servers:
                if server.proc is not None and server.proc.poll() is not None:
                    raise RuntimeError(f"{server.name} died during the run:\n{server.log_tail()}")
        finally:
            for server in servers:
                server.stop()
            await sink.stop()
            if postgres is not None:
                await asyncio.to_thread(stop_postgres, postgres)

    times = await asyncio.to_thread(time_argon2, 1 if args.quick else 3)
    argon2_ms = statistics.median(times)
    print(f"  Argon2id at production cost (crypto.PRODUCTION_KDF, 64 MiB, opslimit 3), derive_mailbox: "
          + ", ".join(f"{t:.0f}" for t in times) + " ms")
    ratio = g["rate"] / b["rate"]
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"  gateway/bare {ratio:.2f} ({verdict} the target of {TARGET_RATIO}); "
          f"CPU per mail gateway/bare {g['cpu_ms'] / b['cpu_ms']:.2f}")
    if disturbed or busy > BUSY_CORES:
        print(f"  ** WARNING: other processes used more than {BUSY_CORES} cores "
              f"({', '.join(disturbed) or 'before the run'}); these figures cannot be compared **")
    return f"ratio {ratio:.2f} p99_ms {g['p99']:.1f} argon2_ms {argon2_ms:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 1 s warm-up + 4 s per server")
    parser.add_argument("--clients", type=int, default=8, help="concurrent SMTP clients K (default 8)")
    parser.add_argument("--seconds", type=float, help="measured seconds per server and round (default 20)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per phase (default 3)")
    parser.add_argument("--rounds", type=int, help="rounds; each drives both servers (default 2)")
    parser.add_argument("--bare-extract", action="store_true",
                        help="the bare server also extracts subject and body text (a stricter baseline)")
    parser.add_argument("--corpus", type=int, default=40, help="distinct mails in the corpus (default 40)")
    parser.add_argument("--postgres", action="store_true",
                        help="both servers store in PostgreSQL (a cluster this run starts) instead of SQLite")
    args = parser.parse_args()
    args.seconds = args.seconds if args.seconds is not None else (4.0 if args.quick else 20.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 2)
    if not (1 <= args.clients <= 256 and 0 < args.seconds <= 300 and 0 <= args.warmup <= 60
            and 1 <= args.rounds <= 10 and 5 <= args.corpus <= 1000):
        parser.error("out of range: 1-256 clients, 0-300 s, 0-60 s warm-up, 1-10 rounds, 5-1000 mails")

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
