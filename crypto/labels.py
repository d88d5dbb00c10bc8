"""Domain-separation labels of the Luisterend Oor protocol (PROTOCOL.md section 5, Labels).

Every label is ASCII, starts with ``luisterend-oor/v1/`` and is used for exactly
one purpose, so that a key or hash computed for one purpose can never be
mistaken for one computed for another. ``web/js/crypto.js`` holds the very same
strings in its ``LABELS`` object; ``crypto/PROTOCOL.md`` lists them all, with
where each is used. Changing a label changes every derived value: treat that as
a protocol version change.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

__all__ = [
    "LABEL_VOLUNTEER_AUTH",
    "LABEL_VOLUNTEER_WRAP",
    "LABEL_IDENTITY_WRAP",
    "LABEL_SERVER_TOKEN",
    "LABEL_FAKE_SALT",
    "LABEL_CHAT_OFFER",
    "LABEL_CHAT_LINK",
    "LABEL_CHAT_MESSAGE_KEY",
    "LABEL_CHAT_CHAIN_KEY",
    "LABEL_CHAT_AD",
    "LABEL_POW",
    "LABEL_MAIL_SALT",
    "LABEL_MAIL_LOOKUP",
    "LABEL_MAIL_LOOKUP_HASH",
    "LABEL_MAIL_X25519",
    "LABEL_MAIL_ED25519",
    "LABEL_MAIL_KEY_CERT",
    "LABEL_MAIL_NONCE",
    "LABEL_MAIL_AD",
    "LABEL_MAIL_SIGNATURE",
    "LABEL_MAIL_NOTE_NONCE",
    "LABEL_MAIL_NOTE_AD",
    "LABEL_MAIL_NOTE_SIGNATURE",
    "LABEL_KEY_STATEMENT",
    "LABEL_FINGERPRINT",
    "LABEL_REVOKED_SET",
    "LABEL_ROOT_KEY_WRAP",
    "LABEL_RELEASE",
    "ALL_LABELS",
]

# BLAKE2b message, keyed with the Argon2id master key: the authentication key
# that the browser sends at login. The server may learn it; it must reveal
# nothing about the wrapping key, hence a distinct label.
LABEL_VOLUNTEER_AUTH = b"luisterend-oor/v1/volunteer/auth-key"

# BLAKE2b message, keyed with the Argon2id master key: the key that wraps the
# volunteer's identity secrets. It never leaves the browser.
LABEL_VOLUNTEER_WRAP = b"luisterend-oor/v1/volunteer/wrapping-key"

# Prefix of the AEAD associated data of a wrapped identity, followed by the
# X25519 and Ed25519 public keys. Binds the blob to its purpose and to the
# public keys the server publishes next to it.
LABEL_IDENTITY_WRAP = b"luisterend-oor/v1/volunteer/identity-wrap"

# Prefix of the BLAKE2b message when the server hashes an invitation or
# session token before storing or looking it up.
LABEL_SERVER_TOKEN = b"luisterend-oor/v1/server/token-hash"

# Prefix of the BLAKE2b message, keyed with a server secret, that yields the
# stable fake salt answered for an unknown volunteer name (no enumeration).
LABEL_FAKE_SALT = b"luisterend-oor/v1/server/fake-salt"

# Prefix of the message a volunteer signs with its Ed25519 identity key to
# vouch for a per-chat ephemeral key, followed by chat id, the help-seeker's
# and the volunteer's ephemeral public keys. The label keeps a chat-offer
# signature from ever being valid for another use of the identity key.
LABEL_CHAT_OFFER = b"luisterend-oor/v1/chat/offer"

# Prefix of the message a staff member signs to vouch for an ephemeral key of a
# *link* between two staff pages (a mentor reading along, a handover note),
# followed by link id, role byte (1 inviter, 2 joiner), own and peer public key
# (32 zero bytes for the inviter, who signs before it knows the joiner's key).
LABEL_CHAT_LINK = b"luisterend-oor/v1/chat/link"

# BLAKE2b message, keyed with a chat chain key: the one-use key of the next
# message in that direction.
LABEL_CHAT_MESSAGE_KEY = b"luisterend-oor/v1/chat/message-key"

# BLAKE2b message, keyed with a chat chain key: the next chain key. Distinct
# from the message-key label, so a message key reveals nothing about the chain.
LABEL_CHAT_CHAIN_KEY = b"luisterend-oor/v1/chat/chain-key"

# Prefix of the AEAD associated data of a chat message, followed by chat id,
# direction byte and sequence number.
LABEL_CHAT_AD = b"luisterend-oor/v1/chat/ad"

# Prefix of the BLAKE2b message of the proof-of-work, followed by the
# server's challenge and the client's 8-byte nonce.
LABEL_POW = b"luisterend-oor/v1/pow"

# Prefix of the BLAKE2b-128 message (unkeyed), followed by the deployment id in
# UTF-8: the Argon2id salt shared by every mailbox of one deployment. A
# help-seeker holds nothing but the token, so there is no per-mailbox salt to
# fetch; the deployment id at least keeps two deployments' tables apart.
LABEL_MAIL_SALT = b"luisterend-oor/v1/mail/salt"

# BLAKE2b message, keyed with the mailbox master key: the lookup key the page
# presents to find its thread. The server may learn it; it reveals nothing
# about the mailbox's private keys (distinct labels).
LABEL_MAIL_LOOKUP = b"luisterend-oor/v1/mail/lookup-key"

# Prefix of the BLAKE2b message (unkeyed), followed by the lookup key: the only
# form in which the server stores the lookup key.
LABEL_MAIL_LOOKUP_HASH = b"luisterend-oor/v1/mail/lookup-hash"

# BLAKE2b message, keyed with the mailbox master key: the help-seeker's X25519
# secret (the key message keys are wrapped to).
LABEL_MAIL_X25519 = b"luisterend-oor/v1/mail/x25519"

# BLAKE2b message, keyed with the mailbox master key: the help-seeker's
# Ed25519 seed (signs the help-seeker's messages).
LABEL_MAIL_ED25519 = b"luisterend-oor/v1/mail/ed25519"

# Prefix of the message an Ed25519 key signs to vouch for an X25519 public key
# of the same holder (a volunteer's identity, or a mailbox), followed by that
# X25519 public key.
LABEL_MAIL_KEY_CERT = b"luisterend-oor/v1/mail/key-certificate"

# BLAKE2b message, keyed with a mail message's content key: the message's
# 24-byte AEAD nonce, which is thereby also a commitment to the content key.
LABEL_MAIL_NONCE = b"luisterend-oor/v1/mail/nonce"

# Prefix of a mail message's AEAD associated data, followed by thread id, seq
# and author byte.
LABEL_MAIL_AD = b"luisterend-oor/v1/mail/ad"

# Prefix of the message the author of a mail message signs, followed by thread
# id, seq, author byte and the BLAKE2b-256 hash of the body.
LABEL_MAIL_SIGNATURE = b"luisterend-oor/v1/mail/signature"

# BLAKE2b message, keyed with a note's content key: the note's 24-byte AEAD
# nonce and key commitment (section 12.10). Distinct from LABEL_MAIL_NONCE, so
# no note body is ever a valid message body, nor the other way round.
LABEL_MAIL_NOTE_NONCE = b"luisterend-oor/v1/mail/note-nonce"

# Prefix of a note's AEAD associated data, followed by the thread id (12.10).
LABEL_MAIL_NOTE_AD = b"luisterend-oor/v1/mail/note-ad"

# Prefix of the message a volunteer signs for a note, followed by the thread id
# and the BLAKE2b-256 hash of the note's body (12.10).
LABEL_MAIL_NOTE_SIGNATURE = b"luisterend-oor/v1/mail/note-signature"

# The first bytes of a key statement or revocation, the message the offline root key signs
# (section 14.1). No other message the root key could be asked to sign starts with it.
LABEL_KEY_STATEMENT = b"luisterend-oor/v1/key-statement"

# Prefix of the SHA-256 message, followed by account id, X25519 and Ed25519 public keys,
# whose first 16 bytes give the 30-digit fingerprint compared aloud (14.5).
LABEL_FINGERPRINT = b"luisterend-oor/v1/fingerprint"

# Prefix of the SHA-256 message, followed by the count and the sorted revoked account ids:
# the digest on a checkpoint's `oor-revoked` extension line (14.3).
LABEL_REVOKED_SET = b"luisterend-oor/v1/revoked-set"

# Prefix of the AEAD associated data of the root key file, followed by the root public key
# (14.6): the sealed seed cannot be paired with another public key.
LABEL_ROOT_KEY_WRAP = b"luisterend-oor/v1/root-key-wrap"

# Reserved for release manifests (14.7): names what a release entry commits to.
LABEL_RELEASE = b"luisterend-oor/v1/release"

# For tests and the protocol document: name -> value of every label. Read-only,
# so no caller can change a label at run time.
ALL_LABELS: Mapping[str, bytes] = MappingProxyType({
    "LABEL_VOLUNTEER_AUTH": LABEL_VOLUNTEER_AUTH,
    "LABEL_VOLUNTEER_WRAP": LABEL_VOLUNTEER_WRAP,
    "LABEL_IDENTITY_WRAP": LABEL_IDENTITY_WRAP,
    "LABEL_SERVER_TOKEN": LABEL_SERVER_TOKEN,
    "LABEL_FAKE_SALT": LABEL_FAKE_SALT,
    "LABEL_CHAT_OFFER": LABEL_CHAT_OFFER,
    "LABEL_CHAT_LINK": LABEL_CHAT_LINK,
    "LABEL_CHAT_MESSAGE_KEY": LABEL_CHAT_MESSAGE_KEY,
    "LABEL_CHAT_CHAIN_KEY": LABEL_CHAT_CHAIN_KEY,
    "LABEL_CHAT_AD": LABEL_CHAT_AD,
    "LABEL_POW": LABEL_POW,
    "LABEL_MAIL_SALT": LABEL_MAIL_SALT,
    "LABEL_MAIL_LOOKUP": LABEL_MAIL_LOOKUP,
    "LABEL_MAIL_LOOKUP_HASH": LABEL_MAIL_LOOKUP_HASH,
    "LABEL_MAIL_X25519": LABEL_MAIL_X25519,
    "LABEL_MAIL_ED25519": LABEL_MAIL_ED25519,
    "LABEL_MAIL_KEY_CERT": LABEL_MAIL_KEY_CERT,
    "LABEL_MAIL_NONCE": LABEL_MAIL_NONCE,
    "LABEL_MAIL_AD": LABEL_MAIL_AD,
    "LABEL_MAIL_SIGNATURE": LABEL_MAIL_SIGNATURE,
    "LABEL_MAIL_NOTE_NONCE": LABEL_MAIL_NOTE_NONCE,
    "LABEL_MAIL_NOTE_AD": LABEL_MAIL_NOTE_AD,
    "LABEL_MAIL_NOTE_SIGNATURE": LABEL_MAIL_NOTE_SIGNATURE,
    "LABEL_KEY_STATEMENT": LABEL_KEY_STATEMENT,
    "LABEL_FINGERPRINT": LABEL_FINGERPRINT,
    "LABEL_REVOKED_SET": LABEL_REVOKED_SET,
    "LABEL_ROOT_KEY_WRAP": LABEL_ROOT_KEY_WRAP,
    "LABEL_RELEASE": LABEL_RELEASE,
})
