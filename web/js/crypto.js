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

/** Authentication failed (wrong key, e.g. wrong passphrase, or tampered data). */
export class DecryptionFailed extends CryptoError {}

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
