#include "worker/worker_metrics.h"

namespace paramd {
namespace {

prometheus::Family<prometheus::Counter>& PhaseSeconds() {
  static auto* family = &prometheus::BuildCounter()
                             .Name("paramd_worker_step_seconds_total")
                             .Help(
                                 "Time trainer steps spent per phase: pull "
                                 "(weights), compute (the model), push "
                                 "(gradients).")
                             .Register(MetricsRegistry());
  return *family;
}

struct EvalFamilies {
  prometheus::Family<prometheus::Gauge>& loss =
      prometheus::BuildGauge()
          .Name("paramd_eval_loss")
          .Help("Latest mean loss per example, by data set (eval, test).")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Gauge>& perplexity =
      prometheus::BuildGauge()
          .Name("paramd_eval_perplexity")
          .Help("Latest perplexity, by data set (language models).")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Gauge>& accuracy =
      prometheus::BuildGauge()
          .Name("paramd_eval_accuracy")
          .Help("Latest accuracy, by data set (classifiers).")
          .Register(MetricsRegistry());
  prometheus::Gauge& examples_seen =
      prometheus::BuildGauge()
          .Name("paramd_eval_examples_seen")
          .Help("Training examples the latest score reflects.")
          .Register(MetricsRegistry())
          .Add({});
};

}  // namespace

void WorkerMetrics::CountStep(int64_t step_examples, absl::Duration pull,
                              absl::Duration compute, absl::Duration push) {
  steps.Increment();
  examples.Increment(static_cast<double>(step_examples));
  pull_seconds.Increment(absl::ToDoubleSeconds(pull));
  compute_seconds.Increment(absl::ToDoubleSeconds(compute));
  push_seconds.Increment(absl::ToDoubleSeconds(push));
  const double seconds = absl::ToDoubleSeconds(pull + compute + push);
  if (seconds > 0) examples_per_second.Set(step_examples / seconds);
}

WorkerMetrics& WorkerMetrics::Get() {
  static auto* metrics = new WorkerMetrics{
      prometheus::BuildCounter()
          .Name("paramd_worker_steps_total")
          .Help("Minibatch steps this trainer trained.")
          .Register(MetricsRegistry())
          .Add({}),
      prometheus::BuildCounter()
          .Name("paramd_worker_examples_total")
          .Help("Examples this trainer trained.")
          .Register(MetricsRegistry())
          .Add({}),
      prometheus::BuildGauge()
          .Name("paramd_worker_examples_per_second")
          .Help("Examples per second over the latest step.")
          .Register(MetricsRegistry())
          .Add({}),
      PhaseSeconds().Add({{"phase", "pull"}}),
      PhaseSeconds().Add({{"phase", "compute"}}),
      PhaseSeconds().Add({{"phase", "push"}}),
  };
  return *metrics;
}

void SetEvalMetrics(const std::map<std::string, double>& metrics,
                    uint64_t examples_seen) {
  static auto* families = new EvalFamilies;
  for (const auto& [name, value] : metrics) {
    const size_t split = name.find('_');
    if (split == std::string::npos) continue;
    const std::string set = name.substr(0, split);
    const std::string metric = name.substr(split + 1);
    prometheus::Family<prometheus::Gauge>* family =
        metric == "loss"         ? &families->loss
        : metric == "perplexity" ? &families->perplexity
        : metric == "accuracy"   ? &families->accuracy
                                 : nullptr;
    if (family != nullptr) family->Add({{"set", set}}).Set(value);
  }
  families->examples_seen.Set(static_cast<double>(examples_seen));
}

}  // namespace paramd
