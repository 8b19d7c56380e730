"""The order a worker trains a shard's examples in, the same as the C++
worker's (Dataset::Shuffle in worker/models/model.cc): std::mt19937_64
seeded with (epoch << 32) ^ shard, driving libstdc++'s std::shuffle, which
draws two swap positions per number and Lemire's nearly divisionless
bounded integers. So a shard is trained in one order whichever worker, in
whichever language, leases it."""

import numpy as np

_N, _M = 312, 156
_MATRIX = np.uint64(0xB5026F5AA96619E9)
_UPPER = np.uint64(0xFFFFFFFF80000000)  # the top 33 bits
_LOWER = np.uint64(0x7FFFFFFF)
_MASK = (1 << 64) - 1


class Mt19937_64:
    """std::mt19937_64: the 64-bit Mersenne Twister."""

    def __init__(self, seed):
        state = [seed & _MASK]
        for i in range(1, _N):
            previous = state[-1]
            state.append((6364136223846793005 *
                          (previous ^ (previous >> 62)) + i) & _MASK)
        self._state = np.array(state, dtype=np.uint64)
        self._out = []
        self._next = 0

    def _twist(self):
        x = self._state
        one = np.uint64(1)

        def mix(current, following, far):
            y = (current & _UPPER) | (following & _LOWER)
            return far ^ (y >> one) ^ np.where(y & one, _MATRIX, np.uint64(0))

        # Each part reads only what the parts before it left.
        x[:_N - _M] = mix(x[:_N - _M], x[1:_N - _M + 1], x[_M:])
        x[_N - _M:_N - 1] = mix(x[_N - _M:_N - 1], x[_N - _M + 1:],
                                x[:_M - 1])
        x[_N - 1:] = mix(x[_N - 1:], x[:1], x[_M - 1:_M])
        y = x.copy()
        y ^= (y >> np.uint64(29)) & np.uint64(0x5555555555555555)
        y ^= (y << np.uint64(17)) & np.uint64(0x71D67FFFEDA60000)
        y ^= (y << np.uint64(37)) & np.uint64(0xFFF7EEE000000000)
        y ^= y >> np.uint64(43)
        self._out = [int(v) for v in y]
        self._next = 0

    def __call__(self):
        if self._next == len(self._out):
            self._twist()
        self._next += 1
        return self._out[self._next - 1]


def _below(rng, bound):
    """A uniform integer in [0, bound), as libstdc++'s
    uniform_int_distribution draws it from a 64-bit engine."""
    product = rng() * bound
    low = product & _MASK
    if low < bound:
        threshold = (-bound & _MASK) % bound
        while low < threshold:
            product = rng() * bound
            low = product & _MASK
    return product >> 64


def shuffled_order(count, seed):
    """range(count) as std::shuffle with std::mt19937_64(seed) orders it,
    as an int64 array (for count up to 2^32)."""
    order = list(range(count))
    if count < 2:
        return np.array(order, dtype=np.int64)
    rng = Mt19937_64(seed)
    i = 1
    if count % 2 == 0:
        j = _below(rng, 2)
        order[i], order[j] = order[j], order[i]
        i += 1
    while i != count:
        span = i + 1  # positions 0..i for i, then 0..i+1 for i+1
        pair = _below(rng, span * (span + 1))
        first, second = divmod(pair, span + 1)
        order[i], order[first] = order[first], order[i]
        order[i + 1], order[second] = order[second], order[i + 1]
        i += 2
    return np.array(order, dtype=np.int64)


def shard_order(epoch, shard, count):
    """The order of a shard's `count` examples in `epoch`, as
    ShardShuffleSeed(epoch, shard) seeds it."""
    return shuffled_order(count, (epoch << 32) ^ (shard & 0xFFFFFFFF))
