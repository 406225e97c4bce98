"""Validation of every value that may reach a router command line.

Values come from config files, the CLI and Zabbix macros that anyone with Zabbix rights can
edit. Each function returns a canonical value (built by us, not copied from the input) or
raises :class:`ValidationError` naming the field and the (safely quoted) bad value.
"""

from __future__ import annotations

import ipaddress
import re

from linemon_agent.errors import ValidationError

__all__ = [
    "ValidationError",
    "address",
    "count",
    "hostname",
    "integer",
    "interface",
    "name",
    "number",
    "size",
    "target",
    "timeout",
    "vrf",
]

MAX_COUNT = 1000
MAX_SIZE = 65507
MIN_TIMEOUT = 0.1
MAX_TIMEOUT = 60.0

_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_VRF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")
_INTERFACE = re.compile(r"[A-Za-z][A-Za-z0-9_./:-]{0,63}\Z")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
_DIGITS = re.compile(r"[0-9]{1,9}\Z")
_DECIMAL = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6})?\Z")


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, value, f"must be a string, not {type(value).__name__}")
    if not value:
        raise ValidationError(field, value, "must not be empty")
    if len(value) > limit:
        raise ValidationError(field, value, f"longer than {limit} characters")
    if not value.isascii() or not value.isprintable():
        raise ValidationError(field, value, "only printable ASCII characters are allowed")
    return value


def address(value: object, field: str = "address") -> str:
    """An IPv4 or IPv6 address without zone index, returned in canonical form."""
    text = _text(value, field, 45)
    if "%" in text:
        raise ValidationError(field, value, "IPv6 zone indexes are not supported")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValidationError(field, value, "not an IPv4 or IPv6 address") from None


def hostname(value: object, field: str = "hostname") -> str:
    """A DNS host name (RFC 1123 letters, digits, hyphens; labels of 1-63), lower-cased."""
    text = _text(value, field, 253).rstrip(".") or "."
    labels = text.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise ValidationError(
            field, value, "not a host name (letters, digits, '-' in dot-separated labels)"
        )
    if labels[-1].isdigit():
        raise ValidationError(field, value, "not a valid IP address or host name")
    return text.lower()


def target(value: object, field: str = "target") -> str:
    """A ping target: an IP address, or a strict DNS host name."""
    try:
        return address(value, field)
    except ValidationError:
        pass
    try:
        return hostname(value, field)
    except ValidationError:
        raise ValidationError(field, value, "not an IP address or DNS host name") from None


def vrf(value: object, field: str = "vrf") -> str:
    """A VRF, routing-instance, vpn-instance or routing-table name."""
    text = _text(value, field, 64)
    if not _VRF.match(text):
        raise ValidationError(
            field, value, "allowed: letters, digits and _ . : - (first a letter or digit), 1-64"
        )
    return text


def interface(value: object, field: str = "source_interface") -> str:
    """An interface name such as GigabitEthernet0/0/1.100, ge-0/0/0.0 or eth0."""
    text = _text(value, field, 64)
    if not _INTERFACE.match(text):
        raise ValidationError(
            field, value, "allowed: letters, digits and _ . / : - (first a letter), 1-64"
        )
    return text


def name(value: object, field: str = "name") -> str:
    """An identifier (line id, router name, credentials profile): letters, digits, _ . -."""
    text = _text(value, field, 128)
    if not _NAME.match(text):
        raise ValidationError(
            field, value, "allowed: letters, digits and _ . - (first a letter or digit), 1-128"
        )
    return text


def integer(value: object, field: str, low: int | None = None, high: int | None = None) -> int:
    """A whole number from an int or a string of ASCII digits, within [low, high]."""
    if isinstance(value, bool):
        raise ValidationError(field, value, "must be a whole number")
    if isinstance(value, int):
        number_ = value
    elif isinstance(value, str) and _DIGITS.match(value.strip(" ")):
        number_ = int(value.strip(" "))
    else:
        raise ValidationError(field, value, "must be a whole number")
    if low is not None and number_ < low:
        raise ValidationError(field, value, f"must be at least {low}")
    if high is not None and number_ > high:
        raise ValidationError(field, value, f"must be at most {high}")
    return number_


def number(value: object, field: str, low: float | None = None, high: float | None = None) -> float:
    """A decimal number from an int, a float or a plain decimal string, within [low, high]."""
    if isinstance(value, bool):
        raise ValidationError(field, value, "must be a number")
    if isinstance(value, (int, float)):
        result = float(value)
        if result != result or result in (float("inf"), float("-inf")):
            raise ValidationError(field, value, "must be a finite number")
    elif isinstance(value, str) and _DECIMAL.match(value.strip(" ")):
        result = float(value.strip(" "))
    else:
        raise ValidationError(field, value, "must be a number")
    if low is not None and result < low:
        raise ValidationError(field, value, f"must be at least {low:g}")
    if high is not None and result > high:
        raise ValidationError(field, value, f"must be at most {high:g}")
    return result


def count(value: object, field: str = "count") -> int:
    """Number of probes: 1 to MAX_COUNT."""
    return integer(value, field, 1, MAX_COUNT)


def size(value: object, field: str = "size") -> int:
    """Payload size in bytes: 0 to MAX_SIZE (platforms narrow it further)."""
    return integer(value, field, 0, MAX_SIZE)


def timeout(value: object, field: str = "timeout") -> float:
    """Per-probe timeout in seconds: MIN_TIMEOUT to MAX_TIMEOUT."""
    return number(value, field, MIN_TIMEOUT, MAX_TIMEOUT)


_ZABBIX_HOST = re.compile(r"[A-Za-z0-9_. -]{1,128}\Z")
_ZABBIX_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}(?:\[[A-Za-z0-9_.:,/ -]{0,200}\])?\Z")


def zabbix_host(value: object, field: str = "zabbix_host") -> str:
    """A Zabbix host technical name: letters, digits, space, '.', '_', '-'."""
    text = _text(value, field, 128)
    if not _ZABBIX_HOST.match(text) or text != text.strip():
        raise ValidationError(field, value, "not a Zabbix host name (letters, digits, . _ - space)")
    return text


def zabbix_key(value: object, field: str = "zabbix_key") -> str:
    """A Zabbix item key, optionally with simple unquoted parameters."""
    text = _text(value, field, 255)
    if not _ZABBIX_KEY.match(text):
        raise ValidationError(field, value, "not a Zabbix item key such as linemon.result[cust-42]")
    return text
