"""Split slots: parallel paths inside a chain, summed back at their own levels.

A :class:`Split` stands in a chain's slot list next to plain slots. It holds
two or more :class:`Branch` es, each a sub-chain with a level in dB; the audio
reaching the split goes through every branch and the branches' outputs are
summed. A branch with no plug-ins is the dry path. This is parallel
compression (a crushed copy under the dry signal) or a dry/wet split with
different processing on each side.

Every branch is delayed to the latest one (a latent plug-in on one branch and
a dry branch still line up to the sample), and the split's latency is its
latest branch's. A mono branch beside a stereo one is added to both channels.

The summing is rackhost's own, not pedalboard's ``Mix`` (which sums its
plug-ins at one level): each branch runs as a chain does, latent plug-ins behind
the same FIFO as anywhere else, so its latency is known to the sample and the
others are delayed to it; and a branch may widen a mono signal the others keep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from rackhost.chain.dsp import DelayLine, carried, db_to_gain

Stage = Callable[[np.ndarray], np.ndarray]


class SubChain(Protocol):
    """What a branch needs of its chain (:class:`rackhost.chain.chain.Chain`, which imports this module, so
    this one names it only through this protocol and is handed the class by :func:`use_chain_class`)."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Any]: ...
    def plugin_slots(self) -> Iterator[Any]: ...
    def _layout(self, channels: int, sample_rate: float, keep_mono: bool) -> tuple[list[str], int]: ...
    def latency(self, sample_rate: float, block: int) -> int: ...
    def reset(self) -> None: ...
    def clone(self, flush: bool = True) -> SubChain: ...
    def processor(self, channels: int, sample_rate: float, max_block: int, max_segment: int | None = None,
                  keep_mono: bool = False, automated: Any = None) -> Any: ...


_chain_class: Callable[[], SubChain] | None = None


def use_chain_class(chain_class: Callable[[], SubChain]) -> None:
    """Hand in the class an empty branch's chain is made of (chain.py does, once it is defined)."""
    global _chain_class
    _chain_class = chain_class


def _new_chain() -> SubChain:
    assert _chain_class is not None, "rackhost.chain.chain hands its Chain class in when it is imported"
    return _chain_class()

# As loud as a branch may be made: more than this is a slip of the mouse, not a mix decision.
MAX_BRANCH_LEVEL_DB = 24.0
DEFAULT_SPLIT_NAME = "split"


def check_branch_level(level_db: float) -> float:
    """A branch level in dB (``-inf``: the branch is silent), or a ValueError saying what is allowed."""
    if isinstance(level_db, bool) or not isinstance(level_db, (int, float)) or math.isnan(level_db) \
            or level_db > MAX_BRANCH_LEVEL_DB:
        raise ValueError(f"a split branch's level must be a number of dB up to +{MAX_BRANCH_LEVEL_DB:g} "
                         f"(-inf silences it); got {level_db!r}")
    return float(level_db)


@dataclass(eq=False)
class Branch:
    """One parallel path of a split: a sub-chain and the level it is summed at (0 dB: as it comes out)."""

    chain: SubChain = field(default_factory=_new_chain)
    level_db: float = 0.0

    def __post_init__(self) -> None:
        self.level_db = check_branch_level(self.level_db)

    @property
    def is_dry(self) -> bool:
        return len(self.chain) == 0


@dataclass(eq=False)
class Split:
    """A slot holding parallel branches whose outputs are summed; see the module docstring."""

    branches: list[Branch]
    name: str = DEFAULT_SPLIT_NAME
    bypass: bool = False

    def __post_init__(self) -> None:
        self.branches = list(self.branches)
        if len(self.branches) < 2:
            raise ValueError(f"split {self.name!r} needs two or more branches (an empty branch is the dry path); "
                             f"got {len(self.branches)}")
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a split needs a name; got {self.name!r}")
        self._width: int | None = None  # the output width found by the last layout

    def slots(self) -> Iterator[Any]:
        """Every plug-in slot inside, at any depth (splits inside branches included), in order."""
        for branch in self.branches:
            yield from branch.chain.plugin_slots()

    def layout(self, channels: int, sample_rate: float, keep_mono: bool) -> tuple[list[str], int]:
        """Configure every branch for ``channels`` in; (notes for the user, the split's output width).

        The split is as wide as its widest branch: one branch turning stereo makes the sum stereo.
        """
        notes: list[str] = []
        widths = []
        for k, branch in enumerate(self.branches):
            branch_notes, width = branch.chain._layout(channels, sample_rate, keep_mono)
            notes += [f"{self.name} branch {k + 1}: {n}" for n in branch_notes]
            widths.append(width)
        self._width = max(widths)
        return notes, self._width

    @property
    def output_channels(self) -> int:
        if self._width is None:
            raise RuntimeError(f"split {self.name!r} has not been configured; configure its chain first")
        return self._width

    def latency(self, sample_rate: float, block: int) -> int:
        """The latest branch's delay: every other branch is delayed to meet it."""
        return max(branch.chain.latency(sample_rate, block) for branch in self.branches)

    def reset(self) -> None:
        for branch in self.branches:
            branch.chain.reset()

    def clone(self, flush: bool = True) -> Split:
        return Split([Branch(b.chain.clone(flush), b.level_db) for b in self.branches], self.name, self.bypass)

    def processor(self, channels: int, sample_rate: float, max_block: int, max_segment: int,
                  keep_mono: bool = False, automated: Any = None) -> SplitStage:
        """The split as one stage of its chain's processor: every branch, aligned, summed at its level.

        ``automated``: the automated slots (:meth:`Chain.processor`), handed on to the branches, whose
        envelopes :class:`rackhost.chain.automated.Planner` then plays. Made off the audio thread; the stage
        allocates its buffers now.
        """
        procs = [b.chain.processor(channels, sample_rate, max_block, max_segment, keep_mono, automated)
                 for b in self.branches]
        widths = [p.channels or channels for p in procs]
        longest = max(p.latency for p in procs)
        width = max(widths)
        # A branch's delay line goes with the split's first latent plug-in (the reason for the delays): a
        # rebuilt snapshot continues it where the branch and its delay are the same, so the dry path has no
        # gap of silence when anything else in the session is edited.
        anchor = next((s.plugin for s in self.slots() if not s.bypass
                       and s.plugin.latency(sample_rate, max_block)), None) if longest else None
        paths = []
        for k, (branch, proc, w) in enumerate(zip(self.branches, procs, widths)):
            gain = db_to_gain(branch.level_db) if math.isfinite(branch.level_db) else 0.0
            if gain == 0.0:
                continue  # a silent branch adds nothing (its plug-ins are not run, as a muted send's bus)
            delay = None
            if longest > proc.latency:
                frames = longest - proc.latency
                route = ("split branch", k, tuple(id(s.plugin) for s in branch.chain.plugin_slots()), w, frames,
                         max_segment)
                make = lambda w=w, frames=frames: DelayLine(w, frames, max_segment)  # noqa: E731
                delay = carried(anchor, route, make) if anchor is not None else make()
            paths.append(SplitPath(k, proc if proc.stages else None, delay, np.float32(gain)))
        return SplitStage(tuple(paths), width, max_segment)


@dataclass(frozen=True)
class SplitPath:
    """One audible branch as its split's stage runs it: its processor (None: the dry path), the delay to the
    latest branch, its gain."""

    branch: int  # its place among the split's branches
    processor: Any  # a ChainProcessor, or None for a dry branch
    delay: DelayLine | None
    gain: np.float32


class SplitStage:
    """A split in its chain's processor: ``stage(block)`` sums the branches; :meth:`run` does too, handing the
    transport position to branches that play envelopes. Never changed once made (:meth:`with_processors` makes
    another around the same delay lines and buffers)."""

    __slots__ = ("_out", "_scratch", "paths", "width")

    def __init__(self, paths: tuple[SplitPath, ...], width: int, max_segment: int,
                 buffers: tuple[np.ndarray, np.ndarray] | None = None):
        self.paths = paths
        self.width = width
        self._out, self._scratch = buffers if buffers is not None else (
            np.zeros((width, max_segment), np.float32), np.zeros((width, max_segment), np.float32))

    def with_processors(self, processors: dict[int, Any]) -> SplitStage:
        """The same stage with the processors of the branches ``processors`` names (by branch) replaced."""
        paths = tuple(SplitPath(p.branch, processors.get(p.branch, p.processor), p.delay, p.gain)
                      for p in self.paths)
        return SplitStage(paths, self.width, self._out.shape[1], (self._out, self._scratch))

    def __call__(self, block: np.ndarray) -> np.ndarray:
        return self.run(block, None)

    def run(self, block: np.ndarray, position: int | None) -> np.ndarray:
        """The branches summed; ``position``: the transport frame of the block's first sample (None: no
        envelopes play)."""
        n = block.shape[1]
        width = self.width
        out = self._out[:, :n]
        out[...] = 0.0
        part = self._scratch[:, :n]
        for path in self.paths:
            proc = path.processor
            if proc is None:
                y = block
            elif position is None or proc.automation is None:
                y = proc(block)
            else:
                y = proc.run(block, position)
            if path.delay is not None:
                y = path.delay(y)
            if y.shape[0] == width:
                np.multiply(y, path.gain, out=part)
            else:  # a mono branch in a stereo split: on both channels
                np.multiply(y[:1], path.gain, out=part[:1])
                part[1:] = part[:1]
            out += part
        return out


def is_split(item: object) -> bool:
    return isinstance(item, Split)
