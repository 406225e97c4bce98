"""`linemon` runnable by a Zabbix agent's user, a socket directory that user may enter, and
the broker behind it for the agent tests (zabbix_agentd and zabbix_agent2).

Agents run UserParameters as user zabbix, which cannot run the project's venv (its
interpreter lives under /root, mode 0700). The client path (entry -> clientcli -> client ->
protocol) is stdlib only, so this copies linemon_agent into a world-readable directory and
puts a `linemon` script there for Debian's /usr/bin/python3: what the console script does,
plus the test broker's socket as the default. Measured (CPU seconds, getrusage): copy +
compileall 0.09 s; a venv from /usr/bin/python3 costs 3.5 s with pip before the project is
even installed. Both run the same client code.

The socket's directory is like the package's /run/linemon: group ``group``, mode 0750, so
the agent gets in as a group member and other users do not.
"""

from __future__ import annotations

import grp
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.functional.broker_proc import BrokerProcess

REPO = Path(__file__).resolve().parents[2]
WRAPPER = '''#!/usr/bin/python3 -I
"""linemon for a test agent: a copy of linemon_agent, the test broker's socket by default."""
import os
import sys

sys.path.insert(0, {lib!r})
os.environ.setdefault("LINEMON_SOCKET", {socket!r})
from linemon_agent.entry import main

main()
'''


EXTCHECK = '''#!/usr/bin/python3 -I
"""linemon as a test server's external check: the client copy, the test broker's socket."""
import os
import sys

sys.path.insert(0, {lib!r})
os.environ.setdefault("LINEMON_SOCKET", {socket!r})
from linemon_agent.extcheck import run

run()
'''


def chroot_gid(chroot: Path, group: str) -> int:
    """``group``'s id in the chroot's /etc/group (the 7.0 lab's agent runs there)."""
    for line in (chroot / "etc" / "group").read_text().splitlines():
        name, _, number, *_ = line.split(":")
        if name == group:
            return int(number)
    raise LookupError(f"no group {group} in {chroot}/etc/group")


def install_client(root: Path, group: str, chroot: Path | None = None) -> tuple[Path, Path]:
    """Make ``root`` hold the client copy; return (the `linemon` program, the socket path).

    With ``chroot`` (``root`` inside it), for an agent that runs there: the program names
    the paths as seen inside, the byte-code is the chroot's python's and the directory's
    group is the chroot's ``group``. The returned paths are the host's."""
    def inner(path: Path) -> Path:
        return path if chroot is None else Path("/") / path.relative_to(chroot)

    root.chmod(0o755)  # the program, like /usr/lib/linemon-agent: anyone may run it
    lib = root / "lib"
    shutil.copytree(REPO / "linemon_agent", lib / "linemon_agent",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # byte-code made now, as root: the agent's user cannot write __pycache__ here
    python = ["/usr/bin/python3"] if chroot is None else ["chroot", str(chroot), "python3"]
    subprocess.run([*python, "-m", "compileall", "-q", str(inner(lib))], check=True)
    run = root / "run"
    run.mkdir()
    os.chown(run, 0, grp.getgrnam(group).gr_gid if chroot is None else chroot_gid(chroot, group))
    run.chmod(0o750)
    socket = run / "broker.sock"
    linemon = root / "linemon"
    linemon.write_text(WRAPPER.format(lib=str(inner(lib)), socket=str(inner(socket))))
    linemon.chmod(0o755)
    return linemon, socket


def install_extcheck(lib: Path, socket: Path, scripts_dir: Path) -> Path:
    """Put `linemon` into a Zabbix server's ExternalScripts ``scripts_dir``: the external check
    (linemon_agent/extcheck.py) of the client copy that install_client made (``lib`` is its
    ``lib`` and ``socket`` its socket, as the server sees them: inside its chroot, if any)."""
    script = scripts_dir / "linemon"
    script.write_text(EXTCHECK.format(lib=str(lib), socket=str(socket)))
    script.chmod(0o755)
    return script


def drop_in(name: str, linemon: Path | str) -> str:
    """The shipped agent drop-in ``name`` with only the path of `linemon` replaced."""
    conf = (REPO / "zabbix_templates" / "agent" / name).read_text()
    assert conf.count("/usr/bin/linemon") == 5, "the drop-in's commands changed: update tests"
    return conf.replace("/usr/bin/linemon", str(linemon))


def gid(group: str) -> int:
    return grp.getgrnam(group).gr_gid


def zabbix_get(port: int, key: str) -> str:
    """Ask the agent on 127.0.0.1:``port`` for ``key``; its answer or zabbix_get's error."""
    done = subprocess.run(["zabbix_get", "-s", "127.0.0.1", "-p", str(port), "-k", key,
                           "-t", "10"], capture_output=True, text=True, timeout=20, check=False)
    return done.stdout.strip() + done.stderr.strip()


def agent_broker(work: Path, socket: Path, group: str, trapper: tuple[str, int],
                 routers: dict[str, str], lines: dict[str, tuple[str, str]],
                 zabbix_host: str) -> BrokerProcess:
    """A broker on the emulator's IOS-XE ``routers`` (name -> address, password lab-pw) with
    file-defined ``lines`` (id -> (router, target)) reporting to ``zabbix_host`` as
    ``linemon.result[<id>]``, its socket at ``socket`` for ``group`` (mode 0660).

    Interval one day: a scheduled ping falls inside a test about once in a thousand runs (and
    would only add a value), so the values seen come from the pings the agent queues.
    """
    secret = work / "router-pw"
    secret.write_text("lab-pw\n")
    secret.chmod(0o600)
    doc: dict[str, Any] = {
        "broker": {"socket": str(socket), "socket_group": group, "socket_mode": "0660",
                   "host_key_policy": "tofu"},
        "zabbix": {"server": trapper[0], "port": trapper[1], "flush_interval": 0.3},
        "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
        "routers": [{"name": name, "host": ip, "platform": "cisco_iosxe"}
                    for name, ip in routers.items()],
        "lines": [{"id": line_id, "router": router, "target": target, "interval": 86400,
                   "zabbix_host": zabbix_host, "zabbix_key": f"linemon.result[{line_id}]"}
                  for line_id, (router, target) in lines.items()],
    }
    process = BrokerProcess(work, doc)
    process.socket = socket  # where it waits for the broker and points clients
    return process
