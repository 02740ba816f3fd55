"""bench/live.py's spectrum figure (issue 18): how it is worked out from the rounds' loads, and how it is asked for.
The benchmark itself runs on a quiet machine (``python bench/live.py --spectrum``), never in the tests."""

from __future__ import annotations

import importlib.util
import sys
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
