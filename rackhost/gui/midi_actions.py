"""What the rack does with MIDI: the engine's ports, learn, the mapping list and program map, and
following what a controller (or a program change) did in the engine.

A part of :class:`rackhost.gui.app.RackApp`, kept apart so the app reads as the window and its edits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from rackhost.live.commands import MidiLearn, MidiProgram, MidiUnmap, MidiUnprogram

if TYPE_CHECKING:
    from rackhost.chain import Session
    from rackhost.chain.midi.mapping import LearnRequest
    from rackhost.gui.host import Submitter
    from rackhost.gui.midi_panel import MidiPanel
    from rackhost.live.midi_input import MidiSetup
    from rackhost.live.process import EngineProcess


class MidiActions:
    """MIDI for the rack.

    What it uses of the rest of the window is declared here and nothing more
    (tests/test_gui_views_narrow.py holds that): the app defines these.
    """

    session: Session
    engine: EngineProcess | None
    loader: Submitter
    midi_setup: MidiSetup | None
    learning: LearnRequest | None
    midi_panel: MidiPanel | None
    tell: Callable[..., None]  # tell(message, error=False)
    send: Callable[..., None]  # a command for the engine, if it runs
    _try: Callable[[Callable[[], Any]], bool]  # a model change; a refused one is shown, not raised
    restart_engine: Callable[..., None]
    structure_changed: Callable[[], None]
    refresh_views: Callable[[], None]

    def set_midi_ports(self, inputs: tuple[str, ...], output: str | None) -> None:
        """Open these MIDI ports in the engine (it restarts); a port that cannot open is reported, not fatal."""
        from rackhost.live.midi_input import MidiSetup
        from rackhost.presets.midi_programs import recall_preset

        self.midi_setup = (MidiSetup(tuple(inputs), output, required=False, program_loader=recall_preset)
                           if inputs or output else None)
        self.restart_engine()

    def learn_midi(self, target: Any) -> None:
        """Bind the next controller that moves to ``target`` (a MappingTarget), through the engine's MIDI input."""
        from rackhost.chain.midi.mapping import LearnRequest

        if self.engine is None or not self.engine.alive or self.midi_setup is None or not self.midi_setup.inputs:
            self.tell("MIDI learn needs a MIDI input: open one in Engine > MIDI...", error=True)
            return
        self.engine.send(MidiLearn(target))
        self.learning = LearnRequest(target)
        self.tell(f"MIDI learn: move a controller for {target.describe(self.session)}")
        self._refresh_midi()

    def unmap_midi(self, index: int) -> None:
        mapping = self.session.midi.remove(index)
        self.send(MidiUnmap(mapping))
        self._changed_outside_undo()

    def program_midi(self, channel: int, program: int, track: int | None, preset: str) -> None:
        if not preset:
            self.tell("pick a preset for the program change", error=True)
            return
        if self._try(lambda: self.session.midi.set_program(channel, program, track, preset)):
            self.send(MidiProgram(channel, program, track, preset))
            self._changed_outside_undo()

    def unprogram_midi(self, entry: Any) -> None:
        self.session.midi.remove_program(entry.channel, entry.program, entry.track)
        self.send(MidiUnprogram(entry.channel, entry.program, entry.track))
        self._changed_outside_undo()

    def _take_learned(self, engine: EngineProcess) -> None:
        from rackhost.chain.midi.mapping import CCMapping

        while engine.learned_mappings:
            mapping = self.session.midi.add(CCMapping.from_dict(engine.learned_mappings.pop(0)))
            self.learning = None
            self.tell(f"mapped {mapping.describe(self.session)}")
            self._changed_outside_undo()

    def _follow_controllers(self, engine: EngineProcess) -> None:
        """Show what a MIDI controller moved in the engine: the window's model and controls follow it."""
        from rackhost.chain.midi.mapping import MappingTarget, apply_value
        from rackhost.errors import RackhostError

        moved = False
        while engine.moved_targets:
            doc, value = engine.moved_targets.pop(0)
            target = MappingTarget.from_dict(doc)
            try:
                apply_value(target, self.session, value)
            except (RackhostError, IndexError, ValueError):
                continue  # the window's session changed meanwhile; the next sync settles it
            moved = True
        if moved:
            self.session.history.changes += 1  # unsaved, like any change (a controller is not an undo step)
            self.refresh_views()

    def _follow_program_changes(self, engine: EngineProcess) -> None:
        """A program change recalled a preset in the engine: the window's session loads it too (undoable).

        The plug-ins load on the plug-in thread; the engine then gets the session
        document as after any edit and, holding the same plug-ins already, only
        compares values.
        """
        from rackhost.presets.apply import apply_preset
        from rackhost.presets.preset import restore_chain
        from rackhost.presets.store import PresetStore

        while engine.recalled_presets:
            track, ref = engine.recalled_presets.pop(0)

            def load(ref: str = ref) -> Any:
                preset = PresetStore().load(ref)
                return preset, restore_chain(preset, ref)

            def loaded(result: Any, track: int | None = track, ref: str = ref) -> None:
                preset, restored = result
                owner = None if track is None or track >= len(self.session.tracks) else self.session.tracks[track]
                apply_preset(preset, self.session, owner, source=ref, restored=restored)
                self.tell(f"program change: {ref}")
                self.structure_changed()

            self.loader.submit(f"recalling {ref}...", load, loaded,
                               lambda err, ref=ref: self.tell(f"program change {ref}: {err}", error=True))

    def _changed_outside_undo(self) -> None:
        self.session.history.changes += 1  # MIDI maps are not undoable steps, but they are unsaved changes
        self._refresh_midi()

    def _refresh_midi(self) -> None:
        if self.midi_panel is not None and self.midi_panel.alive:
            self.midi_panel.refresh()

    def open_midi(self) -> Any:
        from rackhost.gui.midi_panel import MidiPanel

        if self.midi_panel is not None and self.midi_panel.alive:
            dpg.focus_item(self.midi_panel.window)
        else:
            self.midi_panel = MidiPanel(self)
        return self.midi_panel
