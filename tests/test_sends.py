"""Aux sends, pre- and post-fader, and mute and solo as a DAW has them, against numpy sums of the sources."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routing_helpers import Spec, make_session, reference_mix
from rackhost.chain import ArraySource, Chain, Plugin, Session, render

SR = 48000
FRAMES = 3000


def _noise(seed: int, channels: int = 2) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, FRAMES)) * 0.05).astype(np.float32)


def _db(db: float) -> float:
    return 10.0 ** (db / 20.0)


def _mix(session: Session) -> np.ndarray:
    return render(session, tail=False).audio


def _reverb_session() -> Session:
    """Vocal and guitar on the master, both sending to a reverb bus (a Gain stands in for the reverb)."""
    session = Session(block_size=128)
    vocal = session.add_track("vocal", ArraySource(_noise(1), SR), gain_db=-6.0)
    vocal.add_send("reverb", -12.0)
    guitar = session.add_track("guitar", ArraySource(_noise(2), SR), gain_db=-3.0)
    guitar.add_send("reverb", -6.0, pre_fader=True)
    session.add_bus("reverb", Chain([Plugin.create("Gain", gain_db=-2.0)]), gain_db=-1.0)
    return session


def _parts(vocal_path: float = 1.0, guitar_path: float = 1.0, vocal_send: float = 1.0,
           guitar_send: float = 1.0, bus: float = 1.0) -> np.ndarray:
    """The reverb session's master, from the sources: each path switched on or off by its factor."""
    vocal, guitar = _noise(1).astype(np.float64), _noise(2).astype(np.float64)
    reverb_in = vocal_send * vocal * _db(-6.0) * _db(-12.0) + guitar_send * guitar * _db(-6.0)  # guitar pre-fader
    return vocal_path * vocal * _db(-6.0) + guitar_path * guitar * _db(-3.0) + bus * reverb_in * _db(-2.0 - 1.0)


def test_a_post_fader_send_follows_the_fader_and_a_pre_fader_send_does_not():
    session = _reverb_session()
    np.testing.assert_allclose(_mix(session), _parts(), atol=1e-6)
    session.track("guitar").gain_db = -math.inf  # the pre-fader send goes on
    session.track("vocal").gain_db = -math.inf  # the post-fader send stops
    np.testing.assert_allclose(_mix(session), _parts(vocal_path=0, guitar_path=0, vocal_send=0), atol=1e-6)


def test_a_muted_send_sends_nothing():
    session = _reverb_session()
    session.edit.set_send_muted(session.track("guitar").send("reverb"), True)
    np.testing.assert_allclose(_mix(session), _parts(guitar_send=0), atol=1e-6)


def test_soloing_a_track_keeps_the_bus_it_sends_to_and_silences_the_others():
    session = _reverb_session()
    session.track("vocal").solo = True
    np.testing.assert_allclose(_mix(session), _parts(guitar_path=0, guitar_send=0), atol=1e-6)


def test_soloing_a_bus_plays_what_is_sent_to_it_and_nothing_dry():
    session = _reverb_session()
    session.bus("reverb").solo = True
    np.testing.assert_allclose(_mix(session), _parts(vocal_path=0, guitar_path=0), atol=1e-6)


def test_a_muted_track_sends_nothing_and_a_muted_bus_passes_nothing():
    session = _reverb_session()
    session.track("guitar").mute = True
    np.testing.assert_allclose(_mix(session), _parts(guitar_path=0, guitar_send=0), atol=1e-6)
    session.bus("reverb").mute = True
    np.testing.assert_allclose(_mix(session), _parts(guitar_path=0, guitar_send=0, bus=0), atol=1e-6)


def test_soloing_a_track_routed_into_nested_busses_keeps_them_all_and_only_its_signal():
    tracks = [Spec("kick", audio=_noise(3), output="drums"), Spec("snare", audio=_noise(4), output="drums"),
              Spec("bass", audio=_noise(5))]
    busses = [Spec("drums", [("Gain", {"gain_db": 3.0})], output="music"), Spec("music", gain_db=-2.0)]
    session = make_session(tracks, busses, 256)
    session.track("kick").solo = True
    expected = reference_mix([tracks[0]], busses)
    np.testing.assert_allclose(_mix(session), expected, atol=1e-6)


def test_soloing_a_bus_keeps_the_tracks_feeding_it_through_other_busses():
    tracks = [Spec("kick", audio=_noise(3), output="drums"), Spec("bass", audio=_noise(5))]
    busses = [Spec("drums", output="music"), Spec("music", gain_db=-2.0)]
    session = make_session(tracks, busses, 256)
    session.bus("music").solo = True
    np.testing.assert_allclose(_mix(session), reference_mix([tracks[0]], busses), atol=1e-6)


def test_send_levels_are_checked():
    session = _reverb_session()
    with pytest.raises(ValueError, match="level of the send to 'reverb'"):
        session.edit.set_send_level(session.track("vocal").send("reverb"), 20.0)
    with pytest.raises(ValueError, match="level of the send to 'other'.*got nan"):
        session.track("vocal").add_send("other", float("nan"))


def test_a_remix_swaps_send_levels_in_without_a_new_graph():
    session = _reverb_session()
    snap = session.snapshot(max_segment=128)
    session.track("vocal").send("reverb").level_db = -3.0
    assert session.fits(snap)
    session.track("guitar").gain_db = -12.0
    session.bus("reverb").pan = 0.5
    remixed = session.remix(snap)
    assert remixed.router.busses is snap.router.busses  # the same bus chains and delay lines
    strips = np.random.default_rng(7).standard_normal((2, 2, 128)).astype(np.float32)
    fresh = session.snapshot(max_segment=128)
    np.testing.assert_array_equal(remixed.mix_tracks(strips.copy(), np.zeros((2, 128), np.float32)),
                                  fresh.mix_tracks(strips.copy(), np.zeros((2, 128), np.float32)))
    session.add_bus("other")
    assert not session.fits(snap)
