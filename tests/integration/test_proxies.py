"""Scale-out the seed's way: one broker per Zabbix proxy, against the real server and proxies.

Two active proxies are defined in the lab's real Zabbix 6.0 server and run as real
``zabbix_proxy`` processes (tests/beds/zabbix_proxy.py, SQLite3). Line hosts, tagged and
macro'd the seed's way, are split between them. Each broker syncs with ``[zabbix_api] proxy``
set to its proxy and sends to that proxy's trapper; the proxy forwards to the server. The test
checks: no line on two brokers and none on neither; values reach the server's history
through each proxy (the proxy's own ``proxy_history`` holds them); a host moved to the other
proxy moves its line after ``linemon sync`` and its values then travel through the new proxy.

Figures (printed, and recorded as junit properties): how long a proxy takes to see a new
host (``ConfigFrequency=2``) and the time from the host move to the first value in history
through the new proxy.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from zabbix_utils import ZabbixAPI

from tests.beds.emulator.client import Emulator
from tests.beds.zabbix_proxy import ZabbixProxy, installed
from tests.functional.broker_proc import BrokerProcess
from tests.integration.conftest import ZabbixLab
from tests.integration.loop import api_broker_doc, line_emulator, seed_macros, until

pytestmark = [
    pytest.mark.zabbix,
    pytest.mark.skipif(installed() is None,
                       reason="zabbix_proxy (Debian's zabbix-proxy-sqlite3) not installed"),
]
ROUTER_IP = "127.34.2.1"
PROXIES = {"a": ("127.34.1.1", 21061), "b": ("127.34.1.2", 21062)}
# line id -> (line IP = host name, the proxy that monitors it at the start)
LINES = {
    "L-A1": ("198.51.100.41", "a"),
    "L-A2": ("198.51.100.42", "a"),
    "L-B1": ("198.51.100.43", "b"),
    "L-B2": ("198.51.100.44", "b"),
}
MOVED = "L-A1"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with line_emulator(tmp_path, ROUTER_IP, (ip for ip, _ in LINES.values())) as made:
        yield made


@pytest.fixture
def proxies(zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI,
            tmp_path: Path) -> Iterator[dict[str, tuple[str, ZabbixProxy]]]:
    """Both proxies defined in the server (active, status 5) and running: key -> (id, bed)."""
    made: dict[str, tuple[str, ZabbixProxy]] = {}
    try:
        for key, (ip, port) in PROXIES.items():
            name = f"linemon-proxy-{key}-{os.getpid()}"
            proxyid = zabbix_api.proxy.create(host=name, status=5)["proxyids"][0]
            bed = ZabbixProxy(name, f"{zabbix_lab.server}:{zabbix_lab.trapper_port}", ip, port,
                              tmp_path / f"proxy-{key}")
            made[key] = (proxyid, bed)
            bed.start()
        yield made
    finally:
        for _, bed in made.values():
            bed.stop()


def _line_host(api: ZabbixAPI, groupid: str, proxyid: str, ip: str, line_id: str) -> str:
    hostid: str = api.host.create(
        host=ip, groups=[{"groupid": groupid}], proxy_hostid=proxyid,
        tags=[{"tag": "TempType", "value": "LINE"}],
        macros=seed_macros(line_id, ROUTER_IP))["hostids"][0]
    # No "allowed hosts": the values come from the proxies, which check nothing of the sort.
    api.item.create(hostid=hostid, name="linemon result", key_="linemon.result", type=2,
                    value_type=4)
    return hostid


def _itemid(api: ZabbixAPI, hostid: str) -> str:
    items = api.item.get(hostids=[hostid], filter={"key_": "linemon.result"}, output=["itemid"])
    itemid: str = items[0]["itemid"]
    return itemid


def _values(api: ZabbixAPI, itemid: str, since: int = 0) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = api.history.get(itemids=[itemid], history=4, time_from=since,
                                                 sortfield="clock", sortorder="ASC")
    return [json.loads(row["value"]) | {"clock": int(row["clock"]) + int(row["ns"]) / 1e9}
            for row in rows]


def _figure(record: Callable[[str, object], None], name: str, value: float) -> None:
    record(name, round(value, 2))
    print(f"figure {name} = {value:.2f} s")


def test_two_brokers_split_lines_by_proxy_and_follow_a_moved_host(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, emulator: Emulator,
    proxies: dict[str, tuple[str, ZabbixProxy]], tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    api = zabbix_api
    groupid = api.hostgroup.create(name=f"linemon-proxied-{os.getpid()}")["groupids"][0]
    hostids: dict[str, str] = {}
    for line_id, (ip, key) in LINES.items():
        hostids[line_id] = _line_host(api, groupid, proxies[key][0], ip, line_id)
    itemids = {line_id: _itemid(api, hostid) for line_id, hostid in hostids.items()}
    created = time.monotonic()

    # Each proxy gets exactly its own hosts from the server (config cache, then proxy pull).
    for ip, key in LINES.values():
        proxies[key][1].wait_for_host(ip, timeout=30)
    _figure(record_property, "proxy_sees_new_hosts_s", time.monotonic() - created)
    for key, (_, bed) in proxies.items():
        assert bed.hosts() == {ip for ip, k in LINES.values() if k == key}

    brokers: dict[str, BrokerProcess] = {}
    for key, (_, bed) in proxies.items():
        doc = api_broker_doc(zabbix_lab, tmp_path, proxy=bed.name)
        doc["zabbix"].update(server=bed.listen_ip, port=bed.listen_port)  # send to its proxy
        (tmp_path / f"broker-{key}").mkdir()
        brokers[key] = BrokerProcess(tmp_path / f"broker-{key}", doc)

    def lines(key: str) -> set[str]:
        return {row["id"] for row in brokers[key].client_json("lines", "--json")}

    try:
        for broker in brokers.values():
            broker.start()
        # Each line on exactly one broker: the one whose proxy monitors its host.
        on_a, on_b = lines("a"), lines("b")
        assert on_a | on_b == set(LINES) and not on_a & on_b
        assert on_a == {"L-A1", "L-A2"} and on_b == {"L-B1", "L-B2"}

        # Every line's values reach the server's history, each through its own proxy.
        for line_id, itemid in itemids.items():
            values = until(functools.partial(_values, api, itemid), 60, f"a value for {line_id}",
                           every=0.2)
            assert values[0]["line"] == line_id and values[0]["status"] == "ok"
        for key, (_, bed) in proxies.items():
            mine = {itemids[line_id] for line_id, (_, k) in LINES.items() if k == key}
            assert bed.history_itemids() == mine

        # Move one host to the other proxy; both brokers sync on demand.
        moved_ip = LINES[MOVED][0]
        proxy_a, proxy_b = proxies["a"][1], proxies["b"][1]
        assert itemids[MOVED] not in proxy_b.history_itemids()
        moved_at, moved_clock = time.monotonic(), int(time.time())
        api.host.update(hostid=hostids[MOVED], proxy_hostid=proxies["b"][0])
        for broker in brokers.values():
            assert broker.client_json("sync")["source"] == "api"
        assert lines("a") == {"L-A2"}
        assert lines("b") == {"L-A1", "L-B1", "L-B2"}
        proxy_b.wait_for_host(moved_ip, timeout=30)
        _figure(record_property, "proxy_sees_moved_host_s", time.monotonic() - moved_at)
        proxy_a.wait_for_host(moved_ip, timeout=30, present=False)

        # B's values for the moved line reach history, and they went through proxy B.
        fresh = until(lambda: _values(api, itemids[MOVED], since=moved_clock + 1), 90,
                      f"a value for {MOVED} after the move", every=0.2)
        _figure(record_property, "host_move_to_first_value_s", time.monotonic() - moved_at)
        # the value's clock is when broker B's ping ran: the rest is the trip through proxy B
        _figure(record_property, "ping_to_history_via_proxy_s", time.time() - fresh[0]["clock"])
        assert fresh[0]["line"] == MOVED and fresh[0]["status"] == "ok"
        assert itemids[MOVED] in proxy_b.history_itemids()
        # Broker A keeps only its own line; neither broker had a value refused for good.
        status = {key: broker.client_json("status", "--json") for key, broker in brokers.items()}
        assert (status["a"]["lines"], status["b"]["lines"]) == (1, 3)
        for key in brokers:
            delivery = status[key]["delivery"]
            assert (delivery["rejected"], delivery["unattributed"], delivery["lost"]) == (0, 0, 0)
        for key, (_, bed) in proxies.items():
            cpu, rss, count = bed.usage()
            print(f"figure proxy_{key}: {cpu:.2f} CPU-s since start, {rss:.0f} MiB PSS "
                  f"in {count} processes")
    finally:
        for broker in brokers.values():
            broker.stop()
        api.host.delete(list(hostids.values()))


def test_a_slow_proxy_sees_a_host_assigned_to_it_after_config_cache_reload(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    """With 6.0's default ConfigFrequency (an hour) a proxy learns of a host moved to it only
    at its next pull; until then it refuses the broker's values. The operator's remedy,
    proved here: ``zabbix_proxy -R config_cache_reload`` on that proxy."""
    api = zabbix_api
    name = f"linemon-proxy-slow-{os.getpid()}"
    proxyid = api.proxy.create(host=name, status=5)["proxyids"][0]
    groupid = api.hostgroup.create(name=f"linemon-slow-{os.getpid()}")["groupids"][0]
    first = _line_host(api, groupid, proxyid, "198.51.100.51", "L-S1")
    zabbix_lab.reload_config_cache()
    bed = ZabbixProxy(name, f"{zabbix_lab.server}:{zabbix_lab.trapper_port}", "127.34.1.3",
                      21063, tmp_path / "proxy-slow", config_frequency=3600)
    second = ""
    try:
        with bed:
            bed.wait_for_host("198.51.100.51", timeout=30)  # the pull at start
            second = _line_host(api, groupid, proxyid, "198.51.100.52", "L-S2")
            zabbix_lab.reload_config_cache()
            time.sleep(3)  # longer than the fast proxies of the test above need
            assert bed.hosts() == {"198.51.100.51"}
            reloaded = time.monotonic()
            bed.reload_config()
            bed.wait_for_host("198.51.100.52", timeout=10)
            _figure(record_property, "proxy_config_cache_reload_s", time.monotonic() - reloaded)
    finally:
        api.host.delete([h for h in (first, second) if h])
