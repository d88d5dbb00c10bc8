"""The anonymous mail gateway (aiosmtpd): intake, parsing, header stripping,
encryption on arrival and the return mail with the token.

Not built yet (issue "Mail gateway for ordinary e-mail"). It may import `crypto`
and the storage layer of `server` through a narrow interface, nothing else.
"""
