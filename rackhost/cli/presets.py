"""``rackhost presets``: list, show, save, export, import and manage presets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rackhost.cli.args import chain_spec, ranged, refuse_overwrite, text
from rackhost.errors import RackhostError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    presets = sub.add_parser("presets", help="list, show, save and manage presets")
    psub = presets.add_subparsers(dest="action", required=True)

    ls = psub.add_parser("list", help="factory and user presets")
    ls.add_argument("--stage")
    ls.add_argument("--tag")
    ls.add_argument("--search", help="text in the name or description")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_presets_list)

    show = psub.add_parser("show", help="one preset: metadata and every slot")
    show.add_argument("ref", metavar="STAGE/NAME", type=text("STAGE/NAME"))
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_presets_show)

    save = psub.add_parser("save", help="save a chain, a session track or a session's master as a user preset")
    save.add_argument("name")
    save.add_argument("--stage", required=True, help="tracking, mixing, mastering, or a stage of your own")
    save.add_argument("--chain", type=chain_spec, help="an inline chain, as for 'rackhost render --chain'")
    save.add_argument("--session", type=text("a session file"), help="take the chain from this session file")
    save.add_argument("--track", type=text("a track name"), help="with --session: this track's chain, gain and pan")
    save.add_argument("--master", action="store_true", help="with --session: the master chain and gain")
    save.add_argument("--description", default="")
    save.add_argument("--tag", action="append", default=[])
    save.add_argument("--author", default="")
    save.add_argument("--target-lufs", type=ranged(float, -70, 0, "LUFS"),
                      help="master presets: integrated loudness to render to")
    save.add_argument("--true-peak", type=ranged(float, -20, 0, "dBTP"), default=-1.0,
                      help="with --target-lufs: ceiling in dBTP (default -1)")
    save.add_argument("--overwrite", action="store_true", help="replace a user preset of the same name")
    save.add_argument("--with-midi", action="store_true",
                      help="with --track/--master: keep the session's MIDI mappings to it in the preset")
    save.set_defaults(func=cmd_presets_save)

    for name, helptext in (("delete", "delete a user preset"), ("export", "write a preset to a file"),
                           ("rename", "rename a user preset"), ("duplicate", "copy a preset under a new name")):
        p = psub.add_parser(name, help=helptext)
        p.add_argument("ref", metavar="STAGE/NAME", type=text("STAGE/NAME"))
        if name == "export":
            p.add_argument("file", type=text("a file to write"))
            p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
        elif name in ("rename", "duplicate"):
            p.add_argument("new_name", type=text("a new name"))
        p.set_defaults(func=cmd_presets_change)

    imp = psub.add_parser("import", help="add a preset file to your user presets")
    imp.add_argument("file", type=text("a preset file"))
    imp.add_argument("--overwrite", action="store_true", help="replace a user preset of the same name")
    imp.add_argument("--name", type=text("a preset name"),
                     help="import under this name (e.g. an exported factory preset, whose name is taken)")
    imp.set_defaults(func=cmd_presets_change, ref=None)


def cmd_presets_list(args: argparse.Namespace) -> int:
    from rackhost.presets.store import PresetStore

    store = PresetStore()
    if args.stage and args.stage not in store.stages():
        raise RackhostError(f"--stage {args.stage!r}: no preset has this stage{_did_you_mean(args.stage, store.stages())}; "
                            f"stages: {', '.join(store.stages())}")
    entries = store.list(args.stage, args.tag, args.search)
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return 0
    stage = None
    for entry in entries:
        if entry.stage != stage:
            stage = entry.stage
            print(f"{stage}:")
        origin = "factory" if entry.factory else "user"
        print(f"  {entry.ref:<28} {origin:<8} {entry.description}")
    if not entries:
        print("no presets match")
    for problem in store.problems():
        print(f"warning: skipped {problem}", file=sys.stderr)
    return 0


def _did_you_mean(given: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(given.lower(), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def cmd_presets_show(args: argparse.Namespace) -> int:
    from rackhost.presets.store import PresetStore

    preset = PresetStore().load(args.ref)
    if args.json:
        print(json.dumps(preset.to_dict(), indent=2))
        return 0
    print(f"{preset.stage}/{preset.name} ({preset.kind} preset)")
    if preset.description:
        print(f"  {preset.description}")
    if preset.tags:
        print(f"  tags: {', '.join(preset.tags)}")
    if preset.loudness_target_lufs is not None:
        print(f"  loudness target: {preset.loudness_target_lufs:g} LUFS, true peak <= {preset.true_peak_ceiling_dbtp:g} dBTP")
    _print_slots(preset.slots, "  ")
    return 0


def _print_slots(states: list, indent: str) -> None:
    from rackhost.presets.preset import SplitState

    for i, slot in enumerate(states, 1):
        bypassed = " [bypassed]" if slot.bypass else ""
        if isinstance(slot, SplitState):
            named = "" if slot.name == "split" else f" {slot.name!r}"
            print(f"{indent}{i}. split{named}{bypassed}:")
            for k, branch in enumerate(slot.branches, 1):
                level = f"{branch.level_db:+g} dB"
                print(f"{indent}   branch {k} at {level}{'' if branch.slots else ': dry'}")
                _print_slots(branch.slots, indent + "      ")
            continue
        flags = "".join([bypassed, f" [mix {slot.mix:.0%}]" if slot.mix < 1 else ""])
        values = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in slot.parameters.items())
        print(f"{indent}{i}. {slot.plugin.get('name')}{flags}: {values or '(defaults)'}")


def cmd_presets_save(args: argparse.Namespace) -> int:
    from rackhost.chain import LoudnessTarget
    from rackhost.cli.chain_spec import parse_chain
    from rackhost.presets import load_session
    from rackhost.presets.apply import preset_from
    from rackhost.presets.preset import RestoreReport
    from rackhost.presets.preset_midi import capture_mappings
    from rackhost.presets.store import PresetStore

    what: object
    if args.chain and args.session:
        raise RackhostError("give either --chain SPEC or --session FILE, not both")
    if args.track and args.master:
        raise RackhostError(f"give either --track {args.track} or --master, not both")
    if args.chain:
        what = parse_chain(args.chain)
    elif args.session and (args.track or args.master):
        session = load_session(args.session, RestoreReport())
        what = session.master if args.master else _session_track(session, args.track)
    else:
        raise RackhostError("say what to save: --chain SPEC, or --session FILE with --track NAME or --master")
    if args.target_lufs is not None:
        if not hasattr(what, "loudness_target"):
            raise RackhostError("--target-lufs is for master presets: use --session FILE --master")
        what.loudness_target = LoudnessTarget(args.target_lufs, args.true_peak)  # type: ignore[attr-defined]
    if args.with_midi and not (args.session and (args.track or args.master)):
        raise RackhostError("--with-midi keeps a session's mappings: use it with --session FILE --track NAME or --master")
    midi = {"midi_mappings": capture_mappings(session, what)} if args.with_midi else {}
    preset = preset_from(args.name, args.stage, what, description=args.description,  # type: ignore[arg-type]
                         tags=args.tag, author=args.author, **midi)
    entry = PresetStore().save(preset, overwrite=args.overwrite)
    print(f"saved {entry.ref} to {entry.path}")
    return 0


def _export(store: object, ref: str, path: Path, overwrite: bool) -> Path:
    """``presets export``: refuse a folder, a missing folder or an unwritable place in one line."""
    if path.is_dir():
        raise RackhostError(f"FILE {str(path)!r} is a folder; give a file name, e.g. {str(path / 'preset.json')!r}")
    folder = path.parent if str(path.parent) else Path(".")
    if path.exists() and not overwrite:
        raise RackhostError(f"FILE {str(path)!r} exists; add --overwrite to replace it, or give another file name")
    if not folder.is_dir():
        raise RackhostError(f"FILE {str(path)!r}: folder {str(folder)!r} does not exist; create it first")
    try:
        return store.export(ref, path)  # type: ignore[attr-defined]
    except OSError as err:
        raise RackhostError(f"could not write {str(path)!r}: {err.strerror}; give a folder you can write to") from None


def _session_track(session: object, name: str) -> object:
    names = [t.name for t in session.tracks]  # type: ignore[attr-defined]
    if name not in names:
        raise RackhostError(f"--track {name!r}: the session has no such track; "
                            f"tracks: {', '.join(names) or '(none)'}")
    return session.track(name)  # type: ignore[attr-defined]


def cmd_presets_change(args: argparse.Namespace) -> int:
    from rackhost.presets.store import PresetStore

    store = PresetStore()
    if args.action == "export":
        refuse_overwrite(args.file, [store.find(args.ref).path], option="FILE")
    if args.action == "delete":
        entry = store.delete(args.ref)
        print(f"deleted {entry.ref} ({entry.path})")
    elif args.action == "export":
        print(f"exported {args.ref} to {_export(store, args.ref, Path(args.file), args.overwrite)}")
    elif args.action == "rename":
        print(f"renamed {args.ref} to {store.rename(args.ref, args.new_name).ref}")
    elif args.action == "duplicate":
        print(f"copied {args.ref} to {store.duplicate(args.ref, args.new_name).ref}")
    else:
        entry = store.import_file(Path(args.file), overwrite=args.overwrite, name=args.name)
        print(f"imported {entry.ref} to {entry.path}")
    return 0
