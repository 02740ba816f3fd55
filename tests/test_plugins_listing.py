"""`rackhost plugins` offers exactly what `--chain` takes, by names `--chain` takes, with true latencies.

The real CLI in a subprocess, the real pedalboard built-ins and the real VST3s
(the project's DPF builds and Debian's zam-plugins; ZamVerb is listed, never loaded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pedalboard
import pytest
import soundfile as sf

from conftest import PROJECT_VST3_DIR, SR, VST3_DIR, program_signal

# pedalboard's effect classes that rackhost lists (its own table), and the two a chain refuses.
REFUSED = {"PitchShift", "GSMFullRateCompressor"}
INSTRUMENTS = ("Kars", "Nekobi")  # the DPF builds that play MIDI


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A private scan cache holding the DPF builds' probes: 3BandEQ's shown name, '3 Band EQ', is known,
    and that Kars and Nekobi are instruments (which --instrument takes, not --chain)."""
    home = tmp_path_factory.mktemp("listing")
    env = dict(os.environ, RACKHOST_CACHE_DIR=str(home / "cache"), RACKHOST_CONFIG_DIR=str(home / "config"))
    probed = rackhost(env, "plugins", *INSTRUMENTS, "3BandEQ", "--json")
    assert probed.returncode == 0, probed.stderr
    return env


def rackhost(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def bundle_names() -> list[str]:
    """Every VST3 bundle name in the folders rackhost searches here, found by globbing (first folder wins)."""
    names: list[str] = []
    for folder in (PROJECT_VST3_DIR, Path.home() / ".vst3", Path("/usr/local/lib/vst3"), VST3_DIR):
        names += [p.stem for p in sorted(folder.glob("*.vst3")) if p.stem not in names]
    return sorted(names)


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "in.wav"
    sf.write(path, program_signal(2, 0.2).T, SR, subtype="PCM_24")
    return path


def render(env: dict[str, str], wav: Path, chain: str) -> subprocess.CompletedProcess:
    return rackhost(env, "render", str(wav), "-o", str(wav.with_name("out.wav")), "--chain", chain)


# -- --names-only ---------------------------------------------------------------------


def test_names_only_prints_one_chain_name_a_line_and_nothing_else(env):
    run = rackhost(env, "plugins", "--names-only")
    assert run.returncode == 0 and run.stderr == "", run.stderr
    builtins = sorted(_LISTED_BUILTINS)
    vst3s = [n for n in bundle_names() if n not in INSTRUMENTS]
    assert run.stdout.splitlines() == [n for n in builtins if n not in REFUSED] + vst3s
    assert run.stdout.endswith("\n") and "\n\n" not in run.stdout


def test_every_name_the_listing_prints_is_taken_by_chain(env, short_wav, tmp_path):
    names = rackhost(env, "plugins", "--names-only").stdout.splitlines()
    ir = tmp_path / "ir.wav"
    sf.write(ir, np.array([1.0, 0.5, 0.25]), SR)
    # ZamVerb takes 90 s to load: one chain of all the rest.
    effects = [n for n in names if n != "ZamVerb"]
    items = [f"Convolution(impulse_response_filename={str(ir)!r})" if n == "Convolution" else n for n in effects]
    run = render(env, short_wav, "; ".join(items))
    assert run.returncode == 0 and run.stderr == "", run.stderr


def test_an_instrument_is_not_among_the_chain_names_but_is_listed_in_full(env, short_wav):
    names = rackhost(env, "plugins", "--names-only").stdout.splitlines()
    for name in INSTRUMENTS:
        assert name not in names
        assert "cannot sit in a chain" in render(env, short_wav, name).stderr
        assert f"{name} [vst3]  {PROJECT_VST3_DIR / (name + '.vst3')}" in rackhost(env, "plugins").stdout


def test_names_only_as_json_lists_the_same_names(env):
    listed = json.loads(rackhost(env, "plugins", "--names-only", "--json").stdout)
    assert [p["name"] for p in listed] == rackhost(env, "plugins", "--names-only").stdout.splitlines()


# -- built-ins a chain refuses -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_builtin_the_chain_refuses_is_listed_as_not_usable_with_the_chains_reason(env, short_wav, name):
    refused = render(env, short_wav, name)
    assert refused.returncode == 2
    prefix = f"rackhost: error: could not load plug-in {name!r}: "
    assert refused.stderr.startswith(prefix), refused.stderr
    reason = refused.stderr.removeprefix(prefix).rstrip("\n")

    listed = rackhost(env, "plugins", name)
    assert listed.stdout == f"{name} [builtin]\n    not usable in a chain: {reason}\n"
    whole = rackhost(env, "plugins").stdout
    assert f"{name} [builtin]\n    not usable in a chain: {reason}\n" in whole
    item = json.loads(rackhost(env, "plugins", name, "--json").stdout)[0]
    assert item == {"name": name, "format": "builtin", "refused": True, "error": f"not usable in a chain: {reason}"}


def test_the_gui_browser_offers_no_builtin_the_chain_refuses(env, monkeypatch):
    from rackhost.gui.plugin_browser import GROUPS, catalogue

    monkeypatch.setenv("RACKHOST_CACHE_DIR", env["RACKHOST_CACHE_DIR"])
    entries = catalogue()
    offered = {e.name for e in entries if e.group == GROUPS[0]}
    assert offered == set(_LISTED_BUILTINS) - REFUSED
    apart = {e.name: e.detail for e in entries if e.group == "Not usable in a chain"}
    assert set(apart) == REFUSED and all("block by block" in d for d in apart.values())


# -- latency ------------------------------------------------------------------------------


def held_back(effect: pedalboard.Plugin, sample_rate: float, block: int, seconds: float = 6.0) -> int:
    """pedalboard called directly, one block a call with state kept: frames given minus frames returned."""
    given_frames = returned = 0
    noise = np.random.default_rng(0).standard_normal((2, block)).astype(np.float32) * 0.1
    for _ in range(int(seconds * sample_rate / block)):
        returned += effect.process(noise, sample_rate, block, False).shape[1]
        given_frames += block
    return given_frames - returned


LATENCY_LINE = "    channels: any; latency {} samples at 48000 Hz, 512-frame blocks"


@pytest.mark.parametrize("name", ["BrickwallLimiter", "MP3Compressor", "Gain", "Reverb"])
def test_builtin_latency_is_what_it_holds_back_at_48k_and_512_frames(env, name):
    expected = held_back(getattr(pedalboard, name)(), 48000.0, 512)
    run = rackhost(env, "plugins", name)
    assert run.stdout.splitlines()[1] == LATENCY_LINE.format(expected)
    item = json.loads(rackhost(env, "plugins", name, "--json").stdout)[0]
    assert (item["latency_samples"], item["latency_at"]) == (expected, {"sample_rate": 48000, "block_size": 512})
    if name == "BrickwallLimiter":
        assert expected == 240  # its 5 ms lookahead, which the old listing showed as 0


# -- names the CLI prints are names it takes ------------------------------------------------


@pytest.mark.parametrize("chain", ["3BandEQ", "3 Band EQ", "3bandeq", "3 band eq(low_db=2)",
                                   "3 Band EQ(low_db=-3, high_db=2); MVerb"])
def test_chain_takes_3bandeq_by_bundle_or_shown_name_and_prints_nothing_of_dpfs(env, short_wav, chain):
    run = render(env, short_wav, chain)
    assert run.returncode == 0 and run.stderr == ""


def test_a_mistake_in_3bandeqs_values_is_one_line_naming_it_by_a_name_chain_takes(env, short_wav):
    run = render(env, short_wav, "3BandEQ(low=1)")
    assert run.returncode == 2
    assert run.stderr == ("rackhost: error: plug-in '3 Band EQ' has no parameter 'low'; valid parameters: "
                          "high_db, low_db, low_mid_freq_hz, master_db, mid_db, mid_high_freq_hz\n")
    again = render(env, short_wav, "3 Band EQ(low_db=1)")
    assert again.returncode == 0 and again.stderr == ""


def test_the_listing_names_3bandeq_by_both_names(env):
    run = rackhost(env, "plugins", "3 Band EQ")
    assert run.stdout.splitlines()[:3] == [
        f"3BandEQ [vst3]  {PROJECT_VST3_DIR / '3BandEQ.vst3'}",
        "    shows itself as '3 Band EQ' (--chain takes either name)",
        "    channels: stereo; latency 0 samples",
    ]


@pytest.mark.parametrize("typed, suggested", [("3 Band EQs", "3 Band EQ, 3BandEQ"), ("3BandEQ2", "3BandEQ"),
                                              ("ZamCmpX2", "ZamCompX2"), ("Compresor", "Compressor")])
def test_an_unknown_name_gets_a_did_you_mean_from_the_known_names(env, short_wav, typed, suggested):
    run = render(env, short_wav, typed)
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1
    assert run.stderr.startswith(f"rackhost: error: unknown plug-in {typed!r}: ")
    assert f"Did you mean {suggested}" in run.stderr


# Every pedalboard effect class, read from pedalboard itself (not from rackhost's table): its processors,
# less its containers, its hosts of external plug-ins, and IIRFilter (a base class with no parameters).
_NOT_EFFECTS = {"Plugin", "Pedalboard", "Chain", "Mix", "PluginContainer", "ExternalPlugin", "VST3Plugin",
                "AudioUnitPlugin", "IIRFilter"}
_LISTED_BUILTINS = {
    name for name in dir(pedalboard)
    if not name.startswith("_") and name not in _NOT_EFFECTS
    and isinstance(getattr(pedalboard, name), type) and issubclass(getattr(pedalboard, name), pedalboard.Plugin)
}
