"""Privilege-1 accounts and telnet routers through the real broker (issue 12).

The emulated IOS-XE, NX-OS and EOS routers have an account ``ro`` that lands in user EXEC
(``pe1>``) and an enable secret. The broker reaches each one several times under different
names: without an enable secret (it pings from ``pe1>``), with the right one (it climbs to
``pe1#`` first; over asyncssh and paramiko), with a wrong one (``auth_error`` naming the
enable step, the secret sent once per login), and over telnet (login, enable, ping; a wrong
login). Each broker router pings its own targets, so the emulator's record of each ping
(privileged or not) tells which router ran it. Another telnet router has a dead target and
has its connection cut mid-ping.
Planted secrets must appear nowhere: logs (debug), status, routers, lines, metrics, values.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess

PLATFORMS = ("cisco_iosxe", "cisco_nxos", "arista_eos")
LOGIN_PW = f"ro-{secrets.token_hex(6)}"
ENABLE = f"en-{secrets.token_hex(6)}"
WRONG = f"wrong-{secrets.token_hex(6)}"
BAD_LOGIN = f"badlogin-{secrets.token_hex(6)}"
DEAD = "198.51.100.250"
# broker router kind -> (credentials profile, transport)
KINDS = {
    "user": ("ro", ""),
    "enable": ("ro_en", ""),
    "wrong": ("ro_wrong", ""),
    "paramiko": ("ro_en", "paramiko"),
    "telnet": ("ro_en", "telnet"),
    "telnet_user": ("ro", "telnet"),
    "telnet_badlogin": ("bad_login", "telnet"),
}


def _fleet() -> dict[str, Any]:
    routers: dict[str, Any] = {
        f"acc-{p}": {"host": f"127.42.0.{i + 1}", "platform": p} for i, p in enumerate(PLATFORMS)
    }
    routers["tel-drop"] = {
        "host": "127.42.0.9",
        "platform": "cisco_iosxe",
        "targets": {DEAD: {"unreachable": True}},
    }
    return {
        "time_scale": 0.05,
        "loss_model": "even",
        "default_target": {"loss": 0.5, "rtt_ms": 20.0},
        "defaults": {
            "username": "admin",
            "password": f"admin-{secrets.token_hex(6)}",
            "accounts": {"ro": {"password": LOGIN_PW}},
            "enable_secret": ENABLE,
            "telnet": True,
            "max_sessions": 20,
        },
        "routers": routers,
    }


def _private(path: Path, text: str) -> str:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return str(path)


def _doc(emulator: Emulator, tmp: Path, trapper_port: int) -> dict[str, Any]:
    routers, lines = [], []
    for index, platform in enumerate(PLATFORMS):
        for number, (kind, (profile, transport)) in enumerate(KINDS.items()):
            name = f"{platform}-{kind}"
            host, port = emulator.address(f"acc-{platform}", telnet=transport == "telnet")
            router = {"name": name, "host": host, "port": port, "platform": platform,
                      "credentials": profile}
            routers.append({**router, **({"transport": transport} if transport else {})})
            target = f"198.51.{100 + index}.{number + 1}"
            lines.append({"id": name, "router": name, "target": target, "count": 10,
                          "timeout": 1, "interval": 10})
    host, port = emulator.address("tel-drop", telnet=True)
    routers.append({"name": "tel-drop", "host": host, "port": port, "platform": "cisco_iosxe",
                    "credentials": "ro_en", "transport": "telnet"})
    for line_id, target in (("tel-dead", DEAD), ("tel-drop", "198.51.110.1")):
        lines.append({"id": line_id, "router": "tel-drop", "target": target, "count": 10,
                      "timeout": 1, "interval": 10})
    login = _private(tmp / "login-pw", LOGIN_PW)
    return {
        "broker": {"host_key_policy": "insecure", "metrics_listen": "127.42.0.100:0",
                   "log_level": "debug"},
        "zabbix": {"server": "127.0.0.1", "port": trapper_port, "flush_interval": 0.3},
        "credentials": {
            "ro": {"username": "ro", "password_file": login},
            "ro_en": {"username": "ro", "password_file": login,
                      "enable_password_file": _private(tmp / "enable", ENABLE)},
            "ro_wrong": {"username": "ro", "password_file": login,
                         "enable_password_env": "LINEMON_TEST_WRONG_ENABLE"},
            "bad_login": {"username": "ro", "password_file": _private(tmp / "bad", BAD_LOGIN)},
        },
        "routers": routers,
        "lines": lines,
    }


def _latest(trapper: TrapperBed) -> dict[str, dict[str, Any]]:
    return {json.loads(v.value)["line"]: json.loads(v.value) for v in trapper.values()}


def _wait(trapper: TrapperBed, ready: Any, timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = _latest(trapper)
        if ready(latest):
            return latest
        time.sleep(0.2)
    return _latest(trapper)


def test_accounts_enable_and_telnet_through_the_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEMON_TEST_WRONG_ENABLE", WRONG)
    (tmp_path / "emu").mkdir()
    with Emulator(_fleet(), workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        broker = BrokerProcess(tmp_path, _doc(emulator, tmp_path, trapper.port))
        with broker:
            wanted = {f"{p}-{k}" for p in PLATFORMS for k in KINDS} | {"tel-dead", "tel-drop"}
            latest = _wait(trapper, lambda got: wanted <= set(got), 45)
            assert wanted <= set(latest), sorted(wanted - set(latest))
            for platform in PLATFORMS:
                privileged = {
                    p["target"]: p["privileged"] for p in emulator.pings(f"acc-{platform}")
                }
                for kind in ("user", "enable", "paramiko", "telnet", "telnet_user"):
                    result = latest[f"{platform}-{kind}"]
                    assert result["status"] == "ok", (platform, kind, result)
                    assert (result["sent"], result["received"]) == (10, 5), result
                    climbed = kind in ("enable", "paramiko", "telnet")
                    assert privileged[result["target"]] == climbed, kind
                wrong = latest[f"{platform}-wrong"]
                assert wrong["status"] == "auth_error", wrong
                assert "enable refused" in wrong["error"] and "not accepted" in wrong["error"]
                badlogin = latest[f"{platform}-telnet_badlogin"]
                assert badlogin["status"] == "auth_error" and "login refused" in badlogin["error"]
                # each refused login sent the wrong secret once (no retry loop locking it out)
                stats = emulator.stats(f"acc-{platform}")
                assert 1 <= stats["enable_failures"] <= stats["logins"], stats
            dead = latest["tel-dead"]
            assert (dead["status"], dead["loss_pct"]) == ("no_reply", 100.0), dead

            # A telnet connection cut mid-ping: that ping fails, the next one logs in again.
            logins = emulator.stats("tel-drop")["logins"]
            mark = time.time()  # a ping already under way when the fault is set may end "ok"
            emulator.set_fault("tel-drop", drop_mid_command=True)
            cut = _wait(trapper, lambda got: _since(trapper, mark, "tel-drop"), 30)["tel-drop"]
            assert cut["status"] == "session_error", cut
            emulator.set_fault("tel-drop", drop_mid_command=False)
            mark = time.time()
            again = _wait(trapper, lambda got: _since(trapper, mark, "tel-drop"), 30)["tel-drop"]
            assert again["status"] == "ok", again
            assert emulator.stats("tel-drop")["logins"] > logins
            assert emulator.stats("tel-drop")["drops"] >= 1

            # No secret anywhere an operator or a Zabbix user can read.
            seen = [broker.client("status", "--json").stdout,
                    broker.client("routers", "--json").stdout,
                    broker.client("lines", "--json").stdout,
                    *(v.value for v in trapper.values())]
            listen = json.loads(seen[0])["metrics"]["listen"]
            with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as answer:
                seen.append(answer.read().decode())
            assert broker.proc is not None
            proc = Path(f"/proc/{broker.proc.pid}")
            seen.append((proc / "cmdline").read_bytes().decode(errors="replace"))
        log = broker.log_text()
        assert "enable" in log and len(log) > 10_000  # debug logging did run
        for secret in (LOGIN_PW, ENABLE, WRONG, BAD_LOGIN):
            assert secret not in log, secret
            for text in seen:
                assert secret not in text, secret
        figures = {"log_bytes": len(log), "values": len(trapper.values()),
                   "enable_failures": {p: emulator.stats(f"acc-{p}")["enable_failures"]
                                       for p in PLATFORMS}}
        print("FIGURES", json.dumps(figures))


def _since(trapper: TrapperBed, mark: float, line: str) -> bool:
    """A result of ``line`` whose command went to the router at or after ``mark``."""
    return any(
        r["line"] == line and r["clock"] >= mark
        for r in (json.loads(v.value) for v in trapper.values())
    )
