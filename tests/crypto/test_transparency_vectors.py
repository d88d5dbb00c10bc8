"""tests/vectors/transparency.json: made here, reproduced by Python here and by Chromium.

``make()`` builds every case from fixed seeds and fixed times (Ed25519 is deterministic, the
root key file takes a fixed salt and nonce), and ``tests/tools/make_vectors.py`` writes its
output; ``tests/crypto/test_vectors.py`` fails if the file on disk differs from it. The tests
below check every case with the Python package, and
``tests/browser/test_transparency_vectors_in_browser.py`` checks the same cases with
``web/js/crypto.js`` in the page: both languages must agree on every outcome, including the
ProofError reason of every refused checkpoint and key proof.

Run ``python -m tests.crypto.test_transparency_vectors`` to print the document.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402
from crypto import Checkpoint, Cosigner, MerkleTree, NoteKey, RootKey, Statement  # noqa: E402

VECTORS = REPO / "tests" / "vectors"
FILE = "transparency.json"
b64 = crypto.b64encode
d = crypto.b64decode


def fixed(name: str, n: int) -> bytes:
    """``n`` reproducible bytes named ``name`` (as tests/tools/make_vectors.py does)."""
    return hashlib.shake_256(b"luisterend-oor test vectors/transparency/" + name.encode()).digest(n)


NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86400
DEPLOYMENT = "vectors"
ORIGIN = "vectors.example/log"
ROOT = RootKey.from_seed(fixed("root", 32))
OTHER_ROOT = RootKey.from_seed(fixed("other-root", 32))
LOG = NoteKey.from_seed(ORIGIN, fixed("log", 32))
OTHER_LOG = NoteKey.from_seed(ORIGIN, fixed("other-log", 32))
W1 = Cosigner.from_seed("witness-1.example", fixed("witness-1", 32))
W2 = Cosigner.from_seed("witness-2.example", fixed("witness-2", 32))
STRANGER = Cosigner.from_seed("stranger.example", fixed("stranger", 32))


def trust(*, root=ROOT, witnesses=(W1,), quorum=1, max_age=DAY, deployment=DEPLOYMENT, log=LOG) -> dict:
    return {"deployment_id": deployment, "root_public_key": b64(root.public),
            "log": {"origin": log.name, "public_key": b64(log.public)},
            "witnesses": [{"name": w.name, "public_key": b64(w.public)} for w in witnesses],
            "quorum": quorum, "max_age": max_age}


def statement_json(s: Statement) -> dict:
    out = asdict(s)
    for key in ("account_id", "x25519_public", "ed25519_public"):
        out[key] = b64(out[key])
    return out


def statement_from_json(j: dict) -> Statement:
    return Statement(**{**j, **{k: d(j[k]) for k in ("account_id", "x25519_public", "ed25519_public")}})


def person(n: int, name: str, role: str = "volunteer", **changes) -> Statement:
    identity = crypto.identity_from_secrets(fixed(f"x25519-{n}", 32), fixed(f"ed25519-{n}", 32))
    base = Statement(kind=1, deployment_id=DEPLOYMENT, account_id=fixed(f"account-{n}", 16), role=role, name=name,
                     x25519_public=identity.x25519_public, ed25519_public=identity.ed25519_public,
                     not_before=NOW - 30 * DAY, not_after=NOW + 365 * DAY)
    return replace(base, **changes)


def flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1:]


# -- statements, fingerprints, hashes, entries ------------------------------------------------


def statement_cases() -> list[dict]:
    cases = []
    good = [
        ("volunteer-ascii", person(1, "Bram")),
        ("mentor-nfc-name", person(2, "Zo\u00eb", "mentor")),
        ("partner-astral-name", person(3, "Sam \U0001f33b", "partner")),
        ("coordinator-longest-fields", person(4, "\u00e9" * 64, "coordinator", deployment_id="d" * 64)),
        ("revocation", person(1, "Bram", kind=2, not_before=NOW, not_after=NOW)),
        ("validity-at-the-safe-integer-limit", person(5, "Eva", not_before=0, not_after=2**53 - 1)),
    ]
    for name, s in good:
        cases.append({"name": f"statement-{name}", "kind": "statement", "expect": "ok",
                      "fields": statement_json(s), "statement": b64(crypto.encode_statement(s))})
    base = crypto.encode_statement(person(1, "Bram"))
    label = len(crypto.labels.LABEL_KEY_STATEMENT)
    dep_at = label + 1
    role_at = dep_at + 1 + len(DEPLOYMENT) + 16
    name_at = role_at + 1
    tail = base[name_at + 1 + 4:]  # keys and validity after the 4-byte name "Bram"
    head = base[:name_at]

    def with_name(raw: bytes) -> bytes:
        return head + bytes([len(raw)]) + raw + tail

    def with_times(nb: int, na: int, kind: int = 1) -> bytes:
        body = base[:label] + bytes([kind]) + base[label + 1:-16]
        return body + nb.to_bytes(8, "big") + na.to_bytes(8, "big")

    bad = [
        ("trailing-byte", base + b"\x00"),
        ("truncated", base[:-1]),
        ("wrong-label", flip(base, 3)),
        ("unknown-kind", base[:label] + b"\x03" + base[label + 1:]),
        ("deployment-length-too-long", base[:dep_at] + bytes([len(DEPLOYMENT) + 1]) + base[dep_at + 1:]),
        ("empty-deployment", base[:dep_at] + b"\x00" + base[dep_at + 1 + len(DEPLOYMENT):]),
        ("unknown-role", base[:role_at] + b"\x05" + base[role_at + 1:]),
        ("empty-name", with_name(b"")),
        ("name-not-nfc", with_name("Zoe\u0308".encode())),
        ("name-invalid-utf8", with_name(b"Br\xffm")),
        ("name-control-character", with_name(b"Br\nm")),
        ("name-129-bytes", with_name(b"n" * 129)),
        ("not-after-before-not-before", with_times(NOW, NOW - 1)),
        ("revocation-with-a-period", with_times(NOW, NOW + 1, kind=2)),
        ("not-after-above-2-53", with_times(0, 2**53)),
        ("empty", b""),
    ]
    for name, data in bad:
        cases.append({"name": f"statement-{name}", "kind": "statement", "expect": "invalid-input",
                      "statement": b64(data)})
    return cases


def fingerprint_cases() -> list[dict]:
    cases = []
    for n, (account, x, e) in enumerate([
        (bytes(16), bytes(32), bytes(32)),
        (fixed("fp-a", 16), fixed("fp-x", 32), fixed("fp-e", 32)),
        (fixed("fp-a", 16), fixed("fp-e", 32), fixed("fp-x", 32)),  # keys swapped: another fingerprint
    ]):
        cases.append({"name": f"fingerprint-{n}", "kind": "fingerprint", "expect": "ok", "account_id": b64(account),
                      "x25519_public": b64(x), "ed25519_public": b64(e),
                      "fingerprint": crypto.fingerprint(account, x, e)})
    return cases


def hash_cases() -> list[dict]:
    cases = []
    for name, entry in (("empty", b""), ("one-byte", b"\x00"), ("text", b"luisterend oor")):
        cases.append({"name": f"leaf-hash-{name}", "kind": "leaf-hash", "expect": "ok", "entry": b64(entry),
                      "hash": b64(crypto.leaf_hash(entry))})
    left, right = fixed("left", 32), fixed("right", 32)
    cases.append({"name": "node-hash", "kind": "node-hash", "expect": "ok", "left": b64(left), "right": b64(right),
                  "hash": b64(crypto.node_hash(left, right))})
    cases.append({"name": "node-hash-short-input", "kind": "node-hash", "expect": "invalid-input",
                  "left": b64(left[:31]), "right": b64(right)})
    return cases


def entry_cases() -> list[dict]:
    statement, signature = crypto.sign_statement(ROOT, person(1, "Bram"))
    entry = crypto.statement_entry(statement, signature)
    manifest = b'{"deployment_id":"vectors","files":{},"v":1}'
    release = crypto.release_entry(DEPLOYMENT, manifest)
    cases = [
        {"name": "entry-statement", "kind": "entry", "expect": "ok", "entry": b64(entry), "type": 1,
         "statement": b64(statement), "signature": b64(signature)},
        {"name": "entry-release", "kind": "entry", "expect": "ok", "entry": b64(release), "type": 2,
         "deployment_id": DEPLOYMENT, "manifest": b64(manifest),
         "manifest_hash": b64(hashlib.sha256(manifest).digest())},
    ]
    bad = [
        ("empty", b""),
        ("unknown-type", b"\x03" + entry[1:]),
        ("statement-entry-trailing-byte", entry + b"\x00"),
        ("statement-entry-no-signature", entry[:-64]),
        ("release-entry-truncated", release[:-1]),
        ("release-entry-trailing-byte", release + b"\x00"),
        ("too-large", b"\x02" + bytes(4096)),
    ]
    cases += [{"name": f"entry-{n}", "kind": "entry", "expect": "invalid-input", "entry": b64(data)} for n, data in bad]
    return cases


def bundle_cases() -> list[dict]:
    items = [b"a", fixed("bundle", 300), bytes(4096)]
    bundle = crypto.encode_entry_bundle(items)
    return [
        {"name": "bundle-three-entries", "kind": "bundle", "expect": "ok", "bundle": b64(bundle),
         "entries": [b64(x) for x in items]},
        {"name": "bundle-empty", "kind": "bundle", "expect": "ok", "bundle": "", "entries": []},
        {"name": "bundle-truncated", "kind": "bundle", "expect": "invalid-input", "bundle": b64(bundle[:-1])},
        {"name": "bundle-zero-length-entry", "kind": "bundle", "expect": "invalid-input", "bundle": b64(b"\x00\x00")},
        {"name": "bundle-half-a-length", "kind": "bundle", "expect": "invalid-input", "bundle": b64(b"\x00")},
        {"name": "bundle-entry-too-large", "kind": "bundle", "expect": "invalid-input",
         "bundle": b64(b"\x10\x01" + bytes(4097))},
    ]


def revoked_cases() -> list[dict]:
    a, b, c = fixed("rev-a", 16), fixed("rev-b", 16), fixed("rev-c", 16)
    return [
        {"name": "revoked-digest-empty", "kind": "revoked-digest", "expect": "ok", "ids": [],
         "digest": b64(crypto.revoked_digest([]))},
        {"name": "revoked-digest-unsorted-with-duplicate", "kind": "revoked-digest", "expect": "ok",
         "ids": [b64(x) for x in (c, a, b, a)], "digest": b64(crypto.revoked_digest([a, b, c]))},
    ]


# -- the tree, inclusion, consistency ----------------------------------------------------------

TREE_ENTRIES = [fixed(f"tree-entry-{i}", 1 + i * 7 % 50) for i in range(21)]
TREE = MerkleTree(TREE_ENTRIES)


def tree_cases() -> list[dict]:
    cases = [{"name": "roots-of-0-to-21-leaves", "kind": "roots", "expect": "ok",
              "entries": [b64(x) for x in TREE_ENTRIES], "roots": [b64(TREE.root(n)) for n in range(22)]}]

    def inclusion(name, index, size, path, root, expect="ok", reason=None, leaf=None):
        case = {"name": f"inclusion-{name}", "kind": "inclusion", "expect": expect,
                "leaf_hash": b64(leaf if leaf is not None else crypto.leaf_hash(TREE_ENTRIES[index % 21])),
                "index": index, "size": size, "path": [b64(h) for h in path], "root": b64(root)}
        if reason:
            case["reason"] = reason
        cases.append(case)

    for index, size in ((0, 1), (0, 2), (5, 13), (12, 13), (16, 17), (20, 21), (7, 8)):
        inclusion(f"{index}-of-{size}", index, size, TREE.inclusion_proof(index, size), TREE.root(size))
    path = TREE.inclusion_proof(5, 13)
    root = TREE.root(13)
    bad = "proof-error"
    inclusion("other-size", 5, 14, path, TREE.root(14), bad, "inclusion")
    inclusion("other-index", 6, 13, path, root, bad, "inclusion", leaf=crypto.leaf_hash(TREE_ENTRIES[5]))
    inclusion("altered-hash", 5, 13, [flip(path[0])] + path[1:], root, bad, "inclusion")
    inclusion("altered-last-hash", 5, 13, path[:-1] + [flip(path[-1], 31)], root, bad, "inclusion")
    inclusion("extra-hash", 5, 13, path + [fixed("extra", 32)], root, bad, "inclusion")
    inclusion("missing-hash", 5, 13, path[:-1], root, bad, "inclusion")
    inclusion("other-leaf", 5, 13, path, root, bad, "inclusion", leaf=crypto.leaf_hash(TREE_ENTRIES[6]))
    inclusion("wrong-root", 5, 13, path, TREE.root(12), bad, "inclusion")
    inclusion("index-equals-size", 13, 13, path, root, bad, "inclusion", leaf=crypto.leaf_hash(TREE_ENTRIES[5]))
    inclusion("short-hash", 5, 13, [path[0][:31]] + path[1:], root, bad, "malformed")
    inclusion("size-above-2-53", 5, 2**53, path, root, bad, "malformed")

    def consistency(name, old, new, proof, old_root, new_root, expect="ok", reason=None):
        case = {"name": f"consistency-{name}", "kind": "consistency", "expect": expect, "old_size": old,
                "new_size": new, "old_root": b64(old_root), "new_root": b64(new_root), "proof": [b64(h) for h in proof]}
        if reason:
            case["reason"] = reason
        cases.append(case)

    for old, new in ((1, 21), (7, 13), (8, 21), (4, 8), (20, 21), (13, 13), (0, 21)):
        consistency(f"{old}-to-{new}", old, new, TREE.consistency_proof(old, new), TREE.root(old), TREE.root(new))
    proof = TREE.consistency_proof(7, 13)
    r7, r13 = TREE.root(7), TREE.root(13)
    consistency("altered-hash", 7, 13, [flip(proof[0])] + proof[1:], r7, r13, bad, "consistency")
    consistency("wrong-old-root", 7, 13, proof, TREE.root(6), r13, bad, "consistency")
    consistency("wrong-new-root", 7, 13, proof, r7, TREE.root(12), bad, "consistency")
    consistency("other-new-size", 7, 14, proof, r7, TREE.root(14), bad, "consistency")
    consistency("truncated", 7, 13, proof[:-1], r7, r13, bad, "consistency")
    consistency("extra-hash", 7, 13, proof + [fixed("extra", 32)], r7, r13, bad, "consistency")
    consistency("empty-proof", 7, 13, [], r7, r13, bad, "consistency")
    consistency("shrinking", 13, 7, proof, r13, r7, bad, "consistency")
    consistency("same-size-other-root", 13, 13, [], r13, TREE.root(12), bad, "consistency")
    consistency("from-empty-with-a-proof", 0, 13, proof, crypto.EMPTY_ROOT, r13, bad, "consistency")
    consistency("from-empty-other-root", 0, 13, [], r7, r13, bad, "consistency")
    # a history rewrite: the old tree's entry 3 changed; the honest proof cannot link the two
    rewritten = MerkleTree(TREE_ENTRIES[:3] + [b"rewritten"] + TREE_ENTRIES[4:13])
    consistency("rewritten-history", 7, 13, rewritten.consistency_proof(7, 13), r7, rewritten.root(13), bad,
                "consistency")
    return cases


# -- checkpoints and cosignatures --------------------------------------------------------------


def checkpoint_text(size: int, tree: MerkleTree, revoked: list[bytes], origin: str = ORIGIN) -> str:
    return crypto.format_checkpoint(Checkpoint(origin=origin, size=size, root=tree.root(size),
                                               revoked_count=len(set(revoked)),
                                               revoked_digest=crypto.revoked_digest(revoked)))


def checkpoint_cases() -> list[dict]:
    revoked = [fixed("account-3", 16)]
    text = checkpoint_text(21, TREE, revoked)
    signed = LOG.sign_note(text)
    fresh = NOW - 60
    cases = []

    def case(name, note, *, expect="ok", reason=None, **trust_changes):
        c = {"name": f"checkpoint-{name}", "kind": "checkpoint", "expect": expect, "trust": trust(**trust_changes),
             "note": note, "now": NOW}
        if expect == "ok":
            cp = crypto.parse_checkpoint(crypto.parse_note(note)[0])
            c.update(origin=cp.origin, size=cp.size, root=b64(cp.root), revoked_count=cp.revoked_count,
                     revoked_digest=b64(cp.revoked_digest))
        else:
            c["reason"] = reason
        cases.append(c)

    pe = "proof-error"
    case("one-cosignature", signed + W1.cosign(text, fresh))
    case("two-cosignatures-quorum-2", signed + W1.cosign(text, fresh) + W2.cosign(text, fresh - 100),
         witnesses=(W1, W2), quorum=2)
    case("unknown-lines-ignored", signed + STRANGER.cosign(text, fresh) + W1.cosign(text, fresh)
         + OTHER_LOG.sign_note(text).split("\n\n")[-1])
    case("quorum-0-log-signature-only", signed, quorum=0)
    case("cosignature-oldest-accepted", signed + W1.cosign(text, NOW - DAY))
    case("cosignature-600s-ahead-accepted", signed + W1.cosign(text, NOW + 600))
    empty_text = crypto.format_checkpoint(Checkpoint(origin=ORIGIN, size=0, root=crypto.EMPTY_ROOT, revoked_count=0,
                                                     revoked_digest=crypto.revoked_digest([])))
    case("empty-log", LOG.sign_note(empty_text) + W1.cosign(empty_text, fresh))
    case("wrong-log-key", OTHER_LOG.sign_note(text) + W1.cosign(text, fresh), expect=pe, reason="log-signature")
    case("no-log-signature", text + "\n" + W1.cosign(text, fresh), expect=pe, reason="log-signature")
    (_, [(log_name, log_id, log_sig)]) = crypto.parse_note(signed)
    forged_line = f"\u2014 {log_name} {base64.b64encode(log_id + flip(log_sig)).decode()}\n"
    case("forged-log-signature", text + "\n" + forged_line + W1.cosign(text, fresh), expect=pe,
         reason="log-signature")
    case("forged-next-to-good-log-signature", signed + forged_line + W1.cosign(text, fresh),
         expect=pe, reason="log-signature")
    case("too-few-cosignatures", signed + W1.cosign(text, fresh), witnesses=(W1, W2), quorum=2, expect=pe,
         reason="cosignatures")
    case("no-cosignature", signed, expect=pe, reason="cosignatures")
    case("stale-cosignature", signed + W1.cosign(text, NOW - DAY - 1), expect=pe, reason="cosignatures")
    case("cosignature-too-far-ahead", signed + W1.cosign(text, NOW + 601), expect=pe, reason="cosignatures")
    case("unknown-witness-only", signed + STRANGER.cosign(text, fresh), expect=pe, reason="cosignatures")
    case("same-witness-twice-counts-once", signed + W1.cosign(text, fresh) + W1.cosign(text, fresh + 1),
         witnesses=(W1, W2), quorum=2, expect=pe, reason="cosignatures")
    other_text = checkpoint_text(20, TREE, revoked)
    case("cosignature-of-another-checkpoint", signed + W1.cosign(other_text, fresh), expect=pe,
         reason="cosignatures")
    case("other-origin", signed + W1.cosign(text, fresh), expect=pe, reason="origin",
         log=NoteKey.from_seed("other.example/log", fixed("log", 32)))
    case("no-blank-line", signed.replace("\n\n", "\n") + W1.cosign(text, fresh), expect=pe, reason="malformed")
    no_ext = f"{ORIGIN}\n21\n{base64.b64encode(TREE.root(21)).decode()}\n"
    case("no-oor-revoked-line", LOG.sign_note(no_ext) + W1.cosign(no_ext, fresh), expect=pe, reason="malformed")
    case("size-with-leading-zero", LOG.sign_note(text.replace("\n21\n", "\n021\n")), quorum=0, expect=pe,
         reason="malformed")
    case("note-over-16-kib", signed + W1.cosign(text, fresh) + ("\u2014 x AAAAAAA=\n" * 1500), expect=pe,
         reason="malformed")
    return cases


# -- key proofs ---------------------------------------------------------------------------------


class World:
    """A log of releases, statements and a revocation, with a cosigned checkpoint at two sizes."""

    def __init__(self) -> None:
        self.people = {
            "bram": person(1, "Bram"),
            "zoe": person(2, "Zo\u00eb", "mentor"),
            "sam": person(3, "Sam"),  # revoked below
            "eva": person(4, "Eva", deployment_id="other-deployment"),
            "noor": person(5, "Noor", not_before=NOW - 400 * DAY, not_after=NOW - 1),  # expired
            "ilse": person(6, "Ilse", not_before=NOW + 601),  # not valid yet (beyond 600 s of skew)
            "lars": person(7, "Lars", not_before=NOW + 600),  # valid: within the skew
        }
        self.rogue = person(8, "Rogue")
        self.entries = [crypto.release_entry(DEPLOYMENT, b'{"v":1}')]
        self.index = {}
        for key, s in self.people.items():
            self.index[key] = len(self.entries)
            self.entries.append(crypto.statement_entry(*crypto.sign_statement(ROOT, s)))
        revocation = replace(self.people["sam"], kind=2, not_before=NOW - DAY, not_after=NOW - DAY)
        self.index["sam-revocation"] = len(self.entries)
        self.entries.append(crypto.statement_entry(*crypto.sign_statement(ROOT, revocation)))
        self.index["rogue"] = len(self.entries)  # a statement the root never signed, logged anyway
        self.entries.append(crypto.statement_entry(*crypto.sign_statement(OTHER_ROOT, self.rogue)))
        self.entries.append(crypto.release_entry(DEPLOYMENT, b'{"v":2}'))
        self.tree = MerkleTree(self.entries)
        self.size = self.tree.size
        self.revoked = [self.people["sam"].account_id]
        self.text = checkpoint_text(self.size, self.tree, self.revoked)
        self.note = LOG.sign_note(self.text) + W1.cosign(self.text, NOW - 60)

    def proof(self, who: str, *, size=None, note=None, revoked=None, index=None) -> dict:
        at = self.index[who]
        size = self.size if size is None else size
        return {"v": 1, "entry": b64(self.entries[at]), "index": at if index is None else index,
                "path": [b64(h) for h in self.tree.inclusion_proof(at, size)],
                "checkpoint": self.note if note is None else note,
                "revoked": b64(b"".join(self.revoked if revoked is None else revoked))}


def key_proof_cases() -> list[dict]:
    world = World()
    cases = []

    def case(name, proof, *, who, expect="ok", reason=None, trust_changes=None, x25519=True, roles=None, now=NOW,
             keys_of=None):
        s = world.people.get(keys_of or who) or world.rogue
        c = {"name": f"key-proof-{name}", "kind": "key-proof", "expect": expect, "trust": trust(**(trust_changes or {})),
             "proof": proof, "ed25519_public": b64(s.ed25519_public), "now": now}
        if x25519:
            c["x25519_public"] = b64(s.x25519_public)
        if roles is not None:
            c["roles"] = roles
        if expect == "ok":
            c["statement"] = statement_json(s)
        else:
            c["reason"] = reason
        cases.append(c)

    pe = "proof-error"
    case("volunteer", world.proof("bram"), who="bram")
    case("mentor-with-roles", world.proof("zoe"), who="zoe", roles=["mentor", "coordinator"])
    case("without-x25519", world.proof("bram"), who="bram", x25519=False)
    case("valid-within-the-clock-skew", world.proof("lars"), who="lars")
    case("two-witnesses-quorum-2",
         world.proof("bram", note=world.note + W2.cosign(world.text, NOW - 10)), who="bram",
         trust_changes={"witnesses": (W1, W2), "quorum": 2})
    # the attacks and mistakes a page must refuse
    case("wrong-root", world.proof("bram"), who="bram", expect=pe, reason="root-signature",
         trust_changes={"root": OTHER_ROOT})
    case("rogue-statement-in-the-log", world.proof("rogue"), who="rogue", expect=pe, reason="root-signature")
    forged_text = checkpoint_text(world.size, world.tree, world.revoked)
    case("forged-log-key", world.proof("bram", note=OTHER_LOG.sign_note(forged_text) + W1.cosign(forged_text, NOW)),
         who="bram", expect=pe, reason="log-signature")
    case("no-cosignature", world.proof("bram", note=LOG.sign_note(world.text)), who="bram", expect=pe,
         reason="cosignatures")
    case("too-few-cosignatures", world.proof("bram"), who="bram", expect=pe, reason="cosignatures",
         trust_changes={"witnesses": (W1, W2), "quorum": 2})
    case("stale-cosignature", world.proof("bram"), who="bram", expect=pe, reason="cosignatures", now=NOW + DAY)
    case("other-deployment", world.proof("eva"), who="eva", expect=pe, reason="deployment")
    case("revoked", world.proof("sam"), who="sam", expect=pe, reason="revoked")
    case("revocation-entry", world.proof("sam-revocation"), who="sam", expect=pe, reason="kind")
    case("release-entry", {**world.proof("bram"), "entry": b64(world.entries[0]), "index": 0,
                           "path": [b64(h) for h in world.tree.inclusion_proof(0, world.size)]},
         who="bram", expect=pe, reason="entry-type")
    case("expired", world.proof("noor"), who="noor", expect=pe, reason="validity")
    case("not-yet-valid", world.proof("ilse"), who="ilse", expect=pe, reason="validity")
    case("revoked-ids-withheld", world.proof("sam", revoked=[]), who="sam", expect=pe, reason="revoked-set")
    case("revoked-ids-unsorted", world.proof("bram", revoked=sorted([fixed("z", 16), world.revoked[0]])[::-1]), who="bram",
         expect=pe, reason="malformed")
    smaller = world.size - 1
    small_text = checkpoint_text(smaller, world.tree, world.revoked)
    small_note = LOG.sign_note(small_text) + W1.cosign(small_text, NOW - 60)
    case("proof-for-another-tree-size", world.proof("bram", size=smaller), who="bram", expect=pe,
         reason="inclusion")
    case("checkpoint-for-another-tree-size", world.proof("bram", note=small_note), who="bram", expect=pe,
         reason="inclusion")
    case("other-index", world.proof("bram", index=world.index["bram"] + 1), who="bram", expect=pe,
         reason="inclusion")
    case("index-beyond-the-tree", world.proof("bram", index=world.size), who="bram", expect=pe, reason="inclusion")
    case("swapped-ed25519-key", world.proof("bram"), who="bram", keys_of="zoe", expect=pe, reason="keys")
    case("swapped-x25519-key", world.proof("bram"), who="bram", expect=pe, reason="keys")
    cases[-1]["x25519_public"] = b64(world.people["zoe"].x25519_public)
    case("role-not-accepted", world.proof("bram"), who="bram", roles=["mentor"], expect=pe, reason="role")
    case("unknown-version", {**world.proof("bram"), "v": 2}, who="bram", expect=pe, reason="malformed")
    case("extra-field", {**world.proof("bram"), "extra": 1}, who="bram", expect=pe, reason="malformed")
    case("path-too-long", {**world.proof("bram"), "path": [b64(bytes(32))] * 65}, who="bram", expect=pe,
         reason="malformed")
    case("non-canonical-base64", {**world.proof("bram"), "entry": world.proof("bram")["entry"] + "="}, who="bram",
         expect=pe, reason="malformed")
    return cases


def root_key_file_cases() -> list[dict]:
    root = RootKey.from_seed(fixed("root-file", 32))
    salt, nonce = fixed("root-salt", 16), fixed("root-nonce", 24)
    text = crypto.seal_root_key("correct horse battery staple", root, opslimit=1, memlimit=8192, salt=salt,
                                nonce=nonce)
    base = {"kind": "root-key-file", "python_only": True, "salt": b64(salt), "nonce": b64(nonce), "opslimit": 1,
            "memlimit": 8192, "seed": b64(fixed("root-file", 32)), "file": text}
    return [
        {**base, "name": "root-key-file", "expect": "ok", "passphrase": "correct horse battery staple",
         "public_key": b64(root.public)},
        {**base, "name": "root-key-file-wrong-passphrase", "expect": "decryption-failed",
         "passphrase": "correct horse battery stable"},
    ]


def make() -> dict:
    cases = (statement_cases() + fingerprint_cases() + hash_cases() + entry_cases() + bundle_cases()
             + revoked_cases() + tree_cases() + checkpoint_cases() + key_proof_cases() + root_key_file_cases())
    return {
        "description": (
            "Key and code transparency (PROTOCOL.md section 14). kind=statement: decode_statement(statement) "
            "MUST give fields (and encode_statement(fields) the bytes) or fail as named. fingerprint: "
            "fingerprint(account_id, x25519_public, ed25519_public). leaf-hash/node-hash: RFC 6962. entry: "
            "decode_entry(entry) gives type and parts (release: manifest_hash = SHA-256(manifest)). bundle: "
            "parse_entry_bundle. revoked-digest: revoked_digest(ids) (sorted, unique). roots: the root of the "
            "first n entries for n = 0..len. inclusion: verify_inclusion(leaf_hash, index, size, path, root); "
            "consistency: verify_consistency(old_size, new_size, old_root, new_root, proof). checkpoint: "
            "verify_checkpoint with trust (the /js/trust.js object), note and now. key-proof: "
            "verify_key_proof(trust, proof, ed25519_public, x25519_public?, roles?, now) MUST return statement. "
            "expect=proof-error: MUST raise/throw ProofError whose reason equals the case's reason. "
            "root-key-file (python_only): seal_root_key with the fixed salt and nonce MUST give file; "
            "open_root_key(passphrase, file) MUST give public_key or fail as named. Base64 in the JSON is the "
            "protocol's (URL-safe, no padding); inside notes it is standard base64, as C2SP fixes it."
        ),
        "checked_by": ["python", "browser"],
        "cases": cases,
    }


# -- checking the file with Python ------------------------------------------------------------


def load() -> dict:
    return json.loads((VECTORS / FILE).read_text(encoding="utf-8"))


def all_cases() -> list:
    path = VECTORS / FILE
    if not path.exists():
        return []
    return [pytest.param(c, id=c["name"]) for c in load()["cases"]]


def test_the_file_is_what_make_builds():
    assert (VECTORS / FILE).read_text(encoding="utf-8") == json.dumps(make(), indent=2, ensure_ascii=True) + "\n"


def test_every_kind_has_good_and_bad_cases():
    by_kind: dict[str, set[str]] = {}
    for c in load()["cases"]:
        by_kind.setdefault(c["kind"], set()).add(c["expect"])
    for kind in ("statement", "entry", "bundle", "inclusion", "consistency", "checkpoint", "key-proof"):
        assert "ok" in by_kind[kind] and len(by_kind[kind]) > 1, kind
    reasons = {c["reason"] for c in load()["cases"] if c["kind"] == "key-proof" and c["expect"] == "proof-error"}
    assert reasons == set(crypto.ProofError.REASONS) - {"origin", "consistency"}, reasons


def run_case(c: dict):
    """The case computed by the Python package: the values the file gives for it."""
    kind = c["kind"]
    if kind == "statement":
        s = crypto.decode_statement(d(c["statement"]))
        assert crypto.encode_statement(statement_from_json(statement_json(s))) == d(c["statement"])
        return {"fields": statement_json(s)}
    if kind == "fingerprint":
        return {"fingerprint": crypto.fingerprint(d(c["account_id"]), d(c["x25519_public"]), d(c["ed25519_public"]))}
    if kind == "leaf-hash":
        return {"hash": b64(crypto.leaf_hash(d(c["entry"])))}
    if kind == "node-hash":
        return {"hash": b64(crypto.node_hash(d(c["left"]), d(c["right"])))}
    if kind == "entry":
        e = crypto.decode_entry(d(c["entry"]))
        if e.type == 1:
            return {"type": 1, "statement": b64(e.statement), "signature": b64(e.signature)}
        assert crypto.release_entry(e.deployment_id, d(c["manifest"])) == d(c["entry"])
        return {"type": 2, "deployment_id": e.deployment_id, "manifest_hash": b64(e.manifest_hash)}
    if kind == "bundle":
        return {"entries": [b64(x) for x in crypto.parse_entry_bundle(d(c["bundle"]))]}
    if kind == "revoked-digest":
        return {"digest": b64(crypto.revoked_digest([d(x) for x in c["ids"]]))}
    if kind == "roots":
        entries = [d(x) for x in c["entries"]]
        tree = MerkleTree(entries)
        roots = [b64(tree.root(n)) for n in range(len(entries) + 1)]
        assert roots == [b64(crypto.root_from_leaf_hashes([crypto.leaf_hash(x) for x in entries[:n]]))
                         for n in range(len(entries) + 1)]
        return {"roots": roots}
    if kind == "inclusion":
        crypto.verify_inclusion(d(c["leaf_hash"]), c["index"], c["size"], [d(h) for h in c["path"]], d(c["root"]))
        return {}
    if kind == "consistency":
        crypto.verify_consistency(c["old_size"], c["new_size"], d(c["old_root"]), d(c["new_root"]),
                                  [d(h) for h in c["proof"]])
        return {}
    if kind == "checkpoint":
        t = c["trust"]
        cp = crypto.verify_checkpoint(
            c["note"], origin=t["log"]["origin"], log_public=d(t["log"]["public_key"]),
            witnesses=[(w["name"], d(w["public_key"])) for w in t["witnesses"]], quorum=t["quorum"],
            max_age=t["max_age"], now=c["now"])
        return {"origin": cp.origin, "size": cp.size, "root": b64(cp.root), "revoked_count": cp.revoked_count,
                "revoked_digest": b64(cp.revoked_digest)}
    if kind == "key-proof":
        s = crypto.verify_key_proof(
            c["trust"], c["proof"], ed25519_public=d(c["ed25519_public"]),
            x25519_public=d(c["x25519_public"]) if "x25519_public" in c else None, roles=c.get("roles"),
            now=c["now"])
        return {"statement": statement_json(s)}
    if kind == "root-key-file":
        again = crypto.seal_root_key(c["passphrase"] if c["expect"] == "ok" else "correct horse battery staple",
                                     RootKey.from_seed(d(c["seed"])), opslimit=c["opslimit"],
                                     memlimit=c["memlimit"], salt=d(c["salt"]), nonce=d(c["nonce"]))
        assert again == c["file"]
        return {"public_key": b64(crypto.open_root_key(c["passphrase"], c["file"]).public)}
    raise AssertionError(f"unknown kind {kind}")


ERRORS = {"invalid-input": crypto.InvalidInput, "proof-error": crypto.ProofError,
          "decryption-failed": crypto.DecryptionFailed, "bad-signature": crypto.BadSignature}


@pytest.mark.parametrize("case", all_cases())
def test_python_reproduces_the_case(case):
    if case["expect"] == "ok":
        got = run_case(case)
        for key, value in got.items():
            assert case[key] == value, key
        return
    with pytest.raises(ERRORS[case["expect"]]) as err:
        run_case(case)
    if case["expect"] == "proof-error":
        assert err.value.reason == case["reason"]
    else:  # never a ProofError where the file says InvalidInput, and the other way round
        assert not isinstance(err.value, crypto.ProofError)


if __name__ == "__main__":
    print(json.dumps(make(), indent=2, ensure_ascii=True))
