// PROTOCOL.md section 12, Mail (crypto/mail.py):
// - 12.1: the return token a help-seeker types (20 symbols of Crockford's
//   base32 with a check that catches every single typo and swap);
// - 12.2: the mailbox keys derived from it (Argon2id, then BLAKE2b under labels);
// - 12.3: key certificates, an Ed25519 signature over the same holder's X25519 key;
// - 12.4 to 12.6: messages sealed with a fresh content key per message, signed
//   by their author, wrapped to exactly the help-seeker and the assigned
//   volunteer, and re-wrapped at a handover;
// - 12.10: a volunteer's private note on a thread, sealed to their own key,
//   signed by them, and sealed anew for a colleague at a handover.

import {
  AEAD_NONCE_BYTES, AEAD_TAG_BYTES, aeadDecrypt, aeadEncrypt, argon2id, blake2b, BOX_SEAL_OVERHEAD_BYTES, boxSeal,
  boxSealOpen, constantTimeEqual, ed25519KeyPairFromSeed, ed25519SignDetached, memzero, randomBytes, verifySignature,
  x25519PublicFromSecret,
} from "./_primitives.js";
import { DecryptionFailed, InvalidInput, InvalidToken } from "./errors.js";
import { LABELS } from "./labels.js";
import { KEY_BYTES, PUBLIC_KEY_BYTES, SALT_BYTES, SIGNATURE_BYTES } from "./params.js";
import {
  concatBytes, hasLoneSurrogate, labelBytes, PAD_BLOCK, pad, paddedSize, requireBytes, requireKdf, requireReader,
  requireSigner, seqBytes, unpad,
} from "./_checks.js";

// ---------------------------------------------------------------------------
// Return token (12.1)
// ---------------------------------------------------------------------------

// Crockford's base32: no I, L, O, U; O, I and L are read as 0, 1 and 1.
export const MAIL_TOKEN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const MAIL_TOKEN_DATA_SYMBOLS = 18; // 90 random bits
export const MAIL_TOKEN_SYMBOLS = 20; // data + 2 check symbols
export const MAIL_TOKEN_CHECK_MODULUS = 1021; // prime, > 32 and < 32 * 32
export const MAIL_TOKEN_RANDOM_BYTES = 12; // 96 random bits, the low 90 used
const TOKEN_GROUP = 4;
const MAX_TOKEN_INPUT_CHARS = 200; // code points; checked before looking closer
// Ignored between symbols (the same set as crypto/): spaces and
// line breaks (also no-break spaces from formatted mail), ASCII and Unicode
// dashes (phones turn "-" into dashes), dots and underscores.
const TOKEN_SEPARATORS = new Set(
  [" ", "\t", "\r", "\n", "\u00a0", "-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", ".", "_"],
);
const TOKEN_VALUES = (() => {
  const values = new Map();
  for (let v = 0; v < MAIL_TOKEN_ALPHABET.length; v++) {
    values.set(MAIL_TOKEN_ALPHABET[v], v);
    values.set(MAIL_TOKEN_ALPHABET[v].toLowerCase(), v);
  }
  // Only ASCII is case-folded: Unicode case mapping differs between languages.
  for (const [symbol, v] of [["O", 0], ["I", 1], ["L", 1]]) {
    values.set(symbol, v);
    values.set(symbol.toLowerCase(), v);
  }
  return values;
})();

function tokenCheck(dataValues) {
  // N mod 1021, N the data symbols read as one base-32 number (Horner, so no
  // big integers). One mistyped symbol changes N by d * 32^k (0 < |d| < 32),
  // two swapped neighbours by (a - b) * 31 * 32^k; the prime 1021 divides
  // none of these factors, so every such typo changes the check.
  let remainder = 0;
  for (const v of dataValues) remainder = (remainder * 32 + v) % MAIL_TOKEN_CHECK_MODULUS;
  return remainder;
}

function tokenWithCheck(dataValues) {
  const check = tokenCheck(dataValues);
  const values = [...dataValues, Math.floor(check / 32), check % 32];
  return values.map((v) => MAIL_TOKEN_ALPHABET[v]).join("");
}

/**
 * The canonical 20-symbol token of what a person typed. Ignores spaces, line
 * breaks, dashes, dots and underscores; reads lower case as upper case and
 * O, I, L as 0, 1, 1. Throws InvalidToken (reason "character", "length" or
 * "check") before any key is derived or request made.
 */
export function parseToken(text) {
  if (typeof text !== "string") throw new InvalidInput("token must be a string");
  // Count code points, as Python does; the UTF-16 length caps the work first.
  if (text.length > 2 * MAX_TOKEN_INPUT_CHARS || Array.from(text).length > MAX_TOKEN_INPUT_CHARS) {
    throw new InvalidToken("length", "this is much longer than a token");
  }
  const values = [];
  for (const ch of text) {
    if (TOKEN_SEPARATORS.has(ch)) continue;
    const v = TOKEN_VALUES.get(ch);
    if (v === undefined) {
      throw new InvalidToken("character", "a token holds only digits and the letters A-Z without U");
    }
    values.push(v);
  }
  if (values.length !== MAIL_TOKEN_SYMBOLS) {
    throw new InvalidToken("length", `a token has ${MAIL_TOKEN_SYMBOLS} symbols, this has ${values.length}`);
  }
  const data = values.slice(0, MAIL_TOKEN_DATA_SYMBOLS);
  if (tokenCheck(data) !== values[MAIL_TOKEN_DATA_SYMBOLS] * 32 + values[MAIL_TOKEN_DATA_SYMBOLS + 1]) {
    throw new InvalidToken("check", "the token's check symbols do not match: a symbol is mistyped");
  }
  return values.map((v) => MAIL_TOKEN_ALPHABET[v]).join("");
}

/** "XXXX-XXXX-XXXX-XXXX-XXXX"; accepts (and checks) anything parseToken accepts. */
export function formatToken(token) {
  const canonical = parseToken(token);
  const groups = [];
  for (let i = 0; i < MAIL_TOKEN_SYMBOLS; i += TOKEN_GROUP) groups.push(canonical.slice(i, i + TOKEN_GROUP));
  return groups.join("-");
}

/**
 * The canonical token of 12 random bytes: the low 90 of their 96 bits as 18
 * symbols, then the check. Whole bits, so every token is equally likely.
 * For test vectors and newTokenCode.
 */
export function tokenCodeFromBytes(random12) {
  requireBytes(random12, MAIL_TOKEN_RANDOM_BYTES, "token randomness");
  const values = [];
  let acc = 0;
  let nbits = 0;
  for (let i = 0; i < random12.length; i++) {
    acc = (acc << 8) | random12[i];
    nbits += 8;
    if (i === 0) {
      // Drop the top 6 of the 96 bits.
      acc &= 0x03;
      nbits = 2;
    }
    while (nbits >= 5) {
      nbits -= 5;
      values.push((acc >> nbits) & 31);
      acc &= (1 << nbits) - 1;
    }
  }
  return tokenWithCheck(values);
}

/** A fresh random return token (canonical; show it with formatToken). */
export function newTokenCode() {
  const random = randomBytes(MAIL_TOKEN_RANDOM_BYTES);
  try {
    return tokenCodeFromBytes(random);
  } finally {
    memzero(random);
  }
}

// ---------------------------------------------------------------------------
// Mailbox keys (12.2)
// ---------------------------------------------------------------------------

const MAX_DEPLOYMENT_ID_CHARS = 256;
const encoder = new TextEncoder();

function mailboxSalt(deploymentId) {
  if (typeof deploymentId !== "string") throw new InvalidInput("deploymentId must be a string");
  if (deploymentId.length === 0) throw new InvalidInput("deploymentId must not be empty");
  if (Array.from(deploymentId).length > MAX_DEPLOYMENT_ID_CHARS) throw new InvalidInput("deploymentId is too long");
  if (hasLoneSurrogate(deploymentId)) throw new InvalidInput("deploymentId is not valid Unicode");
  // The same public salt for every mailbox of a deployment: the help-seeker
  // has only the token, so there is nowhere to keep a per-mailbox salt.
  return blake2b(concatBytes(labelBytes(LABELS.MAIL_SALT), encoder.encode(deploymentId)), { digestSize: SALT_BYTES });
}

/**
 * Token -> Argon2id master key -> {lookupKey, x25519Secret, x25519Public,
 * ed25519Seed, ed25519Public, ed25519SecretKey}. The token is parsed first
 * (a typo throws InvalidToken). deploymentId and the parameters come from
 * the deployment's configuration. Synchronous and slow at production
 * parameters: show that work is going on before calling it.
 */
export function deriveMailbox(token, deploymentId, { opslimit, memlimit } = {}) {
  const canonical = parseToken(token);
  const salt = mailboxSalt(deploymentId);
  requireKdf(opslimit, memlimit);
  const password = encoder.encode(canonical);
  try {
    const master = argon2id(KEY_BYTES, password, salt, opslimit, memlimit);
    try {
      // Three subkeys under distinct labels: the lookup key, which the server
      // sees, reveals nothing about the two private keys.
      const subkey = (label) => blake2b(labelBytes(label), { key: master, digestSize: KEY_BYTES });
      const lookupKey = subkey(LABELS.MAIL_LOOKUP);
      const x25519Secret = subkey(LABELS.MAIL_X25519);
      const ed25519Seed = subkey(LABELS.MAIL_ED25519);
      const sign = ed25519KeyPairFromSeed(ed25519Seed);
      return {
        lookupKey,
        x25519Secret,
        x25519Public: x25519PublicFromSecret(x25519Secret),
        ed25519Seed,
        ed25519Public: sign.publicKey,
        ed25519SecretKey: sign.secretKey,
      };
    } finally {
      memzero(master);
    }
  } finally {
    memzero(password);
  }
}

// ---------------------------------------------------------------------------
// Key certificates (12.3)
// ---------------------------------------------------------------------------

function keyCertificateMessage(x25519Public) {
  requireBytes(x25519Public, PUBLIC_KEY_BYTES, "x25519Public");
  return concatBytes(labelBytes(LABELS.MAIL_KEY_CERT), x25519Public);
}

/**
 * A detached Ed25519 signature (64 bytes) by an identity (or mailbox) over
 * its own X25519 public key: made at enrolment, so that pages encrypting to
 * the volunteer can check the X25519 key the server hands out.
 */
export function signKeyCertificate(holder) {
  requireSigner(holder, "holder");
  requireReader(holder, "holder");
  // Vouch only for the X25519 key that really belongs to this holder.
  if (!constantTimeEqual(x25519PublicFromSecret(holder.x25519Secret), holder.x25519Public)) {
    throw new InvalidInput("holder X25519 keys do not belong together");
  }
  return ed25519SignDetached(holder.ed25519SecretKey, keyCertificateMessage(holder.x25519Public));
}

/** Returns nothing; throws BadSignature unless `certificate` vouches for x25519Public (InvalidInput for sizes). */
export function verifyKeyCertificate(ed25519Public, x25519Public, certificate) {
  requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "ed25519Public");
  const message = keyCertificateMessage(x25519Public);
  requireBytes(certificate, SIGNATURE_BYTES, "certificate");
  verifySignature(ed25519Public, message, certificate, "the key certificate does not vouch for this X25519 key");
}

// ---------------------------------------------------------------------------
// Messages (12.4 to 12.6)
// ---------------------------------------------------------------------------

export const MAIL_THREAD_ID_BYTES = 16;
export const MAIL_VERSION = 1;
export const MAX_MAIL_CONTENT = 32768;
export const MAX_MAIL_SEQ = Number.MAX_SAFE_INTEGER;
export const AUTHOR_SEEKER = 1;
export const AUTHOR_VOLUNTEER = 2;
export const MAIL_WRAP_BYTES = KEY_BYTES + BOX_SEAL_OVERHEAD_BYTES; // 80
const MAIL_HEADER_BYTES = 1 + AEAD_NONCE_BYTES; // version + nonce
export const MIN_MAIL_BODY_BYTES = MAIL_HEADER_BYTES + PAD_BLOCK + AEAD_TAG_BYTES; // 297
export const MAX_MAIL_BODY_BYTES = MAIL_HEADER_BYTES + paddedSize(MAX_MAIL_CONTENT) + AEAD_TAG_BYTES; // 33065

/** A fresh random 16-byte thread id. */
export function newMailThreadId() {
  return randomBytes(MAIL_THREAD_ID_BYTES);
}

function mailPosition(threadId, seq, author) {
  requireBytes(threadId, MAIL_THREAD_ID_BYTES, "threadId");
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > MAX_MAIL_SEQ) {
    throw new InvalidInput(`seq must be an integer between 1 and ${MAX_MAIL_SEQ}`);
  }
  if (author !== AUTHOR_SEEKER && author !== AUTHOR_VOLUNTEER) {
    throw new InvalidInput("author must be AUTHOR_SEEKER (1) or AUTHOR_VOLUNTEER (2)");
  }
  // thread id || seq || author: fixed sizes, so exactly one parse.
  return concatBytes(threadId, seqBytes(seq), Uint8Array.of(author));
}

function mailBody(body) {
  requireBytes(body, undefined, "mail body");
  const n = body.length;
  if (n < MIN_MAIL_BODY_BYTES || n > MAX_MAIL_BODY_BYTES
    || (n - MAIL_HEADER_BYTES - AEAD_TAG_BYTES) % PAD_BLOCK !== 0) {
    throw new InvalidInput(
      `mail body must be ${MAIL_HEADER_BYTES} + ${PAD_BLOCK}*k + ${AEAD_TAG_BYTES} bytes, ` +
        `${MIN_MAIL_BODY_BYTES} to ${MAX_MAIL_BODY_BYTES}; got ${n}`,
    );
  }
  if (body[0] !== MAIL_VERSION) throw new InvalidInput(`unknown mail body version ${body[0]}`);
  return body;
}

function mailNonce(contentKey) {
  // Each content key encrypts one message, so a nonce that is a function of
  // the key is never reused; as a PRF of the key it also makes the signed
  // body a commitment to the key (XChaCha20-Poly1305 alone is not
  // key-committing: one body could open to two texts under two keys).
  return blake2b(labelBytes(LABELS.MAIL_NONCE), { key: contentKey, digestSize: AEAD_NONCE_BYTES });
}

function mailSignedMessage(position, body) {
  return concatBytes(labelBytes(LABELS.MAIL_SIGNATURE), position, blake2b(body, { digestSize: KEY_BYTES }));
}

function mailAd(position) {
  return concatBytes(labelBytes(LABELS.MAIL_AD), position);
}

function unwrapMailKey(wrap, reader) {
  return boxSealOpen(wrap, reader.x25519Public, reader.x25519Secret,
    "the wrapped key is not for this reader, or was tampered with");
}

/**
 * Encrypt, sign and wrap one mail message: {body, signature, seekerWrap,
 * volunteerWrap}. `signer` is the author's mailbox (AUTHOR_SEEKER) or
 * identity (AUTHOR_VOLUNTEER); volunteerX25519Public MUST have passed
 * verifyKeyCertificate. `options.key` (the content key) exists only for test
 * vectors; production callers MUST leave it out.
 */
export function sealMail(threadId, seq, author, content, signer, seekerX25519Public, volunteerX25519Public,
  { key } = {}) {
  const position = mailPosition(threadId, seq, author);
  requireBytes(content, undefined, "content");
  if (content.length > MAX_MAIL_CONTENT) {
    throw new InvalidInput(`mail messages are at most ${MAX_MAIL_CONTENT} bytes, got ${content.length}`);
  }
  requireSigner(signer, "signer");
  requireBytes(seekerX25519Public, PUBLIC_KEY_BYTES, "seekerX25519Public");
  requireBytes(volunteerX25519Public, PUBLIC_KEY_BYTES, "volunteerX25519Public");
  const contentKey = key === undefined ? randomBytes(KEY_BYTES) : Uint8Array.from(requireBytes(key, KEY_BYTES, "key"));
  const padded = pad(content);
  try {
    const nonce = mailNonce(contentKey);
    const sealed = aeadEncrypt(contentKey, nonce, padded, mailAd(position));
    const body = concatBytes(Uint8Array.of(MAIL_VERSION), nonce, sealed);
    return {
      body,
      signature: ed25519SignDetached(signer.ed25519SecretKey, mailSignedMessage(position, body)),
      seekerWrap: boxSeal(contentKey, seekerX25519Public),
      volunteerWrap: boxSeal(contentKey, volunteerX25519Public),
    };
  } finally {
    memzero(contentKey);
    memzero(padded);
  }
}

/**
 * Check a mail message's shape and its author's signature. Returns nothing;
 * throws InvalidInput (sizes, body shape or version, checked first) or
 * BadSignature (not signed by authorEd25519Public for this thread, seq,
 * author and body).
 */
export function verifyMailSignature(threadId, seq, author, body, signature, authorEd25519Public) {
  const position = mailPosition(threadId, seq, author);
  mailBody(body);
  requireBytes(signature, SIGNATURE_BYTES, "signature");
  requireBytes(authorEd25519Public, PUBLIC_KEY_BYTES, "authorEd25519Public");
  verifySignature(authorEd25519Public, mailSignedMessage(position, body), signature,
    "the mail message is not signed by this author for this thread and position");
}

/**
 * Check and decrypt one mail message for `reader` (a mailbox or identity:
 * {x25519Public, x25519Secret}); returns the content. In this order: sizes
 * (InvalidInput), the signature (BadSignature), the wrap, the key commitment,
 * the AEAD and the padding (DecryptionFailed). Returns nothing on failure.
 */
export function openMail(threadId, seq, author, body, signature, wrap, reader, authorEd25519Public) {
  requireReader(reader, "reader");
  requireBytes(wrap, MAIL_WRAP_BYTES, "wrap");
  verifyMailSignature(threadId, seq, author, body, signature, authorEd25519Public);
  const position = mailPosition(threadId, seq, author);
  const contentKey = unwrapMailKey(wrap, reader);
  let padded;
  try {
    const nonce = body.subarray(1, MAIL_HEADER_BYTES);
    if (!constantTimeEqual(mailNonce(contentKey), nonce)) {
      // A key this body was not made with: a wrap of another message, or one
      // made up by whoever can seal to the reader.
      throw new DecryptionFailed("the wrapped key does not belong to this message");
    }
    padded = aeadDecrypt(contentKey, nonce, body.subarray(MAIL_HEADER_BYTES), mailAd(position),
      "authentication failed: wrong key, wrong position or tampered data");
    return unpad(padded, MAX_MAIL_CONTENT, "mail");
  } finally {
    memzero(contentKey);
    if (padded !== undefined) memzero(padded);
  }
}

/**
 * Unwrap a message key with `reader`'s key and seal it to another reader
 * (80 bytes): for a handover (volunteer -> colleague) and a reassignment
 * (help-seeker -> new volunteer). newReaderX25519Public MUST have passed
 * verifyKeyCertificate: this hands the message to whoever holds that key.
 * Throws DecryptionFailed if the wrap is not for `reader`.
 */
export function rewrapMailKey(wrap, reader, newReaderX25519Public) {
  requireReader(reader, "reader");
  requireBytes(wrap, MAIL_WRAP_BYTES, "wrap");
  requireBytes(newReaderX25519Public, PUBLIC_KEY_BYTES, "newReaderX25519Public");
  const contentKey = unwrapMailKey(wrap, reader);
  try {
    return boxSeal(contentKey, newReaderX25519Public);
  } finally {
    memzero(contentKey);
  }
}

// ---------------------------------------------------------------------------
// Notes on a thread (12.10)
// ---------------------------------------------------------------------------

export const MAIL_NOTE_VERSION = 1;
export const MAX_MAIL_NOTE_CONTENT = 8192; // bytes of UTF-8; the page allows 2,000 characters
const NOTE_TAIL = SIGNATURE_BYTES + MAIL_WRAP_BYTES; // signature (64) and wrap (80) after the body
export const MIN_MAIL_NOTE_BYTES = MAIL_HEADER_BYTES + PAD_BLOCK + AEAD_TAG_BYTES + NOTE_TAIL; // 441
export const MAX_MAIL_NOTE_BYTES = MAIL_HEADER_BYTES + paddedSize(MAX_MAIL_NOTE_CONTENT) + AEAD_TAG_BYTES
  + NOTE_TAIL; // 8633

function noteParts(note) {
  requireBytes(note, undefined, "mail note");
  const n = note.length;
  if (n < MIN_MAIL_NOTE_BYTES || n > MAX_MAIL_NOTE_BYTES
    || (n - MAIL_HEADER_BYTES - AEAD_TAG_BYTES - NOTE_TAIL) % PAD_BLOCK !== 0) {
    throw new InvalidInput(
      `mail note must be ${MAIL_HEADER_BYTES} + ${PAD_BLOCK}*k + ${AEAD_TAG_BYTES} + ${NOTE_TAIL} bytes, ` +
        `${MIN_MAIL_NOTE_BYTES} to ${MAX_MAIL_NOTE_BYTES}; got ${n}`,
    );
  }
  if (note[0] !== MAIL_NOTE_VERSION) throw new InvalidInput(`unknown mail note version ${note[0]}`);
  const bodyEnd = n - NOTE_TAIL;
  return {
    body: note.subarray(0, bodyEnd),
    signature: note.subarray(bodyEnd, bodyEnd + SIGNATURE_BYTES),
    wrap: note.subarray(bodyEnd + SIGNATURE_BYTES),
  };
}

function noteNonce(contentKey) {
  return blake2b(labelBytes(LABELS.MAIL_NOTE_NONCE), { key: contentKey, digestSize: AEAD_NONCE_BYTES });
}

function noteSignedMessage(threadId, body) {
  return concatBytes(labelBytes(LABELS.MAIL_NOTE_SIGNATURE), threadId, blake2b(body, { digestSize: KEY_BYTES }));
}

/**
 * A volunteer's private note on a thread (PROTOCOL.md 12.10): body || signature
 * || wrap. Encrypted under a fresh key, signed by `writer` (the volunteer's
 * identity), the key sealed to readerX25519Public (the writer's own key, or at
 * a handover the colleague's, which MUST have passed verifyKeyCertificate).
 * `options.key` exists only for test vectors; production callers MUST leave it out.
 */
export function sealMailNote(threadId, content, writer, readerX25519Public, { key } = {}) {
  requireBytes(threadId, MAIL_THREAD_ID_BYTES, "threadId");
  requireBytes(content, undefined, "content");
  if (content.length > MAX_MAIL_NOTE_CONTENT) {
    throw new InvalidInput(`notes are at most ${MAX_MAIL_NOTE_CONTENT} bytes, got ${content.length}`);
  }
  requireSigner(writer, "writer");
  requireBytes(readerX25519Public, PUBLIC_KEY_BYTES, "readerX25519Public");
  const contentKey = key === undefined ? randomBytes(KEY_BYTES) : Uint8Array.from(requireBytes(key, KEY_BYTES, "key"));
  const padded = pad(content);
  try {
    const nonce = noteNonce(contentKey);
    const body = concatBytes(Uint8Array.of(MAIL_NOTE_VERSION), nonce,
      aeadEncrypt(contentKey, nonce, padded, concatBytes(labelBytes(LABELS.MAIL_NOTE_AD), threadId)));
    const signature = ed25519SignDetached(writer.ed25519SecretKey, noteSignedMessage(threadId, body));
    return concatBytes(body, signature, boxSeal(contentKey, readerX25519Public));
  } finally {
    memzero(contentKey);
    memzero(padded);
  }
}

/**
 * Check and decrypt a note for `reader` (an identity); returns its content. In
 * this order: sizes and version (InvalidInput), the writer's signature over
 * this thread and body (BadSignature), the wrap, the key commitment, the AEAD
 * and the padding (DecryptionFailed). Returns nothing on failure.
 */
export function openMailNote(threadId, note, reader, writerEd25519Public) {
  requireBytes(threadId, MAIL_THREAD_ID_BYTES, "threadId");
  const { body, signature, wrap } = noteParts(note);
  requireReader(reader, "reader");
  requireBytes(writerEd25519Public, PUBLIC_KEY_BYTES, "writerEd25519Public");
  verifySignature(writerEd25519Public, noteSignedMessage(threadId, body), signature,
    "the note is not signed by this writer for this thread");
  const contentKey = boxSealOpen(wrap, reader.x25519Public, reader.x25519Secret,
    "the wrapped key is not for this reader, or was tampered with");
  let padded;
  try {
    const nonce = body.subarray(1, MAIL_HEADER_BYTES);
    if (!constantTimeEqual(noteNonce(contentKey), nonce)) {
      throw new DecryptionFailed("the wrapped key does not belong to this note");
    }
    padded = aeadDecrypt(contentKey, nonce, body.subarray(MAIL_HEADER_BYTES),
      concatBytes(labelBytes(LABELS.MAIL_NOTE_AD), threadId),
      "authentication failed: wrong key, wrong thread or tampered data");
    return unpad(padded, MAX_MAIL_NOTE_CONTENT, "mail note");
  } finally {
    memzero(contentKey);
    if (padded !== undefined) memzero(padded);
  }
}
