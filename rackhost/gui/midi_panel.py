"""The MIDI panel: ports for the engine, the controller mappings, MIDI learn, and the program map.

Learn starts from a right-click on any parameter, fader or pan control (or
the panel's list); the engine binds the next controller that moves and the
mapping comes back to the window's session, to be saved with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from rackhost.gui.dialogs import centre
from rackhost.gui.theme import MUTED, WARNING

if TYPE_CHECKING:
    from rackhost.gui.host import MidiPanelHost

NONE = "(none)"
OWN_INPUT = "virtual:rackhost_in"  # a port of rackhost's own, for a controller app to connect to
OWN_OUTPUT = "virtual:rackhost_out"
WIDTH, HEIGHT = 640, 560  # wide enough for the program map's row of labelled fields


def available_ports() -> tuple[list[str], list[str], str | None]:
    """MIDI inputs and outputs, and why there are none (no MIDI system) if so."""
    from rackhost.live.midi_ports import list_ports
    from rackhost.errors import RackhostError

    try:
        ports = list_ports()
    except RackhostError as err:
        return [], [], str(err)
    return list(ports.inputs), list(ports.outputs), None


class MidiPanel:
    def __init__(self, app: MidiPanelHost):
        self.app = app
        inputs, outputs, problem = available_ports()
        setup = app.midi_setup
        with dpg.window(label="MIDI", width=WIDTH, height=HEIGHT, no_collapse=True,
                        on_close=lambda: self.close()) as self.window:
            dpg.add_text("Ports", color=MUTED)
            if problem:
                dpg.add_text(problem, color=WARNING, wrap=520)
            # Each label before its field, as the Audio settings dialog has them (Dear PyGui puts a label after).
            with dpg.table(header_row=False, policy=dpg.mvTable_SizingFixedFit):
                dpg.add_table_column(width_fixed=True, init_width_or_weight=110)
                dpg.add_table_column(width_stretch=True)
                with dpg.table_row():
                    dpg.add_text("Input")
                    self.input = dpg.add_combo([NONE, OWN_INPUT, *inputs], width=300,
                                               default_value=(setup.inputs[0] if setup and setup.inputs else NONE))
                with dpg.table_row():
                    dpg.add_text("Feedback output")
                    self.output = dpg.add_combo([NONE, OWN_OUTPUT, *outputs], width=300,
                                                default_value=(setup.output if setup and setup.output else NONE))
            dpg.add_button(label="Use these ports (restarts the engine)", callback=lambda: self.apply_ports())
            dpg.add_separator()
            with dpg.group(horizontal=True):
                dpg.add_text("Controller mappings", color=MUTED)
                dpg.add_text("(right-click a control to learn)", color=MUTED)
            self.learning = dpg.add_text("", color=WARNING)
            with dpg.child_window(height=110, border=True) as self.mappings:
                pass
            dpg.add_separator()
            dpg.add_text("Program map: a program change recalls a preset", color=MUTED)
            with dpg.child_window(height=80, border=True) as self.programs:
                pass
            with dpg.group(horizontal=True) as self.program_row:
                dpg.add_text("ch")
                self.channel = dpg.add_input_int(default_value=1, min_value=1, max_value=16,
                                                 min_clamped=True, max_clamped=True, width=70)
                dpg.add_text("program")
                self.program = dpg.add_input_int(default_value=0, min_value=0, max_value=127,
                                                 min_clamped=True, max_clamped=True, width=70)
                dpg.add_text("recalls")
                presets = _preset_names()
                self.preset = dpg.add_combo(presets, default_value=presets[0] if presets else "", width=150)
                dpg.add_text("on")
                self.where = dpg.add_combo([], width=90)
                dpg.add_button(label="Add", callback=lambda: self.add_program())
        centre(self.window, WIDTH, HEIGHT)
        self.refresh()

    def apply_ports(self) -> None:
        chosen = dpg.get_value(self.input)
        output = dpg.get_value(self.output)
        self.app.set_midi_ports(() if chosen == NONE else (chosen,), None if output == NONE else output)

    def refresh(self) -> None:
        """Show the session's mappings and program map as they are now."""
        if not self.alive:
            return
        app, midi = self.app, self.app.session.midi
        dpg.delete_item(self.mappings, children_only=True)
        for index, mapping in enumerate(midi.mappings):
            with dpg.group(horizontal=True, parent=self.mappings):
                dpg.add_button(label="x", width=18, user_data=index, callback=lambda s, a, i: app.unmap_midi(i))
                dpg.add_text(mapping.describe(app.session))
        if not midi.mappings:
            dpg.add_text("no mappings yet", parent=self.mappings, color=MUTED)
        dpg.delete_item(self.programs, children_only=True)
        for entry in midi.programs:
            where = "master" if entry.track is None else app.session.tracks[entry.track].name \
                if entry.track < len(app.session.tracks) else f"track {entry.track + 1}"
            with dpg.group(horizontal=True, parent=self.programs):
                dpg.add_button(label="x", width=18, user_data=entry, callback=lambda s, a, e: app.unprogram_midi(e))
                dpg.add_text(f"ch {entry.channel} program {entry.program}: {entry.preset} on {where}")
        if not midi.programs:
            dpg.add_text("no program changes mapped", parent=self.programs, color=MUTED)
        targets = ["master", *(t.name for t in app.session.tracks)]
        dpg.configure_item(self.where, items=targets)
        if dpg.get_value(self.where) not in targets:
            dpg.set_value(self.where, "master")
        learning = midi.learning or app.learning
        dpg.set_value(self.learning, f"learning: move a controller for {learning.target.describe(app.session)}"
                      if learning is not None else "")

    def add_program(self) -> None:
        where = dpg.get_value(self.where)
        names = [t.name for t in self.app.session.tracks]
        track = names.index(where) if where in names else None
        self.app.program_midi(dpg.get_value(self.channel), dpg.get_value(self.program), track,
                              dpg.get_value(self.preset))

    @property
    def alive(self) -> bool:
        return dpg.does_item_exist(self.window)

    def close(self) -> None:
        if self.alive:
            dpg.delete_item(self.window)


def _preset_names() -> list[str]:
    from rackhost.presets.store import PresetStore

    try:
        return [entry.ref for entry in PresetStore().list()]
    except Exception:  # noqa: BLE001 - a damaged store must not keep the panel from opening
        return []

