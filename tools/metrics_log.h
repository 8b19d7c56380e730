// The metrics CSV of a run: one row per progress report, with the training
// loss over the examples since the previous row and the latest evaluation.
#ifndef PARAMD_TOOLS_METRICS_LOG_H_
#define PARAMD_TOOLS_METRICS_LOG_H_

#include <cstdint>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "paramd/v1/coordinator.pb.h"

namespace paramd {

// Columns: time_s, examples, epoch (fractional), train_loss, eval_examples,
// eval_loss, eval_accuracy, eval_perplexity. Eval columns are filled only on
// the row where a new evaluation first appears, and train_loss only when
// examples were trained since the last row; other cells stay empty.
// Thread-compatible.
class MetricsLog {
 public:
  // Creates (truncates) `path` and writes the header or, if `resume` and
  // `path` has rows, appends to it with time_s going on from its last row.
  absl::Status Open(const std::string& path, bool resume = false);

  // Appends a row for `status` taken `elapsed_s` into this launch.
  void Append(const paramd::v1::GetStatusResponse& status, double elapsed_s);

 private:
  std::ofstream out_;
  double time_offset_s_ = 0;  // time_s of the resumed run's last row
  double last_loss_sum_ = 0;
  uint64_t last_loss_examples_ = 0;
  double last_eval_examples_ = -1;
};

}  // namespace paramd

#endif  // PARAMD_TOOLS_METRICS_LOG_H_
