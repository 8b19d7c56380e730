#include "worker/params.h"

#include <algorithm>

namespace paramd {

int64_t SparseRows::Add(uint64_t key) {
  auto [it, inserted] = index_.try_emplace(key, keys_.size());
  if (inserted) {
    keys_.push_back(key);
    values_.resize(values_.size() + width_, 0.0f);
  }
  return it->second;
}

absl::Span<float> SparseRows::Row(uint64_t key) {
  auto it = index_.find(key);
  if (it == index_.end()) return {};
  return RowAt(it->second);
}

absl::Span<const float> SparseRows::Row(uint64_t key) const {
  auto it = index_.find(key);
  if (it == index_.end()) return {};
  return absl::MakeConstSpan(values_).subspan(it->second * width_, width_);
}

Params Params::ZerosLike() const {
  Params zeros = *this;
  for (auto& [name, values] : zeros.dense) {
    std::fill(values.begin(), values.end(), 0.0f);
  }
  for (auto& [name, rows] : zeros.sparse) {
    std::fill(rows.values().begin(), rows.values().end(), 0.0f);
  }
  return zeros;
}

}  // namespace paramd
