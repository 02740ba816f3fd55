"""A track: a source, its chain, and how it reaches the master or a bus (gain, pan, mute, solo, output, sends)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rackhost.chain.audition import Audition, AuditionStage
from rackhost.chain.bus import Routed, Send
from rackhost.chain.chain import Chain, ChainProcessor, Slot
from rackhost.chain.compare import ABCompare
from rackhost.chain.midi.sequence import MidiSequence
from rackhost.chain.plugin import MissingPlugin, Plugin
from rackhost.chain.source import ArraySource
from rackhost.errors import SessionError

if TYPE_CHECKING:
    from rackhost.chain.automation import Envelope


@dataclass(eq=False)
class Track(Routed):
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
    audition: Audition = field(default_factory=Audition)  # bypass-compare at matched loudness, delta
    # A blind test's copy of the chain with one slot bypassed: ((slot, length, chain id), copy), or None.
    _twin: tuple[tuple[int, int, int], Chain] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not -1.0 <= self.pan <= 1.0:
            raise ValueError(f"pan of track {self.name!r} must be between -1 (left) and 1 (right); got {self.pan!r}")
        self.input = tuple(self.input)
        self.sends = list(self.sends)
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

    def audition_stage(self, latency: int, max_segment: int, sample_rate: float,
                       other: ChainProcessor | None = None) -> AuditionStage:
        """The audio path's audition after this track's chain (``latency`` frames late); ``other``: the
        inactive A/B setting's processor (:meth:`other_processor`), run beside it."""
        delay = latency - other.latency if other is not None else 0
        return AuditionStage(self.audition.gains(self.ab.active), self.channels, latency, max_segment, sample_rate,
                             other, delay)

    def other_processor(self, sample_rate: float, block: int, segment: int, width: int) -> ChainProcessor | None:
        """The inactive A/B setting's processor while a blind test runs it beside the chain
        (:attr:`Audition.runs_other`), else None. ``width``: the playing chain's output width, which B must
        match to be switched to."""
        if not self.audition.runs_other:
            return None
        other = self.ab.other if self.audition.compare_slot is None else self._bypassed_twin()
        if other is None:
            return None
        processor = other.processor(self.channels, sample_rate, block, segment, self.keep_mono)
        if (processor.channels or self.channels) != width:
            raise SessionError(f"track {self.name!r}: its A and B settings differ in width (one has a stereo-only "
                               f"plug-in the other lacks), so they cannot be switched blind; make both mono or "
                               f"both stereo")
        return processor

    def _bypassed_twin(self) -> Chain:
        """A copy of the chain with the compared slot bypassed (own plug-in instances, so it runs beside the
        chain); made once per compared slot and chain length, so a rebuild keeps its state."""
        slot = self.audition.compare_slot
        assert slot is not None
        if not 0 <= slot < len(self.chain):
            raise SessionError(f"track {self.name!r} has no slot {slot + 1} to compare bypassed (its chain has "
                               f"{len(self.chain)}); pick one of its slots")
        made = self._twin
        if made is None or made[0] != (slot, len(self.chain), id(self.chain)):
            # Copied without running the playing plug-ins (see Plugin.clone), which may be processing now.
            twin = Chain([Slot(s.plugin.clone(flush=False), s.bypass, s.mix, s.key) if isinstance(s, Slot)
                          else s.clone() for s in self.chain])
            twin.set_bypass(slot, True)
            self._twin = made = ((slot, len(self.chain), id(self.chain)), twin)
        return made[1]

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
