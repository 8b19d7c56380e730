// `paramctl launch`: run a whole job on this host, show its progress, and
// keep its results: checkpoints, the final model and a summary in its run
// folder, from which a stopped run resumes.
#ifndef PARAMD_TOOLS_LAUNCH_H_
#define PARAMD_TOOLS_LAUNCH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/local_cluster.h"

namespace paramd {

struct LaunchOptions {
  LocalClusterOptions cluster;
  // Continue the run in cluster.run_dir from its checkpoints, which its
  // record says are in `checkpoint_dir`.
  bool resume = false;
  std::string checkpoint_dir;
  // Where the JSON summary goes; default run_dir/summary.json.
  std::string summary_path;
  // How often a progress line is printed; 0: redrawn in place every second
  // on a terminal, a line every 30 s otherwise.
  absl::Duration progress_every = absl::ZeroDuration();
  absl::Duration timeout = absl::InfiniteDuration();
};

// Starts the cluster and shows progress until the job and its final
// evaluation are done (or SIGINT/SIGTERM, or `timeout`). Checkpoints go to
// the YAML's checkpoint.dir or, if it has none, run_dir/checkpoints (every
// 60 s unless the YAML sets a period). When the job is done, the model is
// exported to run_dir/model (see ExportModel). Then it stops every process
// (the servers write a last checkpoint) and writes the summary and the
// curves. Fails if the job could not finish, saying how to resume.
absl::Status Launch(const LaunchOptions& options);

// The options to continue the run in `run_dir`, from the record its first
// launch left there (launch.yaml) once its cluster had started. Fails with
// InvalidArgument if there is none or it is damaged. Launch() then refuses
// a run whose checkpoints are not where the record says or hold no job
// progress yet: such a run would start over.
absl::StatusOr<LaunchOptions> ResumeOptions(const std::string& run_dir);

}  // namespace paramd

#endif  // PARAMD_TOOLS_LAUNCH_H_
