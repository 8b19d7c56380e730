#include "common/shard_map.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

constexpr int kKeys = 100000;

// Well-mixed 64-bit keys (hashed feature ids).
uint64_t MixedKey(uint64_t i) {
  uint64_t x = i + 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The two key populations a table sees: dense ids (word ids) and hashes.
std::vector<std::pair<const char*, std::vector<uint64_t>>> KeySets() {
  std::vector<uint64_t> sequential(kKeys);
  std::vector<uint64_t> mixed(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    sequential[i] = static_cast<uint64_t>(i);
    mixed[i] = MixedKey(i);
  }
  return {{"sequential", sequential}, {"mixed", mixed}};
}

TEST(ShardMapTest, RejectsZeroShards) {
  absl::StatusOr<ShardMap> map = ShardMap::Create(0);
  ASSERT_FALSE(map.ok());
  EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(map.status().message(), "0")) << map.status();
}

TEST(ShardMapTest, RejectsNegativeShards) {
  for (int32_t n : {-1, -7, std::numeric_limits<int32_t>::min()}) {
    absl::StatusOr<ShardMap> map = ShardMap::Create(n);
    ASSERT_FALSE(map.ok()) << n;
    EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument) << n;
  }
}

TEST(ShardMapTest, CreateKeepsShardCount) {
  for (int32_t n : {1, 2, 7, 1024}) {
    absl::StatusOr<ShardMap> map = ShardMap::Create(n);
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_EQ(map->num_shards(), n);
  }
}

TEST(ShardMapTest, DenseRangesTileTheTableEvenly) {
  const std::vector<std::pair<int64_t, int32_t>> cases = {
      {0, 1},  {1, 1},   {10, 1},       {10, 2},
      {11, 2}, {10, 3},  {2, 5},        {0, 4},
      {7, 7},  {8, 7},   {1000, 7},     {5, 8},
      {1, 3},  {99, 10}, {1 << 20, 13}, {(int64_t{1} << 40) + 3, 16}};
  for (const auto& [size, n] : cases) {
    SCOPED_TRACE(testing::Message() << "size " << size << ", shards " << n);
    absl::StatusOr<ShardMap> map = ShardMap::Create(n);
    ASSERT_TRUE(map.ok()) << map.status();
    int64_t expected_begin = 0;
    int64_t smallest = std::numeric_limits<int64_t>::max();
    int64_t largest = 0;
    int64_t total = 0;
    for (int32_t shard = 0; shard < n; ++shard) {
      const Range range = map->DenseRange(size, shard);
      EXPECT_EQ(range.begin, expected_begin) << "shard " << shard;
      EXPECT_GE(range.size(), 0) << "shard " << shard;
      expected_begin = range.end;
      smallest = std::min(smallest, range.size());
      largest = std::max(largest, range.size());
      total += range.size();
    }
    EXPECT_EQ(expected_begin, size);
    EXPECT_EQ(total, size);
    EXPECT_LE(largest - smallest, 1);
    EXPECT_EQ(smallest, size / n);
  }
}

TEST(ShardMapTest, SmallTableLeavesLaterShardsEmpty) {
  absl::StatusOr<ShardMap> map = ShardMap::Create(5);
  ASSERT_TRUE(map.ok()) << map.status();
  for (int32_t shard = 0; shard < 5; ++shard) {
    const Range range = map->DenseRange(2, shard);
    EXPECT_EQ(range.size(), shard < 2 ? 1 : 0) << shard;
  }
  EXPECT_EQ(map->DenseRange(2, 0).begin, 0);
  EXPECT_EQ(map->DenseRange(2, 1).begin, 1);
}

TEST(ShardMapTest, JumpHashStaysInRange) {
  for (int32_t n : {1, 2, 3, 8, 100, 1024}) {
    for (uint64_t key : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 63,
                         std::numeric_limits<uint64_t>::max()}) {
      const int32_t shard = JumpHash(key, n);
      EXPECT_GE(shard, 0) << key << " " << n;
      EXPECT_LT(shard, n) << key << " " << n;
    }
    for (int i = 0; i < 10000; ++i) {
      const int32_t shard = JumpHash(MixedKey(i), n);
      ASSERT_GE(shard, 0);
      ASSERT_LT(shard, n);
    }
  }
}

TEST(ShardMapTest, OneShardHoldsEveryKey) {
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(JumpHash(MixedKey(i), 1), 0);
    EXPECT_EQ(JumpHash(i, 1), 0);
  }
}

TEST(ShardMapTest, JumpHashIsDeterministicAndMatchesShardForKey) {
  absl::StatusOr<ShardMap> map = ShardMap::Create(8);
  ASSERT_TRUE(map.ok()) << map.status();
  absl::StatusOr<ShardMap> other = ShardMap::Create(8);
  ASSERT_TRUE(other.ok()) << other.status();
  std::vector<int32_t> first;
  for (int i = 0; i < 1000; ++i) first.push_back(JumpHash(MixedKey(i), 8));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(JumpHash(MixedKey(i), 8), first[i]);
    EXPECT_EQ(map->ShardForKey(MixedKey(i)), first[i]);
    EXPECT_EQ(other->ShardForKey(MixedKey(i)), first[i]);
  }
  // Not everything lands on one shard.
  EXPECT_NE(*std::min_element(first.begin(), first.end()),
            *std::max_element(first.begin(), first.end()));
}

TEST(ShardMapTest, JumpHashIsBalanced) {
  for (const auto& [name, keys] : KeySets()) {
    for (int32_t n : {2, 3, 8}) {
      SCOPED_TRACE(testing::Message() << name << " keys, " << n << " shards");
      std::vector<int> counts(n, 0);
      for (uint64_t key : keys) ++counts[JumpHash(key, n)];
      const double expected = static_cast<double>(keys.size()) / n;
      for (int32_t s = 0; s < n; ++s) {
        EXPECT_NEAR(counts[s], expected, 0.03 * expected) << "shard " << s;
      }
    }
  }
}

TEST(ShardMapTest, GrowingMovesKeysOnlyToTheNewShard) {
  for (const auto& [name, keys] : KeySets()) {
    for (int32_t n = 1; n <= 16; ++n) {
      SCOPED_TRACE(testing::Message()
                   << name << " keys, " << n << " -> " << n + 1 << " shards");
      int moved = 0;
      for (uint64_t key : keys) {
        const int32_t before = JumpHash(key, n);
        const int32_t after = JumpHash(key, n + 1);
        if (before != after) {
          ASSERT_EQ(after, n) << "key " << key << " moved from " << before
                              << " to an old shard";
          ++moved;
        }
      }
      const double expected = static_cast<double>(keys.size()) / (n + 1);
      EXPECT_NEAR(moved, expected, 0.05 * expected);
    }
  }
}

// Values of the published algorithm (Lamping & Veach); the first ones were
// computed by an independent implementation. Workers and servers built from
// different releases, and the Python worker (tests/python), must agree on
// where every key lives: they check the same table.
TEST(ShardMapTest, JumpHashMatchesTheSharedTable) {
  std::ifstream in(std::string(PARAMD_SOURCE_DIR) +
                   "/tests/testdata/jump_hash_cases.tsv");
  ASSERT_TRUE(in.is_open());
  int cases = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    uint64_t key = 0;
    int32_t shards = 0, shard = -1;
    ASSERT_TRUE(fields >> key >> shards >> shard) << line;
    EXPECT_EQ(JumpHash(key, shards), shard) << line;
    ++cases;
  }
  EXPECT_GE(cases, 30);
}

}  // namespace
}  // namespace paramd
