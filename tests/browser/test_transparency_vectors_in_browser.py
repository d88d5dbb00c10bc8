"""tests/vectors/transparency.json checked by web/js/crypto/transparency.js in Debian's Chromium.

The same file is reproduced by Python in tests/crypto/test_transparency_vectors.py. Every case,
the negative ones included, must give the same outcome (and, for a refused key proof or
checkpoint, the same ProofError reason) in the page as in Python.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402

VECTORS = REPO / "tests" / "vectors"

# Runs in the page: imports the served crypto.js (through the page's import map and SRI) and
# returns, per case, the outcome (with the ProofError reason) and the computed values.
RUNNER = """
async (cases) => {
  const oc = await import("/static/js/crypto.js");
  await oc.ready();
  const d = (s) => oc.b64decode(s);
  const e = (u) => oc.b64encode(u);
  const statementJson = (s) => ({
    kind: s.kind, deployment_id: s.deploymentId, account_id: e(s.accountId), role: s.role, name: s.name,
    x25519_public: e(s.x25519Public), ed25519_public: e(s.ed25519Public), not_before: s.notBefore,
    not_after: s.notAfter,
  });
  const outcome = (err) => err instanceof oc.ProofError ? "proof-error"
    : err instanceof oc.BadSignature ? "bad-signature"
    : err instanceof oc.DecryptionFailed ? "decryption-failed"
    : err instanceof oc.InvalidInput ? "invalid-input" : "unexpected: " + err;
  const run = (c) => {
    switch (c.kind) {
      case "statement": return { fields: statementJson(oc.decodeStatement(d(c.statement))) };
      case "fingerprint":
        return { fingerprint: oc.fingerprint(d(c.account_id), d(c.x25519_public), d(c.ed25519_public)) };
      case "leaf-hash": return { hash: e(oc.leafHash(d(c.entry))) };
      case "node-hash": return { hash: e(oc.nodeHash(d(c.left), d(c.right))) };
      case "entry": {
        const x = oc.decodeEntry(d(c.entry));
        return x.type === 1 ? { type: 1, statement: e(x.statement), signature: e(x.signature) }
          : { type: 2, deployment_id: x.deploymentId, manifest_hash: e(x.manifestHash) };
      }
      case "bundle": return { entries: oc.parseEntryBundle(d(c.bundle)).map(e) };
      case "revoked-digest": return { digest: e(oc.revokedDigest(c.ids.map(d))) };
      case "roots": {
        const leaves = c.entries.map((x) => oc.leafHash(d(x)));
        const roots = [];
        for (let n = 0; n <= leaves.length; n += 1) roots.push(e(oc.rootFromLeafHashes(leaves.slice(0, n))));
        return { roots };
      }
      case "inclusion":
        oc.verifyInclusion(d(c.leaf_hash), c.index, c.size, c.path.map(d), d(c.root));
        return {};
      case "consistency":
        oc.verifyConsistency(c.old_size, c.new_size, d(c.old_root), d(c.new_root), c.proof.map(d));
        return {};
      case "checkpoint": {
        const cp = oc.verifyCheckpoint(c.trust, c.note, c.now);
        return { origin: cp.origin, size: cp.size, root: e(cp.root), revoked_count: cp.revokedCount,
                 revoked_digest: e(cp.revokedDigest) };
      }
      case "key-proof": {
        const s = oc.verifyKeyProof(c.trust, c.proof, {
          ed25519Public: d(c.ed25519_public), x25519Public: c.x25519_public === undefined ? undefined : d(c.x25519_public),
          roles: c.roles, now: c.now });
        return { statement: statementJson(s) };
      }
      default: throw new Error("unknown kind " + c.kind);
    }
  };
  const results = [];
  for (const c of cases) {
    if (c.python_only) { results.push({ outcome: "python-only" }); continue; }
    try {
      results.push({ outcome: "ok", values: run(c) });
    } catch (err) {
      results.push({ outcome: outcome(err), reason: err.reason ?? null, message: String(err.message) });
    }
  }
  return results;
}
"""

SMOKE = """
async ([entries, index, size, path, root]) => {
  const oc = await import("/static/js/crypto.js");
  await oc.ready();
  const d = (s) => oc.b64decode(s);
  const leaves = entries.map((x) => oc.leafHash(d(x)));
  oc.verifyInclusion(leaves[index], index, size, path.map(d), d(root));
  return oc.b64encode(oc.rootFromLeafHashes(leaves));
}
"""


@pytest.mark.browser
async def test_the_module_loads_and_verifies_a_proof(page: Any, live_server: Any) -> None:
    entries = [f"entry {i}".encode() for i in range(11)]
    tree = crypto.MerkleTree(entries)
    await page.goto(live_server.url + "/")
    root = await page.evaluate(SMOKE, [[crypto.b64encode(x) for x in entries], 6, 11,
                                       [crypto.b64encode(h) for h in tree.inclusion_proof(6, 11)],
                                       crypto.b64encode(tree.root())])
    assert root == crypto.b64encode(tree.root())
    assert not page.problems, page.problems


@pytest.mark.browser
async def test_browser_reproduces_every_transparency_case(page: Any, live_server: Any) -> None:
    data = json.loads((VECTORS / "transparency.json").read_text(encoding="utf-8"))
    assert "browser" in data["checked_by"]
    cases = data["cases"]
    await page.goto(live_server.url + "/")
    results = await page.evaluate(RUNNER, cases)
    assert len(results) == len(cases)
    checked = refused = 0
    for case, got in zip(cases, results):
        if case.get("python_only"):
            assert got["outcome"] == "python-only"
            continue
        checked += 1
        assert got["outcome"] == case["expect"], (case["name"], got)
        if case["expect"] == "proof-error":
            assert got["reason"] == case["reason"], (case["name"], got)
        if case["expect"] != "ok":
            refused += 1
            continue
        for key, value in got["values"].items():
            assert case[key] == value, (case["name"], key)
    # every kind the page checks, with its negative cases, really ran
    assert checked == sum(not c.get("python_only") for c in cases) and checked > 120
    assert refused > 60
    assert not page.problems, page.problems
