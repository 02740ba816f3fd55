"""Rendering to a loudness target: find the gain before the final limiter that lands the master on it.

A render never changes the session it renders. It runs a temporary master
chain: the session's own slots up to the limiter, a Gain of its own, and a
copy of the limiter whose ceiling it may lower. So two renders of one session
give the same samples, and the gain found is kept only when the user says so
(:meth:`rackhost.chain.history.Editor.keep_target_gain`, one undoable step).

Loudness after a limiter is not linear in the gain before it, but nothing
before the gain depends on it. So the first pass renders the master only up
to the limiter and keeps that signal; the gain (and, if the true peak lands
above the ceiling, a lower ceiling: a sample-peak limiter lets inter-sample
peaks through) is then found on it by running the limiter alone, a fraction of
a render. A second, full pass renders at that gain and checks it. Should the
check miss (a plug-in upstream that does not repeat itself exactly), its miss
corrects the prediction and one more pass checks again.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rackhost.chain.chain import Chain, Slot
from rackhost.chain.dsp import db_to_gain
from rackhost.chain.loudness import integrated_loudness, measure, true_peak
from rackhost.chain.master import LoudnessTarget, MasterBus
from rackhost.chain.offline import RenderResult, render_mix
from rackhost.chain.plugin import Plugin
from rackhost.chain.session import Session
from rackhost.chain.target import (  # LoudnessTargetError: also where callers of the steering look for it
    GAIN_SLOT_NAME,
    LoudnessTargetError,
    TargetReport,
    final_limiter,
    gain_slot_before,
)

TOLERANCE_LU = 0.25  # a full pass within this of the target is done: well inside the promised +-0.5 LU
PREDICTION_TOLERANCE_LU = 0.1  # the limiter-only search aims this close, so the check lands
MAX_PASSES = 6  # full renders, the first (up to the limiter) included; 2 is usual
MAX_PREDICTIONS = 12  # limiter-only runs per search
GAIN_RANGE_DB = (-60.0, 48.0)
CEILING_FLOOR_DB = -30.0


@dataclass
class _Steer:
    """The temporary end of the master chain a target render runs: its own Gain and a copy of the limiter."""

    upstream: list[Slot]  # the session's slots before the limiter (their plug-ins, shared, not changed)
    gain: Plugin
    limiter: Plugin
    limiter_mix: float
    ceiling_param: str

    def chain(self, gain_db: float, ceiling_db: float, with_limiter: bool = True) -> Chain:
        self.gain.set("gain_db", gain_db)
        self.limiter.set(self.ceiling_param, ceiling_db)
        tail = [Slot(self.gain), Slot(self.limiter, mix=self.limiter_mix)] if with_limiter else []
        return Chain(self.upstream + tail)


def render_to_target(session: Session, target: LoudnessTarget, **options: object) -> RenderResult:
    """Render the session so the master lands on ``target``, leaving the session as it was.

    The result's ``target_report`` says what was aimed for, what was reached,
    and the gain and ceiling that reached it.
    """
    chain = session.master.chain
    limiter_index, ceiling_param = final_limiter(chain)
    kept = gain_slot_before(chain, limiter_index)
    start_gain = float(kept.plugin.get("gain_db")) if kept is not None else 0.0
    limiter_slot = chain[limiter_index]
    steer = _Steer(
        [s for s in chain.slots[:limiter_index] if s is not kept],
        Plugin.builtin(GAIN_SLOT_NAME, gain_db=start_gain),
        limiter_slot.plugin.clone(),
        limiter_slot.mix,
        ceiling_param,
    )
    master_gain = session.master.gain_db

    # Pass 1: everything up to the limiter, at unity; the gain and the limiter are found on it.
    pre = render_mix(_with_master(session, steer.chain(0.0, target.true_peak_dbtp, with_limiter=False), 0.0),
                 **options)  # type: ignore[arg-type]
    if integrated_loudness(pre.audio, pre.sample_rate) in (None, -math.inf):
        raise LoudnessTargetError("the master is silent or shorter than 0.4 s, so it has no loudness to set")
    # A bounced mono file reaches the limiter in mono (pre has one row): it must widen, or not, as in the full pass.
    keep_mono = session.track_bounce and session.tracks[0].keep_mono
    search = _Search(pre.audio, session.sample_rate, session.block_size, steer, master_gain, target, keep_mono)
    gain, ceiling = start_gain, target.true_peak_dbtp
    bias_lu = 0.0  # how far full passes land from the prediction (0 when the engine repeats itself exactly)
    passes = 1
    history: list[tuple[float, float, float]] = []
    while True:
        gain, ceiling, predicted = search.run(gain, ceiling, bias_lu)
        result = render_mix(_with_master(session, steer.chain(gain, ceiling), master_gain), **options)  # type: ignore[arg-type]
        passes += 1
        report = measure(result.audio, result.sample_rate)
        lufs = report.integrated_lufs
        if lufs is None or lufs == -math.inf:
            raise LoudnessTargetError("the master is silent or shorter than 0.4 s, so it has no loudness to set")
        history.append((gain, lufs, report.true_peak_dbtp))
        over = report.true_peak_dbtp - target.true_peak_dbtp
        if (abs(target.integrated_lufs - lufs) <= TOLERANCE_LU and over <= 0) or passes >= MAX_PASSES:
            break
        reason = search.unreachable
        if reason is not None and abs(target.integrated_lufs - lufs) > TOLERANCE_LU:
            break  # another full pass would land where this one did
        if math.isfinite(predicted):
            bias_lu += lufs - predicted
        if over > 0:
            ceiling = max(ceiling - over - 0.05, CEILING_FLOOR_DB)
    result.target_report = TargetReport(target, report, gain, ceiling, passes, history, search.runs,
                                        search.unreachable)
    return result


def _with_master(session: Session, chain: Chain, gain_db: float) -> Session:
    """A stand-in for ``session`` with another master chain: the same tracks, nothing of the session changed."""
    # The master's envelopes play too: those on slots the steered chain keeps, and its gain's.
    return dataclasses.replace(session, master=MasterBus(chain=chain, gain_db=gain_db,
                                                         automation=session.master.automation))


class _Search:
    """Finds the gain (and ceiling) on the signal before the limiter, running only the limiter."""

    def __init__(self, pre: np.ndarray, sample_rate: int, block: int, steer: _Steer, master_gain_db: float,
                 target: LoudnessTarget, keep_mono: bool = False):
        self.sample_rate = sample_rate
        self.block = block
        self.steer = steer
        self.target = target
        self.master_gain = np.float32(db_to_gain(master_gain_db))
        self.frames = pre.shape[1]
        self.latency = steer.limiter.latency(sample_rate, block)
        # The limiter also runs past the end by its latency, as in a full render, in whole blocks.
        total = math.ceil((self.frames + self.latency) / block) * block
        self.padded = np.zeros((pre.shape[0], total), np.float32)
        self.keep_mono = keep_mono
        self.padded[:, : self.frames] = pre
        self.runs = 0
        self.unreachable: str | None = None  # set when no gain lands the target: why, and what would

    def limited(self, gain_db: float, ceiling_db: float) -> np.ndarray:
        """What the master puts out at this gain and ceiling: the limiter run on the first pass's signal."""
        self.runs += 1
        chain = Chain([Slot(self.steer.gain), Slot(self.steer.limiter, mix=self.steer.limiter_mix)])
        self.steer.gain.set("gain_db", gain_db)
        self.steer.limiter.set(self.steer.ceiling_param, ceiling_db)
        chain.reset()
        out = chain.processor(self.padded.shape[0], self.sample_rate, self.block, self.padded.shape[1],
                              self.keep_mono)(self.padded)
        out = out[:, self.latency : self.latency + self.frames]
        return out * self.master_gain if self.master_gain != 1.0 else out

    def run(self, gain: float, ceiling: float, bias_lu: float) -> tuple[float, float, float]:
        """(gain, ceiling, predicted LUFS) that land ``target`` once a full pass reads ``bias_lu`` above the prediction."""

        def loudness_at(gain_db: float, ceiling_db: float) -> tuple[float, Callable[[], float]]:
            audio = self.limited(gain_db, ceiling_db)
            return (integrated_loudness(audio, self.sample_rate) or -math.inf,
                    lambda: 20 * math.log10(max(true_peak(audio, self.sample_rate), 1e-12)))

        gain, ceiling, lufs, unreachable = find_gain(self.target, gain, ceiling, bias_lu, loudness_at)
        if unreachable is not None:
            self.unreachable = unreachable
        return gain, ceiling, lufs


Measure = Callable[[float, float], tuple[float, Callable[[], float]]]


def find_gain(target: LoudnessTarget, gain: float, ceiling: float, bias_lu: float,
              measure: Measure) -> tuple[float, float, float, str | None]:
    """The limiter search: (gain, ceiling, predicted LUFS, why the target cannot be reached or None).

    ``measure(gain, ceiling)`` runs the limiter and gives the integrated loudness and a function for the
    true peak (dBTP), asked for only once the loudness is there: it costs more than the loudness does.
    A whole-file render and a streamed one measure differently and search the same way.
    """
    aim = target.integrated_lufs - bias_lu
    points: list[tuple[float, float]] = []  # (gain, LUFS) at this ceiling
    best = (gain, -math.inf)
    for _ in range(MAX_PREDICTIONS):
        lufs, peak_dbtp = measure(gain, ceiling)
        miss = aim - lufs
        if abs(miss) <= PREDICTION_TOLERANCE_LU:
            over = peak_dbtp() - target.true_peak_dbtp
            if over <= 0:
                return gain, ceiling, lufs, None
            ceiling = max(ceiling - over - 0.05, CEILING_FLOOR_DB)
            points.clear()  # a new ceiling: a new loudness curve
            continue
        if abs(miss) < abs(aim - best[1]):
            best = (gain, lufs)
        points.append((gain, lufs))
        stuck = _stuck(points)
        if stuck is not None:
            return best[0], ceiling, best[1], stuck
        gain = _next_gain(points, miss)
    return best[0], ceiling, best[1], None  # the closest tried; the full pass that follows checks it


def _stuck(points: list[tuple[float, float]]) -> str | None:
    """Why no gain can land the target, once the last tries show it, else None.

    Sparse material (short hits between silences) is held at the limiter's
    ceiling whatever the gain: loudness stops rising. A target below what the
    master gives at the lowest gain cannot be reached either.
    """
    (g0, l0), (g1, l1) = points[-2:] if len(points) >= 2 else (points[-1], points[-1])
    loudest = max(lufs for _, lufs in points)
    if len(points) >= 2 and g1 - g0 >= 3.0 and l1 - l0 < 0.1 * (g1 - g0) and g1 >= 12.0:
        return (f"loudness stops rising with gain (it reached {loudest:.2f} LUFS; {l0:.2f} at {g0:+.1f} dB, "
                f"{l1:.2f} at {g1:+.1f} dB): the limiter holds this material's peaks at its ceiling; lower the "
                f"target, or make the material denser (a compressor before the limiter, a clipper, a limiter "
                f"with a longer release)")
    if g1 >= GAIN_RANGE_DB[1] or g1 <= GAIN_RANGE_DB[0]:
        return (f"the gain before the limiter reached its limit of {g1:+.0f} dB at {l1:.2f} LUFS; "
                f"{'lower' if g1 > 0 else 'raise'} the target or the level going into the master")
    return None


def _next_gain(points: list[tuple[float, float]], miss: float) -> float:
    """The next gain to try: a secant step on the loudness curve (a limiter flattens it), clamped."""
    gain = points[-1][0]
    slope = 1.0  # before the limiter works, loudness follows the gain dB for dB
    if len(points) >= 2:
        (g0, l0), (g1, l1) = points[-2], points[-1]
        if g1 != g0 and math.isfinite(l0) and math.isfinite(l1):
            slope = min(max((l1 - l0) / (g1 - g0), 0.05), 1.5)
    return min(max(gain + miss / slope, GAIN_RANGE_DB[0]), GAIN_RANGE_DB[1])
