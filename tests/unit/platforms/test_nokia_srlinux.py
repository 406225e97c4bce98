"""SR Linux details the fixtures leave open: command forms, what is refused, CLI refusals."""

from __future__ import annotations

import pytest
from scrapli_community.nokia.srlinux.nokia_srlinux import SCRAPLI_PLATFORM

from linemon_agent.errors import CommandError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform

SRL = get_platform("nokia_srlinux")


def build(**values: object) -> str:
    return SRL.build_ping(PingRequest.from_strings({"target": "192.0.2.7", **values}))


@pytest.mark.parametrize(
    ("values", "command"),
    [
        ({}, "ping 192.0.2.7 network-instance default -c 5"),
        (
            {"vrf": "ip-vrf-1", "count": 10, "size": 1400, "source": "10.0.0.1"},
            "ping 192.0.2.7 network-instance ip-vrf-1 -c 10 -s 1400 -I 10.0.0.1",
        ),
        ({"target": "2001:DB8::7"}, "ping 2001:db8::7 network-instance default -c 5"),
    ],
)
def test_command_forms(values: dict[str, object], command: str) -> None:
    assert build(**values) == command


@pytest.mark.parametrize(
    ("values", "field"),
    [({"timeout": 2}, "timeout"), ({"source_interface": "ethernet-1/1.0"}, "source_interface")],
)
def test_unverified_flags_are_refused_not_guessed(values: dict[str, object], field: str) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        build(**values)
    assert info.value.field == field


def test_failure_strings_include_scrapli_communitys_own() -> None:
    defaults = SCRAPLI_PLATFORM["defaults"]
    assert isinstance(defaults, dict)
    assert set(defaults["failed_when_contains"]) <= set(SRL.failed_when_contains)


def test_parsing_error_is_a_command_error() -> None:
    # SR Linux v24.10's answer to an unknown word (a published session)
    with pytest.raises(CommandError, match="Unknown token"):
        SRL.parse_ping("Parsing error: Unknown token 'information'\n")
