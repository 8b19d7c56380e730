// Under bsp with sgd and learning rate 1, workers pushing known gradients
// through real parameter servers leave exactly the expected values: nothing
// lost, nothing applied twice.
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "common/config.h"
#include "common/grpc_status.h"
#include "common/rpc_util.h"
#include "gtest/gtest.h"
#include "tests/cluster/test_cluster.h"
#include "worker/ps_client.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
using ::paramd::testing::TestClusterOptions;
namespace v1 = ::paramd::v1;

constexpr int kWorkers = 3;
constexpr int kClocks = 4;
constexpr int kDense = 10;
constexpr uint64_t kKeys[] = {3, 17, 1000003, 42};

constexpr char kConfig[] = R"(
job:
  name: bsp-exact
  consistency: bsp
  combine: COMBINE
  lease_timeout_s: 60
cluster:
  num_servers: 2
data:
  train: $DIR/unused-*.svm
model:
  type: logreg
optimizer:
  kind: sgd
  learning_rate: 1
tables:
  - {name: dense, type: dense, shape: [2, 5]}
  - {name: rows, type: sparse, width: 2}
)";

// The gradient worker w pushes at clock c: small integers, exact in float.
float Grad(int w, int c, int i) {
  return static_cast<float>((w + 1) * (c + 1) + i);
}

Params Gradients(int w, int c) {
  Params grads;
  std::vector<float>& dense = grads.dense["dense"];
  for (int i = 0; i < kDense; ++i) dense.push_back(Grad(w, c, i));
  SparseRows rows(2);
  for (uint64_t key : kKeys) {
    auto row = rows.RowAt(rows.Add(key));
    row[0] = Grad(w, c, 0);
    row[1] = Grad(w, c, 1) * 2;
  }
  grads.sparse["rows"] = rows;
  return grads;
}

ParamRequest Everything() {
  ParamRequest request;
  request.dense.insert("dense");
  request.sparse["rows"] = {3, 17, 42, 1000003};
  return request;
}

uint64_t RegisterWorker(v1::Coordinator::Stub* coordinator) {
  v1::RegisterWorkerRequest request;
  request.set_host("test");
  request.set_role("trainer");
  v1::RegisterWorkerResponse response;
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(5));
  EXPECT_TRUE(coordinator->RegisterWorker(&context, request, &response).ok());
  return response.worker_id();
}

// A 2-server bsp cluster combining rounds by `combine` ("sum" or "mean").
class BspCluster : public ::testing::Test {
 protected:
  void StartCluster(const std::string& combine) {
    TestClusterOptions options;
    options.config_yaml = kConfig;
    options.config_yaml.replace(options.config_yaml.find("COMBINE"), 7,
                                combine);
    options.write_data = [](const std::string& dir) {
      testing::WriteFileOrDie(dir + "/unused-0.svm", "1 1:1\n");
    };
    auto cluster = TestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    job_ = cluster_->cluster().job();  // as the coordinator loaded it
    auto servers = cluster_->ServerAddresses();
    ASSERT_TRUE(servers.ok()) << servers.status();
    servers_ = *servers;
  }

  std::unique_ptr<PsClient> Client(uint64_t worker_id) {
    return std::make_unique<PsClient>(job_, servers_, worker_id,
                                      absl::Seconds(30), absl::Seconds(30),
                                      [this] { return stop_.load(); });
  }

  std::unique_ptr<TestCluster> cluster_;
  JobConfig job_;
  std::vector<std::string> servers_;
  std::atomic<bool> stop_{false};
};

class BspExactTest : public BspCluster,
                     public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override { StartCluster(GetParam()); }
};

TEST_P(BspExactTest, EveryGradientAppliedExactlyOnce) {
  const bool mean = std::string(GetParam()) == "mean";
  std::vector<uint64_t> ids;
  for (int w = 0; w < kWorkers; ++w) {
    ids.push_back(RegisterWorker(cluster_->coordinator()));
  }
  // Every worker joins round 0 (by pulling at clock 0) before any pushes,
  // so each round has all of them and the mean divides by kWorkers.
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
        clock = *pulled;
        ASSERT_EQ(clock, c);
        if (c == 0 && joined->Block()) delete joined;
        auto next = client->Push(clock, Gradients(w, c));
        ASSERT_TRUE(next.ok()) << next.status();
        // A retried push (same clock, as after a lost reply) is ignored.
        ASSERT_TRUE(client->Push(clock, Gradients(w, c)).ok());
        clock = *next;
      }
      ASSERT_TRUE(client->Leave(clock).ok());
    });
  }
  for (std::thread& t : threads) t.join();

  Params final_values;
  ASSERT_TRUE(Client(0)->Pull(-1, Everything(), &final_values).ok());
  for (int i = 0; i < kDense; ++i) {
    double sum = 0;
    for (int w = 0; w < kWorkers; ++w) {
      for (int c = 0; c < kClocks; ++c) sum += Grad(w, c, i);
    }
    const double expected = mean ? -sum / kWorkers : -sum;
    EXPECT_FLOAT_EQ(final_values.dense["dense"][i], expected)
        << "element " << i;
  }
  for (uint64_t key : kKeys) {
    double sum0 = 0, sum1 = 0;
    for (int w = 0; w < kWorkers; ++w) {
      for (int c = 0; c < kClocks; ++c) {
        sum0 += Grad(w, c, 0);
        sum1 += Grad(w, c, 1) * 2;
      }
    }
    auto row = final_values.sparse["rows"].Row(key);
    ASSERT_EQ(row.size(), 2u) << "key " << key;
    EXPECT_FLOAT_EQ(row[0], mean ? -sum0 / kWorkers : -sum0) << "key " << key;
    EXPECT_FLOAT_EQ(row[1], mean ? -sum1 / kWorkers : -sum1) << "key " << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Combine, BspExactTest,
                         ::testing::Values("sum", "mean"));

class BspRepairTest : public BspCluster {
 protected:
  void SetUp() override { StartCluster("sum"); }
};

// Worker 0's leave reaches server 1 alone (as a leave whose reply was lost
// and that arrived late would): server 1 dropped it from its barrier, and
// worker 1 closes round 0 there alone. Worker 0's next step is then not due
// on server 1 while server 0 takes it. The client rejoins server 1 at its
// version and pushes the step there again, so both shards apply every
// gradient exactly once, and server 1 counts the refusal.
TEST_F(BspRepairTest, AStepRefusedAsNotDueOnOneServerIsPushedThereAgain) {
  const uint64_t ids[] = {RegisterWorker(cluster_->coordinator()),
                          RegisterWorker(cluster_->coordinator())};
  std::unique_ptr<PsClient> clients[] = {Client(ids[0]), Client(ids[1])};
  int64_t clocks[] = {0, 0};
  for (int w = 0; w < 2; ++w) {
    Params params;
    auto pulled = clients[w]->Pull(0, Everything(), &params);
    ASSERT_TRUE(pulled.ok()) << pulled.status();
  }
  {
    v1::PushRequest leave;
    leave.set_worker_id(ids[0]);
    leave.set_leave(true);
    v1::PushResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    ASSERT_TRUE(cluster_->Server(1)->Push(&context, leave, &response).ok());
  }
  std::vector<Params> pushed[2];
  auto step = [&](int w) {
    const int c = static_cast<int>(pushed[w].size());
    Params params;
    auto pulled = clients[w]->Pull(clocks[w], Everything(), &params);
    ASSERT_TRUE(pulled.ok()) << pulled.status();
    pushed[w].push_back(Gradients(w, c));
    auto next = clients[w]->Push(*pulled, pushed[w].back());
    ASSERT_TRUE(next.ok()) << next.status();
    clocks[w] = *next;
  };
  // Worker 1 first: server 1 closes round 0 without worker 0.
  {
    auto next = clients[1]->Push(0, Gradients(1, 0));
    ASSERT_TRUE(next.ok()) << next.status();
    pushed[1].push_back(Gradients(1, 0));
    clocks[1] = *next;
  }
  {
    auto next = clients[0]->Push(0, Gradients(0, 0));
    ASSERT_TRUE(next.ok()) << next.status();
    pushed[0].push_back(Gradients(0, 0));
    clocks[0] = *next;
  }
  std::thread other([&] {
    for (int c = 1; c < kClocks; ++c) step(1);
    ASSERT_TRUE(clients[1]->Leave(clocks[1]).ok());
  });
  for (int c = 1; c < kClocks; ++c) step(0);
  ASSERT_TRUE(clients[0]->Leave(clocks[0]).ok());
  other.join();

  Params final_values;
  ASSERT_TRUE(Client(0)->Pull(-1, Everything(), &final_values).ok());
  std::vector<float> expected(kDense, 0);
  for (int w = 0; w < 2; ++w) {
    for (const Params& grads : pushed[w]) {
      for (int i = 0; i < kDense; ++i)
        expected[i] -= grads.dense.at("dense")[i];
    }
  }
  for (int i = 0; i < kDense; ++i) {
    EXPECT_FLOAT_EQ(final_values.dense["dense"][i], expected[i])
        << "element " << i << " (server " << (i < kDense / 2 ? 0 : 1) << ")";
  }
  auto info0 = cluster_->ServerInfo(0);
  auto info1 = cluster_->ServerInfo(1);
  ASSERT_TRUE(info0.ok() && info1.ok());
  EXPECT_EQ(info0->not_due_pushes(), 0);
  EXPECT_EQ(info1->not_due_pushes(), 1);
}

}  // namespace
}  // namespace paramd
