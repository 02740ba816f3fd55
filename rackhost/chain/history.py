"""Undo and redo: every change to a session's model as a command object held by the session.

Edits go through :class:`Editor` (``session.edit``), which records a command in
``session.history``. A run of changes to one continuous value (a fader or
knob being dragged) coalesces into one step until the gesture ends
(:meth:`History.seal`, which a GUI calls on mouse release).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence

from rackhost.chain import routing
from rackhost.chain.automation import AutomationError, Envelope, Point, SlotTarget, Strip, check_envelope, \
    check_mode, check_points, find, value_range
from rackhost.chain.automation_write import check_glide
from rackhost.chain.bus import Bus, Send, check_bus_name, check_send_level
from rackhost.chain.chain import Chain, Slot, SlotPath, as_path, branch_chain, locate, path_of
from rackhost.chain.colors import check_color, default_color
from rackhost.chain.compare import ChainOwner, switch
from rackhost.chain.midi.mapping import Anchor, CCMapping, MidiMap
from rackhost.chain.plugin import Plugin
from rackhost.chain.sidechain import Key, check_keyable
from rackhost.chain.split import Branch, Split, check_branch_level
from rackhost.chain.target import GAIN_SLOT_NAME, final_limiter, gain_slot_before
from rackhost.errors import SessionError, SplitIntoItselfError

if TYPE_CHECKING:
    from rackhost.chain.master import MasterBus
    from rackhost.chain.target import TargetReport
    from rackhost.chain.track import Track


class TrackList(Protocol):
    """What the editor changes of a session: its tracks and busses (a Session holds the editor, not the reverse)."""

    tracks: list[Track]
    busses: list[Bus]


class Command:
    label = "edit"

    def do(self) -> None:
        raise NotImplementedError

    def undo(self) -> None:
        raise NotImplementedError

    def merge(self, later: Command) -> bool:
        """Absorb ``later`` (the same control moved again) into this step; True if it did."""
        return False


@dataclass
class SetValue(Command):
    """Set one value through a setter, remembering the old one: parameters, faders, switches."""

    target: object
    key: str
    value: Any
    getter: Callable[[], Any]
    setter: Callable[[Any], Any]
    label: str = "edit"
    continuous: bool = False
    old: Any = None

    def do(self) -> None:
        self.old = self.getter()
        self.setter(self.value)

    def undo(self) -> None:
        self.setter(self.old)

    def merge(self, later: Command) -> bool:
        if (
            self.continuous
            and isinstance(later, SetValue)
            and later.target is self.target
            and later.key == self.key
        ):
            self.value = later.value  # keep the value from before the drag began
            return True
        return False


@dataclass
class AddSlot(Command):
    chain: Chain
    slot: Slot
    index: int
    label: str = "add slot"

    def do(self) -> None:
        self.chain.slots.insert(self.index, self.slot)

    def undo(self) -> None:
        self.chain.slots.remove(self.slot)


@dataclass
class RemoveSlot(Command):
    chain: Chain
    index: int
    label: str = "remove slot"
    slot: Slot | None = None

    def do(self) -> None:
        self.slot = self.chain.slots.pop(self.index)

    def undo(self) -> None:
        assert self.slot is not None
        self.chain.slots.insert(self.index, self.slot)


@dataclass
class MoveSlot(Command):
    chain: Chain
    source: int
    target: int
    label: str = "move slot"

    def do(self) -> None:
        self.chain.slots.insert(self.target, self.chain.slots.pop(self.source))

    def undo(self) -> None:
        self.chain.slots.insert(self.source, self.chain.slots.pop(self.target))


@dataclass
class ReplaceChain(Command):
    """A whole chain swapped in (a preset loaded); the old one is kept for undo, plug-ins and all."""

    owner: ChainOwner
    chain: Chain
    label: str = "load preset"
    old: Chain | None = None

    def do(self) -> None:
        self.old, self.owner.chain = self.owner.chain, self.chain

    def undo(self) -> None:
        assert self.old is not None
        self.owner.chain = self.old


@dataclass
class SwitchAB(Command):
    owner: ChainOwner
    label: str = "switch A/B"
    copy: Chain | None = None  # the B made by the first switch, reused on redo
    made_copy: bool = False

    def do(self) -> None:
        self.made_copy = self.owner.ab.other is None
        if self.made_copy:
            # Redo must bring back the same B, whose plug-ins later steps refer to.
            self.copy = self.copy or self.owner.chain.clone()
            self.owner.ab.other = self.copy
        switch(self.owner)

    def undo(self) -> None:
        switch(self.owner)
        if self.made_copy:
            self.owner.ab.other = None


@dataclass
class InsertItem(Command):
    """An item put into a list at an index (a track into the session)."""

    items: list
    item: Any
    index: int
    label: str = "add"

    def do(self) -> None:
        self.items.insert(self.index, self.item)

    def undo(self) -> None:
        self.items.remove(self.item)


@dataclass
class PopItem(Command):
    items: list
    index: int
    label: str = "remove"
    item: Any = None

    def do(self) -> None:
        self.item = self.items.pop(self.index)

    def undo(self) -> None:
        self.items.insert(self.index, self.item)


@dataclass
class MoveItem(Command):
    items: list
    source: int
    target: int
    label: str = "move"

    def do(self) -> None:
        self.items.insert(self.target, self.items.pop(self.source))

    def undo(self) -> None:
        self.items.insert(self.source, self.items.pop(self.target))


@dataclass
class SwapContents(Command):
    """The whole session exchanged for another's contents (its tracks, busses, master, settings), keeping its
    own history: a recovered autosave becomes one step after the file as it was saved, which undo gives back.
    ``fields`` names what is exchanged; doing it again exchanges them back."""

    session: Any
    other: Any
    fields: tuple[str, ...]
    label: str = "replace the session"

    def do(self) -> None:
        for name in self.fields:
            mine, theirs = getattr(self.session, name), getattr(self.other, name)
            setattr(self.session, name, theirs)
            setattr(self.other, name, mine)

    def undo(self) -> None:
        self.do()


@dataclass
class Repoint(Command):
    """MIDI mappings re-pointed at where their targets went (a slot moved, added or removed before them), each
    ``(before, after)``, and those whose slot went (``after`` None: dropped, each said in ``lines``; undo puts it
    back where it stood in the list). Done and undone mapping by mapping (found by value: the window's following
    may have made an equal copy), so a mapping learned or removed meanwhile is left as it is."""

    midi: MidiMap
    pairs: list[tuple[CCMapping, CCMapping | None]]
    lines: list[str] = field(default_factory=list)
    label: str = "MIDI mappings follow"
    dropped_at: list[tuple[int, CCMapping]] = field(default_factory=list)

    def do(self) -> None:
        table = dict(self.pairs)
        kept: list[CCMapping] = []
        self.dropped_at = []
        for index, mapping in enumerate(self.midi.mappings):
            after = table.get(mapping, mapping)
            if after is None:
                self.dropped_at.append((index, mapping))
            else:
                kept.append(after)
        self.midi.mappings = kept
        if self.dropped_at:
            self.midi.say_dropped(self.lines)

    def undo(self) -> None:
        table = {after: before for before, after in self.pairs if after is not None}
        mappings = [table.get(m, m) for m in self.midi.mappings]
        for index, mapping in self.dropped_at:  # in list order, so each goes back to its own place
            if mapping not in mappings:  # not if learned again meanwhile: a controller moves a target once
                mappings.insert(min(index, len(mappings)), mapping)
        self.midi.mappings = mappings


@dataclass
class Group(Command):
    commands: list[Command] = field(default_factory=list)
    label: str = "edit"

    def do(self) -> None:
        for command in self.commands:
            command.do()

    def undo(self) -> None:
        for command in reversed(self.commands):
            command.undo()


class History:
    """The undo and redo stacks of one session."""

    def __init__(self, limit: int = 1000):
        self.limit = limit
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._sealed = True
        self._group: Group | None = None
        self.changes = 0  # counts every run, undo and redo: a saved file compares it to know it is stale

    def run(self, command: Command) -> None:
        command.do()
        self.changes += 1
        if self._group is not None:
            self._group.commands.append(command)
            return
        self._undone.clear()
        if not self._sealed and self._done and self._done[-1].merge(command):
            return
        self._done.append(command)
        del self._done[: -self.limit]
        self._sealed = False

    def seal(self) -> None:
        """End a gesture: the next change is a new step even if it moves the same control."""
        self._sealed = True

    @contextmanager
    def group(self, label: str) -> Iterator[None]:
        """Record everything inside as one step, undone in reverse order."""
        outer = self._group is None
        if outer:
            self._group = Group(label=label)
        try:
            yield
        finally:
            if outer:
                group, self._group = self._group, None
                if group and group.commands:
                    self._undone.clear()
                    self._done.append(group)
                    self._sealed = True

    def labels(self) -> tuple[list[str], list[str]]:
        """What undo would undo (oldest first) and what redo would redo (next last)."""
        return [c.label for c in self._done], [c.label for c in self._undone]

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def undo(self) -> str | None:
        """Undo the last step; returns its label, or None if there was nothing to undo."""
        if not self._done:
            return None
        command = self._done.pop()
        command.undo()
        self.changes += 1
        self._undone.append(command)
        self._sealed = True
        return command.label

    def redo(self) -> str | None:
        if not self._undone:
            return None
        command = self._undone.pop()
        command.do()
        self.changes += 1
        self._done.append(command)
        self._sealed = True
        return command.label


class Editor:
    """Every change to a session's model, recorded for undo.

    ``session``: whose MIDI mappings follow the tracks, busses, sends and slots an edit adds, removes or moves, in
    the same undo step (a mapping names its target by place). ``session.edit`` gives it; an editor made without
    one leaves them alone.
    """

    def __init__(self, history: History, session: TrackList | None = None):
        self.history = history
        self.session = session

    def set_parameter(self, slot: Slot | Plugin, name: str, value: object) -> None:
        if isinstance(slot, Split):
            raise SessionError(f"{slot.name!r} is a split, which has no parameters: set {name!r} on a plug-in "
                               f"in one of its branches")
        plugin = slot.plugin if isinstance(slot, Slot) else slot
        plugin.info(name).coerce(plugin.name, value)  # fail before recording anything
        self.history.run(SetValue(plugin, name, value, lambda: plugin.get(name), lambda v: plugin.set(name, v),
                                  f"set {plugin.name} {name}", continuous=True))

    def set_bypass(self, slot: Slot, bypass: bool) -> None:
        self._attr(slot, "bypass", bool(bypass), f"bypass {slot.name}")

    def set_mix(self, slot: Slot, mix: float) -> None:
        if isinstance(slot, Split):
            raise SessionError(f"{slot.name!r} is a split, which has no wet/dry of its own: its dry path is an "
                               f"empty branch; set the branches' levels instead")
        Slot(slot.plugin, mix=mix)  # validates
        self.history.run(SetValue(slot, "mix", mix, lambda: slot.mix, slot.set_mix, f"{slot.name} wet/dry",
                                  continuous=True))

    def set_gain(self, owner: Track | object, gain_db: float) -> None:
        self._attr(owner, "gain_db", float(gain_db), f"gain {getattr(owner, 'name', 'master')}", continuous=True)

    def set_pan(self, track: Track, pan: float) -> None:
        if not -1.0 <= pan <= 1.0:
            raise ValueError(f"pan of track {track.name!r} must be between -1 and 1; got {pan!r}")
        self._attr(track, "pan", float(pan), f"pan {track.name}", continuous=True)

    def set_mute(self, track: Track, mute: bool) -> None:
        self._attr(track, "mute", bool(mute), f"mute {track.name}")

    def set_solo(self, track: Track, solo: bool) -> None:
        self._attr(track, "solo", bool(solo), f"solo {track.name}")

    def set_loop(self, session: object, loop: object) -> None:
        """The session's loop range (a LoopRange, or None), one undo step."""
        self._attr(session, "loop", loop, "loop range")

    def set_automation_glide(self, session: object, seconds: float) -> None:
        """How long a touch let go takes to glide back to its envelope (0..10 s), one undo step."""
        checked = check_glide(seconds)
        self._attr(session, "automation_glide", checked, f"automation glide {checked:g} s")

    def set_loudness_target(self, master: object, target: object) -> None:
        self._attr(master, "loudness_target", target, "loudness target")

    def keep_target_gain(self, master: MasterBus, report: TargetReport) -> None:
        """Put the gain and ceiling a loudness-targeted render found into the master chain, as one step.

        A render leaves the session as it was; this is how the user keeps what it
        found: the Gain slot just before the final limiter (added if missing) takes
        ``report.gain_db`` and the limiter takes ``report.ceiling_db``, so a render
        without the target then gives the same master.
        """
        chain = master.chain
        limiter_index, ceiling_param = final_limiter(chain)
        with self.history.group("keep loudness target gain"):
            gain_slot = gain_slot_before(chain, limiter_index)
            if gain_slot is None:
                gain_slot = self.add_slot(chain, Plugin.builtin(GAIN_SLOT_NAME, gain_db=0.0), limiter_index)
                limiter_index += 1
            self.set_parameter(gain_slot, "gain_db", report.gain_db)
            self.set_parameter(chain[limiter_index], ceiling_param, report.ceiling_db)

    def add_slot(self, chain: Chain, plugin: Plugin | Slot | Split, index: int | None = None) -> Slot | Split:
        """Put a slot into ``chain`` (last unless ``index``); MIDI mappings to the slots after it follow them."""
        slot = plugin if isinstance(plugin, (Slot, Split)) else Slot(plugin)
        self._following(AddSlot(chain, slot, len(chain) if index is None else index, f"add {slot.name}"))
        return slot

    def remove_slot(self, chain: Chain, slot: Slot | str | int) -> None:
        """Take a slot out of ``chain``. Its MIDI mappings go with it (and come back with undo); those to the slots
        after it follow them."""
        self._following(RemoveSlot(chain, chain.index(slot)))

    def move_slot(self, chain: Chain, slot: Slot | str | int, to_index: int) -> None:
        """Move a slot to ``to_index`` of its chain (kept within the chain); MIDI mappings follow the slots."""
        to_index = max(0, min(to_index, len(chain) - 1))  # as move_track: undo must find it where it went
        self._following(MoveSlot(chain, chain.index(slot), to_index))

    def move_to(self, session: TrackList, owner: Strip, path: int | SlotPath, to: int | SlotPath,
                to_owner: Strip | None = None, label: str | None = None) -> SlotPath | None:
        """Move the slot or split at ``path`` of ``owner``'s chain to ``to`` in ``to_owner``'s chain (the same
        strip unless given), as one step: into a split's branch, out of it, between branches, to another strip.

        ``to`` names the place as the chains are now, before the move: the branch it leads to ((split slot,
        branch) pairs, as a :data:`SlotPath`) and the slot there that the moved one goes before (the branch's
        length: last). The plug-in instance itself moves, so a running engine keeps it (its state and tail go
        on). Its envelopes follow it: within a strip they name the slot itself, wherever it sits; to another
        strip they move into that strip's automation. So do the session's MIDI mappings to its parameters (and
        to the slots after it, whose places change), in the same step: undo puts them back. Returns its path
        afterwards in ``to_owner``'s chain, or None if it was there already (nothing recorded). Refused with
        nothing changed: a split into its own branch (:class:`~rackhost.errors.SplitIntoItselfError`), a place
        that is not there (:class:`SessionError`), a move the routing refuses (a keyed slot into a split, a key
        from itself).
        """
        to_owner = owner if to_owner is None else to_owner
        source, at = locate(owner.chain, path)
        item = source[at]
        dest = as_path(to)
        if not dest:
            raise SessionError(f"say where {item.name} goes: at least its place in the strip's chain")
        target = branch_chain(to_owner.chain, dest[:-1])
        where = dest[-1]
        if not 0 <= where <= len(target):
            raise SessionError(f"no place {where} to move {item.name} to in a chain of {len(target)}; "
                               f"give 0..{len(target)} ({len(target)}: after its last slot)")
        if isinstance(item, Split) and (item is target or _holds(item, target)):
            raise SplitIntoItselfError(item.name, as_path(path), dest)
        if target is source:
            if where > at:
                where -= 1  # the slot's own place closes up before it is put back
            if where == at:
                return None
        commands: list[Command] = [RemoveSlot(source, at), AddSlot(target, item, where)]
        if to_owner is not owner:  # its envelopes go with it: a strip plays only envelopes on its own chain
            moved = {id(s) for s in (item.slots() if isinstance(item, Split) else (item,))}
            following = [k for k, e in enumerate(owner.automation)
                         if isinstance(e.target, SlotTarget) and id(e.target.slot) in moved]
            commands += [PopItem(owner.automation, k) for k in reversed(following)]
            commands += [InsertItem(to_owner.automation, owner.automation[k], len(to_owner.automation) + n)
                         for n, k in enumerate(following)]
        step = Group(commands, label or _move_label(item, owner, to_owner, source, target))
        repoint = _repointed(session, step)
        if repoint is not None:
            step.commands.append(repoint)
        self._routed(session, step)
        return path_of(to_owner.chain, item)

    def replace_slot(self, chain: Chain, slot: Slot | str | int, plugin: Plugin) -> Slot:
        """Put ``plugin`` where ``slot`` is, keeping its bypass and wet/dry."""
        index = chain.index(slot)
        old = chain[index]
        new = Slot(plugin, bypass=old.bypass, mix=getattr(old, "mix", 1.0))
        # Its MIDI mappings stay if the same plug-in comes in (as with a preset recalled), else they go.
        self._following(Group([RemoveSlot(chain, index), AddSlot(chain, new, index)],
                              f"replace {old.name} with {new.name}"))
        return new

    # -- split slots (parallel branches) -----------------------------------------------

    def make_split(self, chain: Chain, slot: Slot | str | int, level_db: float = 0.0) -> Split:
        """Run ``slot`` in parallel with the dry signal: it becomes a split's first branch (at ``level_db``)
        beside a dry branch, as one step. Parallel compression is a compressor made a split."""
        index = chain.index(slot)
        inner = chain[index]
        split = Split([Branch(Chain([inner]), level_db), Branch()])
        self._following(Group([RemoveSlot(chain, index), AddSlot(chain, split, index, f"add {split.name}")],
                              f"run {inner.name} in parallel"))
        return split

    def add_branch(self, split: Split, branch: Branch | None = None, index: int | None = None) -> Branch:
        """A branch added to ``split`` (an empty one, a dry path, unless given)."""
        branch = branch if branch is not None else Branch()
        where = len(split.branches) if index is None else index
        self._following(InsertItem(split.branches, branch, where, f"add a branch to {split.name}"))
        return branch

    def remove_branch(self, split: Split, branch: Branch | int) -> None:
        index = branch if isinstance(branch, int) else split.branches.index(branch)
        if len(split.branches) <= 2:
            raise SessionError(f"split {split.name!r} keeps two branches at least; remove the split itself instead")
        if not 0 <= index < len(split.branches):
            raise SessionError(f"split {split.name!r} has no branch {index} (it has {len(split.branches)})")
        self._following(PopItem(split.branches, index, f"remove a branch of {split.name}"))

    def set_branch_level(self, branch: Branch, level_db: float) -> None:
        """A branch's level in dB (-inf silences it); a drag is one step."""
        self._attr(branch, "level_db", check_branch_level(level_db), "branch level", continuous=True)

    # -- tracks -------------------------------------------------------------------

    def add_track(self, session: TrackList, track: Track, index: int | None = None) -> Track:
        """Put ``track`` into the session (last unless ``index``); MIDI mappings to the tracks after it follow
        them."""
        _check_name(session, track.name)
        where = len(session.tracks) if index is None else index
        if track.color is None:  # a new track is placed: it takes the palette's colour there (not an undo step)
            track.color = default_color(len(session.tracks))
        self._following(InsertItem(session.tracks, track, where, f"add track {track.name}"))
        return track

    def remove_track(self, session: TrackList, track: Track) -> None:
        """Remove a track, and the keys it gave, as one step. Its MIDI mappings go with it (and come back with
        undo); those to the tracks after it follow them."""
        with self._group_following(f"remove track {track.name}"):
            self._clear_keys(session, track.name)
            self.history.run(PopItem(session.tracks, session.tracks.index(track), f"remove track {track.name}"))

    def move_track(self, session: TrackList, track: Track, to_index: int) -> None:
        """Move a track to ``to_index`` (kept within the session); MIDI mappings follow the tracks."""
        to_index = max(0, min(to_index, len(session.tracks) - 1))
        self._following(MoveItem(session.tracks, session.tracks.index(track), to_index, f"move {track.name}"))

    def rename_track(self, session: TrackList, track: Track, name: str, also: Sequence[Command] = ()) -> None:
        """Rename a track (the keys it gives follow). ``also``: more of the same undo step, run first, so one that
        fails refuses the rename before anything changed (its take files:
        :class:`rackhost.chain.takes.FollowRename`)."""
        name = name.strip()
        if name != track.name:
            _check_name(session, name)
            with self.history.group(f"rename {track.name} to {name}"):
                for command in also:
                    self.history.run(command)
                self._rename_keys(session, track.name, name)
                self._attr(track, "name", name, f"rename {track.name} to {name}")

    def set_input(self, track: Track, channels: tuple[int, ...]) -> None:
        """Play the track from device input channels (0-based); ``()`` plays its file."""
        channels = tuple(channels)
        if not channels and track.instrument is not None:
            return  # an instrument track plays its instrument already
        if not channels and track.source is None:
            raise ValueError(f"track {track.name!r} has no audio file to play; pick an input instead")
        if len(channels) > 2 or any(c < 0 for c in channels):
            raise ValueError(f"a track's input is one or two device channels; got {channels!r}")
        with self.history.group(f"input of {track.name}"):
            if track.instrument is not None:
                self._attr(track, "instrument", None, f"instrument of {track.name}")
            self._attr(track, "input", channels, f"input of {track.name}")

    def set_source(self, track: Track, source: Any) -> None:
        """Play ``source`` (an audio file) on the track instead of a device input."""
        with self.history.group(f"audio file of {track.name}"):
            if track.instrument is not None:
                self._attr(track, "instrument", None, f"instrument of {track.name}")
            self._attr(track, "source", source, f"audio file of {track.name}")
            self._attr(track, "input", (), f"input of {track.name}")

    def set_monitor(self, track: Track, monitor: bool) -> None:
        self._attr(track, "monitor", bool(monitor), f"{'monitor' if monitor else 'stop monitoring'} {track.name}")

    def set_keep_mono(self, track: Track, keep_mono: bool) -> None:
        self._attr(track, "keep_mono", bool(keep_mono), f"{'keep' if keep_mono else 'widen'} {track.name} "
                   f"{'mono' if keep_mono else 'at stereo plug-ins'}")

    def set_instrument(self, track: Track, instrument: Plugin) -> None:
        """Make ``instrument`` the track's source, played from MIDI (the track stops playing its file or input)."""
        if not instrument.is_instrument:
            raise ValueError(f"{instrument.name} is an effect, not an instrument: put it in a chain")
        with self.history.group(f"{instrument.name} plays {track.name}"):
            self._attr(track, "source", None, f"audio file of {track.name}")
            self._attr(track, "input", (), f"input of {track.name}")
            self._attr(track, "instrument", instrument, f"instrument of {track.name}")

    def set_armed(self, track: Track, armed: bool) -> None:
        self._attr(track, "armed", bool(armed), f"{'arm' if armed else 'disarm'} {track.name}")

    def copy_to_other(self, owner: ChainOwner, copy: Chain | None = None) -> None:
        """Make the setting not playing a copy of the one playing (A -> B while A plays).

        ``copy``: the clone, if it was made elsewhere (a GUI loads plug-ins on a thread of its own).
        """
        label = f"copy {owner.ab.active} to {owner.ab.inactive}"
        self._attr(owner.ab, "other", copy if copy is not None else owner.chain.clone(), label)

    def load_chain(self, owner: ChainOwner, chain: Chain, label: str = "load preset") -> None:
        """Make ``chain`` the owner's. A MIDI mapping to one of its slots stays where the same plug-in stands at the
        same place in the new chain; the others go (and come back with undo)."""
        self._following(ReplaceChain(owner, chain, label))

    def switch_ab(self, owner: ChainOwner, copy: Chain | None = None) -> None:
        """Play the other setting; the first switch makes B a copy of A (``copy``, if made elsewhere already).
        MIDI mappings to its slots stay as with :meth:`load_chain`."""
        self._following(SwitchAB(owner, copy=copy))

    # -- busses and sends ------------------------------------------------------------

    def add_bus(self, session: TrackList, bus: Bus, index: int | None = None) -> Bus:
        check_bus_name(session.busses, bus.name)
        if bus.color is None:
            bus.color = default_color(len(session.busses), bus=True)
        self._routed(session, InsertItem(session.busses, bus, len(session.busses) if index is None else index,
                                         f"add bus {bus.name}"), follow=True)
        return bus

    def remove_bus(self, session: TrackList, bus: Bus) -> None:
        """Remove a bus, as one step: what was routed into it goes where it went, the sends to it go. MIDI mappings
        to the bus and to those sends go too (and come back with undo); those to the busses after it follow them."""
        with self._group_following(f"remove bus {bus.name}"):
            for strip in (*session.tracks, *session.busses):
                if strip is not bus and strip.output == bus.name:
                    self._attr(strip, "output", bus.output, f"output of {strip.name}")
                for send in [s for s in strip.sends if s.bus == bus.name]:
                    self.history.run(PopItem(strip.sends, strip.sends.index(send), f"remove send to {bus.name}"))
            self._clear_keys(session, bus.name)
            self.history.run(PopItem(session.busses, session.busses.index(bus), f"remove bus {bus.name}"))

    def rename_bus(self, session: TrackList, bus: Bus, name: str) -> None:
        """Rename a bus and every output, send and MIDI mapping to a send naming it, as one step."""
        name = name.strip()
        if name == bus.name:
            return
        check_bus_name(session.busses, name)
        old = bus.name
        with self._group_following(f"rename bus {old} to {name}"):
            for strip in (*session.tracks, *session.busses):
                if strip.output == old:
                    self._attr(strip, "output", name, f"output of {strip.name}")
                for send in strip.sends:
                    if send.bus == old:
                        self._attr(send, "bus", name, f"send of {strip.name}")
            self._rename_keys(session, old, name)
            self._attr(bus, "name", name, f"rename bus {old} to {name}")

    def set_color(self, strip: Track | Bus, color: str) -> None:
        """A track's or bus's colour (``#rrggbb``): its strip's band and its row in the timeline's overview."""
        checked = check_color(f"{strip.name!r}", color)
        if checked is None:
            raise ValueError(f"colour of {strip.name!r} must be '#rrggbb'; got None")
        if checked != strip.color:
            self._attr(strip, "color", checked, f"colour of {strip.name}")

    def set_output(self, session: TrackList, strip: Track | Bus, output: str | None) -> None:
        """Route ``strip`` to the bus named ``output`` (None: the master); a missing bus or a loop is refused."""
        where = output if output is not None else "master"
        self._routed(session, SetValue(strip, "output", output, lambda: strip.output,
                                       lambda v: setattr(strip, "output", v), f"route {strip.name} to {where}"))

    def add_send(self, session: TrackList, strip: Track | Bus, bus: str, level_db: float = 0.0,
                 pre_fader: bool = False, muted: bool = False) -> Send:
        send = Send(bus, level_db, pre_fader, muted)
        strip._refuse_second_send(bus)
        self._routed(session, InsertItem(strip.sends, send, len(strip.sends), f"send {strip.name} to {bus}"))
        return send

    def remove_send(self, strip: Track | Bus, send: Send | str) -> None:
        """Remove a send; a MIDI mapping to its level goes with it (and comes back with undo)."""
        send = strip.send(send) if isinstance(send, str) else send
        self._following(PopItem(strip.sends, strip.sends.index(send), f"remove send {strip.name} to {send.bus}"))

    def set_send_level(self, send: Send, level_db: float) -> None:
        level = check_send_level(send.bus, level_db)
        self._attr(send, "level_db", level, f"send level to {send.bus}", continuous=True)

    def set_send_pre_fader(self, send: Send, pre_fader: bool) -> None:
        self._attr(send, "pre_fader", bool(pre_fader), f"send to {send.bus} {'pre' if pre_fader else 'post'}-fader")

    def set_send_muted(self, send: Send, muted: bool) -> None:
        self._attr(send, "muted", bool(muted), f"{'mute' if muted else 'unmute'} send to {send.bus}")

    def set_key(self, session: TrackList, slot: Slot, source: str | None, pre_fader: bool = False) -> None:
        """Key ``slot``'s detector from the track or bus named ``source``, before or after its fader; None clears
        the key. A plug-in without a key input, a missing source and a loop are refused."""
        if source is None:
            if slot.key is not None:
                self._attr(slot, "key", None, f"clear the key of {slot.name}")
            return
        if isinstance(slot, Split):
            raise SessionError(f"split {slot.name!r} cannot take a key: key the plug-in slot that should hear it")
        key = Key(source, pre_fader)
        check_keyable(slot)
        self._routed(session, SetValue(slot, "key", key, lambda: slot.key, lambda v: setattr(slot, "key", v),
                                       f"key {slot.name} from {source} {'pre' if key.pre_fader else 'post'}-fader"))

    def _clear_keys(self, session: TrackList, source: str) -> None:
        for slot in keyed_slots(session):
            if slot.key is not None and slot.key.source == source:
                self._attr(slot, "key", None, f"clear the key of {slot.name}")

    def _rename_keys(self, session: TrackList, old: str, new: str) -> None:
        for slot in keyed_slots(session):
            if slot.key is not None and slot.key.source == old:
                self._attr(slot, "key", Key(new, slot.key.pre_fader), f"key of {slot.name}")

    # -- automation ---------------------------------------------------------------------

    def add_envelope(self, owner: Strip, envelope: Envelope) -> Envelope:
        """Give ``owner`` (a track, bus or the master) an envelope, checked; one envelope per target."""
        check_envelope(owner, envelope)
        if find(owner, envelope.target) is not None:
            raise AutomationError(f"{envelope.describe()} has an envelope already; edit its points instead")
        self.history.run(InsertItem(owner.automation, envelope, len(owner.automation),
                                    f"automate {envelope.describe()}"))
        return envelope

    def remove_envelope(self, owner: Strip, envelope: Envelope) -> None:
        self.history.run(PopItem(owner.automation, owner.automation.index(envelope),
                                 f"remove automation of {envelope.describe()}"))

    def set_points(self, owner: Strip, envelope: Envelope, points: tuple[Point, ...] | list[Point],
                   label: str | None = None) -> None:
        """Replace the envelope's points (a drawn or recorded pass, a CSV imported), as one step."""
        checked = check_points(envelope.describe(), tuple(points), value_range(owner, envelope.target))
        self.history.run(SetValue(envelope, "points", checked, lambda: envelope.points,
                                  lambda v: setattr(envelope, "points", v),
                                  label or f"edit automation of {envelope.describe()}"))

    def set_mode(self, envelope: Envelope, mode: str) -> None:
        """How live playback treats the envelope: read, touch, latch or off (:data:`automation.MODES`)."""
        checked = check_mode(envelope.describe(), mode)
        self._attr(envelope, "mode", checked, f"{checked} automation of {envelope.describe()}")

    def add_point(self, owner: Strip, envelope: Envelope, point: Point) -> None:
        """Add a point in time order; one already at that time is replaced."""
        kept = [p for p in envelope.points if p.time != point.time]
        self.set_points(owner, envelope, sorted([*kept, point], key=lambda p: p.time),
                        f"add a point to {envelope.describe()}")

    def move_point(self, owner: Strip, envelope: Envelope, index: int, point: Point) -> None:
        """Put ``point`` in place of the envelope's point ``index`` (it must stay between its neighbours)."""
        points = list(envelope.points)
        points[index] = point
        self.set_points(owner, envelope, points, f"move a point of {envelope.describe()}")

    def remove_point(self, owner: Strip, envelope: Envelope, index: int) -> None:
        if len(envelope.points) == 1:
            raise AutomationError(f"{envelope.describe()} has one point left; remove the envelope instead")
        points = list(envelope.points)
        del points[index]
        self.set_points(owner, envelope, points, f"remove a point of {envelope.describe()}")

    def _following(self, step: Command) -> None:
        """Run ``step`` (tracks, busses, sends or slots added, removed or moved; a chain replaced) with the session's
        MIDI mappings following their targets, as one undo step."""
        repoint = _repointed(self.session, step)
        self.history.run(step if repoint is None else Group([step, repoint], step.label))

    @contextmanager
    def _group_following(self, label: str) -> Iterator[None]:
        """Record everything inside as one step named ``label``, as :meth:`History.group`, with the session's MIDI
        mappings following what it moved or removed, last in the step (so undone first)."""
        midi = _mapped(self.session)
        anchors = midi.anchor(self.session) if midi is not None else None  # type: ignore[arg-type]
        with self.history.group(label):
            yield
            if midi is not None and anchors is not None:
                repoint = _repoint(midi, anchors, self.session)
                if repoint is not None:
                    self.history.run(repoint)

    def _routed(self, session: TrackList, command: Command, follow: bool = False) -> None:
        """Run ``command`` as a step if the graph it leaves is sound; otherwise raise and record nothing.
        ``follow``: the session's MIDI mappings follow what it moves, in the same step."""
        command.do()
        try:
            routing.build(session.tracks, session.busses, getattr(getattr(session, "master", None), "chain", None))
        finally:
            command.undo()
        if follow:
            self._following(command)
        else:
            self.history.run(command)

    def _attr(self, obj: object, attr: str, value: object, label: str, continuous: bool = False) -> None:
        self.history.run(SetValue(obj, attr, value, lambda: getattr(obj, attr),
                                  lambda v: setattr(obj, attr, v), label, continuous))


def _mapped(session: TrackList | None) -> MidiMap | None:
    """The session's MIDI map, if it has mappings to follow."""
    midi = getattr(session, "midi", None)
    return midi if isinstance(midi, MidiMap) and midi.mappings else None


def _repointed(session: TrackList | None, step: Command) -> Repoint | None:
    """The MIDI mappings ``step`` moves: each mapping of the session whose target changes place (a slot moved,
    and those after it in its old and new chain; a track or bus after one added, removed or moved; a send whose
    bus is renamed) pointed at the same target afterwards, and each whose target ``step`` removes dropped; None if
    none is. Found by doing the step and undoing it."""
    midi = _mapped(session)
    if midi is None:
        return None
    anchors = midi.anchor(session)  # type: ignore[arg-type] - a Session is a MappedSession
    step.do()
    try:
        return _repoint(midi, anchors, session)
    finally:
        step.undo()


def _repoint(midi: MidiMap, anchors: list[Anchor], session: TrackList | None) -> Repoint | None:
    """What following ``anchors`` (taken before an edit) to where the edit, done now, left their targets changes
    of ``midi``'s mappings, as a step; None if nothing."""
    followed, lines = midi.followed(anchors, session)  # type: ignore[arg-type] - a Session is a MappedSession
    pairs = [(m, followed[id(m)]) for m in midi.mappings if id(m) in followed and followed[id(m)] != m]
    return Repoint(midi, pairs, lines) if pairs else None


def _holds(split: Split, chain: Chain) -> bool:
    """Is ``chain`` one of ``split``'s branches, or inside one at any depth?"""
    for branch in split.branches:
        if branch.chain is chain or any(isinstance(s, Split) and _holds(s, chain) for s in branch.chain):
            return True
    return False


def _move_label(item: Slot | Split, owner: Strip, to_owner: Strip, source: Chain, target: Chain) -> str:
    """The undo step's name: where the slot went, in the words the split window uses."""
    if to_owner is not owner:
        return f"move {item.name} to {to_owner.strip_name}"
    for split in _splits(to_owner.chain):
        for k, branch in enumerate(split.branches):
            if branch.chain is target:
                return f"move {item.name} into branch {k + 1} of {split.name}"
    for split in _splits(owner.chain):
        if any(branch.chain is source for branch in split.branches):
            return f"move {item.name} out of {split.name}"
    return f"move {item.name}"


def _splits(chain: Chain):
    """Every split under ``chain``, at any depth."""
    for slot in chain:
        if isinstance(slot, Split):
            yield slot
            for branch in slot.branches:
                yield from _splits(branch.chain)


def keyed_slots(session: TrackList) -> list[Slot]:
    """Every slot with a key, in the tracks', busses' and master's chains and their A/B others."""
    owners = [*session.tracks, *session.busses]
    master = getattr(session, "master", None)
    if master is not None:
        owners.append(master)
    chains = [c for o in owners for c in (o.chain, getattr(getattr(o, "ab", None), "other", None)) if c is not None]
    return [slot for chain in chains for slot in chain.keyed()]


def _check_name(session: TrackList, name: str) -> None:
    if not name:
        raise SessionError("a track needs a name")
    if any(t.name == name for t in session.tracks):
        raise SessionError(f"a track named {name!r} already exists; track names are unique")
