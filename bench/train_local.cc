// train_local: trains a job's model in one process, with no parameter
// server, through the same model, tables and optimizer code the cluster
// uses. It is the baseline the distributed run must match: each step
// applies the mean gradient of batch_size x num_workers examples, which is
// what one bsp round with combine: mean applies.
//
//   train_local --config=config/brown-nplm.yaml [--epochs=N]
//
// Prints per-epoch training loss and eval metrics, then test metrics.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/rpc_util.h"
#include "server/shard_store.h"
#include "worker/models/model.h"

ABSL_FLAG(std::string, config, "", "Path to the cluster YAML.");
ABSL_FLAG(int, epochs, 0, "Epochs to train (default: the YAML's).");

namespace paramd {
namespace {

// Reads the rows and tables `request` names from `store` into `params`.
void Read(ShardStore* store, const JobConfig& job, const ParamRequest& request,
          Params* params) {
  params->dense.clear();
  params->sparse.clear();
  for (const std::string& name : request.dense) {
    std::vector<float>& values = params->dense[name];
    values.resize(job.FindTable(name)->size());
    Slice slice{name, {}, 0, static_cast<int64_t>(values.size()), {}};
    store->Read(slice, absl::MakeSpan(values));
  }
  for (const auto& [name, keys] : request.sparse) {
    SparseRows& rows = params->sparse[name];
    rows = SparseRows(job.FindTable(name)->width);
    for (uint64_t key : keys) rows.Add(key);
    Slice slice{name, keys, 0, 0, {}};
    store->Read(slice, absl::MakeSpan(rows.values()));
  }
}

// Applies `grads` (a batch mean) with each table's optimizer.
void Apply(ShardStore* store, const Params& grads) {
  for (const auto& [name, values] : grads.dense) {
    store->Apply({name, {}, 0, static_cast<int64_t>(values.size()), values},
                 1.0f);
  }
  for (const auto& [name, rows] : grads.sparse) {
    store->Apply({name, rows.keys(), 0, 0, rows.values()}, 1.0f);
  }
}

BatchStats Score(ShardStore* store, const JobConfig& job, const Model& model,
                 const Dataset& data) {
  ParamRequest request;
  model.Needs(data, 0, data.size(), &request);
  Params params;
  Read(store, job, request, &params);
  BatchStats total;
  for (int64_t begin = 0; begin < data.size(); begin += 512) {
    const int64_t end = std::min<int64_t>(data.size(), begin + 512);
    const BatchStats s = model.Compute(data, begin, end, params, nullptr);
    total.examples += s.examples;
    total.loss_sum += s.loss_sum;
    total.correct += s.correct;
  }
  return total;
}

void PrintScore(const char* split, const BatchStats& s) {
  const double loss = s.loss_sum / std::max<int64_t>(1, s.examples);
  std::printf("  %s: loss %.4f, perplexity %.2f, accuracy %.4f\n", split, loss,
              std::exp(loss), static_cast<double>(s.correct) / s.examples);
}

int Run(const JobConfig& job, int epochs) {
  auto model = CreateModel(job);
  auto shards = ListTrainShards(job);
  auto store = ShardStore::Create(job, 0, 1);
  if (!model.ok() || !shards.ok() || !store.ok()) {
    std::fprintf(
        stderr, "train_local: %s %s %s\n", model.status().ToString().c_str(),
        shards.status().ToString().c_str(), store.status().ToString().c_str());
    return 1;
  }
  const int64_t batch = int64_t{job.batch_size} * job.num_workers;
  const absl::Time start = absl::Now();
  int64_t tokens = 0;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    BatchStats train;
    for (const std::string& path : *shards) {
      auto data = (*model)->ReadData(path);
      if (!data.ok()) {
        std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
        return 1;
      }
      // The order the cluster's trainers use (worker/trainer.cc).
      if (job.shuffle) {
        (*data)->Shuffle(ShardShuffleSeed(
            epoch - 1, static_cast<int32_t>(&path - shards->data())));
      }
      for (int64_t begin = 0; begin < (*data)->size(); begin += batch) {
        const int64_t end = std::min((*data)->size(), begin + batch);
        ParamRequest request;
        (*model)->Needs(**data, begin, end, &request);
        Params params;
        Read(store->get(), job, request, &params);
        Params grads = params.ZerosLike();
        const BatchStats s =
            (*model)->Compute(**data, begin, end, params, &grads);
        Apply(store->get(), grads);
        train.examples += s.examples;
        train.loss_sum += s.loss_sum;
      }
    }
    tokens += train.examples;
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    std::printf("epoch %d: train loss %.4f, %.0f examples/s, %.0f s\n", epoch,
                train.loss_sum / train.examples, tokens / seconds, seconds);
    if (!job.eval_path.empty()) {
      PrintScore("eval", Score(store->get(), job, **model,
                               **(*model)->ReadData(job.eval_path)));
    }
    std::fflush(stdout);
  }
  if (!job.test_path.empty()) {
    PrintScore("test", Score(store->get(), job, **model,
                             **(*model)->ReadData(job.test_path)));
  }
  return 0;
}

}  // namespace
}  // namespace paramd

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  paramd::KeepLargeBuffersMapped();
  auto job = paramd::LoadJobConfig(absl::GetFlag(FLAGS_config));
  if (!job.ok()) {
    std::fprintf(stderr, "%s\n", job.status().ToString().c_str());
    return 1;
  }
  const int epochs = absl::GetFlag(FLAGS_epochs) > 0
                         ? absl::GetFlag(FLAGS_epochs)
                         : job->epochs;
  return paramd::Run(*job, epochs);
}
