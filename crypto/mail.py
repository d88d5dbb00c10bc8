"""PROTOCOL.md section 12, Mail: the return token, mailbox keys, key certificates, messages.

- 12.1: the return token a help-seeker types (20 symbols of Crockford's
  base32 with a check that catches every single typo and swap);
- 12.2: the mailbox keys derived from it (Argon2id, then BLAKE2b under
  labels) and the lookup hash the server stores;
- 12.3: key certificates, an Ed25519 signature over the same holder's X25519
  key, which the server and the pages verify;
- 12.4 to 12.6: messages sealed with a fresh content key per message, signed
  by their author and wrapped to exactly the help-seeker and the assigned
  volunteer, and re-wrapped at a handover. 12.7 (what the server enforces)
  is ``server/mail/desk.py``, with ``verify_mail_signature`` from here;
- 12.10: a volunteer's private note on a thread, sealed to their own key,
  signed by them, and sealed anew for a colleague at a handover.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import _primitives as _p
from ._checks import PAD_BLOCK, pad, padded_size, require_bytes, require_int, require_seq, require_sized, unpad, utf8
from .encoding import MAX_SAFE_INTEGER
from .errors import BadSignature, DecryptionFailed, InvalidInput, InvalidToken
from .labels import (LABEL_MAIL_AD, LABEL_MAIL_ED25519, LABEL_MAIL_KEY_CERT, LABEL_MAIL_LOOKUP, LABEL_MAIL_LOOKUP_HASH,
                     LABEL_MAIL_NONCE, LABEL_MAIL_NOTE_AD, LABEL_MAIL_NOTE_NONCE, LABEL_MAIL_NOTE_SIGNATURE,
                     LABEL_MAIL_SALT, LABEL_MAIL_SIGNATURE, LABEL_MAIL_X25519)
from .params import KEY_BYTES, PUBLIC_KEY_BYTES, SALT_BYTES, SIGNATURE_BYTES, KdfParams
from .volunteer import Identity

# -- 12.1 Return token ------------------------------------------------------------------------

# Crockford's base32: digits and upper-case letters without I, L, O and U, so
# that no two symbols look alike and a read-aloud token has no vowel-free
# ambiguity; O, I and L are read as the digits they resemble.
MAIL_TOKEN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAIL_TOKEN_DATA_SYMBOLS = 18  # 90 random bits
MAIL_TOKEN_SYMBOLS = 20  # data + 2 check symbols
MAIL_TOKEN_CHECK_MODULUS = 1021  # prime, > 32 and < 32**2 (see _token_check)
MAIL_TOKEN_RANDOM_BYTES = 12  # 96 random bits, of which the low 90 are used
_TOKEN_GROUP = 4
_TOKEN_DATA_BITS = 5 * MAIL_TOKEN_DATA_SYMBOLS
# Cap before looking at hostile or pasted input: a token with generous
# spacing is under 40 characters.
_MAX_TOKEN_INPUT_CHARS = 200
# Ignored between symbols: what people type or paste between groups. Spaces
# and line breaks (also no-break spaces from formatted mail), ASCII and
# Unicode dashes (phones turn "-" into dashes), dots and underscores.
_TOKEN_SEPARATORS = frozenset(" \t\r\n\u00a0-\u2010\u2011\u2012\u2013\u2014\u2015\u2212._")


def _token_symbol_values() -> dict[str, int]:
    values = {}
    for value, symbol in enumerate(MAIL_TOKEN_ALPHABET):
        values[symbol] = value
        values[symbol.lower()] = value
    # Crockford's decoding of the look-alikes. Only ASCII is case-folded:
    # Unicode case mapping differs between Python and JavaScript.
    for symbol, value in (("O", 0), ("I", 1), ("L", 1)):
        values[symbol] = value
        values[symbol.lower()] = value
    return values


_TOKEN_VALUES = _token_symbol_values()
if len(MAIL_TOKEN_ALPHABET) != 32 or len(set(MAIL_TOKEN_ALPHABET)) != 32:
    raise ImportError("the token alphabet must have 32 distinct symbols")


def _token_check(data_values: list[int]) -> int:
    # N mod 1021, N the data symbols read as one base-32 number. A typo in one
    # symbol changes N by d * 32**k with 0 < |d| < 32; swapping neighbours a, b
    # changes it by (a - b) * 31 * 32**k. 1021 is a prime that divides none of
    # these factors, so the remainder always changes (PROTOCOL.md 12.1).
    remainder = 0
    for value in data_values:
        remainder = (remainder * 32 + value) % MAIL_TOKEN_CHECK_MODULUS
    return remainder


def _token_with_check(data_values: list[int]) -> str:
    check = _token_check(data_values)
    values = data_values + [check // 32, check % 32]
    return "".join(MAIL_TOKEN_ALPHABET[v] for v in values)


def parse_token(text: str) -> str:
    """The canonical 20-symbol token of what a person typed, or :class:`InvalidToken`.

    Forgiving where it is safe: spaces, line breaks, dashes, dots and
    underscores are ignored, lower case is read as upper case, and O, I, L
    are read as 0, 1, 1. Strict where it matters: any other character
    (reason ``"character"``), not exactly 20 symbols (``"length"``) or
    check symbols that do not match (``"check"``) are refused before any key
    is derived or request made.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"token must be a str, not {type(text).__name__}")
    if len(text) > _MAX_TOKEN_INPUT_CHARS:
        raise InvalidToken("length", "this is much longer than a token")
    values = []
    for char in text:
        if char in _TOKEN_SEPARATORS:
            continue
        value = _TOKEN_VALUES.get(char)
        if value is None:
            raise InvalidToken("character", "a token holds only digits and the letters A-Z without U")
        values.append(value)
    if len(values) != MAIL_TOKEN_SYMBOLS:
        raise InvalidToken("length", f"a token has {MAIL_TOKEN_SYMBOLS} symbols, this has {len(values)}")
    data, check = values[:MAIL_TOKEN_DATA_SYMBOLS], values[MAIL_TOKEN_DATA_SYMBOLS:]
    if _token_check(data) != check[0] * 32 + check[1]:
        raise InvalidToken("check", "the token's check symbols do not match: a symbol is mistyped")
    return "".join(MAIL_TOKEN_ALPHABET[v] for v in values)


def format_token(token: str) -> str:
    """``XXXX-XXXX-XXXX-XXXX-XXXX``: how a token is shown and read aloud.

    Accepts anything :func:`parse_token` accepts (and raises what it raises).
    """
    canonical = parse_token(token)
    return "-".join(canonical[i : i + _TOKEN_GROUP] for i in range(0, MAIL_TOKEN_SYMBOLS, _TOKEN_GROUP))


def token_code_from_bytes(random12: bytes) -> str:
    """The canonical token of 12 random bytes: the low 90 of their 96 bits, then the check.

    For test vectors and :func:`new_token_code`. Taking whole bits (not
    ``value % 32**18``) keeps every token exactly equally likely.
    """
    data = require_bytes(random12, MAIL_TOKEN_RANDOM_BYTES, "token randomness")
    number = int.from_bytes(data, "big") & ((1 << _TOKEN_DATA_BITS) - 1)
    values = [(number >> (5 * (MAIL_TOKEN_DATA_SYMBOLS - 1 - i))) & 31 for i in range(MAIL_TOKEN_DATA_SYMBOLS)]
    return _token_with_check(values)


def new_token_code() -> str:
    """A fresh random return token (canonical, 20 symbols; show it with :func:`format_token`).

    90 random bits from libsodium's CSPRNG. The mail gateway makes one per
    first e-mail; the help-seeker's page makes its own (``newTokenCode``).
    """
    return token_code_from_bytes(_p.random_bytes(MAIL_TOKEN_RANDOM_BYTES))


# -- 12.2 Mailbox keys ------------------------------------------------------------------------


@dataclass(frozen=True)
class Mailbox:
    """The keys a help-seeker's token opens.

    ``lookup_key`` is presented to the server to find the thread (which stores
    only :func:`mailbox_lookup_hash` of it); the X25519 key pair receives the
    wrapped message keys; the Ed25519 key pair signs the help-seeker's
    messages. Construction checks that the public keys belong to the secrets;
    the secrets and the lookup key are hidden from ``repr``.
    """

    lookup_key: bytes = field(repr=False)
    x25519_secret: bytes = field(repr=False)
    x25519_public: bytes
    ed25519_seed: bytes = field(repr=False)
    ed25519_public: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "lookup_key", require_bytes(self.lookup_key, KEY_BYTES, "lookup_key"))
        # The four key fields are checked exactly as an Identity's are.
        keys = Identity(self.x25519_secret, self.x25519_public, self.ed25519_seed, self.ed25519_public)
        object.__setattr__(self, "x25519_secret", keys.x25519_secret)
        object.__setattr__(self, "x25519_public", keys.x25519_public)
        object.__setattr__(self, "ed25519_seed", keys.ed25519_seed)
        object.__setattr__(self, "ed25519_public", keys.ed25519_public)


_MAX_DEPLOYMENT_ID_CHARS = 256


def _mailbox_salt(deployment_id: str) -> bytes:
    # Public and the same for every mailbox of a deployment: the help-seeker
    # has only the token, so there is nowhere to keep a per-mailbox salt. It
    # still stops a table computed for one deployment from fitting another.
    data = utf8(deployment_id, "deployment_id", max_chars=_MAX_DEPLOYMENT_ID_CHARS)
    if not data:
        raise InvalidInput("deployment_id must not be empty")
    return _p.blake2b(LABEL_MAIL_SALT + data, digest_size=SALT_BYTES)


def derive_mailbox(token: str, deployment_id: str, params: KdfParams) -> Mailbox:
    """Token -> Argon2id master key -> lookup key and the mailbox's two key pairs.

    The token is parsed first (:func:`parse_token`; a typo raises
    :class:`InvalidToken`), so any accepted spelling gives the same keys.
    ``deployment_id`` and ``params`` come from the deployment's configuration
    and MUST NOT change while mailboxes exist: other values give other keys.
    """
    return mailbox_from_master(mailbox_master_key(token, deployment_id, params))


def mailbox_master_key(token: str, deployment_id: str, params: KdfParams) -> bytes:
    """The slow half of :func:`derive_mailbox`: the Argon2id master key, in one call into libsodium.

    For a caller that runs the derivation on a thread of its own: that thread then needs the
    interpreter once, not once per subkey (bench/README.md, "Issue 16, session 8"). The master key
    is as secret as the token: pass it to :func:`mailbox_from_master` and keep it no longer."""
    canonical = parse_token(token)
    salt = _mailbox_salt(deployment_id)
    if not isinstance(params, KdfParams):
        raise InvalidInput("params must be a KdfParams")
    return _p.argon2id(KEY_BYTES, canonical.encode("ascii"), salt, params.opslimit, params.memlimit)


def mailbox_from_master(master: bytes) -> Mailbox:
    """The fast half of :func:`derive_mailbox`: three subkeys of the master key and the two key pairs."""
    master = require_bytes(master, KEY_BYTES, "master")
    # Three subkeys of one master key under distinct labels: the lookup key,
    # which the server sees, reveals nothing about the two private keys.
    x_sec = _p.blake2b(LABEL_MAIL_X25519, key=master, digest_size=KEY_BYTES)
    e_seed = _p.blake2b(LABEL_MAIL_ED25519, key=master, digest_size=KEY_BYTES)
    return Mailbox(
        lookup_key=_p.blake2b(LABEL_MAIL_LOOKUP, key=master, digest_size=KEY_BYTES),
        x25519_secret=x_sec,
        x25519_public=_p.x25519_public_from_secret(x_sec),
        ed25519_seed=e_seed,
        ed25519_public=_p.ed25519_public_from_seed(e_seed),
    )


def mailbox_lookup_hash(lookup_key: bytes) -> bytes:
    """What the server stores and looks a mailbox up by: BLAKE2b-256(LABEL_MAIL_LOOKUP_HASH || lookup_key).

    Unkeyed and unsalted on purpose, like :func:`hash_token`: the lookup key
    is a 256-bit function of a 90-bit token behind Argon2id, so there is
    nothing to guess, and the hash must be stable to find the row.
    """
    key = require_bytes(lookup_key, KEY_BYTES, "lookup_key")
    return _p.blake2b(LABEL_MAIL_LOOKUP_HASH + key, digest_size=KEY_BYTES)


# -- 12.3 Key certificates --------------------------------------------------------------------


def _key_holder(value: object, what: str) -> Identity | Mailbox:
    # A volunteer's Identity and a help-seeker's Mailbox both hold an X25519
    # and an Ed25519 key pair, checked consistent at construction.
    if not isinstance(value, (Identity, Mailbox)):
        raise InvalidInput(f"{what} must be an Identity or a Mailbox")
    return value


def _key_certificate_message(x25519_public: bytes) -> bytes:
    return LABEL_MAIL_KEY_CERT + require_bytes(x25519_public, PUBLIC_KEY_BYTES, "x25519_public")


def sign_key_certificate(holder: Identity | Mailbox) -> bytes:
    """Detached Ed25519 signature (64 bytes) by ``holder`` over its own X25519 public key.

    A volunteer's page makes one at enrolment, so that pages encrypting to the
    volunteer can check that the X25519 key the server hands out is the one
    the holder of the Ed25519 identity key chose.
    """
    holder = _key_holder(holder, "holder")
    return _p.ed25519_sign_detached(holder.ed25519_seed, _key_certificate_message(holder.x25519_public))


def verify_key_certificate(ed25519_public: bytes, x25519_public: bytes, certificate: bytes) -> None:
    """Return None, or raise :class:`BadSignature` unless ``certificate`` vouches for ``x25519_public``.

    Raises :class:`InvalidInput` for wrong sizes (checked first).
    """
    key = require_bytes(ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
    message = _key_certificate_message(x25519_public)
    cert = require_bytes(certificate, SIGNATURE_BYTES, "certificate")
    if not _p.ed25519_verify_detached(key, message, cert):
        raise BadSignature("the key certificate does not vouch for this X25519 key")


# -- 12.4 to 12.6 Messages, opening, handover -------------------------------------------------

MAIL_THREAD_ID_BYTES = 16
MAIL_VERSION = 1
MAX_MAIL_CONTENT = 32768
MAX_MAIL_SEQ = MAX_SAFE_INTEGER  # as for chat: the largest integer JSON carries exactly into JavaScript
AUTHOR_SEEKER = 1
AUTHOR_VOLUNTEER = 2
MAIL_WRAP_BYTES = KEY_BYTES + _p.BOX_SEAL_OVERHEAD_BYTES  # 80
_MAIL_HEADER_BYTES = 1 + _p.AEAD_NONCE_BYTES  # version + nonce
MIN_MAIL_BODY_BYTES = _MAIL_HEADER_BYTES + PAD_BLOCK + _p.AEAD_TAG_BYTES  # 297
MAX_MAIL_BODY_BYTES = _MAIL_HEADER_BYTES + padded_size(MAX_MAIL_CONTENT) + _p.AEAD_TAG_BYTES  # 33065
# Every body size a sender can produce (header + 256·k + tag): the server refuses any other.
MAIL_BODY_LENGTHS = frozenset(range(MIN_MAIL_BODY_BYTES, MAX_MAIL_BODY_BYTES + 1, PAD_BLOCK))

if MAIL_WRAP_BYTES != 80:
    raise ImportError("libsodium sizes differ from the protocol's; refusing to load")


@dataclass(frozen=True)
class SealedMail:
    """One sealed mail message: what the author's page sends to the server.

    ``body`` and ``signature`` are the same for both readers; ``seeker_wrap``
    and ``volunteer_wrap`` are the message key sealed to each reader.
    """

    body: bytes
    signature: bytes
    seeker_wrap: bytes
    volunteer_wrap: bytes


def new_mail_thread_id() -> bytes:
    """A fresh random 16-byte thread id (chosen by the server for a new thread)."""
    return _p.random_bytes(MAIL_THREAD_ID_BYTES)


def _mail_author(author: object) -> int:
    author = require_int(author, "author")
    if author not in (AUTHOR_SEEKER, AUTHOR_VOLUNTEER):
        raise InvalidInput("author must be AUTHOR_SEEKER (1) or AUTHOR_VOLUNTEER (2)")
    return author


def _mail_body(body: object) -> bytes:
    shape = f"{_MAIL_HEADER_BYTES} + {PAD_BLOCK}*k + {_p.AEAD_TAG_BYTES} bytes"
    data = require_sized(body, MAIL_BODY_LENGTHS, "mail body", shape)
    if data[0] != MAIL_VERSION:
        raise InvalidInput(f"unknown mail body version {data[0]}")
    return data


def _mail_position(thread_id: object, seq: object, author: object) -> bytes:
    # thread id || seq || author: fixed sizes, so exactly one parse.
    thread = require_bytes(thread_id, MAIL_THREAD_ID_BYTES, "thread_id")
    return thread + require_seq(seq, MAX_MAIL_SEQ).to_bytes(8, "big") + bytes([_mail_author(author)])


def _mail_nonce(content_key: bytes) -> bytes:
    # Each content key encrypts exactly one message, so a nonce that is a
    # function of the key is never reused. Making it a PRF of the key turns
    # the signed body into a commitment to the key: XChaCha20-Poly1305 alone
    # is not key-committing, and without this an author could craft one body
    # that opens to different texts under two keys and wrap a different key
    # for each reader, with one valid signature.
    return _p.blake2b(LABEL_MAIL_NONCE, key=content_key, digest_size=_p.AEAD_NONCE_BYTES)


def _mail_signed_message(position: bytes, body: bytes) -> bytes:
    return LABEL_MAIL_SIGNATURE + position + _p.blake2b(body, digest_size=KEY_BYTES)


class PreparedMail:
    """A mail message encrypted and signed whose key is not yet sealed to its volunteer.

    For the mail gateway, which learns the volunteer only inside the storage transaction that
    chooses them: everything but the volunteer's wrap is done beforehand (off that transaction),
    and :meth:`for_volunteer` adds the one sealed box. It holds the message key until then: keep it
    no longer than that transaction.
    """

    __slots__ = ("_body", "_signature", "_seeker_wrap", "_key")

    def __init__(self, body: bytes, signature: bytes, seeker_wrap: bytes, key: bytes) -> None:
        self._body, self._signature, self._seeker_wrap, self._key = body, signature, seeker_wrap, key

    def __repr__(self) -> str:  # never the key
        return f"PreparedMail(body={len(self._body)} bytes)"

    def for_volunteer(self, volunteer_x25519_public: bytes) -> SealedMail:
        """The sealed message, its key sealed to ``volunteer_x25519_public`` (checked with
        :func:`verify_key_certificate` first, as for :func:`seal_mail`)."""
        volunteer_public = require_bytes(volunteer_x25519_public, PUBLIC_KEY_BYTES, "volunteer_x25519_public")
        return SealedMail(body=self._body, signature=self._signature, seeker_wrap=self._seeker_wrap,
                          volunteer_wrap=_p.box_seal(self._key, volunteer_public))


def prepare_mail(
    thread_id: bytes,
    seq: int,
    author: int,
    content: bytes,
    signer: Identity | Mailbox,
    seeker_x25519_public: bytes,
    *,
    key: bytes | None = None,
) -> PreparedMail:
    """:func:`seal_mail` up to the volunteer's wrap: encrypted, signed, its key sealed to the
    help-seeker. The same bytes as :func:`seal_mail` once :meth:`PreparedMail.for_volunteer` is called."""
    position = _mail_position(thread_id, seq, author)
    data = require_bytes(content, None, "content")
    if len(data) > MAX_MAIL_CONTENT:
        raise InvalidInput(f"mail messages are at most {MAX_MAIL_CONTENT} bytes, got {len(data)}")
    signer = _key_holder(signer, "signer")
    seeker_public = require_bytes(seeker_x25519_public, PUBLIC_KEY_BYTES, "seeker_x25519_public")
    content_key = _p.random_bytes(KEY_BYTES) if key is None else require_bytes(key, KEY_BYTES, "key")
    nonce = _mail_nonce(content_key)
    sealed = _p.aead_encrypt(content_key, nonce, pad(data), LABEL_MAIL_AD + position)
    body = bytes([MAIL_VERSION]) + nonce + sealed
    return PreparedMail(body, _p.ed25519_sign_detached(signer.ed25519_seed, _mail_signed_message(position, body)),
                        _p.box_seal(content_key, seeker_public), content_key)


def seal_mail(
    thread_id: bytes,
    seq: int,
    author: int,
    content: bytes,
    signer: Identity | Mailbox,
    seeker_x25519_public: bytes,
    volunteer_x25519_public: bytes,
    *,
    key: bytes | None = None,
) -> SealedMail:
    """Encrypt, sign and wrap one mail message for the help-seeker and the assigned volunteer.

    ``signer`` is the author's key holder: the help-seeker's :class:`Mailbox`
    (``author=AUTHOR_SEEKER``) or the volunteer's :class:`Identity`
    (``AUTHOR_VOLUNTEER``). ``volunteer_x25519_public`` MUST have been checked
    with :func:`verify_key_certificate` first. ``key`` (the content key)
    exists only for test vectors; production callers MUST leave it out.
    """
    return prepare_mail(thread_id, seq, author, content, signer, seeker_x25519_public,
                        key=key).for_volunteer(volunteer_x25519_public)


def verify_mail_signature(
    thread_id: bytes, seq: int, author: int, body: bytes, signature: bytes, author_ed25519_public: bytes
) -> None:
    """Check a mail message's shape and its author's signature; return None or raise.

    :class:`InvalidInput` for a thread id, seq, author, body shape or version,
    signature or key that no honest sender produces (checked first);
    :class:`BadSignature` unless ``author_ed25519_public`` signed exactly this
    thread, position, author and body. Needs no secret: the server calls it on
    every submitted message with the key of the party that submits it.
    """
    position = _mail_position(thread_id, seq, author)
    data = _mail_body(body)
    sig = require_bytes(signature, SIGNATURE_BYTES, "signature")
    key = require_bytes(author_ed25519_public, PUBLIC_KEY_BYTES, "author_ed25519_public")
    if not _p.ed25519_verify_detached(key, _mail_signed_message(position, data), sig):
        raise BadSignature("the mail message is not signed by this author for this thread and position")


def _unwrap_mail_key(wrap: object, reader: Identity | Mailbox) -> bytes:
    sealed = require_bytes(wrap, MAIL_WRAP_BYTES, "wrap")
    return _p.box_seal_open(sealed, reader.x25519_public, reader.x25519_secret)


def open_mail(
    thread_id: bytes,
    seq: int,
    author: int,
    body: bytes,
    signature: bytes,
    wrap: bytes,
    reader: Identity | Mailbox,
    author_ed25519_public: bytes,
) -> bytes:
    """Check and decrypt one mail message for ``reader``; returns its content.

    In this order: sizes (:class:`InvalidInput`), the author's signature
    (:class:`BadSignature`), the wrap (:class:`DecryptionFailed` if it is not
    for ``reader``), the key commitment in the nonce, the AEAD and the padding
    (:class:`DecryptionFailed`). Nothing is returned on any failure.
    """
    reader = _key_holder(reader, "reader")
    sealed_key = require_bytes(wrap, MAIL_WRAP_BYTES, "wrap")
    verify_mail_signature(thread_id, seq, author, body, signature, author_ed25519_public)
    position = _mail_position(thread_id, seq, author)
    data = _mail_body(body)
    content_key = _unwrap_mail_key(sealed_key, reader)
    nonce = data[1:_MAIL_HEADER_BYTES]
    if not _p.constant_time_equal(_mail_nonce(content_key), nonce):
        # The wrap holds a key this body was not made with (a wrap of another
        # message, or one made up by whoever can seal to the reader).
        raise DecryptionFailed("the wrapped key does not belong to this message")
    padded = _p.aead_decrypt(content_key, nonce, data[_MAIL_HEADER_BYTES:], LABEL_MAIL_AD + position)
    return unpad(padded, MAX_MAIL_CONTENT, "mail message")


def rewrap_mail_key(wrap: bytes, reader: Identity | Mailbox, new_reader_x25519_public: bytes) -> bytes:
    """Unwrap a message key with ``reader``'s key and seal it to another reader (80 bytes).

    For a handover (the volunteer's page re-wraps every message of the thread
    for the colleague) and a reassignment (the help-seeker's page re-wraps for
    the new volunteer). ``new_reader_x25519_public`` MUST have been checked
    with :func:`verify_key_certificate`: this hands the thread to whoever holds
    that key. Raises :class:`DecryptionFailed` if the wrap is not for ``reader``.
    """
    reader = _key_holder(reader, "reader")
    sealed_key = require_bytes(wrap, MAIL_WRAP_BYTES, "wrap")
    new_public = require_bytes(new_reader_x25519_public, PUBLIC_KEY_BYTES, "new_reader_x25519_public")
    return _p.box_seal(_unwrap_mail_key(sealed_key, reader), new_public)


# -- 12.10 Notes on a thread ------------------------------------------------------------------

_MAIL_NOTE_VERSION = 1
MAX_MAIL_NOTE_CONTENT = 8192  # bytes of UTF-8; the page allows 2,000 characters (at most 4 bytes each)
_NOTE_BODY_MIN = _MAIL_HEADER_BYTES + PAD_BLOCK + _p.AEAD_TAG_BYTES  # 297
_NOTE_BODY_MAX = _MAIL_HEADER_BYTES + padded_size(MAX_MAIL_NOTE_CONTENT) + _p.AEAD_TAG_BYTES  # 8489
_NOTE_TAIL = SIGNATURE_BYTES + MAIL_WRAP_BYTES  # signature (64) and wrap (80) after the body
_MIN_MAIL_NOTE_BYTES = _NOTE_BODY_MIN + _NOTE_TAIL  # 441
_MAX_MAIL_NOTE_BYTES = _NOTE_BODY_MAX + _NOTE_TAIL  # 8633
MAIL_NOTE_LENGTHS = frozenset(range(_MIN_MAIL_NOTE_BYTES, _MAX_MAIL_NOTE_BYTES + 1, PAD_BLOCK))


def _note_parts(note: object) -> tuple[bytes, bytes, bytes]:
    shape = f"{_MAIL_HEADER_BYTES} + {PAD_BLOCK}*k + {_p.AEAD_TAG_BYTES} + {_NOTE_TAIL} bytes"
    data = require_sized(note, MAIL_NOTE_LENGTHS, "mail note", shape)
    if data[0] != _MAIL_NOTE_VERSION:
        raise InvalidInput(f"unknown mail note version {data[0]}")
    body_end = len(data) - _NOTE_TAIL
    return data[:body_end], data[body_end:body_end + SIGNATURE_BYTES], data[body_end + SIGNATURE_BYTES:]


def _note_nonce(content_key: bytes) -> bytes:
    # As for messages (12.4): one key per note, so the nonce is never reused, and
    # the signed body commits to the key.
    return _p.blake2b(LABEL_MAIL_NOTE_NONCE, key=content_key, digest_size=_p.AEAD_NONCE_BYTES)


def _note_signed_message(thread: bytes, body: bytes) -> bytes:
    return LABEL_MAIL_NOTE_SIGNATURE + thread + _p.blake2b(body, digest_size=KEY_BYTES)


def seal_mail_note(thread_id: bytes, content: bytes, writer: Identity, reader_x25519_public: bytes, *,
                   key: bytes | None = None) -> bytes:
    """A volunteer's private note on a thread (PROTOCOL.md 12.10): encrypted under a fresh key, signed
    by ``writer`` (the volunteer's identity), the key sealed to ``reader_x25519_public`` (the
    writer's own key, or at a handover the colleague's, checked with :func:`verify_key_certificate`).

    Returns body || signature || wrap. ``key`` exists only for test vectors; production callers
    MUST leave it out.
    """
    thread = require_bytes(thread_id, MAIL_THREAD_ID_BYTES, "thread_id")
    data = require_bytes(content, None, "content")
    if len(data) > MAX_MAIL_NOTE_CONTENT:
        raise InvalidInput(f"notes are at most {MAX_MAIL_NOTE_CONTENT} bytes, got {len(data)}")
    if not isinstance(writer, Identity):
        raise InvalidInput("writer must be an Identity")
    reader_public = require_bytes(reader_x25519_public, PUBLIC_KEY_BYTES, "reader_x25519_public")
    content_key = _p.random_bytes(KEY_BYTES) if key is None else require_bytes(key, KEY_BYTES, "key")
    nonce = _note_nonce(content_key)
    body = bytes([_MAIL_NOTE_VERSION]) + nonce + _p.aead_encrypt(content_key, nonce, pad(data),
                                                                LABEL_MAIL_NOTE_AD + thread)
    signature = _p.ed25519_sign_detached(writer.ed25519_seed, _note_signed_message(thread, body))
    return body + signature + _p.box_seal(content_key, reader_public)


def check_mail_note(note: bytes) -> None:
    """The note's shape and version (InvalidInput otherwise): what the server can check, holding no key."""
    _note_parts(note)


def open_mail_note(thread_id: bytes, note: bytes, reader: Identity, writer_ed25519_public: bytes) -> bytes:
    """Check and decrypt a note for ``reader``; returns its content.

    In this order: sizes and version (:class:`InvalidInput`), the writer's signature over this
    thread and body (:class:`BadSignature`), the wrap, the key commitment, the AEAD and the
    padding (:class:`DecryptionFailed`). Nothing is returned on any failure.
    """
    thread = require_bytes(thread_id, MAIL_THREAD_ID_BYTES, "thread_id")
    body, signature, wrap = _note_parts(note)
    if not isinstance(reader, Identity):
        raise InvalidInput("reader must be an Identity")
    writer = require_bytes(writer_ed25519_public, PUBLIC_KEY_BYTES, "writer_ed25519_public")
    if not _p.ed25519_verify_detached(writer, _note_signed_message(thread, body), signature):
        raise BadSignature("the note is not signed by this writer for this thread")
    content_key = _p.box_seal_open(wrap, reader.x25519_public, reader.x25519_secret)
    nonce = body[1:_MAIL_HEADER_BYTES]
    if not _p.constant_time_equal(_note_nonce(content_key), nonce):
        raise DecryptionFailed("the wrapped key does not belong to this note")
    padded = _p.aead_decrypt(content_key, nonce, body[_MAIL_HEADER_BYTES:], LABEL_MAIL_NOTE_AD + thread)
    return unpad(padded, MAX_MAIL_NOTE_CONTENT, "mail note")
