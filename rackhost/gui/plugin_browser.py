"""The plug-in browser: built-ins and the scanned plug-ins, searchable, grouped by kind; failed ones apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import dearpygui.dearpygui as dpg

from rackhost.gui.dialogs import centre
from rackhost.gui.scale import px
from rackhost.gui.text import CHAR, cut
from rackhost.gui.theme import MUTED, WARNING

if TYPE_CHECKING:
    from rackhost.gui.host import PluginBrowserHost

GROUPS = ("Built-in effects", "VST3 effects", "VST3 instruments", "Not scanned yet", "Failed to load",
          "Not usable in a chain")
UNCHOSEN = (GROUPS[4], GROUPS[5])  # listed with the reason, never offered
NAME_WIDTH = 170  # at 1x: a plug-in's name, then its detail (vendor, channels), each cut to its width with ".."
DETAIL_WIDTH = 29 * CHAR


@dataclass(frozen=True)
class Entry:
    name: str
    group: str
    detail: str = ""  # vendor and layouts, or why it failed

    def matches(self, text: str) -> bool:
        text = text.strip().lower()
        return not text or text in self.name.lower() or text in self.detail.lower()


def catalogue() -> list[Entry]:
    """Everything the user can put in a slot, from the scan cache (``rackhost scan``); nothing is loaded here."""
    from rackhost.chain.builtins import BLOCKWISE_BROKEN_BUILTINS, chain_builtin_names
    from rackhost.chain.discovery import PluginCache, scan_folders
    from rackhost.chain.folders import find_plugin_files

    entries = [Entry(name, GROUPS[0], "pedalboard") for name in chain_builtin_names()]
    # A chain refuses these (they cannot run block by block): shown with why, as 'rackhost plugins' does.
    entries += [Entry(name, GROUPS[5], reason) for name, reason in sorted(BLOCKWISE_BROKEN_BUILTINS.items())]
    cache = PluginCache.load()
    seen = set()
    for record in sorted(cache.records.values(), key=lambda r: r.name.lower()):
        seen.add(record.path)
        if not record.ok:
            # Refused when chosen (see rackhost.chain.discovery.guard): the reason and the way back.
            entries.append(Entry(record.name, GROUPS[4], f"{record.error or 'failed its probe'} "
                                                         f"(after fixing it: rackhost plugins --retry {record.name})"))
            continue
        info = record.info or {}
        instrument = info.get("kind") == "instrument"
        detail = " ".join(filter(None, [str(info.get("vendor", "")), "/".join(info.get("layouts", []))]))
        entries.append(Entry(record.name, GROUPS[2] if instrument else GROUPS[1], detail))
    listed = {e.name for e in entries}
    for name, path in sorted(find_plugin_files(scan_folders()).items()):
        if str(path) not in seen and name not in listed:
            # Chosen, it is first probed in a child process, so a crashing one cannot take the window down.
            entries.append(Entry(name, GROUPS[3], "probed safely when added"))
    return entries


class PluginBrowser:
    """A window listing the catalogue; choosing an entry calls ``choose(name)`` (the app loads it off-thread)."""

    def __init__(self, app: PluginBrowserHost, title: str, choose: Callable[[str], None]):
        self.app = app
        self.choose = choose
        self.rows: dict[str, int] = {}
        with dpg.window(label=title, width=380, height=520, modal=False, no_collapse=True,
                        on_close=lambda: self.close()) as self.window:
            self.search = dpg.add_input_text(hint="search plug-ins", width=-1, callback=lambda *_: self.filter())
            with dpg.child_window(height=-34, border=False) as self.body:
                pass
            with dpg.group(horizontal=True):
                dpg.add_button(label="Scan for plug-ins", callback=lambda: self.app.scan.start())
                dpg.add_button(label="Add a folder...",
                               callback=lambda: self.app.files.choose_folder("Plug-in folder to scan",
                                                                             self.app.scan.add_folder))
        self.refresh()
        centre(self.window, 380, 520)

    def refresh(self) -> None:
        """List the catalogue as it is now (after a scan, say)."""
        self.entries = catalogue()
        self.rows = {}
        dpg.delete_item(self.body, children_only=True)
        for group in GROUPS:
            members = [e for e in self.entries if e.group == group]
            if not members:
                continue
            with dpg.collapsing_header(label=f"{group} ({len(members)})",
                                       default_open=group not in (GROUPS[3], GROUPS[5]),
                                       parent=self.body):
                for entry in members:
                    if entry.group in UNCHOSEN:
                        row = dpg.add_text(f"{entry.name}: {entry.detail}", color=WARNING, wrap=340)
                    else:
                        shown = cut(entry.name, px(NAME_WIDTH)), cut(entry.detail, px(DETAIL_WIDTH))
                        with dpg.group(horizontal=True) as row:
                            name = dpg.add_selectable(label=shown[0], width=px(NAME_WIDTH), user_data=entry.name,
                                                      callback=lambda s, a, name: self.pick(name))
                            detail = dpg.add_text(shown[1], color=MUTED)
                        for item, cut_text, whole in zip((name, detail), shown, (entry.name, entry.detail)):
                            if cut_text != whole:  # cut to fit: the whole of it on hover
                                with dpg.tooltip(item):
                                    dpg.add_text(whole)
                    self.rows[f"{entry.group}/{entry.name}"] = row
        self.filter()

    @property
    def alive(self) -> bool:
        return dpg.does_item_exist(self.window)

    def filter(self, text: str | None = None) -> list[str]:
        """Show the entries matching the search text; returns their names."""
        if text is not None:
            dpg.set_value(self.search, text)
        text = dpg.get_value(self.search)
        shown = []
        for entry in self.entries:
            visible = entry.matches(text)
            dpg.configure_item(self.rows[f"{entry.group}/{entry.name}"], show=visible)
            if visible:
                shown.append(entry.name)
        return shown

    def pick(self, name: str) -> None:
        self.choose(name)
        self.close()

    def close(self) -> None:
        if dpg.does_item_exist(self.window):
            dpg.delete_item(self.window)
