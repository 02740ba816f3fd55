"""Where a late cycle comes from: the live engine's callbacks timed one by one under JACK.

Runs :class:`LiveEngine` in this process on a private JACK dummy server (48 kHz,
``--period`` frames, ``-R``) with N file tracks of bench/live.py's chain, the
GUI-like load in *another* process (as with the engine process), and this
process's main thread doing what the engine process's control thread does
(poll, meters, stats, loudness 15 times a second, each started right after a
block; at the lowest real-time priority, automatic collection off, as there). For every callback it records when it started and how long it took,
then prints:

- the late cycles jackd reported, with their states (``Triggered``: the OS had
  not run the woken thread; ``Running``: it had started, not finished);
- each late cycle's neighbourhood: start delay (against the period grid fitted
  to all callbacks) and duration, in periods: a late *start* means something
  held the process (or the GIL) before the callback ran, a long *duration*
  that it was held while the callback ran;
- for those callbacks, the time the thread was on a CPU (``thread_time``), its
  system time, minor page faults and involuntary switches (``getrusage``): on
  the CPU for the whole of a long callback, with no system time, faults or
  preemption, means the machine itself ran the code slower (see
  bench/native_reference.c, which sees the same bursts with no Python);
- what the control thread was doing meanwhile (its rounds of work, in ms);
- the spacing between late cycles, which exposes periodic causes (this is how
  khugepaged's 10.24 s collapses were found, see rackhost/live/memory.py);
- huge-page collapses (``/proc/vmstat``) and steal time over the run.

    python bench/late_cycles.py [--tracks 16] [--seconds 40] [--period 128] [--no-spread]
                                [--no-gui-load] [--idle-control] [--huge-pages]
"""

from __future__ import annotations

import argparse
import gc
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
for _path in (str(BENCH_DIR.parent / "tests"), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

RATE = 48000
GUI_LOAD = ("import sys, time; sys.path.insert(0, {bench!r}); import live; "
            "g = live.GuiLoad(live.GUI_BUSY, lambda: None); g.start(); time.sleep({seconds})")


def vmstat(field: str) -> int:
    for line in Path("/proc/vmstat").read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == field:
            return int(value)
    return 0


def steal_jiffies() -> int:
    return int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[8])


def timed_engine_class() -> type:
    from rackhost.live import LiveEngine

    class TimedEngine(LiveEngine):
        """The live engine, with each callback's start and end kept (preallocated arrays, no allocation)."""

        def arm_timing(self, capacity: int) -> None:
            self.starts = np.zeros(capacity)
            self.ends = np.zeros(capacity)
            self.flagged = np.zeros(capacity, bool)
            self.cpu = np.zeros(capacity)
            self.usage = np.zeros((capacity, 4))  # user s, system s, minor faults, involuntary switches
            self.timed = 0

        def _callback(self, indata: Any, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
            started, cpu = time.perf_counter(), time.thread_time()
            before = resource.getrusage(resource.RUSAGE_THREAD)
            super()._callback(indata, outdata, frames, time_info, status)
            after = resource.getrusage(resource.RUSAGE_THREAD)
            i = self.timed
            if i < len(self.starts):
                self.starts[i] = started
                self.ends[i] = time.perf_counter()
                self.cpu[i] = time.thread_time() - cpu
                self.usage[i] = (after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
                                 after.ru_minflt - before.ru_minflt, after.ru_nivcsw - before.ru_nivcsw)
                self.flagged[i] = status.input_overflow or status.output_underflow
            self.timed = i + 1

    return TimedEngine


def control_loop(engine: Any, seconds: float, idle: bool) -> list[tuple[float, float]]:
    """What the engine process's control thread does between commands (see rackhost/live/process.py).

    Returns when each round of work started and ended (perf_counter), to set against the callbacks.
    """
    from rackhost.live import process

    end = time.monotonic() + seconds
    if idle:
        threading.Event().wait(seconds)
        return []
    meters = np.zeros((process.MAX_STRIPS + 1, 2, process._METER_FIELDS))
    stats = np.zeros(process._STAT_FLOATS)
    spans = []
    while time.monotonic() < end:
        time.sleep(process.PUBLISH_SECONDS)
        started = time.perf_counter()
        engine.poll()
        engine.after_block()
        process._publish(engine, meters, stats)
        engine.after_block()
        gc.collect(1)
        spans.append((started, time.perf_counter()))
    return spans


def report(engine: Any, first: int, last: int, period: float, late: int, states: dict[str, int],
           spans: list[tuple[float, float]]) -> None:
    starts, ends, flagged = engine.starts[first:last], engine.ends[first:last], engine.flagged[first:last]
    phase = starts - np.arange(len(starts)) * period
    earliest = np.minimum.accumulate(phase[::-1])[::-1]  # a callback can start no earlier than the grid allows
    delay = (phase - earliest) / period
    duration = (ends - starts) / period
    cpu = engine.cpu[first:last] / period
    usage = engine.usage[first:last]
    print(f"  per callback: system time p50 {np.median(usage[:, 1]) / period:.3f} periods, "
          f"minor faults {usage[:, 2].sum():.0f} in all, preempted {usage[:, 3].sum():.0f} times in all")
    print(f"{len(starts)} callbacks; jackd: {late} late cycles {states}; flagged in the callback: {int(flagged.sum())}")
    print(f"  start delay (periods)  p50 {np.median(delay):.3f}  p99 {np.percentile(delay, 99):.3f}  "
          f"max {delay.max():.3f}")
    print(f"  duration (periods)     p50 {np.median(duration):.3f}  p99 {np.percentile(duration, 99):.3f}  "
          f"max {duration.max():.3f}")
    marks = np.flatnonzero(flagged)
    for j in marks[:12]:
        lo = max(0, j - 3)
        print(f"  late at callback {j}: start delays {np.round(delay[lo:j + 1], 2)}, "
              f"durations {np.round(duration[lo:j + 1], 2)}, on the CPU {np.round(cpu[lo:j + 1], 2)} "
              f"(system {np.round(usage[lo:j + 1, 1] / period, 2)}, faults {usage[lo:j + 1, 2].astype(int)}, "
              f"preempted {usage[lo:j + 1, 3].astype(int)}); control thread {control_overlap(spans, starts[lo], ends[j])}")
    if len(marks) > 1:
        print(f"  spacing between late cycles (callbacks): {np.diff(marks).tolist()}")


def control_overlap(spans: list[tuple[float, float]], start: float, end: float) -> str:
    """The control thread's rounds of work that overlapped [start, end], in ms relative to start."""
    hits = [f"{(a - start) * 1e3:+.2f}..{(b - start) * 1e3:+.2f} ms" for a, b in spans if a < end and b > start]
    return "busy " + ", ".join(hits) if hits else "idle"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tracks", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--period", type=int, default=128)
    parser.add_argument("--no-spread", action="store_true", help="keep the tracks on the audio thread alone")
    parser.add_argument("--no-gui-load", action="store_true", help="no GUI-like load in another process")
    parser.add_argument("--idle-control", action="store_true", help="the control thread sleeps instead")
    parser.add_argument("--huge-pages", action="store_true",
                        help="leave transparent huge pages on (the engine turns them off)")
    args = parser.parse_args(argv)

    import live
    from jack_harness import JackServer, jack_device
    from rackhost.live import memory, priority
    from rackhost.presets import load_session

    if args.huge_pages:
        memory.disable_huge_pages = lambda: "huge pages left on (--huge-pages)"  # for this run only
    period = args.period / RATE
    server = JackServer(rate=RATE, period=args.period, inputs=2, outputs=2, portaudio=False)
    server.start()
    try:
        jack_log = live.JackLog(server.log_path)
        with tempfile.TemporaryDirectory(prefix="rackhost-late-") as tmp:
            bench = live.Bench(argparse.Namespace(no_spread=args.no_spread), Path(tmp), None, None)
            session = load_session(bench.material.session(args.tracks, args.seconds + 10))
            session.block_size = args.period
            engine = timed_engine_class()(session, device=jack_device(), spread=not args.no_spread)
            engine.arm_timing(int((args.seconds + 10) / period))
            engine.start()
            # As in the engine process, right after start: an ordinary thread holding the GIL while
            # the GUI load preempts it delays the callback (this made every run's first cycles late).
            control = priority.raise_control_thread(engine.audio_thread_id)
            gc.freeze()
            gc.disable()  # as in the engine process: this thread collects, between blocks
            engine.play()
            print(f"{args.tracks} tracks, period {args.period} at {RATE} Hz, {args.seconds:g} s; audio thread "
                  f"{engine.audio_priority}; control thread {control}; {engine.spread_state}; {engine.memory}")
            load = None if args.no_gui_load else subprocess.Popen(
                [sys.executable, "-c", GUI_LOAD.format(bench=str(BENCH_DIR), seconds=args.seconds + 5)])
            time.sleep(2.0)  # settled: plug-ins warm, the load running
            late0, log0, first = jack_log.count(), jack_log.size(), engine.timed
            collapses0, steal0 = vmstat("thp_collapse_alloc"), steal_jiffies()
            spans: list[tuple[float, float]] = []
            try:
                spans = control_loop(engine, args.seconds, args.idle_control)
            finally:
                last = engine.timed
                late, states = jack_log.count() - late0, jack_log.reasons(log0)
                collapses, steal = vmstat("thp_collapse_alloc") - collapses0, steal_jiffies() - steal0
                if load is not None:
                    load.kill()
                engine.close()
                import sounddevice as sd

                sd._terminate()  # while the server is alive: PortAudio's JACK host aborts otherwise
        report(engine, first, last, period, late, states, spans)
        print(f"  huge-page collapses during the run: {collapses}; steal: {steal} jiffies")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
