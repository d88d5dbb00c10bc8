// PROTOCOL.md section 3, Volunteer key hierarchy (crypto/volunteer.py):
// passphrase -> Argon2id master key -> BLAKE2b auth key (sent at login) and
// wrapping key (never leaves the browser); and the identity, a random X25519
// key pair and Ed25519 key pair made at enrolment and stored wrapped (section 4, wrap.js).

import { argon2id, blake2b, ed25519KeyPairFromSeed, memzero, randomBytes, x25519PublicFromSecret } from "./_primitives.js";
import { InvalidInput } from "./errors.js";
import { LABELS } from "./labels.js";
import { KEY_BYTES, SALT_BYTES } from "./params.js";
import { labelBytes, nfcUtf8, requireBytes, requireKdf } from "./_checks.js";

const MAX_PASSPHRASE_CHARS = 4096;

/** A fresh random Argon2id salt (16 bytes). */
export function newSalt() {
  return randomBytes(SALT_BYTES);
}

/**
 * Passphrase -> Argon2id master key -> BLAKE2b auth key and wrapping key.
 * Synchronous and slow (about a second at production parameters): show the
 * user that work is going on before calling it.
 */
export function deriveVolunteerKeys(passphrase, salt, { opslimit, memlimit } = {}) {
  const password = nfcUtf8(passphrase, "passphrase", MAX_PASSPHRASE_CHARS);
  try {
    if (password.length === 0) throw new InvalidInput("passphrase must not be empty");
    requireBytes(salt, SALT_BYTES, "salt");
    requireKdf(opslimit, memlimit);
    const master = argon2id(KEY_BYTES, password, salt, opslimit, memlimit);
    try {
      // The master key is only ever a BLAKE2b key, so new subkeys can be added
      // under new labels without touching these two.
      return {
        authKey: blake2b(labelBytes(LABELS.VOLUNTEER_AUTH), { key: master }),
        wrappingKey: blake2b(labelBytes(LABELS.VOLUNTEER_WRAP), { key: master }),
      };
    } finally {
      memzero(master);
    }
  } finally {
    memzero(password);
  }
}

// -- the identity --------------------------------------------------------------------------------

/**
 * Rebuild an identity from its two 32-byte secrets. ed25519SecretKey is
 * libsodium's 64-byte signing key (seed || public key), ready for signing.
 * The secrets are copied, so the caller may wipe its own.
 */
export function identityFromSecrets(x25519Secret, ed25519Seed) {
  requireBytes(x25519Secret, KEY_BYTES, "x25519Secret");
  requireBytes(ed25519Seed, KEY_BYTES, "ed25519Seed");
  const sign = ed25519KeyPairFromSeed(ed25519Seed);
  return {
    x25519Secret: Uint8Array.from(x25519Secret),
    x25519Public: x25519PublicFromSecret(x25519Secret),
    ed25519Seed: Uint8Array.from(ed25519Seed),
    ed25519Public: sign.publicKey,
    ed25519SecretKey: sign.secretKey,
  };
}

/** A fresh random identity (X25519 + Ed25519). */
export function newIdentity() {
  const xSec = randomBytes(KEY_BYTES);
  const eSeed = randomBytes(KEY_BYTES);
  try {
    return identityFromSecrets(xSec, eSeed);
  } finally {
    memzero(xSec);
    memzero(eSeed);
  }
}
