"""The house rules of rackhost's imports, read from the source (one-way doors, no circles).

Rooms: ``chain`` (the model and the offline engine), ``live`` (the live
engine), ``presets`` (files), ``gui`` and ``cli``; plus a few foundation
modules every room may use. The doors open one way:

- ``chain`` imports none of ``live``, ``presets``, ``gui``, ``cli``;
- ``live`` imports ``chain`` only (what it needs from presets is handed in as a callable);
- ``presets`` imports ``chain`` only;
- ``gui`` imports ``chain``, ``live``, ``presets``;
- ``cli`` may import all.

An import is any way a module names another: ``import``/``from`` statements
(at the top, inside functions, under ``TYPE_CHECKING``), a name handed to
``importlib.import_module`` or ``__import__``, and any string that is a
module path (``"rackhost.presets.session_sync"``, ``"-m", "rackhost.gui.x"``,
``"module:function"``), because each of those makes the one module depend on
the other at run time. The rules are checked on made-up trees too, so a
reader that stopped seeing one of these forms would fail here.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "rackhost"

FOUNDATION = {"rackhost", "rackhost.errors", "rackhost.atomic", "rackhost.versions", "rackhost.__main__"}
ROOMS = ("chain", "live", "presets", "gui", "cli")
ALLOWED = {
    "foundation": {"foundation", "cli"},  # rackhost/__main__.py hands over to the CLI
    "chain": {"foundation", "chain"},
    "live": {"foundation", "chain", "live"},
    "presets": {"foundation", "chain", "presets"},
    "gui": {"foundation", "chain", "live", "presets", "gui"},
    "cli": {"foundation", "chain", "live", "presets", "gui", "cli"},
}
MODULE_STRING = re.compile(r"^(?:-m\s+)?(rackhost(?:\.\w+)*)(?::\w+)?$")


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package under ``root``, by dotted name."""
    names = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def room_of(module: str) -> str | None:
    if module in FOUNDATION:
        return "foundation"
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ROOMS:
        return parts[1]
    return None


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The package module ``name`` refers to: itself, or its longest known prefix (an attribute's module)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """The package modules ``module`` names, each with the line it first does so."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found: dict[str, int] = {}

    def add(name: str, line: int) -> None:
        target = _resolve(name, modules)
        if target is not None and target != module:
            found.setdefault(target, line)

    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                # `from pkg import submodule` names the submodule; `from mod import thing` names mod.
                full = f"{origin}.{alias.name}"
                add(full if full in modules else origin, node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            match = MODULE_STRING.match(node.value.strip())
            if match:
                add(match.group(1), node.lineno)
    return found


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    modules = module_names(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def broken_doors(root: Path) -> list[str]:
    """Each import that goes through a door the wrong way, as 'file:line: a (room) imports b (room)'."""
    problems = []
    modules = module_names(root)
    for module, targets in import_graph(root).items():
        room = room_of(module)
        if room is None:
            problems.append(f"{modules[module].relative_to(root)}: {module} is in no room (chain, live, presets, "
                            f"gui, cli or the foundation): put it in one")
            continue
        for target, line in sorted(targets.items()):
            target_room = room_of(target)
            if target_room is not None and target_room not in ALLOWED[room]:
                problems.append(f"{modules[module].relative_to(root)}:{line}: {module} ({room}) imports "
                                f"{target} ({target_room})")
    return problems


def circles(root: Path) -> list[list[str]]:
    """The import circles (strongly connected components of two or more modules), by Tarjan's algorithm."""
    graph = {module: sorted(targets) for module, targets in import_graph(root).items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        # Iterative, so a deep chain of imports cannot hit Python's recursion limit.
        nonlocal counter
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return sorted(found)


# -- the rules, on rackhost itself ------------------------------------------------------------------


def test_every_import_goes_through_its_rooms_door_the_right_way():
    assert broken_doors(ROOT) == []


def test_no_module_imports_another_that_imports_it_back():
    """A session does not render (the render takes one); a plug-in's load guard is handed in, not imported."""
    assert circles(ROOT) == []


def test_the_live_engine_names_no_presets_module_even_as_a_string():
    live = {m: t for m, t in import_graph(ROOT).items() if room_of(m) == "live"}
    assert live, "no live room found: did rackhost/live move?"
    assert all(room_of(target) in ALLOWED["live"] for targets in live.values() for target in targets)


# -- the reader, on made-up trees: each form of import is seen, each broken rule fails -----------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    for folder in [tmp_path / PACKAGE, *(p for p in (tmp_path / PACKAGE).rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    return tmp_path


@pytest.mark.parametrize("line", [
    "from rackhost.presets import store",
    "import rackhost.presets.store",
    "from ..presets import store",
    "def later():\n    from rackhost.presets.store import PresetStore",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rackhost.presets.store import PresetStore",
    "import importlib\nloader = importlib.import_module('rackhost.presets.store')",
    "loader = __import__('rackhost.presets.store')",
    "LOADER = 'rackhost.presets.store:PresetStore'",
    "COMMAND = ['python', '-m', 'rackhost.presets.store']",
])
def test_a_chain_module_naming_presets_in_any_form_is_refused(tmp_path, line):
    root = _tree(tmp_path, {"chain/session.py": line + "\n", "presets/store.py": "PresetStore = 1\n"})
    problems = broken_doors(root)
    assert len(problems) == 1
    assert "rackhost.chain.session (chain) imports rackhost.presets.store (presets)" in problems[0]


@pytest.mark.parametrize("importer, imported", [
    ("live/engine.py", "presets/store.py"),
    ("live/engine.py", "gui/app.py"),
    ("presets/store.py", "live/engine.py"),
    ("presets/store.py", "gui/app.py"),
    ("gui/app.py", "cli/render.py"),
    ("chain/session.py", "live/engine.py"),
    ("chain/session.py", "cli/render.py"),
])
def test_each_forbidden_door_is_refused(tmp_path, importer, imported):
    target = "rackhost." + imported[:-3].replace("/", ".")
    root = _tree(tmp_path, {importer: f"import {target}\n", imported: ""})
    assert [p for p in broken_doors(root) if target in p]


@pytest.mark.parametrize("importer, imported", [
    ("live/engine.py", "chain/session.py"),
    ("presets/store.py", "chain/session.py"),
    ("gui/app.py", "live/engine.py"),
    ("gui/app.py", "presets/store.py"),
    ("cli/render.py", "gui/app.py"),
    ("chain/session.py", "errors.py"),
])
def test_the_allowed_doors_stay_open(tmp_path, importer, imported):
    target = "rackhost." + imported[:-3].replace("/", ".")
    root = _tree(tmp_path, {importer: f"import {target}\n", imported: ""})
    assert broken_doors(root) == []


def test_a_docstring_that_mentions_a_module_is_not_an_import(tmp_path):
    root = _tree(tmp_path, {"chain/session.py": '"""rackhost.presets"""\n', "presets/store.py": ""})
    assert broken_doors(root) == []


def test_a_module_in_no_room_is_refused(tmp_path):
    root = _tree(tmp_path, {"stray.py": ""})
    assert any("rackhost.stray is in no room" in p for p in broken_doors(root))


def test_circles_are_found_through_function_local_imports(tmp_path):
    root = _tree(tmp_path, {
        "chain/session.py": "def render():\n    from rackhost.chain import render\n",
        "chain/render.py": "from rackhost.chain.session import Session\n",
        "chain/track.py": "from rackhost.chain.session import Session\n",
    })
    assert circles(root) == [["rackhost.chain.render", "rackhost.chain.session"]]
