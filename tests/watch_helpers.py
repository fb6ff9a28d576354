"""Hand-built run reports (the JSON schema of stmpo.run.RunReport.to_json) for the render-watch tests."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

T0 = 1_700_000_000.0


def invocation(pid: int, frames: str, start: float, end: Optional[float], exit_code: Optional[int] = 0,
               fatal: Optional[str] = None, stalled: Optional[str] = None, rendering: Optional[float] = None) -> dict:
    inv = {"pid": pid, "frames": frames, "argv": ["aerender"], "start": T0 + start,
           "end": None if end is None else T0 + end, "exit_code": exit_code, "fatal": fatal, "stalled": stalled}
    if rendering is not None:
        inv["rendering"] = T0 + rendering
    return inv


def chunk(number: int, slot: int, invocations: Sequence[dict], frame_at: Dict[int, tuple], retry: bool = False,
          status: str = "done", reason: str = "", frames: str = "") -> dict:
    """``frame_at``: frame -> (seconds after T0 of its progress line, pid[, aerender's seconds])."""
    times = {str(f): {"seconds": (v[2] if len(v) > 2 else 0.0), "at": T0 + v[0], "pid": v[1]}
             for f, v in frame_at.items()}
    return {"chunk": number, "slot": slot, "frames": frames, "final_frames": frames, "stolen_after": None,
            "retry": retry, "retries_before": 1 if retry else 0, "status": status, "reason": reason,
            "start": invocations[0]["start"] if invocations else None,
            "end": invocations[-1]["end"] if invocations else None,
            "pid": invocations[0]["pid"] if invocations else None,
            "exit_code": invocations[-1]["exit_code"] if invocations else None,
            "invocations": list(invocations), "frame_times": times, "logs": []}


def report(chunks: List[dict], frames: str, concurrency: int, wall: float, missing: str = "", missing_count: int = 0,
           ok: bool = True, cancelled: bool = False, output: str = "/nonexistent/out/[compName]_[#####].png") -> dict:
    return {"ok": ok, "cancelled": cancelled, "reason": "", "summary": "rendered" if ok else "FAILED",
            "frames": frames, "output": output, "missing": missing, "missing_count": missing_count, "skipped": "",
            "plan": {"concurrency": concurrency, "cpu_blocks": None, "explanation": ["concurrency = 2"],
                     "warnings": []},
            "started": T0, "ended": T0 + wall, "chunks": chunks, "staging_kept": [], "join": None}


def faulty_report() -> dict:
    """Two slots, frames 1-8: chunk 1 (slot 0) crashes after frame 2, chunk 2 (slot 1) stalls after frame 6 and is
    killed by the watchdog, chunk 3 retries 3-4 on slot 0, chunk 4 retries 7-8 on slot 1 and is stopped by the
    scheduler at its end (a steal victim), every frame delivered."""
    c1 = chunk(1, 0, [invocation(101, "1-4", 0.0, 3.0, exit_code=1, fatal="aerender ERROR: crashed", rendering=1.0)],
               {1: (1.5, 101), 2: (2.0, 101)}, status="failed", reason="aerender ERROR: crashed", frames="1-4")
    c2 = chunk(2, 1, [invocation(102, "5-8", 0.0, 6.0, exit_code=-15, stalled="stalled: no progress line for 3 s",
                                 rendering=1.0)],
               {5: (1.5, 102), 6: (2.3, 102)}, status="failed", reason="stalled: no progress line for 3 s",
               frames="5-8")
    c3 = chunk(3, 0, [invocation(103, "3-4", 3.1, 5.2, rendering=4.0)], {3: (4.5, 103), 4: (5.0, 103)},
               retry=True, frames="3-4")
    c4 = chunk(4, 1, [invocation(104, "7-8", 6.1, 8.0, exit_code=-15, rendering=7.0)],
               {7: (7.5, 104), 8: (7.9, 104)}, retry=True, status="done",
               reason="stopped: reached the end of its shrunk assignment", frames="7-8")
    return report([c1, c2, c3, c4], "1-8", 2, wall=8.2)
