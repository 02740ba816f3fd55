"""The timeline above the strips: a time ruler over the waveform overview, the loop range, the playhead, and
the automation lanes under it on the same time axis.

Everything it shows is read from the session or the engine: the loop range is
the session's (:class:`~rackhost.chain.session.LoopRange`, one undo step per
change, the engine told at once with a Loop command and again on every
resync), the playhead is the engine's transport as the window last saw it. A
click on the ruler locates the transport there; a drag sets the loop range and
turns looping on. The overview shows the session's file tracks (each in its strip's
colour) or, without any, the master's last render; the peaks come from
:class:`~rackhost.gui.waveform.PeakCache`, read off the frame loop, and the
picture is remade only when the width, the time span or the files change.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from rackhost.chain.colors import rgb, shown_color
from rackhost.chain.session import LoopRange
from rackhost.gui.host import TimelineHost
from rackhost.gui.scale import px
from rackhost.gui.theme import MUTED
from rackhost.gui.waveform import PeakCache, overview_image
from rackhost.live.commands import Locate, Loop

TICKS_HEIGHT = 18  # the ruler's numbers (sizes here are for 1x: px(...) of them, rackhost.gui.scale)
OVERVIEW_HEIGHT = 58  # the overview's least height; stacked files get a row each
ROW_HEIGHT = 22  # a file's row in the overview
OVERVIEW_HEIGHT_SMALL = 30  # in a window under TALL pixels high: every file drawn over the others, the strips
TALL = 900  # need the room
STACKED = 6  # up to this many files get a row each in the overview; more are drawn over each other
MIN_CONSOLE = 200  # pixels the strips keep for their faders and meters: the lanes scroll rather than take them
DRAG_PIXELS = 4  # a press that moves further is a loop drag, not a click
EDGE_PIXELS = 5  # a press this close to a loop edge drags that edge
SNAP_SECONDS = 0.1  # a dragged loop range snaps to this
MIN_SECONDS = 10.0  # the span of an empty session
RENDER_COLOR = (170, 175, 185)
LOOP_FILL = (110, 130, 230, 60)
LOOP_OFF_FILL = (110, 130, 230, 22)
LOOP_EDGE = (140, 160, 250, 220)
PLAYHEAD = (230, 90, 90)
TICK = (120, 124, 132)
RULER_BG = (30, 32, 37)
OVERVIEW_BG = (20, 22, 26)
STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)
LABEL_PIXELS = 70  # at least this far between two numbers on the ruler


def tick_step(seconds: float, width: float) -> float:
    """The ruler's step between numbered ticks: the finest that leaves :data:`LABEL_PIXELS` (at the window's
    scale) between them."""
    for step in STEPS:
        if step / seconds * width >= px(LABEL_PIXELS):
            return float(step)
    return float(STEPS[-1])


def time_label(seconds: float, step: float) -> str:
    """'0:05', '1:30'; with sub-second steps '2.5'."""
    if step < 1:
        return f"{seconds:.1f}"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


class Timeline:
    """The ruler, the overview and the lanes' place, in ``parent`` (the rack window), above the strips."""

    def __init__(self, app: TimelineHost, parent: int):
        self.app = app
        self.cache = PeakCache()
        self.width = 800
        self.overview_height = px(OVERVIEW_HEIGHT)
        self.stacked = True  # a row per file in the overview (up to STACKED files)
        self.named_rows = True  # each row with its name at its left (a tall window)
        self._span = MIN_SECONDS
        self._press: float | None = None  # x where the left button went down on the ruler
        self._drag_to: float | None = None  # x the pointer is at while dragging a loop range
        self._anchor: float | None = None  # seconds: the loop edge that stays while the other is dragged
        self._static: tuple = ()  # what the ruler was last drawn from
        self._overview: tuple = ()  # what the overview picture was last made from
        self._loop_shown: Any = object()  # the session loop the transport's loop widgets show
        self._texture = 0
        self._ends_key: tuple = ()
        self._ends: list[float] = []
        self._texture_size = (0, 0)
        self._image = 0
        self.legend: list[tuple[str, tuple[int, int, int]]] = []  # what the overview shows, in its colours
        with dpg.child_window(parent=parent, height=self.height + 4, border=False, no_scrollbar=True) as self.area:
            self.ruler = dpg.add_drawlist(self.width, self.height)
            self.lanes = dpg.add_group()  # the automation lanes open (AutomationLane builds into it)
        with dpg.item_handler_registry() as handlers:
            dpg.add_item_clicked_handler(button=dpg.mvMouseButton_Left, callback=lambda *_: self._pressed())
        dpg.bind_item_handler_registry(self.ruler, handlers)
        with dpg.texture_registry():
            self._registry = dpg.last_container()
        with dpg.draw_layer(parent=self.ruler) as self.background:
            pass
        with dpg.draw_layer(parent=self.ruler) as self.picture:
            pass
        with dpg.draw_layer(parent=self.ruler) as self.marks:
            pass
        self.playhead = dpg.draw_line((0, 0), (0, self.height), color=PLAYHEAD, thickness=2, parent=self.ruler)

    @property
    def height(self) -> int:
        """The ruler's: its numbers and the overview."""
        return px(TICKS_HEIGHT) + self.overview_height

    def show(self, shown: bool) -> None:
        """View > Timeline: hide the ruler and the lanes (the strips get their height), or show them again."""
        dpg.configure_item(self.area, show=bool(shown))

    # -- the time axis, shared with the lanes -------------------------------------------------

    @property
    def seconds(self) -> float:
        """The time the ruler spans: the longest file, the loop's end, the lanes' last points (a little past)."""
        return self._span

    def x_of(self, seconds: float) -> float:
        return seconds / self._span * self.width

    def at_x(self, x: float) -> float:
        return min(max(x, 0.0), self.width) / self.width * self._span

    def _source_ends(self) -> list[float]:
        """Where each track's audio (or MIDI) ends, in seconds; measured again only when the sources change."""
        session = self.app.session
        key = (tuple((id(t.source), id(t.midi), t.instrument is not None) for t in session.tracks),
               session.sample_rate, self.app.last_render, self.cache.finished)
        if key != self._ends_key:
            ends = [t.source.frames / t.source.sample_rate for t in session.tracks if t.source is not None]
            ends += [t.midi.length(session.sample_rate) / session.sample_rate for t in session.tracks
                     if t.instrument and t.midi]
            if not ends and self.app.last_render is not None:
                found = self.cache.get(self.app.last_render)
                ends.append(found.seconds if found is not None else 0.0)
            self._ends_key, self._ends = key, ends
        return list(self._ends)

    def _measure_span(self) -> float:
        session = self.app.session
        ends = self._source_ends()
        if session.loop is not None:
            ends.append(session.loop.end)
        for lane in self.app.lanes:
            envelope = lane.envelope if lane.alive else None
            if envelope is not None and envelope.points:
                ends.append(envelope.points[-1].time * 1.05)
        longest = max(ends, default=0.0)
        return max(longest, 1.0) if longest > 0 else MIN_SECONDS

    # -- the user's gestures ---------------------------------------------------------------

    def _mouse_x(self) -> float:
        return float(dpg.get_mouse_pos(local=False)[0] - dpg.get_item_rect_min(self.ruler)[0])

    def _pressed(self) -> None:
        """The left button went down on the ruler: on a loop edge, a drag moves that edge (the other stays)."""
        x = self._mouse_x()
        self._press, self._drag_to, self._anchor = x, None, None
        loop = self.app.session.loop
        if loop is not None:
            for edge, other in ((loop.start, loop.end), (loop.end, loop.start)):
                if abs(x - self.x_of(edge)) <= EDGE_PIXELS:
                    self._anchor = other
                    break

    def _follow_press(self) -> None:
        """While the button is down: a loop drag once the pointer has moved; on release, the loop or a locate."""
        if self._press is None:
            return
        x = self._mouse_x()
        if dpg.is_mouse_button_down(dpg.mvMouseButton_Left):
            if self._drag_to is not None or abs(x - self._press) > DRAG_PIXELS:
                self._drag_to = x
            return
        press, drag_to, anchor = self._press, self._drag_to, self._anchor
        self._press = self._drag_to = self._anchor = None
        if drag_to is None and abs(x - press) > DRAG_PIXELS:
            drag_to = x  # pressed and released between two frames
        if drag_to is None:
            self.locate(self.at_x(press))
            return
        snap = lambda s: round(round(s / SNAP_SECONDS) * SNAP_SECONDS, 6)
        fixed = anchor if anchor is not None else self.at_x(press)  # a moved edge's other end stays exact
        start, end = sorted((fixed if anchor is not None else snap(fixed), snap(self.at_x(drag_to))))
        if end <= start:  # a drag shorter than the grid: as drawn
            start, end = sorted((fixed, self.at_x(drag_to)))
        self.loop_to(start, end, True)

    def locate(self, seconds: float) -> None:
        """Move the transport to ``seconds`` (the playhead shows it at once)."""
        frame = max(0, int(round(seconds * self.app.session.sample_rate)))
        self.app.send(Locate(frame))
        self.app.transport = (frame, self.app.transport[1])

    def loop_to(self, start: float, end: float, on: bool) -> bool:
        """Make ``start``..``end`` seconds the session's loop range (looping if ``on``), one undo step, and tell
        the engine. An empty range is refused and said; True if the session's loop is as asked."""
        session = self.app.session
        try:
            loop: LoopRange | None = LoopRange(start, end, on)
        except ValueError:
            # The transport's fields and switch show the session's loop again: a refused range left in them read
            # as the loop in effect.
            self._loop_shown = object()
            if on:
                kept = session.loop
                stays = f"; the loop stays at {kept.start:.1f}-{kept.end:.1f} s" if kept is not None else ""
                self.app.tell(f"the loop's end ({end:.1f} s) must come after its start ({start:.1f} s){stays}",
                              error=True)
                return False
            loop = LoopRange(session.loop.start, session.loop.end, False) if session.loop is not None else None
        if loop == session.loop:
            return True
        session.edit.set_loop(session, loop)
        session.history.seal()
        self.app.send(Loop(*(loop.frames(session.sample_rate) if loop is not None else (None, None))))
        self.app.history_view.show()
        return True

    # -- each frame -------------------------------------------------------------------------

    def update(self) -> None:
        """Once a frame: fit the width, follow a press, show the loop and the playhead; redraw only on change."""
        width = max(100, int(dpg.get_item_rect_size(self.area)[0]) - 2)
        if width != self.width and dpg.get_item_rect_size(self.area)[0] > 0:
            self.width = width
            dpg.configure_item(self.ruler, width=width)
        self._follow_press()
        self._show_loop_widgets()
        self._span = self._measure_span()
        self._fit_height()
        self._draw_overview()
        self._draw_static()
        seconds = self.app.transport[0] / self.app.session.sample_rate
        x = self.x_of(seconds)
        if dpg.get_item_configuration(self.playhead)["p1"][0] != x or \
                dpg.get_item_configuration(self.playhead)["p2"][1] != self.height:
            dpg.configure_item(self.playhead, p1=(x, 0), p2=(x, self.height))

    def _fit_height(self) -> None:
        """As tall as the ruler and the open lanes, but never so tall that the strips' faders get short of
        :data:`MIN_CONSOLE` (at the window's scale; the lanes scroll then; the ruler always shows)."""
        heights = [int(dpg.get_item_rect_size(lane.window)[1]) + 5 for lane in self.app.lanes if lane.alive]
        wanted = self.height + 4 + sum(heights)
        least = self.height + 4 + max(heights[-1:], default=0)  # the lane opened last always shows (it is on top)
        now = dpg.get_item_height(self.area)
        views = [*self.app.strips, *self.app.bus_strips, *([self.app.master] if self.app.master else [])]
        consoles = [dpg.get_item_rect_size(v.console)[1] for v in views if dpg.does_item_exist(v.console)]
        console = min(consoles, default=0)
        room = now + console - px(MIN_CONSOLE) if console > 0 else wanted  # the strips' height moves with ours
        height = min(wanted, max(room, least))
        if dpg.get_item_height(self.area) != height:
            dpg.configure_item(self.area, height=height, no_scrollbar=height >= wanted)

    def _show_loop_widgets(self) -> None:
        """The transport's loop switch and range show the session's loop (after a drag here, an undo, a load)."""
        loop = self.app.session.loop
        if loop is self._loop_shown:
            return
        self._loop_shown = loop
        if self.app.loop:
            dpg.set_value(self.app.loop, bool(loop is not None and loop.on))
        if self.app.loop_range and loop is not None:
            dpg.set_value(self.app.loop_range, [loop.start, loop.end, 0.0, 0.0])

    def _sources(self) -> list[tuple[str, Path, tuple[int, int, int]]]:
        """What the overview shows: each file track (name, file, colour), or the master's last render."""
        session = self.app.session
        found = [(t.name, Path(t.source.path), rgb(shown_color(session, t)))
                 for t in session.tracks if getattr(t.source, "path", None) is not None]
        if not found and self.app.last_render is not None:
            found = [(f"master (last render: {Path(self.app.last_render).name})", Path(self.app.last_render),
                      RENDER_COLOR)]
        return found

    def _draw_overview(self) -> None:
        sources = self._sources()
        tall = not dpg.is_viewport_ok() or dpg.get_viewport_client_height() >= TALL
        state = (self.width, self._span, tuple(sources), self.cache.finished, tall, px(TICKS_HEIGHT))
        if state == self._overview:
            return
        self._overview = state
        layers, legend = [], []
        for name, path, color in sources:
            found = self.cache.get(path)
            legend.append((name, color))
            layers.append((*found.columns(self._span, self.width), color) if found is not None else None)
        self.legend = legend
        # A row per file while there are few, in a short window too (thin rows, the names in a line along the
        # top): drawn over each other, four files were one smear of colour at 1280x720.
        self.stacked = len(sources) <= STACKED
        self.named_rows = self.stacked and tall
        self.overview_height = max(px(OVERVIEW_HEIGHT), px(ROW_HEIGHT) * len(sources) + 2) if self.named_rows \
            else (px(OVERVIEW_HEIGHT) if tall else px(OVERVIEW_HEIGHT_SMALL))
        dpg.configure_item(self.ruler, height=self.height)
        height = self.overview_height - 2
        image = self._picture(layers, height)
        if self._texture and self._texture_size == (self.width, height):
            dpg.set_value(self._texture, image.ravel())
        else:
            old, self._texture_size = self._texture, (self.width, height)
            self._texture = dpg.add_dynamic_texture(self.width, height, image.ravel(), parent=self._registry)
            dpg.delete_item(self.picture, children_only=True)
            self._image = dpg.draw_image(self._texture, (0, px(TICKS_HEIGHT) + 1), (self.width, self.height - 1),
                                         parent=self.picture)
            if old:
                dpg.delete_item(old)
        self._static = ()  # the legend may have changed

    def _rows(self, count: int, height: int) -> list[tuple[int, int]]:
        """(top, height) of each file's row in the overview: one each up to :data:`STACKED`, else one for all."""
        if count == 0 or not self.stacked:
            return [(0, height)] * max(count, 1)
        edges = [round(i * height / count) for i in range(count + 1)]
        return [(edges[i], edges[i + 1] - edges[i]) for i in range(count)]

    def _picture(self, layers: list, height: int) -> Any:
        """The overview's image: ``layers`` (one per file, None while it is read) in rows, or over each other."""
        if not self.stacked:
            return overview_image([layer for layer in layers if layer is not None], self.width, height)
        picture = overview_image([], self.width, height)
        for (top, high), layer in zip(self._rows(len(layers), height), layers):
            if layer is not None:
                picture[top:top + high] = overview_image([layer], self.width, high)
        return picture

    def _draw_static(self) -> None:
        loop = self.app.session.loop
        drag = None
        if self._drag_to is not None and self._press is not None:
            fixed = self.x_of(self._anchor) if self._anchor is not None else self._press
            drag = tuple(sorted((fixed, self._drag_to)))
        state = (self.width, self.height, self._span, loop, drag, tuple(self.legend), self.stacked,
                 self.named_rows, px(TICKS_HEIGHT))
        if state == self._static:
            return
        self._static = state
        for layer in (self.background, self.marks):
            dpg.delete_item(layer, children_only=True)
        width, span = self.width, self._span
        ticks = px(TICKS_HEIGHT)
        dpg.draw_rectangle((0, 0), (width, ticks), color=RULER_BG, fill=RULER_BG, parent=self.background)
        dpg.draw_rectangle((0, ticks), (width, self.height), color=OVERVIEW_BG, fill=OVERVIEW_BG,
                           parent=self.background)
        if not self.stacked or not self.legend:
            middle = px(TICKS_HEIGHT) + self.overview_height / 2
            dpg.draw_line((0, middle), (width, middle), color=(50, 54, 62), parent=self.background)
        step = tick_step(span, width)
        minor = step / 5 if step / 5 / span * width >= 8 else step / 2
        for i in range(int(span / minor) + 1):
            t = i * minor
            x = self.x_of(t)
            major = math.isclose(t / step, round(t / step), abs_tol=1e-6)
            top = 2 if major else px(TICKS_HEIGHT) - 5
            dpg.draw_line((x, top), (x, px(TICKS_HEIGHT)), color=TICK, parent=self.background)
            if major:
                dpg.draw_text((x + 3, 2), time_label(t, step), color=MUTED, size=px(13), parent=self.background)
        marked = (drag[0], drag[1], True) if drag is not None else \
            ((self.x_of(loop.start), self.x_of(loop.end), loop.on) if loop is not None else None)
        if marked is not None:
            left, right, on = marked
            fill = LOOP_FILL if on else LOOP_OFF_FILL
            dpg.draw_rectangle((left, 0), (right, self.height), color=fill, fill=fill, parent=self.marks)
            edge = LOOP_EDGE if on else (*LOOP_EDGE[:3], 90)
            dpg.draw_rectangle((left, 0), (right, ticks), color=edge, fill=(*LOOP_EDGE[:3], 70 if on else 25),
                               parent=self.marks)
            for x in (left, right):
                dpg.draw_line((x, 0), (x, self.height), color=edge, thickness=2, parent=self.marks)
        if not self.named_rows:  # drawn over each other, or in thin rows: the names in a line along the top
            if self.stacked:
                for top, _ in self._rows(len(self.legend), self.overview_height - 2)[1:]:
                    y = px(TICKS_HEIGHT) + 1 + top
                    dpg.draw_line((0, y), (width, y), color=(44, 47, 54), parent=self.marks)
            x = 6
            for name, color in self.legend:
                dpg.draw_rectangle((x - 3, ticks + 2), (x + px(7) * len(name) + 3, ticks + px(15)),
                                   color=(0, 0, 0, 0), fill=(*OVERVIEW_BG, 200), parent=self.marks)
                dpg.draw_text((x, px(TICKS_HEIGHT) + 2), name, color=color, size=px(12), parent=self.marks)
                x += px(7) * len(name) + 14
        else:  # a row each: the name at the row's left, its lane separated by a line
            for (top, high), (name, color) in zip(self._rows(len(self.legend), self.overview_height - 2), self.legend):
                y = px(TICKS_HEIGHT) + 1 + top
                if top:
                    dpg.draw_line((0, y), (width, y), color=(44, 47, 54), parent=self.marks)
                text_y = y + max(0, (high - px(12)) / 2)
                dpg.draw_rectangle((4, text_y), (12 + px(7) * len(name), text_y + px(12)), color=(0, 0, 0, 0),
                                   fill=(*OVERVIEW_BG, 200), parent=self.marks)
                dpg.draw_text((8, text_y), name, color=color, size=px(12), parent=self.marks)
        if not self.legend:
            dpg.draw_text((6, px(TICKS_HEIGHT) + self.overview_height / 2 - px(7)),
                          "no file tracks: render the master (Render menu) to see its waveform here",
                          color=MUTED, size=px(13), parent=self.marks)
        dpg.draw_rectangle((0, 0), (width - 1, self.height - 1), color=(60, 64, 72), parent=self.marks)
