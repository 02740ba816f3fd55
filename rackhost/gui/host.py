"""What each view may ask of the rack window: small protocols, and one composed per view.

A view is handed its host (the :class:`rackhost.gui.app.RackApp` in the
window; anything with the same methods in a test) and sees only the part it
needs: a strip edits its track and opens its slot's panel, the settings
dialog restarts the engine, the file menu swaps the session. No view module
imports the app (tests/test_gui_views_narrow.py holds that), so the views
and the window that wires them make no import circle, and a reader of a view
learns from its host type everything it can do to the rest of the window.

The app satisfies these structurally; nothing inherits from them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rackhost.chain import Bus, MasterBus, Session, Track
    from rackhost.chain.midi.mapping import MappingTarget


# -- the parts ------------------------------------------------------------------------------


@runtime_checkable
class SessionAccess(Protocol):
    """The session the window shows (read it; change it through the host's edits)."""

    session: Session


@runtime_checkable
class Owners(Protocol):
    """A track by index, a bus by ``BusRow``, or the master for None."""

    def owner(self, track: Any) -> Track | Bus | MasterBus: ...

    def has_owner(self, track: Any) -> bool: ...  # is the strip still there (a track or bus may have gone)?


@runtime_checkable
class SessionFile(Protocol):
    """Where the session is saved (None: never saved), and its crash-recovery autosave."""

    session_path: Path | None
    autosave: Any  # rackhost.gui.recovery.Autosave


@runtime_checkable
class Notify(Protocol):
    """A line in the status bar (errors in their colour)."""

    def tell(self, message: str, *, error: bool = False) -> None: ...


class Questions(Protocol):
    def ask(self, title: str, text: str, buttons: dict[str, Callable[[], Any]]) -> int: ...


@runtime_checkable
class Ask(Protocol):
    """A modal question over the window; each button runs its action and closes it."""

    @property
    def questions(self) -> Questions: ...


@runtime_checkable
class Resync(Protocol):
    """The model's structure changed (a preset, a slot, undo): redraw the rack and resync the engine."""

    def structure_changed(self) -> None: ...


@runtime_checkable
class RefreshViews(Protocol):
    """Values changed elsewhere than their control (an editor window, a controller): show them."""

    def refresh_views(self) -> None: ...


@runtime_checkable
class TrackEdits(Protocol):
    """A strip's own controls: each an undoable edit the engine hears about."""

    def set_gain(self, track: int | None, value: float) -> None: ...
    def set_pan(self, track: int, value: float) -> None: ...
    def set_mute(self, track: int, value: bool) -> None: ...
    def set_solo(self, track: int, value: bool) -> None: ...
    def set_armed(self, track: int, value: bool) -> None: ...
    def set_monitor(self, track: int, value: bool) -> None: ...
    def set_keep_mono(self, track: int, value: bool) -> None: ...
    def set_input(self, track: int, choice: str) -> None: ...
    def rename_track(self, track: int, name: str) -> None: ...
    def move_track(self, track: int, delta: int) -> None: ...
    def drop_track(self, track: int, before: int | None) -> None: ...
    def remove_track(self, track: int) -> None: ...
    def switch_ab(self, track: int | None) -> None: ...
    def copy_ab(self, track: int | None) -> None: ...
    def set_audition(self, track: Any, audition: Any) -> None: ...  # a track's index, a BusRow, None: the master
    def open_blind_test(self, track: Any) -> Any: ...  # a track's index, a BusRow, None: the master
    # Matching over the loop range (None) or the last seconds played; measured again now, on what has played.
    def set_match_over(self, track: Any, seconds: float | None) -> None: ...
    def match_over_words(self, track: Any) -> str: ...
    def measure_audition(self, track: Any, now: bool = False) -> None: ...


@runtime_checkable
class SlotSelection(Protocol):
    """The slot Delete removes (the one whose name was clicked last); None: none."""

    selected_slot: Any


@runtime_checkable
class ClipLights(Protocol):
    """A click on a strip's clip light: the engine lets it go."""

    def reset_clips(self, track: Any) -> None: ...


@runtime_checkable
class RoutingEdits(Protocol):
    """Where a strip's output goes and its sends (``key``: a track's index or a ``BusRow``); the engine follows.

    A routing loop or a missing bus is refused with the editor's error in the status line, nothing changed.
    """

    def set_output(self, key: Any, choice: str) -> None: ...
    def add_send(self, key: Any, bus: str) -> None: ...
    def remove_send(self, key: Any, bus: str) -> None: ...
    def set_send_level(self, key: Any, bus: str, level_db: float) -> None: ...
    def set_send_pre_fader(self, key: Any, bus: str, pre_fader: bool) -> None: ...
    def set_send_muted(self, key: Any, bus: str, muted: bool) -> None: ...


@runtime_checkable
class BusEdits(Protocol):
    """A bus strip's own name and removal (``key``: a ``BusRow``); a track's or bus's colour."""

    def rename_bus(self, key: Any, name: str) -> None: ...
    def remove_bus(self, key: Any) -> None: ...
    def set_color(self, track: Any, color: str) -> None: ...


@runtime_checkable
class ParameterEdits(Protocol):
    """A slot's parameter, as if its control moved: an undoable edit the engine hears about.

    ``index``, here and in the slot protocols below: a slot's index in its strip's chain, or a path into a
    split's branches (:data:`rackhost.chain.chain.SlotPath`).
    """

    def set_parameter(self, track: int | None, index: Any, name: str, value: object) -> None: ...


@runtime_checkable
class SlotLookup(Protocol):
    """A slot by its index or path; where a slot (or split) sits now (None: removed)."""

    def slot_at(self, track: Any, index: Any) -> Any: ...
    def path_of(self, track: Any, item: Any) -> Any: ...


@runtime_checkable
class SlotEdits(ParameterEdits, Protocol):
    """One slot of a chain: bypass, wet/dry, a parameter."""

    def set_bypass(self, track: int | None, index: Any, value: bool) -> None: ...
    def set_mix(self, track: int | None, index: Any, value: float) -> None: ...
    def set_branch_level(self, track: int | None, index: Any, branch: int, value: float) -> None: ...
    def make_split(self, track: int | None, index: Any) -> None: ...
    def set_slot_delta(self, track: int | None, index: Any, value: bool) -> None: ...


@runtime_checkable
class SplitEdits(Protocol):
    """A split's branches (``index``: the split's place, or its path inside another split): one undo step each,
    the engine follows. A split keeps two branches at least (said, nothing changed)."""

    def add_branch(self, track: Any, index: Any) -> None: ...
    def remove_branch(self, track: Any, index: Any, branch: int) -> None: ...
    def open_split(self, track: Any, index: Any) -> Any: ...


@runtime_checkable
class KeyEdits(Protocol):
    """A slot's key (sidechain): the track or bus its detector hears, before or after that strip's fader.

    A loop or a plug-in that cannot take a key is refused with the editor's error in the
    status line, nothing changed; the engine resyncs.
    """

    def set_key(self, track: Any, index: int, source: str | None, pre_fader: bool = False) -> None: ...


@runtime_checkable
class SlotMoves(Protocol):
    """A slot's place in its chain (a structural edit: the engine resyncs)."""

    def move_slot(self, track: int | None, index: Any, delta: int) -> None: ...
    def remove_slot(self, track: int | None, index: Any) -> None: ...
    def drop_slot(self, from_track: Any, from_index: Any, to_track: Any, to_index: Any, *,
                  copy: bool = False) -> None: ...


@runtime_checkable
class PluginBrowsing(Protocol):
    """The plug-in browser, to add a slot to a chain or replace one."""

    def open_browser(self, track: int | None, replace: Any = None, into: tuple[int, ...] = ()) -> Any: ...


@runtime_checkable
class PanelOpening(Protocol):
    """A slot's parameter panel (brought forward if it is open)."""

    def open_panel(self, track: int | None, index: Any) -> Any: ...


@runtime_checkable
class SpectrumOpening(Protocol):
    """The spectrum view, on a track (an index), a bus (a ``BusRow``) or the master (None)."""

    def open_spectrum(self, track: Any) -> Any: ...


@runtime_checkable
class TakesOpening(Protocol):
    """The Takes window, on a track (an index)."""

    def open_takes(self, track: int) -> Any: ...


@runtime_checkable
class EngineAccess(Protocol):
    """The running engine process (None while there is none): a view that reads its shared memory."""

    engine: Any


@runtime_checkable
class EditorOpening(Protocol):
    """A slot's own editor window, shown by a child process."""

    def open_editor(self, track: int | None, index: Any) -> Any: ...


@runtime_checkable
class AutomationOpening(Protocol):
    """Right-click > Automate on a control: its automation lane (an envelope made if there was none)."""

    def open_lane(self, track: Any, target: Any) -> Any: ...


@runtime_checkable
class MidiLearn(Protocol):
    """Right-click on a control: the next controller that moves is bound to it."""

    def learn_midi(self, target: MappingTarget) -> None: ...


@runtime_checkable
class MidiEdits(Protocol):
    """The engine's MIDI ports, the mapping list and the program map."""

    midi_setup: Any  # rackhost.live.midi_input.MidiSetup, or None: no MIDI
    learning: Any  # the LearnRequest armed in the engine, until a controller moves

    def set_midi_ports(self, inputs: tuple[str, ...], output: str | None) -> None: ...
    def unmap_midi(self, index: int) -> None: ...
    def program_midi(self, channel: int, program: int, track: int | None, preset: str) -> None: ...
    def unprogram_midi(self, entry: Any) -> None: ...


@runtime_checkable
class EngineControl(Protocol):
    """What the engine is doing, in words, and starting it again (with new device settings)."""

    engine_state: str

    def restart_engine(self, *, device: Any = None, block_size: int | None = None,
                       sample_rate: int | None = None, input_channels: int | None = None) -> None: ...


class Submitter(Protocol):
    def submit(self, label: str, work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[BaseException], None]) -> None: ...


@runtime_checkable
class PluginThread(Protocol):
    """The one thread that loads plug-ins (:mod:`rackhost.gui.loader`); results come back on the GUI thread.

    :func:`rackhost.gui.background.plugin_thread` hands a task to it.
    """

    @property
    def loader(self) -> Submitter: ...


class FolderChooser(Protocol):
    def choose_folder(self, title: str, then: Callable[[str], Any]) -> int: ...


@runtime_checkable
class FileChoosing(Protocol):
    """The window's file choosers (:class:`rackhost.gui.files.SessionFiles`)."""

    @property
    def files(self) -> FolderChooser: ...


class Scanner(Protocol):
    def start(self, folders: list[Path] | None = None) -> None: ...
    def add_folder(self, folder: str | Path) -> None: ...


@runtime_checkable
class PluginScanning(Protocol):
    """Scanning for plug-ins, in child processes, on a worker (:mod:`rackhost.gui.scan`)."""

    @property
    def scan(self) -> Scanner: ...


@runtime_checkable
class SessionSwitch(Protocol):
    """Put another session in the window (new, opened): views closed, engine restarted on it; or take another's
    contents into the one shown as an undo step (a restored autosave)."""

    def use_session(self, session: Session, path: Path | None) -> None: ...

    def take_session(self, session: Session, label: str) -> None: ...


@runtime_checkable
class LastRender(Protocol):
    """The master's last bounce (None: none yet): the timeline's overview when there are no file tracks."""

    last_render: Path | None


@runtime_checkable
class Transport(Protocol):
    """The engine's transport as the window last saw it, the transport bar's loop switch and range, and the
    engine's commands (a locate, a loop)."""

    transport: tuple[int, bool]  # position in frames, playing
    loop: int | str
    loop_range: int | str

    def send(self, command: Any) -> None: ...


@runtime_checkable
class Consoles(Protocol):
    """The strips (their faders' height), the open automation lanes, and the history list."""

    strips: list[Any]
    bus_strips: list[Any]
    master: Any
    lanes: list[Any]
    history_view: Any


# -- what each view is handed ------------------------------------------------------------------


@runtime_checkable
class StripHost(SessionAccess, Owners, TrackEdits, SlotEdits, SplitEdits, SlotMoves, PluginBrowsing, PanelOpening,
                MidiLearn,
                RoutingEdits, BusEdits, ClipLights, SlotSelection, SpectrumOpening, AutomationOpening, TakesOpening,
                Protocol):
    """:class:`rackhost.gui.strip.StripView`."""


@runtime_checkable
class RoutingViewHost(SessionAccess, RoutingEdits, AutomationOpening, MidiLearn, Protocol):
    """:class:`rackhost.gui.routing_view.RoutingView`, part of a strip."""


@runtime_checkable
class ParameterPanelHost(SessionAccess, Owners, SlotLookup, SlotEdits, KeyEdits, PluginBrowsing, EditorOpening,
                         MidiLearn, AutomationOpening, Protocol):
    """:class:`rackhost.gui.parameter_panel.ParameterPanel`."""


@runtime_checkable
class SplitPanelHost(SessionAccess, Owners, SlotLookup, SlotEdits, SplitEdits, SlotMoves, PluginBrowsing,
                     PanelOpening, MidiLearn, Protocol):
    """:class:`rackhost.gui.split_panel.SplitPanel`."""


@runtime_checkable
class PluginBrowserHost(PluginScanning, FileChoosing, Protocol):
    """:class:`rackhost.gui.plugin_browser.PluginBrowser`."""


@runtime_checkable
class EditorHost(SessionAccess, Notify, ParameterEdits, RefreshViews, Protocol):
    """:class:`rackhost.gui.editor_window.EditorWindow`."""


@runtime_checkable
class MidiPanelHost(SessionAccess, MidiEdits, Protocol):
    """:class:`rackhost.gui.midi_panel.MidiPanel`."""


@runtime_checkable
class PresetBrowserHost(SessionAccess, Owners, Resync, PluginThread, Protocol):
    """:class:`rackhost.gui.preset_browser.PresetBrowser` and its save dialog."""


@runtime_checkable
class RenderHost(SessionAccess, SessionFile, Resync, LastRender, Protocol):
    """:class:`rackhost.gui.render_dialog.RenderDialog`."""


@runtime_checkable
class BatchHost(SessionAccess, SessionFile, Protocol):
    """:class:`rackhost.gui.batch_dialog.BatchDialog`."""


@runtime_checkable
class SpectrumHost(SessionAccess, EngineAccess, Protocol):
    """:class:`rackhost.gui.spectrum_view.SpectrumView`."""


@runtime_checkable
class BlindTestHost(SessionAccess, Owners, TrackEdits, Notify, Protocol):
    """:class:`rackhost.gui.blind_panel.BlindTestPanel`."""

    def measure_audition(self, track: Any) -> None: ...  # a track's index, a BusRow, None: the master


@runtime_checkable
class TakesHost(SessionAccess, SessionFile, EngineAccess, Notify, Ask, Resync, Protocol):
    """:class:`rackhost.gui.takes_view.TakesView`."""


@runtime_checkable
class SettingsHost(SessionAccess, EngineControl, Protocol):
    """:class:`rackhost.gui.settings_dialog.SettingsDialog`."""


@runtime_checkable
class FilesHost(SessionAccess, SessionFile, Notify, Ask, PluginThread, SessionSwitch, Protocol):
    """:class:`rackhost.gui.files.SessionFiles`: the File menu."""


@runtime_checkable
class HistoryHost(SessionAccess, Resync, Protocol):
    """:class:`rackhost.gui.history.HistoryList`."""


@runtime_checkable
class TimelineHost(SessionAccess, Notify, LastRender, Transport, Consoles, Protocol):
    """:class:`rackhost.gui.timeline.Timeline`."""


HOSTS: tuple[type, ...] = (StripHost, RoutingViewHost, ParameterPanelHost, SplitPanelHost, PluginBrowserHost,
                           EditorHost, MidiPanelHost,
                           PresetBrowserHost, RenderHost, SettingsHost, FilesHost, HistoryHost, TakesHost,
                           BlindTestHost, TimelineHost)
