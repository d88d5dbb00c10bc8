// PROTOCOL.md section 4, Wrapped identity (crypto/wrap.py): the 105-byte blob
// the server stores, version(1) || nonce(24) || XChaCha20-Poly1305(secrets(64)) || tag(16),
// under the wrapping key (section 3) with both public keys bound as associated data.

import {
  AEAD_NONCE_BYTES, AEAD_TAG_BYTES, aeadDecrypt, aeadEncrypt, constantTimeEqual, ed25519KeyPairFromSeed, memzero,
  randomBytes, x25519PublicFromSecret,
} from "./_primitives.js";
import { DecryptionFailed, InvalidInput } from "./errors.js";
import { LABELS } from "./labels.js";
import { KEY_BYTES, PUBLIC_KEY_BYTES } from "./params.js";
import { concatBytes, labelBytes, requireBytes } from "./_checks.js";
import { identityFromSecrets } from "./volunteer.js";

export const WRAP_VERSION = 1;
const WRAP_HEADER_BYTES = 1 + AEAD_NONCE_BYTES;
export const WRAPPED_IDENTITY_BYTES = WRAP_HEADER_BYTES + 2 * KEY_BYTES + AEAD_TAG_BYTES; // 105

function wrapAd(x25519Public, ed25519Public) {
  // Binding both public keys means a server cannot pair this blob with
  // public keys of its choosing: decryption would fail.
  return concatBytes(labelBytes(LABELS.IDENTITY_WRAP), x25519Public, ed25519Public);
}

function publicKeysMatch(x25519Secret, ed25519Seed, x25519Public, ed25519Public) {
  const xCalc = x25519PublicFromSecret(x25519Secret);
  const sign = ed25519KeyPairFromSeed(ed25519Seed);
  try {
    const xOk = constantTimeEqual(xCalc, x25519Public);
    const eOk = constantTimeEqual(sign.publicKey, ed25519Public);
    return xOk && eOk;
  } finally {
    memzero(sign.secretKey);
  }
}

/**
 * Encrypt the identity's secrets under the wrapping key: a 105-byte blob
 * version(1) || nonce(24) || XChaCha20-Poly1305(secrets(64)) || tag(16).
 * `nonce` exists only for test vectors; production callers MUST omit it.
 */
export function wrapIdentity(wrappingKey, identity, nonce = undefined) {
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
  if (!publicKeysMatch(x25519Secret, ed25519Seed, x25519Public, ed25519Public)) {
    throw new InvalidInput("identity public keys do not belong to its secrets");
  }
  const n = nonce === undefined ? randomBytes(AEAD_NONCE_BYTES) : requireBytes(nonce, AEAD_NONCE_BYTES, "nonce");
  const plaintext = concatBytes(x25519Secret, ed25519Seed);
  let sealed;
  try {
    sealed = aeadEncrypt(wrappingKey, n, plaintext, wrapAd(x25519Public, ed25519Public));
  } finally {
    memzero(plaintext);
  }
  return concatBytes(Uint8Array.of(WRAP_VERSION), n, sealed);
}

/**
 * Decrypt a wrapped identity and check it against the published public keys.
 * Throws InvalidInput (wrong length or version, checked before decrypting)
 * or DecryptionFailed (wrong key, tampering, or secrets that do not match
 * the public keys).
 */
export function unwrapIdentity(wrappingKey, blob, x25519Public, ed25519Public) {
  requireBytes(wrappingKey, KEY_BYTES, "wrappingKey");
  requireBytes(blob, undefined, "wrapped identity");
  requireBytes(x25519Public, PUBLIC_KEY_BYTES, "x25519Public");
  requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "ed25519Public");
  if (blob.length !== WRAPPED_IDENTITY_BYTES) {
    throw new InvalidInput(`wrapped identity must be ${WRAPPED_IDENTITY_BYTES} bytes, got ${blob.length}`);
  }
  if (blob[0] !== WRAP_VERSION) throw new InvalidInput(`unknown wrapped identity version ${blob[0]}`);
  const secrets = aeadDecrypt(wrappingKey, blob.subarray(1, WRAP_HEADER_BYTES), blob.subarray(WRAP_HEADER_BYTES),
    wrapAd(x25519Public, ed25519Public));
  try {
    const xSec = secrets.subarray(0, KEY_BYTES);
    const eSeed = secrets.subarray(KEY_BYTES);
    // The tag proves who sealed the blob, not that the secrets belong to the
    // public keys; recompute and compare before trusting them.
    if (!publicKeysMatch(xSec, eSeed, x25519Public, ed25519Public)) {
      throw new DecryptionFailed("wrapped secrets do not match the published public keys");
    }
    return identityFromSecrets(xSec, eSeed);
  } finally {
    memzero(secrets);
  }
}
