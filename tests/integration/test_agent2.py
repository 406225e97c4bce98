"""The shipped zabbix_agent2 drop-in, run by a real Zabbix agent 2 (Debian's zabbix-agent2 6.0).

A private agent 2 (own config, port, pid, log and sockets) runs as user zabbix, as the
package's unit does (agent 2 does not switch users itself), with the shipped
zabbix_templates/agent/linemon_agent2.conf included and only the path of `linemon` replaced
(tests/beds/agent_client.py). `zabbix_get` asks it for every key the drop-in defines, against
a real broker on the router emulator that sends to a local trapper receiver. No Zabbix
server is needed: what the server would ask, zabbix_get asks.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.beds.agent_client import agent_broker, drop_in, gid, install_client, zabbix_get
from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess

AGENT2 = Path("/usr/sbin/zabbix_agent2")
AGENT_USER = "zabbix"
ROUTERS = {"pe1": "127.43.0.1", "pe2": "127.43.0.2"}
LINES = {"L-A": ("pe1", "198.51.100.31"), "L-B": ("pe1", "198.51.100.32"),
         "L-C": ("pe2", "198.51.100.33")}
CONF = """LogType=file
LogFile={dir}/agent2.log
PidFile={dir}/agent2.pid
ControlSocket={dir}/agent2.ctl
PluginSocket={dir}/plugin.sock
ListenIP=127.0.0.1
ListenPort={port}
Server=127.0.0.1
Hostname=linemon-agent2-test
Timeout=10
Include={dir}/zabbix_agent2.d/*.conf
"""

pytestmark = pytest.mark.skipif(
    not AGENT2.exists() or shutil.which("zabbix_get") is None or os.geteuid() != 0,
    reason="needs root, zabbix_agent2 (apt-get install zabbix-agent2) and zabbix_get",
)


def _free_port() -> int:
    """A free port agent 2 accepts (ListenPort must be 1024-32767: no ephemeral port)."""
    for port in range(10070, 10170):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise AssertionError("no free port in 10070-10169")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    root = Path(tempfile.mkdtemp(prefix="linemon-agent2-", dir="/tmp"))
    yield install_client(root, AGENT_USER)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def agent2(client: tuple[Path, Path]) -> Iterator[int]:
    """A running agent 2 with the linemon drop-in; its port."""
    linemon, _ = client
    work = Path(tempfile.mkdtemp(prefix="linemon-a2-", dir="/tmp"))
    (work / "zabbix_agent2.d").mkdir()
    (work / "zabbix_agent2.d" / "linemon.conf").write_text(
        drop_in("linemon_agent2.conf", linemon))
    port = _free_port()
    (work / "agent2.conf").write_text(CONF.format(dir=work, port=port))
    shutil.chown(work, AGENT_USER, AGENT_USER)
    output = work / "stdout.log"
    with output.open("w") as handle:
        proc = subprocess.Popen([str(AGENT2), "-c", str(work / "agent2.conf"), "-f"],
                                user=AGENT_USER, group=AGENT_USER, extra_groups=[AGENT_USER],
                                stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "zabbix_agent2 did not listen"
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    work = tmp_path_factory.mktemp("agent2-emu")
    config = {"time_scale": 0.05, "loss_model": "even",
              "defaults": {"username": "lab", "password": "lab-pw"},
              "routers": {name: {"host": ip, "port": 22, "platform": "cisco_iosxe"}
                          for name, ip in ROUTERS.items()}}
    with Emulator(config, workdir=work) as made:
        yield made


@pytest.fixture(scope="module")
def trapper() -> Iterator[TrapperBed]:
    with TrapperBed() as bed:
        yield bed


@pytest.fixture(scope="module")
def broker(client: tuple[Path, Path], emulator: Emulator, trapper: TrapperBed,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """File-defined lines; the pings seen are the ones the agent queues."""
    process = agent_broker(tmp_path_factory.mktemp("agent2-broker"), client[1], AGENT_USER,
                           ("127.0.0.1", trapper.port), ROUTERS, LINES, "agent2-lines")
    with process as running:
        yield running


def test_agent2_runs_every_key_of_the_drop_in(
    agent2: int, broker: BrokerProcess, emulator: Emulator, trapper: TrapperBed,
    client: tuple[Path, Path]
) -> None:
    _, sock = client
    status = json.loads(zabbix_get(agent2, "linemon.status"))
    assert (status["routers"], status["lines"]) == (len(ROUTERS), len(LINES))
    routers = json.loads(zabbix_get(agent2, "linemon.routers.json"))
    assert sorted(r["name"] for r in routers) == sorted(ROUTERS)
    assert all(r["load"] >= 0 and r["max_sessions"] >= 1 for r in routers)
    every = json.loads(zabbix_get(agent2, "linemon.discovery[]"))
    assert sorted(row["{#LINE.ID}"] for row in every) == sorted(LINES)
    pe1 = json.loads(zabbix_get(agent2, "linemon.discovery[pe1]"))
    assert sorted((r["{#LINE.ID}"], r["{#LINE.KEY}"]) for r in pe1) == [
        ("L-A", "linemon.result[L-A]"), ("L-B", "linemon.result[L-B]")]
    # agent 2 refuses shell metacharacters in parameters before running anything, as agentd
    refused = zabbix_get(agent2, "linemon.discovery[pe1;id]")
    assert refused.startswith("ZBX_NOTSUPPORTED") and "not allowed" in refused, refused

    # linemon.ping queues a ping: the emulator runs it, the result reaches the trapper
    before = len(emulator.pings("pe2"))
    assert zabbix_get(agent2, "linemon.ping[L-C]") == "1"
    values = trapper.wait_for_values(1, timeout=20)
    result = json.loads(values[-1].value)
    assert (values[-1].key, result["line"], result["status"]) == (
        "linemon.result[L-C]", "L-C", "ok")
    assert [p["address"] for p in emulator.pings("pe2")[before:]] == ["198.51.100.33"]
    assert zabbix_get(agent2, "linemon.ping[L-Z]") == "linemon: no line 'L-Z'"

    # Out of the socket's group: agent 2, like agentd 6.0, returns the failing command's
    # words as the value; they name the group to join.
    os.chown(sock, -1, 0)
    try:
        denied = zabbix_get(agent2, "linemon.status")
    finally:
        os.chown(sock, -1, gid(AGENT_USER))
    assert denied == (f"linemon: permission denied on {sock} (group root, mode 0660): add user "
                      "zabbix to group root (usermod -aG root zabbix) and restart the agent")
