#include "worker/ps_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "common/rpc_util.h"
#include "common/status_macros.h"
#include "common/tensor.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

ShardMap MustCreateMap(int32_t n) {
  auto map = ShardMap::Create(n);
  return map.ok() ? *map : *ShardMap::Create(1);
}

// Keys of `keys` grouped by shard, keeping their order.
std::vector<std::vector<uint64_t>> SplitKeys(
    const ShardMap& map, const std::vector<uint64_t>& keys) {
  std::vector<std::vector<uint64_t>> by_shard(map.num_shards());
  for (uint64_t key : keys) by_shard[map.ShardForKey(key)].push_back(key);
  return by_shard;
}

}  // namespace

PsClient::PsClient(const JobConfig& job,
                   const std::vector<std::string>& servers, uint64_t worker_id,
                   absl::Duration rpc_timeout, absl::Duration retry_budget,
                   std::function<bool()> cancelled, uint64_t generation)
    : job_(job),
      map_(MustCreateMap(static_cast<int32_t>(servers.size()))),
      worker_id_(worker_id),
      rpc_timeout_(rpc_timeout),
      retry_budget_(retry_budget),
      cancelled_(std::move(cancelled)),
      generation_(generation) {
  for (const std::string& address : servers) {
    stubs_.push_back(v1::ParameterServer::NewStub(MakeChannel(address)));
  }
}

std::vector<int32_t> PsClient::AllShards() const {
  std::vector<int32_t> shards(map_.num_shards());
  for (int32_t s = 0; s < map_.num_shards(); ++s) shards[s] = s;
  return shards;
}

absl::Status PsClient::FanOut(const std::vector<int32_t>& shards,
                              const Call& call,
                              std::vector<absl::Status>* results) {
  std::vector<int32_t> pending = shards;
  if (results != nullptr) results->assign(map_.num_shards(), absl::OkStatus());
  const absl::Time give_up = absl::Now() + retry_budget_;
  absl::Duration backoff = absl::Milliseconds(50);
  absl::Status permanent;  // the first non-retryable failure
  while (true) {
    absl::Mutex mu;
    size_t finished = 0;
    bool all_finished = false;
    std::vector<grpc::Status> answers(map_.num_shards());
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    for (int32_t shard : pending) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      SetTimeout(contexts.back().get(), rpc_timeout_);
      call(shard, contexts.back().get(), [&, shard](grpc::Status status) {
        absl::MutexLock lock(&mu);
        answers[shard] = std::move(status);
        all_finished = ++finished == pending.size();
      });
    }
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(&all_finished));
    }
    // A permanent error on one shard does not stop the retries of the
    // others: every shard gets its answer, so none is left half-way.
    std::vector<int32_t> retry;
    absl::Status last;
    for (int32_t shard : pending) {
      absl::Status status = FromGrpcStatus(answers[shard]);
      if (results != nullptr) (*results)[shard] = status;  // the last answer
      if (status.ok()) continue;
      status = absl::Status(
          status.code(), absl::StrCat("shard ", shard, ": ", status.message()));
      if (results != nullptr) (*results)[shard] = status;
      if (IsRetryable(status)) {
        retry.push_back(shard);
        last = status;
      } else if (permanent.ok()) {
        permanent = status;
      }
    }
    if (retry.empty()) return permanent;
    if (absl::Now() + backoff > give_up || (cancelled_ && cancelled_())) {
      return permanent.ok() ? last : permanent;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
    pending = std::move(retry);
  }
}

absl::Status PsClient::PullOnce(int64_t clock,
                                std::vector<v1::PullRequest>* requests,
                                std::vector<v1::PullResponse>* responses,
                                int64_t* behind_version) {
  absl::Status status =
      FanOut(AllShards(), [&](int32_t s, grpc::ClientContext* context,
                              std::function<void(grpc::Status)> done) {
        (*responses)[s].Clear();
        v1::PullRequest* request = &(*requests)[s];
        request->set_clock(clock);
        stubs_[s]->async()->Pull(context, request, &(*responses)[s],
                                 std::move(done));
      });
  *behind_version = -1;
  for (const v1::PullResponse& response : *responses) {
    if (response.behind()) {
      *behind_version = std::max(*behind_version, response.version());
    }
  }
  return status;
}

std::vector<v1::PullRequest> PsClient::PullRequests(
    const ParamRequest& request, const KeysByShard& keys) const {
  std::vector<v1::PullRequest> requests(map_.num_shards());
  for (int32_t s = 0; s < map_.num_shards(); ++s) {
    requests[s].set_worker_id(worker_id_);
    requests[s].set_generation(generation_);
    for (const std::string& name : request.dense) {
      const Range range = map_.DenseRange(job_.FindTable(name)->size(), s);
      if (range.size() == 0) continue;
      v1::TableSlice* slice = requests[s].add_slices();
      slice->set_table(name);
      slice->set_offset(range.begin);
      slice->set_length(range.size());
    }
    for (const auto& [name, by_shard] : keys) {
      if (by_shard[s].empty()) continue;
      v1::TableSlice* slice = requests[s].add_slices();
      slice->set_table(name);
      AppendKeys(by_shard[s], slice->mutable_keys());
    }
  }
  return requests;
}

absl::Status PsClient::CopySlice(const v1::TableSlice& slice,
                                 const std::vector<uint64_t>& shard_keys,
                                 Params* params) const {
  const TableConfig* table = job_.FindTable(slice.table());
  int64_t count = 0;
  if (table == nullptr ||
      !CountFloats(slice.values(), "pulled values", &count).ok()) {
    return absl::DataLossError(
        absl::StrCat("malformed pulled slice of table '", slice.table(), "'"));
  }
  if (!table->sparse) {
    std::vector<float>& values = params->dense[slice.table()];
    if (count != static_cast<int64_t>(slice.length()) ||
        slice.offset() + static_cast<uint64_t>(count) > values.size()) {
      return absl::DataLossError("pulled dense slice has the wrong size");
    }
    CopyFloats(slice.values(),
               absl::MakeSpan(values).subspan(slice.offset(), count));
    return absl::OkStatus();
  }
  const int64_t w = table->width;
  if (count != static_cast<int64_t>(shard_keys.size()) * w) {
    return absl::DataLossError("pulled sparse slice has the wrong size");
  }
  SparseRows& rows = params->sparse[slice.table()];
  for (size_t i = 0; i < shard_keys.size(); ++i) {
    CopyFloats(slice.values().substr(i * w * sizeof(float), w * sizeof(float)),
               rows.RowAt(rows.Add(shard_keys[i])));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> PsClient::Pull(int64_t clock,
                                       const ParamRequest& request,
                                       Params* params) {
  KeysByShard keys;
  for (const auto& [name, table_keys] : request.sparse) {
    keys[name] = SplitKeys(map_, table_keys);
  }
  std::vector<v1::PullRequest> requests = PullRequests(request, keys);
  std::vector<v1::PullResponse> responses(map_.num_shards());
  int64_t behind_version = -1;
  do {
    if (behind_version >= 0) clock = behind_version;
    absl::Status status =
        PullOnce(clock, &requests, &responses, &behind_version);
    if (!status.ok()) return status;
  } while (behind_version >= 0);
  params->dense.clear();
  params->sparse.clear();
  for (const std::string& name : request.dense) {
    params->dense[name].resize(job_.FindTable(name)->size());
  }
  for (const auto& [name, by_shard] : keys) {
    params->sparse[name] = SparseRows(job_.FindTable(name)->width);
  }
  static const std::vector<uint64_t> kNoKeys;
  for (int32_t s = 0; s < map_.num_shards(); ++s) {
    for (const v1::TableSlice& slice : responses[s].slices()) {
      auto it = keys.find(slice.table());
      absl::Status copied =
          CopySlice(slice, it == keys.end() ? kNoKeys : it->second[s], params);
      if (!copied.ok()) return copied;
    }
  }
  return clock;
}

absl::StatusOr<int64_t> PsClient::Push(int64_t clock, const Params& grads) {
  const int32_t n = map_.num_shards();
  std::vector<v1::PushRequest> requests(n);
  std::vector<v1::PushResponse> responses(n);
  for (int32_t s = 0; s < n; ++s) {
    requests[s].set_worker_id(worker_id_);
    requests[s].set_generation(generation_);
    requests[s].set_clock(clock);
  }
  for (const auto& [name, values] : grads.dense) {
    for (int32_t s = 0; s < n; ++s) {
      const Range range = map_.DenseRange(values.size(), s);
      if (range.size() == 0) continue;
      v1::TableSlice* slice = requests[s].add_slices();
      slice->set_table(name);
      slice->set_offset(range.begin);
      slice->set_length(range.size());
      AppendFloats(
          absl::MakeConstSpan(values).subspan(range.begin, range.size()),
          slice->mutable_values());
    }
  }
  for (const auto& [name, rows] : grads.sparse) {
    std::vector<v1::TableSlice*> slices(n, nullptr);
    const int64_t w = rows.width();
    for (size_t i = 0; i < rows.keys().size(); ++i) {
      const int32_t s = map_.ShardForKey(rows.keys()[i]);
      if (slices[s] == nullptr) {
        slices[s] = requests[s].add_slices();
        slices[s]->set_table(name);
      }
      AppendKeys({&rows.keys()[i], 1}, slices[s]->mutable_keys());
      AppendFloats(absl::MakeConstSpan(rows.values()).subspan(i * w, w),
                   slices[s]->mutable_values());
    }
  }
  std::vector<absl::Status> results;
  absl::Status status = FanOut(
      AllShards(),
      [&](int32_t s, grpc::ClientContext* context,
          std::function<void(grpc::Status)> done) {
        stubs_[s]->async()->Push(context, &requests[s], &responses[s],
                                 std::move(done));
      },
      &results);
  // A step that some shards took and others refused as not due is pushed
  // again where it was refused. One refused everywhere was applied nowhere.
  std::vector<int32_t> refused;
  int32_t taken = 0;
  bool other_errors = false;
  for (int32_t s = 0; s < n; ++s) {
    if (results[s].ok()) {
      ++taken;
    } else if (absl::IsFailedPrecondition(results[s])) {
      refused.push_back(s);
    } else {
      other_errors = true;
    }
  }
  if (!refused.empty() && taken > 0 && !other_errors) {
    status = absl::OkStatus();
    for (int32_t s : refused) {
      if (status.ok()) status = PushAgain(s, &requests[s], &responses[s]);
    }
  }
  if (!status.ok()) return status;
  int64_t next = clock + 1;
  for (const v1::PushResponse& r : responses) {
    next = std::max(next, r.next_clock());
  }
  return next;
}

absl::Status PsClient::PushAgain(int32_t shard, v1::PushRequest* request,
                                 v1::PushResponse* response) {
  v1::PullRequest join;  // no slices: it only joins the barrier
  join.set_worker_id(worker_id_);
  join.set_generation(generation_);
  v1::PullResponse joined;
  int64_t clock = request->clock();
  absl::Status pushed;
  // The shard's round stays open until this worker, now due at it, pushes;
  // a second refusal means it was dropped again meanwhile.
  for (int attempt = 0; attempt < 4; ++attempt) {
    join.set_clock(clock);
    PARAMD_RETURN_IF_ERROR(
        FanOut({shard}, [&](int32_t s, grpc::ClientContext* context,
                            std::function<void(grpc::Status)> done) {
          joined.Clear();
          stubs_[s]->async()->Pull(context, &join, &joined, std::move(done));
        }));
    if (joined.behind()) {
      clock = joined.version();
      continue;
    }
    request->set_clock(clock);
    pushed = FanOut({shard}, [&](int32_t s, grpc::ClientContext* context,
                                 std::function<void(grpc::Status)> done) {
      stubs_[s]->async()->Push(context, request, response, std::move(done));
    });
    if (!absl::IsFailedPrecondition(pushed)) return pushed;
  }
  return pushed.ok() ? absl::FailedPreconditionError(absl::StrCat(
                           "shard ", shard, ": could not rejoin its barrier"))
                     : pushed;
}

absl::Status PsClient::Leave(int64_t clock) {
  std::vector<v1::PushRequest> requests(map_.num_shards());
  std::vector<v1::PushResponse> responses(map_.num_shards());
  return FanOut(AllShards(), [&](int32_t s, grpc::ClientContext* context,
                                 std::function<void(grpc::Status)> done) {
    requests[s].set_worker_id(worker_id_);
    requests[s].set_generation(generation_);
    requests[s].set_clock(clock);
    requests[s].set_leave(true);
    stubs_[s]->async()->Push(context, &requests[s], &responses[s],
                             std::move(done));
  });
}

}  // namespace paramd
