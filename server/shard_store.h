// One parameter server's shard of every table: values, optimizer state and
// the gradients buffered for the current bsp round. Knows nothing of RPCs.
#ifndef PARAMD_SERVER_SHARD_STORE_H_
#define PARAMD_SERVER_SHARD_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/config.h"
#include "common/shard_map.h"
#include "paramd/v1/checkpoint.pb.h"
#include "server/optimizer.h"

namespace paramd {

// A request's view of one table part: sparse rows by key, or a dense range.
struct Slice {
  std::string table;
  std::vector<uint64_t> keys;      // sparse tables
  int64_t offset = 0;              // dense tables: global flat index
  int64_t length = 0;              // dense tables: element count
  absl::Span<const float> values;  // push: gradients; pull: unused

  // Floats the slice's values hold for a table of row width `width`.
  int64_t NumValues(int64_t width) const;
};

class Table;

// Thread-safe. Tables lock independently (sparse tables by stripe), so
// pushes to different tables or rows never wait on each other.
class ShardStore {
 public:
  // Creates the tables of `job` for `shard` of `num_shards`; fails if an
  // optimizer config is invalid.
  static absl::StatusOr<std::unique_ptr<ShardStore>> Create(
      const JobConfig& job, int32_t shard, int32_t num_shards);
  ~ShardStore();

  // Most slices one request may hold, and most values it may read or
  // write in all (a reply must fit in a message).
  static constexpr int64_t kMaxSlices = 1024;
  static constexpr int64_t kMaxValues = int64_t{48} << 20;  // 192 MiB

  // Checks every slice: known table, dense range inside this shard, keys
  // owned by this shard (a sparse slice has keys, a dense one none), and
  // (when `with_values`) value count matching and all finite; and the
  // request's size. Returns NotFound for an unknown table, OutOfRange for a
  // range outside this shard, ResourceExhausted for more than kMaxValues
  // values, and InvalidArgument otherwise, naming the problem.
  absl::Status Validate(absl::Span<const Slice> slices, bool with_values) const;

  // Copies the values of a validated slice into `out` (sized NumValues),
  // creating missing sparse rows with the table's initializer.
  void Read(const Slice& slice, absl::Span<float> out);

  // Applies gradients of a validated slice now, scaled by `scale`.
  void Apply(const Slice& slice, float scale);

  // Adds gradients of a validated slice into the pending round buffer.
  void Accumulate(const Slice& slice);

  // Applies every pending gradient scaled by `scale`, then clears them.
  void ApplyAccumulated(float scale);

  // Floats per key of a sparse table, 1 for a dense one.
  // REQUIRES: the table exists (the slice was validated).
  int64_t Width(const std::string& table) const;

  // Returns the keys of every row this shard holds for a sparse table,
  // sorted ascending. Fails with NotFound for an unknown table and
  // InvalidArgument for a dense one.
  absl::StatusOr<std::vector<uint64_t>> Keys(const std::string& table) const;

  // Elements that updates left unchanged because the result would not have
  // been finite (see Optimizer::Apply), over all tables.
  int64_t Refused() const;

  // Elements held per dense table, rows per sparse table.
  std::map<std::string, uint64_t> Sizes() const;
  // Bytes of values per table (size times width, 4 bytes each).
  std::map<std::string, uint64_t> Bytes() const;

  // Every table's values, optimizer state and step counts, labelled with
  // `version`. Pending round gradients are left out. The caller keeps
  // updates out meanwhile.
  paramd::v1::ShardCheckpoint Save(int64_t version) const;

  // Replaces every table with the checkpoint's. Fails with DataLoss, naming
  // what does not match this shard (job, shard, tables, sizes), and then
  // changes nothing. The caller keeps requests out meanwhile.
  absl::Status Load(const paramd::v1::ShardCheckpoint& checkpoint);

  // Puts every table back to its initial values (a rollback to version 0).
  void Reset();

  int32_t shard() const { return shard_; }
  const ShardMap& shard_map() const { return shard_map_; }

 private:
  ShardStore(const JobConfig& job, int32_t shard, ShardMap map);
  // Load without the all-or-nothing check.
  absl::Status LoadTables(const paramd::v1::ShardCheckpoint& checkpoint);
  const Table* Find(const std::string& name) const;
  Table* Find(const std::string& name);

  const JobConfig job_;
  const int32_t shard_;
  const ShardMap shard_map_;
  std::map<std::string, std::unique_ptr<Table>> tables_;  // fixed after Create
};

}  // namespace paramd

#endif  // PARAMD_SERVER_SHARD_STORE_H_
