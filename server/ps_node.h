// The parameter server's life outside RPC handling: registering with the
// coordinator, building its shard, and heartbeats that keep the barrier to
// the live workers, take the checkpoints the coordinator orders and restore
// the one it names after a rollback.
#ifndef PARAMD_SERVER_PS_NODE_H_
#define PARAMD_SERVER_PS_NODE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/config.h"
#include "paramd/v1/coordinator.grpc.pb.h"
#include "server/checkpointer.h"
#include "server/ps_service.h"
#include "server/shard_store.h"
#include "server/update_gate.h"

namespace paramd {

// Start() then RunHeartbeats() from one thread; SaveCheckpoint() after.
class PsNode {
 public:
  // `address` is where workers reach this server; `shard` is the shard to
  // ask for, or -1 for any.
  PsNode(const std::string& coordinator, std::string address, int32_t shard,
         PsService* service);

  // Registers (retrying while the coordinator is unreachable, until *stop),
  // builds the shard, restores a checkpoint if the coordinator says the
  // cluster is rolling back, and then attaches the shard to the service.
  absl::Status Start(const std::atomic<bool>* stop);

  // Reports to the coordinator every half heartbeat interval until *stop,
  // acting on each reply (see Heartbeat). Fails with FailedPrecondition if
  // another process took over this shard (this one must stop serving).
  absl::Status RunHeartbeats(const std::atomic<bool>* stop);

  // Answers every pull waiting for a bsp round, and every pull from now on,
  // with Unavailable, so the server can shut down (see UpdateGate::Close).
  void Close();

  // Writes the shard at its current version now (graceful shutdown). Does
  // nothing without a checkpoint directory.
  absl::Status SaveCheckpoint();

 private:
  // One heartbeat: reports state, prunes the barrier to the live workers,
  // restores on a new generation, and acts on a new checkpoint order.
  // Returns the reply, or the failure.
  absl::StatusOr<paramd::v1::ServerHeartbeatResponse> Heartbeat();
  void Restore(uint64_t generation, int64_t version);
  void TakeCheckpoint(const paramd::v1::CheckpointOrder& order);

  std::unique_ptr<paramd::v1::Coordinator::Stub> stub_;
  const std::string address_;
  int32_t shard_;
  PsService* const service_;  // Not owned.
  JobConfig job_;
  std::unique_ptr<ShardStore> store_;
  std::unique_ptr<UpdateGate> gate_;
  uint64_t seen_order_ = 0;  // newest checkpoint order acted on
  std::string restore_error_;

  // The newest checkpoint order finished: written, missed, or failed to
  // write (done_error_ says why). Declared before checkpointer_, whose
  // writer thread reports here until it ends.
  absl::Mutex mu_;
  uint64_t done_order_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t done_version_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_missed_ ABSL_GUARDED_BY(mu_) = false;
  std::string done_error_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Checkpointer> checkpointer_;  // null without a directory
};

}  // namespace paramd

#endif  // PARAMD_SERVER_PS_NODE_H_
