"""Every user-facing text exists in Dutch and English, and every key a template uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from server.i18n import PLURALS, TEXTS

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def test_every_text_has_dutch_and_english() -> None:
    for key, (nl, en) in TEXTS.items():
        assert nl.strip() and en.strip(), key
        assert set(re.findall(r"\{(\w+)\}", nl)) == set(re.findall(r"\{(\w+)\}", en)), key


def test_templates_use_only_known_keys() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        source = template.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([a-z0-9_]+)'", source))
        for call in re.findall(r"js_texts\(([^)]*)\)", source, re.S):
            used |= set(re.findall(r"'([a-z0-9_]+)'", call.split("=")[0]))
    assert used, "no keys found: the pattern is wrong"
    assert used <= set(TEXTS) | set(PLURALS), used - set(TEXTS) - set(PLURALS)
