"""``[zabbix] server = "a;b"``: the members of a 7.0 proxy group, kept across redirects."""

from __future__ import annotations

from zabbix_utils import AsyncSender
from zabbix_utils.types import Node

from linemon_agent.broker.sender import keep_members, members
from linemon_agent.config import ZabbixSettings


def test_members_take_the_default_port() -> None:
    settings = ZabbixSettings(server="10.0.0.1; 10.0.0.2:10052;", port=10051)
    assert members(settings) == ["10.0.0.1:10051", "10.0.0.2:10052"]


def test_a_member_overwritten_by_a_redirect_is_put_back() -> None:
    settings = ZabbixSettings(server="10.0.0.1;10.0.0.2", port=10051)
    sender = AsyncSender(clusters=[members(settings)])
    nodes = sender.clusters[0].nodes
    # zabbix_utils' redirect handling: the member that answered is replaced by the target
    nodes[0] = Node("10.0.0.2", "10051")
    keep_members(sender, settings)
    assert [f"{n.address}:{n.port}" for n in nodes] == [
        "10.0.0.2:10051", "10.0.0.2:10051", "10.0.0.1:10051"]
    keep_members(sender, settings)  # nothing missing: nothing added
    assert len(sender.clusters[0].nodes) == 3
