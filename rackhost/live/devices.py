"""Audio devices: what PortAudio (through sounddevice) offers, and a checked device configuration.

PortAudio scans host APIs and devices once, when sounddevice is imported: a server started later
(e.g. ``jackd``) is seen only after :func:`rescan`. sounddevice is imported lazily so a machine
without libportaudio gets a clear :class:`AudioDeviceError` when devices are asked for, not an
``OSError`` at import.

When a JACK server is running, its devices are preferred as defaults: PortAudio's default host API
may be ALSA, and ALSA's ``jack`` PCM (from libasound2-plugins) sometimes shows up in a scan and is
then the default device although it is only a bridge to the same server.

``$RACKHOST_AUDIO_API`` (``jack``, ``alsa``, ``pulse``..., a host API's name or
a part of it) limits rackhost to that one host API: a user with both JACK and
ALSA keeps a live session off the sound card's ALSA devices (and off ALSA's
``jack`` bridge) even when the JACK server is down. With the API absent (JACK's,
when no server runs) there are no devices, and the error says how to get one.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from types import ModuleType

from rackhost.errors import AudioDeviceError


NO_DEVICE_HINT = ("no audio device found (is an audio server such as JACK running? "
                  "on Linux without a sound card, start one: jackd -d dummy)")
COMMON_RATES = (44100, 48000, 88200, 96000, 176400, 192000)
JACK_HOSTAPI = "JACK Audio Connection Kit"
AUDIO_API_ENV = "RACKHOST_AUDIO_API"
# PortAudio's host API names: the one forced may be missing from a scan (JACK's while no server runs).
KNOWN_HOSTAPIS = ("ALSA", JACK_HOSTAPI, "OSS", "PulseAudio", "Core Audio", "MME", "Windows DirectSound",
                  "Windows WASAPI", "Windows WDM-KS", "ASIO")

_sd: ModuleType | None = None
_server_lost = False


@dataclass(frozen=True)
class HostApi:
    index: int
    name: str
    devices: tuple[int, ...]
    default_input_device: int | None
    default_output_device: int | None
    is_default: bool


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool

    def describe(self) -> str:
        """E.g. ``'system' (JACK Audio Connection Kit): 2 in / 2 out, 48000 Hz``."""
        return (f"{self.name!r} ({self.hostapi}): {self.max_input_channels} in / {self.max_output_channels} out, "
                f"{self.default_samplerate:g} Hz")


@dataclass(frozen=True)
class DeviceConfig:
    """A device set-up that PortAudio accepted. ``None`` device / 0 channels: that direction is unused."""

    input_device: int | None
    output_device: int | None
    sample_rate: int
    block_size: int = 128
    input_channels: int = 2
    output_channels: int = 2

    def stream_kwargs(self) -> dict:
        """Keyword arguments for ``sd.Stream`` (duplex; use the matching half for In/OutputStream)."""
        return {"device": (self.input_device, self.output_device), "samplerate": self.sample_rate,
                "blocksize": self.block_size, "channels": (self.input_channels, self.output_channels),
                "dtype": "float32"}

    def to_dict(self) -> dict:
        return asdict(self)


# -- PortAudio access -----------------------------------------------------------------------------


def _sounddevice() -> ModuleType:
    global _sd
    if _server_lost:
        raise AudioDeviceError("the audio server went away while rackhost was using it; PortAudio cannot recover "
                               "in this process: restart the server, then restart rackhost")
    if _sd is None:
        try:
            import sounddevice
        except OSError as err:  # libportaudio missing: sounddevice raises at import
            raise AudioDeviceError(f"the PortAudio library could not be loaded ({err}); install it "
                                   f"(Debian/Ubuntu: apt install libportaudio2) to use audio devices") from err
        _sd = sounddevice
    return _sd


def rescan() -> None:
    """Make PortAudio scan host APIs and devices again (e.g. after ``jackd`` was started).

    Closes every open PortAudio stream. Never call it after the JACK server PortAudio was attached to
    has died (PortAudio's JACK host API asserts in Pa_Terminate and aborts the process): call
    :func:`server_lost` instead.
    """
    sd = _sounddevice()
    if sd._initialized:
        sd._terminate()
    sd._initialize()


def server_lost() -> None:
    """Record that the audio server died under an open stream (its ``active`` went False unexpectedly).

    Stops PortAudio from being terminated again in this process (that would abort it at exit) and
    makes every later call raise a clear :class:`AudioDeviceError`. Do not close the dead stream:
    closing can hang.
    """
    global _server_lost
    if _sd is not None:
        _sd._last_callback = None
        _sd._initialized = 0
    _server_lost = True


# -- listing --------------------------------------------------------------------------------------


def forced_hostapi() -> str | None:
    """The host API ``$RACKHOST_AUDIO_API`` limits rackhost to (its full name), or None when it is unset.

    The value is matched without case against the names PortAudio offers now, whole or in part
    (``jack`` is ``JACK Audio Connection Kit``), then against every name PortAudio may offer.
    """
    wanted = os.environ.get(AUDIO_API_ENV, "").strip()
    if not wanted:
        return None
    present = [api["name"] for api in _sounddevice().query_hostapis()]
    for names in (present, KNOWN_HOSTAPIS):
        found = ([n for n in names if n.lower() == wanted.lower()]
                 or [n for n in names if wanted.lower() in n.lower()])
        if len(found) > 1:
            raise AudioDeviceError(f"{AUDIO_API_ENV}={wanted!r} matches several host APIs: {', '.join(found)}; "
                                   f"give more of the name")
        if found:
            return found[0]
    raise AudioDeviceError(f"{AUDIO_API_ENV}={wanted!r} names no audio host API (PortAudio offers "
                           f"{', '.join(present) or 'none'} here); set it to one of them, e.g. jack or alsa, "
                           f"or unset it to use every one")


def list_hostapis() -> list[HostApi]:
    """The host APIs PortAudio offers (only the forced one, if ``$RACKHOST_AUDIO_API`` names one)."""
    sd = _sounddevice()
    forced = forced_hostapi()
    default = sd.default.hostapi
    return [
        HostApi(index=i, name=api["name"], devices=tuple(api["devices"]),
                default_input_device=_index_or_none(api["default_input_device"]),
                default_output_device=_index_or_none(api["default_output_device"]),
                is_default=api["name"] == forced if forced else i == default)
        for i, api in enumerate(sd.query_hostapis()) if forced in (None, api["name"])
    ]


def list_devices() -> list[AudioDevice]:
    """Every device PortAudio offers (only the forced host API's, if ``$RACKHOST_AUDIO_API`` names one);
    ``is_default_*`` mark the devices :func:`resolve_config` picks."""
    sd = _sounddevice()
    apis = sd.query_hostapis()
    forced = forced_hostapi()
    default_in, default_out = _default_indices(sd, forced)
    return [
        AudioDevice(index=d["index"], name=d["name"], hostapi=apis[d["hostapi"]]["name"],
                    max_input_channels=d["max_input_channels"], max_output_channels=d["max_output_channels"],
                    default_samplerate=float(d["default_samplerate"]), is_default_input=d["index"] == default_in,
                    is_default_output=d["index"] == default_out)
        for d in sd.query_devices() if forced in (None, apis[d["hostapi"]]["name"])
    ]


def default_devices() -> tuple[AudioDevice | None, AudioDevice | None]:
    """(default input, default output), either ``None`` if there is none."""
    devices = list_devices()
    return (next((d for d in devices if d.is_default_input), None),
            next((d for d in devices if d.is_default_output), None))


def find_device(spec: int | str, kind: str | None = None) -> AudioDevice:
    """A device by index or by (part of) its name; ``kind`` is ``"input"``/``"output"`` to require channels."""
    if kind not in (None, "input", "output"):
        raise ValueError(f"kind must be 'input', 'output' or None, got {kind!r}")
    devices = list_devices()
    if not devices:
        raise AudioDeviceError(no_device_message())
    usable = [d for d in devices if kind is None or _channels(d, kind) > 0]
    if isinstance(spec, int) and not isinstance(spec, bool):
        found = [d for d in devices if d.index == spec]
    elif isinstance(spec, str):
        exact = [d for d in usable if d.name == spec]
        found = exact or [d for d in usable if spec.lower() in f"{d.name} {d.hostapi}".lower()]
        if len(found) > 1:
            found = [d for d in found if d.hostapi == JACK_HOSTAPI] or found
    else:
        raise TypeError(f"device must be an index or a name, got {spec!r}")
    if not found:
        listing = "; ".join(f"{d.index}: {d.describe()}" for d in usable) or "(none)"
        raise AudioDeviceError(f"no {kind + ' ' if kind else ''}audio device {spec!r}; available: {listing}")
    if len(found) > 1 and isinstance(spec, str):
        names = ", ".join(f"{d.index}: {d.name!r} ({d.hostapi})" for d in found)
        raise AudioDeviceError(f"audio device {spec!r} is ambiguous: {names}; give the index")
    device = found[0]
    if kind is not None and _channels(device, kind) == 0:
        raise AudioDeviceError(f"audio device {device.describe()} has no {kind}s")
    return device


# -- configuration --------------------------------------------------------------------------------


def resolve_config(input_device: int | str | None = None, output_device: int | str | None = None,
                   sample_rate: int | None = None, block_size: int = 128, input_channels: int | None = None,
                   output_channels: int | None = None) -> DeviceConfig:
    """Fill in defaults and check the configuration with PortAudio.

    Defaults: the default devices (a JACK server's ``system`` when one runs), the output device's
    rate, and up to 2 channels each way. ``input_channels=0`` makes an output-only configuration.
    Raises :class:`AudioDeviceError` naming the device and what it supports if PortAudio refuses.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive number of frames, got {block_size!r}")
    for label, value in (("input_channels", input_channels), ("output_channels", output_channels)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{label} must be a whole number >= 0, got {value!r}")
    if sample_rate is not None and (isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float))
                                    or sample_rate <= 0):
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    sd = _sounddevice()
    devices = list_devices()
    if not devices:
        raise AudioDeviceError(no_device_message())

    def pick(spec, kind, wanted):
        if wanted == 0:
            return None
        if spec is not None:
            return find_device(spec, kind)
        default = next((d for d in devices if (d.is_default_input if kind == "input" else d.is_default_output)), None)
        if default is None and wanted:
            raise AudioDeviceError(f"no default {kind} device; available: "
                                   + ("; ".join(f"{d.index}: {d.describe()}" for d in devices)))
        return default

    dev_in = pick(input_device, "input", input_channels)
    dev_out = pick(output_device, "output", output_channels)
    if dev_in is None and dev_out is None:
        raise AudioDeviceError("neither an input nor an output device is configured; " + NO_DEVICE_HINT
                               if input_channels != 0 or output_channels != 0 else
                               "input_channels and output_channels are both 0: nothing to open")
    in_ch = 0 if dev_in is None else (input_channels if input_channels is not None else min(2, dev_in.max_input_channels))
    out_ch = 0 if dev_out is None else (output_channels if output_channels is not None
                                        else min(2, dev_out.max_output_channels))
    if sample_rate is None:
        sample_rate = (dev_out or dev_in).default_samplerate
    rate = int(sample_rate) if float(sample_rate).is_integer() else sample_rate

    for device, kind, channels in ((dev_out, "output", out_ch), (dev_in, "input", in_ch)):
        if device is None or channels == 0:
            continue
        check = sd.check_input_settings if kind == "input" else sd.check_output_settings
        try:
            check(device=device.index, channels=channels, samplerate=rate, dtype="float32")
        except sd.PortAudioError as err:
            raise AudioDeviceError(
                f"audio device {device.name!r} ({device.hostapi}) refused {rate:g} Hz with {channels} {kind} "
                f"channel{'s' if channels != 1 else ''}: {err}. It supports {_channels(device, kind)} {kind} "
                f"channel{'s' if _channels(device, kind) != 1 else ''} at {_rates_text(sd, device, kind)}"
                f"{_jack_hint(device)}") from err
    return DeviceConfig(input_device=None if dev_in is None else dev_in.index,
                        output_device=None if dev_out is None else dev_out.index, sample_rate=rate,
                        block_size=block_size, input_channels=in_ch, output_channels=out_ch)


def supported_rates(device: AudioDevice, kind: str = "output") -> list[int]:
    """Which of the common rates PortAudio accepts for ``device`` (a JACK device: only the server's)."""
    sd = _sounddevice()
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    channels = min(1, _channels(device, kind))
    ok = []
    for rate in sorted({*COMMON_RATES, int(device.default_samplerate)}):
        try:
            check(device=device.index, channels=channels, samplerate=rate, dtype="float32")
        except sd.PortAudioError:
            continue
        ok.append(rate)
    return ok


def jack_server_name() -> str:
    return os.environ.get("JACK_DEFAULT_SERVER", "default")


# -- helpers --------------------------------------------------------------------------------------


def _index_or_none(index: int) -> int | None:
    return index if index is not None and index >= 0 else None


def _channels(device: AudioDevice, kind: str) -> int:
    return device.max_input_channels if kind == "input" else device.max_output_channels


def no_device_message() -> str:
    """The "no audio device found" line, naming RACKHOST_AUDIO_API when that is what hides the devices."""
    forced = forced_hostapi()
    if forced is None:
        return NO_DEVICE_HINT
    return (f"{NO_DEVICE_HINT}; {AUDIO_API_ENV}={os.environ[AUDIO_API_ENV].strip()!r} limits rackhost to "
            f"{forced}: unset it to use every host API")


def _default_indices(sd, forced: str | None = None) -> tuple[int | None, int | None]:
    """Defaults: the forced host API's, else what the user set in ``sd.default.device``, else the JACK
    host API's when it has devices, else PortAudio's."""
    if forced is not None:
        api = next((api for api in sd.query_hostapis() if api["name"] == forced), None)
        if api is None:
            return None, None
        return _index_or_none(api["default_input_device"]), _index_or_none(api["default_output_device"])
    user = list(getattr(sd.default.device, "_pair", [None, None]))
    jack = next((api for api in sd.query_hostapis() if api["name"] == JACK_HOSTAPI and api["devices"]), None)
    result: list[int | None] = []
    for position, kind in enumerate(("input", "output")):
        if user[position] is None and jack is not None:
            result.append(_index_or_none(jack[f"default_{kind}_device"]))
            continue
        try:
            result.append(sd.query_devices(kind=kind)["index"])
        except (sd.PortAudioError, ValueError):
            result.append(None)
    return result[0], result[1]


def _rates_text(sd, device: AudioDevice, kind: str) -> str:
    rates = supported_rates(device, kind)
    if not rates:
        return f"{device.default_samplerate:g} Hz (its default)"
    return " or ".join(f"{r} Hz" for r in rates)


def _jack_hint(device: AudioDevice) -> str:
    if device.hostapi != JACK_HOSTAPI:
        return ""
    return (f" (a JACK device runs at the server's rate and channel count: use those, or restart the JACK "
            f"server {jack_server_name()!r} with other -r/-C/-P settings)")
