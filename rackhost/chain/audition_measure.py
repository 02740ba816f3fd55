"""Measuring an audition's matching offsets: each side's loudness over the loop range, as the strip hears it.

A track's chain is measured on its file (:func:`measure_track`). A bus's or
the master's input is what the mix feeds it, so the session is rendered up to
it (:func:`measure_in_mix`) over the loop range, on a copy of the session with
plug-in instances of its own: the playing instances are only read (never run,
see :meth:`rackhost.chain.plugin.Plugin.clone`), so a measurement made on the
live engine's control thread leaves the audio untouched. What the strip's
input and its chain's output were is taken where its audition stage sits in
the block engine, the one code path of render and live playback.
:func:`measure_audition` is what the window and the live engine call.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rackhost.chain.audition import Audition, Auditioned, match_offset
from rackhost.chain.compare import ABCompare
from rackhost.chain.matching import MatchError
from rackhost.chain.offline import SEGMENT_TARGET_FRAMES, run_range
from rackhost.chain.session import Session
from rackhost.chain.source import ArraySource
from rackhost.chain.track import Track

if TYPE_CHECKING:
    from rackhost.chain.chain import Chain

Span = tuple[int, int]  # frames: the loop range; None for the whole session


def measure_audition(session: Session, strip: Auditioned, span: Span | None = None) -> Audition:
    """``strip``'s audition (a track, a bus or the master of ``session``) with its matching offsets measured
    over ``span``: the A and B settings against the input, and for a blind test against a bypassed slot
    (:attr:`Audition.compare_slot`) that side's too. Raises :class:`~rackhost.chain.matching.MatchError`."""
    rate, block = float(session.sample_rate), session.block_size
    audition = strip.audition
    slot = audition.compare_slot
    if isinstance(strip, Track):
        offsets = measure_track(strip, rate, block, span)
        bypassed = measure_bypassed(strip, slot, rate, block, span) if slot is not None else None
    else:
        playing = measure_in_mix(session, strip, None, span)
        other = measure_in_mix(session, strip, strip.ab.other, span) if strip.ab.other is not None else playing
        offsets = (playing, other) if strip.ab.active == "A" else (other, playing)
        bypassed = measure_in_mix(session, strip, _bypassed(strip.chain, slot), span) if slot is not None else None
    audition = replace(audition, offsets=offsets)
    return audition if bypassed is None else replace(audition, other_offset=bypassed)


def measure_track(track: Track, sample_rate: float, block: int, span: Span | None = None) -> tuple[float, float]:
    """The matching offsets (dB) of ``track``'s A and B settings against its file over ``span`` (frames; None:
    all of it); a setting not made yet gets the playing one's."""
    playing = _measure_chain(track, track.chain, sample_rate, block, span)
    other = (_measure_chain(track, track.ab.other, sample_rate, block, span) if track.ab.other is not None
             else playing)
    return (playing, other) if track.ab.active == "A" else (other, playing)


def measure_bypassed(track: Track, slot: int, sample_rate: float, block: int, span: Span | None = None) -> float:
    """The matching offset (dB) of ``track``'s chain with slot ``slot`` bypassed, against its file over ``span``."""
    return _measure_chain(track, _bypassed(track.chain, slot), sample_rate, block, span)


def _bypassed(chain: Chain, slot: int) -> Chain:
    copied = chain.clone(flush=False)
    copied.set_bypass(slot, True)
    return copied


def _measure_chain(track: Track, chain: Chain, sample_rate: float, block: int, span: Span | None) -> float:
    """Runs a fresh processor of a copy of ``chain`` (the render code, block by block), so the playing
    plug-ins keep their state."""
    if track.source is None:
        raise MatchError(f"track {track.name!r} has no audio file to measure; matching measures a file's "
                         f"loop range (give it a file)")
    audio = track.source.audio(sample_rate)
    start, end = span if span is not None else (0, audio.shape[1])
    if start >= audio.shape[1]:
        raise MatchError(f"the loop range {start / sample_rate:.1f}-{end / sample_rate:.1f} s lies past the end of "
                         f"track {track.name!r} ({audio.shape[1] / sample_rate:.1f} s): set the loop inside it, or "
                         f"turn the loop off to match over the whole file")
    dry = np.ascontiguousarray(audio[:, start:end])
    chain = chain.clone(flush=False)
    processor = chain.processor(track.channels, sample_rate, block, block, track.keep_mono)
    latency = processor.latency
    frames = dry.shape[1] + latency
    padded = np.zeros((dry.shape[0], -(-frames // block) * block), np.float32)
    padded[:, : dry.shape[1]] = dry
    wet = np.concatenate([processor.run(padded[:, i : i + block], 0) if processor.stages
                          else padded[:, i : i + block] for i in range(0, padded.shape[1], block)], axis=1)
    return match_offset(dry, wet[:, latency : latency + dry.shape[1]], sample_rate)


def measure_in_mix(session: Session, strip: Auditioned, chain: Chain | None = None, span: Span | None = None) -> float:
    """The matching offset (dB) of ``strip`` (a bus or the master of ``session``) playing ``chain`` (None: its
    own), against what the mix feeds it over ``span`` (frames of the session; None: all of it).

    The strips before it play their chains as they are (their own auditions left out), every plug-in a
    fresh copy; the sources end with the span, and the render runs on until all of it has come through.
    """
    rate = float(session.sample_rate)
    start, end = span if span is not None else (0, session.length())
    twin, placed = _measuring_copy(session, strip, end)
    if chain is not None:
        placed.chain = chain.clone(flush=False)
    block = session.block_size
    segment = block * max(1, SEGMENT_TARGET_FRAMES // block)
    snap = twin.snapshot(max_segment=segment)
    sides = _Sides()
    if placed is twin.master:
        snap.master.audition = sides
        latency = snap.master.chain.latency
    else:
        assert snap.router is not None  # a session with a bus routes through the router
        bus = snap.router.busses[twin.busses.index(placed)]  # type: ignore[arg-type]
        bus.audition = sides
        latency = bus.chain.latency
    run_range(twin, snap, start, end + snap.latency)
    dry, wet = sides.taken()
    frames = dry.shape[1] - latency
    if frames <= 0:
        raise MatchError(f"{strip.strip_name}: no audio file plays into it{' over the loop range' if span else ''}, "
                         f"so there is nothing to measure; matching measures what the files play (give a track "
                         f"feeding it a file, or move the loop range)")
    try:
        return match_offset(dry[:, :frames], wet[:, latency:], rate)
    except MatchError as err:
        raise MatchError(f"{strip.strip_name}: {err}") from None


def _measuring_copy(session: Session, strip: Auditioned, end: int) -> tuple[Session, Auditioned]:
    """A copy of ``session`` to render beside it: new plug-in instances (the playing ones only read), sources
    cut at frame ``end``, no A/B settings, auditions or blind-test copies; and ``strip``'s copy in it."""
    rate = float(session.sample_rate)
    memo: dict[int, Any] = {}
    strips: list[Auditioned] = [*session.tracks, *session.busses, session.master]
    for owner in strips:
        for slot in owner.chain.plugin_slots():
            memo[id(slot.plugin)] = slot.plugin.clone(flush=False)
        memo[id(owner.ab)] = ABCompare()
        memo[id(owner.audition)] = Audition()
        if owner._twin is not None:
            memo[id(owner._twin)] = None
    for track in session.tracks:
        if track.instrument is not None:
            memo[id(track.instrument)] = track.instrument.clone(flush=False)
        if track.source is not None:
            memo[id(track.source)] = ArraySource(track.source.audio(rate)[:, :end], rate, track.name)
    tracks, busses, master = copy.deepcopy((session.tracks, session.busses, session.master), memo)
    twin = Session(session.sample_rate, session.block_size, tracks, busses, master)
    return twin, [*tracks, *busses, master][strips.index(strip)]


class _Sides:
    """Stands where a strip's audition stage does, taking its input and its chain's output block by block."""

    needed = True

    def __init__(self) -> None:
        self._dry: list[np.ndarray] = []
        self._wet: list[np.ndarray] = []

    def __call__(self, source: np.ndarray, processed: np.ndarray) -> np.ndarray:
        self._dry.append(source.copy())
        self._wet.append(processed.copy())
        return processed

    def taken(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._dry:
            return np.zeros((2, 0), np.float32), np.zeros((2, 0), np.float32)
        return np.concatenate(self._dry, axis=1), np.concatenate(self._wet, axis=1)
