"""Problems of a configuration file: collected, named as a person finds them, with hints.

Pure and small: ``config`` reports through it, ``config check`` prints what it gathered.
"""

from __future__ import annotations

from collections.abc import Iterable

from linemon_agent.errors import ConfigError, quote_value


class Errors:
    """Collects every problem of a file so one run of `config check` shows them all.

    Each problem is (where, message); ``where`` names the entry as a person finds it in the
    file (``broker``, ``credentials.default``, ``routers 'pe1'``, ``lines 'cust-7'``), and
    ``reported`` lets a later check stay silent about an entry that already failed, so one
    mistake yields one message.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[tuple[str, str]] = []

    def add(self, key: str, message: str) -> None:
        self.items.append((key, message))

    def reported(self, key: str) -> bool:
        return any(where == key or where.startswith(key + ".") for where, _ in self.items)

    def raise_if_any(self) -> None:
        if self.items:
            detail = "\n  ".join(f"{k}: {m}" if k else m for k, m in self.items)
            raise ConfigError(self.source, "", f"{len(self.items)} problem(s):\n  {detail}")


def suggest(word: str, known: Iterable[str], noun: str = "key") -> str:
    """'; did you mean 'x'?' for a close match, else '; known <noun>s: a, b'."""
    import difflib

    choices = sorted(known)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; known {noun}s: {', '.join(choices) or 'none'}"


def unknown(word: str, known: Iterable[str], noun: str = "key") -> str:
    """The one message for a name that is not one of ``known``."""
    return f"unknown {noun} {quote_value(word)}{suggest(str(word), known, noun)}"
