"""The rack window: a strip per track and the master, a transport, a status bar.

The frame loop is the GUI's own: Dear PyGui's callbacks run on this thread
(manual callback management), the engine's meters are read from shared
memory once a frame, and nothing here can block the audio, which runs in the
engine process. Every change goes through the session's undoable editor; the
engine hears about it as a small command (a fader, a parameter) or, for a
structural change, as the whole session document, which it applies around
the plug-in instances it already runs (:mod:`rackhost.presets.session_sync`).
Plug-ins are loaded on one thread of their own (:mod:`rackhost.gui.loader`),
so the window never freezes. Without an audio device the window still opens
and says so; everything offline still works.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import dearpygui.dearpygui as dpg

from rackhost.chain import Plugin, Session
from rackhost.chain.automation import MIX, SendTarget, SlotTarget, StripTarget, Target
from rackhost.chain.chain import SlotPath, as_path, branch_chain, item_at, locate, path_of, sidechain_note
from rackhost.chain.plugin import SIDECHAIN_SWITCH
from rackhost.chain.takes import FollowRename, takes_folder
from rackhost.chain.bus import Bus
from rackhost.chain.track import Track
from rackhost.errors import RackhostError
from rackhost.gui.audition_actions import AuditionActions
from rackhost.gui.automation_lane import AutomationLane
from rackhost.gui.batch_dialog import BatchDialog
from rackhost.gui.dialogs import QuestionDialog, open_once, viewport_size
from rackhost.gui.drops import show_landing
from rackhost.gui.editor_window import EditorWindow
from rackhost.gui.files import SessionFiles
from rackhost.gui.history import HistoryList
from rackhost.gui.loader import PluginLoader
from rackhost.gui.midi_actions import MidiActions
from rackhost.gui.parameter_panel import ParameterPanel
from rackhost.gui.placement import (DEFAULT_SIZE, Place, opening_place, remember, remembered, screen_size,
                                    viewport_place)
from rackhost.gui.plugin_browser import PluginBrowser
from rackhost.gui.preset_browser import PresetBrowser
from rackhost.gui.recovery import Autosave
from rackhost.gui.render_dialog import RenderDialog
from rackhost.gui.spectrum_view import SpectrumView
from rackhost.gui.split_panel import SplitPanel
from rackhost.gui.takes_view import TakesView
from rackhost.gui.scan import PluginScan
from rackhost.gui.settings_dialog import SettingsDialog
from rackhost.gui.shortcuts import Shortcuts
from rackhost.gui.scale import SCALE, px
from rackhost.gui.status import HEIGHT as STATUS_HEIGHT, StatusLine
from rackhost.gui.routing_view import MASTER
from rackhost.gui.timeline import Timeline
from rackhost.gui.strip import (ADD_BUTTON_WIDTH, INPUT_CHOICES, OPEN_FILE, STRIP_WIDTH, TRACK_PAYLOAD, StripLayout,
                                StripView, strip_where)
from rackhost.gui.theme import MUTED, WARNING, apply_theme
from rackhost.gui.writing import Writes
from rackhost.live.commands import (BranchLevel, Bypass, BusRow, Command, Locate, Mix, Play, Record, ResetClips,
                                    SetGain, SetMute, SetPan, SetParameter, SetSendLevel, SetSendMute, SetSolo, Stop,
                                    Sync)
from rackhost.live.process import EngineProcess, EngineProcessError, SessionLoader
from rackhost.presets.session_sync import engine_document, resync, session_from_document

log = logging.getLogger(__name__)
TITLE = "rackhost"
HISTORY_WIDTH = 170  # at 1x, as every size here: px(...) of it (rackhost.gui.scale)
TRANSPORT_WIDTHS = (60, 60, 70, 110)  # Play, Stop, Record, the loop range
MENU_AND_TRANSPORT = 48  # the menu bar and the transport's row under it, at 1x (measured: 46)
OFFLINE = "audio engine offline"  # the engine state of a window opened without one (--no-engine)
SCROLLBAR = 14  # the rack's sideways scrollbar (Dear PyGui's own size at 1x; the theme keeps it at other scales)


class RackApp(MidiActions, AuditionActions):
    def __init__(self, session: Session, session_path: Path | None, *, start_engine: bool = True,
                 loader: PluginLoader | None = None):
        self.session = session
        self.session_path = session_path
        self.loader = loader or PluginLoader(inline=True)
        self.engine: EngineProcess | None = None
        self.engine_state = OFFLINE
        self.engine_error = ""  # why the last engine could not start
        self.device: Any = None
        self.input_channels: int | None = None  # 0: the output alone (no input device chosen in Settings)
        self.strips: list[StripView] = []
        self.bus_strips: list[StripView] = []
        self.master: StripView | None = None
        self.panels: list[ParameterPanel] = []
        self.split_panels: list[SplitPanel] = []  # a split slot's branches, each in a window of its own
        self.browser: PluginBrowser | None = None
        self.files = SessionFiles(self)
        self.autosave = Autosave()  # crash recovery: written from frame(), on the GUI thread
        self.transport: tuple[int, bool] = (0, False)  # the engine's last position and playing, seen by frame()
        self._resume: tuple[int, bool] | None = None  # what a restarted engine picks up once it runs
        self._resume_tries = 0
        self.messages: list[str] = []  # what the user was told, newest last (tests read it too)
        self.want_engine = start_engine
        self.window = self.rack = self.master_area = self.format = self.status = self.position = 0
        self.loop = self.loop_range = 0  # the transport bar's loop switch and range (made by build())
        self._theme = 0  # the window's theme, made again at another scale
        self._sized: list[tuple[int, int]] = []  # (item, its width at 1x): sized again at another scale
        self.status_line: StatusLine | None = None
        self.questions = QuestionDialog()
        self.history_view = HistoryList(self)
        self.scan = PluginScan(self.tell, self._refresh_browser)
        self._engine_died_shown = False
        self.midi_setup: Any = None  # MidiSetup: the MIDI ports the engine opens; None: no MIDI
        self.learning: Any = None  # the LearnRequest armed in the engine, until a controller moves
        self.midi_panel: Any = None
        # Where each MIDI mapping pointed after the last structural change (the first edit after opening follows
        # them too), and the MidiMap those anchors are of.
        self._midi_anchors: Any = session.midi.anchor(session)
        self._midi_anchored: Any = session.midi
        self.editors: list[Any] = []  # plug-in editor windows open (each in a process of its own)
        self.narrow = False  # View > Narrow strips
        self._built_width = 0  # the window width the strips were last built for
        self.selected_slot: Any = None  # the slot Delete removes: the one whose name was clicked last
        self.narrow_item = 0
        self.history_shown = True  # View > History: hidden, the rack takes its width
        self.history_item = 0
        self.rack_area = 0
        self.transport_row = 0  # Play, Stop, Record, loop and position, under the menu bar
        self.master_box = 0  # the master strip's column: shortened while the rack scrolls sideways
        self._master_room = 0
        self.history_area = 0
        self.spectrum: SpectrumView | None = None  # View > Spectrum, or a strip's readout right-clicked
        self.lanes: list[AutomationLane] = []  # right-click > Automate on a control; shown under the timeline
        self.timeline: Timeline | None = None
        self.last_render: Path | None = None  # the master's last bounce: the overview without file tracks
        self.writes = Writes(self)  # touch and latch writes: controls let go, passes committed
        self.takes: TakesView | None = None  # a strip's takes button
        self.match_windows = {}  # per strip: match over its last N s played, or the loop range (AuditionActions)
        self.pending_matches = set()
        # Each strip's place at the last structural change (a track's index, a BusRow): what the strips' listening
        # state is keyed by follows them from there when tracks are moved or removed.
        self._strips_seen: dict[int | BusRow, Any] = self._strip_places()
        if start_engine:
            self.restart_engine()

    # -- engine -----------------------------------------------------------------------

    def restart_engine(self, *, device: Any = None, block_size: int | None = None,
                       sample_rate: int | None = None, input_channels: int | None = None) -> None:
        """Start the engine (again: after it died, or with new device settings), off the GUI thread.

        ``input_channels`` 0 opens the output alone (no input device chosen).
        """
        if device is not None:
            self.input_channels = input_channels
        if sample_rate:
            self.session.sample_rate = sample_rate
        if block_size:
            self.session.block_size = block_size
        if device is not None:
            self.device = device
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
            self._silence_meters()
        self._engine_died_shown = False
        self._resume = self.transport  # a restart (after a crash, or new settings) goes on where it was
        self.engine_state = "starting the audio engine..."
        document = self.document()
        threading.Thread(target=self._start_engine, args=(document,), name="rackhost-engine-start",
                         daemon=True).start()

    def _start_engine(self, document: dict) -> None:
        """The engine-start thread. Whatever fails here ends in a status line that says what and what to do:
        an exception left to end the thread would leave "starting the audio engine..." up for good."""
        engine: EngineProcess | None = None
        try:
            loader = SessionLoader(document, load=session_from_document, resync=resync)
            engine = EngineProcess(loader, device=self.device,
                                   block_size=self.session.block_size, midi=self.midi_setup,
                                   input_channels=self.input_channels)
            engine.start()
            self.listen_for_matches(engine)  # the strips matched over their last seconds: kept by this engine too
        except EngineProcessError as err:
            self.engine_error = str(err)
            self.engine_state = f"no audio: {err} (offline work still works)"
            return
        except Exception as err:  # noqa: BLE001 - this thread's last word: any failure is shown, never lost
            log.exception("the audio engine did not start")
            if engine is not None:
                engine.stop()  # its child and shared memory, if it got that far
            self.engine_error = f"it did not start ({type(err).__name__}: {err})"
            self.engine_state = (f"no audio: the audio engine did not start ({type(err).__name__}: {err}); check "
                                 f"Engine > Audio settings..., then Engine > Restart audio engine (offline work "
                                 f"still works)")
            return
        self.engine_error = ""
        self.engine = engine
        self.engine_state = "engine running"

    def document(self) -> dict:
        """What the engine is started with and synced to: the session with its slots' ids."""
        return engine_document(self.session)

    def send(self, command: Command) -> None:
        if self.engine is not None and self.engine.alive:
            self.engine.send(command)

    # -- the model --------------------------------------------------------------------

    def owner(self, track: int | BusRow | None) -> Any:
        """The track at ``track``, the bus a :class:`BusRow` names, or the master for None."""
        if track is None:
            return self.session.master
        if isinstance(track, BusRow):
            return self.session.busses[track.index]
        return self.session.tracks[track]

    def has_owner(self, track: int | BusRow | None) -> bool:
        """Is there still a strip at ``track`` (a track or bus may have gone with an undo)?"""
        if track is None:
            return True
        if isinstance(track, BusRow):
            return track.index < len(self.session.busses)
        return track < len(self.session.tracks)

    @property
    def edit(self) -> Any:
        return self.session.edit

    def use_session(self, session: Session, path: Path | None) -> None:
        """Show ``session`` (new, or opened from ``path``): its views closed, the engine restarted on it."""
        for panel in [*self.panels, *self.split_panels]:
            panel.close()
        self.panels, self.split_panels = [], []
        self.session, self.session_path = session, path
        self._midi_anchors = None  # the old session's mappings say nothing about this one
        self.transport = (0, False)  # another session starts from its top, stopped
        self.structure_changed()
        if self.want_engine:
            self.restart_engine()

    def take_session(self, session: Session, label: str) -> None:
        """Show ``session``'s contents in the session shown, as one undo step named ``label`` (undo gives back
        what was shown): a restored autosave after the file as it was opened."""
        current = self.session
        # The rates are the engine's settings, not edits (Settings sets them outside the history too).
        rates = (session.sample_rate, session.block_size)
        session.sample_rate, session.block_size = current.sample_rate, current.block_size
        current.take_contents(session, label)
        restart = rates != (current.sample_rate, current.block_size)
        current.sample_rate, current.block_size = rates
        self.structure_changed()
        if restart and self.want_engine:
            self.restart_engine()

    def structure_changed(self) -> None:
        """The model's structure changed (slots, tracks, a preset, undo): redraw the rack and resync the engine.

        MIDI mappings follow their tracks and slots to where they went (a mapping
        whose slot is gone is dropped, and said).
        """
        self._follow_strips()
        midi = self.session.midi
        for line in midi.take_dropped():  # an edit (or its redo) dropped them in its own undo step
            self.tell(line, error=True)
        if self._midi_anchors is not None and self._midi_anchored is midi:  # not another session's map (a restore)
            for line in midi.follow(self._midi_anchors, self.session):
                self.tell(line, error=True)
        self._midi_anchors = midi.anchor(self.session)
        self._midi_anchored = midi
        self.autosave.structure_changed()
        self._refresh_midi()
        self._build_strips()
        for panel in list(self.panels):
            if not self.has_owner(panel.track) or self._slot_or_none(panel.track, panel.index) is not panel.slot:
                panel.close()
            else:
                panel.refresh()
        self.panels = [p for p in self.panels if p.alive]
        for split_panel in self.split_panels:
            split_panel.rebuild()  # closes itself if its split is gone; follows it if it moved
        self.split_panels = [p for p in self.split_panels if p.alive]
        for lane in self.lanes:
            lane.refresh()
        self.lanes = [lane for lane in self.lanes if lane.alive]
        self.history_view.show()
        if self.engine is not None and self.engine.alive:
            self.engine.send(Sync(self.document()))

    def _follow_strips(self) -> None:
        """What is kept per strip by its place (matching windows, the engine's matching rings, the spectrum view)
        follows each strip to where the edit put it, by identity; a strip gone takes its state with it. Runs before
        the engine's Sync, while the engine still has the strips where they were."""
        places = self._strip_places()
        now = {id(strip): place for place, strip in places.items()}
        moved = {place: now[id(strip)] for place, strip in self._strips_seen.items() if id(strip) in now}
        self._strips_seen = places
        self.follow_strips(moved)
        spectrum = self.spectrum
        if spectrum is not None and spectrum.poll():
            strip = spectrum.strip
            if strip is not None and strip not in moved:
                spectrum.watch(None)  # its strip is gone: the master (named by no place, so safe before the Sync)
            else:
                spectrum.follow(moved.get(strip) if strip is not None else None)

    def _strip_places(self) -> dict[int | BusRow, Any]:
        places: dict[int | BusRow, Any] = dict(enumerate(self.session.tracks))
        places.update({BusRow(k): bus for k, bus in enumerate(self.session.busses)})
        return places

    def app_chain(self, track: int | None) -> Any:
        return self.owner(track).chain

    def slot_at(self, track: int | BusRow | None, index: int | SlotPath) -> Any:
        """The slot or split at ``index`` of a strip's chain: a plain index, or a path into split branches
        (:data:`rackhost.chain.chain.SlotPath`)."""
        return item_at(self.app_chain(track), index)

    def path_of(self, track: int | BusRow | None, item: Any) -> SlotPath | None:
        """Where ``item`` sits in a strip's chain (inside splits too); None if it is not there any more."""
        return path_of(self.app_chain(track), item) if self.has_owner(track) else None

    def _slot_or_none(self, track: int | BusRow | None, index: int | SlotPath) -> Any:
        try:
            return self.slot_at(track, index)
        except RackhostError:
            return None

    def _try(self, action: Callable[[], Any]) -> bool:
        """Run a model change; a refused one (a clashing name, say) is shown, not raised. True if it was made."""
        try:
            action()
        except (RackhostError, ValueError) as err:
            self.tell(str(err), error=True)
            return False
        return True

    # strip controls: small engine commands, no resync
    def set_gain(self, track: int | None, value: float) -> None:
        self.edit.set_gain(self.owner(track), value)
        self.send(SetGain(track, value))
        self.writes.moved(track, StripTarget("gain_db"))

    def set_pan(self, track: int, value: float) -> None:
        self.edit.set_pan(self.owner(track), value)
        self.send(SetPan(track, value))
        self.writes.moved(track, StripTarget("pan"))

    def set_mute(self, track: int, value: bool) -> None:
        self.send(SetMute(track, value))
        if not self.writes.moved(track, StripTarget("mute")):  # a written mute goes into its envelope only
            self.edit.set_mute(self.owner(track), value)

    def set_solo(self, track: int, value: bool) -> None:
        self.edit.set_solo(self.owner(track), value)
        self.send(SetSolo(track, value))

    def select_slot(self, track: int | BusRow | None, index: int | SlotPath) -> None:
        """The slot Delete removes; its strip marks it."""
        self.selected_slot = self.slot_at(track, index)
        for view in (*self.strips, *self.bus_strips, *([self.master] if self.master is not None else [])):
            view.show_selection(self.selected_slot)

    def reset_clips(self, track: int | BusRow | None) -> None:
        """A click on a strip's clip light: the engine lets it go (it latched when a sample hit 0 dBFS)."""
        self.send(ResetClips(track))

    # A slot is named by its index in the strip's chain, or by a path into a split's branches (a SlotPath):
    # the engine takes the same path, so an edit inside a branch is as small a command as one outside.
    def set_bypass(self, track: int | None, index: int | SlotPath, value: bool) -> None:
        self.edit.set_bypass(self.slot_at(track, index), value)
        at, path = _engine_place(index)
        self.send(Bypass(track, at, value, path))
        self.refresh_views()

    def set_mix(self, track: int | None, index: int | SlotPath, value: float) -> None:
        slot = self.slot_at(track, index)
        self.edit.set_mix(slot, value)
        at, path = _engine_place(index)
        self.send(Mix(track, at, value, path))
        self.writes.moved(track, SlotTarget(slot, MIX))

    def set_branch_level(self, track: int | None, index: int | SlotPath, branch: int, value: float) -> None:
        """The level of one branch of the split at ``index``; a drag is one undo step."""
        split = self.slot_at(track, index)
        if self._try(lambda: self.edit.set_branch_level(split.branches[branch], value)):
            slot, path = _engine_place(index)
            self.send(BranchLevel(track, slot, branch, split.branches[branch].level_db, path))
            self.refresh_views()

    def make_split(self, track: int | None, index: int | SlotPath) -> None:
        """Run the slot in parallel with the dry signal: a split of it and a dry branch (one undo step)."""
        if self._try(lambda: self.edit.make_split(*locate(self.app_chain(track), index))):
            self.structure_changed()

    def add_branch(self, track: int | BusRow | None, index: int | SlotPath) -> None:
        """A dry branch added to the split at ``index`` (one undo step); plug-ins then go into it."""
        split = self.slot_at(track, index)
        if self._try(lambda: self.edit.add_branch(split)):
            self.structure_changed()

    def remove_branch(self, track: int | BusRow | None, index: int | SlotPath, branch: int) -> None:
        """Branch ``branch`` of the split at ``index`` removed, plug-ins and all (one undo step; a split keeps
        two branches at least, and says so)."""
        split = self.slot_at(track, index)
        if self._try(lambda: self.edit.remove_branch(split, branch)):
            self.structure_changed()

    def open_split(self, track: int | BusRow | None, index: int | SlotPath) -> SplitPanel:
        """The split at ``index`` in a window of its own: its branches, their levels and plug-ins, all editable
        (brought forward if it is open)."""
        split = self.slot_at(track, index)
        for panel in self.split_panels:
            if panel.alive and panel.split is split:
                dpg.focus_item(panel.window)
                return panel
        panel = SplitPanel(self, track, split)
        self.split_panels.append(panel)
        return panel

    def set_key(self, track: int | BusRow | None, index: int, source: str | None, pre_fader: bool = False) -> None:
        """Key slot ``index`` from the track or bus ``source`` (None: no key); one undo step, the engine resyncs.
        A loop or a plug-in without a key input is refused, said, and nothing changes."""
        slot = self.app_chain(track)[index]
        if self._try(lambda: self.edit.set_key(self.session, slot, source, pre_fader)):
            where = strip_where(self.owner(track), track)
            self.tell(f"{slot.name} on {where} keyed from {source} {'pre' if pre_fader else 'post'}-fader"
                      if source is not None else f"{slot.name} on {where} has no key")
        self.structure_changed()  # redrawn either way: a refused choice shows the key the slot kept

    def set_parameter(self, track: int | None, index: int | SlotPath, name: str, value: object) -> None:
        slot = self.slot_at(track, index)
        if self._try(lambda: self.edit.set_parameter(slot, name, value)):
            at, path = _engine_place(index)
            self.send(SetParameter(track, at, name, slot.plugin.get(name), path))
            self.writes.moved(track, SlotTarget(slot, name))
            if SIDECHAIN_SWITCH.fullmatch(name):  # nothing feeds a key: say so, and mark the slot
                note = sidechain_note(slot)
                if note:
                    self.tell(f"{strip_where(self.owner(track), track)}: {note}", error=True)
                view = self.view(track)
                if view is not None:
                    view.refresh()

    def view(self, track: int | BusRow | None) -> StripView | None:
        """The strip showing ``track`` (a track's index, a BusRow, None: the master)."""
        if track is None:
            return self.master
        views = self.bus_strips if isinstance(track, BusRow) else self.strips
        index = track.index if isinstance(track, BusRow) else track
        return views[index] if index < len(views) else None

    def set_keep_mono(self, track: int, value: bool) -> None:
        """Keep a mono track mono through stereo-only plug-ins, or let it widen (a new snapshot: a resync)."""
        self.edit.set_keep_mono(self.owner(track), value)
        self.structure_changed()

    def set_monitor(self, track: int, value: bool) -> None:
        self.edit.set_monitor(self.owner(track), value)
        self.structure_changed()

    def set_armed(self, track: int, value: bool) -> None:
        self.edit.set_armed(self.owner(track), value)
        self.structure_changed()

    # structure: the engine resyncs
    def add_track(self, name: str | None = None, source: str | Path | None = None) -> None:
        taken = {t.name for t in self.session.tracks}
        name = name or next(f"track {n}" for n in range(1, 10_000) if f"track {n}" not in taken)
        from rackhost.chain import AudioFileSource

        def add() -> Track:
            track = Track(name, AudioFileSource(source)) if source else Track(name, input=(0,))
            return self.edit.add_track(self.session, track)

        if self._try(add):
            self.structure_changed()

    def remove_track(self, track: int) -> None:
        self.edit.remove_track(self.session, self.session.tracks[track])
        self.structure_changed()

    def move_track(self, track: int, delta: int) -> None:
        self.edit.move_track(self.session, self.session.tracks[track], track + delta)
        self.structure_changed()

    def drop_track(self, track: int, before: int | None) -> None:
        """A track's grip dropped on another's (it goes where that one is) or on + track (None: last)."""
        if not self.has_owner(track):
            return
        to = len(self.session.tracks) - 1 if before is None else before
        if to != track:
            self.edit.move_track(self.session, self.session.tracks[track], to)
            self.structure_changed()

    def rename_track(self, track: int, name: str) -> None:
        """Rename a track; its takes follow it (their files renamed in the same undo step)."""
        owner = self.session.tracks[track]
        if name.strip() != owner.name and self.engine is not None and self.engine.alive \
                and self.engine.stats().get("recording"):
            self.tell("stop recording first: a track's takes are renamed with it, and one is being written",
                      error=True)
        else:
            follow = FollowRename(takes_folder(self.session_path), owner.name, name.strip(), self.session.tracks)
            self._try(lambda: self.edit.rename_track(self.session, owner, name, also=[follow]))
        self.structure_changed()

    def set_input(self, track: int, choice: str) -> None:
        owner = self.session.tracks[track]
        if choice == OPEN_FILE:
            self.files.choose_audio(lambda path: self.set_source(track, path))
            self._build_strips()
            return
        channels = INPUT_CHOICES.get(choice, ())
        self._try(lambda: self.edit.set_input(owner, channels))
        self.structure_changed()

    def set_source(self, track: int, path: str | Path) -> None:
        from rackhost.chain import AudioFileSource

        owner = self.session.tracks[track]
        self._try(lambda: self.edit.set_source(owner, AudioFileSource(path)))
        self.structure_changed()

    def remove_slot(self, track: int | None, index: int | SlotPath) -> None:
        self.edit.remove_slot(*locate(self.app_chain(track), index))
        self.structure_changed()

    def move_slot(self, track: int | None, index: int | SlotPath, delta: int) -> None:
        """One place up or down its chain (a strip's, or the branch it sits in)."""
        chain, at = locate(self.app_chain(track), index)
        to = at + delta
        if 0 <= to < len(chain):
            self.edit.move_slot(chain, at, to)
            self.structure_changed()

    def drop_slot(self, from_track: int | BusRow | None, from_index: int | SlotPath, to_track: int | BusRow | None,
                  to_index: int | SlotPath | None, *, copy: bool = False) -> None:
        """A slot dragged (from a strip, or a split window: ``from_index`` may be a path into a branch) onto a slot
        (it goes before that one), a strip's + plug-in (``to_index`` None: last in its chain) or a branch's (a path
        ending at the branch's length: last there). It moves, one undo step, in or out of a split, between its
        branches, across strips too; its instance goes with it, as do its envelopes. With ``copy`` a copy with
        new plug-in instances goes there. A refused move (a split into its own branch) is said."""
        if not (self.has_owner(from_track) and self.has_owner(to_track)):
            return
        slot = self._slot_or_none(from_track, from_index)
        if slot is None:
            return
        owner, to_owner = self.owner(from_track), self.owner(to_track)
        to = (len(to_owner.chain),) if to_index is None else as_path(to_index)
        if copy:
            try:
                target = branch_chain(to_owner.chain, to[:-1])
            except RackhostError as err:
                self.tell(str(err), error=True)
                return

            def done(clone: Any) -> None:
                if self.has_owner(to_track) and self.owner(to_track) is to_owner \
                        and any(chain is target for chain in _chains(to_owner.chain)):
                    self.edit.add_slot(target, clone, min(to[-1], len(target)))
                    self.structure_changed()

            self.loader.submit(f"copying {slot.name}...", slot.clone, done,
                               lambda err: self.tell(f"could not copy {slot.name}: {err}", error=True))
            return
        label = None if to_owner is owner else f"move {slot.name} to {strip_where(to_owner, to_track)}"
        moved: SlotPath | None = None

        def move() -> None:
            nonlocal moved
            moved = self.edit.move_to(self.session, owner, from_index, to, to_owner, label)

        if self._try(move) and moved is not None:  # None: dropped where it was
            self.structure_changed()

    def add_plugin(self, track: int | None, name: str, replace: int | SlotPath | None = None,
                   into: tuple[int, ...] = ()) -> None:
        """Load ``name`` on the plug-in thread, then put it at the end of the chain (or in place of a slot).

        ``into``: a split branch's chain instead of the strip's, as (split slot, branch) pairs down from it.
        """
        owner = self.owner(track)

        def done(plugin: Plugin) -> None:
            if owner not in (*self.session.tracks, *self.session.busses, self.session.master):
                return  # the track or bus went away while its plug-in loaded
            chain = owner.chain
            if into and not plugin.is_instrument:
                if not self._try(lambda: self.edit.add_slot(branch_chain(chain, into), plugin)):
                    return  # the branch went away (undo) while its plug-in loaded: said
                self.tell(f"added {plugin.name} to branch {into[-1] + 1} of {chain[into[0]].name}")
                self.structure_changed()
                return
            if replace is not None and not isinstance(replace, int):
                chain, replace_at = locate(chain, replace)
            else:
                replace_at = replace
            if plugin.is_instrument:
                # An instrument is a track's source, played by MIDI, not a slot in a chain.
                if not isinstance(owner, Track):
                    where = "the master" if owner is self.session.master else f"bus {owner.name!r}"
                    self.tell(f"{plugin.name} is an instrument: load it on a track (it becomes the track's "
                              f"source, played from MIDI), not on {where}", error=True)
                    return
                self.edit.set_instrument(owner, plugin)
            elif replace_at is not None and replace_at < len(chain):
                self.edit.replace_slot(chain, replace_at, plugin)
            else:
                self.edit.add_slot(chain, plugin)
            self.tell(f"added {plugin.name}" + (f": {plugin.note}" if getattr(plugin, "note", None) else ""))
            self.structure_changed()

        self.loader.submit(f"loading {name}...", lambda: Plugin.create(name), done,
                           lambda err: self.tell(f"could not load {name}: {err}", error=True))

    def switch_ab(self, track: int | None) -> None:
        owner = self.owner(track)
        if owner.ab.other is not None:
            self.edit.switch_ab(owner)
            self.structure_changed()
            self.ab_switched(track)
            return
        # The first switch makes B as a copy of A: new plug-in instances, loaded on the plug-in thread.
        self.loader.submit("copying A to B...", owner.chain.clone,
                           lambda copy: (self.edit.switch_ab(owner, copy), self.structure_changed(),
                                         self.ab_switched(track)),
                           lambda err: self.tell(f"could not copy the chain: {err}", error=True))

    def copy_ab(self, track: int | None) -> None:
        owner = self.owner(track)
        self.loader.submit(f"copying {owner.ab.active} to {owner.ab.inactive}...", owner.chain.clone,
                           lambda copy: (self.edit.copy_to_other(owner, copy), self.structure_changed()),
                           lambda err: self.tell(f"could not copy the chain: {err}", error=True))

    # routing: every edit one undo step; a refused one (a loop, a clashing name) is said, nothing changed
    def add_bus(self, name: str | None = None) -> None:
        taken = {b.name for b in self.session.busses}
        name = name or next(f"bus {n}" for n in range(1, 10_000) if f"bus {n}" not in taken)
        if self._try(lambda: self.edit.add_bus(self.session, Bus(name))):
            self.structure_changed()

    def set_color(self, track: int | BusRow, color: str) -> None:
        """A track's or bus's colour (its strip's band, its overview row): one undo step, no sound changes."""
        if self._try(lambda: self.edit.set_color(self.owner(track), color)):
            self.session.history.seal()
            self.structure_changed()

    def rename_bus(self, key: BusRow, name: str) -> None:
        self._try(lambda: self.edit.rename_bus(self.session, self.owner(key), name))
        self.structure_changed()

    def remove_bus(self, key: BusRow, *, confirmed: bool = False) -> None:
        """Remove a bus; if other strips feed it, first say what happens to them and ask."""
        bus = self.owner(key)
        strips = [*self.session.tracks, *self.session.busses]
        routed = [s.name for s in strips if s is not bus and s.output == bus.name]
        sending = [s.name for s in strips if any(send.bus == bus.name for send in s.sends)]
        if (routed or sending) and not confirmed:
            lines = []
            if routed:
                lines.append(f"{_names(routed)} {'goes' if len(routed) == 1 else 'go'} to "
                             f"{bus.output or 'the master'} instead (where {bus.name!r} went).")
            if sending:
                lines.append(f"The send{'s' * (len(sending) != 1)} to it from {_names(sending)} "
                             f"{'is' if len(sending) == 1 else 'are'} removed.")
            self.questions.ask(f"Remove bus {bus.name}?", "\n".join(lines + ["Undo brings it all back."]),
                               {"Remove bus": lambda: self.remove_bus(key, confirmed=True), "Cancel": lambda: None})
            return
        self.edit.remove_bus(self.session, bus)
        self.tell(f"removed bus {bus.name!r}")
        self.structure_changed()

    def set_output(self, key: int | BusRow, choice: str) -> None:
        """Route a track or bus to the master or a bus; a loop is refused, said, and nothing changes."""
        strip = self.owner(key)
        output = None if choice == MASTER else choice
        if self._try(lambda: self.edit.set_output(self.session, strip, output)):
            self.tell(f"{strip.name} goes to {choice}")
        self.structure_changed()  # redrawn either way: a refused choice shows the output it kept

    def add_send(self, key: int | BusRow, bus: str) -> None:
        strip = self.owner(key)
        self._try(lambda: self.edit.add_send(self.session, strip, bus))
        self.structure_changed()

    def remove_send(self, key: int | BusRow, bus: str) -> None:
        self.edit.remove_send(self.owner(key), bus)
        self.structure_changed()

    def set_send_level(self, key: int | BusRow, bus: str, level_db: float) -> None:
        if self._try(lambda: self.edit.set_send_level(self.owner(key).send(bus), level_db)):
            self.send(SetSendLevel(key, bus, level_db))
            self.writes.moved(key, SendTarget(self.owner(key).send(bus)))

    def set_send_pre_fader(self, key: int | BusRow, bus: str, pre_fader: bool) -> None:
        self.edit.set_send_pre_fader(self.owner(key).send(bus), pre_fader)
        self.structure_changed()  # where a send is taken is part of the graph: the engine resyncs

    def set_send_muted(self, key: int | BusRow, bus: str, muted: bool) -> None:
        self.edit.set_send_muted(self.owner(key).send(bus), muted)
        self.send(SetSendMute(key, bus, muted))

    def undo(self) -> None:
        label = self.session.undo()
        self.tell(f"undid: {label}" if label else "nothing to undo")
        self.structure_changed()

    def redo(self) -> None:
        label = self.session.redo()
        self.tell(f"redid: {label}" if label else "nothing to redo")
        self.structure_changed()

    # -- views --------------------------------------------------------------------------

    def open_browser(self, track: int | None, replace: int | SlotPath | None = None,
                     into: tuple[int, ...] = ()) -> PluginBrowser:
        """The plug-in browser: what is picked goes last in the strip's chain, or in a split branch's (``into``:
        (split slot, branch) pairs), or in place of slot ``replace``."""
        if self.browser is not None:
            self.browser.close()
        where = "master" if track is None else self.owner(track).name
        if replace is not None:
            title = f"Replace slot {as_path(replace)[-1] + 1} on {where}"
        elif into:
            title = f"Add a plug-in to branch {into[-1] + 1} of {self.app_chain(track)[into[0]].name} on {where}"
        else:
            title = f"Add a plug-in to {where}"
        self.browser = PluginBrowser(self, title, lambda name: self.add_plugin(track, name, replace, into))
        return self.browser

    def _owners(self) -> list[tuple[int | BusRow | None, Any]]:
        """Every strip's key and owner: the tracks, the busses, the master."""
        return ([(i, t) for i, t in enumerate(self.session.tracks)]
                + [(BusRow(j), b) for j, b in enumerate(self.session.busses)] + [(None, self.session.master)])

    def open_spectrum(self, track: int | BusRow | None) -> SpectrumView:
        """The spectrum view on ``track`` (an index, a bus's ``BusRow``; None: the master): one window, moved to
        another strip."""
        if self.spectrum is not None and self.spectrum.poll():
            self.spectrum.watch(track)
            dpg.focus_item(self.spectrum.window)
        else:
            self.spectrum = SpectrumView(self, track)
            self._beside_rack(self.spectrum.window, SpectrumView.WIDTH, SpectrumView.HEIGHT)
        return self.spectrum

    def _beside_rack(self, window: int, width: int, height: int) -> None:
        """Put a view that is watched while the rack plays (the spectrum) under the menu bar and the transport, at
        the window's right, so the strips from the left stay in view and the menu and Play in reach (Dear PyGui
        opens a window at the top left, over the menu bar); made to fit the window. ``width`` and ``height``: 1x."""
        size = viewport_size()
        if size is None:
            return
        vw, vh = size
        margin = px(8)
        row = self.transport_row
        row_top, row_height = dpg.get_item_rect_min(row)[1], dpg.get_item_rect_size(row)[1]
        # Before the first frame nothing has a place yet: the menu bar and the transport's row, at their size.
        under = int(row_top + row_height) if row_height else px(MENU_AND_TRANSPORT)
        top = under + margin
        width = min(px(width), vw - 2 * margin)
        height = min(px(height), max(px(120), vh - top - px(STATUS_HEIGHT)))
        dpg.configure_item(window, width=width, height=height)
        dpg.set_item_pos(window, [vw - width - margin, top])

    def _show_reductions(self) -> None:
        """Each slot's gain reduction on the strip the spectrum view watches; none on the others."""
        spectrum = self.spectrum
        watched = None if spectrum is None else self.view(spectrum.strip)
        for view in (*self.strips, *self.bus_strips, *([self.master] if self.master is not None else [])):
            view.show_reductions(spectrum.slot_labels() if view is watched and spectrum is not None else {})

    def open_panel(self, track: int | None, index: int | SlotPath) -> ParameterPanel:
        index = _normal(index)
        self.select_slot(track, index)
        for panel in self.panels:
            if panel.track == track and panel.index == index and panel.alive:
                dpg.focus_item(panel.window)
                return panel
        panel = ParameterPanel(self, track, index)
        self.panels.append(panel)
        return panel

    def open_lane(self, track: int | BusRow | None, target: Target) -> AutomationLane:
        """The automation lane of ``target`` on a strip (its envelope made, at the control's value, if none)."""
        for lane in self.lanes:
            if lane.alive and lane.track == track and lane.target == target:
                lane.focus()
                return lane
        lane = AutomationLane(self, track, target)
        self.lanes.append(lane)
        return lane

    def open_editor(self, track: int | None, index: int | SlotPath) -> Any:
        """The plug-in's own window, shown by a child process (showing one can end the process that does)."""
        slot = self.slot_at(track, index)
        if slot.plugin.is_builtin:
            self.tell(f"{slot.name} is a built-in: it has no editor window of its own", error=True)
            return None
        editor = EditorWindow(self, slot)
        self.editors.append(editor)
        self.tell(f"opening {slot.name}'s editor...")
        return editor

    def _refresh_browser(self) -> None:
        """A scan ended: an open plug-in browser lists what it found."""
        if self.browser is not None and self.browser.alive:
            self.browser.refresh()

    def tell(self, message: str, *, error: bool = False) -> None:
        """Say something in the status line (errors in their colour)."""
        self.messages.append(message)
        if self.status_line is not None and dpg.does_item_exist(self.status):
            self.status_line.show(message, WARNING if error else MUTED)
        self._status_until = time.monotonic() + (8.0 if error else 4.0)

    def refresh_views(self) -> None:
        """Show the model's values in the open views (after a change made elsewhere than the control)."""
        for panel in [*self.panels, *self.split_panels]:
            panel.refresh()
        for view in (*self.strips, *self.bus_strips, self.master):
            if view is not None:
                view.refresh()

    # -- building ---------------------------------------------------------------------

    def build(self) -> int:
        SCALE.load_fonts()
        self._theme = apply_theme()
        self._status_until = 0.0
        with dpg.window(label=TITLE, no_title_bar=True, no_move=True, no_resize=True) as self.window:
            with dpg.menu_bar():
                self.files.build_menu()
                with dpg.menu(label="Edit"):
                    dpg.add_menu_item(label="Undo", shortcut="Ctrl+Z", callback=self.undo)
                    dpg.add_menu_item(label="Redo", shortcut="Ctrl+Shift+Z", callback=self.redo)
                    dpg.add_menu_item(label="Add track", callback=lambda: self.add_track())
                    dpg.add_menu_item(label="Add bus", callback=lambda: self.add_bus())
                with dpg.menu(label="View"):
                    self.narrow_item = dpg.add_menu_item(label="Narrow strips", check=True,
                                                         callback=lambda s, v: self.set_narrow(v))
                    self.history_item = dpg.add_menu_item(label="History", check=True, default_value=True,
                                                          callback=lambda s, v: self.show_history(v))
                    dpg.add_menu_item(label="Timeline", check=True, default_value=True,
                                      callback=lambda s, v: self.timeline.show(v))
                    dpg.add_menu_item(label="Spectrum...", callback=lambda: self.open_spectrum(None))
                with dpg.menu(label="Transport"):
                    dpg.add_menu_item(label="Play", shortcut="Space", callback=self.play)
                    dpg.add_menu_item(label="Stop", shortcut="Space", callback=self.stop)
                    dpg.add_menu_item(label="Record armed tracks", shortcut="R", callback=self.record)
                    dpg.add_menu_item(label="Loop on/off", shortcut="L", callback=self.toggle_loop)
                    dpg.add_menu_item(label="Go to start", shortcut="Home", callback=self.to_start)
                with dpg.menu(label="Presets"):
                    dpg.add_menu_item(label="Preset browser...", callback=lambda: VIEWS["presets"](self))
                with dpg.menu(label="Render"):
                    dpg.add_menu_item(label="Render / bounce to file...", callback=lambda: VIEWS["render"](self))
                    dpg.add_menu_item(label="Batch files...", callback=lambda: VIEWS["batch"](self))
                with dpg.menu(label="Engine"):
                    dpg.add_menu_item(label="Audio settings...", callback=lambda: VIEWS["settings"](self))
                    dpg.add_menu_item(label="Restart audio engine", callback=lambda: self.restart_engine())
                    dpg.add_menu_item(label="Scan plug-ins", callback=lambda: self.scan.start())
                    dpg.add_menu_item(label="MIDI...", callback=lambda: self.open_midi())
                with dpg.menu(label="Help"):
                    dpg.add_menu_item(label="Keyboard shortcuts", callback=lambda: self.shortcuts.show_list())
            with dpg.group(horizontal=True) as self.transport_row:
                play = dpg.add_button(label="Play", callback=self.play)
                stop = dpg.add_button(label="Stop", callback=self.stop)
                self.record_button = dpg.add_button(label="Record", callback=self.record)
                self.loop = dpg.add_checkbox(label="loop", callback=lambda s, v: self.set_loop(v))
                self.loop_range = dpg.add_input_floatx(size=2, default_value=[0.0, 8.0], format="%.1f",
                                                       callback=lambda *_: self.set_loop(dpg.get_value(self.loop)))
                self._sized = list(zip((play, stop, self.record_button, self.loop_range), TRANSPORT_WIDTHS))
                self.position = dpg.add_text("   0.0 s")
                self.format = dpg.add_text("", color=MUTED)
                self.busy = dpg.add_loading_indicator(style=1, radius=1.4, show=False)
                self.busy_text = dpg.add_text("", color=MUTED)
            dpg.add_separator()
            self.timeline = Timeline(self, self.window)
            with dpg.group(horizontal=True):
                # Tracks scroll sideways; the master and the history stay in view.
                with dpg.child_window(horizontal_scrollbar=True, border=False) as self.rack_area:
                    with dpg.group(horizontal=True) as self.rack:
                        pass
                with dpg.group() as self.master_area:
                    pass
                with dpg.child_window(width=-1, border=True) as self.history_area:
                    dpg.add_text("History", color=MUTED)
                    self.history_view.build()
            self.status_line = StatusLine(self.window, MUTED)
            self.status = self.status_line.text
        self.shortcuts = Shortcuts({
            "play_stop": self.play_stop, "record": self.record, "loop": self.toggle_loop, "to_start": self.to_start,
            "delete_slot": self.delete_selected_slot, "save": lambda: self.files.save(), "undo": self.undo,
            "redo": self.redo})
        with dpg.handler_registry():
            dpg.add_mouse_wheel_handler(callback=lambda s, notches: self._wheel(notches))
        self._size_items()
        self._build_strips()
        self.history_view.show()
        dpg.set_primary_window(self.window, True)
        return self.rack

    def _wheel(self, notches: float) -> None:
        """The mouse wheel: the fader or pan knob under the pointer moves (the strips scroll otherwise)."""
        for view in (*self.strips, *self.bus_strips, *([self.master] if self.master is not None else [])):
            if view.wheel(notches):
                return

    def set_narrow(self, narrow: bool) -> None:
        """Narrow strips (more of a big session in view), or the full width; nothing in the session changes."""
        self.narrow = bool(narrow)
        if dpg.does_item_exist(self.narrow_item):
            dpg.set_value(self.narrow_item, self.narrow)
        self._build_strips()

    def show_history(self, shown: bool) -> None:
        """Show the History column, or hide it so the rack has its width (Edit > Undo still works)."""
        self.history_shown = bool(shown)
        if dpg.does_item_exist(self.history_item):
            dpg.set_value(self.history_item, self.history_shown)
        if dpg.does_item_exist(self.history_area):
            dpg.configure_item(self.history_area, show=self.history_shown)
            room = STRIP_WIDTH + (HISTORY_WIDTH + 16 if self.history_shown else 8)
            dpg.configure_item(self.rack_area, width=-px(room))

    def _size_items(self) -> None:
        """The transport's and the columns' sizes at the window's scale now."""
        for item, width in self._sized:
            dpg.configure_item(item, width=px(width))
        for area in (self.rack_area, self.history_area):
            dpg.configure_item(area, height=-px(STATUS_HEIGHT))
        self.show_history(self.history_shown)

    def _fit_scale(self) -> bool:
        """The window was resized: at a new scale (:mod:`rackhost.gui.scale`), the font, the theme and the
        sizes follow; True if they did (the strips are then built again)."""
        if not SCALE.fit(dpg.get_viewport_client_width(), dpg.get_viewport_client_height()):
            return False
        old, self._theme = self._theme, apply_theme()
        dpg.delete_item(old)
        self._size_items()
        return True

    def _build_strips(self) -> None:
        if not self.rack:
            return
        dpg.set_value(self.format, f"  {self.session.sample_rate} Hz, block {self.session.block_size}")
        dpg.delete_item(self.rack, children_only=True)
        # A big window: the strips widen into the room the rack has (rebuilt when the window's width changes).
        self._built_width = dpg.get_viewport_client_width() if dpg.is_viewport_ok() else 0
        room = self._built_width - px(STRIP_WIDTH + HISTORY_WIDTH + 40) if self._built_width else 0
        layout = StripLayout.of(self.session, self.narrow, room)
        self.strips = [StripView(self.rack, self, index, layout) for index in range(len(self.session.tracks))]
        self.bus_strips = [StripView(self.rack, self, BusRow(j), layout) for j in range(len(self.session.busses))]
        with dpg.group(parent=self.rack):
            # One line each, wide enough for its label (at 44 pixels "+ track" wrapped onto two lines).
            self.add_track_button = dpg.add_button(label="+ track", width=px(ADD_BUTTON_WIDTH), height=px(28),
                                                   callback=lambda: self.add_track(), payload_type=TRACK_PAYLOAD,
                                                   drop_callback=lambda s, dragged: self.drop_track(dragged, None))
            self.add_bus_button = dpg.add_button(label="+ bus", width=px(ADD_BUTTON_WIDTH), height=px(28),
                                                 callback=lambda: self.add_bus())
        dpg.delete_item(self.master_area, children_only=True)
        self._master_room = px(STATUS_HEIGHT)
        with dpg.child_window(parent=self.master_area, width=px(STRIP_WIDTH + 2), height=-self._master_room,
                              border=False) as self.master_box:
            shape = StripLayout(False, layout.slot_rows, layout.send_rows, beside_narrow=layout.narrow)
            self.master = StripView(self.master_box, self, None, shape)

    # -- transport ---------------------------------------------------------------------

    def play(self) -> None:
        self._transport(Play(), "Play")

    def stop(self) -> None:
        self._transport(Stop(), "Stop")

    def _transport(self, command: Command, what: str) -> bool:
        """Send a transport command; with no engine to take it, the status line says why and how to get one
        (a key that does nothing and says nothing looks broken). True if the engine took it."""
        engine = self.engine
        if engine is not None and engine.alive:
            engine.send(command)
            return True
        self.tell(f"{what}: {self.no_engine_reason()}", error=True)
        return False

    def no_engine_reason(self) -> str:
        """Why no audio engine runs, and what starts one."""
        state = self.engine_state
        if state.startswith("starting"):
            return "the audio engine is still starting; try again in a moment"
        if state == OFFLINE:  # never started: the window was opened with --no-engine
            return "no audio engine (opened with --no-engine); Engine > Restart audio engine starts one"
        if self.engine_error:
            return (f"no audio engine: {self.engine_error}; then Engine > Restart audio engine (or choose a device "
                    f"in Engine > Audio settings...)")
        return f"{state}; Engine > Restart audio engine starts it again"

    @property
    def playing(self) -> bool:
        return self.engine is not None and self.engine.alive and bool(self.engine.stats().get("playing"))

    def play_stop(self) -> None:
        """Space: stop if playing, else play."""
        self.stop() if self.playing else self.play()

    def to_start(self) -> None:
        self._transport(Locate(0), "Go to start")

    def toggle_loop(self) -> None:
        on = not dpg.get_value(self.loop)
        dpg.set_value(self.loop, on)
        self.set_loop(on)

    def delete_selected_slot(self) -> None:
        """Delete: remove the selected point of the focused automation lane, else the slot whose name was
        clicked last (if it is still in a chain)."""
        for lane in self.lanes:
            if lane.alive and lane.selected is not None and lane.focused:
                lane.remove(lane.selected)
                return
        for track, owner in self._owners():
            place = path_of(owner.chain, self.selected_slot) if self.selected_slot is not None else None
            if place is not None:  # in the strip's chain, or inside a split's branch
                self.remove_slot(track, place)
                self.selected_slot = None
                return
        self.tell("click a slot's name to select it, then Delete removes it", error=True)

    def open_takes(self, track: int) -> TakesView:
        """The Takes window on ``track``: one window, moved to the track if it is open."""
        if self.takes is not None and self.takes.poll():
            self.takes.show_track(self.session.tracks[track])
            dpg.focus_item(self.takes.window)
        else:
            self.takes = TakesView(self, track)
        return self.takes

    def record(self) -> None:
        if not any(t.armed and t.input for t in self.session.tracks):
            self.tell("arm a track with an input (R) to record", error=True)
            return
        if self.engine is None or not self.engine.alive:
            self.tell(f"Record: {self.no_engine_reason()}", error=True)
            return
        folder = takes_folder(self.session_path)
        folder.mkdir(parents=True, exist_ok=True)
        self.send(Record(str(folder)))
        self.tell(f"recording armed tracks into {folder}")

    def set_loop(self, on: bool) -> None:
        """The transport's loop switch or range: the session's loop range changes (one undo step)."""
        start, end = dpg.get_value(self.loop_range)[:2]
        if self.timeline is not None:
            self.timeline.loop_to(start, end, on)

    # -- each frame -----------------------------------------------------------------------

    def frame(self) -> None:
        """Read the engine and show it; called once per rendered frame."""
        self.loader.finish()
        self.editors = [editor for editor in self.editors if editor.poll()]
        busy = self.scan.poll() or self.loader.busy
        dpg.configure_item(self.busy, show=busy is not None)
        dpg.set_value(self.busy_text, busy or "")
        self.history_view.follow()
        if not self.files.loading:
            self._autosave()
        if self.spectrum is not None and not self.spectrum.poll():
            self.spectrum = None
        if self.takes is not None and not self.takes.poll():
            self.takes = None
        self._show_reductions()
        # A slot being dragged says where it lands; the split windows first: they float over the strips.
        strips = (*self.strips, *self.bus_strips, *([self.master] if self.master is not None else []))
        show_landing([*(p.drops for p in reversed(self.split_panels) if p.alive), *(v.drops for v in strips)])
        if self.rack and dpg.is_viewport_ok() and (self._fit_scale()
                                                   or dpg.get_viewport_client_width() != self._built_width):
            self._build_strips()
        self._level_master_with_rack()
        for view in (*self.strips, *self.bus_strips, *([self.master] if self.master is not None else [])):
            view.poll()
        engine = self.engine
        if engine is not None:
            for event in engine.poll():
                self.tell(event, error="died" in event or "failed" in event)
                if "died" in event:
                    self.engine_state = "the audio engine stopped"
                    self._engine_died(event)
            if self.engine is not None:  # not when it died just now: its meters read nothing any more
                self._show_engine(engine)
        if self.timeline is not None:
            self.timeline.update()
        self.writes.poll(self.engine, self.transport[1])
        self.poll_matches()
        self._follow_lanes()
        if time.monotonic() > self._status_until:
            self.status_line.show(self.engine_state, MUTED)
        self.status_line.refit()  # the window may have been resized

    def _level_master_with_rack(self) -> None:
        """The master's column ends where the strips do: above the rack's sideways scrollbar while it has one, so
        that its fader's travel, and its 0 dB mark, match theirs."""
        if not self.master_box or not dpg.does_item_exist(self.master_box):
            return
        room = px(STATUS_HEIGHT) + (px(SCROLLBAR) if dpg.get_x_scroll_max(self.rack_area) > 0 else 0)
        if room != self._master_room:
            self._master_room = room
            dpg.configure_item(self.master_box, height=-room)

    def _autosave(self) -> None:
        try:
            self.autosave.tick(self.session, self.session_path, self.files.saved_changes)
        except (OSError, ValueError) as err:
            self.autosave.paused = True  # once said is enough; a save or a restart tries again
            self.tell(f"could not autosave for crash recovery: {err}", error=True)

    def _follow_lanes(self) -> None:
        engine = self.engine
        stats = engine.stats() if engine is not None and engine.alive else {}
        position = stats["position"] / self.session.sample_rate if stats.get("alive") else None
        for lane in self.lanes:
            lane.poll(position, bool(stats.get("playing")))

    def _show_engine(self, engine: EngineProcess) -> None:
        """The running engine's MIDI news, meters and stats, shown."""
        self._take_learned(engine)
        self._follow_controllers(engine)
        self._follow_program_changes(engine)
        meters = engine.meters()
        stats = engine.stats()
        tracks = int(stats.get("strips", 0))  # rows: the engine's tracks, its busses, the master
        for row, view in zip(meters[:tracks], self.strips):
            view.show_levels(row)
        for row, view in zip(meters[tracks:-1], self.bus_strips):
            view.show_levels(row)
        if self.master is not None and len(meters):
            self.master.show_levels(meters[-1])
        if stats.get("alive"):
            if self._resume is not None and stats.get("running"):
                self._resume_transport(engine, stats)
            elif self._resume is None:
                self.transport = (int(stats["position"]), bool(stats.get("playing")))
            if self.master is not None:
                self.master.show_loudness(stats)
            dpg.set_value(self.position, f"{stats['position'] / self.session.sample_rate:6.1f} s")
            latency_ms = 1000 * stats["latency_frames"] / self.session.sample_rate
            self.engine_state = (f"engine {'recording' if stats['recording'] else 'running'}: "
                                 f"xruns {int(stats['xruns'])}, load p50 {stats['load_p50']:.0%} "
                                 f"p99 {stats['load_p99']:.0%} max {stats['load_max']:.0%}, "
                                 f"latency {latency_ms:.1f} ms")

    def _resume_transport(self, engine: EngineProcess, stats: dict) -> None:
        """Put a restarted engine's transport where the last one was; asked again until its stats show it.

        A locate that reaches a new engine before its first block can be lost,
        so it is repeated (a few times at most) rather than trusted.
        """
        position, playing = self._resume
        self._resume_tries += 1
        if (int(stats["position"]) >= position and bool(stats.get("playing")) == playing) \
                or self._resume_tries > 50:
            self._resume, self._resume_tries = None, 0
            return
        if int(stats["position"]) < position:
            engine.send(Locate(position))
        if playing and not stats.get("playing"):
            engine.send(Play())

    @property
    def title(self) -> str:
        """The window's title: the session's name, starred while it has unsaved changes."""
        title = f"{TITLE}: {self.session_path.name if self.session_path else 'new session'}"
        return title + (" *" if self.files.dirty else "")

    def _silence_meters(self) -> None:
        """No engine, no level: the meters drop to -inf rather than freeze at a dead engine's last levels."""
        for view in (*self.strips, *self.bus_strips, *([self.master] if self.master is not None else [])):
            view.show_silence()

    def _engine_died(self, why: str) -> None:
        self._silence_meters()
        if self._engine_died_shown:
            return
        self._engine_died_shown = True
        self.engine = None
        self.questions.ask("The audio engine stopped",
                           f"{why}\n\nYour session is intact in this window. Restart the engine to hear it again.",
                           {"Restart engine": lambda: self.restart_engine(), "Work offline": lambda: None})

    def close(self) -> None:
        for editor in self.editors:
            editor.close()
        if self.engine is not None:
            self.engine.stop()
        self.loader.close()


# Views a screenshot can open by name (``rackhost gui --view NAME``): name -> opener.
VIEWS: dict[str, Callable[[RackApp], Any]] = {
    "panel": lambda app: app.open_panel(*_first_slot(app)),
    "browser": lambda app: app.open_browser(0 if app.session.tracks else None),
    "midi": lambda app: app.open_midi(),
    "presets": open_once(PresetBrowser),
    "render": open_once(RenderDialog),
    "batch": open_once(BatchDialog),
    "settings": open_once(SettingsDialog),
    "narrow": lambda app: app.set_narrow(True),
    "no-history": lambda app: app.show_history(False),
    "spectrum": lambda app: app.open_spectrum(None),
    "takes": lambda app: app.open_takes(0),
}


def _normal(index: int | SlotPath) -> int | SlotPath:
    """A slot's place as panels compare it: a plain index for a slot of the strip's own chain."""
    path = as_path(index)
    return path[0] if len(path) == 1 else path


def _engine_place(index: int | SlotPath) -> tuple[int, tuple[int, ...]]:
    """How an engine command names a slot: its place in the strip's chain, and the path down into a split."""
    path = as_path(index)
    return path[0], path[1:]


def _chains(chain: Any) -> Iterator[Any]:
    """``chain`` and every branch's chain under it, at any depth."""
    yield chain
    for slot in chain:
        for branch in getattr(slot, "branches", ()):
            yield from _chains(branch.chain)


def _names(names: list[str]) -> str:
    """'a', 'a' and 'b', 'a', 'b' and 'c'."""
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _first_slot(app: RackApp) -> tuple[int | None, int]:
    for index, track in enumerate(app.session.tracks):
        plugins = [i for i, slot in enumerate(track.chain) if hasattr(slot, "plugin")]  # not a split slot
        if plugins:
            return index, plugins[0]
    return None, 0


def run(session_path: str | Path | None, *, screenshot: str | Path | None = None, frames: int = 0,
        start_engine: bool = True, play: bool = False, width: int | None = None, height: int | None = None,
        view: str | None = None, recover: bool | None = None) -> None:
    """Open the rack on ``session_path``; with ``screenshot``, render ``frames`` frames, save a PNG and close.

    The window opens at once; the session's plug-ins load on the plug-in
    thread meanwhile. ``play`` starts the transport as soon as the engine
    runs; ``view`` opens one of :data:`VIEWS` once the session is loaded.
    A crash's recovery file is offered once the session is loaded (``recover``
    True restores it, False discards it, None asks).

    The window opens where it was last closed, at that size unless ``width``
    and ``height`` are given (:mod:`rackhost.gui.placement`), else centred on
    the screen; a screenshot is always the size given (1280x720 unless given)
    and remembers nothing.
    """
    size = (width, height) if width and height else None
    loader = PluginLoader()
    app = RackApp(Session(), None, start_engine=False, loader=loader)
    dpg.create_context()
    dpg.configure_app(manual_callback_management=True)
    if screenshot:
        place = Place(0, 0, *(size or DEFAULT_SIZE))
    else:
        place = opening_place(size, remembered(), screen_size())
    dpg.create_viewport(title=TITLE, width=place.width, height=place.height, x_pos=place.x, y_pos=place.y,
                        disable_close=True)
    dpg.set_exit_callback(lambda: app.files.quit())
    app.build()
    dpg.setup_dearpygui()
    dpg.show_viewport()
    app.want_engine = start_engine
    if session_path is not None:
        app.files.open(Path(session_path), then=lambda: (_loaded(app, view), app.files.offer_recovery(recover)))
    else:
        if start_engine:
            app.restart_engine()
        _loaded(app, view)
        app.files.offer_recovery(recover)
    rendered = 0
    try:
        while dpg.is_dearpygui_running():
            if play and app.engine is not None:
                app.send(Play())
                play = False
            app.frame()
            if dpg.get_viewport_title() != app.title:
                dpg.set_viewport_title(app.title)
            dpg.render_dearpygui_frame()
            dpg.run_callbacks(dpg.get_callback_queue())
            if screenshot:
                waiting = loader.pending or app.files.loading or (app.want_engine and app.engine is None
                                                                 and "starting" in app.engine_state)
                if waiting:
                    time.sleep(0.05)  # a screenshot waits for the session and the engine (or its failure)
                    continue
                rendered += 1
                if rendered == frames:
                    dpg.output_frame_buffer(file=str(screenshot))
                if rendered >= frames + 3:  # the file is written a frame or two later
                    break
        if not screenshot:  # a screenshot run ends by itself: nobody was asked about unsaved changes
            app.autosave.clean_quit(app.session_path)
            _remember_place()
    finally:
        app.close()
        dpg.destroy_context()


def _remember_place() -> None:
    """Keep where the window is for the next start; a config folder that cannot be written costs only that."""
    try:
        remember(viewport_place())
    except OSError as err:
        print(f"rackhost: could not remember the window's place ({err}); it opens centred next time",
              file=sys.stderr)


def _loaded(app: RackApp, view: str | None) -> None:
    if view:
        VIEWS[view](app)
