"""scripts/demo.py: a legend for every line, and no screen-clearing codes off a terminal."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

DEMO = Path(__file__).parents[2] / "scripts" / "demo.py"


def _demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("linemon_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_line_says_what_it_is_meant_to_show() -> None:
    demo = _demo()
    assert set(demo.MEANT) == set(demo.LINES)
    legend = demo.legend()
    for word in ("healthy", "lossy", "slow", "dead", "router down"):
        assert word in legend, word


class _Broker:
    def client(self, *args: str) -> Any:
        answers = {
            ("lines", "--json"): [{"id": "cust-101", "router": "pe1", "target": "192.0.2.1",
                                   "vrf": None, "last": {"status": "ok", "loss_pct": 0.0,
                                                         "rtt_avg_ms": 8.0}}],
            ("status", "--json"): {"sessions": 1, "pings_started": 3},
        }
        return SimpleNamespace(stdout=json.dumps(answers[args]) if args in answers else "")


def test_no_screen_clearing_codes_when_stdout_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = _demo()
    demo.show(_Broker(), SimpleNamespace(values=list), 0.0, 10.0)
    out = capsys.readouterr().out
    assert not sys.stdout.isatty() and "\033" not in out
    row = next(line for line in out.splitlines() if line.startswith("cust-101"))
    assert row.split()[:6] == ["cust-101", "pe1", "192.0.2.1", "-", "ok", "0.0"]
    assert row.endswith(demo.MEANT["cust-101"])
