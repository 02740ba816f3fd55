"""bench/live.py's spectrum figure (issue 18) and routed figure (issue 16): how they are worked out from the runs,
how they are asked for, and the routed session they play. The benchmark itself runs on a quiet machine
(``python bench/live.py --spectrum``, ``--routed``), never in the tests."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest

LIVE = Path(__file__).resolve().parents[1] / "bench" / "live.py"


@pytest.fixture(scope="module")
def live():
    spec = importlib.util.spec_from_file_location("bench_live", LIVE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_spectrum_cost_is_the_worse_open_side_over_closed_and_met_within_two_percent(live):
    rounds = {"closed": [0.100, 0.104, 0.102], "master": [0.103, 0.101, 0.1035], "track": [0.1045, 0.1041, 0.1042]}
    out = live.spectrum_summary(rounds)
    assert out["spectrum_master_ratio"] == pytest.approx(0.1030 / 0.102, abs=1e-4)
    assert out["spectrum_track_ratio"] == pytest.approx(0.1042 / 0.102, abs=1e-4)
    assert out["spectrum_cost_ratio"] == out["spectrum_track_ratio"] and out["spectrum_target_met"] is False
    assert out["spectrum_p50_us"]["closed"] == pytest.approx(0.102 * 128 / 48000 * 1e6, abs=0.01)
    cheap = live.spectrum_summary({"closed": [0.2], "master": [0.202], "track": [0.2039]})
    assert cheap["spectrum_cost_ratio"] == pytest.approx(1.0195) and cheap["spectrum_target_met"] is True
    failed = live.spectrum_summary({"closed": [], "master": [0.2], "track": [0.2]})  # a side that never ran
    assert failed["spectrum_cost_ratio"] is None and failed["spectrum_target_met"] is False


def test_spectrum_alone_defaults_to_16_tracks_and_phases_as_long_as_the_load_window(live):
    args = live.parse_args(["--spectrum"])
    assert args.spectrum and args.tracks == 16 and args.spectrum_rounds == 5
    assert args.spectrum_seconds >= live.WINDOW * live.PERIOD + 0.5  # each phase's p50 is its own
    assert live.parse_args(["--rates", "3"]).tracks == 64
    smoke = live.parse_args(["--spectrum", "--tracks", "2", "--spectrum-rounds", "1", "--spectrum-seconds", "1"])
    assert (smoke.tracks, smoke.spectrum_rounds, smoke.spectrum_seconds) == (2, 1, 1.0)


def test_routed_alone_runs_a_minute_unless_told_and_is_off_by_default(live):
    assert live.parse_args([]).routed is False
    args = live.parse_args(["--routed"])
    assert args.routed and args.routed_seconds == 60.0
    assert live.parse_args(["--routed", "--routed-seconds", "5"]).routed_seconds == 5.0


ROUTED_KEYS = {"routed_load_p50", "routed_load_p99", "routed_xruns_per_minute", "routed_jack_cpu_xruns_per_minute",
               "routed_native_xruns_per_minute", "routed_reference_xruns_per_minute", "routed_keyed",
               "routed_realtime_held", "routed_error"}


def routed_run(live, *, xruns: int = 1, p99: float = 0.40, seconds: float = 60.0):
    return live.Result("routed", 32, seconds, "gui", xruns=xruns, p50=0.30, p99=p99, max=0.7)


def test_the_routed_session_holds_with_p99_within_half_the_period_no_more_xruns_than_a_c_client_and_its_key(live):
    out = live.routed_summary(routed_run(live, xruns=3), 60.0, jack_cpu=1, native=4, keyed=True, key_reduction_db=9.0)
    assert ROUTED_KEYS <= out.keys()
    assert (out["routed_load_p50"], out["routed_load_p99"]) == (0.30, 0.40)
    assert out["routed_xruns_per_minute"] == 3.0 and out["routed_reference_xruns_per_minute"] == 4.0  # the worse one
    assert (out["routed_jack_cpu_xruns_per_minute"], out["routed_native_xruns_per_minute"]) == (1.0, 4.0)
    assert out["routed_realtime_held"] is True and out["routed_strict_pass"] is False  # 3 xruns: not the 0 rule
    assert out["routed_error"] is None

    def held(**change) -> bool | None:
        given = {"result": routed_run(live, xruns=3), "jack_cpu": 1, "native": 4, "keyed": True} | change
        return live.routed_summary(given.pop("result"), 60.0, **given)["routed_realtime_held"]

    assert held(result=routed_run(live, p99=0.51)) is False  # over the load limit
    assert held(result=routed_run(live, xruns=5)) is False  # more xruns a minute than either C client
    assert held(result=routed_run(live, xruns=2, seconds=30.0), jack_cpu=4, native=0) is True  # 4 a minute each
    assert held(keyed=False) is False  # the ducker did not run keyed: not the routed session
    assert held(jack_cpu=None, native=None) is None  # no reference: the xruns cannot be judged
    assert held(jack_cpu=None, native=None, result=routed_run(live, p99=0.6)) is False  # but the load can


def test_a_routed_run_that_failed_or_never_started_says_why_and_does_not_hold(live):
    failed = routed_run(live)
    failed.error = "RuntimeError: the stream stopped during the run"
    out = live.routed_summary(failed, 60.0, jack_cpu=0, native=0, keyed=None)
    assert out["routed_realtime_held"] is False and out["routed_error"] == failed.error
    assert out["routed_load_p99"] is None and out["routed_xruns_per_minute"] is None
    skipped = live.routed_summary(None, 60.0, jack_cpu=0, native=None, keyed=False, error="keyed ducker not hosted")
    assert ROUTED_KEYS <= skipped.keys() and skipped["routed_realtime_held"] is False
    assert skipped["routed_error"] == "keyed ducker not hosted" and skipped["routed_jack_cpu_xruns_per_minute"] == 0.0


def test_the_routed_session_played_live_is_bench_offline_s_at_128_frames_on_files_with_its_key(live, tmp_path):
    import json

    import offline  # bench/offline.py, put on the path by bench/live.py
    from rackhost.presets import load_session

    routed = live.Material(tmp_path).routed(1.0)
    document = json.loads(routed.path.read_text())
    assert document["block_size"] == live.BLOCK == 128
    assert len(document["tracks"]) == routed.tracks == offline.ROUTED_TRACKS == 32
    sources = [track["source"] for track in document["tracks"]]
    assert all(Path(source).is_file() for source in sources) and len(set(sources)) == live.SOURCE_FILES
    assert [track["output"] for track in document["tracks"][:4]] == list(offline.ROUTED_BUSSES)
    session = load_session(routed.path)  # as the engine process loads it
    assert [bus.name for bus in session.busses] == list(routed.busses) == [*offline.ROUTED_BUSSES, "plate", "hall"]
    ducker = session.busses[routed.key_bus].chain.slots[routed.key_slot]
    assert ducker.name == "ZamCompX2" and ducker.key.source == offline.KEY_TRACK
    assert sum(len(track.sends) for track in session.tracks) == len(offline.PLATE_SENDERS) + len(offline.HALL_SENDERS)


def test_a_routed_session_whose_ducker_cannot_be_keyed_is_not_made(live, tmp_path, monkeypatch):
    from rackhost.chain import keyed
    from rackhost.chain.sidechain import NotKeyableError

    monkeypatch.setattr(keyed, "KEYED_VST3_FOLDER", tmp_path / "not-built")  # build/vst3-keyed not built...
    monkeypatch.setenv("LV2_PATH", str(tmp_path))  # ...and no LV2 build with a key port either
    monkeypatch.delenv(keyed.KEYED_VST3_VARIABLE, raising=False)
    with pytest.raises(NotKeyableError, match="ZamCompX2"):
        live.Material(tmp_path).routed(1.0)
    assert not list(tmp_path.glob("session_routed_*.json"))


@pytest.mark.parametrize("argv, own", [
    (["--spectrum"], "spectrum_seconds"), (["--routed"], "routed_seconds"), (["--rates", "3"], "rates_seconds"),
])
def test_each_mode_alone_reports_its_own_run_lengths_not_the_plain_runs(live, argv, own):
    args = live.parse_args(argv)
    results = live.header(args, 2, "0.9.26")
    assert not {"seconds", "search_seconds"} & results.keys()  # the plain run's: nothing of this mode ran them
    assert results == {"block": 128, "rate": 48000, "cores": 2, "pedalboard": "0.9.26"}
    line = json.loads(live.last_line(dict(results, **{own: 11.9}), time.perf_counter(), (0.5, 0.4, 0.3)))
    assert line[own] == 11.9 and "seconds" not in line and "search_seconds" not in line
    assert line["loadavg_before"] == [0.5, 0.4, 0.3] and line["wall_seconds"] >= 0.0


def test_the_plain_run_reports_its_confirmation_and_search_lengths(live):
    results = live.header(live.parse_args(["--quick"]), 2, "0.9.26")
    assert (results["seconds"], results["search_seconds"]) == (10.0, 10.0)
    assert list(results) == ["block", "rate", "seconds", "search_seconds", "cores", "pedalboard"]


def test_each_modes_header_names_the_chains_and_the_pass_rule_only_where_its_runs_use_them(live):
    def lines(*argv: str) -> str:
        return "\n".join(live.header_lines(live.parse_args(list(argv)), "bench_1", True, 2, "0.9.26", 3))

    chain = "track chain: HighpassFilter -> Compressor -> ZamCompX2; master: Compressor -> Limiter"
    plain, rates, spectrum, routed = lines(), lines("--rates", "3"), lines("--spectrum"), lines("--routed")
    assert all(text.startswith("JACK dummy server bench_1: 48000 Hz, period 128") for text in (plain, routed))
    assert chain in plain and chain in rates and chain in spectrum  # the sessions Material.session makes
    assert "track chain" not in routed  # bench/offline.py's routed session: (f) describes it itself
    assert "pass = 0 xruns and load p99 <= 50%" in plain and "pass = 0 xruns" in rates
    assert "pass =" not in spectrum and "each run settles 4 s after play first" in spectrum  # judged by p50s alone
    assert "pass = 0 xruns and load p99 <= 50% of the period (routed_strict_pass)" in routed


def test_placement_names_each_busy_real_time_thread_its_policy_and_the_cpus_it_ran_on(live):
    """bench/live.py's Placement reads /proc for the real-time threads of a run: a thread of this process at
    SCHED_FIFO 5 doing bursts of work shows up with its policy and its share of samples per CPU."""
    import os
    import threading

    stop = threading.Event()
    tid: list[int] = []

    def bursts():
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(5))
        tid.append(threading.get_native_id())
        while not stop.is_set():
            until = time.perf_counter() + 0.004
            while time.perf_counter() < until:
                pass
            time.sleep(0.004)

    worker = threading.Thread(target=bursts, daemon=True)
    worker.start()
    placement = live.Placement(os.getpid())
    placement.start()
    time.sleep(1.5)
    line = placement.stop()
    stop.set()
    worker.join()
    assert "engine:" in line and f":{tid[0]} (SCHED_FIFO 5," in line, line
    shares = line.split(f":{tid[0]} (SCHED_FIFO 5,", 1)[1].split(";")[0]
    assert "cpu" in shares and "%" in shares, line
