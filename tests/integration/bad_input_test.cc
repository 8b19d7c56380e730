// Bad input reaching real daemons gets a clear error naming what is wrong
// and changes nothing: invalid requests to a parameter server, requests from
// unknown workers to the coordinator, and an invalid cluster YAML.
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/rpc_util.h"
#include "common/shard_map.h"
#include "common/tensor.h"
#include "gtest/gtest.h"
#include "tests/cluster/test_cluster.h"
#include "tools/subprocess.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
using ::paramd::testing::TestClusterOptions;
namespace v1 = ::paramd::v1;

constexpr char kConfig[] = R"(
job: {name: bad-input, consistency: asp}
cluster: {num_servers: 2}
data: {train: $DIR/train-*.svm}
model: {type: logreg}
optimizer: {kind: sgd, learning_rate: 1}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
  - {name: big, type: dense, shape: [4, 3]}
)";

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestClusterOptions options;
    options.config_yaml = kConfig;
    options.write_data = [](const std::string& dir) {
      testing::WriteFileOrDie(dir + "/train-0.svm", "1 1:1\n");
    };
    auto cluster = TestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    shard0_ = cluster_->Server(0);
  }

  grpc::Status Push(const v1::TableSlice& slice) {
    v1::PushRequest request;
    request.set_worker_id(1);
    request.set_clock(next_clock_++);
    *request.add_slices() = slice;
    v1::PushResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    return shard0_->Push(&context, request, &response);
  }

  // The values of "big" held by shard 0 (its range is [0, 6)).
  std::string BigValues() {
    v1::PullRequest request;
    request.set_clock(-1);
    v1::TableSlice* slice = request.add_slices();
    slice->set_table("big");
    slice->set_offset(0);
    slice->set_length(6);
    v1::PullResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    EXPECT_TRUE(shard0_->Pull(&context, request, &response).ok());
    return response.slices_size() ? response.slices(0).values() : "";
  }

  static v1::TableSlice Dense(const std::string& table, uint64_t offset,
                              std::vector<float> values) {
    v1::TableSlice slice;
    slice.set_table(table);
    slice.set_offset(offset);
    slice.set_length(values.size());
    AppendFloats(values, slice.mutable_values());
    return slice;
  }

  std::unique_ptr<TestCluster> cluster_;
  std::unique_ptr<v1::ParameterServer::Stub> shard0_;
  int64_t next_clock_ = 0;
};

TEST_F(BadInputTest, ParameterServerRejectsBadRequestsAndKeepsItsValues) {
  const std::string before = BigValues();
  ASSERT_EQ(before.size(), 6 * sizeof(float));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  struct Case {
    const char* what;
    v1::TableSlice slice;
    grpc::StatusCode code;
    const char* message;
  };
  v1::TableSlice wrong_width = Dense("big", 0, {1, 2, 3, 4, 5, 6});
  wrong_width.set_length(5);
  v1::TableSlice ragged = Dense("big", 0, {1, 2});
  ragged.mutable_values()->pop_back();
  v1::TableSlice foreign_key;
  foreign_key.set_table("w");
  uint64_t key = 0;
  auto map = ShardMap::Create(2);
  while (map->ShardForKey(key) == 0) ++key;
  AppendKeys({&key, 1}, foreign_key.mutable_keys());
  AppendFloats({1.0f}, foreign_key.mutable_values());
  const Case cases[] = {
      {"unknown table", Dense("nope", 0, {1}), grpc::NOT_FOUND, "nope"},
      {"outside shard", Dense("big", 4, {1, 2, 3}), grpc::OUT_OF_RANGE,
       "not inside this shard"},
      {"wrong width", wrong_width, grpc::INVALID_ARGUMENT, "values"},
      {"NaN", Dense("big", 0, {1, nan}), grpc::INVALID_ARGUMENT, "finite"},
      {"infinite", Dense("big", 0, {INFINITY}), grpc::INVALID_ARGUMENT,
       "finite"},
      {"ragged bytes", ragged, grpc::INVALID_ARGUMENT, "whole number"},
      {"key of another shard", foreign_key, grpc::INVALID_ARGUMENT,
       "belongs to shard 1"},
  };
  for (const Case& c : cases) {
    grpc::Status status = Push(c.slice);
    EXPECT_EQ(status.error_code(), c.code)
        << c.what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message), std::string::npos)
        << c.what << ": " << status.error_message();
  }
  EXPECT_EQ(BigValues(), before);
  // A good push still works afterwards.
  EXPECT_TRUE(Push(Dense("big", 0, {1, 1, 1, 1, 1, 1})).ok());
  EXPECT_NE(BigValues(), before);
}

TEST_F(BadInputTest, CoordinatorRejectsUnknownWorkersAndStaleLeases) {
  v1::AcquireShardRequest acquire;
  acquire.set_worker_id(999);
  v1::AcquireShardResponse leased;
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(5));
  grpc::Status status =
      cluster_->coordinator()->AcquireShard(&context, acquire, &leased);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  EXPECT_NE(status.error_message().find("not registered"), std::string::npos);

  v1::RegisterWorkerRequest reg;
  reg.set_role("painter");
  v1::RegisterWorkerResponse registered;
  grpc::ClientContext context2;
  SetTimeout(&context2, absl::Seconds(5));
  status = cluster_->coordinator()->RegisterWorker(&context2, reg, &registered);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("painter"), std::string::npos);

  reg.set_role("trainer");
  grpc::ClientContext context3;
  SetTimeout(&context3, absl::Seconds(5));
  ASSERT_TRUE(cluster_->coordinator()
                  ->RegisterWorker(&context3, reg, &registered)
                  .ok());
  v1::CompleteShardRequest complete;
  complete.set_worker_id(registered.worker_id());
  complete.set_lease_id(12345);
  v1::CompleteShardResponse completed;
  grpc::ClientContext context4;
  SetTimeout(&context4, absl::Seconds(5));
  status =
      cluster_->coordinator()->CompleteShard(&context4, complete, &completed);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("lease 12345"), std::string::npos);
  auto after = cluster_->Status();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->epochs_status(0).completions(), 0);
}

TEST(BadConfigTest, CoordinatorExitsNamingTheFieldAndFile) {
  const std::string dir = ::testing::TempDir();
  const std::string config = dir + "/bad.yaml";
  testing::WriteFileOrDie(config, R"(
job: {name: bad, epochs: -1}
data: {train: /nonexistent/*.svm}
model: {type: logreg}
tables: [{name: w, type: sparse, width: 1}]
)");
  const std::string log = dir + "/bad-coordinator.log";
  auto process =
      Subprocess::Start({std::string(PARAMD_BIN_DIR) + "/paramd-coordinator",
                         "--config=" + config, "--port=0"},
                        log);
  ASSERT_TRUE(process.ok()) << process.status();
  std::optional<int> code = (*process)->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("bad.yaml: job.epochs: must be positive"),
            std::string::npos)
      << text.str();
}

}  // namespace
}  // namespace paramd
