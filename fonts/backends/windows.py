"""Windows: per-user fonts (Windows 10 1809 and later) without administrator rights.

The file goes to ``%LOCALAPPDATA%\\Microsoft\\Windows\\Fonts``; an HKCU ``...\\Fonts`` value (display name -> full path)
makes it load at every logon; ``AddFontResourceW`` loads it into this session now; a ``WM_FONTCHANGE`` broadcast
tells running programs. Removal undoes these in reverse order, and only deletes a registry value still pointing at
our file, so a user's own registration of the same font is never touched.

Every OS call goes through an ``os_calls`` object: ``WindowsOsCalls`` (winreg/ctypes, imported only when called, so
this module imports on any OS) or a recording fake in tests.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from fonts.backends.base import FontBackend
from fonts.errors import FontError
from fonts.inspect import FontFile

FONTS_KEY = r"Software\Microsoft\Windows NT\CurrentVersion\Fonts"
HWND_BROADCAST = 0xFFFF
WM_FONTCHANGE = 0x001D
SMTO_ABORTIFHUNG = 0x0002
BROADCAST_TIMEOUT_MS = 2000
_ONLY_WINDOWS = "winreg, gdi32 and user32 exist only on Windows"


def default_fonts_dir(home: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None) -> Path:
    env = os.environ if environ is None else environ
    local = env.get("LOCALAPPDATA") if home is None else None
    base = Path(local) if local else Path(home or Path.home()) / "AppData" / "Local"
    return base / "Microsoft" / "Windows" / "Fonts"


def registry_value_name(font: FontFile, unique_tag: Optional[str] = None) -> str:
    """``"<Full name> (TrueType)"``, or with ``(aefarm <tag>)`` inserted when the plain name belongs to another file."""
    tag = f" (aefarm {unique_tag})" if unique_tag else ""
    return f"{font.full_name}{tag} (TrueType)"


class WindowsOsCalls:
    """The real calls (HKCU registry, gdi32, user32). Imports happen inside each call; elsewhere than on Windows each
    call raises ImportError (the ``sys.platform`` check also tells the type checker what runs where)."""

    def get_font_value(self, name: str) -> Optional[str]:
        if sys.platform != "win32":
            raise ImportError(_ONLY_WINDOWS)
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, FONTS_KEY) as key:
                value, _kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        return str(value)

    def set_font_value(self, name: str, data: str) -> None:
        if sys.platform != "win32":
            raise ImportError(_ONLY_WINDOWS)
        import winreg

        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, FONTS_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, data)

    def delete_font_value(self, name: str) -> None:
        if sys.platform != "win32":
            raise ImportError(_ONLY_WINDOWS)
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, FONTS_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            pass

    def add_font_resource(self, path: str) -> int:
        if sys.platform != "win32":
            raise ImportError(_ONLY_WINDOWS)
        import ctypes

        gdi32 = ctypes.WinDLL("gdi32", use_last_error=True)
        gdi32.AddFontResourceW.argtypes = [ctypes.c_wchar_p]
        gdi32.AddFontResourceW.restype = ctypes.c_int
        return int(gdi32.AddFontResourceW(path))

    def remove_font_resource(self, path: str) -> bool:
        if sys.platform != "win32":
            raise ImportError(_ONLY_WINDOWS)
        import ctypes

        gdi32 = ctypes.WinDLL("gdi32", use_last_error=True)
        gdi32.RemoveFontResourceW.argtypes = [ctypes.c_wchar_p]
        gdi32.RemoveFontResourceW.restype = ctypes.c_int
        return bool(gdi32.RemoveFontResourceW(path))

    def broadcast_font_change(self) -> None:
        if sys.platform != "win32":
            raise ImportError(_ONLY_WINDOWS)
        import ctypes
        from ctypes import wintypes

        user32 = ctypes.WinDLL("user32", use_last_error=True)
        send = user32.SendMessageTimeoutW
        send.argtypes = [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM, wintypes.UINT,
                         wintypes.UINT, ctypes.POINTER(ctypes.c_size_t)]
        send.restype = ctypes.c_ssize_t
        result = ctypes.c_size_t(0)
        send(HWND_BROADCAST, WM_FONTCHANGE, 0, 0, SMTO_ABORTIFHUNG, BROADCAST_TIMEOUT_MS, ctypes.byref(result))


class WindowsBackend(FontBackend):
    name = "windows"

    def __init__(self, home: Optional[Path] = None, fonts_dir: Optional[Path] = None, os_calls: Any = None) -> None:
        super().__init__(fonts_dir or default_fonts_dir(home))
        self.os_calls = os_calls or WindowsOsCalls()

    def register(self, path: Path, font: FontFile) -> Dict[str, Any]:
        data = str(path)
        value = registry_value_name(font)
        current = self.os_calls.get_font_value(value)
        if current is not None and os.path.normcase(current) != os.path.normcase(data):
            value = registry_value_name(font, font.sha256[:8])
        self.os_calls.set_font_value(value, data)
        if self.os_calls.add_font_resource(data) == 0:
            self.os_calls.delete_font_value(value)
            raise FontError(f"Windows refused to load the font (AddFontResourceW returned 0): {path}")
        return {"registry_value": value}

    def unregister(self, path: Path, registration: Mapping[str, Any]) -> None:
        data = str(path)
        self.os_calls.remove_font_resource(data)
        value = registration.get("registry_value")
        if value:
            current = self.os_calls.get_font_value(value)
            if current is not None and os.path.normcase(current) == os.path.normcase(data):
                self.os_calls.delete_font_value(value)

    def refresh(self) -> None:
        self.os_calls.broadcast_font_change()
