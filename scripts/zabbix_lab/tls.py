"""The lab's TLS material: a CA, the server's certificate, a sender's, an untrusted pair, a PSK.

Made once with the `openssl` command into `<lab>/tls` and kept (the server's config points at
it, so every `up` gives the same files). Hosts that accept only certificates or only a PSK
refuse unencrypted trapper values; the server needs TLSCAFile/TLSCertFile/TLSKeyFile for the
certificate ones (PSKs are per host, in the database). RSA keys: Debian's Zabbix 6.0 is built
with GnuTLS, whose certificate cipher suites are ECDHE-RSA and RSA only (an EC key fails the
handshake with "No supported cipher suites have been found"), and TLS 1.2 at most. Without
`openssl` (a bare chroot) the lab has no TLS and its server config says nothing about it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import procs
from settings import Lab

CA_SUBJECT = "/O=linemon lab/CN=linemon lab CA"
SERVER_SUBJECT = "/O=linemon lab/CN=linemon lab server"
SENDER_SUBJECT = "/O=linemon lab/CN=linemon lab sender"
ROGUE_CA_SUBJECT = "/O=linemon rogue/CN=linemon rogue CA"
ROGUE_SENDER_SUBJECT = "/O=linemon rogue/CN=linemon rogue sender"
PSK_IDENTITY = "linemon-lab-psk"
DAYS = 3650
_LEAF_EXT = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=serverAuth,clientAuth\n"
)
# every file the lab needs; missing any of them: all are made again
FILES = (
    "ca.crt", "server.crt", "server.key", "sender.crt", "sender.key",
    "rogue-ca.crt", "rogue-sender.crt", "rogue-sender.key", "psk.key", "psk.identity",
)


def available() -> bool:
    return shutil.which("openssl") is not None


def _openssl(*args: str | Path) -> None:
    procs.run(["openssl", *args], timeout=60)


def _key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    path.chmod(0o600)


def _ca(directory: Path, name: str, subject: str) -> None:
    key = directory / f"{name}.key"
    _key(key)
    _openssl("req", "-x509", "-new", "-key", key, "-out", directory / f"{name}.crt",
             "-days", str(DAYS), "-subj", subject,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def _leaf(directory: Path, name: str, subject: str, ca: str) -> None:
    key = directory / f"{name}.key"
    csr = directory / f"{name}.csr"
    ext = directory / "leaf.ext"
    ext.write_text(_LEAF_EXT)
    _key(key)
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", subject)
    _openssl("x509", "-req", "-in", csr, "-CA", directory / f"{ca}.crt",
             "-CAkey", directory / f"{ca}.key", "-CAcreateserial",
             "-out", directory / f"{name}.crt", "-days", str(DAYS), "-extfile", ext)
    csr.unlink()
    ext.unlink()


def ensure(lab: Lab) -> bool:
    """Make the lab's TLS files unless all are there; True if it made them."""
    directory = lab.tls_dir
    if all((directory / name).exists() for name in FILES):
        return False
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    _ca(directory, "ca", CA_SUBJECT)
    _leaf(directory, "server", SERVER_SUBJECT, "ca")
    _leaf(directory, "sender", SENDER_SUBJECT, "ca")
    _ca(directory, "rogue-ca", ROGUE_CA_SUBJECT)
    _leaf(directory, "rogue-sender", ROGUE_SENDER_SUBJECT, "rogue-ca")
    psk = directory / "psk.key"
    psk.write_text(secrets.token_hex(32) + "\n")
    psk.chmod(0o600)
    (directory / "psk.identity").write_text(PSK_IDENTITY + "\n")
    # the server (user zabbix) reads its own key; everything else stays root's
    os.chown(directory / "server.key", *_zabbix_ids())
    for name in ("ca.crt", "server.crt", "sender.crt", "rogue-ca.crt", "rogue-sender.crt"):
        (directory / name).chmod(0o644)
    return True


def _zabbix_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("zabbix")
    return entry.pw_uid, entry.pw_gid
