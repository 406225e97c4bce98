"""A full or corrupt spool through the running broker.

Full: the spool directory is a tiny tmpfs, filled while the broker runs. The broker stays
up, logs the spool path and the error, shows the values it holds in memory in ``status`` and
``/metrics``, and once space is freed spools and delivers them: every result it recorded is
delivered once. Corrupt: a spool file of garbage at start is moved aside (named in the log
and in ``status``) and the broker runs on a new spool. Figures are printed (``-s``)."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess, emulator_routers

RECORDED = re.compile(r"msg=ping .*?line=(\S+) .*?clock=(\d+)\.(\d{9})")
ROUTERS = 3
LINES_PER_ROUTER = 5


def _metric(text: str, name: str) -> float:
    for row in text.splitlines():
        if row.startswith(f"{name} "):
            return float(row.split()[-1])
    raise AssertionError(f"{name} not in /metrics:\n{text}")


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs for the spool (needs root / CAP_SYS_ADMIN; skipped without)."""
    mount = tmp_path / "state" / "spool"
    mount.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(mount)],
        capture_output=True, text=True,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> Path:
    """Write a file until the filesystem is full; returns it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


def _fleet(tmp_path: Path, trapper: TrapperBed, emulator: Emulator) -> dict[str, Any]:
    secret = tmp_path / "pw"
    secret.write_text("lab-pw\n")
    os.chmod(secret, 0o600)
    return {
        "broker": {"host_key_policy": "insecure", "metrics_listen": "127.36.3.100:0",
                   "log_level": "debug"},  # a line a ping: what was recorded
        "zabbix": {"server": "127.0.0.1", "port": trapper.port, "flush_interval": 0.3},
        "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
        "routers": emulator_routers(emulator, emulator.ready["routers"]),
        "lines": [
            {"id": f"{n}-{j}", "router": n, "target": f"198.51.100.{j + 1}", "count": 2,
             "interval": 10}
            for n in emulator.ready["routers"]
            for j in range(LINES_PER_ROUTER)
        ],
    }


def _emulator_config() -> dict[str, Any]:
    return {
        "time_scale": 0.02,
        "defaults": {"username": "lab", "password": "lab-pw"},
        "routers": {
            f"s{i}": {"host": f"127.36.3.{i + 1}", "port": 0, "platform": "cisco_iosxe",
                      "default_target": {"rtt_ms": 2}}
            for i in range(ROUTERS)
        },
    }


def test_full_spool_holds_values_and_delivers_them_later(tmp_path: Path, tiny_fs: Path) -> None:
    (tmp_path / "emu").mkdir()
    with (
        Emulator(_emulator_config(), workdir=tmp_path / "emu") as emulator,
        TrapperBed() as trapper,
        BrokerProcess(tmp_path, _fleet(tmp_path, trapper, emulator)) as broker,
    ):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not trapper.values():
            time.sleep(0.2)
        assert trapper.values(), broker.log_text()[-2000:]
        trapper.go_down()  # a round of values waits in the spool...
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            if broker.client_json("status", "--json")["delivery"]["pending"] >= ROUTERS:
                break
            time.sleep(0.3)
        filler = _fill(tiny_fs)
        full_at = len(trapper.values())
        trapper.come_up()  # ...and reaches Zabbix while the full spool cannot delete it
        # Two ping rounds while the spool is full: values are held, nothing is sent.
        held = 0
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            status = broker.client_json("status", "--json")
            held = status["delivery"]["held"]
            if held >= 2 * ROUTERS * LINES_PER_ROUTER:
                break
            time.sleep(0.5)
        delivery = status["delivery"]
        assert held > 0 and delivery["spool_errors"] >= 1 and delivery["lost"] == 0, delivery
        assert "spool" in delivery["last_error"] and "full" in delivery["last_error"]
        metrics = urllib.request.urlopen(
            f"http://{status['metrics']['listen']}/metrics", timeout=5
        ).read().decode()
        assert _metric(metrics, "linemon_values_held") == held
        assert _metric(metrics, "linemon_values_spool_errors_total") >= 1
        log = broker.log_text()
        assert "spool not writable" in log and str(tiny_fs) in log
        sent_while_full = len(trapper.values()) - full_at
        assert sent_while_full >= 1  # taken by Zabbix, not deletable: must not go twice
        assert broker.proc is not None and broker.proc.poll() is None

        filler.unlink()  # space again: held values are spooled, in order, and sent
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            delivery = broker.client_json("status", "--json")["delivery"]
            if delivery["held"] == 0 and delivery["pending"] == 0:
                break
            time.sleep(0.3)
        assert delivery["held"] == 0 and delivery["pending"] == 0, delivery
        assert "spool writable again" in broker.log_text()
        assert "cannot rollback" not in broker.log_text()  # the disk's own error is reported
    recorded = {
        (m.group(1), int(m.group(2)), int(m.group(3)))
        for m in RECORDED.finditer(broker.log_text())
    }
    delivered = Counter((json.loads(v.value)["line"], v.clock, v.ns) for v in trapper.values())
    lost = recorded - set(delivered)
    duplicated = [k for k, n in delivered.items() if n > 1]
    print(
        "FIGURES",
        json.dumps(
            {
                "fault": "spool filesystem full",
                "held_at_peak": held,
                "sent_while_full": sent_while_full,
                "spool_errors": delivery["spool_errors"],
                "recorded": len(recorded),
                "delivered": len(delivered),
                "lost": len(lost),
                "lost_counter": delivery["lost"],
                "duplicated": len(duplicated),
            }
        ),
    )
    assert recorded and not lost and not duplicated


def test_corrupt_spool_is_moved_aside_and_the_broker_runs(tmp_path: Path) -> None:
    garbage = bytes(range(256)) * 64  # not an SQLite file
    spool_dir = tmp_path / "state" / "spool"
    spool_dir.mkdir(parents=True)
    (spool_dir / "spool.sqlite3").write_bytes(garbage)
    (tmp_path / "emu").mkdir()
    with (
        Emulator(_emulator_config(), workdir=tmp_path / "emu") as emulator,
        TrapperBed() as trapper,
        BrokerProcess(tmp_path, _fleet(tmp_path, trapper, emulator)) as broker,
    ):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(trapper.values()) < ROUTERS * LINES_PER_ROUTER:
            time.sleep(0.2)
        spool = broker.client_json("status", "--json")["spool"]
        moved = Path(spool["quarantined"])
        assert moved.parent == spool_dir and moved.name.startswith("spool.sqlite3.corrupt-")
        assert moved.read_bytes() == garbage  # kept for recovery by hand, untouched
        log = broker.log_text()
        assert "spool was corrupt" in log and str(moved) in log
        delivered = len(trapper.values())
        assert delivered >= ROUTERS * LINES_PER_ROUTER
    print("FIGURES", json.dumps({"fault": "corrupt spool at start", "moved_aside": 1,
                                 "delivered_after": delivered, "broker_exit": 0}))


def test_unusable_spool_directory_is_a_clear_exit(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "spool").write_text("a file where the spool directory should be\n")
    doc = {
        "zabbix": {"server": "127.0.0.1", "port": 9},
        "credentials": {"default": {"username": "lab", "password_file": str(tmp_path / "pw")}},
    }
    (tmp_path / "pw").write_text("pw\n")
    os.chmod(tmp_path / "pw", 0o600)
    broker = BrokerProcess(tmp_path, doc)
    with pytest.raises(RuntimeError):
        broker.start(wait=15)
    assert broker.proc is not None and broker.proc.returncode == 73
    log = broker.log_text()
    assert "cannot open the spool" in log and str(tmp_path / "state" / "spool") in log
    assert "Traceback" not in log
    print("FIGURES", json.dumps({"fault": "spool path unusable", "exit": 73}))
