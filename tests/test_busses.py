"""Busses: tracks routed into busses (nested), against pedalboard called directly; loops refused; every routing
edit one undo step; every path into a summing point aligned, with real latent plug-ins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing_helpers import Spec, make_session, reference_mix
from rackhost.chain import ArraySource, Bus, Chain, Plugin, Session, render
from rackhost.errors import RoutingError, RoutingLoopError, SessionError, UnknownBusError

SR = 48000


def _noise(frames: int, channels: int = 2, seed: int = 0, level: float = 0.05) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, frames)) * level).astype(np.float32)


def _mix(session: Session) -> np.ndarray:
    return render(session, tail=False).audio


def test_tracks_routed_through_nested_busses_sum_as_pedalboard_and_numpy_do():
    tracks = [
        Spec("kick", [("LowpassFilter", {"cutoff_frequency_hz": 2000.0})], _noise(6000, 1, 1), -3.0, -0.3, "drums"),
        Spec("snare", [("Gain", {"gain_db": -4.0})], _noise(5000, 2, 2), 1.5, 0.2, "drums"),
        Spec("bass", [], _noise(6000, 1, 3), -1.0, 0.0, "music"),
        Spec("voice", [("HighpassFilter", {"cutoff_frequency_hz": 150.0})], _noise(4000, 2, 4)),
    ]
    busses = [
        Spec("drums", [("Compressor", {"threshold_db": -30.0, "ratio": 4.0}), ("Gain", {"gain_db": 2.0})],
             gain_db=-2.0, pan=0.3, output="music"),
        Spec("music", [("LowShelfFilter", {"cutoff_frequency_hz": 200.0, "gain_db": 3.0})], gain_db=-1.0),
    ]
    out = _mix(make_session(tracks, busses, 128))
    np.testing.assert_allclose(out, reference_mix(tracks, busses), atol=2e-5)


def test_a_bus_with_nothing_routed_to_it_is_silent_and_changes_nothing():
    audio = _noise(3000)
    plain = Session(block_size=256)
    plain.add_track("a", ArraySource(audio, SR))
    routed = Session(block_size=256)
    routed.add_track("a", ArraySource(audio, SR))
    routed.add_bus("empty", Chain([Plugin.create("Gain", gain_db=6.0)]))
    np.testing.assert_array_equal(_mix(routed), _mix(plain))


# -- random graphs ------------------------------------------------------------------------------------

CHAIN_ITEMS = st.sampled_from([
    ("Gain", {"gain_db": -3.0}),
    ("LowpassFilter", {"cutoff_frequency_hz": 3000.0}),
    ("BrickwallLimiter", {}),  # 240 samples of lookahead: a latent path
])


@st.composite
def graphs(draw) -> tuple[list[Spec], list[Spec], int]:
    """A random DAG: busses feed only later busses (so no loops), tracks feed any bus; sends pre or post."""
    n_busses = draw(st.integers(1, 4))
    n_tracks = draw(st.integers(1, 4))
    frames = draw(st.integers(200, 4000))
    block = draw(st.sampled_from([32, 64, 128, 256, 512]))
    names = [f"bus{j}" for j in range(n_busses)]
    levels = st.floats(-12.0, 0.0, allow_nan=False, allow_subnormal=False)
    busses = []
    for j in range(n_busses):
        later = names[j + 1:]
        sends = draw(st.lists(st.tuples(st.sampled_from(later), levels, st.booleans()), max_size=2,
                              unique_by=lambda s: s[0])) if later else []
        busses.append(Spec(names[j], draw(st.lists(CHAIN_ITEMS, max_size=2)), gain_db=draw(levels),
                           pan=draw(st.floats(-1, 1, allow_subnormal=False)),
                           output=draw(st.sampled_from([None, *later])), sends=sends))
    tracks = []
    for k in range(n_tracks):
        channels = draw(st.sampled_from([1, 2]))
        sends = draw(st.lists(st.tuples(st.sampled_from(names), levels, st.booleans()), max_size=2,
                              unique_by=lambda s: s[0]))
        tracks.append(Spec(f"t{k}", draw(st.lists(CHAIN_ITEMS, max_size=2)),
                           _noise(frames - draw(st.integers(0, 150)), channels, k, 0.01), draw(levels),
                           draw(st.floats(-1, 1, allow_subnormal=False)), draw(st.sampled_from([None, *names])),
                           sends))
    return tracks, busses, block


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_any_graph_of_busses_and_sends_at_any_block_size_matches_the_reference(graph):
    tracks, busses, block = graph
    out = _mix(make_session(tracks, busses, block))
    expected = reference_mix(tracks, busses)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=2e-5)


# -- loops and names ---------------------------------------------------------------------------------


def test_a_loop_through_two_busses_is_refused_naming_it():
    session = Session()
    session.add_bus("drums", output="music")
    music = session.add_bus("music")
    history = len(session.history.labels()[0])
    with pytest.raises(RoutingLoopError, match="drums -> music -> drums") as caught:
        session.edit.set_output(session, music, "drums")
    assert caught.value.loop == ("drums", "music", "drums")
    assert music.output is None and len(session.history.labels()[0]) == history  # nothing recorded


def test_a_loop_made_by_hand_is_refused_when_the_mix_is_built():
    session = Session()
    session.add_track("a", ArraySource(_noise(100), SR), output="a-bus")
    session.add_bus("a-bus", output="b-bus")
    session.add_bus("b-bus").add_send("c-bus", -6.0)
    session.add_bus("c-bus", output="a-bus")
    with pytest.raises(RoutingLoopError, match="a-bus -> b-bus -> c-bus -> a-bus"):
        render(session)


def test_a_bus_sending_to_itself_is_a_loop():
    session = Session()
    reverb = session.add_bus("reverb")
    with pytest.raises(RoutingLoopError, match="reverb -> reverb"):
        session.edit.add_send(session, reverb, "reverb", -6.0)
    assert reverb.sends == []


def test_an_output_to_a_missing_bus_is_refused_with_the_busses_there_are():
    session = Session()
    track = session.add_track("kick", ArraySource(_noise(100), SR))
    session.add_bus("drums")
    with pytest.raises(UnknownBusError, match=r"track 'kick' is routed to bus 'drms'.*busses: 'drums'"):
        session.edit.set_output(session, track, "drms")
    track.add_send("verb", -3.0)
    with pytest.raises(UnknownBusError, match="track 'kick' sends to bus 'verb'"):
        render(session)


def test_bus_names_are_unique_and_one_send_per_bus():
    session = Session()
    session.add_bus("drums")
    with pytest.raises(SessionError, match="already exists"):
        session.add_bus("drums")
    track = session.add_track("kick", ArraySource(_noise(100), SR))
    track.add_send("drums", -6.0)
    with pytest.raises(RoutingError, match="sends to 'drums' already"):
        session.edit.add_send(session, track, "drums", -3.0)


# -- undo ----------------------------------------------------------------------------------------------


def _routing(session: Session) -> tuple:
    return (tuple(b.name for b in session.busses),
            tuple((s.name, s.output, tuple((x.bus, x.level_db, x.pre_fader, x.muted) for x in s.sends))
                  for s in (*session.tracks, *session.busses)))


def _routed_session() -> Session:
    session = Session()
    kick = session.add_track("kick", ArraySource(_noise(100), SR), output="drums")
    kick.add_send("reverb", -12.0)
    session.add_track("vocal", ArraySource(_noise(100), SR)).add_send("reverb", -6.0, pre_fader=True)
    session.add_bus("drums", output="music")
    session.add_bus("music")
    session.add_bus("reverb")
    return session


EDITS = {
    "add bus": lambda s: s.edit.add_bus(s, Bus("fx")),
    "remove bus": lambda s: s.edit.remove_bus(s, s.bus("drums")),
    "remove a bus sent to": lambda s: s.edit.remove_bus(s, s.bus("reverb")),
    "rename bus": lambda s: s.edit.rename_bus(s, s.bus("reverb"), "plate"),
    "set output": lambda s: s.edit.set_output(s, s.track("vocal"), "music"),
    "output to master": lambda s: s.edit.set_output(s, s.bus("drums"), None),
    "add send": lambda s: s.edit.add_send(s, s.track("vocal"), "music", -3.0, pre_fader=True),
    "remove send": lambda s: s.edit.remove_send(s.track("kick"), "reverb"),
    "send level": lambda s: s.edit.set_send_level(s.track("kick").send("reverb"), -3.0),
    "send pre-fader": lambda s: s.edit.set_send_pre_fader(s.track("kick").send("reverb"), True),
    "send muted": lambda s: s.edit.set_send_muted(s.track("vocal").send("reverb"), True),
    "bus fader": lambda s: s.edit.set_gain(s.bus("music"), -4.0),
    "bus mute": lambda s: s.edit.set_mute(s.bus("music"), True),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_every_routing_edit_is_one_step_that_undo_takes_back_and_redo_brings_again(edit):
    session = _routed_session()
    before = _routing(session) + ((session.bus("music").gain_db, session.bus("music").mute),)
    EDITS[edit](session)
    after = _routing(session) + ((session.bus("music").gain_db, session.bus("music").mute),)
    assert after != before
    assert len(session.history.labels()[0]) == 1
    session.undo()
    assert _routing(session) + ((session.bus("music").gain_db, session.bus("music").mute),) == before
    session.redo()
    assert _routing(session) + ((session.bus("music").gain_db, session.bus("music").mute),) == after
    session.snapshot()  # the graph it leaves is sound


def test_removing_a_bus_reroutes_what_fed_it_to_where_it_went():
    session = _routed_session()
    session.edit.remove_bus(session, session.bus("drums"))
    assert session.track("kick").output == "music"
    session.edit.remove_bus(session, session.bus("reverb"))
    assert session.track("kick").sends == [] and session.track("vocal").sends == []


# -- delay compensation --------------------------------------------------------------------------------


def _impulses(frames: int, at: int, channels: int = 2) -> np.ndarray:
    audio = np.zeros((channels, frames), np.float32)
    audio[:, at] = 0.05
    return audio


@pytest.mark.parametrize("block", [64, 512])
def test_an_impulse_through_every_path_lands_on_one_sample_at_the_master(block):
    """ZaMaximX2 (480 samples) and BrickwallLimiter (240) on tracks and busses, a pre-fader send, nested busses."""
    at, frames = 3000, 8000
    session = Session(block_size=block)
    session.add_track("kick", ArraySource(_impulses(frames, at), SR), Chain([Plugin.create("ZaMaximX2")]),
                      output="drums")
    session.add_track("snare", ArraySource(_impulses(frames, at), SR), output="drums")
    vocal = session.add_track("vocal", ArraySource(_impulses(frames, at, 1), SR),
                              Chain([Plugin.create("BrickwallLimiter")]))
    vocal.add_send("reverb", -6.0, pre_fader=True)
    session.add_track("bass", ArraySource(_impulses(frames, at), SR), output="music")
    session.add_bus("drums", Chain([Plugin.create("BrickwallLimiter")]), output="music").add_send("reverb", -6.0)
    session.add_bus("music", Chain([Plugin.create("ZaMaximX2")]))
    session.add_bus("reverb", Chain([Plugin.create("BrickwallLimiter"), Plugin.create("Gain", gain_db=-3.0)]))
    snap = session.snapshot()
    assert snap.latency == 480 + 240 + 480  # kick -> drums -> music, the longest path
    for soloed in [None, "kick", "snare", "vocal", "bass"]:  # every track's paths, then each alone
        for track in session.tracks:
            track.solo = track.name == soloed
        out = _mix(session)
        loud = np.flatnonzero(np.max(np.abs(out), axis=0) > 1e-6)
        assert loud.tolist() == [at], f"{soloed or 'every track'}: the impulse is at {loud.tolist()}"
