#include "common/shard_map.h"

#include "absl/strings/str_cat.h"

namespace paramd {

int32_t JumpHash(uint64_t key, int32_t num_shards) {
  int64_t b = -1;
  int64_t j = 0;
  while (j < num_shards) {
    b = j;
    key = key * 2862933555777941757ULL + 1;
    j = static_cast<int64_t>((b + 1) * (static_cast<double>(1LL << 31) /
                                        static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<int32_t>(b);
}

uint64_t Fnv1a64(absl::string_view bytes, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
  return h;
}

absl::StatusOr<ShardMap> ShardMap::Create(int32_t num_shards) {
  if (num_shards <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_shards must be positive, got ", num_shards));
  }
  return ShardMap(num_shards);
}

int32_t ShardMap::ShardForKey(uint64_t key) const {
  return JumpHash(key, num_shards_);
}

Range ShardMap::DenseRange(int64_t size, int32_t shard) const {
  const int64_t base = size / num_shards_;
  const int64_t extra = size % num_shards_;
  Range range;
  range.begin = shard * base + std::min<int64_t>(shard, extra);
  range.end = range.begin + base + (shard < extra ? 1 : 0);
  return range;
}

}  // namespace paramd
