"""Check a render request against its project before any aerender starts and before anything is written.

Every mistake the project file can reveal is found here, once, with one line naming it, instead of after After
Effects has been launched (often many times): a comp that does not exist (the closest names are suggested) or is
ambiguous, a render-queue index out of range or not queued, an empty queue, footage missing on this node after
mapping or still another OS's path, an output pattern that is not an absolute path of the node's OS, has no frame
token, or uses a token aefarm cannot verify, a movie asked for stepped frames, a converted path Windows cannot use.
Frames outside the comp's duration are a warning.

The checks are pure (``check``: request + project model + footage states -> findings); ``preflight_job`` is the
edge that reads the project and asks the disk. Every entry point runs it: ``render_job`` (CLI, accsyn app, Deadline
task), ``--dry-run`` (prints the findings), ``aefarm accsyn submit`` and ``aefarm deadline bundle|submit``
(``check_submission``: the render node is elsewhere, so footage there is a warning and the output is not checked).
"""
from __future__ import annotations

import difflib
import ntpath
import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

from aefarm_common.errors import AefarmError
from aefarm_common.platforms import host_os, normalize_os
from aeproject.footage import FOREIGN, MISSING, RELATIVE, FootageState
from aeproject.model import Comp, Project
from remap.paths import POSIX, WINDOWS, os_family, parse_path
from remap.rules import RuleSet
from stmpo.frames import FrameSet

ERROR, WARNING = "error", "warning"
MOVIE_EXTENSIONS = frozenset({".mov", ".mp4", ".avi"})  # what the executor joins as one movie (stmpo.outputs)
LISTED = 3  # paths named in one finding before "and N more"

_TOKEN = re.compile(r"\[([^\]]*)\]")
_FRAME_TOKEN = re.compile(r"#+")
_WINDOWS_FORBIDDEN = '<>:"|?*'
_WINDOWS_RESERVED = frozenset(["CON", "PRN", "AUX", "NUL"] + [f"COM{n}" for n in range(1, 10)]
                              + [f"LPT{n}" for n in range(1, 10)])
_FAMILY_NAMES = {WINDOWS: "Windows", POSIX: "POSIX"}


class PreflightError(AefarmError):
    """The request cannot render as asked (exit 2); the message is the first problem's line."""


@dataclass(frozen=True)
class Finding:
    level: str  # ERROR | WARNING
    message: str

    def line(self) -> str:
        return f"preflight: {self.level}: {self.message}"


@dataclass(frozen=True)
class Request:
    """What is asked: the target (``comp`` or ``rqindex``; neither renders the whole queue), frames, the aerender
    ``-output`` pattern (None: not checked), mapping rules, the OS aerender runs on (``node_os``, default this
    machine's) and the OS the project's paths are converted for (``target_os``, default ``node_os``)."""

    comp: Optional[str] = None
    rqindex: Optional[int] = None
    frames: Optional[FrameSet] = None
    output: Optional[str] = None
    rules: RuleSet = field(default_factory=RuleSet)
    node_os: Optional[str] = None
    target_os: Optional[str] = None
    allow_missing_footage: bool = False
    footage_is_local: bool = True  # False at submission: the render node's disks are not this machine's


@dataclass
class Result:
    findings: List[Finding]
    output: Optional[str] = None  # the pattern to render to (mapped when a rule mapped a foreign one)
    comp: Optional[Comp] = None

    @property
    def errors(self) -> List[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def warnings(self) -> List[Finding]:
        return [f for f in self.findings if f.level == WARNING]

    def raise_for_errors(self) -> None:
        errors = self.errors
        if errors:
            more = f" (and {len(errors) - 1} more problems: --dry-run lists them)" if len(errors) > 1 else ""
            raise PreflightError(errors[0].message + more)


def _q(path: str) -> str:
    """A path quoted for a message (``repr`` would double every Windows backslash)."""
    return f"'{path}'"


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:LISTED])
    return shown + (f" and {len(items) - LISTED} more" if len(items) > LISTED else "")


def _comp_list(project: Project) -> str:
    names = [c.name for c in project.comps]
    if not names:
        return "the project has no comps"
    return "its comps: " + _listed([repr(n) for n in names])


# --------------------------------------------------------------------------------------------------- target
def check_target(req: Request, project: Project) -> Tuple[List[Finding], Optional[Comp]]:
    """The comp the request renders, or why it cannot be told."""
    where = project.path
    if req.comp is not None:
        matches = project.comps_named(req.comp)
        if not matches:
            names = [c.name for c in project.comps]
            same_case = [n for n in names if n.casefold() == req.comp.casefold()]
            close = same_case + [n for n in difflib.get_close_matches(req.comp, names, n=3, cutoff=0.6)
                                 if n not in same_case]
            hint = f"closest: {_listed([repr(n) for n in close])}" if close else _comp_list(project)
            return [Finding(ERROR, f"comp {req.comp!r} not found in {where}; {hint}")], None
        if len(matches) > 1:
            ids = {c.item_id for c in matches}
            items = [i for i in project.render_queue if i.comp_id in ids]
            if items:
                hint = "render one by its render-queue item: " + ", ".join(
                    f"--rqindex {i.index} (comp id {i.comp_id})" for i in items)
            else:
                hint = "put the one you mean in the render queue and use --rqindex N, or rename the other"
            return [Finding(ERROR, f"comp {req.comp!r} is ambiguous: {len(matches)} comps have that name (item ids "
                                   f"{', '.join(str(c.item_id) for c in matches)}) and aerender renders whichever "
                                   f"After Effects finds first; {hint}")], None
        return [], matches[0]
    queue = project.render_queue
    if req.rqindex is not None:
        if not queue:
            return [Finding(ERROR, f"--rqindex {req.rqindex}: the render queue of {where} is empty; render a comp "
                                   f"with --comp NAME ({_comp_list(project)})")], None
        if req.rqindex > len(queue):
            listed = [f"{i.index}: {getattr(project.queue_comp(i), 'name', '?')!r}" for i in queue]
            return [Finding(ERROR, f"--rqindex {req.rqindex} is out of range: the render queue of {where} has "
                                   f"{len(queue)} item{'s' if len(queue) != 1 else ''} ({_listed(listed)})")], None
        item = queue[req.rqindex - 1]
        comp = project.queue_comp(item)
        label = f"--rqindex {req.rqindex} ({comp.name!r})" if comp is not None else f"--rqindex {req.rqindex}"
        if item.queued is False:
            fix = f", or render the comp with --comp {comp.name!r}" if comp is not None else ""
            if item.status == 0 and req.output is not None:
                return [Finding(WARNING, f"{label} has no output file set in the project; aerender is given "
                                         f"--output")], comp
            return [Finding(ERROR, f"{label} is {item.status_name}, not queued: tick its Render box in the Render "
                                   f"Queue and save the project{fix}")], comp
        return [], comp
    if queue and not any(i.queued is not False for i in queue):
        return [Finding(ERROR, f"no comp or render-queue item given and no item of the render queue of {where} is "
                               "queued: aerender would render nothing")], None
    if not queue:
        return [Finding(ERROR, f"no comp or render-queue item given and the render queue of {where} is empty: "
                               f"give --comp NAME ({_comp_list(project)})")], None
    return [], None


def check_frames(frames: Optional[FrameSet], comp: Optional[Comp]) -> List[Finding]:
    if frames is None or comp is None or comp.duration_frames <= 0 or not len(frames):
        return []
    inside = FrameSet.from_range(comp.first_frame, comp.last_frame)
    outside = frames - inside
    if not len(outside):
        return []
    return [Finding(WARNING, f"frames {outside} are outside comp {comp.name!r} (frames {comp.first_frame}-"
                             f"{comp.last_frame} at {comp.frame_rate:g} fps): After Effects has nothing to show "
                             "there")]


# --------------------------------------------------------------------------------------------------- footage
def _foreign_path(state: FootageState) -> str:
    """The path the node would be given (a rule may have made it foreign), and where it came from."""
    if state.effective == state.raw:
        return state.raw
    return f"{state.effective} (mapped from {state.raw})"


def check_footage(states: Iterable[FootageState], req: Request) -> List[Finding]:
    states = list(states)
    target = req.target_os or req.node_os
    node = normalize_os(target) if target else host_os()
    blocking = req.footage_is_local and not req.allow_missing_footage
    level = ERROR if blocking else WARNING
    tail = "" if not req.footage_is_local else (
        " (--continue-on-missing-footage renders colour bars instead)" if blocking else
        ": After Effects renders colour bars for it")
    findings: List[Finding] = []
    foreign = [s for s in states if s.state == FOREIGN]
    if foreign:
        family = parse_path(foreign[0].effective)
        kind = _FAMILY_NAMES.get(family.family if family else "", "foreign")
        where = f"this {node} node" if req.footage_is_local else f"a {node} node"
        many = len(foreign) > 1
        findings.append(Finding(level, f"{len(foreign)} footage path{'s are' if many else ' is'} still {kind} "
                                       f"path{'s' if many else ''}, which {where} cannot open, and no mapping rule "
                                       f"maps {'them' if many else 'it'} to a {node} path: "
                                       f"{_listed([_foreign_path(s) for s in foreign])}{tail}"))
    missing = [s for s in states if s.state == MISSING]
    if missing:
        where = "on this node after mapping" if req.footage_is_local else "on this machine"
        findings.append(Finding(level, f"{len(missing)} footage item{'s' if len(missing) > 1 else ''} missing "
                                       f"{where}: {_listed([s.describe() for s in missing])}{tail}"))
    relative = [s for s in states if s.state == RELATIVE]
    if relative:
        findings.append(Finding(WARNING, f"footage path{'s' if len(relative) > 1 else ''} "
                                         f"{_listed([_q(s.raw) for s in relative])} "
                                         f"{'are' if len(relative) > 1 else 'is'} relative: After Effects looks "
                                         "beside the project; not checked"))
    if os_family(node) == WINDOWS:
        for state in states:
            mapped = state.mapped
            problem = windows_path_problem(mapped) if mapped else None
            if mapped and problem:
                findings.append(Finding(ERROR, f"converted footage path {_q(mapped)} is not a valid Windows path: "
                                               f"{problem}"))
    return findings


# --------------------------------------------------------------------------------------------------- output
def windows_path_problem(path: str) -> Optional[str]:
    """Why ``path`` (a Windows path) cannot be created on Windows, or None: characters it forbids, control
    characters, reserved device names (CON, NUL, COM1 ...; also with an extension), a trailing dot or space."""
    parsed = parse_path(path)
    if parsed is None or parsed.family != WINDOWS:
        return None
    comps = parsed.components
    names = comps[1:] if parsed.kind == "drive" else comps[2:]
    for name in names:
        if not name:
            continue
        bad = next((ch for ch in name if ch in _WINDOWS_FORBIDDEN), None)
        if bad is not None:
            return f"{bad!r} is not allowed in a Windows file name ({name!r})"
        if any(ord(ch) < 32 for ch in name):
            return f"{name!r} holds a control character"
        if name.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
            return f"{name!r} is a reserved device name on Windows"
        if name[-1] in ". " and name not in (".", "..") and not parsed.long_prefix:
            return f"{name!r} ends with a dot or a space, which Windows drops"
    return None


def check_output(output: str, frames: Optional[FrameSet], rules: RuleSet, node_os: Optional[str]
                 ) -> Tuple[List[Finding], Optional[str]]:
    """Findings about an aerender ``-output`` pattern on a node of ``node_os``, and the pattern to use."""
    node = normalize_os(node_os) if node_os else host_os()
    family = os_family(node)
    findings: List[Finding] = []
    parsed = parse_path(output)
    if parsed is None:
        return [Finding(ERROR, f"--output {_q(output)} is not an absolute path")], None
    if parsed.family != family:
        mapped = rules.map(output) if len(rules) else None
        target = parse_path(mapped) if mapped else None
        if mapped is None or target is None or target.family != family:
            return [Finding(ERROR, f"--output {_q(output)} is a {_FAMILY_NAMES[parsed.family]} path, not a path on "
                                   f"this {node} node, and no mapping rule maps it: give a {node} path or a rule "
                                   "(--map/--rules) for it")], None
        findings.append(Finding(WARNING, f"--output {_q(output)} mapped to {_q(mapped)} for this {node} node"))
        output = mapped
    module = ntpath if family == WINDOWS else posixpath
    name = module.basename(output)
    if family == WINDOWS:
        problem = windows_path_problem(output)
        if problem:
            findings.append(Finding(ERROR, f"--output {_q(output)} is not a valid Windows path: {problem}"))
    elif "\0" in output:
        findings.append(Finding(ERROR, "--output holds a NUL character"))
    tokens = _TOKEN.findall(name)
    frame_tokens = [t for t in tokens if _FRAME_TOKEN.fullmatch(t)]
    unknown = [f"[{t}]" for t in tokens if not _FRAME_TOKEN.fullmatch(t) and t.lower() != "compname"]
    if unknown:
        findings.append(Finding(ERROR, f"--output file name {name!r} uses {', '.join(unknown)}: aerender fills "
                                       f"{'it' if len(unknown) == 1 else 'them'} from the project, but aefarm must "
                                       "know every frame's file name to verify it: write the value instead (aefarm "
                                       "fills [#####] and [compName])"))
    extension = module.splitext(_TOKEN.sub("x", name))[1].lower()
    if extension in MOVIE_EXTENSIONS:
        if frame_tokens:
            findings.append(Finding(ERROR, f"--output {name!r} is a movie (one file): remove the [#] frame token"))
        if frames is not None and len(frames) > 1 and (len(frames.runs) != 1 or frames.runs[0].step != 1):
            findings.append(Finding(ERROR, f"--output {name!r} is a movie: it needs one run of consecutive "
                                           f"frames, but --frames is {frames}"))
    elif not extension:
        findings.append(Finding(ERROR, f"--output file name {name!r} has no extension: After Effects adds the "
                                       "output module's, which aefarm cannot know; write it (e.g. .png)"))
    elif not frame_tokens:
        stem, ext = module.splitext(name)
        findings.append(Finding(WARNING, f"--output {name!r} has no [#####] frame token: as aerender does, the "
                                         f"frames are written as {stem}_[#####]{ext}"))
    return findings, output


def absolute_output(output: str) -> str:
    """``output`` made absolute against the current folder, unless it already is absolute in any OS's syntax: a
    Windows path on POSIX (or the reverse) is kept as written, for ``check_output`` to map or refuse by name."""
    if parse_path(output) is not None:
        return output
    return os.path.abspath(output)


# --------------------------------------------------------------------------------------------------- together
def check(req: Request, project: Optional[Project], footage: Sequence[FootageState]) -> Result:
    """All findings for ``req`` against ``project`` (None: not readable as a model; only the output is checked)."""
    findings: List[Finding] = []
    output = req.output
    if req.output is not None:  # the request's own arguments first, then what the project says about them
        findings, output = check_output(req.output, req.frames, req.rules, req.node_os)
    comp = None
    if project is not None:
        target, comp = check_target(req, project)
        findings += target
        findings += check_frames(req.frames, comp)
        findings += check_footage(footage, req)
    return Result(findings, output, comp)
