"""Offline render benchmark: what rackhost costs over bare pedalboard, and how it compares with DawDreamer.

(a) One stereo track through a 5-plug-in mastering chain (built-ins, ZamCompX2,
    ZaMaximX2), rendered by rackhost and by a bare pedalboard block loop that
    produces the same samples. ``overhead_ratio`` = rackhost / pedalboard.
(b) 8- and 32-track sessions (3 plug-ins per track, a master compressor),
    rendered by rackhost and by DawDreamer running the same graph.
    ``dawdreamer_<n>track_ratio`` = DawDreamer / rackhost.
(c) The factory mastering presets (presets/mastering/*.json) rendered to their
    loudness targets: ``mastering_passes`` (full renders, the most any preset
    took) and ``mastering_realtime_factor`` (audio seconds per second, all presets).
(d) The 8-track session of (b) with 20 automated parameters, every one moving
    all the time (8 track faders, 8 ZamCompX2 thresholds, 4 Compressor
    thresholds: linear ramps between points 1.5 s apart), against the same
    session without envelopes: ``automation_cost_ratio`` = with / without.
(e) A routed session: the 32 tracks of (b) into 4 busses, 2 reverb busses fed
    by post-fader sends, a split (parallel compression) on one bus and a keyed
    ZamCompX2 on another (ducked by a track), rendered by rackhost and by a
    DawDreamer graph of the same routing. ``dawdreamer_routed_ratio`` =
    DawDreamer / rackhost. DawDreamer cannot key that ZamCompX2 (see
    :class:`DawDreamerRoutedGraph`): its slot runs unkeyed there, said in the output.

The two sides of each comparison alternate within one run (after one untimed
warm-up each) and the medians are reported. The last line printed is a JSON
object with every number, for scripts.

    python bench/offline.py [--quick] [--seconds S] [--reps N] [--only mastering-targets|automation|routed]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pedalboard

from rackhost.chain import ArraySource, Session, render

SAMPLE_RATE = 48000
BLOCK = 512
VST3_FOLDER = Path("/usr/lib/vst3")

# Targets from the issue.
OVERHEAD_TARGET = 1.03
DAWDREAMER_TARGET = 1.2
AUTOMATION_TARGET = 1.15
ROUTED_TARGET = 1.5

Params = dict[str, float]
# (name, parameters): a pedalboard built-in by class name, or a VST3 in VST3_FOLDER by bundle name.
ChainSpec = list[tuple[str, Params]]

MASTERING_CHAIN: ChainSpec = [
    ("HighpassFilter", {"cutoff_frequency_hz": 30.0}),
    ("Compressor", {"threshold_db": -18.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 120.0}),
    ("ZamCompX2", {"threshold_db": -20.0, "ratio": 2.0, "attack_ms": 5.0, "release_ms": 100.0}),
    ("LowShelfFilter", {"cutoff_frequency_hz": 120.0, "gain_db": 2.0, "q": 0.7}),
    ("ZaMaximX2", {"threshold_db": -6.0, "output_ceiling_db": -1.0, "release_ms": 25.0}),
]

TRACK_HIGHPASS_HZ = 40.0
TRACK_COMPRESSOR: Params = {"threshold_db": -18.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 120.0}
TRACK_ZAMCOMP: Params = {"threshold_db": -20.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 80.0}
MASTER_COMPRESSOR: Params = {"threshold_db": -12.0, "ratio": 2.0, "attack_ms": 5.0, "release_ms": 100.0}

# (e): the routed session.
PROJECT_VST3 = Path(__file__).resolve().parents[1] / "build" / "vst3"  # MVerb, built by `make plugins`
ROUTED_TRACKS = 32
ROUTED_BUSSES = ("drums", "keys", "guitars", "vocals")  # track i goes to ROUTED_BUSSES[i % 4]
BUS_COMPRESSOR: Params = {"threshold_db": -16.0, "ratio": 2.0, "attack_ms": 20.0, "release_ms": 150.0}
PARALLEL_COMPRESSOR: Params = {"threshold_db": -40.0, "ratio": 10.0, "attack_ms": 1.0, "release_ms": 60.0}
PARALLEL_LEVEL_DB = -6.0  # the crushed branch under the dry one, on the drum bus
DUCKER: Params = {"threshold_db": -36.0, "ratio": 6.0, "attack_ms": 5.0, "release_ms": 120.0}
DUCKED_BUS, KEY_TRACK = "keys", "track 4"  # track 4 feeds the vocals bus and ducks the keys bus
REVERB: Params = {"room_size": 0.7, "damping": 0.5, "wet_level": 1.0, "dry_level": 0.0, "width": 1.0}
SEND_LEVEL_DB = -12.0
PLATE_SENDERS = range(8)  # tracks sent to the built-in Reverb bus
HALL_SENDERS = range(8, 16)  # tracks sent to the MVerb bus


# -- test signal --------------------------------------------------------------------


def make_audio(seconds: float, seed: int) -> np.ndarray:
    """Deterministic stereo programme material, shape (2, frames) float32.

    Noise plus a few tones under a slow amplitude swell, so compressors and the
    limiter actually move (a static signal would leave their envelopes idle).
    """
    rng = np.random.default_rng(seed)
    frames = int(round(seconds * SAMPLE_RATE))
    t = np.arange(frames, dtype=np.float64) / SAMPLE_RATE
    tones = sum(
        np.sin(2.0 * np.pi * f * t + rng.uniform(0.0, 2.0 * np.pi)) for f in rng.uniform(50.0, 5000.0, size=3)
    )
    swell = 0.55 + 0.45 * np.sin(2.0 * np.pi * rng.uniform(0.2, 1.0) * t)
    audio = np.empty((2, frames), np.float32)
    for channel in range(2):
        audio[channel] = swell * (0.15 * tones + 0.2 * rng.standard_normal(frames))
    return audio


# -- timing -------------------------------------------------------------------------


@dataclass
class Timings:
    """Seconds per repetition, per side."""

    runs: dict[str, list[float]]

    def median(self, side: str) -> float:
        return statistics.median(self.runs[side])

    def describe(self, side: str) -> str:
        r = self.runs[side]
        return f"median {self.median(side):7.3f} s  (min {min(r):.3f}, max {max(r):.3f}, n={len(r)})"


def alternate(sides: dict[str, Callable[[], object]], reps: int) -> Timings:
    """Time each side ``reps`` times, alternating which goes first so drift hits both alike."""
    names = list(sides)
    runs: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            gc.collect()  # a collection inside one side's window would be charged to it
            start = time.perf_counter()
            sides[name]()
            runs[name].append(time.perf_counter() - start)
    return Timings(runs)


# -- (a) rackhost vs bare pedalboard ------------------------------------------------


def is_builtin(name: str) -> bool:
    return not (VST3_FOLDER / f"{name}.vst3").exists()


def make_pedalboard_plugin(name: str, params: Params) -> pedalboard.Plugin:
    if is_builtin(name):
        return getattr(pedalboard, name)(**params)
    plugin = pedalboard.load_plugin(str(VST3_FOLDER / f"{name}.vst3"))
    for key, value in params.items():
        setattr(plugin, key, value)
    return plugin


def mastering_session(audio: np.ndarray) -> Session:
    session = Session(sample_rate=SAMPLE_RATE, block_size=BLOCK)
    track = session.add_track("mix", ArraySource(audio, SAMPLE_RATE))
    for name, params in MASTERING_CHAIN:
        track.chain.add(name, **params)
    return session


class BarePedalboard:
    """The mastering chain with no rackhost code: what a careful user would write by hand.

    The latency-free plug-ins share one ``Pedalboard`` call per block; the latent
    limiter is called on its own, because a ``Pedalboard`` would trim its latency
    by returning short blocks. Like rackhost, it renders ``latency`` frames past
    the end and drops the first ``latency``, so both return the same samples.
    """

    def __init__(self, chain: ChainSpec):
        plugins = [make_pedalboard_plugin(name, params) for name, params in chain]
        self.latency = sum(int(getattr(p, "reported_latency_samples", 0)) for p in plugins)
        self.stages = [p.process for p in _fuse_latency_free(plugins)]
        self.plugins = plugins

    def render(self, audio: np.ndarray) -> np.ndarray:
        for plugin in self.plugins:
            plugin.reset()
        frames = audio.shape[1]
        total = math.ceil((frames + self.latency) / BLOCK) * BLOCK
        source = np.zeros((audio.shape[0], total), np.float32)
        source[:, :frames] = audio
        out = np.zeros_like(source)
        stages = self.stages
        for i in range(0, total, BLOCK):
            block = source[:, i : i + BLOCK]
            for process in stages:
                block = process(block, SAMPLE_RATE, BLOCK, False)
            # After a reset pedalboard hides a latent plug-in's delay by returning a short
            # first block; right-aligning it keeps the delay constant, as a host's FIFO would.
            out[:, i + BLOCK - block.shape[1] : i + BLOCK] = block
        return out[:, self.latency : self.latency + frames]


def _fuse_latency_free(plugins: list[pedalboard.Plugin]) -> list[pedalboard.Plugin]:
    """Runs of latency-free plug-ins as one Pedalboard each; latent plug-ins stand alone."""
    stages: list[pedalboard.Plugin] = []
    run: list[pedalboard.Plugin] = []
    for plugin in plugins:
        if getattr(plugin, "reported_latency_samples", 0):
            if run:
                stages.append(pedalboard.Pedalboard(run))
                run = []
            stages.append(plugin)
        else:
            run.append(plugin)
    if run:
        stages.append(pedalboard.Pedalboard(run))
    return stages


def bench_mastering(seconds: float, reps: int) -> dict[str, float]:
    audio = make_audio(seconds, seed=1)
    session = mastering_session(audio)
    bare = BarePedalboard(MASTERING_CHAIN)
    # Warm-up (first render configures and probes plug-ins) doubles as the correctness check.
    ours = render(session, tail=False).audio
    theirs = bare.render(audio)
    diff = float(np.max(np.abs(ours - theirs))) if ours.shape == theirs.shape else math.inf
    print(f"(a) mastering chain, {seconds:g} s stereo, {len(MASTERING_CHAIN)} plug-ins, block {BLOCK}")
    print(f"    output {ours.shape} vs {theirs.shape}, latency {bare.latency} samples, max |diff| {diff:.3g}")
    timings = alternate(
        {"rackhost": lambda: render(session, tail=False), "pedalboard": lambda: bare.render(audio)}, reps
    )
    rackhost_s, pedalboard_s = timings.median("rackhost"), timings.median("pedalboard")
    print(f"    rackhost    {timings.describe('rackhost')}")
    print(f"    pedalboard  {timings.describe('pedalboard')}")
    ratio = rackhost_s / pedalboard_s
    print(f"    overhead ratio (rackhost / pedalboard) {ratio:.4f}  target <= {OVERHEAD_TARGET}")
    return {"rackhost_s": rackhost_s, "pedalboard_s": pedalboard_s, "overhead_ratio": ratio, "max_abs_diff": diff}


# -- (b) rackhost vs DawDreamer, multitrack ------------------------------------------


def multitrack_session(sources: list[np.ndarray]) -> Session:
    session = Session(sample_rate=SAMPLE_RATE, block_size=BLOCK)
    for index, audio in enumerate(sources):
        track = session.add_track(f"track {index + 1}", ArraySource(audio, SAMPLE_RATE))
        track.chain.add("HighpassFilter", cutoff_frequency_hz=TRACK_HIGHPASS_HZ)
        track.chain.add("Compressor", **TRACK_COMPRESSOR)
        track.chain.add("ZamCompX2", **TRACK_ZAMCOMP)
    session.master.chain.add("Compressor", **MASTER_COMPRESSOR)
    return session


class DawDreamerGraph:
    """The multitrack session as a DawDreamer graph.

    Per track: playback -> high-pass -> compressor -> ZamCompX2 (the same VST3
    binary rackhost loads). DawDreamer cannot host pedalboard's built-ins, so
    its own stand in: ``make_compressor_processor`` wraps the same JUCE
    ``dsp::Compressor`` as pedalboard's ``Compressor``; ``make_filter_processor``
    is a second-order JUCE IIR high-pass where pedalboard's ``HighpassFilter``
    is first-order (a handful more multiplies per sample). The tracks meet in
    an add processor (rackhost's unity gain, centre pan) and a master compressor.
    """

    def __init__(self, sources: list[np.ndarray]):
        import dawdreamer

        self.engine = dawdreamer.RenderEngine(SAMPLE_RATE, BLOCK)
        self.seconds = sources[0].shape[1] / SAMPLE_RATE
        engine = self.engine
        graph: list[tuple[object, list[str]]] = []
        track_outputs = []
        for index, audio in enumerate(sources):
            playback = engine.make_playback_processor(f"play{index}", audio)
            highpass = engine.make_filter_processor(f"hp{index}", "high", TRACK_HIGHPASS_HZ)
            compressor = _dawdreamer_compressor(engine, f"comp{index}", TRACK_COMPRESSOR)
            zamcomp = engine.make_plugin_processor(f"zam{index}", str(VST3_FOLDER / "ZamCompX2.vst3"))
            set_dawdreamer_parameters(zamcomp, TRACK_ZAMCOMP)
            graph += [
                (playback, []),
                (highpass, [f"play{index}"]),
                (compressor, [f"hp{index}"]),
                (zamcomp, [f"comp{index}"]),
            ]
            track_outputs.append(f"zam{index}")
        graph.append((engine.make_add_processor("mix", [1.0] * len(sources)), track_outputs))
        graph.append((_dawdreamer_compressor(engine, "master", MASTER_COMPRESSOR), ["mix"]))
        engine.load_graph(graph)

    def render(self) -> np.ndarray:
        # DawDreamer resets the graph at the start of every render (checked: renders repeat bit for bit).
        self.engine.render(self.seconds)
        return self.engine.get_audio()


def _dawdreamer_compressor(engine: object, name: str, params: Params) -> object:
    return engine.make_compressor_processor(  # type: ignore[attr-defined]
        name, params["threshold_db"], params["ratio"], params["attack_ms"], params["release_ms"]
    )


def set_dawdreamer_parameters(processor: object, values: Params) -> None:
    """Set a VST3's parameters by pedalboard's names (``threshold_db``) on a DawDreamer plug-in processor.

    DawDreamer takes normalised 0..1 values; DPF maps its ranges linearly. The
    value is read back as text so a wrong mapping fails loudly, not silently.
    """
    by_name: dict[str, dict] = {}
    for desc in processor.get_parameters_description():  # type: ignore[attr-defined]
        base = desc["name"].strip().lower().replace(" ", "_")
        label = desc["label"].strip().lower()
        by_name[base] = desc
        if label:
            by_name[f"{base}_{label}"] = desc
    for key, value in values.items():
        desc = by_name[key]
        lo, hi = float(desc["min"]), float(desc["max"])
        processor.set_parameter(desc["index"], (value - lo) / (hi - lo))  # type: ignore[attr-defined]
        shown = float(processor.get_parameter_text(desc["index"]))  # type: ignore[attr-defined]
        if not math.isclose(shown, value, rel_tol=1e-3, abs_tol=1e-3):
            raise RuntimeError(f"DawDreamer set {desc['name']} to {shown}, wanted {value}")


def bench_multitrack(tracks: int, seconds: float, reps: int) -> dict[str, float]:
    sources = [make_audio(seconds, seed=100 + i) for i in range(tracks)]
    session = multitrack_session(sources)
    graph = DawDreamerGraph(sources)
    ours = render(session, tail=False).audio
    theirs = graph.render()
    print(f"(b) {tracks} stereo tracks x 3 plug-ins + master compressor, {seconds:g} s, {os.cpu_count()} cores")
    print(f"    output rms rackhost {_rms_db(ours):.2f} dBFS, DawDreamer {_rms_db(theirs):.2f} dBFS "
          f"(similar, not identical: different high-pass order)")
    timings = alternate({"rackhost": lambda: render(session, tail=False), "dawdreamer": graph.render}, reps)
    rackhost_s, dawdreamer_s = timings.median("rackhost"), timings.median("dawdreamer")
    print(f"    rackhost    {timings.describe('rackhost')}")
    print(f"    DawDreamer  {timings.describe('dawdreamer')}")
    ratio = dawdreamer_s / rackhost_s
    print(f"    ratio (DawDreamer / rackhost) {ratio:.3f}" + (f"  target >= {DAWDREAMER_TARGET}" if tracks == 8 else ""))
    # Drop the plug-ins now: DPF prints teardown warnings when they are destroyed,
    # which must not land after the JSON line at interpreter exit.
    del graph
    gc.collect()
    return {
        f"rackhost_{tracks}track_s": rackhost_s,
        f"dawdreamer_{tracks}track_s": dawdreamer_s,
        f"dawdreamer_{tracks}track_ratio": ratio,
    }


# -- (e) rackhost vs DawDreamer, routed ------------------------------------------------


def _db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def routed_session(sources: list[np.ndarray]) -> Session:
    """32 tracks (as in (b)) into 4 busses, 2 reverb busses fed by sends, a split and a key, into the master."""
    from rackhost.chain import Chain, Plugin
    from rackhost.chain.split import Branch, Split

    session = Session(sample_rate=SAMPLE_RATE, block_size=BLOCK)
    for name in ROUTED_BUSSES:
        session.add_bus(name, Chain([Plugin.create("Compressor", **BUS_COMPRESSOR)]))
    drums = session.bus(ROUTED_BUSSES[0])
    drums.chain.add(Split([Branch(), Branch(Chain([Plugin.create("Compressor", **PARALLEL_COMPRESSOR)]),
                                            PARALLEL_LEVEL_DB)], name="parallel"))
    ducker = session.bus(DUCKED_BUS).chain.add(Plugin.create("ZamCompX2", **DUCKER))
    session.add_bus("plate", Chain([Plugin.create("Reverb", **REVERB)]))
    session.add_bus("hall", Chain([Plugin.create(str(PROJECT_VST3 / "MVerb.vst3"))]))
    for index, audio in enumerate(sources):
        track = session.add_track(f"track {index + 1}", ArraySource(audio, SAMPLE_RATE),
                                  output=ROUTED_BUSSES[index % len(ROUTED_BUSSES)])
        track.chain.add("HighpassFilter", cutoff_frequency_hz=TRACK_HIGHPASS_HZ)
        track.chain.add("Compressor", **TRACK_COMPRESSOR)
        track.chain.add("ZamCompX2", **TRACK_ZAMCOMP)
        if index in PLATE_SENDERS:
            track.add_send("plate", SEND_LEVEL_DB)
        if index in HALL_SENDERS:
            track.add_send("hall", SEND_LEVEL_DB)
    session.edit.set_key(session, ducker, KEY_TRACK)
    session.master.chain.add("Compressor", **MASTER_COMPRESSOR)
    return session


class DawDreamerRoutedGraph:
    """:func:`routed_session` as a DawDreamer graph, node for node.

    Tracks as in :class:`DawDreamerGraph`. A bus is an add processor summing
    what is routed to it, then its chain; a send is its gain in the add
    processor feeding a reverb bus (the sum of gain-scaled copies); the split
    is the bus signal and a compressed copy summed by an add processor at the
    branch's level; the master sums the six busses into its compressor.
    DawDreamer's ``make_reverb_processor`` is JUCE's ``Reverb``, as pedalboard's
    is; MVerb is the same VST3 binary on both sides.

    The key cannot be matched: DawDreamer 0.9.0 shows ZamCompX2 (the keyed build
    from build/vst3-keyed, which has a sidechain bus) with its main bus only, so
    a second input in ``load_graph`` is dropped ("Unable to connect ... channel
    2"); ``set_bus(3 or 4, 2)`` is refused ("CANNOT ApplyBusesLayout") and
    ``enable_all_buses()`` segfaults at render (all tried by hand, 2026-12-07).
    So the ducker runs unkeyed here: Debian's ZamCompX2, as on the tracks (it
    hears no key in any host, see rackhost.chain.keyed), with the same settings,
    its detector hearing the bus. That costs DawDreamer the same plug-in work,
    minus the key's routing. Loading the keyed build here too would put one
    bundle in two hosts of one process (minihost's twin and DawDreamer), which
    rackhost.chain.sidechain found crashes when one releases it.
    """

    keyed = False

    def __init__(self, sources: list[np.ndarray]):
        import dawdreamer

        self.engine = dawdreamer.RenderEngine(SAMPLE_RATE, BLOCK)
        self.seconds = sources[0].shape[1] / SAMPLE_RATE
        engine = self.engine
        graph: list[tuple[object, list[str]]] = []
        into: dict[str, list[str]] = {name: [] for name in ROUTED_BUSSES}
        plate, hall = [], []
        for index, audio in enumerate(sources):
            zamcomp = engine.make_plugin_processor(f"zam{index}", str(VST3_FOLDER / "ZamCompX2.vst3"))
            set_dawdreamer_parameters(zamcomp, TRACK_ZAMCOMP)
            graph += [
                (engine.make_playback_processor(f"play{index}", audio), []),
                (engine.make_filter_processor(f"hp{index}", "high", TRACK_HIGHPASS_HZ), [f"play{index}"]),
                (_dawdreamer_compressor(engine, f"comp{index}", TRACK_COMPRESSOR), [f"hp{index}"]),
                (zamcomp, [f"comp{index}"]),
            ]
            into[ROUTED_BUSSES[index % len(ROUTED_BUSSES)]].append(f"zam{index}")
            if index in PLATE_SENDERS:
                plate.append(f"zam{index}")
            if index in HALL_SENDERS:
                hall.append(f"zam{index}")
        bus_outputs = []
        for name, inputs in into.items():
            graph.append((engine.make_add_processor(f"{name} in", [1.0] * len(inputs)), inputs))
            graph.append((_dawdreamer_compressor(engine, name, BUS_COMPRESSOR), [f"{name} in"]))
            out = name
            if name == ROUTED_BUSSES[0]:
                graph.append((_dawdreamer_compressor(engine, f"{name} crushed", PARALLEL_COMPRESSOR), [name]))
                graph.append((engine.make_add_processor(f"{name} parallel", [1.0, _db_to_gain(PARALLEL_LEVEL_DB)]),
                              [name, f"{name} crushed"]))
                out = f"{name} parallel"
            if name == DUCKED_BUS:
                ducker = engine.make_plugin_processor(f"{name} ducker", str(VST3_FOLDER / "ZamCompX2.vst3"))
                set_dawdreamer_parameters(ducker, DUCKER)
                graph.append((ducker, [name]))
                out = f"{name} ducker"
            bus_outputs.append(out)
        send = _db_to_gain(SEND_LEVEL_DB)
        graph.append((engine.make_add_processor("plate sends", [send] * len(plate)), plate))
        graph.append((engine.make_reverb_processor("plate", *(REVERB[k] for k in
                      ("room_size", "damping", "wet_level", "dry_level", "width"))), ["plate sends"]))
        graph.append((engine.make_add_processor("hall sends", [send] * len(hall)), hall))
        graph.append((engine.make_plugin_processor("hall", str(PROJECT_VST3 / "MVerb.vst3")), ["hall sends"]))
        bus_outputs += ["plate", "hall"]
        graph.append((engine.make_add_processor("mix", [1.0] * len(bus_outputs)), bus_outputs))
        graph.append((_dawdreamer_compressor(engine, "master", MASTER_COMPRESSOR), ["mix"]))
        engine.load_graph(graph)

    def render(self) -> np.ndarray:
        self.engine.render(self.seconds)
        return self.engine.get_audio()


def bench_routed(seconds: float, reps: int) -> dict[str, float]:
    sources = [make_audio(seconds, seed=100 + i) for i in range(ROUTED_TRACKS)]
    session = routed_session(sources)
    graph = DawDreamerRoutedGraph(sources)
    ours = render(session, tail=False).audio
    theirs = graph.render()
    print(f"(e) routed: {ROUTED_TRACKS} stereo tracks x 3 plug-ins into {len(ROUTED_BUSSES)} busses, 2 reverb busses "
          f"fed by {len(PLATE_SENDERS) + len(HALL_SENDERS)} sends, a split on {ROUTED_BUSSES[0]!r}, "
          f"ZamCompX2 on {DUCKED_BUS!r} keyed from {KEY_TRACK!r}, {seconds:g} s, {os.cpu_count()} cores")
    print(f"    output rms rackhost {_rms_db(ours):.2f} dBFS, DawDreamer {_rms_db(theirs):.2f} dBFS "
          f"(similar, not identical: different high-pass order, and the key below)")
    print("    DawDreamer cannot key ZamCompX2 (it hosts the VST3's main bus only; enabling its sidechain bus "
          "crashes it): its ducker runs unkeyed, hearing the bus")
    timings = alternate({"rackhost": lambda: render(session, tail=False), "dawdreamer": graph.render}, reps)
    rackhost_s, dawdreamer_s = timings.median("rackhost"), timings.median("dawdreamer")
    print(f"    rackhost    {timings.describe('rackhost')}")
    print(f"    DawDreamer  {timings.describe('dawdreamer')}")
    ratio = dawdreamer_s / rackhost_s
    print(f"    ratio (DawDreamer / rackhost) {ratio:.3f}  target >= {ROUTED_TARGET}")
    # As in bench_multitrack, and the session too (its keyed twin is a DPF plug-in as well):
    # their teardown warnings must come before the JSON line.
    del graph, session
    gc.collect()
    return {
        "rackhost_routed_s": rackhost_s,
        "dawdreamer_routed_s": dawdreamer_s,
        "dawdreamer_routed_ratio": ratio,
        "routed_rms_db_rackhost": _rms_db(ours),
        "routed_rms_db_dawdreamer": _rms_db(theirs),
        "dawdreamer_routed_keyed": DawDreamerRoutedGraph.keyed,
    }


# -- (d) automation ------------------------------------------------------------------


def automate_multitrack(session: Session, seconds: float) -> int:
    """Give ``session`` (from :func:`multitrack_session`) 20 envelopes that never stop moving; returns how many."""
    from rackhost.chain.automation import Envelope, Point, SlotTarget, StripTarget, check_envelope

    def ride(low: float, high: float, phase: int) -> tuple[Point, ...]:
        times = np.arange(0.0, seconds + 1.5, 1.5)
        return tuple(Point(float(t), high if (k + phase) % 2 else low) for k, t in enumerate(times))

    count = 0
    for index, track in enumerate(session.tracks):
        _, compressor, zamcomp = track.chain.slots
        targets = [(StripTarget("gain_db"), -12.0, 0.0), (SlotTarget(zamcomp, "threshold_db"), -30.0, -10.0)]
        if index < 4:
            targets.append((SlotTarget(compressor, "threshold_db"), -30.0, -10.0))
        for target, low, high in targets:
            track.automation.append(check_envelope(track, Envelope(target, ride(low, high, index))))
            count += 1
    return count


def bench_automation(seconds: float, reps: int) -> dict[str, float]:
    sources = [make_audio(seconds, seed=100 + i) for i in range(8)]
    plain = multitrack_session(sources)
    automated = multitrack_session(sources)
    count = automate_multitrack(automated, seconds)
    render(plain, tail=False), render(automated, tail=False)  # warm-up
    print(f"(d) 8 stereo tracks x 3 plug-ins + master compressor, {seconds:g} s, {count} automated parameters "
          f"(8 faders, 8 ZamCompX2 and 4 Compressor thresholds, always moving)")
    timings = alternate({"automated": lambda: render(automated, tail=False),
                         "plain": lambda: render(plain, tail=False)}, reps)
    with_s, without_s = timings.median("automated"), timings.median("plain")
    print(f"    automated   {timings.describe('automated')}")
    print(f"    plain       {timings.describe('plain')}")
    ratio = with_s / without_s
    print(f"    automation cost ratio (automated / plain) {ratio:.3f}  target <= {AUTOMATION_TARGET}")
    return {"automated_8track_s": with_s, "plain_8track_s": without_s, "automation_cost_ratio": ratio,
            "automated_parameters": count}


# -- (c) loudness-targeted mastering ------------------------------------------------


def bench_mastering_targets(seconds: float) -> dict[str, float]:
    """Each factory mastering preset on the same mix, rendered once to its loudness target."""
    from rackhost.chain.loudness import measure
    from rackhost.presets.apply import apply_preset
    from rackhost.presets.store import PresetStore

    audio = make_audio(seconds, seed=3)
    measure(audio[:, :SAMPLE_RATE], SAMPLE_RATE)  # scipy and pyloudnorm load on first use: not timed
    store = PresetStore(user_dir=None)
    refs = sorted(e.ref for e in store.list() if e.factory and e.stage == "mastering")
    print(f"(c) factory mastering presets to their loudness targets, {seconds:g} s stereo, block {BLOCK}")
    passes, total = [], 0.0
    for ref in refs:
        session = Session(sample_rate=SAMPLE_RATE, block_size=BLOCK)
        session.add_track("mix", ArraySource(audio, SAMPLE_RATE))
        apply_preset(store.load(ref), session)
        gc.collect()
        start = time.perf_counter()
        result = render(session)
        elapsed = time.perf_counter() - start
        report = result.target_report
        assert report is not None, ref
        passes.append(report.passes)
        total += elapsed
        achieved = report.achieved
        print(f"    {ref:26} {report.passes} passes ({getattr(report, 'predictions', 0)} limiter-only runs)  {elapsed:6.2f} s  "
              f"{achieved.integrated_lufs:6.2f} LUFS (target {report.target.integrated_lufs:g}), "
              f"true peak {achieved.true_peak_dbtp:5.2f} dBTP (<= {report.target.true_peak_dbtp:g})  "
              f"{'within' if report.within else 'MISSED'}")
    factor = len(refs) * seconds / total
    print(f"    most passes {max(passes)}, {factor:.1f}x real time over all presets")
    return {"mastering_passes": max(passes), "mastering_realtime_factor": factor}


def parallel_speedup(threads: int = 2, seconds: float = 10.0) -> float:
    """How much faster ``threads`` pedalboard renders run side by side than one after another.

    rackhost spreads tracks over threads, so its multitrack numbers depend on
    whether the cores are real: on a shared VM this can be near 1.0 even with
    several reported cores. Printed so the DawDreamer ratios can be read right.
    """
    audio = make_audio(seconds, seed=7)
    plugins = [pedalboard.Compressor(**TRACK_COMPRESSOR) for _ in range(threads)]

    def run(plugin: pedalboard.Plugin) -> None:
        plugin.process(audio, SAMPLE_RATE, BLOCK, True)

    def serial() -> None:
        for plugin in plugins:
            run(plugin)

    def parallel() -> None:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, plugins))

    timings = alternate({"serial": serial, "parallel": parallel}, 3)
    return timings.median("serial") / timings.median("parallel")


def _rms_db(audio: np.ndarray) -> float:
    return 20.0 * math.log10(max(float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))), 1e-12))


# -- main ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 s of audio, 2 repetitions")
    parser.add_argument("--seconds", type=float, help="audio length for every scenario (default 60)")
    parser.add_argument("--reps", type=int, help="timed repetitions per side (default 5)")
    parser.add_argument("--only", choices=("mastering-targets", "automation", "routed"), help="run just this part")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (5.0 if args.quick else 60.0)
    args.reps = args.reps or (2 if args.quick else 5)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, object] = {"seconds": args.seconds, "reps": args.reps, "cores": os.cpu_count()}
    if args.only is not None:
        only = {"mastering-targets": lambda: bench_mastering_targets(args.seconds),
                "automation": lambda: bench_automation(args.seconds, args.reps),
                "routed": lambda: bench_routed(args.seconds, args.reps)}[args.only]
        results.update(only())
        sys.stderr.flush()
        print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in results.items()}), flush=True)
        return 0
    speedup = parallel_speedup()
    print(f"machine: {os.cpu_count()} cores; 2 pedalboard threads run {speedup:.2f}x as fast as 1 (2.0 = real cores)")
    results["two_thread_speedup"] = speedup
    results.update(bench_mastering(args.seconds, args.reps))
    for tracks in (8, 32):
        results.update(bench_multitrack(tracks, args.seconds, args.reps))
    results.update(bench_mastering_targets(args.seconds))
    results.update(bench_automation(args.seconds, args.reps))
    results.update(bench_routed(args.seconds, args.reps))
    results["overhead_target_met"] = results["overhead_ratio"] <= OVERHEAD_TARGET  # type: ignore[operator]
    results["dawdreamer_target_met"] = results["dawdreamer_8track_ratio"] >= DAWDREAMER_TARGET  # type: ignore[operator]
    results["automation_target_met"] = results["automation_cost_ratio"] <= AUTOMATION_TARGET  # type: ignore[operator]
    results["routed_target_met"] = results["dawdreamer_routed_ratio"] >= ROUTED_TARGET  # type: ignore[operator]
    sys.stderr.flush()
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in results.items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
