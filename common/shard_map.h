// Where every parameter lives: a pure function of the key (or flat index) and
// the number of shards. Workers and servers compute it independently.
#ifndef PARAMD_COMMON_SHARD_MAP_H_
#define PARAMD_COMMON_SHARD_MAP_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paramd {

// A half-open range [begin, end) of a dense table's flat elements.
struct Range {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};

// Jump consistent hash (Lamping & Veach, 2014): maps `key` to a shard in
// [0, num_shards); moving from n to n+1 shards moves only 1/(n+1) of keys.
// REQUIRES: num_shards > 0.
int32_t JumpHash(uint64_t key, int32_t num_shards);

// FNV-1a 64 of `bytes`: a hash that is the same on every machine and run.
// `basis` is FNV's offset basis unless given.
inline constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ULL;
uint64_t Fnv1a64(absl::string_view bytes, uint64_t basis = kFnvOffsetBasis);

// Maps sparse keys and dense ranges to shards. Thread-safe (immutable).
class ShardMap {
 public:
  // Fails with InvalidArgument unless num_shards is positive.
  static absl::StatusOr<ShardMap> Create(int32_t num_shards);

  int32_t num_shards() const { return num_shards_; }

  // Shard holding sparse row `key`.
  int32_t ShardForKey(uint64_t key) const;

  // Contiguous part of a dense table of `size` elements held by `shard`:
  // sizes differ by at most one element, shard 0 first.
  Range DenseRange(int64_t size, int32_t shard) const;

 private:
  explicit ShardMap(int32_t num_shards) : num_shards_(num_shards) {}
  int32_t num_shards_;
};

}  // namespace paramd

#endif  // PARAMD_COMMON_SHARD_MAP_H_
