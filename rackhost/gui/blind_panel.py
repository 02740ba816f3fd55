"""The blind-test panel of a strip (a track, a bus or the master): ABX or blind A/B between its A and B
settings, its chain and its input, or its chain with and without one slot.

The window holds the :class:`~rackhost.chain.blind.BlindTest` (the hidden draw)
and never shows it before the last answer: the buttons say X (or 1 and 2),
the strip says "blind test", and what plays is sent to the engine as the
strip's audition (a crossfade, loudness-matched as the strip's ``match`` is).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from rackhost.chain.blind import ANSWERS, BUTTONS, VERSUS, BlindTest, audition_for
from rackhost.gui.dialogs import DialogView, centre
from rackhost.gui.strip import strip_where
from rackhost.gui.theme import ACCENT, MUTED, WARNING
from rackhost.live.commands import BusRow

if TYPE_CHECKING:
    from rackhost.gui.host import BlindTestHost

MODES = {"ABX": "abx", "blind A/B": "ab"}
SIDES = {"A/B settings": "setting", "chain vs input": "input"}  # and one "slot N bypassed" per slot
# The 5 % line: below it a score is unlikely to be luck.
SIGNIFICANT = 0.05


class BlindTestPanel(DialogView):
    """A window running one blind test on ``strip``: a track's index, a bus (a :class:`BusRow`) or the master
    (None); closing it plays the strip as before."""

    TITLE = "Blind test"
    WIDTH, HEIGHT = 420, 322

    def __init__(self, app: BlindTestHost, strip: int | BusRow | None, seed: int | None = None):
        self.app = app
        self.strip = strip
        self.seed = seed  # None: a fresh draw every run (a test gives one to repeat it)
        owner = app.owner(strip)
        self.before = owner.audition  # what the strip played before: back to it when the panel closes
        self.test = BlindTest("abx", 10, seed)
        self.versus = "setting" if owner.ab.other is not None else "input"
        self.slot: int | None = None  # the slot compared bypassed (versus "slot")
        self._measured_slot: int | None = None
        self.playing: str | None = None  # the button last pressed
        self.play_buttons: dict[str, int] = {}
        self.answer_buttons: dict[str, int] = {}
        with dpg.window(label=f"{self.TITLE}: {strip_where(owner, strip)}", width=self.WIDTH, height=self.HEIGHT,
                        on_close=self.close) as self.window:
            with dpg.group(horizontal=True):
                self.mode = dpg.add_combo(list(MODES), default_value="ABX", width=100,
                                          callback=lambda: self.restart())
                self.sides = dpg.add_combo(list(self._sides()), width=170, callback=lambda: self.restart(),
                                           default_value=next(k for k, v in SIDES.items() if v == self.versus))
                dpg.add_text("trials")
                self.trials = dpg.add_input_int(default_value=10, min_value=1, max_value=100, min_clamped=True,
                                                max_clamped=True, width=50, step=0, callback=lambda: self.restart())
            self.caption = dpg.add_text("", color=MUTED)
            dpg.add_separator()
            self.listen = dpg.add_text("listen:")
            self.play_row = dpg.add_group(horizontal=True)
            self.question = dpg.add_text("")
            self.answer_row = dpg.add_group(horizontal=True)
            dpg.add_separator()
            self.count = dpg.add_text("", color=ACCENT)
            self.score = dpg.add_text("")
            self.reveal = dpg.add_text("", color=MUTED, wrap=self.WIDTH - 20)
            with dpg.group(horizontal=True):
                self.reset = dpg.add_button(label="reset", width=70, callback=lambda: self.restart())
                self.status = dpg.add_text("", color=MUTED, wrap=self.WIDTH - 100)
        centre(self.window, self.WIDTH, self.HEIGHT)
        measured = owner.audition.measured(owner.ab.active)
        self.restart()  # the other side starts running (not measured yet: that measures it)
        if owner.audition.match and self._measurable and measured:
            app.measure_audition(strip)  # again, both settings against the input: the chain may have changed

    # -- the run ------------------------------------------------------------------------------------

    def restart(self) -> None:
        """A new run with the chosen mode, sides and number of trials: no answers, a new hidden draw."""
        mode = MODES[dpg.get_value(self.mode)]
        sides = self._sides()  # the chain may have changed since the panel opened
        dpg.configure_item(self.sides, items=list(sides))
        self.versus, self.slot = sides.get(dpg.get_value(self.sides), ("input", None))
        self.test = BlindTest(mode, max(1, int(dpg.get_value(self.trials))), self.seed)
        self.playing = None
        owner = self.app.owner(self.strip)
        caption = VERSUS[self.versus]
        if self.slot is not None:
            caption = f"A: the chain, B: the chain with {owner.chain[self.slot].name} bypassed"
        dpg.set_value(self.caption, caption)
        for row, buttons, names, width in ((self.play_row, self.play_buttons, BUTTONS[mode], 50),
                                           (self.answer_row, self.answer_buttons, ANSWERS[mode], 120)):
            dpg.delete_item(row, children_only=True)
            buttons.clear()
            for name in names:
                if row == self.play_row:
                    buttons[name] = dpg.add_button(label=name, width=width, parent=row, user_data=name,
                                                   callback=lambda s, a, u: self.play(u))
                else:
                    label = f"X is {name}" if mode == "abx" else f"{name} is better"
                    buttons[name] = dpg.add_button(label=label, width=width, parent=row, user_data=name,
                                                   callback=lambda s, a, u: self.answer(u))
        dpg.set_value(self.question, "what is X?" if mode == "abx" else "which do you prefer?")
        dpg.set_value(self.reveal, "")
        if self.versus == "setting" and owner.ab.other is None:
            self._say(f"this {self._kind} has no B setting yet: make one with the strip's A|b (or A>B), or "
                      f"compare the chain against its input", WARNING)
        else:
            self._say("")
            # The other side starts running beside the chain now (a rebuild), still playing what played: a
            # first press of X then crossfades like every other switch, where a rebuild to the hidden side
            # would jump, and only when X is the other side (a click that gives it away).
            self._send("A" if self.versus != "setting" else owner.ab.active)
        self._show()

    def play(self, button: str) -> None:
        """Play what ``button`` stands for in this trial (X: the hidden side), crossfaded."""
        if self.versus == "setting" and self.app.owner(self.strip).ab.other is None:
            return
        self.playing = button
        self._send(self.test.side_for(button))
        self._show()

    def _send(self, side: str) -> None:
        """Play ``side`` (A or B) of the test on the strip, matched as the strip was."""
        owner = self.app.owner(self.strip)
        audition = owner.audition if owner.audition.blind else self.before
        self.app.set_audition(self.strip, audition_for(audition, self.versus, side,  # type: ignore[arg-type]
                                                       owner.ab.active, self.slot))
        if self.slot is not None and self.slot != self._measured_slot and audition.match and self._measurable:
            self._measured_slot = self.slot
            self.app.measure_audition(self.strip)  # the chain with that slot bypassed, matched too

    def _sides(self) -> dict[str, tuple[str, int | None]]:
        """What the test may compare: the A/B settings, the chain and its input, or the chain and the chain with
        one of its plug-in slots bypassed."""
        chain = self.app.owner(self.strip).chain
        sides: dict[str, tuple[str, int | None]] = {label: (versus, None) for label, versus in SIDES.items()}
        for index, slot in enumerate(chain):
            if hasattr(slot, "plugin"):  # a split's plug-ins sit in its branches
                sides[f"slot {index + 1} bypassed: {slot.name}"] = ("slot", index)
        return sides

    @property
    def _kind(self) -> str:
        return "master" if self.strip is None else "bus" if isinstance(self.strip, BusRow) else "track"

    @property
    def _measurable(self) -> bool:
        """Whether matching can measure the strip now: a track's file (one with none is matched on what it
        plays, from its strip), or the mix feeding a bus or the master (the window says if no file plays in)."""
        return not isinstance(self.strip, int) or self.app.owner(self.strip).source is not None

    def answer(self, answer: str) -> None:
        if self.test.finished:
            return
        self.test.answer(answer)
        if not self.test.finished and self.playing in ("X", "1", "2"):
            self.play(self.playing)  # the next trial's X may be the other side
        self._show()

    # -- what the window shows ----------------------------------------------------------------------

    def _show(self) -> None:
        test = self.test
        for name, item in self.play_buttons.items():
            dpg.bind_item_theme(item, _playing_theme() if name == self.playing else 0)
        for item in self.answer_buttons.values():
            dpg.configure_item(item, enabled=not test.finished)
        done = len(test.answered)
        dpg.set_value(self.count, f"trial {min(test.trial, test.trials)} of {test.trials}"
                      + (" - finished" if test.finished else ""))
        dpg.set_value(self.score, test.summary())
        if done:
            significant = test.p_value < SIGNIFICANT
            dpg.configure_item(self.score, color=ACCENT if significant else WARNING)
        if test.finished:
            lines = []
            for n, trial in enumerate(test.reveal(), 1):
                if test.mode == "abx":
                    lines.append(f"{n}: X was {trial.hidden}, {'right' if trial.correct else 'wrong'}")
                else:
                    lines.append(f"{n}: 1 was {trial.hidden}, chose {trial.chosen}")
            verdict = ("a difference is heard (p < 0.05)" if test.p_value < SIGNIFICANT
                       else "no proof of a difference (p >= 0.05)")
            dpg.set_value(self.reveal, f"{verdict}\n" + "; ".join(lines))

    def close(self) -> None:
        """Close the window; the strip plays what it played before the test."""
        if dpg.does_item_exist(self.window):
            owner = self.app.owner(self.strip) if self.app.has_owner(self.strip) else None
            if owner is not None and owner.audition.blind:
                self.app.set_audition(self.strip, replace(self.before, offsets=owner.audition.offsets))
        super().close()

    @property
    def alive(self) -> bool:
        return dpg.does_item_exist(self.window)


# A tag, not a kept id: each Dear PyGui context makes its own theme once, and an id kept from an earlier context
# may name another item of a later one ("Item not a theme" when a second window opens in the same process).
PLAYING_THEME = "rackhost-blind-playing"


def _playing_theme() -> str:
    """The button whose side plays now (one theme for every panel)."""
    if not dpg.does_item_exist(PLAYING_THEME):
        with dpg.theme(tag=PLAYING_THEME), dpg.theme_component(dpg.mvButton):
            dpg.add_theme_color(dpg.mvThemeCol_Button, (*ACCENT, 200))
    return PLAYING_THEME
