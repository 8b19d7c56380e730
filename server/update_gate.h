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
// bsp: round r's pushes are buffered and, once every participant due at r
// has pushed, combined (mean or sum) and applied; the version becomes r + 1.
// A worker takes part by pulling at clock c: that registers it as due at
// round c and waits until version >= c. A worker whose clock is behind the
// version is told so (and re-pulls at the version), so every shard expects
// the same clock from it. It leaves the barrier with a leave push or when
// the coordinator stops listing it alive, so a dead worker never holds a
// round forever. A push repeating a clock already counted is acknowledged
// and not applied again.
//
// Thread-safe. Rounds never overlap; pushes within a round accumulate
// concurrently under the tables' own locks.
class UpdateGate {
 public:
  UpdateGate(ShardStore* store, Consistency consistency, bool average);

  // Validated slices only. Returns the clock the worker should use next.
  // bsp: fails with FailedPrecondition if the worker is not due at `clock`
  // (it was dropped from the barrier); nothing is applied then.
  absl::StatusOr<int64_t> Push(uint64_t worker, int64_t clock,
                               const std::vector<Slice>& slices)
      ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  // Removes `worker` from the barrier.
  void Leave(uint64_t worker) ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  // Keeps only these workers in the barrier.
  void SetLiveWorkers(const std::set<uint64_t>& live)
      ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  enum class PullState { kReady, kBehind, kTimedOut };

  // Runs `ready(state)` once a pull by `worker` at `clock` may read: now, or
  // when the round closes (kReady); at once with kBehind if the worker is
  // not in the barrier and clock < version (it must re-pull at version());
  // or with kTimedOut if `deadline` passes first (see ExpireWaiters). A
  // negative clock reads at once and joins nothing. `ready` runs without
  // locks held.
  void WhenReadable(uint64_t worker, int64_t clock, absl::Time deadline,
                    std::function<void(PullState)> ready)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Fails waiters whose deadline passed. Call periodically.
  void ExpireWaiters(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  int64_t version() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<uint64_t> participants() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Waiter {
    int64_t clock;
    absl::Time deadline;
    std::function<void(PullState)> ready;
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
  // Highest clock each worker pushed, for deduplication.
  absl::flat_hash_map<uint64_t, int64_t> last_clock_ ABSL_GUARDED_BY(mu_);
  // Workers in the barrier and the round each is due to push next.
  absl::flat_hash_map<uint64_t, int64_t> participants_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint64_t> pushed_ ABSL_GUARDED_BY(mu_);  // open round
  int contributions_ ABSL_GUARDED_BY(mu_) = 0;  // pushes in the open round
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paramd

#endif  // PARAMD_SERVER_UPDATE_GATE_H_
