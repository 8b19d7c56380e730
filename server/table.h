// The two kinds of table a shard holds. Internal to server/: ShardStore is
// the public face.
#ifndef PARAMD_SERVER_TABLE_H_
#define PARAMD_SERVER_TABLE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/config.h"
#include "common/shard_map.h"
#include "paramd/v1/checkpoint.pb.h"
#include "server/optimizer.h"
#include "server/shard_store.h"

namespace paramd {

// Thread-safe.
class Table {
 public:
  virtual ~Table() = default;
  // See ShardStore for the meaning of each call.
  virtual absl::Status Validate(const Slice& slice, bool with_values) const = 0;
  virtual void Read(const Slice& slice, absl::Span<float> out) = 0;
  virtual void Apply(const Slice& slice, float scale) = 0;
  virtual void Accumulate(const Slice& slice) = 0;
  virtual void ApplyAccumulated(float scale) = 0;
  virtual absl::StatusOr<std::vector<uint64_t>> Keys() const = 0;
  virtual uint64_t size() const = 0;
  virtual int64_t width() const = 0;
  // Copies values, optimizer state and step counts into `out` (its name is
  // set by the caller). Pending round gradients are not part of it.
  virtual void Save(paramd::v1::TableState* out) const = 0;
  // Replaces everything with `in`; fails with DataLoss, naming what does
  // not fit this table, and then changes nothing.
  virtual absl::Status Load(const paramd::v1::TableState& in) = 0;

  // Elements updates left unchanged because the result was not finite.
  int64_t refused() const { return refused_.load(); }

 protected:
  std::atomic<int64_t> refused_{0};
};

// A contiguous range of a dense table's flat elements.
class DenseTable : public Table {
 public:
  DenseTable(const TableConfig& config, Range range,
             std::unique_ptr<Optimizer> optimizer);
  absl::Status Validate(const Slice& slice, bool with_values) const override;
  void Read(const Slice& slice, absl::Span<float> out) override;
  void Apply(const Slice& slice, float scale) override;
  void Accumulate(const Slice& slice) override;
  void ApplyAccumulated(float scale) override;
  // Fails with InvalidArgument: a dense table has no keys.
  absl::StatusOr<std::vector<uint64_t>> Keys() const override;
  uint64_t size() const override { return range_.size(); }
  int64_t width() const override { return 1; }
  void Save(paramd::v1::TableState* out) const override;
  absl::Status Load(const paramd::v1::TableState& in) override;

 private:
  void ApplyLocked(int64_t begin, absl::Span<const float> grad)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TableConfig config_;
  const Range range_;
  const std::unique_ptr<Optimizer> optimizer_;
  mutable absl::Mutex mu_;
  std::vector<float> values_ ABSL_GUARDED_BY(mu_);
  std::vector<float> state_ ABSL_GUARDED_BY(mu_);    // slot-major
  std::vector<float> pending_ ABSL_GUARDED_BY(mu_);  // kept allocated
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  int64_t steps_ ABSL_GUARDED_BY(mu_) = 0;
};

// Rows keyed by uint64, created on first touch; locked in stripes.
class SparseTable : public Table {
 public:
  SparseTable(const TableConfig& config, const ShardMap& map, int32_t shard,
              std::unique_ptr<Optimizer> optimizer);
  absl::Status Validate(const Slice& slice, bool with_values) const override;
  void Read(const Slice& slice, absl::Span<float> out) override;
  void Apply(const Slice& slice, float scale) override;
  void Accumulate(const Slice& slice) override;
  void ApplyAccumulated(float scale) override;
  // Returns the keys of every row, sorted. Locks one stripe at a time, so
  // rows created meanwhile may or may not be listed.
  absl::StatusOr<std::vector<uint64_t>> Keys() const override;
  uint64_t size() const override;
  int64_t width() const override { return config_.width; }
  void Save(paramd::v1::TableState* out) const override;
  absl::Status Load(const paramd::v1::TableState& in) override;

 private:
  struct Row {
    int64_t steps = 0;
    std::vector<float> data;  // width values, then slots * width state
  };
  struct Stripe {
    mutable absl::Mutex mu;
    absl::flat_hash_map<uint64_t, Row> rows ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<uint64_t, std::vector<float>> pending
        ABSL_GUARDED_BY(mu);
  };
  static constexpr int kStripes = 16;

  Stripe& StripeFor(uint64_t key);
  Row& FindOrCreate(Stripe& stripe, uint64_t key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(stripe.mu);
  void ApplyRow(Row& row, absl::Span<const float> grad);

  const TableConfig config_;
  const ShardMap map_;
  const int32_t shard_;
  const std::unique_ptr<Optimizer> optimizer_;
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace paramd

#endif  // PARAMD_SERVER_TABLE_H_
