"""`aefarm frames`: show, chunk and slice a frame spec the way the farms will see it.

Output formats (stdout):
- accsyn (default): the accsyn form of the selected frames on one line, e.g. `-3--1,1-96x5,200`; with
  --chunk-size/--chunks one line per chunk. --chunk-size K gives exactly the tasks Deadline Cloud's TASK_CHUNKING
  makes of the range in our templates (CONTIGUOUS: runs of consecutive frames, each split into ceil(n/K) chunks of
  balanced sizes, computed by openjd-model; see `engines/aftereffects/task_chunks.py`); --chunks N gives N balanced
  slices of the sorted frames. At most CHUNK_LIMIT chunks are printed. An empty selection (an array member with no
  share) prints nothing.
- openjd: the same, as Open Job Description range expressions (`1-96:5,200`).
- list: one frame per line, ascending; refused for more than LIST_LIMIT frames and with chunking.
- json: one object {"spec", "openjd", "count", "first", "last"} (first/last null when empty), plus
  "array": {"index", "size"} when slicing and "chunks": [{"spec", "openjd", "count", "first", "last"}, ...] when
  chunking. Never a list of frames, so huge ranges stay instant.
A SPEC starting with '-' (negative frames, `-10--1`) works as is or after `--`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, Iterable, Optional, Sequence

from engines.aftereffects.task_chunks import task_chunks
from stmpo.errors import FrameSpecError
from stmpo.frames import FrameSet, aws_batch_slice_from_env

LIST_LIMIT = 1_000_000
CHUNK_LIMIT = 1_000_000
FORMATS = ("accsyn", "openjd", "list", "json")


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "frames", parents=list(parents), help="parse, chunk and slice a frame spec",
        description="Parse a frame spec (accsyn `1-100x5, 200 -3--1` or OpenJD `1-100:5`, `10-1:-3`) and print it, "
                    "optionally chunked or sliced for one AWS Batch array member.")
    # `-10--1` is a value, not an unknown option: every aefarm parser treats '-<digit>' as a value (cli.py).
    parser.add_argument("spec", metavar="SPEC", help="frame spec; quote it when it contains spaces")
    chunking = parser.add_mutually_exclusive_group()
    chunking.add_argument("--chunk-size", type=int, metavar="K",
                          help="the chunks of K frames Deadline Cloud's TASK_CHUNKING makes (CONTIGUOUS)")
    chunking.add_argument("--chunks", type=int, metavar="N", help="N balanced slices of the frames")
    parser.add_argument("--array-index", type=int, metavar="I", help="0-based array member (needs --array-size)")
    parser.add_argument("--array-size", type=int, metavar="N", help="number of array members")
    parser.add_argument("--aws-batch", action="store_true",
                        help="take the array member from AWS_BATCH_JOB_ARRAY_INDEX / AWS_BATCH_JOB_ARRAY_SIZE")
    parser.add_argument("--format", choices=FORMATS, default="accsyn", help="output format (default accsyn)")
    parser.set_defaults(func=run)
    return parser


def _summary(frames: FrameSet) -> Dict[str, Any]:
    return {
        "spec": frames.to_accsyn(),
        "openjd": frames.to_openjd(),
        "count": len(frames),
        "first": frames.first if frames else None,
        "last": frames.last if frames else None,
    }


def _array_member(args: argparse.Namespace) -> Optional[tuple]:
    explicit = args.array_index is not None or args.array_size is not None
    if args.aws_batch and explicit:
        raise FrameSpecError("--aws-batch cannot be combined with --array-index/--array-size")
    if args.aws_batch:
        return aws_batch_slice_from_env(os.environ)
    if explicit:
        if args.array_index is None or args.array_size is None:
            raise FrameSpecError("--array-index and --array-size must be given together")
        return args.array_index, args.array_size
    return None


def select(args: argparse.Namespace) -> Dict[str, Any]:
    """Everything `run` prints, computed without output so it can be tested directly."""
    frames = FrameSet.parse(args.spec)
    member = _array_member(args)
    if member is not None:
        frames = frames.slice(*member)
    chunks: Optional[Iterable[FrameSet]] = None
    if args.chunk_size is not None:
        if args.chunk_size < 1:
            raise FrameSpecError(f"chunk size must be >= 1, got {args.chunk_size}")
        most = sum(-(-run.count // args.chunk_size) if run.step == 1 else run.count for run in frames.runs)
        if most > CHUNK_LIMIT:  # an upper bound: neighbouring runs may still join
            raise FrameSpecError(f"refusing to print up to {most} chunks (limit {CHUNK_LIMIT}); "
                                 "use a larger --chunk-size")
        chunks = task_chunks(frames, args.chunk_size)
    elif args.chunks is not None:
        chunks = frames.chunks(count=args.chunks)
    return {"frames": frames, "member": member, "chunks": chunks}


def run(args: argparse.Namespace) -> int:
    chosen = select(args)
    frames: FrameSet = chosen["frames"]
    chunks: Optional[Iterable[FrameSet]] = chosen["chunks"]
    out = sys.stdout
    if args.format == "json":
        doc = _summary(frames)
        if chosen["member"] is not None:
            doc["array"] = {"index": chosen["member"][0], "size": chosen["member"][1]}
        if chunks is not None:
            doc["chunks"] = [_summary(c) for c in chunks]
        out.write(json.dumps(doc) + "\n")
    elif args.format == "list":
        if chunks is not None:
            raise FrameSpecError("--format list prints frames, not chunks: use accsyn, openjd or json with chunking")
        if len(frames) > LIST_LIMIT:
            raise FrameSpecError(f"refusing to list {len(frames)} frames (limit {LIST_LIMIT}); "
                                 f"use --format accsyn, openjd or json")
        out.writelines(f"{frame}\n" for frame in frames)
    else:
        render = FrameSet.to_accsyn if args.format == "accsyn" else FrameSet.to_openjd
        for piece in (chunks if chunks is not None else [frames]):
            if piece:
                out.write(render(piece) + "\n")
    out.flush()
    return 0
