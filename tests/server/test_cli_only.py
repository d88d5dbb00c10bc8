"""`oor serve --only web` and `--only smtp`: the two parts as two real processes over one storage."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from tests.conftest import free_port
from tests.mailclient import MailSeeker
from tests.mailgate.conftest import Sink, token_from
from tests.processes import (cookie_session, listening, mail_to_gateway, oor_env, run_oor, start_oor,
                             volunteer_on_duty)

SENDER = "iemand.anoniem@example.org"
BODY = "Ik schrijf liever dan dat ik bel; het gaat al een tijd niet goed met me."


async def in_thread(fn, *args):  # type: ignore[no-untyped-def]
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def encodings(data: bytes) -> list[bytes]:
    return [data, data.hex().encode(), base64.b64encode(data)]


async def test_mail_taken_by_the_gateway_process_is_read_on_the_web_process(tmp_path: Path) -> None:
    sink = await Sink(free_port()).start()
    http_port, smtp_port = free_port(), free_port()
    data = tmp_path / "var"
    env = oor_env(f"http://127.0.0.1:{http_port}", {"OOR_SMTP_RELAY": f"127.0.0.1:{sink.port}"})
    web = start_oor(tmp_path, data, only="web", http_port=http_port, smtp_port=smtp_port, env=env, name="web")
    smtp = None
    try:
        # The web part alone opens no SMTP listener, so the gateway can run elsewhere on that port.
        assert not listening(smtp_port)
        smtp = start_oor(tmp_path, data, only="smtp", http_port=http_port, smtp_port=smtp_port, env=env,
                         name="smtp")
        assert "no web part" in smtp.output()
        async with cookie_session(web.url) as http:
            volunteer = await volunteer_on_duty(web, http)
            code, text = await in_thread(mail_to_gateway, smtp_port, SENDER, BODY)
            assert code == 250, text
            token = token_from(await sink.next_mail())  # sent by the gateway process
            # The volunteer, on the web process, finds and reads what the gateway process stored.
            [entry] = await volunteer.inbox()
            _, texts = await volunteer.read(entry["thread"])
            assert BODY in texts[0][1]
            async with cookie_session(web.url) as seeker_http:
                seeker = MailSeeker(seeker_http, token)
                assert (await seeker.open()).status == 200
                assert BODY in seeker.texts()[0][1]
        # The gateway process has no HTTP listener of its own: its port is the web process's.
        web_exit = web.stop()
        assert not listening(http_port)
        assert web_exit < 15
        # The gateway goes on alone: mail is still taken with the web part down.
        code, _ = await in_thread(mail_to_gateway, smtp_port, SENDER, "Nog een bericht")
        assert code == 250
        token_from(await sink.next_mail())
        assert smtp.stop() < 15
        for process in (web, smtp):
            output = process.output().encode()
            for secret in (SENDER.encode(), BODY.encode(), token.encode()):
                assert all(form not in output for form in encodings(secret)), (process.only, secret)
    finally:
        web.stop()
        if smtp is not None:
            smtp.stop()
        await sink.stop()


def test_only_accepts_web_or_smtp(tmp_path: Path) -> None:
    done = run_oor(tmp_path / "var", "serve", "--only", "chat")
    assert done.returncode == 2 and "invalid choice" in done.stderr and "'web', 'smtp'" in done.stderr


def test_only_smtp_with_the_gateway_switched_off_is_a_clear_error(tmp_path: Path) -> None:
    env = oor_env("http://127.0.0.1:8080", {"OOR_SMTP_ENABLED": "false"})
    done = run_oor(tmp_path / "var", "serve", "--only", "smtp", env=env, timeout=30)
    assert done.returncode == 2
    assert "--only smtp" in done.stderr and "smtp_enabled = false" in done.stderr
    assert not (tmp_path / "var").exists()  # refused before anything was opened


def test_help_lists_the_new_commands_and_flags() -> None:
    import server.cli as cli
    doc = cli.__doc__ or ""
    for words in ("--only web|smtp", "oor backup DEST", "--force", "oor restore SRC", "smtp_drain_seconds"):
        assert words in doc, words
    parser = cli.build_parser()
    assert {"serve", "backup", "restore", "volunteer", "audit"} <= set(parser._subparsers._group_actions[0].choices)
