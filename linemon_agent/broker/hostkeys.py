"""SSH host keys and algorithm preferences for asyncssh: which keys are trusted, which are
learnt on first use, and the cipher order that keeps a warm ping cheap. No scrapli here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from linemon_agent.settings import BrokerSettings


@dataclass(frozen=True)
class HostKeys:
    """Where host keys are checked and, with trust-on-first-use, learnt."""

    policy: str
    known_hosts: Path
    learnt: Path

    @classmethod
    def from_settings(cls, settings: BrokerSettings) -> HostKeys:
        return cls(
            settings.host_key_policy, settings.known_hosts, settings.state_dir / "known_hosts"
        )

    def files(self) -> list[str]:
        paths = [self.known_hosts] + ([self.learnt] if self.policy == "tofu" else [])
        return [str(p) for p in paths if p.exists()]

    def is_known(self, host: str, port: int) -> bool:
        import asyncssh

        files = self.files()
        if not files:
            return False
        known = asyncssh.read_known_hosts(files)
        matched = known.match(host, host, port)
        return bool(matched[0] or matched[1] or matched[2])

    def host_key_algs(self, host: str, port: int) -> list[str]:
        """Host key algorithms to offer: those of the keys known for ``host:port`` first, then
        every other default one (as OpenSSH orders them). asyncssh offers only the known ones,
        so a router presenting a key of another type failed the key exchange ("Connection
        lost" or "no compatible host key", reported router_unreachable) instead of being
        refused as an untrusted key (host_key_error)."""
        import asyncssh
        from asyncssh.public_key import get_default_certificate_algs, get_default_public_key_algs

        files = self.files()
        keys = asyncssh.read_known_hosts(files).match(host, host, port)[0] if files else []
        known = [alg for key in keys for alg in key.sig_algorithms]
        rest = get_default_certificate_algs() + get_default_public_key_algs()
        return [alg.decode("ascii") for alg in dict.fromkeys(known + rest)]

    def learn(self, host: str, port: int, key_line: str) -> None:
        name = host if port == 22 else f"[{host}]:{port}"
        self.learnt.parent.mkdir(parents=True, exist_ok=True)
        with self.learnt.open("a", encoding="ascii") as handle:
            handle.write(f"{name} {key_line}\n")


# asyncssh offers chacha20-poly1305 first; its implementation builds three fresh cipher
# contexts per SSH packet, and a warm ping is mostly packets (a router prints each probe's
# mark as it comes: 10-20 packets per ping). Measured on a warm IOS-XE session (scripts/
# profile_broker.py micro): chacha ~45% of the CPU per ping (1.23 -> 0.70 ms). AES-GCM reuses its
# key schedule and AES-CTR keeps one running context, so they are offered first; every
# algorithm asyncssh offers stays in the list (only the order changes), so a router that
# speaks only chacha20 still connects. The MACs matter only with CTR: HMAC-SHA2 runs in C.
PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)
PREFERRED_MACS = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com")


def _preferred_first(preferred: tuple[str, ...], offered: list[bytes]) -> list[str]:
    """``offered`` (asyncssh's defaults) reordered with ``preferred`` first, none dropped."""
    names = [alg.decode("ascii") for alg in offered]
    return [a for a in preferred if a in names] + [a for a in names if a not in preferred]


def asyncssh_algorithms() -> dict[str, list[str]]:
    """The asyncssh connection options that set the cipher and MAC preference."""
    from asyncssh.encryption import get_default_encryption_algs
    from asyncssh.mac import get_default_mac_algs

    return {
        "encryption_algs": _preferred_first(PREFERRED_CIPHERS, get_default_encryption_algs()),
        "mac_algs": _preferred_first(PREFERRED_MACS, get_default_mac_algs()),
    }
