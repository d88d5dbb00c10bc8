// The volunteer's mail inbox: threads are decrypted here with the identity key unlocked at login.
import * as oc from "./crypto.js";
import { b64encode as b64 } from "./crypto.js";
import { api, el, explain, setting, statusLine, t } from "./ui.js";
import { appendMessage } from "./chatcore.js";

const MAX = setting("mail_max_chars");
const say = statusLine("werkplek-status", "werkplek-fout");

/** The inbox between clicks; startMail fills it, stopMail empties it. */
const inbox = {
  account: null, // the unlocked account (its identity opens and signs the mail)
  current: null, // the open thread: {key, id, seekerX, seekerEd, messages}
  timer: null, // the inbox refresh
};

function fail(err) {
  say(explain(err, t("wm_broken")), { isError: true });
}

async function loadInbox() {
  if (!inbox.account) return;
  let data;
  try {
    data = await api("/api/mail/inbox");
  } catch (err) {
    fail(err);
    return;
  }
  el("mail-beschikbaar").checked = data.mail;
  el("mail-leeg").hidden = data.threads.length > 0;
  el("postvak").replaceChildren(...data.threads.map((thread, index) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = thread.unread ? "secondary unread" : "secondary";
    const state = thread.waiting_hours === null ? t("wm_answered") : t("wm_waiting", { hours: thread.waiting_hours });
    button.textContent = `${t("wm_item", { n: index + 1 })} · ${state}${thread.unread ? ` · ${t("wm_unread")}` : ""}`;
    button.addEventListener("click", () => openThread(thread.thread, t("wm_item", { n: index + 1 })));
    item.append(button);
    return item;
  }));
}

function show(message) {
  const list = el("mailberichten");
  const signer = oc.b64decode(message.signer, 32);
  // A help-seeker's message must be signed by the key the thread was created with.
  if (message.author === oc.AUTHOR_SEEKER && b64(signer) !== b64(inbox.current.seekerEd)) {
    appendMessage(list, "", t("wm_broken"), "note");
    return;
  }
  try {
    const content = oc.openMail(inbox.current.id, message.seq, message.author, oc.b64decode(message.body),
      oc.b64decode(message.signature, oc.SIGNATURE_BYTES), oc.b64decode(message.wrap, oc.MAIL_WRAP_BYTES),
      inbox.account.identity, signer);
    const fromSeeker = message.author === oc.AUTHOR_SEEKER;
    appendMessage(list, fromSeeker ? t("ws_seeker") : t("chat_you"), oc.decodeText(content), fromSeeker ? "theirs" : "mine");
  } catch {
    appendMessage(list, "", t("wm_broken"), "note");
  }
}

async function openThread(key, title) {
  say("");
  let data;
  try {
    data = await api(`/api/mail/threads/${encodeURIComponent(key)}`);
  } catch (err) {
    fail(err);
    return;
  }
  inbox.current = { key, id: oc.b64decode(data.thread, oc.MAIL_THREAD_ID_BYTES),
    seekerX: oc.b64decode(data.seeker_x25519_public, 32), seekerEd: oc.b64decode(data.seeker_ed25519_public, 32),
    messages: data.messages };
  el("mailberichten").replaceChildren();
  for (const message of data.messages) show(message);
  if (!data.messages.every((m, i) => m.seq === i + 1)) appendMessage(el("mailberichten"), "", t("wm_gap"), "note");
  el("maildraad-kop").textContent = title;
  el("maildraad").hidden = false;
  el("maildraad-kop").focus();
  await loadColleagues();
  loadInbox();
}

async function loadColleagues() {
  try {
    const data = await api("/api/mail/colleagues");
    const select = el("collega");
    const choose = document.createElement("option");
    choose.value = "";
    choose.textContent = t("ws_choose");
    select.replaceChildren(choose, ...data.colleagues.map((c) => {
      const option = document.createElement("option");
      option.value = c.name;
      option.textContent = c.name;
      option.dataset.keys = JSON.stringify(c);
      return option;
    }));
  } catch (err) {
    fail(err);
  }
}

async function reply(event) {
  event.preventDefault();
  const text = el("mailtekst").value.trim();
  if (!text || !inbox.current) return;
  if ([...text].length > MAX) {
    say(t("chat_too_long", { max: MAX }), { isError: true });
    return;
  }
  try {
    const seq = Math.max(0, ...inbox.current.messages.map((m) => m.seq)) + 1;
    const sealed = oc.sealMail(inbox.current.id, seq, oc.AUTHOR_VOLUNTEER, oc.encodeText(text), inbox.account.identity,
      inbox.current.seekerX, inbox.account.identity.x25519Public);
    await api(`/api/mail/threads/${encodeURIComponent(inbox.current.key)}/reply`, { message: { seq,
      body: b64(sealed.body), signature: b64(sealed.signature), seeker_wrap: b64(sealed.seekerWrap),
      volunteer_wrap: b64(sealed.volunteerWrap) } });
    inbox.current.messages.push({ seq, author: oc.AUTHOR_VOLUNTEER, wrap: b64(sealed.volunteerWrap) });
    appendMessage(el("mailberichten"), t("chat_you"), text, "mine");
    el("mailtekst").value = "";
    say(t("wm_sent"));
    loadInbox();
  } catch (err) {
    fail(err);
  }
}

async function handled() {
  if (!inbox.current) return;
  try {
    await api(`/api/mail/threads/${encodeURIComponent(inbox.current.key)}/handled`, {});
  } catch (err) {
    fail(err);
    return;
  }
  close();
  loadInbox();
}

async function handOver(event) {
  event.preventDefault();
  const option = el("collega").selectedOptions[0];
  if (!inbox.current || !option?.value) return;
  try {
    const colleague = JSON.parse(option.dataset.keys);
    const x = oc.b64decode(colleague.x25519_public, 32);
    // Re-encrypt for a key that the colleague's identity key vouches for, here in the browser.
    oc.verifyKeyCertificate(oc.b64decode(colleague.ed25519_public, 32), x,
      oc.b64decode(colleague.certificate, oc.SIGNATURE_BYTES));
    const wraps = inbox.current.messages.map((m) => ({
      seq: m.seq, wrap: b64(oc.rewrapMailKey(oc.b64decode(m.wrap, oc.MAIL_WRAP_BYTES), inbox.account.identity, x)),
    }));
    await api(`/api/mail/threads/${encodeURIComponent(inbox.current.key)}/handover`, { to: colleague.name, wraps });
    say(t("wm_handed_over", { name: colleague.name }));
    close();
    loadInbox();
  } catch (err) {
    fail(err);
  }
}

function close() {
  inbox.current = null;
  el("maildraad").hidden = true;
  el("mailberichten").replaceChildren();
}

export function startMail(unlocked) {
  inbox.account = unlocked;
  if (!inbox.account.canMail) return;
  el("mailwerk").hidden = false;
  loadInbox();
  inbox.timer = setInterval(loadInbox, 60_000);
}

export function stopMail() {
  clearInterval(inbox.timer);
  close();
  inbox.account = null;
  el("mailwerk").hidden = true;
  el("postvak").replaceChildren();
}

el("mail-beschikbaar").addEventListener("change", async (event) => {
  try {
    await api("/api/mail/availability", { mail: event.target.checked });
  } catch (err) {
    fail(err);
  }
});
el("mail-vernieuwen").addEventListener("click", loadInbox);
el("mailantwoord").addEventListener("submit", reply);
el("mail-afgehandeld").addEventListener("click", handled);
el("mail-sluiten").addEventListener("click", close);
el("overdragen").addEventListener("submit", handOver);
