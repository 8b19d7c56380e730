#include "server/ps_node.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/rpc_util.h"
#include "common/status_macros.h"

namespace paramd {
namespace {

constexpr absl::Duration kRpcTimeout = absl::Seconds(5);

}  // namespace

PsNode::PsNode(const std::string& coordinator, std::string address,
               int32_t shard, PsService* service)
    : stub_(paramd::v1::Coordinator::NewStub(MakeChannel(coordinator))),
      address_(std::move(address)),
      shard_(shard),
      service_(service) {}

absl::Status PsNode::Start(const std::atomic<bool>* stop) {
  paramd::v1::RegisterServerRequest request;
  request.set_address(address_);
  request.set_shard(shard_);
  paramd::v1::RegisterServerResponse response;
  PARAMD_RETURN_IF_ERROR(Retry(
      [&] {
        grpc::ClientContext context;
        SetTimeout(&context, kRpcTimeout);
        return FromGrpcStatus(
            stub_->RegisterServer(&context, request, &response));
      },
      absl::InfiniteDuration(), stop));
  shard_ = response.shard();
  SetLogTag(absl::StrCat("ps/", shard_));
  PARAMD_ASSIGN_OR_RETURN(
      job_, ParseJobConfig(response.config_yaml(), "coordinator config", ""));
  PARAMD_ASSIGN_OR_RETURN(
      store_, ShardStore::Create(job_, shard_, response.num_shards()));
  gate_ = std::make_unique<UpdateGate>(store_.get(), job_.consistency,
                                       job_.average);
  service_->Attach(store_.get(), gate_.get(), response.num_shards());
  LogInfo(absl::StrCat("serving shard ", shard_, " of ", response.num_shards(),
                       " at ", address_, " for job '", job_.name, "'"));
  return absl::OkStatus();
}

void PsNode::RunHeartbeats(const std::atomic<bool>* stop) {
  const absl::Duration interval = absl::Seconds(job_.heartbeat_interval_s / 2);
  bool reachable = true;
  while (!stop->load()) {
    absl::SleepFor(interval);
    gate_->ExpireWaiters(absl::Now());
    paramd::v1::ServerHeartbeatRequest request;
    request.set_shard(shard_);
    paramd::v1::ServerHeartbeatResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, kRpcTimeout);
    const grpc::Status status =
        stub_->ServerHeartbeat(&context, request, &response);
    if (!status.ok()) {
      if (reachable) {
        LogWarning(
            absl::StrCat("coordinator unreachable: ", status.error_message()));
      }
      reachable = false;
      continue;
    }
    reachable = true;
    gate_->SetLiveWorkers(std::set<uint64_t>(response.live_workers().begin(),
                                             response.live_workers().end()));
  }
}

}  // namespace paramd
