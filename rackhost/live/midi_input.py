"""MIDI in the live engine: inputs, mapped controllers, instrument tracks, program changes, learn.

Three threads touch this, each with its own part:

* **MIDI threads** (python-rtmidi's, one per open input) only append
  ``(arrival time, bytes)`` to :attr:`LiveMidi.inbox`, a ``collections.deque``
  (``append``/``popleft`` are atomic in CPython: no lock).
* **The audio thread** calls :meth:`LiveMidi.block_start` once per block. It
  drains the inbox: a mapped controller sets its parameters at once (the same
  ``setattr`` on the plug-in instances as the engine's parameter queue), notes
  and controllers go to the instrument tracks listening on their channel, placed
  at sample offsets that keep their spacing (one block of latency), and anything
  that needs the session model (program changes, learn, gain/pan/mute) is
  handed to the control thread through :attr:`LiveMidi.control`. It never
  loads, logs, locks or touches the model.
* **The control thread** calls :meth:`LiveMidi.poll` (the engine's ``poll()``
  does): it recalls presets for program changes (prepared off the audio
  thread, then swapped in by the engine's ``update()``), binds learned
  controllers, applies gain/pan/mute, and returns events for the user.

What the audio thread reads is rebuilt by :meth:`LiveMidi.prepare` whenever the
engine prepares a new state, and swapped in by one assignment.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rackhost.chain.midi.instrument import InstrumentPlayer, release_messages
from rackhost.chain.midi.mapping import (
    CCMapping,
    MidiMappingError,
    apply_value,
    cc_fraction,
    cc_messages,
    position,
    resolve,
)
from rackhost.chain.midi.sequence import MidiSequence

if TYPE_CHECKING:
    from rackhost.chain.session import Session

INBOX_SIZE = 4096  # messages waiting for the audio thread; the oldest are dropped if it stalls
NOTE_LIKE = frozenset({0x80, 0x90, 0xA0, 0xB0, 0xD0, 0xE0})  # what an instrument plays (CCs too: sustain, mod)

# (session, track index or None for the master, preset "stage/name") -> a line for the user.
ProgramLoader = Callable[["Session", "int | None", str], str]


class InstrumentFeed:
    """An instrument track's input in the live engine: MIDI from the inputs, and its MIDI file while playing.

    Same interface as the engine's audio feeds (``read(indata, position, playing)``);
    the audio comes from the same :class:`InstrumentPlayer` an offline render uses.
    """

    __slots__ = ("player", "channel", "sequence", "pending")

    def __init__(self, player: InstrumentPlayer, channel: int | None, sequence: MidiSequence | None):
        self.player = player
        self.channel = channel
        self.sequence = sequence.for_channel(channel) if sequence is not None else None
        self.pending: list[tuple[int, bytes]] = []  # filled by LiveMidi.block_start, emptied by read()

    def read(self, indata: np.ndarray, position: int, playing: bool) -> np.ndarray:
        frames = indata.shape[0]
        events = self.pending
        if playing and self.sequence is not None:
            events = sorted(events + self.sequence.window(self.player.sample_rate, position, position + frames),
                            key=_offset)
        out = self.player.render(frames, events)
        self.pending = []
        return out


def _offset(event: tuple[int, bytes]) -> int:
    return event[0]


@dataclass(frozen=True)
class _Binding:
    """A mapping resolved for the audio thread: plug-in instances and a ready conversion, or a strip target."""

    mapping: CCMapping
    instances: tuple  # the slot's pedalboard instances (empty for gain/pan/mute: the control thread sets those)
    name: str
    convert: Callable[[float], Any]
    writes: bool = False  # its envelope is in touch or latch mode: its moves go to the control thread too


@dataclass(frozen=True)
class _Routing:
    """What the audio thread reads, rebuilt off it and swapped in whole."""

    bindings: dict  # (channel, controller) -> tuple of _Binding
    instruments: tuple  # InstrumentFeed, in track order


class LiveMidi:
    """The MIDI side of a :class:`~rackhost.live.LiveEngine` (see the module doc for the threads)."""

    def __init__(self, session: Session, inputs: Sequence[str] = (), *,
                 program_loader: ProgramLoader | None = None, output: str | None = None, required: bool = True):
        self.session = session
        self.inputs = tuple(inputs)
        self.required = required  # False: ports that cannot open are reported and the engine runs without them
        self.output = output  # feedback: mapped targets' positions sent here (motorized faders, LED rings)
        self._out_port: Any = None
        self._sent: dict = {}  # mapping -> the messages last sent for it
        self.program_loader = program_loader
        self.inbox: collections.deque = collections.deque(maxlen=INBOX_SIZE)
        self.control: collections.deque = collections.deque(maxlen=INBOX_SIZE)
        self._routing = _Routing({}, ())
        self._values = np.zeros((17, 128), np.int16)  # last value of each controller (channel 1..16), for 14-bit pairs
        self._pairs = _PairView(self._values)
        self._block_time = 0.0
        self._ports: list[Any] = []
        self.events: list[str] = []
        self.learned: list[CCMapping] = []  # mappings made by learn, for whoever keeps the session (a GUI)
        self.recalled: list[tuple[int | None, str]] = []  # (track, preset) program changes recalled, likewise
        self.received = 0  # messages drained by the audio thread (for tests and the status bar)

    # -- ports (control thread) -------------------------------------------------------

    def open(self) -> None:
        """Open every input (and the feedback output).

        A failure closes what was opened and raises MidiUnavailableError, or, when
        not :attr:`required`, is reported as an event and the engine runs without MIDI ports.
        """
        from rackhost.errors import MidiUnavailableError
        from rackhost.live.midi_ports import open_input

        try:
            for name in self.inputs:
                self._ports.append(open_input(name, self.receive))
            if self.output is not None:
                from rackhost.live.midi_ports import open_output

                self._out_port = open_output(self.output)
        except MidiUnavailableError as err:
            self.close()
            if self.required:
                raise
            self._report(f"MIDI is off: {err}")
            return
        except Exception:
            self.close()
            raise
        if self._ports or self._out_port is not None:
            outs = f"; feedback to {self._out_port.name}" if self._out_port is not None else ""
            self._report(f"MIDI in: {', '.join(self.port_names) or '(none)'}{outs}")

    def close(self) -> None:
        for port in self._ports + ([self._out_port] if self._out_port is not None else []):
            try:
                port.close()
            except Exception:  # noqa: BLE001 - closing a port of a vanished server must not stop a shutdown
                pass
        self._ports = []
        self._out_port = None

    @property
    def port_names(self) -> list[str]:
        return [getattr(p, "name", "?") for p in self._ports]

    def receive(self, message: Any) -> None:
        """Called on a MIDI thread for every incoming message (a mido Message, or raw bytes)."""
        data = message.bytes() if hasattr(message, "bytes") else message
        self.inbox.append((time.perf_counter(), bytes(data)))

    def release(self) -> None:
        """Sustain off and all notes off on every channel at the next block (transport stop, shutdown)."""
        now = time.perf_counter()
        for data in release_messages():
            self.inbox.append((now, data))

    # -- preparing what the audio thread reads (control thread) --------------------------

    def prepare(self, feeds: Sequence[Any], session: Session | None = None) -> None:
        """Resolve the session's mappings for the audio thread and note the instrument feeds.

        ``session``: the engine's session, when it was replaced (a resync); an armed learn carries over.
        """
        if session is not None and session is not self.session:
            session.midi.learning = session.midi.learning or self.session.midi.learning
            self.session = session
        bindings: dict = {}
        for mapping in self.session.midi.mappings:
            try:
                convert, info = resolve(mapping, self.session)
            except MidiMappingError as err:
                self._report(f"MIDI mapping skipped: {err}")
                continue
            instances, name = (), mapping.target.kind
            if mapping.target.kind == "parameter":
                plugin = mapping.target.plugin(self.session)
                instances, name = plugin.instances, mapping.target.parameter
                convert = _native(plugin, info, convert)
            binding = _Binding(mapping, instances, name, convert, _writes(mapping.target, self.session))
            for controller in (mapping.controller, mapping.lsb_controller):
                if controller is not None:
                    key = (mapping.channel, controller)
                    bindings[key] = bindings.get(key, ()) + (binding,)
        instruments = tuple(f for f in feeds if isinstance(f, InstrumentFeed))
        self._routing = _Routing(bindings, instruments)

    # -- the audio thread ------------------------------------------------------------------

    def block_start(self, frames: int, sample_rate: float) -> None:
        """Drain the inbox at the start of a block. Real-time: no allocation beyond small tuples, no locks."""
        now = time.perf_counter()
        last, self._block_time = self._block_time, now
        inbox = self.inbox
        if not inbox:
            return
        routing = self._routing
        span = max(now - last, 1e-6)
        learning = self.session.midi.learning is not None
        while inbox:
            arrived, data = inbox.popleft()
            self.received += 1
            status = data[0] & 0xF0
            channel = (data[0] & 0x0F) + 1
            if status == 0xB0 and len(data) == 3:
                controller, value = data[1], data[2]
                self._values[channel, controller] = value
                if learning:
                    self.control.append(("learn", channel, controller))
                    learning = False  # one controller binds; the rest of this block plays normally
                for binding in routing.bindings.get((channel, controller), ()):
                    fraction = cc_fraction(binding.mapping, self._pairs)
                    if binding.instances:
                        value_out = binding.convert(fraction)
                        for instance in binding.instances:
                            setattr(instance, binding.name, value_out)
                        if binding.writes:  # its envelope writes: the control thread records the move
                            self.control.append(("moved", binding.mapping, fraction))
                    else:
                        self.control.append(("strip", binding.mapping, fraction))
            elif status == 0xC0 and len(data) >= 2:
                self.control.append(("program", channel, data[1]))
            if status in NOTE_LIKE and routing.instruments:
                # Keep the spacing of messages within the last block period: one block of latency, no jitter.
                offset = int((arrived - last) / span * frames) if arrived > last else 0
                offset = min(max(offset, 0), frames - 1)
                for feed in routing.instruments:
                    if feed.channel is None or feed.channel == channel:
                        feed.pending.append((offset, data))

    # -- the control thread ----------------------------------------------------------------

    def poll(self, update: Callable[[], None], update_mix: Callable[[], None] | None = None,
             moved: Callable[[Any, object], bool] | None = None) -> list[str]:
        """Apply what the audio thread handed over; returns new events.

        ``update`` rebuilds the engine's state; ``update_mix`` swaps in new gains
        only, which is all a mapped fader, pan or mute needs. ``moved(target, value)``
        hears of every mapped target a controller moved (touch and latch writes), True if it was written.
        """
        new: list[str] = []
        strips: dict = {}
        parameters: dict = {}
        structural = False
        session = self.session
        while self.control:
            kind, *args = self.control.popleft()
            if kind == "learn":
                channel, controller = args
                request = session.midi.learning
                if request is None:
                    continue
                try:
                    mapping = session.midi.learn(channel, controller)
                    resolve(mapping, session)
                except MidiMappingError as err:
                    session.midi.remove_target(request.target)
                    new.append(f"MIDI learn failed: {err}")
                    continue
                new.append(f"MIDI learn: {mapping.describe(session)}")
                self.learned.append(mapping)
                structural = True  # the new binding must reach the audio thread
            elif kind == "strip":
                mapping, fraction = args
                strips[mapping.target] = (mapping, fraction)  # only the latest move of a fader counts
            elif kind == "moved":
                mapping, fraction = args
                parameters[mapping.target] = (mapping, fraction)
            elif kind == "program":
                channel, program = args
                entries = session.midi.programs_for(channel, program)
                if not entries:
                    new.append(f"program change {program} on channel {channel}: not in the program map")
                for entry in entries:
                    if self.program_loader is None:
                        new.append(f"program change {program}: no preset loader, so {entry.preset} is not recalled")
                        continue
                    try:
                        anchors = session.midi.anchor(session)
                        new.append(self.program_loader(session, entry.track, entry.preset))
                        self.recalled.append((entry.track, entry.preset))
                        # The preset's load dropped those its chain no longer has, in its own undo step.
                        gone = [*session.midi.take_dropped(), *session.midi.follow(anchors, session)]
                        new += [f"MIDI mapping dropped: {d}" for d in gone]
                        structural = True
                    except Exception as err:  # noqa: BLE001 - a bad preset is reported, the engine goes on
                        new.append(f"program change {program} on channel {channel}: {entry.preset}: {err}")
        changed = False
        for mapping, fraction in strips.values():
            try:
                convert, _ = resolve(mapping, session)
                value = convert(fraction)
                written = moved(mapping.target, value) if moved is not None else False
                if not (written and mapping.target.kind == "mute"):  # a written mute goes into its envelope only
                    apply_value(mapping.target, session, value)
                changed = True
            except MidiMappingError as err:
                new.append(f"MIDI mapping skipped: {err}")
        for mapping, fraction in parameters.values():
            try:
                convert, _ = resolve(mapping, session)
                if moved is not None:
                    moved(mapping.target, convert(fraction))
            except MidiMappingError as err:
                new.append(f"MIDI mapping skipped: {err}")
        if structural or (changed and update_mix is None):
            update()  # prepares the new state (and calls prepare() above) off the audio thread
        elif changed:
            update_mix()
        if self._out_port is not None:
            self.send_feedback()
        new += self.events
        self.events = []
        return new

    def send_feedback(self) -> int:
        """Send every mapped target's position that changed since last sent to the output; returns messages sent.

        Control thread only. A controller that moved a target gets its own value back,
        which motorized faders and LED rings ignore.
        """
        import mido

        sent = 0
        for mapping in self.session.midi.mappings:
            try:
                messages = cc_messages(mapping, position(mapping, self.session))
            except Exception:  # noqa: BLE001 - a mapping to something gone sends nothing
                continue
            if self._sent.get(mapping) != messages:
                for data in messages:
                    self._out_port.send(mido.Message.from_bytes(data))
                self._sent[mapping] = messages
                sent += len(messages)
        return sent

    def _report(self, event: str) -> None:
        if event not in self.events:
            self.events.append(event)


class _PairView:
    """Read-only ``(channel, controller) -> last value`` over the audio thread's array (for cc_fraction)."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray):
        self.values = values

    def get(self, key: tuple[int, int], default: int = 0) -> int:
        return int(self.values[key[0], key[1]])


def _writes(target: Any, session: Any) -> bool:
    """Is ``target`` a parameter whose envelope is in touch or latch mode?"""
    from rackhost.chain.automation import WRITING_MODES, SlotTarget, find

    if target.kind != "parameter":
        return False
    try:
        owner = target.owner(session)
        slot = target.item(session)
    except (MidiMappingError, IndexError):
        return False
    envelope = find(owner, SlotTarget(slot, target.parameter))
    return envelope is not None and envelope.mode in WRITING_MODES


def _native(plugin: Any, info: Any, convert: Callable[[float], Any]) -> Callable[[float], Any]:
    """Wrap a conversion so it yields what the pedalboard instance takes (built-ins' choices are enums)."""
    if info is not None and info.type == "choice" and plugin.is_builtin:
        from rackhost.chain.builtins import enum_value

        natives = {c: enum_value(plugin.instance, info.name, c) for c in info.choices}
        return lambda f: natives[convert(f)]
    return convert


class _SilentFeed:
    """An instrument track whose plug-in is not installed: silence."""

    __slots__ = ("buffer",)

    def __init__(self, block: int):
        self.buffer = np.zeros((2, block), np.float32)

    def read(self, indata: np.ndarray, position: int, playing: bool) -> np.ndarray:
        return self.buffer


def instrument_feed(track: Any, sample_rate: float, block: int) -> InstrumentFeed | _SilentFeed:
    """The live engine's feed for an instrument track (the same player an offline render uses)."""
    from rackhost.chain.plugin import MissingPlugin

    if isinstance(track.instrument, MissingPlugin):
        return _SilentFeed(block)
    return InstrumentFeed(InstrumentPlayer(track.instrument, sample_rate, block), track.midi_channel, track.midi)


@dataclass(frozen=True)
class MidiSetup:
    """How an engine process sets up MIDI: its inputs, and the program-change preset loader.

    ``rackhost.live`` may not import ``rackhost.presets``, so the caller hands
    the loader in (a module-level function, so it pickles by name into an
    engine process); None: program changes that name a preset are ignored.
    """

    inputs: tuple[str, ...] = ()
    output: str | None = None  # feedback port for mapped targets (motorized faders, LEDs)
    required: bool = True  # False: the engine starts without MIDI if a port cannot open (and says so)
    program_loader: ProgramLoader | None = None

    def make(self, session: Session) -> LiveMidi:
        return LiveMidi(session, self.inputs, program_loader=self.program_loader, output=self.output,
                        required=self.required)
