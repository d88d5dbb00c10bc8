"""What the mail gateway (`mailgate/`) may use of the server: this module, and nothing else.

The gateway is a second door to the mail desk. Through this port it

- finds the desk, the configuration and the address guard in the application
  (`MAIL_DESK`, `CONFIG`, `GUARD`; it runs as the app's `cleanup_ctx`);
- asks the desk whether any account could take mail a moment ago
  (`MailDesk.nobody_for_mail_lately`; being marked available is not needed),
  stores a new thread with its first message sealed inside the same storage
  transaction (`MailDesk.store_gateway_thread`, which hands `seal` a `Volunteer`
  and takes back a `MailMessage` made by `message_from_sealed` with
  `AUTHOR_SEEKER`), and tells the sender until when it is kept
  (`MailDesk.expires_on`);
- limits senders with the same in-memory keyed tags as the site
  (`AddressGuard`, `network_of`);
- checks, before it seals to a volunteer, that the log vouches for exactly that volunteer's keys: the
  key proof (`LOG`, the application's `TransparencyLog`, `proof_for`) against the trust configuration
  the pages get (`trust_config`), as a help-seeker's page does (PROTOCOL.md 14);
- reads its settings (`Config`), and learns of the desk's refusal (the thread's id
  is taken) as the domain error `Conflict`, which its `smtp_reply` turns into a
  temporary SMTP failure. The gateway never raises a server error itself: inside
  the storage transaction its `seal` raises its own `mailgate.gateway.NoKey`.

Anything else the gateway needs from the server is added here first, so that
this file stays the whole of the contract between the two.
"""

from __future__ import annotations

from ..abuse import AddressGuard, network_of
from ..config import Config
from ..errors import Conflict
from ..guards import GUARD
from ..keys import CONFIG
from ..storage import MailMessage, Volunteer
from ..transparency.log import LOG, trust_config
from .desk import AUTHOR_SEEKER, MAIL_DESK, MailDesk, message_from_sealed

__all__ = [
    "AUTHOR_SEEKER", "CONFIG", "GUARD", "LOG", "MAIL_DESK",
    "AddressGuard", "Config", "Conflict", "MailDesk", "MailMessage", "Volunteer",
    "message_from_sealed", "network_of", "trust_config",
]
