// Micro-benchmarks of a parameter server's per-byte work: the optimizer
// updates, the finiteness test, decoding a push's slices, and the shard
// map. "bytes" are the gradient's float bytes, so bytes_per_second compares
// with paramd-bench's GB/s.
//   build/bin/server_bench [--benchmark_filter=Optimizer]
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/config.h"
#include "common/shard_map.h"
#include "common/tensor.h"
#include "paramd/v1/ps.pb.h"
#include "server/optimizer.h"
#include "server/request_decoder.h"

namespace paramd {
namespace {

const char* const kKinds[] = {"sgd", "momentum", "adagrad", "adam"};

// Args: optimizer kind (index into kKinds), floats per update.
void BM_OptimizerApply(benchmark::State& state) {
  OptimizerConfig config;
  config.kind = kKinds[state.range(0)];
  config.learning_rate = 0.01;
  config.weight_decay = 1e-4;
  std::unique_ptr<Optimizer> optimizer = Optimizer::Create(config).value();
  const int64_t n = state.range(1);
  std::vector<float> grad(n, 1e-3f), params(n, 0.5f);
  std::vector<float> slots(optimizer->slots() * n);
  for (int k = 0; k < optimizer->slots(); ++k) {
    std::fill_n(slots.begin() + k * n, n, optimizer->InitialState()[k]);
  }
  int64_t step = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(optimizer->Apply(
        step++, grad, absl::MakeSpan(params), absl::MakeSpan(slots)));
  }
  state.SetLabel(config.kind);
  state.SetBytesProcessed(state.iterations() * n * sizeof(float));
}
BENCHMARK(BM_OptimizerApply)
    ->ArgsProduct({{0, 1, 2, 3}, {16 << 10, 256 << 10, 4 << 20}});

void BM_CheckFinite(benchmark::State& state) {
  const std::vector<float> values(state.range(0), 0.25f);
  for (auto _ : state) {
    benchmark::DoNotOptimize(CheckFinite(values, "grad"));
  }
  state.SetBytesProcessed(state.iterations() * values.size() * sizeof(float));
}
BENCHMARK(BM_CheckFinite)->Arg(16 << 10)->Arg(256 << 10)->Arg(4 << 20);

// A push of one dense slice of `floats` floats: parsed from the wire, then
// decoded into ShardStore slices (in place, no copy).
void BM_DecodePush(benchmark::State& state) {
  const int64_t floats = state.range(0);
  paramd::v1::PushRequest request;
  paramd::v1::TableSlice* slice = request.add_slices();
  slice->set_table("dense");
  slice->set_length(floats);
  AppendFloats(std::vector<float>(floats, 0.5f), slice->mutable_values());
  const std::string wire = request.SerializeAsString();
  for (auto _ : state) {
    paramd::v1::PushRequest parsed;
    benchmark::DoNotOptimize(parsed.ParseFromString(wire));
    DecodedSlices decoded;
    benchmark::DoNotOptimize(DecodeSlices(parsed.slices(), true, &decoded));
  }
  state.SetBytesProcessed(state.iterations() * floats * sizeof(float));
}
BENCHMARK(BM_DecodePush)->Arg(16 << 10)->Arg(256 << 10)->Arg(4 << 20);

void BM_ShardForKey(benchmark::State& state) {
  const ShardMap map = ShardMap::Create(state.range(0)).value();
  uint64_t key = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map.ShardForKey(key));
    key += 0x9E3779B97F4A7C15ull;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShardForKey)->Arg(2)->Arg(16)->Arg(1024);

}  // namespace
}  // namespace paramd

BENCHMARK_MAIN();
