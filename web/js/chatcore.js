// Shared by both sides of a chat: what goes inside an encrypted message, a websocket
// that comes back after a blip, and the opt-in transcript made in the browser.
import * as oc from "./crypto.js";
import { downloadText } from "./ui.js";

/** The content of one encrypted message: a text, the "is typing" hint, a mentor's hint, a handover note, or
 * one message of the earlier conversation passed on at a handover. */
export function encodeContent(kind, text = undefined, who = undefined) {
  let content;
  if (kind === "typing") content = { k: "typing" };
  else if (kind === "history") content = { k: "history", w: who === "volunteer" ? "volunteer" : "seeker", b: text };
  else content = { k: kind, b: text }; // text, hint (mentor to volunteer), note (handover)
  return oc.encodeText(JSON.stringify(content));
}

/** Parse decrypted content; anything unexpected counts as tampering (it passed the AEAD, so it came from the peer's code). */
export function decodeContent(bytes) {
  const content = JSON.parse(oc.decodeText(bytes));
  if (content?.k === "typing") return { kind: "typing" };
  if (["text", "hint", "note"].includes(content?.k) && typeof content.b === "string") {
    return { kind: content.k, text: content.b };
  }
  if (content?.k === "history" && typeof content.b === "string" && ["seeker", "volunteer"].includes(content.w)) {
    return { kind: "history", text: content.b, who: content.w };
  }
  throw new oc.InvalidInput("unknown chat content");
}

/** Close code 1012 (Service Restart): the server's node is going away (a deploy, a drain) and the chat lives on
 * elsewhere, so the page comes back at once instead of waiting as after a network failure. */
export const CLOSE_SERVICE_RESTART = 1012;
/** A node that goes away closes every page at the same moment: each waits a random part of this, so that a
 * thousand pages do not arrive at the next node in the same millisecond. */
const RESTART_SPREAD_MS = 250;

/**
 * A websocket to our own server that reconnects after a drop until the grace period is over.
 * onOpen(reconnected) runs on every (re)connection; onDown() when a drop begins; onGiveUp() when
 * the grace period passed without a connection.
 *
 * A close with CLOSE_SERVICE_RESTART is not a drop yet: the page reconnects after 0–250 ms, and only
 * if that attempt fails does onDown() run and the usual backoff start. The grace period still counts from
 * the close, so a restart that never comes back ends the same way as a long drop. Close codes of 4000
 * and up mean "do not come back".
 *
 * A page that comes back (visible again, online again, thawed after the browser froze it) need not wait for
 * its backoff: wake() tries at once during a drop, and refresh() also replaces a socket that still looks open
 * but may be dead without knowing it (the network went away under it and the server's heartbeat ended it).
 */
export class Channel {
  constructor(path, { onOpen, onFrame, onDown, onGiveUp, graceMs }) {
    this.url = `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}${path}`;
    Object.assign(this, { onOpen, onFrame, onDown, onGiveUp, graceMs });
    this.ws = null;
    this.closing = false;
    this.droppedAt = null;
    this.told = false; // onDown() ran for the drop under way
    this.opened = false;
    this.timer = null; // the next attempt of the backoff
  }

  /** True while a frame given to send() goes out now. */
  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const reconnected = this.opened;
      this.opened = true;
      this.droppedAt = null;
      this.told = false;
      this.onOpen(reconnected);
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // not from our server's catalogue: ignore
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws || this.closing) return;
      if (event.code >= 4000) {
        // The server ended this connection on purpose (replaced, session ended): do not come back.
        this.closing = true;
        this.onGiveUp();
        return;
      }
      const first = this.droppedAt === null;
      if (first) this.droppedAt = Date.now();
      if (first && event.code === CLOSE_SERVICE_RESTART) {
        // Another node takes over: no backoff and, if this works, nothing to tell the person.
        setTimeout(() => {
          if (!this.closing) this.connect();
        }, Math.random() * RESTART_SPREAD_MS);
        return;
      }
      if (!this.told) {
        this.told = true;
        this.onDown();
      }
      this.retry();
    });
  }

  retry() {
    if (this.closing) return;
    const waited = Date.now() - this.droppedAt;
    if (!this.opened || waited > this.graceMs) {
      this.closing = true;
      this.onGiveUp();
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closing) this.connect();
    }, Math.min(5000, 1000 + waited / 4));
  }

  /** During a drop, try again now instead of at the next step of the backoff (an attempt under way is left
   * to finish). Past the grace period too: the server then says plainly that the chat is gone. */
  wake() {
    if (this.closing || !this.opened || this.droppedAt === null) return;
    if (this.ws?.readyState === WebSocket.CONNECTING) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  /** As wake(), and a socket that looks open is replaced too (onOpen(true) follows: the page resumes). It may
   * be dead without knowing it, and then it would wait for a message that never comes while the server's
   * grace period for this page runs out. A live one costs one resume, too quick for the other side to hear. */
  refresh() {
    if (this.closing || !this.opened) return;
    if (this.ws?.readyState !== WebSocket.OPEN) {
      this.wake();
      return;
    }
    const old = this.ws;
    this.droppedAt = Date.now();
    this.connect(); // this.ws is the new socket now: the old one's close is not a drop
    old.close();
  }

  /** Send a frame now; false (and nothing sent) while the socket is not open. */
  send(frame) {
    if (this.open) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  close() {
    this.closing = true;
    this.ws?.close();
  }
}

/** At most this many sealed frames are kept per session: as many as the relay keeps for a page that is
 * away (BACKLOG_MAX in server/chat/relay.py), so a chat that could still resume never loses one here. */
export const OUTBOX_MAX = 512;

/**
 * The sealed frames of one session ({t: "msg"|"mmsg", seq, ct, ...}), exactly as sent or tried, kept
 * until the server says it has them (issue 14: no message lost to a deploy or a crash).
 *
 * Why: a sealed frame has used its sequence number, and the relay and the other page accept only the
 * next one, so a frame lost on the way would make every later one "out of order" for good. So every
 * sealed frame goes through here. While the connection is live it is sent at once; while it is down it
 * waits. After a reconnect the page calls hold() before it resumes, so that nothing new overtakes what
 * must go first, and release(acked) once the server said the highest seq it accepted: the rest goes again,
 * in order. The entries are never trimmed in between (the server acknowledges only at a resume), so the
 * oldest are dropped beyond OUTBOX_MAX; by then they are hundreds of messages old and long accepted (a page
 * that sealed more than that while away could not resume anyway: the relay ends such a chat).
 */
export class Outbox {
  constructor(channel, limit = OUTBOX_MAX) {
    this.channel = channel;
    this.limit = limit;
    this.entries = []; // {frame, handed}: handed = given to an open socket (which may still have lost it)
    this.live = true;
  }

  /** True if a frame put now goes out at once (used to skip the "is typing" hint while it could not). */
  get ready() {
    return this.live && this.channel.open;
  }

  put(frame) {
    const entry = { frame, handed: false };
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.shift();
    if (this.live) entry.handed = this.channel.send(frame);
  }

  /** Keep what is put from now on, until release(). */
  hold() {
    this.live = false;
  }

  /**
   * The server accepted every frame up to `acked`: send the later ones again, in order, then go live.
   * A server from before issue 14 (a node not yet updated in a rolling deploy) sends no `acked`: then the
   * frames already handed to a socket are taken as arrived, as pages always did, and only those that never
   * left the page go (which that server cannot have, so they cannot be refused as out of order).
   */
  release(acked) {
    const known = Number.isSafeInteger(acked) && acked >= 0;
    this.entries = this.entries.filter((entry) => (known ? entry.frame.seq > acked : !entry.handed));
    this.live = true;
    for (const entry of this.entries) entry.handed = this.channel.send(entry.frame);
  }

  /** A new session (a handover): its numbering starts again and nothing of the old one may go. */
  clear() {
    this.entries = [];
  }
}

/**
 * True for a frame whose seq this session already opened: an honest resend after a reconnect (the relay
 * may replay what it could not record as delivered before a crash). Dropped silently: never shown twice,
 * never taken as tampering (crypto/PROTOCOL.md 10.7 [M-10.7-3]); the session is not touched. Anything else
 * (a gap, a bad seq, a forged frame) still goes to open(), which refuses it.
 */
export function alreadyOpened(session, seq) {
  return session != null && Number.isSafeInteger(seq) && seq >= 1 && seq <= session.received;
}

/** Offer the transcript as a text file, made here in the browser; nothing is uploaded or stored. */
export function downloadTranscript(lines, filename) {
  downloadText(lines.join("\n") + "\n", filename);
}

/** The clock time a message arrived, as the page's clock tells it ("14:03"): nothing of it goes to the server. */
function clockTime(time) {
  const node = document.createElement("time");
  node.className = "at";
  node.dateTime = time.toISOString();
  node.textContent = time.toLocaleTimeString(document.documentElement.lang === "en" ? "en-GB" : "nl-NL",
    { hour: "2-digit", minute: "2-digit" });
  return node;
}

/**
 * Append one message to a log list; text only (never HTML). `options.time` (a Date; default: now) is shown as
 * the clock time it arrived; `options.timeText` instead shows a coarse time the server keeps (mail), as given.
 */
export function appendMessage(list, who, text, cls, options = {}) {
  const item = document.createElement("li");
  item.className = cls;
  const stamp = typeof options.timeText === "string" ? document.createElement("span") : clockTime(options.time ?? new Date());
  if (typeof options.timeText === "string") {
    stamp.className = "at";
    stamp.textContent = options.timeText;
  }
  const timed = stamp.textContent !== ""; // an empty timeText: no time to show
  if (who) {
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who;
    if (timed) label.append(" ", stamp);
    item.append(label);
  } else if (timed) {
    item.append(stamp, " ");
  }
  item.append(document.createTextNode(text));
  list.append(item);
  item.scrollIntoView({ block: "nearest" });
  return item;
}

/** Sends "is typing" at most every few seconds while the person types. */
export function typingNotifier(send, everyMs = 3000) {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last > everyMs) {
      last = now;
      send();
    }
  };
}
