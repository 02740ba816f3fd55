"""The fader's taper and the meters' scale: pure functions, checked alone (the window draws with them)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rackhost.gui.taper import (FADER_FLOOR_DB, FADER_MAX_DB, fader_db, fader_position, fader_text,
                                meter_deflection, pan_text, spaced)

gains = st.floats(min_value=FADER_FLOOR_DB, max_value=FADER_MAX_DB, allow_nan=False, allow_subnormal=False)
positions = st.floats(min_value=fader_position(FADER_FLOOR_DB + 1e-6), max_value=1.0, allow_nan=False,
                      allow_subnormal=False)


@given(gains)
def test_a_gain_put_on_the_fader_reads_back_the_same(db):
    assert fader_db(fader_position(db)) == pytest.approx(db, abs=1e-9)


@given(positions)
def test_a_place_on_the_fader_reads_back_the_same(position):
    assert fader_position(fader_db(position)) == pytest.approx(position, abs=1e-9)


@given(gains, gains)
def test_a_louder_gain_sits_higher(a, b):
    if a < b:
        assert fader_position(a) <= fader_position(b)


def test_most_of_the_travel_is_in_the_top_40_db_and_the_bottom_is_silence():
    assert fader_position(FADER_MAX_DB) == pytest.approx(1.0, abs=1e-3)
    assert fader_position(0.0) == pytest.approx(0.78, abs=0.01)  # unity where the hand rests, as on a desk
    assert 1.0 - fader_position(-40.0) > 0.85
    assert fader_position(FADER_FLOOR_DB) == fader_position(-math.inf) == 0.0
    assert fader_db(0.0) == FADER_FLOOR_DB and fader_text(fader_db(0.0)) == "-inf"
    assert fader_position(12.0) == 1.0 and fader_db(2.0) == FADER_MAX_DB  # clamped, not extrapolated
    assert [fader_text(d) for d in (2.0, 0.0, -6.54)] == ["+2.0", "0.0", "-6.5"]


def test_nan_is_refused_with_the_range_said():
    with pytest.raises(ValueError, match="0..1"):
        fader_db(math.nan)
    with pytest.raises(ValueError, match="dB"):
        fader_position(math.nan)


@given(st.floats(min_value=-200.0, max_value=20.0, allow_nan=False, allow_subnormal=False),
       st.floats(min_value=-200.0, max_value=20.0, allow_nan=False, allow_subnormal=False))
def test_the_meter_rises_with_the_level_from_minus_70_to_full_scale(a, b):
    if a < b:
        assert meter_deflection(a) <= meter_deflection(b)
    assert 0.0 <= meter_deflection(a) <= 1.0


def test_the_meter_scale_is_iec_268():
    assert [meter_deflection(d) for d in (-80.0, -70.0, -60.0, -40.0, -20.0, -10.0, 0.0, 3.0)] == pytest.approx(
        [0.0, 0.0, 0.025, 0.15, 0.5, 0.75, 1.0, 1.0])


def test_scale_labels_that_would_crowd_an_earlier_one_are_left_out():
    y = {0.0: 0.0, -3.0: 5.0, -6.0: 20.0}.__getitem__
    assert spaced((0.0, -3.0, -6.0), y, 12.0) == [0.0, -6.0]


def test_pan_reads_as_engineers_say_it():
    assert [pan_text(p) for p in (0.0, -0.3, 1.0, 0.004)] == ["C", "L30", "R100", "C"]
