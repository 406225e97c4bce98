"""Every case of the shared ping corpus (copied into tests/fixtures/corpus) parses exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linemon_agent.platforms import get_platform
from tests.conftest import FIXTURES

FAMILY_TO_PLATFORM = {
    "cisco_ios": "cisco_iosxe",
    "cisco_xr": "cisco_iosxr",
    "cisco_nxos": "cisco_nxos",
    "juniper_junos": "juniper_junos",
    "arista_eos": "arista_eos",
    "huawei_vrp": "huawei_vrp",
    "mikrotik_routeros": "mikrotik_routeros",
    "linux_iputils": "linux",
    "busybox": "linux",
}
CORPUS = FIXTURES / "corpus"
CASES = sorted(CORPUS.glob("*/*.json"))
FIELDS = (
    "sent",
    "received",
    "loss_pct",
    "rtt_min_ms",
    "rtt_avg_ms",
    "rtt_max_ms",
    "rtt_stddev_ms",
)


def test_corpus_is_complete() -> None:
    assert len(CASES) == 45
    assert {case.parent.name for case in CASES} == set(FAMILY_TO_PLATFORM)


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_corpus_case(case: Path) -> None:
    meta = json.loads(case.read_text())
    output = case.with_suffix(".txt").read_bytes().decode("utf-8")
    platform = get_platform(FAMILY_TO_PLATFORM[case.parent.name])
    result = platform.parse_ping(output)
    got = {name: getattr(result, name) for name in FIELDS}
    want = {name: meta["expected"][name] for name in FIELDS}
    # More replies than probes (multicast) prints a negative loss: linemon reports 0.
    want["loss_pct"] = max(0.0, want["loss_pct"])
    assert got == want
    assert result.status == ("ok" if meta["expected"]["received"] > 0 else "no_reply")
