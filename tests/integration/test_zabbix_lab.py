"""The Zabbix lab itself: a 6.0 API, a trapper that stores what it accepts, a working agent."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from zabbix_utils import Getter, ItemValue, Sender, ZabbixAPI
from zabbix_utils.types import TrapperResponse

from tests.integration.conftest import LAB_SCRIPT, ZabbixLab

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


# Starts the frontend of a second lab (own directory and web port, the running lab's database)
# with start_web, then stops it; prints start_web's error and exits 1 when it fails.
_START_WEB = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import daemons, procs
from settings import Lab, LabError
root, web_port, pg_port, server_port = Path(sys.argv[2]), *map(int, sys.argv[3:6])
lab = Lab(root, pg_port, server_port, 0, web_port, root / "include")
try:
    daemons.start_web(lab)
    print("up", daemons.api_version(lab))
except LabError as exc:
    print(exc)
    sys.exit(1)
finally:
    if (pid := daemons.web_pid(lab)) is not None:
        procs.stop(pid, "php", group=True)
"""


@pytest.fixture
def www_tmp() -> Iterator[Path]:
    """A scratch directory www-data can use (pytest's tmp_path is root's alone)."""
    with tempfile.TemporaryDirectory(prefix="linemon-lab-web-") as name:
        Path(name).chmod(0o777)
        yield Path(name)


def _start_web_with(
    php_wrapper: str, zabbix_lab: ZabbixLab, tmp: Path
) -> subprocess.CompletedProcess[str]:
    """Run start_web for a second lab whose `php` on PATH is `php_wrapper` (a shell script)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "php").write_text(php_wrapper.replace("MARK", str(tmp / "mark")))
    (bin_dir / "php").chmod(0o755)
    ports = json.loads((zabbix_lab.lab_dir / "lab.json").read_text())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        web_port = sock.getsockname()[1]
    return subprocess.run(
        [sys.executable, "-c", _START_WEB, str(LAB_SCRIPT.parent / "zabbix_lab"), str(tmp / "lab"),
         str(web_port), ports["pg_port"], ports["server_port"]],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin"},
    )


def test_a_frontend_killed_while_starting_is_started_again(
    zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, www_tmp: Path
) -> None:
    killed_once = '#!/bin/sh\n[ -e MARK ] || { touch MARK; kill -9 $$; }\nexec /usr/bin/php "$@"\n'

    done = _start_web_with(killed_once, zabbix_lab, www_tmp)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "zabbix-lab: the PHP frontend was killed by SIGKILL while starting; starting it again",
        f"up {zabbix_api.apiinfo.version()}",
    ]


def test_a_frontend_that_cannot_run_says_how_both_attempts_ended(
    zabbix_lab: ZabbixLab, www_tmp: Path
) -> None:
    broken = "#!/bin/sh\necho 'php: broken on purpose'\nexit 3\n"

    done = _start_web_with(broken, zabbix_lab, www_tmp)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "did not come up (its process died)" in done.stdout
    assert "php: broken on purpose" in done.stdout  # the log's tail
    assert "It died twice: first it exited with code 3, then it exited with code 3." in done.stdout
