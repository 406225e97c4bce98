"""VyOS details the fixtures leave open: command forms, what is refused, refusals."""

from __future__ import annotations

import pytest
from scrapli_community.vyos.vyos.vyos import SCRAPLI_PLATFORM

from linemon_agent.errors import CommandError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform

VYOS = get_platform("vyos")


def test_every_option_it_can_express() -> None:
    request = PingRequest.from_strings(
        {"target": "192.0.2.7", "count": 10, "size": 1400, "source": "10.0.0.1",
         "source_interface": "eth1.100", "vrf": "CUST"}
    )
    assert VYOS.build_ping(request) == (
        "ping 192.0.2.7 count 10 size 1400 source-address 10.0.0.1 interface eth1.100 vrf CUST"
    )
    # count is always written: without it VyOS pings until interrupted
    assert VYOS.build_ping(PingRequest("2001:db8::7")) == "ping 2001:db8::7 count 5"


def test_a_per_probe_timeout_is_refused() -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        VYOS.build_ping(PingRequest("192.0.2.7", timeout=2))
    assert info.value.field == "timeout"


def test_failure_strings_include_scrapli_communitys_own() -> None:
    defaults = SCRAPLI_PLATFORM["defaults"]
    assert isinstance(defaults, dict)
    assert set(defaults["failed_when_contains"]) <= set(VYOS.failed_when_contains)


@pytest.mark.parametrize(
    "output",
    [
        "ping: Unknown host: nosuch.example.net\n",
        "\n\n  Invalid command: ping 192.0.2.7 cuont 5 [cuont]\n\n",
    ],
)
def test_wrapper_refusals_are_command_errors(output: str) -> None:
    # the texts of VyOS's op-mode ping wrapper (vyos-1x src/op_mode/ping.py)
    with pytest.raises(CommandError):
        VYOS.parse_ping(output)
