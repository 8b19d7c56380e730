#include "server/shard_store.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/tensor.h"
#include "server/table.h"

namespace paramd {

int64_t Slice::NumValues(int64_t width) const {
  return keys.empty() ? length : static_cast<int64_t>(keys.size()) * width;
}

ShardStore::ShardStore(const JobConfig& job, int32_t shard, ShardMap map)
    : job_(job), shard_(shard), shard_map_(map) {}

ShardStore::~ShardStore() = default;

absl::StatusOr<std::unique_ptr<ShardStore>> ShardStore::Create(
    const JobConfig& job, int32_t shard, int32_t num_shards) {
  PARAMD_ASSIGN_OR_RETURN(ShardMap map, ShardMap::Create(num_shards));
  if (shard < 0 || shard >= num_shards) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard ", shard, " is outside [0, ", num_shards, ")"));
  }
  std::unique_ptr<ShardStore> store(new ShardStore(job, shard, map));
  for (const TableConfig& config : job.tables) {
    auto optimizer = Optimizer::Create(config.optimizer);
    if (!optimizer.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "table '", config.name, "': ", optimizer.status().message()));
    }
    std::unique_ptr<Table> table;
    if (config.sparse) {
      table = std::make_unique<SparseTable>(config, map, shard,
                                            std::move(optimizer).value());
    } else {
      table = std::make_unique<DenseTable>(config,
                                           map.DenseRange(config.size(), shard),
                                           std::move(optimizer).value());
    }
    store->tables_[config.name] = std::move(table);
  }
  return store;
}

const Table* ShardStore::Find(const std::string& name) const {
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : it->second.get();
}

Table* ShardStore::Find(const std::string& name) {
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : it->second.get();
}

absl::Status ShardStore::Validate(absl::Span<const Slice> slices,
                                  bool with_values) const {
  if (static_cast<int64_t>(slices.size()) > kMaxSlices) {
    return absl::InvalidArgumentError(absl::StrCat(
        "slices: ", slices.size(), " in one request; at most ", kMaxSlices));
  }
  int64_t total = 0;
  for (const Slice& slice : slices) {
    const Table* table = Find(slice.table);
    if (table == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("unknown table '", slice.table, "'"));
    }
    PARAMD_RETURN_IF_ERROR(table->Validate(slice, with_values));
    // Validated slices hold at most a shard's range or a message's keys,
    // so the product cannot overflow; the sum is capped as it grows.
    total += slice.NumValues(table->width());
    if (total > kMaxValues) {
      return absl::ResourceExhaustedError(
          absl::StrCat("slices: the request covers more than ", kMaxValues,
                       " values (", kMaxValues / (1 << 18), " MiB); split it"));
    }
    if (with_values) {
      const std::string what = absl::StrCat("table '", slice.table, "'");
      PARAMD_RETURN_IF_ERROR(CheckFinite(slice.values, what.c_str()));
    }
  }
  return absl::OkStatus();
}

int64_t ShardStore::Width(const std::string& table) const {
  return Find(table)->width();
}

void ShardStore::Read(const Slice& slice, absl::Span<float> out) {
  Find(slice.table)->Read(slice, out);
}

void ShardStore::Apply(const Slice& slice, float scale) {
  Find(slice.table)->Apply(slice, scale);
}

void ShardStore::Accumulate(const Slice& slice) {
  Find(slice.table)->Accumulate(slice);
}

void ShardStore::ApplyAccumulated(float scale) {
  for (auto& [name, table] : tables_) table->ApplyAccumulated(scale);
}

absl::StatusOr<std::vector<uint64_t>> ShardStore::Keys(
    const std::string& table) const {
  const Table* found = Find(table);
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown table '", table, "'"));
  }
  return found->Keys();
}

int64_t ShardStore::Refused() const {
  int64_t refused = 0;
  for (const auto& [name, table] : tables_) refused += table->refused();
  return refused;
}

std::map<std::string, uint64_t> ShardStore::Sizes() const {
  std::map<std::string, uint64_t> sizes;
  for (const auto& [name, table] : tables_) sizes[name] = table->size();
  return sizes;
}

std::map<std::string, uint64_t> ShardStore::Bytes() const {
  std::map<std::string, uint64_t> bytes;
  for (const auto& [name, table] : tables_) {
    bytes[name] =
        table->size() * static_cast<uint64_t>(table->width()) * sizeof(float);
  }
  return bytes;
}

paramd::v1::ShardCheckpoint ShardStore::Save(int64_t version) const {
  paramd::v1::ShardCheckpoint checkpoint;
  checkpoint.set_job(job_.name);
  checkpoint.set_shard(shard_);
  checkpoint.set_num_shards(shard_map_.num_shards());
  checkpoint.set_version(version);
  for (const auto& [name, table] : tables_) {
    paramd::v1::TableState* state = checkpoint.add_tables();
    state->set_name(name);
    table->Save(state);
  }
  return checkpoint;
}

absl::Status ShardStore::Load(const paramd::v1::ShardCheckpoint& checkpoint) {
  if (checkpoint.job() != job_.name || checkpoint.shard() != shard_ ||
      checkpoint.num_shards() != shard_map_.num_shards()) {
    return absl::DataLossError(
        absl::StrCat("checkpoint is of job '", checkpoint.job(), "' shard ",
                     checkpoint.shard(), " of ", checkpoint.num_shards(),
                     "; this server holds job '", job_.name, "' shard ", shard_,
                     " of ", shard_map_.num_shards()));
  }
  if (checkpoint.tables_size() != static_cast<int>(tables_.size())) {
    return absl::DataLossError(
        absl::StrCat("checkpoint has ", checkpoint.tables_size(),
                     " tables; the job has ", tables_.size()));
  }
  for (const paramd::v1::TableState& state : checkpoint.tables()) {
    if (Find(state.name()) == nullptr) {
      return absl::DataLossError(
          absl::StrCat("checkpoint has unknown table '", state.name(), "'"));
    }
  }
  // Load into a scratch copy first, so a bad table changes nothing here.
  PARAMD_ASSIGN_OR_RETURN(std::unique_ptr<ShardStore> scratch,
                          Create(job_, shard_, shard_map_.num_shards()));
  PARAMD_RETURN_IF_ERROR(scratch->LoadTables(checkpoint));
  return LoadTables(checkpoint);
}

absl::Status ShardStore::LoadTables(
    const paramd::v1::ShardCheckpoint& checkpoint) {
  for (const paramd::v1::TableState& state : checkpoint.tables()) {
    PARAMD_RETURN_IF_ERROR(Find(state.name())->Load(state));
  }
  return absl::OkStatus();
}

void ShardStore::Reset() {
  auto fresh = Create(job_, shard_, shard_map_.num_shards());
  // Create succeeded for this very job before, so it cannot fail now.
  absl::Status loaded = LoadTables((*fresh)->Save(0));
  (void)loaded;
}

}  // namespace paramd
