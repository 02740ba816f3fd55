"""One channel strip, for a track, a bus or the master: its chain of slots, A/B, mute/solo/arm, pan, fader,
meters, and (tracks and busses) where its output goes and its sends (:mod:`rackhost.gui.routing_view`).

The strip reads the model it is given and sends every change to its host
(:class:`rackhost.gui.host.StripHost`: the window), which makes it through
the session's undoable editor and tells the engine; the strip keeps only
widget ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from rackhost.chain.chain import sidechain_note
from rackhost.chain.dsp import gain_to_db
from rackhost.live.meters import METER_FLOOR_DB as READOUT_FLOOR_DB
from rackhost.live.meters import PEAK_HOLD_SECONDS, RMS_WINDOW_SECONDS
from rackhost.chain.midi.mapping import MappingTarget
from rackhost.chain.plugin import MissingPlugin
from rackhost.chain.split import MAX_BRANCH_LEVEL_DB, Split
from rackhost.gui.routing_view import RoutingView
from rackhost.gui.theme import ACCENT, CLIP, MUTED
from rackhost.live.commands import BusRow

if TYPE_CHECKING:
    from rackhost.gui.host import StripHost

STRIP_WIDTH = 214
CONTROLS_HEIGHT = 150  # mute/solo/arm, pan, fader and meters, kept at the bottom of every strip
METER_FLOOR_DB = -60.0  # the bars' scale; the readout goes down to the engine's floor (-120 dBFS)
INPUT_CHOICES = {"in 1": (0,), "in 2": (1,), "in 1+2": (0, 1), "in 3": (2,), "in 4": (3,), "in 3+4": (2, 3)}
OPEN_FILE = "audio file..."
BRANCH_FLOOR_DB = -60.0  # a split branch's level control: its lowest stop (a silent branch shows here)


def meter_fraction(peak: float) -> float:
    """A linear peak as a bar length: -60 dBFS empty, 0 dBFS full."""
    db = gain_to_db(peak)
    return max(0.0, min(1.0, (db - METER_FLOOR_DB) / -METER_FLOOR_DB))


def level_text(gain: float) -> str:
    """A level as the readout shows it: dBFS to 0.1 dB, ``-inf`` below the meters' floor (-120 dBFS)."""
    db = gain_to_db(gain)
    return f"{db:5.1f}" if db >= READOUT_FLOOR_DB else " -inf"


READOUT_TIP = (f"pk: the highest sample, held {PEAK_HOLD_SECONDS:g} s; rms: the last {RMS_WINDOW_SECONDS * 1000:.0f} ms; "
               f"the louder channel of each; below {READOUT_FLOOR_DB:.0f} dBFS reads -inf; the bars span -60..0 dBFS")


def input_label(track: Any) -> str:
    if getattr(track, "instrument", None) is not None:
        return f"instrument: {track.instrument.name}"
    if track.input:
        return next((k for k, v in INPUT_CHOICES.items() if v == track.input),
                    "in " + "+".join(str(c + 1) for c in track.input))
    name = getattr(track.source, "path", None)
    return f"file: {name.name}" if name is not None else "file"


def strip_where(owner: Any, track: int | BusRow | None) -> str:
    """``master``, ``track 'vox'`` or ``bus 'drums'``, for messages."""
    if track is None:
        return "master"
    return f"{'bus' if isinstance(track, BusRow) else 'track'} {owner.name!r}"


class StripView:
    """The widgets of one strip; keeps their ids, takes its parent, reads the model it is given.

    ``track``: a track's index, a :class:`~rackhost.live.commands.BusRow` for a bus, or None for the master.
    """

    def __init__(self, parent: int | str, app: StripHost, track: int | BusRow | None):
        self.app = app
        self.track = track
        owner = app.owner(track)
        self.owner = owner
        self.is_master = track is None
        self.is_bus = isinstance(track, BusRow)
        self.routing: RoutingView | None = None
        self.slots: list[int] = []  # the bypass checkbox of each slot
        self.slot_buttons: list[int] = []
        self.slot_tips: list[tuple[int, int]] = []  # each slot's tooltip and its text (a sidechain with no key)
        self.branch_levels: dict[int, list[int]] = {}  # a split slot's index -> the level control of each branch
        with dpg.child_window(parent=parent, width=STRIP_WIDTH, height=-1, border=True) as self.root:
            self._header(owner)
            chain = owner.chain
            origin = f"preset: {chain.origin}" if chain.origin else f"{len(chain)} slot{'s' * (len(chain) != 1)}"
            with dpg.group(horizontal=True):
                self.origin = dpg.add_text(origin[:18], color=MUTED)
                self.ab = dpg.add_button(label=f"{owner.ab.active}|{owner.ab.inactive.lower()}", width=36,
                                         callback=lambda: app.switch_ab(track))
                self.copy_ab = dpg.add_button(label=f"{owner.ab.active}>{owner.ab.inactive}", width=36,
                                              callback=lambda: app.copy_ab(track))
            with dpg.child_window(height=-CONTROLS_HEIGHT, border=False):
                # The slots take what the controls leave, so every strip's controls line up at the bottom.
                for index, slot in enumerate(chain):
                    self._slot_row(index, slot)
                self.add_slot = dpg.add_button(label="+ plug-in", width=-1,
                                               callback=lambda: app.open_browser(track))
            dpg.add_separator()
            if self.is_master:
                self.loudness = dpg.add_text("LUFS M --  S --\nI --  TP --", color=MUTED)
                dpg.add_spacer(height=4)
            else:
                with dpg.group(horizontal=True):
                    self.mute = dpg.add_checkbox(label="M", default_value=owner.mute,
                                                 callback=lambda s, v: app.set_mute(track, v))
                    self.solo = dpg.add_checkbox(label="S", default_value=owner.solo,
                                                 callback=lambda s, v: app.set_solo(track, v))
                    if not self.is_bus:  # a bus has no input to record or monitor
                        self.arm = dpg.add_checkbox(label="R", default_value=owner.armed,
                                                    callback=lambda s, v: app.set_armed(track, v))
                        self.monitor = dpg.add_checkbox(label="mon", default_value=owner.monitor,
                                                        show=bool(owner.input),
                                                        callback=lambda s, v: app.set_monitor(track, v))
                self.pan = dpg.add_slider_float(label="pan", min_value=-1.0, max_value=1.0, width=150,
                                                default_value=owner.pan, format="%.2f",
                                                callback=lambda s, v: app.set_pan(track, v))
                self._release_seals(self.pan, lambda: app.set_pan(track, 0.0), "pan")
            self.gain = dpg.add_slider_float(label="dB", min_value=-60.0, max_value=12.0, width=150,
                                             default_value=owner.gain_db, format="%.1f",
                                             callback=lambda s, v: app.set_gain(track, v))
            self._release_seals(self.gain, lambda: app.set_gain(track, 0.0), "gain")
            dpg.add_spacer(height=2)
            self.meters = [dpg.add_progress_bar(default_value=0.0, width=-1, height=10, overlay="")
                           for _ in range(2)]
            self.readout = dpg.add_text("pk  -inf  rms  -inf dBFS", color=MUTED)
            with dpg.tooltip(self.readout):
                self.readout_tip = dpg.add_text(READOUT_TIP)

    def _header(self, owner: Any) -> None:
        app, track = self.app, self.track
        if self.is_master:
            dpg.add_text("MASTER", color=ACCENT)
            dpg.add_text("sum of the tracks and busses" if app.session.busses else "sum of the tracks", color=MUTED)
            return
        if self.is_bus:
            with dpg.group(horizontal=True):
                dpg.add_text("BUS", color=ACCENT)
                self.name = dpg.add_input_text(default_value=owner.name, width=132, on_enter=True,
                                               callback=lambda s, v: app.rename_bus(track, v))
                self.remove = dpg.add_button(label="x", width=18, callback=lambda: app.remove_bus(track))
            self.routing = RoutingView(app, track, owner, app.session.busses)
            return
        with dpg.group(horizontal=True):
            self.name = dpg.add_input_text(default_value=owner.name, width=118, on_enter=True,
                                           callback=lambda s, v: app.rename_track(track, v))
            dpg.add_button(label="<", width=18, callback=lambda: app.move_track(track, -1))
            dpg.add_button(label=">", width=18, callback=lambda: app.move_track(track, 1))
            dpg.add_button(label="x", width=18, callback=lambda: app.remove_track(track))
        choices = list(INPUT_CHOICES) + ([f"file: {owner.source.path.name}"] if hasattr(owner.source, "path") else [])
        choices += [input_label(owner)] if owner.instrument is not None else []
        self.input = dpg.add_combo(choices + [OPEN_FILE], default_value=input_label(owner), width=-1,
                                   callback=lambda s, v: app.set_input(track, v))
        with dpg.group(horizontal=True):
            # mono, mono>stereo (a stereo-only plug-in widened it; its pan is then a balance) or stereo
            self.width = dpg.add_text(owner.width_label(app.session.sample_rate), color=MUTED)
            self.keep_mono = dpg.add_checkbox(label="keep mono", default_value=owner.keep_mono,
                                              show=owner.channels == 1,
                                              callback=lambda s, v: app.set_keep_mono(track, v))
        self.routing = RoutingView(app, track, owner, app.session.busses)

    def _slot_row(self, index: int, slot: Any) -> None:
        app, track = self.app, self.track
        if isinstance(slot, Split):
            self._split_rows(index, slot)
            return
        with dpg.group(horizontal=True):
            box = dpg.add_checkbox(default_value=not slot.bypass, user_data=index,
                                   callback=lambda s, v, i: app.set_bypass(track, i, not v))
            label = slot.name + (f" {slot.mix:.0%}" if slot.mix < 1 else "")
            button = dpg.add_button(label=label[:15], width=104, user_data=index,
                                    callback=lambda s, a, i: app.open_panel(track, i))
            with dpg.tooltip(button, show=False) as tip:
                tip_text = dpg.add_text("", wrap=420)
            dpg.add_button(label="^", width=16, user_data=index, callback=lambda s, a, i: app.move_slot(track, i, -1))
            dpg.add_button(label="v", width=16, user_data=index, callback=lambda s, a, i: app.move_slot(track, i, 1))
            dpg.add_button(label="x", width=16, user_data=index, callback=lambda s, a, i: app.remove_slot(track, i))
        self.slots.append(box)
        self.slot_buttons.append(button)
        self.slot_tips.append((tip, tip_text))
        self._show_sidechain(index, slot)

    def _split_rows(self, index: int, split: Split) -> None:
        """A split slot: its own row (bypass, move, remove), then each branch nested under it, with its
        level (dragged: one undo step) and its plug-ins."""
        app, track = self.app, self.track
        with dpg.group(horizontal=True):
            box = dpg.add_checkbox(default_value=not split.bypass, user_data=index,
                                   callback=lambda s, v, i: app.set_bypass(track, i, not v))
            button = dpg.add_button(label=split.name[:15], width=104)
            with dpg.tooltip(button, show=False) as tip:
                tip_text = dpg.add_text("", wrap=420)
            dpg.add_button(label="^", width=16, user_data=index, callback=lambda s, a, i: app.move_slot(track, i, -1))
            dpg.add_button(label="v", width=16, user_data=index, callback=lambda s, a, i: app.move_slot(track, i, 1))
            dpg.add_button(label="x", width=16, user_data=index, callback=lambda s, a, i: app.remove_slot(track, i))
        self.slots.append(box)
        self.slot_buttons.append(button)
        self.slot_tips.append((tip, tip_text))
        levels = []
        for k, branch in enumerate(split.branches):
            with dpg.group(horizontal=True, indent=24):
                level = max(branch.level_db, BRANCH_FLOOR_DB)
                levels.append(dpg.add_drag_float(default_value=level, min_value=BRANCH_FLOOR_DB,
                                                 max_value=MAX_BRANCH_LEVEL_DB, speed=0.1, width=56,
                                                 format="%.1f dB", user_data=(index, k),
                                                 callback=lambda s, v, u: app.set_branch_level(track, u[0], u[1], v)))
                dpg.add_text(", ".join(s.name for s in branch.chain) or "dry", color=MUTED)
        self.branch_levels[index] = levels
        for item in levels:
            with dpg.item_handler_registry() as handlers:
                dpg.add_item_deactivated_after_edit_handler(callback=lambda *_: app.session.history.seal())
            dpg.bind_item_handler_registry(item, handlers)
        self._show_sidechain(index, split)

    def _show_sidechain(self, index: int, slot: Any) -> None:
        """Mark a slot that cannot do its job and say why when hovered: a plug-in not installed or
        refused after its probe failed, or a sidechain switch that is on with nothing feeding its key
        (for a split: any plug-in in its branches)."""
        where = strip_where(self.owner, self.track)
        reasons = []
        for inner in slot.slots() if isinstance(slot, Split) else (slot,):
            note = sidechain_note(inner)
            if isinstance(inner.plugin, MissingPlugin):
                reasons.append(inner.plugin.note)
            elif note:
                reasons.append(f"{where}: {note}")
        why = "\n".join(reasons) or None
        tip, text = self.slot_tips[index]
        dpg.set_value(text, why or "")
        dpg.configure_item(tip, show=why is not None)
        label = slot.name + (f" {slot.mix:.0%}" if getattr(slot, "mix", 1.0) < 1 else "")
        dpg.configure_item(self.slot_buttons[index], label=(f"! {label}" if why else label)[:15])

    def _release_seals(self, item: int, reset: Any, learn: str) -> None:
        """Letting go of a fader ends its undo step; a double-click puts it back to 0; right-click learns MIDI
        (tracks and the master: a controller mapping names no bus)."""
        with dpg.item_handler_registry() as handlers:
            dpg.add_item_deactivated_after_edit_handler(callback=lambda *_: self.app.session.history.seal())
            dpg.add_item_double_clicked_handler(callback=lambda *_: (reset(), self.app.session.history.seal()))
            if not self.is_bus:
                target = MappingTarget(self.track, learn)  # type: ignore[arg-type]
                dpg.add_item_clicked_handler(button=dpg.mvMouseButton_Right,
                                             callback=lambda *_: self.app.learn_midi(target))
        dpg.bind_item_handler_registry(item, handlers)

    def refresh(self) -> None:
        """Show the model's values (a controller or another view changed them)."""
        owner = self.owner
        for index, (box, slot) in enumerate(zip(self.slots, owner.chain)):
            dpg.set_value(box, not slot.bypass)
            self._show_sidechain(index, slot)
            for item, branch in zip(self.branch_levels.get(index, ()), getattr(slot, "branches", ())):
                if not dpg.is_item_active(item):
                    dpg.set_value(item, max(branch.level_db, BRANCH_FLOOR_DB))
        if not dpg.is_item_active(self.gain):
            dpg.set_value(self.gain, owner.gain_db)
        if not self.is_master:
            if not dpg.is_item_active(self.pan):
                dpg.set_value(self.pan, owner.pan)
            dpg.set_value(self.mute, owner.mute)
        if self.routing is not None:
            self.routing.refresh(owner)

    def show_levels(self, row: Any) -> None:
        """``row``: (2 channels, [peak, rms, peak hold, clip]) from the engine's meters."""
        for bar, channel in zip(self.meters, row):
            dpg.set_value(bar, meter_fraction(float(channel[0])))
            dpg.configure_item(bar, overlay="CLIP" if channel[3] else "")
        hold = max(float(row[0][2]), float(row[1][2]))
        rms = max(float(row[0][1]), float(row[1][1]))
        dpg.set_value(self.readout, f"pk {level_text(hold)}  rms {level_text(rms)} dBFS")
        dpg.configure_item(self.readout, color=CLIP if hold >= 1.0 else MUTED)

    def show_silence(self) -> None:
        """No engine: every level -inf, no clip (a dead engine's last levels are not left standing)."""
        self.show_levels([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
        if self.is_master:
            self.show_loudness({})

    def show_loudness(self, stats: dict) -> None:
        """The master's momentary, short-term and integrated loudness and true peak, when the engine has them."""
        def lufs(key: str) -> str:
            value = stats.get(key)
            return "--" if value is None or value < -99 else f"{value:5.1f}"

        dpg.set_value(self.loudness, f"LUFS M {lufs('lufs_m')}  S {lufs('lufs_s')}\n"
                                     f"I {lufs('lufs_i')}  TP {lufs('true_peak_db')}")
