"""No hostile option value ever reaches a command string, on any platform."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linemon_agent.errors import LinemonError, ValidationError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import CORE_PLATFORMS, get_platform
from linemon_agent.platforms.base import OPTIONS

PLATFORMS = sorted(CORE_PLATFORMS)
SAFE = re.compile(r"[A-Za-z0-9 _.:/=-]+\Z")

HOSTILE = [
    "192.0.2.1\nreload",
    "192.0.2.1\r\nconfigure terminal",
    "192.0.2.1; reboot",
    "192.0.2.1 | include x",
    "192.0.2.1 && rm -rf /",
    "`reboot`",
    "$(reboot)",
    "${IFS}",
    "a b",
    "\x00",
    "x\x00y",
    "\x1b[2J",
    "\t",
    "１９２.０.２.１",
    "ＣＵＳＴ",
    "exаmple",  # Cyrillic a
    "x" * 5000,
    "-",
    "--help",
    "'quoted'",
    '"quoted"',
    "a>b",
    "a<b",
    "a\\b",
    "#",
    "!",
    "?",
    "a,b",
    "%",
    "",
]
FIELDS = ["target", "vrf", "source", "source_interface", "count", "size", "timeout"]


@pytest.mark.parametrize("platform_name", PLATFORMS)
@pytest.mark.parametrize("field", FIELDS)
def test_hostile_values_are_refused_before_any_command(platform_name: str, field: str) -> None:
    platform = get_platform(platform_name)
    for value in HOSTILE:
        values = {"target": "192.0.2.1", field: value}
        if value == "" and field != "target":
            continue  # empty means "not set"
        try:
            request = PingRequest.from_strings(values)
        except ValidationError as exc:
            assert exc.field == field
            assert "\n" not in str(exc) and str(exc).isascii()
            continue
        # The few values that are valid (e.g. '-' is not) must still build safely.
        command = platform.build_ping(request)
        assert SAFE.match(command), (field, value, command)


_any_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)


@pytest.mark.parametrize("platform_name", PLATFORMS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.dictionaries(st.sampled_from(FIELDS), _any_text, min_size=1, max_size=4))
def test_arbitrary_values_either_refused_or_safe(platform_name: str, data: dict[str, str]) -> None:
    platform = get_platform(platform_name)
    data.setdefault("target", "192.0.2.1")
    try:
        command = platform.build_ping(PingRequest.from_strings(data))
    except LinemonError:
        return
    assert SAFE.match(command)
    assert "\n" not in command


@pytest.mark.parametrize("platform_name", PLATFORMS)
def test_every_supported_option_appears_canonically(platform_name: str) -> None:
    platform = get_platform(platform_name)
    values = {
        "vrf": "CUST42",
        "source": "2001:DB8::1",
        "source_interface": "Loopback0",
    }
    for option in OPTIONS:
        if option not in platform.supports or option not in values:
            continue
        target = "2001:db8::7" if option == "source" else "192.0.2.7"
        command = platform.build_ping(
            PingRequest.from_strings({"target": target, option: values[option]})
        )
        expected = "2001:db8::1" if option == "source" else values[option]
        assert expected in command, (option, command)


@pytest.mark.parametrize("platform_name", PLATFORMS)
def test_unsupported_options_are_explicit_errors(platform_name: str) -> None:
    platform = get_platform(platform_name)
    values: dict[str, object] = {
        "size": 100,
        "timeout": 2.0,
        "vrf": "CUST42",
        "source": "192.0.2.1",
        "source_interface": "Loopback0",
    }
    for option in OPTIONS:
        if option in platform.supports:
            continue
        request = PingRequest(target="192.0.2.7", **{option: values[option]})  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match=f"invalid {option}"):
            platform.build_ping(request)
