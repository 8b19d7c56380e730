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
#include "server/applied_clocks.h"
#include "server/shard_store.h"

namespace paramd {

// asp: a push is applied when it arrives; pulls never wait.
// bsp: round r's pushes are buffered and, once every participant due at r
// has pushed, combined (mean or sum) and applied; the version becomes r + 1.
// ssp (staleness s): pushes are applied when they arrive, the version is
// the clock of the slowest participant, and a pull at clock c waits until
// c <= version + s, so no worker runs more than s clocks ahead.
//
// Under bsp and ssp a worker takes part by pulling at clock c: that
// registers it as due at c. A worker whose clock is behind the version is
// told so (and re-pulls at the version), so every shard expects the same
// clock from it. It leaves with a leave push or when the coordinator stops
// listing it alive, so a dead worker never holds the others forever. A push
// repeating a clock already counted is acknowledged and not applied again;
// under asp a worker may have several pushes in flight, and each distinct
// clock applies once in whatever order they arrive, unless overtaken by
// more than AppliedClocks::kMaxAhead later ones (then refused).
//
// Every request carries the generation it was planned in (see Reset); one
// from another generation is refused with Aborted, so nothing from before a
// rollback lands after it. Reads at a negative clock skip that check.
//
// Thread-safe. Rounds never overlap; pushes within a round accumulate
// concurrently under the tables' own locks.
class UpdateGate {
 public:
  UpdateGate(ShardStore* store, Consistency consistency, bool average,
             int staleness);

  // Validated slices only. Returns the clock the worker should use next.
  // Fails with Unavailable if `worker` is not live (see SetLiveWorkers: it
  // may not be listed yet). bsp and ssp: fails with FailedPrecondition if
  // the worker is not due at `clock` (it was dropped from the barrier).
  // Nothing is applied when it fails.
  // REQUIRES: 0 <= clock < kMaxClock.
  absl::StatusOr<int64_t> Push(uint64_t worker, uint64_t generation,
                               int64_t clock, const std::vector<Slice>& slices)
      ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  // Removes `worker` from the barrier. A worker that is not live is not in
  // it (see SetLiveWorkers): then nothing changes. Returns OK.
  absl::Status Leave(uint64_t worker) ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  // The live trainers, as the coordinator lists them. Only these may push,
  // leave, or pull at a clock >= 0; the barrier keeps only these. Until a
  // first list arrives, no worker is live.
  void SetLiveWorkers(const std::set<uint64_t>& live)
      ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  // Adds workers to the live ones and removes none: for lists that may be
  // partial (a restarted coordinator still hearing workers come back).
  void AddLiveWorkers(const std::set<uint64_t>& live) ABSL_LOCKS_EXCLUDED(mu_);

  enum class PullState {
    kReady,
    kBehind,
    kTimedOut,
    kAborted,
    kNotLive,
    kClosed
  };

  // Runs `ready(state)` once a pull by `worker` at `clock` may read: now, or
  // when enough rounds closed (kReady); at once with kBehind if clock <
  // version, or if the worker is not in the barrier and its clock is not
  // the version (it must re-pull at version()); at once with kAborted for
  // another generation, kNotLive for a worker not live, or kClosed after
  // Close(); or with
  // kTimedOut if `deadline` passes first (see ExpireWaiters). A negative
  // clock reads at once and joins nothing. `ready` runs without locks held.
  void WhenReadable(uint64_t worker, uint64_t generation, int64_t clock,
                    absl::Time deadline, std::function<void(PullState)> ready)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Shutting down: fails every waiting pull with kClosed, and every pull
  // from now on at once. Pushes are still taken.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  // Fails waiters whose deadline passed. Call periodically.
  void ExpireWaiters(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // Calls `take(version)` while no update can run, when the version equals
  // `version`: now if it does, else the moment a round brings it there.
  // Returns false (and never calls it) if the version is already past it.
  // asp and ssp have no global rounds: `take` runs now, at this server's
  // version. Replaces an earlier request that has not run yet.
  bool SnapshotAt(int64_t version, std::function<void(int64_t)> take)
      ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  // Calls `restore()` while no request can run; if it succeeds, starts
  // `generation` at `version` with nobody in the barrier, and waiting pulls
  // are aborted. Returns what `restore` returned.
  absl::Status Reset(uint64_t generation, int64_t version,
                     const std::function<absl::Status()>& restore)
      ABSL_LOCKS_EXCLUDED(mu_, round_mu_);

  int64_t version() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t generation() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<uint64_t> participants() const ABSL_LOCKS_EXCLUDED(mu_);
  // Largest clock - version seen when a pull was let through (ssp: <= s).
  int64_t max_lead() const ABSL_LOCKS_EXCLUDED(mu_);
  // Pushes refused as not due (see Push).
  int64_t not_due_pushes() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Waiter {
    int64_t clock;
    absl::Time deadline;
    std::function<void(PullState)> ready;
  };

  // Aborted unless `generation` is the current one.
  absl::Status CheckGenerationLocked(uint64_t generation) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // asp: restarts the dedup of a worker whose pull shows it started over.
  void NoteAspPullLocked(uint64_t worker, int64_t clock)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // bsp and ssp: joins `worker` to the barrier at `clock`, parking `ready`
  // (moved out, left null) until it may read; or says it is behind. Sets
  // *moved_due when its due clock moved forward.
  PullState JoinLocked(uint64_t worker, int64_t clock, absl::Time deadline,
                       std::function<void(PullState)>* ready, bool* moved_due)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unavailable unless `worker` is live.
  absl::Status CheckLiveLocked(uint64_t worker) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // bsp and ssp: records `worker`'s push at `clock`, or says why not.
  // Sets *repeat for a push already counted.
  absl::Status AdmitLocked(uint64_t worker, int64_t clock, bool* repeat)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> PushBsp(uint64_t worker, uint64_t generation,
                                  int64_t clock,
                                  const std::vector<Slice>& slices);
  absl::StatusOr<int64_t> PushAsync(uint64_t worker, uint64_t generation,
                                    int64_t clock,
                                    const std::vector<Slice>& slices);
  // Closes the open bsp round if every participant has pushed it.
  void MaybeCloseRound() ABSL_LOCKS_EXCLUDED(mu_, round_mu_);
  bool RoundCompleteLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // ssp: raises the version to the slowest participant's clock.
  void AdvanceSspLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After the barrier shrank: closes a bsp round or advances ssp.
  void AfterBarrierShrank() ABSL_LOCKS_EXCLUDED(mu_, round_mu_);
  std::vector<Waiter> TakeReadyWaitersLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Run(std::vector<Waiter>& waiters, PullState state);

  ShardStore* const store_;  // Not owned.
  const Consistency consistency_;
  const bool average_;
  const int64_t staleness_;  // 0 unless ssp

  // Held shared while a push applies or accumulates, exclusive while a
  // round closes, a snapshot is taken or the state is reset.
  absl::Mutex round_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t max_lead_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t not_due_pushes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_set<uint64_t> live_ ABSL_GUARDED_BY(mu_);
  // The clocks each worker's applied pushes carried, for deduplication.
  absl::flat_hash_map<uint64_t, AppliedClocks> applied_ ABSL_GUARDED_BY(mu_);
  // Workers in the barrier and the clock each is due to push next.
  absl::flat_hash_map<uint64_t, int64_t> participants_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint64_t> pushed_ ABSL_GUARDED_BY(mu_);  // open round
  int contributions_ ABSL_GUARDED_BY(mu_) = 0;  // pushes in the open round
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // A bsp snapshot waiting for its version (target < 0: none).
  int64_t snapshot_target_ ABSL_GUARDED_BY(round_mu_) = -1;
  std::function<void(int64_t)> snapshot_ ABSL_GUARDED_BY(round_mu_);
};

}  // namespace paramd

#endif  // PARAMD_SERVER_UPDATE_GATE_H_
