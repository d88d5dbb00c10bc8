"""Browser benchmark: what a person waits for, in Debian's Chromium, at production settings.

    .venv/bin/python bench/browser.py              # 3 runs of each journey at 1x and at 4x, about 2 min
    .venv/bin/python bench/browser.py --runs 1 --top-runs 1    # smoke run, under a minute

It starts a real `oor serve` (temporary data folder, free ports) with the production defaults of
`server/config.py`: Argon2id at 64 MiB and 3 passes, the proof-of-work schedule, every limit. Not
tests/conftest.py's INSECURE_TEST_ENV: nothing here is lowered. Only the data folder, the ports
and `public_url` are set. Chromium is Debian's (/usr/bin/chromium, never `playwright install`),
headless, with the test suite's flags; CPU throttling is the DevTools protocol's
`Emulation.setCPUThrottlingRate` (rate 4: "4x slowdown", the usual stand-in for a low-end phone),
set on each page before it loads.

One volunteer is played by this process, over the protocol client (client/): invited as
`oor volunteer invite NAME --chat --mail` invites, enrolled and logged in through the API, on
`/ws/volunteer` and available for chat (so that "Start een chat" is offered and a help-seeker can
be queued) and for mail (so that a mail is assigned, and it writes the replies that are opened).

Steps, each timed from the click to what the person sees (wall clock of this process, around
Playwright's waits), at 1x and 4x, median of `--runs`:

  chat_start   /chat: "Start een chat" until "Je bent nummer 1 in de rij" (challenge, proof-of-work
               at the difficulty the server asks, websocket, `open`, `queued`); then "Stoppen met
               wachten", so the queue stays empty
  enrol        /inschrijven#uitnodiging=...: "Account aanmaken" until the account is ready (Argon2id,
               keys, wrap, POST)
  login        /vrijwilliger: "Inloggen" until the workspace shows (Argon2id, unwrap, session)
  mail_send    /mail: "Versturen" until the personal code shows (challenge, proof-of-work, the token's
               Argon2id, seal, POST)
  mail_open    /mail/terug: "Openen" with the code of a mail the volunteer answered, until the
               answer shows (Argon2id of the token, open)

Proof-of-work at every difficulty the server can ask: the solver's hash rate in the page
(`solvePow` at 32 bits for `--rate-seconds`, hashes counted by its progress callback), hence the
expected solve time 2^bits / rate for each bits from `pow_base_bits` to `pow_max_bits`; and, from
a second server whose base is its maximum (production otherwise), chat_start at the top difficulty,
median of `--top-runs` (one solve's time is geometric: its median is about 0.7 times its mean).

Bytes: for /chat, /mail and /vrijwilliger, what the page transfers until the network is idle
(DevTools `Network.loadingFinished` encodedDataLength: headers and body as received), on a first
visit (a fresh browser context: empty cache) and a repeat visit (a new tab in the same context),
and how many requests went to the server (a 304 counts, a cache hit does not). kB = 1000 bytes.

The last line reads

    chat_start_s_4x C mail_send_s_4x M login_s_4x L chat_kb_first F chat_requests_repeat R

(medians at 4x, seconds; /chat's first-visit kilobytes; /chat's requests on a repeat visit).
Absolute times depend on the machine: run it on an otherwise idle one (it prints a WARNING when
more than 15% of the CPUs were busy just before), and compare runs of one machine. It never gates
CI. There is no bare baseline to divide by: what a person waits for here is the page's own work
(Argon2id, the proof-of-work, sealing), which a bare server does not do; the hash rate line is the
machine's yardstick instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

import crypto  # noqa: E402
from bench.support.transparency import KeyGate  # noqa: E402  (the key gate, issue 17)
from client.chat import Volunteer  # noqa: E402
from client.mail import MailVolunteer  # noqa: E402
from client.volunteer import enrolment_body, login_body  # noqa: E402
from server.config import Config  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RATES = (1, 4)
PASSPHRASE = "paarse olifant fietst langs de zee"
MAIL_TEXT = "Sinds de scheiding voel ik me zo leeg, ik weet niet bij wie ik terecht kan."
REPLY_TEXT = "Dank je voor je bericht. Wat fijn dat je het opschrijft; ik lees met aandacht mee."
STEP_TIMEOUT_MS = 180_000
PAGES = ("/chat", "/mail", "/vrijwilliger")
DEFAULTS = Config()


def say(text: str) -> None:
    """Progress, on stderr: stdout is the report alone."""
    print(text, file=sys.stderr, flush=True)


def letters(i: int) -> str:
    """A name part of letters only (volunteer names are letters, spaces and hyphens)."""
    out = ""
    i += 26 * 26
    while i:
        i, r = divmod(i, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[r] + out
    return out.capitalize()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the server -------------------------------------------------------------------------------------

@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    env: dict[str, str] = field(repr=False)
    log: Path
    gate: KeyGate

    def invite(self, name: str) -> str:
        """The enrolment link `oor volunteer invite NAME --chat --mail` prints."""
        done = subprocess.run([sys.executable, "-m", "server.cli", "volunteer", "invite", name, "--chat", "--mail",
                               "--data", str(self.data_dir)], env=self.env, cwd=REPO, capture_output=True,
                              text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"oor volunteer invite failed: {done.stderr}")
        return done.stdout.strip()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_server(tmp: Path, name: str, gate: KeyGate, extra_env: dict[str, str] | None = None) -> Server:
    """`oor serve` at production settings (no OOR_* from our environment, none of the test suite's), with
    the key gate as deployed (bench/support/transparency.py): this run's root key, witness_quorum 1 and a
    witness, the release published first."""
    port, smtp_port = free_port(), free_port()
    data = tmp / name
    log = tmp / f"{name}.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OOR_")},
           "OOR_PUBLIC_URL": f"http://127.0.0.1:{port}", **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    env = gate.server_env(env, data, name)
    gate.publish(data, env)
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--data", str(data),
                                 "--http", f"127.0.0.1:{port}", "--smtp", f"127.0.0.1:{smtp_port}"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"oor serve exited early:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return Server(proc, f"http://127.0.0.1:{port}", data, env, log, gate)
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"oor serve did not start:\n{log.read_text(errors='replace')}")


# -- the volunteer this process plays ----------------------------------------------------------------

class ProtocolVolunteer:
    """One volunteer over the protocol client: available for chat on /ws/volunteer and for mail."""

    def __init__(self, server: Server, name: str) -> None:
        self.server, self.name = server, name
        self.identity = crypto.new_identity()
        self.http = aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.mail = MailVolunteer(self.http, self.identity)
        self.ws: Any = None
        self.drain: asyncio.Task[None] | None = None
        self.answered: set[str] = set()

    async def start(self) -> None:
        link = self.server.invite(self.name)
        token = link.split("#uitnodiging=", 1)[1]
        # Production Argon2id, off the loop (the body builder derives the keys).
        body = await asyncio.to_thread(enrolment_body, token, PASSPHRASE, crypto.PRODUCTION_KDF, self.identity)
        async with self.http.post("/api/enrol", json=body) as resp:
            if resp.status != 201:
                raise RuntimeError(f"enrol: {resp.status} {await resp.text()}")
        # The coordinators sign the key statement (`oor keys pending`, `oor root sign`, `oor keys import`)
        # and the server's log takes it in, before anything is timed: then chats and mail reach it.
        size = await asyncio.to_thread(self.server.gate.sign, self.server.data_dir, self.server.env, expect=1)
        await self.server.gate.wait_ready([self.server.url], size)
        async with self.http.post("/api/login", json=await login_body(self.http, self.name, PASSPHRASE)) as resp:
            if resp.status != 200:
                raise RuntimeError(f"login: {resp.status} {await resp.text()}")
        await self.mail.available(True)
        self.ws = await self.http.ws_connect("/ws/volunteer", headers={"Origin": self.server.url})
        await Volunteer(self.ws, self.identity).available(True)
        self.drain = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        """Read (and drop) the queue frames, so that the socket answers the server's heartbeat."""
        async for _ in self.ws:
            pass

    async def answer_new_mail(self) -> int:
        """Reply to every thread not answered yet; how many."""
        count = 0
        for thread in await self.mail.inbox():
            key = thread["thread"]
            if key in self.answered:
                continue
            data, _ = await self.mail.read(key)
            resp = await self.mail.reply(data, REPLY_TEXT)
            if resp.status not in (200, 201):
                raise RuntimeError(f"reply: {resp.status} {await resp.text()}")
            self.answered.add(key)
            count += 1
        return count

    async def close(self) -> None:
        if self.drain is not None:
            self.drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.drain
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()


# -- pages --------------------------------------------------------------------------------------------

@dataclass
class Transfer:
    bytes: int = 0
    requests: int = 0  # that reached the server (a 304 included)
    resources: int = 0  # every resource the page used, cache hits included


async def throttled_page(context: Any, rate: int) -> tuple[Any, Any]:
    """A new tab with its DevTools session, CPU-throttled at `rate` from its first load on."""
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
    return page, cdp


async def timed(action: Callable[[], Awaitable[Any]], until: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await action()
    await until()
    return time.perf_counter() - started


async def visible(page: Any, selector: str, text: str | None = None) -> None:
    locator = page.locator(selector, has_text=text) if text else page.locator(selector)
    await locator.first.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)


async def chat_start(browser: Any, server: Server, rate: int) -> float:
    context = await browser.new_context(locale="nl-NL")
    try:
        page, _ = await throttled_page(context, rate)
        await page.goto(server.url + "/chat")
        await visible(page, "#start")
        took = await timed(lambda: page.click("#start"), lambda: visible(page, "#positie", "nummer"))
        await page.click("#stoppen")  # leave the queue: the next run's difficulty stays the base
        await visible(page, "#einde")
        return took
    finally:
        await context.close()


async def enrol_and_login(browser: Any, server: Server, rate: int, name: str) -> tuple[float, float]:
    link = await asyncio.to_thread(server.invite, name)
    context = await browser.new_context(locale="nl-NL")
    try:
        page, _ = await throttled_page(context, rate)
        await page.goto(link)
        await visible(page, "#inschrijven")
        await page.fill("#wachtwoordzin", PASSPHRASE)
        await page.fill("#herhaal", PASSPHRASE)
        enrol = await timed(lambda: page.click("#inschrijven button[type=submit]"), lambda: visible(page, "#klaar"))
        await page.goto(server.url + "/vrijwilliger")
        await visible(page, "#inlogformulier")
        await page.fill("#naam", name)
        await page.fill("#wachtwoordzin", PASSPHRASE)
        login = await timed(lambda: page.click("#inlogformulier button[type=submit]"),
                            lambda: visible(page, "#werkplek"))
        return enrol, login
    finally:
        await context.close()


async def mail_send(browser: Any, server: Server, rate: int) -> tuple[float, str]:
    context = await browser.new_context(locale="nl-NL")
    try:
        page, _ = await throttled_page(context, rate)
        await page.goto(server.url + "/mail")
        await page.fill("#bericht", MAIL_TEXT)
        took = await timed(lambda: page.click("#schrijven button[type=submit]"), lambda: visible(page, "#code-kaart"))
        code = (await page.text_content("#code") or "").strip()
        return took, code
    finally:
        await context.close()


async def mail_open(browser: Any, server: Server, rate: int, code: str) -> float:
    context = await browser.new_context(locale="nl-NL")
    try:
        page, _ = await throttled_page(context, rate)
        await page.goto(server.url + "/mail/terug")
        await page.fill("#code", code)
        return await timed(lambda: page.click("#code-formulier button"),
                           lambda: visible(page, "#berichten li.theirs", REPLY_TEXT[:20]))
    finally:
        await context.close()


async def transfer_of(page: Any, cdp: Any, url: str) -> Transfer:
    """What loading `url` in `page` transfers, until the network has been idle for 500 ms."""
    got = Transfer()
    cached: set[str] = set()
    from_network: set[str] = set()
    finished: dict[str, int] = {}

    def on_response(event: dict[str, Any]) -> None:
        response = event["response"]
        if not (response.get("fromDiskCache") or response.get("fromPrefetchCache")
                or response.get("fromServiceWorker")) and not response["url"].startswith("data:"):
            from_network.add(event["requestId"])

    cdp.on("Network.requestServedFromCache", lambda e: cached.add(e["requestId"]))
    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.loadingFinished", lambda e: finished.__setitem__(e["requestId"], int(e["encodedDataLength"])))
    await cdp.send("Network.enable")
    await page.goto(url, wait_until="networkidle")
    await cdp.send("Network.disable")
    got.resources = len(finished)
    got.bytes = sum(finished.values())
    got.requests = len([r for r in finished if r in from_network and r not in cached])
    return got


async def page_transfers(browser: Any, server: Server) -> dict[str, tuple[Transfer, Transfer]]:
    out: dict[str, tuple[Transfer, Transfer]] = {}
    for path in PAGES:
        context = await browser.new_context(locale="nl-NL")
        try:
            page, cdp = await throttled_page(context, 1)
            first = await transfer_of(page, cdp, server.url + path)
            again, again_cdp = await throttled_page(context, 1)
            repeat = await transfer_of(again, again_cdp, server.url + path)
            out[path] = (first, repeat)
        finally:
            await context.close()
    return out


HASH_RATE_JS = """async (seconds) => {
  const oc = await import("/static/js/crypto.js");
  await oc.ready();
  const challenge = new Uint8Array(32).fill(7);  // 32 bits: it will not finish; count what it tried
  const stop = new AbortController();
  let tried = 0;
  let at = 0;
  const started = performance.now();
  setTimeout(() => stop.abort(), seconds * 1000);
  try {
    await oc.solvePow(challenge, 32, {
      signal: stop.signal,
      onProgress: (n) => { tried = n; at = performance.now(); },
    });
  } catch (err) {
    if (err.name !== "AbortError") throw err;
  }
  return { tried, ms: at - started };
}"""


async def hash_rate(browser: Any, server: Server, rate: int, seconds: float) -> float:
    """Hashes per second of the page's solver (web/js/crypto/pow.js) at this throttling."""
    context = await browser.new_context(locale="nl-NL")
    try:
        page, _ = await throttled_page(context, rate)
        await page.goto(server.url + "/chat")
        got = await page.evaluate(HASH_RATE_JS, seconds)
        return float(got["tried"]) / (float(got["ms"]) / 1000)
    finally:
        await context.close()


# -- the run ------------------------------------------------------------------------------------------

def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{median(values):6.2f}  ({min(values):.2f} .. {max(values):.2f}, n={len(values)})"


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    from playwright.async_api import async_playwright
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def journeys(browser: Any, server: Server, runs: int) -> dict[tuple[str, int], list[float]]:
    times: dict[tuple[str, int], list[float]] = {}
    volunteer = ProtocolVolunteer(server, "Bench Vrijwilliger")
    await volunteer.start()
    n = 0
    try:
        for rate in RATES:
            for run in range(runs):
                say(f"  {rate}x run {run + 1}/{runs}")
                times.setdefault(("chat_start", rate), []).append(await chat_start(browser, server, rate))
                n += 1
                enrol, login = await enrol_and_login(browser, server, rate, f"Vrijwilliger {letters(n)}")
                times.setdefault(("enrol", rate), []).append(enrol)
                times.setdefault(("login", rate), []).append(login)
                took, code = await mail_send(browser, server, rate)
                times.setdefault(("mail_send", rate), []).append(took)
                if await volunteer.answer_new_mail() != 1:
                    raise RuntimeError("the volunteer did not get the mail just sent")
                times.setdefault(("mail_open", rate), []).append(await mail_open(browser, server, rate, code))
    finally:
        await volunteer.close()
    return times


async def top_difficulty(browser: Any, tmp: Path, runs: int, gate: KeyGate) -> dict[int, list[float]]:
    """chat_start on a server that always asks its maximum difficulty (production otherwise)."""
    server = start_server(tmp, "top", gate, {"OOR_POW_BASE_BITS": str(DEFAULTS.pow_max_bits)})
    volunteer = ProtocolVolunteer(server, "Bench Vrijwilliger")
    out: dict[int, list[float]] = {}
    try:
        await volunteer.start()
        for rate in RATES:
            for run in range(runs):
                say(f"  top difficulty, {rate}x run {run + 1}/{runs}")
                out.setdefault(rate, []).append(await chat_start(browser, server, rate))
    finally:
        await volunteer.close()
        server.stop()
    return out


def cpu_busy_elsewhere(seconds: float = 1.0) -> float:
    """Share of the machine's CPUs busy over `seconds` (before the run: is the machine idle?)."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each journey per throttling rate (median)")
    parser.add_argument("--top-runs", type=int, default=5, help="chat starts at the top difficulty per rate")
    parser.add_argument("--rate-seconds", type=float, default=4.0, help="how long the hash rate is measured")
    args = parser.parse_args()

    busy = cpu_busy_elsewhere()
    tmp = Path(tempfile.mkdtemp(prefix="oor-bench-browser-"))
    gate = KeyGate(tmp)  # the root key; a witness per server's log
    try:
        server = start_server(tmp, "main", gate)
    except BaseException:
        gate.stop()
        raise
    try:
        async with chromium() as browser:
            version = browser.version
            say("page transfers")
            transfers = await page_transfers(browser, server)
            say("hash rate")
            rates = {rate: await hash_rate(browser, server, rate, args.rate_seconds) for rate in RATES}
            say("journeys")
            times = await journeys(browser, server, args.runs)
            server.stop()
            say("proof-of-work at the top difficulty")
            top = await top_difficulty(browser, tmp, args.top_runs, gate) if args.top_runs > 0 else {}
    finally:
        server.stop()
        gate.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    base, top_bits = DEFAULTS.pow_base_bits, DEFAULTS.pow_max_bits
    print(f"# bench/browser.py  Chromium {version}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"CPU busy before the run {busy:.0%}")
    print(f"# production settings: Argon2id {crypto.PRODUCTION_KDF.memlimit // 2**20} MiB x "
          f"{crypto.PRODUCTION_KDF.opslimit}, proof-of-work {base}..{top_bits} bits")
    if busy > 0.15:
        print(f"WARNING: the machine was {busy:.0%} busy before the run; these figures cannot be compared")
    print()
    print("step (seconds, median (min .. max))     1x                               4x")
    for step in ("chat_start", "enrol", "login", "mail_send", "mail_open"):
        print(f"{step:<16}{spread(times.get((step, 1), [])):<41}{spread(times.get((step, 4), []))}")
    if top:
        print(f"{'chat_start@' + str(top_bits):<16}{spread(top.get(1, [])):<41}{spread(top.get(4, []))}")
    print()
    print("proof-of-work: solver hash rate and expected solve time (2^bits / rate)")
    print(f"  hash rate      1x {rates[1]:>10,.0f} /s    4x {rates[4]:>10,.0f} /s")
    for bits in range(base, top_bits + 1):
        print(f"  {bits:2d} bits        1x {2**bits / rates[1]:8.2f} s      4x {2**bits / rates[4]:8.2f} s")
    print()
    print("page            first visit (kB, requests)   repeat visit (kB, requests to the server / resources)")
    for path, (first, repeat) in transfers.items():
        print(f"{path:<16}{first.bytes / 1000:8.1f} kB {first.requests:4d}         "
              f"{repeat.bytes / 1000:8.1f} kB {repeat.requests:4d} / {repeat.resources}")
    print()
    chat_first, chat_repeat = transfers["/chat"]
    print(f"chat_start_s_4x {median(times[('chat_start', 4)]):.2f} "
          f"mail_send_s_4x {median(times[('mail_send', 4)]):.2f} "
          f"login_s_4x {median(times[('login', 4)]):.2f} "
          f"chat_kb_first {chat_first.bytes / 1000:.1f} "
          f"chat_requests_repeat {chat_repeat.requests}")


if __name__ == "__main__":
    asyncio.run(main())
