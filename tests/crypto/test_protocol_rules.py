"""Every MUST of crypto/PROTOCOL.md has an id, and crypto/rules.toml maps each id to its code and tests.

The document writes an id right after each requirement, `[M-<section>-<n>]`; this file holds the
two to each other: a `MUST` or `MUST NOT` without its id, an id without its `MUST`, an id standing
in another section than it names, an id used twice, an id the map does not know (or the other way
round), a rule without a test, or a named test or code location that does not exist all fail.
Headings, fenced code and `inline code` are not normative text and are not scanned.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = (REPO / "crypto" / "PROTOCOL.md").read_text(encoding="utf-8")
RULES = tomllib.loads((REPO / "crypto" / "rules.toml").read_text(encoding="utf-8"))["rule"]

RULE_ID = re.compile(r"^M-(\d+(?:\.\d+)*)-([1-9][0-9]*)$")
TOKEN = re.compile(r"\bMUST(?: NOT)?\b|\[M-(\d+(?:\.\d+)*)-(\d+)\]")
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)?")
ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s")
CODE_SPAN = re.compile(r"`[^`]*`")
TEST_REF = re.compile(r"^tests/[A-Za-z0-9_/]+\.py::test_[A-Za-z0-9_]+$")
CODE_REF = re.compile(r"^[A-Za-z0-9_./-]+\.(?:py|js)(?:::[A-Za-z_$#][A-Za-z0-9_$]*(?:\.[A-Za-z_$#][A-Za-z0-9_$]*)*)?$")
FIELDS = {"id", "summary", "code", "tests"}
OPTIONAL = {"gap"}


def blocks(text: str) -> list[tuple[str, int, str]]:
    """(section, first line, text) of every paragraph, list item and table row outside code fences.

    The section is the number of the last numbered heading ("0" before the first), so that the
    unnumbered subsections of section 7 belong to 7.
    """
    found: list[tuple[str, int, str]] = []
    section, start, lines, fenced = "0", 0, [], False

    def flush() -> None:
        if lines:
            found.append((section, start, " ".join(lines)))
            lines.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            flush()
            fenced = not fenced
            continue
        if fenced:
            continue
        heading = HEADING.match(line)
        if heading:
            flush()
            section = heading.group(1) or section
            continue
        if not line.strip() or ITEM.match(line) or line.lstrip().startswith("|"):
            flush()
            if not line.strip():
                continue
        if not lines:
            start = number
        lines.append(line.strip())
    flush()
    return found


def scan(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(problems, [(section, id)]) for a document: each MUST is followed by its id, and each id follows a MUST."""
    problems, ids = [], []
    for section, line, block in blocks(text):
        if block.count("`") % 2:
            problems.append(f"line {line}: an unclosed `code span` hides the rest of the paragraph")
        pending = None
        for token in TOKEN.finditer(CODE_SPAN.sub("``", block)):
            if token.group(0).startswith("MUST"):
                if pending:
                    problems.append(f"line {line}: {pending!r} has no id before the next {token.group(0)!r}")
                pending = token.group(0)
            else:
                rule = token.group(0)[1:-1]
                if not pending:
                    problems.append(f"line {line}: {rule} follows no MUST")
                pending = None
                ids.append((section, rule))
                if token.group(1) != section:
                    problems.append(f"line {line}: {rule} stands in section {section}")
        if pending:
            problems.append(f"line {line}: {pending!r} has no id ({block[:70]}...)")
    return problems, ids


def test_the_scanner_finds_a_missing_an_orphan_and_a_misplaced_id():
    text = ("## 3. Keys\n\nA page MUST do this [M-3-1] and MUST do that.\n\n"
            "- It MUST NOT cache `MUST` [M-3-2].\n- Nothing here [M-3-3].\n\n"
            "### 4.1 Other\n\nIt MUST [M-3-4] too.\n\n```\nMUST in a code block\n```\n")
    problems, ids = scan(text)
    assert [i for _, i in ids] == ["M-3-1", "M-3-2", "M-3-3", "M-3-4"]
    assert len(problems) == 3, problems
    assert "'MUST' has no id" in problems[0] and "M-3-3 follows no MUST" in problems[1]
    assert "M-3-4 stands in section 4.1" in problems[2]


def test_every_must_in_the_document_has_its_id():
    problems, ids = scan(DOCUMENT)
    assert len(ids) >= 50, "the scan found (almost) no rule: is it broken?"
    assert not problems, "\n".join(problems)


def test_ids_are_unique_and_the_map_and_the_document_agree():
    in_document = [rule for _, rule in scan(DOCUMENT)[1]]
    in_map = [rule["id"] for rule in RULES]
    assert not [i for i, n in Counter(in_document).items() if n > 1], "an id stands twice in PROTOCOL.md"
    assert not [i for i, n in Counter(in_map).items() if n > 1], "an id stands twice in crypto/rules.toml"
    assert set(in_document) - set(in_map) == set(), "ids in PROTOCOL.md that crypto/rules.toml lacks"
    assert set(in_map) - set(in_document) == set(), "ids in crypto/rules.toml that PROTOCOL.md lacks"
    assert in_map == in_document, "crypto/rules.toml lists the rules in the document's order"


@pytest.mark.parametrize("rule", RULES, ids=[r.get("id", "?") for r in RULES])
def test_every_rule_has_a_summary_code_and_tests(rule):
    assert FIELDS <= set(rule) <= FIELDS | OPTIONAL, f"fields {sorted(rule)}"
    assert RULE_ID.match(rule["id"]), rule["id"]
    summary = rule["summary"]
    assert isinstance(summary, str) and summary.strip() and "\n" not in summary, f"{rule['id']}: one line"
    assert isinstance(rule["code"], list) and rule["code"], f"{rule['id']} names no code"
    assert isinstance(rule["tests"], list) and rule["tests"], f"{rule['id']} has no test"
    assert len(set(rule["tests"])) == len(rule["tests"]), f"{rule['id']} names a test twice"
    if "gap" in rule:
        assert isinstance(rule["gap"], str) and rule["gap"].strip(), f"{rule['id']}: an empty gap"


def test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


test_functions.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.mark.parametrize("rule", RULES, ids=[r["id"] for r in RULES])
def test_every_named_test_exists(rule):
    for ref in rule["tests"]:
        assert TEST_REF.match(ref), f"{rule['id']}: {ref!r} is not tests/path.py::test_name"
        path, name = ref.split("::")
        assert (REPO / path).is_file(), f"{rule['id']}: {path} does not exist"
        assert name in test_functions(REPO / path), f"{rule['id']}: {ref} does not exist"


def python_defines(path: Path, dotted: str) -> bool:
    scope: list[ast.stmt] = ast.parse(path.read_text(encoding="utf-8")).body
    for part in dotted.split("."):
        match = None
        for node in scope:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == part:
                match = node
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == part for t in node.targets):
                match = node
        if match is None:
            return False
        scope = getattr(match, "body", [])
    return True


def javascript_defines(path: Path, dotted: str) -> bool:
    text = path.read_text(encoding="utf-8")
    for part in dotted.split("."):
        name = re.escape(part)
        forms = (rf"\bfunction\s*\*?\s*{name}\s*\(", rf"\bclass\s+{name}\b", rf"\b(?:const|let|var)\s+{name}\s*=",
                 rf"^\s+(?:static\s+)?(?:async\s+)?{name}\s*\([^)]*\)\s*\{{")
        if not any(re.search(form, text, re.M) for form in forms):
            return False
    return True


@pytest.mark.parametrize("rule", RULES, ids=[r["id"] for r in RULES])
def test_every_code_location_exists(rule):
    for ref in rule["code"]:
        assert CODE_REF.match(ref), f"{rule['id']}: {ref!r} is not path.py::name, path.js::name or a path"
        path, _, name = ref.partition("::")
        assert (REPO / path).is_file(), f"{rule['id']}: {path} does not exist"
        if name:
            defines = python_defines if path.endswith(".py") else javascript_defines
            assert defines(REPO / path, name), f"{rule['id']}: {path} defines no {name}"


def test_the_code_check_is_not_vacuous():
    chat = REPO / "crypto" / "chat.py"
    assert python_defines(chat, "ChatSession.open") and not python_defines(chat, "ChatSession.close")
    assert not python_defines(chat, "_no_such_function")
    js = REPO / "web" / "js" / "chat.js"
    assert javascript_defines(js, "connected") and not javascript_defines(js, "noSuchFunction")


def test_the_document_says_how_rules_are_kept():
    section_13 = DOCUMENT.split("## 13.", 1)[1]
    assert "crypto/rules.toml" in section_13 and "tests/crypto/test_protocol_rules.py" in section_13
