"""EOS details the fixtures leave open: keywords, option clashes, ranges, CLI refusals."""

from __future__ import annotations

import re

import pytest
from scrapli.driver.core.arista_eos.base_driver import FAILED_WHEN_CONTAINS

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform

EOS = get_platform("arista_eos")


def build(**values: object) -> str:
    return EOS.build_ping(PingRequest.from_strings({"target": "192.0.2.7", **values}))


@pytest.mark.parametrize(
    ("values", "command"),
    [
        ({}, "ping 192.0.2.7 repeat 5"),
        # an IPv6 address needs no keyword (EOS picks IPv6 by itself)
        ({"target": "2001:DB8::7"}, "ping 2001:db8::7 repeat 5"),
        # a host name pinged from an IPv6 source must resolve to IPv6
        (
            {"target": "cpe.example.net", "source": "2001:db8::1"},
            "ping ipv6 cpe.example.net repeat 5 source 2001:db8::1",
        ),
        (
            {"target": "cpe.example.net", "source": "192.0.2.1", "vrf": "CUST"},
            "ping vrf CUST cpe.example.net repeat 5 source 192.0.2.1",
        ),
        ({"timeout": "1.01"}, "ping 192.0.2.7 repeat 5 timeout 2"),
        ({"size": 36, "count": 1000}, "ping 192.0.2.7 repeat 1000 size 36"),
        (
            {"source_interface": "Port-Channel10.120", "vrf": "default"},
            "ping vrf default 192.0.2.7 repeat 5 source Port-Channel10.120",
        ),
    ],
)
def test_command_forms(values: dict[str, object], command: str) -> None:
    assert build(**values) == command


def test_a_source_address_and_a_source_interface_together_are_refused() -> None:
    with pytest.raises(UnsupportedOptionError, match="one source") as info:
        build(source="192.0.2.1", source_interface="Loopback0")
    assert info.value.field == "source_interface"


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", 35), ("size", 18025), ("timeout", 0.5)],
)
def test_values_outside_the_device_ranges_are_refused(field: str, value: object) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        build(**{field: value})
    assert info.value.field == field


def test_worst_case_has_no_gap_between_probes() -> None:
    # EOS sends its probes back to back: 5 x 2 s default timeout + 5 s margin
    assert EOS.worst_case_seconds(PingRequest("192.0.2.7")) == 15.0


def test_failure_strings_include_scraplis_own() -> None:
    # scrapli is given this list instead of its own: it must still flag all it flagged
    for theirs in FAILED_WHEN_CONTAINS:
        assert any(ours in theirs for ours in EOS.failed_when_contains), theirs


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            "leaf1#ping vrf CUST 192.0.2.7 repeat 5 size 20\n"
            "% Invalid input (at token 6: '20')\nleaf1#",
            "% Invalid input (at token 6: '20')",
        ),
        ("% Incomplete command\n", "% Incomplete command"),
        ("VRF 'MGMT' is not active\n", "VRF 'MGMT' is not active"),
        ("ping: unknown host cpe.example.net\r\n", "unknown host"),
        ("ping: cpe.example.net: Name or service not known\n", "Name or service not known"),
    ],
)
def test_refusals_are_command_errors_naming_the_line(output: str, message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)) as info:
        EOS.parse_ping(output)
    assert info.value.platform == "arista_eos"


def test_a_summary_wins_over_error_lines() -> None:
    output = (
        "ping: sendmsg: Network is unreachable\n"
        "PING 10.0.0.1 (10.0.0.1) 72(100) bytes of data.\n\n"
        "--- 10.0.0.1 ping statistics ---\n"
        "5 packets transmitted, 3 received, +2 errors, 40% packet loss, time 41ms\n"
        "rtt min/avg/max/mdev = 632.564/918.059/1232.960/249.399 ms, pipe 5, ipg/ewma 15s\n"
    )
    result = EOS.parse_ping(output)
    assert (result.sent, result.received, result.errors) == (5, 3, 2)
    assert (result.rtt_min_ms, result.rtt_max_ms, result.rtt_stddev_ms) == (
        632.564,
        1232.96,
        249.399,
    )


@pytest.mark.parametrize(
    "output",
    [
        "",
        "leaf1#",
        "PING 10.0.0.1 (10.0.0.1) 72(100) bytes of data.\n"
        "80 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=632 ms\n",
    ],
)
def test_outputs_without_statistics_are_parse_errors(output: str) -> None:
    with pytest.raises(ParseError):
        EOS.parse_ping(output)
