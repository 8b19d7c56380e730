// The worker's view of the parameter servers: one logical Pull and Push,
// split by the shard map and fanned out to every shard concurrently.
#ifndef PARAMD_WORKER_PS_CLIENT_H_
#define PARAMD_WORKER_PS_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/shard_map.h"
#include "paramd/v1/ps.grpc.pb.h"
#include "worker/models/model.h"
#include "worker/params.h"

namespace paramd {

// Thread-compatible: one trainer thread calls it.
class PsClient {
 public:
  // `servers` are indexed by shard. Each RPC gets `rpc_timeout`; transient
  // failures are retried with backoff for up to `retry_budget`, or until
  // `cancelled()` (may be empty) says to give up. Requests carry
  // `generation` (see paramd.v1.Lease).
  PsClient(const JobConfig& job, const std::vector<std::string>& servers,
           uint64_t worker_id, absl::Duration rpc_timeout,
           absl::Duration retry_budget, std::function<bool()> cancelled,
           uint64_t generation = 0);

  // Reads what `request` names into `params` (replacing its contents) and
  // returns the clock it read at. Under bsp it waits until every round
  // before that clock is applied; if the servers have moved past `clock`
  // (the worker just joined) it catches up to their version. A negative
  // clock reads at once.
  absl::StatusOr<int64_t> Pull(int64_t clock, const ParamRequest& request,
                               Params* params);

  // Sends `grads` (every shard gets a push, empty or not) and returns the
  // clock to use next. A shard that dropped the worker from its barrier (a
  // leave that arrived late) while others took the step gets the step again
  // at the clock it expects, so each shard applies it once. Fails with
  // FailedPrecondition if every shard refused it (nothing was applied).
  absl::StatusOr<int64_t> Push(int64_t clock, const Params& grads);

  // Leaves the bsp barrier on every shard (the worker has no data now).
  absl::Status Leave(int64_t clock);

  int32_t num_shards() const { return map_.num_shards(); }

 private:
  // Sparse keys of each table, split by shard.
  using KeysByShard = std::map<std::string, std::vector<std::vector<uint64_t>>>;

  // One PullRequest per shard for `request` (clock not yet set).
  std::vector<paramd::v1::PullRequest> PullRequests(
      const ParamRequest& request, const KeysByShard& keys) const;

  // Copies one pulled slice into `params`; `shard_keys` are the keys the
  // slice answers (sparse tables). Fails with DataLoss on a malformed reply.
  absl::Status CopySlice(const paramd::v1::TableSlice& slice,
                         const std::vector<uint64_t>& shard_keys,
                         Params* params) const;

  // One pull fan-out at `clock`. Sets *behind_version to the highest version
  // of shards that said the clock is behind, or -1.
  absl::Status PullOnce(int64_t clock,
                        std::vector<paramd::v1::PullRequest>* requests,
                        std::vector<paramd::v1::PullResponse>* responses,
                        int64_t* behind_version);

  using Call = std::function<void(int32_t, grpc::ClientContext*,
                                  std::function<void(grpc::Status)>)>;

  // Runs `call(shard)` for each of `shards` at once and retries the shards
  // that failed transiently, until each has answered for good or the retry
  // budget runs out. Returns the first permanent error, else the last
  // transient one, else OK; fills `results` (if set, indexed by shard) with
  // each shard's last answer.
  absl::Status FanOut(const std::vector<int32_t>& shards, const Call& call,
                      std::vector<absl::Status>* results = nullptr);
  std::vector<int32_t> AllShards() const;

  // Rejoins the barrier of `shard`, which refused `request` as not due, at
  // the version the shard is at, and pushes `request` again at that clock.
  absl::Status PushAgain(int32_t shard, paramd::v1::PushRequest* request,
                         paramd::v1::PushResponse* response);

  const JobConfig& job_;
  const ShardMap map_;
  const uint64_t worker_id_;
  const absl::Duration rpc_timeout_;
  const absl::Duration retry_budget_;
  const std::function<bool()> cancelled_;
  const uint64_t generation_;
  std::vector<std::unique_ptr<paramd::v1::ParameterServer::Stub>> stubs_;
};

}  // namespace paramd

#endif  // PARAMD_WORKER_PS_CLIENT_H_
