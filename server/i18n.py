"""User-facing text: Dutch first, English second.

The language comes from the `lang` query parameter (`?lang=en`), never from a
cookie: anonymous visitors get no cookie at all. Keys are short English names;
every entry has both languages, which a test checks.
"""

from __future__ import annotations

LANGUAGES = ("nl", "en")

TEXTS: dict[str, tuple[str, str]] = {
    # Layout
    "site_name": ("Luisterend Oor", "Luisterend Oor (a listening ear)"),
    "skip_to_content": ("Naar de inhoud", "Skip to content"),
    "quick_exit": ("Snel weg", "Quick exit"),
    "quick_exit_hint": ("Verlaat deze site direct (of druk twee keer op Escape)",
                        "Leave this site at once (or press Escape twice)"),
    "crisis_label": ("Direct hulp nodig", "Need help right now"),
    "crisis_suicide": ("Denk je aan zelfmoord? Bel", "Thinking about suicide? Call"),
    "crisis_or": ("of", "or"),
    "crisis_emergency": ("In direct gevaar? Bel", "In immediate danger? Call"),
    "language_switch": ("English", "Nederlands"),
    "language_switch_label": ("Switch to English", "Schakel naar Nederlands"),
    "insecure_banner": ("TESTMODUS: zwakke sleutelafleiding. Nooit gebruiken voor echte gesprekken.",
                        "TEST MODE: weak key derivation. Never use for real conversations."),
    "footer_volunteers": ("Voor vrijwilligers", "For volunteers"),
    "footer_privacy": ("We slaan geen IP-adres, naam of e-mailadres van je op.",
                       "We store no IP address, name or e-mail address of yours."),
    "js_required": ("Deze pagina heeft JavaScript nodig: daarmee wordt alles op je eigen apparaat versleuteld.",
                    "This page needs JavaScript: it encrypts everything on your own device."),
    # Home
    "home_title": ("Praat anoniem met iemand die luistert", "Talk anonymously with someone who listens"),
    "home_intro": ("Dag en nacht kun je hier anoniem je verhaal kwijt bij een getrainde vrijwilliger. "
                   "Je hoeft je naam niet te geven. Alles wat je schrijft wordt op je eigen apparaat versleuteld.",
                   "Day and night you can share your story anonymously with a trained volunteer. "
                   "You do not have to give your name. Everything you write is encrypted on your own device."),
    "home_soon": ("Chatten en mailen worden op dit moment ingericht.",
                  "Chat and mail are being set up at the moment."),
    # Enrolment
    "enrol_title": ("Account aanmaken", "Create your account"),
    "enrol_intro": ("Kies een wachtwoordzin. Je sleutels worden in deze browser gemaakt en met je wachtwoordzin "
                    "beveiligd; de server ziet je wachtwoordzin nooit. Vergeet je hem, dan kan niemand hem herstellen.",
                    "Choose a passphrase. Your keys are made in this browser and protected with your passphrase; "
                    "the server never sees it. If you forget it, nobody can recover it."),
    "enrol_checking": ("Uitnodiging controleren…", "Checking the invitation…"),
    "enrol_no_token": ("Deze link bevat geen uitnodiging. Open de volledige link die je van je coördinator kreeg.",
                       "This link holds no invitation. Open the full link your coordinator gave you."),
    "enrol_name": ("Je naam", "Your name"),
    "enrol_role": ("Rol", "Role"),
    "passphrase": ("Wachtwoordzin", "Passphrase"),
    "passphrase_repeat": ("Herhaal de wachtwoordzin", "Repeat the passphrase"),
    "passphrase_hint": ("Minstens {n} tekens. Een zin van een paar losse woorden is sterk en goed te onthouden.",
                        "At least {n} characters. A few unrelated words make a strong, memorable passphrase."),
    "passphrase_too_short": ("Je wachtwoordzin is te kort: gebruik minstens {n} tekens.",
                             "Your passphrase is too short: use at least {n} characters."),
    "passphrase_mismatch": ("De twee wachtwoordzinnen zijn niet gelijk.", "The two passphrases do not match."),
    "enrol_submit": ("Account aanmaken", "Create account"),
    "working_keys": ("Even geduld: je sleutels worden veilig berekend. Dit duurt een paar seconden.",
                     "Please wait: your keys are being computed securely. This takes a few seconds."),
    "enrol_done": ("Je account is klaar. Je kunt nu inloggen.", "Your account is ready. You can log in now."),
    "to_login": ("Naar inloggen", "Go to login"),
    "network_error": ("Er ging iets mis met de verbinding. Er is niets veranderd; probeer het opnieuw.",
                      "Something went wrong with the connection. Nothing changed; please try again."),
    # Login and workspace
    "login_title": ("Inloggen voor vrijwilligers", "Volunteer login"),
    "name": ("Naam", "Name"),
    "login_submit": ("Inloggen", "Log in"),
    "unlocking": ("Even geduld: je sleutels worden ontgrendeld.", "Please wait: unlocking your keys."),
    "workspace_title": ("Werkplek", "Workspace"),
    "workspace_hello": ("Welkom, {name}.", "Welcome, {name}."),
    "workspace_keys": ("Je sleutels zijn ontgrendeld, alleen in dit venster. Sluit je het venster of log je uit, "
                       "dan zijn ze weg uit het geheugen.",
                       "Your keys are unlocked, in this window only. Close the window or log out and they are "
                       "gone from memory."),
    "workspace_empty": ("Er is nu niets voor je te doen.", "There is nothing for you to do right now."),
    "role_volunteer": ("vrijwilliger", "volunteer"),
    "role_partner": ("partnerprofessional", "partner professional"),
    "role_coordinator": ("coördinator", "coordinator"),
    "logout": ("Uitloggen", "Log out"),
    "logged_out": ("Je bent uitgelogd. Je sleutels zijn uit het geheugen gewist.",
                   "You are logged out. Your keys have been wiped from memory."),
    "keys_broken": ("Je sleutels konden niet worden ontgrendeld: de opgeslagen sleutels kloppen niet. "
                    "Neem contact op met je coördinator.",
                    "Your keys could not be unlocked: the stored keys are not valid. Contact your coordinator."),
    "kdf_too_weak": ("De server vroeg om een te zwakke sleutelafleiding. Je wachtwoordzin is niet gebruikt. "
                     "Meld dit aan je coördinator.",
                     "The server asked for a key derivation that is too weak. Your passphrase was not used. "
                     "Report this to your coordinator."),
    # Errors
    "error_title": ("Er ging iets mis", "Something went wrong"),
    "not_found": ("Deze pagina bestaat niet.", "This page does not exist."),
    "to_home": ("Naar de startpagina", "To the home page"),
}


def text(key: str, lang: str, **values: object) -> str:
    nl, en = TEXTS[key]
    s = en if lang == "en" else nl
    return s.format(**values) if values else s


def pick_language(query_value: str | None) -> str:
    return "en" if query_value == "en" else "nl"
