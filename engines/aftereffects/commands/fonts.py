"""`aefarm fonts collect|install|remove|list`: a project's fonts, gathered on the workstation, installed on nodes.

`install` prints a token that holds the fonts until `aefarm fonts remove TOKEN` (a script's next line, another
process, a later job step): nothing is released behind its back. `install --owner-pid PID` asks for crash-safe
release instead: the reference belongs to process PID (e.g. the job's shell, `$$`), and once that process has ended
the next fonts call on the host collects it, so a job that dies without removing its fonts does not pin them.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Sequence

from fonts.errors import FontError


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("fonts", parents=parents, help="collect, install and remove project fonts",
                                   description=__doc__.split("\n\n")[0])
    actions = parser.add_subparsers(dest="fonts_action", metavar="ACTION")
    actions.required = True

    collect = actions.add_parser("collect", parents=parents, help="copy the fonts named into a folder")
    collect.add_argument("names", nargs="*", metavar="NAME",
                         help="PostScript name, full name, family, or a font file path")
    collect.add_argument("--from", dest="from_file", metavar="FILE",
                         help="read names from FILE (one per line, or a JSON list), or the fonts an After "
                              "Effects XML project (.aepx) uses")
    collect.add_argument("--search", action="append", metavar="DIR",
                         help="search DIR (repeatable; default: the OS, user and Adobe Fonts folders)")
    collect.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to copy the fonts into")
    collect.set_defaults(func=_collect)

    install = actions.add_parser("install", parents=parents, help="install a folder of fonts; prints a token")
    install.add_argument("folder", metavar="DIR", help="folder of font files (.ttf, .otf, .ttc ...)")
    owner = install.add_mutually_exclusive_group()
    owner.add_argument("--owner-pid", type=_pid, metavar="PID",
                       help="crash-safe: release the fonts once process PID has ended (e.g. the job's shell, $$), "
                            "even when nobody runs `fonts remove`")
    owner.add_argument("--keep", action="store_true",
                       help="hold the fonts until `aefarm fonts remove TOKEN` (the default; kept for scripts)")
    install.set_defaults(func=_install)

    remove = actions.add_parser("remove", parents=parents, help="release the fonts of an install token")
    remove.add_argument("token", metavar="TOKEN", help="the token `fonts install` printed")
    remove.set_defaults(func=_remove)

    listing = actions.add_parser("list", parents=parents, help="fonts installed by aefarm on this host")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_list)
    return parser


def _pid(text: str) -> int:
    """A process id that exists now (the fonts are held until it ends)."""
    import psutil

    try:
        pid = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a process id, got {text!r}") from None
    if pid < 1 or not psutil.pid_exists(pid):
        raise argparse.ArgumentTypeError(f"no process {text} is running")
    return pid


def _project_fonts(path: str) -> List[str]:
    """The fonts the text layers of the .aepx at ``path`` use (PostScript names); [] when it is not a project file
    (a font list). A binary .aep cannot be read: one line saying so (exit 2)."""
    from aeproject.reader import project_kind, read_project

    try:
        kind = project_kind(path)
    except Exception:  # noqa: BLE001 - not a readable file: read_font_list names why
        return []
    if kind == "aep":
        raise FontError(f"--from {path}: a binary .aep: its fonts cannot be read here; save it as .aepx, or give a "
                        "list of font names")
    if kind != "aepx":
        return []
    fonts = read_project(path).fonts
    if not fonts:
        raise FontError(f"--from {path}: the project's text layers use no fonts")
    return list(fonts)


def _collect(args: argparse.Namespace) -> int:
    from fonts.collect import copy_matches, find_fonts, read_font_list

    names: List[str] = list(args.names)
    if args.from_file:
        names.extend(_project_fonts(args.from_file) or read_font_list(args.from_file))
    if not names:
        raise FontError("no fonts requested: give NAME arguments or --from FILE")
    matches = find_fonts(names, args.search)
    folder = copy_matches(matches, args.output)
    for match in matches:
        faces = ", ".join(face.postscript_name for face in match.font.faces)
        print(f"{match.request}\t{match.font.path}\t{faces}", file=sys.stderr)
    print(folder)
    return 0


def _install(args: argparse.Namespace) -> int:
    from fonts.install import install

    owner = args.owner_pid
    token = install(args.folder, owner_pid=owner, persistent=owner is None)
    print(token)
    return 0


def _remove(args: argparse.Namespace) -> int:
    from fonts.install import remove

    remove(args.token, missing_ok=False)
    return 0


def _list(args: argparse.Namespace) -> int:
    from fonts.install import list_installed

    fonts = list_installed()
    if args.json:
        print(json.dumps([{"path": str(f.path), "sha256": f.sha256, "postscript_names": list(f.postscript_names),
                           "families": list(f.families), "owned": f.owned, "tokens": list(f.tokens)}
                          for f in fonts], indent=1))
        return 0
    for font in fonts:
        print(f"{font.path}\t{', '.join(font.postscript_names)}\trefs={len(font.tokens)}"
              + ("" if font.owned else "\t(user's own file)"))
    return 0
