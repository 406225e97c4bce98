"""Broker process lifecycle: one instance per state_dir, bad config refused, clean SIGTERM."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.functional.broker_proc import BIN, BrokerProcess, render_toml


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
