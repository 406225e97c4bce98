"""Encrypted delivery into the real Zabbix 6.0: hosts that accept only a PSK, or only certificates.

The lab's server has a CA and a certificate (scripts/zabbix_lab/tls.py makes them, and a PSK,
in <lab>/tls). The real broker pings emulated routers; each line's host in Zabbix accepts one
kind of connection. With the wrong setting (unencrypted, a wrong PSK, an untrusted CA or
client certificate) nothing reaches history, the broker's status names the setting to fix and
the values wait in the spool; once the setting is right and the broker reloaded, every value
measured meanwhile arrives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import json
import os
import secrets
import ssl
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zabbix_utils import ZabbixAPI

from linemon_agent.broker.sender import zabbix_sender
from linemon_agent.broker.syncer import SyncError, fetch_raw
from linemon_agent.errors import ConfigError
from linemon_agent.secrets import Secret
from linemon_agent.settings import ZabbixApiSettings, ZabbixSettings
from linemon_agent.zbxtls import TlsError
from tests.beds.emulator.client import Emulator
from tests.beds.zabbix_proxy import ZabbixProxy, installed
from tests.functional.broker_proc import BrokerProcess
from tests.integration.conftest import ZabbixLab
from tests.integration.loop import until

pytestmark = pytest.mark.zabbix
FIXTURES = Path(__file__).parents[1] / "fixtures" / "tls"
ROUTER_IP = "127.36.0.1"
TARGETS = ("198.51.100.41", "198.51.100.42", "198.51.100.43")
KEY = "linemon.result"
PSK_ACCEPT, CERT_ACCEPT = 2, 4  # host.tls_accept
CERT_SUBJECT = "CN=linemon lab sender,O=linemon lab"  # what the server sees of our certificate


@pytest.fixture
def tls_dir(zabbix_lab: ZabbixLab) -> Path:
    path = zabbix_lab.lab_dir / "tls"
    if not (path / "server.key").exists():
        pytest.skip("the lab has no TLS files: run scripts/zabbix-lab up (needs openssl)")
    if "TLSCertFile=" not in (zabbix_lab.lab_dir / "server" / "zabbix_server.conf").read_text():
        pytest.skip("the lab's server runs without its certificate (started by older lab code):"
                    " run scripts/zabbix-lab up")
    return path


@pytest.fixture
def group(zabbix_api: ZabbixAPI) -> Iterator[str]:
    groupid: str = zabbix_api.hostgroup.create(name=f"linemon-tls-{uuid.uuid4().hex[:8]}")[
        "groupids"][0]
    yield groupid
    hosts = zabbix_api.host.get(groupids=[groupid], output=["hostid"])
    if hosts:
        zabbix_api.host.delete(*[h["hostid"] for h in hosts])
    zabbix_api.hostgroup.delete(groupid)


def _hosts(api: ZabbixAPI, lab: ZabbixLab, groupid: str, prefix: str, **tls: Any) -> list[str]:
    """One host per line, accepting only the connection ``tls`` describes; their names."""
    names = []
    for index in range(len(TARGETS)):
        name = f"{prefix}-{index}-{uuid.uuid4().hex[:6]}"
        hostid = api.host.create(host=name, groups=[{"groupid": groupid}], **tls)["hostids"][0]
        api.item.create(hostid=hostid, name="linemon result", key_=KEY, type=2, value_type=4,
                        trapper_hosts="127.0.0.1")
        names.append(name)
    lab.reload_config_cache()
    return names


def _psk_hosts(api: ZabbixAPI, lab: ZabbixLab, groupid: str, tls_dir: Path) -> list[str]:
    return _hosts(api, lab, groupid, "psk", tls_accept=PSK_ACCEPT,
                  tls_psk_identity=(tls_dir / "psk.identity").read_text().strip(),
                  tls_psk=(tls_dir / "psk.key").read_text().strip())


def _cert_hosts(api: ZabbixAPI, lab: ZabbixLab, groupid: str) -> list[str]:
    return _hosts(api, lab, groupid, "cert", tls_accept=CERT_ACCEPT, tls_subject=CERT_SUBJECT)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    (tmp_path / "emu").mkdir()
    config = {"time_scale": 0.05, "loss_model": "even",
              "defaults": {"username": "lab", "password": "lab-pw"},
              "routers": {"pe1": {"host": ROUTER_IP, "port": 0, "platform": "cisco_iosxe",
                                  "targets": {t: {"loss": 0.0, "rtt_ms": 5} for t in TARGETS}}}}
    with Emulator(config, workdir=tmp_path / "emu") as made:
        yield made


def _doc(emulator: Emulator, lab: ZabbixLab, tmp_path: Path, hosts: list[str],
         **zabbix: Any) -> dict[str, Any]:
    secret = tmp_path / "router-pw"
    secret.write_text("lab-pw\n")
    os.chmod(secret, 0o600)
    host, port = emulator.address("pe1")
    return {
        "broker": {"host_key_policy": "insecure"},
        "zabbix": {"server": lab.server, "port": lab.trapper_port, "flush_interval": 0.3,
                   "send_timeout": 5, **zabbix},
        "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
        "routers": [{"name": "pe1", "host": host, "port": port, "platform": "cisco_iosxe"}],
        "lines": [{"id": f"L{i}", "router": "pe1", "target": t, "interval": 10, "count": 2,
                   "timeout": 1, "zabbix_host": h, "zabbix_key": KEY}
                  for i, (t, h) in enumerate(zip(TARGETS, hosts, strict=True))],
    }


def _clocks(api: ZabbixAPI, hosts: list[str]) -> dict[str, list[int]]:
    """Each host's value clocks in history, oldest first."""
    found = api.host.get(filter={"host": hosts}, output=["host"],
                         selectItems=["itemid", "key_"])
    result: dict[str, list[int]] = {h: [] for h in hosts}
    for host in found:
        itemid = next(i["itemid"] for i in host["items"] if i["key_"] == KEY)
        rows = api.history.get(itemids=[itemid], history=4, sortfield="clock",
                               sortorder="ASC", output=["clock"])
        result[host["host"]] = [int(r["clock"]) for r in rows]
    return result


def _delivery(broker: BrokerProcess) -> dict[str, Any]:
    status: dict[str, Any] = broker.client_json("status", "--json")["delivery"]
    return status


def _reconfigure(broker: BrokerProcess, **zabbix: Any) -> None:
    for key in [k for k in broker.doc["zabbix"] if k.startswith("tls_")]:
        del broker.doc["zabbix"][key]
    broker.doc["zabbix"].update(zabbix)
    broker.write_config()
    done = broker.client("reload")
    assert done.returncode == 0, done.stderr


def _refused_while(broker: BrokerProcess, words: str) -> None:
    """Values pile up in the spool and the broker's last error says ``words``."""
    until(lambda: words in _delivery(broker)["last_error"], 60, f"last_error naming {words}")
    delivery = _delivery(broker)
    assert delivery["pending"] > 0 and delivery["rejected"] == 0 and delivery["lost"] == 0


def _all_arrive(api: ZabbixAPI, hosts: list[str], since: float) -> None:
    """Every line's values in history, with those measured before ``since`` (the fix: lines
    are spread over their interval, so a line may have measured nothing before it)."""

    def arrived() -> bool:
        clocks = _clocks(api, hosts).values()
        return all(clocks) and min(v[0] for v in clocks) < since

    try:
        until(arrived, 90, "every line's values in history, with those measured before the fix")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: fixed at {since:.0f}, clocks {_clocks(api, hosts)}") from None


def test_psk_only_hosts(zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, group: str,
                        tls_dir: Path, emulator: Emulator, tmp_path: Path) -> None:
    hosts = _psk_hosts(zabbix_api, zabbix_lab, group, tls_dir)
    identity = (tls_dir / "psk.identity").read_text().strip()
    wrong = tmp_path / "wrong.psk"
    wrong.write_text(secrets.token_hex(32) + "\n")
    os.chmod(wrong, 0o600)
    good_psk = (tls_dir / "psk.key").read_text().strip()
    broker = BrokerProcess(tmp_path, _doc(emulator, zabbix_lab, tmp_path, hosts))
    with broker:
        # unencrypted: Zabbix refuses the values (processed 0): they wait in the spool
        until(lambda: _delivery(broker)["items_failing"] == len(hosts), 30, "refused probes")
        delivery = _delivery(broker)
        assert delivery["sent"] == 0 and not any(_clocks(zabbix_api, hosts).values())
        assert "zabbix.tls_connect" in delivery["last_refused"]
        # a wrong key: the handshake fails; the error names the PSK settings
        _reconfigure(broker, tls_connect="psk", tls_psk_identity=identity,
                     tls_psk_file=str(wrong))
        _refused_while(broker, "zabbix.tls_psk_file")
        assert good_psk not in broker.log_text() and wrong.read_text().strip() not in (
            broker.log_text() + json.dumps(broker.client_json("status", "--json")))
        fixed = time.time()
        _reconfigure(broker, tls_connect="psk", tls_psk_identity=identity,
                     tls_psk_file=str(tls_dir / "psk.key"))
        _all_arrive(zabbix_api, hosts, fixed)
        delivery = _delivery(broker)
        assert delivery["rejected"] == 0 and delivery["lost"] == 0 and delivery["sent"] > 0
    assert good_psk not in broker.log_text()


def test_certificate_only_hosts(zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, group: str,
                                tls_dir: Path, emulator: Emulator, tmp_path: Path) -> None:
    hosts = _cert_hosts(zabbix_api, zabbix_lab, group)
    good = {"tls_connect": "cert", "tls_ca_file": str(tls_dir / "ca.crt"),
            "tls_cert_file": str(tls_dir / "sender.crt"),
            "tls_key_file": str(tls_dir / "sender.key"),
            "tls_server_cert_subject": "CN=linemon lab server,O=linemon lab"}
    broker = BrokerProcess(tmp_path, _doc(emulator, zabbix_lab, tmp_path, hosts,
                                          **{**good, "tls_ca_file": str(tls_dir / "rogue-ca.crt")}))
    with broker:
        # our CA did not sign the server's certificate
        _refused_while(broker, "zabbix.tls_ca_file")
        assert "not trusted" in _delivery(broker)["last_error"]
        # the server's CA did not sign ours
        _reconfigure(broker, **{**good, "tls_cert_file": str(tls_dir / "rogue-sender.crt"),
                                "tls_key_file": str(tls_dir / "rogue-sender.key")})
        _refused_while(broker, "zabbix.tls_cert_file")
        # the right server, but not the subject asked for
        _reconfigure(broker, **{**good, "tls_server_cert_subject": "CN=someone else"})
        _refused_while(broker, "zabbix.tls_server_cert_subject")
        fixed = time.time()
        _reconfigure(broker, **good)
        _all_arrive(zabbix_api, hosts, fixed)
        delivery = _delivery(broker)
        assert delivery["rejected"] == 0 and delivery["lost"] == 0


def _send_once(settings: ZabbixSettings, host: str) -> tuple[int, int, int]:
    send = zabbix_sender(settings)
    value = {"host": host, "key": KEY, "value": '{"line": "x"}', "clock": int(time.time()),
             "ns": 0}
    return asyncio.run(send([value]))


def test_agent_config_tls(zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, group: str,
                          tls_dir: Path, tmp_path: Path) -> None:
    """use_agent_config takes TLSConnect and the rest from the agent's file, both modes."""
    psk_host = _psk_hosts(zabbix_api, zabbix_lab, group, tls_dir)[0]
    cert_host = _cert_hosts(zabbix_api, zabbix_lab, group)[0]
    server = f"ServerActive={zabbix_lab.server}:{zabbix_lab.trapper_port}\n"
    psk_conf = tmp_path / "psk_agentd.conf"
    psk_conf.write_text(server + "TLSConnect=psk\nTLSAccept=unencrypted\n"
                        f"TLSPSKIdentity={(tls_dir / 'psk.identity').read_text().strip()}\n"
                        f"TLSPSKFile={tls_dir / 'psk.key'}\n")
    cert_conf = tmp_path / "cert_agentd.conf"
    cert_conf.write_text(server + f"TLSConnect=cert\nTLSCAFile={tls_dir / 'ca.crt'}\n"
                         f"TLSCertFile={tls_dir / 'sender.crt'}\n"
                         f"TLSKeyFile={tls_dir / 'sender.key'}\n")
    for conf, host in ((psk_conf, psk_host), (cert_conf, cert_host)):
        settings = ZabbixSettings(use_agent_config=True, agent_config=conf, send_timeout=5)
        assert until(lambda s=settings, h=host: _send_once(s, h)[0] == 1, 15,
                     f"{host} accepting a value") is True
    # an agent's PSK file that others may read is refused, naming the agent's setting
    loose = tmp_path / "loose.psk"
    loose.write_text((tls_dir / "psk.key").read_text())
    os.chmod(loose, 0o644)
    psk_conf.write_text(psk_conf.read_text().replace(str(tls_dir / "psk.key"), str(loose)))
    with pytest.raises(ConfigError, match=r"TLSPSKFile in .*chmod 600"):
        zabbix_sender(ZabbixSettings(use_agent_config=True, agent_config=psk_conf))


def test_wrong_psk_is_one_clear_error(zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI,
                                      group: str, tls_dir: Path, tmp_path: Path) -> None:
    host = _psk_hosts(zabbix_api, zabbix_lab, group, tls_dir)[0]
    wrong = tmp_path / "wrong.psk"
    wrong.write_text(secrets.token_hex(16) + "\n")
    os.chmod(wrong, 0o600)
    settings = ZabbixSettings(server=zabbix_lab.server, port=zabbix_lab.trapper_port,
                              tls_connect="psk", tls_psk_identity="linemon-lab-psk",
                              tls_psk_file=wrong, send_timeout=5)
    with pytest.raises(TlsError) as caught:
        _send_once(settings, host)
    text = str(caught.value)
    assert "zabbix.tls_psk_identity" in text and "zabbix.tls_psk_file" in text
    assert wrong.read_text().strip() not in text


class _Forward(http.server.BaseHTTPRequestHandler):
    """HTTPS in front of the lab's HTTP API: what a production frontend looks like."""

    target = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = urllib.request.Request(self.target, data=body, headers={
            "Content-Type": self.headers["Content-Type"],
            **({"Authorization": self.headers["Authorization"]}
               if "Authorization" in self.headers else {})})
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request) as reply:
            data = reply.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def https_api(zabbix_lab: ZabbixLab) -> Iterator[str]:
    handler = type("Forward", (_Forward,), {"target": zabbix_lab.url})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(FIXTURES / "server.crt", FIXTURES / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}/api_jsonrpc.php"
    server.shutdown()
    server.server_close()


def test_api_over_https(zabbix_lab: ZabbixLab, https_api: str) -> None:
    """validate_certs is on by default: the system's CAs do not know the lab's, ca_file does."""
    password = Secret(zabbix_lab.password)
    settings = ZabbixApiSettings(url=https_api, user=zabbix_lab.user)
    assert settings.validate_certs
    with pytest.raises(SyncError, match="CERTIFICATE_VERIFY_FAILED"):
        fetch_raw(settings, Secret(), password)
    trusted = dataclasses.replace(settings, ca_file=FIXTURES / "ca.crt")
    assert isinstance(fetch_raw(trusted, Secret(), password)["hosts"], list)
    other_ca = dataclasses.replace(settings, ca_file=Path(zabbix_lab.lab_dir / "tls" / "ca.crt"))
    with pytest.raises(SyncError, match="CERTIFICATE_VERIFY_FAILED"):
        fetch_raw(other_ca, Secret(), password)
    unchecked = dataclasses.replace(settings, validate_certs=False)
    assert isinstance(fetch_raw(unchecked, Secret(), password)["hosts"], list)


@pytest.mark.skipif(installed() is None, reason="no zabbix_proxy: run scripts/zabbix-lab up")
def test_psk_through_a_real_proxy(zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI, group: str,
                                  tls_dir: Path, tmp_path: Path) -> None:
    """A proxy checks the host's PSK itself (it has it from its configuration): encrypted values
    pass through it into the server's history, unencrypted and wrongly keyed ones do not."""
    name = f"linemon-tls-proxy-{os.getpid()}"
    proxyid = zabbix_api.proxy.create(host=name, status=5)["proxyids"][0]
    host = _psk_hosts(zabbix_api, zabbix_lab, group, tls_dir)[0]
    hostid = zabbix_api.host.get(filter={"host": host})[0]["hostid"]
    try:
        with ZabbixProxy(name, f"{zabbix_lab.server}:{zabbix_lab.trapper_port}", "127.36.1.1",
                         21071, tmp_path / "proxy") as proxy:
            zabbix_api.host.update(hostid=hostid, proxy_hostid=proxyid)
            proxy.wait_for_host(host, timeout=30)
            via = {"server": "127.36.1.1", "port": 21071, "send_timeout": 5}
            assert _send_once(ZabbixSettings(**via), host) == (0, 1, 1)
            wrong = tmp_path / "wrong.psk"
            wrong.write_text(secrets.token_hex(32) + "\n")
            os.chmod(wrong, 0o600)
            psk = {"tls_connect": "psk", "tls_psk_identity": "linemon-lab-psk"}
            with pytest.raises(TlsError, match=r"127\.36\.1\.1:21071.*zabbix\.tls_psk_file"):
                _send_once(ZabbixSettings(**via, **psk, tls_psk_file=wrong), host)
            settings = ZabbixSettings(**via, **psk, tls_psk_file=tls_dir / "psk.key")
            until(lambda: _send_once(settings, host)[0] == 1, 30, "the proxy taking the value")
            until(lambda: _clocks(zabbix_api, [host])[host], 30, "the value in history")
    finally:
        zabbix_api.host.update(hostid=hostid, proxy_hostid="0")
        zabbix_api.proxy.delete(proxyid)


def _crl(tls_dir: Path, workdir: Path, revoke: Path | None) -> Path:
    """A CRL from the lab's CA, revoking ``revoke`` (or nothing)."""
    workdir.mkdir()
    (workdir / "index.txt").write_text("")
    (workdir / "crlnumber").write_text("01\n")
    conf = workdir / "ca.cnf"
    conf.write_text(f"[ca]\ndefault_ca = d\n[d]\ndatabase = {workdir / 'index.txt'}\n"
                    f"crlnumber = {workdir / 'crlnumber'}\ndefault_md = sha256\n"
                    "default_crl_days = 30\n")
    signer = ["-config", str(conf), "-keyfile", str(tls_dir / "ca.key"),
              "-cert", str(tls_dir / "ca.crt")]
    if revoke is not None:
        subprocess.run(["openssl", "ca", *signer, "-revoke", str(revoke)], check=True,
                       capture_output=True)
    subprocess.run(["openssl", "ca", *signer, "-gencrl", "-out", str(workdir / "ca.crl")],
                   check=True, capture_output=True)
    return workdir / "ca.crl"


def test_a_revoked_server_certificate_is_refused(zabbix_lab: ZabbixLab, zabbix_api: ZabbixAPI,
                                                 group: str, tls_dir: Path,
                                                 tmp_path: Path) -> None:
    host = _cert_hosts(zabbix_api, zabbix_lab, group)[0]
    cert = {"server": zabbix_lab.server, "port": zabbix_lab.trapper_port, "send_timeout": 5,
            "tls_connect": "cert", "tls_ca_file": tls_dir / "ca.crt",
            "tls_cert_file": tls_dir / "sender.crt", "tls_key_file": tls_dir / "sender.key"}
    revoked = _crl(tls_dir, tmp_path / "revoked", tls_dir / "server.crt")
    with pytest.raises(TlsError, match=r"certificate revoked.*zabbix\.tls_crl_file"):
        _send_once(ZabbixSettings(**cert, tls_crl_file=revoked), host)
    clean = ZabbixSettings(**cert, tls_crl_file=_crl(tls_dir, tmp_path / "clean", None))
    until(lambda: _send_once(clean, host)[0] == 1, 15, "a value through a clean CRL")
