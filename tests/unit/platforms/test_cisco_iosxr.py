"""IOS-XR details the fixtures leave open: command forms, option clashes, ranges, refusals.

The answer grammar IOS-XR shares with IOS is tested in test_cisco_iosxe.py on both platforms.
"""

from __future__ import annotations

import pytest
from scrapli.driver.core.cisco_iosxr.base_driver import FAILED_WHEN_CONTAINS

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform

XR = get_platform("cisco_iosxr")


def build(**values: object) -> str:
    return XR.build_ping(PingRequest.from_strings({"target": "192.0.2.7", **values}))


@pytest.mark.parametrize(
    ("values", "command"),
    [
        ({}, "ping 192.0.2.7 count 5"),
        ({"target": "2001:DB8::7"}, "ping ipv6 2001:db8::7 count 5"),
        # XR names IPv4 'ipv4' (IOS says 'ip')
        ({"target": "cpe.example.net"}, "ping ipv4 cpe.example.net count 5"),
        (
            {"target": "cpe.example.net", "source": "2001:db8::1"},
            "ping ipv6 cpe.example.net count 5 source 2001:db8::1",
        ),
        (
            {"vrf": "CUST_1", "target": "cpe.example.net"},
            "ping vrf CUST_1 ipv4 cpe.example.net count 5",
        ),
        (
            {"source_interface": "Bundle-Ether10.100"},
            "ping 192.0.2.7 count 5 source Bundle-Ether10.100",
        ),
        (
            {"vrf": "CUST", "count": 1000, "size": 1472, "timeout": "0.5", "source": "192.0.2.1"},
            "ping vrf CUST 192.0.2.7 count 1000 size 1472 timeout 1 source 192.0.2.1",
        ),
    ],
)
def test_command_forms(values: dict[str, object], command: str) -> None:
    assert build(**values) == command


def test_source_address_and_source_interface_together_are_refused() -> None:
    with pytest.raises(UnsupportedOptionError, match="invalid source_interface") as info:
        build(source="192.0.2.1", source_interface="Loopback0")
    assert info.value.field == "source_interface"


@pytest.mark.parametrize("value", [35, 18025])
def test_sizes_outside_the_device_range_are_refused(value: int) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        build(size=value)
    assert info.value.field == "size"


def test_failure_strings_include_scraplis_own() -> None:
    # scrapli is given this list instead of its own: it must still flag all it flagged
    for theirs in FAILED_WHEN_CONTAINS:
        assert any(ours in theirs for ours in XR.failed_when_contains), theirs


def test_timestamp_and_prompts_around_the_answer_are_ignored() -> None:
    output = (
        "RP/0/RSP0/CPU0:PE1#ping 192.0.2.7 count 3\r\n"
        "Thu Jan  1 00:00:05.000 UTC\r\n"
        "Type escape sequence to abort.\r\n"
        "Sending 3, 100-byte ICMP Echos to 192.0.2.7, timeout is 2 seconds:\r\n"
        "!.!\r\n"
        "Success rate is 66 percent (2/3), round-trip min/avg/max = 1/4/8 ms\r\n"
        "RP/0/RSP0/CPU0:PE1#"
    )
    result = XR.parse_ping(output)
    assert (result.sent, result.received, result.loss_pct, result.marks) == (3, 2, 33.333, "!.!")
    assert (result.rtt_min_ms, result.rtt_avg_ms, result.rtt_max_ms) == (1.0, 4.0, 8.0)


@pytest.mark.parametrize(
    "output",
    [
        "Thu Jan  1 00:00:05.000 UTC\n% Bad hostname or protocol not running\n",
        "Bad hostname or protocol not running\n",
        "% Invalid vrf table name\n",
        "ping 192.0.2.7 count 5 sweep\n                      ^\n"
        "% Invalid input detected at '^' marker.\n",
        "% Incomplete command.\n",
    ],
)
def test_refusals_without_a_summary_are_command_errors(output: str) -> None:
    with pytest.raises(CommandError):
        XR.parse_ping(output)


def test_a_timestamp_alone_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        XR.parse_ping("Thu Jan  1 00:00:05.000 UTC\n")
