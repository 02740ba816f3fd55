"""Each view of the rack sees the window only through its narrow host (rackhost/gui/host.py), never RackApp.

Read from the source with tests/test_import_rules.py's import graph (every
form of import counts, TYPE_CHECKING and function-local ones too), and from
the views' own attribute reads: a view that reached for something its host
type does not declare would hide a dependency on the whole window again.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from test_import_rules import ROOT, circles, import_graph

from rackhost.chain import Session
from rackhost.gui import host as hosts
from rackhost.gui.app import RackApp

APP = "rackhost.gui.app"
# Each view module, and the host type its view is handed.
VIEWS = {
    "strip": hosts.StripHost,
    "routing_view": hosts.RoutingViewHost,
    "parameter_panel": hosts.ParameterPanelHost,
    "split_panel": hosts.SplitPanelHost,
    "plugin_browser": hosts.PluginBrowserHost,
    "editor_window": hosts.EditorHost,
    "midi_panel": hosts.MidiPanelHost,
    "preset_browser": hosts.PresetBrowserHost,
    "render_dialog": hosts.RenderHost,
    "settings_dialog": hosts.SettingsHost,
    "spectrum_view": hosts.SpectrumHost,
    "files": hosts.FilesHost,
    "history": hosts.HistoryHost,
    "timeline": hosts.TimelineHost,
}


def members(protocol: type) -> set[str]:
    """The names a protocol declares, its parts' included."""
    names: set[str] = set()
    for base in protocol.__mro__:
        if base is object or not getattr(base, "_is_protocol", False) or base.__module__ == "typing":
            continue
        names |= set(getattr(base, "__annotations__", {}))
        names |= {n for n in vars(base) if not n.startswith("_") and n not in ("HOSTS",)}
    return names


def host_reads(path: Path) -> set[str]:
    """The attributes a view module reads off its host: ``app.x``, ``self.app.x``, ``browser.app.x``, ``self.host.x``."""
    reads = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Attribute):
            continue
        holder = node.value
        name = holder.id if isinstance(holder, ast.Name) else getattr(holder, "attr", None)
        if name in ("app", "host"):
            reads.add(node.attr)
    return reads


def test_no_gui_module_but_the_app_itself_imports_the_app():
    graph = import_graph(ROOT)
    gui = [module for module in graph if module.startswith("rackhost.gui.") and module != APP]
    assert len(gui) >= len(VIEWS)
    assert [module for module in gui if APP in graph[module]] == []


def test_the_gui_makes_no_import_circle():
    assert [circle for circle in circles(ROOT) if any(m.startswith("rackhost.gui") for m in circle)] == []


@pytest.mark.parametrize("module", sorted(VIEWS))
def test_each_view_reads_only_what_its_host_type_declares(module):
    reads = host_reads(ROOT / "rackhost" / "gui" / f"{module}.py")
    assert reads, f"{module} reads nothing off its host: did the view stop being handed one?"
    assert reads - members(VIEWS[module]) == set()


@pytest.mark.parametrize("protocol", hosts.HOSTS, ids=lambda p: p.__name__)
def test_the_rack_window_is_every_views_host(protocol):
    app = RackApp(Session(), None, start_engine=False)
    assert isinstance(app, protocol)
    missing = {name for name in members(protocol) if not hasattr(app, name)}
    assert missing == set()


def test_a_host_missing_one_method_is_not_a_strip_host():
    # runtime_checkable must notice a missing member, or the test above proves nothing.
    class AlmostApp:
        pass

    app = RackApp(Session(), None, start_engine=False)
    for name in members(hosts.StripHost) - {"learn_midi"}:
        setattr(AlmostApp, name, getattr(app, name))
    assert not isinstance(AlmostApp(), hosts.StripHost)
    AlmostApp.learn_midi = app.learn_midi
    assert isinstance(AlmostApp(), hosts.StripHost)


def test_the_midi_part_of_the_app_uses_only_what_it_declares_of_the_rest():
    # MidiActions is a part of RackApp (a mixin): its narrow view of the window is its own annotations.
    tree = ast.parse((ROOT / "rackhost" / "gui" / "midi_actions.py").read_text(encoding="utf-8"))
    part = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "MidiActions")
    defined = {node.name for node in part.body if isinstance(node, ast.FunctionDef)}
    declared = {node.target.id for node in part.body if isinstance(node, ast.AnnAssign)}
    used = {node.attr for node in ast.walk(part)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"}
    assert used - defined - declared == set()
    app = RackApp(Session(), None, start_engine=False)
    assert {name for name in declared if not hasattr(app, name)} == set()
