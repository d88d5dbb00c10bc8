// The proof-of-work a page solves before it opens a chat or sends a mail (PROTOCOL.md 11), with
// its progress on the page: a labelled <progress> bar (#voortgang-balk in #voortgang) and a polite
// live region (#voortgang-tekst). Used by chat.js and mail.js.
import * as oc from "./crypto.js";
import { el, t } from "./ui.js";

/** The proof-of-work's bar appears once the work has taken this long (at the base difficulty it is over by
 * then), and its words, a polite live region, change at most this often, so that a screen reader is not
 * talked over. */
const POW_SHOW_MS = 400;
const POW_SAY_MS = 1500;

/** Solve a challenge from the server (PROTOCOL.md 11) with its progress on the page: the bar follows every
 * slice of the solver, the words every POW_SAY_MS. */
export async function solveShowingProgress(challenge) {
  const box = el("voortgang");
  const bar = el("voortgang-balk");
  const words = el("voortgang-tekst");
  const started = performance.now();
  let said = started;
  bar.value = 0;
  const onProgress = (_tried, fraction) => {
    const now = performance.now();
    bar.value = fraction;
    if (box.hidden && now - started >= POW_SHOW_MS) box.hidden = false;
    if (!box.hidden && now - said >= POW_SAY_MS) {
      said = now;
      words.textContent = t("pow_progress", { percent: Math.floor(fraction * 100) });
    }
  };
  try {
    return await oc.solvePow(oc.b64decode(challenge.challenge), challenge.bits, { onProgress });
  } finally {
    box.hidden = true;
    words.textContent = "";
  }
}
