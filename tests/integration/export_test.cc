// Export round trip: after gradients change a real cluster's tables, the
// .npy files `paramctl export` writes hold exactly what the parameter
// servers serve, and index.json describes them.
#include "tools/export.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/config.h"
#include "common/grpc_status.h"
#include "common/rpc_util.h"
#include "common/shard_map.h"
#include "common/tensor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/cluster/test_cluster.h"
#include "tools/npy.h"
#include "tools/subprocess.h"
#include "worker/ps_client.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
using ::paramd::testing::TestClusterOptions;
namespace v1 = ::paramd::v1;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;

constexpr char kConfig[] = R"(
job: {name: export-test, consistency: asp, lease_timeout_s: 600}
cluster: {num_servers: 2}
data: {train: $DIR/train-*.svm}
model: {type: logreg}
optimizer: {kind: adagrad, learning_rate: 0.1}
tables:
  - {name: dense, type: dense, shape: [3, 5],
     init: {kind: uniform, scale: 0.5, seed: 7}}
  - {name: emb, type: sparse, width: 4,
     init: {kind: normal, scale: 0.1, seed: 3}}
)";

constexpr char kVocab[] = "<unk>\nthe\nof\n";
constexpr int kDense = 15;
constexpr int kWidth = 4;
constexpr int kSteps = 3;

// ~50 keys spread over both shards, small and large.
std::vector<uint64_t> PushedKeys() {
  std::vector<uint64_t> keys;
  for (uint64_t k = 0; k < 50; ++k) keys.push_back(k * k * 7919 + (k << 37));
  return keys;
}

// Keys only pulled (created with their initial values, never pushed).
const std::vector<uint64_t> kPulledOnly = {5, 999999937, uint64_t{1} << 62};

Params Gradients(int step) {
  Params grads;
  std::vector<float>& dense = grads.dense["dense"];
  for (int i = 0; i < kDense; ++i) dense.push_back((i % 7 - 3) * 0.25f + step);
  SparseRows rows(kWidth);
  for (uint64_t key : PushedKeys()) {
    auto row = rows.RowAt(rows.Add(key));
    for (int j = 0; j < kWidth; ++j) row[j] = (key % 5 + j) * 0.5f - step;
  }
  grads.sparse["emb"] = rows;
  return grads;
}

std::vector<int64_t> Shape(const Value& value) {
  std::vector<int64_t> shape;
  for (const Value& d : value.list_value().values()) {
    shape.push_back(static_cast<int64_t>(d.number_value()));
  }
  return shape;
}

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestClusterOptions options;
    options.config_yaml = kConfig;
    options.write_data = [](const std::string& dir) {
      testing::WriteFileOrDie(dir + "/train-0.svm", "1 1:1\n");
      testing::WriteFileOrDie(dir + "/vocab.txt", kVocab);
    };
    auto cluster = TestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    job_ = cluster_->cluster().job();  // as the coordinator loaded it
    auto servers = FetchServers(coordinator(), job_);
    ASSERT_TRUE(servers.ok()) << servers.status();
    servers_ = *servers;
    auto trainer = cluster_->RegisterTrainer();
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    client_ =
        std::make_unique<PsClient>(job_, servers_, *trainer, absl::Seconds(30),
                                   absl::Seconds(30), nullptr);
  }

  const std::string& coordinator() {
    return cluster_->cluster().coordinator_address();
  }

  // Trains a little: asp pushes from one worker, plus rows only pulled.
  void Train() {
    for (int step = 0; step < kSteps; ++step) {
      auto next = client_->Push(step, Gradients(step));
      ASSERT_TRUE(next.ok()) << next.status();
    }
    ParamRequest request;
    request.sparse["emb"] = kPulledOnly;
    Params params;
    ASSERT_TRUE(client_->Pull(-1, request, &params).ok());
  }

  // What the servers serve now for `keys` and the dense table.
  Params PullNow(const std::vector<uint64_t>& keys) {
    ParamRequest request;
    request.dense.insert("dense");
    request.sparse["emb"] = keys;
    Params params;
    auto clock = client_->Pull(-1, request, &params);
    EXPECT_TRUE(clock.ok()) << clock.status();
    return params;
  }

  // Checks the files in `out` hold exactly what the servers serve now.
  void ExpectExportMatchesServers(const std::string& out);

  absl::StatusOr<std::vector<uint64_t>> ListKeys(int shard,
                                                 const std::string& table) {
    v1::ListKeysRequest request;
    request.set_table(table);
    v1::ListKeysResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    absl::Status status = FromGrpcStatus(
        cluster_->Server(shard)->ListKeys(&context, request, &response));
    if (!status.ok()) return status;
    return DecodeKeys(response.keys());
  }

  std::unique_ptr<TestCluster> cluster_;
  JobConfig job_;
  std::vector<std::string> servers_;
  std::unique_ptr<PsClient> client_;
};

void ExportTest::ExpectExportMatchesServers(const std::string& out) {
  std::vector<uint64_t> keys = PushedKeys();
  keys.insert(keys.end(), kPulledOnly.begin(), kPulledOnly.end());
  std::sort(keys.begin(), keys.end());
  Params served = PullNow(keys);

  auto dense = ReadNpy(out + "/dense.npy");
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_EQ(dense->type, NpyType::kFloat32);
  EXPECT_EQ(dense->shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(dense->floats, served.dense["dense"]);

  auto exported_keys = ReadNpy(out + "/emb.keys.npy");
  ASSERT_TRUE(exported_keys.ok()) << exported_keys.status();
  EXPECT_EQ(exported_keys->type, NpyType::kUint64);
  EXPECT_EQ(exported_keys->shape,
            (std::vector<int64_t>{static_cast<int64_t>(keys.size())}));
  EXPECT_EQ(exported_keys->uint64s, keys);

  auto rows = ReadNpy(out + "/emb.npy");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->type, NpyType::kFloat32);
  ASSERT_EQ(rows->shape,
            (std::vector<int64_t>{static_cast<int64_t>(keys.size()), kWidth}));
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::vector<float> row(rows->floats.begin() + i * kWidth,
                                 rows->floats.begin() + (i + 1) * kWidth);
    auto expected = served.sparse["emb"].Row(keys[i]);
    EXPECT_EQ(row, std::vector<float>(expected.begin(), expected.end()))
        << "key " << keys[i];
  }
}

TEST_F(ExportTest, ExportedArraysEqualWhatServersServe) {
  Params before = PullNow({});
  Train();
  ASSERT_NE(PullNow({}).dense["dense"], before.dense["dense"]);
  const std::string out = cluster_->dir() + "/export/model";
  ExportOptions options;
  options.keys_per_pull = 7;  // several pulls, the last one partial
  absl::Status status = ExportModel(job_, servers_, out, options);
  ASSERT_TRUE(status.ok()) << status;
  ExpectExportMatchesServers(out);
  EXPECT_EQ(testing::ReadFileOrEmpty(out + "/vocab.txt"), kVocab);
}

TEST_F(ExportTest, IndexNamesEveryTableWithItsShape) {
  Train();
  const std::string out = cluster_->dir() + "/export";
  ASSERT_TRUE(ExportModel(job_, servers_, out).ok());
  Struct index;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  testing::ReadFileOrEmpty(out + "/index.json"), &index)
                  .ok())
      << testing::ReadFileOrEmpty(out + "/index.json");
  const auto& fields = index.fields();
  EXPECT_EQ(fields.at("job").string_value(), "export-test");
  EXPECT_EQ(fields.at("vocab").string_value(), "vocab.txt");
  const auto& tables = fields.at("tables").list_value().values();
  ASSERT_EQ(tables.size(), 2);
  const auto& dense = tables[0].struct_value().fields();
  EXPECT_EQ(dense.at("name").string_value(), "dense");
  EXPECT_EQ(dense.at("kind").string_value(), "dense");
  EXPECT_EQ(Shape(dense.at("shape")), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(dense.at("dtype").string_value(), "float32");
  EXPECT_EQ(dense.at("file").string_value(), "dense.npy");
  EXPECT_EQ(dense.count("keys_file"), 0u);
  const auto& emb = tables[1].struct_value().fields();
  EXPECT_EQ(emb.at("name").string_value(), "emb");
  EXPECT_EQ(emb.at("kind").string_value(), "sparse");
  EXPECT_EQ(Shape(emb.at("shape")),
            (std::vector<int64_t>{
                static_cast<int64_t>(PushedKeys().size() + kPulledOnly.size()),
                kWidth}));
  EXPECT_EQ(emb.at("dtype").string_value(), "float32");
  EXPECT_EQ(emb.at("file").string_value(), "emb.npy");
  EXPECT_EQ(emb.at("keys_file").string_value(), "emb.keys.npy");
  EXPECT_EQ(emb.at("keys_dtype").string_value(), "uint64");
}

TEST_F(ExportTest, ListKeysListsEachShardsRowsSorted) {
  Train();
  auto map = ShardMap::Create(2);
  ASSERT_TRUE(map.ok());
  size_t total = 0;
  for (int shard = 0; shard < 2; ++shard) {
    auto keys = ListKeys(shard, "emb");
    ASSERT_TRUE(keys.ok()) << keys.status();
    EXPECT_FALSE(keys->empty()) << "shard " << shard;
    EXPECT_TRUE(std::is_sorted(keys->begin(), keys->end()));
    for (uint64_t key : *keys) EXPECT_EQ(map->ShardForKey(key), shard);
    total += keys->size();
  }
  EXPECT_EQ(total, PushedKeys().size() + kPulledOnly.size());
  auto dense = ListKeys(0, "dense");
  EXPECT_EQ(dense.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(dense.status().message(), "dense"));
  auto unknown = ListKeys(0, "nope");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(unknown.status().message(), "'nope'"));
}

TEST_F(ExportTest, CommandLineExportWritesTheSameFiles) {
  Train();
  const std::string out = cluster_->dir() + "/cli-export";
  auto paramctl = Subprocess::Start(
      {std::string(PARAMD_BIN_DIR) + "/paramctl", "export",
       "--coordinator=" + coordinator(),
       "--config=" + cluster_->dir() + "/cluster.yaml", "--out=" + out},
      cluster_->dir() + "/paramctl-export.log");
  ASSERT_TRUE(paramctl.ok()) << paramctl.status();
  EXPECT_EQ((*paramctl)->Wait(absl::Seconds(120)), 0)
      << testing::ReadFileOrEmpty((*paramctl)->log_path());
  ExpectExportMatchesServers(out);
}

TEST_F(ExportTest, ConfigOfAnotherJobIsRefused) {
  JobConfig other = job_;
  other.name = "other-job";
  auto servers = FetchServers(coordinator(), other);
  EXPECT_EQ(servers.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(servers.status().message(), "runs job 'export-test'"))
      << servers.status();

  JobConfig extra = job_;
  extra.tables.push_back(job_.tables[0]);
  extra.tables.back().name = "missing";
  const std::string out = cluster_->dir() + "/bad-export";
  absl::Status status = ExportModel(extra, servers_, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(status.message(), "has no table 'missing'"))
      << status;
  EXPECT_FALSE(std::filesystem::exists(out + "/index.json"));
}

TEST(ExportErrorTest, UnreachablePeersAreNamed) {
  auto job =
      ParseJobConfig(absl::StrReplaceAll(kConfig, {{"$DIR", "/nonexistent"}}),
                     "test.yaml", "/");
  ASSERT_TRUE(job.ok()) << job.status();
  ExportOptions options;
  options.rpc_timeout = absl::Seconds(1);
  options.retry_budget = absl::Milliseconds(500);

  auto servers = FetchServers("127.0.0.1:1", *job, options);
  ASSERT_FALSE(servers.ok());
  EXPECT_EQ(servers.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(servers.status().message(),
                                "coordinator at 127.0.0.1:1"))
      << servers.status();

  const std::string out = ::testing::TempDir() + "/paramd-export-unreachable";
  absl::Status status =
      ExportModel(*job, {"127.0.0.1:1", "127.0.0.1:1"}, out, options);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(
      absl::StrContains(status.message(), "parameter server 0 at 127.0.0.1:1"))
      << status;
  EXPECT_FALSE(std::filesystem::exists(out + "/index.json"));
}

TEST(ExportErrorTest, TablesWhoseFilesCollideAreRefused) {
  auto job =
      ParseJobConfig(absl::StrReplaceAll(kConfig, {{"$DIR", "/nonexistent"}}),
                     "test.yaml", "/");
  ASSERT_TRUE(job.ok()) << job.status();
  job->tables[0].name = "emb.keys";  // dense: writes emb.keys.npy
  const std::string out = ::testing::TempDir() + "/paramd-export-collide";
  absl::Status status = ExportModel(*job, {"127.0.0.1:1", "127.0.0.1:1"}, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "emb.keys.npy")) << status;
  job->tables[0].name = "../escape";
  status = ExportModel(*job, {"127.0.0.1:1", "127.0.0.1:1"}, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "not a plain file name"))
      << status;
}

}  // namespace
}  // namespace paramd
