"""A help-seeker and a volunteer for anonymous mail in Python, doing what mail.js,
mailreturn.js and mailwork.js do, with the crypto facade (held to the same bytes
as crypto.js by tests/vectors/)."""

from __future__ import annotations

from typing import Any

import crypto

KDF = crypto.KdfParams(1, 8192)  # the insecure test parameters of INSECURE_TEST_ENV
DEPLOYMENT = "luisterend-oor-dev"


def b64(data: bytes) -> str:
    return crypto.b64encode(data)


def message_json(seq: int, sealed: crypto.SealedMail) -> dict[str, Any]:
    return {"seq": seq, "body": b64(sealed.body), "signature": b64(sealed.signature),
            "seeker_wrap": b64(sealed.seeker_wrap), "volunteer_wrap": b64(sealed.volunteer_wrap)}


def checked_x25519(volunteer: dict[str, str]) -> bytes:
    x = crypto.b64decode(volunteer["x25519_public"])
    crypto.verify_key_certificate(crypto.b64decode(volunteer["ed25519_public"]), x,
                                  crypto.b64decode(volunteer["certificate"]))
    return x


class MailSeeker:
    def __init__(self, http: Any, token: str | None = None) -> None:
        self.http = http
        self.token = token or crypto.new_token_code()
        self.box = crypto.derive_mailbox(self.token, DEPLOYMENT, KDF)
        self.thread: dict[str, Any] | None = None

    @property
    def lookup(self) -> dict[str, str]:
        return {"lookup_key": b64(self.box.lookup_key)}

    async def send_first(self, text: str) -> Any:
        challenge = await (await self.http.post("/api/mail/challenge")).json()
        nonce = crypto.pow_solve(crypto.b64decode(challenge["challenge"]), challenge["bits"])
        assigned = await (await self.http.post("/api/mail/assign", json={
            "challenge": challenge["challenge"], "nonce": b64(nonce)})).json()
        volunteer_x = checked_x25519(assigned["volunteer"])
        thread_id = crypto.b64decode(assigned["thread"])
        sealed = crypto.seal_mail(thread_id, 1, crypto.AUTHOR_SEEKER, text.encode(), self.box,
                                  self.box.x25519_public, volunteer_x)
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
        thread_id = crypto.b64decode(self.thread["thread"])
        return [(m["author"], crypto.open_mail(thread_id, m["seq"], m["author"], crypto.b64decode(m["body"]),
                                               crypto.b64decode(m["signature"]), crypto.b64decode(m["wrap"]),
                                               self.box, crypto.b64decode(m["signer"])).decode())
                for m in self.thread["messages"]]

    async def write(self, text: str) -> Any:
        thread_id = crypto.b64decode(self.thread["thread"])
        seq = max(m["seq"] for m in self.thread["messages"]) + 1
        sealed = crypto.seal_mail(thread_id, seq, crypto.AUTHOR_SEEKER, text.encode(), self.box,
                                  self.box.x25519_public, checked_x25519(self.thread["volunteer"]))
        return await self.http.post("/api/mail/write", json={**self.lookup, "message": message_json(seq, sealed)})


class MailVolunteer:
    def __init__(self, http: Any, identity: crypto.Identity) -> None:
        self.http = http
        self.identity = identity

    async def available(self, on: bool = True) -> None:
        resp = await self.http.post("/api/mail/availability", json={"mail": on})
        assert resp.status == 200, await resp.text()

    async def inbox(self) -> list[dict[str, Any]]:
        return (await (await self.http.get("/api/mail/inbox")).json())["threads"]

    async def read(self, thread_key: str) -> tuple[dict[str, Any], list[tuple[int, str]]]:
        resp = await self.http.get(f"/api/mail/threads/{thread_key}")
        if resp.status != 200:
            return {"status": resp.status}, []
        data = await resp.json()
        thread_id = crypto.b64decode(data["thread"])
        texts = [(m["author"], crypto.open_mail(thread_id, m["seq"], m["author"], crypto.b64decode(m["body"]),
                                                crypto.b64decode(m["signature"]), crypto.b64decode(m["wrap"]),
                                                self.identity, crypto.b64decode(m["signer"])).decode())
                 for m in data["messages"]]
        return data, texts

    async def reply(self, data: dict[str, Any], text: str) -> Any:
        thread_id = crypto.b64decode(data["thread"])
        seq = max(m["seq"] for m in data["messages"]) + 1
        sealed = crypto.seal_mail(thread_id, seq, crypto.AUTHOR_VOLUNTEER, text.encode(), self.identity,
                                  crypto.b64decode(data["seeker_x25519_public"]), self.identity.x25519_public)
        return await self.http.post(f"/api/mail/threads/{data['thread']}/reply",
                                    json={"message": message_json(seq, sealed)})

    async def hand_over(self, data: dict[str, Any], colleague: dict[str, str]) -> Any:
        x = checked_x25519(colleague)
        wraps = [{"seq": m["seq"], "wrap": b64(crypto.rewrap_mail_key(crypto.b64decode(m["wrap"]), self.identity, x))}
                 for m in data["messages"]]
        return await self.http.post(f"/api/mail/threads/{data['thread']}/handover",
                                    json={"to": colleague["name"], "wraps": wraps})
