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

// "epoch 2/3 | shards 7/16 | 1234 ex/s | loss 0.1234 | eval_accuracy
// 0.9712 | 0:42 left", given the seconds training has run.
std::string ProgressLine(const paramd::v1::GetStatusResponse& status,
                         double elapsed_s);

// A human-readable table of servers, workers, leases and epochs.
std::string StatusTable(const paramd::v1::GetStatusResponse& status);

// The status as JSON (protobuf's JSON mapping).
std::string StatusJson(const paramd::v1::GetStatusResponse& status);

// The JSON summary `paramctl launch --summary` writes: final metrics,
// examples/s, per-epoch shard counts and failures seen.
// `failed` lists processes that ended badly, one line each.
std::string SummaryJson(const paramd::v1::GetStatusResponse& status,
                        double elapsed_s,
                        const std::vector<std::string>& failed);

}  // namespace paramd

#endif  // PARAMD_TOOLS_STATUS_FORMAT_H_
