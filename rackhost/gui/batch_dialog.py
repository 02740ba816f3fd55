"""Batch: many files through one chain (a preset, the master's or a track's), to a loudness target, on every core.

Go writes the chosen chain as a preset file into the output folder (so the
folder records what its files went through, and a run again with the same
chain skips what is done), then runs :func:`rackhost.chain.batch.batch` (what
``rackhost batch`` runs) on a worker thread; the batch's processes do the
rendering. The dialog keeps nothing that matters: the manifest in the output
folder is the batch's state. The frame loop polls the batch's summary for
progress and fills the table of results as files end. Cancel stops the
workers within a tenth of a second: the files that ended are kept in the
manifest, the ones in flight leave nothing, and Go again picks up the rest. Mistakes a user can fix
(no input files, an output folder that cannot be written) are shown in the
window.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from rackhost.chain.batch import (
    MANIFEST_NAME,
    BatchError,
    BatchSummary,
    FileRecord,
    RenderOptions,
    batch,
    prepare,
)
from rackhost.errors import RackhostError
from rackhost.gui.background import Task, poll_while_visible
from rackhost.gui.dialogs import WARNING, DialogView, centre
from rackhost.gui.theme import ACCENT, CLIP, METER, MUTED
from rackhost.presets.apply import preset_from
from rackhost.presets.batch import SessionRecipe
from rackhost.presets.preset import Preset
from rackhost.presets.preset_file import write_preset
from rackhost.presets.store import PresetStore

if TYPE_CHECKING:
    from rackhost.gui.host import BatchHost

WIDTH, HEIGHT = 1000, 700
CHAIN_FILE = "rackhost-batch-chain.json"  # the chain the folder's files went through, as a preset
TYPED = "other (type it):"
LOUDNESS = {"off": None, "-14 LUFS (streaming)": -14.0, "-16 LUFS (podcast)": -16.0, "-23 LUFS (EBU R128)": -23.0,
            TYPED: None}
COLUMNS = (("File", 1.5), ("Status", 0.6), ("LUFS in", 0.6), ("LUFS out", 0.6), ("TP out dBTP", 0.75),
           ("Secs", 0.5), ("Reason / notes", 3.6))
REASON_WRAP = 390  # pixels: about the reason column's width in the dialog's width


@dataclass(frozen=True)
class ChainChoice:
    """Where the batch's chain comes from: the session's master, a track's chain, or a stored preset."""

    kind: str  # "master", "track" or "preset"
    track: int | None = None
    ref: str = ""


def chain_choices(session: Any, store: PresetStore) -> list[tuple[str, ChainChoice]]:
    """The combo's items: the session's chains first, then every preset the preset browser lists."""
    choices = [("master chain (this session)", ChainChoice("master"))]
    choices += [(f"track {i + 1}: {t.name} (its chain)", ChainChoice("track", i)) for i, t in enumerate(session.tracks)]
    choices += [(f"preset {e.ref}", ChainChoice("preset", ref=e.ref)) for e in store.list()]
    return choices


def chain_preset(choice: ChainChoice, session: Any, store: PresetStore, keep_target: bool) -> Preset:
    """The chosen chain as a preset (on the GUI thread: it reads the plug-ins' state); without its own loudness
    target unless ``keep_target``."""
    if choice.kind == "master":
        preset = preset_from("batch-master", "mastering", session.master)
    elif choice.kind == "track":
        track = session.tracks[choice.track]
        preset = preset_from(f"batch-{track.name}", "mixing", track.chain)
    else:
        preset = store.load(choice.ref)
    if not keep_target:
        preset = dataclasses.replace(preset, loudness_target_lufs=None, true_peak_ceiling_dbtp=None)
    return preset


def input_paths(text: str) -> list[str]:
    """One input a line (files or folders); blank lines and surrounding spaces ignored."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def row_cells(record: FileRecord) -> tuple[str, ...]:
    """What the table shows of one file: name, status, loudness in and out, true peak out, seconds, why."""
    before, after = record.before or {}, record.after or {}
    status = "skipped" if record.skipped else record.status
    why = record.reason or "; ".join(record.notes) or ("done by an earlier run" if record.skipped else "")
    why = why.replace(repr(record.input), repr(_short(record.input)))  # the file is named in the row already
    return (_short(record.input), status, _num(before.get("integrated_lufs")), _num(after.get("integrated_lufs")),
            _num(after.get("true_peak_dbtp")), f"{record.seconds:.2f}", why)


class BatchDialog(DialogView):
    """Inputs, output folder, chain, loudness, jobs; Go/Cancel; progress; the table of results."""

    TITLE = "Batch"

    def __init__(self, app: BatchHost, store: PresetStore | None = None):
        self.app = app
        self.store = store or PresetStore()
        self.task: Task | None = None
        self.summary: BatchSummary | None = None  # the running batch's, replaced by the worker as files end
        self.outdir: Path | None = None
        self._shown = -1  # how many records the table shows
        self.choices = chain_choices(app.session, self.store)
        self._build()

    # -- building -----------------------------------------------------------------------

    def _build(self) -> None:
        with dpg.window(label=self.TITLE, width=WIDTH, height=HEIGHT, no_collapse=True,
                        on_close=lambda *_: self.close()) as self.window:
            with dpg.group(horizontal=True):
                with dpg.group():
                    dpg.add_text("Inputs    ")
                    dpg.add_text("one a line", color=MUTED)
                self.inputs = dpg.add_input_text(multiline=True, width=-230, height=70,
                                                 hint="audio files and folders, one a line")
                with dpg.group():
                    dpg.add_button(label="Add files...", width=110, callback=lambda *_: self._browse(False))
                    dpg.add_button(label="Add folder...", width=110, callback=lambda *_: self._browse(True))
                    dpg.add_button(label="Clear", width=110, callback=lambda *_: dpg.set_value(self.inputs, ""))
            with dpg.group(horizontal=True):
                dpg.add_text("Output    ")
                self.output = dpg.add_input_text(default_value=str(self._default_outdir()), width=-230)
                dpg.add_button(label="Browse...", width=110, callback=lambda *_: self._browse_output())
            with dpg.group(horizontal=True):
                dpg.add_text("Chain     ")
                self.chain = dpg.add_combo([label for label, _ in self.choices], default_value=self.choices[0][0],
                                           width=-230)
            with dpg.group(horizontal=True):
                dpg.add_text("Loudness  ")
                self.loudness = dpg.add_combo(list(LOUDNESS), default_value="off", width=200,
                                              callback=lambda *_: self._loudness_chosen())
                self.typed = dpg.add_input_float(label="LUFS", width=110, step=0.5, format="%.1f",
                                                 default_value=-14.0, enabled=False)
                self.album = dpg.add_checkbox(label="album (one gain for all files)", default_value=False)
                dpg.add_text("   jobs")
                self.jobs = dpg.add_input_int(default_value=os.cpu_count() or 1, min_value=1, max_value=256,
                                              min_clamped=True, max_clamped=True, width=90)
            dpg.add_text("Off: no loudness target, not even a preset's own. A target masters each file to it "
                         "through the true-peak limiter that ends the master (-1 dBTP; one is added if the chain has "
                         "none); album gives every file one gain, so the loudest lands on the target. The chain is "
                         f"saved in the output folder ({CHAIN_FILE}); Go again skips the files done with it.",
                         color=MUTED, wrap=WIDTH - 30)
            with dpg.group(horizontal=True):
                self.go_button = dpg.add_button(label="Go", width=100, callback=lambda *_: self.go())
                self.cancel_button = dpg.add_button(label="Cancel", width=100, enabled=False,
                                                    callback=lambda *_: self.cancel())
                dpg.add_button(label="Close", width=100, callback=lambda *_: self.close())
                self.progress = dpg.add_progress_bar(default_value=0.0, width=-1, overlay="")
            self.status = dpg.add_text("", wrap=WIDTH - 30)
            dpg.add_separator()
            with dpg.table(header_row=True, policy=dpg.mvTable_SizingStretchProp, row_background=True,
                           borders_innerV=True, scrollY=True, height=-1) as self.table:
                for label, weight in COLUMNS:
                    dpg.add_table_column(label=label, init_width_or_weight=weight)
        poll_while_visible(self.window, self.poll)
        centre(self.window, WIDTH, HEIGHT)

    def _default_outdir(self) -> Path:
        session_path = self.app.session_path
        base = session_path.parent if session_path is not None else Path.cwd()
        return base / "batch-out"

    def _loudness_chosen(self) -> None:
        typed = dpg.get_value(self.loudness) == TYPED
        dpg.configure_item(self.typed, enabled=typed)

    def _browse(self, folders: bool) -> None:
        start = Path(dpg.get_value(self.output)).expanduser().parent
        with dpg.file_dialog(label="Add folder" if folders else "Add files", directory_selector=folders, modal=True,
                             width=700, height=420, file_count=0 if folders else 1000,
                             default_path=str(start if start.is_dir() else Path.cwd()),
                             callback=self._browsed, cancel_callback=lambda s, *_: dpg.delete_item(s)):
            if not folders:
                dpg.add_file_extension(".wav,.flac,.aiff,.aif,.mp3,.ogg", color=ACCENT)
                dpg.add_file_extension(".*")

    def _browsed(self, sender: int, data: dict, *_: object) -> None:
        chosen: list[str] = []
        if isinstance(data, dict):
            selections = data.get("selections") or {}
            chosen = list(selections.values()) or ([data["file_path_name"]] if data.get("file_path_name") else [])
        if chosen:
            have = input_paths(dpg.get_value(self.inputs))
            dpg.set_value(self.inputs, "\n".join(have + [c for c in chosen if c not in have]))
        dpg.delete_item(sender)

    def _browse_output(self) -> None:
        with dpg.file_dialog(label="Output folder", directory_selector=True, modal=True, width=700, height=420,
                             default_path=str(Path.cwd()), callback=self._browsed_output,
                             cancel_callback=lambda s, *_: dpg.delete_item(s)):
            pass

    def _browsed_output(self, sender: int, data: dict, *_: object) -> None:
        chosen = data.get("file_path_name") if isinstance(data, dict) else None
        if chosen:
            dpg.set_value(self.output, chosen)
        dpg.delete_item(sender)

    # -- running --------------------------------------------------------------------------

    def target(self) -> float | None:
        """The loudness target chosen, LUFS; None for off."""
        chosen = dpg.get_value(self.loudness)
        return float(dpg.get_value(self.typed)) if chosen == TYPED else LOUDNESS.get(chosen)

    def go(self) -> Task | None:
        """Check the choices here (fast: what the user can fix is said at once), then batch on a worker."""
        if self.task is not None:
            return None
        inputs = input_paths(dpg.get_value(self.inputs))
        text = dpg.get_value(self.output).strip()
        if not inputs:
            return self._fail("no input files: add audio files or a folder of them (Add files... / Add folder...)")
        if not text:
            return self._fail("no output folder: give one (it is created if need be)")
        outdir = Path(text).expanduser()
        lufs = self.target()
        if lufs is not None and not (math.isfinite(lufs) and -70.0 <= lufs <= 0.0):
            return self._fail(f"a loudness target of {lufs:g} LUFS is outside -70..0; type one in that range")
        album = bool(dpg.get_value(self.album))
        choice = dict(self.choices)[dpg.get_value(self.chain)]
        try:
            prepare(inputs, outdir)  # no input, an unwritable folder, an output over an input: said here
            preset = chain_preset(choice, self.app.session, self.store, keep_target=False)
            if album and lufs is None:
                raise BatchError("album levels files to a loudness target: choose one (e.g. -14 LUFS)")
            chain_file = outdir / CHAIN_FILE
            write_preset(preset, chain_file)
        except (RackhostError, OSError) as err:
            return self._fail(str(err))
        recipe = SessionRecipe(presets=(str(chain_file),), loudness_target=lufs)
        jobs = max(1, int(dpg.get_value(self.jobs)))
        self.outdir, self.summary, self._shown = outdir, None, -1
        dpg.delete_item(self.table, children_only=True, slot=1)

        def work(task: Task) -> BatchSummary:
            return batch(inputs, outdir, recipe, RenderOptions(), workers=jobs, album=album,
                         progress=self._heard, cancel=_Cancelled(task))

        self.task = Task(work, name="rackhost-batch")
        dpg.configure_item(self.go_button, enabled=False)
        dpg.configure_item(self.cancel_button, enabled=True)
        dpg.set_value(self.progress, 0.0)
        dpg.configure_item(self.progress, overlay="starting the workers...")
        self._say(f"batching into {outdir} with {jobs} job{'s' * (jobs != 1)}...", MUTED)
        return self.task

    def _heard(self, summary: BatchSummary) -> None:
        """On the worker thread: one assignment, read by the next frame."""
        self.summary = summary

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            dpg.configure_item(self.cancel_button, enabled=False)
            self._say("cancelling: the files in flight are dropped, the finished ones are kept...", MUTED)

    def poll(self) -> None:
        """Once a frame: progress and new rows, then the outcome."""
        task, summary = self.task, self.summary
        if summary is not None:
            self._show_progress(summary)
        if task is None or not task.done:
            return
        self.task = None
        dpg.configure_item(self.go_button, enabled=True)
        dpg.configure_item(self.cancel_button, enabled=False)
        if task.error is not None:
            error = task.error
            text = str(error) if isinstance(error, RackhostError) else f"{type(error).__name__}: {error}"
            dpg.configure_item(self.progress, overlay="stopped")
            self._say(f"batch failed: {text}", CLIP)
            return
        self.summary = summary = task.result
        self._show_progress(summary)
        manifest = self.outdir / MANIFEST_NAME if self.outdir else MANIFEST_NAME
        ran = summary.done - summary.skipped
        if summary.cancelled:
            left = len(summary.records) - len(summary.finished)
            self._say(f"cancelled: {summary.done} done, {summary.failed} failed, {left} left; Go again picks up "
                      f"the rest (manifest: {manifest})", WARNING)
            return
        dpg.set_value(self.progress, 1.0)
        dpg.configure_item(self.progress, overlay=f"{summary.done} done, {summary.failed} failed")
        missed = len(summary.missed_target)
        self._say(f"{summary.done} done ({ran} rendered, {summary.skipped} already done), {summary.failed} failed"
                  + (f", {missed} missed the loudness target" if missed else "")
                  + f" in {summary.elapsed:.1f} s; manifest: {manifest}",
                  METER if not (summary.failed or missed) else (CLIP if not summary.done else WARNING))

    def _show_progress(self, summary: BatchSummary) -> None:
        total, finished = len(summary.records), summary.finished
        dpg.set_value(self.progress, len(finished) / max(total, 1))
        eta = summary.eta() if len(finished) < total else None
        eta_text = "" if eta is None else f", ETA {time.strftime('%M:%S' if eta < 3600 else '%H:%M:%S', time.gmtime(eta))}"
        phase = "measuring the album: " if summary.phase == "measuring" else ""
        dpg.configure_item(self.progress, overlay=f"{phase}{len(finished)}/{total} files, {summary.done} done, "
                                                  f"{summary.failed} failed{eta_text}")
        if summary.phase == "measuring" or len(finished) == self._shown:
            return
        self._shown = len(finished)
        dpg.delete_item(self.table, children_only=True, slot=1)
        for record in finished:
            failed = record.status == "failed"
            with dpg.table_row(parent=self.table):
                for i, cell in enumerate(row_cells(record)):
                    color = CLIP if failed and i in (1, 6) else (MUTED if record.skipped else None)
                    dpg.add_text(cell, wrap=REASON_WRAP if i == 6 else -1, **({"color": color} if color else {}))

    # -- what the table shows (tests and screenshots read it) -----------------------------------

    @property
    def rows(self) -> list[list[str]]:
        out = []
        for row in dpg.get_item_children(self.table, 1) or []:
            out.append([dpg.get_value(cell) for cell in dpg.get_item_children(row, 1)])
        return out

    def _fail(self, message: str) -> None:
        self._say(message, CLIP)


class _Cancelled:
    """The batch's cancel (anything with ``is_set``), read from the task's."""

    def __init__(self, task: Task):
        self.task = task

    def is_set(self) -> bool:
        return self.task.cancel_requested


def _short(path: str) -> str:
    return Path(path).name


def _num(value: object) -> str:
    return "-" if value is None or not isinstance(value, (int, float)) or not math.isfinite(value) else f"{value:.1f}"
