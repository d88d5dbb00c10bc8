"""The crypto boundary: who may touch libsodium and argon2, and what the facade exports.

crypto/_primitives.py is the only Python module that imports nacl or argon2;
server/ and mailgate/ import only names listed in crypto.__all__;
web/js/crypto.js is the only browser module that imports libsodium; and the
labels are the same strings in Python, JavaScript and PROTOCOL.md.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import crypto  # noqa: E402
from crypto import _primitives  # noqa: E402
from crypto.labels import ALL_LABELS  # noqa: E402

FORBIDDEN_ROOTS = {"nacl", "argon2", "_argon2_cffi_bindings", "_sodium"}
CONSUMERS = ("server", "mailgate")  # packages that must go through the facade


def python_files(folder: str) -> list[Path]:
    root = REPO / folder
    return sorted(root.rglob("*.py")) if root.is_dir() else []


def imported_modules(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, imported names) for every import, including importlib calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.append((node.lineno, module, tuple(alias.name for alias in node.names)))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"import_module", "__import__"} and node.args and isinstance(node.args[0], ast.Constant):
                if isinstance(node.args[0].value, str):
                    found.append((node.lineno, node.args[0].value, ()))
    return found


def root(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("folder", CONSUMERS + ("crypto",))
def test_only_primitives_imports_nacl_or_argon2(folder):
    offenders = []
    for path in python_files(folder):
        if path == REPO / "crypto" / "_primitives.py":
            continue
        for line, module, _ in imported_modules(path):
            if root(module) in FORBIDDEN_ROOTS:
                offenders.append(f"{path.relative_to(REPO)}:{line}: {module}")
    assert not offenders, "only crypto/_primitives.py may import nacl/argon2:\n" + "\n".join(offenders)


def test_primitives_does_import_them():
    # Guard against the scan above passing vacuously because of a broken parser.
    modules = {root(m) for _, m, _ in imported_modules(REPO / "crypto" / "_primitives.py")}
    assert {"nacl", "argon2"} <= modules


@pytest.mark.parametrize("folder", CONSUMERS)
def test_consumers_use_only_the_facade(folder):
    exported = set(crypto.__all__)
    offenders = []
    for path in python_files(folder):
        for line, module, names in imported_modules(path):
            where = f"{path.relative_to(REPO)}:{line}"
            if module.startswith("crypto."):
                offenders.append(f"{where}: imports {module}; use `from crypto import ...`")
            elif module == "crypto":
                for name in names:
                    if name == "*" or name not in exported:
                        offenders.append(f"{where}: `from crypto import {name}` is not in crypto.__all__")
        # `import crypto` then `crypto.name`: name must be exported too.
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "crypto"
                and node.attr not in exported
            ):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: crypto.{node.attr} is not in crypto.__all__")
    assert not offenders, "\n".join(offenders)


def test_all_names_exist_and_are_public():
    assert len(crypto.__all__) == len(set(crypto.__all__))
    for name in crypto.__all__:
        assert not name.startswith("_"), name
        assert hasattr(crypto, name), f"__all__ lists {name} but crypto has no such attribute"


def test_all_exports_nothing_from_primitives_directly():
    # What _primitives defines itself, or pulls in from nacl/argon2 (it also
    # imports the shared exception classes, which are fine to export).
    def hazardous(value) -> bool:
        module = getattr(value, "__module__", None) or ""
        return inspect.ismodule(value) or module == _primitives.__name__ or root(module) in FORBIDDEN_ROOTS

    primitive_objects = [v for k, v in vars(_primitives).items() if not k.startswith("__") and hazardous(v)]
    assert primitive_objects, "scan found nothing in _primitives"
    assert "_primitives" not in crypto.__all__
    for name in crypto.__all__:
        obj = getattr(crypto, name)
        assert not inspect.ismodule(obj), f"{name} is a module"
        if callable(obj):
            assert not hazardous(obj), f"{name} comes from _primitives, nacl or argon2"
            assert not any(obj is p for p in primitive_objects), f"{name} is re-exported from _primitives"


def test_no_asserts_in_crypto_package():
    # Asserts vanish under `python -O`; validation must be explicit raises.
    offenders = []
    for path in python_files("crypto"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assert):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, offenders


LIBSODIUM_IMPORT = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'][^"']*libsodium[^"']*["']""",
)


def test_only_crypto_js_imports_libsodium():
    web_js = REPO / "web" / "js"
    crypto_js = web_js / "crypto.js"
    assert LIBSODIUM_IMPORT.search(crypto_js.read_text(encoding="utf-8"))
    offenders = []
    for path in sorted(web_js.rglob("*.js")) + sorted(web_js.rglob("*.mjs")):
        if path != crypto_js and LIBSODIUM_IMPORT.search(path.read_text(encoding="utf-8")):
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, "only web/js/crypto.js may import libsodium: " + ", ".join(offenders)


def js_labels() -> dict[str, str]:
    text = (REPO / "web" / "js" / "crypto.js").read_text(encoding="utf-8")
    block = re.search(r"export const LABELS = Object\.freeze\(\{(.*?)\}\);", text, re.S)
    assert block, "LABELS object not found in crypto.js"
    return dict(re.findall(r'^\s*([A-Z][A-Z0-9_]*):\s*"([^"]*)",?\s*$', block.group(1), re.M))


def test_labels_are_the_same_in_python_and_javascript():
    python = {name.removeprefix("LABEL_"): value.decode("ascii") for name, value in ALL_LABELS.items()}
    assert js_labels() == python


def test_labels_are_distinct_ascii_and_versioned():
    values = list(ALL_LABELS.values())
    assert len(set(values)) == len(values)
    for value in values:
        assert value.isascii() and value.startswith(b"luisterend-oor/v1/")
    # No label is a prefix of another: label || data can never collide across uses.
    for a in values:
        for b in values:
            assert a == b or not b.startswith(a)


def test_every_label_is_in_the_protocol_document():
    text = (REPO / "crypto" / "PROTOCOL.md").read_text(encoding="utf-8")
    for name, value in ALL_LABELS.items():
        assert name in text, f"{name} missing from PROTOCOL.md"
        assert value.decode() in text, f"value of {name} missing from PROTOCOL.md"
