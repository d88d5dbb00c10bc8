// Hazardous material: raw libsodium primitives (PROTOCOL.md section 2).
//
// This module is private to web/js/crypto/. It is the only browser module that
// imports or calls libsodium (tests/crypto/test_boundary.py enforces that), as
// crypto/_primitives.py is for Python. Each function does exactly one
// primitive and knows nothing about the protocol: it will happily reuse a
// nonce or accept a key meant for something else if asked to. Pages use the
// composed operations that crypto.js re-exports; a new operation belongs in
// the module of its PROTOCOL section (with a label, a MUST rule and a vector),
// never in a page that imports this file.
//
// This is also the one place where libsodium's exceptions become the
// protocol's errors (errors.js): a failed tag is DecryptionFailed, a bad
// signature BadSignature, an unusable public key InvalidInput. Nothing from
// libsodium escapes.

import sodiumModule from "libsodium-wrappers-sumo";
import { BadSignature, CryptoError, DecryptionFailed, InvalidInput } from "./errors.js";

// libsodium's sizes (crypto/_primitives.py reads the same from PyNaCl; the
// vectors would catch a difference). Literals, so that they are known before ready().
export const AEAD_NONCE_BYTES = 24; // XChaCha20-Poly1305-IETF public nonce
export const AEAD_TAG_BYTES = 16;
export const ED25519_SECRET_KEY_BYTES = 64; // libsodium's seed || public key
export const BOX_SEAL_OVERHEAD_BYTES = 48; // ephemeral public key 32 + tag 16

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

/** `n` bytes from libsodium's CSPRNG. */
export function randomBytes(n) {
  return lib().randombytes_buf(n);
}

/** Overwrite a secret with zeros (libsodium's memzero, which the JIT cannot drop). */
export function memzero(u8) {
  lib().memzero(u8);
}

/** Compare two byte strings of equal length without leaking where they differ. */
export function constantTimeEqual(a, b) {
  return lib().memcmp(a, b);
}

/** URL-safe base64 without padding (libsodium's URLSAFE_NO_PADDING). */
export function toBase64(u8) {
  return lib().to_base64(u8, lib().base64_variants.URLSAFE_NO_PADDING);
}

/** The bytes of URL-safe base64 without padding; InvalidInput if libsodium cannot decode it. */
export function fromBase64(text) {
  const s = lib();
  try {
    return s.from_base64(text, s.base64_variants.URLSAFE_NO_PADDING);
  } catch {
    throw new InvalidInput("malformed base64");
  }
}

/** Standard base64 with padding (RFC 4648 section 4, libsodium's ORIGINAL): C2SP signed notes (section 14.3). */
export function toStandardBase64(u8) {
  return lib().to_base64(u8, lib().base64_variants.ORIGINAL);
}

/** The bytes of standard base64 with padding; InvalidInput if libsodium cannot decode it. */
export function fromStandardBase64(text) {
  const s = lib();
  try {
    return s.from_base64(text, s.base64_variants.ORIGINAL);
  } catch {
    throw new InvalidInput("malformed base64");
  }
}

/** SHA-256 (crypto_hash_sha256): the transparency log's hash (section 14.2). */
export function sha256(message) {
  return lib().crypto_hash_sha256(message);
}

/** crypto_pwhash with Argon2id v1.3; InvalidInput if libsodium refuses the parameters. */
export function argon2id(outLength, password, salt, opslimit, memlimit) {
  const s = lib();
  try {
    return s.crypto_pwhash(outLength, password, salt, opslimit, memlimit, s.crypto_pwhash_ALG_ARGON2ID13);
  } catch (err) {
    throw new InvalidInput(`Argon2id could not run with these parameters: ${err.message}`);
  }
}

/** BLAKE2b (crypto_generichash) of `digestSize` bytes, keyed when `key` is given. */
export function blake2b(message, { key = undefined, digestSize = 32 } = {}) {
  return lib().crypto_generichash(digestSize, message, key);
}

/** XChaCha20-Poly1305-IETF: ciphertext || 16-byte tag. */
export function aeadEncrypt(key, nonce, plaintext, ad) {
  try {
    return lib().crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    throw new CryptoError(`encryption failed: ${err.message}`);
  }
}

/** XChaCha20-Poly1305-IETF; throws DecryptionFailed(`failure`) unless the tag verifies. */
export function aeadDecrypt(key, nonce, ciphertext, ad, failure = "authentication failed: wrong key or tampered data") {
  const s = lib();
  try {
    return s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
  } catch {
    throw new DecryptionFailed(failure);
  }
}

/** X25519 public key of a 32-byte secret (crypto_scalarmult_base; libsodium clamps the scalar). */
export function x25519PublicFromSecret(secret) {
  return lib().crypto_scalarmult_base(secret);
}

/** Ed25519 key pair of a 32-byte seed: {publicKey, secretKey}; secretKey is libsodium's 64 bytes (seed || public). */
export function ed25519KeyPairFromSeed(seed) {
  const pair = lib().crypto_sign_seed_keypair(seed);
  return { publicKey: pair.publicKey, secretKey: pair.privateKey };
}

/** Detached 64-byte Ed25519 signature of `message` with libsodium's 64-byte secret key. */
export function ed25519SignDetached(secretKey, message) {
  return lib().crypto_sign_detached(message, secretKey);
}

/**
 * Returns nothing; throws BadSignature(`failure`) unless `signature` is valid
 * for `message` under `publicKey`. libsodium's own errors (a malformed key or
 * signature) count as "does not verify": a signature is either good or refused.
 */
export function verifySignature(publicKey, message, signature, failure) {
  let ok;
  try {
    ok = lib().crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    ok = false;
  }
  if (ok !== true) throw new BadSignature(failure);
}

/** A fresh X25519 key pair for crypto_kx: {publicKey, secretKey}. */
export function kxKeyPair() {
  const pair = lib().crypto_kx_keypair();
  return { publicKey: pair.publicKey, secretKey: pair.privateKey };
}

/**
 * crypto_kx session keys {rx, tx}: the client side when `client` is true,
 * else the server side. InvalidInput when libsodium refuses the peer key
 * (one that makes the shared secret all zero).
 */
export function kxSessionKeys(client, ownPublic, ownSecret, peerPublic) {
  const s = lib();
  let keys;
  try {
    keys = client
      ? s.crypto_kx_client_session_keys(ownPublic, ownSecret, peerPublic)
      : s.crypto_kx_server_session_keys(ownPublic, ownSecret, peerPublic);
  } catch {
    throw new InvalidInput("key exchange failed: the peer public key is not usable");
  }
  return { rx: keys.sharedRx, tx: keys.sharedTx };
}

/** crypto_box_seal to `recipientPublic`; InvalidInput for a low-order key nobody could open. */
export function boxSeal(message, recipientPublic) {
  try {
    return lib().crypto_box_seal(message, recipientPublic);
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    throw new InvalidInput("sealed box failed: the recipient public key is not usable");
  }
}

/** crypto_box_seal_open; throws DecryptionFailed(`failure`) unless it authenticates. */
export function boxSealOpen(sealed, recipientPublic, recipientSecret, failure) {
  try {
    return lib().crypto_box_seal_open(sealed, recipientPublic, recipientSecret);
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    throw new DecryptionFailed(failure);
  }
}
