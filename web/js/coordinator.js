// The coordinator's dashboard: live figures refreshed every few seconds, invitations,
// deactivation and roles. This page only ever sees counts and staff accounts: no
// conversation, no key and nothing in browser storage. An enrolment link is shown once,
// from the answer to the invitation, and is gone when the page is left.
import { api, ApiError, charCounter, el, error, explain, LOCALE, setting, status, statusLine, t } from "./ui.js";

const REFRESH_MS = (Number(setting("refresh_seconds")) || 15) * 1000;

/** The live figures' refresh loop. */
const poll = {
  timer: null, // the next refresh, while one is scheduled
  stopped: false, // the session is gone: no more refreshes
  lastSummary: null, // what screen readers heard last, so they hear only changes
};

function setText(id, value) {
  const node = el(id);
  if (node) node.textContent = String(value);
}

function waitText(seconds) {
  if (seconds === null || seconds === undefined) return t("co_nobody_waiting");
  return seconds < 60 ? t("co_seconds", { n: seconds }) : t("co_minutes", { n: Math.floor(seconds / 60) });
}

function roleName(role) {
  return t(`role_${role}`);
}

// -- live figures ------------------------------------------------------------------------

function show(live) {
  const longest = waitText(live.chat.longest_wait_s);
  setText("chat-wachtend", live.chat.waiting);
  setText("chat-langste", longest);
  setText("chat-bezig", live.chat.in_progress);
  setText("chat-beschikbaar", live.chat.volunteers_available);
  setText("partners-beschikbaar", live.chat.partners_available);
  setText("overdrachten-partner", live.chat.handovers_waiting_for_partner);
  setText("mentoren-online", live.chat.mentors_online);
  setText("mail-beschikbaar", live.mail.volunteers_available);
  setText("mail-nieuwe-vrijwilliger", live.mail.needs_volunteer);
  setText("mail-beantwoord", live.mail.answered_open);
  const bands = new Map(live.mail.waiting.map((b) => [b.band, b.threads]));
  for (const cell of document.querySelectorAll("td[data-band]")) {
    if (bands.has(cell.dataset.band)) cell.textContent = String(bands.get(cell.dataset.band));
  }
  setText("bijgewerkt", t("co_live_updated", { time: new Date().toLocaleTimeString(LOCALE) }));
  // Screen readers hear a short summary only when a figure changed, not every 15 seconds.
  const summary = t("co_live_summary", {
    waiting: live.chat.waiting, longest, chat: live.chat.volunteers_available, mail: live.mail.volunteers_available,
    partners: live.chat.partners_available, handovers: live.chat.handovers_waiting_for_partner,
    mentors: live.chat.mentors_online,
  });
  if (poll.lastSummary !== null && summary !== poll.lastSummary) setText("live-samenvatting", summary);
  poll.lastSummary = summary;
}

async function refresh() {
  poll.timer = null;
  try {
    show(await api("/api/coordinator/live"));
    setText("live-fout", "");
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      setText("live-fout", explain(err));
      poll.stopped = true;
      return;
    }
    setText("live-fout", t("co_live_stale"));
  }
  schedule();
}

function schedule() {
  if (poll.stopped || document.hidden || poll.timer !== null) return;
  poll.timer = setTimeout(refresh, REFRESH_MS);
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) {
    clearTimeout(poll.timer);
    poll.timer = null;
  } else if (!poll.stopped) {
    clearTimeout(poll.timer);
    refresh();
  }
});

// -- invitations -------------------------------------------------------------------------

const inviteForm = el("uitnodigen");
const nameField = el("nieuwe-naam");
const result = el("uitnodiging");
const linkField = el("uitnodiging-link");

async function invite(event) {
  event.preventDefault();
  error("");
  nameField.removeAttribute("aria-invalid");
  const button = inviteForm.querySelector("button[type=submit]");
  button.disabled = true;
  status(t("co_working"), { busy: true });
  try {
    const made = await api("/api/coordinator/invite", {
      name: nameField.value.trim(), role: el("nieuwe-rol").value,
      can_chat: el("nieuw-chat").checked, can_mail: el("nieuw-mail").checked,
    });
    status("");
    setText("uitnodiging-kop", t("co_invite_done", { name: made.name }));
    linkField.value = made.url;
    setText("uitnodiging-geldig", t("co_invite_valid", {
      time: new Date(made.expires_at * 1000).toLocaleString(LOCALE, { dateStyle: "medium", timeStyle: "short" }),
    }));
    setText("kopieer-status", "");
    result.hidden = false;
    inviteForm.reset();
    el("uitnodiging-kop").focus();
  } catch (err) {
    status("");
    error(explain(err));
    if (err instanceof ApiError && err.body?.field === "name") {
      nameField.setAttribute("aria-invalid", "true");
      nameField.focus();
    }
  } finally {
    button.disabled = false;
  }
}

async function copyLink() {
  linkField.select();
  try {
    await navigator.clipboard.writeText(linkField.value);
    setText("kopieer-status", t("co_copied"));
  } catch {
    setText("kopieer-status", t("co_copy_failed"));
  }
}

// -- accounts: role and deactivation -----------------------------------------------------

function rowOf(node) {
  return node.closest("tr");
}

async function changeRole(form) {
  const name = form.dataset.name;
  const role = form.querySelector("select").value;
  const button = form.querySelector("button");
  error("");
  button.disabled = true;
  try {
    const account = await api("/api/coordinator/role", { name, role });
    rowOf(form).querySelector(".rol").textContent = roleName(account.role);
    status(t("co_role_changed", { name: account.name, role: roleName(account.role) }));
  } catch (err) {
    error(explain(err));
  } finally {
    button.disabled = false;
  }
}

async function deactivate(button) {
  const name = button.dataset.name;
  if (!window.confirm(t("co_deactivate_confirm", { name }))) return;
  error("");
  button.disabled = true;
  try {
    const account = await api("/api/coordinator/deactivate", { name });
    const row = rowOf(button);
    row.querySelector(".actief").textContent = account.active ? t("yes") : t("no");
    // A deactivated account cannot be reactivated here: nothing is left to change in its row.
    const actions = row.querySelector(".acties");
    actions.textContent = t("co_inactive");
    status(t("co_deactivated", { name: account.name }));
    actions.setAttribute("tabindex", "-1");
    actions.focus();  // the button had the focus; keep it in this row
  } catch (err) {
    button.disabled = false;
    error(explain(err));
  }
}

// -- quick replies -----------------------------------------------------------------------
// Organisation text (Dutch and English) that volunteers insert into a chat. Always shown with
// textContent: a reply's text is never markup, whatever it contains.

const QUICK_MAX = Number(setting("quick_replies_max")) || 50;
const quick = {
  replies: Array.isArray(setting("quick_replies")) ? setting("quick_replies") : [],
  editing: null, // the id of the reply in the form, or null for a new one
};
const quickForm = el("snel-formulier");
const quickNl = el("snel-nl");
const quickEn = el("snel-en");
const quickSay = statusLine("snel-status", "snel-fout");
const countNl = charCounter(quickNl, 1000, "snel-nl-teller");
const countEn = charCounter(quickEn, 1000, "snel-en-teller");

function quickPart(langCode, label, value) {
  const part = document.createElement("div");
  part.className = "quick-reply-text";
  const name = document.createElement("span");
  name.className = "quick-reply-lang";
  name.textContent = `${label}: `;
  const words = document.createElement("span");
  words.lang = langCode;
  words.textContent = value;
  part.append(name, words);
  return part;
}

function quickButton(label, number, className, id) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  button.dataset.id = String(id);
  const hidden = document.createElement("span");
  hidden.className = "visually-hidden";
  hidden.textContent = ` (${t("co_qr_number", { n: number })})`;
  button.append(label, hidden);
  return button;
}

function renderQuick() {
  const list = el("snel-lijst");
  list.replaceChildren(...quick.replies.map((reply, index) => {
    const item = document.createElement("li");
    item.className = "card quick-reply";
    item.dataset.id = String(reply.id);
    const heading = document.createElement("h4");
    heading.textContent = t("co_qr_number", { n: index + 1 });
    const actions = document.createElement("div");
    actions.className = "actions";
    actions.append(quickButton(t("co_qr_edit"), index + 1, "secondary snel-wijzigen", reply.id),
                   quickButton(t("co_qr_delete"), index + 1, "danger snel-verwijderen", reply.id));
    item.append(heading, quickPart("nl", t("co_qr_dutch"), reply.nl), quickPart("en", t("co_qr_english"), reply.en),
                actions);
    return item;
  }));
  el("snel-leeg").hidden = quick.replies.length > 0;
  const full = quick.editing === null && quick.replies.length >= QUICK_MAX;
  el("snel-opslaan").disabled = full;
  if (full) quickSay(t("co_qr_full"));
}

function numberOf(id) {
  return quick.replies.findIndex((r) => r.id === id) + 1;
}

function resetQuickForm() {
  quick.editing = null;
  quickForm.reset();
  setText("snel-form-kop", t("co_qr_add_title"));
  setText("snel-opslaan", t("co_qr_add"));
  el("snel-annuleren").hidden = true;
  for (const field of [quickNl, quickEn]) field.removeAttribute("aria-invalid");
  countNl();
  countEn();
}

async function reloadQuick() {
  quick.replies = (await api("/api/coordinator/quick-replies")).replies;
  renderQuick();
}

async function saveQuick(event) {
  event.preventDefault();
  quickSay("", { isError: true });
  for (const field of [quickNl, quickEn]) field.removeAttribute("aria-invalid");
  const button = el("snel-opslaan");
  button.disabled = true;
  const editing = quick.editing;
  try {
    const body = { nl: quickNl.value, en: quickEn.value };
    await api(editing === null ? "/api/coordinator/quick-replies" : `/api/coordinator/quick-replies/${editing}`, body);
    resetQuickForm();
    await reloadQuick();
    quickSay(t(editing === null ? "co_qr_added" : "co_qr_saved"));
    if (editing !== null) {
      el("snel-lijst").querySelector(`li[data-id="${editing}"] .snel-wijzigen`)?.focus();
    }
  } catch (err) {
    quickSay(explain(err), { isError: true });
    const field = err instanceof ApiError ? { nl: quickNl, en: quickEn }[err.body?.field] : undefined;
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  } finally {
    button.disabled = quick.editing === null && quick.replies.length >= QUICK_MAX;
  }
}

function editQuick(id) {
  const reply = quick.replies.find((r) => r.id === id);
  if (!reply) return;
  quick.editing = id;
  quickNl.value = reply.nl;
  quickEn.value = reply.en;
  countNl();
  countEn();
  setText("snel-form-kop", t("co_qr_edit_title", { n: numberOf(id) }));
  setText("snel-opslaan", t("co_qr_save"));
  el("snel-opslaan").disabled = false;
  el("snel-annuleren").hidden = false;
  quickSay("");
  quickNl.focus();
}

async function deleteQuick(button) {
  const id = Number(button.dataset.id);
  const number = numberOf(id);
  if (!window.confirm(t("co_qr_delete_confirm", { n: number }))) return;
  quickSay("", { isError: true });
  button.disabled = true;
  try {
    await api(`/api/coordinator/quick-replies/${id}/delete`, {});
    if (quick.editing === id) resetQuickForm();
    await reloadQuick();
    quickSay(t("co_qr_deleted"));
    // The button is gone: keep the focus near where it was.
    const items = el("snel-lijst").querySelectorAll("li .snel-wijzigen");
    (items[Math.min(number - 1, items.length - 1)] ?? el("snel-kop")).focus();
  } catch (err) {
    button.disabled = false;
    quickSay(explain(err), { isError: true });
  }
}

quickForm.addEventListener("submit", saveQuick);
quickNl.addEventListener("input", countNl);
quickEn.addEventListener("input", countEn);
el("snel-annuleren").addEventListener("click", () => {
  const was = quick.editing;
  resetQuickForm();
  renderQuick();
  quickSay("");
  el("snel-lijst").querySelector(`li[data-id="${was}"] .snel-wijzigen`)?.focus();
});
el("snel-lijst").addEventListener("click", (event) => {
  const edit = event.target.closest("button.snel-wijzigen");
  if (edit) editQuick(Number(edit.dataset.id));
  const remove = event.target.closest("button.snel-verwijderen");
  if (remove) deleteQuick(remove);
});
resetQuickForm();
renderQuick();

async function logout() {
  try {
    await api("/api/logout", {});
  } catch {
    // The session ends on its own; leave anyway.
  }
  window.location.assign(setting("login"));
}

inviteForm.addEventListener("submit", invite);
el("kopieer").addEventListener("click", copyLink);
el("accounts").addEventListener("submit", (event) => {
  if (event.target.matches("form.rol-wijzigen")) {
    event.preventDefault();
    changeRole(event.target);
  }
});
el("accounts").addEventListener("click", (event) => {
  const button = event.target.closest("button.deactiveren");
  if (button) deactivate(button);
});
el("uitloggen").addEventListener("click", logout);
refresh();
