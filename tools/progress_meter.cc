#include "tools/progress_meter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/status_format.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

// Rates over less time than this are noise.
constexpr absl::Duration kMinSpan = absl::Seconds(1);

// Examples in one whole epoch: those of the latest epoch done, or an
// estimate from the current one's completed shards; nullopt before any.
std::optional<double> EpochExamples(const v1::GetStatusResponse& status) {
  for (int i = status.epochs_status_size() - 1; i >= 0; --i) {
    const v1::EpochStatus& e = status.epochs_status(i);
    if (e.shards_done() == status.num_shards() && e.examples() > 0) {
      return static_cast<double>(e.examples());
    }
  }
  for (int i = status.epochs_status_size() - 1; i >= 0; --i) {
    const v1::EpochStatus& e = status.epochs_status(i);
    const int32_t read = e.shards_done() - e.failed();
    if (read > 0 && e.examples() > 0) {
      return static_cast<double>(e.examples()) / read * status.num_shards();
    }
  }
  return std::nullopt;
}

// Mean training loss of the latest epoch that has one.
std::optional<double> LatestTrainLoss(const v1::GetStatusResponse& status) {
  for (int i = status.epochs_status_size() - 1; i >= 0; --i) {
    if (status.epochs_status(i).examples() > 0) {
      return status.epochs_status(i).train_loss();
    }
  }
  return std::nullopt;
}

// " | eval_accuracy 0.9712 (after epoch 2)": the most telling eval metric
// the job reports and how far training was when its weights were read.
std::string EvalSummary(const v1::GetStatusResponse& status) {
  const auto& eval = status.eval();
  for (const char* key : {"eval_perplexity", "eval_accuracy"}) {
    auto it = eval.find(key);
    if (it == eval.end()) continue;
    if (std::string(key) == "eval_perplexity" && eval.count("eval_accuracy") &&
        it->second < 1.5) {
      continue;  // a classifier: accuracy says more
    }
    std::string out = absl::StrFormat(" | %s %.4f", key, it->second);
    auto epochs = eval.find("epochs_done");
    if (epochs != eval.end()) {
      const double done = epochs->second;
      absl::StrAppend(&out,
                      done == 0 ? " (untrained)"
                      : done == std::floor(done)
                          ? absl::StrFormat(" (after epoch %.0f)", done)
                          : absl::StrFormat(" (after %.1f epochs)", done));
    }
    return out;
  }
  return "";
}

}  // namespace

void ProgressMeter::Add(const v1::GetStatusResponse& status, absl::Time now) {
  // A restarted coordinator counts again from what it saved: start over.
  if (!samples_.empty() && status.examples() < samples_.back().examples) {
    samples_.clear();
  }
  status_ = status;
  samples_.push_back({now, status.examples()});
  while (samples_.size() > 2 && now - samples_[1].time >= window_) {
    samples_.pop_front();
  }
}

std::optional<double> ProgressMeter::ExamplesPerSecond() const {
  if (samples_.size() < 2) return std::nullopt;
  const absl::Duration span = samples_.back().time - samples_.front().time;
  if (span < kMinSpan) return std::nullopt;
  return (samples_.back().examples - samples_.front().examples) /
         absl::ToDoubleSeconds(span);
}

std::optional<double> ProgressMeter::TotalExamples() const {
  std::optional<double> epoch = EpochExamples(status_);
  if (!epoch.has_value()) return std::nullopt;
  return *epoch * status_.epochs();
}

double ProgressMeter::ExamplesDone() const {
  double completed = 0;
  for (const v1::EpochStatus& e : status_.epochs_status()) {
    completed += e.examples();
  }
  const std::optional<double> total = TotalExamples();
  if (!total.has_value()) return completed;
  if (status_.done()) return *total;
  // Heartbeats count the examples of shards still leased too; never more
  // than the leased shards hold (work redone after a lapse counts twice
  // in heartbeats).
  const double per_shard =
      *total / std::max(1, status_.epochs() * status_.num_shards());
  const double in_flight =
      std::clamp(static_cast<double>(status_.loss_examples()) - completed, 0.0,
                 per_shard * status_.leases_size());
  return std::min(*total, completed + in_flight);
}

std::optional<absl::Duration> ProgressMeter::TimeLeft() const {
  const std::optional<double> total = TotalExamples();
  const std::optional<double> rate = ExamplesPerSecond();
  if (!total.has_value() || !rate.has_value() || *rate <= 0) {
    return std::nullopt;
  }
  return absl::Seconds((*total - ExamplesDone()) / *rate);
}

std::string ProgressMeter::Line(int bar_width) const {
  if (samples_.empty()) return "";
  const v1::GetStatusResponse& s = status_;
  const std::optional<double> total = TotalExamples();
  const double fraction = s.done() ? 1
                          : total.has_value() && *total > 0
                              ? std::clamp(ExamplesDone() / *total, 0.0, 1.0)
                              : FractionDone(s);
  std::string line;
  if (bar_width > 0) {
    const int filled = static_cast<int>(std::lround(fraction * bar_width));
    absl::StrAppend(&line, "[", std::string(filled, '#'),
                    std::string(bar_width - filled, '.'), "] ");
  }
  int32_t shards_done = 0;
  for (const v1::EpochStatus& e : s.epochs_status()) {
    if (e.epoch() == s.epoch()) shards_done = e.shards_done();
  }
  absl::StrAppendFormat(&line, "%3.0f%% | epoch %d/%d | shards %d/%d",
                        100 * fraction, std::min(s.epoch() + 1, s.epochs()),
                        s.epochs(), s.done() ? s.num_shards() : shards_done,
                        s.num_shards());
  if (std::optional<double> rate = ExamplesPerSecond()) {
    absl::StrAppendFormat(&line, " | %.0f ex/s", *rate);
  }
  if (std::optional<double> loss = LatestTrainLoss(s)) {
    absl::StrAppendFormat(&line, " | loss %.4f", *loss);
  }
  line += EvalSummary(s);
  if (s.done()) {
    line += " | done";
  } else if (std::optional<absl::Duration> left = TimeLeft()) {
    absl::StrAppend(&line, " | ", FormatClock(absl::ToDoubleSeconds(*left)),
                    " left");
  } else {
    line += " | time left: measuring";
  }
  return line;
}

}  // namespace paramd
