"""The cryptographic facade of Luisterend Oor: two faces, one module per PROTOCOL.md section.

This file defines nothing; it re-exports. It has two faces:

``SERVER_API``: what server code may call. Operations that need nobody's
    secret: decode and check (``b64decode``, ``check_chat_ciphertext_b64``),
    verify (signatures, key certificates, proof-of-work), hash what the server
    stores (tokens, auth keys, mailbox lookup keys), make the server's own
    tokens, ids and challenges, the sizes of everything on the wire, and the
    errors. ``server/`` uses only these names.
``CLIENT_API``: the client side of the protocol, what a help-seeker's or a
    volunteer's page does (in the browser, ``web/js/crypto.js``): derive keys
    from a passphrase or a return token, make and hold key pairs, sign, seal,
    open, re-wrap, solve the proof-of-work. Used by the mail gateway (which
    encrypts an incoming e-mail as the help-seeker's page would), ``oor audit``
    (``server/audit.py``, a protocol client), the tests and the benchmarks.

``__all__`` is both together. ``tests/crypto/test_boundary.py`` holds every
package to its face, and holds this file to re-exporting only.

Where the code is (one module per section of ``crypto/PROTOCOL.md``):

==================  =====================================================
``encoding.py``     1 Encodings: base64, the largest JSON integer
``params.py``       2 Primitives: sizes, Argon2id parameters
``_primitives.py``  2 Primitives: the libsodium and argon2 calls (private,
                    hazardous material; the only module importing them)
``volunteer.py``    3 Volunteer key hierarchy: passphrase to keys, identity
``wrap.py``         4 Wrapped identity
``labels.py``       5 Labels
``hashing.py``      6 Server-side hashing
``errors.py``       8 Errors
``chat.py``         10 Chat (offers, ratchet, relay checks, staff links)
``pow.py``          11 Proof-of-work
``mail.py``         12 Mail (token, mailbox keys, certificates, messages)
``transparency.py`` 14 Key and code transparency (statements, the log's
                    tree, checkpoints, cosignatures, key proofs)
``_checks.py``      shared input checks and padding (private)
==================  =====================================================

Section 7 (enrolment and login on the wire) is the server's
(``server/accounts.py``), built from the names here.

Every operation's bytes are fixed by ``crypto/PROTOCOL.md`` and pinned by the
vectors in ``tests/vectors/``; ``web/js/crypto.js`` computes the same bytes in
the browser. Each MUST of the document has an id, mapped to its code and tests
in ``crypto/rules.toml``.

Validation is explicit (``raise``, never ``assert``): everything that comes
from outside is checked for type and length before any secret is touched, and
every refusal is a :class:`CryptoError`.

Nothing here caches a value derived from a secret. Python cannot reliably wipe
``bytes``; keep secrets in local variables and let them go out of scope.
"""

from __future__ import annotations

# -- The server face ---------------------------------------------------------------------------
from .chat import (
    CHAT_ID_BYTES,
    LINK_INVITER,
    LINK_JOINER,
    MAX_CHAT_CIPHERTEXT_B64,
    MAX_CHAT_CIPHERTEXT_BYTES,
    MAX_CHAT_SEQ,
    check_chat_ciphertext_b64,
    check_chat_frame,
    new_chat_id,
    verify_chat_offer,
    verify_link_key,
)
from .encoding import MAX_SAFE_INTEGER, b64check, b64decode, b64encode
from .errors import BadSignature, CryptoError, DecryptionFailed, InvalidInput, InvalidToken, ProofError
from .hashing import (
    MIN_TOKEN_BYTES,
    constant_time_equal,
    fake_salt,
    hash_auth_key,
    hash_token,
    new_token,
    verify_auth_key,
)
from .mail import (
    AUTHOR_SEEKER,
    AUTHOR_VOLUNTEER,
    MAIL_BODY_LENGTHS,
    MAIL_NOTE_LENGTHS,
    MAIL_THREAD_ID_BYTES,
    MAIL_VERSION,
    MAIL_WRAP_BYTES,
    MAX_MAIL_BODY_BYTES,
    MAX_MAIL_SEQ,
    MIN_MAIL_BODY_BYTES,
    PreparedMail,
    SealedMail,
    check_mail_note,
    mailbox_lookup_hash,
    new_mail_thread_id,
    verify_key_certificate,
    verify_mail_signature,
)
from .params import (
    KEY_BYTES,
    MIN_MEMLIMIT,
    MIN_OPSLIMIT,
    PRODUCTION_KDF,
    PUBLIC_KEY_BYTES,
    SALT_BYTES,
    SIGNATURE_BYTES,
    KdfParams,
)
from .pow import (
    POW_MAX_BITS,
    POW_MAX_CHALLENGE_BYTES,
    POW_MIN_CHALLENGE_BYTES,
    POW_NONCE_BYTES,
    new_pow_challenge,
    pow_check,
)
from .transparency import (
    ACCOUNT_ID_BYTES,
    ENTRY_RELEASE,
    ENTRY_STATEMENT,
    EMPTY_ROOT,
    KEY_PROOF_VERSION,
    KIND_KEY,
    KIND_REVOCATION,
    MAX_CLOCK_SKEW,
    MAX_DEPLOYMENT_ID_BYTES,
    MAX_ENTRY_BYTES,
    MAX_KEY_PROOF_JSON,
    MAX_NOTE_BYTES,
    MAX_PROOF_HASHES,
    MAX_STATEMENT_NAME_BYTES,
    NOTE_ALG_COSIGNATURE_V1,
    NOTE_ALG_ED25519,
    ROLE_CODES,
    ROOT_KEY_FILE_HEADER,
    Checkpoint,
    Cosigner,
    Entry,
    MerkleTree,
    NoteKey,
    RootKey,
    Statement,
    decode_entry,
    decode_statement,
    encode_entry_bundle,
    encode_statement,
    fingerprint,
    format_checkpoint,
    leaf_hash,
    node_hash,
    note_key_id,
    open_root_key,
    parse_checkpoint,
    parse_entry_bundle,
    parse_note,
    parse_vkey,
    release_entry,
    revoked_digest,
    root_from_leaf_hashes,
    root_key_file_public,
    seal_root_key,
    sign_statement,
    statement_entry,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
    verify_key_proof,
    verify_statement,
)
from .wrap import WRAP_VERSION, WRAPPED_IDENTITY_BYTES, check_public_key

# -- The client face ---------------------------------------------------------------------------
from .chat import (
    MAX_CHAT_CONTENT,
    ChatKeyPair,
    ChatSession,
    chat_keypair_from_secret,
    new_chat_keypair,
    sign_chat_offer,
    sign_link_key,
)
from .mail import (
    MAIL_TOKEN_ALPHABET,
    MAIL_TOKEN_CHECK_MODULUS,
    MAIL_TOKEN_DATA_SYMBOLS,
    MAIL_TOKEN_RANDOM_BYTES,
    MAIL_TOKEN_SYMBOLS,
    MAX_MAIL_CONTENT,
    MAX_MAIL_NOTE_CONTENT,
    Mailbox,
    derive_mailbox,
    format_token,
    new_token_code,
    open_mail,
    open_mail_note,
    parse_token,
    rewrap_mail_key,
    prepare_mail,
    mailbox_from_master,
    mailbox_master_key,
    seal_mail,
    seal_mail_note,
    sign_key_certificate,
    token_code_from_bytes,
)
from .pow import pow_solve
from .volunteer import (
    Identity,
    VolunteerKeys,
    derive_volunteer_keys,
    identity_from_secrets,
    new_identity,
    new_salt,
)
from .wrap import unwrap_identity, wrap_identity

SERVER_API = (
    # errors (section 8)
    "CryptoError",
    "InvalidInput",
    "InvalidToken",
    "DecryptionFailed",
    "BadSignature",
    # encodings (1) and sizes and parameters (2)
    "b64encode",
    "b64decode",
    "b64check",
    "MAX_SAFE_INTEGER",
    "SALT_BYTES",
    "KEY_BYTES",
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "MIN_OPSLIMIT",
    "MIN_MEMLIMIT",
    "KdfParams",
    "PRODUCTION_KDF",
    # wrapped identity (4): what the server can check without the key
    "WRAPPED_IDENTITY_BYTES",
    "WRAP_VERSION",
    "check_public_key",
    # server-side hashing (6)
    "MIN_TOKEN_BYTES",
    "new_token",
    "hash_token",
    "fake_salt",
    "hash_auth_key",
    "verify_auth_key",
    "constant_time_equal",
    # chat (10): ids, signature checks and the relay's frame checks
    "CHAT_ID_BYTES",
    "MAX_CHAT_SEQ",
    "MAX_CHAT_CIPHERTEXT_BYTES",
    "MAX_CHAT_CIPHERTEXT_B64",
    "LINK_INVITER",
    "LINK_JOINER",
    "new_chat_id",
    "verify_chat_offer",
    "verify_link_key",
    "check_chat_frame",
    "check_chat_ciphertext_b64",
    # proof-of-work (11): issue and check
    "POW_NONCE_BYTES",
    "POW_MIN_CHALLENGE_BYTES",
    "POW_MAX_CHALLENGE_BYTES",
    "POW_MAX_BITS",
    "new_pow_challenge",
    "pow_check",
    # mail (12): what the server stores and checks (12.7)
    "MAIL_THREAD_ID_BYTES",
    "MAIL_VERSION",
    "MAIL_WRAP_BYTES",
    "MAX_MAIL_SEQ",
    "MIN_MAIL_BODY_BYTES",
    "MAX_MAIL_BODY_BYTES",
    "MAIL_BODY_LENGTHS",
    "AUTHOR_SEEKER",
    "AUTHOR_VOLUNTEER",
    "SealedMail",
    "new_mail_thread_id",
    "mailbox_lookup_hash",
    "verify_key_certificate",
    "verify_mail_signature",
    # notes on a thread (12.10): what the server checks of a sealed note
    "MAIL_NOTE_LENGTHS",
    "check_mail_note",
    # key and code transparency (14): statements, the log, checkpoints, key proofs. The three
    # signing keys here are operators' keys, no participant's: the log key is the server's by
    # design, the witness key is `oor witness`'s, and the root key is opened only by `oor root`
    # on a coordinator's own machine (from a passphrase-sealed file, 14.6).
    "ProofError",
    "ROLE_CODES",
    "KIND_KEY",
    "KIND_REVOCATION",
    "ACCOUNT_ID_BYTES",
    "MAX_DEPLOYMENT_ID_BYTES",
    "MAX_STATEMENT_NAME_BYTES",
    "Statement",
    "encode_statement",
    "decode_statement",
    "RootKey",
    "sign_statement",
    "verify_statement",
    "fingerprint",
    "ROOT_KEY_FILE_HEADER",
    "seal_root_key",
    "open_root_key",
    "root_key_file_public",
    "ENTRY_STATEMENT",
    "ENTRY_RELEASE",
    "MAX_ENTRY_BYTES",
    "Entry",
    "statement_entry",
    "release_entry",
    "decode_entry",
    "EMPTY_ROOT",
    "MAX_PROOF_HASHES",
    "leaf_hash",
    "node_hash",
    "MerkleTree",
    "root_from_leaf_hashes",
    "verify_inclusion",
    "verify_consistency",
    "encode_entry_bundle",
    "parse_entry_bundle",
    "revoked_digest",
    "NOTE_ALG_ED25519",
    "NOTE_ALG_COSIGNATURE_V1",
    "MAX_NOTE_BYTES",
    "MAX_CLOCK_SKEW",
    "note_key_id",
    "NoteKey",
    "Cosigner",
    "parse_vkey",
    "parse_note",
    "Checkpoint",
    "format_checkpoint",
    "parse_checkpoint",
    "verify_checkpoint",
    "KEY_PROOF_VERSION",
    "MAX_KEY_PROOF_JSON",
    "verify_key_proof",
)

CLIENT_API = (
    # volunteer keys (3) and wrapped identity (4)
    "VolunteerKeys",
    "Identity",
    "new_salt",
    "derive_volunteer_keys",
    "new_identity",
    "identity_from_secrets",
    "wrap_identity",
    "unwrap_identity",
    # chat (10): key pairs, signing, sessions
    "MAX_CHAT_CONTENT",
    "ChatKeyPair",
    "new_chat_keypair",
    "chat_keypair_from_secret",
    "sign_chat_offer",
    "sign_link_key",
    "ChatSession",
    # proof-of-work (11): solve
    "pow_solve",
    # mail (12): the return token, mailbox keys, certificates, sealing and opening
    "MAIL_TOKEN_ALPHABET",
    "MAIL_TOKEN_SYMBOLS",
    "MAIL_TOKEN_DATA_SYMBOLS",
    "MAIL_TOKEN_CHECK_MODULUS",
    "MAIL_TOKEN_RANDOM_BYTES",
    "parse_token",
    "format_token",
    "new_token_code",
    "token_code_from_bytes",
    "Mailbox",
    "derive_mailbox",
    "mailbox_master_key",
    "mailbox_from_master",
    "sign_key_certificate",
    "MAX_MAIL_CONTENT",
    "seal_mail",
    "prepare_mail",
    "PreparedMail",
    "open_mail",
    "rewrap_mail_key",
    # notes on a thread (12.10): sealed to the volunteer's own key, signed by them
    "MAX_MAIL_NOTE_CONTENT",
    "seal_mail_note",
    "open_mail_note",
)

__all__ = [*SERVER_API, *CLIENT_API]
