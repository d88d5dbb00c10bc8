// PROTOCOL.md section 11, Proof-of-work (crypto/pow.py): BLAKE2b-256(LABEL_POW ||
// challenge || nonce) must start with `bits` zero bits. The page solves,
// counting up from 0 as every implementation does, in slices that keep it responsive.

import { blake2b } from "./_primitives.js";
import { CryptoError, InvalidInput } from "./errors.js";
import { LABELS } from "./labels.js";
import { KEY_BYTES } from "./params.js";
import { concatBytes, labelBytes, requireBytes } from "./_checks.js";

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
// What onProgress reports never reaches 1: the work is done only when a nonce passes.
const POW_PROGRESS_CAP = 0.99;

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
  const digest = blake2b(concatBytes(labelBytes(LABELS.POW), challenge, nonce), { digestSize: KEY_BYTES });
  return hasLeadingZeroBits(digest, bits);
}

/**
 * How far a solve has come after `tried` hashes at `bits`, from 0 towards (never to) 1:
 * 1 - e^(-tried / 2^bits), the chance that a solve would have ended by now. Every hash
 * passes with the same chance whatever came before, so no count of hashes brings the end
 * nearer: a linear tried / 2^bits would stand at 100% while the work goes on (in one solve
 * in three), and a countdown would never move. This one keeps moving, more slowly as it
 * goes, and reads 63% at the expected number of hashes.
 */
function powProgress(tried, bits) {
  return Math.min(POW_PROGRESS_CAP, -Math.expm1(-tried / 2 ** bits));
}

/**
 * Find the first nonce, counting up from 0 (8 bytes, big-endian), that
 * passes powCheck: about 2^bits hashes. Works in short slices and yields to
 * the event loop between them, so the page never freezes; calls
 * onProgress(hashesTried, fraction) after each slice (fraction: powProgress,
 * for a <progress> element); rejects with signal.reason (an AbortError by
 * default) once the AbortSignal fires.
 * Resolves to the nonce (Uint8Array(8)).
 */
export async function solvePow(challenge, bits, { onProgress, signal } = {}) {
  powParams(challenge, bits);
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new InvalidInput("onProgress must be a function");
  }
  const input = concatBytes(labelBytes(LABELS.POW), challenge, new Uint8Array(POW_NONCE_BYTES));
  const view = new DataView(input.buffer, input.length - POW_NONCE_BYTES, POW_NONCE_BYTES);
  const hash = { digestSize: KEY_BYTES };
  let counter = 0;
  for (;;) {
    if (signal) signal.throwIfAborted();
    const started = performance.now();
    do {
      for (let i = 0; i < POW_BATCH; i++, counter++) {
        view.setUint32(0, Math.floor(counter / 0x100000000));
        view.setUint32(4, counter >>> 0);
        if (hasLeadingZeroBits(blake2b(input, hash), bits)) {
          return input.slice(input.length - POW_NONCE_BYTES);
        }
      }
    } while (performance.now() - started < POW_SLICE_MS);
    if (counter > Number.MAX_SAFE_INTEGER - 1e9) throw new CryptoError("no proof-of-work nonce found");
    if (onProgress) onProgress(counter, powProgress(counter, bits));
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}
