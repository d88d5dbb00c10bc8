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

/**
 * A websocket to our own server that reconnects after a drop until the grace period is over.
 * onOpen(reconnected) runs on every (re)connection; onDown() when a drop begins; onGiveUp() when
 * the grace period passed without a connection.
 */
export class Channel {
  constructor(path, { onOpen, onFrame, onDown, onGiveUp, graceMs }) {
    this.url = `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}${path}`;
    Object.assign(this, { onOpen, onFrame, onDown, onGiveUp, graceMs });
    this.ws = null;
    this.closing = false;
    this.droppedAt = null;
    this.opened = false;
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const reconnected = this.opened;
      this.opened = true;
      this.droppedAt = null;
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
      if (this.droppedAt === null) {
        this.droppedAt = Date.now();
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
    setTimeout(() => {
      if (!this.closing) this.connect();
    }, Math.min(5000, 1000 + waited / 4));
  }

  send(frame) {
    if (this.ws?.readyState === WebSocket.OPEN) {
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

/** Offer the transcript as a text file, made here in the browser; nothing is uploaded or stored. */
export function downloadTranscript(lines, filename) {
  downloadText(lines.join("\n") + "\n", filename);
}

/** Append one message to a log list; text only (never HTML). */
export function appendMessage(list, who, text, cls) {
  const item = document.createElement("li");
  item.className = cls;
  if (who) {
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who;
    item.append(label);
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
