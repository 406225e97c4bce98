"""Linux details the fixtures leave open: flags, device names, locales, refusals, the prompt."""

from __future__ import annotations

import json
import re

import pytest

from linemon_agent.errors import CommandError, ParseError, UnsupportedOptionError
from linemon_agent.models import PingRequest
from linemon_agent.platforms import get_platform
from tests.conftest import FIXTURES

LINUX = get_platform("linux")


def build(**values: object) -> str:
    return LINUX.build_ping(PingRequest.from_strings({"target": "192.0.2.7", **values}))


@pytest.mark.parametrize(
    ("values", "command"),
    [
        ({}, "LC_ALL=C ping -n -q -c 5 192.0.2.7"),
        ({"target": "2001:DB8::7"}, "LC_ALL=C ping -6 -n -q -c 5 2001:db8::7"),
        # a host name resolves in the family of its source address
        (
            {"target": "cpe.example.net", "source": "2001:db8::1"},
            "LC_ALL=C ping -6 -n -q -c 5 -I 2001:db8::1 cpe.example.net",
        ),
        (
            {"target": "cpe.example.net", "source": "192.0.2.1"},
            "LC_ALL=C ping -4 -n -q -c 5 -I 192.0.2.1 cpe.example.net",
        ),
        ({"target": "cpe.example.net"}, "LC_ALL=C ping -n -q -c 5 cpe.example.net"),
        # whole seconds, rounded up: BusyBox refuses fractions
        ({"timeout": "1.01"}, "LC_ALL=C ping -n -q -c 5 -W 2 192.0.2.7"),
        ({"timeout": 60}, "LC_ALL=C ping -n -q -c 5 -W 60 192.0.2.7"),
        ({"size": 0, "count": 1000}, "LC_ALL=C ping -n -q -c 1000 -s 0 192.0.2.7"),
        ({"vrf": "CUST-42"}, "LC_ALL=C ping -n -q -c 5 -I CUST-42 192.0.2.7"),
        ({"source_interface": "eth0.100"}, "LC_ALL=C ping -n -q -c 5 -I eth0.100 192.0.2.7"),
        # the device comes last: BusyBox keeps only the last -I, and the VRF matters more
        (
            {"vrf": "CUST", "source": "192.0.2.1"},
            "LC_ALL=C ping -n -q -c 5 -I 192.0.2.1 -I CUST 192.0.2.7",
        ),
    ],
)
def test_command_forms(values: dict[str, object], command: str) -> None:
    assert build(**values) == command


def test_a_vrf_and_a_source_interface_together_are_refused() -> None:
    with pytest.raises(UnsupportedOptionError, match="one device") as info:
        build(vrf="CUST", source_interface="eth1")
    assert info.value.field == "source_interface"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("vrf", "10.0.0.1", "source address"),  # -I would take it for an address
        ("vrf", "a23456789012345b", "15 characters"),
        ("source_interface", "eth0:1", "no / or :"),  # an alias label, not a device
        ("source_interface", "fe80::1", "no / or :"),
        ("source_interface", "GigabitEthernet0/0/1", "no / or :"),
    ],
)
def test_names_ping_would_not_bind_as_a_device_are_refused(
    field: str, value: str, reason: str
) -> None:
    with pytest.raises(UnsupportedOptionError, match=reason) as info:
        build(**{field: value})
    assert info.value.field == field


@pytest.mark.parametrize(("field", "value"), [("timeout", 0.5), ("timeout", 0.1)])
def test_values_outside_the_device_ranges_are_refused(field: str, value: object) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        build(**{field: value})
    assert info.value.field == field


def test_worst_case_counts_the_one_second_gap_and_the_ten_second_default_wait() -> None:
    # 5 probes x (10 s default wait + 1 s interval) + 5 s margin
    assert LINUX.worst_case_seconds(PingRequest("192.0.2.7")) == 60.0
    assert LINUX.worst_case_seconds(PingRequest("192.0.2.7", count=2, timeout=1.5)) == 11.0


@pytest.mark.parametrize(
    "prompt",
    [
        "root@edge1:~# ",
        "admin@edge1:~$",
        "[admin@edge1 ~]$ ",
        "cumulus@leaf01:mgmt:~$ ",
        "edge1:/#",
    ],
)
def test_prompt_pattern_matches_shell_prompts(prompt: str) -> None:
    assert LINUX.prompt_pattern is not None
    # scrapli compiles the pattern over bytes with MULTILINE and IGNORECASE
    pattern = re.compile(LINUX.prompt_pattern.encode(), re.M | re.I)
    assert pattern.search(f"output line\n{prompt}".encode())


def test_prompt_pattern_never_matches_a_line_of_ping_output() -> None:
    assert LINUX.prompt_pattern is not None
    pattern = re.compile(LINUX.prompt_pattern.encode(), re.M | re.I)
    for path in sorted((FIXTURES / "platforms" / "linux").glob("*.txt")):
        text = path.read_bytes().replace(b"\r", b"")
        lines = [line for line in text.split(b"\n") if not line.startswith(b"root@edge1")]
        assert not any(pattern.search(line) for line in lines), path.name


def _measured_outputs() -> list[str]:
    outputs = []
    for folder in ("platforms/linux", "corpus/linux_iputils", "corpus/busybox"):
        for path in sorted((FIXTURES / folder).glob("*.json")):
            status = json.loads(path.read_text())["expected"].get("status", "ok")
            if status not in ("command_error", "parse_error"):
                outputs.append(path.with_suffix(".txt").read_text())
    return outputs


def test_failure_strings_never_appear_in_a_measured_output() -> None:
    outputs = _measured_outputs()
    assert len(outputs) > 20
    for marker in LINUX.failed_when_contains:
        assert not any(marker in output for output in outputs), marker


STATS = "--- 192.0.2.7 ping statistics ---\n{summary}\n{rtt}\n"


@pytest.mark.parametrize(
    ("summary", "rtt", "expected"),
    [
        # line shapes of iputils' own catalogues (po/<lang>.po), numbers ours
        (
            "5 pacchetti trasmessi, 4 ricevuti, +1 duplicati, 20% pacchetti persi, tempo 4005ms",
            "rtt min/media/max/mdev = 1.204/1.530/2.113/0.318 ms",
            (5, 4, 1, 0, 0, 20.0, 1.204, 0.318),
        ),
        (
            "5 paquetes transmitidos, 0 recibidos, +5 errores, 100% paquetes perdidos, tiempo 4ms",
            "",
            (5, 0, 0, 5, 0, 100.0, None, None),
        ),
        (
            "10 paketů odesláno, 9 přijato, +2 poškozených, 10% ztráta paketů, čas 9012ms",
            "rtt min/prům/max/std.odch = 0.912/1.044/1.310/0.141 ms",
            (10, 9, 0, 0, 2, 10.0, 0.912, 0.141),
        ),
        (
            "已发送 3 个包， 已接收 2 个包, +1 错误, 33.3333% 包丢失, 时间 2003ms",
            "rtt min/avg/max/mdev = 0.045/0.052/0.060/0.007 ms",
            (3, 2, 0, 1, 0, 33.3333, 0.045, 0.007),
        ),
        (
            "Надіслано 4 пакетів, отримано 4, +2 дублікатів, втрачено 0% пакетів, час 3004мс",
            "rtt мін/сер/макс/mdev = 130,331/142,799/164,374/15,317 мс",
            (4, 4, 2, 0, 0, 0.0, 130.331, 15.317),
        ),
        (
            "6 paket iletildi, 3 alındı, +1 hata, %50 paket kaybı, zaman 5006ms",
            "rtt en düşük/ortalama/en yüksek/mdev = 1.000/2.000/3.000/0.816 ms",
            (6, 3, 0, 1, 0, 50.0, 1.0, 0.816),
        ),
        (
            "送信パケット数 2, 受信パケット数 2, パケット損失 0%, 時間 1001ミリ秒",
            "rtt min/avg/max/mdev = 0.033/0.039/0.045/0.006 ms",
            (2, 2, 0, 0, 0, 0.0, 0.033, 0.006),
        ),
    ],
)
def test_localized_summaries_read_by_position(
    summary: str, rtt: str, expected: tuple[object, ...]
) -> None:
    result = LINUX.parse_ping(STATS.format(summary=summary, rtt=rtt))
    got = (
        result.sent,
        result.received,
        result.duplicates,
        result.errors,
        result.extra.get("corrupted", 0),
        result.extra["device_loss_pct"],
        result.rtt_min_ms,
        result.rtt_stddev_ms,
    )
    assert got == expected


def test_the_last_statistics_block_is_this_pings() -> None:
    earlier = STATS.format(
        summary="5 packets transmitted, 5 received, 0% packet loss, time 4005ms",
        rtt="rtt min/avg/max/mdev = 1.000/1.000/1.000/0.000 ms",
    )
    later = STATS.format(
        summary="5 packets transmitted, 2 received, 60% packet loss, time 4005ms",
        rtt="rtt min/avg/max/mdev = 9.000/9.500/10.000/0.500 ms",
    )
    result = LINUX.parse_ping(earlier + "root@edge1:~# ping ...\n" + later)
    assert (result.received, result.rtt_avg_ms) == (2, 9.5)


def test_a_summary_without_its_header_is_still_found() -> None:
    output = "3 packets transmitted, 1 received, 66.6667% packet loss, time 2002ms\n"
    result = LINUX.parse_ping(output + "rtt min/avg/max/mdev = 5.100/5.100/5.100/0.000 ms\n")
    assert (result.sent, result.received, result.loss_pct) == (3, 1, 66.667)
    assert result.extra == {"device_loss_pct": 66.6667}


def test_an_rtt_line_only_counts_after_the_summary() -> None:
    output = STATS.format(
        summary="3 packets transmitted, 0 received, 100% packet loss, time 2002ms", rtt=""
    )
    result = LINUX.parse_ping("rtt min/avg/max/mdev = 1.0/1.0/1.0/0.0 ms\n" + output)
    assert result.status == "no_reply"
    assert result.rtt_avg_ms is None


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("-bash: ping: command not found\n", "command not found"),
        ("sh: ping: not found\n", "sh: ping: not found"),
        ("ping: cpe.example.net: Name or service not known\n", "Name or service not known"),
        ("ping: unknown host cpe.example.net\n", "unknown host"),
        ("ping: invalid option -- 'q'\nUsage: ping [-LRUbdfnqrvVaA] host\n", "invalid option"),
        (
            "PING 192.0.2.7 (192.0.2.7): 56 data bytes\nping: sendto: Network is unreachable\n",
            "sendto: Network is unreachable",
        ),
    ],
)
def test_refusals_are_command_errors_naming_the_line(output: str, message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)) as info:
        LINUX.parse_ping(output)
    assert info.value.platform == "linux"


@pytest.mark.parametrize(
    "output",
    [
        "",
        "   \r\n",
        "PING 192.0.2.7 (192.0.2.7) 56(84) bytes of data.\n\n--- 192.0.2.7 ping statistics ---\n",
        "0 packets transmitted, 0 received\n",
        "12345678901 packets transmitted, 1 received, 0% packet loss\n",
        "random banner text\nroot@edge1:~# ",
    ],
)
def test_unreadable_outputs_are_parse_errors(output: str) -> None:
    with pytest.raises(ParseError):
        LINUX.parse_ping(output)


def test_send_errors_next_to_a_summary_are_still_a_measurement() -> None:
    output = (
        "PING 192.0.2.7 (192.0.2.7) 56(84) bytes of data.\n"
        "ping: sendmsg: Operation not permitted\n"
        "ping: sendmsg: Operation not permitted\n\n"
        "--- 192.0.2.7 ping statistics ---\n"
        "2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 1001ms\n"
    )
    result = LINUX.parse_ping(output)
    assert (result.status, result.errors, result.loss_pct) == ("no_reply", 2, 100.0)
