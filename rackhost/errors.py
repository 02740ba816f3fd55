"""Exceptions shared by every part of rackhost.

Every error a user can cause is a subclass of :class:`RackhostError` whose
message names the thing at fault and says what would fix it, so the CLI can
print it as one line and the GUI can show it as is.
"""

from __future__ import annotations

import difflib
import shlex


class RackhostError(Exception):
    """Base class of every error rackhost raises on purpose."""


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a message naming a key from a file stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class PluginNotFoundError(RackhostError):
    def __init__(self, name: str, searched: list[str], known: list[str] | None = None):
        self.name = name
        self.searched = searched
        self.close: list[str] = []  # installed plug-ins whose names are near: a misspelt name, most likely
        hint = ""
        if known:
            lowered = {k.lower(): k for k in known}
            close = [k for k in known if name.lower() in k.lower() or k.lower() in name.lower()]
            close += [lowered[k] for k in difflib.get_close_matches(name.lower(), lowered, n=5, cutoff=0.75)
                      if lowered[k] not in close]
            self.close = close[:5]
            if close:
                hint = f" Did you mean {', '.join(close[:5])}?"
        super().__init__(
            f"unknown plug-in {name!r}: it is not a pedalboard built-in and no VST3 of that name "
            f"is in {', '.join(searched) or 'any plug-in folder'}.{hint} "
            f"Run 'rackhost plugins' to list what is available, or give the path to the .vst3 bundle."
        )


class PluginLoadError(RackhostError):
    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"could not load plug-in {path!r}: {reason}")


class PluginProbeFailed(PluginLoadError):
    """A plug-in whose probe crashed, hung or refused it: loading it here could take rackhost down.

    A :class:`PluginLoadError` (code that handles a plug-in that would not load
    handles this one too), with its own message: the probe's reason and the way back.
    """

    def __init__(self, name: str, path: str, reason: str, retry: str | None = None):
        self.name = name
        self.path = path
        self.reason = reason
        self.retry = retry or name  # what 'rackhost plugins --retry' needs to find it: its name, or its path
        # The whole reason on one line: pedalboard gathers one line per format it tried.
        whole = printable(" ".join(line.strip() for line in reason.splitlines() if line.strip()))
        RackhostError.__init__(
            self,
            f"refusing to load plug-in {name!r} ({path!r}): it failed its probe in a child process: {whole}. "
            f"Loading it would risk taking rackhost down with it; after updating or fixing it, "
            f"probe it again with 'rackhost plugins --retry {shlex.quote(self.retry)}'"
        )


class ChannelLayoutError(RackhostError):
    """A plug-in accepts neither mono nor stereo, so no adaptation is possible."""


class UnknownParameterError(RackhostError):
    """A parameter name the plug-in does not have; ``close`` holds its names nearest to it (a typo, most likely)."""

    def __init__(self, plugin: str, name: str, valid: list[str]):
        self.plugin = plugin
        self.name = name
        self.valid = valid
        lowered = {v.lower(): v for v in valid}
        self.close = [lowered[k] for k in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.75)]
        hint = f" (did you mean {' or '.join(self.close)}?)" if self.close else ""
        super().__init__(
            f"plug-in {plugin!r} has no parameter {name!r}{hint}; valid parameters: {', '.join(valid) or '(none)'}"
        )


class ParameterValueError(RackhostError):
    """A value that is out of range, of the wrong type, or sent to an output-only parameter."""

    def __init__(self, plugin: str, name: str, value: object, reason: str):
        self.plugin = plugin
        self.name = name
        self.value = value
        super().__init__(f"{plugin}.{name} = {value!r}: {reason}")


class AudioFileError(RackhostError):
    """An audio file is missing, unreadable, or in a format rackhost cannot read or write."""


class ChainSpecError(RackhostError):
    """An inline chain description (``--chain``) cannot be parsed."""


class SlotPathError(RackhostError):
    """A slot path (``1/0/0``: slot 0 of branch 0 of the split at slot 1) that is not an odd count of numbers
    from 0. Each command re-raises it as its own error, so the message names the path and how to write it."""

    def __init__(self, text: str, reason: str):
        self.text = text
        self.reason = reason
        super().__init__(f"slot path {text!r}: {reason}")


class SessionError(RackhostError):
    """A session is inconsistent (e.g. a track with no source)."""


class TrackBounceError(SessionError):
    """A track bounce (one file through its chain, as a file) asked of a session without exactly one track."""

    def __init__(self, tracks: int):
        self.tracks = tracks
        super().__init__(
            f"a track bounce renders one file through its chain, but this session has {tracks} tracks; "
            f"render it as a mix (track_bounce off), or bounce each track from a session of its own"
        )


class RoutingError(SessionError):
    """A strip's output or send names a bus that cannot take it (missing, or it would make a loop)."""


class UnknownBusError(RoutingError):
    """An output or a send names a bus the session does not have.

    ``owner``: "track" or "bus", ``index`` its place in the session, ``send``: the send's index, or None
    for the strip's output.
    """

    def __init__(self, owner: str, name: str, index: int, bus: str, send: int | None, busses: list[str]):
        self.owner, self.name, self.index, self.bus, self.send = owner, name, index, bus, send
        what = "sends to" if send is not None else "is routed to"
        known = ", ".join(repr(b) for b in busses) or "(none)"
        super().__init__(f"{owner} {name!r} {what} bus {bus!r}, which does not exist (busses: {known}); "
                         f"add the bus, or {'remove the send' if send is not None else 'route it to the master'}")


class RoutingLoopError(RoutingError):
    """Busses feeding each other in a circle; ``loop`` names them in order, the first again at the end.

    ``keyed``: per step of the loop, whether it is a key (a slot of the next strip hears the previous one).
    ``track``: the loop goes through a keyed track (tracks keying each other, or a track keyed by a bus it feeds).
    """

    def __init__(self, loop: tuple[str, ...], keyed: tuple[bool, ...] = (), track: bool = False):
        self.loop = loop
        self.track = track
        self.keyed = keyed or (False,) * (len(loop) - 1)
        shown = loop[0] + "".join(f" {'-(key)->' if k else '->'} {b}" for k, b in zip(self.keyed, loop[1:]))
        if track:
            fix = ("a track cannot hear a key from itself, from a track it keys or from a bus it feeds: key it "
                   "from a strip outside the loop, or clear one of the keys")
        elif any(self.keyed):
            fix = ("a bus cannot hear a key from itself or from a bus it feeds: key it from a strip outside "
                   "the loop, or route one of them elsewhere")
        else:
            fix = ("a bus cannot feed itself, even through other busses: "
                   "route one of them to the master or to a bus outside the loop")
        super().__init__(f"routing loop: {shown}; {fix}")


class UnknownKeySourceError(RoutingError):
    """A keyed slot's key names no track or bus (or a name both a track and a bus have).

    ``owner``: "track", "bus" or "master", ``index`` its place in the session, ``slot`` the slot's place in its chain.
    """

    def __init__(self, owner: str, name: str, index: int, slot: int, source: str, known: list[str],
                 ambiguous: bool = False):
        self.owner, self.name, self.index, self.slot, self.source = owner, name, index, slot, source
        where = "the master's" if owner == "master" else f"{owner} {name!r}'s"
        if ambiguous:
            problem = f"both a track and a bus are named {source!r}; rename one of them"
        else:
            problem = (f"no track or bus is named {source!r} (there are: {', '.join(map(repr, known)) or '(none)'}); "
                       f"name one of them, or clear the key")
        super().__init__(f"the key of slot {slot + 1} of {where} chain: {problem}")


class KeyedSplitSlotError(RoutingError):
    """A key on a slot inside a split's branch: keys are routed to a chain's own slots only."""

    def __init__(self, owner: str, plugin: str):
        self.owner, self.plugin = owner, plugin
        super().__init__(f"{owner}: {plugin} inside a split has a key, but only a chain's own slots can take one; "
                         f"move {plugin} out of the split, or clear its key")


class SplitIntoItselfError(SessionError):
    """A split moved into one of its own branches (at any depth): it cannot hold itself."""

    def __init__(self, split: str, path: tuple[int, ...], to: tuple[int, ...]):
        self.split, self.path, self.to = split, path, to
        super().__init__(f"split {split!r} (slot path {path!r}) cannot move into its own branch (to {to!r}); "
                         f"move it before or after itself, or move the plug-ins out of its branches instead")


class AudioDeviceError(RackhostError):
    """No audio device, or a configuration (rate, channels) the device refuses: names the device and what it supports."""


class MidiError(RackhostError):
    """Base of the MIDI errors: files, ports, mappings."""


class MidiFileError(MidiError):
    """A MIDI file is missing or malformed: names the file and what is wrong with it."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read MIDI file {path!r}: {reason}")


class MidiUnavailableError(MidiError):
    """No MIDI system on this machine (no JACK server, no ALSA sequencer), or a port that does not exist."""


class MidiMappingError(MidiError):
    """A MIDI mapping or program-map entry that cannot be applied (bad controller, unknown target...)."""
