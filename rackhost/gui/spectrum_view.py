"""The spectrum view: one strip before and after its chain, live, with peak hold and the chain's estimated GR.

Each slot of the watched chain shows its gain reduction after its name: what a keyed slot's plug-in reports, else
estimated from the slot's input and output levels (``~``, "est."). The engine only copies the watched strip's frames (a
:class:`~rackhost.live.commands.WatchSpectrum` says which; closing the view sends
:class:`~rackhost.live.commands.UnwatchSpectrum`, and the audio thread then taps
nothing). The FFT, 1/6-octave smoothing and peak hold run here, in the window's
process, with :func:`rackhost.chain.spectrum.live_spectrum`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg
import numpy as np

from rackhost.chain.spectrum import (PeakHold, Spectrum, estimated_gain_reduction_db, live_spectrum, reduction_figure,
                                     reduction_text)
from rackhost.gui.dialogs import DialogView
from rackhost.gui.theme import ACCENT, MUTED, WARNING
from rackhost.live.commands import BusRow, UnwatchSpectrum, WatchSpectrum
from rackhost.live.spectrum_tap import SlotReduction

if TYPE_CHECKING:
    from rackhost.gui.host import SpectrumHost

MASTER = "master"
FLOOR_DB = -110.0
TOP_DB = 6.0
ANALYSE_SECONDS = 1 / 15  # the engine publishes the frames this often: analysing more often shows nothing new
PRE = (150, 156, 168)
HOLD = (*WARNING, 200)
# The peak hold is a tinted area from the floor up to it, under the curves: a steady tone's hold lies exactly on the
# live curve, where a line of its own vanished under the blue one; the area shows whatever the curve does.
HOLD_FILL = (*WARNING, 70)
LINE_WEIGHTS = {"pre": 1.0, "post": 2.0, "hold": 1.0}


class SpectrumView(DialogView):
    """A window plotting a strip's spectrum pre and post its chain; ``strip`` a track's index or None (master)."""

    TITLE = "Spectrum"
    WIDTH, HEIGHT = 900, 520

    def __init__(self, app: SpectrumHost, strip: int | BusRow | None = None):
        self.app = app
        self.strip = strip
        self.hold = PeakHold()
        self.curves: dict[str, Spectrum] = {}  # "pre", "post": the last analysis drawn (tests read it)
        self.held_db: np.ndarray | None = None
        self.gain_reduction_db: float | None = None
        self.reductions: list[SlotReduction] = []  # per stage of the watched chain, as the engine published them
        self._engine: object = None  # the engine told to watch: a restarted engine must be told again
        self._analysed_at = 0.0
        with dpg.window(label=self.TITLE, width=self.WIDTH, height=self.HEIGHT, on_close=self.close) as self.window:
            with dpg.group(horizontal=True):
                dpg.add_text("Strip")
                self.choice = dpg.add_combo(self._choices(), default_value=self._label(strip), width=220,
                                            callback=lambda s, v: self.watch(self._strip_of(v)))
                self.readout = dpg.add_text("", color=WARNING)
                with dpg.tooltip(self.readout):
                    dpg.add_text("How much quieter the chain's output is than its input (RMS over the last 170 ms): "
                                 "an estimate, since pedalboard does not report a plug-in's own gain reduction; "
                                 "make-up gain and EQ in the chain count too. A chain that makes it louder reads "
                                 "as a gain: 'chain gain ~+3.9 dB est.'.", wrap=360)
            with dpg.plot(height=-28, width=-1) as self.plot:
                dpg.add_plot_legend()
                self.x_axis = dpg.add_plot_axis(dpg.mvXAxis, label="Hz", scale=dpg.mvPlotScale_Log10)
                dpg.set_axis_limits(self.x_axis, 20, 20000)
                with dpg.plot_axis(dpg.mvYAxis, label="dB") as self.y_axis:
                    self.series = {  # drawn in this order: the live curves on top of the peak hold
                        "fill": dpg.add_shade_series([], [], y2=[], label="post peak hold"),
                        "hold": dpg.add_line_series([], [], label="##post peak hold line"),
                        "pre": dpg.add_line_series([], [], label="pre (chain input)"),
                        "post": dpg.add_line_series([], [], label="post (chain output)"),
                    }
                dpg.set_axis_limits(self.y_axis, FLOOR_DB, TOP_DB)
            with dpg.group(horizontal=True):
                self.status = dpg.add_text("1/6-octave smoothing; dB relative to a full-scale sine.", color=MUTED)
                self.slots_text = dpg.add_text("", color=WARNING)
        for name, colour in (("pre", PRE), ("post", ACCENT), ("hold", HOLD)):
            with dpg.theme() as theme:
                with dpg.theme_component(dpg.mvLineSeries):
                    dpg.add_theme_color(dpg.mvPlotCol_Line, colour, category=dpg.mvThemeCat_Plots)
                    dpg.add_theme_style(dpg.mvPlotStyleVar_LineWeight, LINE_WEIGHTS[name],
                                        category=dpg.mvThemeCat_Plots)
            dpg.bind_item_theme(self.series[name], theme)
        with dpg.theme() as theme, dpg.theme_component(dpg.mvShadeSeries):
            dpg.add_theme_color(dpg.mvPlotCol_Fill, HOLD_FILL, category=dpg.mvThemeCat_Plots)
            dpg.add_theme_color(dpg.mvPlotCol_Line, HOLD_FILL, category=dpg.mvThemeCat_Plots)
        dpg.bind_item_theme(self.series["fill"], theme)
        self.watch(strip)

    # -- which strip ----------------------------------------------------------------------

    def _strips(self) -> list[int | BusRow | None]:
        session = self.app.session
        return [None, *range(len(session.tracks)), *(BusRow(k) for k in range(len(session.busses)))]

    def _label(self, strip: int | BusRow | None) -> str:
        session = self.app.session
        if strip is None:
            return MASTER
        if isinstance(strip, BusRow):
            return f"bus: {session.busses[strip.index].name}"
        return f"{strip + 1}: {session.tracks[strip].name}"

    def _choices(self) -> list[str]:
        return [self._label(strip) for strip in self._strips()]

    def _strip_of(self, label: str) -> int | BusRow | None:
        return self._strips()[self._choices().index(label)]

    def has(self, strip: int | BusRow | None) -> bool:
        """Whether the session still has ``strip`` (after an edit)."""
        return strip in self._strips()

    def watch(self, strip: int | BusRow | None) -> None:
        """Show ``strip`` (a track's index, a bus's ``BusRow``, None for the master): the engine taps it from its
        next block."""
        self.strip = strip
        self.hold.reset()
        self.curves, self.held_db, self.gain_reduction_db, self.reductions = {}, None, None, []
        dpg.configure_item(self.choice, items=self._choices())
        dpg.set_value(self.choice, self._label(strip))
        self._engine = None
        self._tell_engine()

    def follow(self, strip: int | BusRow | None) -> None:
        """The strip watched is at ``strip`` now (tracks moved or removed): the engine follows it by name at its
        resync, so nothing is sent and the peak hold stays; the menu says the new order."""
        self.strip = strip
        dpg.configure_item(self.choice, items=self._choices())
        dpg.set_value(self.choice, self._label(strip))

    def _tell_engine(self) -> None:
        engine = self.app.engine
        if engine is not None and engine.alive and engine is not self._engine:
            engine.send(WatchSpectrum(self.strip))
            self._engine = engine

    # -- each frame -----------------------------------------------------------------------------

    def poll(self) -> bool:
        """Analyse the engine's newest frames and draw them; False once the window is closed."""
        if not dpg.does_item_exist(self.window):
            return False
        self._tell_engine()
        now = time.monotonic()
        engine = self._engine
        if engine is None or now - self._analysed_at < ANALYSE_SECONDS:
            return True
        got = engine.spectrum_frames()
        if got is None or got[0] != self.strip:
            return True  # the engine has not taken the command yet
        elapsed = now - self._analysed_at if self._analysed_at else 0.0
        self._analysed_at = now
        self.show(got[1], self.app.session.sample_rate, elapsed)
        self.reductions = engine.slot_reductions()
        dpg.set_value(self.slots_text, self._slots_line())
        return True

    def slot_labels(self) -> dict[int, tuple[str, str]]:
        """Slot index -> (short, whole) gain reduction of each stage, on its first slot, for the strip to show."""
        out = {}
        for reduction in self.reductions:
            short = f" {'' if reduction.reported else '~'}{reduction_figure(reduction.db, 0)}"  # " ~+4": a gain
            whole = reduction.label + ("" if reduction.reported else
                                       " (from its input and output levels: the plug-in reports none)")
            if len(reduction.slots) > 1:
                whole += f"; slots {reduction.slots[0] + 1}-{reduction.slots[-1] + 1} together (they run as one stage)"
            out[reduction.slots[0]] = (short, whole)
        return out

    def _slots_line(self) -> str:
        session, strip = self.app.session, self.strip
        owner = (session.master if strip is None else session.busses[strip.index] if isinstance(strip, BusRow)
                 else session.tracks[strip]) if self.has(strip) else None
        chain = list(owner.chain) if owner is not None else []
        parts = []
        for reduction in self.reductions:
            names = " + ".join(chain[k].name for k in reduction.slots if k < len(chain))
            parts.append(f"{names}: {reduction.label}")
        return "   ".join(parts)

    def show(self, frames: np.ndarray, sample_rate: float, elapsed: float = 0.0) -> None:
        """Draw (2 [pre, post], n) frames: both curves, the post curve's peak hold, the estimated GR."""
        pre, post = live_spectrum(frames[0], sample_rate), live_spectrum(frames[1], sample_rate)
        self.curves = {"pre": pre, "post": post}
        self.held_db = self.hold.update(post.level_db, elapsed)
        x = pre.frequencies_hz.tolist()
        for name, level in (("pre", pre.level_db), ("post", post.level_db), ("hold", self.held_db)):
            dpg.set_value(self.series[name], [x, np.maximum(level, FLOOR_DB - 10).tolist()])
        dpg.set_value(self.series["fill"], [x, np.maximum(self.held_db, FLOOR_DB - 10).tolist(),
                                            [FLOOR_DB - 10.0] * len(x)])
        self.gain_reduction_db = estimated_gain_reduction_db(frames[0], frames[1])
        reduction = self.gain_reduction_db
        dpg.set_value(self.readout, "" if reduction is None else f"chain {reduction_text(reduction)}")

    def close(self) -> None:
        engine = self.app.engine
        if engine is not None and engine.alive:
            engine.send(UnwatchSpectrum())
        self._engine = None
        super().close()
