"""Junos details the fixtures leave open: inet/inet6, wait rounding, marks, Evolved output."""

from __future__ import annotations

import pytest
from scrapli.driver.core.juniper_junos.base_driver import FAILED_WHEN_CONTAINS

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform

JUNOS = get_platform("juniper_junos")


def build(**values: object) -> str:
    return JUNOS.build_ping(PingRequest.from_strings({"target": "192.0.2.7", **values}))


@pytest.mark.parametrize(
    ("values", "command"),
    [
        ({}, "ping 192.0.2.7 count 5 rapid"),
        # an IPv6 address needs no keyword: Junos runs ping6 by itself
        (
            {"target": "2001:DB8::7", "source": "2001:db8::1"},
            "ping 2001:db8::7 source 2001:db8::1 count 5 rapid",
        ),
        # a host name resolves in the family of its source address
        (
            {"target": "cpe.example.net", "source": "2001:db8::1"},
            "ping cpe.example.net inet6 source 2001:db8::1 count 5 rapid",
        ),
        (
            {"target": "cpe.example.net", "source": "192.0.2.1"},
            "ping cpe.example.net inet source 192.0.2.1 count 5 rapid",
        ),
        ({"target": "cpe.example.net"}, "ping cpe.example.net count 5 rapid"),
        # source address and egress interface may go together
        (
            {"source": "192.0.2.1", "source_interface": "ae0.120"},
            "ping 192.0.2.7 source 192.0.2.1 interface ae0.120 count 5 rapid",
        ),
        ({"timeout": "2.1"}, "ping 192.0.2.7 wait 3 count 5 rapid"),
        ({"timeout": 1}, "ping 192.0.2.7 wait 1 count 5 rapid"),
        ({"size": 0, "count": 1}, "ping 192.0.2.7 size 0 count 1 rapid"),
    ],
)
def test_command_forms(values: dict[str, object], command: str) -> None:
    assert build(**values) == command


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", 65469), ("timeout", 0.9)],
)
def test_values_outside_the_device_ranges_are_refused(field: str, value: object) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        build(**{field: value})
    assert info.value.field == field


def test_worst_case_assumes_the_ten_second_default_wait_per_probe() -> None:
    assert JUNOS.worst_case_seconds(PingRequest("192.0.2.7")) == 55.0
    assert JUNOS.worst_case_seconds(PingRequest("192.0.2.7", timeout=1.5)) == 15.0


def test_failure_strings_include_scraplis_own() -> None:
    # scrapli is given this list instead of its own: it must still flag all it flagged
    for theirs in FAILED_WHEN_CONTAINS:
        assert any(ours in theirs for ours in JUNOS.failed_when_contains), theirs


@pytest.mark.parametrize("after", ["", "\n", "\nsw-core-01> ", "\n\nsalt@vmx01> "])
def test_round_trip_without_unit_is_milliseconds(after: str) -> None:
    # jcluser@vMX1 lab capture: the round-trip line ends without " ms"; whatever follows it
    # (here a prompt starting with "s") must not be read as a unit
    output = (
        "jcluser@vMX1# run ping 4.4.4.4 rapid\n"
        "PING 4.4.4.4 (4.4.4.4): 56 data bytes\n"
        "!!!!!\n"
        "--- 4.4.4.4 ping statistics ---\n"
        "5 packets transmitted, 5 packets received, 0% packet loss\n"
        "round-trip min/avg/max/stddev = 1.560/1.829/2.015/0.152" + after
    )
    result = JUNOS.parse_ping(output)
    assert (result.rtt_min_ms, result.rtt_avg_ms, result.rtt_max_ms, result.rtt_stddev_ms) == (
        1.56,
        1.829,
        2.015,
        0.152,
    )
    assert result.marks == "!!!!!"


def test_marks_are_those_of_the_last_ping_only() -> None:
    block = (
        "PING 192.0.2.7 (192.0.2.7): 56 data bytes\n{marks}\n"
        "--- 192.0.2.7 ping statistics ---\n"
        "5 packets transmitted, {received} packets received, {loss}% packet loss\n"
    )
    output = block.format(marks=".....", received=0, loss=100) + block.format(
        marks="!.!!!", received=4, loss=20
    )
    result = JUNOS.parse_ping(output)
    assert (result.marks, result.received, result.loss_pct) == ("!.!!!", 4, 20.0)


def test_no_marks_without_rapid() -> None:
    output = (
        "PING 192.0.2.7 (192.0.2.7): 56 data bytes\n\n"
        "--- 192.0.2.7 ping statistics ---\n"
        "5 packets transmitted, 0 packets received, 100% packet loss\n"
    )
    assert JUNOS.parse_ping(output).marks is None


def test_evolved_iputils_summary_with_duplicates_and_errors() -> None:
    output = (
        "PING 192.0.2.7 (192.0.2.7) 56(84) bytes of data.\n"
        "64 bytes from 192.0.2.7: icmp_seq=1 ttl=64 time=0.512 ms\n"
        "64 bytes from 192.0.2.7: icmp_seq=1 ttl=64 time=0.601 ms (DUP!)\n"
        "From 192.0.2.1 icmp_seq=2 Destination Host Unreachable\n\n"
        "--- 192.0.2.7 ping statistics ---\n"
        "3 packets transmitted, 1 received, +1 duplicates, +2 errors, 66.6667% packet loss, "
        "time 2003ms\n"
        "rtt min/avg/max/mdev = 0.512/0.556/0.601/0.044 ms\n"
    )
    result = JUNOS.parse_ping(output)
    assert (result.sent, result.received, result.duplicates, result.errors) == (3, 1, 1, 2)
    assert (result.loss_pct, result.rtt_stddev_ms) == (66.667, 0.044)
    assert result.extra == {"device_loss_pct": 66.6667}


def test_send_errors_before_a_summary_are_a_measurement() -> None:
    output = (
        "PING 192.0.2.7 (192.0.2.7): 56 data bytes\n"
        "ping: sendto: No route to host\n"
        "ping: sendto: No route to host\n"
        "--- 192.0.2.7 ping statistics ---\n"
        "2 packets transmitted, 0 packets received, 100% packet loss\n"
    )
    result = JUNOS.parse_ping(output)
    assert (result.status, result.sent, result.loss_pct) == ("no_reply", 2, 100.0)


@pytest.mark.parametrize(
    "output",
    [
        "ping 192.0.2.7 count 5 rapid tos\n                            ^\nsyntax error.\n",
        "error: interface ge-0/0/9.0 not found\n",
        "ping: bind: Can't assign requested address\n",
        "ping: nosuch.example.net: Name or service not known\n",
        "                        ^\nunknown command.\n",
    ],
)
def test_refusals_without_statistics_are_command_errors(output: str) -> None:
    with pytest.raises(CommandError):
        JUNOS.parse_ping(output)


@pytest.mark.parametrize(
    "output",
    [
        "",
        "PING 192.0.2.7 (192.0.2.7): 56 data bytes\n!!.\n",
        "{master:0}\nops@pe3-ams> ",
        "99999999999 packets transmitted, 0 packets received, 100% packet loss\n",
    ],
)
def test_unreadable_answers_are_parse_errors(output: str) -> None:
    with pytest.raises(ParseError):
        JUNOS.parse_ping(output)
