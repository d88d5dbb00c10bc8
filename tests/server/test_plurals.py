"""Issue 15, point 13: plurals are right everywhere, from one catalogue with a plural rule per language.

Every entry whose words depend on a number is in `PLURALS` (server/i18n.py) with a "one" and an "other"
form in Dutch and English; `text()` picks the form by `plural_form`, the page by `Intl.PluralRules`
(web/js/ui.js), and the two rules agree. No sentence in `TEXTS` still carries a count ("{n} mensen"
for n = 1), and no sentence half-writes a plural ("gesprek(ken)", "chat(s)").
"""

from __future__ import annotations

import json
import re
import shutil
import string
import subprocess

import pytest

from server.i18n import LANGUAGES, PLURALS, TEXTS, forms, plural_form, text

# Placeholders that hold a count: a TEXTS sentence with one of these would be wrong for 1 or for the
# other numbers. ("percent" is not among them: "{percent}%" reads the same for every number.)
COUNTS = {"n", "count", "minutes", "hours", "seconds", "days", "weeks", "max", "capacity", "holding",
          "retry_after", "waiting", "mentors", "partners", "handovers", "threads", "unread", "messages"}
# Where `{n}` is a number that names something (the conversation numbered 2), not how many there are.
NUMBERS_AS_NAMES = {"ws_chat_heading", "al_chat_message", "co_qr_number", "co_qr_edit_title", "co_qr_delete_confirm"}
# Words that have one form after every number: a plural entry may then have the same two forms.
INVARIANT = {"nl": ("uur", "ongelezen"), "en": ("unread",)}
HALF_PLURALS = re.compile(r"\w\((s|en|ken|n)\)")


def placeholders(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name}


def sample(key: str, n: int) -> dict[str, object]:
    """Values for every placeholder of a plural entry, the count set to n."""
    entry = PLURALS[key]
    names = set().union(*(placeholders(s) for lang in (entry.nl, entry.en) for s in lang.values()))
    return {name: (n if name == entry.count else f"<{name}>") for name in names}


def test_there_are_plural_entries_to_check() -> None:
    # Guard against the checks below passing vacuously.
    assert len(PLURALS) >= 15
    assert {"chat_someone", "chat_position", "ws_queue_waiting", "login_locked"} <= set(PLURALS)


def test_no_key_is_both_a_sentence_and_a_plural() -> None:
    assert not set(TEXTS) & set(PLURALS)


@pytest.mark.parametrize("key", sorted(PLURALS))
def test_every_plural_renders_at_0_1_2_in_both_languages_with_the_right_form(key: str) -> None:
    entry = PLURALS[key]
    for lang, written in (("nl", entry.nl), ("en", entry.en)):
        assert set(written) == {"one", "other"}, (key, lang)
        names = {form: placeholders(sentence) for form, sentence in written.items()}
        assert names["one"] == names["other"], (key, lang, names)
        assert entry.count in names["one"], f"{key}: the count {entry.count!r} is not in its {lang} words"
        assert names["one"] == placeholders(entry.nl["one"]), f"{key}: Dutch and English need other values"
        if written["one"] == written["other"]:
            assert any(re.search(rf"\b{word}\b", written["one"]) for word in INVARIANT[lang]), \
                f"{key} ({lang}): the same words for 1 and for 2 ({written['one']!r})"
        rendered = {n: text(key, lang, **sample(key, n)) for n in (0, 1, 2)}
        for n, sentence in rendered.items():
            assert "{" not in sentence and str(n) in sentence, (key, lang, n, sentence)
        assert rendered[1] == written["one"].format(**sample(key, 1)), (key, lang)
        assert rendered[0] == written["other"].format(**sample(key, 0)), (key, lang)
        assert rendered[2] == written["other"].format(**sample(key, 2)), (key, lang)
        if written["one"] != written["other"]:
            assert rendered[1].replace("1", "#") != rendered[2].replace("2", "#"), (key, lang)


def test_a_plural_needs_its_count() -> None:
    with pytest.raises(KeyError):
        text("chat_someone", "nl")


def test_the_words_people_see_for_one_and_for_more() -> None:
    assert text("ws_queue_waiting", "nl", n=1) == "Er wacht 1 persoon."
    assert text("ws_queue_waiting", "nl", n=3) == "Er wachten 3 mensen."
    assert text("ws_queue_waiting", "en", n=1) == "1 person is waiting."
    assert text("chat_someone", "nl", n=1).endswith("wacht er 1 persoon.")
    assert text("chat_someone", "en", n=2).endswith("2 people are waiting right now.")
    assert text("chat_position", "nl", position=2, minutes=1).endswith("ongeveer 1 minuut.")
    assert text("chat_position", "en", position=2, minutes=5).endswith("about 5 minutes.")
    assert text("ws_handovers_waiting", "nl", n=1) == "1 doorverbonden gesprek wacht op jou."
    assert text("ws_handovers_waiting", "en", n=2) == "2 handed-over chats are waiting for you."
    assert text("login_locked", "en", retry_after=1) == "Too many failed attempts. Try again in 1 second."
    # A count the server suppressed ("<5") takes the other form, as in the page.
    assert plural_form("nl", "<5") == "other"


def test_a_page_gets_the_forms_and_the_name_of_the_count() -> None:
    assert forms("chat_someone", "en") == {"count": "n", **PLURALS["chat_someone"].en}
    assert forms("chat_title", "nl") == TEXTS["chat_title"][0]


def test_the_pages_plural_rule_is_the_servers() -> None:
    """web/js/ui.js picks the form with Intl.PluralRules(nl-NL / en-GB): the same as plural_form."""
    node = shutil.which("node")
    assert node, "node is needed (the page's scripts are checked with it)"
    numbers = list(range(0, 202))
    script = ("const out = {}; for (const [lang, locale] of [['nl', 'nl-NL'], ['en', 'en-GB']]) {"
              " const rules = new Intl.PluralRules(locale);"
              f" out[lang] = {json.dumps(numbers)}.map((n) => rules.select(n)); }}"
              " console.log(JSON.stringify(out));")
    page = json.loads(subprocess.run([node, "-e", script], check=True, capture_output=True, text=True).stdout)
    for lang in LANGUAGES:
        assert page[lang] == [plural_form(lang, n) for n in numbers], lang


def test_no_sentence_still_carries_a_bare_count() -> None:
    """Every TEXTS entry with a count placeholder would be wrong for 1 or for the other numbers, unless the
    number names something ("Gesprek 2") or stands as a figure after a label ("Mentoren online: 1")."""
    offenders = []
    for key, (nl, en) in TEXTS.items():
        if key in NUMBERS_AS_NAMES:
            continue
        for sentence in (nl, en):
            for name in placeholders(sentence) & COUNTS:
                if not re.search(r":\s*\{" + name + r"\}", sentence):
                    offenders.append(f"{key}: {{{name}}} in {sentence!r}")
    assert not offenders, "make these PLURALS entries (server/i18n.py):\n" + "\n".join(offenders)


def test_the_exemptions_are_still_needed() -> None:
    for key in NUMBERS_AS_NAMES:
        assert key in TEXTS and "n" in placeholders(TEXTS[key][0]), key


def test_no_sentence_half_writes_a_plural() -> None:
    everything = [(key, s) for key, pair in TEXTS.items() for s in pair]
    everything += [(key, s) for key, entry in PLURALS.items() for lang in (entry.nl, entry.en) for s in lang.values()]
    offenders = [f"{key}: {s!r}" for key, s in everything if HALF_PLURALS.search(s)]
    assert not offenders, "\n".join(offenders)
    assert HALF_PLURALS.search("gesprek(ken)") and HALF_PLURALS.search("chat(s)")
