#include "server/table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/initializer.h"
#include "common/status_macros.h"
#include "common/tensor.h"

namespace paramd {
namespace {

// Returns `grad` scaled, using `scratch` only when scale is not 1.
absl::Span<const float> Scaled(absl::Span<const float> grad, float scale,
                               std::vector<float>* scratch) {
  if (scale == 1.0f) return grad;
  scratch->resize(grad.size());
  for (size_t i = 0; i < grad.size(); ++i) (*scratch)[i] = grad[i] * scale;
  return *scratch;
}

// DataLoss unless `bytes` holds exactly `count` floats.
absl::Status ExpectFloats(absl::string_view bytes, int64_t count,
                          const std::string& table) {
  if (static_cast<int64_t>(bytes.size()) == count * 4) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("table '", table, "': checkpoint has ", bytes.size(),
                   " bytes where ", count, " floats belong"));
}

}  // namespace

DenseTable::DenseTable(const TableConfig& config, Range range,
                       std::unique_ptr<Optimizer> optimizer)
    : config_(config), range_(range), optimizer_(std::move(optimizer)) {
  absl::MutexLock lock(&mu_);
  values_.resize(range_.size());
  InitDenseRange(config_.init, config_.name, range_.begin,
                 absl::MakeSpan(values_));
  const std::vector<float> initial = optimizer_->InitialState();
  state_.resize(initial.size() * range_.size());
  for (size_t k = 0; k < initial.size(); ++k) {
    std::fill(state_.begin() + k * range_.size(),
              state_.begin() + (k + 1) * range_.size(), initial[k]);
  }
}

absl::Status DenseTable::Validate(const Slice& slice, bool with_values) const {
  if (!slice.keys.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", config_.name, "' is dense: a slice takes no keys"));
  }
  // Written so that no sum can overflow: offset and length are any int64.
  if (slice.length <= 0 || slice.offset < range_.begin ||
      slice.offset >= range_.end || slice.length > range_.end - slice.offset) {
    return absl::OutOfRangeError(absl::StrCat(
        "table '", config_.name, "': range of ", slice.length,
        " elements at offset ", slice.offset, " is not inside this shard's [",
        range_.begin, ", ", range_.end, ")"));
  }
  if (with_values &&
      static_cast<int64_t>(slice.values.size()) != slice.length) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", config_.name, "': ", slice.values.size(),
                     " values for a range of ", slice.length));
  }
  return absl::OkStatus();
}

void DenseTable::Read(const Slice& slice, absl::Span<float> out) {
  absl::MutexLock lock(&mu_);
  std::copy_n(values_.begin() + (slice.offset - range_.begin), slice.length,
              out.begin());
}

void DenseTable::Apply(const Slice& slice, float scale) {
  std::vector<float> scratch;
  absl::Span<const float> grad = Scaled(slice.values, scale, &scratch);
  absl::MutexLock lock(&mu_);
  ApplyLocked(slice.offset - range_.begin, grad);
}

void DenseTable::ApplyLocked(int64_t begin, absl::Span<const float> grad) {
  const int64_t n = range_.size();
  const int64_t len = grad.size();
  auto values = absl::MakeSpan(values_).subspan(begin, len);
  const int slots = optimizer_->slots();
  if (len == n || slots == 0) {
    refused_ +=
        optimizer_->Apply(steps_++, grad, values, absl::MakeSpan(state_));
    return;
  }
  // A partial range: gather its state into slot-major order and back.
  std::vector<float> state(slots * len);
  for (int k = 0; k < slots; ++k) {
    std::copy_n(state_.begin() + k * n + begin, len, state.begin() + k * len);
  }
  refused_ += optimizer_->Apply(steps_++, grad, values, absl::MakeSpan(state));
  for (int k = 0; k < slots; ++k) {
    std::copy_n(state.begin() + k * len, len, state_.begin() + k * n + begin);
  }
}

void DenseTable::Accumulate(const Slice& slice) {
  absl::MutexLock lock(&mu_);
  if (!has_pending_) {
    // The round's first gradient: start from zeros unless it covers all.
    pending_.resize(range_.size());
    if (slice.length != range_.size()) {
      std::fill(pending_.begin(), pending_.end(), 0.0f);
    }
    std::copy(slice.values.begin(), slice.values.end(),
              pending_.begin() + (slice.offset - range_.begin));
    has_pending_ = true;
    return;
  }
  float* target = pending_.data() + (slice.offset - range_.begin);
  for (int64_t i = 0; i < slice.length; ++i) target[i] += slice.values[i];
}

void DenseTable::ApplyAccumulated(float scale) {
  absl::MutexLock lock(&mu_);
  if (!has_pending_) return;
  if (scale != 1.0f) {
    for (float& g : pending_) g *= scale;
  }
  ApplyLocked(0, pending_);
  has_pending_ = false;
}

absl::StatusOr<std::vector<uint64_t>> DenseTable::Keys() const {
  return absl::InvalidArgumentError(
      absl::StrCat("table '", config_.name, "' is dense: it has no row keys"));
}

void DenseTable::Save(paramd::v1::TableState* out) const {
  absl::MutexLock lock(&mu_);
  out->set_slots(optimizer_->slots());
  out->set_offset(range_.begin);
  AppendFloats(values_, out->mutable_values());
  AppendFloats(state_, out->mutable_state());
  out->set_steps(steps_);
}

absl::Status DenseTable::Load(const paramd::v1::TableState& in) {
  const int64_t n = range_.size();
  const int slots = optimizer_->slots();
  if (in.slots() != slots ||
      static_cast<int64_t>(in.offset()) != range_.begin || in.steps() < 0) {
    return absl::DataLossError(
        absl::StrCat("table '", config_.name, "': checkpoint has offset ",
                     in.offset(), ", ", in.slots(), " optimizer slots and ",
                     in.steps(), " steps; this shard starts at ", range_.begin,
                     " with ", slots, " slots"));
  }
  PARAMD_RETURN_IF_ERROR(ExpectFloats(in.values(), n, config_.name));
  PARAMD_RETURN_IF_ERROR(ExpectFloats(in.state(), n * slots, config_.name));
  absl::MutexLock lock(&mu_);
  CopyFloats(in.values(), absl::MakeSpan(values_));
  CopyFloats(in.state(), absl::MakeSpan(state_));
  steps_ = in.steps();
  has_pending_ = false;
  return absl::OkStatus();
}

SparseTable::SparseTable(const TableConfig& config, const ShardMap& map,
                         int32_t shard, std::unique_ptr<Optimizer> optimizer)
    : config_(config),
      map_(map),
      shard_(shard),
      optimizer_(std::move(optimizer)) {}

absl::Status SparseTable::Validate(const Slice& slice, bool with_values) const {
  if (slice.keys.empty() || slice.offset != 0 || slice.length != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", config_.name,
        "' is sparse: a slice takes keys, and no offset or length"));
  }
  for (uint64_t key : slice.keys) {
    if (map_.ShardForKey(key) != shard_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "table '", config_.name, "': key ", key, " belongs to shard ",
          map_.ShardForKey(key), ", not this shard ", shard_));
    }
  }
  if (with_values && static_cast<int64_t>(slice.values.size()) !=
                         slice.NumValues(config_.width)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", config_.name, "': ", slice.values.size(), " values for ",
        slice.keys.size(), " rows of width ", config_.width));
  }
  return absl::OkStatus();
}

SparseTable::Stripe& SparseTable::StripeFor(uint64_t key) {
  return stripes_[(key * 0x9e3779b97f4a7c15ULL) >> 60];
}

SparseTable::Row& SparseTable::FindOrCreate(Stripe& stripe, uint64_t key) {
  auto [it, inserted] = stripe.rows.try_emplace(key);
  Row& row = it->second;
  if (inserted) {
    const int64_t w = config_.width;
    const std::vector<float> initial = optimizer_->InitialState();
    row.data.resize(w * (1 + initial.size()));
    InitSparseRow(config_.init, config_.name, key,
                  absl::MakeSpan(row.data.data(), w));
    for (size_t k = 0; k < initial.size(); ++k) {
      std::fill_n(row.data.begin() + (k + 1) * w, w, initial[k]);
    }
  }
  return row;
}

void SparseTable::Read(const Slice& slice, absl::Span<float> out) {
  const int64_t w = config_.width;
  for (size_t i = 0; i < slice.keys.size(); ++i) {
    Stripe& stripe = StripeFor(slice.keys[i]);
    absl::MutexLock lock(&stripe.mu);
    const Row& row = FindOrCreate(stripe, slice.keys[i]);
    std::copy_n(row.data.begin(), w, out.begin() + i * w);
  }
}

void SparseTable::ApplyRow(Row& row, absl::Span<const float> grad) {
  const int64_t w = config_.width;
  absl::Span<float> data = absl::MakeSpan(row.data);
  refused_ +=
      optimizer_->Apply(row.steps++, grad, data.subspan(0, w), data.subspan(w));
}

void SparseTable::Apply(const Slice& slice, float scale) {
  const int64_t w = config_.width;
  std::vector<float> scratch;
  for (size_t i = 0; i < slice.keys.size(); ++i) {
    absl::Span<const float> grad =
        Scaled(slice.values.subspan(i * w, w), scale, &scratch);
    Stripe& stripe = StripeFor(slice.keys[i]);
    absl::MutexLock lock(&stripe.mu);
    ApplyRow(FindOrCreate(stripe, slice.keys[i]), grad);
  }
}

void SparseTable::Accumulate(const Slice& slice) {
  const int64_t w = config_.width;
  for (size_t i = 0; i < slice.keys.size(); ++i) {
    Stripe& stripe = StripeFor(slice.keys[i]);
    absl::MutexLock lock(&stripe.mu);
    std::vector<float>& sum = stripe.pending[slice.keys[i]];
    if (sum.empty()) sum.assign(w, 0.0f);
    for (int64_t j = 0; j < w; ++j) sum[j] += slice.values[i * w + j];
  }
}

void SparseTable::ApplyAccumulated(float scale) {
  for (Stripe& stripe : stripes_) {
    absl::MutexLock lock(&stripe.mu);
    for (auto& [key, sum] : stripe.pending) {
      for (float& g : sum) g *= scale;
      ApplyRow(FindOrCreate(stripe, key), sum);
    }
    stripe.pending.clear();
  }
}

absl::StatusOr<std::vector<uint64_t>> SparseTable::Keys() const {
  std::vector<uint64_t> keys;
  for (const Stripe& stripe : stripes_) {
    absl::MutexLock lock(&stripe.mu);
    for (const auto& [key, row] : stripe.rows) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

uint64_t SparseTable::size() const {
  uint64_t rows = 0;
  for (const Stripe& stripe : stripes_) {
    absl::MutexLock lock(&stripe.mu);
    rows += stripe.rows.size();
  }
  return rows;
}

void SparseTable::Save(paramd::v1::TableState* out) const {
  out->set_slots(optimizer_->slots());
  // Rows in key order, so equal tables save to equal bytes.
  // Stripe by stripe: the caller keeps updates out meanwhile (the update
  // gate's round lock); a pull creating a row only adds initial values.
  std::vector<std::pair<uint64_t, Row>> rows;
  for (const Stripe& stripe : stripes_) {
    absl::MutexLock lock(&stripe.mu);
    for (const auto& [key, row] : stripe.rows) rows.emplace_back(key, row);
  }
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<uint64_t> keys;
  keys.reserve(rows.size());
  for (const auto& [key, row] : rows) {
    keys.push_back(key);
    out->add_row_steps(row.steps);
    AppendFloats(row.data, out->mutable_values());
  }
  AppendKeys(keys, out->mutable_keys());
}

absl::Status SparseTable::Load(const paramd::v1::TableState& in) {
  const int64_t w = config_.width;
  const int slots = optimizer_->slots();
  auto fail = [this](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat("table '", config_.name, "': checkpoint ", what));
  };
  if (in.slots() != slots) {
    return fail(
        absl::StrCat("has ", in.slots(), " optimizer slots, not ", slots));
  }
  int64_t n = 0;
  if (!CountKeys(in.keys(), "checkpoint keys", &n).ok()) {
    return fail(absl::StrCat("keys are ", in.keys().size(), " bytes"));
  }
  if (in.row_steps_size() != n) {
    return fail(absl::StrCat("has ", in.row_steps_size(), " step counts for ",
                             n, " rows"));
  }
  PARAMD_RETURN_IF_ERROR(
      ExpectFloats(in.values(), n * w * (1 + slots), config_.name));
  const std::vector<uint64_t> keys = DecodeKeys(in.keys());
  for (uint64_t key : keys) {
    if (map_.ShardForKey(key) != shard_) {
      return fail(
          absl::StrCat("holds key ", key, " of shard ", map_.ShardForKey(key)));
    }
  }
  std::vector<float> data(in.values().size() / sizeof(float));
  CopyFloats(in.values(), absl::MakeSpan(data));
  for (Stripe& stripe : stripes_) {
    absl::MutexLock lock(&stripe.mu);
    stripe.rows.clear();
    stripe.pending.clear();
  }
  const int64_t row_floats = w * (1 + slots);
  for (int64_t i = 0; i < n; ++i) {
    Stripe& stripe = StripeFor(keys[i]);
    absl::MutexLock lock(&stripe.mu);
    Row& row = stripe.rows[keys[i]];
    row.steps = in.row_steps(static_cast<int>(i));
    row.data.assign(data.begin() + i * row_floats,
                    data.begin() + (i + 1) * row_floats);
  }
  return absl::OkStatus();
}

}  // namespace paramd
