"""Fonts on Linux, for real: files in ~/.local/share/fonts/aefarm, fc-cache, fc-list, several processes.

Every test gets its own HOME (fontconfig and aefarm both read it), so nothing touches the real user's fonts.
"""
from __future__ import annotations

import json
import shutil
import signal
import textwrap
from pathlib import Path

import pytest
from fonts_helpers import (
    DEJAVU_SANS,
    DEJAVU_SERIF,
    XDG_VARIABLES,
    child_env,
    copy_font,
    fc_families,
    make_variant,
    python_child,
)

from aefarm_common.userdirs import default_state_dir
from fonts.errors import FontError
from fonts.install import install, installed, list_installed, remove
from fonts.manifest import load_manifest

pytestmark = pytest.mark.skipif(shutil.which("fc-list") is None or not DEJAVU_SANS.exists(),
                                reason="needs fontconfig and fonts-dejavu-core")

FAMILY = "AefarmTest Sans"


@pytest.fixture(scope="module")
def test_font(tmp_path_factory) -> Path:
    """DejaVu Sans renamed to a family no system folder has."""
    return make_variant(DEJAVU_SANS, FAMILY, tmp_path_factory.mktemp("variant") / "AefarmTestSans.ttf")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in XDG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def bundle(tmp_path, test_font) -> Path:
    folder = tmp_path / "bundle"
    copy_font(test_font, folder)
    return folder


def user_fonts(home: Path) -> Path:
    return home / ".local" / "share" / "fonts" / "aefarm"


def font_files(home: Path):
    folder = user_fonts(home)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def manifest(home: Path):
    return load_manifest(default_state_dir(home=home))


def test_install_shows_in_fc_list_and_remove_takes_it_away(home, bundle):
    assert FAMILY not in fc_families(home)
    token = install(bundle)
    assert font_files(home) == ["AefarmTestSans.ttf"]
    assert FAMILY in fc_families(home)
    assert [f.families for f in list_installed()] == [(FAMILY,)]
    remove(token)
    assert font_files(home) == []
    assert FAMILY not in fc_families(home)
    assert manifest(home).tokens == {} and manifest(home).fonts == {}


def test_cli_round_trip_confirmed_by_fc_list(home, bundle, aefarm):
    env = child_env(home)
    done = aefarm("fonts", "install", bundle, env=env, check=0)
    token = done.stdout.strip()
    assert len(token) == 32
    assert FAMILY in fc_families(home)
    listing = aefarm("fonts", "list", "--json", env=env, check=0)
    (entry,) = json.loads(listing.stdout)
    assert entry["families"] == [FAMILY] and entry["tokens"] == [token]
    aefarm("fonts", "remove", token, env=env, check=0)
    assert FAMILY not in fc_families(home)
    again = aefarm("fonts", "remove", token, env=env, check=2)
    assert again.stderr.count("\n") == 1 and "unknown font install token" in again.stderr


def test_a_scripts_install_token_stays_valid_after_its_shell_exits(home, bundle):
    """`TOKEN=$(aefarm fonts install DIR)` runs install in a subshell that ends at once; the script's later
    `aefarm fonts remove "$TOKEN"` (after other fonts calls, which collect dead owners) must still work."""
    import subprocess
    import sys

    env = child_env(home)
    aefarm = f"{sys.executable} -m engines.aftereffects"
    script = (f'set -e; TOKEN=$({aefarm} fonts install "{bundle}"); {aefarm} fonts list >/dev/null; '
              f'{aefarm} fonts list --json; {aefarm} fonts remove "$TOKEN"; echo removed')
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    listing, last = done.stdout.rsplit("\n", 2)[0], done.stdout.splitlines()[-1]
    assert last == "removed" and json.loads(listing)[0]["families"] == [FAMILY]
    assert font_files(home) == [] and manifest(home).tokens == {}


def test_owner_pid_releases_the_fonts_once_that_process_ends(home, bundle, aefarm):
    import subprocess

    env = child_env(home)
    owner = subprocess.Popen(["sleep", "60"])
    try:
        token = aefarm("fonts", "install", bundle, "--owner-pid", owner.pid, env=env, check=0).stdout.strip()
        assert len(token) == 32 and font_files(home) == ["AefarmTestSans.ttf"]
        aefarm("fonts", "list", env=env, check=0)
        assert font_files(home) == ["AefarmTestSans.ttf"]  # the owner is alive: held
    finally:
        owner.kill()
        owner.wait()
    aefarm("fonts", "list", env=env, check=0)  # the next fonts call collects the ended owner's reference
    assert font_files(home) == [] and FAMILY not in fc_families(home)
    gone = aefarm("fonts", "remove", token, env=env, check=2)
    assert "unknown font install token" in gone.stderr
    bad = aefarm("fonts", "install", bundle, "--owner-pid", owner.pid, env=env, check=2)
    assert f"no process {owner.pid} is running" in bad.stderr and font_files(home) == []


def test_same_font_twice_is_one_file_with_two_references(home, bundle):
    first = install(bundle)
    second = install(bundle)
    assert font_files(home) == ["AefarmTestSans.ttf"]
    (font,) = list_installed()
    assert sorted(font.tokens) == sorted([first, second])
    remove(first)
    assert font_files(home) == ["AefarmTestSans.ttf"] and FAMILY in fc_families(home)
    remove(second)
    assert font_files(home) == []


def test_another_process_keeps_the_font_when_this_one_removes(home, bundle):
    child = python_child(textwrap.dedent(f"""
        import sys
        from fonts.install import install, remove
        token = install({str(bundle)!r})
        print(token, flush=True)
        sys.stdin.readline()
        remove(token)
        print("removed", flush=True)
    """), home)
    try:
        child_token = child.stdout.readline().strip()
        assert len(child_token) == 32, child.stderr.read()
        mine = install(bundle)
        remove(mine)
        assert font_files(home) == ["AefarmTestSans.ttf"]
        assert FAMILY in fc_families(home)
        assert list(manifest(home).tokens) == [child_token]
        out, err = child.communicate("go\n", timeout=60)
        assert out.strip() == "removed", err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert font_files(home) == []
    assert FAMILY not in fc_families(home)


def test_a_users_font_with_the_same_file_name_survives_untouched(home, bundle):
    theirs = copy_font(DEJAVU_SERIF, user_fonts(home), "AefarmTestSans.ttf")
    before = theirs.read_bytes()
    token = install(bundle)
    names = font_files(home)
    assert len(names) == 2 and "AefarmTestSans.ttf" in names
    ours = next(name for name in names if name != "AefarmTestSans.ttf")
    assert ours.startswith("AefarmTestSans-aefarm-") and ours.endswith(".ttf")
    assert FAMILY in fc_families(home)
    remove(token)
    assert font_files(home) == ["AefarmTestSans.ttf"]
    assert theirs.read_bytes() == before


def test_a_users_identical_font_is_used_but_never_deleted(home, bundle, test_font):
    theirs = copy_font(test_font, user_fonts(home))
    token = install(bundle)
    (font,) = list_installed()
    assert font.path == theirs and not font.owned
    remove(token)
    assert theirs.exists() and font_files(home) == ["AefarmTestSans.ttf"]
    assert manifest(home).fonts == {}


def test_references_of_a_killed_installer_are_collected(home, bundle):
    child = python_child(textwrap.dedent(f"""
        import time
        from fonts.install import install
        print(install({str(bundle)!r}), flush=True)
        time.sleep(120)
    """), home)
    try:
        token = child.stdout.readline().strip()
        assert len(token) == 32, child.stderr.read()
        assert font_files(home) == ["AefarmTestSans.ttf"]
        assert [f.tokens for f in list_installed()] == [(token,)]  # alive: kept
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()
        child.stdin.close()
    assert list_installed() == []  # the next call collects the dead process's reference
    assert font_files(home) == []
    assert FAMILY not in fc_families(home)


def test_a_crash_between_copy_and_registration_leaves_nothing_behind(home, bundle):
    child = python_child(textwrap.dedent(f"""
        import os
        from fonts.backends.linux import LinuxBackend
        from fonts.install import install

        class CrashingBackend(LinuxBackend):
            def register(self, path, font):
                os._exit(9)  # dies holding the lock, the file copied, no token saved

        install({str(bundle)!r}, backend=CrashingBackend())
    """), home)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == 9, err
    assert font_files(home) == ["AefarmTestSans.ttf"]
    assert list_installed() == []
    assert font_files(home) == []
    assert manifest(home).fonts == {}


def test_a_reused_pid_does_not_keep_a_reference(home, bundle):
    token = install(bundle)
    path = default_state_dir(home=home) / "fonts-manifest.json"
    data = json.loads(path.read_text())
    data["tokens"][token]["owner"]["create_time"] -= 1000.0  # same pid, another process
    path.write_text(json.dumps(data))
    assert list_installed() == []
    assert font_files(home) == []


def test_persistent_reference_outlives_its_installer(home, bundle):
    child = python_child(f"from fonts.install import install; print(install({str(bundle)!r}, persistent=True))",
                         home)
    out, err = child.communicate(timeout=60)
    token = out.strip()
    assert child.returncode == 0, err
    assert [f.tokens for f in list_installed()] == [(token,)]
    remove(token)
    assert font_files(home) == []


def test_concurrent_installs_and_removes_keep_the_count_right(home, bundle):
    worker = textwrap.dedent(f"""
        import os, sys
        from fonts.install import install, remove
        target = {str(user_fonts(home) / "AefarmTestSans.ttf")!r}
        for _ in range(4):
            token = install({str(bundle)!r})
            if not os.path.isfile(target):
                sys.exit("font missing while this process holds a reference")
            remove(token)
        print("ok")
    """)
    holder = install(bundle)
    children = [python_child(worker, home) for _ in range(3)]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0 and out.strip() == "ok", err
    assert font_files(home) == ["AefarmTestSans.ttf"]
    assert list(manifest(home).tokens) == [holder]
    remove(holder)
    assert font_files(home) == [] and manifest(home).fonts == {}


def test_installed_context_releases_on_failure(home, bundle):
    with pytest.raises(RuntimeError):
        with installed(bundle) as token:
            assert len(token) == 32 and font_files(home) == ["AefarmTestSans.ttf"]
            raise RuntimeError("render failed")
    assert font_files(home) == []


# ---- what is refused, with clear errors, and with nothing changed ----

def assert_nothing_installed(home: Path) -> None:
    assert font_files(home) == []
    assert manifest(home).tokens == {}


def test_non_font_bytes_are_rejected(home, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "Arial.ttf").write_bytes(b"<html>not found</html>")
    with pytest.raises(FontError, match=r"not a font file .*Arial\.ttf"):
        install(folder)
    assert_nothing_installed(home)


@pytest.mark.parametrize("keep", [0.5, 0.99, 0.01])
def test_truncated_fonts_are_rejected(home, tmp_path, test_font, keep):
    data = test_font.read_bytes()
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "Cut.ttf").write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(FontError, match=r"(truncated|damaged) font file .*Cut\.ttf"):
        install(folder)
    assert_nothing_installed(home)


def test_one_bad_file_means_nothing_is_installed(home, bundle):
    (bundle / "zzz.otf").write_bytes(b"OTTO" + b"\0" * 8)
    with pytest.raises(FontError, match="zzz.otf"):
        install(bundle)
    assert_nothing_installed(home)


def test_a_traversal_name_from_a_bundle_is_rejected(home, bundle, tmp_path):
    shutil.move(str(bundle / "AefarmTestSans.ttf"), str(bundle / "a\\..\\..\\x.ttf"))  # a legal name on Linux
    with pytest.raises(FontError, match=r"unsafe font file name 'a\\\\\.\.\\\\\.\.\\\\x\.ttf'"):
        install(bundle)
    assert_nothing_installed(home)
    assert not list(tmp_path.rglob("x.ttf"))


def test_unsupported_scope_and_bad_token_are_bad_input(home, bundle):
    with pytest.raises(FontError, match="scope 'machine'"):
        install(bundle, scope="machine")
    with pytest.raises(FontError, match="not a font install token"):
        remove("../../etc/passwd")
    remove("0" * 32)  # unknown but well formed: fine in a cleanup path
    with pytest.raises(FontError, match="unknown font install token"):
        remove("0" * 32, missing_ok=False)


def test_cli_reports_bad_input_in_one_line(home, tmp_path, aefarm):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.ttf").write_bytes(b"garbage")
    done = aefarm("fonts", "install", folder, env=child_env(home), check=2)
    assert done.stderr.startswith("aefarm: error: not a font file") and done.stderr.count("\n") == 1
    assert done.stdout == ""


def test_fonts_dir_and_state_dir_overrides(tmp_path, bundle, monkeypatch, home):
    monkeypatch.setenv("AEFARM_FONTS_DIR", str(tmp_path / "fonts"))
    monkeypatch.setenv("AEFARM_STATE_DIR", str(tmp_path / "state"))
    token = install(bundle)
    assert (tmp_path / "fonts" / "AefarmTestSans.ttf").is_file()
    assert token in load_manifest(tmp_path / "state").tokens
    assert not user_fonts(home).exists()
    remove(token)
    assert not (tmp_path / "fonts" / "AefarmTestSans.ttf").exists()
