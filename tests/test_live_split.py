"""Split slots live: the callback runs the offline graph to the sample (directly, and under a real JACK server)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, program_signal
from live_takes import assert_live_equals_offline
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Plugin, Session, Split, render
from rackhost.cli.chain_spec import parse_chain
from rackhost.live.commands import BranchLevel, EngineCommandError, SetParameter
from rackhost.live.process import apply_command
from rackhost.presets import session_to_dict
from rackhost.presets.session_sync import resync

GUITAR = ("HighpassFilter(cutoff_frequency_hz=80); "
          "[ZaMaximX2(threshold_db=-6) @ -6 | Compressor(threshold_db=-30, ratio=4) @ -3 | ]")


def _split_session(signal: np.ndarray | None = None, block: int = BLOCK) -> Session:
    """A stereo input through a split with a latent VST3 branch (480 samples), a compressed branch and a dry
    one, into a bus whose chain is a split too (a lookahead limiter, 240, beside a quieter dry path), with a
    post-fader send to a reverb bus; a mono input (the second channel) on a plain track. Offline, ``signal``
    plays what the inputs hear."""
    session = Session(sample_rate=SR, block_size=block)
    if signal is None:
        guitar = session.add_track("guitar", None, input=(0, 1), gain_db=-3.0, output="glue")
        session.add_track("backing", None, input=(1,), pan=-0.4)
    else:
        guitar = session.add_track("guitar", ArraySource(signal, SR), gain_db=-3.0, output="glue")
        session.add_track("backing", ArraySource(signal[1:], SR), pan=-0.4)
    guitar.chain = parse_chain(GUITAR)
    guitar.add_send("room", -9.0)
    session.add_bus("glue", parse_chain("[BrickwallLimiter | Gain(gain_db=-6) @ -3]"))
    session.add_bus("room", parse_chain("Reverb(room_size=0.4, wet_level=0.7, dry_level=0.0)"))
    return session


def test_the_callback_plays_a_session_with_splits_as_the_offline_render_to_the_sample():
    signal = program_signal(2, 0.5, seed=21)[:, : BLOCK * 150]
    live = _run(_started(_split_session()), signal)
    offline_session = _split_session(signal)
    offline = render(offline_session, tail=False).audio
    latency = offline_session.snapshot().latency
    assert latency == 480 + 240  # the guitar's split, then the bus's split
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])


def test_a_document_sync_keeps_the_running_plugins_inside_splits_and_applies_a_branch_level():
    session = _split_session()
    split = session.track("guitar").chain[1]
    maxim = split.branches[0].chain[0].plugin
    split.branches[1].level_db = -12.0
    split.branches[0].chain[0].plugin.set("threshold_db", -9.0)
    resynced, changes = resync(session, session_to_dict(session))
    again = resynced.track("guitar").chain[1]
    assert isinstance(again, Split) and again.branches[1].level_db == -12.0
    assert again.branches[0].chain[0].plugin is maxim  # ZaMaximX2 is not reloaded; its tail is not cut
    assert resynced.bus("glue").chain[0].branches[0].chain[0].plugin is session.bus("glue").chain[0].branches[0].chain[0].plugin


def test_a_branch_level_command_changes_the_running_split_and_a_wrong_address_is_refused_by_name():
    engine = _started(_split_session())
    before = engine._state.snapshot
    assert apply_command(engine, BranchLevel(0, 1, 2, -9.0)) == BranchLevel.needs
    assert engine.session.track("guitar").chain[1].branches[2].level_db == -9.0
    with pytest.raises(EngineCommandError, match="slot 0 has no branch 0: it is HighpassFilter"):
        apply_command(engine, BranchLevel(0, 0, 0, -9.0))
    with pytest.raises(EngineCommandError, match="it is a split with 3 branches"):
        apply_command(engine, BranchLevel(0, 1, 3, -9.0))
    engine.update()
    assert engine._state.snapshot is not before


def test_a_parameter_command_to_a_split_slot_is_refused_by_name():
    engine = _started(_split_session())
    with pytest.raises(EngineCommandError, match="slot 1 of track 'guitar' is the split 'split', not a plug-in"):
        apply_command(engine, SetParameter(0, 1, "threshold_db", -3.0))


def test_a_plugin_that_raises_inside_a_branch_is_bypassed_and_the_rest_of_the_split_plays_on():
    session = _split_session()
    branch = session.track("guitar").chain[1].branches[1]
    bad = branch.chain.add(Plugin.create("ZamComp"))  # mono-only, on a stereo branch
    engine = _started(session)
    bad.plugin.mode = "direct"  # as if it had lied about its layout: it raises every block
    engine.update()
    _run(engine, program_signal(2, 0.05))
    events = engine.poll()
    assert bad.bypass and not session.track("guitar").chain[1].bypass  # the plug-in, not the whole split
    assert any(e.startswith("track 'guitar': ZamComp raised") for e in events)
    out = _run(engine, program_signal(2, 0.1))
    assert np.max(np.abs(out)) > 0.01 and not engine.poll()


def test_live_output_of_a_session_with_splits_busses_and_sends_equals_the_offline_render(jack_server):
    signal = program_signal(2, 1.0, seed=23)
    assert_live_equals_offline(jack_server, _split_session, signal, latency=720)
