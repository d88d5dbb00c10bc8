"""PROTOCOL.md [M-12.2-1]: the settings that turn return codes into keys cannot change under
existing threads. A real `oor serve` on a real database (both backends), a thread made by a real SMTP client."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import aiohttp
import pytest

import crypto
from tests.conftest import start_live_server, stop_live_server
from tests.helpers import PASSPHRASE, enrolment_body, login_body
from tests.services.database import Database


def one_mail(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("iemand@example.org", ["hulp@localhost"],
                        b"From: iemand@example.org\r\nSubject: vraag\r\n\r\nIk wil graag praten.\r\n")


def threads(database: Database) -> int:
    return database.rows("SELECT count(*) FROM mail_threads")[0][0]


async def test_a_changed_deployment_id_or_kdf_is_refused_while_threads_exist(tmp_path: Path,
                                                                             database: Database) -> None:
    # No threads yet: a change is taken (and recorded).
    stop_live_server(start_live_server(tmp_path, {"OOR_DEPLOYMENT_ID": "eerste"}, database=database))
    server = start_live_server(tmp_path, {"OOR_DEPLOYMENT_ID": "tweede", "OOR_SMTP_RELAY": "127.0.0.1:9"},
                               database=database)
    try:
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            token = server.invite("Sanne").split("#uitnodiging=", 1)[1]
            body = enrolment_body(token, identity=crypto.new_identity())
            assert (await http.post("/api/enrol", json=body)).status == 201
            await server.keys_ready("Sanne")  # as after a coordinator signed: mail goes only to logged keys
            assert (await http.post("/api/login", json=await login_body(http, "Sanne", PASSPHRASE))).status == 200
            assert (await http.post("/api/mail/availability", json={"mail": True})).status == 200
            await asyncio.get_running_loop().run_in_executor(None, one_mail, server.smtp_port)
    finally:
        stop_live_server(server)
    assert threads(database) == 1

    for changed in ({"OOR_DEPLOYMENT_ID": "derde"}, {"OOR_DEPLOYMENT_ID": "tweede", "OOR_KDF_OPSLIMIT": "2"}):
        with pytest.raises(RuntimeError) as refused:
            start_live_server(tmp_path, changed, database=database)
        output = str(refused.value)
        assert "configuration error" in output and "deployment_id" in output and "'tweede'" in output, output
        assert "1 mail threads exist" in output
    # The values the thread was made with still start, and the thread is still there.
    stop_live_server(start_live_server(tmp_path, {"OOR_DEPLOYMENT_ID": "tweede"}, database=database))
    assert threads(database) == 1
