// Fuzzes checkpoint loading: ReadCheckpointFile on arbitrary bytes, then the
// payload parsed as a ShardCheckpoint and loaded into a ShardStore. A load
// that fails must change nothing; one that succeeds must leave a store that
// saves, reloads and takes updates.
//
// Input: byte 0 says how the rest is used. Even: as the whole file. Odd: as
// the payload, written behind a valid header so the checksum passes and the
// proto parsing and ShardStore::Load are reached.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/checkpoint_file.h"
#include "common/config.h"
#include "paramd/v1/checkpoint.pb.h"
#include "server/shard_store.h"
#include "tests/fuzz/fuzz_util.h"

namespace paramd {
namespace {

// Shard 1 of 2 of a dense table with two optimizer slots and a sparse one
// with one.
constexpr char kJob[] = R"(job: {name: checkpoint-fuzz}
data: {train: "*.txt"}
model: {type: logreg}
cluster: {num_servers: 2}
tables:
  - {name: d, type: dense, shape: [11], optimizer: {kind: adam}}
  - {name: e, type: sparse, width: 3, optimizer: {kind: momentum}}
)";
constexpr int32_t kShard = 1;

template <typename T>
void PutLittleEndian(T value, std::string* out) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

// `payload` behind the header WriteCheckpointFile writes (see
// common/checkpoint_file.h), without its fsyncs and renames.
std::string WithHeader(absl::string_view payload) {
  std::string file = "PARAMDCK";
  PutLittleEndian<uint32_t>(1, &file);
  const uLong crc = crc32(crc32(0L, Z_NULL, 0),
                          reinterpret_cast<const Bytef*>(payload.data()),
                          static_cast<uInt>(payload.size()));
  PutLittleEndian<uint32_t>(static_cast<uint32_t>(crc), &file);
  PutLittleEndian<uint64_t>(payload.size(), &file);
  file.append(payload.data(), payload.size());
  return file;
}

// Validates and applies a gradient of ones to `slice`, then reads it back.
void Touch(ShardStore& store, Slice slice) {
  std::vector<float> values(slice.NumValues(store.Width(slice.table)), 1.0f);
  slice.values = values;
  ABSL_RAW_CHECK(store.Validate({slice}, true).ok(),
                 "a loaded store refuses an update of its own rows");
  store.Apply(slice, 1.0f);
  store.Accumulate(slice);
  store.ApplyAccumulated(0.5f);
  store.Read(slice, absl::MakeSpan(values));
}

// Checks a store that loaded a checkpoint: it saves and reloads, and every
// dense element and sparse row it holds takes an update.
void CheckLoaded(ShardStore& store, const JobConfig& job) {
  ABSL_RAW_CHECK(store.Load(store.Save(7)).ok(),
                 "a loaded store cannot reload its own checkpoint");
  for (const TableConfig& table : job.tables) {
    if (table.sparse) {
      absl::StatusOr<std::vector<uint64_t>> keys = store.Keys(table.name);
      ABSL_RAW_CHECK(keys.ok(), "Keys() failed on a sparse table");
      if (keys->empty()) continue;
      Touch(store, Slice{table.name, *keys, 0, 0, {}});
    } else {
      const Range range =
          store.shard_map().DenseRange(table.size(), store.shard());
      Touch(store, Slice{table.name, {}, range.begin, range.size(), {}});
    }
  }
}

}  // namespace
}  // namespace paramd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using paramd::testing::AsText;
  if (size == 0) return 0;
  static const paramd::JobConfig job =
      paramd::testing::MustParseJob(paramd::kJob);
  static paramd::testing::FuzzFile file("checkpoint");
  const absl::string_view rest = AsText(data + 1, size - 1);
  file.Write((data[0] & 1) != 0 ? paramd::WithHeader(rest) : std::string(rest));
  absl::StatusOr<std::string> payload = paramd::ReadCheckpointFile(file.path());
  if (!payload.ok()) return 0;
  paramd::v1::ShardCheckpoint checkpoint;
  if (!checkpoint.ParseFromString(*payload)) return 0;
  std::unique_ptr<paramd::ShardStore> store =
      paramd::ShardStore::Create(job, paramd::kShard, job.num_servers).value();
  const std::string before = store->Save(0).SerializeAsString();
  if (!store->Load(checkpoint).ok()) {
    ABSL_RAW_CHECK(store->Save(0).SerializeAsString() == before,
                   "a failed Load changed the store");
    return 0;
  }
  paramd::CheckLoaded(*store, job);
  return 0;
}
