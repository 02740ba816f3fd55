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

    def __post_init__(self) -> None:
        if not -1.0 <= self.pan <= 1.0:
            raise ValueError(f"pan of track {self.name!r} must be between -1 (left) and 1 (right); got {self.pan!r}")

    @property
    def channels(self) -> int:
        """A track runs at its source's width: mono sources make mono tracks."""
        return self.source.channels if self.source is not None else 2
