"""Progress and skipped files on stderr, while a scan runs.

While the walk is still finding files, the number found is not the total: the line says
how many are read of how many found so far, and no time left, which would be a guess
from a total that keeps growing (it read "about 0 s left" through long scans). Once the
walk has finished, the total is known and the time left is estimated from the rate.
"""

from __future__ import annotations

import sys
import time

from ..hookspecs import hookimpl
from ..text import printable
from ..text import tell as warn
from ..types import Skipped


class TerminalReporter:
    """Progress and skipped files on stderr. Progress is drawn only on a terminal."""

    def __init__(self, show_progress: bool):
        self.show_progress = show_progress
        self.name = ""
        self.total: int | None = None
        self.total_known = False  # the total is final, not what the walk has found so far
        self.done = 0
        self.started = 0.0
        self.drawn = 0.0

    @hookimpl
    def photo_skipped(self, skipped: Skipped) -> None:
        self._clear()
        warn(f"skipped {printable(skipped.path)}: {skipped.reason}")

    def stage(self, name: str, total: int | None) -> None:
        self.name, self.total, self.done = name, total, 0
        self.total_known = total is not None
        self.started = time.monotonic()
        self._draw(force=True)

    def found(self, total: int, finished: bool = False) -> None:
        self.total, self.total_known = total, finished
        self._draw(force=finished)

    def advance(self, count: int = 1) -> None:
        self.done += count
        self._draw(force=False)

    def finish(self) -> None:
        self._clear()

    def _draw(self, force: bool) -> None:
        now = time.monotonic()
        if not self.show_progress or (not force and now - self.drawn < 0.1):
            return
        self.drawn = now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        line = f"{self.name}: {self.done}"
        if self.total and not self.total_known:
            line += f" of {self.total} found so far"
        elif self.total:
            line += f"/{self.total}"
        if rate > 0 and self.total and self.done < self.total:
            line += f", {rate:.0f}/s"
            if self.total_known:
                line += f", about {(self.total - self.done) / rate:.0f} s left"
        sys.stderr.write(f"\r\033[K{line}")
        sys.stderr.flush()

    def _clear(self) -> None:
        if self.show_progress:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
