#include "worker/models/nplm.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "gtest/gtest.h"
#include "worker/params.h"

namespace paramd {
namespace {

constexpr int64_t kVocab = 7;
constexpr int64_t kEmbed = 3;
constexpr int64_t kHidden = 4;
constexpr int64_t kOrder = 3;
constexpr int64_t kContext = kOrder - 1;
constexpr int64_t kInput = kContext * kEmbed;
constexpr int32_t kPad = 0;

// Central differences of the double-precision reference loss.
constexpr double kEpsilon = 1e-3;
// |analytic - numeric| must be below kAbsTolerance + kRelTolerance * |numeric|.
constexpr double kAbsTolerance = 1e-6;
constexpr double kRelTolerance = 1e-4;

// Repeats words inside one context ("2 2", "6 2 6") and uses the pad id as a
// real word too, so rows of C collect gradient from several places.
constexpr char kTinyCorpus[] = "3 1 4 1 5\n6 2 6\n\n5 3 5 0 2 2 0\n";

TableConfig DenseTableConfig(const std::string& name,
                             std::vector<int64_t> shape) {
  TableConfig table;
  table.name = name;
  table.shape = std::move(shape);
  return table;
}

TableConfig SparseTableConfig(const std::string& name, int64_t width) {
  TableConfig table;
  table.name = name;
  table.sparse = true;
  table.width = width;
  return table;
}

JobConfig TinyJob(bool direct) {
  JobConfig job;
  job.name = "tiny";
  job.source = "tiny.yaml";
  job.model.type = "nplm";
  job.model.params = {{"order", kOrder},          {"embedding_dim", kEmbed},
                      {"hidden", kHidden},        {"vocab_size", kVocab},
                      {"direct", direct ? 1 : 0}, {"pad_id", kPad}};
  job.tables = {SparseTableConfig("C", kEmbed),
                DenseTableConfig("H", {kHidden, kInput}),
                DenseTableConfig("d", {kHidden}),
                DenseTableConfig("U", {kVocab, kHidden}),
                DenseTableConfig("b", {kVocab})};
  if (direct) job.tables.push_back(DenseTableConfig("W", {kVocab, kInput}));
  return job;
}

std::string WriteTempFile(const std::string& name,
                          const std::string& contents) {
  const std::string path = ::testing::TempDir() + "nplm_test_" + name;
  std::ofstream(path) << contents;
  return path;
}

// Params for `request` with every value uniform in [-1, 1].
Params RandomParams(const JobConfig& job, const ParamRequest& request,
                    uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Params params;
  for (const TableConfig& table : job.tables) {
    if (table.sparse) {
      SparseRows rows(table.width);
      for (uint64_t key : request.sparse.at(table.name)) rows.Add(key);
      for (float& value : rows.values()) value = uniform(rng);
      params.sparse[table.name] = std::move(rows);
    } else if (request.dense.count(table.name) > 0) {
      int64_t size = 1;
      for (int64_t dim : table.shape) size *= dim;
      std::vector<float>& values = params.dense[table.name];
      values.resize(size);
      for (float& value : values) value = uniform(rng);
    }
  }
  return params;
}

// A copy of Params in double for the reference loss.
struct DoubleParams {
  std::map<std::string, std::vector<double>> dense;
  std::map<uint64_t, std::vector<double>> embeddings;  // rows of C
};

DoubleParams ToDouble(const Params& params) {
  DoubleParams result;
  for (const auto& [name, values] : params.dense) {
    result.dense[name].assign(values.begin(), values.end());
  }
  const SparseRows& c = params.sparse.at("C");
  for (uint64_t key : c.keys()) {
    absl::Span<const float> row = c.Row(key);
    result.embeddings[key].assign(row.begin(), row.end());
  }
  return result;
}

struct ReferenceResult {
  double mean_loss = 0;
  int64_t correct = 0;
};

// The mean loss of examples [begin, end), one example at a time in double,
// straight from the formulas in nplm.h.
ReferenceResult ReferenceLoss(const std::vector<int32_t>& tokens, int64_t begin,
                              int64_t end, bool direct, const DoubleParams& p) {
  const std::vector<double>& h = p.dense.at("H");
  const std::vector<double>& d = p.dense.at("d");
  const std::vector<double>& u = p.dense.at("U");
  const std::vector<double>& b = p.dense.at("b");
  ReferenceResult result;
  std::vector<double> x(kInput), a(kHidden), y(kVocab);
  for (int64_t t = begin; t < end; ++t) {
    for (int64_t j = 0; j < kContext; ++j) {
      const int64_t position = t - kContext + j;
      const int32_t word = position < 0 ? kPad : tokens[position];
      const std::vector<double>& row = p.embeddings.at(word);
      std::copy(row.begin(), row.end(), x.begin() + j * kEmbed);
    }
    for (int64_t i = 0; i < kHidden; ++i) {
      double sum = d[i];
      for (int64_t l = 0; l < kInput; ++l) sum += h[i * kInput + l] * x[l];
      a[i] = std::tanh(sum);
    }
    for (int64_t v = 0; v < kVocab; ++v) {
      y[v] = b[v];
      for (int64_t i = 0; i < kHidden; ++i) y[v] += u[v * kHidden + i] * a[i];
      for (int64_t l = 0; direct && l < kInput; ++l) {
        y[v] += p.dense.at("W")[v * kInput + l] * x[l];
      }
    }
    const int64_t argmax = std::max_element(y.begin(), y.end()) - y.begin();
    double sum_exp = 0;
    for (double logit : y) sum_exp += std::exp(logit - y[argmax]);
    result.mean_loss += std::log(sum_exp) + y[argmax] - y[tokens[t]];
    if (argmax == tokens[t]) ++result.correct;
  }
  result.mean_loss /= static_cast<double>(end - begin);
  return result;
}

// Worst disagreements seen by CheckEntry.
struct GradientErrors {
  int64_t entries = 0;
  double max_abs = 0;
  double max_rel = 0;      // over entries with |numeric| > 1e-3
  double max_numeric = 0;  // largest |numeric|: the table is not all zero
};

// Compares `analytic` with central differences of `loss` in `*value`.
void CheckEntry(const std::string& what, float analytic, double* value,
                const std::function<double()>& loss, GradientErrors* errors) {
  const double saved = *value;
  *value = saved + kEpsilon;
  const double plus = loss();
  *value = saved - kEpsilon;
  const double minus = loss();
  *value = saved;
  const double numeric = (plus - minus) / (2 * kEpsilon);
  const double error = std::abs(analytic - numeric);
  EXPECT_LE(error, kAbsTolerance + kRelTolerance * std::abs(numeric))
      << what << ": analytic " << analytic << ", numeric " << numeric;
  ++errors->entries;
  errors->max_abs = std::max(errors->max_abs, error);
  if (std::abs(numeric) > 1e-3) {
    errors->max_rel = std::max(errors->max_rel, error / std::abs(numeric));
  }
  errors->max_numeric = std::max(errors->max_numeric, std::abs(numeric));
}

void PrintErrors(const std::string& table, const GradientErrors& errors) {
  std::printf("  %-2s entries=%3lld max_abs=%.2e max_rel=%.2e max|g|=%.3f\n",
              table.c_str(), static_cast<long long>(errors.entries),
              errors.max_abs, errors.max_rel, errors.max_numeric);
}

// A tiny model and the data and params its tests use.
class NplmModelTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Build(/*direct=*/true)); }

  void Build(bool direct) {
    job_ = TinyJob(direct);
    absl::StatusOr<std::unique_ptr<Model>> model = CreateNplmModel(job_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
  }

  // Reads `contents` as a data file into data_.
  void Read(const std::string& name, const std::string& contents) {
    absl::StatusOr<std::unique_ptr<Dataset>> data =
        model_->ReadData(WriteTempFile(name, contents));
    ASSERT_TRUE(data.ok()) << data.status();
    data_ = std::move(*data);
  }

  const std::vector<int32_t>& tokens() const {
    return static_cast<const NplmDataset&>(*data_).tokens();
  }

  // Returns random Params holding what examples [begin, end) need.
  Params ParamsFor(int64_t begin, int64_t end, ParamRequest* request) {
    model_->Needs(*data_, begin, end, request);
    return RandomParams(job_, *request, /*seed=*/20030301);
  }

  // Checks every gradient entry of examples [begin, end) against central
  // differences of the reference loss.
  void ExpectGradientsMatch(int64_t begin, int64_t end);

  JobConfig job_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Dataset> data_;
};

void NplmModelTest::ExpectGradientsMatch(int64_t begin, int64_t end) {
  ParamRequest request;
  const Params params = ParamsFor(begin, end, &request);
  Params grads = params.ZerosLike();
  const BatchStats stats = model_->Compute(*data_, begin, end, params, &grads);
  const bool direct = job_.model.params.at("direct") == 1;
  EXPECT_EQ(grads.dense.size(), direct ? 5u : 4u);  // H, d, U, b (, W)
  DoubleParams reference = ToDouble(params);
  auto loss = [&] {
    return ReferenceLoss(tokens(), begin, end, direct, reference).mean_loss;
  };
  const ReferenceResult expected =
      ReferenceLoss(tokens(), begin, end, direct, reference);
  EXPECT_EQ(stats.examples, end - begin);
  EXPECT_NEAR(stats.loss_sum / (end - begin), expected.mean_loss, 1e-5);
  EXPECT_EQ(stats.correct, expected.correct);

  std::printf("gradient check, direct=%d, examples [%lld, %lld):\n", direct,
              static_cast<long long>(begin), static_cast<long long>(end));
  for (const auto& [name, values] : grads.dense) {
    GradientErrors errors;
    for (size_t e = 0; e < values.size(); ++e) {
      CheckEntry(absl::StrCat(name, "[", e, "]"), values[e],
                 &reference.dense.at(name)[e], loss, &errors);
    }
    PrintErrors(name, errors);
    EXPECT_GT(errors.max_numeric, 1e-2) << name;
  }
  const SparseRows& c = grads.sparse.at("C");
  ASSERT_EQ(c.keys().size(), request.sparse.at("C").size());
  GradientErrors errors;
  for (uint64_t key : c.keys()) {
    for (int64_t e = 0; e < kEmbed; ++e) {
      CheckEntry(absl::StrCat("C[", key, "][", e, "]"), c.Row(key)[e],
                 &reference.embeddings.at(key)[e], loss, &errors);
    }
  }
  PrintErrors("C", errors);
  EXPECT_GT(errors.max_numeric, 1e-2);
}

TEST_F(NplmModelTest, GradientMatchesFiniteDifferencesWithDirect) {
  ASSERT_NO_FATAL_FAILURE(Read("gradient", kTinyCorpus));
  ASSERT_EQ(data_->size(), 15);
  ExpectGradientsMatch(0, 15);
}

TEST_F(NplmModelTest, GradientMatchesFiniteDifferencesWithoutDirect) {
  ASSERT_NO_FATAL_FAILURE(Build(/*direct=*/false));
  ASSERT_NO_FATAL_FAILURE(Read("gradient", kTinyCorpus));
  ExpectGradientsMatch(1, 13);
}

TEST_F(NplmModelTest, UniformModelLossIsLogVocab) {
  ASSERT_NO_FATAL_FAILURE(Read("uniform", "1 2 3\n4 5 6 0\n"));
  ParamRequest request;
  const Params zeros = ParamsFor(0, 7, &request).ZerosLike();
  const BatchStats stats = model_->Compute(*data_, 0, 7, zeros, nullptr);
  EXPECT_EQ(stats.examples, 7);
  EXPECT_NEAR(stats.loss_sum, 7 * std::log(7.0), 1e-5);
}

TEST_F(NplmModelTest, SoftmaxIsStableForLargeLogits) {
  ASSERT_NO_FATAL_FAILURE(Read("stable", "3 1 3"));
  ParamRequest request;
  Params params = ParamsFor(0, 3, &request).ZerosLike();
  params.dense["b"][3] = 1000.0f;
  Params grads = params.ZerosLike();
  const BatchStats stats = model_->Compute(*data_, 0, 3, params, &grads);
  EXPECT_NEAR(stats.loss_sum, 1000.0, 1e-3);
  EXPECT_EQ(stats.correct, 2);
  for (float g : grads.dense["b"]) EXPECT_TRUE(std::isfinite(g));
}

// Logits() is the forward pass of Compute(): the loss of each example is
// -log softmax(Logits(t))[token t].
TEST_F(NplmModelTest, LogitsGiveEachExamplesLoss) {
  ASSERT_NO_FATAL_FAILURE(Read("logits", kTinyCorpus));
  ParamRequest request;
  const Params params = ParamsFor(0, data_->size(), &request);
  const auto& nplm = static_cast<const NplmModel&>(*model_);
  for (int64_t t = 0; t < data_->size(); ++t) {
    const std::vector<float> y = nplm.Logits(*data_, t, params);
    ASSERT_EQ(static_cast<int64_t>(y.size()), nplm.options().vocab_size);
    double sum = 0;
    for (float v : y) sum += std::exp(static_cast<double>(v));
    const double loss = std::log(sum) - y[tokens()[t]];
    const BatchStats one = model_->Compute(*data_, t, t + 1, params, nullptr);
    EXPECT_NEAR(loss, one.loss_sum, 1e-4) << "example " << t;
  }
}

TEST_F(NplmModelTest, NeedsListsSortedUniqueContextWords) {
  ASSERT_NO_FATAL_FAILURE(Read("needs", "5 3 5 6"));
  ParamRequest all;
  model_->Needs(*data_, 0, 4, &all);
  EXPECT_EQ(all.dense, (std::set<std::string>{"H", "U", "W", "b", "d"}));
  EXPECT_EQ(all.sparse["C"], (std::vector<uint64_t>{kPad, 3, 5}));
  ParamRequest tail;
  model_->Needs(*data_, 2, 4, &tail);
  EXPECT_EQ(tail.sparse["C"], (std::vector<uint64_t>{3, 5}));
}

TEST_F(NplmModelTest, ReadDataAcceptsAnyLineStructure) {
  ASSERT_NO_FATAL_FAILURE(Read("lines", "1\t2\r\n\n  3   4 \n5"));
  EXPECT_EQ(tokens(), (std::vector<int32_t>{1, 2, 3, 4, 5}));
}

TEST_F(NplmModelTest, ReadDataAcceptsEmptyFile) {
  ASSERT_NO_FATAL_FAILURE(Read("empty", ""));
  EXPECT_EQ(data_->size(), 0);
}

TEST_F(NplmModelTest, ReadDataRejectsBadToken) {
  for (const std::string bad : {"x4", "-1", "2.5", "+3"}) {
    const std::string path =
        WriteTempFile("bad_token", absl::StrCat("1 2\n3 ", bad, " 5\n"));
    absl::StatusOr<std::unique_ptr<Dataset>> data = model_->ReadData(path);
    ASSERT_FALSE(data.ok()) << bad;
    EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(data.status().message());
    EXPECT_NE(message.find(absl::StrCat(path, ":2:")), std::string::npos)
        << message;
    EXPECT_NE(message.find(absl::StrCat("\"", bad, "\"")), std::string::npos)
        << message;
  }
}

TEST_F(NplmModelTest, ReadDataRejectsOutOfRangeId) {
  const std::string path = WriteTempFile("out_of_range", "1 2\n\n3 7 4\n");
  absl::StatusOr<std::unique_ptr<Dataset>> data = model_->ReadData(path);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(data.status().message());
  EXPECT_NE(message.find(absl::StrCat(path, ":3:")), std::string::npos)
      << message;
  EXPECT_NE(message.find("\"7\""), std::string::npos) << message;
}

TEST_F(NplmModelTest, ReadDataReportsMissingFile) {
  EXPECT_FALSE(model_->ReadData("/nonexistent/nplm.txt").ok());
}

void ExpectCreateFails(const JobConfig& job, const std::string& expected) {
  absl::StatusOr<std::unique_ptr<Model>> model = CreateNplmModel(job);
  ASSERT_FALSE(model.ok()) << expected;
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find(expected), std::string::npos)
      << model.status();
}

TEST(CreateNplmModelTest, RejectsWronglyShapedTable) {
  JobConfig job = TinyJob(/*direct=*/true);
  job.tables[3] = DenseTableConfig("U", {kHidden, kVocab});
  ExpectCreateFails(
      job,
      "tiny.yaml: model nplm: table \"U\" must be dense [7, 4], got [4, 7]");
}

TEST(CreateNplmModelTest, RejectsWrongTableKind) {
  JobConfig job = TinyJob(/*direct=*/true);
  job.tables[0] = DenseTableConfig("C", {kVocab, kEmbed});
  ExpectCreateFails(job, "table \"C\" must be sparse width 3, got [7, 3]");
  job = TinyJob(/*direct=*/true);
  job.tables[0].width = 4;
  ExpectCreateFails(job, "table \"C\" must be sparse width 3, got sparse");
}

TEST(CreateNplmModelTest, RejectsMissingDirectTable) {
  JobConfig job = TinyJob(/*direct=*/false);
  job.model.params["direct"] = 1;
  ExpectCreateFails(job, "table \"W\" must be dense [7, 6]");
}

TEST(CreateNplmModelTest, RejectsBadParams) {
  JobConfig job = TinyJob(/*direct=*/true);
  job.model.params["pad_id"] = kVocab;
  ExpectCreateFails(job, "\"pad_id\" must be an integer in [0, 6], got 7");
  job = TinyJob(/*direct=*/true);
  job.model.params["order"] = 1;
  ExpectCreateFails(job, "\"order\"");
  job = TinyJob(/*direct=*/true);
  job.model.params["hidden"] = 2.5;
  ExpectCreateFails(job, "\"hidden\" must be an integer");
  job = TinyJob(/*direct=*/true);
  job.model.params.erase("vocab_size");
  ExpectCreateFails(job, "\"vocab_size\" is required");
  job = TinyJob(/*direct=*/true);
  job.model.params["hiden"] = 4;
  ExpectCreateFails(job, "unknown param \"hiden\"");
}

// Every worker, C++ or Python (python/paramd/shuffle.py checks the same
// table), trains a shard's examples in one order.
TEST(DatasetTest, ShuffleGivesTheSharedTablesOrder) {
  std::ifstream in(std::string(PARAMD_SOURCE_DIR) +
                   "/tests/testdata/shuffle_cases.tsv");
  ASSERT_TRUE(in.is_open());
  int cases = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    int32_t epoch = 0, shard = 0;
    int64_t count = 0;
    ASSERT_TRUE(fields >> epoch >> shard >> count) << line;
    NplmDataset data(std::vector<int32_t>(count, 0));
    data.Shuffle(ShardShuffleSeed(epoch, shard));
    for (int64_t e = 0; e < count; ++e) {
      int64_t want = -1;
      ASSERT_TRUE(fields >> want) << line.substr(0, 20);
      ASSERT_EQ(data.Index(e), want) << line.substr(0, 20) << ", example " << e;
    }
    ++cases;
  }
  EXPECT_GE(cases, 8);
}

}  // namespace
}  // namespace paramd
