"""What the broker logs about lines: state changes at info, every ping only at debug, and one
summary a minute (on a fake clock)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from linemon_agent import models
from linemon_agent.broker.journal import Journal, line_state
from linemon_agent.models import Line, PingRequest, PingResult

LINE = Line("cust-7", "pe1", PingRequest("192.0.2.7"))
OK = PingResult.measured(5, 5, 1.0, 2.0, 3.0)
DEAD = PingResult.measured(5, 0)


def _messages(caplog: Any, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def test_a_steady_line_logs_nothing_at_info_and_every_ping_at_debug(caplog: Any) -> None:
    journal = Journal(clock=lambda: 0.0)
    caplog.set_level(logging.DEBUG, "linemon.lines")
    for n in range(100):
        journal.result(LINE, OK, f"{1000 + n}.000000000")
    assert _messages(caplog) == []
    assert _messages(caplog, logging.DEBUG) == ["ping"] * 100


def test_each_change_is_one_line_with_the_result_that_changed_it(caplog: Any) -> None:
    journal = Journal(clock=lambda: 0.0)
    caplog.set_level(logging.INFO, "linemon.lines")
    for result in (OK, OK, DEAD, DEAD, DEAD, OK, OK):
        journal.result(LINE, result, "1000.000000000")
    records = [r for r in caplog.records if r.name == "linemon.lines"]
    assert [r.getMessage() for r in records] == ["line not answering", "line answering"]
    down, up = records
    assert down.levelno == logging.WARNING and down.__dict__["was"] == "answering"
    assert down.__dict__["loss_pct"] == 100.0 and down.__dict__["line"] == "cust-7"
    assert up.levelno == logging.INFO and up.__dict__["was"] == "not answering"


@pytest.mark.parametrize(
    "status",
    [models.STATUS_SKIPPED, models.STATUS_OVERRUN, models.STATUS_UNREACHABLE,
     models.STATUS_AUTH_ERROR, models.STATUS_SESSION_REFUSED],
)
def test_router_trouble_is_not_a_change_of_the_line(status: str, caplog: Any) -> None:
    journal = Journal(clock=lambda: 0.0)
    caplog.set_level(logging.INFO, "linemon.lines")
    for result in (OK, PingResult.failed(status, "x"), OK, PingResult.failed(status, "x"), OK):
        journal.result(LINE, result, "1000.000000000")
    assert line_state(PingResult.failed(status, "x")) is None
    assert _messages(caplog) == []


def test_a_line_that_cannot_be_measured_says_why(caplog: Any) -> None:
    journal = Journal(clock=lambda: 0.0)
    caplog.set_level(logging.INFO, "linemon.lines")
    journal.result(LINE, PingResult.failed(models.STATUS_COMMAND_ERROR, "% bad vrf"), "1.0")
    (record,) = caplog.records
    assert record.getMessage() == "line cannot be measured"
    assert "bad vrf" in record.__dict__["error"]


def test_one_summary_a_minute_with_the_pings_since_the_last(caplog: Any) -> None:
    now = [0.0]
    journal = Journal(clock=lambda: now[0])
    caplog.set_level(logging.INFO, "linemon.lines")
    summaries = 0
    for second in range(0, 180):  # three minutes, a ping a second, checked every second
        now[0] = float(second)
        journal.result(LINE, OK if second % 3 else PingResult.failed("skipped", "busy"), "1.0")
        if journal.summary_due():
            journal.summarise({"sessions": 2})
            summaries += 1
    records = [r for r in caplog.records if r.getMessage() == "summary (once a minute)"]
    assert summaries == len(records) == 2  # at 60 s and 120 s; the third is due at 180 s
    assert records[0].__dict__["pings"] == 61 and records[0].__dict__["sessions"] == 2  # 0-60 s
    assert records[0].__dict__["results"] == "ok:40,skipped:21"


def test_a_ping_never_sent_says_nothing_about_the_line(caplog: Any) -> None:
    journal = Journal(clock=lambda: 0.0)
    caplog.set_level(logging.INFO, "linemon.lines")
    login = PingResult.failed(models.STATUS_SESSION_ERROR, "login did not finish within 45 s")
    for _ in range(3):
        journal.result(LINE, OK, "1.0")
        journal.result(LINE, login, "1.0")
    assert _messages(caplog) == []
    journal.result(LINE, PingResult.failed(models.STATUS_TIMEOUT, "no answer"), "1.0")
    assert _messages(caplog) == ["line cannot be measured"]  # asked, and no answer in time
