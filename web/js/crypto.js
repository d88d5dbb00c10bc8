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
  CHAT_MESSAGE_KEY: "luisterend-oor/v1/chat/message-key",
  CHAT_CHAIN_KEY: "luisterend-oor/v1/chat/chain-key",
  CHAT_AD: "luisterend-oor/v1/chat/ad",
  POW: "luisterend-oor/v1/pow",
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
 * Authentication failed (wrong key, e.g. wrong passphrase, or tampered data),
 * or a chat message arrived out of order.
 */
export class DecryptionFailed extends CryptoError {}

/**
 * A chat offer's signature did not verify against the volunteer's Ed25519
 * public key: do not use the offered key.
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
