// gRPC adapter of the coordinator: turns protos into Coordinator calls.
#ifndef PARAMD_SERVER_COORDINATOR_SERVICE_H_
#define PARAMD_SERVER_COORDINATOR_SERVICE_H_

#include "paramd/v1/coordinator.grpc.pb.h"
#include "server/coordinator.h"

namespace paramd {

// Thread-safe. Every call is quick, so each reaction finishes inline.
class CoordinatorService final
    : public paramd::v1::Coordinator::CallbackService {
 public:
  explicit CoordinatorService(Coordinator* coordinator)
      : coordinator_(coordinator) {}

  // Test-only fault: answers this fraction of the worker calls that change
  // state (RegisterWorker, AcquireShard, CompleteShard, FailShard,
  // ReleaseShard) with UNAVAILABLE after carrying them out, as if the reply
  // were lost, so the workers retry them. Set before serving.
  void TEST_DropReplies(double fraction) { drop_replies_ = fraction; }

  grpc::ServerUnaryReactor* RegisterServer(
      grpc::CallbackServerContext* context,
      const paramd::v1::RegisterServerRequest* request,
      paramd::v1::RegisterServerResponse* response) override;
  grpc::ServerUnaryReactor* ServerHeartbeat(
      grpc::CallbackServerContext* context,
      const paramd::v1::ServerHeartbeatRequest* request,
      paramd::v1::ServerHeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* RegisterWorker(
      grpc::CallbackServerContext* context,
      const paramd::v1::RegisterWorkerRequest* request,
      paramd::v1::RegisterWorkerResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(
      grpc::CallbackServerContext* context,
      const paramd::v1::HeartbeatRequest* request,
      paramd::v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* AcquireShard(
      grpc::CallbackServerContext* context,
      const paramd::v1::AcquireShardRequest* request,
      paramd::v1::AcquireShardResponse* response) override;
  grpc::ServerUnaryReactor* CompleteShard(
      grpc::CallbackServerContext* context,
      const paramd::v1::CompleteShardRequest* request,
      paramd::v1::CompleteShardResponse* response) override;
  grpc::ServerUnaryReactor* FailShard(
      grpc::CallbackServerContext* context,
      const paramd::v1::FailShardRequest* request,
      paramd::v1::FailShardResponse* response) override;
  grpc::ServerUnaryReactor* ReleaseShard(
      grpc::CallbackServerContext* context,
      const paramd::v1::ReleaseShardRequest* request,
      paramd::v1::ReleaseShardResponse* response) override;
  grpc::ServerUnaryReactor* Checkpoint(
      grpc::CallbackServerContext* context,
      const paramd::v1::CheckpointRequest* request,
      paramd::v1::CheckpointResponse* response) override;
  grpc::ServerUnaryReactor* ReportEval(
      grpc::CallbackServerContext* context,
      const paramd::v1::ReportEvalRequest* request,
      paramd::v1::ReportEvalResponse* response) override;
  grpc::ServerUnaryReactor* GetStatus(
      grpc::CallbackServerContext* context,
      const paramd::v1::GetStatusRequest* request,
      paramd::v1::GetStatusResponse* response) override;

 private:
  // Finishes a call that changed state (see TEST_DropReplies).
  grpc::ServerUnaryReactor* FinishChange(grpc::CallbackServerContext* context,
                                         const absl::Status& status);

  Coordinator* const coordinator_;
  double drop_replies_ = 0;  // Not owned.
};

}  // namespace paramd

#endif  // PARAMD_SERVER_COORDINATOR_SERVICE_H_
