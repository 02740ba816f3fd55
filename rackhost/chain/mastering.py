"""Rendering to a loudness target: set the gain before the final limiter until the master lands.

A mastering chain ends in a limiter. Loudness after a limiter is not linear
in the gain before it, so the gain is found by rendering, measuring integrated
loudness (BS.1770-4) and correcting, a few times; if the true peak lands above
the ceiling (a sample-peak limiter lets inter-sample peaks through), the
limiter's ceiling is lowered by the overshoot and the search goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rackhost.chain.chain import Chain, Slot
from rackhost.chain.loudness import LoudnessReport, measure
from rackhost.chain.master import LoudnessTarget
from rackhost.chain.plugin import Plugin
from rackhost.chain.render import RenderResult, render
from rackhost.chain.session import Session
from rackhost.errors import RackhostError

# Limiters whose output ceiling rackhost knows how to set.
LIMITER_CEILINGS = {"ZaMaximX2": "output_ceiling_db", "BrickwallLimiter": "ceiling_db"}
TOLERANCE_LU = 0.25  # aim well inside the promised +-0.5 LU
MAX_PASSES = 8
GAIN_SLOT_NAME = "Gain"


class LoudnessTargetError(RackhostError):
    pass


@dataclass
class TargetReport:
    target: LoudnessTarget
    achieved: LoudnessReport
    gain_db: float
    ceiling_db: float
    passes: int
    history: list[tuple[float, float, float]] = field(default_factory=list)  # (gain, lufs, true peak)

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
        ]


def final_limiter(chain: Chain) -> tuple[int, str]:
    """Index of the last active slot and its ceiling parameter, or a clear error if it is not a limiter."""
    active = [i for i, s in enumerate(chain) if not s.bypass]
    if not active or chain[active[-1]].name not in LIMITER_CEILINGS:
        known = ", ".join(LIMITER_CEILINGS)
        raise LoudnessTargetError(
            f"a loudness target needs a limiter as the last slot of the master chain ({known}); "
            f"add one, e.g. BrickwallLimiter(true_peak=true)"
        )
    index = active[-1]
    return index, LIMITER_CEILINGS[chain[index].name]


def render_to_target(session: Session, target: LoudnessTarget, **options: object) -> RenderResult:
    """Render the session so the master lands on ``target``; the gain slot stays in the master chain.

    The result's ``target_report`` says what was aimed for and what was reached.
    """
    chain = session.master.chain
    limiter_index, ceiling_param = final_limiter(chain)
    limiter = chain[limiter_index].plugin
    gain_slot = _gain_slot(chain, limiter_index)
    ceiling = target.true_peak_dbtp
    limiter.set(ceiling_param, ceiling)
    gain = float(gain_slot.plugin.get("gain_db"))
    history: list[tuple[float, float, float]] = []
    result: RenderResult | None = None
    report: LoudnessReport | None = None
    for _ in range(MAX_PASSES):
        gain_slot.plugin.set("gain_db", gain)
        result = render(session, **options)  # type: ignore[arg-type]
        report = measure(result.audio, result.sample_rate)
        if report.integrated_lufs is None or report.integrated_lufs == float("-inf"):
            raise LoudnessTargetError("the master is silent or shorter than 0.4 s, so it has no loudness to set")
        history.append((gain, report.integrated_lufs, report.true_peak_dbtp))
        miss = target.integrated_lufs - report.integrated_lufs
        over = report.true_peak_dbtp - target.true_peak_dbtp
        if abs(miss) <= TOLERANCE_LU and over <= 0:
            break
        if over > 0:
            ceiling = max(ceiling - over - 0.05, -30.0)
            limiter.set(ceiling_param, ceiling)
        gain = min(max(gain + miss, -60.0), 48.0)
    assert result is not None and report is not None
    result.target_report = TargetReport(target, report, gain, ceiling, len(history), history)
    return result


def _gain_slot(chain: Chain, limiter_index: int) -> Slot:
    """The Gain slot just before the limiter, added if the chain has none there."""
    if limiter_index > 0 and chain[limiter_index - 1].name == GAIN_SLOT_NAME and not chain[limiter_index - 1].bypass:
        return chain[limiter_index - 1]
    return chain.add(Plugin.builtin(GAIN_SLOT_NAME, gain_db=0.0), index=limiter_index)
