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
  Params zeros;
  for (const auto& [name, values] : dense) {
    zeros.dense[name].assign(values.size(), 0.0f);
  }
  for (const auto& [name, rows] : sparse) {
    SparseRows& out = zeros.sparse[name];
    out = SparseRows(rows.width());
    for (uint64_t key : rows.keys()) out.Add(key);
  }
  return zeros;
}

}  // namespace paramd
