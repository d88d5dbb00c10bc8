// PROTOCOL.md section 14, Key and code transparency (crypto/transparency.py), verify only:
// - 14.1: key statements (decodeStatement) and their root signature;
// - 14.2: log entries, RFC 6962 leaf and node hashes, the RFC 9162 inclusion and
//   consistency verification, the root of a list of leaf hashes, entry bundles,
//   the revoked set;
// - 14.3: C2SP signed notes, checkpoints with the `oor-revoked` line, the log key's
//   Ed25519 signature and the witnesses' cosignature/v1 lines;
// - 14.4: the key proof a help-seeker's page checks before it encrypts a byte
//   (verifyKeyProof); 14.5: the fingerprint compared aloud.
//
// Nothing here signs: the browser only checks. Text inside a signed note is standard
// base64 with padding (C2SP); the key proof's JSON and the trust configuration use the
// protocol's base64 (section 1). Sizes and counts are Numbers up to 2^53 - 1, and no
// bitwise operator touches them (those are 32-bit in JavaScript).

import { constantTimeEqual, fromStandardBase64, sha256, toStandardBase64, verifySignature } from "./_primitives.js";
import { b64decode, decodeText } from "./encoding.js";
import { CryptoError, InvalidInput, ProofError } from "./errors.js";
import { LABELS } from "./labels.js";
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "./params.js";
import { concatBytes, hasLoneSurrogate, labelBytes, requireBytes } from "./_checks.js";

export const ROLE_CODES = Object.freeze({ volunteer: 1, mentor: 2, partner: 3, coordinator: 4 });
const ROLE_NAMES = Object.freeze({ 1: "volunteer", 2: "mentor", 3: "partner", 4: "coordinator" });
export const KIND_KEY = 1;
export const KIND_REVOCATION = 2;
export const ACCOUNT_ID_BYTES = 16;
export const ENTRY_STATEMENT = 1;
export const ENTRY_RELEASE = 2;
export const MAX_ENTRY_BYTES = 4096;
export const MAX_NOTE_BYTES = 16384;
export const MAX_PROOF_HASHES = 64;
export const MAX_KEY_PROOF_JSON = 16384;
export const KEY_PROOF_VERSION = 1;
const MAX_DEPLOYMENT_ID_BYTES = 64;
const MAX_STATEMENT_NAME_BYTES = 128;
const HASH_BYTES = 32;
const CLOCK_SKEW = 600; // seconds a cosignature may lie in the future, and a statement start early
const ALG_ED25519 = 0x01;
const ALG_COSIGNATURE_V1 = 0x04;
const MAX_KEY_NAME_BYTES = 256;
const I64_MAX = (1n << 63n) - 1n;
const STATEMENT_FIXED_BYTES = LABELS.KEY_STATEMENT.length + 1 + 1 + ACCOUNT_ID_BYTES + 1 + 1 + 2 * PUBLIC_KEY_BYTES + 16;

const encoder = new TextEncoder();

function malformed(err) {
  if (err instanceof ProofError) return err;
  return new ProofError("malformed", err instanceof Error ? err.message : String(err));
}

// -- text rules (14.1, 14.3) -----------------------------------------------------------------

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// The same list as crypto/transparency.py _NAME_FORBIDDEN.
const NAME_FORBIDDEN = /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff+]/;

function textField(raw, what) {
  const text = decodeText(raw);
  if (raw.length < 1) throw new InvalidInput(`${what} must not be empty`);
  if (text.normalize("NFC") !== text) throw new InvalidInput(`${what} must be in Unicode NFC`);
  if (CONTROL.test(text)) throw new InvalidInput(`${what} must not contain control characters`);
  return text;
}

function checkKeyName(name) {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_KEY_NAME_BYTES) {
    throw new InvalidInput("a key name is a non-empty string of at most 256 bytes");
  }
  if (NAME_FORBIDDEN.test(name)) throw new InvalidInput("a key name has no spaces, no plus and no control characters");
  if (hasLoneSurrogate(name)) throw new InvalidInput("a key name is not valid Unicode");
  if (encoder.encode(name).length > MAX_KEY_NAME_BYTES) {
    throw new InvalidInput("a key name is a non-empty string of at most 256 bytes");
  }
  return name;
}

function readU64(bytes, at) {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 8).getBigUint64(0);
}

function u32be(n) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function isOdd(n) {
  return n % 2 === 1;
}

function half(n) {
  return Math.floor(n / 2);
}

function isPowerOfTwo(n) {
  let m = n;
  while (m > 1 && m % 2 === 0) m /= 2;
  return m === 1;
}

function equalBytes(a, b) {
  return a.length === b.length && constantTimeEqual(a, b);
}

// -- 14.1 Statements -------------------------------------------------------------------------

/**
 * Parse statement bytes strictly: the label, every length, NFC names, a known kind and
 * role, not_after >= not_before (equal for a revocation), no trailing bytes; InvalidInput
 * otherwise. Returns {kind, deploymentId, accountId, role, name, x25519Public,
 * ed25519Public, notBefore, notAfter} (times in unix seconds).
 */
export function decodeStatement(data) {
  requireBytes(data, undefined, "statement");
  const label = labelBytes(LABELS.KEY_STATEMENT);
  if (data.length < STATEMENT_FIXED_BYTES + 2
    || data.length > STATEMENT_FIXED_BYTES + MAX_DEPLOYMENT_ID_BYTES + MAX_STATEMENT_NAME_BYTES) {
    throw new InvalidInput("statement has an impossible length");
  }
  if (!equalBytes(data.subarray(0, label.length), label)) throw new InvalidInput("not a key statement (label)");
  let pos = label.length;
  const take = (n) => {
    if (pos + n > data.length) throw new InvalidInput("statement is truncated");
    const chunk = data.slice(pos, pos + n);
    pos += n;
    return chunk;
  };
  const kind = take(1)[0];
  if (kind !== KIND_KEY && kind !== KIND_REVOCATION) throw new InvalidInput("statement has an unknown kind");
  const deploymentRaw = take(take(1)[0]);
  if (deploymentRaw.length > MAX_DEPLOYMENT_ID_BYTES) throw new InvalidInput("deployment_id is too long");
  const deploymentId = textField(deploymentRaw, "deployment_id");
  const accountId = take(ACCOUNT_ID_BYTES);
  const roleCode = take(1)[0];
  if (!(roleCode in ROLE_NAMES)) throw new InvalidInput("statement has an unknown role");
  const nameRaw = take(take(1)[0]);
  if (nameRaw.length > MAX_STATEMENT_NAME_BYTES) throw new InvalidInput("name is too long");
  const name = textField(nameRaw, "name");
  const x25519Public = take(PUBLIC_KEY_BYTES);
  const ed25519Public = take(PUBLIC_KEY_BYTES);
  const notBefore = readU64(take(8), 0);
  const notAfter = readU64(take(8), 0);
  if (pos !== data.length) throw new InvalidInput("statement has trailing bytes");
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (notBefore > max || notAfter > max) throw new InvalidInput("validity times stop at 2^53 - 1");
  if (notAfter < notBefore) throw new InvalidInput("not_after must not be before not_before");
  if (kind === KIND_REVOCATION && notAfter !== notBefore) {
    throw new InvalidInput("a revocation has not_before equal to not_after");
  }
  return {
    kind, deploymentId, accountId, role: ROLE_NAMES[roleCode], name, x25519Public, ed25519Public,
    notBefore: Number(notBefore), notAfter: Number(notAfter),
  };
}

// -- 14.5 Fingerprint ------------------------------------------------------------------------

/** 30 decimal digits in 6 groups of 5: SHA-256(label ‖ account id ‖ X25519 ‖ Ed25519)[:16] mod 10^30. */
export function fingerprint(accountId, x25519Public, ed25519Public) {
  requireBytes(accountId, ACCOUNT_ID_BYTES, "accountId");
  requireBytes(x25519Public, PUBLIC_KEY_BYTES, "x25519Public");
  requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "ed25519Public");
  const digest = sha256(concatBytes(labelBytes(LABELS.FINGERPRINT), accountId, x25519Public, ed25519Public));
  let n = 0n;
  for (const byte of digest.subarray(0, 16)) n = (n << 8n) | BigInt(byte);
  const digits = (n % 10n ** 30n).toString().padStart(30, "0");
  return digits.match(/.{5}/g).join(" ");
}

// -- 14.2 Entries, hashes, proofs --------------------------------------------------------------

/**
 * Parse a log entry strictly (1..4096 bytes): {type: 1, statement, signature} (the
 * statement decoded as a check) or {type: 2, deploymentId, manifestHash}. Verifies no
 * signature. InvalidInput otherwise.
 */
export function decodeEntry(data) {
  requireBytes(data, undefined, "entry");
  if (data.length < 1 || data.length > MAX_ENTRY_BYTES) throw new InvalidInput("an entry is 1 to 4096 bytes");
  if (data[0] === ENTRY_STATEMENT) {
    if (data.length < 1 + SIGNATURE_BYTES) throw new InvalidInput("statement entry is truncated");
    const statement = data.slice(1, data.length - SIGNATURE_BYTES);
    decodeStatement(statement);
    return { type: ENTRY_STATEMENT, statement, signature: data.slice(data.length - SIGNATURE_BYTES) };
  }
  if (data[0] === ENTRY_RELEASE) {
    if (data.length < 2 || data.length !== 2 + data[1] + HASH_BYTES) {
      throw new InvalidInput("release entry has the wrong length");
    }
    const raw = data.slice(2, 2 + data[1]);
    if (raw.length > MAX_DEPLOYMENT_ID_BYTES) throw new InvalidInput("deployment_id is too long");
    return { type: ENTRY_RELEASE, deploymentId: textField(raw, "deployment_id"), manifestHash: data.slice(2 + data[1]) };
  }
  throw new InvalidInput(`unknown entry type ${data[0]}`);
}

/** RFC 6962 leaf hash SHA-256(0x00 ‖ entry). */
export function leafHash(entry) {
  requireBytes(entry, undefined, "entry");
  return sha256(concatBytes(Uint8Array.of(0), entry));
}

/** RFC 6962 node hash SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left, right) {
  requireBytes(left, HASH_BYTES, "left");
  requireBytes(right, HASH_BYTES, "right");
  return sha256(concatBytes(Uint8Array.of(1), left, right));
}

const node = (l, r) => sha256(concatBytes(Uint8Array.of(1), l, r));

/** The RFC 6962 root of a whole list of leaf hashes (empty list: SHA-256 of nothing). */
export function rootFromLeafHashes(hashes) {
  if (!Array.isArray(hashes)) throw new InvalidInput("leaf hashes must be an array");
  const stack = []; // [height, hash] of complete subtrees, left to right
  for (const leaf of hashes) {
    requireBytes(leaf, HASH_BYTES, "leaf hash");
    let current = [0, leaf];
    while (stack.length && stack[stack.length - 1][0] === current[0]) {
      const [height, left] = stack.pop();
      current = [height + 1, node(left, current[1])];
    }
    stack.push(current);
  }
  if (stack.length === 0) return sha256(new Uint8Array(0));
  let root = stack.pop()[1];
  while (stack.length) root = node(stack.pop()[1], root);
  return root;
}

function proofInt(value, what) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ProofError("malformed", `${what} must be an integer from 0 to 2^53 - 1`);
  }
  return value;
}

function proofHash(value, what) {
  if (!(value instanceof Uint8Array) || value.length !== HASH_BYTES) {
    throw new ProofError("malformed", `${what} must be ${HASH_BYTES} bytes`);
  }
  return value;
}

function proofHashes(path, what) {
  if (!Array.isArray(path) || path.length > MAX_PROOF_HASHES) {
    throw new ProofError("malformed", `${what} must be an array of at most ${MAX_PROOF_HASHES} hashes`);
  }
  return path.map((h) => proofHash(h, `a hash of the ${what}`));
}

/**
 * RFC 9162 2.1.3.2: throws ProofError unless `path` proves the leaf hash `leaf`
 * (leafHash(entry), 32 bytes) at `index` in the tree of `size` leaves with `root`.
 */
export function verifyInclusion(leaf, index, size, path, root) {
  let r = proofHash(leaf, "leaf hash");
  proofInt(index, "index");
  proofInt(size, "size");
  const hashes = proofHashes(path, "inclusion proof");
  proofHash(root, "root");
  if (index >= size) throw new ProofError("inclusion", "the index is not below the tree size");
  let fn = index;
  let sn = size - 1;
  for (const p of hashes) {
    if (sn === 0) throw new ProofError("inclusion", "the inclusion proof is too long");
    if (isOdd(fn) || fn === sn) {
      r = node(p, r);
      if (!isOdd(fn)) {
        while (fn !== 0 && !isOdd(fn)) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = node(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0 || !equalBytes(r, root)) throw new ProofError("inclusion", "the inclusion proof does not lead to the root");
}

/**
 * RFC 9162 2.1.4.2: throws ProofError unless `proof` shows that the tree of `oldSize`
 * leaves with `oldRoot` is a prefix of the tree of `newSize` leaves with `newRoot`.
 * Equal sizes need an empty proof and equal roots; from the empty tree (its root is
 * SHA-256 of nothing) every tree is consistent, with an empty proof.
 */
export function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof) {
  proofInt(oldSize, "oldSize");
  proofInt(newSize, "newSize");
  proofHash(oldRoot, "old root");
  proofHash(newRoot, "new root");
  let hashes = proofHashes(proof, "consistency proof");
  if (oldSize > newSize) throw new ProofError("consistency", "the old tree is larger than the new one");
  if (oldSize === newSize) {
    if (hashes.length || !equalBytes(oldRoot, newRoot)) {
      throw new ProofError("consistency", "equal sizes need an empty proof and equal roots");
    }
    return;
  }
  if (oldSize === 0) {
    if (hashes.length || !equalBytes(oldRoot, sha256(new Uint8Array(0)))) {
      throw new ProofError("consistency", "from the empty tree the proof is empty");
    }
    return;
  }
  if (hashes.length === 0) throw new ProofError("consistency", "the consistency proof is empty");
  if (isPowerOfTwo(oldSize)) hashes = [oldRoot, ...hashes];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = hashes[0];
  let sr = hashes[0];
  for (const c of hashes.slice(1)) {
    if (sn === 0) throw new ProofError("consistency", "the consistency proof is too long");
    if (isOdd(fn) || fn === sn) {
      fr = node(c, fr);
      sr = node(c, sr);
      if (!isOdd(fn)) {
        while (fn !== 0 && !isOdd(fn)) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = node(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  const oldOk = equalBytes(fr, oldRoot);
  const newOk = equalBytes(sr, newRoot);
  if (sn !== 0 || !oldOk || !newOk) throw new ProofError("consistency", "the consistency proof does not hold");
}

/** The entries of a C2SP tlog-tiles entry bundle (u16be length ‖ entry, at most 256); InvalidInput otherwise. */
export function parseEntryBundle(data) {
  requireBytes(data, undefined, "entry bundle");
  if (data.length > 256 * (2 + MAX_ENTRY_BYTES)) throw new InvalidInput("entry bundle is too large");
  const entries = [];
  let pos = 0;
  while (pos < data.length) {
    if (pos + 2 > data.length) throw new InvalidInput("entry bundle is truncated");
    const n = data[pos] * 256 + data[pos + 1];
    if (n < 1 || n > MAX_ENTRY_BYTES || pos + 2 + n > data.length || entries.length === 256) {
      throw new InvalidInput("entry bundle has a malformed entry");
    }
    entries.push(data.slice(pos + 2, pos + 2 + n));
    pos += 2 + n;
  }
  return entries;
}

/** SHA-256(LABEL_REVOKED_SET ‖ u32be count ‖ ids sorted and unique), 16-byte ids. */
export function revokedDigest(ids) {
  if (!Array.isArray(ids)) throw new InvalidInput("revoked ids must be an array");
  const hex = new Map();
  for (const id of ids) {
    requireBytes(id, ACCOUNT_ID_BYTES, "account id");
    hex.set(Array.from(id, (b) => b.toString(16).padStart(2, "0")).join(""), id);
  }
  const keys = [...hex.keys()].sort();
  return sha256(concatBytes(labelBytes(LABELS.REVOKED_SET), u32be(keys.length), ...keys.map((k) => hex.get(k))));
}

// -- 14.3 Signed notes and checkpoints -----------------------------------------------------------

const STD_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function stdB64decode(text, what) {
  if (typeof text !== "string" || !STD_B64.test(text)) throw new InvalidInput(`${what} is not standard base64`);
  const out = fromStandardBase64(text);
  if (toStandardBase64(out) !== text) throw new InvalidInput(`${what} is not canonical base64`);
  return out;
}

function noteKeyId(name, alg, publicKey) {
  return sha256(concatBytes(encoder.encode(name), Uint8Array.of(0x0a, alg), publicKey)).subarray(0, 4);
}

function checkNoteText(text) {
  if (typeof text !== "string" || hasLoneSurrogate(text)) throw new InvalidInput("note text is not valid Unicode");
  if (encoder.encode(text).length > MAX_NOTE_BYTES || !text.endsWith("\n")) {
    throw new InvalidInput("note text ends in a newline and is at most 16 KiB");
  }
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new InvalidInput("note text has a control character");
  return text;
}

/**
 * Split a signed note into its text and signature lines, verifying nothing:
 * {text, signatures: [{name, keyId, signature}]}. InvalidInput if malformed or over 16 KiB.
 */
export function parseNote(note) {
  if (typeof note !== "string") throw new InvalidInput("a note must be a string");
  if (note.length > MAX_NOTE_BYTES) throw new InvalidInput("note is larger than 16 KiB");
  if (hasLoneSurrogate(note)) throw new InvalidInput("note is not valid Unicode");
  if (encoder.encode(note).length > MAX_NOTE_BYTES) throw new InvalidInput("note is larger than 16 KiB");
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new InvalidInput("note has a control character");
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new InvalidInput("note has no signatures");
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block) throw new InvalidInput("note has no signatures");
  const signatures = [];
  for (const line of block.slice(0, -1).split("\n")) {
    const parts = line.slice(2).split(" ");
    if (!line.startsWith("\u2014 ") || parts.length !== 2) throw new InvalidInput("malformed signature line");
    const name = checkKeyName(parts[0]);
    const blob = stdB64decode(parts[1], "signature");
    if (blob.length < 5) throw new InvalidInput("a signature is a key id and at least one byte");
    signatures.push({ name, keyId: blob.slice(0, 4), signature: blob.slice(4) });
  }
  return { text, signatures };
}

const DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/;

/**
 * Parse a checkpoint's note text strictly: origin, size, base64 root and the
 * `oor-revoked <count> <base64 digest>` line. {origin, size, root, revokedCount, revokedDigest}.
 */
export function parseCheckpoint(text) {
  checkNoteText(text);
  const lines = text.slice(0, -1).split("\n");
  if (lines.length !== 4) throw new InvalidInput("a checkpoint has origin, size, root and the oor-revoked line");
  const [originLine, sizeLine, rootLine, extension] = lines;
  const origin = checkKeyName(originLine);
  if (!DECIMAL.test(sizeLine) || Number(sizeLine) > Number.MAX_SAFE_INTEGER) throw new InvalidInput("malformed tree size");
  const words = extension.split(" ");
  if (words.length !== 3 || words[0] !== "oor-revoked" || !DECIMAL.test(words[1])
    || Number(words[1]) > Number.MAX_SAFE_INTEGER) {
    throw new InvalidInput("malformed oor-revoked line");
  }
  const root = stdB64decode(rootLine, "root");
  const revokedDigest = stdB64decode(words[2], "revoked digest");
  if (root.length !== HASH_BYTES || revokedDigest.length !== HASH_BYTES) {
    throw new InvalidInput("root and revoked digest are 32 bytes");
  }
  return { origin, size: Number(sizeLine), root, revokedCount: Number(words[1]), revokedDigest };
}

function trustFields(trust) {
  if (trust === null || typeof trust !== "object") throw new InvalidInput("trust must be an object");
  const { log, witnesses } = trust;
  if (log === null || typeof log !== "object" || !Array.isArray(witnesses) || witnesses.length > 64) {
    throw new InvalidInput("trust needs log and witnesses");
  }
  if (typeof trust.deployment_id !== "string") throw new InvalidInput("trust needs deployment_id");
  if (!Number.isSafeInteger(trust.quorum) || trust.quorum < 0 || !Number.isSafeInteger(trust.max_age)
    || trust.max_age < 0) {
    throw new InvalidInput("trust needs quorum and max_age");
  }
  return {
    deploymentId: trust.deployment_id,
    rootPublic: b64decode(trust.root_public_key, PUBLIC_KEY_BYTES),
    origin: checkKeyName(log.origin),
    logPublic: b64decode(log.public_key, PUBLIC_KEY_BYTES),
    witnesses: witnesses.map((w) => {
      if (w === null || typeof w !== "object") throw new InvalidInput("a witness is {name, public_key}");
      const name = checkKeyName(w.name);
      const publicKey = b64decode(w.public_key, PUBLIC_KEY_BYTES);
      return { name, publicKey, keyId: noteKeyId(name, ALG_COSIGNATURE_V1, publicKey) };
    }),
    quorum: trust.quorum,
    maxAge: trust.max_age,
  };
}

function signatureOk(publicKey, message, signature) {
  try {
    verifySignature(publicKey, message, signature, "");
    return true;
  } catch (err) {
    if (err instanceof CryptoError) return false;
    throw err;
  }
}

function checkCheckpoint(t, note, now) {
  let text;
  let signatures;
  let checkpoint;
  try {
    proofInt(now, "now");
    ({ text, signatures } = parseNote(note));
    checkpoint = parseCheckpoint(text);
  } catch (err) {
    throw malformed(err);
  }
  if (checkpoint.origin !== t.origin) throw new ProofError("origin", "the checkpoint is of another log");
  const logId = noteKeyId(t.origin, ALG_ED25519, t.logPublic);
  const message = encoder.encode(text);
  let signed = false;
  for (const s of signatures) {
    if (s.name === t.origin && equalBytes(s.keyId, logId)) {
      if (s.signature.length !== SIGNATURE_BYTES || !signatureOk(t.logPublic, message, s.signature)) {
        throw new ProofError("log-signature", "the log key's signature does not verify");
      }
      signed = true;
    }
  }
  if (!signed) throw new ProofError("log-signature", "the checkpoint is not signed by the log key");
  const fresh = new Set();
  for (const w of t.witnesses) {
    for (const s of signatures) {
      if (s.name !== w.name || !equalBytes(s.keyId, w.keyId)) continue;
      if (s.signature.length !== 8 + SIGNATURE_BYTES) {
        throw new ProofError("cosignatures", `malformed cosignature of ${w.name}`);
      }
      const timestamp = readU64(s.signature, 0);
      const signed2 = concatBytes(encoder.encode(`cosignature/v1\ntime ${timestamp}\n`), message);
      if (timestamp > I64_MAX || !signatureOk(w.publicKey, signed2, s.signature.subarray(8))) {
        throw new ProofError("cosignatures", `the cosignature of ${w.name} does not verify`);
      }
      if (BigInt(now - t.maxAge) <= timestamp && timestamp <= BigInt(now + CLOCK_SKEW)) {
        fresh.add(Array.from(w.publicKey).join(","));
      }
    }
  }
  if (fresh.size < t.quorum) {
    throw new ProofError("cosignatures", `${fresh.size} fresh witness cosignatures, ${t.quorum} required`);
  }
  return checkpoint;
}

/**
 * The checkpoint of `note` ({origin, size, root, revokedCount, revokedDigest}) if the
 * trust configuration's log key signed it (and no signature of it fails) and at least
 * `trust.quorum` distinct configured witnesses cosigned it with a timestamp in
 * [now - max_age, now + 600]; ProofError ("malformed", "origin", "log-signature",
 * "cosignatures") otherwise. Unknown signature lines are ignored. `now` in unix seconds.
 */
export function verifyCheckpoint(trust, note, now) {
  let t;
  try {
    t = trustFields(trust);
  } catch (err) {
    throw malformed(err);
  }
  return checkCheckpoint(t, note, now);
}

// -- 14.4 Key proofs ---------------------------------------------------------------------------

const PROOF_FIELDS = ["checkpoint", "entry", "index", "path", "revoked", "v"];

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/**
 * What a page MUST check before it uses a volunteer's key (PROTOCOL.md 14.4): the key
 * proof `proof` ({v, entry, index, path, checkpoint, revoked}) against the trust
 * configuration `trust` (/js/trust.js) for the keys offered. Returns the decoded
 * statement; throws ProofError (its `reason` names the check) otherwise.
 * `options`: {ed25519Public (required), x25519Public, roles, now (unix seconds)}.
 */
export function verifyKeyProof(trust, proof, { ed25519Public, x25519Public = undefined, roles = undefined, now } = {}) {
  let t;
  let entry;
  let decoded;
  let path;
  let revokedIds;
  try {
    t = trustFields(trust);
    requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "ed25519Public");
    if (x25519Public !== undefined && x25519Public !== null) requireBytes(x25519Public, PUBLIC_KEY_BYTES, "x25519Public");
    if (roles !== undefined && roles !== null && !Array.isArray(roles)) throw new InvalidInput("roles must be an array");
    proofInt(now, "now");
    if (proof === null || typeof proof !== "object" || Array.isArray(proof)
      || Object.keys(proof).sort().join(",") !== PROOF_FIELDS.join(",") || proof.v !== KEY_PROOF_VERSION) {
      throw new InvalidInput("a key proof is {v: 1, entry, index, path, checkpoint, revoked}");
    }
    if (typeof proof.entry !== "string" || typeof proof.checkpoint !== "string" || typeof proof.revoked !== "string"
      || !Array.isArray(proof.path)) {
      throw new InvalidInput("key proof fields have the wrong types");
    }
    if (proof.entry.length + proof.checkpoint.length + proof.revoked.length + 44 * proof.path.length
      > MAX_KEY_PROOF_JSON || proof.path.length > MAX_PROOF_HASHES) {
      throw new InvalidInput("key proof is too large");
    }
    proofInt(proof.index, "index");
    path = proof.path.map((h) => b64decode(h, HASH_BYTES));
    entry = b64decode(proof.entry);
    const revoked = b64decode(proof.revoked);
    if (revoked.length % ACCOUNT_ID_BYTES) throw new InvalidInput("revoked ids are 16 bytes each");
    revokedIds = [];
    for (let i = 0; i < revoked.length; i += ACCOUNT_ID_BYTES) revokedIds.push(revoked.slice(i, i + ACCOUNT_ID_BYTES));
    for (let i = 1; i < revokedIds.length; i += 1) {
      if (compareBytes(revokedIds[i - 1], revokedIds[i]) >= 0) throw new InvalidInput("revoked ids must be sorted and unique");
    }
    decoded = decodeEntry(entry);
  } catch (err) {
    throw malformed(err);
  }
  const checkpoint = checkCheckpoint(t, proof.checkpoint, now);
  if (checkpoint.revokedCount !== revokedIds.length || !equalBytes(revokedDigest(revokedIds), checkpoint.revokedDigest)) {
    throw new ProofError("revoked-set", "the revoked ids are not the checkpoint's");
  }
  if (decoded.type !== ENTRY_STATEMENT) throw new ProofError("entry-type", "the entry is not a key statement");
  const statement = decodeStatement(decoded.statement);
  if (decoded.signature.length !== SIGNATURE_BYTES || !signatureOk(t.rootPublic, decoded.statement, decoded.signature)) {
    throw new ProofError("root-signature", "the statement is not signed by the root key");
  }
  if (statement.kind !== KIND_KEY) throw new ProofError("kind", "the statement is a revocation");
  if (statement.deploymentId !== t.deploymentId) throw new ProofError("deployment", "the statement is for another deployment");
  if (!(statement.notBefore - CLOCK_SKEW <= now && now <= statement.notAfter)) {
    throw new ProofError("validity", "the statement is not valid now");
  }
  if (revokedIds.some((id) => equalBytes(id, statement.accountId))) throw new ProofError("revoked", "the account is revoked");
  if (proof.index >= checkpoint.size) throw new ProofError("inclusion", "the index is not in the checkpoint's tree");
  verifyInclusion(leafHash(entry), proof.index, checkpoint.size, path, checkpoint.root);
  const edOk = equalBytes(statement.ed25519Public, ed25519Public);
  const xOk = x25519Public === undefined || x25519Public === null || equalBytes(statement.x25519Public, x25519Public);
  if (!edOk || !xOk) throw new ProofError("keys", "the statement is for other keys");
  if (roles !== undefined && roles !== null && !roles.includes(statement.role)) {
    throw new ProofError("role", "the statement's role is not accepted here");
  }
  return statement;
}
