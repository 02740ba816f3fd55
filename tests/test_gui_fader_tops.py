"""Every fader in the rack starts and ends at the same height, the master's too, as on a desk: with wide strips
and with View > Narrow strips, with sends and without (the master's loudness band is then the tallest thing),
busses included, at 1x and at the 4/3 scale of a 2560x1440 window, and with the rack scrolling sideways (its
scrollbar under the strips, not under the master). The switches above each fader still fit in full.

Real window under Xvfb (tests/gui_fader_tops.py); screenshots of each view into RACKHOST_SCREENSHOTS if set,
else the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import SR, program_signal
from gui_driver import window_output

from rackhost.chain import Session
from rackhost.cli.chain_spec import parse_chain
from rackhost.presets import save_session


def _session(tmp_path: Path, wav_file, sends: bool) -> Path:
    session = Session(sample_rate=SR, block_size=256)
    session.add_bus("verb", parse_chain("Reverb"))
    for k, name in enumerate(("drums", "bass", "keys")):
        track = session.add_track(name, wav_file(program_signal(2, 1.0, seed=k), f"{name}.wav"))
        track.chain = parse_chain("Gain(gain_db=-1); Compressor(threshold_db=-20)")
        if sends:
            track.add_send("verb", -12.0)
    path = tmp_path / "song.json"
    save_session(session, path)
    return path


@pytest.mark.parametrize("sends, size", [(True, "1920x1080"), (False, "1920x1080"), (True, "2560x1440"),
                                         (True, "1280x720")],
                         ids=["sends", "no-sends", "sends-4/3", "sends-rack-scrolls"])
def test_the_masters_fader_is_level_with_every_strips_wide_and_narrow(tmp_path, wav_file, sends, size):
    shots = Path(os.environ.get("RACKHOST_SCREENSHOTS") or tmp_path) / ("sends" if sends else "no-sends")
    shots.mkdir(parents=True, exist_ok=True)
    out = window_output("gui_fader_tops.py", _session(tmp_path, wav_file, sends), shots, size, screen=size)
    for view in ("wide", "narrow"):
        tops = out[view]["tops"]
        assert set(tops) == {"drums", "bass", "keys", "verb", "master"}
        assert len(set(tops.values())) == 1, (view, tops)
        # Its whole travel too, with the rack's sideways scrollbar under the strips or not: the 0 dB marks line up.
        assert len(set(out[view]["bottoms"].values())) == 1, (view, out[view])
        assert len(set(out[view]["zero_db"].values())) == 1, (view, out[view])
        ends = out[view]["switches_end"]
        assert all(ends[name] < tops[name] for name in tops), (view, ends, tops)
        assert out[view]["loudness_end"] < tops["master"], (view, out[view])
    if size == "1280x720":
        assert out["wide"]["rack_scrolls"], out  # four wide strips do not fit beside the master: the rack scrolls
