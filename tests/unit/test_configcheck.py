"""`linemon config check` under strict host keys: a missing known_hosts file, routers absent."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh
from click.testing import CliRunner

from linemon_agent.cli import cli

KEY = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()


def _config(tmp_path: Path, policy: str = "strict") -> Path:
    secret = tmp_path / "pw"
    secret.write_text("pw\n")
    os.chmod(secret, 0o600)
    path = tmp_path / "linemon.toml"
    path.write_text(
        f'[broker]\nhost_key_policy = "{policy}"\nknown_hosts = "{tmp_path}/known_hosts"\n'
        f'[credentials.default]\nusername = "u"\npassword_file = "{secret}"\n'
        '[[routers]]\nname = "pe1"\nhost = "192.0.2.1"\nplatform = "linux"\n'
        '[[routers]]\nname = "pe2"\nhost = "192.0.2.2"\nport = 2222\nplatform = "linux"\n'
        '[[routers]]\nname = "pe3"\nhost = "192.0.2.3"\nplatform = "linux"\n'
    )
    return path


def _check(path: Path) -> tuple[int, str]:
    done = CliRunner().invoke(cli, ["config", "check", "--config", str(path)])
    return done.exit_code, done.output


def test_strict_without_known_hosts_fails(tmp_path: Path) -> None:
    code, out = _check(_config(tmp_path))
    assert code == 78, out
    assert f"broker.known_hosts: {tmp_path}/known_hosts does not exist" in out
    assert "ssh-keyscan" in out and "pe1" not in out  # one message, not one per router


def test_strict_names_the_routers_absent_from_known_hosts(tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text(f"192.0.2.1 {KEY}\n[192.0.2.2]:2222 {KEY}\n")
    path = _config(tmp_path)
    code, out = _check(path)
    assert code == 78, out
    assert "1 problem(s)" in out
    assert "routers 'pe3': 192.0.2.3 has no key in" in out
    assert "ssh-keyscan -p 22 192.0.2.3" in out
    (tmp_path / "known_hosts").write_text(f"192.0.2.1 {KEY}\n")
    code, out = _check(path)
    assert code == 78 and "routers 'pe2': [192.0.2.2]:2222 has no key" in out, out
    assert "ssh-keyscan -p 2222 192.0.2.2" in out


def test_strict_with_every_key_and_other_policies_pass(tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text(
        f"192.0.2.1,192.0.2.3 {KEY}\n[192.0.2.2]:2222 {KEY}\n"
    )
    code, out = _check(_config(tmp_path))
    assert code == 0 and ": OK: 3 routers" in out, out
    (tmp_path / "known_hosts").unlink()
    for policy in ("tofu", "insecure"):
        code, out = _check(_config(tmp_path, policy))
        assert code == 0, (policy, out)


def test_a_known_hosts_that_is_no_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "known_hosts").mkdir()
    code, out = _check(_config(tmp_path))
    assert code == 78 and "known_hosts is not a file" in out, out
