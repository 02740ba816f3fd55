"""``rackhost live``: run a session on the audio device: monitor, meter, record."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from rackhost.cli.args import BLOCK_SIZE, folder, ranged, text
from rackhost.cli.automate import apply_modes, mode_spec
from rackhost.cli.devices import require_audio_devices
from rackhost.cli.midi import live_midi

if TYPE_CHECKING:
    from rackhost.live import LiveEngine


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    live = sub.add_parser("live", help="run a session live on the audio device: monitor, meter, record")
    live.add_argument("--session", required=True, type=text("a session file"),
                      help="session file; tracks with an 'input' take device channels")
    live.add_argument("--record", metavar="DIR", type=text("a folder for the takes"),
                      help="record armed tracks (dry and wet takes) into DIR (created if need be)")
    live.add_argument("--take-format", default="WAV", choices=("WAV", "RF64", "W64"),
                      help="WAV (default), or RF64/W64 for takes that may pass 4 GB")
    live.add_argument("--duration", type=ranged(float, 0.1, 7 * 24 * 3600, "seconds"), metavar="SECONDS",
                      help="stop after this long (default: Ctrl-C)")
    live.add_argument("--device", type=text("a device name or index"),
                      help="audio device name or index (see 'rackhost devices')")
    live.add_argument("--block-size", type=BLOCK_SIZE, help="frames per block (default 128)")
    live.add_argument("--midi-in", action="append", default=[], metavar="PORT", type=text("a MIDI input"),
                      help="listen to this MIDI input (see 'rackhost midi ports'), or virtual:NAME for a port of "
                           "rackhost's own; controllers follow the session's mappings, notes play its instrument "
                           "tracks, program changes recall presets from its program map; repeatable")
    live.add_argument("--midi-out", metavar="PORT", type=text("a MIDI output"),
                      help="send mapped targets' positions to this MIDI output (motorized faders, LED rings), "
                           "or virtual:NAME")
    live.add_argument("--no-partner", action="store_true",
                      help="render every track in the engine's process (on two audio threads) instead of handing "
                           "half the file tracks to a partner process on the other core")
    live.add_argument("--automation-mode", action="append", default=[], metavar="[STRIP.TARGET=]MODE",
                      type=mode_spec,
                      help="play an envelope in MODE (read, touch, latch, off) for this run: STRIP is a track's "
                           "or bus's name or 'master', TARGET gain_db, pan, mute, send:BUS or SLOT.PARAM "
                           "(e.g. 'vox.gain_db=touch'); MODE alone sets every envelope; repeatable")
    live.add_argument("--automation-glide", type=ranged(float, 0.0, 10.0, "seconds"), metavar="SECONDS",
                      help="a touch write let go glides back to its envelope over this long (default: the "
                           "session's, 0.25 s; 0: at once); kept with --save-writes")
    live.add_argument("--save-writes", metavar="FILE", type=text("a session file to write"),
                      help="envelopes in touch or latch mode are written by the controllers moved while playing; "
                           "save the session with what they wrote into FILE when the run ends (it may be the "
                           "--session file itself)")
    live.set_defaults(func=cmd_live)
    return live


def cmd_live(args: argparse.Namespace) -> int:
    from rackhost.chain.dsp import gain_to_db
    from rackhost.live import LiveEngine
    from rackhost.live.process import SessionLoader, partner_starter
    from rackhost.presets import load_session
    from rackhost.presets.preset import RestoreReport
    from rackhost.presets.session_file import check_session_file

    if args.record:
        folder(args.record, "--record", create=False)  # a file there is refused before anything starts
    check_session_file(args.session)  # a typo in its name is a file error, not an audio-device error
    require_audio_devices()  # before the session's plug-ins load: without a device there is nothing to run
    loaded = RestoreReport()
    session = load_session(args.session, loaded)
    for warning in loaded.warnings():
        print(f"warning: {warning}")
    for line in apply_modes(session, args.automation_mode):
        print(f"automation mode: {line}")
    if args.automation_glide is not None:
        session.automation_glide = args.automation_glide
    takes_folder = folder(args.record, "--record") if args.record else None
    session.block_size = args.block_size or 128
    device = int(args.device) if args.device and args.device.isdigit() else args.device
    # The partner loads the session file as saved: not when this run changes it first (--automation-mode).
    partner = (None if args.no_partner or args.automation_mode
               else partner_starter(SessionLoader(str(args.session), load=load_session)))
    engine = LiveEngine(session, device=device, midi=live_midi(session, args.midi_in, args.midi_out), partner=partner)
    engine.start()
    rate = session.sample_rate
    written = 0  # the passes said so far
    try:
        if takes_folder is not None:
            for take in engine.record(takes_folder, args.take_format):
                print(f"recording {take.track!r} to {take.dry_path.name} (dry) and {take.wet_path.name} (wet)")
        else:
            if session.loop is not None:  # saved from the window's timeline: playback loops there (not a take)
                engine.set_loop(*session.loop.frames(rate))
            engine.play()
        stats = engine.stats()
        print(f"tracks: {engine.spread_state}")
        print(f"live at {rate} Hz, block {session.block_size}; round-trip latency {stats.latency_frames} frames "
              f"({1000 * stats.latency_frames / rate:.1f} ms: device {stats.device_latency_frames}, block "
              f"{session.block_size}, plug-ins {stats.plugin_latency_frames}); Ctrl-C stops")
        started = time.monotonic()
        while args.duration is None or time.monotonic() - started < args.duration:
            second = time.monotonic() + (min(1.0, args.duration - (time.monotonic() - started))
                                         if args.duration else 1.0)
            while time.monotonic() < second:  # events (program changes, MIDI learn) are handled ten times a second
                time.sleep(max(0.0, min(0.1, second - time.monotonic())))
                for event in engine.poll():
                    print(f"event: {event}")
                written = _say_written(engine, written)
            stats = engine.stats()
            peak = engine.meters()[-1, :, 0]  # the highest sample since the last line (every block counts)
            level = " ".join(f"{gain_to_db(float(p)):6.1f}" for p in peak)  # below -120 dBFS: -inf
            print(f"{stats.position / rate:7.1f} s  master peak {level} dBFS  xruns {stats.xruns}  "
                  f"load p50 {stats.load_p50:4.0%} p99 {stats.load_p99:4.0%} max {stats.load_max:4.0%}", flush=True)
            if not stats.running:
                print("rackhost: error: the audio stream stopped (the audio server or device went away)", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        takes = engine.stop()
        engine.close()
        _say_written(engine, written)
        if args.save_writes and engine.written:
            from rackhost.presets import save_session

            save_session(session, args.save_writes)
            count = len(engine.written)
            print(f"saved the session with {count} written automation pass{'es' if count != 1 else ''} to "
                  f"{args.save_writes}")
        for take in takes:
            print(f"wrote {take.dry_path} ({take.frames_written['dry']} frames) and {take.wet_path} "
                  f"({take.frames_written['wet']} frames)")
        dropped = engine.stats().dropped_frames
        if dropped:
            print(f"warning: {dropped} frames could not be written in time and are missing from the takes")
    return 0


def _say_written(engine: LiveEngine, said: int) -> int:
    """Print each touch or latch pass the engine committed since ``said``; returns how many it has."""
    from rackhost.live.commands import owner

    for written in engine.written[said:]:
        strip = owner(engine.session, written.track)
        name = f"{type(strip).__name__.lower()} {strip.name!r}" if written.track is not None else "the master"
        target = written.target.target(strip).describe()
        print(f"wrote automation ({written.mode}) of {name} {target}: {len(written.points)} points")
    return len(engine.written)
