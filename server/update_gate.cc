#include "server/update_gate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace paramd {

UpdateGate::UpdateGate(ShardStore* store, Consistency consistency, bool average)
    : store_(store), consistency_(consistency), average_(average) {}

absl::StatusOr<int64_t> UpdateGate::Push(uint64_t worker, int64_t clock,
                                         const std::vector<Slice>& slices) {
  if (consistency_ == Consistency::kBsp) return PushBsp(worker, clock, slices);
  {
    absl::MutexLock lock(&mu_);
    auto it = last_clock_.find(worker);
    if (it != last_clock_.end() && clock <= it->second) return clock + 1;
    last_clock_[worker] = clock;
  }
  for (const Slice& slice : slices) store_->Apply(slice, 1.0f);
  absl::MutexLock lock(&mu_);
  ++version_;
  return clock + 1;
}

absl::StatusOr<int64_t> UpdateGate::PushBsp(uint64_t worker, int64_t clock,
                                            const std::vector<Slice>& slices) {
  bool complete = false;
  {
    absl::ReaderMutexLock round_lock(&round_mu_);
    {
      absl::MutexLock lock(&mu_);
      auto last = last_clock_.find(worker);
      if (last != last_clock_.end() && clock <= last->second) {
        return clock + 1;  // a retry: already counted
      }
      auto due = participants_.find(worker);
      if (due == participants_.end() || due->second != clock ||
          clock != version_) {
        return absl::FailedPreconditionError(absl::StrCat(
            "worker ", worker, " is not due at clock ", clock, " (open round ",
            version_,
            "): it left the barrier or was presumed dead; pull again"));
      }
      last_clock_[worker] = clock;
      due->second = clock + 1;
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
    absl::MutexLock lock(&mu_);
    ++version_;
    pushed_.clear();
    contributions_ = 0;
    ready = TakeReadyWaitersLocked();
  }
  for (Waiter& waiter : ready) waiter.ready(PullState::kReady);
}

std::vector<UpdateGate::Waiter> UpdateGate::TakeReadyWaitersLocked() {
  std::vector<Waiter> ready;
  auto keep = std::partition(
      waiters_.begin(), waiters_.end(),
      [this](const Waiter& w)
          ABSL_NO_THREAD_SAFETY_ANALYSIS { return w.clock > version_; });
  std::move(keep, waiters_.end(), std::back_inserter(ready));
  waiters_.erase(keep, waiters_.end());
  return ready;
}

void UpdateGate::Leave(uint64_t worker) {
  {
    absl::MutexLock lock(&mu_);
    participants_.erase(worker);
  }
  MaybeCloseRound();
}

void UpdateGate::SetLiveWorkers(const std::set<uint64_t>& live) {
  {
    absl::MutexLock lock(&mu_);
    absl::erase_if(participants_, [&live](const auto& entry) {
      return live.count(entry.first) == 0;
    });
  }
  MaybeCloseRound();
}

void UpdateGate::WhenReadable(uint64_t worker, int64_t clock,
                              absl::Time deadline,
                              std::function<void(PullState)> ready) {
  PullState state = PullState::kReady;
  bool moved_due = false;
  if (consistency_ == Consistency::kBsp && clock >= 0) {
    absl::MutexLock lock(&mu_);
    auto due = participants_.find(worker);
    const bool joined = due != participants_.end();
    if (clock < version_) {
      state = PullState::kBehind;
    } else {
      // Join, or move forward a worker that re-synced to a later clock.
      moved_due = joined && due->second != clock;
      participants_[worker] = clock;
      if (clock > version_) {
        waiters_.push_back({clock, deadline, std::move(ready)});
        ready = nullptr;
      }
    }
  }
  // Moving a worker's due round forward may complete the open round.
  if (moved_due) MaybeCloseRound();
  if (ready) ready(state);
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
  for (Waiter& waiter : expired) waiter.ready(PullState::kTimedOut);
}

int64_t UpdateGate::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

std::vector<uint64_t> UpdateGate::participants() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  for (const auto& [worker, due] : participants_) out.push_back(worker);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace paramd
