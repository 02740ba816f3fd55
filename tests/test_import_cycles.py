"""No import circles in rackhost.chain: a session does not render, the render takes a session."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("import_cycles", ROOT / "scripts" / "import_cycles.py")
import_cycles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_cycles)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path / "pkg"


def test_rackhost_chain_has_no_import_circles():
    graph = import_cycles.import_graph(ROOT / "rackhost" / "chain")
    assert "rackhost.chain.render" in graph and "rackhost.chain.session" in graph["rackhost.chain.render"]
    assert import_cycles.circles(graph) == []


def test_a_function_local_import_closes_a_circle(tmp_path):
    pkg = _package(tmp_path, {
        "__init__.py": "",
        "session.py": "def render():\n    from pkg.render import render\n",
        "render.py": "from pkg.session import Session\n",
    })
    assert import_cycles.circles(import_cycles.import_graph(pkg)) == [["pkg.render", "pkg.session"]]


def test_a_circle_through_a_subpackage_and_a_relative_import_is_found(tmp_path):
    pkg = _package(tmp_path, {
        "__init__.py": "",
        "plugin.py": "from pkg.discovery import guard\n",
        "discovery/__init__.py": "",
        "discovery/guard.py": "from . import probe\n",
        "discovery/probe.py": "from ..plugin import Plugin\n",
    })
    assert import_cycles.circles(import_cycles.import_graph(pkg)) == [
        ["pkg.discovery.guard", "pkg.discovery.probe", "pkg.plugin"]]


def test_imports_only_for_type_checking_are_not_a_circle(tmp_path):
    pkg = _package(tmp_path, {
        "__init__.py": "",
        "session.py": "from pkg.history import History\n",
        "history.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.session import Session\n",
    })
    assert import_cycles.circles(import_cycles.import_graph(pkg)) == []
