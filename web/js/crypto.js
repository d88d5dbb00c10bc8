// The browser half of the Luisterend Oor crypto facade.
//
// This is the only browser module that touches libsodium. It mirrors the
// Python package crypto/ byte for byte: same labels, same encodings, same
// MUST-reject rules (crypto/PROTOCOL.md). tests/vectors/*.json pin the bytes
// for both languages.
//
// Call `await ready()` once before anything else. Secrets are Uint8Arrays
// held in page memory only; intermediate secrets are wiped with
// sodium.memzero as soon as they are no longer needed.

import sodiumModule from "libsodium-wrappers-sumo";

// Same strings as crypto/labels.py. Encoded with TextEncoder (ASCII) at use.
export const LABELS = Object.freeze({
  VOLUNTEER_AUTH: "luisterend-oor/v1/volunteer/auth-key",
  VOLUNTEER_WRAP: "luisterend-oor/v1/volunteer/wrapping-key",
  IDENTITY_WRAP: "luisterend-oor/v1/volunteer/identity-wrap",
  SERVER_TOKEN: "luisterend-oor/v1/server/token-hash",
  FAKE_SALT: "luisterend-oor/v1/server/fake-salt",
  CHAT_OFFER: "luisterend-oor/v1/chat/offer",
  CHAT_LINK: "luisterend-oor/v1/chat/link",
  CHAT_MESSAGE_KEY: "luisterend-oor/v1/chat/message-key",
  CHAT_CHAIN_KEY: "luisterend-oor/v1/chat/chain-key",
  CHAT_AD: "luisterend-oor/v1/chat/ad",
  POW: "luisterend-oor/v1/pow",
  MAIL_SALT: "luisterend-oor/v1/mail/salt",
  MAIL_LOOKUP: "luisterend-oor/v1/mail/lookup-key",
  MAIL_LOOKUP_HASH: "luisterend-oor/v1/mail/lookup-hash",
  MAIL_X25519: "luisterend-oor/v1/mail/x25519",
  MAIL_ED25519: "luisterend-oor/v1/mail/ed25519",
  MAIL_KEY_CERT: "luisterend-oor/v1/mail/key-certificate",
  MAIL_NONCE: "luisterend-oor/v1/mail/nonce",
  MAIL_AD: "luisterend-oor/v1/mail/ad",
  MAIL_SIGNATURE: "luisterend-oor/v1/mail/signature",
});

export const SALT_BYTES = 16;
export const KEY_BYTES = 32;
export const PUBLIC_KEY_BYTES = 32;
export const WRAP_VERSION = 1;
const NONCE_BYTES = 24; // XChaCha20-Poly1305-IETF public nonce
const TAG_BYTES = 16;
const WRAP_HEADER_BYTES = 1 + NONCE_BYTES;
export const WRAPPED_IDENTITY_BYTES = WRAP_HEADER_BYTES + 2 * KEY_BYTES + TAG_BYTES; // 105
// libsodium's own Argon2id minimums; the deployment's policy floor (>= 64 MiB)
// is the server configuration's business.
export const MIN_OPSLIMIT = 1;
export const MIN_MEMLIMIT = 8192;
const MAX_PASSPHRASE_CHARS = 4096;

// ---------------------------------------------------------------------------
// Errors: the same tree as crypto/errors.py.
// ---------------------------------------------------------------------------

/** A cryptographic operation refused to go on; see the subclass. */
export class CryptoError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** Malformed input (length, version byte, base64, parameters); nothing was decrypted. */
export class InvalidInput extends CryptoError {}

/**
 * A mail return token was mistyped; nothing was derived or sent. `reason` is
 * "length" (not 20 symbols without separators), "character" (a character
 * that never occurs in a token) or "check" (the check symbols do not match:
 * a symbol mistyped or two neighbours swapped). The token is never in the message.
 */
export class InvalidToken extends InvalidInput {
  constructor(reason, message = undefined) {
    super(message === undefined ? `invalid token (${reason})` : message);
    this.reason = reason;
  }
}

/**
 * Authentication failed (wrong key, e.g. wrong passphrase, or tampered data),
 * or a chat message arrived out of order.
 */
export class DecryptionFailed extends CryptoError {}

/**
 * A signature did not verify: a chat offer, a key certificate or a mail
 * message was not signed by the key it was checked with. Do not use it.
 */
export class BadSignature extends CryptoError {}

// ---------------------------------------------------------------------------
// Initialisation
// ---------------------------------------------------------------------------

let sodium = null;
let readyPromise = null;

/** Wait until libsodium's WebAssembly is loaded. Safe to call many times. */
export async function ready() {
  if (readyPromise === null) {
    readyPromise = sodiumModule.ready.then(() => {
      sodium = sodiumModule;
    });
  }
  await readyPromise;
}

function lib() {
  if (sodium === null) {
    throw new CryptoError("crypto.js used before `await ready()`");
  }
  return sodium;
}

// ---------------------------------------------------------------------------
// Input checks
// ---------------------------------------------------------------------------

function requireBytes(value, length, what) {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidInput(`${what} must be a Uint8Array`);
  }
  if (length !== undefined && length !== null && value.length !== length) {
    throw new InvalidInput(`${what} must be ${length} bytes, got ${value.length}`);
  }
  return value;
}

function requireInt(value, min, what) {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidInput(`${what} must be an integer of at least ${min}`);
  }
  return value;
}

const encoder = new TextEncoder();

function hasLoneSurrogate(text) {
  if (typeof text.isWellFormed === "function") return !text.isWellFormed();
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

function nfcUtf8(text, what, maxChars) {
  if (typeof text !== "string") throw new InvalidInput(`${what} must be a string`);
  if (text.length > maxChars) throw new InvalidInput(`${what} is too long`);
  // Lone surrogates: TextEncoder would silently replace them with U+FFFD,
  // Python refuses them. Refuse here too so both sides always agree.
  if (hasLoneSurrogate(text)) throw new InvalidInput(`${what} is not valid Unicode`);
  // NFC: one code point or base + combining accent must give the same key.
  return encoder.encode(text.normalize("NFC"));
}

// ---------------------------------------------------------------------------
// Encoding: URL-safe base64 without padding, canonical only.
// ---------------------------------------------------------------------------

const B64_RE = /^[A-Za-z0-9_-]*$/;

/** Encode bytes as URL-safe base64 without padding. */
export function b64encode(u8) {
  requireBytes(u8, undefined, "data");
  return lib().to_base64(u8, lib().base64_variants.URLSAFE_NO_PADDING);
}

/**
 * Decode canonical URL-safe base64 without padding; throws InvalidInput on
 * any other character (also "=", "+", "/", whitespace), an impossible length,
 * non-zero unused bits, or (when `length` is given) the wrong decoded length.
 */
export function b64decode(text, length = undefined) {
  if (typeof text !== "string") throw new InvalidInput("base64 input must be a string");
  if (length !== undefined && length !== null) {
    if (text.length !== Math.floor((4 * length + 2) / 3)) {
      throw new InvalidInput(`expected base64 of ${length} bytes`);
    }
  }
  if (!B64_RE.test(text)) {
    throw new InvalidInput("base64 must use the URL-safe alphabet without padding");
  }
  if (text.length % 4 === 1) throw new InvalidInput("base64 input has an impossible length");
  let out;
  try {
    out = lib().from_base64(text, lib().base64_variants.URLSAFE_NO_PADDING);
  } catch {
    throw new InvalidInput("malformed base64");
  }
  if (b64encode(out) !== text) throw new InvalidInput("non-canonical base64");
  return out;
}

// ---------------------------------------------------------------------------
// Volunteer keys
// ---------------------------------------------------------------------------

/** A fresh random Argon2id salt (16 bytes). */
export function newSalt() {
  return lib().randombytes_buf(SALT_BYTES);
}

/**
 * Passphrase -> Argon2id master key -> BLAKE2b auth key and wrapping key.
 * Synchronous and slow (about a second at production parameters): show the
 * user that work is going on before calling it.
 */
export function deriveVolunteerKeys(passphrase, salt, { opslimit, memlimit } = {}) {
  const s = lib();
  const password = nfcUtf8(passphrase, "passphrase", MAX_PASSPHRASE_CHARS);
  try {
    if (password.length === 0) throw new InvalidInput("passphrase must not be empty");
    requireBytes(salt, SALT_BYTES, "salt");
    requireInt(opslimit, MIN_OPSLIMIT, "opslimit");
    requireInt(memlimit, MIN_MEMLIMIT, "memlimit");
    let master;
    try {
      master = s.crypto_pwhash(
        KEY_BYTES, password, salt, opslimit, memlimit, s.crypto_pwhash_ALG_ARGON2ID13,
      );
    } catch (err) {
      throw new InvalidInput(`Argon2id could not run with these parameters: ${err.message}`);
    }
    try {
      // The master key is only ever a BLAKE2b key, so new subkeys can be added
      // under new labels without touching these two.
      return {
        authKey: s.crypto_generichash(KEY_BYTES, encoder.encode(LABELS.VOLUNTEER_AUTH), master),
        wrappingKey: s.crypto_generichash(KEY_BYTES, encoder.encode(LABELS.VOLUNTEER_WRAP), master),
      };
    } finally {
      s.memzero(master);
    }
  } finally {
    s.memzero(password);
  }
}

// ---------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------

/**
 * Rebuild an identity from its two 32-byte secrets. ed25519SecretKey is
 * libsodium's 64-byte signing key (seed || public key), ready for
 * crypto_sign_detached. The secrets are copied, so the caller may wipe its own.
 */
export function identityFromSecrets(x25519Secret, ed25519Seed) {
  const s = lib();
  requireBytes(x25519Secret, KEY_BYTES, "x25519Secret");
  requireBytes(ed25519Seed, KEY_BYTES, "ed25519Seed");
  const sign = s.crypto_sign_seed_keypair(ed25519Seed);
  return {
    x25519Secret: Uint8Array.from(x25519Secret),
    x25519Public: s.crypto_scalarmult_base(x25519Secret),
    ed25519Seed: Uint8Array.from(ed25519Seed),
    ed25519Public: sign.publicKey,
    ed25519SecretKey: sign.privateKey,
  };
}

/** A fresh random identity (X25519 + Ed25519). */
export function newIdentity() {
  const s = lib();
  const xSec = s.randombytes_buf(KEY_BYTES);
  const eSeed = s.randombytes_buf(KEY_BYTES);
  try {
    return identityFromSecrets(xSec, eSeed);
  } finally {
    s.memzero(xSec);
    s.memzero(eSeed);
  }
}

function wrapAd(x25519Public, ed25519Public) {
  // Binding both public keys means a server cannot pair this blob with
  // public keys of its choosing: decryption would fail.
  const label = encoder.encode(LABELS.IDENTITY_WRAP);
  const ad = new Uint8Array(label.length + 2 * PUBLIC_KEY_BYTES);
  ad.set(label, 0);
  ad.set(x25519Public, label.length);
  ad.set(ed25519Public, label.length + PUBLIC_KEY_BYTES);
  return ad;
}

function publicKeysMatch(s, x25519Secret, ed25519Seed, x25519Public, ed25519Public) {
  const xCalc = s.crypto_scalarmult_base(x25519Secret);
  const sign = s.crypto_sign_seed_keypair(ed25519Seed);
  try {
    const xOk = s.memcmp(xCalc, x25519Public);
    const eOk = s.memcmp(sign.publicKey, ed25519Public);
    return xOk && eOk;
  } finally {
    s.memzero(sign.privateKey);
  }
}

/**
 * Encrypt the identity's secrets under the wrapping key: a 105-byte blob
 * version(1) || nonce(24) || XChaCha20-Poly1305(secrets(64)) || tag(16).
 * `nonce` exists only for test vectors; production callers MUST omit it.
 */
export function wrapIdentity(wrappingKey, identity, nonce = undefined) {
  const s = lib();
  requireBytes(wrappingKey, KEY_BYTES, "wrappingKey");
  if (identity === null || typeof identity !== "object") {
    throw new InvalidInput("identity must be an identity object");
  }
  const { x25519Secret, x25519Public, ed25519Seed, ed25519Public } = identity;
  requireBytes(x25519Secret, KEY_BYTES, "identity.x25519Secret");
  requireBytes(x25519Public, PUBLIC_KEY_BYTES, "identity.x25519Public");
  requireBytes(ed25519Seed, KEY_BYTES, "identity.ed25519Seed");
  requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "identity.ed25519Public");
  // Refuse to seal an inconsistent identity: it could never be unwrapped.
  if (!publicKeysMatch(s, x25519Secret, ed25519Seed, x25519Public, ed25519Public)) {
    throw new InvalidInput("identity public keys do not belong to its secrets");
  }
  const n = nonce === undefined ? s.randombytes_buf(NONCE_BYTES) : requireBytes(nonce, NONCE_BYTES, "nonce");
  const plaintext = new Uint8Array(2 * KEY_BYTES);
  plaintext.set(x25519Secret, 0);
  plaintext.set(ed25519Seed, KEY_BYTES);
  let sealed;
  try {
    sealed = s.crypto_aead_xchacha20poly1305_ietf_encrypt(
      plaintext, wrapAd(x25519Public, ed25519Public), null, n, wrappingKey,
    );
  } finally {
    s.memzero(plaintext);
  }
  const blob = new Uint8Array(WRAPPED_IDENTITY_BYTES);
  blob[0] = WRAP_VERSION;
  blob.set(n, 1);
  blob.set(sealed, WRAP_HEADER_BYTES);
  return blob;
}

/**
 * Decrypt a wrapped identity and check it against the published public keys.
 * Throws InvalidInput (wrong length or version, checked before decrypting)
 * or DecryptionFailed (wrong key, tampering, or secrets that do not match
 * the public keys).
 */
export function unwrapIdentity(wrappingKey, blob, x25519Public, ed25519Public) {
  const s = lib();
  requireBytes(wrappingKey, KEY_BYTES, "wrappingKey");
  requireBytes(blob, undefined, "wrapped identity");
  requireBytes(x25519Public, PUBLIC_KEY_BYTES, "x25519Public");
  requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "ed25519Public");
  if (blob.length !== WRAPPED_IDENTITY_BYTES) {
    throw new InvalidInput(`wrapped identity must be ${WRAPPED_IDENTITY_BYTES} bytes, got ${blob.length}`);
  }
  if (blob[0] !== WRAP_VERSION) throw new InvalidInput(`unknown wrapped identity version ${blob[0]}`);
  let secrets;
  try {
    secrets = s.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      blob.subarray(WRAP_HEADER_BYTES),
      wrapAd(x25519Public, ed25519Public),
      blob.subarray(1, WRAP_HEADER_BYTES),
      wrappingKey,
    );
  } catch {
    throw new DecryptionFailed("authentication failed: wrong key or tampered data");
  }
  try {
    const xSec = secrets.subarray(0, KEY_BYTES);
    const eSeed = secrets.subarray(KEY_BYTES);
    // The tag proves who sealed the blob, not that the secrets belong to the
    // public keys; recompute and compare before trusting them.
    if (!publicKeysMatch(s, xSec, eSeed, x25519Public, ed25519Public)) {
      throw new DecryptionFailed("wrapped secrets do not match the published public keys");
    }
    return identityFromSecrets(xSec, eSeed);
  } finally {
    s.memzero(secrets);
  }
}

// ---------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------

const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** UTF-8 bytes of a string; throws InvalidInput on lone surrogates (never U+FFFD). */
export function encodeText(text) {
  if (typeof text !== "string") throw new InvalidInput("text must be a string");
  if (hasLoneSurrogate(text)) throw new InvalidInput("text is not valid Unicode");
  return encoder.encode(text);
}

/** The string of UTF-8 bytes; throws InvalidInput on invalid UTF-8 (never U+FFFD). */
export function decodeText(u8) {
  requireBytes(u8, undefined, "text bytes");
  try {
    return fatalDecoder.decode(u8);
  } catch {
    throw new InvalidInput("text is not valid UTF-8");
  }
}

// ---------------------------------------------------------------------------
// Chat (crypto/PROTOCOL.md section 10): ephemeral crypto_kx keys, a signed
// offer, a per-message symmetric ratchet, XChaCha20-Poly1305 with a counter
// nonce and associated data, and padding to 256-byte buckets.
// ---------------------------------------------------------------------------

export const CHAT_ID_BYTES = 16;
export const SIGNATURE_BYTES = 64;
export const MAX_CHAT_CONTENT = 8192;
// Largest integer a JSON number carries exactly into JavaScript.
export const MAX_CHAT_SEQ = Number.MAX_SAFE_INTEGER;
const ED25519_SECRET_KEY_BYTES = 64;
const CHAT_LENGTH_BYTES = 2;
const CHAT_PAD_BLOCK = 256;
const CHAT_SEQ_BYTES = 8;
const DIR_SEEKER_TO_VOLUNTEER = 0x01;
const DIR_VOLUNTEER_TO_SEEKER = 0x02;

function chatPaddedSize(contentLength) {
  // Smallest multiple of the block holding the length field and the content:
  // the relay learns the bucket, not the exact length.
  return Math.ceil((CHAT_LENGTH_BYTES + contentLength) / CHAT_PAD_BLOCK) * CHAT_PAD_BLOCK;
}

const MAX_CHAT_PADDED = chatPaddedSize(MAX_CHAT_CONTENT); // 8448
export const MAX_CHAT_CIPHERTEXT_BYTES = MAX_CHAT_PADDED + TAG_BYTES; // 8464
const MIN_CHAT_CIPHERTEXT_BYTES = CHAT_PAD_BLOCK + TAG_BYTES; // 272

function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function seqBytes(seq) {
  // 8 bytes, big-endian; seq <= 2^53 - 1, so the high word fits in 32 bits.
  const out = new Uint8Array(CHAT_SEQ_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(seq / 0x100000000));
  view.setUint32(4, seq >>> 0);
  return out;
}

function requireKeyPair(pair, what) {
  if (pair === null || typeof pair !== "object") throw new InvalidInput(`${what} must be a chat key pair`);
  requireBytes(pair.publicKey, PUBLIC_KEY_BYTES, `${what}.publicKey`);
  requireBytes(pair.secretKey, KEY_BYTES, `${what}.secretKey`);
  return pair;
}

/** A fresh ephemeral X25519 key pair for one chat: {publicKey, secretKey}. */
export function newChatKeyPair() {
  const pair = lib().crypto_kx_keypair();
  return { publicKey: pair.publicKey, secretKey: pair.privateKey };
}

/**
 * The key pair of a 32-byte secret, as crypto_kx_keypair makes it (X25519
 * base point multiplication; not crypto_kx_seed_keypair, which hashes the
 * seed first). For test vectors. The secret is copied.
 */
export function chatKeyPairFromSecret(secret) {
  requireBytes(secret, KEY_BYTES, "chat secret key");
  return { publicKey: lib().crypto_scalarmult_base(secret), secretKey: Uint8Array.from(secret) };
}

function chatOfferMessage(chatId, seekerPublic, volunteerPublic) {
  requireBytes(chatId, CHAT_ID_BYTES, "chatId");
  requireBytes(seekerPublic, PUBLIC_KEY_BYTES, "seekerPublic");
  requireBytes(volunteerPublic, PUBLIC_KEY_BYTES, "volunteerPublic");
  // The help-seeker's own key is signed too: the server can neither hand this
  // offer to anyone else nor slip the volunteer a key of its own and forward
  // the signature (man in the middle).
  return concatBytes(encoder.encode(LABELS.CHAT_OFFER), chatId, seekerPublic, volunteerPublic);
}

/** The volunteer's detached Ed25519 signature (64 bytes) over its ephemeral key for this chat. */
export function signChatOffer(identity, chatId, seekerPublic, volunteerPublic) {
  const s = lib();
  if (identity === null || typeof identity !== "object") {
    throw new InvalidInput("identity must be an identity object");
  }
  requireBytes(identity.ed25519SecretKey, ED25519_SECRET_KEY_BYTES, "identity.ed25519SecretKey");
  requireBytes(identity.ed25519Public, PUBLIC_KEY_BYTES, "identity.ed25519Public");
  // libsodium signs with the public key stored in the secret key's second
  // half; refuse an identity whose halves disagree rather than sign garbage.
  if (!s.memcmp(identity.ed25519SecretKey.subarray(KEY_BYTES), identity.ed25519Public)) {
    throw new InvalidInput("identity Ed25519 keys do not belong together");
  }
  return s.crypto_sign_detached(chatOfferMessage(chatId, seekerPublic, volunteerPublic), identity.ed25519SecretKey);
}

/**
 * Check a chat offer before using the offered key. Returns nothing; throws
 * BadSignature if the signature does not verify, InvalidInput for wrong sizes.
 */
export function verifyChatOffer(ed25519Public, chatId, seekerPublic, volunteerPublic, signature) {
  const s = lib();
  requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "ed25519Public");
  const message = chatOfferMessage(chatId, seekerPublic, volunteerPublic);
  requireBytes(signature, SIGNATURE_BYTES, "signature");
  let ok;
  try {
    ok = s.crypto_sign_verify_detached(signature, message, ed25519Public);
  } catch {
    ok = false;
  }
  if (ok !== true) throw new BadSignature("the chat offer is not signed by this volunteer for this chat");
}

/** The roles of the two ends of a staff link (PROTOCOL.md 10.11). */
export const LINK_INVITER = 1;
export const LINK_JOINER = 2;

/** A fresh random 16-byte id for a staff link (chosen by the inviter's page). */
export function newLinkId() {
  return lib().randombytes_buf(CHAT_ID_BYTES);
}

function linkMessage(linkId, role, ownPublic, peerPublic) {
  requireBytes(linkId, CHAT_ID_BYTES, "linkId");
  if (role !== LINK_INVITER && role !== LINK_JOINER) throw new InvalidInput("role must be LINK_INVITER or LINK_JOINER");
  requireBytes(ownPublic, PUBLIC_KEY_BYTES, "ownPublic");
  let peer;
  if (role === LINK_INVITER) {
    if (peerPublic !== null && peerPublic !== undefined) {
      throw new InvalidInput("the inviter signs before it knows the joiner's key: peerPublic must be null");
    }
    peer = new Uint8Array(PUBLIC_KEY_BYTES);
  } else {
    peer = requireBytes(peerPublic, PUBLIC_KEY_BYTES, "peerPublic");
  }
  return concatBytes(encoder.encode(LABELS.CHAT_LINK), linkId, Uint8Array.of(role), ownPublic, peer);
}

/**
 * A staff member's detached signature over its ephemeral key for one link between two
 * staff pages (read-along, handover note). The inviter signs (link id, own key); the
 * joiner signs (link id, own key, the inviter's key).
 */
export function signLinkKey(identity, linkId, role, ownPublic, peerPublic = null) {
  const s = lib();
  if (identity === null || typeof identity !== "object") throw new InvalidInput("identity must be an identity object");
  requireBytes(identity.ed25519SecretKey, ED25519_SECRET_KEY_BYTES, "identity.ed25519SecretKey");
  requireBytes(identity.ed25519Public, PUBLIC_KEY_BYTES, "identity.ed25519Public");
  if (!s.memcmp(identity.ed25519SecretKey.subarray(KEY_BYTES), identity.ed25519Public)) {
    throw new InvalidInput("identity Ed25519 keys do not belong together");
  }
  return s.crypto_sign_detached(linkMessage(linkId, role, ownPublic, peerPublic), identity.ed25519SecretKey);
}

/** Check a link key signature; returns nothing, throws BadSignature (or InvalidInput for sizes). */
export function verifyLinkKey(ed25519Public, linkId, role, ownPublic, peerPublic, signature) {
  const s = lib();
  requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "ed25519Public");
  const message = linkMessage(linkId, role, ownPublic, peerPublic);
  requireBytes(signature, SIGNATURE_BYTES, "signature");
  let ok;
  try {
    ok = s.crypto_sign_verify_detached(signature, message, ed25519Public);
  } catch {
    ok = false;
  }
  if (ok !== true) throw new BadSignature("the link key is not signed by this staff member for this link");
}

function chatSeq(seq) {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > MAX_CHAT_SEQ) {
    throw new InvalidInput(`seq must be an integer between 1 and ${MAX_CHAT_SEQ}`);
  }
  return seq;
}

function chatCiphertext(ciphertext) {
  requireBytes(ciphertext, undefined, "ciphertext");
  const n = ciphertext.length;
  if (n < MIN_CHAT_CIPHERTEXT_BYTES || n > MAX_CHAT_CIPHERTEXT_BYTES || (n - TAG_BYTES) % CHAT_PAD_BLOCK !== 0) {
    throw new InvalidInput(
      `chat ciphertext must be a multiple of ${CHAT_PAD_BLOCK} bytes plus a ${TAG_BYTES}-byte tag, ` +
        `${MIN_CHAT_CIPHERTEXT_BYTES} to ${MAX_CHAT_CIPHERTEXT_BYTES} bytes; got ${n}`,
    );
  }
  return ciphertext;
}

function chatPad(content) {
  const out = new Uint8Array(chatPaddedSize(content.length)); // zero-filled
  out[0] = content.length >> 8;
  out[1] = content.length & 0xff;
  out.set(content, CHAT_LENGTH_BYTES);
  return out;
}

function chatUnpad(padded) {
  // Only a holder of the message key can produce an authenticated plaintext,
  // so this guards against a buggy or hostile peer. One padded form per
  // content: anything else is refused.
  const length = (padded[0] << 8) | padded[1];
  if (length > MAX_CHAT_CONTENT || chatPaddedSize(length) !== padded.length) {
    throw new DecryptionFailed("chat message has a malformed length field");
  }
  for (let i = CHAT_LENGTH_BYTES + length; i < padded.length; i++) {
    if (padded[i] !== 0) throw new DecryptionFailed("chat message padding is not all zeros");
  }
  return padded.slice(CHAT_LENGTH_BYTES, CHAT_LENGTH_BYTES + length);
}

function chatNonce(seq) {
  // A counter nonce. Each message key encrypts exactly one message, so any
  // fixed nonce would be safe; the sequence number costs nothing and keeps
  // nonces distinct even if a key were ever reused by mistake.
  const nonce = new Uint8Array(NONCE_BYTES);
  nonce.set(seqBytes(seq), 0);
  return nonce;
}

function chatAd(chatId, direction, seq) {
  // Binds the ciphertext to its chat, direction and position (the relay's
  // "seq" field is thereby authenticated).
  return concatBytes(encoder.encode(LABELS.CHAT_AD), chatId, Uint8Array.of(direction), seqBytes(seq));
}

function chatRatchet(s, chain) {
  // [message key, next chain key]: one-way functions of the chain key under
  // distinct labels. A later chain key reveals no earlier one (forward
  // secrecy within the chat); a message key reveals no chain key.
  return [
    s.crypto_generichash(KEY_BYTES, encoder.encode(LABELS.CHAT_MESSAGE_KEY), chain),
    s.crypto_generichash(KEY_BYTES, encoder.encode(LABELS.CHAT_CHAIN_KEY), chain),
  ];
}

const CONSTRUCT = Symbol("ChatSession constructor");

/**
 * One side of an end-to-end encrypted chat. Build it with
 * ChatSession.forSeeker / ChatSession.forVolunteer. seal() gives the next
 * {seq, ciphertext} to relay; open() accepts only the next seq of the other
 * direction and changes no state when it throws. wipe() when the chat ends.
 *
 * The constructors consume the key pair: they wipe own.secretKey as soon as
 * the two session keys are derived, because forward secrecy of the chat
 * depends on that secret being gone. A key pair serves one session only.
 */
export class ChatSession {
  #chatId;
  #txDirection;
  #rxDirection;
  #txChain;
  #rxChain;
  #sent = 0;
  #received = 0;

  constructor(token, chatId, own, peerPublic, role) {
    if (token !== CONSTRUCT) {
      throw new CryptoError("use ChatSession.forSeeker or ChatSession.forVolunteer");
    }
    const s = lib();
    requireBytes(chatId, CHAT_ID_BYTES, "chatId");
    requireKeyPair(own, "own");
    requireBytes(peerPublic, PUBLIC_KEY_BYTES, "peer public key");
    let calc;
    try {
      calc = s.crypto_scalarmult_base(own.secretKey);
    } catch {
      throw new InvalidInput("chat secret key is not usable");
    }
    if (!s.memcmp(calc, own.publicKey)) {
      throw new InvalidInput("chat key pair is inconsistent, or was already used for a session");
    }
    if (s.memcmp(peerPublic, own.publicKey)) throw new InvalidInput("peer public key is our own public key");
    let keys;
    try {
      // The help-seeker is the crypto_kx client, the volunteer the server:
      // seeker.tx == volunteer.rx is direction 1, the other one direction 2.
      keys = role === "seeker"
        ? s.crypto_kx_client_session_keys(own.publicKey, own.secretKey, peerPublic)
        : s.crypto_kx_server_session_keys(own.publicKey, own.secretKey, peerPublic);
    } catch {
      // libsodium refuses a peer key that makes the shared secret all zero.
      throw new InvalidInput("key exchange failed: the peer public key is not usable");
    } finally {
      s.memzero(own.secretKey);
    }
    this.#chatId = Uint8Array.from(chatId);
    this.#txChain = keys.sharedTx;
    this.#rxChain = keys.sharedRx;
    if (role === "seeker") {
      this.#txDirection = DIR_SEEKER_TO_VOLUNTEER;
      this.#rxDirection = DIR_VOLUNTEER_TO_SEEKER;
    } else {
      this.#txDirection = DIR_VOLUNTEER_TO_SEEKER;
      this.#rxDirection = DIR_SEEKER_TO_VOLUNTEER;
    }
  }

  /** The help-seeker's side. Call verifyChatOffer first. Wipes own.secretKey. */
  static forSeeker(chatId, own, volunteerPublic) {
    return new ChatSession(CONSTRUCT, chatId, own, volunteerPublic, "seeker");
  }

  /** The volunteer's side. Wipes own.secretKey. */
  static forVolunteer(chatId, own, seekerPublic) {
    return new ChatSession(CONSTRUCT, chatId, own, seekerPublic, "volunteer");
  }

  /** Sequence number of the last message sealed (0 before the first). */
  get sent() {
    return this.#sent;
  }

  /** Sequence number of the last message opened (0 before the first). */
  get received() {
    return this.#received;
  }

  /** Encrypt the next message (a Uint8Array of at most MAX_CHAT_CONTENT bytes): {seq, ciphertext}. */
  seal(content) {
    const s = lib();
    requireBytes(content, undefined, "content");
    if (content.length > MAX_CHAT_CONTENT) {
      throw new InvalidInput(`chat messages are at most ${MAX_CHAT_CONTENT} bytes, got ${content.length}`);
    }
    if (this.#txChain === null) throw new CryptoError("this chat session was wiped");
    if (this.#sent >= MAX_CHAT_SEQ) throw new CryptoError("this chat has reached its last sequence number");
    const seq = this.#sent + 1;
    const [messageKey, nextChain] = chatRatchet(s, this.#txChain);
    const padded = chatPad(content);
    let ciphertext;
    try {
      ciphertext = s.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, chatAd(this.#chatId, this.#txDirection, seq), null, chatNonce(seq), messageKey,
      );
    } catch (err) {
      s.memzero(nextChain);
      throw new CryptoError(`encryption failed: ${err.message}`);
    } finally {
      s.memzero(messageKey);
      s.memzero(padded);
    }
    s.memzero(this.#txChain);
    this.#txChain = nextChain;
    this.#sent = seq;
    return { seq, ciphertext };
  }

  /**
   * Decrypt the next message of the other direction and return its content.
   * Throws InvalidInput (seq out of range, ciphertext of impossible size) or
   * DecryptionFailed (any seq but received + 1, failed tag, bad padding);
   * on any throw the session is unchanged.
   */
  open(seq, ciphertext) {
    const s = lib();
    chatSeq(seq);
    chatCiphertext(ciphertext);
    if (this.#rxChain === null) throw new CryptoError("this chat session was wiped");
    if (seq !== this.#received + 1) {
      throw new DecryptionFailed(`expected chat message ${this.#received + 1}, got ${seq}`);
    }
    const [messageKey, nextChain] = chatRatchet(s, this.#rxChain);
    let padded;
    try {
      padded = s.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null, ciphertext, chatAd(this.#chatId, this.#rxDirection, seq), chatNonce(seq), messageKey,
      );
    } catch {
      s.memzero(nextChain);
      throw new DecryptionFailed("authentication failed: wrong key, wrong position or tampered data");
    } finally {
      s.memzero(messageKey);
    }
    let content;
    try {
      content = chatUnpad(padded);
    } catch (err) {
      s.memzero(nextChain);
      throw err;
    } finally {
      s.memzero(padded);
    }
    // Commit only after everything succeeded.
    s.memzero(this.#rxChain);
    this.#rxChain = nextChain;
    this.#received = seq;
    return content;
  }

  /** Zero both chain keys; the session can no longer seal or open. */
  wipe() {
    const s = lib();
    if (this.#txChain !== null) s.memzero(this.#txChain);
    if (this.#rxChain !== null) s.memzero(this.#rxChain);
    this.#txChain = null;
    this.#rxChain = null;
  }
}

// ---------------------------------------------------------------------------
// Proof-of-work (crypto/PROTOCOL.md section 11)
// ---------------------------------------------------------------------------

export const POW_NONCE_BYTES = 8;
export const POW_MIN_CHALLENGE_BYTES = 16;
export const POW_MAX_CHALLENGE_BYTES = 64;
export const POW_MAX_BITS = 32;
// Hash for this long, then yield to the event loop: short enough that the
// page stays responsive (well under the 50 ms "long task" mark), long enough
// that setTimeout's minimum delay costs little. Counting hashes instead
// (say 2000 per chunk) would freeze slow phones longer and idle fast desktops.
const POW_SLICE_MS = 15;
const POW_BATCH = 256; // hashes between clock reads

function powParams(challenge, bits) {
  requireBytes(challenge, undefined, "challenge");
  if (challenge.length < POW_MIN_CHALLENGE_BYTES || challenge.length > POW_MAX_CHALLENGE_BYTES) {
    throw new InvalidInput(`challenge must be ${POW_MIN_CHALLENGE_BYTES} to ${POW_MAX_CHALLENGE_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(bits) || bits < 0 || bits > POW_MAX_BITS) {
    throw new InvalidInput(`bits must be an integer between 0 and ${POW_MAX_BITS}`);
  }
}

function hasLeadingZeroBits(digest, bits) {
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (digest[i] !== 0) return false;
  const rest = bits & 7;
  return rest === 0 || digest[full] >> (8 - rest) === 0;
}

/** True iff BLAKE2b-256(LABEL_POW || challenge || nonce) starts with `bits` zero bits. */
export function powCheck(challenge, nonce, bits) {
  powParams(challenge, bits);
  requireBytes(nonce, POW_NONCE_BYTES, "nonce");
  const digest = lib().crypto_generichash(KEY_BYTES, concatBytes(encoder.encode(LABELS.POW), challenge, nonce));
  return hasLeadingZeroBits(digest, bits);
}

/**
 * Find the first nonce, counting up from 0 (8 bytes, big-endian), that
 * passes powCheck: about 2^bits hashes. Works in short slices and yields to
 * the event loop between them, so the page never freezes; calls
 * onProgress(hashesTried) after each slice; rejects with signal.reason
 * (an AbortError by default) once the AbortSignal fires.
 * Resolves to the nonce (Uint8Array(8)).
 */
export async function solvePow(challenge, bits, { onProgress, signal } = {}) {
  const s = lib();
  powParams(challenge, bits);
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new InvalidInput("onProgress must be a function");
  }
  const input = concatBytes(encoder.encode(LABELS.POW), challenge, new Uint8Array(POW_NONCE_BYTES));
  const view = new DataView(input.buffer, input.length - POW_NONCE_BYTES, POW_NONCE_BYTES);
  let counter = 0;
  for (;;) {
    if (signal) signal.throwIfAborted();
    const started = performance.now();
    do {
      for (let i = 0; i < POW_BATCH; i++, counter++) {
        view.setUint32(0, Math.floor(counter / 0x100000000));
        view.setUint32(4, counter >>> 0);
        if (hasLeadingZeroBits(s.crypto_generichash(KEY_BYTES, input), bits)) {
          return input.slice(input.length - POW_NONCE_BYTES);
        }
      }
    } while (performance.now() - started < POW_SLICE_MS);
    if (counter > Number.MAX_SAFE_INTEGER - 1e9) throw new CryptoError("no proof-of-work nonce found");
    if (onProgress) onProgress(counter);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

// ---------------------------------------------------------------------------
// Mail (crypto/PROTOCOL.md section 12): the return token, the mailbox keys
// derived from it, volunteer key certificates, and messages readable by
// exactly the help-seeker and the assigned volunteer.
// ---------------------------------------------------------------------------

// Crockford's base32: no I, L, O, U; O, I and L are read as 0, 1 and 1.
export const MAIL_TOKEN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const MAIL_TOKEN_DATA_SYMBOLS = 18; // 90 random bits
export const MAIL_TOKEN_SYMBOLS = 20; // data + 2 check symbols
export const MAIL_TOKEN_CHECK_MODULUS = 1021; // prime, > 32 and < 32 * 32
export const MAIL_TOKEN_RANDOM_BYTES = 12; // 96 random bits, the low 90 used
const TOKEN_GROUP = 4;
const MAX_TOKEN_INPUT_CHARS = 200; // code points; checked before looking closer
// Ignored between symbols (the same set as crypto/__init__.py): spaces and
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
  const s = lib();
  const random = s.randombytes_buf(MAIL_TOKEN_RANDOM_BYTES);
  try {
    return tokenCodeFromBytes(random);
  } finally {
    s.memzero(random);
  }
}

const MAX_DEPLOYMENT_ID_CHARS = 256;

function mailboxSalt(s, deploymentId) {
  if (typeof deploymentId !== "string") throw new InvalidInput("deploymentId must be a string");
  if (deploymentId.length === 0) throw new InvalidInput("deploymentId must not be empty");
  if (Array.from(deploymentId).length > MAX_DEPLOYMENT_ID_CHARS) throw new InvalidInput("deploymentId is too long");
  if (hasLoneSurrogate(deploymentId)) throw new InvalidInput("deploymentId is not valid Unicode");
  // The same public salt for every mailbox of a deployment: the help-seeker
  // has only the token, so there is nowhere to keep a per-mailbox salt.
  return s.crypto_generichash(SALT_BYTES, concatBytes(encoder.encode(LABELS.MAIL_SALT), encoder.encode(deploymentId)));
}

/**
 * Token -> Argon2id master key -> {lookupKey, x25519Secret, x25519Public,
 * ed25519Seed, ed25519Public, ed25519SecretKey}. The token is parsed first
 * (a typo throws InvalidToken). deploymentId and the parameters come from
 * the deployment's configuration. Synchronous and slow at production
 * parameters: show that work is going on before calling it.
 */
export function deriveMailbox(token, deploymentId, { opslimit, memlimit } = {}) {
  const s = lib();
  const canonical = parseToken(token);
  const salt = mailboxSalt(s, deploymentId);
  requireInt(opslimit, MIN_OPSLIMIT, "opslimit");
  requireInt(memlimit, MIN_MEMLIMIT, "memlimit");
  const password = encoder.encode(canonical);
  try {
    let master;
    try {
      master = s.crypto_pwhash(KEY_BYTES, password, salt, opslimit, memlimit, s.crypto_pwhash_ALG_ARGON2ID13);
    } catch (err) {
      throw new InvalidInput(`Argon2id could not run with these parameters: ${err.message}`);
    }
    try {
      // Three subkeys under distinct labels: the lookup key, which the server
      // sees, reveals nothing about the two private keys.
      const lookupKey = s.crypto_generichash(KEY_BYTES, encoder.encode(LABELS.MAIL_LOOKUP), master);
      const x25519Secret = s.crypto_generichash(KEY_BYTES, encoder.encode(LABELS.MAIL_X25519), master);
      const ed25519Seed = s.crypto_generichash(KEY_BYTES, encoder.encode(LABELS.MAIL_ED25519), master);
      const sign = s.crypto_sign_seed_keypair(ed25519Seed);
      return {
        lookupKey,
        x25519Secret,
        x25519Public: s.crypto_scalarmult_base(x25519Secret),
        ed25519Seed,
        ed25519Public: sign.publicKey,
        ed25519SecretKey: sign.privateKey,
      };
    } finally {
      s.memzero(master);
    }
  } finally {
    s.memzero(password);
  }
}

function requireSigner(s, holder, what) {
  if (holder === null || typeof holder !== "object") throw new InvalidInput(`${what} must be an identity or mailbox`);
  requireBytes(holder.ed25519SecretKey, ED25519_SECRET_KEY_BYTES, `${what}.ed25519SecretKey`);
  requireBytes(holder.ed25519Public, PUBLIC_KEY_BYTES, `${what}.ed25519Public`);
  // libsodium signs with the public key stored in the secret key's second
  // half; refuse a holder whose halves disagree rather than sign garbage.
  if (!s.memcmp(holder.ed25519SecretKey.subarray(KEY_BYTES), holder.ed25519Public)) {
    throw new InvalidInput(`${what} Ed25519 keys do not belong together`);
  }
  return holder;
}

function requireReader(holder, what) {
  if (holder === null || typeof holder !== "object") throw new InvalidInput(`${what} must be an identity or mailbox`);
  requireBytes(holder.x25519Secret, KEY_BYTES, `${what}.x25519Secret`);
  requireBytes(holder.x25519Public, PUBLIC_KEY_BYTES, `${what}.x25519Public`);
  return holder;
}

function keyCertificateMessage(x25519Public) {
  requireBytes(x25519Public, PUBLIC_KEY_BYTES, "x25519Public");
  return concatBytes(encoder.encode(LABELS.MAIL_KEY_CERT), x25519Public);
}

/**
 * A detached Ed25519 signature (64 bytes) by an identity (or mailbox) over
 * its own X25519 public key: made at enrolment, so that pages encrypting to
 * the volunteer can check the X25519 key the server hands out.
 */
export function signKeyCertificate(holder) {
  const s = lib();
  requireSigner(s, holder, "holder");
  requireReader(holder, "holder");
  // Vouch only for the X25519 key that really belongs to this holder.
  if (!s.memcmp(s.crypto_scalarmult_base(holder.x25519Secret), holder.x25519Public)) {
    throw new InvalidInput("holder X25519 keys do not belong together");
  }
  return s.crypto_sign_detached(keyCertificateMessage(holder.x25519Public), holder.ed25519SecretKey);
}

/** Returns nothing; throws BadSignature unless `certificate` vouches for x25519Public (InvalidInput for sizes). */
export function verifyKeyCertificate(ed25519Public, x25519Public, certificate) {
  const s = lib();
  requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "ed25519Public");
  const message = keyCertificateMessage(x25519Public);
  requireBytes(certificate, SIGNATURE_BYTES, "certificate");
  let ok;
  try {
    ok = s.crypto_sign_verify_detached(certificate, message, ed25519Public);
  } catch {
    ok = false;
  }
  if (ok !== true) throw new BadSignature("the key certificate does not vouch for this X25519 key");
}

export const MAIL_THREAD_ID_BYTES = 16;
export const MAIL_VERSION = 1;
export const MAX_MAIL_CONTENT = 32768;
export const MAX_MAIL_SEQ = Number.MAX_SAFE_INTEGER;
export const AUTHOR_SEEKER = 1;
export const AUTHOR_VOLUNTEER = 2;
export const MAIL_WRAP_BYTES = KEY_BYTES + 48; // crypto_box_seal: ephemeral public key 32 + tag 16
const MAIL_HEADER_BYTES = 1 + NONCE_BYTES; // version + nonce
export const MIN_MAIL_BODY_BYTES = MAIL_HEADER_BYTES + CHAT_PAD_BLOCK + TAG_BYTES; // 297
export const MAX_MAIL_BODY_BYTES = MAIL_HEADER_BYTES + chatPaddedSize(MAX_MAIL_CONTENT) + TAG_BYTES; // 33065

/** A fresh random 16-byte thread id. */
export function newMailThreadId() {
  return lib().randombytes_buf(MAIL_THREAD_ID_BYTES);
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
  if (n < MIN_MAIL_BODY_BYTES || n > MAX_MAIL_BODY_BYTES || (n - MAIL_HEADER_BYTES - TAG_BYTES) % CHAT_PAD_BLOCK !== 0) {
    throw new InvalidInput(
      `mail body must be ${MAIL_HEADER_BYTES} + ${CHAT_PAD_BLOCK}*k + ${TAG_BYTES} bytes, ` +
        `${MIN_MAIL_BODY_BYTES} to ${MAX_MAIL_BODY_BYTES}; got ${n}`,
    );
  }
  if (body[0] !== MAIL_VERSION) throw new InvalidInput(`unknown mail body version ${body[0]}`);
  return body;
}

function mailNonce(s, contentKey) {
  // Each content key encrypts one message, so a nonce that is a function of
  // the key is never reused; as a PRF of the key it also makes the signed
  // body a commitment to the key (XChaCha20-Poly1305 alone is not
  // key-committing: one body could open to two texts under two keys).
  return s.crypto_generichash(NONCE_BYTES, encoder.encode(LABELS.MAIL_NONCE), contentKey);
}

function mailSignedMessage(s, position, body) {
  return concatBytes(encoder.encode(LABELS.MAIL_SIGNATURE), position, s.crypto_generichash(KEY_BYTES, body));
}

function mailAd(position) {
  return concatBytes(encoder.encode(LABELS.MAIL_AD), position);
}

function mailUnpad(padded) {
  const length = (padded[0] << 8) | padded[1];
  if (length > MAX_MAIL_CONTENT || chatPaddedSize(length) !== padded.length) {
    throw new DecryptionFailed("mail message has a malformed length field");
  }
  for (let i = CHAT_LENGTH_BYTES + length; i < padded.length; i++) {
    if (padded[i] !== 0) throw new DecryptionFailed("mail message padding is not all zeros");
  }
  return padded.slice(CHAT_LENGTH_BYTES, CHAT_LENGTH_BYTES + length);
}

function sealTo(s, message, publicKey) {
  try {
    return s.crypto_box_seal(message, publicKey);
  } catch {
    // libsodium refuses a low-order recipient key: nobody could open the result.
    throw new InvalidInput("sealed box failed: the recipient public key is not usable");
  }
}

function unwrapMailKey(s, wrap, reader) {
  try {
    return s.crypto_box_seal_open(wrap, reader.x25519Public, reader.x25519Secret);
  } catch {
    throw new DecryptionFailed("the wrapped key is not for this reader, or was tampered with");
  }
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
  const s = lib();
  const position = mailPosition(threadId, seq, author);
  requireBytes(content, undefined, "content");
  if (content.length > MAX_MAIL_CONTENT) {
    throw new InvalidInput(`mail messages are at most ${MAX_MAIL_CONTENT} bytes, got ${content.length}`);
  }
  requireSigner(s, signer, "signer");
  requireBytes(seekerX25519Public, PUBLIC_KEY_BYTES, "seekerX25519Public");
  requireBytes(volunteerX25519Public, PUBLIC_KEY_BYTES, "volunteerX25519Public");
  const contentKey = key === undefined ? s.randombytes_buf(KEY_BYTES) : Uint8Array.from(requireBytes(key, KEY_BYTES, "key"));
  const padded = chatPad(content);
  try {
    const nonce = mailNonce(s, contentKey);
    const sealed = s.crypto_aead_xchacha20poly1305_ietf_encrypt(padded, mailAd(position), null, nonce, contentKey);
    const body = concatBytes(Uint8Array.of(MAIL_VERSION), nonce, sealed);
    return {
      body,
      signature: s.crypto_sign_detached(mailSignedMessage(s, position, body), signer.ed25519SecretKey),
      seekerWrap: sealTo(s, contentKey, seekerX25519Public),
      volunteerWrap: sealTo(s, contentKey, volunteerX25519Public),
    };
  } finally {
    s.memzero(contentKey);
    s.memzero(padded);
  }
}

/**
 * Check a mail message's shape and its author's signature. Returns nothing;
 * throws InvalidInput (sizes, body shape or version, checked first) or
 * BadSignature (not signed by authorEd25519Public for this thread, seq,
 * author and body).
 */
export function verifyMailSignature(threadId, seq, author, body, signature, authorEd25519Public) {
  const s = lib();
  const position = mailPosition(threadId, seq, author);
  mailBody(body);
  requireBytes(signature, SIGNATURE_BYTES, "signature");
  requireBytes(authorEd25519Public, PUBLIC_KEY_BYTES, "authorEd25519Public");
  let ok;
  try {
    ok = s.crypto_sign_verify_detached(signature, mailSignedMessage(s, position, body), authorEd25519Public);
  } catch {
    ok = false;
  }
  if (ok !== true) throw new BadSignature("the mail message is not signed by this author for this thread and position");
}

/**
 * Check and decrypt one mail message for `reader` (a mailbox or identity:
 * {x25519Public, x25519Secret}); returns the content. In this order: sizes
 * (InvalidInput), the signature (BadSignature), the wrap, the key commitment,
 * the AEAD and the padding (DecryptionFailed). Returns nothing on failure.
 */
export function openMail(threadId, seq, author, body, signature, wrap, reader, authorEd25519Public) {
  const s = lib();
  requireReader(reader, "reader");
  requireBytes(wrap, MAIL_WRAP_BYTES, "wrap");
  verifyMailSignature(threadId, seq, author, body, signature, authorEd25519Public);
  const position = mailPosition(threadId, seq, author);
  const contentKey = unwrapMailKey(s, wrap, reader);
  let padded;
  try {
    const nonce = body.subarray(1, MAIL_HEADER_BYTES);
    if (!s.memcmp(mailNonce(s, contentKey), nonce)) {
      // A key this body was not made with: a wrap of another message, or one
      // made up by whoever can seal to the reader.
      throw new DecryptionFailed("the wrapped key does not belong to this message");
    }
    try {
      padded = s.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null, body.subarray(MAIL_HEADER_BYTES), mailAd(position), nonce, contentKey,
      );
    } catch {
      throw new DecryptionFailed("authentication failed: wrong key, wrong position or tampered data");
    }
    return mailUnpad(padded);
  } finally {
    s.memzero(contentKey);
    if (padded !== undefined) s.memzero(padded);
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
  const s = lib();
  requireReader(reader, "reader");
  requireBytes(wrap, MAIL_WRAP_BYTES, "wrap");
  requireBytes(newReaderX25519Public, PUBLIC_KEY_BYTES, "newReaderX25519Public");
  const contentKey = unwrapMailKey(s, wrap, reader);
  try {
    return sealTo(s, contentKey, newReaderX25519Public);
  } finally {
    s.memzero(contentKey);
  }
}
