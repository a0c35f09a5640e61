"""A minimal Chrome DevTools Protocol driver for the browser tests (test-only code).

Drives Debian's Chromium (``/usr/bin/chromium``) headless through its DevTools WebSocket with the
``websockets`` package already in the lock, so nothing downloads a browser of its own. It loads a
page, collects console errors, uncaught exceptions and failed resource loads, checks every image
rendered, and takes a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """Path of a Chromium binary on PATH (``$EVALKIT_CHROMIUM`` first), or None."""
    env = os.environ.get("EVALKIT_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chromium:
    """A headless Chromium process with a DevTools endpoint; use as a context manager."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = _free_port()
        self.profile = tempfile.mkdtemp(prefix="evalkit-chromium-")
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Chromium:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                f"--remote-debugging-port={self.port}",
                f"--user-data-dir={self.profile}",
                "--window-size=1280,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/json/version", timeout=1
                ):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("Chromium's DevTools endpoint did not come up within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _page_ws(self) -> str:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT"
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())["webSocketDebuggerUrl"]

    def check(self, path: Path, screenshot: Path | None = None, timeout: float = 60) -> PageCheck:
        """Load ``path`` (a local file), wait for load, and inspect it."""
        from websockets.sync.client import connect

        url = Path(path).resolve().as_uri()
        result = PageCheck(url)
        with connect(self._page_ws(), max_size=None, open_timeout=10) as ws:
            counter = iter(range(1, 1_000_000))

            def send(method: str, **params: Any) -> int:
                i = next(counter)
                ws.send(json.dumps({"id": i, "method": method, "params": params}))
                return i

            def note(msg: dict[str, Any]) -> None:
                m, p = msg.get("method"), msg.get("params", {})
                if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    args = " ".join(
                        str(a.get("value", a.get("description", ""))) for a in p["args"]
                    )
                    result.console_errors.append(f"console.{p['type']}: {args}")
                elif m == "Runtime.exceptionThrown":
                    d = p.get("exceptionDetails", {})
                    result.console_errors.append(
                        f"exception: {d.get('text')} "
                        f"{d.get('exception', {}).get('description', '')}"
                    )
                elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                    e = p["entry"]
                    result.console_errors.append(f"log: {e.get('text')} {e.get('url', '')}")

            def call(method: str, **params: Any) -> dict[str, Any]:
                i = send(method, **params)
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    msg = json.loads(ws.recv(timeout=timeout))
                    if msg.get("id") == i:
                        if "error" in msg:
                            raise RuntimeError(f"{method}: {msg['error']}")
                        return msg.get("result", {})
                    note(msg)
                raise TimeoutError(method)

            for domain in ("Page", "Runtime", "Log"):
                call(f"{domain}.enable")
            call("Page.navigate", url=url)
            deadline = time.monotonic() + timeout
            loaded = False
            while time.monotonic() < deadline and not loaded:
                msg = json.loads(ws.recv(timeout=timeout))
                note(msg)
                loaded = msg.get("method") == "Page.loadEventFired"
            if not loaded:
                raise TimeoutError(f"{url} did not finish loading in {timeout} s")
            script = (
                "JSON.stringify({title: document.title, lang: document.documentElement.lang, "
                "headings: Array.from(document.querySelectorAll('h1,h2'))"
                ".map(h => h.tagName + ' ' + h.textContent.trim()), "
                "images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, "
                "naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}))})"
            )
            info = json.loads(
                call("Runtime.evaluate", expression=script, returnByValue=True)["result"]["value"]
            )
            result.title, result.lang = info["title"], info["lang"]
            result.headings, result.images = info["headings"], info["images"]
            if screenshot is not None:
                shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
                result.screenshot = screenshot
            # Drain anything that arrived after load (late console errors).
            try:
                while True:
                    note(json.loads(ws.recv(timeout=0.5)))
            except TimeoutError:
                pass
        return result
