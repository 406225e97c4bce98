"""The .deb on a clean Debian 12 root with Debian's own Zabbix agents and their shipped configs.

For each install order (linemon then the agents, the agents then linemon): the linemon keys
answer `zabbix_agentd -t` and `zabbix_agent2 -t` run as user zabbix (so the group membership is
exercised) through a broker started as its unit would; then remove leaves the agents working
without the keys, and purge leaves nothing. See clean_root.py for the root itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.package import clean_root
from tests.package.debtest import (
    broker_argv,
    opt_in,
    runtime_dir_argv,
    stop,
    unit_settings,
)

pytestmark = opt_in("debootstraps and mounts a Debian 12 root")

PACKAGE = "linemon-agent"
AGENTD = ("zabbix_agentd",)
AGENT2 = ("zabbix_agent2",)
DEBIAN_AGENTD_LINK = "etc/zabbix/zabbix_agentd.conf.d/linemon.conf"
ZABBIX_AGENTD_LINK = "etc/zabbix/zabbix_agentd.d/linemon.conf"
AGENT2_LINK = "etc/zabbix/zabbix_agent2.d/linemon.conf"
RESTART_NOTE = "restart the Zabbix agent"
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def base(deb: Path) -> Path:
    started = time.monotonic()
    built = clean_root.ensure_base(deb)
    TIMES["base (cached unless first run)"] = time.monotonic() - started
    return built


@pytest.fixture(scope="module", autouse=True)
def report_times() -> Iterator[None]:
    yield
    print("\nclean-root timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in TIMES.items()))


def timed(label: str, root: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = clean_root.inside(root, *args, **kwargs)
    TIMES[label] = TIMES.get(label, 0.0) + time.monotonic() - started
    return done


def install_deb(root: Path, deb: Path, label: str) -> str:
    (root / "tmp" / deb.name).write_bytes(deb.read_bytes())
    done = timed(label, root, "apt-get", "install", "-y", "-q", f"/tmp/{deb.name}")
    return done.stdout + done.stderr


def install_agents(root: Path, label: str) -> str:
    done = timed(label, root, "apt-get", "install", "-y", "-q", *clean_root.AGENTS)
    return done.stdout + done.stderr


def agent_test(root: Path, agent: tuple[str, ...], key: str) -> tuple[str, str]:
    """`<agent> -t KEY` as user zabbix with the agent's own configuration: (type, value)."""
    done = clean_root.inside(root, "runuser", "-u", "zabbix", "--", *agent, "-t", key,
                             check=False, timeout=60)
    found = re.search(r"\[(\w)\|(.*)\]\s*$", done.stdout, re.DOTALL)
    assert found, f"{agent[0]} -t {key}: exit {done.returncode}: {done.stdout}{done.stderr}"
    return found.group(1), found.group(2)


@contextmanager
def broker(root: Path) -> Iterator[None]:
    """The broker started in the root as linemon-broker.service would start it."""
    settings = unit_settings(root)
    clean_root.inside(root, *runtime_dir_argv(settings))
    socket = root / "run" / settings["RuntimeDirectory"] / "broker.sock"
    process = subprocess.Popen(
        ["chroot", str(root), *broker_argv(settings)], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd="/",
    )
    try:
        deadline = time.monotonic() + 30
        while not socket.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert socket.exists(), f"no broker socket (exit {process.poll()})"
        yield
    finally:
        stop(process)
        output = process.stdout.read().decode() if process.stdout else ""
    assert process.returncode == 0, output


def assert_keys_answer(root: Path) -> None:
    """Every agent's linemon keys answer through the broker, run as user zabbix."""
    assert "linemon" in clean_root.inside(root, "id", "-nG", "zabbix").stdout.split()
    with broker(root):
        for agent in (AGENTD, AGENT2):
            kind, value = agent_test(root, agent, "linemon.status")
            assert kind in "ts", (agent, kind, value)
            assert isinstance(json.loads(value), dict), value
            kind, value = agent_test(root, agent, "linemon.discovery[]")
            assert kind in "ts" and json.loads(value) == [], (agent, kind, value)


def assert_agents_work_without_keys(root: Path) -> None:
    """After remove/purge: the agents load their configuration; linemon keys are unknown."""
    for agent in (AGENTD, AGENT2):
        assert agent_test(root, agent, "agent.ping")[1] == "1"
        kind, value = agent_test(root, agent, "linemon.status")
        assert kind == "m" and "ZBX_NOTSUPPORTED" in value, (agent, kind, value)
    calls = clean_root.inside(root, "grep", "-Rl", "/usr/bin/linemon", "/etc/zabbix", check=False)
    assert (calls.returncode, calls.stdout) == (1, ""), "something still calls /usr/bin/linemon"


def links(root: Path) -> dict[str, str]:
    found = {}
    for link in (DEBIAN_AGENTD_LINK, ZABBIX_AGENTD_LINK, AGENT2_LINK):
        if (root / link).is_symlink():
            found[link] = os.readlink(root / link)
    return found


def assert_purged(root: Path) -> None:
    assert clean_root.inside(root, "dpkg-query", "-W", PACKAGE, check=False).returncode != 0
    left = [p for p in ("etc/linemon", "var/lib/linemon", "usr/lib/linemon-agent",
                        DEBIAN_AGENTD_LINK, ZABBIX_AGENTD_LINK, AGENT2_LINK)
            if os.path.lexists(root / p)]
    assert left == []


def test_linemon_first_then_agents_remove_and_purge(deb: Path, base: Path) -> None:
    with clean_root.overlay(base, "linemon-first") as root:
        install_deb(root, deb, "install linemon")
        said = install_agents(root, "install agents (trigger)")
        assert RESTART_NOTE in said, said
        # Debian's agents make zabbix_agentd.conf.d/ and zabbix_agent2.d/, not zabbix_agentd.d/.
        assert links(root) == {
            DEBIAN_AGENTD_LINK: "/etc/linemon/zabbix/linemon_agentd.conf",
            AGENT2_LINK: "/etc/linemon/zabbix/linemon_agent2.conf",
        }
        assert_keys_answer(root)

        # Zabbix's directory and an Include of it added by hand (as after the old package):
        # both directories are read, so dpkg-reconfigure links the keys into one only.
        (root / ZABBIX_AGENTD_LINK).parent.mkdir()
        conf = root / "etc/zabbix/zabbix_agentd.conf"
        conf.write_text(conf.read_text() + "\nInclude=/etc/zabbix/zabbix_agentd.d/*.conf\n")
        timed("dpkg-reconfigure", root, "dpkg-reconfigure", PACKAGE)
        assert set(links(root)) == {DEBIAN_AGENTD_LINK, AGENT2_LINK}
        assert_keys_answer(root)
        conf.write_text(conf.read_text().replace("Include=/etc/zabbix/zabbix_agentd.d/", "#"))
        timed("dpkg-reconfigure", root, "dpkg-reconfigure", PACKAGE)
        assert set(links(root)) == {DEBIAN_AGENTD_LINK, ZABBIX_AGENTD_LINK, AGENT2_LINK}

        said = timed("remove", root, "apt-get", "remove", "-y", "-q", PACKAGE).stdout
        assert "keeps them until restarted" in said, said
        assert links(root) == {}
        assert (root / "etc/linemon/zabbix/linemon_agentd.conf").exists(), "conffiles kept"
        assert_agents_work_without_keys(root)

        install_deb(root, deb, "reinstall after remove")
        assert set(links(root)) == {DEBIAN_AGENTD_LINK, ZABBIX_AGENTD_LINK, AGENT2_LINK}
        timed("purge", root, "apt-get", "purge", "-y", "-q", PACKAGE)
        assert_purged(root)
        assert_agents_work_without_keys(root)


def test_agents_first_then_linemon_and_purge(deb: Path, base: Path) -> None:
    with clean_root.overlay(base, "agents-first") as root:
        install_agents(root, "install agents")
        said = install_deb(root, deb, "install linemon (after agents)")
        assert RESTART_NOTE in said, said
        assert set(links(root)) == {DEBIAN_AGENTD_LINK, AGENT2_LINK}
        assert_keys_answer(root)
        timed("purge", root, "apt-get", "purge", "-y", "-q", PACKAGE)
        assert_purged(root)
        assert_agents_work_without_keys(root)
