// The coarse times the server keeps for mail (whole hours since 1970, DESIGN.md invariant 5), as a
// person reads them in this browser's time zone: "vandaag, rond 14:00", "gisteren", else a date.
// Shared by the volunteer's inbox (mailwork.js) and the help-seeker's return page (mailreturn.js).
import { LOCALE, t } from "./ui.js";

export function coarseTime(hour, now = new Date()) {
  if (!Number.isSafeInteger(hour)) return "";
  const when = new Date(hour * 3_600_000);
  const midnight = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((midnight(now) - midnight(when)) / 86_400_000);
  if (days === 0) {
    return t("wm_time_today", { time: when.toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" }) });
  }
  if (days === 1) return t("wm_time_yesterday");
  return when.toLocaleDateString(LOCALE, { day: "numeric", month: "long" });
}

/** The current hour, as the server would record a message sent now. */
export function thisHour() {
  return Math.floor(Date.now() / 3_600_000);
}
