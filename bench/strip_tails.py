"""Per-strip, per-stage timing tails of the live engine's block path, without a stream (issue 16's routed figure).

The live engine's per-block path (:meth:`AudioCallback._process`, the very code the callback runs) is called
block after block in this process, on one thread, for the routed session of bench/live.py (f) and, to compare,
a plain session of tracks into the master. Every stage of every chain (tracks, busses, master) is timed with
``perf_counter_ns`` around its call, and so is the whole block; what is not in any stage (routing, delay lines,
meters, reading files) is the block minus its stages. Printed per strip: p50, p99, max (microseconds) and
how often a block took more than ``--spike`` times its own median, which is what tells an irregular cost from
noise, and the minor page faults the audio thread took in it (a fault in a real-time callback can wait for the
process's memory-map lock, whoever holds it). The clock is by default this thread's CPU time
(``thread_time_ns``): under contention (run it under ``nice -n 19``) other processes' turns are left out, so a
strip that does extra work every so many blocks shows it in its p99/p50 and its spike count whatever the machine
is doing; ``--clock wall`` gives elapsed time instead.

Measured 2026-12-07 (busy machine, nice 19, 70 s of the routed session, 26,250 blocks; then 10 s of each):
no strip has a tail of its own. Every stage's p99 is 2-8x its p50 (tracks 5x, bus compressors 6-7x, the keyed
ducker 2.4x, MVerb 3.3x), as in the plain 32-track session (tracks 6x); no stage ever blocked (voluntary context
switches inside a stage: none in 8,000 blocks). The routed block costs 1,210 us of CPU at p50 against 816 us for
32 plain tracks: the six busses about 200 us (the keyed ducker alone 89 us: its minihost twin runs cold, 11 us
when called back to back), routing and meters over 39 strips about 180 us more. The one cost the plain session
has not: the keyed ducker's twin grows the heap for the first ~1,300 blocks it runs (about 1.5 MB, a page fault
every 3-4 blocks in that time, on the audio thread), then never again.

    python bench/strip_tails.py [--seconds 20] [--plain 32] [--top 12] [--warm 200] [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import live as bench_live  # noqa: E402 - bench/live.py: its material and its routed session

BLOCK = bench_live.BLOCK


class Timers:
    """Named timers, one column each, one row per block."""

    def __init__(self, blocks: int, clock: Callable[[], int]):
        self.clock = clock
        self.names: list[str] = []
        self.times = np.zeros((blocks, 0), np.int64)
        self.faults = np.zeros((blocks, 0), np.int64)  # minor page faults of this thread in the column's calls
        self.blocks = blocks
        self.row = 0

    def column(self, name: str) -> int:
        self.names.append(name)
        self.times = np.concatenate((self.times, np.zeros((self.blocks, 1), np.int64)), axis=1)
        self.faults = np.concatenate((self.faults, np.zeros((self.blocks, 1), np.int64)), axis=1)
        return len(self.names) - 1

    def wrap(self, name: str, stage: Callable) -> Callable:
        col = self.column(name)
        clock = self.clock
        times = self

        def timed(block: np.ndarray) -> np.ndarray:
            faults = _faults()
            start = clock()
            try:
                return stage(block)
            finally:
                times.times[times.row, col] += clock() - start
                times.faults[times.row, col] += _faults() - faults

        return timed


def instrument(state: Any, timers: Timers) -> None:
    """Wrap every stage of every chain the state runs (tracks, busses, master) in a timer."""
    def chain(label: str, processor: Any) -> None:
        if processor is None or not processor.stages:
            return
        processor.stages = tuple(timers.wrap(f"{label} [{i}] {_stage_name(s)}", s)
                                 for i, s in enumerate(processor.stages))

    for _, strip, _ in state.lanes:
        chain(f"track {strip.name!r}", strip.chain)
    router = state.snapshot.router
    if router is not None:
        for bus in router.busses:
            chain(f"bus {bus.name!r}", bus.chain)
    chain("master", state.snapshot.master.chain)


def _stage_name(stage: Any) -> str:
    name = type(stage).__name__
    if name == "function":
        owner = getattr(stage, "__closure__", None) or ()
        for cell in owner:
            inner = cell.cell_contents
            if hasattr(inner, "process") and not callable(getattr(inner, "stages", None)):
                return type(inner).__name__
        return stage.__qualname__.split(".")[0]
    return name


WINDOW = 4096  # blocks per window, as the engine's load history: a cost that grows with time shows window by window
def _faults() -> int:
    """This thread's minor page faults so far, and 2**32 times its voluntary context switches (a stage that
    waited for something: a lock, a pipe, the GIL handed to another thread), in one number per getrusage."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_minflt + (usage.ru_nvcsw << 32)


CLOCKS = {"cpu": time.thread_time_ns, "wall": time.perf_counter_ns}


def measure(path: Path, seconds: float, spike: float, clock_name: str = "cpu", warm: int = 200) -> dict[str, Any]:
    from rackhost.live import engine as engine_module
    from rackhost.presets import load_session

    with bench_live.stderr_to(Path(tempfile.gettempdir()) / "strip-tails-stderr.log"):
        session = load_session(path)
        engine = engine_module.LiveEngine(session, spread=False)
        engine.update()
    state = engine._state
    blocks = int(seconds * bench_live.SAMPLE_RATE / BLOCK)
    clock = CLOCKS[clock_name]
    timers = Timers(blocks, clock)
    total = timers.column("whole block")
    instrument(state, timers)
    engine._playing = True
    indata = np.zeros((BLOCK, 1), np.float32)
    outdata = np.zeros((BLOCK, 2), np.float32)
    for _ in range(warm):  # warm up: first calls allocate, plug-ins settle
        engine._process(state, indata, outdata)
    timers.times[:] = 0
    timers.faults[:] = 0  # the warm-up ran in row 0
    engine._position = 0
    for b in range(blocks):
        timers.row = b
        faults = _faults()
        start = clock()
        engine._process(state, indata, outdata)
        timers.times[b, total] = clock() - start
        timers.faults[b, total] = _faults() - faults
    t = timers.times.astype(np.float64) / 1000.0
    stages = t[:, 1:].sum(axis=1)
    rows = {name: t[:, i] for i, name in enumerate(timers.names)}
    rows["outside the stages (routing, meters, files)"] = t[:, total] - stages
    minor, waits = timers.faults & 0xFFFFFFFF, timers.faults >> 32
    outside = "outside the stages (routing, meters, files)"
    faults = {name: minor[:, i] for i, name in enumerate(timers.names)}
    faults[outside] = minor[:, total] - minor[:, 1:].sum(axis=1)
    waited = {name: waits[:, i] for i, name in enumerate(timers.names)}
    waited[outside] = waits[:, total] - waits[:, 1:].sum(axis=1)
    summary = {}
    for name, us in rows.items():
        p50 = float(np.percentile(us, 50))
        summary[name] = {"faults": int(faults[name].sum()),
                         "fault_blocks": int(np.count_nonzero(faults[name])),
                         "waits": int(waited[name].sum()),"p50": p50, "p99": float(np.percentile(us, 99)), "max": float(us.max()),
                         "spikes": int(np.count_nonzero(us > spike * max(p50, 1.0))),
                         "spike_blocks": [int(b) for b in np.flatnonzero(us > spike * max(p50, 1.0))[:12]]}
    windows = [{"p50": float(np.percentile(t[w:w + WINDOW, total], 50)),
                "p99": float(np.percentile(t[w:w + WINDOW, total], 99))} for w in range(0, blocks, WINDOW)]
    del engine, state, session
    gc.collect()
    return {"blocks": blocks, "strips": summary, "windows": windows, "names": timers.names, "times": t}


def report(title: str, result: dict[str, Any], top: int) -> None:
    strips = result["strips"]
    print(f"\n{title}: {result['blocks']} blocks of {BLOCK}")
    print(f"  {'strip / stage':<58} {'p50 us':>8} {'p99 us':>8} {'max us':>9} {'p99/p50':>8} {'spikes':>7} "
          f"{'faults':>7}")
    order = sorted(strips.items(), key=lambda kv: -kv[1]["p99"] / max(kv[1]["p50"], 1.0))
    shown = [kv for kv in order if kv[0] == "whole block"] + [kv for kv in order if kv[0] != "whole block"][:top]
    for name, s in shown:
        print(f"  {name[:58]:<58} {s['p50']:8.1f} {s['p99']:8.1f} {s['max']:9.1f} "
              f"{s['p99'] / max(s['p50'], 1.0):8.2f} {s['spikes']:7d} {s['faults']:7d}")
    faulted = [(name, s["faults"], s["fault_blocks"]) for name, s in strips.items() if s["faults"]]
    print("  page faults:", "; ".join(f"{name} {n} in {b} blocks" for name, n, b in faulted) or "none")
    waited = [(name, s["waits"]) for name, s in strips.items() if s["waits"] and name != "whole block"]
    print("  waits (voluntary context switches) inside:", "; ".join(f"{name} {n}" for name, n in waited) or "none")
    print("  whole block by window of", WINDOW, "blocks (p50/p99 us):",
          "  ".join(f"{w['p50']:.0f}/{w['p99']:.0f}" for w in result["windows"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per session (blocks = seconds x 375)")
    parser.add_argument("--plain", type=int, default=32, help="tracks of the plain session to compare (0: none)")
    parser.add_argument("--spike", type=float, default=3.0, help="a block over this times the strip's median")
    parser.add_argument("--top", type=int, default=12, help="strips shown, by p99/p50")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: this thread's CPU time (preemption by other processes left out); wall: elapsed")
    parser.add_argument("--warm", type=int, default=200, help="blocks run before measuring")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="strip-tails-") as folder:
        material = bench_live.Material(Path(folder))
        results = {"routed": measure(material.routed(args.seconds).path, args.seconds, args.spike, args.clock, args.warm)}
        report("routed session (bench/live.py (f))", results["routed"], args.top)
        if args.plain:
            results[f"plain {args.plain}"] = measure(material.session(args.plain, args.seconds), args.seconds,
                                                     args.spike, args.clock, args.warm)
            report(f"plain session, {args.plain} tracks into the master", results[f"plain {args.plain}"], args.top)
    if args.json:
        for result in results.values():
            np.save(args.json.with_suffix(f".{len(result['names'])}.npy"), result.pop("times"))
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
