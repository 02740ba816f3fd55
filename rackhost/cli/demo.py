"""The demo session: a short synthesized song mixed through real plug-ins.

``make run`` (``rackhost demo``) renders this so a fresh checkout proves, by
ear and by numbers, that the whole path works: audio files in, per-track
chains mixing real VST3s with pedalboard built-ins, channel adaptation
(mono-only plug-ins on stereo tracks and the other way round), resampling,
routing (a drum bus with parallel compression, a reverb bus fed by sends, a
music bus ducked under the voice by a sidechain key), a master bus with a
limiter, a 24-bit WAV out and a loudness report.

The music is four bars at 120 BPM in A minor (Am - F - C - G), made with numpy
alone so the demo needs no sample library and is identical on every machine:

* drums (stereo): a pitch-swept sine kick, a noise-and-tone snare, hi-hats
  made of high-passed noise ticks, a little right of centre;
* bass (mono): a band-limited saw with a plucked filter envelope, in eighths;
* pad (stereo): detuned saw chords with a slow attack, left and right detuned
  differently so the pad is wide without any plug-in;
* voice (mono): a spoken line from ``espeak-ng`` if it is installed, written at
  espeak's own 22.05 kHz so the session has to resample it.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from rackhost.chain import Branch, Chain, Plugin, RenderResult, Session, Split, render_to_file
from rackhost.chain.sidechain import Key, NotKeyableError, check_keyable
from rackhost.cli.args import folder, text
from rackhost.presets import save_session
from rackhost.presets.preset import restore_chain
from rackhost.presets.store import PresetStore

log = logging.getLogger(__name__)

BPM = 120.0
BEAT = 60.0 / BPM  # seconds
BAR = 4 * BEAT
STEP = BEAT / 4  # a sixteenth note
DEMO_SECONDS = 8.0  # four bars
SAMPLE_RATE = 48000
SEED = 20240611  # fixed, so every render of the demo is the same
SOURCE_PEAK_DBFS = -6.0  # headroom per track, as a tracking engineer would leave it
MIX_NAME = "demo-mix.wav"
SESSION_NAME = "demo-session.json"

# One chord per bar: (bass root as a MIDI note, pad voicing as MIDI notes).
# The pad voicings move by step (A-C-E, A-C-F, G-C-E, G-B-D) like a keyboard player's hands.
PROGRESSION: tuple[tuple[int, tuple[int, ...]], ...] = (
    (33, (57, 60, 64)),  # Am: A1 | A3 C4 E4
    (29, (57, 60, 65)),  # F:  F1 | A3 C4 F4
    (36, (55, 60, 64)),  # C:  C2 | G3 C4 E4
    (31, (55, 59, 62)),  # G:  G1 | G3 B3 D4
)

# Sixteenth-note steps (0..15) of one bar where each drum plays, with a velocity.
KICK = {0: 1.0, 7: 0.55, 8: 0.9, 10: 0.75}
SNARE = {4: 1.0, 12: 1.0, 15: 0.25}  # a ghost note leads back into the downbeat
HATS = {step: (0.8 if step % 4 == 2 else 0.45) for step in range(0, 16, 2)}  # eighths, off-beats accented

# Detune of the pad's side oscillators, left and right.
PAD_DETUNE_CENTS = (-8.0, 8.0)

# Eighth notes of one bar for the bass: semitones above the root, or None for a rest.
BASS_LINE: tuple[int | None, ...] = (0, None, 0, 12, 0, None, 7, 12)

VOICE_TEXT = "Welcome to rack host. Every track, its own chain. One mix."

TRACKS = ("drums", "bass", "pad", "voice")


# -- small DSP helpers (numpy only) ---------------------------------------------


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def additive(phase: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum of sine harmonics ``sum_k weights[k-1] * sin(k * phase)``.

    Building saws from harmonics keeps them band-limited (no aliasing), and
    weighting the harmonics is a low-pass filter that may change over time
    (``weights`` shaped (harmonics, frames)) without a recursive filter.
    Harmonic k comes from the complex exponential raised to the k-th power
    by repeated multiplication, which is much cheaper than k calls to sin.
    """
    z = np.exp(1j * phase)
    power = z.copy()
    out = np.zeros(phase.shape, np.float64)
    for k in range(weights.shape[0]):
        if k:
            power *= z
        out += weights[k] * power.imag
    return out


def saw_weights(
    freq: float, cutoff_hz: float | np.ndarray, sample_rate: int, max_hz: float = 6000.0
) -> np.ndarray:
    """Harmonic amplitudes of a saw (1/k) through a one-pole-like low-pass (-6 dB/octave) at ``cutoff_hz``.

    Harmonics stop below ``max_hz`` (and well below Nyquist): inaudible under
    the low-pass anyway, and each one costs a pass over the whole note.
    """
    count = max(1, int(min(max_hz, 0.45 * sample_rate) // freq))
    k = np.arange(1, count + 1, dtype=np.float64)
    cutoff = np.asarray(cutoff_hz, np.float64)
    if cutoff.ndim:  # a cutoff per frame: weights per harmonic per frame
        k = k[:, np.newaxis]
    return (1.0 / k) / np.sqrt(1.0 + (k * freq / cutoff) ** 2)


def highpassed_noise(rng: np.random.Generator, frames: int, order: int = 2) -> np.ndarray:
    """White noise differenced ``order`` times: +6 dB/octave each, so cymbal-like hiss.

    Uniform rather than Gaussian noise: its peaks are bounded (|x| <= 1 here),
    so one unlucky sample never sets the level of a whole drum track.
    """
    noise = rng.uniform(-1.0, 1.0, frames + order)
    return np.diff(noise, n=order) / 2.0**order


def fade_edges(audio: np.ndarray, sample_rate: int, seconds: float = 0.01, *, fade_in: bool = True) -> np.ndarray:
    """Short raised-cosine fades (in place) at the end and, unless ``fade_in`` is False, the start.

    A cut mid-waveform clicks; a few milliseconds of fade is inaudible otherwise.
    """
    n = min(int(seconds * sample_rate), audio.shape[-1] // 2)
    if n:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))
        if fade_in:
            audio[..., :n] *= ramp
        audio[..., -n:] *= ramp[::-1]
    return audio


def normalize(audio: np.ndarray, peak_dbfs: float = SOURCE_PEAK_DBFS) -> np.ndarray:
    peak = float(np.max(np.abs(audio)))
    return audio * (db_to_gain(peak_dbfs) / peak) if peak > 0 else audio


def place(buffer: np.ndarray, sound: np.ndarray, start: int, gain: float | np.ndarray = 1.0) -> None:
    """Mix ``sound`` into ``buffer`` from frame ``start``, cut off at the buffer's end.

    ``sound`` has the buffer's channels, or is 1-D and goes to every channel;
    ``gain`` is a number or one gain per channel (a pan).
    """
    if start >= buffer.shape[-1]:
        return
    end = min(buffer.shape[-1], start + sound.shape[-1])
    gain = np.asarray(gain, np.float64)
    if gain.ndim:  # a gain per channel: a column, so it scales each row
        gain = gain[:, np.newaxis]
    buffer[..., start:end] += gain * sound[..., : end - start]


def bar_count(seconds: float) -> int:
    return int(np.ceil(seconds / BAR))


# -- the instruments --------------------------------------------------------------


def kick(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A sine swept from ~160 Hz down to 48 Hz (the 'thump'), plus a few ms of noise (the beater click)."""
    t = np.arange(int(0.45 * sample_rate)) / sample_rate
    freq = 48.0 + 110.0 * np.exp(-t / 0.035)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.exp(-t / 0.22)
    click = highpassed_noise(rng, t.size, 1) * np.exp(-t / 0.002) * 0.25
    return body + click


def snare(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Two drum-head modes (190 and 330 Hz) for the body, bright decaying noise for the wires."""
    t = np.arange(int(0.3 * sample_rate)) / sample_rate
    tone = 0.55 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)
    tone += 0.3 * np.sin(2 * np.pi * 330 * t) * np.exp(-t / 0.03)
    wires = 0.9 * highpassed_noise(rng, t.size, 1) * np.exp(-t / 0.09)
    return tone + wires


def hat(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A closed hi-hat: a 25 ms tick of doubly high-passed noise."""
    t = np.arange(int(0.08 * sample_rate)) / sample_rate
    return 0.6 * highpassed_noise(rng, t.size, 2) * np.exp(-t / 0.02)


def synth_drums(frames: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """The groove, stereo: kick and snare in the centre, hats a little to the right as seen from the kit."""
    out = np.zeros((2, frames))
    hat_pan = np.array([0.7, 1.0])  # left, right
    for bar in range(bar_count(frames / sample_rate)):
        for step in range(16):
            start = int(round((bar * BAR + step * STEP) * sample_rate))
            # Each hit is synthesized anew, so no two snares or hats are sample-identical, like a drummer.
            human = 1.0 + 0.06 * rng.standard_normal()
            if step in KICK:
                place(out, kick(sample_rate, rng), start, KICK[step])
            if step in SNARE:
                place(out, snare(sample_rate, rng), start, SNARE[step] * human)
            if step in HATS:
                place(out, hat(sample_rate, rng), start, HATS[step] * human * hat_pan)
    return out


def bass_note(freq: float, frames: int, sample_rate: int) -> np.ndarray:
    """A plucked saw: the filter opens at the attack and closes within ~60 ms, like a picked bass synth."""
    t = np.arange(frames) / sample_rate
    cutoff = 220.0 + 1400.0 * np.exp(-t / 0.06)
    tone = additive(2 * np.pi * freq * t, saw_weights(freq, cutoff, sample_rate, max_hz=4000.0))
    amp = np.minimum(1.0, t / 0.004) * (0.6 + 0.4 * np.exp(-t / 0.12))
    return fade_edges(tone * amp, sample_rate, 0.008)


def synth_bass(frames: int, sample_rate: int) -> np.ndarray:
    """The root of each chord in syncopated eighths, mono (bass belongs in the centre)."""
    out = np.zeros((1, frames))
    eighth = 2 * STEP
    note_frames = int(0.85 * eighth * sample_rate)  # a little short of legato, so the line breathes
    for bar in range(bar_count(frames / sample_rate)):
        root, _ = PROGRESSION[bar % len(PROGRESSION)]
        for i, interval in enumerate(BASS_LINE):
            if interval is None:
                continue
            start = int(round((bar * BAR + i * eighth) * sample_rate))
            velocity = 1.0 if i % 2 == 0 else 0.8
            place(out, bass_note(midi_to_hz(root + interval), note_frames, sample_rate)[np.newaxis], start, velocity)
    return out


def pad_chord(notes: tuple[int, ...], frames: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One chord, stereo: per note a saw in the centre plus a detuned saw on each side.

    The side saws are detuned in opposite directions (flat left, sharp right),
    so the beating differs between the speakers: a slight, natural spread that
    still sums to mono cleanly because the centre saw is shared.
    """
    t = np.arange(frames) / sample_rate
    out = np.zeros((2, frames))
    for note in notes:
        start = rng.random()  # a free-running oscillator's phase, shared by the note's saws
        centre = midi_to_hz(note)
        out += additive(2 * np.pi * (centre * t + start), saw_weights(centre, 1500.0, sample_rate, 5000.0))
        for channel, cents in enumerate(PAD_DETUNE_CENTS):
            freq = midi_to_hz(note + cents / 100.0)
            side = additive(2 * np.pi * (freq * t + start), saw_weights(freq, 1500.0, sample_rate, 5000.0))
            out[channel] += 0.7 * side
    attack, release = 0.6, 0.5
    env = np.minimum(1.0, t / attack)
    env *= np.clip((t[-1] - t) / release, 0.0, 1.0)  # the chord fades under the next one's attack
    return out * env**2  # squared: a softer, more 'string-like' swell than a linear ramp


def synth_pad(frames: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((2, frames))
    chord_frames = int((BAR + 0.5) * sample_rate)  # each chord overlaps the next by its release
    for bar in range(bar_count(frames / sample_rate)):
        _, notes = PROGRESSION[bar % len(PROGRESSION)]
        place(out, pad_chord(notes, chord_frames, sample_rate, rng), int(round(bar * BAR * sample_rate)))
    fade = min(frames, int(0.4 * sample_rate))  # let the last chord die away rather than stop
    out[:, frames - fade :] *= np.linspace(1.0, 0.0, fade) ** 2
    return out


def voice_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, seconds: float) -> tuple[np.ndarray, int] | None:
    """``text`` spoken by espeak-ng, entering on bar 2 if it fits; (audio (1, frames), rate) or None.

    espeak writes 22.05 kHz and it is kept at that rate on purpose: the session
    resamples it, which is part of what the demo shows.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory(prefix="rackhost-voice-") as tmp:
        wav = Path(tmp) / "voice.wav"
        # American English at a relaxed 145 words per minute; espeak's default voice if that one is missing.
        for voice in (["-v", "en-us"], []):
            try:
                subprocess.run([exe, *voice, "-s", "145", "-w", str(wav), text], check=True, capture_output=True,
                               timeout=60)
                speech, rate = sf.read(str(wav), dtype="float64", always_2d=True)
                break
            except (OSError, subprocess.SubprocessError, sf.LibsndfileError) as err:
                failure = err
        else:
            log.warning("espeak-ng failed (%s); the demo has no voice track", failure)
            return None
    speech = speech.T[:1]
    if speech.shape[1] == 0:
        return None
    total = int(seconds * rate)
    entry = int(BAR * rate) if BAR * rate + speech.shape[1] <= total else 0
    out = np.zeros((1, total))
    place(out, speech, entry)
    return fade_edges(out, rate), rate


# -- files and the session ----------------------------------------------------------


def write_demo_sources(folder: Path, sample_rate: int = SAMPLE_RATE, seconds: float = DEMO_SECONDS) -> dict[str, Path]:
    """Synthesize the demo's tracks and write them to ``folder`` as 24-bit WAVs; returns name -> path.

    The voice is left out (and not in the result) when espeak-ng is missing.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = int(seconds * sample_rate)
    rng = np.random.default_rng(SEED)
    tracks: dict[str, tuple[np.ndarray, int]] = {
        "drums": (synth_drums(frames, sample_rate, rng), sample_rate),
        "bass": (synth_bass(frames, sample_rate), sample_rate),
        "pad": (synth_pad(frames, sample_rate, rng), sample_rate),
    }
    voice = speak(VOICE_TEXT, seconds)
    if voice is not None:
        tracks["voice"] = voice
    paths: dict[str, Path] = {}
    for name, (audio, rate) in tracks.items():
        path = folder / f"{name}.wav"
        # Only the end is faded: every instrument starts from silence, and the first kick keeps its attack.
        audio = fade_edges(normalize(audio), rate, fade_in=False)
        sf.write(str(path), audio.T.astype(np.float32), rate, subtype="PCM_24")
        paths[name] = path
    return paths


def existing_sources(folder: Path) -> dict[str, Path] | None:
    """The sources already in ``folder``, or None if any expected one is missing (then all are rewritten).

    Files found are used as they are, whatever their length: delete them to make new ones.
    """
    expected = [name for name in TRACKS if name != "voice" or voice_available()]
    paths = {name: Path(folder) / f"{name}.wav" for name in expected}
    return paths if all(p.is_file() for p in paths.values()) else None


# The busses: where the tracks go, and what each adds.
DRUM_BUS = "drum bus"
MUSIC_BUS = "music bus"
REVERB_BUS = "reverb"
REVERB_PRESET = "mixing/reverb-send"
# The music ducks under the voice as radio and podcasts do: a few dB, quick down, slower back up.
DUCK = {"threshold_db": -36.0, "ratio": 4.0, "attack_ms": 5.0, "release_ms": 250.0, "knee_db": 6.0}
NO_KEY_LINE = "the music bus is not ducked under the voice (its ZamCompX2 is bypassed): {reason}"


def duck_unavailable(error: Exception) -> str:
    """Why the demo has no ducking key, and what gets it, in one line."""
    if "need minihost" in str(error):
        return NO_KEY_LINE.format(reason="keyed plug-ins need minihost (pip install 'rackhost[sidechain]')")
    return NO_KEY_LINE.format(reason="no plug-in here can take a key ('make plugins' builds a keyed ZamCompX2 "
                                     "into build/vst3-keyed)")


def build_demo_session(folder: Path, *, seconds: float = DEMO_SECONDS,
                       notes: list[str] | None = None) -> Session:
    """The demo mix: sources in ``folder`` (written first if missing), each through its own chain, mixed
    through busses as an engineer would route them.

    The chains are what a mix engineer might reach for first, and together they
    exercise every kind of slot: VST3s and built-ins, a mono-only plug-in on a
    mono track (direct) and on a stereo one (dual mono), a stereo-only one on a
    mono track (it widens the track), a latent limiter on the master, and a host-side
    wet/dry mix. The routing shows the day-one moves of mixing: the drums into a
    drum bus with parallel compression (a split), the drum bus, bass and pad into
    a music bus ducked under the voice (a keyed ZamCompX2), and one reverb bus
    fed by sends from the pad, the voice and the drums (the factory's
    ``mixing/reverb-send`` bus preset).

    Without a plug-in that can take a key, the music bus keeps its compressor
    unkeyed and the reason goes into ``notes``.
    """
    folder = Path(folder)
    sources = existing_sources(folder) or write_demo_sources(folder, SAMPLE_RATE, seconds)
    session = Session(sample_rate=SAMPLE_RATE, block_size=512)

    drums = session.add_track("drums", sources["drums"], gain_db=-1.0, output=DRUM_BUS)
    # Slow attack lets the transients through, the compressor then thickens the sustain.
    drums.chain.add("ZamCompX2", threshold_db=-18.0, ratio=3.0, attack_ms=15.0, release_ms=120.0,
                    knee_db=4.0, makeup_db=2.0)
    drums.chain.add("HighShelfFilter", cutoff_frequency_hz=8000.0, gain_db=2.5, q=0.707)  # 'air' on the hats
    drums.add_send(REVERB_BUS, -20.0)  # a touch of room on the kit

    bass = session.add_track("bass", sources["bass"], gain_db=-3.0, output=MUSIC_BUS)
    # ZamEQ2 is mono-only, so on this mono track it runs directly.
    bass.chain.add("ZamEQ2",
                   boost_cut_l_db=2.0, frequency_l_hz=70.0,  # weight under the fundamental
                   boost_cut_1_db=-3.0, frequency_1_hz=250.0, bandwidth_1=1.2,  # less mud
                   boost_cut_2_db=2.0, frequency_2_hz=900.0, bandwidth_2=1.5,  # audible on small speakers
                   boost_cut_h_db=-6.0, frequency_h_hz=5000.0)  # no fizz above the saw's useful range
    # ZamCompX2 is stereo-only: rackhost feeds the mono bass to both inputs, and the track is stereo from there
    # (a note says so).
    bass.chain.add("ZamCompX2", threshold_db=-20.0, ratio=4.0, attack_ms=20.0, release_ms=150.0,
                   knee_db=3.0, makeup_db=3.0)

    pad = session.add_track("pad", sources["pad"], gain_db=-6.0, output=MUSIC_BUS)
    pad.chain.add("HighpassFilter", cutoff_frequency_hz=160.0)  # leave the low end to kick and bass
    # Carve a little room for the voice's intelligibility range. ZamEQ2 is mono-only,
    # so on this stereo track rackhost runs two instances, one per channel (a note says so).
    pad.chain.add("ZamEQ2", boost_cut_1_db=-3.0, frequency_1_hz=2500.0, bandwidth_1=1.5)
    pad.chain.add("Chorus", rate_hz=0.6, depth=0.3, centre_delay_ms=8.0, feedback=0.0, mix=0.4)
    pad.add_send(REVERB_BUS, -3.0)  # the pad lives in the reverb: its main send

    if "voice" in sources:
        voice = session.add_track("voice", sources["voice"], gain_db=3.0)
        voice.chain.add("HighpassFilter", cutoff_frequency_hz=100.0)  # rumble and proximity boom out
        voice.chain.add("ZamComp", threshold_db=-24.0, ratio=3.0, attack_ms=5.0, release_ms=120.0,
                        knee_db=4.0, makeup_db=6.0)  # mono-only, direct on the mono voice
        # A dotted-eighth echo, fully wet in the plug-in; the slot's mix blends in a quarter of it.
        echo = voice.chain.add("Delay", delay_seconds=0.75 * BEAT, feedback=0.3, mix=1.0)
        echo.set_mix(0.25)
        voice.add_send(REVERB_BUS, -14.0)

    # Parallel compression: the kit crushed hard, tucked in under the dry kit, so it gets
    # weight and sustain without losing its hits.
    crush = Chain([Plugin.create("Compressor", threshold_db=-35.0, ratio=10.0, attack_ms=1.0, release_ms=80.0)])
    session.add_bus(DRUM_BUS, Chain([Split([Branch(), Branch(crush, level_db=-8.0)], name="parallel comp")]),
                    output=MUSIC_BUS)
    music = session.add_bus(MUSIC_BUS, gain_db=-1.0)
    duck = music.chain.add("ZamCompX2", **DUCK)
    # One shared reverb, all wet, from the factory's bus preset: the tracks' sends set how much of each goes in.
    reverb = PresetStore().load(REVERB_PRESET)
    chain, _ = restore_chain(reverb, REVERB_PRESET)  # built-ins only: every value lands
    chain.origin = REVERB_PRESET  # the strip says where its chain came from
    session.add_bus(REVERB_BUS, chain, gain_db=reverb.gain_db or 0.0, pan=reverb.pan or 0.0)
    if "voice" in sources:
        try:
            check_keyable(duck)
        except NotKeyableError as err:
            log.info("no ducking key: %s", err)
            duck.bypass = True  # unkeyed, it would squash the music by its own level
            if notes is not None:
                notes.append(duck_unavailable(err))
        else:
            # Keyed before the voice's fader: the duck follows the voice's level as spoken.
            duck.key = Key("voice", pre_fader=True)

    # Glue: a gentle, slow compressor over the whole mix, then a limiter 1 dB under full scale.
    session.master.chain.add("ZamCompX2", threshold_db=-14.0, ratio=2.0, attack_ms=30.0, release_ms=200.0,
                             knee_db=6.0, makeup_db=1.0)
    session.master.chain.add("ZaMaximX2", threshold_db=-3.0, output_ceiling_db=-1.0, release_ms=50.0)
    return session


def slot_label(slot: Any) -> str:
    """A slot as the summary names it: a split with its branches, a keyed slot with its key."""
    if isinstance(slot, Split):
        branches = " | ".join(f"{' -> '.join(s.name for s in b.chain) or 'dry'} {b.level_db:+.0f} dB"
                              for b in slot.branches)
        return f"{slot.name} [{branches}]"
    key = getattr(slot, "key", None)
    if key is not None:
        return f"{slot.name} (key: {key.source}, {'pre' if key.pre_fader else 'post'}-fader)"
    return slot.name


def routing_label(strip: Any) -> str:
    """Where a track or bus goes and what it sends: ``=> drum bus, send reverb -20 dB``."""
    parts = [f"=> {strip.output or 'master'}"]
    parts += [f"send {s.bus} {s.level_db:+.0f} dB{' pre' if s.pre_fader else ''}" for s in strip.sends]
    return ", ".join(parts)


def chain_summary(session: Session) -> list[str]:
    """One line per track, per bus and the master: what runs, in order, and where it goes.

    A track's width is the one it has after its chain, as its strip shows it:
    the mono bass is ``mono>stereo`` once the stereo-only ZamCompX2 widens it.
    """
    lines = []
    for track in session.tracks:
        plugins = " -> ".join(slot_label(slot) for slot in track.chain) or "(no plug-ins)"
        width = track.width_label(session.sample_rate)
        lines.append(f"  {track.name:<7}{width:<12}{track.gain_db:+5.1f} dB  {plugins}  {routing_label(track)}")
    for bus in session.busses:
        plugins = " -> ".join(slot_label(slot) for slot in bus.chain) or "(no plug-ins)"
        lines.append(f"  {'bus ' + bus.name:<19}{bus.gain_db:+5.1f} dB  {plugins}  {routing_label(bus)}")
    master = " -> ".join(slot_label(slot) for slot in session.master.chain) or "(no plug-ins)"
    lines.append(f"  {'master':<19}{session.master.gain_db:+5.1f} dB  {master}")
    return lines


def mix_path(folder: Path, out: Path | None) -> Path:
    """Where the mix goes: ``out`` if it names a file, inside it if it is a folder, else ``folder/demo-mix.wav``."""
    if out is None:
        return Path(folder) / MIX_NAME
    out = Path(out)
    if out.is_dir() or not out.suffix:
        out.mkdir(parents=True, exist_ok=True)
        return out / MIX_NAME
    return out


def run_demo(
    folder: Path,
    out: Path | None = None,
    print: Callable[[str], object] = print,  # noqa: A002 - injectable, so tests and the GUI can capture it
    *,
    seconds: float = DEMO_SECONDS,
) -> RenderResult:
    """Build the demo session in ``folder``, render it to a 24-bit WAV, and report what happened."""
    folder = Path(folder)
    started = time.perf_counter()
    missing: list[str] = []
    session = build_demo_session(folder, seconds=seconds, notes=missing)
    if not voice_available():
        print("espeak-ng is not installed, so the demo has no voice track nor ducking (apt install espeak-ng)")
    for line in missing:
        print(line)
    print("demo session:")
    for line in chain_summary(session):
        print(line)
    result = render_to_file(session, mix_path(folder, out))
    elapsed = time.perf_counter() - started
    print(f"wrote {result.path} ({result.seconds:.2f} s of audio, built and rendered in {elapsed:.1f} s)")
    for note in result.notes:
        print(f"note: {note}")
    if result.clipped_samples:
        print(f"warning: {result.clipped_samples} samples clipped at 0 dBFS")
    print("loudness:")
    for line in result.loudness().lines():
        print(f"  {line}")
    session_file = folder / SESSION_NAME
    save_session(session, session_file)
    print(f"session saved as {session_file}: render it again with 'rackhost render --session {session_file} -o mix.wav'")
    return result


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    demo = sub.add_parser("demo", help="render the demo session (synthesized tracks through real plug-ins)")
    demo.add_argument("--out", default="demo-output", type=text("a folder"),
                      help="folder for the demo files (default demo-output)")
    demo.set_defaults(func=cmd_demo)
    return demo


def cmd_demo(args: argparse.Namespace) -> int:
    run_demo(folder(args.out, "--out"))
    return 0
