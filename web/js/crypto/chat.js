// PROTOCOL.md section 10, Chat (crypto/chat.py): ephemeral crypto_kx keys
// (10.2), the signed offer (10.3), a per-message symmetric ratchet (10.5),
// XChaCha20-Poly1305 with a counter nonce and associated data that binds
// chat, direction and position (10.6, 10.7), padding to 256-byte buckets; and
// staff links (10.11), which reuse the same pieces under their own signature.

import {
  AEAD_NONCE_BYTES, AEAD_TAG_BYTES, aeadDecrypt, aeadEncrypt, blake2b, constantTimeEqual, ed25519SignDetached,
  kxKeyPair, kxSessionKeys, memzero, randomBytes, verifySignature, x25519PublicFromSecret,
} from "./_primitives.js";
import { CryptoError, DecryptionFailed, InvalidInput } from "./errors.js";
import { LABELS } from "./labels.js";
import { KEY_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "./params.js";
import {
  concatBytes, labelBytes, PAD_BLOCK, pad, paddedSize, requireBytes, requireSigner, seqBytes, unpad,
} from "./_checks.js";

export const CHAT_ID_BYTES = 16;
export const MAX_CHAT_CONTENT = 8192;
// Largest integer a JSON number carries exactly into JavaScript.
export const MAX_CHAT_SEQ = Number.MAX_SAFE_INTEGER;
const DIR_SEEKER_TO_VOLUNTEER = 0x01;
const DIR_VOLUNTEER_TO_SEEKER = 0x02;

const MAX_CHAT_PADDED = paddedSize(MAX_CHAT_CONTENT); // 8448
export const MAX_CHAT_CIPHERTEXT_BYTES = MAX_CHAT_PADDED + AEAD_TAG_BYTES; // 8464
const MIN_CHAT_CIPHERTEXT_BYTES = PAD_BLOCK + AEAD_TAG_BYTES; // 272

function requireKeyPair(pair, what) {
  if (pair === null || typeof pair !== "object") throw new InvalidInput(`${what} must be a chat key pair`);
  requireBytes(pair.publicKey, PUBLIC_KEY_BYTES, `${what}.publicKey`);
  requireBytes(pair.secretKey, KEY_BYTES, `${what}.secretKey`);
  return pair;
}

// ---------------------------------------------------------------------------
// Ephemeral key pairs (10.2) and the signed offer (10.3)
// ---------------------------------------------------------------------------

/** A fresh ephemeral X25519 key pair for one chat: {publicKey, secretKey}. */
export function newChatKeyPair() {
  return kxKeyPair();
}

/**
 * The key pair of a 32-byte secret, as crypto_kx_keypair makes it (X25519
 * base point multiplication; not crypto_kx_seed_keypair, which hashes the
 * seed first). For test vectors. The secret is copied.
 */
export function chatKeyPairFromSecret(secret) {
  requireBytes(secret, KEY_BYTES, "chat secret key");
  return { publicKey: x25519PublicFromSecret(secret), secretKey: Uint8Array.from(secret) };
}

function chatOfferMessage(chatId, seekerPublic, volunteerPublic) {
  requireBytes(chatId, CHAT_ID_BYTES, "chatId");
  requireBytes(seekerPublic, PUBLIC_KEY_BYTES, "seekerPublic");
  requireBytes(volunteerPublic, PUBLIC_KEY_BYTES, "volunteerPublic");
  // The help-seeker's own key is signed too: the server can neither hand this
  // offer to anyone else nor slip the volunteer a key of its own and forward
  // the signature (man in the middle).
  return concatBytes(labelBytes(LABELS.CHAT_OFFER), chatId, seekerPublic, volunteerPublic);
}

/** The volunteer's detached Ed25519 signature (64 bytes) over its ephemeral key for this chat. */
export function signChatOffer(identity, chatId, seekerPublic, volunteerPublic) {
  requireSigner(identity, "identity", "an identity object");
  return ed25519SignDetached(identity.ed25519SecretKey, chatOfferMessage(chatId, seekerPublic, volunteerPublic));
}

/**
 * Check a chat offer before using the offered key. Returns nothing; throws
 * BadSignature if the signature does not verify, InvalidInput for wrong sizes.
 */
export function verifyChatOffer(ed25519Public, chatId, seekerPublic, volunteerPublic, signature) {
  requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "ed25519Public");
  const message = chatOfferMessage(chatId, seekerPublic, volunteerPublic);
  requireBytes(signature, SIGNATURE_BYTES, "signature");
  verifySignature(ed25519Public, message, signature, "the chat offer is not signed by this volunteer for this chat");
}

// ---------------------------------------------------------------------------
// Staff links (10.11)
// ---------------------------------------------------------------------------

/** The roles of the two ends of a staff link (PROTOCOL.md 10.11). */
export const LINK_INVITER = 1;
export const LINK_JOINER = 2;

/** A fresh random 16-byte id for a staff link (chosen by the inviter's page). */
export function newLinkId() {
  return randomBytes(CHAT_ID_BYTES);
}

function linkMessage(linkId, role, ownPublic, peerPublic) {
  requireBytes(linkId, CHAT_ID_BYTES, "linkId");
  if (role !== LINK_INVITER && role !== LINK_JOINER) throw new InvalidInput("role must be LINK_INVITER or LINK_JOINER");
  requireBytes(ownPublic, PUBLIC_KEY_BYTES, "ownPublic");
  let peer;
  if (role === LINK_INVITER) {
    if (peerPublic !== null && peerPublic !== undefined) {
      throw new InvalidInput("the inviter signs before it knows the joiner's key: peerPublic must be null");
    }
    peer = new Uint8Array(PUBLIC_KEY_BYTES);
  } else {
    peer = requireBytes(peerPublic, PUBLIC_KEY_BYTES, "peerPublic");
  }
  return concatBytes(labelBytes(LABELS.CHAT_LINK), linkId, Uint8Array.of(role), ownPublic, peer);
}

/**
 * A staff member's detached signature over its ephemeral key for one link between two
 * staff pages (read-along, handover note). The inviter signs (link id, own key); the
 * joiner signs (link id, own key, the inviter's key).
 */
export function signLinkKey(identity, linkId, role, ownPublic, peerPublic = null) {
  requireSigner(identity, "identity", "an identity object");
  return ed25519SignDetached(identity.ed25519SecretKey, linkMessage(linkId, role, ownPublic, peerPublic));
}

/** Check a link key signature; returns nothing, throws BadSignature (or InvalidInput for sizes). */
export function verifyLinkKey(ed25519Public, linkId, role, ownPublic, peerPublic, signature) {
  requireBytes(ed25519Public, PUBLIC_KEY_BYTES, "ed25519Public");
  const message = linkMessage(linkId, role, ownPublic, peerPublic);
  requireBytes(signature, SIGNATURE_BYTES, "signature");
  verifySignature(ed25519Public, message, signature, "the link key is not signed by this staff member for this link");
}

// ---------------------------------------------------------------------------
// Messages (10.5 to 10.7)
// ---------------------------------------------------------------------------

function chatSeq(seq) {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > MAX_CHAT_SEQ) {
    throw new InvalidInput(`seq must be an integer between 1 and ${MAX_CHAT_SEQ}`);
  }
  return seq;
}

function chatCiphertext(ciphertext) {
  requireBytes(ciphertext, undefined, "ciphertext");
  const n = ciphertext.length;
  if (n < MIN_CHAT_CIPHERTEXT_BYTES || n > MAX_CHAT_CIPHERTEXT_BYTES || (n - AEAD_TAG_BYTES) % PAD_BLOCK !== 0) {
    throw new InvalidInput(
      `chat ciphertext must be a multiple of ${PAD_BLOCK} bytes plus a ${AEAD_TAG_BYTES}-byte tag, ` +
        `${MIN_CHAT_CIPHERTEXT_BYTES} to ${MAX_CHAT_CIPHERTEXT_BYTES} bytes; got ${n}`,
    );
  }
  return ciphertext;
}

function chatNonce(seq) {
  // A counter nonce. Each message key encrypts exactly one message, so any
  // fixed nonce would be safe; the sequence number costs nothing and keeps
  // nonces distinct even if a key were ever reused by mistake.
  const nonce = new Uint8Array(AEAD_NONCE_BYTES);
  nonce.set(seqBytes(seq), 0);
  return nonce;
}

function chatAd(chatId, direction, seq) {
  // Binds the ciphertext to its chat, direction and position (the relay's
  // "seq" field is thereby authenticated).
  return concatBytes(labelBytes(LABELS.CHAT_AD), chatId, Uint8Array.of(direction), seqBytes(seq));
}

function chatRatchet(chain) {
  // [message key, next chain key]: one-way functions of the chain key under
  // distinct labels. A later chain key reveals no earlier one (forward
  // secrecy within the chat); a message key reveals no chain key.
  return [
    blake2b(labelBytes(LABELS.CHAT_MESSAGE_KEY), { key: chain, digestSize: KEY_BYTES }),
    blake2b(labelBytes(LABELS.CHAT_CHAIN_KEY), { key: chain, digestSize: KEY_BYTES }),
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
    requireBytes(chatId, CHAT_ID_BYTES, "chatId");
    requireKeyPair(own, "own");
    requireBytes(peerPublic, PUBLIC_KEY_BYTES, "peer public key");
    let calc;
    try {
      calc = x25519PublicFromSecret(own.secretKey);
    } catch (err) {
      if (err instanceof CryptoError) throw err; // used before ready()
      throw new InvalidInput("chat secret key is not usable");
    }
    if (!constantTimeEqual(calc, own.publicKey)) {
      throw new InvalidInput("chat key pair is inconsistent, or was already used for a session");
    }
    if (constantTimeEqual(peerPublic, own.publicKey)) throw new InvalidInput("peer public key is our own public key");
    let keys;
    try {
      // The help-seeker is the crypto_kx client, the volunteer the server:
      // seeker.tx == volunteer.rx is direction 1, the other one direction 2.
      keys = kxSessionKeys(role === "seeker", own.publicKey, own.secretKey, peerPublic);
    } finally {
      memzero(own.secretKey);
    }
    this.#chatId = Uint8Array.from(chatId);
    this.#txChain = keys.tx;
    this.#rxChain = keys.rx;
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
    requireBytes(content, undefined, "content");
    if (content.length > MAX_CHAT_CONTENT) {
      throw new InvalidInput(`chat messages are at most ${MAX_CHAT_CONTENT} bytes, got ${content.length}`);
    }
    if (this.#txChain === null) throw new CryptoError("this chat session was wiped");
    if (this.#sent >= MAX_CHAT_SEQ) throw new CryptoError("this chat has reached its last sequence number");
    const seq = this.#sent + 1;
    const [messageKey, nextChain] = chatRatchet(this.#txChain);
    const padded = pad(content);
    let ciphertext;
    try {
      ciphertext = aeadEncrypt(messageKey, chatNonce(seq), padded, chatAd(this.#chatId, this.#txDirection, seq));
    } catch (err) {
      memzero(nextChain);
      throw err;
    } finally {
      memzero(messageKey);
      memzero(padded);
    }
    memzero(this.#txChain);
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
    chatSeq(seq);
    chatCiphertext(ciphertext);
    if (this.#rxChain === null) throw new CryptoError("this chat session was wiped");
    if (seq !== this.#received + 1) {
      throw new DecryptionFailed(`expected chat message ${this.#received + 1}, got ${seq}`);
    }
    const [messageKey, nextChain] = chatRatchet(this.#rxChain);
    let padded;
    try {
      padded = aeadDecrypt(messageKey, chatNonce(seq), ciphertext, chatAd(this.#chatId, this.#rxDirection, seq),
        "authentication failed: wrong key, wrong position or tampered data");
    } catch (err) {
      memzero(nextChain);
      throw err;
    } finally {
      memzero(messageKey);
    }
    let content;
    try {
      content = unpad(padded, MAX_CHAT_CONTENT, "chat");
    } catch (err) {
      memzero(nextChain);
      throw err;
    } finally {
      memzero(padded);
    }
    // Commit only after everything succeeded.
    memzero(this.#rxChain);
    this.#rxChain = nextChain;
    this.#received = seq;
    return content;
  }

  /** Zero both chain keys; the session can no longer seal or open. */
  wipe() {
    if (this.#txChain !== null) memzero(this.#txChain);
    if (this.#rxChain !== null) memzero(this.#rxChain);
    this.#txChain = null;
    this.#rxChain = null;
  }
}
