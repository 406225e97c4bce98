"""The Zabbix lab itself: a 6.0 API, a trapper that stores what it accepts, a working agent."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from zabbix_utils import Getter, ItemValue, Sender, ZabbixAPI
from zabbix_utils.types import TrapperResponse

from tests.integration.conftest import ZabbixLab

pytestmark = pytest.mark.zabbix

TRAPPER = 2  # item type
FLOAT = 0  # value_type, and history.get's history table


@dataclass(frozen=True)
class TrapperItem:
    host: str
    key: str
    itemid: str


def wait_for(probe: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    """Poll until `probe` returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (result := probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: nothing after {timeout:.0f} s")
        time.sleep(0.2)
    return result


@pytest.fixture
def trapper_item(zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI) -> Iterator[TrapperItem]:
    """A new host with one float trapper item that accepts values from 127.0.0.1 only."""
    name = f"linemon-lab-{uuid.uuid4().hex[:12]}"
    groupid = zabbix_api.hostgroup.create(name=name)["groupids"][0]
    hostid = zabbix_api.host.create(host=name, groups=[{"groupid": groupid}])["hostids"][0]
    key = "linemon.lab.trap"
    itemid = zabbix_api.item.create(
        hostid=hostid, name="lab trap", key_=key, type=TRAPPER, value_type=FLOAT,
        trapper_hosts="127.0.0.1",
    )["itemids"][0]
    zabbix_lab.reload_config_cache()
    yield TrapperItem(host=name, key=key, itemid=itemid)
    zabbix_api.host.delete(hostid)
    zabbix_api.hostgroup.delete(groupid)


def send_until_known(sender: Sender, value: ItemValue) -> TrapperResponse:
    """Send until the server's config cache knows the new item (it drops values until then)."""
    return wait_for(
        lambda: (answer := sender.send([value])).processed and answer,
        f"the trapper accepting {value}",
    )


def test_api_is_zabbix_6_0(zabbix_api: ZabbixAPI) -> None:
    version = zabbix_api.apiinfo.version()
    major, minor, patch = version.split(".")
    assert (major, minor) == ("6", "0")
    assert patch.isdigit()


def test_trapper_value_reaches_history(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, trapper_item: TrapperItem
) -> None:
    clock, ns = int(time.time()), random.randrange(1_000_000_000)
    value = round(random.uniform(0, 100), 3)
    sender = Sender(server=zabbix_lab.server, port=zabbix_lab.trapper_port, timeout=5)
    item = ItemValue(trapper_item.host, trapper_item.key, str(value), clock, ns)

    answer = send_until_known(sender, item)

    assert (answer.processed, answer.failed, answer.total) == (1, 0, 1)
    rows = wait_for(
        lambda: zabbix_api.history.get(
            itemids=[trapper_item.itemid], history=FLOAT, output="extend"
        ),
        "the value in history.get",
    )
    assert [(float(row["value"]), int(row["clock"]), int(row["ns"])) for row in rows] == [
        (value, clock, ns)
    ]


def test_trapper_refuses_hosts_not_allowed(
    zabbix_lab: ZabbixLab, trapper_item: TrapperItem
) -> None:
    allowed = Sender(server=zabbix_lab.server, port=zabbix_lab.trapper_port, timeout=5)
    send_until_known(allowed, ItemValue(trapper_item.host, trapper_item.key, "1"))
    other = Sender(
        server=zabbix_lab.server, port=zabbix_lab.trapper_port, timeout=5, source_ip="127.0.0.2"
    )

    answer = other.send([ItemValue(trapper_item.host, trapper_item.key, "2")])

    assert (answer.processed, answer.failed) == (0, 1)


def test_agent_answers_ping(zabbix_lab: ZabbixLab) -> None:
    agent = Getter(host=zabbix_lab.server, port=zabbix_lab.agent_port, timeout=5)

    assert agent.get("agent.ping").value == "1"
    assert agent.get("agent.hostname").value == zabbix_lab.agent_hostname


def test_agent_reads_userparameters_from_include_dir(zabbix_lab: ZabbixLab) -> None:
    drop_in = zabbix_lab.agent_include_dir / "linemon_lab_test.conf"
    drop_in.write_text("UserParameter=linemon.lab.echo[*],echo $1\n")
    token = uuid.uuid4().hex
    try:
        zabbix_lab.restart_agent()
        agent = Getter(host=zabbix_lab.server, port=zabbix_lab.agent_port, timeout=5)
        assert agent.get(f"linemon.lab.echo[{token}]").value == token
    finally:
        drop_in.unlink()
        zabbix_lab.restart_agent()
