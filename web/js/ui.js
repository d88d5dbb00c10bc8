// Small helpers shared by the pages: texts, status messages, and JSON calls to the API.

const textNode = document.getElementById("teksten");
export const TEXTS = textNode ? JSON.parse(textNode.textContent) : {};
export const LANG = TEXTS.lang === "en" ? "en" : "nl";

/** A setting the server rendered into the page from its configuration (not from the database). */
export function setting(key) {
  return TEXTS[key];
}

export function t(key, values = {}) {
  let s = TEXTS[key] ?? key;
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

export function explain(err) {
  return err instanceof ApiError ? err.message : t("network_error");
}
