"""tests/vectors/*.json checked by web/js/crypto.js in Debian's Chromium.

The same files are checked by Python in tests/crypto/test_vectors.py: together
they prove that the browser and the server side produce the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parent.parent / "vectors"

# Runs in the page: imports the served crypto.js (through the page's import map and SRI)
# and returns, per case, the outcome and the computed values. Python compares.
RUNNER = """
async ([kind, cases]) => {
  const oc = await import("/static/js/crypto.js");
  await oc.ready();
  const d = (s) => oc.b64decode(s);
  const e = (u) => oc.b64encode(u);
  const outcome = (err) => err instanceof oc.DecryptionFailed ? "decryption-failed"
    : err instanceof oc.InvalidInput ? "invalid-input" : "unexpected: " + err;
  const results = [];
  for (const c of cases) {
    try {
      if (kind === "b64") {
        if (c.expect === "ok") {
          const bytes = oc.b64decode(c.text, c.length);
          const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
          results.push({ outcome: "ok", hex, text: oc.b64encode(bytes) });
        } else {
          oc.b64decode(c.text, c.length);
          results.push({ outcome: "ok" });
        }
      } else if (kind === "volunteer_keys") {
        const k = oc.deriveVolunteerKeys(c.passphrase, d(c.salt), { opslimit: c.opslimit, memlimit: c.memlimit });
        results.push({ outcome: "ok", auth_key: e(k.authKey), wrapping_key: e(k.wrappingKey) });
      } else if (kind === "identity_wrap") {
        if (c.expect === "ok") {
          const id = oc.identityFromSecrets(d(c.x25519_secret), d(c.ed25519_seed));
          const blob = oc.wrapIdentity(d(c.wrapping_key), id, d(c.nonce));
          const back = oc.unwrapIdentity(d(c.wrapping_key), blob, id.x25519Public, id.ed25519Public);
          results.push({ outcome: "ok", x25519_public: e(id.x25519Public), ed25519_public: e(id.ed25519Public),
                         wrapped_identity: e(blob), x25519_secret: e(back.x25519Secret),
                         ed25519_seed: e(back.ed25519Seed) });
        } else {
          oc.unwrapIdentity(d(c.wrapping_key), d(c.wrapped_identity), d(c.x25519_public), d(c.ed25519_public));
          results.push({ outcome: "ok" });
        }
      } else {
        results.push({ outcome: "skipped" });
      }
    } catch (err) {
      results.push({ outcome: outcome(err) });
    }
  }
  return results;
}
"""

CHECKED = {
    "b64": ("hex", "text"),
    "volunteer_keys": ("auth_key", "wrapping_key"),
    "identity_wrap": ("x25519_public", "ed25519_public", "wrapped_identity", "x25519_secret", "ed25519_seed"),
}


@pytest.mark.browser
@pytest.mark.parametrize("kind", sorted(CHECKED))
async def test_browser_reproduces_vector_file(page: Any, live_server: Any, kind: str) -> None:
    data = json.loads((VECTORS / f"{kind}.json").read_text(encoding="utf-8"))
    assert "browser" in data["checked_by"]
    await page.goto(live_server.url + "/")
    results = await page.evaluate(RUNNER, [kind, data["cases"]])
    assert len(results) == len(data["cases"])
    for case, got in zip(data["cases"], results):
        assert got["outcome"] == case["expect"], (case["name"], got)
        if case["expect"] == "ok":
            for field in CHECKED[kind]:
                if field in case:
                    assert got[field] == case[field], (case["name"], field)
    assert not page.problems, page.problems


@pytest.mark.browser
async def test_production_argon2_parameters_run_in_the_browser(page: Any, live_server: Any) -> None:
    """The 64 MiB vector must really be among those the browser reproduced."""
    data = json.loads((VECTORS / "volunteer_keys.json").read_text(encoding="utf-8"))
    assert any(c["memlimit"] >= 64 * 1024 * 1024 and c["opslimit"] >= 3 for c in data["cases"])
