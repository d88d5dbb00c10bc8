// The browser half of the Luisterend Oor crypto facade: only re-exports.
//
// It mirrors the Python package crypto/ byte for byte: same labels, same
// encodings, same MUST-reject rules (crypto/PROTOCOL.md); tests/vectors/*.json
// pin the bytes for both languages. As crypto/__init__.py does, this file
// defines nothing: it lists the operations pages may use. Each lives in the
// module of its PROTOCOL section under web/js/crypto/, named as in crypto/:
//
//   encoding.js     1   Encodings: canonical base64, UTF-8 text
//   params.js       2   Primitives: sizes, Argon2id minimums
//   _primitives.js  2   Primitives: the libsodium calls (private, hazardous
//                       material; the only browser module that imports libsodium)
//   volunteer.js    3   Volunteer key hierarchy: passphrase to keys, identity
//   wrap.js         4   Wrapped identity
//   labels.js       5   Labels
//   (section 6, server-side hashing, has no browser half)
//   errors.js       8   Errors
//   chat.js         10  Chat: offers, staff links, ChatSession
//   pow.js          11  Proof-of-work
//   mail.js         12  Mail: return token, mailbox keys, certificates, messages
//   transparency.js 14  Key and code transparency: statements, the log's proofs,
//                       checkpoints and cosignatures, key proofs (verify only)
//   _checks.js      -   shared input checks, text rules and padding (private)
//
// Pages import this file, never web/js/crypto/* (tests/crypto/test_boundary.py):
// what is not listed here is not for pages.
//
// Call `await ready()` once before anything else. Secrets are Uint8Arrays
// held in page memory only; intermediate secrets are wiped with libsodium's
// memzero as soon as they are no longer needed.

export { ready } from "./crypto/_primitives.js";
export {
  BadSignature, CryptoError, DecryptionFailed, InvalidInput, InvalidToken, ProofError,
} from "./crypto/errors.js";
export { LABELS } from "./crypto/labels.js";
export {
  KEY_BYTES, MIN_MEMLIMIT, MIN_OPSLIMIT, PUBLIC_KEY_BYTES, SALT_BYTES, SIGNATURE_BYTES,
} from "./crypto/params.js";
export { b64decode, b64encode, decodeText, encodeText } from "./crypto/encoding.js";
export { deriveVolunteerKeys, identityFromSecrets, newIdentity, newSalt } from "./crypto/volunteer.js";
export { unwrapIdentity, WRAP_VERSION, WRAPPED_IDENTITY_BYTES, wrapIdentity } from "./crypto/wrap.js";
export {
  CHAT_ID_BYTES, ChatSession, chatKeyPairFromSecret, LINK_INVITER, LINK_JOINER, MAX_CHAT_CIPHERTEXT_BYTES,
  MAX_CHAT_CONTENT, MAX_CHAT_SEQ, newChatKeyPair, newLinkId, signChatOffer, signLinkKey, verifyChatOffer,
  verifyLinkKey,
} from "./crypto/chat.js";
export {
  POW_MAX_BITS, POW_MAX_CHALLENGE_BYTES, POW_MIN_CHALLENGE_BYTES, POW_NONCE_BYTES, powCheck, solvePow,
} from "./crypto/pow.js";
export {
  AUTHOR_SEEKER, AUTHOR_VOLUNTEER, deriveMailbox, formatToken, MAIL_THREAD_ID_BYTES, MAIL_TOKEN_ALPHABET,
  MAIL_TOKEN_CHECK_MODULUS, MAIL_TOKEN_DATA_SYMBOLS, MAIL_TOKEN_RANDOM_BYTES, MAIL_TOKEN_SYMBOLS, MAIL_VERSION,
  MAIL_WRAP_BYTES, MAX_MAIL_BODY_BYTES, MAX_MAIL_CONTENT, MAX_MAIL_SEQ, MIN_MAIL_BODY_BYTES, newMailThreadId,
  newTokenCode, openMail, parseToken, rewrapMailKey, sealMail, signKeyCertificate, tokenCodeFromBytes,
  verifyKeyCertificate, verifyMailSignature,
} from "./crypto/mail.js";
export {
  MAX_MAIL_NOTE_BYTES, MAX_MAIL_NOTE_CONTENT, MIN_MAIL_NOTE_BYTES, openMailNote, sealMailNote,
} from "./crypto/mail.js";
export {
  ACCOUNT_ID_BYTES, decodeEntry, decodeStatement, ENTRY_RELEASE, ENTRY_STATEMENT, fingerprint, KEY_PROOF_VERSION,
  KIND_KEY, KIND_REVOCATION, leafHash, MAX_ENTRY_BYTES, MAX_KEY_PROOF_JSON, MAX_NOTE_BYTES, MAX_PROOF_HASHES,
  nodeHash, parseCheckpoint, parseEntryBundle, parseNote, revokedDigest, ROLE_CODES, rootFromLeafHashes,
  verifyCheckpoint, verifyConsistency, verifyInclusion, verifyKeyProof,
} from "./crypto/transparency.js";
