// PROTOCOL.md section 2, Primitives: the sizes and Argon2id limits the protocol fixes
// (crypto/params.py). The primitives themselves are in _primitives.js (private,
// hazardous material).

export const SALT_BYTES = 16;
export const KEY_BYTES = 32;
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

// libsodium's own Argon2id minimums. The policy floor (at least 64 MiB for real
// volunteers) is the server configuration's business, so that tests can run
// with fast parameters that are named as insecure.
export const MIN_OPSLIMIT = 1;
export const MIN_MEMLIMIT = 8192;
