#include "worker/models/nplm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "Eigen/Core"
#include "absl/algorithm/container.h"
#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "worker/models/data_lines.h"

namespace paramd {
namespace {

// Batch-major matrices over the flat row-major storage of Params.
using RowMatrix =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;
using RowVectorMap = Eigen::Map<Eigen::RowVectorXf>;
using ConstRowVectorMap = Eigen::Map<const Eigen::RowVectorXf>;

constexpr char kEmbeddings[] = "C";
constexpr const char* kKnownParams[] = {
    "order", "embedding_dim", "hidden", "vocab_size", "direct", "pad_id"};
constexpr int64_t kMaxOrder = 1024;
constexpr int64_t kMaxWidth = int64_t{1} << 20;
constexpr int64_t kMaxVocab = std::numeric_limits<int32_t>::max();

// An InvalidArgument error about `job`'s config.
absl::Status JobError(const JobConfig& job, absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(job.source, ": model nplm: ", message));
}

bool IsKnownParam(const std::string& name) {
  for (const char* known : kKnownParams) {
    if (name == known) return true;
  }
  return false;
}

absl::Status CheckKnownParams(const JobConfig& job) {
  for (const auto& param : job.model.params) {
    if (!IsKnownParam(param.first)) {
      return JobError(job, absl::StrCat("unknown param \"", param.first, "\""));
    }
  }
  return absl::OkStatus();
}

// Returns model param `name` as an integer in [lo, hi], or `fallback` when it
// is absent; a param without fallback is required.
absl::StatusOr<int64_t> IntParam(const JobConfig& job, const std::string& name,
                                 std::optional<int64_t> fallback, int64_t lo,
                                 int64_t hi) {
  auto it = job.model.params.find(name);
  if (it == job.model.params.end()) {
    if (fallback.has_value()) return *fallback;
    return JobError(job, absl::StrCat("param \"", name, "\" is required"));
  }
  const double value = it->second;
  if (!std::isfinite(value) || value != std::floor(value) ||
      value < static_cast<double>(lo) || value > static_cast<double>(hi)) {
    return JobError(
        job, absl::StrCat("param \"", name, "\" must be an integer in [", lo,
                          ", ", hi, "], got ", value));
  }
  return static_cast<int64_t>(value);
}

absl::StatusOr<NplmOptions> ParseOptions(const JobConfig& job) {
  PARAMD_RETURN_IF_ERROR(CheckKnownParams(job));
  NplmOptions o;
  PARAMD_ASSIGN_OR_RETURN(o.order, IntParam(job, "order", 5, 2, kMaxOrder));
  PARAMD_ASSIGN_OR_RETURN(
      o.embedding_dim,
      IntParam(job, "embedding_dim", std::nullopt, 1, kMaxWidth));
  PARAMD_ASSIGN_OR_RETURN(o.hidden,
                          IntParam(job, "hidden", std::nullopt, 1, kMaxWidth));
  PARAMD_ASSIGN_OR_RETURN(
      o.vocab_size, IntParam(job, "vocab_size", std::nullopt, 1, kMaxVocab));
  PARAMD_ASSIGN_OR_RETURN(const int64_t direct,
                          IntParam(job, "direct", 0, 0, 1));
  o.direct = direct == 1;
  PARAMD_ASSIGN_OR_RETURN(o.pad_id,
                          IntParam(job, "pad_id", 0, 0, o.vocab_size - 1));
  return o;
}

const TableConfig* LookupTable(const JobConfig& job, const std::string& name) {
  for (const TableConfig& table : job.tables) {
    if (table.name == name) return &table;
  }
  return nullptr;
}

std::string DescribeTable(const TableConfig& table) {
  if (table.sparse) return absl::StrCat("sparse width ", table.width);
  return absl::StrCat("[", absl::StrJoin(table.shape, ", "), "]");
}

absl::Status CheckDenseTable(const JobConfig& job, const std::string& name,
                             const std::vector<int64_t>& shape) {
  const std::string expected = absl::StrCat(
      "table \"", name, "\" must be dense [", absl::StrJoin(shape, ", "), "]");
  const TableConfig* table = LookupTable(job, name);
  if (table == nullptr) {
    return JobError(job, absl::StrCat(expected, ", but it is not declared"));
  }
  if (table->sparse || table->shape != shape) {
    return JobError(job,
                    absl::StrCat(expected, ", got ", DescribeTable(*table)));
  }
  return absl::OkStatus();
}

absl::Status CheckSparseTable(const JobConfig& job, const std::string& name,
                              int64_t width) {
  const std::string expected =
      absl::StrCat("table \"", name, "\" must be sparse width ", width);
  const TableConfig* table = LookupTable(job, name);
  if (table == nullptr) {
    return JobError(job, absl::StrCat(expected, ", but it is not declared"));
  }
  if (!table->sparse || table->width != width) {
    return JobError(job,
                    absl::StrCat(expected, ", got ", DescribeTable(*table)));
  }
  return absl::OkStatus();
}

absl::Status CheckTables(const JobConfig& job, const NplmOptions& o) {
  PARAMD_RETURN_IF_ERROR(CheckSparseTable(job, kEmbeddings, o.embedding_dim));
  PARAMD_RETURN_IF_ERROR(CheckDenseTable(job, "H", {o.hidden, o.input_dim()}));
  PARAMD_RETURN_IF_ERROR(CheckDenseTable(job, "d", {o.hidden}));
  PARAMD_RETURN_IF_ERROR(CheckDenseTable(job, "U", {o.vocab_size, o.hidden}));
  PARAMD_RETURN_IF_ERROR(CheckDenseTable(job, "b", {o.vocab_size}));
  if (o.direct) {
    PARAMD_RETURN_IF_ERROR(
        CheckDenseTable(job, "W", {o.vocab_size, o.input_dim()}));
  }
  return absl::OkStatus();
}

// Shortens a bad item for an error message.
std::string Quote(absl::string_view item) {
  constexpr size_t kMaxShown = 40;
  if (item.size() <= kMaxShown) {
    return absl::StrCat("\"", absl::CHexEscape(item), "\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(item.substr(0, kMaxShown)),
                      "...\"");
}

// Appends the token ids on one line to `tokens`; on a malformed line, fails
// and appends nothing.
absl::Status ParseLine(absl::string_view line, int64_t vocab_size,
                       std::vector<int32_t>* tokens) {
  const size_t start = tokens->size();
  for (absl::string_view item :
       absl::StrSplit(line, absl::ByAnyChar(" \t\r\f\v"), absl::SkipEmpty())) {
    uint64_t id = 0;
    absl::Status bad;
    if (!absl::c_all_of(item, absl::ascii_isdigit) ||
        !absl::SimpleAtoi(item, &id)) {
      bad = absl::InvalidArgumentError(absl::StrCat(
          "token ", Quote(item), " is not a non-negative integer"));
    } else if (id >= static_cast<uint64_t>(vocab_size)) {
      bad = absl::InvalidArgumentError(
          absl::StrCat("token id ", Quote(item),
                       " is out of range for vocab_size ", vocab_size));
    }
    if (!bad.ok()) {
      tokens->resize(start);
      return bad;
    }
    tokens->push_back(static_cast<int32_t>(id));
  }
  return absl::OkStatus();
}

// The j-th context word (oldest first) of example `e` of `data`.
int32_t ContextWord(const NplmDataset& data, int64_t e, int64_t j,
                    const NplmOptions& o) {
  const int64_t position = data.Index(e) - o.context() + j;
  return position < 0 ? static_cast<int32_t>(o.pad_id)
                      : data.tokens()[position];
}

// Returns dense table `name` of `params` (const or not).
template <typename ParamsT>
auto& DenseTable(ParamsT& params, const char* name, int64_t size) {
  auto it = params.dense.find(name);
  ABSL_RAW_CHECK(it != params.dense.end(), "nplm: dense table missing");
  ABSL_RAW_CHECK(static_cast<int64_t>(it->second.size()) == size,
                 "nplm: dense table has the wrong size");
  return it->second;
}

template <typename ParamsT>
auto& Embeddings(ParamsT& params, int64_t width) {
  auto it = params.sparse.find(kEmbeddings);
  ABSL_RAW_CHECK(it != params.sparse.end(), "nplm: table C missing");
  ABSL_RAW_CHECK(it->second.width() == width, "nplm: table C has wrong width");
  return it->second;
}

// Views of the dense tables; `w` is empty unless direct.
template <typename Matrix, typename Vector>
struct DenseViews {
  Matrix h, u, w;
  Vector d, b;
};
using Weights = DenseViews<ConstMatrixMap, ConstRowVectorMap>;
using Gradients = DenseViews<MatrixMap, RowVectorMap>;

template <typename Views, typename ParamsT>
Views ViewTables(ParamsT& params, const NplmOptions& o) {
  const int64_t v = o.vocab_size, h = o.hidden, in = o.input_dim();
  return Views{{DenseTable(params, "H", h * in).data(), h, in},
               {DenseTable(params, "U", v * h).data(), v, h},
               {o.direct ? DenseTable(params, "W", v * in).data() : nullptr,
                o.direct ? v : 0, o.direct ? in : 0},
               {DenseTable(params, "d", h).data(), h},
               {DenseTable(params, "b", v).data(), v}};
}

// Per-thread scratch, reused across batches.
struct Workspace {
  RowMatrix x;   // [B, (n-1)m] concatenated context embeddings
  RowMatrix a;   // [B, h] hidden activations
  RowMatrix y;   // [B, V] logits, then dLoss/dy
  RowMatrix da;  // [B, h] dLoss/d(pre-activation)
  RowMatrix dx;  // [B, (n-1)m] dLoss/dx
};

void GatherContext(const NplmDataset& data, int64_t begin, int64_t end,
                   const SparseRows& c, const NplmOptions& o, RowMatrix* x) {
  const int64_t m = o.embedding_dim;
  x->resize(end - begin, o.input_dim());
  for (int64_t t = begin; t < end; ++t) {
    for (int64_t j = 0; j < o.context(); ++j) {
      absl::Span<const float> row = c.Row(ContextWord(data, t, j, o));
      ABSL_RAW_CHECK(static_cast<int64_t>(row.size()) == m,
                     "nplm: context word missing from table C");
      std::copy(row.begin(), row.end(),
                x->data() + (t - begin) * x->cols() + j * m);
    }
  }
}

// Sets every row of `m` to `bias`, resizing it to [rows, bias.size()]. (A
// loop, as Eigen's replicate() evaluates with a division per element.)
void FillRows(const ConstRowVectorMap& bias, Eigen::Index rows, RowMatrix* m) {
  m->resize(rows, bias.size());
  for (Eigen::Index i = 0; i < rows; ++i) m->row(i) = bias;
}

// Fills the activations and the logits. The biases go in first and the
// products accumulate onto them, which saves a pass over the [B, V] logits.
void Forward(const Weights& w, bool direct, Workspace* ws) {
  const Eigen::Index batch = ws->x.rows();
  FillRows(w.d, batch, &ws->a);
  ws->a.noalias() += ws->x * w.h.transpose();
  ws->a = ws->a.array().tanh();
  FillRows(w.b, batch, &ws->y);
  ws->y.noalias() += ws->a * w.u.transpose();
  if (direct) ws->y.noalias() += ws->x * w.w.transpose();
}

// Whether `target` is the first maximum of `row`, i.e. the prediction.
bool IsPrediction(const float* row, int64_t size, float max, int32_t target) {
  return row[target] == max && std::find(row, row + size, max) == row + target;
}

// Accumulates the loss and hits of each row of logits. With `want_grad`,
// turns each row into the gradient of the mean loss with respect to it.
void Softmax(const NplmDataset& data, int64_t begin, bool want_grad,
             RowMatrix* y, BatchStats* stats) {
  const float scale = 1.0f / static_cast<float>(y->rows());
  for (Eigen::Index i = 0; i < y->rows(); ++i) {
    auto row = y->row(i);
    const int32_t target = data.tokens()[data.Index(begin + i)];
    const float max = row.maxCoeff();
    if (IsPrediction(row.data(), row.size(), max, target)) ++stats->correct;
    const double target_logit = row(target) - max;
    row = (row.array() - max).exp();
    const float sum = row.sum();
    stats->loss_sum += std::log(static_cast<double>(sum)) - target_logit;
    if (want_grad) {
      row *= scale / sum;
      row(target) -= scale;
    }
  }
}

// Adds the gradients of the dense tables and leaves dLoss/dx in ws->dx.
void Backward(const Weights& w, bool direct, Workspace* ws, Gradients* g) {
  const RowMatrix& dy = ws->y;
  g->u.noalias() += dy.transpose() * ws->a;
  if (direct) g->w.noalias() += dy.transpose() * ws->x;
  for (Eigen::Index i = 0; i < dy.rows(); ++i) g->b += dy.row(i);
  ws->da.resize(dy.rows(), w.h.rows());
  ws->da.noalias() = dy * w.u;
  ws->da.array() *= 1.0f - ws->a.array().square();
  g->h.noalias() += ws->da.transpose() * ws->x;
  for (Eigen::Index i = 0; i < ws->da.rows(); ++i) g->d += ws->da.row(i);
  ws->dx.resize(dy.rows(), w.h.cols());
  ws->dx.noalias() = ws->da * w.h;
  if (direct) ws->dx.noalias() += dy * w.w;
}

void ScatterContext(const NplmDataset& data, int64_t begin, const RowMatrix& dx,
                    const NplmOptions& o, SparseRows* c) {
  const int64_t m = o.embedding_dim;
  for (Eigen::Index i = 0; i < dx.rows(); ++i) {
    for (int64_t j = 0; j < o.context(); ++j) {
      absl::Span<float> row = c->Row(ContextWord(data, begin + i, j, o));
      ABSL_RAW_CHECK(static_cast<int64_t>(row.size()) == m,
                     "nplm: context word missing from gradient table C");
      RowVectorMap(row.data(), m) += dx.row(i).segment(j * m, m);
    }
  }
}

}  // namespace

NplmDataset::NplmDataset(std::vector<int32_t> tokens)
    : tokens_(std::move(tokens)) {}

NplmModel::NplmModel(const NplmOptions& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<Dataset>> NplmModel::ReadData(
    const std::string& path) const {
  std::vector<int32_t> tokens;
  int64_t skipped = 0;
  PARAMD_RETURN_IF_ERROR(ReadDataLines(
      path, options_.skip_bad_lines,
      [&](absl::string_view line) {
        return ParseLine(line, options_.vocab_size, &tokens);
      },
      &skipped));
  auto data = std::make_unique<NplmDataset>(std::move(tokens));
  *data->mutable_skipped_lines() = skipped;
  return data;
}

void NplmModel::Needs(const Dataset& data, int64_t begin, int64_t end,
                      ParamRequest* request) const {
  const auto& nplm_data = static_cast<const NplmDataset&>(data);
  request->dense.insert({"H", "d", "U", "b"});
  if (options_.direct) request->dense.insert("W");
  std::vector<uint64_t>& keys = request->sparse[kEmbeddings];
  keys.reserve(keys.size() + (end - begin) * options_.context());
  for (int64_t t = begin; t < end; ++t) {
    for (int64_t j = 0; j < options_.context(); ++j) {
      keys.push_back(ContextWord(nplm_data, t, j, options_));
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
}

BatchStats NplmModel::Compute(const Dataset& data, int64_t begin, int64_t end,
                              const Params& params, Params* grads) const {
  BatchStats stats;
  stats.examples = end - begin;
  if (begin >= end) return stats;
  const auto& nplm_data = static_cast<const NplmDataset&>(data);
  thread_local Workspace ws;
  const Weights w = ViewTables<Weights>(params, options_);
  GatherContext(nplm_data, begin, end,
                Embeddings(params, options_.embedding_dim), options_, &ws.x);
  Forward(w, options_.direct, &ws);
  Softmax(nplm_data, begin, grads != nullptr, &ws.y, &stats);
  if (grads == nullptr) return stats;
  Gradients g = ViewTables<Gradients>(*grads, options_);
  Backward(w, options_.direct, &ws, &g);
  ScatterContext(nplm_data, begin, ws.dx, options_,
                 &Embeddings(*grads, options_.embedding_dim));
  return stats;
}

std::vector<float> NplmModel::Logits(const Dataset& data, int64_t t,
                                     const Params& params) const {
  thread_local Workspace ws;
  GatherContext(static_cast<const NplmDataset&>(data), t, t + 1,
                Embeddings(params, options_.embedding_dim), options_, &ws.x);
  Forward(ViewTables<Weights>(params, options_), options_.direct, &ws);
  return std::vector<float>(ws.y.data(), ws.y.data() + ws.y.cols());
}

absl::StatusOr<std::unique_ptr<Model>> CreateNplmModel(const JobConfig& job) {
  PARAMD_ASSIGN_OR_RETURN(NplmOptions options, ParseOptions(job));
  options.skip_bad_lines = job.skip_bad_lines;
  PARAMD_RETURN_IF_ERROR(CheckTables(job, options));
  return std::make_unique<NplmModel>(options);
}

}  // namespace paramd
