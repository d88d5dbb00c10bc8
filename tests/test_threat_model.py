"""The threat model is machine-checked: claims and threats name real tests; the schema equals the inventory."""

from __future__ import annotations

import ast
import re
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

import pytest

from server.storage import open_storage
from server.storage.sqlite import connect
from tests.services.database import Database

REPO = Path(__file__).resolve().parent.parent
TM = REPO / "threat_model"
CLAIMS = tomllib.loads((TM / "claims.toml").read_text(encoding="utf-8"))["claim"]
INVENTORY = tomllib.loads((TM / "data_inventory.toml").read_text(encoding="utf-8"))
TEST_REF = re.compile(r"^tests/[A-Za-z0-9_/]+\.py::test_[A-Za-z0-9_]+$")
THREATS = tomllib.loads((TM / "threats.toml").read_text(encoding="utf-8"))["threat"]
DOCUMENT = (TM / "THREAT_MODEL.md").read_text(encoding="utf-8")

# The elements of the data-flow diagram, with the code each threat ID carries.
ELEMENTS = {
    "help-seeker browser": "HS", "volunteer browser": "VB", "HTTP API": "HTTP",
    "chat relay (websockets)": "RELAY", "mail desk": "DESK", "mail gateway (SMTP)": "GATE",
    "outbound relay": "OUT", "database (SQLite or PostgreSQL)": "DB", "logs": "LOG", "CLI": "CLI", "coordinator": "COORD",
    "live state (Redis)": "LIVE",
}
# Security by STRIDE, privacy by LINDDUN, with the code each threat ID carries.
FRAMEWORKS = {
    "STRIDE": {"Spoofing": "S", "Tampering": "T", "Repudiation": "R", "Information disclosure": "I",
               "Denial of service": "D", "Elevation of privilege": "E"},
    "LINDDUN": {"Linking": "LI", "Identifying": "IN", "Non-repudiation": "NR", "Detecting": "DT",
                "Data disclosure": "DD", "Unawareness": "UA", "Non-compliance": "NC"},
}
THREAT_FIELDS = {"id", "element", "framework", "category", "threat", "mitigation", "claims", "tests",
                 "residual", "severity"}
THREAT_ID = re.compile(r"^T-([A-Z]+)-([A-Z]{1,2})([0-9]+)$")
THREAT_ID_IN_TEXT = re.compile(r"\bT-[A-Z]+-[A-Z]{1,2}[0-9]+\b")


def test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


test_functions.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.mark.parametrize("claim", CLAIMS, ids=[c["id"] for c in CLAIMS])
def test_every_claim_names_tests_that_exist(claim: dict) -> None:
    assert claim["statement"].strip() and claim["title"].strip()
    assert claim["tests"], f"{claim['id']} has no test"
    for ref in claim["tests"]:
        assert TEST_REF.match(ref), f"{claim['id']}: {ref!r} is not tests/path.py::test_name"
        path, name = ref.split("::")
        assert (REPO / path).is_file(), f"{claim['id']}: {path} does not exist"
        assert name in test_functions(REPO / path), f"{claim['id']}: {ref} does not exist"


def test_claim_ids_are_unique_and_match_the_document() -> None:
    ids = [c["id"] for c in CLAIMS]
    assert len(ids) == len(set(ids))
    document = (TM / "THREAT_MODEL.md").read_text(encoding="utf-8")
    in_table = set(re.findall(r"^\| ([A-Z]+-[0-9]+) \|", document, re.M))
    assert in_table == set(ids)
    mentioned = set(re.findall(r"\b([A-Z]{3,5}-[0-9]+)\b", document))
    assert mentioned <= set(ids), f"the document mentions unknown claims: {mentioned - set(ids)}"


def real_schema(tmp_path: Path) -> dict[str, set[str]]:
    conn = connect(tmp_path / "schema.sqlite3")
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
    finally:
        conn.close()


async def test_schema_matches_data_inventory(insecure_kdf_config: Any, database: Database) -> None:
    """On both backends: the schema the migrations make (read from sqlite_master, or from PostgreSQL's
    information_schema) has exactly the tables and columns the inventory declares."""
    storage = open_storage(insecure_kdf_config)
    await storage.open()
    await storage.close()
    schema = {table: set(database.columns(table)) for table in database.tables()}
    declared = {t: set(spec["columns"]) for t, spec in INVENTORY["tables"].items()}
    assert set(schema) == set(declared), "tables differ from threat_model/data_inventory.toml"
    for table in schema:
        assert schema[table] == declared[table], (
            f"{table}: undeclared {schema[table] - declared[table]}, missing {declared[table] - schema[table]}")
    for table, spec in INVENTORY["tables"].items():
        assert spec["purpose"] and spec["retention"], table
        for column, meta in spec["columns"].items():
            assert {"classification", "readable_by", "purpose"} <= set(meta), f"{table}.{column}"


def test_no_column_can_hold_a_help_seekers_identity(tmp_path: Path) -> None:
    forbidden = re.compile(r"(^|_)(ip|addr|address|email|e_mail|mail_from|sender|user_agent|agent|"
                           r"referer|referrer|phone|host|remote|peer)(_|$)")
    for table, columns in real_schema(tmp_path).items():
        for column in columns:
            assert not forbidden.search(column), f"{table}.{column} looks like an identity"
    allowed = {"public", "staff", "secret-hash", "ciphertext", "operational"}
    for table, spec in INVENTORY["tables"].items():
        for column, meta in spec["columns"].items():
            assert meta["classification"] in allowed, f"{table}.{column}"


def test_files_in_the_data_folder_are_declared(tmp_path: Path) -> None:
    conn = connect(tmp_path / "oor.sqlite3")
    conn.execute("INSERT INTO meta(key, value) VALUES ('x', x'00')")
    try:
        written = {p.name for p in tmp_path.iterdir()}
    finally:
        conn.close()
    assert written <= set(INVENTORY["files"]), written - set(INVENTORY["files"])
    assert sqlite3.sqlite_version_info >= (3, 37)  # STRICT tables


def check_test_ref(owner: str, ref: str) -> None:
    assert TEST_REF.match(ref), f"{owner}: {ref!r} is not tests/path.py::test_name"
    path, name = ref.split("::")
    assert (REPO / path).is_file(), f"{owner}: {path} does not exist"
    assert name in test_functions(REPO / path), f"{owner}: {ref} does not exist"


@pytest.mark.parametrize("threat", THREATS, ids=[t.get("id", "?") for t in THREATS])
def test_every_threat_has_a_mitigation_and_tests_that_exist(threat: dict) -> None:
    assert set(threat) == THREAT_FIELDS, f"missing {THREAT_FIELDS - set(threat)}, unknown {set(threat) - THREAT_FIELDS}"
    for field in ("id", "element", "framework", "category", "threat", "mitigation", "residual"):
        assert isinstance(threat[field], str) and threat[field].strip(), f"{threat['id']}: empty {field}"
    assert threat["severity"] in ("low", "medium", "high"), threat["id"]
    assert isinstance(threat["claims"], list) and isinstance(threat["tests"], list)
    assert threat["tests"], f"{threat['id']} has no test"
    for ref in threat["tests"]:
        check_test_ref(threat["id"], ref)


def test_every_claim_a_threat_relies_on_exists() -> None:
    known = {c["id"] for c in CLAIMS}
    for threat in THREATS:
        unknown = set(threat["claims"]) - known
        assert not unknown, f"{threat['id']} relies on unknown claims {unknown}"
        assert len(threat["claims"]) == len(set(threat["claims"])), threat["id"]


def test_categories_belong_to_their_framework_and_ids_say_which() -> None:
    for threat in THREATS:
        categories = FRAMEWORKS.get(threat["framework"])
        assert categories is not None, f"{threat['id']}: framework must be STRIDE or LINDDUN"
        assert threat["category"] in categories, f"{threat['id']}: {threat['category']!r} is not {threat['framework']}"
        assert threat["element"] in ELEMENTS, f"{threat['id']}: unknown element {threat['element']!r}"
        match = THREAT_ID.match(threat["id"])
        assert match, f"{threat['id']!r} is not T-<element>-<category><n>"
        assert match.group(1) == ELEMENTS[threat["element"]], f"{threat['id']}: element code"
        assert match.group(2) == categories[threat["category"]], f"{threat['id']}: category code"


def test_every_element_is_in_the_diagram_and_has_threats() -> None:
    diagrams = re.findall(r"^```mermaid\n(.*?)^```", DOCUMENT, re.M | re.S)
    assert len(diagrams) == 1 and diagrams[0].startswith("flowchart"), "one Mermaid flowchart in section 1"
    for element in ELEMENTS:
        node = re.compile(r'\[\(?"' + re.escape(element) + r'"\)?\]')
        assert node.search(diagrams[0]), f"the diagram has no node labelled {element!r}"
    assert {t["element"] for t in THREATS} == set(ELEMENTS), "every element of the diagram needs threats"


def test_threat_ids_are_unique_and_match_the_document() -> None:
    ids = [t["id"] for t in THREATS]
    assert len(ids) == len(set(ids)), "duplicate threat IDs"
    mentioned = set(THREAT_ID_IN_TEXT.findall(DOCUMENT))
    assert mentioned - set(ids) == set(), f"the document mentions unknown threats: {mentioned - set(ids)}"
    in_table = set(re.findall(r"^\| (T-[A-Z]+-[A-Z]{1,2}[0-9]+) \|", DOCUMENT, re.M))
    assert set(ids) - in_table == set(), f"threats missing from the tables in THREAT_MODEL.md: {set(ids) - in_table}"
