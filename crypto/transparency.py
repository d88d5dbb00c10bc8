"""PROTOCOL.md section 14, Key and code transparency: statements, the log's tree, checkpoints, key proofs.

- 14.1: key statements and revocations, the bytes the offline root key signs;
- 14.2: log entries, the RFC 6962 Merkle tree (an in-memory tree with inclusion and
  consistency proofs and C2SP tlog-tiles hash tiles), the RFC 9162 verification
  algorithms, entry bundles and the revoked set;
- 14.3: C2SP signed notes: the log key (Ed25519, signature type 0x01), witness
  cosignatures (cosignature/v1, type 0x04), checkpoints with the ``oor-revoked``
  extension line, vkeys;
- 14.4: the key proof a help-seeker's page checks (``verify_key_proof``, the Python
  mirror of ``web/js/crypto/transparency.js``);
- 14.5: the fingerprint compared aloud; 14.6: the root key file.

Text inside a signed note (checkpoint root, the revoked digest, signatures, vkeys)
is standard base64 with padding, as C2SP fixes it; everything else (the key proof's
JSON, the trust configuration, the root key file) is the protocol's own base64 of
section 1 (URL-safe, no padding).

SHA-256 is Python's ``hashlib`` (the log's hash, not a secret operation); Ed25519,
Argon2id and the AEAD come from ``_primitives``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable

from . import _primitives as _p
from ._checks import nfc_utf8, require_bytes, require_int
from .encoding import MAX_SAFE_INTEGER, b64decode, b64encode
from .errors import BadSignature, CryptoError, DecryptionFailed, InvalidInput, ProofError
from .labels import LABEL_FINGERPRINT, LABEL_KEY_STATEMENT, LABEL_REVOKED_SET, LABEL_ROOT_KEY_WRAP
from .params import KEY_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, KdfParams

# -- 14.1 Statements ----------------------------------------------------------------------------

ROLE_CODES = {"volunteer": 1, "mentor": 2, "partner": 3, "coordinator": 4}
_ROLE_NAMES = {code: role for role, code in ROLE_CODES.items()}
KIND_KEY, KIND_REVOCATION = 1, 2
ACCOUNT_ID_BYTES = 16
MAX_DEPLOYMENT_ID_BYTES = 64
MAX_STATEMENT_NAME_BYTES = 128
# label + kind + deployment length + account id + role + name length + keys + validity
_STATEMENT_FIXED_BYTES = len(LABEL_KEY_STATEMENT) + 1 + 1 + ACCOUNT_ID_BYTES + 1 + 1 + 2 * PUBLIC_KEY_BYTES + 16
_MAX_STATEMENT_BYTES = _STATEMENT_FIXED_BYTES + MAX_DEPLOYMENT_ID_BYTES + MAX_STATEMENT_NAME_BYTES


def _text_field(value: object, what: str, max_bytes: int) -> bytes:
    """UTF-8 of an NFC string of 1..max_bytes bytes without control characters (14.1)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a str, not {type(value).__name__}")
    raw = nfc_utf8(value, what, max_chars=max_bytes)
    if unicodedata.normalize("NFC", value) != value:
        raise InvalidInput(f"{what} must be in Unicode NFC")
    if not 1 <= len(raw) <= max_bytes:
        raise InvalidInput(f"{what} must be 1 to {max_bytes} bytes of UTF-8")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidInput(f"{what} must not contain control characters")
    return raw


def _decode_text_field(raw: bytes, what: str) -> str:
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} is not valid UTF-8") from None
    _text_field(text, what, len(raw))
    return text


@dataclass(frozen=True)
class Statement:
    """A key statement (kind 1) or a revocation (kind 2): what the root key vouches for (14.1)."""

    kind: int
    deployment_id: str
    account_id: bytes
    role: str
    name: str
    x25519_public: bytes
    ed25519_public: bytes
    not_before: int
    not_after: int


def encode_statement(s: Statement) -> bytes:
    """The statement's bytes (14.1); :class:`InvalidInput` on any field out of its range."""
    if not isinstance(s, Statement):
        raise InvalidInput("statement must be a Statement")
    kind = require_int(s.kind, "kind")
    if kind not in (KIND_KEY, KIND_REVOCATION):
        raise InvalidInput("kind must be 1 (key) or 2 (revocation)")
    deployment = _text_field(s.deployment_id, "deployment_id", MAX_DEPLOYMENT_ID_BYTES)
    account = require_bytes(s.account_id, ACCOUNT_ID_BYTES, "account_id")
    if s.role not in ROLE_CODES:
        raise InvalidInput(f"role must be one of {', '.join(ROLE_CODES)}")
    name = _text_field(s.name, "name", MAX_STATEMENT_NAME_BYTES)
    x_pub = require_bytes(s.x25519_public, PUBLIC_KEY_BYTES, "x25519_public")
    e_pub = require_bytes(s.ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
    not_before = require_int(s.not_before, "not_before")
    not_after = require_int(s.not_after, "not_after")
    # u64 on the wire, but never above 2**53-1, the largest integer a browser reads exactly (section 1)
    if not (0 <= not_before <= MAX_SAFE_INTEGER and 0 <= not_after <= MAX_SAFE_INTEGER):
        raise InvalidInput("not_before and not_after must be integers from 0 to 2**53-1")
    if not_after < not_before:
        raise InvalidInput("not_after must not be before not_before")
    if kind == KIND_REVOCATION and not_after != not_before:
        raise InvalidInput("a revocation has not_before equal to not_after (the time of signing)")
    return b"".join((
        LABEL_KEY_STATEMENT, bytes([kind]), bytes([len(deployment)]), deployment, account,
        bytes([ROLE_CODES[s.role]]), bytes([len(name)]), name, x_pub, e_pub,
        not_before.to_bytes(8, "big"), not_after.to_bytes(8, "big"),
    ))


class _Reader:
    """Consecutive fields of a byte string, each length checked."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise InvalidInput("statement is truncated")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk


def decode_statement(data: bytes) -> Statement:
    """Parse statement bytes strictly (every length checked, no trailing bytes); InvalidInput otherwise."""
    data = require_bytes(data, None, "statement")
    if not _STATEMENT_FIXED_BYTES + 2 <= len(data) <= _MAX_STATEMENT_BYTES:
        raise InvalidInput("statement has an impossible length")
    if not data.startswith(LABEL_KEY_STATEMENT):
        raise InvalidInput("not a key statement (label)")
    reader = _Reader(data, len(LABEL_KEY_STATEMENT))
    take = reader.take
    kind = take(1)[0]
    deployment = _decode_text_field(take(take(1)[0]), "deployment_id")
    account = take(ACCOUNT_ID_BYTES)
    role_code = take(1)[0]
    if role_code not in _ROLE_NAMES:
        raise InvalidInput("statement has an unknown role")
    name = _decode_text_field(take(take(1)[0]), "name")
    x_pub = take(PUBLIC_KEY_BYTES)
    e_pub = take(PUBLIC_KEY_BYTES)
    not_before = int.from_bytes(take(8), "big")
    not_after = int.from_bytes(take(8), "big")
    if reader.pos != len(data):
        raise InvalidInput("statement has trailing bytes")
    statement = Statement(kind=kind, deployment_id=deployment, account_id=account, role=_ROLE_NAMES[role_code],
                          name=name, x25519_public=x_pub, ed25519_public=e_pub,
                          not_before=not_before, not_after=not_after)
    # The encoder holds every remaining rule (kind, the lengths, the validity period); one
    # encoding per statement: what does not re-encode to the same bytes is refused.
    if encode_statement(statement) != data:
        raise InvalidInput("statement is not canonical")
    return statement


class RootKey:
    """The helpline's offline Ed25519 root key (14.1, 14.6): signs key statements and revocations.

    Lives on a coordinator's own machine, sealed by a passphrase (``seal_root_key``). The seed
    is kept private to this object; ``repr`` shows only the public key.
    """

    __slots__ = ("_seed", "public")

    def __init__(self, seed: bytes) -> None:
        self._seed = require_bytes(seed, KEY_BYTES, "root key seed")
        self.public = _p.ed25519_public_from_seed(self._seed)

    @classmethod
    def generate(cls) -> "RootKey":
        return cls(_p.random_bytes(KEY_BYTES))

    @classmethod
    def from_seed(cls, seed: bytes) -> "RootKey":
        return cls(seed)

    def sign(self, message: bytes) -> bytes:
        return _p.ed25519_sign_detached(self._seed, require_bytes(message, None, "message"))

    def __repr__(self) -> str:
        return f"RootKey(public={b64encode(self.public)})"


def sign_statement(root: RootKey, s: Statement) -> tuple[bytes, bytes]:
    """(statement bytes, 64-byte root signature) of a statement (14.1)."""
    if not isinstance(root, RootKey):
        raise InvalidInput("root must be a RootKey")
    data = encode_statement(s)
    return data, root.sign(data)


def verify_statement(root_public: bytes, statement: bytes, signature: bytes) -> Statement:
    """The decoded statement if ``signature`` is the root key's over it; BadSignature / InvalidInput."""
    key = require_bytes(root_public, PUBLIC_KEY_BYTES, "root public key")
    sig = require_bytes(signature, SIGNATURE_BYTES, "root signature")
    decoded = decode_statement(statement)
    if not _p.ed25519_verify_detached(key, statement, sig):
        raise BadSignature("the statement is not signed by this root key")
    return decoded


# -- 14.5 Fingerprint ---------------------------------------------------------------------------


def fingerprint(account_id: bytes, x25519_public: bytes, ed25519_public: bytes) -> str:
    """30 decimal digits in 6 groups of 5, compared aloud by a volunteer and a coordinator (14.5)."""
    account = require_bytes(account_id, ACCOUNT_ID_BYTES, "account_id")
    x_pub = require_bytes(x25519_public, PUBLIC_KEY_BYTES, "x25519_public")
    e_pub = require_bytes(ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
    digest = hashlib.sha256(LABEL_FINGERPRINT + account + x_pub + e_pub).digest()
    digits = f"{int.from_bytes(digest[:16], 'big') % 10**30:030d}"
    return " ".join(digits[i:i + 5] for i in range(0, 30, 5))


# -- 14.6 Root key file -------------------------------------------------------------------------

ROOT_KEY_FILE_HEADER = "luisterend-oor root key v1"
_ROOT_KEY_WRAP_VERSION = 1
_ROOT_SALT_BYTES = 16
_ROOT_BLOB_BYTES = 1 + _ROOT_SALT_BYTES + 4 + 4 + _p.AEAD_NONCE_BYTES + KEY_BYTES + _p.AEAD_TAG_BYTES  # 97
_MAX_ROOT_KEY_FILE_CHARS = 1024
_MAX_PASSPHRASE_CHARS = 4096


def _root_passphrase(passphrase: str) -> bytes:
    raw = nfc_utf8(passphrase, "passphrase", max_chars=_MAX_PASSPHRASE_CHARS)
    if not raw:
        raise InvalidInput("passphrase must not be empty")
    return raw


def seal_root_key(passphrase: str, root: RootKey, *, opslimit: int, memlimit: int,
                  salt: bytes | None = None, nonce: bytes | None = None) -> str:
    """The root key file's text (14.6): header, public key, sealed seed.

    ``salt`` and ``nonce`` exist only for reproducible vectors; leave them out.
    """
    if not isinstance(root, RootKey):
        raise InvalidInput("root must be a RootKey")
    params = KdfParams(opslimit, memlimit)
    if params.memlimit > 0xFFFFFFFF:
        raise InvalidInput("memlimit must fit in 32 bits")
    password = _root_passphrase(passphrase)
    salt = require_bytes(_p.random_bytes(_ROOT_SALT_BYTES) if salt is None else salt, _ROOT_SALT_BYTES, "salt")
    nonce = require_bytes(_p.random_bytes(_p.AEAD_NONCE_BYTES) if nonce is None else nonce,
                          _p.AEAD_NONCE_BYTES, "nonce")
    key = _p.argon2id(KEY_BYTES, password, salt, params.opslimit, params.memlimit)
    sealed = _p.aead_encrypt(key, nonce, root._seed, LABEL_ROOT_KEY_WRAP + root.public)
    blob = (bytes([_ROOT_KEY_WRAP_VERSION]) + salt + params.opslimit.to_bytes(4, "big")
            + params.memlimit.to_bytes(4, "big") + nonce + sealed)
    return f"{ROOT_KEY_FILE_HEADER}\n{b64encode(root.public)}\n{b64encode(blob)}\n"


def root_key_file_public(text: str) -> bytes:
    """The public key written in a root key file (no passphrase needed); InvalidInput if malformed."""
    return _parse_root_key_file(text)[0]


def _parse_root_key_file(text: str) -> tuple[bytes, bytes]:
    if not isinstance(text, str) or len(text) > _MAX_ROOT_KEY_FILE_CHARS:
        raise InvalidInput("not a root key file")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != 3 or lines[0] != ROOT_KEY_FILE_HEADER:
        raise InvalidInput("not a luisterend-oor root key file (v1)")
    public = b64decode(lines[1], length=PUBLIC_KEY_BYTES)
    blob = b64decode(lines[2], length=_ROOT_BLOB_BYTES)
    if blob[0] != _ROOT_KEY_WRAP_VERSION:
        raise InvalidInput(f"unknown root key file version {blob[0]}")
    return public, blob


def open_root_key(passphrase: str, text: str) -> RootKey:
    """The root key of a root key file (14.6); DecryptionFailed for a wrong passphrase or a changed file."""
    public, blob = _parse_root_key_file(text)
    password = _root_passphrase(passphrase)
    pos = 1
    salt = blob[pos:pos + _ROOT_SALT_BYTES]
    pos += _ROOT_SALT_BYTES
    params = KdfParams(int.from_bytes(blob[pos:pos + 4], "big"), int.from_bytes(blob[pos + 4:pos + 8], "big"))
    pos += 8
    nonce = blob[pos:pos + _p.AEAD_NONCE_BYTES]
    pos += _p.AEAD_NONCE_BYTES
    key = _p.argon2id(KEY_BYTES, password, salt, params.opslimit, params.memlimit)
    seed = _p.aead_decrypt(key, nonce, blob[pos:], LABEL_ROOT_KEY_WRAP + public)
    root = RootKey(seed)
    if not _p.constant_time_equal(root.public, public):
        raise DecryptionFailed("the sealed root key does not match the file's public key")
    return root


# -- 14.2 Entries, the tree, proofs -------------------------------------------------------------

ENTRY_STATEMENT, ENTRY_RELEASE = 1, 2
MAX_ENTRY_BYTES = 4096
_HASH_BYTES = 32
MAX_PROOF_HASHES = 64
EMPTY_ROOT = hashlib.sha256(b"").digest()


@dataclass(frozen=True)
class Entry:
    """A decoded log entry: a signed statement (type 1) or a release manifest hash (type 2)."""

    type: int
    statement: bytes | None = None
    signature: bytes | None = None
    deployment_id: str | None = None
    manifest_hash: bytes | None = None


def statement_entry(statement: bytes, signature: bytes) -> bytes:
    """``0x01 ‖ statement ‖ root signature``: the leaf data of a statement or revocation."""
    decode_statement(statement)
    return bytes([ENTRY_STATEMENT]) + statement + require_bytes(signature, SIGNATURE_BYTES, "signature")


def release_entry(deployment_id: str, manifest: bytes) -> bytes:
    """``0x02 ‖ u8 len ‖ deployment id ‖ SHA-256(manifest)``: the leaf data of a release (14.7)."""
    deployment = _text_field(deployment_id, "deployment_id", MAX_DEPLOYMENT_ID_BYTES)
    digest = hashlib.sha256(require_bytes(manifest, None, "manifest")).digest()
    return bytes([ENTRY_RELEASE, len(deployment)]) + deployment + digest


def decode_entry(data: bytes) -> Entry:
    """Parse a log entry strictly (at most 4096 bytes); InvalidInput otherwise. Verifies no signature."""
    data = require_bytes(data, None, "entry")
    if not 1 <= len(data) <= MAX_ENTRY_BYTES:
        raise InvalidInput(f"an entry is 1 to {MAX_ENTRY_BYTES} bytes")
    if data[0] == ENTRY_STATEMENT:
        if len(data) < 1 + SIGNATURE_BYTES:
            raise InvalidInput("statement entry is truncated")
        statement, signature = data[1:-SIGNATURE_BYTES], data[-SIGNATURE_BYTES:]
        decode_statement(statement)
        return Entry(type=ENTRY_STATEMENT, statement=statement, signature=signature)
    if data[0] == ENTRY_RELEASE:
        if len(data) < 2 or len(data) != 2 + data[1] + _HASH_BYTES:
            raise InvalidInput("release entry has the wrong length")
        deployment = _decode_text_field(data[2:2 + data[1]], "deployment_id")
        return Entry(type=ENTRY_RELEASE, deployment_id=deployment, manifest_hash=data[2 + data[1]:])
    raise InvalidInput(f"unknown entry type {data[0]}")


def leaf_hash(entry: bytes) -> bytes:
    """RFC 6962 leaf hash ``SHA-256(0x00 ‖ entry)``."""
    return hashlib.sha256(b"\x00" + require_bytes(entry, None, "entry")).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash ``SHA-256(0x01 ‖ left ‖ right)``."""
    return hashlib.sha256(b"\x01" + require_bytes(left, _HASH_BYTES, "left") +
                          require_bytes(right, _HASH_BYTES, "right")).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only RFC 6962 Merkle tree in memory, with proofs and tlog-tiles hash tiles (14.2).

    Keeps the hash of every complete, aligned subtree (level k holds the subtrees of 2**k
    leaves), so any root, proof or tile takes O(log n) hashes (O(log² n) for proofs of
    ragged right edges).
    """

    def __init__(self, entries: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for entry in entries:
            self.append(entry)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, entry: bytes) -> int:
        """Add an entry (its leaf hash); returns its index."""
        return self.append_leaf_hash(leaf_hash(entry))

    def append_leaf_hash(self, leaf: bytes) -> int:
        """Add a leaf by its hash (for a tree rebuilt from level-0 tiles); returns its index."""
        current = require_bytes(leaf, _HASH_BYTES, "leaf hash")
        index = self.size
        self._levels[0].append(current)
        level, position = 0, index
        while position & 1:  # a right child completes its parent
            parent = _node(self._levels[level][position - 1], current)
            level += 1
            position >>= 1
            if len(self._levels) == level:
                self._levels.append([])
            self._levels[level].append(parent)
            current = parent
        return index

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for the ranges RFC 6962's recursion visits."""
        n = end - start
        if n == 1:
            return self._levels[0][start]
        if n & (n - 1) == 0 and start % n == 0:
            return self._levels[n.bit_length() - 1][start // n]
        k = _split(n)
        return _node(self._subtree(start, start + k), self._subtree(start + k, end))

    def _check_size(self, size: int, what: str = "size") -> int:
        size = require_int(size, what)
        if not 0 <= size <= self.size:
            raise InvalidInput(f"{what} must be between 0 and the tree size {self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """The RFC 6962 root of the first ``size`` leaves (all by default; empty: SHA-256 of nothing)."""
        size = self.size if size is None else self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:size]), leaf side first."""
        size = self._check_size(size)
        index = require_int(index, "index")
        if not 0 <= index < size:
            raise InvalidInput("index must be below size")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:  # walk down, collecting siblings; reversed at the end
            k = _split(end - start)
            if index < start + k:
                path.append(self._subtree(start + k, end))
                end = start + k
            else:
                path.append(self._subtree(start, start + k))
                start += k
        return path[::-1]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 6962 PROOF(old_size, D[0:new_size]); empty when old_size is 0 or equals new_size."""
        new_size = self._check_size(new_size, "new_size")
        old_size = require_int(old_size, "old_size")
        if not 0 <= old_size <= new_size:
            raise InvalidInput("old_size must be between 0 and new_size")
        if old_size == 0 or old_size == new_size:
            return []
        proof: list[bytes] = []
        start, end, complete = 0, new_size, True
        m = old_size
        while True:  # SUBPROOF(m, D[start:end], complete), iteratively
            n = end - start
            if m == n:
                if not complete:
                    proof.append(self._subtree(start, end))
                break
            k = _split(n)
            if m <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start, m, complete = start + k, m - k, False
        return proof[::-1]

    def tile(self, level: int, index: int, width: int = 256) -> bytes:
        """The C2SP tlog-tiles hash tile ``<level>/<index>`` of ``width`` hashes (256: full, else partial)."""
        level = require_int(level, "level")
        index = require_int(index, "index")
        width = require_int(width, "width")
        if not 0 <= level <= 63 or index < 0 or not 1 <= width <= 256:
            raise InvalidInput("tile level 0..63, index >= 0, width 1..256")
        height = 8 * level
        first = index * 256
        if height >= len(self._levels) or first + width > len(self._levels[height]):
            raise InvalidInput("the tree does not hold that tile")
        return b"".join(self._levels[height][first:first + width])


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """The RFC 6962 root of a whole list of leaf hashes (a monitor re-computing a checkpoint)."""
    tree = MerkleTree()
    for leaf in hashes:
        tree.append_leaf_hash(leaf)
    return tree.root()


def _proof_hashes(path: object, what: str) -> list[bytes]:
    if not isinstance(path, (list, tuple)) or len(path) > MAX_PROOF_HASHES:
        raise ProofError("malformed", f"{what} must be a list of at most {MAX_PROOF_HASHES} hashes")
    hashes = []
    for item in path:
        if isinstance(item, bytearray):
            item = bytes(item)
        if not isinstance(item, bytes) or len(item) != _HASH_BYTES:
            raise ProofError("malformed", f"every hash of the {what} is {_HASH_BYTES} bytes")
        hashes.append(item)
    return hashes


def _proof_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise ProofError("malformed", f"{what} must be an integer from 0 to 2**53-1")
    return value


def _proof_hash(value: object, what: str) -> bytes:
    if isinstance(value, bytearray):
        value = bytes(value)
    if not isinstance(value, bytes) or len(value) != _HASH_BYTES:
        raise ProofError("malformed", f"{what} must be {_HASH_BYTES} bytes")
    return value


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> None:
    """RFC 9162 2.1.3.2: ProofError unless ``path`` proves leaf hash ``leaf`` at ``index`` in ``root``.

    ``leaf`` is the leaf *hash* (``leaf_hash(entry)``), 32 bytes.
    """
    r = _proof_hash(leaf, "leaf hash")
    index = _proof_int(index, "index")
    size = _proof_int(size, "size")
    hashes = _proof_hashes(path, "inclusion proof")
    root = _proof_hash(root, "root")
    if index >= size:
        raise ProofError("inclusion", "the index is not below the tree size")
    fn, sn = index, size - 1
    for p in hashes:
        if sn == 0:
            raise ProofError("inclusion", "the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or not _p.constant_time_equal(r, root):
        raise ProofError("inclusion", "the inclusion proof does not lead to the root")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> None:
    """RFC 9162 2.1.4.2: ProofError unless ``proof`` shows the tree ``old_root`` is a prefix of ``new_root``.

    Equal sizes need an empty proof and equal roots; from the empty tree (size 0, whose
    root is SHA-256 of nothing) every tree is consistent with an empty proof.
    """
    old_size = _proof_int(old_size, "old_size")
    new_size = _proof_int(new_size, "new_size")
    old_root = _proof_hash(old_root, "old root")
    new_root = _proof_hash(new_root, "new root")
    hashes = _proof_hashes(proof, "consistency proof")
    if old_size > new_size:
        raise ProofError("consistency", "the old tree is larger than the new one")
    if old_size == new_size:
        if hashes or not _p.constant_time_equal(old_root, new_root):
            raise ProofError("consistency", "equal sizes need an empty proof and equal roots")
        return
    if old_size == 0:
        if hashes or not _p.constant_time_equal(old_root, EMPTY_ROOT):
            raise ProofError("consistency", "from the empty tree the proof is empty")
        return
    if not hashes:
        raise ProofError("consistency", "the consistency proof is empty")
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        hashes = [old_root, *hashes]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            raise ProofError("consistency", "the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or not (_p.constant_time_equal(fr, old_root) & _p.constant_time_equal(sr, new_root)):
        raise ProofError("consistency", "the consistency proof does not hold")


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """A C2SP tlog-tiles entry bundle: ``u16be length ‖ entry``, repeated."""
    out = []
    for entry in entries:
        entry = require_bytes(entry, None, "entry")
        if not 1 <= len(entry) <= MAX_ENTRY_BYTES:
            raise InvalidInput(f"an entry is 1 to {MAX_ENTRY_BYTES} bytes")
        out.append(len(entry).to_bytes(2, "big") + entry)
    return b"".join(out)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle (at most 256 of at most 4096 bytes); InvalidInput otherwise."""
    data = require_bytes(data, None, "entry bundle")
    if len(data) > 256 * (2 + MAX_ENTRY_BYTES):
        raise InvalidInput("entry bundle is too large")
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise InvalidInput("entry bundle is truncated")
        n = int.from_bytes(data[pos:pos + 2], "big")
        if not 1 <= n <= MAX_ENTRY_BYTES or pos + 2 + n > len(data) or len(entries) == 256:
            raise InvalidInput("entry bundle has a malformed entry")
        entries.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    return entries


def revoked_digest(ids: Iterable[bytes]) -> bytes:
    """SHA-256(LABEL_REVOKED_SET ‖ u32be count ‖ ids sorted and unique): the extension line's digest."""
    unique = sorted({require_bytes(i, ACCOUNT_ID_BYTES, "account id") for i in ids})
    if len(unique) > 0xFFFFFFFF:
        raise InvalidInput("too many revoked ids")
    return hashlib.sha256(LABEL_REVOKED_SET + len(unique).to_bytes(4, "big") + b"".join(unique)).digest()


# -- 14.3 Signed notes, cosignatures, checkpoints -----------------------------------------------

NOTE_ALG_ED25519 = 0x01
NOTE_ALG_COSIGNATURE_V1 = 0x04
MAX_NOTE_BYTES = 16384
MAX_CLOCK_SKEW = 600  # seconds a cosignature's timestamp may lie in the future
_I64_MAX = 2**63 - 1


def _std_b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_STD_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _std_b64decode(text: str, what: str) -> bytes:
    """Standard base64 with padding (RFC 4648 section 4), canonical only."""
    if not _STD_B64.fullmatch(text):
        raise InvalidInput(f"{what} is not standard base64")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise InvalidInput(f"{what} is not standard base64") from None
    if _std_b64encode(data) != text:
        raise InvalidInput(f"{what} is not canonical base64")
    return data


# What a key name (and a checkpoint origin) must not contain: controls, the space, DEL to NBSP,
# every other Unicode space (Zs, the line and paragraph separators, NEL, the BOM) and the plus.
# An explicit list, so that Python and JavaScript refuse exactly the same names.
_NAME_FORBIDDEN = re.compile("[\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff+]")
_MAX_KEY_NAME_BYTES = 256


def _check_key_name(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > _MAX_KEY_NAME_BYTES:
        raise InvalidInput("a key name is a non-empty string of at most 256 bytes")
    if _NAME_FORBIDDEN.search(name):
        raise InvalidInput("a key name has no spaces, no plus and no control characters")
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("a key name is not valid Unicode") from None
    if len(raw) > _MAX_KEY_NAME_BYTES:
        raise InvalidInput("a key name is a non-empty string of at most 256 bytes")
    return name


def note_key_id(name: str, alg: int, public: bytes) -> bytes:
    """signed-note key id: ``SHA-256(name ‖ 0x0A ‖ alg ‖ public key)[:4]``."""
    name = _check_key_name(name)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + require_bytes(public, None, "public key")
                          ).digest()[:4]


def _check_note_text(text: object) -> str:
    if not isinstance(text, str):
        raise InvalidInput("note text must be a str")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("note text is not valid Unicode") from None
    if len(raw) > MAX_NOTE_BYTES or not text.endswith("\n"):
        raise InvalidInput("note text ends in a newline and is at most 16 KiB")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise InvalidInput("note text has a control character")
    return text


class _Ed25519Signer:
    __slots__ = ("name", "_seed", "public", "key_id")
    _ALG = 0

    def __init__(self, name: str, seed: bytes) -> None:
        self.name = _check_key_name(name)
        self._seed = require_bytes(seed, KEY_BYTES, "seed")
        self.public = _p.ed25519_public_from_seed(self._seed)
        self.key_id = note_key_id(self.name, self._ALG, self.public)

    @classmethod
    def generate(cls, name: str):
        return cls(name, _p.random_bytes(KEY_BYTES))

    @classmethod
    def from_seed(cls, name: str, seed: bytes):
        return cls(name, seed)

    @property
    def seed(self) -> bytes:
        """The 32-byte Ed25519 seed, for the key file of whoever runs this key (the log, a witness)."""
        return self._seed

    def vkey(self) -> str:
        """``<name>+<hex key id>+<base64(alg ‖ public key)>`` (signed-note verifier key)."""
        return f"{self.name}+{self.key_id.hex()}+{_std_b64encode(bytes([self._ALG]) + self.public)}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey()})"


class NoteKey(_Ed25519Signer):
    """A signed-note Ed25519 signer (type 0x01): the log's checkpoint key, named by the origin (14.3)."""

    __slots__ = ()
    _ALG = NOTE_ALG_ED25519

    def sign_note(self, text: str) -> str:
        """The signed note: ``text``, a blank line and this key's signature line."""
        text = _check_note_text(text)
        signature = _p.ed25519_sign_detached(self._seed, text.encode("utf-8"))
        return f"{text}\n\u2014 {self.name} {_std_b64encode(self.key_id + signature)}\n"


def _cosignature_message(note_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode("ascii") + note_text.encode("utf-8")


class Cosigner(_Ed25519Signer):
    """A witness key: C2SP tlog-cosignature cosignature/v1 (Ed25519, type 0x04) (14.3)."""

    __slots__ = ()
    _ALG = NOTE_ALG_COSIGNATURE_V1

    def cosign(self, note_text: str, timestamp: int) -> str:
        """One signature line (ending in a newline) to append to the signed note of ``note_text``."""
        text = _check_note_text(note_text)
        timestamp = require_int(timestamp, "timestamp")
        if not 0 <= timestamp <= _I64_MAX:
            raise InvalidInput("timestamp must be between 0 and 2**63-1")
        signature = _p.ed25519_sign_detached(self._seed, _cosignature_message(text, timestamp))
        blob = self.key_id + timestamp.to_bytes(8, "big") + signature
        return f"\u2014 {self.name} {_std_b64encode(blob)}\n"


def parse_vkey(vkey: str) -> tuple[str, int, bytes]:
    """(name, signature type, public key) of an Ed25519 (0x01) or cosignature/v1 (0x04) vkey."""
    if not isinstance(vkey, str) or len(vkey) > 512:
        raise InvalidInput("not a vkey")
    parts = vkey.split("+", 2)  # the name and the hex id hold no plus; standard base64 may
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise InvalidInput("a vkey is <name>+<hex key id>+<base64 key>")
    name = _check_key_name(parts[0])
    material = _std_b64decode(parts[2], "vkey key")
    if len(material) != 1 + PUBLIC_KEY_BYTES or material[0] not in (NOTE_ALG_ED25519, NOTE_ALG_COSIGNATURE_V1):
        raise InvalidInput("only Ed25519 (0x01) and cosignature/v1 (0x04) vkeys are supported")
    alg, public = material[0], material[1:]
    if note_key_id(name, alg, public).hex() != parts[1]:
        raise InvalidInput("the vkey's key id does not match its name and key")
    return name, alg, public


def parse_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """(text, [(key name, key id, signature bytes)]) of a signed note; InvalidInput if malformed.

    Verifies nothing. At most 16 KiB; the text ends at the note's last blank line.
    """
    if not isinstance(note, str):
        raise InvalidInput("a note must be a str")
    if len(note) > MAX_NOTE_BYTES:  # characters: a cap before anything else is done
        raise InvalidInput("note is larger than 16 KiB")
    try:
        raw = note.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("note is not valid Unicode") from None
    if len(raw) > MAX_NOTE_BYTES:
        raise InvalidInput("note is larger than 16 KiB")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise InvalidInput("note has a control character")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise InvalidInput("note has no signatures")
    text, block = note[:split + 1], note[split + 2:]
    if not block:
        raise InvalidInput("note has no signatures")
    signatures = []
    for line in block[:-1].split("\n"):
        parts = line[2:].split(" ")
        if not line.startswith("\u2014 ") or len(parts) != 2:
            raise InvalidInput("malformed signature line")
        name = _check_key_name(parts[0])
        blob = _std_b64decode(parts[1], "signature")
        if len(blob) < 5:
            raise InvalidInput("a signature is a key id and at least one byte")
        signatures.append((name, blob[:4], blob[4:]))
    return text, signatures


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint with the ``oor-revoked`` extension line (14.3)."""

    origin: str
    size: int
    root: bytes
    revoked_count: int
    revoked_digest: bytes


_DECIMAL = re.compile(r"0|[1-9][0-9]{0,15}")


def format_checkpoint(cp: Checkpoint) -> str:
    """The checkpoint's note text (4 lines, each ending in a newline), unsigned."""
    if not isinstance(cp, Checkpoint):
        raise InvalidInput("checkpoint must be a Checkpoint")
    origin = _check_key_name(cp.origin)
    for value, what in ((cp.size, "size"), (cp.revoked_count, "revoked count")):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INTEGER:
            raise InvalidInput(f"{what} must be an integer from 0 to 2**53-1")
    root = require_bytes(cp.root, _HASH_BYTES, "root")
    digest = require_bytes(cp.revoked_digest, _HASH_BYTES, "revoked digest")
    return (f"{origin}\n{cp.size}\n{_std_b64encode(root)}\n"
            f"oor-revoked {cp.revoked_count} {_std_b64encode(digest)}\n")


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint's note text strictly (exactly the 4 lines format_checkpoint writes)."""
    _check_note_text(text)
    lines = text[:-1].split("\n")
    if len(lines) != 4:
        raise InvalidInput("a checkpoint has origin, size, root and the oor-revoked line")
    origin, size, root, extension = lines
    origin = _check_key_name(origin)
    if not _DECIMAL.fullmatch(size) or int(size) > MAX_SAFE_INTEGER:
        raise InvalidInput("malformed tree size")
    words = extension.split(" ")
    if len(words) != 3 or words[0] != "oor-revoked" or not _DECIMAL.fullmatch(words[1]) \
            or int(words[1]) > MAX_SAFE_INTEGER:
        raise InvalidInput("malformed oor-revoked line")
    root_hash = _std_b64decode(root, "root")
    digest = _std_b64decode(words[2], "revoked digest")
    if len(root_hash) != _HASH_BYTES or len(digest) != _HASH_BYTES:
        raise InvalidInput("root and revoked digest are 32 bytes")
    return Checkpoint(origin=origin, size=int(size), root=root_hash, revoked_count=int(words[1]),
                      revoked_digest=digest)


def verify_checkpoint(note: str, *, origin: str, log_public: bytes, witnesses: list[tuple[str, bytes]],
                      quorum: int, max_age: int, now: int) -> Checkpoint:
    """The checkpoint of ``note`` if the log key signed it and ``quorum`` fresh witnesses cosigned it.

    ProofError (reason ``malformed``, ``origin``, ``log-signature`` or ``cosignatures``) unless:
    the note parses; its origin is ``origin``; a signature line of the log key (name = origin,
    signed-note Ed25519 key id) verifies and none fails; at least ``quorum`` distinct
    configured witnesses (distinct public keys) have a verifying cosignature/v1 line whose
    timestamp lies in ``[now - max_age, now + 600]``. A configured witness whose line fails to
    verify refuses the note. Lines of unknown keys are ignored (signed-note rule).
    """
    try:
        log_key = require_bytes(log_public, PUBLIC_KEY_BYTES, "log public key")
        origin = _check_key_name(origin)
        quorum, max_age, now = (require_int(v, w) for v, w in ((quorum, "quorum"), (max_age, "max_age"),
                                                               (now, "now")))
        if quorum < 0 or max_age < 0:
            raise InvalidInput("quorum and max_age are not negative")
        configured = []
        for item in witnesses:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise InvalidInput("a witness is (name, public key)")
            name = _check_key_name(item[0])
            public = require_bytes(item[1], PUBLIC_KEY_BYTES, "witness public key")
            configured.append((name, note_key_id(name, NOTE_ALG_COSIGNATURE_V1, public), public))
        text, signatures = parse_note(note)
        checkpoint = parse_checkpoint(text)
    except InvalidInput as exc:
        raise ProofError("malformed", str(exc)) from None
    if checkpoint.origin != origin:
        raise ProofError("origin", "the checkpoint is of another log")
    log_id = note_key_id(origin, NOTE_ALG_ED25519, log_key)
    message = text.encode("utf-8")
    signed = False
    for name, key_id, sig in signatures:
        if name == origin and key_id == log_id:
            if len(sig) != SIGNATURE_BYTES or not _p.ed25519_verify_detached(log_key, message, sig):
                raise ProofError("log-signature", "the log key's signature does not verify")
            signed = True
    if not signed:
        raise ProofError("log-signature", "the checkpoint is not signed by the log key")
    fresh: set[bytes] = set()
    for w_name, w_id, w_public in configured:
        for name, key_id, sig in signatures:
            if name != w_name or key_id != w_id:
                continue
            if len(sig) != 8 + SIGNATURE_BYTES:
                raise ProofError("cosignatures", f"malformed cosignature of {w_name}")
            timestamp = int.from_bytes(sig[:8], "big")
            if timestamp > _I64_MAX or not _p.ed25519_verify_detached(
                    w_public, _cosignature_message(text, timestamp), sig[8:]):
                raise ProofError("cosignatures", f"the cosignature of {w_name} does not verify")
            if now - max_age <= timestamp <= now + MAX_CLOCK_SKEW:
                fresh.add(w_public)
    if len(fresh) < quorum:
        raise ProofError("cosignatures", f"{len(fresh)} fresh witness cosignatures, {quorum} required")
    return checkpoint


# -- 14.4 Key proofs ----------------------------------------------------------------------------

KEY_PROOF_VERSION = 1
MAX_KEY_PROOF_JSON = 16384
_PROOF_FIELDS = frozenset(("v", "entry", "index", "path", "checkpoint", "revoked"))


def _trust_fields(trust: object) -> tuple[str, bytes, str, bytes, list[tuple[str, bytes]], int, int]:
    if not isinstance(trust, dict):
        raise InvalidInput("trust must be a dict")
    log = trust.get("log")
    witnesses = trust.get("witnesses")
    if not isinstance(log, dict) or not isinstance(witnesses, list) or len(witnesses) > 64:
        raise InvalidInput("trust needs log and witnesses")
    configured = []
    for w in witnesses:
        if not isinstance(w, dict):
            raise InvalidInput("a witness is {name, public_key}")
        configured.append((_check_key_name(w.get("name")), b64decode(w.get("public_key"), length=PUBLIC_KEY_BYTES)))
    deployment = trust.get("deployment_id")
    if not isinstance(deployment, str):
        raise InvalidInput("trust needs deployment_id")
    return (deployment, b64decode(trust.get("root_public_key"), length=PUBLIC_KEY_BYTES),
            _check_key_name(log.get("origin")), b64decode(log.get("public_key"), length=PUBLIC_KEY_BYTES),
            configured, require_int(trust.get("quorum"), "quorum"), require_int(trust.get("max_age"), "max_age"))


def verify_key_proof(trust: dict, proof: dict, *, ed25519_public: bytes, x25519_public: bytes | None = None,
                     roles: Iterable[str] | None = None, now: int) -> Statement:
    """The statement a key proof proves for these keys, or ProofError (14.4; what a page MUST check).

    ``trust`` is the trust configuration (``/js/trust.js``), ``proof`` the key proof's JSON
    object. Every failure is a :class:`ProofError`; its ``reason`` names the check.
    """
    try:
        deployment, root_public, origin, log_public, witnesses, quorum, max_age = _trust_fields(trust)
        e_pub = require_bytes(ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
        x_pub = None if x25519_public is None else require_bytes(x25519_public, PUBLIC_KEY_BYTES, "x25519_public")
        now = require_int(now, "now")
        if isinstance(roles, (str, bytes)):
            raise InvalidInput("roles is a collection of role names, not one string")
        wanted_roles = None if roles is None else set(roles)
        if not isinstance(proof, dict) or set(proof) != _PROOF_FIELDS or type(proof["v"]) is not int \
                or proof["v"] != KEY_PROOF_VERSION:
            raise InvalidInput("a key proof is {v: 1, entry, index, path, checkpoint, revoked}")
        entry_b64, path_b64, note, revoked_b64 = proof["entry"], proof["path"], proof["checkpoint"], proof["revoked"]
        if not (isinstance(entry_b64, str) and isinstance(note, str) and isinstance(revoked_b64, str)
                and isinstance(path_b64, list)):
            raise InvalidInput("key proof fields have the wrong types")
        if len(entry_b64) + len(note) + len(revoked_b64) + 44 * len(path_b64) > MAX_KEY_PROOF_JSON \
                or len(path_b64) > MAX_PROOF_HASHES:
            raise InvalidInput("key proof is too large")
        index = _proof_int(proof["index"], "index")
        path = [b64decode(h, length=_HASH_BYTES) for h in path_b64]
        entry = b64decode(entry_b64)
        revoked = b64decode(revoked_b64)
        if len(revoked) % ACCOUNT_ID_BYTES:
            raise InvalidInput("revoked ids are 16 bytes each")
        revoked_ids = [revoked[i:i + ACCOUNT_ID_BYTES] for i in range(0, len(revoked), ACCOUNT_ID_BYTES)]
        if any(a >= b for a, b in zip(revoked_ids, revoked_ids[1:])):
            raise InvalidInput("revoked ids must be sorted and unique")
        decoded = decode_entry(entry)
    except ProofError:
        raise
    except (InvalidInput, KeyError, TypeError) as exc:
        raise ProofError("malformed", str(exc)) from None

    checkpoint = verify_checkpoint(note, origin=origin, log_public=log_public, witnesses=witnesses,
                                   quorum=quorum, max_age=max_age, now=now)
    if checkpoint.revoked_count != len(revoked_ids) or not _p.constant_time_equal(
            revoked_digest(revoked_ids), checkpoint.revoked_digest):
        raise ProofError("revoked-set", "the revoked ids are not the checkpoint's")
    if decoded.type != ENTRY_STATEMENT:
        raise ProofError("entry-type", "the entry is not a key statement")
    try:
        statement = verify_statement(root_public, decoded.statement, decoded.signature)
    except CryptoError:
        raise ProofError("root-signature", "the statement is not signed by the root key") from None
    if statement.kind != KIND_KEY:
        raise ProofError("kind", "the statement is a revocation")
    if statement.deployment_id != deployment:
        raise ProofError("deployment", "the statement is for another deployment")
    if not statement.not_before - MAX_CLOCK_SKEW <= now <= statement.not_after:
        raise ProofError("validity", "the statement is not valid now")
    if statement.account_id in set(revoked_ids):
        raise ProofError("revoked", "the account is revoked")
    if index >= checkpoint.size:
        raise ProofError("inclusion", "the index is not in the checkpoint's tree")
    verify_inclusion(leaf_hash(entry), index, checkpoint.size, path, checkpoint.root)
    if not _p.constant_time_equal(statement.ed25519_public, e_pub) or (
            x_pub is not None and not _p.constant_time_equal(statement.x25519_public, x_pub)):
        raise ProofError("keys", "the statement is for other keys")
    if wanted_roles is not None and statement.role not in wanted_roles:
        raise ProofError("role", "the statement's role is not accepted here")
    return statement


