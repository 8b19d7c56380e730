// Load with nothing lost: 16 workers push known integer gradients to two
// real parameter servers, under asp and under bsp, with and without a
// server answering a fifth of the pushes it applied UNAVAILABLE (as if the
// reply were lost, so the client retries them). Afterwards every parameter
// equals the exact expected sum, and each server's peak RSS stays bounded.
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/barrier.h"
#include "common/config.h"
#include "gtest/gtest.h"
#include "tests/cluster/synthetic_data.h"
#include "tests/cluster/test_cluster.h"
#include "worker/ps_client.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
using ::paramd::testing::TestClusterOptions;

constexpr int kWorkers = 16;
constexpr int kClocks = 25;
constexpr int kDense = 4096;
constexpr uint64_t kKeys[] = {1, 2, 3, 1000003, 77, 4242};
// Far above what two shards of these tables need, far below a leak's.
constexpr int64_t kMaxPeakRssKib = 256 << 10;  // ASan builds use ~3x

constexpr char kConfig[] = R"(
job: {name: load, consistency: CONSISTENCY, combine: sum, lease_timeout_s: 600}
cluster: {num_servers: 2}
data: {train: $DIR/unused-*.svm}
model: {type: logreg}
optimizer: {kind: sgd, learning_rate: 1}
tables:
  - {name: dense, type: dense, shape: [4096]}
  - {name: rows, type: sparse, width: 3}
)";

// Small integers: every sum is exact in float.
float Grad(int w, int c, int i) { return static_cast<float>((w + c + i) % 7); }

Params Gradients(int w, int c) {
  Params grads;
  std::vector<float>& dense = grads.dense["dense"];
  for (int i = 0; i < kDense; ++i) dense.push_back(Grad(w, c, i));
  SparseRows rows(3);
  for (uint64_t key : kKeys) {
    rows.Add(key);
    absl::Span<float> row = rows.Row(key);
    for (int j = 0; j < 3; ++j) row[j] = Grad(w, c, j + static_cast<int>(key));
  }
  grads.sparse["rows"] = rows;
  return grads;
}

ParamRequest Everything() {
  ParamRequest request;
  request.dense.insert("dense");
  request.sparse["rows"] = {std::begin(kKeys), std::end(kKeys)};
  return request;
}

// The peak resident set of process `pid` (VmHWM), in KiB; -1 if unknown.
int64_t PeakRssKib(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

class LoadTest
    : public ::testing::TestWithParam<std::tuple<const char*, double>> {
 protected:
  void SetUp() override {
    TestClusterOptions options;
    options.config_yaml = absl::StrReplaceAll(
        kConfig, {{"CONSISTENCY", std::get<0>(GetParam())}});
    options.write_data = [](const std::string& dir) {
      testing::WriteFileOrDie(dir + "/unused-0.svm", "1 1:1\n");
    };
    options.server_flags = {
        absl::StrCat("--TEST_drop_replies=", std::get<1>(GetParam()))};
    auto cluster = TestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    job_ = cluster_->cluster().job();
    auto servers = cluster_->ServerAddresses();
    ASSERT_TRUE(servers.ok()) << servers.status();
    servers_ = *servers;
  }

  std::unique_ptr<PsClient> Client(uint64_t worker_id) {
    return std::make_unique<PsClient>(job_, servers_, worker_id,
                                      absl::Seconds(30), absl::Seconds(60),
                                      nullptr);
  }

  std::unique_ptr<TestCluster> cluster_;
  JobConfig job_;
  std::vector<std::string> servers_;
};

TEST_P(LoadTest, EveryGradientLandsExactlyOnce) {
  std::vector<uint64_t> ids;
  for (int w = 0; w < kWorkers; ++w) {
    auto id = cluster_->RegisterTrainer();
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  // Under bsp every worker joins round 0 before any pushes.
  absl::Barrier* joined = new absl::Barrier(kWorkers);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      std::unique_ptr<PsClient> client = Client(ids[w]);
      int64_t clock = 0;
      for (int c = 0; c < kClocks; ++c) {
        Params params;
        auto pulled = client->Pull(clock, Everything(), &params);
        ASSERT_TRUE(pulled.ok()) << pulled.status();
        ASSERT_EQ(*pulled, c);
        if (c == 0 && joined->Block()) delete joined;
        auto next = client->Push(c, Gradients(w, c));
        ASSERT_TRUE(next.ok()) << next.status();
        clock = *next;
      }
      ASSERT_TRUE(client->Leave(clock).ok());
    });
  }
  for (std::thread& t : threads) t.join();

  Params values;
  ASSERT_TRUE(Client(0)->Pull(-1, Everything(), &values).ok());
  int wrong = 0;
  for (int i = 0; i < kDense; ++i) {
    double sum = 0;
    for (int w = 0; w < kWorkers; ++w) {
      for (int c = 0; c < kClocks; ++c) sum += Grad(w, c, i);
    }
    wrong += values.dense["dense"][i] != static_cast<float>(-sum);
  }
  EXPECT_EQ(wrong, 0) << "dense elements off their exact sum";
  for (uint64_t key : kKeys) {
    auto row = values.sparse["rows"].Row(key);
    ASSERT_EQ(row.size(), 3u);
    for (int j = 0; j < 3; ++j) {
      double sum = 0;
      for (int w = 0; w < kWorkers; ++w) {
        for (int c = 0; c < kClocks; ++c) {
          sum += Grad(w, c, j + static_cast<int>(key));
        }
      }
      EXPECT_EQ(row[j], static_cast<float>(-sum)) << "key " << key;
    }
  }
  for (const auto& server : cluster_->cluster().servers()) {
    const int64_t peak = PeakRssKib(server->pid());
    EXPECT_GT(peak, 0);
    EXPECT_LT(peak, kMaxPeakRssKib) << server->log_path();
    std::cerr << "peak RSS of " << server->log_path() << ": " << peak
              << " KiB\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Consistency, LoadTest,
                         ::testing::Combine(::testing::Values("asp", "bsp"),
                                            ::testing::Values(0.0, 0.2)),
                         [](const auto& info) {
                           return absl::StrCat(std::get<0>(info.param),
                                               std::get<1>(info.param) > 0
                                                   ? "_dropped_replies"
                                                   : "");
                         });

// A whole job where a quarter of the coordinator's replies to workers and
// a tenth of the servers' push replies are lost: every shard is still
// trained exactly once an epoch, no lease is granted that its worker never
// learned of, and no worker gets a second id.
TEST(LostRepliesTest, AJobWithLostRepliesKeepsAnExactLedger) {
  constexpr int kShards = 6;
  constexpr int kPerShard = 300;
  TestClusterOptions options;
  options.config_yaml = R"(
job: {name: lost-replies, consistency: bsp, epochs: 2, batch_size: 8,
      lease_timeout_s: 5, heartbeat_interval_s: 0.25}
cluster: {num_servers: 2}
data: {train: $DIR/train-*.svm, eval: $DIR/eval.svm}
model: {type: logreg}
optimizer: {kind: adagrad, learning_rate: 0.5, initial_accumulator: 0.1}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
)";
  options.num_workers = 2;
  options.evaluator = true;
  options.write_data = [](const std::string& dir) {
    testing::WriteSeparableData(dir, kShards, kPerShard, /*eval_count=*/200,
                                /*seed=*/3);
  };
  options.coordinator_flags = {"--TEST_drop_replies=0.25"};
  options.server_flags = {"--TEST_drop_replies=0.1"};
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto status = (*cluster)->WaitForJob(absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->epochs_status_size(), 2);
  for (const auto& epoch : status->epochs_status()) {
    EXPECT_EQ(epoch.shards_done(), kShards);
    EXPECT_EQ(epoch.completions(), kShards) << "a shard counted twice";
    EXPECT_EQ(epoch.examples(), uint64_t{kShards} * kPerShard);
  }
  EXPECT_EQ(status->expired_leases(), 0) << "a lost grant was renewed";
  EXPECT_EQ(status->workers_size(), 3) << "a retried registration";
  ASSERT_EQ(status->eval().count("eval_accuracy"), 1u);
  // It learned (chance is 0.5; unloaded runs reach 0.95).
  EXPECT_GT(status->eval().at("eval_accuracy"), 0.7);
}

}  // namespace
}  // namespace paramd
