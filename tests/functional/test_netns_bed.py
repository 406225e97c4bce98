"""The namespace router bed: SSH in, ping real addresses, measured loss and delay as configured."""

from __future__ import annotations

import ipaddress
import json
import re
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from tests.beds.delay_responder import apply_command, echo_reply, inet_checksum
from tests.beds.netns import NetnsBed, Target, check_target_address, loss_ruleset, require_netns

HEALTHY, LOSSY, DELAYED = "198.19.0.10", "198.19.0.20", "198.19.0.30"
# Replies are never early; on 2 busy shared cores they can be late by scheduling: allow that.
LATE_MS = 20
SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")
RTT = re.compile(r"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")


@dataclass(frozen=True)
class Ping:
    sent: int
    received: int
    rtt: tuple[float, ...] | None  # min, avg, max, mdev

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent


def parse_ping(output: str) -> Ping:
    summary = SUMMARY.search(output)
    assert summary, output
    rtt = RTT.search(output)
    times = tuple(float(x) for x in rtt.groups()) if rtt else None
    return Ping(int(summary[1]), int(summary[2]), times)


def ping_command(address: str, count: int = 20, interval: float = 0.2) -> str:
    return f"LC_ALL=C ping -n -c {count} -i {interval} -W 1 {address}"


# --- pure parts, no root needed ---------------------------------------------------------


def echo_request(src: str, dst: str, payload: bytes = b"linemon") -> bytes:
    icmp = bytearray(struct.pack("!BBHHH", 8, 0, 0, 0x1234, 7) + payload)
    icmp[2:4] = struct.pack("!H", inet_checksum(bytes(icmp)))
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0,
                                   ipaddress.IPv4Address(src).packed,
                                   ipaddress.IPv4Address(dst).packed))
    header[10:12] = struct.pack("!H", inet_checksum(bytes(header)))
    return bytes(header) + bytes(icmp)


def test_echo_reply_swaps_addresses_keeps_id_and_checksums() -> None:
    request = echo_request("198.19.255.1", DELAYED)
    answer = echo_reply(request)
    assert answer is not None
    address, reply = answer
    assert address == DELAYED
    assert reply[12:16] == ipaddress.IPv4Address(DELAYED).packed
    assert reply[16:20] == ipaddress.IPv4Address("198.19.255.1").packed
    assert inet_checksum(reply[:20]) == 0 and inet_checksum(reply[20:]) == 0
    assert reply[20] == 0 and reply[24:] == request[24:]  # echo reply, same id/seq/payload


def test_echo_reply_ignores_what_is_not_an_echo_request() -> None:
    request = bytearray(echo_request("198.19.255.1", DELAYED))
    assert echo_reply(bytes(request[:30])) is None
    request[20] = 0  # an echo reply
    assert echo_reply(bytes(request)) is None
    assert echo_reply(b"\x60" + bytes(60)) is None  # IPv6


def test_responder_commands() -> None:
    delays: dict[str, tuple[float, float]] = {}
    assert apply_command(json.dumps({"addr": DELAYED, "delay_ms": 80, "jitter_ms": 5}),
                         delays) == "ok"
    assert delays == {DELAYED: (0.08, 0.005)}
    assert apply_command(json.dumps({"addr": DELAYED, "delay_ms": None}), delays) == "ok"
    assert delays == {}
    assert apply_command('{"addr": "not-an-ip", "delay_ms": 1}', delays).startswith("error")
    assert apply_command('{"addr": "198.19.0.1", "delay_ms": -1}', delays).startswith("error")


def test_targets_are_checked_and_loss_becomes_nft_rules() -> None:
    with pytest.raises(ValueError):
        check_target_address("10.0.0.1")
    with pytest.raises(ValueError):
        check_target_address("198.19.255.2")
    with pytest.raises(ValueError):
        Target(loss_pct=101)
    script = loss_ruleset({HEALTHY: Target(), LOSSY: Target(loss_pct=12.5)})
    assert "flush chain ip lmtest loss" in script
    assert HEALTHY not in script
    assert f"ip daddr {LOSSY} icmp type echo-request numgen random mod 10000 < 1250 drop" in script


# --- the real bed (root) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def bed() -> Iterator[NetnsBed]:
    require_netns()
    with NetnsBed({HEALTHY: Target(), LOSSY: Target(loss_pct=50),
                   DELAYED: Target(delay_ms=80)}) as built:
        yield built


@pytest.fixture(scope="module")
def ssh(bed: NetnsBed) -> Iterator[paramiko.SSHClient]:
    client = paramiko.SSHClient()
    client.load_host_keys(str(bed.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(bed.ssh_host, bed.ssh_port, bed.ssh_user, key_filename=str(bed.ssh_key_path),
                   look_for_keys=False, allow_agent=False, timeout=5)
    yield client
    client.close()


def run_all(ssh: paramiko.SSHClient, commands: list[str]) -> list[str]:
    """Run the commands at once on separate channels; their outputs in the same order."""
    streams = [ssh.exec_command(command, timeout=30)[1] for command in commands]
    return [stream.read().decode() for stream in streams]


@pytest.mark.root
def test_healthy_lossy_and_delayed_targets_over_ssh(bed: NetnsBed,
                                                    ssh: paramiko.SSHClient) -> None:
    healthy, lossy, delayed = (parse_ping(out) for out in
                               run_all(ssh, [ping_command(a) for a in (HEALTHY, LOSSY, DELAYED)]))
    assert (healthy.sent, healthy.received) == (20, 20)
    assert healthy.rtt is not None and healthy.rtt[1] < LATE_MS
    # 50% of 20: 3..17 received holds with probability > 0.999 (binomial).
    assert lossy.sent == 20 and 3 <= lossy.received <= 17
    assert (delayed.sent, delayed.received) == (20, 20)
    assert delayed.rtt is not None
    assert delayed.rtt[0] >= 80 and delayed.rtt[1] < 80 + LATE_MS


@pytest.mark.root
def test_runtime_changes_of_loss_delay_and_jitter(bed: NetnsBed,
                                                  ssh: paramiko.SSHClient) -> None:
    lossy, jittery = "198.19.1.20", "198.19.1.30"
    bed.set_target(lossy, Target())
    bed.set_target(jittery, Target())
    bed.set_target(lossy, loss_pct=20)
    bed.set_target(jittery, delay_ms=30, jitter_ms=10)
    loss, jitter = (parse_ping(out) for out in run_all(ssh, [
        ping_command(lossy, count=200, interval=0.01),
        ping_command(jittery, count=20, interval=0.05)]))
    # 20% of 200: standard deviation 2.8 points; 4 of them either side.
    assert 8.7 <= loss.loss_pct <= 31.3
    assert jitter.received == 20 and jitter.rtt is not None
    assert jitter.rtt[0] >= 20 and jitter.rtt[2] < 40 + LATE_MS and jitter.rtt[3] > 2
    bed.set_target(jittery, delay_ms=0, jitter_ms=0)  # back to the kernel
    bed.set_target(lossy, loss_pct=0)
    back, clean = (parse_ping(out) for out in run_all(ssh, [
        ping_command(jittery, count=10, interval=0.05),
        ping_command(lossy, count=50, interval=0.01)]))
    assert back.received == 10 and back.rtt is not None and back.rtt[1] < LATE_MS
    assert clean.received == 50


@pytest.mark.root
def test_scrapli_paramiko_transport_logs_in_with_strict_host_key(bed: NetnsBed) -> None:
    from scrapli.driver.generic import GenericDriver

    with GenericDriver(host=bed.ssh_host, port=bed.ssh_port, auth_username=bed.ssh_user,
                       auth_private_key=str(bed.ssh_key_path), auth_strict_key=True,
                       ssh_known_hosts_file=str(bed.known_hosts_path), transport="paramiko",
                       transport_options={"enable_rsa2": True}, timeout_ops=10) as conn:
        # scrapli sends a return at login, before bash is ready: bash then runs an empty line,
        # and a command typed during it is echoed twice (by the tty, then redrawn after a
        # prompt by readline), which puts scrapli a prompt early for every later command. Let
        # bash settle first; a Linux platform must cope with this race itself.
        time.sleep(1.0)
        result = conn.send_command(ping_command(DELAYED, count=3))
    ping = parse_ping(result.result)
    assert ping.received == 3 and ping.rtt is not None and ping.rtt[0] >= 80


@pytest.mark.root
def test_traffic_stays_inside_the_bed(bed: NetnsBed) -> None:
    routes = json.loads(subprocess.run(["ip", "-j", "-4", "route", "show", "dev", bed.root_link],
                                       capture_output=True, text=True, check=True).stdout)
    assert [r["dst"] for r in routes] == [f"{ipaddress.IPv4Address(bed.ssh_host) - 2}/30"]
    router_routes = {r["dst"] for r in json.loads(bed.router_exec("ip", "-j", "-4", "route"))}
    assert "default" not in router_routes and "198.19.0.0/16" in router_routes


@pytest.mark.root
def test_close_removes_everything_even_after_a_failure() -> None:
    require_netns()
    with pytest.raises(RuntimeError, match="boom"), NetnsBed({HEALTHY: Target(delay_ms=5)}) as b:
        sshd_pid = int((b.workdir / "sshd.pid").read_text())
        workdir, namespaces, link = b.workdir, (b.router_ns, b.lines_ns), b.root_link
        raise RuntimeError("boom")
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(ns in listed for ns in namespaces)
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    assert link not in links
    assert not workdir.exists()
    assert not Path(f"/proc/{sshd_pid}").exists()
