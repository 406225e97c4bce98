"""IOS / IOS-XE details the fixtures leave open, and the Cisco answer grammar both Cisco share."""

from __future__ import annotations

import pytest
from scrapli.driver.core.cisco_iosxe.base_driver import FAILED_WHEN_CONTAINS

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform
from linemon_agent.platforms.base import Platform

IOS = get_platform("cisco_iosxe")
# The answer grammar lives in platforms/cisco_iosxe.py; IOS-XR derives from it.
CISCO = [IOS, get_platform("cisco_iosxr")]

HEADER = (
    "Type escape sequence to abort.\n"
    "Sending {n}, 100-byte ICMP Echos to 192.0.2.7, timeout is 2 seconds:\n"
)


def build(**values: object) -> str:
    return IOS.build_ping(PingRequest.from_strings({"target": "192.0.2.7", **values}))


@pytest.mark.parametrize(
    ("values", "command"),
    [
        ({}, "ping 192.0.2.7 repeat 5"),
        ({"target": "2001:DB8::7"}, "ping ipv6 2001:db8::7 repeat 5"),
        ({"target": "cpe.example.net"}, "ping ip cpe.example.net repeat 5"),
        # a host name pinged from an IPv6 source must resolve to IPv6
        (
            {"target": "cpe.example.net", "source": "2001:db8::1"},
            "ping ipv6 cpe.example.net repeat 5 source 2001:db8::1",
        ),
        # a one-label name that is also a ping keyword stays a target after 'ip'
        ({"target": "mpls"}, "ping ip mpls repeat 5"),
        (
            {"vrf": "CUST-1", "target": "2001:db8::7", "source_interface": "Vlan100"},
            "ping vrf CUST-1 ipv6 2001:db8::7 repeat 5 source Vlan100",
        ),
        (
            {"source_interface": "GigabitEthernet0/0/1.100"},
            "ping 192.0.2.7 repeat 5 source GigabitEthernet0/0/1.100",
        ),
        # whole seconds, rounded up so that a probe is never given less time than asked
        ({"timeout": "0.1"}, "ping 192.0.2.7 repeat 5 timeout 1"),
        ({"timeout": "2.01"}, "ping 192.0.2.7 repeat 5 timeout 3"),
        ({"timeout": 60}, "ping 192.0.2.7 repeat 5 timeout 60"),
        ({"size": 36, "count": 1000}, "ping 192.0.2.7 repeat 1000 size 36"),
        ({"size": 18024}, "ping 192.0.2.7 repeat 5 size 18024"),
    ],
)
def test_command_forms(values: dict[str, object], command: str) -> None:
    assert build(**values) == command


def test_source_address_and_source_interface_together_are_refused() -> None:
    with pytest.raises(UnsupportedOptionError, match="invalid source_interface") as info:
        build(source="192.0.2.1", source_interface="Loopback0")
    assert info.value.field == "source_interface"


@pytest.mark.parametrize(("field", "value"), [("size", 35), ("size", 18025), ("size", 0)])
def test_sizes_outside_the_device_range_are_refused(field: str, value: object) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        build(**{field: value})
    assert info.value.field == field


def test_worst_case_is_every_probe_timing_out() -> None:
    assert IOS.worst_case_seconds(PingRequest("192.0.2.7")) == 5 * 2 + 5.0
    assert IOS.worst_case_seconds(PingRequest("192.0.2.7", count=10, timeout=0.5)) == 10 + 5.0


def test_failure_strings_include_scraplis_own() -> None:
    # scrapli is given this list instead of its own: it must still flag all it flagged
    for theirs in FAILED_WHEN_CONTAINS:
        assert any(ours in theirs for ours in IOS.failed_when_contains), theirs


@pytest.mark.parametrize("platform", CISCO, ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        (", round-trip min/avg/max = 1/2/4 ms", (1.0, 2.0, 4.0)),
        (", round-trip min/avg/max = 1/2/3 s", (1000.0, 2000.0, 3000.0)),
        (", round-trip min/avg/max = 500/750/1000 us", (0.5, 0.75, 1.0)),
        (", round-trip min/avg/max = 1.5/2.25/3 ms", (1.5, 2.25, 3.0)),
        # no unit: milliseconds, and the prompt on the next line lends none ("sw1#" is no "s")
        (", round-trip min/avg/max = 1/2/3\nsw1#", (1.0, 2.0, 3.0)),
        # a narrow terminal wrapped the summary line
        (",\nround-trip min/avg/max = 1000/1232/1676 ms", (1000.0, 1232.0, 1676.0)),
        # received > 0 but the round-trip clause was cut off: counts only
        ("", (None, None, None)),
    ],
)
def test_round_trip_clause(
    platform: Platform, clause: str, expected: tuple[float | None, ...]
) -> None:
    result = platform.parse_ping(
        HEADER.format(n=3) + "!!!\nSuccess rate is 100 percent (3/3)" + clause + "\n"
    )
    assert (result.status, result.sent, result.received) == ("ok", 3, 3)
    assert (result.rtt_min_ms, result.rtt_avg_ms, result.rtt_max_ms) == expected
    assert result.rtt_stddev_ms is None


@pytest.mark.parametrize("platform", CISCO, ids=lambda p: p.name)
def test_last_summary_wins_and_its_marks_are_its_own(platform: Platform) -> None:
    first = HEADER.format(n=5) + "!!!!!\nSuccess rate is 100 percent (5/5), round-trip "
    first += "min/avg/max = 1/1/1 ms\nR1#ping 192.0.2.7 repeat 3\n"
    second = HEADER.format(n=3) + "U.U\nSuccess rate is 0 percent (0/3)\n"
    result = platform.parse_ping(first + second)
    assert (result.status, result.sent, result.received, result.marks) == (
        "no_reply",
        3,
        0,
        "U.U",
    )
    assert result.rtt_avg_ms is None


@pytest.mark.parametrize("platform", CISCO, ids=lambda p: p.name)
def test_summary_is_authoritative_over_header_and_truncated_percent(platform: Platform) -> None:
    output = HEADER.format(n=1000) + "Success rate is 99 percent (999/1000), round-trip "
    output += "min/avg/max = 1/3/22 ms\n"
    result = platform.parse_ping(output)
    assert (result.sent, result.received, result.loss_pct) == (1000, 999, 0.1)
    assert result.extra == {"device_success_pct": 99}


@pytest.mark.parametrize("platform", CISCO, ids=lambda p: p.name)
def test_marks_are_kept_only_when_there_is_one_per_probe(platform: Platform) -> None:
    # a mark line split by a syslog message leaves 7 readable marks for 10 probes
    output = HEADER.format(n=10) + "!!!!*Mar  1 00:01:02.345: %SYS-5-CONFIG_I: Configured\n"
    output += "!!.!!!\nSuccess rate is 90 percent (9/10), round-trip min/avg/max = 1/1/2 ms\n"
    result = platform.parse_ping(output)
    assert (result.sent, result.received, result.marks) == (10, 9, None)


@pytest.mark.parametrize("platform", CISCO, ids=lambda p: p.name)
def test_nothing_sent_is_full_loss(platform: Platform) -> None:
    result = platform.parse_ping(HEADER.format(n=5) + "Success rate is 0 percent (0/0)\n")
    assert (result.status, result.sent, result.received, result.loss_pct) == (
        "no_reply",
        0,
        0,
        100.0,
    )


@pytest.mark.parametrize(
    "output",
    [
        "% Unrecognized host or address, or protocol not running.\n",
        'Translating "cpe"...domain server (255.255.255.255)\n% Unrecognized host or address, '
        "or protocol not running.\n",
        "% Invalid source interface - IP not enabled or interface is down\n",
        "ping vrf CUST 192.0.2.7 repeat 5 size 20\n"
        "                                        ^\n"
        "% Invalid input detected at '^' marker.\n",
        # the same refusals when a capture lost the '%'
        "Invalid source address- IP address not on any of our up interfaces\n",
        "Unable to find vrf NOSUCH\n",
    ],
)
def test_refusals_without_a_summary_are_command_errors(output: str) -> None:
    with pytest.raises(CommandError):
        IOS.parse_ping(output)


@pytest.mark.parametrize("platform", CISCO, ids=lambda p: p.name)
@pytest.mark.parametrize(
    "output",
    [
        "",
        " \r\n\t",
        # the ping started but its summary never came (output cut short)
        HEADER.format(n=5) + "!!!\n",
        # a syslog message is not the device refusing the ping
        "%SYS-5-CONFIG_I: Configured from console by vty0 (192.0.2.1)\n",
        "Success rate is 100 percent (1234567890/1234567890)\n",
        "Success rate is 100 percent (5/5), round-trip min/avg/max = 1/2/12345678901 ms\n",
    ],
)
def test_unreadable_answers_are_parse_errors(platform: Platform, output: str) -> None:
    with pytest.raises(ParseError):
        platform.parse_ping(output)
