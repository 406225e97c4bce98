"""Zabbix macros for telnet routers and enable secrets (issue 12)."""

from __future__ import annotations

import pytest

from linemon_agent.errors import ValidationError
from linemon_agent.settings import Config
from linemon_agent.zbxmodel import ZbxHost, build, merge, router_protocol

TAG = [("TempType", "LINE")]
MACROS = {
    "{$LINE_ROUTER_IP}": "192.0.2.1",
    "{$LINE_ROUTER_USERNAME}": "ro",
    "{$LINE_ROUTER_PASSWORD}": "pw-from-macro",
    "{$LINE_ROUTER_PLATFORM}": "cisco_iosxe",
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("", 22)),
        ("ssh", ("", 22)),
        ("SSH:2222", ("", 2222)),
        ("telnet", ("telnet", 23)),
        ("telnet:2323", ("telnet", 2323)),
    ],
)
def test_router_protocol(value: str | None, expected: tuple[str, int]) -> None:
    assert router_protocol(value) == expected


@pytest.mark.parametrize("value", ["rsh", "telnet:", "telnet:0", "telnet:70000", "ssh:x", "tel"])
def test_router_protocol_refuses(value: str) -> None:
    with pytest.raises(ValidationError, match="LINE_ROUTER_PROTOCOL"):
        router_protocol(value)


def test_telnet_line_gets_a_telnet_router_of_its_own() -> None:
    hosts = [
        ZbxHost("1", "198.51.100.1", {**MACROS, "{$LINE_ROUTER_PROTOCOL}": "telnet"}, [], TAG),
        ZbxHost("2", "198.51.100.2", {**MACROS, "{$LINE_ROUTER_PROTOCOL}": "ssh"}, [], TAG),
    ]
    result = build(hosts, {}, {}, profiles=[])
    assert result.errors == {}
    telnet = result.routers[result.lines["198.51.100.1"].router]
    ssh = result.routers[result.lines["198.51.100.2"].router]
    assert (telnet.name, telnet.transport, telnet.port) == ("192.0.2.1_23", "telnet", 23)
    assert (ssh.name, ssh.transport, ssh.port) == ("192.0.2.1", "", 22)


def test_enable_secret_macro_with_macro_credentials() -> None:
    macros = {**MACROS, "{$LINE_ROUTER_ENABLE_PASSWORD}": "en-from-macro"}
    result = build([ZbxHost("1", "198.51.100.1", macros, [], TAG)], {}, {}, profiles=[])
    router = result.routers[result.lines["198.51.100.1"].router]
    assert result.macro_credentials[router.name] == ("ro", "pw-from-macro", "en-from-macro")
    assert any("enable secret taken from a Zabbix macro" in w for w in result.warnings)
    assert "en-from-macro" not in " ".join(result.warnings)
    merged, refused = merge(Config(), result)
    assert refused == {}
    creds = merged.credentials[router.credentials]
    assert creds.enable_password.value == "en-from-macro"
    assert "en-from-macro" not in repr(creds)


def test_enable_secret_macro_beside_a_local_profile_is_ignored_with_a_warning() -> None:
    macros = {
        "{$LINE_ROUTER_IP}": "192.0.2.1",
        "{$LINE_CREDENTIALS}": "core",
        "{$LINE_ROUTER_ENABLE_PASSWORD}": "en-from-macro",
    }
    result = build([ZbxHost("1", "198.51.100.1", macros, [], TAG)], {}, {}, profiles=["core"])
    assert not result.macro_credentials
    assert any("ENABLE_PASSWORD} ignored" in w and "'core'" in w for w in result.warnings)
    assert "en-from-macro" not in " ".join(result.warnings)
