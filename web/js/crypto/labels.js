// Domain-separation labels of the Luisterend Oor protocol (PROTOCOL.md section 5).
//
// The very same strings as crypto/labels.py (tests/crypto/test_boundary.py
// compares the two lists). Every label is ASCII, starts with
// "luisterend-oor/v1/" and has exactly one purpose; changing one changes every
// derived value, so treat that as a protocol version change. The browser never
// uses the two server labels, ROOT_KEY_WRAP (the root key file is opened only by
// `oor root`) or RELEASE (reserved); they are here so that the two lists stay identical.
// Encoded (ASCII) at use with labelBytes() from checks.js.

export const LABELS = Object.freeze({
  VOLUNTEER_AUTH: "luisterend-oor/v1/volunteer/auth-key",
  VOLUNTEER_WRAP: "luisterend-oor/v1/volunteer/wrapping-key",
  IDENTITY_WRAP: "luisterend-oor/v1/volunteer/identity-wrap",
  SERVER_TOKEN: "luisterend-oor/v1/server/token-hash",
  FAKE_SALT: "luisterend-oor/v1/server/fake-salt",
  CHAT_OFFER: "luisterend-oor/v1/chat/offer",
  CHAT_LINK: "luisterend-oor/v1/chat/link",
  CHAT_MESSAGE_KEY: "luisterend-oor/v1/chat/message-key",
  CHAT_CHAIN_KEY: "luisterend-oor/v1/chat/chain-key",
  CHAT_AD: "luisterend-oor/v1/chat/ad",
  POW: "luisterend-oor/v1/pow",
  MAIL_SALT: "luisterend-oor/v1/mail/salt",
  MAIL_LOOKUP: "luisterend-oor/v1/mail/lookup-key",
  MAIL_LOOKUP_HASH: "luisterend-oor/v1/mail/lookup-hash",
  MAIL_X25519: "luisterend-oor/v1/mail/x25519",
  MAIL_ED25519: "luisterend-oor/v1/mail/ed25519",
  MAIL_KEY_CERT: "luisterend-oor/v1/mail/key-certificate",
  MAIL_NONCE: "luisterend-oor/v1/mail/nonce",
  MAIL_AD: "luisterend-oor/v1/mail/ad",
  MAIL_SIGNATURE: "luisterend-oor/v1/mail/signature",
  MAIL_NOTE_NONCE: "luisterend-oor/v1/mail/note-nonce",
  MAIL_NOTE_AD: "luisterend-oor/v1/mail/note-ad",
  MAIL_NOTE_SIGNATURE: "luisterend-oor/v1/mail/note-signature",
  KEY_STATEMENT: "luisterend-oor/v1/key-statement",
  FINGERPRINT: "luisterend-oor/v1/fingerprint",
  REVOKED_SET: "luisterend-oor/v1/revoked-set",
  ROOT_KEY_WRAP: "luisterend-oor/v1/root-key-wrap",
  RELEASE: "luisterend-oor/v1/release",
});
