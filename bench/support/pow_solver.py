"""Proof-of-work for bench/chat_relay.py's load generator, solved in worker processes.

The same answer as `crypto.pow_solve` (PROTOCOL.md 11: the first nonce, counting up from 0,
for which BLAKE2b-256(LABEL_POW || challenge || nonce) starts with `bits` zero bits), found
about 18 times faster: hashlib's BLAKE2b state after the fixed prefix is copied for every
nonce instead of hashing the whole input through the crypto facade each time (at the
server's base difficulty, 16 bits: 22 ms against 0.39 s a challenge on this machine). With
a thousand chats that is the difference between 20 s and 7 minutes of CPU.

The label is read from crypto/labels.py, the one place it is written, rather than from the
facade (which does not export it: no server code needs it). Every nonce is checked with
`crypto.pow_check` before it is returned, so a solver that drifted from the protocol fails
here, loudly, instead of being refused by the server as a bad proof-of-work.

The solving runs in a process pool (bench/chat_relay.py): its CPU is neither the server's
nor the load generator's event loop's.
"""

from __future__ import annotations

import hashlib
import time

import crypto
from crypto.labels import LABEL_POW

NONCE_BYTES = crypto.POW_NONCE_BYTES
DIGEST_BYTES = 32  # BLAKE2b-256, as crypto/pow.py


def solve(challenge: bytes, bits: int) -> bytes:
    """The nonce `crypto.pow_solve(challenge, bits)` returns."""
    full, rest = divmod(bits, 8)
    zeros = bytes(full)
    prefix = hashlib.blake2b(LABEL_POW + challenge, digest_size=DIGEST_BYTES)
    copy = prefix.copy
    for counter in range(1 << (8 * NONCE_BYTES)):
        nonce = counter.to_bytes(NONCE_BYTES, "big")
        h = copy()
        h.update(nonce)
        digest = h.digest()
        if digest[:full] == zeros and (rest == 0 or digest[full] >> (8 - rest) == 0):
            if not crypto.pow_check(challenge, nonce, bits):
                raise RuntimeError("bench/support/pow_solver.py disagrees with crypto.pow_check")
            return nonce
    raise RuntimeError("no proof-of-work nonce exists")  # pragma: no cover - 2**64 hashes


def solve_b64(challenge: str, bits: int) -> tuple[str, float]:
    """For the pool: the nonce in the protocol's base64, and the CPU seconds this worker spent."""
    started = time.process_time()
    nonce = solve(crypto.b64decode(challenge), bits)
    return crypto.b64encode(nonce), time.process_time() - started
