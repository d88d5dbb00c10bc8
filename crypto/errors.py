"""The one exception tree of the ``crypto`` package (PROTOCOL.md section 8, Errors).

Everything this package raises on purpose is a :class:`CryptoError`, so a
caller that only wants to know "did the cryptography say no?" catches that one
class. :class:`InvalidInput` is also a :class:`ValueError`, so generic input
validation code that catches ``ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = ["CryptoError", "InvalidInput", "InvalidToken", "DecryptionFailed", "BadSignature", "ProofError"]


class CryptoError(Exception):
    """A cryptographic operation refused to go on.

    If you meet this error, something handed the crypto layer data it will not
    accept. Do not retry with the same data and do not weaken the check: look at
    the subclass. ``InvalidInput`` means the data was malformed before any
    secret was touched (a wrong length, a wrong version byte, bad base64,
    parameters below the minimum). ``DecryptionFailed`` means the data was well
    formed but did not authenticate under the key you supplied (or, in a chat,
    arrived out of order). ``BadSignature`` means a signed chat offer, key
    certificate or mail message did not verify against the public key it was
    checked with. Answer the
    other side with a generic error and never echo secrets into logs.
    """


class InvalidInput(CryptoError, ValueError):
    """The input was malformed; nothing was decrypted or derived.

    Typical causes: a key or salt of the wrong length, a wrapped blob whose
    version byte this code does not know, base64 that is not canonical
    URL-safe-without-padding, or KDF parameters below libsodium's minimum. This
    is usually a client bug or a hostile request, not a wrong passphrase.
    """


class InvalidToken(InvalidInput):
    """A mail return token was mistyped; no key was derived and nothing was sent.

    ``reason`` says what is wrong, so the page can say it in words a person
    in distress understands:

    - ``"length"``: not 20 symbols once spaces, dashes, dots and underscores
      are taken out (a symbol left out or typed twice);
    - ``"character"``: a character that never occurs in a token (such as
      ``U`` or ``!``; ``O``, ``I`` and ``L`` are read as ``0``, ``1`` and ``1``);
    - ``"check"``: the two check symbols do not match (one symbol mistyped,
      or two neighbours swapped: every such typo is caught).

    The token itself is never part of the message.
    """

    REASONS = ("length", "character", "check")

    def __init__(self, reason: str, message: str | None = None) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown InvalidToken reason {reason!r}")
        self.reason = reason
        super().__init__(message or f"invalid token ({reason})")


class DecryptionFailed(CryptoError):
    """Authentication failed: wrong key, or the data was tampered with.

    For a wrapped identity this is what a wrong passphrase looks like (the
    derived wrapping key differs), and it is also what a server that swapped or
    altered the blob or the public keys looks like. The two cases cannot and
    must not be told apart from the ciphertext alone. Nothing from the failed
    attempt is returned.
    """


class BadSignature(CryptoError):
    """A signature did not verify: the signed data or the key is not what was claimed.

    For mail: a message whose author signature does not cover this thread,
    position, author and body (the server or someone else altered or made it
    up), or a volunteer key certificate that does not vouch for the offered
    X25519 key. Do not decrypt or encrypt with it.

    In a chat this is what the help-seeker's page meets when the offered
    ephemeral key was not signed by the volunteer's published Ed25519 identity
    key for this chat id and this help-seeker's own ephemeral key: the offer
    was altered, replayed from another chat, or made up by someone who is not
    that volunteer. The page MUST NOT use the offered key; it should end the
    attempt and may re-queue with fresh keys. It is deliberately not a
    :class:`DecryptionFailed`: nothing was decrypted, and a failed signature
    points at the relay or the key directory, not at a wrong passphrase.
    """


class ProofError(CryptoError):
    """A transparency check failed: the key, the proof or the log is not what it must be (section 14).

    Raised by the checks of a key proof, a checkpoint and its cosignatures
    (``verify_key_proof``, ``verify_checkpoint``, ``verify_inclusion``,
    ``verify_consistency``). ``reason`` says which check refused, so a test,
    ``oor audit`` or a log line can name it (never to show a help-seeker
    anything but "the connection is not reliable"):

    - ``"malformed"``: the proof, the note or the trust configuration is not
      well formed (a wrong type, size, base64 or encoding);
    - ``"origin"``: the checkpoint is of another log;
    - ``"log-signature"``: no valid signature of the configured log key;
    - ``"cosignatures"``: fewer fresh cosignatures of distinct configured
      witnesses than the quorum, or a configured witness's signature fails;
    - ``"revoked-set"``: the revoked ids do not match the checkpoint's digest;
    - ``"entry-type"``: the entry is not a key statement;
    - ``"root-signature"``: the statement is not signed by the root key;
    - ``"kind"``: the statement is a revocation;
    - ``"deployment"``: the statement is for another deployment;
    - ``"validity"``: now is outside the statement's validity period;
    - ``"revoked"``: the statement's account id is revoked;
    - ``"inclusion"``: the inclusion proof does not lead to the checkpoint root;
    - ``"consistency"``: a consistency proof does not hold;
    - ``"keys"``: the statement's keys are not the keys offered;
    - ``"role"``: the statement's role is not one the caller accepts.

    Treat it as a tampered frame: use nothing from that key.
    """

    REASONS = ("malformed", "origin", "log-signature", "cosignatures", "revoked-set", "entry-type",
               "root-signature", "kind", "deployment", "validity", "revoked", "inclusion", "consistency",
               "keys", "role")

    def __init__(self, reason: str, message: str | None = None) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown ProofError reason {reason!r}")
        self.reason = reason
        super().__init__(message or f"transparency check failed ({reason})")
