"""linemon as a Zabbix external check: the real 6.0 server runs ExternalScripts/linemon itself.

No agent anywhere: the host has only an SNMP interface (Zabbix 6.0 wants an interface of some
type on a host with external checks; it never connects to it for them, and 7.0 wants none).
The server, as user zabbix, runs the script that the package installs as
/etc/zabbix/externalscripts/linemon: here the client copy of tests/beds/agent_client.py in
the lab's ExternalScripts directory (scripts/zabbix_lab). The broker's socket is group
`zabbix`, mode 0660, in a directory of that group, as for the agent tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from zabbix_utils import ZabbixAPI

from tests.beds.agent_client import agent_broker, gid, install_client, install_extcheck
from tests.beds.emulator.client import Emulator
from tests.functional.broker_proc import BrokerProcess
from tests.integration.conftest import ZabbixLab
from tests.integration.test_agent_lld import (
    LINES,
    PER_LINE_KEYS,
    ROUTERS,
    check_now_enabled,
    values,
)
from tests.integration.test_agent_lld import emulator as emulator  # the same fleet
from tests.integration.test_templates import import_file, wait_for

pytestmark = pytest.mark.zabbix

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = {
    "Template linemon lines by external check": "linemon_lines_external",
    "Template linemon broker health by external check": "linemon_broker_health_external",
}
SERVER_USER = "zabbix"
# the agent template's per-line keys, with the ping as an external check
LINE_KEYS = tuple(k for k in PER_LINE_KEYS if k != "linemon.ping")
RESTART = "restart the Zabbix server or proxy that runs this check"


@pytest.fixture(scope="module")
def scripts_dir(zabbix_lab: ZabbixLab) -> Path:
    """The running server's ExternalScripts directory; skips when the lab has none."""
    where = zabbix_lab.lab_dir / "externalscripts"
    conf = (zabbix_lab.lab_dir / "server" / "zabbix_server.conf").read_text()
    if f"ExternalScripts={where}\n" not in conf or not where.is_dir():
        pytest.skip("the lab's server has no ExternalScripts directory: run "
                    "scripts/zabbix-lab up from this tree")
    return where


@pytest.fixture(scope="module")
def socket_path(scripts_dir: Path) -> Iterator[Path]:
    """`linemon` in the server's ExternalScripts; the path where the broker must listen."""
    root = Path(tempfile.mkdtemp(prefix="linemon-extcheck-", dir="/tmp"))
    _, socket = install_client(root, SERVER_USER)
    script = install_extcheck(root, socket, scripts_dir)
    yield socket
    script.unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def host_name() -> str:
    return f"linemon-ext-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def broker(zabbix_lab: ZabbixLab, socket_path: Path, emulator: Emulator, host_name: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    process = agent_broker(tmp_path_factory.mktemp("ext-broker"), socket_path, SERVER_USER,
                           (zabbix_lab.server, zabbix_lab.trapper_port), ROUTERS, LINES,
                           host_name)
    with process as running:
        yield running


def run_as_server(scripts_dir: Path, *params: str) -> subprocess.CompletedProcess[str]:
    """What the server does for `linemon[p1,p2]`: the script with each parameter one argument,
    as user zabbix."""
    return subprocess.run([str(scripts_dir / "linemon"), *params], capture_output=True,
                          text=True, timeout=20, check=False, env={"PATH": "/usr/bin:/bin"},
                          user=SERVER_USER, group=SERVER_USER, extra_groups=[], cwd="/")


@dataclass(frozen=True)
class Host:
    hostid: str
    items: dict[str, dict[str, str]]  # key -> row (the templates' items, not discovered ones)


@pytest.fixture(scope="module")
def host(zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, broker: BrokerProcess,
         host_name: str) -> Iterator[Host]:
    """A host with both external-check templates and no agent interface (removed after)."""
    api = zabbix_api
    for folder in TEMPLATES.values():
        assert import_file(api, REPO / "zabbix_templates" / folder / f"{folder}_6.0.yaml")
    ids = [row["templateid"] for row in api.template.get(
        filter={"host": list(TEMPLATES)}, output=["templateid"])]
    assert len(ids) == len(TEMPLATES)
    groupid = api.hostgroup.create(name=host_name)["groupids"][0]
    hostid = api.host.create(
        host=host_name, groups=[{"groupid": groupid}],
        interfaces=[{"type": 2, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "",
                     "port": "161", "details": {"version": 2, "community": "public"}}],
        templates=[{"templateid": i} for i in ids],
        macros=[{"macro": "{$LINEMON.ROUTER}", "value": "pe1"},
                {"macro": "{$LINEMON.LLD.INTERVAL}", "value": "5s"}],
    )["hostids"][0]
    zabbix_lab.reload_config_cache()
    rows = api.item.get(hostids=hostid, output=["itemid", "key_", "value_type", "type"])
    yield Host(hostid, {row["key_"]: row for row in rows})
    api.host.delete(hostid)
    api.hostgroup.delete(groupid)


def test_the_script_answers_as_the_servers_user(scripts_dir: Path, socket_path: Path,
                                                broker: BrokerProcess) -> None:
    status = run_as_server(scripts_dir, "status")
    assert status.returncode == 0, status.stderr
    assert (json.loads(status.stdout)["routers"], json.loads(status.stdout)["lines"]) == (
        len(ROUTERS), len(LINES))
    every = json.loads(run_as_server(scripts_dir, "discover", "").stdout)
    assert sorted(row["{#LINE.ID}"] for row in every) == sorted(LINES)
    # a macro's value is one argument, and no option, space or shell character passes
    for params, words in ((("discover", "pe1 --socket=/tmp/x"), "invalid router"),
                          (("ping", "$(id)"), "invalid line"), (("sync",), "unknown command")):
        refused = run_as_server(scripts_dir, *params)
        assert (refused.returncode, refused.stdout) == (2, "")
        assert refused.stderr.startswith(f"linemon: {words} "), refused.stderr
    mode = socket_path.stat()
    assert (mode.st_mode & 0o777, mode.st_gid) == (0o660, gid(SERVER_USER))


def test_status_and_discovery_run_on_the_server(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, host: Host, emulator: Emulator
) -> None:
    api = zabbix_api
    assert host.items["linemon[status]"]["type"] == "10"  # ITEM_TYPE_EXTERNAL
    assert not api.hostinterface.get(hostids=host.hostid, filter={"type": 1})  # no agent
    status, lines = host.items["linemon[status]"], host.items["linemon.lines"]
    api.task.create(type=6, request={"itemid": status["itemid"]})
    value = wait_for(lambda: api.history.get(itemids=lines["itemid"],
                                             history=int(lines["value_type"])),
                     "the lines count from linemon[status]", timeout=30)
    assert [row["value"] for row in value] == [str(len(LINES))]

    def discovered() -> dict[str, dict[str, str]]:
        rows = api.item.get(hostids=host.hostid, filter={"flags": 4},
                            output=["itemid", "key_", "status", "value_type"])
        return {row["key_"]: row for row in rows}

    wanted = {f"{key}[{line}]" for key in LINE_KEYS for line in ("L-A", "L-B")}
    wanted |= {f"linemon[ping,{line}]" for line in ("L-A", "L-B")}
    wanted |= {f"{key}[{router}]" for key in ("linemon.router.load",
                                               "linemon.router.sessions_needed",
                                               "linemon.router.skipped") for router in ROUTERS}
    (rule,) = api.discoveryrule.get(hostids=host.hostid, search={"key_": "linemon[discover"},
                                    output=["itemid"])
    api.task.create(type=6, request={"itemid": host.items["linemon[routers]"]["itemid"]})
    items = wait_for(lambda: (found := discovered()) and set(found) == wanted and found,
                     "pe1's lines and the routers discovered", timeout=60)
    rules = api.discoveryrule.get(itemids=rule["itemid"], output=["key_", "state", "error"])
    assert [(r["key_"], r["state"], r["error"]) for r in rules] == [
        ("linemon[discover,{$LINEMON.ROUTER}]", "0", "")]
    assert items["linemon[ping,L-A]"]["status"] == "1"  # the prototype is disabled

    # The external check that queues a ping, enabled and checked now: the broker pings and
    # sends the result to the discovered trapper item, and on to its dependent items.
    check_now_enabled(zabbix_lab, api, items["linemon[ping,L-A]"])

    def history(key: str) -> list[str]:
        return values(api, items[key])

    assert wait_for(lambda: history("linemon[ping,L-A]"), "the ping item", timeout=30) == ["1"]
    result = json.loads(wait_for(lambda: history("linemon.result[L-A]"), "a result by trapper",
                                 timeout=30)[0])
    assert (result["line"], result["status"], result["loss_pct"]) == ("L-A", "ok", 20.0)
    assert {float(v) for v in wait_for(lambda: history("linemon.loss[L-A]"), "loss")} == {20.0}
    assert "198.51.100.21" in {p["target"] for p in emulator.pings("pe1")}


def _unsupported(api: ZabbixAPI, itemid: str, rule: bool = False) -> str:
    """Check the item or rule now; its error once it has turned unsupported (6.0: "Preprocessing
    failed for: <value, cut>\n1. Failed: <what the first step threw>")."""
    getter = api.discoveryrule.get if rule else api.item.get
    api.task.create(type=6, request={"itemid": itemid})

    def failed() -> str:
        row = getter(itemids=itemid, output=["state", "error"])[0]
        return str(row["error"]) if row["state"] == "1" else ""

    return str(wait_for(failed, "the item turning unsupported", timeout=30))


def test_a_bad_router_macro_never_reaches_the_broker(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, host: Host
) -> None:
    api = zabbix_api
    (discover,) = api.discoveryrule.get(hostids=host.hostid, search={"key_": "linemon[discover"},
                                        output=["itemid"])
    (macro,) = api.usermacro.get(hostids=host.hostid, filter={"macro": "{$LINEMON.ROUTER}"},
                                 output=["hostmacroid"])
    api.usermacro.update(hostmacroid=macro["hostmacroid"], value="pe1' ; id ; '")
    zabbix_lab.reload_config_cache()
    try:
        error = _unsupported(api, discover["itemid"], rule=True)
    finally:
        api.usermacro.update(hostmacroid=macro["hostmacroid"], value="pe1")
        zabbix_lab.reload_config_cache()
    assert "1. Failed: linemon: invalid router \"pe1' ; id ; '\": a name of" in error, error


def test_a_socket_without_permission_turns_the_items_unsupported_in_the_clients_words(
    zabbix_api: ZabbixAPI, host: Host, socket_path: Path
) -> None:
    api = zabbix_api
    (discover,) = api.discoveryrule.get(hostids=host.hostid, search={"key_": "linemon[discover"},
                                        output=["itemid"])
    os.chown(socket_path, -1, 0)  # a group the server's user is not in
    try:
        status_error = _unsupported(api, host.items["linemon[status]"]["itemid"])
        rule_error = _unsupported(api, discover["itemid"], rule=True)
    finally:
        os.chown(socket_path, -1, gid(SERVER_USER))
    words = (f"linemon: permission denied on {socket_path} (group root, mode 0660): add user "
             f"zabbix to group root (usermod -aG root zabbix) and {RESTART}")
    # 6.0 stores the output whatever the exit code: the templates' first preprocessing step
    # throws it, so the error ends with the client's words in full
    assert status_error.endswith(f"1. Failed: {words}"), status_error
    assert rule_error.endswith(f"1. Failed: {words}"), rule_error
    # the lines found before stay (the rule's lifetime)
    assert int(api.item.get(hostids=host.hostid, search={"key_": "linemon.result["},
                            countOutput=True)) == 2  # L-A's and L-B's
