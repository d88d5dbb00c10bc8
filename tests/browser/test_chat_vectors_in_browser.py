"""The chat and proof-of-work vectors checked by web/js/crypto.js in Debian's Chromium.

tests/crypto/test_chat_vectors.py checks the same files in Python: together
they prove that the help-seeker's page, the volunteer's page and the Python
side produce and accept the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.vectorpage import PROLOGUE, load



SESSION_RUNNER = "async (cases) => {" + PROLOGUE + """
  const results = [];
  for (const c of cases) {
    try {
      const chatId = d(c.chat_id);
      const seeker = oc.chatKeyPairFromSecret(d(c.seeker_secret));
      const volunteer = oc.chatKeyPairFromSecret(d(c.volunteer_secret));
      const publics = { seeker_public: e(seeker.publicKey), volunteer_public: e(volunteer.publicKey) };
      const sessions = {
        seeker: oc.ChatSession.forSeeker(chatId, seeker, volunteer.publicKey),
        volunteer: oc.ChatSession.forVolunteer(chatId, volunteer, seeker.publicKey),
      };
      // The constructors consume the key pairs: the secrets are zero now.
      const consumed = seeker.secretKey.every((b) => b === 0) && volunteer.secretKey.every((b) => b === 0);
      const messages = [];
      for (const m of c.messages) {
        const receiver = m.from === "seeker" ? "volunteer" : "seeker";
        const sealed = sessions[m.from].seal(oc.encodeText(m.content));
        const opened = oc.decodeText(sessions[receiver].open(sealed.seq, sealed.ciphertext));
        messages.push({ seq: sealed.seq, ciphertext: e(sealed.ciphertext), content: opened,
                        sent: sessions[m.from].sent, received: sessions[receiver].received });
      }
      const counts = { seeker: [sessions.seeker.sent, sessions.seeker.received],
                       volunteer: [sessions.volunteer.sent, sessions.volunteer.received] };
      sessions.seeker.wipe();
      let afterWipe = "none";
      try { sessions.seeker.seal(new Uint8Array(1)); } catch (err) {
        afterWipe = err instanceof oc.CryptoError ? "CryptoError" : String(err);
      }
      results.push({ outcome: "ok", ...publics, consumed, messages, counts, afterWipe });
    } catch (err) {
      results.push({ outcome: outcome(err), message: String(err) });
    }
  }
  return results;
}"""

TAMPER_RUNNER = "async (cases) => {" + PROLOGUE + """
  const results = [];
  for (const c of cases) {
    const r = {};
    try {
      const own = oc.chatKeyPairFromSecret(d(c.own_secret));
      const build = c.receiver === "seeker" ? oc.ChatSession.forSeeker : oc.ChatSession.forVolunteer;
      const session = build(d(c.chat_id), own, d(c.peer_public));
      for (const f of c.before) session.open(f.seq, d(f.ciphertext));
      r.receivedBefore = session.received;
      try {
        r.content = oc.decodeText(session.open(c.seq, d(c.ciphertext)));
        r.outcome = "ok";
      } catch (err) {
        r.outcome = outcome(err);
      }
      r.receivedAfter = session.received;
      r.sentAfter = session.sent;
      if (c.then) {
        r.thenContent = oc.decodeText(session.open(c.then.seq, d(c.then.ciphertext)));
      }
    } catch (err) {
      r.setup = outcome(err) + " " + String(err);
    }
    results.push(r);
  }
  return results;
}"""

OFFER_RUNNER = "async (cases) => {" + PROLOGUE + """
  const results = [];
  for (const c of cases) {
    try {
      const args = [d(c.ed25519_public), d(c.chat_id), d(c.seeker_public), d(c.volunteer_public), d(c.signature)];
      if (c.expect === "ok") {
        const id = oc.identityFromSecrets(d(c.x25519_secret), d(c.ed25519_seed));
        const signature = oc.signChatOffer(id, args[1], args[2], args[3]);
        const verified = oc.verifyChatOffer(...args);
        results.push({ outcome: "ok", ed25519_public: e(id.ed25519Public), signature: e(signature),
                       verifyReturned: verified === undefined ? "undefined" : String(verified) });
      } else {
        oc.verifyChatOffer(...args);
        results.push({ outcome: "ok" });
      }
    } catch (err) {
      results.push({ outcome: outcome(err) });
    }
  }
  return results;
}"""

LINK_RUNNER = "async (cases) => {" + PROLOGUE + """
  const results = [];
  for (const c of cases) {
    try {
      const peer = c.peer_public === null ? null : d(c.peer_public);
      const args = [d(c.ed25519_public), d(c.link_id), c.role, d(c.own_public), peer, d(c.signature)];
      if (c.expect === "ok") {
        const id = oc.identityFromSecrets(d(c.x25519_secret), d(c.ed25519_seed));
        const signature = oc.signLinkKey(id, args[1], c.role, args[3], peer);
        const verified = oc.verifyLinkKey(...args);
        results.push({ outcome: "ok", signature: e(signature), verifyReturned: String(verified) });
      } else {
        oc.verifyLinkKey(...args);
        results.push({ outcome: "ok" });
      }
    } catch (err) {
      results.push({ outcome: outcome(err) });
    }
  }
  return results;
}"""

POW_RUNNER = "async (cases) => {" + PROLOGUE + """
  const results = [];
  for (const c of cases) {
    const r = {};
    try {
      r.check = oc.powCheck(d(c.challenge), d(c.nonce), c.bits) ? "ok" : "fail";
    } catch (err) {
      r.check = outcome(err);
    }
    if (c.kind === "solve") {
      let progress = 0;
      const started = performance.now();
      const nonce = await oc.solvePow(d(c.challenge), c.bits, { onProgress: (n) => { progress = n; } });
      r.ms = performance.now() - started;
      r.nonce = e(nonce);
      r.nonceLength = nonce.length;
      r.progress = progress;
    }
    results.push(r);
  }
  return results;
}"""




@pytest.mark.browser
async def test_browser_reproduces_chat_sessions(page: Any, live_server: Any) -> None:
    data = load("chat_session.json")
    await page.goto(live_server.url + "/")
    results = await page.evaluate(SESSION_RUNNER, data["cases"])
    assert len(results) == len(data["cases"])
    for case, got in zip(data["cases"], results):
        assert got["outcome"] == "ok", (case["name"], got)
        assert got["seeker_public"] == case["seeker_public"]
        assert got["volunteer_public"] == case["volunteer_public"]
        assert got["consumed"] is True, "ChatSession constructors must wipe the ephemeral secret keys"
        assert len(got["messages"]) == len(case["messages"])
        for want, have in zip(case["messages"], got["messages"]):
            assert have["seq"] == want["seq"], (case["name"], want["from"], want["seq"])
            assert have["ciphertext"] == want["ciphertext"], (case["name"], want["from"], want["seq"])
            assert have["content"] == want["content"]
            assert have["sent"] == have["received"] == want["seq"]
        sent = {side: sum(m["from"] == side for m in case["messages"]) for side in ("seeker", "volunteer")}
        assert got["counts"] == {"seeker": [sent["seeker"], sent["volunteer"]],
                                 "volunteer": [sent["volunteer"], sent["seeker"]]}
        assert got["afterWipe"] == "CryptoError"
    assert not page.problems, page.problems


@pytest.mark.browser
async def test_browser_rejects_chat_tamper_cases(page: Any, live_server: Any) -> None:
    data = load("chat_tamper.json")
    await page.goto(live_server.url + "/")
    results = await page.evaluate(TAMPER_RUNNER, data["cases"])
    assert len(results) == len(data["cases"])
    for case, got in zip(data["cases"], results):
        name = case["name"]
        assert "setup" not in got, (name, got)
        assert got["receivedBefore"] == len(case["before"]), name
        assert got["outcome"] == case["expect"], (name, got)
        if case["expect"] == "ok":
            assert got["content"] == case["content"], name
            assert got["receivedAfter"] == len(case["before"]) + 1, name
        else:
            assert got["receivedAfter"] == len(case["before"]), (name, "a rejected frame advanced the session")
        assert got["sentAfter"] == 0
        if "then" in case:
            assert got["thenContent"] == case["then"]["content"], name
    assert not page.problems, page.problems


@pytest.mark.browser
async def test_browser_reproduces_chat_offers(page: Any, live_server: Any) -> None:
    data = load("chat_offer.json")
    await page.goto(live_server.url + "/")
    results = await page.evaluate(OFFER_RUNNER, data["cases"])
    assert len(results) == len(data["cases"])
    for case, got in zip(data["cases"], results):
        assert got["outcome"] == case["expect"], (case["name"], got)
        if case["expect"] == "ok":
            assert got["ed25519_public"] == case["ed25519_public"], case["name"]
            assert got["signature"] == case["signature"], case["name"]
            assert got["verifyReturned"] == "undefined"
    assert not page.problems, page.problems


@pytest.mark.browser
async def test_browser_reproduces_link_keys(page: Any, live_server: Any) -> None:
    data = load("link_key.json")
    await page.goto(live_server.url + "/")
    results = await page.evaluate(LINK_RUNNER, data["cases"])
    assert len(results) == len(data["cases"])
    for case, got in zip(data["cases"], results):
        assert got["outcome"] == case["expect"], (case["name"], got)
        if case["expect"] == "ok":
            assert got["signature"] == case["signature"], case["name"]
            assert got["verifyReturned"] == "undefined"
    assert not page.problems, page.problems


@pytest.mark.browser
async def test_browser_reproduces_proof_of_work(page: Any, live_server: Any) -> None:
    data = load("pow.json")
    await page.goto(live_server.url + "/")
    results = await page.evaluate(POW_RUNNER, data["cases"])
    assert len(results) == len(data["cases"])
    for case, got in zip(data["cases"], results):
        assert got["check"] == case["expect"], (case["name"], got)
        if case["kind"] == "solve":
            # Both sides count up from 0, so the browser finds Python's nonce.
            assert got["nonce"] == case["nonce"], (case["name"], got)
            assert got["nonceLength"] == 8
    solved = {c["name"]: g for c, g in zip(data["cases"], results) if c["kind"] == "solve"}
    assert "solve-bits-8" in solved and "solve-bits-16" in solved
    assert not page.problems, page.problems


ABORT_RUNNER = "async () => {" + PROLOGUE + """
  const challenge = new Uint8Array(32).fill(7);
  // 32 bits would take hours: it must still yield, report progress and stop on abort.
  const controller = new AbortController();
  const calls = [];
  // Another task that wants the event loop: a chain of zero-delay timers.
  let ticks = 0;
  let done = false;
  const tick = () => { ticks++; if (!done) setTimeout(tick, 0); };
  setTimeout(tick, 0);
  let result;
  try {
    await oc.solvePow(challenge, 32, { signal: controller.signal,
      onProgress: (n) => { calls.push(n); if (calls.length === 5) controller.abort(); } });
    result = "resolved";
  } catch (err) {
    result = err.name;
  }
  done = true;
  let preAborted;
  try {
    await oc.solvePow(challenge, 1, { signal: AbortSignal.abort() });
    preAborted = "resolved";
  } catch (err) {
    preAborted = err.name;
  }
  let badBits;
  try { await oc.solvePow(challenge, 33); badBits = "resolved"; } catch (err) { badBits = outcome(err); }
  const zero = e(await oc.solvePow(challenge, 0));
  return { result, calls, ticks, preAborted, badBits, zero };
}"""


@pytest.mark.browser
async def test_browser_solve_pow_yields_reports_and_aborts(page: Any, live_server: Any) -> None:
    await page.goto(live_server.url + "/")
    got = await page.evaluate(ABORT_RUNNER)
    assert got["result"] == "AbortError"
    assert len(got["calls"]) == 5
    assert got["calls"] == sorted(got["calls"]) and got["calls"][0] > 0
    # Timers ran while it worked: the event loop was not blocked.
    assert got["ticks"] >= 3, got
    assert got["preAborted"] == "AbortError"
    assert got["badBits"] == "invalid-input"
    assert got["zero"] == "AAAAAAAAAAA"
    assert not page.problems, page.problems
