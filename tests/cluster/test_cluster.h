// The harness integration tests use: a real cluster (coordinator, parameter
// servers, workers as child processes on 127.0.0.1 with OS-chosen ports) in
// a fresh temporary folder, plus gRPC stubs to talk to it.
#ifndef PARAMD_TESTS_CLUSTER_TEST_CLUSTER_H_
#define PARAMD_TESTS_CLUSTER_TEST_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "paramd/v1/coordinator.grpc.pb.h"
#include "paramd/v1/ps.grpc.pb.h"
#include "tools/local_cluster.h"

namespace paramd {
namespace testing {

struct TestClusterOptions {
  // The cluster YAML. "$DIR" is replaced by the cluster's folder, where
  // tests write their data files.
  std::string config_yaml;
  int num_workers = 0;     // trainers to start
  bool evaluator = false;  // start an evaluator (needs data.eval)
  // Called with the folder before the daemons start, to write data files.
  std::function<void(const std::string& dir)> write_data;
  // Reuse this folder (data, checkpoints) instead of a fresh one; the data
  // is then not written again.
  std::string dir;
  // More flags for every parameter server and for the coordinator (test
  // hooks).
  std::vector<std::string> server_flags;
  std::vector<std::string> coordinator_flags;
};

// Thread-compatible. The destructor stops every process (SIGTERM, then
// SIGKILL) and leaves the folder for post-mortems.
class TestCluster {
 public:
  static absl::StatusOr<std::unique_ptr<TestCluster>> Start(
      const TestClusterOptions& options);

  LocalCluster& cluster() { return *cluster_; }
  const std::string& dir() const { return dir_; }

  paramd::v1::Coordinator::Stub* coordinator() { return coordinator_.get(); }
  // A stub for the parameter server holding `shard` (waiting until every
  // shard has a server).
  std::unique_ptr<paramd::v1::ParameterServer::Stub> Server(int shard);

  absl::StatusOr<paramd::v1::GetStatusResponse> Status();

  // The parameter servers' addresses, by shard, once every shard has one.
  absl::StatusOr<std::vector<std::string>> ServerAddresses();

  // Registers a trainer with the coordinator (waiting while the servers
  // register) and returns its id. The parameter servers take its pushes
  // once they have heard of it (within a heartbeat) while it stays alive,
  // which without heartbeats is until the job's lease_timeout_s.
  absl::StatusOr<uint64_t> RegisterTrainer();

  // GetServerInfo of the server holding `shard` (tried up to 3 times).
  absl::StatusOr<paramd::v1::ServerInfoResponse> ServerInfo(int shard);

  // SIGKILLs `process` (a server or the coordinator), waits for it to die
  // and a second more, calls `before_restart` if set, then restarts it as
  // the launcher's supervisor does. Returns the names restarted.
  absl::StatusOr<std::vector<std::string>> CrashAndRestart(
      Subprocess* process, const std::function<void()>& before_restart = {});

  // Polls Status() until `done` holds or `timeout` passes; returns the last
  // status, or DeadlineExceeded with it printed.
  absl::StatusOr<paramd::v1::GetStatusResponse> WaitFor(
      const std::function<bool(const paramd::v1::GetStatusResponse&)>& done,
      absl::Duration timeout);

  // Waits until training and the final evaluation (if any) are done.
  absl::StatusOr<paramd::v1::GetStatusResponse> WaitForJob(
      absl::Duration timeout);

 private:
  TestCluster() = default;

  std::string dir_;
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<paramd::v1::Coordinator::Stub> coordinator_;
};

// Writes `text` to `path`; CHECK-fails on error (test setup only).
void WriteFileOrDie(const std::string& path, const std::string& text);

// The contents of the file at `path` (a log, say), or "" if it cannot be
// read.
std::string ReadFileOrEmpty(const std::string& path);

// Runs paramctl with `args`, its output going to `log`, for up to `timeout`;
// returns its exit status (-1 if it did not end), the output in *output.
int RunParamctl(const std::vector<std::string>& args, const std::string& log,
                std::string* output,
                absl::Duration timeout = absl::Seconds(120));

}  // namespace testing
}  // namespace paramd

#endif  // PARAMD_TESTS_CLUSTER_TEST_CLUSTER_H_
