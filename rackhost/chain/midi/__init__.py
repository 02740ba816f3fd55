"""MIDI's model: files as timed events, instrument tracks, controller mappings (ports and live input: rackhost.live).

Small modules, one concept each: :mod:`.sequence` (MIDI files, tempo map),
:mod:`.instrument` (an instrument plug-in played block by block),
:mod:`.mapping` (CC mappings, learn, program map). Ports and the live input
(what the live engine drains at each block) are in :mod:`rackhost.live.midi_ports`
and :mod:`rackhost.live.midi_input`.
"""

from rackhost.chain.midi.instrument import InstrumentPlayer, InstrumentSource, release_messages
from rackhost.chain.midi.mapping import CCMapping, MappingTarget, MidiMap, ProgramEntry
from rackhost.chain.midi.sequence import MidiSequence, read_midi_file

__all__ = [
    "CCMapping", "InstrumentPlayer", "InstrumentSource", "MappingTarget", "MidiMap", "MidiSequence", "ProgramEntry",
    "read_midi_file", "release_messages",
]
