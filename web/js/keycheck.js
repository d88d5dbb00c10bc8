// The volunteer's self-check of the public log (issue 17, crypto/PROTOCOL.md section 14): after login and
// after every change of the key status, this page fetches the log's checkpoint and every entry bundle,
// checks the checkpoint against the trust configuration (log key, witnesses), recomputes the tree's root
// from the entries, and looks for every statement about this account id. Exactly one is right: the
// account's own key statement, with the keys this page unlocked, and no revocation. Anything else means a
// server logged a key for this account that is not this volunteer's: the page says so loudly.
import * as oc from "./crypto.js";
import { TRUST } from "trust";

const MAX_CHECKPOINT_BYTES = 16 * 1024;
const TILE_WIDTH = 256;
const MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + 4096);

/** tlog-tiles' path of an index: 1234067 -> "x001/x234/067". */
export function tileIndexPath(n) {
  let digits = String(n);
  while (digits.length % 3) digits = `0${digits}`;
  const groups = digits.match(/.{3}/g);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

async function fetchBytes(url, max) {
  const response = await fetch(url, { cache: "no-store", credentials: "omit" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > max) throw new Error(`${url}: too large`);
  return bytes;
}

function equal(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Every entry of the first `size` leaves, from the entry bundles. */
async function entries(size) {
  const all = [];
  for (let n = 0; n * TILE_WIDTH < size; n += 1) {
    const width = Math.min(TILE_WIDTH, size - n * TILE_WIDTH);
    const path = `/log/tile/entries/${tileIndexPath(n)}${width < TILE_WIDTH ? `.p/${width}` : ""}`;
    const bundle = oc.parseEntryBundle(await fetchBytes(path, MAX_BUNDLE_BYTES));
    if (bundle.length < width) throw new Error(`${path}: ${bundle.length} entries, expected ${width}`);
    all.push(...bundle.slice(0, width));
  }
  return all;
}

/** The revoked ids of these entries, as the checkpoint's revoked-set line commits to them: sorted, unique. */
function revokedIds(statements) {
  const seen = new Map();
  for (const s of statements) if (s.kind === 2) seen.set(oc.b64encode(s.accountId), s.accountId);
  return [...seen.values()].sort((a, b) => {
    for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return a[i] - b[i];
    return 0;
  });
}

/**
 * Check the log for this account. Answers {state, what}:
 *  "ok"        exactly the own key statement is logged (and nothing else for the account id);
 *  "absent"    nothing for the account yet (not signed, or not logged yet): no alarm, unless the
 *              server says the key is ready (`expectLogged`): then it is "alert"/"missing";
 *  "alert"     something else: `what` is "other_key" | "revoked" | "twice" | "missing" | "log";
 *  "unchecked" the log could not be fetched or its checkpoint not verified now (retried by the caller).
 * The account ids checked are the one the server gave at login AND the ones of every statement that
 * carries this page's own keys (which it unwrapped itself): a server that gives the page another
 * account id than the one its keys are logged under cannot hide a rogue statement that way.
 */
export async function selfCheck({ accountId, x25519Public, ed25519Public, expectLogged = false,
  now = Math.floor(Date.now() / 1000) }) {
  let checkpoint, leaves;
  try {
    await oc.ready();
    const note = new TextDecoder().decode(await fetchBytes("/log/checkpoint", MAX_CHECKPOINT_BYTES));
    checkpoint = oc.verifyCheckpoint(TRUST, note, now);
    leaves = await entries(checkpoint.size);
  } catch (err) {
    return { state: "unchecked", what: String(err?.message ?? err) };
  }
  // The entries must be the ones the signed checkpoint commits to: else the log shows each reader its own story.
  if (!equal(oc.rootFromLeafHashes(leaves.map((e) => oc.leafHash(e))), checkpoint.root)) {
    return { state: "alert", what: "log" };
  }
  const statements = [];
  try {
    for (const data of leaves) {
      const entry = oc.decodeEntry(data);
      if (entry.type === 1) statements.push(oc.decodeStatement(entry.statement));
    }
  } catch {
    return { state: "alert", what: "log" };  // a malformed entry in a log the witnesses vouch for
  }
  // The checkpoint's revoked-set line must say what the entries say (witnesses do not check it).
  const revoked = revokedIds(statements);
  if (revoked.length !== checkpoint.revokedCount || !equal(oc.revokedDigest(revoked), checkpoint.revokedDigest)) {
    return { state: "alert", what: "log" };
  }
  const ids = new Set([oc.b64encode(accountId)]);
  for (const s of statements) {
    if (s.kind === 1 && equal(s.ed25519Public, ed25519Public)) ids.add(oc.b64encode(s.accountId));
  }
  const mine = statements.filter((s) => ids.has(oc.b64encode(s.accountId)));
  if (mine.length === 0) return expectLogged ? { state: "alert", what: "missing" } : { state: "absent" };
  if (mine.some((s) => s.kind !== 1)) return { state: "alert", what: "revoked" };
  if (mine.length > 1) return { state: "alert", what: "twice" };
  const [own] = mine;
  if (!equal(own.x25519Public, x25519Public) || !equal(own.ed25519Public, ed25519Public)
      || own.deploymentId !== TRUST.deployment_id) {
    return { state: "alert", what: "other_key" };
  }
  return { state: "ok" };
}
