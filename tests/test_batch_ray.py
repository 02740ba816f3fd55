"""``rackhost batch --ray``: the same batch on a real local Ray cluster (no mock of Ray).

One Ray runs for the whole module (it takes seconds to start); the batches
join it by its address, as they would join a cluster's head. One test starts
a Ray of its own, as ``--ray`` without an address does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray  # the test extra installs it (make setup), as CI does
from conftest import program_signal
from test_batch import (
    HANG,
    SEGV,
    crash_folder,  # noqa: F401 - the fixture: a module-scoped build of CrashComp.vst3
    leftovers,
    manifest,
    marked,
    rackhost,
    write,
)



@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray head with 2 CPUs, for every test of the module; its address is what --ray is given."""
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # no token file in the home folder for a test cluster
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


def test_on_ray_a_crashing_or_hanging_file_fails_the_rest_render_as_the_pool_does_and_a_rerun_resumes(
        tmp_path: Path, ray_address: str, crash_folder: Path):  # noqa: F811 - pytest hands in the fixture
    inputs = tmp_path / "in"
    for name, mark in [("a.wav", None), ("segv.wav", SEGV), ("hang.wav", HANG), ("b.wav", None)]:
        write(inputs / name, marked(len(name), mark))
    out = tmp_path / "out"
    argv = ["batch", inputs, "-o", out, "--chain", "CrashComp(threshold_db=-20)", "--timeout", 5, "--jobs", 2]
    env = {"RACKHOST_VST3_PATH": str(crash_folder)}  # the actors must find CrashComp as the command does
    result = rackhost(*argv, "--ray", ray_address, env=env)
    assert result.returncode == 1, result.stderr
    records = manifest(out)
    assert "Ray worker died" in records["segv.wav"]["reason"]
    assert records["hang.wav"]["reason"].startswith("timeout")
    assert sorted(p.name for p in out.glob("*.wav")) == ["a.wav", "b.wav"]
    assert not leftovers(out)
    # The files Ray rendered are the pool's, sample for sample.
    pool_out = tmp_path / "pool"
    pool = rackhost("batch", inputs / "a.wav", inputs / "b.wav", "-o", pool_out, *argv[4:], env=env)
    assert pool.returncode == 0, pool.stderr
    for name in ("a.wav", "b.wav"):
        assert (out / name).read_bytes() == (pool_out / name).read_bytes()

    # Fixed, the two are rendered on a rerun; the two done are skipped (the pool's manifest is Ray's).
    write(inputs / "segv.wav", marked(8, None))
    write(inputs / "hang.wav", marked(8, None))
    rerun = rackhost(*argv, "--ray", ray_address, "--json", env=env)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (4, 2, 0)
    assert {doc["status"] for doc in manifest(out).values()} == {"done"}


def test_ray_without_an_address_starts_its_own_and_masters_an_album_as_the_pool_does(tmp_path: Path):
    songs = tmp_path / "songs"
    write(songs / "loud.wav", program_signal(2, 2.0, seed=1))
    write(songs / "quiet.wav", 0.3 * program_signal(2, 2.0, seed=2))
    argv = ["batch", songs, "--chain", "ZamCompX2(threshold_db=-20)", "--loudness-target", -14, "--album", "--json"]
    on_ray = rackhost(*argv, "-o", tmp_path / "ray", "--ray", "--jobs", 2, env={"RAY_AUTH_MODE": "disabled"})
    assert on_ray.returncode == 0, on_ray.stderr
    lufs = {Path(r["input"]).name: r["after"]["integrated_lufs"] for r in json.loads(on_ray.stdout)["records"]}
    assert abs(lufs["loud.wav"] - -14.0) <= 0.5
    assert lufs["loud.wav"] - lufs["quiet.wav"] > 5  # one gain for both: the quiet song stays quieter
    pool = rackhost(*argv, "-o", tmp_path / "pool", "--jobs", 2)
    assert pool.returncode == 0, pool.stderr
    for name in ("loud.wav", "quiet.wav"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()


def test_an_input_taken_for_the_ray_address_is_refused_saying_where_to_put_ray(tmp_path: Path):
    write(tmp_path / "album" / "a.wav", program_signal(2, 0.2))
    result = rackhost("batch", "--ray", tmp_path / "album", "-o", tmp_path / "out", "--chain", "Gain",
                      tmp_path / "album" / "a.wav")
    assert result.returncode == 2
    assert "as a cluster's address" in result.stderr and "after the inputs" in result.stderr
    assert not (tmp_path / "out").exists()
