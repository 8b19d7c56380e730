#include "tools/local_cluster.h"

#include <csignal>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace paramd {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(30);

}  // namespace

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(
    const LocalClusterOptions& options) {
  PARAMD_ASSIGN_OR_RETURN(JobConfig job, LoadJobConfig(options.config_path));
  PARAMD_RETURN_IF_ERROR(ListTrainShards(job).status());
  std::error_code error;
  std::filesystem::create_directories(options.run_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", options.run_dir, ": ", error.message()));
  }
  std::unique_ptr<LocalCluster> cluster(new LocalCluster(options, job));
  PARAMD_RETURN_IF_ERROR(cluster->StartDaemons());
  return cluster;
}

LocalCluster::~LocalCluster() { Stop(); }

absl::StatusOr<std::unique_ptr<Subprocess>> LocalCluster::StartDaemon(
    const std::string& binary, const std::string& name,
    std::vector<std::string> flags, int* port) {
  const std::string port_file =
      absl::StrCat(options_.run_dir, "/", name, ".port");
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {absl::StrCat(options_.bin_dir, "/", binary),
                                   "--host=127.0.0.1", "--port=0",
                                   absl::StrCat("--port_file=", port_file)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  PARAMD_ASSIGN_OR_RETURN(
      std::unique_ptr<Subprocess> process,
      Subprocess::Start(argv,
                        absl::StrCat(options_.run_dir, "/", name, ".log")));
  PARAMD_ASSIGN_OR_RETURN(
      *port, WaitForPortFile(port_file, process.get(), kStartTimeout));
  return process;
}

absl::Status LocalCluster::StartDaemons() {
  int port = 0;
  PARAMD_ASSIGN_OR_RETURN(
      coordinator_,
      StartDaemon("paramd-coordinator", "coordinator",
                  {absl::StrCat("--config=", options_.config_path)}, &port));
  coordinator_address_ = absl::StrCat("127.0.0.1:", port);
  for (int s = 0; s < job_.num_servers; ++s) {
    PARAMD_ASSIGN_OR_RETURN(
        std::unique_ptr<Subprocess> server,
        StartDaemon("paramd-ps", absl::StrCat("ps", s),
                    {absl::StrCat("--coordinator=", coordinator_address_),
                     absl::StrCat("--shard=", s)},
                    &port));
    servers_.push_back(std::move(server));
  }
  const int trainers =
      options_.num_workers >= 0 ? options_.num_workers : job_.num_workers;
  for (int w = 0; w < trainers; ++w) {
    PARAMD_RETURN_IF_ERROR(AddWorker("trainer").status());
  }
  if (options_.evaluator && !job_.eval_path.empty()) {
    PARAMD_RETURN_IF_ERROR(AddWorker("evaluator").status());
  }
  return absl::OkStatus();
}

absl::StatusOr<Subprocess*> LocalCluster::AddWorker(const std::string& role) {
  const std::string name = absl::StrCat(role, workers_.size());
  PARAMD_ASSIGN_OR_RETURN(
      std::unique_ptr<Subprocess> worker,
      Subprocess::Start({absl::StrCat(options_.bin_dir, "/paramd-worker"),
                         absl::StrCat("--coordinator=", coordinator_address_),
                         absl::StrCat("--role=", role)},
                        absl::StrCat(options_.run_dir, "/", name, ".log")));
  workers_.push_back(std::move(worker));
  if (role == "trainer") trainers_.push_back(workers_.back().get());
  return workers_.back().get();
}

void LocalCluster::Stop(absl::Duration grace) {
  for (auto& worker : workers_) worker->Signal(SIGTERM);
  for (auto& worker : workers_) worker->Stop(grace);
  for (auto& server : servers_) server->Signal(SIGTERM);
  for (auto& server : servers_) server->Stop(grace);
  if (coordinator_) coordinator_->Stop(grace);
}

}  // namespace paramd
