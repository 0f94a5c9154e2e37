"""Photos are read on every core and at reduced JPEG scale, with the same results."""

from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image

from conftest import DUBLIN, run_simplugin
from simplugin import Metric, hookimpl, load_plugins, scan


def test_one_process_or_several_give_the_same_result(library):
    one = run_simplugin("scan", str(library), "--jobs", "1", "--no-cache", "--json", "-")
    two = run_simplugin("scan", str(library), "--jobs", "2", "--no-cache", "--json", "-")

    assert json.loads(one.stdout) == json.loads(two.stdout)


class Darkness(Metric):
    name = "darkness"
    default_threshold = 0.05
    signature_shape = (1,)
    signature_dtype = "float64"

    def signature(self, image):
        return np.array([1 - np.asarray(image.convert("L")).mean() / 255])

    def distance(self, a, b):
        return float(abs(a[0] - b[0]))


class DarknessPlugin:
    @hookimpl
    def register_metrics(self, register):
        register(Darkness())


def test_a_plugin_registered_by_a_script_also_works_in_the_worker_processes(library):
    host = load_plugins(extra={"darkness": DarknessPlugin()})

    result = scan(library, metric="darkness", jobs=2, cache=False, plugins=host)

    assert len(result.photos) == 6 and result.pairs


def test_a_photo_read_at_reduced_scale_reports_its_full_upright_size():
    result = scan(DUBLIN, cache=False)

    sizes = {os.path.basename(p.path): (p.width, p.height) for p in result.photos}
    assert sizes["bridge_2.jpg"] == (1056, 1408)  # stored 1408x1056, EXIF says turn it
    assert sizes["airplane_1.jpg"] == (1851, 1388)


class CrashesOnSmallPhotos(Darkness):
    """A metric whose decoder dies, as a C library can on a malformed file."""

    name = "crashy"

    def signature(self, image):
        if image.width < 100:
            os._exit(70)  # the whole worker process goes, with no exception to catch
        return super().signature(image)


class CrashyPlugin:
    @hookimpl
    def register_metrics(self, register):
        register(CrashesOnSmallPhotos())


def test_a_worker_that_dies_costs_only_the_photo_that_killed_it(library):
    Image.open(library / "seagull_1.jpeg").resize((60, 80)).save(library / "tiny.jpeg")
    host = load_plugins(extra={"crashy": CrashyPlugin()})

    result = scan(library, metric="crashy", jobs=2, cache=False, plugins=host)

    assert [(os.path.basename(s.path), s.reason) for s in result.skipped] == [
        ("tiny.jpeg", "reading it made the decoder crash (its process died)")
    ]
    assert len(result.photos) == 6
