// Wire codecs for the hot path: float32 values and uint64 keys travel as raw
// little-endian bytes, never as per-element protobuf fields.
#ifndef PARAMD_COMMON_TENSOR_H_
#define PARAMD_COMMON_TENSOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace paramd {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "paramd's wire format assumes a little-endian host");

// Appends the raw bytes of `values` to `out`.
void AppendFloats(absl::Span<const float> values, std::string* out);
void AppendKeys(absl::Span<const uint64_t> keys, std::string* out);

// Returns the number of float32 or uint64 elements in `bytes`, or
// InvalidArgument naming `what` if the length is not a whole number of them.
absl::Status CountFloats(absl::string_view bytes, const char* what,
                         int64_t* count);
absl::Status CountKeys(absl::string_view bytes, const char* what,
                       int64_t* count);

// Copies `bytes` into `out`. REQUIRES: bytes.size() == 4 * out.size().
void CopyFloats(absl::string_view bytes, absl::Span<float> out);

// `bytes` as floats: viewed in place where they are aligned for floats (a
// heap buffer is), else copied into *copy and viewed there.
// REQUIRES: bytes.size() is a multiple of 4.
absl::Span<const float> ViewFloats(absl::string_view bytes,
                                   std::unique_ptr<float[]>* copy);

// Has `fill` write bytes.size() / 4 floats into `bytes`: in place where it
// is aligned for floats, else through a temporary.
// REQUIRES: bytes.size() is a multiple of 4.
void FillFloats(absl::Span<char> bytes,
                const std::function<void(absl::Span<float>)>& fill);

// Decodes keys; REQUIRES: bytes.size() is a multiple of 8.
std::vector<uint64_t> DecodeKeys(absl::string_view bytes);

// Returns InvalidArgument naming `what` if any value is NaN or infinite.
absl::Status CheckFinite(absl::Span<const float> values, const char* what);

}  // namespace paramd

#endif  // PARAMD_COMMON_TENSOR_H_
