"""The import structure of ARCHITECTURE.md: no cycles, and every floor imports only downwards.

Every import of every module under server/, crypto/, mailgate/ and client/ counts,
wherever it stands: at the top, under `if TYPE_CHECKING:`, or inside a function. A
type-only import is still a dependency a reader has to follow, and a function-level
import is one move away from closing a cycle at import time. Relative imports are
resolved; `from package import name` counts as importing `package.name` when that is
a module, and `package` otherwise.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "crypto", "mailgate", "client")  # client/ only once it exists
OURS = frozenset(PACKAGES) | {"tests", "bench"}
MAP = REPO / "ARCHITECTURE.md"

# ARCHITECTURE.md, "The floors of server/": a module imports modules of its own floor or
# below, never one above. A module named here has its floor; a new module inside one of
# the PACKAGE_FLOORS packages starts on that package's floor; any other new module must
# be given one (here and in ARCHITECTURE.md).
GROUND, DOMAIN, WEB, PROCESS = 0, 1, 2, 3
FLOOR_NAMES = {GROUND: "ground", DOMAIN: "domain", WEB: "web", PROCESS: "process"}
MODULE_FLOORS = {
    "server": GROUND,
    "server.errors": GROUND, "server.config": GROUND, "server.i18n": GROUND, "server.assets": GROUND,
    "server.abuse": GROUND, "server.keys": GROUND,
    "server.accounts": DOMAIN, "server.stats": DOMAIN, "server.guards": DOMAIN, "server.live": DOMAIN,
    "server.http": WEB, "server.pages": WEB, "server.charts": WEB, "server.api": WEB, "server.coordinator": WEB,
    "server.openapi": WEB, "server.chat.ws": WEB, "server.mail.api": WEB,
    "server.app": PROCESS, "server.audit": PROCESS, "server.cli": PROCESS, "server.backup": PROCESS,
    "server.transparency.routes": WEB,
}
PACKAGE_FLOORS = {"server.storage": GROUND, "server.chat": DOMAIN, "server.mail": DOMAIN, "server.live": GROUND,
                  "server.transparency": DOMAIN}
# Ground-floor modules hold plain classes and values: no aiohttp (keys.py exists to name AppKeys).
GROUND_MAY_USE_AIOHTTP = {"server.keys"}
# What mailgate may import from server: one module, named in mailgate/__init__.py.
MAILGATE_PORT = {"server.mail.gateway_port"}
MAILGATE_IMPORTER = "server.cli"   # the process entry point, which wires the gateway in
CLIENT_IMPORTER = "server.audit"   # drives a synthetic chat and mail from outside, as a client


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.path}:{self.line})"


def module_files() -> dict[str, Path]:
    """Every module of ours by dotted name (a package by its own name, for its __init__.py)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The module an import of `name` loads, as far as it is ours (its longest existing prefix);
    a name of ours that does not exist (yet) is kept as it is, anything else is not ours."""
    parts = name.split(".")
    if parts[0] not in OURS:
        return None
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return name


def _imports(path: Path) -> Iterator[tuple[int, str, int, tuple[str, ...]]]:
    """(line, module, level, names) for every import statement and importlib call in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, 0, ()
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, node.module or "", node.level, tuple(alias.name for alias in node.names)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if (name in {"import_module", "__import__"} and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                yield node.lineno, node.args[0].value, 0, ()


def import_graph() -> tuple[dict[str, Path], list[Edge]]:
    modules = module_files()
    edges: set[Edge] = set()
    for source, path in modules.items():
        rel = str(path.relative_to(REPO))
        package = source.split(".") if path.name == "__init__.py" else source.split(".")[:-1]
        for line, module, level, names in _imports(path):
            if level:
                base_parts = package[:len(package) - (level - 1)] if level > 1 else package
                base = ".".join(base_parts + ([module] if module else []))
            else:
                base = module
            targets = []
            for name in names or ("",):
                child = f"{base}.{name}" if name else base
                targets.append(child if child in modules else _known(base, modules))
            edges.update(Edge(source, target, rel, line) for target in targets if target is not None)
    return modules, sorted(edges, key=lambda e: (e.source, e.target, e.line))


def _components(nodes: list[str], out: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in out.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            result.append(sorted(component))

    for node in nodes:
        if node not in index:
            visit(node)
    return result


def _one_cycle(start: str, members: set[str], out: dict[str, list[str]]) -> list[str]:
    """A shortest path start -> ... -> start inside one component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in out.get(v, []):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return list(reversed(path)) + [start]
                if w in members and w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    return [start]


def import_cycles() -> list[str]:
    """The cycles, one line each with the line of every import in it: for every module that is
    on a cycle (a strongly connected component of more than one module, or a module that
    imports itself), a shortest cycle through it."""
    modules, edges = import_graph()
    out: dict[str, list[str]] = {}
    where: dict[tuple[str, str], Edge] = {}
    for edge in edges:
        out.setdefault(edge.source, []).append(edge.target)
        where.setdefault((edge.source, edge.target), edge)
    found = []
    for component in _components(sorted(modules), out):
        if len(component) == 1 and component[0] not in out.get(component[0], []):
            continue
        seen: set[tuple[str, ...]] = set()
        for member in component:  # a shortest cycle through each member, each cycle once
            cycle = _one_cycle(member, set(component), out)
            turn = cycle.index(min(cycle[:-1]))
            key = tuple(cycle[turn:-1] + cycle[:turn])
            if key in seen:
                continue
            seen.add(key)
            steps = ", ".join(f"{where[(a, b)].path}:{where[(a, b)].line}" for a, b in zip(cycle, cycle[1:]))
            found.append(f"{' -> '.join(cycle)}   [{steps}]")
    return found


def floor_of(module: str) -> int | None:
    if module in MODULE_FLOORS:
        return MODULE_FLOORS[module]
    packages = [p for p in PACKAGE_FLOORS if module.startswith(p + ".") or module == p]
    return PACKAGE_FLOORS[max(packages, key=len)] if packages else None


def _root(module: str) -> str:
    return module.split(".")[0]


# -- the rules ------------------------------------------------------------------------------------


def test_the_graph_is_read():
    # Guard against every rule below passing vacuously because the walk found nothing.
    modules, edges = import_graph()
    pairs = {(e.source, e.target) for e in edges}
    assert {"server.app", "server.cli", "mailgate.gateway", "crypto"} <= set(modules)
    assert ("server.app", "server.api") in pairs          # from . import api
    assert ("server.cli", "mailgate") in pairs            # an import inside a function
    assert ("mailgate.gateway", "crypto") in pairs        # import crypto


def test_the_walk_finds_a_cycle(tmp_path, monkeypatch):
    # The cycle finder itself: two modules that import each other, one of them under TYPE_CHECKING.
    package = tmp_path / "server"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import B\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\n")
    monkeypatch.setitem(globals(), "REPO", tmp_path)
    cycles = import_cycles()
    assert len(cycles) == 1 and cycles[0].startswith("server.a -> server.b -> server.a"), cycles


def test_no_import_cycles():
    cycles = import_cycles()
    assert not cycles, "import cycles (every import counts, TYPE_CHECKING and function-level too):\n" + \
        "\n".join(cycles)


def test_crypto_imports_nothing_of_ours():
    _, edges = import_graph()
    offenders = [str(e) for e in edges if _root(e.source) == "crypto" and _root(e.target) != "crypto"]
    assert not offenders, "crypto/ imports nothing of ours:\n" + "\n".join(offenders)


def test_mailgate_reaches_the_server_only_through_its_port():
    _, edges = import_graph()
    offenders = [str(e) for e in edges if _root(e.source) == "mailgate" and _root(e.target) not in ("mailgate", "crypto")
                 and e.target not in MAILGATE_PORT]
    assert not offenders, f"mailgate/ imports crypto and, of server/, only {sorted(MAILGATE_PORT)}:\n" + \
        "\n".join(offenders)
    docstring = ast.get_docstring(ast.parse((REPO / "mailgate" / "__init__.py").read_text(encoding="utf-8"))) or ""
    for port in MAILGATE_PORT:
        assert port in docstring, f"mailgate/__init__.py's docstring names its interface {port}"


def test_only_the_entry_point_imports_mailgate():
    _, edges = import_graph()
    offenders = [str(e) for e in edges if _root(e.target) == "mailgate" and _root(e.source) != "mailgate"
                 and e.source != MAILGATE_IMPORTER]
    assert not offenders, f"only {MAILGATE_IMPORTER} imports mailgate:\n" + "\n".join(offenders)


def test_only_the_audit_imports_client():
    _, edges = import_graph()
    offenders = [str(e) for e in edges if _root(e.target) == "client" and _root(e.source) != "client"
                 and e.source != CLIENT_IMPORTER]
    assert not offenders, f"only {CLIENT_IMPORTER} imports client:\n" + "\n".join(offenders)


def test_client_does_not_import_the_server_side():
    # A client that borrowed the server's code would not test the protocol from outside.
    _, edges = import_graph()
    offenders = [str(e) for e in edges if _root(e.source) == "client" and _root(e.target) in ("server", "mailgate")]
    assert not offenders, "client/ imports neither server nor mailgate:\n" + "\n".join(offenders)


def test_every_server_module_has_a_floor():
    modules, _ = import_graph()
    missing = [m for m in modules if _root(m) == "server" and floor_of(m) is None]
    assert not missing, ("give these modules a floor in ARCHITECTURE.md and in MODULE_FLOORS here: "
                         + ", ".join(missing))


def test_server_imports_only_downwards():
    _, edges = import_graph()
    offenders = []
    for e in edges:
        if _root(e.source) != "server" or _root(e.target) != "server":
            continue
        source, target = floor_of(e.source), floor_of(e.target)
        if source is not None and target is not None and target > source:
            offenders.append(f"{e}: {FLOOR_NAMES[source]} floor imports {FLOOR_NAMES[target]} floor")
    assert not offenders, "an import that runs back up:\n" + "\n".join(offenders)


def test_the_ground_floor_is_plain_python():
    modules = module_files()
    offenders = []
    for module, path in modules.items():
        if floor_of(module) != GROUND or module in GROUND_MAY_USE_AIOHTTP:
            continue
        for line, name, level, _ in _imports(path):
            if not level and _root(name) in ("aiohttp", "aiohttp_jinja2", "aiosmtpd"):
                offenders.append(f"{path.relative_to(REPO)}:{line}: {name}")
    assert not offenders, "the ground floor of server/ does not know the web framework:\n" + "\n".join(offenders)


def test_every_module_is_on_the_map():
    text = MAP.read_text(encoding="utf-8")
    mentioned = set(re.findall(r"`((?:server|mailgate)(?:/\w+)*(?:\.py|/))`", text))
    modules = module_files()
    missing = []
    for module, path in modules.items():
        if _root(module) not in ("server", "mailgate"):
            continue
        rel = path.relative_to(REPO).as_posix()
        folder = rel.rsplit("/", 1)[0] + "/"
        if rel not in mentioned and not (path.name == "__init__.py" and folder in mentioned):
            missing.append(rel)
    assert not missing, "ARCHITECTURE.md says nothing about: " + ", ".join(missing)
    gone = sorted(p for p in mentioned if not (REPO / p).exists())
    assert not gone, "ARCHITECTURE.md describes what is not there any more: " + ", ".join(gone)
