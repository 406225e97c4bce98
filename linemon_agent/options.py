"""The ping options, defined once: request fields, config keys, socket arguments, CLI flags, macros.

Stdlib only and tiny: the agent's client imports it on every call. Each option's name is the
``PingRequest`` field, the ``[[lines]]`` key and the socket argument; its flag, Zabbix macro
and help text derive from it, so adding an option is one line here (plus its validation in
``validate`` and what each platform can express).
"""

from __future__ import annotations

from typing import NamedTuple


class Option(NamedTuple):
    """One ping option beyond the target.

    A NamedTuple, not a dataclass: ``dataclasses`` imports ``inspect`` (~15 ms, measured with
    ``-X importtime``) on every agent call of the client.
    """

    name: str
    kind: str  # "int", "float" or "str": how a loosely typed value is read
    help: str
    short: str = ""  # a one-letter alias for the CLI, if any

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def macro(self) -> str:
        return "{$LINE_" + self.name.upper() + "}"


PING_OPTIONS = (
    Option("count", "int", "probes to send (default 5, at most 1000)", "-c"),
    Option("size", "int", "payload bytes as the platform counts (default: the router's)", "-s"),
    Option("timeout", "float", "per-probe wait in seconds (default: the platform's)", "-t"),
    Option("vrf", "str", "VRF / routing-instance / vpn-instance / routing-table"),
    Option("source", "str", "source address"),
    Option("source_interface", "str", "source interface"),
)
#: every option's name, in the order above
NAMES = tuple(option.name for option in PING_OPTIONS)
#: the options a platform may or may not support (all but count, which every platform has)
PLATFORM_OPTIONS = tuple(name for name in NAMES if name != "count")
