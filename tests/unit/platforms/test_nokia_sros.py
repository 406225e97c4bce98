"""Nokia SR OS details the fixtures leave open: MD-CLI and classic command forms, ranges,
refusals, and the summary variants (bounced, duplicates, units)."""

from __future__ import annotations

import pytest
from scrapli_community.nokia.sros.nokia_sros import SCRAPLI_PLATFORM

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform

MD = get_platform("nokia_sros")
CLASSIC = get_platform("nokia_sros_classic")


def build(platform: object, **values: object) -> str:
    request = PingRequest.from_strings({"target": "192.0.2.7", **values})
    return platform.build_ping(request)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("values", "md", "classic"),
    [
        ({}, "ping 192.0.2.7 count 5", "ping 192.0.2.7 count 5"),
        (
            {"vrf": "CUST42", "count": 10, "size": 1400, "timeout": "2.5", "source": "192.0.2.1"},
            "ping 192.0.2.7 router-instance CUST42 count 10 size 1400 timeout 3 "
            "source-address 192.0.2.1",
            "ping 192.0.2.7 service-name CUST42 count 10 size 1400 timeout 3 source 192.0.2.1",
        ),
        # classic names Base, management and a VPRN's service id with "router"
        ({"vrf": "Base"}, "ping 192.0.2.7 router-instance Base count 5",
         "ping 192.0.2.7 router Base count 5"),
        ({"vrf": "100"}, "ping 192.0.2.7 router-instance 100 count 5",
         "ping 192.0.2.7 router 100 count 5"),
        (
            {"target": "2001:DB8::7", "source_interface": "to-cpe1"},
            "ping 2001:db8::7 count 5 interface to-cpe1",
            "ping 2001:db8::7 count 5 interface to-cpe1",
        ),
        ({"size": 0, "timeout": 10}, "ping 192.0.2.7 count 5 size 0 timeout 10",
         "ping 192.0.2.7 count 5 size 0 timeout 10"),
    ],
)
def test_command_forms(values: dict[str, object], md: str, classic: str) -> None:
    assert (build(MD, **values), build(CLASSIC, **values)) == (md, classic)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"source": "192.0.2.1", "source_interface": "to-cpe1"}, "source_interface"),
        ({"timeout": 11}, "timeout"),
        ({"timeout": "0.5"}, "timeout"),
    ],
)
def test_what_sr_os_cannot_express_is_refused(values: dict[str, object], field: str) -> None:
    for platform in (MD, CLASSIC):
        with pytest.raises(UnsupportedOptionError) as info:
            build(platform, **values)
        assert info.value.field == field


def test_scrapli_community_driver_and_variant() -> None:
    assert (MD.scrapli_platform, MD.scrapli_variant) == ("nokia_sros", None)
    assert (CLASSIC.scrapli_platform, CLASSIC.scrapli_variant) == ("nokia_sros", "classic")
    assert "classic" in SCRAPLI_PLATFORM["variants"]  # type: ignore[operator]
    defaults = SCRAPLI_PLATFORM["defaults"]
    variants = SCRAPLI_PLATFORM["variants"]
    assert isinstance(defaults, dict) and isinstance(variants, dict)
    for platform, theirs in (
        (MD, defaults["failed_when_contains"]),
        (CLASSIC, variants["classic"]["failed_when_contains"]),
    ):
        assert set(theirs) <= set(platform.failed_when_contains)


def test_units_other_than_ms_and_a_summary_without_stddev() -> None:
    output = (
        "PING 192.0.2.7 56 data bytes\n"
        "---- 192.0.2.7 PING Statistics ----\n"
        "2 packets transmitted, 2 packets received, 0.00% packet loss\n"
        "round-trip min = 850us, avg = 0.9ms, max = 1s\n"
    )
    result = MD.parse_ping(output)
    assert (result.rtt_min_ms, result.rtt_avg_ms, result.rtt_max_ms) == (0.85, 0.9, 1000.0)
    assert result.rtt_stddev_ms is None


@pytest.mark.parametrize(
    "output",
    [
        "                    ^^\nMINOR: MGMT_CORE #2201: Unknown element - 'tt'\n",
        "                    ^^\nMINOR: CLI #2001: Missing element value - 'destination-address'\n",
    ],
)
def test_md_cli_refusals_are_command_errors(output: str) -> None:
    with pytest.raises(CommandError, match="MINOR"):
        MD.parse_ping(output)


def test_classic_bad_command_is_a_command_error_and_garbage_a_parse_error() -> None:
    with pytest.raises(CommandError, match="Bad command"):
        CLASSIC.parse_ping("ping 192.0.2.7 bogus\n                ^\nError: Bad command.\n")
    with pytest.raises(ParseError):
        CLASSIC.parse_ping("PING 192.0.2.7 56 data bytes\nRequest timed out. icmp_seq=1.\n")
