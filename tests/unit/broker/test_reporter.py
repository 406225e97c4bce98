"""The reporter's delivery logic against a fake send: batching, probes, retries, accounting."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from linemon_agent.broker.reporter import Reporter
from linemon_agent.broker.rounds import (
    ACCEPTED,
    AMBIGUOUS,
    REFUSED,
    ItemState,
    backoff,
    classify,
    plan_round,
)
from linemon_agent.broker.spool import Spool, Spooled, SpoolError
from linemon_agent.models import TrapperValue

A, B, C, X = ("r1", "ping[a]"), ("r1", "ping[b]"), ("r2", "ping[c]"), ("r9", "ping[x]")


def val(item: tuple[str, str], n: int) -> TrapperValue:
    return TrapperValue(item[0], item[1], f"{item[1]}#{n}", 1_700_000_000 + n, n)


def entries(*values: TrapperValue) -> list[Spooled]:
    return [Spooled(i + 1, v) for i, v in enumerate(values)]


class FakeZabbix:
    """A send() that records each call and answers like a trapper knowing ``known`` items.

    ``errors`` calls fail first (no answer); ``answers`` forces the next answers.
    """

    def __init__(self, known: Iterable[tuple[str, str]] | None = None, errors: int = 0) -> None:
        self.known = None if known is None else set(known)
        self.errors = errors
        self.answers: deque[tuple[int, int, int]] = deque()
        self.calls: list[list[dict[str, Any]]] = []
        self.times: list[float] = []
        self.delivered: list[dict[str, Any]] = []

    async def __call__(self, values: list[dict[str, Any]]) -> tuple[int, int, int]:
        self.calls.append(values)
        self.times.append(time.monotonic())
        if self.errors:
            self.errors -= 1
            raise ConnectionRefusedError("connection refused")
        if self.answers:
            return self.answers.popleft()
        ok = [v for v in values if self.known is None or (v["host"], v["key"]) in self.known]
        self.delivered += ok
        return len(ok), len(values) - len(ok), len(values)

    def values_of(self, item: tuple[str, str]) -> list[list[str]]:
        """For each call that carried ``item``, that item's values in it."""
        out = []
        for call in self.calls:
            mine = [v["value"] for v in call if (v["host"], v["key"]) == item]
            if mine:
                out.append(mine)
        return out


def make(tmp_path: Path, send: Any, **options: Any) -> Reporter:
    options.setdefault("flush_interval", 0.02)
    return Reporter(Spool(tmp_path / "spool"), send, **options)


def balanced(reporter: Reporter) -> bool:
    s = reporter.stats()
    taken = s["recovered"] + s["submitted"]
    return taken == s["sent"] + s["rejected"] + s["unattributed"] + s["lost"] + s["pending"] + s[
        "held"
    ]


async def until(check: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def running(reporter: Reporter, scenario: Callable[[], Awaitable[None]]) -> None:
    """Run ``scenario`` while the reporter's loop runs, then stop it."""

    async def main() -> None:
        task = asyncio.create_task(reporter.run())
        try:
            await scenario()
        finally:
            await reporter.stop(1.0)
            await asyncio.wait_for(task, 1.0)

    asyncio.run(main())


# -- pure parts --------------------------------------------------------------------------------


def test_plan_batches_verified_items_groups_new_ones_and_probes_the_others_once() -> None:
    items = {A: ItemState(verified=True), X: ItemState()}
    spooled = entries(val(A, 0), val(B, 0), val(A, 1), val(X, 0), val(C, 0), val(B, 1),
                      val(A, 2), val(X, 1))  # fmt: skip
    plan = plan_round(spooled, items, now=0.0, batch_size=10, max_probes=8)
    assert [e.value for e in plan.batch] == [val(A, 0), val(A, 1), val(A, 2)]
    assert [e.value for e in plan.group] == [val(B, 0), val(C, 0)]  # never probed: together
    assert [e.value for e in plan.probes] == [val(X, 0)]  # probed alone before: alone again


def test_plan_holds_items_in_backoff_and_everything_after_their_head() -> None:
    items = {A: ItemState(verified=True), B: ItemState(failures=1, next_try=5.0)}
    spooled = entries(val(B, 0), val(A, 0), val(B, 1))
    plan = plan_round(spooled, items, now=4.9, batch_size=10, max_probes=8)
    assert [e.value for e in plan.batch] == [val(A, 0)] and plan.probes == plan.group == []
    plan = plan_round(spooled, items, now=5.0, batch_size=10, max_probes=8)
    assert [e.value for e in plan.probes] == [val(B, 0)]


def test_plan_stops_reading_when_the_batch_is_full() -> None:
    items = {A: ItemState(verified=True)}
    read: list[int] = []

    def spool() -> Iterable[Spooled]:
        for e in entries(*[val(A, i) for i in range(10)], val(B, 0)):
            read.append(e.seq)
            yield e

    plan = plan_round(spool(), items, now=0.0, batch_size=4, max_probes=8)
    assert [e.seq for e in plan.batch] == [1, 2, 3, 4]
    assert read == [1, 2, 3, 4] and plan.read == 4 and plan.probes == plan.group == []


@pytest.mark.parametrize(
    ("sent", "processed", "failed", "verdict"),
    [(3, 3, 0, ACCEPTED), (3, 0, 3, REFUSED), (1, 0, 1, REFUSED), (3, 2, 1, AMBIGUOUS),
     (3, 4, 0, AMBIGUOUS), (3, 3, 1, AMBIGUOUS)],
)  # fmt: skip
def test_classify(sent: int, processed: int, failed: int, verdict: str) -> None:
    assert classify(sent, processed, failed) == verdict


def test_backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() -> None:
    assert [backoff(n, 0.5, 30.0, rng=lambda: 1.0) for n in (1, 2, 3, 7, 8, 50)] == [
        0.5, 1.0, 2.0, 30.0, 30.0, 30.0,
    ]  # fmt: skip
    assert backoff(3, 0.5, 30.0, rng=lambda: 0.0) == 1.0


# -- the loop with a fake Zabbix -------------------------------------------------------------------


def test_probe_first_then_full_batches_by_size(tmp_path: Path) -> None:
    fake = FakeZabbix()
    reporter = make(tmp_path, fake, batch_size=10, flush_interval=30.0)

    async def scenario() -> None:
        for i in range(9):
            reporter.submit(val(A, i))
        await asyncio.sleep(0.1)
        assert fake.calls == []  # not a full batch, flush interval far away
        reporter.submit(val(A, 9))
        await until(lambda: reporter.stats()["sent"] == 10)
        assert fake.values_of(A) == [[f"ping[a]#{i}" for i in range(1)],
                                     [f"ping[a]#{i}" for i in range(1, 10)]]  # fmt: skip
        for i in range(10, 35):
            reporter.submit(val(A, i))
        await until(lambda: reporter.stats()["sent"] == 35)

    running(reporter, scenario)
    assert [len(c) for c in fake.calls] == [1, 9, 10, 10, 5]
    assert [v["value"] for v in fake.delivered] == [f"ping[a]#{i}" for i in range(35)]
    assert reporter.stats()["probes"] == 1 and reporter.stats()["batches"] == 4
    assert balanced(reporter)


def test_a_partial_batch_goes_at_the_flush_interval(tmp_path: Path) -> None:
    fake = FakeZabbix()
    reporter = make(tmp_path, fake, batch_size=250, flush_interval=0.5)
    reporter.items[A] = ItemState(verified=True)

    async def scenario() -> None:
        started = time.monotonic()
        for i in range(3):
            reporter.submit(val(A, i))
        await asyncio.sleep(0.1)
        assert fake.calls == []
        await until(lambda: len(fake.calls) == 1)
        assert time.monotonic() - started >= 0.4
        assert len(fake.calls[0]) == 3

    running(reporter, scenario)


def test_new_items_go_in_one_group_and_join_batches_once_accepted(tmp_path: Path) -> None:
    fake = FakeZabbix()
    reporter = make(tmp_path, fake)
    reporter.items[A] = ItemState(verified=True)
    for v in (val(A, 0), val(B, 0), val(A, 1), val(C, 0), val(B, 1), val(A, 2), val(C, 1)):
        reporter.submit(v)
    asyncio.run(reporter.stop(2.0))
    assert [[(v["key"], v["ns"]) for v in call] for call in fake.calls] == [
        [("ping[a]", 0), ("ping[a]", 1), ("ping[a]", 2)],
        [("ping[b]", 0), ("ping[c]", 0)],  # one group probe of the two new items
        [("ping[b]", 1), ("ping[c]", 1)],
    ]
    stats = reporter.stats()
    assert stats["sent"] == 7 and stats["pending"] == 0 and stats["items_verified"] == 3


def test_refused_item_is_retried_with_backoff_then_rejected_with_reason(tmp_path: Path) -> None:
    fake = FakeZabbix(known={A})
    reporter = make(tmp_path, fake, max_attempts=3, probe_base=0.08, retry_cap=1.0)
    reporter.items[X] = ItemState()  # probed alone before: never in a group (a group: below)
    for v in (val(X, 0), val(A, 0), val(X, 1), val(X, 2), val(A, 1)):
        reporter.submit(v)

    async def scenario() -> None:
        await until(lambda: reporter.stats()["rejected"] == 3)

    running(reporter, scenario)
    assert fake.values_of(X) == [["ping[x]#0"]] * 3  # the oldest value, alone, each time
    calls = zip(fake.times, fake.calls, strict=True)
    x_times = [t for t, call in calls if call[0]["key"] == "ping[x]"]
    assert x_times[1] - x_times[0] >= 0.04 and x_times[2] - x_times[1] >= 0.08
    stats = reporter.stats()
    assert stats["sent"] == 2 and stats["failed"] == 3 and stats["pending"] == 0
    assert "'r9'" in stats["last_rejected"] and "'ping[x]'" in stats["last_rejected"]
    assert "did not accept" in stats["last_rejected"] and "3 attempts" in stats["last_rejected"]
    assert stats["items_failing"] == 0
    assert balanced(reporter)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rejection_waits_for_the_time_bound_on_a_fake_clock(tmp_path: Path) -> None:
    fake = FakeZabbix(known=set())
    clock = FakeClock()
    reporter = make(tmp_path, fake, reject_after=600.0, probe_base=1.0, retry_cap=30.0,
                    clock=clock)  # fmt: skip
    reporter.submit(val(X, 0))

    async def scenario() -> list[tuple[int, int]]:
        rounds = []  # (calls so far, rejected so far) after a round every 30 s: 0 s ... 870 s
        for _ in range(30):
            await reporter.deliver_due()
            rounds.append((len(fake.calls), reporter.stats()["rejected"]))
            clock.now += 30.0
        return rounds

    rounds = asyncio.run(scenario())
    # refused at 0 s, retried every round (each backoff < 30 s) and dropped once 600 s passed
    assert rounds[19] == (20, 0) and rounds[20] == (21, 1) and rounds[-1] == (21, 1)
    assert reporter.stats()["pending"] == 0
    assert "over 600 s" in reporter.stats()["last_rejected"]
    assert balanced(reporter)


def test_network_errors_remove_nothing_and_back_off(tmp_path: Path) -> None:
    fake = FakeZabbix(errors=3)
    reporter = make(tmp_path, fake, retry_base=0.04, retry_cap=1.0)
    reporter.items[A] = ItemState(verified=True)
    for i in range(5):
        reporter.submit(val(A, i))

    async def scenario() -> None:
        await until(lambda: reporter.stats()["send_errors"] == 2)
        stats = reporter.stats()
        assert stats["pending"] == 5 and stats["sent"] == 0
        assert "ConnectionRefusedError" in stats["last_error"]
        await until(lambda: reporter.stats()["sent"] == 5)

    running(reporter, scenario)
    gaps = [b - a for a, b in zip(fake.times, fake.times[1:], strict=False)]
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and gaps[2] >= 0.08
    assert [v["value"] for v in fake.delivered] == [f"ping[a]#{i}" for i in range(5)]
    assert all(call == fake.calls[0] for call in fake.calls)  # the same batch, clocks intact
    assert reporter.stats()["send_errors"] == 3 and balanced(reporter)


def test_failures_in_a_verified_batch_are_dropped_and_its_items_reprobed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeZabbix()
    fake.answers.append((2, 1, 3))
    reporter = make(tmp_path, fake)
    reporter.items.update({A: ItemState(verified=True), B: ItemState(verified=True),
                           C: ItemState(verified=True)})  # fmt: skip
    for item in (A, B, C):
        reporter.submit(val(item, 0))
    with caplog.at_level(logging.WARNING, logger="linemon.reporter"):
        asyncio.run(reporter.stop(2.0))
    stats = reporter.stats()
    assert (stats["sent"], stats["failed"], stats["unattributed"]) == (2, 1, 1)
    assert stats["anomalies"] == 1 and stats["pending"] == 0 and stats["items_verified"] == 0
    assert any("accounting anomaly" in r.getMessage() for r in caplog.records)
    reporter.submit(val(A, 1))
    reporter.submit(val(B, 1))
    asyncio.run(reporter.stop(2.0))
    assert [len(call) for call in fake.calls] == [3, 1, 1]
    assert balanced(reporter)


def test_a_verified_batch_refused_whole_is_kept_and_reprobed(tmp_path: Path) -> None:
    fake = FakeZabbix()
    fake.answers.append((0, 2, 2))
    reporter = make(tmp_path, fake)
    reporter.items.update({A: ItemState(verified=True), B: ItemState(verified=True)})
    reporter.submit(val(A, 0))
    reporter.submit(val(B, 0))
    asyncio.run(reporter.stop(2.0))
    assert [[v["key"] for v in call] for call in fake.calls] == [
        ["ping[a]", "ping[b]"], ["ping[a]"], ["ping[b]"],
    ]  # fmt: skip
    stats = reporter.stats()
    assert (stats["sent"], stats["failed"], stats["unattributed"]) == (2, 2, 0)
    assert stats["anomalies"] == 1 and balanced(reporter)


def test_stop_is_bounded_and_leaves_undelivered_values_in_the_spool(tmp_path: Path) -> None:
    never = asyncio.Event()

    async def hanging(values: list[dict[str, Any]]) -> tuple[int, int, int]:
        await never.wait()
        return len(values), 0, len(values)

    reporter = make(tmp_path, hanging)

    async def main() -> float:
        task = asyncio.create_task(reporter.run())
        for i in range(4):
            reporter.submit(val(A, i))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await reporter.stop(0.2)
        assert task.done()
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.0
    assert reporter.stats()["pending"] == 4 and reporter.stats()["sent"] == 0


def test_send_timeout_counts_as_a_send_error(tmp_path: Path) -> None:
    async def slow(values: list[dict[str, Any]]) -> tuple[int, int, int]:
        await asyncio.sleep(5)
        return len(values), 0, len(values)

    reporter = make(tmp_path, slow, send_timeout=0.05)
    reporter.submit(val(A, 0))
    asyncio.run(reporter.stop(2.0))
    stats = reporter.stats()
    assert stats["send_errors"] == 1 and stats["pending"] == 1
    assert "TimeoutError" in stats["last_error"]


class FlakySpool(Spool):
    """A spool whose writes fail while ``broken`` is set."""

    broken = False

    def append(self, value: TrapperValue) -> int:
        if self.broken:
            raise SpoolError(self.path, "append", "database or disk is full")
        return super().append(value)

    def append_many(self, values: Iterable[TrapperValue]) -> list[int]:
        if self.broken:
            raise SpoolError(self.path, "append", "database or disk is full")
        return super().append_many(values)


def test_unwritable_spool_holds_values_in_memory_and_spools_them_in_order(tmp_path: Path) -> None:
    spool = FlakySpool(tmp_path / "spool")
    reporter = Reporter(spool, FakeZabbix(), memory_limit=3)
    spool.broken = True
    for i in range(5):
        reporter.submit(val(A, i))
    stats = reporter.stats()
    assert (stats["held"], stats["lost"], stats["pending"]) == (3, 2, 0)
    assert stats["spool_errors"] == 5 and "disk is full" in stats["last_error"]
    assert balanced(reporter)
    spool.broken = False
    reporter.submit(val(A, 5))
    assert [e.value for e in spool.peek(10)] == [val(A, i) for i in (2, 3, 4, 5)]
    assert reporter.stats()["held"] == 0 and balanced(reporter)


class UndeletableSpool(Spool):
    """A spool whose deletes fail ``failures`` times (a full disk: SQLite needs room for them)."""

    failures = 0

    def remove(self, seqs: Iterable[int]) -> int:
        if self.failures:
            self.failures -= 1
            raise SpoolError(self.path, "remove values", "database or disk is full")
        return super().remove(seqs)


def test_values_zabbix_took_are_not_sent_again_when_the_spool_cannot_delete_them(
    tmp_path: Path,
) -> None:
    spool = UndeletableSpool(tmp_path / "spool")
    fake = FakeZabbix()
    reporter = Reporter(spool, fake, flush_interval=0.02, retry_base=0.02, retry_cap=0.1)
    reporter.items[A] = ItemState(verified=True)
    spool.failures = 3
    for i in range(3):
        reporter.submit(val(A, i))

    async def scenario() -> None:
        await until(lambda: reporter.stats()["spool_errors"] >= 2)
        stats = reporter.stats()
        assert (stats["sent"], stats["pending"]) == (3, 0) and len(spool) == 3
        assert balanced(reporter)
        await until(lambda: len(spool) == 0)
        reporter.submit(val(A, 3))
        await until(lambda: reporter.stats()["sent"] == 4)

    running(reporter, scenario)
    assert [v["value"] for v in fake.delivered] == [f"ping[a]#{i}" for i in range(4)]
    assert len(fake.calls) == 2  # the first batch once, then the new value
    assert reporter.stats()["spool_errors"] == 3 and balanced(reporter)


def test_stats_report_the_oldest_pending_value_age(tmp_path: Path) -> None:
    reporter = make(tmp_path, FakeZabbix())
    assert reporter.stats()["oldest_pending_age_s"] == 0.0
    reporter.submit(TrapperValue("h", "k", "v", int(time.time()) - 100, 0))
    assert 99 <= reporter.stats()["oldest_pending_age_s"] <= 102


def test_a_lasting_refusal_is_reported_before_rejection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A host that takes no unencrypted values answers like an unknown item: status and one
    warning a minute say so (naming zabbix.tls_connect) while the values wait."""
    fake = FakeZabbix(known={A})
    reporter = make(tmp_path, fake, probe_base=0.01, retry_cap=0.02)
    for n in range(3):
        reporter.submit(val(X, n))
    reporter.submit(val(C, 0))

    async def scenario() -> None:
        await until(lambda: len(fake.values_of(X)) >= 5 and len(fake.values_of(C)) >= 5)

    with caplog.at_level(logging.WARNING, logger="linemon.reporter"):
        running(reporter, scenario)
    stats = reporter.stats()
    assert stats["rejected"] == 0 and stats["pending"] == 4 and stats["items_failing"] == 2
    assert "refused" in stats["last_refused"] and "zabbix.tls_connect" in stats["last_refused"]
    assert "dropped 600 s after the first refusal" in stats["last_refused"]
    warnings = [r for r in caplog.records if r.getMessage().startswith("Zabbix refuses values")]
    assert len(warnings) == 1 and warnings[0].__dict__["items_failing"] == 2
