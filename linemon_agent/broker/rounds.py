"""Delivery rounds, pure: what to send next from the spool, what Zabbix's counts-only answer
means, how long to wait before a retry. The reporter (I/O) acts on these."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

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
    "groups",  # answered requests carrying the first values of never-probed items
    "send_errors",  # requests that got no answer (network, timeout, protocol)
    "spool_errors",  # spool reads or writes that failed
)


@dataclass
class ItemState:
    """What the reporter knows about one (host, key) it has sent a value of.

    An item with no state has never been probed: its first value may go in a group probe. An
    item with a state that is not verified is probed alone (refused before, or its group or
    batch came back ambiguous), never in a group again.
    """

    verified: bool = False
    failures: int = 0
    first_failure: float = 0.0
    next_try: float = 0.0


# Single probes a round plans at most, per unit of probe_concurrency: a round sends its batch,
# its group, then its probes probe_concurrency at a time, so 4 keeps the next round's verified
# batch at most ~4 probe round trips away while a round still has enough probes to keep
# probe_concurrency requests in flight.
PROBES_PER_CONCURRENCY = 4
# Rows one round reads at most, whatever it finds: ~12 ms of CPU here (100,000 rows of passed-
# over items took 0.6 s to plan). A round that reads this many rows and finds nothing due ends
# empty; the pass goes on from there after yielding to the event loop.
ROUND_ROWS = 2_000


@dataclass
class Round:
    """What one round sends: a verified batch, a group probe of never-probed items (each
    item's first entry, one request) and single probes (one request each)."""

    batch: list[Spooled] = field(default_factory=list)
    group: list[Spooled] = field(default_factory=list)
    probes: list[Spooled] = field(default_factory=list)
    read: int = 0  # spool rows this round read
    end: bool = False  # the pass has read the whole spool

    def __bool__(self) -> bool:
        return bool(self.batch or self.group or self.probes)


class Pass:
    """One reading of the spool in sequence order, planned a round at a time.

    Each round goes on where the previous one stopped, so a pass reads each row once however
    many rounds it takes. A round stops reading once its batch or its group holds
    ``batch_size`` entries, it holds ``max_probes`` single probes, or it has read
    ``ROUND_ROWS`` rows. Order per item: an unverified item contributes its first entry (to
    the group if it has no state, else as a single probe if its retry time has come) and
    nothing after it for the rest of the pass (it is *held*); so is an item whose values were
    kept by a refused answer (``hold``). A verified item's entries are never passed over.
    """

    def __init__(self, entries: Iterable[Spooled]) -> None:
        self._entries = iter(entries)
        self.held: set[Item] = set()

    def hold(self, items: Iterable[Item]) -> None:
        """Pass over these items' later entries until the pass ends (their earlier ones stay)."""
        self.held.update(items)

    def next_round(
        self, items: Mapping[Item, ItemState], now: float, batch_size: int, max_probes: int
    ) -> Round:
        plan = Round()
        held = self.held
        for entry in self._entries:
            plan.read += 1
            item = entry.value.item
            if item not in held:
                state = items.get(item)
                if state is not None and state.verified:
                    plan.batch.append(entry)
                else:
                    held.add(item)
                    if state is None:
                        plan.group.append(entry)
                    elif state.next_try <= now:
                        plan.probes.append(entry)
            if (
                len(plan.batch) >= batch_size
                or len(plan.group) >= batch_size
                or len(plan.probes) >= max_probes
                or plan.read >= ROUND_ROWS
            ):
                return plan
        plan.end = True
        return plan


def plan_round(
    entries: Iterable[Spooled],
    items: Mapping[Item, ItemState],
    now: float,
    batch_size: int,
    max_probes: int,
) -> Round:
    """The first round of a new pass over ``entries`` (see ``Pass``)."""
    return Pass(entries).next_round(items, now, batch_size, max_probes)


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
