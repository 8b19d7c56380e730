// The coordinator's bookkeeping at scale: one epoch of --shards shards,
// granted and completed by --workers workers in turn, against a real
// Coordinator saving its state to disk (every completion is made durable
// before it counts). Prints the grant+complete rate over each tenth of the
// epoch: flat when a change costs O(1), falling when it costs O(shards).
//
//   build/bin/coordinator_bench --shards=100000 2>/dev/null
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "server/coordinator.h"

ABSL_FLAG(int, shards, 100000, "Shards in the epoch.");
ABSL_FLAG(int, workers, 4, "Workers taking turns.");
ABSL_FLAG(std::string, dir, "",
          "Where the state goes; empty: a new folder in /tmp, removed after.");

namespace paramd {
namespace {

int Run() {
  const int shards = absl::GetFlag(FLAGS_shards);
  const int workers = absl::GetFlag(FLAGS_workers);
  std::string dir = absl::GetFlag(FLAGS_dir);
  const bool made = dir.empty();
  if (made) {
    char pattern[] = "/tmp/coordinator-bench-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return 1;
    dir = pattern;
  }
  JobConfig job;
  job.name = "coordinator-bench";
  job.num_servers = 1;
  job.epochs = 1;
  job.lease_timeout_s = 3600;
  job.checkpoint.dir = dir;
  std::vector<std::string> paths;
  for (int s = 0; s < shards; ++s) {
    paths.push_back(absl::StrCat("data/train-", s, ".svm"));
  }
  Coordinator coordinator(job, "", paths);
  coordinator.Restore();
  if (!coordinator.RegisterServer("ps0:1", 0).ok()) return 1;
  std::vector<uint64_t> ids;
  for (int w = 0; w < workers; ++w) {
    std::optional<LeaseInfo> held;
    std::vector<std::string> servers;
    auto id = coordinator.RegisterWorker(absl::StrCat("host", w), "trainer", 0,
                                         0, &held, &servers);
    if (!id.ok()) return 1;
    ids.push_back(*id);
  }
  std::printf("%d shards, %d workers, state in %s\n", shards, workers,
              dir.c_str());
  std::printf("%-12s %14s\n", "shards done", "shards/s");
  const int tenth = std::max(1, shards / 10);
  absl::Time start = absl::Now();
  const absl::Time begin = start;
  std::vector<double> rates;
  int last_done = 0;
  for (int done = 0; done < shards;) {
    const uint64_t worker = ids[done % workers];
    LeaseInfo lease;
    std::string path;
    std::vector<std::string> servers;
    auto grant = coordinator.AcquireShard(worker, 0, &lease, &path, &servers);
    if (!grant.ok() || *grant != LeaseBook::Grant::kLeased) return 1;
    if (!coordinator.CompleteShard(worker, lease.lease_id, 1, 0.5, done).ok()) {
      return 1;
    }
    if (++done % tenth == 0 || done == shards) {
      const absl::Time now = absl::Now();
      rates.push_back((done - last_done) / absl::ToDoubleSeconds(now - start));
      last_done = done;
      std::printf("%-12d %14.0f\n", done, rates.back());
      std::fflush(stdout);
      start = now;
    }
  }
  std::printf("total %.1f s; last tenth / first tenth: %.2f\n",
              absl::ToDoubleSeconds(absl::Now() - begin),
              rates.back() / rates.front());
  if (made) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace paramd

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return paramd::Run();
}
