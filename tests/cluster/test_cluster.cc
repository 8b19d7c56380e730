#include "tests/cluster/test_cluster.h"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/grpc_status.h"
#include "common/rpc_util.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "tools/status_format.h"

namespace paramd {
namespace testing {

namespace v1 = ::paramd::v1;

void WriteFileOrDie(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out.flush()) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::abort();
  }
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

absl::StatusOr<std::unique_ptr<TestCluster>> TestCluster::Start(
    const TestClusterOptions& options) {
  std::unique_ptr<TestCluster> test(new TestCluster());
  test->dir_ = options.dir;
  if (test->dir_.empty()) {
    std::string pattern = "/tmp/paramd-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError("mkdtemp failed");
    }
    test->dir_ = pattern;
    if (options.write_data) options.write_data(test->dir_);
  }
  const std::string config = absl::StrCat(test->dir_, "/cluster.yaml");
  WriteFileOrDie(
      config, absl::StrReplaceAll(options.config_yaml, {{"$DIR", test->dir_}}));
  LocalClusterOptions cluster;
  cluster.config_path = config;
  cluster.bin_dir = PARAMD_BIN_DIR;
  cluster.run_dir = test->dir_;
  cluster.num_workers = options.num_workers;
  cluster.evaluator = options.evaluator;
  cluster.server_flags = options.server_flags;
  cluster.coordinator_flags = options.coordinator_flags;
  PARAMD_ASSIGN_OR_RETURN(test->cluster_, LocalCluster::Start(cluster));
  test->coordinator_ = v1::Coordinator::NewStub(
      MakeChannel(test->cluster_->coordinator_address()));
  return test;
}

std::unique_ptr<v1::ParameterServer::Stub> TestCluster::Server(int shard) {
  absl::StatusOr<std::vector<std::string>> servers = ServerAddresses();
  const std::string address =
      servers.ok() && shard < static_cast<int>(servers->size())
          ? (*servers)[shard]
          : "127.0.0.1:1";
  return v1::ParameterServer::NewStub(MakeChannel(address));
}

absl::StatusOr<v1::GetStatusResponse> TestCluster::Status() {
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(5));
  v1::GetStatusResponse response;
  PARAMD_RETURN_IF_ERROR(FromGrpcStatus(
      coordinator_->GetStatus(&context, v1::GetStatusRequest(), &response)));
  return response;
}

absl::StatusOr<std::vector<std::string>> TestCluster::ServerAddresses() {
  PARAMD_ASSIGN_OR_RETURN(
      v1::GetStatusResponse status,
      WaitFor(
          [](const v1::GetStatusResponse& s) {
            return std::none_of(s.servers().begin(), s.servers().end(),
                                [](const std::string& a) { return a.empty(); });
          },
          absl::Seconds(60)));
  return std::vector<std::string>(status.servers().begin(),
                                  status.servers().end());
}

absl::StatusOr<uint64_t> TestCluster::RegisterTrainer() {
  v1::RegisterWorkerRequest request;
  request.set_host("test");
  request.set_role("trainer");
  v1::RegisterWorkerResponse response;
  PARAMD_RETURN_IF_ERROR(Retry(
      [&] {
        grpc::ClientContext context;
        SetTimeout(&context, absl::Seconds(5));
        return FromGrpcStatus(
            coordinator_->RegisterWorker(&context, request, &response));
      },
      absl::Seconds(60)));
  return response.worker_id();
}

absl::StatusOr<v1::ServerInfoResponse> TestCluster::ServerInfo(int shard) {
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    v1::ServerInfoResponse info;
    last = FromGrpcStatus(
        Server(shard)->GetServerInfo(&context, v1::ServerInfoRequest(), &info));
    if (last.ok()) return info;
  }
  return last;
}

absl::StatusOr<std::vector<std::string>> TestCluster::CrashAndRestart(
    Subprocess* process, const std::function<void()>& before_restart) {
  process->Signal(SIGKILL);
  if (!process->Wait(absl::Seconds(10)).has_value()) {
    return absl::DeadlineExceededError(
        absl::StrCat(process->log_path(), ": still running after SIGKILL"));
  }
  absl::SleepFor(absl::Seconds(1));  // the others retry meanwhile
  if (before_restart) before_restart();
  return cluster_->RestartCrashed();
}

absl::StatusOr<v1::GetStatusResponse> TestCluster::WaitFor(
    const std::function<bool(const v1::GetStatusResponse&)>& done,
    absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  v1::GetStatusResponse last;
  while (absl::Now() < give_up) {
    absl::StatusOr<v1::GetStatusResponse> status = Status();
    if (status.ok()) {
      last = *status;
      if (done(last)) return last;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("condition not met within ", absl::FormatDuration(timeout),
                   "; last status:\n", StatusTable(last), "logs in ", dir_));
}

absl::StatusOr<v1::GetStatusResponse> TestCluster::WaitForJob(
    absl::Duration timeout) {
  const bool evaluating =
      !cluster_->job().eval_path.empty() &&
      cluster_->workers().size() > cluster_->trainers().size();
  return WaitFor(
      [evaluating](const v1::GetStatusResponse& s) {
        return s.done() && (s.eval_final() || !evaluating);
      },
      timeout);
}

int RunParamctl(const std::vector<std::string>& args, const std::string& log,
                std::string* output, absl::Duration timeout) {
  std::vector<std::string> argv = {std::string(PARAMD_BIN_DIR) + "/paramctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto process = Subprocess::Start(argv, log);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return -1;
  const int code = (*process)->Wait(timeout).value_or(-1);
  *output = ReadFileOrEmpty(log);
  return code;
}

}  // namespace testing
}  // namespace paramd
