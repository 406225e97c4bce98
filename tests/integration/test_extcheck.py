"""linemon as a Zabbix external check: the real server runs ExternalScripts/linemon itself.

Each test runs against the 6.0 lab and the 7.0 lab (Debian 13's server in its chroot). No
agent anywhere: on 6.0 the host has only an SNMP interface (6.0 wants an interface of some
type on a host with external checks and never connects to it for them), on 7.0 none at all.
The server, as its user zabbix, runs the script that the package installs as
/etc/zabbix/externalscripts/linemon: here the client copy of tests/beds/agent_client.py in
the lab's ExternalScripts directory (scripts/zabbix_lab). The broker's socket is group
zabbix (the server's group, by number inside the chroot), mode 0660, in a directory of that
group, as for the agent tests. One more test runs the check in a real 6.0 proxy (the
deployment it is for: a proxy beside the broker) and reads the value in the server.
"""

from __future__ import annotations

import grp
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from zabbix_utils import ZabbixAPI

from tests.beds.agent_client import agent_broker, install_client, install_extcheck
from tests.beds.emulator.client import Emulator
from tests.beds.zabbix_proxy import ZabbixProxy, installed
from tests.functional.broker_proc import BrokerProcess
from tests.integration.lab70 import zabbix70_api, zabbix70_lab
from tests.integration.test_agent_lld import (
    LINES,
    PER_LINE_KEYS,
    ROUTERS,
    check_now_enabled,
    emulator,
    values,
)
from tests.integration.test_templates import import_file, wait_for
from tests.integration.test_zabbix70 import import_70

pytestmark = pytest.mark.zabbix
__all__ = ["emulator", "zabbix70_api", "zabbix70_lab"]  # fixtures, imported for pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = {
    "Template linemon lines by external check": "linemon_lines_external",
    "Template linemon broker health by external check": "linemon_broker_health_external",
}
# the agent template's per-line keys, with the ping as an external check
LINE_KEYS = tuple(k for k in PER_LINE_KEYS if k != "linemon.ping")
RESTART = "restart the Zabbix server or proxy that runs this check"
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
PROXY = ("127.34.3.1", 21081)  # where the test's proxy listens (test_proxies uses 127.34.1.x)
SNMP_INTERFACE = {"type": 2, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "", "port": "161",
                  "details": {"version": 2, "community": "public"}}


@dataclass(frozen=True)
class Server:
    """A lab's Zabbix server that runs external checks, and what a test needs of it."""

    version: str
    api: ZabbixAPI
    reload_config_cache: Callable[[], None]
    trapper: tuple[str, int]
    root: Path  # "/" or the chroot the server runs in
    scripts_dir: Path  # ExternalScripts, as the server sees it
    uid: int  # the server's user and group ids
    gid: int

    def here(self, path: Path) -> Path:
        """``path`` as the server sees it -> as this machine does."""
        return self.root / path.relative_to("/")

    def there(self, path: Path) -> Path:
        """``path`` on this machine (inside the root) -> as the server sees it."""
        return Path("/") / path.relative_to(self.root)

    @property
    def group(self) -> str:
        """This machine's name for the server's group id (the broker's socket_group)."""
        return grp.getgrgid(self.gid).gr_name

    def import_templates(self) -> None:
        for folder in TEMPLATES.values():
            path = REPO / "zabbix_templates" / folder / f"{folder}_{self.version}.yaml"
            done = import_file(self.api, path) if self.version == "6.0" else import_70(
                self.api, path)
            assert done is True, path.name


def _ids(root: Path, name: str) -> tuple[int, int]:
    """The uid and gid of user ``name`` in the passwd file under ``root``."""
    for row in (root / "etc" / "passwd").read_text().splitlines():
        fields = row.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    raise LookupError(name)


def _with_external_scripts(conf: Path, scripts_dir: str) -> None:
    if f"ExternalScripts={scripts_dir}\n" not in conf.read_text():
        pytest.skip(f"the lab's server ({conf}) has no ExternalScripts={scripts_dir}: run "
                    "scripts/zabbix-lab up (or zabbix-lab7 up) from this tree")


@pytest.fixture(scope="module", params=["6.0", "7.0"])
def server(request: pytest.FixtureRequest) -> Server:
    if request.param == "6.0":
        lab = request.getfixturevalue("zabbix_lab")
        scripts = lab.lab_dir / "externalscripts"
        _with_external_scripts(lab.lab_dir / "server" / "zabbix_server.conf", str(scripts))
        return Server("6.0", request.getfixturevalue("zabbix_api"), lab.reload_config_cache,
                      (lab.server, lab.trapper_port), Path("/"), scripts,
                      *_ids(Path("/"), "zabbix"))
    lab70 = request.getfixturevalue("zabbix70_lab")
    root = Path(lab70.env["LINEMON_ZABBIX7_ROOT"])
    scripts = lab70.env.get("LINEMON_ZABBIX_EXTERNALSCRIPTS_DIR", "(none)")
    _with_external_scripts(Path(lab70.env["LINEMON_ZABBIX7_LAB_DIR"]) / "server"
                           / "zabbix_server.conf", scripts)
    return Server("7.0", request.getfixturevalue("zabbix70_api"), lab70.reload_config_cache,
                  (lab70.server, lab70.trapper_port), root, Path(scripts), *_ids(root, "zabbix"))


@pytest.fixture(scope="module")
def socket_path(server: Server) -> Iterator[Path]:
    """`linemon` in the server's ExternalScripts; where the broker must listen (here)."""
    root = Path(tempfile.mkdtemp(prefix="lmx-", dir=server.root / "tmp"))
    _, socket = install_client(root, server.group)
    script = install_extcheck(server.there(root / "lib"), server.there(socket),
                              server.here(server.scripts_dir))
    yield socket
    script.unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def host_name() -> str:
    return f"linemon-ext-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def broker(server: Server, socket_path: Path, emulator: Emulator, host_name: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    process = agent_broker(tmp_path_factory.mktemp("ext-broker"), socket_path, server.group,
                           server.trapper, ROUTERS, LINES, host_name)
    with process as running:
        yield running


def run_as_server(server: Server, *params: str) -> subprocess.CompletedProcess[str]:
    """What the server does for `linemon[p1,p2]`: the script with each parameter one argument,
    as its user, in its root."""
    return subprocess.run([CHROOT, f"--userspec={server.uid}:{server.gid}",
                           f"--groups={server.gid}", str(server.root),
                           str(server.scripts_dir / "linemon"), *params],
                          capture_output=True, text=True, timeout=20, check=False,
                          env={"PATH": "/usr/bin:/bin"})


@dataclass(frozen=True)
class Host:
    hostid: str
    items: dict[str, dict[str, str]]  # key -> row (the templates' items, not discovered ones)


@pytest.fixture(scope="module")
def host(server: Server, broker: BrokerProcess, host_name: str) -> Iterator[Host]:
    """A host with both external-check templates and no agent interface (removed after)."""
    api = server.api
    server.import_templates()
    ids = [row["templateid"] for row in api.template.get(
        filter={"host": list(TEMPLATES)}, output=["templateid"])]
    assert len(ids) == len(TEMPLATES)
    groupid = api.hostgroup.create(name=host_name)["groupids"][0]
    hostid = api.host.create(
        host=host_name, groups=[{"groupid": groupid}],
        interfaces=[SNMP_INTERFACE] if server.version == "6.0" else [],
        templates=[{"templateid": i} for i in ids],
        macros=[{"macro": "{$LINEMON.ROUTER}", "value": "pe1"},
                {"macro": "{$LINEMON.LLD.INTERVAL}", "value": "5s"}],
    )["hostids"][0]
    server.reload_config_cache()
    rows = api.item.get(hostids=hostid, output=["itemid", "key_", "value_type", "type"])
    yield Host(hostid, {row["key_"]: row for row in rows})
    api.host.delete(hostid)
    api.hostgroup.delete(groupid)


def test_the_script_answers_as_the_servers_user(server: Server, socket_path: Path,
                                                broker: BrokerProcess) -> None:
    status = run_as_server(server, "status")
    assert status.returncode == 0, status.stderr
    assert (json.loads(status.stdout)["routers"], json.loads(status.stdout)["lines"]) == (
        len(ROUTERS), len(LINES))
    every = json.loads(run_as_server(server, "discover", "").stdout)
    assert sorted(row["{#LINE.ID}"] for row in every) == sorted(LINES)
    # a macro's value is one argument, and no option, space or shell character passes
    for params, words in ((("discover", "pe1 --socket=/tmp/x"), "invalid router"),
                          (("ping", "$(id)"), "invalid line"), (("sync",), "unknown command")):
        refused = run_as_server(server, *params)
        assert (refused.returncode, refused.stdout) == (2, "")
        assert refused.stderr.startswith(f"linemon: {words} "), refused.stderr
    mode = socket_path.stat()
    assert (mode.st_mode & 0o777, mode.st_gid) == (0o660, server.gid)


def test_status_and_discovery_run_on_the_server(server: Server, host: Host,
                                                emulator: Emulator) -> None:
    api = server.api
    assert host.items["linemon[status]"]["type"] == "10"  # ITEM_TYPE_EXTERNAL
    interfaces = api.hostinterface.get(hostids=host.hostid, output=["type"])
    assert [i["type"] for i in interfaces] == (["2"] if server.version == "6.0" else [])
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
    check_now_enabled(server.reload_config_cache, api, items["linemon[ping,L-A]"])

    def history(key: str) -> list[str]:
        return values(api, items[key])

    assert wait_for(lambda: history("linemon[ping,L-A]"), "the ping item", timeout=30) == ["1"]
    result = json.loads(wait_for(lambda: history("linemon.result[L-A]"), "a result by trapper",
                                 timeout=30)[0])
    assert (result["line"], result["status"], result["loss_pct"]) == ("L-A", "ok", 20.0)
    assert {float(v) for v in wait_for(lambda: history("linemon.loss[L-A]"), "loss")} == {20.0}
    assert "198.51.100.21" in {p["target"] for p in emulator.pings("pe1")}


def _unsupported(api: ZabbixAPI, itemid: str, words: str, rule: bool = False) -> str:
    """Check the item or rule now; its error once it is unsupported with ``words`` in it (an
    error from an earlier test may still be shown until the next check)."""
    getter = api.discoveryrule.get if rule else api.item.get
    api.task.create(type=6, request={"itemid": itemid})

    def failed() -> str:
        row = getter(itemids=itemid, output=["state", "error"])[0]
        return str(row["error"]) if row["state"] == "1" and words in row["error"] else ""

    return str(wait_for(failed, "the item turning unsupported", timeout=30))


def test_a_bad_router_macro_never_reaches_the_broker(server: Server, host: Host) -> None:
    api = server.api
    (discover,) = api.discoveryrule.get(hostids=host.hostid, search={"key_": "linemon[discover"},
                                        output=["itemid"])
    (macro,) = api.usermacro.get(hostids=host.hostid, filter={"macro": "{$LINEMON.ROUTER}"},
                                 output=["hostmacroid"])
    api.usermacro.update(hostmacroid=macro["hostmacroid"], value="pe1' ; id ; '")
    server.reload_config_cache()
    try:
        error = _unsupported(api, discover["itemid"], "linemon: invalid router", rule=True)
    finally:
        api.usermacro.update(hostmacroid=macro["hostmacroid"], value="pe1")
        server.reload_config_cache()
    assert "linemon: invalid router \"pe1' ; id ; '\": a name of" in error, error


def test_a_socket_without_permission_turns_the_items_unsupported_in_the_clients_words(
    server: Server, host: Host, socket_path: Path
) -> None:
    api = server.api
    (discover,) = api.discoveryrule.get(hostids=host.hostid, search={"key_": "linemon[discover"},
                                        output=["itemid"])
    words = (f"linemon: permission denied on {server.there(socket_path)} (group root, mode "
             f"0660): add user zabbix to group root (usermod -aG root zabbix) and {RESTART}")
    os.chown(socket_path, -1, 0)  # a group the server's user is not in
    try:
        status_error = _unsupported(api, host.items["linemon[status]"]["itemid"], words)
        rule_error = _unsupported(api, discover["itemid"], words, rule=True)
    finally:
        os.chown(socket_path, -1, server.gid)
    # 6.0 and 7.0 store the output whatever the exit code: the templates' first preprocessing
    # step throws it ("Preprocessing failed for: <value, cut>\n1. Failed: <words>")
    assert status_error.endswith(words), status_error
    assert rule_error.endswith(words), rule_error
    # the lines found before stay (the rule's lifetime)
    assert int(api.item.get(hostids=host.hostid, search={"key_": "linemon.result["},
                            countOutput=True)) == 2  # L-A's and L-B's


def test_a_proxy_beside_the_broker_runs_the_check_and_the_server_gets_the_value(
    server: Server, host_name: str, socket_path: Path, broker: BrokerProcess,
    tmp_path: Path
) -> None:
    """The deployment the external check is for: the proxy that monitors the host runs
    ExternalScripts/linemon and forwards the value to the server (Debian 12's 6.0 proxy; the
    bed runs it as root, so the socket's group is the server tests' business)."""
    if server.version != "6.0" or installed() is None:
        pytest.skip("a zabbix_proxy (6.0, SQLite3) runs next to the 6.0 lab only")
    api = server.api
    scripts = tmp_path / "externalscripts"
    scripts.mkdir()
    install_extcheck(socket_path.parents[1] / "lib", socket_path, scripts)
    name = f"{host_name}-proxy"
    proxyid = api.proxy.create(host=name, status=5)["proxyids"][0]  # active
    (templateid,) = [row["templateid"] for row in api.template.get(
        filter={"host": "Template linemon broker health by external check"},
        output=["templateid"])]
    groupid = api.hostgroup.create(name=name)["groupids"][0]
    hostid = api.host.create(host=name, groups=[{"groupid": groupid}], proxy_hostid=proxyid,
                             interfaces=[SNMP_INTERFACE],
                             templates=[{"templateid": templateid}])["hostids"][0]
    items = {row["key_"]: row for row in api.item.get(
        hostids=hostid, output=["itemid", "key_", "value_type"])}
    server.reload_config_cache()
    try:
        with ZabbixProxy(name, "{}:{}".format(*server.trapper), *PROXY, tmp_path / "proxy",
                         external_scripts=scripts) as proxy:
            proxy.wait_for_host(name, timeout=30)
            api.task.create(type=6, request={"itemid": items["linemon[status]"]["itemid"]})
            lines = wait_for(lambda: values(api, items["linemon.lines"]),
                             "the lines count from the proxy's linemon[status]", timeout=60)
            assert lines == [str(len(LINES))]
            assert items["linemon[status]"]["itemid"] in proxy.history_itemids()
    finally:
        api.host.delete(hostid)
        api.hostgroup.delete(groupid)
        api.proxy.delete(proxyid)
