"""The .deb under test: built once per session by scripts/build-deb, or LINEMON_DEB=path."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.package.debtest import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def deb() -> Path:
    given = os.environ.get("LINEMON_DEB")
    if given:
        return Path(given).resolve()
    started = time.monotonic()
    done = run(str(ROOT / "scripts" / "build-deb"), check=False, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"scripts/build-deb took {time.monotonic() - started:.0f} s")
    built = re.search(r"built (dist/\S+\.deb)", done.stdout)
    assert built, done.stdout[-2000:]
    return ROOT / built.group(1)
