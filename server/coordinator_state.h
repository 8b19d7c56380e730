// The coordinator's durable job progress on disk. Snapshots
// <dir>/coordinator-<seq>.ckpt each hold a whole paramd.v1.CoordinatorState;
// beside the newest, the journal <dir>/coordinator-<seq>.journal holds the
// changes since (paramd.v1.CoordinatorStateChange records). A change costs
// one small append and fdatasync, whatever the size of the job; a new
// snapshot is written once the journal outgrows the last one, so the
// whole-state writes cost O(1) per change too, amortised.
#ifndef PARAMD_SERVER_COORDINATOR_STATE_H_
#define PARAMD_SERVER_COORDINATOR_STATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/record_log.h"
#include "paramd/v1/checkpoint.pb.h"

namespace paramd {

// Thread-compatible.
class CoordinatorStateFiles {
 public:
  static constexpr int64_t kMinJournalBytes = 1 << 20;

  // Files of job `job` in `dir` (empty: nothing is read or written); the
  // newest `keep` snapshots (and their journals) are kept. A journal is
  // compacted once it is over `min_journal_bytes` and over its snapshot.
  CoordinatorStateFiles(std::string dir, std::string job, int keep,
                        int64_t min_journal_bytes = kMinJournalBytes);

  // Returns the newest state that reads back whole, belongs to this job and
  // that `accept` takes, newest first: a snapshot with its journal replayed
  // up to the first record a crash cut short or damage spoiled (logged).
  // A snapshot that fails is logged and the one before it tried. Writes go
  // on numbering after the newest file. nullopt when none qualifies (or
  // there is no dir).
  std::optional<paramd::v1::CoordinatorState> LoadNewest(
      const std::function<absl::Status(const paramd::v1::CoordinatorState&)>&
          accept);

  // Whether the next save should be a whole state (Write) rather than a
  // change (Append): nothing was written yet by this process, or the
  // journal outgrew its snapshot.
  bool WantsSnapshot() const;

  // Writes `state` as the next snapshot (temporary file, fsync, rename),
  // starts its empty journal and prunes old files. Fails with Unavailable,
  // naming the file and the cause, when it cannot be written; OK and
  // nothing done without a dir.
  absl::Status Write(const paramd::v1::CoordinatorState& state);

  // Appends `change` to the journal of the newest snapshot. Fails with
  // Unavailable like Write; then the journal is as before, and the next
  // save wants a snapshot.
  // REQUIRES: !WantsSnapshot().
  absl::Status Append(const paramd::v1::CoordinatorStateChange& change);

  bool enabled() const { return !dir_.empty(); }

 private:
  const std::string dir_;
  const std::string job_;
  const int keep_;
  const int64_t min_journal_bytes_;
  uint64_t seq_ = 0;
  int64_t snapshot_bytes_ = 0;
  std::unique_ptr<RecordLog> journal_;  // of snapshot seq_, once written
};

}  // namespace paramd

#endif  // PARAMD_SERVER_COORDINATOR_STATE_H_
