"""A snapshot rebuilt while playing continues the running paths: a latent plug-in's FIFO and the delay lines
that align a split's branches to it carry over, so a rebuild (any edit elsewhere, a synced document) leaves no
gap of silence and no path slips by a plug-in's latency. The callback is called directly, as the device would
(tests/test_live_split.py runs the same graph under JACK)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, program_signal
from test_live_callback import BLOCK, _run, _started

from rackhost.chain import ArraySource, Session, render
from rackhost.cli.chain_spec import parse_chain
from rackhost.live.commands import Sync
from rackhost.live.process import SessionLoader, apply_command
from rackhost.presets import session_to_dict
from rackhost.presets.session_sync import resync, session_from_document

CHAINS = {
    "a latent branch beside a dry one": "[ZaMaximX2(threshold_db=-6) @ -6 | ]",
    "a latent plug-in half wet": "ZaMaximX2(threshold_db=-6, _mix=0.5)",
    "a latent plug-in in a chain": "Gain(gain_db=-2); ZaMaximX2(threshold_db=-6)",
    "a latent branch beside a compressed one": "[ZaMaximX2(threshold_db=-6) | Compressor(threshold_db=-30) @ -3]",
}


def _session(chain: str, signal: np.ndarray | None = None) -> Session:
    session = Session(sample_rate=SR, block_size=BLOCK)
    track = session.add_track("guitar", None, input=(0, 1)) if signal is None else \
        session.add_track("guitar", ArraySource(signal, SR))
    track.chain = parse_chain(chain)
    return session


def _offline(chain: str, signal: np.ndarray) -> tuple[np.ndarray, int]:
    session = _session(chain, signal)
    return render(session, tail=False).audio, session.snapshot().latency


def _assert_as_offline(live: np.ndarray, chain: str, signal: np.ndarray) -> None:
    offline, latency = _offline(chain, signal)
    assert latency == 480  # ZaMaximX2's lookahead: the path every other one is aligned to
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])


@pytest.mark.parametrize("chain", CHAINS.values(), ids=CHAINS.keys())
def test_rebuilds_during_steady_play_leave_no_gap_and_no_slip(chain):
    signal = program_signal(2, 1.0, seed=31)[:, : BLOCK * 160]
    engine = _started(_session(chain))
    pieces = []
    for start in range(0, signal.shape[1], BLOCK * 20):  # a rebuild every 20 blocks, as edits elsewhere make
        pieces.append(_run(engine, signal[:, start : start + BLOCK * 20]))
        engine.update()
    _assert_as_offline(np.concatenate(pieces, axis=1), chain, signal)


def test_a_synced_document_rebuilds_the_split_around_its_running_plugins_without_a_gap():
    chain = CHAINS["a latent branch beside a dry one"]
    signal = program_signal(2, 1.0, seed=32)[:, : BLOCK * 120]
    session = _session(chain)
    engine = _started(session)
    loader = SessionLoader("unused", load=session_from_document, resync=resync)
    first = _run(engine, signal[:, : BLOCK * 60])
    # The window's own copy of the session, as it sends it (saving a session flushes silence through its
    # plug-ins, which the engine's running ones must never get).
    document = session_to_dict(_session(chain))
    apply_command(engine, Sync(document), loader)  # a new session: a new split, the same plug-in instances
    assert engine.session is not session
    engine.update()
    second = _run(engine, signal[:, BLOCK * 60 :])
    live = np.concatenate([first, second], axis=1)
    offline, latency = _offline(chain, signal)
    difference = np.abs(live[:, latency:] - offline[:, : live.shape[1] - latency])
    np.testing.assert_array_equal(difference[:, : BLOCK * 60 - latency], 0.0)
    # The document holds values at the precision a file keeps them: the sync sets the threshold it read back
    # (a hair from the one the chain was made with), which the maximizer follows within a few ms. A gap
    # or a slip would differ by the signal itself (0.5 and more).
    assert difference.max() < 1e-3


def test_a_render_after_live_play_starts_afresh_as_a_render_of_a_new_session():
    chain = CHAINS["a latent branch beside a dry one"]
    signal = program_signal(2, 0.5, seed=33)
    session = _session(chain)
    engine = _started(session)
    _run(engine, signal[:, : BLOCK * 30])
    engine.update()
    session.tracks[0].input = ()
    session.tracks[0].source = ArraySource(signal, SR)
    again = render(session, tail=False).audio  # the render resets the plug-ins, and what stands beside them
    np.testing.assert_array_equal(again, _offline(chain, signal)[0])


def test_rebuilds_of_a_routed_session_keep_every_path_aligned_at_its_summing_points():
    """Splits on a track and a bus, a plain track delayed at the master to meet them, a send to a reverb bus:
    the alignment delays at the summing points carry over too."""
    from test_live_split import _split_session

    signal = program_signal(2, 1.0, seed=34)[:, : BLOCK * 160]
    engine = _started(_split_session())
    pieces = []
    for start in range(0, signal.shape[1], BLOCK * 20):
        pieces.append(_run(engine, signal[:, start : start + BLOCK * 20]))
        engine.update()
    live = np.concatenate(pieces, axis=1)
    offline_session = _split_session(signal)
    offline = render(offline_session, tail=False).audio
    latency = offline_session.snapshot().latency
    assert latency == 480 + 240
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])


# -- while auditioning: the audition's delay lines carry over too ---------------------------------------------


LATENT = "ZamCompX2(threshold_db=-24, ratio=6); ZaMaximX2(threshold_db=-3)"
QUICK = "Compressor(threshold_db=-30, ratio=4)"
# (strip, its chain, the A/B setting not playing or None, what is heard)
AUDITIONS = {
    "a track's delta (its input delayed to the chain)": ("track", LATENT, None, {"delta": True}),
    "a track's input, compared": ("track", LATENT, None, {"side": "input", "match": False}),
    "the master's delta": ("master", LATENT, None, {"delta": True}),
    "a blind test's quicker other setting (delayed to the chain)": (
        "track", LATENT, QUICK, {"side": "other", "match": False, "runs_other": True}),
    "a blind test's chain, waiting for a slower other setting": (
        "track", QUICK, LATENT, {"side": "chain", "match": False, "runs_other": True}),
    "a bus's delta": ("bus", LATENT, None, {"delta": True}),
    "a blind test's quicker other setting on a bus": (
        "bus", LATENT, QUICK, {"side": "other", "match": False, "runs_other": True}),
    "a blind test's quicker other setting on the master": (
        "master", LATENT, QUICK, {"side": "other", "match": False, "runs_other": True}),
}


def _auditioned(strip: str, chain: str, other: str | None, heard: dict, signal: np.ndarray | None = None) -> Session:
    from rackhost.chain.audition import Audition

    session = _session(chain if strip == "track" else "", signal)
    owner = {"track": session.tracks[0], "master": session.master}.get(strip)
    if strip == "bus":
        owner = session.add_bus("group")
        session.tracks[0].output = "group"
    if strip != "track":
        owner.chain = parse_chain(chain)
    if other is not None:
        owner.ab.other = parse_chain(other)
    owner.audition = Audition(**heard)
    return session


@pytest.mark.parametrize("case", AUDITIONS.values(), ids=AUDITIONS.keys())
def test_rebuilds_while_auditioning_leave_no_gap_in_the_auditions_delay_lines(case):
    """A structural edit while auditioning (an A/B blind test, a delta, the input compared) rebuilds the snapshot:
    the audition's own delay lines (the input delayed to the chain, one A/B side delayed to the other) carry
    over as the mix's do, or each edit played a gap of silence as long as the chain's latency, and a click."""
    signal = program_signal(2, 1.0, seed=35)[:, : BLOCK * 160]
    engine = _started(_auditioned(*case))
    pieces = []
    for start in range(0, signal.shape[1], BLOCK * 20):
        pieces.append(_run(engine, signal[:, start : start + BLOCK * 20]))
        engine.update()
    live = np.concatenate(pieces, axis=1)
    offline_session = _auditioned(*case, signal=signal)
    offline = render(offline_session, tail=False).audio
    latency = offline_session.snapshot().latency
    assert latency == 480
    assert np.max(np.abs(offline)) > 0.05  # what is heard is not silence (a delta of nothing would pass anything)
    np.testing.assert_array_equal(live[:, latency:], offline[:, : live.shape[1] - latency])
