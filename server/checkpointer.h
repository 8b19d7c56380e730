// A parameter server's checkpoints on disk, one file per version:
// `<dir>/shard-<shard>-v<version>.ckpt`, the newest `keep` kept.
#ifndef PARAMD_SERVER_CHECKPOINTER_H_
#define PARAMD_SERVER_CHECKPOINTER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "paramd/v1/checkpoint.pb.h"

namespace paramd {

// Thread-safe. Writes happen on a background thread, in order, so taking a
// snapshot never waits for the disk.
class Checkpointer {
 public:
  // Scans `dir` for this shard's files, verifying each; a truncated or
  // corrupted one is logged and left out of Versions().
  Checkpointer(std::string dir, int32_t shard, int keep);
  // Finishes queued writes.
  ~Checkpointer();

  // Queues `checkpoint` to be written durably, then calls `done` with the
  // outcome (on the writer thread); older files beyond `keep` are deleted
  // after it lands.
  void WriteAsync(paramd::v1::ShardCheckpoint checkpoint,
                  std::function<void(absl::Status)> done)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Writes now, after anything queued.
  absl::Status Write(const paramd::v1::ShardCheckpoint& checkpoint)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Reads and verifies the checkpoint of `version`. Fails with NotFound or
  // DataLoss (naming the file and the problem); a bad file is then left out
  // of Versions().
  absl::StatusOr<paramd::v1::ShardCheckpoint> Read(int64_t version)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Versions of the valid checkpoints held, ascending.
  std::vector<int64_t> Versions() const ABSL_LOCKS_EXCLUDED(mu_);

  // After a rollback to `version`: finishes queued writes, then deletes the
  // checkpoints above it (they belong to the abandoned history).
  void DropAbove(int64_t version) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& dir() const { return dir_; }

 private:
  std::string Path(int64_t version) const;
  // Reads and verifies the file at `path`, expected to hold `version`.
  static absl::StatusOr<paramd::v1::ShardCheckpoint> ReadFile(
      const std::string& path, int64_t version);
  void WaitForWrites() ABSL_LOCKS_EXCLUDED(mu_);
  void WriterLoop() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status WriteFile(const paramd::v1::ShardCheckpoint& checkpoint)
      ABSL_LOCKS_EXCLUDED(mu_);

  const std::string dir_;
  const std::string prefix_;  // "shard-<shard>-v"
  const int keep_;
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // one write at a time
  mutable absl::Mutex mu_;
  std::set<int64_t> versions_ ABSL_GUARDED_BY(mu_);
  struct Pending {
    paramd::v1::ShardCheckpoint checkpoint;
    std::function<void(absl::Status)> done;
  };
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
};

}  // namespace paramd

#endif  // PARAMD_SERVER_CHECKPOINTER_H_
