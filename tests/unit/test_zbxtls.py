"""TLS settings for the sender: Zabbix's rules, file checks without a connection, the words of
each handshake failure. Certificates in tests/fixtures/tls (a CA, a client pair, a stray key)."""

from __future__ import annotations

import os
import shutil
import ssl
from pathlib import Path

import pytest

from linemon_agent import zbxtls
from linemon_agent.config import parse_config
from linemon_agent.errors import ConfigError
from linemon_agent.zbxtls import TlsConfigError, TlsSettings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tls"
PSK = "0123456789abcdef" * 4
CLIENT_SUBJECT = r"CN=linemon\, test\+client,O=linemon test,DC=example,DC=org"


def _private(tmp_path: Path, name: str, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


def _cert(tmp_path: Path, **changes: str) -> TlsSettings:
    key = tmp_path / "client.key"
    shutil.copy(FIXTURES / "client.key", key)
    values = {"connect": "cert", "ca_file": str(FIXTURES / "ca.crt"),
              "cert_file": str(FIXTURES / "client.crt"), "key_file": str(key), **changes}
    return TlsSettings(**values)


def _problems(tls: TlsSettings) -> dict[str, str]:
    return dict(zbxtls.problems(tls))


def test_each_mode_needs_its_settings_and_only_those() -> None:
    assert _problems(TlsSettings()) == {}
    assert _problems(TlsSettings(connect="tls")) == {
        "zabbix.tls_connect": "must be one of unencrypted, psk, cert, not 'tls'"}
    psk = _problems(TlsSettings(connect="psk", ca_file="/ca"))
    assert set(psk) == {"zabbix.tls_psk_identity", "zabbix.tls_psk_file", "zabbix.tls_ca_file"}
    assert psk["zabbix.tls_psk_file"] == "is required when zabbix.tls_connect is psk"
    assert psk["zabbix.tls_ca_file"] == "is set but zabbix.tls_connect is psk"
    cert = _problems(TlsSettings(connect="cert", psk_identity="x"))
    assert set(cert) == {"zabbix.tls_ca_file", "zabbix.tls_cert_file", "zabbix.tls_key_file",
                         "zabbix.tls_psk_identity"}
    assert set(_problems(TlsSettings(server_cert_subject="CN=x"))) == {
        "zabbix.tls_server_cert_subject"}
    long = _problems(TlsSettings(connect="psk", psk_identity="é" * 64, psk_file="/k"))
    assert long == {"zabbix.tls_psk_identity": "longer than 127 bytes"}


def test_the_agents_file_is_named_as_the_agent_names_it() -> None:
    tls = zbxtls.from_agent({"tlsconnect": "cert", "tlscafile": "/ca", "tlspskfile": "/k"},
                            "/etc/zabbix/zabbix_agentd.conf")
    # TLSPSKFile may serve the agent's TLSAccept: not an error there
    assert _problems(tls) == {
        "TLSCertFile in /etc/zabbix/zabbix_agentd.conf": "is required when TLSConnect in"
        " /etc/zabbix/zabbix_agentd.conf is cert",
        "TLSKeyFile in /etc/zabbix/zabbix_agentd.conf": "is required when TLSConnect in"
        " /etc/zabbix/zabbix_agentd.conf is cert",
    }
    assert zbxtls.from_agent({}, "/a").connect == "unencrypted"


@pytest.mark.parametrize(("text", "error"), [
    ("ab" * 15, "32-512 hex digits, it has 30"),
    ("ab" * 257, "32-512 hex digits, it has 514"),
    ("a" * 33, "even number"),
    ("zz" * 16, "hex digits only"),
])
def test_psk_rules(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        zbxtls.parse_psk(text)


def test_psk_lengths_zabbix_accepts() -> None:
    assert zbxtls.parse_psk("ab" * 16 + "\n") == b"\xab" * 16
    assert len(zbxtls.parse_psk("0F" * 256)) == 256


def test_psk_file_follows_the_secret_rules(tmp_path: Path) -> None:
    loose = _private(tmp_path, "loose.psk", PSK + "\n", 0o640)
    tls = TlsSettings(connect="psk", psk_identity="id", psk_file=str(loose))
    with pytest.raises(TlsConfigError, match=r"zabbix.tls_psk_file: .*chmod 600") as caught:
        zbxtls.load(tls, "t.toml")
    assert PSK not in str(caught.value)
    short = _private(tmp_path, "short.psk", "abcd\n")
    with pytest.raises(TlsConfigError, match=r"short.psk: the key must be 32-512 hex digits"):
        zbxtls.load(TlsSettings(connect="psk", psk_identity="id", psk_file=str(short)), "t")
    with pytest.raises(TlsConfigError, match="cannot read"):
        zbxtls.load(TlsSettings(connect="psk", psk_identity="id",
                                psk_file=str(tmp_path / "none")), "t")


def test_psk_context_is_tls12_psk_only(tmp_path: Path) -> None:
    path = _private(tmp_path, "good.psk", PSK + "\n")
    loaded = zbxtls.load(TlsSettings(connect="psk", psk_identity="id", psk_file=str(path)), "t")
    context = loaded.ssl_context({})
    assert context.maximum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    assert {c["name"] for c in context.get_ciphers()} and all(
        "PSK" in c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2")
    assert loaded.secret_values() == [PSK] and PSK not in repr(loaded)


def test_certificate_files_are_checked_without_a_connection(tmp_path: Path) -> None:
    loaded = zbxtls.load(_cert(tmp_path), "t.toml")
    assert loaded.context is not None and loaded.context.verify_mode == ssl.CERT_REQUIRED
    assert loaded.secret_values() == []
    stray = tmp_path / "other.key"
    shutil.copy(FIXTURES / "other.key", stray)
    with pytest.raises(TlsConfigError, match=r"zabbix.tls_cert_file: .*client.crt' does not"
                                             r" match the key zabbix.tls_key_file"):
        zbxtls.load(_cert(tmp_path, key_file=str(stray)), "t.toml")
    junk = _private(tmp_path, "junk.crt", "not a certificate\n", 0o644)
    with pytest.raises(TlsConfigError) as caught:
        zbxtls.load(_cert(tmp_path, ca_file=str(junk), cert_file=str(tmp_path / "none")), "t")
    assert dict(caught.value.problems) == {
        "zabbix.tls_cert_file": f"cannot read {str(tmp_path / 'none')!r}"}
    with pytest.raises(TlsConfigError, match=r"zabbix.tls_ca_file: cannot load .*junk.crt"):
        zbxtls.load(_cert(tmp_path, ca_file=str(junk)), "t")


def test_rfc4514_as_zabbix_writes_it() -> None:
    subject = ((("domainComponent", "org"),), (("domainComponent", "example"),),
               (("organizationName", "linemon test"),), (("commonName", "linemon, test+client"),))
    assert zbxtls.rfc4514(subject) == CLIENT_SUBJECT
    assert zbxtls.rfc4514(((("commonName", " a "), ("serialNumber", "7")),)) == (
        r"CN=\ a\ +serialNumber=7")


def test_a_trusted_certificate_with_another_subject_is_refused(tmp_path: Path) -> None:
    tls = _cert(tmp_path, server_cert_subject="CN=zabbix,O=linemon test")
    context = zbxtls.load(tls, "t").context
    assert isinstance(context, zbxtls._CertContext)
    peer = {"subject": ((("commonName", "zabbix"),), (("organizationName", "linemon test"),)),
            "issuer": ((("commonName", "CA"),),)}
    with pytest.raises(zbxtls.PeerMismatch) as caught:
        context.check_peer({**peer, "subject": ((("commonName", "other"),),)})
    assert str(caught.value.args[0]) == (
        "the server's certificate subject is 'CN=other', zabbix.tls_server_cert_subject wants"
        " 'CN=zabbix,O=linemon test'")
    context.check_peer({**peer, "subject": tuple(reversed(peer["subject"]))})


def test_handshake_failures_name_the_setting(tmp_path: Path) -> None:
    psk = TlsSettings(connect="psk", psk_identity="lab", psk_file="/etc/linemon/zbx.psk")
    where = "zbx:10051"
    reset = zbxtls.failure(ConnectionResetError(), psk, where)
    assert reset is not None
    assert str(reset) == (
        "TLS with PSK to zbx:10051 refused (ConnectionResetError): the identity 'lab'"
        " (zabbix.tls_psk_identity) and the key in /etc/linemon/zbx.psk (zabbix.tls_psk_file)"
        " must be the PSK of the hosts in Zabbix")
    cert = _cert(tmp_path)
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_message = "unable to get local issuer certificate"
    words = str(zbxtls.failure(untrusted, cert, where))
    assert "not trusted (unable to get local issuer certificate): zabbix.tls_ca_file" in words
    refused = str(zbxtls.failure(ssl.SSLError(1, "alert"), cert, where))
    assert "zabbix.tls_cert_file" in refused and "server's TLSCAFile" in refused
    assert zbxtls.failure(ConnectionResetError(), TlsSettings(), where) is None
    assert zbxtls.failure(TimeoutError(), psk, where) is None


def test_config_lists_tls_problems_with_the_rest(tmp_path: Path) -> None:
    doc = {"zabbix": {"tls_connect": "psk", "tls_psk_identity": "lab",
                      "tls_psk_file": str(_private(tmp_path, "k", "xyz\n")),
                      "tls_ca_file": "/ca", "port": 0}}
    with pytest.raises(ConfigError) as caught:
        parse_config(doc, "t.toml", env={})
    text = str(caught.value)
    assert "3 problem(s)" in text and "zabbix.port" in text
    assert "zabbix.tls_ca_file: is set but zabbix.tls_connect is psk" in text
    good = _private(tmp_path, "good", PSK + "\n")
    env = {"LINEMON_ZABBIX_TLS_CONNECT": "psk", "LINEMON_ZABBIX_TLS_PSK_IDENTITY": "lab",
           "LINEMON_ZABBIX_TLS_PSK_FILE": str(good)}
    config = parse_config({}, "t.toml", env=env)
    assert config.zabbix.tls_psk_file == good and PSK not in repr(config)
    doc = {"zabbix": {"use_agent_config": True, "tls_connect": "cert"}}
    with pytest.raises(ConfigError, match="use_agent_config takes TLS from the agent's file"):
        parse_config(doc, "t.toml", env={})


def test_api_ca_file_is_checked_at_load(tmp_path: Path) -> None:
    doc = {"zabbix_api": {"url": "https://zbx/api_jsonrpc.php", "ca_file": str(tmp_path / "no")}}
    with pytest.raises(ConfigError, match=r"zabbix_api.ca_file: cannot load .*/no'"):
        parse_config(doc, "t.toml", env={})
    doc["zabbix_api"]["ca_file"] = str(FIXTURES / "ca.crt")
    assert parse_config(doc, "t.toml", env={}).zabbix_api.ca_file == FIXTURES / "ca.crt"


def test_config_check_reads_the_tls_files_without_contacting_zabbix(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from linemon_agent.cli import cli

    psk = _private(tmp_path, "zbx.psk", PSK + "\n")
    config = tmp_path / "linemon.toml"
    config.write_text('[zabbix]\nserver = "192.0.2.1"\ntls_connect = "psk"\n'
                      f'tls_psk_identity = "lab"\ntls_psk_file = "{psk}"\n')
    done = CliRunner().invoke(cli, ["config", "check", "--config", str(config)])
    assert done.exit_code == 0 and "to Zabbix: psk (identity 'lab')" in done.output
    assert PSK not in done.output
    os.chmod(psk, 0o644)
    done = CliRunner().invoke(cli, ["config", "check", "--config", str(config)])
    assert done.exit_code == 78 and "zabbix.tls_psk_file" in done.output
    agent = tmp_path / "agentd.conf"
    agent.write_text(f"ServerActive=192.0.2.1\nTLSConnect=cert\nTLSCAFile={FIXTURES / 'ca.crt'}\n"
                     f"TLSCertFile={FIXTURES / 'client.crt'}\n"
                     f"TLSKeyFile={FIXTURES / 'other.key'}\n")
    config.write_text(f'[zabbix]\nuse_agent_config = true\nagent_config = "{agent}"\n')
    done = CliRunner().invoke(cli, ["config", "check", "--config", str(config)])
    assert done.exit_code == 78
    assert f"TLSCertFile in {agent}" in done.output and "does not match the key" in done.output
