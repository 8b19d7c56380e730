// The consistency model of one parameter server: when a push is applied and
// when a pull may read. Knows nothing of RPCs.
#ifndef PARAMD_SERVER_UPDATE_GATE_H_
#define PARAMD_SERVER_UPDATE_GATE_H_

#include <cstdint>
#include <functional>
#include <set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "server/shard_store.h"

namespace paramd {

// asp: a push is applied when it arrives; pulls never wait.
// bsp: pushes for round r are buffered; once every participating worker has
// pushed r they are combined (mean or sum) and applied, and the version
// becomes r + 1. A pull at clock c waits until version >= c. A worker joins
// the barrier with its first push (a stale clock is folded into the open
// round) and leaves it with a leave push or when the coordinator stops
// listing it as alive, so a dead worker never holds a round forever.
// Every push carries (worker, clock); a clock the worker already pushed is
// acknowledged without being applied again.
//
// Thread-safe. Pushes to different rounds never overlap; pushes within a
// round accumulate concurrently under the tables' own locks.
class UpdateGate {
 public:
  UpdateGate(ShardStore* store, Consistency consistency, bool average);

  // Validated slices only. Returns the clock the worker should use next, or
  // FailedPrecondition for a clock ahead of the open round.
  absl::StatusOr<int64_t> Push(uint64_t worker, int64_t clock,
                               const std::vector<Slice>& slices)
      ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  // Removes `worker` from the barrier.
  void Leave(uint64_t worker) ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  // Keeps only these workers in the barrier.
  void SetLiveWorkers(const std::set<uint64_t>& live)
      ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  // Runs `ready(true)` once a pull at `clock` may read: now, or when the
  // round closes. Runs `ready(false)` if `deadline` passes first (checked by
  // ExpireWaiters). `ready` runs without locks held.
  void WhenReadable(int64_t clock, absl::Time deadline,
                    std::function<void(bool)> ready) ABSL_LOCKS_EXCLUDED(mu_);

  // Fails waiters whose deadline passed. Call periodically.
  void ExpireWaiters(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  int64_t version() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<uint64_t> participants() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Waiter {
    int64_t clock;
    absl::Time deadline;
    std::function<void(bool)> ready;
  };

  absl::StatusOr<int64_t> PushBsp(uint64_t worker, int64_t clock,
                                  const std::vector<Slice>& slices);
  // Closes the open round if every participant has pushed it.
  void MaybeCloseRound() ABSL_LOCKS_EXCLUDED(mu_, round_mu_);
  bool RoundCompleteLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::vector<Waiter> TakeReadyWaitersLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ShardStore* const store_;  // Not owned.
  const Consistency consistency_;
  const bool average_;

  // Held shared while a push accumulates, exclusive while a round closes.
  absl::Mutex round_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  // Per worker: the highest clock it pushed, and the next clock it was told.
  struct Seen {
    int64_t clock;
    int64_t next;
  };
  absl::flat_hash_map<uint64_t, Seen> seen_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint64_t> participants_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint64_t> pushed_ ABSL_GUARDED_BY(mu_);  // open round
  int contributions_ ABSL_GUARDED_BY(mu_) = 0;  // pushes in the open round
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paramd

#endif  // PARAMD_SERVER_UPDATE_GATE_H_
