"""Every documented client command and option, through the real broker, as the agent calls it.

One broker (on a socket named only in its configuration file, not the default), the router
emulator and a trapper receiver, shared by the module. The client runs as the console script
in a fresh process with the environment a Zabbix agent gives it (PATH and nothing of ours),
plus whatever a case adds. No case may print a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BIN, BrokerProcess, emulator_routers

OK, DEAD = "198.51.100.10", "198.51.100.66"
AGENT_CONFS = Path(__file__).parents[2] / "zabbix_templates" / "agent"
AGENT_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


class Bed:
    def __init__(self, emulator: Emulator, trapper: TrapperBed, broker: BrokerProcess) -> None:
        self.emulator = emulator
        self.trapper = trapper
        self.broker = broker

    def run(
        self, *args: str, env: dict[str, str] | None = None, config: bool = True, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """``linemon ARGS`` as the agent runs it; LINEMON_CONFIG names the broker's file unless
        ``config`` is False."""
        full = {**AGENT_ENV, **({"LINEMON_CONFIG": str(self.broker.config)} if config else {})}
        options: dict[str, Any] = {"capture_output": True, "text": True, "timeout": 60,
                                   "cwd": "/", **kw}
        done = subprocess.run([str(BIN / "linemon"), *args], env={**full, **(env or {})},
                              **options)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def ok(self, *args: str, **kw: Any) -> str:
        done = self.run(*args, **kw)
        assert done.returncode == 0, (args, done.returncode, done.stderr)
        assert done.stderr == "", done.stderr
        return done.stdout

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.ok(*args, **kw))

    def fails(self, code: int, *args: str, **kw: Any) -> str:
        done = self.run(*args, **kw)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        assert done.stdout == "" and done.stderr.startswith(("linemon", "usage:")), done.stderr
        return done.stderr

    def last_ping(self, router: str = "pe1") -> dict[str, Any]:
        return self.emulator.pings(router)[-1]


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    work = tmp_path_factory.mktemp("client")
    fleet = {
        "time_scale": 0.05,
        "loss_model": "even",
        "defaults": {"username": "lab", "password": "lab-pw", "max_sessions": 3},
        "routers": {
            name: {"host": f"127.6.0.{i}", "port": 0, "platform": "cisco_iosxe",
                   "targets": {OK: {"loss": 0.0, "rtt_ms": 4.0}, DEAD: {"loss": 1.0}}}
            for i, name in enumerate(("pe1", "pe2"), start=1)
        },
    }
    secret = work / "pw"
    secret.write_text("lab-pw\n")
    os.chmod(secret, 0o600)
    (work / "emu").mkdir()
    with Emulator(fleet, workdir=work / "emu") as emulator, TrapperBed() as trapper:
        doc = {
            "broker": {"socket": str(work / "not-the-default.sock"),
                       "host_key_policy": "strict", "known_hosts": str(emulator.known_hosts)},
            "zabbix": {"server": "127.0.0.1", "port": trapper.port, "flush_interval": 0.2},
            "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
            "routers": emulator_routers(emulator, ["pe1", "pe2"]),
            "lines": [
                {"id": "cust-1", "router": "pe1", "target": OK, "vrf": "CUST1", "count": 3,
                 "interval": 3600},
                {"id": "cust-2", "router": "pe2", "target": OK, "count": 2, "interval": 3600,
                 "zabbix_host": "line-2", "zabbix_key": "linemon.result[cust-2]"},
            ],
        }
        broker = BrokerProcess(work, doc)
        broker.socket = work / "not-the-default.sock"  # where start() waits for it
        with broker:
            yield Bed(emulator, trapper, broker)


# -- the agent's own UserParameters ------------------------------------------------------


def _user_parameters(conf: Path) -> dict[str, str]:
    found = {}
    for line in conf.read_text().splitlines():
        if line.startswith("UserParameter="):
            key, _, command = line[len("UserParameter="):].partition(",")
            found[key] = command.replace("/usr/bin/linemon", str(BIN / "linemon"))
    return found


@pytest.mark.parametrize("conf", ["linemon_agentd.conf", "linemon_agent2.conf"])
def test_the_agents_user_parameters(bed: Bed, conf: str) -> None:
    """Each UserParameter command line as the agent runs it (sh -c, $1 filled in)."""
    params = _user_parameters(AGENT_CONFS / conf)
    assert set(params) == {"linemon.discovery[*]", "linemon.ping[*]", "linemon.status",
                           "linemon.routers.json"}

    def agent(key: str, *values: str) -> str:
        command = params[key]
        for index, value in enumerate(values, start=1):
            command = command.replace(f"${index}", value)
        command = re.sub(r"\$\d", "", command)
        return _sh(bed, command)

    everything = json.loads(agent("linemon.discovery[*]"))
    assert {row["{#LINE.ID}"] for row in everything} == {"cust-1", "cust-2"}
    only = json.loads(agent("linemon.discovery[*]", "pe2"))
    assert [row["{#LINE.ID}"] for row in only] == ["cust-2"]
    assert only[0]["{#LINE.KEY}"] == "linemon.result[cust-2]"
    assert agent("linemon.ping[*]", "cust-1").strip() == "1"
    assert json.loads(agent("linemon.status"))["routers"] == 2
    routers = json.loads(agent("linemon.routers.json"))
    assert sorted(r["name"] for r in routers) == ["pe1", "pe2"] and "load" in routers[0]


def _sh(bed: Bed, command: str) -> str:
    env = {**AGENT_ENV, "LINEMON_CONFIG": str(bed.broker.config)}
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, env=env,
                          timeout=60, cwd="/")
    assert done.returncode == 0 and done.stderr == "", (command, done.stderr)
    return done.stdout


# -- ping ----------------------------------------------------------------------------------


def test_ping_queues_and_prints_1(bed: Bed) -> None:
    before = len(bed.emulator.pings("pe1"))
    assert bed.ok("ping", "pe1", OK) == "1\n"
    deadline = time.monotonic() + 10
    while len(bed.emulator.pings("pe1")) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bed.last_ping()["target"] == OK


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--count", "3"], {"count": 3}),
        (["-c", "4"], {"count": 4}),
        (["--size", "120"], {"size": 120}),
        (["-s", "200"], {"size": 200}),
        (["--timeout", "1"], {"timeout": 1}),  # issue 12: it collided with the client's own
        (["-t", "3"], {"timeout": 3}),
        (["--vrf", "CUST9"], {"vrf": "CUST9"}),
        (["--source", "192.0.2.1"], {"source": "192.0.2.1"}),
        (["--source-interface", "Loopback0"], {"interface": "Loopback0"}),
        (["--count", "2", "--size", "100", "--timeout", "2", "--vrf", "V2",
          "--source", "192.0.2.9"],
         {"count": 2, "size": 100, "timeout": 2, "vrf": "V2", "source": "192.0.2.9"}),
    ],
)
def test_every_ping_option_reaches_the_router(
    bed: Bed, flags: list[str], expected: dict[str, Any]
) -> None:
    result = bed.json("ping", "pe1", OK, *flags, "--wait")
    assert result["status"] == "ok" and result["target"] == OK, result
    assert result["sent"] == expected.get("count", 5)
    seen = bed.last_ping()
    assert {key: seen[key] for key in expected} == expected, seen


def test_ping_sends_to_zabbix_host_and_key(bed: Bed) -> None:
    result = bed.json("ping", "pe2", OK, "--count", "2", "--zabbix-host", "adhoc-host",
                      "--zabbix-key", "linemon.result[adhoc]", "--wait")
    assert result["sent"] == 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sent = [v for v in bed.trapper.values() if v.host == "adhoc-host"]
        if sent:
            break
        time.sleep(0.1)
    assert [(v.key, json.loads(v.value)["sent"]) for v in sent] == [("linemon.result[adhoc]", 2)]
    # --zabbix-key alone keeps the default host rule (no host: not sent), --zabbix-host alone
    # the default key
    bed.json("ping", "pe2", OK, "--count", "1", "--zabbix-host", "adhoc-2", "--wait")
    deadline = time.monotonic() + 10
    while not [v for v in bed.trapper.values() if v.host == "adhoc-2"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert [v.key for v in bed.trapper.values() if v.host == "adhoc-2"] == ["linemon.result"]


def test_ping_a_configured_line(bed: Bed) -> None:
    assert bed.ok("ping", "--line", "cust-1") == "1\n"
    result = bed.json("ping", "--line", "cust-1", "--wait")
    assert (result["line"], result["sent"], result["status"]) == ("cust-1", 3, "ok")
    assert bed.last_ping()["vrf"] == "CUST1"


# -- the read-only commands ---------------------------------------------------------------


def test_discover(bed: Bed) -> None:
    rows = bed.json("discover")
    assert {r["{#LINE.ID}"]: r["{#LINE.ROUTER}"] for r in rows} == {"cust-1": "pe1",
                                                                     "cust-2": "pe2"}
    assert set(rows[0]) == {"{#LINE.ID}", "{#LINE.TARGET}", "{#LINE.ROUTER}", "{#LINE.VRF}",
                            "{#LINE.INTERVAL}", "{#LINE.HOST}", "{#LINE.KEY}"}
    assert [r["{#LINE.ID}"] for r in bed.json("discover", "--router", "pe1")] == ["cust-1"]
    assert bed.json("discover", "--router", "nope") == []


def test_status_routers_lines_result(bed: Bed) -> None:
    status = bed.json("status", "--json")
    assert status["routers"] == 2 and status["lines"] == 2
    text = bed.ok("status")
    assert re.search(r"^routers: 2$", text, re.M) and re.search(r"^lines: 2$", text, re.M)

    routers = bed.json("routers", "--json")
    assert sorted(r["name"] for r in routers) == ["pe1", "pe2"]
    table = bed.ok("routers").splitlines()
    assert table[0].split()[:3] == ["NAME", "HOST", "PLATFORM"] and len(table) == 3

    assert sorted(r["id"] for r in bed.json("lines", "--json")) == ["cust-1", "cust-2"]
    assert [r["id"] for r in bed.json("lines", "--router", "pe2", "--json")] == ["cust-2"]
    table = bed.ok("lines", "--router", "pe1").splitlines()
    assert table[0].split()[:3] == ["ID", "ROUTER", "TARGET"] and table[1].startswith("cust-1")
    assert len(bed.ok("lines").splitlines()) == 3

    bed.json("ping", "--line", "cust-2", "--wait")
    deadline = time.monotonic() + 15
    while (last := bed.json("result", "cust-2")) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert last is not None and last["status"] == "ok", last


def test_reload_and_sync(bed: Bed) -> None:
    summary = bed.json("reload")
    assert isinstance(summary, dict)
    assert bed.json("lines", "--json")  # still serving, same lines
    # no [zabbix_api] here: sync answers "not configured" (the sync itself is in tests/integration)
    assert "no Zabbix API sync is configured" in bed.fails(4, "sync")


# -- the client's own options -------------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_socket_config_and_call_timeout_before_or_after(bed: Bed, where: str) -> None:
    socket = str(bed.broker.socket)
    config = str(bed.broker.config)
    for own in (["--socket", socket], [f"--socket={socket}"], ["--config", config],
                [f"--config={config}"], ["--call-timeout", "9"], ["--call-timeout=9"],
                ["--socket", socket, "--call-timeout", "9", "--config", config]):
        args = [*own, "status", "--json"] if where == "before" else ["status", "--json", *own]
        needs_config = "--socket" not in " ".join(own) and "--config" not in " ".join(own)
        assert bed.json(*args, config=needs_config)["routers"] == 2, args
    ping = ["ping", "pe1", OK, "--timeout", "1", "--count", "1", "--wait"]
    own = ["--socket", socket, "--call-timeout", "30"]
    args = [*own, *ping] if where == "before" else [*ping, *own]
    assert bed.json(*args, config=False)["sent"] == 1


def test_where_the_socket_comes_from(bed: Bed) -> None:
    socket = str(bed.broker.socket)
    # the configuration names the socket ([broker] socket): no --socket needed
    assert bed.json("status", "--json")["routers"] == 2
    # $LINEMON_SOCKET beats the configuration; --socket beats both
    wrong = str(bed.broker.workdir / "wrong.sock")
    assert bed.json("status", "--json", env={"LINEMON_SOCKET": socket}, config=False)
    assert "wrong.sock (from $LINEMON_SOCKET)" in bed.fails(
        69, "status", env={"LINEMON_SOCKET": wrong})
    assert bed.json("--socket", socket, "status", "--json", env={"LINEMON_SOCKET": wrong})
    # no socket and no configuration named: the default file's (an installed package's, on
    # a shared machine), else the built-in default; either way named. (A broker of the
    # package may even be listening there: then the call simply works.)
    done = bed.run("status", config=False, env={"LINEMON_CONFIG": ""})
    if done.returncode != 0:
        assert done.returncode == 69, done.stderr
        assert re.search(r"/run/linemon/broker\.sock \(from (the default|\[broker\] socket "
                         r"in /etc/linemon/linemon\.toml)", done.stderr), done.stderr
    # a named configuration that is missing or broken is a configuration error
    assert "configuration file not found" in bed.fails(
        78, "--config", "/nonexistent/linemon.toml", "status")
    broken = bed.broker.workdir / "broken.toml"
    broken.write_text("[broker\n")
    assert "not valid TOML" in bed.fails(78, "status", env={"LINEMON_CONFIG": str(broken)})


def test_call_timeout_bounds_the_wait(bed: Bed) -> None:
    started = time.monotonic()
    message = bed.fails(7, "ping", "pe1", DEAD, "--count", "20", "--timeout", "2", "--wait",
                        "--call-timeout", "0.3")
    assert "did not answer within 0.3 s" in message
    assert time.monotonic() - started < 10


# -- errors and exits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "args", "needle"),
    [
        (4, ["ping", "nope", OK], "no router 'nope'"),
        (4, ["ping", "--line", "nope"], "no line 'nope'"),
        (4, ["result", "nope"], "no line 'nope'"),
        (2, ["ping", "pe1", "198.51.100.1;reload"], "invalid target"),
        (2, ["ping", "pe1", OK, "--count", "many"], "count"),
        (2, ["ping", "pe1", OK, "--timeout", "0"], "timeout"),
        (2, ["ping", "pe1"], "give ROUTER TARGET, or --line ID"),
        (2, ["ping", "pe1", OK, "--line", "cust-1"], "not both"),
        (2, ["status", "--frobnicate"], "unrecognized arguments"),
        (2, ["result"], "required: LINE"),
        (2, ["status", "--call-timeout", "-1"], "--call-timeout"),
        (2, ["--socket"], "--socket: expected one argument"),
        (2, ["--socket", "/x"], "required: COMMAND"),
        (69, ["--socket", "/", "status"], "/ (from --socket) is not a socket"),
    ],
)
def test_errors_are_words_and_exit_codes(
    bed: Bed, code: int, args: list[str], needle: str
) -> None:
    assert needle in bed.fails(code, *args)


def test_every_command_has_help(bed: Bed) -> None:
    for command in ("ping", "discover", "status", "routers", "lines", "result", "sync",
                    "reload"):
        text = bed.ok(command, "--help")
        for flag in ("--socket PATH", "--config FILE", "--call-timeout SECONDS"):
            assert flag in text, (command, flag)
    top = bed.ok("--help")
    assert "--socket PATH" in top and "--call-timeout SECONDS" in top
    assert "seconds" in bed.ok("ping", "--help")


def test_a_closed_stdout_ends_quietly(bed: Bed) -> None:
    read, write = os.pipe()
    os.close(read)  # nobody will ever read: the first write fails with EPIPE
    try:
        for args in (["status"], ["lines", "--json"], ["ping", "--help"]):
            done = bed.run(*args, stdout=write, stderr=subprocess.PIPE, capture_output=False)
            assert done.returncode == 141 and done.stderr == "", (args, done.stderr)
    finally:
        os.close(write)
    shell = subprocess.run(
        ["/bin/sh", "-c", f"{BIN / 'linemon'} lines | head -1"], capture_output=True, text=True,
        env={**AGENT_ENV, "LINEMON_CONFIG": str(bed.broker.config)}, timeout=60,
    )
    assert shell.stdout.startswith("ID") and shell.stderr == ""


def test_broker_not_running(bed: Bed, tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    config.write_text(f'[broker]\nsocket = "{tmp_path}/down.sock"\n')
    message = bed.fails(69, "--config", str(config), "status")
    assert f"[broker] socket in {config}" in message and "is the broker running" in message
