"""Read a ping command line in each platform's syntax into :class:`PingArgs` (pure).

Liberal like the devices: Cisco, Juniper and SR OS keywords may be abbreviated to a unique
prefix and come in any order after the target; Huawei and H3C take ``-x value`` options; MikroTik
``key=value`` arguments or a bare address; Linux getopt-style flags (``-c5`` or ``-c 5``)
behind ``VAR=value`` words and ``ip vrf exec X``. A line the device would refuse raises
:class:`Refusal` with the offending word's position, so the CLI can print its caret.
Host names are not resolved here.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from tests.beds.emulator.formats import PingArgs, is_address
from tests.beds.emulator.render import ENDLESS

_WORD = re.compile(r"\S+")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)?")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class Refusal(Exception):
    """The device refuses the line. ``kind``: invalid, incomplete, ambiguous, bad_value,
    bad_option; ``position``: the character offset of the culprit; ``word``: the culprit."""

    def __init__(self, kind: str, position: int, word: str = "") -> None:
        super().__init__(f"{kind} at {position}: {word!r}")
        self.kind = kind
        self.position = position
        self.word = word


@dataclass
class _Words:
    """The words of a line with their offsets, read left to right."""

    items: list[tuple[str, int]]
    end: int
    at: int = 0

    @classmethod
    def of(cls, line: str) -> _Words:
        return cls([(m.group(), m.start()) for m in _WORD.finditer(line)], len(line.rstrip()))

    def more(self) -> bool:
        return self.at < len(self.items)

    def peek(self) -> str:
        return self.items[self.at][0] if self.more() else ""

    def take(self) -> tuple[str, int]:
        if not self.more():
            raise Refusal("incomplete", self.end + 1)
        word = self.items[self.at]
        self.at += 1
        return word


def is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def _match(word: str, keywords: dict[str, str], position: int) -> str | None:
    """A keyword by its exact name or a unique prefix; None when it is no keyword."""
    if word.lower() in keywords:
        return word.lower()
    found = [k for k in keywords if k.startswith(word.lower())]
    if len(found) > 1:
        raise Refusal("ambiguous", position, word)
    return found[0] if found else None


def _number(word: str, position: int, low: float, high: float, kind: str = "int") -> float:
    try:
        value = int(word) if kind in ("int", "ms") else float(word)
    except ValueError:
        raise Refusal("bad_value", position, word) from None
    if not low <= value <= high:
        raise Refusal("bad_value", position, word)
    return value


def _grammar(spec: str) -> dict[str, str]:
    """Keywords and what follows each: ``count``; ``FIELD:int|float:LOW:HIGH``; ``vrf``,
    ``source``, ``interface`` or ``target`` (a word kept as that field); ``str`` (a word the
    emulator ignores); ``rapid`` or ``ipv6`` (that flag is set); a bare keyword is a flag
    the emulator ignores."""
    return {word.partition("=")[0]: word.partition("=")[2] or "flag" for word in spec.split()}


_IOS = _grammar(
    "repeat=count size=size:int:36:18024 timeout=timeout:int:0:3600 source=source data=str"
    " tos=str ingress=str df-bit validate verbose timestamp"
)
_XR = _grammar(
    "count=count size=size:int:36:18024 timeout=timeout:int:0:3600 source=source pattern=str"
    " type=str interval=interval:float:0:3600 verbose donnotfrag sweep validate"
)
_EOS = _grammar(
    "repeat=count size=size:int:36:18024 timeout=timeout:int:0:3600 source=source"
    " interval=interval:float:0:3600 interface=interface df-bit"
)
_NXOS = _grammar(
    "vrf=vrf count=count packet-size=size:int:1:65468 timeout=timeout:int:1:60 source=source"
    " source-interface=interface interface=interface interval=interval:float:0:60 df-bit"
)
_JUNOS = _grammar(
    "count=count size=size:int:0:65468 wait=timeout:int:1:60 source=source"
    " routing-instance=vrf interface=interface interval=interval:float:0.1:10000 ttl=str"
    " host=target logical-system=str pattern=str tos=str rapid=rapid inet inet6=ipv6 no-resolve"
    " do-not-fragment detail bypass-routing record-route strict verbose"
)


_HUAWEI = _grammar(
    "-a=source -c=count -s=size:int:20:9600 -t=timeout:ms:0:65535 -m=interval:ms:1:10000"
    " -vpn-instance=vrf -i=interface -h=str -p=str -tos=str -f -q -n -r -v -d"
)
_H3C = _grammar(
    "-a=source -c=count -s=size:int:20:8100 -t=timeout:ms:0:65535 -m=interval:ms:1:65535"
    " -vpn-instance=vrf -i=interface -h=str -p=str -tos=str -tc=str -f -q -n -r -v"
)
# SR OS, MD-CLI and classic together (MD-CLI says source-address and router-instance,
# classic source, router and service-name; both take interface).
_SROS = _grammar(
    "count=count size=size:int:0:65507 timeout=timeout:int:1:10 source-address=source"
    " source=source interface=interface router-instance=vrf router=vrf service-name=vrf"
    " interval=interval:float:0.01:10000 rapid=rapid detail ttl=str tos=str pattern=str fc=str"
    " next-hop=str do-not-fragment bypass-routing"
)
# VyOS's op-mode ping wrapper: its words, each turned into an iputils flag.
_VYOS = _grammar(
    "count=count size=size:int:0:65507 source-address=source interface=interface vrf=vrf"
    " interval=interval:float:0:3600 deadline=str ttl=str tos=str pattern=str mark=str"
    " adaptive allow-broadcast audible bypass-route do-not-fragment flood numeric no-loopback"
    " quiet record-route timestamp verbose ipv4 ipv6=ipv6"
)
_MIKROTIK = _grammar(
    "address=target count=count size=size:int:14:65535 routing-table=vrf vrf=vrf"
    " src-address=source interface=interface interval=interval:duration"
    " timeout=timeout:duration ttl=str dscp=str arp-ping=str"
)


def _typed(kind: str, value: str, where: int) -> tuple[str, object] | None:
    """The field and value a keyword's argument sets; None for one the emulator ignores."""
    if kind == "count":
        return "count", int(_number(value, where, 1, 2**32 - 1))
    if kind.endswith(":duration"):
        seconds = routeros_duration(value)
        if seconds is None:
            raise Refusal("bad_value", where, value)
        return kind.partition(":")[0], seconds
    if ":" in kind:
        field, unit, low, high = kind.split(":")
        number = _number(value, where, float(low), float(high), unit)
        return field, number / 1000 if unit == "ms" else number
    return None if kind == "str" else (kind, value)


def _keyword_ping(
    line: str, platform: str, keywords: dict[str, str], *, leading: tuple[str, ...] = ()
) -> PingArgs:
    """Cisco/Juniper/Arista style: [vrf V] [leading protocol] target, then keyword options."""
    words = _Words.of(line)
    command, _ = words.take()
    values: dict[str, object] = {"ipv6": command.lower() == "ping6"}
    if leading and words.peek().lower() == "vrf":
        words.take()
        values["vrf"] = words.take()[0]
    if leading and words.peek().lower() in leading:
        values["ipv6"] = words.take()[0].lower() == "ipv6"
    if leading:
        values["target"] = words.take()[0]
    while words.more():
        word, at = words.take()
        key = _match(word, keywords, at)
        if key is None:
            if "target" in values:
                raise Refusal("invalid", at, word)
            values["target"] = word
            continue
        kind = keywords[key]
        if kind in ("flag", "rapid", "ipv6"):
            values.update({kind: True} if kind != "flag" else {})
            continue
        typed = _typed(kind, *words.take())
        if typed is not None:
            values[typed[0]] = typed[1]
    if "target" not in values:
        raise Refusal("incomplete", words.end + 1)
    # JunOS (unless rapid) and VyOS ping until interrupted when no count is given.
    endless = platform == "vyos" or (platform == "juniper_junos" and not values.get("rapid"))
    default = ENDLESS if endless else 5
    return _args(values, default)


_ARG_FIELDS = frozenset(f.name for f in dataclasses.fields(PingArgs))


def _args(values: dict[str, object], default_count: int) -> PingArgs:
    """PingArgs from what a parser collected; words the emulator does not model are dropped."""
    kept = {key: value for key, value in values.items() if key in _ARG_FIELDS}
    kept.setdefault("count", default_count)
    source = kept.get("source")
    if isinstance(source, str) and not is_address(source) and "interface" not in kept:
        kept["interface"] = kept.pop("source")  # "source Loopback0" names an interface
    if is_ipv6(str(kept["target"])):
        kept["ipv6"] = True
    return PingArgs(**kept)  # type: ignore[arg-type]


def _dash_options(line: str, options: dict[str, str]) -> PingArgs:
    """Huawei and H3C: ``ping [ip|ipv6] -x value ... HOST [-i IF]``, options in any order."""
    words = _Words.of(line)
    words.take()
    values: dict[str, object] = {}
    if words.peek().lower() in ("ip", "ipv6"):
        values["ipv6"] = words.take()[0].lower() == "ipv6"
    while words.more():
        word, at = words.take()
        if word.lower() == "vpn-instance":  # the IPv6 form spells it without the dash
            word = "-vpn-instance"
        if not word.startswith("-"):
            if "target" in values:
                raise Refusal("invalid", at, word)
            values["target"] = word
            continue
        kind = options.get(word.lower())
        if kind is None:
            raise Refusal("invalid", at, word)
        if kind != "flag" and (typed := _typed(kind, *words.take())) is not None:
            values[typed[0]] = typed[1]
    if "target" not in values:
        raise Refusal("incomplete", words.end + 1)
    return _args(values, 5)


def _srlinux(line: str) -> PingArgs:
    """SR Linux: ``ping HOST network-instance V`` with iputils flags (``-c N``, ``-I X``)."""
    words = _Words.of(line)
    words.take()
    values: dict[str, object] = {"ipv6": False}
    while words.more():
        word, at = words.take()
        if word == "network-instance":
            values["vrf"] = words.take()[0]
        elif word in ("-c", "-s", "-W", "-i", "-I"):
            value, where = words.take()
            if word == "-I":  # an address (source) or a device
                values["source" if is_address(value) else "interface"] = value
            elif word in ("-c", "-s"):
                field, limits = ("count", (1, 2**31 - 1)) if word == "-c" else ("size", (0, 65507))
                values[field] = int(_number(value, where, *limits))
            else:
                field = "timeout" if word == "-W" else "interval"
                values[field] = _number(value, where, 0.0, 3600.0, "float")
        elif word.startswith("-") or "target" in values:
            raise Refusal("invalid", at, word)
        else:
            values["target"] = word
    if "target" not in values:
        raise Refusal("incomplete", words.end + 1)
    return _args(values, ENDLESS)


def routeros_duration(text: str) -> float | None:
    """RouterOS time values in seconds: ``1s``, ``500ms``, ``1.5``, ``00:00:01``."""
    if ":" in text:
        try:
            parts = [float(p) for p in text.split(":")]
        except ValueError:
            return None
        return sum(p * 60.0**i for i, p in enumerate(reversed(parts)))
    total, end = 0.0, 0
    for m in _DURATION.finditer(text):
        if m.start() != end:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        end = m.end()
    return total if end == len(text) and text else None


def _mikrotik(line: str) -> PingArgs:
    words = _Words.of(line)
    first, _ = words.take()
    if first.lower() in ("/tool", "tool"):
        words.take()
    values: dict[str, object] = {}
    while words.more():
        word, at = words.take()
        key, eq, value = word.partition("=")
        if not eq:
            if key.lower() == "do-not-fragment":
                continue
            if "target" in values:
                raise Refusal("invalid", at, word)
            values["target"] = word
            continue
        kind = _MIKROTIK.get(key.lower())
        if kind is None:
            raise Refusal("invalid", at, word)
        typed = _typed(kind, value, at + len(key) + 1)
        if typed is not None:
            values[typed[0]] = typed[1]
    if "target" not in values:
        raise Refusal("incomplete", words.end + 1)
    return _args(values, ENDLESS)


_LINUX_FLAGS = set("n46DOvAfbRrUdLaB")
_LINUX_VALUES = {
    "c": "count",
    "s": "size",
    "W": "timeout",
    "w": "",
    "I": "bind",
    "i": "interval",
    "t": "",
    "M": "",
    "Q": "",
    "p": "",
    "l": "",
    "m": "",
    "T": "",
    "S": "",
    "F": "",
}


def linux_command(line: str) -> tuple[_Words, str | None]:
    """The words after ``VAR=value`` prefixes and ``ip vrf exec X``, and that VRF."""
    words = _Words.of(line)
    while words.more() and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", words.peek()):
        words.take()
    vrf = None
    if [w for w, _ in words.items[words.at : words.at + 3]] == ["ip", "vrf", "exec"]:
        words.at += 3
        vrf = words.take()[0]
    return words, vrf


def _linux(line: str) -> PingArgs:
    words, vrf = linux_command(line)
    command, _ = words.take()
    values: dict[str, object] = {"ipv6": command.endswith("ping6")}
    if vrf is not None:
        values["vrf"] = vrf
    while words.more():
        word, at = words.take()
        if not word.startswith("-") or word == "-":
            if "target" in values:
                raise Refusal("invalid", at, word)
            values["target"] = word
            continue
        for i, flag in enumerate(word[1:], start=1):
            if flag == "q":
                values["quiet"] = True
                continue
            if flag in _LINUX_FLAGS:
                values["ipv6"] = True if flag == "6" else values["ipv6"]
                continue
            if flag not in _LINUX_VALUES:
                raise Refusal("bad_option", at + i, flag)
            value, where = (word[i + 1 :], at + i + 1) if word[i + 1 :] else words.take()
            field = _LINUX_VALUES[flag]
            if field in ("count", "size"):
                limits = (1, 2**31 - 1) if field == "count" else (0, 65507)
                values[field] = int(_number(value, where, *limits))
            elif field in ("timeout", "interval"):
                values[field] = _number(value, where, 0.0, 2**31 - 1, "float")
            elif field == "bind":  # -I takes an address (source) or a device (interface, VRF)
                values["source" if is_address(value) else "interface"] = value
            break
    if "target" not in values:
        raise Refusal("incomplete", words.end + 1)
    return _args(values, ENDLESS)


def _is_ping(platform: str, line: str) -> bool:
    words = line.split()
    if not words:
        return False
    if platform == "linux":
        rest, _ = linux_command(line)
        return rest.more() and rest.peek().rsplit("/", 1)[-1] in ("ping", "ping6")
    if platform == "mikrotik_routeros":
        head = [w.lower() for w in words[:2]]
        return head[0] in ("/ping", "ping", "/tool/ping") or head in (
            ["/tool", "ping"],
            ["tool", "ping"],
        )
    return words[0].lower() == "ping" or (platform == "cisco_nxos" and words[0].lower() == "ping6")


_PARSERS: dict[str, Callable[[str], PingArgs]] = {
    "cisco_iosxe": lambda line: _keyword_ping(line, "cisco_iosxe", _IOS, leading=("ip", "ipv6")),
    "cisco_iosxr": lambda line: _keyword_ping(line, "cisco_iosxr", _XR, leading=("ipv4", "ipv6")),
    "arista_eos": lambda line: _keyword_ping(line, "arista_eos", _EOS, leading=("ip", "ipv6")),
    "cisco_nxos": lambda line: _keyword_ping(line, "cisco_nxos", _NXOS),
    "juniper_junos": lambda line: _keyword_ping(line, "juniper_junos", _JUNOS),
    "huawei_vrp": lambda line: _dash_options(line, _HUAWEI),
    "h3c_comware": lambda line: _dash_options(line, _H3C),
    "nokia_sros": lambda line: _keyword_ping(line, "nokia_sros", _SROS),
    "nokia_sros_classic": lambda line: _keyword_ping(line, "nokia_sros_classic", _SROS),
    "nokia_srlinux": _srlinux,
    "vyos": lambda line: _keyword_ping(line, "vyos", _VYOS),
    "mikrotik_routeros": _mikrotik,
    "linux": _linux,
}


def parse_ping(platform: str, line: str) -> PingArgs | None:
    """The ping ``line`` asks for on ``platform``; ``None`` when it is not a ping command.

    Raises :class:`Refusal` when the device would refuse the line.
    """
    if not _is_ping(platform, line):
        return None
    return _PARSERS[platform](line)
