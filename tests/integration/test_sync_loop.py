"""The whole loop against the real Zabbix 6.0: API -> broker -> router -> trapper -> history.

Lines are defined exactly the seed's way (hosts tagged TempType=LINE, technical name = line
IP, {$LINE_*} macros); the router is the emulator on port 22 of its own loopback address.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zabbix_utils import ZabbixAPI

from tests.beds.emulator.client import Emulator
from tests.functional.broker_proc import BrokerProcess
from tests.integration.conftest import ZabbixLab

pytestmark = pytest.mark.zabbix
ROUTER_IP = "127.6.0.1"
LINE_IP, HOSTILE_IP = "198.51.100.10", "198.51.100.66"


def _seed_macros(line_id: str) -> list[dict[str, str]]:
    macros = {
        "{$LINE_ID}": line_id,
        "{$LINE_CHECK_INTERVAL}": "10",
        "{$LINE_ROUTER_IP}": ROUTER_IP,
        "{$LINE_ROUTER_USERNAME}": "lab",
        "{$LINE_ROUTER_PASSWORD}": "lab-pw",
        "{$LINE_ROUTER_PLATFORM}": "cisco_iosxe",
        "{$LINE_ROUTER_PROTOCOL}": "ssh",
    }
    return [{"macro": k, "value": v} for k, v in macros.items()]


def _line_host(api: ZabbixAPI, groupid: str, name: str, line_id: str,
               extra: dict[str, str] | None = None) -> str:
    macros = _seed_macros(line_id) + [{"macro": k, "value": v} for k, v in (extra or {}).items()]
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


def _until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_seed_lines_from_the_api_reach_history(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, emulator: Emulator, tmp_path: Path
) -> None:
    api = zabbix_api
    groupid = api.hostgroup.create(name=f"linemon-lines-{os.getpid()}")["groupids"][0]
    hostid = _line_host(api, groupid, LINE_IP, "L-1")
    hostile = _line_host(api, groupid, HOSTILE_IP, "L-66", {"{$LINE_VRF}": "X;reload"})
    zabbix_lab.reload_config_cache()
    password = tmp_path / "zbx-pw"
    password.write_text(zabbix_lab.password + "\n")
    os.chmod(password, 0o600)
    doc = {
        "broker": {"host_key_policy": "tofu"},
        "zabbix": {"server": zabbix_lab.server, "port": zabbix_lab.trapper_port,
                   "flush_interval": 0.3},
        "zabbix_api": {"url": zabbix_lab.url, "user": zabbix_lab.user,
                       "password_file": str(password), "interval": 3600},
    }
    broker = BrokerProcess(tmp_path, doc)
    with broker:
        rows = _until(lambda: _history(api, hostid), 60, "a value in history")
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
        _until(lambda: any("vrf CUST1" in c for c in emulator.commands("pe1")), 30,
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
