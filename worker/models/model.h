// The interface every model implements. A model reads its own data format,
// says which parameters a minibatch needs, and computes loss and gradients.
// Models never see RPCs: the trainer pulls and pushes for them.
#ifndef PARAMD_WORKER_MODELS_MODEL_H_
#define PARAMD_WORKER_MODELS_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "worker/params.h"

namespace paramd {

// Examples read from one file. Each model defines its own subclass and
// reads example i's data at Index(i), so a shuffle reorders the examples
// without moving them. Thread-compatible.
class Dataset {
 public:
  virtual ~Dataset() = default;
  // Number of examples (a logreg row, a predicted token).
  virtual int64_t size() const = 0;

  // Puts the examples in a random order drawn from `seed`; the same seed
  // gives the same order. Minibatches of consecutive text are correlated:
  // shuffled ones make SGD converge far better.
  void Shuffle(uint64_t seed);

  // Where example i is stored (i itself until Shuffle()).
  int64_t Index(int64_t i) const { return order_.empty() ? i : order_[i]; }

  // Lines of the file that were malformed and skipped (data.bad_lines).
  int64_t skipped_lines() const { return skipped_lines_; }
  int64_t* mutable_skipped_lines() { return &skipped_lines_; }

 private:
  std::vector<int64_t> order_;
  int64_t skipped_lines_ = 0;
};

// The shuffle seed of data shard `shard` in `epoch`, so whichever worker
// trains a shard, its examples come in the same order.
uint64_t ShardShuffleSeed(int32_t epoch, int32_t shard);

// What a minibatch reads: whole dense tables and some rows of sparse ones.
struct ParamRequest {
  std::set<std::string> dense;
  std::map<std::string, std::vector<uint64_t>> sparse;  // sorted, unique
};

// Loss over a minibatch.
struct BatchStats {
  int64_t examples = 0;
  double loss_sum = 0;  // sum over examples of the per-example loss (nats)
  int64_t correct = 0;  // classification: examples predicted right
};

// Thread-compatible; Compute() is const and may run on several threads.
class Model {
 public:
  virtual ~Model() = default;

  // Reads a data file (see ReadDataLines): a malformed line fails the read
  // with InvalidArgument naming the file and line, or is skipped when the
  // job says data.bad_lines: skip.
  virtual absl::StatusOr<std::unique_ptr<Dataset>> ReadData(
      const std::string& path) const = 0;

  // Fills `request` with what examples [begin, end) of `data` need.
  virtual void Needs(const Dataset& data, int64_t begin, int64_t end,
                     ParamRequest* request) const = 0;

  // Returns the loss of examples [begin, end) under `params`. When `grads` is
  // not null it must be params.ZerosLike(); it receives the gradient of the
  // mean loss over the batch.
  virtual BatchStats Compute(const Dataset& data, int64_t begin, int64_t end,
                             const Params& params, Params* grads) const = 0;
};

// Builds the model the job names, checking that the job declares the tables
// it needs with the right shapes.
absl::StatusOr<std::unique_ptr<Model>> CreateModel(const JobConfig& job);

}  // namespace paramd

#endif  // PARAMD_WORKER_MODELS_MODEL_H_
