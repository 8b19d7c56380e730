// A worker's Prometheus metrics (common/metrics.h).
// Trainers:
//   paramd_worker_steps_total                  minibatch steps trained
//   paramd_worker_examples_total               examples trained
//   paramd_worker_examples_per_second          over the latest step
//   paramd_worker_step_seconds_total{phase}    time in pull, compute, push
// Evaluators (the latest held-out score; test_ once, at the end):
//   paramd_eval_loss, paramd_eval_perplexity, paramd_eval_accuracy,
//   paramd_eval_examples_seen                  training examples it reflects
#ifndef PARAMD_WORKER_WORKER_METRICS_H_
#define PARAMD_WORKER_WORKER_METRICS_H_

#include <map>
#include <string>

#include "absl/time/time.h"
#include "common/metrics.h"

namespace paramd {

struct WorkerMetrics {
  prometheus::Counter& steps;
  prometheus::Counter& examples;
  prometheus::Gauge& examples_per_second;
  prometheus::Counter& pull_seconds;
  prometheus::Counter& compute_seconds;
  prometheus::Counter& push_seconds;

  // Counts one step of `examples` that spent these times per phase.
  void CountStep(int64_t step_examples, absl::Duration pull,
                 absl::Duration compute, absl::Duration push);

  // The process's, registered on first use.
  static WorkerMetrics& Get();
};

// Sets the evaluator's gauges from its metrics ("eval_loss" and so on) and
// the training examples they reflect.
void SetEvalMetrics(const std::map<std::string, double>& metrics,
                    uint64_t examples_seen);

}  // namespace paramd

#endif  // PARAMD_WORKER_WORKER_METRICS_H_
