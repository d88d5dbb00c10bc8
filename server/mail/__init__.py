"""Anonymous mail on the site: threads found by a token-derived key, readable only by
the help-seeker and the assigned volunteer (crypto/PROTOCOL.md, section "Mail").

`desk.MailDesk` holds the rules and is the narrow interface the mail gateway uses;
`api` turns HTTP requests into calls on it.
"""
