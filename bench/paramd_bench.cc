// paramd-bench: pushes and pulls dense values and sparse rows at parameter
// servers and prints GB/s, keys/s, latency and the servers' CPU per GB, as
// a table and as JSON. Starts its own cluster (coordinator and servers, no
// workers) unless --coordinator names a running asp one.
//
//   paramd-bench --servers=1 --seconds=1 --json=out.json
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/load_generator.h"
#include "common/logging.h"
#include "common/rpc_util.h"
#include "common/status_macros.h"
#include "server/applied_clocks.h"
#include "tools/local_cluster.h"
#include "worker/cluster_view.h"
#include "worker/coordinator_client.h"

ABSL_FLAG(std::string, coordinator, "",
          "A running cluster's coordinator (its job must be asp); empty: "
          "start one here with --servers servers.");
ABSL_FLAG(int, servers, 1, "Servers of the cluster started here.");
ABSL_FLAG(std::string, run_dir, "",
          "Logs of the cluster started here; empty: a new /tmp folder.");
ABSL_FLAG(std::vector<std::string>, ops,
          (std::vector<std::string>{"push", "pull"}), "push, pull.");
ABSL_FLAG(std::vector<std::string>, dense_kib,
          (std::vector<std::string>{"4", "64", "1024", "4096", "16384"}),
          "Dense value sizes per request, KiB; empty: none.");
ABSL_FLAG(std::vector<std::string>, sparse_keys,
          (std::vector<std::string>{"1000", "100000", "1000000"}),
          "Sparse rows per request; empty: none.");
ABSL_FLAG(std::vector<std::string>, widths,
          (std::vector<std::string>{"1", "64"}), "Sparse row widths, floats.");
ABSL_FLAG(std::vector<std::string>, in_flight,
          (std::vector<std::string>{"1", "8"}),
          "Requests outstanding per client thread.");
ABSL_FLAG(std::vector<std::string>, threads, (std::vector<std::string>{"1"}),
          "Client threads.");
ABSL_FLAG(double, seconds, 1.0, "How long each cell runs.");
ABSL_FLAG(int, max_request_mib, 64, "Cells with larger requests are skipped.");
ABSL_FLAG(std::string, json, "", "Also write the results here, as JSON.");

namespace paramd {
namespace {

absl::StatusOr<std::vector<int64_t>> Numbers(
    const std::vector<std::string>& texts, const std::string& flag) {
  std::vector<int64_t> out;
  for (const std::string& text : texts) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(text, &n) || n <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": '", text, "' is not a positive integer"));
    }
    out.push_back(n);
  }
  return out;
}

// The job of a cluster started here: asp, one dense table big enough for
// the largest dense cell on every server, one sparse table per width.
std::string BenchYaml(int servers, int64_t dense_floats,
                      const std::vector<int64_t>& widths) {
  std::string tables =
      absl::StrCat("  - {name: w, type: sparse, width: 1}\n",
                   "  - {name: bias, type: dense, shape: [1]}\n",
                   "  - {name: dense, type: dense, shape: [",
                   std::max<int64_t>(1, dense_floats * servers), "]}\n");
  for (int64_t width : widths) {
    if (width == 1) continue;  // w is the width-1 table
    absl::StrAppend(&tables, "  - {name: sparse", width,
                    ", type: sparse, width: ", width, "}\n");
  }
  return absl::StrCat(R"(job:
  name: bench
  consistency: asp
  epochs: 1
  batch_size: 1
  heartbeat_interval_s: 0.5
cluster:
  num_servers: )",
                      servers, R"(
  num_workers: 1
data:
  train: train-0.svm
model:
  type: logreg
optimizer: {kind: sgd, learning_rate: 0.01}
tables:
)",
                      tables);
}

struct Row {
  LoadCell cell;
  LoadResult result;
};

std::string Size(const LoadCell& cell) {
  if (cell.sparse) return absl::StrCat(cell.keys, " x ", cell.width);
  return cell.bytes >= (1 << 20) ? absl::StrCat(cell.bytes >> 20, " MiB")
                                 : absl::StrCat(cell.bytes >> 10, " KiB");
}

double GbPerSecond(const Row& row) {
  return row.result.value_bytes / 1e9 / row.result.seconds;
}

double CpuPerGb(const Row& row) {
  return row.result.value_bytes == 0
             ? 0
             : row.result.server_cpu_seconds / (row.result.value_bytes / 1e9);
}

std::string TableLine(const Row& row) {
  return absl::StrFormat(
      "%-5s %-7s %-14s %9d %7d %8.3f %12.0f %9.2f %9.2f %10.2f",
      row.cell.push ? "push" : "pull", row.cell.sparse ? "sparse" : "dense",
      Size(row.cell), row.cell.in_flight, row.cell.threads, GbPerSecond(row),
      row.result.keys / row.result.seconds, row.result.p50_ms,
      row.result.p99_ms, CpuPerGb(row));
}

std::string Json(const std::vector<Row>& rows) {
  std::vector<std::string> cells;
  for (const Row& row : rows) {
    cells.push_back(absl::StrFormat(
        R"(    {"op": "%s", "kind": "%s", "bytes": %d, "keys": %d, )"
        R"("width": %d, "in_flight": %d, "threads": %d, "requests": %d, )"
        R"("seconds": %.4f, "gb_per_s": %.4f, "keys_per_s": %.1f, )"
        R"("p50_ms": %.3f, "p99_ms": %.3f, "server_cpu_s_per_gb": %.4f})",
        row.cell.push ? "push" : "pull", row.cell.sparse ? "sparse" : "dense",
        row.cell.ValueBytes(), row.cell.sparse ? row.cell.keys : 0,
        row.cell.sparse ? row.cell.width : 0, row.cell.in_flight,
        row.cell.threads, row.result.requests, row.result.seconds,
        GbPerSecond(row), row.result.keys / row.result.seconds,
        row.result.p50_ms, row.result.p99_ms, CpuPerGb(row)));
  }
  return absl::StrCat("{\"cells\": [\n", absl::StrJoin(cells, ",\n"), "\n]}\n");
}

// The cells the flags ask for, in the order they run; sets the dense
// floats and sparse widths the tables of a cluster started here need.
absl::StatusOr<std::vector<LoadCell>> CellsFromFlags(
    int64_t* dense_floats, std::vector<int64_t>* widths) {
  PARAMD_ASSIGN_OR_RETURN(auto dense_kib,
                          Numbers(absl::GetFlag(FLAGS_dense_kib), "dense_kib"));
  PARAMD_ASSIGN_OR_RETURN(
      auto sparse_keys,
      Numbers(absl::GetFlag(FLAGS_sparse_keys), "sparse_keys"));
  PARAMD_ASSIGN_OR_RETURN(*widths,
                          Numbers(absl::GetFlag(FLAGS_widths), "widths"));
  PARAMD_ASSIGN_OR_RETURN(auto in_flight,
                          Numbers(absl::GetFlag(FLAGS_in_flight), "in_flight"));
  PARAMD_ASSIGN_OR_RETURN(auto threads,
                          Numbers(absl::GetFlag(FLAGS_threads), "threads"));
  const int64_t max_bytes = int64_t{absl::GetFlag(FLAGS_max_request_mib)} << 20;
  std::vector<LoadCell> shapes;
  for (const std::string& op : absl::GetFlag(FLAGS_ops)) {
    if (op != "push" && op != "pull") {
      return absl::InvalidArgumentError(
          absl::StrCat("--ops: '", op, "' is neither push nor pull"));
    }
    for (int64_t kib : dense_kib) {
      shapes.push_back({.push = op == "push", .bytes = kib * 1024});
    }
    for (int64_t keys : sparse_keys) {
      for (int64_t width : *widths) {
        shapes.push_back({.push = op == "push",
                          .sparse = true,
                          .keys = keys,
                          .width = width});
      }
    }
  }
  *dense_floats = 1;
  for (int64_t kib : dense_kib)
    *dense_floats = std::max(*dense_floats, kib * 256);
  std::vector<LoadCell> cells;
  for (const LoadCell& shape : shapes) {
    if (shape.ValueBytes() + shape.keys * 8 > max_bytes) continue;
    for (int64_t n : in_flight) {
      for (int64_t t : threads) {
        // More outstanding pushes than a server waits for out of order
        // would be refused (see AppliedClocks).
        if (n * t > AppliedClocks::kMaxAhead) {
          return absl::InvalidArgumentError(absl::StrCat(
              "--in_flight x --threads: ", n, " x ", t, " is over ",
              AppliedClocks::kMaxAhead, " outstanding pushes of one worker"));
        }
        LoadCell cell = shape;
        cell.in_flight = static_cast<int>(n);
        cell.threads = static_cast<int>(t);
        cells.push_back(cell);
      }
    }
  }
  return cells;
}

// Starts a coordinator and --servers servers (no workers) of an asp job
// sized for the cells, logging into --run_dir.
absl::StatusOr<std::unique_ptr<LocalCluster>> StartCluster(
    int64_t dense_floats, const std::vector<int64_t>& widths) {
  std::string run_dir = absl::GetFlag(FLAGS_run_dir);
  if (run_dir.empty()) {
    char made[] = "/tmp/paramd-bench-XXXXXX";
    if (mkdtemp(made) == nullptr) {
      return absl::InternalError("cannot make a folder in /tmp");
    }
    run_dir = made;
  }
  std::error_code error;
  std::filesystem::create_directories(run_dir, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot make ", run_dir, ": ", error.message()));
  }
  const std::string config = absl::StrCat(run_dir, "/bench.yaml");
  std::ofstream(config) << BenchYaml(absl::GetFlag(FLAGS_servers), dense_floats,
                                     widths);
  std::ofstream(absl::StrCat(run_dir, "/train-0.svm")) << "1 1:1\n";
  LocalClusterOptions options;
  options.config_path = config;
  options.bin_dir =
      std::filesystem::read_symlink("/proc/self/exe").parent_path();
  options.run_dir = run_dir;
  options.num_workers = 0;
  options.evaluator = false;
  std::printf("# cluster of %d server(s), logs in %s\n",
              absl::GetFlag(FLAGS_servers), run_dir.c_str());
  return LocalCluster::Start(options);
}

// Joins the cluster of `coordinator` as a trainer (so that its servers
// take this process's pushes) and measures each cell, printing its line.
absl::StatusOr<std::vector<Row>> Measure(const std::string& coordinator,
                                         const std::vector<LoadCell>& cells) {
  if (!MakeChannel(coordinator)
           ->WaitForConnected(
               absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach the coordinator at ", coordinator));
  }
  std::atomic<bool> stop{false};
  CoordinatorClient client(coordinator, &stop);
  PARAMD_ASSIGN_OR_RETURN(Registration registration,
                          client.Register("paramd-bench", "trainer"));
  if (registration.job.consistency != Consistency::kAsp) {
    return absl::FailedPreconditionError(
        "the job is not asp: bsp and ssp pushes wait for other workers");
  }
  ClusterView view(registration.worker_id, registration.servers);
  std::thread heartbeats([&] {
    client.RunHeartbeats(
        &view, absl::Seconds(registration.job.heartbeat_interval_s),
        [] { return Progress{}; }, "paramd-bench", "trainer");
  });
  LoadGenerator load(registration.job, registration.servers,
                     registration.worker_id);
  absl::Status status = load.WaitUntilAccepted(absl::Seconds(30));
  std::printf("%-5s %-7s %-14s %9s %7s %8s %12s %9s %9s %10s\n", "op", "kind",
              "size", "in_flight", "threads", "GB/s", "keys/s", "p50_ms",
              "p99_ms", "cpu_s/GB");
  std::vector<Row> rows;
  for (size_t i = 0; status.ok() && i < cells.size(); ++i) {
    absl::StatusOr<LoadResult> result =
        load.Run(cells[i], absl::Seconds(absl::GetFlag(FLAGS_seconds)));
    status = result.status();
    if (!status.ok()) break;
    rows.push_back({cells[i], *result});
    std::printf("%s\n", TableLine(rows.back()).c_str());
    std::fflush(stdout);
  }
  stop.store(true);
  heartbeats.join();
  if (!status.ok()) return status;
  return rows;
}

absl::Status Bench() {
  int64_t dense_floats = 0;
  std::vector<int64_t> widths;
  PARAMD_ASSIGN_OR_RETURN(std::vector<LoadCell> cells,
                          CellsFromFlags(&dense_floats, &widths));
  std::unique_ptr<LocalCluster> cluster;
  std::string coordinator = absl::GetFlag(FLAGS_coordinator);
  if (coordinator.empty()) {
    PARAMD_ASSIGN_OR_RETURN(cluster, StartCluster(dense_floats, widths));
    coordinator = cluster->coordinator_address();
  }
  PARAMD_ASSIGN_OR_RETURN(std::vector<Row> rows, Measure(coordinator, cells));
  const std::string json = absl::GetFlag(FLAGS_json);
  if (!json.empty()) {
    std::ofstream out(json);
    out << Json(rows);
    if (!out.good()) {
      return absl::UnavailableError(absl::StrCat("cannot write ", json));
    }
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace paramd

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::Status secured = paramd::SecureRpc(paramd::RpcSecurityFromFlags());
      !secured.ok()) {
    paramd::LogError(secured.ToString());
    return 1;
  }
  if (absl::Status status = paramd::Bench(); !status.ok()) {
    paramd::LogError(status.ToString());
    return 1;
  }
  return 0;
}
