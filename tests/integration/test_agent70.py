"""Lines by agent LLD through a real Zabbix 7.0 agent (the 7.0 lab's zabbix_agentd, chroot).

As test_agent_lld.py does on 6.0: the shipped drop-in (only the path of `linemon` replaced)
in the 7.0 lab's agent, a stdlib-only copy of the client inside the chroot (run by the
chroot's python3, as user zabbix), the broker on the host with its socket in a directory of
the chroot's ``zabbix`` group, mode 0750 (the socket 0660). Then the 7.0 server discovers the
lines through that agent with the 7.0 LLD template, and a queued ping's result comes back to
the discovered trapper item.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from zabbix_utils import ZabbixAPI

from tests.beds.agent_client import agent_broker, chroot_gid, drop_in, install_client, zabbix_get
from tests.beds.emulator.client import Emulator
from tests.integration.lab70 import LAB7_SCRIPT, Lab70, zabbix70_api, zabbix70_lab
from tests.integration.loop import line_emulator, until
from tests.integration.test_agent_lld import PER_LINE_KEYS
from tests.integration.test_templates import TEMPLATES
from tests.integration.test_zabbix70 import import_70

__all__ = ["zabbix70_api", "zabbix70_lab"]  # fixtures, imported so that pytest finds them
pytestmark = pytest.mark.zabbix
LLD_NAME = "Template linemon lines by agent LLD"
ROUTER_IP = "127.37.0.1"
LINES = {"L-70A": ("pe", "198.51.100.101"), "L-70B": ("pe", "198.51.100.102")}


def _restart_agent() -> None:
    subprocess.run([str(LAB7_SCRIPT), "restart-agent"], check=True, capture_output=True,
                   timeout=120)


@pytest.fixture(scope="module")
def agent70(zabbix70_lab: Lab70) -> Iterator[tuple[Path, int, int]]:
    """(socket path on the host, the chroot's zabbix gid, the agent's port)."""
    chroot = Path(zabbix70_lab.env["LINEMON_ZABBIX7_ROOT"])
    root = Path(tempfile.mkdtemp(prefix="linemon-agent70-", dir=chroot / "tmp"))
    linemon, socket = install_client(root, "zabbix", chroot=chroot)
    include = Path(zabbix70_lab.env["LINEMON_ZABBIX_AGENT_INCLUDE_DIR"])
    conf = include / "linemon.conf"
    conf.write_text(drop_in("linemon_agentd.conf", Path("/") / linemon.relative_to(chroot)))
    _restart_agent()
    yield socket, chroot_gid(chroot, "zabbix"), int(zabbix70_lab.env["LINEMON_ZABBIX_AGENT_PORT"])
    conf.unlink(missing_ok=True)
    _restart_agent()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def emulator70(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with line_emulator(tmp_path_factory.mktemp("agent70-emu"), ROUTER_IP,
                       [target for _, target in LINES.values()], loss=0.2) as made:
        yield made


def test_lld_through_the_70_agent(
    zabbix70_lab: Lab70, zabbix70_api: ZabbixAPI, agent70: tuple[Path, int, int],
    emulator70: Emulator, tmp_path: Path,
) -> None:
    api, (socket, zabbix_gid, port) = zabbix70_api, agent70
    host = f"linemon-lld70-{uuid.uuid4().hex[:8]}"
    broker = agent_broker(tmp_path, socket, "", (zabbix70_lab.server, zabbix70_lab.trapper_port),
                          {"pe": ROUTER_IP}, LINES, host)
    with broker:
        # the chroot's zabbix group (another gid than the host's): what a package would set
        os.chown(socket, -1, zabbix_gid)
        _check_agent(port, host)
        _check_discovery(zabbix70_lab, api, host, port)


def _check_agent(port: int, host: str) -> None:
    status = json.loads(zabbix_get(port, "linemon.status"))
    assert (status["routers"], status["lines"]) == (1, len(LINES))
    found = json.loads(zabbix_get(port, "linemon.discovery[pe]"))
    assert sorted((r["{#LINE.ID}"], r["{#LINE.HOST}"]) for r in found) == [
        (line, host) for line in sorted(LINES)]


def _check_discovery(lab: Lab70, api: ZabbixAPI, host: str, port: int) -> None:
    path = TEMPLATES / "linemon_lines_agent_lld" / "linemon_lines_agent_lld_7.0.yaml"
    assert import_70(api, path) is True
    templateid = api.template.get(filter={"host": LLD_NAME}, output=["templateid"])[0][
        "templateid"]
    groupid = api.hostgroup.create(name=host)["groupids"][0]
    hostid = api.host.create(
        host=host, groups=[{"groupid": groupid}],
        interfaces=[{"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "",
                     "port": str(port)}],
        templates=[{"templateid": templateid}],
        macros=[{"macro": "{$LINEMON.ROUTER}", "value": "pe"},
                {"macro": "{$LINEMON.LLD.INTERVAL}", "value": "5s"}])["hostids"][0]
    try:
        lab.reload_config_cache()
        wanted = {f"{key}[{line}]" for key in PER_LINE_KEYS for line in LINES}

        def discovered() -> dict[str, dict[str, str]]:
            rows = api.item.get(hostids=hostid, filter={"flags": 4},
                                output=["itemid", "key_", "value_type"])
            return {row["key_"]: row for row in rows}

        items = until(lambda: (found := discovered()) and set(found) == wanted and found, 60,
                      "the lines' items discovered through the 7.0 agent")
        rule = api.discoveryrule.get(hostids=hostid, output=["state", "error"])[0]
        assert (rule["state"], rule["error"]) == ("0", "")
        lab.reload_config_cache()  # the discovered trapper items, before values come
        # the agent item that queues a ping (the disabled prototype's key), asked directly
        assert zabbix_get(port, "linemon.ping[L-70A]") == "1"
        item = items["linemon.result[L-70A]"]
        rows = until(lambda: api.history.get(itemids=item["itemid"], history=4), 30,
                     "the queued ping's result in the discovered trapper item")
        assert json.loads(rows[0]["value"])["line"] == "L-70A"
    finally:
        api.host.delete([hostid])
        api.hostgroup.delete([groupid])
