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
    "home_chat": ("Chatten met een vrijwilliger", "Chat with a volunteer"),
    "home_chat_hint": ("Direct, anoniem, zonder account.", "Right now, anonymous, no account."),
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
    # Help-seeker chat
    "chat_title": ("Chatten", "Chat"),
    "chat_intro": ("Praat anoniem met een getrainde vrijwilliger. Je hoeft niets over jezelf te vertellen wat je "
                   "niet wilt. Het gesprek wordt op je eigen apparaat versleuteld en nergens bewaard.",
                   "Talk anonymously with a trained volunteer. You do not have to tell anything about yourself "
                   "you do not want to. The chat is encrypted on your own device and stored nowhere."),
    "chat_start": ("Start een chat", "Start a chat"),
    "chat_checking": ("Even kijken of er iemand beschikbaar is…", "Checking whether someone is available…"),
    "chat_nobody": ("Er is op dit moment niemand beschikbaar om te chatten. Je kunt ons wel een bericht sturen: "
                    "dan krijg je later antwoord.",
                    "Nobody is available to chat right now. You can send us a message instead and get an answer later."),
    "chat_to_mail": ("Stuur een bericht", "Send a message"),
    "chat_someone": ("Er is iemand beschikbaar. Op dit moment wachten er {n} mensen.",
                     "Someone is available. {n} people are waiting right now."),
    "chat_pow": ("Even geduld: we maken een veilige verbinding. Dit duurt een paar tellen.",
                 "Please wait: we are setting up a secure connection. This takes a few seconds."),
    "chat_position": ("Je bent nummer {position} in de rij. Geschatte wachttijd: ongeveer {minutes} min.",
                      "You are number {position} in the queue. Estimated wait: about {minutes} min."),
    "chat_first_message": ("Je kunt alvast je eerste bericht typen. Het wordt verstuurd zodra iemand je gesprek aanneemt.",
                           "You can already type your first message. It is sent as soon as someone picks up."),
    "chat_leave_queue": ("Stoppen met wachten", "Stop waiting"),
    "chat_with": ("Je praat met {name}.", "You are talking with {name}."),
    "chat_you": ("Jij", "You"),
    "chat_message_label": ("Je bericht", "Your message"),
    "chat_send": ("Versturen", "Send"),
    "chat_typing": ("{name} is aan het typen…", "{name} is typing…"),
    "chat_end": ("Gesprek beëindigen", "End chat"),
    "chat_download": ("Gesprek downloaden", "Download chat"),
    "chat_download_hint": ("Alleen als jij dat wilt: het bestand wordt op je eigen apparaat gemaakt.",
                           "Only if you want to: the file is made on your own device."),
    "chat_counter": ("{n} van {max} tekens", "{n} of {max} characters"),
    "chat_too_long": ("Je bericht is te lang: maximaal {max} tekens.", "Your message is too long: at most {max} characters."),
    "chat_reconnecting": ("De verbinding is even weg. We proberen het opnieuw…",
                          "The connection dropped. Trying again…"),
    "chat_reconnected": ("De verbinding is hersteld.", "The connection is back."),
    "chat_peer_away": ("De verbinding van de vrijwilliger is even weg. Even geduld.",
                       "The volunteer's connection dropped. Please wait a moment."),
    "chat_peer_back": ("De vrijwilliger is er weer.", "The volunteer is back."),
    "chat_ended": ("Het gesprek is beëindigd.", "The chat has ended."),
    "chat_ended_volunteer": ("De vrijwilliger heeft het gesprek beëindigd.", "The volunteer ended the chat."),
    "chat_ended_seeker": ("Je hebt het gesprek beëindigd.", "You ended the chat."),
    "chat_ended_timeout": ("De verbinding was te lang weg; het gesprek is gestopt.",
                           "The connection was gone too long; the chat has stopped."),
    "chat_ended_restart": ("De server is opnieuw gestart; het gesprek is gestopt. Je kunt een nieuw gesprek beginnen.",
                           "The server restarted; the chat has stopped. You can start a new chat."),
    "chat_ended_blocked": ("Het gesprek is beëindigd.", "The chat has ended."),
    "chat_ended_unknown": ("Het gesprek kon niet worden hersteld.", "The chat could not be restored."),
    "chat_ended_volunteer_left": ("De vrijwilliger is weggevallen; het gesprek is gestopt.",
                                  "The volunteer dropped out; the chat has stopped."),
    "chat_broken": ("De verbinding was niet meer betrouwbaar. Om je te beschermen is het gesprek gestopt.",
                    "The connection could no longer be trusted. To protect you, the chat has stopped."),
    "chat_again": ("Nieuw gesprek starten", "Start a new chat"),
    "chat_still_here": ("Heb je nu direct hulp nodig? Bel 113 of 112.", "Need help right now? Call 113 or 112."),
    # Volunteer chat workspace
    "ws_available": ("Beschikbaar voor chat", "Available for chat"),
    "ws_queue_title": ("Wachtrij", "Queue"),
    "ws_queue_empty": ("Er wacht niemand.", "Nobody is waiting."),
    "ws_queue_waiting": ("Er wachten {n} mensen.", "{n} people are waiting."),
    "ws_queue_item": ("wacht {minutes} min", "waiting {minutes} min"),
    "ws_pick_up": ("Volgend gesprek aannemen", "Take the next chat"),
    "ws_capacity": ("Je hebt {holding} van {capacity} gesprekken.", "You have {holding} of {capacity} chats."),
    "ws_chat_heading": ("Gesprek {n}", "Chat {n}"),
    "ws_seeker": ("Hulpvrager", "Help-seeker"),
    "ws_block": ("Blokkeren", "Block"),
    "ws_block_confirm": ("Zeker weten? Klik nog eens om te blokkeren", "Sure? Click again to block"),
    "ws_seeker_typing": ("De hulpvrager is aan het typen…", "The help-seeker is typing…"),
    "ws_seeker_away": ("De verbinding van de hulpvrager is even weg.", "The help-seeker's connection dropped."),
    "ws_seeker_back": ("De hulpvrager is er weer.", "The help-seeker is back."),
    "ws_ended": ("Het gesprek is beëindigd ({reason}).", "The chat has ended ({reason})."),
    "ws_wrapup_title": ("Afronding", "Wrap-up"),
    "ws_wrapup_intro": ("Alleen voor de jaarcijfers; niet te koppelen aan dit gesprek.",
                        "For the annual figures only; cannot be linked to this chat."),
    "ws_topic": ("Onderwerp", "Topic"),
    "ws_age": ("Leeftijdsgroep (schatting)", "Age band (estimate)"),
    "ws_handed_over": ("Doorverbonden met professionele hulp", "Handed over to professional help"),
    "ws_choose": ("Kies…", "Choose…"),
    "ws_wrapup_submit": ("Afronden", "Finish"),
    "ws_wrapup_missing": ("Kies een onderwerp en een leeftijdsgroep.", "Choose a topic and an age band."),
    "ws_connection_lost": ("De verbinding met de server is weg. We proberen het opnieuw…",
                           "The connection to the server dropped. Trying again…"),
    "ws_broken": ("Dit gesprek is gestopt: een bericht klopte niet (mogelijk geknoeid).",
                  "This chat stopped: a message did not verify (possibly tampered with)."),
    "ws_reason_seeker": ("door de hulpvrager", "by the help-seeker"),
    "ws_reason_volunteer": ("door jou", "by you"),
    "ws_reason_timeout": ("verbinding te lang weg", "connection gone too long"),
    "ws_reason_blocked": ("geblokkeerd", "blocked"),
    "ws_reason_restart": ("de server is herstart", "the server restarted"),
    "ws_reason_volunteer_left": ("je pagina was herladen", "your page was reloaded"),
    "ws_reason_unknown": ("onbekend", "unknown"),
    "yes": ("Ja", "Yes"),
    "no": ("Nee", "No"),
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
