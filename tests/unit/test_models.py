"""Normalized results: loss rule, RTTs dropped with no reply, JSON round trip."""

from __future__ import annotations

import json

from linemon_agent.models import PingResult, loss_percent


def test_loss_percent_rounds_to_three_decimals_and_never_negative() -> None:
    assert loss_percent(3, 2) == 33.333
    assert loss_percent(223, 14) == 93.722
    assert loss_percent(1, 4) == 0.0
    assert loss_percent(0, 0) == 100.0


def test_measured_status_and_rtts() -> None:
    ok = PingResult.measured(5, 4, 1.0, 2.0, 3.0)
    assert (ok.status, ok.loss_pct, ok.rtt_avg_ms) == ("ok", 20.0, 2.0)
    none = PingResult.measured(5, 0, 0.0, 0.0, 0.0)
    assert (none.status, none.rtt_min_ms, none.rtt_max_ms) == ("no_reply", None, None)


def test_json_round_trip_keeps_every_field() -> None:
    result = PingResult.measured(10, 9, 1.25, 2.5, 9.75, 0.5, duplicates=1, marks="!!!.!")
    data = json.loads(result.to_json())
    assert data["loss_pct"] == 10.0 and data["marks"] == "!!!.!" and "error" not in data
    assert PingResult.from_dict(data) == result


def test_failed_result_carries_no_measurement() -> None:
    result = PingResult.failed("timeout", "no answer within 12 s")
    assert not result.is_measurement
    assert result.to_dict()["sent"] is None
