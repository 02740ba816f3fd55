"""A track's width changing while the engine plays: fresh plug-in instances are prepared, the running ones play on.

A track's input going from one channel to two re-lays its chain out: a
mono-only plug-in becomes dual mono, a stereo-only one no longer widens it.
That work (a layout probe with ``reset=True``, a twin, a reset) once ran on the
instances the audio callback was running, from the control thread: their
tails were cleared, and the callback waited on pedalboard's lock of the
plug-in meanwhile. Now it runs on fresh instances that the new audio state
takes over in one assignment.

Proved with real VST3s under a real JACK server: a spy on the plug-ins'
``process`` and ``reset`` sees every call the control thread makes into a
running instance (none may happen), the edited track gets new instances, the
other track keeps its own, and what the engine played null-tests against the
offline render of the other track.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pedalboard
import pytest

from conftest import SR, program_signal
from jack_harness import Recorder, align, disconnect_system, find_ports, jack_device
from live_takes import clean_take, xruns
from rackhost.chain import ArraySource, Session, render
from rackhost.live import LiveEngine

BLOCK = 128
SECONDS = 2.0


def _session(signal: np.ndarray, with_input_track: bool = True) -> Session:
    session = Session(sample_rate=SR, block_size=BLOCK)
    steady = session.add_track("steady", ArraySource(signal, SR))
    steady.chain.add("ZamCompX2", threshold_db=-24, ratio=4)  # stereo only: direct
    steady.chain.add("ZamEQ2", boost_cut_1_db=6.0, frequency_1_hz=2000)  # mono only: dual mono
    if with_input_track:
        # Muted: its input (an unconnected port) is not what this test listens to; its chain still runs.
        swap = session.add_track("swap", None, input=(0,), mute=True)
        swap.chain.add("ZamComp", threshold_db=-20)  # mono only: direct on mono, dual mono on stereo
        swap.chain.add("ZamCompX2", threshold_db=-20)  # stereo only: widens the mono track, then direct
    return session


@pytest.fixture
def plugin_calls(monkeypatch) -> list[tuple[int, int, str]]:
    """(thread, instance, method) of every ``process`` and ``reset`` call on a VST3 from Python: the calls that
    run or clear a plug-in and hold pedalboard's lock of it. A spy around the real methods; the plug-ins run."""
    calls: list[tuple[int, int, str]] = []
    for name in ("process", "reset"):
        original = getattr(pedalboard.VST3Plugin, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            calls.append((threading.get_ident(), id(self), _name))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(pedalboard.VST3Plugin, name, spy)
    return calls


def test_a_track_going_stereo_gets_fresh_instances_while_the_running_ones_are_never_touched(jack_server,
                                                                                           plugin_calls):
    signal = program_signal(2, SECONDS, seed=30)

    def take():
        session = _session(signal)
        steady, swap = session.tracks
        engine = LiveEngine(session, device=jack_device(), input_channels=2)
        engine.start()
        try:
            running = [inst for slot in swap.chain for inst in slot.plugin.instances]
            kept = [inst for slot in steady.chain for inst in slot.plugin.instances]
            modes_before = [slot.plugin.mode for slot in swap.chain]
            with Recorder("capture", 2, frames=signal.shape[1] + SR) as recorder:
                disconnect_system("PortAudio")
                for src, dst in zip(find_ports("PortAudio", is_output=True), recorder.inputs):
                    jack_server.connect(src, dst)
                recorder.start()
                engine.play()
                time.sleep(SECONDS / 3)
                playing = {id(i) for i in running + kept}
                plugin_calls.clear()
                swap.input = (0, 1)
                engine.after_block()  # as the engine process does: the edit starts right after a block
                engine.update()
                control = threading.get_ident()
                touched = [name for thread, inst, name in plugin_calls if thread == control and inst in playing]
                fresh_played = {inst for thread, inst, name in plugin_calls if thread == control}
                recorder.wait(timeout=SECONDS + 10)
                xruns[0] = recorder.xruns
            stats = engine.stats()
        finally:
            engine.close()
        fresh = [inst for slot in swap.chain for inst in slot.plugin.instances]
        return (touched, fresh_played, running, kept, fresh, modes_before,
                [slot.plugin.mode for slot in swap.chain], [inst for slot in steady.chain for inst in slot.plugin.instances],
                stats, recorder.captured)

    (touched, fresh_played, running, kept, fresh, modes_before, modes_after, kept_after, stats,
     captured) = clean_take(take)
    # The control thread ran and reset only the new instances (their layout probe and reset), never the playing ones.
    assert touched == []
    assert fresh_played and fresh_played <= {id(i) for i in fresh}
    assert modes_before == ["direct", "widen"] and modes_after == ["dual_mono", "direct"]
    assert len(fresh) == 3 and not {id(i) for i in fresh} & {id(i) for i in running}
    assert [id(i) for i in kept_after] == [id(i) for i in kept]  # the other track's chain was not rebuilt
    assert stats.fault is None and stats.running
    # The other track played on as if nothing happened: sample for sample its offline render.
    offline = render(_session(signal, with_input_track=False), tail=False)
    _, aligned = align(offline.audio, captured)
    np.testing.assert_allclose(aligned, offline.audio, atol=1e-6)


def test_a_reconfigured_plugin_keeps_its_settings_and_plays_as_a_fresh_load_would():
    # The fresh instances carry the running one's values: the edited track renders as one built stereo from the start.
    signal = program_signal(2, 1.0, seed=31)
    edited = Session(sample_rate=SR, block_size=BLOCK)
    track = edited.add_track("t", ArraySource(signal[:1].copy(), SR))
    track.chain.add("ZamComp", threshold_db=-30, ratio=6)
    track.chain.add("ZamCompX2", threshold_db=-26, ratio=3)
    render(edited, tail=False)  # configured and run as mono
    track.source = ArraySource(signal, SR)
    built = Session(sample_rate=SR, block_size=BLOCK)
    other = built.add_track("t", ArraySource(signal, SR))
    other.chain.add("ZamComp", threshold_db=-30, ratio=6)
    other.chain.add("ZamCompX2", threshold_db=-26, ratio=3)
    np.testing.assert_allclose(render(edited, tail=False).audio, render(built, tail=False).audio, atol=1e-6)
    assert [s.plugin.get("threshold_db") for s in track.chain] == [-30.0, -26.0]


def test_a_removed_plugin_is_freed_where_the_garbage_collector_never_looks():
    # The engine process freezes its objects and leaves the cyclic collector off (rackhost.live.process): a VST3
    # whose parameter wrappers point back at it was never freed there. Two updates later it is, by refcount.
    import gc
    import weakref

    session = _session(program_signal(2, 0.5, seed=32), with_input_track=False)
    engine = LiveEngine(session)
    engine.update()
    chain = session.tracks[0].chain
    removed = weakref.ref(chain[0].plugin.instance)  # ZamCompX2: its parameter wrappers were built when loaded
    enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        chain.remove(0)
        engine.update()  # the swap: the old audio state may still be running it for a block
        engine.update()  # the next edit: now it goes
        assert removed() is None
        assert [s.name for s in chain] == ["ZamEQ2"] and len(chain[0].plugin.instances) == 2
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()
