"""`oor audit` against a real instance: it passes on ours, and goes red when something is broken."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

import crypto
from server.storage.sqlite import connect
from tests.chatclient import Volunteer
from tests.conftest import REPO, free_port, start_live_server, stop_live_server
from tests.helpers import PASSPHRASE, enrolment_body, login_body
from tests.mailclient import MailVolunteer

PRODUCTION = {"OOR_INSECURE_KDF": "false", "OOR_KDF_OPSLIMIT": "3", "OOR_KDF_MEMLIMIT_KIB": "65536"}


def audit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os
    return subprocess.run([sys.executable, "-m", "server.cli", "audit", *args], cwd=REPO,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300)


async def in_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def test_audit_passes_on_a_real_instance_with_volunteers_on_duty(tmp_path: Path) -> None:
    server = start_live_server(tmp_path, PRODUCTION)
    try:
        identity = crypto.new_identity()
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            token = server.invite("Sanne").split("#uitnodiging=", 1)[1]
            body = enrolment_body(token, identity=identity, kdf={"opslimit": 3, "memlimit": 64 * 1024 * 1024})
            assert (await http.post("/api/enrol", json=body)).status == 201
            assert (await http.post("/api/login", json=await login_body(http, "Sanne", PASSPHRASE))).status == 200
            await MailVolunteer(http, identity).available(True)
            ws = await http.ws_connect("/ws/volunteer", headers={"Origin": server.url})
            chat = Volunteer(ws, identity)
            await chat.next("queue")
            await chat.available(True)
            report = tmp_path / "audit.md"
            account = {"OOR_AUDIT_VOLUNTEER": "Sanne", "OOR_AUDIT_PASSPHRASE": PASSPHRASE}
            done = await in_thread(lambda: audit("--url", server.url, "--data", str(server.data_dir),
                                                 "--out", str(report), env=account))
            await ws.close()
        assert done.returncode == 0, done.stdout + done.stderr
        text = report.read_text(encoding="utf-8")
        for claim in ("WEB-1", "WEB-2", "KEY-5", "DATA-1", "CHAT-1, MAIL-1", "AUTH-4", "TLOG-1", "TLOG-4", "TLOG-5"):
            assert claim in text
        assert "synthetic mail and chat" in text
        assert "| fail |" not in text and "**PASS**" in text
        assert "| Session cookie flags | AUTH-4 | pass | HttpOnly, SameSite=Strict |" in text
        assert "127.77.0.1" not in server.read_output()
    finally:
        stop_live_server(server)


async def test_audit_fails_on_weak_kdf_and_a_schema_that_differs(live_server: Any, tmp_path: Path) -> None:
    """The live server (either backend) has the weak test KDF; the schema is a SQLite file of our own."""
    data = tmp_path / "data"
    data.mkdir()
    with contextlib.closing(connect(data / "oor.sqlite3")) as copy:
        copy.execute("ALTER TABLE mail_threads ADD COLUMN sender_ip TEXT")
    done = await in_thread(audit, "--url", live_server.url, "--data", str(data))
    assert done.returncode == 1
    assert "mail_threads.sender_ip is not declared" in done.stdout
    assert "| Argon2id parameters at or above 3 passes and 64 MiB | KEY-5 | fail |" in done.stdout


async def test_audit_fails_on_missing_csp_and_a_tampered_script(tmp_path: Path) -> None:
    """A stand-in server that does what ours must not: no CSP, and a script that differs from its hash."""
    page = ('<!doctype html><html><head><script type="module" src="/static/js/a.js" '
            'integrity="sha384-AAAA"></script></head><body></body></html>')

    async def pages(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin", "Permissions-Policy": "camera=()"})

    async def manifest(request: web.Request) -> web.Response:
        return web.json_response({"assets": {"/static/js/a.js": "sha384-AAAA"}})

    async def script(request: web.Request) -> web.Response:
        return web.Response(text="alert('swapped')", content_type="text/javascript")

    async def kdf(request: web.Request) -> web.Response:
        return web.json_response({"salt": "AAAAAAAAAAAAAAAAAAAAAA", "kdf": {"opslimit": 3, "memlimit": 67108864}})

    app = web.Application()
    app.router.add_get("/api/assets", manifest)
    app.router.add_get("/static/js/a.js", script)
    app.router.add_post("/api/login/start", kdf)
    app.router.add_get("/{tail:.*}", pages)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        done = await in_thread(audit, "--url", f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()
    assert done.returncode == 1
    assert "| Security headers and CSP on every page | WEB-1, WEB-3 | fail |" in done.stdout
    assert "| Subresource Integrity equals the published asset manifest | WEB-2 | fail |" in done.stdout
