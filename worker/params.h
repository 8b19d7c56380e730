// The slice of the model a minibatch touches: dense tables whole, sparse
// tables by row. The same type holds values and gradients.
#ifndef PARAMD_WORKER_PARAMS_H_
#define PARAMD_WORKER_PARAMS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"

namespace paramd {

// Rows of one sparse table, stored contiguously in key order of insertion.
// Thread-compatible.
class SparseRows {
 public:
  SparseRows() = default;
  explicit SparseRows(int64_t width) : width_(width) {}

  // Adds a zero row for `key` if it is not there; returns its index.
  int64_t Add(uint64_t key);
  // Returns the row for `key`, or an empty span if absent.
  absl::Span<float> Row(uint64_t key);
  absl::Span<const float> Row(uint64_t key) const;
  absl::Span<float> RowAt(int64_t index) {
    return absl::MakeSpan(values_).subspan(index * width_, width_);
  }

  int64_t width() const { return width_; }
  const std::vector<uint64_t>& keys() const { return keys_; }
  std::vector<float>& values() { return values_; }
  const std::vector<float>& values() const { return values_; }

 private:
  int64_t width_ = 0;
  std::vector<uint64_t> keys_;
  absl::flat_hash_map<uint64_t, int64_t> index_;
  std::vector<float> values_;
};

// Named dense tensors (flat, row-major) and sparse row sets.
struct Params {
  std::map<std::string, std::vector<float>> dense;
  std::map<std::string, SparseRows> sparse;

  // Returns a zeroed Params with the same tables, sizes and keys.
  Params ZerosLike() const;
};

}  // namespace paramd

#endif  // PARAMD_WORKER_PARAMS_H_
