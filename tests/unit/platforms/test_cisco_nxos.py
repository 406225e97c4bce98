"""NX-OS details the fixtures leave open: ping vs ping6, option clashes, ranges, odd output."""

from __future__ import annotations

import pytest
from scrapli.driver.core.cisco_nxos.base_driver import FAILED_WHEN_CONTAINS

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform

NXOS = get_platform("cisco_nxos")

SUMMARY = (
    "PING 192.0.2.7 (192.0.2.7): 56 data bytes\n"
    "64 bytes from 192.0.2.7: icmp_seq=0 ttl=254 time=1.5 ms\n\n"
    "--- 192.0.2.7 ping statistics ---\n"
    "{stats}\n"
    "{rtt}\n"
)


def build(**values: object) -> str:
    return NXOS.build_ping(PingRequest.from_strings({"target": "192.0.2.7", **values}))


@pytest.mark.parametrize(
    ("values", "command"),
    [
        ({}, "ping 192.0.2.7 count 5"),
        ({"target": "2001:DB8::7"}, "ping6 2001:db8::7 count 5"),
        # a host name pinged from an IPv6 source must resolve to IPv6: ping6
        (
            {"target": "cpe.example.net", "source": "2001:db8::1"},
            "ping6 cpe.example.net source 2001:db8::1 count 5",
        ),
        ({"target": "cpe.example.net"}, "ping cpe.example.net count 5"),
        # ping6 calls its egress interface "interface" and allows it with a source address
        (
            {"target": "2001:db8::7", "source": "2001:db8::1", "source_interface": "Ethernet1/1"},
            "ping6 2001:db8::7 source 2001:db8::1 interface Ethernet1/1 count 5",
        ),
        ({"source_interface": "Vlan100"}, "ping 192.0.2.7 source-interface Vlan100 count 5"),
        ({"timeout": "1.01"}, "ping 192.0.2.7 count 5 timeout 2"),
        ({"timeout": 60}, "ping 192.0.2.7 count 5 timeout 60"),
        ({"size": 1, "count": 1000}, "ping 192.0.2.7 count 1000 packet-size 1"),
    ],
)
def test_command_forms(values: dict[str, object], command: str) -> None:
    assert build(**values) == command


def test_ipv4_source_and_source_interface_together_are_refused() -> None:
    with pytest.raises(UnsupportedOptionError, match="invalid source_interface") as info:
        build(source="192.0.2.1", source_interface="loopback0")
    assert info.value.field == "source_interface"


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", 0), ("size", 65469), ("timeout", 0.5)],
)
def test_values_outside_the_device_ranges_are_refused(field: str, value: object) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        build(**{field: value})
    assert info.value.field == field


def test_worst_case_counts_the_one_second_gap_between_probes() -> None:
    # 5 probes x (2 s default timeout + 1 s interval) + 5 s margin
    assert NXOS.worst_case_seconds(PingRequest("192.0.2.7")) == 20.0


def test_failure_strings_include_scraplis_own() -> None:
    # scrapli is given this list instead of its own: it must still flag all it flagged
    for theirs in FAILED_WHEN_CONTAINS:
        assert any(ours in theirs for ours in NXOS.failed_when_contains), theirs


@pytest.mark.parametrize(
    ("rtt", "expected"),
    [
        ("round-trip min/avg/max = 1.5/2.25/3 ms", (1.5, 2.25, 3.0)),
        ("round-trip min/avg/max = 500/750/1000 us", (0.5, 0.75, 1.0)),
        ("round-trip min/avg/max = 1/1.5/2 s", (1000.0, 1500.0, 2000.0)),
        ("round-trip min/avg/max = 1,5/2,25/3", (1.5, 2.25, 3.0)),
    ],
)
def test_rtt_units_become_milliseconds(rtt: str, expected: tuple[float, ...]) -> None:
    stats = "3 packets transmitted, 3 packets received, 0.00% packet loss"
    result = NXOS.parse_ping(SUMMARY.format(stats=stats, rtt=rtt))
    assert (result.rtt_min_ms, result.rtt_avg_ms, result.rtt_max_ms) == expected
    assert result.rtt_stddev_ms is None


def test_last_statistics_block_wins_and_rtt_belongs_to_it() -> None:
    first = SUMMARY.format(
        stats="5 packets transmitted, 5 packets received, 0.00% packet loss",
        rtt="round-trip min/avg/max = 1/2/3 ms",
    )
    second = SUMMARY.format(
        stats="5 packets transmitted, 0 packets received, 100.00% packet loss", rtt=""
    )
    result = NXOS.parse_ping(first + "leaf# ping 192.0.2.7 count 5\n" + second)
    assert (result.status, result.sent, result.received, result.rtt_avg_ms) == (
        "no_reply",
        5,
        0,
        None,
    )


def test_duplicates_are_counted_and_loss_comes_from_the_counts() -> None:
    stats = "5 packets transmitted, 5 packets received, +2 duplicates, 0.00% packet loss"
    result = NXOS.parse_ping(SUMMARY.format(stats=stats, rtt=""))
    assert (result.duplicates, result.loss_pct, result.extra) == (2, 0.0, {"device_loss_pct": 0.0})


@pytest.mark.parametrize(
    "output",
    [
        "% Invalid command at '^' marker.\n",
        "ping 192.0.2.7 vrf X count 5\n       ^\n% Invalid parameter detected at '^' marker.\n",
        "% Invalid host/interface nosuch.example.net\n",
        "ping: unknown host nosuch.example.net\n",
        "connect: Network is unreachable\n",
    ],
)
def test_refusals_without_statistics_are_command_errors(output: str) -> None:
    with pytest.raises(CommandError):
        NXOS.parse_ping(output)


@pytest.mark.parametrize(
    "output",
    [
        "",
        " \r\n ",
        "PING 192.0.2.7 (192.0.2.7): 56 data bytes\nRequest 0 timed out\n",
        "1234567890 packets transmitted, 1 packets received, 0.00% packet loss\n",
    ],
)
def test_unreadable_answers_are_parse_errors(output: str) -> None:
    with pytest.raises(ParseError):
        NXOS.parse_ping(output)
