"""The Takes window: a track's recorded takes, each with its waveform; use one, rename it, delete it.

Opened from a strip's ``takes`` button. The takes are the files in the
session's takes folder (:mod:`rackhost.chain.takes`); the list is read again
when the folder's names change (looked at once a second, never per frame) and
when a recording stops. Each waveform's peaks are read from its file once and
kept (:class:`~rackhost.chain.takes.PeakCache`, shared by every opening of the
window); a redraw reads nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from rackhost.chain.takes import (
    PeakCache,
    TakeFiles,
    delete_take,
    list_takes,
    rename_take,
    takes_folder,
    use_take,
    used_by,
)
from rackhost.errors import RackhostError
from rackhost.gui.dialogs import DialogView, centre
from rackhost.gui.scale import px
from rackhost.gui.text import CHAR, cut
from rackhost.gui.theme import ACCENT, CLIP, METER, MUTED, PANEL

if TYPE_CHECKING:
    from rackhost.chain import Track
    from rackhost.gui.host import TakesHost

WAVE_WIDTH, WAVE_HEIGHT = 260, 40
COLUMNS = WAVE_WIDTH // 2  # one 2-pixel line a column
LOOK_SECONDS = 1.0  # how often the folder is looked at for new or gone takes
PEAKS = PeakCache()  # outlives the window: opening it again reads no file again


class TakesView(DialogView):
    """The takes of one track (chosen at the top), a row each: waveform, name (Enter renames), length,
    ``use`` (or ``playing``), ``x`` (asks, then deletes both files)."""

    TITLE = "Takes"
    WIDTH, HEIGHT = 640, 420

    def __init__(self, app: TakesHost, track: int = 0):
        self.app = app
        self.track: Track | None = app.session.tracks[track] if track < len(app.session.tracks) else None
        self.takes: list[TakeFiles] = []
        self.rows: dict[int, dict[str, int]] = {}  # take number -> its widgets ("name", "use", "delete", "wave")
        self._seen: tuple[Any, ...] = ()  # what the list was built from: folder names, tracks, sources, recording
        self._looked_at = 0.0
        with dpg.window(label=self.TITLE, width=self.WIDTH, height=self.HEIGHT, on_close=self.close) as self.window:
            with dpg.group(horizontal=True):
                dpg.add_text("Track")
                self.choice = dpg.add_combo([], width=px(200), callback=lambda s, v: self.show_track(self._track_of(v)))
                self.printed = dpg.add_checkbox(label="use printed (wet)")
                with dpg.tooltip(self.printed):
                    dpg.add_text("off: use plays the dry take through the track's chain, so the part can be mixed; "
                                 "on: the wet take, the chain's sound as it was recorded", wrap=360)
            self.folder_text = dpg.add_text("", color=MUTED)
            with dpg.child_window(height=-px(26), border=True) as self.list:
                pass
            self.status = dpg.add_text("", color=MUTED)
        centre(self.window, self.WIDTH, self.HEIGHT)
        self.refresh(force=True)

    # -- what is shown ----------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return takes_folder(self.app.session_path)

    def _recording(self) -> bool:
        engine = self.app.engine
        return bool(engine is not None and engine.alive and engine.stats().get("recording"))

    def _track_of(self, label: str) -> Track | None:
        return next((t for t in self.app.session.tracks if t.name == label), None)

    def show_track(self, track: Track | None) -> None:
        self.track = track
        self.refresh(force=True)

    def _state(self) -> tuple[Any, ...]:
        """What the list shows, cheaply: the folder's file names, the tracks and what they play, recording."""
        try:
            names = tuple(sorted(os.listdir(self.folder)))
        except OSError:
            names = ()
        tracks = tuple((t.name, str(getattr(t.source, "path", ""))) for t in self.app.session.tracks)
        return names, tracks, self._recording(), id(self.track)

    def refresh(self, force: bool = False) -> None:
        """Build the list again if the folder, the tracks or the recording changed (or ``force``)."""
        state = self._state()
        if not force and state == self._seen:
            return
        self._seen = state
        tracks = self.app.session.tracks
        if self.track not in tracks:
            self.track = tracks[0] if tracks else None
        dpg.configure_item(self.choice, items=[t.name for t in tracks])
        dpg.set_value(self.choice, self.track.name if self.track is not None else "")
        dpg.set_value(self.folder_text, f"in {self.folder}")
        self.takes = list_takes(self.folder, self.track.name) if self.track is not None else []
        dpg.delete_item(self.list, children_only=True)
        self.rows = {}
        if self.track is None:
            dpg.add_text("the session has no tracks", parent=self.list, color=MUTED)
            return
        if not self.takes:
            dpg.add_text(f"no takes of {self.track.name!r} yet: pick its input, arm it (R) and press Record",
                         parent=self.list, color=MUTED, wrap=self.WIDTH - 40)
            return
        recording = state[2]
        playing = {t.number for t in self.takes if used_by([self.track], t)}
        infos = {t.number: t.info() for t in self.takes}
        # Drawn to one time scale: the longest take fills the width, a shorter one is shorter.
        longest = max((i.frames / i.samplerate for i in infos.values() if i is not None and i.samplerate), default=0)
        for k, take in enumerate(self.takes):
            if k:
                dpg.add_separator(parent=self.list)
            info = infos[take.number]
            seconds = info.frames / info.samplerate if info is not None and info.samplerate else 0.0
            self._row(take, info, seconds / longest if longest else 1.0, take.number in playing, recording)

    def _row(self, take: TakeFiles, info: Any, fraction: float, playing: bool, recording: bool) -> None:
        with dpg.group(horizontal=True, parent=self.list):
            wave = dpg.add_drawlist(WAVE_WIDTH, WAVE_HEIGHT)
            self._draw_wave(wave, take, fraction, METER if playing else ACCENT, recording)
            with dpg.group():
                name = dpg.add_input_text(default_value=take.name, width=px(170), on_enter=True, enabled=not recording,
                                          user_data=take, callback=lambda s, v, t: self.rename(t, v))
                with dpg.tooltip(name):
                    dpg.add_text("type a name and press Enter to rename the take's dry and wet files\n"
                                 + "\n".join(p.name for p in take.files)
                                 + "\nthe waveform: the dry take, to one time scale with the others"
                                 + (" (green: the take the track plays)" if playing else ""))
                number = f"#{take.number}  " if take.label else ""  # a renamed take keeps its number
                recorded = time.strftime("%H:%M", time.localtime(take.files[0].stat().st_mtime))
                length = (f"{number}{info.frames / info.samplerate:.1f} s, {'mono' if info.channels == 1 else 'stereo'}"
                          f", {recorded}") if info is not None else f"{number}unreadable"
                dpg.add_text(length, color=MUTED)
            with dpg.group():
                if playing:
                    use = dpg.add_text("playing", color=METER)
                    with dpg.tooltip(use):
                        dpg.add_text(f"{self.track.name} plays {Path(self.track.source.path).name}")
                else:
                    use = dpg.add_button(label="use", width=px(50), user_data=take,
                                         callback=lambda s, a, t: self.use(t))
                    with dpg.tooltip(use):
                        dpg.add_text(f"make this take {self.track.name!r}'s audio file (Edit > Undo takes it back)")
                delete = dpg.add_button(label="delete", width=px(50), user_data=take, enabled=not recording,
                                        callback=lambda s, a, t: self.ask_delete(t))
        self.rows[take.number] = {"name": name, "use": use, "delete": delete, "wave": wave}

    def _draw_wave(self, wave: int, take: TakeFiles, fraction: float, colour: tuple[int, ...],
                   recording: bool) -> None:
        dpg.draw_rectangle((0, 0), (WAVE_WIDTH, WAVE_HEIGHT), fill=PANEL, color=PANEL, parent=wave)
        mid = WAVE_HEIGHT / 2
        dpg.draw_line((0, mid), (WAVE_WIDTH, mid), color=(*MUTED, 90), parent=wave)
        if recording:  # the file is still growing: its peaks would be read again every second
            return
        try:
            peaks = PEAKS.peaks(take.files[0], COLUMNS)
        except (OSError, RuntimeError) as err:  # soundfile's errors are RuntimeErrors
            dpg.draw_text((4, 4), cut(f"cannot read: {err}", px(41 * CHAR)), color=CLIP, parent=wave, size=12)
            return
        scale, step = mid - 1, WAVE_WIDTH * fraction / COLUMNS
        for x, (lo, hi) in enumerate(peaks):
            top, bottom = mid - float(hi) * scale, mid - float(lo) * scale
            if bottom - top < 1:
                top, bottom = mid - 0.5, mid + 0.5
            left = x * step + step / 2
            dpg.draw_line((left, top), (left, bottom), color=colour, thickness=max(1.0, step), parent=wave)

    # -- what a click does --------------------------------------------------------------------

    def use(self, take: TakeFiles) -> None:
        track = self.track
        if track is None:
            return
        try:
            use_take(self.app.session.edit, track, take, printed=dpg.get_value(self.printed))
        except RackhostError as err:
            self._say(str(err), CLIP)
            return
        self.app.structure_changed()
        self.app.tell(f"{track.name} plays {take.name} ({Path(track.source.path).name}); Edit > Undo takes it back")
        self._say(f"{track.name} plays {take.name}", METER)
        self.refresh(force=True)

    def rename(self, take: TakeFiles, name: str) -> None:
        if name.strip() == take.name:
            return
        if self._recording():
            self._say("stop recording first: a take being written cannot be renamed", CLIP)
            return
        tracks = self.app.session.tracks
        playing = used_by(tracks, take)
        try:
            renamed = rename_take(take, name, tracks)
        except RackhostError as err:
            self._say(str(err), CLIP)
            dpg.set_value(self.rows[take.number]["name"], take.name)
            return
        if playing:  # the session names the file: its saved file must name it anew
            self.app.session.history.changes += 1
            self.app.structure_changed()
        self._say(f"renamed {take.name} to {renamed.name}", METER)
        self.refresh(force=True)

    def ask_delete(self, take: TakeFiles) -> None:
        files = ", ".join(p.name for p in take.files)
        self.app.questions.ask("Delete take", f"Delete take {take.name!r} of {take.track!r}? Its files ({files}) are "
                               f"removed from disk; this cannot be undone.",
                               {"Delete": lambda: self.delete(take), "Cancel": lambda: None})

    def delete(self, take: TakeFiles) -> None:
        if self._recording():
            self._say("stop recording first: a take being written cannot be deleted", CLIP)
            return
        try:
            delete_take(take, self.app.session.tracks)
        except RackhostError as err:
            self._say(str(err), CLIP)
            return
        self._say(f"deleted {take.name}", METER)
        self.refresh(force=True)

    # -- each frame -------------------------------------------------------------------------

    def poll(self) -> bool:
        """Look at the folder once a second (a new take, a take finished); False once the window is closed."""
        if not dpg.does_item_exist(self.window):
            return False
        now = time.monotonic()
        if now - self._looked_at >= LOOK_SECONDS:
            self._looked_at = now
            self.refresh()
        return True
