"""A difference-hash metric for simplugin, installed as any third-party plugin is.

Each photo is shrunk to 9x8 grey pixels; each of the 64 bits says whether a pixel is
brighter than its right-hand neighbour. The distance of two photos is the share of
bits that differ (the Hamming distance over 64). Because the hash records gradients,
not levels, it does not change when a photo is brightened or darkened, and little
when it is cropped by a few percent: cases the reference metric misses.

    pip install ./examples/simplugin-dhash
    simplugin scan PHOTOS --metric dhash
"""

from __future__ import annotations

import numpy as np

from simplugin import Metric, hookimpl

BITS = 64
# How many bits are set in each byte value: the Hamming distance of packed hashes.
_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)


class DifferenceHash(Metric):
    name = "dhash"
    description = "Hamming distance of 64-bit difference hashes (survives crops and brightness)"
    default_threshold = 10 / BITS  # fewer than 10 of 64 bits differ
    distance_range = (0.0, 1.0)  # the share of bits that differ: --threshold 10 is refused
    signature_shape = (BITS // 8,)
    signature_dtype = "uint8"
    decode_size = 32

    def signature(self, image):
        grey = np.asarray(image.convert("L").resize((9, 8)), dtype=np.int16)
        return np.packbits(grey[:, 1:] > grey[:, :-1])

    def distance(self, a, b):
        return int(_POPCOUNT[np.bitwise_xor(a, b)].sum()) / BITS

    def pairs_within(self, signatures, threshold):
        for i in range(len(signatures) - 1):
            differing = _POPCOUNT[np.bitwise_xor(signatures[i + 1 :], signatures[i])].sum(axis=1)
            distances = differing / BITS
            for offset in np.flatnonzero(distances < threshold):
                yield i, i + 1 + int(offset), float(distances[offset])


@hookimpl
def register_metrics(register):
    register(DifferenceHash())
