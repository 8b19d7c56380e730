#include "common/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

// Bit patterns, so -0.0 and NaN payloads compare exactly.
std::vector<uint32_t> Bits(absl::Span<const float> values) {
  std::vector<uint32_t> bits(values.size());
  std::memcpy(bits.data(), values.data(), values.size() * sizeof(float));
  return bits;
}

TEST(TensorTest, FloatsRoundTripBitForBit) {
  const std::vector<float> values = {0.0f,
                                     -0.0f,
                                     1.0f,
                                     -2.5f,
                                     3.14159265f,
                                     std::numeric_limits<float>::max(),
                                     std::numeric_limits<float>::lowest(),
                                     std::numeric_limits<float>::min(),
                                     std::numeric_limits<float>::denorm_min(),
                                     std::numeric_limits<float>::infinity(),
                                     std::numeric_limits<float>::quiet_NaN()};
  std::string bytes;
  AppendFloats(values, &bytes);
  ASSERT_EQ(bytes.size(), values.size() * 4);
  int64_t count = -1;
  ASSERT_TRUE(CountFloats(bytes, "values", &count).ok());
  ASSERT_EQ(count, static_cast<int64_t>(values.size()));
  std::vector<float> decoded(count);
  CopyFloats(bytes, absl::MakeSpan(decoded));
  EXPECT_EQ(Bits(decoded), Bits(values));
}

TEST(TensorTest, FloatsAreLittleEndianFloat32) {
  std::string bytes;
  AppendFloats(std::vector<float>{1.0f, -2.0f}, &bytes);
  EXPECT_EQ(bytes, std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8));
}

TEST(TensorTest, KeysRoundTrip) {
  const std::vector<uint64_t> keys = {0,
                                      1,
                                      255,
                                      uint64_t{1} << 32,
                                      uint64_t{1} << 63,
                                      0x0123456789abcdefULL,
                                      std::numeric_limits<uint64_t>::max()};
  std::string bytes;
  AppendKeys(keys, &bytes);
  ASSERT_EQ(bytes.size(), keys.size() * 8);
  int64_t count = -1;
  ASSERT_TRUE(CountKeys(bytes, "keys", &count).ok());
  EXPECT_EQ(count, static_cast<int64_t>(keys.size()));
  EXPECT_EQ(DecodeKeys(bytes), keys);
}

TEST(TensorTest, KeysAreLittleEndianUint64) {
  std::string bytes;
  AppendKeys(std::vector<uint64_t>{0x0102030405060708ULL}, &bytes);
  EXPECT_EQ(bytes, std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
}

TEST(TensorTest, AppendKeepsExistingBytes) {
  std::string bytes = "ab";
  AppendFloats(std::vector<float>{1.0f}, &bytes);
  AppendKeys(std::vector<uint64_t>{7}, &bytes);
  ASSERT_EQ(bytes.size(), 2u + 4u + 8u);
  EXPECT_EQ(bytes.substr(0, 2), "ab");
  EXPECT_EQ(DecodeKeys(absl::string_view(bytes).substr(6)),
            std::vector<uint64_t>{7});
  std::vector<float> one(1);
  CopyFloats(absl::string_view(bytes).substr(2, 4), absl::MakeSpan(one));
  EXPECT_EQ(one[0], 1.0f);
}

TEST(TensorTest, EmptyPayloadsHaveZeroElements) {
  int64_t count = -1;
  ASSERT_TRUE(CountFloats("", "values", &count).ok());
  EXPECT_EQ(count, 0);
  count = -1;
  ASSERT_TRUE(CountKeys("", "keys", &count).ok());
  EXPECT_EQ(count, 0);
  EXPECT_TRUE(DecodeKeys("").empty());
}

TEST(TensorTest, CountFloatsRejectsPartialElement) {
  for (size_t size : {1, 2, 3, 5, 7, 9, 4001}) {
    const std::string bytes(size, '\0');
    int64_t count = -1;
    absl::Status status = CountFloats(bytes, "grad bytes", &count);
    ASSERT_FALSE(status.ok()) << size;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(status.message(), "grad bytes")) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), std::to_string(size)))
        << status;
  }
}

TEST(TensorTest, CountKeysRejectsPartialElement) {
  for (size_t size : {1, 4, 7, 9, 12, 15, 801}) {
    const std::string bytes(size, '\0');
    int64_t count = -1;
    absl::Status status = CountKeys(bytes, "key bytes", &count);
    ASSERT_FALSE(status.ok()) << size;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(status.message(), "key bytes")) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), std::to_string(size)))
        << status;
  }
}

TEST(TensorTest, CountsWholeElements) {
  int64_t count = -1;
  ASSERT_TRUE(CountFloats(std::string(12, 'x'), "values", &count).ok());
  EXPECT_EQ(count, 3);
  ASSERT_TRUE(CountKeys(std::string(24, 'x'), "keys", &count).ok());
  EXPECT_EQ(count, 3);
  // 12 bytes are whole floats but not whole keys.
  EXPECT_FALSE(CountKeys(std::string(12, 'x'), "keys", &count).ok());
}

TEST(TensorTest, CheckFiniteAcceptsFiniteValues) {
  const std::vector<float> values = {0.0f,
                                     -0.0f,
                                     1e-30f,
                                     -1e30f,
                                     std::numeric_limits<float>::max(),
                                     std::numeric_limits<float>::lowest(),
                                     std::numeric_limits<float>::denorm_min()};
  EXPECT_TRUE(CheckFinite(values, "grad").ok());
  EXPECT_TRUE(CheckFinite({}, "grad").ok());
}

TEST(TensorTest, CheckFiniteRejectsNanNamingTheIndex) {
  std::vector<float> values = {1.0f, 2.0f, 3.0f, 4.0f};
  values[2] = std::numeric_limits<float>::quiet_NaN();
  absl::Status status = CheckFinite(values, "table 'w'");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "table 'w'")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "element 2")) << status;
}

// The test runs in blocks: a bad element is found at either edge of a
// block, in the last partial block, and whatever its sign or payload.
TEST(TensorTest, CheckFiniteFindsTheFirstBadElementAnywhere) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (float bad :
       {nan, -nan, inf, -inf, std::numeric_limits<float>::signaling_NaN()}) {
    for (size_t at :
         {size_t{0}, size_t{4095}, size_t{4096}, size_t{9999}, size_t{10000}}) {
      std::vector<float> values(10001, -std::numeric_limits<float>::max());
      values[at] = bad;
      values[10000] = at == 10000 ? bad : inf;  // a later one too
      absl::Status status = CheckFinite(values, "grad");
      ASSERT_FALSE(status.ok()) << at;
      EXPECT_TRUE(absl::StrContains(status.message(),
                                    absl::StrCat("element ", at, " ")))
          << status;
    }
  }
  EXPECT_TRUE(
      CheckFinite(std::vector<float>(10001, std::numeric_limits<float>::max()),
                  "grad")
          .ok());
}

TEST(TensorTest, CheckFiniteTellsEdgeValuesApart) {
  auto from_bits = [](uint32_t bits) {
    float x;
    std::memcpy(&x, &bits, sizeof(x));
    return x;
  };
  const std::vector<float> finite = {-0.0f,
                                     std::numeric_limits<float>::denorm_min(),
                                     -std::numeric_limits<float>::denorm_min(),
                                     std::numeric_limits<float>::min(),
                                     -std::numeric_limits<float>::max(),
                                     from_bits(0x7f7fffffu),
                                     from_bits(0xff7fffffu)};
  std::vector<float> many(5000, 1.0f);
  many.insert(many.end(), finite.begin(), finite.end());
  EXPECT_TRUE(CheckFinite(many, "grad").ok());
  // NaNs of any payload and sign, and both infinities.
  for (uint32_t bits : {0x7f800001u, 0xffc00001u, 0x7fffffffu, 0xffffffffu,
                        0x7f800000u, 0xff800000u}) {
    std::vector<float> values = many;
    values[4999] = from_bits(bits);
    EXPECT_FALSE(CheckFinite(values, "grad").ok()) << std::hex << bits;
  }
}

TEST(TensorTest, ViewFloatsViewsAlignedBytesAndCopiesOthers) {
  const std::vector<float> floats = {1.5f, -2.0f, 3.25f};
  std::string buffer(1 + floats.size() * sizeof(float), '\0');
  for (size_t shift : {size_t{0}, size_t{1}}) {
    char* start = buffer.data() + shift;
    std::memcpy(start, floats.data(), floats.size() * sizeof(float));
    const absl::string_view bytes(start, floats.size() * sizeof(float));
    std::unique_ptr<float[]> copy;
    absl::Span<const float> view = ViewFloats(bytes, &copy);
    EXPECT_EQ(std::vector<float>(view.begin(), view.end()), floats) << shift;
    // In place when aligned (the string's buffer is), a copy when not.
    EXPECT_EQ(copy == nullptr, shift == 0);
    EXPECT_EQ(static_cast<const void*>(view.data()) == start, shift == 0);
  }
}

TEST(TensorTest, FillFloatsWritesAlignedAndUnalignedBytes) {
  const std::vector<float> floats = {1.5f, -2.0f, 3.25f};
  std::string buffer(1 + floats.size() * sizeof(float), 'x');
  for (size_t shift : {size_t{0}, size_t{1}}) {
    absl::Span<char> bytes(buffer.data() + shift,
                           floats.size() * sizeof(float));
    FillFloats(bytes, [&](absl::Span<float> out) {
      ASSERT_EQ(out.size(), floats.size());
      std::copy(floats.begin(), floats.end(), out.begin());
    });
    std::vector<float> back(floats.size());
    std::memcpy(back.data(), bytes.data(), bytes.size());
    EXPECT_EQ(back, floats) << shift;
  }
}

TEST(TensorTest, CheckFiniteRejectsInfinityNamingTheIndex) {
  for (float bad : {std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> values(10, 0.5f);
    values[7] = bad;
    absl::Status status = CheckFinite(values, "grad");
    ASSERT_FALSE(status.ok()) << bad;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(status.message(), "element 7")) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), "grad")) << status;
  }
}

TEST(TensorTest, CheckFiniteNamesTheFirstBadIndex) {
  std::vector<float> values(6, 1.0f);
  values[0] = std::numeric_limits<float>::infinity();
  values[4] = std::numeric_limits<float>::quiet_NaN();
  absl::Status status = CheckFinite(values, "grad");
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "element 0")) << status;
}

}  // namespace
}  // namespace paramd
