"""packaging/requirements.txt (scripts/lock-deb) agrees with setup.cfg and pins with hashes."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a pip-compile --generate-hashes file."""
    text = path.read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        found = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)(.*)$", line)
        if found:
            name = re.sub(r"[-_.]+", "-", found.group(1)).lower()
            pins[name] = (found.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return pins


def test_the_lock_satisfies_setup_cfg_and_hashes_every_pin() -> None:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    wanted = [Requirement(line) for line in
              setup["options"]["install_requires"].strip().splitlines()]
    pins = _pins(ROOT / "packaging" / "requirements.txt")
    for requirement in wanted:
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{requirement} is not in the lock: run scripts/lock-deb"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (
            f"{requirement} but the lock has {pins[name][0]}: run scripts/lock-deb")
    build = _pins(ROOT / "packaging" / "build-requirements.txt")
    for name, (_, hashes) in {**pins, **build}.items():
        assert hashes, f"{name} has no hash"
