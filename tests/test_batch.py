"""``rackhost batch``: real files through real plug-ins on a real process pool.

The crashing plug-in is real too: ``CrashComp.vst3`` is Debian's ZamCompX2
with its VST3 ``process()`` wrapped by a shim built here with gcc, which
crashes (SIGSEGV, SIGABRT) or hangs when it meets a marked sample, and
otherwise runs ZamCompX2. It passes the probe (which feeds it silence), so it
is loaded like any plug-in and fails only on the file that carries the mark.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pedalboard
import pytest
import soundfile as sf
from conftest import SR, VST3_DIR, program_signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rackhost.chain.batch import MANIFEST_NAME, BatchError, find_jobs

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the crashing bundle is built for Linux")

ARCH_FOLDER = f"{platform.machine()}-linux"
SEGV, ABRT, HANG = 0.75, 0.625, 0.375  # the samples CrashComp reacts to

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int32_t tresult;
typedef tresult (*query_fn)(void*, const uint8_t*, void**);
typedef tresult (*create_fn)(void*, const uint8_t*, const uint8_t*, void**);
typedef tresult (*process_fn)(void*, void*);
struct bus { int32_t channels; uint64_t silence; float** buffers; };
struct process_data { int32_t mode, sample_size, samples, n_in, n_out; struct bus* in; struct bus* out; };

static const uint8_t PROCESSOR_IID[16] = {0x42,0x04,0x3F,0x99,0xB7,0xDA,0x45,0x3C,0xA5,0x69,0xE7,0x9D,0x9A,0xAE,0xC3,0x3D};
static const uint8_t COMPONENT_IID[16] = {0xE8,0x31,0xFF,0x31,0xF2,0xD5,0x43,0x01,0x92,0x8E,0xBB,0xEE,0x25,0x69,0x78,0x02};
static void* real;
static query_fn real_query;
static create_fn real_create;
static process_fn real_process;

static void open_real(void) { if (!real) real = dlopen(REAL_SO, RTLD_NOW | RTLD_LOCAL); }

static tresult process(void* self, void* raw) {
    struct process_data* data = raw;
    if (data && data->n_in > 0 && data->in && data->in[0].channels > 0 && data->in[0].buffers) {
        const float* x = data->in[0].buffers[0];
        for (int32_t i = 0; x && i < data->samples; ++i) {
            if (x[i] == 0.75f) { volatile int* nowhere = NULL; *nowhere = 1; }
            if (x[i] == 0.625f) abort();
            if (x[i] == 0.375f) for (;;) pause();
        }
    }
    return real_process(self, raw);
}

static void patch_processor(void* iface) {
    void** table = *(void***)iface;
    if (table[9] != (void*)process) { real_process = (process_fn)table[9]; table[9] = (void*)process; }
}

static tresult query(void* self, const uint8_t* iid, void** iface) {
    tresult r = real_query(self, iid, iface);
    if (r == 0 && *iface && memcmp(iid, PROCESSOR_IID, 16) == 0) patch_processor(*iface);
    return r;
}

static tresult create(void* self, const uint8_t* cid, const uint8_t* iid, void** obj) {
    tresult r = real_create(self, cid, iid, obj);
    if (r == 0 && *obj && memcmp(iid, COMPONENT_IID, 16) == 0) {
        void** table = *(void***)*obj;
        if (table[0] != (void*)query) { real_query = (query_fn)table[0]; table[0] = (void*)query; }
    }
    return r;
}

int ModuleEntry(void* handle) {
    open_real();
    int (*entry)(void*) = real ? (int (*)(void*))dlsym(real, "ModuleEntry") : NULL;
    return entry ? entry(handle) : 0;
}

int ModuleExit(void) {
    int (*leave)(void) = real ? (int (*)(void))dlsym(real, "ModuleExit") : NULL;
    return leave ? leave() : 1;
}

void* GetPluginFactory(void) {
    open_real();
    void* (*get)(void) = real ? (void* (*)(void))dlsym(real, "GetPluginFactory") : NULL;
    void* factory = get ? get() : NULL;
    if (factory) {
        void** table = *(void***)factory;
        if (table[6] != (void*)create) { real_create = (create_fn)table[6]; table[6] = (void*)create; }
    }
    return factory;
}
"""


@pytest.fixture(scope="module")
def crash_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plug-in folder holding CrashComp.vst3 (ZamCompX2 that crashes or hangs on a marked sample)."""
    assert shutil.which("gcc"), "make setup installs gcc (build-essential), which builds the crashing bundle"
    folder = tmp_path_factory.mktemp("vst3")
    so = folder / "CrashComp.vst3" / "Contents" / ARCH_FOLDER / "CrashComp.so"
    so.parent.mkdir(parents=True)
    source = folder / "shim.c"
    source.write_text(SHIM)
    real = VST3_DIR / "ZamCompX2.vst3" / "Contents" / ARCH_FOLDER / "ZamCompX2.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", f'-DREAL_SO="{real}"', "-o", str(so), str(source), "-ldl"],
                   check=True)
    source.unlink()
    return folder


def rackhost(*argv: object, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *map(str, argv)], check=False, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)


def render(*argv: object) -> int:
    """``rackhost render`` in this process (the same code as the command, without a process start)."""
    from rackhost.cli import main

    return main([str(a) for a in argv])


def write(path: Path, audio: np.ndarray, subtype: str = "FLOAT") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(audio, np.float32).T, SR, subtype=subtype)
    return path


def manifest(outdir: Path) -> dict[str, dict]:
    lines = (outdir / MANIFEST_NAME).read_text().splitlines()
    return {Path(doc["input"]).name: doc for doc in map(json.loads, lines)}


def leftovers(outdir: Path) -> list[Path]:
    return [p for p in outdir.rglob("*") if p.name.endswith(".part")]


def read(path: Path) -> np.ndarray:
    return sf.read(path, dtype="float32", always_2d=True)[0]


# -- the same samples as 'rackhost render' -------------------------------------------------------

CHAIN = "HighpassFilter(cutoff_frequency_hz=80); ZamCompX2(threshold_db=-24, ratio=4); Gain(gain_db=2)"


def test_a_folder_renders_on_two_workers_to_the_same_samples_as_rackhost_render(tmp_path: Path):
    album = tmp_path / "album"
    write(album / "01 intro.wav", program_signal(2, 1.0, seed=1), "PCM_24")
    write(album / "disc 2" / "02.flac", program_signal(1, 0.7, seed=2), "PCM_24")  # mono: widened by ZamCompX2
    write(album / "disc 2" / "03.wav", program_signal(2, 0.5, seed=3), "PCM_16")
    out = tmp_path / "out"
    result = rackhost("batch", album, "-o", out, "--chain", CHAIN, "--jobs", 2, "--name", "{stem}-master.{ext}")
    assert result.returncode == 0, result.stderr
    outputs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert outputs == ["01 intro-master.wav", "disc 2/02-master.flac", "disc 2/03-master.wav", MANIFEST_NAME]
    for rel, made in [("01 intro.wav", "01 intro-master.wav"), ("disc 2/02.flac", "disc 2/02-master.flac"),
                      ("disc 2/03.wav", "disc 2/03-master.wav")]:
        single = tmp_path / "single" / made
        single.parent.mkdir(parents=True, exist_ok=True)
        assert render("render", album / rel, "-o", single, "--chain", CHAIN) == 0
        assert single.read_bytes() == (out / made).read_bytes(), f"{made} differs from 'rackhost render'"
    records = manifest(out)
    assert {r["status"] for r in records.values()} == {"done"}
    assert all(r["after"]["integrated_lufs"] < 0 and r["before"]["true_peak_dbtp"] < 0 for r in records.values())
    assert "01 intro.wav" in result.stdout and "3 done" in result.stdout


def test_a_builtin_chain_gives_what_pedalboard_gives_for_the_whole_file(tmp_path: Path):
    audio = program_signal(2, 1.0, seed=4)
    source = write(tmp_path / "in" / "tone.wav", audio)
    out = tmp_path / "out"
    result = rackhost("batch", source, "-o", out, "--chain", "Gain(gain_db=-6); LowpassFilter(cutoff_frequency_hz=3000)",
                      "--bit-depth", 32, "--no-tail", "--jobs", 1)
    assert result.returncode == 0, result.stderr
    expected = pedalboard.Pedalboard([pedalboard.Gain(gain_db=-6), pedalboard.LowpassFilter(cutoff_frequency_hz=3000)])(
        audio, SR)
    np.testing.assert_allclose(read(out / "tone.wav").T, expected, atol=1e-6)


def test_a_mastering_preset_and_a_loudness_target_land_every_file_on_it(tmp_path: Path):
    songs = tmp_path / "songs"
    write(songs / "quiet.wav", 0.2 * program_signal(2, 1.5, seed=5))
    write(songs / "loud.wav", program_signal(2, 1.5, seed=6))
    out = tmp_path / "out"
    result = rackhost("batch", songs, "-o", out, "--preset", "mastering/streaming", "--jobs", 2, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["done"] == 2 and summary["failed"] == 0
    for record in summary["records"]:
        assert abs(record["after"]["integrated_lufs"] - -14.0) <= 0.5 and record["after"]["true_peak_dbtp"] <= -1.0
    single = tmp_path / "quiet.wav"
    assert render("render", songs / "quiet.wav", "-o", single, "--preset", "mastering/streaming") == 0
    assert single.read_bytes() == (out / "quiet.wav").read_bytes()

    # --loudness-target with a chain that has no limiter: one is added at the end of the master.
    out16 = tmp_path / "out16"
    result = rackhost("batch", songs, "-o", out16, "--chain", "ZamCompX2(threshold_db=-20)", "--loudness-target", -16,
                      "--true-peak", -2, "--json")
    assert result.returncode == 0, result.stderr
    for record in json.loads(result.stdout)["records"]:
        assert abs(record["after"]["integrated_lufs"] - -16.0) <= 0.5 and record["after"]["true_peak_dbtp"] <= -2.0


def test_a_file_that_misses_its_loudness_target_is_written_named_and_the_batch_exits_1(tmp_path: Path):
    songs = tmp_path / "songs"
    write(songs / "song.wav", program_signal(2, 3.0, seed=5))
    hits = np.zeros((2, 3 * SR), np.float32)  # short hits between silences: a limiter holds them at its ceiling
    for start in range(0, hits.shape[1] - 200, SR // 2):
        hits[:, start : start + 200] = 0.5
    write(songs / "hits.wav", hits)
    out = tmp_path / "out"
    result = rackhost("batch", songs, "-o", out, "--chain", "Gain(gain_db=0)", "--loudness-target", -14, "--jobs", 2)
    assert result.returncode == 1, result.stderr
    warning = result.stderr.strip().splitlines()[-1]
    assert warning.startswith("rackhost: warning: 1 file missed the loudness target") and "hits.wav" in warning
    assert "song.wav" not in warning
    records = manifest(out)
    assert records["hits.wav"]["status"] == "done" and "stops rising" in records["hits.wav"]["target_missed"]
    assert records["song.wav"]["target_missed"] is None
    assert read(out / "hits.wav").shape[0] == hits.shape[1]  # written as it came out
    assert "2 done" in result.stdout and "0 failed" in result.stdout

    # A second run skips both, and still says which one missed.
    again = rackhost("batch", songs, "-o", out, "--chain", "Gain(gain_db=0)", "--loudness-target", -14, "--json")
    assert again.returncode == 1 and json.loads(again.stdout)["missed_target"] == 1
    assert "hits.wav" in again.stderr


# -- faults ----------------------------------------------------------------------------------------


def marked(seed: int, mark: float | None) -> np.ndarray:
    audio = program_signal(2, 0.5, seed=seed)
    if mark is not None:
        audio[0, 5000] = mark
    return audio


def test_a_plugin_that_crashes_or_hangs_on_one_file_fails_that_file_and_the_rest_render(tmp_path: Path,
                                                                                         crash_folder: Path):
    inputs = tmp_path / "in"
    for name, mark in [("a.wav", None), ("segv.wav", SEGV), ("b.wav", None), ("abort.wav", ABRT),
                       ("hang.wav", HANG), ("c.wav", None)]:
        write(inputs / name, marked(len(name), mark))
    out = tmp_path / "out"
    started = time.monotonic()
    result = rackhost("batch", inputs, "-o", out, "--chain", "CrashComp(threshold_db=-20)", "--jobs", 2,
                      "--timeout", 5, env={"RACKHOST_VST3_PATH": str(crash_folder)})
    assert time.monotonic() - started < 150  # the hang was cut short, not waited out
    assert result.returncode == 1, result.stderr
    records = manifest(out)
    assert "crashed with SIGSEGV" in records["segv.wav"]["reason"]
    assert "crashed with SIGABRT" in records["abort.wav"]["reason"]
    assert records["hang.wav"]["reason"].startswith("timeout")
    for name in ("a.wav", "b.wav", "c.wav"):
        assert records[name]["status"] == "done", records[name]
        assert read(out / name).shape[0] == int(0.5 * SR)
    assert sorted(p.name for p in out.glob("*.wav")) == ["a.wav", "b.wav", "c.wav"]
    assert not leftovers(out)
    assert "3 done" in result.stdout and "3 failed" in result.stdout and "SIGSEGV" in result.stdout


def test_bad_inputs_are_failures_with_a_reason_and_the_good_ones_render(tmp_path: Path):
    inputs = tmp_path / "in"
    write(inputs / "good.wav", program_signal(2, 0.5))
    (inputs / "notes.wav").write_text("these are not samples")
    write(inputs / "surround.wav", np.zeros((6, 4800)))
    write(inputs / "empty.wav", np.zeros((2, 0)))
    out = tmp_path / "out"
    result = rackhost("batch", inputs, "-o", out, "--chain", "Gain(gain_db=-3)", "--jobs", 2)
    assert result.returncode == 1, result.stderr
    records = manifest(out)
    assert records["good.wav"]["status"] == "done"
    assert "cannot read" in records["notes.wav"]["reason"] and "as audio" in records["notes.wav"]["reason"]
    assert "6 channels" in records["surround.wav"]["reason"]
    assert "no audio" in records["empty.wav"]["reason"]
    assert sorted(p.name for p in out.glob("*.wav")) == ["good.wav"]


# -- resuming ----------------------------------------------------------------------------------------


def test_a_batch_killed_mid_way_leaves_no_half_file_and_the_rerun_finishes_the_rest(tmp_path: Path):
    inputs = tmp_path / "in"
    for i in range(12):
        write(inputs / f"{i:02}.wav", program_signal(2, 4.0, seed=i))
    out = tmp_path / "out"
    argv = ["batch", inputs, "-o", out, "--chain", "ZamCompX2(threshold_db=-20)", "--loudness-target", -14,
            "--jobs", 2]
    batch = subprocess.Popen([sys.executable, "-m", "rackhost.cli", *map(str, argv)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    log = out / MANIFEST_NAME
    deadline = time.monotonic() + 120
    while not (log.exists() and log.read_text().count("\n") >= 2) and batch.poll() is None:
        assert time.monotonic() < deadline, "the batch never finished a file"
        time.sleep(0.01)
    batch.send_signal(signal.SIGKILL)
    batch.wait()
    time.sleep(1.0)  # its workers die with it (PR_SET_PDEATHSIG)
    finished = {doc["input"] for doc in map(json.loads, log.read_text().splitlines())}
    assert len(finished) < 12, "the batch finished before it was killed; the test proves nothing"
    for path in out.glob("*.wav"):  # whatever is under a final name is whole
        assert read(path).shape[0] >= 4 * SR

    rerun = rackhost(*argv)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({len(finished)} already done)" in rerun.stdout
    assert sorted(p.name for p in out.glob("*.wav")) == [f"{i:02}.wav" for i in range(12)]
    assert not leftovers(out)
    assert {doc["status"] for doc in manifest(out).values()} == {"done"}
    # A third run has nothing left to do; a changed chain does everything again.
    again = rackhost(*argv[:-2], "--jobs", 1, "--json")
    assert json.loads(again.stdout)["skipped"] == 12


def test_a_rerun_retries_failed_files_once_they_are_fixed(tmp_path: Path):
    inputs = tmp_path / "in"
    write(inputs / "ok.wav", program_signal(2, 0.5))
    (inputs / "later.wav").write_text("not yet")
    out = tmp_path / "out"
    assert rackhost("batch", inputs, "-o", out, "--chain", "Gain(gain_db=-1)").returncode == 1
    write(inputs / "later.wav", program_signal(2, 0.5, seed=9))
    again = rackhost("batch", inputs, "-o", out, "--chain", "Gain(gain_db=-1)", "--json")
    summary = json.loads(again.stdout)
    assert again.returncode == 0 and summary["done"] == 2 and summary["skipped"] == 1
    changed = json.loads(rackhost("batch", inputs, "-o", out, "--chain", "Gain(gain_db=-2)", "--json").stdout)
    assert changed["skipped"] == 0 and changed["done"] == 2


# -- where outputs go ---------------------------------------------------------------------------------


def test_an_output_folder_inside_the_input_folder_is_refused(tmp_path: Path):
    write(tmp_path / "in" / "a.wav", program_signal(2, 0.2))
    result = rackhost("batch", tmp_path / "in", "-o", tmp_path / "in" / "out", "--chain", "Gain")
    assert result.returncode == 2 and "inside the input folder" in result.stderr
    assert not (tmp_path / "in" / "out").exists()
    same = rackhost("batch", tmp_path / "in" / "a.wav", "-o", tmp_path / "in", "--chain", "Gain")
    assert same.returncode == 2 and "would replace what is read" in same.stderr


_names = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\."), min_size=1,
                 max_size=12).filter(lambda s: s.strip() == s and s)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=st.lists(st.tuples(st.lists(_names, max_size=3), _names, st.sampled_from([".wav", ".flac", ".ogg"])),
                       min_size=1, max_size=8, unique_by=lambda t: (tuple(t[0]), t[1].lower())))
def test_every_file_of_any_folder_layout_gets_its_own_output_in_the_same_place(tmp_path_factory, layout):
    root = tmp_path_factory.mktemp("layout")
    inputs, out = root / "in", root / "out"
    made = set()
    for folders, stem, ext in layout:
        path = inputs.joinpath(*folders, stem + ext)
        if os.path.realpath(path).lower() in made:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        made.add(os.path.realpath(path).lower())
    (inputs / "readme.txt").write_text("not audio, not taken")
    try:
        jobs = find_jobs([inputs], out, "{stem}-m.{ext}")
    except BatchError as err:  # two inputs that differ only by extension
        assert "would both be written" in str(err)
        return
    assert len(jobs) == len(made)
    assert len({j.output for j in jobs}) == len(jobs)
    for job in jobs:
        rel = job.input.relative_to(inputs)
        assert job.output.parent == out / rel.parent
        assert job.output.name.startswith(job.input.stem + "-m.")
        assert job.output.suffix in (".wav", ".flac")  # ogg cannot be written: wav


def test_on_a_terminal_a_progress_line_counts_files_and_without_one_stderr_stays_quiet(tmp_path: Path):
    import pty

    inputs = tmp_path / "in"
    for i in range(3):
        write(inputs / f"{i}.wav", program_signal(2, 0.3, seed=i))
    leader, follower = pty.openpty()
    batch = subprocess.Popen([sys.executable, "-m", "rackhost.cli", "batch", str(inputs), "-o", str(tmp_path / "out"),
                              "--chain", "Gain(gain_db=-1)", "--jobs", "2"], stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the batch closed its end
            break
        if not chunk:
            break
        shown += chunk
    out, _ = batch.communicate(timeout=120)
    os.close(leader)
    assert batch.returncode == 0
    line = [part for part in shown.decode().split("\r") if part.strip()][-1]  # the last redraw
    assert "3/3 files, 0 failed" in line and "x real time" in line and "ETA" in line
    assert "3 done" in out.decode()
    quiet = rackhost("batch", inputs, "-o", tmp_path / "out2", "--chain", "Gain(gain_db=-1)")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_an_album_gets_one_gain_so_the_loudest_lands_on_the_target_and_the_rest_keep_their_level(tmp_path: Path):
    songs = tmp_path / "songs"
    write(songs / "loud.wav", program_signal(2, 2.0, seed=1))
    write(songs / "quiet.wav", 0.3 * program_signal(2, 2.0, seed=2))  # 10.5 dB down
    argv = ["batch", songs, "--chain", "Gain(gain_db=0)", "--loudness-target", -14, "--jobs", 2, "--json"]
    album = json.loads(rackhost(*argv, "-o", tmp_path / "album", "--album").stdout)
    each = json.loads(rackhost(*argv, "-o", tmp_path / "each").stdout)
    lufs = {Path(r["input"]).name: r["after"]["integrated_lufs"] for r in album["records"]}
    assert abs(lufs["loud.wav"] - -14.0) <= 0.5
    assert abs((lufs["loud.wav"] - lufs["quiet.wav"]) - 20 * np.log10(1 / 0.3)) <= 0.5  # the gap is kept
    assert all(r["after"]["true_peak_dbtp"] <= -1.0 for r in album["records"])
    # The loudest file of the album is rendered exactly as its own loudness target renders it.
    assert (tmp_path / "album" / "loud.wav").read_bytes() == (tmp_path / "each" / "loud.wav").read_bytes()
    assert all(abs(r["after"]["integrated_lufs"] - -14.0) <= 0.5 for r in each["records"])


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_job_list_names_each_files_output_and_its_own_loudness_target(tmp_path: Path, kind: str):
    write(tmp_path / "src" / "speech.wav", 0.5 * program_signal(2, 2.0, seed=3))
    write(tmp_path / "src" / "music.wav", program_signal(2, 2.0, seed=4))
    rows = [{"input": "src/speech.wav", "output": "podcast/ep1.flac", "loudness_target": "-19", "true_peak": "-2"},
            {"input": "src/music.wav", "output": "", "loudness_target": "", "true_peak": ""}]
    jobs = tmp_path / f"jobs.{kind}"
    if kind == "csv":
        jobs.write_text("input,output,loudness_target,true_peak\n"
                        + "".join(",".join(r.values()) + "\n" for r in rows))
    else:
        jobs.write_text("".join(json.dumps({k: v for k, v in r.items() if v}) + "\n" for r in rows))
    out = tmp_path / "out"
    # One worker renders both, in order: the second must not inherit the first one's target or limiter.
    result = rackhost("batch", jobs, "-o", out, "--chain", "Gain(gain_db=-3)", "--bit-depth", 16, "--jobs", 1,
                      "--json")
    assert result.returncode == 0, result.stderr
    records = {Path(r["input"]).name: r for r in json.loads(result.stdout)["records"]}
    assert records["speech.wav"]["output"] == str(out / "podcast" / "ep1.flac")
    assert abs(records["speech.wav"]["after"]["integrated_lufs"] - -19.0) <= 0.5
    assert records["speech.wav"]["after"]["true_peak_dbtp"] <= -2.0
    # The file without a target of its own is only the chain: 3 dB down, no limiter left over from the other.
    music = records["music.wav"]
    assert abs(music["after"]["integrated_lufs"] - (music["before"]["integrated_lufs"] - 3)) <= 0.05
    assert sf.info(out / "music.wav").subtype == "PCM_16"


def test_a_job_list_with_a_key_it_does_not_take_is_refused_naming_the_line(tmp_path: Path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"input": "a.wav"}\n{"input": "b.wav", "gain": 3}\n')
    result = rackhost("batch", jobs, "-o", tmp_path / "out", "--chain", "Gain")
    assert result.returncode == 2
    assert "line 2 has 'gain'" in result.stderr and "loudness_target" in result.stderr


def session_doc(source: str) -> dict:
    return {
        "format_version": 3, "sample_rate": SR, "block_size": 256,
        "tracks": [{"name": "vox", "source": source, "gain_db": -2.0, "pan": 0.3,
                    "chain": [{"plugin": {"format": "vst3", "name": "ZamCompX2"}, "parameters": {"threshold_db": -20}}]}],
        "master": {"gain_db": 0.0, "chain": [{"plugin": {"format": "builtin", "name": "HighShelfFilter"},
                                              "parameters": {"gain_db": 2.0}}]},
    }


def test_a_session_template_renders_each_input_as_its_track_as_rackhost_render_does(tmp_path: Path):
    takes = tmp_path / "takes"
    write(takes / "take1.wav", program_signal(1, 0.6, seed=1))
    write(takes / "take2.wav", program_signal(2, 0.6, seed=2))
    template = tmp_path / "template.json"
    template.write_text(json.dumps(session_doc("takes/take1.wav")))
    out = tmp_path / "out"
    result = rackhost("batch", takes, "-o", out, "--session", template, "--jobs", 1)
    assert result.returncode == 0, result.stderr
    for take in ("take1.wav", "take2.wav"):
        own = tmp_path / f"{take}.json"
        own.write_text(json.dumps(session_doc(f"takes/{take}")))
        single = tmp_path / "single" / take
        single.parent.mkdir(exist_ok=True)
        assert render("render", "--session", own, "-o", single) == 0
        assert single.read_bytes() == (out / take).read_bytes(), take
    assert sf.info(out / "take1.wav").channels == 2  # a session renders its stereo mix


def test_a_session_with_two_audio_tracks_is_refused_naming_them(tmp_path: Path):
    write(tmp_path / "a.wav", program_signal(2, 0.3))
    doc = session_doc("a.wav")
    doc["tracks"].append({**doc["tracks"][0], "name": "gtr"})
    (tmp_path / "two.json").write_text(json.dumps(doc))
    result = rackhost("batch", tmp_path / "a.wav", "-o", tmp_path / "out", "--session", tmp_path / "two.json")
    assert result.returncode == 2
    assert "one audio-file track" in result.stderr and "'vox', 'gtr'" in result.stderr


# -- the Python API (what the command and the window's batch dialog run) ----------------------------


def test_the_api_reports_each_file_and_a_cancel_leaves_a_manifest_the_same_call_resumes(tmp_path: Path):
    import threading

    from rackhost.chain.batch import batch
    from rackhost.presets.batch import SessionRecipe

    inputs = tmp_path / "in"
    for i in range(6):
        write(inputs / f"song{i}.wav", program_signal(2, 3.0, seed=i))
    out = tmp_path / "out"
    recipe = SessionRecipe(presets=("mastering/streaming",), loudness_target=-16.0)
    stop = threading.Event()
    heard: list[int] = []

    def progress(summary) -> None:
        heard.append(len(summary.finished))
        if summary.done >= 1:
            stop.set()  # as the window's Cancel does, from the progress of the first file that ends

    summary = batch([inputs], out, recipe, workers=1, progress=progress, cancel=stop)
    assert summary.cancelled and heard[0] == 0 and 1 in heard
    done = {Path(r.input).name for r in summary.finished if r.status == "done"}
    assert 1 <= len(done) < 6 and set(manifest(out)) == done
    assert not leftovers(out) and sorted(p.name for p in out.glob("*.wav")) == sorted(done)

    again = batch([inputs], out, recipe, workers=2)
    assert not again.cancelled and again.done == 6 and again.skipped == len(done) and again.failed == 0
    for record in again.finished:
        assert abs(record.after["integrated_lufs"] - -16.0) <= 0.5


def test_the_api_refuses_what_cannot_start_before_making_the_output_folder(tmp_path: Path):
    from rackhost.chain.batch import prepare

    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchError, match="no audio files"):
        prepare([tmp_path / "empty"], tmp_path / "out")
    (tmp_path / "a-file").write_text("")
    write(tmp_path / "song.wav", program_signal(2, 0.2))
    with pytest.raises(BatchError, match="is a file"):
        prepare([tmp_path / "song.wav"], tmp_path / "a-file")
    with pytest.raises(BatchError, match="FLAC cannot be written at 32 bits"):
        prepare([tmp_path / "song.wav"], tmp_path / "out", extension="flac", bit_depth=32)
    assert not (tmp_path / "out").exists()
    assert [j.output for j in prepare([tmp_path / "song.wav"], tmp_path / "out")] == [tmp_path / "out" / "song.wav"]
    assert (tmp_path / "out").is_dir()


WARMED_RENDER = """
import sys
import numpy as np, soundfile as sf
from pathlib import Path
from rackhost.chain.batch import Job, RenderOptions
from rackhost.chain.batch.pool import input_track, render_one, warm_up
from rackhost.presets.batch import SessionRecipe

folder = Path(sys.argv[1])
sf.write(folder / "in.wav", np.full((SR, 2), 0.1, np.float32), SR)
session = SessionRecipe(presets=("mastering/streaming",))()
track = input_track(session)
warm_up()
loaded = set(sys.modules)
record = render_one(session, Job(folder / "in.wav", folder / "out.wav"), RenderOptions(), track=track)
assert record.status == "done", record.reason
print(" ".join(sorted(set(sys.modules) - loaded)))
"""


def test_a_worker_loads_what_a_render_needs_before_its_first_file_so_its_seconds_are_its_own(tmp_path: Path):
    # Importing scipy's signal module alone takes a second or more: done inside the first file's render, it
    # was counted in that file's seconds in the closing table and the manifest.
    done = subprocess.run([sys.executable, "-c", WARMED_RENDER.replace("SR", str(SR)), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [], f"the first file's render imported {done.stdout.strip()}"
