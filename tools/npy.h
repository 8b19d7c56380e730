// NumPy .npy files (format version 1.0) for float32 and uint64 arrays, so
// numpy.load() and torch can read what `paramctl export` writes.
#ifndef PARAMD_TOOLS_NPY_H_
#define PARAMD_TOOLS_NPY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace paramd {

// The element types paramd writes: '<f4' and '<u8'.
enum class NpyType { kFloat32, kUint64 };

// A whole array read from a .npy file, row-major.
struct NpyArray {
  NpyType type = NpyType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<float> floats;      // when type is kFloat32
  std::vector<uint64_t> uint64s;  // when type is kUint64
};

// Returns the .npy v1.0 preamble for an array: magic, version, header length
// and the header dict, padded with spaces and ended by '\n' so the data
// starts at a multiple of 64 bytes. REQUIRES: shape has at most 32
// dimensions, each non-negative.
std::string NpyHeader(NpyType type, absl::Span<const int64_t> shape);

// Writes `values` as an array of `shape` to `path` (through a temporary file
// renamed into place). Fails with InvalidArgument if the shape has a
// negative dimension, more than 32 dimensions, or does not hold exactly
// values.size() elements, and with an I/O error naming the path otherwise.
absl::Status WriteNpy(const std::string& path, absl::Span<const int64_t> shape,
                      absl::Span<const float> values);
absl::Status WriteNpy(const std::string& path, absl::Span<const int64_t> shape,
                      absl::Span<const uint64_t> values);

// Reads a C-order float32 or uint64 .npy file (versions 1.0 to 3.0).
// Returns NotFound if it cannot be opened, and InvalidArgument naming the
// path and the problem if it is malformed, truncated, Fortran-ordered or of
// another dtype.
absl::StatusOr<NpyArray> ReadNpy(const std::string& path);

// Writes the concatenation of `parts` to `path`: to a temporary file in the
// same folder, flushed to disk, then renamed over `path`, so readers see the
// old file or the whole new one. Returns an error naming the path.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::Span<const absl::string_view> parts);

}  // namespace paramd

#endif  // PARAMD_TOOLS_NPY_H_
