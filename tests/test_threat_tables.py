"""The threat tables in THREAT_MODEL.md are the ones threats.toml generates (tests/tools/render_threats.py)."""

from __future__ import annotations

import tomllib

from tests.tools.render_threats import TM, document_with_tables


def test_threat_tables_in_the_document_are_generated_from_threats_toml() -> None:
    document = (TM / "THREAT_MODEL.md").read_text(encoding="utf-8")
    threats = tomllib.loads((TM / "threats.toml").read_text(encoding="utf-8"))["threat"]
    assert document_with_tables(document, threats) == document, (
        "THREAT_MODEL.md section 7 is out of date: run .venv/bin/python -m tests.tools.render_threats")
