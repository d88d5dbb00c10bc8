"""The anonymous mail gateway (aiosmtpd): ordinary e-mail in, an encrypted thread out.

It receives mail for hulp@<mail_domain>, turns it at once into the same
encrypted thread as a mail written on the site, mails the sender their token
once through the outbound relay, and keeps nothing that identifies them.

It imports `crypto` and, of the server, one module: `server.mail.gateway_port`,
its named interface (the mail desk's gateway-facing calls, the configuration,
the address guard, and their application keys). Nothing in `server/` imports
this package but the process entry point, `server/cli.py`, which adds
`gateway_context` to the application (tests/test_architecture.py checks both).
"""

from .gateway import Gateway, gateway_context

__all__ = ["Gateway", "gateway_context"]
