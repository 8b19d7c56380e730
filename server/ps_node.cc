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
      job_, ParseJobConfig(response.config_yaml(), "coordinator config",
                           response.config_dir()));
  PARAMD_ASSIGN_OR_RETURN(
      store_, ShardStore::Create(job_, shard_, response.num_shards()));
  gate_ = std::make_unique<UpdateGate>(store_.get(), job_.consistency,
                                       job_.average, job_.staleness);
  if (!job_.checkpoint.dir.empty()) {
    checkpointer_ = std::make_unique<Checkpointer>(job_.checkpoint.dir, shard_,
                                                   job_.checkpoint.keep);
  }
  // Serve only once the coordinator has said which generation to serve (a
  // restarted server first restores a checkpoint).
  while (true) {
    if (stop->load()) return absl::CancelledError("stopped while starting");
    absl::StatusOr<paramd::v1::ServerHeartbeatResponse> reply = Heartbeat();
    if (reply.ok() && !reply->hold() && restore_error_.empty()) break;
    absl::SleepFor(absl::Seconds(job_.heartbeat_interval_s / 2));
  }
  service_->Attach(store_.get(), gate_.get(), checkpointer_.get(),
                   response.num_shards());
  LogInfo(absl::StrCat("serving shard ", shard_, " of ", response.num_shards(),
                       " at ", address_, " for job '", job_.name, "', version ",
                       gate_->version(), ", generation ", gate_->generation()));
  return absl::OkStatus();
}

absl::StatusOr<paramd::v1::ServerHeartbeatResponse> PsNode::Heartbeat() {
  paramd::v1::ServerHeartbeatRequest request;
  request.set_shard(shard_);
  request.set_address(address_);
  request.set_generation(gate_->generation());
  request.set_version(gate_->version());
  if (checkpointer_ != nullptr) {
    for (int64_t v : checkpointer_->Versions()) request.add_checkpoints(v);
  }
  {
    absl::MutexLock lock(&mu_);
    request.set_checkpoint_id(done_order_);
    request.set_checkpoint_missed(done_missed_);
    request.set_checkpoint_version(done_version_);
    request.set_checkpoint_error(done_error_);
  }
  request.set_restore_error(restore_error_);
  paramd::v1::ServerHeartbeatResponse response;
  grpc::ClientContext context;
  SetTimeout(&context, kRpcTimeout);
  PARAMD_RETURN_IF_ERROR(
      FromGrpcStatus(stub_->ServerHeartbeat(&context, request, &response)));
  const std::set<uint64_t> live(response.live_workers().begin(),
                                response.live_workers().end());
  if (response.workers_known()) {
    gate_->SetLiveWorkers(live);
  } else {
    // A restarted coordinator still hearing workers come back: those it
    // lists may go on (a server started meanwhile knows nobody else).
    gate_->AddLiveWorkers(live);
  }
  if (!response.hold() && response.generation() > gate_->generation()) {
    Restore(response.generation(), response.restore_version());
  }
  if (response.checkpoint().id() > seen_order_) {
    seen_order_ = response.checkpoint().id();
    TakeCheckpoint(response.checkpoint());
  }
  return response;
}

void PsNode::Restore(uint64_t generation, int64_t version) {
  const absl::Time start = absl::Now();
  absl::Status restored =
      gate_->Reset(generation, version, [&]() -> absl::Status {
        if (version == 0) {
          store_->Reset();
          return absl::OkStatus();
        }
        if (checkpointer_ == nullptr) {
          return absl::FailedPreconditionError(
              "no checkpoint.dir configured to restore from");
        }
        PARAMD_ASSIGN_OR_RETURN(paramd::v1::ShardCheckpoint checkpoint,
                                checkpointer_->Read(version));
        return store_->Load(checkpoint);
      });
  if (!restored.ok()) {
    restore_error_ = std::string(restored.message());
    LogError(
        absl::StrCat("cannot restore version ", version, ": ", restore_error_));
    return;
  }
  restore_error_.clear();
  if (checkpointer_ != nullptr) checkpointer_->DropAbove(version);
  LogInfo(absl::StrCat("restored version ", version, " as generation ",
                       generation, " in ",
                       absl::FormatDuration(absl::Now() - start)));
}

void PsNode::TakeCheckpoint(const paramd::v1::CheckpointOrder& order) {
  if (checkpointer_ == nullptr) return;
  const uint64_t id = order.id();
  const bool taken = gate_->SnapshotAt(order.version(), [this, id](int64_t v) {
    checkpointer_->WriteAsync(store_->Save(v), [this, id, v](absl::Status s) {
      absl::MutexLock lock(&mu_);
      if (id < done_order_) return;
      done_order_ = id;
      done_version_ = v;
      done_missed_ = false;
      done_error_ = std::string(s.message());
    });
  });
  if (!taken) {
    LogWarning(absl::StrCat("checkpoint ", id, ": version ", gate_->version(),
                            " is already past ", order.version()));
    absl::MutexLock lock(&mu_);
    done_order_ = id;
    done_missed_ = true;
    done_error_.clear();
  }
}

absl::Status PsNode::RunHeartbeats(const std::atomic<bool>* stop) {
  const absl::Duration interval = absl::Seconds(job_.heartbeat_interval_s / 2);
  bool reachable = true;
  while (!stop->load()) {
    absl::SleepFor(interval);
    gate_->ExpireWaiters(absl::Now());
    absl::StatusOr<paramd::v1::ServerHeartbeatResponse> reply = Heartbeat();
    if (absl::IsFailedPrecondition(reply.status())) return reply.status();
    if (!reply.ok() && reachable) {
      LogWarning(
          absl::StrCat("coordinator unreachable: ", reply.status().message()));
    }
    reachable = reply.ok();
  }
  return absl::OkStatus();
}

void PsNode::Close() {
  if (gate_ != nullptr) gate_->Close();
}

absl::Status PsNode::SaveCheckpoint() {
  if (checkpointer_ == nullptr || gate_ == nullptr) return absl::OkStatus();
  absl::Status written;
  gate_->SnapshotAt(gate_->version(), [&](int64_t v) {
    written = checkpointer_->Write(store_->Save(v));
  });
  return written;
}

}  // namespace paramd
