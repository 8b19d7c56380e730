// The coordinator's durable job progress on disk: numbered files
// <dir>/coordinator-<seq>.ckpt, each a whole paramd.v1.CoordinatorState,
// rewritten on every change and read back at start.
#ifndef PARAMD_SERVER_COORDINATOR_STATE_H_
#define PARAMD_SERVER_COORDINATOR_STATE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "paramd/v1/checkpoint.pb.h"

namespace paramd {

// Thread-compatible.
class CoordinatorStateFiles {
 public:
  // Files of job `job` in `dir` (empty: nothing is read or written); the
  // newest `keep` are kept.
  CoordinatorStateFiles(std::string dir, std::string job, int keep);

  // Returns the newest state that reads back whole, belongs to this job and
  // that `accept` takes, newest first; a file that fails any of these is
  // logged and the one before it tried. Writes go on numbering after the
  // file returned. nullopt when none qualifies (or there is no dir).
  std::optional<paramd::v1::CoordinatorState> LoadNewest(
      const std::function<absl::Status(const paramd::v1::CoordinatorState&)>&
          accept);

  // Writes `state` as the next file (temporary file, fsync, rename) and
  // prunes old ones. Fails with Unavailable, naming the file and the
  // cause, when it cannot be written; OK and nothing done without a dir.
  absl::Status Write(const paramd::v1::CoordinatorState& state);

  bool enabled() const { return !dir_.empty(); }

 private:
  const std::string dir_;
  const std::string job_;
  const int keep_;
  uint64_t seq_ = 0;
};

}  // namespace paramd

#endif  // PARAMD_SERVER_COORDINATOR_STATE_H_
