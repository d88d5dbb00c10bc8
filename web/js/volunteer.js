// Volunteer login and workspace. The private keys are unlocked into this module's
// memory only: never into storage, never sent anywhere. Logging out wipes them.
import * as oc from "./crypto.js";
import { api, el, error, explain, paint, setting, status, t, wipeKeys } from "./ui.js";
import { startWorkspace, stopWorkspace } from "./workspace.js";
import { startMail, stopMail } from "./mailwork.js";

const loginSection = el("inloggen");
const workspace = el("werkplek");
const form = el("inlogformulier");
const nameField = el("naam");
const passphrase = el("wachtwoordzin");

/** What this page holds while someone is logged in. */
const session = {
  account: null, // {name, role, canChat, canMail, identity}: the unlocked account; null when logged out
};

function showWorkspace() {
  loginSection.hidden = true;
  workspace.hidden = false;
  document.body.classList.add("at-desk"); // the desk fills the window: each pane scrolls on its own
  // Opens in a new window: leaving this page would wipe the keys it holds and end its chats.
  el("coordinatie").hidden = session.account.role !== "coordinator";
  el("werkplek-kop").focus();
  startWorkspace(session.account);
  startMail(session.account);
}

async function login(event) {
  event.preventDefault();
  error("");
  const name = nameField.value.trim();
  const chosen = passphrase.value;
  if (!name || !chosen) {
    (name ? passphrase : nameField).focus();
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  status(t("unlocking"), { busy: true });
  await paint();
  let keys = null;
  try {
    await oc.ready();
    const start = await api("/api/login/start", { name });
    // Refuse a downgrade: parameters below the deployment's configured floor would make the
    // authentication key cheap to brute-force (e.g. a database rewritten by a thief).
    const floor = setting("kdf_floor");
    if (!(start.kdf.opslimit >= floor.opslimit && start.kdf.memlimit >= floor.memlimit)) {
      throw new Error(t("kdf_too_weak"));
    }
    keys = oc.deriveVolunteerKeys(chosen, oc.b64decode(start.salt, 16), start.kdf);
    const answer = await api("/api/login", { name, auth_key: oc.b64encode(keys.authKey) });
    let identity;
    try {
      identity = oc.unwrapIdentity(keys.wrappingKey, oc.b64decode(answer.wrapped_identity),
        oc.b64decode(answer.x25519_public, 32), oc.b64decode(answer.ed25519_public, 32));
    } catch (err) {
      if (err instanceof oc.CryptoError) {
        await api("/api/logout", {});
        throw new Error(t("keys_broken"));
      }
      throw err;
    }
    session.account = { name: answer.name, role: answer.role, canChat: answer.can_chat, canMail: answer.can_mail,
      identity, accountId: oc.b64decode(answer.account_id, 16) }; // the id the root key signs (issue 17)
  } catch (err) {
    status("");
    error(explain(err, err.message));
    button.disabled = false;
    passphrase.focus();
    return;
  } finally {
    passphrase.value = "";
    wipeKeys(keys);
  }
  status("");
  button.disabled = false;
  showWorkspace();
}

async function logout() {
  stopWorkspace();
  stopMail();
  wipeKeys(session.account?.identity);
  session.account = null;
  try {
    await api("/api/logout", {});
  } catch {
    // The keys are gone from memory either way; the session expires on its own.
  }
  workspace.hidden = true;
  document.body.classList.remove("at-desk");
  loginSection.hidden = false;
  status(t("logged_out"));
  nameField.focus();
}

form.addEventListener("submit", login);
el("uitloggen").addEventListener("click", logout);
window.addEventListener("pagehide", () => wipeKeys(session.account?.identity));
