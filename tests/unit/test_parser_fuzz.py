"""Parsers never raise anything but ParseError/CommandError, whatever they are fed."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linemon_agent.errors import CommandError, ParseError
from linemon_agent.models import PingResult
from linemon_agent.platforms import CORE_PLATFORMS, get_platform
from tests.conftest import FIXTURES

PLATFORMS = sorted(CORE_PLATFORMS)
SAMPLES = [p.read_bytes().decode("utf-8") for p in sorted(FIXTURES.glob("*/*/*.txt"))]


def _check(result: PingResult) -> None:
    assert result.status in ("ok", "no_reply")
    assert result.sent is not None and result.sent >= 0
    assert result.received is not None and result.received >= 0
    assert result.loss_pct is not None and 0.0 <= result.loss_pct <= 100.0
    for rtt in (result.rtt_min_ms, result.rtt_avg_ms, result.rtt_max_ms, result.rtt_stddev_ms):
        assert rtt is None or rtt >= 0


def _parse(platform_name: str, text: str) -> None:
    try:
        result = get_platform(platform_name).parse_ping(text)
    except (ParseError, CommandError):
        return
    _check(result)


@pytest.mark.parametrize("platform_name", PLATFORMS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400))
def test_arbitrary_text(platform_name: str, text: str) -> None:
    _parse(platform_name, text)


def _mangle(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 12)):
        op = rng.random()
        pos = rng.randrange(len(chars) + 1)
        if op < 0.4 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op < 0.8:
            chars.insert(pos, rng.choice("0123456789/.,%:= \n\r\t!U-x"))
        else:
            cut = rng.randrange(len(chars) + 1)
            chars = chars[:cut]
    return "".join(chars)


@pytest.mark.parametrize("platform_name", PLATFORMS)
def test_mangled_real_outputs(platform_name: str) -> None:
    rng = random.Random(f"linemon-{platform_name}")
    for sample in SAMPLES:
        for _ in range(20):
            _parse(platform_name, _mangle(rng, sample))


def test_samples_exist() -> None:
    assert len(SAMPLES) >= 45
