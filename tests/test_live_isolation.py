"""Isolation: the engine process keeps time while the parent's Python runs flat out (issue 5, first test).

Why it holds: the engine has its own interpreter (its own GIL), its audio thread
runs at JACK's real-time priority and its control thread at the lowest
real-time priority, so nothing the parent does can delay either of them. The
same engine in the parent's process shares the parent's GIL with the busy
thread, and its callback waits for it at every plug-in call.

So the test measures isolation against that in-process engine, in the same
run, under the same load: the engine process's callback load (p99 over its
last 4,096 blocks, most of them under the load) must be under AHEAD (75%) of
the in-process engine's (p99 over the busy span; measured at a quarter to a
half of it on this 2-core VM). Both sides see the same machine, so a busy machine (another test
run, another JACK server) raises both and cannot fail the test; a round where
the two were measured through different stretches of the machine's noise is
taken again, up to ROUNDS times, and the test fails if no round shows the
engine process ahead. It also checks what holds anywhere: the transport moved
exactly one block per callback (every frame delivered), huge pages are off in
the engine (see rackhost/live/memory.py), the audio thread is real-time, and
meters and loudness came through while the parent was busy. Xrun rates are the
benchmark's to measure (``python bench/live.py --rates``); nothing here asserts
on xruns or wall-clock time.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import SR, file_loader, program_signal
from jack_harness import jack_device
from rackhost.chain import Session

BLOCK = 128
TRACKS = 16
WINDOW_BLOCKS = 4096  # the engine's load history (LOAD_HISTORY), which the process side's p99 is read over
# Over half that window: if the busy parent reached the engine process, the blocks it slowed would be the
# window's worst and make its p99; if not, the blocks before it are alike and change nothing.
SECONDS = 6.0
IN_PROCESS_SECONDS = 3.0  # read callback by callback in this process, over exactly the busy span
AHEAD = 0.75  # the engine process's p99 under this share of the in-process engine's: plainly not sharing a GIL
SETTLE_BLOCKS = 750  # 2 s of callbacks before measuring: plug-ins warmed, caches filled
ROUNDS = 3  # rounds tried before the test fails: see above


def _spin(stop: threading.Event) -> int:
    """Pure-Python work, flat out, until ``stop`` is set."""
    table: dict[int, int] = {}
    rounds = 0
    while not stop.is_set():
        for i in range(200):
            table[i & 63] = table.get(i & 63, 0) + i * i % 7
        rounds += 1
    return rounds


def _while_busy(seconds: float) -> int:
    """Sleep ``seconds`` while a thread of this process runs pure Python flat out; returns its rounds."""
    stop = threading.Event()
    rounds: list[int] = []
    hog = threading.Thread(target=lambda: rounds.append(_spin(stop)), daemon=True)
    hog.start()
    try:
        time.sleep(seconds)
    finally:
        stop.set()
        hog.join()
    return rounds[0] if rounds else 0


def _machine_cpu() -> float:
    """CPU seconds all cores have spent busy (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return sum(int(fields[i]) for i in (0, 1, 2, 5, 6, 7)) / os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    load_p99: float  # callback time over the block period, under the busy loop
    blocks: int
    frames: int  # how far the transport moved meanwhile
    rounds: int  # the busy loop's rounds: it did run


@dataclass
class Round:
    process: Side
    in_process: Side
    machine: float  # cores busy on the whole machine over the round (everything, this test included)

    def __str__(self) -> str:
        return (f"load p99 {self.process.load_p99:.2f} (engine process) vs {self.in_process.load_p99:.2f} "
                f"(in-process), machine {self.machine:.2f} cores busy")


def _engine_process_side(engine) -> Side:
    before = engine.stats()
    rounds = _while_busy(SECONDS)
    after = engine.stats()
    return Side(after["load_p99"], int(after["callbacks"] - before["callbacks"]),
                int(after["position"] - before["position"]), rounds)


def _in_process_side(path: Path) -> Side:
    """The same session in a LiveEngine in this process: its callback shares this interpreter's GIL."""
    from rackhost.live import LiveEngine
    from rackhost.presets import load_session

    switch = sys.getswitchinterval()
    engine = LiveEngine(load_session(path), device=jack_device())
    engine.start()
    try:
        engine.play()
        while engine.stats().position < SETTLE_BLOCKS * BLOCK:
            time.sleep(0.05)
        first, position = engine._callbacks, engine.stats().position
        rounds = _while_busy(IN_PROCESS_SECONDS)
        last = engine._callbacks
        loads = np.array([engine._loads[k % WINDOW_BLOCKS] for k in range(first, last)])
        moved = engine.stats().position - position
    finally:
        engine.close()
        sys.setswitchinterval(switch)  # LiveEngine.start() shortened it for the whole process
    return Side(float(np.percentile(loads, 99)), last - first, moved, rounds)


def test_engine_process_keeps_time_while_the_parent_runs_pure_python_flat_out(jack_server, tmp_path, wav_file):
    from rackhost.live.commands import Play
    from rackhost.live.process import EngineProcess
    from rackhost.presets import save_session

    session = Session(sample_rate=SR, block_size=BLOCK)
    files = [wav_file(program_signal(2, SECONDS + 6, seed=40 + k), f"src{k}.wav") for k in range(4)]
    for i in range(TRACKS):
        chain = session.add_track(f"track {i + 1}", files[i % len(files)]).chain
        chain.add("HighpassFilter", cutoff_frequency_hz=80)
        chain.add("Compressor", threshold_db=-18, ratio=3)
        chain.add("ZamCompX2", threshold_db=-20, ratio=3)
    session.master.chain.add("Compressor", threshold_db=-12, ratio=2)
    session.master.chain.add("Limiter", threshold_db=-3)
    save_session(session, tmp_path / "s.json")

    rounds: list[Round] = []
    for _ in range(ROUNDS):
        busy0, wall0 = _machine_cpu(), time.monotonic()
        engine = EngineProcess(file_loader(tmp_path / "s.json"), device=jack_device())
        engine.start()
        try:
            engine.send(Play())
            while engine.stats()["position"] < SETTLE_BLOCKS * BLOCK:  # counted from play: the stream runs before it
                assert engine.alive, engine.poll()
                time.sleep(0.05)
            process = _engine_process_side(engine)
            stats, meters, events = engine.stats(), engine.meters(), engine.poll()
        finally:
            engine.stop()
        in_process = _in_process_side(tmp_path / "s.json")
        rounds.append(Round(process, in_process, (_machine_cpu() - busy0) / (time.monotonic() - wall0)))
        # What holds on any machine, every round: the engine ran, the busy loop ran, and the transport
        # moved exactly one block per callback (nothing skipped or repeated) on both sides.
        assert stats["running"] == 1.0 and process.rounds > 0 and in_process.rounds > 0, events
        for side in (process, in_process):
            assert side.blocks > 0 and side.frames == pytest.approx(side.blocks * BLOCK, abs=2 * BLOCK)
        assert any("huge pages off" in e for e in engine.events + events), engine.events + events
        assert stats["audio_rtprio"] > 0  # JACK's real-time priority (the server runs with -R)
        # Meters and loudness came through shared memory while the parent was busy.
        assert meters.shape == (TRACKS + 1, 2, 4) and np.all(meters[:, :, 0] > 0.0)
        assert -40.0 < stats["lufs_s"] < 0.0 and -40.0 < stats["lufs_i"] < 0.0 and stats["true_peak_db"] < 3.0
        if process.load_p99 < AHEAD * in_process.load_p99:
            return
        print(f"isolation round {len(rounds)}: not ahead ({rounds[-1]}); measuring again")
    pytest.fail(f"the engine process's callback load p99 was not under {AHEAD:.0%} of the in-process engine's "
                f"under the same busy parent in any of {ROUNDS} rounds: " + "; ".join(map(str, rounds)))
