"""Post-render actions, run after a render's frames are verified: encode, copy, notify.

For a job's variant (``variant_actions``): encode the frames (``encode``), copy the result (``copy``), and the
caller notifies once the outcome is final. For ``aefarm render --encode PRESET --notify URL``
(``render_actions``): the movie goes beside the frames, named after the pattern without its frame token
(``/out/shot_[#####].png`` -> ``/out/shot.mp4``), and the run report is posted. An encode or copy that fails makes
the variant (or the render) fail: its deliverable is missing; a notification never does.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from engines.aftereffects.jobs.copy import copy_results
from engines.aftereffects.jobs.encode import DEFAULT_EXTENSION, encode
from engines.aftereffects.jobs.errors import JobError
from engines.aftereffects.jobs.notify import NotifyOutcome, post_json, run_command
from engines.aftereffects.jobs.records import Outcome
from engines.aftereffects.jobs.spec import JobSpec, NotifySpec
from engines.aftereffects.jobs.variants import Variant
from stmpo.outputs import OutputPattern

_TOKEN = re.compile(r"_?\[#+\]")


def result_files(variant: Variant, frames: List[int], comp: str) -> List[Path]:
    """What a variant delivers: its movie when it encodes one, else its frame files."""
    if variant.movie is not None:
        return [variant.movie]
    pattern = OutputPattern(variant.output, comp=comp)
    return [pattern.frame_path(f) for f in frames]


def variant_actions(spec: JobSpec, variant: Variant, outcome: Outcome, frames: List[int], comp: str,
                    fps: Optional[float], tools: Optional[Tuple[str, str]]) -> Dict[str, str]:
    """Encode and copy for one variant whose frames are verified; fills ``outcome``. Returns {copy: its source}.
    JobError when an action fails (the variant then failed: its deliverable is missing)."""
    if spec.encode is not None and variant.movie is not None:
        if fps is None:
            raise JobError("encode: the comp's frame rate could not be read from the template")
        if tools is None:
            raise JobError("encode: ffmpeg and ffprobe are needed (FFMPEG/FFPROBE or PATH)")
        result = encode(OutputPattern(variant.output, comp=comp), frames, fps, spec.encode.preset, variant.movie,
                        tools[0], tools[1], spec.encode.audio, spec.encode.crf)
        outcome.movie = result.to_json()
    copied_from: Dict[str, str] = {}
    if variant.copy_to is not None:
        sources = result_files(variant, frames, comp)
        for src, dst in zip(sources, copy_results(sources, variant.copy_to)):
            outcome.copied.append(str(dst))
            copied_from[str(dst)] = str(src)
    return copied_from


def notify_all(notify: Optional[NotifySpec], payload: Any, command: Optional[List[str]] = None) -> List[NotifyOutcome]:
    """Every notification the job asks for, with ``payload`` (never raises)."""
    out: List[NotifyOutcome] = []
    if notify is None:
        return out
    if notify.url:
        out.append(post_json(notify.url, payload, notify.retries, notify.timeout))
    argv = command or notify.command
    if argv:
        out.append(run_command(argv, payload, notify.retries, notify.timeout))
    return out


def movie_beside(output: str, comp: str, preset: str) -> Path:
    """Where ``aefarm render --encode`` writes the movie: beside the frames, named after the pattern."""
    pattern = OutputPattern(output, comp=comp)
    stem = os.path.splitext(pattern._fill_static(pattern.name))[0]
    stem = _TOKEN.sub("", stem).rstrip("_. ") or "movie"
    return pattern.folder / (stem + DEFAULT_EXTENSION[preset])


def render_actions(job: Any, report: Any, reporter: Any, fps: Optional[float]) -> Tuple[bool, Dict[str, Any]]:
    """``aefarm render --encode/--notify`` after the run: (ok, what was done). ok is False only when an encode
    failed (the movie asked for is missing); the notification's outcome is reported, never a failure."""
    done: Dict[str, Any] = {}
    ok = True
    if job.encode and report.ok:
        from stmpo.movies import find_ffmpeg

        dst = movie_beside(job.output, job.comp or job.comp_name or "", job.encode)
        try:
            tools = find_ffmpeg(job.options.ffmpeg)
            if fps is None:
                raise JobError("the comp's frame rate could not be read from the project")
            pattern = OutputPattern(job.output, comp=job.comp or job.comp_name or "")
            result = encode(pattern, list(job.frames), fps, job.encode, dst, tools[0], tools[1])
            done["movie"] = result.to_json()
            reporter.message(f"encode: wrote and verified {dst} ({result.frames} frames, {job.encode})")
        except Exception as exc:  # noqa: BLE001 - any failure is this action's, reported in one line
            ok = False
            done["encode_error"] = " ".join(str(exc).split())
            reporter.message(f"encode: FAILED: {done['encode_error']}")
    if job.notify:
        payload = dict(report.to_json(), actions=done, ok=bool(report.ok and ok))
        outcome = post_json(job.notify, payload)
        done["notify"] = [outcome.to_json()]
        state = "sent" if outcome.ok else f"FAILED after {outcome.attempts} attempts: {outcome.error}"
        reporter.message(f"notify: {job.notify}: {state}")
    return ok, done
