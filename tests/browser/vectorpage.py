"""What the browser vector tests share: the page-side prologue and loading a vector file."""

from __future__ import annotations

import json
from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "vectors"

# Runs at the start of every page-side runner: imports the served crypto.js (through the
# page's import map and SRI) and names the outcomes as the vector files do.
PROLOGUE = """
  const oc = await import("/static/js/crypto.js");
  await oc.ready();
  const d = (s) => oc.b64decode(s);
  const e = (u) => oc.b64encode(u);
  const outcome = (err) => err instanceof oc.BadSignature ? "bad-signature"
    : err instanceof oc.DecryptionFailed ? "decryption-failed"
    : err instanceof oc.InvalidToken ? "invalid-token"
    : err instanceof oc.InvalidInput ? "invalid-input" : "unexpected: " + err;
  const holder = (h) => oc.identityFromSecrets(d(h.x25519_secret), d(h.ed25519_seed));
"""


def load(name: str) -> dict:
    """A vector file that the browser must reproduce."""
    data = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    assert "browser" in data["checked_by"]
    return data
