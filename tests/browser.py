"""Headless Chromium for the page tests (Debian's chromium + chromium-driver, driven by selenium).

The machine's network is closed and the pages must not need one: the browser starts with every background service
off and a fresh profile. ``open_page`` loads a URL and returns what the page did: console messages of level SEVERE
and every URL the page requested (from the DevTools performance log), so a test can assert "no errors, no network".
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--disable-extensions",
                  "--disable-default-apps", "--metrics-recording-only", "--password-store=basic")


def find_browser() -> Tuple[Optional[str], Optional[str], str]:
    """(chromium, chromedriver, why not) from PATH."""
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        return None, None, ("chromium and chromium-driver are not installed (Debian packages `chromium` "
                            "`chromium-driver`; .ci/setup installs them)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None, None, "the selenium package is not installed (pip install -e '.[test]')"
    return browser, driver, ""


def start_driver(profile: Path, width: int = 1300, height: int = 900):
    browser, driver_path, why = find_browser()
    if browser is None:
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


def drain(driver) -> None:
    driver.get_log("browser")
    driver.get_log("performance")


def requested_urls(driver) -> List[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def severe_console(driver) -> List[str]:
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def open_page(driver, url: str) -> Tuple[List[str], List[str]]:
    """Load ``url`` from a blank page; (SEVERE console messages, requested URLs) of that load."""
    driver.get("about:blank")
    drain(driver)
    driver.get(url)
    driver.execute_script("return document.readyState")
    return severe_console(driver), requested_urls(driver)


def screenshot(driver, name: str, folder: Path) -> Path:
    """A full-page PNG under ``folder`` (or $AEFARM_TEST_ARTIFACTS); its path is printed for the test log."""
    target = Path(os.environ.get("AEFARM_TEST_ARTIFACTS") or folder)
    target.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 600)")
    driver.set_window_size(1300, min(int(height) + 40, 5000))
    path = target / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def new_profile() -> Path:
    return Path(tempfile.mkdtemp(prefix="aefarm-chromium-"))
