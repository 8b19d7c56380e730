// TLS, mutual TLS and role tokens on real daemons. Every client that lacks
// what the cluster requires (TLS, a certificate from its CA, a token, a
// live token, a token of the right role) is refused and changes nothing:
// the parameters and the job's ledger are compared before and after. Then
// a whole job trains with all of it on, and no secret shows in any log or
// status. Certificates and tokens come from the project's own scripts.
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/rpc_util.h"
#include "common/tensor.h"
#include "gtest/gtest.h"
#include "tests/cluster/synthetic_data.h"
#include "tests/cluster/test_cluster.h"
#include "tools/status_format.h"
#include "tools/subprocess.h"

namespace paramd {
namespace {

using ::paramd::testing::ReadFileOrEmpty;
using ::paramd::testing::TestCluster;
using ::paramd::testing::TestClusterOptions;
using ::paramd::testing::WriteFileOrDie;
namespace v1 = ::paramd::v1;

constexpr char kConfig[] = R"(
job: {name: secure, consistency: asp, epochs: 8, batch_size: 16,
      heartbeat_interval_s: 0.5}
cluster: {num_servers: 2}
data: {train: $DIR/train-*.svm}
model: {type: logreg}
optimizer: {kind: sgd, learning_rate: 0.1}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
checkpoint: {dir: $DIR/checkpoints}
security:
  tls_cert: sec/node.crt
  tls_key: sec/node.key
  tls_ca: sec/ca.crt
  mutual_tls: true
  tokens: sec/tokens
  worker_token: sec/worker.token
  server_token: sec/server.token
  admin_token: sec/admin.token
)";

// Tokens the test adds to the accepted list beside the scripts' three.
constexpr char kExpired[] = "expired-worker-token-0123456789abcdef";
constexpr char kRevoked[] = "revoked-worker-token-0123456789abcdef";

void Shell(const std::string& command) {
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

std::string Token(const std::string& dir, const std::string& role) {
  return std::string(absl::StripAsciiWhitespace(
      ReadFileOrEmpty(absl::StrCat(dir, "/sec/", role, ".token"))));
}

// The Prometheus page of the coordinator, or of every other daemon, by
// their metrics port files.
std::vector<std::pair<std::string, std::string>> MetricsPages(
    const std::string& dir, bool coordinator) {
  std::vector<std::pair<std::string, std::string>> pages;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string path = entry.path().string();
    if (entry.path().extension() != ".metrics_port") continue;
    if ((entry.path().stem() == "coordinator") != coordinator) continue;
    Shell(absl::StrCat(
        "/usr/bin/python3 -c \"import urllib.request; "
        "print(urllib.request.urlopen('http://127.0.0.1:",
        absl::StripAsciiWhitespace(ReadFileOrEmpty(path)),
        "/metrics', timeout=10).read().decode())\" > ", path, ".page"));
    pages.emplace_back(path, ReadFileOrEmpty(path + ".page"));
    EXPECT_TRUE(absl::StrContains(pages.back().second, "# TYPE paramd_"))
        << path;
  }
  return pages;
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestClusterOptions options;
    options.config_yaml = kConfig;
    options.write_data = [](const std::string& dir) {
      testing::WriteSeparableData(dir, 4, 300, /*eval_count=*/0, /*seed=*/3);
      const std::string sec = dir + "/sec";
      Shell(absl::StrCat(PARAMD_SOURCE_DIR, "/scripts/make-certs.sh ", sec,
                         " >/dev/null"));
      Shell(absl::StrCat(PARAMD_SOURCE_DIR, "/scripts/make-tokens.sh ", sec,
                         " >/dev/null"));
      // A second CA, and a client certificate it signed.
      Shell(absl::StrCat(PARAMD_SOURCE_DIR, "/scripts/make-certs.sh ", dir,
                         "/other >/dev/null"));
      const std::string tokens = ReadFileOrEmpty(sec + "/tokens");
      WriteFileOrDie(sec + "/tokens",
                     absl::StrCat(tokens, "worker ", kExpired,
                                  " expires=2020-01-01T00:00:00Z\n", "worker ",
                                  kRevoked, "\n"));
    };
    auto cluster = TestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    dir_ = cluster_->dir();
    auto servers = cluster_->ServerAddresses();
    ASSERT_TRUE(servers.ok()) << servers.status();
    servers_ = *servers;
  }

  std::string Pem(const std::string& path) {
    return ReadFileOrEmpty(absl::StrCat(dir_, "/", path));
  }

  // TLS trusting `ca`, presenting `cert` (a folder with node.crt and
  // node.key) unless empty, with `token` unless empty.
  std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& ca,
                                                const std::string& cert,
                                                const std::string& token) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Pem(ca);
    if (!cert.empty()) {
      options.pem_cert_chain = Pem(cert + "/node.crt");
      options.pem_private_key = Pem(cert + "/node.key");
    }
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        grpc::SslCredentials(options);
    if (token.empty()) return credentials;
    return grpc::CompositeChannelCredentials(
        credentials, grpc::AccessTokenCredentials(token));
  }

  // What a client of the cluster presents: a role's token over proper mTLS.
  std::shared_ptr<grpc::ChannelCredentials> As(const std::string& role) {
    return Tls("sec/ca.crt", "sec", Token(dir_, role));
  }

  std::unique_ptr<v1::ParameterServer::Stub> Server(
      int shard, std::shared_ptr<grpc::ChannelCredentials> credentials) {
    return v1::ParameterServer::NewStub(
        grpc::CreateChannel(servers_[shard], credentials));
  }
  std::unique_ptr<v1::Coordinator::Stub> Coordinator(
      std::shared_ptr<grpc::ChannelCredentials> credentials) {
    return v1::Coordinator::NewStub(grpc::CreateChannel(
        cluster_->cluster().coordinator_address(), credentials));
  }

  // Registers a trainer with a worker token; waits until shard 0 takes its
  // (empty) pushes.
  void RegisterTrainer() {
    auto coordinator = Coordinator(As("worker"));
    v1::RegisterWorkerRequest request;
    request.set_host("security-test");
    request.set_role("trainer");
    v1::RegisterWorkerResponse response;
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    grpc::Status registered;
    do {
      grpc::ClientContext context;
      SetTimeout(&context, absl::Seconds(5));
      registered = coordinator->RegisterWorker(&context, request, &response);
    } while (!registered.ok() && absl::Now() < give_up);
    ASSERT_TRUE(registered.ok()) << registered.error_message();
    worker_id_ = response.worker_id();
    while (absl::Now() < give_up) {
      if (Push(As("worker"), {}).ok()) return;
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "shard 0 never took a push from worker " << worker_id_;
  }

  // Pushes `bias` += -lr * gradient to shard 0 as the registered trainer.
  grpc::Status Push(std::shared_ptr<grpc::ChannelCredentials> credentials,
                    std::vector<float> gradient) {
    v1::PushRequest request;
    request.set_worker_id(worker_id_);
    request.set_clock(next_clock_++);
    if (!gradient.empty()) {
      v1::TableSlice* slice = request.add_slices();
      slice->set_table("bias");
      slice->set_offset(0);
      slice->set_length(gradient.size());
      AppendFloats(gradient, slice->mutable_values());
    }
    v1::PushResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    return Server(BiasShard(), credentials)->Push(&context, request, &response);
  }

  // The shard holding the one-element dense table `bias`.
  int BiasShard() {
    for (int shard = 0; shard < 2; ++shard) {
      auto info = cluster_->ServerInfo(shard);
      if (!info.ok()) continue;
      auto bias = info->table_sizes().find("bias");
      if (bias != info->table_sizes().end() && bias->second > 0) return shard;
    }
    return 0;
  }

  // The parameters and the ledger, as an admin sees them.
  std::string Snapshot() {
    std::string snapshot;
    for (int shard = 0; shard < 2; ++shard) {
      auto info = cluster_->ServerInfo(shard);
      EXPECT_TRUE(info.ok()) << info.status();
      if (info.ok()) {
        absl::StrAppend(&snapshot, "shard ", shard, " v", info->version(), " g",
                        info->generation(), "; ");
      }
    }
    v1::PullRequest pull;
    pull.set_clock(-1);
    v1::TableSlice* slice = pull.add_slices();
    slice->set_table("bias");
    slice->set_offset(0);
    slice->set_length(1);
    v1::PullResponse values;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    const grpc::Status pulled =
        Server(BiasShard(), As("admin"))->Pull(&context, pull, &values);
    EXPECT_TRUE(pulled.ok()) << pulled.error_message();
    if (values.slices_size() > 0) {
      absl::StrAppend(&snapshot, "bias ",
                      absl::CHexEscape(values.slices(0).values()), "; ");
    }
    auto status = cluster_->Status();
    EXPECT_TRUE(status.ok()) << status.status();
    if (status.ok()) {
      absl::StrAppend(&snapshot, "workers ", status->workers_size(), " leases ",
                      status->leases_size(), " checkpoints ",
                      status->checkpoints_size(), " servers ",
                      absl::StrJoin(status->servers(), ","), " epochs ");
      for (const v1::EpochStatus& epoch : status->epochs_status()) {
        absl::StrAppend(&snapshot, epoch.shards_done(), "/",
                        epoch.completions(), " ");
      }
    }
    return snapshot;
  }

  std::unique_ptr<TestCluster> cluster_;
  std::string dir_;
  std::vector<std::string> servers_;
  uint64_t worker_id_ = 0;
  int64_t next_clock_ = 0;
};

// A call that would change the job if it were let through.
struct Attempt {
  std::string what;
  std::function<grpc::Status()> call;
  grpc::StatusCode expected;
};

TEST_F(SecurityTest, EveryClientWithoutTheRightCredentialsIsRefused) {
  ASSERT_NO_FATAL_FAILURE(RegisterTrainer());
  auto register_server = [&](std::shared_ptr<grpc::ChannelCredentials> c) {
    v1::RegisterServerRequest request;
    request.set_address("127.0.0.1:1");
    request.set_shard(0);
    v1::RegisterServerResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    return Coordinator(c)->RegisterServer(&context, request, &response);
  };
  auto checkpoint = [&](std::shared_ptr<grpc::ChannelCredentials> c) {
    v1::CheckpointResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    return Coordinator(c)->Checkpoint(&context, v1::CheckpointRequest(),
                                      &response);
  };
  auto push = [&](std::shared_ptr<grpc::ChannelCredentials> c) {
    return Push(c, {1.0f});
  };
  auto server_info = [&](std::shared_ptr<grpc::ChannelCredentials> c) {
    v1::ServerInfoResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    return Server(0, c)->GetServerInfo(&context, v1::ServerInfoRequest(),
                                       &response);
  };
  auto list_keys = [&](std::shared_ptr<grpc::ChannelCredentials> c) {
    v1::ListKeysRequest request;
    request.set_table("w");
    v1::ListKeysResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    return Server(0, c)->ListKeys(&context, request, &response);
  };
  auto complete = [&](std::shared_ptr<grpc::ChannelCredentials> c) {
    v1::CompleteShardRequest request;
    request.set_worker_id(worker_id_);
    request.set_lease_id(1);
    v1::CompleteShardResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    return Coordinator(c)->CompleteShard(&context, request, &response);
  };
  const std::string worker = Token(dir_, "worker");
  const std::vector<Attempt> attempts = {
      // The handshake fails: no call reaches a daemon.
      {"a plaintext client",
       [&] { return push(grpc::InsecureChannelCredentials()); },
       grpc::UNAVAILABLE},
      {"a client trusting another CA",
       [&] { return push(Tls("other/ca.crt", "sec", worker)); },
       grpc::UNAVAILABLE},
      {"a client without a certificate under mTLS",
       [&] { return push(Tls("sec/ca.crt", "", worker)); }, grpc::UNAVAILABLE},
      {"a client certificate from another CA",
       [&] { return push(Tls("sec/ca.crt", "other", worker)); },
       grpc::UNAVAILABLE},
      // TLS is right; the token is not.
      {"no token", [&] { return push(Tls("sec/ca.crt", "sec", "")); },
       grpc::UNAUTHENTICATED},
      {"no token, registering a server",
       [&] { return register_server(Tls("sec/ca.crt", "sec", "")); },
       grpc::UNAUTHENTICATED},
      {"a wrong token",
       [&] {
         return push(Tls("sec/ca.crt", "sec", "not-a-token-0123456789abcdef"));
       },
       grpc::UNAUTHENTICATED},
      {"an expired token",
       [&] { return push(Tls("sec/ca.crt", "sec", kExpired)); },
       grpc::UNAUTHENTICATED},
      {"a worker token registering a server",
       [&] { return register_server(As("worker")); }, grpc::PERMISSION_DENIED},
      {"a worker token ordering a checkpoint",
       [&] { return checkpoint(As("worker")); }, grpc::PERMISSION_DENIED},
      {"a server token pushing", [&] { return push(As("server")); },
       grpc::PERMISSION_DENIED},
      {"an admin token pushing", [&] { return push(As("admin")); },
       grpc::PERMISSION_DENIED},
      {"a worker token reading server info",
       [&] { return server_info(As("worker")); }, grpc::PERMISSION_DENIED},
      {"a worker token listing keys", [&] { return list_keys(As("worker")); },
       grpc::PERMISSION_DENIED},
      {"a server token completing a shard",
       [&] { return complete(As("server")); }, grpc::PERMISSION_DENIED},
      {"an admin token completing a shard",
       [&] { return complete(As("admin")); }, grpc::PERMISSION_DENIED},
  };
  const std::string before = Snapshot();
  for (const Attempt& attempt : attempts) {
    const grpc::Status status = attempt.call();
    EXPECT_EQ(status.error_code(), attempt.expected)
        << attempt.what << ": " << status.error_message();
    EXPECT_FALSE(absl::StrContains(status.error_message(), worker))
        << attempt.what;
  }
  EXPECT_EQ(Snapshot(), before);

  // The same push with the right credentials does change the job.
  ASSERT_TRUE(push(As("worker")).ok());
  EXPECT_NE(Snapshot(), before);
}

TEST_F(SecurityTest, ATokenRemovedFromTheListIsRefusedAfterSighup) {
  ASSERT_NO_FATAL_FAILURE(RegisterTrainer());
  auto revoked = Tls("sec/ca.crt", "sec", kRevoked);
  ASSERT_TRUE(Push(revoked, {}).ok());
  // A broken list is not loaded: the servers keep the tokens they had.
  const std::string path = dir_ + "/sec/tokens";
  const std::string good = ReadFileOrEmpty(path);
  WriteFileOrDie(path, "worker short\n");
  for (const auto& server : cluster_->cluster().servers()) {
    server->Signal(SIGHUP);
  }
  for (const auto& server : cluster_->cluster().servers()) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (!absl::StrContains(ReadFileOrEmpty(server->log_path()),
                              "tokens not reloaded") &&
           absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(server->log_path()),
                                  "/sec/tokens:1: token shorter"))
        << server->log_path();
  }
  ASSERT_TRUE(Push(revoked, {}).ok());
  // Revoke: drop its line, then SIGHUP the servers.
  std::string kept;
  for (absl::string_view line : absl::StrSplit(good, '\n', absl::SkipEmpty())) {
    if (!absl::StrContains(line, kRevoked)) absl::StrAppend(&kept, line, "\n");
  }
  WriteFileOrDie(path, kept);
  for (const auto& server : cluster_->cluster().servers()) {
    server->Signal(SIGHUP);
  }
  const std::string before = Snapshot();
  grpc::Status refused;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  do {  // empty pushes until the reload, then a real one
    absl::SleepFor(absl::Milliseconds(100));
    refused = Push(revoked, {});
  } while (refused.ok() && absl::Now() < give_up);
  EXPECT_EQ(refused.error_code(), grpc::UNAUTHENTICATED)
      << refused.error_message();
  refused = Push(revoked, {1.0f});
  EXPECT_EQ(refused.error_code(), grpc::UNAUTHENTICATED)
      << refused.error_message();
  EXPECT_EQ(Snapshot(), before);
  EXPECT_TRUE(Push(As("worker"), {}).ok());
  for (const auto& server : cluster_->cluster().servers()) {
    EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(server->log_path()),
                                  "SIGHUP: tokens reloaded"));
  }
}

TEST_F(SecurityTest, AJobTrainsWithEverythingOnAndNoSecretLeaks) {
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(cluster_->cluster().AddWorker("trainer").ok());
  }
  ASSERT_TRUE(
      cluster_
          ->WaitFor(
              [](const v1::GetStatusResponse& s) { return s.examples() > 0; },
              absl::Seconds(60))
          .ok());
  // Scraped while every daemon runs: trainers exit once the job is done,
  // so the coordinator is stopped meanwhile (the trainers wait for it).
  Subprocess* coordinator = cluster_->cluster().coordinator();
  coordinator->Signal(SIGSTOP);
  std::vector<std::pair<std::string, std::string>> outputs =
      MetricsPages(dir_, /*coordinator=*/false);
  coordinator->Signal(SIGCONT);
  for (auto& page : MetricsPages(dir_, /*coordinator=*/true)) {
    outputs.push_back(std::move(page));
  }
  auto status = cluster_->WaitForJob(absl::Seconds(120));
  ASSERT_TRUE(status.ok()) << status.status();
  for (const v1::EpochStatus& epoch : status->epochs_status()) {
    EXPECT_EQ(epoch.shards_done(), 4);
    EXPECT_EQ(epoch.completions(), 4);
  }
  std::vector<std::string> secrets = {kExpired, kRevoked};
  for (const char* role : {"worker", "server", "admin"}) {
    secrets.push_back(Token(dir_, role));
  }
  // The private key's body (its base64 lines).
  for (absl::string_view line : absl::StrSplit(Pem("sec/node.key"), '\n')) {
    if (!line.empty() && !absl::StartsWith(line, "-----")) {
      secrets.emplace_back(line);
    }
  }
  outputs.emplace_back("status table", StatusTable(*status));
  outputs.emplace_back("status json", StatusJson(*status));
  outputs.emplace_back("summary", SummaryJson(*status, RunFacts{}));
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().extension() == ".log") {
      outputs.emplace_back(entry.path().string(),
                           ReadFileOrEmpty(entry.path().string()));
    }
  }
  // The coordinator, 2 servers and 2 trainers: logs and metrics.
  ASSERT_GE(outputs.size(), 12u);
  for (const auto& [name, text] : outputs) {
    for (const std::string& secret : secrets) {
      EXPECT_FALSE(absl::StrContains(text, secret)) << name;
    }
  }
}

// Without TLS a daemon listens beyond loopback only when told --insecure,
// and then warns.
TEST(SafeDefaultsTest, PlaintextBeyondLoopbackNeedsInsecure) {
  std::string dir = "/tmp/paramd-safe-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  WriteFileOrDie(dir + "/train-0.svm", "1 1:1\n");
  WriteFileOrDie(dir + "/job.yaml", absl::StrCat(R"(
job: {name: safe}
data: {train: )",
                                                 dir, R"(/train-*.svm}
model: {type: logreg}
tables: [{name: w, type: sparse, width: 1}]
)"));
  const std::vector<std::string> argv = {
      absl::StrCat(PARAMD_BIN_DIR, "/paramd-coordinator"),
      absl::StrCat("--config=", dir, "/job.yaml"), "--host=0.0.0.0", "--port=0",
      absl::StrCat("--port_file=", dir, "/port")};
  auto refused = Subprocess::Start(argv, dir + "/refused.log");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ((*refused)->Wait(absl::Seconds(20)), 1);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir + "/refused.log"),
                                "refusing to listen on 0.0.0.0 without TLS"))
      << ReadFileOrEmpty(dir + "/refused.log");

  std::vector<std::string> insecure = argv;
  insecure.push_back("--insecure");
  auto started = Subprocess::Start(insecure, dir + "/insecure.log");
  ASSERT_TRUE(started.ok());
  auto port = WaitForPortFile(dir + "/port", started->get(), absl::Seconds(20));
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir + "/insecure.log"),
                                "WITHOUT TLS (--insecure)"));
  (*started)->Stop(absl::Seconds(10));
}

}  // namespace
}  // namespace paramd
