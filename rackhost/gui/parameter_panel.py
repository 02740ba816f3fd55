"""A slot's parameter panel: every control as a slider, checkbox or combo; outputs listed read-only.

Values are typed with Ctrl+click on a slider (Dear PyGui's own), a
double-click puts a control back to its default, and releasing a control
ends the gesture, so one drag is one undo step. Plug-ins with thousands of
parameters (DPF instruments) are filtered by the search box and shown a
page at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from rackhost.chain.automation import MIX, SlotTarget
from rackhost.chain.chain import Slot
from rackhost.chain.midi.mapping import MappingTarget
from rackhost.chain.parameters import ParameterInfo
from rackhost.gui.automation_lane import automated_targets, control_menu, mark_automated
from rackhost.gui.dialogs import centre
from rackhost.gui.routing_view import learn_target
from rackhost.gui.scale import px
from rackhost.gui.text import cut
from rackhost.gui.theme import MUTED

if TYPE_CHECKING:
    from rackhost.gui.host import ParameterPanelHost

SHOWN_AT_ONCE = 120
LABEL_WIDTH = 170  # the labels' column at 1x: 23 characters ("sidechain high pass (Hz)" is cut, whole on hover)
NO_KEY = "no key"
KEY_TIP = ("key (sidechain): the track or bus this plug-in's detector hears, taken after its fader and pan (post) "
           "or before them (pre; click to switch): music ducked under a voice, a gate opened by a kick. Plug-ins "
           "with a key input: ")


def key_sources(session: Any, owner: Any) -> list[str]:
    """What a slot on ``owner`` (a track, a bus or the master) may be keyed from: every other track and bus."""
    return [t.name for t in session.tracks if t is not owner] + [b.name for b in session.busses if b is not owner]


def takes_key_here(track: Any, slot: Slot) -> bool:
    """A key selector belongs in the panel of a plug-in slot (pedalboard's built-ins have no key input)."""
    return not slot.plugin.is_builtin or slot.key is not None


# How a parameter's name spells the unit at its end (pedalboard's ``threshold_db``, ``delay_seconds``): that word
# goes, and the unit is said once, in its own spelling, in brackets.
UNIT_WORDS = {"db": "dB", "ms": "ms", "hz": "Hz", "khz": "kHz", "s": "s", "seconds": "s", "pct": "%", "percent": "%",
              "lufs": "LUFS"}


def parameter_label(info: ParameterInfo) -> str:
    """``threshold (dB)`` for ``threshold_db``, ``attack (ms)`` for a plug-in's ``attack`` in ms, ``ratio``."""
    words = info.name.split("_")
    unit = info.unit.strip()
    spelled = UNIT_WORDS.get(words[-1].lower()) if len(words) > 1 else None
    if spelled is not None and (not unit or unit == spelled):
        words, unit = words[:-1], spelled
    return " ".join(words) + (f" ({unit})" if unit else "")


def step_text(steps: tuple[float, ...], value: Any) -> str:
    """The step nearest ``value`` as a stepped parameter's list shows it (1.0 -> "1"); ``float()`` reads it back."""
    return f"{min(steps, key=lambda step: abs(step - float(value))):g}"


def switched_on(steps: tuple[float, ...], value: Any) -> bool:
    """A two-step parameter's value is nearer its upper step (the plug-in may report 0.9999 for 1)."""
    return abs(float(value) - steps[1]) < abs(float(value) - steps[0])


class ParameterPanel:
    def __init__(self, app: ParameterPanelHost, track: Any, index: Any):
        """``track``: a track's index, a ``BusRow``, or None for the master; ``index``: the slot's place in its
        chain, or its path into a split's branches (a tuple)."""
        self.app = app
        self.track = track
        self.index = index
        self.in_split = not isinstance(index, int)  # a plug-in in a split's branch: no key (a split takes none)
        self.slot: Slot = app.slot_at(track, index)
        self.controls: dict[str, int] = {}
        self.labels: dict[str, int] = {}  # each parameter's label, in the column before its control
        self.outputs: dict[str, int] = {}
        self.menus: dict[str, int] = {}  # each control's right-click menu (Automate, Learn MIDI), by parameter
        plugin = self.slot.plugin
        where = "master" if track is None else app.owner(track).name
        with dpg.window(label=f"{where}: {self.slot.name}", width=440, height=520, no_collapse=True,
                        on_close=lambda: self.close()) as self.window:
            note = getattr(plugin, "note", None)
            if note:
                dpg.add_text(note, color=MUTED, wrap=410)
            with dpg.group(horizontal=True):
                self.bypass = dpg.add_checkbox(label="bypass", default_value=self.slot.bypass,
                                               callback=lambda s, v: self.app.set_bypass(self.track, self.index, v))
                # Its label before it, as the form's below (Dear PyGui would put it after the slider); set apart
                # from "bypass", the checkbox's own label, so the two do not read as one.
                dpg.add_spacer(width=px(8))
                self.mix_label = dpg.add_text("wet/dry")
                self.mix = dpg.add_slider_float(min_value=0.0, max_value=1.0, width=150,
                                                default_value=self.slot.mix, format="%.2f",
                                                callback=lambda s, v: self.app.set_mix(self.track, self.index, v))
                self._gesture(self.mix, lambda: self.app.set_mix(self.track, self.index, 1.0), name=MIX)
                # What this one plug-in changes, latency-aligned (a compressor: what it takes away).
                self.delta = dpg.add_checkbox(label="delta", default_value=self.slot.delta,
                                              callback=lambda s, v: self.app.set_slot_delta(self.track, self.index, v))
                with dpg.tooltip(self.delta):
                    dpg.add_text("delta: hear what this slot changes (its output minus its latency-aligned input); "
                                 "the slots after it hear that too. Not saved.", wrap=360)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Replace...", callback=lambda: self.app.open_browser(self.track, self.index))
                # Parallel processing (parallel compression): the slot beside a dry branch, in a split.
                self.parallel = dpg.add_button(label="Parallel", callback=lambda: self.app.make_split(self.track,
                                                                                                     self.index))
                if not plugin.is_builtin and plugin.parameters:
                    dpg.add_button(label="Open editor", callback=lambda: self.app.open_editor(self.track, self.index))
                dpg.add_text(f"{len(plugin.controls())} controls", color=MUTED)
            self.key = self.key_tap = 0
            if takes_key_here(track, self.slot) and not self.in_split:
                self._key_row(app.owner(track))
            self.search = dpg.add_input_text(hint="filter parameters", width=-1, callback=lambda *_: self.filter())
            with dpg.child_window(border=False) as self.body:
                pass
        centre(self.window, 440, 520)
        self.filter()

    def _key_row(self, owner: Any) -> None:
        """The key selector: no key, or any track or other bus; post/pre switches where it is taken."""
        key = self.slot.key
        with dpg.group(horizontal=True):
            dpg.add_text("key", color=MUTED)
            self.key = dpg.add_combo([NO_KEY, *key_sources(self.app.session, owner)], width=220,
                                     default_value=key.source if key is not None else NO_KEY,
                                     callback=lambda s, v: self.choose_key(None if v == NO_KEY else v))
            self.key_tap = dpg.add_button(label="pre" if key is not None and key.pre_fader else "post", width=40,
                                          callback=lambda: self.switch_key_tap())
        from rackhost.chain.keyed import keyed_plugins  # a folder listing: nothing is loaded

        for item in (self.key, self.key_tap):
            with dpg.tooltip(item):
                dpg.add_text(KEY_TIP + (", ".join(sorted(keyed_plugins())) or "none found (run 'make plugins')"),
                             wrap=380)

    def choose_key(self, source: str | None) -> None:
        """Key the slot from ``source`` (None: no key), tapped where the post/pre button says."""
        pre = dpg.get_item_label(self.key_tap) == "pre"
        self.app.set_key(self.track, self.index, source, pre)

    def switch_key_tap(self) -> None:
        """Post <-> pre: an edit of the key if there is one, else where the next key will be taken."""
        pre = dpg.get_item_label(self.key_tap) != "pre"
        if self.slot.key is not None:
            self.app.set_key(self.track, self.index, self.slot.key.source, pre)
        else:
            dpg.configure_item(self.key_tap, label="pre" if pre else "post")

    # -- drawing --------------------------------------------------------------------------

    def filter(self, text: str | None = None) -> list[str]:
        """Draw the parameters whose name contains the filter text (a page at most); returns their names."""
        if text is not None:
            dpg.set_value(self.search, text)
        text = dpg.get_value(self.search).strip().lower()
        dpg.delete_item(self.body, children_only=True)
        self.controls, self.labels, self.outputs = {}, {}, {}
        plugin = self.slot.plugin
        infos = [i for i in plugin.parameters.values()
                 if text in i.name.lower() or text in parameter_label(i).lower()]  # "threshold (db" too
        # A form: each label before its control, in a column of its own so the controls line up (Dear PyGui
        # puts an item's label after it), as the MIDI panel and Audio settings have them.
        with dpg.table(header_row=False, policy=dpg.mvTable_SizingFixedFit, parent=self.body) as self.form:
            dpg.add_table_column(width_fixed=True, init_width_or_weight=px(LABEL_WIDTH))
            dpg.add_table_column(width_stretch=True)
            for info in infos[:SHOWN_AT_ONCE]:
                with dpg.table_row() as row:
                    self.labels[info.name] = self._label(parameter_label(info))
                    self.controls[info.name] = self._control(info, plugin.get(info.name), row)
        if len(infos) > SHOWN_AT_ONCE:
            dpg.add_text(f"... {len(infos) - SHOWN_AT_ONCE} more: type in the filter to find them",
                         parent=self.body, color=MUTED)
        self._mark_automated()
        return list(self.controls)

    def _mark_automated(self) -> None:
        """The controls an envelope moves, in amber."""
        moved = automated_targets(self.app.owner(self.track))
        for name, item in [*self.controls.items(), (MIX, self.mix)]:
            mark_automated(item, f"{id(self.slot)}:{name}" in moved)
            label = self.mix_label if name == MIX else self.labels.get(name)
            if label is not None:
                mark_automated(label, f"{id(self.slot)}:{name}" in moved)

    def _label(self, label: str) -> int:
        """A parameter's label in the form's first column: cut to it with "..", whole on hover."""
        shown = cut(label, px(LABEL_WIDTH))
        item = dpg.add_text(shown)
        if shown != label:
            with dpg.tooltip(item):
                dpg.add_text(label)
        return item

    def _control(self, info: ParameterInfo, value: Any, row: int) -> int:
        """The control of one parameter, in the form's second column (``row``); its label is the first's."""
        def set_value(sender: int, value: Any, name: str) -> None:
            self.app.set_parameter(self.track, self.index, name, value)

        if info.role == "output":
            # A meter the plug-in reports (gain reduction, a level): read-only. pedalboard does not pass
            # VST3 output values back to the host (they stay at their defaults), so it shows the range.
            span = f"{info.minimum:g}..{info.maximum:g} {info.unit}".strip() if info.type == "float" else info.type
            item = dpg.add_text(f"output meter ({span}), not reported by the host library", parent=row, color=MUTED,
                                wrap=0)  # 0: at the column's edge
            self.outputs[info.name] = item
            return item
        if info.type == "bool":
            item = dpg.add_checkbox(default_value=bool(value), parent=row, callback=set_value, user_data=info.name)
        elif len(info.selector) == 2:  # a plug-in's on/off switch, reported as a float with two steps
            off, on = info.selector
            item = dpg.add_checkbox(default_value=switched_on(info.selector, value), parent=row,
                                    callback=lambda s, v, name: set_value(s, on if v else off, name),
                                    user_data=info.name)
        elif info.selector:  # a selector: one entry per step the plug-in reports
            item = dpg.add_combo([step_text(info.selector, v) for v in info.selector],
                                 default_value=step_text(info.selector, value),
                                 width=-1, parent=row, user_data=info.name,
                                 callback=lambda s, v, name: set_value(s, float(v), name))
        elif info.type == "choice":
            item = dpg.add_combo(list(info.choices), default_value=str(value), width=-1, parent=row,
                                 callback=set_value, user_data=info.name)
        elif info.type == "float":
            # The precision the value is saved with: 0.08 dB steps show "-18.00", a built-in "-18.3".
            item = dpg.add_slider_float(default_value=float(value), min_value=float(info.minimum),
                                        max_value=float(info.maximum), width=-1, format=info.display_format,
                                        parent=row, callback=set_value, user_data=info.name)
        else:  # a file path, set when the plug-in is made
            return dpg.add_text(str(value), parent=row, color=MUTED, wrap=0)
        reset = (lambda name=info.name, d=info.default: self.reset(name, d)) if info.default is not None else None
        place = (self.index,) if isinstance(self.index, int) else tuple(self.index)
        learn = learn_target(self.track, "parameter", slot=place[0], parameter=info.name, path=place[1:])
        self._gesture(item, reset, learn, info.name)
        return item

    def _gesture(self, item: int, reset: Any, learn: MappingTarget | None = None, name: str | None = None) -> None:
        """Double-click resets; letting go ends the undo step; right-click: Automate, Learn MIDI."""
        with dpg.item_handler_registry() as handlers:
            if reset is not None:
                dpg.add_item_double_clicked_handler(callback=lambda *_: reset())
            dpg.add_item_deactivated_after_edit_handler(callback=lambda *_: self.app.session.history.seal())
        entries = []
        if name is not None:  # a plug-in in a split's branch too: its envelope is the strip's, as any slot's
            target = SlotTarget(self.slot, name)
            entries.append(("Automate", lambda: self.app.open_lane(self.track, target)))
        if learn is not None:
            entries.append(("Learn MIDI", lambda: self.app.learn_midi(learn)))
        menu = control_menu(handlers, entries)
        if name is not None:
            self.menus[name] = menu
        dpg.bind_item_handler_registry(item, handlers)

    def reset(self, name: str, default: Any) -> None:
        self.app.session.history.seal()  # a double-click is a gesture of its own
        self.app.set_parameter(self.track, self.index, name, default)
        self.app.session.history.seal()
        self.refresh()

    # -- each frame -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Show the model's values (after undo, or output meters moving)."""
        if not self.alive:
            return
        plugin = self.slot.plugin
        for name, item in self.controls.items():
            info = plugin.parameters[name]
            value = plugin.get(name)
            if info.role == "output":
                continue
            if dpg.is_item_active(item):
                continue
            if len(info.selector) == 2:
                dpg.set_value(item, switched_on(info.selector, value))
            elif info.selector:
                dpg.set_value(item, step_text(info.selector, value))
            elif info.type in ("bool", "choice", "float"):
                dpg.set_value(item, float(value) if info.type == "float" else value)
        dpg.set_value(self.bypass, self.slot.bypass)
        dpg.set_value(self.mix, self.slot.mix)
        dpg.set_value(self.delta, self.slot.delta)
        self._mark_automated()
        if self.key:  # the key the slot has (a refused choice shows the one it kept; undo)
            key = self.slot.key
            dpg.configure_item(self.key, items=[NO_KEY, *key_sources(self.app.session, self.app.owner(self.track))])
            dpg.set_value(self.key, key.source if key is not None else NO_KEY)
            if key is not None:
                dpg.configure_item(self.key_tap, label="pre" if key.pre_fader else "post")

    @property
    def alive(self) -> bool:
        return dpg.does_item_exist(self.window)

    def close(self) -> None:
        if self.alive:
            dpg.delete_item(self.window)

