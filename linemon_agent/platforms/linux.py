"""Linux routers: one ``ping`` command line for iputils and BusyBox, and reading its answer."""

from __future__ import annotations

from typing import ClassVar

from linemon_agent.errors import UnsupportedOptionError
from linemon_agent.models import PingRequest, PingResult
from linemon_agent.platforms import _iputils
from linemon_agent.platforms.base import EVERY_OPTION, Platform, family, whole_seconds


class Linux(Platform):
    """A Linux shell over SSH running iputils ``ping`` (or BusyBox ``ping`` on small routers).

    The command works unchanged on both: ``LC_ALL=C ping [-4|-6] -n -q -c N [-s SIZE]
    [-W SECS] [-I SOURCE] [-I DEVICE] TARGET``.

    - ``LC_ALL=C`` keeps the answer in English with a decimal point (the parser still reads
      a localized one). The login shell must be POSIX (sh, bash, ash, dash, zsh).
    - ``-q`` prints only the header and the statistics: a thousand probes are not a thousand
      lines for the session to read. ``-n`` never resolves reply addresses.
    - A VRF is a device: ``-I VRF`` binds the socket to it, which needs no privilege, unlike
      ``ip vrf exec`` (root: it attaches a BPF program to a cgroup). A source interface is
      bound the same way, so a request takes a VRF or an interface, not both (a socket bound
      to an interface enslaved to a VRF routes in that VRF).
    - A source address and a device go together as two ``-I`` from iputils 20210202 (IPv6:
      20211215); older iputils ignore the device when a source is given. BusyBox keeps only
      the last ``-I``: the device comes last, so there the VRF wins over the source address.
    - ``-W`` is the wait for a reply in whole seconds (BusyBox refuses fractions); without it
      both wait 10 s after the last probe. Probes go out once a second.
    - ``-6`` (iputils 20190515+, BusyBox) for IPv6 targets and for host names that must
      resolve in the family of an IPv6 source; ``-4`` for a host name with an IPv4 source.
    """

    name: ClassVar[str] = "linux"
    description: ClassVar[str] = "Linux shell (iputils or BusyBox): LC_ALL=C ping -n -q -c N"
    scrapli_platform: ClassVar[str] = "generic"
    # user@host:~$, root@edge1:/# , [admin@edge1 ~]$, cumulus@leaf01:mgmt:~$
    prompt_pattern: ClassVar[str | None] = r"^[\w.@:~/()\[\]+ -]{0,80}[$#>]\s*$"
    # What ping or the shell prints when the ping could not start at all; none of these
    # ever comes with a statistics block (scrapli's generic driver has no list of its own).
    failed_when_contains: ClassVar[tuple[str, ...]] = _iputils.PING_REFUSED
    failed_when_starts_with: ClassVar[tuple[str, ...]] = _iputils.PING_REFUSED_STARTS
    supports: ClassVar[frozenset[str]] = EVERY_OPTION
    # -s 0..65507 data bytes (below 16 the replies carry no timestamp, so no RTTs).
    size_range: ClassVar[tuple[int, int]] = (0, 65507)
    timeout_range: ClassVar[tuple[float, float]] = (1.0, 60.0)
    default_timeout: ClassVar[float] = 10.0
    probe_interval: ClassVar[float] = 1.0

    def _build(self, request: PingRequest) -> str:
        words = ["LC_ALL=C", "ping"]
        target_family = family(request.target)
        ip_family = target_family or family(request.source)
        if ip_family == 6:
            words.append("-6")
        elif ip_family == 4 and target_family is None:
            words.append("-4")
        words += ["-n", "-q", "-c", str(request.count)]
        if request.size is not None:
            words += ["-s", str(request.size)]
        if request.timeout is not None:
            words += ["-W", str(whole_seconds(request.timeout))]
        if request.source is not None:
            words += ["-I", request.source]
        if request.vrf is not None and request.source_interface is not None:
            raise UnsupportedOptionError(
                self.name,
                "source_interface",
                request.source_interface,
                "Linux ping binds to one device: give the VRF or an interface in it, not both",
            )
        if request.vrf is not None:
            words += ["-I", self._device("vrf", request.vrf)]
        if request.source_interface is not None:
            words += ["-I", self._device("source_interface", request.source_interface)]
        words.append(request.target)
        return " ".join(words)

    def _device(self, field: str, name: str) -> str:
        """A name ``ping -I`` binds to as a device, never one it would read as an address."""
        if len(name) > 15 or "/" in name or ":" in name:
            raise UnsupportedOptionError(
                self.name, field, name, "a Linux device name has at most 15 characters, no / or :"
            )
        if family(name) is not None:
            raise UnsupportedOptionError(
                self.name, field, name, "ping -I would take this name for a source address"
            )
        return name

    def parse_ping(self, output: str, request: PingRequest | None = None) -> PingResult:
        return _iputils.parse(self, output)
