"""What a photo's near-duplicate pairs depend on, as a digest: its signature and its
bucket key. The pair cache (`simplugin.pair_cache`) keeps each photo's digest with the
pairs it found, and counts a photo unchanged while its digest is; the folder records
(`simplugin.folder_records`) keep the digests beside the signatures, so that a re-scan
does not hash 100,000 signatures again (~0.25 s)."""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

DIGEST_SIZE = 16  # bytes
# json.dumps(key, sort_keys=True), without making an encoder for each key encoded so
_SORTED_JSON = json.JSONEncoder(sort_keys=True)
_FLOAT = struct.Struct("<d")


def digests_of(signatures: np.ndarray, keys: Sequence[Any]) -> tuple[bytes | None, ...]:
    """What each photo's pairs depend on: its signature (its bytes, of one width under a
    configuration) and bucket key. None for a key that has no encoding: such a photo is
    fresh every time."""
    # Each row read in place from one view of them all: cutting a bytes copy of each
    # took twice as long for 100,000 photos, and a copy of them all as much memory again
    every = _bytes_of(signatures)
    width = every.nbytes // len(signatures) if len(signatures) else 0
    return tuple(
        None if encoded is None else _digest(every[n * width : (n + 1) * width], encoded)
        for n, encoded in enumerate(map(_encoded_key, keys))
    )


def completed(
    known: Sequence[bytes | None], signatures: np.ndarray, keys: Sequence[Any]
) -> tuple[bytes | None, ...]:
    """The digests of the photos with these `signatures` and `keys`: those `known` (kept
    by the cache), the others (None there) made now."""
    missing = [index for index, digest in enumerate(known) if digest is None]
    if len(missing) == len(signatures):  # none known (a first scan): no copy of signatures
        return digests_of(signatures, keys)
    digests = list(known)
    if missing:
        made = digests_of(signatures[missing], [keys[index] for index in missing])
        for index, digest in zip(missing, made, strict=True):
            digests[index] = digest
    return tuple(digests)


def _bytes_of(signatures: np.ndarray) -> memoryview:
    """The signatures' bytes, row after row: in place when their type allows."""
    try:
        return memoryview(signatures).cast("B")  # C-contiguous, as summarise makes them
    except (TypeError, ValueError):  # not contiguous, or a type with no buffer format
        return memoryview(signatures.tobytes())


def _digest(signature: memoryview, encoded_key: bytes) -> bytes:
    whole = hashlib.blake2b(signature, digest_size=DIGEST_SIZE)
    whole.update(encoded_key)
    return whole.digest()


def _encoded_key(key: Any) -> bytes | None:
    """A bucket key as bytes, one to one: a tag for its type, then the value. The common
    types are encoded directly (sorted JSON took ~3 µs a photo); the rest as sorted JSON."""
    kind = type(key)
    if kind is float:
        return b"f" + _FLOAT.pack(key)  # its bits: exact, -0.0 and NaNs included
    if key is None:
        return b"n"
    try:
        if kind is int:
            return b"i" + str(key).encode()
        if kind is str:
            return b"s" + key.encode("utf-8", "surrogatepass")
        return b"j" + _SORTED_JSON.encode(key).encode()
    except (TypeError, ValueError):  # not JSON, or an int too long to write out
        return None
