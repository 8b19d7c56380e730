#include "server/update_gate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace paramd {

UpdateGate::UpdateGate(ShardStore* store, Consistency consistency, bool average,
                       int staleness)
    : store_(store),
      consistency_(consistency),
      average_(average),
      staleness_(consistency == Consistency::kSsp ? staleness : 0) {}

absl::Status UpdateGate::CheckGenerationLocked(uint64_t generation) const {
  if (generation == generation_) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat(
      "request of generation ", generation, ", server is at generation ",
      generation_, (generation < generation_ ? " (rolled back since)" : ""),
      ": take a new lease"));
}

absl::Status UpdateGate::CheckLiveLocked(uint64_t worker) const {
  if (live_.contains(worker)) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "worker_id: ", worker,
      " is not a live trainer known to this server (a new worker is listed "
      "within a heartbeat; others must register)"));
}

absl::StatusOr<int64_t> UpdateGate::Push(uint64_t worker, uint64_t generation,
                                         int64_t clock,
                                         const std::vector<Slice>& slices) {
  if (consistency_ == Consistency::kBsp) {
    return PushBsp(worker, generation, clock, slices);
  }
  return PushAsync(worker, generation, clock, slices);
}

absl::Status UpdateGate::AdmitLocked(uint64_t worker, int64_t clock,
                                     bool* repeat) {
  // One clock is due at a time, so a clock at or below the highest
  // applied repeats one (or was skipped by a re-sync: too late either way).
  auto applied = applied_.find(worker);
  *repeat = applied != applied_.end() && clock <= applied->second.highest();
  if (*repeat) return absl::OkStatus();
  auto due = participants_.find(worker);
  const bool on_time = due != participants_.end() && due->second == clock &&
                       (consistency_ != Consistency::kBsp || clock == version_);
  if (!on_time) {
    ++not_due_pushes_;
    return absl::FailedPreconditionError(absl::StrCat(
        "worker ", worker, " is not due at clock ", clock, " (version ",
        version_, "): it left the barrier or was presumed dead; pull again"));
  }
  applied_[worker].Insert(clock);
  due->second = clock + 1;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> UpdateGate::PushAsync(
    uint64_t worker, uint64_t generation, int64_t clock,
    const std::vector<Slice>& slices) {
  std::vector<Waiter> ready;
  {
    absl::ReaderMutexLock round_lock(&round_mu_);
    {
      absl::MutexLock lock(&mu_);
      if (absl::Status s = CheckLiveLocked(worker); !s.ok()) return s;
      if (absl::Status s = CheckGenerationLocked(generation); !s.ok()) return s;
      if (consistency_ == Consistency::kAsp) {
        // Pipelined pushes may arrive in any order: each distinct clock
        // applies once.
        switch (applied_[worker].Insert(clock)) {
          case AppliedClocks::Arrival::kNew:
            break;
          case AppliedClocks::Arrival::kRepeat:
            return clock + 1;
          case AppliedClocks::Arrival::kTooLate:
            return absl::FailedPreconditionError(absl::StrCat(
                "worker ", worker, "'s push of clock ", clock, " came after ",
                AppliedClocks::kMaxAhead,
                " later ones of it and was given up: not applied"));
        }
      } else {
        bool repeat = false;
        if (absl::Status s = AdmitLocked(worker, clock, &repeat); !s.ok()) {
          return s;
        }
        if (repeat) return clock + 1;
      }
    }
    for (const Slice& slice : slices) store_->Apply(slice, 1.0f);
    absl::MutexLock lock(&mu_);
    if (consistency_ == Consistency::kAsp) {
      ++version_;
    } else {
      AdvanceSspLocked();
      ready = TakeReadyWaitersLocked();
    }
  }
  Run(ready, PullState::kReady);
  return clock + 1;
}

absl::StatusOr<int64_t> UpdateGate::PushBsp(uint64_t worker,
                                            uint64_t generation, int64_t clock,
                                            const std::vector<Slice>& slices) {
  bool complete = false;
  {
    absl::ReaderMutexLock round_lock(&round_mu_);
    {
      absl::MutexLock lock(&mu_);
      if (absl::Status s = CheckLiveLocked(worker); !s.ok()) return s;
      if (absl::Status s = CheckGenerationLocked(generation); !s.ok()) return s;
      bool repeat = false;
      if (absl::Status s = AdmitLocked(worker, clock, &repeat); !s.ok()) {
        return s;
      }
      if (repeat) return clock + 1;
    }
    for (const Slice& slice : slices) store_->Accumulate(slice);
    absl::MutexLock lock(&mu_);
    pushed_.insert(worker);
    ++contributions_;
    complete = RoundCompleteLocked();
  }
  if (complete) MaybeCloseRound();
  return clock + 1;
}

bool UpdateGate::RoundCompleteLocked() const {
  if (contributions_ == 0) return false;
  for (const auto& [worker, due] : participants_) {
    if (due <= version_ && !pushed_.contains(worker)) return false;
  }
  return true;
}

void UpdateGate::AdvanceSspLocked() {
  if (participants_.empty()) return;
  int64_t slowest = participants_.begin()->second;
  for (const auto& [worker, due] : participants_) {
    slowest = std::min(slowest, due);
  }
  version_ = std::max(version_, slowest);
}

void UpdateGate::MaybeCloseRound() {
  std::vector<Waiter> ready;
  {
    absl::WriterMutexLock round_lock(&round_mu_);
    float scale = 1.0f;
    {
      absl::MutexLock lock(&mu_);
      if (!RoundCompleteLocked()) return;
      if (average_) scale = 1.0f / static_cast<float>(contributions_);
    }
    store_->ApplyAccumulated(scale);
    int64_t version = 0;
    {
      absl::MutexLock lock(&mu_);
      version = ++version_;
      pushed_.clear();
      contributions_ = 0;
      ready = TakeReadyWaitersLocked();
    }
    if (snapshot_target_ == version) {
      snapshot_(version);
      snapshot_target_ = -1;
      snapshot_ = nullptr;
    }
  }
  Run(ready, PullState::kReady);
}

std::vector<UpdateGate::Waiter> UpdateGate::TakeReadyWaitersLocked() {
  std::vector<Waiter> ready;
  auto keep =
      std::partition(waiters_.begin(), waiters_.end(),
                     [this](const Waiter& w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                       return w.clock > version_ + staleness_;
                     });
  for (auto it = keep; it != waiters_.end(); ++it) {
    max_lead_ = std::max(max_lead_, it->clock - version_);
  }
  std::move(keep, waiters_.end(), std::back_inserter(ready));
  waiters_.erase(keep, waiters_.end());
  return ready;
}

void UpdateGate::Run(std::vector<Waiter>& waiters, PullState state) {
  for (Waiter& waiter : waiters) waiter.ready(state);
}

void UpdateGate::AfterBarrierShrank() {
  if (consistency_ == Consistency::kBsp) {
    MaybeCloseRound();
    return;
  }
  std::vector<Waiter> ready;
  {
    absl::MutexLock lock(&mu_);
    AdvanceSspLocked();
    ready = TakeReadyWaitersLocked();
  }
  Run(ready, PullState::kReady);
}

absl::Status UpdateGate::Leave(uint64_t worker) {
  {
    absl::MutexLock lock(&mu_);
    // A worker not live is not in the barrier: nothing to do.
    if (!CheckLiveLocked(worker).ok()) return absl::OkStatus();
    participants_.erase(worker);
  }
  AfterBarrierShrank();
  return absl::OkStatus();
}

void UpdateGate::SetLiveWorkers(const std::set<uint64_t>& live) {
  {
    absl::MutexLock lock(&mu_);
    live_ = absl::flat_hash_set<uint64_t>(live.begin(), live.end());
    absl::erase_if(participants_, [&live](const auto& entry) {
      return live.count(entry.first) == 0;
    });
  }
  AfterBarrierShrank();
}

void UpdateGate::AddLiveWorkers(const std::set<uint64_t>& live) {
  absl::MutexLock lock(&mu_);
  live_.insert(live.begin(), live.end());
}

void UpdateGate::WhenReadable(uint64_t worker, uint64_t generation,
                              int64_t clock, absl::Time deadline,
                              std::function<void(PullState)> ready) {
  PullState state = PullState::kReady;
  bool moved_due = false;
  if (clock >= 0) {
    // One critical section: a pull cannot park after Close() emptied the
    // waiters, or it would never be answered.
    absl::MutexLock lock(&mu_);
    if (closed_) {
      state = PullState::kClosed;
    } else if (!CheckLiveLocked(worker).ok()) {
      state = PullState::kNotLive;
    } else if (!CheckGenerationLocked(generation).ok()) {
      state = PullState::kAborted;
    } else if (consistency_ == Consistency::kAsp) {
      NoteAspPullLocked(worker, clock);
    } else {
      state = JoinLocked(worker, clock, deadline, &ready, &moved_due);
    }
  }
  // Moving a worker's due clock forward may complete a round or raise the
  // slowest clock.
  if (moved_due) AfterBarrierShrank();
  if (ready) ready(state);
}

void UpdateGate::NoteAspPullLocked(uint64_t worker, int64_t clock) {
  // A worker pulls at c only after pushing c - 1, so a pull at a clock
  // already pushed comes from a worker that started over under the same id
  // (a coordinator restarted without its state): count its pushes afresh
  // rather than drop them as repeats.
  auto applied = applied_.find(worker);
  if (applied != applied_.end() && clock <= applied->second.highest()) {
    applied_.erase(applied);
  }
}

UpdateGate::PullState UpdateGate::JoinLocked(
    uint64_t worker, int64_t clock, absl::Time deadline,
    std::function<void(PullState)>* ready, bool* moved_due) {
  auto due = participants_.find(worker);
  const bool joined = due != participants_.end();
  if (clock < version_ || (!joined && clock > version_)) {
    // Behind, or ahead of a server that was reset: re-sync at version.
    return PullState::kBehind;
  }
  // Join, or move forward a worker that re-synced to a later clock.
  *moved_due = joined && due->second != clock;
  participants_[worker] = clock;
  // A worker joining anew counts its pushes from here: a push of an earlier
  // clock is refused as not due, so dedup by clock restarts.
  if (!joined) applied_.erase(worker);
  if (clock > version_ + staleness_) {
    waiters_.push_back({clock, deadline, std::move(*ready)});
    *ready = nullptr;
  } else {
    max_lead_ = std::max(max_lead_, clock - version_);
  }
  return PullState::kReady;
}

void UpdateGate::Close() {
  std::vector<Waiter> closed;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    closed.swap(waiters_);
  }
  Run(closed, PullState::kClosed);
}

void UpdateGate::ExpireWaiters(absl::Time now) {
  std::vector<Waiter> expired;
  {
    absl::MutexLock lock(&mu_);
    auto keep =
        std::partition(waiters_.begin(), waiters_.end(),
                       [now](const Waiter& w) { return w.deadline > now; });
    std::move(keep, waiters_.end(), std::back_inserter(expired));
    waiters_.erase(keep, waiters_.end());
  }
  Run(expired, PullState::kTimedOut);
}

bool UpdateGate::SnapshotAt(int64_t version,
                            std::function<void(int64_t)> take) {
  absl::WriterMutexLock round_lock(&round_mu_);
  int64_t now = 0;
  {
    absl::MutexLock lock(&mu_);
    now = version_;
  }
  if (consistency_ != Consistency::kBsp || now == version) {
    take(now);
    return true;
  }
  if (now > version) return false;
  snapshot_target_ = version;
  snapshot_ = std::move(take);
  return true;
}

absl::Status UpdateGate::Reset(uint64_t generation, int64_t version,
                               const std::function<absl::Status()>& restore) {
  std::vector<Waiter> aborted;
  {
    absl::WriterMutexLock round_lock(&round_mu_);
    if (absl::Status s = restore(); !s.ok()) return s;
    snapshot_target_ = -1;
    snapshot_ = nullptr;
    absl::MutexLock lock(&mu_);
    generation_ = generation;
    version_ = version;
    applied_.clear();
    participants_.clear();
    pushed_.clear();
    contributions_ = 0;
    aborted.swap(waiters_);
  }
  Run(aborted, PullState::kAborted);
  return absl::OkStatus();
}

int64_t UpdateGate::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

uint64_t UpdateGate::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

int64_t UpdateGate::max_lead() const {
  absl::MutexLock lock(&mu_);
  return max_lead_;
}

int64_t UpdateGate::not_due_pushes() const {
  absl::MutexLock lock(&mu_);
  return not_due_pushes_;
}

std::vector<uint64_t> UpdateGate::participants() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  for (const auto& [worker, due] : participants_) out.push_back(worker);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace paramd
