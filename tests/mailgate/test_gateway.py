"""The mail gateway with real SMTP clients (smtplib, swaks) and an aiosmtpd sink as the relay."""

from __future__ import annotations

import asyncio
import base64
import shutil
import smtplib
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from tests.browser.inprocess import UNUSUAL_ADDRESS, InProcessServer, api_volunteer
from tests.mailclient import MailSeeker
from tests.mailgate.conftest import Sink, token_from

DATA = Path(__file__).resolve().parent.parent / "data" / "mail"
SENDER = "anoniem.persoon@example.org"
BODY = "Ik durf dit niet hardop te zeggen, maar ik voel me al maanden heel eenzaam."


def smtp_port(server: InProcessServer) -> int:
    return server.config.smtp.port


def send(server: InProcessServer, raw: bytes, *, sender: str = SENDER, to: str = "hulp@localhost",
         source: str = UNUSUAL_ADDRESS) -> tuple[int, str]:
    """Send one message from an unusual loopback address; return the final reply code and text."""
    with smtplib.SMTP("127.0.0.1", smtp_port(server), source_address=(source, 0), timeout=30) as client:
        client.ehlo("client.test")
        code, text = client.mail(sender)
        if code != 250:
            return code, text.decode()
        code, text = client.rcpt(to)
        if code != 250:
            return code, text.decode()
        code, text = client.data(raw)
        return code, text.decode()


def message(body: str = BODY, subject: str = "Een vraag") -> bytes:
    return (f"From: {SENDER}\r\nTo: hulp@localhost\r\nSubject: {subject}\r\n"
            f"X-Originating-IP: 203.0.113.77\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def encodings(data: bytes) -> list[bytes]:
    return [data, data.hex().encode(), base64.b64encode(data), base64.urlsafe_b64encode(data).rstrip(b"=")]


async def in_thread(fn: Any, *args: Any, **kw: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kw))


async def test_mail_in_token_out_and_nothing_identifying_kept(gateway: InProcessServer, relay_sink: Sink,
                                                              on_duty: Any) -> None:
    code, text = await in_thread(send, gateway, message())
    assert code == 250, text
    mail = await relay_sink.next_mail()
    assert mail["To"] == SENDER
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "/mail/terug" in body and "eenzaam" not in body and "Een vraag" not in body
    token = token_from(mail)
    async with aiohttp.ClientSession(base_url=gateway.url) as http:
        seeker = MailSeeker(http, token)
        assert (await seeker.open()).status == 200
        [(author, content)] = seeker.texts()
        assert author == 1 and BODY in content and "Een vraag" in content
    key = (await on_duty.inbox())[0]["thread"]
    data, texts = await on_duty.read(key)
    assert BODY in texts[0][1]
    stored = gateway.data_bytes()
    output = gateway.output().encode()
    for secret in (BODY.encode(), SENDER.encode(), b"anoniem.persoon", UNUSUAL_ADDRESS.encode(), b"203.0.113.77",
                   token.encode(), b"abc123@example.org"):
        for form in encodings(secret):
            assert form not in stored, secret
            assert form not in output, secret
    from mailgate.gateway import GATEWAY
    assert gateway.app[GATEWAY].outbox == []  # delivered, and the address and token are gone from memory


async def test_the_derivations_run_in_a_pool_of_one_thread_per_core(gateway: InProcessServer, relay_sink: Sink,
                                                                      on_duty: Any) -> None:
    # Production Argon2id holds 64 MiB a derivation: the gateway's own pool bounds how many run at once to the
    # cores it may use (the loop's default pool would run cores + 4), and a mail's derivation runs there.
    import os
    import threading

    from mailgate.gateway import GATEWAY
    pool = gateway.app[GATEWAY].derivations
    assert pool._max_workers == len(os.sched_getaffinity(0))
    before = {t.name for t in threading.enumerate()}
    code, text = await in_thread(send, gateway, message())
    assert code == 250, text
    await relay_sink.next_mail()
    started = {t.name for t in threading.enumerate()} - before
    assert any(name.startswith("oor-mail-kdf") for name in started | before), started


async def test_unknown_recipient_gets_550(gateway: InProcessServer, on_duty: Any) -> None:
    code, _ = await in_thread(send, gateway, message(), to="iemand@localhost")
    assert code == 550


async def test_size_limit_is_advertised_and_enforced(gateway: InProcessServer, on_duty: Any) -> None:
    def run() -> tuple[int, Any]:
        with smtplib.SMTP("127.0.0.1", smtp_port(gateway), timeout=30) as client:
            client.ehlo("client.test")
            size = client.esmtp_features.get("size")
            features = dict(client.esmtp_features)
            try:
                client.sendmail(SENDER, ["hulp@localhost"], message(("x" * 70 + "\r\n") * 4000))
            except smtplib.SMTPException as exc:
                return getattr(exc, "smtp_code", 0) or 552, (size, features)
            return 250, (size, features)
    code, (size, features) = await in_thread(run)
    assert size == "200000" and "8bitmime" in features and "smtputf8" in features
    assert code == 552


async def test_too_long_text_and_empty_mail_are_refused_and_nothing_is_stored(
        gateway: InProcessServer, on_duty: Any) -> None:
    code, text = await in_thread(send, gateway, message(("woord " * 10 + "\r\n") * 200))
    assert code == 552 and "te lang" in text
    assert await on_duty.inbox() == []


async def test_malformed_corpus(gateway: InProcessServer, on_duty: Any, relay_sink: Sink) -> None:
    expected = tomllib.loads((DATA / "expected.toml").read_text(encoding="utf-8"))
    assert len(expected) >= 10
    for name, status in expected.items():
        code, text = await in_thread(send, gateway, crlf((DATA / name).read_bytes()))
        assert code == status, (name, code, text)
    accepted = sum(1 for s in expected.values() if s == 250)
    assert len(await on_duty.inbox()) == accepted
    # The attachment was dropped, and its return mail says so; HTML lost its script and tags.
    mails = [await relay_sink.next_mail() for _ in range(accepted)]
    notes = [m for m in mails if "Bijlagen bewaren we niet" in m.get_body(preferencelist=("plain",)).get_content()]
    assert len(notes) == 1
    texts = []
    for thread in await on_duty.inbox():
        texts.append((await on_duty.read(thread["thread"]))[1][0][1])
    html = next(t for t in texts if "HTML alleen" in t)
    assert "Ik schrijf dit in HTML." in html and "alert" not in html and "<p>" not in html and "color" not in html
    assert any("De platte tekst wint." in t and "HTML-versie" not in t for t in texts)
    assert any("Ik ben bang énéénzaam" in t for t in texts)  # RFC 2047: adjacent encoded words join


async def test_flood_from_one_address_is_slowed(tmp_path: Path, relay_sink: Sink, database: Any) -> None:
    from tests.browser.inprocess import api_volunteer, start_in_process, stop_in_process
    server = await start_in_process(tmp_path, {"OOR_SMTP_RELAY": f"127.0.0.1:{relay_sink.port}",
                                               "OOR_SMTP_PER_MINUTE": "3"}, smtp=True, database=database)
    try:
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await api_volunteer(server, http, "Sanne")
            codes = [(await in_thread(send, server, message()))[0] for _ in range(5)]
        assert codes == [250, 250, 250, 451, 451]
        # Another address in the same /24 counts as the same source; another network does not.
        neighbour = await in_thread(send, server, message(), source="127.31.7.10")
        assert neighbour[0] == 451
        other = await in_thread(send, server, message(), source="127.32.7.10")
        assert other[0] == 250
    finally:
        await stop_in_process(server)


def stored_rows(server: InProcessServer) -> tuple[int, int, int]:
    return tuple(server.store.rows(f"SELECT count(*) FROM {table}")[0][0]  # type: ignore[return-value]
                 for table in ("mail_threads", "mail_messages", "stats_counts"))


async def test_nobody_on_duty_means_try_again_later(gateway: InProcessServer, relay_sink: Sink) -> None:
    """Only when no account can take mail at all (nobody "on duty" in the strictest sense; nobody being
    marked available is not enough, see the next test): 451 4.3.2, nothing stored, the sender's server retries."""
    code, text = await in_thread(send, gateway, message())
    assert code == 451 and "4.3.2" in text and "113" in text
    assert stored_rows(gateway) == (0, 0, 0)
    # An account that can mail appears: the gateway takes mail again within a moment (it remembers
    # "nobody" for at most a second, so as not to derive keys for mail it cannot store).
    async with aiohttp.ClientSession(base_url=gateway.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await api_volunteer(gateway, http, "Sanne")
        for _ in range(50):
            code, text = await in_thread(send, gateway, message())
            if code == 250:
                break
            assert code == 451 and "4.3.2" in text
            await asyncio.sleep(0.1)
        assert code == 250, text
        assert token_from(await relay_sink.next_mail())
    assert stored_rows(gateway) == (1, 1, 1)


async def test_mail_is_taken_when_nobody_is_marked_available(gateway: InProcessServer, relay_sink: Sink,
                                                             on_duty: Any) -> None:
    """Nobody on duty is no reason to refuse (issue 15, point 10): the mail goes to an active mail volunteer."""
    await on_duty.available(False)
    code, text = await in_thread(send, gateway, message())
    assert code == 250, text
    assert token_from(await relay_sink.next_mail())
    assert stored_rows(gateway) == (1, 1, 1)
    assert len(await on_duty.inbox()) == 1


async def test_a_failure_while_sealing_stores_nothing(gateway: InProcessServer, on_duty: Any) -> None:
    """Choice of volunteer, encryption, thread, message and count are one transaction."""
    from server.mail.desk import MAIL_DESK

    def seal(volunteer: Any) -> Any:
        raise RuntimeError("the encryption failed")
    mailbox = crypto.derive_mailbox(crypto.new_token_code(), "test", crypto.KdfParams(1, 8192))
    with pytest.raises(RuntimeError):
        await gateway.app[MAIL_DESK].store_gateway_thread(
            crypto.new_mail_thread_id(), mailbox.lookup_key, mailbox.x25519_public, mailbox.ed25519_public, seal)
    assert stored_rows(gateway) == (0, 0, 0)
    code, text = await in_thread(send, gateway, message())  # and the next mail goes through
    assert code == 250, text
    assert stored_rows(gateway) == (1, 1, 1)


async def test_return_mail_is_retried_while_the_relay_is_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              database: Any) -> None:
    from mailgate import gateway as gateway_module
    from tests.browser.inprocess import api_volunteer, start_in_process, stop_in_process
    from tests.conftest import free_port
    monkeypatch.setattr(gateway_module, "RETRY_FIRST_SECONDS", 0.2)
    port = free_port()
    server = await start_in_process(tmp_path, {"OOR_SMTP_RELAY": f"127.0.0.1:{port}"}, smtp=True,
                                    database=database)
    try:
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            volunteer = await api_volunteer(server, http, "Sanne")
            assert (await in_thread(send, server, message()))[0] == 250
            await asyncio.sleep(0.5)  # a few failed attempts
            assert len(await volunteer.inbox()) == 1  # the mail is kept all the same
            sink = await Sink(port).start()
            try:
                mail = await sink.next_mail()
                assert token_from(mail)
            finally:
                await sink.stop()
    finally:
        await stop_in_process(server)


async def test_a_full_outbox_refuses_new_mail_until_it_drains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              database: Any) -> None:
    """With the relay down, return mails wait in a bounded outbox; past it, mail gets 451 and nothing is stored."""
    from mailgate import gateway as gateway_module
    from tests.browser.inprocess import start_in_process, stop_in_process
    from tests.conftest import free_port
    monkeypatch.setattr(gateway_module, "OUTBOX_MAX", 2)
    monkeypatch.setattr(gateway_module, "RETRY_FIRST_SECONDS", 0.2)
    port = free_port()
    server = await start_in_process(tmp_path, {"OOR_SMTP_RELAY": f"127.0.0.1:{port}"}, smtp=True,
                                    database=database)
    try:
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await api_volunteer(server, http, "Sanne")
            assert [(await in_thread(send, server, message()))[0] for _ in range(2)] == [250, 250]
            code, text = await in_thread(send, server, message())
            assert code == 451 and "4.3.1" in text
            assert stored_rows(server)[0] == 2
            sink = await Sink(port).start()  # the relay is back: the outbox drains, mail is taken again
            try:
                await sink.next_mail()
                await sink.next_mail()
                for _ in range(100):
                    code, text = await in_thread(send, server, message())
                    if code == 250:
                        break
                    await asyncio.sleep(0.1)
                assert code == 250, text
                await sink.next_mail()  # its return mail too: none is left for the stop to drain
            finally:
                await sink.stop()
    finally:
        await stop_in_process(server)


async def test_swaks_from_an_unusual_address(gateway: InProcessServer, relay_sink: Sink, on_duty: Any) -> None:
    if shutil.which("swaks") is None:
        pytest.fail("swaks missing: `make test` installs it (a skipped SMTP client test proves nothing)")
    done = await in_thread(subprocess.run, [
        "swaks", "--server", f"127.0.0.1:{smtp_port(gateway)}", "--local-interface", UNUSUAL_ADDRESS,
        "--from", SENDER, "--to", "hulp@localhost", "--header", "Subject: via swaks",
        "--body", "Dit bericht komt via swaks binnen.", "--hide-all"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    token = token_from(await relay_sink.next_mail())
    async with aiohttp.ClientSession(base_url=gateway.url) as http:
        seeker = MailSeeker(http, token)
        assert (await seeker.open()).status == 200
        assert "Dit bericht komt via swaks binnen." in seeker.texts()[0][1]
    output = gateway.output()
    assert UNUSUAL_ADDRESS not in output and SENDER not in output


async def test_a_sender_address_we_cannot_answer_is_refused_and_breaks_nothing(
        gateway: InProcessServer, relay_sink: Sink, on_duty: Any) -> None:
    def bad_sender() -> int:
        # smtplib refuses to send a carriage return inside a command; a raw socket does not.
        import socket as _socket
        with _socket.create_connection(("127.0.0.1", smtp_port(gateway)), timeout=30) as raw:
            stream = raw.makefile("rwb")

            def reply() -> int:
                while True:
                    line = stream.readline()
                    if line[3:4] != b"-":
                        return int(line[:3])
            reply()
            stream.write(b"EHLO client.test\r\n")
            stream.flush()
            reply()
            stream.write(b'MAIL FROM:<"a\rb"@example.org>\r\n')
            stream.flush()
            return reply()
    assert await in_thread(bad_sender) == 553
    # The return-mail queue keeps working for the next sender.
    assert (await in_thread(send, gateway, message()))[0] == 250
    assert token_from(await relay_sink.next_mail())


async def test_one_unsendable_return_mail_does_not_stop_the_others(
        gateway: InProcessServer, relay_sink: Sink, on_duty: Any) -> None:
    import time as _time

    from mailgate.gateway import GATEWAY, ReturnMail
    gw = gateway.app[GATEWAY]
    gw.outbox.append(ReturnMail("bad\r\naddress@example.org", "0" * 20, 0, "2099-01-01", _time.monotonic() + 60))
    gw.wake.set()
    assert (await in_thread(send, gateway, message()))[0] == 250
    assert token_from(await relay_sink.next_mail())
    for _ in range(100):  # the sink has it; the gateway finishes its side a moment later
        if not gw.outbox:
            break
        await asyncio.sleep(0.05)
    assert gw.outbox == []


async def test_a_non_ascii_sender_gets_the_token_too(gateway: InProcessServer, relay_sink: Sink,
                                                     on_duty: Any) -> None:
    sender = "joëlle@voorbeeld.nl"

    def run() -> int:
        with smtplib.SMTP("127.0.0.1", smtp_port(gateway), timeout=30) as client:
            client.ehlo("client.test")
            client.sendmail(sender, ["hulp@localhost"], message(), mail_options=["SMTPUTF8"])
            return 250
    assert await in_thread(run) == 250
    mail = await relay_sink.next_mail()
    assert mail["To"] == sender and token_from(mail)


async def test_a_gateway_mail_and_its_first_reply_are_counted_for_the_statistics(
        gateway: InProcessServer, relay_sink: Sink, on_duty: Any) -> None:
    """A thread from the gateway counts as offered mail, and the volunteer's first reply (only the first)
    as a first reply in the bucket of its whole hours; nothing of the thread is in the counts."""
    from server.accounts import day_of
    from server.keys import CLOCK
    code, text = await in_thread(send, gateway, message())
    assert code == 250, text
    await relay_sink.next_mail()
    key = (await on_duty.inbox())[0]["thread"]
    for reply in ("Fijn dat je schrijft.", "Ik lees graag meer."):
        data, _ = await on_duty.read(key)
        assert (await on_duty.reply(data, reply)).status == 201
    counts = gateway.store.rows("SELECT day, channel, metric, bucket, count FROM stats_counts ORDER BY metric")
    today = day_of(gateway.app[CLOCK]())
    # The reply came within the hour the mail arrived, or the next clock hour: the "up to 1 hour" bucket.
    assert counts == [(today, "mail", "first_reply", "1", 1), (today, "mail", "offered", "", 1)]
