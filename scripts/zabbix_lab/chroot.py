"""The Zabbix 7.0 lab: the same lab (main.py) run inside a Debian 13 chroot, on its own ports.

This module owns the chroot: building it with debootstrap (once; the directory is the cache),
mounting what the daemons need (proc, dev, dev/pts, dev/shm) and unmounting it on `down`,
copying this code in at every command, and translating the lab's paths to the host's in
`env`. Everything else (PostgreSQL, zabbix_server, agent, PHP frontend, packages) is main.py's
work, run by the chroot's python3 with 7.0 settings passed in the environment. The chroot
shares the host's network, so the lab listens on the host's 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from settings import LabError

ROOT_ENV = "LINEMON_ZABBIX7_ROOT"
DEFAULT_ROOT = Path("/var/tmp/linemon-zabbix7-root")
SUITE = "trixie"
# The lab inside the chroot and where this code is copied there (paths seen from inside).
INNER_LAB = Path("/var/lib/linemon-zabbix-lab")
INNER_CODE = Path("/opt/linemon-zabbix-lab")
# Ports distinct from the 6.0 lab's, chosen on the first `up` as main.py does.
RELEASE_ENV = {
    "LINEMON_ZABBIX_LAB_PG_PORT": "25432",
    "LINEMON_ZABBIX_LAB_SERVER_PORT": "20051",
    "LINEMON_ZABBIX_LAB_AGENT_PORT": "20050",
    "LINEMON_ZABBIX_LAB_WEB_PORT": "28080",
    "LINEMON_ZABBIX_LAB_PACKAGES": "postgresql zabbix-server-pgsql zabbix-frontend-php "
    "php-pgsql zabbix-agent php8.4-cli php8.4-cgi",
    "LINEMON_ZABBIX_LAB_RELEASE": "7.0",
    "LINEMON_ZABBIX_LAB_PROXY": "1",  # zabbix_proxy 7.0 for the proxy-group tests
}
# Mounted in this order on `up`, unmounted in reverse on `down`: (target, mount arguments).
_SYSTEM_MOUNTS = (
    ("proc", ["-t", "proc", "proc"]),
    ("dev", ["--bind", "/dev"]),
    ("dev/pts", ["--bind", "/dev/pts"]),
    ("dev/shm", ["-t", "tmpfs", "-o", "mode=1777", "shm"]),
)
_NO_STARTS = "#!/bin/sh\n# linemon zabbix-lab7: services are started by the lab, never by dpkg\n"


def _say(message: str) -> None:
    print(f"zabbix-lab7: {message}", flush=True)


def _root(environ: Mapping[str, str]) -> Path:
    return Path(environ.get(ROOT_ENV) or DEFAULT_ROOT).absolute()


def _mirror() -> str:
    """The Debian mirror apt already uses here (deb822 or one-line sources)."""
    for path in sorted(Path("/etc/apt").glob("sources.list*")) + sorted(
        Path("/etc/apt/sources.list.d").glob("*")
    ):
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] and "security" not in words[1]:
                return words[1]
            if words[:1] == ["deb"] and "security" not in line:
                return next(w for w in words[1:] if "://" in w)
    return "http://deb.debian.org/debian"


def _run(argv: list[str], timeout: float = 3600) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise LabError(f"`{shlex.join(argv)}` failed ({done.returncode}): "
                       f"{(done.stderr or done.stdout)[-2000:]}")


def ensure_root(root: Path) -> bool:
    """debootstrap a minimal trixie with python3 into `root` once; True if it built it.

    It is built in `root`.partial and renamed when complete, so an interrupted build is
    started over rather than used. The Zabbix packages are installed by main.py's `up`.
    """
    if (root / "usr/bin/python3").exists():
        return False
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap is missing: apt-get install debootstrap")
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "usr/sbin").mkdir(parents=True)
    (partial / "usr/sbin/policy-rc.d").write_text(_NO_STARTS + "exit 101\n")
    (partial / "usr/sbin/policy-rc.d").chmod(0o755)
    mirror = _mirror()
    _say(f"debootstrap {SUITE} from {mirror} into {partial}")
    _run(["debootstrap", "--variant=minbase", "--include=python3,ca-certificates", SUITE,
          str(partial), mirror])
    partial.rename(root)
    return True


def _mounted() -> set[str]:
    lines = Path("/proc/self/mounts").read_text().splitlines()
    return {line.split()[1] for line in lines}


def mount(root: Path) -> bool:
    """Mount what the lab needs inside the chroot; True if anything was mounted.

    Only kernel file systems, never a bind of a host directory on the same file system:
    `rm -rf --one-file-system` of the chroot then cannot reach beyond it, even when mounted.
    """
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")  # for apt-get in `up`
    done = _mounted()
    changed = False
    for target, args in _SYSTEM_MOUNTS:
        where = root / target
        if str(where) in done:
            continue
        where.mkdir(parents=True, exist_ok=True)
        _run(["mount", *args, str(where)])
        changed = True
    return changed


def copy_code(root: Path) -> None:
    """Put this directory's modules in the chroot, so it runs the code of this checkout."""
    target = root / str(INNER_CODE).lstrip("/")
    target.mkdir(parents=True, exist_ok=True)
    for module in Path(__file__).resolve().parent.glob("*.py"):
        shutil.copyfile(module, target / module.name)


def unmount(root: Path) -> bool:
    """Undo mount(), innermost first; True if anything was unmounted."""
    done = _mounted()
    changed = False
    for target in reversed([t for t, _ in _SYSTEM_MOUNTS]):
        if str(root / target) in done:
            _run(["umount", str(root / target)])
            changed = True
    return changed


def inner(
    root: Path, args: list[str], *, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run main.py with `args` inside the chroot with the 7.0 lab's settings."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "LINEMON_ZABBIX_LAB_DIR": str(INNER_LAB), **RELEASE_ENV}
    return subprocess.run(
        ["chroot", str(root), "python3", str(INNER_CODE / "main.py"), *args],
        env=env, text=True, capture_output=capture, check=False, cwd="/",
    )


def host_env(root: Path, exports: dict[str, str]) -> dict[str, str]:
    """The lab's exports with the paths inside the chroot turned into the host's paths.

    The lab directory is exported as LINEMON_ZABBIX7_LAB_DIR, never LINEMON_ZABBIX_LAB_DIR:
    with that, `scripts/zabbix-lab` (the host's binaries) would act on the chroot's lab.
    """
    out = dict(exports)
    out["LINEMON_ZABBIX7_LAB_DIR"] = str(root / out.pop("LINEMON_ZABBIX_LAB_DIR").lstrip("/"))
    include = out["LINEMON_ZABBIX_AGENT_INCLUDE_DIR"]
    out["LINEMON_ZABBIX_AGENT_INCLUDE_DIR"] = str(root / include.lstrip("/"))
    out["LINEMON_ZABBIX_VERSION"] = RELEASE_ENV["LINEMON_ZABBIX_LAB_RELEASE"]
    out[ROOT_ENV] = str(root)
    return out


def _timed(label: str, changed: bool, start: float) -> None:
    if changed:
        _say(f"{label} ({time.monotonic() - start:.1f} s)")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: zabbix-lab7 up|down|reset|env [--json]|status [-q]|reload|"
              "restart-agent|purge\nA private Zabbix 7.0 lab (Debian 13 chroot in "
              f"${ROOT_ENV}, default {DEFAULT_ROOT}) on 127.0.0.1 ports "
              f"{RELEASE_ENV['LINEMON_ZABBIX_LAB_WEB_PORT']} (API), "
              f"{RELEASE_ENV['LINEMON_ZABBIX_LAB_SERVER_PORT']} (trapper).")
        return 0 if argv else 2
    root, command = _root(os.environ), argv[0]
    try:
        if os.geteuid() != 0:
            raise LabError("run as root: the 7.0 lab builds and mounts a chroot")
        if command == "up":
            start = time.monotonic()
            _timed("chroot built", ensure_root(root), start)
            step = time.monotonic()
            _timed("chroot mounted", mount(root), step)
            copy_code(root)
            done = inner(root, argv)
            _say(f"up in {time.monotonic() - start:.1f} s" if done.returncode == 0 else "up failed")
            return done.returncode
        if not (root / "usr/bin/python3").exists() or str(root / "proc") not in _mounted():
            if command in ("down", "purge"):
                unmount(root)
                _say("down (the chroot was not mounted)")
                return 0
            raise LabError(f"the 7.0 lab is not up (no mounted chroot in {root}): "
                           "run scripts/zabbix-lab7 up")
        copy_code(root)
        if command == "env":
            done = inner(root, ["env", "--json"], capture=True)
            if done.returncode != 0:
                sys.stderr.write(done.stderr)
                return done.returncode
            exports = host_env(root, json.loads(done.stdout))
            if "--json" in argv:
                print(json.dumps(exports, indent=2))
            else:
                print("".join(f"export {k}={shlex.quote(v)}\n" for k, v in exports.items()), end="")
            return 0
        code = inner(root, argv).returncode
        if command in ("down", "purge") and code == 0 and unmount(root):
            _say("chroot unmounted")
        return code
    except LabError as exc:
        print(f"zabbix-lab7: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
