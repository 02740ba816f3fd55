"""Valid files with one key mutated at a random place: refused naming that place, or (an optional key deleted) loaded as its default.

The documents are the factory presets and a session saved by rackhost (tracks with a split slot,
with chains and A/B settings, a master with a loudness target and a VST3
with its state, MIDI mappings and a program map). A key is renamed to a near
miss, deleted, added, changed in case, or nested one level down. The keys of
``parameters`` objects are the plug-in's own parameter names, checked when the
plug-in is made (tests/test_presets.py), so they are not mutated here.

The table of defaults below is this test's own statement of what a missing
optional key means; a key not in it is required.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import program_signal
from rackhost.chain import AudioFileSource, Branch, Chain, LoudnessTarget, Plugin, Session, Split
from rackhost.chain.midi import CCMapping, MappingTarget
from rackhost.errors import RackhostError
from rackhost.presets import load_session, save_session, session_to_dict
from rackhost.presets.preset_file import preset_from_dict

FACTORY = sorted((Path(__file__).resolve().parents[1] / "presets").glob("*/*.json"))
LOADS = object()  # deleting it still loads, but what it means (a plug-in's vendor) is not compared here

# Optional keys, by place (list indices written as *), and what their absence means.
PRESET_DEFAULTS = {
    "kind": "chain", "description": "", "tags": [], "author": "", "created": "", "modified": "",
    "rackhost_version": "", "gain_db": None, "pan": None, "loudness_target_lufs": None,
    "true_peak_ceiling_dbtp": None, "midi_mappings": [],
    "slots.*.parameters": {}, "slots.*.raw_state": None, "slots.*.bypass": False, "slots.*.mix": 1.0,
    "slots.*.plugin.format": LOADS, "slots.*.plugin.vendor": LOADS, "slots.*.plugin.uid": LOADS,
    "slots.*.plugin.version": LOADS,
    # mixing/parallel-drums holds a split slot
    "slots.*.name": "split", "slots.*.branches.*.level_db": 0.0, "slots.*.branches.*.chain.*.parameters": {},
    "slots.*.branches.*.chain.*.raw_state": None, "slots.*.branches.*.chain.*.bypass": False,
    "slots.*.branches.*.chain.*.mix": 1.0, **{f"slots.*.branches.*.chain.*.plugin.{k}": LOADS
                                              for k in ("format", "vendor", "uid", "version")},
}
_CHAIN_OWNER = {"chain": [], "preset": None, "ab": None, "ab.active": "A", "ab.other": None,
                "ab.other.chain": [], "ab.other.preset": None}
_SLOT = {"parameters": {}, "raw_state": None, "bypass": False, "mix": 1.0, "plugin.format": "vst3",
         "plugin.vendor": "", "plugin.uid": "", "plugin.version": ""}
SESSION_DEFAULTS = {
    "sample_rate": 48000, "block_size": 512, "tracks": [], "busses": [], "master": {}, "midi": None,
    # A key added to the track format (and written by rackhost) gets its default here too.
    **{f"tracks.*.{k}": v for k, v in {"source": None, "gain_db": 0.0, "pan": 0.0, "mute": False, "solo": False,
                                       "input": [], "armed": False, "monitor": True, "keep_mono": False,
                                       "output": None, "sends": [], **_CHAIN_OWNER}.items()},
    **{f"busses.*.{k}": v for k, v in {"gain_db": 0.0, "pan": 0.0, "mute": False, "solo": False, "output": None,
                                       "sends": [], **_CHAIN_OWNER}.items()},
    **{f"{owner}.sends.*.{k}": v for owner in ("tracks.*", "busses.*")
       for k, v in {"level_db": 0.0, "pre_fader": False, "muted": False}.items()},
    **{f"master.{k}": v for k, v in {"gain_db": 0.0, "loudness_target": None, **_CHAIN_OWNER}.items()},
    "master.loudness_target.true_peak_dbtp": -1.0,
    "tracks.*.automation": [], "busses.*.automation": [], "master.automation": [],
    # A strip's colour by default is its position's (rackhost.chain.colors.default_color).
    "tracks.*.color": LOADS, "busses.*.color": LOADS,
    "midi.mappings": [], "midi.programs": [],
    "midi.mappings.*.curve": "linear", "midi.mappings.*.range": None, "midi.mappings.*.lsb_controller": None,
    **{f"{owner}.{chain}.*.{k}": v for owner in ("tracks.*", "busses.*", "master") for chain in ("chain", "ab.other.chain")
       for k, v in _SLOT.items()},
    # A split slot (tracks[0] has one, in both A and B): its name and bypass, a branch's level and its slots.
    **{f"tracks.*.{chain}.*.{k}": v for chain in ("chain", "ab.other.chain")
       for k, v in {"name": "split", "bypass": False, "branches.*.level_db": 0.0,
                    **{f"branches.*.chain.*.{k}": v for k, v in _SLOT.items()}}.items()},
}


def _saved_session(folder: Path) -> dict:
    import soundfile as sf

    sf.write(folder / "drums.wav", program_signal(2, 0.1).T, 48000)
    session = Session(sample_rate=44100, block_size=256)
    drums = session.add_track("drums", AudioFileSource(folder / "drums.wav"), gain_db=-2.0, pan=0.25, solo=True)
    drums.chain.add("Compressor", threshold_db=-20.0, ratio=3.0)
    drums.chain.add("Reverb", room_size=0.3).set_mix(0.4)
    drums.chain[0].bypass = True
    drums.chain.add(Split([Branch(Chain([Plugin.create("Gain", gain_db=-3.0)]), -6.0), Branch()], name="par"))
    drums.ab.other = drums.chain.clone()
    drums.ab.other.origin = "mixing/drum-bus"
    drums.ab.active = "B"
    session.add_track("guitar", None, input=(0,), armed=True, monitor=False, mute=True)
    # Busses only the busses name, so that deleting "busses" leaves a session that still loads.
    verb = session.add_bus("verb", gain_db=-3.0, pan=-0.5, mute=True)
    verb.chain.add("Reverb", room_size=0.6)
    verb.add_send("glue", -6.0, pre_fader=True, muted=True)
    session.add_bus("glue", solo=True)
    session.master.gain_db = -1.0
    session.master.chain.add("ZamCompX2", threshold_db=-18.0, ratio=4.0)
    session.master.chain.add("Limiter", threshold_db=-1.0)
    session.master.loudness_target = LoudnessTarget(-16.0, -1.5)
    session.midi.add(CCMapping(1, 7, MappingTarget(0, "gain"), curve="log"))
    session.midi.add(CCMapping(2, 1, MappingTarget(None, "parameter", 0, "ratio"), 1.0, 10.0, lsb_controller=33))
    session.midi.set_program(1, 4, None, "mastering/streaming")
    save_session(session, folder / "saved.json")
    return json.loads((folder / "saved.json").read_text())


def _key_paths(doc: object, prefix: tuple = ()) -> list[tuple]:
    """Paths of every key in ``doc`` (not inside ``parameters`` objects)."""
    out = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.append(prefix + (key,))
            if key != "parameters":
                out += _key_paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _key_paths(value, prefix + (i,))
    return out


def _where(path: tuple) -> str:
    """A path as rackhost writes it: tracks[0].chain[1].mix."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            text += f"[{json.dumps(part)}]"  # an empty key, or one with spaces: quoted
        else:
            text += f".{part}" if text else part
    return text


def _pattern(path: tuple) -> str:
    return ".".join("*" if isinstance(p, int) else p for p in path)


def _known_keys(*docs: object) -> set[str]:
    return {path[-1] for doc in docs for path in _key_paths(doc)}


def _near_misses(key: str) -> list[str]:
    out = {key[:i] + key[i + 1:] for i in range(len(key))}  # a letter dropped
    out |= {key[:i] + key[i + 1] + key[i] + key[i + 2:] for i in range(len(key) - 1)}  # two swapped
    out |= {key + "s", key.replace("_", ""), key.replace("_", "-")}
    return sorted(k for k in out if k and k != key)


@st.composite
def mutations(draw: st.DrawFn, bases: list[dict], known: set[str]) -> tuple[dict, str, str, dict | None]:
    """(mutated document, what was done, the path a refusal must name, or for a deletion the defaulted document)."""
    base = draw(st.sampled_from(bases))
    path = draw(st.sampled_from(_key_paths(base)))
    doc = copy.deepcopy(base)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    action = draw(st.sampled_from(["rename", "delete", "add", "case", "nest"]))
    if action == "rename":
        new = draw(st.sampled_from(_near_misses(key)))
    elif action == "add":
        new = draw(st.sampled_from([key, "wet", "params", "gain", "slot", "Name", "notes", ""]) | st.text(max_size=6))
    elif action == "case":
        new = draw(st.sampled_from([key.upper(), key.title(), key.capitalize()]))
    elif action == "nest":
        new = draw(st.sampled_from(["settings", "options", f"{key}_group", "data"]))
    else:
        new = None
    if new is not None:
        assume(new not in known and new not in parent)  # a key rackhost knows somewhere is not a mistake to test
    items = list(parent.items())
    parent.clear()
    for k, v in items:  # keep the order: the mutated key stays where it was
        if k != key:
            parent[k] = v
        elif action in ("rename", "case"):
            parent[new] = v
        elif action == "nest":
            parent[new] = {k: v}
        elif action == "add":
            parent[k] = v
            parent[new] = draw(st.sampled_from([1, -20, "x", None, True, {}]))
    if action == "delete":
        return doc, f"delete {_where(path)}", _where(path), _defaulted(base, path)
    return doc, f"{action} {_where(path)} -> {new!r}", _where(path[:-1] + (new,)), None


def _defaulted(base: dict, path: tuple) -> dict | None:
    """``base`` with the key at ``path`` set to what its absence means; None if the key is required."""
    table = PRESET_DEFAULTS if "slots" in base else SESSION_DEFAULTS
    pattern = _pattern(path)
    if pattern not in table:
        return None
    doc = copy.deepcopy(base)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if table[pattern] is LOADS:
        parent.pop(path[-1])
        return doc
    parent[path[-1]] = copy.deepcopy(table[pattern])
    return doc


SESSION_BASE: list[dict] = []


@pytest.fixture(scope="module")
def session_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-keys")
    SESSION_BASE[:] = [_saved_session(folder)]
    return folder


PRESETS = [json.loads(p.read_text()) for p in FACTORY]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(case=mutations(PRESETS, _known_keys(*PRESETS)))
def test_a_preset_with_a_mutated_key_is_refused_naming_the_place_or_loads_as_the_default(case):
    doc, what, where, defaulted = case
    try:
        loaded = preset_from_dict(doc, "p.json")
    except RackhostError as err:
        assert err.where == where and f"at {where}:" in str(err), what
        assert defaulted is None, f"{what}: an optional key, yet refused ({err})"
        return
    assert defaulted is not None, f"{what}: loaded, but it should be refused at {where}"
    assert loaded == preset_from_dict(defaulted, "p.json"), what


def _session_mutations():
    return st.deferred(lambda: mutations(SESSION_BASE, _known_keys(*SESSION_BASE)))


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_session_mutations())
def test_a_session_with_a_mutated_key_is_refused_naming_the_place_or_loads_as_the_default(session_folder, case):
    doc, what, where, defaulted = case
    path = session_folder / "mutated.json"
    path.write_text(json.dumps(doc))
    try:
        loaded = load_session(path)
    except RackhostError as err:
        assert getattr(err, "where", None) == where and f"at {where}:" in str(err), f"{what}: {err}"
        assert defaulted is None, f"{what}: an optional key, yet refused ({err})"
        return
    assert defaulted is not None, f"{what}: loaded, but it should be refused at {where}"
    path.write_text(json.dumps(defaulted))
    expected = load_session(path)
    assert session_to_dict(loaded, session_folder) == session_to_dict(expected, session_folder), what


def test_the_saved_session_has_every_kind_of_object(session_folder):
    doc = SESSION_BASE[0]
    patterns = {_pattern(p) for p in _key_paths(doc)}
    for needed in ("tracks.*.ab.other.chain", "master.loudness_target.true_peak_dbtp", "midi.programs.*.preset",
                   "midi.mappings.*.target.slot", "midi.mappings.*.lsb_controller", "master.chain.*.raw_state",
                   "busses.*.sends.*.pre_fader", "busses.*.chain.*.parameters",
                   "tracks.*.chain.*.branches.*.chain.*.plugin.name", "tracks.*.ab.other.chain.*.branches.*.level_db"):
        assert needed in patterns, needed
    assert re.fullmatch(r"drums\.wav", doc["tracks"][0]["source"])
