"""A track: a source, its chain, and how it reaches the master or a bus (gain, pan, mute, solo, output, sends)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rackhost.chain.audition import Audition, Auditioned
from rackhost.chain.bus import Routed, Send
from rackhost.chain.chain import Chain
from rackhost.chain.colors import check_color
from rackhost.chain.compare import ABCompare
from rackhost.chain.midi.sequence import MidiSequence
from rackhost.chain.plugin import MissingPlugin, Plugin
from rackhost.chain.source import ArraySource

if TYPE_CHECKING:
    from rackhost.chain.automation import Envelope


@dataclass(eq=False)
class Track(Routed, Auditioned):
    name: str
    source: ArraySource | None = None
    chain: Chain = field(default_factory=Chain)
    gain_db: float = 0.0
    pan: float = 0.0
    mute: bool = False
    solo: bool = False
    ab: ABCompare = field(default_factory=ABCompare)
    input: tuple[int, ...] = ()  # live input: one or two device channels (0-based), played through the chain
    armed: bool = False  # record this track's input (dry) and chain output (wet) when the transport records
    monitor: bool = True  # hear a live input through the chain; off, it is still recorded but not in the mix
    # An instrument track: the source is this instrument plug-in, played from MIDI (a file offline, an input live).
    instrument: Plugin | None = None
    midi_channel: int | None = None  # 1..16: the MIDI channel it listens to; None: every channel (omni)
    midi: MidiSequence | None = None  # what it plays in an offline render
    # A mono track stays mono through stereo-only plug-ins (their outputs summed back) instead of widening.
    keep_mono: bool = False
    output: str | None = None  # None: the master; or the name of a bus
    sends: list[Send] = field(default_factory=list)
    automation: list[Envelope] = field(default_factory=list)  # envelopes on its slots, fader, pan, mute, sends
    color: str | None = None  # '#rrggbb': its strip's band and its overview row; None until a session places it
    audition: Audition = field(default_factory=Audition)  # bypass-compare at matched loudness, delta

    def __post_init__(self) -> None:
        if not -1.0 <= self.pan <= 1.0:
            raise ValueError(f"pan of track {self.name!r} must be between -1 (left) and 1 (right); got {self.pan!r}")
        self.input = tuple(self.input)
        self.sends = list(self.sends)
        self.color = check_color(f"track {self.name!r}", self.color)
        if len(self.input) > 2 or any(not isinstance(c, int) or c < 0 for c in self.input):
            raise ValueError(f"input of track {self.name!r} must be one or two device channels (0, 1, ...); "
                             f"got {self.input!r}")
        if self.midi_channel is not None and (
            isinstance(self.midi_channel, bool) or not isinstance(self.midi_channel, int)
            or not 1 <= self.midi_channel <= 16
        ):
            raise ValueError(f"MIDI channel of track {self.name!r} must be 1..16, or None for every channel; "
                             f"got {self.midi_channel!r}")
        if self.instrument is not None:
            if not self.instrument.is_instrument and not isinstance(self.instrument, MissingPlugin):
                raise ValueError(f"{self.instrument.name} is an effect, not an instrument: put it in the chain of "
                                 f"track {self.name!r}, or pick an instrument plug-in (Kars, Nekobi...)")
            if self.source is not None or self.input:
                raise ValueError(f"track {self.name!r} has an instrument, so it cannot also play "
                                 f"{'an audio file' if self.source is not None else 'an input'}")

    @property
    def channels(self) -> int:
        """A track runs at its source's width: mono sources (one input channel, a mono file) make mono tracks.

        Instrument tracks are stereo (a mono instrument feeds both channels).
        """
        if self.instrument is not None:
            return 2
        if self.input:
            return len(self.input)
        return self.source.channels if self.source is not None else 2

    def width(self, sample_rate: float) -> int:
        """How wide the track is after its chain: a mono track turns stereo at its first stereo-only
        plug-in (from there its pan is a balance), unless :attr:`keep_mono`. Configures the plug-ins."""
        return self.chain.output_channels(self.channels, sample_rate, self.keep_mono)

    def width_label(self, sample_rate: float) -> str:
        """``mono``, ``mono>stereo`` (widened by its chain) or ``stereo``, for a strip."""
        if self.channels == 2:
            return "stereo"
        return "mono>stereo" if self.width(sample_rate) == 2 else "mono"
