"""Secrets: read from files, environment variables or systemd credentials; never shown."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from linemon_agent.errors import ConfigError


@dataclass(frozen=True)
class Secret:
    """A secret value whose repr and str never show it."""

    value: str = ""
    origin: str = ""

    def __repr__(self) -> str:
        return f"Secret(<hidden from {self.origin}>)" if self.value else "Secret(<unset>)"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


def check_private_file(path: Path, source: str, key: str) -> None:
    """Refuse a secret file that group or others may read or write."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(source, key, f"cannot read {str(path)!r}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(source, key, f"{str(path)!r} is not a regular file")
    if mode & 0o077:
        raise ConfigError(
            source,
            key,
            f"{str(path)!r} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}",
        )


def read_secret_file(path: Path, source: str, key: str) -> Secret:
    """The first line of a private file (mode 0600 or stricter)."""
    check_private_file(path, source, key)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, key, f"cannot read {str(path)!r}: {exc}") from None
    value = text.splitlines()[0] if text else ""
    if not value:
        raise ConfigError(source, key, f"{str(path)!r} is empty")
    return Secret(value, f"file {path}")


def read_secret_env(name: str, source: str, key: str) -> Secret:
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(source, key, f"environment variable {name} is not set or empty")
    return Secret(value, f"env {name}")


def read_credential(name: str, source: str, key: str) -> Secret:
    """A systemd credential (LoadCredential=) from $CREDENTIALS_DIRECTORY."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise ConfigError(
            source, key, "$CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)"
        )
    if "/" in name or name in ("", ".", ".."):
        raise ConfigError(source, key, f"bad credential name {name!r}")
    path = Path(directory) / name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, key, f"cannot read credential {name!r}: {exc}") from None
    value = text.splitlines()[0] if text else ""
    if not value:
        raise ConfigError(source, key, f"credential {name!r} is empty")
    return Secret(value, f"credential {name}")
