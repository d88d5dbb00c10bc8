"""Write the threat tables of THREAT_MODEL.md (section 7) from threats.toml.

    .venv/bin/python -m tests.tools.render_threats          # rewrite the document
    .venv/bin/python -m tests.tools.render_threats --check  # exit 1 if it is out of date

tests/test_threat_model.py runs the check, so the tables cannot drift from the file.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

TM = Path(__file__).resolve().parents[2] / "threat_model"
START = "<!-- threats: generated from threats.toml -->"
END = "<!-- end of the generated threats -->"


def render(threats: list[dict], elements: list[str]) -> str:
    """The generated part: counts per element, then one table per element in the file's order."""
    lines = ["", "Counts per element:", "", "| element | STRIDE | LINDDUN | all |", "|---|---|---|---|"]
    totals = [0, 0]
    for element in elements:
        own = [t for t in threats if t["element"] == element]
        stride = sum(t["framework"] == "STRIDE" for t in own)
        totals[0] += stride
        totals[1] += len(own) - stride
        lines.append(f"| {element} | {stride} | {len(own) - stride} | {len(own)} |")
    lines += [f"| **all** | {totals[0]} | {totals[1]} | {sum(totals)} |", ""]
    for element in elements:
        lines += [f"### {element}", "", "| ID | category | threat | severity | claims |", "|---|---|---|---|---|"]
        for t in (t for t in threats if t["element"] == element):
            claims = ", ".join(t["claims"]) or "none"
            lines.append(f"| {t['id']} | {t['framework']}: {t['category']} | {t['threat']} | {t['severity']} | {claims} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def diagram_elements(document: str) -> list[str]:
    """The elements in the order of section 1's table "What each element is"."""
    table = document.split("What each element is:", 1)[1].split("\n\n", 2)[1]
    return [row.split("|")[1].strip() for row in table.splitlines()[2:]]


def document_with_tables(document: str, threats: list[dict]) -> str:
    elements = diagram_elements(document)
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{render(threats, elements)}{END}{tail}"


def main(argv: list[str]) -> int:
    path = TM / "THREAT_MODEL.md"
    document = path.read_text(encoding="utf-8")
    threats = tomllib.loads((TM / "threats.toml").read_text(encoding="utf-8"))["threat"]
    wanted = document_with_tables(document, threats)
    if "--check" in argv:
        return 0 if wanted == document else 1
    path.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
