"""The mail parties of the protocol client (client/mail.py), under the names the tests import, with the
test deployment's id and the insecure test KDF of INSECURE_TEST_ENV (tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import crypto
from client import mail
from client.mail import MailVolunteer, b64, checked_x25519, message_json

KDF = crypto.KdfParams(1, 8192)  # the insecure test parameters of INSECURE_TEST_ENV
DEPLOYMENT = "luisterend-oor-dev"

__all__ = ["DEPLOYMENT", "KDF", "MailSeeker", "MailVolunteer", "b64", "checked_x25519", "message_json"]


class MailSeeker(mail.MailSeeker):
    def __init__(self, http: Any, token: str | None = None) -> None:
        super().__init__(http, token, deployment=DEPLOYMENT, kdf=KDF)
