"""Undo and redo: every change to a session's model as a command object held by the session.

Edits go through :class:`Editor` (``session.edit``), which records a command in
``session.history``. A run of changes to one continuous value (a fader or
knob being dragged) coalesces into one step until the gesture ends
(:meth:`History.seal`, which a GUI calls on mouse release).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from rackhost.chain.chain import Chain, Slot
from rackhost.chain.compare import ChainOwner, switch
from rackhost.chain.plugin import Plugin

if TYPE_CHECKING:
    from rackhost.chain.track import Track


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

    def run(self, command: Command) -> None:
        command.do()
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
        self._undone.append(command)
        self._sealed = True
        return command.label

    def redo(self) -> str | None:
        if not self._undone:
            return None
        command = self._undone.pop()
        command.do()
        self._done.append(command)
        self._sealed = True
        return command.label


class Editor:
    """Every change to a session's model, recorded for undo."""

    def __init__(self, history: History):
        self.history = history

    def set_parameter(self, slot: Slot | Plugin, name: str, value: object) -> None:
        plugin = slot.plugin if isinstance(slot, Slot) else slot
        plugin.info(name).coerce(plugin.name, value)  # fail before recording anything
        self.history.run(SetValue(plugin, name, value, lambda: plugin.get(name), lambda v: plugin.set(name, v),
                                  f"set {plugin.name} {name}", continuous=True))

    def set_bypass(self, slot: Slot, bypass: bool) -> None:
        self._attr(slot, "bypass", bool(bypass), f"bypass {slot.name}")

    def set_mix(self, slot: Slot, mix: float) -> None:
        Slot(slot.plugin, mix=mix)  # validates
        self.history.run(SetValue(slot, "mix", mix, lambda: slot.mix, slot.set_mix, f"{slot.name} wet/dry",
                                  continuous=True))

    def set_gain(self, owner: Track | object, gain_db: float) -> None:
        self._attr(owner, "gain_db", float(gain_db), "gain", continuous=True)

    def set_pan(self, track: Track, pan: float) -> None:
        if not -1.0 <= pan <= 1.0:
            raise ValueError(f"pan of track {track.name!r} must be between -1 and 1; got {pan!r}")
        self._attr(track, "pan", float(pan), f"pan {track.name}", continuous=True)

    def set_mute(self, track: Track, mute: bool) -> None:
        self._attr(track, "mute", bool(mute), f"mute {track.name}")

    def set_solo(self, track: Track, solo: bool) -> None:
        self._attr(track, "solo", bool(solo), f"solo {track.name}")

    def set_loudness_target(self, master: object, target: object) -> None:
        self._attr(master, "loudness_target", target, "loudness target")

    def add_slot(self, chain: Chain, plugin: Plugin | Slot, index: int | None = None) -> Slot:
        slot = plugin if isinstance(plugin, Slot) else Slot(plugin)
        self.history.run(AddSlot(chain, slot, len(chain) if index is None else index, f"add {slot.name}"))
        return slot

    def remove_slot(self, chain: Chain, slot: Slot | str | int) -> None:
        self.history.run(RemoveSlot(chain, chain.index(slot)))

    def move_slot(self, chain: Chain, slot: Slot | str | int, to_index: int) -> None:
        self.history.run(MoveSlot(chain, chain.index(slot), to_index))

    def load_chain(self, owner: ChainOwner, chain: Chain, label: str = "load preset") -> None:
        self.history.run(ReplaceChain(owner, chain, label))

    def switch_ab(self, owner: ChainOwner) -> None:
        self.history.run(SwitchAB(owner))

    def _attr(self, obj: object, attr: str, value: object, label: str, continuous: bool = False) -> None:
        self.history.run(SetValue(obj, attr, value, lambda: getattr(obj, attr),
                                  lambda v: setattr(obj, attr, v), label, continuous))
