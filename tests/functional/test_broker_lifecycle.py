"""Broker process lifecycle: one instance per state_dir, bad config refused, clean SIGTERM
that drains on-demand pings too, a second signal that exits at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.beds.emulator.client import Emulator
from tests.functional.broker_proc import BIN, BrokerProcess, emulator_routers, render_toml


def _doc(tmp_path: Path) -> dict:
    secret = tmp_path / "pw"
    secret.write_text("pw-123\n")
    os.chmod(secret, 0o600)
    return {"credentials": {"default": {"username": "u", "password_file": str(secret)}},
            "zabbix": {"server": "127.0.0.1", "port": 9}}


def test_second_broker_on_the_same_state_dir_refuses(tmp_path: Path) -> None:
    first = BrokerProcess(tmp_path, _doc(tmp_path))
    with first:
        second_doc = _doc(tmp_path)
        second_doc["broker"] = {"socket": str(tmp_path / "other.sock"),
                                "state_dir": first.doc["broker"]["state_dir"]}
        config = tmp_path / "second.toml"
        config.write_text(render_toml(second_doc))
        done = subprocess.run([str(BIN / "linemon"), "broker", "--config", str(config)],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 75
        assert "another broker is running" in done.stdout
        assert first.client_json("status", "--json")["lines"] == 0
    assert first.proc is not None and first.proc.returncode == 0


def test_bad_config_exits_78_naming_the_key(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["zabbix"]["port"] = "ten"
    config = tmp_path / "bad.toml"
    config.write_text(render_toml(doc))
    done = subprocess.run([str(BIN / "linemon"), "broker", "--config", str(config)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 78 and "zabbix.port" in done.stdout
    check = subprocess.run([str(BIN / "linemon"), "config", "check", "--config", str(config)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 78 and "zabbix.port" in check.stderr


def _emulated(tmp_path: Path, emulator: Emulator, shutdown_timeout: float) -> dict:
    doc = _doc(tmp_path)
    (tmp_path / "pw").write_text("lab-pw\n")
    doc["credentials"]["default"]["username"] = "lab"
    doc["broker"] = {"host_key_policy": "insecure", "shutdown_timeout": shutdown_timeout}
    doc["routers"] = emulator_routers(emulator, ["pe1"])
    return doc


def _fleet() -> dict:
    return {"time_scale": 1.0,
            "defaults": {"username": "lab", "password": "lab-pw", "max_sessions": 4},
            "routers": {"pe1": {"host": "127.48.1.1", "port": 0, "platform": "cisco_iosxe",
                                "default_target": {"rtt_ms": 400.0}}}}


def test_shutdown_lets_a_waited_for_ping_finish_and_answer(tmp_path: Path) -> None:
    """An on-demand ping running at SIGTERM is drained like a scheduled one: its caller gets
    the result, and the broker exits 0."""
    (tmp_path / "emu").mkdir()
    with Emulator(_fleet(), workdir=tmp_path / "emu") as emulator:
        broker = BrokerProcess(tmp_path, _emulated(tmp_path, emulator, 10.0)).start()
        env = {**os.environ, "LINEMON_SOCKET": str(broker.socket)}
        waiting = subprocess.Popen(  # five probes of 400 ms: about 2 s at the router
            [str(BIN / "linemon"), "ping", "pe1", "198.51.100.7", "--wait"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(1.0)
        broker.signal(signal.SIGTERM)
        out, err = waiting.communicate(timeout=30)
        assert broker.proc is not None
        code = broker.proc.wait(timeout=30)
    assert waiting.returncode == 0, err
    result = json.loads(out)
    assert result["status"] == "ok" and result["sent"] == 5 and result["received"] == 5
    assert code == 0 and "cancelled_pings=0" in broker.log_text()


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    """SIGTERM starts a shutdown that waits for running pings (here up to 60 s); a second
    SIGTERM makes the main loop exit at once with status 1 (the handler only records it)."""
    (tmp_path / "emu").mkdir()
    with Emulator(_fleet(), workdir=tmp_path / "emu") as emulator:
        emulator.set_fault("pe1", silent=True)  # pings hang until their deadline
        broker = BrokerProcess(tmp_path, _emulated(tmp_path, emulator, 60.0)).start()
        env = {**os.environ, "LINEMON_SOCKET": str(broker.socket)}
        subprocess.run([str(BIN / "linemon"), "ping", "pe1", "198.51.100.7", "--count", "20"],
                       check=True, env=env, capture_output=True)
        time.sleep(1.0)
        broker.signal(signal.SIGTERM)
        time.sleep(1.0)
        assert broker.proc is not None and broker.proc.poll() is None  # still draining
        started = time.monotonic()
        broker.signal(signal.SIGTERM)
        code = broker.proc.wait(timeout=10)
        took = time.monotonic() - started
    assert code == 1 and took < 5.0
    assert "second signal: exiting now" in broker.log_text()
    assert "Traceback" not in broker.log_text()


def test_a_sender_problem_found_at_start_is_one_line_and_exit_78(tmp_path: Path) -> None:
    """The agent's file asks for PSK without its key file: `config check` and the broker both
    refuse it with one line naming the problem, exit 78, no traceback."""
    agent = tmp_path / "zabbix_agentd.conf"
    agent.write_text("ServerActive=127.0.0.1\nTLSConnect=psk\nTLSPSKIdentity=linemon\n")
    doc = _doc(tmp_path)
    doc["zabbix"] = {"use_agent_config": True, "agent_config": str(agent)}
    config = tmp_path / "agentcfg.toml"
    config.write_text(render_toml({**doc, "broker": {"socket": str(tmp_path / "s.sock"),
                                                     "state_dir": str(tmp_path / "st")}}))
    check = subprocess.run([str(BIN / "linemon"), "config", "check", "--config", str(config)],
                           capture_output=True, text=True, timeout=60)
    broker = subprocess.run([str(BIN / "linemon"), "broker", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    for done in (check, broker):
        words = done.stdout + done.stderr
        assert done.returncode == 78, words
        assert "TLSPSKFile" in words and "Traceback" not in words, words
