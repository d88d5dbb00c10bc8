// The help-seeker's chat. No account, no cookie, nothing in browser storage: the keys,
// the resume secret and the conversation live in this page's memory only.
import * as oc from "./crypto.js";
import { api, el, error, explain, setting, status, t } from "./ui.js";
import { appendMessage, Channel, decodeContent, downloadTranscript, encodeContent, typingNotifier } from "./chatcore.js";

const MAX = setting("max_chars");
const log = el("berichten");
const composer = el("schrijven");
const field = el("bericht");

const chat = {
  phase: "idle", // idle | pow | waiting | active | ended
  keys: null,
  id: null,
  resume: null,
  session: null,
  name: "",
  pending: [],
  transcript: [],
  channel: null,
  typingTimer: null,
};

function show(phase) {
  chat.phase = phase;
  el("begin").hidden = phase !== "idle";
  el("wachten").hidden = phase !== "waiting";
  el("gesprek").hidden = !(phase === "waiting" || phase === "active");
  composer.hidden = !(phase === "waiting" || phase === "active");
  el("alvast").hidden = phase !== "waiting";
  el("einde").hidden = phase !== "ended";
  el("stoppen").textContent = phase === "waiting" ? t("chat_leave_queue") : t("chat_end");
  el("downloaden").hidden = chat.transcript.length === 0 || !(phase === "active" || phase === "ended");
}

async function checkAvailability() {
  status(t("chat_checking"), { busy: true });
  try {
    const state = await api("/api/chat/status");
    status("");
    el("niemand").hidden = state.available;
    el("start").hidden = !state.available;
    if (state.available && state.waiting > 0) status(t("chat_someone", { n: state.waiting }));
  } catch (err) {
    status("");
    error(explain(err));
  }
}

function showPosition(frame) {
  const minutes = Math.max(1, Math.round(frame.estimate_s / 60));
  el("positie").textContent = t("chat_position", { position: frame.position, minutes });
}

async function start() {
  error("");
  el("start").disabled = true;
  show("pow");
  el("begin").hidden = true;
  status(t("chat_pow"), { busy: true });
  let challenge;
  let nonce;
  try {
    await oc.ready();
    challenge = await api("/api/chat/challenge", {});
    nonce = await oc.solvePow(oc.b64decode(challenge.challenge), challenge.bits);
  } catch (err) {
    status("");
    error(explain(err));
    el("start").disabled = false;
    show("idle");
    return;
  }
  chat.keys = oc.newChatKeyPair();
  chat.channel = new Channel("/ws/chat", {
    graceMs: setting("grace_seconds") * 1000,
    onOpen: (reconnected) => {
      if (!reconnected) {
        chat.channel.send({ t: "open", challenge: challenge.challenge, nonce: oc.b64encode(nonce),
          pub: oc.b64encode(chat.keys.publicKey) });
      } else {
        chat.channel.send({ t: "resume", chat: oc.b64encode(chat.id), resume: chat.resume,
          received: chat.session ? chat.session.received : 0 });
      }
    },
    onFrame,
    onDown: () => status(t("chat_reconnecting"), { busy: true }),
    onGiveUp: () => finish(chat.phase === "pow" ? "unknown" : "timeout"),
  });
  chat.channel.connect();
}

function onFrame(frame) {
  switch (frame.t) {
    case "queued":
      chat.id = oc.b64decode(frame.chat, oc.CHAT_ID_BYTES);
      chat.resume = frame.resume;
      status("");
      show("waiting");
      el("gesprek-kop").textContent = t("chat_title");
      showPosition(frame);
      field.focus();
      break;
    case "position":
      showPosition(frame);
      break;
    case "connected":
      connected(frame);
      break;
    case "msg":
      received(frame);
      break;
    case "resumed":
      status(t("chat_reconnected"));
      if (frame.state === "waiting") showPosition({ position: frame.position, estimate_s: 60 });
      break;
    case "peer-away":
      appendMessage(log, "", t("chat_peer_away"), "note");
      break;
    case "peer-back":
      appendMessage(log, "", t("chat_peer_back"), "note");
      break;
    case "ended":
      finish(frame.reason);
      break;
    case "error":
      refused(frame);
      break;
    default:
      break;
  }
}

function connected(frame) {
  try {
    const pub = oc.b64decode(frame.pub, 32);
    // The volunteer's page signed its chat key with the identity key the server vouches for.
    oc.verifyChatOffer(oc.b64decode(frame.identity, 32), chat.id, chat.keys.publicKey, pub,
      oc.b64decode(frame.sig, oc.SIGNATURE_BYTES));
    chat.session = oc.ChatSession.forSeeker(chat.id, chat.keys, pub);
  } catch {
    broken();
    return;
  }
  chat.name = String(frame.name).slice(0, 40);
  status("");
  show("active");
  const heading = el("gesprek-kop");
  heading.textContent = t("chat_with", { name: chat.name });
  heading.focus();
  for (const text of chat.pending.splice(0)) sendText(text, { echoed: true });
  field.focus();
}

function received(frame) {
  let content;
  try {
    content = decodeContent(chat.session.open(frame.seq, oc.b64decode(frame.ct)));
  } catch {
    broken(); // replayed, reordered, reflected or altered: never display it
    return;
  }
  if (content.kind === "typing") {
    el("typt").textContent = t("chat_typing", { name: chat.name });
    clearTimeout(chat.typingTimer);
    chat.typingTimer = setTimeout(() => { el("typt").textContent = ""; }, 4000);
    return;
  }
  el("typt").textContent = "";
  chat.transcript.push(`${chat.name}: ${content.text}`);
  appendMessage(log, chat.name, content.text, "theirs");
  show("active");
}

function sendText(text, { echoed = false } = {}) {
  if (!chat.session) {
    chat.pending.push(text);
    appendMessage(log, t("chat_you"), text, "mine");
    return;
  }
  const { seq, ciphertext } = chat.session.seal(encodeContent("text", text));
  chat.channel.send({ t: "msg", seq, ct: oc.b64encode(ciphertext) });
  chat.transcript.push(`${t("chat_you")}: ${text}`);
  if (!echoed) appendMessage(log, t("chat_you"), text, "mine");
  show("active");
}

function submit(event) {
  event.preventDefault();
  const text = field.value.trim();
  if (!text) return;
  if ([...text].length > MAX) {
    error(t("chat_too_long", { max: MAX }));
    return;
  }
  error("");
  sendText(text);
  field.value = "";
  counter();
}

function counter() {
  el("teller").textContent = t("chat_counter", { n: [...field.value].length, max: MAX });
}

const typing = typingNotifier(() => {
  if (chat.session) {
    const { seq, ciphertext } = chat.session.seal(encodeContent("typing"));
    chat.channel.send({ t: "msg", seq, ct: oc.b64encode(ciphertext) });
  }
});

function refused(frame) {
  const message = frame.message?.[document.documentElement.lang === "en" ? "en" : "nl"] ?? "";
  if (["no-volunteers", "blocked", "busy", "bad-pow"].includes(frame.code)) {
    chat.channel?.close();
    chat.channel = null;
    status("");
    error(message);
    el("start").disabled = false;
    show("idle");
    if (frame.code === "no-volunteers") checkAvailability();
    else el("start").hidden = frame.code === "blocked";
    return;
  }
  error(message);
}

function wipe() {
  chat.session?.wipe();
  chat.session = null;
  chat.keys?.secretKey.fill(0);
  chat.resume = null;
}

function finish(reason) {
  const key = `chat_ended_${String(reason).replace("-", "_")}`;
  el("reden").textContent = t(key) === key ? t("chat_ended") : t(key);
  end();
}

function broken() {
  chat.channel?.send({ t: "end" });
  el("reden").textContent = t("chat_broken");
  end();
}

function end() {
  wipe();
  chat.channel?.close();
  chat.pending = [];
  status("");
  el("typt").textContent = "";
  show("ended");
  el("einde-kop").focus();
}

el("start").addEventListener("click", start);
composer.addEventListener("submit", submit);
field.addEventListener("input", () => {
  counter();
  typing();
});
field.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    composer.requestSubmit();
  }
});
el("stoppen").addEventListener("click", () => {
  chat.channel?.send({ t: "end" });
  finish("seeker");
});
el("download").addEventListener("click", () => downloadTranscript(chat.transcript, "gesprek.txt"));
window.addEventListener("pagehide", wipe);
counter();
checkAvailability();
