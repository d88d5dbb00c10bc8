"""The anonymous mail gateway (aiosmtpd): ordinary e-mail in, an encrypted thread out.

It receives mail for hulp@<mail_domain>, turns it at once into the same
encrypted thread as a mail written on the site, mails the sender their token
once through the outbound relay, and keeps nothing that identifies them.

It imports `crypto` and, as its narrow interface to the server, the mail desk
(`server.mail.desk.MailDesk`) and the configuration.
"""

from .gateway import Gateway, gateway_context

__all__ = ["Gateway", "gateway_context"]
