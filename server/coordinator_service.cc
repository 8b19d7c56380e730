#include "server/coordinator_service.h"

#include <map>
#include <string>
#include <vector>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "common/grpc_status.h"
#include "common/rpc_security.h"
#include "server/coordinator_metrics.h"

namespace paramd {
namespace {

using ::grpc::CallbackServerContext;
using ::grpc::ServerUnaryReactor;
namespace v1 = ::paramd::v1;

ServerUnaryReactor* Finish(CallbackServerContext* context,
                           const absl::Status& status) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

LeaseInfo FromProto(const v1::Lease& lease) {
  LeaseInfo info;
  info.lease_id = lease.lease_id();
  info.shard = lease.shard();
  info.epoch = lease.epoch();
  info.generation = lease.generation();
  return info;
}

}  // namespace

ServerUnaryReactor* CoordinatorService::FinishChange(
    CallbackServerContext* context, const absl::Status& status) {
  if (status.ok() && drop_replies_ > 0 &&
      absl::Bernoulli(absl::BitGen(), drop_replies_)) {
    return Finish(context, absl::UnavailableError("TEST: reply dropped"));
  }
  return Finish(context, status);
}

ServerUnaryReactor* CoordinatorService::RegisterServer(
    CallbackServerContext* context, const v1::RegisterServerRequest* request,
    v1::RegisterServerResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kServer});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  absl::StatusOr<int32_t> shard =
      coordinator_->RegisterServer(request->address(), request->shard());
  if (shard.ok()) {
    response->set_shard(*shard);
    response->set_num_shards(coordinator_->job().num_servers);
    response->set_config_yaml(coordinator_->config_yaml());
    response->set_config_dir(coordinator_->job().base_dir);
  }
  return Finish(context, shard.status());
}

ServerUnaryReactor* CoordinatorService::ServerHeartbeat(
    CallbackServerContext* context, const v1::ServerHeartbeatRequest* request,
    v1::ServerHeartbeatResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kServer});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  return Finish(context, coordinator_->ServerHeartbeat(*request, response));
}

ServerUnaryReactor* CoordinatorService::RegisterWorker(
    CallbackServerContext* context, const v1::RegisterWorkerRequest* request,
    v1::RegisterWorkerResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kWorker});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  std::vector<std::string> servers;
  std::optional<LeaseInfo> held;
  if (request->has_held()) held = FromProto(request->held());
  absl::StatusOr<uint64_t> id = coordinator_->RegisterWorker(
      request->host(), request->role(), request->worker_id(),
      request->request_id(), &held, &servers);
  if (id.ok()) {
    response->set_worker_id(*id);
    response->set_config_yaml(coordinator_->config_yaml());
    for (const std::string& s : servers) response->add_servers(s);
    response->set_heartbeat_interval_s(
        coordinator_->job().heartbeat_interval_s);
    response->set_config_dir(coordinator_->job().base_dir);
  }
  return FinishChange(context, id.status());
}

ServerUnaryReactor* CoordinatorService::Heartbeat(
    CallbackServerContext* context, const v1::HeartbeatRequest* request,
    v1::HeartbeatResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kWorker});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  const std::vector<uint64_t> held(request->held_leases().begin(),
                                   request->held_leases().end());
  return Finish(context, coordinator_->Heartbeat(
                             request->worker_id(), request->examples(),
                             request->loss_sum(), held, response));
}

ServerUnaryReactor* CoordinatorService::AcquireShard(
    CallbackServerContext* context, const v1::AcquireShardRequest* request,
    v1::AcquireShardResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kWorker});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  LeaseInfo lease;
  std::string path;
  std::vector<std::string> servers;
  absl::StatusOr<LeaseBook::Grant> grant = coordinator_->AcquireShard(
      request->worker_id(), request->request_id(), &lease, &path, &servers);
  if (!grant.ok()) return FinishChange(context, grant.status());
  switch (*grant) {
    case LeaseBook::Grant::kLeased:
      CountLeaseGranted();
      response->set_state(v1::AcquireShardResponse::LEASED);
      response->mutable_lease()->set_lease_id(lease.lease_id);
      response->mutable_lease()->set_shard(lease.shard);
      response->mutable_lease()->set_epoch(lease.epoch);
      response->mutable_lease()->set_path(path);
      response->mutable_lease()->set_timeout_s(
          coordinator_->job().lease_timeout_s);
      response->mutable_lease()->set_generation(lease.generation);
      for (const std::string& s : servers) response->add_servers(s);
      break;
    case LeaseBook::Grant::kWait:
      response->set_state(v1::AcquireShardResponse::WAIT);
      break;
    case LeaseBook::Grant::kDone:
      response->set_state(v1::AcquireShardResponse::DONE);
      break;
    case LeaseBook::Grant::kFailed:
      response->set_state(v1::AcquireShardResponse::FAILED);
      response->set_failure(coordinator_->Failure());
      break;
  }
  return FinishChange(context, absl::OkStatus());
}

ServerUnaryReactor* CoordinatorService::CompleteShard(
    CallbackServerContext* context, const v1::CompleteShardRequest* request,
    v1::CompleteShardResponse*) {
  if (absl::Status allowed = Authorize(*context, {Role::kWorker});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  return FinishChange(
      context, coordinator_->CompleteShard(
                   request->worker_id(), request->lease_id(),
                   request->examples(), request->loss_sum(), request->clock()));
}

ServerUnaryReactor* CoordinatorService::FailShard(
    CallbackServerContext* context, const v1::FailShardRequest* request,
    v1::FailShardResponse*) {
  if (absl::Status allowed = Authorize(*context, {Role::kWorker});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  return FinishChange(context, coordinator_->FailShard(
                                   request->worker_id(), request->lease_id(),
                                   request->error(), request->unreadable()));
}

ServerUnaryReactor* CoordinatorService::ReleaseShard(
    CallbackServerContext* context, const v1::ReleaseShardRequest* request,
    v1::ReleaseShardResponse*) {
  if (absl::Status allowed = Authorize(*context, {Role::kWorker});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  return FinishChange(context, coordinator_->ReleaseShard(request->worker_id(),
                                                          request->lease_id()));
}

ServerUnaryReactor* CoordinatorService::Checkpoint(
    CallbackServerContext* context, const v1::CheckpointRequest*,
    v1::CheckpointResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kAdmin});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  absl::StatusOr<v1::CheckpointOrder> order = coordinator_->Checkpoint();
  if (order.ok()) {
    response->set_id(order->id());
    response->set_version(order->version());
  }
  return Finish(context, order.status());
}

ServerUnaryReactor* CoordinatorService::ReportEval(
    CallbackServerContext* context, const v1::ReportEvalRequest* request,
    v1::ReportEvalResponse*) {
  if (absl::Status allowed = Authorize(*context, {Role::kWorker});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  std::map<std::string, double> metrics(request->metrics().begin(),
                                        request->metrics().end());
  return Finish(context, coordinator_->ReportEval(request->worker_id(), metrics,
                                                  request->examples_seen(),
                                                  request->final()));
}

ServerUnaryReactor* CoordinatorService::GetStatus(
    CallbackServerContext* context, const v1::GetStatusRequest*,
    v1::GetStatusResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kWorker, Role::kAdmin});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  *response = coordinator_->Status();
  return Finish(context, absl::OkStatus());
}

}  // namespace paramd
