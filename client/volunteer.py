"""A volunteer's keys at enrolment and login, as web/js/enrol.js and volunteer.js build them
(crypto/PROTOCOL.md, volunteer keys): Argon2id of the passphrase gives an authentication key,
which is sent, and a wrapping key, which never leaves the client."""

from __future__ import annotations

from typing import Any

import crypto

from .transport import kdf_params, off_loop


def enrolment_body(token: str, passphrase: str, kdf: crypto.KdfParams, identity: crypto.Identity) -> dict[str, Any]:
    """The body of POST /api/enrol: a fresh salt, the authentication key, the public keys, and the
    identity wrapped under the wrapping key (the server can store it, never open it)."""
    salt = crypto.new_salt()
    keys = crypto.derive_volunteer_keys(passphrase, salt, kdf)
    return {
        "invitation": token, "salt": crypto.b64encode(salt), "opslimit": kdf.opslimit, "memlimit": kdf.memlimit,
        "auth_key": crypto.b64encode(keys.auth_key),
        "x25519_public": crypto.b64encode(identity.x25519_public),
        "ed25519_public": crypto.b64encode(identity.ed25519_public),
        "wrapped_identity": crypto.b64encode(crypto.wrap_identity(keys.wrapping_key, identity)),
        "x25519_certificate": crypto.b64encode(crypto.sign_key_certificate(identity)),
    }


async def login_body(http: Any, name: str, passphrase: str) -> dict[str, str]:
    """The body of POST /api/login: the salt and parameters from /api/login/start, Argon2id off the loop."""
    start = await (await http.post("/api/login/start", json={"name": name})).json()
    keys = await off_loop(crypto.derive_volunteer_keys, passphrase, crypto.b64decode(start["salt"]),
                          kdf_params(start["kdf"]))
    return {"name": name, "auth_key": crypto.b64encode(keys.auth_key)}
