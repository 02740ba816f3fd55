"""An independent reference for routed sessions: pedalboard called directly on whole buffers, summed in numpy.

Each strip's chain is described as a list of (pedalboard class name, parameters)
and built twice: once as rackhost slots (what the engine runs, block by block),
once as plain pedalboard objects here. pedalboard compensates a plug-in's
latency inside one whole-buffer call, so the reference has no delay anywhere:
an engine whose paths are not aligned differs from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pedalboard

from rackhost.chain import ArraySource, Chain, Plugin, Session

ZAMAXIMX2 = "/usr/lib/vst3/ZaMaximX2.vst3"


@dataclass
class Spec:
    """One strip of a test session: its chain and mixer settings (a track has audio, a bus has none)."""

    name: str
    chain: list[tuple[str, dict]] = field(default_factory=list)
    audio: np.ndarray | None = None
    gain_db: float = 0.0
    pan: float = 0.0
    output: str | None = None
    sends: list[tuple[str, float, bool]] = field(default_factory=list)  # (bus, level_db, pre_fader)


def make_session(tracks: list[Spec], busses: list[Spec], block: int, sr: int = 48000) -> Session:
    session = Session(sample_rate=sr, block_size=block)
    for spec in tracks:
        track = session.add_track(spec.name, ArraySource(spec.audio, sr), _chain(spec), gain_db=spec.gain_db,
                                  pan=spec.pan, output=spec.output)
        for bus, level, pre in spec.sends:
            track.add_send(bus, level, pre_fader=pre)
    for spec in busses:
        bus_ = session.add_bus(spec.name, _chain(spec), gain_db=spec.gain_db, pan=spec.pan, output=spec.output)
        for bus, level, pre in spec.sends:
            bus_.add_send(bus, level, pre_fader=pre)
    return session


def _chain(spec: Spec) -> Chain:
    return Chain([Plugin.create(name, **params) for name, params in spec.chain])


def _board(spec: Spec) -> pedalboard.Pedalboard:
    plugins = []
    for name, params in spec.chain:
        if name == "ZaMaximX2":
            plugin = pedalboard.load_plugin(ZAMAXIMX2)
            for key, value in params.items():
                setattr(plugin, key, value)
        else:
            plugin = getattr(pedalboard, name)(**params)
        plugins.append(plugin)
    return pedalboard.Pedalboard(plugins)


def _gains(gain_db: float, pan: float, channels: int) -> np.ndarray:
    """Fader and pan, written out: constant-power sin/cos for mono, a balance (0 dB at centre) for stereo."""
    angle = (pan + 1.0) * math.pi / 4.0
    left, right = math.cos(angle), math.sin(angle)
    if channels == 2:
        left, right = min(1.0, left * math.sqrt(2.0)), min(1.0, right * math.sqrt(2.0))
    g = 10.0 ** (gain_db / 20.0)
    return np.array([[left * g], [right * g]])


def reference_mix(tracks: list[Spec], busses: list[Spec], sr: int = 48000) -> np.ndarray:
    """The master's input as float64 (2, frames), with no latency anywhere."""
    frames = max(t.audio.shape[1] for t in tracks)
    by_name = {b.name: b for b in busses}
    taps: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (pre-fader, post-fader)

    def process(spec: Spec, signal: np.ndarray) -> None:
        out = _board(spec)(signal.astype(np.float32), sr).astype(np.float64) if spec.chain else signal
        pre = np.broadcast_to(out, (2, frames)) if out.shape[0] == 1 else out
        taps[spec.name] = (pre, pre * _gains(spec.gain_db, spec.pan, out.shape[0]))

    def padded(audio: np.ndarray) -> np.ndarray:
        return np.pad(audio.astype(np.float64), ((0, 0), (0, frames - audio.shape[1])))

    def feeds_into(target: str | None) -> np.ndarray:
        total = np.zeros((2, frames))
        for spec in [*tracks, *busses]:
            reached = spec.output == target
            if not reached and not any(s[0] == target for s in spec.sends):
                continue
            if spec.name not in taps:
                process(spec, feeds_into(spec.name) if spec in busses else padded(spec.audio))
            pre, post = taps[spec.name]
            if reached:
                total += post
            for bus, level, is_pre in spec.sends:
                if bus == target:
                    total += (pre if is_pre else post) * 10.0 ** (level / 20.0)
        return total

    for spec in tracks:  # every track runs once, whatever it feeds
        if spec.name not in taps:
            process(spec, padded(spec.audio))
    assert set(by_name) >= {s.output for s in [*tracks, *busses] if s.output}
    return feeds_into(None)
