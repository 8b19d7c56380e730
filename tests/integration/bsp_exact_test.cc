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

class BspExactTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    TestClusterOptions options;
    options.config_yaml = kConfig;
    options.config_yaml.replace(options.config_yaml.find("COMBINE"), 7,
                                GetParam());
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

}  // namespace
}  // namespace paramd
