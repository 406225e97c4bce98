"""The whole loop against the real Zabbix 6.0: API -> broker -> router -> trapper -> history.

Lines are defined exactly the seed's way (hosts tagged TempType=LINE, technical name = line
IP, {$LINE_*} macros); the routers are the emulator on port 22 of their own loopback
addresses. The first test: values reach history, a hostile macro is refused, a VRF macro
changes the ping, the API down leaves the broker on its cache, deleting a host removes its
line. The second links the shipped line template: a dead line fires its triggers through the
broker's own pings; a router macro on the host and an interval macro on a template the host
links change what the broker does after `linemon sync`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zabbix_utils import ZabbixAPI

from tests.beds.emulator.client import Emulator
from tests.functional.broker_proc import BrokerProcess
from tests.integration.conftest import ZabbixLab
from tests.integration.loop import SEED_ROUTER_IP, api_broker_doc, seed_macros, until
from tests.integration.test_templates import LINE_TEMPLATE, TEMPLATES, import_file

pytestmark = pytest.mark.zabbix
ROUTER_IP = SEED_ROUTER_IP
LINE_IP, HOSTILE_IP = "198.51.100.10", "198.51.100.66"
R1, R2 = "127.35.1.1", "127.35.1.2"
LIVE_IP, DEAD_IP = "198.51.100.30", "198.51.100.31"


def _line_host(api: ZabbixAPI, groupid: str, name: str, line_id: str,
               extra: dict[str, str] | None = None) -> str:
    macros = seed_macros(line_id) + [{"macro": k, "value": v} for k, v in (extra or {}).items()]
    hostid: str = api.host.create(host=name, groups=[{"groupid": groupid}],
                                  tags=[{"tag": "TempType", "value": "LINE"}],
                                  macros=macros)["hostids"][0]
    api.item.create(hostid=hostid, name="linemon result", key_="linemon.result", type=2,
                    value_type=4, trapper_hosts="127.0.0.1")
    return hostid


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    (tmp_path / "emu").mkdir()
    config = {"time_scale": 0.05, "loss_model": "even",
              "defaults": {"username": "lab", "password": "lab-pw"},
              "routers": {"pe1": {"host": ROUTER_IP, "port": 22, "platform": "cisco_iosxe",
                                  "targets": {LINE_IP: {"loss": 0.2, "rtt_ms": 30}}}}}
    with Emulator(config, workdir=tmp_path / "emu") as made:
        yield made


def _history(api: ZabbixAPI, hostid: str) -> list[dict[str, Any]]:
    items = api.item.get(hostids=[hostid], filter={"key_": "linemon.result"}, output=["itemid"])
    rows: list[dict[str, Any]] = api.history.get(itemids=[items[0]["itemid"]], history=4,
                                                 sortfield="clock", sortorder="DESC", limit=5)
    return rows


def test_seed_lines_from_the_api_reach_history(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, emulator: Emulator, tmp_path: Path
) -> None:
    api = zabbix_api
    groupid = api.hostgroup.create(name=f"linemon-lines-{os.getpid()}")["groupids"][0]
    hostid = _line_host(api, groupid, LINE_IP, "L-1")
    hostile = _line_host(api, groupid, HOSTILE_IP, "L-66", {"{$LINE_VRF}": "X;reload"})
    zabbix_lab.reload_config_cache()
    doc = api_broker_doc(zabbix_lab, tmp_path)
    broker = BrokerProcess(tmp_path, doc)
    with broker:
        rows = until(lambda: _history(api, hostid), 60, "a value in history")
        value = json.loads(rows[0]["value"])
        assert value["line"] == "L-1" and value["status"] == "ok"
        assert (value["sent"], value["received"], value["loss_pct"]) == (5, 4, 20.0)
        status = broker.client_json("status", "--json")
        assert status["sync"]["source"] == "api" and status["rejected_lines"] == 1
        assert b"reload" not in emulator.received_bytes("pe1")
        assert "lab-pw" not in broker.log_text()

        # A macro changed in Zabbix changes what the broker sends after a sync.
        api.usermacro.create(hostid=hostid, macro="{$LINE_VRF}", value="CUST1")
        synced = broker.client_json("sync")
        assert synced["source"] == "api"
        lines = broker.client_json("lines", "--json")
        assert [row["vrf"] for row in lines if row["id"] == "L-1"] == ["CUST1"]
        until(lambda: any("vrf CUST1" in c for c in emulator.commands("pe1")), 30,
               "a ping in VRF CUST1")

    # API down at start: the broker runs on its cached line set, and says it is stale.
    good_url = doc["zabbix_api"]["url"]
    broker.doc["zabbix_api"].update(url="http://127.0.0.1:9/api_jsonrpc.php", timeout=3)
    with broker as again:
        status = again.client_json("status", "--json")
        assert status["sync"]["source"] == "cache" and status["sync"]["last_error"]
        lines = again.client_json("lines", "--json")
        assert [(row["id"], row["vrf"]) for row in lines] == [("L-1", "CUST1")]

    # Deleting the host removes the line.
    broker.doc["zabbix_api"].update(url=good_url, timeout=30)
    with broker as third:
        assert [row["id"] for row in third.client_json("lines", "--json")] == ["L-1"]
        api.host.delete([hostid, hostile])
        third.client_json("sync")
        assert third.client_json("lines", "--json") == []


@pytest.fixture
def two_routers(tmp_path: Path) -> Iterator[Emulator]:
    """r1 reaches both targets (the dead one never answers); r2 reaches the live one."""
    (tmp_path / "emu2").mkdir()
    live = {"loss": 0.0, "rtt_ms": 12}
    config = {"time_scale": 0.05, "loss_model": "even",
              "defaults": {"username": "lab", "password": "lab-pw"},
              "routers": {"r1": {"host": R1, "port": 22, "platform": "cisco_iosxe",
                                 "targets": {LIVE_IP: live, DEAD_IP: {"loss": 1.0}}},
                          "r2": {"host": R2, "port": 22, "platform": "cisco_iosxe",
                                 "targets": {LIVE_IP: live}}}}
    with Emulator(config, workdir=tmp_path / "emu2") as made:
        yield made


def _macro(api: ZabbixAPI, hostid: str, name: str) -> str:
    rows = api.usermacro.get(hostids=hostid, filter={"macro": name}, output=["hostmacroid"])
    hostmacroid: str = rows[0]["hostmacroid"]
    return hostmacroid


def test_template_triggers_fire_and_macros_steer_the_broker(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, two_routers: Emulator, tmp_path: Path
) -> None:
    api = zabbix_api
    assert import_file(api, TEMPLATES / "linemon_line_trapper"
                       / "linemon_line_trapper_6.0.yaml") is True
    line_tpl = api.template.get(filter={"host": LINE_TEMPLATE}, output=["templateid"])[0]
    group = f"linemon-steer-{os.getpid()}"
    groupid = api.hostgroup.create(name=group)["groupids"][0]
    # {$LINE_CHECK_INTERVAL} comes from a template of the operator's, not from the hosts
    defaults = api.template.create(host=f"{group}-defaults", groups=[{"groupid": groupid}],
                                   macros=[{"macro": "{$LINE_CHECK_INTERVAL}", "value": "600"}]
                                   )["templateids"][0]
    templates = [{"templateid": line_tpl["templateid"]}, {"templateid": defaults}]
    hosts = {}
    for ip, line_id in ((LIVE_IP, "L-LIVE"), (DEAD_IP, "L-DEAD")):
        hosts[line_id] = api.host.create(
            host=ip, groups=[{"groupid": groupid}], templates=templates,
            tags=[{"tag": "TempType", "value": "LINE"}],
            macros=seed_macros(line_id, R1, interval=None))["hostids"][0]
    zabbix_lab.reload_config_cache()
    doc = api_broker_doc(zabbix_lab, tmp_path, host_group=group)

    def lines() -> dict[str, dict[str, Any]]:
        return {row["id"]: row for row in broker.client_json("lines", "--json")}

    def ping(line_id: str) -> dict[str, Any]:
        done = broker.client("ping", "--line", line_id, "--wait")
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    (tmp_path / "steer").mkdir()
    broker = BrokerProcess(tmp_path / "steer", doc)
    try:
        with broker:
            assert {k: (r["router"], r["interval"]) for k, r in lines().items()} == {
                "L-LIVE": (R1, 600), "L-DEAD": (R1, 600)}

            # A dead line (the router gets no reply) fires the template's triggers: the
            # results come from the broker's pings, queued now rather than in 10 minutes.
            for _ in range(3):
                assert ping("L-DEAD")["loss_pct"] == 100.0
            down = "linemon: line down (100% loss for the last #3 results)"

            def problems() -> set[str]:
                return {p["name"] for p in api.problem.get(hostids=hosts["L-DEAD"],
                                                           output=["name"])}

            until(lambda: down in problems(), 30, "the line down problem on L-DEAD")
            assert problems() == {down, "linemon: packet loss over 50%"}
            assert ping("L-LIVE")["loss_pct"] == 0.0
            until(lambda: _history(api, hosts["L-LIVE"]), 30, "a value for L-LIVE")
            assert api.problem.get(hostids=hosts["L-LIVE"], countOutput=True) == "0"

            # The router macro moves the line to r2, the template's interval macro changes
            # every line's schedule: both after `linemon sync`, nothing restarted.
            api.usermacro.update(hostmacroid=_macro(api, hosts["L-LIVE"], "{$LINE_ROUTER_IP}"),
                                 value=R2)
            api.usermacro.update(hostmacroid=_macro(api, defaults, "{$LINE_CHECK_INTERVAL}"),
                                 value="900")
            assert broker.client_json("sync")["source"] == "api"
            assert {k: (r["router"], r["interval"]) for k, r in lines().items()} == {
                "L-LIVE": (R2, 900), "L-DEAD": (R1, 900)}
            before = len(two_routers.pings("r2"))
            assert ping("L-LIVE")["router"] == R2
            assert {p["target"] for p in two_routers.pings("r2")[before:]} == {LIVE_IP}
            until(lambda: any(json.loads(row["value"])["router"] == R2
                               for row in _history(api, hosts["L-LIVE"])), 30,
                   "a value sent for r2's ping")
    finally:
        api.host.delete(list(hosts.values()))
        api.template.delete([defaults])
