#include "tools/local_cluster.h"

#include <csignal>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/rpc_security.h"
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
  // This process talks to the cluster as its admin.
  const RpcSecurity admin = job.security.For(Role::kAdmin, false);
  if (admin.tls() || !admin.token_file.empty()) {
    PARAMD_RETURN_IF_ERROR(ConfigureRpc(admin));
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
  std::vector<std::string> argv = {
      absl::StrCat(options_.bin_dir, "/", binary),
      "--host=127.0.0.1",
      absl::StrCat("--port=", *port),
      absl::StrCat("--port_file=", port_file),
      "--metrics_port=0",
      absl::StrCat("--metrics_port_file=", options_.run_dir, "/", name,
                   ".metrics_port")};
  argv.insert(argv.end(), flags.begin(), flags.end());
  PARAMD_ASSIGN_OR_RETURN(
      std::unique_ptr<Subprocess> process,
      Subprocess::Start(argv,
                        absl::StrCat(options_.run_dir, "/", name, ".log")));
  PARAMD_ASSIGN_OR_RETURN(
      *port, WaitForPortFile(port_file, process.get(), kStartTimeout));
  return process;
}

absl::StatusOr<std::unique_ptr<Subprocess>> LocalCluster::StartCoordinator(
    int port) {
  std::vector<std::string> flags = {
      absl::StrCat("--config=", options_.config_path)};
  flags.insert(flags.end(), options_.coordinator_flags.begin(),
               options_.coordinator_flags.end());
  PARAMD_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> coordinator,
                          StartDaemon("paramd-coordinator", "coordinator",
                                      std::move(flags), &port));
  coordinator_address_ = absl::StrCat("127.0.0.1:", port);
  return coordinator;
}

absl::StatusOr<std::unique_ptr<Subprocess>> LocalCluster::StartServer(
    int shard) {
  int port = 0;
  std::vector<std::string> flags = {
      absl::StrCat("--coordinator=", coordinator_address_),
      absl::StrCat("--shard=", shard)};
  flags.insert(flags.end(), options_.server_flags.begin(),
               options_.server_flags.end());
  for (std::string& flag :
       RpcSecurityFlags(job_.security.For(Role::kServer, true))) {
    flags.push_back(std::move(flag));
  }
  return StartDaemon("paramd-ps", absl::StrCat("ps", shard), std::move(flags),
                     &port);
}

absl::Status LocalCluster::StartDaemons() {
  PARAMD_ASSIGN_OR_RETURN(coordinator_, StartCoordinator(0));
  for (int s = 0; s < job_.num_servers; ++s) {
    PARAMD_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> server, StartServer(s));
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
  std::vector<std::string> argv = {
      absl::StrCat(options_.bin_dir, "/paramd-worker"),
      absl::StrCat("--coordinator=", coordinator_address_),
      absl::StrCat("--role=", role),
      absl::StrCat("--port_file=", options_.run_dir, "/", name, ".port"),
      "--metrics_port=0",
      absl::StrCat("--metrics_port_file=", options_.run_dir, "/", name,
                   ".metrics_port")};
  for (std::string& flag :
       RpcSecurityFlags(job_.security.For(Role::kWorker, false))) {
    argv.push_back(std::move(flag));
  }
  PARAMD_ASSIGN_OR_RETURN(
      std::unique_ptr<Subprocess> worker,
      Subprocess::Start(argv,
                        absl::StrCat(options_.run_dir, "/", name, ".log")));
  workers_.push_back(std::move(worker));
  if (role == "trainer") trainers_.push_back(workers_.back().get());
  return workers_.back().get();
}

absl::Status LocalCluster::RestartServer(int shard) {
  PARAMD_ASSIGN_OR_RETURN(servers_[shard], StartServer(shard));
  return absl::OkStatus();
}

absl::Status LocalCluster::RestartCoordinator() {
  int port = 0;
  if (!absl::SimpleAtoi(
          coordinator_address_.substr(coordinator_address_.rfind(':') + 1),
          &port)) {
    return absl::InternalError(
        absl::StrCat("bad coordinator address ", coordinator_address_));
  }
  PARAMD_ASSIGN_OR_RETURN(coordinator_, StartCoordinator(port));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> LocalCluster::RestartCrashed(
    int max_restarts) {
  auto crashed = [](Subprocess* process) {
    const std::optional<int> code = process->Poll();
    return code.has_value() && *code != 0;
  };
  auto allowed = [&](const std::string& name) {
    return restarts_[name]++ < max_restarts;
  };
  std::vector<std::string> restarted;
  if (crashed(coordinator_.get()) && allowed("coordinator")) {
    PARAMD_RETURN_IF_ERROR(RestartCoordinator());
    restarted.push_back("coordinator");
  }
  for (int s = 0; s < static_cast<int>(servers_.size()); ++s) {
    const std::string name = absl::StrCat("ps", s);
    if (crashed(servers_[s].get()) && allowed(name)) {
      PARAMD_RETURN_IF_ERROR(RestartServer(s));
      restarted.push_back(name);
    }
  }
  return restarted;
}

void LocalCluster::Stop(absl::Duration grace) {
  for (auto& worker : workers_) worker->Signal(SIGTERM);
  for (auto& worker : workers_) worker->Stop(grace);
  for (auto& server : servers_) server->Signal(SIGTERM);
  for (auto& server : servers_) server->Stop(grace);
  if (coordinator_) coordinator_->Stop(grace);
}

}  // namespace paramd
