"""A clean Debian 12 root for the package tests: debootstrap once (cached), an overlay per test.

The base is `debootstrap --variant=minbase bookworm` plus, in its apt cache only, the .debs the
tests install (the package's dependencies and Debian's two Zabbix agents): nothing is installed
in it, so every test starts from what an operator's minimal Debian 12 has, and installs without
fetching. It is built in `<cache>/base.partial` and renamed when complete, rebuilt after
MAX_AGE_S (new point releases), and kept in LINEMON_DEB_ROOT (default DEFAULT_CACHE). Each test
gets a writable overlay on it in `<cache>/run-<pid>-<name>`, removed afterwards: the base
stays clean. The mounts, the mirror and the no-services policy are the 7.0 lab's
(scripts/zabbix_lab/chroot.py); package installs start no services.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import CompletedProcess

from tests.package.debtest import run

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "zabbix_lab"))
import chroot as lab_chroot  # noqa: E402  (the lab's chroot helpers: mounts, mirror)

sys.path.remove(str(ROOT / "scripts" / "zabbix_lab"))

SUITE = "bookworm"
DEFAULT_CACHE = Path("/var/tmp/linemon-deb-root-bookworm")
MAX_AGE_S = 7 * 24 * 3600
AGENTS = ("zabbix-agent", "zabbix-agent2")
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
              "DEBIAN_FRONTEND": "noninteractive"}


def cache_dir() -> Path:
    return Path(os.environ.get("LINEMON_DEB_ROOT") or DEFAULT_CACHE).absolute()


def _mounted_under(path: Path) -> list[str]:
    lines = Path("/proc/self/mounts").read_text().splitlines()
    return [line.split()[1] for line in lines if line.split()[1].startswith(f"{path}/")]


def _remove(path: Path) -> None:
    """rm -rf a root that must not be mounted (and never crosses into another file system)."""
    mounted = _mounted_under(path)
    assert mounted == [], f"still mounted, not removing {path}: {mounted}"
    if path.exists():
        run("rm", "-rf", "--one-file-system", str(path))


def depends(deb: Path) -> list[str]:
    """The package names the .deb depends on (first of each alternative, versions dropped)."""
    field = run("dpkg-deb", "-f", str(deb.resolve()), "Depends").stdout
    return sorted({alt.split("|")[0].split("(")[0].strip() for alt in field.split(",")} - {""})


def ensure_base(deb: Path) -> Path:
    """The cached clean root, built first if missing or older than MAX_AGE_S."""
    cache = cache_dir()
    base, ready = cache / "base", cache / "base.ready"
    if ready.exists() and time.time() - ready.stat().st_mtime < MAX_AGE_S:
        return base
    assert shutil.which("debootstrap"), "debootstrap is missing: apt-get install debootstrap"
    cache.mkdir(parents=True, exist_ok=True)
    ready.unlink(missing_ok=True)
    partial = cache / "base.partial"
    lab_chroot.unmount(partial)
    _remove(partial)
    _remove(base)
    run("debootstrap", "--variant=minbase", SUITE, str(partial), lab_chroot._mirror(),
        timeout=1800)
    policy = partial / "usr/sbin/policy-rc.d"
    policy.write_text(lab_chroot._NO_STARTS + "exit 101\n")
    policy.chmod(0o755)
    lab_chroot.mount(partial)
    try:
        inside(partial, "apt-get", "update", "-qq")
        inside(partial, "apt-get", "install", "--download-only", "-y", "-q",
               *depends(deb), *AGENTS)
    finally:
        lab_chroot.unmount(partial)
    partial.rename(base)
    ready.touch()
    return base


def inside(root: Path, *args: str, check: bool = True,
           timeout: float = 900) -> CompletedProcess[str]:
    """Run a command in `root` with a clean environment."""
    env = [f"{key}={value}" for key, value in CHROOT_ENV.items()]
    return run("chroot", str(root), "env", "-i", *env, *args, check=check, timeout=timeout)


@contextmanager
def overlay(base: Path, name: str) -> Iterator[Path]:
    """A writable root over the clean base, with proc and dev mounted; removed on exit."""
    work = cache_dir() / f"run-{os.getpid()}-{name}"
    _remove(work)
    for part in ("upper", "work", "root"):
        (work / part).mkdir(parents=True)
    root = work / "root"
    run("mount", "-t", "overlay", "overlay", "-o",
        f"lowerdir={base},upperdir={work / 'upper'},workdir={work / 'work'}", str(root))
    try:
        lab_chroot.mount(root)
        yield root
    finally:
        lab_chroot.unmount(root)
        run("umount", str(root))
        _remove(work)
