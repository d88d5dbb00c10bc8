// Writing a first message. The token is made here, shown once, and never sent anywhere:
// the server gets only a key derived from it (in a request body), public keys and ciphertext.
import * as oc from "./crypto.js";
import { b64encode as b64 } from "./crypto.js";
import { TRUST } from "trust";
import {
  api, charCounter, downloadText, el, error, explain, formatDay, paint, setting, status, t, wipeKeys,
} from "./ui.js";
import { solveShowingProgress } from "./powprogress.js";

const MAX = setting("max_chars");
const form = el("schrijven");
const field = el("bericht");
const counter = charCounter(field, MAX);

/** Every role that can be given mail: the root key's statement for the key must name one of them. */
const MAIL_ROLES = ["volunteer", "mentor", "partner", "coordinator"];

/** A volunteer key whose key proof is missing or does not verify: treated as a tampered answer. */
class Unverified extends Error {
  constructor(cause) {
    super("volunteer key not vouched for by the log", { cause });
  }
}

/** The token once it is made: shown once, and forgotten once the help-seeker has kept it. */
const shown = {
  code: null, // the formatted token, until the help-seeker says it is kept
  saved: false, // the help-seeker ticked "I have kept it"
};

async function send(event) {
  event.preventDefault();
  error("");
  const text = field.value.trim();
  if (!text) {
    error(t("mail_empty"));
    field.focus();
    return;
  }
  if ([...text].length > MAX) {
    error(t("chat_too_long", { max: MAX }));
    field.focus();
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  status(t("mail_working"), { busy: true });
  await paint();
  let box = null;
  try {
    await oc.ready();
    const challenge = await api("/api/mail/challenge", {});
    const nonce = await solveShowingProgress(challenge);
    const assigned = await api("/api/mail/assign", { challenge: challenge.challenge, nonce: b64(nonce) });
    const volunteer = assigned.volunteer;
    const volunteerX = oc.b64decode(volunteer.x25519_public, 32);
    const volunteerEd = oc.b64decode(volunteer.ed25519_public, 32);
    // Encrypt only to keys the helpline's root key signed and the log holds (crypto/PROTOCOL.md 14), and to an
    // X25519 key the volunteer's identity key vouches for. Anything missing or wrong: nothing is sealed or sent.
    try {
      oc.verifyKeyProof(TRUST, volunteer.proof, { ed25519Public: volunteerEd, x25519Public: volunteerX,
        roles: MAIL_ROLES, now: Math.floor(Date.now() / 1000) });
    } catch (err) {
      throw new Unverified(err);
    }
    oc.verifyKeyCertificate(volunteerEd, volunteerX, oc.b64decode(volunteer.certificate, oc.SIGNATURE_BYTES));
    const token = oc.newTokenCode();
    await paint();
    box = oc.deriveMailbox(token, setting("deployment_id"), setting("kdf"));
    const threadId = oc.b64decode(assigned.thread, oc.MAIL_THREAD_ID_BYTES);
    const sealed = oc.sealMail(threadId, 1, oc.AUTHOR_SEEKER, oc.encodeText(text), box, box.x25519Public, volunteerX);
    const created = await api("/api/mail/threads", {
      assignment: assigned.assignment,
      lookup_key: b64(box.lookupKey),
      seeker_x25519_public: b64(box.x25519Public),
      seeker_ed25519_public: b64(box.ed25519Public),
      message: { seq: 1, body: b64(sealed.body), signature: b64(sealed.signature),
        seeker_wrap: b64(sealed.seekerWrap), volunteer_wrap: b64(sealed.volunteerWrap) },
    });
    shown.code = oc.formatToken(token);
    showCode(created);
  } catch (err) {
    status("");
    if (err instanceof Unverified) error(t("mail_key_unverified"));
    else error(err instanceof oc.CryptoError ? t("network_error") : explain(err));
    button.disabled = false;
    return;
  } finally {
    wipeKeys(box);
  }
  field.value = "";
}

function showCode(created) {
  status("");
  form.hidden = true;
  el("code").textContent = shown.code;
  el("verwachting").textContent = t("mail_expect", { hours: created.reply_hours, url: setting("return_url") });
  el("bewaard-tot").textContent = t("mail_expires", { date: formatDay(created.expires) });
  el("code-kaart").hidden = false;
  el("code-kop").focus();
  window.addEventListener("beforeunload", warnIfUnsaved);
}

function warnIfUnsaved(event) {
  if (shown.saved) return;
  event.preventDefault();
  event.returnValue = t("mail_leave_warning");
}

async function copy() {
  try {
    await navigator.clipboard.writeText(shown.code);
    status(t("mail_copied"));
  } catch {
    const range = document.createRange();
    range.selectNodeContents(el("code"));
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    status(t("mail_copy_failed"));
  }
}

function download() {
  downloadText(t("mail_file_text", { code: shown.code, url: setting("return_url") }), "luisterend-oor-code.txt");
}

function done() {
  if (!el("bewaard").checked) {
    error(t("mail_not_saved"));
    el("bewaard").focus();
    return;
  }
  shown.saved = true;
  shown.code = null;
  window.location.assign(setting("home"));
}

/** Before anyone writes: if no account can take mail at all, say so now, not after the letter is written.
 * (Nobody being marked available is no reason: the mail then goes to an active mail volunteer.) */
async function checkOpen() {
  try {
    const state = await api("/api/mail/status");
    if (state.open === false) {
      form.hidden = true;
      el("mail-dicht").hidden = false;
    }
  } catch {
    // Unknown: let the person write; a refusal on sending still says what to do.
  }
}

form.addEventListener("submit", send);
field.addEventListener("input", counter);
el("kopieren").addEventListener("click", copy);
el("afdrukken").addEventListener("click", () => window.print());
el("opslaan").addEventListener("click", download);
el("bewaard").addEventListener("change", (event) => {
  shown.saved = event.target.checked;
  if (shown.saved) error("");
});
el("klaar").addEventListener("click", done);
counter();
checkOpen();
