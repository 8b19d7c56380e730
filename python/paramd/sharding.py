"""Where every parameter lives, as common/shard_map.cc computes it: sparse
rows by the jump consistent hash of their key, dense tables in contiguous
ranges. Workers in any language must agree on it with the servers."""

import numpy as np

_MULTIPLIER = np.uint64(2862933555777941757)


def jump_hash(keys, num_shards):
    """The shard of each uint64 key (Lamping & Veach, 2014), as an int32
    array: the same as JumpHash() in C++, key by key."""
    if num_shards <= 0:
        raise ValueError("num_shards must be positive, got %d" % num_shards)
    key = np.array(keys, dtype=np.uint64, copy=True).reshape(-1)
    b = np.full(key.shape, -1, dtype=np.int64)
    j = np.zeros(key.shape, dtype=np.int64)
    live = j < num_shards
    with np.errstate(over="ignore"):
        while live.any():
            b[live] = j[live]
            key[live] = key[live] * _MULTIPLIER + np.uint64(1)
            # As the C++ double arithmetic: (b + 1) * (2^31 / ((key >> 33) + 1)).
            top = (key[live] >> np.uint64(33)).astype(np.float64) + 1.0
            j[live] = ((b[live] + 1).astype(np.float64) *
                       (float(1 << 31) / top)).astype(np.int64)
            live = j < num_shards
    return b.astype(np.int32)


def dense_range(size, shard, num_shards):
    """The half-open range [begin, end) of a dense table of `size` elements
    that `shard` holds: sizes differ by at most one, shard 0 first."""
    base, extra = divmod(size, num_shards)
    begin = shard * base + min(shard, extra)
    return begin, begin + base + (1 if shard < extra else 0)
