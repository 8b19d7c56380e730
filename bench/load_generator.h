// Push and pull load against running parameter servers, measured: the
// transport half of paramd-bench.
#ifndef PARAMD_BENCH_LOAD_GENERATOR_H_
#define PARAMD_BENCH_LOAD_GENERATOR_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/shard_map.h"

namespace paramd {

// One measurement: an operation, a payload and a concurrency.
struct LoadCell {
  bool push = true;  // else pull
  bool sparse = false;
  int64_t bytes = 0;  // dense: value bytes per request
  int64_t keys = 0;   // sparse: rows per request
  int64_t width = 1;  // sparse: floats per row
  int in_flight = 1;  // requests outstanding per client thread
  int threads = 1;    // client threads, each with its own connections

  // Float bytes one request moves.
  int64_t ValueBytes() const { return sparse ? keys * width * 4 : bytes; }
};

struct LoadResult {
  int64_t requests = 0;
  int64_t value_bytes = 0;  // floats moved; keys not counted
  int64_t keys = 0;
  double seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double server_cpu_seconds = 0;  // summed over the servers
};

// Thread-compatible: one Run at a time.
class LoadGenerator {
 public:
  // `worker_id` must be a live trainer of `job` (an asp job: pushes of a
  // bsp or ssp job would wait for the others); `servers` in shard order.
  // Loads the largest dense table and the first sparse table of each width.
  LoadGenerator(const JobConfig& job, std::vector<std::string> servers,
                uint64_t worker_id);

  // Reads the servers' generation, then pushes nothing to each until it
  // accepts (a new trainer is listed within a heartbeat). Fails with the
  // last refusal after `timeout`.
  absl::Status WaitUntilAccepted(absl::Duration timeout);

  // Keeps cell.in_flight requests outstanding from each of cell.threads
  // threads for `duration`, spread over the servers. Fails if the job has
  // no table for the cell (or the dense table's part on a server is smaller
  // than cell.bytes), with the first request that failed, or with DataLoss
  // if the servers did not apply every push they acknowledged (nothing
  // else may push meanwhile).
  absl::StatusOr<LoadResult> Run(const LoadCell& cell, absl::Duration duration);

 private:
  struct Counters;

  // The name of the table the cell loads, or NotFound / InvalidArgument.
  absl::StatusOr<std::string> TableFor(const LoadCell& cell) const;
  // One client thread's share of Run.
  void RunThread(const LoadCell& cell, const std::string& table, int thread,
                 absl::Time end, Counters* counters);
  // Keys held by `shard`, packed little-endian: `count` of them.
  std::string KeysOf(int32_t shard, int64_t count) const;
  // Summed over the servers.
  struct Totals {
    double cpu_seconds = 0;
    int64_t version = 0;
  };
  absl::StatusOr<Totals> ServerTotals() const;

  const JobConfig job_;
  const std::vector<std::string> servers_;
  const uint64_t worker_id_;
  const ShardMap map_;
  uint64_t generation_ = 0;
  // Next push clock per server: under asp each distinct clock applies once.
  std::unique_ptr<std::atomic<int64_t>[]> clocks_;
};

}  // namespace paramd

#endif  // PARAMD_BENCH_LOAD_GENERATOR_H_
