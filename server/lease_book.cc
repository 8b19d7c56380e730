#include "server/lease_book.h"

#include "absl/strings/str_cat.h"

namespace paramd {

LeaseBook::LeaseBook(int32_t num_shards, int32_t epochs, absl::Duration timeout)
    : num_shards_(num_shards), epochs_(epochs), timeout_(timeout) {
  if (epochs_ > 0) StartEpoch();
}

void LeaseBook::StartEpoch() {
  queue_.clear();
  for (int32_t s = 0; s < num_shards_; ++s) queue_.push_back(s);
  EpochLedger ledger;
  ledger.completions.assign(num_shards_, 0);
  ledger_.push_back(std::move(ledger));
}

LeaseBook::Grant LeaseBook::Acquire(uint64_t worker, absl::Time now,
                                    LeaseInfo* lease) {
  Expire(now);
  if (done()) return Grant::kDone;
  if (queue_.empty()) return Grant::kWait;
  lease->lease_id = next_lease_id_++;
  lease->worker_id = worker;
  lease->shard = queue_.front();
  lease->epoch = epoch_;
  lease->deadline = now + timeout_;
  queue_.pop_front();
  leases_[lease->lease_id] = *lease;
  return Grant::kLeased;
}

void LeaseBook::Renew(uint64_t worker, absl::Time now) {
  for (auto& [id, lease] : leases_) {
    if (lease.worker_id == worker && lease.deadline > now) {
      lease.deadline = now + timeout_;
    }
  }
}

absl::Status LeaseBook::Complete(uint64_t worker, uint64_t lease_id,
                                 uint64_t examples, double loss_sum,
                                 absl::Time now) {
  Expire(now);
  auto it = leases_.find(lease_id);
  if (it == leases_.end() || it->second.worker_id != worker) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease ", lease_id, " is not held by worker ", worker,
                     " (it expired and its shard went to another worker)"));
  }
  const LeaseInfo lease = it->second;
  leases_.erase(it);
  EpochLedger& ledger = ledger_[lease.epoch];
  if (ledger.completions[lease.shard]++ == 0) ++ledger.shards_done;
  ledger.examples += examples;
  ledger.loss_sum += loss_sum;
  if (ledger.shards_done == num_shards_ && lease.epoch == epoch_) {
    ++epoch_;
    if (!done()) StartEpoch();
  }
  return absl::OkStatus();
}

void LeaseBook::Requeue(std::map<uint64_t, LeaseInfo>::iterator it) {
  queue_.push_front(it->second.shard);
  leases_.erase(it);
}

int LeaseBook::Expire(absl::Time now) {
  int count = 0;
  for (auto it = leases_.begin(); it != leases_.end();) {
    auto next = std::next(it);
    if (it->second.deadline <= now) {
      Requeue(it);
      ++count;
    }
    it = next;
  }
  expired_ += count;
  return count;
}

void LeaseBook::Release(uint64_t worker) {
  for (auto it = leases_.begin(); it != leases_.end();) {
    auto next = std::next(it);
    if (it->second.worker_id == worker) {
      Requeue(it);
      ++expired_;
    }
    it = next;
  }
}

}  // namespace paramd
