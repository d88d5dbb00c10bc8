// The volunteer's chat workspace: availability, the queue, and up to N chat panels.
// Each chat's keys live in this page's memory only; the server relays ciphertext.
import * as oc from "./crypto.js";
import { setting, t } from "./ui.js";
import { appendMessage, Channel, decodeContent, encodeContent, typingNotifier } from "./chatcore.js";

const MAX = setting("max_chars");
const $ = (id) => document.getElementById(id);

let account = null;
let channel = null;
let counter = 0;
/** chat id (b64) -> {session, panel, ended} */
const chats = new Map();

function say(message, { isError = false } = {}) {
  $(isError ? "werkplek-fout" : "werkplek-status").textContent = message;
}

function minutes(seconds) {
  return Math.max(0, Math.floor(seconds / 60));
}

function renderQueue(frame) {
  $("beschikbaar").checked = frame.available;
  const list = $("wachtrij");
  list.replaceChildren(...frame.waiting.map((s) => {
    const item = document.createElement("li");
    item.textContent = t("ws_queue_item", { minutes: minutes(s) });
    return item;
  }));
  $("wachtrij-samenvatting").textContent = frame.waiting.length
    ? t("ws_queue_waiting", { n: frame.waiting.length }) : t("ws_queue_empty");
  $("capaciteit").textContent = t("ws_capacity", { holding: frame.holding, capacity: frame.capacity });
  $("aannemen").disabled = !(frame.available && frame.waiting.length > 0 && frame.holding < frame.capacity);
}

function newPanel(key) {
  counter += 1;
  const panel = $("gesprek-sjabloon").content.firstElementChild.cloneNode(true);
  const q = (cls) => panel.querySelector(cls);
  const suffix = `-${counter}`;
  // Labels need unique ids in every copy of the template.
  for (const [label, control] of [[".bericht-label", ".bericht"], [".onderwerp-label", ".onderwerp"],
    [".leeftijd-label", ".leeftijd"]]) {
    q(control).id = control.slice(1) + suffix;
    q(label).htmlFor = q(control).id;
  }
  for (const radio of panel.querySelectorAll("input[type=radio]")) radio.name = `doorverbonden${suffix}`;
  q(".kop").textContent = t("ws_chat_heading", { n: counter });
  q(".kop").id = `kop${suffix}`;
  panel.setAttribute("aria-labelledby", q(".kop").id);
  q(".log").setAttribute("aria-label", t("ws_chat_heading", { n: counter }));
  q(".schrijven").addEventListener("submit", (event) => {
    event.preventDefault();
    sendText(key);
  });
  q(".bericht").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      q(".schrijven").requestSubmit();
    }
  });
  const typing = typingNotifier(() => seal(key, encodeContent("typing")));
  q(".bericht").addEventListener("input", typing);
  q(".beeindigen").addEventListener("click", () => channel.send({ t: "end", chat: key }));
  const block = q(".blokkeren");
  block.addEventListener("click", () => {
    if (block.dataset.confirm !== "1") {
      block.dataset.confirm = "1";
      block.textContent = t("ws_block_confirm");
      return;
    }
    channel.send({ t: "block", chat: key });
  });
  q(".afronding").addEventListener("submit", (event) => {
    event.preventDefault();
    const topic = q(".onderwerp").value;
    const age = q(".leeftijd").value;
    if (!topic || !age) {
      q(".afronding-fout").textContent = t("ws_wrapup_missing");
      (topic ? q(".leeftijd") : q(".onderwerp")).focus();
      return;
    }
    channel.send({ t: "wrapup", chat: key, topic, age, handed_over: q(".doorverbonden-ja").checked });
  });
  $("gesprekken").append(panel);
  $("leeg").hidden = true;
  return panel;
}

function seal(key, bytes) {
  const chat = chats.get(key);
  if (!chat?.session) return;
  const { seq, ciphertext } = chat.session.seal(bytes);
  channel.send({ t: "msg", chat: key, seq, ct: oc.b64encode(ciphertext) });
}

function sendText(key) {
  const chat = chats.get(key);
  const field = chat.panel.querySelector(".bericht");
  const text = field.value.trim();
  if (!text || chat.ended) return;
  if ([...text].length > MAX) {
    say(t("chat_too_long", { max: MAX }), { isError: true });
    return;
  }
  seal(key, encodeContent("text", text));
  appendMessage(chat.panel.querySelector(".messages"), t("chat_you"), text, "mine");
  field.value = "";
}

function assigned(frame) {
  const chatId = oc.b64decode(frame.chat, oc.CHAT_ID_BYTES);
  const peer = oc.b64decode(frame.peer, 32);
  const mine = oc.newChatKeyPair();
  // Sign this chat's key with the identity key, so the help-seeker's page knows it is ours.
  const sig = oc.signChatOffer(account.identity, chatId, peer, mine.publicKey);
  const publicKey = Uint8Array.from(mine.publicKey);
  const session = oc.ChatSession.forVolunteer(chatId, mine, peer);
  const panel = newPanel(frame.chat);
  chats.set(frame.chat, { session, panel, ended: false });
  channel.send({ t: "accept", chat: frame.chat, pub: oc.b64encode(publicKey), sig: oc.b64encode(sig) });
  panel.querySelector(".kop").focus();
}

function received(frame) {
  const chat = chats.get(frame.chat);
  if (!chat || chat.ended) return;
  let content;
  try {
    content = decodeContent(chat.session.open(frame.seq, oc.b64decode(frame.ct)));
  } catch {
    // Replayed, reordered, reflected or altered: never shown. End the chat.
    appendMessage(chat.panel.querySelector(".messages"), "", t("ws_broken"), "note");
    channel.send({ t: "end", chat: frame.chat });
    return;
  }
  const hint = chat.panel.querySelector(".typing");
  if (content.kind === "typing") {
    hint.textContent = t("ws_seeker_typing");
    clearTimeout(chat.typingTimer);
    chat.typingTimer = setTimeout(() => { hint.textContent = ""; }, 4000);
    return;
  }
  hint.textContent = "";
  appendMessage(chat.panel.querySelector(".messages"), t("ws_seeker"), content.text, "theirs");
}

function ended(frame) {
  const chat = chats.get(frame.chat);
  if (!chat) return;
  chat.ended = true;
  chat.session?.wipe();
  chat.session = null;
  const key = `ws_reason_${String(frame.reason).replace("-", "_")}`;
  const reason = t(key) === key ? t("ws_reason_unknown") : t(key);
  appendMessage(chat.panel.querySelector(".messages"), "", t("ws_ended", { reason }), "note");
  chat.panel.querySelector(".schrijven").hidden = true;
  chat.panel.querySelector(".typing").textContent = "";
  if (frame.wrapup) {
    chat.panel.querySelector(".afronding").hidden = false;
    chat.panel.querySelector(".onderwerp").focus();
  } else {
    setTimeout(() => removePanel(frame.chat), 8000);
  }
}

function removePanel(key) {
  const chat = chats.get(key);
  if (!chat) return;
  chat.panel.remove();
  chats.delete(key);
  $("leeg").hidden = chats.size > 0;
}

function note(key, text) {
  const chat = chats.get(key);
  if (chat) appendMessage(chat.panel.querySelector(".messages"), "", text, "note");
}

function onFrame(frame) {
  switch (frame.t) {
    case "queue": renderQueue(frame); break;
    case "assigned": assigned(frame); break;
    case "msg": received(frame); break;
    case "ended": ended(frame); break;
    case "wrapped": removePanel(frame.chat); break;
    case "peer-away": note(frame.chat, t("ws_seeker_away")); break;
    case "peer-back": note(frame.chat, t("ws_seeker_back")); break;
    case "error": say(frame.message?.[document.documentElement.lang === "en" ? "en" : "nl"] ?? "", { isError: true }); break;
    default: break;
  }
}

export function startWorkspace(unlocked) {
  account = unlocked;
  if (!account.canChat) return;
  $("chatwerk").hidden = false;
  channel = new Channel("/ws/volunteer", {
    graceMs: setting("grace_seconds") * 1000,
    onOpen: () => {
      say("");
      // Tell the server which chats this page still holds keys for (none after a reload).
      const held = [...chats.entries()].filter(([, c]) => !c.ended && c.session)
        .map(([key, c]) => ({ chat: key, received: c.session.received }));
      channel.send({ t: "resume", chats: held });
      if ($("beschikbaar").checked) channel.send({ t: "available", chat: true });
    },
    onFrame,
    onDown: () => say(t("ws_connection_lost")),
    onGiveUp: () => {
      for (const key of chats.keys()) ended({ chat: key, reason: "timeout", wrapup: false });
      say(t("ws_connection_lost"), { isError: true });
    },
  });
  channel.connect();
}

$("beschikbaar").addEventListener("change", (event) => {
  channel?.send({ t: "available", chat: event.target.checked });
});
$("aannemen").addEventListener("click", () => {
  $("aannemen").disabled = true;
  channel?.send({ t: "pickup" });
});

export function stopWorkspace() {
  channel?.close();
  channel = null;
  for (const chat of chats.values()) chat.session?.wipe();
  for (const key of [...chats.keys()]) removePanel(key);
  $("chatwerk").hidden = true;
  $("beschikbaar").checked = false;
  account = null;
}
