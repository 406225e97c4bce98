"""The Debian package: build, lintian, install, run as the unit would, upgrade, remove, purge."""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.package.debtest import (
    broker_argv,
    opt_in,
    runtime_dir_argv,
    stop,
    unit_settings,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "linemon-agent"
VENV = Path("/usr/lib/linemon-agent")
UNIT = Path("/lib/systemd/system/linemon-broker.service")
DROPINS = Path("/etc/linemon/zabbix")
# Where postinst links the drop-ins (when the agent package made the directory): link -> source.
AGENT_LINKS = {
    "/etc/zabbix/zabbix_agentd.conf.d/linemon.conf": "linemon_agentd.conf",
    "/etc/zabbix/zabbix_agentd.d/linemon.conf": "linemon_agentd.conf",
    "/etc/zabbix/zabbix_agent2.d/linemon.conf": "linemon_agent2.conf",
}
CONFIG = Path("/etc/linemon/linemon.toml")
MEMBER = "linemon-test-member"  # used only when there is no zabbix user
OUTSIDER = "linemon-test-outsider"
# The external check: where Debian's zabbix_server and zabbix_proxy look (their compiled-in
# ExternalScripts), and where zabbix.com's packages set ExternalScripts.
EXTERNAL_SCRIPTS = ("/etc/zabbix/externalscripts/linemon",
                    "/usr/lib/zabbix/externalscripts/linemon")

pytestmark = opt_in("installs system packages")

APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def run(*args: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, check=check, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=600, **kwargs,
    )


def apt(*args: str) -> subprocess.CompletedProcess[str]:
    return run("apt-get", "-y", *args, env=APT_ENV)


def installed_version() -> str | None:
    done = run("dpkg-query", "-W", "-f=${Status} ${Version}", PACKAGE, check=False)
    if done.returncode != 0 or not done.stdout.startswith("install ok installed"):
        return None
    return done.stdout.split()[-1]


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="module")
def machine() -> Iterator[None]:
    """Leave the machine as found: purge the package, drop the users the test made."""
    had_linemon = user_exists("linemon")
    if installed_version() is not None:
        pytest.skip(f"{PACKAGE} is installed already; this test would purge it")
    yield
    if run("dpkg-query", "-W", PACKAGE, check=False).returncode == 0:
        apt("purge", PACKAGE)
    for name in (MEMBER, OUTSIDER):
        if user_exists(name):
            run("userdel", name)
    if not had_linemon and user_exists("linemon"):
        run("deluser", "--quiet", "--system", "linemon")
    if not had_linemon and run("getent", "group", "linemon", check=False).returncode == 0:
        run("delgroup", "--quiet", "--system", "linemon")


@pytest.fixture()
def installed(deb: Path, machine: None) -> Path:
    if installed_version() is None:
        apt("install", str(deb))
    return deb


def test_lintian_finds_no_errors(deb: Path) -> None:
    if shutil.which("lintian") is None:
        apt("install", "--no-install-recommends", "lintian")
    done = run("lintian", "--fail-on", "none", str(deb))
    errors = [line for line in done.stdout.splitlines() if line.startswith("E:")]
    assert errors == [], "\n".join(errors)


def test_package_holds_no_build_paths_or_build_tools(deb: Path, tmp_path: Path) -> None:
    tree = tmp_path / "deb"
    run("dpkg-deb", "-R", str(deb), str(tree))
    venv = tree / str(VENV).lstrip("/")
    assert sorted(p.name for p in (venv / "bin").iterdir()) == [
        "linemon", "linemon-extcheck", "python", "python3", "python3.11"]
    assert not (venv / "include").exists()
    site = next(venv.glob("lib/python3*/site-packages"))
    assert not [p.name for p in site.iterdir()
                if p.name.startswith(("pip", "setuptools", "poetry"))]  # build tools only
    assert "command = /usr/bin/python3 -m venv /usr/lib/linemon-agent\n" in (
        venv / "pyvenv.cfg").read_text()
    # scripts/build-deb builds in /tmp/linemon-deb.XXXXXX: no file may name it.
    named = run("grep", "-rlF", "/tmp/linemon-deb.", str(tree), check=False)
    assert (named.returncode, named.stdout) == (1, "")
    # The dependencies are the lock's, exactly.
    shipped = {}
    for info in site.glob("*.dist-info"):
        name, version = info.name[: -len(".dist-info")].rsplit("-", 1)
        shipped[name.lower().replace("_", "-")] = version
    lock = (ROOT / "packaging" / "requirements.txt").read_text()
    locked = dict(re.findall(r"^([a-z0-9-]+)==(\S+)", lock, re.MULTILINE))
    assert {k: v for k, v in shipped.items() if k != "linemon-agent"} == locked
    # No directory under /etc/zabbix: those belong to the agent packages.
    assert not (tree / "etc" / "zabbix").exists()


def test_install_lays_out_files_user_and_permissions(installed: Path) -> None:
    user = pwd.getpwnam("linemon")
    assert user.pw_uid < 1000
    assert user.pw_dir == "/var/lib/linemon"
    assert user.pw_shell.endswith("nologin")
    assert grp.getgrgid(user.pw_gid).gr_name == "linemon"

    secrets = os.stat("/etc/linemon/secrets")
    assert stat.S_IMODE(secrets.st_mode) == 0o700
    assert secrets.st_uid == user.pw_uid
    state = os.stat("/var/lib/linemon")
    assert state.st_uid == user.pw_uid
    assert stat.S_IMODE(state.st_mode) & 0o007 == 0

    config = tomllib.loads(CONFIG.read_text())
    assert config["broker"]["socket_group"] == "linemon"
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", PACKAGE).stdout
    assert str(CONFIG) in conffiles
    for source in ("linemon_agentd.conf", "linemon_agent2.conf"):
        assert str(DROPINS / source) in conffiles
        assert (DROPINS / source).read_text() == (
            ROOT / "zabbix_templates" / "agent" / source
        ).read_text()
    for link, source in AGENT_LINKS.items():
        if Path(link).parent.is_dir():  # made by an agent package (or by hand)
            assert os.readlink(link) == str(DROPINS / source)
    if (ROOT / "zabbix_templates").is_dir():
        assert Path("/usr/share/linemon/zabbix_templates/README.md").exists()
    # TLS-PSK to Zabbix: sslpsk3, compiled at build time, loads on Debian's python3 and libssl3
    psk = run("/usr/lib/linemon-agent/bin/python", "-c",
              "import ssl, sslpsk3; c = sslpsk3.SSLPSKContext(ssl.PROTOCOL_TLS_CLIENT);"
              " c.set_psk_client_callback(lambda h: ('id', bytes(16))); print('ok')")
    assert psk.stdout.strip() == "ok"
    for script in EXTERNAL_SCRIPTS:
        assert os.path.realpath(script) == str(VENV / "bin" / "linemon-extcheck")
        assert os.access(script, os.X_OK), script

    settings = unit_settings()
    assert settings["User"] == settings["Group"] == "linemon"
    assert settings["ExecStart"] == f"/usr/bin/linemon broker --config {CONFIG}"
    assert settings["CapabilityBoundingSet"] == ""
    verify = run("systemd-analyze", "verify", "--man=no", str(UNIT), check=False)
    assert (verify.returncode, verify.stderr) == (0, ""), "the unit has unknown or bad settings"
    if user_exists("zabbix"):
        assert "zabbix" in grp.getgrnam("linemon").gr_mem

    version = installed_version()
    assert version is not None
    shown = run("/usr/bin/linemon", "--version")
    assert shown.stdout.split()[-1] == version.split("+")[0]
    assert list(VENV.rglob("__pycache__")), "postinst compiles the byte-code"


def _start_broker_as_the_unit_would(log: Path) -> subprocess.Popen[bytes]:
    settings = unit_settings()
    run(*runtime_dir_argv(settings))
    with log.open("wb") as out:
        return subprocess.Popen(broker_argv(settings), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd="/")


def _client(user: str, *args: str, program: str = "/usr/bin/linemon"
            ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEMON_")}
    return run("runuser", "-u", user, "--", program, *args, check=False, env=env, cwd="/")


def test_broker_serves_its_group_and_refuses_others(installed: Path, tmp_path: Path) -> None:
    member = "zabbix" if user_exists("zabbix") else MEMBER
    if not user_exists(member):
        run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
            "--groups", "linemon", member)
    if not user_exists(OUTSIDER):
        run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OUTSIDER)
    socket = Path(tomllib.loads(CONFIG.read_text())["broker"]["socket"])
    log = tmp_path / "broker.log"
    broker = _start_broker_as_the_unit_would(log)
    try:
        deadline = time.monotonic() + 30
        while not socket.exists() and broker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert socket.exists(), f"no socket; broker exit {broker.poll()}: {log.read_text()}"
        assert grp.getgrgid(socket.stat().st_gid).gr_name == "linemon"

        status = _client(member, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert isinstance(json.loads(status.stdout), dict)

        refused = _client(OUTSIDER, "status", "--json")
        assert refused.returncode == 77
        assert "permission denied" in refused.stderr.lower()

        for script in EXTERNAL_SCRIPTS:  # as the Zabbix server runs `linemon[status]`
            external = _client(member, "status", program=script)
            assert external.returncode == 0, external.stderr
            assert isinstance(json.loads(external.stdout), dict)
        refused = _client(OUTSIDER, "status", program=EXTERNAL_SCRIPTS[0])
        assert refused.returncode == 77
        assert "restart the Zabbix server or proxy" in refused.stderr
    finally:
        stop(broker)
    assert broker.returncode == 0, log.read_text()
    assert not socket.exists()


def _bumped(deb: Path, work: Path) -> tuple[Path, str]:
    """The same package under a higher version: an upgrade without a second build."""
    tree = work / "tree"
    run("dpkg-deb", "-R", str(deb), str(tree))
    control = tree / "DEBIAN" / "control"
    text = control.read_text()
    found = re.search(r"^Version: (\S+)$", text, re.MULTILINE)
    assert found, text
    version = found.group(1)
    bumped = f"{version}+test1"
    control.write_text(text.replace(f"Version: {version}\n", f"Version: {bumped}\n"))
    target = work / f"{PACKAGE}_{bumped}.deb"
    run("dpkg-deb", "--root-owner-group", "-b", str(tree), str(target))
    return target, bumped


def test_upgrade_keeps_a_modified_config(installed: Path, tmp_path: Path) -> None:
    edited = CONFIG.read_text() + "\n# edited by the administrator\n"
    CONFIG.write_text(edited)
    newer, version = _bumped(installed, tmp_path)
    apt("install", str(newer))
    assert installed_version() == version
    assert CONFIG.read_text() == edited
    assert run("/usr/bin/linemon", "--version").returncode == 0


def test_remove_keeps_config_and_purge_leaves_nothing(installed: Path) -> None:
    CONFIG.write_text(CONFIG.read_text() + "\n# kept across remove\n")
    Path("/etc/linemon/secrets/default").write_text("x")
    apt("remove", PACKAGE)
    assert "kept across remove" in CONFIG.read_text()
    assert Path("/etc/linemon/secrets/default").exists()
    assert not VENV.exists()
    assert not Path("/usr/bin/linemon").exists()
    # The drop-ins stay (conffiles) but no agent reads them: nothing calls a missing linemon.
    assert (DROPINS / "linemon_agentd.conf").exists()
    assert [link for link in AGENT_LINKS if os.path.lexists(link)] == []

    apt("purge", PACKAGE)
    leftovers = [
        path for path in (
            "/etc/linemon", "/var/lib/linemon", "/run/linemon", str(VENV), str(UNIT),
            "/usr/share/linemon", "/usr/share/doc/linemon-agent", *AGENT_LINKS,
            *EXTERNAL_SCRIPTS,
        )
        if os.path.lexists(path)
    ]
    assert leftovers == []
    assert run("dpkg-query", "-W", PACKAGE, check=False).returncode != 0
