"""An automation lane: one envelope of a strip (its fader, pan, a send, a slot's parameter) drawn over time.

The lane sits under the timeline's ruler and shares its time axis (the
session's length, the loop range shaded, the playhead while playing); the
value runs up in the target's units. A left click adds
a point (or grabs the one under the pointer to drag it), a right click removes
the point under the pointer; each gesture is one undo step in the session's
history, and the engine resyncs on it. The value shown at the playhead is read
from the engine's own :class:`~rackhost.chain.automated.Curve`, so the window
and the sound cannot disagree.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np

from rackhost.chain.automated import Curve
from rackhost.chain.automation import (
    MIX,
    MODES,
    SHAPES,
    Envelope,
    Point,
    SendTarget,
    SlotTarget,
    StripTarget,
    Target,
    ValueRange,
    find,
    value_range,
)
from rackhost.gui.scale import px
from rackhost.gui.taper import FADER_MAX_DB
from rackhost.gui.theme import MUTED
from rackhost.gui.timeline import tick_step
from rackhost.gui.writing import WRITING
from rackhost.live.writer import Writing

LANE_WIDTH = 900  # without a timeline (a window built without one); the timeline's width otherwise
LANE_HEIGHT = 110  # sizes here are for 1x: px(...) of them (rackhost.gui.scale)
LANE_HEIGHT_SMALL = 64  # in a window under SMALL_WINDOW pixels high
SMALL_WINDOW = 900
SNAP_SECONDS = 0.1
GRAB_PIXELS = 8.0  # a click this close to a point takes the point, not a new one
FLOOR_DB = -60.0  # a fader's lane is drawn down to here: the 150 dB below it are all silence to the ear
AUTOMATED = (240, 180, 60)  # the colour of a control's label while an envelope moves it
POINT = (240, 180, 60)
LINE = (120, 200, 240)
LOOP = (80, 80, 120, 90)
PLAYHEAD = (230, 90, 90)


def current_value(owner: Any, target: Target) -> float:
    """What the control reads now (the first point of a new envelope)."""
    if isinstance(target, StripTarget):
        return float(getattr(owner, target.control))
    if isinstance(target, SendTarget):
        return float(target.send.level_db)
    if target.parameter == MIX:
        return float(target.slot.mix)
    return float(target.slot.plugin.get(target.parameter))


def value_at(envelope: Envelope, seconds: float, sample_rate: float) -> float:
    """The envelope's value at ``seconds``, as the engine plays it."""
    return float(Curve(envelope, sample_rate).at(np.array([round(seconds * sample_rate)], np.int64))[0])


def lane_range(owner: Any, target: Target) -> ValueRange:
    """What the lane offers ``target``: its range, but a fader's only up to where the strip's fader stops
    (+6 dB), so the lane's top is the fader's top. A file or ``--automate`` may hold a fader higher (up to
    +12 dB): the lane then spans that point too (:func:`shown_range`)."""
    valid = value_range(owner, target)
    if isinstance(target, StripTarget) and target.control == "gain_db":
        return dataclasses.replace(valid, maximum=min(valid.maximum, FADER_MAX_DB))
    return valid


def shown_range(valid: ValueRange, points: tuple[Point, ...]) -> tuple[float, float]:
    """The values the lane spans: the target's range (a fader's cut at ``FLOOR_DB``; an unbounded one around
    its points; one reaching over the range's top, as a fader's point from a file may, up to that point)."""
    low, high = valid.minimum, valid.maximum
    if not math.isfinite(low) or not math.isfinite(high):
        values = [p.value for p in points] or [0.0]
        low, high = min(values) - 1.0, max(values) + 1.0
    high = max([high] + [p.value for p in points])
    if valid.unit == "dB" and low < FLOOR_DB:
        low = FLOOR_DB
    return low, high if high > low else low + 1.0


class AutomationLane:
    """The lane of ``target`` on the strip ``track`` (an index, a BusRow, None: the master)."""

    def __init__(self, app: Any, track: Any, target: Target):
        self.app, self.track, self.target = app, track, target
        owner = app.owner(track)
        if find(owner, target) is None:  # automating a control starts it where it stands
            valid = lane_range(owner, target)
            value = min(max(current_value(owner, target), valid.minimum), valid.maximum)  # a send at -inf
            app.edit.add_envelope(owner, Envelope(target, (Point(0.0, value),)))
            app.session.history.seal()
            app.structure_changed()
        self.selected: int | None = None
        self._drag: int | None = None
        self._drag_to: tuple[float, float] | None = None
        self.playhead = 0.0
        self._length: float | None = None
        self._drawn: tuple = ()
        self.writing = False  # a touch or latch pass writes this lane's control (the window's last look)
        self.written: Writing | None = None  # the engine's report of that pass: the lane draws it
        self.pass_line = 0  # the drawn pass (the value held since it began), 0 when none
        name = getattr(owner, "name", "master")
        timeline = getattr(app, "timeline", None)
        above = dpg.get_item_children(timeline.lanes, 1) if timeline is not None else []
        with dpg.group(parent=timeline.lanes if timeline is not None else 0,
                       before=above[0] if above else 0) as self.window:  # the newest lane on top, in view
            with dpg.group(horizontal=True):
                self.title = dpg.add_text(f"{name}: {target.describe()}", color=POINT)
                with dpg.tooltip(self.title):
                    dpg.add_text("in the lane: click adds a point; drag a point to move it; right-click a point "
                                 "removes it; Delete removes the selected one")
                self.snap = dpg.add_checkbox(label=f"snap {SNAP_SECONDS:g} s", default_value=True)
                self.shape = dpg.add_combo(list(SHAPES), default_value="linear", width=px(80),
                                           callback=lambda s, v: self.set_shape(v))
                with dpg.tooltip(self.shape):
                    dpg.add_text("the shape of the segment after the selected point")
                self.readout = dpg.add_text("", color=MUTED)
                self.remove_button = dpg.add_button(label="remove automation", callback=lambda: self.remove_all())
                dpg.add_text("mode:", color=MUTED)
                self.mode = dpg.add_combo(list(MODES), default_value=self.envelope.mode if self.envelope else "read",
                                          width=px(70), callback=lambda s, v: self.set_mode(v))
                dpg.add_text("glide ms:", color=MUTED)
                self.glide = dpg.add_input_int(default_value=self._glide_ms(), width=px(60), step=0,
                                               on_enter=True, callback=lambda s, v: self.set_glide(v / 1000.0))
                with dpg.tooltip(self.glide):
                    dpg.add_text("a touch let go goes back to the envelope in a line over this long (the "
                                 "session's, every lane; 0: at once)")
                self.writing_light = dpg.add_text("", color=WRITING)  # "writing" while a pass writes it
                self.hide_button = dpg.add_button(label="hide", callback=lambda: self.close())
                with dpg.tooltip(self.hide_button):
                    dpg.add_text("close the lane; the envelope stays and plays (right-click the control > "
                                 "Automate shows it again)")
            self.canvas = dpg.add_drawlist(self.width, self.height)
        with dpg.item_handler_registry() as handlers:
            dpg.add_item_clicked_handler(button=dpg.mvMouseButton_Left, callback=lambda *_: self._pressed())
            dpg.add_item_clicked_handler(button=dpg.mvMouseButton_Right, callback=lambda *_: self._right_clicked())
        dpg.bind_item_handler_registry(self.canvas, handlers)
        self.draw()

    # -- the model ---------------------------------------------------------------------

    @property
    def owner(self) -> Any:
        return self.app.owner(self.track)

    @property
    def envelope(self) -> Envelope | None:
        return find(self.owner, self.target) if self.app.has_owner(self.track) else None

    @property
    def seconds(self) -> float:
        """The time the lane spans: the timeline's (without one, the session's length or past the last point)."""
        timeline = getattr(self.app, "timeline", None)
        if timeline is not None:
            return timeline.seconds
        session = self.app.session
        if self._length is None:  # read once per edit: it measures every source
            self._length = session.length() / session.sample_rate
        length = self._length
        last = max((p.time for p in self.envelope.points), default=0.0) if self.envelope else 0.0
        return max(length, last * 1.1, 10.0 if length <= 0 else 0.0, 1.0)

    @property
    def width(self) -> int:
        timeline = getattr(self.app, "timeline", None)
        return timeline.width if timeline is not None else LANE_WIDTH

    @property
    def height(self) -> int:
        """The lane's drawing: shorter in a small window, where the strips need the room."""
        small = dpg.is_viewport_ok() and dpg.get_viewport_client_height() < SMALL_WINDOW
        return px(LANE_HEIGHT_SMALL if small else LANE_HEIGHT)

    @property
    def focused(self) -> bool:
        """Does Delete mean this lane's selected point? (The pointer is over the lane.)"""
        return self.alive and dpg.is_item_hovered(self.canvas)

    def focus(self) -> None:
        """Asked for again (Automate on a control whose lane is open): its points show selected-free."""
        self.selected = None
        self.draw()

    def _snapped(self, seconds: float) -> float:
        seconds = max(0.0, seconds)
        return round(round(seconds / SNAP_SECONDS) * SNAP_SECONDS, 6) if dpg.get_value(self.snap) else seconds

    def _clamped(self, value: float) -> float:
        valid = lane_range(self.owner, self.target)
        value = min(max(value, valid.minimum), valid.maximum)
        return float(round(value)) if valid.discrete else value

    def _edit(self, action: Any) -> bool:
        """One gesture: one undo step, then the engine resyncs."""
        ok = self.app._try(action)
        self.app.session.history.seal()
        self.app.structure_changed()
        return ok

    def add(self, seconds: float, value: float) -> None:
        envelope = self.envelope
        if envelope is None:
            return
        point = Point(self._snapped(seconds), self._clamped(value), self._shape_for_new())
        if self._edit(lambda: self.app.edit.add_point(self.owner, envelope, point)):
            self.selected = [p.time for p in self.envelope.points].index(point.time)  # type: ignore[union-attr]
            self._shape_shown()

    def move(self, index: int, seconds: float, value: float) -> None:
        """Move point ``index``; it stays between its neighbours (a drag past one stops at it)."""
        envelope = self.envelope
        if envelope is None:
            return
        points = envelope.points
        seconds = self._snapped(seconds)
        if index > 0:
            seconds = max(seconds, points[index - 1].time + 1e-3)
        if index + 1 < len(points):
            seconds = min(seconds, points[index + 1].time - 1e-3)
        point = Point(seconds, self._clamped(value), points[index].shape)
        self._edit(lambda: self.app.edit.move_point(self.owner, envelope, index, point))
        self.selected = index

    def remove(self, index: int) -> None:
        envelope = self.envelope
        if envelope is not None:
            self._edit(lambda: self.app.edit.remove_point(self.owner, envelope, index))
            self.selected = None

    def set_shape(self, shape: str) -> None:
        """The shape of the segment after the selected point."""
        envelope = self.envelope
        if envelope is None or self.selected is None or self.selected >= len(envelope.points):
            return
        index, old = self.selected, envelope.points[self.selected]
        points = list(envelope.points)
        points[index] = Point(old.time, old.value, shape)  # type: ignore[arg-type]
        self._edit(lambda: self.app.edit.set_points(self.owner, envelope, points,
                                                    f"make a {shape} segment in {envelope.describe()}"))

    def set_mode(self, mode: str) -> None:
        """Read, touch, latch or off: how playback treats the envelope (one undo step; the engine resyncs)."""
        envelope = self.envelope
        if envelope is not None and envelope.mode != mode:
            self._edit(lambda: self.app.edit.set_mode(envelope, mode))

    def set_glide(self, seconds: float) -> None:
        """The session's glide time for touch writes (one undo step; the engine resyncs)."""
        if seconds != self.app.session.automation_glide:
            self._edit(lambda: self.app.edit.set_automation_glide(self.app.session, seconds))
        dpg.set_value(self.glide, self._glide_ms())  # a refused value shows what holds

    def _glide_ms(self) -> int:
        return int(round(self.app.session.automation_glide * 1000))

    def remove_all(self) -> None:
        envelope = self.envelope
        if envelope is not None:
            self._edit(lambda: self.app.edit.remove_envelope(self.owner, envelope))
        self.close()

    def _shape_for_new(self) -> Any:
        return dpg.get_value(self.shape) if self.shape else "linear"

    # -- pixels ------------------------------------------------------------------------

    def _range(self) -> tuple[float, float]:
        envelope = self.envelope
        return shown_range(lane_range(self.owner, self.target), envelope.points if envelope else ())

    def x_of(self, seconds: float) -> float:
        return seconds / self.seconds * self.width

    def y_of(self, value: float) -> float:
        low, high = self._range()
        return (1.0 - (min(max(value, low), high) - low) / (high - low)) * (self.height - 1)

    def at_pixel(self, x: float, y: float) -> tuple[float, float]:
        low, high = self._range()
        return x / self.width * self.seconds, low + (1.0 - y / (self.height - 1)) * (high - low)

    def _mouse(self) -> tuple[float, float]:
        x, y = dpg.get_drawing_mouse_pos()
        return float(x), float(y)

    def _near(self, x: float, y: float) -> int | None:
        envelope = self.envelope
        if envelope is None:
            return None
        best, index = float(px(GRAB_PIXELS)), None
        for i, p in enumerate(envelope.points):
            distance = math.hypot(self.x_of(p.time) - x, self.y_of(p.value) - y)
            if distance <= best:
                best, index = distance, i
        return index

    def _pressed(self) -> None:
        x, y = self._mouse()
        index = self._near(x, y)
        if index is None:
            self.add(*self.at_pixel(x, y))
        else:
            self.selected = index
            self._drag = index
            self._shape_shown()

    def _right_clicked(self) -> None:
        index = self._near(*self._mouse())
        if index is not None:
            self.remove(index)

    def _shape_shown(self) -> None:
        envelope = self.envelope
        if envelope is not None and self.selected is not None and self.selected < len(envelope.points):
            dpg.set_value(self.shape, envelope.points[self.selected].shape)

    # -- each frame --------------------------------------------------------------------

    def poll(self, position_seconds: float | None, playing: bool) -> None:
        """Follow a drag (the move lands, one undo step, on release), the playhead, and the control."""
        if not self.alive:
            return
        if self._drag is not None:
            if dpg.is_mouse_button_down(dpg.mvMouseButton_Left):
                self._drag_to = self.at_pixel(*self._mouse())
            else:
                index, to = self._drag, self._drag_to
                self._drag = self._drag_to = None
                if to is not None:
                    self.move(index, *to)
        self.app.writes.show(self)  # the light, and the control in red, while a pass writes it
        self.written = self.app.writes.report(self.track, self.target) if self.writing else None
        if position_seconds is not None:
            self.playhead = position_seconds
            envelope = self.envelope
            # a written control shows the hand's value; an envelope off, the control's own
            if playing and envelope is not None and not self.writing and envelope.mode != "off":
                self.show_on_control(value_at(envelope, position_seconds, self.app.session.sample_rate))
        if self._state() != self._drawn:  # redrawn when something moved, not every frame
            self.draw()

    def show_on_control(self, value: float) -> None:
        """The automated control moves with playback (shown, not written: the envelope is what plays)."""
        target = self.target
        if isinstance(target, SlotTarget):
            for panel in self.app.panels:
                item = (panel.mix if target.parameter == MIX else panel.controls.get(target.parameter)) \
                    if panel.alive and panel.slot is target.slot else None
                if item and "Slider" in dpg.get_item_type(item) and not dpg.is_item_active(item):
                    dpg.set_value(item, value)
            return
        view = self.app.view(self.track)
        if view is None:
            return
        if isinstance(target, SendTarget):
            row = view.routing.sends.get(target.send.bus) if view.routing is not None else None
            if row is not None and not dpg.is_item_active(row.level):
                dpg.set_value(row.level, max(float(dpg.get_item_configuration(row.level)["min_value"]), value))
            return
        if self.target.control == "gain_db":
            view.fader.show(value)
            dpg.set_value(view.gain_text, view.fader.text)
        elif self.target.control == "pan" and view.pan:
            dpg.set_value(view.pan, value)

    def _state(self) -> tuple:
        """What the lane is drawn from besides its envelope (redrawn when any of it moves)."""
        return (self.playhead, self._drag_to, self.app.session.loop, self.width, self.height, self.seconds,
                self.written)

    def draw(self) -> None:
        self._drawn = self._state()
        width = self.width
        if (dpg.get_item_width(self.canvas), dpg.get_item_height(self.canvas)) != (width, self.height):
            dpg.configure_item(self.canvas, width=width, height=self.height)
        dpg.delete_item(self.canvas, children_only=True)
        envelope = self.envelope
        dpg.draw_rectangle((0, 0), (width - 1, self.height - 1), color=(60, 64, 72), fill=(28, 30, 35),
                           parent=self.canvas)
        loop = self.app.session.loop
        if loop is not None:
            fill = LOOP if loop.on else (*LOOP[:3], 30)
            dpg.draw_rectangle((self.x_of(loop.start), 0), (self.x_of(loop.end), self.height - 1), color=fill,
                               fill=fill, parent=self.canvas)
        timeline = getattr(self.app, "timeline", None)
        step = tick_step(self.seconds, width) if timeline is not None else (1.0 if self.seconds <= 30 else 10.0)
        for i in range(int(self.seconds / step) + 1):
            x = self.x_of(i * step)
            dpg.draw_line((x, 0), (x, self.height - 1), color=(44, 47, 54), parent=self.canvas)  # the ruler's grid
        low, high = self._range()
        middle = (low + high) / 2
        for value in (high, middle, low):  # the value scale, clear of the edges and of a point at 0 s
            y = min(max(self.y_of(value) - px(6), 2), self.height - px(15))
            dpg.draw_text((10, y), f"{value:g}", color=(140, 140, 140), size=px(12), parent=self.canvas)
        if envelope is not None and envelope.points:
            times = np.linspace(0.0, self.seconds, width // 2)
            curve = Curve(envelope, self.app.session.sample_rate)
            values = curve.at(np.round(times * self.app.session.sample_rate).astype(np.int64))
            dpg.draw_polyline([(self.x_of(t), self.y_of(v)) for t, v in zip(times, values)], color=LINE,
                              thickness=2, parent=self.canvas)
            for i, p in enumerate(envelope.points):
                dragged = i == self._drag and self._drag_to is not None
                t, v = self._drag_to if dragged else (p.time, p.value)  # type: ignore[misc]
                dpg.draw_circle((self.x_of(t), self.y_of(v)), px(5), color=POINT,
                                fill=POINT if i == self.selected else (0, 0, 0, 0), parent=self.canvas)
            unit = value_range(self.owner, self.target).unit
            dpg.set_value(self.readout, f"{len(envelope.points)} points; at the playhead "
                          f"{value_at(envelope, self.playhead, self.app.session.sample_rate):.2f} {unit}")
        self.pass_line = 0
        if self.written is not None:  # the pass being written: the value held, from its start to the playhead
            y = self.y_of(self.written.value)
            start = min(self.written.since, self.playhead)
            self.pass_line = dpg.draw_line((self.x_of(start), y), (self.x_of(self.playhead), y), color=WRITING,
                                           thickness=3, parent=self.canvas)
        x = self.x_of(self.playhead)
        dpg.draw_line((x, 0), (x, self.height - 1), color=PLAYHEAD, thickness=2, parent=self.canvas)

    def refresh(self) -> None:
        """After an edit or an undo: the lane closes with its envelope (or its strip), else redraws."""
        if self.alive and self.envelope is None:
            self.close()
        elif self.alive:
            self._length = None
            dpg.set_value(self.mode, self.envelope.mode)  # type: ignore[union-attr]
            dpg.set_value(self.glide, self._glide_ms())
            if self.selected is not None and self.selected >= len(self.envelope.points):  # type: ignore[union-attr]
                self.selected = None
            self._shape_shown()
            self.draw()

    @property
    def alive(self) -> bool:
        return bool(self.window) and dpg.does_item_exist(self.window)

    def close(self) -> None:
        if self.alive:
            dpg.delete_item(self.window)


def control_menu(handlers: int, entries: list[tuple[str, Any]]) -> int:
    """A right-click menu of ``entries`` (label, action) for the control whose handler registry is
    ``handlers``. Not ``dpg.popup``: that binds a registry of its own to the control, and the control's
    double-click and release handlers would be lost."""
    with dpg.window(popup=True, show=False, no_title_bar=True, autosize=True) as menu:
        for label, action in entries:
            dpg.add_menu_item(label=label, user_data=action,
                              callback=lambda s, a, u: (dpg.hide_item(menu), u()))
    dpg.add_item_clicked_handler(button=dpg.mvMouseButton_Right, parent=handlers,
                                 callback=lambda: dpg.configure_item(menu, show=True))
    return menu


AMBER_THEME = "rackhost-automated"  # a tag: each Dear PyGui context makes its own theme once


def mark_automated(item: int, automated: bool) -> None:
    """An automated control's text in amber (a send's slider, a parameter's); back to the theme's if not."""
    if not dpg.does_item_exist(AMBER_THEME):
        with dpg.theme(tag=AMBER_THEME), dpg.theme_component(dpg.mvAll):
            dpg.add_theme_color(dpg.mvThemeCol_Text, AUTOMATED)
    dpg.bind_item_theme(item, AMBER_THEME if automated else 0)


def automated_targets(owner: Any) -> set[str]:
    """The strip controls (``gain_db``, ``pan``, ``mute``) and sends (``send:BUS``) an envelope moves (one that
    is ``off`` moves nothing)."""
    names = set()
    for envelope in owner.automation:
        if envelope.mode == "off":
            continue
        if isinstance(envelope.target, StripTarget):
            names.add(envelope.target.control)
        elif isinstance(envelope.target, SendTarget):
            names.add(f"send:{envelope.target.send.bus}")
        elif isinstance(envelope.target, SlotTarget):
            names.add(f"{id(envelope.target.slot)}:{envelope.target.parameter}")
    return names
