"""Session files: JSON with a ``format_version``, audio paths relative to the file.

Format version 12::

    {
      "format_version": 12,
      "sample_rate": 48000,
      "block_size": 512,
      "tracks": [
        {"name": "kick", "source": "audio/kick.wav", "color": "#569cd6", "gain_db": -2.0, "pan": 0.0,
         "mute": false, "solo": false, "keep_mono": false, "output": "drums",
         "sends": [{"bus": "reverb", "level_db": -12.0, "pre_fader": false, "muted": false}],
         "chain": [{"plugin": {"format": "vst3", "name": "ZamCompX2"},
                    "parameters": {"threshold_db": -20.0}, "bypass": false, "mix": 1.0},
                   {"name": "parallel", "bypass": false, "branches": [
                       {"level_db": -6.0, "chain": [{"plugin": {"name": "Compressor"}}]},
                       {"level_db": 0.0, "chain": []}]}],
         "automation": [{"slot": 0, "parameter": "threshold_db", "points": [[0.0, -20.0], [8.0, -30.0, "smooth"]]},
                        {"slot": [1, 0, 0], "parameter": "threshold_db", "points": [[0.0, -10.0], [4.0, -30.0]]},
                        {"control": "gain_db", "mode": "touch", "points": [[0.0, 0.0], [2.0, -6.0]]},
                        {"send": "reverb", "points": [[0.0, -12.0, "step"], [4.0, -6.0]]}]}
      ],
      "busses": [
        {"name": "drums", "color": "#8c9cb4", "gain_db": 0.0, "pan": 0.0, "mute": false, "solo": false, "output": null,
         "sends": [], "chain": []},
        {"name": "reverb", "chain": [{"plugin": {"name": "Reverb"}, "parameters": {"wet_level": 1.0}}]},
        {"name": "music", "chain": [{"plugin": {"format": "vst3", "name": "ZamCompX2"},
                                     "parameters": {"threshold_db": -40.0},
                                     "key": {"source": "voice", "pre_fader": false}}]}
      ],
      "master": {"gain_db": 0.0, "chain": [],
                 "loudness_target": {"integrated_lufs": -14.0, "true_peak_dbtp": -1.0}}
    }

A slot is stored exactly as in a preset (plug-in identity, named values, and
the plug-in's own ``raw_state`` where it has one). Version 1 named a slot's
plug-in with a bare string; :data:`MIGRATIONS` upgrades such files on load.
Version 3 added instrument tracks and the MIDI mappings (see
:mod:`rackhost.presets.session_midi`); a version 2 file has neither.
Version 4 added busses and every strip's ``output`` and ``sends``; a version 3
file has none, so its tracks go to the master as they did. A send's
``level_db`` of ``null`` is a silent send (-inf dB, which JSON cannot hold).
Version 5 added split slots (an object with ``branches`` where a slot stands:
parallel sub-chains summed at their levels; see :mod:`rackhost.presets.preset`);
a version 4 file has none.
Version 6 added each strip's ``automation``: envelopes on a slot's parameter
(``slot``: its place in the chain from 0, ``parameter``: a name or ``_mix``),
on the strip's ``control`` (``gain_db``, ``pan``, ``mute``; the master has
``gain_db`` only) or on a ``send`` (by its bus), each with ``points``:
``[seconds, value]`` or ``[seconds, value, shape]`` (``linear``, ``step``,
``smooth``: the segment to the next point). A version 5 file has none.
Version 7 added a slot's ``key`` (the track or bus its detector hears, on a
bus's or the master's slot; :mod:`rackhost.chain.sidechain`); a version 6
file has none. A key is a session's: a preset's slot has none.
Version 8 added the session's ``loop`` range (``{"start": s, "end": s, "on": true}``,
in seconds); a version 7 file has none.
Version 9 added an envelope's ``mode`` (``read``, ``touch``, ``latch`` or
``off``: how live playback treats it, :data:`rackhost.chain.automation.MODES`),
written when it is not ``read``; a version 8 envelope reads.
Version 10 added every track's and bus's ``color`` (``#rrggbb``, :mod:`rackhost.chain.colors`); a version 9
file has none, and its strips take the palette's colours by their places.
Version 11 added the session's ``automation_glide`` (seconds a touch write
takes to glide back to its envelope when let go, 0..10; 0: at once); a
version 10 file has none and takes the default, 0.25 s.
Version 12 let an envelope's ``slot`` be a slot path, a list from the strip's
chain: ``[split slot, branch, slot]`` (and on down for a split in a branch)
names a plug-in inside a split's branch, ``[1, 0, 0]`` slot 0 of branch 0 of
the split at slot 1, all counted from 0; a plain number is still a slot of the
strip's own chain. A version 11 file has only plain numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rackhost.atomic import write_json
from rackhost.chain import AudioFileSource, Bus, Chain, LoudnessTarget, Session, Track
from rackhost.chain import automation
from rackhost.chain.colors import PALETTE, check_color
from rackhost.chain.automation import Envelope
from rackhost.chain.automation_write import GLIDE_SECONDS, check_glide
from rackhost.chain.chain import item_at, path_of
from rackhost.chain.session import LoopRange
from rackhost.chain.sidechain import Key, NotKeyableError, check_keyable
from rackhost.chain.split import Split
from rackhost.errors import (RackhostError, RoutingLoopError, SessionError, UnknownBusError,
                             UnknownKeySourceError, printable)
from rackhost.presets.document import DocumentReader, Keys
from rackhost.presets.paths import opened_path, path_ref, remember, session_folder
from rackhost.presets.preset import PresetError, RestoreReport, capture_chain, restore_items, restore_slot
from rackhost.presets.preset_file import slot_states_from_list
from rackhost.presets.session_midi import instrument_fields, read_instrument_fields, read_midi_map
from rackhost.versions import Migration

FORMAT_VERSION = 12


def _v1_to_v2(doc: dict) -> dict:
    """Version 1 named plug-ins by a bare string (a name or a bundle path)."""

    def slot(s: Any) -> Any:
        if isinstance(s, dict) and isinstance(s.get("plugin"), str):
            ref = s["plugin"]
            name = Path(ref).stem if ref.lower().endswith((".vst3", ".component")) else ref
            return {**s, "plugin": {"name": name}}
        return s

    def chain(c: Any) -> Any:
        return [slot(s) for s in c] if isinstance(c, list) else c

    out = dict(doc, format_version=2)
    if isinstance(doc.get("tracks"), list):
        out["tracks"] = [dict(t, chain=chain(t.get("chain", []))) if isinstance(t, dict) else t for t in doc["tracks"]]
    if isinstance(doc.get("master"), dict):
        out["master"] = dict(doc["master"], chain=chain(doc["master"].get("chain", [])))
    return out


def _v2_to_v3(doc: dict) -> dict:
    """Version 3 only added keys (instrument tracks, MIDI mappings): a version 2 document has none of them."""
    return dict(doc, format_version=3)


def _v3_to_v4(doc: dict) -> dict:
    """Version 4 only added keys (busses, outputs, sends): a version 3 session's tracks all go to the master."""
    return dict(doc, format_version=4)


def _v4_to_v5(doc: dict) -> dict:
    """Version 5 only added split slots (parallel branches in a chain): a version 4 session has none."""
    return dict(doc, format_version=5)


def _v5_to_v6(doc: dict) -> dict:
    """Version 6 only added every strip's automation: a version 5 session has no envelopes."""
    return dict(doc, format_version=6)


def _v6_to_v7(doc: dict) -> dict:
    """Version 7 only added keys (a slot's ``key``): a version 6 session has no keyed slot."""
    return dict(doc, format_version=7)


def _v7_to_v8(doc: dict) -> dict:
    """Version 8 only added the session's ``loop`` range: a version 7 session has none."""
    return dict(doc, format_version=8)


def _v8_to_v9(doc: dict) -> dict:
    """Version 9 only added an envelope's ``mode``: every envelope of a version 8 session reads."""
    return dict(doc, format_version=9)


def _v9_to_v10(doc: dict) -> dict:
    """Version 10 only added strip colours: a version 9 session's strips take the default colours by place."""
    return dict(doc, format_version=10)


def _v10_to_v11(doc: dict) -> dict:
    """Version 11 only added the session's ``automation_glide``: a version 10 session takes the default."""
    return dict(doc, format_version=11)


def _v11_to_v12(doc: dict) -> dict:
    """Version 12 only let an envelope name a plug-in in a split's branch by its path: a version 11 envelope
    names a slot of its strip's own chain by its place, as version 12 still reads it."""
    return dict(doc, format_version=12)


# format_version N -> function turning a version-N document into version N+1.
MIGRATIONS: dict[int, Migration] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5, 5: _v5_to_v6,
                                   6: _v6_to_v7, 7: _v7_to_v8, 8: _v8_to_v9, 9: _v9_to_v10, 10: _v10_to_v11,
                                   11: _v11_to_v12}


# The keys each object of a session may have (slots, instruments and the "midi" object: see their readers).
SESSION_KEYS = Keys(required=("format_version",), optional=("sample_rate", "block_size", "tracks", "busses", "master",
                                                                 "midi", "loop", "automation_glide"))
TRACK_KEYS = Keys(
    required=("name",),
    optional=("source", "color", "gain_db", "pan", "mute", "solo", "input", "armed", "monitor", "chain", "preset", "ab",
              "instrument", "midi_channel", "midi_file", "keep_mono", "output", "sends", "automation"),
)
BUS_KEYS = Keys(required=("name",),
                optional=("color", "gain_db", "pan", "mute", "solo", "chain", "preset", "ab", "output", "sends", "automation"))
SEND_KEYS = Keys(required=("bus",), optional=("level_db", "pre_fader", "muted"))
KEY_KEYS = Keys(required=("source",), optional=("pre_fader",))
MASTER_KEYS = Keys(optional=("gain_db", "chain", "preset", "ab", "loudness_target", "automation"))
ENVELOPE_KEYS = Keys(required=("points",), optional=("slot", "parameter", "control", "send", "mode"))
AB_KEYS = Keys(optional=("active", "other"))
AB_OTHER_KEYS = Keys(optional=("chain", "preset"))
LOOP_KEYS = Keys(required=("start", "end"), optional=("on",))
LOUDNESS_TARGET_KEYS = Keys(required=("integrated_lufs",), optional=("true_peak_dbtp",))


class SessionFileError(RackhostError):
    """A session file cannot be read: names the file, the place in it, and the fix."""

    def __init__(self, path: Path | str, where: str, problem: str):
        self.path = str(path)
        self.where = where
        place = f" at {printable(where)}" if where else ""
        super().__init__(f"session file {self.path!r}{place}: {printable(problem)}")


def load_session(path: str | Path, report: RestoreReport | None = None) -> Session:
    """Read a session file; any problem raises :class:`SessionFileError` and nothing is changed.

    Plug-ins that are not installed do not fail the load: their slots are kept,
    bypassed, and listed in ``report`` (with values that did not land, if any).
    """
    path = Path(path)
    reader = _SessionReader(path, report if report is not None else RestoreReport())
    return reader.read(reader.load_json(path))


def check_session_file(path: str | Path) -> None:
    """Refuse a session file that is missing, unreadable, not JSON or of an unknown version, quickly.

    Nothing is loaded (no plug-in, no audio): a command that needs other things first (an
    audio device) calls this so that a mistyped file name is reported as such.
    """
    path = Path(path)
    reader = _SessionReader(path, RestoreReport())
    reader.versioned(reader.load_json(path), SESSION_KEYS)


class _SessionReader(DocumentReader):
    kind = "session format"
    current_version = FORMAT_VERSION
    migrations = MIGRATIONS
    foreign = (("slots", "this is a preset file, not a session; apply it to a render with --preset FILE, "
                         "or add it with 'rackhost presets import FILE'"),)

    def __init__(self, path: Path, report: RestoreReport):
        super().__init__(str(path))
        self.path = path
        self.base = session_folder(path)
        self.report = report
        # Tracks that play the same file share one source: each source holds its file decoded in memory
        # (30 tracks over 8 files held 30 copies, 160 MB more than 8, in each engine process).
        self._opened: dict[tuple[str, Path], Any] = {}
        self.slot_ids: dict[str, str] = {}  # a slot's place in the document -> the id it gave (engine documents)
        self.used_ids: set[str] = set()

    def fail(self, where: str, problem: str) -> SessionFileError:
        return SessionFileError(self.path, where, problem)

    # How a slot's plug-in and a track's audio are made; the engine's resync reuses what it has instead.
    restore = staticmethod(restore_slot)
    open_source = staticmethod(AudioFileSource)

    def read(self, doc: Any) -> Session:
        doc = self.versioned(doc, SESSION_KEYS)
        try:
            session = Session(
                sample_rate=int(self.number(doc, "sample_rate", "", 48000)),
                block_size=int(self.number(doc, "block_size", "", 512)),
            )
        except RackhostError as err:
            raise self.fail("", str(err)) from None
        for i, track_doc in enumerate(self.expect(doc.get("tracks", []), list, "tracks")):
            track_doc = self.keys(self.expect(track_doc, dict, f"tracks[{i}]"), TRACK_KEYS, f"tracks[{i}]")
            self.read_track(session, track_doc, f"tracks[{i}]")
        for i, bus_doc in enumerate(self.expect(doc.get("busses", []), list, "busses")):
            bus_doc = self.keys(self.expect(bus_doc, dict, f"busses[{i}]"), BUS_KEYS, f"busses[{i}]")
            self.read_bus(session, bus_doc, f"busses[{i}]")
        master = self.keys(self.expect(doc.get("master", {}), dict, "master"), MASTER_KEYS, "master")
        session.master.gain_db = self.number(master, "gain_db", "master", 0.0)
        session.master.chain = self.read_chain(master.get("chain", []), "master.chain", master.get("preset"))
        self.check_routing(session)  # the master's keyed slots are part of the graph
        self.read_ab(session.master, master, "master")
        self.read_automation(session.master, master, "master")
        target = master.get("loudness_target")
        if target is not None:
            target = self.keys(self.expect(target, dict, "master.loudness_target"), LOUDNESS_TARGET_KEYS,
                               "master.loudness_target")
            session.master.loudness_target = LoudnessTarget(
                self.number(target, "integrated_lufs", "master.loudness_target", -14.0),
                self.number(target, "true_peak_dbtp", "master.loudness_target", -1.0),
            )
        session.midi = read_midi_map(self, doc)
        session.loop = self.read_loop(doc.get("loop"))
        glide = self.number(doc, "automation_glide", "", GLIDE_SECONDS)
        try:
            session.automation_glide = check_glide(glide)
        except RackhostError as err:
            raise self.fail("automation_glide", str(err)) from None
        return session

    def read_loop(self, loop: Any) -> LoopRange | None:
        if loop is None:
            return None
        loop = self.keys(self.expect(loop, dict, "loop"), LOOP_KEYS, "loop")
        try:
            return LoopRange(self.number(loop, "start", "loop", 0.0), self.number(loop, "end", "loop", 0.0),
                             self.boolean(loop, "on", "loop", True))
        except ValueError as err:
            raise self.fail("loop", f"{err}; fix or remove the loop") from None

    def read_track(self, session: Session, doc: dict, where: str) -> None:
        name = self.expect(doc.get("name"), str, f"{where}.name")
        source_path = doc.get("source")
        source = None
        if source_path is not None:
            written = self.expect(source_path, str, f"{where}.source")
            key = (written, opened_path(written, self.base))  # as written too: each keeps its spelling on save
            source = self._opened.get(key)
            if source is None:
                try:
                    source = self._opened[key] = self.open_source(key[1])
                except RackhostError as err:
                    raise self.fail(f"{where}.source", str(err)) from None
                remember(source, written, self.base)
        try:
            track = session.add_track(
                name,
                source,
                self.read_chain(doc.get("chain", []), f"{where}.chain", doc.get("preset")),
                gain_db=self.number(doc, "gain_db", where, 0.0),
                pan=self.number(doc, "pan", where, 0.0),
                mute=self.boolean(doc, "mute", where),
                solo=self.boolean(doc, "solo", where),
                input=tuple(self.expect(doc.get("input", []), list, f"{where}.input")),
                armed=self.boolean(doc, "armed", where),
                monitor=self.boolean(doc, "monitor", where, True),
                keep_mono=self.boolean(doc, "keep_mono", where),
                color=self.read_color(doc, where),
                **read_instrument_fields(self, doc, where),
            )
        except (RackhostError, ValueError) as err:
            if isinstance(err, SessionFileError):
                raise
            raise self.fail(where, str(err)) from None
        self.read_ab(track, doc, where)
        self.read_routing(track, doc, where)
        self.read_automation(track, doc, where)

    def read_bus(self, session: Session, doc: dict, where: str) -> None:
        name = self.expect(doc.get("name"), str, f"{where}.name")
        try:
            bus = session.add_bus(
                name,
                self.read_chain(doc.get("chain", []), f"{where}.chain", doc.get("preset")),
                gain_db=self.number(doc, "gain_db", where, 0.0),
                pan=self.number(doc, "pan", where, 0.0),
                mute=self.boolean(doc, "mute", where),
                solo=self.boolean(doc, "solo", where),
                color=self.read_color(doc, where),
            )
        except (RackhostError, ValueError) as err:
            if isinstance(err, SessionFileError):
                raise
            raise self.fail(where, str(err)) from None
        self.read_ab(bus, doc, where)
        self.read_routing(bus, doc, where)
        self.read_automation(bus, doc, where)

    def read_color(self, doc: dict, where: str) -> str | None:
        """A strip's ``color``; missing or null: the palette's colour at its place."""
        color = doc.get("color")
        if color is None:
            return None
        try:
            return check_color(where, color)
        except ValueError:
            raise self.fail(f"{where}.color", f"expected a colour '#rrggbb' (e.g. {PALETTE[0][1]!r}), found "
                                              f"{json.dumps(color)}; fix it or remove it") from None

    def read_routing(self, strip: Any, doc: dict, where: str) -> None:
        """A track's or bus's ``output`` and ``sends``; the busses they name are checked once all are read."""
        output = doc.get("output")
        strip.output = None if output is None else self.expect(output, str, f"{where}.output")
        for k, send_doc in enumerate(self.expect(doc.get("sends", []), list, f"{where}.sends")):
            at = f"{where}.sends[{k}]"
            send_doc = self.keys(self.expect(send_doc, dict, at), SEND_KEYS, at)
            bus = self.expect(send_doc.get("bus"), str, f"{at}.bus")
            level = -math.inf if send_doc.get("level_db", 0.0) is None else self.number(send_doc, "level_db", at, 0.0)
            try:
                strip.add_send(bus, level, self.boolean(send_doc, "pre_fader", at), self.boolean(send_doc, "muted", at))
            except (RackhostError, ValueError) as err:
                raise self.fail(at, str(err)) from None

    def read_automation(self, strip: Any, doc: dict, where: str) -> None:
        """A strip's envelopes, after its chain and sends (which they name)."""
        for k, env_doc in enumerate(self.expect(doc.get("automation", []), list, f"{where}.automation")):
            at = f"{where}.automation[{k}]"
            env_doc = self.keys(self.expect(env_doc, dict, at), ENVELOPE_KEYS, at)
            target = self.read_target(strip, env_doc, at)
            points = []
            for i, point in enumerate(self.expect(env_doc["points"], list, f"{at}.points")):
                points.append(self.read_point(point, f"{at}.points[{i}]"))
            mode = env_doc.get("mode", "read")
            if mode not in automation.MODES:
                raise self.fail(f"{at}.mode", f"unknown mode {json.dumps(mode)}; use one of "
                                              f"{', '.join(automation.MODES)}")
            envelope = Envelope(target, tuple(points), mode)
            if automation.find(strip, target) is not None:
                raise self.fail(at, f"a second envelope on {envelope.describe()}; a target has one envelope")
            try:
                strip.automation.append(automation.check_envelope(strip, envelope))
            except RackhostError as err:
                raise self.fail(at, str(err)) from None

    def read_target(self, strip: Any, doc: dict, at: str) -> automation.Target:
        given = [key for key in ("slot", "control", "send") if key in doc]
        if len(given) != 1:
            raise self.fail(at, "an envelope names one target: \"slot\" (with \"parameter\"), \"control\" "
                                "(gain_db, pan or mute) or \"send\" (a bus name)")
        if "slot" in doc:
            place = doc["slot"]
            if isinstance(place, list) and len(place) == 1:
                place = place[0]
            if isinstance(place, list):  # a path into a split's branches (version 12)
                if len(place) % 2 == 0 or any(isinstance(step, bool) or not isinstance(step, int) for step in place):
                    raise self.fail(f"{at}.slot", f"expected a slot path [split slot, branch, slot] (numbers from 0, "
                                                  f"an odd count), found {json.dumps(place)}")
                try:
                    item = item_at(strip.chain, tuple(place))
                except SessionError as err:
                    raise self.fail(f"{at}.slot", str(err)) from None
                return automation.SlotTarget(item, self.text(doc, "parameter", at))  # type: ignore[arg-type]
            if isinstance(place, bool) or not isinstance(place, int) or not 0 <= place < len(strip.chain.slots):
                raise self.fail(f"{at}.slot", f"expected the place of a slot in the chain (0 to "
                                              f"{len(strip.chain.slots) - 1}) or a path into a split ([split slot, "
                                              f"branch, slot]), found {json.dumps(place)}")
            return automation.SlotTarget(strip.chain.slots[place], self.text(doc, "parameter", at))
        if "parameter" in doc:
            raise self.fail(f"{at}.parameter", "\"parameter\" goes with \"slot\"; a control or a send has none")
        if "control" in doc:
            control = self.text(doc, "control", at)
            if control not in automation.STRIP_CONTROLS:
                raise self.fail(f"{at}.control", f"unknown control {control!r}; use one of "
                                                 f"{', '.join(automation.STRIP_CONTROLS)}")
            return automation.StripTarget(control)  # type: ignore[arg-type]
        bus = self.text(doc, "send", at)
        for send in getattr(strip, "sends", ()):
            if send.bus == bus:
                return automation.SendTarget(send)
        raise self.fail(f"{at}.send", f"this strip has no send to {bus!r}; add the send, or remove the envelope")

    def read_point(self, doc: Any, at: str) -> automation.Point:
        if not isinstance(doc, list) or len(doc) not in (2, 3):
            raise self.fail(at, f"expected [seconds, value] or [seconds, value, shape], found {json.dumps(doc)}")
        for i, number in enumerate(doc[:2]):
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                raise self.fail(f"{at}[{i}]", f"expected a number, found {json.dumps(number)}")
        shape = doc[2] if len(doc) == 3 else "linear"
        if shape not in automation.SHAPES:
            raise self.fail(f"{at}[2]", f"unknown shape {json.dumps(shape)}; use one of {', '.join(automation.SHAPES)}")
        return automation.Point(float(doc[0]), float(doc[1]), shape)

    def check_routing(self, session: Session) -> None:
        try:
            session.graph()
        except UnknownBusError as err:
            place = f"{'tracks' if err.owner == 'track' else 'busses'}[{err.index}]"
            raise self.fail(f"{place}.output" if err.send is None else f"{place}.sends[{err.send}].bus",
                            str(err)) from None
        except UnknownKeySourceError as err:
            place = "master" if err.owner == "master" else \
                f"{'tracks' if err.owner == 'track' else 'busses'}[{err.index}]"
            raise self.fail(f"{place}.chain[{err.slot}].key.source", str(err)) from None
        except RoutingLoopError as err:
            raise self.fail("tracks" if err.track else "busses", str(err)) from None

    def read_ab(self, owner: Any, doc: dict, where: str) -> None:
        ab = doc.get("ab")
        if ab is None:
            return
        ab = self.keys(self.expect(ab, dict, f"{where}.ab"), AB_KEYS, f"{where}.ab")
        active = ab.get("active", "A")
        if active not in ("A", "B"):
            raise self.fail(f"{where}.ab.active", f"expected \"A\" or \"B\", found {json.dumps(active)}")
        owner.ab.active = active
        other = ab.get("other")
        if other is not None:
            other = self.keys(self.expect(other, dict, f"{where}.ab.other"), AB_OTHER_KEYS, f"{where}.ab.other")
            owner.ab.other = self.read_chain(other.get("chain", []), f"{where}.ab.other.chain",
                                             other.get("preset"))

    def read_chain(self, doc: Any, where: str, origin: Any = None) -> Chain:
        if origin is not None:
            self.expect(origin, str, where.rsplit(".", 1)[0] + ".preset")
        keys: dict[int, Key] = {}
        if isinstance(doc, list):  # a slot is stored as in a preset, plus its key, which only a session has
            doc = [self.take_key(s, f"{where}[{i}]", keys, i) for i, s in enumerate(doc)]
            doc = self.take_ids(doc, where)
        try:
            states = slot_states_from_list(doc, str(self.path), where)
            slots = restore_items(states, str(self.path), where, self.report, self.restore_identified)
        except PresetError as err:
            raise self.fail(err.where, err.problem) from None
        for i, key in keys.items():
            if isinstance(slots[i], Split):
                raise self.fail(f"{where}[{i}].key", "a split cannot take a key; put the key on the keyed "
                                                     "plug-in's own slot, outside the split")
            slots[i].key = key
            try:
                check_keyable(slots[i])
            except NotKeyableError as err:
                raise self.fail(f"{where}[{i}].key", f"{err}; remove the key or change the plug-in") from None
        return Chain(slots, origin)

    def take_ids(self, docs: list, where: str) -> list:
        """The chain's slot documents without their ``id`` (an engine document's, see :func:`session_to_dict`),
        which go into :attr:`slot_ids` by the slot's place in the document, inside splits' branches too."""
        out = []
        for i, slot_doc in enumerate(docs):
            here = f"{where}[{i}]"
            if isinstance(slot_doc, dict):
                slot_doc = dict(slot_doc)
                if "id" in slot_doc:
                    self.slot_ids[here] = self.expect(slot_doc.pop("id"), str, f"{here}.id")
                branches = slot_doc.get("branches")
                if isinstance(branches, list):
                    slot_doc["branches"] = [
                        {**b, "chain": self.take_ids(b["chain"], f"{here}.branches[{k}].chain")}
                        if isinstance(b, dict) and isinstance(b.get("chain"), list) else b
                        for k, b in enumerate(branches)]
            out.append(slot_doc)
        return out

    def restore_identified(self, state: Any, source: str, where: str, report: RestoreReport, **options: Any) -> Any:
        """:meth:`restore`, and the slot takes the ``id`` its document gave (one id names one slot: a repeat is
        left with the new one it was made with)."""
        slot = self.restore(state, source, where, report, **options)
        uid = self.slot_ids.get(where)
        if uid is not None and uid not in self.used_ids:
            slot.uid = uid
        self.used_ids.add(slot.uid)
        return slot

    def take_key(self, slot_doc: Any, where: str, keys: dict[int, Key], index: int) -> Any:
        """The slot's document without its ``key``, which goes into ``keys``."""
        if not isinstance(slot_doc, dict) or slot_doc.get("key") is None:
            return {k: v for k, v in slot_doc.items() if k != "key"} if isinstance(slot_doc, dict) else slot_doc
        at = f"{where}.key"
        key_doc = self.keys(self.expect(slot_doc["key"], dict, at), KEY_KEYS, at)
        source = self.expect(key_doc.get("source"), str, f"{at}.source")
        if not source:
            raise self.fail(f"{at}.source", "a key needs the name of the track or bus it comes from")
        keys[index] = Key(source, self.boolean(key_doc, "pre_fader", at))
        return {k: v for k, v in slot_doc.items() if k != "key"}


def session_to_dict(session: Session, base: Path | None = None, *, slot_ids: bool = False) -> dict:
    """The session as a current-version document; audio paths relative to ``base`` where possible.

    ``slot_ids``: each plug-in slot also carries its ``id`` (:attr:`Slot.uid`), for the running engine only (see
    :func:`rackhost.presets.session_sync.engine_document`); a saved file has none, its slots get new ones on load.
    """

    def source_ref(track: Any) -> str | None:
        if track.source is None or getattr(track.source, "path", None) is None:
            return None
        return path_ref(track.source, track.source.path, base)

    def chain_doc(chain: Chain) -> list[dict]:
        docs = [state.to_dict() for state in capture_chain(chain)]
        for doc, slot in zip(docs, chain.slots):
            if getattr(slot, "key", None) is not None:  # a split has none
                doc["key"] = {"source": slot.key.source, "pre_fader": slot.key.pre_fader}
        if slot_ids:
            _put_ids(docs, chain)
        return docs

    def owner_chains(owner: Any) -> dict:
        """The playing chain, the preset it came from, and the A/B setting not playing."""
        other = owner.ab.other
        return {
            "chain": chain_doc(owner.chain),
            "preset": owner.chain.origin,
            "ab": {
                "active": owner.ab.active,
                "other": None if other is None else {"chain": chain_doc(other), "preset": other.origin},
            },
        }

    def automation_doc(strip: Any) -> dict:
        return {"automation": [doc for doc in (envelope_doc(strip, e) for e in strip.automation) if doc is not None]}

    def routing_doc(strip: Track | Bus) -> dict:
        return {
            "output": strip.output,
            "sends": [{"bus": s.bus, "level_db": s.level_db if math.isfinite(s.level_db) else None,
                       "pre_fader": s.pre_fader, "muted": s.muted} for s in strip.sends],
        }

    target = session.master.loudness_target
    return {
        "format_version": FORMAT_VERSION,
        "sample_rate": session.sample_rate,
        "block_size": session.block_size,
        "tracks": [
            {
                "name": t.name,
                "source": source_ref(t),
                "color": t.color,
                "gain_db": t.gain_db,
                "pan": t.pan,
                "mute": t.mute,
                "solo": t.solo,
                "input": list(t.input),
                "armed": t.armed,
                "monitor": t.monitor,
                "keep_mono": t.keep_mono,
                **instrument_fields(t, base),
                **routing_doc(t),
                **owner_chains(t),
                **automation_doc(t),
            }
            for t in session.tracks
        ],
        "busses": [
            {"name": b.name, "color": b.color, "gain_db": b.gain_db, "pan": b.pan, "mute": b.mute, "solo": b.solo,
             **routing_doc(b), **owner_chains(b), **automation_doc(b)}
            for b in session.busses
        ],
        "master": {
            "gain_db": session.master.gain_db,
            **owner_chains(session.master),
            "loudness_target": (
                {"integrated_lufs": target.integrated_lufs, "true_peak_dbtp": target.true_peak_dbtp} if target else None
            ),
            **automation_doc(session.master),
        },
        "midi": session.midi.to_dict(),
        "loop": None if session.loop is None else {"start": session.loop.start, "end": session.loop.end,
                                                   "on": session.loop.on},
        "automation_glide": session.automation_glide,
    }


def _put_ids(docs: list[dict], chain: Chain) -> None:
    """Each plug-in slot's document (inside splits too) gets its slot's ``id``."""
    for doc, item in zip(docs, chain.slots):
        if isinstance(item, Split):
            for branch_doc, branch in zip(doc["branches"], item.branches):
                _put_ids(branch_doc["chain"], branch.chain)
        else:
            doc["id"] = item.uid


def envelope_doc(strip: Any, envelope: Envelope) -> dict | None:
    """An envelope as a session stores it; None for one whose slot or send has left the strip (not saved)."""
    target = envelope.target
    points = [[p.time, p.value] if p.shape == "linear" else [p.time, p.value, p.shape] for p in envelope.points]
    mode = {} if envelope.mode == "read" else {"mode": envelope.mode}
    if isinstance(target, automation.SlotTarget):
        path = path_of(strip.chain, target.slot)
        if path is None:
            return None
        place: int | list[int] = path[0] if len(path) == 1 else list(path)  # a plug-in in a split: its path
        return {"slot": place, "parameter": target.parameter, **mode, "points": points}
    if isinstance(target, automation.SendTarget):
        present = any(s is target.send for s in getattr(strip, "sends", ()))
        return {"send": target.send.bus, **mode, "points": points} if present else None
    return {"control": target.control, **mode, "points": points}


def save_session(session: Session, path: str | Path) -> None:
    """Write the session atomically; audio paths as they were written, or relative to the session file."""
    path = Path(path)
    write_json(path, session_to_dict(session, session_folder(path)))
