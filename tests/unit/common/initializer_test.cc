#include "common/initializer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "common/config.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

constexpr int kSamples = 100000;

InitializerConfig Init(const std::string& kind, double scale = 0,
                       double value = 0, uint64_t seed = 1) {
  InitializerConfig init;
  init.kind = kind;
  init.scale = scale;
  init.value = value;
  init.seed = seed;
  return init;
}

std::vector<float> Dense(const InitializerConfig& init,
                         const std::string& table, int64_t begin, size_t n) {
  std::vector<float> out(n, -12345.0f);
  InitDenseRange(init, table, begin, absl::MakeSpan(out));
  return out;
}

std::vector<float> Row(const InitializerConfig& init, const std::string& table,
                       uint64_t key, size_t width) {
  std::vector<float> out(width, -12345.0f);
  InitSparseRow(init, table, key, absl::MakeSpan(out));
  return out;
}

struct Moments {
  double mean = 0;
  double stddev = 0;
};

Moments Measure(const std::vector<float>& values) {
  double sum = 0;
  for (float v : values) sum += v;
  Moments m;
  m.mean = sum / values.size();
  double sq = 0;
  for (float v : values) sq += (v - m.mean) * (v - m.mean);
  m.stddev = std::sqrt(sq / values.size());
  return m;
}

// Fraction of positions where the two vectors differ.
double DifferentFraction(const std::vector<float>& a,
                         const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  int different = 0;
  for (size_t i = 0; i < a.size(); ++i) different += a[i] != b[i];
  return static_cast<double>(different) / a.size();
}

TEST(InitializerTest, DenseIsDeterministic) {
  for (const char* kind : {"uniform", "normal"}) {
    SCOPED_TRACE(kind);
    const InitializerConfig init = Init(kind, 0.5, 0, 7);
    const std::vector<float> a = Dense(init, "w", 0, 1000);
    const std::vector<float> b = Dense(init, "w", 0, 1000);
    EXPECT_EQ(a, b);
    // Values really vary (not a constant stream).
    EXPECT_GT(DifferentFraction(a, std::vector<float>(1000, a[0])), 0.99);
  }
}

TEST(InitializerTest, SparseIsDeterministic) {
  for (const char* kind : {"uniform", "normal"}) {
    SCOPED_TRACE(kind);
    const InitializerConfig init = Init(kind, 0.5, 0, 7);
    EXPECT_EQ(Row(init, "emb", 42, 16), Row(init, "emb", 42, 16));
    EXPECT_NE(Row(init, "emb", 42, 16), Row(init, "emb", 43, 16));
  }
}

TEST(InitializerTest, DenseRangeReadInPiecesEqualsTheWhole) {
  for (const char* kind : {"uniform", "normal", "constant", "zeros"}) {
    SCOPED_TRACE(kind);
    const InitializerConfig init = Init(kind, 0.3, 0.25, 11);
    const std::vector<float> whole = Dense(init, "proj", 0, 1000);
    std::vector<float> pieces;
    const std::vector<int64_t> cuts = {0, 1, 100, 357, 358, 999, 1000};
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
      const std::vector<float> piece =
          Dense(init, "proj", cuts[i], cuts[i + 1] - cuts[i]);
      pieces.insert(pieces.end(), piece.begin(), piece.end());
    }
    EXPECT_EQ(pieces, whole);
    // A range starting in the middle matches the same slice of the whole.
    const std::vector<float> middle = Dense(init, "proj", 500, 20);
    EXPECT_EQ(middle,
              std::vector<float>(whole.begin() + 500, whole.begin() + 520));
  }
}

TEST(InitializerTest, SparseRowIndependentOfCallOrder) {
  const InitializerConfig init = Init("normal", 0.1, 0, 3);
  const std::vector<uint64_t> keys = {5, 1, 99, 0, ~uint64_t{0}, 1ULL << 40};
  std::vector<std::vector<float>> forward;
  for (uint64_t key : keys) forward.push_back(Row(init, "emb", key, 8));
  // Interleave other tables and keys, then ask again in reverse order.
  Row(init, "other", 5, 8);
  Dense(init, "emb", 0, 100);
  for (size_t i = keys.size(); i-- > 0;) {
    EXPECT_EQ(Row(init, "emb", keys[i], 8), forward[i]) << keys[i];
  }
}

TEST(InitializerTest, SparseRowPrefixDoesNotDependOnWidth) {
  // A row's value does not depend on how much of it is asked for.
  const InitializerConfig init = Init("uniform", 1.0, 0, 3);
  const std::vector<float> wide = Row(init, "emb", 77, 16);
  const std::vector<float> narrow = Row(init, "emb", 77, 4);
  EXPECT_EQ(narrow, std::vector<float>(wide.begin(), wide.begin() + 4));
}

TEST(InitializerTest, UniformIsWithinScaleWithZeroMean) {
  const double a = 0.5;
  const std::vector<float> values =
      Dense(Init("uniform", a, 0, 9), "w", 0, kSamples);
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  EXPECT_GE(*lo, -a);
  EXPECT_LE(*hi, a);
  // The whole interval is covered.
  EXPECT_LT(*lo, -0.99 * a);
  EXPECT_GT(*hi, 0.99 * a);
  const Moments m = Measure(values);
  EXPECT_NEAR(m.mean, 0.0, 0.01 * a);
  EXPECT_NEAR(m.stddev, a / std::sqrt(3.0), 0.02 * a / std::sqrt(3.0));
  // Each half of the interval gets about half the values.
  const auto negative = std::count_if(values.begin(), values.end(),
                                      [](float v) { return v < 0; });
  EXPECT_NEAR(negative, kSamples / 2, 0.01 * kSamples);
}

TEST(InitializerTest, UniformSparseRowsAreWithinScale) {
  const double a = 0.05;
  const InitializerConfig init = Init("uniform", a, 0, 2);
  std::vector<float> values;
  for (uint64_t key = 0; key < kSamples / 10; ++key) {
    const std::vector<float> row = Row(init, "emb", key, 10);
    values.insert(values.end(), row.begin(), row.end());
  }
  for (float v : values) {
    ASSERT_GE(v, -a);
    ASSERT_LE(v, a);
  }
  const Moments m = Measure(values);
  EXPECT_NEAR(m.mean, 0.0, 0.01 * a);
  EXPECT_NEAR(m.stddev, a / std::sqrt(3.0), 0.02 * a / std::sqrt(3.0));
}

TEST(InitializerTest, NormalHasScaleAsStddev) {
  const double scale = 0.2;
  const std::vector<float> values =
      Dense(Init("normal", scale, 0, 5), "w", 0, kSamples);
  const Moments m = Measure(values);
  EXPECT_NEAR(m.mean, 0.0, 0.01 * scale);
  EXPECT_NEAR(m.stddev, scale, 0.02 * scale);
  // Shape: about 68.3% within one stddev, 95.4% within two.
  const auto within1 =
      std::count_if(values.begin(), values.end(),
                    [&](float v) { return std::fabs(v) < scale; });
  const auto within2 =
      std::count_if(values.begin(), values.end(),
                    [&](float v) { return std::fabs(v) < 2 * scale; });
  EXPECT_NEAR(static_cast<double>(within1) / kSamples, 0.6827, 0.01);
  EXPECT_NEAR(static_cast<double>(within2) / kSamples, 0.9545, 0.005);
  for (float v : values) ASSERT_TRUE(std::isfinite(v));
}

TEST(InitializerTest, NormalSparseRowsHaveScaleAsStddev) {
  const double scale = 0.01;
  const InitializerConfig init = Init("normal", scale, 0, 8);
  std::vector<float> values;
  for (uint64_t key = 1000; key < 1000 + kSamples / 16; ++key) {
    const std::vector<float> row = Row(init, "emb", key, 16);
    values.insert(values.end(), row.begin(), row.end());
  }
  const Moments m = Measure(values);
  EXPECT_NEAR(m.mean, 0.0, 0.01 * scale);
  EXPECT_NEAR(m.stddev, scale, 0.02 * scale);
}

TEST(InitializerTest, DifferentSeedsDiffer) {
  for (const char* kind : {"uniform", "normal"}) {
    SCOPED_TRACE(kind);
    EXPECT_GT(DifferentFraction(Dense(Init(kind, 1, 0, 1), "w", 0, 1000),
                                Dense(Init(kind, 1, 0, 2), "w", 0, 1000)),
              0.99);
    EXPECT_GT(DifferentFraction(Row(Init(kind, 1, 0, 1), "emb", 3, 1000),
                                Row(Init(kind, 1, 0, 2), "emb", 3, 1000)),
              0.99);
  }
}

TEST(InitializerTest, DifferentTablesDiffer) {
  for (const char* kind : {"uniform", "normal"}) {
    SCOPED_TRACE(kind);
    const InitializerConfig init = Init(kind, 1, 0, 1);
    EXPECT_GT(DifferentFraction(Dense(init, "w1", 0, 1000),
                                Dense(init, "w2", 0, 1000)),
              0.99);
    EXPECT_GT(DifferentFraction(Row(init, "emb_in", 3, 1000),
                                Row(init, "emb_out", 3, 1000)),
              0.99);
  }
}

TEST(InitializerTest, DifferentKeysDiffer) {
  const InitializerConfig init = Init("normal", 1, 0, 1);
  const std::vector<float> a = Row(init, "emb", 1, 1000);
  const std::vector<float> b = Row(init, "emb", 2, 1000);
  EXPECT_GT(DifferentFraction(a, b), 0.99);
  // Sparse key k is not dense element k's stream either.
  const std::vector<float> dense = Dense(init, "emb", 0, 1000);
  EXPECT_GT(DifferentFraction(Row(init, "emb", 0, 1000), dense), 0.99);
}

TEST(InitializerTest, ZerosIgnoresScaleAndValue) {
  const InitializerConfig init = Init("zeros", 3.0, 4.0, 5);
  EXPECT_EQ(Dense(init, "w", 17, 100), std::vector<float>(100, 0.0f));
  EXPECT_EQ(Row(init, "emb", 9, 32), std::vector<float>(32, 0.0f));
  // The default config is zeros.
  EXPECT_EQ(Dense(InitializerConfig(), "w", 0, 10),
            std::vector<float>(10, 0.0f));
}

TEST(InitializerTest, ConstantFillsValue) {
  const InitializerConfig init = Init("constant", 9.0, 0.25, 5);
  EXPECT_EQ(Dense(init, "w", 123, 100), std::vector<float>(100, 0.25f));
  EXPECT_EQ(Row(init, "emb", 9, 32), std::vector<float>(32, 0.25f));
  EXPECT_EQ(Dense(Init("constant", 0, -1.5), "w", 0, 3),
            std::vector<float>(3, -1.5f));
}

TEST(InitializerTest, ZeroScaleGivesZeros) {
  EXPECT_EQ(Dense(Init("uniform", 0.0), "w", 0, 50),
            std::vector<float>(50, 0.0f));
  EXPECT_EQ(Row(Init("normal", 0.0), "emb", 1, 50),
            std::vector<float>(50, 0.0f));
}

TEST(InitializerTest, EmptyOutputIsFine) {
  std::vector<float> none;
  InitDenseRange(Init("normal", 1), "w", 10, absl::MakeSpan(none));
  InitSparseRow(Init("normal", 1), "w", 10, absl::MakeSpan(none));
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace paramd
