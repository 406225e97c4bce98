"""Configuration: TOML + env overrides + secrets; every problem named with its key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from linemon_agent.config import load_config, parse_config
from linemon_agent.errors import ConfigError


def _secret(tmp_path: Path, mode: int = 0o600, text: str = "s3cret-pw\n") -> Path:
    path = tmp_path / "pw"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def _doc(tmp_path: Path) -> dict:
    return {
        "broker": {"socket": str(tmp_path / "b.sock"), "state_dir": str(tmp_path / "state")},
        "zabbix": {"server": "127.0.0.1", "port": 10051},
        "credentials": {"default": {"username": "netops", "password_file": str(_secret(tmp_path))}},
        "routers": [{"name": "pe1", "host": "192.0.2.1", "platform": "linux"}],
        "lines": [
            {"id": "cust-42", "router": "pe1", "target": "198.51.100.7", "interval": 30},
            {"id": "cust-43", "router": "pe1", "target": "2001:db8::9", "count": "3"},
        ],
    }


def test_valid_document(tmp_path: Path) -> None:
    config = parse_config(_doc(tmp_path), "t.toml", env={})
    assert config.routers["pe1"].port == 22
    line = config.lines["cust-42"]
    assert (line.interval, line.zabbix_host, line.zabbix_key) == (30, "cust-42", "linemon.result")
    assert config.lines["cust-43"].request.count == 3
    password = config.credentials["default"].password
    assert password.value == "s3cret-pw" and "s3cret" not in repr(password)


def test_env_overrides_scalars(tmp_path: Path) -> None:
    env = {"LINEMON_ZABBIX_PORT": "10099", "LINEMON_BROKER_SOCKET_MODE": "0640",
           "LINEMON_BROKER_TRANSPORT": "paramiko"}
    config = parse_config(_doc(tmp_path), "t.toml", env=env)
    assert config.zabbix.port == 10099
    assert config.broker.socket_mode == 0o640 and config.broker.transport == "paramiko"


def test_every_problem_is_listed_with_its_key(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["zabbix"]["port"] = "ten"
    doc["broker"]["colour"] = "blue"
    doc["routers"].append({"name": "pe2", "host": "192.0.2.2;reload", "platform": "linux"})
    doc["routers"].append({"name": "pe3", "host": "192.0.2.3", "platform": "cisco_ios_classic"})
    doc["lines"].append({"id": "bad", "router": "pe1", "target": "198.51.100.9\nreload"})
    doc["lines"].append({"id": "orphan", "router": "nope", "target": "198.51.100.10"})
    doc["lines"].append({"id": "fast", "router": "pe1", "target": "198.51.100.11", "interval": 0})
    with pytest.raises(ConfigError) as info:
        parse_config(doc, "t.toml", env={"LINEMON_BROKER_TRANSPORT": "telnet"})
    text = str(info.value)
    assert text.startswith("t.toml: ")
    for needle in ("zabbix.port", "broker: unknown key 'colour'", "routers 'pe2'",
                   "invalid host", "routers 'pe3'", "unknown platform", "lines 'bad'",
                   "invalid target", "lines 'orphan'", "no such router", "lines 'fast'",
                   "interval", "broker.transport"):
        assert needle in text, needle
    assert "\nreload" not in text


def test_loose_secret_file_is_refused(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    os.chmod(doc["credentials"]["default"]["password_file"], 0o644)
    with pytest.raises(ConfigError, match=r"accessible by group or others .*chmod 600"):
        parse_config(doc, "t.toml", env={})


def test_inline_password_is_refused(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["credentials"]["default"] = {"username": "u", "password": "hunter2"}
    with pytest.raises(ConfigError) as info:
        parse_config(doc, "t.toml", env={})
    assert "not accepted inline" in str(info.value) and "hunter2" not in str(info.value)


def test_password_from_env_and_systemd_credential(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["credentials"]["default"] = {"username": "u", "password_env": "PW"}
    doc["credentials"]["other"] = {"username": "u", "password_credential": "router-pw"}
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "router-pw").write_text("from-systemd\n")
    os.environ["PW"] = "from-env"
    os.environ["CREDENTIALS_DIRECTORY"] = str(tmp_path / "creds")
    try:
        config = parse_config(doc, "t.toml", env={})
    finally:
        del os.environ["PW"], os.environ["CREDENTIALS_DIRECTORY"]
    assert config.credentials["default"].password.value == "from-env"
    assert config.credentials["other"].password.value == "from-systemd"


def test_load_config_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[broker\n")
    with pytest.raises(ConfigError, match=r"bad.toml: .*not valid TOML"):
        load_config(bad)
    bad.write_bytes(b"\x9e\xff[broker]\n")  # not even UTF-8
    with pytest.raises(ConfigError, match=r"bad.toml: .*not valid TOML"):
        load_config(bad)


def test_shipped_example_config_is_valid() -> None:
    example = Path(__file__).parents[2] / "packaging" / "linemon.toml"
    config = load_config(example, env={})
    assert config.broker.socket_mode == 0o660
    assert config.broker.host_key_policy == "strict"
    assert not config.routers and not config.lines


def _problems(doc: dict, env: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(doc, "t.toml", env=env or {})
    return str(info.value).split("\n  ")[1:]


def test_one_mistake_one_message(tmp_path: Path) -> None:
    """A loose password file is not also a missing profile; a router with a wrong platform
    does not also make each of its lines a line of no router."""
    doc = _doc(tmp_path)
    os.chmod(doc["credentials"]["default"]["password_file"], 0o644)
    problems = _problems(doc)
    assert len(problems) == 1 and problems[0].startswith("credentials.default: "), problems
    doc = _doc(tmp_path / "..")
    doc["routers"][0]["platform"] = "cisco_ios_classic"
    problems = _problems(doc)
    assert len(problems) == 1 and problems[0].startswith("routers 'pe1': invalid platform")


def test_entries_are_named_by_name_or_id(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["routers"].append({"host": "192.0.2.3", "platform": "linux"})  # no name: by place
    doc["lines"][1]["count"] = "lots"
    doc["lines"].append({"id": "cust-9", "router": "pe-1", "target": "192.0.2.9"})
    problems = _problems(doc)
    assert problems[0].startswith("routers[1]: invalid name None"), problems
    assert problems[1].startswith("lines 'cust-43': invalid count 'lots'"), problems
    assert problems[2] == "lines 'cust-9': no such router 'pe-1'; did you mean 'pe1'?"
    doc = _doc(tmp_path)
    doc["routers"][0]["credentials"] = "defualt"
    assert _problems(doc) == [
        "routers 'pe1': no credentials profile 'defualt'; did you mean 'default'?"
    ]


def test_unknown_keys_have_one_format_and_a_hint(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["brokr"] = {}
    doc["zabbix"]["sever"] = "10.0.0.1"
    doc["zabbix"]["zzz"] = 1
    doc["credentials"]["default"]["user_name"] = "x"
    doc["routers"][0]["hots"] = "192.0.2.1"
    doc["lines"][0]["vfr"] = "V"
    problems = _problems(doc)
    assert problems[:4] == [
        "unknown section 'brokr'; did you mean 'broker'?",
        "zabbix: unknown key 'sever'; did you mean 'server'?",
        "zabbix: unknown key 'zzz'; known keys: agent_config, batch_size, flush_interval, "
        "item_key, port, probe_concurrency, reject_after, send_timeout, server, tls_ca_file, "
        "tls_cert_file, tls_connect, tls_crl_file, tls_key_file, tls_psk_file, "
        "tls_psk_identity, tls_server_cert_issuer, tls_server_cert_subject, use_agent_config",
        "credentials.default: unknown key 'user_name'; did you mean 'username'?",
    ]
    assert problems[4:] == [
        "routers 'pe1': unknown key 'hots'; did you mean 'host'?",
        "lines 'cust-42': unknown key 'vfr'; did you mean 'vrf'?",
    ]


def test_example_config_lists_every_key() -> None:
    """packaging/linemon.toml shows every key the parser knows (commented or not), and no
    other: uncommenting every `# key = value` line must give exactly the parser's keys."""
    import dataclasses
    import re
    import tomllib

    from linemon_agent import config as cfg

    example = Path(__file__).parents[2] / "packaging" / "linemon.toml"
    text = "\n".join(
        re.sub(r"^(# ?)+(?=\[|[a-z_]+ = )", "", line)
        for line in example.read_text().splitlines()
    )
    doc = tomllib.loads(text)
    known = {
        "broker": {f.name for f in dataclasses.fields(cfg.BrokerSettings)},
        "zabbix": {f.name for f in dataclasses.fields(cfg.ZabbixSettings)},
        "zabbix_api": {f.name for f in dataclasses.fields(cfg.ZabbixApiSettings)},
    }
    assert set(doc) == set(cfg.SECTIONS)
    for section, keys in known.items():
        assert set(doc[section]) == keys, section
    for name, profile in doc["credentials"].items():
        assert set(profile) <= set(cfg.CREDENTIAL_KEYS), name
    assert set().union(*doc["credentials"].values()) == set(cfg.CREDENTIAL_KEYS)
    assert set().union(*doc["routers"]) == cfg.ROUTER_KEYS
    assert set().union(*doc["lines"]) == cfg.LINE_KEYS
