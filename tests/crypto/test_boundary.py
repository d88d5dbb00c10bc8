"""The crypto boundary: who may touch libsodium and argon2, and what the facade exports.

crypto/_primitives.py is the only Python module that imports nacl or argon2;
server/, mailgate/ and client/ import only names listed in crypto.__all__, which is
two faces: server/ uses only crypto.SERVER_API (server/audit.py, a protocol
client, mailgate/ and client/ may also use crypto.CLIENT_API); crypto/__init__.py only
re-exports, and every other crypto module says which PROTOCOL.md section it is;
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
CONSUMERS = ("server", "mailgate", "client")  # packages that must go through the facade (client/ once it exists)


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


def crypto_names(path: Path) -> list[tuple[int, str]]:
    """(line, name) for every name a module takes from the crypto package.

    ``from crypto import name`` (also ``*``) and ``crypto.name`` after ``import crypto``
    (or ``import crypto as alias``).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases = {"crypto"} | {
        alias.asname for node in ast.walk(tree) if isinstance(node, ast.Import)
        for alias in node.names if alias.name == "crypto" and alias.asname
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "crypto":
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            found.append((node.lineno, node.attr))
    return found


@pytest.mark.parametrize("folder", CONSUMERS)
def test_consumers_use_only_the_facade(folder):
    exported = set(crypto.__all__)
    offenders = []
    for path in python_files(folder):
        rel = path.relative_to(REPO)
        for line, module, _ in imported_modules(path):
            if module.startswith("crypto."):
                offenders.append(f"{rel}:{line}: imports {module}; use `from crypto import ...`")
        offenders.extend(f"{rel}:{line}: crypto.{name} is not in crypto.__all__"
                         for line, name in crypto_names(path) if name not in exported)
    assert not offenders, "\n".join(offenders)


# server/audit.py is `oor audit`: it acts as a help-seeker and a volunteer against a running
# instance (today through client/, the protocol's client side in Python), so it is a client of
# the protocol and may use the client face, as mailgate/ and client/ do.
PROTOCOL_CLIENTS_IN_SERVER = ("server/audit.py",)


def test_server_uses_only_the_server_face():
    server_face = set(crypto.SERVER_API)
    offenders, users = [], 0
    for path in python_files("server"):
        rel = path.relative_to(REPO).as_posix()
        if rel in PROTOCOL_CLIENTS_IN_SERVER:
            continue
        names = crypto_names(path)
        users += bool(names)
        offenders.extend(f"{rel}:{line}: crypto.{name} is not on the server face (crypto.SERVER_API)"
                         for line, name in names if name not in server_face)
    assert users >= 5, "the scan found (almost) no server module using crypto: is it broken?"
    assert not offenders, "\n".join(offenders)


def test_the_face_scan_sees_every_spelling(tmp_path):
    module = tmp_path / "client.py"
    module.write_text(
        "import crypto\nimport crypto as c\nfrom crypto import open_mail, b64decode as d\n"
        "crypto.seal_mail(); c.derive_mailbox(); crypto.hash_token\n",
        encoding="utf-8",
    )
    assert {name for _, name in crypto_names(module)} == {
        "open_mail", "b64decode", "seal_mail", "derive_mailbox", "hash_token"}


def test_the_two_faces_are_disjoint_and_make_up_all():
    assert isinstance(crypto.SERVER_API, tuple) and isinstance(crypto.CLIENT_API, tuple)
    assert len(set(crypto.SERVER_API)) == len(crypto.SERVER_API)
    assert len(set(crypto.CLIENT_API)) == len(crypto.CLIENT_API)
    assert not set(crypto.SERVER_API) & set(crypto.CLIENT_API)
    assert list(crypto.__all__) == [*crypto.SERVER_API, *crypto.CLIENT_API]


def test_no_face_hands_out_a_secret_holder_to_the_server():
    # The server face holds nothing that makes, holds or uses a participant's secret key.
    for name in ("Identity", "Mailbox", "ChatKeyPair", "ChatSession", "VolunteerKeys", "derive_volunteer_keys",
                 "derive_mailbox", "unwrap_identity", "open_mail", "seal_mail", "rewrap_mail_key",
                 "sign_chat_offer", "sign_link_key", "sign_key_certificate", "parse_token", "new_token_code"):
        assert name in crypto.CLIENT_API, name


INIT = REPO / "crypto" / "__init__.py"
PRIVATE_MODULES = {"__init__.py", "_checks.py"}  # the facade itself, and the shared checks
NOT_RE_EXPORTED = {"_primitives.py", "_checks.py", "labels.py"}  # hazardous, private, or read as crypto.labels


def test_init_only_re_exports():
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom) and (node.level == 1 or node.module == "__future__"):
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] in (
                ["SERVER_API"], ["CLIENT_API"], ["__all__"]):
            continue
        raise AssertionError(f"crypto/__init__.py:{node.lineno} defines something; put it in a section module")


def public_definitions(path: Path) -> set[str]:
    """The public names a module defines at its top level (functions, classes, constants)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names.add(leaf.id)
    return {name for name in names if not name.startswith("_")}


@pytest.mark.parametrize("module", sorted(p.name for p in (REPO / "crypto").glob("*.py")
                                          if p.name not in PRIVATE_MODULES | NOT_RE_EXPORTED))
def test_every_public_name_of_a_section_module_is_on_a_face(module):
    imported = __import__(f"crypto.{module.removesuffix('.py')}", fromlist=["_"])
    names = public_definitions(REPO / "crypto" / module)
    assert names, f"crypto/{module} defines nothing public"
    for name in names:
        assert name in crypto.__all__, f"crypto/{module} defines {name}, which is on neither face"
        assert getattr(crypto, name) is getattr(imported, name), f"crypto.{name} is not crypto/{module}'s"


SECTION_HEADING = re.compile(r"^## (\d+)\. (.+)$", re.M)
SECTION_IN_DOCSTRING = re.compile(r"PROTOCOL\.md section (\d+), ([A-Z][A-Za-z -]+)")


@pytest.mark.parametrize("module", sorted(p.name for p in (REPO / "crypto").glob("*.py")
                                          if p.name not in PRIVATE_MODULES))
def test_every_module_says_which_protocol_section_it_implements(module):
    sections = dict(SECTION_HEADING.findall((REPO / "crypto" / "PROTOCOL.md").read_text(encoding="utf-8")))
    docstring = ast.get_docstring(ast.parse((REPO / "crypto" / module).read_text(encoding="utf-8"))) or ""
    found = SECTION_IN_DOCSTRING.search(docstring.split("\n\n")[0])
    assert found, f"crypto/{module}: the docstring's first paragraph must say 'PROTOCOL.md section N, Title'"
    number, title = found.groups()
    assert number in sections, f"crypto/{module}: PROTOCOL.md has no section {number}"
    assert sections[number].startswith(title.strip()), f"crypto/{module}: section {number} is {sections[number]!r}"


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


WEB_JS = REPO / "web" / "js"
JS_CRYPTO = WEB_JS / "crypto"  # one module per PROTOCOL.md section, behind the facade web/js/crypto.js
JS_PRIMITIVES = JS_CRYPTO / "_primitives.js"
JS_LABELS = JS_CRYPTO / "labels.js"
LIBSODIUM_IMPORT = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'][^"']*libsodium[^"']*["']""",
)
# Any use of the libsodium object itself (`sodium.crypto_box_seal(...)`, `sodiumModule.ready`).
SODIUM_USE = re.compile(r"\bsodium(?:Module)?\s*[.\[]")
JS_COMMENT = re.compile(r"/\*.*?\*/|(?<![:\"'\\])//[^\n]*", re.S)
JS_IMPORT_FROM = re.compile(r"""\b(?:from|import)\s*\(?\s*["']([^"']+)["']""")


def js_modules() -> list[Path]:
    return sorted(WEB_JS.rglob("*.js")) + sorted(WEB_JS.rglob("*.mjs"))


def js_code(path: Path) -> str:
    """A browser module without its comments (which may name libsodium functions)."""
    return JS_COMMENT.sub("", path.read_text(encoding="utf-8"))


def test_only_crypto_js_imports_libsodium():
    """Only web/js/crypto/_primitives.js imports or calls libsodium (as crypto/_primitives.py
    for Python); the other crypto modules, the crypto.js facade and the pages go through it,
    and pages import only the facade, never web/js/crypto/* directly."""
    primitives = js_code(JS_PRIMITIVES)
    # Guard against the scan passing vacuously (a moved file, a broken pattern).
    assert LIBSODIUM_IMPORT.search(primitives) and SODIUM_USE.search(primitives)
    offenders = []
    for path in js_modules():
        if path == JS_PRIMITIVES:
            continue
        code = js_code(path)
        where = str(path.relative_to(REPO))
        if LIBSODIUM_IMPORT.search(code):
            offenders.append(f"{where} imports libsodium")
        if SODIUM_USE.search(code):
            offenders.append(f"{where} uses the libsodium object")
        if JS_CRYPTO not in path.parents and path != WEB_JS / "crypto.js":
            for spec in JS_IMPORT_FROM.findall(code):
                if spec.startswith("."):
                    target = (path.parent / spec).resolve()
                elif spec.startswith("/static/"):
                    target = (REPO / "web" / spec.removeprefix("/static/")).resolve()
                else:
                    continue  # a bare specifier of the import map (libsodium, caught above)
                if JS_CRYPTO in target.parents:
                    offenders.append(f"{where} imports {spec}; pages use the facade web/js/crypto.js")
    assert not offenders, "only web/js/crypto/_primitives.js may touch libsodium:\n" + "\n".join(offenders)


def js_labels() -> dict[str, str]:
    text = JS_LABELS.read_text(encoding="utf-8")
    block = re.search(r"export const LABELS = Object\.freeze\(\{(.*?)\}\);", text, re.S)
    assert block, "LABELS object not found in web/js/crypto/labels.js"
    return dict(re.findall(r'^\s*([A-Z][A-Z0-9_]*):\s*"([^"]*)",?\s*$', block.group(1), re.M))


def test_labels_are_the_same_in_python_and_javascript():
    python = {name.removeprefix("LABEL_"): value.decode("ascii") for name, value in ALL_LABELS.items()}
    assert js_labels() == python
    # One place in the browser too: no other module spells a label out, and the facade
    # re-exports the very LABELS object of labels.js.
    for path in js_modules():
        if path != JS_LABELS:
            assert "luisterend-oor/v1/" not in path.read_text(encoding="utf-8"), path.relative_to(REPO)
    facade = js_code(WEB_JS / "crypto.js")
    assert re.search(r"""export\s*\{\s*LABELS\s*\}\s*from\s*["']\./crypto/labels\.js["']""", facade)


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
