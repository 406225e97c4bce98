"""The `scripts/zabbix-lab` commands: bring a private Zabbix 6.0 up, down, reset; print its env."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import daemons
import postgres
import procs
import settings
import tls
from settings import PACKAGES, Lab, LabError

_POLICY_RC = Path("/usr/sbin/policy-rc.d")


def _say(message: str) -> None:
    print(f"zabbix-lab: {message}", flush=True)


def _timed(label: str, step: Callable[[], bool]) -> None:
    """Run a step; report it (with its duration) only when it changed something."""
    start = time.monotonic()
    if step():
        _say(f"{label} ({time.monotonic() - start:.1f} s)")


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError(
            "run as root: the lab installs packages, runs daemons as postgres, zabbix and "
            "www-data, and writes /etc/zabbix/zabbix.conf.php"
        )


@contextmanager
def _locked(lab: Lab) -> Iterator[None]:
    """One lab-changing command at a time (two test sessions may reset at once)."""
    lab.root.mkdir(parents=True, exist_ok=True)
    lab.root.chmod(0o755)
    with lab.lock_file.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _missing_packages() -> list[str]:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n", *PACKAGES],
        capture_output=True, text=True, check=False,
    )
    installed = {
        line.split()[0] for line in done.stdout.splitlines() if line.endswith(" installed")
    }
    return [name for name in PACKAGES if name not in installed]


def _ensure_packages() -> bool:
    """apt-get install what is missing, with service starts forbidden (we start our own)."""
    missing = _missing_packages()
    if not missing:
        return False
    _say(f"installing {' '.join(missing)} (apt-get update, then install)")
    os.environ["DEBIAN_FRONTEND"] = "noninteractive"
    own_policy = not _POLICY_RC.exists()
    if own_policy:
        _POLICY_RC.write_text("#!/bin/sh\n# zabbix-lab: no service starts now\nexit 101\n")
        _POLICY_RC.chmod(0o755)
    try:
        procs.run(["apt-get", "update", "-qq"], timeout=600)
        procs.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
            timeout=1200,
        )
    finally:
        if own_policy:
            _POLICY_RC.unlink(missing_ok=True)
    return True


def _ensure_proxy() -> bool:
    """Unpack Debian's zabbix_proxy (SQLite3) under PROXY_ROOT and link it into /usr/sbin."""
    program = settings.PROXY_ROOT / "usr" / "sbin" / "zabbix_proxy"
    if not settings.WITH_PROXY or (program.exists() and settings.PROXY_LINK.exists()):
        return False
    if not program.exists():
        with tempfile.TemporaryDirectory() as tmp:
            fetch = f"cd {shlex.quote(tmp)} && apt-get download -qq {settings.PROXY_PACKAGE}"
            procs.run(["sh", "-c", fetch], timeout=600)
            (deb,) = Path(tmp).glob("*.deb")
            procs.run(["dpkg-deb", "-x", str(deb), str(settings.PROXY_ROOT)])
    if not settings.PROXY_LINK.exists():
        settings.PROXY_LINK.symlink_to(program)
    return True


def _ensure_locale() -> bool:
    """Generate en_US.UTF-8 (the Admin's language) if missing: without it the frontend puts a
    "Locale for language en_US is not found" error on every page and chart, and the API
    refuses to create a user with a language. PHP reads it at start: run before the frontend."""
    have = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout
    if "en_US.utf8" in have.split() or not Path("/usr/share/i18n/locales/en_US").exists():
        return False
    procs.run(["localedef", "-i", "en_US", "-f", "UTF-8", "en_US.UTF-8"], timeout=120)
    return True


def _check_root_reachable(lab: Lab) -> None:
    """The daemons run as other users: every directory above the lab must let them through."""
    for parent in [lab.root, *lab.root.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise LabError(
                f"{parent} is not searchable by other users, so postgres and zabbix cannot "
                f"reach the lab in {lab.root}: choose another LINEMON_ZABBIX_LAB_DIR"
            )


def _check_ports(lab: Lab) -> None:
    """Before starting anything: each port the lab will listen on must be ours or free."""
    owners = {
        "pg_port": ("PostgreSQL", postgres.pid(lab)),
        "server_port": ("zabbix_server", daemons.server_pid(lab)),
        "agent_port": ("zabbix_agentd", daemons.agent_pid(lab)),
        "web_port": ("the PHP frontend", daemons.web_pid(lab)),
    }
    for field, (what, pid) in owners.items():
        if pid is None:
            procs.require_free(getattr(lab, field), what, settings.PORTS[field][0])


def _ensure_tls(lab: Lab) -> bool:
    """The lab's CA, certificates and PSK; a running server is stopped to load new ones."""
    if not settings.WITH_TLS or not tls.available() or not tls.ensure(lab):
        return False
    daemons.stop_server(lab)
    return True


def _bring_up(lab: Lab) -> None:
    _check_ports(lab)
    _timed("postgresql started", lambda: postgres.start(lab))
    _timed("pristine database loaded", lambda: postgres.ensure_pristine(lab))
    _timed("working database cloned", lambda: postgres.ensure_work_db(lab))
    _timed("TLS files made", lambda: _ensure_tls(lab))
    _timed("zabbix_server started", lambda: daemons.start_server(lab))
    _timed("zabbix_agentd started", lambda: daemons.start_agent(lab))
    _timed("frontend started", lambda: daemons.start_web(lab))
    daemons.check_login(lab)
    settings.save(lab)


def cmd_up(lab: Lab) -> int:
    start = time.monotonic()
    _require_root()
    _check_root_reachable(lab)
    with _locked(lab):
        _timed("packages installed", _ensure_packages)
        _timed("zabbix_proxy unpacked", _ensure_proxy)
        _timed("locale en_US.UTF-8 generated", _ensure_locale)
        _bring_up(lab)
    _say(f"up in {time.monotonic() - start:.1f} s: {lab.url} (eval \"$(scripts/zabbix-lab env)\")")
    return 0


def cmd_reset(lab: Lab) -> int:
    start = time.monotonic()
    _require_root()
    with _locked(lab):
        _timed("zabbix_server stopped", lambda: daemons.stop_server(lab))
        _check_ports(lab)
        _timed("postgresql started", lambda: postgres.start(lab))
        postgres.drop_work_db(lab)
        _bring_up(lab)
    _say(f"reset in {time.monotonic() - start:.1f} s: a fresh working database")
    return 0


def _stop_all(lab: Lab) -> None:
    _timed("frontend stopped", lambda: daemons.stop_web(lab))
    _timed("zabbix_agentd stopped", lambda: daemons.stop_agent(lab))
    _timed("zabbix_server stopped", lambda: daemons.stop_server(lab))
    _timed("postgresql stopped", lambda: postgres.stop(lab))


def cmd_down(lab: Lab) -> int:
    _require_root()
    if lab.root.exists():
        with _locked(lab):
            _stop_all(lab)
    _say("down")
    return 0


def cmd_purge(lab: Lab) -> int:
    """Stop everything, remove the lab directory, and put the frontend config back."""
    _require_root()
    if lab.root.exists():
        if not lab.state_file.exists() and not lab.pg_dir.exists():
            raise LabError(f"{lab.root} does not look like a zabbix-lab directory; not removing it")
        with _locked(lab):
            _stop_all(lab)
            shutil.rmtree(lab.root)
    daemons.restore_frontend_conf()
    _say(f"purged {lab.root}")
    return 0


def cmd_status(lab: Lab, quiet: bool) -> int:
    version = daemons.api_version(lab) if daemons.web_pid(lab) else None
    checks = [
        ("postgresql", postgres.is_up(lab), f"{settings.LISTEN}:{lab.pg_port}"),
        ("zabbix_server", daemons.server_is_up(lab), f"{settings.LISTEN}:{lab.server_port}"),
        ("zabbix_agentd", daemons.agent_is_up(lab), f"{settings.LISTEN}:{lab.agent_port}"),
        ("frontend", version is not None, f"{lab.url} (API {version or '?'})"),
    ]
    if not quiet:
        for name, ok, where in checks:
            print(f"{name:14} {'up' if ok else 'DOWN':5} {where}")
    return 0 if all(ok for _, ok, _ in checks) else 1


def cmd_env(lab: Lab, as_json: bool) -> int:
    exports = lab.exports()
    if as_json:
        print(json.dumps(exports, indent=2))
    else:
        for name, value in exports.items():
            print(f"export {name}={shlex.quote(value)}")
    return 0


def cmd_reload(lab: Lab) -> int:
    daemons.reload_config_cache(lab)
    return 0


def cmd_restart_agent(lab: Lab) -> int:
    _require_root()
    with _locked(lab):
        daemons.stop_agent(lab)
        _timed("zabbix_agentd restarted", lambda: daemons.start_agent(lab))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zabbix-lab",
        description="A private Zabbix 6.0 (PostgreSQL, server, agent, API) on loopback, "
        "for integration tests. State lives in $LINEMON_ZABBIX_LAB_DIR "
        f"(default {settings.DEFAULT_DIR}).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="install if needed, start everything, wait for the API")
    sub.add_parser("down", help="stop everything (server before PostgreSQL); keep the data")
    sub.add_parser("reset", help="a fresh working database cloned from the pristine one")
    env = sub.add_parser("env", help="print shell exports (eval \"$(scripts/zabbix-lab env)\")")
    env.add_argument("--json", action="store_true", help="print a JSON object instead")
    status = sub.add_parser("status", help="show what runs; exit 0 only when all is up")
    status.add_argument("-q", "--quiet", action="store_true", help="exit status only")
    sub.add_parser("reload", help="reload the server's configuration cache now")
    sub.add_parser("restart-agent", help="restart the agent (to read new UserParameter files)")
    sub.add_parser("purge", help="down, delete the lab directory, restore the frontend config")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        lab = settings.load()
        commands: dict[str, Callable[[], int]] = {
            "up": lambda: cmd_up(lab),
            "down": lambda: cmd_down(lab),
            "reset": lambda: cmd_reset(lab),
            "env": lambda: cmd_env(lab, args.json),
            "status": lambda: cmd_status(lab, args.quiet),
            "reload": lambda: cmd_reload(lab),
            "restart-agent": lambda: cmd_restart_agent(lab),
            "purge": lambda: cmd_purge(lab),
        }
        return commands[args.command]()
    except LabError as exc:
        print(f"zabbix-lab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
