"""Slots and chains: the ordered plug-ins of a track or the master, and their real-time snapshot."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Protocol, Union

import numpy as np
import pedalboard

from rackhost.chain.dsp import DelayCarry, DelayLine, carried, delay_line, pad_front
from rackhost.chain.plugin import MissingPlugin, Plugin
from rackhost.chain.sidechain import Key, KeyedStage, forget_twin, runner
from rackhost.chain.split import Split, use_chain_class
from rackhost.errors import RackhostError, SessionError, SlotPathError

Stage = Callable[[np.ndarray], np.ndarray]
# What a chain's slot list holds: plug-in slots, and splits (parallel branches of sub-chains).
Item = Union["Slot", Split]


class StageAutomation(Protocol):
    """Plays a stage's envelopes (:class:`rackhost.chain.automated.StageAutomation`)."""

    def run(self, stage: Stage, block: np.ndarray, position: int) -> np.ndarray: ...


@dataclass(eq=False)
class Slot:
    """A place in a chain holding one plug-in, with bypass and a wet/dry mix (1.0 = all wet).

    ``key``: where the plug-in's detector listens (a sidechain, :mod:`rackhost.chain.sidechain`), or None.
    ``delta``: the slot plays what it changes (its output minus its latency-aligned input, what a
    compressor takes away) instead of its output; slots after it hear that. A listening switch, never
    saved in a file.
    ``uid``: the slot's identity, kept while the same slot moves (to another strip too) and through undo and
    redo; a copy gets its own. A running engine matches the plug-in instances it holds to the window's slots by
    it, so two instances of one plug-in never trade places (see :mod:`rackhost.presets.session_sync`).
    """

    plugin: Plugin
    bypass: bool = False
    mix: float = 1.0
    key: Key | None = None
    delta: bool = False
    uid: str = field(default_factory=lambda: uuid.uuid4().hex, repr=False)

    def __post_init__(self) -> None:
        self.set_mix(self.mix)

    @property
    def name(self) -> str:
        return self.plugin.name

    def set_mix(self, mix: float) -> None:
        if isinstance(mix, bool) or not isinstance(mix, (int, float)) or not 0.0 <= mix <= 1.0:
            raise ValueError(f"wet/dry mix of slot {self.name!r} must be between 0.0 (dry) and 1.0 (wet); got {mix!r}")
        self.mix = float(mix)

    def layout(self, channels: int, sample_rate: float, keep_mono: bool) -> tuple[list[str], int]:
        note = self.plugin.configure(channels, sample_rate, widen=not keep_mono)
        notes = [note] if note else []
        unkeyed = sidechain_note(self)
        notes += [unkeyed] if unkeyed else []
        return notes, self.plugin.output_channels

    def latency(self, sample_rate: float, block: int) -> int:
        """The delay the slot adds: its plug-in's, or for a keyed slot its minihost twin's."""
        if self.key is not None and not isinstance(self.plugin, MissingPlugin):
            return runner(self, sample_rate, block).twin.latency
        return self.plugin.latency(sample_rate, block)

    def reset(self) -> None:
        self.plugin.reset()
        forget_twin(self.plugin)  # a keyed slot's twin is made afresh (minihost's reset keeps envelopes)

    def clone(self, flush: bool = True) -> Slot:
        """A slot with a new instance of its plug-in (``flush``: see :meth:`Plugin.clone`)."""
        key = None if self.key is None else Key(self.key.source, self.key.pre_fader)
        return Slot(self.plugin.clone(flush), self.bypass, self.mix, key)


class Chain:
    """An ordered list of slots. Edit it freely; the audio path runs a :meth:`processor` snapshot of it."""

    def __init__(self, slots: list[Slot | Split | Plugin] | None = None, origin: str | None = None):
        self.slots: list[Item] = [s if isinstance(s, (Slot, Split)) else Slot(s) for s in slots or []]
        self.origin = origin  # the preset this chain was loaded from ("stage/name"), if any

    def __len__(self) -> int:
        return len(self.slots)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.slots)

    def __getitem__(self, index: int) -> Item:
        return self.slots[index]

    def plugin_slots(self) -> Iterator[Slot]:
        """Every plug-in slot, those inside splits included (at any depth), in order."""
        for item in self.slots:
            if isinstance(item, Split):
                yield from item.slots()
            else:
                yield item

    def plugin_slot(self, index: int) -> Slot:
        """The plug-in slot at ``index``, or an error saying it is a split (whose plug-ins have no index here)."""
        item = self.slots[index]
        if isinstance(item, Split):
            raise SplitSlotError(item, index)
        return item

    def index(self, slot_or_name: Item | str | int) -> int:
        if isinstance(slot_or_name, int):
            if not -len(self.slots) <= slot_or_name < len(self.slots):
                raise IndexError(f"no slot {slot_or_name} in a chain of {len(self.slots)}")
            return slot_or_name % len(self.slots)
        for i, slot in enumerate(self.slots):
            if slot is slot_or_name or slot.name == slot_or_name:
                return i
        names = ", ".join(s.name for s in self.slots) or "(empty)"
        raise KeyError(f"no slot {slot_or_name!r} in this chain; it holds {names}")

    def add(self, plugin: Plugin | Slot | Split | str, index: int | None = None, **values: object) -> Item:
        """Append (or insert at ``index``) a plug-in or a split; a string is resolved by :meth:`Plugin.create`."""
        if isinstance(plugin, str):
            plugin = Plugin.create(plugin, **values)
        slot = plugin if isinstance(plugin, (Slot, Split)) else Slot(plugin)
        _refuse_instrument(slot)
        self.slots.insert(len(self.slots) if index is None else index, slot)
        return slot

    def remove(self, slot: Item | str | int) -> Item:
        return self.slots.pop(self.index(slot))

    def move(self, slot: Item | str | int, to_index: int) -> None:
        moving = self.slots.pop(self.index(slot))
        self.slots.insert(to_index, moving)

    def replace(self, slot: Item | str | int, plugin: Plugin) -> Item:
        """Put ``plugin`` in the slot's place, keeping bypass and mix; returns the old slot."""
        i = self.index(slot)
        old = self.slots[i]
        self.slots[i] = Slot(plugin, old.bypass, getattr(old, "mix", 1.0))
        return old

    def set_bypass(self, slot: Item | str | int, bypass: bool = True) -> None:
        self.slots[self.index(slot)].bypass = bool(bypass)

    def active(self) -> list[Item]:
        return [s for s in self.slots if not s.bypass]

    def configure(self, channels: int, sample_rate: float, keep_mono: bool = False) -> list[str]:
        """Adapt every plug-in to the width of the audio reaching it; returns what was adapted, for the user.

        A mono chain turns stereo at the first stereo-only plug-in (and stays
        stereo: a mono-only plug-in after it runs as dual mono), unless
        ``keep_mono``, where that plug-in's outputs are summed back to mono.
        Also says where a plug-in's sidechain switch is on (nothing feeds a key).
        """
        return self._layout(channels, sample_rate, keep_mono)[0]

    def output_channels(self, channels: int, sample_rate: float, keep_mono: bool = False) -> int:
        """How wide the chain's output is for ``channels`` in (1 or 2); configures the plug-ins."""
        return self._layout(channels, sample_rate, keep_mono)[1]

    def _layout(self, channels: int, sample_rate: float, keep_mono: bool) -> tuple[list[str], int]:
        for slot in self.slots:
            _refuse_instrument(slot)
        notes: list[str] = []
        width = channels
        # Bypassed slots count too: bypassing a widening plug-in must not make the track jump between
        # a pan law and a balance (3 dB at centre); the bypassed slot then passes mono on both channels.
        for slot in self.slots:
            slot_notes, width = slot.layout(width, sample_rate, keep_mono)
            notes += slot_notes
        return notes, width

    def latency(self, sample_rate: float, block: int) -> int:
        """Total delay in samples of the active slots, run ``block`` frames at a time."""
        return sum(slot.latency(sample_rate, block) for slot in self.active())

    def latency_before(self, slot: Item | str | int, sample_rate: float, block: int) -> int:
        """Delay in samples of the active slots before ``slot``: how late the audio reaching it is."""
        index = self.index(slot)
        return sum(s.latency(sample_rate, block) for s in self.slots[:index] if not s.bypass)

    def keyed(self) -> list[Slot]:
        """The slots that take a key, those inside splits included (which the graph refuses)."""
        return [s for s in self.plugin_slots() if s.key is not None]

    def reset(self) -> None:
        for slot in self.slots:
            slot.reset()

    def clone(self, flush: bool = True) -> Chain:
        """An independent copy: new plug-in instances with the same settings, bypass and mix (splits too).

        ``flush=False``: the playing instances are only read, never run (a copy made while they play).
        """
        return Chain([s.clone(flush) for s in self.slots], self.origin)

    def processor(
        self, channels: int, sample_rate: float, max_block: int, max_segment: int | None = None,
        keep_mono: bool = False, automated: Mapping[Slot, bool] | None = None,
    ) -> ChainProcessor:
        """An immutable snapshot of this chain for the audio path.

        It takes segments of up to ``max_segment`` frames (default: one block);
        every plug-in processes them ``max_block`` frames at a time. Its output
        is :attr:`ChainProcessor.channels` wide (see :meth:`configure`).

        Runs of plain slots (full wet, no adaptation, no latency) are fused into
        one ``pedalboard.Pedalboard`` call per block, so a chain costs the audio
        thread about what bare pedalboard costs. Latent plug-ins run on their own:
        inside a ``Pedalboard`` pedalboard trims their latency by handing back
        short blocks, which a block engine must not see.

        ``automated``: slots with envelopes (:mod:`rackhost.chain.automated`), each
        in a stage of its own so only it is cut where its values change; True
        where its wet/dry is automated (it then gets a wet/dry stage whatever
        its mix, whose :class:`WetDry` is in :attr:`ChainProcessor.mixes`).
        """
        automated = automated or {}
        self.configure(channels, sample_rate, keep_mono)
        stages: list[Stage] = []
        stage_slots: list[tuple[Slot, ...]] = []
        keys: list[tuple[int, KeyedStage]] = []
        mixes: dict[int, WetDry] = {}
        run: list[Slot] = []
        segment = max(max_segment or max_block, max_block)
        width = channels

        def flush() -> None:
            if run:
                stages.append(_fused([s.plugin.instance for s in run], sample_rate, max_block))
                stage_slots.append(tuple(run))
                run.clear()

        for index, slot in enumerate(self.slots):
            if isinstance(slot, Split):
                width_in, width = width, slot.output_channels
            else:
                plugin = slot.plugin
                width_in, width = width, plugin.output_channels
                if slot.key is not None and not slot.bypass and not isinstance(plugin, MissingPlugin):
                    # Run by its minihost twin, which hears the key the router writes into the stage.
                    flush()
                    keyed = KeyedStage(runner(slot, sample_rate, max_block).twin, width_in, segment)
                    keys.append((index, keyed))
                    width = width_in
                    stage_slots.append((slot,))
                    if slot.mix < 1.0 or automated.get(slot) or slot.delta:
                        mixes[len(stages)] = WetDry(slot.mix, slot.delta)
                        # The dry path goes with the running twin, as a plug-in's does (see below).
                        delay = carried(keyed.twin, ("dry", width_in, keyed.latency, segment),
                                        lambda w=width_in, d=keyed.latency: DelayLine(w, d, segment)) \
                            if keyed.latency else None
                        stages.append(_wet_dry(keyed, mixes[len(stages)], delay))
                    else:
                        stages.append(keyed)
                    continue
            if slot.bypass:
                if getattr(slot, "delta", False):  # a bypassed slot changes nothing: its delta is silence
                    flush()
                    stage_slots.append((slot,))
                    stages.append(_silence(width))
                    continue
                if width > width_in:  # the track stays as wide as the plug-in would make it
                    flush()
                    stage_slots.append((slot,))
                    stages.append(_widened(segment))
                continue
            if isinstance(slot, Split):
                flush()
                stage_slots.append((slot,))
                stages.append(slot.processor(width_in, sample_rate, max_block, segment, keep_mono, automated))
                continue
            latency = plugin.latency(sample_rate, max_block)
            if (slot.mix >= 1.0 and plugin.mode == "direct" and not latency and not isinstance(plugin, MissingPlugin)
                    and slot not in automated and not slot.delta):
                run.append(slot)
                continue
            flush()
            stage_slots.append((slot,))
            stage = plugin.processor(sample_rate, max_block, segment)
            if latency:
                # The FIFO goes with the running plug-in: a rebuilt snapshot continues it (no gap, no slip).
                queue = carried(plugin, ("fifo", width, latency, segment), lambda: FifoQueue(width, latency, segment))
                stage = _fifo(stage, queue)
            if slot.mix < 1.0 or automated.get(slot) or slot.delta:
                # The dry path is as wide as the audio entering the slot; a mono dry under a widened wet
                # is added to both channels.
                delay = carried(plugin, ("dry", width_in, latency, segment),
                                lambda: DelayLine(width_in, latency, segment)) if latency else None
                mixes[len(stages)] = WetDry(slot.mix, slot.delta)
                stage = _wet_dry(stage, mixes[len(stages)], delay)
            stages.append(stage)
        flush()
        return ChainProcessor(tuple(stages), self.latency(sample_rate, max_block), tuple(stage_slots), width,
                              tuple(mixes.get(i) for i in range(len(stages))), keys=tuple(keys))


use_chain_class(Chain)  # an empty split branch (a dry path) is made of one; split.py cannot import this module


# Where a slot sits, counted from a strip's chain: (slot,) for its own slots, (split, branch, slot) for a slot in
# a split's branch, and so on down for splits inside branches. A plain index is the same as (index,).
SlotPath = tuple[int, ...]


def path_text(path: SlotPath) -> str:
    """A slot path as the CLI writes it (``rackhost midi map``, ``--automate``): ``1/0/0``, counted from 0."""
    return "/".join(str(step) for step in path)


def parse_slot_path(text: str) -> SlotPath:
    """A slot path as the CLI takes it (``1/0/0``: slot 0 of branch 0 of the split at slot 1, counted from 0).
    Only its form is checked: whether it leads to a slot is the chain's to say (:func:`item_at`)."""
    try:
        path = tuple(int(step) for step in text.split("/"))
    except ValueError:
        raise SlotPathError(text, "write numbers from 0, e.g. 0/1/0 (the split at slot 0, its branch 1, that "
                                  "branch's slot 0)") from None
    if len(path) % 2 == 0 or any(step < 0 for step in path):
        raise SlotPathError(text, "write (split slot/branch/)... slot, an odd count of numbers from 0, e.g. 0/1/0")
    return path


def as_path(index: int | SlotPath) -> SlotPath:
    return (index,) if isinstance(index, int) else tuple(index)


def branch_chain(chain: Chain, where: tuple[int, ...]) -> Chain:
    """The chain ``where`` leads to from ``chain``: () is ``chain`` itself, (split, branch) that branch's chain,
    and so on down; a path through something that is not a split, or past the end, is said by name."""
    if len(where) % 2:
        raise SessionError(f"a branch is named by (split slot, branch) pairs; got {where!r}")
    for k in range(0, len(where), 2):
        index, branch = where[k], where[k + 1]
        if not 0 <= index < len(chain):
            raise SessionError(f"no slot {index} in a chain of {len(chain)}; the slot was removed (undo, or "
                               f"another edit) before this one")
        split = chain[index]
        if not isinstance(split, Split):
            raise SessionError(f"slot {index} ({split.name}) is not a split: it has no branch {branch}")
        if not 0 <= branch < len(split.branches):
            raise SessionError(f"split {split.name!r} has no branch {branch} (it has {len(split.branches)})")
        chain = split.branches[branch].chain  # type: ignore[assignment]
    return chain


def locate(chain: Chain, index: int | SlotPath) -> tuple[Chain, int]:
    """The chain holding the slot at ``index`` (a plain index or a :data:`SlotPath`) and its place in it."""
    path = as_path(index)
    if not path:
        raise SessionError("a slot path names at least the slot's place in the strip's chain")
    inner = branch_chain(chain, path[:-1])
    if not 0 <= path[-1] < len(inner):
        raise SessionError(f"no slot {path[-1]} in a chain of {len(inner)}; the slot was removed (undo, or "
                           f"another edit) before this one")
    return inner, path[-1]


def item_at(chain: Chain, index: int | SlotPath) -> Item:
    """The slot or split at ``index`` (a plain index or a :data:`SlotPath`) under ``chain``."""
    inner, place = locate(chain, index)
    return inner[place]


def path_of(chain: Chain, item: Item) -> SlotPath | None:
    """Where ``item`` sits under ``chain`` (inside splits too), or None if it is not there."""
    for index, slot in enumerate(chain):
        if slot is item:
            return (index,)
        if isinstance(slot, Split):
            for b, branch in enumerate(slot.branches):
                inner = path_of(branch.chain, item)  # type: ignore[arg-type]
                if inner is not None:
                    return (index, b, *inner)
    return None


def sidechain_note(slot: Slot) -> str | None:
    """What to tell the user when an active slot's plug-in listens to its sidechain and has no key."""
    switch = None if slot.bypass or slot.key is not None else slot.plugin.sidechain_switch()
    if switch is None:
        return None
    return (f"{slot.name} has its sidechain switch on but no key, so its detector hears silence (a compressor "
            f"does not compress, a gate stays shut); key it (the key selector in its parameter panel, or "
            f"session.edit.set_key) or set {switch}=0")


class SplitSlotError(RackhostError):
    """An operation on one plug-in was given a split slot, whose plug-ins sit in its branches."""

    def __init__(self, split: Split, index: int):
        self.split = split
        self.index = index
        super().__init__(f"slot {index} is the split {split.name!r}, not a plug-in: its plug-ins sit in its "
                         f"branches; pick a plug-in outside the split, or edit the split's branches")


def _refuse_instrument(slot: Item) -> None:
    if isinstance(slot, Split):
        for inner in slot.slots():
            _refuse_instrument(inner)
        return
    if slot.plugin.is_instrument:
        raise SessionError(
            f"{slot.name} is an instrument: it plays MIDI and takes no audio in, so it cannot sit in a chain; "
            f"make it the source of an instrument track (\"instrument\": ... in a session, "
            f"or 'rackhost render --instrument {slot.name} --midi FILE.mid')"
        )


class StageError(RackhostError):
    """A plug-in raised while processing; ``slots`` are the slots of the stage that raised."""

    def __init__(self, slots: tuple[Slot, ...], error: Exception):
        self.slots = slots
        self.error = error
        names = ", ".join(s.name for s in slots)
        super().__init__(f"{names} raised {type(error).__name__}: {error}")


class ChainProcessor:
    """What the audio path runs: a fixed tuple of stages. Never changed once made; replace it instead.

    ``automation``: per stage, what plays its envelopes (None for a stage without); :meth:`run` uses it.
    ``keys``: (slot index, stage) of each keyed slot that runs: the router writes their keys.
    """

    __slots__ = ("stages", "latency", "stage_slots", "channels", "mixes", "automation", "keys", "levels")

    def __init__(self, stages: tuple[Stage, ...], latency: int, stage_slots: tuple[tuple[Slot, ...], ...] = (),
                 channels: int | None = None, mixes: tuple[WetDry | None, ...] = (),
                 automation: tuple[StageAutomation | None, ...] | None = None,
                 keys: tuple[tuple[int, KeyedStage], ...] = ()):
        self.stages = stages
        self.latency = latency
        self.stage_slots = stage_slots
        self.channels = channels  # how wide its output is (None: as wide as its input)
        self.mixes = mixes  # per stage: its wet/dry gains, where it has a wet/dry stage
        self.automation = automation
        self.keys = keys
        # A live engine's copier of inner stages' outputs (``levels.stage(i, block)``, i = 1 .. stages - 1: the
        # chain's input and output the spectrum tap copies itself), set on the one chain of two stages or more
        # that a view watches; None: the loop below does nothing more.
        self.levels: Any = None

    def run(self, block: np.ndarray, position: int) -> np.ndarray:
        """``block`` through the chain, ``position`` the transport frame of its first sample (for envelopes)."""
        automation = self.automation
        levels = self.levels
        i = 0
        if automation is None and levels is None:
            # The common case, once per track per block on the audio thread: the loop of __call__ inlined,
            # since every Python frame here is time the GIL is held while another audio thread waits for it.
            try:
                for stage in self.stages:
                    block = stage(block)
                    i += 1
            except StageError:
                raise  # from a split's branch: it names the slot inside the split
            except Exception as err:
                raise StageError(self.stage_slots[i] if i < len(self.stage_slots) else (), err) from err
            return block
        if automation is None:
            return self(block)
        inner = len(self.stages) - 1
        try:
            for stage, automated in zip(self.stages, automation):
                block = stage(block) if automated is None else automated.run(stage, block, position)
                i += 1
                if levels is not None and i <= inner:
                    levels.stage(i, block)
        except StageError:
            raise  # from a split's branch: it names the slot inside the split
        except Exception as err:
            raise StageError(self.stage_slots[i] if i < len(self.stage_slots) else (), err) from err
        return block

    def __call__(self, block: np.ndarray) -> np.ndarray:
        i = 0
        levels = self.levels
        inner = len(self.stages) - 1
        try:
            for stage in self.stages:
                block = stage(block)
                i += 1
                if levels is not None and i <= inner:
                    levels.stage(i, block)
        except StageError:
            raise  # from a split's branch: it names the slot inside the split
        except Exception as err:
            # Say which slot it was, so a live engine can bypass it and tell the user.
            raise StageError(self.stage_slots[i] if i < len(self.stage_slots) else (), err) from err
        return block


def _fused(instances: list[pedalboard.Plugin], sample_rate: float, max_block: int) -> Stage:
    target = instances[0] if len(instances) == 1 else pedalboard.Pedalboard(instances)
    process = target.process

    def fused(block: np.ndarray) -> np.ndarray:
        return process(block, sample_rate, max_block, False)

    return fused


def _widened(max_frames: int) -> Stage:
    """Mono in, the same signal on two channels out, into a buffer made now (for a bypassed widening slot)."""
    both = np.zeros(2 * max_frames, np.float32)

    def widened(block: np.ndarray) -> np.ndarray:
        n = block.shape[1]
        stereo = both[: 2 * n].reshape(2, n)
        stereo[...] = block[0]
        return stereo

    return widened


class FifoQueue:
    """What a latent plug-in's FIFO holds between calls: the samples queued and how many. It goes with the
    plug-in instance (:func:`rackhost.chain.dsp.carried`), as the plug-in's own primed state does."""

    __slots__ = ("queue", "head", "queued")

    def __init__(self, channels: int, latency: int, max_frames: int):
        self.queue = np.zeros((channels, latency + max_frames), np.float32)
        self.head = np.zeros((channels, max_frames), np.float32)  # what a call hands on, made now, not per block
        self.queued = latency


def _fifo(stage: Stage, state: FifoQueue) -> Stage:
    """``stage`` delayed by exactly its latency, however many samples it hands back per call.

    A buffering built-in hands back fewer samples than given until it fills, and
    a resampler one more short block now and then later on (Resample at 44.1 kHz:
    420 at first, 423 after 2 s); a VST3 reporting latency hands back short blocks
    after a reset until it has that much. Queued behind ``latency`` samples of
    silence, what it hands back comes out at one fixed delay, without a gap where
    it came back short: ``latency`` is the most it holds back (see ``Plugin.latency``).
    A rebuilt snapshot takes over ``state`` from the last one: the plug-in, already
    primed, hands back full blocks, and a fresh queue of silence would add its latency again.
    """
    queue, head_buffer = state.queue, state.head

    def fifo(block: np.ndarray) -> np.ndarray:
        out = stage(block)
        got, n = out.shape[1], block.shape[1]
        queued = state.queued
        queue[:, queued : queued + got] = out
        queued += got
        if queued < n:  # held back more than measured: a gap now, as a host without a FIFO would leave
            short = pad_front(queue[:, :queued], n)
            state.queued = 0
            return short
        head = head_buffer[:, :n]
        head[...] = queue[:, :n]
        queue[:, : queued - n] = queue[:, n:queued]
        state.queued = queued - n
        return head

    return fifo


class WetDry:
    """A wet/dry stage's two gains; an envelope on the slot's ``_mix`` sets them between sub-blocks.

    ``delta``: the stage plays what the slot changes, (mix * wet + (1 - mix) * dry) - dry = mix * (wet - dry).
    """

    __slots__ = ("wet", "dry", "delta")

    def __init__(self, mix: float, delta: bool = False):
        self.delta = delta
        self.set(mix)

    def set(self, mix: float) -> None:
        self.wet = np.float32(mix)
        self.dry = np.float32(-mix if self.delta else 1.0 - mix)


def _wet_dry(stage: Stage, gains: WetDry, dry_delay: DelayLine | None) -> Stage:
    def wet_dry(block: np.ndarray) -> np.ndarray:
        wet = stage(block)
        # The dry path is delayed as much as the plug-in delays the wet one, or they comb-filter.
        dry = dry_delay(block) if dry_delay is not None else block
        return wet * gains.wet + dry * gains.dry

    return wet_dry


def _silence(width: int) -> Stage:
    def silence(block: np.ndarray) -> np.ndarray:
        # As wide as what passes the bypassed slot (a bypassed widening plug-in still widens).
        return np.zeros((max(width, block.shape[0]), block.shape[1]), np.float32)

    return silence


def delayed(processor: ChainProcessor, frames: int, channels: int, max_segment: int,
            carry: DelayCarry | None = None, key: tuple = ()) -> ChainProcessor:
    """``processor`` followed by ``frames`` of delay (its latency grown by as much), e.g. to wait for a
    slower chain it is switched against. ``channels``: the width of its input; ``carry``, ``key``: a live
    engine's, so the line of the last snapshot with the same ``key`` plays on (no gap at a rebuild)."""
    line = delay_line(carry, ("delayed", *key), processor.channels or channels, frames, max_segment)
    assert line is not None, "delayed() is for a delay of a frame or more"
    automation = processor.automation + (None,) if processor.automation is not None else None
    mixes = (processor.mixes or (None,) * len(processor.stages)) + (None,)
    return ChainProcessor(processor.stages + (line,), processor.latency + frames, processor.stage_slots + ((),),
                          processor.channels, mixes, automation, keys=processor.keys)
