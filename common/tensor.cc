#include "common/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace paramd {
namespace {

absl::Status CountElements(absl::string_view bytes, size_t width,
                           const char* what, int64_t* count) {
  if (bytes.size() % width != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": ", bytes.size(), " bytes is not a whole number of ", width,
        "-byte elements"));
  }
  *count = static_cast<int64_t>(bytes.size() / width);
  return absl::OkStatus();
}

// Infinities and NaNs have every exponent bit set, so adding one to the
// exponent carries into the sign bit for them only. No branch: vectorized.
bool AllFinite(const float* values, size_t n) {
  uint32_t carries = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, values + i, sizeof(bits));
    carries |= (bits & 0x7f800000u) + 0x00800000u;
  }
  return (carries & 0x80000000u) == 0;
}

}  // namespace

void AppendFloats(absl::Span<const float> values, std::string* out) {
  out->append(reinterpret_cast<const char*>(values.data()),
              values.size() * sizeof(float));
}

void AppendKeys(absl::Span<const uint64_t> keys, std::string* out) {
  out->append(reinterpret_cast<const char*>(keys.data()),
              keys.size() * sizeof(uint64_t));
}

absl::Status CountFloats(absl::string_view bytes, const char* what,
                         int64_t* count) {
  return CountElements(bytes, sizeof(float), what, count);
}

absl::Status CountKeys(absl::string_view bytes, const char* what,
                       int64_t* count) {
  return CountElements(bytes, sizeof(uint64_t), what, count);
}

void CopyFloats(absl::string_view bytes, absl::Span<float> out) {
  // memcpy's pointers must not be null, even for 0 bytes.
  if (out.empty()) return;
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
}

absl::Span<const float> ViewFloats(absl::string_view bytes,
                                   std::unique_ptr<float[]>* copy) {
  const size_t count = bytes.size() / sizeof(float);
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(float) == 0) {
    return absl::MakeConstSpan(reinterpret_cast<const float*>(bytes.data()),
                               count);
  }
  copy->reset(new float[count]);
  CopyFloats(bytes, absl::MakeSpan(copy->get(), count));
  return absl::MakeConstSpan(copy->get(), count);
}

void FillFloats(absl::Span<char> bytes,
                const std::function<void(absl::Span<float>)>& fill) {
  const size_t count = bytes.size() / sizeof(float);
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(float) == 0) {
    fill(absl::MakeSpan(reinterpret_cast<float*>(bytes.data()), count));
    return;
  }
  std::vector<float> values(count);
  fill(absl::MakeSpan(values));
  if (count > 0) std::memcpy(bytes.data(), values.data(), bytes.size());
}

std::vector<uint64_t> DecodeKeys(absl::string_view bytes) {
  std::vector<uint64_t> keys(bytes.size() / sizeof(uint64_t));
  if (keys.empty()) return keys;
  std::memcpy(keys.data(), bytes.data(), keys.size() * sizeof(uint64_t));
  return keys;
}

absl::Status CheckFinite(absl::Span<const float> values, const char* what) {
  // Blocks tested without an early exit; the element is looked for only in
  // a block that has one.
  constexpr size_t kBlock = 4096;
  for (size_t begin = 0; begin < values.size(); begin += kBlock) {
    const size_t end = std::min(values.size(), begin + kBlock);
    if (AllFinite(values.data() + begin, end - begin)) continue;
    for (size_t i = begin; i < end; ++i) {
      if (!std::isfinite(values[i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": element ", i, " is ", values[i], " (must be finite)"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace paramd
