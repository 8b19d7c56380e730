// `paramctl launch`: run a whole job on this host and show its progress.
#ifndef PARAMD_TOOLS_LAUNCH_H_
#define PARAMD_TOOLS_LAUNCH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/local_cluster.h"

namespace paramd {

struct LaunchOptions {
  LocalClusterOptions cluster;
  std::string summary_path;  // if set, where the JSON summary goes
  absl::Duration progress_every = absl::Seconds(2);
  absl::Duration timeout = absl::InfiniteDuration();
};

// Starts the cluster, prints progress lines to stdout until the job and its
// final evaluation are done (or SIGINT/SIGTERM, or `timeout`), stops every
// process and writes the summary. Fails if the job could not finish.
absl::Status Launch(const LaunchOptions& options);

}  // namespace paramd

#endif  // PARAMD_TOOLS_LAUNCH_H_
