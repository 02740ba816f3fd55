"""A fade's gains between its worked-out frames: one multiply-add per grid cell, the same as np.interp to the bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rackhost.chain.automated import GRID, _Window, sorted_unique


def _interp(window: _Window, start: int, end: int) -> np.ndarray:
    """What the fade's gains were before: np.interp over the window's frames, row by row."""
    every = np.arange(start, end, dtype=np.float64)
    return np.stack([np.interp(every, window.frames, row) for row in window.values]).astype(np.float32)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(0, 5000), n=st.integers(1, 3000), points=st.lists(st.integers(0, 9000), max_size=6),
       rows=st.sampled_from([1, 2]), seed=st.integers(0, 2**31), part=st.floats(0.0, 1.0, allow_subnormal=False))
def test_grid_cells_give_np_interps_samples_with_points_anywhere_and_blocks_cut_anywhere(start, n, points, rows,
                                                                                          seed, part):
    end = start + n
    first, last = start // GRID * GRID, (end - 1) // GRID * GRID + GRID
    points_ = np.array(points, np.int64)
    parts = [np.arange(first, last + 1, GRID, dtype=np.int64)]
    for frames in (points_, points_ - 1):  # both sides of a point, as Fade._evaluate works them out
        parts.append(frames[(frames > first) & (frames < last)])
    frames = sorted_unique(np.concatenate(parts))
    np.testing.assert_array_equal(frames, np.unique(np.concatenate(parts)))
    values = np.random.default_rng(seed).standard_normal((rows, len(frames)))
    window = _Window((), first, last, frames.astype(np.float64), values)
    cut = start + int(part * (n - 1))  # a block starting anywhere inside
    for a, b in ((start, end), (cut, end), (start, cut + 1)):
        np.testing.assert_array_equal(window.between(a, b), _interp(window, a, b))
