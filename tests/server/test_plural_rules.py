"""The plural machinery of the one catalogue (server/i18n.py): `Plural` entries pick "one" or "other" by
the value their `count` names, in Python (`text`, `message`) and in what the pages get (`forms`).

The entries themselves (that every count in the catalogue is a plural entry, with the right words) are
checked in tests/server/test_plurals.py; that the page's `t` picks the same form as Python for the same
number is tests/browser/test_plural_rules_in_browser.py.
"""

from __future__ import annotations

import pytest

from server.i18n import LANGUAGES, PLURALS, TEXTS, Plural, forms, message, plural_form, text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_one_is_only_exactly_one(lang: str) -> None:
    assert plural_form(lang, 1) == "one"
    for n in (0, 2, 3, 5, 11, 21, 100, 101, -1, 1.5, "<5", True):
        assert plural_form(lang, n) == "other", n


def test_an_unknown_language_is_an_error() -> None:
    with pytest.raises(KeyError):
        plural_form("de", 1)


def test_text_picks_the_form_by_the_named_count() -> None:
    assert text("ws_queue_waiting", "nl", n=1) == "Er wacht 1 persoon."
    assert text("ws_queue_waiting", "nl", n=3) == "Er wachten 3 mensen."
    assert text("ws_queue_waiting", "en", n=1) == "1 person is waiting."
    assert text("ws_queue_waiting", "en", n=0) == "0 people are waiting."
    assert message("ws_queue_waiting", n=1) == {"nl": "Er wacht 1 persoon.", "en": "1 person is waiting."}


def test_a_plural_entry_without_its_count_is_refused() -> None:
    with pytest.raises(KeyError, match="count"):
        text("ws_queue_waiting", "nl")


def test_pages_get_the_forms_and_the_count_name() -> None:
    assert forms("ws_queue_waiting", "en") == {"count": "n", "one": "{n} person is waiting.",
                                               "other": "{n} people are waiting."}
    assert forms("ws_queue_empty", "en") == TEXTS["ws_queue_empty"][1]


def test_every_plural_entry_is_whole() -> None:
    assert PLURALS, "no plural entries: the machinery is unused"
    for key, entry in PLURALS.items():
        assert isinstance(entry, Plural), key
        assert key not in TEXTS, f"{key} is in TEXTS and PLURALS"
        for lang_forms in (entry.nl, entry.en):
            assert set(lang_forms) == {"one", "other"}, key
            for sentence in lang_forms.values():
                assert sentence.strip(), key
        # Both languages and both forms fill in the same values, and the form shows its count
        # (the Dutch "one" form may spell it out, but the values must still fit).
        for n in (1, 2):
            values = {**{name: "x" for name in _names(entry)}, entry.count: n}
            text(key, "nl", **values)
            text(key, "en", **values)
        assert entry.count in _names(entry), key


def _names(entry: Plural) -> set[str]:
    import string
    return {name for forms_ in (entry.nl, entry.en) for s in forms_.values()
            for _, name, _, _ in string.Formatter().parse(s) if name}
