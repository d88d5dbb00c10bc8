"""Anonymous mail: a help-seeker with a token and a volunteer with an inbox, doing what
web/js/mail.js, mailreturn.js and mailwork.js do.

Every message is sealed to both ends of the thread (crypto_box between the
help-seeker's token-derived key pair and the assigned volunteer's), so that
nobody else can read it; a handover re-wraps each message key for a colleague.
"""

from __future__ import annotations

import functools
import html
import json
import re
from typing import Any

import crypto

from .transport import UnexpectedAnswer, off_loop, solved_challenge

CHALLENGE_PATH = "/api/mail/challenge"
SETTINGS = re.compile(r'<script type="application/json" id="teksten">(.*?)</script>', re.S)


def b64(data: bytes) -> str:
    return crypto.b64encode(data)


def message_json(seq: int, sealed: crypto.SealedMail) -> dict[str, Any]:
    return {"seq": seq, "body": b64(sealed.body), "signature": b64(sealed.signature),
            "seeker_wrap": b64(sealed.seeker_wrap), "volunteer_wrap": b64(sealed.volunteer_wrap)}


def checked_x25519(volunteer: dict[str, str]) -> bytes:
    """A volunteer's X25519 key, only once their Ed25519 identity has certified it."""
    x = crypto.b64decode(volunteer["x25519_public"])
    crypto.verify_key_certificate(crypto.b64decode(volunteer["ed25519_public"]), x,
                                  crypto.b64decode(volunteer["certificate"]))
    return x


def read_thread(data: dict[str, Any], reader: crypto.Identity | crypto.Mailbox) -> list[tuple[int, str]]:
    """(author, text) of every message of a thread, opened with either end's keys."""
    thread_id = crypto.b64decode(data["thread"])
    return [(m["author"], crypto.open_mail(thread_id, m["seq"], m["author"], crypto.b64decode(m["body"]),
                                           crypto.b64decode(m["signature"]), crypto.b64decode(m["wrap"]),
                                           reader, crypto.b64decode(m["signer"])).decode())
            for m in data["messages"]]


def next_message(data: dict[str, Any], author: int, text: str, signer: crypto.Identity | crypto.Mailbox,
                 seeker_x: bytes, volunteer_x: bytes) -> dict[str, Any]:
    """The next message of a thread, sealed to both ends."""
    seq = max(m["seq"] for m in data["messages"]) + 1
    sealed = crypto.seal_mail(crypto.b64decode(data["thread"]), seq, author, text.encode(), signer,
                              seeker_x, volunteer_x)
    return message_json(seq, sealed)


async def assign(http: Any) -> Any:
    """Solve the mail challenge and ask for a volunteer (503 when nobody is on duty for mail)."""
    return await http.post("/api/mail/assign", json=await solved_challenge(http, CHALLENGE_PATH))


async def page_settings(http: Any, path: str = "/mail") -> dict[str, Any]:
    """The settings a page reads from its embedded JSON: the deployment id, the token's Argon2id parameters."""
    async with http.get(path) as resp:
        page = await resp.text()
    return json.loads(html.unescape(SETTINGS.search(page).group(1)))


class MailSeeker:
    def __init__(self, http: Any, token: str | None = None, *, deployment: str, kdf: crypto.KdfParams) -> None:
        self.http = http
        self.token = token or crypto.new_token_code()
        self.box = crypto.derive_mailbox(self.token, deployment, kdf)
        self.thread: dict[str, Any] | None = None

    @classmethod
    async def derived_off_loop(cls, http: Any, deployment: str, kdf: crypto.KdfParams,
                               token: str | None = None) -> MailSeeker:
        """The same, with the mailbox derived off the event loop (production Argon2id takes a second)."""
        return await off_loop(functools.partial(cls, http, token, deployment=deployment, kdf=kdf))

    @property
    def lookup(self) -> dict[str, str]:
        return {"lookup_key": b64(self.box.lookup_key)}

    async def send_first(self, text: str) -> Any:
        return await self.create((await (await assign(self.http)).json()), text)

    async def create(self, assigned: dict[str, Any], text: str) -> Any:
        """Open the thread the assignment is for, with its first message."""
        thread_id = crypto.b64decode(assigned["thread"])
        sealed = crypto.seal_mail(thread_id, 1, crypto.AUTHOR_SEEKER, text.encode(), self.box,
                                  self.box.x25519_public, checked_x25519(assigned["volunteer"]))
        return await self.http.post("/api/mail/threads", json={
            "assignment": assigned["assignment"], **self.lookup,
            "seeker_x25519_public": b64(self.box.x25519_public),
            "seeker_ed25519_public": b64(self.box.ed25519_public), "message": message_json(1, sealed)})

    async def open(self) -> Any:
        resp = await self.http.post("/api/mail/open", json=self.lookup)
        if resp.status == 200:
            self.thread = await resp.json()
        return resp

    def texts(self) -> list[tuple[int, str]]:
        return read_thread(self.thread, self.box)

    async def write(self, text: str) -> Any:
        message = next_message(self.thread, crypto.AUTHOR_SEEKER, text, self.box, self.box.x25519_public,
                               checked_x25519(self.thread["volunteer"]))
        return await self.http.post("/api/mail/write", json={**self.lookup, "message": message})

    async def delete(self) -> Any:
        """The help-seeker's own delete: the mailbox is gone at once."""
        return await self.http.post("/api/mail/delete", json=self.lookup)


class MailVolunteer:
    def __init__(self, http: Any, identity: crypto.Identity) -> None:
        self.http = http
        self.identity = identity

    async def available(self, on: bool = True) -> None:
        resp = await self.http.post("/api/mail/availability", json={"mail": on})
        if resp.status != 200:
            raise UnexpectedAnswer(resp.status, await resp.text())

    async def inbox(self) -> list[dict[str, Any]]:
        return (await (await self.http.get("/api/mail/inbox")).json())["threads"]

    async def read(self, thread_key: str) -> tuple[dict[str, Any], list[tuple[int, str]]]:
        resp = await self.http.get(f"/api/mail/threads/{thread_key}")
        if resp.status != 200:
            return {"status": resp.status}, []
        data = await resp.json()
        return data, read_thread(data, self.identity)

    async def reply(self, data: dict[str, Any], text: str) -> Any:
        message = next_message(data, crypto.AUTHOR_VOLUNTEER, text, self.identity,
                               crypto.b64decode(data["seeker_x25519_public"]), self.identity.x25519_public)
        return await self.http.post(f"/api/mail/threads/{data['thread']}/reply", json={"message": message})

    async def hand_over(self, data: dict[str, Any], colleague: dict[str, str]) -> Any:
        x = checked_x25519(colleague)
        wraps = [{"seq": m["seq"], "wrap": b64(crypto.rewrap_mail_key(crypto.b64decode(m["wrap"]), self.identity, x))}
                 for m in data["messages"]]
        return await self.http.post(f"/api/mail/threads/{data['thread']}/handover",
                                    json={"to": colleague["name"], "wraps": wraps})
