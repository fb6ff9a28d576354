"""Finding Adobe's aerender and building its command lines (docs/formats.md §3.1).

Discovery order (the first place that is *set* decides, so a farm never silently falls back to another After Effects
version than the one it configured):
1. the explicit path (`--aerender`): a file, a folder holding aerender, or a bare command name looked up on PATH;
2. the ``AERENDER_PATH`` environment variable (same forms);
3. ``PATH`` (``aerender``, ``aerender.exe``);
4. per-OS install folders, newest version first: Windows
   ``C:\\Program Files\\Adobe\\Adobe After Effects <ver>\\Support Files\\aerender.exe``, macOS
   ``/Applications/Adobe After Effects <ver>/aerender``. Versions sort by year ("2025" > "2024" > "CC 2019" > "CC" >
   "CS6"); Beta installs come after every release (a farm should not pick a beta unless told to).
``Discovery.tried`` records every place looked at and what was found there, for `aefarm doctor`.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple, Union

from aefarm_common.errors import MissingInputError
from aefarm_common.platforms import host_os
from stmpo.errors import StmpoError
from stmpo.proc import process_control

EXE_NAMES = ("aerender", "aerender.exe")
CLOSE_CHOICES = ("DO_NOT_SAVE_CHANGES", "SAVE_CHANGES", "DO_NOT_CLOSE")
VERSION_TIMEOUT = 15.0
_FOLDER_PREFIX = "Adobe After Effects"


class AerenderNotFound(StmpoError, MissingInputError):
    """No aerender on this host: the render cannot start. Exit 3 (missing input), like `aefarm doctor`."""


@dataclass(frozen=True)
class Discovery:
    """Where aerender was found (``path`` None: nowhere), by which rule, its version, and every place tried."""

    path: Optional[str]
    source: str
    version: Optional[str]
    tried: Tuple[Tuple[str, str], ...]

    @property
    def found(self) -> bool:
        return self.path is not None

    def require(self) -> str:
        """The path, or a one-line ``AerenderNotFound`` naming every place tried."""
        if self.path is None:
            places = "; ".join(f"{place}: {result}" for place, result in self.tried)
            raise AerenderNotFound(f"aerender not found ({places}); pass --aerender PATH or set AERENDER_PATH")
        return self.path

    def to_dict(self) -> dict:
        return {"path": self.path, "source": self.source, "version": self.version,
                "tried": [{"place": place, "result": result} for place, result in self.tried]}


# --------------------------------------------------------------------------------------------------------------------
# version ordering of install folders


def install_version_key(folder_name: str) -> Tuple[int, float, Tuple[int, ...]]:
    """Sort key for ``Adobe After Effects <ver>`` folders: (is release, year, further numbers); larger is newer.

    Years come from "2025", "CC 2019", "CC" (2013), "CS6" (CS n ~ 2006 + n), or a bare major version ("24" -> 2024,
    as After Effects 22 was the 2022 release)."""
    suffix = folder_name[len(_FOLDER_PREFIX):] if folder_name.startswith(_FOLDER_PREFIX) else folder_name
    lowered = suffix.lower()
    release = 0 if ("beta" in lowered or "prerelease" in lowered) else 1
    numbers = [int(n) for n in re.findall(r"\d+", suffix)]
    cs = re.search(r"\bcs(\d+)(?:\.(\d+))?", lowered)
    if cs:
        year: float = 2006 + int(cs.group(1)) + (int(cs.group(2)) / 10 if cs.group(2) else 0)
        rest: Tuple[int, ...] = ()
    elif numbers and numbers[0] >= 1990:
        year, rest = numbers[0], tuple(numbers[1:])
    elif numbers and numbers[0] < 100:
        year, rest = 2000 + numbers[0], tuple(numbers[1:])
    elif re.search(r"\bcc\b", lowered):
        year, rest = 2013, ()
    else:
        year, rest = 0, tuple(numbers)
    return release, year, rest


def default_search_roots(os_name: str, env: Mapping[str, str]) -> List[str]:
    """Folders holding ``Adobe After Effects <ver>`` installs on ``os_name``."""
    if os_name == "windows":
        roots = []
        for var in ("ProgramFiles", "ProgramW6432"):
            value = env.get(var)
            if value:
                roots.append(os.path.join(value, "Adobe"))
        roots.append(r"C:\Program Files\Adobe")
        return list(dict.fromkeys(roots))
    if os_name == "mac":
        return ["/Applications"]
    return []


def _exe_in_install(os_name: str) -> Tuple[str, ...]:
    return ("Support Files", "aerender.exe") if os_name == "windows" else ("aerender",)


def _is_runnable(path: str, os_name: str) -> bool:
    if not os.path.isfile(path):
        return False
    return os_name == "windows" or os.access(path, os.X_OK)


# --------------------------------------------------------------------------------------------------------------------
# discovery


def _resolve_setting(value: str, env: Mapping[str, str], os_name: str) -> Tuple[Optional[str], str]:
    """A configured aerender (file, install folder or command name) -> (path or None, what happened)."""
    if os.sep not in value and (os.altsep is None or os.altsep not in value) and not os.path.exists(value):
        found = shutil.which(value, path=env.get("PATH", ""))
        return (found, f"found {found} on PATH") if found else (None, f"{value!r} is not a command on PATH")
    if os.path.isdir(value):
        for candidate in (os.path.join(value, *_exe_in_install(os_name)), *(os.path.join(value, n) for n in EXE_NAMES)):
            if _is_runnable(candidate, os_name):
                return candidate, f"found {candidate}"
        return None, f"{value} is a folder without aerender"
    if _is_runnable(value, os_name):
        return os.path.abspath(value), f"found {value}"
    if os.path.exists(value):
        return None, f"{value} is not executable"
    return None, f"{value} does not exist"


def probe_version(path: str, timeout: float = VERSION_TIMEOUT) -> Optional[str]:
    """``aerender -version`` -> "24.6x67", or None when it fails, times out or prints something else.

    Runs isolated like a render child (``stmpo.proc``: its own process group, or a Job Object on Windows), so a
    timeout ends anything it started too (no orphan holding a licence)."""
    control = process_control()
    try:
        child = control.spawn([path, "-version"], env=None, cwd=None, cpus=None, warn=lambda text: None)
    except (OSError, ValueError):
        return None
    popen = child.popen
    try:
        try:
            out, err = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            control.kill(child, ())
            for stream in (popen.stdout, popen.stderr):
                if stream is not None:
                    stream.close()  # don't wait for EOF: a process outside the group may still hold the pipe
            popen.wait()
            return None
    finally:
        control.release(child)
    text = (out + err).decode("utf-8", "replace")
    match = re.search(r"aerender version\s+(\S+)", text, re.IGNORECASE)
    return match.group(1) if match else None


def find_aerender(explicit: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                  os_name: Optional[str] = None, search_roots: Optional[Sequence[str]] = None,
                  query_version: bool = True, version_timeout: float = VERSION_TIMEOUT) -> Discovery:
    """Look for aerender in the documented order; never raises for "not found" (see ``Discovery.require``)."""
    env = os.environ if env is None else env
    os_name = os_name or host_os()
    tried: List[Tuple[str, str]] = []

    def done(path: Optional[str], source: str) -> Discovery:
        version = probe_version(path, version_timeout) if (path and query_version) else None
        return Discovery(path=path, source=source, version=version, tried=tuple(tried))

    for source, value in (("--aerender", explicit), ("AERENDER_PATH", env.get("AERENDER_PATH") or None)):
        if value is None:
            tried.append((source, "not given" if source == "--aerender" else "not set"))
            continue
        path, result = _resolve_setting(str(value), env, os_name)
        tried.append((source, result))
        return done(path, source if path else "not found")

    path_value = env.get("PATH", "")
    for name in EXE_NAMES:
        found = shutil.which(name, path=path_value)
        if found:
            tried.append(("PATH", f"found {found}"))
            return done(found, "PATH")
    tried.append(("PATH", f"no {' or '.join(EXE_NAMES)} on PATH"))

    roots = list(search_roots) if search_roots is not None else default_search_roots(os_name, env)
    if not roots:
        tried.append(("install folders", f"none known for {os_name}"))
    for root in roots:
        try:
            names = [n for n in os.listdir(root) if n.startswith(_FOLDER_PREFIX)]
        except OSError:
            tried.append((root, "no such folder"))
            continue
        if not names:
            tried.append((root, "no After Effects install"))
            continue
        for name in sorted(names, key=lambda n: (install_version_key(n), n), reverse=True):
            candidate = os.path.join(root, name, *_exe_in_install(os_name))
            if _is_runnable(candidate, os_name):
                tried.append((os.path.join(root, name), f"found {candidate}"))
                return done(candidate, "install folder")
            tried.append((os.path.join(root, name), f"no {os.path.join(*_exe_in_install(os_name))}"))
    return done(None, "not found")


# --------------------------------------------------------------------------------------------------------------------
# command lines


def _int(name: str, value: object, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StmpoError(f"aerender {name} must be a whole number, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"{minimum}..{maximum}"
        raise StmpoError(f"aerender {name} must be {bounds}, got {value}")
    return value


def _text(name: str, value: object) -> str:
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(text, str) or not text or "\0" in text:
        raise StmpoError(f"aerender {name} must be a non-empty path or text, got {value!r}")
    return text


def _on_off(value: object) -> str:
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, str) and value.upper() in ("ON", "OFF"):
        return value.upper()
    raise StmpoError(f"aerender -mfr state must be on/off (True/False or 'ON'/'OFF'), got {value!r}")


def build_command(aerender: str, *, project: Union[str, "os.PathLike[str]"], comp: Optional[str] = None,
                  rqindex: Optional[int] = None, output: Optional[str] = None, start: Optional[int] = None,
                  end: Optional[int] = None, increment: Optional[int] = None,
                  mfr: Optional[Tuple[object, int]] = None, mem_usage: Optional[Tuple[int, int]] = None,
                  rs_template: Optional[str] = None, om_template: Optional[str] = None,
                  continue_on_missing_footage: bool = False, close: Optional[str] = "DO_NOT_SAVE_CHANGES",
                  log: Optional[Union[str, "os.PathLike[str]"]] = None, extra_args: Sequence[str] = ()) -> List[str]:
    """The argv for one aerender child (no shell: each value is one argument, spaces and all).

    ``mfr=(True, 90)`` -> ``-mfr ON 90``; ``mem_usage=(40, 80)`` -> ``-mem_usage 40 80`` (image cache %, max %).
    ``-s/-e/-i/-output`` need ``comp`` or ``rqindex``: without them aerender renders the whole queue and ignores them.
    ``extra_args`` may not repeat a flag this function already set (aerender would get two answers)."""
    argv = [_text("executable", aerender), "-project", _text("-project", project)]
    if comp is not None and rqindex is not None:
        raise StmpoError("aerender takes -comp or -rqindex, not both")
    if comp is not None:
        argv += ["-comp", _text("-comp", comp)]
    elif rqindex is not None:
        argv += ["-rqindex", str(_int("-rqindex", rqindex, 1))]
    targeted = comp is not None or rqindex is not None
    ranged = [name for name, value in (("-output", output), ("-s", start), ("-e", end), ("-i", increment))
              if value is not None]
    if ranged and not targeted:
        raise StmpoError(f"aerender {'/'.join(ranged)} need -comp or -rqindex (aerender ignores them otherwise)")
    if rs_template is not None:
        argv += ["-RStemplate", _text("-RStemplate", rs_template)]
    if om_template is not None:
        argv += ["-OMtemplate", _text("-OMtemplate", om_template)]
    if output is not None:
        argv += ["-output", _text("-output", output)]
    if start is not None:
        argv += ["-s", str(_int("-s", start))]
    if end is not None:
        argv += ["-e", str(_int("-e", end))]
    if start is not None and end is not None and end < start:
        raise StmpoError(f"aerender -e {end} is before -s {start}")
    if increment is not None:
        argv += ["-i", str(_int("-i", increment, 1))]
    if mfr is not None:
        if not isinstance(mfr, (tuple, list)) or len(mfr) != 2:
            raise StmpoError(f"aerender -mfr takes (on/off, max CPU %), got {mfr!r}")
        argv += ["-mfr", _on_off(mfr[0]), str(_int("-mfr max CPU %", mfr[1], 1, 100))]
    if mem_usage is not None:
        if not isinstance(mem_usage, (tuple, list)) or len(mem_usage) != 2:
            raise StmpoError(f"aerender -mem_usage takes (image cache %, max memory %), got {mem_usage!r}")
        argv += ["-mem_usage", str(_int("-mem_usage image cache %", mem_usage[0], 1, 100)),
                 str(_int("-mem_usage max memory %", mem_usage[1], 1, 100))]
    if continue_on_missing_footage:
        argv.append("-continueOnMissingFootage")
    if log is not None:
        argv += ["-log", _text("-log", log)]
    if close is not None:
        if close not in CLOSE_CHOICES:
            raise StmpoError(f"aerender -close must be one of {', '.join(CLOSE_CHOICES)}, got {close!r}")
        argv += ["-close", close]
    used = {a.lower() for a in argv[1:] if a.startswith("-")}
    for arg in extra_args:
        if not isinstance(arg, str) or "\0" in arg:
            raise StmpoError(f"aerender extra argument must be text, got {arg!r}")
        if arg.startswith("-") and arg.lower() in used:
            raise StmpoError(f"aerender extra argument {arg} repeats a flag aefarm already sets")
    argv += list(extra_args)
    return argv
