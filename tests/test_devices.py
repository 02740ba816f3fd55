"""Audio devices through sounddevice/PortAudio, against a real JACK server (dummy driver)."""

from __future__ import annotations

import argparse
import io
import json
import os

import pytest
from jack_harness import run_python

from rackhost.cli import devices as devices_cli
from rackhost.errors import RackhostError
from rackhost.live import devices
from rackhost.live.devices import AudioDeviceError, DeviceConfig, resolve_config

JACK = "JACK Audio Connection Kit"


def _system(found):
    return next(d for d in found if d.hostapi == JACK and d.name == "system")


def test_the_jack_server_shows_as_host_api_and_default_system_device(jack_server):
    apis = {a.name: a for a in devices.list_hostapis()}
    assert JACK in apis and apis[JACK].devices
    system = _system(devices.list_devices())
    assert (system.max_input_channels, system.max_output_channels, system.default_samplerate) == (2, 2, 48000.0)
    assert system.is_default_input and system.is_default_output
    assert devices.default_devices() == (system, system)
    assert devices.find_device("system", "output") == system
    assert devices.supported_rates(system) == [48000]


def test_resolve_config_defaults_open_a_working_stream(jack_server):
    import sounddevice as sd

    config = resolve_config()
    system = _system(devices.list_devices())
    assert config == DeviceConfig(input_device=system.index, output_device=system.index, sample_rate=48000,
                                  block_size=128, input_channels=2, output_channels=2)
    calls = []
    with sd.Stream(**config.stream_kwargs(), callback=lambda i, o, f, t, s: (o.fill(0), calls.append(f))):
        sd.sleep(50)
    assert calls and set(calls) == {128}
    assert resolve_config(input_channels=0).input_device is None


@pytest.mark.parametrize("kwargs, refused, supported", [
    ({"sample_rate": 44100}, "refused 44100 Hz with 2 output channels", "2 output channels at 48000 Hz"),
    ({"output_channels": 4}, "refused 48000 Hz with 4 output channels", "2 output channels at 48000 Hz"),
    ({"input_channels": 4}, "refused 48000 Hz with 4 input channels", "2 input channels at 48000 Hz"),
])
def test_a_refused_configuration_names_the_device_and_what_it_supports(jack_server, kwargs, refused, supported):
    with pytest.raises(AudioDeviceError) as info:
        resolve_config(**kwargs)
    message = str(info.value)
    assert isinstance(info.value, RackhostError)
    assert "'system' (JACK Audio Connection Kit)" in message
    assert refused in message and supported in message
    assert jack_server.name in message  # says which server to restart with other settings


def test_bad_arguments_are_value_errors_and_unknown_devices_list_the_choices(jack_server):
    with pytest.raises(ValueError, match="block_size"):
        resolve_config(block_size=0)
    with pytest.raises(ValueError, match="output_channels"):
        resolve_config(output_channels=-1)
    with pytest.raises(AudioDeviceError, match=r"no output audio device 'nonesuch'; available: \d+: 'system'"):
        resolve_config(output_device="nonesuch")


def test_devices_command_prints_defaults_marked(jack_server):
    parser = argparse.ArgumentParser()
    devices_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["devices"])
    out = io.StringIO()
    assert args.func(args, out=out) == 0
    line = next(l for l in out.getvalue().splitlines() if " system " in l)
    assert line.startswith("><") and "2 in / 2 out  48000 Hz" in line
    assert "JACK Audio Connection Kit  (1 device)" in out.getvalue()


def test_devices_json_in_a_subprocess(jack_server):
    child = run_python("from rackhost.cli import main; raise SystemExit(main(['devices', '--json']))",
                       server=jack_server)
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    system = next(d for d in report["devices"] if d["hostapi"] == JACK)
    assert system["name"] == "system" and system["is_default_output"]
    assert report["default_output_device"] == system["index"]
    assert any(a["name"] == JACK for a in report["hostapis"])


@pytest.mark.parametrize("forced", ["jack", " JACK ", "JACK Audio Connection Kit"])
def test_no_server_gives_a_clear_error(forced):
    # JACK forced, with no server of that name (and none started for it): no devices on any machine,
    # whatever sound card it has (its ALSA devices, ALSA's 'jack' bridge among them, are left out).
    env = {devices.AUDIO_API_ENV: forced, "JACK_DEFAULT_SERVER": f"rackhost_test_absent_{os.getpid()}",
           "JACK_NO_START_SERVER": "1"}
    child = run_python("from rackhost.cli import main; raise SystemExit(main(['devices', '--json']))", env=env)
    assert child.returncode == 2
    assert child.stdout == ""
    assert child.stderr.strip().splitlines()[-1] == f"rackhost: error: {devices.NO_DEVICE_HINT}"
    # What a live session asks for says the same, and that the variable is why nothing else is offered.
    child = run_python("""
        from rackhost.live.devices import resolve_config
        from rackhost.errors import AudioDeviceError
        try:
            resolve_config()
        except AudioDeviceError as err:
            print(err)
    """, env=env)
    assert child.stdout.strip() == (f"{devices.NO_DEVICE_HINT}; RACKHOST_AUDIO_API={forced.strip()!r} limits "
                                    f"rackhost to JACK Audio Connection Kit: unset it to use every host API")


@pytest.mark.parametrize("forced", ["jack", "Jack Audio"])
def test_a_forced_host_api_is_the_only_one_offered_and_its_devices_are_the_defaults(jack_server, monkeypatch, forced):
    monkeypatch.setenv(devices.AUDIO_API_ENV, forced)
    assert [a.name for a in devices.list_hostapis()] == [JACK] and devices.list_hostapis()[0].is_default
    found = devices.list_devices()
    assert found and {d.hostapi for d in found} == {JACK}
    system = _system(found)
    assert devices.default_devices() == (system, system)
    config = resolve_config()
    assert (config.input_device, config.output_device, config.sample_rate) == (system.index, system.index, 48000)


def test_a_forced_host_api_that_does_not_exist_is_one_clear_line():
    child = run_python("from rackhost.cli import main; raise SystemExit(main(['devices']))",
                       env={devices.AUDIO_API_ENV: "nosuchaudio"})
    assert child.returncode == 2 and child.stdout == ""
    line = child.stderr.strip().splitlines()[-1]
    assert line.startswith("rackhost: error: RACKHOST_AUDIO_API='nosuchaudio' names no audio host API (PortAudio "
                           "offers ")
    assert line.endswith("; set it to one of them, e.g. jack or alsa, or unset it to use every one")


def test_missing_portaudio_library_gives_a_clear_error():
    child = run_python("""
        import ctypes.util
        real = ctypes.util.find_library
        ctypes.util.find_library = lambda name: None if name == "portaudio" else real(name)
        from rackhost.cli import main
        raise SystemExit(main(["devices"]))
    """)
    assert child.returncode == 2, child.stderr
    assert "PortAudio library could not be loaded" in child.stderr
    assert "apt install libportaudio2" in child.stderr


def test_the_live_engine_with_no_device_says_what_devices_says_not_portaudios_words():
    """What the window shows when the engine cannot start: before, PortAudio's 'Error querying device -1'."""
    env = {devices.AUDIO_API_ENV: "jack", "JACK_DEFAULT_SERVER": f"rackhost_test_absent_{os.getpid()}",
           "JACK_NO_START_SERVER": "1"}
    child = run_python("""
        from rackhost.chain import Session
        from rackhost.live import LiveEngine, LiveEngineError
        session = Session()
        session.add_track("vox", None, input=(0,))
        try:
            LiveEngine(session).start()
        except LiveEngineError as err:
            print(err)
    """, env=env)
    assert child.stdout.strip().startswith(devices.NO_DEVICE_HINT), child.stdout + child.stderr
    assert "querying device" not in child.stdout
