"""The master bus: where the tracks are summed."""

from __future__ import annotations

from dataclasses import dataclass, field

from rackhost.chain.chain import Chain


@dataclass(eq=False)
class MasterBus:
    """Where the tracks are summed: its own chain and gain, always stereo."""

    chain: Chain = field(default_factory=Chain)
    gain_db: float = 0.0

    channels = 2
