"""Progress and skipped files on stderr, while a scan runs."""

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
        self.done = 0
        self.started = 0.0
        self.drawn = 0.0

    @hookimpl
    def photo_skipped(self, skipped: Skipped) -> None:
        self._clear()
        warn(f"skipped {printable(skipped.path)}: {skipped.reason}")

    def stage(self, name: str, total: int | None) -> None:
        self.name, self.total, self.done = name, total, 0
        self.started = time.monotonic()
        self._draw(force=True)

    def found(self, total: int) -> None:  # the walk is still finding photos to read
        self.total = total
        self._draw(force=False)

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
        if self.total:
            line += f"/{self.total}"
            if rate > 0 and self.done < self.total:
                line += f", {rate:.0f}/s, about {(self.total - self.done) / rate:.0f} s left"
        sys.stderr.write(f"\r\033[K{line}")
        sys.stderr.flush()

    def _clear(self) -> None:
        if self.show_progress:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
