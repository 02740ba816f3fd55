"""MIDI files and instrument tracks, offline: tempo map, clear errors, real instruments (Kars, Nekobi)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import PROJECT_VST3_DIR, SR
from midi_helpers import write_midi

from rackhost.chain import Plugin, Session, render
from rackhost.chain.midi import MidiSequence, read_midi_file
from rackhost.errors import MidiFileError
from rackhost.presets import load_session, save_session
from rackhost.presets.session_file import FORMAT_VERSION as SESSION_VERSION

INSTRUMENTS = ["Kars", "Nekobi"]

# A type-0 file, 96 ticks per beat: tempo 120 BPM, note 60 on at tick 0, off at 96 (0.5 s);
# tempo 60 BPM from tick 96; note 62 on at 96, off at 192 (one beat at 60 BPM: 1.0 s).
GOLDEN = bytes.fromhex(
    "4d546864 00000006 0000 0001 0060"           # MThd, type 0, 1 track, 96 ticks per beat
    "4d54726b 00000022"                          # MTrk, 34 bytes
    "00 ff5103 07a120"                           # tempo 500000 us/beat
    "00 90 3c 64"                                # note on 60
    "60 80 3c 00"                                # +96: note off 60
    "00 ff5103 0f4240"                           # tempo 1000000 us/beat
    "00 90 3e 64"                                # note on 62
    "60 80 3e 00"                                # +96: note off 62
    "00 ff2f00"                                  # end of track
)


@pytest.fixture
def vst3(monkeypatch):
    monkeypatch.setenv("RACKHOST_VST3_PATH", str(PROJECT_VST3_DIR))


def test_the_tempo_map_places_events_on_frames(tmp_path):
    path = tmp_path / "golden.mid"
    path.write_bytes(GOLDEN)
    seq = read_midi_file(path)
    assert np.allclose(seq.times, [0.0, 0.5, 0.5, 1.5])
    assert seq.data[0] == bytes((0x90, 60, 100)) and seq.data[3] == bytes((0x80, 62, 0))
    assert list(seq.frames(SR)) == [0, 24000, 24000, 72000]
    assert seq.length(SR) == 72000 and seq.path == path
    assert seq.window(SR, 24000, 24512) == [(0, bytes((0x80, 60, 0))), (0, bytes((0x90, 62, 100)))]
    assert seq.window(SR, 1, 24000) == []


def test_type_1_files_merge_tracks_with_the_tempo_track(tmp_path):
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=250000, time=0)])
    notes = mido.MidiTrack([mido.Message("note_on", note=40, time=480), mido.Message("note_off", note=40, time=480)])
    midi.tracks += [tempo, notes]
    midi.save(str(tmp_path / "t1.mid"))
    seq = read_midi_file(tmp_path / "t1.mid")
    assert np.allclose(seq.times, [0.25, 0.5])  # 240 BPM


def test_channels_filter_a_sequence():
    seq = MidiSequence.from_messages([(0.0, bytes((0x90, 60, 1))), (0.1, bytes((0x91, 61, 1)))])
    assert list(seq.channels) == [1, 2]
    assert seq.for_channel(2).data == (bytes((0x91, 61, 1)),)
    assert seq.for_channel(None) is seq


@pytest.mark.parametrize("content, reason", [
    (None, "no such file"),
    ("folder", "folder"),
    (b"", "not a valid standard MIDI file"),
    (b"MThd\x00\x00", "not a valid standard MIDI file"),
    (b"RIFF1234WAVEfmt ", "not a valid standard MIDI file"),
    (GOLDEN[:30], "not a valid standard MIDI file"),  # truncated in the track
    (GOLDEN.replace(bytes.fromhex("903c64"), bytes.fromhex("903cff")), "not a valid standard MIDI file"),  # data byte > 127
])
def test_malformed_midi_files_raise_one_clear_error(tmp_path, content, reason):
    path = tmp_path / "bad.mid"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(MidiFileError) as info:
        read_midi_file(path)
    assert reason in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("name", INSTRUMENTS)
def test_instruments_load_fast_without_their_cc_proxies_and_adapt_to_stereo(vst3, name):
    plugin = Plugin.create(name)
    assert plugin.is_instrument
    assert not [p for p in plugin.parameters if p.startswith("midi_ch")]  # the 2,080 proxies are skipped
    assert plugin.supports(1) and not plugin.supports(2)  # mono output only
    note = plugin.configure(2, SR)
    assert plugin.mode == "mono_instrument" and "both channels" in note


def _instrument_session(name: str, sequence: MidiSequence, block: int = 512, **options) -> Session:
    session = Session(sample_rate=SR, block_size=block)
    session.add_track("synth", instrument=name, midi=sequence, **options)
    return session


@pytest.mark.parametrize("name", INSTRUMENTS)
def test_a_midi_file_renders_the_same_samples_every_time(vst3, tmp_path, name):
    seq = read_midi_file(write_midi(tmp_path / "riff.mid", [(0, 240, 48), (480, 240, 55), (960, 480, 60)]))
    session = _instrument_session(name, seq)
    session.tracks[0].chain.add("Compressor", threshold_db=-20)
    first = render(session, tail=False).audio
    second = render(session, tail=False).audio
    assert np.array_equal(first, second)
    assert np.sqrt(np.mean(first ** 2)) > 0.005  # it played
    assert np.array_equal(first[0], first[1])  # the mono instrument on both channels, centred
    assert first.shape[1] == seq.length(SR) + 1


def test_notes_land_on_their_sample_frames(vst3):
    """Moving a note by 100 frames (across a block boundary) moves Nekobi's output by exactly 100 frames."""
    def render_at(at: float) -> np.ndarray:
        seq = MidiSequence.from_messages([(at, bytes((0x90, 45, 100))), (at + 0.2, bytes((0x80, 45, 0)))])
        return render(_instrument_session("Nekobi", seq, block=128), tail=False).audio[0]

    base, moved = render_at(1000 / SR), render_at(1100 / SR)
    onset = int(np.flatnonzero(base)[0])
    assert 1000 <= onset < 1100
    assert np.flatnonzero(moved)[0] == onset + 100
    assert np.allclose(base[onset:onset + 5000], moved[onset + 100:onset + 5100], atol=5e-3)  # same note


def test_a_held_note_is_released_at_the_end_so_the_tail_dies_away(vst3, tmp_path):
    seq = read_midi_file(write_midi(tmp_path / "held.mid", [(0, 0, 45)], hold_last=True))  # note on, never off
    result = render(_instrument_session("Nekobi", seq), max_tail_seconds=10.0)
    assert result.tail_frames < 5 * SR  # it went quiet after the release, long before the tail limit
    assert np.max(np.abs(result.audio[:, -SR // 10:])) < 10 ** (-80 / 20)


def test_an_instrument_track_listens_to_its_channel(vst3):
    seq = MidiSequence.from_messages([(0.0, bytes((0x91, 45, 100))), (0.3, bytes((0x81, 45, 0)))])  # channel 2
    assert np.any(render(_instrument_session("Nekobi", seq, midi_channel=2), tail=False).audio)
    assert not np.any(render(_instrument_session("Nekobi", seq, midi_channel=1), tail=False).audio)


def test_an_effect_is_not_an_instrument(vst3):
    with pytest.raises(ValueError, match="is an effect, not an instrument"):
        Session().add_track("x", instrument="ZamCompX2")


def test_instrument_tracks_survive_save_and_load(vst3, tmp_path):
    (tmp_path / "midi").mkdir()
    midi_path = write_midi(tmp_path / "midi" / "bass.mid", [(0, 240, 40), (480, 240, 43)])
    session = _instrument_session("Nekobi", read_midi_file(midi_path), midi_channel=1)
    session.tracks[0].instrument.set("cutoff", 60.0)
    session.tracks[0].chain.add("Reverb", room_size=0.2)
    path = tmp_path / "song.json"
    save_session(session, path)
    doc = json.loads(path.read_text())
    track = doc["tracks"][0]
    assert doc["format_version"] == SESSION_VERSION and track["midi_file"] == "midi/bass.mid" and track["midi_channel"] == 1
    assert track["instrument"]["plugin"]["name"] == "Nekobi" 
    assert track["instrument"]["parameters"]["cutoff"] == pytest.approx(60.0, abs=0.01)
    loaded = load_session(path)
    assert loaded.tracks[0].instrument.get("cutoff") == pytest.approx(60.0, abs=0.01)
    assert np.array_equal(render(session).audio, render(loaded).audio)


def test_version_2_sessions_still_load(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"format_version": 2, "tracks": [{"name": "a", "source": None, "chain": []}]}))
    session = load_session(path)
    assert session.tracks[0].instrument is None


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rackhost.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**__import__("os").environ, "RACKHOST_VST3_PATH": str(PROJECT_VST3_DIR)})


def test_cli_renders_midi_through_the_sessions_instrument_tracks(vst3, tmp_path):
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("bass", instrument="Nekobi", midi_channel=1)
    session.add_track("pluck", instrument="Kars")
    save_session(session, tmp_path / "s.json")
    write_midi(tmp_path / "a.mid", [(0, 240, 40)])
    write_midi(tmp_path / "b.mid", [(0, 240, 64)], channel=3)
    done = _cli("render", "--session", "s.json", "--midi", "a.mid", "--midi", "pluck=b.mid", "-o", "out.wav",
                "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "track 'bass': plays a.mid (channel 1)" in report["notes"]
    assert "track 'pluck': plays b.mid (every channel)" in report["notes"]
    one = _cli("render", "--instrument", "Kars", "--midi", "b.mid", "--chain", "Gain(gain_db=-6)", "-o", "k.wav",
               cwd=tmp_path)
    assert one.returncode == 0, one.stderr


@pytest.mark.parametrize("args, message", [
    (["--midi", "missing.mid"], "cannot read MIDI file 'missing.mid': no such file"),
    (["--midi", "bad.mid"], "cannot read MIDI file 'bad.mid': not a valid standard MIDI file"),
    (["--midi", "nobody=a.mid"], "no track named 'nobody'"),
])
def test_cli_midi_errors_are_one_line(vst3, tmp_path, args, message):
    session = Session(sample_rate=SR)
    session.add_track("bass", instrument="Nekobi")
    save_session(session, tmp_path / "s.json")
    write_midi(tmp_path / "a.mid", [(0, 240, 40)])
    (tmp_path / "bad.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    done = _cli("render", "--session", "s.json", *args, "-o", "out.wav", cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_an_instrument_cannot_sit_in_a_chain(vst3, tmp_path):
    from rackhost.errors import SessionError

    with pytest.raises(SessionError, match="Kars is an instrument: it plays MIDI"):
        Session().add_track("x", None).chain.add("Kars")
    write_midi(tmp_path / "a.mid", [(0, 240, 40)])
    done = _cli("render", "--instrument", "Nekobi", "--midi", "a.mid", "--chain", "Kars", "-o", "o.wav", cwd=tmp_path)
    assert done.returncode == 2 and "Kars is an instrument" in done.stderr and "Traceback" not in done.stderr


def test_a_session_whose_instrument_is_not_installed_still_opens_renders_silence_and_saves_it_back(tmp_path):
    from rackhost.presets.preset import RestoreReport

    write_midi(tmp_path / "a.mid", [(0, 240, 40)])
    doc = {"format_version": 3, "tracks": [
        {"name": "lead", "instrument": {"plugin": {"format": "vst3", "name": "NoSuchSynth"},
                                        "parameters": {"cutoff": 3.0}, "raw_state": "AAAA"},
         "midi_channel": 2, "midi_file": "a.mid", "chain": []}]}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    report = RestoreReport()
    session = load_session(tmp_path / "s.json", report)
    assert report.missing and "NoSuchSynth" in report.missing[0]
    assert not np.any(render(session, tail=False).audio)
    save_session(session, tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text())["tracks"][0]
    assert again["instrument"]["plugin"]["name"] == "NoSuchSynth" and again["instrument"]["raw_state"] == "AAAA"
    assert again["midi_channel"] == 2 and again["midi_file"] == "a.mid"
