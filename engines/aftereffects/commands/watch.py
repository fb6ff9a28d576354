"""`aefarm watch`: serve the live page of a render report, or a board of every render report in a folder.

Read-only: it reads report and frame files and never controls a render. It binds to 127.0.0.1 on a free port and
prints the address on its first line (``aefarm watch: http://127.0.0.1:PORT/ ...``); ``--bind ADDR`` serves on
another address (every host that reaches it can then read the reports) and ``--port N`` on a chosen port. Pages
refresh every two seconds while a render runs. Ctrl-C stops it (exit 0). Exit 2: the target does not exist, is a file
that is not a JSON run report, or the address cannot be bound.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from aefarm_common import exitcodes
from engines.aftereffects.commands._argtypes import whole_number
from stmpo.errors import StmpoError


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "watch", parents=list(parents), help="serve live pages of render reports (read-only)",
        description="Serve the live page of a render's JSON report (--report), or a render-watch board of every "
                    "report in a folder: status, progress, elapsed, ETA and children per run, refreshing as the "
                    "renders progress. Read-only.")
    parser.add_argument("target", metavar="REPORT_OR_FOLDER", help="a --report JSON file, or a folder of them")
    parser.add_argument("--bind", default="127.0.0.1", metavar="ADDR",
                        help="address to serve on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=whole_number(0, 65535), default=0, metavar="N",
                        help="port (default 0: a free port, printed)")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from stmpo.watch.server import WatchServer, is_loopback

    target = Path(args.target)
    if not target.exists():
        raise StmpoError(f"watch: {target}: no such report or folder")
    if not target.is_dir():
        from stmpo.watch.board import read_report

        _, why = read_report(target)
        if why:  # a project, a log, a truncated file: the page could only ever answer 503
            raise StmpoError(f"watch: {target}: not a JSON run report ({why}); give a --report file or a folder")
    try:
        server = WatchServer(target, (args.bind, args.port), quiet=not args.verbose)
    except OSError as exc:
        raise StmpoError(f"watch: cannot serve on {args.bind}:{args.port}: {exc.strerror or exc}") from None
    kind = "folder" if target.is_dir() else "report"
    print(f"aefarm watch: {server.url} ({kind} {server.target}; read-only; Ctrl-C stops)", flush=True)
    if not is_loopback(args.bind):
        print(f"aefarm watch: warning: serving on {args.bind}: every host that reaches it can read these reports",
              file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return exitcodes.OK
