"""The router emulator bed: its pure parts, then real scrapli classic clients against it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapli import AsyncScrapli, Scrapli
from scrapli.driver import AsyncGenericDriver, GenericDriver
from scrapli.driver.core.arista_eos.base_driver import FAILED_WHEN_CONTAINS as eos_failed
from scrapli.driver.core.cisco_iosxe.base_driver import FAILED_WHEN_CONTAINS as iosxe_failed
from scrapli.driver.core.cisco_iosxr.base_driver import FAILED_WHEN_CONTAINS as iosxr_failed
from scrapli.driver.core.cisco_nxos.base_driver import FAILED_WHEN_CONTAINS as nxos_failed
from scrapli.driver.core.juniper_junos.base_driver import FAILED_WHEN_CONTAINS as junos_failed
from scrapli.exceptions import ScrapliAuthenticationFailed, ScrapliConnectionError, ScrapliTimeout

from linemon_agent.errors import LinemonError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform
from tests.beds.emulator import render as rendering
from tests.beds.emulator.client import Emulator, EmulatorError
from tests.beds.emulator.config import ConfigError, fleet_config, load_config
from tests.beds.emulator.devices import Cli
from tests.beds.emulator.fixtures import (  # noqa: F401 - pytest fixtures
    check_no_internal_errors,
    emulator_factory,
    platform_fleet,
    platform_fleet_config,
    scrapli_args,
)
from tests.beds.emulator.formats import iputils_time, routeros_time
from tests.beds.emulator.pingcmd import Refusal, parse_ping
from tests.beds.emulator.render import PLATFORMS, PingArgs, render
from tests.beds.emulator.terminal import LineEditor
from tests.conftest import FIXTURES

TARGET = "198.51.100.7"
RTTS: list[float | None] = [2.0, None, 12.0, 4.0, 150.0]
# Where each platform's real outputs are (tests/fixtures/...).
FAMILY = {
    "cisco_iosxe": "corpus/cisco_ios",
    "cisco_iosxr": "corpus/cisco_xr",
    "cisco_nxos": "corpus/cisco_nxos",
    "juniper_junos": "corpus/juniper_junos",
    "arista_eos": "corpus/arista_eos",
    "huawei_vrp": "corpus/huawei_vrp",
    "mikrotik_routeros": "corpus/mikrotik_routeros",
    "h3c_comware": "platforms/h3c_comware",
    "nokia_sros": "platforms/nokia_sros*",
    "nokia_sros_classic": "platforms/nokia_sros*",
    "nokia_srlinux": "platforms/nokia_srlinux",
    "vyos": "platforms/vyos",
    "linux": "corpus/linux_iputils",
}
# How far a printed RTT may be from the true one (ms): whole milliseconds (truncated or
# rounded averages), SR OS's three significant digits, else three decimals.
SLACK = {"cisco_iosxe": 1.5, "cisco_iosxr": 1.5, "huawei_vrp": 1.5}
SLACK |= {"nokia_sros": 0.5, "nokia_sros_classic": 0.5}


def lines_of(text: str) -> list[str]:
    assert "\n" not in text.replace("\r\n", ""), "every line ends in CRLF"
    return text.split("\r\n")


def linemon_platform(name: str) -> Any:
    try:
        return get_platform(name)
    except LinemonError as exc:  # written in parallel; runs once the module lands
        pytest.skip(f"linemon platform {name} not available yet: {exc}")


# -- the output formats ------------------------------------------------------------------


def shape(line: str) -> str:
    """A line with addresses, numbers, mark runs, day and month names and spacing abstracted."""
    line = re.sub(r"\d+\.\d+\.\d+\.\d+", "A", line)
    line = re.sub(
        r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b",
        "D",
        line,
    )
    line = re.sub(r"\d+(?:[.,]\d+)?", "N", line)
    line = re.sub(r"^[!.U]+$", "M", line.strip())
    return re.sub(r"\s+", " ", line)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_rendered_line_has_a_real_counterpart(platform: str) -> None:
    corpus = {
        shape(line)
        for path in FIXTURES.glob(f"{FAMILY[platform]}/*.txt")
        for line in path.read_text().splitlines()
    }
    rendered = render(platform, TARGET, len(RTTS), RTTS, now=1_700_000_000.25)
    missing = [line for line in lines_of(rendered) if line.strip() and shape(line) not in corpus]
    assert missing == []


REPLY = r"(\d+) bytes from 198\.51\.100\.7: icmp_seq={seq} ttl=\d+ time=[\d.]+ ms"
SHAPES = {
    "cisco_iosxe": [
        r"Type escape sequence to abort\.",
        r"Sending 5, 100-byte ICMP Echos to 198\.51\.100\.7, timeout is 2 seconds:",
        r"!\.!!!",
        r"Success rate is 80 percent \(4/5\), round-trip min/avg/max = 2/42/150 ms",
    ],
    "cisco_nxos": [
        r"PING 198\.51\.100\.7 \(198\.51\.100\.7\): 56 data bytes",
        REPLY.format(seq=0),
        r"Request 1 timed out",
        *(REPLY.format(seq=n) for n in (2, 3, 4)),
        "",
        r"--- 198\.51\.100\.7 ping statistics ---",
        r"5 packets transmitted, 4 packets received, 20\.00% packet loss",
        r"round-trip min/avg/max = 2/42/150 ms",
    ],
    "juniper_junos": [
        r"PING 198\.51\.100\.7 \(198\.51\.100\.7\): 56 data bytes",
        *(REPLY.format(seq=n) for n in (0, 2, 3, 4)),
        "",
        r"--- 198\.51\.100\.7 ping statistics ---",
        r"5 packets transmitted, 4 packets received, 20% packet loss",
        r"round-trip min/avg/max/stddev = 2\.000/42\.000/150\.000/62\.\d{3} ms",
    ],
    "arista_eos": [
        r"PING 198\.51\.100\.7 \(198\.51\.100\.7\) 72\(100\) bytes of data\.",
        *(REPLY.format(seq=n) for n in (1, 3, 4, 5)),
        "",
        r"--- 198\.51\.100\.7 ping statistics ---",
        r"5 packets transmitted, 4 received, 20% packet loss, time \d+ms",
        r"rtt min/avg/max/mdev = 2\.000/42\.000/150\.000/62\.\d{3} ms, ipg/ewma [\d.]+/[\d.]+ ms",
    ],
    "huawei_vrp": [
        r"  PING 198\.51\.100\.7: 56  data bytes, press CTRL_C to break",
        r"    Reply from 198\.51\.100\.7: bytes=56 Sequence=1 ttl=255 time=2 ms",
        r"    Request time out",
        r"    Reply from 198\.51\.100\.7: bytes=56 Sequence=3 ttl=255 time=12 ms",
        r"    Reply from 198\.51\.100\.7: bytes=56 Sequence=4 ttl=255 time=4 ms",
        r"    Reply from 198\.51\.100\.7: bytes=56 Sequence=5 ttl=255 time=150 ms",
        "",
        r"  --- 198\.51\.100\.7 ping statistics ---",
        r"    5 packet\(s\) transmitted",
        r"    4 packet\(s\) received",
        r"    20\.00% packet loss",
        r"    round-trip min/avg/max = 2/42/150 ms",
    ],
    "mikrotik_routeros": [
        r"  SEQ HOST +SIZE TTL TIME +STATUS",
        r"    0 198\.51\.100\.7 +56  64 2ms +",
        r"    1 198\.51\.100\.7 +timeout",
        r"    2 198\.51\.100\.7 +56  64 12ms +",
        r"    3 198\.51\.100\.7 +56  64 4ms +",
        r"    4 198\.51\.100\.7 +56  64 150ms +",
        r"    sent=5 received=4 packet-loss=20% min-rtt=2ms avg-rtt=42ms max-rtt=150ms",
        "",
    ],
    "linux": [
        r"PING 198\.51\.100\.7 \(198\.51\.100\.7\) 56\(84\) bytes of data\.",
        *(REPLY.format(seq=n) for n in (1, 3, 4, 5)),
        "",
        r"--- 198\.51\.100\.7 ping statistics ---",
        r"5 packets transmitted, 4 received, 20% packet loss, time \d+ms",
        r"rtt min/avg/max/mdev = 2\.000/42\.000/150\.000/62\.\d{3} ms",
    ],
}
SHAPES["h3c_comware"] = [
    r"Ping 198\.51\.100\.7 \(198\.51\.100\.7\): 56 data bytes, press CTRL\+C to break",
    r"56 bytes from 198\.51\.100\.7: icmp_seq=0 ttl=254 time=2\.000 ms",
    r"Request time out",
    *(rf"56 bytes from 198\.51\.100\.7: icmp_seq={n} ttl=254 time=[\d.]+ ms" for n in (2, 3, 4)),
    "",
    r"--- Ping statistics for 198\.51\.100\.7 ---",
    r"5 packet\(s\) transmitted, 4 packet\(s\) received, 20\.0% packet loss",
    r"round-trip min/avg/max/std-dev = 2\.000/42\.000/150\.000/62\.\d{3} ms",
]
SHAPES["nokia_sros"] = SHAPES["nokia_sros_classic"] = [
    r"PING 198\.51\.100\.7 56 data bytes",
    r"64 bytes from 198\.51\.100\.7: icmp_seq=1 ttl=64 time=2\.00ms\.",
    r"Request timed out\. icmp_seq=2\.",
    r"64 bytes from 198\.51\.100\.7: icmp_seq=3 ttl=64 time=12\.0ms\.",
    r"64 bytes from 198\.51\.100\.7: icmp_seq=4 ttl=64 time=4\.00ms\.",
    r"64 bytes from 198\.51\.100\.7: icmp_seq=5 ttl=64 time=150ms\.",
    "",
    r"---- 198\.51\.100\.7 PING Statistics ----",
    r"5 packets transmitted, 4 packets received, 20\.00% packet loss",
    r"round-trip min = 2\.00ms, avg = 42\.0ms, max = 150ms, stddev = 62\.5ms",
]
SHAPES["nokia_srlinux"] = [r"Using network instance default", *SHAPES["linux"]]
SHAPES["vyos"] = SHAPES["linux"]
SHAPES["cisco_iosxr"] = [r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d\.\d{3} UTC", *SHAPES["cisco_iosxe"]]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_render_prints_the_platform_format(platform: str) -> None:
    got = lines_of(render(platform, TARGET, len(RTTS), RTTS))
    assert got[-1] == ""  # the answer ends with a line end; the prompt follows
    assert len(got) - 1 == len(SHAPES[platform])
    for line, pattern in zip(got, SHAPES[platform], strict=False):
        assert re.fullmatch(pattern, line), (line, pattern)


def test_number_formats_follow_the_devices() -> None:
    # iputils: 3 significant digits (corpus: 0.579, 9.12, 18.7, 632); RouterOS v7 units.
    assert [iputils_time(t) for t in (0.579, 9.122, 18.71, 632.4)] == [
        "0.579",
        "9.12",
        "18.7",
        "632",
    ]
    assert [routeros_time(us) for us in (818, 1014, 1_058, 21_566, 2_000, 1_005_000)] == [
        "818us",
        "1ms14us",
        "1ms58us",
        "21ms566us",
        "2ms",
        "1s5ms",
    ]


def test_cisco_marks_wrap_at_70_and_rates_truncate() -> None:
    rtts: list[float | None] = [1.0] * 99 + [None]
    got = lines_of(render("cisco_iosxe", TARGET, 100, rtts))
    assert got[2] == "!" * 70 and got[3] == "!" * 29 + "."
    assert got[4] == "Success rate is 99 percent (99/100), round-trip min/avg/max = 1/1/1 ms"
    assert lines_of(render("cisco_iosxe", TARGET, 2, [None, None], unreachable=True))[2:4] == [
        "UU",
        "Success rate is 0 percent (0/2)",
    ]


def test_mikrotik_table_repeats_with_a_running_summary() -> None:
    text = render("mikrotik_routeros", TARGET, 45, [1.0] * 45)
    assert text.count("SEQ HOST") == 3
    assert "    sent=20 received=20 packet-loss=0%" in text
    assert lines_of(text)[-3].startswith("    sent=45 received=45 packet-loss=0% min-rtt=1ms")


CASES = {
    "partial": [2.5, None, 12.25, 0.4, 150.7, None, 9.9],
    "clean": [1.1, 1.2, 1.3],
    "all_lost": [None, None, None, None],
    "one": [33.3],
}


RAPID = {"juniper_junos", "nokia_sros", "nokia_sros_classic"}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_rendered_output_parses_to_what_was_rendered(platform: str, case: str) -> None:
    parser = linemon_platform(platform)
    rtts = CASES[case]
    for rapid in (False, True) if platform in RAPID else (False,):
        text = render(platform, TARGET, len(rtts), rtts, rapid=rapid)
        result = parser.parse_ping(text)
        got = [r for r in rtts if r is not None]
        assert (result.sent, result.received) == (len(rtts), len(got))
        if not got:
            assert result.rtt_min_ms is None and result.rtt_avg_ms is None
            continue
        slack = SLACK.get(platform, 0.002)
        assert result.rtt_min_ms == pytest.approx(min(got), abs=slack)
        assert result.rtt_avg_ms == pytest.approx(statistics.fmean(got), abs=slack)
        assert result.rtt_max_ms == pytest.approx(max(got), abs=slack)
        iputils = ("arista_eos", "linux", "nokia_srlinux", "vyos")
        if platform in ("juniper_junos", "h3c_comware", *iputils):
            assert result.rtt_stddev_ms == pytest.approx(statistics.pstdev(got), abs=0.002)


def test_unreachable_and_interrupted_outputs_parse() -> None:
    linux = linemon_platform("linux")
    result = linux.parse_ping(render("linux", TARGET, 3, [None] * 3, unreachable=True))
    assert (result.sent, result.received, result.errors) == (3, 0, 3)
    args = PingArgs(TARGET, 10)
    rtts: list[float | None] = [1.0] * 10
    for platform in PLATFORMS:  # the header and three probes, then the interrupt key
        events = rendering.play(platform, args, rtts).events[:4]
        text = "".join(event.text for event in events) + rendering.interrupted(
            platform, args, rtts, 3
        )
        result = linemon_platform(platform).parse_ping(text)
        assert (result.sent, result.received) == (3, 3), platform


def test_probes_are_paced_as_on_the_device() -> None:
    rtts: list[float | None] = [10.0, None, 10.0]
    ios = rendering.play("cisco_iosxe", PingArgs(TARGET, 3, timeout=1), rtts)
    # IOS: back to back; a lost probe waits its whole timeout.
    assert [round(e.at, 3) for e in ios.events] == [0.0, 0.01, 1.01, 1.02, 1.02]
    linux = rendering.play("linux", PingArgs(TARGET, 3, timeout=2), rtts)
    # iputils: one probe a second; it lingers `-W` after the last for the missing reply.
    assert [round(e.at, 3) for e in linux.events] == [0.0, 0.01, 1.0, 2.01, 4.0]


# -- the command lines -------------------------------------------------------------------

FULL = {
    "target": TARGET,
    "count": 7,
    "size": 200,
    "timeout": 3.0,
    "vrf": "CUST",
    "source": "10.0.0.1",
}
COMMANDS = [
    (
        "cisco_iosxe",
        "ping vrf CUST ip 198.51.100.7 repeat 7 size 200 timeout 3 source 10.0.0.1",
        FULL,
    ),
    (
        "cisco_iosxe",
        "ping ipv6 2001:db8::7 rep 2 source Loopback0",
        {"target": "2001:db8::7", "count": 2, "ipv6": True, "interface": "Loopback0"},
    ),
    ("cisco_iosxr", "ping vrf CUST 198.51.100.7 count 7 size 200 timeout 3 source 10.0.0.1", FULL),
    (
        "cisco_nxos",
        "ping 198.51.100.7 vrf CUST count 7 packet-size 200 timeout 3 source 10.0.0.1",
        FULL,
    ),
    (
        "juniper_junos",
        "ping 198.51.100.7 routing-instance CUST count 7 size 200 wait 3 source 10.0.0.1 rapid",
        {**FULL, "rapid": True},
    ),
    (
        "arista_eos",
        "ping vrf CUST ip 198.51.100.7 repeat 7 size 200 timeout 3 source 10.0.0.1",
        FULL,
    ),
    ("huawei_vrp", "ping -vpn-instance CUST -c 7 -s 200 -t 3000 -a 10.0.0.1 198.51.100.7", FULL),
    (
        "h3c_comware",
        "ping ip -a 10.0.0.1 -vpn-instance CUST -c 7 -s 200 -t 3000 198.51.100.7",
        FULL,
    ),
    (
        "h3c_comware",
        "ping ipv6 -c 2 2001:db8::7 -i Vlan-interface10",
        {"target": "2001:db8::7", "count": 2, "ipv6": True, "interface": "Vlan-interface10"},
    ),
    (
        "nokia_sros",
        "ping 198.51.100.7 router-instance CUST count 7 size 200 timeout 3 source-address 10.0.0.1",
        FULL,
    ),
    (
        "nokia_srlinux",
        "ping 198.51.100.7 network-instance CUST -c 7 -s 200 -W 3 -I 10.0.0.1",
        FULL,
    ),
    (
        "vyos",
        "ping 198.51.100.7 count 7 size 200 source-address 10.0.0.1 vrf CUST",
        {k: v for k, v in FULL.items() if k != "timeout"},
    ),
    (
        "nokia_sros_classic",
        "ping 198.51.100.7 rapid service-name CUST count 7 size 200 timeout 3 source 10.0.0.1",
        {**FULL, "rapid": True},
    ),
    (
        "huawei_vrp",
        "ping ipv6 -c 2 2001:db8::7",
        {"target": "2001:db8::7", "count": 2, "ipv6": True},
    ),
    (
        "mikrotik_routeros",
        "/ping address=198.51.100.7 count=7 size=200 routing-table=CUST src-address=10.0.0.1 "
        "timeout=3s",
        FULL,
    ),
    ("mikrotik_routeros", "/ping 198.51.100.7 count=7", {"target": TARGET, "count": 7}),
    ("linux", "LC_ALL=C ip vrf exec CUST ping -n -c 7 -s 200 -W 3 -I 10.0.0.1 198.51.100.7", FULL),
    (
        "linux",
        "ping -c2 -qW1 2001:db8::7",
        {"target": "2001:db8::7", "count": 2, "timeout": 1.0, "ipv6": True, "quiet": True},
    ),
]


@pytest.mark.parametrize(("platform", "line", "want"), COMMANDS)
def test_ping_syntax_is_read_liberally(platform: str, line: str, want: dict[str, Any]) -> None:
    args = parse_ping(platform, line)
    assert args is not None
    assert args == PingArgs(**want)


REQUESTS = [
    PingRequest(TARGET, count=7, size=200, timeout=3, vrf="CUST", source="10.0.0.1"),
    PingRequest("2001:db8::7", count=3, timeout=2),
    PingRequest(TARGET, count=2, source_interface="Loopback0"),
]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_linemon_commands_are_understood(platform: str) -> None:
    """What linemon's platforms build, the emulator reads back to the same request."""
    plat = linemon_platform(platform)
    for request in REQUESTS:
        try:
            command = plat.build_ping(request)
        except LinemonError:
            continue  # an option this platform cannot express
        args = parse_ping(platform, command)
        assert args is not None, command
        assert (args.target, args.count) == (request.target, request.count), command
        if request.size is not None:
            assert args.size == request.size, command
        if request.timeout is not None:
            assert args.timeout == pytest.approx(request.timeout), command
        if request.source is not None:
            assert args.source == request.source, command
        if request.vrf is not None:  # Linux binds to the VRF's device with -I
            assert request.vrf in (args.vrf, args.interface), command
        if request.source_interface is not None:
            assert args.interface == request.source_interface, command


# What scrapli itself takes as a failed command, per platform (its drivers' lists), and
# the device's error for a line it cannot parse at all.
SCRAPLI_FAILED = {
    "cisco_iosxe": iosxe_failed,
    "cisco_iosxr": iosxr_failed,
    "cisco_nxos": nxos_failed,
    "juniper_junos": junos_failed,
    "arista_eos": eos_failed,
    "huawei_vrp": ["Error:"],
    "h3c_comware": ["% Unrecognized command found at '^' position."],
    "nokia_sros": ["MINOR:", "MAJOR:"],
    "nokia_sros_classic": ["MINOR:", "MAJOR:", "Error:", "Bad Command:"],
    # scrapli-community's list (MINOR:, MAJOR:, CRITICAL:) misses SR Linux's parser errors;
    # linemon's list adds them.
    "nokia_srlinux": ["Parsing error"],
    "vyos": ["Invalid command", "Ambiguous command"],
    "mikrotik_routeros": ["bad command name", "expected end of command"],
    "linux": ["command not found", "ping: usage error"],
}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_invalid_input_gets_the_device_error(platform: str) -> None:
    cli = Cli(platform, "r1", "lab")
    word = {"mikrotik_routeros": "bogus=1", "linux": "extra"}.get(platform, "bogus")
    line = f"ping {TARGET} {word}" if platform != "mikrotik_routeros" else f"/ping {TARGET} {word}"
    for text in (cli.handle(line).text, cli.handle("frobnicate now").text):
        assert any(marker in text for marker in SCRAPLI_FAILED[platform]), text
    caret = [row for row in lines_of(cli.handle(line).text) if row.strip() == "^"]
    if caret:  # under the offending word, counting the prompt
        assert caret[0].index("^") == len(cli.prompt) + line.index(word)


SOME_WORDS = (
    "ping ping6 /ping /tool ip ipv6 vrf exec LC_ALL=C -c -s -W -I -q -6 -c5 -qW1 repeat count"
    " size timeout source rapid wait routing-instance -vpn-instance vpn-instance -a -t -i"
    " address= count=2 src-address= routing-table=X timeout=1s interval=20ms 192.0.2.1 ::1"
    " 2001:db8::1 0 5 -1 99999999999 abc = - -- host show terminal length set cli screen-width"
    " 256 y exit inet6 interface packet-size source-interface 3000 1s 00:00:01"
)
WORDS = SOME_WORDS.split()


@settings(max_examples=300, deadline=None)
@given(
    platform=st.sampled_from(PLATFORMS),
    line=st.lists(st.sampled_from(WORDS), max_size=9).map(" ".join)
    | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
)
def test_any_command_line_gets_an_answer(platform: str, line: str) -> None:
    cli = Cli(platform, "r1", "lab", hosts={"host": "192.0.2.9"})
    reply = cli.handle(line)
    if reply.ping is not None:  # run: a long one (an endless ping's 10,000) is cut to 50
        count = min(reply.ping.count, 50)
        rtts = [1.5 if i % 3 else None for i in range(count)]
        args = PingArgs(**{**reply.ping.__dict__, "count": count})
        assert rendering.play(platform, args, rtts).text().endswith("\r\n")
    elif line.split() and line.split()[0] in ("ping", "/ping", "frob"):
        assert reply.text.endswith("\r\n")  # refused or run, never left unanswered


def test_unknown_commands_and_hosts() -> None:
    assert "command not found" in Cli("linux", "r1", "lab").handle("frobnicate").text
    assert "bad command name" in Cli("mikrotik_routeros", "r1", "lab").handle("/frob").text
    assert "unknown command." in Cli("juniper_junos", "r1", "lab").handle("frob").text
    ios = Cli("cisco_iosxe", "r1", "lab", hosts={"cpe1": TARGET})
    assert "Unrecognized host" in ios.handle("ping nowhere").text
    reply = ios.handle("ping cpe1 repeat 2")
    assert reply.ping is not None and reply.ping.address == TARGET
    with pytest.raises(Refusal):
        parse_ping("cisco_iosxe", "ping 198.51.100.7 s 5")  # size / source: ambiguous


def test_line_editor_echoes_edits_and_splits_lines() -> None:
    editor = LineEditor(max_line=8)
    data = bytearray(b"shw\x7fow\r\nping 1.2.3.4 x\n\x1b[A\xffab\x03tail")
    steps = [editor.feed(data) for _ in range(4)]
    assert [s.line for s in steps[:2]] == ["show", "ping 1.2"]  # capped at 8 characters
    assert steps[0].echo == b"shw\x08 \x08ow"
    assert steps[2].cancelled and steps[2].echo == b"[Aab"
    assert steps[3].echo == b"tail" and steps[3].line is None and data == b""


def test_config_errors_name_the_place() -> None:
    good = platform_fleet_config()
    assert set(load_config(good).routers) == set(PLATFORMS)
    bad_host = {**good, "routers": {"x": {"host": "192.0.2.1", "platform": "linux"}}}
    with pytest.raises(ConfigError, match=r"routers\.x\.host: 192\.0\.2\.1 is not a loopback"):
        load_config(bad_host)
    with pytest.raises(ConfigError, match=r"routers\.linux\.targets\.t\.loss"):
        load_config(
            {
                **good,
                "routers": {"linux": {**good["routers"]["linux"], "targets": {"t": {"loss": 2}}}},
            }
        )
    with pytest.raises(ConfigError, match="unknown keys"):
        load_config({**good, "routers": {"linux": {**good["routers"]["linux"], "colour": 1}}})
    fleet = fleet_config(600)
    hosts = [r["host"] for r in fleet["routers"].values()]
    assert len(set(hosts)) == 600 and not any(h.endswith((".0", ".255")) for h in hosts)


# -- real scrapli clients ----------------------------------------------------------------

PING = {
    "cisco_iosxe": "ping vrf CUST {t} repeat {n} timeout 1",
    "cisco_iosxr": "ping vrf CUST {t} count {n} timeout 1",
    "cisco_nxos": "ping {t} vrf CUST count {n} timeout 1",
    "juniper_junos": "ping {t} routing-instance CUST count {n} wait 1 rapid",
    "arista_eos": "ping vrf CUST {t} repeat {n} timeout 1",
    "huawei_vrp": "ping -vpn-instance CUST -c {n} -t 1000 {t}",
    "h3c_comware": "ping -vpn-instance CUST -c {n} -t 1000 {t}",
    "nokia_sros": "ping {t} router-instance CUST count {n} timeout 1",
    "nokia_sros_classic": "ping {t} service-name CUST count {n} timeout 1",
    "nokia_srlinux": "ping {t} network-instance CUST -c {n}",
    "vyos": "ping {t} count {n} vrf CUST",
    "mikrotik_routeros": "/ping address={t} count={n} routing-table=CUST",
    "linux": "LC_ALL=C ip vrf exec CUST ping -n -c {n} -W 1 {t}",
}
SUMMARY = {
    "cisco_iosxe": r"Success rate is \d+ percent \((\d+)/(\d+)\)",
    "cisco_iosxr": r"Success rate is \d+ percent \((\d+)/(\d+)\)",
    "cisco_nxos": r"(\d+) packets transmitted, (\d+) packets received",
    "juniper_junos": r"(\d+) packets transmitted, (\d+) packets received",
    "arista_eos": r"(\d+) packets transmitted, (\d+) received",
    "huawei_vrp": r"(\d+) packet\(s\) transmitted\s+(\d+) packet\(s\) received",
    "h3c_comware": r"(\d+) packet\(s\) transmitted, (\d+) packet\(s\) received",
    "nokia_sros": r"(\d+) packets transmitted, (\d+) packets received",
    "nokia_sros_classic": r"(\d+) packets transmitted, (\d+) packets received",
    "nokia_srlinux": r"(\d+) packets transmitted, (\d+) received",
    "vyos": r"(\d+) packets transmitted, (\d+) received",
    "mikrotik_routeros": r"sent=(\d+) received=(\d+)",
    "linux": r"(\d+) packets transmitted, (\d+) received",
}


def sent_received(platform: str, text: str) -> tuple[int, int]:
    found = re.findall(SUMMARY[platform], text)
    assert found, text
    first, second = (int(n) for n in found[-1])
    return (second, first) if platform.startswith("cisco_ios") else (first, second)


async def open_async(emulator: Emulator, router: str, **extra: Any) -> Any:
    args = {**scrapli_args(emulator, router), **extra}
    conn = AsyncScrapli(**args) if "platform" in args else AsyncGenericDriver(**args)
    await conn.open()
    return conn


@pytest.mark.parametrize("platform", PLATFORMS)
def test_async_scrapli_over_asyncssh_pings(platform_fleet: Emulator, platform: str) -> None:  # noqa: F811
    target = "192.0.2.44"
    platform_fleet.set_target(platform, target, loss=0.25, rtt_ms=3.0, jitter_ms=1.0)
    before = platform_fleet.stats(platform)

    async def run() -> str:
        conn = await open_async(platform_fleet, platform)
        try:
            response = await conn.send_command(PING[platform].format(t=target, n=40))
            assert not response.failed
            return str(response.result)
        finally:
            await conn.close()

    text = asyncio.run(run())
    sent, received = sent_received(platform, text)
    assert sent == 40 and 0.55 * 40 <= received <= 0.95 * 40
    result = linemon_platform(platform).parse_ping(text)
    assert (result.sent, result.received) == (sent, received)
    assert 1.0 <= (result.rtt_avg_ms or 0) <= 5.0
    after = platform_fleet.stats(platform)
    assert after["pings"] == before["pings"] + 1 and after["logins"] == before["logins"] + 1
    assert after["sessions_open"] == 0
    record = platform_fleet.pings(platform)[-1]
    assert (record["address"], record["sent"], record["received"]) == (target, 40, received)
    assert record.get("vrf", record.get("interface")) == "CUST"


def close_paramiko(conn: Any) -> None:
    """Close a sync scrapli connection that may already be gone.

    scrapli's on_close types ``exit``; the emulator, like a router, then ends the connection,
    and paramiko's channel close right after can find the socket closed (EOFError).
    """
    with contextlib.suppress(EOFError):
        conn.close()


@pytest.mark.parametrize(
    "platform", ["cisco_iosxe", "juniper_junos", "huawei_vrp", "mikrotik_routeros", "linux"]
)
def test_scrapli_over_paramiko_pings(platform_fleet: Emulator, platform: str) -> None:  # noqa: F811
    args = scrapli_args(platform_fleet, platform, transport="paramiko")
    conn = Scrapli(**args) if "platform" in args else GenericDriver(**args)
    conn.open()
    try:
        response = conn.send_command(PING[platform].format(t="192.0.2.45", n=5))
    finally:
        close_paramiko(conn)
    assert not response.failed
    assert sent_received(platform, response.result) == (5, 5)


def test_public_key_login_with_and_without_rsa2(emulator_factory: Any, tmp_path: Path) -> None:  # noqa: F811
    key = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    key_path = tmp_path / "id_rsa"
    key.write_private_key(str(key_path))
    config = platform_fleet_config("127.2.1.0/24", time_scale=0.0)
    config["routers"] = {"cisco_iosxe": config["routers"]["cisco_iosxe"]}
    config["routers"]["cisco_iosxe"]["authorized_keys"] = [key.export_public_key().decode()]
    emulator = emulator_factory(config)
    for options in ({}, {"enable_rsa2": True}):  # the asyncssh server takes SHA-1 and SHA-2
        args = {**scrapli_args(emulator, "cisco_iosxe", "paramiko"), "auth_password": ""}
        conn = Scrapli(**args, auth_private_key=str(key_path), transport_options=options)
        conn.open()
        close_paramiko(conn)

    async def with_asyncssh() -> None:
        args = {**scrapli_args(emulator, "cisco_iosxe"), "auth_password": ""}
        conn = AsyncScrapli(**args, auth_private_key=str(key_path))
        await conn.open()
        await conn.close()

    asyncio.run(with_asyncssh())
    assert emulator.stats("cisco_iosxe")["logins"] == 3


def test_invalid_input_fails_the_command(platform_fleet: Emulator) -> None:  # noqa: F811
    async def run() -> Any:
        conn = await open_async(platform_fleet, "cisco_iosxe")
        try:
            return await conn.send_command("show frobnication")
        finally:
            await conn.close()

    response = asyncio.run(run())
    assert response.failed and "% Invalid input detected at '^' marker." in response.result


# -- fault switches ------------------------------------------------------------------------

FAULT_ROUTERS = (
    "silent",
    "auth",
    "vty",
    "drop",
    "down",
    "slow",
    "bytes",
    "abort",
    "reload",
    "clock",
)


@pytest.fixture(scope="module")
def faulty() -> Iterator[Emulator]:
    config = fleet_config(len(FAULT_ROUTERS), platforms=["cisco_iosxe"], network="127.2.2.0/24")
    routers = dict(zip(FAULT_ROUTERS, config["routers"].values(), strict=True))
    routers["bytes"]["platform"] = "linux"
    routers["abort"]["platform"] = "linux"
    config.update(routers=routers, time_scale=0.01, seed=5)
    config["defaults"] = {"username": "lab", "password": "lab"}
    with Emulator(config) as emulator:
        yield emulator
        check_no_internal_errors(emulator)


def test_silent_router_times_the_command_out(faulty: Emulator) -> None:
    async def run() -> None:
        conn = await open_async(faulty, "silent", timeout_ops=0.5)
        faulty.set_fault("silent", silent=True)
        try:
            with pytest.raises(ScrapliTimeout):
                await conn.send_command(f"ping {TARGET}")
        finally:
            conn.transport.close()

    asyncio.run(run())
    assert faulty.commands("silent")[-1] == f"ping {TARGET}"
    assert faulty.stats("silent")["pings"] == 0


def test_refused_login_is_an_auth_error(faulty: Emulator) -> None:
    faulty.set_fault("auth", refuse_auth=True)
    with pytest.raises(ScrapliAuthenticationFailed):
        asyncio.run(open_async(faulty, "auth"))
    stats = faulty.stats("auth")
    assert stats["auth_failures"] >= 1 and stats["logins"] == 0


def test_sessions_beyond_the_vty_limit_are_refused(faulty: Emulator) -> None:
    faulty.set_fault("vty", max_sessions=2)

    async def run() -> None:
        first = [await open_async(faulty, "vty") for _ in range(2)]
        with pytest.raises(asyncssh.ChannelOpenError, match="No free vty lines"):
            await open_async(faulty, "vty")
        for conn in first:
            await conn.close()
        await (await open_async(faulty, "vty")).close()  # a vty is free again

    asyncio.run(run())
    assert faulty.stats("vty")["sessions_refused"] == 1


def test_a_dropped_session_ends_mid_ping(faulty: Emulator) -> None:
    faulty.set_fault("drop", drop_mid_command=True)

    async def run() -> None:
        conn = await open_async(faulty, "drop")
        try:
            with pytest.raises(ScrapliConnectionError):
                await conn.send_command(f"ping {TARGET} repeat 10")
        finally:
            conn.transport.close()

    asyncio.run(run())
    assert faulty.stats("drop")["drops"] == 1 and faulty.wait_for("drop", "sessions_open", 0) == 0


def test_a_down_router_refuses_tcp_and_comes_back(faulty: Emulator) -> None:
    faulty.set_fault("down", down=True)
    assert faulty.stats("down")["listening"] is False
    with pytest.raises(OSError):  # scrapli's asyncssh transport lets ConnectionRefusedError through
        asyncio.run(open_async(faulty, "down"))
    faulty.set_fault("down", down=False)

    async def back() -> None:
        conn = await open_async(faulty, "down")
        await conn.close()

    asyncio.run(back())


def test_slow_login_delays_the_prompt(faulty: Emulator) -> None:
    faulty.set_fault("slow", slow_login_s=0.6)

    async def run() -> float:
        start = time.monotonic()
        conn = await open_async(faulty, "slow")
        took = time.monotonic() - start
        await conn.close()
        return took

    assert asyncio.run(run()) >= 0.6


async def raw_shell(faulty: Emulator, router: str, prompt: bytes) -> Any:
    host, port = faulty.address(router)
    conn = await asyncssh.connect(
        host, port, username="lab", password="lab", known_hosts=str(faulty.known_hosts)
    )
    writer, reader, _ = await conn.open_session(term_type="xterm", encoding=None)
    await reader.readuntil(prompt)
    return conn, writer, reader


def test_every_byte_a_client_sends_is_recorded(faulty: Emulator) -> None:
    hostile = b"ping -c 1 198.51.100.7; rm -rf / `reboot` $(id)\x1b[A\x00\xff\xfe|tee\r\n"

    async def run() -> bytes:
        conn, writer, reader = await raw_shell(faulty, "bytes", b"$ ")
        writer.write(hostile)
        answer = await reader.readuntil(b"$ ")
        conn.close()
        return bytes(answer)

    answer = asyncio.run(run())
    assert b"ping: usage error" in answer  # one command line, refused as a whole
    assert faulty.received_bytes("bytes") == hostile
    assert faulty.stats("bytes")["bytes_received"] == len(hostile)
    assert faulty.stats("bytes")["pings"] == 0


def test_ctrl_c_interrupts_a_ping_with_its_summary(faulty: Emulator) -> None:
    async def run() -> bytes:
        conn, writer, reader = await raw_shell(faulty, "abort", b"$ ")
        writer.write(b"ping -c 1000 198.51.100.7\n")
        await reader.readuntil(b"icmp_seq=2 ")
        writer.write(b"\x03")
        answer = await reader.readuntil(b"$ ")
        conn.close()
        return bytes(answer)

    answer = asyncio.run(run()).decode()
    sent, received = sent_received("linux", answer)
    assert "^C" in answer and 2 <= received <= sent < 1000
    assert faulty.pings("abort")[-1]["sent"] == sent


@pytest.mark.parametrize("abort", [False, True])
def test_close_sessions_ends_open_connections(faulty: Emulator, abort: bool) -> None:
    async def run() -> bool:
        conn = await open_async(faulty, "reload")
        assert faulty.wait_for("reload", "sessions_open", 1) == 1
        assert faulty.close_sessions("reload", abort=abort) == 1
        for _ in range(100):
            if not conn.isalive():
                break
            await asyncio.sleep(0.02)
        alive = conn.isalive()
        conn.transport.close()
        return alive

    assert asyncio.run(run()) is False
    assert faulty.wait_for("reload", "sessions_open", 0) == 0


def test_lost_probes_wait_their_timeout_scaled(faulty: Emulator) -> None:
    faulty.set_target("clock", TARGET, loss=1.0)
    faulty.set_time_scale(0.25)  # 3 probes x 1 s timeout: 0.75 s

    async def run() -> tuple[float, str]:
        conn = await open_async(faulty, "clock")
        try:
            start = time.monotonic()
            response = await conn.send_command(f"ping {TARGET} repeat 3 timeout 1")
            return time.monotonic() - start, response.result
        finally:
            await conn.close()

    try:
        took, text = asyncio.run(run())
    finally:
        faulty.set_time_scale(0.01)
    assert "...\nSuccess rate is 0 percent (0/3)" in text
    assert 0.7 <= took < 5.0


def test_control_refuses_bad_requests(faulty: Emulator) -> None:
    with pytest.raises(EmulatorError, match="unknown router"):
        faulty.set_fault("nope", silent=True)
    with pytest.raises(EmulatorError, match="unknown fault"):
        faulty.set_fault("silent", explode=True)
    with pytest.raises(EmulatorError, match="loss"):
        faulty.set_target("silent", TARGET, loss=3)


# -- scale ---------------------------------------------------------------------------------


def test_one_process_hosts_500_routers_and_a_hundred_sessions(emulator_factory: Any) -> None:  # noqa: F811
    config = fleet_config(500, network="127.3.0.0/16", time_scale=0.01, seed=1)
    emulator = emulator_factory(config)
    assert len(emulator.ready["routers"]) == 500
    names = list(emulator.ready["routers"])[::5]  # 100 routers, every platform

    async def run() -> list[str]:
        gate = asyncio.Semaphore(50)

        async def one(name: str) -> Any:
            async with gate:
                return await open_async(emulator, name, timeout_ops=30, timeout_socket=30)

        conns = await asyncio.gather(*(one(name) for name in names))
        open_now = sum(s["sessions_open"] for s in emulator.stats().values())
        assert open_now == len(names)
        platforms = [emulator.ready["routers"][n]["platform"] for n in names]
        answers = await asyncio.gather(
            *(
                c.send_command(PING[p].format(t=TARGET, n=3))
                for c, p in zip(conns, platforms, strict=True)
            )
        )
        await asyncio.gather(*(c.close() for c in conns))
        return [a.result for a in answers]

    results = asyncio.run(run())
    platforms = [emulator.ready["routers"][n]["platform"] for n in names]
    assert all(sent_received(p, r) == (3, 3) for p, r in zip(platforms, results, strict=True))
