"""`oor audit` on the transparency log of a real `oor serve` (issue 17, point 6): consistent, every
statement matched to the coordinators' roster, the served files equal to the logged manifest; and
red on each deliberate break.

The instance is a real process on a real SQLite database; the coordinators' round trip is the real
CLI (`oor keys pending`, `oor root sign --roster`, `oor keys import`, with the test root sealed in a
root key file), the signing robot off. Breaks a server could commit are made for real where they
can be (a rogue statement appended to its storage with the log key, a data folder with another
history under the same log key, a truncated log table, another root key in its configuration); a
served file or a revoked list that differs is made by an attacker's proxy in front of the real
server, as a compromised process or TLS-terminating proxy would serve them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

import crypto
from tests.conftest import REPO, free_port
from tests.helpers import enrolment_body
from tests.processes import OorProcess, listening, oor_env, start_oor
from tests.transparency import TEST_ROOT_PUBLIC_KEY, robot_root

ROOT_PASSPHRASE = "correct horse battery staple of the test coordinators"
LOG_CHECK = "The log checkpoint verifies and its entries and tiles recompute its root"
CONSISTENT = "The log is consistent with the checkpoint this auditor saw last"
STATEMENTS = "Every key statement and revocation is root-signed and matches the roster"
REVOKED = "The revoked set equals the logged revocations"
RELEASE = "The served files equal the latest logged release manifest"
TRUST = "The pages' trust configuration equals the auditor's trust anchors"
ORIGIN = "audit.test/log"
OTHER_ROOT = crypto.RootKey.from_seed(b"\x07" * 32)


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OOR_")}
    return subprocess.run([sys.executable, "-m", "server.cli", "audit", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


async def in_thread(fn: Callable[..., subprocess.CompletedProcess[str]], *args: str
                    ) -> subprocess.CompletedProcess[str]:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def outcome(report: str, check: str) -> tuple[str, str]:
    """(result, detail) of a check's row in the Markdown report."""
    for line in report.splitlines():
        if line.startswith(f"| {check} | "):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            return cells[2], cells[3]
    raise AssertionError(f"no row for {check!r} in:\n{report}")


def table(report: str, title: str) -> list[list[str]]:
    lines = report.split(f"## {title}\n", 1)[1].strip("\n").split("\n\n", 1)[0].splitlines()
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[2:]]


@dataclass
class Instance:
    """A running `oor serve` with the coordinators' files: their root key file and their roster."""

    server: OorProcess
    tmp: Path
    log_vkey: str
    roster: Path
    suppressed: Path | None = None  # a signed revocation the server was not given (for the rogue test)

    def oor(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.server.oor(*args)
        if done.returncode != 0:
            raise AssertionError(f"oor {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done

    def sign_round(self, roster: Path | None = None, *, imported: bool = True) -> Path:
        """The coordinators' round trip: pending on the server, signed offline (roster kept), imported."""
        request, signed = self.tmp / "request.json", self.tmp / f"signed-{time.monotonic_ns()}.json"
        self.oor("keys", "pending", "--out", str(request))
        root_sign(self.tmp, request, signed, roster or self.roster, self.server.env)
        if imported:
            self.oor("keys", "import", str(signed))
        return signed

    def audit(self, *args: str, url: str | None = None, root: str = TEST_ROOT_PUBLIC_KEY
              ) -> subprocess.CompletedProcess[str]:
        return audit("--url", url or self.server.url, "--roster", str(self.roster),
                     "--root-public-key", root, "--log-key", self.log_vkey, *args)


def root_sign(tmp: Path, request: Path, signed: Path, roster: Path, env: dict[str, str]) -> None:
    """`oor root sign` on "the coordinator's machine": the test root sealed in a root key file."""
    key = tmp / "root.key"
    if not key.exists():
        key.write_text(crypto.seal_root_key(ROOT_PASSPHRASE, robot_root(), opslimit=1, memlimit=8192),
                       encoding="utf-8")
        (tmp / "root.passphrase").write_text(ROOT_PASSPHRASE + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "root", "sign", str(request), "--out", str(signed),
         "--roster", str(roster), "--key", str(key), "--passphrase-file", str(tmp / "root.passphrase"), "--yes"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"oor root sign failed:\n{done.stdout}{done.stderr}")


def server_env(port: int, **extra: str) -> dict[str, str]:
    return oor_env(f"http://127.0.0.1:{port}", {"OOR_LOG_ORIGIN": ORIGIN, **extra})


def log_init(data: Path, env: dict[str, str]) -> str:
    """`oor log init`, as an operator does before the first start: answers the vkey it prints."""
    data.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "server.cli", "log", "init", "--data", str(data)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"oor log init failed:\n{done.stdout}{done.stderr}")
    vkey = done.stdout.strip()  # the vkey, which `oor witness serve --log` takes as it is
    assert vkey.startswith(ORIGIN + "+"), (done.stdout, done.stderr)
    return vkey


def start(tmp: Path, data: Path, name: str = "oor", **extra: str) -> tuple[OorProcess, str]:
    """A fresh log key (`oor log init`), the release published, `oor serve`; no signing robot."""
    port = free_port()
    env = server_env(port, **extra)
    vkey = log_init(data, env) if not (data / "log.key").exists() else ""
    return start_oor(tmp, data, http_port=port, env=env, name=name, signing_robot=False), vkey


async def enrol(server: OorProcess, name: str) -> None:
    token = server.invite(name)
    async with aiohttp.ClientSession(base_url=server.url) as http:
        async with http.post("/api/enrol", json=enrolment_body(token, identity=crypto.new_identity())) as resp:
            assert resp.status == 201, await resp.text()


async def append_entries(server: OorProcess, entries: list[bytes]) -> None:
    """Append to the server's storage and checkpoint with its log key: what a compromised server (or
    anyone holding its database and log key) can do, through the log's own code."""
    from server.config import load_config
    from server.storage import open_storage
    from server.transparency.log import append_and_checkpoint
    config = load_config(env={k: v for k, v in server.env.items() if k.startswith("OOR_")},
                         overrides={"data_dir": str(server.data_dir)})
    storage = open_storage(config)
    await storage.open()
    try:
        await append_and_checkpoint(storage, config, entries, now=int(time.time()))
    finally:
        await storage.close()


def rogue_entry(name: str = "Mallory", deployment: str = "luisterend-oor-dev") -> bytes:
    """A key statement signed by the (test) root key that no coordinator recorded."""
    now = int(time.time())
    identity = crypto.new_identity()
    statement = crypto.Statement(kind=crypto.KIND_KEY, deployment_id=deployment, account_id=os.urandom(16),
                                 role="volunteer", name=name, x25519_public=identity.x25519_public,
                                 ed25519_public=identity.ed25519_public, not_before=now, not_after=now + 86400)
    return crypto.statement_entry(*crypto.sign_statement(robot_root(), statement))


async def until_size(url: str, size: int, timeout: float = 30) -> None:
    """Until the served checkpoint has `size` entries (the running server notices the storage's new ones)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(url + "/log/checkpoint") as resp:
                text = await resp.text()
            if resp.status == 200 and text.split("\n")[1] == str(size):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"checkpoint did not reach size {size}: {text!r}")
            await asyncio.sleep(0.1)


@asynccontextmanager
async def attacker_proxy(upstream: str, rewrite: Callable[[str, bytes], bytes]) -> AsyncIterator[str]:
    """An HTTP proxy in front of the real server that passes everything on and rewrites what
    `rewrite(path, body)` changes: a compromised server process or a TLS-terminating proxy."""
    session = aiohttp.ClientSession(auto_decompress=True)

    async def forward(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "accept-encoding", "content-length", "connection")}
        async with session.request(request.method, upstream + str(request.rel_url), headers=headers,
                                   data=await request.read(), allow_redirects=False) as resp:
            body = rewrite(request.path, await resp.read())
            out = {k: v for k, v in resp.headers.items() if k.lower() not in (
                "content-length", "content-encoding", "transfer-encoding", "connection", "etag")}
            return web.Response(status=resp.status, body=body, headers=out)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await session.close()


# -- one instance with history: two volunteers signed, one of them revoked --------------------------

@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    tmp = tmp_path_factory.mktemp("audit-log")
    server, vkey = start(tmp, tmp / "var")
    instance = Instance(server, tmp, vkey, tmp / "roster.json")
    try:
        asyncio.run(enrol(server, "Sanne"))
        asyncio.run(enrol(server, "Bram"))
        instance.sign_round()
        instance.oor("volunteer", "deactivate", "Bram")
        instance.sign_round()
        yield instance
    finally:
        server.stop()


async def test_audit_reports_the_log_consistent_and_every_statement_matched(journey: Instance) -> None:
    state = journey.tmp / "consistent-state.json"
    first = await in_thread(journey.audit, "--log-state", str(state))
    assert outcome(first.stdout, CONSISTENT)[0] == "not checkable from outside", first.stdout
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert saved["size"] == 4 and saved["origin"] == ORIGIN  # release, Sanne, Bram, Bram's revocation
    html = journey.tmp / "audit.html"
    done = await in_thread(journey.audit, "--log-state", str(state), "--out", str(html))
    report = done.stdout
    page = html.read_text(encoding="utf-8")
    assert "<h2>Key statements and revocations in the log</h2>" in page and "<td>Sanne</td>" in page
    for check in (LOG_CHECK, CONSISTENT, STATEMENTS, REVOKED, RELEASE, TRUST):
        assert outcome(report, check)[0] == "pass", report
    assert "size 4 extends the 4 entries seen" in outcome(report, CONSISTENT)[1]
    assert "2 key statement(s), 1 revocation(s), all root-signed and matched" in outcome(report, STATEMENTS)[1]
    assert "1 revoked account(s)" in outcome(report, REVOKED)[1]
    rows = {(r[1], r[2]): r for r in table(report, "Key statements and revocations in the log")}
    roster = {row["name"]: row for row in json.loads(journey.roster.read_text(encoding="utf-8"))["accounts"]}
    assert rows[("key", "Sanne")][7] == "matched" and rows[("key", "Sanne")][5] == roster["Sanne"]["fingerprint"]
    assert rows[("key", "Bram")][7] == "superseded" and rows[("revocation", "Bram")][7] == "matched"
    assert [r[0] for r in table(report, "Release manifests in the log")] == ["0"]
    # Only the weak test KDF fails (KEY-5); no log check does.
    assert "| fail |" not in report.replace("| KEY-5 | fail |", ""), report


async def test_audit_fails_on_a_served_file_changed_after_publishing(journey: Instance) -> None:
    def changed(path: str, body: bytes) -> bytes:
        return body + b"\n/* changed after publishing */\n" if path == "/static/js/chat.js" else body

    async with attacker_proxy(journey.server.url, changed) as url:
        done = await in_thread(lambda: journey.audit(url=url))
    result, detail = outcome(done.stdout, RELEASE)
    assert result == "fail" and "/static/js/chat.js: served bytes differ from the logged manifest" in detail
    assert done.returncode == 1
    assert outcome(done.stdout, STATEMENTS)[0] == "pass"


async def test_audit_fails_on_a_wrong_revoked_list_and_keeps_its_state(journey: Instance) -> None:
    state = journey.tmp / "revoked-state.json"
    first = await in_thread(journey.audit, "--log-state", str(state))
    assert outcome(first.stdout, REVOKED)[0] == "pass", first.stdout
    kept = state.read_bytes()

    def hidden(path: str, body: bytes) -> bytes:  # hides the revocation: the revoked key looks good again
        return b"" if path == "/log/revoked" else body

    async with attacker_proxy(journey.server.url, hidden) as url:
        done = await in_thread(lambda: journey.audit("--log-state", str(state), url=url))
    result, detail = outcome(done.stdout, REVOKED)
    assert result == "fail" and "/log/revoked lacks 1 logged revocation(s)" in detail, done.stdout
    assert "NOT updated" in done.stdout and state.read_bytes() == kept


def sign_unlogged_revocation(journey: Instance) -> Path:
    """Sanne deactivated and her revocation signed into a copy of the roster, not imported: answers the copy."""
    roster = journey.tmp / "roster-suppressed.json"
    shutil.copy2(journey.roster, roster)
    journey.oor("volunteer", "deactivate", "Sanne")
    journey.suppressed = journey.sign_round(roster, imported=False)
    return roster


async def test_audit_fails_on_a_revocation_the_server_did_not_log(journey: Instance) -> None:
    """The coordinators signed Sanne's revocation (their roster says so) and the server never logged it:
    pages would go on trusting her key."""
    roster = sign_unlogged_revocation(journey)
    done = await in_thread(lambda: journey.audit("--roster", str(roster)))
    result, detail = outcome(done.stdout, STATEMENTS)
    assert result == "fail" and "differs from the roster in statement hash, revoked in the roster, not in the log" \
        in detail, done.stdout
    rows = {(r[1], r[2]): r for r in table(done.stdout, "Key statements and revocations in the log")}
    assert rows[("key", "Sanne")][7].startswith("DIFFERS")
    assert outcome(done.stdout, REVOKED)[0] == "pass"  # the log is honest about what it holds


async def test_audit_fails_on_a_rogue_statement_appended_to_the_storage(journey: Instance) -> None:
    """Last of the journey's tests: it leaves a rogue key statement in the log, and the revocation of
    the test before, which the coordinators' roster (the one without it) does not have."""
    if journey.suppressed is None:  # run on its own
        sign_unlogged_revocation(journey)
    await append_entries(journey.server, [rogue_entry("Mallory")])
    journey.oor("keys", "import", str(journey.suppressed))
    await until_size(journey.server.url, 6)
    done = await in_thread(journey.audit)
    result, detail = outcome(done.stdout, STATEMENTS)
    assert result == "fail" and "entry 4: a key statement for Mallory (volunteer) that the roster does not have" \
        in detail, done.stdout
    assert "entry 5 (revocation for Sanne): differs from the roster in statement hash, a revocation the roster " \
        "does not have" in detail
    assert outcome(done.stdout, LOG_CHECK)[0] == "pass"  # a well-formed log: only the roster tells
    rows = {(r[1], r[2]): r for r in table(done.stdout, "Key statements and revocations in the log")}
    assert rows[("key", "Mallory")][7] == "NOT IN THE ROSTER"


# -- breaks that need an instance of their own -----------------------------------------------------

async def test_audit_fails_on_a_rewritten_history(tmp_path: Path) -> None:
    """Another data folder under the same log key (and origin) whose first entry differs: a log that
    forked its history after this auditor saw it."""
    state = tmp_path / "state.json"
    first, vkey = start(tmp_path, tmp_path / "one", name="one")
    try:
        done = await in_thread(audit, "--url", first.url, "--log-key", vkey, "--log-state", str(state))
        assert outcome(done.stdout, LOG_CHECK)[0] == "pass", done.stdout
    finally:
        first.stop()
    assert json.loads(state.read_text(encoding="utf-8"))["size"] == 1
    (tmp_path / "two").mkdir()
    shutil.copy2(tmp_path / "one" / "log.key", tmp_path / "two" / "log.key")
    second, _ = start(tmp_path, tmp_path / "two", name="two", OOR_DEPLOYMENT_ID="luisterend-oor-fork")
    try:
        done = await in_thread(audit, "--url", second.url, "--log-key", f"{ORIGIN}={vkey}", "--log-state", str(state))
    finally:
        second.stop()
    assert outcome(done.stdout, LOG_CHECK)[0] == "pass", done.stdout  # signed by the same log key
    result, detail = outcome(done.stdout, CONSISTENT)
    assert result == "fail" and "HISTORY REWRITTEN" in detail, done.stdout
    assert json.loads(state.read_text(encoding="utf-8"))["size"] == 1


async def test_audit_fails_on_a_truncated_log(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    data = tmp_path / "var"
    server, vkey = start(tmp_path, data)
    try:
        await append_entries(server, [rogue_entry("Eva")])
        await until_size(server.url, 2)
        done = await in_thread(audit, "--url", server.url, "--log-key", vkey, "--log-state", str(state))
        assert outcome(done.stdout, CONSISTENT)[0] == "not checkable from outside", done.stdout
    finally:
        server.stop()
    assert json.loads(state.read_text(encoding="utf-8"))["size"] == 2
    # Whoever holds the database can lift the storage's guard, cut the log and put the guard back.
    with closing(sqlite3.connect(data / "oor.sqlite3")) as db, db:
        guard = db.execute("SELECT sql FROM sqlite_master WHERE name = 'log_entries_no_delete'").fetchone()[0]
        db.execute("DROP TRIGGER log_entries_no_delete")
        db.execute("DELETE FROM log_entries WHERE idx >= 1")
        db.execute("DELETE FROM log_checkpoints WHERE size >= 2")
        db.execute(guard)
    server, _ = start(tmp_path, data, name="again")
    try:
        done = await in_thread(audit, "--url", server.url, "--log-key", vkey, "--log-state", str(state))
    finally:
        server.stop()
    result, detail = outcome(done.stdout, CONSISTENT)
    assert result == "fail" and "THE LOG SHRANK: 1 entries now, 2 seen" in detail, done.stdout
    assert done.returncode == 1


async def test_audit_fails_on_another_root_key_or_log_key_in_trust_js(tmp_path: Path) -> None:
    server, vkey = start(tmp_path, tmp_path / "var", OOR_ROOT_PUBLIC_KEY=crypto.b64encode(OTHER_ROOT.public))
    other_log = crypto.NoteKey.generate(ORIGIN)
    try:
        believed = await in_thread(audit, "--url", server.url)
        wrong_root = await in_thread(audit, "--url", server.url, "--root-public-key", TEST_ROOT_PUBLIC_KEY,
                                     "--log-key", vkey)
        wrong_log = await in_thread(audit, "--url", server.url, "--log-key", other_log.vkey())
    finally:
        server.stop()
    # Without anchors of its own the auditor can only say what it believed.
    assert outcome(believed.stdout, TRUST)[0] == "not checkable from outside", believed.stdout
    assert outcome(believed.stdout, LOG_CHECK)[0] == "pass"
    result, detail = outcome(wrong_root.stdout, TRUST)
    assert result == "fail" and "another root public key than the auditor's" in detail, wrong_root.stdout
    assert outcome(wrong_root.stdout, LOG_CHECK)[0] == "pass"
    assert outcome(wrong_log.stdout, TRUST)[0] == "fail"
    result, detail = outcome(wrong_log.stdout, LOG_CHECK)
    assert result == "fail" and "does not verify" in detail, wrong_log.stdout


async def test_audit_fails_on_a_checkpoint_whose_revoked_count_lies(tmp_path: Path) -> None:
    """A checkpoint signed with the log key whose extension line names a revocation the entries do not
    hold (as a server that wants pages to refuse a key, or that hides one, would have to sign)."""
    from server.config import load_config
    from server.storage import open_storage
    from server.transparency.log import read_log_key
    server, vkey = start(tmp_path, tmp_path / "var")
    try:
        config = load_config(env={k: v for k, v in server.env.items() if k.startswith("OOR_")},
                             overrides={"data_dir": str(server.data_dir)})
        storage = open_storage(config)
        await storage.open()
        try:
            size, note = await storage.latest_checkpoint()
            honest = crypto.parse_checkpoint(note.split("\n\n", 1)[0] + "\n")
            forged = crypto.format_checkpoint(crypto.Checkpoint(ORIGIN, size, honest.root, 1,
                                                                crypto.revoked_digest([os.urandom(16)])))
            await storage.save_checkpoint(size, read_log_key(config).sign_note(forged), int(time.time()))
        finally:
            await storage.close()
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as http:
            while "oor-revoked 1 " not in await (await http.get(server.url + "/log/checkpoint")).text():
                assert time.monotonic() < deadline, "the server never served the stored checkpoint"
                await asyncio.sleep(0.1)
        done = await in_thread(audit, "--url", server.url, "--log-key", vkey)
    finally:
        server.stop()
    assert outcome(done.stdout, LOG_CHECK)[0] == "pass", done.stdout  # well signed, same root
    result, detail = outcome(done.stdout, REVOKED)
    assert result == "fail" and "the checkpoint says 1 revoked, the log holds 0" in detail, done.stdout
    assert "the checkpoint's revoked digest is not that of the logged revocations" in detail


@contextmanager
def witness_process(tmp: Path, log_vkey: str) -> Iterator[tuple[str, str]]:
    """A real `oor witness serve` for the log: yields (its vkey, its base URL)."""
    key, port = tmp / "witness.key", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OOR_")}
    made = subprocess.run([sys.executable, "-m", "server.cli", "witness", "init", "--key", str(key), "--name",
                           "witness.test/oor"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    vkey = made.stdout.strip().splitlines()[0]
    output = (tmp / "witness-output.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "witness", "serve", "--key", str(key), "--state",
                             str(tmp / "witness.state.json"), "--log", f"{ORIGIN}={log_vkey}",
                             "--listen", f"127.0.0.1:{port}"], cwd=REPO, env=env, stdout=output,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not listening(port):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp / "witness-output.log").read_text()
            time.sleep(0.1)
        yield vkey, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        output.close()


async def test_audit_requires_the_cosignatures_of_the_auditors_witnesses(tmp_path: Path) -> None:
    """The log cosigned by a real witness; the auditor who names it (quorum 1) accepts the checkpoint, one
    who names another witness refuses it and finds trust.js naming a witness it does not know."""
    port, data = free_port(), tmp_path / "var"
    env = server_env(port)
    vkey = log_init(data, env)
    other = crypto.Cosigner.generate("witness.test/other").vkey()
    with witness_process(tmp_path, vkey) as (witness, witness_url):
        env.update({"OOR_LOG_WITNESSES": f"{witness} {witness_url}", "OOR_WITNESS_QUORUM": "1"})
        server = start_oor(tmp_path, data, http_port=port, env=env, signing_robot=False)
        try:
            mine = await in_thread(audit, "--url", server.url, "--log-key", vkey, "--root-public-key",
                                   TEST_ROOT_PUBLIC_KEY, "--witness", witness, "--quorum", "1")
            theirs = await in_thread(audit, "--url", server.url, "--log-key", vkey, "--root-public-key",
                                     TEST_ROOT_PUBLIC_KEY, "--witness", other, "--quorum", "1")
        finally:
            server.stop()
    for check in (TRUST, LOG_CHECK, RELEASE):
        assert outcome(mine.stdout, check)[0] == "pass", mine.stdout
    assert "1 cosignature(s) required" in outcome(mine.stdout, LOG_CHECK)[1]
    result, detail = outcome(theirs.stdout, TRUST)
    assert result == "fail" and "unknown to the auditor: witness.test/oor" in detail, theirs.stdout
    result, detail = outcome(theirs.stdout, LOG_CHECK)
    assert result == "fail" and "does not verify" in detail, theirs.stdout


# -- the tile arithmetic beyond one tile ------------------------------------------------------------

def standin_log(size: int, revoke_every: int = 7) -> tuple[web.Application, str, dict, dict[str, bytes]]:
    """The public /log/ endpoints, /api/assets and /js/trust.js of a deployment with `size` entries,
    served from our own crypto (MerkleTree tiles, NoteKey checkpoints): a log far larger than a test
    instance gets, so that full and partial tiles of two levels are read."""
    import base64
    import hashlib
    deployment, log_key = "standin", crypto.NoteKey.generate(ORIGIN)
    trust = {"deployment_id": deployment, "root_public_key": TEST_ROOT_PUBLIC_KEY,
             "log": {"origin": ORIGIN, "public_key": crypto.b64encode(log_key.public)},
             "witnesses": [], "quorum": 0, "max_age": 86400}
    trust_js = f"export const TRUST = Object.freeze({json.dumps(trust)});\n".encode()
    assets = {"/static/js/trust.js": "sha384-" + base64.b64encode(hashlib.sha384(trust_js).digest()).decode()}
    manifest = json.dumps({"v": 1, "deployment_id": deployment, "files": assets}, sort_keys=True,
                          separators=(",", ":")).encode()
    entries, roster, revoked = [crypto.release_entry(deployment, manifest)], [], []
    now = int(time.time())
    while len(entries) < size:
        identity, account = crypto.new_identity(), os.urandom(16)
        kind = crypto.KIND_REVOCATION if len(entries) % revoke_every == 0 else crypto.KIND_KEY
        s = crypto.Statement(kind=kind, deployment_id=deployment, account_id=account, role="volunteer",
                             name=f"V{len(entries)}", x25519_public=identity.x25519_public,
                             ed25519_public=identity.ed25519_public, not_before=now,
                             not_after=now if kind == crypto.KIND_REVOCATION else now + 86400)
        data, signature = crypto.sign_statement(robot_root(), s)
        entries.append(crypto.statement_entry(data, signature))
        if kind == crypto.KIND_REVOCATION:
            revoked.append(account)
        roster.append({"account_id": crypto.b64encode(account), "name": s.name, "role": s.role,
                       "fingerprint": crypto.fingerprint(account, s.x25519_public, s.ed25519_public),
                       "status": "revoked" if kind == crypto.KIND_REVOCATION else "key",
                       "statement_sha256": hashlib.sha256(data).hexdigest()})
    tree = crypto.MerkleTree(entries)
    text = crypto.format_checkpoint(crypto.Checkpoint(ORIGIN, size, tree.root(), len(revoked),
                                                      crypto.revoked_digest(revoked)))
    files = {"/log/checkpoint": log_key.sign_note(text).encode(), "/log/revoked": b"".join(sorted(revoked)),
             f"/log/manifest/{hashlib.sha256(manifest).hexdigest()}.json": manifest,
             "/static/js/trust.js": trust_js}
    for n in range(-(-size // 256)):
        width = min(256, size - 256 * n)
        suffix = f".p/{width}" if width < 256 else ""
        files[f"/log/tile/entries/{n:03d}{suffix}"] = crypto.encode_entry_bundle(entries[256 * n:256 * n + width])
    level = 0
    while size // 256 ** level:
        across = size // 256 ** level
        for n in range(-(-across // 256)):
            width = min(256, across - 256 * n)
            files[f"/log/tile/{level}/{n:03d}" + (f".p/{width}" if width < 256 else "")] = tree.tile(level, n, width)
        level += 1

    async def serve(request: web.Request) -> web.Response:
        if request.path == "/api/assets":
            return web.json_response({"algorithm": "sha384", "assets": assets})
        if request.path in files:
            return web.Response(body=files[request.path], content_type="application/octet-stream")
        return web.Response(status=404, text="no")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", serve)
    roster_file = {"v": 1, "deployment_id": deployment, "accounts": roster}
    return app, log_key.vkey(), roster_file, files


async def test_audit_reads_full_and_partial_tiles_of_two_levels(tmp_path: Path) -> None:
    """600 entries: level 0 has two full tiles and a partial one of 88, level 1 a partial tile of 2."""
    app, vkey, roster, files = standin_log(600)
    (tmp_path / "roster.json").write_text(json.dumps(roster), encoding="utf-8")
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    def run() -> subprocess.CompletedProcess[str]:
        return audit("--url", f"http://127.0.0.1:{port}", "--log-key", vkey, "--root-public-key",
                     TEST_ROOT_PUBLIC_KEY, "--roster", str(tmp_path / "roster.json"))
    try:
        done = await in_thread(run)
        for check in (LOG_CHECK, STATEMENTS, REVOKED, RELEASE, TRUST):
            assert outcome(done.stdout, check)[0] == "pass", done.stdout
        assert len(table(done.stdout, "Key statements and revocations in the log")) == 599
        assert {"/log/tile/0/002.p/88", "/log/tile/1/000.p/2", "/log/tile/entries/002.p/88"} <= files.keys()
        tile = files["/log/tile/1/000.p/2"]
        files["/log/tile/1/000.p/2"] = tile[:32] + bytes(32)  # a level-1 hash that is not the tiles' below
        broken = await in_thread(run)
        files["/log/tile/1/000.p/2"] = tile
        bundle = files["/log/tile/entries/001"]
        files["/log/tile/entries/001"] = bundle[:-1] + bytes([bundle[-1] ^ 1])  # one entry's last byte
        altered = await in_thread(run)
    finally:
        await runner.cleanup()
    result, detail = outcome(broken.stdout, LOG_CHECK)
    assert result == "fail" and "hash tile 1/0 (width 2) differs" in detail, broken.stdout
    result, detail = outcome(altered.stdout, LOG_CHECK)
    assert result == "fail" and "hash to another root than the checkpoint's" in detail, altered.stdout
