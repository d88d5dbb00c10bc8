"""The protocol client of Luisterend Oor: a help-seeker, a volunteer and their staff links in Python.

Used by `oor audit` (server/audit.py), the tests and the benchmarks; never by
the server, which only ever runs the other side of the protocol. It does what
the pages do (web/js/chat.js, workspace.js, mail.js, mailreturn.js,
mailwork.js) with the `crypto` facade, which tests/vectors/ holds to the same
bytes as the browser's crypto.js, over aiohttp:

    client.transport   proof-of-work challenges, Argon2id off the event loop, Origin
    client.volunteer   enrolment and login bodies (crypto/PROTOCOL.md, volunteer keys)
    client.chat        a help-seeker and a volunteer in a chat; the steps that sign, check and derive
    client.links       read-along and handover (crypto/PROTOCOL.md 10.11): staff links
    client.mail        anonymous mail: a help-seeker with a token, a volunteer with an inbox

Every object takes the HTTP session or websocket it speaks through, so that the
caller chooses the address, the cookie jar and the timeouts.
"""
