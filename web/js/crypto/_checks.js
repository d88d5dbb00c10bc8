// Private to web/js/crypto/: the input checks and the padding that several
// sections share (crypto/_checks.py). Each rule is written here once; the
// section modules call these instead of restating them.
//
// - bytes of a fixed length, and integers: every section;
// - text as UTF-8, refusing lone surrogates, and NFC first for passphrases and
//   names: section 1 ("Passphrases and names");
// - padding to 256-byte buckets: section 10.6, which mail reuses with a larger
//   maximum (12.4);
// - the key holders (an identity or a mailbox) that sign and read: 10.3, 12.3, 12.4.
//
// Pages never import this module (crypto.js does not re-export it); each check
// throws InvalidInput before any secret is touched.

import { constantTimeEqual, ED25519_SECRET_KEY_BYTES } from "./_primitives.js";
import { DecryptionFailed, InvalidInput } from "./errors.js";
import { KEY_BYTES, MIN_MEMLIMIT, MIN_OPSLIMIT, PUBLIC_KEY_BYTES } from "./params.js";

export function requireBytes(value, length, what) {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidInput(`${what} must be a Uint8Array`);
  }
  if (length !== undefined && length !== null && value.length !== length) {
    throw new InvalidInput(`${what} must be ${length} bytes, got ${value.length}`);
  }
  return value;
}

export function requireInt(value, min, what) {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidInput(`${what} must be an integer of at least ${min}`);
  }
  return value;
}

/** Argon2id parameters at or above libsodium's minimums. */
export function requireKdf(opslimit, memlimit) {
  requireInt(opslimit, MIN_OPSLIMIT, "opslimit");
  requireInt(memlimit, MIN_MEMLIMIT, "memlimit");
}

const encoder = new TextEncoder();

/** The bytes of a label from labels.js (ASCII, so UTF-8 is the identity). */
export function labelBytes(label) {
  return encoder.encode(label);
}

// -- text (PROTOCOL.md section 1) ---------------------------------------------------------------

/** True if `text` holds a UTF-16 surrogate without its partner (not encodable as UTF-8). */
export function hasLoneSurrogate(text) {
  if (typeof text.isWellFormed === "function") return !text.isWellFormed();
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** UTF-8 of a string; InvalidInput on lone surrogates (TextEncoder would write U+FFFD). */
export function utf8(text, what) {
  if (typeof text !== "string") throw new InvalidInput(`${what} must be a string`);
  if (hasLoneSurrogate(text)) throw new InvalidInput(`${what} is not valid Unicode`);
  return encoder.encode(text);
}

/** A passphrase or name as NFC, UTF-8 (at most `maxChars` UTF-16 units); InvalidInput otherwise. */
export function nfcUtf8(text, what, maxChars) {
  if (typeof text !== "string") throw new InvalidInput(`${what} must be a string`);
  if (text.length > maxChars) throw new InvalidInput(`${what} is too long`);
  // Lone surrogates: TextEncoder would silently replace them with U+FFFD,
  // Python refuses them. Refuse here too so both sides always agree.
  if (hasLoneSurrogate(text)) throw new InvalidInput(`${what} is not valid Unicode`);
  // NFC: one code point or base + combining accent must give the same key.
  return encoder.encode(text.normalize("NFC"));
}

export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const SEQ_BYTES = 8;

/** A sequence number as 8 bytes, big-endian (chat and mail positions). */
export function seqBytes(seq) {
  // seq <= 2^53 - 1, so the high word fits in 32 bits.
  const out = new Uint8Array(SEQ_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(seq / 0x100000000));
  view.setUint32(4, seq >>> 0);
  return out;
}

// -- padding (PROTOCOL.md 10.6, reused by mail in 12.4) ---------------------------------------

export const LENGTH_BYTES = 2;
export const PAD_BLOCK = 256;

export function paddedSize(contentLength) {
  // Smallest multiple of the block holding the length field and the content:
  // the relay learns the bucket, not the exact length.
  return Math.ceil((LENGTH_BYTES + contentLength) / PAD_BLOCK) * PAD_BLOCK;
}

/** length (2 bytes, big-endian) || content || zeros, to the next PAD_BLOCK. */
export function pad(content) {
  const out = new Uint8Array(paddedSize(content.length)); // zero-filled
  out[0] = content.length >> 8;
  out[1] = content.length & 0xff;
  out.set(content, LENGTH_BYTES);
  return out;
}

/**
 * The content of an authenticated padded plaintext; DecryptionFailed unless
 * it is the one padded form of a content of at most `maxContent` bytes.
 * `what` ("chat", "mail") names the message in the error.
 */
export function unpad(padded, maxContent, what) {
  // Only a holder of the message key can produce an authenticated plaintext,
  // so this guards against a buggy or hostile peer. One padded form per
  // content: anything else is refused.
  const length = (padded[0] << 8) | padded[1];
  if (length > maxContent || paddedSize(length) !== padded.length) {
    throw new DecryptionFailed(`${what} message has a malformed length field`);
  }
  for (let i = LENGTH_BYTES + length; i < padded.length; i++) {
    if (padded[i] !== 0) throw new DecryptionFailed(`${what} message padding is not all zeros`);
  }
  return padded.slice(LENGTH_BYTES, LENGTH_BYTES + length);
}

// -- key holders --------------------------------------------------------------------------------

/** An identity or mailbox that can sign: its two Ed25519 halves must belong together. */
export function requireSigner(holder, what, kind = "an identity or mailbox") {
  if (holder === null || typeof holder !== "object") throw new InvalidInput(`${what} must be ${kind}`);
  requireBytes(holder.ed25519SecretKey, ED25519_SECRET_KEY_BYTES, `${what}.ed25519SecretKey`);
  requireBytes(holder.ed25519Public, PUBLIC_KEY_BYTES, `${what}.ed25519Public`);
  // libsodium signs with the public key stored in the secret key's second
  // half; refuse a holder whose halves disagree rather than sign garbage.
  if (!constantTimeEqual(holder.ed25519SecretKey.subarray(KEY_BYTES), holder.ed25519Public)) {
    throw new InvalidInput(`${what} Ed25519 keys do not belong together`);
  }
  return holder;
}

/** An identity or mailbox that can open what is sealed to its X25519 key. */
export function requireReader(holder, what) {
  if (holder === null || typeof holder !== "object") throw new InvalidInput(`${what} must be an identity or mailbox`);
  requireBytes(holder.x25519Secret, KEY_BYTES, `${what}.x25519Secret`);
  requireBytes(holder.x25519Public, PUBLIC_KEY_BYTES, `${what}.x25519Public`);
  return holder;
}
