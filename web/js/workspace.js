// The volunteer's chat workspace: availability, the queue, up to N chat panels, and the two
// things staff do together: a mentor reading along, and handing a chat over to a partner
// (e.g. 113) or a colleague. Every key lives in this page's memory only; the server relays
// ciphertext. Staff links are specified in crypto/PROTOCOL.md 10.11.
import * as oc from "./crypto.js";
import { el, LANG, setting, statusLine, t } from "./ui.js";
import { alreadyOpened, appendMessage, Channel, decodeContent, encodeContent, Outbox, typingNotifier }
  from "./chatcore.js";

const MAX = setting("max_chars");
/** After a reconnect the server answers `resume` with {t: "resumed", chat, acked} per chat it still holds. A node
 * from before issue 14 (possible in a rolling deploy) sends none: after this long each chat's outbox goes as it
 * would without `acked` (Outbox.release), rather than wait for good. */
const RESUME_FALLBACK_MS = 3000;
const say = statusLine("werkplek-status", "werkplek-fout");

/** Everything the workspace holds between frames, in one place; startWorkspace fills it, stopWorkspace empties it. */
const desk = {
  account: null, // the unlocked account (its identity signs this page's chat and link keys)
  channel: null, // the websocket to /ws/volunteer
  panels: 0, // panels made so far: numbers their headings and keeps their element ids unique
  roster: { partners: [], colleagues: [] }, // handover targets and colleagues online, from the last queue frames
  resumeTimer: null, // RESUME_FALLBACK_MS after a reconnect
  /** chat id (b64) -> {session, outbox, panel, ended, from, mentor: {link, session, name} | null} */
  chats: new Map(),
  /** link id (b64) -> {keys, chat, kind: "mentor"|"handover", note} : links this page invited, not yet joined */
  invited: new Map(),
  /** link id (b64) -> {session, kind: "handover-in"|"readalong", chat?, panel?, name, watch?}: links this page joined */
  joined: new Map(),
};

function minutes(seconds) {
  return Math.max(0, Math.floor(seconds / 60));
}

function renderQueue(frame) {
  el("beschikbaar").checked = frame.available;
  const list = el("wachtrij");
  list.replaceChildren(...frame.waiting.map((s) => {
    const item = document.createElement("li");
    item.textContent = t("ws_queue_item", { minutes: minutes(s) });
    return item;
  }));
  el("wachtrij-samenvatting").textContent = frame.waiting.length
    ? t("ws_queue_waiting", { n: frame.waiting.length }) : t("ws_queue_empty");
  const handovers = frame.handovers ?? [];
  el("overdrachten").textContent = handovers.length ? t("ws_handovers_waiting", { n: handovers.length }) : "";
  el("capaciteit").textContent = t("ws_capacity", { holding: frame.holding, capacity: frame.capacity });
  el("aannemen").disabled = !(frame.holding < frame.capacity
    && (handovers.length > 0 || (frame.available && frame.waiting.length > 0)));
  // The server leaves a list out when it did not change since its last queue frame: keep the one we have.
  desk.roster = { partners: frame.partners ?? desk.roster.partners,
    colleagues: frame.colleagues ?? desk.roster.colleagues };
  for (const chat of desk.chats.values()) fillChoices(chat.panel);
}

/** The handover targets and the mentors online, in a panel's two selects (keeping what was chosen). */
function fillChoices(panel) {
  const target = panel.querySelector(".doel");
  const chosen = target.value;
  target.replaceChildren(
    ...desk.roster.partners.map((p) => new Option(p[LANG], p.target)),
    ...desk.roster.colleagues.map((c) => new Option(c.name, `v:${c.id}`)),
  );
  if ([...target.options].some((o) => o.value === chosen)) target.value = chosen;
  const mentor = panel.querySelector(".mentorkeuze");
  const picked = mentor.value;
  const mentors = desk.roster.colleagues.filter((c) => c.mentor);
  mentor.replaceChildren(...(mentors.length ? mentors.map((c) => new Option(c.name, String(c.id)))
    : [new Option(t("ws_mentor_none"), "")]));
  if ([...mentor.options].some((o) => o.value === picked)) mentor.value = picked;
  mentorButton(panel);
}

/** "Invite" works only with a mentor online, none reading along yet and no invitation pending. */
function mentorButton(panel) {
  const [key, chat] = [...desk.chats.entries()].find(([, c]) => c.panel === panel) ?? [null, null];
  const pending = key !== null && [...desk.invited.values()].some((i) => i.kind === "mentor" && i.chat === key);
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
  desk.panels += 1;
  const panel = el("gesprek-sjabloon").content.firstElementChild.cloneNode(true);
  const q = (cls) => panel.querySelector(cls);
  const suffix = `-${desk.panels}`;
  labelled(panel, [[".bericht-label", ".bericht"], [".onderwerp-label", ".onderwerp"],
    [".leeftijd-label", ".leeftijd"], [".doel-label", ".doel"], [".notitie-label", ".notitie"],
    [".mentor-label", ".mentorkeuze"]], suffix);
  for (const radio of panel.querySelectorAll("input[type=radio]")) radio.name = `doorverbonden${suffix}`;
  q(".kop").textContent = t("ws_chat_heading", { n: desk.panels });
  q(".kop").id = `kop${suffix}`;
  panel.setAttribute("aria-labelledby", q(".kop").id);
  q(".log").setAttribute("aria-label", t("ws_chat_heading", { n: desk.panels }));
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
  const typing = typingNotifier(() => seal(key, encodeContent("typing"), { now: true }));
  q(".bericht").addEventListener("input", typing);
  q(".beeindigen").addEventListener("click", () => desk.channel.send({ t: "end", chat: key }));
  const block = q(".blokkeren");
  block.addEventListener("click", () => {
    if (block.dataset.confirm !== "1") {
      block.dataset.confirm = "1";
      block.textContent = t("ws_block_confirm");
      return;
    }
    desk.channel.send({ t: "block", chat: key });
  });
  q(".overdragen").addEventListener("submit", (event) => {
    event.preventDefault();
    handOver(key);
  });
  q(".overdragen-stop").addEventListener("click", () => desk.channel.send({ t: "handover-cancel", chat: key }));
  q(".mentor").addEventListener("submit", (event) => {
    event.preventDefault();
    inviteMentor(key);
  });
  q(".mentor-stop").addEventListener("click", () => {
    const mentor = desk.chats.get(key)?.mentor;
    if (mentor) desk.channel.send({ t: "mentor-end", link: mentor.link });
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
    desk.channel.send({ t: "wrapup", chat: key, topic, age, handed_over: q(".doorverbonden-ja").checked });
  });
  fillChoices(panel);
  el("gesprekken").append(panel);
  el("leeg").hidden = true;
  return panel;
}

/**
 * Seal for the help-seeker and send through the chat's outbox, which keeps it until the server has it.
 * With `now` (the "is typing" hint) nothing is sealed unless it can go at once: a late hint would be stale,
 * and once sealed it must go (it has used a sequence number).
 */
function seal(key, bytes, { now = false } = {}) {
  const chat = desk.chats.get(key);
  if (!chat?.session || (now && !chat.outbox.ready)) return;
  const { seq, ciphertext } = chat.session.seal(bytes);
  chat.outbox.put({ t: "msg", chat: key, seq, ct: oc.b64encode(ciphertext) });
}

function sealLink(link, session, bytes) {
  const { seq, ciphertext } = session.seal(bytes);
  desk.channel.send({ t: "lmsg", link, seq, ct: oc.b64encode(ciphertext) });
}

function sendText(key) {
  const chat = desk.chats.get(key);
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
  const sig = oc.signChatOffer(desk.account.identity, chatId, peer, mine.publicKey);
  const publicKey = Uint8Array.from(mine.publicKey);
  const session = oc.ChatSession.forVolunteer(chatId, mine, peer);
  const panel = newPanel(frame.chat);
  desk.chats.set(frame.chat, { session, outbox: new Outbox(desk.channel), panel, ended: false,
    from: frame.handover?.from ?? null, mentor: null });
  if (link) {
    const from = String(frame.handover.from).slice(0, 40);
    desk.joined.set(frame.handover.link, { session: link.session, kind: "handover-in", chat: frame.chat, name: from });
    panel.querySelector(".kop").textContent += ` — ${t("ws_handover_from", { name: from })}`;
    if (!frame.handover.history) note(frame.chat, t("ws_history_withheld"));
    desk.channel.send({ t: "accept-handover", chat: frame.chat, pub: oc.b64encode(publicKey), sig: oc.b64encode(sig),
      lpub: oc.b64encode(link.publicKey), lsig: oc.b64encode(link.sig) });
  } else {
    desk.channel.send({ t: "accept", chat: frame.chat, pub: oc.b64encode(publicKey), sig: oc.b64encode(sig) });
  }
  panel.querySelector(".kop").focus();
}

function received(frame) {
  const chat = desk.chats.get(frame.chat);
  if (!chat || chat.ended) return;
  if (alreadyOpened(chat.session, frame.seq)) return; // a resend after a reconnect: shown once already
  let content;
  try {
    content = decodeContent(chat.session.open(frame.seq, oc.b64decode(frame.ct)));
    if (!["text", "typing", "history"].includes(content.kind)) throw new oc.InvalidInput("not from a help-seeker");
  } catch {
    // Replayed, reordered, reflected or altered: never shown. End the chat.
    appendMessage(chat.panel.querySelector(".messages"), "", t("ws_broken"), "note");
    desk.channel.send({ t: "end", chat: frame.chat });
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

/** The server holds this chat again and has the page's messages up to `acked`: the later ones go again. */
function resumed(frame) {
  const outbox = desk.chats.get(frame.chat)?.outbox;
  // Only while it waits: once live (RESUME_FALLBACK_MS passed) what it sent since may be accepted already,
  // and sending it again would only be refused.
  if (outbox && !outbox.live) outbox.release(frame.acked);
}

function ended(frame) {
  const chat = desk.chats.get(frame.chat);
  if (!chat) return;
  chat.ended = true;
  chat.session?.wipe();
  chat.session = null;
  chat.outbox?.clear();
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
  const chat = desk.chats.get(key);
  if (!chat) return;
  chat.panel.remove();
  desk.chats.delete(key);
  el("leeg").hidden = desk.chats.size > 0 || el("meelezen").children.length > 0;
}

function note(key, text) {
  const chat = desk.chats.get(key);
  if (chat) appendMessage(chat.panel.querySelector(".messages"), "", text, "note");
}

function panelStatus(key, text) {
  const chat = desk.chats.get(key);
  if (chat) chat.panel.querySelector(".overdragen-status").textContent = text;
}

// -- staff links -----------------------------------------------------------------------------

/** Make and sign this page's end of a link it invites someone to (PROTOCOL.md 10.11). */
function inviteLink(chat, extra) {
  const linkId = oc.newLinkId();
  const keys = oc.newChatKeyPair();
  const sig = oc.signLinkKey(desk.account.identity, linkId, oc.LINK_INVITER, keys.publicKey, null);
  const link = oc.b64encode(linkId);
  desk.invited.set(link, { keys, chat, ...extra });
  return { link, pub: oc.b64encode(keys.publicKey), sig: oc.b64encode(sig) };
}

/** The joiner answered: check its signature over both keys, then open the inviter's end. */
function linkJoined(frame) {
  const pending = desk.invited.get(frame.link);
  if (!pending) return null;
  desk.invited.delete(frame.link);
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
  const sig = oc.signLinkKey(desk.account.identity, linkId, oc.LINK_JOINER, keys.publicKey, inviterPub);
  const publicKey = Uint8Array.from(keys.publicKey);
  return { session: oc.ChatSession.forVolunteer(linkId, keys, inviterPub), publicKey, sig };
}

function linkMessage(frame) {
  const mine = desk.joined.get(frame.link);
  const chat = [...desk.chats.values()].find((c) => c.mentor?.link === frame.link);
  const session = mine?.session ?? chat?.mentor?.session;
  if (!session || alreadyOpened(session, frame.seq)) return;
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
    const target = desk.chats.get(mine.chat);
    if (target) {
      // Clinically important: shown as a note of its own, not as a faint system line.
      appendMessage(target.panel.querySelector(".messages"), "", content.text
        ? t("ws_handover_note_in", { name: mine.name, text: content.text })
        : t("ws_handover_no_note", { name: mine.name }), content.text ? "handover-note" : "note");
    }
    mine.session.wipe();
    desk.joined.delete(frame.link); // the note is the link's one message
  } else if (mine?.kind === "readalong" && content.kind === "text") {
    appendMessage(mine.panel.querySelector(".messages"), mine.name, content.text, "mine");
  }
}

// -- handover --------------------------------------------------------------------------------

function handOver(key) {
  const chat = desk.chats.get(key);
  const target = chat.panel.querySelector(".doel").value;
  if (!target || chat.ended) return;
  const noteText = chat.panel.querySelector(".notitie").value.trim().slice(0, MAX);
  const link = inviteLink(key, { kind: "handover", note: noteText });
  desk.channel.send({ t: "handover", chat: key, target, ...link });
  chat.handoverLink = link.link;
  chat.panel.querySelector(".overdragen button[type=submit]").disabled = true;  // one request at a time
  chat.panel.querySelector(".overdragen-stop").hidden = false;
}

function handoverOff(frame) {
  const chat = desk.chats.get(frame.chat);
  if (!chat) return;
  desk.invited.get(chat.handoverLink)?.keys.secretKey.fill(0);
  desk.invited.delete(chat.handoverLink);
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
  const chat = desk.chats.get(key);
  const mentor = Number(chat.panel.querySelector(".mentorkeuze").value);
  if (!mentor || chat.ended || chat.mentor) return;
  desk.channel.send({ t: "mentor-invite", chat: key, mentor, ...inviteLink(key, { kind: "mentor" }) });
  mentorButton(chat.panel);
}

function mentorLinked(frame) {
  const chat = desk.chats.get(frame.chat);
  let link;
  try {
    link = linkJoined(frame);
  } catch {
    desk.channel.send({ t: "mentor-end", link: frame.link });
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
  const chat = desk.chats.get(frame.chat);
  if (chat && (chat.mentor?.link === frame.link || desk.invited.has(frame.link))) {
    desk.invited.delete(frame.link);
    dropMentor(chat);
    mentorButton(chat.panel);
    note(frame.chat, t("ws_mentor_ended"));
  }
  const reading = desk.joined.get(frame.link);
  if (reading?.kind === "readalong") {
    reading.session.wipe();
    reading.watch?.wipe();
    desk.joined.delete(frame.link);
    appendMessage(reading.panel.querySelector(".messages"), "", t("ws_mentor_ended"), "note");
    reading.panel.querySelector(".tip").hidden = true;
    setTimeout(() => reading.panel.remove(), 8000);
  }
  el(`vraag-${frame.link}`)?.remove();
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
    desk.channel.send({ t: "mentor-decline", link: frame.link });
  });
  card.append(text, yes, no);
  el("uitnodigingen").append(card);
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
    csig = oc.signChatOffer(desk.account.identity, mchat, seeker, mine.publicKey);
    watch = oc.ChatSession.forVolunteer(mchat, mine, seeker);
  } catch {
    desk.channel.send({ t: "mentor-decline", link: frame.link });
    say(t("ws_broken"), { isError: true });
    return;
  }
  const name = String(frame.from).slice(0, 40);
  const panel = el("meelees-sjabloon").content.firstElementChild.cloneNode(true);
  desk.panels += 1;
  labelled(panel, [[".tip-label", ".tiptekst"]], `-${desk.panels}`);
  panel.querySelector(".kop").textContent = t("ws_readalong_heading", { name });
  panel.querySelector(".kop").id = `kop-${desk.panels}`;
  panel.setAttribute("aria-labelledby", `kop-${desk.panels}`);
  panel.querySelector(".tip-label").textContent = t("ws_readalong_hint_label", { name });
  panel.querySelector(".tip").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = panel.querySelector(".tiptekst");
    const text = field.value.trim();
    const reading = desk.joined.get(frame.link);
    if (!text || !reading || [...text].length > MAX) return;
    sealLink(frame.link, reading.session, encodeContent("hint", text));
    appendMessage(panel.querySelector(".messages"), t("chat_you"), text, "hint");
    field.value = "";
  });
  panel.querySelector(".stoppen").addEventListener("click",
    () => desk.channel.send({ t: "mentor-end", link: frame.link }));
  el("meelezen").append(panel);
  el("leeg").hidden = true;
  desk.joined.set(frame.link, { session: link.session, kind: "readalong", panel, name, watch });
  appendMessage(panel.querySelector(".messages"), "", t("ws_readalong_from_now"), "note");
  desk.channel.send({ t: "mentor-accept", link: frame.link, cpub: oc.b64encode(cpub), csig: oc.b64encode(csig),
    pub: oc.b64encode(link.publicKey), sig: oc.b64encode(link.sig) });
  panel.querySelector(".kop").focus();
}

function mentorCopy(frame) {
  const reading = desk.joined.get(frame.link);
  if (!reading?.watch || alreadyOpened(reading.watch, frame.seq)) return;
  let content;
  try {
    content = decodeContent(reading.watch.open(frame.seq, oc.b64decode(frame.ct)));
  } catch {
    desk.channel.send({ t: "mentor-end", link: frame.link });
    return;
  }
  if (content.kind === "text") appendMessage(reading.panel.querySelector(".messages"), t("ws_seeker"), content.text, "theirs");
}

function onFrame(frame) {
  switch (frame.t) {
    case "queue": renderQueue(frame); break;
    case "assigned": assigned(frame); break;
    case "msg": received(frame); break;
    case "resumed": resumed(frame); break;
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
    case "error": say(frame.message?.[LANG] ?? "", { isError: true }); break;
    default: break;
  }
}

export function startWorkspace(unlocked) {
  desk.account = unlocked;
  if (!desk.account.canChat) return;
  el("chatwerk").hidden = false;
  desk.channel = new Channel("/ws/volunteer", {
    graceMs: setting("grace_seconds") * 1000,
    onOpen: (reconnected) => {
      say("");
      // Tell the server which chats this page still holds keys for (none after a reload).
      const held = [...desk.chats.entries()].filter(([, c]) => !c.ended && c.session);
      if (reconnected) {
        // Nothing new may overtake what the server lost: each outbox waits for its chat's `resumed`.
        for (const [, c] of held) c.outbox.hold();
        clearTimeout(desk.resumeTimer);
        desk.resumeTimer = setTimeout(() => {
          for (const [, c] of held) if (!c.ended && !c.outbox.live) c.outbox.release(undefined);
        }, RESUME_FALLBACK_MS);
      }
      const chats = held.map(([key, c]) => ({ chat: key, received: c.session.received }));
      desk.channel.send({ t: "resume", chats });
      if (el("beschikbaar").checked) desk.channel.send({ t: "available", chat: true });
    },
    onFrame,
    onDown: () => say(t("ws_connection_lost")),
    onGiveUp: () => {
      for (const key of desk.chats.keys()) ended({ chat: key, reason: "timeout", wrapup: false });
      say(t("ws_connection_lost"), { isError: true });
    },
  });
  desk.channel.connect();
}

el("beschikbaar").addEventListener("change", (event) => {
  desk.channel?.send({ t: "available", chat: event.target.checked });
});
el("aannemen").addEventListener("click", () => {
  el("aannemen").disabled = true;
  desk.channel?.send({ t: "pickup" });
});

export function stopWorkspace() {
  desk.channel?.close();
  desk.channel = null;
  clearTimeout(desk.resumeTimer);
  for (const chat of desk.chats.values()) {
    chat.session?.wipe();
    chat.mentor?.session?.wipe();
  }
  for (const link of desk.joined.values()) {
    link.session?.wipe();
    link.watch?.wipe();
    link.panel?.remove();
  }
  for (const pending of desk.invited.values()) pending.keys.secretKey.fill(0);
  desk.joined.clear();
  desk.invited.clear();
  for (const key of [...desk.chats.keys()]) removePanel(key);
  el("uitnodigingen").replaceChildren();
  el("chatwerk").hidden = true;
  el("beschikbaar").checked = false;
  desk.account = null;
}
