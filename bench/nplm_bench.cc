// Micro-benchmarks of NplmModel::Compute at the sizes of Bengio et al.'s
// MLP1 (V=14039, m=60, h=50, n=5, direct connections) and batch 256, next to
// the same matrix products alone as a GEMM-speed baseline. "items" are
// tokens (examples); FLOPS counts the GEMM multiply-adds as 2 flops each.
#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "common/config.h"
#include "worker/models/model.h"
#include "worker/models/nplm.h"
#include "worker/params.h"

namespace paramd {
namespace {

constexpr int64_t kVocab = 14039;
constexpr int64_t kEmbed = 60;
constexpr int64_t kHidden = 50;
constexpr int64_t kOrder = 5;
constexpr int64_t kInput = (kOrder - 1) * kEmbed;
constexpr int64_t kBatch = 256;
constexpr int64_t kNumBatches = 16;  // distinct batches cycled through

using RowMatrix =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Flops of one batch's products: forward H, U, W; backward twice as many.
double FlopsPerBatch(bool with_grads) {
  const double forward =
      2.0 * kBatch * (kInput * kHidden + kHidden * kVocab + kInput * kVocab);
  return with_grads ? 3 * forward : forward;
}

TableConfig Table(const std::string& name, std::vector<int64_t> shape) {
  TableConfig table;
  table.name = name;
  table.shape = std::move(shape);
  return table;
}

JobConfig MlpJob() {
  JobConfig job;
  job.source = "nplm_bench";
  job.model.type = "nplm";
  job.model.params = {{"order", kOrder},   {"embedding_dim", kEmbed},
                      {"hidden", kHidden}, {"vocab_size", kVocab},
                      {"direct", 1},       {"pad_id", 0}};
  TableConfig c = Table("C", {});
  c.sparse = true;
  c.width = kEmbed;
  job.tables = {c,
                Table("H", {kHidden, kInput}),
                Table("d", {kHidden}),
                Table("U", {kVocab, kHidden}),
                Table("b", {kVocab}),
                Table("W", {kVocab, kInput})};
  return job;
}

// Every dense table plus every row of C, so that any batch can run.
Params RandomParams(std::mt19937* rng) {
  std::uniform_real_distribution<float> uniform(-0.1f, 0.1f);
  Params params;
  SparseRows c(kEmbed);
  for (int64_t key = 0; key < kVocab; ++key) c.Add(key);
  params.sparse["C"] = std::move(c);
  for (const TableConfig& table : MlpJob().tables) {
    if (table.sparse) continue;
    int64_t size = 1;
    for (int64_t dim : table.shape) size *= dim;
    params.dense[table.name].resize(size);
  }
  for (auto& [name, values] : params.dense) {
    for (float& value : values) value = uniform(*rng);
  }
  for (float& value : params.sparse["C"].values()) value = uniform(*rng);
  return params;
}

NplmDataset RandomTokens(std::mt19937* rng) {
  std::uniform_int_distribution<int32_t> word(0, kVocab - 1);
  std::vector<int32_t> tokens(kBatch * kNumBatches);
  for (int32_t& token : tokens) token = word(*rng);
  return NplmDataset(std::move(tokens));
}

// Arg: 1 with gradients (a training step), 0 loss only (evaluation).
// The gradient Params is zeroed once; a trainer zeroes it per batch.
void BM_NplmCompute(benchmark::State& state) {
  const bool with_grads = state.range(0) != 0;
  absl::StatusOr<std::unique_ptr<Model>> model = CreateNplmModel(MlpJob());
  if (!model.ok()) {
    state.SkipWithError(std::string(model.status().message()).c_str());
    return;
  }
  std::mt19937 rng(2003);
  const NplmDataset data = RandomTokens(&rng);
  const Params params = RandomParams(&rng);
  Params grads = params.ZerosLike();
  int64_t batch = 0;
  for (auto _ : state) {
    const int64_t begin = (batch++ % kNumBatches) * kBatch;
    BatchStats stats = (*model)->Compute(data, begin, begin + kBatch, params,
                                         with_grads ? &grads : nullptr);
    benchmark::DoNotOptimize(stats);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["FLOPS"] =
      benchmark::Counter(FlopsPerBatch(with_grads) * state.iterations(),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_NplmCompute)
    ->ArgName("grads")
    ->Arg(1)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same products as a training step, alone: the speed to compare with.
void BM_GemmBaseline(benchmark::State& state) {
  const RowMatrix x = RowMatrix::Random(kBatch, kInput);
  const RowMatrix h = RowMatrix::Random(kHidden, kInput);
  const RowMatrix u = RowMatrix::Random(kVocab, kHidden);
  const RowMatrix w = RowMatrix::Random(kVocab, kInput);
  RowMatrix a(kBatch, kHidden), y(kBatch, kVocab), da(kBatch, kHidden);
  RowMatrix dx(kBatch, kInput);
  RowMatrix gh = RowMatrix::Zero(kHidden, kInput);
  RowMatrix gu = RowMatrix::Zero(kVocab, kHidden);
  RowMatrix gw = RowMatrix::Zero(kVocab, kInput);
  for (auto _ : state) {
    a.noalias() = x * h.transpose();
    y.noalias() = a * u.transpose();
    y.noalias() += x * w.transpose();
    gu.noalias() += y.transpose() * a;
    gw.noalias() += y.transpose() * x;
    da.noalias() = y * u;
    gh.noalias() += da.transpose() * x;
    dx.noalias() = da * h;
    dx.noalias() += y * w;
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["FLOPS"] = benchmark::Counter(
      FlopsPerBatch(true) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GemmBaseline)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace paramd

BENCHMARK_MAIN();
