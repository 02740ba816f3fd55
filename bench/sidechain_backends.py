"""Which back end lets a plug-in's detector hear a key? Measured, not assumed (issue 16, item 4).

Every back end runs ZamCompX2 (threshold -40 dB, ratio 10, attack 1 ms, release 50 ms, its
``Sidechain`` switch on) over a steady -26 dBFS 440 Hz main signal, with a 0.8-peak 60 Hz key
burst from 0.25 s to 0.5 s and silence elsewhere. A back end that feeds the key ducks the main
signal during the burst (about (-1.9 + 40) * 0.9 = 34 dB at the key's peaks) and leaves it alone
after; one that does not leaves the output equal to the input throughout, since the detector
then reads a silent key. ``reduction_*_db`` is the output level minus the input level, measured
from 0.35 s to 0.5 s (during) and from 0.75 s to the end (after).

Why the VST3 never hears it: Debian's zam-plugins 4.1 VST3s are built with Debian's
dpf-source 1.6, whose VST3 ``process`` reads ``data->inputs->num_channels`` of the first input
bus only and hands every later port (ZamCompX2's port 2, the key) DPF's zeroed dummy buffer
(``apt-get download dpf-source``, distrho/src/DistrhoPluginVST3.cpp). DPF fixed it in commit
36f018d (2022-11-24, "VST3 channel buffers are per bus"). The LV2 wrapper connects every port.
scripts/build-keyed-vst3.sh rebuilds Debian's source with that loop fixed; the last row runs it.

Run: PYTHONPATH=$PWD .venv/bin/python bench/sidechain_backends.py
The last line printed is a JSON object with every figure.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SR = 48000
BLOCK = 512
N = SR
VST3 = "/usr/lib/vst3/ZamCompX2.vst3"
LV2 = "/usr/lib/lv2/ZamCompX2.lv2"
SETTINGS = {"Threshold": "-40", "Ratio": "10", "Attack": "1", "Release": "50"}


def signals() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(N) / SR
    main = (0.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    key = np.zeros(N, np.float32)
    key[N // 4:N // 2] = 0.8 * np.sin(2 * np.pi * 60 * t[N // 4:N // 2])
    return main, key


def level_change(out: np.ndarray, main: np.ndarray) -> dict[str, float]:
    def rms_db(x: np.ndarray) -> float:
        return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))
    during, after = slice(N // 4 + int(0.1 * SR), N // 2), slice(3 * N // 4, N)
    return {"reduction_during_key_db": round(rms_db(out[during]) - rms_db(main[during]), 2),
            "reduction_after_key_db": round(rms_db(out[after]) - rms_db(main[after]), 2)}


def pedalboard_vst3() -> dict[str, Any]:
    import pedalboard
    main, _ = signals()
    comp = pedalboard.load_plugin(VST3)
    comp.threshold, comp.ratio, comp.attack, comp.release, comp.sidechain = -40.0, 10.0, 1.0, 50.0, True
    out = comp(np.vstack([main, main]), SR, reset=False)
    # pedalboard's process call has no key argument: its ExternalPlugin switches every non-main bus off.
    return {"key_fed": False, "note": "no key argument; non-main buses switched off", **level_change(out[0], main)}


def _minihost_settings(plugin: Any, sidechain: bool) -> None:
    names = {plugin.get_param_info(i)["name"]: i for i in range(plugin.num_params)}
    for name, text in {**SETTINGS, "Sidechain": "1" if sidechain else "0"}.items():
        plugin.set_param(names[name], plugin.param_from_text(names[name], text))


def _blocks(process: Callable[[np.ndarray, np.ndarray], None], inputs: np.ndarray, out_ch: int) -> np.ndarray:
    out = np.zeros((out_ch, N), np.float32)
    for s in range(0, N, BLOCK):
        o = np.zeros((out_ch, min(N, s + BLOCK) - s), np.float32)
        process(np.ascontiguousarray(inputs[:, s:s + BLOCK]), o)
        out[:, s:s + BLOCK] = o
    return out


def minihost_vst3(reset_after_switch: bool, path: str = VST3) -> dict[str, Any]:
    """The VST3 through minihost's process_sidechain: JUCE shows a mono 'Sidechain Input' bus, enabled."""
    import minihost
    main, key = signals()
    plugin = minihost.Plugin(path, SR, BLOCK, 2, 2, 1)
    _minihost_settings(plugin, sidechain=True)
    if reset_after_switch:  # the RECIPES suspect: the switch set only after the first prepare
        plugin.reset()
    keys = np.ascontiguousarray(key[None])
    out = np.zeros((2, N), np.float32)
    for s in range(0, N, BLOCK):
        o = np.zeros((2, min(N, s + BLOCK) - s), np.float32)
        plugin.process_sidechain(np.ascontiguousarray(np.vstack([main, main])[:, s:s + BLOCK]), o,
                                 np.ascontiguousarray(keys[:, s:s + BLOCK]))
        out[:, s:s + BLOCK] = o
    buses = [plugin.get_bus_info(True, i) for i in range(plugin.num_input_buses)]
    return {"key_fed": None, "input_buses": [(b["name"], b["num_channels"], b["is_enabled"]) for b in buses],
            "sidechain_channels": plugin.sidechain_channels, **level_change(out[0], main)}


def minihost_lv2(sidechain: bool) -> dict[str, Any]:
    """The LV2 build of the same plug-in: JUCE's LV2 host puts the key port in the main bus as channel 3."""
    import minihost
    main, key = signals()
    t0 = time.perf_counter()
    plugin = minihost.Plugin(LV2, SR, BLOCK, 3, 2, 0)
    load_s = time.perf_counter() - t0
    _minihost_settings(plugin, sidechain=sidechain)
    t0 = time.perf_counter()
    out = _blocks(plugin.process, np.vstack([main, main, key]).astype(np.float32), 2)
    realtime = (N / SR) / (time.perf_counter() - t0)
    buses = [plugin.get_bus_info(True, i) for i in range(plugin.num_input_buses)]
    return {"input_buses": [(b["name"], b["num_channels"], b["is_enabled"]) for b in buses],
            "latency_samples": plugin.latency_samples, "load_s": round(load_s, 3),
            "times_realtime": round(realtime, 1), **level_change(out[0], main)}


def dawdreamer_vst3() -> dict[str, Any]:
    import dawdreamer
    main, key = signals()
    engine = dawdreamer.RenderEngine(SR, BLOCK)
    engine.make_playback_processor("main", np.vstack([main, main]))
    engine.make_playback_processor("key", key[None])
    comp = engine.make_plugin_processor("comp", VST3)
    result: dict[str, Any] = {"inputs_reported": comp.get_num_input_channels()}
    try:
        comp.set_bus(3, 2)
        result["set_bus_3_2"] = "ok"
    except Exception as err:  # DawDreamer puts the key in the main bus, which DPF's VST3 refuses
        result["set_bus_3_2"] = str(err)
    # DawDreamer takes normalised values; minihost's text-to-value mapping is the plug-in's own.
    import minihost
    probe = minihost.Plugin(VST3, SR, BLOCK, 2, 2, 0)
    index = {probe.get_param_info(i)["name"]: i for i in range(probe.num_params)}
    for name, text in {**SETTINGS, "Sidechain": "1"}.items():
        comp.set_parameter(index[name], probe.param_from_text(index[name], text))
    engine.load_graph([(engine.get_processor("main"), []), (engine.get_processor("key"), []),
                       (comp, ["main", "key"])])
    engine.render(N / SR)
    out = engine.get_audio()
    return {**result, **level_change(out[0, :N], main)}


def main() -> None:
    results: dict[str, Any] = {}
    trials: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("pedalboard_vst3", pedalboard_vst3),
        ("minihost_vst3_process_sidechain", lambda: minihost_vst3(False)),
        ("minihost_vst3_reset_after_switch", lambda: minihost_vst3(True)),
        ("minihost_lv2_key_as_channel_3", lambda: minihost_lv2(True)),
        ("minihost_lv2_switch_off", lambda: minihost_lv2(False)),
        ("dawdreamer_vst3_graph", dawdreamer_vst3),
    ]
    from rackhost.chain.keyed import keyed_vst3_folders
    rebuilt = next((f / "ZamCompX2.vst3" for f in keyed_vst3_folders() if (f / "ZamCompX2.vst3").is_dir()), None)
    if rebuilt is not None:  # scripts/build-keyed-vst3.sh: Debian's sources, DPF's input loop walking every bus
        trials.append(("minihost_vst3_rebuilt_every_bus", lambda: minihost_vst3(False, str(rebuilt))))
    else:
        print("no rebuilt VST3 (make plugins, or RACKHOST_KEYED_VST3_PATH): its row is skipped", file=sys.stderr)
    for name, trial in trials:
        try:
            results[name] = trial()
        except Exception as err:
            results[name] = {"error": f"{type(err).__name__}: {err}"}
        r = results[name]
        if "reduction_during_key_db" in r:
            r["key_fed"] = name != "minihost_lv2_switch_off" and r["reduction_during_key_db"] < -6 \
                and r["reduction_after_key_db"] > -1
        print(f"{name}: {r}", file=sys.stderr, flush=True)
    import minihost
    import pedalboard
    results["versions"] = {"minihost": minihost.__version__ if hasattr(minihost, "__version__") else "?",
                           "pedalboard": pedalboard.__version__}
    try:
        import dawdreamer
        results["versions"]["dawdreamer"] = getattr(dawdreamer, "__version__", "0.9.0")
    except ImportError:
        pass
    heard = [name for name, r in results.items() if isinstance(r, dict) and r.get("key_fed")]
    results["chosen"] = heard or "own_keyed_dynamics"
    print(json.dumps(results))


if __name__ == "__main__":
    main()
