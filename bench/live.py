"""Live benchmark: how many tracks the engine process runs at 128 frames under JACK, against bare pedalboard.

Everything runs on a private JACK server with the dummy driver in real-time
mode (``jackd -R -d dummy -r 48000 -p 128``, tests/jack_harness.py), one
measurement at a time:

(0) Platform reference: a C JACK client (``jack_cpu``) burning 30% of each
    period, no Python, under the same GUI load, for as long as a confirmation
    run (``--seconds``): the xruns this machine makes on its own. Measured on the 2-core VM: 0-7 per 60 s, median 2 a
    minute over 30 s rounds (0-1 per 30 s without the GUI load). A bare *Python* client (8 chains, callback < 0.5 ms) saw
    0-3 xruns per 20 s even without load, so a run with 1-2 xruns and load
    within the limit is run once more before it counts as failed (both sides
    alike; both lines are printed). Each run also reports CPU used by other
    processes on the machine (another test run skews everything) and steal.
(a) Track search. N stereo file tracks x 3 plug-ins (HighpassFilter,
    Compressor, ZamCompX2) + a master chain (Compressor, Limiter), played by
    rackhost's :class:`EngineProcess` (from 8 tracks, half of them, three fewer
    from 16, render in its partner process on the other core, see
    rackhost/live/partner.py; ``--no-partner`` keeps them in the engine
    process, where its callback shares them with a second real-time thread,
    see rackhost/live/spread.py; ``--no-spread`` keeps them on one thread
    and runs no partner; meters on: the parent reads meters and
    stats every GUI frame) while the parent runs a GUI-like load (a thread
    doing 10 ms of pure-Python work per 16.7 ms frame). The same search runs,
    interleaved, for a *bare loop*: the same pedalboard chains called per
    block in a sounddevice callback in a child process, summed with one numpy
    add per track, no rackhost code. Each candidate is a fresh process.
    N grows through 16, 64, 96, 128, 192, 256 while p99 stays within 50% of
    the period, then is bisected to 8 tracks (a binary search: few runs). A run *passes* with 0
    xruns and p99 <= 50%; ``max_tracks`` (rackhost) and ``limit_tracks``
    (bare) are the largest N that passed. Xruns do not stop the growth, so
    ``*_load_only`` also gives each side's capacity by load alone.
    The search runs ``--search-seconds`` per candidate (default 20 s); the
    best N of each side is then run once for ``--seconds`` (default 60 s) and
    reported as ``confirmed`` true/false.
(b) Isolation: 16 tracks while a parent thread does pure-Python work at 100%:
    xruns of the engine process vs the same engine in the parent
    (:class:`LiveEngine` in-process, sharing the parent's GIL).
(c) One chain (the 3 track plug-ins on the live input) in rackhost's engine
    process, in a bare sounddevice loop, and in pedalboard's own
    ``pedalboard.io.AudioStream`` (ALSA ``jack`` device through
    libasound2-plugins): CPU time of the process per second, and JACK xruns.
    AudioStream exposes no callback timing or xrun count of its own.
(d) Where the time goes: the same blocks without a stream, in this process:
    rackhost's block engine vs the bare loop, and the engine with its per-track
    meters switched off, per block and per track.
(e) ``--spectrum`` alone: what the spectrum view costs the audio thread. One
    engine process plays ``--tracks`` (default 16) file tracks under the GUI
    load, whose frames also do what an open view does (read the published
    frames and slot reductions, analyse both curves, 15 times a second). The
    view is closed, open on the master, open on track 1, in turn (reversed
    every other round), ``--spectrum-seconds`` each (default: the load window,
    10.9 s, and 1 s for the switch, so each phase's p50 is its own), for
    ``--spectrum-rounds`` rounds (default 5). ``spectrum_cost_ratio`` is the
    worse of open-on-the-master and open-on-a-track over closed (medians of
    the rounds' p50 callback loads); ``spectrum_target_met``: <= 1.02.
(f) ``--routed`` alone: issue 16's "the routed 32-track session must also hold
    bench/live.py's real-time conditions". The session is bench/offline.py's
    (``offline.routed_session``, imported: 32 tracks x the same 3 plug-ins into
    4 busses with a bus compressor each, a parallel-compression split on the
    drum bus, a ZamCompX2 on the keys bus keyed from track 4, a built-in Reverb
    and an MVerb bus fed by 16 post-fader sends, a master compressor), saved at
    128 frames with its tracks on this file's programmes and played by the
    engine process as in (a) (partner and spread as there), under the same GUI
    load, for ``--routed-seconds`` (default 60), after ``jack_cpu`` for as long
    and before the native reference at the routed callback's p50 share of the
    period (as ``--rates`` matches it). ``routed_realtime_held`` is true when
    all of: the run went through; callback load p99 <= 50% of the period (the
    search's load rule, ``LOAD_LIMIT``; p50 is reported, judged by nothing, as
    in (a)); its xruns per minute are no more than the worse of the two C
    references' in the same run (``--rates``'s rule, rackhost's rate <= the
    references', with the C clients standing in for the bare loop, which has
    no routing); and the ducker ran keyed: after the run the engine is asked to
    watch the keys bus, and its keyed slot's minihost twin must report gain
    reduction (only a keyed slot's twin reports its own). It is None when
    neither reference could run. ``routed_strict_pass`` is the search's
    per-run rule too (0 xruns and p99 <= 50%), which, as README says, no
    client on the 2-core VM keeps for a minute. If this process cannot host the
    keyed ducker (no minihost, no keyed build), no routed run is made and
    ``routed_error`` says why: unkeyed it would be another session.

Load = callback time / block period (2.667 ms). rackhost's engine keeps the
loads of its last 4096 callbacks (10.9 s); both sides are read the same way:
every few seconds from ``settle`` seconds after play, p99 is the worst window's
p99, p50 the median of the windows' p50s, max the largest load seen. Xruns are
counted from the end of the settle time to the end of the run; ``jack_xruns``
are the server's own count (its log) over the same span, as a cross-check, and
``partner late`` (``routed_partner_late`` in (f)) how many of rackhost's were
blocks its partner process had not rendered when the callback needed them: the
callback then waited a whole period for it, so each one is also a load over 1.

The parent initializes PortAudio only for the in-process run of (b): PortAudio
opens a JACK client in every process that initializes it (importing
sounddevice does), and the parent is not meant to be part of the server's
graph. The last line printed is a JSON object: ``block``, ``rate``, ``cores``,
``pedalboard``, ``wall_seconds`` and ``loadavg_before``/``loadavg_after`` in
every mode, then only what the mode measured: the plain run its ``seconds``
and ``search_seconds`` and the figures of (0)-(d); ``--rates`` its ``rates_*``
(its run length is ``rates_seconds``); ``--spectrum`` the ``spectrum_*`` of (e);
``--routed`` the ``routed_*`` of (f). The header printed first names the
track and master chains where the mode's sessions hold them (not in (f), whose
session is described in its own header) and the pass rule where a run is
judged by it.

    python bench/live.py [--quick] [--seconds S] [--search-seconds S] [--no-audiostream]
    python bench/live.py --rates ROUNDS [--tracks 64] [--search-seconds S]   # xrun rates only, side by side
    python bench/live.py --spectrum [--tracks 16] [--spectrum-rounds 5] [--spectrum-seconds S]   # (e) only
    python bench/live.py --routed [--routed-seconds 60]   # (f) only
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
TESTS_DIR = REPO_ROOT / "tests"
for _path in (str(TESTS_DIR), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

SAMPLE_RATE = 48000
BLOCK = 128
PERIOD = BLOCK / SAMPLE_RATE
VST3_FOLDER = Path("/usr/lib/vst3")
ALSA_PLUGIN_DIR = "/usr/lib/x86_64-linux-gnu/alsa-lib"

# Targets from the issue.
LOAD_LIMIT = 0.5  # p99 callback load, as a fraction of the period
MIN_TRACKS_TARGET = 64
LIMIT_FRACTION_TARGET = 0.8

CANDIDATES = (16, 64, 96, 128, 192, 256)  # 256 = the engine process's MAX_STRIPS
BISECT_TO = 8  # stop bisecting when the gap between pass and fail is this small
NOISE_XRUNS = 2  # a run with this few xruns (and load within the limit) is run once more: see (0)
REFERENCE_CPU = 30  # percent of each period the reference C client (jack_cpu) burns
NATIVE_SHARE = 0.2  # share of the period the native memory-bound reference works: rackhost's callback at 64 tracks
NATIVE_MEGABYTES = 8.0  # its working set: about a 64-track session's plug-in states, buffers and code
NATIVE_SOURCE = Path(__file__).resolve().parent / "native_reference.c"
SETTLE = 4.0  # seconds after play before counting: the first windows never reach back to the stream's start
WINDOW = 4096  # callbacks per load window (rackhost's LOAD_HISTORY)
SAMPLE_EVERY = 4.0
SOURCE_FILES = 8  # distinct programmes; tracks cycle through them (each track still holds its own copy)
GUI_FRAME = 1 / 60
GUI_BUSY = 0.010
ISOLATION_TRACKS = 16
SPECTRUM_TARGET = 1.02  # issue 18: the engine's p50 per-block cost with the spectrum open within 2% of without
SPECTRUM_TRACKS = 16
SPECTRUM_ROUNDS = 5
SPECTRUM_SIDES = ("closed", "master", "track")
ROUTED_SECONDS = 60.0  # (f): as long as the plain run's confirmation
KEY_PROBE_SECONDS = 3.0  # (f): how long to wait for the keyed slot's reported gain reduction after the run
SPECTRUM_ANALYSE = 1 / 15  # how often an open view analyses (rackhost.gui.spectrum_view.ANALYSE_SECONDS)

Params = dict[str, float]
TRACK_CHAIN: list[tuple[str, Params]] = [
    ("HighpassFilter", {"cutoff_frequency_hz": 80.0}),
    ("Compressor", {"threshold_db": -18.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 120.0}),
    ("ZamCompX2", {"threshold_db": -20.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 80.0}),
]
MASTER_CHAIN: list[tuple[str, Params]] = [
    ("Compressor", {"threshold_db": -12.0, "ratio": 2.0, "attack_ms": 5.0, "release_ms": 100.0}),
    ("Limiter", {"threshold_db": -3.0, "release_ms": 100.0}),
]


# -- small helpers ---------------------------------------------------------------------------


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send file descriptor 2 to ``path`` for a while (children started meanwhile keep it).

    DPF plug-ins print two warnings each when destroyed and jackd clients chat on
    stderr; with 100+ plug-ins per run that would bury the results.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def tail(path: Path, lines: int = 8) -> str:
    try:
        text = [line for line in path.read_text(errors="replace").splitlines() if "DPF warning" not in line]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def spin(until: float, stop: threading.Event | None = None) -> int:
    """Pure-Python busy work until ``until`` (perf_counter) or ``stop``; returns the iterations done."""
    total = 0
    table: dict[int, int] = {}
    while time.perf_counter() < until and not (stop is not None and stop.is_set()):
        for i in range(100):
            table[i & 31] = table.get(i & 31, 0) + i * i % 7
        total += 1
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes() -> tuple[dict[int, tuple[str, float]], set[int]]:
    """{pid: (name, CPU seconds)} of every process, and the pids of this process and its descendants."""
    parents: dict[int, int] = {}
    procs: dict[int, tuple[str, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            head, rest = Path(entry.path, "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        procs[pid] = (head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / tick)
    me = os.getpid()
    ours = set()
    for pid in procs:
        p, hops = pid, 0
        while p > 1 and p != me and hops < 64:
            p, hops = parents.get(p, 0), hops + 1
        if p == me:
            ours.add(pid)
    return procs, ours


def _steal() -> float:
    cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return int(cpu[7]) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """CPU used by processes that are not this benchmark's (another test run on the machine skews everything)."""

    def __init__(self) -> None:
        self.before, _ = _processes()
        self.steal = _steal()
        self.wall = time.perf_counter()

    def cores(self) -> tuple[float, float, str, int]:
        """(other processes, hypervisor steal) in cores since this object was made, the busiest other,
        and how many other JACK servers run (their real-time threads compete with the audio thread)."""
        after, ours = _processes()
        wall = max(time.perf_counter() - self.wall, 1e-9)
        used = {pid: cpu - self.before[pid][1] for pid, (_, cpu) in after.items()
                if pid in self.before and pid not in ours}
        busiest = max(used, key=used.__getitem__, default=None)
        name = f"{after[busiest][0]} (pid {busiest}) {used[busiest] / wall:.0%}" if busiest is not None else ""
        servers = sum(1 for pid, (comm, _) in after.items() if comm == "jackd" and pid not in ours)
        return sum(used.values()) / wall, (_steal() - self.steal) / wall, name, servers


class Placement(threading.Thread):
    """Where the real-time threads of a run ran: every 0.1 s, each thread's last CPU, policy and CPU time, from /proc.

    Two real-time threads that must run side by side (the engine's audio thread and its partner's render thread)
    but land on one core run one after the other, which doubles the callback time; a render thread left at normal
    priority waits behind the GUI. The summary says both, per run (it reads /proc only: no cost to the audio).
    """

    def __init__(self, pid: int):
        super().__init__(name="placement", daemon=True)
        self.pid = pid
        self.samples: list[dict[str, int]] = []  # per sample: thread label -> the CPU it last ran on
        self.kinds: dict[str, str] = {}  # thread label -> "SCHED_FIFO 62" ...
        self.cpu0: dict[str, float] = {}
        self.cpu1: dict[str, float] = {}
        self._halt = threading.Event()

    def _threads(self) -> dict[str, tuple[int, int, int, float]]:
        """label -> (cpu, policy, rt priority, CPU seconds) of every real-time thread above the control threads'."""
        pids = [self.pid]
        try:  # the engine's children: its partner process
            pids += [int(c) for c in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]
        except OSError:
            pass
        pids += [int(e.name) for e in os.scandir("/proc") if e.name.isdigit() and _comm(int(e.name)) == "jackd"]
        found: dict[str, tuple[int, int, int, float]] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for pid in pids:
            process = "engine" if pid == self.pid else ("jackd" if _comm(pid) == "jackd" else "partner")
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tasks:
                try:
                    head, rest = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)
                except OSError:
                    continue
                f = rest.split()
                policy, prio = int(f[38]), int(f[37])
                if policy in (1, 2) and prio > 1:
                    label = f"{process}:{head.split('(', 1)[1]}:{tid}"
                    found[label] = (int(f[36]), policy, prio, (int(f[11]) + int(f[12])) / tick)
        return found

    def run(self) -> None:
        first = self._threads()
        while not self._halt.wait(0.1):
            now = self._threads()
            self.samples.append({label: cpu for label, (cpu, _, _, _) in now.items()})
            for label, (_, policy, prio, _) in now.items():
                self.kinds[label] = f"{'SCHED_FIFO' if policy == 1 else 'SCHED_RR'} {prio}"
        last = self._threads()
        self.used = {label: last[label][3] - first[label][3] for label in last if label in first}

    def stop(self) -> str:
        """Stop sampling; a line: per busy real-time thread its policy and the share of samples on each CPU, and
        how often the engine's and the partner's busiest real-time threads were last on the same CPU."""
        self._halt.set()
        self.join(2)
        used = getattr(self, "used", {})
        busy = [label for label, seconds in sorted(used.items(), key=lambda kv: -kv[1]) if seconds > 0.05]
        parts = []
        for label in busy[:6]:
            cpus = [sample[label] for sample in self.samples if label in sample]
            if cpus:
                shares = collections.Counter(cpus)
                where = " ".join(f"cpu{c} {n / len(cpus):.0%}" for c, n in sorted(shares.items()))
                parts.append(f"{label} ({self.kinds.get(label, '?')}, {used[label]:.1f} s CPU) {where}")
        engine = next((label for label in busy if label.startswith("engine:")), None)
        partner = next((label for label in busy if label.startswith("partner:")), None)
        if engine and partner:
            both = [s for s in self.samples if engine in s and partner in s]
            same = sum(1 for s in both if s[engine] == s[partner])
            parts.append(f"engine and partner audio last on one CPU in {same}/{len(both)} samples")
        return "; ".join(parts)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class JackLog:
    """Counts the server's xrun reports in its log (JackEngine::XRun / JackTimedDriver ... XRun)."""

    def __init__(self, path: Path | None):
        self.path = path

    def count(self) -> int:
        if self.path is None:
            return 0
        try:
            text = self.path.read_text(errors="replace")
        except OSError:
            return 0
        # One xrun prints "JackTimedDriver::Process XRun" and/or "JackEngine::XRun: client = ..."
        # per late client; count cycles, not lines: the timed driver's line when present, else the engine's.
        driver = text.count("JackTimedDriver::Process XRun")
        engine = text.count("JackEngine::XRun")
        return max(driver, engine)

    def reasons(self, since: int) -> dict[str, int]:
        """The late clients' states in the server's reports after the first ``since`` characters of the log.

        "Triggered": the client's thread had been woken but the OS had not run it by the
        deadline (the machine: a C client gets these too); "Running": it was running and
        not finished (a slow callback, or one waiting for the GIL).
        """
        try:
            text = self.path.read_text(errors="replace")[since:] if self.path is not None else ""
        except OSError:
            return {}
        return {state: text.count(f"state = {state}") for state in ("Triggered", "Running")
                if f"state = {state}" in text}

    def size(self) -> int:
        try:
            return len(self.path.read_text(errors="replace")) if self.path is not None else 0
        except OSError:
            return 0


class GuiLoad(threading.Thread):
    """The parent's GUI: ``busy`` seconds of pure Python per 60 Hz frame, then ``redraw()``; ``busy=None`` spins flat out."""

    def __init__(self, busy: float | None, redraw: Callable[[], None]):
        super().__init__(name="gui-load", daemon=True)
        self.busy = busy
        self.redraw = redraw
        self.halt = threading.Event()
        self.frames = 0
        self.late = 0  # frames that finished after their 16.7 ms slot
        self.worst = 0.0

    def run(self) -> None:
        if self.busy is None:
            while not self.halt.is_set():
                spin(time.perf_counter() + 0.05, self.halt)
                self.redraw()
                self.frames += 1
            return
        deadline = time.perf_counter()
        while not self.halt.is_set():
            start = time.perf_counter()
            spin(start + self.busy)
            self.redraw()
            self.frames += 1
            took = time.perf_counter() - start
            self.worst = max(self.worst, took)
            deadline += GUI_FRAME
            now = time.perf_counter()
            if now > deadline:
                self.late += 1
                deadline = now
            else:
                self.halt.wait(deadline - now)

    def stop(self) -> None:
        self.halt.set()
        self.join(5)

    def describe(self) -> str:
        if self.busy is None:
            return "parent thread at 100% pure Python"
        return f"GUI {self.frames} frames, {self.late} late, worst {self.worst * 1e3:.1f} ms"


# -- the material ----------------------------------------------------------------------------


class Material:
    """Source files and session files in a temporary folder, made on demand and kept for the run."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._sources: dict[float, list[Path]] = {}

    def sources(self, seconds: float) -> list[Path]:
        """SOURCE_FILES stereo float WAVs of at least ``seconds``, deterministic programme material."""
        import soundfile as sf
        from offline import make_audio  # bench/offline.py: noise and tones under a swell, so dynamics move

        length = float(int(seconds) + 1)
        for have, paths in self._sources.items():
            if have >= length:
                return paths
        paths = []
        for k in range(SOURCE_FILES):
            path = self.folder / f"source_{int(length)}s_{k}.wav"
            sf.write(str(path), make_audio(length, seed=100 + k).T, SAMPLE_RATE, subtype="FLOAT")
            paths.append(path)
        self._sources[length] = paths
        return paths

    def session(self, tracks: int, seconds: float, *, live_input: bool = False, master: bool = True) -> Path:
        """A session file: ``tracks`` file tracks (or one live-input track) x TRACK_CHAIN, + MASTER_CHAIN."""
        from rackhost.chain import Session
        from rackhost.presets import save_session

        name = f"session_{'input' if live_input else tracks}_{int(seconds)}s_{'m' if master else 'nm'}.json"
        path = self.folder / name
        if path.exists():
            return path
        with stderr_to(self.folder / "parent-stderr.log"):
            session = Session(sample_rate=SAMPLE_RATE, block_size=BLOCK)
            if live_input:
                chains = [session.add_track("input", None, input=(0, 1)).chain]
            else:
                sources = self.sources(seconds)
                chains = [session.add_track(f"track {i + 1}", sources[i % len(sources)]).chain for i in range(tracks)]
            for chain in chains:
                for plugin, params in TRACK_CHAIN:
                    chain.add(plugin, **params)
            if master:
                for plugin, params in MASTER_CHAIN:
                    session.master.chain.add(plugin, **params)
            save_session(session, path)
            del session, chains
            gc.collect()  # the parent's plug-in copies go now (DPF prints as they do), not mid-measurement
        return path

    def routed(self, seconds: float) -> RoutedSession:
        """bench/offline.py's routed session (:func:`offline.routed_session`) as a session file at BLOCK frames,
        its 32 tracks playing the SOURCE_FILES programmes in turn (each track its own copy, as in :meth:`session`).

        Built from offline's function with one-block placeholder arrays (an array source is not saved), then
        each track's source is pointed at a file: the engine process loads files. Raises
        :class:`rackhost.chain.sidechain.NotKeyableError` if the keyed ducker cannot be hosted here.
        """
        import offline  # bench/offline.py: the routed session is built there, not copied here

        from rackhost.presets import save_session

        path = self.folder / f"session_routed_{int(seconds)}s.json"
        sources = self.sources(seconds)
        with stderr_to(self.folder / "parent-stderr.log"):
            placeholder = np.zeros((2, BLOCK), np.float32)
            session = offline.routed_session([placeholder] * offline.ROUTED_TRACKS)
            session.block_size = BLOCK
            busses = tuple(bus.name for bus in session.busses)
            key_bus = busses.index(offline.DUCKED_BUS)
            chain = session.busses[key_bus].chain
            key_slot = next(i for i, slot in enumerate(chain.slots) if getattr(slot, "key", None) is not None)
            key = chain.slots[key_slot].key
            described = (f"{chain.slots[key_slot].name} on bus {offline.DUCKED_BUS!r} keyed from {key.source!r} "
                         f"({'pre' if key.pre_fader else 'post'}-fader)")
            if not path.exists():
                save_session(session, path)
                document = json.loads(path.read_text())
                for index, track in enumerate(document["tracks"]):
                    track["source"] = str(sources[index % len(sources)])
                path.write_text(json.dumps(document))
            tracks = len(session.tracks)
            del session, chain
            gc.collect()  # the parent's plug-in copies go now (DPF prints as they do), not mid-measurement
        return RoutedSession(path, tracks, busses, key_bus, key_slot, described)


@dataclass(frozen=True)
class RoutedSession:
    """The routed session's file, and where its keyed slot sits (to ask the engine whether it runs keyed)."""

    path: Path
    tracks: int
    busses: tuple[str, ...]
    key_bus: int  # index among the session's busses
    key_slot: int  # index in that bus's chain
    described: str


def make_board(chain: list[tuple[str, Params]]) -> Any:
    import pedalboard

    plugins = []
    for name, params in chain:
        bundle = VST3_FOLDER / f"{name}.vst3"
        if bundle.exists():
            plugin = pedalboard.load_plugin(str(bundle))
            for key, value in params.items():
                setattr(plugin, key, value)
        else:
            plugin = getattr(pedalboard, name)(**params)
        plugins.append(plugin)
    return pedalboard.Pedalboard(plugins)


# -- the bare loop (a child process) ---------------------------------------------------------

_BARE_HEADER = 4  # callbacks, xruns, playing, stream active


def _bare_child(conn: Any, shm_name: str, capacity: int, tracks: int, paths: list[str], device: Any,
                live_input: bool, master: bool) -> None:
    """N pedalboard chains per block in a sounddevice callback, summed with one numpy add each: no rackhost.

    Its process gets the same one OS setting as rackhost's engine (transparent huge pages off, see
    rackhost/live/memory.py), so the limit measures the processing, not khugepaged's stalls.
    """
    import soundfile as sf
    import sounddevice as sd

    from rackhost.live.memory import disable_huge_pages

    disable_huge_pages()

    shm = shared_memory.SharedMemory(name=shm_name)
    view = np.ndarray((_BARE_HEADER + capacity,), np.float64, shm.buf)
    header, loads = view[:_BARE_HEADER], view[_BARE_HEADER:]
    try:
        cache: dict[str, np.ndarray] = {}
        sources = []
        for i in range(0 if live_input else tracks):
            p = paths[i % len(paths)]
            if p not in cache:
                cache[p] = np.ascontiguousarray(sf.read(p, dtype="float32", always_2d=True)[0].T)
            sources.append(cache[p].copy())  # each track its own copy, as in rackhost
        boards = [make_board(TRACK_CHAIN).process for _ in range(tracks)]
        master_process = make_board(MASTER_CHAIN).process if master else None
        silence = np.zeros((2, BLOCK), np.float32)
        mix = np.zeros((2, BLOCK), np.float32)
        for process in boards:  # plug-ins allocate on their first calls, which must not be the stream's
            for _ in range(4):
                process(silence, float(SAMPLE_RATE), BLOCK, False)
        if master_process is not None:
            for _ in range(4):
                master_process(silence, float(SAMPLE_RATE), BLOCK, False)
        pairs = list(zip(boards, sources))
        length = min((s.shape[1] for s in sources), default=0)
        state = {"position": 0, "callbacks": 0}
        sr = float(SAMPLE_RATE)

        def callback(indata, outdata, frames, time_info, status):  # noqa: ANN001 - sounddevice's signature
            started = time.perf_counter()
            if status.input_overflow or status.output_underflow:
                header[1] += 1
            if live_input:
                block = indata.T
                for process in boards:
                    block = process(block, sr, BLOCK, False)
                outdata[:] = block.T
            else:
                position = state["position"]
                playing = header[2] > 0 and position + frames <= length
                mix.fill(0.0)
                for process, source in pairs:
                    np.add(mix, process(source[:, position : position + frames] if playing else silence,
                                        sr, BLOCK, False), out=mix)
                outdata[:] = (master_process(mix, sr, BLOCK, False) if master_process else mix).T
                if playing:
                    state["position"] = position + frames
            c = state["callbacks"]
            if c < capacity:
                loads[c] = (time.perf_counter() - started) / PERIOD
            state["callbacks"] = c + 1
            header[0] = c + 1

        stream = sd.Stream(samplerate=SAMPLE_RATE, blocksize=BLOCK, device=device, channels=(2 if live_input else 1, 2),
                           dtype="float32", callback=callback)
        stream.start()
        header[3] = 1.0
    except Exception as err:  # noqa: BLE001 - reported to the parent
        conn.send(("error", f"{type(err).__name__}: {err}"))
        del header, loads, view
        shm.close()
        return
    conn.send(("ready", None))
    try:
        while True:
            if conn.poll(0.1):
                command = conn.recv()
                if command == "play":
                    header[2] = 1.0
                elif command == "quit":
                    break
            header[3] = 1.0 if stream.active else 0.0
    except (EOFError, OSError):
        pass
    finally:
        stream.close()
        sd._terminate()  # while the server is alive (see tests/jack_harness.py)
        del header, loads, view
        shm.close()


# -- runners: one live process under test -------------------------------------------------------


class Runner:
    """Something playing live: start, play, read (callbacks, xruns, window loads), stop."""

    label = "?"
    pid: int | None = None

    def start(self) -> None: ...
    def play(self) -> None: ...
    def stop(self) -> None: ...

    def alive(self) -> bool:
        return True

    def partner_late(self) -> int:
        """Of the xruns so far, the blocks a partner process had not rendered in time (0: no partner)."""
        return 0

    def counters(self) -> tuple[int, int]:
        """(callbacks, xruns) so far."""
        raise NotImplementedError

    def window(self) -> tuple[float, float, float]:
        """(p50, p99, max) load over the last WINDOW callbacks."""
        raise NotImplementedError

    def redraw(self) -> None:
        """What a GUI frame reads from the engine (meters and stats)."""

    def finish(self) -> None:
        """After the measured span, before stopping: a last look at what is running (not measured)."""

    def phases(self) -> tuple[float, float, float, float]:
        """(own_p50, tracks_p50, partner_wake_p50, partner_render_p50) over the last WINDOW callbacks: the
        callback's own tracks done, every track done, the partner's wake-up and render (fractions of the period;
        0.0 where the runner does not say)."""
        return 0.0, 0.0, 0.0, 0.0


class EngineRunner(Runner):
    """rackhost's engine process (the code under test)."""

    label = "rackhost"

    def __init__(self, session_path: Path, device: Any, log: Path, spread: bool = True, partner: bool = True):
        from rackhost.live.process import EngineProcess

        from rackhost.live.process import SessionLoader
        from rackhost.presets import load_session

        self.engine = EngineProcess(SessionLoader(str(session_path), load=load_session), device=device,
                                    block_size=BLOCK, spread=spread, partner=partner)
        self.log = log
        self.meter_reads = 0

    def start(self) -> None:
        with stderr_to(self.log):
            self.engine.start()
        self.pid = self.engine.pid

    def play(self) -> None:
        from rackhost.live.commands import Play

        self.engine.send(Play())

    def alive(self) -> bool:
        return self.engine.alive and self.engine.stats().get("running", 0.0) > 0

    def counters(self) -> tuple[int, int]:
        s = self.engine.stats()
        return int(s["callbacks"]), int(s["xruns"])

    def partner_late(self) -> int:
        return int(self.engine.stats().get("partner_late", 0))

    def window(self) -> tuple[float, float, float]:
        s = self.engine.stats()
        return s["load_p50"], s["load_p99"], s["load_max"]

    def phases(self) -> tuple[float, float, float, float]:
        s = self.engine.stats()
        return s["own_p50"], s["tracks_p50"], s["partner_wake_p50"], s["partner_render_p50"]

    def redraw(self) -> None:
        self.engine.meters()
        self.engine.stats()
        self.meter_reads += 1

    def stop(self) -> None:
        with stderr_to(self.log):
            self.engine.stop()

    def events(self) -> list[str]:
        return self.engine.poll() if self.engine.alive else self.engine.events


class RoutedRunner(EngineRunner):
    """rackhost's engine process playing the routed session; afterwards it asks the engine whether the keyed
    slot runs keyed (its minihost twin reports gain reduction), as a keyed slot hosted nowhere would not."""

    label = "routed"

    def __init__(self, routed: RoutedSession, device: Any, log: Path, spread: bool = True, partner: bool = True):
        super().__init__(routed.path, device, log, spread=spread, partner=partner)
        self.routed = routed
        self.keyed: bool | None = None  # None: not asked (the run failed first)
        self.key_reduction_db: float | None = None

    def finish(self) -> None:
        from rackhost.live.commands import BusRow, UnwatchSpectrum, WatchSpectrum

        self.keyed = False
        self.engine.send(WatchSpectrum(BusRow(self.routed.key_bus)))
        deadline = time.perf_counter() + KEY_PROBE_SECONDS
        try:
            while time.perf_counter() < deadline:
                time.sleep(0.1)
                for stage in self.engine.slot_reductions():
                    # Only a keyed slot's twin reports its own reduction; any other stage's is an estimate.
                    if stage.reported and self.routed.key_slot in stage.slots:
                        self.keyed, self.key_reduction_db = True, stage.db
                        return
        finally:
            self.engine.send(UnwatchSpectrum())


class BareRunner(Runner):
    """The bare loop in a spawned child."""

    label = "bare"

    def __init__(self, tracks: int, paths: list[Path], device: Any, log: Path, seconds: float, *,
                 live_input: bool = False, master: bool = True):
        self.tracks, self.paths, self.device, self.log = tracks, [str(p) for p in paths], device, log
        self.live_input, self.master = live_input, master
        self.capacity = int((seconds + SETTLE + 120) * SAMPLE_RATE / BLOCK)
        self._shm: shared_memory.SharedMemory | None = None
        self._process: Any = None
        self._conn: Any = None

    def _view(self) -> np.ndarray:
        assert self._shm is not None
        return np.ndarray((_BARE_HEADER + self.capacity,), np.float64, self._shm.buf)

    def start(self, timeout: float = 180.0) -> None:
        ctx = mp.get_context("spawn")
        self._shm = shared_memory.SharedMemory(create=True, size=8 * (_BARE_HEADER + self.capacity))
        self._view()[:] = 0.0
        parent, child = ctx.Pipe()
        self._conn = parent
        self._process = ctx.Process(target=_bare_child, name="bare-loop", daemon=True,
                                    args=(child, self._shm.name, self.capacity, self.tracks, self.paths,
                                          self.device, self.live_input, self.master))
        with stderr_to(self.log):
            self._process.start()
        child.close()
        self.pid = self._process.pid
        if not self._conn.poll(timeout):
            self.stop()
            raise RuntimeError(f"the bare loop did not start within {timeout:g} s")
        try:
            kind, message = self._conn.recv()
        except EOFError:
            kind, message = "error", f"the bare loop died while starting (exit {self._process.exitcode})"
        if kind != "ready":
            self.stop()
            raise RuntimeError(message)

    def play(self) -> None:
        self._conn.send("play")

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive() and self._view()[3] > 0

    def counters(self) -> tuple[int, int]:
        view = self._view()
        return int(view[0]), int(view[1])

    def window(self) -> tuple[float, float, float]:
        view = self._view()
        count = min(int(view[0]), self.capacity)
        loads = np.sort(view[_BARE_HEADER + max(0, count - WINDOW) : _BARE_HEADER + count])
        if loads.size == 0:
            return 0.0, 0.0, 0.0
        return float(np.percentile(loads, 50)), float(np.percentile(loads, 99)), float(loads[-1])

    def redraw(self) -> None:
        self.counters()

    def stop(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                try:
                    self._conn.send("quit")
                except OSError:
                    pass
                self._process.join(15)
                if self._process.is_alive():
                    self._process.kill()
                    self._process.join()
            self._process = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._shm is not None:
            self._shm.close()
            self._shm.unlink()
            self._shm = None


class InProcessRunner(Runner):
    """rackhost's LiveEngine in this process (for the isolation measurement only)."""

    label = "in-process"

    def __init__(self, session_path: Path, log: Path):
        self.session_path = session_path
        self.log = log
        self.engine: Any = None
        self._switch = sys.getswitchinterval()

    def start(self) -> None:
        from jack_harness import jack_device, rescan_portaudio
        from rackhost.live.engine import LiveEngine
        from rackhost.presets import load_session

        rescan_portaudio()  # PortAudio joins this process only now
        with stderr_to(self.log):
            session = load_session(self.session_path)
            self.engine = LiveEngine(session, device=jack_device())
            self.engine.start()
        self.pid = os.getpid()

    def play(self) -> None:
        self.engine.play()

    def alive(self) -> bool:
        return self.engine is not None and self.engine.stats().running

    def counters(self) -> tuple[int, int]:
        s = self.engine.stats()
        return s.callbacks, s.xruns

    def window(self) -> tuple[float, float, float]:
        s = self.engine.stats()
        return s.load_p50, s.load_p99, s.load_max

    def redraw(self) -> None:
        self.engine.meters()

    def stop(self) -> None:
        import sounddevice as sd

        with stderr_to(self.log):
            if self.engine is not None:
                self.engine.close()
                self.engine = None
                gc.collect()
            while sd._initialized:  # before jackd stops, or Pa_Terminate aborts at exit
                sd._terminate()
        sys.setswitchinterval(self._switch)  # LiveEngine.start() shortened it for the whole process


# -- one measurement ---------------------------------------------------------------------------


@dataclass
class Result:
    kind: str
    tracks: int
    seconds: float
    load: str  # "gui", "hog", "none"
    xruns: int = 0
    jack_xruns: int = 0
    partner_late: int = 0  # of the xruns, blocks the partner process had not rendered in time
    # Where rackhost's callback time goes (p50s over the last window, fractions of the period): its own tracks
    # done, every track done (the partner's too); the rest of p50 is the mix, master, meters and rings.
    own_p50: float = 0.0
    tracks_p50: float = 0.0
    partner_wake_p50: float = 0.0  # from the callback's wake to the partner's start
    partner_render_p50: float = 0.0
    callbacks: int = 0
    p50: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    start_s: float = 0.0
    error: str | None = None
    note: str = ""
    other_cpu: float = 0.0  # cores' worth of CPU used by other processes during the run
    other_top: str = ""
    steal: float = 0.0  # cores' worth of CPU the hypervisor gave to others
    other_servers: int = 0  # JACK servers on the machine besides the benchmark's
    windows: list[tuple[float, float, float]] = field(default_factory=list)
    placement: str = ""  # where the real-time threads ran (Placement), rackhost's runs
    late_states: dict[str, int] = field(default_factory=dict)  # JACK's view of each late cycle (JackLog.reasons)

    @property
    def load_ok(self) -> bool:
        return self.error is None and self.p99 <= LOAD_LIMIT

    @property
    def passed(self) -> bool:
        return self.load_ok and self.xruns == 0

    @property
    def noise_failure(self) -> bool:
        """Failed on a few xruns alone: as many as the platform reference can get (see (0))."""
        return self.load_ok and 0 < self.xruns <= NOISE_XRUNS

    def per_track_us(self) -> float:
        return self.p50 * PERIOD / max(self.tracks, 1) * 1e6

    def line(self) -> str:
        if self.error:
            return f"  {self.kind:<10} N={self.tracks:<4} FAILED: {self.error}"
        verdict = "pass" if self.passed else ("FAIL (xruns)" if self.load_ok else "FAIL (load)")
        return (f"  {self.kind:<10} N={self.tracks:<4} {self.seconds:4.0f} s  xruns {self.xruns:<4} (jack {self.jack_xruns:<4}"
                + (f", partner late {self.partner_late}" if self.partner_late else "") + ") "
                f"load p50 {self.p50:5.3f}  p99 {self.p99:5.3f}  max {self.max:5.3f}  "
                f"[{self.p50 * PERIOD / max(self.tracks, 1) * 1e6:5.2f} us/track]  "
                + (f"(own tracks {self.own_p50:5.3f}, all tracks {self.tracks_p50:5.3f}"
                   + (f"; partner wake {self.partner_wake_p50:5.3f}, render {self.partner_render_p50:5.3f}"
                      if self.partner_render_p50 else "") + ") " if self.tracks_p50 else "")
                + f"start {self.start_s:4.1f} s  "
                f"{verdict}{'  ' + self.note if self.note else ''}"
                + (f"  late: {', '.join(f'{n} {k}' for k, n in self.late_states.items())}" if self.late_states else "")
                + (f"  WARNING: other processes used {self.other_cpu:.0%} of a core (most: {self.other_top})"
                   if self.other_cpu > 0.1 else "")
                + (f"  WARNING: hypervisor steal {self.steal:.0%} of a core" if self.steal > 0.05 else "")
                + (f"  WARNING: {self.other_servers} other JACK servers running" if self.other_servers else "")
                + (f"\n             placement: {self.placement}" if self.placement else ""))


def measure(runner: Runner, tracks: int, seconds: float, load: str, jack_log: JackLog) -> Result:
    """Start ``runner``, play, settle, then run ``seconds`` under ``load``; always stops it."""
    result = Result(runner.label, tracks, seconds, load)
    gui: GuiLoad | None = None
    placement: Placement | None = None
    try:
        started = time.perf_counter()
        runner.start()
        result.start_s = time.perf_counter() - started
        runner.play()
        time.sleep(SETTLE)
        if not runner.alive():
            raise RuntimeError("the stream is not running after the settle time")
        callbacks0, xruns0 = runner.counters()
        late0 = runner.partner_late()
        jack0 = jack_log.count()
        log0 = jack_log.size()
        other = OtherLoad()
        if load != "none":
            gui = GuiLoad(GUI_BUSY if load == "gui" else None, runner.redraw)
            gui.start()
        placement = Placement(runner.pid) if isinstance(runner, EngineRunner) and runner.pid else None
        if placement is not None:
            placement.start()
        begin = time.perf_counter()
        # Windows end at these times; each reaches back WINDOW callbacks (10.9 s), at most into the settle time.
        marks = [t for t in np.arange(WINDOW * PERIOD - SETTLE + 1.0, seconds, SAMPLE_EVERY)] + [seconds]
        for mark in marks:
            remaining = begin + mark - time.perf_counter()
            if remaining > 0:
                time.sleep(remaining)
            result.windows.append(runner.window())
            if not runner.alive():
                raise RuntimeError("the stream stopped during the run")
        if gui is not None:
            gui.stop()
            result.note = gui.describe()
            gui = None
        callbacks1, xruns1 = runner.counters()
        if placement is not None:
            result.placement = placement.stop()
            placement = None
        result.own_p50, result.tracks_p50, result.partner_wake_p50, result.partner_render_p50 = runner.phases()
        result.partner_late = runner.partner_late() - late0
        runner.finish()
        # The engine says how it runs its tracks ("tracks shared with a second audio thread ..." or why not).
        events: list[str] = []
        if isinstance(runner, EngineRunner):
            runner.engine.poll()
            events = runner.engine.events
        spread = next((part.strip() for event in events for part in event.split(";")
                       if "tracks" in part and ("thread" in part or "shared" in part or "partner" in part)), None)
        if spread:
            result.note = f"{result.note}; {spread}" if result.note else spread
        result.callbacks = callbacks1 - callbacks0
        result.xruns = xruns1 - xruns0
        result.jack_xruns = jack_log.count() - jack0
        result.late_states = jack_log.reasons(log0)
        result.other_cpu, result.steal, result.other_top, result.other_servers = other.cores()
        result.p50 = statistics.median(w[0] for w in result.windows)
        result.p99 = max(w[1] for w in result.windows)
        result.max = max(w[2] for w in result.windows)
        expected = seconds * SAMPLE_RATE / BLOCK
        if result.callbacks < 0.5 * expected:
            result.error = f"only {result.callbacks} callbacks in {seconds:g} s (expected ~{expected:.0f})"
        elif result.callbacks < 0.99 * expected:
            missed = f"{expected - result.callbacks:.0f} of ~{expected:.0f} callbacks missed"
            result.note = f"{result.note}; {missed}" if result.note else missed
    except Exception as err:  # noqa: BLE001 - a failed candidate is a result, not the end of the benchmark
        result.error = f"{type(err).__name__}: {err}"
        log = getattr(runner, "log", None)
        if log is not None and tail(log):
            result.error += f" (stderr: {tail(log, 3)})"
    finally:
        if gui is not None:
            gui.stop()
        if placement is not None:
            placement.stop()
        try:
            runner.stop()
        except Exception as err:  # noqa: BLE001
            result.error = result.error or f"stop failed: {type(err).__name__}: {err}"
    return result


# -- the benchmark ----------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, folder: Path, jack_log: JackLog, device: Any):
        self.args = args
        self.material = Material(folder)
        self.folder = folder
        self.jack_log = jack_log
        self.device = device
        self.results: list[Result] = []

    def run(self, kind: str, tracks: int, seconds: float, load: str = "gui", *, retry: bool = False) -> Result:
        result = self._once(kind, tracks, seconds, load)
        if retry and result.noise_failure:
            print(result.line() + f"  (<= {NOISE_XRUNS} xruns: run again)", flush=True)
            result = self._once(kind, tracks, seconds, load)
            result.note = (result.note + "; " if result.note else "") + "second try"
        print(result.line(), flush=True)
        self.results.append(result)
        return result

    def _once(self, kind: str, tracks: int, seconds: float, load: str) -> Result:
        log = self.folder / f"{kind}-{tracks}.stderr.log"
        if kind == "rackhost":
            runner: Runner = EngineRunner(self.material.session(tracks, seconds + SETTLE + 5), self.device, log,
                                          spread=not self.args.no_spread, partner=not self.args.no_partner)
        elif kind == "bare":
            runner = BareRunner(tracks, self.material.sources(seconds + SETTLE + 5), self.device, log, seconds)
        elif kind == "in-process":
            runner = InProcessRunner(self.material.session(tracks, seconds + SETTLE + 5), log)
        else:
            raise ValueError(kind)
        return measure(runner, tracks, seconds, load, self.jack_log)

    # (a)
    def search(self, seconds: float, candidates: tuple[int, ...], bisect: bool) -> dict[str, dict[str, int | None]]:
        """Grow N while the load criterion holds (p99 within the limit), both sides interleaved, then bisect.

        Xruns do not stop the growth, so the load-only capacity is found even when a side
        xruns early; ``strict`` is the largest N that passed both criteria.
        """
        kinds = ("rackhost", "bare")
        found: dict[str, dict[str, int | None]] = {k: {"strict": 0, "load": 0, "load_fail": None} for k in kinds}

        def record(kind: str, n: int, result: Result) -> None:
            if result.load_ok:
                found[kind]["load"] = max(found[kind]["load"] or 0, n)
                if result.passed:
                    found[kind]["strict"] = max(found[kind]["strict"] or 0, n)
            else:
                fail = found[kind]["load_fail"]
                found[kind]["load_fail"] = n if fail is None else min(fail, n)

        for n in candidates:
            for kind in kinds:
                if found[kind]["load_fail"] is None:
                    record(kind, n, self.run(kind, n, seconds, retry=True))
            if all(found[k]["load_fail"] is not None for k in kinds):
                break
        while bisect:
            todo = [k for k in kinds if found[k]["load_fail"] is not None
                    and found[k]["load_fail"] - (found[k]["load"] or 0) > BISECT_TO]  # type: ignore[operator]
            if not todo:
                break
            for kind in todo:
                mid = ((found[kind]["load"] or 0) + found[kind]["load_fail"]) // 2 // 4 * 4  # type: ignore[operator]
                record(kind, mid, self.run(kind, mid, seconds, retry=True))
        return found

    def platform_reference(self, seconds: float) -> int | None:
        """(0) Xruns of a C JACK client (jack_cpu) burning REFERENCE_CPU% of each period: the machine's own noise."""
        import shutil

        if shutil.which("jack_cpu") is None:
            print("(0) platform reference skipped: jack_cpu (jackd2's example clients) is not installed")
            return None
        process = subprocess.Popen(["jack_cpu", "-n", "reference", "-t", str(int(seconds + SETTLE + 1)),
                                    "-c", str(REFERENCE_CPU)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        gui = GuiLoad(GUI_BUSY, lambda: None)  # the same parent load as in (a)
        try:
            time.sleep(SETTLE)
            before = self.jack_log.count()
            log0 = self.jack_log.size()
            gui.start()
            time.sleep(seconds)
            xruns = self.jack_log.count() - before
            late = self.jack_log.reasons(log0)
        finally:
            gui.stop()
            try:
                process.wait(SETTLE + 5)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait()
        print(f"(0) platform reference: a C JACK client (jack_cpu) burning {REFERENCE_CPU}% of each period, "
              f"{seconds:g} s, the GUI load in this process: {xruns} xruns (no Python in the audio process)"
              + (f"; late: {', '.join(f'{n} {k}' for k, n in late.items())}" if late else ""))
        return xruns

    def native_reference(self, seconds: float, share: float = NATIVE_SHARE) -> dict[str, Any] | None:
        """(0) A native client reading NATIVE_MEGABYTES for ``share`` of each period (bench/native_reference.c).

        jack_cpu spins on registers; a many-track callback reads megabytes of plug-in state every block, and
        memory-bound work is what the machine's neighbours slow down, in bursts. This is the xrun count that
        code with no Python at all gets here for the work of rackhost's callback at 64 tracks.
        """
        import shutil

        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            print("(0) native reference skipped: no C compiler (cc)")
            return None
        binary = self.folder / "native_reference"
        if not binary.exists():
            built = subprocess.run([compiler, "-O2", "-o", str(binary), str(NATIVE_SOURCE), "-l:libjack.so.0"],
                                   capture_output=True, text=True)
            if built.returncode != 0:
                print(f"(0) native reference skipped: it did not build: {built.stderr.strip()[-300:]}")
                return None
        gui = GuiLoad(GUI_BUSY, lambda: None)  # the same parent load as in (a)
        gui.start()
        process = subprocess.Popen([str(binary), str(seconds), str(share), str(NATIVE_MEGABYTES)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            started = process.stdout.readline().strip() == "measuring"  # calibrated in the running client
            before, log0 = self.jack_log.count(), self.jack_log.size()
            out, err = process.communicate(timeout=seconds + 60)
        finally:
            gui.stop()
            if process.poll() is None:
                process.kill()
                process.wait()
        xruns, late = self.jack_log.count() - before, self.jack_log.reasons(log0)
        if process.returncode != 0 or not started:
            print(f"(0) native reference failed: {err.strip()[-300:]}")
            return None
        figures = json.loads(out.strip().splitlines()[-1])
        figures["jack_xruns"] = xruns
        print(f"(0) native reference: a C JACK client reading {NATIVE_MEGABYTES:g} MB for {share:.0%} of each "
              f"period, {seconds:g} s, the GUI load in this process: {xruns} xruns"
              + (f" ({', '.join(f'{n} {k}' for k, n in late.items())})" if late else "")
              + f"; its callback p50 {figures['share_p50']:.0%}, p99 {figures['share_p99']:.0%}, "
              f"max {figures['share_max']:.0%} of the period, {figures['over_period']} longer than a period")
        return figures


def per_minute(xruns: int, span: float) -> float:
    return round(xruns * 60.0 / span, 1)


def xrun_rates(results: list[Result], tracks: int, reference: int | None, native: dict[str, Any] | None,
               seconds: float) -> dict[str, float | None]:
    """Xruns per minute of the platform references and of both sides' runs at ``tracks``, side by side.

    The 0-xrun rule asks of rackhost what the machine may not give any client: this puts rackhost's rate
    next to those of C clients doing comparable work in the same run.
    """
    rates: dict[str, float | None] = {
        "jack_cpu": per_minute(reference, seconds) if reference is not None else None,
        "native": per_minute(native["jack_xruns"], seconds) if native else None,
    }
    for kind in ("rackhost", "bare"):
        runs = [r for r in results if r.kind == kind and r.tracks == tracks and r.load == "gui" and not r.error]
        span = sum(r.seconds for r in runs)
        rates[f"{kind}_{tracks}"] = per_minute(sum(r.xruns for r in runs), span) if span else None
    return rates


COST_RATIO_TARGET = 0.75  # issue 20: rackhost's callback (two audio threads) at most 0.75x the bare loop's (one)


def compare_rates(bench: Bench, rounds: int, tracks: int, seconds: float) -> dict[str, object]:
    """Xruns per minute of the two C references, rackhost and the bare loop, in turn, ``rounds`` times.

    One 60 s run says little when every client here gets a few xruns a minute; rounds taken in turn
    put each side through the same stretches of the machine's noise, and the medians compare them.
    """
    rates: dict[str, list[float]] = {"jack_cpu": [], "native": [], f"rackhost_{tracks}": [], f"bare_{tracks}": []}
    costs: list[float] = []  # per round: rackhost's p50 callback time over the bare loop's, run one after the other
    phases: list[dict[str, float]] = []  # per round: where rackhost's callback time went, over the bare loop's p50
    for round_ in range(rounds):
        print(f"\n  round {round_ + 1} of {rounds}")
        reference = bench.platform_reference(seconds)
        runs = [bench.run(kind, tracks, seconds) for kind in ("rackhost", "bare")]
        if not runs[0].error and not runs[1].error and runs[1].p50 > 0:
            costs.append(round(runs[0].p50 / runs[1].p50, 3))
            run, bare_p50 = runs[0], runs[1].p50
            phases.append({"own_tracks": round(run.own_p50 / bare_p50, 3),
                           "partner_wait": round((run.tracks_p50 - run.own_p50) / bare_p50, 3),
                           "after_tracks": round((run.p50 - run.tracks_p50) / bare_p50, 3),
                           "partner_wake": round(run.partner_wake_p50 / bare_p50, 3),
                           "partner_render": round(run.partner_render_p50 / bare_p50, 3),
                           "placement": run.placement})
        # The same share of the period as rackhost's callback took just now.
        native = bench.native_reference(seconds, runs[0].p50 if not runs[0].error else NATIVE_SHARE)
        for name, xruns in zip(rates, (reference, native["jack_xruns"] if native else None,
                                       *(None if r.error else r.xruns for r in runs))):
            if xruns is not None:
                rates[name].append(per_minute(xruns, seconds))
    medians = {name: statistics.median(values) if values else None for name, values in rates.items()}
    print(f"\n  xruns per minute, {rounds} rounds of {seconds:g} s: "
          + "; ".join(f"{name} {values} (median {medians[name]})" for name, values in rates.items()))
    cost = statistics.median(costs) if costs else None
    ours, bare, native = medians[f"rackhost_{tracks}"], medians[f"bare_{tracks}"], medians["native"]
    cost_met = cost is not None and cost <= COST_RATIO_TARGET
    xruns_met = None not in (ours, bare, native) and ours <= max(bare, native)
    print(f"  cost_ratio_{tracks} (rackhost p50 / bare loop p50, per round {costs}): median {cost} "
          f"(target <= {COST_RATIO_TARGET}: {'met' if cost_met else 'NOT met'}); rackhost's median xrun rate "
          f"{ours} against max(bare {bare}, native {native}): {'met' if xruns_met else 'NOT met'}")
    print(f"  where rackhost's callback time went, over the bare loop's p50, per round: {phases}")
    return {"rates_rounds": rounds, "rates_seconds": seconds, "rates_tracks": tracks,
            "xruns_per_minute": rates, "xruns_per_minute_median": medians,
            f"cost_ratio_{tracks}_rounds": costs, f"cost_ratio_{tracks}": cost, "cost_phases_rounds": phases,
            "target_cost_met": cost_met, "target_xruns_met": xruns_met}


def routed_summary(result: Result | None, seconds: float, jack_cpu: int | None, native: int | None,
                   keyed: bool | None, key_reduction_db: float | None = None,
                   error: str | None = None) -> dict[str, object]:
    """The figures of (f) from the routed run and the two C references beside it (xrun counts over ``seconds``).

    Held: the run went through, p99 <= LOAD_LIMIT, its xruns per minute no more than the worse C reference's
    in the same run, and the keyed slot ran keyed; None when no reference ran (xruns cannot be judged).
    """
    error = error or (result.error if result is not None else "the routed session did not run")
    ran = result is not None and result.error is None
    rate = per_minute(result.xruns, result.seconds) if ran else None
    references = {"jack_cpu": per_minute(jack_cpu, seconds) if jack_cpu is not None else None,
                  "native": per_minute(native, seconds) if native is not None else None}
    reference = max((r for r in references.values() if r is not None), default=None)
    load_held = ran and result.p99 <= LOAD_LIMIT
    xruns_held = None if reference is None or rate is None else rate <= reference
    if not ran or not load_held or xruns_held is False or not keyed:
        held: bool | None = False
    else:
        held = xruns_held
    return {
        "routed_tracks": result.tracks if result is not None else None,
        "routed_seconds": seconds,
        "routed_load_p50": result.p50 if ran else None,
        "routed_load_p99": result.p99 if ran else None,
        "routed_load_max": result.max if ran else None,
        "routed_xruns": result.xruns if ran else None,
        "routed_jack_xruns": result.jack_xruns if ran else None,
        "routed_partner_late": result.partner_late if ran else None,
        "routed_placement": result.placement if ran else None,
        "routed_xruns_per_minute": rate,
        "routed_jack_cpu_xruns_per_minute": references["jack_cpu"],
        "routed_native_xruns_per_minute": references["native"],
        "routed_reference_xruns_per_minute": reference,
        "routed_keyed": keyed,
        "routed_key_reduction_db": key_reduction_db,
        "routed_load_held": load_held,
        "routed_xruns_held": xruns_held,
        "routed_strict_pass": result.passed if ran else False,  # the search's rule: 0 xruns and p99 within the limit
        "routed_realtime_held": held,
        "routed_error": None if ran else error,
    }


def routed_realtime(bench: Bench, seconds: float) -> dict[str, object]:
    """(f) bench/offline.py's routed session in the engine process under the GUI load, between two C references."""
    import offline
    from rackhost.chain.sidechain import NotKeyableError

    print(f"\n(f) the routed session of bench/offline.py (32 tracks, {len(offline.ROUTED_BUSSES)} busses, 2 reverb "
          f"busses fed by sends, a split, a keyed ducker, master compressor), {seconds:g} s, GUI load in the parent; "
          f"held = p99 <= {LOAD_LIMIT:.0%} of the period, xruns a minute <= the worse C reference's in this run, "
          f"and the ducker keyed")
    jack_cpu = bench.platform_reference(seconds)
    try:
        routed = bench.material.routed(seconds + SETTLE + 5)
    except NotKeyableError as err:
        # Unkeyed it would not be the routed session any more: no figure rather than a figure for something else.
        print(f"  routed run NOT made: this process cannot host the keyed ducker, so the session would lose its "
              f"key: {err}")
        return routed_summary(None, seconds, jack_cpu, None, keyed=False, error=f"keyed ducker not hosted: {err}")
    print(f"  {routed.tracks} tracks into {', '.join(routed.busses)}; {routed.described}; session {routed.path.name}")
    runner = RoutedRunner(routed, bench.device, bench.folder / "routed.stderr.log",
                          spread=not bench.args.no_spread, partner=not bench.args.no_partner)
    result = measure(runner, routed.tracks, seconds, "gui", bench.jack_log)
    print(result.line(), flush=True)
    bench.results.append(result)
    if runner.keyed:
        print(f"  the engine process runs the ducker keyed: its minihost twin reports "
              f"{runner.key_reduction_db:.1f} dB of gain reduction")
    elif runner.keyed is False:
        print(f"  WARNING: the engine process did not show the ducker running keyed (no gain reduction reported "
              f"by its minihost twin within {KEY_PROBE_SECONDS:g} s): the figure is not the routed session's; "
              f"see {runner.log}")
    # The same share of the period as the routed callback took, as --rates does.
    native = bench.native_reference(seconds, result.p50 if not result.error and result.p50 > 0 else NATIVE_SHARE)
    out = routed_summary(result, seconds, jack_cpu, native["jack_xruns"] if native else None, runner.keyed,
                         runner.key_reduction_db)
    held = out["routed_realtime_held"]
    loads = "failed" if result.error else f"p50 {result.p50:.3f}, p99 {result.p99:.3f}"
    print(f"  routed: load {loads} (held: {out['routed_load_held']}); xruns {out['routed_xruns_per_minute']} a "
          f"minute against jack_cpu {out['routed_jack_cpu_xruns_per_minute']}, native "
          f"{out['routed_native_xruns_per_minute']} (held: {out['routed_xruns_held']}); keyed {out['routed_keyed']}; "
          f"routed_realtime_held: {'yes' if held else 'cannot say (no reference ran)' if held is None else 'NO'}")
    return out


def spectrum_summary(p50s: dict[str, list[float]]) -> dict[str, object]:
    """The figures of (e) from each side's p50 loads, one per round: medians, and open over closed."""
    medians = {side: statistics.median(values) if values else None for side, values in p50s.items()}
    closed = medians["closed"]
    ratios = {side: (round(medians[side] / closed, 4) if closed and medians[side] is not None else None)
              for side in ("master", "track")}
    worst = None if None in ratios.values() else max(ratios.values())  # type: ignore[type-var]
    return {"spectrum_p50_load": {side: None if v is None else round(v, 5) for side, v in medians.items()},
            "spectrum_p50_us": {side: None if v is None else round(v * PERIOD * 1e6, 2) for side, v in medians.items()},
            "spectrum_p50_rounds": {side: [round(v, 5) for v in values] for side, values in p50s.items()},
            "spectrum_master_ratio": ratios["master"], "spectrum_track_ratio": ratios["track"],
            "spectrum_cost_ratio": worst, "spectrum_target_met": worst is not None and worst <= SPECTRUM_TARGET}


def spectrum_cost(bench: Bench, tracks: int, rounds: int, phase: float) -> dict[str, object]:
    """(e) The engine's p50 callback load with the spectrum view closed, open on the master, open on a track,
    in turn in one engine process, ``phase`` seconds each, ``rounds`` times (see the module's docstring)."""
    from rackhost.chain.spectrum import live_spectrum
    from rackhost.live.commands import UnwatchSpectrum, WatchSpectrum

    window = WINDOW * PERIOD
    print(f"\n(e) the spectrum view's cost: {tracks} tracks, {rounds} rounds of closed / master / track, "
          f"{phase:g} s each, GUI load in the parent")
    if phase < window + 0.5:
        print(f"  note: {phase:g} s is shorter than the load window ({window:.1f} s): each p50 reaches back into "
              f"the phase before (a smoke run; its ratio means nothing)")
    watched = {"open": False, "at": 0.0}
    runner = EngineRunner(bench.material.session(tracks, SETTLE + rounds * len(SPECTRUM_SIDES) * phase + 10),
                          bench.device, bench.folder / "spectrum.stderr.log", spread=not bench.args.no_spread,
                          partner=not bench.args.no_partner)
    engine = runner.engine

    def frame() -> None:  # a GUI frame: meters and stats, and with the view open what SpectrumView.poll does
        runner.redraw()
        now = time.perf_counter()
        if watched["open"] and now - watched["at"] >= SPECTRUM_ANALYSE:
            watched["at"] = now
            got = engine.spectrum_frames()
            if got is not None:
                live_spectrum(got[1][0], SAMPLE_RATE), live_spectrum(got[1][1], SAMPLE_RATE)
                engine.slot_reductions()

    p50s: dict[str, list[float]] = {side: [] for side in SPECTRUM_SIDES}
    gui: GuiLoad | None = None
    try:
        runner.start()
        runner.play()
        time.sleep(SETTLE)
        gui = GuiLoad(GUI_BUSY, frame)
        gui.start()
        for round_ in range(rounds):
            order = SPECTRUM_SIDES if round_ % 2 == 0 else SPECTRUM_SIDES[::-1]
            for side in order:
                engine.send(UnwatchSpectrum() if side == "closed" else WatchSpectrum(None if side == "master" else 0))
                watched["open"] = side != "closed"
                time.sleep(phase)
                if not runner.alive():
                    raise RuntimeError("the stream stopped during the run")
                p50s[side].append(runner.window()[0])
            print(f"  round {round_ + 1}: p50 load " + ", ".join(f"{side} {p50s[side][-1]:.4f}"
                                                                 for side in SPECTRUM_SIDES), flush=True)
        gui.stop()
        print(f"  {gui.describe()}")
        gui = None
    finally:
        if gui is not None:
            gui.stop()
        runner.stop()
    out = spectrum_summary(p50s)
    ratio = out["spectrum_cost_ratio"]
    print(f"  spectrum_cost_ratio (open / closed p50, the worse of master {out['spectrum_master_ratio']} and track "
          f"{out['spectrum_track_ratio']}): {ratio} (target <= {SPECTRUM_TARGET}: "
          f"{'met' if out['spectrum_target_met'] else 'NOT met'})")
    return {"spectrum_tracks": tracks, "spectrum_rounds": rounds, "spectrum_seconds": phase, **out}


def jack_device_index() -> int:
    """The JACK device's PortAudio index as a child sees it, found by a throwaway child (not this process)."""
    code = ("import sys; sys.path.insert(0, %r); from jack_harness import jack_device; print(jack_device())"
            % str(TESTS_DIR))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"cannot find the JACK device: {out.stderr.strip()[-500:]}")
    return int(out.stdout.strip().splitlines()[-1])


def _audiostream_child(conn: Any, seconds: float) -> None:
    """pedalboard's own live path: AudioStream on the ALSA 'jack' PCM, TRACK_CHAIN on the live input."""
    try:
        from pedalboard.io import AudioStream

        names = AudioStream.input_device_names
        name = next((n for n in names if "JACK" in n), None)
        if name is None:
            raise RuntimeError(f"no JACK device among AudioStream's ALSA devices {names}")
        board = make_board(TRACK_CHAIN)
        stream = AudioStream(name, name, plugins=board, sample_rate=SAMPLE_RATE, buffer_size=BLOCK,
                             num_input_channels=2, num_output_channels=2)
        with stream:
            time.sleep(0.5)
            conn.send(("ready", f"{name}, {stream.sample_rate:g} Hz, buffer {stream.buffer_size}"))
            conn.recv()  # "quit"
            running = stream.running
        conn.send(("done", running))
    except Exception as err:  # noqa: BLE001
        conn.send(("error", f"{type(err).__name__}: {err}"))


def one_chain(bench: Bench, seconds: float, with_audiostream: bool) -> dict[str, object]:
    """(c) One chain on the live input: CPU per second of audio and JACK xruns, three ways."""
    print(f"\n(c) one chain ({', '.join(n for n, _ in TRACK_CHAIN)}) on the live input, {seconds:g} s each, no GUI load")
    out: dict[str, object] = {}

    def cpu_run(label: str, pid: int, alive: Callable[[], bool],
                xruns: Callable[[], int] = lambda: 0) -> tuple[float, int, int]:
        """(CPU seconds per second, JACK xruns, the stream's own xruns) over ``seconds`` after the settle time."""
        time.sleep(SETTLE)
        jack0, own0, cpu0, wall0 = bench.jack_log.count(), xruns(), cpu_seconds(pid), time.perf_counter()
        time.sleep(seconds)
        cpu = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - wall0)
        jack_xr, own = bench.jack_log.count() - jack0, xruns() - own0
        if not alive():
            raise RuntimeError(f"{label} stopped during the run")
        return cpu, jack_xr, own

    # rackhost
    log = bench.folder / "one-chain-rackhost.stderr.log"
    runner = EngineRunner(bench.material.session(1, 0, live_input=True, master=False), bench.device, log)
    try:
        runner.start()
        runner.play()
        assert runner.pid is not None
        cpu, jack_xr, xr = cpu_run("rackhost", runner.pid, runner.alive, lambda: runner.counters()[1])
        p50, p99, peak = runner.window()
        print(f"  rackhost     CPU {cpu * 100:5.1f}% of a core   jack xruns {jack_xr}   engine xruns {xr}   "
              f"load p50 {p50:.3f} p99 {p99:.3f} max {peak:.3f}")
        out.update(one_chain_rackhost_cpu=cpu, one_chain_rackhost_p50=p50, one_chain_rackhost_p99=p99,
                   one_chain_rackhost_xruns=xr)
    except Exception as err:  # noqa: BLE001
        print(f"  rackhost     FAILED: {type(err).__name__}: {err}")
    finally:
        runner.stop()

    # bare sounddevice loop
    log = bench.folder / "one-chain-bare.stderr.log"
    bare = BareRunner(1, [], bench.device, log, seconds, live_input=True, master=False)
    try:
        bare.start()
        assert bare.pid is not None
        cpu, jack_xr, xr = cpu_run("bare", bare.pid, bare.alive, lambda: bare.counters()[1])
        p50, p99, peak = bare.window()
        print(f"  bare loop    CPU {cpu * 100:5.1f}% of a core   jack xruns {jack_xr}   stream xruns {xr}   "
              f"load p50 {p50:.3f} p99 {p99:.3f} max {peak:.3f}")
        out.update(one_chain_bare_cpu=cpu, one_chain_bare_p50=p50, one_chain_bare_p99=p99)
    except Exception as err:  # noqa: BLE001
        print(f"  bare loop    FAILED: {type(err).__name__}: {err}")
    finally:
        bare.stop()

    if not with_audiostream:
        print("  AudioStream  skipped (--no-audiostream)")
        return out
    if not Path(ALSA_PLUGIN_DIR, "libasound_module_pcm_jack.so").exists():
        print(f"  AudioStream  skipped: no ALSA jack plug-in in {ALSA_PLUGIN_DIR} (install libasound2-plugins)")
        return out
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    saved = os.environ.get("ALSA_PLUGIN_DIR")
    os.environ["ALSA_PLUGIN_DIR"] = ALSA_PLUGIN_DIR  # pedalboard's bundled libasound finds the jack PCM with it
    process = ctx.Process(target=_audiostream_child, args=(child, seconds), name="audiostream", daemon=True)
    try:
        with stderr_to(bench.folder / "audiostream.stderr.log"):
            process.start()
        child.close()
        if not parent.poll(60):
            raise RuntimeError("AudioStream did not open within 60 s")
        kind, message = parent.recv()
        if kind != "ready":
            raise RuntimeError(message)
        assert process.pid is not None
        cpu, jack_xr, _ = cpu_run("AudioStream", process.pid, process.is_alive)
        parent.send("quit")
        kind, running = parent.recv() if parent.poll(10) else ("error", "no answer")
        print(f"  AudioStream  CPU {cpu * 100:5.1f}% of a core   jack xruns {jack_xr}   ({message}; "
              f"no load or xrun figures of its own; still running: {running})")
        out.update(one_chain_audiostream_cpu=cpu, one_chain_audiostream_jack_xruns=jack_xr)
    except Exception as err:  # noqa: BLE001
        print(f"  AudioStream  skipped: {type(err).__name__}: {err}")
        out["one_chain_audiostream_error"] = str(err)
    finally:
        if saved is None:
            os.environ.pop("ALSA_PLUGIN_DIR", None)
        else:
            os.environ["ALSA_PLUGIN_DIR"] = saved
        if process.is_alive():
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
        parent.close()
    return out


def where_time_goes(bench: Bench, tracks: int, blocks: int = 750) -> dict[str, float]:
    """(d) The block engine vs the bare loop without a stream, in this process; meters on and off.

    Uses LiveEngine internals (``update``, ``_state``, ``_process``) and swaps rackhost.live.callback's
    ``meter`` (one batched pass over all strips per block) for a no-op to time the engine without meters.
    """
    import pedalboard  # noqa: F401 - make_board needs it
    import soundfile as sf

    from rackhost.live import callback as callback_module
    from rackhost.live import engine as engine_module
    from rackhost.presets import load_session

    print(f"\n(d) where the time goes: {tracks} tracks, {blocks} blocks of {BLOCK}, no stream, this process")
    path = bench.material.session(tracks, 10)
    with stderr_to(bench.folder / "parent-stderr.log"):
        session = load_session(path)
        live = engine_module.LiveEngine(session)
        live.update()
        state = live._state
        live._playing = True
        indata = np.zeros((BLOCK, 1), np.float32)
        outdata = np.zeros((BLOCK, 2), np.float32)
        sources = [np.ascontiguousarray(sf.read(str(p), dtype="float32", always_2d=True)[0].T)
                   for p in bench.material.sources(10)]
        srcs = [sources[i % len(sources)].copy() for i in range(tracks)]
        boards = [make_board(TRACK_CHAIN).process for _ in range(tracks)]
        master = make_board(MASTER_CHAIN).process
        mix = np.zeros((2, BLOCK), np.float32)
        sr = float(SAMPLE_RATE)

    def rackhost_blocks() -> None:
        live._position = 0
        for _ in range(blocks):
            live._process(state, indata, outdata)

    def bare_blocks() -> None:
        for b in range(blocks):
            p = b * BLOCK
            mix.fill(0.0)
            for process, src in zip(boards, srcs):
                np.add(mix, process(src[:, p : p + BLOCK], sr, BLOCK, False), out=mix)
            outdata[:] = master(mix, sr, BLOCK, False).T

    real_meter = callback_module.meter
    from rackhost.live.spread import TrackWorker

    def two_threads() -> None:  # tracks shared with a second thread (not real-time here: nothing else runs)
        live._worker = TrackWorker()
        live._worker.start()
        try:
            rackhost_blocks()
        finally:
            live._worker.stop()
            live._worker = None

    def no_meters() -> None:
        callback_module.meter = lambda blocks, rows, scratch: None
        try:
            rackhost_blocks()
        finally:
            callback_module.meter = real_meter

    stacked = np.random.default_rng(0).standard_normal(state.strips.shape).astype(np.float32)
    rows, scratch = np.zeros_like(state.levels.blocks[0]), np.zeros_like(stacked)

    def meters_only() -> None:  # the engine's one batched pass over every strip and the master
        for _ in range(blocks):
            real_meter(stacked, rows, scratch)

    sides = {"bare loop": bare_blocks, "rackhost": rackhost_blocks, "rackhost, meters off": no_meters,
             f"meters alone ({tracks} strips + master)": meters_only}
    if state.share is not None:
        sides["rackhost, tracks on two threads"] = two_threads
    for fn in sides.values():  # warm up
        fn()
    times: dict[str, list[float]] = {name: [] for name in sides}
    gc_before = [s["collections"] for s in gc.get_stats()]
    for rep in range(5):
        for name, fn in (list(sides.items()) if rep % 2 == 0 else list(sides.items())[::-1]):
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) / blocks)
    gc_after = [s["collections"] for s in gc.get_stats()]
    out: dict[str, float] = {}
    for name, values in times.items():
        us = min(values) * 1e6
        print(f"  {name:<34} {us:8.1f} us/block  {us / tracks:6.2f} us/track  load {us * 1e-6 / PERIOD:5.3f}")
    bare_us, rack_us, nometer_us = (min(times[k]) * 1e6 for k in ("bare loop", "rackhost", "rackhost, meters off"))
    meter_us = min(times[f"meters alone ({tracks} strips + master)"]) * 1e6
    print(f"  host overhead {(rack_us - bare_us) / tracks:.2f} us/track/block ({rack_us / bare_us:.2f}x the bare loop); "
          f"meters {(rack_us - nometer_us) / tracks:.2f} of it, the rest {(nometer_us - bare_us) / tracks:.2f}")
    print(f"  Python GC collections (gen0, gen1, gen2) during these blocks: {[b - a for a, b in zip(gc_before, gc_after)]}")
    key = f"breakdown_{tracks}track"
    out.update({f"{key}_bare_us_per_block": bare_us, f"{key}_rackhost_us_per_block": rack_us,
                f"{key}_rackhost_no_meters_us_per_block": nometer_us, f"{key}_meters_us_per_block": meter_us})
    if "rackhost, tracks on two threads" in times:
        two_us = min(times["rackhost, tracks on two threads"]) * 1e6
        print(f"  two threads: {rack_us / two_us:.2f}x faster than one, {bare_us / two_us:.2f}x the bare loop's speed")
        out[f"{key}_rackhost_two_threads_us_per_block"] = two_us
    with stderr_to(bench.folder / "parent-stderr.log"):
        del live, state, session, boards, master
        gc.collect()
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 s runs, no bisection, no long confirmation")
    parser.add_argument("--seconds", type=float, help="length of the confirmation runs (default 60; 10 with --quick)")
    parser.add_argument("--search-seconds", type=float, help="length of each search run (default min(seconds, 20))")
    parser.add_argument("--candidates", help="comma-separated track counts to try (default 16,64,96,128,192,256)")
    parser.add_argument("--no-audiostream", action="store_true", help="skip pedalboard's AudioStream in (c)")
    parser.add_argument("--no-spread", action="store_true",
                        help="keep rackhost's tracks on its audio thread alone (no second audio thread)")
    parser.add_argument("--no-partner", action="store_true",
                        help="rackhost keeps every track in its engine process (no partner process, "
                             "rackhost/live/partner.py): its two audio threads share them")
    parser.add_argument("--rates", type=int, metavar="ROUNDS",
                        help="only compare xrun rates: ROUNDS rounds of jack_cpu, the native reference, rackhost and "
                             "the bare loop at --tracks, --search-seconds each, in turn; medians per minute")
    parser.add_argument("--tracks", type=int, help=f"track count for --rates (default 64) and --spectrum (default "
                                                     f"{SPECTRUM_TRACKS})")
    parser.add_argument("--spectrum", action="store_true",
                        help="only (e): the engine's p50 callback load with the spectrum view closed, open on the "
                             "master and open on a track, in turn; spectrum_cost_ratio and spectrum_target_met")
    parser.add_argument("--spectrum-rounds", type=int, default=SPECTRUM_ROUNDS,
                        help=f"rounds of (e) (default {SPECTRUM_ROUNDS})")
    parser.add_argument("--spectrum-seconds", type=float, default=round(WINDOW * PERIOD + 1.0, 1),
                        help="seconds of each side in (e) (default: the load window and 1 s, so no p50 mixes two)")
    parser.add_argument("--routed", action="store_true",
                        help="only (f): bench/offline.py's routed 32-track session in the engine process under the "
                             "GUI load, with jack_cpu and the native reference in the same run; routed_realtime_held")
    parser.add_argument("--routed-seconds", type=float, default=ROUTED_SECONDS,
                        help=f"length of each run of (f) (default {ROUTED_SECONDS:g})")
    args = parser.parse_args(argv)
    args.tracks = args.tracks or (SPECTRUM_TRACKS if args.spectrum else 64)
    args.seconds = args.seconds or (10.0 if args.quick else 60.0)
    args.search_seconds = args.search_seconds or min(args.seconds, 10.0 if args.quick else 20.0)
    args.candidates = tuple(int(c) for c in args.candidates.split(",")) if args.candidates else CANDIDATES
    return args


def mode(args: argparse.Namespace) -> str:
    """What this run measures: ``spectrum`` (e), ``routed`` (f), ``rates`` or ``search``, the plain run (0)-(d)."""
    return "spectrum" if args.spectrum else "routed" if args.routed else "rates" if args.rates else "search"


def header(args: argparse.Namespace, cores: int | None, pedalboard_version: str) -> dict[str, object]:
    """The last JSON line's first keys: the server and machine, and the plain run's lengths in the plain run alone
    (each other mode reports the lengths it ran under its own keys: spectrum_seconds, routed_seconds, rates_seconds)."""
    results: dict[str, object] = {"block": BLOCK, "rate": SAMPLE_RATE}
    if mode(args) == "search":
        results.update(seconds=args.seconds, search_seconds=args.search_seconds)
    results.update(cores=cores, pedalboard=pedalboard_version)
    return results


def header_lines(args: argparse.Namespace, server: str, realtime: bool, cores: int | None, pedalboard_version: str,
                 device: Any) -> list[str]:
    """What is printed before the first measurement: the server, the chains the mode's sessions hold (the routed
    session says its own), and the rule a run's line is judged by where the mode judges runs by it."""
    which = mode(args)
    lines = [(f"JACK dummy server {server}: {SAMPLE_RATE} Hz, period {BLOCK} ({PERIOD * 1e3:.3f} ms), "
              f"{'real-time (-R)' if realtime else 'not real-time'}; {cores} cores; pedalboard {pedalboard_version}; "
              f"PortAudio device {device}")]
    if which != "routed":
        lines.append(f"track chain: {' -> '.join(n for n, _ in TRACK_CHAIN)}; "
                     f"master: {' -> '.join(n for n, _ in MASTER_CHAIN)}")
    settles = f"each run settles {SETTLE:g} s after play first"
    if which == "spectrum":  # judged by p50 ratios alone (see (e)): no run passes or fails
        lines.append(settles)
    elif which == "routed":
        lines.append(f"the run's line: pass = 0 xruns and load p99 <= {LOAD_LIMIT:.0%} of the period "
                     f"(routed_strict_pass); {settles}")
    else:
        lines.append(f"pass = 0 xruns and load p99 <= {LOAD_LIMIT:.0%} of the period; {settles}")
    return lines


def last_line(results: dict[str, object], wall: float, load_before: tuple[float, float, float]) -> str:
    """The JSON line every mode ends with: ``results`` with the run's wall time and the machine's load averages
    (1/5/15 minutes: others' work skews all) added to it, floats to 4 places."""
    results.update(wall_seconds=round(time.perf_counter() - wall, 1),
                   loadavg_before=[round(x, 2) for x in load_before],
                   loadavg_after=[round(x, 2) for x in os.getloadavg()])
    return json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in results.items()})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from jack_harness import JackServer, jackd_available

    if not jackd_available():
        print("needs jackd, jack_lsp and JACK-Client: 'make setup' installs them", file=sys.stderr)
        return 2
    import pedalboard

    wall = time.perf_counter()
    load_before = os.getloadavg()
    results = header(args, os.cpu_count(), pedalboard.__version__)
    server = JackServer(rate=SAMPLE_RATE, period=BLOCK, inputs=2, outputs=2, portaudio=False)
    with tempfile.TemporaryDirectory(prefix="rackhost-live-bench-") as tmp:
        server.start()
        bench: Bench | None = None
        try:
            device = jack_device_index()
            bench = Bench(args, Path(tmp), JackLog(server.log_path), device)
            print("\n".join(header_lines(args, server.name, server.realtime, os.cpu_count(), pedalboard.__version__,
                                         device)))

            if mode(args) != "search":
                if args.spectrum:
                    results.update(spectrum_cost(bench, args.tracks, args.spectrum_rounds, args.spectrum_seconds))
                elif args.routed:
                    results.update(routed_realtime(bench, args.routed_seconds))
                else:
                    results.update(compare_rates(bench, args.rates, args.tracks, args.search_seconds))
                sys.stderr.flush()
                print(last_line(results, wall, load_before), flush=True)
                return 0

            # As long as the confirmation runs: "0 xruns in 60 s" is asked of a C client too.
            reference = bench.platform_reference(args.seconds)
            results["platform_reference_xruns"] = reference
            results["platform_reference_seconds"] = args.seconds
            native = bench.native_reference(args.seconds)
            results["native_reference_xruns"] = native["jack_xruns"] if native else None
            results["native_reference_share_p50"] = native["share_p50"] if native else None
            results["native_reference_over_period"] = native["over_period"] if native else None

            print(f"\n(a) track search, {args.search_seconds:g} s per candidate, GUI load in the parent "
                  f"({GUI_BUSY * 1e3:g} ms pure Python per {GUI_FRAME * 1e3:.1f} ms frame)")
            found = bench.search(args.search_seconds, args.candidates, bisect=not args.quick)
            final: dict[str, Result | None] = {}
            confirmed: dict[str, bool | None] = {}
            for kind, f in found.items():
                best = int(f["strict"] or 0)
                if f["load_fail"] is None:
                    print(f"  note: {kind} kept p99 within the limit up to {args.candidates[-1]} tracks")
                final[kind] = next((r for r in reversed(bench.results)
                                    if r.kind == kind and r.tracks == best and r.passed), None)
                confirmed[kind] = None
                if args.seconds > args.search_seconds and best > 0:
                    print(f"  confirming {kind} at N={best} for {args.seconds:g} s")
                    result = bench.run(kind, best, args.seconds, retry=True)
                    confirmed[kind] = result.passed
                    final[kind] = result
            ours, limit = final["rackhost"], final["bare"]
            max_tracks = int(found["rackhost"]["strict"] or 0)
            limit_tracks = int(found["bare"]["strict"] or 0)

            # Per-track cost in the live runs, at the track counts both sides ran.
            print("\n  per-track cost in the live runs (p50 load x period / N):")
            for n in sorted({r.tracks for r in bench.results if r.kind == "rackhost" and not r.error}):
                pair = [next((r for r in bench.results if r.kind == k and r.tracks == n and not r.error), None)
                        for k in ("rackhost", "bare")]
                if pair[0] is not None and pair[1] is not None:
                    a, b = pair
                    print(f"    N={n:<4} rackhost {a.per_track_us():5.2f} us  bare {b.per_track_us():5.2f} us  "
                          f"ratio {a.per_track_us() / b.per_track_us():4.2f}")

            rates = xrun_rates(bench.results, MIN_TRACKS_TARGET, reference, native, args.seconds)
            results["xruns_per_minute"] = rates
            print(f"\n  xruns per minute under the GUI load: "
                  + ", ".join(f"{name} {rate}" for name, rate in rates.items()))

            iso_seconds = args.search_seconds
            print(f"\n(b) isolation: {ISOLATION_TRACKS} tracks, {iso_seconds:g} s, a parent thread doing pure Python at 100%")
            iso_process = bench.run("rackhost", ISOLATION_TRACKS, iso_seconds, load="hog")
            iso_inproc = bench.run("in-process", ISOLATION_TRACKS, iso_seconds, load="hog")

            results.update(one_chain(bench, 5.0 if args.quick else 10.0, not args.no_audiostream))
            results.update(where_time_goes(bench, 1))  # the fixed cost per block
            results.update(where_time_goes(bench, 32 if args.quick else 64))
        finally:
            server.stop()  # every stream and child is closed by now (runners stop themselves)

    results.update(
        max_tracks=max_tracks,
        limit_tracks=limit_tracks,
        ratio_to_limit=round(max_tracks / limit_tracks, 3) if limit_tracks else None,
        p50_load=ours.p50 if ours else None,
        p99_load=ours.p99 if ours else None,
        max_load=ours.max if ours else None,
        xruns=ours.xruns if ours else None,
        jack_xruns=ours.jack_xruns if ours else None,
        measured_seconds=ours.seconds if ours else None,
        confirmed=confirmed["rackhost"],
        limit_p50_load=limit.p50 if limit else None,
        limit_p99_load=limit.p99 if limit else None,
        limit_xruns=limit.xruns if limit else None,
        limit_confirmed=confirmed["bare"],
        max_tracks_load_only=found["rackhost"]["load"],
        limit_tracks_load_only=found["bare"]["load"],
        runs={k: {str(r.tracks): [r.xruns, round(r.p99, 3)] for r in bench.results if r.kind == k and not r.error
                  and r.seconds == args.search_seconds and r.load == "gui"} for k in ("rackhost", "bare")},
        isolation_tracks=ISOLATION_TRACKS,
        isolation_process_xruns=iso_process.xruns if not iso_process.error else None,
        isolation_process_p99=iso_process.p99,
        isolation_inprocess_xruns=iso_inproc.xruns if not iso_inproc.error else None,
        isolation_inprocess_p99=iso_inproc.p99,
        isolation_inprocess_callbacks=iso_inproc.callbacks,
        target_min_tracks_met=max_tracks >= MIN_TRACKS_TARGET,
        target_fraction_met=bool(limit_tracks) and max_tracks >= LIMIT_FRACTION_TARGET * limit_tracks,
    )
    line = last_line(results, wall, load_before)
    print(f"\nload only (p99 <= {LOAD_LIMIT:.0%}, xruns aside): rackhost {results['max_tracks_load_only']} tracks, "
          f"bare loop {results['limit_tracks_load_only']}")
    print(f"max_tracks {max_tracks} (target >= {MIN_TRACKS_TARGET}: "
          f"{'met' if results['target_min_tracks_met'] else 'NOT met'}), limit_tracks {limit_tracks} "
          f"(target >= {LIMIT_FRACTION_TARGET:g} x limit: {'met' if results['target_fraction_met'] else 'NOT met'}); "
          f"isolation xruns: engine process {results['isolation_process_xruns']}, "
          f"in-process {results['isolation_inprocess_xruns']}; {results['wall_seconds']:.0f} s")
    sys.stderr.flush()
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
