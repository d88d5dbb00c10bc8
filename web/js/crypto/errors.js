// The one exception tree of the browser crypto modules: the same classes as
// crypto/errors.py (PROTOCOL.md section 8). Everything these modules throw on
// purpose is a CryptoError; no libsodium exception escapes them
// (primitives.js translates each one).

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

/**
 * A transparency check failed (PROTOCOL.md section 14): the key proof, the
 * checkpoint, its cosignatures or the statement is not what it must be.
 * `reason` names the check, as in crypto/errors.py ProofError.REASONS. Treat it
 * like a tampered frame: use nothing from that key.
 */
export class ProofError extends CryptoError {
  constructor(reason, message = undefined) {
    super(message === undefined ? `transparency check failed (${reason})` : message);
    this.reason = reason;
  }
}
