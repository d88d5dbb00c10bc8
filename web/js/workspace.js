// The volunteer's chat workspace: availability and pause, the queue, up to N chat panels, and the two
// things staff do together: a mentor reading along, and handing a chat over to a partner
// (e.g. 113) or a colleague. Every key lives in this page's memory only; the server relays
// ciphertext. Staff links are specified in crypto/PROTOCOL.md 10.11.
//
// The desk (issue 15): a list pane (queue, my chats, read-alongs, mail threads), the one open conversation
// (a chat, a read-along or the mail thread), and per chat a tools pane (quick replies, a note kept in this
// page's memory only, handover, mentor). On a phone one pane at a time with a tab bar. Nothing here moves
// the focus away from a field the volunteer is typing in: what happens elsewhere is announced instead.
import * as oc from "./crypto.js";
import { TRUST } from "trust";
import { api, el, setting, statusLine, t, TEXTS } from "./ui.js";
import { alreadyOpened, appendMessage, Channel, decodeContent, encodeContent, Outbox, typingNotifier }
  from "./chatcore.js";
import { chatMessage, repaintAlerts, setChatUnread, setWaiting, startAlerts, stopAlerts } from "./alerts.js";
import { selfCheck } from "./keycheck.js";

const MAX = setting("max_chars");
/** After a reconnect the server answers `resume` with {t: "resumed", chat, acked} per chat it still holds. A node
 * from before issue 14 (possible in a rolling deploy) sends none: after this long each chat's outbox goes as it
 * would without `acked` (Outbox.release), rather than wait for good. */
const RESUME_FALLBACK_MS = 3000;
const say = statusLine("werkplek-status", "werkplek-fout");
/** The page's language now (the language switch changes it in place). */
const lang = () => (TEXTS.lang === "en" ? "en" : "nl");
const NOTE_MAX = 5000; // a chat's private note: characters (page memory only)

/** Everything the workspace holds between frames, in one place; startWorkspace fills it, stopWorkspace empties it. */
const desk = {
  account: null, // the unlocked account (its identity signs this page's chat and link keys)
  channel: null, // the websocket to /ws/volunteer
  panels: 0, // panels made so far: keeps their element ids unique
  chatNumbers: 0, // chats taken so far: "Gesprek N", a label that stays while the list changes
  open: null, // the open conversation: a chat's key, "link:<id>" for a read-along, "mail", or null
  lastQueue: null, // the last queue frame (to paint it again, e.g. in the other language)
  paused: false,
  since: 0, // when this shift began (the login), for "on duty 1:05"
  dutyTimer: null,
  quickReplies: [], // [{id, nl, en}] from GET /api/quick-replies: organisation text, not help-seeker data
  roster: { partners: [], colleagues: [] }, // handover targets and colleagues online, from the last queue frames
  resumeTimer: null, // RESUME_FALLBACK_MS after a reconnect
  /** chat id (b64) -> {session, outbox, panel, ended, from, mentor: {link, session, name} | null,
   *  n (its number), unread} */
  chats: new Map(),
  /** link id (b64) -> {keys, chat, kind: "mentor"|"handover", note} : links this page invited, not yet joined */
  invited: new Map(),
  /** link id (b64) -> {session, kind: "handover-in"|"readalong", chat?, panel?, name, watch?}: links this page joined */
  joined: new Map(),
  /** link id (b64) -> {panel, name, unread, ended}: the read-alongs in the list (an ended one for a few seconds) */
  readings: new Map(),
};

// -- the key (issue 17): its code, the log's status for it, and the self-check --------------------------

const KEY_RECHECK_MS = 15_000; // a log that could not be checked, or a key not logged yet (mail only), is looked at again
/** status: the server's word ({t: "keys"} frames; for a mail-only account the self-check's); check: the last
 *  self-check ({state, what}); running/again: one check at a time, another once it is done. */
const keys = { status: null, check: null, running: false, again: false, timer: null, generation: 0 };

function keyStatus() {
  if (keys.status) return keys.status;
  return keys.check?.state === "ok" ? "ready" : "pending";
}

function paintKeys() {
  const box = el("sleutel");
  const status = keyStatus();
  box.dataset.keys = status;
  const explain = { ready: "ws_keys_ready", revoked: "ws_keys_revoked", expired: "ws_keys_expired",
    "no-witness": "ws_keys_no_witness" }[status] ?? "ws_keys_pending";
  let text = t(explain);
  if (keys.check?.state === "unchecked") text = `${text} ${t("ws_keys_unchecked")}`;
  else if (keys.check?.state === "ok") text = `${text} ${t("ws_keys_checked")}`;
  setText(el("sleutel-uitleg"), text);
  const alarm = keys.check?.state === "alert" ? t("ws_keys_alert", { what: t(`ws_keys_alert_${keys.check.what}`) }) : "";
  setText(el("sleutel-alarm"), alarm);
  box.classList.toggle("alarm", Boolean(alarm));
  // The pick-up button says why it cannot be used while the key is not ready.
  if (status === "ready") el("aannemen").removeAttribute("aria-describedby");
  else el("aannemen").setAttribute("aria-describedby", "sleutel-uitleg");
  if (desk.lastQueue) renderQueue(desk.lastQueue);
}

async function checkKeys() {
  if (!desk.account) return;
  if (keys.running) {
    keys.again = true;
    return;
  }
  keys.running = true;
  const generation = keys.generation;
  clearTimeout(keys.timer);
  try {
    const { identity, accountId } = desk.account;
    const result = await selfCheck({ accountId, x25519Public: identity.x25519Public,
      ed25519Public: identity.ed25519Public, expectLogged: keys.status === "ready" });
    if (generation !== keys.generation) return; // logged out meanwhile
    keys.check = result;
    paintKeys();
    if (result.state === "unchecked" || (result.state === "absent" && !desk.channel)
        || (keys.status && keys.status !== "ready")) {
      keys.timer = setTimeout(checkKeys, KEY_RECHECK_MS);
    }
  } finally {
    keys.running = false;
    if (keys.again && generation === keys.generation) {
      keys.again = false;
      checkKeys();
    }
  }
}

function keysFrame(frame) {
  keys.status = String(frame.status);
  paintKeys();
  checkKeys();
}

function startKeys(account) {
  keys.status = null;
  keys.check = null;
  el("sleutel-code").textContent = oc.fingerprint(account.accountId, account.identity.x25519Public,
    account.identity.ed25519Public);
  el("sleutel").hidden = false;
  paintKeys();
  checkKeys();
}

function stopKeys() {
  keys.generation += 1;
  clearTimeout(keys.timer);
  keys.status = null;
  keys.check = null;
  keys.again = false;
  el("sleutel").hidden = true;
  el("sleutel-code").textContent = "";
  el("sleutel-alarm").textContent = "";
}

function minutes(seconds) {
  return Math.max(0, Math.floor(seconds / 60));
}

/** Set a text only when it changed: a live region would announce the same sentence again. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function renderQueue(frame) {
  desk.lastQueue = frame;
  el("beschikbaar").checked = frame.available;
  desk.paused = Boolean(frame.paused);
  el("pauze").checked = desk.paused;
  el("pauze-uitleg").hidden = !desk.paused;
  setText(el("wachtrij-samenvatting"), frame.waiting.length
    ? t("ws_queue_waiting", { n: frame.waiting.length }) : t("ws_queue_empty"));
  const longest = frame.waiting.length ? minutes(Math.max(...frame.waiting)) : null;
  setText(el("wachtrij-langst"), longest === null ? "" : t("ws_longest_wait", { minutes: longest < 1 ? "< 1" : longest }));
  const handovers = frame.handovers ?? [];
  setText(el("overdrachten"), handovers.length ? t("ws_handovers_waiting", { n: handovers.length }) : "");
  setText(el("capaciteit"), t("ws_capacity", { holding: frame.holding, capacity: frame.capacity }));
  const room = frame.holding < frame.capacity && !desk.paused && keyStatus() === "ready";
  el("aannemen").disabled = !(room && (handovers.length > 0 || (frame.available && frame.waiting.length > 0)));
  // The tab title counts what this volunteer could take now.
  setWaiting(room ? handovers.length + (frame.available ? frame.waiting.length : 0) : 0);
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
    ...desk.roster.partners.map((p) => new Option(p[lang()], p.target)),
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

function newPanel(key, n) {
  desk.panels += 1;
  const panel = el("gesprek-sjabloon").content.firstElementChild.cloneNode(true);
  const q = (cls) => panel.querySelector(cls);
  const suffix = `-${desk.panels}`;
  labelled(panel, [[".bericht-label", ".bericht"], [".onderwerp-label", ".onderwerp"],
    [".leeftijd-label", ".leeftijd"], [".doel-label", ".doel"], [".notitie-label", ".notitie"],
    [".mentor-label", ".mentorkeuze"], [".notities-label", ".notities-tekst"]], suffix);
  for (const radio of panel.querySelectorAll("input[type=radio]")) radio.name = `doorverbonden${suffix}`;
  const label = t("ws_chat_heading", { n });
  q(".kop").textContent = label;
  q(".kop").id = `kop${suffix}`;
  panel.id = `gesprek${suffix}`;
  panel.setAttribute("aria-labelledby", q(".kop").id);
  q(".log").setAttribute("aria-label", label);
  q(".tools-kop").id = `hulp${suffix}`;
  q(".tools-kop").textContent = t("ws_tools_title", { label });
  q(".tools").setAttribute("aria-labelledby", q(".tools-kop").id);
  q(".notities-tekst").maxLength = NOTE_MAX; // the note never leaves this page (no handler sends it)
  fillQuickReplies(panel);
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
  appendMessage(chat.panel.querySelector(".messages"), t("chat_you"), text, "mine", { time: new Date() });
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
  desk.chatNumbers += 1;
  const n = desk.chatNumbers;
  const panel = newPanel(frame.chat, n);
  desk.chats.set(frame.chat, { session, outbox: new Outbox(desk.channel), panel, ended: false,
    from: link?.name ?? null, mentor: null, n, unread: 0 });
  if (link) {
    const from = link.name; // the verified statement's name, not the frame's
    desk.joined.set(frame.handover.link, { session: link.session, kind: "handover-in", chat: frame.chat, name: from });
    panel.querySelector(".kop").textContent += ` — ${t("ws_handover_from", { name: from })}`;
    if (!frame.handover.history) note(frame.chat, t("ws_history_withheld"));
    desk.channel.send({ t: "accept-handover", chat: frame.chat, pub: oc.b64encode(publicKey), sig: oc.b64encode(sig),
      lpub: oc.b64encode(link.publicKey), lsig: oc.b64encode(link.sig) });
  } else {
    desk.channel.send({ t: "accept", chat: frame.chat, pub: oc.b64encode(publicKey), sig: oc.b64encode(sig) });
  }
  // The volunteer asked for it (the pick-up button): it opens, but a field being typed in keeps the focus.
  openConversation(frame.chat, { focus: !typing(), pane: "gesprek" });
  renderList();
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
    appendMessage(list, t("ws_history_item", { who }), content.text, "history", { time: new Date() });
    return;
  }
  appendMessage(list, t("ws_seeker"), content.text, "theirs", { time: new Date() });
  announce(t("ws_announce_message", { label: t("ws_chat_heading", { n: chat.n }),
    who: t("ws_seeker").toLocaleLowerCase(), text: content.text }));
  if (!inSight(frame.chat)) {
    chat.unread += 1;
    renderList();
  }
  chatMessage(chat.n); // a notification and a sound only while the tab is hidden, and only if chosen
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
  const hadFocus = chat.panel.querySelector(".schrijven").contains(document.activeElement);
  for (const form of [".schrijven", ".overdragen", ".mentor"]) chat.panel.querySelector(form).hidden = true;
  for (const tool of chat.panel.querySelectorAll(".tool.snel, .tool.doorverbinden, .tool.meelezen-vragen")) {
    tool.hidden = true;
  }
  chat.panel.querySelector(".typing").textContent = "";
  // Its wrap-up shows in its own panel and is announced; the focus stays where the volunteer is typing.
  announce(t("ws_announce_ended", { label: t("ws_chat_heading", { n: chat.n }), reason }));
  if (frame.wrapup) {
    chat.panel.querySelector(".afronding").hidden = false;
    if (frame.reason === "handed-over") chat.panel.querySelector(".doorverbonden-ja").checked = true;
    // Only if the focus was in this chat's own composer (now hidden) does it move to its wrap-up.
    if (hadFocus) chat.panel.querySelector(".onderwerp").focus();
  } else {
    setTimeout(() => removePanel(frame.chat), 8000);
  }
  renderList();
}

function removePanel(key) {
  const chat = desk.chats.get(key);
  if (!chat) return;
  const hadFocus = chat.panel.contains(document.activeElement);
  chat.panel.querySelector(".notities-tekst").value = ""; // the note goes with the chat
  chat.panel.remove();
  desk.chats.delete(key);
  if (desk.open === key) {
    desk.open = null;
    openConversation(nextOpen(), { focus: false });
  }
  if (hadFocus) el("werkplek-kop").focus(); // its wrap-up was sent from here: do not leave the focus nowhere
  renderList();
}

function note(key, text) {
  const chat = desk.chats.get(key);
  if (chat) appendMessage(chat.panel.querySelector(".messages"), "", text, "note", { time: new Date() });
}

function panelStatus(key, text) {
  const chat = desk.chats.get(key);
  if (chat) chat.panel.querySelector(".overdragen-status").textContent = text;
}

// -- staff links -----------------------------------------------------------------------------

// Who may be on the other end of a link (mirroring chat.js): whoever invites (asks a mentor, hands over), a
// mentor who joins a read-along, and whoever takes over a handover, by the kind of handover chosen here.
const INVITER_ROLES = ["volunteer", "mentor", "coordinator"];
const MENTOR_ROLES = ["mentor", "coordinator"];
const HANDOVER_ROLES = { partner: ["partner"], colleague: ["volunteer", "mentor"] };

/**
 * A colleague's identity key from the server, only with the key proof the public log gives for it
 * (PROTOCOL.md 10.11, 14.4): a frame-rewriting server or proxy cannot put in a key of its own. Throws
 * otherwise. The name shown is the statement's, not the frame's.
 */
function vouchedColleague(frame, roles) {
  const identity = oc.b64decode(frame.identity, 32);
  const statement = oc.verifyKeyProof(TRUST, frame.proof,
    { ed25519Public: identity, roles, now: Math.floor(Date.now() / 1000) });
  return { identity, name: String(statement.name).slice(0, 40) };
}

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
  try {
    // First the log's word for the joiner's identity key, then the link key signed with it.
    const roles = pending.kind === "mentor" ? MENTOR_ROLES : HANDOVER_ROLES[pending.to] ?? [];
    const { identity, name } = vouchedColleague(frame, roles);
    const pub = oc.b64decode(frame.pub, 32);
    oc.verifyLinkKey(identity, oc.b64decode(frame.link, oc.CHAT_ID_BYTES), oc.LINK_JOINER,
      pub, pending.keys.publicKey, oc.b64decode(frame.sig, oc.SIGNATURE_BYTES));
    return { ...pending, name,
      session: oc.ChatSession.forSeeker(oc.b64decode(frame.link, oc.CHAT_ID_BYTES), pending.keys, pub) };
  } catch (error) {
    pending.keys.secretKey.fill(0); // this end is never used: nothing is sealed to a key the log does not vouch for
    throw error;
  }
}

/** Join a link someone invited this page to: check the inviter's signed key, sign our own over both. */
function joinLink(link, inviter) {
  const linkId = oc.b64decode(link, oc.CHAT_ID_BYTES);
  const inviterPub = oc.b64decode(inviter.pub, 32);
  // First the log's word for the inviter's identity key, then the link key signed with it.
  const { identity, name } = vouchedColleague(inviter, INVITER_ROLES);
  oc.verifyLinkKey(identity, linkId, oc.LINK_INVITER, inviterPub, null,
    oc.b64decode(inviter.sig, oc.SIGNATURE_BYTES));
  const keys = oc.newChatKeyPair();
  const sig = oc.signLinkKey(desk.account.identity, linkId, oc.LINK_JOINER, keys.publicKey, inviterPub);
  const publicKey = Uint8Array.from(keys.publicKey);
  return { session: oc.ChatSession.forVolunteer(linkId, keys, inviterPub), publicKey, sig, name };
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
      content.text, "hint", { time: new Date() });
    announce(t("ws_announce_message", { label: t("ws_chat_heading", { n: chat.n }),
      who: t("ws_mentor_hint", { name: chat.mentor.name }).toLocaleLowerCase(), text: content.text }));
  } else if (mine?.kind === "handover-in" && content.kind === "note") {
    const target = desk.chats.get(mine.chat);
    if (target) {
      // Clinically important: shown as a note of its own, not as a faint system line.
      appendMessage(target.panel.querySelector(".messages"), "", content.text
        ? t("ws_handover_note_in", { name: mine.name, text: content.text })
        : t("ws_handover_no_note", { name: mine.name }), content.text ? "handover-note" : "note", { time: new Date() });
    }
    mine.session.wipe();
    desk.joined.delete(frame.link); // the note is the link's one message
  } else if (mine?.kind === "readalong" && content.kind === "text") {
    appendMessage(mine.panel.querySelector(".messages"), mine.name, content.text, "mine", { time: new Date() });
    announce(t("ws_announce_message", { label: t("ws_readalong_heading", { name: mine.name }), who: mine.name,
      text: content.text }));
  }
}

// -- handover --------------------------------------------------------------------------------

function handOver(key) {
  const chat = desk.chats.get(key);
  const target = chat.panel.querySelector(".doel").value;
  if (!target || chat.ended) return;
  const noteText = chat.panel.querySelector(".notitie").value.trim().slice(0, MAX);
  // The kind chosen here (not the server's word) says whose key may take it over.
  const to = target.startsWith("p:") ? "partner" : "colleague";
  const link = inviteLink(key, { kind: "handover", note: noteText, to });
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
    panelStatus(frame.chat, "");
    note(frame.chat, t("ws_handover_unverified"));
    return; // a receiver key the log does not vouch for, or that does not verify, gets no note
  }
  if (!link) return;
  // The note goes only to whoever took over, sealed on the link; then this end is wiped.
  sealLink(frame.link, link.session, encodeContent("note", link.note));
  link.session.wipe();
  panelStatus(frame.chat, "");
  note(frame.chat, t("ws_handover_done", { name: link.name }));
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
    // A mentor key the log does not vouch for (or a bad signature): no copy is sealed, the chat goes on.
    desk.channel.send({ t: "mentor-end", link: frame.link });
    note(frame.chat, t("ws_mentor_unverified"));
    return;
  }
  if (!chat || !link) return;
  chat.mentor = { link: frame.link, session: link.session, name: link.name };
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
    appendMessage(reading.panel.querySelector(".messages"), "", t("ws_mentor_ended"), "note", { time: new Date() });
    reading.panel.querySelector(".tip").hidden = true;
    const shown = desk.readings.get(frame.link);
    if (shown) shown.ended = true;
    renderList();
    setTimeout(() => removeReading(frame.link), 8000);
  }
  el(`vraag-${frame.link}`)?.remove();
}

// -- read-along: the mentor's side ---------------------------------------------------------------

function mentorAsked(frame) {
  let inviter;
  try {
    inviter = vouchedColleague(frame, INVITER_ROLES); // the name on the card is the log's, not the server's
  } catch {
    desk.channel.send({ t: "mentor-decline", link: frame.link });
    say(t("ws_broken"), { isError: true });
    return;
  }
  const card = document.createElement("div");
  card.className = "card invitation";
  card.id = `vraag-${frame.link}`;
  const text = document.createElement("p");
  text.textContent = t("ws_readalong_ask", { name: inviter.name });
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
  announce(text.textContent);
  if (!typing()) yes.focus();
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
  const { name } = link; // the verified statement's name, not the frame's
  const panel = el("meelees-sjabloon").content.firstElementChild.cloneNode(true);
  desk.panels += 1;
  panel.id = `meelezen-${desk.panels}`;
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
    appendMessage(panel.querySelector(".messages"), t("chat_you"), text, "hint", { time: new Date() });
    field.value = "";
  });
  panel.querySelector(".stoppen").addEventListener("click",
    () => desk.channel.send({ t: "mentor-end", link: frame.link }));
  el("meelezen").append(panel);
  desk.joined.set(frame.link, { session: link.session, kind: "readalong", panel, name, watch });
  desk.readings.set(frame.link, { panel, name, unread: 0, ended: false });
  appendMessage(panel.querySelector(".messages"), "", t("ws_readalong_from_now"), "note", { time: new Date() });
  desk.channel.send({ t: "mentor-accept", link: frame.link, cpub: oc.b64encode(cpub), csig: oc.b64encode(csig),
    pub: oc.b64encode(link.publicKey), sig: oc.b64encode(link.sig) });
  openConversation(`link:${frame.link}`, { focus: !typing(), pane: "gesprek" });
  renderList();
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
  if (content.kind !== "text") return;
  appendMessage(reading.panel.querySelector(".messages"), t("ws_seeker"), content.text, "theirs", { time: new Date() });
  announce(t("ws_announce_message", { label: t("ws_readalong_heading", { name: reading.name }),
    who: t("ws_seeker").toLocaleLowerCase(), text: content.text }));
  const shown = desk.readings.get(frame.link);
  if (shown && !inSight(`link:${frame.link}`)) {
    shown.unread += 1;
    renderList();
  }
}

function onFrame(frame) {
  switch (frame.t) {
    case "queue": renderQueue(frame); break;
    case "keys": keysFrame(frame); break;
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
    case "debrief-sent": say(t("ws_debrief_sent", { n: frame.mentors })); break;
    case "debrief-ask": debriefAsked(frame); break;
    case "error": say(frame.message?.[lang()] ?? "", { isError: true }); break;
    // Frames for other parts of the page (the live mail inbox: mailwork.js) go on as an event.
    default: document.dispatchEvent(new CustomEvent("oor:frame", { detail: frame })); break;
  }
}

// -- the desk: list, open conversation, tools ----------------------------------------------------------

/** True while the volunteer is typing somewhere (a field has the focus): nothing may take it away. */
function typing() {
  const active = document.activeElement;
  return Boolean(active && (active.matches("textarea, input, select") || active.isContentEditable));
}

/** Tell a screen reader what happened, wherever on the desk ("Gesprek 2, hulpvrager: ..."). */
function announce(text) {
  const region = el("aankondiging");
  const line = document.createElement("p");
  line.textContent = text;
  region.append(line); // an addition is announced even when the same words come twice
  while (region.childElementCount > 5) region.firstElementChild.remove();
}

/** The element of a conversation: a chat's panel, a read-along's panel, or the mail thread. */
function conversationNode(key) {
  if (key === "mail") return el("maildraad");
  if (typeof key === "string" && key.startsWith("link:")) return desk.readings.get(key.slice(5))?.panel ?? null;
  return desk.chats.get(key)?.panel ?? null;
}

/** What to open when the open conversation goes away: the first chat still there, else the first read-along. */
function nextOpen() {
  const [first] = desk.chats.keys();
  if (first !== undefined) return first;
  const [link] = desk.readings.keys();
  if (link !== undefined) return `link:${link}`;
  return el("maildraad").hidden ? null : "mail";
}

/** Show one conversation in the middle pane (the others stay, hidden, with everything they hold). */
function openConversation(key, { focus = false, pane = null } = {}) {
  const node = key === null ? null : conversationNode(key);
  desk.open = node ? key : null;
  for (const item of el("gesprek").querySelectorAll(".convo")) item.classList.toggle("is-open", item === node);
  el("leeg").hidden = node !== null;
  const chat = desk.chats.get(desk.open);
  el("tab-hulp").hidden = !chat; // tools belong to a chat
  if (pane) showPane(pane);
  else if (el("werkplek").dataset.pane === "hulp" && !chat) showPane("gesprek");
  markRead();
  if (focus && node) {
    const field = node.querySelector("textarea:not([hidden])");
    const composer = field?.closest("form");
    (field && composer && !composer.hidden ? field : node.querySelector("h3"))?.focus();
  }
}

/** My chats and read-alongs, each with its stable label and unread count; the open one is marked. */
function renderList() {
  const list = el("mijn-gesprekken");
  const items = [];
  let unread = 0;
  const entry = (key, label, count, ended) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary convo-link";
    button.dataset.key = key;
    if (desk.open === key) button.setAttribute("aria-current", "true");
    const name = document.createElement("span");
    name.textContent = label;
    button.append(name);
    if (ended) {
      const state = document.createElement("span");
      state.className = "hint";
      state.textContent = t("ws_wrapup_title");
      button.append(state);
    }
    if (count > 0) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = t("ws_unread", { n: count });
      button.append(badge);
    }
    button.addEventListener("click", () => openConversation(key, { focus: true, pane: "gesprek" }));
    item.append(button);
    items.push(item);
  };
  for (const [key, chat] of desk.chats) {
    unread += chat.unread;
    const label = t("ws_chat_heading", { n: chat.n }) + (chat.from ? ` — ${t("ws_handover_from", { name: chat.from })}` : "");
    entry(key, label, chat.unread, chat.ended);
  }
  for (const [link, reading] of desk.readings) {
    unread += reading.unread;
    entry(`link:${link}`, t("ws_readalong_heading", { name: reading.name }), reading.unread, reading.ended);
  }
  list.replaceChildren(...items);
  el("geen-gesprekken").hidden = items.length > 0;
  // On a phone the list is behind its tab: the tab shows what is unread there.
  const counter = el("tab-lijst-teller");
  counter.hidden = unread === 0;
  const digits = document.createElement("span");
  digits.setAttribute("aria-hidden", "true");
  digits.textContent = String(unread);
  const words = document.createElement("span");
  words.className = "visually-hidden";
  words.textContent = t("ws_unread", { n: unread });
  counter.replaceChildren(...(unread ? [digits, words] : []));
  // Mail threads are listed by mailwork.js in #postvak; the open one is marked here.
  const thread = el("maildraad-kop").textContent.trim();
  for (const button of el("postvak").querySelectorAll("button")) {
    const current = desk.open === "mail" && thread !== "" && button.textContent.trim().startsWith(thread);
    if (current) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  setChatUnread(unread);
}

function removeReading(link) {
  const reading = desk.readings.get(link);
  if (!reading) return;
  const hadFocus = reading.panel.contains(document.activeElement);
  reading.panel.remove();
  desk.readings.delete(link);
  if (desk.open === `link:${link}`) openConversation(nextOpen());
  if (hadFocus) el("werkplek-kop").focus();
  renderList();
}

/** On a phone (and a narrow window) one pane at a time: the list, the conversation, or its tools. */
function showPane(pane) {
  el("werkplek").dataset.pane = pane;
  for (const button of el("werkplek").querySelectorAll(".desk-tabs button")) {
    button.setAttribute("aria-pressed", String(button.dataset.pane === pane));
  }
  markRead();
}

const NARROW = window.matchMedia("(max-width: 999.98px)"); // the tab bar's layout (web/css/site.css)

/** True if the volunteer can see this conversation now: it is open, the tab is in front, and on a narrow
 * screen its pane is the one shown. */
function inSight(key) {
  return desk.open === key && !document.hidden && (!NARROW.matches || el("werkplek").dataset.pane === "gesprek");
}

/** What the volunteer can see now is read; the list (and the title) count the rest. */
function markRead() {
  const chat = desk.chats.get(desk.open);
  if (chat && inSight(desk.open)) chat.unread = 0;
  const reading = desk.open?.startsWith?.("link:") ? desk.readings.get(desk.open.slice(5)) : null;
  if (reading && inSight(desk.open)) reading.unread = 0;
  renderList();
}

// -- quick replies (organisation text the coordinators keep; never sent by themselves) ------------------

async function loadQuickReplies() {
  try {
    const data = await api("/api/quick-replies");
    desk.quickReplies = Array.isArray(data?.replies) ? data.replies.slice(0, 50) : [];
  } catch {
    desk.quickReplies = []; // none to offer: the list says so
  }
  for (const chat of desk.chats.values()) fillQuickReplies(chat.panel);
}

function fillQuickReplies(panel) {
  const list = panel.querySelector(".quick-list");
  if (!desk.quickReplies.length) {
    const none = document.createElement("li");
    none.className = "hint";
    none.textContent = t("ws_quick_none");
    list.replaceChildren(none);
    return;
  }
  list.replaceChildren(...desk.quickReplies.map((reply) => {
    const text = String(reply[lang()] || reply.nl || reply.en || "").slice(0, 1000);
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary quick-reply-insert";
    button.textContent = text;
    button.addEventListener("click", () => insertReply(panel, text));
    item.append(button);
    return item;
  }));
}

/** Put a quick reply into this chat's message at the cursor, to be edited and sent by the volunteer. */
function insertReply(panel, text) {
  const field = panel.querySelector(".bericht");
  if (panel.querySelector(".schrijven").hidden) return;
  const start = field.selectionStart ?? field.value.length;
  const end = field.selectionEnd ?? start;
  field.setRangeText(text, start, end, "end");
  if (el("werkplek").dataset.pane === "hulp") showPane("gesprek");
  field.focus();
}

/** Alt+Q: the open chat's quick replies, opened, with the focus on the first. */
function openQuickReplies() {
  const chat = desk.chats.get(desk.open);
  if (!chat || chat.ended) return;
  const tool = chat.panel.querySelector(".tool.snel");
  tool.open = true;
  showPane("hulp");
  (tool.querySelector("button") ?? tool.querySelector("summary")).focus();
}

// -- pause, on-duty time, debrief ------------------------------------------------------------------------

function paintDuty() {
  const minutesOn = Math.floor((Date.now() - desk.since) / 60000);
  const time = `${Math.floor(minutesOn / 60)}:${String(minutesOn % 60).padStart(2, "0")}`;
  el("dienst-tijd").textContent = t("ws_on_duty", { time });
}

function debriefAsked(frame) {
  const name = String(frame.from).slice(0, 40);
  const card = document.createElement("div");
  card.className = "card invitation";
  const text = document.createElement("p");
  text.textContent = t("ws_debrief_ask", { name });
  const seen = document.createElement("button");
  seen.type = "button";
  seen.className = "secondary";
  seen.textContent = t("ws_debrief_seen");
  seen.addEventListener("click", () => card.remove());
  card.append(text, seen);
  el("uitnodigingen").append(card);
  announce(text.textContent);
}

// -- keyboard, leaving, language -------------------------------------------------------------------------

function onKey(event) {
  if (event.key === "Escape" && desk.account) {
    // Escape in a chat's tools goes back to its message (on a staff page Escape is no quick exit).
    const panel = event.target.closest?.(".tools")?.closest(".panel.chat");
    const field = panel?.querySelector(".bericht");
    if (field && !panel.querySelector(".schrijven").hidden) {
      showPane("gesprek");
      field.focus();
    }
    return;
  }
  if (!desk.channel || !event.altKey || event.ctrlKey || event.metaKey) return;
  // By key position (event.code), so that every keyboard layout has them; Alt+digit types nothing in a field.
  const digit = /^Digit([1-9])$/.exec(event.code);
  if (digit) {
    const target = el("mijn-gesprekken").querySelectorAll("button.convo-link")[Number(digit[1]) - 1];
    if (!target) return;
    event.preventDefault();
    openConversation(target.dataset.key, { focus: true, pane: "gesprek" });
  } else if (event.code === "KeyQ") {
    event.preventDefault();
    openQuickReplies();
  }
}

/** True while leaving would end something: an open chat, a read-along, a mail reply not sent. */
function holding() {
  return [...desk.chats.values()].some((c) => !c.ended) || desk.readings.size > 0
    || el("mailtekst").value.trim() !== "";
}

function beforeUnload(event) {
  if (!desk.account || !holding()) return;
  event.preventDefault();
  event.returnValue = t("ws_leave_warning"); // browsers show their own words; this asks them to ask
}

/**
 * The language switch on the workspace: the page's texts change in place, so that nothing is unloaded (the
 * keys and the chats live in this page). The other language's page is fetched once; its catalogue replaces
 * the texts the script uses, and every element marked `data-t` takes the other page's words. What was
 * already written in a conversation stays as it was.
 */
async function switchLanguage(event) {
  if (!desk.account) return; // on the login form the ordinary link is fine
  event.preventDefault();
  const link = event.currentTarget;
  let fresh;
  try {
    const response = await fetch(link.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error(String(response.status));
    fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  } catch {
    say(t("network_error"), { isError: true });
    return;
  }
  const texts = JSON.parse(fresh.getElementById("teksten")?.textContent ?? "{}");
  if (texts.lang !== "nl" && texts.lang !== "en") return;
  Object.assign(TEXTS, texts);
  const words = new Map();
  const collect = (root) => {
    for (const node of root.querySelectorAll("[data-t]")) words.set(node.dataset.t, node.textContent);
  };
  collect(fresh);
  for (const template of fresh.querySelectorAll("template")) collect(template.content);
  const apply = (root) => {
    for (const node of root.querySelectorAll("[data-t]")) {
      if (words.has(node.dataset.t)) node.textContent = words.get(node.dataset.t);
    }
  };
  apply(document);
  for (const template of document.querySelectorAll("template")) apply(template.content);
  // The mail part (mailwork.js) has its static words under ids and labels.
  for (const node of fresh.querySelectorAll("#mailwerk [id], #maildraad [id], #maildraad label[for]")) {
    const here = node.id ? document.getElementById(node.id) : document.querySelector(`label[for="${node.htmlFor}"]`);
    if (here && node.childElementCount === 0 && here.childElementCount === 0 && node.textContent.trim()) {
      here.textContent = node.textContent;
    }
  }
  for (const node of fresh.querySelectorAll("[aria-label][id], nav[aria-label]")) {
    const here = node.id ? document.getElementById(node.id) : document.querySelector(`nav.${node.className}`);
    here?.setAttribute("aria-label", node.getAttribute("aria-label"));
  }
  const other = fresh.getElementById("taal");
  if (other) {
    link.href = other.getAttribute("href");
    link.hreflang = other.hreflang;
    link.lang = other.lang;
    link.textContent = other.textContent;
  }
  document.documentElement.lang = texts.lang;
  window.history.replaceState(null, "", window.location.pathname + (texts.lang === "en" ? "?lang=en" : ""));
  // Paint again what the script wrote.
  if (desk.lastQueue) renderQueue(desk.lastQueue);
  for (const [, chat] of desk.chats) {
    const label = t("ws_chat_heading", { n: chat.n });
    chat.panel.querySelector(".tools-kop").textContent = t("ws_tools_title", { label });
    fillQuickReplies(chat.panel);
  }
  el("wie").textContent = t("ws_logged_in", { name: desk.account.name, role: t(`role_${desk.account.role}`) });
  paintDuty();
  renderList();
  repaintAlerts();
}

/** Every other link on the workspace opens in a new tab: leaving this page would end its chats. */
function linksInNewTabs() {
  for (const link of document.querySelectorAll("a[href]")) {
    if (link.id === "taal" || link.getAttribute("href").startsWith("#")) continue;
    link.target = "_blank";
    link.rel = "noopener";
  }
}

/** mailwork.js shows and hides the mail thread; here it becomes (or stops being) the open conversation. */
function watchMail() {
  const thread = el("maildraad");
  const log = thread.querySelector('[role="log"]');
  if (log) log.tabIndex = 0; // it scrolls on its own: reachable by keyboard
  new MutationObserver(() => {
    if (!thread.hidden && desk.open !== "mail") openConversation("mail", { pane: "gesprek" });
    else if (thread.hidden && desk.open === "mail") openConversation(nextOpen());
  }).observe(thread, { attributes: true, attributeFilter: ["hidden"] });
  document.addEventListener("oor:mail-open", () => openConversation("mail", { pane: "gesprek" }));
  document.addEventListener("oor:mail-close", () => {
    if (desk.open === "mail") openConversation(nextOpen());
  });
  // A click on a thread in the list that is open already (hidden behind a chat) shows it again.
  el("postvak").addEventListener("click", (event) => {
    if (event.target.closest("button") && !thread.hidden) openConversation("mail", { pane: "gesprek" });
  });
}

export function startWorkspace(unlocked) {
  desk.account = unlocked;
  desk.since = Date.now();
  el("dienst").hidden = false;
  el("wie").textContent = t("ws_logged_in", { name: unlocked.name, role: t(`role_${unlocked.role}`) });
  paintDuty();
  desk.dutyTimer = setInterval(paintDuty, 30_000);
  linksInNewTabs();
  startAlerts();
  openConversation(null);
  startKeys(unlocked);
  if (!desk.account.canChat) return;
  el("chatwerk").hidden = false;
  el("beschikbaar-schakelaar").hidden = false;
  el("pauze-schakelaar").hidden = false;
  loadQuickReplies();
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
      if (el("pauze").checked) desk.channel.send({ t: "pause", on: true });
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
el("pauze").addEventListener("change", (event) => {
  desk.channel?.send({ t: "pause", on: event.target.checked });
});
el("aannemen").addEventListener("click", () => {
  el("aannemen").disabled = true;
  desk.channel?.send({ t: "pickup" });
});
el("nabespreken-vragen").addEventListener("click", () => {
  say("");
  desk.channel?.send({ t: "debrief" });
});
for (const button of el("werkplek").querySelectorAll(".desk-tabs button")) {
  button.addEventListener("click", () => showPane(button.dataset.pane));
}
document.addEventListener("keydown", onKey);
// A link added later (by another part of the page) opens in a new tab as well.
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href]");
  if (!desk.account || !link || link.id === "taal" || link.getAttribute("href").startsWith("#")) return;
  link.target = "_blank";
  link.rel = "noopener";
}, true);
window.addEventListener("beforeunload", beforeUnload);
el("taal")?.addEventListener("click", switchLanguage);
document.addEventListener("visibilitychange", () => {
  // Back at the tab: what the open conversation got while it was hidden is read now.
  if (!document.hidden && desk.open) openConversation(desk.open);
});
watchMail();

export function stopWorkspace() {
  desk.channel?.close();
  desk.channel = null;
  clearTimeout(desk.resumeTimer);
  clearInterval(desk.dutyTimer);
  for (const chat of desk.chats.values()) {
    chat.session?.wipe();
    chat.mentor?.session?.wipe();
  }
  for (const link of desk.joined.values()) {
    link.session?.wipe();
    link.watch?.wipe();
  }
  for (const pending of desk.invited.values()) pending.keys.secretKey.fill(0);
  desk.joined.clear();
  desk.invited.clear();
  for (const link of [...desk.readings.keys()]) removeReading(link);
  for (const key of [...desk.chats.keys()]) removePanel(key);
  el("uitnodigingen").replaceChildren();
  el("chatwerk").hidden = true;
  el("dienst").hidden = true;
  el("beschikbaar-schakelaar").hidden = true;
  el("pauze-schakelaar").hidden = true;
  el("beschikbaar").checked = false;
  el("pauze").checked = false;
  desk.lastQueue = null;
  desk.account = null;
  stopKeys();
  stopAlerts();
}
