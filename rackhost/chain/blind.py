"""Blind tests: ABX and blind A/B, with a score and the probability of reaching it by guessing.

A listener who says "B sounds better" while seeing which side is B may be
hearing the label. :class:`BlindTest` hides the sides: in an ABX trial X is A
or B at random and the listener says which; in a blind A/B trial the sides
are played as 1 and 2 in a random order and the listener says which they
prefer. The score's p-value is the chance of doing at least as well by
guessing (a coin per trial), so a score of 9 of 10 (p = 0.011) proves the
listener hears a difference, where 6 of 10 (p = 0.38) proves nothing.

The model knows nothing of audio: :func:`side_for` says which side a button
plays, and the window (or a script) turns that into an
:class:`~rackhost.chain.audition.Audition` of the strip under test: a track, a
bus or the master (:func:`blind_audition`), whose audition stage plays it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Literal

from rackhost.chain.audition import Audition, Auditioned
from rackhost.errors import RackhostError

Mode = Literal["abx", "ab"]
Side = Literal["A", "B"]
MODES = ("abx", "ab")
# What a listener may press: the open sides and the hidden one (ABX), or the two hidden ones (blind A/B).
BUTTONS: dict[str, tuple[str, ...]] = {"abx": ("A", "B", "X"), "ab": ("1", "2")}
# What the two sides of a test on a strip (a track, a bus or the master) are.
VERSUS = {"setting": "A: the A setting, B: the B setting",
          "input": "A: the chain, B: its input (the chain bypassed)",
          "slot": "A: the chain, B: the chain with one slot bypassed"}
# What a listener may answer: what X is (ABX), or which of the two they prefer (blind A/B).
ANSWERS: dict[str, tuple[str, ...]] = {"abx": ("A", "B"), "ab": ("1", "2")}


class BlindTestError(RackhostError):
    """A blind test was asked something it cannot do now (an answer after the last trial, a reveal before it)."""


def binomial_tail(successes: int, trials: int) -> float:
    """P(at least ``successes`` of ``trials`` by guessing), each guess right with probability 1/2.

    The one-sided p-value of an ABX score (exact, from the binomial distribution).
    """
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(f"a score is 0..trials right of trials >= 0; got {successes!r} of {trials!r}")
    return math.fsum(math.comb(trials, k) for k in range(successes, trials + 1)) / 2.0**trials


@dataclass(frozen=True)
class Trial:
    """One answered trial: what was hidden, what the listener said, and the side that answer points at."""

    hidden: Side  # ABX: what X was; blind A/B: which side played as 1
    answer: str  # ABX: "A" or "B" (what X is); blind A/B: "1" or "2" (the one preferred)

    @property
    def chosen(self) -> Side:
        """The side the answer names: ABX, the side said to be X; blind A/B, the side preferred."""
        if self.answer in ("A", "B"):
            return self.answer  # type: ignore[return-value]
        return self.hidden if self.answer == "1" else _other(self.hidden)

    @property
    def correct(self) -> bool:
        """ABX: X was named right (meaningless in a blind A/B, where there is no right answer)."""
        return self.chosen == self.hidden


@dataclass
class BlindTest:
    """A run of ``trials`` blind trials between two sides, A and B, hidden by a seedable random draw per trial.

    ``seed`` None draws from the system's entropy (a listener cannot learn the
    order); a seed makes the run repeatable (tests, or a second listener given
    the same sequence).
    """

    mode: Mode = "abx"
    trials: int = 10
    seed: int | None = None
    answered: list[Trial] = field(default_factory=list)
    _rng: random.Random = field(init=False, repr=False)
    _hidden: Side = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"a blind test's mode is 'abx' or 'ab' (blind A/B); got {self.mode!r}")
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise ValueError(f"a blind test needs 1 or more trials; got {self.trials!r}")
        self.reset(self.seed)

    def reset(self, seed: int | None = None) -> None:
        """Start again: no answers, a new hidden draw (from ``seed`` if given)."""
        self.seed = seed
        self._rng = random.Random(seed)
        self.answered = []
        self._draw()

    def _draw(self) -> None:
        self._hidden = "A" if self._rng.random() < 0.5 else "B"

    @property
    def finished(self) -> bool:
        return len(self.answered) >= self.trials

    @property
    def trial(self) -> int:
        """The trial being played, 1-based (``trials`` + 1 once finished)."""
        return len(self.answered) + 1

    def side_for(self, button: str) -> Side:
        """The side a button plays in the current trial: A and B as named, X (or 1 and 2) as hidden."""
        if button not in BUTTONS[self.mode]:
            raise ValueError(f"a {self.mode_name} trial has the buttons {', '.join(BUTTONS[self.mode])}; "
                             f"got {button!r}")
        if button in ("A", "B"):
            return button  # type: ignore[return-value]
        return self._hidden if button in ("X", "1") else _other(self._hidden)

    def answer(self, answer: str) -> Trial:
        """Record the listener's answer to the current trial and draw the next one."""
        if answer not in ANSWERS[self.mode]:
            what = "what X is" if self.mode == "abx" else "which one is preferred"
            raise ValueError(f"a {self.mode_name} answer says {what}: one of {', '.join(ANSWERS[self.mode])}; "
                             f"got {answer!r}")
        if self.finished:
            raise BlindTestError(f"all {self.trials} trials are answered; reset the test to run it again")
        trial = Trial(self._hidden, answer)
        self.answered.append(trial)
        self._draw()
        return trial

    @property
    def mode_name(self) -> str:
        return "ABX" if self.mode == "abx" else "blind A/B"

    @property
    def score(self) -> int:
        """ABX: how many trials X was named right; blind A/B: how often the side preferred more was chosen."""
        if self.mode == "abx":
            return sum(t.correct for t in self.answered)
        return max(self.preferences().values())

    def preferences(self) -> dict[Side, int]:
        """How often each side was chosen (blind A/B: preferred; ABX: named as X)."""
        counts: dict[Side, int] = {"A": 0, "B": 0}
        for t in self.answered:
            counts[t.chosen] += 1
        return counts

    @property
    def p_value(self) -> float:
        """The chance of a score at least this good by guessing.

        ABX: one-sided binomial tail of the right answers. Blind A/B: the side
        preferred was not named before the test, so either side reaching the
        score counts (two-sided: twice the tail, at most 1).
        """
        n = len(self.answered)
        tail = binomial_tail(self.score, n)
        return tail if self.mode == "abx" else min(1.0, 2.0 * tail)

    def reveal(self) -> list[Trial]:
        """What was hidden in each trial, once every trial is answered (before that it would give the game away)."""
        if not self.finished:
            raise BlindTestError(f"the hidden sides are shown when the test ends ({self.trial - 1} of {self.trials} "
                                 f"answered); answer the rest, or reset")
        return list(self.answered)

    def summary(self) -> str:
        """One line for the listener: the score and its p-value, and once finished the verdict."""
        n = len(self.answered)
        if self.mode == "abx":
            text = f"{self.score}/{n} right, p = {self.p_value:.3f}" if n else "no answers yet"
        elif not self.finished:
            # Which side was chosen would tell the listener which side played as 1: named at the end only.
            text = f"{n} answered, the same side {self.score}/{n}, p = {self.p_value:.3f}" if n else "no answers yet"
        else:
            counts = self.preferences()
            text = f"A chosen {counts['A']}, B chosen {counts['B']}, p = {self.p_value:.3f}"
        return text


def audition_for(audition: Audition, versus: str, side: Side, active: str, slot: int | None = None) -> Audition:
    """The track's audition that plays ``side`` of a test between ``versus`` (see :data:`VERSUS`; ``slot``: the
    slot index for "slot"), matched as ``audition`` is; ``active``: the track's playing A/B setting. A test
    between settings or against a bypassed slot runs the other side beside the chain (``runs_other``), so
    every switch is a crossfade."""
    if versus not in VERSUS:
        raise ValueError(f"a blind test compares one of {', '.join(VERSUS)}; got {versus!r}")
    if (versus == "slot") != (slot is not None):
        raise ValueError("a blind test against a bypassed slot names the slot (slot=index), and only that one does")
    if versus == "input":
        return replace(audition, side="chain" if side == "A" else "input", delta=False, runs_other=False,
                       compare_slot=None, blind=True)
    if versus == "slot":
        return replace(audition, side="chain" if side == "A" else "other", delta=False, runs_other=True,
                       compare_slot=slot, blind=True)
    return replace(audition, side="chain" if side == active else "other", delta=False, runs_other=True,
                   compare_slot=None, blind=True)


def blind_audition(strip: Auditioned, versus: str, side: Side, slot: int | None = None) -> Audition:
    """The audition of ``strip`` (a track, a bus or the master) that plays ``side`` of a test between ``versus``
    (see :data:`VERSUS`; ``slot``: the slot index for "slot"), matched as the strip's audition is: give it to
    ``strip.audition`` before a render, or to ``engine.set_audition``. Raises :class:`BlindTestError` when the
    strip has no such side (no B setting yet, no such slot)."""
    if versus == "setting" and strip.ab.other is None:
        raise BlindTestError(f"{strip.strip_name} has no B setting yet to compare blind; make one "
                             f"(rackhost.chain.compare.switch), or compare its chain against its input")
    if slot is not None and not 0 <= slot < len(strip.chain):
        raise BlindTestError(f"{strip.strip_name} has no slot {slot + 1} to compare bypassed (its chain has "
                             f"{len(strip.chain)}); pick one of its slots")
    return audition_for(strip.audition, versus, side, strip.ab.active, slot)


def _other(side: Side) -> Side:
    return "B" if side == "A" else "A"
