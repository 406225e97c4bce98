"""Each platform's CLI as scrapli classic meets it: banner, prompt, echo, commands, errors.

Pure: a :class:`Cli` answers one command line at a time with a :class:`Reply` (text, or
a ping for the server to play, or the end of the session). It knows the commands scrapli's
drivers send on open (paging off, terminal width; JunOS ``set cli ...``; Huawei
``screen-length 0 temporary`` and the ``screen-width`` confirmation), a harmless ``show``
command, ``exit``, and answers anything else with the device's own "invalid input" text,
with its caret under the offending word. H3C Comware's ``screen-length disable`` and SR OS's
``environment ...`` commands (MD-CLI and classic) are understood too. On IOS-XE, NX-OS and
EOS a session is in user EXEC (``pe1>``) or privileged EXEC (``pe1#``); ``enable`` asks for
the enable secret (not echoed) and ``disable`` drops back. User EXEC runs everything here,
ping included, as it does on those devices.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tests.beds.emulator.formats import PingArgs, is_address
from tests.beds.emulator.pingcmd import Refusal, is_ipv6, linux_command, parse_ping

CRLF = "\r\n"
# Byte(s) that abort a running ping: Ctrl-^ (Ctrl-Shift-6) on IOS, Ctrl-C elsewhere.
INTERRUPT = {"cisco_iosxe": b"\x1e", "cisco_iosxr": b"\x1e\x03"}
DEFAULT_INTERRUPT = b"\x03"
# Platforms with a user EXEC mode below privileged EXEC, and what a wrong secret gets: IOS
# asks three times, then says "% Bad secrets"; EOS and NX-OS refuse at once.
USER_MODE = ("cisco_iosxe", "cisco_nxos", "arista_eos")
ENABLE_TRIES = {"cisco_iosxe": 3}
# What the SSH server announces (RFC 4253 software version), per platform.
SSH_VERSIONS = {
    "cisco_iosxe": "Cisco-1.25",
    "cisco_iosxr": "Cisco-2.0",
    "cisco_nxos": "OpenSSH_8.3",
    "juniper_junos": "OpenSSH_7.5",
    "arista_eos": "OpenSSH_8.8",
    "huawei_vrp": "HUAWEI-1.5",
    "mikrotik_routeros": "ROSSSH",
    "h3c_comware": "Comware-7.1.064",
    "nokia_sros": "OpenSSH_8.0",
    "nokia_sros_classic": "OpenSSH_8.0",
    "nokia_srlinux": "OpenSSH_8.4",
    "vyos": "OpenSSH_9.2p1 Debian-2+deb12u3",
    "linux": "OpenSSH_9.2p1 Debian-2+deb12u3",
}
# SR OS's and SR Linux's commands that set the session up (scrapli-community's on_open).
_NOKIA_ENVIRONMENT = {"environment", "//environment"}
# Comware 7's answer to scrapli-community's on-open "screen-length disable".
_H3C_SCREEN = "% Screen-length configuration is disabled for current user."
_HUAWEI_TEMPORARY = (
    "Info: The configuration takes effect on the current user terminal interface only."
)
_MIKROTIK_LOGO = (
    "  MMM      MMM       KKK                          TTTTTTTTTTT      KKK",
    "  MMMM    MMMM       KKK                          TTTTTTTTTTT      KKK",
    "  MMM MMMM MMM  III  KKK  KKK  RRRRRR     OOOOOO      TTT     III  KKK  KKK",
    "  MMM  MM  MMM  III  KKKKK     RRR  RRR  OOO  OOO     TTT     III  KKKKK",
    "  MMM      MMM  III  KKK KKK   RRRRRR    OOO  OOO     TTT     III  KKK KKK",
    "  MMM      MMM  III  KKK  KKK  RRR  RRR   OOOOOO      TTT     III  KKK  KKK",
    "",
    "  MikroTik RouterOS 7.12.1 (c) 1999-2023       https://www.mikrotik.com/",
    "",
    "Press F1 for help",
    "",
)


@dataclass(frozen=True)
class Reply:
    """The answer to one line: ``text`` (CRLF lines), or a ``ping`` to play; then the
    prompt, unless ``prompt`` is false (a question awaits its answer) or ``close``."""

    text: str = ""
    ping: PingArgs | None = None
    close: bool = False
    prompt: bool = True


def _lines(*lines: str) -> str:
    return "".join(line + CRLF for line in lines)


class Cli:
    """One session's command line on one platform."""

    def __init__(
        self,
        platform: str,
        hostname: str,
        username: str,
        hosts: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        privileged: bool = True,
        enable_secret: str | None = None,
    ) -> None:
        self.platform = platform
        self.hostname = hostname
        self.username = username
        self.hosts = dict(hosts or {})
        self.clock = clock
        self._confirming = False  # a question waits for its Y/N line
        self.privileged = privileged or platform not in USER_MODE
        self.enable_secret = enable_secret
        self.enable_failures = 0  # wrong secrets typed in this session
        self._secret_tries = 0  # > 0 while "Password:" waits for the enable secret

    # -- what the terminal shows ----------------------------------------------------------

    @property
    def hides_input(self) -> bool:
        """True while the line being typed is a secret (not echoed)."""
        return self._secret_tries > 0

    @property
    def prompt(self) -> str:
        h, u = self.hostname, self.username
        mark = "#" if self.privileged else ">"
        return {
            "cisco_iosxe": f"{h}{mark}",
            "cisco_iosxr": f"RP/0/RP0/CPU0:{h}#",
            "cisco_nxos": f"{h}{mark} ",
            "juniper_junos": f"{u}@{h}> ",
            "arista_eos": f"{h}{mark}",
            "huawei_vrp": f"<{h}>",
            "mikrotik_routeros": f"[{u}@{h}] > ",
            "h3c_comware": f"<{h}>",
            "nokia_sros": f"A:{u}@{h}# ",
            "nokia_sros_classic": f"A:{h}# ",
            "nokia_srlinux": f"A:{u}@{h}# ",
            "vyos": f"{u}@{h}:~$ ",
            "linux": f"{u}@{h}:~$ ",
        }[self.platform]

    def draw_prompt(self) -> str:
        """The prompt as written; RouterOS draws it, then repaints it over itself."""
        if self.platform == "mikrotik_routeros":
            return self.prompt + "\r" + self.prompt
        if self.platform == "nokia_sros":  # MD-CLI: a blank line, the context, the prompt
            return CRLF + "[/]" + CRLF + self.prompt
        if self.platform == "nokia_srlinux":  # the mode and context line, then the prompt
            return CRLF + "--{ running }--[  ]--" + CRLF + self.prompt
        return self.prompt

    def enter(self, line: str) -> str:
        """What Enter echoes: a new line; RouterOS first repaints the whole input line."""
        if self.platform == "mikrotik_routeros":
            return "\r" + self.prompt + line + CRLF
        return CRLF

    def greeting(self) -> str:
        """The banner after login, then the first prompt."""
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.clock()))
        banner = {
            "cisco_iosxe": CRLF,
            "cisco_iosxr": CRLF,
            "cisco_nxos": _lines(
                "Cisco NX-OS Software",
                "Copyright (c) 2002-2023, Cisco Systems, Inc. All rights reserved.",
                "",
            ),
            "juniper_junos": _lines("--- JUNOS 22.4R2.8 Kernel 64-bit  JNPR-12.1-20230321", ""),
            "arista_eos": _lines(f"Last login: {now} from 127.0.0.1"),
            "huawei_vrp": CRLF
            + _lines(
                "Info: The max number of VTY users is 10, and the number",
                "      of current VTY users on line is 1.",
                f"      The current login time is {now}.",
            ),
            "mikrotik_routeros": CRLF * 2 + _lines(*_MIKROTIK_LOGO),
            "h3c_comware": CRLF
            + _lines(
                "*" * 78,
                "* Copyright (c) 2004-2023 New H3C Technologies Co., Ltd. All rights reserved.*",
                "*" * 78,
                "",
            ),
            "nokia_sros": _lines("", " SR OS Software", " Copyright (c) Nokia 2023.", ""),
            "nokia_sros_classic": _lines("", " SR OS Software", " Copyright (c) Nokia 2019.", ""),
            "vyos": _lines(
                "Welcome to VyOS!",
                "",
                "Version:          VyOS 1.4.0",
                "",
            ),
            "nokia_srlinux": _lines(
                "Using configuration file(s): []",
                "Welcome to the srlinux CLI.",
                "Type 'help' (and press <ENTER>) if you need any help using this.",
            ),
            "linux": _lines(
                "Linux " + self.hostname + " 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC x86_64", ""
            ),
        }[self.platform]
        return banner + self.draw_prompt()

    def interrupt_bytes(self) -> bytes:
        return INTERRUPT.get(self.platform, DEFAULT_INTERRUPT)

    def after_output(self) -> str:
        """What the device prints between a command's output and the next prompt."""
        return CRLF if self.platform in ("juniper_junos", "huawei_vrp", "h3c_comware") else ""

    # -- commands -------------------------------------------------------------------------

    def handle(self, line: str) -> Reply:
        """The answer to one command line (already echoed by the terminal)."""
        if self._secret_tries:
            return self._secret(line)
        if self._confirming:
            self._confirming = False
            return Reply(_lines("Info: Succeeded.") if line.strip().lower() == "y" else "")
        words = line.split()
        if not words:
            return Reply()
        try:
            args = parse_ping(self.platform, line)
        except Refusal as refusal:
            return Reply(self.refusal(line, refusal))
        if args is not None:
            return self._ping(args)
        return self._command(line, [w.lower() for w in words])

    def _ping(self, args: PingArgs) -> Reply:
        address = args.target if is_address(args.target) else self.hosts.get(args.target)
        if address is None:
            return Reply(self.unknown_host(args.target))
        ipv6 = args.ipv6 or is_ipv6(address)
        return Reply(ping=PingArgs(**{**args.__dict__, "address": address, "ipv6": ipv6}))

    def _command(self, line: str, words: list[str]) -> Reply:
        p = self.platform
        first = words[0]
        if first in ("exit", "logout", "quit", "/quit"):
            return Reply(_lines("logout") if p == "linux" else "", close=True)
        if p in USER_MODE and words == ["enable"]:
            return self._enable()
        if p in USER_MODE and words == ["disable"]:
            self.privileged = False
            return Reply()
        if p in ("cisco_iosxe", "cisco_iosxr", "cisco_nxos", "arista_eos"):
            if first == "terminal" and len(words) == 3 and words[1] in ("length", "width"):
                if p != "arista_eos":
                    return Reply()  # IOS, XR and NX-OS say nothing
                width = f"Width set to {words[2]} columns."
                return Reply(_lines("Pagination disabled." if words[1] == "length" else width))
            if words == ["show", "clock"]:
                return Reply(self._clock_lines())
        if p == "juniper_junos" and words[:2] == ["set", "cli"] and len(words) >= 3:
            said = {
                "screen-length": f"Screen length set to {words[-1]}",
                "screen-width": f"Screen width set to {words[-1]}",
                "complete-on-space": "Disabling complete-on-space",
            }.get(words[2])
            if said is not None:
                return Reply(_lines(said, ""))
        if p == "juniper_junos" and words == ["show", "system", "uptime"]:
            return Reply(_lines(f"Current time: {self._stamp()} UTC", ""))
        if p == "huawei_vrp":
            if words == ["screen-length", "0", "temporary"]:
                return Reply(_lines(_HUAWEI_TEMPORARY))
            if first == "screen-width" and len(words) == 2 and words[1].isdigit():
                self._confirming = True
                question = "Warning: This operation will change the screen width. Continue? [Y/N]:"
                return Reply(question, prompt=False)
            if words == ["display", "clock"]:
                return Reply(_lines(self._stamp(), ""))
        if p == "h3c_comware":
            if words == ["screen-length", "disable"]:
                return Reply(_lines(_H3C_SCREEN))
            if words == ["display", "clock"]:
                return Reply(_lines(self._stamp(), ""))
        if p.startswith("nokia_"):
            if first in _NOKIA_ENVIRONMENT and len(words) > 1:
                return Reply()  # SR OS and SR Linux say nothing
            if words in (["show", "time"], ["show", "system", "time"]):
                return Reply(_lines(self._stamp()))
        if p == "vyos" and words[:2] == ["stty", "cols"]:
            return Reply()  # scrapli-community's on_open; the shell says nothing
        if p == "mikrotik_routeros" and words in (
            ["/system", "clock", "print"],
            ["/system/clock/print"],
        ):
            return Reply(_lines(f"  time: {self._stamp()[11:]}", ""))
        if p == "linux" and words == ["date"]:
            return Reply(
                _lines(time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(self.clock())))
            )
        return Reply(self.unknown(line))

    def _enable(self) -> Reply:
        if self.privileged:
            return Reply()
        if self.enable_secret is None:
            if self.platform == "cisco_iosxe":
                return Reply(_lines("% No password set", ""))
            self.privileged = True  # NX-OS and EOS without an enable secret
            return Reply()
        self._secret_tries = 1
        return Reply("Password: ", prompt=False)

    def _secret(self, line: str) -> Reply:
        """The line typed at the enable secret's "Password:" question."""
        if line == self.enable_secret:
            self._secret_tries = 0
            self.privileged = True
            return Reply()
        self.enable_failures += 1
        if self._secret_tries < ENABLE_TRIES.get(self.platform, 1):
            self._secret_tries += 1
            return Reply("Password: ", prompt=False)
        self._secret_tries = 0
        if self.platform == "cisco_iosxe":
            return Reply(_lines("% Bad secrets", ""))
        return Reply(_lines("% Access denied"))

    def _stamp(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.clock()))

    def _clock_lines(self) -> str:
        now = time.gmtime(self.clock())
        return _lines(time.strftime("*%H:%M:%S.000 UTC %a %b %d %Y", now))

    # -- errors ---------------------------------------------------------------------------

    def _caret(self, position: int) -> str:
        return " " * (len(self.prompt) + position) + "^"

    def unknown(self, line: str) -> str:
        """The device's answer to a command it does not have."""
        word = line.split()[0]
        start = line.index(word)
        first_known = {
            "cisco_iosxe": ("show", "terminal", "ping"),
            "cisco_iosxr": ("show", "terminal", "ping"),
            "cisco_nxos": ("show", "terminal", "ping"),
            "juniper_junos": ("show", "set", "ping"),
            "arista_eos": ("show", "terminal", "ping"),
            "huawei_vrp": ("display", "screen-length", "ping"),
            "h3c_comware": ("display", "screen-length", "ping"),
            "nokia_sros": ("show", "environment", "ping"),
            "nokia_sros_classic": ("show", "environment", "ping"),
            "nokia_srlinux": ("show", "environment", "ping"),
        }.get(self.platform, ())
        if word.lower() in first_known and len(line.split()) > 1:
            second = line.split()[1]
            return self.refusal(
                line, Refusal("invalid", line.index(second, start + len(word)), second)
            )
        if self.platform == "cisco_iosxe" and len(line.split()) == 1:
            return _lines("% Unknown command or computer name, or unable to find computer address")
        if self.platform == "juniper_junos":
            return _lines(self._caret(start), "unknown command.", "")
        return self.refusal(line, Refusal("invalid", start, word))

    def refusal(self, line: str, r: Refusal) -> str:
        """The device's parser error for ``line``."""
        p, caret = self.platform, self._caret(r.position)
        if p == "cisco_iosxe":
            return {
                "incomplete": _lines("% Incomplete command.", ""),
                "ambiguous": _lines(f'% Ambiguous command:  "{line.strip()}"'),
            }.get(r.kind, _lines(caret, "% Invalid input detected at '^' marker.", ""))
        if p == "cisco_iosxr":
            return {
                "incomplete": _lines("% Incomplete command."),
                "ambiguous": _lines(f'% Ambiguous command:  "{line.strip()}"'),
            }.get(r.kind, _lines(caret, "% Invalid input detected at '^' marker."))
        if p == "cisco_nxos":
            what = {
                "incomplete": "Incomplete command",
                "ambiguous": "Ambiguous command",
                "bad_value": "Invalid parameter detected",
            }.get(r.kind, "Invalid command")
            return _lines(caret, f"% {what} at '^' marker.")
        if p == "juniper_junos":
            what = {
                "incomplete": "syntax error, expecting <host>.",
                "ambiguous": f"'{r.word}' is ambiguous.",
                "bad_value": f"invalid numeric value: '{r.word}'",
            }.get(r.kind, "syntax error.")
            return _lines(caret, what, "")
        if p == "arista_eos":
            return _lines(
                {"incomplete": "% Incomplete command", "ambiguous": "% Ambiguous command"}.get(
                    r.kind, "% Invalid input"
                )
            )
        if p in ("huawei_vrp", "h3c_comware"):  # Comware's parser grew from VRP's
            what = {
                "incomplete": "Incomplete command",
                "ambiguous": "Ambiguous command",
                "bad_value": "Wrong parameter",
            }.get(r.kind, "Unrecognized command")
            lead = "Error:" if p == "huawei_vrp" else "%"
            return _lines(caret, f"{lead} {what} found at '^' position.")
        if p == "nokia_sros":  # MGMT_CORE #2201 and CLI #2001 as SR OS prints them
            what = {
                "incomplete": f"MINOR: CLI #2001: Missing element value - '{r.word}'",
                "ambiguous": f"MINOR: CLI #2003: Ambiguous element - '{r.word}'",
                "bad_value": f"MINOR: MGMT_CORE #2301: Invalid element value - '{r.word}'",
            }.get(r.kind, f"MINOR: MGMT_CORE #2201: Unknown element - '{r.word}'")
            return _lines(caret, what)
        if p == "nokia_sros_classic":
            said = {"incomplete": "Error: Missing parameter", "bad_value": "Error: Invalid value"}
            return _lines(caret, said.get(r.kind, "Error: Bad command."))
        if p == "vyos":  # VyOS's op-mode parser and its ping wrapper (vyos-1x ping.py)
            what = {"ambiguous": "Ambiguous command"}.get(r.kind, "Invalid command")
            return _lines("", f"  {what}: {line.strip()} [{r.word}]", "")
        if p == "nokia_srlinux":  # "Parsing error: Unknown token 'x'. Options are [...]"
            what = {
                "incomplete": "Incomplete command",
                "bad_value": f"Invalid value '{r.word}'",
            }.get(r.kind, f"Unknown token '{r.word}'")
            return _lines(f"Parsing error: {what}.")
        if p == "mikrotik_routeros":
            column = r.position + 1
            if r.kind == "incomplete":
                return _lines("missing value for argument address")
            if r.kind == "bad_value":
                return _lines(f"invalid value for argument: {r.word} (line 1 column {column})")
            if line[: r.position].strip() == "":
                return _lines(f"bad command name {r.word.lstrip('/')} (line 1 column {column})")
            return _lines(f"expected end of command (line 1 column {column})")
        return self._linux_refusal(line, r)

    def _linux_refusal(self, line: str, r: Refusal) -> str:
        if r.kind == "bad_option":
            return _lines(
                f"ping: invalid option -- '{r.word}'", "", "Usage", "  ping [options] <destination>"
            )
        if r.kind == "bad_value":
            return _lines(f"ping: invalid argument: '{r.word}'")
        if r.kind in ("incomplete", "invalid") and r.position > 0:
            return _lines("ping: usage error: Destination address required")
        words, _ = linux_command(line)
        command = words.peek() or line.split()[0]
        return _lines(f"-bash: {command}: command not found")

    def unknown_host(self, target: str) -> str:
        """The device's answer when ``target`` is a name it cannot resolve."""
        return {
            "cisco_iosxe": _lines("% Unrecognized host or address, or protocol not running.", ""),
            "cisco_iosxr": _lines(f"% Bad hostname or protocol not running: {target}"),
            "cisco_nxos": _lines(f"% Invalid host/interface {target}"),
            "juniper_junos": _lines(f"ping: cannot resolve {target}: Unknown host", ""),
            "arista_eos": _lines(f"ping: {target}: Name or service not known"),
            "huawei_vrp": _lines(f"Error: Failed to resolve the host name {target}."),
            "mikrotik_routeros": _lines(
                "invalid value for argument address:",
                "    while resolving ip-address: could not get answer from dns server",
            ),
            "h3c_comware": _lines(f"Ping: Unknown host {target}"),
            "nokia_sros": _lines(
                "MINOR: MGMT_AGENT #2005: Invalid element value - 'destination-address' could"
                f' not transmit request to resolve "{target}"'
            ),
            "nokia_sros_classic": _lines(f"Error: Unknown host {target}"),
            "nokia_srlinux": _lines(f"ping: {target}: Name or service not known"),
            "vyos": _lines(f"ping: Unknown host: {target}"),
            "linux": _lines(f"ping: {target}: Name or service not known"),
        }[self.platform]
