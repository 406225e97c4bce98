"""Zabbix 7.0 proxy groups, real parts: failover of line hosts between two brokers.

Two real ``zabbix_proxy`` 7.0 (Debian 13's SQLite3 build, run inside the 7.0 lab's chroot by
tests/beds/zabbix_proxy.py) are members of one proxy group with a short ``failover_delay``.
Four line hosts, tagged and macro'd the seed's way, are monitored by the group; Zabbix assigns
each to a member (``assigned_proxyid``). Two brokers run beside them, one per proxy, each with
``[zabbix_api] proxy`` set to its proxy and ``[zabbix] server = "own;other"`` (the group's
members, its own first). The test checks that each broker measures exactly the hosts assigned
to its proxy, then stops proxy A: Zabbix moves A's hosts to B, broker B measures them, their
values reach history through B, broker A stops measuring them; then A starts again.

Figures (printed and recorded as junit properties): time from the stop to the reassignment
in the API, to broker B's line set, and to each moved line's first value in history through
B; values lost and duplicated; the longest gap in any line's history.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from zabbix_utils import ZabbixAPI

from linemon_agent.broker.sender import zabbix_sender
from linemon_agent.config import ZabbixSettings
from tests.beds.emulator.client import Emulator
from tests.beds.zabbix_proxy import ZabbixProxy, installed_in
from tests.functional.broker_proc import BrokerProcess
from tests.integration.lab70 import Lab70, zabbix70_api, zabbix70_lab
from tests.integration.loop import api_broker_doc, line_emulator, seed_macros, until

__all__ = ["zabbix70_api", "zabbix70_lab"]  # fixtures, imported so that pytest finds them
ROOT = Path(os.environ.get("LINEMON_ZABBIX7_ROOT", "/var/tmp/linemon-zabbix7-root"))
pytestmark = [
    pytest.mark.zabbix,
    pytest.mark.skipif(
        installed_in(ROOT) is None,
        reason="no zabbix_proxy 7.0 in the 7.0 lab's chroot: scripts/zabbix-lab7 up"),
]
ROUTER_IP = "127.35.2.1"
PROXIES = {"a": ("127.35.1.1", 21071), "b": ("127.35.1.2", 21072)}
LINES = {f"L-G{n}": f"198.51.100.{80 + n}" for n in range(1, 5)}
FAILOVER_DELAY = 10  # seconds, the group's (7.0 allows 10 s - 15 min)
SYNC_INTERVAL = 5  # the brokers' [zabbix_api] interval here (60 s by default)
LINE_INTERVAL = 10  # {$LINE_CHECK_INTERVAL}


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with line_emulator(tmp_path, ROUTER_IP, LINES.values()) as made:
        yield made


@pytest.fixture
def group(zabbix70_lab: Lab70, zabbix70_api: ZabbixAPI
          ) -> Iterator[tuple[str, dict[str, tuple[str, ZabbixProxy]]]]:
    """A proxy group of two running proxies: (group id, key -> (proxy id, bed))."""
    api, tag = zabbix70_api, f"linemon-pg-{os.getpid()}"
    groupid = api.proxygroup.create(name=tag, failover_delay=f"{FAILOVER_DELAY}s",
                                    min_online=1)["proxy_groupids"][0]
    workdir = Path(tempfile.mkdtemp(prefix="linemon-pg-", dir=ROOT / "tmp"))
    made: dict[str, tuple[str, ZabbixProxy]] = {}
    try:
        for key, (ip, port) in PROXIES.items():
            name = f"{tag}-{key}"
            # local_address/port: where the group's members redirect senders for this proxy
            proxyid = api.proxy.create(name=name, operating_mode=0, proxy_groupid=groupid,
                                       local_address=ip, local_port=str(port))["proxyids"][0]
            bed = ZabbixProxy(name, f"{zabbix70_lab.server}:{zabbix70_lab.trapper_port}", ip,
                              port, workdir / key, root=ROOT)
            made[key] = (proxyid, bed)
            bed.start()
        yield groupid, made
    finally:
        for _, bed in made.values():
            bed.stop()
        api.proxy.delete([proxyid for proxyid, _ in made.values()])
        api.proxygroup.delete([groupid])
        shutil.rmtree(workdir, ignore_errors=True)


def _figure(record: Callable[[str, object], None], name: str, value: float) -> None:
    record(name, round(value, 2))
    print(f"figure {name} = {value:.2f}")


def _assigned(api: ZabbixAPI, hostids: dict[str, str]) -> dict[str, str]:
    rows = api.host.get(hostids=list(hostids.values()), output=["hostid", "assigned_proxyid"])
    by_id = {row["hostid"]: str(row.get("assigned_proxyid") or "0") for row in rows}
    return {line_id: by_id[hostid] for line_id, hostid in hostids.items()}


def _history(api: ZabbixAPI, itemid: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = api.history.get(itemids=[itemid], history=4, sortfield="clock",
                                                 sortorder="ASC")
    return [json.loads(row["value"]) | {"clock": int(row["clock"]), "ns": int(row["ns"])}
            for row in rows]


def test_broker_beside_each_proxy_follows_proxy_group_failover(
    zabbix70_api: ZabbixAPI, zabbix70_lab: Lab70, emulator: Emulator,
    group: tuple[str, dict[str, tuple[str, ZabbixProxy]]], tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    api = zabbix70_api
    groupid, proxies = group
    owner = {proxyid: key for key, (proxyid, _) in proxies.items()}
    hostgroupid = api.hostgroup.create(name=f"linemon-pg-lines-{os.getpid()}")["groupids"][0]
    hostids: dict[str, str] = {}
    brokers: dict[str, BrokerProcess] = {}
    try:
        # Both members online (state 2) first, or the first one up takes every host.
        until(lambda: all(row["state"] == "2" for row in api.proxy.get(
            proxyids=list(owner), output=["state"])), 60, "both proxies online")
        for line_id, ip in LINES.items():
            hostids[line_id] = api.host.create(
                host=ip, groups=[{"groupid": hostgroupid}], monitored_by=2,
                proxy_groupid=groupid, tags=[{"tag": "TempType", "value": "LINE"}],
                macros=seed_macros(line_id, ROUTER_IP, str(LINE_INTERVAL)))["hostids"][0]
        itemids = {line_id: api.item.create(hostid=hostid, name="linemon result",
                                            key_="linemon.result", type=2,
                                            value_type=4)["itemids"][0]
                   for line_id, hostid in hostids.items()}
        # Zabbix spreads the group's hosts over its online members.
        def spread() -> dict[str, str] | None:
            now = _assigned(api, hostids)
            return now if "0" not in now.values() and len(set(now.values())) == 2 else None
        try:
            assigned = until(spread, 60, "every host assigned, to both proxies")
        except AssertionError:
            raise AssertionError(f"assignment: {_assigned(api, hostids)}; proxies: "
                                 f"{api.proxy.get(output=['name', 'state'])}") from None
        on = {key: {line for line, pid in assigned.items() if owner[pid] == key}
              for key in proxies}
        for line_id, pid in assigned.items():
            proxies[owner[pid]][1].wait_for_host(LINES[line_id], timeout=30)

        addresses = {key: bed.address for key, (_, bed) in proxies.items()}
        for key, (_, bed) in proxies.items():
            doc = api_broker_doc(zabbix70_lab, tmp_path, proxy=bed.name, interval=SYNC_INTERVAL)
            other = next(a for k, a in addresses.items() if k != key)
            doc["zabbix"].update(server=f"{bed.address};{other}", port=bed.listen_port)
            (tmp_path / f"broker-{key}").mkdir()
            brokers[key] = BrokerProcess(tmp_path / f"broker-{key}", doc)
            brokers[key].start()

        def lines(key: str) -> set[str]:
            return {row["id"] for row in brokers[key].client_json("lines", "--json")}

        # Each broker measures exactly the hosts Zabbix assigned to its proxy.
        assert {key: lines(key) for key in brokers} == on, {
            key: broker.client_json("status", "--json")["sync"] for key, broker in brokers.items()}
        for line_id, itemid in itemids.items():
            until(lambda itemid=itemid: _history(api, itemid), 60, f"a value for {line_id}")

        # Proxy A stops. Its hosts move to B after failover_delay; broker B takes them.
        moved = on["a"]
        proxy_a, proxy_b = proxies["a"][1], proxies["b"][1]
        stopped, stopped_clock = time.monotonic(), time.time()
        proxy_a.stop()
        until(lambda: all(owner[_assigned(api, hostids)[line]] == "b" for line in moved), 120,
              "A's hosts reassigned to B", every=0.2)
        _figure(record_property, "stop_to_reassigned_s", time.monotonic() - stopped)
        until(lambda: lines("b") == set(LINES), 60, "broker B measuring every line", every=0.2)
        _figure(record_property, "stop_to_broker_b_lines_s", time.monotonic() - stopped)
        until(lambda: not lines("a"), 60, "broker A measuring none", every=0.2)
        for line_id in sorted(moved):
            # Broker B's first ping of the moved line, and that value in history through B.
            def on_b(line_id: str = line_id) -> dict[str, Any] | None:
                rows = brokers["b"].client_json("lines", "--json")
                last: dict[str, Any] | None = next(
                    (r["last"] for r in rows if r["id"] == line_id), None)
                return last
            first = until(on_b, 60, f"broker B's first result for {line_id}", every=0.2)
            _figure(record_property, f"stop_to_b_first_ping_{line_id}_s",
                    first["clock"] - stopped_clock)

            def in_history(line_id: str = line_id, clock: float = first["clock"]) -> bool:
                return any(abs(v["clock"] + v["ns"] / 1e9 - clock) < 0.01
                           for v in _history(api, itemids[line_id]))
            until(in_history, 60, f"broker B's first value for {line_id} in history", every=0.2)
            assert itemids[line_id] in proxy_b.history_itemids()
            _figure(record_property, f"stop_to_b_first_value_in_history_{line_id}_s",
                    time.monotonic() - stopped)
            after = [v for v in _history(api, itemids[line_id]) if v["clock"] > stopped_clock]
            # values broker A measured after the stop reached history too (through B)
            _figure(record_property, f"values_after_stop_before_b_{line_id}",
                    sum(v["clock"] + v["ns"] / 1e9 < first["clock"] - 0.01 for v in after))

        # A starts again; the brokers keep following whatever Zabbix assigns.
        proxy_a.start()
        time.sleep(FAILOVER_DELAY + 3 * SYNC_INTERVAL)
        final = _assigned(api, hostids)
        on = {key: {line for line, pid in final.items() if owner[pid] == key} for key in proxies}
        until(lambda: {key: lines(key) for key in brokers} == on, 60,
              "the brokers' lines following the assignment after A's return")
        time.sleep(LINE_INTERVAL * 2)
        # Stop measuring (the hosts lose their tag), so that the counts below are final.
        for hostid in hostids.values():
            api.host.update(hostid=hostid, tags=[])
        for broker in brokers.values():
            broker.client_json("sync")
        time.sleep(2)  # a ping already running still submits its value
        until(lambda: all(broker.client_json("status", "--json")["delivery"]["pending"] == 0
                          for broker in brokers.values()), 60, "every spool empty")
        status = {key: broker.client_json("status", "--json") for key, broker in brokers.items()}
    except BaseException:
        api.host.delete(list(hostids.values()))
        api.hostgroup.delete([hostgroupid])
        raise
    finally:
        for broker in brokers.values():
            broker.stop()

    try:
        history = {line_id: _history(api, itemid) for line_id, itemid in itemids.items()}
        delivered = sum(s["delivery"]["sent"] for s in status.values())
        in_history = sum(len(rows) for rows in history.values())
        stamps = collections.Counter((line_id, v["clock"], v["ns"])
                                     for line_id, rows in history.items() for v in rows)
        duplicated = sum(n - 1 for n in stamps.values())
        submitted = sum(s["delivery"]["submitted"] for s in status.values())
        gaps = [b["clock"] - a["clock"] for rows in history.values()
                for a, b in itertools.pairwise(rows)]
        _figure(record_property, "values_submitted", submitted)
        _figure(record_property, "values_in_history", in_history)
        _figure(record_property, "values_lost", submitted - in_history + duplicated)
        _figure(record_property, "values_duplicated", duplicated)
        _figure(record_property, "longest_gap_s", max(gaps))
        for key, s in status.items():
            d = s["delivery"]
            print(f"broker {key}: submitted {d['submitted']} sent {d['sent']} failed "
                  f"{d['failed']} rejected {d['rejected']} pending {d['pending']}")
            assert (d["rejected"], d["unattributed"], d["lost"], d["pending"]) == (0, 0, 0, 0)
        assert delivered == submitted
        assert in_history - duplicated == submitted  # nothing lost
        assert duplicated == 0
    finally:
        api.host.delete(list(hostids.values()))
        api.hostgroup.delete([hostgroupid])


def test_a_value_sent_to_the_wrong_member_is_redirected_to_the_assigned_one(
    zabbix70_api: ZabbixAPI, group: tuple[str, dict[str, tuple[str, ZabbixProxy]]],
) -> None:
    """7.0's redirect, through the broker's own sender (zabbix_utils AsyncSender)."""
    api = zabbix70_api
    groupid, proxies = group
    owner = {proxyid: key for key, (proxyid, _) in proxies.items()}
    until(lambda: all(row["state"] == "2" for row in api.proxy.get(
        proxyids=list(owner), output=["state"])), 60, "both proxies online")
    hostgroupid = api.hostgroup.create(name=f"linemon-pg-redirect-{os.getpid()}")["groupids"][0]
    ip = "198.51.100.89"
    hostid = api.host.create(host=ip, groups=[{"groupid": hostgroupid}], monitored_by=2,
                             proxy_groupid=groupid)["hostids"][0]
    try:
        itemid = api.item.create(hostid=hostid, name="linemon result", key_="linemon.result",
                                 type=2, value_type=4)["itemids"][0]
        def assigned() -> str:
            now = _assigned(api, {"x": hostid})["x"]
            return "" if now == "0" else now
        pid = until(assigned, 60, "an assignment")
        mine = proxies[owner[pid]][1]
        other = next(bed for key, (_, bed) in proxies.items() if key != owner[pid])
        mine.wait_for_host(ip, timeout=30)
        other.wait_for_host(ip, timeout=30, present=False)
        send = zabbix_sender(ZabbixSettings(server=other.listen_ip, port=other.listen_port))
        value = {"host": ip, "key": "linemon.result", "value": json.dumps({"line": "redirected"}),
                 "clock": int(time.time()), "ns": 1}
        assert asyncio.run(send([value])) == (1, 0, 1)
        rows = until(lambda: _history(api, itemid), 30, "the redirected value in history")
        assert rows[0]["line"] == "redirected"
        assert itemid in mine.history_itemids() and itemid not in other.history_itemids()
    finally:
        api.host.delete([hostid])
        api.hostgroup.delete([hostgroupid])
