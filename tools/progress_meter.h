// What `paramctl launch` shows while a job trains: the job's progress from
// the coordinator's status, sampled over time, as one line.
#ifndef PARAMD_TOOLS_PROGRESS_METER_H_
#define PARAMD_TOOLS_PROGRESS_METER_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "paramd/v1/coordinator.pb.h"

namespace paramd {

// The rate is measured over the last `window` of samples, so a resumed run
// or a slow start does not skew it. The work left is counted in examples:
// the job's epochs times the examples of one epoch (known once an epoch is
// done, estimated from its completed shards before), less the examples in
// completed shards and those trained so far in shards still leased. So the
// time left falls steadily while a shard is in flight instead of climbing
// until it completes. Thread-compatible.
class ProgressMeter {
 public:
  explicit ProgressMeter(absl::Duration window = absl::Seconds(60))
      : window_(window) {}

  // Adds the status read at `now` (later than the previous one's).
  void Add(const paramd::v1::GetStatusResponse& status, absl::Time now);

  // Examples per second over the window; nullopt before two samples a
  // moment apart.
  std::optional<double> ExamplesPerSecond() const;

  // Examples the whole job trains, once a shard is done; nullopt before.
  std::optional<double> TotalExamples() const;

  // Examples trained towards TotalExamples(), in shards done and leased.
  double ExamplesDone() const;

  // Time left at the current rate; nullopt while either is unknown.
  std::optional<absl::Duration> TimeLeft() const;

  // "[#####...............]  25% | epoch 1/2 | shards 3/8 | 1234 ex/s |
  // loss 0.4321 | eval_accuracy 0.9100 (after 0.5 epochs) | 0:00:42 left",
  // the bar `bar_width` characters wide, left out if 0. Empty before Add().
  std::string Line(int bar_width) const;

 private:
  struct Sample {
    absl::Time time;
    uint64_t examples;
  };

  const absl::Duration window_;
  std::deque<Sample> samples_;
  paramd::v1::GetStatusResponse status_;
};

}  // namespace paramd

#endif  // PARAMD_TOOLS_PROGRESS_METER_H_
