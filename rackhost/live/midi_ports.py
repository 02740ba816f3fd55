"""MIDI ports through mido and python-rtmidi: list them, open inputs and outputs.

Which MIDI system: JACK MIDI when a JACK server answers (rtmidi's
``UNIX_JACK`` API), otherwise the platform's own (ALSA sequencer on Linux,
CoreMIDI on macOS, Windows MM). ``$RACKHOST_MIDI_API`` (``jack``, ``alsa``,
``coremidi``, ``winmm``) forces one. A machine with neither (no
``/dev/snd/seq``, no server) raises :class:`MidiUnavailableError` with what
was tried and how to get a MIDI system; nothing else in rackhost needs MIDI.

Pitfall encoded here: mido's ``client_name=`` makes a port virtual, so an
existing port is opened by name without one (see :func:`open_input`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rackhost.chain.teardown import muted_stderr as quiet_stderr  # libjack and ALSA print when there is no server
from rackhost.errors import MidiUnavailableError

CLIENT_NAME = "rackhost"
VIRTUAL_PREFIX = "virtual:"  # "virtual:NAME" opens a port of rackhost's own that others connect to
APIS = {
    "jack": "UNIX_JACK",
    "alsa": "LINUX_ALSA",
    "coremidi": "MACOSX_CORE",
    "winmm": "WINDOWS_MM",
}
NO_MIDI_HINT = (
    "no MIDI system found: start a JACK server (e.g. 'jackd -d dummy' or your audio setup's jackd) for JACK MIDI, "
    "or load the ALSA sequencer ('modprobe snd-seq'); then run 'rackhost midi ports'"
)
# Each MIDI system by name, and what makes it answer, for a user who forced one with $RACKHOST_MIDI_API.
API_NAMES = {"jack": "JACK MIDI", "alsa": "the ALSA sequencer", "coremidi": "CoreMIDI", "winmm": "Windows MM"}
START_HINTS = {
    "jack": "start a JACK server (e.g. 'jackd -d dummy' or your audio setup's jackd)",
    "alsa": "load the ALSA sequencer ('modprobe snd-seq')",
    "coremidi": "CoreMIDI is macOS's own",
    "winmm": "Windows MM is Windows' own",
}


@dataclass(frozen=True)
class MidiPorts:
    """The ports one MIDI system offers. ``inputs`` are what rackhost can listen to (other programs' outputs)."""

    api: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"api": self.api, "inputs": self.inputs, "outputs": self.outputs}


def _forced() -> str | None:
    """The MIDI system ``$RACKHOST_MIDI_API`` forces, if it is set."""
    forced = os.environ.get("RACKHOST_MIDI_API", "").strip().lower()
    if forced and forced not in APIS:
        raise MidiUnavailableError(f"RACKHOST_MIDI_API={forced!r} is not one of {', '.join(APIS)}; "
                                   f"set it to one of them, or unset it to let rackhost pick")
    return forced or None


def _candidates() -> list[str]:
    forced = _forced()
    if forced:
        return [forced]
    if sys.platform.startswith("linux"):
        return ["jack", "alsa"]
    if sys.platform == "darwin":
        return ["coremidi", "jack"]
    if sys.platform.startswith("win"):
        return ["winmm"]
    return ["jack"]


_chosen: tuple[str, Any] | None = None


def backend(refresh: bool = False) -> tuple[str, Any]:
    """``(api name, mido Backend)`` of the first MIDI system that answers; cached until ``refresh``."""
    global _chosen
    if _chosen is not None and not refresh:
        return _chosen
    try:
        import mido
        import rtmidi  # noqa: F401 - mido's rtmidi backend needs it; say so clearly if it is missing
    except ImportError as err:
        raise MidiUnavailableError(f"MIDI needs mido and python-rtmidi ({err}); pip install python-rtmidi") from err
    reasons = []
    for api in _candidates():
        candidate = mido.Backend(f"mido.backends.rtmidi/{APIS[api]}", load=True)
        try:
            with quiet_stderr():
                candidate.get_input_names()
        except (OSError, RuntimeError, ValueError) as err:  # rtmidi's SystemError is an OSError
            reasons.append(f"{api}: {str(err).strip() or type(err).__name__}")
            continue
        _chosen = (api, candidate)
        return _chosen
    forced = _forced()
    if forced:  # the user chose this one system: say how to make it answer, not how to get another
        raise MidiUnavailableError(
            f"no MIDI system found: RACKHOST_MIDI_API={forced} forces {API_NAMES[forced]}, which did not answer "
            f"({reasons[0].split(': ', 1)[1]}); {START_HINTS[forced]}, or unset RACKHOST_MIDI_API to let "
            f"rackhost pick; then run 'rackhost midi ports'")
    raise MidiUnavailableError(f"{NO_MIDI_HINT} (tried {'; '.join(reasons)})")


def list_ports() -> MidiPorts:
    api, mido_backend = backend(refresh=True)
    with quiet_stderr():
        inputs = mido_backend.get_input_names()
        outputs = mido_backend.get_output_names()
    # rtmidi lists our own probe clients' ports too on some systems; they are not useful to a user.
    return MidiPorts(api, _unique(inputs), _unique(outputs))


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _match(name: str, available: list[str], kind: str) -> str:
    if name in available:
        return name
    close = [n for n in available if name.lower() in n.lower()]
    if len(close) == 1:
        return close[0]
    listed = ", ".join(repr(n) for n in available) or "(none)"
    if close:
        raise MidiUnavailableError(f"MIDI {kind} {name!r} matches several ports: {', '.join(map(repr, close))}; "
                                   f"give the whole name")
    raise MidiUnavailableError(f"no MIDI {kind} port {name!r}; available: {listed} "
                               f"(or '{VIRTUAL_PREFIX}NAME' for a port of rackhost's own)")


def open_input(name: str, callback: Callable[[Any], None]) -> Any:
    """Listen to ``name`` (an existing port, exact or a unique part of its name), or ``virtual:NAME``.

    ``callback(message)`` runs on the MIDI system's thread for every message.
    """
    api, mido_backend = backend()
    try:
        with quiet_stderr():
            if name.startswith(VIRTUAL_PREFIX):
                return mido_backend.open_input(name[len(VIRTUAL_PREFIX):] or "midi_in", virtual=True,
                                               client_name=CLIENT_NAME, callback=callback)
            port = _match(name, _unique(mido_backend.get_input_names()), "input")
            return mido_backend.open_input(port, callback=callback)  # no client_name: it would make it virtual
    except (OSError, RuntimeError, ValueError) as err:
        raise MidiUnavailableError(f"cannot open MIDI input {name!r} ({api}): {err}") from err


def open_output(name: str) -> Any:
    """Send to ``name`` (an existing port, exact or a unique part of its name), or ``virtual:NAME``."""
    api, mido_backend = backend()
    try:
        with quiet_stderr():
            if name.startswith(VIRTUAL_PREFIX):
                return mido_backend.open_output(name[len(VIRTUAL_PREFIX):] or "midi_out", virtual=True,
                                                client_name=CLIENT_NAME)
            port = _match(name, _unique(mido_backend.get_output_names()), "output")
            return mido_backend.open_output(port)
    except (OSError, RuntimeError, ValueError) as err:
        raise MidiUnavailableError(f"cannot open MIDI output {name!r} ({api}): {err}") from err
