"""Key and code transparency (crypto/PROTOCOL.md section 14): statements, the tree, notes, key proofs.

The Merkle code is checked against a naive recursive RFC 6962 MTH/PATH/PROOF written here from
the RFC's definitions, independently of the iterative code in crypto/transparency.py.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402
from crypto import (  # noqa: E402
    BadSignature, Checkpoint, Cosigner, CryptoError, DecryptionFailed, InvalidInput, MerkleTree, NoteKey,
    ProofError, RootKey, Statement, b64encode,
)

# -- a naive RFC 6962 (section 2.1) model --------------------------------------------------------


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def k_of(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return sha(b"\x00" + leaves[0])
    k = k_of(len(leaves))
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = k_of(n)
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = k_of(n)
    if m <= k:
        return subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def entries(n: int) -> list[bytes]:
    return [f"entry {i}".encode() * (1 + i % 3) for i in range(n)]


BIG = entries(70)
BIG_TREE = MerkleTree(BIG)


@pytest.mark.parametrize("size", range(71))
def test_root_matches_the_naive_mth(size):
    assert BIG_TREE.root(size) == mth(BIG[:size])
    assert MerkleTree(BIG[:size]).root() == mth(BIG[:size])
    assert crypto.root_from_leaf_hashes([crypto.leaf_hash(e) for e in BIG[:size]]) == mth(BIG[:size])


def test_empty_tree_and_hash_helpers():
    assert MerkleTree().root() == sha(b"") == crypto.EMPTY_ROOT
    assert crypto.leaf_hash(b"x") == sha(b"\x00x")
    a, b = sha(b"a"), sha(b"b")
    assert crypto.node_hash(a, b) == sha(b"\x01" + a + b)
    with pytest.raises(InvalidInput):
        crypto.node_hash(a, b"short")


@pytest.mark.parametrize("size", range(1, 40))
def test_every_inclusion_proof_matches_and_verifies(size):
    root = BIG_TREE.root(size)
    for index in range(size):
        proof = BIG_TREE.inclusion_proof(index, size)
        assert proof == path(index, BIG[:size])
        leaf = crypto.leaf_hash(BIG[index])
        crypto.verify_inclusion(leaf, index, size, proof, root)
        # every alteration fails: another index, another size, an altered hash, a hash more or less
        for other in {index - 1, index + 1} - {-1, size}:
            with pytest.raises(ProofError):
                crypto.verify_inclusion(leaf, other, size, proof, root)
        # another tree size with that size's root (a proof that happens to be valid there too is skipped)
        for other_size in {size - 1, size + 1} - {index}:
            if path(index, BIG[:other_size]) != proof:
                with pytest.raises(ProofError):
                    crypto.verify_inclusion(leaf, index, other_size, proof, BIG_TREE.root(other_size))
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
            with pytest.raises(ProofError):
                crypto.verify_inclusion(leaf, index, size, bad, root)
        with pytest.raises(ProofError):
            crypto.verify_inclusion(leaf, index, size, proof + [sha(b"x")], root)
        if proof:
            with pytest.raises(ProofError):
                crypto.verify_inclusion(leaf, index, size, proof[:-1], root)
        with pytest.raises(ProofError):
            crypto.verify_inclusion(crypto.leaf_hash(b"other"), index, size, proof, root)


@pytest.mark.parametrize("new", range(1, 34))
def test_every_consistency_proof_matches_and_verifies(new):
    new_root = BIG_TREE.root(new)
    for old in range(0, new + 1):
        proof = BIG_TREE.consistency_proof(old, new)
        expected = [] if old in (0, new) else subproof(old, BIG[:new], True)
        assert proof == expected
        old_root = BIG_TREE.root(old)
        crypto.verify_consistency(old, new, old_root, new_root, proof)
        if old:  # every tree extends the empty one
            with pytest.raises(ProofError):
                crypto.verify_consistency(old, new, old_root, sha(b"x"), proof)
            with pytest.raises(ProofError):
                crypto.verify_consistency(old, new, sha(b"x"), new_root, proof)
        if 0 < old < new:
            for i in range(len(proof)):
                bad = list(proof)
                bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
                with pytest.raises(ProofError):
                    crypto.verify_consistency(old, new, old_root, new_root, bad)
            if subproof(old, BIG[:new + 1], True) != proof:
                with pytest.raises(ProofError):
                    crypto.verify_consistency(old, new + 1, old_root, BIG_TREE.root(new + 1), proof)
            with pytest.raises(ProofError):
                crypto.verify_consistency(old, new, old_root, new_root, proof + [sha(b"x")])
            with pytest.raises(ProofError):
                crypto.verify_consistency(old, new, old_root, new_root, proof[:-1])
            if old > 1 and (old - 1 == new or subproof(old - 1, BIG[:new], True) != proof):
                with pytest.raises(ProofError):
                    crypto.verify_consistency(old - 1, new, BIG_TREE.root(old - 1), new_root, proof)


def test_consistency_refuses_a_shrinking_tree():
    with pytest.raises(ProofError):
        crypto.verify_consistency(5, 4, BIG_TREE.root(5), BIG_TREE.root(4), [])


def test_tiles_are_the_tlog_tiles_hashes():
    tree = MerkleTree(entries(600))
    leaves = [crypto.leaf_hash(e) for e in entries(600)]
    assert tree.tile(0, 0) == b"".join(leaves[:256])
    assert tree.tile(0, 2, 88) == b"".join(leaves[512:600])
    with pytest.raises(InvalidInput):
        tree.tile(0, 2, 89)
    # level 1: the hash of each full level-0 tile (256 leaves)
    assert tree.tile(1, 0, 2) == mth(entries(600)[:256]) + mth(entries(600)[256:512])
    with pytest.raises(InvalidInput):
        tree.tile(1, 0, 3)


def test_entry_bundles_round_trip_and_refuse_garbage():
    items = [b"a", b"bc" * 100, bytes(4096)]
    bundle = crypto.encode_entry_bundle(items)
    assert crypto.parse_entry_bundle(bundle) == items
    for bad in (bundle[:-1], b"\x00", b"\x00\x00", b"\x10\x01" + bytes(4097)):
        with pytest.raises(InvalidInput):
            crypto.parse_entry_bundle(bad)


def test_revoked_digest_sorts_and_dedupes():
    a, b = bytes(16), b"\x01" * 16
    expected = sha(crypto.labels.LABEL_REVOKED_SET + (2).to_bytes(4, "big") + a + b)
    assert crypto.revoked_digest([b, a, b]) == expected
    assert crypto.revoked_digest([]) == sha(crypto.labels.LABEL_REVOKED_SET + bytes(4))


# -- statements -------------------------------------------------------------------------------

ROOT = RootKey.from_seed(bytes(range(32)))
ACCOUNT = bytes(range(100, 116))
X_PUB, E_PUB = b"\x11" * 32, b"\x22" * 32


def statement(**changes) -> Statement:
    base = Statement(kind=1, deployment_id="test-deployment", account_id=ACCOUNT, role="volunteer", name="Bram",
                     x25519_public=X_PUB, ed25519_public=E_PUB, not_before=1_700_000_000,
                     not_after=1_800_000_000)
    return replace(base, **changes)


def test_statement_round_trip_and_layout():
    s = statement(name="Zoë", role="mentor")
    data = crypto.encode_statement(s)
    assert crypto.decode_statement(data) == s
    assert data.startswith(b"luisterend-oor/v1/key-statement\x01\x0ftest-deployment" + ACCOUNT + b"\x02\x04Zo")
    assert data.endswith(X_PUB + E_PUB + (1_700_000_000).to_bytes(8, "big") + (1_800_000_000).to_bytes(8, "big"))
    signed, sig = crypto.sign_statement(ROOT, s)
    assert crypto.verify_statement(ROOT.public, signed, sig) == s
    with pytest.raises(BadSignature):
        crypto.verify_statement(RootKey.from_seed(bytes(32)).public, signed, sig)
    with pytest.raises(BadSignature):
        crypto.verify_statement(ROOT.public, signed, bytes([sig[0] ^ 1]) + sig[1:])


@pytest.mark.parametrize("changes", [
    {"kind": 3}, {"kind": 0}, {"kind": True},
    {"deployment_id": ""}, {"deployment_id": "d" * 65},
    {"account_id": bytes(15)}, {"role": "admin"},
    {"name": ""}, {"name": "n" * 129}, {"name": "e\u0301"},  # not NFC
    {"name": "a\nb"}, {"name": "\ud800"},
    {"x25519_public": bytes(31)}, {"ed25519_public": bytes(33)},
    {"not_before": -1}, {"not_after": 2**64}, {"not_before": 10, "not_after": 9},
    {"kind": 2},  # a revocation has not_before == not_after
])
def test_encode_statement_refuses_bad_fields(changes):
    with pytest.raises(InvalidInput):
        crypto.encode_statement(statement(**changes))


def test_statement_limits_are_inclusive():
    s = statement(deployment_id="d" * 64, name="é" * 64)  # 128 bytes of UTF-8
    assert crypto.decode_statement(crypto.encode_statement(s)) == s
    r = statement(kind=2, not_before=5, not_after=5)
    assert crypto.decode_statement(crypto.encode_statement(r)) == r


def test_decode_statement_is_strict():
    good = crypto.encode_statement(statement())
    label = len(crypto.labels.LABEL_KEY_STATEMENT)
    bad = [
        good + b"\x00",  # trailing byte
        good[:-1],  # truncated
        b"X" + good[1:],  # label
        good[:label] + b"\x03" + good[label + 1:],  # kind
        good[:label + 1] + b"\x10" + good[label + 2:],  # deployment length one too long
    ]
    role_at = label + 2 + len("test-deployment") + 16
    bad.append(good[:role_at] + b"\x05" + good[role_at + 1:])  # role
    name_at = role_at + 2
    bad.append(good[:name_at] + b"\xff" + good[name_at + 1:])  # invalid UTF-8 in the name
    nfd = good[:role_at + 1] + bytes([3]) + "e\u0301".encode() + good[name_at + 4:]
    bad.append(nfd)  # a name not in NFC
    for data in bad:
        with pytest.raises(InvalidInput):
            crypto.decode_statement(data)


def test_fingerprint_format():
    fp = crypto.fingerprint(ACCOUNT, X_PUB, E_PUB)
    digest = sha(b"luisterend-oor/v1/fingerprint" + ACCOUNT + X_PUB + E_PUB)
    digits = f"{int.from_bytes(digest[:16], 'big') % 10**30:030d}"
    assert fp == " ".join(digits[i:i + 5] for i in range(0, 30, 5))
    assert len(fp) == 35 and fp.count(" ") == 5
    assert fp != crypto.fingerprint(ACCOUNT, E_PUB, X_PUB)


def test_entries_round_trip_and_refuse_garbage():
    data, sig = crypto.sign_statement(ROOT, statement())
    entry = crypto.statement_entry(data, sig)
    decoded = crypto.decode_entry(entry)
    assert (decoded.type, decoded.statement, decoded.signature) == (1, data, sig)
    release = crypto.release_entry("test-deployment", b'{"v":1}')
    decoded = crypto.decode_entry(release)
    assert decoded.type == 2 and decoded.deployment_id == "test-deployment"
    assert decoded.manifest_hash == sha(b'{"v":1}')
    for bad in (b"", b"\x03" + entry[1:], entry[:-1], entry + b"\x00", release[:-1], release + b"\x00",
                b"\x01" * 5000):
        with pytest.raises(InvalidInput):
            crypto.decode_entry(bad)


def test_root_key_file_round_trip_and_wrong_passphrase():
    root = RootKey.generate()
    text = crypto.seal_root_key("correct horse", root, opslimit=crypto.MIN_OPSLIMIT, memlimit=crypto.MIN_MEMLIMIT)
    lines = text.split("\n")
    assert lines[0] == "luisterend-oor root key v1" and lines[1] == b64encode(root.public) and lines[3] == ""
    assert crypto.root_key_file_public(text) == root.public
    opened = crypto.open_root_key("correct horse", text)
    assert opened.public == root.public and opened.sign(b"m") == root.sign(b"m")
    # NFC: the same passphrase typed with a combining accent opens the file too
    text2 = crypto.seal_root_key("caf\u00e9", root, opslimit=1, memlimit=8192)
    assert crypto.open_root_key("cafe\u0301", text2).public == root.public
    with pytest.raises(DecryptionFailed):
        crypto.open_root_key("wrong horse", text)
    other = RootKey.generate()
    swapped = "\n".join([lines[0], b64encode(other.public), lines[2], ""])
    with pytest.raises(DecryptionFailed):
        crypto.open_root_key("correct horse", swapped)
    for bad in ("", text.replace("v1", "v2"), text + "extra\n", lines[0] + "\n" + lines[1] + "\n"):
        with pytest.raises(InvalidInput):
            crypto.open_root_key("correct horse", bad)
    with pytest.raises(InvalidInput):
        crypto.seal_root_key("", root, opslimit=1, memlimit=8192)
    assert "seed" not in repr(root) and root.public.hex() not in repr(root)


# -- notes, cosignatures, checkpoints --------------------------------------------------------------

ORIGIN = "example.test/log"
LOG = NoteKey.from_seed(ORIGIN, b"\x01" * 32)
W1 = Cosigner.from_seed("w1.example", b"\x02" * 32)
W2 = Cosigner.from_seed("w2.example", b"\x03" * 32)
NOW = 1_750_000_000


def test_a_vkey_whose_base64_holds_a_plus_parses():
    for n in range(64):  # some keys' standard base64 contains "+" (and "/"): the name never does
        key = Cosigner.from_seed("w.example", bytes([n]) * 32)
        if "+" in key.vkey().split("+", 2)[2]:
            assert crypto.parse_vkey(key.vkey()) == ("w.example", 4, key.public)
            break
    else:
        raise AssertionError("no key with a plus in its base64 among 64")


def test_key_ids_and_vkeys():
    assert LOG.key_id == sha(ORIGIN.encode() + b"\n\x01" + LOG.public)[:4]
    assert W1.key_id == sha(b"w1.example\n\x04" + W1.public)[:4]
    assert crypto.parse_vkey(LOG.vkey()) == (ORIGIN, 1, LOG.public)
    assert crypto.parse_vkey(W1.vkey()) == ("w1.example", 4, W1.public)
    name, hexid, key = W1.vkey().split("+")
    for bad in (f"{name}+00000000+{key}", f"{name}+{hexid}", f"other+{hexid}+{key}", f"a b+{hexid}+{key}"):
        with pytest.raises(InvalidInput):
            crypto.parse_vkey(bad)


def checkpoint_text(size=3, revoked=()) -> str:
    tree = MerkleTree(entries(size))
    return crypto.format_checkpoint(Checkpoint(origin=ORIGIN, size=size, root=tree.root(),
                                               revoked_count=len(set(revoked)),
                                               revoked_digest=crypto.revoked_digest(revoked)))


def verify(note, *, quorum=1, witnesses=None, now=NOW, max_age=3600, log_public=None, origin=ORIGIN):
    witnesses = [("w1.example", W1.public), ("w2.example", W2.public)] if witnesses is None else witnesses
    return crypto.verify_checkpoint(note, origin=origin, log_public=log_public or LOG.public, witnesses=witnesses,
                                    quorum=quorum, max_age=max_age, now=now)


def test_checkpoint_format_and_parse():
    text = checkpoint_text()
    lines = text.split("\n")
    assert lines[0] == ORIGIN and lines[1] == "3" and lines[3].startswith("oor-revoked 0 ") and lines[4] == ""
    cp = crypto.parse_checkpoint(text)
    assert crypto.format_checkpoint(cp) == text
    for bad in (text.replace("\n3\n", "\n03\n"), text.replace("oor-revoked", "oor-revokes"), text[:-1],
                text + "more\n", text.replace("oor-revoked 0", "oor-revoked -1"), "\n".join(lines[:3]) + "\n"):
        with pytest.raises(InvalidInput):
            crypto.parse_checkpoint(bad)


def test_note_round_trip_and_cosignatures():
    text = checkpoint_text()
    note = LOG.sign_note(text)
    assert note.startswith(text + "\n\u2014 " + ORIGIN + " ")
    parsed_text, sigs = crypto.parse_note(note)
    assert parsed_text == text and sigs[0][:2] == (ORIGIN, LOG.key_id)
    assert verify(note, quorum=0).size == 3
    with pytest.raises(ProofError) as err:
        verify(note, quorum=1)
    assert err.value.reason == "cosignatures"
    cosigned = note + W1.cosign(text, NOW - 10)
    assert verify(cosigned).size == 3
    # the same witness twice (or under a second configured name with the same key) counts once
    twice = cosigned + W1.cosign(text, NOW - 5)
    with pytest.raises(ProofError):
        verify(twice, quorum=2)
    with pytest.raises(ProofError):
        verify(cosigned, quorum=2, witnesses=[("w1.example", W1.public), ("w1.example", W1.public)])
    assert verify(cosigned + W2.cosign(text, NOW), quorum=2).size == 3


def test_checkpoint_rejects():
    text = checkpoint_text()
    note = LOG.sign_note(text) + W1.cosign(text, NOW - 10)
    cases = {
        "log-signature": [dict(log_public=NoteKey.from_seed(ORIGIN, b"\x09" * 32).public),
                          dict(note=NoteKey.from_seed(ORIGIN, b"\x09" * 32).sign_note(text) + W1.cosign(text, NOW))],
        "origin": [dict(origin="other.test/log")],
        "cosignatures": [dict(now=NOW + 3600 + 11),  # stale
                         dict(now=NOW - 10 - 601),  # too far in the future
                         dict(witnesses=[("w2.example", W2.public)]),  # unknown witness only
                         dict(witnesses=[("w1.example", W2.public)])],  # right name, other key: ignored
        "malformed": [dict(note=note.replace("\u2014", "-")), dict(note=note + "x"), dict(note="x" * 20000),
                      dict(note=note.replace("\n\n", "\n"))],
    }
    for reason, variants in cases.items():
        for variant in variants:
            kwargs = dict(variant)
            given = kwargs.pop("note", note)
            with pytest.raises(ProofError) as err:
                verify(given, **kwargs)
            assert err.value.reason == reason, (reason, variant)
    # a failing signature of a known key refuses the note, even when another one verifies
    log_line = note.split("\n")[-3]
    sig = crypto.parse_note(note)[1][0][2]
    forged = log_line.split(" ")[0] + " " + ORIGIN + " " + __import__("base64").b64encode(
        LOG.key_id + bytes([sig[0] ^ 1]) + sig[1:]).decode()
    with pytest.raises(ProofError) as err:
        verify(note + forged + "\n")
    assert err.value.reason == "log-signature"
    bad_cosig = W1.cosign(text.replace("\n3\n", "\n4\n"), NOW)
    with pytest.raises(ProofError) as err:
        verify(note + bad_cosig)
    assert err.value.reason == "cosignatures"
    # unknown signature lines are ignored
    stranger = Cosigner.from_seed("stranger", b"\x07" * 32)
    assert verify(note + stranger.cosign(text, NOW)).size == 3
    # boundaries of freshness are inclusive
    assert verify(note, now=NOW - 10 + 3600).size == 3
    assert verify(note, now=NOW - 10 - 600).size == 3


def test_parse_note_rules():
    note = LOG.sign_note("hello\n\nworld\n")
    text, sigs = crypto.parse_note(note)
    assert text == "hello\n\nworld\n" and len(sigs) == 1
    for bad in ("hello\n", "hello\n\n", "hello\n\n\u2014 a b\n", "hel\x01lo\n\n" + note.split("\n\n")[-1],
                note[:-1], "hello\n\n\u2014 a+b " + note.split(" ")[-1]):
        with pytest.raises(InvalidInput):
            crypto.parse_note(bad)
    with pytest.raises(InvalidInput):
        LOG.sign_note("no newline")


# -- key proofs ---------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return b64encode(data)


class World:
    """A log with three statements (one revoked), a cosigned checkpoint and a proof for the second."""

    def __init__(self, *, deployment="test-deployment", now=NOW, root=ROOT, not_after=NOW + 86400,
                 not_before=NOW - 100):
        self.ids = [bytes([i]) * 16 for i in (5, 6, 7)]
        self.keys = [(bytes([i]) * 32, bytes([i + 50]) * 32) for i in (1, 2, 3)]
        self.entries, self.statements = [], []
        for account, (x, e) in zip(self.ids, self.keys):
            s = statement(account_id=account, x25519_public=x, ed25519_public=e, deployment_id=deployment,
                          not_before=not_before, not_after=not_after)
            self.statements.append(s)
            self.entries.append(crypto.statement_entry(*crypto.sign_statement(root, s)))
        revocation = replace(self.statements[2], kind=2, not_before=now - 50, not_after=now - 50)
        self.entries.append(crypto.statement_entry(*crypto.sign_statement(root, revocation)))
        self.entries.append(crypto.release_entry(deployment, b"manifest"))
        self.tree = MerkleTree(self.entries)
        self.revoked = [self.ids[2]]
        self.text = crypto.format_checkpoint(Checkpoint(
            origin=ORIGIN, size=self.tree.size, root=self.tree.root(), revoked_count=1,
            revoked_digest=crypto.revoked_digest(self.revoked)))
        self.note = LOG.sign_note(self.text) + W1.cosign(self.text, now - 10)

    def proof(self, at=1, /, **changes) -> dict:
        proof = {"v": 1, "entry": b64(self.entries[at]), "index": at,
                 "path": [b64(h) for h in self.tree.inclusion_proof(at, self.tree.size)],
                 "checkpoint": self.note, "revoked": b64(b"".join(self.revoked))}
        proof.update(changes)
        return proof


TRUST = {"deployment_id": "test-deployment", "root_public_key": b64(ROOT.public),
         "log": {"origin": ORIGIN, "public_key": b64(LOG.public)},
         "witnesses": [{"name": "w1.example", "public_key": b64(W1.public)}], "quorum": 1, "max_age": 3600}


def check(proof, *, trust=TRUST, index=1, world=None, **kwargs):
    world = world or WORLD
    x, e = world.keys[index]
    options = {"ed25519_public": e, "x25519_public": x, "now": NOW, **kwargs}
    return crypto.verify_key_proof(trust, proof, **options)


WORLD = World()


def test_a_good_key_proof_verifies():
    s = check(WORLD.proof())
    assert s == WORLD.statements[1]
    assert check(WORLD.proof(), x25519_public=None) == s
    assert check(WORLD.proof(), roles=["volunteer", "mentor"]) == s
    assert check(WORLD.proof(0), index=0) == WORLD.statements[0]
    assert len(json.dumps(WORLD.proof())) < crypto.MAX_KEY_PROOF_JSON


def reason_of(proof, **kwargs) -> str:
    with pytest.raises(ProofError) as err:
        check(proof, **kwargs)
    return err.value.reason


def test_key_proof_failure_reasons():
    other_log = NoteKey.from_seed(ORIGIN, b"\x0a" * 32)
    other_root = RootKey.from_seed(b"\x0b" * 32)
    trust_other_root = {**TRUST, "root_public_key": b64(other_root.public)}
    rogue = World(root=other_root)
    small = MerkleTree(WORLD.entries[:3])
    small_text = crypto.format_checkpoint(Checkpoint(origin=ORIGIN, size=3, root=small.root(), revoked_count=1,
                                                     revoked_digest=crypto.revoked_digest(WORLD.revoked)))
    small_note = LOG.sign_note(small_text) + W1.cosign(small_text, NOW)
    expired = World(not_after=NOW - 1)
    expectations = [
        ("malformed", WORLD.proof(v=2), {}),
        ("malformed", WORLD.proof(index=True), {}),
        ("malformed", WORLD.proof(path=["x"]), {}),
        ("malformed", {**WORLD.proof(), "extra": 1}, {}),
        ("malformed", WORLD.proof(revoked=b64(bytes(15))), {}),
        ("malformed", WORLD.proof(checkpoint="x" * 20000), {}),
        ("log-signature", WORLD.proof(checkpoint=other_log.sign_note(WORLD.text) + W1.cosign(WORLD.text, NOW)), {}),
        ("cosignatures", WORLD.proof(checkpoint=LOG.sign_note(WORLD.text)), {}),
        ("cosignatures", WORLD.proof(), {"now": NOW + 3600 + 11}),
        ("cosignatures", WORLD.proof(), {"trust": {**TRUST, "witnesses": [
            {"name": "w2.example", "public_key": b64(W2.public)}]}}),
        ("origin", WORLD.proof(), {"trust": {**TRUST, "log": {"origin": "other/log", "public_key": b64(LOG.public)}}}),
        ("revoked-set", WORLD.proof(revoked=""), {}),
        ("revoked-set", WORLD.proof(revoked=b64(WORLD.ids[0])), {}),
        ("entry-type", WORLD.proof(4), {}),
        ("root-signature", WORLD.proof(), {"trust": trust_other_root}),
        ("root-signature", rogue.proof(checkpoint=WORLD.note, path=WORLD.proof()["path"]), {}),
        ("kind", WORLD.proof(3), {"index": 2}),
        ("deployment", World(deployment="other").proof(checkpoint=WORLD.note), {}),
        ("validity", expired.proof(checkpoint=WORLD.note), {}),
        ("validity", World(not_before=NOW + 611).proof(checkpoint=WORLD.note), {}),
        ("revoked", WORLD.proof(2), {"index": 2}),
        ("inclusion", WORLD.proof(path=WORLD.proof(0)["path"]), {}),
        ("inclusion", WORLD.proof(index=0), {}),
        ("inclusion", WORLD.proof(index=7), {}),
        ("inclusion", WORLD.proof(checkpoint=small_note), {}),  # a proof for another tree size
        ("keys", WORLD.proof(), {"ed25519_public": b"\x00" * 32}),
        ("keys", WORLD.proof(), {"x25519_public": b"\x00" * 32}),
        ("role", WORLD.proof(), {"roles": ["mentor"]}),
    ]
    for reason, proof, kwargs in expectations:
        assert reason_of(proof, **kwargs) == reason, (reason, kwargs)


def test_key_proof_validity_boundaries():
    # valid from not_before - 600 (clock skew) to not_after, both inclusive
    world = World(not_before=NOW + 590, not_after=NOW + 5000)
    assert check(world.proof(), world=world, now=NOW - 10) == world.statements[1]
    world = World(not_before=NOW + 591, not_after=NOW + 5000)
    with pytest.raises(ProofError) as err:
        check(world.proof(), world=world, now=NOW - 10)
    assert err.value.reason == "validity"
    world = World(not_before=NOW - 1000, not_after=NOW + 5)
    assert check(world.proof(), world=world, now=NOW + 5)
    with pytest.raises(ProofError) as err:
        check(world.proof(), world=world, now=NOW + 6)
    assert err.value.reason == "validity"


def test_roles_must_be_a_collection_not_one_string():
    # "volunteer" as a string would otherwise accept any role spelled with its letters
    assert reason_of(WORLD.proof(), roles="volunteer") == "malformed"


def test_every_refusal_is_a_crypto_error():
    assert issubclass(ProofError, CryptoError)
    with pytest.raises(ValueError):
        ProofError("no such reason")
