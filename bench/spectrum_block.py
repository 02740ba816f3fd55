"""What watching a strip in the spectrum view costs the audio callback per block, without a stream.

bench/live.py --spectrum measures the same thing for real (JACK, real-time
threads, a quiet machine). This script is its tight-loop companion: the live
engine's callback (:meth:`rackhost.live.callback.AudioCallback._callback`) is
called directly, block after block, on bench/live.py's session (``--tracks``
file tracks x its TRACK_CHAIN, its MASTER_CHAIN, 128 frames at 48 kHz), with
the view closed, open on the master and open on track 1, in turn, ``--chunk``
blocks each, for ``--rounds`` rounds (the order reversed every other round);
each side's tap is made once by the engine and swapped back in.
Every block's CPU time (the thread's) is taken; each side's figure is the
median over all its blocks, and the ratio is that over closed's. CPU-bound: it
may run under ``nice``.

    python bench/spectrum_block.py [--tracks 16] [--rounds 400] [--chunk 20]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

SIDES = ("closed", "master", "track")
OK = types.SimpleNamespace(input_overflow=False, output_underflow=False)


def build(tracks: int, seconds: float) -> object:
    """A started live engine (no stream) on bench/live.py's session, its transport looping ``seconds``."""
    from live import BLOCK, MASTER_CHAIN, SAMPLE_RATE, TRACK_CHAIN
    from offline import make_audio

    from rackhost.chain import ArraySource, Session
    from rackhost.live import LiveEngine

    session = Session(sample_rate=SAMPLE_RATE, block_size=BLOCK)
    sources = [make_audio(seconds, seed=100 + k) for k in range(8)]
    for i in range(tracks):
        chain = session.add_track(f"track {i + 1}", ArraySource(sources[i % 8].copy(), SAMPLE_RATE)).chain
        for plugin, params in TRACK_CHAIN:
            chain.add(plugin, **params)
    for plugin, params in MASTER_CHAIN:
        session.master.chain.add(plugin, **params)
    engine = LiveEngine(session)
    session.reset()
    engine.update()
    engine.set_loop(0, int(seconds * SAMPLE_RATE) // BLOCK * BLOCK)
    engine.play()
    return engine


def watch(engine: object, side: str) -> None:
    engine.watch_spectrum(False if side == "closed" else None if side == "master" else 0)


class Sides:
    """Each side's tap and its chain's recorder, made once by the engine (``watch_spectrum``) and swapped back in
    by assignment, as the engine does: a new tap's allocation every few blocks would weigh on the blocks after
    it (a user opens a view once, bench/live.py switches every 12 s)."""

    def __init__(self, engine: object):
        self.engine = engine
        self.kept: dict[str, tuple[object, object, object]] = {}
        for side in SIDES:
            watch(engine, side)
            run(engine, 200)  # warm every path up: first calls, caches, the rings' pages
            chain = engine._watched_chain(engine._state)
            self.kept[side] = (engine._spectrum_tap, chain, getattr(chain, "levels", None))

    def show(self, side: str) -> None:
        for _, chain, _ in self.kept.values():
            if chain is not None:
                chain.levels = None
        tap, chain, levels = self.kept[side]
        if chain is not None:
            chain.levels = levels
        self.engine._spectrum_tap = tap


def run(engine: object, blocks: int, out: list[float] | None = None) -> None:
    """``blocks`` callbacks; each one's CPU time in us (this thread's: another process taking the core away
    mid-block is not the block's cost) appended to ``out``."""
    from live import BLOCK

    indata = np.zeros((BLOCK, 2), np.float32)
    outdata = np.zeros((BLOCK, 2), np.float32)
    callback = engine._callback
    clock = time.thread_time_ns
    for _ in range(blocks):
        started = clock()
        callback(indata, outdata, BLOCK, None, OK)
        if out is not None:
            out.append((clock() - started) / 1000.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=20, help="blocks per side per round")
    args = parser.parse_args()
    engine = build(args.tracks, 10.0)
    times: dict[str, list[float]] = {side: [] for side in SIDES}
    sides = Sides(engine)
    gc.disable()  # a collection landing in one side's chunk is noise, not that side's cost
    try:
        for round_ in range(args.rounds):  # short chunks, so a neighbour's load drifting weighs on every side
            for side in SIDES if round_ % 2 == 0 else SIDES[::-1]:
                sides.show(side)
                run(engine, 2)  # the switch's first blocks are not the side's steady cost
                run(engine, args.chunk, times[side])
    finally:
        gc.enable()
    watch(engine, "closed")
    medians = {side: statistics.median(values) for side, values in times.items()}
    ratios = {side: round(medians[side] / medians["closed"], 4) for side in ("master", "track")}
    for side in SIDES:
        extra = f", {ratios[side]:.4f} of closed" if side in ratios else ""
        print(f"{side:>7}: median {medians[side]:8.2f} us per block over {len(times[side])} blocks{extra}")
    print(json.dumps({"tracks": args.tracks, "blocks_per_side": len(times["closed"]),
                      "median_us": {s: round(v, 2) for s, v in medians.items()}, "ratio": ratios}))


if __name__ == "__main__":
    main()
