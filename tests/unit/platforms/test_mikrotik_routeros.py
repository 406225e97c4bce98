"""RouterOS details the fixtures leave open: durations, echo, wrapping, unsupported options."""

from __future__ import annotations

import pytest

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform
from linemon_agent.platforms.mikrotik_routeros import duration_ms
from tests.conftest import FIXTURES

ROS = get_platform("mikrotik_routeros")

TABLE = (
    "  SEQ HOST                                     SIZE TTL TIME       STATUS\n"
    "    0 192.0.2.7                                  56  64 1ms25us\n"
    "    1 192.0.2.7                                                 timeout\n"
    "    sent=2 received=1 packet-loss=50% min-rtt=1ms25us avg-rtt=1ms25us max-rtt=1ms25us\n"
)


def build(**values: object) -> str:
    return ROS.build_ping(PingRequest.from_strings({"target": "192.0.2.7", **values}))


@pytest.mark.parametrize(
    ("values", "command"),
    [
        ({}, "/ping address=192.0.2.7 count=5"),
        ({"target": "2001:DB8::7", "count": 3}, "/ping address=2001:db8::7 count=3"),
        ({"target": "CPE.example.net"}, "/ping address=cpe.example.net count=5"),
        ({"vrf": "CUST42"}, "/ping address=192.0.2.7 count=5 vrf=CUST42"),
        (
            {"source": "192.0.2.1", "source_interface": "ether1"},
            "/ping address=192.0.2.7 count=5 src-address=192.0.2.1 interface=ether1",
        ),
        ({"size": 28}, "/ping address=192.0.2.7 count=5 size=28"),
    ],
)
def test_command_forms(values: dict[str, object], command: str) -> None:
    assert build(**values) == command


@pytest.mark.parametrize(("field", "value"), [("timeout", 2), ("size", 27)])
def test_what_routeros_cannot_express_is_refused(field: str, value: object) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        build(**{field: value})
    assert info.value.field == field


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1ms25us", 1.025),
        ("58us", 0.058),
        ("4ms97us", 4.097),
        ("146ms", 146.0),
        ("0ms", 0.0),
        ("1s20ms", 1020.0),
        ("2s", 2000.0),
        ("1m2s", 62000.0),
        ("1.5ms", 1.5),
    ],
)
def test_durations(text: str, ms: float) -> None:
    assert duration_ms(text) == pytest.approx(ms)


@pytest.mark.parametrize("text", ["", "ms", "1", "1x", "1ms25", "timeout", "-1ms", "1 ms"])
def test_what_is_not_a_duration(text: str) -> None:
    assert duration_ms(text) is None


@pytest.mark.parametrize(
    "before",
    [
        "",
        "[admin@MikroTik] > /ping address=192.0.2.7 count=2\n",
        # RouterOS echoes the prompt and command twice when nothing strips them
        "[admin@MikroTik] > /ping address=192.0.2.7 count=2\n"
        "[admin@MikroTik] > /ping address=192.0.2.7 count=2\n",
    ],
)
@pytest.mark.parametrize("after", ["", "\n[admin@MikroTik] > "])
def test_echo_and_prompts_change_nothing(before: str, after: str) -> None:
    result = ROS.parse_ping(before + TABLE + after)
    assert (result.sent, result.received, result.loss_pct, result.rtt_avg_ms) == (
        2,
        1,
        50.0,
        1.025,
    )


def test_crlf_and_colour_codes_change_nothing() -> None:
    coloured = TABLE.replace("sent=", "\x1b[m\x1b[36msent=").replace("\n", "\x1b[K\r\n")
    assert ROS.parse_ping(coloured) == ROS.parse_ping(TABLE)


@pytest.mark.parametrize(
    ("after", "max_ms"),
    [
        ("    max-rtt=3ms\n[admin@r1] > ", 3.0),
        ("\n    max-rtt=3ms\n", None),
        ("[admin@r1] > :put max-rtt=9ms\n", None),
    ],
)
def test_only_the_next_line_of_bare_fields_continues_a_summary(
    after: str, max_ms: float | None
) -> None:
    output = "    sent=3 received=3 packet-loss=0% min-rtt=1ms avg-rtt=2ms\n" + after
    result = ROS.parse_ping(output)
    assert (result.rtt_min_ms, result.rtt_avg_ms, result.rtt_max_ms) == (1.0, 2.0, max_ms)


def test_more_replies_than_probes_keep_the_raw_counts() -> None:
    output = "    sent=1 received=4 packet-loss=-300% min-rtt=1ms avg-rtt=1ms max-rtt=3ms\n"
    result = ROS.parse_ping(output)
    assert (result.sent, result.received, result.loss_pct) == (1, 4, 0.0)
    assert result.extra == {"device_loss_pct": -300.0}


def test_an_unreadable_rtt_is_left_out_not_guessed() -> None:
    result = ROS.parse_ping("    sent=2 received=2 packet-loss=0% min-rtt=?? avg-rtt=3ms\n")
    assert (result.status, result.rtt_min_ms, result.rtt_avg_ms) == ("ok", None, 3.0)


def test_a_later_legacy_summary_wins_over_an_earlier_table() -> None:
    output = TABLE + (
        "5 packets transmitted, 5 packets received, 0% packet loss\n"
        "round-trip min/avg/max = 1/1.4/2 ms\n"
    )
    result = ROS.parse_ping(output)
    assert (result.sent, result.rtt_avg_ms) == (5, 1.4)


def test_no_successful_output_contains_a_failure_string() -> None:
    for path in sorted(FIXTURES.glob("*/mikrotik_routeros/*.txt")):
        text = path.read_text().lower()
        if "sent=" in text or "transmitted" in text:
            assert not any(s in text for s in ROS.failed_when_contains), path.name


@pytest.mark.parametrize(
    "output",
    [
        "bad command name pingx (line 1 column 2)\n",
        "expected end of command (line 1 column 41)\n",
        "syntax error (line 1 column 7)\n",
        "input does not match any value of interface\n",
        "value of size out of range (28..65535)\n",
        "failure: dns name does not exist\n",
    ],
)
def test_refusals_without_a_summary_are_command_errors(output: str) -> None:
    with pytest.raises(CommandError):
        ROS.parse_ping(output)


@pytest.mark.parametrize(
    "output",
    [
        "",
        "[admin@MikroTik] > ",
        "  SEQ HOST                                     SIZE TTL TIME  STATUS\n"
        "    0 192.0.2.7                                  56  64 1ms\n",
        "    sent=5 packet-loss=0%\n",
        "    sent=99999999999 received=0 packet-loss=100%\n",
    ],
)
def test_unreadable_answers_are_parse_errors(output: str) -> None:
    with pytest.raises(ParseError):
        ROS.parse_ping(output)
