"""TLS to the Zabbix trapper: Zabbix's own settings (PSK or certificate), checks, SSL contexts.

The settings keep Zabbix's names and meaning (zabbix_sender's and the agent's ``TLSConnect``,
``TLSCAFile``, ... ``TLSPSKFile``), from ``[zabbix] tls_*`` or the agent's file. Certificates
use the standard library's ``ssl``; a PSK needs ``sslpsk3`` on Python < 3.13 (the standard
library gained ``set_psk_client_callback`` in 3.13; sslpsk3's ``SSLPSKContext`` uses it there
and its own OpenSSL binding before). Either way zabbix_utils' AsyncSender gets what it expects:
a callable returning an ``ssl.SSLContext``.

Like Zabbix, the server's host name is not checked: a certificate is trusted when a CA in
``tls_ca_file`` signed it (and ``tls_crl_file`` does not revoke it) and, when set, its issuer
and subject equal ``tls_server_cert_issuer`` / ``tls_server_cert_subject`` (RFC 4514 strings,
most specific part first: ``CN=Zabbix server,O=Example``).
"""

from __future__ import annotations

import asyncio
import configparser
import dataclasses
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linemon_agent.errors import ConfigError, LinemonError, excerpt
from linemon_agent.secrets import Secret, read_secret_file

MODES = ("unencrypted", "psk", "cert")
PSK_HEX_MIN, PSK_HEX_MAX = 32, 512  # Zabbix: a 128- to 2048-bit key, as hex digits
PSK_IDENTITY_MAX_BYTES = 127  # OpenSSL's limit (Zabbix's own is 128 UTF-8 characters)
FIELDS = (
    "connect", "ca_file", "crl_file", "cert_file", "key_file",
    "server_cert_issuer", "server_cert_subject", "psk_identity", "psk_file",
)
AGENT_NAMES = {
    "connect": "TLSConnect", "ca_file": "TLSCAFile", "crl_file": "TLSCRLFile",
    "cert_file": "TLSCertFile", "key_file": "TLSKeyFile",
    "server_cert_issuer": "TLSServerCertIssuer", "server_cert_subject": "TLSServerCertSubject",
    "psk_identity": "TLSPSKIdentity", "psk_file": "TLSPSKFile",
}
_CERT_ONLY = ("ca_file", "crl_file", "cert_file", "key_file", "server_cert_issuer",
              "server_cert_subject")
_PSK_ONLY = ("psk_identity", "psk_file")
_REQUIRED = {"cert": ("ca_file", "cert_file", "key_file"), "psk": _PSK_ONLY}
# RFC 4514 names of the attributes Python's getpeercert() spells out
_RDN_NAMES = {
    "commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
    "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
    "streetAddress": "STREET", "domainComponent": "DC", "userId": "UID",
}


class TlsError(LinemonError):
    """A TLS connection to Zabbix failed; the message names the setting to fix."""


class TlsConfigError(ConfigError):
    """TLS settings that cannot work; ``problems`` lists (setting, what is wrong)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        if len(problems) == 1:
            super().__init__(source, *problems[0])
        else:
            detail = "\n  ".join(f"{key}: {message}" for key, message in problems)
            super().__init__(source, "", f"{len(problems)} problem(s):\n  {detail}")


@dataclass(frozen=True)
class TlsSettings:
    """Zabbix's TLS settings for one sender, and where they were read (to name them)."""

    connect: str = "unencrypted"
    ca_file: str = ""
    crl_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_cert_issuer: str = ""
    server_cert_subject: str = ""
    psk_identity: str = ""
    psk_file: str = ""
    agent_config: str = ""  # the agent's file they came from; "" for linemon.toml's [zabbix]

    def key(self, field: str) -> str:
        """The setting's name as the operator wrote it."""
        if self.agent_config:
            return f"{AGENT_NAMES[field]} in {self.agent_config}"
        return f"zabbix.tls_{field}"


def from_zabbix(zabbix: Any) -> TlsSettings:
    """The [zabbix] table's tls_* keys (a ZabbixSettings)."""
    values = {f: getattr(zabbix, f"tls_{f}") for f in FIELDS}
    return TlsSettings(**{f: "" if v is None else str(v) for f, v in values.items()})


def from_agent(tls: Mapping[str, str], path: str) -> TlsSettings:
    """The TLS* lines of an agent's file, as zabbix_utils read them (lower-case keys)."""
    values = {f: (tls.get(AGENT_NAMES[f].lower()) or "").strip() for f in FIELDS}
    values["connect"] = values["connect"] or "unencrypted"
    return TlsSettings(**values, agent_config=path)


def read_agent(path: Path) -> TlsSettings:
    """The TLS* lines of the agent's file, read as zabbix_utils reads it (no Include=)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string("[root]\n" + path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError(str(path), "", f"cannot read the agent's file: {exc}") from None
    return from_agent(dict(parser["root"]), str(path))


def describe(tls: TlsSettings) -> str:
    """One line for `config check`: the mode and what identifies it (never the PSK)."""
    if tls.connect == "psk":
        return f"psk (identity {tls.psk_identity!r})"
    if tls.connect == "cert":
        return f"cert ({tls.cert_file}, CA {tls.ca_file})"
    return tls.connect


def problems(tls: TlsSettings) -> list[tuple[str, str]]:
    """What is wrong with the settings themselves, without reading any file."""
    found: list[tuple[str, str]] = []
    if tls.connect not in MODES:
        return [(tls.key("connect"), f"must be one of {', '.join(MODES)}, not {tls.connect!r}")]
    for field in _REQUIRED.get(tls.connect, ()):
        if not getattr(tls, field):
            found.append(
                (tls.key(field), f"is required when {tls.key('connect')} is {tls.connect}")
            )
    # A setting the mode ignores is a mistake Zabbix refuses too; the agent's file also serves
    # TLSAccept (connections to the agent), so there unused settings are nobody's error.
    unused = _CERT_ONLY if tls.connect == "psk" else _PSK_ONLY if tls.connect == "cert" else (
        *_CERT_ONLY, *_PSK_ONLY)
    if not tls.agent_config:
        for field in unused:
            if getattr(tls, field):
                found.append((tls.key(field), f"is set but {tls.key('connect')} is {tls.connect}"))
    if tls.connect == "psk" and len(tls.psk_identity.encode()) > PSK_IDENTITY_MAX_BYTES:
        found.append((tls.key("psk_identity"), f"longer than {PSK_IDENTITY_MAX_BYTES} bytes"))
    return found


def parse_psk(text: str) -> bytes:
    """The key from a PSK file's first line: 32-512 hex digits, an even number of them."""
    value = text.strip()
    if not PSK_HEX_MIN <= len(value) <= PSK_HEX_MAX:
        raise ValueError(
            f"the key must be {PSK_HEX_MIN}-{PSK_HEX_MAX} hex digits, it has {len(value)}"
            " (make one with: openssl rand -hex 32)"
        )
    if len(value) % 2:
        raise ValueError("the key must have an even number of hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError("the key must be hex digits only (0-9, a-f)") from None


@dataclass(frozen=True)
class Tls:
    """Loaded TLS settings: the context every connection uses, and the PSK to redact."""

    settings: TlsSettings
    context: ssl.SSLContext | None = None
    psk: Secret = dataclasses.field(default_factory=Secret)

    def secret_values(self) -> list[str]:
        return [self.psk.value] if self.psk else []

    def ssl_context(self, _tls: Any = None) -> ssl.SSLContext:
        """For AsyncSender(ssl_context=...): one context, reused by every connection."""
        assert self.context is not None
        return self.context


def load(tls: TlsSettings, source: str) -> Tls:
    """Check the settings and read their files (no connection); TlsConfigError lists the
    problems."""
    found = problems(tls)
    if tls.connect == "psk" and tls.psk_file:
        secret, key = _read_psk(tls, source, found)
        _raise(source, found)
        return Tls(tls, _psk_context(tls.psk_identity, key), secret)
    if tls.connect == "cert":
        for field in ("ca_file", "crl_file", "cert_file", "key_file"):
            path = getattr(tls, field)
            if path and not _readable(Path(path)):
                found.append((tls.key(field), f"cannot read {path!r}"))
        _raise(source, found)
        return Tls(tls, _cert_context(tls, source))
    _raise(source, found)
    return Tls(tls)


def _read_psk(tls: TlsSettings, source: str, found: list[tuple[str, str]]) -> tuple[Secret, bytes]:
    try:
        secret = read_secret_file(Path(tls.psk_file), source, tls.key("psk_file"))
        return secret, parse_psk(secret.value)
    except ConfigError as exc:
        found.append((tls.key("psk_file"), str(exc).split(": ", 2)[-1]))
    except ValueError as exc:
        found.append((tls.key("psk_file"), f"{tls.psk_file}: {exc}"))
    return Secret(), b""


def _readable(path: Path) -> bool:
    try:
        with path.open("rb"):
            return path.is_file()
    except OSError:
        return False


def _raise(source: str, found: list[tuple[str, str]]) -> None:
    if found:
        raise TlsConfigError(source, found)


def _psk_context(identity: str, key: bytes) -> ssl.SSLContext:
    from sslpsk3 import SSLPSKContext

    context = SSLPSKContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the PSK authenticates both ends
    # TLS 1.2 with PSK cipher suites only: no certificate path at all. Under TLS 1.3 a server
    # that ignored the PSK could go on with a certificate nobody checks. Zabbix accepts PSK
    # over TLS 1.2 with every crypto library (Debian's GnuTLS build offers nothing newer).
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("PSK")
    context.set_psk_client_callback(lambda _hint: (identity, key))
    result: ssl.SSLContext = context
    return result


class _CheckedObject(ssl.SSLObject):
    """An SSL connection that also checks the server's issuer and subject, as Zabbix does."""

    def do_handshake(self) -> None:
        super().do_handshake()
        context = self.context
        if isinstance(context, _CertContext):
            context.check_peer(self.getpeercert())


class PeerMismatch(ssl.SSLCertVerificationError):
    """The server's certificate is trusted but not the one tls_server_cert_* asks for."""


class _CertContext(ssl.SSLContext):
    expected: dict[str, tuple[str, str]] = {}  # "issuer"/"subject" -> (setting, value)

    def check_peer(self, cert: Any) -> None:
        for part, (key, wanted) in self.expected.items():
            actual = rfc4514(cert.get(part, ()))
            if actual != wanted:
                raise PeerMismatch(f"the server's certificate {part} is {actual!r}, {key} wants"
                                   f" {wanted!r}")


_CertContext.sslobject_class = _CheckedObject


def _cert_context(tls: TlsSettings, source: str) -> ssl.SSLContext:
    context = _CertContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # Zabbix checks issuer and subject, never host names
    context.verify_mode = ssl.CERT_REQUIRED
    context.expected = {
        part: (tls.key(f"server_cert_{part}"), value)
        for part, value in (("issuer", tls.server_cert_issuer),
                            ("subject", tls.server_cert_subject)) if value
    }
    steps: list[tuple[str, Any]] = [
        ("ca_file", lambda: context.load_verify_locations(cafile=tls.ca_file)),
        ("cert_file", lambda: context.load_cert_chain(tls.cert_file, tls.key_file, _no_password)),
    ]
    if tls.crl_file:
        # as Zabbix: every certificate in the chain is checked against the CRLs
        steps.append(("crl_file", lambda: context.load_verify_locations(cafile=tls.crl_file)))
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
    found: list[tuple[str, str]] = []
    for field, step in steps:
        try:
            step()
        except (ssl.SSLError, ValueError, OSError) as exc:
            found.append((tls.key(field), _load_failure(field, tls, exc)))
    _raise(source, found)
    return context


def _no_password() -> str:
    return ""  # an encrypted key fails to load instead of prompting on a terminal


def _load_failure(field: str, tls: TlsSettings, exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or excerpt(str(exc), 120)
    path = getattr(tls, field)
    if field == "cert_file":
        if reason == "KEY_VALUES_MISMATCH":
            return (f"{tls.cert_file!r} does not match the key {tls.key('key_file')}"
                    f" ({tls.key_file!r})")
        return (f"cannot load {tls.cert_file!r} with the key {tls.key_file!r} ({reason}): both"
                " PEM, the key not encrypted")
    return f"cannot load {path!r} as PEM ({reason})"


def rfc4514(name: Any) -> str:
    """getpeercert()'s issuer or subject as Zabbix writes it: ``CN=a,O=b`` (most specific first)."""
    rdns = []
    for rdn in reversed(name):
        rdns.append("+".join(f"{_RDN_NAMES.get(k, k)}={_escape(v)}" for k, v in rdn))
    return ",".join(rdns)


def _escape(value: str) -> str:
    """RFC 4514 section 2.4: these characters anywhere, a space or # at the start, a space at
    the end."""
    out = "".join(f"\\{c}" if c in ',+"\\<>;' else c for c in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def failure(exc: BaseException, tls: TlsSettings, where: str) -> TlsError | None:
    """A send's TLS failure in words that name the setting to fix; None if not about TLS."""
    if tls.connect == "unencrypted":
        return None
    if isinstance(exc, PeerMismatch):
        return TlsError(f"TLS to {where}: {exc.args[0] if exc.args else exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or exc.reason or "not trusted"
        return TlsError(
            f"TLS to {where}: the server's certificate is not trusted ({why}): {tls.key('ca_file')}"
            f" ({tls.ca_file}) must hold the CA that signed it"
            + (f", and {tls.key('crl_file')} must not revoke it" if tls.crl_file else "")
        )
    lost = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
            asyncio.IncompleteReadError, EOFError)
    if not isinstance(exc, (ssl.SSLError, *lost)):
        return None
    how = getattr(exc, "reason", None) or type(exc).__name__
    if tls.connect == "psk":
        return TlsError(
            f"TLS with PSK to {where} refused ({how}): the identity {tls.psk_identity!r}"
            f" ({tls.key('psk_identity')}) and the key in {tls.psk_file}"
            f" ({tls.key('psk_file')}) must be the PSK of the hosts in Zabbix"
        )
    return TlsError(
        f"TLS with certificate to {where} refused ({how}): the server's TLSCAFile must hold the"
        f" CA that signed {tls.cert_file} ({tls.key('cert_file')}), not revoked by its TLSCRLFile"
    )
