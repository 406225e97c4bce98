"""H3C Comware details the fixtures leave open: command forms, -t in ms, ranges, refusals."""

from __future__ import annotations

import pytest
from scrapli_community.hp.comware.hp_comware import SCRAPLI_PLATFORM

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform, platform_names

H3C = get_platform("h3c_comware")


def build(**values: object) -> str:
    return H3C.build_ping(PingRequest.from_strings({"target": "192.0.2.7", **values}))


@pytest.mark.parametrize(
    ("values", "command"),
    [
        ({}, "ping -c 5 192.0.2.7"),
        ({"target": "2001:DB8::7"}, "ping ipv6 -c 5 2001:db8::7"),
        # a host name always gets its family's keyword (a host called "ip" stays a host)
        ({"target": "ip"}, "ping ip -c 5 ip"),
        (
            {"target": "cpe.example.net", "source": "2001:db8::1"},
            "ping ipv6 -c 5 -a 2001:db8::1 cpe.example.net",
        ),
        # every option: VPN instance, source address and interface, size, timeout in ms
        (
            {"vrf": "CUST42", "source": "192.0.2.1", "source_interface": "Vlan-interface100",
             "count": 10, "size": 1400, "timeout": "0.25"},
            "ping -vpn-instance CUST42 -c 10 -s 1400 -t 250 -a 192.0.2.1 -i Vlan-interface100 "
            "192.0.2.7",
        ),
        # IPv6: the interface after the host, the form Comware 5 and 7 both take
        (
            {"target": "2001:db8::7", "vrf": "CUST42", "source_interface": "Vlan-interface100"},
            "ping ipv6 -vpn-instance CUST42 -c 5 2001:db8::7 -i Vlan-interface100",
        ),
        ({"size": 20, "count": 1, "timeout": 60}, "ping -c 1 -s 20 -t 60000 192.0.2.7"),
    ],
)
def test_command_forms(values: dict[str, object], command: str) -> None:
    assert build(**values) == command


@pytest.mark.parametrize(("values", "field"), [({"size": 19}, "size"), ({"size": 8101}, "size")])
def test_values_outside_the_device_ranges_are_refused(
    values: dict[str, object], field: str
) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        build(**values)
    assert info.value.field == field


def test_hp_comware_is_an_alias_not_a_second_platform() -> None:
    assert get_platform("hp_comware") is H3C
    assert "hp_comware" not in platform_names()
    assert H3C.scrapli_platform == "hp_comware"  # scrapli-community's driver name


def test_failure_strings_include_scrapli_communitys_own() -> None:
    defaults = SCRAPLI_PLATFORM["defaults"]
    assert isinstance(defaults, dict)
    for theirs in defaults["failed_when_contains"]:
        assert any(ours in theirs for ours in H3C.failed_when_contains), theirs


@pytest.mark.parametrize(
    "output",
    [
        "ping -c 5 -x 192.0.2.7\n              ^\n% Unrecognized command found at '^' position.\n",
        "ping -c\n        ^\n% Incomplete command found at '^' position.\n",
        "ping -s 9 192.0.2.7\n        ^\n% Wrong parameter found at '^' position.\n",
    ],
)
def test_cli_refusals_are_command_errors(output: str) -> None:
    with pytest.raises(CommandError, match="found at"):
        H3C.parse_ping(output)


def test_syslog_lines_and_lone_timeouts_are_no_refusal() -> None:
    # A terminal with monitoring on shows "%Nov 16 ..." logs; five timeouts and no summary
    # (a cut capture) is unreadable, not a refusal.
    output = (
        "Ping 192.0.2.7 (192.0.2.7): 56 data bytes, press CTRL_C to break\n"
        "%Nov 16 09:56:02:480 2011 H3C IFNET/3/PHY_UPDOWN: GE1/0/1 link status is down.\n"
        + "Request time out\n" * 5
    )
    with pytest.raises(ParseError):
        H3C.parse_ping(output)


def test_comware5_one_fact_a_line_reads_like_comware7() -> None:
    # The Comware 5 layout H3C's manuals show (the same block as Huawei VRP's).
    output = (
        "  PING 1.1.2.2: 56  data bytes, press CTRL_C to break\n"
        "    Reply from 1.1.2.2: bytes=56 Sequence=1 ttl=254 time=205 ms\n"
        "    Request time out\n"
        "\n"
        "  --- 1.1.2.2 ping statistics ---\n"
        "    2 packet(s) transmitted\n"
        "    1 packet(s) received\n"
        "    50.00% packet loss\n"
        "    round-trip min/avg/max = 205/205/205 ms\n"
    )
    result = H3C.parse_ping(output)
    assert (result.sent, result.received, result.loss_pct) == (2, 1, 50.0)
    assert (result.rtt_min_ms, result.rtt_avg_ms, result.rtt_stddev_ms) == (205.0, 205.0, None)


def test_the_last_statistics_block_is_this_pings() -> None:
    block = "--- Ping statistics for X ---\n5 packet(s) transmitted, {} packet(s) received\n"
    assert H3C.parse_ping(block.format(5) + block.format(1)).received == 1
