// The volunteer's mail inbox: threads are decrypted here with the identity key unlocked at login.
//
// Live: the server sends {t: "inbox", unread, threads} on the volunteer's websocket whenever those
// counts change (server/mail/inbox.py); workspace.js passes it on as an "oor:frame" event and the
// inbox is loaded again. After every load "oor:mail" tells the alerts how many threads are unread
// (never content); opening and closing a thread dispatch "oor:mail-open" and "oor:mail-close".
//
// Each thread has a private note (PROTOCOL.md 12.10): sealed here to the volunteer's own key and
// signed by it, stored with the thread as ciphertext, and at a handover sealed anew for the
// colleague only if the volunteer ticks the box; otherwise the server drops it.
import * as oc from "./crypto.js";
import { b64encode as b64 } from "./crypto.js";
import { api, el, explain, setting, statusLine, t } from "./ui.js";
import { appendMessage } from "./chatcore.js";
import { coarseTime, thisHour } from "./mailtime.js";

const MAX = setting("mail_max_chars");
const NOTE_MAX_CHARS = 2000; // PROTOCOL.md 12.10: at most 4 bytes each, so within MAX_MAIL_NOTE_CONTENT
const POLL_WITHOUT_SOCKET_MS = 30_000; // only for an account without chat, which has no websocket
const say = statusLine("werkplek-status", "werkplek-fout");

/** The inbox between clicks; startMail fills it, stopMail empties it. */
const inbox = {
  account: null, // the unlocked account (its identity opens and signs the mail)
  current: null, // the open thread: {key, label, id, seekerX, seekerEd, messages, note}
  colleagues: [], // [{name, x25519_public, ed25519_public, certificate}] as the server lists them
  unread: null, // labels of the threads with unread messages at the last load (null before the first)
  loading: null, // the load in flight, and whether another was asked for meanwhile
  again: false,
  timer: null,
};

function fail(err) {
  say(explain(err, t("wm_broken")), { isError: true });
}

function waiting(hours) {
  if (hours === null) return t("wm_answered");
  return hours < 1 ? t("wm_waiting_short") : t("wm_waiting", { hours });
}

function item(thread) {
  const label = t("wm_label", { label: thread.label });
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = thread.unread ? "secondary unread" : "secondary";
  button.dataset.thread = thread.thread;
  const name = document.createElement("span");
  name.className = "label";
  name.textContent = label;
  button.append(name);
  if (thread.unread_count > 0) {
    const count = document.createElement("span");
    count.className = "badge";
    count.textContent = t("wm_unread_count", { n: thread.unread_count });
    button.append(" ", count);
  }
  const parts = [waiting(thread.waiting_hours)];
  if (thread.last_hour !== null && thread.last_hour !== undefined) {
    parts.push(t("wm_last", { time: coarseTime(thread.last_hour) }));
  }
  const about = document.createElement("span");
  about.className = "about";
  about.textContent = parts.join(" · "); // on its own line (site.css)
  button.append(about);
  button.addEventListener("click", () => openThread(thread.thread, label));
  li.append(button);
  return li;
}

async function fetchInbox() {
  let data;
  try {
    data = await api("/api/mail/inbox");
  } catch (err) {
    fail(err);
    return;
  }
  if (!inbox.account) return; // logged out meanwhile
  el("mail-beschikbaar").checked = data.mail;
  el("mail-leeg").hidden = data.threads.length > 0;
  el("postvak").replaceChildren(...data.threads.map(item));
  const unread = data.threads.filter((thread) => thread.unread_count > 0 || thread.unread).map((thread) => thread.label);
  const before = inbox.unread;
  inbox.unread = unread;
  const became = before === null ? [] : unread.filter((label) => !before.includes(label));
  document.dispatchEvent(new CustomEvent("oor:mail", { detail: {
    unread: unread.length, fresh: became.length > 0,
    label: became.length > 0 ? t("wm_label", { label: became[0] }) : null,
  } }));
}

/** Load the inbox; calls while a load runs make one more load after it (never two at once). */
async function loadInbox() {
  if (!inbox.account) return;
  if (inbox.loading) {
    inbox.again = true;
    return;
  }
  inbox.loading = (async () => {
    do {
      inbox.again = false;
      await fetchInbox();
    } while (inbox.again && inbox.account);
  })();
  try {
    await inbox.loading;
  } finally {
    inbox.loading = null;
  }
}

function show(message) {
  const list = el("mailberichten");
  const time = { timeText: coarseTime(message.hour) };
  const signer = oc.b64decode(message.signer, 32);
  // A help-seeker's message must be signed by the key the thread was created with.
  if (message.author === oc.AUTHOR_SEEKER && b64(signer) !== b64(inbox.current.seekerEd)) {
    appendMessage(list, "", t("wm_broken"), "note", time);
    return;
  }
  try {
    const content = oc.openMail(inbox.current.id, message.seq, message.author, oc.b64decode(message.body),
      oc.b64decode(message.signature, oc.SIGNATURE_BYTES), oc.b64decode(message.wrap, oc.MAIL_WRAP_BYTES),
      inbox.account.identity, signer);
    const fromSeeker = message.author === oc.AUTHOR_SEEKER;
    appendMessage(list, fromSeeker ? t("ws_seeker") : t("chat_you"), oc.decodeText(content),
      fromSeeker ? "theirs" : "mine", time);
  } catch {
    appendMessage(list, "", t("wm_broken"), "note", time);
  }
}

/** The thread's note in this page: its text if it opens for us, signed by us or by a colleague. */
function openNote(sealed) {
  if (!sealed) return { text: "", broken: false };
  const note = oc.b64decode(sealed);
  const writers = [inbox.account.identity.ed25519Public,
    ...inbox.colleagues.map((c) => oc.b64decode(c.ed25519_public, 32))];
  for (const writer of writers) {
    try {
      return { text: oc.decodeText(oc.openMailNote(inbox.current.id, note, inbox.account.identity, writer)),
        broken: false };
    } catch (err) {
      if (!(err instanceof oc.BadSignature)) break; // another writer cannot help
    }
  }
  return { text: "", broken: true };
}

function showNote(sealed) {
  const { text, broken } = openNote(sealed);
  inbox.current.note = text;
  el("mailnotitie-tekst").value = text;
  if (broken) say(t("wm_note_broken"), { isError: true });
  el("notitie-meegeven-regel").hidden = !text;
  el("notitie-meegeven").checked = false;
  el("mailgereedschap").open = Boolean(text) || broken; // a kept note shows itself; else the tools stay folded
}

async function openThread(key, label) {
  say("");
  let data;
  try {
    data = await api(`/api/mail/threads/${encodeURIComponent(key)}`);
  } catch (err) {
    fail(err);
    return;
  }
  if (inbox.current && inbox.current.key !== key) close();
  inbox.current = { key, label, id: oc.b64decode(data.thread, oc.MAIL_THREAD_ID_BYTES),
    seekerX: oc.b64decode(data.seeker_x25519_public, 32), seekerEd: oc.b64decode(data.seeker_ed25519_public, 32),
    messages: data.messages, note: "" };
  el("mailberichten").replaceChildren();
  for (const message of data.messages) show(message);
  if (!data.messages.every((m, i) => m.seq === i + 1)) {
    appendMessage(el("mailberichten"), "", t("wm_gap"), "note", { timeText: "" });
  }
  el("maildraad-kop").textContent = label;
  await loadColleagues();
  if (inbox.current?.key !== key) return;
  showNote(data.note);
  el("maildraad").hidden = false;
  document.dispatchEvent(new CustomEvent("oor:mail-open", { detail: { label } }));
  el("maildraad-kop").focus();
  loadInbox();
}

async function loadColleagues() {
  try {
    const data = await api("/api/mail/colleagues");
    inbox.colleagues = data.colleagues;
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
    appendMessage(el("mailberichten"), t("chat_you"), text, "mine", { timeText: coarseTime(thisHour()) });
    el("mailtekst").value = "";
    say(t("wm_sent"));
    loadInbox();
  } catch (err) {
    fail(err);
  }
}

/** Seal the note to our own key (PROTOCOL.md 12.10) and keep it with the thread; empty deletes it. */
async function saveNote(event) {
  event.preventDefault();
  if (!inbox.current) return;
  const text = el("mailnotitie-tekst").value.trim();
  if ([...text].length > NOTE_MAX_CHARS) {
    say(t("chat_too_long", { max: NOTE_MAX_CHARS }), { isError: true });
    return;
  }
  const current = inbox.current;
  try {
    const note = text ? b64(oc.sealMailNote(current.id, oc.encodeText(text), inbox.account.identity,
      inbox.account.identity.x25519Public)) : null;
    await api(`/api/mail/threads/${encodeURIComponent(current.key)}/note`, { note });
    current.note = text;
    el("notitie-meegeven-regel").hidden = !text;
    say(t(text ? "wm_note_saved" : "wm_note_deleted"));
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
    const body = { to: colleague.name, wraps };
    // The note goes along only if the volunteer chose so: sealed anew for the colleague, signed by us.
    const saved = inbox.current.note;
    if (saved && el("notitie-meegeven").checked) {
      body.note = b64(oc.sealMailNote(inbox.current.id, oc.encodeText(saved), inbox.account.identity, x));
    }
    await api(`/api/mail/threads/${encodeURIComponent(inbox.current.key)}/handover`, body);
    say(t("wm_handed_over", { name: colleague.name }));
    close();
    loadInbox();
  } catch (err) {
    fail(err);
  }
}

function close() {
  const label = inbox.current?.label ?? null;
  inbox.current = null;
  el("maildraad").hidden = true;
  el("mailberichten").replaceChildren();
  el("mailnotitie-tekst").value = "";
  el("notitie-meegeven").checked = false;
  el("notitie-meegeven-regel").hidden = true;
  if (label !== null) document.dispatchEvent(new CustomEvent("oor:mail-close", { detail: { label } }));
}

function onFrame(event) {
  if (event.detail?.t === "inbox") loadInbox();
}

export function startMail(unlocked) {
  inbox.account = unlocked;
  if (!inbox.account.canMail) return;
  inbox.unread = null;
  el("mailwerk").hidden = false;
  loadInbox();
  // With chat, the websocket says when to look again. Without it (an account for mail only) there is
  // no socket, so the inbox is looked at now and then instead.
  if (!inbox.account.canChat) inbox.timer = setInterval(loadInbox, POLL_WITHOUT_SOCKET_MS);
}

export function stopMail() {
  clearInterval(inbox.timer);
  inbox.timer = null;
  close();
  inbox.account = null;
  inbox.unread = null;
  inbox.colleagues = [];
  el("mailwerk").hidden = true;
  el("postvak").replaceChildren();
}

document.addEventListener("oor:frame", onFrame);
el("mail-beschikbaar").addEventListener("change", async (event) => {
  try {
    await api("/api/mail/availability", { mail: event.target.checked });
  } catch (err) {
    fail(err);
  }
});
el("mailantwoord").addEventListener("submit", reply);
el("mailnotitie").addEventListener("submit", saveNote);
el("mail-afgehandeld").addEventListener("click", handled);
el("mail-sluiten").addEventListener("click", close);
el("overdragen").addEventListener("submit", handOver);
