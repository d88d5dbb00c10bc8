"""One catalogue of words, domain errors translated at the edge (issue 12).

Every sentence an error answer carries comes from `server/i18n.py` by key: no raise
site in `server/` or `mailgate/` passes inline Dutch or English to an error class, and
every key a raise site names exists, with the values its sentence needs. The answers
themselves are what clients have always received (the JSON of `as_json`, the SMTP
replies); the HTTP middleware answers any `crypto.CryptoError` nobody caught; and one
helper, `accounts.logged_in`, tells a route who is logged in and refuses the rest
with the same statuses everywhere (401, and 403 for "not set up for chat or mail").
"""

from __future__ import annotations

import ast
import logging
import re
import string
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

import crypto
from mailgate.gateway import TEMPORARY_PROBLEM, NoKey, smtp_reply
from mailgate.parse import Unreadable
from server import accounts
from server.errors import BadRequest, Conflict, Forbidden, OorError, TooManyRequests, Unauthorized, decode_field
from server.http import error_middleware
from server.i18n import PLURALS, TEXTS, message
from server.keys import CLOCK, CONFIG, STORAGE
from server.storage import ROLES
from tests.helpers import PASSPHRASE, enrolment_body, login_body

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("server", "mailgate")
# Error classes and the position of the catalogue key among their positional arguments:
# the server's tree takes (key), the chat's frame errors take (code, key).
ERROR_ROOTS = {"OorError": 0, "FrameError": 1, "ChatRefused": 1}
# A key or a code: lower case, digits, `_` and `-`. Anything else in a string literal
# handed to an error class is words for a person, which belong in the catalogue.
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_-]*$")


def python_files() -> list[Path]:
    return [p for top in SCANNED for p in sorted((REPO / top).rglob("*.py")) if "__pycache__" not in p.parts]


def error_classes(trees: dict[Path, ast.Module]) -> dict[str, int]:
    """Every error class of ours (by name) with the position of its key, subclasses included."""
    found = dict(ERROR_ROOTS)
    changed = True
    while changed:
        changed = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in found:
                    bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                    known = [found[b] for b in bases if b in found]
                    if known:
                        found[node.name] = known[0]
                        changed = True
    return found


def constructions() -> list[tuple[str, int, str, ast.Call, int]]:
    """(file, line, class, call, key position) for every call of one of our error classes."""
    trees = {p: ast.parse(p.read_text(encoding="utf-8"), filename=str(p)) for p in python_files()}
    classes = error_classes(trees)
    calls = []
    for path, tree in trees.items():
        rel = path.relative_to(REPO).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name in classes:
                    calls.append((rel, node.lineno, name, node, classes[name]))
    return calls


def literal_strings(node: ast.expr) -> list[str] | None:
    """The strings an argument can be, when written out (a literal or `a if c else b`); else None."""
    if isinstance(node, ast.Constant) and (isinstance(node.value, str) or node.value is None):
        return [node.value] if node.value is not None else []
    if isinstance(node, ast.IfExp):
        left, right = literal_strings(node.body), literal_strings(node.orelse)
        return None if left is None or right is None else left + right
    return None


def inline_text(call: ast.Call) -> list[str]:
    """The words for a person that a call passes inline: string literals that are not keys or codes."""
    found = []
    for arg in call.args:
        if isinstance(arg, ast.JoinedStr):
            found.append(ast.unparse(arg))
        for value in literal_strings(arg) or []:
            if not IDENTIFIER.match(value):
                found.append(value)
    return found


def placeholders(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name}


def sentences(key: str) -> list[str]:
    """Every sentence of an entry: its two languages, or for a plural entry (issue 15) every form of both."""
    if key in PLURALS:
        entry = PLURALS[key]
        return [*entry.nl.values(), *entry.en.values()]
    return list(TEXTS[key])


def test_the_scan_finds_the_raise_sites():
    # Guard against the checks below passing vacuously.
    calls = constructions()
    files = {rel for rel, *_ in calls}
    assert {"server/accounts.py", "server/mail/desk.py", "server/http.py", "server/coordinator.py"} <= files
    assert len(calls) > 50
    assert inline_text(ast.parse('BadRequest("Veld ontbreekt.", "Field missing.", field="x")').body[0].value)


def test_no_raise_site_passes_inline_words():
    offenders = [f"{rel}:{line}: {name}({', '.join(words)})" for rel, line, name, call, _ in constructions()
                 if (words := inline_text(call))]
    assert not offenders, "words for a person go in server/i18n.py TEXTS, by key:\n" + "\n".join(offenders)


def test_every_key_at_a_raise_site_exists_with_the_values_it_needs():
    problems = []
    for rel, line, name, call, at in constructions():
        if len(call.args) <= at or any(isinstance(a, ast.Starred) for a in call.args):
            continue
        keys = literal_strings(call.args[at])
        if keys is None:
            continue  # a key chosen at run time (none so far): nothing to check here
        given = {k.arg for k in call.keywords if k.arg}
        unpacked = any(k.arg is None for k in call.keywords)
        for k in call.keywords:
            if k.arg == "values" and isinstance(k.value, ast.Dict):
                given |= {key.value for key in k.value.keys if isinstance(key, ast.Constant)}
        for key in keys:
            if key not in TEXTS and key not in PLURALS:
                problems.append(f"{rel}:{line}: {name}({key!r}): no such key in TEXTS or PLURALS")
                continue
            needed = set().union(*(placeholders(sentence) for sentence in sentences(key)))
            if not unpacked and not needed <= given:
                problems.append(f"{rel}:{line}: {name}({key!r}) does not give {sorted(needed - given)}")
    assert not problems, "\n".join(problems)


def test_every_error_class_has_its_own_sentence():
    import server.app  # noqa: F401 (every error class defined)
    import mailgate.gateway  # noqa: F401

    def subclasses(cls: type) -> list[type]:
        return [cls] + [s for sub in cls.__subclasses__() for s in subclasses(sub)]
    for cls in subclasses(OorError):
        assert cls.key in TEXTS, cls


def test_no_key_is_written_twice():
    # Two engineers insert into the same dict literal: a repeated key would silently replace the first.
    source = (REPO / "server" / "i18n.py").read_text(encoding="utf-8")
    for name in ("TEXTS", "PLURALS"):
        texts = next(n.value for n in ast.walk(ast.parse(source))
                     if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == name)
        keys = [k.value for k in texts.keys if isinstance(k, ast.Constant)]
        assert len(keys) > 10, name
        assert len(keys) == len(set(keys)), (name, sorted(k for k in keys if keys.count(k) > 1))


def test_both_languages_take_the_same_values():
    # Stricter than test_i18n (it sees `{name!r}` too). The one exception is what clients have
    # always been told: the English sentence names the volunteer whose name is taken, the Dutch does not.
    english_only = {"name_taken_named": {"name"}}
    for key, (nl, en) in TEXTS.items():
        assert placeholders(en) - placeholders(nl) == english_only.get(key, set()), key
        assert placeholders(nl) <= placeholders(en), key


def test_the_role_lists_in_the_words_are_the_roles():
    for key in ("role_unknown", "role_choose"):
        assert ", ".join(ROLES) + "." in TEXTS[key][1], key


# -- the answers are what clients have always received ------------------------------------------------


def test_error_answers_keep_their_shape():
    assert BadRequest("field_missing", field="salt").as_json() == {
        "error": "bad-request", "message": {"nl": "Veld salt ontbreekt.", "en": "Field salt is missing."},
        "field": "salt"}
    assert TooManyRequests("login_locked", retry_after=8).as_json() == {
        "error": "too-many-requests",
        "message": {"nl": "Te veel mislukte pogingen. Probeer het over 8 seconden opnieuw.",
                    "en": "Too many failed attempts. Try again in 8 seconds."},
        "retry_after": 8}
    assert TooManyRequests("login_locked", retry_after=1).as_json()["message"] == {
        "nl": "Te veel mislukte pogingen. Probeer het over 1 seconde opnieuw.",
        "en": "Too many failed attempts. Try again in 1 second."}
    assert Conflict("name_taken_named", field="name", values={"name": "Sanne"}).as_json() == {
        "error": "conflict", "message": {"nl": "Er is al een vrijwilliger met deze naam.",
                                         "en": "A volunteer named 'Sanne' exists already."}, "field": "name"}
    assert Unauthorized().as_json() == {"error": "unauthorized", "message": message("unauthorized")}
    assert Conflict().message == message("bad_request")  # as before: Conflict and Gone have no words of their own


def test_decode_field_names_the_field():
    assert decode_field({"k": crypto.b64encode(b"x" * 32)}, "k", 32) == b"x" * 32
    for payload, key in (({}, "field_missing"), ({"k": 5}, "field_missing"), ({"k": "not base64!"}, "field_invalid"),
                         ({"k": crypto.b64encode(b"x" * 31)}, "field_invalid")):
        with pytest.raises(BadRequest) as refused:
            decode_field(payload, "k", 32)
        assert refused.value.key == key and refused.value.extra == {"field": "k"}


async def test_the_middleware_answers_a_crypto_error_nobody_caught(aiohttp_client: Any) -> None:
    async def refuses(request: web.Request) -> web.Response:
        raise crypto.BadSignature("the certificate does not vouch for this key")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/api/refuses", refuses)
    client = await aiohttp_client(app)
    resp = await client.get("/api/refuses")
    assert resp.status == 400
    body = await resp.json()
    assert body == {"error": "bad-request", "message": message("crypto_refused")}
    assert "certificate" not in await resp.text()  # the crypto layer's own words are never echoed


def test_the_smtp_reply_is_made_in_one_place(caplog: pytest.LogCaptureFixture) -> None:
    unreadable = Unreadable("554 5.6.0 Het bericht is leeg / The message is empty")
    assert smtp_reply(unreadable) == unreadable.reply
    assert TEMPORARY_PROBLEM == "451 4.3.0 Tijdelijk probleem; probeer het later / Temporary problem, try again later"
    with caplog.at_level(logging.ERROR, logger="oor.mailgate"):
        assert smtp_reply(Conflict("mail_code_taken")) == TEMPORARY_PROBLEM
        assert smtp_reply(NoKey()) == TEMPORARY_PROBLEM
        assert not caplog.records  # refusals the gateway expects are not errors of ours
        assert smtp_reply(RuntimeError("boom")) == TEMPORARY_PROBLEM
    assert [r.getMessage() for r in caplog.records] == ["mail intake failed"]


# -- one helper for the logged-in volunteer -------------------------------------------------------------


async def logged_in_as(client: Any, name: str, role: str = "volunteer", *, can_chat: bool = True,
                       can_mail: bool = True) -> str:
    """Invite, enrol and log in through the API; the session cookie's value."""
    app = client.server.app
    invited = await accounts.invite(app[STORAGE], app[CONFIG], name, role, can_chat, can_mail, app[CLOCK]())
    token = invited.url.split("#uitnodiging=", 1)[1]
    assert (await client.post("/api/enrol", json=enrolment_body(token))).status == 201
    resp = await client.post("/api/login", json=await login_body(client, name, PASSPHRASE))
    assert resp.status == 200
    return resp.cookies[accounts.SESSION_COOKIE].value


def request_with(client: Any, cookie: str | None) -> web.Request:
    headers = {"Cookie": f"{accounts.SESSION_COOKIE}={cookie}"} if cookie else {}
    return make_mocked_request("GET", "/api/me", headers=headers, app=client.server.app)


async def test_logged_in_refuses_what_the_account_may_not_do(client: Any) -> None:
    with pytest.raises(Unauthorized):
        await accounts.logged_in(request_with(client, None))
    with pytest.raises(Unauthorized):
        await accounts.logged_in(request_with(client, "not-a-session-token"))
    cookie = await logged_in_as(client, "Kees", can_chat=False, can_mail=False)
    assert (await accounts.logged_in(request_with(client, cookie))).name == "Kees"
    for needs, key in (({"chat": True}, "not_set_up_chat"), ({"mail": True}, "not_set_up_mail"),
                       ({"role": "coordinator"}, "coordinators_only")):
        with pytest.raises(Forbidden) as refused:
            await accounts.logged_in(request_with(client, cookie), **needs)
        assert refused.value.status == 403 and refused.value.key == key


async def test_not_set_up_and_wrong_role_answer_403(client: Any) -> None:
    await logged_in_as(client, "Kees", can_mail=False)
    resp = await client.get("/api/mail/inbox")
    assert resp.status == 403
    assert await resp.json() == {"error": "forbidden", "message": message("not_set_up_mail")}
    resp = await client.get("/api/coordinator/live")
    assert resp.status == 403
    assert await resp.json() == {"error": "forbidden", "message": message("coordinators_only")}
    assert (await client.get("/api/me")).status == 200
    await client.post("/api/logout")
    assert (await client.get("/api/me")).status == 401
