"""Delivery rounds, pure: what to send next from the spool, what Zabbix's counts-only answer
means, how long to wait before a retry. The reporter (I/O) acts on these."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from .spool import Spooled

Item = tuple[str, str]

ACCEPTED = "accepted"  # every value processed
REFUSED = "refused"  # nothing processed: nothing stored, safe to send again
AMBIGUOUS = "ambiguous"  # some processed, some not, and Zabbix does not say which
REFUSAL_CAUSES = (
    "no such item or host, item disabled or of another type, this address not in its allowed"
    " hosts, or the host does not accept this connection type: zabbix.tls_connect"
)
REFUSALS_TO_WARN = 3  # a new item's first refusals are Zabbix's config cache catching up
COUNTERS = (
    "submitted",  # values handed to submit()
    "sent",  # values Zabbix processed (and left the spool)
    "failed",  # values Zabbix answered as failed, every attempt counted
    "rejected",  # values dropped after their item was refused for the whole retry bound
    "unattributed",  # values dropped from a batch with failures Zabbix did not attribute
    "lost",  # values dropped from memory while the spool could not be written
    "anomalies",  # batches of verified items that came back with failures
    "batches",  # answered requests carrying verified items
    "probes",  # answered requests carrying one value of an unverified item
    "send_errors",  # requests that got no answer (network, timeout, protocol)
    "spool_errors",  # spool reads or writes that failed
)


@dataclass
class ItemState:
    """What the reporter knows about one (host, key)."""

    verified: bool = False
    failures: int = 0
    first_failure: float = 0.0
    next_try: float = 0.0


def plan_round(
    entries: Iterable[Spooled], items: Mapping[Item, ItemState], now: float, batch_size: int
) -> tuple[list[Spooled], list[Spooled]]:
    """The next verified batch and the probes due, reading ``entries`` in sequence order.

    Stops reading once the batch is full. An unverified item contributes its first entry as
    a probe (if its retry time has come) and nothing after it, so order per item holds.
    """
    batch: list[Spooled] = []
    probes: list[Spooled] = []
    held: set[Item] = set()
    for entry in entries:
        item = entry.value.item
        if item in held:
            continue
        state = items.get(item)
        if state is not None and state.verified:
            batch.append(entry)
            if len(batch) >= batch_size:
                break
            continue
        held.add(item)
        if state is None or state.next_try <= now:
            probes.append(entry)
    return batch, probes


def classify(sent: int, processed: int, failed: int) -> str:
    """ACCEPTED, REFUSED or AMBIGUOUS for a batch of ``sent`` values and Zabbix's counts."""
    if processed == sent and failed == 0:
        return ACCEPTED
    if processed == 0:
        return REFUSED
    return AMBIGUOUS


def backoff(
    attempt: int, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Delay before retry ``attempt`` (1-based): doubling from ``base`` up to ``cap``, then
    "equal jitter" (a random point in the upper half) so many brokers do not retry in step."""
    delay = min(cap, base * (1 << min(attempt - 1, 32)))
    return delay / 2 + rng() * delay / 2
