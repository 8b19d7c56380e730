#include "server/ps_service.h"

#include <sys/resource.h>

#include <memory>
#include <vector>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/rpc_security.h"
#include "common/status_macros.h"
#include "common/tensor.h"
#include "server/ps_metrics.h"
#include "server/request_decoder.h"

namespace paramd {
namespace {

// Longest a pull waits for a bsp round, whatever the client's deadline.
constexpr absl::Duration kMaxPullWait = absl::Seconds(60);

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

void ReadSlices(ShardStore* store, const std::vector<Slice>& slices,
                paramd::v1::PullResponse* response) {
  for (const Slice& slice : slices) {
    paramd::v1::TableSlice* out = response->add_slices();
    out->set_table(slice.table);
    out->set_offset(slice.offset);
    out->set_length(slice.length);
    // Read straight into the reply's bytes.
    std::string* bytes = out->mutable_values();
    bytes->resize(slice.NumValues(store->Width(slice.table)) * sizeof(float));
    FillFloats(absl::MakeSpan(*bytes),
               [&](absl::Span<float> values) { store->Read(slice, values); });
  }
}

const absl::Status kNotReady = absl::UnavailableError(
    "parameter server has not been assigned a shard yet");

}  // namespace

void PsService::Attach(ShardStore* store, UpdateGate* gate,
                       const Checkpointer* checkpoints, int32_t num_shards) {
  checkpoints_.store(checkpoints);
  num_shards_.store(num_shards);
  gate_.store(gate);
  store_.store(store);
}

grpc::ServerUnaryReactor* PsService::Pull(
    grpc::CallbackServerContext* context,
    const paramd::v1::PullRequest* request,
    paramd::v1::PullResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kWorker, Role::kAdmin});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  ShardStore* store = store_.load();
  UpdateGate* gate = gate_.load();
  if (store == nullptr) return Finish(context, kNotReady);
  auto decoded = std::make_shared<DecodedSlices>();
  absl::Status status = CheckClock(request->clock(), /*push=*/false);
  if (status.ok()) {
    status = DecodeSlices(request->slices(), false, decoded.get());
  }
  if (status.ok()) status = store->Validate(decoded->slices, false);
  if (!status.ok()) return Finish(context, status);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time deadline = std::min(absl::FromChrono(context->deadline()),
                                       absl::Now() + kMaxPullWait);
  gate->WhenReadable(
      request->worker_id(), request->generation(), request->clock(), deadline,
      [=](UpdateGate::PullState state) {
        response->set_version(gate->version());
        if (state == UpdateGate::PullState::kTimedOut) {
          reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                       "bsp round did not close in time"));
          return;
        }
        if (state == UpdateGate::PullState::kClosed) {
          reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                       "parameter server shutting down"));
          return;
        }
        if (state == UpdateGate::PullState::kNotLive) {
          reactor->Finish(ToGrpcStatus(absl::UnavailableError(
              absl::StrCat("worker_id: ", request->worker_id(),
                           " is not a live trainer known to this server"))));
          return;
        }
        if (state == UpdateGate::PullState::kAborted) {
          reactor->Finish(ToGrpcStatus(absl::AbortedError(
              absl::StrCat("pull of generation ", request->generation(),
                           ", server is at generation ", gate->generation(),
                           ": take a new lease"))));
          return;
        }
        response->set_behind(state == UpdateGate::PullState::kBehind);
        if (!response->behind()) ReadSlices(store, decoded->slices, response);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* PsService::Push(
    grpc::CallbackServerContext* context,
    const paramd::v1::PushRequest* request,
    paramd::v1::PushResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kWorker});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  ShardStore* store = store_.load();
  UpdateGate* gate = gate_.load();
  if (store == nullptr) return Finish(context, kNotReady);
  absl::Status status = CheckClock(request->clock(), /*push=*/true);
  if (status.ok() && request->leave()) {
    if (request->slices_size() > 0) {
      status = absl::InvalidArgumentError("slices: a leave carries none");
    }
    if (status.ok()) status = gate->Leave(request->worker_id());
    response->set_next_clock(request->clock());
    return Finish(context, status);
  }
  DecodedSlices decoded;
  if (status.ok()) status = DecodeSlices(request->slices(), true, &decoded);
  if (status.ok()) status = store->Validate(decoded.slices, true);
  if (!status.ok()) return Finish(context, status);
  absl::StatusOr<int64_t> next =
      gate->Push(request->worker_id(), request->generation(), request->clock(),
                 decoded.slices);
  if (next.ok()) {
    response->set_next_clock(*next);
    PsMetrics::Get().updates_applied.Increment();
  }
  if (absl::IsFailedPrecondition(next.status())) {
    LogWarning(absl::StrCat("push refused: ", next.status().message()));
  }
  if (next.ok() && drop_replies_ > 0 &&
      absl::Bernoulli(absl::BitGen(), drop_replies_)) {
    return Finish(context, absl::UnavailableError("TEST: reply dropped"));
  }
  return Finish(context, next.status());
}

grpc::ServerUnaryReactor* PsService::GetServerInfo(
    grpc::CallbackServerContext* context,
    const paramd::v1::ServerInfoRequest* /*request*/,
    paramd::v1::ServerInfoResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kAdmin});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  ShardStore* store = store_.load();
  UpdateGate* gate = gate_.load();
  if (store == nullptr) return Finish(context, kNotReady);
  response->set_shard(store->shard());
  response->set_num_shards(num_shards_.load());
  response->set_version(gate->version());
  for (const auto& [name, size] : store->Sizes()) {
    (*response->mutable_table_sizes())[name] = size;
  }
  for (uint64_t worker : gate->participants()) {
    response->add_barrier_workers(worker);
  }
  response->set_generation(gate->generation());
  response->set_max_lead(gate->max_lead());
  response->set_refused_updates(store->Refused());
  response->set_not_due_pushes(gate->not_due_pushes());
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    response->set_cpu_seconds(
        absl::ToDoubleSeconds(absl::DurationFromTimeval(usage.ru_utime) +
                              absl::DurationFromTimeval(usage.ru_stime)));
  }
  if (const Checkpointer* checkpoints = checkpoints_.load()) {
    for (int64_t version : checkpoints->Versions()) {
      response->add_checkpoints(version);
    }
  }
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* PsService::ListKeys(
    grpc::CallbackServerContext* context,
    const paramd::v1::ListKeysRequest* request,
    paramd::v1::ListKeysResponse* response) {
  if (absl::Status allowed = Authorize(*context, {Role::kAdmin});
      !allowed.ok()) {
    return Finish(context, allowed);
  }
  ShardStore* store = store_.load();
  if (store == nullptr) return Finish(context, kNotReady);
  absl::StatusOr<std::vector<uint64_t>> keys = store->Keys(request->table());
  if (keys.ok()) AppendKeys(*keys, response->mutable_keys());
  return Finish(context, keys.status());
}

}  // namespace paramd
