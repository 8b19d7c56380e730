// gRPC adapter of the parameter server: turns protos into ShardStore and
// UpdateGate calls, nothing more.
#ifndef PARAMD_SERVER_PS_SERVICE_H_
#define PARAMD_SERVER_PS_SERVICE_H_

#include <atomic>
#include <cstdint>

#include "paramd/v1/ps.grpc.pb.h"
#include "server/checkpointer.h"
#include "server/shard_store.h"
#include "server/update_gate.h"

namespace paramd {

// Thread-safe. Answers UNAVAILABLE until Attach() is called, so the server
// can listen (and learn its port) before the coordinator assigns its shard.
class PsService final : public paramd::v1::ParameterServer::CallbackService {
 public:
  PsService() = default;

  // Starts serving `store` through `gate`; `checkpoints` (may be null) lists
  // the checkpoints held. All must outlive the service.
  void Attach(ShardStore* store, UpdateGate* gate,
              const Checkpointer* checkpoints, int32_t num_shards);

  // Test-only fault: answers this fraction of the pushes it applied with
  // UNAVAILABLE, as if the reply were lost, so clients retry them.
  void TEST_DropReplies(double fraction) { drop_replies_ = fraction; }

  // What Attach gave (null before).
  const ShardStore* store() const { return store_.load(); }
  const UpdateGate* gate() const { return gate_.load(); }

  grpc::ServerUnaryReactor* Pull(grpc::CallbackServerContext* context,
                                 const paramd::v1::PullRequest* request,
                                 paramd::v1::PullResponse* response) override;
  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* context,
                                 const paramd::v1::PushRequest* request,
                                 paramd::v1::PushResponse* response) override;
  grpc::ServerUnaryReactor* GetServerInfo(
      grpc::CallbackServerContext* context,
      const paramd::v1::ServerInfoRequest* request,
      paramd::v1::ServerInfoResponse* response) override;
  grpc::ServerUnaryReactor* ListKeys(
      grpc::CallbackServerContext* context,
      const paramd::v1::ListKeysRequest* request,
      paramd::v1::ListKeysResponse* response) override;

 private:
  std::atomic<ShardStore*> store_{nullptr};                // Not owned.
  std::atomic<UpdateGate*> gate_{nullptr};                 // Not owned.
  std::atomic<const Checkpointer*> checkpoints_{nullptr};  // Not owned.
  std::atomic<int32_t> num_shards_{0};
  double drop_replies_ = 0;  // set before serving
};

}  // namespace paramd

#endif  // PARAMD_SERVER_PS_SERVICE_H_
