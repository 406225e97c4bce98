"""A real Linux router in network namespaces: OpenSSH in front, pingable lines behind it.

Topology (names get a random suffix per bed; nothing leaves the namespaces but the uplink):

    root ns  lm<sfx>  198.18.A.B+1/30 ──veth── up0  198.18.A.B+2/30   router ns lmtest-<sfx>-r
                                                   (sshd on port 22, root, RSA key only)
             router ns  dn0  198.19.255.1/30 ──veth── up0  198.19.255.2/30   lines ns lmtest-<sfx>-l

The uplink /30 is picked at random in 198.18.0.0/16 so that beds can run side by side; the
root namespace gets no route beyond it. The router namespace forwards and routes
198.19.0.0/16 to the lines namespace, where every target address lives:

* a target with no delay and no jitter is an address on the lines namespace's ``lo``:
  the kernel answers its pings;
* a target with a delay or jitter is routed into the TUN device ``lmdly``, where
  ``delay_responder.py`` answers each echo request after its delay (± jitter);
* a target's loss is an nftables rule in the lines namespace's prerouting hook that drops
  that share of echo requests to it at random (``numgen random``): this kernel has no netem.

Targets are addresses in 198.19.0.0/16 outside 198.19.255.0/24; they can be added or
changed at run time with `NetnsBed.set_target`. Needs root, ``ip netns``, ``sshd``
(openssh-server), ``nft`` (nftables) and ``ping`` (iputils-ping). The SSH login is root's own
shell (bash), as on a stock Debian box: a client that types before bash has started can see
its input echoed twice (tty, then readline), which a Linux platform has to cope with.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

import pytest

TARGET_NET = ipaddress.IPv4Network("198.19.0.0/16")
LINK_NET = ipaddress.IPv4Network("198.19.255.0/30")
UPLINK_POOL = ipaddress.IPv4Network("198.18.0.0/16")
TUN_NAME = "lmdly"
TOOLS = {"sshd": "openssh-server", "ssh-keygen": "openssh-client", "nft": "nftables",
         "ping": "iputils-ping", "ip": "iproute2", "sysctl": "procps"}
RESPONDER = Path(__file__).with_name("delay_responder.py")


class BedError(RuntimeError):
    """A command that builds or changes the bed failed; says which and what it printed."""


@dataclass(frozen=True)
class Target:
    """How one target address behaves: share of echo requests dropped, reply delay, jitter."""

    loss_pct: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.loss_pct <= 100:
            raise ValueError(f"loss_pct must be within 0..100, got {self.loss_pct}")
        if self.delay_ms < 0 or self.jitter_ms < 0:
            raise ValueError(f"delay_ms and jitter_ms must be >= 0, got {self}")

    @property
    def via_tun(self) -> bool:
        """True when the userspace responder answers (a delay or jitter is set)."""
        return self.delay_ms > 0 or self.jitter_ms > 0


def check_target_address(address: str) -> str:
    """The address in canonical form, or ValueError when it is not a usable target address."""
    ip = ipaddress.IPv4Address(address)
    if ip not in TARGET_NET or ip in ipaddress.IPv4Network("198.19.255.0/24"):
        raise ValueError(f"target {address} must be in {TARGET_NET} outside 198.19.255.0/24")
    return str(ip)


def loss_ruleset(targets: dict[str, Target]) -> str:
    """The nft script that replaces the lines namespace's loss rules with these targets'."""
    lines = [
        "table ip lmtest {",
        "  chain loss { type filter hook prerouting priority -300; policy accept; }",
        "}",
        "flush chain ip lmtest loss",
    ]
    for address, target in sorted(targets.items()):
        if target.loss_pct > 0:
            lines.append(
                f"add rule ip lmtest loss ip daddr {address} icmp type echo-request "
                f"numgen random mod 10000 < {round(target.loss_pct * 100)} drop"
            )
    return "\n".join(lines) + "\n"


def require_netns() -> None:
    """pytest.skip, with the reason, unless this process can build a bed."""
    if os.geteuid() != 0:
        pytest.skip("namespace router bed needs root (ip netns, sshd, nftables)")
    missing = [f"{tool} ({package})" for tool, package in TOOLS.items()
               if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
    if missing:
        pytest.skip(f"namespace router bed needs {', '.join(missing)}: apt-get install them")
    probe = f"lmtest-{secrets.token_hex(3)}-p"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"ip netns is unavailable here: {made.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


def _run(*argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise BedError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _free_uplink() -> ipaddress.IPv4Network:
    """A random /30 in 198.18.0.0/16 that no route or address of the root namespace overlaps."""
    used = [ipaddress.ip_network(route["dst"], strict=False)
            for route in json.loads(_run("ip", "-j", "-4", "route", "show", "table", "all"))
            if route.get("dst", "default") != "default"]
    for _ in range(50):
        net = ipaddress.IPv4Network((int(UPLINK_POOL.network_address)
                                     + 4 * random.randrange(UPLINK_POOL.num_addresses // 4), 30))
        if not any(net.overlaps(other) for other in used):
            return net
    raise BedError("no free /30 left in 198.18.0.0/16 for the uplink")


class NetnsBed:
    """Builds the topology on enter, removes all it made on exit (even after a failure).

    ``with NetnsBed({"198.19.0.10": Target(), "198.19.0.20": Target(delay_ms=80)}) as bed:``
    then SSH to ``bed.ssh_host:bed.ssh_port`` as ``bed.ssh_user`` with key ``bed.ssh_key_path``
    and check the host key with ``bed.known_hosts_path``.
    """

    def __init__(self, targets: dict[str, Target] | None = None, ssh_port: int = 22) -> None:
        self.targets: dict[str, Target] = {}
        self._initial = {check_target_address(a): t for a, t in (targets or {}).items()}
        self.suffix = secrets.token_hex(3)
        self.router_ns = f"lmtest-{self.suffix}-r"
        self.lines_ns = f"lmtest-{self.suffix}-l"
        self.root_link = f"lm{self.suffix}"
        self.ssh_port = ssh_port
        self.ssh_user = "root"
        self.ssh_host = ""
        self.root_address = ""
        self.known_hosts_line = ""
        self.workdir = Path()
        self._namespaces: list[str] = []
        self._sshd: subprocess.Popen[bytes] | None = None
        self._responder: subprocess.Popen[str] | None = None

    @property
    def ssh_key_path(self) -> Path:
        """The client's private RSA key (PEM), authorised for root on the router."""
        return self.workdir / "client_rsa"

    @property
    def known_hosts_path(self) -> Path:
        """A known_hosts file holding `known_hosts_line` only."""
        return self.workdir / "known_hosts"

    def __enter__(self) -> NetnsBed:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _build(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"lmtest-{self.suffix}-"))
        uplink = _free_uplink()
        self.root_address, self.ssh_host = str(uplink[1]), str(uplink[2])
        router_link, lines_link = str(LINK_NET[1]), str(LINK_NET[2])
        for ns in (self.router_ns, self.lines_ns):
            _run("ip", "netns", "add", ns)
            self._namespaces.append(ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            self._ns_exec(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1",
                          "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
        _run("ip", "link", "add", self.root_link, "type", "veth",
             "peer", "name", "up0", "netns", self.router_ns)
        _run("ip", "addr", "add", f"{self.root_address}/30", "dev", self.root_link)
        _run("ip", "link", "set", self.root_link, "up")
        _run("ip", "-n", self.router_ns, "link", "add", "dn0", "type", "veth",
             "peer", "name", "up0", "netns", self.lines_ns)
        for ns, dev, address in ((self.router_ns, "up0", f"{self.ssh_host}/30"),
                                 (self.router_ns, "dn0", f"{router_link}/30"),
                                 (self.lines_ns, "up0", f"{lines_link}/30")):
            _run("ip", "-n", ns, "addr", "add", address, "dev", dev)
            _run("ip", "-n", ns, "link", "set", dev, "up")
        _run("ip", "-n", self.router_ns, "route", "add", str(TARGET_NET), "via", lines_link)
        self._start_responder()
        for address, target in self._initial.items():
            self.set_target(address, target)
        self._start_sshd()

    def _ns_exec(self, ns: str, *argv: str, stdin: str | None = None) -> str:
        return _run("ip", "netns", "exec", ns, *argv, stdin=stdin)

    def _start_responder(self) -> None:
        self._responder = subprocess.Popen(
            ["ip", "netns", "exec", self.lines_ns, sys.executable, str(RESPONDER), TUN_NAME],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        if self._responder_line() != "ready":
            raise BedError("delay responder did not start")
        _run("ip", "-n", self.lines_ns, "link", "set", TUN_NAME, "up")

    def _responder_line(self, timeout: float = 5.0) -> str:
        assert self._responder is not None and self._responder.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._responder.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise BedError(f"delay responder gave no answer within {timeout} s")
        return self._responder.stdout.readline().strip()

    def _tell_responder(self, address: str, delay_ms: float | None, jitter_ms: float) -> None:
        assert self._responder is not None and self._responder.stdin is not None
        command = {"addr": address, "delay_ms": delay_ms, "jitter_ms": jitter_ms}
        self._responder.stdin.write(json.dumps(command) + "\n")
        self._responder.stdin.flush()
        answer = self._responder_line()
        if answer != "ok":
            raise BedError(f"delay responder refused {command}: {answer}")

    def stop_sshd(self) -> None:
        """The router's SSH service dies: sshd and every session it forked (every process in
        the router's namespace is the bed's). `start_sshd` brings it back, same keys."""
        if self._sshd is not None:
            _stop(self._sshd)
            self._sshd = None
        pids = subprocess.run(["ip", "netns", "pids", self.router_ns], capture_output=True,
                              text=True)
        for pid in pids.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)

    def start_sshd(self) -> None:
        """Start the router's sshd again after `stop_sshd`."""
        self._launch_sshd(self.workdir / "sshd_config")

    def _start_sshd(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        host_key = self.workdir / "ssh_host_rsa_key"
        for path in (host_key, self.ssh_key_path):
            _run("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "",
                 "-C", f"lmtest-{self.suffix}", "-f", str(path))
        shutil.copy(f"{self.ssh_key_path}.pub", self.workdir / "authorized_keys")
        key_type, key_body = Path(f"{host_key}.pub").read_text().split()[:2]
        # scrapli's paramiko transport looks known hosts up by bare address, so on port 22
        # (the default: the address is the bed's own) the line is the plain form.
        host = self.ssh_host if self.ssh_port == 22 else f"[{self.ssh_host}]:{self.ssh_port}"
        self.known_hosts_line = f"{host} {key_type} {key_body}"
        self.known_hosts_path.write_text(self.known_hosts_line + "\n")
        config = self.workdir / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.ssh_port}",
            f"ListenAddress {self.ssh_host}",
            f"HostKey {host_key}",
            f"PidFile {self.workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "AllowUsers root",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PrintMotd no",
            "PrintLastLog no",
            "MaxStartups 200:30:400",
            "MaxSessions 200",
            "LogLevel ERROR",
        ]) + "\n")
        self._launch_sshd(config)

    def _launch_sshd(self, config: Path) -> None:
        with (self.workdir / "sshd.log").open("ab") as log:
            self._sshd = subprocess.Popen(
                ["ip", "netns", "exec", self.router_ns, "/usr/sbin/sshd", "-D", "-e",
                 "-f", str(config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((self.ssh_host, self.ssh_port), timeout=1).close()
                return
            except OSError as exc:
                if self._sshd.poll() is not None or time.monotonic() > deadline:
                    log_text = (self.workdir / "sshd.log").read_text(errors="replace")
                    raise BedError(f"sshd in {self.router_ns} did not listen: {log_text}") from exc
                time.sleep(0.05)

    def set_target(self, address: str, target: Target | None = None, **changes: float) -> Target:
        """Add or change a target: a whole `Target`, or fields to change (loss_pct=50, ...)."""
        address = check_target_address(address)
        old = self.targets.get(address)
        new = replace(target or old or Target(), **changes)
        if new.via_tun:  # before any route leads to the TUN device
            self._tell_responder(address, new.delay_ms, new.jitter_ms)
        if old is None or old.via_tun != new.via_tun:
            self._place(address, old, new)
        self.targets[address] = new
        if (old.loss_pct if old else 0.0) != new.loss_pct:
            self._apply_loss()
        return new

    def _place(self, address: str, old: Target | None, new: Target) -> None:
        """Move the address between the kernel (on lo) and the TUN responder."""
        if old is not None and old.via_tun:
            _run("ip", "-n", self.lines_ns, "route", "del", f"{address}/32", "dev", TUN_NAME)
            self._tell_responder(address, None, 0.0)
        elif old is not None:
            _run("ip", "-n", self.lines_ns, "addr", "del", f"{address}/32", "dev", "lo")
        if new.via_tun:
            _run("ip", "-n", self.lines_ns, "route", "add", f"{address}/32", "dev", TUN_NAME)
        else:
            _run("ip", "-n", self.lines_ns, "addr", "add", f"{address}/32", "dev", "lo")

    def _apply_loss(self) -> None:
        self._ns_exec(self.lines_ns, "nft", "-f", "-", stdin=loss_ruleset(self.targets))

    def router_exec(self, *argv: str) -> str:
        """Run a command inside the router namespace and return its standard output."""
        return self._ns_exec(self.router_ns, *argv)

    def close(self) -> None:
        """Stop what the bed started (by PID), delete its namespaces, links and files."""
        if self._responder is not None:
            if self._responder.stdin is not None:
                self._responder.stdin.close()
            _stop(self._responder)
            if self._responder.stdout is not None:
                self._responder.stdout.close()
            self._responder = None
        if self._sshd is not None:
            _stop(self._sshd)
            self._sshd = None
        for ns in reversed(self._namespaces):
            # Sessions sshd forked live on in the namespace: every process there is ours.
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in pids.stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self._namespaces.clear()
        subprocess.run(["ip", "link", "del", self.root_link], capture_output=True)
        if self.workdir != Path():
            shutil.rmtree(self.workdir, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=3)
