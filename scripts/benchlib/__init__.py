"""Building blocks of scripts/bench: the test bed, each scenario, and the figures' arithmetic.

``figures`` is pure (percentiles, lateness against planned slots, targets, the Markdown
table); ``procs`` reads /proc; ``bed`` starts emulators, a trapper receiver and the real broker
and talks to the broker's socket; ``scale``, ``clientpath`` and ``delivery`` are the scenarios.
"""
