"""Credentials profiles' enable secrets and telnet routers in the configuration (issue 12)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from linemon_agent.broker.lineset import secret_values
from linemon_agent.config import parse_config
from linemon_agent.errors import ConfigError


def _file(tmp_path: Path, name: str, text: str, mode: int = 0o600) -> str:
    path = tmp_path / name
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return str(path)


def _doc(tmp_path: Path, **profile: str) -> dict:
    return {
        "zabbix": {"server": "127.0.0.1"},
        "credentials": {
            "ro": {"username": "ro", "password_file": _file(tmp_path, "pw", "login-pw"), **profile}
        },
        "routers": [{"name": "pe1", "host": "192.0.2.1", "platform": "cisco_iosxe",
                     "credentials": "ro"}],
    }


def test_enable_secret_from_a_private_file_is_hidden(tmp_path: Path) -> None:
    doc = _doc(tmp_path, enable_password_file=_file(tmp_path, "en", "en-Secret-1"))
    config = parse_config(doc, "t.toml", env={})
    enable = config.credentials["ro"].enable_password
    assert enable.value == "en-Secret-1"
    assert "en-Secret-1" not in repr(config.credentials["ro"]) and "en-Secret" not in str(enable)
    assert set(secret_values(config)) == {"login-pw", "en-Secret-1"}


def test_no_enable_secret_is_empty(tmp_path: Path) -> None:
    config = parse_config(_doc(tmp_path), "t.toml", env={})
    assert not config.credentials["ro"].enable_password
    assert secret_values(config) == ["login-pw"]


def test_enable_secret_from_env_and_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "creds").mkdir()
    _file(tmp_path / "creds", "pe-enable", "from-systemd")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    monkeypatch.setenv("PE_ENABLE", "from-env")
    doc = _doc(tmp_path, enable_password_env="PE_ENABLE")
    ro = doc["credentials"]["ro"]
    doc["credentials"]["sd"] = {"username": "ro", "password_file": ro["password_file"],
                                "enable_password_credential": "pe-enable"}
    config = parse_config(doc, "t.toml", env={})
    assert config.credentials["ro"].enable_password.value == "from-env"
    assert config.credentials["sd"].enable_password.value == "from-systemd"


def test_enable_secret_file_for_a_profile_from_the_environment(tmp_path: Path) -> None:
    """LINEMON_CREDENTIALS_RO_ENABLE_PASSWORD_FILE belongs to profile "ro", not "ro_enable"."""
    env = {"LINEMON_CREDENTIALS_RO_ENABLE_PASSWORD_FILE": _file(tmp_path, "en", "en-env-file")}
    config = parse_config(_doc(tmp_path), "t.toml", env=env)
    assert set(config.credentials) == {"ro"}
    assert config.credentials["ro"].enable_password.value == "en-env-file"


def test_enable_secret_follows_the_password_rules(tmp_path: Path) -> None:
    loose = _file(tmp_path, "en", "loose-Secret", mode=0o644)
    for profile, needle in (
        ({"enable_password": "inline-Secret"}, "enable_password: passwords are not accepted"),
        ({"enable_password_file": loose}, "chmod 600"),
        ({"enable_password_env": "X", "enable_password_file": loose}, "give one of"),
        ({"enable_password_env": "LINEMON_TEST_UNSET"}, "is not set or empty"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config(_doc(tmp_path, **profile), "t.toml", env={})
        text = str(info.value)
        assert needle in text, (profile, text)
        assert "Secret" not in text


def test_telnet_router_port_and_transport(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["routers"] += [
        {"name": "old1", "host": "192.0.2.2", "platform": "cisco_iosxe", "transport": "telnet",
         "credentials": "ro"},
        {"name": "old2", "host": "192.0.2.3", "platform": "cisco_iosxe", "transport": "telnet",
         "port": 2323, "credentials": "ro"},
    ]
    config = parse_config(doc, "t.toml", env={})
    assert (config.routers["old1"].transport, config.routers["old1"].port) == ("telnet", 23)
    assert config.routers["old2"].port == 2323 and config.routers["pe1"].port == 22
    with pytest.raises(ConfigError, match="telnet is chosen per router"):
        parse_config(doc, "t.toml", env={"LINEMON_BROKER_TRANSPORT": "telnet"})
