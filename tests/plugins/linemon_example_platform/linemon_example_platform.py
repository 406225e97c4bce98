"""A third-party platform as a plugin author would write one: "example_os" prints
'sent N received M rtt A ms'."""

from __future__ import annotations

import re

from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms.base import Platform

_SUMMARY = re.compile(r"sent (\d+) received (\d+)(?: rtt (\d+(?:\.\d+)?) ms)?")


class ExampleOS(Platform):
    name = "example_os"
    description = "Example OS (test plugin)"
    scrapli_platform = "generic"
    prompt_pattern = r"^example[>#]\s*$"
    supports = frozenset({"vrf"})

    def _build(self, request: PingRequest) -> str:
        vrf = f" vrf {request.vrf}" if request.vrf else ""
        return f"xping {request.target} count {request.count}{vrf}"

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        match = _SUMMARY.search(output)
        if not match:
            raise self.parse_error("no summary line", output)
        rtt = float(match.group(3)) if match.group(3) else None
        return PingResult.measured(int(match.group(1)), int(match.group(2)), rtt, rtt, rtt)
