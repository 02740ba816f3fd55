"""Envelopes driven as the live callback drives them, without a device: shared by the automation tests."""

from __future__ import annotations

import numpy as np

from rackhost.chain import Session


def render_block_by_block(session: Session, block: int) -> np.ndarray:
    """``session``'s first track (a file, stereo) and its master run as the live callback runs them: reset, the
    automated slots primed, then track render / mix_tracks / master render one ``block`` at a time with the
    transport position; the output trimmed to the file's length, to compare with an offline render."""
    session.reset()
    snap = session.snapshot(max_segment=block)
    if snap.automation is not None:
        snap.automation.prime()  # as the live engine does after a reset
    source = session.tracks[0].source.audio(session.sample_rate)
    frames = source.shape[1]
    padded = np.zeros((2, -(-frames // block) * block), np.float32)
    padded[:, :frames] = source
    strips = np.zeros((1, 2, block), np.float32)
    mix = np.zeros((2, block), np.float32)
    out = np.zeros_like(padded)
    for pos in range(0, padded.shape[1], block):
        snap.tracks[0].render(padded[:, pos:pos + block], strips[0], pos)
        snap.master.render(snap.mix_tracks(strips, mix, pos), out[:, pos:pos + block], pos)
    return out[:, :frames]
