"""Render (bounce) the session to a file: format, bit depth, an optional loudness target, progress, the report.

The render runs on a worker thread through ``render_to_file(session, ...)`` (which
steers onto the master's loudness target when it has one, see
:mod:`rackhost.chain.mastering`); the frame loop shows its progress. Cancel
stops it at the next segment: the progress callback raises, the render
unwinds and no file is written. The window is modal while it is open, so the
rack cannot change the session under the render. Afterwards the written file
is read back and measured: peak, true peak, integrated loudness, and its
short-term and momentary loudness over time in a plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg
import numpy as np
import soundfile as sf

from rackhost.chain import Session
from rackhost.chain.loudness import LoudnessReport, loudness_over_time, measure
from rackhost.chain.master import LoudnessTarget
from rackhost.chain.plugin import Plugin
from rackhost.chain.render import RenderResult, output_subtype, render_to_file
from rackhost.chain.target import GAIN_SLOT_NAME, final_limiter
from rackhost.errors import RackhostError
from rackhost.gui.background import Task, poll_while_visible
from rackhost.gui.dialogs import WARNING, DialogView, centre
from rackhost.gui.theme import ACCENT, CLIP, METER, MUTED

if TYPE_CHECKING:
    from rackhost.gui.host import RenderHost

WIDTH, HEIGHT = 820, 660
EXTENSIONS = {"WAV": ".wav", "FLAC": ".flac", "AIFF": ".aiff"}
DEPTHS = {"WAV": ["16", "24", "32 float"], "FLAC": ["16", "24"], "AIFF": ["16", "24", "32 float"]}
PLOT_FLOOR_LUFS = -70.0
HOP_SECONDS = 0.1


@dataclass
class Bounce:
    """What a finished render left: the result, and the written file measured."""

    result: RenderResult
    report: LoudnessReport
    times: np.ndarray
    short_term: np.ndarray
    momentary: np.ndarray


def bounce(session: Session, path: Path, bit_depth: int, task: Task) -> Bounce:
    """The worker's part: render, write, read the file back and measure it."""
    result = render_to_file(session, path, bit_depth=bit_depth, progress=task.progress)
    task.message = "measuring the file..."
    audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
    audio = audio.T
    times, short_term = loudness_over_time(audio, rate, 3.0, HOP_SECONDS)
    _, momentary = loudness_over_time(audio, rate, 0.4, HOP_SECONDS)
    return Bounce(result, measure(audio, rate), times, short_term, momentary)


class RenderDialog(DialogView):
    """A modal window: where and how to write the mix, Render/Cancel, progress, then the report and plot."""

    TITLE = "Render / bounce"

    def __init__(self, app: RenderHost):
        self.app = app
        self.task: Task | None = None
        self.bounced: Bounce | None = None
        self._replace: Path | None = None  # an existing file the user said to replace
        self._build()

    # -- building -----------------------------------------------------------------------

    def _build(self) -> None:
        target = self.app.session.master.loudness_target
        with dpg.window(label=self.TITLE, modal=True, width=WIDTH, height=HEIGHT, no_collapse=True,
                        on_close=lambda *_: self.close()) as self.window:
            with dpg.group(horizontal=True):
                dpg.add_text("Output   ")
                self.path = dpg.add_input_text(default_value=str(self._default_path()), width=-110)
                dpg.add_button(label="Browse...", width=100, callback=lambda *_: self._browse())
            with dpg.group(horizontal=True):
                dpg.add_text("Format   ")
                self.format = dpg.add_combo(list(EXTENSIONS), default_value="WAV", width=100,
                                            callback=lambda *_: self._format_chosen())
                dpg.add_text("  Bit depth")
                self.depth = dpg.add_combo(DEPTHS["WAV"], default_value="24", width=110)
            with dpg.group(horizontal=True):
                self.use_target = dpg.add_checkbox(label="Render to a loudness target:",
                                                   default_value=target is not None)
                self.lufs = dpg.add_input_float(label="LUFS", width=110, step=0.5, format="%.1f",
                                                default_value=target.integrated_lufs if target else -14.0)
                dpg.add_text("   true peak ceiling")
                self.ceiling = dpg.add_input_float(label="dBTP", width=110, step=0.1, format="%.1f",
                                                   default_value=target.true_peak_dbtp if target else -1.0)
            dpg.add_text("A loudness target renders a few passes, steering the gain before the master's final "
                         "limiter; it is saved with the session (Edit > Undo takes it back). The render leaves the "
                         "chain as it is: Keep gain puts the gain it found into the master, as an undoable step.",
                         color=MUTED, wrap=780)
            with dpg.group(horizontal=True):
                self.render_button = dpg.add_button(label="Render", width=100, callback=lambda *_: self.render())
                self.cancel_button = dpg.add_button(label="Cancel", width=100, enabled=False,
                                                    callback=lambda *_: self.cancel())
                dpg.add_button(label="Close", width=100, callback=lambda *_: self.close())
                self.keep_button = dpg.add_button(label="Keep gain", width=100, enabled=False,
                                                  callback=lambda *_: self.keep_gain())
                self.progress = dpg.add_progress_bar(default_value=0.0, width=-1, overlay="")
            self.status = dpg.add_text("", wrap=780)
            dpg.add_separator()
            with dpg.group(horizontal=True):
                with dpg.group(width=330):
                    dpg.add_text("Loudness report", color=ACCENT)
                    self.report = dpg.add_text("(render to see the report)", color=MUTED)
                with dpg.plot(label="Loudness over time", height=-1, width=-1, no_menus=True,
                              no_mouse_pos=True) as self.plot:
                    dpg.add_plot_legend(location=dpg.mvPlot_Location_SouthWest)  # a tail falls away on the right
                    self.x_axis = dpg.add_plot_axis(dpg.mvXAxis, label="time (s)")
                    with dpg.plot_axis(dpg.mvYAxis, label="LUFS") as self.y_axis:
                        self.short_series = dpg.add_line_series([], [], label="short-term (3 s)")
                        self.momentary_series = dpg.add_line_series([], [], label="momentary (0.4 s)")
                        self.integrated_line = dpg.add_inf_line_series([], label="integrated", horizontal=True)
        dpg.set_axis_limits(self.y_axis, -60.0, 0.0)  # a LUFS scale before there is anything to show
        poll_while_visible(self.window, self.poll)
        centre(self.window, WIDTH, HEIGHT)

    def _default_path(self) -> Path:
        session_path = self.app.session_path
        if session_path is not None:
            return session_path.with_name(f"{session_path.stem}-mix.wav")
        return Path.cwd() / "mix.wav"

    def _format_chosen(self) -> None:
        fmt = dpg.get_value(self.format)
        path = Path(dpg.get_value(self.path))
        dpg.set_value(self.path, str(path.with_suffix(EXTENSIONS[fmt])))
        depths = DEPTHS[fmt]
        dpg.configure_item(self.depth, items=depths)
        if dpg.get_value(self.depth) not in depths:
            dpg.set_value(self.depth, "24")

    def _browse(self) -> None:
        folder = Path(dpg.get_value(self.path)).expanduser().parent
        with dpg.file_dialog(label="Render to", directory_selector=False, modal=True, width=700, height=420,
                             default_path=str(folder if folder.is_dir() else Path.cwd()),
                             default_filename=Path(dpg.get_value(self.path)).stem,
                             callback=self._browsed, cancel_callback=lambda s, *_: dpg.delete_item(s)) as dialog:
            ext = EXTENSIONS[dpg.get_value(self.format)]
            dpg.add_file_extension(ext, color=ACCENT)
        self._dialog = dialog

    def _browsed(self, sender: int, data: dict, *_: object) -> None:
        chosen = data.get("file_path_name") if isinstance(data, dict) else None
        if chosen:
            dpg.set_value(self.path, chosen)
        dpg.delete_item(sender)

    # -- rendering ----------------------------------------------------------------------

    def render(self) -> Task | None:
        """Check the choices here (fast), then render on a worker; errors go in the window."""
        if self.task is not None:
            return None
        path = Path(dpg.get_value(self.path).strip()).expanduser()
        fmt = dpg.get_value(self.format)
        bit_depth = int(dpg.get_value(self.depth).split()[0])
        if path.suffix.lower() not in (".aif",) + tuple(EXTENSIONS.values()):
            path = path.with_suffix(EXTENSIONS[fmt])
            dpg.set_value(self.path, str(path))
        try:
            output_subtype(path, bit_depth)  # format, depth and folder, before any slow work
            if dpg.get_value(self.use_target):
                final_limiter(self.app.session.master.chain)  # a target needs a limiter to steer
        except (RackhostError, ValueError) as err:
            self._say(str(err), CLIP)
            return None
        if path.exists() and path != self._replace:
            self._replace = path  # the next Render with the same path replaces it
            self._say(f"{path} exists: press Render again to replace it", WARNING)
            return None
        self._replace = None
        self._apply_target()
        session = self.app.session
        self.bounced = None
        dpg.configure_item(self.keep_button, enabled=False)
        self.task = Task(lambda task: bounce(session, path, bit_depth, task), name="rackhost-render")
        self._target_used = session.master.loudness_target is not None
        dpg.configure_item(self.render_button, enabled=False)
        dpg.configure_item(self.cancel_button, enabled=True)
        dpg.set_value(self.progress, 0.0)
        self._say(f"rendering {path.name}..." + (" (to the loudness target: a few passes)"
                                                  if self._target_used else ""), MUTED)
        return self.task

    def _apply_target(self) -> None:
        """The dialog's loudness target onto the master through the editor, as one undo step.

        With a target, the Gain slot the render steers (just before the final
        limiter) is put in here, through the editor too, so undo takes it out
        again; otherwise the render would add it on its own, outside the history.
        """
        session = self.app.session
        master, edit = session.master, session.edit
        wanted = None
        if dpg.get_value(self.use_target):
            wanted = LoudnessTarget(float(dpg.get_value(self.lufs)), float(dpg.get_value(self.ceiling)))
        with session.history.group("loudness target"):
            if wanted != master.loudness_target:
                edit.set_loudness_target(master, wanted)
            if wanted is not None:
                limiter, _ = final_limiter(master.chain)
                before = master.chain[limiter - 1] if limiter > 0 else None
                if before is None or before.name != GAIN_SLOT_NAME or before.bypass:
                    edit.add_slot(master.chain, Plugin.builtin(GAIN_SLOT_NAME, gain_db=0.0), limiter)

    def keep_gain(self) -> bool:
        """Put the gain and ceiling the last targeted render found into the master chain (one undo step)."""
        result = self.bounced.result if self.bounced is not None else None
        if result is None or result.target_report is None:
            return False
        session = self.app.session
        try:
            session.edit.keep_target_gain(session.master, result.target_report)
        except RackhostError as err:  # the chain changed since (no final limiter any more)
            self._say(str(err), CLIP)
            return False
        report = result.target_report
        dpg.configure_item(self.keep_button, enabled=False)
        self.app.structure_changed()
        self._say(f"kept: gain before the limiter {report.gain_db:+.2f} dB, ceiling {report.ceiling_db:.2f} dB "
                  f"(Edit > Undo takes it back)", METER)
        return True

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            dpg.configure_item(self.cancel_button, enabled=False)
            self._say("cancelling...", MUTED)

    def poll(self) -> None:
        """Once a frame: progress, then the outcome."""
        task = self.task
        if task is None:
            return
        dpg.set_value(self.progress, task.fraction)
        dpg.configure_item(self.progress, overlay=task.message or f"{task.fraction:.0%}")
        if not task.done:
            return
        self.task = None
        dpg.configure_item(self.render_button, enabled=True)
        dpg.configure_item(self.cancel_button, enabled=False)
        if self._target_used:
            self.app.structure_changed()  # _apply_target may have put a Gain slot before the limiter
        if task.cancelled:
            dpg.set_value(self.progress, 0.0)
            dpg.configure_item(self.progress, overlay="")
            self._say("cancelled: nothing was written", MUTED)
            return
        if task.error is not None:
            dpg.configure_item(self.progress, overlay="failed")
            error = task.error
            text = str(error) if isinstance(error, RackhostError) else f"{type(error).__name__}: {error}"
            self._say(f"render failed: {text}", CLIP)
            return
        self.show(task.result)

    def show(self, bounced: Bounce) -> None:
        self.bounced = bounced
        if bounced.result.path is not None:
            self.app.last_render = bounced.result.path  # the timeline shows it when there are no file tracks
        result, report = bounced.result, bounced.report
        dpg.set_value(self.progress, 1.0)
        dpg.configure_item(self.progress, overlay="done")
        lines = [f"file             {result.path.name if result.path else ''}", *report.lines()]
        if result.target_report is not None:
            target = result.target_report
            lines += ["", f"target           {target.target.integrated_lufs:.1f} LUFS, "
                          f"<= {target.target.true_peak_dbtp:.1f} dBTP",
                      f"                 {'reached' if target.within else 'MISSED'} in {target.passes} passes"]
        if result.clipped_samples:
            lines += ["", f"{result.clipped_samples} samples clipped (over 0 dBFS); lower the master or use 32 float"]
        dpg.configure_item(self.keep_button, enabled=result.target_report is not None)
        dpg.set_value(self.report, "\n".join(lines))
        dpg.configure_item(self.report, color=None)
        notes = "; ".join(result.notes)
        self._say(f"wrote {result.path} ({result.seconds:.2f} s)" + (f"  notes: {notes}" if notes else ""), METER)
        times = bounced.times.tolist()
        dpg.set_value(self.short_series, [times, _floored(bounced.short_term)])
        dpg.set_value(self.momentary_series, [times, _floored(bounced.momentary)])
        lufs = report.integrated_lufs
        dpg.set_value(self.integrated_line, [[lufs] if lufs is not None and math.isfinite(lufs) else []])
        dpg.fit_axis_data(self.x_axis)
        top = max([PLOT_FLOOR_LUFS + 10, *_floored(bounced.short_term), *_floored(bounced.momentary)])
        dpg.set_axis_limits(self.y_axis, PLOT_FLOOR_LUFS if top < -40 else max(PLOT_FLOOR_LUFS, top - 40), top + 3)

    # -- helpers ------------------------------------------------------------------------

    @property
    def report_text(self) -> str:
        return dpg.get_value(self.report)


def _floored(values: np.ndarray) -> list[float]:
    return np.maximum(np.nan_to_num(values, neginf=PLOT_FLOOR_LUFS), PLOT_FLOOR_LUFS).tolist()

