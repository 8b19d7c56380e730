#include "worker/models/logreg.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "worker/models/data_lines.h"

namespace paramd {
namespace {

class LogregData : public Dataset {
 public:
  int64_t size() const override { return labels.size(); }

  std::vector<float> labels;       // 0 or 1
  std::vector<int64_t> starts{0};  // example i: features [starts[i], [i+1])
  std::vector<uint64_t> indices;
  std::vector<float> values;
};

// Appends one example; on a malformed line, fails and appends nothing.
absl::Status ParseLine(absl::string_view line, LogregData* data) {
  std::vector<absl::string_view> items =
      absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
  double label = 0;
  if (items.empty() || !absl::SimpleAtod(items[0], &label) ||
      (label != 0 && label != 1 && label != -1)) {
    return absl::InvalidArgumentError("label must be 0, 1, -1 or +1");
  }
  const size_t start = data->indices.size();
  for (size_t i = 1; i < items.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(items[i], absl::MaxSplits(':', 1));
    uint64_t index = 0;
    float value = 0;
    if (!absl::SimpleAtoi(kv.first, &index) ||
        !absl::SimpleAtof(kv.second, &value) || !std::isfinite(value)) {
      data->indices.resize(start);
      data->values.resize(start);
      return absl::InvalidArgumentError(absl::StrCat(
          "feature ", i, " '", absl::CHexEscape(items[i].substr(0, 32)),
          "' is not idx:value"));
    }
    data->indices.push_back(index);
    data->values.push_back(value);
  }
  data->labels.push_back(label == 1 ? 1.0f : 0.0f);
  data->starts.push_back(data->indices.size());
  return absl::OkStatus();
}

class LogregModel : public Model {
 public:
  explicit LogregModel(bool skip_bad_lines) : skip_bad_lines_(skip_bad_lines) {}

  absl::StatusOr<std::unique_ptr<Dataset>> ReadData(
      const std::string& path) const override {
    auto data = std::make_unique<LogregData>();
    PARAMD_RETURN_IF_ERROR(ReadDataLines(
        path, skip_bad_lines_,
        [&data](absl::string_view line) {
          if (line.find_first_not_of(" \t\r") == absl::string_view::npos ||
              line[0] == '#') {
            return absl::OkStatus();
          }
          return ParseLine(line, data.get());
        },
        data->mutable_skipped_lines()));
    return data;
  }

  void Needs(const Dataset& dataset, int64_t begin, int64_t end,
             ParamRequest* request) const override {
    const auto& data = static_cast<const LogregData&>(dataset);
    std::vector<uint64_t>& keys = request->sparse["w"];
    keys.clear();
    for (int64_t e = begin; e < end; ++e) {
      const int64_t row = data.Index(e);
      keys.insert(keys.end(), data.indices.begin() + data.starts[row],
                  data.indices.begin() + data.starts[row + 1]);
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    request->dense.insert("bias");
  }

  BatchStats Compute(const Dataset& dataset, int64_t begin, int64_t end,
                     const Params& params, Params* grads) const override {
    const auto& data = static_cast<const LogregData&>(dataset);
    const SparseRows& w = params.sparse.at("w");
    const float bias = params.dense.at("bias")[0];
    BatchStats stats;
    stats.examples = end - begin;
    const float inv_n = 1.0f / std::max<int64_t>(1, stats.examples);
    for (int64_t e = begin; e < end; ++e) {
      const int64_t row = data.Index(e);
      double z = bias;
      for (int64_t f = data.starts[row]; f < data.starts[row + 1]; ++f) {
        z += w.Row(data.indices[f])[0] * data.values[f];
      }
      const float y = data.labels[row];
      // log(1 + exp(-z)) for y = 1, log(1 + exp(z)) for y = 0, stably.
      const double margin = y == 1.0f ? z : -z;
      stats.loss_sum +=
          std::max(-margin, 0.0) + std::log1p(std::exp(-std::abs(margin)));
      const double p = 1.0 / (1.0 + std::exp(-z));
      stats.correct += (p >= 0.5) == (y == 1.0f);
      if (grads == nullptr) continue;
      const float g = static_cast<float>(p - y) * inv_n;
      grads->dense["bias"][0] += g;
      SparseRows& gw = grads->sparse["w"];
      for (int64_t f = data.starts[row]; f < data.starts[row + 1]; ++f) {
        gw.Row(data.indices[f])[0] += g * data.values[f];
      }
    }
    return stats;
  }

 private:
  const bool skip_bad_lines_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> CreateLogregModel(const JobConfig& job) {
  const TableConfig* w = job.FindTable("w");
  if (w == nullptr || !w->sparse || w->width != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        job.source, ": model logreg needs table \"w\": sparse, width 1"));
  }
  const TableConfig* bias = job.FindTable("bias");
  if (bias == nullptr || bias->sparse || bias->size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        job.source, ": model logreg needs table \"bias\": dense, shape [1]"));
  }
  return std::unique_ptr<Model>(new LogregModel(job.skip_bad_lines));
}

}  // namespace paramd
