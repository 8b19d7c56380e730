// The parameter server's life outside RPC handling: registering with the
// coordinator, building its shard, and heartbeats that keep the bsp barrier
// to the live workers.
#ifndef PARAMD_SERVER_PS_NODE_H_
#define PARAMD_SERVER_PS_NODE_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/config.h"
#include "paramd/v1/coordinator.grpc.pb.h"
#include "server/ps_service.h"
#include "server/shard_store.h"
#include "server/update_gate.h"

namespace paramd {

// Thread-compatible: Start() then RunHeartbeats() from one thread.
class PsNode {
 public:
  // `address` is where workers reach this server; `shard` is the shard to
  // ask for, or -1 for any.
  PsNode(const std::string& coordinator, std::string address, int32_t shard,
         PsService* service);

  // Registers (retrying while the coordinator is unreachable, until *stop),
  // builds the shard and attaches it to the service.
  absl::Status Start(const std::atomic<bool>* stop);

  // Reports to the coordinator every heartbeat interval until *stop,
  // pruning dead workers from the barrier and failing overdue pulls.
  void RunHeartbeats(const std::atomic<bool>* stop);

 private:
  std::unique_ptr<paramd::v1::Coordinator::Stub> stub_;
  const std::string address_;
  int32_t shard_;
  PsService* const service_;  // Not owned.
  JobConfig job_;
  std::unique_ptr<ShardStore> store_;
  std::unique_ptr<UpdateGate> gate_;
};

}  // namespace paramd

#endif  // PARAMD_SERVER_PS_NODE_H_
