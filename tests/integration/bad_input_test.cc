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
    request.set_worker_id(worker_id_);
    request.set_clock(next_clock_++);
    *request.add_slices() = slice;
    return Push(request);
  }

  grpc::Status Push(const v1::PushRequest& request) {
    v1::PushResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    return shard0_->Push(&context, request, &response);
  }

  grpc::Status Pull(const v1::PullRequest& request) {
    v1::PullResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    return shard0_->Pull(&context, request, &response);
  }

  // Registers a trainer with the coordinator and waits until shard 0 has
  // heard of it (its pushes are refused as UNAVAILABLE until then).
  void RegisterTrainer() {
    auto registered = cluster_->RegisterTrainer();
    ASSERT_TRUE(registered.ok()) << registered.status();
    worker_id_ = *registered;
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    v1::PushRequest empty;
    empty.set_worker_id(worker_id_);
    while (absl::Now() < give_up) {
      empty.set_clock(next_clock_++);
      if (Push(empty).error_code() != grpc::UNAVAILABLE) return;
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "shard 0 never listed worker " << worker_id_ << " as live";
  }

  // Whether shard 0 still answers (it did not crash).
  bool Alive() { return cluster_->ServerInfo(0).ok(); }

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
  uint64_t worker_id_ = 0;
  int64_t next_clock_ = 0;
};

TEST_F(BadInputTest, ParameterServerRejectsBadRequestsAndKeepsItsValues) {
  ASSERT_NO_FATAL_FAILURE(RegisterTrainer());
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
  constexpr uint64_t kHuge = uint64_t{1} << 63;
  v1::TableSlice near_max = Dense("big", kHuge - 256, {1, 2, 3, 4});
  v1::TableSlice wraps = Dense("big", 0, {1});
  wraps.set_offset(INT64_MAX - 2);
  wraps.set_length(8);
  v1::TableSlice sparse_no_keys;
  sparse_no_keys.set_table("w");
  sparse_no_keys.set_length(1);
  AppendFloats({1.0f}, sparse_no_keys.mutable_values());
  v1::TableSlice dense_with_keys = Dense("big", 0, {1});
  AppendKeys({&key, 1}, dense_with_keys.mutable_keys());
  const Case cases[] = {
      {"unknown table", Dense("nope", 0, {1}), grpc::NOT_FOUND, "nope"},
      {"offset near 2^63", near_max, grpc::OUT_OF_RANGE,
       "not inside this shard"},
      {"offset + length past INT64_MAX", wraps, grpc::OUT_OF_RANGE,
       "not inside this shard"},
      {"sparse slice without keys", sparse_no_keys, grpc::INVALID_ARGUMENT,
       "is sparse"},
      {"dense slice with keys", dense_with_keys, grpc::INVALID_ARGUMENT,
       "is dense"},
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

// Requests built as an attacker would, from the .proto alone: each is
// refused with a status naming the field, the server lives on, and its
// values are unchanged.
TEST_F(BadInputTest, ParameterServerSurvivesHostileRequests) {
  ASSERT_NO_FATAL_FAILURE(RegisterTrainer());
  const std::string before = BigValues();
  auto dense_pull = [](uint64_t offset, uint64_t length) {
    v1::PullRequest request;
    request.set_clock(-1);
    v1::TableSlice* slice = request.add_slices();
    slice->set_table("big");
    slice->set_offset(offset);
    slice->set_length(length);
    return request;
  };
  struct PullCase {
    const char* what;
    v1::PullRequest request;
    grpc::StatusCode code;
    const char* message;
  };
  v1::PullRequest sparse_huge;
  sparse_huge.set_clock(-1);
  sparse_huge.add_slices()->set_table("w");
  sparse_huge.mutable_slices(0)->set_length(uint64_t{1} << 40);
  v1::PullRequest many = dense_pull(0, 6);
  for (int i = 0; i < 2000; ++i) *many.add_slices() = many.slices(0);
  v1::PullRequest with_values = dense_pull(0, 6);
  AppendFloats({1, 2, 3, 4, 5, 6},
               with_values.mutable_slices(0)->mutable_values());
  v1::PullRequest far_clock = dense_pull(0, 6);
  far_clock.set_clock(INT64_MAX);
  v1::PullRequest stranger = dense_pull(0, 6);
  stranger.set_worker_id(424242);
  stranger.set_clock(0);
  const PullCase pulls[] = {
      // Once a heap read of 256 bytes sent back, and a SIGSEGV.
      {"offset 2^63-64", dense_pull((uint64_t{1} << 63) - 64, 72),
       grpc::OUT_OF_RANGE, "not inside this shard"},
      {"offset 2^63", dense_pull(uint64_t{1} << 63, 8), grpc::INVALID_ARGUMENT,
       "fit int64"},
      {"offset INT64_MAX-64", dense_pull(INT64_MAX - 64, 72),
       grpc::OUT_OF_RANGE, "not inside this shard"},
      {"offset 2^62", dense_pull(uint64_t{1} << 62, uint64_t{1} << 24),
       grpc::OUT_OF_RANGE, "not inside this shard"},
      // Once sized by its length: 4 TiB.
      {"sparse pull without keys", sparse_huge, grpc::INVALID_ARGUMENT,
       "is sparse"},
      {"too many slices", many, grpc::INVALID_ARGUMENT, "slices"},
      {"a pull with values", with_values, grpc::INVALID_ARGUMENT,
       "carries no values"},
      {"clock INT64_MAX", far_clock, grpc::INVALID_ARGUMENT, "clock"},
      {"a worker never registered", stranger, grpc::UNAVAILABLE,
       "worker_id: 424242"},
  };
  for (const PullCase& c : pulls) {
    grpc::Status status = Pull(c.request);
    EXPECT_EQ(status.error_code(), c.code)
        << c.what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message), std::string::npos)
        << c.what << ": " << status.error_message();
    ASSERT_TRUE(Alive()) << "the server died of: " << c.what;
  }

  v1::PushRequest bsp_far;  // once wrote 1 KiB before the gradient buffer
  bsp_far.set_worker_id(worker_id_);
  bsp_far.set_clock(next_clock_++);
  *bsp_far.add_slices() = Dense("big", (uint64_t{1} << 63) - 256, {1, 2});
  v1::PushRequest forged;
  forged.set_worker_id(424242);
  forged.set_clock(0);
  *forged.add_slices() = Dense("big", 0, {1, 1, 1, 1, 1, 1});
  v1::PushRequest forged_leave;
  forged_leave.set_worker_id(424242);
  forged_leave.set_leave(true);
  v1::PushRequest last_clock = forged;
  last_clock.set_worker_id(worker_id_);
  last_clock.set_clock(INT64_MAX);
  v1::PushRequest negative_clock = last_clock;
  negative_clock.set_clock(-5);
  struct PushCase {
    const char* what;
    v1::PushRequest request;
    grpc::StatusCode code;
    const char* message;
  };
  const PushCase pushes[] = {
      {"offset 2^63-256", bsp_far, grpc::OUT_OF_RANGE, "not inside this shard"},
      {"a worker never registered", forged, grpc::UNAVAILABLE,
       "worker_id: 424242"},
      {"clock INT64_MAX (clock + 1 overflows)", last_clock,
       grpc::INVALID_ARGUMENT, "clock"},
      {"a negative clock", negative_clock, grpc::INVALID_ARGUMENT, "clock"},
  };
  // A leave of a worker not in the barrier changes nothing.
  EXPECT_TRUE(Push(forged_leave).ok());
  for (const PushCase& c : pushes) {
    grpc::Status status = Push(c.request);
    EXPECT_EQ(status.error_code(), c.code)
        << c.what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message), std::string::npos)
        << c.what << ": " << status.error_message();
    ASSERT_TRUE(Alive()) << "the server died of: " << c.what;
  }
  EXPECT_EQ(BigValues(), before);
}

TEST_F(BadInputTest, CoordinatorRetriesAfterLostRepliesChangeNothing) {
  ASSERT_TRUE(cluster_->RegisterTrainer().ok());  // the servers are up
  auto call_register = [&](uint64_t request_id, uint64_t old_id) {
    v1::RegisterWorkerRequest reg;
    reg.set_role("trainer");
    reg.set_request_id(request_id);
    reg.set_worker_id(old_id);
    v1::RegisterWorkerResponse registered;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    grpc::Status status =
        cluster_->coordinator()->RegisterWorker(&context, reg, &registered);
    return std::make_pair(status, registered.worker_id());
  };
  // A reply lost: the retry carries the same request id, gets the same id.
  const auto registered = call_register(99, 0);
  ASSERT_TRUE(registered.first.ok()) << registered.first.error_message();
  const uint64_t id = registered.second;
  EXPECT_EQ(call_register(99, 0).second, id);
  // An id near 2^64 would make the next one wrap.
  const grpc::Status huge = call_register(0, UINT64_MAX - 1).first;
  EXPECT_EQ(huge.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(huge.error_message().find("worker_id"), std::string::npos);
  const uint64_t a = call_register(0, 0).second;
  EXPECT_NE(a, call_register(0, 0).second);

  auto acquire = [&](uint64_t request_id) {
    v1::AcquireShardRequest request;
    request.set_worker_id(id);
    request.set_request_id(request_id);
    v1::AcquireShardResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    EXPECT_TRUE(cluster_->coordinator()
                    ->AcquireShard(&context, request, &response)
                    .ok());
    return response;
  };
  const v1::AcquireShardResponse leased = acquire(1);
  ASSERT_EQ(leased.state(), v1::AcquireShardResponse::LEASED);
  EXPECT_EQ(acquire(1).lease().lease_id(), leased.lease().lease_id());
  auto status = cluster_->Status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->leases_size(), 1) << "a retry granted a second lease";

  v1::CompleteShardRequest complete;
  complete.set_worker_id(id);
  complete.set_lease_id(leased.lease().lease_id());
  complete.set_examples(1);
  for (int attempt = 0; attempt < 2; ++attempt) {
    v1::CompleteShardResponse completed;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    EXPECT_TRUE(cluster_->coordinator()
                    ->CompleteShard(&context, complete, &completed)
                    .ok());
  }
  status = cluster_->Status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->epochs_status(0).completions(), 1);
  EXPECT_EQ(status->epochs_status(0).examples(), 1u);
}

// Every state-changing coordinator call refuses a bad field by name and
// changes nothing.
TEST_F(BadInputTest, CoordinatorRefusesBadFieldsByName) {
  auto trainer = cluster_->RegisterTrainer();
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto before = cluster_->Status();
  ASSERT_TRUE(before.ok());
  v1::Coordinator::Stub* coordinator = cluster_->coordinator();
  auto expect = [](const char* what, const grpc::Status& status,
                   const char* field) {
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT)
        << what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(field), std::string::npos)
        << what << ": " << status.error_message();
  };
  {
    v1::RegisterServerRequest request;  // no address
    v1::RegisterServerResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    expect("server without an address",
           coordinator->RegisterServer(&context, request, &response),
           "address");
  }
  {
    v1::ServerHeartbeatRequest request;
    request.set_shard(0);
    request.set_address(cluster_->cluster().job().name);  // unused: refused
    request.set_version(-5);
    v1::ServerHeartbeatResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    expect("negative server version",
           coordinator->ServerHeartbeat(&context, request, &response),
           "version");
  }
  {
    v1::HeartbeatRequest request;
    request.set_worker_id(*trainer);
    request.set_loss_sum(std::numeric_limits<double>::infinity());
    v1::HeartbeatResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    expect("infinite loss",
           coordinator->Heartbeat(&context, request, &response), "loss_sum");
  }
  {
    v1::ReportEvalRequest request;
    request.set_worker_id(*trainer);
    (*request.mutable_metrics())["eval_loss"] =
        std::numeric_limits<double>::quiet_NaN();
    v1::ReportEvalResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    expect("NaN metric", coordinator->ReportEval(&context, request, &response),
           "metrics");
  }
  auto after = cluster_->Status();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->servers_size(), before->servers_size());
  for (int s = 0; s < after->servers_size(); ++s) {
    EXPECT_EQ(after->servers(s), before->servers(s));
  }
  EXPECT_TRUE(after->eval().empty());
  EXPECT_EQ(after->loss_sum(), before->loss_sum());
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
  EXPECT_NE(text.str().find("bad.yaml:2: job.epochs: must be positive"),
            std::string::npos)
      << text.str();
}

}  // namespace
}  // namespace paramd
