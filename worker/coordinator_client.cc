#include "worker/coordinator_client.h"

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/rpc_util.h"
#include "common/status_macros.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;
constexpr absl::Duration kRpcTimeout = absl::Seconds(5);
constexpr absl::Duration kRetryBudget = absl::Seconds(60);

}  // namespace

CoordinatorClient::CoordinatorClient(const std::string& address,
                                     const std::atomic<bool>* stop)
    : stub_(v1::Coordinator::NewStub(MakeChannel(address))), stop_(stop) {}

template <typename Request, typename Response>
absl::Status CoordinatorClient::Call(
    grpc::Status (v1::Coordinator::Stub::*method)(grpc::ClientContext*,
                                                  const Request&, Response*),
    const Request& request, Response* response) {
  return Retry(
      [&] {
        grpc::ClientContext context;
        SetTimeout(&context, kRpcTimeout);
        return FromGrpcStatus(
            (stub_.get()->*method)(&context, request, response));
      },
      kRetryBudget, stop_);
}

absl::StatusOr<Registration> CoordinatorClient::Register(
    const std::string& host, const std::string& role, uint64_t old_id,
    const std::optional<v1::Lease>& held) {
  v1::RegisterWorkerRequest request;
  request.set_host(host);
  request.set_role(role);
  request.set_worker_id(old_id);
  if (held.has_value()) *request.mutable_held() = *held;
  // The same on every retry of this registration (see RegisterWorkerRequest).
  absl::BitGen bitgen;
  request.set_request_id(absl::Uniform<uint64_t>(bitgen, 1, UINT64_MAX));
  v1::RegisterWorkerResponse response;
  absl::Status status;
  // Parameter servers may take a while to come up: keep asking.
  do {
    status = Call(&v1::Coordinator::Stub::RegisterWorker, request, &response);
  } while (IsRetryable(status) && !stop_->load());
  PARAMD_RETURN_IF_ERROR(status);
  Registration registration;
  registration.worker_id = response.worker_id();
  registration.servers.assign(response.servers().begin(),
                              response.servers().end());
  PARAMD_ASSIGN_OR_RETURN(
      registration.job,
      ParseJobConfig(response.config_yaml(), "coordinator config",
                     response.config_dir()));
  return registration;
}

absl::StatusOr<v1::AcquireShardResponse> CoordinatorClient::Acquire(
    uint64_t worker) {
  v1::AcquireShardRequest request;
  request.set_worker_id(worker);
  request.set_request_id(++acquire_calls_);
  v1::AcquireShardResponse response;
  PARAMD_RETURN_IF_ERROR(
      Call(&v1::Coordinator::Stub::AcquireShard, request, &response));
  return response;
}

absl::Status CoordinatorClient::Complete(uint64_t worker, uint64_t lease_id,
                                         uint64_t examples, double loss_sum,
                                         int64_t clock) {
  v1::CompleteShardRequest request;
  request.set_worker_id(worker);
  request.set_lease_id(lease_id);
  request.set_examples(examples);
  request.set_loss_sum(loss_sum);
  request.set_clock(clock);
  v1::CompleteShardResponse response;
  return Call(&v1::Coordinator::Stub::CompleteShard, request, &response);
}

absl::Status CoordinatorClient::Release(uint64_t worker, uint64_t lease_id) {
  v1::ReleaseShardRequest request;
  request.set_worker_id(worker);
  request.set_lease_id(lease_id);
  v1::ReleaseShardResponse response;
  return Call(&v1::Coordinator::Stub::ReleaseShard, request, &response);
}

absl::Status CoordinatorClient::FailShard(uint64_t worker, uint64_t lease_id,
                                          const std::string& error,
                                          bool unreadable) {
  v1::FailShardRequest request;
  request.set_worker_id(worker);
  request.set_lease_id(lease_id);
  request.set_error(error);
  request.set_unreadable(unreadable);
  v1::FailShardResponse response;
  return Call(&v1::Coordinator::Stub::FailShard, request, &response);
}

absl::StatusOr<v1::CheckpointResponse> CoordinatorClient::Checkpoint() {
  v1::CheckpointRequest request;
  v1::CheckpointResponse response;
  PARAMD_RETURN_IF_ERROR(
      Call(&v1::Coordinator::Stub::Checkpoint, request, &response));
  return response;
}

absl::Status CoordinatorClient::ReportEval(
    uint64_t worker, const std::map<std::string, double>& metrics,
    uint64_t examples_seen, bool final) {
  v1::ReportEvalRequest request;
  request.set_worker_id(worker);
  request.mutable_metrics()->insert(metrics.begin(), metrics.end());
  request.set_examples_seen(examples_seen);
  request.set_final(final);
  v1::ReportEvalResponse response;
  return Call(&v1::Coordinator::Stub::ReportEval, request, &response);
}

absl::StatusOr<v1::GetStatusResponse> CoordinatorClient::GetStatus() {
  v1::GetStatusRequest request;
  v1::GetStatusResponse response;
  PARAMD_RETURN_IF_ERROR(
      Call(&v1::Coordinator::Stub::GetStatus, request, &response));
  return response;
}

void CoordinatorClient::RunHeartbeats(ClusterView* view,
                                      absl::Duration interval,
                                      const std::function<Progress()>& progress,
                                      const std::string& host,
                                      const std::string& role) {
  bool failing = false;
  // The last beat after *stop reports the final progress.
  for (bool last = false; !last; absl::SleepFor(interval)) {
    last = stop_->load();
    const Progress now = progress();
    v1::HeartbeatRequest request;
    request.set_worker_id(view->worker_id());
    request.set_examples(now.examples);
    request.set_loss_sum(now.loss_sum);
    if (std::optional<v1::Lease> held = view->held()) {
      request.add_held_leases(held->lease_id());
    }
    v1::HeartbeatResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, kRpcTimeout);
    const absl::Time sent = absl::Now();
    const absl::Status status =
        FromGrpcStatus(stub_->Heartbeat(&context, request, &response));
    if (status.ok()) {
      view->Update(sent, response);
    } else if (absl::IsNotFound(status) && !last) {
      LogWarning("the coordinator forgot this worker: registering again");
      absl::StatusOr<Registration> again =
          Register(host, role, view->worker_id(), view->held());
      if (!again.ok()) LogWarning(again.status().ToString());
    } else if (!failing) {
      LogWarning(absl::StrCat("heartbeat failed: ", status.message()));
    }
    failing = !status.ok();
  }
}

}  // namespace paramd
