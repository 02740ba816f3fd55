"""A strip's routing: where its output goes (the master or a bus) and its sends, each editable.

Part of a track's or a bus's strip (:mod:`rackhost.gui.strip`). It reads the
strip's model and hands every change to its host (:class:`rackhost.gui.host.RoutingViewHost`):
the session's undoable editor makes it (a loop or a missing bus is refused
there, and said), and the engine follows. It keeps only widget ids.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from rackhost.chain.automation import SendTarget
from rackhost.chain.bus import MAX_SEND_DB
from rackhost.chain.midi.mapping import MappingTarget
from rackhost.gui.automation_lane import control_menu
from rackhost.gui.scale import px
from rackhost.gui.text import CHAR, cut
from rackhost.gui.theme import MUTED
from rackhost.live.commands import BusRow

if TYPE_CHECKING:
    from rackhost.gui.host import RoutingViewHost

MASTER = "master"
ADD_SEND = "+ send..."
SEND_FLOOR_DB = -60.0  # the slider's bottom; a send there or below shows -inf
SEND_TOOLS = 93  # a send row's pre/post button, M box and x button, with the gaps between them
SEND_TIP = ("Drag the level (double-click: 0 dB, Ctrl+click to type); pre/post: taken before or after this "
            "strip's fader and pan (click to switch); M: mute the send; x: remove it.")


def output_choices(strip: Any, busses: list[Any]) -> list[str]:
    """Where ``strip`` may send its output: the master, or any bus but itself."""
    return [MASTER] + [b.name for b in busses if b is not strip]


def send_choices(strip: Any, busses: list[Any]) -> list[str]:
    """The busses ``strip`` does not send to yet (one send per bus), itself left out."""
    taken = {s.bus for s in strip.sends}
    return [b.name for b in busses if b is not strip and b.name not in taken]


def learn_target(key: Any, kind: str, **fields: Any) -> MappingTarget:
    """The mapping target of a control on the strip ``key`` (a track's index, a ``BusRow``, None: the master)."""
    if isinstance(key, BusRow):
        return MappingTarget(None, kind, bus=key.index, **fields)  # type: ignore[arg-type]
    return MappingTarget(key, kind, **fields)  # type: ignore[arg-type]


class RoutingView:
    """The output selector (:meth:`build_output`) and one row per send (:meth:`build_sends`), each built in the
    current container where the strip puts it (the output near the top, the sends after the inserts)."""

    def __init__(self, host: RoutingViewHost, key: Any, strip: Any, busses: list[Any], *, narrow: bool = False,
                 width: int = 0):
        self.host = host
        self.width = width  # the strip's inner width in pixels (0: unknown)
        self.key = key
        self.strip = strip
        self.busses = busses
        self.narrow = narrow  # a narrow strip's send sliders are shorter
        self.output = self.add_send = 0
        self.sends: dict[str, SendRow] = {}

    def build_output(self) -> None:
        host, key = self.host, self.key
        with dpg.group(horizontal=True):
            dpg.add_text("out", color=MUTED)
            self.output = dpg.add_combo(output_choices(self.strip, self.busses),
                                        default_value=self.strip.output or MASTER,
                                        width=-1, callback=lambda s, v: host.set_output(key, v))

    def build_sends(self) -> None:
        host, key = self.host, self.key
        for send in self.strip.sends:
            self.sends[send.bus] = SendRow(host, key, send, narrow=self.narrow, width=self.width)
        choices = send_choices(self.strip, self.busses)
        self.add_send = dpg.add_combo([ADD_SEND] + choices, default_value=ADD_SEND, width=-1, show=bool(choices),
                                      callback=lambda s, v: host.add_send(key, v) if v != ADD_SEND else None)

    def refresh(self, strip: Any) -> None:
        for send in strip.sends:
            if send.bus in self.sends:
                self.sends[send.bus].refresh(send)


class SendRow:
    """One send in two rows: the bus it feeds and its level in words, then the level's slider, pre/post, mute,
    remove. The words sit above the slider, not in it: the slider's handle covered them."""

    def __init__(self, host: RoutingViewHost, key: Any, send: Any, *, narrow: bool = False, width: int = 0):
        bus = send.bus

        def level_changed(sender: int, value: float) -> None:
            level = -math.inf if value <= SEND_FLOOR_DB else value  # the slider's bottom is silence
            dpg.set_value(self.value, send_text(level))
            host.set_send_level(key, bus, level)

        with dpg.group() as self.row:
            with dpg.group(horizontal=True):
                # A long bus name is cut (whole in the tooltip); the level always shows whole.
                self.name = dpg.add_text(cut(f"to {bus}", (width or px(200)) - px(10 * CHAR)), color=MUTED)
                self.value = dpg.add_text(send_text(send.level_db))
            with dpg.group(horizontal=True):
                # A full strip's slider takes what pre/post, M and x leave (a wide strip: a longer throw).
                self.level = dpg.add_slider_float(width=px(40) if narrow else -px(SEND_TOOLS),
                                                  min_value=SEND_FLOOR_DB, max_value=MAX_SEND_DB,
                                                  default_value=max(SEND_FLOOR_DB, send.level_db),
                                                  format="", callback=level_changed)
                self.pre = dpg.add_button(label="pre" if send.pre_fader else "post", width=px(32 if narrow else 34),
                                          callback=lambda: host.set_send_pre_fader(key, bus, not send.pre_fader))
                self.mute = dpg.add_checkbox(label="M", default_value=send.muted,
                                             callback=lambda s, v: host.set_send_muted(key, bus, v))
                self.remove = dpg.add_button(label="x", width=px(16), callback=lambda: host.remove_send(key, bus))
        for item in (self.name, self.value, self.level):
            with dpg.tooltip(item):
                dpg.add_text(f"send to {bus}: level in dB (the bottom is -inf). " + SEND_TIP, wrap=320)
        with dpg.item_handler_registry() as handlers:
            dpg.add_item_deactivated_after_edit_handler(callback=lambda *_: host.session.history.seal())
            dpg.add_item_double_clicked_handler(
                callback=lambda *_: (level_changed(self.level, 0.0), host.session.history.seal()))
        self.menu = control_menu(handlers, [("Automate", lambda: host.open_lane(key, SendTarget(send))),
                                            ("Learn MIDI",
                                             lambda: host.learn_midi(learn_target(key, "send", send=bus)))])
        dpg.bind_item_handler_registry(self.level, handlers)

    def refresh(self, send: Any) -> None:
        """Show the model's level and mute (a controller, undo of a drag)."""
        if not dpg.is_item_active(self.level):
            dpg.set_value(self.level, max(SEND_FLOOR_DB, send.level_db))
            dpg.set_value(self.value, send_text(send.level_db))
        dpg.set_value(self.mute, send.muted)


def send_text(level_db: float) -> str:
    """A send's level as its row shows it: ``-12.0 dB``, ``+3.0 dB``, ``-inf`` at the slider's bottom."""
    if level_db <= SEND_FLOOR_DB:
        return "-inf"
    return f"{level_db:+.1f} dB" if level_db > 0 else f"{level_db:.1f} dB"
