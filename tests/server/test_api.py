"""Integration tests of the HTTP API against a real in-process server and database (both backends).

The client side uses our own crypto facade, exactly as the browser's crypto.js
does (the two are held together by tests/vectors/).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

import crypto
from server import accounts
from server.app import create_app
from server.config import load_config
from server.keys import CLOCK, CONFIG, STORAGE
from server.storage.sqlite import SQLiteStorage
from tests.conftest import INSECURE_TEST_ENV
from tests.services.database import Database, written
from tests.helpers import PASSPHRASE, Clock, enrolled, enrolment_body, invite, login_body

def volunteer_count(database: Database) -> int:
    return database.rows("SELECT count(*) FROM volunteers")[0][0]


async def test_enrol_then_login_unlocks_the_same_identity(client: Any) -> None:
    token = await invite(client)
    check = await client.post("/api/enrol/check", json={"invitation": token})
    assert check.status == 200
    info = await check.json()
    assert info["name"] == "Sanne" and info["kdf"] == {"opslimit": 1, "memlimit": 8192}
    body = enrolment_body(token)
    assert (await client.post("/api/enrol", json=body)).status == 201

    resp = await client.post("/api/login", json=await login_body(client, "Sanne", PASSPHRASE))
    assert resp.status == 200
    answer = await resp.json()
    assert answer["wrapped_identity"] == body["wrapped_identity"]
    start = await (await client.post("/api/login/start", json={"name": "Sanne"})).json()
    keys = crypto.derive_volunteer_keys(PASSPHRASE, crypto.b64decode(start["salt"]), crypto.KdfParams(1, 8192))
    identity = crypto.unwrap_identity(keys.wrapping_key, crypto.b64decode(answer["wrapped_identity"]),
                                      crypto.b64decode(answer["x25519_public"]),
                                      crypto.b64decode(answer["ed25519_public"]))
    assert crypto.b64encode(identity.x25519_public) == body["x25519_public"]
    me = await client.get("/api/me")
    assert me.status == 200 and (await me.json())["name"] == "Sanne"


async def test_server_stores_a_hash_of_the_auth_key_never_the_key(client: Any, insecure_kdf_config: Any,
                                                                  database: Database) -> None:
    token = await invite(client)
    body = enrolment_body(token)
    await client.post("/api/enrol", json=body)
    ((stored,),) = database.rows("SELECT auth_hash FROM volunteers")
    assert stored.startswith("$argon2id$")
    auth_key = crypto.b64decode(body["auth_key"])
    assert crypto.verify_auth_key(stored, auth_key)
    raw = written(insecure_kdf_config.data_dir, database)
    assert auth_key not in raw and body["auth_key"].encode() not in raw and auth_key.hex().encode() not in raw


async def test_used_invitation_is_refused_and_changes_nothing(client: Any, database: Database) -> None:
    token = await invite(client)
    assert (await client.post("/api/enrol", json=enrolment_body(token))).status == 201
    again = await client.post("/api/enrol", json=enrolment_body(token, "een andere wachtwoordzin"))
    assert again.status == 410
    assert (await again.json())["reason"] == "used"
    check = await client.post("/api/enrol/check", json={"invitation": token})
    assert check.status == 410
    assert volunteer_count(database) == 1


async def test_expired_invitation_is_refused(client: Any, clock: Clock, insecure_kdf_config: Any,
                                           database: Database) -> None:
    token = await invite(client)
    clock.now += insecure_kdf_config.invitation_ttl_hours * 3600
    resp = await client.post("/api/enrol", json=enrolment_body(token))
    assert resp.status == 410 and (await resp.json())["reason"] == "expired"
    assert volunteer_count(database) == 0


async def test_unknown_invitation_is_refused(client: Any) -> None:
    resp = await client.post("/api/enrol/check", json={"invitation": crypto.new_token(32)})
    assert resp.status == 410 and (await resp.json())["reason"] == "unknown"


async def test_enrolment_with_weaker_kdf_than_configured_is_refused(client: Any, database: Database) -> None:
    token = await invite(client)
    resp = await client.post("/api/enrol", json=enrolment_body(token, kdf={"opslimit": 2, "memlimit": 16384}))
    assert resp.status == 400 and (await resp.json())["field"] == "kdf"
    assert volunteer_count(database) == 0


@pytest.mark.parametrize("field,value", [
    ("salt", "AAAA"), ("auth_key", "not base64!"), ("x25519_public", crypto.b64encode(bytes(31))),
    ("ed25519_public", 42), ("wrapped_identity", crypto.b64encode(bytes(104))), ("invitation", "short"),
])
async def test_malformed_enrolment_fields_answer_400_and_change_nothing(
        client: Any, database: Database, field: str, value: Any) -> None:
    token = await invite(client)
    body = enrolment_body(token)
    body[field] = value
    resp = await client.post("/api/enrol", json=body)
    assert resp.status == 400
    assert (await resp.json())["field"] == field
    assert volunteer_count(database) == 0
    # the invitation is still usable
    assert (await client.post("/api/enrol/check", json={"invitation": token})).status == 200


@pytest.mark.parametrize("data,content_type", [
    (b"{not json", "application/json"), (b"[1, 2]", "application/json"), (b"\xff\xfe", "application/json"),
    (b'{"name": "x"}', "text/plain"), (b"", "application/json"),
])
async def test_malformed_bodies_answer_json_400(client: Any, data: bytes, content_type: str) -> None:
    for path in ("/api/enrol", "/api/enrol/check", "/api/login/start", "/api/login"):
        resp = await client.post(path, data=data, headers={"Content-Type": content_type})
        assert resp.status == 400, path
        body = await resp.json()
        assert body["error"] and body["message"]["nl"] and body["message"]["en"]


async def test_oversized_body_answers_413_json(client: Any, insecure_kdf_config: Any) -> None:
    big = b'{"name": "' + b"a" * (insecure_kdf_config.max_request_kib * 1024 + 10) + b'"}'
    resp = await client.post("/api/login/start", data=big, headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert (await resp.json())["message"]["en"]


async def test_unknown_api_path_and_wrong_method_answer_json(client: Any) -> None:
    resp = await client.get("/api/nope")
    assert resp.status == 404 and (await resp.json())["error"] == "not-found"
    resp = await client.get("/api/login")
    assert resp.status == 405 and "message" in await resp.json()


async def test_wrong_passphrase_and_unknown_name_get_the_same_answer(client: Any) -> None:
    await enrolled(client)
    wrong = await client.post("/api/login", json=await login_body(client, "Sanne", "verkeerde wachtwoordzin"))
    unknown = await client.post("/api/login", json=await login_body(client, "Niemand", "verkeerde wachtwoordzin"))
    assert wrong.status == unknown.status == 401
    assert (await wrong.json()) == (await unknown.json())
    assert "Set-Cookie" not in wrong.headers


async def test_unknown_name_gets_a_stable_fake_salt(client: Any) -> None:
    a = await (await client.post("/api/login/start", json={"name": "Niemand"})).json()
    b = await (await client.post("/api/login/start", json={"name": "Niemand"})).json()
    c = await (await client.post("/api/login/start", json={"name": "Iemand"})).json()
    assert a == b and a["salt"] != c["salt"] and len(crypto.b64decode(a["salt"])) == 16


async def test_failed_logins_slow_down_the_account_not_an_address(
        client: Any, clock: Clock, insecure_kdf_config: Any, database: Database) -> None:
    await enrolled(client)
    bad = await login_body(client, "Sanne", "verkeerde wachtwoordzin")
    for _ in range(insecure_kdf_config.login_free_attempts):
        assert (await client.post("/api/login", json=bad)).status == 401
    good = await login_body(client, "Sanne", PASSPHRASE)
    locked = await client.post("/api/login", json=good)
    assert locked.status == 429
    assert int(locked.headers["Retry-After"]) > 0
    clock.now += int(locked.headers["Retry-After"])
    assert (await client.post("/api/login", json=good)).status == 200
    assert database.rows("SELECT failed_logins, locked_until FROM volunteers") == [(0, 0)]


async def test_deactivated_account_cannot_log_in_and_loses_its_sessions(
        client: Any, insecure_kdf_config: Any) -> None:
    await enrolled(client)
    assert (await client.post("/api/login", json=await login_body(client, "Sanne", PASSPHRASE))).status == 200
    assert (await client.get("/api/me")).status == 200
    assert await client.server.app[STORAGE].set_active("Sanne", False)
    assert (await client.get("/api/me")).status == 401
    resp = await client.post("/api/login", json=await login_body(client, "Sanne", PASSPHRASE))
    assert resp.status == 403 and (await resp.json())["reason"] == "deactivated"


async def test_session_cookie_flags_and_logout(client: Any) -> None:
    await enrolled(client)
    resp = await client.post("/api/login", json=await login_body(client, "Sanne", PASSPHRASE))
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(accounts.SESSION_COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in this test; see the TLS test below
    assert (await client.get("/api/me")).status == 200
    assert (await client.post("/api/logout", json={})).status == 200
    assert (await client.get("/api/me")).status == 401


async def test_session_cookie_is_secure_behind_tls(aiohttp_client: Any, tmp_path: Any, database: Database) -> None:
    config = load_config(env={**INSECURE_TEST_ENV, "OOR_PUBLIC_URL": "https://hulp.example.nl"},
                         overrides={"data_dir": str(tmp_path / "var"), "database_url": database.url})
    client = await aiohttp_client(create_app(config))
    await enrolled(client)
    resp = await client.post("/api/login", json=await login_body(client, "Sanne", PASSPHRASE))
    assert "Secure" in resp.headers["Set-Cookie"]
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_sessions_expire_when_idle_and_absolutely(client: Any, clock: Clock, insecure_kdf_config: Any,
                                                        database: Database) -> None:
    await enrolled(client)
    await client.post("/api/login", json=await login_body(client, "Sanne", PASSPHRASE))
    clock.now += insecure_kdf_config.session_idle_minutes * 60 - 1
    assert (await client.get("/api/me")).status == 200
    clock.now += insecure_kdf_config.session_idle_minutes * 60 + 1
    assert (await client.get("/api/me")).status == 401
    await client.post("/api/login", json=await login_body(client, "Sanne", PASSPHRASE))
    step = insecure_kdf_config.session_idle_minutes * 60 - 60
    for _ in range(insecure_kdf_config.session_max_hours * 3600 // step + 1):
        clock.now += step
        await client.get("/api/me")
    assert (await client.get("/api/me")).status == 401
    assert database.rows("SELECT count(*) FROM sessions") == [(0,)]


async def test_cross_origin_posts_are_refused(client: Any, database: Database) -> None:
    token = await invite(client)
    resp = await client.post("/api/enrol", json=enrolment_body(token), headers={"Origin": "https://evil.example"})
    assert resp.status == 403
    assert volunteer_count(database) == 0


@pytest.mark.parametrize("path", ["/", "/inschrijven", "/vrijwilliger", "/api/health", "/api/assets",
                                  "/static/js/crypto.js", "/static/js/crypto/_primitives.js",
                                  "/vendor/libsodium-sumo.mjs", "/bestaat-niet",
                                  "/api/bestaat-niet"])
async def test_security_headers_on_every_response(client: Any, path: str) -> None:
    resp = await client.get(path)
    h = resp.headers
    csp = h["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self' 'wasm-unsafe-eval' 'sha256-" in csp and "unsafe-inline" not in csp
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in h["Permissions-Policy"]
    assert "Set-Cookie" not in h  # anonymous visitors get no cookie


async def test_every_script_and_stylesheet_carries_its_published_integrity(client: Any) -> None:
    import re
    manifest = (await (await client.get("/api/assets")).json())["assets"]
    for path in ("/", "/inschrijven", "/vrijwilliger", "/?lang=en"):
        html = await (await client.get(path)).text()
        # SRI applies to scripts and style sheets (an icon link cannot carry it).
        tags = re.findall(r'<script[^>]*\bsrc="[^"]+"[^>]*>|<link rel="stylesheet"[^>]*>', html)
        assert len(tags) >= 2, path
        for tag in tags:
            url = re.search(r'(?:src|href)="([^"]+)"', tag).group(1)
            assert url.startswith(("/static/", "/vendor/")), tag  # no third-party origin
            assert f'integrity="{manifest[url]}"' in tag, tag
    # What is loaded through `import` (the crypto facade's modules under /static/js/crypto/,
    # libsodium) carries its hash in the import map: every published script, and nothing else.
    import json
    import_map = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1))
    scripts = {url: sri for url, sri in manifest.items() if url.endswith((".js", ".mjs"))}
    assert import_map["integrity"] == scripts
    assert {"/static/js/crypto.js", "/static/js/crypto/_primitives.js", "/static/js/crypto/chat.js"} <= set(scripts)
    import base64
    import hashlib
    for url, sri in manifest.items():
        body = await (await client.get(url)).read()
        assert sri == "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


async def test_inline_import_map_is_allowed_by_hash_only(client: Any) -> None:
    import base64
    import hashlib
    import re
    resp = await client.get("/")
    html = await resp.text()
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, re.S)
    executable = [(attrs, body) for attrs, body in inline if 'type="application/json"' not in attrs]
    assert len(executable) == 1 and 'type="importmap"' in executable[0][0]
    digest = base64.b64encode(hashlib.sha256(executable[0][1].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in resp.headers["Content-Security-Policy"]
    assert re.search(r"\sstyle=", html) is None and re.search(r"\son[a-z]+=", html) is None


async def test_english_switch_needs_no_cookie(client: Any) -> None:
    nl = await client.get("/")
    en = await client.get("/?lang=en")
    assert '<html lang="nl">' in await nl.text()
    text = await en.text()
    assert '<html lang="en">' in text and "Talk anonymously" in text
    assert "Set-Cookie" not in en.headers


async def test_access_log_records_no_address_agent_or_referrer(
        client: Any, caplog: pytest.LogCaptureFixture) -> None:
    from aiohttp import web

    from server.http import PrivateAccessLogger
    logger = logging.getLogger("oor.access.test")
    access = PrivateAccessLogger(logger, "")
    with caplog.at_level(logging.INFO, logger="oor.access.test"):
        from aiohttp.test_utils import make_mocked_request
        app = web.Application()

        async def page(request: web.Request) -> web.Response:
            return web.Response()
        app.router.add_get("/vrijwilliger", page)
        req = make_mocked_request("GET", "/vrijwilliger?lang=en", app=app,
                                  headers={"User-Agent": "Agent/7.7", "Referer": "https://ref.example/",
                                           "X-Forwarded-For": "127.31.7.9"})
        # The route it matched, as the server's router would set it (an unmatched path is a placeholder).
        req._match_info = await app.router.resolve(req)
        access.log(req, web.Response(text="hi"), 0.01)
    line = caplog.records[-1].getMessage()
    assert '"GET /vrijwilliger" 200' in line
    for leak in ("127.", "Agent/7.7", "ref.example", "lang=en"):
        assert leak not in line


def test_log_scrubber_removes_addresses_from_any_record() -> None:
    from server.http import AddressScrubber
    record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1,
                               "Error handling request from %s", ("127.31.7.9",), None)
    AddressScrubber().filter(record)
    assert "127.31.7.9" not in record.getMessage()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "peer [2001:db8::7]:443 gone", None, None)
    AddressScrubber().filter(record)
    assert "2001:db8::7" not in record.getMessage()


async def test_storage_runs_with_wal_and_secure_delete(tmp_path: Any) -> None:
    """SQLite only; PostgreSQL's counterpart is in test_storage_postgres.py."""
    storage = SQLiteStorage(tmp_path / "oor.sqlite3")
    await storage.open()
    try:
        mode = await storage._run(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
        secure = await storage._run(lambda c: c.execute("PRAGMA secure_delete").fetchone()[0])
        version = await storage._run(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
    finally:
        await storage.close()
    assert mode == "wal" and secure == 1 and version >= 1


async def test_unknown_names_are_slowed_down_like_real_ones(aiohttp_client: Any, tmp_path: Any, clock: Clock,
                                                            database: Database) -> None:
    """Otherwise only real accounts would ever answer 429, which would tell which names exist."""
    # Twelve attempts from one address: lift the per-address limit (login_per_minute), which is
    # tested in test_login_hardening.py, so that only the slow-down per name answers here.
    insecure_kdf_config = load_config(env=INSECURE_TEST_ENV, overrides={"data_dir": str(tmp_path / "var"),
                                                                        "database_url": database.url,
                                                                        "login_per_minute": 100})
    client = await aiohttp_client(create_app(insecure_kdf_config, clock=clock))
    await enrolled(client)
    real, unknown = [], []
    for name, into in (("Sanne", real), ("Niemand", unknown)):
        body = await login_body(client, name, "verkeerde wachtwoordzin")
        for _ in range(insecure_kdf_config.login_free_attempts + 1):
            resp = await client.post("/api/login", json=body)
            into.append((resp.status, resp.headers.get("Retry-After")))
    assert real == unknown
    assert real[-1][0] == 429


async def test_sessions_are_stored_only_as_a_hash_of_the_cookie(client: Any, insecure_kdf_config: Any,
                                                                database: Database) -> None:
    await enrolled(client)
    resp = await client.post("/api/login", json=await login_body(client, "Sanne", PASSPHRASE))
    cookie = resp.cookies[accounts.SESSION_COOKIE].value
    stored = [row[0] for row in database.rows("SELECT token_hash FROM sessions")]
    assert stored == [crypto.hash_token(cookie)]
    raw = written(insecure_kdf_config.data_dir, database)
    assert cookie.encode() not in raw


def test_access_log_uses_route_templates_not_ids(caplog: pytest.LogCaptureFixture) -> None:
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from server.http import PrivateAccessLogger
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        return web.Response()
    app.router.add_get("/api/mail/threads/{thread}", handler)
    app.router.add_get("/ws/chat", handler)
    logger = logging.getLogger("oor.access.test2")
    with caplog.at_level(logging.INFO, logger="oor.access.test2"):
        for path in ("/api/mail/threads/SECRETTHREADID", "/ws/chat"):
            req = make_mocked_request("GET", path, app=app)
            match = app.router._resources[0 if "threads" in path else 1]
            req._match_info = type("M", (), {"route": next(iter(match))})()
            PrivateAccessLogger(logger, "").log(req, web.Response(), 12.5)
    lines = [r.getMessage() for r in caplog.records]
    assert '"GET /api/mail/threads/{thread}" 200' in lines[0] and "SECRETTHREADID" not in lines[0]
    assert lines[1] == '"GET /ws/chat" 200' and "12.5" not in lines[1]
