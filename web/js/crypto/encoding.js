// PROTOCOL.md section 1, Encodings (crypto/encoding.py): canonical URL-safe
// base64 without padding, one string per byte string; and text as UTF-8 that
// both languages read the same way (lone surrogates refused, never U+FFFD).
// The NFC rule for passphrases and names is in _checks.js, shared by the
// sections that take them.

import { fromBase64, toBase64 } from "./_primitives.js";
import { InvalidInput } from "./errors.js";
import { requireBytes, utf8 } from "./_checks.js";

const B64_RE = /^[A-Za-z0-9_-]*$/;

/** Encode bytes as URL-safe base64 without padding. */
export function b64encode(u8) {
  requireBytes(u8, undefined, "data");
  return toBase64(u8);
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
  const out = fromBase64(text);
  if (b64encode(out) !== text) throw new InvalidInput("non-canonical base64");
  return out;
}

const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** UTF-8 bytes of a string; throws InvalidInput on lone surrogates (never U+FFFD). */
export function encodeText(text) {
  return utf8(text, "text");
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
