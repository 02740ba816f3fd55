"""Loudness report: BS.1770 integrated loudness and 4x-oversampled true peak."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import SR
from rackhost.chain.loudness import measure


def test_full_scale_997_hz_sine_in_both_channels_reads_0_lufs():
    t = np.arange(SR * 3) / SR
    sine = np.sin(2 * np.pi * 997 * t) * 10 ** (-20 / 20)
    report = measure(np.vstack([sine, sine]), SR)
    assert report.integrated_lufs == pytest.approx(-20.0, abs=0.1)
    assert report.peak_dbfs == pytest.approx(-20.0, abs=0.01)


def test_true_peak_finds_the_peak_between_samples():
    t = np.arange(SR) / SR
    # A quarter of the sample rate, 45 degrees off: every sample lands at 0.707 of the crest.
    sine = 0.5 * np.sin(2 * np.pi * (SR / 4) * t + math.pi / 4)
    report = measure(np.vstack([sine, sine]), SR)
    assert report.peak_dbfs == pytest.approx(20 * math.log10(0.5 * math.sqrt(0.5)), abs=0.05)
    assert report.true_peak_dbtp == pytest.approx(20 * math.log10(0.5), abs=0.3)


def test_short_or_silent_audio_has_no_misleading_numbers():
    short = measure(np.zeros((2, 1000)), SR)
    assert short.integrated_lufs is None and short.peak_dbfs == -math.inf
    silent = measure(np.zeros((2, SR)), SR)
    assert silent.integrated_lufs == -math.inf
    assert silent.to_dict()["integrated_lufs"] is None
