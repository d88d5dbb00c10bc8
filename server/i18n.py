"""User-facing text: Dutch first, English second.

The language comes from the `lang` query parameter (`?lang=en`), never from a
cookie: anonymous visitors get no cookie at all. Keys are short English names;
every entry has both languages, which a test checks.
"""

from __future__ import annotations

from typing import NamedTuple

LANGUAGES = ("nl", "en")


class Plural(NamedTuple):
    """An entry whose words depend on a number: `count` names the value that picks the form.

    Dutch and English have two forms, "one" (exactly 1) and "other" (0, 2, 3, ...): the rule is
    `plural_form`, the same one the page gets from `Intl.PluralRules` for nl-NL and en-GB.
    """

    count: str
    nl: dict[str, str]
    en: dict[str, str]


def plural_form(lang: str, n: object) -> str:
    """The CLDR plural category of `n` in `lang` ("one" or "other": all Dutch and English need).

    A count that is not a whole number (a decimal, a text such as "<5") takes "other", as CLDR does.
    """
    if lang not in LANGUAGES:
        raise KeyError(lang)
    return "one" if isinstance(n, int) and not isinstance(n, bool) and n == 1 else "other"


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
                       "We do not store your IP address, your name or your e-mail address."),
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
    "home_mail": ("Een bericht schrijven", "Write a message"),
    "home_mail_hint": ("Anoniem; je leest het antwoord later met een persoonlijke code.",
                       "Anonymous; you read the answer later with a personal code."),
    "home_return": ("Je antwoord lezen", "Read your answer"),
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
    "passphrase_mismatch": ("De twee wachtwoordzinnen zijn niet gelijk.", "The two passphrases do not match."),
    "enrol_submit": ("Account aanmaken", "Create account"),
    "working_keys": ("Even geduld: je sleutels worden veilig berekend. Dit duurt een paar seconden.",
                     "Please wait: your keys are being computed securely. This takes a few seconds."),
    "enrol_done": ("Je account is klaar. Je kunt nu inloggen.", "Your account is ready. You can log in now."),
    "to_login": ("Naar inloggen", "Go to login"),
    "chat_connect_refused": ("Het lukt nu niet om verbinding te maken; misschien is het erg druk. Probeer het over een "
                             "minuut opnieuw. Wil je nu direct iemand spreken? Bel 113, of 112 bij gevaar.",
                             "We cannot connect right now; it may be very busy. Please try again in a minute. Want to "
                             "talk to someone right now? Call 113, or 112 in an emergency."),
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
    # Key transparency (issue 17): the volunteer's key statement and the self-check of the public log.
    "ws_keys_title": ("Je sleutel", "Your key"),
    "ws_keys_code": ("Je sleutelcode", "Your key code"),
    "ws_keys_pending": ("Je sleutel is nog niet ondertekend. Vergelijk deze code met een coördinator: lees hem "
                        "voor, persoonlijk of aan de telefoon. Tot een coördinator hem heeft ondertekend kun je "
                        "geen gesprekken of mail aannemen; daarna ziet deze pagina dat vanzelf, je hoeft niet "
                        "opnieuw in te loggen.",
                        "Your key has not been signed yet. Compare this code with a coordinator: read it aloud, "
                        "in person or by phone. Until a coordinator has signed it you cannot take chats or mail; "
                        "after that this page notices by itself, you do not need to log in again."),
    "ws_keys_ready": ("Je sleutel is ondertekend en staat in het openbare logboek.",
                      "Your key is signed and in the public log."),
    "ws_keys_checked": ("Deze pagina heeft gecontroleerd dat het logboek voor jouw account alleen deze sleutel bevat.",
                        "This page checked that the log holds only this key for your account."),
    "ws_keys_revoked": ("Je sleutel is ingetrokken: je kunt geen gesprekken of mail meer aannemen. Neem contact op "
                        "met een coördinator.",
                        "Your key has been revoked: you can no longer take chats or mail. Contact a coordinator."),
    "ws_keys_expired": ("De ondertekening van je sleutel is verlopen. Vraag een coördinator om hem opnieuw te "
                        "ondertekenen en vergelijk daarbij deze code.",
                        "The signature on your key has expired. Ask a coordinator to sign it again, and compare "
                        "this code."),
    "ws_keys_no_witness": ("Het logboek is op dit moment niet door genoeg getuigen bevestigd, dus je kunt even geen "
                           "gesprekken of mail aannemen. Dit wordt vanzelf opnieuw geprobeerd; duurt het lang, "
                           "meld het dan aan een coördinator.",
                           "The log is not confirmed by enough witnesses right now, so you cannot take chats or "
                           "mail for the moment. This is retried by itself; if it takes long, tell a coordinator."),
    "ws_keys_unchecked": ("Het openbare logboek kon nu niet worden gecontroleerd; dit wordt zo opnieuw geprobeerd.",
                          "The public log could not be checked just now; this is retried shortly."),
    "ws_keys_alert": ("Let op: het openbare logboek bevat voor jouw account iets anders dan alleen jouw eigen "
                      "sleutel ({what}). Iemand kan je gesprekken proberen mee te lezen. Neem geen gesprekken aan "
                      "en bel meteen een coördinator.",
                      "Warning: the public log holds something other than only your own key for your account "
                      "({what}). Someone may be trying to read your chats. Do not take chats and call a "
                      "coordinator at once."),
    "ws_keys_alert_other_key": ("een sleutel die niet de jouwe is", "a key that is not yours"),
    "ws_keys_alert_revoked": ("een intrekking", "a revocation"),
    "ws_keys_alert_twice": ("meer dan één verklaring", "more than one statement"),
    "ws_keys_alert_missing": ("niets, terwijl de server zegt dat je sleutel erin staat",
                              "nothing, while the server says your key is in it"),
    "ws_keys_alert_log": ("het logboek klopt niet met zijn eigen controlepunt",
                          "the log does not match its own checkpoint"),
    "role_volunteer": ("vrijwilliger", "volunteer"),
    "role_mentor": ("mentor", "mentor"),
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
    "chat_pow": ("Even geduld: we maken een veilige verbinding. Dit duurt een paar tellen.",
                 "Please wait: we are setting up a secure connection. This takes a few seconds."),
    # The proof-of-work's progress bar (chat and mail pages): its label, and the words its live region says
    # at most every few seconds (web/js/chat.js and mail.js).
    "pow_label_chat": ("Verbinding voorbereiden", "Preparing the connection"),
    "pow_progress": ("{percent}% klaar", "{percent}% done"),
    "chat_first_message": ("Je kunt alvast je eerste bericht typen. Het wordt verstuurd zodra iemand je gesprek aanneemt.",
                           "You can already type your first message. It is sent as soon as someone picks up."),
    "chat_leave_queue": ("Stoppen met wachten", "Stop waiting"),
    "chat_waiting_title": ("Wachten op een vrijwilliger", "Waiting for a volunteer"),
    "chat_keep_open": ("Houd deze pagina open zolang het gesprek duurt. Even naar een andere app of een ander "
                       "tabblad gaan kan gerust: als je terugkomt, gaat het gesprek gewoon verder.",
                       "Keep this page open for as long as the chat lasts. Switching to another app or tab for a "
                       "while is fine: when you come back, the chat carries on."),
    "chat_with": ("Je praat met {name}.", "You are talking with {name}."),
    "chat_was_with": ("Je gesprek met {name}", "Your chat with {name}"),
    "chat_you": ("Jij", "You"),
    "chat_message_label": ("Je bericht", "Your message"),
    "chat_send": ("Versturen", "Send"),
    "chat_typing": ("{name} is aan het typen…", "{name} is typing…"),
    "chat_end": ("Gesprek beëindigen", "End chat"),
    "chat_download": ("Gesprek downloaden", "Download chat"),
    "chat_download_hint": ("Alleen als jij dat wilt: het bestand wordt op je eigen apparaat gemaakt.",
                           "Only if you want to: the file is made on your own device."),
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
    # Read-along and handover, on the help-seeker's page.
    "chat_mentor_notice": ("Mentor {name}, een ervaren collega, leest mee om {volunteer} te helpen. {name} kan jou "
                           "geen berichten sturen. Dit bericht staat hier zolang het meelezen duurt.",
                           "Mentor {name}, an experienced colleague, is reading along to help {volunteer}. {name} "
                           "cannot send you messages. This notice stays here for as long as the reading along lasts."),
    "chat_mentor_joined": ("Mentor {name} leest vanaf nu mee.", "Mentor {name} reads along from now on."),
    "chat_mentor_ended": ("De mentor leest niet meer mee.", "The mentor no longer reads along."),
    "chat_handover_title": ("Wil je verder praten met iemand anders?", "Would you like to continue with someone else?"),
    "chat_handover_partner": ("{volunteer} wil je graag doorverbinden met {to}: hulpverleners die hier speciaal voor "
                              "zijn opgeleid. {volunteer} blijft bij je tot iemand het overneemt. Jij beslist.",
                              "{volunteer} would like to connect you with {to}: professionals trained especially for "
                              "this. {volunteer} stays with you until someone takes over. It is your choice."),
    "chat_handover_colleague": ("{volunteer} wil je graag doorverbinden met collega {to}. {volunteer} blijft bij je "
                                "tot {to} het overneemt. Jij beslist.",
                                "{volunteer} would like to connect you with their colleague {to}. {volunteer} stays "
                                "with you until {to} takes over. It is your choice."),
    "chat_handover_history": ("Mag {to} lezen wat je tot nu toe hebt geschreven? Zonder vinkje ziet {to} je eerdere "
                              "berichten niet.",
                              "May {to} read what you have written so far? Without the tick, {to} does not see your "
                              "earlier messages."),
    "chat_handover_yes": ("Ja, verbind me door", "Yes, connect me"),
    "chat_handover_no": ("Nee, ik blijf bij {volunteer}", "No, I will stay with {volunteer}"),
    "chat_handover_waiting": ("We zoeken iemand van {to}. {volunteer} blijft intussen bij je; je kunt gewoon verder "
                              "praten.",
                              "We are finding someone from {to}. {volunteer} stays with you meanwhile; you can keep "
                              "talking."),
    "chat_handover_declined": ("Je blijft in gesprek met {name}.", "You stay in the conversation with {name}."),
    "chat_handover_expired": ("Er was nog niemand vrij. {name} blijft bij je.",
                              "Nobody was free yet. {name} stays with you."),
    "chat_handover_cancelled": ("Het doorverbinden gaat niet door. {name} blijft bij je.",
                                "The handover is off. {name} stays with you."),
    "chat_with_partner": ("Je praat met {name} van {to}.", "You are talking with {name} of {to}."),
    "chat_handed_over": ("{volunteer} heeft je doorverbonden met {name}. Je praat nu met {name}.",
                         "{volunteer} has connected you with {name}. You are now talking with {name}."),
    "chat_handed_over_partner": ("{volunteer} heeft je doorverbonden met {name} van {to}. Je praat nu met {name}.",
                                 "{volunteer} has connected you with {name} of {to}. You are now talking with {name}."),
    "chat_history_shared": ("Je eerdere berichten zijn met {name} gedeeld.", "Your earlier messages were shared with {name}."),
    # Read-along and handover, in the staff workspace.
    "ws_handover_label": ("Doorverbinden met", "Hand over to"),
    "ws_handover_note": ("Overdrachtsnotitie (versleuteld, alleen voor wie het overneemt)",
                         "Handover note (encrypted, only for whoever takes over)"),
    "ws_handover_submit": ("Toestemming vragen en doorverbinden", "Ask consent and hand over"),
    "ws_handover_cancel": ("Doorverbinden afbreken", "Cancel the handover"),
    "ws_handover_asked": ("De hulpvrager wordt om toestemming gevraagd…", "Asking the help-seeker for consent…"),
    "ws_handover_waiting": ("Toestemming gegeven. Wachten tot iemand het overneemt; blijf intussen in gesprek.",
                            "Consent given. Waiting for someone to take over; keep talking meanwhile."),
    "ws_handover_off_declined": ("De hulpvrager wil liever bij jou blijven.", "The help-seeker prefers to stay with you."),
    "ws_handover_off_expired": ("Niemand heeft het op tijd overgenomen; jij blijft in gesprek.",
                                "Nobody took over in time; you stay in the chat."),
    "ws_handover_off_cancelled": ("Doorverbinden afgebroken.", "Handover cancelled."),
    "ws_handover_done": ("Overgenomen door {name}. De notitie is versleuteld naar {name} gestuurd.",
                         "Taken over by {name}. The note was sent to {name}, encrypted."),
    "ws_handover_from": ("Overgedragen door {name}", "Handed over by {name}"),
    "ws_handover_note_in": ("Overdrachtsnotitie van {name}: {text}", "Handover note from {name}: {text}"),
    "ws_handover_no_note": ("{name} heeft geen notitie meegegeven.", "{name} left no note."),
    "ws_history_withheld": ("De hulpvrager deelt het eerdere gesprek niet.", "The help-seeker does not share the earlier conversation."),
    "ws_history_item": ("Eerder gesprek — {who}", "Earlier conversation — {who}"),
    "ws_volunteer": ("Vrijwilliger", "Volunteer"),
    "ws_mentor_label": ("Mentor laten meelezen", "Let a mentor read along"),
    "ws_mentor_invite": ("Uitnodigen", "Invite"),
    "ws_mentor_end": ("Meelezen stoppen", "Stop the reading along"),
    "ws_mentor_none": ("Geen mentor online", "No mentor online"),
    "ws_mentor_asked": ("Mentor gevraagd om mee te lezen…", "Mentor asked to read along…"),
    "ws_mentor_linked": ("{name} leest mee. De hulpvrager ziet dat.", "{name} reads along. The help-seeker sees this."),
    "ws_mentor_ended": ("Het meelezen is gestopt.", "The reading along has stopped."),
    # A colleague's key the public log does not vouch for (PROTOCOL.md 10.11): nothing is sealed to it.
    "ws_mentor_unverified": ("Het meelezen is gestopt: de sleutel van de mentor kon niet worden gecontroleerd in "
                             "het openbare logboek. Er is niets naar die sleutel gestuurd; het gesprek gaat gewoon "
                             "door.",
                             "The reading along stopped: the mentor's key could not be checked against the public "
                             "log. Nothing was sent to that key; the chat goes on."),
    "ws_handover_unverified": ("De sleutel van wie het gesprek overnam kon niet worden gecontroleerd in het openbare "
                               "logboek. De overdrachtsnotitie is daarom niet verstuurd.",
                               "The key of whoever took over the chat could not be checked against the public log. "
                               "So the handover note was not sent."),
    "ws_mentor_hint": ("Tip van {name} (alleen voor jou)", "Hint from {name} (only for you)"),
    "ws_readalong_ask": ("{name} vraagt je mee te lezen.", "{name} asks you to read along."),
    "ws_readalong_accept": ("Meelezen", "Read along"),
    "ws_readalong_decline": ("Niet nu", "Not now"),
    "ws_readalong_heading": ("Meelezen met {name}", "Reading along with {name}"),
    "ws_readalong_hint_label": ("Tip voor {name} (de hulpvrager ziet dit niet)", "Hint for {name} (the help-seeker does not see this)"),
    "ws_readalong_send": ("Tip sturen", "Send hint"),
    "ws_readalong_from_now": ("Je ziet de berichten vanaf nu; wat eerder is geschreven zie je niet.",
                              "You see the messages from now on; what was written earlier you do not see."),
    "ws_reason_handed_over": ("doorverbonden", "handed over"),
    "ws_reason_handover_off": ("doorverbinden ging niet door", "the handover did not go ahead"),
    "ws_available": ("Beschikbaar voor chat", "Available for chat"),
    "ws_queue_title": ("Wachtrij", "Queue"),
    "ws_queue_empty": ("Er wacht niemand.", "Nobody is waiting."),
    "ws_pick_up": ("Volgend gesprek aannemen", "Take the next chat"),
    "ws_chat_heading": ("Gesprek {n}", "Chat {n}"),
    "ws_seeker": ("Hulpvrager", "Help-seeker"),
    "ws_block": ("Blokkeren", "Block"),
    "ws_block_confirm": ("Zeker weten? Klik nog eens om te blokkeren", "Sure? Click again to block"),
    "ws_seeker_typing": ("De hulpvrager is aan het typen…", "The help-seeker is typing…"),
    "ws_seeker_away": ("De verbinding van de hulpvrager is even weg; je kunt intussen verder met andere gesprekken.",
                       "The help-seeker's connection is gone for a moment; you can carry on with other chats "
                       "meanwhile."),
    "ws_seeker_back": ("De hulpvrager is er weer.", "The help-seeker is back."),
    "ws_ended": ("Het gesprek is beëindigd ({reason}).", "The chat has ended ({reason})."),
    "ws_wrapup_title": ("Afronding", "Wrap-up"),
    "ws_wrapup_intro": ("Alleen voor de anonieme statistiek: totalen per dag, week en maand, niet te koppelen aan "
                        "dit gesprek.",
                        "For the anonymous statistics only: totals per day, week and month that cannot be linked "
                        "to this chat."),
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
    # The workspace as a night-shift tool (issue 15): panes, tools, alerts, pause and debrief
    "ws_logged_in": ("Ingelogd: {name} ({role})", "Logged in: {name} ({role})"),
    "ws_pause": ("Pauze", "Break"),
    "ws_on_duty": ("Op dienst {time}", "On duty {time}"),
    "ws_paused_note": ("Je hebt pauze: er worden geen nieuwe gesprekken aangeboden. Je open gesprekken lopen door.",
                       "You are on a break: no new chats are offered. Your open chats carry on."),
    "ws_notify": ("Meldingen", "Notifications"),
    "ws_notify_denied": ("Je browser staat meldingen niet toe voor deze site.",
                         "Your browser does not allow notifications for this site."),
    "ws_sound": ("Geluid", "Sound"),
    "ws_tabs_label": ("Onderdelen van de werkplek", "Parts of the workspace"),
    "ws_tab_list": ("Overzicht", "Overview"),
    "ws_tab_conversation": ("Gesprek", "Conversation"),
    "ws_tab_tools": ("Hulpmiddelen", "Tools"),
    "ws_list_title": ("Overzicht", "Overview"),
    "ws_my_chats": ("Mijn gesprekken", "My chats"),
    "ws_no_chats": ("Je hebt nu geen gesprekken open.", "You have no chats open right now."),
    "ws_longest_wait": ("Langste wachttijd: {minutes} min.", "Longest wait: {minutes} min."),
    "ws_conversation_label": ("Open gesprek", "Open conversation"),
    "ws_tools_title": ("Hulpmiddelen bij {label}", "Tools for {label}"),
    "ws_tool_quick": ("Snelle antwoorden", "Quick replies"),
    "ws_quick_none": ("Er zijn nog geen snelle antwoorden.", "There are no quick replies yet."),
    "ws_quick_hint": ("Kies er een: hij komt in je bericht op de plek van de cursor. Pas hem aan en verstuur zelf.",
                      "Pick one: it goes into your message at the cursor. Edit it and send it yourself."),
    "ws_tool_notes": ("Notitie", "Note"),
    "ws_notes_label": ("Je notitie bij dit gesprek", "Your note on this chat"),
    "ws_notes_hint": ("Alleen in dit venster: wordt nooit verstuurd en verdwijnt met het gesprek.",
                      "Only in this window: never sent, and gone with the chat."),
    "ws_tool_handover": ("Doorverbinden", "Hand over"),
    "ws_tool_mentor": ("Mentor laten meelezen", "Ask a mentor to read along"),
    "ws_debrief": ("Nabespreken met een mentor", "Debrief with a mentor"),
    "ws_debrief_hint": ("De mentoren die online zijn krijgen alleen je voornaam en het verzoek om contact op te nemen.",
                        "The mentors online get only your first name and the request to get in touch."),
    "ws_debrief_ask": ("{name} wil graag nabespreken. Neem contact op als je kunt.",
                       "{name} would like a debrief. Get in touch when you can."),
    "ws_debrief_seen": ("Gezien", "Got it"),
    "ws_shortcuts": ("Sneltoetsen: Alt+1 tot en met Alt+9 opent het gesprek met dat nummer in de lijst, Alt+Q opent "
                     "de snelle antwoorden. Enter verstuurt, Shift+Enter begint een nieuwe regel.",
                     "Shortcuts: Alt+1 to Alt+9 opens the conversation with that number in the list, Alt+Q opens the "
                     "quick replies. Enter sends, Shift+Enter starts a new line."),
    "ws_announce_message": ("{label}, {who}: {text}", "{label}, {who}: {text}"),
    "ws_announce_ended": ("{label} is beëindigd ({reason}). De afronding staat bij dat gesprek.",
                          "{label} has ended ({reason}). Its wrap-up is with that chat."),
    "ws_leave_warning": ("Er zijn nog gesprekken open. Als je deze pagina verlaat, worden ze beëindigd.",
                         "Chats are still open. Leaving this page ends them."),
    "al_waiting": ("Er wacht iemand", "Someone is waiting"),
    "al_chat_message": ("Nieuw bericht in gesprek {n}", "New message in chat {n}"),
    "al_mail_message": ("Nieuw bericht in {label}", "New message in {label}"),
    "al_mail_new": ("Nieuwe mail", "New mail"),
    "al_title_unread": ("Ongelezen", "Unread"),
    "yes": ("Ja", "Yes"),
    "no": ("Nee", "No"),
    # Help-seeker mail
    "mail_title": ("Een bericht schrijven", "Write a message"),
    "mail_intro": ("Schrijf rustig op wat je bezighoudt. Een getrainde vrijwilliger leest het en schrijft je terug. "
                   "Je krijgt een persoonlijke code: daarmee lees je later het antwoord. Je bericht wordt op je eigen "
                   "apparaat versleuteld; alleen jij en je vrijwilliger kunnen het lezen.",
                   "Take your time to write what is on your mind. A trained volunteer reads it and writes back. "
                   "You get a personal code to read the answer later. Your message is encrypted on your own device; "
                   "only you and your volunteer can read it."),
    "mail_message_label": ("Je bericht", "Your message"),
    "mail_send": ("Versturen", "Send"),
    "mail_working": ("Even geduld: we maken je persoonlijke code en versleutelen je bericht. Dit duurt een paar tellen.",
                     "Please wait: we are making your personal code and encrypting your message. This takes a few seconds."),
    "pow_label_mail": ("Bericht voorbereiden", "Preparing your message"),
    "mail_empty": ("Schrijf eerst een bericht.", "Please write a message first."),
    "mail_code_title": ("Je persoonlijke code", "Your personal code"),
    "mail_code_intro": ("Bewaar deze code goed. Zonder code kan niemand je antwoord openen, ook wij niet. "
                        "We laten hem maar één keer zien.",
                        "Keep this code safe. Without it nobody can open your answer, not even us. "
                        "We show it only once."),
    "mail_copy": ("Kopiëren", "Copy"),
    "mail_copied": ("De code is gekopieerd.", "The code has been copied."),
    "mail_copy_failed": ("Kopiëren lukte niet; schrijf de code over.", "Copying did not work; please write the code down."),
    "mail_print": ("Afdrukken", "Print"),
    "mail_download": ("Opslaan als bestand", "Save as a file"),
    "mail_expires": ("Je berichten worden bewaard tot en met {date}; elke keer dat je terugkomt, schuift die datum op.",
                     "Your messages are kept until {date}; every time you come back, that date moves on."),
    "mail_saved_check": ("Ik heb mijn code bewaard", "I have saved my code"),
    "mail_done": ("Klaar", "Done"),
    "mail_not_saved": ("Bewaar eerst je code en vink het vakje aan.", "Please save your code first and tick the box."),
    "mail_key_unverified": ("De verbinding is niet betrouwbaar: we konden niet controleren dat je bericht alleen "
                            "voor een vrijwilliger van Luisterend Oor leesbaar wordt. Om je te beschermen is het niet "
                            "verstuurd. Probeer het later opnieuw, of bel 113.",
                            "The connection cannot be trusted: we could not check that only a Luisterend Oor volunteer "
                            "will be able to read your message. To protect you it was not sent. Please try again "
                            "later, or call 113."),
    "mail_leave_warning": ("Heb je je code bewaard? Zonder code kun je het antwoord niet lezen.",
                           "Have you saved your code? Without it you cannot read the answer."),
    "mail_file_text": ("Luisterend Oor\n\nJe persoonlijke code: {code}\n\nLees het antwoord op {url}\n"
                       "Bewaar deze code op een veilige plek.\n",
                       "Luisterend Oor\n\nYour personal code: {code}\n\nRead the answer at {url}\n"
                       "Keep this code in a safe place.\n"),
    "mail_to_return": ("Al een code? Lees je antwoord", "Have a code? Read your answer"),
    "return_title": ("Je antwoord lezen", "Read your answer"),
    "return_intro": ("Vul je persoonlijke code in. Hoofdletters, spaties en streepjes maken niet uit.",
                     "Enter your personal code. Capitals, spaces and dashes do not matter."),
    "return_code_label": ("Je code", "Your code"),
    "return_open": ("Openen", "Open"),
    "return_working": ("Even geduld: je berichten worden geopend. Dit duurt een paar tellen.",
                       "Please wait: opening your messages. This takes a few seconds."),
    "return_bad_length": ("Een code heeft 20 tekens (letters en cijfers). Controleer of je alles hebt overgenomen.",
                          "A code has 20 characters (letters and digits). Check that you copied all of it."),
    "return_bad_character": ("Er staat een teken in dat niet in een code voorkomt. Controleer je code.",
                             "There is a character that does not occur in a code. Please check your code."),
    "return_bad_check": ("Deze code klopt niet: er zit waarschijnlijk een tikfout in. Controleer hem teken voor teken.",
                         "This code is not right: there is probably a typo. Please check it character by character."),
    "return_thread_title": ("Jullie berichten", "Your messages"),
    "return_you": ("Jij", "You"),
    "return_volunteer": ("Vrijwilliger", "Volunteer"),
    "return_no_reply": ("Er is nog geen antwoord. Kom later terug; je kunt intussen nog iets schrijven.",
                        "There is no answer yet. Come back later; meanwhile you can write more."),
    "return_write_label": ("Nog iets schrijven", "Write more"),
    "return_sent": ("Je bericht is verstuurd.", "Your message has been sent."),
    "return_delete": ("Alles verwijderen", "Delete everything"),
    "return_delete_confirm": ("Zeker weten? Klik nog eens: alles wordt direct en voorgoed gewist.",
                              "Sure? Click again: everything is erased at once and for good."),
    "return_deleted": ("Je berichten zijn verwijderd.", "Your messages have been deleted."),
    "return_reassign": ("De vrijwilliger die je berichten had, is niet meer beschikbaar. Je gesprek gaat nu naar {name}: "
                        "alleen {name} en jij kunnen het dan lezen.",
                        "The volunteer who had your messages is no longer available. Your conversation now goes to "
                        "{name}: only {name} and you can read it then."),
    "return_reassign_button": ("Doorgeven aan {name}", "Pass on to {name}"),
    "return_reassign_none": ("Je vrijwilliger is niet meer beschikbaar en er is nu niemand anders. Kom later terug.",
                             "Your volunteer is no longer available and there is nobody else now. Please come back later."),
    "return_broken": ("Een bericht kon niet worden gecontroleerd en wordt niet getoond.",
                      "A message could not be verified and is not shown."),
    "return_gap": ("Er ontbreken berichten in dit gesprek. Neem bij twijfel contact op via 113.",
                   "Messages are missing from this conversation. If in doubt, call 113."),
    # Volunteer mail workspace
    "wm_title": ("Mail", "Mail"),
    "wm_available": ("Beschikbaar voor mail", "Available for mail"),
    "wm_empty": ("Geen open berichten.", "No open messages."),
    # A thread's stable short name, from its id (server/mail/desk.py thread_label): never a position.
    "wm_label": ("Mail {label}", "Mail {label}"),
    "wm_waiting_short": ("wacht < 1 uur", "waiting < 1 hour"),
    "wm_answered": ("beantwoord", "answered"),
    # The coarse times the server keeps (whole hours), shown in the volunteer's own time zone.
    "wm_time_today": ("vandaag, rond {time}", "today, around {time}"),
    "wm_time_yesterday": ("gisteren", "yesterday"),
    "wm_last": ("laatste bericht {time}", "last message {time}"),
    "wm_tools": ("Notitie en overdragen", "Note and handover"),
    "wm_note_label": ("Mijn notitie bij deze mail", "My note on this mail"),
    "wm_note_save": ("Notitie bewaren", "Save note"),
    "wm_note_saved": ("Je notitie is versleuteld bewaard.", "Your note has been saved, encrypted."),
    "wm_note_deleted": ("Je notitie is verwijderd.", "Your note has been deleted."),
    "wm_note_broken": ("Je notitie kon niet worden gecontroleerd en wordt niet getoond.",
                       "Your note could not be verified and is not shown."),
    "wm_note_pass": ("Mijn notitie meegeven aan de collega", "Pass my note on to the colleague"),
    "wm_reply_label": ("Je antwoord", "Your reply"),
    "wm_send": ("Antwoord versturen", "Send reply"),
    "wm_handled": ("Afgehandeld", "Mark handled"),
    "wm_handover_label": ("Overdragen aan collega", "Hand over to a colleague"),
    "wm_handover": ("Overdragen", "Hand over"),
    "wm_handed_over": ("Overgedragen aan {name}.", "Handed over to {name}."),
    "wm_sent": ("Je antwoord is verstuurd.", "Your reply has been sent."),
    "wm_broken": ("Een bericht kon niet worden gecontroleerd en wordt niet getoond.",
                  "A message could not be verified and is not shown."),
    "wm_close": ("Sluiten", "Close"),
    "wm_gap": ("Er ontbreken berichten in dit gesprek (volgnummers lopen niet door).",
               "Messages are missing from this thread (the sequence numbers skip)."),
    # Coordinator: dashboard, volunteer management, statistics (server/coordinator.py)
    "co_title": ("Coördinator", "Coordinator"),
    "co_nav": ("Coördinatie", "Coordination"),
    "co_open": ("Coördinatie openen (nieuw venster: je gesprekken hier lopen door)",
                "Open coordination (new window: your chats here carry on)"),
    "co_dashboard": ("Overzicht", "Dashboard"),
    "co_statistics": ("Statistiek", "Statistics"),
    "co_login_needed": ("Deze pagina is voor coördinatoren. Log eerst in op de vrijwilligerspagina en open "
                        "daarna deze pagina opnieuw.",
                        "This page is for coordinators. Log in on the volunteer page first, then open this "
                        "page again."),
    "co_to_login": ("Naar inloggen", "Go to login"),
    "co_live_title": ("Nu", "Right now"),
    "co_live_intro": ("Deze cijfers worden elke 15 seconden bijgewerkt. Ze zeggen niets over de inhoud van "
                      "gesprekken.", "These figures are updated every 15 seconds. They say nothing about what "
                      "conversations are about."),
    "co_live_updated": ("Bijgewerkt om {time}", "Updated at {time}"),
    "co_live_stale": ("Bijwerken lukt nu niet; de cijfers kunnen verouderd zijn.",
                      "Updating does not work right now; the figures may be out of date."),
    "co_live_caption": ("Chat en mail op dit moment", "Chat and mail right now"),
    # Label: number, so that no noun has to agree with a count.
    "co_live_summary": ("Wachtende chats: {waiting}, langste wachttijd {longest}. Beschikbaar voor nieuwe chats: "
                        "{chat}. Partners beschikbaar: {partners}. Overdrachten die wachten op een partner: "
                        "{handovers}. Mentoren online: {mentors}. Beschikbaar voor mail: {mail}.",
                        "Chats waiting: {waiting}, longest wait {longest}. Available for new chats: {chat}. "
                        "Partners available: {partners}. Handovers waiting for a partner: {handovers}. "
                        "Mentors online: {mentors}. Available for mail: {mail}."),
    "co_live_counts": ("Elk cijfer telt één ding. Beschikbaar voor nieuwe chats: vrijwilligers en mentoren die "
                       "chats uit de wachtrij aannemen (niet wie pauze heeft). Partners (zoals 113) nemen alleen "
                       "overgedragen chats aan en tellen daar niet mee. Mentoren online kunnen meelezen en "
                       "nabespreken, ook als ze zelf geen chats aannemen; een mentor die ook chats aanneemt, staat "
                       "in beide cijfers.",
                       "Each figure counts one thing. Available for new chats: volunteers and mentors who take "
                       "chats from the queue (not those on a break). Partners (such as 113) take handed-over chats "
                       "only and are not counted there. Mentors online can read along and debrief, also when they "
                       "take no chats themselves; a mentor who also takes chats is in both figures."),
    "co_figure": ("Cijfer", "Figure"),
    "co_count": ("Aantal", "Count"),
    "co_value": ("Waarde", "Value"),
    "co_as_table": ("Als tabel", "As a table"),
    "co_chats_waiting": ("Chats die wachten", "Chats waiting"),
    "co_longest_wait": ("Langste wachttijd", "Longest wait"),
    "co_chats_active": ("Chats in gesprek", "Chats in progress"),
    "co_chat_available": ("Beschikbaar voor nieuwe chats (vrijwilligers en mentoren)",
                          "Available for new chats (volunteers and mentors)"),
    "co_partners_available": ("Partners beschikbaar voor overgedragen chats (zoals 113)",
                              "Partners available for handed-over chats (such as 113)"),
    "co_partner_handovers": ("Overdrachten die wachten op een partner", "Handovers waiting for a partner"),
    "co_mentors_online": ("Mentoren online (meelezen, nabespreken)", "Mentors online (read-along, debrief)"),
    "co_mail_available": ("Beschikbaar voor nieuwe mail", "Available for new mail"),
    "co_nobody_waiting": ("niemand", "nobody"),
    "co_mail_open_caption": ("Open mail naar wachttijd van de hulpvrager", "Open mail by the help-seeker's waiting time"),
    "co_mail_band": ("Wacht op antwoord", "Waiting for a reply"),
    "co_threads": ("Draden", "Threads"),
    "co_mail_needs_volunteer": ("Mail die wacht op een nieuwe vrijwilliger", "Mail waiting for a new volunteer"),
    "co_mail_answered": ("Beantwoord, nog open", "Answered, still open"),
    "co_volunteers_title": ("Vrijwilligers", "Volunteers"),
    "co_invite_title": ("Iemand uitnodigen", "Invite someone"),
    "co_role": ("Rol", "Role"),
    "co_invite_chat": ("Mag chats beantwoorden", "May answer chats"),
    "co_invite_mail": ("Mag mail beantwoorden", "May answer mail"),
    "co_invite_submit": ("Uitnodiging maken", "Create invitation"),
    "co_invite_done": ("Inschrijflink voor {name}", "Enrolment link for {name}"),
    "co_invite_once": ("Deze link zie je maar één keer: kopieer hem nu. Wie hem als eerste opent, wordt dit "
                       "account.", "You see this link only once: copy it now. Whoever opens it first becomes "
                       "this account."),
    "co_invite_link": ("Inschrijflink", "Enrolment link"),
    "co_invite_valid": ("Geldig tot {time}.", "Valid until {time}."),
    "co_copy": ("Link kopiëren", "Copy link"),
    "co_copied": ("De link is gekopieerd.", "The link has been copied."),
    "co_copy_failed": ("Kopiëren lukte niet; selecteer de link en kopieer hem zelf.",
                       "Copying did not work; select the link and copy it yourself."),
    "co_list_caption": ("Alle accounts", "All accounts"),
    "co_chat": ("Chat", "Chat"),
    "co_mail": ("Mail", "Mail"),
    "co_active": ("Actief", "Active"),
    "co_enrolled": ("Ingeschreven", "Enrolled"),
    "co_change": ("Wijzigen", "Change"),
    "co_you": ("Dit ben jij.", "This is you."),
    "co_role_of": ("Rol van {name}", "Role of {name}"),
    "co_set_role": ("Rol wijzigen", "Change role"),
    "co_deactivate": ("Deactiveren", "Deactivate"),
    "co_deactivate_confirm": ("{name} deactiveren? Alle sessies van {name} eindigen meteen.",
                              "Deactivate {name}? All sessions of {name} end at once."),
    "co_inactive": ("Gedeactiveerd", "Deactivated"),
    "co_deactivated": ("{name} is gedeactiveerd.", "{name} has been deactivated."),
    "co_role_changed": ("{name} is nu {role}.", "{name} is now {role}."),
    "co_no_accounts": ("Er zijn nog geen accounts.", "There are no accounts yet."),
    "co_working": ("Even geduld…", "Please wait…"),
    "co_qr_title": ("Snelle antwoorden", "Quick replies"),
    "co_qr_intro": ("Korte teksten van de organisatie die vrijwilligers in een chat invoegen en aanpassen voordat "
                    "ze versturen. Schrijf elke tekst in het Nederlands en in het Engels. Zet er niets in over een "
                    "hulpvrager: alle vrijwilligers lezen ze. Hoogstens 50 antwoorden, elk hoogstens 1000 tekens "
                    "per taal.",
                    "Short texts of the organisation that volunteers insert into a chat and adjust before sending. "
                    "Write each one in Dutch and in English. Put nothing in them about a help-seeker: every volunteer "
                    "reads them. At most 50 replies, each at most 1000 characters per language."),
    "co_qr_caption": ("Alle snelle antwoorden", "All quick replies"),
    "co_qr_none": ("Er zijn nog geen snelle antwoorden.", "There are no quick replies yet."),
    "co_qr_number": ("Snel antwoord {n}", "Quick reply {n}"),
    "co_qr_dutch": ("Nederlands", "Dutch"),
    "co_qr_english": ("Engels", "English"),
    "co_qr_add_title": ("Nieuw snel antwoord", "New quick reply"),
    "co_qr_edit_title": ("Snel antwoord {n} wijzigen", "Edit quick reply {n}"),
    "co_qr_add": ("Toevoegen", "Add"),
    "co_qr_save": ("Wijziging opslaan", "Save changes"),
    "co_qr_cancel": ("Annuleren", "Cancel"),
    "co_qr_edit": ("Wijzigen", "Edit"),
    "co_qr_delete": ("Verwijderen", "Delete"),
    "co_qr_delete_confirm": ("Snel antwoord {n} verwijderen? Vrijwilligers zien het dan niet meer.",
                             "Delete quick reply {n}? Volunteers will no longer see it."),
    "co_qr_added": ("Het snelle antwoord is toegevoegd.", "The quick reply has been added."),
    "co_qr_saved": ("De wijziging is opgeslagen.", "The change has been saved."),
    "co_qr_deleted": ("Het snelle antwoord is verwijderd.", "The quick reply has been deleted."),
    "co_qr_full": ("Er zijn 50 snelle antwoorden, het maximum. Verwijder er een om een nieuw toe te voegen.",
                   "There are 50 quick replies, the most there can be. Delete one to add a new one."),
    "co_stats_intro": ("Alleen totalen per dag: niets hier hoort bij één gesprek, één hulpvrager of één "
                       "vrijwilliger.", "Daily totals only: nothing here belongs to one conversation, one "
                       "help-seeker or one volunteer."),
    "co_period": ("Periode", "Period"),
    "co_period_day": ("Dag", "Day"),
    "co_period_week": ("Week", "Week"),
    "co_period_month": ("Maand", "Month"),
    "co_date": ("Een dag in de periode", "A day in the period"),
    "co_show": ("Tonen", "Show"),
    "co_previous": ("Vorige periode", "Previous period"),
    "co_next": ("Volgende periode", "Next period"),
    "co_csv": ("Downloaden als CSV", "Download as CSV"),
    "co_note_title": ("Zo lees je deze cijfers", "How to read these figures"),
    "co_note_small": ("Aantallen van 1 tot en met 4 staan hier en in de CSV als \"<5\"; in een grafiek als een "
                      "gestippelde balk. Zo valt één gesprek niet op.",
                      "Counts from 1 to 4 are shown here and in the CSV as \"<5\"; in a chart as a dotted bar. "
                      "That way a single conversation does not stand out."),
    "co_note_percentiles": ("Wachttijden en duur worden alleen in klassen bewaard. Een percentiel is de bovengrens "
                            "van de klasse waarin het valt: \"≤ 2 min\" betekent hoogstens 2 minuten. Met minder "
                            "dan 5 waarnemingen staat er geen tijd maar \"te weinig\" (in de CSV: "
                            "too-few), zodat één gesprek niet opvalt.",
                            "Waiting times and durations are only kept in classes. A percentile is the upper edge "
                            "of its class: \"≤ 2 min\" means at most 2 minutes. With fewer than 5 observations no "
                            "time is shown but \"too few\" (in the CSV: too-few), so that a single "
                            "conversation does not stand out."),
    "co_note_complement": ("Let op: aanvullende aantallen worden niet apart onderdrukt. Uit aangeboden min "
                           "beantwoord, of uit een week min haar dagen, kan een klein aantal terug te rekenen zijn. "
                           "Deel daarom alleen totalen die je nodig hebt.",
                           "Note: complementary counts are not suppressed separately. Offered minus answered, or "
                           "a week minus its days, may reveal a small count. Share only the totals you need."),
    "co_note_days": ("Dagen lopen van middernacht tot middernacht UTC. De tijd tot het eerste mailantwoord is "
                     "in hele klokuren gemeten.",
                     "Days run from midnight to midnight UTC. The time to the first mail reply is measured in "
                     "whole clock hours."),
    "co_suppressed_note": ("Gestippeld: minder dan 5.", "Dotted: fewer than 5."),
    "co_too_few": ("te weinig", "too few"),
    "co_heading_day": ("Dag: {label}", "Day: {label}"),
    "co_heading_week": ("{label}", "{label}"),
    "co_heading_month": ("Maand: {label}", "Month: {label}"),
    "co_current_day": ("vandaag", "today"),
    "co_current_week": ("deze week", "this week"),
    "co_current_month": ("deze maand", "this month"),
    "co_none": ("geen", "none"),
    "co_chat_caption": ("Chat in deze periode", "Chat in this period"),
    "co_offered": ("Aangeboden", "Offered"),
    "co_answered": ("Beantwoord", "Answered"),
    "co_abandoned": ("Weggegaan tijdens het wachten", "Left while waiting"),
    "co_finished": ("Afgeronde gesprekken", "Conversations ended"),
    "co_wait_p50": ("Wachttijd tot antwoord, mediaan (p50)", "Wait until answered, median (p50)"),
    "co_wait_p90": ("Wachttijd tot antwoord, p90", "Wait until answered, p90"),
    "co_abandon_p50": ("Wachttijd tot weggaan, mediaan (p50)", "Wait before leaving, median (p50)"),
    "co_abandon_p90": ("Wachttijd tot weggaan, p90", "Wait before leaving, p90"),
    "co_age_unknown": ("onbekend", "unknown"),
    "co_scroll_hint": ("Schuif de tabel opzij voor alle kolommen.", "Swipe the table sideways for every column."),
    "co_length_p50": ("Gespreksduur, mediaan (p50)", "Conversation length, median (p50)"),
    "co_length_p90": ("Gespreksduur, p90", "Conversation length, p90"),
    "co_wrapups": ("Afrondingsformulieren", "Wrap-up forms"),
    "co_debriefs": ("Verzoeken om na te bespreken (aan een mentor)", "Debrief requests (to a mentor)"),
    "co_handovers_caption": ("Overdrachten tijdens een chat", "Handovers during a chat"),
    "co_outcome": ("Uitkomst", "Outcome"),
    "co_handover_accepted": ("Aangenomen", "Accepted"),
    "co_handover_declined": ("Geweigerd", "Declined"),
    "co_handover_expired": ("Verlopen", "Expired"),
    "co_handed_over_caption": ("Doorverbonden volgens het afrondingsformulier", "Handed over according to the wrap-up form"),
    "co_answer": ("Antwoord", "Answer"),
    "co_wait_chart": ("Wachttijd tot antwoord", "Wait until answered"),
    "co_abandon_chart": ("Wachttijd tot weggaan", "Wait before leaving"),
    "co_length_chart": ("Gespreksduur", "Conversation length"),
    "co_topics": ("Onderwerpen (afrondingsformulier)", "Topics (wrap-up form)"),
    "co_ages": ("Leeftijdsgroepen (afrondingsformulier)", "Age bands (wrap-up form)"),
    "co_class": ("Klasse", "Class"),
    "co_topic": ("Onderwerp", "Topic"),
    "co_age": ("Leeftijdsgroep", "Age band"),
    "co_mail_caption": ("Mail in deze periode", "Mail in this period"),
    "co_mail_offered": ("Nieuwe berichten (draden)", "New messages (threads)"),
    "co_first_replies": ("Eerste antwoorden", "First replies"),
    "co_reply_p50": ("Tijd tot eerste antwoord, mediaan (p50)", "Time to first reply, median (p50)"),
    "co_reply_p90": ("Tijd tot eerste antwoord, p90", "Time to first reply, p90"),
    "co_reply_chart": ("Tijd tot het eerste antwoord", "Time to the first reply"),
    "co_days_title": ("Per dag", "Per day"),
    "co_days_caption": ("Chat en mail per dag", "Chat and mail per day"),
    "co_day": ("Dag", "Day"),
    "co_chats_per_day": ("Chats aangeboden per dag", "Chats offered per day"),
    "co_mail_per_day": ("Nieuwe mail per dag", "New mail per day"),
    # Errors
    "error_title": ("Er ging iets mis", "Something went wrong"),
    "not_found": ("Deze pagina bestaat niet.", "This page does not exist."),
    "to_home": ("Naar de startpagina", "To the home page"),
    # Answers to requests (server/errors.py and the raise sites of the HTTP API, the desk, accounts, gateway)
    # ... each error class's own sentence (server/errors.py), and the middleware's (server/http.py)
    "bad_request": ("Dit verzoek klopt niet.", "This request is not valid."),
    "unauthorized": ("Je bent niet (meer) ingelogd.", "You are not (or no longer) logged in."),
    "forbidden": ("Dit mag niet.", "This is not allowed."),
    "resource_not_found": ("Niet gevonden.", "Not found."),
    "too_many_requests": ("Te veel pogingen. Wacht even en probeer het opnieuw.",
                          "Too many attempts. Please wait a moment and try again."),
    "busy": ("Het is nu erg druk. Probeer het over een paar minuten opnieuw. Heb je direct hulp nodig? "
             "Bel 113 of 112.",
             "It is very busy right now. Please try again in a few minutes. Need help right away? "
             "Call 113 or 112."),
    "method_not_allowed": ("Deze methode is hier niet toegestaan.", "Method not allowed here."),
    "request_too_large": ("Het verzoek is te groot.", "The request is too large."),
    "internal_error": ("Er ging iets mis aan onze kant. Er is niets bewaard.",
                       "Something went wrong on our side. Nothing was stored."),
    "crypto_refused": ("Dit verzoek bevat gegevens die niet kloppen. Laad de pagina opnieuw.",
                       "This request holds data that is not valid. Please reload the page."),
    # ... to the body and origin of any request (server/http.py)
    "other_site": ("Verzoek van een andere website geweigerd.", "Request from another site refused."),
    "json_expected": ("Verwacht JSON.", "Expected a JSON body (Content-Type: application/json)."),
    "json_invalid": ("Ongeldige JSON.", "The body is not valid JSON."),
    "json_object_expected": ("Verwacht een JSON-object.", "Expected a JSON object."),
    "field_missing": ("Veld {field} ontbreekt.", "Field {field} is missing."),
    "field_invalid": ("Veld {field} is ongeldig.", "Field {field} is not valid."),
    "field_missing_or_invalid": ("Veld {field} ontbreekt of is ongeldig.", "Field {field} is missing or not valid."),
    "field_not_boolean": ("Veld {field} moet waar of onwaar zijn.", "Field {field} must be true or false."),
    # ... about accounts, enrolment and login (server/accounts.py, server/api.py)
    "name_missing": ("Vul een naam in.", "Please enter a name."),
    "name_invalid": ("Een naam heeft 1 tot 40 tekens: letters en cijfers, met spatie, koppelteken, apostrof of "
                     "punt ertussen (zoals Anne-Marie, O'Brien, Jan Jr. of Team 113).",
                     "A name has 1 to 40 characters: letters and digits, with a space, hyphen, apostrophe or full "
                     "stop between them (such as Anne-Marie, O'Brien, Jan Jr. or Team 113)."),
    # The roles are written out (storage.ROLES; tests/server/test_catalogue.py checks they agree).
    "role_unknown": ("Onbekende rol.", "Unknown role; choose one of volunteer, mentor, partner, coordinator."),
    "role_choose": ("Kies een rol uit de lijst.", "Choose a role: volunteer, mentor, partner, coordinator."),
    # The English names the volunteer, the Dutch does not: as the coordinator's page has always shown it.
    "name_taken_named": ("Er is al een vrijwilliger met deze naam.", "A volunteer named {name!r} exists already."),
    "name_taken": ("Er is al een vrijwilliger met deze naam.", "A volunteer with this name exists already."),
    "invitation_used": ("Deze uitnodiging is al gebruikt. Vraag je coördinator om een nieuwe.",
                        "This invitation has been used already. Ask your coordinator for a new one."),
    "invitation_expired": ("Deze uitnodiging is verlopen. Vraag je coördinator om een nieuwe.",
                           "This invitation has expired. Ask your coordinator for a new one."),
    "invitation_unknown": ("Deze uitnodiging bestaat niet (meer). Controleer de link of vraag een nieuwe.",
                           "This invitation does not exist (any more). Check the link or ask for a new one."),
    "kdf_mismatch": ("De sleutelafleiding gebruikte verkeerde instellingen. Laad de pagina opnieuw.",
                     "Key derivation used the wrong parameters. Please reload the page."),
    "keys_mismatch": ("De sleutels passen niet bij elkaar. Laad de pagina opnieuw.",
                      "The keys do not match each other. Please reload the page."),
    "login_wrong": ("Naam of wachtwoordzin klopt niet.", "Name or passphrase is not right."),
    "login_network_limit": ("Te veel inlogpogingen vanaf dit netwerk. Probeer het over een minuut opnieuw.",
                            "Too many login attempts from this network. Please try again in a minute."),
    "account_deactivated": ("Dit account is gedeactiveerd. Neem contact op met je coördinator.",
                            "This account has been deactivated. Please contact your coordinator."),
    "not_set_up_chat": ("Je account is niet ingesteld voor chat.", "Your account is not set up for chat."),
    "not_set_up_mail": ("Je account is niet ingesteld voor mail.", "Your account is not set up for mail."),
    # ... to a coordinator (server/coordinator.py)
    "coordinators_only": ("Dit is alleen voor coördinatoren.", "This is for coordinators only."),
    "no_such_account": ("Er is geen account met deze naam.", "There is no account with this name."),
    "own_account_deactivate": ("Je kunt je eigen account niet deactiveren.", "You cannot deactivate your own account."),
    "own_role_change": ("Je kunt je eigen rol niet wijzigen.", "You cannot change your own role."),
    "last_coordinator": ("Dan is er geen actieve coördinator meer. Maak eerst iemand anders coördinator.",
                         "Then there would be no active coordinator left. Make someone else coordinator first."),
    "quick_reply_empty": ("Vul het snelle antwoord in het Nederlands en in het Engels in.",
                          "Please write the quick reply in both Dutch and English."),
    "quick_reply_too_long": ("Een snel antwoord is hoogstens 1000 tekens lang, per taal.",
                             "A quick reply is at most 1000 characters long, in each language."),
    "quick_replies_full": ("Er zijn al 50 snelle antwoorden, het maximum. Verwijder er eerst een.",
                           "There are 50 quick replies already, the most there can be. Delete one first."),
    "no_such_quick_reply": ("Dit snelle antwoord bestaat niet (meer).", "This quick reply does not exist (any more)."),
    # ... about anonymous mail (server/mail/desk.py, server/mail/api.py)
    "pow_failed": ("De controle is verlopen; probeer opnieuw.", "The check expired or was wrong; please try again."),
    "no_mail_volunteer": ("Er is op dit moment niemand om mail te beantwoorden. Probeer het later opnieuw, "
                          "of bel 113 of 112.",
                          "Nobody can answer mail at the moment. Please try again later, or call 113 or 112."),
    "mail_code_unknown": ("We vinden geen berichten bij deze code. Controleer de code, of begin een nieuw bericht.",
                          "We find no messages for this code. Check the code, or start a new message."),
    "mail_code_taken": ("Deze code is al in gebruik. Begin opnieuw.", "This code is in use already. Start again."),
    "message_missing": ("Bericht ontbreekt.", "The message is missing."),
    "seq_invalid": ("Volgnummer ongeldig.", "Invalid sequence number."),
    "signature_invalid": ("Het bericht is niet goed ondertekend. Laad de pagina opnieuw.",
                          "The message is not signed correctly. Please reload the page."),
    "wraps_missing": ("Sleutels ontbreken.", "Re-wrapped keys are missing."),
    "wraps_invalid": ("Sleutels ongeldig.", "Re-wrapped keys are not valid."),
    "assignment_expired": ("Het versturen duurde te lang. Probeer het opnieuw; je tekst staat er nog.",
                           "Sending took too long. Please try again; your text is still there."),
    "choose_new_volunteer_first": ("Je bericht gaat eerst naar een nieuwe vrijwilliger.",
                                   "First choose a new volunteer."),
    "choose_volunteer_again": ("Kies opnieuw een vrijwilliger.", "Please choose a volunteer again."),
    "colleague_cannot_mail": ("Deze collega kan geen mail aannemen.", "This colleague cannot take mail."),
    "note_invalid": ("Deze notitie kan niet worden bewaard. Laad de mail opnieuw.",
                     "This note cannot be kept. Reload the mail."),
    "thread_changed_reload": ("Het gesprek is intussen veranderd. Laad het opnieuw; je tekst staat er nog.",
                              "The thread changed in the meantime. Reload it; your text is still there."),
    "thread_changed_retry": ("Het gesprek is intussen veranderd. Probeer het opnieuw.",
                             "The thread changed in the meantime. Please try again."),
    "stats_bad_period": ("Kies als periode dag, week of maand.", "Choose day, week or month as the period."),
    "stats_bad_date": ("Geef een datum als JJJJ-MM-DD.", "Give a date as YYYY-MM-DD."),
    # -- end of answers to requests --
    # Chat answers (server/chat/: error frames and chat notices)
    # ... to the upgrade, as HTTP errors (server/chat/ws.py, server/chat/limits.py)
    "chat_other_site": ("Verbinding van een andere website geweigerd.", "Connection from another site refused."),
    "chat_too_many_connections": ("Te veel verbindingen tegelijk. Wacht even en probeer het opnieuw.",
                                  "Too many connections at once. Please wait a moment and try again."),
    # ... to a frame that could not be read (server/chat/frames.py), or that crypto refused
    "chat_text_only": ("Alleen tekstframes.", "Text frames only."),
    "chat_too_large": ("Bericht te groot.", "Frame too large."),
    "chat_bad_json": ("Ongeldig bericht.", "Frame is not valid JSON."),
    "chat_not_an_object": ("Ongeldig bericht.", "Frame must be an object with a type."),
    "chat_unknown_type": ("Onbekend berichttype.", "Unknown frame type."),
    "chat_wrong_fields": ("Velden kloppen niet.", "Missing or unexpected fields."),
    "chat_bad_field": ("Ongeldig veld: {field}.", "Invalid field: {field}."),
    "chat_bad_input": ("Ongeldig bericht.", "Invalid frame."),
    # ... on the socket itself (server/chat/ws.py)
    "chat_slow_down": ("Te veel berichten tegelijk.", "Too many frames at once."),
    "chat_open_timeout": ("Het gesprek is niet op tijd gestart. Probeer het opnieuw.",
                          "The chat did not start in time. Please try again."),
    "chat_session_ended": ("Je sessie is beëindigd. Log opnieuw in.", "Your session has ended. Please log in again."),
    "chat_already_open": ("Er loopt al een gesprek.", "A chat is already open."),
    "chat_no_chat": ("Er is geen gesprek.", "There is no chat."),
    "chat_blocked": ("Je kunt nu geen nieuw gesprek starten. Probeer het later opnieuw. "
                     "Heb je direct hulp nodig? Bel 113 of 112.",
                     "You cannot start a new chat right now. Please try again later. "
                     "Need help right away? Call 113 or 112."),
    "chat_bad_pow": ("De controle is verlopen; probeer opnieuw.", "The check expired or was wrong; please try again."),
    # ... from the queue and assignment (server/chat/assignment.py, room.py)
    "chat_no_volunteers": ("Er is nu niemand beschikbaar voor chat.", "Nobody is available for chat right now."),
    "chat_busy": ("Het is nu erg druk. Probeer het over een paar minuten opnieuw.",
                  "It is very busy right now. Please try again in a few minutes."),
    "chat_nothing_to_pick_up": ("Er wacht niemand (of je zit vol).", "Nobody is waiting (or you are at capacity)."),
    "chat_not_offered": ("Dit gesprek is niet (meer) aan jou toegewezen.",
                         "This chat is not (or no longer) assigned to you."),
    "chat_keys_not_ready": ("Je sleutel staat nu niet (meer) in een bevestigd logboek: je kunt dit gesprek "
                            "niet aannemen.",
                            "Your key is not (or no longer) in a confirmed log: you cannot take this chat."),
    "chat_unknown_chat": ("Dit gesprek bestaat niet (meer).", "This chat does not exist (any more)."),
    "chat_seeker_not_connected": ("Dat kan nu niet: de hulpvrager is niet verbonden.",
                                  "Not possible right now: the help-seeker is not connected."),
    "chat_no_wrapup": ("Voor dit gesprek is geen afronding open.", "No wrap-up is open for this chat."),
    "chat_bad_wrapup": ("Kies een onderwerp en een leeftijdsgroep uit de lijst.",
                        "Choose a topic and an age band from the list."),
    # ... from the relay (server/chat/relay.py)
    "chat_no_volunteer_yet": ("Er is nog geen vrijwilliger verbonden.", "No volunteer yet."),
    "chat_out_of_order": ("Bericht in de verkeerde volgorde.", "Message out of order."),
    "chat_link_taken": ("Probeer het opnieuw.", "Please try again (link id in use)."),
    "chat_unknown_link": ("Deze verbinding bestaat niet (meer).", "This link does not exist (any more)."),
    "chat_readalong_not_started": ("Het meelezen is nog niet begonnen.", "The read-along has not started yet."),
    "chat_link_one_way": ("Deze verbinding is alleen voor de overdrachtsnotitie.",
                          "This link only carries the handover note."),
    # ... from read-along (server/chat/readalong.py)
    "chat_mentor_offline": ("Deze mentor is niet online.", "This mentor is not online."),
    "chat_already_reading": ("Er leest al een mentor mee.", "A mentor is reading along already."),
    "chat_no_mentor_request": ("Er is geen verzoek.", "There is no request."),
    "chat_unknown_readalong": ("Dit meelezen bestaat niet (meer).", "This read-along does not exist (any more)."),
    "chat_not_asked": ("Er is geen vraag om mee te lezen.", "You were not asked to read along."),
    "chat_no_mentor_reading": ("Er leest geen mentor mee.", "No mentor is reading along."),
    # ... from handover (server/chat/handover.py)
    "chat_handover_pending": ("Er loopt al een overdracht.", "A handover is already under way."),
    "chat_no_partner": ("Deze partner bestaat niet.", "There is no such partner."),
    "chat_colleague_offline": ("Deze collega is niet online.", "This colleague is not online."),
    "chat_paused": ("Je hebt pauze: zet de pauze uit om een gesprek aan te nemen.",
                    "You are on a break: switch the break off to take a chat."),
    "chat_no_mentor_online": ("Er is nu geen mentor online.", "No mentor is online right now."),
    "chat_colleague_paused": ("Deze collega heeft pauze.", "This colleague is on a break."),
    "chat_keys_pending": ("Je sleutel is nog niet ondertekend door een coördinator: je kunt nog geen gesprekken "
                          "aannemen.",
                          "Your key has not been signed by a coordinator yet: you cannot take chats yet."),
    "chat_colleague_keys_pending": ("De sleutel van deze collega is nog niet ondertekend.",
                                    "This colleague's key has not been signed yet."),
    "chat_no_handover_question": ("Er is geen vraag om over te dragen.", "There is no handover question."),
    "chat_no_handover": ("Er loopt geen overdracht.", "No handover is under way."),
    "chat_handover_not_ready": ("Dit gesprek kan nog niet worden overgenomen; probeer het zo opnieuw.",
                                "This chat cannot be taken over yet; try again shortly."),
    "chat_seeker_away": ("De hulpvrager is even weg; probeer het zo opnieuw.",
                         "The help-seeker is away for a moment; try again shortly."),
    # -- end of chat answers --
}


# Entries with a count. A key is in TEXTS or in PLURALS, never both (tests/server/test_plural_rules.py).
PLURALS: dict[str, Plural] = {
    # Entries with a count that were in TEXTS before issue 15 (point 13). Dutch "uur" has one form after a number.
    # Accounts and enrolment
    "login_locked": Plural("retry_after", {"one": "Te veel mislukte pogingen. Probeer het over {retry_after} seconde opnieuw.",
                                           "other": "Te veel mislukte pogingen. Probeer het over {retry_after} seconden "
                                                    "opnieuw."},
                           {"one": "Too many failed attempts. Try again in {retry_after} second.",
                            "other": "Too many failed attempts. Try again in {retry_after} seconds."}),
    "passphrase_hint": Plural("n", {"one": "Minstens {n} teken. Een zin van een paar losse woorden is sterk en goed te "
                                           "onthouden.",
                                    "other": "Minstens {n} tekens. Een zin van een paar losse woorden is sterk en goed "
                                             "te onthouden."},
                              {"one": "At least {n} character. A few unrelated words make a strong, memorable "
                                      "passphrase.",
                               "other": "At least {n} characters. A few unrelated words make a strong, memorable "
                                        "passphrase."}),
    "passphrase_too_short": Plural("n", {"one": "Je wachtwoordzin is te kort: gebruik minstens {n} teken.",
                                         "other": "Je wachtwoordzin is te kort: gebruik minstens {n} tekens."},
                                   {"one": "Your passphrase is too short: use at least {n} character.",
                                    "other": "Your passphrase is too short: use at least {n} characters."}),
    # Help-seeker chat (and the counter under every message field)
    "chat_someone": Plural("n", {"one": "Er is iemand beschikbaar. Op dit moment wacht er {n} persoon.",
                                 "other": "Er is iemand beschikbaar. Op dit moment wachten er {n} mensen."},
                           {"one": "Someone is available. {n} person is waiting right now.",
                            "other": "Someone is available. {n} people are waiting right now."}),
    "chat_position": Plural("minutes", {"one": "Je bent nummer {position} in de rij. Geschatte wachttijd: ongeveer "
                                               "{minutes} minuut.",
                                        "other": "Je bent nummer {position} in de rij. Geschatte wachttijd: ongeveer "
                                                 "{minutes} minuten."},
                            {"one": "You are number {position} in the queue. Estimated wait: about {minutes} minute.",
                             "other": "You are number {position} in the queue. Estimated wait: about {minutes} "
                                      "minutes."}),
    "chat_counter": Plural("max", {"one": "{n} van {max} teken", "other": "{n} van {max} tekens"},
                           {"one": "{n} of {max} character", "other": "{n} of {max} characters"}),
    "chat_too_long": Plural("max", {"one": "Je bericht is te lang: maximaal {max} teken.",
                                    "other": "Je bericht is te lang: maximaal {max} tekens."},
                            {"one": "Your message is too long: at most {max} character.",
                             "other": "Your message is too long: at most {max} characters."}),
    # Volunteer chat workspace
    "ws_handovers_waiting": Plural("n", {"one": "{n} doorverbonden gesprek wacht op jou.",
                                         "other": "{n} doorverbonden gesprekken wachten op jou."},
                                   {"one": "{n} handed-over chat is waiting for you.",
                                    "other": "{n} handed-over chats are waiting for you."}),
    "ws_queue_item": Plural("minutes", {"one": "wacht {minutes} minuut", "other": "wacht {minutes} minuten"},
                            {"one": "waiting {minutes} minute", "other": "waiting {minutes} minutes"}),
    "ws_capacity": Plural("capacity", {"one": "Je hebt {holding} van {capacity} gesprek.",
                                       "other": "Je hebt {holding} van {capacity} gesprekken."},
                          {"one": "You have {holding} of {capacity} chat.",
                           "other": "You have {holding} of {capacity} chats."}),
    # Help-seeker mail, after sending
    "mail_expect": Plural("hours", {"one": "Je kunt binnen ongeveer {hours} uur een antwoord verwachten. Lees het op "
                                           "{url} met je code.",
                                    "other": "Je kunt binnen ongeveer {hours} uur een antwoord verwachten. Lees het op "
                                             "{url} met je code."},
                          {"one": "You can expect an answer within about {hours} hour. Read it at {url} with your code.",
                           "other": "You can expect an answer within about {hours} hours. Read it at {url} with your "
                                    "code."}),
    # Coordinator: durations and bands of the live figures, the invitation
    "co_seconds": Plural("n", {"one": "{n} seconde", "other": "{n} seconden"},
                         {"one": "{n} second", "other": "{n} seconds"}),
    "co_minutes": Plural("n", {"one": "{n} minuut", "other": "{n} minuten"},
                         {"one": "{n} minute", "other": "{n} minutes"}),
    "co_band_below": Plural("n", {"one": "korter dan {n} uur", "other": "korter dan {n} uur"},
                            {"one": "less than {n} hour", "other": "less than {n} hours"}),
    "co_band_above": Plural("n", {"one": "{n} uur of langer", "other": "{n} uur of langer"},
                            {"one": "{n} hour or more", "other": "{n} hours or more"}),
    "co_band_range": Plural("b", {"one": "{a} tot {b} uur", "other": "{a} tot {b} uur"},
                            {"one": "{a} to {b} hour", "other": "{a} to {b} hours"}),
    "co_invite_intro": Plural("hours", {"one": "Je krijgt een inschrijflink die één keer werkt en {hours} uur geldig is. "
                                               "Stuur hem via een kanaal dat je vertrouwt.",
                                        "other": "Je krijgt een inschrijflink die één keer werkt en {hours} uur geldig "
                                                 "is. Stuur hem via een kanaal dat je vertrouwt."},
                              {"one": "You get an enrolment link that works once and is valid for {hours} hour. Send it "
                                      "through a channel you trust.",
                               "other": "You get an enrolment link that works once and is valid for {hours} hours. "
                                        "Send it through a channel you trust."}),
    # Volunteer mail workspace (web/js/mailwork.js); 0 hours is wm_waiting_short ("< 1 uur").
    "wm_waiting": Plural("hours", {"one": "wacht {hours} uur", "other": "wacht {hours} uur"},
                         {"one": "waiting {hours} hour", "other": "waiting {hours} hours"}),
    "wm_unread_count": Plural("n", {"one": "{n} ongelezen", "other": "{n} ongelezen"},
                              {"one": "{n} unread", "other": "{n} unread"}),
    "wm_note_hint": Plural("max", {"one": "Alleen jij kunt hem lezen: hij wordt op dit apparaat versleuteld met je "
                                          "eigen sleutel. Ten hoogste {max} teken.",
                                   "other": "Alleen jij kunt hem lezen: hij wordt op dit apparaat versleuteld met je "
                                            "eigen sleutel. Ten hoogste {max} tekens."},
                           {"one": "Only you can read it: it is encrypted on this device with your own key. "
                                   "At most {max} character.",
                            "other": "Only you can read it: it is encrypted on this device with your own key. "
                                     "At most {max} characters."}),
    # Help-seeker mail page, before writing (web/templates/mail.html).
    "mail_expect_before": Plural("hours", {"one": "Een vrijwilliger leest je bericht en antwoordt meestal binnen "
                                                  "{hours} uur. Je hoeft daar niet op te wachten: met je code lees je "
                                                  "het antwoord later.",
                                           "other": "Een vrijwilliger leest je bericht en antwoordt meestal binnen "
                                                    "{hours} uur. Je hoeft daar niet op te wachten: met je code lees "
                                                    "je het antwoord later."},
                                 {"one": "A volunteer reads your message and usually answers within {hours} hour. "
                                         "You need not wait for it: with your code you read the answer later.",
                                  "other": "A volunteer reads your message and usually answers within {hours} hours. "
                                           "You need not wait for it: with your code you read the answer later."}),
    "ws_unread": Plural("n", {"one": "{n} nieuw bericht", "other": "{n} nieuwe berichten"},
                        {"one": "{n} new message", "other": "{n} new messages"}),
    "ws_debrief_sent": Plural("n", {"one": "Je verzoek is naar {n} mentor gestuurd.",
                                    "other": "Je verzoek is naar {n} mentoren gestuurd."},
                              {"one": "Your request went to {n} mentor.", "other": "Your request went to {n} mentors."}),
    "ws_queue_waiting": Plural("n", {"one": "Er wacht {n} persoon.", "other": "Er wachten {n} mensen."},
                               {"one": "{n} person is waiting.", "other": "{n} people are waiting."}),
}


def message(key: str, **values: object) -> dict[str, str]:
    """Both languages of one entry, filled in: what error answers and frames carry."""
    return {lang: text(key, lang, **values) for lang in LANGUAGES}


def text(key: str, lang: str, **values: object) -> str:
    entry = PLURALS.get(key)
    if entry is not None:
        if entry.count not in values:
            raise KeyError(f"{key} needs its count {entry.count!r}")
        forms = entry.en if lang == "en" else entry.nl
        return forms[plural_form(lang, values[entry.count])].format(**values)
    nl, en = TEXTS[key]
    s = en if lang == "en" else nl
    return s.format(**values) if values else s


def forms(key: str, lang: str) -> str | dict[str, str]:
    """What a page gets for `key`: the sentence, or for a plural entry its forms and the count's name."""
    entry = PLURALS.get(key)
    if entry is not None:
        return {"count": entry.count, **(entry.en if lang == "en" else entry.nl)}
    nl, en = TEXTS[key]
    return en if lang == "en" else nl


def pick_language(query_value: str | None) -> str:
    return "en" if query_value == "en" else "nl"
