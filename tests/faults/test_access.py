"""Access and secrets through the running broker: the socket refuses users outside its group
(exit 77, a clear message), a loose password file stops the start, and planted router
passwords (from a file and from the environment) appear nowhere an operator or another user
can read: logs in both formats, error messages, ``status``/``routers``/``lines`` JSON,
``/metrics``, the process's command line and thread names. Figures are printed (``-s``)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess, emulator_routers

REPO = Path(__file__).resolve().parents[2]
SOCKET_GROUP = "daemon"  # a group nobody is not in; a member of it may use the socket
OUTSIDER = 65534  # nobody / nogroup
TARGET = "198.51.100.11"


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user may traverse (pytest's tmp_path is 0700), for the socket."""
    path = Path(tempfile.mkdtemp(prefix="linemon-h6-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _client_as(socket: Path, uid: int, gid: int, groups: str, *args: str) -> Any:
    """``linemon ARGS`` as another user. The venv's python lives under /root (0700), so the
    client runs on the system python with the repository on its path (it needs stdlib only)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the client as another user")
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}"]
    cmd += [f"--groups={groups}"] if groups else ["--clear-groups"]
    code = "import sys; from linemon_agent.entry import main; sys.argv[0] = 'linemon'; main()"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "LINEMON_SOCKET": str(socket)}
    return subprocess.run(
        [*cmd, "/usr/bin/python3", "-c", code, *args],
        capture_output=True, text=True, env=env, timeout=30,
    )


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return str(reply.read().decode())


def test_loose_password_file_stops_the_start(tmp_path: Path) -> None:
    planted = f"loose-{secrets.token_hex(8)}"
    pw = tmp_path / "pw"
    pw.write_text(planted + "\n")
    pw.chmod(0o644)
    doc = {
        "zabbix": {"server": "127.0.0.1", "port": 9},
        "credentials": {"default": {"username": "lab", "password_file": str(pw)}},
        "routers": [{"name": "r1", "host": "127.36.2.1", "platform": "cisco_iosxe"}],
    }
    broker = BrokerProcess(tmp_path, doc)
    with pytest.raises(RuntimeError) as refused:
        broker.start(wait=15)
    assert broker.proc is not None and broker.proc.returncode == 78
    text = str(refused.value)
    assert f"chmod 600 {pw}" in text and planted not in text
    print("FIGURES", json.dumps({"loose_file_exit": 78, "secret_in_message": 0}))


def test_socket_group_and_planted_secrets(
    tmp_path: Path, open_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_secret = f"PlantedFile-{secrets.token_hex(8)}"
    env_secret = f"PlantedEnv-{secrets.token_hex(8)}"
    monkeypatch.setenv("H6_ROUTER_PASSWORD", env_secret)
    (tmp_path / "emu").mkdir()
    routers = {
        "filepw": {"password": file_secret},
        "envpw": {"password": env_secret},
        "badauth": {"password": "not-what-the-broker-sends"},  # refuses the planted password
        "gone": {"password": file_secret, "faults": {"down": True}},
    }
    config = {
        "time_scale": 0.05,
        "defaults": {"username": "lab"},
        "routers": {
            name: {"host": f"127.36.2.{i + 1}", "port": 0, "platform": "cisco_iosxe",
                   "targets": {TARGET: {"rtt_ms": 2}}, **extra}
            for i, (name, extra) in enumerate(routers.items())
        },
    }
    pw = tmp_path / "pw"
    pw.write_text(file_secret + "\n")
    pw.chmod(0o600)
    with Emulator(config, workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        profile = {"envpw": "viaenv"}
        doc: dict[str, Any] = {
            "broker": {
                "socket": str(open_dir / "broker.sock"),
                "socket_group": SOCKET_GROUP,
                "host_key_policy": "insecure",
                "metrics_listen": "127.36.2.100:0",
                "log_level": "debug",
            },
            "zabbix": {"server": "127.0.0.1", "port": trapper.port, "flush_interval": 0.3},
            "credentials": {
                "default": {"username": "lab", "password_file": str(pw)},
                "viaenv": {"username": "lab", "password_env": "H6_ROUTER_PASSWORD"},
            },
            "routers": [
                {**r, "credentials": profile.get(r["name"], "default")}
                for r in emulator_routers(emulator, routers)
            ],
            "lines": [
                {"id": n, "router": n, "target": TARGET, "count": 2, "interval": 10}
                for n in routers
            ],
        }
        seen: list[tuple[str, str]] = []  # (where, text) searched for the secrets
        for log_format in ("logfmt", "json"):
            statuses: dict[str, str] = {}
            mark = len(trapper.values())
            doc["broker"]["log_format"] = log_format
            broker = BrokerProcess(tmp_path, doc)
            broker.socket = open_dir / "broker.sock"
            with broker:
                assert broker.proc is not None
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and len(statuses) < len(routers):
                    for value in trapper.values()[mark:]:
                        data = json.loads(value.value)
                        statuses[data["line"]] = data["status"]
                    time.sleep(0.2)
                # Access: outside the group refused with exit 77; a member is served.
                outsider = _client_as(broker.socket, OUTSIDER, OUTSIDER, "", "status", "--json")
                member = _client_as(broker.socket, OUTSIDER, OUTSIDER, "1", "status", "--json")
                assert outsider.returncode == 77, outsider
                assert "permission denied" in outsider.stderr and "group" in outsider.stderr
                assert member.returncode == 0, member
                seen.append(("status-as-member", member.stdout))
                status = broker.client_json("status", "--json")
                for args in (("status", "--json"), ("routers", "--json"), ("lines", "--json"),
                             ("result", "nosuchline"), ("lines", "--router", "nosuch"),
                             ("ping", "badauth", TARGET, "--wait"),
                             ("ping", "filepw", TARGET, "--wait")):
                    done = broker.client(*args)
                    seen.append((" ".join(args), done.stdout + done.stderr))
                seen.append(("metrics", _get(f"http://{status['metrics']['listen']}/metrics")))
                proc = Path(f"/proc/{broker.proc.pid}")
                seen.append(("cmdline", (proc / "cmdline").read_bytes().decode(errors="replace")))
                seen.append(("comm", (proc / "comm").read_text()))
                for task in (proc / "task").iterdir():
                    seen.append(("thread-comm", (task / "comm").read_text()))
                # environ holds the env secret by design (password_env): only its owner and
                # root may read it; the unit's LoadCredential (password_credential) avoids it.
                assert (proc / "environ").stat().st_mode & 0o077 == 0
            seen.append((f"log-{log_format}", broker.log_text()))
            broker.log.unlink()
        assert statuses == {
            "filepw": "ok",
            "envpw": "ok",
            "badauth": "auth_error",
            "gone": "router_unreachable",
        }
        stats = emulator.stats()
        assert stats["filepw"]["logins"] >= 1 and stats["envpw"]["logins"] >= 1
        assert stats["badauth"]["auth_failures"] >= 1
        # The grep finds a leak where there is one: the emulator's control answer lists them.
        control = json.dumps(emulator.call("routers"))
        assert file_secret in control and env_secret in control
        hits = [where for where, text in seen for s in (file_secret, env_secret) if s in text]
        print(
            "FIGURES",
            json.dumps(
                {
                    "secrets_planted": 2,
                    "places_searched": len(seen),
                    "bytes_searched": sum(len(t) for _, t in seen),
                    "hits": len(hits),
                    "statuses": statuses,
                    "outsider_exit": 77,
                }
            ),
        )
        assert hits == []
