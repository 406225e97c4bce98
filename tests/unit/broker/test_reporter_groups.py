"""Group probes of never-probed items and the bound on what a round reads of the spool, against
a fake send and a real spool (rows read counted where the spool hands them out)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from linemon_agent.broker import rounds
from linemon_agent.broker.reporter import Reporter
from linemon_agent.broker.rounds import ItemState, Pass
from linemon_agent.broker.spool import Spool, Spooled
from linemon_agent.models import TrapperValue
from tests.unit.broker.test_reporter import FakeClock, FakeZabbix, balanced, entries, val

X = ("r9", "ping[x]")


def item(i: int) -> tuple[str, str]:
    return (f"h{i}", "linemon.result")


def fill(spool: Spool, items: int, per_item: int = 1) -> None:
    """``per_item`` values of each of ``items`` items, interleaved as the broker writes them."""
    spool.append_many(
        TrapperValue(*item(i), f"v{n}", 1_700_000_000 + n, i)
        for n in range(per_item)
        for i in range(items)
    )


class CountingSpool(Spool):
    """A spool that counts the rows it hands out."""

    rows_read = 0

    def peek(self, n: int, after: int = 0) -> list[Spooled]:
        rows = super().peek(n, after)
        self.rows_read += len(rows)
        return rows


def counting(tmp_path: Path) -> CountingSpool:
    return CountingSpool(tmp_path / "spool")


# -- the plan ------------------------------------------------------------------------------------


def test_a_round_stops_at_max_probes_and_the_pass_goes_on_where_it_stopped() -> None:
    spooled = entries(*[val(item(i), 0) for i in range(10)], *[val(item(i), 1) for i in range(10)])
    states = {item(i): ItemState() for i in range(10)}  # each probed alone before, due now
    scan = Pass(spooled)
    first = scan.next_round(states, now=0.0, batch_size=250, max_probes=4)
    second = scan.next_round(states, now=0.0, batch_size=250, max_probes=4)
    assert [e.seq for e in first.probes] == [1, 2, 3, 4] and first.read == 4
    assert [e.seq for e in second.probes] == [5, 6, 7, 8] and second.read == 4
    last = scan.next_round(states, now=0.0, batch_size=250, max_probes=4)
    # the items' second values are passed over: their heads were probed this pass
    assert [e.seq for e in last.probes] == [9, 10] and last.read == 12 and last.end


def test_a_group_holds_at_most_batch_size_items_each_once() -> None:
    spooled = entries(*[val(item(i % 7), i) for i in range(30)])
    plan = rounds.plan_round(spooled, {}, now=0.0, batch_size=5, max_probes=8)
    assert [e.value.item for e in plan.group] == [item(i) for i in range(5)]
    assert plan.read == 5 and not plan.end


def test_rows_of_held_items_end_a_round_empty_after_round_rows() -> None:
    n = rounds.ROUND_ROWS + 500
    spooled = entries(*[val(item(i), 0) for i in range(n)])
    states = {item(i): ItemState(failures=1, next_try=99.0) for i in range(n)}  # in backoff
    scan = Pass(spooled)
    first = scan.next_round(states, now=0.0, batch_size=250, max_probes=32)
    assert not first and first.read == rounds.ROUND_ROWS and not first.end
    second = scan.next_round(states, now=0.0, batch_size=250, max_probes=32)
    assert not second and second.read == 500 and second.end


def test_items_held_after_a_refusal_send_nothing_more_in_the_pass() -> None:
    a, b = item(1), item(2)
    spooled = entries(val(a, 0), val(b, 0), val(a, 1), val(b, 1))
    states = {a: ItemState(verified=True), b: ItemState(verified=True)}
    scan = Pass(spooled)
    first = scan.next_round(states, now=0.0, batch_size=2, max_probes=8)
    assert [e.seq for e in first.batch] == [1, 2]
    scan.hold([a, b])  # that batch came back refused: its values stay, before the others
    rest = scan.next_round(states, now=0.0, batch_size=2, max_probes=8)
    assert not rest and rest.end and rest.read == 2


# -- the reporter ----------------------------------------------------------------------------------


def test_a_cold_start_of_20000_new_items_takes_one_request_per_batch_size(
    tmp_path: Path,
) -> None:
    spool = counting(tmp_path)
    fill(spool, 20_000, per_item=2)
    fake = FakeZabbix()
    reporter = Reporter(spool, fake, batch_size=250)
    asyncio.run(reporter.deliver_due())
    stats = reporter.stats()
    assert stats["sent"] == 40_000 and stats["pending"] == 0 and stats["items_verified"] == 20_000
    # 80 groups (each item's first value) then 80 batches of the second values
    assert (stats["groups"], stats["batches"], stats["probes"]) == (80, 80, 0)
    assert all(len(call) == 250 for call in fake.calls)
    firsts = [{v["host"] for v in call} for call in fake.calls[:80]]
    assert all(len(hosts) == 250 for hosts in firsts)  # each item once in its group
    assert [v["value"] for v in fake.delivered[:20_000]] == ["v0"] * 20_000  # order per item
    assert spool.rows_read < 3 * 40_000  # pass 1 reads each row once, pass 2 the second values
    assert balanced(reporter)


def test_a_group_with_an_unknown_item_is_ambiguous_and_the_item_is_probed_alone(
    tmp_path: Path,
) -> None:
    known = {item(i) for i in range(9)}
    fake = FakeZabbix(known=known)  # X is not in Zabbix (yet)
    clock = FakeClock()
    reporter = Reporter(Spool(tmp_path / "spool"), fake, clock=clock)
    for i in range(9):
        reporter.submit(val(item(i), 0))
    reporter.submit(val(X, 0))
    reporter.submit(val(X, 1))
    asyncio.run(reporter.deliver_due())
    stats = reporter.stats()
    # one request of 10 first values, 9 processed: which one failed is unknown, so all leave
    assert [len(c) for c in fake.calls[:1]] == [10] and stats["groups"] == 1
    assert (stats["sent"], stats["failed"], stats["unattributed"]) == (9, 2, 1)  # X#1: below
    assert stats["anomalies"] == 0 and stats["items_verified"] == 0  # each probed alone next
    # X's next value is probed alone, refused (X still unknown) and kept
    assert fake.values_of(X)[1:] == [["ping[x]#1"]] and stats["pending"] == 1
    fake.known = known | {X}  # Zabbix's config cache has it now
    clock.now += 60.0
    reporter.submit(val(X, 2))
    for i in range(9):
        reporter.submit(val(item(i), 1))
    asyncio.run(reporter.deliver_due())
    stats = reporter.stats()
    assert fake.values_of(X)[1:] == [["ping[x]#1"], ["ping[x]#1"], ["ping[x]#2"]]
    assert stats["pending"] == 0 and stats["groups"] == 1  # never grouped again
    assert stats["sent"] == 9 + 2 + 9 and balanced(reporter)


def test_an_unknown_item_of_an_ambiguous_group_is_rejected_after_reject_after(
    tmp_path: Path,
) -> None:
    fake = FakeZabbix(known={item(0)})
    clock = FakeClock()
    reporter = Reporter(Spool(tmp_path / "spool"), fake, reject_after=600.0, clock=clock)
    for n in range(3):
        reporter.submit(val(item(0), n))
        reporter.submit(val(X, n))

    async def rounds_every(seconds: float, count: int) -> None:
        for _ in range(count):
            await reporter.deliver_due()
            clock.now += seconds

    asyncio.run(rounds_every(30.0, 25))
    stats = reporter.stats()
    assert (stats["unattributed"], stats["rejected"], stats["pending"]) == (1, 2, 0)
    assert stats["sent"] == 1 + 2 and "over 600 s" in stats["last_rejected"]
    assert balanced(reporter)


def test_a_group_refused_whole_loses_nothing_and_its_items_go_on_alone(tmp_path: Path) -> None:
    fake = FakeZabbix(known=set())
    clock = FakeClock()
    reporter = Reporter(Spool(tmp_path / "spool"), fake, probe_base=1.0, clock=clock)
    for i in range(5):
        reporter.submit(val(item(i), 0))
        reporter.submit(val(item(i), 1))
    asyncio.run(reporter.deliver_due())
    stats = reporter.stats()
    assert [len(c) for c in fake.calls] == [5] and stats["groups"] == 1
    assert (stats["failed"], stats["pending"], stats["unattributed"]) == (5, 10, 0)
    assert stats["items_failing"] == 5  # each counts it as its first refused probe
    fake.known = None  # Zabbix takes everything now
    clock.now += 60.0
    asyncio.run(reporter.deliver_due())
    # each item's first value again, alone; then the second values in one batch
    assert [len(c) for c in fake.calls] == [5, 1, 1, 1, 1, 1, 5]
    assert [v["ns"] for v in fake.delivered] == [0] * 5 + [1] * 5  # order per item
    assert [c[0]["host"] for c in fake.calls[1:6]] == [f"h{i}" for i in range(5)]
    assert reporter.stats()["sent"] == 10 and reporter.stats()["pending"] == 0
    assert balanced(reporter)


def _first_send_after(spool: CountingSpool, reads: list[int], refuse: bool) -> Any:
    async def send(values: list[dict[str, Any]]) -> tuple[int, int, int]:
        reads.append(spool.rows_read)
        if len(reads) > 1:
            raise ConnectionRefusedError("down")  # ends the pass: one round measured
        return (0, len(values), len(values)) if refuse else (len(values), 0, len(values))

    return send


def test_a_round_of_probes_reads_the_bound_not_the_whole_spool(tmp_path: Path) -> None:
    spool = counting(tmp_path)
    fill(spool, 100_000)
    reads: list[int] = []
    reporter = Reporter(spool, _first_send_after(spool, reads, refuse=True), batch_size=250)
    reporter.items.update({item(i): ItemState() for i in range(100_000)})  # due for probes
    asyncio.run(reporter.deliver_due())
    assert reporter.max_probes == 32  # 4 x probe_concurrency 8, found in the first page
    assert reads[0] == spool.rows_read == 500  # one page of the spool, not 100,000 rows
    assert reporter.stats()["probes"] == 1 and reporter.stats()["pending"] == 100_000


def test_a_round_of_new_items_reads_one_group_not_the_whole_spool(tmp_path: Path) -> None:
    spool = counting(tmp_path)
    fill(spool, 100_000)
    reads: list[int] = []
    reporter = Reporter(spool, _first_send_after(spool, reads, refuse=False), batch_size=250)
    asyncio.run(reporter.deliver_due())
    assert reads[0] == 500  # the first page: 250 rows made the group
    assert [reporter.stats()[k] for k in ("groups", "sent", "pending")] == [1, 250, 99_750]
    # the accepted group ended the pass; the next one read a page from the head before its
    # (refused) send: two rounds, not the whole spool
    assert spool.rows_read <= 1500



def test_values_of_items_a_group_verified_go_in_batches_before_the_next_group(
    tmp_path: Path,
) -> None:
    """A cold start with values still arriving: once a group is accepted, the next request
    carries those items' waiting values (a batch), not only the next group of new items."""
    spool = counting(tmp_path)
    for block in range(4):  # 250 new items' first values, then their second ones, x 4
        ids = range(block * 250, (block + 1) * 250)
        for n in range(2):
            spool.append_many(TrapperValue(*item(i), f"v{n}", 1_700_000_000 + n, i) for i in ids)
    requests: list[str] = []

    async def send(values: list[dict[str, Any]]) -> tuple[int, int, int]:
        requests.append("group" if all(v["value"] == "v0" for v in values) else "batch")
        return len(values), 0, len(values)

    reporter = Reporter(spool, send, batch_size=250)
    asyncio.run(reporter.deliver_due())
    assert reporter.stats()["pending"] == 0 and reporter.stats()["sent"] == 2_000
    assert requests == ["group", "batch"] * 4
