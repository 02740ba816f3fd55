"""Batch benchmark: 40 files x 30 s stereo mastered to -14 LUFS (``mastering/streaming``) by ``rackhost batch``.

(a) ``pool_speedup``: one worker process / the pool with 2 workers (target >= 1.8 on 2 cores).
(b) ``ray_speedup``: one worker process / Ray with 2 local actors (target >= 1.6). Ray is started
    before the clock (a cluster is up before a batch joins it); its start is reported apart.
(c) ``per_file_overhead``: the one-process batch's time per file over the bare render of that file
    (the session built once, each file read and rendered to its target with ``render_to_file``)
    (target <= 1.05). ``per_file_overhead_cpu`` is the same ratio in CPU seconds (the worker's and the
    parent's, against the bare render's): on a machine shared with other jobs the wall clock moves with
    their load between the two runs, the CPU seconds much less. Both sides run twice, in the order bare,
    batch, batch, bare, and the ratios are of the sums: a machine that slows or speeds up steadily over the
    four runs weighs on both sides alike.

The files are generated once into a temporary folder (noise shaped like music: a pink-ish spectrum,
a beat, levels that differ by file). Each configuration writes to its own output folder, so none
resumes another. The last line printed is a JSON object with every number, for scripts.

    python bench/batch.py [--files N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from rackhost.chain.batch import RenderOptions, find_jobs, run
from rackhost.cli.batch import SessionRecipe

SAMPLE_RATE = 48000
PRESET = "mastering/streaming"
POOL_TARGET, RAY_TARGET, OVERHEAD_TARGET = 1.8, 1.6, 1.05


def music_like(seconds: float, seed: int) -> np.ndarray:
    """(frames, 2) float32: noise with a falling spectrum, a 120 bpm pulse, and a level of its own."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * SAMPLE_RATE)
    white = rng.standard_normal((2, frames))
    spectrum = np.fft.rfft(white, axis=1)
    freqs = np.fft.rfftfreq(frames, 1 / SAMPLE_RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    audio = np.fft.irfft(spectrum, n=frames, axis=1)
    beat = 0.6 + 0.4 * np.exp(-((np.arange(frames) % (SAMPLE_RATE // 2)) / (0.08 * SAMPLE_RATE)))
    audio *= beat / np.max(np.abs(audio)) * 10 ** (rng.uniform(-18, -3) / 20)
    return audio.T.astype(np.float32)


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended (a pool's workers, once joined)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def timed(inputs: Path, out: Path, workers: int, ray: str | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and the pool's workers) of the batch."""
    recipe = SessionRecipe(presets=(PRESET,))
    options = RenderOptions()
    jobs = find_jobs([inputs], out)
    began, cpu = time.perf_counter(), cpu_seconds()
    summary = run(jobs, recipe, options, out=out, workers=workers, recipe=recipe.fingerprint({}), ray=ray)
    seconds, cpu = time.perf_counter() - began, cpu_seconds() - cpu
    if summary.failed:
        raise SystemExit(f"{summary.failed} files failed: {[r.reason for r in summary.finished if r.reason][:1]}")
    return seconds, cpu


def bare(inputs: Path, out: Path) -> tuple[float, float]:
    """Each file rendered to its target in this process, the session built once: no batch around it."""
    from rackhost.chain.render import render_to_file
    from rackhost.chain.source import AudioFileSource

    session = SessionRecipe(presets=(PRESET,))()
    out.mkdir(parents=True, exist_ok=True)
    began, cpu = time.perf_counter(), cpu_seconds()
    for path in sorted(inputs.glob("*.wav")):
        session.tracks[0].source = AudioFileSource(path)  # type: ignore[attr-defined]
        session.sample_rate = SAMPLE_RATE  # type: ignore[attr-defined]
        render_to_file(session, out / path.name, threads=1)  # type: ignore[arg-type]
    return time.perf_counter() - began, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway local cluster needs no token
    with tempfile.TemporaryDirectory(prefix="rackhost-bench-batch-") as tmp:
        root = Path(tmp)
        inputs = root / "in"
        inputs.mkdir()
        for i in range(args.files):
            sf.write(inputs / f"{i:02}.wav", music_like(args.seconds, i), SAMPLE_RATE, subtype="PCM_24")
        load = os.getloadavg()[0]
        # bare, batch, batch, bare (each to its own folder, so none resumes another): a steady drift of the
        # machine's speed over the four runs falls on both sides alike
        bare_first, bare_cpu_first = bare(inputs, root / "bare")
        one_first, one_cpu_first = timed(inputs, root / "one", 1)
        one_second, one_cpu_second = timed(inputs, root / "one-again", 1)
        bare_second, bare_cpu_second = bare(inputs, root / "bare-again")
        bare_seconds, bare_cpu = (bare_first + bare_second) / 2, (bare_cpu_first + bare_cpu_second) / 2
        one, one_cpu = (one_first + one_second) / 2, (one_cpu_first + one_cpu_second) / 2
        two, _ = timed(inputs, root / "two", 2)
        print(f"bare render   {bare_seconds:7.2f} s  ({args.files} files x {args.seconds:g} s; {bare_cpu:.2f} s CPU; "
              f"runs 1 and 4: {bare_first:.2f}, {bare_second:.2f} s)")
        print(f"1 process     {one:7.2f} s  ({one_cpu:.2f} s CPU; runs 2 and 3: {one_first:.2f}, {one_second:.2f} s)")
        print(f"pool of 2     {two:7.2f} s")
        ray_seconds = ray_start = None
        try:
            from rackhost.chain.batch.cluster import connected

            began = time.perf_counter()
            with connected("local", 2):
                ray_start = time.perf_counter() - began
                ray_seconds, _ = timed(inputs, root / "ray", 2, ray="local")
            print(f"Ray, 2 actors {ray_seconds:7.2f} s  (Ray's own start {ray_start:.1f} s, not counted)")
        except Exception as err:  # noqa: BLE001 - the other figures stand without Ray
            print(f"Ray skipped: {err}")
    figures = {
        "files": args.files, "seconds_per_file": args.seconds, "cpus": os.cpu_count(),
        "load_average_at_start": round(load, 2),
        "bare_seconds": round(bare_seconds, 3), "one_process_seconds": round(one, 3), "pool_seconds": round(two, 3),
        "bare_runs_seconds": [round(bare_first, 3), round(bare_second, 3)],
        "one_process_runs_seconds": [round(one_first, 3), round(one_second, 3)],
        "ray_seconds": None if ray_seconds is None else round(ray_seconds, 3),
        "ray_start_seconds": None if ray_start is None else round(ray_start, 3),
        "pool_speedup": round(one / two, 3),
        "ray_speedup": None if ray_seconds is None else round(one / ray_seconds, 3),
        "per_file_overhead": round(one / bare_seconds, 3),
        "bare_cpu_seconds": round(bare_cpu, 3), "one_process_cpu_seconds": round(one_cpu, 3),
        "per_file_overhead_cpu": round(one_cpu / bare_cpu, 3),
        "targets": {"pool_speedup": POOL_TARGET, "ray_speedup": RAY_TARGET, "per_file_overhead": OVERHEAD_TARGET},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
