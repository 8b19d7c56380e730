#include "server/lease_book.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace paramd {

LeaseBook::LeaseBook(int32_t num_shards, int32_t epochs, absl::Duration timeout,
                     BadShards bad_shards)
    : num_shards_(num_shards),
      epochs_(epochs),
      timeout_(timeout),
      bad_shards_(bad_shards) {
  if (epochs_ > 0) StartEpoch();
}

void LeaseBook::StartEpoch() {
  // An epoch of skipped shards only is over as soon as it starts.
  while (true) {
    queue_.clear();
    EpochLedger ledger;
    ledger.completions.assign(num_shards_, 0);
    for (int32_t s = 0; s < num_shards_; ++s) {
      if (skipped_.count(s) > 0) {
        ++ledger.shards_done;
        ++ledger.failed;
      } else {
        queue_.push_back(s);
      }
    }
    ledger_.push_back(std::move(ledger));
    if (!queue_.empty() || ++epoch_ >= epochs_) return;
  }
}

int32_t LeaseBook::remaining() const {
  return done() ? 0 : num_shards_ - ledger_[epoch_].shards_done;
}

LeaseBook::Grant LeaseBook::Acquire(uint64_t worker, absl::Time now,
                                    LeaseInfo* lease) {
  Expire(now);
  if (!failure_.empty()) return Grant::kFailed;
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

void LeaseBook::Renew(uint64_t worker, const std::vector<uint64_t>& held,
                      absl::Time now) {
  for (uint64_t id : held) {
    auto it = leases_.find(id);
    if (it == leases_.end()) continue;
    LeaseInfo& lease = it->second;
    if (lease.worker_id == worker && lease.deadline > now) {
      lease.deadline = now + timeout_;
    }
  }
}

paramd::v1::Completion LeaseBook::Completed(uint64_t examples, double loss_sum,
                                            int64_t clock) {
  paramd::v1::Completion done;
  done.set_examples(examples);
  done.set_loss_sum(loss_sum);
  done.set_clock(clock);
  return done;
}

paramd::v1::Completion LeaseBook::Failed(const std::string& error) {
  paramd::v1::Completion done;
  done.set_error(error.empty() ? "unreadable" : error);
  return done;
}

absl::StatusOr<paramd::v1::Completion> LeaseBook::Prepare(
    uint64_t worker, uint64_t lease_id, paramd::v1::Completion done,
    absl::Time now) {
  Expire(now);
  auto it = leases_.find(lease_id);
  if (it == leases_.end() || it->second.worker_id != worker) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease ", lease_id, " is not held by worker ", worker,
                     " (it expired, or a rollback revoked it)"));
  }
  done.set_epoch(it->second.epoch);
  done.set_shard(it->second.shard);
  done.set_worker_id(worker);
  return done;
}

void LeaseBook::Commit(uint64_t lease_id, const paramd::v1::Completion& done) {
  leases_.erase(lease_id);
  Record(done);
}

void LeaseBook::Record(const paramd::v1::Completion& done) {
  log_.push_back(done);
  EpochLedger& ledger = ledger_[done.epoch()];
  if (ledger.completions[done.shard()]++ == 0) ++ledger.shards_done;
  ledger.examples += done.examples();
  ledger.loss_sum += done.loss_sum();
  if (!done.error().empty()) {
    ++ledger.failed;
    if (bad_shards_ == BadShards::kSkip) {
      skipped_.insert(done.shard());
    } else if (failure_.empty()) {
      failure_ =
          absl::StrCat("shard ", done.shard(), " of epoch ", done.epoch() + 1,
                       " cannot be read: ", done.error());
    }
  }
  if (ledger.shards_done == num_shards_ && done.epoch() == epoch_) {
    ++epoch_;
    if (!this->done()) StartEpoch();
  }
}

absl::Status LeaseBook::Return(uint64_t worker, uint64_t lease_id) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end() || it->second.worker_id != worker) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease ", lease_id, " is not held by worker ", worker));
  }
  Requeue(it);
  return absl::OkStatus();
}

bool LeaseBook::Reclaim(uint64_t worker, const LeaseInfo& held,
                        absl::Time now) {
  // The id comes from a client: one near 2^64 would wrap later grants.
  if (held.lease_id == 0 || held.lease_id >= kMaxLeaseId) return false;
  if (held.epoch != epoch_ || leases_.count(held.lease_id) > 0) return false;
  auto queued = std::find(queue_.begin(), queue_.end(), held.shard);
  if (queued == queue_.end()) return false;
  queue_.erase(queued);
  LeaseInfo& lease = leases_[held.lease_id];
  lease = held;
  lease.worker_id = worker;
  lease.deadline = now + timeout_;
  next_lease_id_ = std::max(next_lease_id_, held.lease_id + 1);
  return true;
}

absl::Status LeaseBook::Rebuild(
    const std::vector<paramd::v1::Completion>& log) {
  LeaseBook fresh(num_shards_, epochs_, timeout_, bad_shards_);
  for (size_t i = 0; i < log.size(); ++i) {
    const paramd::v1::Completion& done = log[i];
    const bool fits =
        !fresh.done() && done.epoch() == fresh.epoch_ && done.shard() >= 0 &&
        done.shard() < num_shards_ &&
        fresh.ledger_[done.epoch()].completions[done.shard()] == 0;
    if (!fits) {
      return absl::DataLossError(
          absl::StrCat("completion ", i, " (epoch ", done.epoch(), ", shard ",
                       done.shard(), ") does not follow the ones before it"));
    }
    auto queued =
        std::find(fresh.queue_.begin(), fresh.queue_.end(), done.shard());
    if (queued == fresh.queue_.end()) {  // a shard skipped since it failed
      return absl::DataLossError(absl::StrCat(
          "completion ", i, " (epoch ", done.epoch(), ", shard ", done.shard(),
          ") is of a shard left out after it failed"));
    }
    fresh.queue_.erase(queued);
    fresh.Record(done);
  }
  fresh.next_lease_id_ = next_lease_id_;
  fresh.expired_ = expired_;
  *this = std::move(fresh);
  return absl::OkStatus();
}

void LeaseBook::Requeue(std::map<uint64_t, LeaseInfo>::iterator it) {
  queue_.push_front(it->second.shard);
  leases_.erase(it);
}

void LeaseBook::Lapse(std::map<uint64_t, LeaseInfo>::iterator it,
                      const char* why) {
  const LeaseInfo& lease = it->second;
  LogWarning(absl::StrCat("lease ", lease.lease_id, " of worker ",
                          lease.worker_id, " on shard ", lease.shard,
                          " (epoch ", lease.epoch + 1, ") ", why,
                          ": the shard will be trained again from its start"));
  Requeue(it);
  ++expired_;
}

int LeaseBook::Expire(absl::Time now) {
  int count = 0;
  for (auto it = leases_.begin(); it != leases_.end();) {
    auto next = std::next(it);
    if (it->second.deadline <= now) {
      Lapse(it, "expired");
      ++count;
    }
    it = next;
  }
  return count;
}

void LeaseBook::Postpone(absl::Duration by) {
  for (auto& [id, lease] : leases_) lease.deadline += by;
}

void LeaseBook::Release(uint64_t worker) {
  for (auto it = leases_.begin(); it != leases_.end();) {
    auto next = std::next(it);
    if (it->second.worker_id == worker) Lapse(it, "lapsed (its worker died)");
    it = next;
  }
}

void LeaseBook::FillStatus(const std::vector<std::string>& shards,
                           absl::Time now,
                           paramd::v1::GetStatusResponse* status) const {
  for (const auto& [id, lease] : leases_) {
    paramd::v1::LeaseStatus* out = status->add_leases();
    out->mutable_lease()->set_lease_id(id);
    out->mutable_lease()->set_shard(lease.shard);
    out->mutable_lease()->set_epoch(lease.epoch);
    out->mutable_lease()->set_path(shards[lease.shard]);
    out->set_worker_id(lease.worker_id);
    out->set_remaining_s(absl::ToDoubleSeconds(lease.deadline - now));
  }
  for (size_t e = 0; e < ledger_.size(); ++e) {
    const EpochLedger& ledger = ledger_[e];
    paramd::v1::EpochStatus* out = status->add_epochs_status();
    out->set_epoch(static_cast<int32_t>(e));
    out->set_shards_done(ledger.shards_done);
    int32_t completions = 0;
    for (int32_t c : ledger.completions) completions += c;
    out->set_completions(completions);
    out->set_examples(ledger.examples);
    out->set_failed(ledger.failed);
    out->set_train_loss(
        ledger.examples == 0 ? 0.0 : ledger.loss_sum / ledger.examples);
  }
  for (const paramd::v1::Completion& done : log_) {
    if (done.error().empty()) continue;
    paramd::v1::ShardFailure* failure = status->add_failed_shards();
    failure->set_epoch(done.epoch());
    failure->set_shard(done.shard());
    failure->set_path(shards[done.shard()]);
    failure->set_error(done.error());
    failure->set_skipped(bad_shards_ == BadShards::kSkip);
  }
}

}  // namespace paramd
