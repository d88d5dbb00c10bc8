// Coming back with the token: the keys are derived here, the thread is fetched with a key
// derived from the token (in a request body, never a URL), and decrypted here.
import * as oc from "./crypto.js";
import { b64encode as b64 } from "./crypto.js";
import { TRUST } from "trust";
import { api, charCounter, el, error, explain, formatDay, paint, setting, status, t, wipeKeys } from "./ui.js";
import { appendMessage } from "./chatcore.js";
import { coarseTime, thisHour } from "./mailtime.js";

const MAX = setting("max_chars");
const field = el("bericht");
const counter = charCounter(field, MAX);

/** Every role that can be given mail: the root key's statement for a key must name one of them. */
const MAIL_ROLES = ["volunteer", "mentor", "partner", "coordinator"];

/** A volunteer key whose key proof is missing or does not verify: treated as a tampered answer. */
class Unverified extends Error {
  constructor(cause) {
    super("volunteer key not vouched for by the log", { cause });
  }
}

/** Throws unless `proof` (crypto/PROTOCOL.md 14) vouches for exactly these keys of a volunteer. */
function checkProof(proof, ed25519Public, x25519Public = undefined) {
  const now = Math.floor(Date.now() / 1000);
  oc.verifyKeyProof(TRUST, proof, { ed25519Public, x25519Public, roles: MAIL_ROLES, now });
}

/** The open mailbox, in page memory only; wipe() forgets it. */
const mailbox = {
  keys: null, // derived from the token: lookupKey, the X25519 and the Ed25519 key pair
  thread: null, // {id, state, volunteer, messages}
};

function wipe() {
  wipeKeys(mailbox.keys);
  mailbox.keys = null;
  mailbox.thread = null;
}

async function open(event) {
  event.preventDefault();
  error("");
  const input = el("code");
  let canonical;
  try {
    canonical = oc.parseToken(input.value);
  } catch (err) {
    // A typo is caught here, before any request.
    const reason = err instanceof oc.InvalidToken ? err.reason : "check";
    error(t(`return_bad_${reason}`) === `return_bad_${reason}` ? t("return_bad_check") : t(`return_bad_${reason}`));
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  input.removeAttribute("aria-invalid");
  const button = el("code-formulier").querySelector("button");
  button.disabled = true;
  status(t("return_working"), { busy: true });
  await paint();
  try {
    await oc.ready();
    mailbox.keys = oc.deriveMailbox(canonical, setting("deployment_id"), setting("kdf"));
    input.value = "";
    const data = await api("/api/mail/open", { lookup_key: b64(mailbox.keys.lookupKey) });
    render(data);
  } catch (err) {
    status("");
    wipe();
    error(explain(err));
    button.disabled = false;
    return;
  }
  status("");
  el("code-formulier").hidden = true;
  el("draad").hidden = false;
  el("draad-kop").focus();
}

function show(message, signerProofs) {
  const list = el("berichten");
  const time = { timeText: coarseTime(message.hour) }; // the hour the server keeps, never "now"
  const signer = oc.b64decode(message.signer, 32);
  // A reply's signing key with a key proof must be vouched for by it; a forged or wrong proof is tampering.
  // (A key without one, such as that of a volunteer who has left since, is shown as before: PROTOCOL.md 12.9.)
  const proof = message.author === oc.AUTHOR_VOLUNTEER ? signerProofs?.[message.signer] : undefined;
  if (proof !== undefined) {
    try {
      checkProof(proof, signer);
    } catch {
      appendMessage(list, "", t("return_broken"), "note", time);
      return;
    }
  }
  // The help-seeker's own messages must carry the help-seeker's own signature.
  if (message.author === oc.AUTHOR_SEEKER && oc.b64encode(signer) !== oc.b64encode(mailbox.keys.ed25519Public)) {
    appendMessage(list, "", t("return_broken"), "note", time);
    return;
  }
  try {
    const content = oc.openMail(mailbox.thread.id, message.seq, message.author, oc.b64decode(message.body),
      oc.b64decode(message.signature, oc.SIGNATURE_BYTES), oc.b64decode(message.wrap, oc.MAIL_WRAP_BYTES), mailbox.keys,
      signer);
    const mine = message.author === oc.AUTHOR_SEEKER;
    appendMessage(list, mine ? t("return_you") : t("return_volunteer"), oc.decodeText(content), mine ? "mine" : "theirs",
      time);
  } catch {
    appendMessage(list, "", t("return_broken"), "note", time);
  }
}

function render(data) {
  mailbox.thread = { id: oc.b64decode(data.thread, oc.MAIL_THREAD_ID_BYTES), state: data.state,
    volunteer: data.volunteer, messages: data.messages };
  el("berichten").replaceChildren();
  const signerProofs = data.signer_proofs !== null && typeof data.signer_proofs === "object" ? data.signer_proofs : {};
  for (const message of data.messages) show(message, signerProofs);
  // The server could withhold a message from the middle; the numbers would skip.
  if (!data.messages.every((m, i) => m.seq === i + 1)) {
    appendMessage(el("berichten"), "", t("return_gap"), "note", { timeText: "" });
  }
  el("nog-geen").hidden = data.messages.some((m) => m.author === oc.AUTHOR_VOLUNTEER);
  el("bewaard-tot").textContent = t("mail_expires", { date: formatDay(data.expires) });
  const notice = el("herverdelen");
  notice.hidden = data.state !== "needs-volunteer";
  el("schrijven").hidden = data.state === "needs-volunteer";
  if (data.state === "needs-volunteer") {
    const next = data.reassign;
    el("herverdelen-tekst").textContent = next ? t("return_reassign", { name: next.name }) : t("return_reassign_none");
    el("herverdelen-knop").hidden = !next;
    if (next) {
      el("herverdelen-knop").textContent = t("return_reassign_button", { name: next.name });
      el("herverdelen-knop").onclick = () => reassign(next);
    }
  }
}

/** The volunteer's X25519 key, once its key proof and its certificate say it is theirs; throws otherwise. */
function checkedKey(volunteer) {
  const x = oc.b64decode(volunteer.x25519_public, 32);
  const ed = oc.b64decode(volunteer.ed25519_public, 32);
  try {
    checkProof(volunteer.proof, ed, x);
  } catch (err) {
    throw new Unverified(err);
  }
  oc.verifyKeyCertificate(ed, x, oc.b64decode(volunteer.certificate, oc.SIGNATURE_BYTES));
  return x;
}

function failed(err) {
  return err instanceof Unverified ? t("mail_key_unverified") : explain(err, t("return_broken"));
}

async function reassign(next) {
  error("");
  try {
    const x = checkedKey(next);
    const wraps = mailbox.thread.messages.map((m) => ({
      seq: m.seq, wrap: b64(oc.rewrapMailKey(oc.b64decode(m.wrap, oc.MAIL_WRAP_BYTES), mailbox.keys, x)),
    }));
    await api("/api/mail/reassign", { lookup_key: b64(mailbox.keys.lookupKey), volunteer: next.name, wraps });
    render(await api("/api/mail/open", { lookup_key: b64(mailbox.keys.lookupKey) }));
    el("bericht").focus();
  } catch (err) {
    error(failed(err));
  }
}

async function write(event) {
  event.preventDefault();
  error("");
  const text = field.value.trim();
  if (!text) {
    error(t("mail_empty"));
    return;
  }
  if ([...text].length > MAX) {
    error(t("chat_too_long", { max: MAX }));
    return;
  }
  try {
    const { keys, thread } = mailbox;
    const volunteerX = checkedKey(thread.volunteer);
    const seq = Math.max(0, ...thread.messages.map((m) => m.seq)) + 1;
    const sealed = oc.sealMail(thread.id, seq, oc.AUTHOR_SEEKER, oc.encodeText(text), keys, keys.x25519Public, volunteerX);
    await api("/api/mail/write", { lookup_key: b64(keys.lookupKey), message: { seq, body: b64(sealed.body),
      signature: b64(sealed.signature), seeker_wrap: b64(sealed.seekerWrap), volunteer_wrap: b64(sealed.volunteerWrap) } });
    thread.messages.push({ seq, author: oc.AUTHOR_SEEKER, wrap: b64(sealed.seekerWrap) });
    appendMessage(el("berichten"), t("return_you"), text, "mine", { timeText: coarseTime(thisHour()) });
    field.value = "";
    counter();
    status(t("return_sent"));
  } catch (err) {
    error(failed(err));
  }
}

async function remove() {
  const button = el("verwijderen");
  if (button.dataset.confirm !== "1") {
    button.dataset.confirm = "1";
    button.textContent = t("return_delete_confirm");
    return;
  }
  try {
    await api("/api/mail/delete", { lookup_key: b64(mailbox.keys.lookupKey) });
  } catch (err) {
    error(explain(err));
    return;
  }
  wipe();
  el("berichten").replaceChildren();
  el("draad").hidden = true;
  status(t("return_deleted"));
}

el("code-formulier").addEventListener("submit", open);
el("schrijven").addEventListener("submit", write);
field.addEventListener("input", counter);
el("verwijderen").addEventListener("click", remove);
window.addEventListener("pagehide", wipe);
counter();
