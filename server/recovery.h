// What the coordinator knows and decides about the parameter servers'
// state: their versions, generations and checkpoints, when to order a
// checkpoint, when one is complete, and where to roll back to after a
// server restarts. Pure logic: time is passed in.
#ifndef PARAMD_SERVER_RECOVERY_H_
#define PARAMD_SERVER_RECOVERY_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/config.h"
#include "paramd/v1/checkpoint.pb.h"
#include "paramd/v1/coordinator.pb.h"

namespace paramd {

// A rollback: every shard restores versions[shard] (0: initial values);
// job progress keeps the completions that `Keeps`.
struct Rollback {
  uint64_t generation = 0;
  std::vector<int64_t> versions;
  // asp and ssp: completions logged before the checkpoint was ordered.
  std::optional<uint64_t> log_size;

  // Whether a completion survives: under bsp its clock is covered by the
  // restored version; otherwise it was logged before the checkpoint.
  bool Keeps(const paramd::v1::Completion& done, size_t index) const;
};

// Thread-compatible: the coordinator serialises calls.
class Recovery {
 public:
  Recovery(const JobConfig& job, int32_t num_shards);

  // A server process started on `shard`. If the job already made progress
  // (`progress`, another server is past version 0, or a checkpoint is) the
  // cluster must roll back, once every shard has reported the checkpoints
  // it holds.
  void ServerStarted(int32_t shard, bool progress);

  // A server's heartbeat.
  void Report(const paramd::v1::ServerHeartbeatRequest& report, absl::Time now);

  // Fills the generation, restore version and checkpoint order for `shard`.
  void FillResponse(int32_t shard,
                    paramd::v1::ServerHeartbeatResponse* response) const;

  // If a rollback is due and every shard has reported since, starts it: a
  // new generation restoring the newest checkpoint all shards hold (all at
  // one version under bsp; one completed order under asp and ssp), or the
  // initial values if there is none.
  std::optional<Rollback> MaybeRollBack();

  // True while servers are not all serving the current generation: no new
  // work should start.
  bool Settling() const;

  // Orders a checkpoint. Under bsp it is taken at a version every server
  // reaches after hearing of it (judged from the rate versions grow at).
  // Fails with FailedPrecondition when no directory is configured or a
  // server is unknown.
  absl::StatusOr<paramd::v1::CheckpointOrder> Order(absl::Time now,
                                                    uint64_t log_size);

  // Orders one if every_s or every_steps says so and none is in flight;
  // returns whether it did.
  bool MaybeOrder(absl::Time now, uint64_t log_size);

  // Returns the open order's record once every shard holds it. An order
  // that a server missed is re-issued further ahead; one that a server
  // could not write is dropped, and another ordered after a backoff (1 s,
  // doubling to 10 s) until one is written; one not done in 2 minutes is
  // dropped.
  std::optional<paramd::v1::CheckpointRecord> MaybeFinish(absl::Time now);

  // The latest failed order (id 0: none).
  paramd::v1::CheckpointFailure checkpoint_failure(absl::Time now) const;

  uint64_t generation() const { return generation_; }
  const std::vector<int64_t>& rollbacks() const { return rollbacks_; }
  const std::vector<paramd::v1::CheckpointRecord>& records() const {
    return records_;
  }
  int64_t max_version() const;
  std::vector<int64_t> versions() const;

  // State that survives a coordinator restart (see CoordinatorState).
  void Save(paramd::v1::CoordinatorState* state) const;
  void Restore(const paramd::v1::CoordinatorState& state);

 private:
  struct Server {
    bool reported = false;  // heard from since the rollback was asked for
    uint64_t generation = 0;
    int64_t version = 0;
    std::set<int64_t> checkpoints;
    uint64_t checkpoint_id = 0;
    int64_t checkpoint_version = 0;
    bool checkpoint_missed = false;
    std::string checkpoint_error;
    // Versions it failed to restore (left out of later rollbacks), and the
    // generation of the last failure.
    std::set<int64_t> bad;
    uint64_t failed_generation = 0;
    // Checkpoints it holds that it could restore.
    std::set<int64_t> Usable() const;
  };

  // The rollback target under bsp: the newest version every shard can
  // restore (0 if none). Forgets records above it.
  Rollback PlanBspRollback();
  // Under asp and ssp: the newest completed order every shard can restore.
  // Forgets records after it.
  Rollback PlanRecordedRollback();
  // The open order could not be written by `shard`: drops it and sets when
  // to order again.
  void OrderFailed(absl::Time now, int32_t shard);

  const JobConfig job_;
  std::vector<Server> servers_;
  uint64_t generation_ = 0;
  std::vector<int64_t> restore_versions_;
  bool rollback_due_ = false;
  std::vector<int64_t> rollbacks_;

  // Checkpoints.
  uint64_t next_id_ = 1;
  std::optional<paramd::v1::CheckpointOrder> order_;
  uint64_t order_log_size_ = 0;
  absl::Time order_time_;
  int64_t margin_ = 1;  // rounds ahead a bsp order is placed
  absl::Time last_order_time_ = absl::InfinitePast();
  int64_t last_order_version_ = 0;
  std::vector<paramd::v1::CheckpointRecord> records_;
  // Failed orders: the latest, how many in a row, since when, and when to
  // order again.
  paramd::v1::CheckpointFailure failure_;
  absl::Time failing_since_;
  absl::Time retry_at_;
  // Version growth, for placing orders.
  absl::Time rate_time_ = absl::InfinitePast();
  int64_t rate_version_ = 0;
  double versions_per_s_ = 0;
};

}  // namespace paramd

#endif  // PARAMD_SERVER_RECOVERY_H_
