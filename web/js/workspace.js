// The volunteer's chat workspace: availability, the queue, up to N chat panels, and the two
// things staff do together: a mentor reading along, and handing a chat over to a partner
// (e.g. 113) or a colleague. Every key lives in this page's memory only; the server relays
// ciphertext. Staff links are specified in crypto/PROTOCOL.md 10.11.
import * as oc from "./crypto.js";
import { setting, t } from "./ui.js";
import { appendMessage, Channel, decodeContent, encodeContent, typingNotifier } from "./chatcore.js";

const MAX = setting("max_chars");
const $ = (id) => document.getElementById(id);
const lang = () => (document.documentElement.lang === "en" ? "en" : "nl");

let account = null;
let channel = null;
let counter = 0;
let roster = { partners: [], colleagues: [] };
/** chat id (b64) -> {session, panel, ended, from, mentor: {link, session, name} | null} */
const chats = new Map();
/** link id (b64) -> {keys, chat, kind: "mentor"|"handover", note} : links this page invited, not yet joined */
const invited = new Map();
/** link id (b64) -> {session, kind: "handover-in"|"readalong", chat?, panel?, name, watch?} : links this page joined */
const joined = new Map();

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
  const handovers = frame.handovers ?? [];
  $("overdrachten").textContent = handovers.length ? t("ws_handovers_waiting", { n: handovers.length }) : "";
  $("capaciteit").textContent = t("ws_capacity", { holding: frame.holding, capacity: frame.capacity });
  $("aannemen").disabled = !(frame.holding < frame.capacity
    && (handovers.length > 0 || (frame.available && frame.waiting.length > 0)));
  roster = { partners: frame.partners ?? [], colleagues: frame.colleagues ?? [] };
  for (const chat of chats.values()) fillChoices(chat.panel);
}

/** The handover targets and the mentors online, in a panel's two selects (keeping what was chosen). */
function fillChoices(panel) {
  const target = panel.querySelector(".doel");
  const chosen = target.value;
  target.replaceChildren(
    ...roster.partners.map((p) => new Option(p[lang()], p.target)),
    ...roster.colleagues.map((c) => new Option(c.name, `v:${c.id}`)),
  );
  if ([...target.options].some((o) => o.value === chosen)) target.value = chosen;
  const mentor = panel.querySelector(".mentorkeuze");
  const picked = mentor.value;
  const mentors = roster.colleagues.filter((c) => c.mentor);
  mentor.replaceChildren(...(mentors.length ? mentors.map((c) => new Option(c.name, String(c.id)))
    : [new Option(t("ws_mentor_none"), "")]));
  if ([...mentor.options].some((o) => o.value === picked)) mentor.value = picked;
  mentorButton(panel);
}

/** "Invite" works only with a mentor online, none reading along yet and no invitation pending. */
function mentorButton(panel) {
  const [key, chat] = [...chats.entries()].find(([, c]) => c.panel === panel) ?? [null, null];
  const pending = key !== null && [...invited.values()].some((i) => i.kind === "mentor" && i.chat === key);
  panel.querySelector(".mentor button[type=submit]").disabled =
    !panel.querySelector(".mentorkeuze").value || Boolean(chat?.mentor) || Boolean(pending) || Boolean(chat?.ended);
}

function labelled(panel, pairs, suffix) {
  // Labels need unique ids in every copy of a template.
  for (const [label, control] of pairs) {
    panel.querySelector(control).id = control.slice(1) + suffix;
    panel.querySelector(label).htmlFor = panel.querySelector(control).id;
  }
}

function newPanel(key) {
  counter += 1;
  const panel = $("gesprek-sjabloon").content.firstElementChild.cloneNode(true);
  const q = (cls) => panel.querySelector(cls);
  const suffix = `-${counter}`;
  labelled(panel, [[".bericht-label", ".bericht"], [".onderwerp-label", ".onderwerp"],
    [".leeftijd-label", ".leeftijd"], [".doel-label", ".doel"], [".notitie-label", ".notitie"],
    [".mentor-label", ".mentorkeuze"]], suffix);
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
  q(".overdragen").addEventListener("submit", (event) => {
    event.preventDefault();
    handOver(key);
  });
  q(".overdragen-stop").addEventListener("click", () => channel.send({ t: "handover-cancel", chat: key }));
  q(".mentor").addEventListener("submit", (event) => {
    event.preventDefault();
    inviteMentor(key);
  });
  q(".mentor-stop").addEventListener("click", () => {
    const mentor = chats.get(key)?.mentor;
    if (mentor) channel.send({ t: "mentor-end", link: mentor.link });
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
  fillChoices(panel);
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

function sealLink(link, session, bytes) {
  const { seq, ciphertext } = session.seal(bytes);
  channel.send({ t: "lmsg", link, seq, ct: oc.b64encode(ciphertext) });
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
  // A mentor reading along gets a copy over the staff link (never through the help-seeker's session).
  if (chat.mentor?.session) sealLink(chat.mentor.link, chat.mentor.session, encodeContent("text", text));
  appendMessage(chat.panel.querySelector(".messages"), t("chat_you"), text, "mine");
  field.value = "";
}

/** Answer an offered chat: a new chat from the queue, or one handed over to this page. */
function assigned(frame) {
  const chatId = oc.b64decode(frame.chat, oc.CHAT_ID_BYTES);
  const peer = oc.b64decode(frame.peer, 32);
  let link = null;
  if (frame.handover) {
    try {
      link = joinLink(frame.handover.link, frame.handover);
    } catch {
      say(t("ws_broken"), { isError: true });
      return; // an inviter key that does not verify: do not take the chat
    }
  }
  const mine = oc.newChatKeyPair();
  // Sign this chat's key with the identity key, so the help-seeker's page knows it is ours.
  const sig = oc.signChatOffer(account.identity, chatId, peer, mine.publicKey);
  const publicKey = Uint8Array.from(mine.publicKey);
  const session = oc.ChatSession.forVolunteer(chatId, mine, peer);
  const panel = newPanel(frame.chat);
  chats.set(frame.chat, { session, panel, ended: false, from: frame.handover?.from ?? null, mentor: null });
  if (link) {
    const from = String(frame.handover.from).slice(0, 40);
    joined.set(frame.handover.link, { session: link.session, kind: "handover-in", chat: frame.chat, name: from });
    panel.querySelector(".kop").textContent += ` — ${t("ws_handover_from", { name: from })}`;
    if (!frame.handover.history) note(frame.chat, t("ws_history_withheld"));
    channel.send({ t: "accept-handover", chat: frame.chat, pub: oc.b64encode(publicKey), sig: oc.b64encode(sig),
      lpub: oc.b64encode(link.publicKey), lsig: oc.b64encode(link.sig) });
  } else {
    channel.send({ t: "accept", chat: frame.chat, pub: oc.b64encode(publicKey), sig: oc.b64encode(sig) });
  }
  panel.querySelector(".kop").focus();
}

function received(frame) {
  const chat = chats.get(frame.chat);
  if (!chat || chat.ended) return;
  let content;
  try {
    content = decodeContent(chat.session.open(frame.seq, oc.b64decode(frame.ct)));
    if (!["text", "typing", "history"].includes(content.kind)) throw new oc.InvalidInput("not from a help-seeker");
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
  const list = chat.panel.querySelector(".messages");
  if (content.kind === "history") {
    const who = content.who === "volunteer" ? t("ws_volunteer") : t("ws_seeker");
    appendMessage(list, t("ws_history_item", { who }), content.text, "history");
    return;
  }
  appendMessage(list, t("ws_seeker"), content.text, "theirs");
}

function ended(frame) {
  const chat = chats.get(frame.chat);
  if (!chat) return;
  chat.ended = true;
  chat.session?.wipe();
  chat.session = null;
  dropMentor(chat);
  const key = `ws_reason_${String(frame.reason).replaceAll("-", "_")}`;
  const reason = t(key) === key ? t("ws_reason_unknown") : t(key);
  appendMessage(chat.panel.querySelector(".messages"), "", t("ws_ended", { reason }), "note");
  for (const form of [".schrijven", ".overdragen", ".mentor"]) chat.panel.querySelector(form).hidden = true;
  chat.panel.querySelector(".typing").textContent = "";
  if (frame.wrapup) {
    chat.panel.querySelector(".afronding").hidden = false;
    if (frame.reason === "handed-over") chat.panel.querySelector(".doorverbonden-ja").checked = true;
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
  $("leeg").hidden = chats.size > 0 || $("meelezen").children.length > 0;
}

function note(key, text) {
  const chat = chats.get(key);
  if (chat) appendMessage(chat.panel.querySelector(".messages"), "", text, "note");
}

function panelStatus(key, text) {
  const chat = chats.get(key);
  if (chat) chat.panel.querySelector(".overdragen-status").textContent = text;
}

// -- staff links -----------------------------------------------------------------------------

/** Make and sign this page's end of a link it invites someone to (PROTOCOL.md 10.11). */
function inviteLink(chat, extra) {
  const linkId = oc.newLinkId();
  const keys = oc.newChatKeyPair();
  const sig = oc.signLinkKey(account.identity, linkId, oc.LINK_INVITER, keys.publicKey, null);
  const link = oc.b64encode(linkId);
  invited.set(link, { keys, chat, ...extra });
  return { link, pub: oc.b64encode(keys.publicKey), sig: oc.b64encode(sig) };
}

/** The joiner answered: check its signature over both keys, then open the inviter's end. */
function linkJoined(frame) {
  const pending = invited.get(frame.link);
  if (!pending) return null;
  invited.delete(frame.link);
  const pub = oc.b64decode(frame.pub, 32);
  oc.verifyLinkKey(oc.b64decode(frame.identity, 32), oc.b64decode(frame.link, oc.CHAT_ID_BYTES), oc.LINK_JOINER,
    pub, pending.keys.publicKey, oc.b64decode(frame.sig, oc.SIGNATURE_BYTES));
  return { ...pending, session: oc.ChatSession.forSeeker(oc.b64decode(frame.link, oc.CHAT_ID_BYTES), pending.keys, pub) };
}

/** Join a link someone invited this page to: check the inviter's signed key, sign our own over both. */
function joinLink(link, inviter) {
  const linkId = oc.b64decode(link, oc.CHAT_ID_BYTES);
  const inviterPub = oc.b64decode(inviter.pub, 32);
  oc.verifyLinkKey(oc.b64decode(inviter.identity, 32), linkId, oc.LINK_INVITER, inviterPub, null,
    oc.b64decode(inviter.sig, oc.SIGNATURE_BYTES));
  const keys = oc.newChatKeyPair();
  const sig = oc.signLinkKey(account.identity, linkId, oc.LINK_JOINER, keys.publicKey, inviterPub);
  const publicKey = Uint8Array.from(keys.publicKey);
  return { session: oc.ChatSession.forVolunteer(linkId, keys, inviterPub), publicKey, sig };
}

function linkMessage(frame) {
  const mine = joined.get(frame.link);
  const chat = [...chats.values()].find((c) => c.mentor?.link === frame.link);
  const session = mine?.session ?? chat?.mentor?.session;
  if (!session) return;
  let content;
  try {
    content = decodeContent(session.open(frame.seq, oc.b64decode(frame.ct)));
  } catch {
    say(t("ws_broken"), { isError: true });
    return;
  }
  if (chat && content.kind === "hint") {
    // The mentor's hint: shown to this volunteer only, never sent on.
    appendMessage(chat.panel.querySelector(".messages"), t("ws_mentor_hint", { name: chat.mentor.name }),
      content.text, "hint");
  } else if (mine?.kind === "handover-in" && content.kind === "note") {
    const target = chats.get(mine.chat);
    if (target) {
      // Clinically important: shown as a note of its own, not as a faint system line.
      appendMessage(target.panel.querySelector(".messages"), "", content.text
        ? t("ws_handover_note_in", { name: mine.name, text: content.text })
        : t("ws_handover_no_note", { name: mine.name }), content.text ? "handover-note" : "note");
    }
    mine.session.wipe();
    joined.delete(frame.link); // the note is the link's one message
  } else if (mine?.kind === "readalong" && content.kind === "text") {
    appendMessage(mine.panel.querySelector(".messages"), mine.name, content.text, "mine");
  }
}

// -- handover --------------------------------------------------------------------------------

function handOver(key) {
  const chat = chats.get(key);
  const target = chat.panel.querySelector(".doel").value;
  if (!target || chat.ended) return;
  const noteText = chat.panel.querySelector(".notitie").value.trim().slice(0, MAX);
  const link = inviteLink(key, { kind: "handover", note: noteText });
  channel.send({ t: "handover", chat: key, target, ...link });
  chat.handoverLink = link.link;
  chat.panel.querySelector(".overdragen button[type=submit]").disabled = true;  // one request at a time
  chat.panel.querySelector(".overdragen-stop").hidden = false;
}

function handoverOff(frame) {
  const chat = chats.get(frame.chat);
  if (!chat) return;
  invited.get(chat.handoverLink)?.keys.secretKey.fill(0);
  invited.delete(chat.handoverLink);
  chat.panel.querySelector(".overdragen-stop").hidden = true;
  chat.panel.querySelector(".overdragen button[type=submit]").disabled = false;
  panelStatus(frame.chat, "");
  note(frame.chat, t(`ws_handover_off_${frame.reason}`));
}

function handoverDone(frame) {
  let link;
  try {
    link = linkJoined(frame);
  } catch {
    note(frame.chat, t("ws_broken"));
    return; // a receiver key that does not verify gets no note
  }
  if (!link) return;
  // The note goes only to whoever took over, sealed on the link; then this end is wiped.
  sealLink(frame.link, link.session, encodeContent("note", link.note));
  link.session.wipe();
  panelStatus(frame.chat, "");
  note(frame.chat, t("ws_handover_done", { name: String(frame.name).slice(0, 40) }));
}

// -- read-along: the volunteer's side ------------------------------------------------------------

function inviteMentor(key) {
  const chat = chats.get(key);
  const mentor = Number(chat.panel.querySelector(".mentorkeuze").value);
  if (!mentor || chat.ended || chat.mentor) return;
  channel.send({ t: "mentor-invite", chat: key, mentor, ...inviteLink(key, { kind: "mentor" }) });
  mentorButton(chat.panel);
}

function mentorLinked(frame) {
  const chat = chats.get(frame.chat);
  let link;
  try {
    link = linkJoined(frame);
  } catch {
    channel.send({ t: "mentor-end", link: frame.link });
    note(frame.chat, t("ws_broken"));
    return;
  }
  if (!chat || !link) return;
  chat.mentor = { link: frame.link, session: link.session, name: String(frame.name).slice(0, 40) };
  chat.panel.querySelector(".mentor-stop").hidden = false;
  mentorButton(chat.panel);
  note(frame.chat, t("ws_mentor_linked", { name: chat.mentor.name }));
}

function dropMentor(chat) {
  if (!chat?.mentor) return false;
  chat.mentor.session?.wipe();
  chat.mentor = null;
  chat.panel.querySelector(".mentor-stop").hidden = true;
  return true;
}

function mentorEnded(frame) {
  const chat = chats.get(frame.chat);
  if (chat && (chat.mentor?.link === frame.link || invited.has(frame.link))) {
    invited.delete(frame.link);
    dropMentor(chat);
    mentorButton(chat.panel);
    note(frame.chat, t("ws_mentor_ended"));
  }
  const reading = joined.get(frame.link);
  if (reading?.kind === "readalong") {
    reading.session.wipe();
    reading.watch?.wipe();
    joined.delete(frame.link);
    appendMessage(reading.panel.querySelector(".messages"), "", t("ws_mentor_ended"), "note");
    reading.panel.querySelector(".tip").hidden = true;
    setTimeout(() => reading.panel.remove(), 8000);
  }
  $(`vraag-${frame.link}`)?.remove();
}

// -- read-along: the mentor's side ---------------------------------------------------------------

function mentorAsked(frame) {
  const card = document.createElement("div");
  card.className = "card invitation";
  card.id = `vraag-${frame.link}`;
  const text = document.createElement("p");
  text.textContent = t("ws_readalong_ask", { name: String(frame.from).slice(0, 40) });
  const yes = document.createElement("button");
  yes.type = "button";
  yes.textContent = t("ws_readalong_accept");
  const no = document.createElement("button");
  no.type = "button";
  no.className = "secondary";
  no.textContent = t("ws_readalong_decline");
  yes.addEventListener("click", () => {
    card.remove();
    startReadalong(frame);
  });
  no.addEventListener("click", () => {
    card.remove();
    channel.send({ t: "mentor-decline", link: frame.link });
  });
  card.append(text, yes, no);
  $("uitnodigingen").append(card);
  yes.focus();
}

function startReadalong(frame) {
  let link;
  let watch;
  let cpub;
  let csig;
  try {
    link = joinLink(frame.link, frame);
    // A read-only session with the help-seeker's page, under the key it made for this mentor.
    const mchat = oc.b64decode(frame.chat, oc.CHAT_ID_BYTES);
    const seeker = oc.b64decode(frame.seeker, 32);
    const mine = oc.newChatKeyPair();
    cpub = Uint8Array.from(mine.publicKey);
    csig = oc.signChatOffer(account.identity, mchat, seeker, mine.publicKey);
    watch = oc.ChatSession.forVolunteer(mchat, mine, seeker);
  } catch {
    channel.send({ t: "mentor-decline", link: frame.link });
    say(t("ws_broken"), { isError: true });
    return;
  }
  const name = String(frame.from).slice(0, 40);
  const panel = $("meelees-sjabloon").content.firstElementChild.cloneNode(true);
  counter += 1;
  labelled(panel, [[".tip-label", ".tiptekst"]], `-${counter}`);
  panel.querySelector(".kop").textContent = t("ws_readalong_heading", { name });
  panel.querySelector(".kop").id = `kop-${counter}`;
  panel.setAttribute("aria-labelledby", `kop-${counter}`);
  panel.querySelector(".tip-label").textContent = t("ws_readalong_hint_label", { name });
  panel.querySelector(".tip").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = panel.querySelector(".tiptekst");
    const text = field.value.trim();
    const reading = joined.get(frame.link);
    if (!text || !reading || [...text].length > MAX) return;
    sealLink(frame.link, reading.session, encodeContent("hint", text));
    appendMessage(panel.querySelector(".messages"), t("chat_you"), text, "hint");
    field.value = "";
  });
  panel.querySelector(".stoppen").addEventListener("click", () => channel.send({ t: "mentor-end", link: frame.link }));
  $("meelezen").append(panel);
  $("leeg").hidden = true;
  joined.set(frame.link, { session: link.session, kind: "readalong", panel, name, watch });
  appendMessage(panel.querySelector(".messages"), "", t("ws_readalong_from_now"), "note");
  channel.send({ t: "mentor-accept", link: frame.link, cpub: oc.b64encode(cpub), csig: oc.b64encode(csig),
    pub: oc.b64encode(link.publicKey), sig: oc.b64encode(link.sig) });
  panel.querySelector(".kop").focus();
}

function mentorCopy(frame) {
  const reading = joined.get(frame.link);
  if (!reading?.watch) return;
  let content;
  try {
    content = decodeContent(reading.watch.open(frame.seq, oc.b64decode(frame.ct)));
  } catch {
    channel.send({ t: "mentor-end", link: frame.link });
    return;
  }
  if (content.kind === "text") appendMessage(reading.panel.querySelector(".messages"), t("ws_seeker"), content.text, "theirs");
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
    case "handover-asked": panelStatus(frame.chat, t("ws_handover_asked")); break;
    case "handover-waiting": panelStatus(frame.chat, t("ws_handover_waiting")); break;
    case "handover-off": handoverOff(frame); break;
    case "handover-done": handoverDone(frame); break;
    case "mentor-asked": note(frame.chat, t("ws_mentor_asked")); break;
    case "mentor-linked": mentorLinked(frame); break;
    case "mentor-ended": mentorEnded(frame); break;
    case "mentor-ask": mentorAsked(frame); break;
    case "mmsg": mentorCopy(frame); break;
    case "lmsg": linkMessage(frame); break;
    case "error": say(frame.message?.[lang()] ?? "", { isError: true }); break;
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
  for (const chat of chats.values()) {
    chat.session?.wipe();
    chat.mentor?.session?.wipe();
  }
  for (const link of joined.values()) {
    link.session?.wipe();
    link.watch?.wipe();
    link.panel?.remove();
  }
  for (const pending of invited.values()) pending.keys.secretKey.fill(0);
  joined.clear();
  invited.clear();
  for (const key of [...chats.keys()]) removePanel(key);
  $("uitnodigingen").replaceChildren();
  $("chatwerk").hidden = true;
  $("beschikbaar").checked = false;
  account = null;
}
