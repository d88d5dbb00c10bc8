// The help-seeker's chat. No account, no cookie, nothing in browser storage: the keys,
// the resume secret and the conversation live in this page's memory only.
import * as oc from "./crypto.js";
import { TRUST } from "trust";
import { api, charCounter, el, error, explain, LANG, setting, status, t } from "./ui.js";
import { solveShowingProgress } from "./powprogress.js";
import { alreadyOpened, appendMessage, Channel, decodeContent, downloadTranscript, encodeContent, Outbox,
  typingNotifier } from "./chatcore.js";

const MAX = setting("max_chars");
const log = el("berichten");
const composer = el("schrijven");
const field = el("bericht");
const counter = charCounter(field, MAX);
/** How long, after a resume during a handover this page agreed to, it waits for `handed-over` before it sends
 * its outbox again (see resumed()): the server sends that frame right behind `resumed`, if at all. */
const HANDOVER_CHECK_MS = 500;
/** How long, after a resume into a chat that was answered while this page was away, it waits for `connected`
 * (the server sends it right behind `resumed`) before it says that the chat cannot go on. */
const CONNECTED_CHECK_MS = 3000;
/** Hidden for longer than this, the page's socket may be dead without knowing it (a phone's network sleeps
 * in a pocket, and the server's heartbeat ends a socket that does not answer within about 30 s): when the
 * page is visible again it resumes on a new one at once (chatcore.js Channel.refresh). */
const HIDDEN_CHECK_MS = 15000;

/** Who may be given this page's chat, by the role the root key signed for them (crypto/PROTOCOL.md 14): a new chat
 * goes to any account that answers chats (a partner takes handed-over chats only), a read-along to a mentor, a
 * handover to the partner queue's professionals or to a colleague. */
const ANSWER_ROLES = ["volunteer", "mentor", "coordinator"];
const MENTOR_ROLES = ["mentor", "coordinator"];
const HANDOVER_ROLES = { partner: ["partner"], colleague: ["volunteer", "mentor"] };

/**
 * The identity key a frame gives this page, vouched for by the frame's key proof: the helpline's root key signed a
 * statement for exactly this key and one of `roles`, in a log checkpoint signed by the log key and cosigned by
 * enough witnesses, not revoked (oc.verifyKeyProof against the trust configuration this page was served with).
 * Throws a CryptoError otherwise, and the caller treats the frame as tampered: nothing is sealed to that key and
 * nothing of it is shown. Returns the key and the first name the root key signed (shown instead of the frame's).
 */
function vouchedIdentity(frame, roles) {
  const identity = oc.b64decode(frame.identity, 32);
  const statement = oc.verifyKeyProof(TRUST, frame.proof,
    { ed25519Public: identity, roles, now: Math.floor(Date.now() / 1000) });
  return { identity, name: String(statement.name).slice(0, 40) };
}

/** Everything this conversation holds, in one place; wipe() and end() empty it. */
const chat = {
  phase: "idle", // idle | pow | waiting | active | ended
  keys: null,
  id: null,
  resume: null,
  session: null,
  outbox: null, // the sealed `msg` frames the server may not have yet (chatcore.js Outbox)
  held: null, // {acked, timer} while the outbox waits to learn whether a handover happened meanwhile
  unanswered: null, // the timer while a resume into an answered chat waits for `connected`
  down: false, // the person was told the connection is gone
  name: "",
  pending: [],
  transcript: [],
  channel: null,
  typingTimer: null,
  history: [], // the earlier conversation as {w, b}, passed on at a handover only if the help-seeker agrees
  mentor: null, // {keys, session, outbox, name} while a mentor reads along (the notice is shown exactly then)
  handover: null, // {to, keys, history} while a handover is asked or under way
};

function show(phase) {
  chat.phase = phase;
  el("begin").hidden = phase !== "idle";
  el("wachten").hidden = phase !== "waiting";
  // Ended, a conversation that took place stays on screen to be read (not written in) until the person leaves
  // the page (or uses quick exit); one that never started (left while waiting) has nothing to read.
  const readable = phase === "ended" && chat.name !== "";
  el("gesprek").hidden = !(phase === "waiting" || phase === "active" || readable);
  composer.hidden = !(phase === "waiting" || phase === "active");
  field.disabled = phase === "ended";
  el("openhouden").hidden = !(phase === "waiting" || phase === "active");
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
    nonce = await solveShowingProgress(challenge);
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
      } else if (chat.id === null) {
        // Dropped between `open` and `queued` (a node going away at that moment): nothing to resume.
        backToStart(t("chat_connect_refused"));
      } else {
        // Nothing new may overtake what the server lost: the outboxes wait for `resumed` (this one's: a hold
        // from an earlier resume is void, that server's `acked` is out of date).
        if (chat.held) clearTimeout(chat.held.timer);
        chat.held = null;
        chat.outbox?.hold();
        chat.mentor?.outbox?.hold();
        chat.channel.send({ t: "resume", chat: oc.b64encode(chat.id), resume: chat.resume,
          received: chat.session ? chat.session.received : 0 });
      }
    },
    onFrame,
    onDown: () => {
      chat.down = true;
      status(t("chat_reconnecting"), { busy: true });
    },
    // Never queued: the server refused the connection (too busy) or it did not come up. Back to the start.
    // A refused upgrade (too many connections: 429/503) looks like any failed connection to a page,
    // which cannot read its status; so the words say both, with the crisis line.
    onGiveUp: () => (chat.phase === "pow" ? backToStart(t("chat_connect_refused")) : finish("timeout")),
  });
  chat.channel.connect();
}

function onFrame(frame) {
  if (chat.held && frame.t !== "handed-over") releaseHeld(); // no handover happened meanwhile
  switch (frame.t) {
    case "queued":
      chat.id = oc.b64decode(frame.chat, oc.CHAT_ID_BYTES);
      chat.resume = frame.resume;
      status("");
      show("waiting");
      el("gesprek-kop").textContent = t("chat_waiting_title");
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
      resumed(frame);
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
    case "mentor-request":
      mentorRequested();
      break;
    case "mentor-joined":
      mentorJoined(frame);
      break;
    case "mentor-ended":
      mentorEnded(true);
      break;
    case "handover-ask":
      handoverAsked(frame);
      break;
    case "handover-waiting":
      if (chat.handover) status(t("chat_handover_waiting", { to: chat.handover.to, volunteer: chat.name }), { busy: true });
      break;
    case "handover-off":
      handoverOff(frame.reason);
      break;
    case "handed-over":
      handedOver(frame);
      break;
    case "error":
      refused(frame);
      break;
    default:
      break;
  }
}

// -- a mentor reading along (crypto/PROTOCOL.md 10.11) -----------------------------------------

function mentorRequested() {
  mentorEnded(false);
  chat.mentor = { keys: oc.newChatKeyPair(), session: null, name: "" };
  chat.channel.send({ t: "mentor-key", pub: oc.b64encode(chat.mentor.keys.publicKey) });
}

function mentorJoined(frame) {
  if (!chat.mentor || chat.mentor.session) return;
  let name;
  try {
    const mchat = oc.b64decode(frame.chat, oc.CHAT_ID_BYTES);
    const pub = oc.b64decode(frame.pub, 32);
    const vouched = vouchedIdentity(frame, MENTOR_ROLES);
    name = vouched.name;
    oc.verifyChatOffer(vouched.identity, mchat, chat.mentor.keys.publicKey, pub,
      oc.b64decode(frame.sig, oc.SIGNATURE_BYTES));
    chat.mentor.session = oc.ChatSession.forSeeker(mchat, chat.mentor.keys, pub);
    chat.mentor.outbox = new Outbox(chat.channel);
  } catch {
    mentorEnded(false); // a key without a proof, or an offer that does not verify: nobody reads along
    return;
  }
  chat.mentor.name = name;
  // This page seals for the mentor exactly while this notice is on screen.
  // Shown before its text is set, so that screen readers announce the status; and said in the log too.
  const notice = el("meelezen");
  notice.hidden = false;
  notice.textContent = t("chat_mentor_notice", { name: chat.mentor.name, volunteer: chat.name });
  appendMessage(log, "", t("chat_mentor_joined", { name: chat.mentor.name }), "note");
}

function mentorEnded(say) {
  const had = chat.mentor?.session;
  chat.mentor?.session?.wipe();
  chat.mentor?.keys.secretKey.fill(0);
  chat.mentor = null;
  el("meelezen").hidden = true;
  el("meelezen").textContent = "";
  if (say && had) appendMessage(log, "", t("chat_mentor_ended"), "note");
}

// -- a handover to a partner or a colleague ------------------------------------------------------

function handoverAsked(frame) {
  const to = String(frame.to?.[LANG] ?? "").slice(0, 60);
  chat.handover = { to, kind: frame.kind, keys: null, history: false };
  const key = frame.kind === "partner" ? "chat_handover_partner" : "chat_handover_colleague";
  el("doorverbinden-tekst").textContent = t(key, { volunteer: chat.name, to });
  el("doorverbinden-geschiedenis-tekst").textContent = t("chat_handover_history", { to });
  el("doorverbinden-geschiedenis").checked = false;
  el("doorverbinden-nee").textContent = t("chat_handover_no", { volunteer: chat.name });
  el("doorverbinden").hidden = false;
  // The question must be seen whole, also on a phone where it opens below the conversation.
  el("doorverbinden-kop").focus({ preventScroll: true });
  el("doorverbinden").scrollIntoView({ block: "start" });
}

function answerHandover(accept) {
  if (!chat.handover || chat.handover.keys) return;
  el("doorverbinden").hidden = true;
  if (!accept) {
    chat.channel.send({ t: "handover-decline" });
    chat.handover = null;
    field.focus();
    return;
  }
  chat.handover.keys = oc.newChatKeyPair();
  chat.handover.history = el("doorverbinden-geschiedenis").checked;
  chat.channel.send({ t: "handover-accept", pub: oc.b64encode(chat.handover.keys.publicKey),
    history: chat.handover.history });
  status(t("chat_handover_waiting", { to: chat.handover.to, volunteer: chat.name }), { busy: true });
  field.focus();
}

function handoverOff(reason) {
  el("doorverbinden").hidden = true;
  chat.handover?.keys?.secretKey.fill(0);
  chat.handover = null;
  status("");
  const key = { declined: "chat_handover_declined", expired: "chat_handover_expired" }[reason] ?? "chat_handover_cancelled";
  appendMessage(log, "", t(key, { name: chat.name }), "note");
}

function handedOver(frame) {
  const handover = chat.handover;
  if (!handover?.keys) return;
  let session;
  let newId;
  let name;
  try {
    newId = oc.b64decode(frame.chat, oc.CHAT_ID_BYTES);
    const pub = oc.b64decode(frame.pub, 32);
    // The new person's identity key must be vouched for by the log, for the kind of handover this page agreed to,
    // and their page signed its key for the new chat and this page's new key: verify as at the start.
    const vouched = vouchedIdentity(frame, HANDOVER_ROLES[handover.kind] ?? []);
    name = vouched.name;
    oc.verifyChatOffer(vouched.identity, newId, handover.keys.publicKey, pub,
      oc.b64decode(frame.sig, oc.SIGNATURE_BYTES));
    session = oc.ChatSession.forSeeker(newId, handover.keys, pub);
  } catch {
    broken();
    return;
  }
  // Nothing of the old session goes further: its keys are wiped here, and what it had not delivered is dropped
  // (a new session numbers from 1 again).
  mentorEnded(false);
  chat.outbox?.clear();
  if (chat.held) releaseHeld(); // the new session has sent nothing: only the hold ends
  chat.session?.wipe();
  chat.keys?.secretKey.fill(0);
  chat.keys = handover.keys;
  chat.session = session;
  chat.id = newId;
  chat.handover = null;
  const previous = chat.name;
  chat.name = name;
  const partner = handover.kind === "partner";
  status("");
  el("gesprek-kop").textContent = partner ? t("chat_with_partner", { name: chat.name, to: handover.to })
    : t("chat_with", { name: chat.name });
  appendMessage(log, "", t(partner ? "chat_handed_over_partner" : "chat_handed_over",
    { volunteer: previous, name: chat.name, to: handover.to }), "note");
  if (handover.history) {
    // Passed on by this page itself, in the new session, because the help-seeker said yes.
    for (const item of chat.history) sealContent(encodeContent("history", item.b, item.w));
    appendMessage(log, "", t("chat_history_shared", { name: chat.name }), "note");
  }
  el("gesprek-kop").focus();
}

function sealContent(bytes) {
  const { seq, ciphertext } = chat.session.seal(bytes);
  chat.outbox.put({ t: "msg", seq, ct: oc.b64encode(ciphertext) });
}

/** Back after a drop: say so if the person was told it was gone, and send what the server does not have. */
function resumed(frame) {
  if (chat.down) status(t("chat_reconnected"));
  chat.down = false;
  if (frame.state === "waiting") showPosition({ position: frame.position, estimate_s: 60 });
  if (frame.state === "active" && !chat.session && !chat.handover?.keys) {
    // Answered while this page was away: `connected` comes right behind (hub.py resume_seeker). If it does
    // not (the cluster's lead moved meanwhile), the chat cannot go on: say so, and end it for the other side.
    clearTimeout(chat.unanswered);
    chat.unanswered = setTimeout(() => {
      chat.unanswered = null;
      if (chat.session || chat.phase === "ended") return;
      chat.channel?.send({ t: "end" });
      finish("unknown");
    }, CONNECTED_CHECK_MS);
  }
  if (chat.handover?.keys) {
    // This page agreed to a handover. If it was completed while the page was away, the server sends
    // `handed-over` right behind this frame and `acked` counts the new session's messages: the old outbox
    // must not go into the new session (its frames would be refused, or read as tampering). So wait for the
    // next frame, or a moment.
    chat.held = { acked: frame.acked, timer: setTimeout(releaseHeld, HANDOVER_CHECK_MS) };
    return;
  }
  releaseOutboxes(frame.acked);
}

function releaseHeld() {
  const { acked, timer } = chat.held;
  clearTimeout(timer);
  chat.held = null;
  releaseOutboxes(acked);
}

function releaseOutboxes(acked) {
  chat.outbox?.release(acked);
  // The mentor's copies have no `acked` of their own: only those that never left the page go again.
  chat.mentor?.outbox?.release(undefined);
}

function connected(frame) {
  if (chat.session) return; // sent again after a resume (hub.py resume_seeker): this page has its session
  clearTimeout(chat.unanswered);
  chat.unanswered = null;
  let name;
  try {
    const pub = oc.b64decode(frame.pub, 32);
    // The identity key must be vouched for by the log (not only by the server that sends it), and the volunteer's
    // page signed its chat key with it. Anything missing or wrong: a tampered frame, nothing is sealed.
    const vouched = vouchedIdentity(frame, ANSWER_ROLES);
    name = vouched.name;
    oc.verifyChatOffer(vouched.identity, chat.id, chat.keys.publicKey, pub,
      oc.b64decode(frame.sig, oc.SIGNATURE_BYTES));
    chat.session = oc.ChatSession.forSeeker(chat.id, chat.keys, pub);
  } catch {
    broken();
    return;
  }
  chat.outbox = new Outbox(chat.channel);
  chat.name = name;
  status("");
  show("active");
  const heading = el("gesprek-kop");
  heading.textContent = t("chat_with", { name: chat.name });
  heading.focus();
  for (const text of chat.pending.splice(0)) sendText(text, { echoed: true });
  field.focus();
}

function received(frame) {
  if (alreadyOpened(chat.session, frame.seq)) return; // a resend after a reconnect: shown once already
  let content;
  try {
    content = decodeContent(chat.session.open(frame.seq, oc.b64decode(frame.ct)));
  } catch {
    broken(); // replayed, reordered, reflected or altered: never display it
    return;
  }
  if (content.kind !== "text" && content.kind !== "typing") {
    broken(); // hints, notes and history are for staff pages only: never from the other side
    return;
  }
  if (content.kind === "typing") {
    el("typt").textContent = t("chat_typing", { name: chat.name });
    clearTimeout(chat.typingTimer);
    chat.typingTimer = setTimeout(() => { el("typt").textContent = ""; }, 4000);
    return;
  }
  el("typt").textContent = "";
  chat.history.push({ w: "volunteer", b: content.text });
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
  const content = encodeContent("text", text);
  sealContent(content);
  if (chat.mentor?.session) {
    const copy = chat.mentor.session.seal(content);
    chat.mentor.outbox.put({ t: "mmsg", seq: copy.seq, ct: oc.b64encode(copy.ciphertext) });
  }
  chat.history.push({ w: "seeker", b: text });
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

// The hint is sealed only while it can go at once: sent after a reconnect it would be stale, and a sealed
// one must go (it has used a sequence number). Once sealed it goes through the outbox like any message.
const typing = typingNotifier(() => {
  if (chat.session && chat.outbox?.ready) sealContent(encodeContent("typing"));
});

function backToStart(message) {
  chat.channel?.close();
  chat.channel = null;
  status("");
  error(message);
  el("start").disabled = false;
  show("idle");
}

function refused(frame) {
  const message = frame.message?.[LANG] ?? "";
  if (["no-volunteers", "blocked", "busy", "bad-pow", "open-timeout"].includes(frame.code)) {
    backToStart(message);
    if (frame.code === "no-volunteers") checkAvailability();
    else el("start").hidden = frame.code === "blocked";
    return;
  }
  error(message);
}

function wipe() {
  mentorEnded(false);
  chat.handover?.keys?.secretKey.fill(0);
  chat.handover = null;
  chat.history = [];
  chat.session?.wipe();
  chat.session = null;
  chat.outbox?.clear();
  if (chat.held) clearTimeout(chat.held.timer);
  chat.held = null;
  clearTimeout(chat.unanswered);
  chat.unanswered = null;
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
  el("doorverbinden").hidden = true;
  if (chat.name) el("gesprek-kop").textContent = t("chat_was_with", { name: chat.name });
  show("ended");
  el("einde-kop").focus();
}

// -- a page that comes back: visible again, online again, thawed ---------------------------------

let hiddenAt = null;

/** Reconnect now if the connection is down (`suspect`: also replace a socket that may be dead unawares). */
function comeBack(suspect) {
  const channel = chat.channel;
  if (!channel || chat.id === null || !(chat.phase === "waiting" || chat.phase === "active")) return;
  if (suspect) channel.refresh();
  else channel.wake();
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") {
    hiddenAt = Date.now();
    return;
  }
  const long = hiddenAt !== null && Date.now() - hiddenAt > HIDDEN_CHECK_MS;
  hiddenAt = null;
  comeBack(long);
});
window.addEventListener("online", () => comeBack(true));
document.addEventListener("resume", () => comeBack(true)); // the browser froze the page and thawed it now
window.addEventListener("pageshow", (event) => {
  if (event.persisted && chat.resume) comeBack(true);
});

el("start").addEventListener("click", start);
el("doorverbinden-ja").addEventListener("click", () => answerHandover(true));
el("doorverbinden-nee").addEventListener("click", () => answerHandover(false));
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
