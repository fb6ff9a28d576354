"""The Windows and macOS font backends, through the shared install logic, with a recording fake of the OS calls.

These backends were NOT run on Windows or macOS here: the tests check the destination paths, the registry value
names and data, and the exact calls in order, on real files under a temporary home.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from fonts_helpers import DEJAVU_SANS, DEJAVU_SERIF, copy_font, make_variant

from aefarm_common.userdirs import default_state_dir
from fonts.backends import backend_for
from fonts.backends.linux import LinuxBackend
from fonts.backends.mac import MacBackend
from fonts.backends.windows import FONTS_KEY, WindowsBackend, WindowsOsCalls, registry_value_name
from fonts.errors import FontError
from fonts.inspect import read_font
from fonts.install import install, list_installed, remove
from fonts.manifest import load_manifest

pytestmark = pytest.mark.skipif(not DEJAVU_SANS.exists(), reason="needs fonts-dejavu-core")


class RecordingWindowsCalls:
    """Records every OS call; keeps an in-memory HKCU Fonts key."""

    def __init__(self, registry=None, add_result: int = 1):
        self.calls = []
        self.registry = dict(registry or {})
        self.add_result = add_result

    def get_font_value(self, name):
        self.calls.append(("get_font_value", name))
        return self.registry.get(name)

    def set_font_value(self, name, data):
        self.calls.append(("set_font_value", name, data))
        self.registry[name] = data

    def delete_font_value(self, name):
        self.calls.append(("delete_font_value", name))
        self.registry.pop(name, None)

    def add_font_resource(self, path):
        self.calls.append(("add_font_resource", path))
        return self.add_result

    def remove_font_resource(self, path):
        self.calls.append(("remove_font_resource", path))
        return True

    def broadcast_font_change(self):
        self.calls.append(("broadcast_font_change",))


class RecordingLinuxCalls:
    def __init__(self):
        self.calls = []

    def fc_cache(self, folder):
        self.calls.append(("fc_cache", str(folder)))


@pytest.fixture(scope="module")
def test_font(tmp_path_factory) -> Path:
    return make_variant(DEJAVU_SANS, "AefarmTest Sans", tmp_path_factory.mktemp("variant") / "AefarmTestSans.ttf")


@pytest.fixture
def bundle(tmp_path, test_font) -> Path:
    folder = tmp_path / "bundle"
    copy_font(test_font, folder)
    return folder


@pytest.fixture
def state(tmp_path) -> Path:
    return tmp_path / "state"


def windows(tmp_path, calls) -> WindowsBackend:
    return WindowsBackend(home=tmp_path / "Users" / "render", os_calls=calls)


def test_windows_install_and_remove_make_the_documented_calls_in_order(tmp_path, bundle, state):
    calls = RecordingWindowsCalls()
    backend = windows(tmp_path, calls)
    token = install(bundle, backend=backend, state_dir=state)
    target = tmp_path / "Users" / "render" / "AppData" / "Local" / "Microsoft" / "Windows" / "Fonts" / \
        "AefarmTestSans.ttf"
    assert target.read_bytes() == (bundle / "AefarmTestSans.ttf").read_bytes()
    value = "AefarmTest Sans Regular (TrueType)"
    assert calls.calls == [
        ("get_font_value", value),
        ("set_font_value", value, str(target)),
        ("add_font_resource", str(target)),
        ("broadcast_font_change",),
    ]
    assert calls.registry == {value: str(target)}
    calls.calls.clear()
    remove(token, backend=backend, state_dir=state)
    assert calls.calls == [
        ("remove_font_resource", str(target)),
        ("get_font_value", value),
        ("delete_font_value", value),
        ("broadcast_font_change",),
    ]
    assert calls.registry == {} and not target.exists()


def test_windows_second_reference_makes_no_os_calls(tmp_path, bundle, state):
    calls = RecordingWindowsCalls()
    backend = windows(tmp_path, calls)
    first = install(bundle, backend=backend, state_dir=state)
    calls.calls.clear()
    second = install(bundle, backend=backend, state_dir=state)
    remove(first, backend=backend, state_dir=state)
    assert calls.calls == []
    remove(second, backend=backend, state_dir=state)
    assert [c[0] for c in calls.calls] == ["remove_font_resource", "get_font_value", "delete_font_value",
                                           "broadcast_font_change"]


def test_windows_never_takes_over_a_users_registry_value_or_file(tmp_path, bundle, state):
    backend = windows(tmp_path, None)
    users_file = copy_font(DEJAVU_SERIF, backend.fonts_dir, "AefarmTestSans.ttf")
    value = "AefarmTest Sans Regular (TrueType)"
    calls = RecordingWindowsCalls({value: str(users_file)})
    backend.os_calls = calls
    token = install(bundle, backend=backend, state_dir=state)
    sha8 = read_font(bundle / "AefarmTestSans.ttf").sha256[:8]
    ours = backend.fonts_dir / f"AefarmTestSans-aefarm-{sha8}.ttf"
    our_value = f"AefarmTest Sans Regular (aefarm {sha8}) (TrueType)"
    assert calls.registry == {value: str(users_file), our_value: str(ours)}
    assert ("add_font_resource", str(ours)) in calls.calls
    remove(token, backend=backend, state_dir=state)
    assert calls.registry == {value: str(users_file)}
    assert users_file.read_bytes() == DEJAVU_SERIF.read_bytes() and not ours.exists()


def test_windows_refusal_to_load_rolls_everything_back(tmp_path, bundle, state):
    calls = RecordingWindowsCalls(add_result=0)
    backend = windows(tmp_path, calls)
    with pytest.raises(FontError, match="AddFontResourceW returned 0"):
        install(bundle, backend=backend, state_dir=state)
    assert calls.registry == {}
    assert list(backend.fonts_dir.iterdir()) == []
    assert load_manifest(state).tokens == {} and load_manifest(state).fonts == {}


def test_windows_collection_value_joins_face_names(tmp_path):
    from fontTools.ttLib import TTCollection, TTFont

    collection = TTCollection()
    collection.fonts = [TTFont(str(DEJAVU_SANS)), TTFont(str(DEJAVU_SERIF))]
    path = tmp_path / "pair.ttc"
    collection.save(str(path))
    font = read_font(path)
    assert registry_value_name(font) == "DejaVu Sans & DejaVu Serif (TrueType)"
    assert registry_value_name(font, "abcd1234") == "DejaVu Sans & DejaVu Serif (aefarm abcd1234) (TrueType)"


def test_windows_module_imports_here_and_defers_os_imports():
    module = importlib.import_module("fonts.backends.windows")
    assert module.FONTS_KEY == r"Software\Microsoft\Windows NT\CurrentVersion\Fonts" == FONTS_KEY
    if not sys.platform.startswith("win"):
        with pytest.raises(ImportError):
            WindowsOsCalls().get_font_value("x")


def test_windows_fonts_dir_follows_localappdata():
    from fonts.backends.windows import default_fonts_dir

    assert default_fonts_dir(environ={"LOCALAPPDATA": "/u/AppData/Local"}) == \
        Path("/u/AppData/Local/Microsoft/Windows/Fonts")
    assert default_fonts_dir(home=Path("/h"), environ={"LOCALAPPDATA": "/ignored"}) == \
        Path("/h/AppData/Local/Microsoft/Windows/Fonts")


def test_mac_installs_into_library_fonts_and_spares_the_users_file(tmp_path, bundle, state):
    backend = MacBackend(home=tmp_path / "Users" / "render")
    assert backend.fonts_dir == tmp_path / "Users" / "render" / "Library" / "Fonts"
    users_file = copy_font(DEJAVU_SERIF, backend.fonts_dir, "AefarmTestSans.ttf")
    token = install(bundle, backend=backend, state_dir=state)
    installed = sorted(p.name for p in backend.fonts_dir.iterdir())
    assert installed[0] == "AefarmTestSans-aefarm-" + read_font(bundle / "AefarmTestSans.ttf").sha256[:8] + ".ttf"
    assert installed[1] == "AefarmTestSans.ttf"
    remove(token, backend=backend, state_dir=state)
    assert [p.name for p in backend.fonts_dir.iterdir()] == ["AefarmTestSans.ttf"]
    assert users_file.read_bytes() == DEJAVU_SERIF.read_bytes()


def test_linux_runs_fc_cache_only_when_files_change(tmp_path, bundle, state):
    calls = RecordingLinuxCalls()
    backend = LinuxBackend(home=tmp_path / "home", os_calls=calls)
    folder = str(tmp_path / "home" / ".local" / "share" / "fonts" / "aefarm")
    first = install(bundle, backend=backend, state_dir=state)
    second = install(bundle, backend=backend, state_dir=state)
    remove(first, backend=backend, state_dir=state)
    assert calls.calls == [("fc_cache", folder)]
    remove(second, backend=backend, state_dir=state)
    assert calls.calls == [("fc_cache", folder), ("fc_cache", folder)]


def test_one_manifest_refuses_two_fonts_folders_for_one_font(tmp_path, bundle, state):
    one = MacBackend(home=tmp_path / "a")
    install(bundle, backend=one, state_dir=state)
    with pytest.raises(FontError, match="another fonts folder"):
        install(bundle, backend=MacBackend(home=tmp_path / "b"), state_dir=state)
    assert [f.path.parent for f in list_installed(backend=one, state_dir=state)] == [one.fonts_dir]


@pytest.mark.parametrize("os_name,cls,tail", [
    ("linux", "LinuxBackend", ".local/share/fonts/aefarm"),
    ("mac", "MacBackend", "Library/Fonts"),
    ("windows", "WindowsBackend", "AppData/Local/Microsoft/Windows/Fonts"),
])
def test_backend_for_each_os(tmp_path, monkeypatch, os_name, cls, tail):
    monkeypatch.delenv("AEFARM_FONTS_DIR", raising=False)
    backend = backend_for(os_name, home=tmp_path)
    assert type(backend).__name__ == cls and backend.name == os_name
    assert backend.fonts_dir == tmp_path / tail
    monkeypatch.setenv("AEFARM_FONTS_DIR", str(tmp_path / "elsewhere"))
    assert backend_for(os_name, home=tmp_path).fonts_dir == tmp_path / "elsewhere"


def test_backend_for_unknown_os_is_bad_input():
    with pytest.raises(FontError, match="no font backend for OS 'beos'"):
        backend_for("beos")


def test_state_dir_per_os_and_override(tmp_path):
    home = tmp_path
    assert default_state_dir("linux", home, environ={}) == home / ".local/state/aefarm"
    assert default_state_dir("linux", None, environ={"XDG_STATE_HOME": "/xdg/state"}) == Path("/xdg/state/aefarm")
    assert default_state_dir("mac", home, environ={}) == home / "Library/Application Support/aefarm"
    assert default_state_dir("windows", home, environ={}) == home / "AppData/Local/aefarm"
    assert default_state_dir("windows", None, environ={"LOCALAPPDATA": "/L"}) == Path("/L/aefarm")
    assert default_state_dir("mac", home, environ={"AEFARM_STATE_DIR": "/s"}) == Path("/s")
