"""Anonymous chat: an in-memory queue, assignment and a ciphertext relay.

Nothing in this package writes a chat to disk. The server sees ephemeral public
keys, signatures, sequence numbers and ciphertext; the pages do all encryption
(crypto/PROTOCOL.md, section "Chat").
"""
