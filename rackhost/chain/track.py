"""A track: a source, its chain, and how it reaches the master (gain, pan, mute, solo)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rackhost.chain.chain import Chain
from rackhost.chain.compare import ABCompare
from rackhost.chain.source import ArraySource


@dataclass(eq=False)
class Track:
    name: str
    source: ArraySource | None = None
    chain: Chain = field(default_factory=Chain)
    gain_db: float = 0.0
    pan: float = 0.0
    mute: bool = False
    solo: bool = False
    ab: ABCompare = field(default_factory=ABCompare)
    input: tuple[int, ...] = ()  # live input: one or two device channels (0-based), played through the chain
    armed: bool = False  # record this track's input (dry) and chain output (wet) when the transport records

    def __post_init__(self) -> None:
        if not -1.0 <= self.pan <= 1.0:
            raise ValueError(f"pan of track {self.name!r} must be between -1 (left) and 1 (right); got {self.pan!r}")
        self.input = tuple(self.input)
        if len(self.input) > 2 or any(not isinstance(c, int) or c < 0 for c in self.input):
            raise ValueError(f"input of track {self.name!r} must be one or two device channels (0, 1, ...); "
                             f"got {self.input!r}")

    @property
    def channels(self) -> int:
        """A track runs at its source's width: mono sources (one input channel, a mono file) make mono tracks."""
        if self.input:
            return len(self.input)
        return self.source.channels if self.source is not None else 2
