// Enrolment: from a one-time invitation (in the URL fragment, never sent to the server),
// derive keys from the chosen passphrase, make the identity key pairs, and send only
// public keys, the wrapped private keys, the salt and the authentication key.
import * as oc from "./crypto.js";
import { api, el, error, explain, paint, status, t, wipeKeys } from "./ui.js";

const invitation = new URLSearchParams(window.location.hash.slice(1)).get("uitnodiging");
const form = el("inschrijven");
const passphrase = el("wachtwoordzin");
const repeat = el("herhaal");

/** What the page learns about the invitation. */
const enrolment = {
  details: null, // {name, role, kdf, passphrase_min_length} once the server has checked the invitation
};

function invalid(field, message) {
  field.setAttribute("aria-invalid", "true");
  error(message);
  field.focus();
}

async function check() {
  if (!invitation) {
    error(t("enrol_no_token"));
    return;
  }
  status(t("enrol_checking"), { busy: true });
  try {
    enrolment.details = await api("/api/enrol/check", { invitation });
  } catch (err) {
    status("");
    error(explain(err));
    return;
  }
  status("");
  const { details } = enrolment;
  el("naam").textContent = details.name;
  el("rol").textContent = `(${t("role_" + details.role)})`;
  el("wachtwoordzin-hint").textContent = t("passphrase_hint", { n: details.passphrase_min_length });
  form.hidden = false;
  passphrase.focus();
}

async function submit(event) {
  event.preventDefault();
  error("");
  passphrase.removeAttribute("aria-invalid");
  repeat.removeAttribute("aria-invalid");
  const { details } = enrolment;
  const chosen = passphrase.value;
  // Count characters as people do (code points), not UTF-16 units.
  if ([...chosen].length < details.passphrase_min_length) {
    invalid(passphrase, t("passphrase_too_short", { n: details.passphrase_min_length }));
    return;
  }
  if (chosen !== repeat.value) {
    invalid(repeat, t("passphrase_mismatch"));
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  status(t("working_keys"), { busy: true });
  await paint();
  let keys = null;
  let identity = null;
  try {
    await oc.ready();
    const salt = oc.newSalt();
    keys = oc.deriveVolunteerKeys(chosen, salt, details.kdf);
    identity = oc.newIdentity();
    const wrapped = oc.wrapIdentity(keys.wrappingKey, identity);
    await api("/api/enrol", {
      invitation,
      salt: oc.b64encode(salt),
      opslimit: details.kdf.opslimit,
      memlimit: details.kdf.memlimit,
      auth_key: oc.b64encode(keys.authKey),
      x25519_public: oc.b64encode(identity.x25519Public),
      ed25519_public: oc.b64encode(identity.ed25519Public),
      wrapped_identity: oc.b64encode(wrapped),
      x25519_certificate: oc.b64encode(oc.signKeyCertificate(identity)),
    });
  } catch (err) {
    status("");
    error(explain(err));
    button.disabled = false;
    return;
  } finally {
    // Nothing of the passphrase or the private keys outlives this function.
    passphrase.value = "";
    repeat.value = "";
    wipeKeys(keys);
    wipeKeys(identity);
  }
  status("");
  form.hidden = true;
  el("klaar").hidden = false;
  // The invitation is used up: take it out of the address bar and the history entry.
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  el("klaar").querySelector("a").focus();
}

form.addEventListener("submit", submit);
// A different invitation pasted into the address bar only changes the fragment: start over.
window.addEventListener("hashchange", () => window.location.reload());
check();

// Keep the language switch on the same fragment: the invitation is there (this page has no quickexit.js).
const languageLink = document.getElementById("taal");
languageLink?.addEventListener("click", () => {
  if (window.location.hash) languageLink.href = languageLink.href.split("#")[0] + window.location.hash;
});
