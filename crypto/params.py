"""PROTOCOL.md section 2, Primitives: the sizes and Argon2id parameters the protocol fixes.

The primitives themselves are wrapped in ``_primitives.py`` (hazardous
material, private); this module holds what the rest of the protocol, and the
server, may know about them: key, salt and signature sizes, libsodium's
Argon2id minimums and the production cost. It refuses to load if libsodium's
sizes ever differ from the protocol's.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _primitives as _p
from ._checks import require_int
from .errors import InvalidInput

SALT_BYTES = 16
KEY_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64

# libsodium's own Argon2id minimums. The *policy* floor (at least 64 MiB for
# real volunteers) is enforced by the server configuration, not here, so that
# tests can run with fast, explicitly insecure parameters.
MIN_OPSLIMIT = _p.ARGON2ID_OPSLIMIT_MIN  # 1
MIN_MEMLIMIT = _p.ARGON2ID_MEMLIMIT_MIN  # 8192 bytes

if (
    SALT_BYTES != _p.ARGON2ID_SALT_BYTES
    or KEY_BYTES != _p.AEAD_KEY_BYTES
    or SIGNATURE_BYTES != _p.ED25519_SIGNATURE_BYTES
    or _p.KX_SESSION_KEY_BYTES != KEY_BYTES
):
    raise ImportError("libsodium sizes differ from the protocol's; refusing to load")


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters: ``opslimit`` passes, ``memlimit`` in bytes.

    Construction validates against libsodium's minimums and maximums and
    raises :class:`InvalidInput` otherwise, so ``KdfParams(int(a), int(b))`` on
    request data is a complete syntactic check. Whether the values meet the
    deployment's policy is the server configuration's decision.
    """

    opslimit: int
    memlimit: int

    def __post_init__(self) -> None:
        ops = require_int(self.opslimit, "opslimit")
        mem = require_int(self.memlimit, "memlimit")
        if not MIN_OPSLIMIT <= ops <= _p.ARGON2ID_OPSLIMIT_MAX:
            raise InvalidInput(f"opslimit must be between {MIN_OPSLIMIT} and {_p.ARGON2ID_OPSLIMIT_MAX}")
        if not MIN_MEMLIMIT <= mem <= _p.ARGON2ID_MEMLIMIT_MAX:
            raise InvalidInput(f"memlimit must be between {MIN_MEMLIMIT} and {_p.ARGON2ID_MEMLIMIT_MAX} bytes")


# libsodium's "moderate"-like cost in the browser: three passes over 64 MiB.
PRODUCTION_KDF = KdfParams(opslimit=3, memlimit=64 * 1024 * 1024)

