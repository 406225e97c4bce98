"""A router CLI's line discipline: echo what is typed, edit, and cut input into lines (pure).

Printable ASCII is echoed and kept (up to ``max_line`` characters, as devices cap a
line); backspace and DEL erase, Ctrl-U erases the line, Ctrl-C cancels it; CR, LF and
CRLF each end a line. Every other byte (escape sequences, UTF-8, NUL) is dropped unechoed.
"""

from __future__ import annotations

from dataclasses import dataclass

_ERASE = b"\x08 \x08"


@dataclass(frozen=True)
class Step:
    """What one :meth:`LineEditor.feed` produced: bytes to echo, and a finished ``line``
    (``None`` if the input ran out first) or ``cancelled`` (Ctrl-C on the line)."""

    echo: bytes
    line: str | None = None
    cancelled: bool = False


class LineEditor:
    def __init__(self, max_line: int = 4096) -> None:
        self.max_line = max_line
        self._line = bytearray()
        self._after_cr = False

    def feed(self, data: bytearray) -> Step:
        """Consume ``data`` (in place) up to the end of the first line or Ctrl-C."""
        echo = bytearray()
        used = 0
        try:
            for used, byte in enumerate(data, start=1):  # noqa: B007 - used after the loop
                after_cr, self._after_cr = self._after_cr, False
                if byte == 0x0A and after_cr:
                    continue  # the LF of a CRLF
                if byte in (0x0D, 0x0A):
                    self._after_cr = byte == 0x0D
                    line = self._line.decode("ascii")
                    self._line.clear()
                    return Step(bytes(echo), line)
                if byte == 0x03:
                    self._line.clear()
                    return Step(bytes(echo), cancelled=True)
                if byte in (0x08, 0x7F):
                    if self._line:
                        self._line.pop()
                        echo += _ERASE
                elif byte == 0x15:
                    echo += _ERASE * len(self._line)
                    self._line.clear()
                elif 0x20 <= byte < 0x7F and len(self._line) < self.max_line:
                    self._line.append(byte)
                    echo.append(byte)
            return Step(bytes(echo))
        finally:
            del data[:used]
