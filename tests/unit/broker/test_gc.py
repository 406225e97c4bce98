"""The broker's collector settings (server.tune_gc): what is loaded at start leaves every
collection, the young generation is collected far less often, and cyclic garbage made while
the broker runs is still freed without an explicit collection."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from linemon_agent.broker.server import GC_THRESHOLDS, tune_gc


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_start_is_frozen_and_the_young_generation_waits_longer(restored_gc: None) -> None:
    default_young = gc.get_threshold()[0]
    tune_gc()
    assert gc.get_freeze_count() > 1000  # modules and what they hold
    assert gc.get_threshold() == GC_THRESHOLDS and GC_THRESHOLDS[0] > default_young


def test_cycles_made_while_running_are_still_freed(restored_gc: None) -> None:
    tune_gc()
    garbage = _Node()
    ref = weakref.ref(garbage)
    del garbage
    assert ref() is not None  # a cycle: reference counting alone does not free it
    keep = [[] for _ in range(3 * GC_THRESHOLDS[0])]  # allocations past the young threshold
    assert ref() is None
    del keep
