"""Soak: the engine process plays a 32-track session for minutes while a driver edits it every second.

Everything runs on a private JACK server with the dummy driver in real-time
mode (tests/jack_harness.py), 128 frames at 48 kHz, as bench/live.py does:

(0) Platform reference (``--reference-seconds``, default 60; 0 skips it): a C
    JACK client (``jack_cpu``) burning 30% of each period under the same GUI
    load: the xruns this machine makes with no Python in the audio process.
(1) The soak: rackhost's :class:`EngineProcess` plays 30 stereo file tracks
    (looped) and 2 armed mono input tracks, each with plug-ins (built-ins and
    VST3s), into a master chain, for ``--minutes``. The parent runs a GUI-like
    load (10 ms of pure Python per 60 Hz frame, reading meters and stats) and
    a driver that makes one random edit a second, as a user at the window
    would: a parameter, a fader or a pan; a slot added, moved or removed; a
    preset (another track's chain) loaded; an A/B switch; undo; redo; a take
    started or stopped. The parent keeps its own session (the GUI's model)
    and sends the engine what the window sends: one command per edit, or the
    whole document (:class:`~rackhost.live.commands.Sync`) after a preset,
    an A/B switch, an undo or a redo.

Reported: the engine process's resident memory (with its partner process's,
where it runs one) at start, after ``--settle``
seconds (default 60: plug-ins loaded, caches and pools filled) and at the end
(target: it grows less than 10 MB after the first minute); xruns per minute
of the engine and of the reference; faults (the engine died, or reported a
failed command, a plug-in that raised, a stream that stopped: target 0); and
each take, checked complete (every frame the callback recorded is in its
files, none dropped, the files as long as the frames written). The seed is
printed: ``--seed`` replays a run's edits. The last line printed is JSON.

    python bench/soak.py [--minutes 30] [--seed N] [--only parameter,take] [--settle 60] [--reference-seconds 60] [--edit-every 1]
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
TESTS_DIR = REPO_ROOT / "tests"
for _path in (str(TESTS_DIR), str(BENCH_DIR), str(REPO_ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from live import GUI_BUSY, REFERENCE_CPU, GuiLoad, JackLog, jack_device_index, stderr_to

SAMPLE_RATE = 48000
BLOCK = 128
FILE_TRACKS = 30
INPUT_TRACKS = 2  # armed, mono: channel 1 and channel 2
SOURCE_SECONDS = 20.0  # the file tracks loop over this
SOURCE_FILES = 8
EDIT_EVERY = 1.0  # seconds
# The session keeps its size, so memory that grows is a leak: at most this many file tracks hold an extra slot
# (one each; the driver takes one away before it adds another), presets copy between tracks with the first
# chain, and A/B switches among the first AB_TRACKS tracks, whose B settings exist from the start. (Adds and
# removes left to chance grew the session by half its plug-ins in 400 edits, about 0.8 MB each.)
MAX_EXTRA_SLOTS = 3
AB_TRACKS = 4
TRACK_CHAIN = [("HighpassFilter", {"cutoff_frequency_hz": 80.0}), ("ZamCompX2", {"threshold_db": -20.0, "ratio": 3.0})]
INPUT_CHAIN = [("ZamComp", {"threshold_db": -20.0}), ("Gain", {"gain_db": -3.0})]
MASTER_CHAIN = [("Compressor", {"threshold_db": -12.0, "ratio": 2.0}), ("Limiter", {"threshold_db": -3.0})]
ADDABLE = ("Gain", "HighpassFilter", "Compressor", "ZamCompX2", "ZamEQ2", "ZamGate")
# One of each a second, weighted as a user's session goes: mostly knobs and faders.
EDITS = {"parameter": 6, "fader": 3, "pan": 2, "add_slot": 2, "move_slot": 2, "remove_slot": 2, "preset": 1,
         "ab": 1, "undo": 2, "redo": 1, "take": 1}
FAULT = re.compile(r"failed|raised|died|stopped|could not|cannot|error", re.IGNORECASE)
RSS_GROWTH_TARGET_MB = 10.0


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the engine's partner process, where it has one), in MB."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    family, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    total = 0.0
    for member in family:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024.0
        except OSError:
            pass
    return total


def per_minute(count: int, seconds: float) -> float | None:
    return round(count * 60.0 / seconds, 2) if seconds > 0 else None


def platform_reference(seconds: float, jack_log: JackLog) -> int | None:
    """Xruns of jack_cpu burning REFERENCE_CPU% of each period for ``seconds``, the GUI load in this process."""
    if shutil.which("jack_cpu") is None:
        print("(0) platform reference skipped: jack_cpu (jackd2's example clients) is not installed")
        return None
    process = subprocess.Popen(["jack_cpu", "-n", "reference", "-t", str(int(seconds + 3)), "-c", str(REFERENCE_CPU)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gui = GuiLoad(GUI_BUSY, lambda: None)
    try:
        time.sleep(2.0)
        before = jack_log.count()
        gui.start()
        time.sleep(seconds)
        xruns = jack_log.count() - before
    finally:
        gui.stop()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait()
    print(f"(0) platform reference: jack_cpu at {REFERENCE_CPU}% of each period, {seconds:g} s, GUI load: {xruns} xruns")
    return xruns


# -- the session and the driver ---------------------------------------------------------------------


def build_session(folder: Path) -> Any:
    """The parent's session (what a GUI holds): FILE_TRACKS looping file tracks, INPUT_TRACKS armed inputs."""
    import soundfile as sf

    # bench/offline.py: programme material whose dynamics move
    from offline import make_audio

    from rackhost.chain import Session

    sources = []
    for k in range(SOURCE_FILES):
        path = folder / f"source_{k}.wav"
        sf.write(str(path), make_audio(SOURCE_SECONDS, seed=200 + k).T, SAMPLE_RATE, subtype="FLOAT")
        sources.append(path)
    session = Session(sample_rate=SAMPLE_RATE, block_size=BLOCK)
    for i in range(FILE_TRACKS):
        chain = session.add_track(f"track {i + 1}", sources[i % len(sources)]).chain
        for name, values in TRACK_CHAIN:
            chain.add(name, **values)
    for track in session.tracks[:AB_TRACKS]:
        track.ab.other = track.chain.clone()  # a B setting from the start: switching it loads nothing new
    for i in range(INPUT_TRACKS):
        chain = session.add_track(f"input {i + 1}", None, input=(i,), armed=True).chain
        for name, values in INPUT_CHAIN:
            chain.add(name, **values)
    for name, values in MASTER_CHAIN:
        session.master.chain.add(name, **values)
    return session


@dataclass
class Driver:
    """One random edit a second to the parent's session, sent to the engine as the window sends it.

    Structural edits (slots, presets, A/B) go to the file tracks only: an armed
    input track's take keeps the width it started with, and a stereo-only
    plug-in added to it mid-take would widen its wet signal.
    """

    session: Any
    engine: Any
    rng: random.Random
    takes_folder: Path
    counts: collections.Counter = field(default_factory=collections.Counter)
    edits: dict[str, int] = field(default_factory=lambda: dict(EDITS))
    recording: bool = False
    takes_started: int = 0

    def step(self) -> str:
        kinds, weights = zip(*self.edits.items())
        kind = self.rng.choices(kinds, weights)[0]
        done = getattr(self, f"_{kind}")()
        self.counts[done or kind] += 1
        return done or kind

    # What each edit does to the parent's session, and what goes to the engine.

    def _file_track(self) -> tuple[int, Any]:
        index = self.rng.randrange(FILE_TRACKS)
        return index, self.session.tracks[index]

    def _parameter(self) -> str | None:
        from rackhost.chain.chain import Slot
        from rackhost.live.commands import SetParameter

        index = self.rng.randrange(len(self.session.tracks))
        chain = self.session.tracks[index].chain
        slots = [k for k, slot in enumerate(chain) if isinstance(slot, Slot)]
        if not slots:
            return self._add_slot()
        k = self.rng.choice(slots)
        plugin = chain[k].plugin
        floats = {n: i for n, i in plugin.controls().items()
                  if i.type == "float" and i.minimum is not None and i.maximum is not None
                  and math.isfinite(i.minimum) and math.isfinite(i.maximum)}
        if not floats:
            return self._fader()
        name = self.rng.choice(sorted(floats))
        info = floats[name]
        if info.steps and len(info.steps) <= 64:
            value = self.rng.choice(info.steps)
        else:
            value = self.rng.uniform(info.minimum, info.maximum)
        self.session.edit.set_parameter(chain[k], name, value)
        self.engine.send(SetParameter(index, k, name, plugin.get(name)))
        return None

    def _fader(self) -> str | None:
        from rackhost.live.commands import SetGain

        index = self.rng.randrange(len(self.session.tracks))
        gain = round(self.rng.uniform(-24.0, 3.0), 1)
        self.session.edit.set_gain(self.session.tracks[index], gain)
        self.engine.send(SetGain(index, gain))
        return None

    def _pan(self) -> str | None:
        from rackhost.live.commands import SetPan

        index = self.rng.randrange(len(self.session.tracks))
        pan = round(self.rng.uniform(-1.0, 1.0), 2)
        self.session.edit.set_pan(self.session.tracks[index], pan)
        self.engine.send(SetPan(index, pan))
        return None

    def _add_slot(self) -> str | None:
        from rackhost.chain import Plugin
        from rackhost.live.commands import AddSlot

        plain = [i for i, t in enumerate(self.session.tracks[:FILE_TRACKS]) if len(t.chain) <= len(TRACK_CHAIN)]
        if len(plain) <= FILE_TRACKS - MAX_EXTRA_SLOTS:  # as many extra slots as allowed: take one away instead
            return self._remove_slot()
        index = self.rng.choice(plain)
        track = self.session.tracks[index]
        name = self.rng.choice(ADDABLE)
        at = self.rng.randint(0, len(track.chain))
        self.session.edit.add_slot(track.chain, Plugin.create(name), at)
        self.engine.send(AddSlot(index, name, at))
        return "add_slot"

    def _move_slot(self) -> str | None:
        from rackhost.live.commands import MoveSlot

        index, track = self._file_track()
        if len(track.chain) < 2:
            return self._add_slot()
        source, to = self.rng.sample(range(len(track.chain)), 2)
        self.session.edit.move_slot(track.chain, source, to)
        self.engine.send(MoveSlot(index, source, to))
        return "move_slot"

    def _remove_slot(self) -> str | None:
        """Take an extra slot away: the one whose removal leaves the track's first chain (by plug-in names)."""
        from rackhost.live.commands import RemoveSlot

        extra = [i for i, t in enumerate(self.session.tracks[:FILE_TRACKS]) if len(t.chain) > len(TRACK_CHAIN)]
        if not extra:
            return self._add_slot()
        index = self.rng.choice(extra)
        chain = self.session.tracks[index].chain
        names = [slot.plugin.name for slot in chain.slots]
        first = sorted(name for name, _ in TRACK_CHAIN)
        k = next((k for k in range(len(names)) if sorted(names[:k] + names[k + 1:]) == first),
                 self.rng.randrange(len(names)))
        self.session.edit.remove_slot(chain, k)
        self.engine.send(RemoveSlot(index, k))
        return "remove_slot"

    def _sync(self) -> None:
        from rackhost.live.commands import Sync
        from rackhost.presets import session_to_dict

        self.engine.send(Sync(session_to_dict(self.session)))

    def _preset(self) -> str | None:
        """Another track's chain as a preset, between tracks with the first chain's plug-ins (so no slot is added)."""
        from rackhost.presets.apply import apply_preset, preset_from

        plain = [t for t in self.session.tracks[:FILE_TRACKS] if len(t.chain) == len(TRACK_CHAIN)]
        if len(plain) < 2:
            return self._parameter()
        track, other = self.rng.sample(plain, 2)
        apply_preset(preset_from("soak", "mixing", other), self.session, track)
        self._sync()
        return None

    def _ab(self) -> str | None:
        """A/B on the first few tracks only, which have both settings from the start (build_session)."""
        track = self.session.tracks[self.rng.randrange(AB_TRACKS)]
        self.session.edit.switch_ab(track)
        self._sync()
        return None

    def _undo(self) -> str | None:
        if self.session.undo() is None:
            return self._fader()
        self._sync()
        return None

    def _redo(self) -> str | None:
        if self.session.redo() is None:
            return self._undo()
        self._sync()
        return None

    def _take(self) -> str:
        from rackhost.live.commands import Play, Record, Stop

        if self.recording:
            self.engine.send(Stop())
            self.engine.send(Play())
            self.recording = False
            return "take_stopped"
        self.engine.send(Record(str(self.takes_folder)))
        self.recording = True
        self.takes_started += 1
        return "take_started"


def check_takes(reports: list[Any]) -> list[str]:
    """What is wrong with each take (nothing, for a complete one): the engine's report against the files."""
    import soundfile as sf

    problems = []
    for take in reports:
        name = Path(take.dry_path).name
        if not take.complete:
            problems.append(f"{name}: {take.dropped} frames dropped, {take.dry_frames} of {take.dry_recorded} dry and "
                            f"{take.wet_frames} of {take.wet_recorded} wet frames written")
        for path, frames in ((take.dry_path, take.dry_frames), (take.wet_path, take.wet_frames)):
            on_disk = sf.info(path).frames
            if on_disk != frames:
                problems.append(f"{Path(path).name}: {on_disk} frames on disk, {frames} written")
        if take.dry_frames == 0:
            problems.append(f"{name}: empty")
    return problems


# -- the run ----------------------------------------------------------------------------------


def soak(args: argparse.Namespace, folder: Path, jack_log: JackLog, device: int, log: Path) -> dict[str, Any]:
    from rackhost.live.commands import Loop, Play, Stop
    from rackhost.live.process import EngineProcess, SessionLoader
    from rackhost.presets import session_to_dict
    from rackhost.presets.session_sync import resync, session_from_document

    rng = random.Random(args.seed)
    takes_folder = folder / "takes"
    takes_folder.mkdir()
    with stderr_to(log):
        session = build_session(folder)
        engine = EngineProcess(SessionLoader(session_to_dict(session), load=session_from_document, resync=resync),
                               device=device, block_size=BLOCK)
        engine.start()
    driver = Driver(session, engine, rng, takes_folder)
    if args.only is not None:
        driver.edits = {kind: EDITS[kind] for kind in args.only}
    gui = GuiLoad(GUI_BUSY, lambda: (engine.meters(), engine.stats()))
    events: list[str] = []
    stats: dict[str, float] = {}
    alive = False
    begin = end = time.monotonic()
    settled = None
    samples: list[float] = []
    after: dict[str, int] = {}  # edit kind -> the engine's xruns until the next edit
    xrun_samples: list[int] = []  # the engine's xruns so far, every 10 s, beside the memory samples
    seconds = args.minutes * 60.0
    settle = min(args.settle, seconds / 2)
    result: dict[str, Any] = {"seed": args.seed, "only": args.only,
                              "minutes": args.minutes, "tracks": len(session.tracks),
                              "settle_seconds": settle}
    try:
        with stderr_to(log):
            engine.send(Loop(0, int(SOURCE_SECONDS * SAMPLE_RATE)))
            engine.send(Play())
            time.sleep(1.0)
            result["rss_start_mb"] = round(rss_mb(engine.pid), 1)
            gui.start()
            begin = time.monotonic()
            driver.counts[driver._take()] += 1  # a take from the start: every run records at least one
            every = args.edit_every if args.edit_every > 0 else math.inf
            next_edit = begin + every
            last_kind, xruns_before = None, engine.stats()["xruns"]
            while (now := time.monotonic()) < begin + seconds:
                if now >= next_edit:
                    # The engine's xruns between one edit and the next, put down to the first: which edits cost
                    # the audio (the machine's own xruns fall on every kind alike).
                    xruns_now = engine.stats()["xruns"]
                    if last_kind is not None:
                        after[last_kind] = after.get(last_kind, 0) + int(xruns_now - xruns_before)
                    xruns_before = xruns_now
                    last_kind = driver.step()
                    next_edit += every
                events += engine.poll()
                if not engine.alive:
                    break
                if settled is None and now >= begin + settle:
                    stats = engine.stats()
                    settled = (now, rss_mb(engine.pid), stats["xruns"], jack_log.count())
                    result["rss_settled_mb"] = round(settled[1], 1)
                if len(samples) < (now - begin) // 10:
                    samples.append(round(rss_mb(engine.pid), 1))
                    xrun_samples.append(int(engine.stats()["xruns"]))  # when the xruns came: early, late, in bursts
                time.sleep(min(0.1, max(0.0, min(next_edit, begin + seconds) - time.monotonic())))
            gui.stop()
            alive = engine.alive
            if alive and driver.recording:
                engine.send(Stop())
                driver.recording = False
            end = time.monotonic()
            if alive:
                stats = engine.stats()
                result["rss_end_mb"] = round(rss_mb(engine.pid), 1)
                deadline = time.monotonic() + 15
                wanted = driver.takes_started * INPUT_TRACKS
                while len(engine.takes) < wanted and time.monotonic() < deadline and engine.alive:
                    events += engine.poll()
                    time.sleep(0.1)
                events += engine.poll()
    finally:
        gui.stop()
        with stderr_to(log):
            engine.stop()
    if settled is None:
        settled = (begin, result.get("rss_start_mb", math.nan), 0.0, jack_log.count())
        result["rss_settled_mb"] = result.get("rss_start_mb")
    span = end - settled[0]
    faults = [e for e in events if FAULT.search(e)] + ([] if alive else ["the engine process died"])
    problems = check_takes(engine.takes)
    result.update(
        seconds=round(end - begin, 1),
        edits=sum(driver.counts.values()), edit_counts=dict(driver.counts),
        rss_samples_mb=samples,
        xrun_samples=xrun_samples,
        rss_growth_mb=round(result["rss_end_mb"] - settled[1], 1) if alive else None,
        rss_growth_target_mb=RSS_GROWTH_TARGET_MB,
        xruns=int(stats["xruns"] - settled[2]) if alive else None,
        xruns_per_minute=per_minute(int(stats["xruns"] - settled[2]), span) if alive else None,
        jack_xruns_per_minute=per_minute(jack_log.count() - settled[3], span),
        callbacks=int(stats["callbacks"]) if alive else None,
        faults=len(faults), fault_events=faults[:20],
        takes=len(engine.takes), takes_expected=driver.takes_started * INPUT_TRACKS,
        takes_complete=len(engine.takes) == driver.takes_started * INPUT_TRACKS and not problems,
        take_problems=problems[:20],
        take_seconds=round(sum(t.dry_frames for t in engine.takes) / SAMPLE_RATE / INPUT_TRACKS, 1),
        xruns_per_edit={kind: round(n / driver.counts[kind], 2) for kind, n in sorted(after.items())
                        if driver.counts.get(kind)},
    )
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the engine plays (default 30)")
    parser.add_argument("--seed", type=int, default=None, help="the driver's random seed (default: a new one)")
    parser.add_argument("--settle", type=float, default=60.0,
                        help="seconds before memory growth is counted (default 60; at most half the run)")
    parser.add_argument("--edit-every", type=float, default=EDIT_EVERY,
                        help="seconds between edits (default 1; 0: no edits, to see what the edits cost)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated edit kinds to make (of {', '.join(EDITS)}; default all), to find "
                             f"which kind of edit costs memory")
    parser.add_argument("--reference-seconds", type=float, default=60.0,
                        help="how long jack_cpu runs first as the platform reference (default 60; 0: none)")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**31)
    if args.only is not None:
        kinds = [k.strip() for k in args.only.split(",") if k.strip()]
        unknown = [k for k in kinds if k not in EDITS]
        if unknown or not kinds:
            parser.error(f"--only {args.only!r}: give edit kinds from {', '.join(EDITS)}")
        args.only = kinds
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from jack_harness import JackServer, jackd_available

    if not jackd_available():
        print("needs jackd, jack_lsp and JACK-Client: 'make setup' installs them", file=sys.stderr)
        return 2
    print(f"soak: seed {args.seed} (--seed {args.seed} replays these edits), {args.minutes:g} min", flush=True)
    server = JackServer(rate=SAMPLE_RATE, period=BLOCK, inputs=2, outputs=2, portaudio=False)
    with tempfile.TemporaryDirectory(prefix="rackhost-soak-") as tmp:
        folder = Path(tmp)
        server.start()
        try:
            jack_log = JackLog(server.log_path)
            device = jack_device_index()
            reference = platform_reference(args.reference_seconds, jack_log) if args.reference_seconds > 0 else None
            result = soak(args, folder, jack_log, device, folder / "stderr.log")
        finally:
            server.stop()
        result["reference_xruns_per_minute"] = (per_minute(reference, args.reference_seconds)
                                                if reference is not None else None)
        result["cores"] = os.cpu_count()
    print(f"(1) soak: {result['tracks']} tracks, {result['seconds']:g} s, {result['edits']} edits "
          f"({', '.join(f'{n} {k}' for k, n in sorted(result['edit_counts'].items()))})")
    print(f"    engine memory: {result['rss_start_mb']} MB at start, {result['rss_settled_mb']} MB after "
          f"{result['settle_seconds']:g} s, {result.get('rss_end_mb', '?')} MB at the end: "
          f"grew {result['rss_growth_mb']} MB after settling (target < {RSS_GROWTH_TARGET_MB:g})")
    print(f"    xruns per minute: engine {result['xruns_per_minute']}, server {result['jack_xruns_per_minute']}, "
          f"platform reference {result['reference_xruns_per_minute']}")
    print("    xruns until the next edit, per edit of each kind: "
          + ", ".join(f"{kind} {n}" for kind, n in sorted(result["xruns_per_edit"].items(), key=lambda kv: -kv[1])))
    print(f"    faults: {result['faults']}" + (f" ({'; '.join(result['fault_events'][:3])})" if result['faults'] else ""))
    print(f"    takes: {result['takes']} of {result['takes_expected']}, "
          f"{'all complete' if result['takes_complete'] else 'NOT complete: ' + '; '.join(result['take_problems'][:3])}"
          f" ({result['take_seconds']:g} s recorded on each armed track)")
    print(json.dumps(result), flush=True)
    ok = result["faults"] == 0 and result["takes_complete"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
