// The workers a coordinator knows: their ids, roles, liveness, progress and
// the answers to their latest state-changing calls (so a retry after a lost
// reply gets the same answer). Pure logic: the clock is passed in.
#ifndef PARAMD_SERVER_WORKER_REGISTRY_H_
#define PARAMD_SERVER_WORKER_REGISTRY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "paramd/v1/coordinator.pb.h"
#include "server/lease_book.h"

namespace paramd {

struct WorkerEntry {
  std::string host;
  std::string role;  // "trainer" or "evaluator"
  bool alive = true;
  absl::Time last_seen;
  uint64_t examples = 0;  // as its latest heartbeat said
  double loss_sum = 0;
  uint64_t register_request = 0;  // RegisterWorker's request_id
  // The latest AcquireShard: its request_id and answer.
  uint64_t acquire_request = 0;
  LeaseBook::Grant acquire_grant = LeaseBook::Grant::kWait;
  LeaseInfo acquire_lease;
  uint64_t completed_lease = 0;  // the latest lease completed or failed
};

// Thread-compatible: the coordinator serialises calls.
class WorkerRegistry {
 public:
  // Worker ids are below this, so the next id never wraps.
  static constexpr uint64_t kMaxWorkerId = uint64_t{1} << 48;

  // The worker registered with `request_id` (not 0), if any.
  std::optional<uint64_t> FindRegistration(uint64_t request_id) const;

  // Checks what Add would refuse, without adding: InvalidArgument for an
  // unknown role or an id of kMaxWorkerId or more.
  static absl::Status CheckRegistration(const std::string& role,
                                        uint64_t old_id);

  // Adds a worker under `old_id` (a worker coming back), or if 0 under the
  // next free id, and returns the id. Fails with InvalidArgument if
  // `old_id` is in use.
  absl::StatusOr<uint64_t> Add(const std::string& host, const std::string& role,
                               uint64_t old_id, uint64_t request_id,
                               absl::Time now);

  // The worker, or NotFound telling it to register again.
  absl::StatusOr<WorkerEntry*> Find(uint64_t id);

  // Marks workers silent for longer than `timeout` dead; returns each with
  // how long it was silent.
  std::vector<std::pair<uint64_t, absl::Duration>> MarkSilentDead(
      absl::Time now, absl::Duration timeout);

  // Moves every worker's last heartbeat `by` later (time in which the
  // coordinator could not hear them).
  void Postpone(absl::Duration by);

  // Ids of the live trainers, ascending.
  std::vector<uint64_t> LiveTrainers() const;

  // Adds every worker to `status`; returns the examples and loss sums their
  // heartbeats reported, in all.
  std::pair<uint64_t, double> FillStatus(
      absl::Time now, paramd::v1::GetStatusResponse* status) const;

  uint64_t next_id() const { return next_id_; }
  // After a restart: new ids go on from `next_id`.
  void Resume(uint64_t next_id);

 private:
  std::map<uint64_t, WorkerEntry> workers_;
  uint64_t next_id_ = 1;
};

}  // namespace paramd

#endif  // PARAMD_SERVER_WORKER_REGISTRY_H_
