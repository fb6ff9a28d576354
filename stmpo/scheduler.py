"""Which chunk of frames renders where: a pure state machine, no processes, no clock of its own.

Why a state machine over plain data: every scheduling decision (initial split, work stealing, retries, fail-fast,
the end of the run) can then be tested exhaustively without starting a process, and the executor (`stmpo.run`) only
turns events from real aerender children into calls and the returned actions into effects.

Model (close to pytest-xdist's load scheduler, adapted to aerender):

- A *chunk* occupies one *slot* (a CPU block of the plan) and is an ordered, contiguous *assignment* of frames,
  rendered from first to last by aerender invocations: After Effects caches across neighbouring frames, and every
  aerender child pays seconds of start-up, so chunks are never tiny (``min_chunk``).
- ``dynamic`` (default): the frames start as an equal contiguous split over the slots. When a slot falls idle and
  another chunk still has a long remainder, a new chunk takes the *back* part of that remainder and the victim's
  assignment shrinks; the victim is told where it now ends (``StopAfter``) and is killed (``Kill``) once its last frame
  is verified, since aerender cannot be told to stop early. The split point accounts for the start-up the thief must
  pay and the victim has already paid, using rates measured from the events' timestamps.
- Hand-off (dynamic, ``handoff=True``): a chunk that will be done within one start-up (measured rate x frames
  left) lets a thief start in its slot *now*, on measured rates only, so the thief's start-up overlaps the end of
  that chunk instead of following it. A slot then briefly holds two chunks (one finishing, one starting): the
  price of hiding seconds of start-up per steal. ``tick(now)`` gives the scheduler the chance between events.
- ``static``: the equal split only (the old tool's behaviour, kept for comparison).
- A chunk that fails or stalls gives its unverified frames back as new work (a retry is a new chunk), up to
  ``retries`` failed attempts per frame; beyond that the frames are lost (a *hard failure*). With ``fail_fast`` a
  hard failure stops everything.
- A *permanent* failure (an error every retry would repeat) ``halt``s the run: nothing new starts (no retry, no
  steal, no hand-off; queued frames are lost), live chunks finish what they render unless ``kill`` is asked.
- The run ends with ``Done`` when every frame is verified, otherwise ``Fail(missing)``.

Invariant (checked by :meth:`Scheduler.check_invariants`): every frame is at any time in exactly one of: the
remaining assignment of one live chunk, the pending queue, the verified set, the lost set; a slot holds at most one
chunk (two during a hand-off).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from stmpo.scheduler_types import (
    Action,
    ChunkFailed,
    ChunkState,
    Done,
    Fail,
    Kill,
    Start,
    StopAfter,
    split_even,
)

DYNAMIC = "dynamic"
STATIC = "static"
MODES = (DYNAMIC, STATIC)
MIN_GAIN_OF_STARTUP = 0.5  # a steal must save at least this fraction of one start-up


class Scheduler:
    """Decides which chunk renders which frames. Feed it events, apply the actions it returns, in order."""

    def __init__(self, frames: Iterable[int], slots: int, *, min_chunk: int = 1, mode: str = DYNAMIC,
                 retries: int = 1, fail_fast: bool = False, startup_hint: Optional[float] = None,
                 steal: bool = True, handoff: bool = True,
                 groups: Optional[Sequence[Sequence[int]]] = None) -> None:
        if slots < 1:
            raise ValueError("slots must be >= 1")
        if mode not in MODES:
            raise ValueError(f"schedule mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.all_frames: Tuple[int, ...] = tuple(sorted(set(frames)))
        # groups (a pool of several renders, ``stmpo.targets``): frames that may share a chunk; a chunk never spans
        # two groups, and free slots are shared between queued groups in proportion to their frames
        self.groups: Optional[List[List[int]]] = None
        if groups is not None:
            self.groups = [sorted(set(g)) for g in groups if len(g)]
            flat = [f for g in self.groups for f in g]
            if len(flat) != len(set(flat)) or set(flat) != set(self.all_frames):
                raise ValueError("groups must split the frames: each frame in exactly one group")
        self.slots = slots
        self.min_chunk = max(1, int(min_chunk))
        self.mode = mode
        self.retries = max(0, int(retries))
        self.fail_fast = fail_fast
        self.startup_hint = startup_hint
        self.steal_enabled = steal and mode == DYNAMIC
        self.handoff_enabled = handoff and self.steal_enabled
        self.chunks: Dict[int, ChunkState] = {}  # live chunks only
        self.history: Dict[int, ChunkState] = {}  # every chunk ever started
        self.pending: List[Tuple[List[int], Optional[float], bool]] = []  # (frames, rate hint, is retry)
        self.verified: Set[int] = set()
        self.lost: Set[int] = set()
        self.failures: Dict[int, int] = {}
        self.stopping: Optional[str] = None  # reason once fail-fast or cancel stops the run
        self.barred: Dict[int, str] = {}  # frame -> the permanent failure of its group (``halt(frames=...)``)
        self.finished = False
        self.result: Optional[Action] = None
        self._next_chunk = 1
        self._startups: List[float] = []
        self._begun = False

    # ------------------------------------------------------------------------------------------------ events
    def begin(self, now: float = 0.0) -> List[Action]:
        """The initial actions: an equal contiguous split over the slots (at least ``min_chunk`` frames each)."""
        if self._begun:
            raise RuntimeError("begin() called twice")
        self._begun = True
        if self.groups is not None:
            self.pending.extend((list(g), None, False) for g in self.groups)
        elif self.all_frames:
            self.pending.append((list(self.all_frames), None, False))
        return self._after_event(now)

    def frame_done(self, chunk: int, frame: int, now: float) -> List[Action]:
        """Frame ``frame`` of ``chunk`` is verified on disk. Frames outside its assignment are ignored."""
        state = self.chunks.get(chunk)
        if state is None or frame in state.done or not state.owns(frame):
            return []
        state.done.add(frame)
        self.verified.add(frame)
        state.done_events += 1
        if state.first_done_at is None:
            state.first_done_at = now
            self._startups.append(max(0.0, now - state.started_at))
        state.last_done_at = now
        actions: List[Action] = []
        if state.remaining_count == 0 and state.shrunk and not state.killing:
            state.killing = True
            actions.append(Kill(chunk, "reached the end of its shrunk assignment"))
        return actions + self._after_event(now)

    def chunk_ended(self, chunk: int, ok: bool, now: float, reason: str = "") -> List[Action]:
        """``chunk`` is over: the last aerender process tree rendering it is gone. ``ok`` is the executor's verdict
        (exit 0, no fatal line).

        Unverified frames of its assignment are failures whatever ``ok`` says (exit 0 with frames missing is a
        failure too); they go back to the queue or, past ``retries``, are lost.
        """
        state = self.chunks.pop(chunk, None)
        if state is None:
            return []
        actions: List[Action] = []
        left = state.remaining
        if left:
            why = reason or ("exited without rendering every frame" if ok else "failed")
            barred = [f for f in left if f in self.barred]
            if barred:  # a halted group: no retry
                self.lost.update(barred)
                left = [f for f in left if f not in self.barred]
                actions.append(ChunkFailed(chunk, tuple(barred), retrying=False, reason=self.barred[barred[0]]))
            if self.stopping is not None:
                self.lost.update(left)
            elif left:
                retry: List[int] = []
                lost: List[int] = []
                for f in left:
                    self.failures[f] = self.failures.get(f, 0) + 1
                    (retry if self.failures[f] <= self.retries else lost).append(f)
                if retry:
                    self.pending.insert(0, (retry, state.own_rate() or state.rate_hint, True))
                    self.pending.sort(key=lambda item: item[0][0])
                if lost:
                    self.lost.update(lost)
                actions.append(ChunkFailed(chunk, tuple(left), retrying=not lost, reason=why))
                if lost and self.fail_fast:
                    actions.extend(self._stop(f"fail-fast: chunk {chunk} failed ({why})"))
        return actions + self._after_event(now)

    def tick(self, now: float) -> List[Action]:
        """Time passed without an event: a chance to hand a finishing chunk's slot over early (see ``_fill``)."""
        if self.finished or self.stopping is not None or not self.handoff_enabled:
            return []
        return self._after_event(now)

    def cancel(self, reason: str = "cancelled") -> List[Action]:
        """Stop the run: kill every live chunk; the run then ends with ``Fail``."""
        return self._stop(reason) + self._after_event(None)

    def halt(self, reason: str, kill: bool = False, frames: Optional[Iterable[int]] = None) -> List[Action]:
        """A permanent failure: start nothing more (no retry, steal or hand-off; queued frames are lost); live chunks
        finish what they render (``kill``: they are killed too, as fail-fast does). Frames a live chunk has not
        verified when it ends are lost. The run then ends with ``Fail(reason)`` unless every frame was verified.

        ``frames``: only these frames are halted (one group of a pool: a failed template variant never stops the
        others): their queued frames are lost, their chunks are never retried or stolen from (``kill``: ended), and
        the rest of the run goes on."""
        if frames is not None:
            return self._halt_frames(reason, kill, set(frames))
        if kill:
            return self._stop(reason) + self._after_event(None)
        if self.stopping is None:
            self.stopping = reason
            for frames, _, _ in self.pending:
                self.lost.update(frames)
            self.pending.clear()
        return self._after_event(None)

    def _halt_frames(self, reason: str, kill: bool, frames: Set[int]) -> List[Action]:
        for f in frames:
            self.barred.setdefault(f, reason)
        pending: List[Tuple[List[int], Optional[float], bool]] = []
        for queued, hint, retry in self.pending:
            self.lost.update(f for f in queued if f in self.barred)
            keep = [f for f in queued if f not in self.barred]
            if keep:
                pending.append((keep, hint, retry))
        self.pending = pending
        actions: List[Action] = []
        if kill:
            for state in self.live():
                if not state.killing and state.remaining and all(f in self.barred for f in state.remaining):
                    state.killing = True
                    actions.append(Kill(state.chunk, reason))
        return actions + self._after_event(None)

    def launched(self, chunk: int, now: float) -> None:
        """Chunk ``chunk``'s first aerender process started only now (the executor held it back, e.g. behind a
        pilot): its start-up is measured from here."""
        state = self.chunks.get(chunk)
        if state is not None and state.first_done_at is None:
            state.started_at = now

    # ------------------------------------------------------------------------------------------------ queries
    def live(self) -> List[ChunkState]:
        return [self.chunks[c] for c in sorted(self.chunks)]

    def missing(self) -> List[int]:
        return [f for f in self.all_frames if f not in self.verified]

    def check_invariants(self) -> None:
        """Every frame has exactly one place: a live chunk's remainder, the queue, verified or lost."""
        seen: Dict[int, str] = {}

        def put(frames: Iterable[int], where: str) -> None:
            for f in frames:
                assert f not in seen, f"frame {f} is in {seen[f]} and {where}"
                seen[f] = where

        for state in self.chunks.values():
            put(state.remaining, f"chunk {state.chunk}")
            assert state.done <= set(state.assigned)
            assert state.assigned == sorted(state.assigned)
        for i, (frames, _, _) in enumerate(self.pending):
            put(frames, f"pending {i}")
        put(self.verified, "verified")
        put(self.lost, "lost")
        assert set(seen) == set(self.all_frames), "frames appeared or vanished"
        slots = [s.slot for s in self.chunks.values()]
        assert all(slots.count(s) <= (2 if self.handoff_enabled else 1) for s in slots), "slot over-subscribed"
        assert all(0 <= s < self.slots for s in slots)

    # ------------------------------------------------------------------------------------------------ internals
    def _stop(self, reason: str) -> List[Action]:
        actions: List[Action] = []
        if self.stopping is None:
            self.stopping = reason
            for frames, _, _ in self.pending:
                self.lost.update(frames)
            self.pending.clear()
        for state in self.live():
            if not state.killing:
                state.killing = True
                actions.append(Kill(state.chunk, reason))
        return actions

    def _after_event(self, now: Optional[float]) -> List[Action]:
        if self.finished:
            return []
        actions: List[Action] = []
        if self.stopping is None and now is not None:
            actions.extend(self._fill(now))
        if not self.chunks and not self.pending:
            self.finished = True
            missing = self.missing()
            if missing:
                barred = [f for f in missing if f in self.barred]
                reason = self.stopping or (self.barred[barred[0]] if barred else
                                           f"{len(self.lost)} frame(s) failed after {self.retries} retries")
                self.result = Fail(tuple(missing), reason)
            else:
                self.result = Done()
            actions.append(self.result)
        return actions

    def _free_slots(self) -> List[int]:
        used = {s.slot for s in self.chunks.values()}
        return [s for s in range(self.slots) if s not in used]

    def _start(self, slot: int, frames: List[int], now: float, rate_hint: Optional[float], retry: bool) -> Start:
        chunk = self._next_chunk
        self._next_chunk += 1
        state = ChunkState(chunk=chunk, slot=slot, assigned=list(frames), started_at=now, rate_hint=rate_hint)
        self.chunks[chunk] = state
        self.history[chunk] = state
        return Start(chunk, slot, tuple(frames), retry)

    def _fill(self, now: float) -> List[Action]:
        actions: List[Action] = []
        free = self._free_slots()
        # queued work first: share the free slots between the queued chunks, splitting big chunks evenly
        while free and self.pending:
            frames, hint, retry = self.pending.pop(0)
            if self.groups is not None:  # queued groups share the free slots in proportion to their frames
                waiting = len(frames) + sum(len(item[0]) for item in self.pending)
                share = max(1, (len(free) * len(frames) + waiting // 2) // waiting)
            else:
                share = max(1, len(free) - len(self.pending))
            parts = min(share, max(1, len(frames) // self.min_chunk))
            for part in split_even(frames, parts):
                actions.append(self._start(free.pop(0), part, now, hint, retry))
        # then work stealing for the slots still idle
        while free and self.steal_enabled:
            steal = self._best_steal(now)
            if steal is None:
                break
            victim, take = steal
            keep = victim.remaining[:-take] if take else victim.remaining
            stolen = victim.remaining[-take:]
            stolen_set = set(stolen)
            victim.shrink_to([f for f in victim.assigned if f not in stolen_set])
            hint = victim.own_rate() or victim.rate_hint
            actions.append(StopAfter(victim.chunk, keep[-1]))
            actions.append(self._start(free.pop(0), stolen, now, hint, False))
        # hand-off: a chunk about to finish (less time left than a start-up) lets a thief start in its slot now, so
        # the thief's start-up overlaps the end of that chunk instead of following it
        if self.handoff_enabled and not free and not self.pending:
            for slot, leaving in self._finishing(now):
                steal = self._best_steal(now, exclude=leaving.chunk, known_rate_only=True)
                if steal is None:
                    break
                victim, take = steal
                keep = victim.remaining[:-take]
                stolen = victim.remaining[-take:]
                stolen_set = set(stolen)
                victim.shrink_to([f for f in victim.assigned if f not in stolen_set])
                hint = victim.own_rate() or victim.rate_hint
                actions.append(StopAfter(victim.chunk, keep[-1]))
                actions.append(self._start(slot, stolen, now, hint, False))
        return actions

    def _finishing(self, now: float) -> List[Tuple[int, ChunkState]]:
        """(slot, chunk) for slots whose only chunk will be done within one start-up, soonest first."""
        startup = self._startup_estimate()
        if startup <= 0:
            return []
        per_slot: Dict[int, List[ChunkState]] = {}
        for state in self.chunks.values():
            per_slot.setdefault(state.slot, []).append(state)
        out: List[Tuple[float, int, ChunkState]] = []
        for slot, states in per_slot.items():
            if len(states) != 1:
                continue
            state = states[0]
            rate = state.own_rate()
            if rate is None or state.last_done_at is None:
                continue
            left = max(0.0, state.remaining_count * rate - (now - state.last_done_at))
            if left <= startup:
                out.append((left, slot, state))
        out.sort(key=lambda item: (item[0], item[1]))
        return [(slot, state) for _, slot, state in out]

    # -- the cost model: seconds per frame and start-up seconds, measured from the events' timestamps
    def _global_rate(self) -> Optional[float]:
        rates = [r for r in (s.own_rate() for s in self.history.values()) if r is not None]
        return sum(rates) / len(rates) if rates else None

    def _startup_estimate(self) -> float:
        if self._startups:
            ordered = sorted(self._startups)
            return ordered[len(ordered) // 2]
        return self.startup_hint or 0.0

    def _remaining_startup(self, state: ChunkState, now: float, startup: float) -> float:
        if state.first_done_at is not None:
            return 0.0
        return max(0.0, startup - (now - state.started_at))

    def _best_steal(self, now: float, exclude: Optional[int] = None,
                    known_rate_only: bool = False) -> Optional[Tuple[ChunkState, int]]:
        """The victim with the longest expected remainder and how many frames a thief takes from its back."""
        startup = self._startup_estimate()
        fallback = self._global_rate()
        best: Optional[Tuple[float, int, ChunkState, int]] = None
        for state in self.live():
            if state.killing or state.chunk == exclude or (self.barred and state.assigned[0] in self.barred):
                continue
            left = state.remaining_count
            if left <= 2 * self.min_chunk:
                continue
            rate = state.own_rate() or state.rate_hint
            if rate is None and known_rate_only:
                continue  # a hand-off is speculative: only on measured rates
            rate = rate or fallback
            head_start = startup - self._remaining_startup(state, now, startup)  # start-up the thief pays extra
            if rate:
                extra_frames = head_start / rate
                expected = self._remaining_startup(state, now, startup) + left * rate
            else:
                extra_frames = 0.0
                expected = float(left)
            # victim keeps x, thief takes y: x = y + extra_frames (both end together), x + y = left
            take = int((left - extra_frames) // 2)
            take = min(take, left - 1)  # the victim keeps at least the frame it is rendering now
            if take < self.min_chunk or take < 1:
                continue
            if rate and take * rate < MIN_GAIN_OF_STARTUP * startup:
                continue  # the run would end sooner by less than half a start-up: not worth a new process
            key = (expected, -state.chunk)
            if best is None or key > (best[0], best[1]):
                best = (expected, -state.chunk, state, take)
        return None if best is None else (best[2], best[3])

