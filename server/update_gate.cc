#include "server/update_gate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace paramd {

UpdateGate::UpdateGate(ShardStore* store, Consistency consistency,
                       bool average)
    : store_(store), consistency_(consistency), average_(average) {}

absl::StatusOr<int64_t> UpdateGate::Push(uint64_t worker, int64_t clock,
                                         const std::vector<Slice>& slices) {
  if (consistency_ == Consistency::kBsp) return PushBsp(worker, clock, slices);
  {
    absl::MutexLock lock(&mu_);
    auto it = seen_.find(worker);
    if (it != seen_.end() && clock <= it->second.clock) return it->second.next;
    seen_[worker] = {clock, clock + 1};
  }
  for (const Slice& slice : slices) store_->Apply(slice, 1.0f);
  absl::MutexLock lock(&mu_);
  ++version_;
  return clock + 1;
}

absl::StatusOr<int64_t> UpdateGate::PushBsp(uint64_t worker, int64_t clock,
                                            const std::vector<Slice>& slices) {
  int64_t round = 0;
  bool complete = false;
  {
    absl::ReaderMutexLock round_lock(&round_mu_);
    {
      absl::MutexLock lock(&mu_);
      auto it = seen_.find(worker);
      if (it != seen_.end() && clock <= it->second.clock) {
        return it->second.next;  // a retry: already counted
      }
      if (clock > version_) {
        return absl::FailedPreconditionError(absl::StrCat(
            "clock ", clock, " is ahead of the open bsp round ", version_,
            ": pull before pushing"));
      }
      round = version_;  // a stale clock joins the open round
      seen_[worker] = {clock, round + 1};
      participants_.insert(worker);
    }
    for (const Slice& slice : slices) store_->Accumulate(slice);
    absl::MutexLock lock(&mu_);
    pushed_.insert(worker);
    ++contributions_;
    complete = RoundCompleteLocked();
  }
  if (complete) MaybeCloseRound();
  return round + 1;
}

bool UpdateGate::RoundCompleteLocked() const {
  if (contributions_ == 0) return false;
  return std::all_of(participants_.begin(), participants_.end(),
                     [this](uint64_t w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                       return pushed_.contains(w);
                     });
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
  for (Waiter& waiter : ready) waiter.ready(true);
}

std::vector<UpdateGate::Waiter> UpdateGate::TakeReadyWaitersLocked() {
  std::vector<Waiter> ready;
  auto keep = std::partition(
      waiters_.begin(), waiters_.end(),
      [this](const Waiter& w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return w.clock > version_;
      });
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
    absl::erase_if(participants_,
                   [&live](uint64_t w) { return live.count(w) == 0; });
  }
  MaybeCloseRound();
}

void UpdateGate::WhenReadable(int64_t clock, absl::Time deadline,
                              std::function<void(bool)> ready) {
  {
    absl::MutexLock lock(&mu_);
    if (consistency_ == Consistency::kBsp && clock > version_) {
      waiters_.push_back({clock, deadline, std::move(ready)});
      return;
    }
  }
  ready(true);
}

void UpdateGate::ExpireWaiters(absl::Time now) {
  std::vector<Waiter> expired;
  {
    absl::MutexLock lock(&mu_);
    auto keep = std::partition(
        waiters_.begin(), waiters_.end(),
        [now](const Waiter& w) { return w.deadline > now; });
    std::move(keep, waiters_.end(), std::back_inserter(expired));
    waiters_.erase(keep, waiters_.end());
  }
  for (Waiter& waiter : expired) waiter.ready(false);
}

int64_t UpdateGate::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

std::vector<uint64_t> UpdateGate::participants() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> out(participants_.begin(), participants_.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace paramd
