"""The preset browser: factory and user presets by stage, searchable; load one onto a strip, save a chain.

Loading goes through :func:`rackhost.presets.apply.apply_preset` (one undo
step). The preset's plug-ins are made on the app's plug-in thread (a VST3
can take seconds to load; JUCE takes loads from one thread only, see
:func:`rackhost.gui.background.plugin_thread`) while a spinner turns, and
only the finished chain is put into the session, on the GUI thread. Saving
writes a user preset through :class:`PresetStore`; a name that exists asks
before overwriting, and every error is shown in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from rackhost.chain.builtins import is_builtin
from rackhost.chain.discovery.trust import scan_folders
from rackhost.chain.folders import find_plugin_files
from rackhost.chain.bus import Bus
from rackhost.chain.track import Track
from rackhost.errors import RackhostError
from rackhost.gui.background import Task, plugin_thread, poll_while_visible
from rackhost.gui.dialogs import WARNING, DialogView, centre
from rackhost.gui.scale import px
from rackhost.gui.text import cut
from rackhost.gui.theme import ACCENT, CLIP, METER, MUTED
from rackhost.live.commands import BusRow
from rackhost.presets.apply import apply_preset, preset_from
from rackhost.presets.preset import PROVIDERS, STAGES, Preset, plugin_states, restore_chain
from rackhost.presets.store import PresetEntry, PresetStore

if TYPE_CHECKING:
    from rackhost.gui.host import PresetBrowserHost

WIDTH, HEIGHT = 1000, 600
LIST_WIDTH = 470
# The list's columns at 1x (their text, without the cells' padding): fixed, so a cell's text is cut to its own
# width with ".." (Dear PyGui clips it without a mark), the whole of it on hover. With the cells' padding and
# borders they take 436 pixels of the 440 the list has inside, a scrollbar included.
COLUMNS = (("Preset", 160), ("Stage", 70), ("Tags", 180))
SAVE_HEIGHT = 340
ALL = "all"


@dataclass(frozen=True)
class SlotSummary:
    name: str
    installed: bool
    note: str  # where to get it, for a missing one


def summarize(preset: Preset, installed: set[str]) -> list[SlotSummary]:
    """Each slot's plug-in, and whether this machine has it (``installed``: lower-case VST3/AU names)."""
    out = []
    for state in plugin_states(preset.slots):  # a split's plug-ins too
        name = str(state.plugin.get("name", "?"))
        have = state.plugin.get("format") == "builtin" or is_builtin(name) or name.lower() in installed
        provider = next((pkg for prefix, pkg in PROVIDERS.items() if name.startswith(prefix)), None)
        note = "" if have else (f"not installed: {provider}" if provider else "not installed")
        out.append(SlotSummary(name, have, note))
    return out


def matches(entry: PresetEntry, text: str) -> bool:
    """Every word of ``text`` is in the preset's name, a tag or its description (case-insensitive)."""
    haystack = " ".join((entry.name, entry.description, *entry.tags)).lower()
    return all(word in haystack for word in text.lower().split())


class PresetBrowser(DialogView):
    """One window: stage tabs, a search box, the matching presets, the selected one's details."""

    TITLE = "Presets"

    def __init__(self, app: PresetBrowserHost, store: PresetStore | None = None):
        self.app = app
        self.store = store or PresetStore()
        self.stage = ALL
        self._all: list[PresetEntry] = []  # the store's presets, read on opening and after a save
        self.entries: list[PresetEntry] = []  # what the list shows, in order
        self.selected: PresetEntry | None = None
        self.preset: Preset | None = None
        self.task: Task | None = None
        self.saver: SaveDialog | None = None
        self._installed = {name.lower() for name in find_plugin_files(scan_folders())}
        self._build()
        self.reload()
        if self.entries:
            self.select(0)

    # -- building -----------------------------------------------------------------------

    def _build(self) -> None:
        with dpg.window(label=self.TITLE, width=WIDTH, height=HEIGHT, no_collapse=True,
                        on_close=lambda *_: self.close()) as self.window:
            with dpg.group(horizontal=True):
                self.search = dpg.add_input_text(hint="search name, tag or description",
                                                 width=px(LIST_WIDTH) - px(8), callback=lambda *_: self.refresh())
                self.count = dpg.add_text("", color=MUTED)
            with dpg.tab_bar(callback=self._stage_chosen) as self.tabs:
                self.stage_tabs = {}
                for stage in [ALL, *self.store.stages()]:
                    self.stage_tabs[dpg.add_tab(label=stage.capitalize(), parent=self.tabs)] = stage
            with dpg.group(horizontal=True):
                with dpg.child_window(width=px(LIST_WIDTH), height=-40, border=True):
                    with dpg.table(header_row=True, policy=dpg.mvTable_SizingFixedFit, row_background=True,
                                   borders_innerV=True) as self.table:
                        for label, width in COLUMNS:
                            dpg.add_table_column(label=label, width_fixed=True, init_width_or_weight=px(width))
                    self.empty = dpg.add_text("No preset matches.", color=MUTED, show=False)
                with dpg.child_window(width=-1, height=-40, border=True):
                    self._build_details()
            with dpg.group(horizontal=True):
                dpg.add_button(label="Save current chain as preset...", callback=lambda *_: self.open_save())
                dpg.add_spacer(width=20)
                self.problems = dpg.add_text("", color=WARNING)
        poll_while_visible(self.window, self.poll)
        centre(self.window, WIDTH, HEIGHT)

    def _build_details(self) -> None:
        self.title = dpg.add_text("Select a preset on the left.", color=ACCENT)
        self.origin = dpg.add_text("", color=MUTED)
        self.description = dpg.add_text("", wrap=460)
        self.tags = dpg.add_text("", color=MUTED, wrap=460)
        dpg.add_separator()
        dpg.add_text("Plug-ins", color=MUTED)
        self.plugins = dpg.add_group()
        dpg.add_separator()
        with dpg.group(horizontal=True, show=False) as self.load_row:
            dpg.add_text("Load onto")
            self.target = dpg.add_combo([], width=220)
            self.load_button = dpg.add_button(label="Load", width=80, callback=lambda *_: self.load(), enabled=False)
            self.spinner = dpg.add_loading_indicator(style=1, radius=1.5, show=False)
        self.target_note = dpg.add_text("", color=MUTED, wrap=460)
        self.status = dpg.add_text("", wrap=460)

    # -- the list -----------------------------------------------------------------------

    def _stage_chosen(self, sender: int, tab: int, *_: object) -> None:
        self.stage = self.stage_tabs.get(tab, ALL)
        self.refresh()

    def reload(self) -> None:
        """Read the store again (on opening, and after a save), then show what matches."""
        self._all = self.store.list()
        problems = self.store.problems()
        dpg.set_value(self.problems, f"{len(problems)} unreadable preset file(s): {problems[0]}" if problems else "")
        self.refresh()

    def refresh(self) -> None:
        """Show the presets of the chosen stage that match the search."""
        text = dpg.get_value(self.search) or ""
        found = [e for e in self._all if (self.stage == ALL or e.stage == self.stage) and matches(e, text)]
        self.entries = found
        dpg.delete_item(self.table, children_only=True, slot=1)  # the rows; the columns stay
        self.rows = []
        for index, entry in enumerate(found):
            with dpg.table_row(parent=self.table):
                # A selectable in every cell keeps the row's texts on one baseline; all three light up together.
                cells = (entry.name + ("" if entry.factory else "  (user)"), entry.stage, ", ".join(entry.tags))
                row = tuple(self._cell(cell, width, index, entry == self.selected)
                            for cell, (_, width) in zip(cells, COLUMNS))
            self.rows.append(row)
        dpg.configure_item(self.empty, show=not found)
        dpg.set_value(self.count, f"{len(found)} preset{'s' * (len(found) != 1)}")

    def _cell(self, text: str, width: int, index: int, selected: bool) -> int:
        """One cell of the list's row ``index``: ``text`` cut to the column's ``width`` (at 1x) with "..", and
        then said whole when hovered."""
        shown = cut(text, px(width))
        cell = dpg.add_selectable(label=shown, user_data=index, callback=lambda s, a, i: self.select(i),
                                  default_value=selected)
        if shown != text:
            with dpg.tooltip(cell):
                dpg.add_text(text)
        return cell

    def select(self, index: int) -> None:
        """Show the details of the listed preset at ``index``."""
        for i, row in enumerate(self.rows):
            for cell in row:
                dpg.set_value(cell, i == index)
        entry = self.entries[index]
        self.selected = entry
        try:
            self.preset = self.store.load(entry.ref)
        except RackhostError as err:
            self.preset = None
            self._say(str(err), CLIP)
            return
        preset = self.preset
        dpg.set_value(self.title, f"{preset.name}")
        kind = {"chain": "a chain", "track": "a track (chain, gain, pan)", "bus": "a bus (chain, gain, pan)",
                "master": "the master (chain, gain, target)"}
        dpg.set_value(self.origin, f"{entry.ref}  ·  {'factory' if entry.factory else 'user'} preset of "
                                   f"{kind.get(preset.kind, preset.kind)}")
        dpg.set_value(self.description, preset.description or "(no description)")
        extra = ""
        if preset.loudness_target_lufs is not None:
            extra = f"  ·  renders to {preset.loudness_target_lufs:g} LUFS"
        dpg.set_value(self.tags, ("tags: " + ", ".join(preset.tags) if preset.tags else "no tags") + extra)
        dpg.delete_item(self.plugins, children_only=True)
        for i, slot in enumerate(summarize(preset, self._installed)):
            with dpg.group(horizontal=True, parent=self.plugins):
                dpg.add_text(f"{i + 1}. {slot.name}", color=None if slot.installed else CLIP)
                if slot.note:
                    dpg.add_text(f"({slot.note}; its slot loads bypassed)", color=CLIP, wrap=340)
        self._fill_targets()
        dpg.configure_item(self.load_row, show=True)
        dpg.configure_item(self.load_button, enabled=self.task is None)
        self._say("")

    def _fill_targets(self) -> None:
        """The strips a preset can go onto: a master preset only onto the master."""
        self.targets: list[tuple[str, Any]] = strip_targets(self.app.session)
        if self.preset is not None and self.preset.kind == "master":
            self.targets = [("master", None)]
            dpg.set_value(self.target_note, "A master preset loads onto the master bus.")
        else:
            dpg.set_value(self.target_note, "")
        labels = [label for label, _ in self.targets]
        dpg.configure_item(self.target, items=labels)
        if dpg.get_value(self.target) not in labels:
            dpg.set_value(self.target, labels[0])

    def choose_target(self, track: Any) -> None:
        """Pick the strip to load onto (a click on the combo does the same)."""
        self._fill_targets()
        label = next(label for label, index in self.targets if index == track)
        dpg.set_value(self.target, label)

    def _target_index(self) -> Any:
        return dict(self.targets)[dpg.get_value(self.target)]

    # -- loading ------------------------------------------------------------------------

    def load(self) -> None:
        """Load the selected preset onto the chosen strip: plug-ins made on a worker, installed here."""
        if self.preset is None or self.selected is None or self.task is not None:
            return
        preset, ref = self.preset, self.selected.ref
        index = self._target_index()
        owner = self.app.owner(index)
        kind = "bus" if isinstance(index, BusRow) else "track"
        where = "the master" if preset.kind == "master" or index is None else f"{kind} {owner.name!r}"
        self.task = Task(lambda task: restore_chain(preset, ref), name=f"preset {ref}", submit=plugin_thread(self.app))
        self._loading = (preset, ref, owner, where)
        dpg.configure_item(self.load_button, enabled=False)
        dpg.configure_item(self.spinner, show=True)
        self._say(f"loading {ref} onto {where}... (plug-ins load off the GUI thread)", MUTED)

    def poll(self) -> None:
        """Once a frame: a finished load is put into the session (on this, the GUI thread)."""
        task = self.task
        if task is None or not task.done:
            return
        self.task = None
        preset, ref, owner, where = self._loading
        dpg.configure_item(self.spinner, show=False)
        dpg.configure_item(self.load_button, enabled=self.preset is not None)
        if task.error is not None:
            self._say(f"could not load {ref}: {_message(task.error)}", CLIP)
            return
        if isinstance(owner, (Track, Bus)) and owner not in (*self.app.session.tracks, *self.app.session.busses):
            self._say(f"{where} was removed while {ref} loaded; nothing was changed", CLIP)
            return
        try:
            report = apply_preset(preset, self.app.session, owner if isinstance(owner, (Track, Bus)) else None,
                                  source=ref, restored=task.result)
        except RackhostError as err:
            self._say(f"could not load {ref}: {err}", CLIP)
            return
        self.app.structure_changed()
        warnings = report.warnings()
        if warnings:
            self._say(f"loaded {ref} onto {where} (Edit > Undo takes it back), with warnings:\n"
                      + "\n".join(f"- {w}" for w in warnings), WARNING)
        else:
            self._say(f"loaded {ref} onto {where} (Edit > Undo takes it back)", METER)

    # -- saving -------------------------------------------------------------------------

    def open_save(self) -> SaveDialog:
        self.saver = SaveDialog(self, self._target_index() if self.preset is not None else None)
        return self.saver


class SaveDialog(DialogView):
    """Save a strip's chain as a user preset: name, stage, tags, description; asks before overwriting."""

    def __init__(self, browser: PresetBrowser, track: Any):
        self.browser = browser
        app = browser.app
        self.targets = strip_targets(app.session)
        label = next((lbl for lbl, i in self.targets if i == track), self.targets[0][0])
        stages = browser.store.stages()
        with dpg.window(label="Save chain as preset", modal=True, width=520, height=SAVE_HEIGHT, no_collapse=True,
                        on_close=lambda *_: self.close()) as self.window:
            with dpg.group(horizontal=True):
                dpg.add_text("Chain of   ")
                self.source = dpg.add_combo([lbl for lbl, _ in self.targets], default_value=label, width=-1)
            with dpg.group(horizontal=True):
                dpg.add_text("Name       ")
                self.name = dpg.add_input_text(width=-1, hint="e.g. warm vocal")
            with dpg.group(horizontal=True):
                dpg.add_text("Stage      ")
                self.stage = dpg.add_combo(stages, width=-1,
                                           default_value=STAGES[2] if track is None else STAGES[1])
            with dpg.group(horizontal=True):
                dpg.add_text("Tags       ")
                self.tags = dpg.add_input_text(width=-1, hint="comma separated: vocal, bright")
            dpg.add_text("Description")
            self.description = dpg.add_input_text(multiline=True, width=-1, height=80)
            dpg.add_text("The master is saved with its gain and loudness target, a bus with its gain and pan; "
                         "a track's chain alone.",
                         color=MUTED, wrap=490)
            with dpg.group(horizontal=True):
                self.save_button = dpg.add_button(label="Save", width=90, callback=lambda *_: self.save())
                dpg.add_button(label="Cancel", width=90, callback=lambda *_: self.close())
            with dpg.group(horizontal=True, show=False) as self.confirm:
                dpg.add_button(label="Overwrite", width=90, callback=lambda *_: self.save(overwrite=True))
                dpg.add_button(label="Keep it", width=90, callback=lambda *_: self._ask(False))
            self.status = dpg.add_text("", wrap=490)
        centre(self.window, 520, SAVE_HEIGHT)

    def save(self, overwrite: bool = False) -> PresetEntry | None:
        """Capture the chain and write it into the user store; errors and the clash question go in the window."""
        store = self.browser.store
        name, stage = dpg.get_value(self.name).strip(), dpg.get_value(self.stage)
        tags = [t.strip() for t in dpg.get_value(self.tags).split(",") if t.strip()]
        if not name:
            return self._fail("give the preset a name")
        clash = [e for e in store.entries() if e.stage == stage and e.name == name]
        if clash and clash[0].factory:
            return self._fail(f"{stage}/{name} is a factory preset (read-only): choose another name")
        if clash and not overwrite:
            self._ask(True)
            self._say(f"A user preset {stage}/{name} exists. Overwrite it?", WARNING)
            return None
        index = dict(self.targets)[dpg.get_value(self.source)]
        owner = self.browser.app.owner(index)
        try:
            whole = index is None or isinstance(index, BusRow)  # a bus preset keeps its fader and pan too
            preset = preset_from(name, stage, owner if whole else owner.chain,
                                 description=dpg.get_value(self.description).strip(), tags=tags)
            entry = store.save(preset, overwrite=overwrite)
        except (RackhostError, OSError) as err:
            self._ask(False)
            return self._fail(str(err))
        self.close()
        self.browser.reload()
        if entry in self.browser.entries:
            self.browser.select(self.browser.entries.index(entry))
        self.browser._say(f"saved {entry.ref} ({entry.path})", METER)
        return entry

    def _ask(self, asking: bool) -> None:
        dpg.configure_item(self.confirm, show=asking)
        dpg.configure_item(self.save_button, enabled=not asking)
        if not asking:
            dpg.set_value(self.status, "")

    def _fail(self, message: str) -> None:
        self._say(message, CLIP)


def strip_targets(session: Any) -> list[tuple[str, Any]]:
    """The strips a preset loads onto or is saved from, as a combo lists them: tracks, busses, the master."""
    return ([(f"{i + 1}: {t.name}", i) for i, t in enumerate(session.tracks)]
            + [(f"bus {b.name}", BusRow(j)) for j, b in enumerate(session.busses)] + [("master", None)])


def _message(err: BaseException) -> str:
    return str(err) if isinstance(err, RackhostError) else f"{type(err).__name__}: {err}"

