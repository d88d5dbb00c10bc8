"""Fuzz a live `oor serve` against its own OpenAPI description with schemathesis.

The schema is loaded from the running server's `/api/openapi.json`. Every
operation gets a bounded, derandomized number of generated requests (valid ones
and, for the operations that read input, invalid ones), and every answer must
pass: no 5xx, a described status code, a described content type, described
headers, and a body that matches the described schema.

Operations run anonymously (volunteer operations must then answer 401, as
described), volunteer operations also with a real session of an enrolled
volunteer, and the operations on one thread also with the id of a real thread
(made through the API with the real crypto), so the fuzzer gets past the 401
and the 404. Rate limits answer 429 under this load; that is described too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import crypto
from server.openapi import openapi_description
from tests.conftest import LiveServer, new_database, start_live_server, stop_live_server
from tests.helpers import PASSPHRASE, enrolment_body
from tests.mailclient import KDF, b64, checked_x25519, message_json

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
POSITIVE_EXAMPLES = 40
NEGATIVE_EXAMPLES = 20
ANONYMOUS_VOLUNTEER_EXAMPLES = 8  # the answer is 401 whatever is sent

DESCRIPTION = openapi_description()
OPERATIONS = [(method, path, op) for path, item in DESCRIPTION["paths"].items() for method, op in item.items()]


def operation_of(method: str, path: str) -> dict[str, Any]:
    return DESCRIPTION["paths"][path][method]


def needs_session(operation: dict[str, Any]) -> bool:
    return operation["security"] == [{"cookieAuth": []}]


def reads_input(operation: dict[str, Any]) -> bool:
    return "requestBody" in operation or bool(operation.get("parameters"))


ANONYMOUS = [pytest.param(m, p, id=f"{m.upper()} {p}") for m, p, _ in OPERATIONS]
WITH_SESSION = [pytest.param(m, p, id=f"{m.upper()} {p}") for m, p, op in OPERATIONS if needs_session(op)]
ON_A_THREAD = [pytest.param(m, p, id=f"{m.upper()} {p}") for m, p, op in OPERATIONS if "{thread}" in p]


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest, backend: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Its own server: the fuzzer's traffic (rate limits, toggled availability) stays out of other tests.
    # The address comes from X-Real-IP, which the fuzzer never sends, so the volunteer below can log
    # in from an address of its own after the fuzzer has used up that of no header (login_per_minute).
    tmp = tmp_path_factory.mktemp(f"fuzz-{backend}")
    store = new_database(request, backend, tmp / "var")
    server = start_live_server(tmp, {"OOR_CLIENT_ADDRESS_HEADER": "X-Real-IP"}, database=store)
    yield server
    stop_live_server(server)
    store.drop()
    output = server.read_output()
    assert "Traceback" not in output and "internal error" not in output, output[-4000:]


@pytest.fixture(scope="module")
def schema(live: LiveServer) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/api/openapi.json", timeout=10)


@pytest.fixture(scope="module")
def volunteer(live: LiveServer) -> dict[str, str]:
    """An enrolled, logged-in mail volunteer (session cookie) with one thread from a help-seeker."""
    link = live.invite("Fuzz", "--chat", "--mail")
    http = requests.Session()
    http.headers["X-Real-IP"] = "192.0.2.1"
    identity = crypto.new_identity()
    token = link.split("#uitnodiging=", 1)[1]
    resp = http.post(f"{live.url}/api/enrol", json=enrolment_body(token, identity=identity), timeout=10)
    assert resp.status_code == 201, resp.text
    live.robot.wait_ready("Fuzz")  # as after a coordinator signed: mail goes only to logged keys (issue 17)
    start = http.post(f"{live.url}/api/login/start", json={"name": "Fuzz"}, timeout=10).json()
    keys = crypto.derive_volunteer_keys(PASSPHRASE, crypto.b64decode(start["salt"]),
                                        crypto.KdfParams(start["kdf"]["opslimit"], start["kdf"]["memlimit"]))
    resp = http.post(f"{live.url}/api/login", json={"name": "Fuzz", "auth_key": b64(keys.auth_key)}, timeout=10)
    assert resp.status_code == 200, resp.text
    cookie = resp.cookies["oor_sessie"]
    assert http.post(f"{live.url}/api/mail/availability", json={"mail": True}, timeout=10).status_code == 200
    # A help-seeker writes, as mail.js does.
    seeker = requests.Session()
    box = crypto.derive_mailbox(crypto.new_token_code(), "luisterend-oor-dev", KDF)
    challenge = seeker.post(f"{live.url}/api/mail/challenge", timeout=10).json()
    nonce = crypto.pow_solve(crypto.b64decode(challenge["challenge"]), challenge["bits"])
    assigned = seeker.post(f"{live.url}/api/mail/assign", timeout=10,
                           json={"challenge": challenge["challenge"], "nonce": b64(nonce)}).json()
    thread_id = crypto.b64decode(assigned["thread"])
    sealed = crypto.seal_mail(thread_id, 1, crypto.AUTHOR_SEEKER, b"Hallo", box, box.x25519_public,
                              checked_x25519(assigned["volunteer"]))
    resp = seeker.post(f"{live.url}/api/mail/threads", timeout=10, json={
        "assignment": assigned["assignment"], "lookup_key": b64(box.lookup_key),
        "seeker_x25519_public": b64(box.x25519_public), "seeker_ed25519_public": b64(box.ed25519_public),
        "message": message_json(1, sealed)})
    assert resp.status_code == 201, resp.text
    return {"cookie": cookie, "thread": assigned["thread"]}


def fuzz(schema: Any, live: LiveServer, method: str, path: str, *, mode: GenerationMode, examples: int,
         cookies: dict[str, str] | None = None, path_parameters: dict[str, str] | None = None) -> None:
    operation = schema[path][method.upper()]
    strategy = operation.as_strategy(generation_mode=mode, cookies=cookies, path_parameters=path_parameters)
    http = requests.Session()

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None, print_blob=False,
              phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        http.cookies.clear()  # only what the case itself carries (a logout or login answer sets cookies)
        case.call_and_validate(base_url=live.url, session=http, checks=CHECKS, timeout=10)

    run()


@pytest.mark.parametrize(("method", "path"), ANONYMOUS)
def test_anonymous(schema: Any, live: LiveServer, method: str, path: str) -> None:
    operation = operation_of(method, path)
    if needs_session(operation):
        fuzz(schema, live, method, path, mode=GenerationMode.POSITIVE, examples=ANONYMOUS_VOLUNTEER_EXAMPLES)
        return
    fuzz(schema, live, method, path, mode=GenerationMode.POSITIVE, examples=POSITIVE_EXAMPLES)
    if reads_input(operation):
        fuzz(schema, live, method, path, mode=GenerationMode.NEGATIVE, examples=NEGATIVE_EXAMPLES)


@pytest.mark.parametrize(("method", "path"), WITH_SESSION)
def test_with_a_volunteer_session(schema: Any, live: LiveServer, volunteer: dict[str, str],
                                  method: str, path: str) -> None:
    cookies = {"oor_sessie": volunteer["cookie"]}
    fuzz(schema, live, method, path, mode=GenerationMode.POSITIVE, examples=POSITIVE_EXAMPLES, cookies=cookies)
    if reads_input(operation_of(method, path)):
        fuzz(schema, live, method, path, mode=GenerationMode.NEGATIVE, examples=NEGATIVE_EXAMPLES, cookies=cookies)


@pytest.mark.parametrize(("method", "path"), ON_A_THREAD)
def test_on_a_real_thread(schema: Any, live: LiveServer, volunteer: dict[str, str], method: str, path: str) -> None:
    fuzz(schema, live, method, path, mode=GenerationMode.POSITIVE, examples=POSITIVE_EXAMPLES,
         cookies={"oor_sessie": volunteer["cookie"]}, path_parameters={"thread": volunteer["thread"]})


def test_the_fuzzed_schema_is_the_description(schema: Any, live: LiveServer) -> None:
    assert schema.raw_schema == DESCRIPTION
    assert requests.get(f"{live.url}/api/openapi.json", timeout=10).json() == DESCRIPTION


def test_the_session_survived_the_fuzzing(live: LiveServer, volunteer: dict[str, str]) -> None:
    # Runs last in this file: the volunteer runs above really were logged in throughout.
    resp = requests.get(f"{live.url}/api/me", cookies={"oor_sessie": volunteer["cookie"]}, timeout=10)
    assert resp.status_code == 200 and resp.json()["name"] == "Fuzz"

