"""Tests for the MUST rules of crypto/PROTOCOL.md that no other test proved (crypto/rules.toml names them).

Each test says the rule it proves by its id. Some need the real server, the mail gateway or a
browser; they take the fixtures of the test folders that have them.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from client.chat import accept_frame
from client.links import Staff
from server.accounts import SERVER_SECRET_KEY
from server.app import create_app
from tests.browser.conftest import browser, context, page  # noqa: F401 (fixtures)
from tests.browser.inprocess import (InProcessServer, api_volunteer, proxied_url, start_in_process, stop_in_process,
                                     with_proxy)
from tests.browser.test_enrolment import PASSPHRASE, enrol, login, wait_text
from tests.chatclient import Volunteer
from tests.helpers import enrolled, enrolment_body, invite
from tests.mailclient import DEPLOYMENT, KDF, MailSeeker, checked_x25519, message_json
from tests.mailgate.conftest import gateway, on_duty, relay_sink  # noqa: F401 (fixtures)
from tests.services.database import Database
from tests.server.test_chat_relay import relay, seeker, seeker_http, volunteer_on_duty  # noqa: F401 (fixtures)
from tests.server.test_mail import app_client, mail_volunteer, sessions  # noqa: F401 (fixtures)

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_PYTHON = ("server", "mailgate", "client")
PAGES = REPO / "web" / "js"  # the pages' modules; web/js/crypto/ is the crypto itself


def b64(data: bytes) -> str:
    return crypto.b64encode(data)


# -- M-3-1: nothing derived from a passphrase is cached ---------------------------------------------

CACHING_DECORATORS = {"cache", "lru_cache", "cached_property"}
BROWSER_STORAGE = re.compile(r"\b(?:localStorage|sessionStorage|indexedDB)\b|\bcaches\.open\b")


def test_nothing_derived_from_a_secret_is_cached_or_kept_in_browser_storage():
    offenders = []
    for path in sorted((REPO / "crypto").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                offenders.append(f"{path.name}:{node.lineno}: module state written from a function")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                    if name in CACHING_DECORATORS:
                        offenders.append(f"{path.name}:{node.lineno}: @{name} on {node.name}")
    scripts = sorted(PAGES.rglob("*.js"))
    assert len(scripts) >= 5, "no page scripts found"
    for path in scripts:
        for match in BROWSER_STORAGE.finditer(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(REPO)}: uses {match.group(0)}")
    assert not offenders, "\n".join(offenders)


# -- M-4-1, M-12.4-2: the vector-only arguments stay in the tests -----------------------------------

# name -> (positional arguments a production call has, the keyword only vectors may pass)
VECTOR_ONLY_PY = {"wrap_identity": (2, "nonce"), "seal_mail": (7, "key")}
VECTOR_ONLY_JS = {"wrapIdentity": 2, "sealMail": 7}


def js_call_arguments(text: str, name: str) -> list[int]:
    """The number of arguments of every call `name(...)` (calls may span lines)."""
    counts = []
    for match in re.finditer(rf"(?<![\w$]){name}\s*\(", text):
        depth, commas, index = 1, 0, match.end()
        while depth:
            char = text[index]
            if char in "([{":
                depth += 1
            elif char in ")]}":
                depth -= 1
            elif char == "," and depth == 1:
                commas += 1
            index += 1
        inside = text[match.end():index - 1].strip()
        trailing = inside.endswith(",")  # `f(a, b,)` has two arguments
        counts.append(0 if not inside else commas + 1 - trailing)
    return counts


def test_production_code_never_passes_the_vector_only_nonce_or_key():
    offenders, calls = [], {name: 0 for name in (*VECTOR_ONLY_PY, *VECTOR_ONLY_JS)}
    for folder in PRODUCTION_PYTHON:
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in VECTOR_ONLY_PY:
                    calls[name] += 1
                    positional, keyword = VECTOR_ONLY_PY[name]
                    if len(node.args) > positional or any(k.arg in (keyword, None) for k in node.keywords):
                        offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {name} with its `{keyword}`")
    for path in sorted(PAGES.glob("*.js")):
        text = path.read_text(encoding="utf-8")
        for name, allowed in VECTOR_ONLY_JS.items():
            for count in js_call_arguments(text, name):
                calls[name] += 1
                if count > allowed:
                    offenders.append(f"{path.relative_to(REPO)}: {name} with {count} arguments")
    assert all(calls.values()), f"a scan found no call at all: {calls}"
    assert not offenders, "\n".join(offenders)


def test_the_argument_count_of_a_javascript_call():
    assert js_call_arguments("a.sealMail(x, f(y, z),\n  [1, 2], w)", "sealMail") == [4]
    assert js_call_arguments("wrapIdentity(k, i); unwrapIdentity(a, b, c, d)", "wrapIdentity") == [2]


# -- M-6-1, M-6-2, M-6-3: fake salts ----------------------------------------------------------------

async def test_the_server_secret_is_made_once_and_kept_across_restarts(aiohttp_client: Any,
                                                                        insecure_kdf_config: Any,
                                                                        database: Database) -> None:
    answers = []
    for _ in range(2):  # a restart: a new process on the same data folder
        client = await aiohttp_client(create_app(insecure_kdf_config))
        answers.append(await (await client.post("/api/login/start", json={"name": "Niemand"})).json())
        await client.close()
    assert answers[0] == answers[1]
    rows = database.rows("SELECT value FROM meta WHERE key = ?", SERVER_SECRET_KEY)
    assert len(rows) == 1 and crypto.KEY_BYTES <= len(rows[0][0]) <= 64
    # 256 random bits: the stored value is the unpadded base64 of 32 random bytes.
    assert len(crypto.b64decode(rows[0][0].decode("ascii"), length=32)) == 32


async def test_an_unknown_name_gets_an_answer_shaped_like_a_real_one(client: Any, insecure_kdf_config: Any) -> None:
    await enrolled(client, "Sanne")
    real = await client.post("/api/login/start", json={"name": "Sanne"})
    unknown = await client.post("/api/login/start", json={"name": "Saskia"})
    assert real.status == unknown.status == 200
    real_body, unknown_body = await real.json(), await unknown.json()
    assert set(real_body) == set(unknown_body) == {"salt", "kdf"}
    assert real_body["kdf"] == unknown_body["kdf"] == {"opslimit": insecure_kdf_config.kdf_opslimit,
                                                        "memlimit": insecure_kdf_config.kdf_memlimit_bytes}
    assert len(crypto.b64decode(real_body["salt"])) == len(crypto.b64decode(unknown_body["salt"])) == crypto.SALT_BYTES
    assert real_body["salt"] != unknown_body["salt"]


async def test_two_spellings_of_an_unknown_name_get_one_salt(client: Any) -> None:
    composed = unicodedata.normalize("NFC", "Zoë")
    spellings = [composed, unicodedata.normalize("NFD", composed), f" {composed} "]
    assert len(set(spellings)) == 3
    salts = {(await (await client.post("/api/login/start", json={"name": name})).json())["salt"]
             for name in spellings}
    assert len(salts) == 1


# -- M-7-5, M-7-6, M-7-7: an identity that does not unwrap ends the login ---------------------------

@pytest.mark.browser
async def test_an_altered_wrapped_identity_ends_the_login_and_nothing_falls_back(
        page: Any, context: Any, live_server: Any) -> None:  # noqa: F811 (fixtures)
    name = "Tamara"
    await enrol(page, live_server.invite(name, "--chat", "--mail"), PASSPHRASE)
    ((blob,),) = live_server.store.rows("SELECT wrapped_identity FROM volunteers WHERE name = ?", name)
    # Length and version stay right (the server can check only those): one ciphertext bit differs.
    live_server.store.rows("UPDATE volunteers SET wrapped_identity = ? WHERE name = ?",
                           blob[:40] + bytes([blob[40] ^ 1]) + blob[41:], name)
    await page.goto(live_server.url + "/vrijwilliger")
    await login(page, name, PASSPHRASE)
    await wait_text(page, "#fout", "konden niet worden ontgrendeld")
    assert await page.is_hidden("#werkplek")  # no workspace on the public keys alone
    # The server accepted the auth key and opened a session; the page ended it.
    assert (await context.request.get(live_server.url + "/api/me")).status == 401


# -- M-10.1-1: the help-seeker's page seals nothing after a forged offer ----------------------------

@pytest.fixture
async def inprocess(tmp_path: Path, database: Database) -> AsyncIterator[InProcessServer]:
    srv = await with_proxy(await start_in_process(tmp_path, database=database))
    yield srv
    await stop_in_process(srv)


@pytest.mark.browser
async def test_the_seeker_page_seals_nothing_after_a_forged_offer(
        page: Any, inprocess: InProcessServer) -> None:  # noqa: F811 (fixtures)
    server = inprocess
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        enrolled_volunteer = await api_volunteer(server, http, "Pim")
        volunteer = Volunteer(await http.ws_connect("/ws/volunteer", headers={"Origin": server.url}),
                              enrolled_volunteer.identity)
        await volunteer.next("queue")
        await volunteer.available(True)
        await page.goto(proxied_url(server) + "/chat")
        await page.click("#start")
        await wait_text(page, "#positie", "nummer 1")
        await page.fill("#bericht", "dit is alleen voor Pim")  # typed while waiting: sent once connected
        await page.press("#bericht", "Enter")
        await volunteer.ws.send_json({"t": "pickup"})
        # The chat key is signed by an identity key that is not the one the server names for Pim.
        _, _, accept = accept_frame(crypto.new_identity(), await volunteer.next("assigned"))
        await volunteer.ws.send_json(accept)
        await wait_text(page, "#reden", "niet meer betrouwbaar")
        assert [f for d, f in server.frames if d == 1] == []  # nothing of the help-seeker's reached the relay


# -- M-10.5-1, M-10.6-1: chain keys and the last sequence number ------------------------------------

def chat_pair() -> tuple[crypto.ChatSession, crypto.ChatSession]:
    chat_id, seeker_keys, volunteer_keys = crypto.new_chat_id(), crypto.new_chat_keypair(), crypto.new_chat_keypair()
    return (crypto.ChatSession.for_seeker(chat_id, seeker_keys, volunteer_keys.public),
            crypto.ChatSession.for_volunteer(chat_id, volunteer_keys, seeker_keys.public))


def test_a_session_keeps_only_the_current_chain_keys():
    seeker_session, volunteer_session = chat_pair()
    slots = crypto.ChatSession.__slots__
    # No __dict__, and no slot for message keys or old chains: there is nowhere to keep them.
    assert not hasattr(seeker_session, "__dict__")
    assert {s for s in slots if "chain" in s} == {"_tx_chain", "_rx_chain"}
    assert {s for s in slots if "key" in s} == set()
    seen: set[bytes] = set()
    for _ in range(3):
        chains = {getattr(s, name) for s in (seeker_session, volunteer_session) for name in ("_tx_chain", "_rx_chain")}
        assert not chains & seen, "an earlier chain key is still held"
        seen |= chains
        seq, ct = seeker_session.seal(b"hallo")
        assert volunteer_session.open(seq, ct) == b"hallo"
        seq, ct = volunteer_session.seal(b"hoi")
        assert seeker_session.open(seq, ct) == b"hoi"
    seeker_session.wipe()
    assert seeker_session._tx_chain is None and seeker_session._rx_chain is None


def test_a_sender_stops_at_the_last_sequence_number():
    seeker_session, _ = chat_pair()
    seeker_session._sent = crypto.MAX_CHAT_SEQ - 1  # stands in for 2**53 - 2 earlier messages
    assert seeker_session.seal(b"het laatste")[0] == crypto.MAX_CHAT_SEQ
    with pytest.raises(crypto.CryptoError):
        seeker_session.seal(b"een te veel")
    assert seeker_session.sent == crypto.MAX_CHAT_SEQ


# -- M-10.10-1: the identity key the help-seeker checks the offer against --------------------------

async def test_the_seeker_gets_the_identity_key_stored_at_enrolment(
        relay: Any, seeker_http: Any, database: Database) -> None:  # noqa: F811 (fixtures)
    volunteer = await volunteer_on_duty(relay, "Sanne")
    s = await seeker(relay, seeker_http)
    await s.open(seeker_http)
    await volunteer.pick_up()
    frame = await s.connected()
    ((stored,),) = database.rows("SELECT ed25519_public FROM volunteers WHERE name = 'Sanne'")
    assert crypto.b64decode(frame["identity"]) == stored == volunteer.identity.ed25519_public


# -- M-10.11-1, M-10.11-2: staff links ---------------------------------------------------------------

class Frames:
    """A websocket with the given frames to receive, and nothing to send."""

    def __init__(self, *frames: dict[str, Any]) -> None:
        self.frames = list(frames)

    async def receive_json(self, timeout: float | None = None) -> dict[str, Any]:
        return self.frames.pop(0)


async def test_staff_refuse_a_link_key_not_signed_for_this_link() -> None:
    inviter_identity, joiner_identity, stranger = crypto.new_identity(), crypto.new_identity(), crypto.new_identity()
    inviter, joiner = Staff(Frames(), inviter_identity), Staff(Frames(), joiner_identity)
    fields = inviter._invite_link()
    link_id, inviter_pub = crypto.b64decode(fields["link"]), crypto.b64decode(fields["pub"])
    offered = {"identity": b64(inviter_identity.ed25519_public), **fields}
    # The joiner: an inviter key signed by someone else, or signed for another link, is refused.
    forged = [{**offered, "identity": b64(stranger.ed25519_public)},
              {**offered, "sig": b64(crypto.sign_link_key(inviter_identity, crypto.new_chat_id(), crypto.LINK_INVITER,
                                                          inviter_pub))}]
    for inviter_fields in forged:
        with pytest.raises(crypto.BadSignature):
            joiner._join(link_id, inviter_fields)
        assert joiner.links == {}
    answer = joiner._join(link_id, offered)
    assert link_id in joiner.links
    # The inviter: a joiner signature that covers another inviter key is refused, and no link opens.
    other_pub = crypto.new_chat_keypair().public
    spliced = b64(crypto.sign_link_key(joiner_identity, link_id, crypto.LINK_JOINER, crypto.b64decode(answer["pub"]),
                                       other_pub))
    inviter.ws = Frames({"t": "mentor-linked", "link": fields["link"], "identity": b64(joiner_identity.ed25519_public),
                         "pub": answer["pub"], "sig": spliced})
    with pytest.raises(crypto.BadSignature):
        await inviter.joiner_arrived("mentor-linked")
    assert inviter.links == {}
    # The true answer to a new invitation opens the link.
    fields = inviter._invite_link()
    link_id = crypto.b64decode(fields["link"])
    answer = joiner._join(link_id, {"identity": b64(inviter_identity.ed25519_public), **fields})
    inviter.ws = Frames({"t": "mentor-linked", "link": fields["link"], "identity": b64(joiner_identity.ed25519_public),
                         **answer})
    await inviter.joiner_arrived("mentor-linked")
    assert link_id in inviter.links


# -- M-11-2: proof-of-work goes with per-address rate limits ----------------------------------------

@pytest.mark.parametrize("path", ["/api/chat/challenge", "/api/mail/challenge"])
async def test_challenges_are_rate_limited_per_address(client: Any, insecure_kdf_config: Any, path: str) -> None:
    limit = insecure_kdf_config.chat_challenges_per_minute
    statuses = [(await client.post(path)).status for _ in range(limit + 1)]
    assert statuses == [200] * limit + [429]


# -- M-12.1-3: the token never travels in a URL ------------------------------------------------------

@pytest.mark.browser
async def test_the_token_and_the_lookup_key_never_travel_in_a_url(
        browser: Any, inprocess: InProcessServer) -> None:  # noqa: F811 (fixtures)
    server, first = inprocess, "Ik wil dit eerst opschrijven voordat ik het iemand vertel"
    urls: list[str] = []
    async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await api_volunteer(server, http, "Sanne")  # on duty for mail
        seeker_context = await browser.new_context(locale="nl-NL")
        seeker_context.on("request", lambda request: urls.append(request.url))
        try:
            writer = await seeker_context.new_page()
            writer.on("websocket", lambda ws: urls.append(ws.url))
            await writer.goto(proxied_url(server) + "/mail")
            await writer.fill("#bericht", first)
            await writer.click("#schrijven button[type=submit]")
            await writer.wait_for_selector("#code-kaart:not([hidden])", timeout=30_000)
            token = crypto.parse_token((await writer.text_content("#code")).strip())
            returner = await seeker_context.new_page()
            await returner.goto(proxied_url(server) + "/mail/terug")
            await returner.fill("#code", crypto.format_token(token))
            await returner.click("#code-formulier button")
            await returner.locator("#berichten li.mine", has_text=first).wait_for(timeout=30_000)
        finally:
            await seeker_context.close()
    assert any(url.endswith("/api/mail/open") for url in urls), "the return visit made no request"
    lookup_key = crypto.derive_mailbox(token, DEPLOYMENT, KDF).lookup_key
    forms = {token, crypto.format_token(token), b64(lookup_key), lookup_key.hex()}
    forms |= {form.lower() for form in forms}
    leaks = [url for url in urls for form in forms if form in url or form in url.lower()]
    assert not leaks, leaks


# -- M-12.3-2, M-12.3-3, M-12.3-4: key certificates --------------------------------------------------

async def test_enrolment_needs_a_certificate_that_vouches_for_the_key(client: Any, database: Database) -> None:
    token = await invite(client, "Sanne")
    identity = crypto.new_identity()
    good = enrolment_body(token, identity=identity)
    someone_else = crypto.sign_key_certificate(crypto.new_identity())
    for certificate in (None, b64(bytes(crypto.SIGNATURE_BYTES)), b64(someone_else)):
        body = {k: v for k, v in good.items() if k != "x25519_certificate"}
        if certificate is not None:
            body["x25519_certificate"] = certificate
        resp = await client.post("/api/enrol", json=body)
        assert resp.status == 400 and (await resp.json())["field"] == "x25519_certificate"
        assert database.rows("SELECT count(*) FROM volunteers") == [(0,)]
    assert (await client.post("/api/enrol", json=good)).status == 201
    ((stored,),) = database.rows("SELECT x25519_certificate FROM volunteers WHERE name = 'Sanne'")
    assert stored == crypto.b64decode(good["x25519_certificate"])
    crypto.verify_key_certificate(identity.ed25519_public, identity.x25519_public, stored)


async def test_the_gateway_encrypts_to_no_key_its_certificate_does_not_vouch_for(
        gateway: InProcessServer, relay_sink: Any, on_duty: Any) -> None:  # noqa: F811 (fixtures)
    from tests.mailgate.test_gateway import in_thread, message, send, stored_rows
    forged = crypto.sign_key_certificate(crypto.new_identity())  # vouches for another key
    gateway.store.rows("UPDATE volunteers SET x25519_certificate = ? WHERE name = 'Sanne'", forged)
    code, text = await in_thread(send, gateway, message())
    assert code >= 400, (code, text)
    assert stored_rows(gateway) == (0, 0, 0)  # no thread, no message, nothing counted
    assert relay_sink.received == []  # and no return mail with a token for a mail nobody can read


# -- M-12.7-1: what the server fixes itself before storing a mail message -----------------------------

async def test_mail_seq_follows_the_last_and_the_author_is_who_is_signed_in(
        app_client: Any, sessions: Any, database: Database) -> None:  # noqa: F811 (fixtures)
    v_http, s_http = sessions[:2]
    await mail_volunteer(app_client, v_http, "Sanne")
    mail_seeker = MailSeeker(s_http)
    assert (await mail_seeker.send_first("Ik weet niet goed waar ik moet beginnen")).status == 201
    await mail_seeker.open()
    thread_id = crypto.b64decode(mail_seeker.thread["thread"])
    volunteer_x = checked_x25519(mail_seeker.thread["volunteer"])

    def sealed(seq: int, author: int = crypto.AUTHOR_SEEKER) -> dict[str, Any]:
        return message_json(seq, crypto.seal_mail(thread_id, seq, author, b"nog iets", mail_seeker.box,
                                                  mail_seeker.box.x25519_public, volunteer_x))

    def stored() -> list[tuple[int, int]]:
        return database.rows("SELECT seq, author FROM mail_messages ORDER BY seq")

    for seq in (1, 3):  # the last one again, and a gap
        resp = await s_http.post("/api/mail/write", json={**mail_seeker.lookup, "message": sealed(seq)})
        assert resp.status == 409, (seq, resp.status)
    # Claiming to be the volunteer: the server takes the author from the session (the help-seeker),
    # so the signature, made over author 2, does not verify.
    claim = {**sealed(2, crypto.AUTHOR_VOLUNTEER), "author": crypto.AUTHOR_VOLUNTEER}
    resp = await s_http.post("/api/mail/write", json={**mail_seeker.lookup, "message": claim})
    assert resp.status == 400 and (await resp.json())["field"] == "signature"
    assert stored() == [(1, crypto.AUTHOR_SEEKER)]
    resp = await s_http.post("/api/mail/write", json={**mail_seeker.lookup, "message": sealed(2)})
    assert resp.status == 201
    assert stored() == [(1, crypto.AUTHOR_SEEKER), (2, crypto.AUTHOR_SEEKER)]
