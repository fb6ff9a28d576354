"""`aefarm job run|check|offers`: template jobs, data-driven variants of one project (README "Template jobs").

- ``run JOB.json``: check the job, write each row's variant, render them through one shared pool of aerender
  children, run the post-render actions, report every variant. Exit 0 all delivered (or skipped: delivered
  before), 2 bad job file/rows/template (one line, nothing written), 4 a variant failed, 130 cancelled.
- ``check JOB.json``: everything ``run`` checks before writing, and what each variant would be; writes nothing.
  Exit 0 when every selected row can render, else 2 (one line per problem).
- ``offers TEMPLATE``: what the template offers a job file for replacement.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Sequence

from aefarm_common import exitcodes
from stmpo.progress import REPORTER_KINDS

if TYPE_CHECKING:
    from engines.aftereffects.jobs.batch import RunRequest


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "job", parents=list(parents), help="template jobs: data-driven variants of a project, in batches",
        description="Render a job file: one template project, a batch of rows, each row a variant (footage "
                    "swapped, layer names set, expression literals and data files replaced, byte-exactly), "
                    "rendered through one pool of aerender children, then encoded, copied and notified.")
    actions = parser.add_subparsers(dest="job_action", metavar="ACTION")
    actions.required = True

    run = actions.add_parser("run", parents=list(parents), help="render a job file's variants",
                             description="Check, write, render (one shared pool), act on and report every variant.")
    _common(run)
    run.add_argument("--progress", choices=REPORTER_KINDS, default="auto", help="progress format")
    run.add_argument("--report", metavar="FILE", help="write the batch report (JSON) here")
    run.add_argument("--log-dir", metavar="DIR", help="per-child log files (default: a temporary folder)")
    run.add_argument("--force", action="store_true", help="render variants delivered before again")
    run.set_defaults(func=_run)

    check = actions.add_parser("check", parents=list(parents), help="check a job file; write nothing",
                               description="Check the job file, its rows and its template, and plan every "
                                           "variant, writing nothing.")
    _common(check)
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(func=_check)

    offers = actions.add_parser("offers", parents=list(parents), help="what a template offers for replacement",
                                description="List a template's footage items, data files, layer names and "
                                            "expression literals: what a job file's replace block can name.")
    offers.add_argument("template", metavar="TEMPLATE", help="the template project (.aepx)")
    offers.add_argument("--json", action="store_true", help="print one JSON object")
    offers.set_defaults(func=_offers)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job_file", metavar="JOB.json", help="the job file")
    parser.add_argument("--rows", metavar="N", help="only these rows (numbers: 3, 1-5, 1-20x2)")
    parser.add_argument("--rules", metavar="FILE",
                        help="path-mapping rules of this node (OpenJD pathmapping-1.0; a farm task's), applied to "
                             "the job file's paths and the variants' footage")
    parser.add_argument("--variants-dir", metavar="DIR",
                        help="write variant projects and data files here (default: the job's variants_dir, else "
                             "the per-user work folder)")
    parser.add_argument("--output-dir", metavar="DIR", help="instead of the job file's output_dir (a farm's mapped "
                                                            "output folder)")
    parser.add_argument("--aerender", metavar="PATH", help="instead of the job file's aerender option (empty: keep)")


def _request(args: argparse.Namespace) -> "RunRequest":
    from engines.aftereffects.jobs.batch import RunRequest
    from remap.rules import RuleSet

    rules = RuleSet.from_openjd_file(args.rules) if getattr(args, "rules", None) else None
    report = getattr(args, "report", None)
    if report and os.path.isdir(report):
        from engines.aftereffects.jobs.errors import JobError

        raise JobError(f"--report {report}: is a folder, expected a file")
    return RunRequest(job_file=Path(args.job_file), rows=args.rows, progress=getattr(args, "progress", "log"),
                      report=Path(report).resolve() if report else None,
                      log_dir=Path(args.log_dir) if getattr(args, "log_dir", None) else None, node_rules=rules,
                      variants_dir=Path(args.variants_dir) if args.variants_dir else None,
                      output_dir=Path(args.output_dir) if args.output_dir else None,
                      aerender=args.aerender or None, force=bool(getattr(args, "force", False)))


def _run(args: argparse.Namespace) -> int:
    from engines.aftereffects.jobs.batch import run_batch
    from engines.aftereffects.render import default_log_dir

    request = _request(args)
    if request.log_dir is None:
        request.log_dir = default_log_dir()
    return run_batch(request)


def _check(args: argparse.Namespace) -> int:
    from engines.aftereffects.jobs.batch import check

    checked = check(_request(args))
    try:
        spec = checked.spec
        variants: List[Dict[str, Any]] = [
            {"row": v.row.number, "id": v.row.id, "project": str(v.project), "output": v.output,
             "movie": str(v.movie) if v.movie else None, "copy_to": str(v.copy_to) if v.copy_to else None,
             "changes": [c.to_json() for c in v.changes], "inputs": v.inputs} for v, _ in checked.variants]
        problems = [{"row": o.number, "id": o.id, "reason": o.reason} for o in checked.failed]
        if args.json:
            sys.stdout.write(json.dumps({"job": str(spec.path), "template": str(spec.template),
                                         "comp": spec.comp, "rqindex": spec.rqindex, "frames": str(spec.frames),
                                         "rows": len(checked.rows), "variants": variants, "problems": problems,
                                         "warnings": checked.warnings}, indent=2, ensure_ascii=False) + "\n")
        elif not problems:  # a refused job prints only its errors (stdout stays empty, as for all bad input)
            target = f"comp {spec.comp!r}" if spec.comp is not None else f"render-queue item {spec.rqindex}"
            print(f"job {spec.path}: template {spec.template}, {target}, frames {spec.frames}, "
                  f"{len(checked.rows)} rows")
            for line in checked.warnings:
                print(f"warning: {line}")
            for v in variants:
                movie = f", movie {v['movie']}" if v["movie"] else ""
                print(f"  row {v['row']} (id {v['id']}): {len(v['changes'])} changes -> {v['output']}{movie}")
        for problem in problems:
            print(f"aefarm: error: {problem['reason']}", file=sys.stderr)
        return exitcodes.BAD_INPUT if problems else exitcodes.OK
    finally:
        checked.template.close()


def _offers(args: argparse.Namespace) -> int:
    from aeproject.offers import offers_lines, template_offers
    from aeproject.reader import read_project

    project = read_project(args.template)
    with open(args.template, "rb") as handle:
        def read(start: int, end: int) -> bytes:
            handle.seek(start)
            return handle.read(end - start)

        offers = template_offers(project, read)
    if args.json:
        sys.stdout.write(json.dumps(offers, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in offers_lines(offers)))
    return exitcodes.OK
