"""Huawei VRP details the fixtures leave open: IPv6 forms, -t in ms, summary variants, errors."""

from __future__ import annotations

import pytest
from scrapli_community.huawei.vrp.huawei_vrp import SCRAPLI_PLATFORM

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform
from tests.conftest import FIXTURES

VRP = get_platform("huawei_vrp")


def build(**values: object) -> str:
    return VRP.build_ping(PingRequest.from_strings({"target": "192.0.2.7", **values}))


@pytest.mark.parametrize(
    ("values", "command"),
    [
        ({}, "ping -c 5 192.0.2.7"),
        # an IPv6 address is written canonical and needs "ping ipv6"
        ({"target": "2001:DB8:0::7"}, "ping ipv6 -c 5 2001:db8::7"),
        # a host name resolves as IPv6 only under "ping ipv6": follow the source's family
        (
            {"target": "cpe.example.net", "source": "2001:db8::1"},
            "ping ipv6 -c 5 -a 2001:db8::1 cpe.example.net",
        ),
        (
            {"target": "cpe.example.net", "source": "192.0.2.1"},
            "ping -c 5 -a 192.0.2.1 cpe.example.net",
        ),
        # IPv4: -vpn-instance with a dash, -i before the host
        (
            {"vrf": "CUST42", "source_interface": "Vlanif100"},
            "ping -vpn-instance CUST42 -c 5 -i Vlanif100 192.0.2.7",
        ),
        # IPv6: vpn-instance without a dash, -i after the host
        (
            {"target": "2001:db8::7", "vrf": "CUST42", "source_interface": "Vlanif100"},
            "ping ipv6 vpn-instance CUST42 -c 5 2001:db8::7 -i Vlanif100",
        ),
        ({"size": 20, "count": 1}, "ping -c 1 -s 20 192.0.2.7"),
        ({"size": 9600}, "ping -c 5 -s 9600 192.0.2.7"),
    ],
)
def test_command_forms(values: dict[str, object], command: str) -> None:
    assert build(**values) == command


@pytest.mark.parametrize(
    ("timeout", "milliseconds"),
    [(1, "1000"), ("0.1", "100"), ("0.25", "250"), ("2.0005", "2001"), (60, "60000")],
)
def test_timeout_is_whole_milliseconds_rounded_up(timeout: object, milliseconds: str) -> None:
    assert build(timeout=timeout) == f"ping -c 5 -t {milliseconds} 192.0.2.7"


@pytest.mark.parametrize("size", [19, 9601])
def test_sizes_outside_the_device_range_are_refused(size: int) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        build(size=size)
    assert info.value.field == "size"


def test_failure_strings_include_scrapli_communitys_own() -> None:
    defaults = SCRAPLI_PLATFORM["defaults"]
    assert isinstance(defaults, dict)
    for theirs in defaults["failed_when_contains"]:
        assert any(ours in theirs for ours in VRP.failed_when_contains), theirs


def test_no_successful_output_contains_a_failure_string() -> None:
    for path in sorted(FIXTURES.glob("*/huawei_vrp/*.txt")):
        text = path.read_text()
        if "packet(s) transmitted" in text:
            assert not any(s in text for s in VRP.failed_when_contains), path.name


def test_worst_case_counts_timeout_and_the_ipv6_probe_gap() -> None:
    assert VRP.worst_case_seconds(PingRequest("192.0.2.7")) == 5 * (2 + 2.0) + 5.0
    assert VRP.worst_case_seconds(PingRequest("192.0.2.7", count=2, timeout=0.5)) == 11.0


def test_one_line_summary_with_std_dev() -> None:
    # the comma-separated form (older VRP / Comware heritage), with a standard deviation
    output = (
        "<HUAWEI>ping -c 5 192.0.2.7\n"
        "  PING 192.0.2.7: 56  data bytes, press CTRL_C to break\n"
        "    Reply from 192.0.2.7: bytes=56 Sequence=1 ttl=255 time=1.250 ms\n"
        "\n"
        "  --- 192.0.2.7 ping statistics ---\n"
        "    5 packet(s) transmitted, 4 packet(s) received, 20.0% packet loss\n"
        "    round-trip min/avg/max/std-dev = 1.250/2.000/3.500/0.750 ms\n"
    )
    result = VRP.parse_ping(output)
    assert (result.sent, result.received, result.loss_pct) == (5, 4, 20.0)
    assert (result.rtt_min_ms, result.rtt_avg_ms, result.rtt_max_ms, result.rtt_stddev_ms) == (
        1.25,
        2.0,
        3.5,
        0.75,
    )


def test_the_last_statistics_block_is_this_pings() -> None:
    block = (
        "  --- 192.0.2.7 ping statistics ---\n"
        "    5 packet(s) transmitted\n"
        "    {received} packet(s) received\n"
        "    {loss}% packet loss\n"
    )
    output = (
        block.format(received=0, loss="100.00")
        + block.format(received=5, loss="0.00")
        + "    round-trip min/avg/max = 1/2/3 ms\n"
    )
    result = VRP.parse_ping(output)
    assert (result.received, result.loss_pct, result.rtt_max_ms) == (5, 0.0, 3.0)


def test_round_trip_of_an_earlier_block_is_not_borrowed() -> None:
    output = (
        "    5 packet(s) transmitted\n    5 packet(s) received\n"
        "    round-trip min/avg/max = 1/2/3 ms\n"
        "    5 packet(s) transmitted\n    0 packet(s) received\n    100.00% packet loss\n"
    )
    result = VRP.parse_ping(output)
    assert (result.status, result.rtt_avg_ms) == ("no_reply", None)


@pytest.mark.parametrize(
    "output",
    [
        "<HUAWEI>ping -c 5 -z 192.0.2.7\n                ^\n"
        "Error: Unrecognized command found at '^' position.\n<HUAWEI>",
        "<HUAWEI>ping -c 5\n             ^\nError: Incomplete command found at '^' position.\n",
        "[~PE1]ping -vpn-instance NOSUCH 192.0.2.7\nError: The VPN instance does not exist.\n",
        "Error: Failed to resolve the host name nosuch.example.net.\n",
    ],
)
def test_refusals_without_statistics_are_command_errors(output: str) -> None:
    with pytest.raises(CommandError):
        VRP.parse_ping(output)


@pytest.mark.parametrize(
    "output",
    [
        "",
        "<HUAWEI>",
        "  PING 192.0.2.7: 56  data bytes, press CTRL_C to break\n    Request time out\n",
        # statistics cut after the first line
        "  --- 192.0.2.7 ping statistics ---\n    5 packet(s) transmitted\n",
        "99999999999 packet(s) transmitted\n0 packet(s) received\n",
    ],
)
def test_unreadable_answers_are_parse_errors(output: str) -> None:
    with pytest.raises(ParseError):
        VRP.parse_ping(output)
