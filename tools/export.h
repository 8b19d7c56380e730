// `paramctl export`: write every table of a running job as NumPy .npy files,
// with a JSON index, so numpy or PyTorch can load the trained model.
#ifndef PARAMD_TOOLS_EXPORT_H_
#define PARAMD_TOOLS_EXPORT_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace paramd {

struct ExportOptions {
  // Deadline of each RPC.
  absl::Duration rpc_timeout = absl::Seconds(30);
  // How long transient failures (a server not up yet) are retried.
  absl::Duration retry_budget = absl::Seconds(10);
  // Sparse rows read per pull at most (fewer if wide rows would make a
  // message bigger than a quarter of the limit).
  int64_t keys_per_pull = 100000;
  // If set, retries stop and the export fails once *stop is true.
  const std::atomic<bool>* stop = nullptr;
};

// Asks the coordinator at `coordinator` for the parameter servers of `job`,
// indexed by shard, waiting (up to the retry budget) for all to register.
// Fails with Unavailable naming the address if the coordinator cannot be
// reached or a server does not register in time, and InvalidArgument if the
// coordinator runs another job or another number of servers than `job`.
absl::StatusOr<std::vector<std::string>> FetchServers(
    const std::string& coordinator, const JobConfig& job,
    const ExportOptions& options = ExportOptions());

// Writes into `out_dir` (created if missing), each file through a temporary
// name renamed into place:
//   <table>.npy        dense tables: float32 in their declared shape;
//                      sparse tables: float32 [rows, width], rows sorted by key
//   <table>.keys.npy   sparse tables: the uint64 keys of those rows
//   vocab.txt          copies of the job's vocabulary and data description,
//   meta.json          if its data folder (the folder of the train glob)
//                      has them
//   job.yaml           a copy of the job's YAML, if `job` was read from a
//                      file (paramctl generate and score read the model's
//                      shape from it)
//   index.json         {"job", "tables": [{"name", "kind", "shape", "dtype",
//                      "file", "keys_file", "keys_dtype"}], "vocab", "meta",
//                      "config"}, written last
// `servers` are indexed by shard. Values are read at once (clock -1), so an
// export during training mixes steps. Fails if a server is unreachable
// (naming it), does not hold the job's tables, or a file cannot be written.
absl::Status ExportModel(const JobConfig& job,
                         const std::vector<std::string>& servers,
                         const std::string& out_dir,
                         const ExportOptions& options = ExportOptions());

}  // namespace paramd

#endif  // PARAMD_TOOLS_EXPORT_H_
