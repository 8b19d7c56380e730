// Which data shard each worker trains on: the per-epoch queue, the leases
// with their deadlines, and the ledger of completions. Pure logic: the clock
// is passed in, so tests drive time directly.
#ifndef PARAMD_SERVER_LEASE_BOOK_H_
#define PARAMD_SERVER_LEASE_BOOK_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace paramd {

struct LeaseInfo {
  uint64_t lease_id = 0;
  uint64_t worker_id = 0;
  int32_t shard = 0;
  int32_t epoch = 0;
  absl::Time deadline;
};

struct EpochLedger {
  std::vector<int32_t> completions;  // per shard: times completed
  int32_t shards_done = 0;           // shards with completions > 0
  uint64_t examples = 0;
  double loss_sum = 0;
};

// Thread-compatible: the coordinator serialises calls.
//
// Each epoch every shard goes into a queue in order; workers take shards from
// its front as they ask, so consecutive requests from the live workers take
// turns (round-robin). A lease not renewed before its deadline goes back to
// the front of the queue for the next worker that asks. A shard's completion
// counts once per epoch; a late completion of an expired lease is refused.
class LeaseBook {
 public:
  enum class Grant { kLeased, kWait, kDone };

  LeaseBook(int32_t num_shards, int32_t epochs, absl::Duration timeout);

  // Gives `worker` the next shard. Returns kWait when every remaining shard
  // of the epoch is leased, kDone after the last epoch.
  Grant Acquire(uint64_t worker, absl::Time now, LeaseInfo* lease);

  // Extends every lease `worker` holds to now + timeout.
  void Renew(uint64_t worker, absl::Time now);

  // Records the shard of `lease_id` done. Fails with FailedPrecondition if
  // the lease expired or is not `worker`'s.
  absl::Status Complete(uint64_t worker, uint64_t lease_id, uint64_t examples,
                        double loss_sum, absl::Time now);

  // Returns leases past their deadline to the queue; returns how many.
  int Expire(absl::Time now);

  // Drops every lease `worker` holds (it died), returning them to the queue.
  void Release(uint64_t worker);

  int32_t epoch() const { return epoch_; }
  int32_t epochs() const { return epochs_; }
  int32_t num_shards() const { return num_shards_; }
  bool done() const { return epoch_ >= epochs_; }
  // Leases that lapsed (expired, or their worker died) and were requeued.
  int expired() const { return expired_; }
  const std::map<uint64_t, LeaseInfo>& leases() const { return leases_; }
  const std::vector<EpochLedger>& ledger() const { return ledger_; }

 private:
  void StartEpoch();
  void Requeue(std::map<uint64_t, LeaseInfo>::iterator it);

  const int32_t num_shards_;
  const int32_t epochs_;
  const absl::Duration timeout_;
  int32_t epoch_ = 0;
  uint64_t next_lease_id_ = 1;
  int expired_ = 0;
  std::deque<int32_t> queue_;
  std::map<uint64_t, LeaseInfo> leases_;
  std::vector<EpochLedger> ledger_;
};

}  // namespace paramd

#endif  // PARAMD_SERVER_LEASE_BOOK_H_
