#include "worker/models/logreg.h"

#include <cmath>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace paramd {
namespace {

JobConfig LogregJob() {
  JobConfig job;
  job.source = "test.yaml";
  job.model.type = "logreg";
  TableConfig w;
  w.name = "w";
  w.sparse = true;
  w.width = 1;
  TableConfig bias;
  bias.name = "bias";
  bias.shape = {1};
  job.tables = {w, bias};
  return job;
}

std::string WriteData(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

class LogregTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = CreateLogregModel(LogregJob());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
  }
  std::unique_ptr<Model> model_;
};

TEST_F(LogregTest, GradientMatchesFiniteDifferences) {
  auto data = model_->ReadData(
      WriteData("grad.svm",
                "1 1:0.5 7:2\n0 7:1 9:-1.5\n# comment\n\n-1 1:1\n"
                "+1 9:0.25\n"));
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ((*data)->size(), 4);
  ParamRequest request;
  model_->Needs(**data, 0, 4, &request);
  EXPECT_EQ(request.sparse["w"], (std::vector<uint64_t>{1, 7, 9}));
  EXPECT_EQ(request.dense.count("bias"), 1u);

  Params params;
  params.dense["bias"] = {0.1f};
  SparseRows w(1);
  const float values[] = {0.3f, -0.2f, 0.7f};
  for (int i = 0; i < 3; ++i) {
    w.RowAt(w.Add(request.sparse["w"][i]))[0] = values[i];
  }
  params.sparse["w"] = w;
  Params grads = params.ZerosLike();
  const BatchStats stats = model_->Compute(**data, 0, 4, params, &grads);
  EXPECT_EQ(stats.examples, 4);

  auto mean_loss = [&](const Params& p) {
    return model_->Compute(**data, 0, 4, p, nullptr).loss_sum / 4;
  };
  const double eps = 1e-3;
  for (uint64_t key : request.sparse["w"]) {
    Params up = params, down = params;
    up.sparse["w"].Row(key)[0] += eps;
    down.sparse["w"].Row(key)[0] -= eps;
    const double numeric = (mean_loss(up) - mean_loss(down)) / (2 * eps);
    EXPECT_NEAR(grads.sparse["w"].Row(key)[0], numeric, 1e-4) << "key " << key;
  }
  Params up = params, down = params;
  up.dense["bias"][0] += eps;
  down.dense["bias"][0] -= eps;
  EXPECT_NEAR(grads.dense["bias"][0],
              (mean_loss(up) - mean_loss(down)) / (2 * eps), 1e-4);
}

TEST_F(LogregTest, ZeroWeightsGiveLogTwoLossAndCountCorrect) {
  auto data = model_->ReadData(WriteData("zero.svm", "1 3:1\n0 4:1\n"));
  ASSERT_TRUE(data.ok()) << data.status();
  Params params;
  params.dense["bias"] = {0.0f};
  params.sparse["w"] = SparseRows(1);
  params.sparse["w"].Add(3);
  params.sparse["w"].Add(4);
  const BatchStats stats = model_->Compute(**data, 0, 2, params, nullptr);
  EXPECT_NEAR(stats.loss_sum, 2 * std::log(2.0), 1e-9);
  EXPECT_EQ(stats.correct, 1);  // p = 0.5 counts as class 1
}

TEST_F(LogregTest, RejectsBadLinesNamingFileAndLine) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"1 1:1\n2 1:1\n", ":2: label must be 0, 1, -1 or +1 in '2 1:1'"},
      {"1 1:1\n1 x:1\n", ":2: feature 1 'x:1' is not idx:value"},
      {"1 1:nan\n", ":1: feature 1 '1:nan' is not idx:value"},
      {"1 -3:1\n", ":1: feature 1 '-3:1' is not idx:value"},
  };
  for (const Case& c : cases) {
    auto data = model_->ReadData(WriteData("bad.svm", c.text));
    ASSERT_FALSE(data.ok()) << c.text;
    EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(data.status().message().find(c.message), std::string::npos)
        << data.status();
    EXPECT_NE(data.status().message().find("bad.svm"), std::string::npos);
  }
  EXPECT_EQ(model_->ReadData("/nonexistent.svm").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(LogregModelTest, RejectsJobWithoutItsTables) {
  JobConfig job = LogregJob();
  job.tables[0].width = 2;
  auto model = CreateLogregModel(job);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("\"w\""), std::string::npos);
  job = LogregJob();
  job.tables.pop_back();
  EXPECT_NE(CreateLogregModel(job).status().message().find("\"bias\""),
            std::string::npos);
}

}  // namespace
}  // namespace paramd
