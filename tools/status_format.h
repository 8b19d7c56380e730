// How paramctl shows a job: a one-line progress report, a status table, and
// the JSON summary of a finished run.
#ifndef PARAMD_TOOLS_STATUS_FORMAT_H_
#define PARAMD_TOOLS_STATUS_FORMAT_H_

#include <string>
#include <vector>

#include "paramd/v1/coordinator.pb.h"

namespace paramd {

// Fraction of the job done, from epochs and shards completed.
double FractionDone(const paramd::v1::GetStatusResponse& status);

// "1:02:03" for 3723 seconds; negative values read as 0.
std::string FormatClock(double seconds);

// A human-readable table of servers, workers, leases and epochs.
std::string StatusTable(const paramd::v1::GetStatusResponse& status);

// The status as JSON (protobuf's JSON mapping).
std::string StatusJson(const paramd::v1::GetStatusResponse& status);

// What a launch knows of its run beyond the coordinator's status.
struct RunFacts {
  double elapsed_s = 0;             // wall time of this launch
  double examples_per_s = 0;        // trained during this launch
  std::vector<std::string> failed;  // processes that ended badly, a line each
  std::string checkpoint_dir;       // "" if none
  std::string model_dir;  // where the final model was exported; "" if not
};

// The JSON summary `paramctl launch` writes: final metrics, examples/s,
// per-epoch shard counts, failures seen, and where the checkpoints and the
// model are.
std::string SummaryJson(const paramd::v1::GetStatusResponse& status,
                        const RunFacts& run);

}  // namespace paramd

#endif  // PARAMD_TOOLS_STATUS_FORMAT_H_
