"""Validation: canonical values out, clear errors naming the field and the bad value."""

from __future__ import annotations

import pytest

from linemon_agent import validate
from linemon_agent.errors import ValidationError
from linemon_agent.models import PingRequest


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:DB8::0:1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
        ("cpe-42.example.net", "cpe-42.example.net"),
        ("CPE42.Example.NET.", "cpe42.example.net"),
    ],
)
def test_target_is_canonicalised(raw: str, canonical: str) -> None:
    assert validate.target(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "192.0.2.1\n",
        "192.0.2.1;reload",
        "192.0.2.1 source 10.0.0.1",
        "-c 100 192.0.2.1",
        "-flood",
        "fe80::1%eth0",
        "fe80::1%eth0;reboot",
        "1.2.3.4.5",
        "256.1.1.1",
        "１９２.0.2.1",
        "exаmple.com",  # Cyrillic 'а'
        "a" * 64 + ".com",
        "a." * 130,
        "host_name.example",
        "x`id`",
        "$(reboot)",
        "10.0.0.1|include",
        "10.0.0.1\x00",
        "1.2.3.4\r",
        "example.123",
    ],
)
def test_target_rejects(raw: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate.target(raw)
    assert info.value.field == "target"
    message = str(info.value)
    assert message.startswith("invalid target ")
    assert message.isascii() and "\n" not in message and "\r" not in message


@pytest.mark.parametrize("raw", ["CUST42", "Site-1", "mgmt_junos", "65000:42", "vpn.1"])
def test_vrf_accepts(raw: str) -> None:
    assert validate.vrf(raw) == raw


@pytest.mark.parametrize(
    "raw", ["", "-vrf", "a b", "a;b", "a|b", "a\nb", "ä", "x" * 65, "a/b", "a`b`", "$(x)"]
)
def test_vrf_rejects(raw: str) -> None:
    with pytest.raises(ValidationError, match="invalid vrf"):
        validate.vrf(raw)


@pytest.mark.parametrize(
    "raw", ["GigabitEthernet0/0/1.100", "ge-0/0/0.0", "Ethernet1/1", "eth0", "Loopback0"]
)
def test_interface_accepts(raw: str) -> None:
    assert validate.interface(raw) == raw


@pytest.mark.parametrize("raw", ["0eth", "-I", "Gi0/1 vrf x", "eth0;ls", "x" * 65, "eth0\t"])
def test_interface_rejects(raw: str) -> None:
    with pytest.raises(ValidationError, match="invalid source_interface"):
        validate.interface(raw)


@pytest.mark.parametrize(
    ("func", "raw", "expected"),
    [
        (validate.count, "5", 5),
        (validate.count, 1000, 1000),
        (validate.size, " 100 ", 100),
        (validate.timeout, "1.5", 1.5),
        (validate.timeout, 2, 2.0),
    ],
)
def test_numbers_accept(func: object, raw: object, expected: object) -> None:
    assert func(raw) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("func", "raw"),
    [
        (validate.count, 0),
        (validate.count, -1),
        (validate.count, "1001"),
        (validate.count, "5; reload"),
        (validate.count, "５"),
        (validate.count, True),
        (validate.count, 2.5),
        (validate.count, "1e3"),
        (validate.size, 70000),
        (validate.size, "-1"),
        (validate.timeout, "0"),
        (validate.timeout, "61"),
        (validate.timeout, float("nan")),
        (validate.timeout, "inf"),
        (validate.timeout, "2 s"),
    ],
)
def test_numbers_reject(func: object, raw: object) -> None:
    with pytest.raises(ValidationError):
        func(raw)  # type: ignore[operator]


def test_request_from_strings_converts_and_ignores_empty() -> None:
    request = PingRequest.from_strings(
        {"target": "2001:db8::7", "count": "10", "size": "", "timeout": "2", "vrf": None}
    )
    assert request == PingRequest(target="2001:db8::7", count=10, timeout=2.0)
    assert request.options() == {"timeout": 2.0}


def test_request_from_strings_rejects_unknown_key_and_missing_target() -> None:
    with pytest.raises(ValidationError, match="invalid option 'repeat'"):
        PingRequest.from_strings({"target": "192.0.2.1", "repeat": "5"})
    with pytest.raises(ValidationError, match="invalid target ''"):
        PingRequest.from_strings({"count": "5"})


def test_request_cannot_be_built_with_bad_values_directly() -> None:
    with pytest.raises(ValidationError):
        PingRequest(target="192.0.2.1", vrf="a;b")
    with pytest.raises(ValidationError):
        PingRequest(target="192.0.2.1\nreload")


def test_error_message_quotes_hostile_values_safely() -> None:
    with pytest.raises(ValidationError) as info:
        validate.vrf("x\x1b[31m\nred" + "y" * 200)
    text = str(info.value)
    assert "\x1b" not in text and "\n" not in text and len(text) < 200
