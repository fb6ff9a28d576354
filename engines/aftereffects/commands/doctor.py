"""`aefarm doctor`: what this host offers a render, and where each tool was found (or every place it was looked for).

Exit codes (a pipeline uses doctor as a probe before sending renders to a host):
- 0: aerender was found (ffmpeg and fontconfig are reported but optional: only movie outputs need ffmpeg, only Linux
  font installs need fontconfig);
- 3 (``MISSING_INPUT``): no aerender, so this host cannot render; 1 stays reserved for internal errors;
- 2: bad arguments (e.g. an unreadable `--numa-map`).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Any, Dict, List, Optional

from aefarm_common import exitcodes
from stmpo.aerender import find_aerender
from stmpo.affinity import affinity_support
from stmpo.host import Host, detect_host, format_cpus, load_numa_map

GIB = 1024 ** 3


def add_parser(subparsers: Any, parents: List[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "doctor", parents=parents, help="show aerender, CPUs, memory, NUMA, affinity, ffmpeg and fontconfig here",
        description="Show what this host offers a render and where aerender was found (and every place tried). "
                    "Exit 0 when aerender was found, 3 when not.")
    parser.add_argument("--aerender", metavar="PATH", help="aerender to check (file, install folder or command name)")
    parser.add_argument("--numa-map", metavar="FILE", help="NUMA topology JSON to use instead of detection")
    parser.add_argument("--ffmpeg", metavar="PATH", help="ffmpeg to check (default: FFMPEG, then PATH)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=run)
    return parser


def _find_tool(name: str, explicit: Optional[str] = None, env_var: Optional[str] = None) -> Dict[str, Any]:
    """A small tool by explicit path (`--<name>`), then its environment variable, then PATH."""
    for source, value in ((f"--{name}", explicit), (env_var, os.environ.get(env_var) if env_var else None)):
        if value:
            path = shutil.which(value)
            return {"path": path, "source": source, "found": path is not None,
                    "note": None if path else f"{source} {value} is not an executable"}
    path = shutil.which(name)
    return {"path": path, "source": "PATH" if path else None, "found": path is not None,
            "note": None if path else f"no {name} on PATH"}


def _fontconfig(os_name: str) -> Dict[str, Any]:
    fc_list = shutil.which("fc-list")
    needed = os_name == "linux"
    return {"found": fc_list is not None, "fc_list": fc_list, "fc_cache": shutil.which("fc-cache"),
            "needed": needed}


def collect(args: argparse.Namespace) -> Dict[str, Any]:
    host: Host = detect_host()
    topology_source = "detected"
    if args.numa_map:
        host = host.with_numa_nodes(load_numa_map(args.numa_map))
        topology_source = f"--numa-map {args.numa_map}"
    discovery = find_aerender(args.aerender)
    supported, why = affinity_support(host.os)
    return {
        "ok": discovery.found,
        "aerender": discovery.to_dict(),
        "host": dict(host.to_dict(), topology_source=topology_source),
        "affinity": {"supported": supported, "why": why},
        "ffmpeg": _find_tool("ffmpeg", args.ffmpeg, "FFMPEG"),
        "ffprobe": _find_tool("ffprobe"),
        "fontconfig": _fontconfig(host.os),
    }


def render_text(report: Dict[str, Any]) -> List[str]:
    aer = report["aerender"]
    lines = []
    if aer["path"]:
        version = aer["version"] or "version unknown"
        lines.append(f"aerender: {aer['path']} (from {aer['source']}, {version})")
    else:
        lines.append("aerender: NOT FOUND")
    for item in aer["tried"]:
        lines.append(f"  tried {item['place']}: {item['result']}")
    host = report["host"]
    lines.append(f"host: {host['os']}, {host['logical_cpus']} logical CPUs, {host['total_memory'] / GIB:.1f} GiB "
                 f"memory, {host['available_memory'] / GIB:.1f} GiB available")
    nodes = host["numa_nodes"]
    lines.append(f"NUMA nodes: {len(nodes)} ({host['topology_source']})")
    for index, node in enumerate(nodes):
        lines.append(f"  node {index}: CPUs {format_cpus(node)}")
    if host["processor_groups"] is not None:
        lines.append(f"processor groups: {len(host['processor_groups'])}")
        for index, group in enumerate(host["processor_groups"]):
            lines.append(f"  group {index}: CPUs {format_cpus(group)}")
    aff = report["affinity"]
    lines.append(f"affinity: {'supported' if aff['supported'] else 'not supported'} ({aff['why']})")
    for name in ("ffmpeg", "ffprobe"):
        tool = report[name]
        lines.append(f"{name}: {tool['path']} (from {tool['source']})" if tool["found"]
                     else f"{name}: not found ({tool['note']}; needed only for movie outputs)")
    font = report["fontconfig"]
    if font["found"]:
        lines.append(f"fontconfig: {font['fc_list']}")
    else:
        lines.append("fontconfig: not found" + (" (needed to install fonts on Linux)" if font["needed"]
                                                 else " (not needed on this OS)"))
    lines.append("ready to render" if report["ok"] else "NOT ready: no aerender (pass --aerender or set AERENDER_PATH)")
    return lines


def run(args: argparse.Namespace) -> int:
    report = collect(args)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(render_text(report)) + "\n")
    return exitcodes.OK if report["ok"] else exitcodes.MISSING_INPUT
