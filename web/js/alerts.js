// Alerts for a volunteer who is not looking at the tab (issue 15, point 4): the tab title counts what waits
// and what is unread; opt-in desktop notifications and an opt-in soft sound while the tab is hidden.
// Never any content: a title or a notification says only "someone is waiting" or "new message in chat 2".
// Nothing is kept in browser storage (no page script uses any: tests/crypto/test_rules_extra.py): notifications
// and sound are off at every login until switched on in the page (the notification permission itself is the
// browser's, per origin).
import { el, t } from "./ui.js";

const state = {
  on: false, // the workspace is showing (between startAlerts and stopAlerts)
  waiting: 0, // chats waiting that this volunteer could take now
  chatUnread: 0,
  mailUnread: 0,
  notify: false,
  sound: false,
  audio: null, // an AudioContext, made on the volunteer's click (browsers allow sound only after one)
  baseTitle: "",
};

const supported = () => typeof window.Notification === "function";

/** The tab title: "(2) Wachtrij · (1) Ongelezen · Luisterend Oor", or the page's own title when nothing waits. */
function paintTitle() {
  if (!state.on) return;
  const parts = [];
  if (state.waiting > 0) parts.push(`(${state.waiting}) ${t("ws_queue_title")}`);
  const unread = state.chatUnread + state.mailUnread;
  if (unread > 0) parts.push(`(${unread}) ${t("al_title_unread")}`);
  document.title = parts.length ? [...parts, t("site_name")].join(" · ") : state.baseTitle;
}

function paintButtons() {
  const notify = el("meldingen");
  if (notify) {
    notify.hidden = !supported();
    notify.setAttribute("aria-pressed", String(state.notify));
  }
  el("geluid")?.setAttribute("aria-pressed", String(state.sound));
}

function beep() {
  const audio = state.audio;
  if (!audio) return;
  if (audio.state === "suspended") audio.resume().catch(() => {});
  const now = audio.currentTime;
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.type = "sine";
  tone.frequency.value = 660;
  // Soft: a low volume that fades in and out over a quarter of a second.
  gain.gain.setValueAtTime(0.0001, now);
  gain.gain.exponentialRampToValueAtTime(0.06, now + 0.03);
  gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.25);
  tone.connect(gain).connect(audio.destination);
  tone.start(now);
  tone.stop(now + 0.3);
}

/** Tell a volunteer who is not looking: a generic text only (the caller never passes content). */
function alert(text, tag) {
  if (!state.on || !document.hidden) return;
  if (state.notify && supported() && window.Notification.permission === "granted") {
    try {
      // The tag replaces an earlier notification of the same kind instead of piling them up.
      new window.Notification(text, { body: t("site_name"), tag: `luisterend-oor-${tag}` });
    } catch {
      // a browser that allows notifications only from a service worker: the title still counts
    }
  }
  if (state.sound) beep();
}

/** Chats waiting that this volunteer could take now (0 while paused, unavailable or full). */
export function setWaiting(count) {
  const before = state.waiting;
  state.waiting = Math.max(0, count | 0);
  paintTitle();
  if (state.waiting > before) alert(t("al_waiting"), "waiting");
}

/** Unread chat messages over every open chat. */
export function setChatUnread(count) {
  state.chatUnread = Math.max(0, count | 0);
  paintTitle();
}

/** A message arrived in chat `n` ("Gesprek n"). */
export function chatMessage(n) {
  alert(t("al_chat_message", { n }), `chat-${n}`);
}

async function toggleNotify() {
  if (state.notify) {
    state.notify = false;
  } else if (supported()) {
    let permission = window.Notification.permission;
    if (permission === "default") permission = await window.Notification.requestPermission();
    state.notify = permission === "granted";
    if (!state.notify) el("werkplek-fout").textContent = t("ws_notify_denied");
  }
  paintButtons();
}

function toggleSound() {
  state.sound = !state.sound;
  if (state.sound) {
    try {
      state.audio ??= new AudioContext();
      beep(); // what it will sound like
    } catch {
      state.sound = false; // no WebAudio here
    }
  }
  paintButtons();
}

function onMail(event) {
  const detail = event.detail ?? {};
  state.mailUnread = Number.isSafeInteger(detail.unread) && detail.unread > 0 ? detail.unread : 0;
  paintTitle();
  if (detail.fresh) {
    const label = typeof detail.label === "string" && detail.label ? detail.label.slice(0, 40) : null;
    alert(label ? t("al_mail_message", { label }) : t("al_mail_new"), "mail");
  }
}

function onVisible() {
  paintTitle();
}

export function startAlerts() {
  state.on = true;
  state.baseTitle = `${t("workspace_title")} · ${t("site_name")}`;
  // Opt-in at every login, one click (the browser asks for its permission only the first time): nothing about
  // the choice is kept, so a shared computer shows no setting of this site.
  state.notify = false;
  state.sound = false;
  paintButtons();
  paintTitle();
}

export function stopAlerts() {
  state.on = false;
  state.waiting = state.chatUnread = state.mailUnread = 0;
  if (state.baseTitle) document.title = state.baseTitle;
}

/** The page's texts changed language: paint the title again. */
export function repaintAlerts() {
  state.baseTitle = `${t("workspace_title")} · ${t("site_name")}`;
  paintTitle();
}

el("meldingen")?.addEventListener("click", toggleNotify);
el("geluid")?.addEventListener("click", toggleSound);
document.addEventListener("oor:mail", onMail);
document.addEventListener("visibilitychange", onVisible);
