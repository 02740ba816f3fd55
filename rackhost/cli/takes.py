"""``rackhost takes``: list a session's recorded takes, play one on its track, rename or delete one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rackhost.cli.args import text
from rackhost.errors import RackhostError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    takes = sub.add_parser("takes", help="list, use, rename and delete the takes recorded for a session's tracks")
    tsub = takes.add_subparsers(dest="action", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("session", metavar="SESSION", type=text("a session file"))
        p.add_argument("--folder", type=text("a takes folder"),
                       help="where the takes are (default: the 'takes' folder beside SESSION, where the window "
                            "records)")

    ls = tsub.add_parser("list", help="each track's takes: name, length, which one the track plays")
    common(ls)
    ls.add_argument("--track", type=text("a track name"), help="only this track's takes")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_takes_list)

    use = tsub.add_parser("use", help="make a take the track's audio file and save SESSION")
    common(use)
    use.add_argument("track", metavar="TRACK", type=text("a track name"))
    use.add_argument("take", metavar="TAKE", type=text("a take: its name, take003 or 3"))
    use.add_argument("--printed", action="store_true",
                     help="play the wet take (the chain's sound as recorded) instead of the dry one")
    use.set_defaults(func=cmd_takes_use)

    rename = tsub.add_parser("rename", help="rename a take's dry and wet files (a track playing it follows)")
    common(rename)
    rename.add_argument("track", metavar="TRACK", type=text("a track name"))
    rename.add_argument("take", metavar="TAKE", type=text("a take: its name, take003 or 3"))
    rename.add_argument("name", metavar="NEW_NAME", type=text("a new name"))
    rename.set_defaults(func=cmd_takes_rename)

    delete = tsub.add_parser("delete", help="delete a take's dry and wet files (refused while a track plays it)")
    common(delete)
    delete.add_argument("track", metavar="TRACK", type=text("a track name"))
    delete.add_argument("take", metavar="TAKE", type=text("a take: its name, take003 or 3"))
    delete.set_defaults(func=cmd_takes_delete)
    return takes


def _folder(args: argparse.Namespace) -> Path:
    from rackhost.chain.takes import takes_folder

    return Path(args.folder) if args.folder else takes_folder(args.session)


def _load(args: argparse.Namespace):
    from rackhost.presets import load_session

    if not Path(args.session).is_file():
        raise RackhostError(f"session file {args.session!r} does not exist; check the path")
    return load_session(args.session)


def _track(session, name: str):
    for track in session.tracks:
        if track.name == name:
            return track
    names = ", ".join(t.name for t in session.tracks) or "none"
    raise RackhostError(f"the session has no track {name!r}; its tracks: {names}")


def cmd_takes_list(args: argparse.Namespace) -> int:
    import os

    from rackhost.chain.takes import list_takes

    session = _load(args)
    tracks = [_track(session, args.track)] if args.track else session.tracks
    folder = _folder(args)
    listing = {}
    for track in tracks:
        playing = os.path.abspath(track.source.path) if getattr(track.source, "path", None) is not None else None
        rows = []
        for take in list_takes(folder, track.name):
            rows.append({"name": take.name, "number": take.number, "seconds": round(take.seconds(), 3),
                         "dry": str(take.dry) if take.dry else None, "wet": str(take.wet) if take.wet else None,
                         "playing": playing in {os.path.abspath(p) for p in take.files}})
        listing[track.name] = rows
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    print(f"takes in {folder}")
    for name, rows in listing.items():
        if not rows:
            print(f"{name}: no takes")
            continue
        print(f"{name}:")
        for row in rows:
            print(f"  {row['name']}  {'(playing) ' if row['playing'] else ''}{row['seconds']:.2f} s")
    return 0


def cmd_takes_use(args: argparse.Namespace) -> int:
    from rackhost.chain.takes import find_take, use_take
    from rackhost.presets import save_session

    session = _load(args)
    track = _track(session, args.track)
    take = find_take(_folder(args), track.name, args.take)
    use_take(session.edit, track, take, printed=args.printed)
    save_session(session, args.session)
    print(f"track {track.name!r} plays {take.name} ({take.path(args.printed).name}); saved {args.session}")
    return 0


def cmd_takes_rename(args: argparse.Namespace) -> int:
    from rackhost.chain.takes import find_take, rename_take, used_by
    from rackhost.presets import save_session

    session = _load(args)
    track = _track(session, args.track)
    take = find_take(_folder(args), track.name, args.take)
    playing = used_by(session.tracks, take)
    renamed = rename_take(take, args.name, session.tracks)
    if playing:  # the session names the file: it must name it anew
        save_session(session, args.session)
    print(f"renamed {take.name} to {renamed.name}: {', '.join(p.name for p in renamed.files)}"
          + (f"; saved {args.session}" if playing else ""))
    return 0


def cmd_takes_delete(args: argparse.Namespace) -> int:
    from rackhost.chain.takes import delete_take, find_take

    session = _load(args)
    track = _track(session, args.track)
    take = find_take(_folder(args), track.name, args.take)
    delete_take(take, session.tracks)
    print(f"deleted {take.name}: {', '.join(p.name for p in take.files)}")
    return 0
