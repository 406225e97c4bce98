"""Lines by agent LLD through the real zabbix_agentd: server -> agent -> `linemon` -> broker.

The agent runs the shipped drop-in (zabbix_templates/agent/linemon_agentd.conf) with only the
path of `linemon` replaced, pointing at a stdlib-only copy of the client that user zabbix can
run (tests/beds/agent_client.py says why). The broker's socket is group `zabbix` (the agent's
own group), mode 0660, in a directory of that group, mode 0750 (like the package's
/run/linemon): the agent gets in as a group member, other users do not.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from zabbix_utils import ZabbixAPI

from tests.beds.agent_client import agent_broker, drop_in, gid, install_client, zabbix_get
from tests.beds.emulator.client import Emulator
from tests.functional.broker_proc import BrokerProcess
from tests.integration.conftest import ZabbixLab
from tests.integration.test_templates import import_file, wait_for

pytestmark = pytest.mark.zabbix

REPO = Path(__file__).resolve().parents[2]
LLD_TEMPLATE = REPO / "zabbix_templates" / "linemon_lines_agent_lld" / (
    "linemon_lines_agent_lld_6.0.yaml")
LLD_NAME = "Template linemon lines by agent LLD"
AGENT_USER = "zabbix"
ROUTERS = {"pe1": "127.35.0.1", "pe2": "127.35.0.2"}
# line id -> (router, target); pe1's lines are discovered, pe2's are filtered out
LINES = {"L-A": ("pe1", "198.51.100.21"), "L-B": ("pe1", "198.51.100.22"),
         "L-C": ("pe2", "198.51.100.23")}
PER_LINE_KEYS = ("linemon.result", "linemon.loss", "linemon.rtt.min", "linemon.rtt.avg",
                 "linemon.rtt.max", "linemon.rtt.stddev", "linemon.sent", "linemon.received",
                 "linemon.status", "linemon.status.code", "linemon.error", "linemon.ping")


@pytest.fixture(scope="module")
def agent_socket(zabbix_lab: ZabbixLab) -> Iterator[Path]:
    """`linemon` runnable by the agent's user, the drop-in installed in the lab's agent, and
    the path where the broker must put its socket for that `linemon` to find it."""
    root = Path(tempfile.mkdtemp(prefix="linemon-agent-", dir="/tmp"))
    linemon, socket = install_client(root, AGENT_USER)
    drop_in_path = zabbix_lab.agent_include_dir / "linemon.conf"
    drop_in_path.write_text(drop_in("linemon_agentd.conf", linemon))
    zabbix_lab.restart_agent()
    yield socket
    drop_in_path.unlink(missing_ok=True)
    zabbix_lab.restart_agent()
    shutil.rmtree(root, ignore_errors=True)


def agent_get(lab: ZabbixLab, key: str) -> str:
    """Ask the lab's running agent for `key` (zabbix_get: the agent runs it as user zabbix)."""
    return zabbix_get(lab.agent_port, key)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    work = tmp_path_factory.mktemp("lld-emu")
    targets: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in ROUTERS}
    for router, target in LINES.values():
        targets[router][target] = {"loss": 0.2, "rtt_ms": 8}
    config = {"time_scale": 0.05, "loss_model": "even",
              "defaults": {"username": "lab", "password": "lab-pw"},
              "routers": {name: {"host": ip, "port": 22, "platform": "cisco_iosxe",
                                 "targets": targets[name]} for name, ip in ROUTERS.items()}}
    with Emulator(config, workdir=work) as made:
        yield made


@pytest.fixture(scope="module")
def lld_host_name() -> str:
    return f"linemon-lld-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def broker(zabbix_lab: ZabbixLab, agent_socket: Path, emulator: Emulator,
           lld_host_name: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[BrokerProcess]:
    """The broker with file-defined lines reporting to the LLD host's per-line trapper keys."""
    process = agent_broker(tmp_path_factory.mktemp("lld-broker"), agent_socket, AGENT_USER,
                           (zabbix_lab.server, zabbix_lab.trapper_port), ROUTERS, LINES,
                           lld_host_name)
    with process as running:
        yield running


def test_the_drop_in_runs_under_the_agent_through_the_socket_group(
    zabbix_lab: ZabbixLab, agent_socket: Path, broker: BrokerProcess, lld_host_name: str
) -> None:
    status = json.loads(agent_get(zabbix_lab, "linemon.status"))
    assert (status["routers"], status["lines"]) == (len(ROUTERS), len(LINES))
    every = json.loads(agent_get(zabbix_lab, "linemon.discovery[]"))
    assert sorted(row["{#LINE.ID}"] for row in every) == sorted(LINES)
    pe2 = json.loads(agent_get(zabbix_lab, "linemon.discovery[pe2]"))
    assert [(r["{#LINE.ID}"], r["{#LINE.HOST}"], r["{#LINE.KEY}"]) for r in pe2] == [
        ("L-C", lld_host_name, "linemon.result[L-C]")]
    # UnsafeUserParameters=0: the agent refuses shell metacharacters before running anything
    refused = agent_get(zabbix_lab, "linemon.discovery[pe1;id]")
    assert refused.startswith("ZBX_NOTSUPPORTED") and "not allowed" in refused, refused

    mode = agent_socket.stat()
    assert (mode.st_mode & 0o777, mode.st_gid) == (0o660, gid(AGENT_USER))
    # Out of the socket's group, or of its directory's: the words name the group to join.
    for where, shown in ((agent_socket, "group root, mode 0660"),
                         (agent_socket.parent, f"directory {agent_socket.parent}: group root, "
                                               "mode 0750")):
        os.chown(where, -1, 0)  # a group the agent's user is not in
        try:
            denied = agent_get(zabbix_lab, "linemon.status")
        finally:
            os.chown(where, -1, gid(AGENT_USER))
        assert denied == (f"linemon: permission denied on {agent_socket} ({shown}): add user "
                          "zabbix to group root (usermod -aG root zabbix) and restart the agent")


def test_discovery_through_the_agent_creates_the_lines_items(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, broker: BrokerProcess, emulator: Emulator,
    lld_host_name: str
) -> None:
    api = zabbix_api
    assert import_file(api, LLD_TEMPLATE) is True
    templateid = api.template.get(filter={"host": LLD_NAME}, output=["templateid"])[0][
        "templateid"]
    groupid = api.hostgroup.create(name=lld_host_name)["groupids"][0]
    hostid = api.host.create(
        host=lld_host_name, groups=[{"groupid": groupid}],
        interfaces=[{"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "",
                     "port": str(zabbix_lab.agent_port)}],
        templates=[{"templateid": templateid}],
        macros=[{"macro": "{$LINEMON.ROUTER}", "value": "pe1"},
                {"macro": "{$LINEMON.LLD.INTERVAL}", "value": "5s"}],
    )["hostids"][0]
    zabbix_lab.reload_config_cache()

    def discovered() -> dict[str, dict[str, str]]:
        rows = api.item.get(hostids=hostid, filter={"flags": 4},
                            output=["itemid", "key_", "status", "value_type"])
        return {row["key_"]: row for row in rows}

    wanted = {f"{key}[{line}]" for key in PER_LINE_KEYS for line in ("L-A", "L-B")}
    items = wait_for(lambda: (found := discovered()) and set(found) == wanted and found,
                     "items discovered for pe1's lines", timeout=40)
    rules = api.discoveryrule.get(hostids=hostid, output=["itemid", "key_", "state", "error"])
    assert [(r["key_"], r["state"], r["error"]) for r in rules] == [
        ("linemon.discovery[{$LINEMON.ROUTER}]", "0", "")]
    triggers = api.trigger.get(hostids=hostid, filter={"flags": 4}, output=["description"])
    assert {t["description"] for t in triggers} >= {
        f"Line {line}: line down (100% loss for the last {{$LINEMON.DOWN.COUNT}} results)"
        for line in ("L-A", "L-B")}
    assert len(triggers) == 2 * 6
    graphs = api.graph.get(hostids=hostid, filter={"flags": 4}, output=["name"])
    assert {g["name"] for g in graphs} == {f"Line {line}: {what}" for line in ("L-A", "L-B")
                                           for what in ("packet loss", "RTT")}
    assert items["linemon.ping[L-A]"]["status"] == "1"  # the prototype is disabled

    # The agent item that queues a ping (enabled here, checked now): the result comes back
    # to the discovered trapper item, and through it to the dependent items.
    check_now_enabled(zabbix_lab.reload_config_cache, api, items["linemon.ping[L-A]"])

    def history(key: str) -> list[str]:
        return values(api, items[key])

    assert wait_for(lambda: history("linemon.ping[L-A]"), "the agent's ping item",
                    timeout=30)[0] == "1"
    result = json.loads(wait_for(lambda: history("linemon.result[L-A]"), "a result by trapper",
                                 timeout=30)[0])
    assert (result["line"], result["router"], result["target"]) == ("L-A", "pe1",
                                                                     "198.51.100.21")
    assert (result["status"], result["loss_pct"]) == ("ok", 20.0)
    assert {float(v) for v in wait_for(lambda: history("linemon.loss[L-A]"), "loss")} == {20.0}
    assert set(history("linemon.status[L-A]")) == {"ok"}
    assert "198.51.100.21" in {p["target"] for p in emulator.pings("pe1")}


def check_now_enabled(reload_config_cache: Callable[[], None], api: ZabbixAPI,
                      item: dict[str, str]) -> None:
    """Enable a discovered item (a disabled prototype's) and have the server check it now."""
    reload_config_cache()  # the new trapper items must be known before values
    api.item.update(itemid=item["itemid"], status=0)
    reload_config_cache()
    api.task.create(type=6, request={"itemid": item["itemid"]})


def values(api: ZabbixAPI, item: dict[str, str]) -> list[str]:
    """The item's history, oldest first."""
    rows = api.history.get(itemids=item["itemid"], history=int(item["value_type"]),
                           sortfield="clock", sortorder="ASC", output=["value"])
    return [row["value"] for row in rows]


def test_discovery_failure_shows_the_clients_words(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, agent_socket: Path, lld_host_name: str
) -> None:
    """The agent returns the client's error text as the value: the rule turns unsupported
    with those words (zabbix_agentd 6.0 passes a failing command's output on)."""
    api = zabbix_api
    hostid = api.host.get(filter={"host": lld_host_name}, output=["hostid"])[0]["hostid"]
    rule = api.discoveryrule.get(hostids=hostid, output=["itemid"])[0]
    os.chown(agent_socket, -1, 0)
    try:
        api.task.create(type=6, request={"itemid": rule["itemid"]})

        def failed() -> str:
            row = api.discoveryrule.get(itemids=rule["itemid"], output=["state", "error"])[0]
            return str(row["error"]) if row["state"] == "1" else ""

        error = wait_for(failed, "the discovery rule turning unsupported", timeout=30)
    finally:
        os.chown(agent_socket, -1, gid(AGENT_USER))
    assert "permission denied" in error, error
    # the lines found before stay (the rule's lifetime), still fed by the broker
    assert api.item.get(hostids=hostid, filter={"flags": 4}, countOutput=True) == str(
        2 * len(PER_LINE_KEYS))


def test_broker_health_through_the_agent(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, agent_socket: Path, broker: BrokerProcess
) -> None:
    """linemon.status through the agent feeds the health items; an agent outside the socket's
    group makes the status item unsupported with the client's words (its nodata() trigger
    then fires after {$LINEMON.BROKER.NODATA}, too slow to wait for here)."""
    api = zabbix_api
    path = REPO / "zabbix_templates" / "linemon_broker_health" / "linemon_broker_health_6.0.yaml"
    assert import_file(api, path) is True
    templateid = api.template.get(filter={"host": "Template linemon broker health"},
                                  output=["templateid"])[0]["templateid"]
    name = f"linemon-health-{uuid.uuid4().hex[:10]}"
    groupid = api.hostgroup.create(name=name)["groupids"][0]
    hostid = api.host.create(
        host=name, groups=[{"groupid": groupid}], templates=[{"templateid": templateid}],
        interfaces=[{"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "",
                     "port": str(zabbix_lab.agent_port)}])["hostids"][0]
    items = {row["key_"]: row for row in api.item.get(
        hostids=hostid, output=["itemid", "key_", "value_type"])}
    status, lines = items["linemon.status"], items["linemon.lines"]
    zabbix_lab.reload_config_cache()

    def check_now() -> None:
        api.task.create(type=6, request={"itemid": status["itemid"]})

    def state() -> dict[str, str]:
        row: dict[str, str] = api.item.get(itemids=status["itemid"],
                                           output=["state", "error", "lastclock"])[0]
        return row

    check_now()
    value = wait_for(lambda: api.history.get(itemids=lines["itemid"],
                                             history=int(lines["value_type"])),
                     "the lines count from linemon.status", timeout=30)
    assert [row["value"] for row in value] == [str(len(LINES))]
    assert state()["state"] == "0"

    # The routers JSON feeds the dependent router LLD: each router's load item is made and
    # gets the broker's figure.
    routers = items["linemon.routers.json"]
    api.task.create(type=6, request={"itemid": routers["itemid"]})
    made = wait_for(lambda: len(loads := api.item.get(
        hostids=hostid, search={"key_": "linemon.router.load["},
        output=["itemid", "key_", "value_type"])) == len(ROUTERS) and loads,
        "the routers' load items from the router LLD", timeout=60)
    assert sorted(i["key_"] for i in made) == sorted(f"linemon.router.load[{r}]" for r in ROUTERS)
    zabbix_lab.reload_config_cache()
    api.task.create(type=6, request={"itemid": routers["itemid"]})
    loads = wait_for(lambda: api.history.get(itemids=made[0]["itemid"],
                                             history=int(made[0]["value_type"])),
                     "a router's load value", timeout=30)
    assert float(loads[-1]["value"]) >= 0.0

    os.chown(agent_socket, -1, 0)
    try:
        check_now()
        row = wait_for(lambda: (found := state())["state"] == "1" and found,
                       "the status item turning unsupported", timeout=30)
    finally:
        os.chown(agent_socket, -1, gid(AGENT_USER))
    assert "permission denied" in row["error"], row["error"]
