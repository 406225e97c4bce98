"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol on a pipe.

``--remote-debugging-pipe`` makes Chromium read DevTools commands from its fd 3 and write
answers and events to its fd 4, each a JSON text ended by NUL: no port, no websocket library,
nothing listening. The browser gets a new empty profile directory and the flags that keep it
off the network (everything the tests open is on loopback).

Usage::

    with Chromium(workdir) as browser:
        browser.open("http://127.0.0.1:18080/index.php")
        browser.evaluate("document.title")
        png = browser.screenshot()
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-pipe")


def installed() -> str | None:
    return shutil.which("chromium")


class Chromium:
    """One headless browser with one page; ``open``, ``evaluate``, ``screenshot``."""

    def __init__(self, workdir: Path, width: int = 1400, height: int = 900) -> None:
        self.workdir = workdir
        self.width, self.height = width, height
        self.proc: subprocess.Popen[bytes] | None = None
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self.session = ""

    def start(self) -> Chromium:
        program = installed()
        if program is None:
            raise RuntimeError("chromium not installed (Debian: apt-get install chromium)")
        profile = self.workdir / "chromium-profile"
        profile.mkdir(parents=True)
        to_child, self._to_browser = os.pipe()
        self._from_browser, from_child = os.pipe()

        def fds() -> None:  # in the child: the pipe ends as fd 3 (commands) and fd 4 (answers)
            os.dup2(to_child, 3)
            os.dup2(from_child, 4)

        with (self.workdir / "chromium.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [program, *FLAGS, f"--user-data-dir={profile}",
                 f"--window-size={self.width},{self.height}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                pass_fds=(3, 4), preexec_fn=fds,  # 3 and 4 stay open past preexec_fn
            )
        os.close(to_child)
        os.close(from_child)
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t["targetId"] for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page, flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        return self

    def _send(self, method: str, params: dict[str, Any]) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError(f"chromium said nothing for {timeout} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium exited: {self.log_text()[-2000:]}")
            self._buffer += chunk
        text, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(text)
        return message

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> Any:
        """One DevTools command; its result (events meanwhile are kept for ``wait_event``)."""
        wanted = self._send(method, params)
        while True:
            message = self._read(timeout)
            if message.get("id") != wanted:
                if "method" in message:
                    self._events.append(message)
                continue
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            return message.get("result", {})

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method:
                    del self._events[i]
                    return event
            self._events.append(self._read(max(0.1, deadline - time.monotonic())))

    def open(self, url: str, timeout: float = 30.0) -> None:
        """Navigate and wait for the page's load event."""
        self._events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired", timeout)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def screenshot(self) -> bytes:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        return base64.b64decode(data)

    def log_text(self) -> str:
        path = self.workdir / "chromium.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self._send("Browser.close", {})
                self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            for fd in (self._to_browser, self._from_browser):
                os.close(fd)
            self.proc = None

    def __enter__(self) -> Chromium:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
