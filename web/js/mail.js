// Writing a first message. The token is made here, shown once, and never sent anywhere:
// the server gets only a key derived from it (in a request body), public keys and ciphertext.
import * as oc from "./crypto.js";
import { api, el, error, explain, LANG, paint, setting, status, t } from "./ui.js";

const MAX = setting("max_chars");
const form = el("schrijven");
const field = el("bericht");
let code = null;
let saved = false;

function counter() {
  el("teller").textContent = t("chat_counter", { n: [...field.value].length, max: MAX });
}

function b64(bytes) {
  return oc.b64encode(bytes);
}

function wipe(box) {
  for (const key of ["lookupKey", "x25519Secret", "ed25519Seed", "ed25519SecretKey"]) box?.[key]?.fill(0);
}

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
    const nonce = await oc.solvePow(oc.b64decode(challenge.challenge), challenge.bits);
    const assigned = await api("/api/mail/assign", { challenge: challenge.challenge, nonce: b64(nonce) });
    const volunteer = assigned.volunteer;
    const volunteerX = oc.b64decode(volunteer.x25519_public, 32);
    // Encrypt only to a key that the volunteer's identity key vouches for.
    oc.verifyKeyCertificate(oc.b64decode(volunteer.ed25519_public, 32), volunteerX,
      oc.b64decode(volunteer.certificate, oc.SIGNATURE_BYTES));
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
    code = oc.formatToken(token);
    showCode(created);
  } catch (err) {
    status("");
    error(err instanceof oc.CryptoError ? t("network_error") : explain(err));
    button.disabled = false;
    return;
  } finally {
    wipe(box);
  }
  field.value = "";
}

function showCode(created) {
  status("");
  form.hidden = true;
  el("code").textContent = code;
  el("verwachting").textContent = t("mail_expect", { hours: created.reply_hours, url: setting("return_url") });
  const date = new Date(`${created.expires}T12:00:00`).toLocaleDateString(LANG === "en" ? "en-GB" : "nl-NL",
    { day: "numeric", month: "long", year: "numeric" });
  el("bewaard-tot").textContent = t("mail_expires", { date });
  el("code-kaart").hidden = false;
  el("code-kop").focus();
  window.addEventListener("beforeunload", warnIfUnsaved);
}

function warnIfUnsaved(event) {
  if (saved) return;
  event.preventDefault();
  event.returnValue = t("mail_leave_warning");
}

async function copy() {
  try {
    await navigator.clipboard.writeText(code);
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
  const text = t("mail_file_text", { code, url: setting("return_url") });
  const blob = new Blob([text], { type: "text/plain;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = "luisterend-oor-code.txt";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function done() {
  if (!el("bewaard").checked) {
    error(t("mail_not_saved"));
    el("bewaard").focus();
    return;
  }
  saved = true;
  code = null;
  window.location.assign(setting("home"));
}

form.addEventListener("submit", send);
field.addEventListener("input", counter);
el("kopieren").addEventListener("click", copy);
el("afdrukken").addEventListener("click", () => window.print());
el("opslaan").addEventListener("click", download);
el("bewaard").addEventListener("change", (event) => {
  saved = event.target.checked;
  if (saved) error("");
});
el("klaar").addEventListener("click", done);
counter();
