#include "server/shard_store.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/types/span.h"
#include "common/config.h"
#include "common/initializer.h"
#include "common/shard_map.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

OptimizerConfig Sgd(double learning_rate) {
  OptimizerConfig opt;
  opt.kind = "sgd";
  opt.learning_rate = learning_rate;
  return opt;
}

InitializerConfig Uniform(uint64_t seed) {
  InitializerConfig init;
  init.kind = "uniform";
  init.scale = 1.0;
  init.seed = seed;
  return init;
}

TableConfig DenseConfig(const std::string& name, std::vector<int64_t> shape,
                        InitializerConfig init = Uniform(3)) {
  TableConfig table;
  table.name = name;
  table.shape = std::move(shape);
  table.init = init;
  table.optimizer = Sgd(1.0);
  return table;
}

TableConfig SparseConfig(const std::string& name, int64_t width,
                         InitializerConfig init = Uniform(4)) {
  TableConfig table;
  table.name = name;
  table.sparse = true;
  table.width = width;
  table.init = init;
  table.optimizer = Sgd(1.0);
  return table;
}

// A dense table "d" of 11 elements and a sparse table "e" of width 3.
JobConfig TwoTableJob() {
  JobConfig job;
  job.name = "store-test";
  job.tables = {DenseConfig("d", {11}), SparseConfig("e", 3)};
  return job;
}

std::unique_ptr<ShardStore> MustCreate(const JobConfig& job, int32_t shard,
                                       int32_t num_shards) {
  absl::StatusOr<std::unique_ptr<ShardStore>> store =
      ShardStore::Create(job, shard, num_shards);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(store).value() : nullptr;
}

Slice DenseSlice(int64_t offset, int64_t length,
                 absl::Span<const float> values = {}) {
  Slice slice;
  slice.table = "d";
  slice.offset = offset;
  slice.length = length;
  slice.values = values;
  return slice;
}

Slice SparseSlice(std::vector<uint64_t> keys,
                  absl::Span<const float> values = {},
                  const std::string& table = "e") {
  Slice slice;
  slice.table = table;
  slice.keys = std::move(keys);
  slice.values = values;
  return slice;
}

// Reads a validated slice.
std::vector<float> ReadSlice(ShardStore& store, const Slice& slice) {
  EXPECT_TRUE(store.Validate({slice}, false).ok());
  std::vector<float> out(slice.NumValues(store.Width(slice.table)), -99.0f);
  store.Read(slice, absl::MakeSpan(out));
  return out;
}

std::vector<float> Initial(const InitializerConfig& init,
                           const std::string& table, int64_t begin, int64_t n) {
  std::vector<float> out(n);
  InitDenseRange(init, table, begin, absl::MakeSpan(out));
  return out;
}

std::vector<float> InitialRow(const InitializerConfig& init,
                              const std::string& table, uint64_t key,
                              int64_t width) {
  std::vector<float> out(width);
  InitSparseRow(init, table, key, absl::MakeSpan(out));
  return out;
}

// First `count` keys, from `start` up, that `shard` of `num_shards` owns.
std::vector<uint64_t> KeysOf(int32_t shard, int32_t num_shards, int count,
                             uint64_t start = 0) {
  std::vector<uint64_t> keys;
  for (uint64_t key = start; static_cast<int>(keys.size()) < count; ++key) {
    if (JumpHash(key, num_shards) == shard) keys.push_back(key);
  }
  return keys;
}

void ExpectFloatsNear(const std::vector<float>& actual,
                      const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-6) << "element " << i;
  }
}

TEST(ShardStoreTest, CreateRejectsBadShard) {
  EXPECT_FALSE(ShardStore::Create(TwoTableJob(), 2, 2).ok());
  EXPECT_FALSE(ShardStore::Create(TwoTableJob(), -1, 2).ok());
  EXPECT_FALSE(ShardStore::Create(TwoTableJob(), 0, 0).ok());
}

TEST(ShardStoreTest, CreateRejectsBadOptimizer) {
  JobConfig job = TwoTableJob();
  job.tables[1].optimizer.kind = "rmsprop";
  absl::StatusOr<std::unique_ptr<ShardStore>> store =
      ShardStore::Create(job, 0, 1);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(store.status().message(), "'e'"))
      << store.status();
}

TEST(ShardStoreTest, DenseTableSplitOverTwoShardsHoldsExactlyItsRange) {
  const JobConfig job = TwoTableJob();
  std::unique_ptr<ShardStore> s0 = MustCreate(job, 0, 2);
  std::unique_ptr<ShardStore> s1 = MustCreate(job, 1, 2);
  ASSERT_NE(s0, nullptr);
  ASSERT_NE(s1, nullptr);
  EXPECT_EQ(s0->shard(), 0);
  EXPECT_EQ(s1->shard(), 1);
  EXPECT_EQ(s0->shard_map().num_shards(), 2);
  // 11 elements: [0, 6) and [6, 11).
  EXPECT_EQ(s0->Sizes().at("d"), 6u);
  EXPECT_EQ(s1->Sizes().at("d"), 5u);
  EXPECT_TRUE(s0->Validate({DenseSlice(0, 6)}, false).ok());
  EXPECT_TRUE(s1->Validate({DenseSlice(6, 5)}, false).ok());
  EXPECT_FALSE(s0->Validate({DenseSlice(0, 7)}, false).ok());
  EXPECT_FALSE(s0->Validate({DenseSlice(6, 1)}, false).ok());
  EXPECT_FALSE(s1->Validate({DenseSlice(5, 1)}, false).ok());
  EXPECT_FALSE(s1->Validate({DenseSlice(6, 6)}, false).ok());

  // Together the shards hold the table's initial values, in order.
  std::vector<float> whole = ReadSlice(*s0, DenseSlice(0, 6));
  const std::vector<float> tail = ReadSlice(*s1, DenseSlice(6, 5));
  whole.insert(whole.end(), tail.begin(), tail.end());
  EXPECT_EQ(whole, Initial(job.tables[0].init, "d", 0, 11));
  // A sub-range reads the matching elements.
  EXPECT_EQ(ReadSlice(*s1, DenseSlice(8, 2)),
            Initial(job.tables[0].init, "d", 8, 2));
}

TEST(ShardStoreTest, WidthAndSizes) {
  std::unique_ptr<ShardStore> store = MustCreate(TwoTableJob(), 0, 1);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Width("d"), 1);
  EXPECT_EQ(store->Width("e"), 3);
  EXPECT_EQ(store->Sizes(),
            (std::map<std::string, uint64_t>{{"d", 11}, {"e", 0}}));
  ReadSlice(*store, SparseSlice({1, 2, 3}));
  ReadSlice(*store, SparseSlice({3, 4}));
  EXPECT_EQ(store->Sizes(),
            (std::map<std::string, uint64_t>{{"d", 11}, {"e", 4}}));
}

TEST(ShardStoreTest, ValidateRejectsUnknownTable) {
  std::unique_ptr<ShardStore> store = MustCreate(TwoTableJob(), 0, 1);
  ASSERT_NE(store, nullptr);
  Slice slice = DenseSlice(0, 1);
  slice.table = "nope";
  absl::Status status = store->Validate({slice}, false);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "nope")) << status;
}

TEST(ShardStoreTest, ValidateRejectsDenseRangeOutsideTheShard) {
  std::unique_ptr<ShardStore> store = MustCreate(TwoTableJob(), 1, 2);
  ASSERT_NE(store, nullptr);
  // Shard 1 holds [6, 11).
  for (const auto& [offset, length] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 1}, {5, 2}, {10, 2}, {11, 1}, {-1, 3}, {6, 0}, {7, -1}}) {
    SCOPED_TRACE(testing::Message() << "[" << offset << ", +" << length << ")");
    absl::Status status = store->Validate({DenseSlice(offset, length)}, false);
    ASSERT_FALSE(status.ok());
    // The header promises InvalidArgument; the table answers OutOfRange.
    // Either way it is a client error that names the table.
    EXPECT_TRUE(absl::IsInvalidArgument(status) || absl::IsOutOfRange(status))
        << status;
    EXPECT_TRUE(absl::StrContains(status.message(), "'d'")) << status;
  }
}

TEST(ShardStoreTest, ValidateRejectsKeysForADenseTable) {
  std::unique_ptr<ShardStore> store = MustCreate(TwoTableJob(), 0, 1);
  ASSERT_NE(store, nullptr);
  Slice slice = DenseSlice(0, 1);
  slice.keys = {0};
  absl::Status status = store->Validate({slice}, false);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "dense")) << status;
}

TEST(ShardStoreTest, ValidateRejectsSparseKeyOfAnotherShard) {
  std::unique_ptr<ShardStore> store = MustCreate(TwoTableJob(), 0, 2);
  ASSERT_NE(store, nullptr);
  const std::vector<uint64_t> mine = KeysOf(0, 2, 3);
  const uint64_t theirs = KeysOf(1, 2, 1)[0];
  EXPECT_TRUE(store->Validate({SparseSlice(mine)}, false).ok());
  std::vector<uint64_t> keys = mine;
  keys.push_back(theirs);
  absl::Status status = store->Validate({SparseSlice(keys)}, false);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), std::to_string(theirs)))
      << status;
  // Validation creates no rows.
  EXPECT_EQ(store->Sizes().at("e"), 0u);
}

TEST(ShardStoreTest, ValidateRejectsWrongValueCount) {
  std::unique_ptr<ShardStore> store = MustCreate(TwoTableJob(), 0, 1);
  ASSERT_NE(store, nullptr);
  const std::vector<float> seven(7, 0.5f);
  // Dense: 3 elements, 2 or 4 values.
  EXPECT_TRUE(
      store->Validate({DenseSlice(0, 3, absl::MakeSpan(seven).first(3))}, true)
          .ok());
  for (size_t n : {0, 2, 4}) {
    absl::Status status = store->Validate(
        {DenseSlice(0, 3, absl::MakeSpan(seven).first(n))}, true);
    ASSERT_FALSE(status.ok()) << n;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  }
  // Sparse: 2 rows of width 3 take 6 values.
  const std::vector<float> six(6, 0.5f);
  EXPECT_TRUE(store->Validate({SparseSlice({1, 2}, six)}, true).ok());
  absl::Status status = store->Validate({SparseSlice({1, 2}, seven)}, true);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = store->Validate({SparseSlice({1, 2}, absl::MakeSpan(six).first(5))},
                           true);
  EXPECT_FALSE(status.ok());
  // Without values (a pull) the count is not checked.
  EXPECT_TRUE(store->Validate({SparseSlice({1, 2}, seven)}, false).ok());
}

TEST(ShardStoreTest, ValidateRejectsNonFiniteValues) {
  std::unique_ptr<ShardStore> store = MustCreate(TwoTableJob(), 0, 1);
  ASSERT_NE(store, nullptr);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> dense = {1, 2, 3};
    dense[1] = bad;
    absl::Status status = store->Validate({DenseSlice(0, 3, dense)}, true);
    ASSERT_FALSE(status.ok()) << bad;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), "element 1")) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), "'d'")) << status;

    std::vector<float> sparse(6, 0.0f);
    sparse[5] = bad;
    status = store->Validate({SparseSlice({1, 2}, sparse)}, true);
    ASSERT_FALSE(status.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(status.message(), "element 5")) << status;
  }
}

TEST(ShardStoreTest, RejectedRequestChangesNothing) {
  const JobConfig job = TwoTableJob();
  std::unique_ptr<ShardStore> store = MustCreate(job, 0, 2);
  ASSERT_NE(store, nullptr);
  const std::vector<uint64_t> keys = KeysOf(0, 2, 2);
  const uint64_t foreign = KeysOf(1, 2, 1)[0];
  const std::vector<float> dense_grad = {1, 1, 1};
  const std::vector<float> sparse_grad(6, 1.0f);
  std::vector<float> nan_grad(3, 1.0f);
  nan_grad[2] = std::numeric_limits<float>::quiet_NaN();

  // Each request has a good slice and a bad one: the whole request fails.
  const std::vector<std::vector<Slice>> bad_requests = {
      {DenseSlice(0, 3, dense_grad), DenseSlice(4, 3, dense_grad)},
      {DenseSlice(0, 3, dense_grad), DenseSlice(0, 3, nan_grad)},
      {SparseSlice(keys, sparse_grad),
       SparseSlice({keys[0], foreign}, sparse_grad)},
      {SparseSlice(keys, sparse_grad), SparseSlice(keys, dense_grad)},
      {DenseSlice(0, 3, dense_grad), SparseSlice(keys, sparse_grad, "zz")},
  };
  for (size_t i = 0; i < bad_requests.size(); ++i) {
    absl::Status status = store->Validate(bad_requests[i], true);
    EXPECT_FALSE(status.ok()) << "request " << i;
    // A server applies only validated requests; this one is dropped.
    if (status.ok()) {
      for (const Slice& slice : bad_requests[i]) store->Apply(slice, 1.0f);
    }
  }
  EXPECT_EQ(store->Sizes().at("e"), 0u) << "validation created rows";
  EXPECT_EQ(ReadSlice(*store, DenseSlice(0, 6)),
            Initial(job.tables[0].init, "d", 0, 6));
  const std::vector<float> rows = ReadSlice(*store, SparseSlice(keys));
  std::vector<float> expected = InitialRow(job.tables[1].init, "e", keys[0], 3);
  const std::vector<float> second =
      InitialRow(job.tables[1].init, "e", keys[1], 3);
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(rows, expected);
}

TEST(ShardStoreTest, ReadCreatesSparseRowsDeterministically) {
  const JobConfig job = TwoTableJob();
  std::unique_ptr<ShardStore> a = MustCreate(job, 0, 1);
  std::unique_ptr<ShardStore> b = MustCreate(job, 0, 1);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const std::vector<float> ab = ReadSlice(*a, SparseSlice({10, 20}));
  // A fresh store asked in the other order, after touching other rows.
  ReadSlice(*b, SparseSlice({30, 40, 50}));
  const std::vector<float> ba = ReadSlice(*b, SparseSlice({20, 10}));
  ASSERT_EQ(ab.size(), 6u);
  ASSERT_EQ(ba.size(), 6u);
  EXPECT_EQ(std::vector<float>(ab.begin(), ab.begin() + 3),
            std::vector<float>(ba.begin() + 3, ba.end()));
  EXPECT_EQ(std::vector<float>(ab.begin() + 3, ab.end()),
            std::vector<float>(ba.begin(), ba.begin() + 3));
  EXPECT_EQ(std::vector<float>(ab.begin(), ab.begin() + 3),
            InitialRow(job.tables[1].init, "e", 10, 3));
  // Rows differ from each other, and reading again returns the same row.
  EXPECT_NE(std::vector<float>(ab.begin(), ab.begin() + 3),
            std::vector<float>(ab.begin() + 3, ab.end()));
  EXPECT_EQ(ReadSlice(*a, SparseSlice({10, 20})), ab);
  EXPECT_EQ(a->Sizes().at("e"), 2u);

  // The value does not depend on which shard holds the row.
  const uint64_t key = KeysOf(1, 3, 1)[0];
  std::unique_ptr<ShardStore> sharded = MustCreate(job, 1, 3);
  ASSERT_NE(sharded, nullptr);
  EXPECT_EQ(ReadSlice(*sharded, SparseSlice({key})),
            ReadSlice(*a, SparseSlice({key})));
}

TEST(ShardStoreTest, ApplySgdSubtractsDenseGradient) {
  const JobConfig job = TwoTableJob();
  std::unique_ptr<ShardStore> store = MustCreate(job, 1, 2);  // [6, 11)
  ASSERT_NE(store, nullptr);
  const std::vector<float> before = ReadSlice(*store, DenseSlice(6, 5));
  const std::vector<float> grad = {0.5f, -1.0f, 2.0f, 0.0f, 0.25f};
  Slice push = DenseSlice(6, 5, grad);
  ASSERT_TRUE(store->Validate({push}, true).ok());
  store->Apply(push, 1.0f);
  std::vector<float> expected(5);
  for (int i = 0; i < 5; ++i) expected[i] = before[i] - grad[i];
  ExpectFloatsNear(ReadSlice(*store, DenseSlice(6, 5)), expected);

  // A partial range with a scale touches only that range.
  const std::vector<float> part = {4.0f, 8.0f};
  Slice partial = DenseSlice(8, 2, part);
  ASSERT_TRUE(store->Validate({partial}, true).ok());
  store->Apply(partial, 0.25f);
  expected[2] -= 1.0f;
  expected[3] -= 2.0f;
  ExpectFloatsNear(ReadSlice(*store, DenseSlice(6, 5)), expected);
}

TEST(ShardStoreTest, ApplySgdSubtractsSparseGradient) {
  const JobConfig job = TwoTableJob();
  std::unique_ptr<ShardStore> store = MustCreate(job, 0, 1);
  ASSERT_NE(store, nullptr);
  const std::vector<float> before = ReadSlice(*store, SparseSlice({7, 8}));
  const std::vector<float> grad = {1, 2, 3, -1, -2, -3};
  Slice push = SparseSlice({7, 8}, grad);
  ASSERT_TRUE(store->Validate({push}, true).ok());
  store->Apply(push, 1.0f);
  std::vector<float> expected(6);
  for (int i = 0; i < 6; ++i) expected[i] = before[i] - grad[i];
  ExpectFloatsNear(ReadSlice(*store, SparseSlice({7, 8})), expected);

  // A row first touched by a push starts from its initial value.
  const std::vector<float> grad9 = {0.5f, 0.5f, 0.5f};
  store->Apply(SparseSlice({9}, grad9), 2.0f);
  std::vector<float> row9 = InitialRow(job.tables[1].init, "e", 9, 3);
  for (float& v : row9) v -= 1.0f;
  ExpectFloatsNear(ReadSlice(*store, SparseSlice({9})), row9);
  // Row 7 was untouched by that push.
  ExpectFloatsNear(ReadSlice(*store, SparseSlice({7})),
                   std::vector<float>(expected.begin(), expected.begin() + 3));
}

TEST(ShardStoreTest, AccumulateThenApplyHalfIsTheMeanOfTwoGradients) {
  const JobConfig job = TwoTableJob();
  std::unique_ptr<ShardStore> store = MustCreate(job, 0, 1);
  ASSERT_NE(store, nullptr);
  const std::vector<float> dense0 = ReadSlice(*store, DenseSlice(0, 11));
  const std::vector<float> sparse0 = ReadSlice(*store, SparseSlice({1, 2}));

  const std::vector<float> g1 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  const std::vector<float> g2 = {3, 2, 1, 0, -1, -2, -3, -4, -5, -6, -7};
  store->Accumulate(DenseSlice(0, 11, g1));
  store->Accumulate(DenseSlice(0, 11, g2));
  // Sparse: key 1 pushed by both workers, key 2 by one only.
  const std::vector<float> s1 = {2, 4, 6, 1, 1, 1};
  const std::vector<float> s2 = {4, 0, -2};
  store->Accumulate(SparseSlice({1, 2}, s1));
  store->Accumulate(SparseSlice({1}, s2));

  // Nothing changes until the round is applied.
  EXPECT_EQ(ReadSlice(*store, DenseSlice(0, 11)), dense0);
  EXPECT_EQ(ReadSlice(*store, SparseSlice({1, 2})), sparse0);

  store->ApplyAccumulated(0.5f);
  std::vector<float> dense1(11);
  for (int i = 0; i < 11; ++i) dense1[i] = dense0[i] - (g1[i] + g2[i]) / 2;
  ExpectFloatsNear(ReadSlice(*store, DenseSlice(0, 11)), dense1);
  const std::vector<float> sparse1 = {sparse0[0] - 3,    sparse0[1] - 2,
                                      sparse0[2] - 2,    sparse0[3] - 0.5f,
                                      sparse0[4] - 0.5f, sparse0[5] - 0.5f};
  ExpectFloatsNear(ReadSlice(*store, SparseSlice({1, 2})), sparse1);

  // The buffer is cleared: applying again changes nothing.
  store->ApplyAccumulated(0.5f);
  ExpectFloatsNear(ReadSlice(*store, DenseSlice(0, 11)), dense1);
  ExpectFloatsNear(ReadSlice(*store, SparseSlice({1, 2})), sparse1);
}

TEST(ShardStoreTest, AccumulatePartialDenseRange) {
  const JobConfig job = TwoTableJob();
  std::unique_ptr<ShardStore> store = MustCreate(job, 0, 2);  // [0, 6)
  ASSERT_NE(store, nullptr);
  const std::vector<float> before = ReadSlice(*store, DenseSlice(0, 6));
  const std::vector<float> g = {2, 4};
  store->Accumulate(DenseSlice(3, 2, g));
  store->ApplyAccumulated(1.0f);
  std::vector<float> expected = before;
  expected[3] -= 2;
  expected[4] -= 4;
  ExpectFloatsNear(ReadSlice(*store, DenseSlice(0, 6)), expected);
}

// Four pushers with disjoint and shared rows: every gradient lands exactly
// once, so the final values are the initial ones minus the sum.
TEST(ShardStoreTest, ConcurrentSparseAppliesAreExact) {
  JobConfig job;
  InitializerConfig zeros;
  job.tables = {SparseConfig("e", 2, zeros), DenseConfig("d", {8}, zeros)};
  std::unique_ptr<ShardStore> store = MustCreate(job, 0, 1);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPushes = 500;
  const std::vector<uint64_t> shared = {1000, 1001, 1002};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, &shared, t] {
      const uint64_t own = 10 + t;  // disjoint per thread
      const float g = static_cast<float>(t + 1);
      // Rows: own, then every shared row; width 2.
      const std::vector<uint64_t> keys = {own, shared[0], shared[1], shared[2]};
      const std::vector<float> grad = {g, 2 * g, g, 2 * g, g, 2 * g, g, 2 * g};
      const std::vector<float> dense(8, g);
      for (int i = 0; i < kPushes; ++i) {
        store->Apply(SparseSlice(keys, grad), 1.0f);
        store->Apply(DenseSlice(0, 8, dense), 1.0f);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  // Each thread t pushed (t+1, 2(t+1)) kPushes times; all sums are small
  // integers, exact in float.
  for (int t = 0; t < kThreads; ++t) {
    const float g = static_cast<float>(t + 1);
    EXPECT_EQ(ReadSlice(*store, SparseSlice({static_cast<uint64_t>(10 + t)})),
              (std::vector<float>{-kPushes * g, -2 * kPushes * g}))
        << "own row of thread " << t;
  }
  const float total = kPushes * (1 + 2 + 3 + 4);
  for (uint64_t key : shared) {
    EXPECT_EQ(ReadSlice(*store, SparseSlice({key})),
              (std::vector<float>{-total, -2 * total}))
        << "shared row " << key;
  }
  EXPECT_EQ(ReadSlice(*store, DenseSlice(0, 8)), std::vector<float>(8, -total));
  EXPECT_EQ(store->Sizes().at("e"), 4u + 3u);
}

// Accumulation from concurrent pushers is exact too.
TEST(ShardStoreTest, ConcurrentAccumulateIsExact) {
  JobConfig job;
  InitializerConfig zeros;
  job.tables = {SparseConfig("e", 1, zeros), DenseConfig("d", {4}, zeros)};
  std::unique_ptr<ShardStore> store = MustCreate(job, 0, 1);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPushes = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store] {
      const std::vector<float> ones(4, 1.0f);
      for (int i = 0; i < kPushes; ++i) {
        store->Accumulate(SparseSlice({1, 2, 3, 4}, ones));
        store->Accumulate(DenseSlice(0, 4, ones));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  store->ApplyAccumulated(1.0f);
  const float total = kThreads * kPushes;
  EXPECT_EQ(ReadSlice(*store, SparseSlice({1, 2, 3, 4})),
            std::vector<float>(4, -total));
  EXPECT_EQ(ReadSlice(*store, DenseSlice(0, 4)), std::vector<float>(4, -total));
}

}  // namespace
}  // namespace paramd

namespace paramd {
namespace {

// Both tables with adagrad, so optimizer state and step counts matter.
JobConfig AdagradJob() {
  JobConfig job = TwoTableJob();
  for (TableConfig& table : job.tables) {
    table.optimizer.kind = "adagrad";
    table.optimizer.learning_rate = 0.5;
    table.optimizer.initial_accumulator = 0.1;
  }
  return job;
}

// Applies a few updates to both tables of shard 0 of 2.
void Train(ShardStore& store, int rounds) {
  const std::vector<uint64_t> keys = KeysOf(0, 2, 3, 0);
  const Range range = store.shard_map().DenseRange(11, 0);
  for (int r = 0; r < rounds; ++r) {
    std::vector<float> dense(range.size(), 0.25f * (r + 1));
    std::vector<float> rows(keys.size() * 3, -0.5f);
    store.Apply(DenseSlice(range.begin, range.size(), dense), 1.0f);
    store.Apply(SparseSlice(keys, rows), 1.0f);
  }
}

TEST(ShardStoreCheckpointTest, SaveLoadRoundTripsValuesStateAndSteps) {
  const JobConfig job = AdagradJob();
  std::unique_ptr<ShardStore> trained = MustCreate(job, 0, 2);
  Train(*trained, 3);
  const paramd::v1::ShardCheckpoint saved = trained->Save(17);
  EXPECT_EQ(saved.version(), 17);
  EXPECT_EQ(saved.job(), "store-test");

  std::unique_ptr<ShardStore> restored = MustCreate(job, 0, 2);
  ASSERT_TRUE(restored->Load(saved).ok());
  EXPECT_EQ(restored->Save(17).SerializeAsString(), saved.SerializeAsString());
  // The same next update gives the same values: state and steps came too.
  Train(*trained, 1);
  Train(*restored, 1);
  EXPECT_EQ(restored->Save(0).SerializeAsString(),
            trained->Save(0).SerializeAsString());
  EXPECT_EQ(restored->Keys("e").value(), trained->Keys("e").value());
}

TEST(ShardStoreCheckpointTest, ResetGoesBackToInitialValues) {
  const JobConfig job = AdagradJob();
  std::unique_ptr<ShardStore> store = MustCreate(job, 0, 2);
  const std::string fresh = store->Save(0).SerializeAsString();
  Train(*store, 2);
  ASSERT_NE(store->Save(0).SerializeAsString(), fresh);
  store->Reset();
  EXPECT_EQ(store->Save(0).SerializeAsString(), fresh);
}

TEST(ShardStoreCheckpointTest, MismatchedCheckpointIsRefusedAndChangesNothing) {
  const JobConfig job = AdagradJob();
  std::unique_ptr<ShardStore> store = MustCreate(job, 0, 2);
  Train(*store, 2);
  const paramd::v1::ShardCheckpoint good = store->Save(5);
  std::unique_ptr<ShardStore> target = MustCreate(job, 0, 2);
  const std::string before = target->Save(0).SerializeAsString();

  auto expect_refused = [&](paramd::v1::ShardCheckpoint bad,
                            const std::string& needle) {
    absl::Status status = target->Load(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), needle)) << status;
    EXPECT_EQ(target->Save(0).SerializeAsString(), before);
  };
  paramd::v1::ShardCheckpoint other_shard = good;
  other_shard.set_shard(1);
  expect_refused(other_shard, "shard 1");
  paramd::v1::ShardCheckpoint other_job = good;
  other_job.set_job("another");
  expect_refused(other_job, "another");
  paramd::v1::ShardCheckpoint short_values = good;
  for (auto& table : *short_values.mutable_tables()) {
    if (table.name() == "e") table.mutable_values()->resize(8);
  }
  expect_refused(short_values, "table 'e'");
  paramd::v1::ShardCheckpoint dense_broken = good;
  for (auto& table : *dense_broken.mutable_tables()) {
    if (table.name() == "d") table.mutable_state()->clear();
  }
  expect_refused(dense_broken, "table 'd'");
  paramd::v1::ShardCheckpoint unknown = good;
  unknown.mutable_tables(0)->set_name("zz");
  expect_refused(unknown, "zz");
  // Rows whose keys belong to another shard are refused too.
  std::unique_ptr<ShardStore> shard1 = MustCreate(job, 1, 2);
  paramd::v1::ShardCheckpoint foreign = shard1->Save(5);
  for (auto& table : *foreign.mutable_tables()) {
    for (const auto& from : good.tables()) {
      if (table.name() == "e" && from.name() == "e") table = from;
    }
  }
  absl::Status status = shard1->Load(foreign);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "of shard 0")) << status;
}

TEST(ShardStoreTest, RefusesARequestOverTheValueCapBeforeReadingIt) {
  JobConfig job;
  job.name = "store-test";
  job.tables = {DenseConfig("d", {1 << 16})};
  std::unique_ptr<ShardStore> store = MustCreate(job, 0, 1);
  ASSERT_NE(store, nullptr);
  // A small request naming the whole table many times: a 256 MiB reply.
  Slice whole;
  whole.table = "d";
  whole.offset = 0;
  whole.length = 1 << 16;
  std::vector<Slice> slices(1000, whole);
  absl::Status status = store->Validate(slices, /*with_values=*/false);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  slices.resize(ShardStore::kMaxSlices + 1, whole);
  slices.resize(ShardStore::kMaxSlices + 1);
  EXPECT_EQ(store->Validate(slices, false).code(),
            absl::StatusCode::kInvalidArgument);
  slices.resize(2);
  EXPECT_TRUE(store->Validate(slices, false).ok());
}

}  // namespace
}  // namespace paramd
