"""linemon against a real Zabbix 7.0 (the Debian 13 chroot lab, scripts/zabbix-lab7).

The 7.0 templates import with no error and re-import without change, and the whole loop runs:
a line host defined the seed's way, linked to the 7.0 line template, is read by the real
broker from the 7.0 API, pinged on the router emulator, and its result reaches 7.0's history
through the trapper, split by the template's dependent items.
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
from tests.integration.lab70 import Lab70, zabbix70_api, zabbix70_lab
from tests.integration.loop import api_broker_doc, seed_macros, until
from tests.integration.test_templates import (
    ALL_TEMPLATES,
    LINE_TEMPLATE,
    RULES,
    TEMPLATES,
    check_dashboards,
)

pytestmark = pytest.mark.zabbix
__all__ = ["zabbix70_api", "zabbix70_lab"]  # fixtures, imported so that pytest finds them

FILES_70 = sorted(TEMPLATES.glob("*/*_7.0.yaml"))
# 7.0's rules: template groups have their own rule, "groups" is gone.
RULES_70 = {("template_groups" if rule == "groups" else rule): how for rule, how in RULES.items()}
ROUTER_IP = "127.33.0.1"
LINE_IP = "198.51.100.70"


def import_70(api: ZabbixAPI, path: Path) -> Any:
    return api.configuration.import_(source=path.read_text(encoding="utf-8"), format="yaml",
                                     rules=RULES_70)


def _templates(api: ZabbixAPI) -> dict[str, str]:
    rows = api.template.get(output=["host"], search={"host": "Template linemon"})
    return {row["host"]: row["templateid"] for row in rows}


def test_api_is_70_and_every_template_imports_and_reimports(zabbix70_api: ZabbixAPI) -> None:
    api = zabbix70_api
    assert str(api.version).startswith("7.0.")
    assert len(FILES_70) == len(ALL_TEMPLATES)
    for path in FILES_70:
        assert import_70(api, path) is True, path.name
    imported = _templates(api)
    assert set(imported) == ALL_TEMPLATES
    check_dashboards(api, imported)
    groups = api.templategroup.get(output=["name"], filter={"name": "Templates/linemon"})
    assert [g["name"] for g in groups] == ["Templates/linemon"]

    def shape() -> dict[str, Any]:
        return {name: (api.item.get(templateids=tid, countOutput=True),
                       api.trigger.get(templateids=tid, countOutput=True),
                       api.discoveryrule.get(templateids=tid, countOutput=True))
                for name, tid in imported.items()}

    before = shape()
    assert int(before[LINE_TEMPLATE][0]) > 1 and int(before[LINE_TEMPLATE][1]) > 0
    for path in FILES_70:
        assert import_70(api, path) is True, f"re-import of {path.name}"
    assert _templates(api) == imported
    assert shape() == before


def test_lab_runs_chrooted_on_its_own_ports(zabbix70_lab: Lab70) -> None:
    env = zabbix70_lab.env
    assert (env["LINEMON_ZABBIX_URL"], zabbix70_lab.trapper_port) == (
        "http://127.0.0.1:28080/api_jsonrpc.php", 20051)
    # Never the 6.0 lab's variable: scripts/zabbix-lab would act on the chroot's lab with it.
    assert "LINEMON_ZABBIX_LAB_DIR" not in env
    root = Path(env["LINEMON_ZABBIX7_ROOT"])
    server_dir = Path(env["LINEMON_ZABBIX7_LAB_DIR"]) / "server"
    assert server_dir.is_relative_to(root)
    pid = int((server_dir / "zabbix_server.pid").read_text())
    assert Path(f"/proc/{pid}/root").resolve() == root


@pytest.fixture
def router70(tmp_path: Path) -> Iterator[Emulator]:
    (tmp_path / "emu").mkdir()
    config = {"time_scale": 0.05, "loss_model": "even",
              "defaults": {"username": "lab", "password": "lab-pw"},
              "routers": {"pe70": {"host": ROUTER_IP, "port": 22, "platform": "cisco_iosxe",
                                   "targets": {LINE_IP: {"loss": 0.2, "rtt_ms": 30}}}}}
    with Emulator(config, workdir=tmp_path / "emu") as made:
        yield made


def _last(api: ZabbixAPI, hostid: str, key: str, history: int) -> list[dict[str, Any]]:
    items = api.item.get(hostids=[hostid], filter={"key_": key}, output=["itemid"])
    rows: list[dict[str, Any]] = api.history.get(itemids=[items[0]["itemid"]], history=history,
                                                 sortfield="clock", sortorder="DESC", limit=3)
    return rows


def test_seed_line_reaches_70_history_through_the_broker(
    zabbix70_lab: Lab70, zabbix70_api: ZabbixAPI, router70: Emulator, tmp_path: Path
) -> None:
    api = zabbix70_api
    assert import_70(api, TEMPLATES / "linemon_line_trapper"
                     / "linemon_line_trapper_7.0.yaml") is True
    template = api.template.get(filter={"host": LINE_TEMPLATE}, output=["templateid"])[0]
    group = f"linemon-lines70-{os.getpid()}"
    groupid = api.hostgroup.create(name=group)["groupids"][0]
    hostid = api.host.create(host=LINE_IP, groups=[{"groupid": groupid}],
                             templates=[{"templateid": template["templateid"]}],
                             tags=[{"tag": "TempType", "value": "LINE"}],
                             macros=seed_macros("L-70", ROUTER_IP))["hostids"][0]
    zabbix70_lab.reload_config_cache()
    doc = api_broker_doc(zabbix70_lab, tmp_path, host_group=group)
    try:
        with BrokerProcess(tmp_path, doc) as broker:
            lines = broker.client_json("lines", "--json")
            assert [(row["id"], row["router"]) for row in lines] == [("L-70", ROUTER_IP)]
            assert broker.client_json("status", "--json")["sync"]["source"] == "api"
            raw = until(lambda: _last(api, hostid, "linemon.result", 4), 60,
                         "a linemon.result value in 7.0's history")
            result = json.loads(raw[0]["value"])
            assert (result["line"], result["status"]) == ("L-70", "ok")
            assert (result["sent"], result["received"], result["loss_pct"]) == (5, 4, 20.0)
            # The dependent items (float history) are filled from that JSON by 7.0 itself.
            loss = until(lambda: _last(api, hostid, "linemon.loss", 0), 30,
                          "a linemon.loss value (dependent item)")
            assert float(loss[0]["value"]) == 20.0
            rtt = until(lambda: _last(api, hostid, "linemon.rtt.avg", 0), 30,
                         "a linemon.rtt.avg value (dependent item)")
            assert float(rtt[0]["value"]) == pytest.approx(result["rtt_avg_ms"])
            assert "lab-pw" not in broker.log_text()
    finally:
        api.host.delete([hostid])
        api.hostgroup.delete([groupid])


def test_broker_reads_only_its_proxys_lines_from_70(
    zabbix70_lab: Lab70, zabbix70_api: ZabbixAPI, tmp_path: Path
) -> None:
    """7.0 renamed proxy.host to name and host.proxy_hostid to proxyid (monitored_by=1)."""
    api = zabbix70_api
    tag = f"lm70-{os.getpid()}"
    proxyid = api.proxy.create(name=f"{tag}-proxy", operating_mode=0)["proxyids"][0]
    groupid = api.hostgroup.create(name=tag)["groupids"][0]
    base = {"groups": [{"groupid": groupid}], "tags": [{"tag": "TempType", "value": "LINE"}]}
    hostids = [
        api.host.create(host="198.51.100.71", macros=seed_macros("L-PROXIED", ROUTER_IP),
                        monitored_by=1, proxyid=proxyid, **base)["hostids"][0],
        api.host.create(host="198.51.100.72", macros=seed_macros("L-SERVER", ROUTER_IP),
                        **base)["hostids"][0],
    ]
    doc = api_broker_doc(zabbix70_lab, tmp_path, host_group=tag)
    try:
        with BrokerProcess(tmp_path, doc) as broker:
            assert sorted(r["id"] for r in broker.client_json("lines", "--json")) == [
                "L-PROXIED", "L-SERVER"]
        doc["zabbix_api"]["proxy"] = f"{tag}-proxy"
        with BrokerProcess(tmp_path, doc) as broker:
            assert broker.client_json("status", "--json")["sync"]["source"] == "api"
            assert [r["id"] for r in broker.client_json("lines", "--json")] == ["L-PROXIED"]
    finally:
        api.host.delete(hostids)
        api.hostgroup.delete([groupid])
        api.proxy.delete([proxyid])
