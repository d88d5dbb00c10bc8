"""Issue 17's attack, as an attacker would run it: a proxy that rewrites frames between a real Chromium
help-seeker page and the real server (tests/browser/frameproxy.py), and the page that now refuses.

Before issue 17 the page checked the volunteer's signature against an identity key from the same frame,
so a proxy that swapped identity key, chat key and signature in `connected` read the whole chat. Now the
page also requires the key's proof (crypto/PROTOCOL.md 14): a root-signed statement for exactly that key,
in a checkpoint signed by the log key and cosigned by the witnesses the trust configuration requires.
Each variant here breaks one link of that chain and shows the page refusing: the unreliable-connection
message, nothing shown, no plaintext sent (the proxy tries its own keys on everything the page sends).
The Python mirror of the page's check names the exact reason for each forged proof, so a variant cannot
pass by failing for an unrelated reason. The good path runs through the same proxy, unchanged.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from server.keys import CONFIG, STORAGE
from server.transparency.log import LOG, trust_config
from tests.browser.conftest import assert_accessible
from tests.browser.frameproxy import FrameProxy, key_proof, signed_checkpoint
from tests.browser.inprocess import InProcessServer, api_volunteer, start_in_process, stop_in_process
from tests.browser.test_enrolment import wait_text
from tests.chatclient import Staff, Volunteer
from tests.transparency import robot_root

FIRST = "Ik weet niet meer wat ik moet doen"
REPLY = "Ik ben er, vertel maar."
UNRELIABLE = "niet meer betrouwbaar"  # chat_broken
MAIL_UNVERIFIED = "niet betrouwbaar"  # mail_key_unverified
PHONE = {"width": 375, "height": 667}


@pytest.fixture
async def server(tmp_path: Path, database: Any) -> AsyncIterator[InProcessServer]:
    srv = await start_in_process(tmp_path, database=database)
    yield srv
    await stop_in_process(srv)


@pytest.fixture
async def proxy(server: InProcessServer) -> AsyncIterator[FrameProxy]:
    made = await FrameProxy(server.url).start()
    yield made
    await made.stop()


async def chat_volunteer(server: InProcessServer, http: aiohttp.ClientSession, name: str = "Pim") -> Volunteer:
    """A volunteer speaking the real protocol from Python, once the robot signed and logged their keys."""
    return await staff_member(server, http, name)


async def staff_member(server: InProcessServer, http: aiohttp.ClientSession, name: str, role: str = "volunteer",
                       available: bool = True) -> Staff:
    """A staff page in Python (client/links.py): a volunteer, a mentor or a partner, with logged keys."""
    from server import accounts
    from server.keys import CLOCK
    from tests.helpers import PASSPHRASE, enrolment_body, login_body
    from tests.transparency import wait_ready
    app = server.app
    inv = await accounts.invite(app[STORAGE], app[CONFIG], name, role, True, True, app[CLOCK]())
    identity = crypto.new_identity()
    body = enrolment_body(inv.url.split("#uitnodiging=", 1)[1], identity=identity)
    assert (await http.post("/api/enrol", json=body)).status == 201
    assert (await http.post("/api/login", json=await login_body(http, name, PASSPHRASE))).status == 200
    await wait_ready(app, name=name)
    member = Staff(await http.ws_connect("/ws/volunteer", headers={"Origin": server.url}), identity)
    await member.next("queue")
    if available:
        await member.available(True)
    return member


def session(server: InProcessServer) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True))


def trust(server: InProcessServer) -> dict[str, Any]:
    return trust_config(server.app[CONFIG])


def reason(server: InProcessServer, proof: Any, ed25519_public: bytes, x25519_public: bytes | None = None) -> str:
    """Why the page's check refuses this proof for this key (the Python mirror of oc.verifyKeyProof)."""
    try:
        crypto.verify_key_proof(trust(server), proof, ed25519_public=ed25519_public, x25519_public=x25519_public,
                                now=int(time.time()))
    except crypto.ProofError as exc:
        return exc.reason
    return "accepted"


async def log_state(server: InProcessServer) -> tuple[list[bytes], str, list[bytes]]:
    """The server's log as storage holds it: its entries, the latest checkpoint, the revoked account ids."""
    storage = server.app[STORAGE]
    size, note = await storage.latest_checkpoint()
    entries = await storage.log_entries(0, size)
    revoked = []
    for entry in entries:
        decoded = crypto.decode_entry(entry)
        if decoded.statement is not None:
            statement = crypto.decode_statement(decoded.statement)
            if statement.kind == crypto.KIND_REVOCATION:
                revoked.append(statement.account_id)
    return entries, note, sorted(set(revoked))


class Attacker:
    """The proxy's part: its own identity and chat key in place of a staff member's in the frames named in
    `targets` (`connected`, `mentor-joined`, `handed-over`), signed over the key the page made for that session,
    and an attempt to open every message the page sends with them."""

    def __init__(self, identity: crypto.Identity | None = None, targets: tuple[str, ...] = ("connected",)) -> None:
        self.identity = identity or crypto.new_identity()
        self.targets = targets
        self.chat_id: bytes | None = None
        self.page_keys: dict[str, bytes] = {}  # the page's public key for each kind of session
        self.sessions: list[crypto.ChatSession] = []
        self.swapped = asyncio.Event()
        self.opened: list[bytes] = []
        self.proof: Any = None  # what replaces the real proof, if anything (None: the real one stays)

    def up(self, frame: dict[str, Any]) -> None:
        kind = {"open": "connected", "mentor-key": "mentor-joined", "handover-accept": "handed-over"}.get(frame.get("t"))
        if kind is not None:
            self.page_keys[kind] = crypto.b64decode(frame["pub"])
        elif frame.get("t") in ("msg", "mmsg"):
            for session in self.sessions:
                try:
                    self.opened.append(session.open(frame["seq"], crypto.b64decode(frame["ct"])))
                except crypto.CryptoError:
                    pass

    def down(self, frame: dict[str, Any]) -> dict[str, Any]:
        kind = frame.get("t")
        if kind == "queued":
            self.chat_id = crypto.b64decode(frame["chat"])
        elif kind in self.targets and kind in self.page_keys:
            chat_id = self.chat_id if kind == "connected" else crypto.b64decode(frame["chat"])
            assert chat_id is not None
            mine = crypto.new_chat_keypair()
            sig = crypto.sign_chat_offer(self.identity, chat_id, self.page_keys[kind], mine.public)
            self.sessions.append(crypto.ChatSession.for_volunteer(chat_id, mine, self.page_keys[kind]))
            frame = {**frame, "identity": crypto.b64encode(self.identity.ed25519_public),
                     "pub": crypto.b64encode(mine.public), "sig": crypto.b64encode(sig)}
            if self.proof is not None:
                frame["proof"] = self.proof
            self.swapped.set()
        return frame


def rogue_entry(server: InProcessServer, identity: crypto.Identity, signer: Any, name: str = "Pim") -> bytes:
    """A key statement for the attacker's own keys, signed by `signer` (the root, or a key of its own)."""
    now = int(time.time())
    statement = crypto.Statement(crypto.KIND_KEY, server.app[CONFIG].deployment_id, bytes(range(16)), "volunteer",
                                 name, identity.x25519_public, identity.ed25519_public, now - 3600, now + 86400)
    encoded = crypto.encode_statement(statement)
    return crypto.statement_entry(encoded, signer.sign(encoded))


def server_log_key(server: InProcessServer) -> Any:
    """The server's own log key: a compromised server holds it."""
    from server.transparency.log import read_log_key
    return read_log_key(server.app[CONFIG])


async def start_chat(page: Any, base: str) -> None:
    await page.goto(base + "/chat")
    await page.click("#start")
    await wait_text(page, "#positie", "nummer 1 in de rij")
    # Typed while waiting: the page sends it the moment a verified volunteer picks up, and not before.
    await page.fill("#bericht", FIRST)
    await page.press("#bericht", "Enter")


async def refused(page: Any, server: InProcessServer, proxy: FrameProxy, attacker: Attacker) -> None:
    """The page refused the swapped key: the unreliable-connection message, nothing shown, nothing sealed."""
    await wait_text(page, "#reden", UNRELIABLE)
    assert attacker.swapped.is_set()
    assert "Je praat met" not in await page.locator("#gesprek-kop").inner_text()
    assert not any(f.get("t") in ("msg", "mmsg") for f in proxy.from_page), proxy.from_page
    assert attacker.opened == []
    assert any(f.get("t") == "end" for f in proxy.from_page)  # and it told the server it stopped
    assert not [f for d, f in server.frames if d == 1]  # the relay never saw a message from the help-seeker
    await assert_accessible(page)


@pytest.mark.browser
async def test_good_path_through_the_proxy_the_page_verifies_and_talks(
        page: Any, server: InProcessServer, proxy: FrameProxy) -> None:
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await chat_volunteer(server, http)
        await start_chat(page, proxy.url)
        chat_id = await volunteer.pick_up()
        await wait_text(page, "#gesprek-kop", "Je praat met Pim")
        assert await volunteer.hear() == (chat_id, FIRST)
        await volunteer.say(chat_id, REPLY)
        await page.locator("#berichten li.theirs", has_text=REPLY).wait_for()
        connected = next(f for f in proxy.to_page_sent if f["t"] == "connected")
        assert reason(server, connected["proof"], volunteer.identity.ed25519_public) == "accepted"
        assert not page.problems, page.problems


@pytest.mark.browser
async def test_a_proxy_that_swaps_the_volunteers_keys_in_connected_is_refused_and_reads_nothing(
        page: Any, server: InProcessServer, proxy: FrameProxy) -> None:
    attacker = Attacker()
    proxy.to_page, proxy.to_server = attacker.down, attacker.up
    await page.set_viewport_size(PHONE)  # the refusal reads on a phone too
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await chat_volunteer(server, http)
        await start_chat(page, proxy.url)
        await volunteer.pick_up()
        await refused(page, server, proxy, attacker)
        assert await page.locator("#einde-kop").is_visible()
        # The real proof was kept: it is a good proof, of the real volunteer's key, not of the proxy's.
        connected = next(f for f in proxy.to_page_sent if f["t"] == "connected")
        assert reason(server, connected["proof"], volunteer.identity.ed25519_public) == "accepted"
        assert reason(server, connected["proof"], attacker.identity.ed25519_public) == "keys"


@pytest.mark.browser
@pytest.mark.parametrize("forgery", ["own-log-key", "not-the-root", "no-proof"])
async def test_a_proxy_with_a_forged_log_is_refused(
        page: Any, server: InProcessServer, proxy: FrameProxy, forgery: str) -> None:
    """(b) a statement for the proxy's key, even signed by the real root, in a log of its own checkpoint key:
    refused for the log signature; (c) a rogue statement signed by a key that is not the root, in a checkpoint
    signed with the server's real log key (a compromised server holds it): refused for the root signature;
    and a `connected` frame without any proof."""
    attacker = Attacker()
    proxy.to_page, proxy.to_server = attacker.down, attacker.up
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await chat_volunteer(server, http)
        entries, _, revoked = await log_state(server)
        origin = trust(server)["log"]["origin"]
        if forgery == "own-log-key":
            forged = [*entries, rogue_entry(server, attacker.identity, robot_root())]
            note = signed_checkpoint(forged, origin, crypto.NoteKey.generate(origin), revoked)
            attacker.proof, expected = key_proof(forged, len(forged) - 1, note, revoked), "log-signature"
        elif forgery == "not-the-root":
            forged = [*entries, rogue_entry(server, attacker.identity, crypto.RootKey.generate())]
            note = signed_checkpoint(forged, origin, server_log_key(server), revoked)
            attacker.proof, expected = key_proof(forged, len(forged) - 1, note, revoked), "root-signature"
        else:
            attacker.proof, expected = {}, "malformed"
        assert reason(server, attacker.proof, attacker.identity.ed25519_public) == expected
        await start_chat(page, proxy.url)
        await volunteer.pick_up()
        await refused(page, server, proxy, attacker)


@pytest.mark.browser
@pytest.mark.parametrize("hide", [False, True])
async def test_a_proof_for_a_revoked_account_is_refused(
        page: Any, server: InProcessServer, proxy: FrameProxy, hide: bool) -> None:
    """(d) A volunteer who left kept their keys and works with the server: their account is deactivated,
    the revocation signed and logged. The proxy answers a chat with their key and a proof of their old
    statement in the current checkpoint: refused as revoked, or, with their id left out of the revoked
    list, for a revoked set that is not the checkpoint's."""
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        gone = await api_volunteer(server, http, "Bram")
    storage, log = server.app[STORAGE], server.app[LOG]
    bram = await storage.volunteer_by_name("Bram")
    assert await storage.set_active("Bram", False)
    deadline = time.monotonic() + 30
    while log.status_for(bram.account_id) != "revoked":
        assert time.monotonic() < deadline, log.status_for(bram.account_id)
        await asyncio.sleep(0.1)
    entries, note, revoked = await log_state(server)
    assert bram.account_id in revoked
    index = next(i for i, e in enumerate(entries) if crypto.decode_entry(e).statement is not None
                 and crypto.decode_statement(crypto.decode_entry(e).statement).account_id == bram.account_id
                 and crypto.decode_statement(crypto.decode_entry(e).statement).kind == crypto.KIND_KEY)
    attacker = Attacker(gone.identity)
    attacker.proof = key_proof(entries, index, note, [r for r in revoked if not (hide and r == bram.account_id)])
    assert reason(server, attacker.proof, gone.identity.ed25519_public) == ("revoked-set" if hide else "revoked")
    proxy.to_page, proxy.to_server = attacker.down, attacker.up
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        volunteer = await chat_volunteer(server, http)
        await start_chat(page, proxy.url)
        await volunteer.pick_up()
        await refused(page, server, proxy, attacker)


@pytest.mark.browser
async def test_a_proxy_that_swaps_the_mail_recipient_key_is_refused_and_nothing_is_stored(
        page: Any, server: InProcessServer, proxy: FrameProxy) -> None:
    """(e) The same attack on `/api/mail/assign`: the proxy's own keys, with a valid certificate of its own
    identity key and the real volunteer's proof. The page refuses to encrypt; no thread is stored."""
    evil = crypto.new_identity()
    swapped: list[dict[str, Any]] = []

    def swap(answer: dict[str, Any]) -> dict[str, Any]:
        volunteer = dict(answer["volunteer"])
        volunteer.update(x25519_public=crypto.b64encode(evil.x25519_public),
                         ed25519_public=crypto.b64encode(evil.ed25519_public),
                         certificate=crypto.b64encode(crypto.sign_key_certificate(evil)))
        swapped.append(volunteer)
        return {**answer, "volunteer": volunteer}

    proxy.answers["/api/mail/assign"] = swap
    await page.set_viewport_size(PHONE)
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        real = await api_volunteer(server, http, "Sanne")
        await page.goto(proxy.url + "/mail")
        await page.fill("#bericht", FIRST)
        await page.click("#schrijven button")
        await page.locator("#fout", has_text=MAIL_UNVERIFIED).wait_for(timeout=60_000)
    assert swapped and reason(server, swapped[0]["proof"], evil.ed25519_public, evil.x25519_public) == "keys"
    assert reason(server, swapped[0]["proof"], real.identity.ed25519_public, real.identity.x25519_public) == "accepted"
    assert "POST /api/mail/threads" not in proxy.requests
    assert await page.is_hidden("#code-kaart")
    assert server.store.rows("SELECT COUNT(*) FROM mail_threads") == [(0,)]
    assert server.store.rows("SELECT COUNT(*) FROM mail_messages") == [(0,)]
    await assert_accessible(page)


@pytest.mark.browser
async def test_mail_good_path_through_the_proxy(page: Any, server: InProcessServer, proxy: FrameProxy) -> None:
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await api_volunteer(server, http, "Sanne")
        await page.goto(proxy.url + "/mail")
        await page.fill("#bericht", FIRST)
        await page.click("#schrijven button")
        await page.wait_for_selector("#code-kaart:not([hidden])", timeout=60_000)
    assert "POST /api/mail/threads" in proxy.requests
    assert server.store.rows("SELECT COUNT(*) FROM mail_threads") == [(1,)]
    assert not page.problems, page.problems


ORIGIN = "luisterend-oor.test/log"


@pytest.fixture
async def witnessed(tmp_path: Path, database: Any) -> AsyncIterator[InProcessServer]:
    """The in-process server with a real witness (`oor witness serve`, its own process and state) and a trust
    configuration that requires one cosignature: the log key is made first (`oor log init`), the witness is
    told its vkey, and the server is told the witness's."""
    from tests.conftest import INSECURE_TEST_ENV, REPO, free_port
    env = {k: v for k, v in os.environ.items() if not k.startswith("OOR_")}
    env.update(INSECURE_TEST_ENV, OOR_LOG_ORIGIN=ORIGIN)

    def oor(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "server.cli", *args], env=env, cwd=REPO, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[0]

    log_line = oor("log", "init", "--data", str(tmp_path / "var"))
    witness_vkey = oor("witness", "init", "--key", str(tmp_path / "witness.key"), "--name", "witness.test/oor")
    port = free_port()
    witness = subprocess.Popen([sys.executable, "-m", "server.cli", "witness", "serve", "--key",
                                str(tmp_path / "witness.key"), "--state", str(tmp_path / "witness.state"),
                                "--log", f"{ORIGIN}={log_line}", "--listen", f"127.0.0.1:{port}"],
                               env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert witness.stdout is not None
        line = await asyncio.get_running_loop().run_in_executor(None, witness.stdout.readline)
        assert f":{port}" in line, line
        srv = await start_in_process(tmp_path, {"OOR_LOG_ORIGIN": ORIGIN, "OOR_WITNESS_QUORUM": "1",
                                                "OOR_LOG_WITNESSES": f"{witness_vkey} http://127.0.0.1:{port}"},
                                     database=database)
        try:
            yield srv
        finally:
            await stop_in_process(srv)
    finally:
        witness.terminate()
        witness.wait(timeout=10)


def without_cosignatures(note: str) -> str:
    """The checkpoint with only the log's own signature line (the witness's lines stripped)."""
    text, _, signatures = note.partition("\n\n")
    lines = signatures.splitlines(keepends=True)
    return f"{text}\n\n" + "".join(line for line in lines if line.startswith(f"\u2014 {ORIGIN} "))


@pytest.mark.browser
@pytest.mark.parametrize("strip", [False, True])
async def test_with_a_witness_required_a_checkpoint_without_its_cosignature_is_refused(
        page: Any, witnessed: InProcessServer, strip: bool) -> None:
    """(f) quorum 1 with a real witness: the real proof (cosigned) is accepted and the chat works; the same proof
    with the cosignature stripped by a proxy (everything else real, the volunteer's own keys) is refused."""
    server = witnessed
    assert trust(server)["quorum"] == 1 and len(trust(server)["witnesses"]) == 1
    stripped: list[dict[str, Any]] = []

    def strip_cosignatures(frame: dict[str, Any]) -> dict[str, Any]:
        if frame.get("t") == "connected":
            note = without_cosignatures(frame["proof"]["checkpoint"])
            frame = {**frame, "proof": {**frame["proof"], "checkpoint": note}}
            stripped.append(frame)
        return frame

    proxy = await FrameProxy(server.url, to_page=strip_cosignatures if strip else None).start()
    try:
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            volunteer = await chat_volunteer(server, http)
            await start_chat(page, proxy.url)
            chat_id = await volunteer.pick_up()
            if not strip:
                await wait_text(page, "#gesprek-kop", "Je praat met Pim")
                assert await volunteer.hear() == (chat_id, FIRST)
                connected = next(f for f in proxy.to_page_sent if f["t"] == "connected")
                assert "\u2014 witness.test/oor " in connected["proof"]["checkpoint"]
                assert reason(server, connected["proof"], volunteer.identity.ed25519_public) == "accepted"
                return
            await wait_text(page, "#reden", UNRELIABLE)
            assert stripped
            assert reason(server, stripped[0]["proof"], volunteer.identity.ed25519_public) == "cosignatures"
            assert not any(f.get("t") == "msg" for f in proxy.from_page)
            assert not [f for d, f in server.frames if d == 1]
    finally:
        await proxy.stop()


@pytest.mark.browser
async def test_a_proxy_that_swaps_the_mentors_key_gets_no_copy_and_no_notice_is_shown(
        page: Any, server: InProcessServer, proxy: FrameProxy) -> None:
    """The same attack on `mentor-joined`: the page seals for no mentor (the notice never shows), and the chat
    itself goes on with the real, verified volunteer."""
    attacker = Attacker(targets=("mentor-joined",))
    proxy.to_page, proxy.to_server = attacker.down, attacker.up
    async with session(server) as http, session(server) as mentor_http:
        volunteer = await staff_member(server, http, "Pim")
        mentor = await staff_member(server, mentor_http, "Mirjam", "mentor", available=False)
        await start_chat(page, proxy.url)
        chat_id = await volunteer.pick_up()
        await wait_text(page, "#gesprek-kop", "Je praat met Pim")
        assert await volunteer.hear() == (chat_id, FIRST)
        await volunteer.invite_mentor(chat_id, (await server.app[STORAGE].volunteer_by_name("Mirjam")).id)
        await mentor.accept_readalong()
        await asyncio.wait_for(attacker.swapped.wait(), 30)
        await page.fill("#bericht", REPLY)
        await page.press("#bericht", "Enter")
        assert await volunteer.hear() == (chat_id, REPLY)  # the chat goes on with the verified volunteer
        assert await page.is_hidden("#meelezen")
        assert not any(f.get("t") == "mmsg" for f in proxy.from_page)
        assert attacker.opened == []
        await assert_accessible(page)


@pytest.mark.browser
async def test_a_proxy_that_swaps_the_receivers_key_at_a_handover_is_refused(
        page: Any, server: InProcessServer, proxy: FrameProxy) -> None:
    """The same attack on `handed-over` (a handover to the partner queue): refused as a tampered frame, and the
    earlier conversation the help-seeker agreed to pass on goes to nobody."""
    attacker = Attacker(targets=("handed-over",))
    proxy.to_page, proxy.to_server = attacker.down, attacker.up
    async with session(server) as http, session(server) as partner_http:
        volunteer = await staff_member(server, http, "Pim")
        partner = await staff_member(server, partner_http, "Pieter", "partner")
        await start_chat(page, proxy.url)
        chat_id = await volunteer.pick_up()
        await wait_text(page, "#gesprek-kop", "Je praat met Pim")
        assert await volunteer.hear() == (chat_id, FIRST)
        await volunteer.hand_over(chat_id, "p:113")
        await page.wait_for_selector("#doorverbinden:not([hidden])")
        await page.check("#doorverbinden-geschiedenis")
        await page.click("#doorverbinden-ja")
        queue = await partner.next("queue")
        while not queue.get("handovers"):
            queue = await partner.next("queue")
        await partner.take_handover()
        await wait_text(page, "#reden", UNRELIABLE)
        assert attacker.swapped.is_set()
        accepted = next(i for i, f in enumerate(proxy.from_page) if f.get("t") == "handover-accept")
        sent_after = proxy.from_page[accepted:]
        assert not any(f.get("t") == "msg" for f in sent_after), sent_after
        assert attacker.opened == []
        assert "Pieter" not in await page.locator("#gesprek-kop").inner_text()
        await assert_accessible(page)


@pytest.mark.browser
async def test_the_return_page_refuses_a_swapped_volunteer_key_and_a_forged_reply_signer_proof(
        page: Any, server: InProcessServer, proxy: FrameProxy) -> None:
    """(e) on the return page: the thread view's volunteer key swapped (with the real proof): a follow-up is not
    encrypted and nothing is stored; a reply whose signer's proof is forged is not shown."""
    from tests.mailclient import MailSeeker
    evil = crypto.new_identity()

    def swap(answer: dict[str, Any]) -> dict[str, Any]:
        volunteer = {**answer["volunteer"], "x25519_public": crypto.b64encode(evil.x25519_public),
                     "ed25519_public": crypto.b64encode(evil.ed25519_public),
                     "certificate": crypto.b64encode(crypto.sign_key_certificate(evil))}
        proofs = {key: {**proof, "checkpoint": proof["checkpoint"].replace("\u2014", "-")}
                  for key, proof in answer["signer_proofs"].items()}
        return {**answer, "volunteer": volunteer, "signer_proofs": proofs}

    proxy.answers["/api/mail/open"] = swap
    async with session(server) as http, session(server) as seeker_http:
        sanne = await api_volunteer(server, http, "Sanne")
        seeker = MailSeeker(seeker_http)
        assert (await seeker.send_first(FIRST)).status == 201
        [thread] = await sanne.inbox()
        data, _ = await sanne.read(thread["thread"])
        assert (await sanne.reply(data, REPLY)).status == 201
        await page.goto(proxy.url + "/mail/terug")
        await page.fill("#code", crypto.format_token(seeker.token))
        await page.click("#code-formulier button")
        await page.wait_for_selector("#draad:not([hidden])", timeout=60_000)
        await page.locator("#berichten li.mine", has_text=FIRST).wait_for()
        await page.locator("#berichten li.note", has_text="niet worden gecontroleerd").wait_for()
        assert await page.locator("#berichten li.theirs").count() == 0  # the reply is not shown
        await page.fill("#bericht", "Nog een vraag")
        await page.click("#schrijven button[type=submit]")
        await page.locator("#fout", has_text=MAIL_UNVERIFIED).wait_for()
    assert "POST /api/mail/write" not in proxy.requests
    assert server.store.rows("SELECT COUNT(*) FROM mail_messages") == [(2,)]
    await assert_accessible(page)


# -- the staff pages: a colleague's identity key at a read-along (PROTOCOL.md 10.11) ----------------------------


class LinkAttacker:
    """The proxy's part towards a volunteer's page: in `mentor-linked` (or `handover-done`) it puts its own identity
    key, its own joiner link key and a valid signature of them (over the inviter's link key the page sent up in
    `mentor-invite` or `handover`), and tries its link session on every `lmsg` the page sends. The real frame's
    proof stays (a good proof, of the real joiner's key): only the page's key-proof check can stop this."""

    def __init__(self, target: str = "mentor-linked") -> None:
        self.target = target
        self.identity = crypto.new_identity()
        self.inviter_pub: dict[str, bytes] = {}  # the page's inviter link key, per link
        self.sessions: dict[str, crypto.ChatSession] = {}
        self.real: list[dict[str, Any]] = []  # the frames as the server sent them
        self.opened: list[bytes] = []

    def up(self, frame: dict[str, Any]) -> None:
        if frame.get("t") in ("mentor-invite", "handover"):
            self.inviter_pub[frame["link"]] = crypto.b64decode(frame["pub"])
        elif frame.get("t") == "lmsg" and frame.get("link") in self.sessions:
            try:
                self.opened.append(self.sessions[frame["link"]].open(frame["seq"], crypto.b64decode(frame["ct"])))
            except crypto.CryptoError:
                pass

    def down(self, frame: dict[str, Any]) -> dict[str, Any]:
        if frame.get("t") != self.target or frame.get("link") not in self.inviter_pub:
            return frame
        self.real.append(frame)
        link_id, inviter_pub = crypto.b64decode(frame["link"]), self.inviter_pub[frame["link"]]
        mine = crypto.new_chat_keypair()
        sig = crypto.sign_link_key(self.identity, link_id, crypto.LINK_JOINER, mine.public, inviter_pub)
        self.sessions[frame["link"]] = crypto.ChatSession.for_volunteer(link_id, mine, inviter_pub)
        return {**frame, "identity": crypto.b64encode(self.identity.ed25519_public),
                "pub": crypto.b64encode(mine.public), "sig": crypto.b64encode(sig)}


async def staff_page(browser: Any, server: InProcessServer, base: str, name: str) -> Any:
    """A volunteer's workspace in Chromium, enrolled and logged in through `base` (the proxy), available."""
    from tests.browser.inprocess import invite_link
    from tests.browser.test_enrolment import PASSPHRASE, enrol, login
    context = await browser.new_context(locale="nl-NL")
    staff = await context.new_page()
    staff.problems = []
    staff.on("pageerror", lambda e: staff.problems.append(str(e)))
    await enrol(staff, f"{base}/inschrijven#{await invite_link(server, name)}", PASSPHRASE)
    await staff.goto(base + "/vrijwilliger")
    await login(staff, name, PASSPHRASE)
    await staff.wait_for_selector("#chatwerk:not([hidden])", timeout=30_000)
    await staff.check("#beschikbaar")
    return staff


@pytest.mark.browser
async def test_a_proxy_that_swaps_the_mentors_key_towards_the_volunteer_gets_no_copy_and_the_chat_goes_on(
        browser: Any, page: Any, server: InProcessServer, proxy: FrameProxy) -> None:
    """The read-along attack on the volunteer's side: the proxy answers the volunteer's invitation with its own
    identity and link key, correctly signed. The workspace checks the key's proof first, refuses, seals no copy
    to that link (the proxy opens nothing), ends the read-along with a plain message, and the chat goes on."""
    attacker = LinkAttacker()
    proxy.paths = ("/ws/volunteer",)
    proxy.to_page, proxy.to_server = attacker.down, attacker.up
    async with session(server) as mentor_http:
        mentor = await staff_member(server, mentor_http, "Mirjam", "mentor", available=False)
        volunteer = await staff_page(browser, server, proxy.url, "Sanne")
        try:
            await start_chat(page, server.url)
            await wait_text(volunteer, "#wachtrij-samenvatting", "Er wacht 1 persoon")
            await volunteer.click("#aannemen")
            await wait_text(page, "#gesprek-kop", "Je praat met Sanne")
            panel = volunteer.locator("#gesprekken .panel").first
            await panel.locator(".messages li.theirs", has_text=FIRST).wait_for()
            await panel.locator(".tool.meelezen-vragen summary").click()
            await panel.locator("select.mentorkeuze").select_option(label="Mirjam")
            await panel.locator("form.mentor button[type=submit]").click()
            await mentor.accept_readalong()
            await panel.locator(".messages li.note", has_text="kon niet worden gecontroleerd").wait_for()
            assert attacker.real and attacker.sessions
            # The swapped signature is good; only the proof (of the real mentor's key) refuses the proxy's key.
            [real] = attacker.real
            assert reason(server, real["proof"], mentor.identity.ed25519_public) == "accepted"
            assert reason(server, real["proof"], attacker.identity.ed25519_public) == "keys"
            assert (await mentor.next("mentor-ended"))["t"] == "mentor-ended"  # the page ended that link
            assert any(f.get("t") == "mentor-end" and f.get("link") == real["link"] for f in proxy.from_page)
            # The chat itself goes on, and nothing of it goes to the proxy's link key.
            await panel.locator("textarea.bericht").fill(REPLY)
            await panel.locator("textarea.bericht").press("Enter")
            await page.locator("#berichten li.theirs", has_text=REPLY).wait_for()
            assert not any(f.get("t") == "lmsg" for f in proxy.from_page), proxy.from_page
            assert attacker.opened == []
            assert await panel.locator(".messages li.note", has_text="leest mee").count() == 0
            assert await panel.locator(".mentor-stop").is_hidden()
            await assert_accessible(volunteer)
            assert not volunteer.problems, volunteer.problems
        finally:
            await volunteer.context.close()


@pytest.mark.browser
async def test_a_proxy_that_swaps_the_receivers_key_towards_the_volunteer_gets_no_handover_note(
        browser: Any, page: Any, server: InProcessServer, proxy: FrameProxy) -> None:
    """The same attack on `handover-done`: the workspace seals the handover note to nobody it cannot check, says
    so plainly, and the help-seeker's chat goes on with the real, verified partner."""
    note_text = "Gedachten aan zelfdoding, geen concreet plan genoemd"
    attacker = LinkAttacker("handover-done")
    proxy.paths = ("/ws/volunteer",)
    proxy.to_page, proxy.to_server = attacker.down, attacker.up
    async with session(server) as partner_http:
        partner = await staff_member(server, partner_http, "Pieter", "partner")
        volunteer = await staff_page(browser, server, proxy.url, "Sanne")
        try:
            await start_chat(page, server.url)
            await wait_text(volunteer, "#wachtrij-samenvatting", "Er wacht 1 persoon")
            await volunteer.click("#aannemen")
            await wait_text(page, "#gesprek-kop", "Je praat met Sanne")
            panel = volunteer.locator("#gesprekken .panel").first
            await panel.locator(".messages li.theirs", has_text=FIRST).wait_for()
            await panel.locator(".tool.doorverbinden summary").click()
            await panel.locator("select.doel").select_option("p:113")
            await panel.locator("textarea.notitie").fill(note_text)
            await panel.locator("form.overdragen button[type=submit]").click()
            await page.wait_for_selector("#doorverbinden:not([hidden])")
            await page.click("#doorverbinden-ja")
            queue = await partner.next("queue")
            while not queue.get("handovers"):
                queue = await partner.next("queue")
            new_id, _ = await partner.take_handover()
            await panel.locator(".messages li.note", has_text="kon niet worden gecontroleerd").wait_for()
            [real] = attacker.real
            assert reason(server, real["proof"], partner.identity.ed25519_public) == "accepted"
            assert reason(server, real["proof"], attacker.identity.ed25519_public) == "keys"
            assert not any(f.get("t") == "lmsg" for f in proxy.from_page), proxy.from_page
            assert attacker.opened == []
            assert await panel.locator(".messages li.note", has_text="Overgenomen door").count() == 0
            # The help-seeker's chat goes on with the real partner, whose key the help-seeker's page checked.
            await wait_text(page, "#gesprek-kop", "Je praat met Pieter")
            await partner.say(new_id, REPLY)
            await page.locator("#berichten li.theirs", has_text=REPLY).wait_for()
            await assert_accessible(volunteer)
            assert not volunteer.problems, volunteer.problems
        finally:
            await volunteer.context.close()
