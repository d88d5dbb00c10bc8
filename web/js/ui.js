// Small helpers shared by the pages: texts, status messages, and JSON calls to the API.
// The one module for them: a page that needs a helper another page has takes it from here.

const textNode = document.getElementById("teksten");
export const TEXTS = textNode ? JSON.parse(textNode.textContent) : {};
export const LANG = TEXTS.lang === "en" ? "en" : "nl";
/** The locale for dates and times shown in the page's language. */
export const LOCALE = LANG === "en" ? "en-GB" : "nl-NL";

/** A setting the server rendered into the page from its configuration (not from the database). */
export function setting(key) {
  return TEXTS[key];
}

const PLURAL_RULES = new Intl.PluralRules(LOCALE);

/** The words for `key`, filled in. A plural entry ({count, one, other}) picks its form by the value its
 * `count` names, with the language's own rule (Intl.PluralRules): "Er wacht 1 persoon", "Er wachten 2 mensen". */
export function t(key, values = {}) {
  let s = TEXTS[key] ?? key;
  if (s !== null && typeof s === "object") {
    const n = Number(values[s.count]);
    const form = Number.isFinite(n) ? PLURAL_RULES.select(n) : "other";
    s = s[form] ?? s.other;
  }
  for (const [k, v] of Object.entries(values)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

export function el(id) {
  return document.getElementById(id);
}

/** Show a calm status line; `busy` adds a spinner so the page never looks frozen. */
export function status(message, { busy = false } = {}) {
  const node = el("status");
  if (!node) return;
  node.textContent = message;
  node.classList.toggle("busy", busy && Boolean(message));
}

export function error(message) {
  const node = el("fout");
  if (node) node.textContent = message;
}

/**
 * A say(message, {isError}) for a part of a page with its own status and error lines
 * (the volunteer workspace's chat and mail share "werkplek-status" and "werkplek-fout").
 */
export function statusLine(statusId, errorId) {
  return (message, { isError = false } = {}) => {
    el(isError ? errorId : statusId).textContent = message;
  };
}

/** Show "n of max characters" for a text field; returns the function that updates it. */
export function charCounter(field, max, counterId = "teller") {
  return () => {
    el(counterId).textContent = t("chat_counter", { n: [...field.value].length, max });
  };
}

/** A day ("2025-03-01") as people write it in the page's language ("1 maart 2025"). */
export function formatDay(isoDate) {
  // Noon, so that no time zone moves the date to the day before or after.
  return new Date(`${isoDate}T12:00:00`).toLocaleDateString(LOCALE, { day: "numeric", month: "long", year: "numeric" });
}

/** Offer a text file, made here in the browser; nothing is uploaded or stored. */
export function downloadText(text, filename) {
  const blob = new Blob([text], { type: "text/plain;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const SECRET_FIELDS = ["authKey", "wrappingKey", "lookupKey", "x25519Secret", "ed25519Seed", "ed25519SecretKey"];

/**
 * Zero the secrets of volunteer keys, an unlocked identity or a mailbox (whichever of
 * SECRET_FIELDS it holds; public keys stay) as soon as the page is done with them.
 * Null is fine.
 */
export function wipeKeys(holder) {
  for (const key of SECRET_FIELDS) holder?.[key]?.fill(0);
}

/** Let the browser paint (the status message) before blocking work such as Argon2id. */
export function paint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 30)));
}

export class ApiError extends Error {
  constructor(status, body) {
    const message = body?.message?.[LANG] ?? body?.message?.nl ?? `HTTP ${status}`;
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** POST (or GET without a body) JSON to our own API; throws ApiError or a network TypeError. */
export async function api(path, body) {
  const init = { credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/**
 * What to tell a person about a failed call: the server's message, or "network error".
 * With `otherwise`, only API and network errors (TypeError from fetch) are explained so;
 * anything else (a key that does not verify, say) gets `otherwise`.
 */
export function explain(err, otherwise = undefined) {
  if (err instanceof ApiError) return err.message;
  if (otherwise === undefined || err instanceof TypeError) return t("network_error");
  return otherwise;
}
