// A whole cluster on this host as child processes: the coordinator, the
// parameter servers the YAML asks for, trainers and an evaluator. Used by
// `paramctl launch` and by the integration tests' harness.
#ifndef PARAMD_TOOLS_LOCAL_CLUSTER_H_
#define PARAMD_TOOLS_LOCAL_CLUSTER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "tools/subprocess.h"

namespace paramd {

struct LocalClusterOptions {
  std::string config_path;  // the cluster YAML
  std::string bin_dir;      // folder holding paramd-coordinator etc.
  std::string run_dir;      // logs and port files go here
  int num_workers = -1;     // trainers to start; -1: cluster.num_workers
  bool evaluator = true;    // start an evaluator if the job has eval data
  std::vector<std::string> server_flags;       // more flags for every paramd-ps
  std::vector<std::string> coordinator_flags;  // more for the coordinator
};

// Thread-compatible. The destructor stops every process.
class LocalCluster {
 public:
  // Validates the config, then starts the coordinator and the servers on
  // 127.0.0.1 with OS-chosen ports and the workers. Fails, naming the
  // process and its log, if one does not come up.
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Start(
      const LocalClusterOptions& options);

  ~LocalCluster();

  // Starts one more worker with `role` ("trainer" or "evaluator"); its
  // health port goes to run_dir/<role><n>.port.
  absl::StatusOr<Subprocess*> AddWorker(const std::string& role);

  // Starts the server of `shard` again, on a new port (it restores what the
  // coordinator tells it to). The old process must have exited.
  absl::Status RestartServer(int shard);

  // Starts the coordinator again on its old port, so the other daemons
  // find it. The old process must have exited.
  absl::Status RestartCoordinator();

  // What a supervisor (systemd, compose) does: restarts the coordinator and
  // any server that died of a signal or exited non-zero, at most
  // `max_restarts` times each. Returns the names of those restarted.
  absl::StatusOr<std::vector<std::string>> RestartCrashed(int max_restarts = 3);

  // Stops workers, then servers, then the coordinator (SIGTERM, then
  // SIGKILL after `grace`).
  void Stop(absl::Duration grace = absl::Seconds(10));

  const JobConfig& job() const { return job_; }
  const std::string& coordinator_address() const {
    return coordinator_address_;
  }
  const std::string& run_dir() const { return options_.run_dir; }
  Subprocess* coordinator() { return coordinator_.get(); }
  const std::vector<std::unique_ptr<Subprocess>>& servers() const {
    return servers_;
  }
  const std::vector<std::unique_ptr<Subprocess>>& workers() const {
    return workers_;
  }
  // The workers started with role "trainer".
  const std::vector<Subprocess*>& trainers() const { return trainers_; }

 private:
  LocalCluster(LocalClusterOptions options, JobConfig job)
      : options_(std::move(options)), job_(std::move(job)) {}

  absl::Status StartDaemons();
  // Starts `binary` listening on `*port` (0: the OS picks) and sets *port.
  absl::StatusOr<std::unique_ptr<Subprocess>> StartDaemon(
      const std::string& binary, const std::string& name,
      std::vector<std::string> flags, int* port);
  absl::StatusOr<std::unique_ptr<Subprocess>> StartServer(int shard);
  absl::StatusOr<std::unique_ptr<Subprocess>> StartCoordinator(int port);

  const LocalClusterOptions options_;
  const JobConfig job_;
  std::string coordinator_address_;
  std::unique_ptr<Subprocess> coordinator_;
  std::vector<std::unique_ptr<Subprocess>> servers_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
  std::vector<Subprocess*> trainers_;
  std::map<std::string, int> restarts_;  // by daemon name
};

}  // namespace paramd

#endif  // PARAMD_TOOLS_LOCAL_CLUSTER_H_
