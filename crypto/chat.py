"""PROTOCOL.md section 10, Chat: ephemeral keys, the signed offer, the ratchet, the relay's checks.

The help-seeker's page and the volunteer's page each make an ephemeral
X25519 key pair (10.2); the volunteer signs its key for this chat (10.3);
both derive two directional chains with ``crypto_kx`` (10.4) and run a
symmetric ratchet (10.5) under XChaCha20-Poly1305 with a counter nonce and
associated data that binds chat, direction and position (10.6, 10.7). The
relay checks frames without any key (10.8); staff links reuse the same pieces
under their own signature (10.11).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import _primitives as _p
from ._checks import PAD_BLOCK, b64_length, pad, padded_size, require_bytes, require_seq, require_sized, unpad
from .encoding import MAX_SAFE_INTEGER, b64check
from .errors import BadSignature, CryptoError, DecryptionFailed, InvalidInput
from .labels import LABEL_CHAT_AD, LABEL_CHAT_CHAIN_KEY, LABEL_CHAT_LINK, LABEL_CHAT_MESSAGE_KEY, LABEL_CHAT_OFFER
from .params import KEY_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES
from .volunteer import Identity

CHAT_ID_BYTES = 16
MAX_CHAT_CONTENT = 8192
# Sequence numbers travel as JSON numbers: both sides stop at the largest integer a
# browser reads exactly (no chat gets near it).
MAX_CHAT_SEQ = MAX_SAFE_INTEGER
_CHAT_SEQ_BYTES = 8
_DIR_SEEKER_TO_VOLUNTEER = 0x01
_DIR_VOLUNTEER_TO_SEEKER = 0x02

MAX_CHAT_CIPHERTEXT_BYTES = padded_size(MAX_CHAT_CONTENT) + _p.AEAD_TAG_BYTES  # 8464
_MIN_CHAT_CIPHERTEXT_BYTES = PAD_BLOCK + _p.AEAD_TAG_BYTES  # 272
# Every ciphertext size a sender can produce, 256·k + 16 bytes with k = 1..33 (10.6): the one
# statement of the rule, which both frame checks and ChatSession.open use.
_CHAT_CIPHERTEXT_LENGTHS = frozenset(range(_MIN_CHAT_CIPHERTEXT_BYTES, MAX_CHAT_CIPHERTEXT_BYTES + 1, PAD_BLOCK))
# The relay sees `ct` as a string (10.8): the base64 lengths of those sizes.
_CHAT_CIPHERTEXT_B64_LENGTHS = frozenset(b64_length(n) for n in _CHAT_CIPHERTEXT_LENGTHS)
MAX_CHAT_CIPHERTEXT_B64 = b64_length(MAX_CHAT_CIPHERTEXT_BYTES)  # 11286


@dataclass(frozen=True)
class ChatKeyPair:
    """An ephemeral X25519 key pair for one chat (``crypto_kx``).

    Construction checks that ``public`` belongs to ``secret``; the secret is
    hidden from ``repr``. Make a new one for every chat and let it go when the
    session is built: forward secrecy of the chat depends on it being gone.
    """

    public: bytes
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        public = require_bytes(self.public, PUBLIC_KEY_BYTES, "chat public key")
        secret = require_bytes(self.secret, KEY_BYTES, "chat secret key")
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "secret", secret)
        if not _p.constant_time_equal(_p.x25519_public_from_secret(secret), public):
            raise InvalidInput("chat public key does not belong to its secret key")


def new_chat_keypair() -> ChatKeyPair:
    """A fresh random ephemeral key pair (libsodium ``crypto_kx_keypair``)."""
    public, secret = _p.kx_keypair()
    return ChatKeyPair(public=public, secret=secret)


def chat_keypair_from_secret(secret: bytes) -> ChatKeyPair:
    """The key pair of a given 32-byte secret, as ``crypto_kx_keypair`` makes it.

    For test vectors. ``crypto_kx_keypair`` is random secret + X25519 base
    point multiplication, so this is that pair. (``crypto_kx_seed_keypair``
    would hash the seed first and give a different pair: not what we want.)
    """
    secret = require_bytes(secret, KEY_BYTES, "chat secret key")
    return ChatKeyPair(public=_p.x25519_public_from_secret(secret), secret=secret)


def new_chat_id() -> bytes:
    """A fresh random 16-byte chat id (chosen by the server when a chat is queued)."""
    return _p.random_bytes(CHAT_ID_BYTES)


def _chat_offer_message(chat_id: bytes, seeker_public: bytes, volunteer_public: bytes) -> bytes:
    chat = require_bytes(chat_id, CHAT_ID_BYTES, "chat_id")
    seeker = require_bytes(seeker_public, PUBLIC_KEY_BYTES, "seeker_public")
    volunteer = require_bytes(volunteer_public, PUBLIC_KEY_BYTES, "volunteer_public")
    # Fixed-size fields after a label that is no other label's prefix: the
    # message has exactly one parse. The help-seeker's key is included so the
    # server cannot pass this offer to anyone else, or give the volunteer a key
    # of its own (man in the middle) and forward the signature.
    return LABEL_CHAT_OFFER + chat + seeker + volunteer


def sign_chat_offer(identity: Identity, chat_id: bytes, seeker_public: bytes, volunteer_public: bytes) -> bytes:
    """The volunteer's detached Ed25519 signature over its ephemeral key for this chat."""
    if not isinstance(identity, Identity):
        raise InvalidInput("identity must be an Identity")
    message = _chat_offer_message(chat_id, seeker_public, volunteer_public)
    return _p.ed25519_sign_detached(identity.ed25519_seed, message)


def verify_chat_offer(
    ed25519_public: bytes, chat_id: bytes, seeker_public: bytes, volunteer_public: bytes, signature: bytes
) -> None:
    """Check a chat offer; return None or raise :class:`BadSignature`.

    Raises :class:`InvalidInput` for wrong sizes (checked first).
    """
    key = require_bytes(ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
    message = _chat_offer_message(chat_id, seeker_public, volunteer_public)
    sig = require_bytes(signature, SIGNATURE_BYTES, "signature")
    if not _p.ed25519_verify_detached(key, message, sig):
        raise BadSignature("the chat offer is not signed by this volunteer for this chat")


LINK_INVITER, LINK_JOINER = 1, 2  # the roles of the two ends of a staff link (PROTOCOL.md 10.11)


def _link_message(link_id: bytes, role: int, own_public: bytes, peer_public: bytes | None) -> bytes:
    link = require_bytes(link_id, CHAT_ID_BYTES, "link_id")
    if role not in (LINK_INVITER, LINK_JOINER) or isinstance(role, bool):
        raise InvalidInput("role must be LINK_INVITER or LINK_JOINER")
    own = require_bytes(own_public, PUBLIC_KEY_BYTES, "own_public")
    if role == LINK_INVITER:
        if peer_public is not None:
            raise InvalidInput("the inviter signs before it knows the joiner's key: peer_public must be None")
        peer = bytes(PUBLIC_KEY_BYTES)
    else:
        peer = require_bytes(peer_public, PUBLIC_KEY_BYTES, "peer_public")
    # Fixed-size fields after a label that is no other label's prefix: one parse only.
    return LABEL_CHAT_LINK + link + bytes([role]) + own + peer


def sign_link_key(identity: Identity, link_id: bytes, role: int, own_public: bytes,
                  peer_public: bytes | None = None) -> bytes:
    """A staff member's detached signature over its ephemeral key for one link between two staff pages.

    The inviter signs (link id, its key); the joiner signs (link id, its key, the inviter's key).
    """
    if not isinstance(identity, Identity):
        raise InvalidInput("identity must be an Identity")
    return _p.ed25519_sign_detached(identity.ed25519_seed, _link_message(link_id, role, own_public, peer_public))


def verify_link_key(ed25519_public: bytes, link_id: bytes, role: int, own_public: bytes,
                    peer_public: bytes | None, signature: bytes) -> None:
    """Check a link key signature; return None or raise :class:`BadSignature` (:class:`InvalidInput` for sizes)."""
    key = require_bytes(ed25519_public, PUBLIC_KEY_BYTES, "ed25519_public")
    message = _link_message(link_id, role, own_public, peer_public)
    sig = require_bytes(signature, SIGNATURE_BYTES, "signature")
    if not _p.ed25519_verify_detached(key, message, sig):
        raise BadSignature("the link key is not signed by this staff member for this link")


def _chat_ciphertext(ciphertext: object) -> bytes:
    shape = f"a multiple of {PAD_BLOCK} bytes plus a {_p.AEAD_TAG_BYTES}-byte tag"
    return require_sized(ciphertext, _CHAT_CIPHERTEXT_LENGTHS, "chat ciphertext", shape)


def check_chat_frame(chat_id: bytes, seq: int, ciphertext: bytes) -> None:
    """Syntactic check of a relayed chat frame's decoded values (10.8); needs no key.

    A 16-byte chat id, a seq in 1 … 2^53 − 1 and a ciphertext whose size a
    sender can produce: the very checks that :func:`check_chat_ciphertext_b64`
    (the relay's, on the ``ct`` string) and ``ChatSession.open`` (10.7 steps 1
    and 2) run, composed here, so each rule is written once. It cannot check
    anything else, by design.
    """
    require_bytes(chat_id, CHAT_ID_BYTES, "chat_id")
    require_seq(seq, MAX_CHAT_SEQ)
    _chat_ciphertext(ciphertext)


def check_chat_ciphertext_b64(text: object) -> None:
    """The relay's check of a frame's ``ct`` string (PROTOCOL.md 10.8); needs no key.

    Raises :class:`InvalidInput` unless ``text`` is canonical section-1 base64
    (:func:`b64decode`'s rules) of 256·k + 16 bytes with 1 ≤ k ≤ 33. The length
    of the string is checked before anything is decoded. The server relays the
    string itself; the decoded bytes are only looked at for their size.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"ct must be a str, not {type(text).__name__}")
    if len(text) not in _CHAT_CIPHERTEXT_B64_LENGTHS:
        raise InvalidInput(f"ct must be base64 of 256*k + 16 bytes, at most {MAX_CHAT_CIPHERTEXT_B64} characters")
    # Canonical base64 of one of those lengths encodes exactly one permitted size: checked without
    # decoding (the relay forwards the string; this check is a good part of its work per frame).
    if b64check(text) not in _CHAT_CIPHERTEXT_LENGTHS:
        raise InvalidInput("ct must be base64 of 256*k + 16 bytes")


def _chat_nonce(seq: int) -> bytes:
    # A counter nonce. Each message key encrypts exactly one message, so any
    # fixed nonce would be safe; the sequence number costs nothing and would
    # still keep nonces distinct if a key were ever reused by mistake.
    return seq.to_bytes(_CHAT_SEQ_BYTES, "big") + bytes(_p.AEAD_NONCE_BYTES - _CHAT_SEQ_BYTES)


def _chat_ad(chat_id: bytes, direction: int, seq: int) -> bytes:
    # Binds the ciphertext to its chat, direction and position. The keys
    # already differ per chat and direction; the AD makes a mix-up fail even if
    # that were ever not so, and makes the relay's "seq" field authenticated.
    return LABEL_CHAT_AD + chat_id + bytes([direction]) + seq.to_bytes(_CHAT_SEQ_BYTES, "big")


def _chat_ratchet(chain: bytes) -> tuple[bytes, bytes]:
    # (message key, next chain key). Both are one-way functions of the chain
    # key under distinct labels: a later chain key reveals no earlier one
    # (forward secrecy within the chat), and a message key reveals no chain key.
    return (
        _p.blake2b(LABEL_CHAT_MESSAGE_KEY, key=chain, digest_size=KEY_BYTES),
        _p.blake2b(LABEL_CHAT_CHAIN_KEY, key=chain, digest_size=KEY_BYTES),
    )


class ChatSession:
    """One side of an end-to-end encrypted chat.

    Build it with :meth:`for_seeker` or :meth:`for_volunteer`. ``seal`` gives
    the next (seq, ciphertext) to send; ``open`` accepts only the next seq of
    the other direction and raises without changing any state otherwise.

    Python cannot wipe ``bytes``: chain keys are replaced, not zeroed. The
    browser (``web/js/crypto.js``) zeroes them; this class exists for tests,
    vectors and tools.
    """

    __slots__ = ("_chat_id", "_tx_direction", "_rx_direction", "_tx_chain", "_rx_chain", "_sent", "_received")

    def __init__(self, chat_id: bytes, own: ChatKeyPair, peer_public: bytes, *, role: str) -> None:
        chat = require_bytes(chat_id, CHAT_ID_BYTES, "chat_id")
        if not isinstance(own, ChatKeyPair):
            raise InvalidInput("own must be a ChatKeyPair")
        peer = require_bytes(peer_public, PUBLIC_KEY_BYTES, "peer public key")
        if _p.constant_time_equal(peer, own.public):
            raise InvalidInput("peer public key is our own public key")
        if role == "seeker":
            # The help-seeker is the crypto_kx client: its tx is direction 1.
            rx, tx = _p.kx_client_session_keys(own.public, own.secret, peer)
            self._tx_direction, self._rx_direction = _DIR_SEEKER_TO_VOLUNTEER, _DIR_VOLUNTEER_TO_SEEKER
        elif role == "volunteer":
            rx, tx = _p.kx_server_session_keys(own.public, own.secret, peer)
            self._tx_direction, self._rx_direction = _DIR_VOLUNTEER_TO_SEEKER, _DIR_SEEKER_TO_VOLUNTEER
        else:
            raise InvalidInput("role must be 'seeker' or 'volunteer'")
        self._chat_id = chat
        self._tx_chain: bytes | None = tx
        self._rx_chain: bytes | None = rx
        self._sent = 0
        self._received = 0

    @classmethod
    def for_seeker(cls, chat_id: bytes, own: ChatKeyPair, volunteer_public: bytes) -> ChatSession:
        """The help-seeker's side (crypto_kx client). Verify the offer first."""
        return cls(chat_id, own, volunteer_public, role="seeker")

    @classmethod
    def for_volunteer(cls, chat_id: bytes, own: ChatKeyPair, seeker_public: bytes) -> ChatSession:
        """The volunteer's side (crypto_kx server)."""
        return cls(chat_id, own, seeker_public, role="volunteer")

    @property
    def sent(self) -> int:
        """Sequence number of the last message sealed (0 before the first)."""
        return self._sent

    @property
    def received(self) -> int:
        """Sequence number of the last message opened (0 before the first)."""
        return self._received

    def __repr__(self) -> str:
        return f"ChatSession(sent={self._sent}, received={self._received})"

    def seal(self, content: bytes) -> tuple[int, bytes]:
        """Encrypt the next message: returns (seq, ciphertext) for the relay frame."""
        data = require_bytes(content, None, "content")
        if len(data) > MAX_CHAT_CONTENT:
            raise InvalidInput(f"chat messages are at most {MAX_CHAT_CONTENT} bytes, got {len(data)}")
        if self._tx_chain is None:
            raise CryptoError("this chat session was wiped")
        if self._sent >= MAX_CHAT_SEQ:
            raise CryptoError("this chat has reached its last sequence number")
        seq = self._sent + 1
        message_key, next_chain = _chat_ratchet(self._tx_chain)
        ciphertext = _p.aead_encrypt(
            message_key, _chat_nonce(seq), pad(data), _chat_ad(self._chat_id, self._tx_direction, seq)
        )
        self._tx_chain, self._sent = next_chain, seq
        return seq, ciphertext

    def open(self, seq: int, ciphertext: bytes) -> bytes:
        """Decrypt the next message of the other direction; returns its content.

        Raises :class:`InvalidInput` for a seq out of range or a ciphertext of
        impossible size, and :class:`DecryptionFailed` for any seq but
        ``received + 1`` (replay, reordering, a gap), a failed tag (tampering,
        another chat, a reflected frame) or malformed padding. A failure
        changes nothing: the same session still opens the right next frame.
        """
        seq = require_seq(seq, MAX_CHAT_SEQ)
        ct = _chat_ciphertext(ciphertext)
        if self._rx_chain is None:
            raise CryptoError("this chat session was wiped")
        if seq != self._received + 1:
            raise DecryptionFailed(f"expected chat message {self._received + 1}, got {seq}")
        message_key, next_chain = _chat_ratchet(self._rx_chain)
        padded = _p.aead_decrypt(message_key, _chat_nonce(seq), ct, _chat_ad(self._chat_id, self._rx_direction, seq))
        content = unpad(padded, MAX_CHAT_CONTENT, "chat message")
        # Commit only after everything succeeded.
        self._rx_chain, self._received = next_chain, seq
        return content

    def wipe(self) -> None:
        """Forget both chain keys; the session can no longer seal or open."""
        self._tx_chain = None
        self._rx_chain = None
