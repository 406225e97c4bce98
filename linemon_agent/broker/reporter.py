"""Delivery from the spool to Zabbix trapper items: batching, per-item verification, accounting.

How a batch travels (zabbix_utils, TLS, proxy-group members) is ``sender``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from linemon_agent.errors import LinemonError, excerpt
from linemon_agent.models import TrapperValue
from linemon_agent.settings import ZabbixSettings

from .rounds import (
    ACCEPTED,
    AMBIGUOUS,
    COUNTERS,
    PROBES_PER_CONCURRENCY,
    REFUSAL_CAUSES,
    REFUSALS_TO_WARN,
    REFUSED,
    Item,
    ItemState,
    Pass,
    backoff,
    classify,
)
from .sender import Send
from .spool import Spool, Spooled, SpoolError

log = logging.getLogger("linemon.reporter")

# what a request carries (each also names its counter)
BATCH = "batches"  # values of verified items
GROUP = "groups"  # the first value of each of several never-probed items
PROBE = "probes"  # one value of one unverified item


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


class Reporter:
    """Moves values from the spool to Zabbix exactly once where Zabbix's answers allow it.

    Zabbix answers a batch with counts only (processed / failed), never with which value failed;
    a value for an item it does not know (yet) is counted as failed. So the reporter tracks, per
    (host, key), whether Zabbix has accepted a value ("verified"):

    * values of verified items travel together, up to ``batch_size`` a request;
    * items never probed are probed together, a *group*: each one's oldest value, up to
      ``batch_size`` items in one request (a cold start of 100,000 items is 400 requests, not
      100,000). Accepted: every item in it is verified. Refused (nothing processed): nothing was
      stored, the values stay, and each item counts it as its first refused probe and goes on
      alone. Partly processed: Zabbix does not say which, so as for a verified batch below, the
      values leave the spool, the failures are counted ``unattributed`` and each item goes on
      alone with its next value. An item is in at most one group while the broker runs;
    * any other unverified item is *probed* alone: its oldest value, so the answer is about
      that item. Accepted: the item is verified. Refused: retried with backoff; once
      ``reject_after`` seconds (or ``max_attempts`` probes) have passed, every value of the
      item in the spool is dropped, counted ``rejected``, and the reason logged;
    * a batch of verified items that comes back with failures is an accounting anomaly. If
      nothing was processed, nothing was stored: the values stay and each item is probed again.
      If some were processed, resending would store those twice and the failed ones (a deleted
      or disabled item, a changed type) would fail again, so the batch leaves the spool, the
      failures are counted ``unattributed`` and its items are probed again;
    * a network or protocol error removes nothing: the batch is retried after an exponential
      backoff with jitter (one step per round, however many probes failed in it), values keep
      their clocks, and order per item holds because an item never has more than one request
      in flight and the spool is read in sequence order;
    * a round sends its verified batch first, then its group and probes, ``probe_concurrency``
      requests at a time (each is about other items, so they may overlap; the batch never
      overlaps them). Rounds read the spool in one pass (``rounds.Pass``): each goes on where
      the previous one stopped and stops reading once its batch or group is full, it holds
      ``max_probes`` probes (4 x ``probe_concurrency``) or it has read ``ROUND_ROWS`` rows, so
      no round reads the whole spool to find a few probes, and a pass reads each row once.
      An item probed (or kept by a refused answer) in a pass sends nothing more in that pass;
      a pass that sent anything is followed by a new one from the head of the spool.

    Values leave the spool only after Zabbix's answer, removed in one transaction right after
    it arrives with no await in between. The one window where a value can be sent twice is from
    Zabbix storing a batch to that commit: the reply in transit (and AsyncSender closing its
    connection), a reply lost to a broken connection or a timeout, or a SIGKILL before the
    commit. The sender protocol has no idempotency key, so no client can close it; keeping a
    batch to one request (never chunked) and the commit immediate keeps it to one round trip.
    If that commit fails (a full disk), the batch's sequence numbers are kept in memory: no
    round is planned until they are deleted, so they are not sent again unless the broker
    stops first.

    Accounting: ``recovered + submitted == sent + rejected + unattributed + lost + pending + held``.
    """

    def __init__(
        self,
        spool: Spool,
        send: Send,
        batch_size: int = 250,
        flush_interval: float = 1.0,
        *,
        reject_after: float = 600.0,
        max_attempts: int | None = None,
        probe_base: float = 1.0,
        retry_base: float = 0.5,
        retry_cap: float = 30.0,
        send_timeout: float = 60.0,
        memory_limit: int = 100_000,
        probe_concurrency: int = ZabbixSettings.probe_concurrency,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spool = spool
        self._clock = clock  # monotonic seconds: backoffs and the reject_after bound
        self.send = send
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.reject_after = reject_after
        self.max_attempts = max_attempts
        self.probe_base = probe_base
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.send_timeout = send_timeout
        self.memory_limit = memory_limit
        self.probe_concurrency = probe_concurrency
        self.max_probes = probe_concurrency * PROBES_PER_CONCURRENCY
        self.items: dict[Item, ItemState] = {}
        self._held: deque[TrapperValue] = deque()  # values the spool could not take (yet)
        self._delivered: set[int] = set()  # seqs Zabbix accepted that the spool still holds
        self._spool_failing = False
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._fresh = 0
        self._errors_in_row = 0
        self._failed_round = False  # this round already stepped the backoff
        self._retry_at = 0.0
        self.counts = dict.fromkeys(COUNTERS, 0)
        self._probes_accepted = 0  # groups and probes Zabbix took (ends a pass: see _one_pass)
        self.recovered = len(spool)
        self.last_error = ""
        self.last_rejected = ""
        self.last_refused = ""  # the latest refusal of an item not (yet) rejected
        self._refusal_logged = -60.0

    # -- intake ------------------------------------------------------------------------------

    def submit(self, value: TrapperValue) -> None:
        """Spool one value now (durable on return); wake the sender when a batch is full.

        If the spool cannot be written, the value is held in memory (oldest dropped beyond
        ``memory_limit``, counted ``lost``) and spooled, in order, once writing works again.
        """
        self.counts["submitted"] += 1
        self._held.append(value)
        self._spool_held()
        self._fresh += 1
        if self._fresh >= self.batch_size:
            self._wake.set()

    def _spool_held(self) -> None:
        if not self._held:
            return
        try:
            if len(self._held) == 1:
                self.spool.append(self._held[0])
            else:
                self.spool.append_many(self._held)
        except SpoolError as exc:
            if not self._spool_failing:
                log.error("spool not writable: holding values in memory", extra={"error": str(exc)})
            self._spool_failing = True
            self._note_error("spool_errors", exc)
            while len(self._held) > self.memory_limit:
                self._held.popleft()
                self.counts["lost"] += 1
            return
        if self._spool_failing:
            log.warning("spool writable again", extra={"values": len(self._held)})
            self._spool_failing = False
        self._held.clear()

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until ``stop()``: a round when a batch is full or every ``flush_interval``."""
        self._task = asyncio.current_task()
        self._done.clear()
        try:
            while not self._stop.is_set():
                await self._pause()
                await self.deliver_due()
        finally:
            self._done.set()

    async def stop(self, timeout: float) -> None:
        """Deliver what can be delivered within ``timeout`` seconds (one try even during a
        backoff), then end ``run()``. What is left stays in the spool for the next start."""
        self._stop.set()
        self._wake.set()
        task = self._task
        try:
            if task is None or task.done():
                await asyncio.wait_for(self.deliver_due(), timeout)
            else:
                await asyncio.wait_for(self._done.wait(), timeout)
        except TimeoutError:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if len(self.spool) or self._held:
            log.warning(
                "reporter stopped with values pending; they are sent at the next start",
                extra={
                    "pending": len(self.spool) - len(self._delivered),
                    "held": len(self._held),
                    # accepted by Zabbix, but the spool could not delete them: sent twice
                    "delivered_not_removed": len(self._delivered),
                },
            )

    async def _pause(self) -> None:
        now = self._clock()
        if now < self._retry_at:
            await _wait(self._stop, self._retry_at - now)
        else:
            await _wait(self._wake, self.flush_interval)
        self._wake.clear()

    async def deliver_due(self) -> None:
        """Send passes of rounds until a pass sends nothing or a send fails."""
        self._fresh = 0
        self._failed_round = False
        self._spool_held()
        if self._delivered and not self._remove_delivered():
            return
        while await self._one_pass():
            pass

    async def _one_pass(self) -> bool:
        """Read the spool once, a round at a time, sending as it goes; True if it sent
        anything and every send was answered. A round whose group or probes verified items
        ends the pass: those items' later values, passed over while they were held, go in
        the next pass's batches from the head of the spool (a cold start would otherwise send
        group after group while the values of every item verified so far wait)."""
        scan = Pass(self.spool.scan())
        sent = False
        while True:
            verified = self._probes_accepted
            try:
                plan = scan.next_round(self.items, self._clock(), self.batch_size, self.max_probes)
            except SpoolError as exc:
                self._fail("spool_errors", exc)
                return False
            if not plan:
                if plan.end:
                    return sent
                await asyncio.sleep(0)  # a round of rows passed over: let the loop run
                continue
            sent = True
            if plan.batch and not await self._deliver(plan.batch, BATCH, scan):
                return False
            jobs = [([e], PROBE) for e in plan.probes]
            if plan.group:
                jobs.insert(0, (plan.group, GROUP if len(plan.group) > 1 else PROBE))
            if jobs and not await self._probe_all(jobs, scan):
                return False
            if self._probes_accepted != verified:
                return True

    async def _probe_all(self, jobs: list[tuple[list[Spooled], str]], scan: Pass) -> bool:
        """Send probes (each a group or one value) about distinct items, at most
        ``probe_concurrency`` in flight; False if a send failed (those not yet started are
        left for the next round)."""
        pending = iter(jobs)
        ok = True

        async def worker() -> None:
            nonlocal ok
            for entries, kind in pending:
                if not ok or not await self._deliver(entries, kind, scan):
                    ok = False
                    return

        await asyncio.gather(*(worker() for _ in range(min(self.probe_concurrency, len(jobs)))))
        return ok

    async def _deliver(self, entries: list[Spooled], kind: str, scan: Pass | None = None) -> bool:
        """Send one request (``kind``: BATCH, GROUP or PROBE) and act on the answer; False when
        the round must end. Items whose values a refused answer kept are held in ``scan``."""
        payload = [e.value.as_dict() for e in entries]
        try:
            processed, failed, _total = await asyncio.wait_for(
                self.send(payload), self.send_timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure to get an answer: keep everything, back off
            self._fail("send_errors", exc)
            return False
        verdict = classify(len(entries), processed, failed)
        try:
            if verdict != REFUSED:  # first thing after the answer: no await until committed
                self.spool.remove(e.seq for e in entries)
            else:
                if scan is not None:  # kept: their later values must not pass them this pass
                    scan.hold(e.value.item for e in entries)
                if kind != BATCH:  # each item was refused, as if probed alone
                    for entry in entries:
                        self._refused_probe(entry)
        except SpoolError as exc:
            if verdict != REFUSED:  # Zabbix has them: remembered, never sent again
                self._delivered.update(e.seq for e in entries)
                self._count_answer(entries, kind, verdict, processed)
            self._fail("spool_errors", exc)
            return False
        self._count_answer(entries, kind, verdict, processed)
        return True

    def _remove_delivered(self) -> bool:
        """Remove values Zabbix took while the spool could not delete them; False if it still
        cannot (they stay out of every batch meanwhile: a restart before this succeeds is
        the one way they are sent again)."""
        try:
            self.spool.remove(self._delivered)
        except SpoolError as exc:
            self._fail("spool_errors", exc)
            return False
        self._delivered.clear()
        return True

    def _count_answer(
        self, entries: list[Spooled], kind: str, verdict: str, processed: int
    ) -> None:
        n = len(entries)
        kept = max(0, min(processed, n))
        self.counts[kind] += 1
        if self._errors_in_row:
            log.info("delivery resumed", extra={"errors": self._errors_in_row})
        self._errors_in_row = 0
        self._retry_at = 0.0
        items = {e.value.item for e in entries}
        if verdict == ACCEPTED:
            self.counts["sent"] += n
            if kind != BATCH:
                self._probes_accepted += 1
            for item in items:
                self.items[item] = ItemState(verified=True)
            return
        self.counts["failed"] += n - kept
        if verdict == REFUSED and kind != BATCH:
            return
        for item in items:
            self.items[item] = ItemState()
        dropped = 0
        if verdict == AMBIGUOUS:
            dropped = n - kept
            self.counts["sent"] += kept
            self.counts["unattributed"] += dropped
        if kind == GROUP:  # expected when a new item is not in Zabbix (yet): not an anomaly
            log.warning(
                "Zabbix refused some values of a group of new items and does not say which;"
                " the group's values are dropped as unattributed, each item is probed alone",
                extra={"values": n, "processed": processed, "dropped_unattributed": dropped,
                       "items": ", ".join(f"{h}:{k}" for h, k in sorted(items)[:10])},
            )
            return
        self.counts["anomalies"] += 1
        log.warning(
            "accounting anomaly: Zabbix refused values of items it had accepted before;"
            " probing each item again",
            extra={
                "values": n,
                "processed": processed,
                "dropped_unattributed": dropped,
                "items": ", ".join(f"{h}:{k}" for h, k in sorted(items)[:10]),
            },
        )

    def _refused_probe(self, entry: Spooled) -> None:
        """An unverified item's value was refused: back off, or reject the item's values."""
        now = self._clock()
        host, key = item = entry.value.item
        state = self.items.setdefault(item, ItemState())
        state.failures += 1
        if state.failures == 1:
            state.first_failure = now
        elapsed = now - state.first_failure
        over = self.max_attempts is not None and state.failures >= self.max_attempts
        if not over and elapsed < self.reject_after:
            state.next_try = now + backoff(state.failures, self.probe_base, self.retry_cap)
            self.last_refused = (
                f"host {host!r} key {key!r}: refused {state.failures} times over"
                f" {elapsed:.0f} s ({REFUSAL_CAUSES}); its values are dropped"
                f" {self.reject_after:.0f} s after the first refusal unless Zabbix takes one"
            )
            # a new item is refused until Zabbix's config cache has it: say so only when it
            # lasts, and once a minute for all items together
            if state.failures >= REFUSALS_TO_WARN and now - self._refusal_logged >= 60:
                self._refusal_logged = now
                log.warning(
                    "Zabbix refuses values; they stay in the spool for now",
                    extra={"items_failing": sum(1 for s in self.items.values() if s.failures),
                           "example": self.last_refused},
                )
            return
        dropped = self.spool.remove_item(host, key)
        self.items[item] = ItemState()  # its later values are probed alone, never in a group
        self.counts["rejected"] += dropped
        self.last_rejected = (
            f"host {host!r} key {key!r}: Zabbix did not accept its values in {state.failures}"
            f" attempts over {elapsed:.0f} s ({REFUSAL_CAUSES}); dropped {dropped} values"
        )
        log.warning("values rejected", extra={"reason": self.last_rejected})

    def _fail(self, counter: str, exc: Exception) -> None:
        self._note_error(counter, exc)
        if self._failed_round:  # concurrent probes failing together: one step of backoff
            return
        self._failed_round = True
        self._errors_in_row += 1
        delay = backoff(self._errors_in_row, self.retry_base, self.retry_cap)
        self._retry_at = self._clock() + delay
        log.warning(
            "delivery failed; values stay in the spool",
            extra={"error": self.last_error, "retry_in_s": round(delay, 2),
                   "errors_in_row": self._errors_in_row},
        )

    def _note_error(self, counter: str, exc: Exception) -> None:
        self.counts[counter] += 1
        kind = "spool" if isinstance(exc, SpoolError) else "send"
        # our own errors are written to be read whole (a TLS one names the setting to fix)
        limit = 480 if isinstance(exc, LinemonError) else 160
        self.last_error = f"{kind}: {type(exc).__name__}: {excerpt(str(exc), limit) or 'no detail'}"

    # -- reporting ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters and gauges for status and metrics."""
        try:
            head = self.spool.oldest()
        except SpoolError:
            head = None
        age = 0.0 if head is None else time.time() - head.value.clock - head.value.ns / 1e9
        return {
            **self.counts,
            "recovered": self.recovered,
            "pending": len(self.spool) - len(self._delivered),
            "held": len(self._held),
            "oldest_pending_age_s": round(max(0.0, age), 3),
            "items_verified": sum(1 for s in self.items.values() if s.verified),
            "items_failing": sum(1 for s in self.items.values() if s.failures),
            "retry_in_s": round(max(0.0, self._retry_at - self._clock()), 3),
            "last_error": self.last_error,
            "last_rejected": self.last_rejected,
            "last_refused": self.last_refused if self.last_refused and any(
                s.failures for s in self.items.values()) else "",
        }
