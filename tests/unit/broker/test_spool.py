"""The spool: FIFO order, durability across reopen and SIGKILL, sequence numbers, clear errors."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linemon_agent.broker.spool import DB_NAME, Spool, SpoolError
from linemon_agent.errors import LinemonError, ValidationError
from linemon_agent.models import TrapperValue

REPO = Path(__file__).resolve().parents[3]


def value(i: int, host: str = "router-a", key: str = "linemon.ping[l1]") -> TrapperValue:
    return TrapperValue(host, key, f'{{"n":{i}}}', 1_700_000_000 + i, 1000 * i + 7)


def test_peek_returns_values_in_append_order_with_increasing_seqs(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    seqs = [spool.append(value(i)) for i in range(5)]
    seqs += spool.append_many([value(i) for i in range(5, 9)])
    assert seqs == sorted(seqs) and len(set(seqs)) == 9
    entries = spool.peek(100)
    assert [e.value for e in entries] == [value(i) for i in range(9)]
    assert [e.seq for e in entries] == seqs
    assert [e.value for e in spool.peek(3, after=seqs[4])] == [value(5), value(6), value(7)]
    assert len(spool) == 9


def test_values_and_seqs_survive_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    seqs = spool.append_many([value(i) for i in range(3)])
    spool.close()
    again = Spool(tmp_path / "spool")
    assert len(again) == 3
    expected = list(zip(seqs, [value(i) for i in range(3)], strict=True))
    assert [(e.seq, e.value) for e in again.peek(10)] == expected


def test_seqs_never_repeat_even_after_emptying_and_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    first = spool.append_many([value(i) for i in range(4)])
    assert spool.remove(first) == 4
    assert len(spool) == 0 and spool.oldest() is None
    spool.close()
    again = Spool(tmp_path / "spool")
    assert again.append(value(9)) > max(first)


def test_remove_deletes_only_the_given_entries_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    seqs = spool.append_many([value(i) for i in range(6)])
    assert spool.remove([seqs[1], seqs[3], 10**9]) == 2
    assert [e.value for e in spool.peek(10)] == [value(0), value(2), value(4), value(5)]
    assert len(spool) == 4
    oldest = spool.oldest()
    assert oldest is not None and oldest.seq == seqs[0]


def test_remove_item_drops_one_item_and_keeps_the_others_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append_many([value(i, key="a") if i % 2 else value(i, key="b") for i in range(6)])
    assert spool.remove_item("router-a", "a") == 3
    assert [e.value for e in spool.peek(10)] == [value(i, key="b") for i in (0, 2, 4)]
    assert len(spool) == 3


def test_scan_crosses_pages_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append_many([value(i) for i in range(10)])
    assert [e.value for e in spool.scan(page=3)] == [value(i) for i in range(10)]


def test_append_many_is_all_or_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(value(0))

    def values() -> list[TrapperValue]:
        return [value(1), value(2), TrapperValue("h", "k", None, 1, 0)]  # type: ignore[arg-type]

    with pytest.raises(SpoolError, match="cannot append"):
        spool.append_many(values())
    assert [e.value for e in spool.peek(10)] == [value(0)]
    assert len(spool) == 1


def test_corrupt_database_is_a_clear_spool_error(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    (directory / DB_NAME).write_bytes(b"this is not sqlite, it is garbage " * 200)
    with pytest.raises(SpoolError) as info:
        Spool(directory)
    assert isinstance(info.value, LinemonError)
    assert str(directory / DB_NAME) in str(info.value)
    assert "corrupt" in str(info.value) and "move the directory aside" in str(info.value)


def test_directory_that_cannot_be_created_is_a_clear_spool_error(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be")
    with pytest.raises(SpoolError) as info:
        Spool(blocker / "spool")
    assert str(blocker / "spool") in str(info.value)
    assert "create the directory" in str(info.value)


def test_bad_settings_and_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="synchronous"):
        Spool(Path("/nonexistent"), synchronous="OFF")
    with pytest.raises(ValidationError, match="ns"):
        TrapperValue("h", "k", "v", 1, 1_000_000_000)


def test_as_dict_is_the_sender_protocol_element() -> None:
    assert value(2).as_dict() == {
        "host": "router-a", "key": "linemon.ping[l1]", "value": '{"n":2}',
        "clock": 1_700_000_002, "ns": 2007,
    }  # fmt: skip


CHILD = """
import sys, time
from pathlib import Path
from linemon_agent.broker.spool import Spool
from linemon_agent.models import TrapperValue
spool = Spool(Path(sys.argv[1]))
i = 0
while True:
    spool.append(TrapperValue("h", "k", str(i), 1_700_000_000, i))
    print(i, flush=True)
    i += 1
    if i >= 50:
        time.sleep(0.001)
"""


def test_every_append_that_returned_survives_sigkill(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "spool")],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    assert child.stdout is not None
    confirmed = -1
    deadline = time.monotonic() + 10
    while confirmed < 60 and time.monotonic() < deadline:
        confirmed = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=5)
    child.stdout.close()
    assert confirmed >= 60
    stored = [int(e.value.value) for e in Spool(tmp_path / "spool").peek(10_000)]
    assert stored[: confirmed + 1] == list(range(confirmed + 1))
