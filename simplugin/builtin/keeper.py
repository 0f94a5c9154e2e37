"""Which photo of a group to keep: the one with the most information.

The largest pixel count (the original rather than a downscaled copy), then the largest
file (the least compressed), then the earliest path, so the choice is stable from run
to run. It answers last, so any other plugin's `choose_keeper` takes precedence.
"""

from __future__ import annotations

from collections.abc import Sequence

from simplugin import Photo, hookimpl


@hookimpl(trylast=True)
def choose_keeper(photos: Sequence[Photo]) -> Photo:
    return min(photos, key=lambda p: (-p.pixels, -p.size, p.path))
