"""What a loudness target steers and what it reports: the final limiter, the Gain before it, the outcome.

Kept apart from the render that steers (:mod:`rackhost.chain.mastering`) so
the editor can keep a target's gain (:meth:`rackhost.chain.history.Editor.keep_target_gain`)
and the window can check a master chain, without importing the render.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rackhost.chain.chain import Chain, Slot
from rackhost.chain.loudness import LoudnessReport
from rackhost.chain.master import LoudnessTarget
from rackhost.errors import RackhostError

# Limiters whose output ceiling rackhost knows how to set.
LIMITER_CEILINGS = {"ZaMaximX2": "output_ceiling_db", "BrickwallLimiter": "ceiling_db"}
GAIN_SLOT_NAME = "Gain"


class LoudnessTargetError(RackhostError):
    pass


@dataclass
class TargetReport:
    target: LoudnessTarget
    achieved: LoudnessReport
    gain_db: float  # the gain before the limiter that landed it (what "keep the gain" puts in the chain)
    ceiling_db: float  # the limiter's ceiling that landed it
    passes: int  # full renders (the first, up to the limiter, included)
    history: list[tuple[float, float, float]] = field(default_factory=list)  # per checking pass: (gain, lufs, true peak)
    predictions: int = 0  # limiter-only runs on the first pass's signal
    reason: str | None = None  # why the target was missed, and what would reach it

    @property
    def within(self) -> bool:
        lufs = self.achieved.integrated_lufs
        return (
            lufs is not None
            and abs(lufs - self.target.integrated_lufs) <= 0.5
            and self.achieved.true_peak_dbtp <= self.target.true_peak_dbtp
        )

    def lines(self) -> list[str]:
        lufs = self.achieved.integrated_lufs
        return [
            f"loudness target  {self.target.integrated_lufs:6.2f} LUFS, true peak <= {self.target.true_peak_dbtp:.2f} dBTP",
            f"achieved         {lufs:6.2f} LUFS, true peak {self.achieved.true_peak_dbtp:6.2f} dBTP "
            f"({'within target' if self.within else 'MISSED'}; gain before limiter {self.gain_db:+.2f} dB, "
            f"ceiling {self.ceiling_db:.2f} dB, {self.passes} passes)",
        ] + ([f"why              {self.reason}"] if self.reason and not self.within else [])


def final_limiter(chain: Chain) -> tuple[int, str]:
    """Index of the last active slot and its ceiling parameter, or a clear error if it is not a limiter."""
    active = [i for i, s in enumerate(chain) if not s.bypass]
    if not active or not isinstance(chain[active[-1]], Slot) or chain[active[-1]].name not in LIMITER_CEILINGS:
        known = ", ".join(LIMITER_CEILINGS)
        raise LoudnessTargetError(
            f"a loudness target needs a limiter as the last slot of the master chain ({known}); "
            f"add one, e.g. BrickwallLimiter(true_peak=true)"
        )
    index = active[-1]
    return index, LIMITER_CEILINGS[chain[index].name]


def gain_slot_before(chain: Chain, limiter_index: int) -> Slot | None:
    """The active Gain slot just before the limiter, the one a loudness target steers, if the chain has one."""
    if limiter_index > 0:
        before = chain[limiter_index - 1]
        if isinstance(before, Slot) and before.name == GAIN_SLOT_NAME and not before.bypass:
            return before
    return None
