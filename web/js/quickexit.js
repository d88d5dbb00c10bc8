// Quick exit: replace this page (and its history entry) with a neutral site.
// location.replace() leaves no entry for this page, so "back" does not return here.
const link = document.getElementById("snel-weg");
const target = link?.dataset.url;

function leave(event) {
  event?.preventDefault();
  document.body.replaceChildren();
  window.location.replace(target);
}

if (link && target) {
  link.addEventListener("click", leave);
  let lastEscape = 0;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const now = Date.now();
    if (now - lastEscape < 1000) leave(event);
    lastEscape = now;
  });
}

// Keep the language switch on the same fragment (an enrolment link carries its invitation there).
const lang = document.getElementById("taal");
if (lang) {
  lang.addEventListener("click", () => {
    if (window.location.hash) lang.href = lang.href.split("#")[0] + window.location.hash;
  });
}
