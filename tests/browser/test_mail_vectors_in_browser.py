"""The mail vectors checked by web/js/crypto.js in Debian's Chromium.

tests/crypto/test_mail_vectors.py checks the same files in Python. Here the
page reproduces every case of mail_token.json, mail_keys.json (including the
64 MiB case), key_certificate.json and mail_messages.json; and because
sealed boxes are random, what the page seals and re-wraps is opened again in
Python, so both directions between the languages are proven.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser.vectorpage import PROLOGUE, load

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402



TOKEN_RUNNER = "async (cases) => {" + PROLOGUE + """
  const results = [];
  for (const c of cases) {
    const r = {};
    try {
      if (c.kind === "from-bytes") {
        r.token = oc.tokenCodeFromBytes(d(c.random));
        r.formatted = oc.formatToken(r.token);
      } else {
        r.token = oc.parseToken(c.input);
        r.formatted = oc.formatToken(c.input);
      }
      r.outcome = "ok";
      r.reparsed = oc.parseToken(r.formatted);
    } catch (err) {
      r.outcome = outcome(err);
      r.reason = err.reason;
      r.errorName = err.name;
      r.message = String(err.message);
    }
    results.push(r);
  }
  return results;
}"""

KEYS_RUNNER = "async (cases) => {" + PROLOGUE + """
  const results = [];
  for (const c of cases) {
    try {
      const started = performance.now();
      const m = oc.deriveMailbox(c.token, c.deployment_id, { opslimit: c.opslimit, memlimit: c.memlimit });
      results.push({ outcome: "ok", ms: performance.now() - started, lookup_key: e(m.lookupKey),
        x25519_secret: e(m.x25519Secret), x25519_public: e(m.x25519Public), ed25519_seed: e(m.ed25519Seed),
        ed25519_public: e(m.ed25519Public),
        secretKeyIsSeedAndPublic: e(m.ed25519SecretKey) === e(new Uint8Array([...m.ed25519Seed, ...m.ed25519Public])) });
    } catch (err) {
      results.push({ outcome: outcome(err), reason: err.reason });
    }
  }
  return results;
}"""

CERT_RUNNER = "async (cases) => {" + PROLOGUE + """
  const results = [];
  for (const c of cases) {
    try {
      if (c.expect === "ok") {
        const id = holder(c);
        const certificate = oc.signKeyCertificate(id);
        const verified = oc.verifyKeyCertificate(id.ed25519Public, id.x25519Public, certificate);
        results.push({ outcome: "ok", x25519_public: e(id.x25519Public), ed25519_public: e(id.ed25519Public),
                       certificate: e(certificate), verifyReturned: String(verified) });
      } else {
        oc.verifyKeyCertificate(d(c.ed25519_public), d(c.x25519_public), d(c.certificate));
        results.push({ outcome: "ok" });
      }
    } catch (err) {
      results.push({ outcome: outcome(err) });
    }
  }
  return results;
}"""

MESSAGES_RUNNER = "async (cases) => {" + PROLOGUE + """
  const results = [];
  for (const c of cases) {
    const r = {};
    try {
      if (c.kind === "seal") {
        const seeker = holder(c.seeker);
        const volunteer = holder(c.volunteer);
        const signer = c.author === oc.AUTHOR_SEEKER ? seeker : volunteer;
        const content = oc.encodeText(c.content);
        const key = d(c.key);
        const sealed = oc.sealMail(d(c.thread_id), c.seq, c.author, content, signer, seeker.x25519Public,
                                   volunteer.x25519Public, { key });
        r.keyUntouched = e(key) === c.key;
        r.body = e(sealed.body);
        r.signature = e(sealed.signature);
        r.wrapLengths = [sealed.seekerWrap.length, sealed.volunteerWrap.length];
        // The page's own (random) wraps, for Python to open.
        r.seeker_wrap = e(sealed.seekerWrap);
        r.volunteer_wrap = e(sealed.volunteerWrap);
        // The file's fixed wraps open in the page for their readers.
        r.opened = [[seeker, c.seeker_wrap], [volunteer, c.volunteer_wrap]].map(([reader, wrap]) =>
          oc.decodeText(oc.openMail(d(c.thread_id), c.seq, c.author, d(c.body), d(c.signature), d(wrap), reader,
                                    signer.ed25519Public)));
        r.outcome = "ok";
      } else if (c.kind === "open") {
        r.content = oc.decodeText(oc.openMail(d(c.thread_id), c.seq, c.author, d(c.body), d(c.signature),
                                              d(c.wrap), holder(c.reader), d(c.author_ed25519_public)));
        r.outcome = "ok";
      } else if (c.kind === "rewrap") {
        const reader = holder(c.reader);
        const newReader = holder(c.new_reader);
        const wrap = oc.rewrapMailKey(d(c.wrap), reader, newReader.x25519Public);
        r.wrap = e(wrap);
        // The new reader opens with the new wrap in the page too.
        r.content = oc.decodeText(oc.openMail(d(c.thread_id), c.seq, c.author, d(c.body), d(c.signature), wrap,
                                              newReader, d(c.author_ed25519_public)));
        r.outcome = "ok";
      } else {
        r.outcome = "unknown kind";
      }
    } catch (err) {
      r.outcome = outcome(err);
      r.message = String(err);
    }
    results.push(r);
  }
  return results;
}"""




def d(text: str) -> bytes:
    return crypto.b64decode(text)


def holder(fields: dict) -> crypto.Identity:
    return crypto.identity_from_secrets(d(fields["x25519_secret"]), d(fields["ed25519_seed"]))


@pytest.mark.browser
async def test_browser_reproduces_the_token_codec(page: Any, live_server: Any) -> None:
    data = load("mail_token.json")
    await page.goto(live_server.url + "/")
    results = await page.evaluate(TOKEN_RUNNER, data["cases"])
    assert len(results) == len(data["cases"])
    for case, got in zip(data["cases"], results):
        assert got["outcome"] == case["expect"], (case["name"], got)
        if case["expect"] == "ok":
            assert got["token"] == case["token"], case["name"]
            assert got["formatted"] == case["formatted"], case["name"]
            assert got["reparsed"] == case["token"], case["name"]
        else:
            assert got["reason"] == case["reason"], (case["name"], got)
            assert got["errorName"] == "InvalidToken"
            if case["kind"] == "parse" and len(case["input"]) >= 8:
                assert case["input"][:8] not in got["message"], "the error repeats the token"
    assert not page.problems, page.problems


@pytest.mark.browser
async def test_browser_derives_mailbox_keys(page: Any, live_server: Any) -> None:
    data = load("mail_keys.json")
    await page.goto(live_server.url + "/")
    results = await page.evaluate(KEYS_RUNNER, data["cases"])
    assert len(results) == len(data["cases"])
    for case, got in zip(data["cases"], results):
        assert got["outcome"] == case["expect"], (case["name"], got)
        if case["expect"] == "ok":
            for field in ("lookup_key", "x25519_secret", "x25519_public", "ed25519_seed", "ed25519_public"):
                assert got[field] == case[field], (case["name"], field)
            assert got["secretKeyIsSeedAndPublic"] is True
        elif case["expect"] == "invalid-token":
            assert got["reason"] == case["reason"], case["name"]
    # The 64 MiB case really ran in the page.
    production = [(c, g) for c, g in zip(data["cases"], results) if c["memlimit"] >= 64 * 1024 * 1024]
    assert production and all(g["outcome"] == "ok" for _, g in production)
    assert not page.problems, page.problems


@pytest.mark.browser
async def test_browser_reproduces_key_certificates(page: Any, live_server: Any) -> None:
    data = load("key_certificate.json")
    await page.goto(live_server.url + "/")
    results = await page.evaluate(CERT_RUNNER, data["cases"])
    assert len(results) == len(data["cases"])
    for case, got in zip(data["cases"], results):
        assert got["outcome"] == case["expect"], (case["name"], got)
        if case["expect"] == "ok":
            for field in ("x25519_public", "ed25519_public", "certificate"):
                assert got[field] == case[field], (case["name"], field)
            assert got["verifyReturned"] == "undefined"
    assert not page.problems, page.problems


@pytest.mark.browser
async def test_browser_seals_opens_and_rewraps_mail(page: Any, live_server: Any) -> None:
    data = load("mail_messages.json")
    await page.goto(live_server.url + "/")
    results = await page.evaluate(MESSAGES_RUNNER, data["cases"])
    assert len(results) == len(data["cases"])
    kinds = {"seal": 0, "open": 0, "rewrap": 0}
    for case, got in zip(data["cases"], results):
        name = case["name"]
        kinds[case["kind"]] += 1
        assert got["outcome"] == case["expect"], (name, got)
        if case["expect"] != "ok":
            continue
        if case["kind"] == "seal":
            assert got["body"] == case["body"], name
            assert got["signature"] == case["signature"], name
            assert got["keyUntouched"] is True, "sealMail wiped the caller's key"
            assert got["wrapLengths"] == [crypto.MAIL_WRAP_BYTES, crypto.MAIL_WRAP_BYTES]
            assert got["opened"] == [case["content"], case["content"]], name
            # What the page sealed (random wraps) opens in Python, for both readers.
            thread_id, body, signature = d(case["thread_id"]), d(got["body"]), d(got["signature"])
            seeker, volunteer = holder(case["seeker"]), holder(case["volunteer"])
            author_key = (seeker if case["author"] == crypto.AUTHOR_SEEKER else volunteer).ed25519_public
            for wrap, reader in ((got["seeker_wrap"], seeker), (got["volunteer_wrap"], volunteer)):
                content = crypto.open_mail(thread_id, case["seq"], case["author"], body, signature, d(wrap), reader, author_key)
                assert content.decode("utf-8") == case["content"], name
            assert got["seeker_wrap"] != case["seeker_wrap"], "the page's wraps must be random"
        elif case["kind"] == "open":
            assert got["content"] == case["content"], name
        else:
            assert got["content"] == case["content"], name
            # The page's re-wrap opens in Python for the new reader, and not for the old one.
            args = (d(case["thread_id"]), case["seq"], case["author"], d(case["body"]), d(case["signature"]), d(got["wrap"]))
            opened = crypto.open_mail(*args, holder(case["new_reader"]), d(case["author_ed25519_public"]))
            assert opened.decode("utf-8") == case["content"], name
            with pytest.raises(crypto.DecryptionFailed):
                crypto.open_mail(*args, holder(case["reader"]), d(case["author_ed25519_public"]))
    assert all(kinds.values()), kinds
    assert not page.problems, page.problems


PAGE_SEALS_RUNNER = "async ([threadId, token, deployment, volunteerSecrets]) => {" + PROLOGUE + """
  // The help-seeker's page end to end: a fresh token, the mailbox, a random
  // content key, a message to the volunteer whose certificate it checks.
  const volunteer = holder(volunteerSecrets);
  const certificate = oc.signKeyCertificate(volunteer);
  oc.verifyKeyCertificate(volunteer.ed25519Public, volunteer.x25519Public, certificate);
  const mailbox = oc.deriveMailbox(token, deployment, { opslimit: 1, memlimit: 8192 });
  const fresh = oc.newTokenCode();
  const content = oc.encodeText("Hoi, ik schrijf vanuit de browser \\u{1F442}");
  const sealed = oc.sealMail(d(threadId), 1, oc.AUTHOR_SEEKER, content, mailbox, mailbox.x25519Public,
                             volunteer.x25519Public);
  let tooLong;
  try {
    oc.sealMail(d(threadId), 1, oc.AUTHOR_SEEKER, new Uint8Array(oc.MAX_MAIL_CONTENT + 1), mailbox,
                mailbox.x25519Public, volunteer.x25519Public);
    tooLong = "sealed";
  } catch (err) { tooLong = outcome(err); }
  return { body: e(sealed.body), signature: e(sealed.signature), seeker_wrap: e(sealed.seekerWrap),
           volunteer_wrap: e(sealed.volunteerWrap), certificate: e(certificate), fresh,
           freshFormatted: oc.formatToken(fresh), ed25519_public: e(mailbox.ed25519Public), tooLong,
           constants: [oc.MAX_MAIL_CONTENT, oc.MAIL_WRAP_BYTES, oc.MAIL_THREAD_ID_BYTES, oc.AUTHOR_SEEKER,
                       oc.AUTHOR_VOLUNTEER, oc.MIN_MAIL_BODY_BYTES, oc.MAX_MAIL_BODY_BYTES] };
}"""


@pytest.mark.browser
async def test_python_opens_what_the_page_sealed_with_a_random_key(page: Any, live_server: Any) -> None:
    token = crypto.new_token_code()
    thread_id = crypto.new_mail_thread_id()
    volunteer = crypto.new_identity()
    secrets = {"x25519_secret": crypto.b64encode(volunteer.x25519_secret),
               "ed25519_seed": crypto.b64encode(volunteer.ed25519_seed)}
    await page.goto(live_server.url + "/")
    got = await page.evaluate(PAGE_SEALS_RUNNER, [crypto.b64encode(thread_id), crypto.format_token(token).lower(),
                                                  "browser.example", secrets])
    mailbox = crypto.derive_mailbox(token, "browser.example", crypto.KdfParams(1, 8192))
    assert d(got["ed25519_public"]) == mailbox.ed25519_public
    assert crypto.sign_key_certificate(volunteer) == d(got["certificate"])
    body, signature = d(got["body"]), d(got["signature"])
    crypto.verify_mail_signature(thread_id, 1, crypto.AUTHOR_SEEKER, body, signature, mailbox.ed25519_public)
    for wrap, reader in ((got["seeker_wrap"], mailbox), (got["volunteer_wrap"], volunteer)):
        content = crypto.open_mail(thread_id, 1, crypto.AUTHOR_SEEKER, body, signature, d(wrap), reader,
                                   mailbox.ed25519_public)
        assert content.decode("utf-8") == "Hoi, ik schrijf vanuit de browser \U0001f442"
    assert crypto.parse_token(got["fresh"]) == got["fresh"] != token
    assert crypto.format_token(got["fresh"]) == got["freshFormatted"]
    assert got["tooLong"] == "invalid-input"
    assert got["constants"] == [crypto.MAX_MAIL_CONTENT, crypto.MAIL_WRAP_BYTES, crypto.MAIL_THREAD_ID_BYTES,
                                crypto.AUTHOR_SEEKER, crypto.AUTHOR_VOLUNTEER, crypto.MIN_MAIL_BODY_BYTES,
                                crypto.MAX_MAIL_BODY_BYTES]
    assert not page.problems, page.problems


WIPE_RUNNER = "async ([vector, keys]) => {" + PROLOGUE + """
  // Secrets the functions make for themselves must not survive them; the
  // page can only observe this through what it passes in, so check that the
  // caller's own arrays are left alone and the outputs are fresh copies.
  const seeker = holder(vector.seeker);
  const volunteer = holder(vector.volunteer);
  const before = e(volunteer.x25519Secret);
  const content = oc.encodeText(vector.content);
  const sealed = oc.sealMail(d(vector.thread_id), vector.seq, vector.author, content, seeker, seeker.x25519Public,
                             volunteer.x25519Public);
  const opened = oc.openMail(d(vector.thread_id), vector.seq, vector.author, sealed.body, sealed.signature,
                             sealed.volunteerWrap, volunteer, seeker.ed25519Public);
  const contentIntact = oc.decodeText(content) === vector.content;
  const readerIntact = e(volunteer.x25519Secret) === before;
  const m1 = oc.deriveMailbox(keys.token, keys.deployment_id, { opslimit: keys.opslimit, memlimit: keys.memlimit });
  const m2 = oc.deriveMailbox(keys.token, keys.deployment_id, { opslimit: keys.opslimit, memlimit: keys.memlimit });
  m1.x25519Secret.fill(0);
  return { opened: oc.decodeText(opened), contentIntact, readerIntact, independent: e(m2.x25519Secret) === keys.x25519_secret };
}"""


@pytest.mark.browser
async def test_browser_mail_functions_leave_caller_secrets_alone(page: Any, live_server: Any) -> None:
    vector = next(c for c in load("mail_messages.json")["cases"] if c["kind"] == "seal")
    keys = next(c for c in load("mail_keys.json")["cases"] if c["name"] == "minimum-params")
    await page.goto(live_server.url + "/")
    got = await page.evaluate(WIPE_RUNNER, [vector, keys])
    assert got == {"opened": vector["content"], "contentIntact": True, "readerIntact": True, "independent": True}
    assert not page.problems, page.problems


NOTES_RUNNER = "async (cases) => {" + PROLOGUE + """
  const results = [];
  for (const c of cases) {
    const r = {};
    try {
      if (c.kind === "seal") {
        const writer = holder(c.writer);
        const reader = holder(c.reader);
        const content = c.expect === "ok" ? oc.encodeText(c.content) : new Uint8Array(c.content_length);
        const note = oc.sealMailNote(d(c.thread_id), content, writer, reader.x25519Public, { key: d(c.key) });
        r.head = e(note.subarray(0, note.length - oc.MAIL_WRAP_BYTES));
        r.note = e(note);  // its wrap is random: Python opens it
        r.openedFixed = oc.decodeText(oc.openMailNote(d(c.thread_id), d(c.note), reader, writer.ed25519Public));
        r.openedOwn = oc.decodeText(oc.openMailNote(d(c.thread_id), note, reader, writer.ed25519Public));
        r.outcome = "ok";
      } else {
        r.content = oc.decodeText(oc.openMailNote(d(c.thread_id), d(c.note), holder(c.reader),
                                                  d(c.writer_ed25519_public)));
        r.outcome = "ok";
      }
    } catch (err) {
      r.outcome = outcome(err);
      r.message = String(err);
    }
    results.push(r);
  }
  return { results, constants: [oc.MAX_MAIL_NOTE_CONTENT, oc.MIN_MAIL_NOTE_BYTES, oc.MAX_MAIL_NOTE_BYTES] };
}"""


@pytest.mark.browser
async def test_browser_seals_and_opens_notes(page: Any, live_server: Any) -> None:
    """mail_note.json (PROTOCOL.md 12.10) in the page: every seal byte for byte (but the random wrap,
    which Python opens), every refusal as named."""
    data = load("mail_note.json")
    await page.goto(live_server.url + "/")
    got = await page.evaluate(NOTES_RUNNER, data["cases"])
    results = got["results"]
    assert len(results) == len(data["cases"])
    for case, result in zip(data["cases"], results):
        name = case["name"]
        assert result["outcome"] == case["expect"], (name, result)
        if case["expect"] != "ok":
            continue
        if case["kind"] == "seal":
            assert result["head"] == crypto.b64encode(d(case["body"]) + d(case["signature"])), name
            assert result["openedFixed"] == result["openedOwn"] == case["content"], name
            writer, reader = holder(case["writer"]), holder(case["reader"])
            opened = crypto.open_mail_note(d(case["thread_id"]), d(result["note"]), reader, writer.ed25519_public)
            assert opened.decode("utf-8") == case["content"], name
            assert result["note"] != case["note"], "the page's wrap must be random"
        else:
            assert result["content"] == case["content"], name
    assert got["constants"] == [crypto.MAX_MAIL_NOTE_CONTENT, min(crypto.MAIL_NOTE_LENGTHS),
                                max(crypto.MAIL_NOTE_LENGTHS)]
    assert not page.problems, page.problems
