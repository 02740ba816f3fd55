"""A session: tracks, a master bus, a sample rate and a block size.

A session does not render: :func:`rackhost.chain.render.render` takes one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rackhost.chain.chain import Chain
from rackhost.chain.history import Editor, History
from rackhost.chain.master import MasterBus
from rackhost.chain.midi.mapping import MidiMap
from rackhost.chain.mixer import MasterStrip, MixSnapshot, TrackStrip, strip_gains
from rackhost.chain.plugin import Plugin
from rackhost.chain.source import ArraySource, AudioFileSource
from rackhost.chain.track import Track
from rackhost.errors import SessionError, TrackBounceError

DEFAULT_SAMPLE_RATE = 48000
DEFAULT_BLOCK_SIZE = 512


@dataclass(eq=False)
class Session:
    sample_rate: int = DEFAULT_SAMPLE_RATE
    block_size: int = DEFAULT_BLOCK_SIZE
    tracks: list[Track] = field(default_factory=list)
    master: MasterBus = field(default_factory=MasterBus)
    midi: MidiMap = field(default_factory=MidiMap)  # controller mappings and the program map
    history: History = field(default_factory=History, repr=False)
    # A one-file bounce ('rackhost render FILE --chain'): the render comes out as wide as the file after
    # its chains, at unity (rackhost.chain.mixer.bounced). A property of the render, never saved in a file.
    track_bounce: bool = field(default=False, repr=False)

    @property
    def edit(self) -> Editor:
        """Change the model with undo: ``session.edit.set_parameter(slot, "ratio", 4)``."""
        return Editor(self.history)

    def undo(self) -> str | None:
        return self.history.undo()

    def redo(self) -> str | None:
        return self.history.redo()

    def __post_init__(self) -> None:
        if not 8000 <= self.sample_rate <= 384000:
            raise SessionError(f"sample rate {self.sample_rate!r} Hz is outside 8000..384000 Hz")
        if not 16 <= self.block_size <= 16384:
            raise SessionError(f"block size {self.block_size!r} is outside 16..16384 frames")

    # -- tracks -------------------------------------------------------------------

    def add_track(
        self,
        name: str,
        source: ArraySource | str | Path | None = None,
        chain: Chain | None = None,
        **options: object,
    ) -> Track:
        """Add a track; ``source`` may be an audio file path.

        ``options``: gain_db, pan, mute, solo, input, armed; for an instrument
        track (no source) ``instrument`` (a Plugin, or a name such as "Kars"),
        ``midi_channel`` (1..16, None for all) and ``midi`` (a MidiSequence).
        """
        if any(t.name == name for t in self.tracks):
            raise SessionError(f"a track named {name!r} already exists; track names are unique")
        if isinstance(source, (str, Path)):
            source = AudioFileSource(source)
        if isinstance(options.get("instrument"), str):  # an instrument track: a plug-in name or path
            options["instrument"] = Plugin.create(options["instrument"])  # type: ignore[arg-type]
        track = Track(name, source, chain or Chain(), **options)  # type: ignore[arg-type]
        self.tracks.append(track)
        return track

    def track(self, name: str) -> Track:
        for track in self.tracks:
            if track.name == name:
                return track
        raise KeyError(f"no track named {name!r}; tracks: {', '.join(t.name for t in self.tracks) or '(none)'}")

    def remove_track(self, name: str) -> Track:
        track = self.track(name)
        self.tracks.remove(track)
        return track

    def audible_tracks(self) -> list[Track]:
        """Tracks that reach the master: not muted, and soloed if anything is soloed (mute beats solo)."""
        soloing = any(t.solo for t in self.tracks)
        return [t for t in self.tracks if not t.mute and (t.solo or not soloing)]

    # -- processing ---------------------------------------------------------------

    def snapshot(self, max_segment: int | None = None) -> MixSnapshot:
        """An immutable, ready-to-run picture of the session for the block engine.

        Tracks with less latency than the slowest track are delayed to match it
        (plug-in delay compensation), so all arrive at the master aligned. The
        slowest of every track, heard or not: a mute or a solo must not move the
        others in time.
        """
        sr, block = float(self.sample_rate), self.block_size
        segment = max_segment or block
        if segment % block:
            raise ValueError(f"segment length {segment} is not a multiple of the block size {block}")
        if self.track_bounce and len(self.tracks) != 1:
            raise TrackBounceError(len(self.tracks))
        notes: list[str] = []
        prepared = []
        audible = self.audible_tracks()
        for index, track in enumerate(self.tracks):
            if track.source is None and not track.input and track.instrument is None and track in audible:
                raise SessionError(f"track {track.name!r} has no source; give it an audio file, an input "
                                   f"or an instrument")
            if track.instrument is not None:
                note = track.instrument.configure(2, sr)
                notes += [f"track {track.name!r}: {note}"] if note else []
            notes += [f"track {track.name!r}: {n}"
                      for n in track.chain.configure(track.channels, sr, track.keep_mono)]
            processor = track.chain.processor(track.channels, sr, block, segment, track.keep_mono)
            prepared.append((index, track, processor))
        notes += [f"master: {n}" for n in self.master.chain.configure(2, sr)]
        longest = max((p.latency for _, _, p in prepared), default=0)
        strips = tuple(
            TrackStrip(track.name, index, track.channels, processor, longest - processor.latency, segment)
            for index, track, processor in prepared
        )
        master_chain = self.master.chain.processor(2, sr, block, segment)
        master = MasterStrip(master_chain, self.master.gain_db)
        gains, flags = self.mix_gains(tuple(strip.width for strip in strips))
        return MixSnapshot(strips, master, sr, block, segment, longest + master_chain.latency, gains, flags,
                           tuple(notes))

    def mix_gains(self, widths: tuple[int, ...] | None = None) -> tuple[np.ndarray, tuple[bool, ...]]:
        """Each track's left and right gain in the mix (tracks, 2, 1), and whether it reaches the master.

        Fader and pan, zero for a track muted or silenced by a solo, and for an
        input that is not monitored (it still runs and records, unheard). The
        pan is a pan law for a track that is mono after its chain and a balance
        for one that is stereo (``widths``: each track's width after its chain,
        by default worked out from the chains).
        """
        audible = self.audible_tracks()
        flags = tuple(t in audible for t in self.tracks)
        if widths is None:
            widths = tuple(t.width(self.sample_rate) for t in self.tracks)
        gains = np.array(
            [strip_gains(t.gain_db if heard and (t.monitor or not t.input) else -math.inf, t.pan, width)
             for t, heard, width in zip(self.tracks, flags, widths)],
            np.float32,
        ).reshape(len(self.tracks), 2, 1)
        return gains, flags

    def remix(self, snapshot: MixSnapshot) -> MixSnapshot:
        """``snapshot`` with this session's faders, pans, mutes, solos and master gain; the chains are untouched."""
        gains, flags = self.mix_gains(tuple(strip.width for strip in snapshot.tracks))
        return snapshot.remixed(gains, flags, self.master.gain_db)

    def reset(self) -> None:
        """Clear every plug-in's audio state, as before a fresh render."""
        for track in self.tracks:
            track.chain.reset()
            if track.instrument is not None:
                track.instrument.reset()
        self.master.chain.reset()

    def length(self) -> int:
        """Frames of the longest audible source (audio file, or an instrument track's MIDI) at the session rate."""
        return max(
            [t.source.audio(self.sample_rate).shape[1] for t in self.audible_tracks() if t.source]
            + [t.midi.length(self.sample_rate) for t in self.audible_tracks() if t.instrument and t.midi],
            default=0,
        )

