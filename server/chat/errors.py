"""The chat's domain errors: what the hub and its parts raise when a frame may not go on.

They say nothing about websockets. `server/chat/ws.py` turns them (and the parser's
`FrameError`, and a `crypto.CryptoError`) into the error frame in one function,
`error_frame`; the words come from `server/i18n.py` by key.
"""

from __future__ import annotations


class ChatRefused(Exception):
    """The frame was understood, and the rules of the chat refuse it: nothing changed.

    If you meet this error, the page asked for something the chat's state does not
    allow now (a message before a volunteer is connected, a chat that is not yours,
    a second handover). `code` is stable: pages and tests switch on it. `key` names
    the sentence for the person in `server.i18n.TEXTS`, filled in with `values`."""

    def __init__(self, code: str, key: str, **values: object) -> None:
        super().__init__(code)
        self.code, self.key, self.values = code, key, values
