"""One channel strip, for a track, a bus or the master: its chain of slots, A/B, mute/solo/arm, pan, fader,
meters, and (tracks and busses) where its output goes and its sends (:mod:`rackhost.gui.routing_view`).

The strip reads the model it is given and sends every change to its host
(:class:`rackhost.gui.host.StripHost`: the window), which makes it through
the session's undoable editor and tells the engine; the strip keeps only
widget ids.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from rackhost.chain.automation import StripTarget
from rackhost.chain.chain import sidechain_note
from rackhost.chain.colors import PALETTE, color_name, shown_color
from rackhost.chain.dsp import gain_to_db
from rackhost.live.meters import METER_FLOOR_DB as READOUT_FLOOR_DB
from rackhost.live.meters import PEAK_HOLD_SECONDS, RMS_WINDOW_SECONDS
from rackhost.chain.plugin import MissingPlugin
from rackhost.chain.split import MAX_BRANCH_LEVEL_DB, Split
from rackhost.gui.automation_lane import AUTOMATED, automated_targets, control_menu, mark_automated
from rackhost.gui.drops import DropTargets
from rackhost.gui.fader import FINE, SCALE_WIDTH, Fader, alt_held, ctrl_held
from rackhost.gui.meter_view import LoudnessView, MeterView
from rackhost.gui.routing_view import RoutingView, learn_target
from rackhost.gui.scale import SCALE, px
from rackhost.gui.taper import fader_text, pan_text
from rackhost.gui.text import CHAR, cut
from rackhost.gui.theme import ACCENT, CLIP, MASTER_BAND, MUTED, SELECTED, band_theme, strip_theme
from rackhost.live.commands import BusRow

if TYPE_CHECKING:
    from rackhost.gui.host import StripHost

STRIP_WIDTH = 214
NARROW_WIDTH = 150  # View > Narrow strips: more strips in view for a big session
WIDE_WIDTH = 300  # the widest a strip grows to fill a big window
SQUEEZED_WIDTH = 196  # the narrowest a full strip gets so that all of them fit (the demo's seven at 1920x1080)
CONSOLE_WIDTH = 172  # a wide strip's pan knob, fader and meter side by side
ADD_COLUMN, STRIP_GAP = 72, 8  # the + track / + bus buttons' column after the strips; the gap between strips
ADD_BUTTON_WIDTH = 60  # "+ track" (7 characters) and the button's padding, on one line
SWITCHES_BAND = 44  # a track's separator and its two rows of switches under its sends, at 1x (41 used)
# A narrow strip's: the separator, the pan knob (40 wide, its value under it: 60 tall) beside three rows of
# switches, then the audition row (84 used). Held to these heights so the master's fader can start level with the
# strips'.
NARROW_SWITCHES_BAND = 90
WORDS_ROW = 16  # a line of text: the font's 13 pixels and the spacing under it
ROW = 20  # one row of widgets: a frame (17, the strips' tighter padding) and the spacing under it
FOOTER = 22  # the level readout under the fader and meter
LOUDNESS_BAND = 5 * ROW + 8  # the master's loudness under its inserts: a caption and four rows of bars
INPUT_CHOICES = {"in 1": (0,), "in 2": (1,), "in 1+2": (0, 1), "in 3": (2,), "in 4": (3,), "in 3+4": (2, 3)}
OPEN_FILE = "audio file..."
TAKES_WIDTH, TAKES_NARROW = 44, 22  # the takes button beside the input chooser
MONO_BOX = 17  # the keep-mono box beside a mono track's input chooser
BAND = 6  # the colour band's height, at the top of the strip
NARROW_WIDTHS = {"mono>stereo": "m>st", "stereo": "st"}  # a narrow strip's width label, beside A/B
PAN_WHEEL = 0.05  # a wheel notch on the pan knob (a tenth of it with Ctrl)
PAN_DRAG = 2.0 / 160  # a pixel of drag on the pan knob, up or right: 160 px from hard left to hard right
SLOT_TOOLS = 80  # a slot row's bypass box and ^ v x buttons; its name gets the rest
SLOT_PAYLOAD = "rackhost-slot"  # what a dragged slot carries: (its strip's key, its index or its path in a split)
TRACK_PAYLOAD = "rackhost-track"  # what a dragged track carries: its index
MATCH_SECONDS = (5.0, 10.0, 30.0)  # the match switch's menu: match over the last this many seconds played
BRANCH_FLOOR_DB = -60.0  # a split branch's level control: its lowest stop (a silent branch shows here)


@dataclass(frozen=True)
class StripLayout:
    """How tall each band of every strip is, so that all the faders start at the same height:
    room for the most inserts and sends any strip has. ``narrow`` strips show less text; ``fill``: the width
    the window's room gives each full strip (used from :data:`SQUEEZED_WIDTH` up; 0: unknown). Widths are
    in the window's pixels now: the constants are for 1x (:func:`rackhost.gui.scale.px`)."""

    narrow: bool = False
    slot_rows: int = 2
    send_rows: int = 1
    fill: int = 0
    beside_narrow: bool = False  # the master (never narrow) beside narrow strips: its band as tall as theirs

    @property
    def sends_height(self) -> int:
        """The sends' band: a send is a line of words (its bus and level) over a row (its slider and buttons);
        then the row of "+ send..."."""
        return self.send_rows * px(ROW) + (self.send_rows - 1) * px(WORDS_ROW) + px(4)

    @property
    def switches_height(self) -> int:
        """The separator and the switches under the sends (mute, solo, arm, the audition row)."""
        return px(NARROW_SWITCHES_BAND if self.narrow or self.beside_narrow else SWITCHES_BAND)

    @property
    def sends_room(self) -> int:
        """The sends' band as built: taller than the sends need when the master's loudness needs more, so that
        every fader starts at the same height (the master's band is as tall as a strip's sends and switches)."""
        return max(self.sends_height, px(LOUDNESS_BAND) - px(ROW) - px(3) - self.switches_height)

    @property
    def master_band(self) -> int:
        """The master's loudness band: a strip's sends and switches, the spacing between them (3), and the row
        its header has less than a track's."""
        return px(ROW) + self.sends_room + px(3) + self.switches_height

    @property
    def width(self) -> int:
        if self.narrow:
            return px(NARROW_WIDTH)
        return self.fill if self.fill >= px(SQUEEZED_WIDTH) else px(STRIP_WIDTH)

    @classmethod
    def of(cls, session: Any, narrow: bool = False, room: int = 0) -> StripLayout:
        """``room``: the rack's width in pixels (0: unknown); wide strips share it, up to :data:`WIDE_WIDTH`
        each, or a little under :data:`STRIP_WIDTH` (:data:`SQUEEZED_WIDTH`) when that brings them all into
        view; else they keep their width and the rack scrolls."""
        strips = [*session.tracks, *session.busses]
        # A split takes a row for itself and one for each of its branches; a keyed slot one more for its key.
        slots = max((sum(1 + len(getattr(slot, "branches", ())) + (getattr(slot, "key", None) is not None)
                         for slot in s.chain)
                     for s in (*strips, session.master)), default=0)
        sends = max((len(s.sends) for s in strips), default=0)
        share = (room - px(ADD_COLUMN)) // max(1, len(strips)) - px(STRIP_GAP) if room else 0
        return cls(narrow, max(2, slots), sends + 1, 0 if narrow else min(px(WIDE_WIDTH), share))


def level_text(gain: float) -> str:
    """A level as the readout shows it: dBFS to 0.1 dB, ``-inf`` below the meters' floor (-120 dBFS)."""
    db = gain_to_db(gain)
    return f"{db:5.1f}" if db >= READOUT_FLOOR_DB else " -inf"


def narrow_level_text(gain: float) -> str:
    """A level in five characters, for a narrow strip's readout: ``-14.4``, `` -inf``; whole dB from -100 down
    (`` -105``), where a tenth no longer matters and would take a sixth character."""
    db = gain_to_db(gain)
    if db < READOUT_FLOOR_DB:
        return " -inf"
    return f"{db:5.1f}" if db > -99.95 else f"{db:5.0f}"


READOUT_TIP = (f"pk: the highest sample, held {PEAK_HOLD_SECONDS:g} s; rms: the last {RMS_WINDOW_SECONDS * 1000:.0f} ms; "
               f"the louder channel of each; below {READOUT_FLOOR_DB:.0f} dBFS reads -inf. The meter: a bar per channel "
               f"(IEC scale, -70..0 dBFS), the white line its peak hold, the light above it clip (click: off)")


NOT_MATCHED = "--"  # the match switch's offset before anything was measured


def match_label(audition: Any, setting: str, narrow: bool = False) -> str:
    """The ``match`` switch's label: while matching plays, the offset it plays at (``B +2.3``; a slot bypassed
    against the chain: ``byp +1.0``; a narrow strip: the dB alone; not measured yet: ``A --``, narrow ``--``),
    else ``match`` (narrow: ``lm``). A blind test hides it; the input and the delta are not matched."""
    if not audition.match or audition.blind or audition.delta or audition.side == "input":
        return "lm" if narrow else "match"
    if audition.side == "other" and audition.compare_slot is not None:
        who, db = "byp", audition.other_offset
    else:
        who = setting if audition.side != "other" else ("B" if setting == "A" else "A")
        db = audition.offset_db(who)
    # Not measured: no number at all, never a "+0.0" that reads as a measured match.
    value = NOT_MATCHED if db is None else f"{db:+.1f}"
    return value if narrow else f"{who} {value}"


def input_label(track: Any) -> str:
    if getattr(track, "instrument", None) is not None:
        return f"instrument: {track.instrument.name}"
    if track.input:
        return next((k for k, v in INPUT_CHOICES.items() if v == track.input),
                    "in " + "+".join(str(c + 1) for c in track.input))
    name = getattr(track.source, "path", None)
    return f"file: {name.name}" if name is not None else "file"


def fed_by(bus: Any, session: Any) -> str:
    """What feeds a bus, in words: ``from kick, snare; sends: vocal``."""
    strips = [*session.tracks, *session.busses]
    routed = [s.name for s in strips if s is not bus and s.output == bus.name]
    sending = [s.name for s in strips if any(send.bus == bus.name for send in s.sends)]
    parts = ([f"from {', '.join(routed)}"] if routed else []) + ([f"sends: {', '.join(sending)}"] if sending else [])
    return "; ".join(parts) or "nothing feeds it yet"


def key_label(key: Any) -> str:
    """A keyed slot's line on its strip: ``key: voice`` (taken after the voice's fader), ``key: voice (pre)``."""
    return f"key: {key.source}{' (pre)' if key.pre_fader else ''}"


def strip_where(owner: Any, track: int | BusRow | None) -> str:
    """``master``, ``track 'vox'`` or ``bus 'drums'``, for messages."""
    if track is None:
        return "master"
    return f"{'bus' if isinstance(track, BusRow) else 'track'} {owner.name!r}"


class StripView:
    """The widgets of one strip; keeps their ids, takes its parent, reads the model it is given.

    ``track``: a track's index, a :class:`~rackhost.live.commands.BusRow` for a bus, or None for the master.
    From the top: name, input and output, A/B and the inserts, the sends (the master: its loudness), mute,
    solo, arm and the pan knob, then the fader and the meter side by side in the height left, and the
    level readout.
    """

    def __init__(self, parent: int | str, app: StripHost, track: int | BusRow | None,
                 layout: StripLayout | None = None):
        self.app = app
        self.track = track
        self.layout = layout = layout or StripLayout()
        owner = app.owner(track)
        self.owner = owner
        self.is_master = track is None
        self.is_bus = isinstance(track, BusRow)
        self.routing: RoutingView | None = None
        self.slots: list[int] = []  # the bypass checkbox of each slot
        self.slot_buttons: list[int] = []
        self.slot_tips: list[tuple[int, int]] = []  # each slot's tooltip and its text (a sidechain with no key)
        # slot index -> (short, whole) gain reduction, while the spectrum view watches this strip
        self.reductions: dict[int, tuple[str, str]] = {}
        self.branch_levels: dict[int, list[int]] = {}  # a split slot's index -> the level control of each branch
        self.key_labels: dict[int, int] = {}  # a keyed slot's index -> the line under it naming its key
        self.drops = DropTargets()  # its slots dragged, and where a drop on each target puts one
        self.where = strip_where(owner, track)
        self.loudness: LoudnessView | None = None
        self.pan = self.pan_text = self.mute = self.solo = 0
        self._pan_wheeled = False
        self._pan_drag: tuple[float, float, float] | None = None  # a drag on the knob: (pan, x, y) where it began
        self.menus: dict[str, int] = {}  # each control's right-click menu ("gain", "pan")
        width = layout.width
        self.inner = width - px(16)
        with dpg.child_window(parent=parent, width=width, height=-1, border=True, no_scrollbar=True) as self.root:
            dpg.bind_item_theme(self.root, strip_theme())
            self._band(owner)
            with dpg.child_window(height=(2 if self.is_master else 3) * px(ROW), border=False, no_scrollbar=True):
                self._header(owner)
            chain = owner.chain
            # The slots are in view: their count is not said; a track says its width here (mono, mono>stereo: a
            # stereo-only plug-in widened it, its pan is then a balance; stereo), then the preset it came from.
            width_label = "" if self.is_master or self.is_bus else owner.width_label(app.session.sample_rate)
            origin = f"preset: {chain.origin}" if chain.origin else ""
            with dpg.group(horizontal=True):
                room = self.inner - px(84) - (px(38) if self.is_master else 0)
                if width_label:
                    shown = NARROW_WIDTHS.get(width_label, width_label) if layout.narrow else width_label
                    self.width = dpg.add_text(shown, color=MUTED)
                    if shown != width_label:
                        with dpg.tooltip(self.width):
                            dpg.add_text(width_label)
                    room -= px(CHAR) * len(shown) + px(5)
                self.origin = dpg.add_text(cut(origin, room) if origin else "", color=MUTED, show=bool(origin))
                if origin and origin != dpg.get_value(self.origin):
                    with dpg.tooltip(self.origin):
                        dpg.add_text(origin)
                self.ab = dpg.add_button(label=f"{owner.ab.active}|{owner.ab.inactive.lower()}", width=px(36),
                                         callback=lambda: app.switch_ab(track))
                self.copy_ab = dpg.add_button(label=f"{owner.ab.active}>{owner.ab.inactive}", width=px(36),
                                              callback=lambda: app.copy_ab(track))
                if self.is_master:  # beside its A/B: proof that the master chain (or one change to it) is heard
                    self._blind_button()
            with dpg.child_window(height=(layout.slot_rows + 1) * px(ROW) + px(4), border=False):
                for index, slot in enumerate(chain):
                    self._slot_row(index, slot)
                self.add_slot = dpg.add_button(label="+ plug-in", width=-1, payload_type=SLOT_PAYLOAD,
                                               callback=lambda: app.open_browser(track),
                                               drop_callback=lambda s, dragged: self._dropped(dragged, None))
                self.drops.target(self.add_slot, f"last on {self.where}")
            if self.is_master:
                # As tall as the strips' sends and switches, so the master's fader starts level with theirs.
                with dpg.child_window(height=layout.master_band, border=False, no_scrollbar=True):
                    dpg.add_separator()
                    self.loudness = LoudnessView(app.session.master.loudness_target, self.inner)
            else:
                with dpg.child_window(height=layout.sends_room, border=False):
                    if self.routing is not None:
                        self.routing.build_sends()
                with dpg.child_window(height=layout.switches_height, border=False, no_scrollbar=True):
                    dpg.add_separator()
                    self._switches(owner)
            with dpg.child_window(height=-px(FOOTER), border=False, no_scrollbar=True) as self.console:
                self._console(owner)
            self.readout = dpg.add_text(self._readout_text(0.0, 0.0), color=MUTED)
            with dpg.tooltip(self.readout):
                self.readout_tip = dpg.add_text(READOUT_TIP + "\nright-click: spectrum")
            with dpg.item_handler_registry() as handlers:
                dpg.add_item_clicked_handler(button=dpg.mvMouseButton_Right, callback=lambda: app.open_spectrum(track))
            dpg.bind_item_handler_registry(self.readout, handlers)
        self.show_automation()

    def _band(self, owner: Any) -> None:
        """The strip's colour, across its top: a click (either button) opens its menu of colours."""
        color = MASTER_BAND if self.is_master else shown_color(self.app.session, owner)
        self.band = dpg.add_button(label="", width=-1, height=px(BAND))
        dpg.bind_item_theme(self.band, band_theme(color))
        if self.is_master:
            return
        with dpg.window(popup=True, show=False, no_title_bar=True, autosize=True) as self.color_menu:
            dpg.add_text(f"colour of {owner.name}", color=MUTED)
            self.swatches: dict[str, int] = {}
            for name, value in PALETTE:
                swatch = dpg.add_button(label=("* " if value == color else "  ") + name, width=px(110), user_data=value,
                                        callback=lambda s, a, u: (dpg.hide_item(self.color_menu),
                                                                  self.app.set_color(self.track, u)))
                dpg.bind_item_theme(swatch, band_theme(value))
                self.swatches[value] = swatch
        with dpg.item_handler_registry() as handlers:
            for button in (dpg.mvMouseButton_Left, dpg.mvMouseButton_Right):
                dpg.add_item_clicked_handler(button=button, callback=lambda: dpg.configure_item(self.color_menu,
                                                                                              show=True))
        dpg.bind_item_handler_registry(self.band, handlers)
        with dpg.tooltip(self.band):
            dpg.add_text(f"{color_name(color)}: click for the strip's colours")

    def _header(self, owner: Any) -> None:
        app, track = self.app, self.track
        if self.is_master:
            with dpg.group(horizontal=True):
                dpg.add_text("MASTER", color=ACCENT)
                dpg.add_text(cut("sum of all" if app.session.busses else "sum of the tracks",
                                 self.inner - 6 * px(CHAR)), color=MUTED)
            self._audition(owner)  # a mastering engineer's first compare: the master chain against the mix
            return
        narrow = self.layout.narrow
        if self.is_bus:
            with dpg.group(horizontal=True):
                dpg.add_text("BUS", color=ACCENT)
                self.name = dpg.add_input_text(default_value=owner.name, width=self.inner - px(58), on_enter=True,
                                               callback=lambda s, v: app.rename_bus(track, v))
                self.remove = dpg.add_button(label="x", width=px(18), callback=lambda: app.remove_bus(track))
            self.routing = RoutingView(app, track, owner, app.session.busses, narrow=self.layout.narrow,
                                       width=self.inner)
            self.routing.build_output()
            fed = fed_by(owner, app.session)
            self.fed = dpg.add_text(cut(fed, self.inner + px(CHAR)), color=MUTED)
            if cut(fed, self.inner + px(CHAR)) != fed:
                with dpg.tooltip(self.fed):
                    dpg.add_text(fed, wrap=360)
            return
        with dpg.group(horizontal=True):
            # The grip: drag it onto another track's to move this track there (the strips follow).
            self.grip = dpg.add_button(label="=", width=px(12), payload_type=TRACK_PAYLOAD,
                                       drop_callback=lambda s, dragged: app.drop_track(dragged, track))
            with dpg.drag_payload(parent=self.grip, payload_type=TRACK_PAYLOAD, drag_data=track):
                dpg.add_text(f"{owner.name}: drop on another track's = to move it there, on + track: last")
            with dpg.tooltip(self.grip):
                dpg.add_text("drag onto another track's = to move this track there")
            self.name = dpg.add_input_text(default_value=owner.name, width=self.inner - px(46 if narrow else 114),
                                           on_enter=True, callback=lambda s, v: app.rename_track(track, v))
            if not narrow:  # a narrow strip moves by its grip alone: the name needs the room
                dpg.add_button(label="<", width=px(18), callback=lambda: app.move_track(track, -1))
                dpg.add_button(label=">", width=px(18), callback=lambda: app.move_track(track, 1))
            dpg.add_button(label="x", width=px(18), callback=lambda: app.remove_track(track))
        mono = owner.channels == 1
        width = self.inner - px(TAKES_NARROW if narrow else TAKES_WIDTH) - px(8) - px(MONO_BOX + 6) * mono
        # A file's or an instrument's name is cut to the combo's text room (its arrow takes a square): any
        # choice not an input is the source the track has, so set_input reads a cut one as well as a whole one.
        room = width - px(ROW + 4)
        choices = list(INPUT_CHOICES) + ([cut(f"file: {owner.source.path.name}", room)]
                                         if hasattr(owner.source, "path") else [])
        choices += [cut(input_label(owner), room)] if owner.instrument is not None else []
        with dpg.group(horizontal=True):
            self.input = dpg.add_combo(choices + [OPEN_FILE], default_value=cut(input_label(owner), room), width=width,
                                       callback=lambda s, v: app.set_input(track, v))
            # A mono source: keep it mono through stereo-only plug-ins (their outputs summed back), or widen.
            self.keep_mono = dpg.add_checkbox(default_value=owner.keep_mono, show=mono,
                                              callback=lambda s, v: app.set_keep_mono(track, v))
            with dpg.tooltip(self.keep_mono):
                dpg.add_text("keep mono: stay mono through stereo-only plug-ins (off: widen there)")
            # Beside the source: the recorded takes, one click from playing one here (the Takes window).
            self.takes = dpg.add_button(label="tk" if narrow else "takes",
                                        width=px(TAKES_NARROW if narrow else TAKES_WIDTH),
                                        callback=lambda: app.open_takes(track))
        with dpg.tooltip(self.takes):
            dpg.add_text("this track's recorded takes: play one here, rename, delete")
        with dpg.tooltip(self.input):
            dpg.add_text(input_label(owner))
        self.routing = RoutingView(app, track, owner, app.session.busses, narrow=self.layout.narrow,
                                       width=self.inner)
        self.routing.build_output()

    def _switches(self, owner: Any) -> None:
        """Mute, solo, arm, monitor and abx in a row, then the audition switches. A narrow strip has the pan knob
        first, its value under it (a wide strip has its knob beside the fader), and beside it the switches in three
        rows: M S, R mon, abx (the knob, its value beside it and R mon abx in a row took 193 of its 134 pixels)."""
        app, track = self.app, self.track
        narrow = self.layout.narrow
        with dpg.group(horizontal=True):
            if narrow:  # the knob at the same place in every narrow strip, the switches at the same x after it
                self._pan_knob(owner)
            with dpg.group():
                with dpg.group(horizontal=True):
                    self.mute = dpg.add_checkbox(label="M", default_value=owner.mute,
                                                 callback=lambda s, v: app.set_mute(track, v))
                    with dpg.item_handler_registry() as handlers:
                        pass
                    self._control_menu(handlers, "mute", None)  # Learn MIDI (its automation is a lane's)
                    dpg.bind_item_handler_registry(self.mute, handlers)
                    self.solo = dpg.add_checkbox(label="S", default_value=owner.solo,
                                                 callback=lambda s, v: app.set_solo(track, v))
                    if not narrow:
                        self._record_switches(owner)
                        self._blind_button()
                if narrow:
                    if not self.is_bus:
                        with dpg.group(horizontal=True):
                            self._record_switches(owner)
                    self._blind_button()
        self._audition(owner)

    def _record_switches(self, owner: Any) -> None:
        """Arm and monitor: a track's (monitor where it has an input); a bus has none."""
        app, track = self.app, self.track
        if self.is_bus:
            return
        self.arm = dpg.add_checkbox(label="R", default_value=owner.armed, callback=lambda s, v: app.set_armed(track, v))
        self.monitor = dpg.add_checkbox(label="mon", default_value=owner.monitor, show=bool(owner.input),
                                        callback=lambda s, v: app.set_monitor(track, v))

    def _blind_button(self) -> None:
        self.blind = dpg.add_button(label="abx", width=px(30), callback=lambda: self.app.open_blind_test(self.track))
        with dpg.tooltip(self.blind):
            dpg.add_text("blind test: ABX or blind A/B between A and B, the chain and its input, or the chain with "
                         "and without a slot, scored with the chance of guessing it")

    def _pan_knob(self, owner: Any) -> None:
        """The pan knob with its value (C, L30, R100) under it."""
        with dpg.group():
            # Dear PyGui's knob follows sideways drags only, and coarsely: poll() moves it up/down and right/left.
            self.pan = dpg.add_knob_float(min_value=-1.0, max_value=1.0, default_value=owner.pan, width=px(36),
                                          callback=lambda s, v: self._pan_drag is None and self._pan_moved(v))
            self.pan_text = dpg.add_text(pan_text(owner.pan), color=MUTED)
        with dpg.tooltip(self.pan):
            dpg.add_text("pan: drag up or down; wheel (Ctrl: finer); double-click: centre; right-click: automate, "
                         "learn MIDI")
        self._release_seals(self.pan, lambda: self._pan_moved(0.0), "pan")

    def _audition(self, owner: Any) -> None:
        """``in`` (hear the input: bypass-compare), ``match`` (at the input's loudness), ``Δ`` and the offset."""
        audition = owner.audition
        with dpg.group(horizontal=True):
            # in and delta are one choice (the chain, its input, or what it changes): ticking one unticks the other.
            self.hear_input = dpg.add_checkbox(label="in", default_value=audition.shows_input,
                                               callback=lambda s, v: self._audition_set(
                                                   self.owner.audition.hearing_input(v)))
            narrow = self.layout.narrow
            # Matching on, the switch's label is the offset it plays at ("B +2.3"): seen without hovering.
            self.match = dpg.add_checkbox(label=match_label(audition, owner.ab.active, narrow),
                                          default_value=audition.match,
                                          callback=lambda s, v: self._audition_changed(match=v))
            # The window's font has no Greek: "delta" spelt out.
            self.delta = dpg.add_checkbox(label="dlt" if narrow else "delta", default_value=audition.delta,
                                          callback=lambda s, v: self._audition_set(
                                              self.owner.audition.hearing_delta(v)))
        # The whole of what plays ("A +0.0 dB", "slot 2 bypassed +1.0 dB"), where the pointer asks about matching.
        with dpg.tooltip(self.match):
            dpg.add_text("play the chain (A and B) at the input's loudness (BS.1770), so the louder side does not "
                         "win; off when level is the point; right-click: measure over the loop range or the last "
                         "seconds played. Now:", wrap=360)
            self.offset = dpg.add_text(audition.label(owner.ab.active), color=MUTED)
            self.match_over = dpg.add_text(f"measured {self.app.match_over_words(self.track)}", color=MUTED)
        with dpg.item_handler_registry() as handlers:
            pass
        app, track = self.app, self.track
        entries = [("match over the loop range", lambda: app.set_match_over(track, None))]
        entries += [(f"match over the last {seconds:g} s played",
                     lambda seconds=seconds: app.set_match_over(track, seconds)) for seconds in MATCH_SECONDS]
        entries.append(("measure again now", lambda: app.measure_audition(track, now=True)))
        self.menus["match"] = control_menu(handlers, entries)
        dpg.bind_item_handler_registry(self.match, handlers)
        heard = "the input" if not (self.is_bus or self.is_master) else "what feeds it (the mix)"
        tips = [(self.hear_input, f"hear {heard}, latency-aligned: the chain bypassed as a whole"),
                (self.delta, "delta: hear what the chain changes (its output minus its input)")]
        for item, tip in tips:
            with dpg.tooltip(item):
                dpg.add_text(tip)

    def _audition_changed(self, **change: Any) -> None:
        self._audition_set(replace(self.owner.audition, **change))

    def _audition_set(self, audition: Any) -> None:
        self.app.set_audition(self.track, audition)
        dpg.set_value(self.hear_input, audition.shows_input)
        dpg.set_value(self.delta, audition.delta)
        self._show_offset()

    def _show_offset(self) -> None:
        audition, active = self.owner.audition, self.owner.ab.active
        dpg.set_value(self.offset, audition.label(active))
        dpg.set_value(self.match_over, f"measured {self.app.match_over_words(self.track)}")
        dpg.configure_item(self.match, label=match_label(audition, active, self.layout.narrow))

    def _pan_moved(self, value: float) -> None:
        value = max(-1.0, min(1.0, round(float(value), 2)))
        dpg.set_value(self.pan, value)
        dpg.set_value(self.pan_text, pan_text(value))
        self.app.set_pan(self.track, value)

    def _console(self, owner: Any) -> None:
        """The fader and the meter side by side; :meth:`poll` stretches them to the height the strip has."""
        app, track = self.app, self.track
        narrow = self.layout.narrow
        self._console_height = 200
        with dpg.group(horizontal=True):
            if narrow or self.is_master:
                dpg.add_spacer(width=0 if narrow else max(0, (self.inner - px(120)) // 2))
            else:  # the pan knob beside the fader, at its top, as on a desk's channel; centred in a wide strip
                dpg.add_spacer(width=max(0, (self.inner - px(CONSOLE_WIDTH)) // 2))
                self._pan_knob(owner)
            with dpg.group():
                self.fader = Fader(owner.gain_db, width=px(64), height=self._console_height - px(ROW),
                                   changed=lambda db: self._gain_moved(db),
                                   ended=lambda: app.session.history.seal())
                self.gain = self.fader.drawlist
                self.gain_text = dpg.add_text(self.fader.text, indent=px(SCALE_WIDTH + 4))
            with dpg.tooltip(self.gain_text):
                dpg.add_text("fader: drag the cap (Ctrl: finer); wheel: 1 dB a notch (Ctrl: 0.1 dB); "
                             "double-click: 0 dB; right-click: automate, learn MIDI")
            with dpg.item_handler_registry() as handlers:
                dpg.add_item_double_clicked_handler(callback=lambda *_: self.fader.reset())
            self._control_menu(handlers, "gain", StripTarget("gain_db"))
            dpg.bind_item_handler_registry(self.gain, handlers)
            self.meter = MeterView(height=self._console_height, reset=lambda: app.reset_clips(track))

    def _gain_moved(self, db: float) -> None:
        dpg.set_value(self.gain_text, fader_text(db))
        self.app.set_gain(self.track, db)

    def poll(self) -> None:
        """Once a frame: follow a fader drag, and stretch the fader and meter to the strip's height."""
        self.fader.poll()
        self._follow_pan_drag()
        if self._pan_wheeled and not dpg.is_item_hovered(self.pan):
            self._pan_wheeled = False
            self.app.session.history.seal()  # the pointer left the knob: the wheel's burst is one undo step
        height = int(dpg.get_item_rect_size(self.console)[1])
        if height > 0 and height != self._console_height:
            self._console_height = height
            self.fader.resize(height - px(ROW))
            self.meter.resize(height)

    def _follow_pan_drag(self) -> None:
        """While the knob is held: up or right turns it right, down or left turns it left (Ctrl: finer)."""
        if not self.pan:
            return
        if not dpg.is_item_active(self.pan):
            if self._pan_drag is not None:
                self._pan_drag = None
                dpg.set_value(self.pan, self.owner.pan)  # the knob's own last sideways step, undone
            return
        x, y = dpg.get_mouse_pos(local=False)
        if self._pan_drag is None:
            self._pan_drag = (float(self.owner.pan), x, y)
        start, x0, y0 = self._pan_drag
        value = start + ((y0 - y) + (x - x0)) * PAN_DRAG / SCALE.factor * (FINE if ctrl_held() else 1.0)
        value = max(-1.0, min(1.0, round(value, 2)))
        if value != self.owner.pan:
            self._pan_moved(value)
        else:
            dpg.set_value(self.pan, value)

    def wheel(self, notches: float) -> bool:
        """The mouse wheel turned over this strip: the fader or the pan knob under the pointer moves."""
        if dpg.is_item_hovered(self.gain):
            self.fader.wheel(notches)
            return True
        if self.pan and dpg.is_item_hovered(self.pan):
            self._pan_moved(self.owner.pan + notches * PAN_WHEEL * (FINE if ctrl_held() else 1.0))
            self._pan_wheeled = True
            return True
        return False

    def _slot_row(self, index: int, slot: Any) -> None:
        app, track = self.app, self.track
        if isinstance(slot, Split):
            self._split_rows(index, slot)
            return
        with dpg.group(horizontal=True):
            box = dpg.add_checkbox(default_value=not slot.bypass, user_data=index,
                                   callback=lambda s, v, i: app.set_bypass(track, i, not v))
            button = dpg.add_button(label="", width=self.inner - px(SLOT_TOOLS), user_data=index,
                                    callback=lambda s, a, i: app.open_panel(track, i), payload_type=SLOT_PAYLOAD,
                                    drop_callback=self._drop_at(index))
            self.drops.draggable(button, SLOT_PAYLOAD, (track, index),
                                 f"{slot.name}: drop on a slot to put it there, on + plug-in to put it last, on a "
                                 f"split's branch (its row, or its window) to put it in that branch (Alt: a copy)")
            self.drops.target(button, f"before {slot.name} on {self.where}")
            with dpg.tooltip(button, show=False) as tip:
                tip_text = dpg.add_text("", wrap=420)
            dpg.add_button(label="^", width=px(12), user_data=index,
                           callback=lambda s, a, i: app.move_slot(track, i, -1))
            dpg.add_button(label="v", width=px(12), user_data=index,
                           callback=lambda s, a, i: app.move_slot(track, i, 1))
            dpg.add_button(label="x", width=px(12), user_data=index,
                           callback=lambda s, a, i: app.remove_slot(track, i))
        self.slots.append(box)
        self.slot_buttons.append(button)
        self.slot_tips.append((tip, tip_text))
        if slot.key is not None:  # what its detector hears, under it (the panel's key selector changes it)
            label = key_label(slot.key)
            self.key_labels[index] = dpg.add_text(cut(label, self.inner - px(24)), indent=px(24), color=MUTED)
            if dpg.get_value(self.key_labels[index]) != label:
                with dpg.tooltip(self.key_labels[index]):
                    dpg.add_text(label)
        self._show_sidechain(index, slot)
        if slot is app.selected_slot:
            dpg.bind_item_theme(button, SELECTED["slot"])

    def _drop_at(self, index: int | tuple[int, ...]) -> Any:
        """A drop callback that puts what is dropped at ``index``: Dear PyGui hands a drop callback the target's
        id and the payload's data, never the target's user_data, so the place is bound here."""
        return lambda sender, dragged: self._dropped(dragged, index)

    def _dropped(self, dragged: tuple[Any, int | tuple[int, ...]], index: int | tuple[int, ...] | None) -> None:
        """A slot (from a strip, or a split window's branch: a path) dragged here: before slot ``index`` (None: last;
        a path into a split's branch); Alt held: a copy, else it moves."""
        from_track, from_index = dragged
        self.app.drop_slot(from_track, from_index, self.track, index, copy=alt_held())

    def show_selection(self, selected: Any) -> None:
        """Mark the selected slot's name (Delete removes it), if it is in this strip's chain."""
        for button, slot in zip(self.slot_buttons, self.owner.chain):
            dpg.bind_item_theme(button, SELECTED["slot"] if slot is selected else 0)

    def _split_rows(self, index: int, split: Split) -> None:
        """A split slot: its own row (bypass, move, remove), then each branch nested under it, with its
        level (dragged: one undo step) and its plug-ins."""
        app, track = self.app, self.track
        with dpg.group(horizontal=True):
            box = dpg.add_checkbox(default_value=not split.bypass, user_data=index,
                                   callback=lambda s, v, i: app.set_bypass(track, i, not v))
            button = dpg.add_button(label=split.name, width=self.inner - px(SLOT_TOOLS), payload_type=SLOT_PAYLOAD,
                                    drop_callback=self._drop_at(index), user_data=index,
                                    callback=lambda s, a, i: app.open_split(track, i))
            self.drops.draggable(button, SLOT_PAYLOAD, (track, index),
                                 f"{split.name}: drop on a slot to put it there, on + plug-in to put it last, on "
                                 f"another split's branch to nest it there")
            self.drops.target(button, f"before {split.name} on {self.where}")
            with dpg.tooltip(button, show=False) as tip:
                tip_text = dpg.add_text("", wrap=420)
            dpg.add_button(label="^", width=px(12), user_data=index,
                           callback=lambda s, a, i: app.move_slot(track, i, -1))
            dpg.add_button(label="v", width=px(12), user_data=index,
                           callback=lambda s, a, i: app.move_slot(track, i, 1))
            dpg.add_button(label="x", width=px(12), user_data=index,
                           callback=lambda s, a, i: app.remove_slot(track, i))
        self.slots.append(box)
        self.slot_buttons.append(button)
        self.slot_tips.append((tip, tip_text))
        levels = []
        for k, branch in enumerate(split.branches):
            with dpg.group(horizontal=True, indent=px(24)):
                level = max(branch.level_db, BRANCH_FLOOR_DB)
                levels.append(dpg.add_drag_float(default_value=level, min_value=BRANCH_FLOOR_DB,
                                                 max_value=MAX_BRANCH_LEVEL_DB, speed=0.1, width=px(56),
                                                 format="%.1f dB", user_data=(index, k),
                                                 callback=lambda s, v, u: app.set_branch_level(track, u[0], u[1], v)))
                names = ", ".join(s.name for s in branch.chain) or "dry"
                # A slot dropped on a branch's row goes last in that branch (into the split from the chain).
                shown = dpg.add_text(cut(names, self.inner - px(86)), color=MUTED, payload_type=SLOT_PAYLOAD,
                                     drop_callback=self._drop_at((index, k, len(branch.chain))))
                self.drops.target(shown, f"last in branch {k + 1} of {split.name} on {self.where}")
                if dpg.get_value(shown) != names:
                    with dpg.tooltip(shown):
                        dpg.add_text(names, wrap=360)
        self.branch_levels[index] = levels
        for item in levels:
            with dpg.item_handler_registry() as handlers:
                dpg.add_item_deactivated_after_edit_handler(callback=lambda *_: app.session.history.seal())
            dpg.bind_item_handler_registry(item, handlers)
        self._show_sidechain(index, split)

    def _show_sidechain(self, index: int, slot: Any) -> None:
        """Mark a slot that cannot do its job and say why when hovered: a plug-in not installed or
        refused after its probe failed, or a sidechain switch that is on with nothing feeding its key
        (for a split: any plug-in in its branches). A name cut to fit is given whole in the tooltip."""
        where = strip_where(self.owner, self.track)
        reasons = []
        for inner in slot.slots() if isinstance(slot, Split) else (slot,):
            note = sidechain_note(inner)
            if isinstance(inner.plugin, MissingPlugin):
                reasons.append(inner.plugin.note)
            elif note:
                reasons.append(f"{where}: {note}")
        why = "\n".join(reasons) or None
        label = slot.name + (f" {slot.mix:.0%}" if getattr(slot, "mix", 1.0) < 1 else "")
        label += " delta" if getattr(slot, "delta", False) else ""
        short, whole = self.reductions.get(index, ("", None))
        marked = (f"! {label}" if why else label) + short
        shown = cut(marked, self.inner - px(SLOT_TOOLS))
        full = label if shown != marked else None
        tip, text = self.slot_tips[index]
        opens = "click: its branches, their levels and plug-ins, in a window" if isinstance(slot, Split) else None
        dpg.set_value(text, "\n".join(line for line in (full, whole, why, opens) if line))
        dpg.configure_item(tip, show=bool(full or why or whole or opens))
        dpg.configure_item(self.slot_buttons[index], label=shown)

    def show_reductions(self, reductions: dict[int, tuple[str, str]]) -> None:
        """Show each slot's gain reduction after its name (slot index -> (short, whole)); {} clears them."""
        if reductions == self.reductions:
            return
        changed = set(reductions) | set(self.reductions)
        self.reductions = dict(reductions)
        for index, slot in enumerate(self.owner.chain):
            if index in changed and index < len(self.slot_tips):
                self._show_sidechain(index, slot)

    def _release_seals(self, item: int, reset: Any, learn: str) -> None:
        """Letting go of a control ends its undo step; a double-click puts it back; right-click: automate, learn
        MIDI. The fader seals its own gestures."""
        with dpg.item_handler_registry() as handlers:
            dpg.add_item_deactivated_handler(callback=lambda *_: self.app.session.history.seal())
            dpg.add_item_double_clicked_handler(callback=lambda *_: (reset(), self.app.session.history.seal()))
        self._control_menu(handlers, learn, StripTarget(learn) if learn == "pan" else None)
        dpg.bind_item_handler_registry(item, handlers)

    def _control_menu(self, handlers: int, learn: str, automate: StripTarget | None) -> None:
        """Right-click on a control: Automate (its lane) and Learn MIDI (a track's, a bus's or the master's)."""
        app, track = self.app, self.track
        entries = [("Automate", lambda: app.open_lane(track, automate))] if automate is not None else []
        target = learn_target(track, learn)
        entries.append(("Learn MIDI", lambda: app.learn_midi(target)))
        self.menus[learn] = control_menu(handlers, entries)

    def show_automation(self) -> None:
        """The fader's and pan's readouts turn amber while an envelope moves them (and say so)."""
        moved = automated_targets(self.owner)
        dpg.configure_item(self.gain_text, color=AUTOMATED if "gain_db" in moved else (-255, 0, 0, 255))
        if self.pan_text:
            dpg.configure_item(self.pan_text, color=AUTOMATED if "pan" in moved else MUTED)
        for bus, row in (self.routing.sends if self.routing is not None else {}).items():
            mark_automated(row.level, f"send:{bus}" in moved)
            mark_automated(row.value, f"send:{bus}" in moved)  # the level's words, above the slider

    def refresh(self) -> None:
        """Show the model's values (a controller or another view changed them)."""
        owner = self.owner
        self.show_automation()
        for index, (box, slot) in enumerate(zip(self.slots, owner.chain)):
            dpg.set_value(box, not slot.bypass)
            self._show_sidechain(index, slot)
            for item, branch in zip(self.branch_levels.get(index, ()), getattr(slot, "branches", ())):
                if not dpg.is_item_active(item):
                    dpg.set_value(item, max(branch.level_db, BRANCH_FLOOR_DB))
        self.fader.show(owner.gain_db)
        dpg.set_value(self.gain_text, self.fader.text)
        if not self.is_master:
            if not dpg.is_item_active(self.pan):
                dpg.set_value(self.pan, owner.pan)
                dpg.set_value(self.pan_text, pan_text(owner.pan))
            dpg.set_value(self.mute, owner.mute)
        audition = owner.audition
        dpg.set_value(self.hear_input, audition.shows_input)
        dpg.set_value(self.match, audition.match)
        dpg.set_value(self.delta, audition.delta)
        self._show_offset()
        if self.routing is not None:
            self.routing.refresh(owner)

    def _readout_text(self, hold: float, rms: float) -> str:
        if self.layout.narrow:  # 18 characters, fixed: "pk -14.4 rms -26.2" (no "dBFS": it would not fit)
            return f"pk {narrow_level_text(hold)} rms {narrow_level_text(rms)}"
        return f"pk {level_text(hold)}  rms {level_text(rms)} dBFS"

    def show_levels(self, row: Any) -> None:
        """``row``: (2 channels, [peak, rms, peak hold, clip]) from the engine's meters."""
        self.meter.show(row)
        hold = max(float(row[0][2]), float(row[1][2]))
        rms = max(float(row[0][1]), float(row[1][1]))
        dpg.set_value(self.readout, self._readout_text(hold, rms))
        dpg.configure_item(self.readout, color=CLIP if hold >= 1.0 else MUTED)

    def show_silence(self) -> None:
        """No engine: every level -inf, no clip (a dead engine's last levels are not left standing)."""
        self.show_levels([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
        if self.is_master:
            self.show_loudness({})

    def show_loudness(self, stats: dict) -> None:
        """The master's momentary, short-term and integrated loudness and true peak, when the engine has them."""
        if self.loudness is not None:
            self.loudness.show(stats)
