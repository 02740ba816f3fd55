"""The master bus: where the tracks are summed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rackhost.chain.audition import Audition, Auditioned
from rackhost.chain.chain import Chain
from rackhost.chain.compare import ABCompare

if TYPE_CHECKING:
    from rackhost.chain.automation import Envelope


@dataclass(frozen=True)
class LoudnessTarget:
    """Where a master should land: integrated loudness (BS.1770-4) and a true-peak ceiling."""

    integrated_lufs: float
    true_peak_dbtp: float


@dataclass(eq=False)
class MasterBus(Auditioned):
    """Where the tracks are summed: its own chain and gain, always stereo.

    With a ``loudness_target``, renders set the gain before the chain's final
    limiter so the master lands on it (see :mod:`rackhost.chain.mastering`).
    """

    chain: Chain = field(default_factory=Chain)
    gain_db: float = 0.0
    loudness_target: LoudnessTarget | None = None
    ab: ABCompare = field(default_factory=ABCompare)
    automation: list[Envelope] = field(default_factory=list)  # envelopes on its slots and its gain_db
    audition: Audition = field(default_factory=Audition)  # bypass-compare at matched loudness, delta

    channels = 2
