"""The one exception root of linemon; every error carries its context in attributes and str()."""

from __future__ import annotations

EXCERPT_CHARS = 160


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Return a short, single-line, printable excerpt of ``text`` for error messages."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 3] + "..."
    return flat.encode("ascii", "backslashreplace").decode("ascii")


def quote_value(value: object, limit: int = 80) -> str:
    """Quote an untrusted value safely for a message: repr, ASCII only, bounded."""
    text = ascii(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


# Error kinds: what a caller can do about an error. ``protocol`` maps each kind to the one
# socket error code and exit code used by the client, the CLI and the server.
KIND_INVALID = "invalid"  # the request or a value in it is wrong: fix it
KIND_NOT_FOUND = "not_found"  # no such line, router or feature
KIND_UNAVAILABLE = "unavailable"  # a service linemon depends on is down: try again later
KIND_TIMEOUT = "timeout"  # the answer did not come in time
KIND_PERMISSION = "permission"
KIND_SHUTTING_DOWN = "shutting_down"
KIND_INTERNAL = "internal"  # a bug: see the log


class LinemonError(Exception):
    """Root of every error linemon raises on purpose; ``kind`` says what a caller can do."""

    kind = KIND_INTERNAL


class NotFoundError(LinemonError, LookupError):
    """A line, router or feature the request names does not exist here."""

    kind = KIND_NOT_FOUND


class UnavailableError(LinemonError):
    """Something the broker depends on (the Zabbix API, a router) cannot be reached now."""

    kind = KIND_UNAVAILABLE


class ShuttingDownError(LinemonError):
    """The broker is stopping and takes no new work."""

    kind = KIND_SHUTTING_DOWN


class ValidationError(LinemonError, ValueError):
    """A value from a user, a config file or a Zabbix macro is not acceptable."""

    kind = KIND_INVALID

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field} {quote_value(value)}: {reason}")


class UnknownPlatformError(LinemonError, LookupError):
    """A platform name that no registry entry provides."""

    kind = KIND_INVALID

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(
            f"unknown platform {quote_value(name)}; known platforms: {', '.join(known)}"
        )


class UnsupportedOptionError(ValidationError):
    """A ping option that a platform's command line cannot express."""

    def __init__(self, platform: str, field: str, value: object, reason: str = "") -> None:
        self.platform = platform
        why = reason or f"platform {platform} cannot express this option"
        super().__init__(field, value, why)


class ParseError(LinemonError):
    """A router's answer could not be read as a ping result."""

    def __init__(self, platform: str, reason: str, output: str = "") -> None:
        self.platform = platform
        self.reason = reason
        self.output_excerpt = excerpt(output)
        msg = f"{platform}: cannot parse ping output: {reason}"
        if self.output_excerpt:
            msg += f" (output: {self.output_excerpt!r})"
        super().__init__(msg)


class ConfigError(LinemonError):
    """A configuration file or environment value is wrong; names the file, key and value."""

    kind = KIND_INVALID

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")


class CommandError(LinemonError):
    """The router refused or could not run the ping (bad VRF, unknown host, invalid input)."""

    def __init__(self, platform: str, message: str, output: str = "") -> None:
        self.platform = platform
        self.message = message
        self.output_excerpt = excerpt(output)
        super().__init__(f"{platform}: router refused the ping: {message}")


class SessionError(LinemonError):
    """A router session could not be opened or broke; ``status`` is the result status to report."""

    kind = KIND_UNAVAILABLE

    def __init__(self, router: str, status: str, message: str, command: str = "") -> None:
        self.router = router
        self.status = status
        self.message = message
        self.command = command
        where = f" running {command!r}" if command else ""
        super().__init__(f"router {router}: {status}{where}: {message}")
