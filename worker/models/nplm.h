// The neural probabilistic language model of Bengio et al. (2003): each
// token is predicted from the n-1 tokens before it through shared word
// embeddings C, a tanh hidden layer and a softmax over the vocabulary:
//   x = [C[w_{t-n+1}] ... C[w_{t-1}]]   (oldest first)
//   a = tanh(d + H x)
//   y = b + U a (+ W x when direct)
//   loss = -log softmax(y)[w_t]          (nats)
//
// Model params (JobConfig.model.params): order n (default 5), embedding_dim m,
// hidden h, vocab_size V, direct (0 or 1, default 0) and pad_id (default 0),
// the token used for context positions before the start of a file.
//
// Tables: "C" sparse of width m keyed by word id; dense "H" [h, (n-1)*m],
// "d" [h], "U" [V, h], "b" [V], and "W" [V, (n-1)*m] only when direct.
#ifndef PARAMD_WORKER_MODELS_NPLM_H_
#define PARAMD_WORKER_MODELS_NPLM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "worker/models/model.h"
#include "worker/params.h"

namespace paramd {

// Sizes of an nplm.
struct NplmOptions {
  int64_t order = 5;          // n: a token is predicted from the n-1 before it
  int64_t embedding_dim = 0;  // m: floats per row of C
  int64_t hidden = 0;         // h: tanh units
  int64_t vocab_size = 0;     // V
  bool direct = false;        // whether W connects x to the output
  int64_t pad_id = 0;         // context token before the start of a file
  bool skip_bad_lines = false;  // data.bad_lines: skip

  // Words of context, n-1.
  int64_t context() const { return order - 1; }
  // Width of x, (n-1)*m.
  int64_t input_dim() const { return context() * embedding_dim; }
};

// A token stream read from one file. Example t predicts token t.
// Thread-compatible.
class NplmDataset : public Dataset {
 public:
  explicit NplmDataset(std::vector<int32_t> tokens);

  int64_t size() const override { return tokens_.size(); }
  const std::vector<int32_t>& tokens() const { return tokens_; }

 private:
  std::vector<int32_t> tokens_;
};

// Thread-compatible; Compute() may run on several threads at once. Each
// thread keeps a scratch workspace (about batch * (V + 2(n-1)m + 2h) floats)
// alive between calls so that batches allocate nothing.
class NplmModel : public Model {
 public:
  // REQUIRES: options are valid (CreateNplmModel checks them).
  explicit NplmModel(const NplmOptions& options);

  // Reads whitespace-separated decimal token ids. Fails with InvalidArgument
  // naming the file, line and item for a non-integer or an id >= vocab_size.
  absl::StatusOr<std::unique_ptr<Dataset>> ReadData(
      const std::string& path) const override;

  // Asks for the dense tables and the sorted unique context words of
  // examples [begin, end) in "C".
  void Needs(const Dataset& data, int64_t begin, int64_t end,
             ParamRequest* request) const override;

  // REQUIRES: `data` came from ReadData() of this model,
  // 0 <= begin <= end <= data.size(), and `params` holds what Needs() asked.
  BatchStats Compute(const Dataset& data, int64_t begin, int64_t end,
                     const Params& params, Params* grads) const override;

  // The logits y over the vocabulary for example `t` of `data`: the scores
  // of what comes at position t, from the n-1 tokens before it. REQUIRES:
  // as Compute(), with 0 <= t < data.size().
  std::vector<float> Logits(const Dataset& data, int64_t t,
                            const Params& params) const;

  const NplmOptions& options() const { return options_; }

 private:
  const NplmOptions options_;
};

// Builds an nplm from the job's model params. Fails with InvalidArgument if a
// param is missing or out of range, or if a table is missing or has the wrong
// kind or shape (naming the table and the expected and actual shapes).
absl::StatusOr<std::unique_ptr<Model>> CreateNplmModel(const JobConfig& job);

}  // namespace paramd

#endif  // PARAMD_WORKER_MODELS_NPLM_H_
