"""Selenium driver for the browser tests (test-only code), on Debian's Chromium and chromedriver.

``start_chromium`` starts one headless browser under ``/usr/bin/chromedriver`` (Debian's
``chromium-driver``), named by ``Service(executable_path=...)`` with ``options.binary_location``
set, so Selenium Manager never looks for, or downloads, a browser or a driver.
``Chromium.check`` loads a page, collects console errors, uncaught exceptions and failed resource
loads (Chrome's browser log, level ``SEVERE``), checks every image rendered, and takes a
full-page screenshot.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAMES = ("chromedriver",)
#: Headless as root with nothing reaching the network: no sandbox (root), no GPU, no QUIC, no
#: first-run, sync, component or background requests.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,900",
)
#: Title, language, h1/h2 headings and every image's load state, read in the page.
PAGE_INFO_JS = """
return {
  title: document.title,
  lang: document.documentElement.lang,
  headings: Array.from(document.querySelectorAll('h1,h2'))
    .map(h => h.tagName + ' ' + h.textContent.trim()),
  images: Array.from(document.images).map(i => ({
    alt: i.alt, complete: i.complete,
    naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight})),
};
"""


def _find(env: str, names: tuple[str, ...]) -> str | None:
    path = os.environ.get(env)
    if path and Path(path).exists():
        return path
    return next((found for name in names if (found := shutil.which(name))), None)


def find_chromium() -> str | None:
    """Path of a Chromium binary (``$EVALKIT_CHROMIUM`` first, then PATH), or None."""
    return _find("EVALKIT_CHROMIUM", CHROMIUM_NAMES)


def find_chromedriver() -> str | None:
    """Path of chromedriver (``$EVALKIT_CHROMEDRIVER`` first, then PATH), or None."""
    return _find("EVALKIT_CHROMEDRIVER", DRIVER_NAMES)


@dataclass
class PageCheck:
    """What loading one page showed."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    lang: str = ""
    headings: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def broken_images(self) -> list[dict[str, Any]]:
        """Images that did not load or have no pixels."""
        return [i for i in self.images if not i["complete"] or i["naturalWidth"] == 0]


class Chromium:
    """A running headless Chromium under chromedriver; get one from ``start_chromium``."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def errors(self) -> list[str]:
        """Browser-log entries at level SEVERE since the last call (reading empties the log)."""
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def screenshot(self, path: Path) -> Path:
        """Write a PNG of the whole page, beyond the window, to ``path``."""
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def check(self, path: Path, screenshot: Path | None = None, settle: float = 0.5) -> PageCheck:
        """Load ``path`` (a local file), wait for its load event, and inspect it.

        Errors are read ``settle`` seconds after the screenshot, so late ones count too.
        """
        url = Path(path).resolve().as_uri()
        self.errors()  # drop anything left from the previous page
        self.driver.get(url)  # returns after the load event
        result = PageCheck(url, **self.driver.execute_script(PAGE_INFO_JS))
        if screenshot is not None:
            result.screenshot = self.screenshot(screenshot)
        time.sleep(settle)
        result.console_errors = self.errors()
        return result


@contextmanager
def start_chromium(binary: str, driver: str, timeout: float = 60) -> Iterator[Chromium]:
    """Start headless ``binary`` under the chromedriver at ``driver`` with a fresh profile.

    A page that has not loaded within ``timeout`` seconds fails its check.
    """
    profile = tempfile.mkdtemp(prefix="evalkit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # Console messages, uncaught exceptions and failed loads all reach the browser log.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
        try:
            chrome.set_page_load_timeout(timeout)
            yield Chromium(chrome)
        finally:
            chrome.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
